/*
 * The process's mount table, kept current at no cost to the calls that ask it.
 *
 * It is read from /proc/self/mountinfo when first asked for (the first path call a green
 * thread makes while another is alive), not at start-up: a program that never makes
 * one never reads it. The descriptor it was read from stays open, and the kernel makes
 * it report POLLPRI (with POLLERR) when a file system is mounted or unmounted in the
 * process's mount namespace (proc(5)). That descriptor is always readable, so the
 * event loop cannot watch it as it is; an epoll instance of our own that waits for its
 * POLLPRI alone can be watched instead, and becomes readable exactly when the table
 * changed. The loop's callback marks the table stale, and the next question reads it
 * again. A question therefore costs no system call, whatever mounts come and go; a
 * change is seen at the next poll of the loop, which every wait and every turn of the
 * run queue makes.
 *
 * The kernel tells the event loop's epoll set about a change only once the loop has
 * registered our instance there, which libev does at its next poll: a change made
 * before is not reported (Linux 6.18 checked). So after that first poll the table is
 * taken as stale once, and read again at the next question.
 *
 * Both descriptors are the library's own (ownfd.h): a program that closes every number
 * does not close them. They are made by the carrier inside the runtime, from program
 * code on a green thread; a handed-off thread may be running meanwhile, which ownfd.c
 * allows for.
 *
 * Not seen: a mount namespace entered later (unshare, setns: the descriptor watches the
 * one it was opened in), and a chroot after the first reading (mount points are shown
 * relative to the root the reader had).
 */
#include "mounts.h"

#include <ev.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ownfd.h"
#include "sched.h"
#include "util.h"
#include "watch.h"

static struct {
	struct gp_mounts table;
	bool read;              /* table holds a reading (or the file could not be read) */
	bool readable;
	_Atomic bool stale;     /* the table changed since the reading */
	int info_fd;            /* /proc/self/mountinfo, kept open for the watch */
	int epoll_fd;           /* waits for info_fd's POLLPRI: what the loop watches */
	ev_io changed;
	ev_check registered;    /* after the poll that registered epoll_fd in the loop */
} mw = { .info_fd = -1, .epoll_fd = -1 };

bool gp__mounts_all_local;
bool gp__mounts_some_slow;

static void set_all_local(bool all_local)
{
	__atomic_store_n(&gp__mounts_all_local, all_local, __ATOMIC_RELAXED);
}

static void mark_stale(void)
{
	__atomic_store_n(&mw.stale, true, __ATOMIC_RELAXED);
	set_all_local(false);
}

static void changed_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct epoll_event ev;
	syscall(SYS_epoll_pwait, w->fd, &ev, 1, 0, NULL, sizeof(uint64_t));
	mark_stale();
}

/* What changed before the loop watched the instance was not reported. */
static void registered_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	(void)revents;
	ev_check_stop(loop, w);
	mark_stale();
}

/*
 * Open the file and the epoll instance that watches it, as the library's, and have the
 * loop watch the instance. Without them the table is read once and not watched.
 */
static void watch_start(void)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	mw.info_fd = gp_own_fd_adopt(fd);
	int ep = (int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC);
	if (ep < 0)
		return;
	mw.epoll_fd = gp_own_fd_adopt(ep);
	struct epoll_event ev = { .events = EPOLLPRI };
	if (syscall(SYS_epoll_ctl, mw.epoll_fd, EPOLL_CTL_ADD, mw.info_fd, &ev) < 0) {
		gp_log(GP_LOG_INFO, "the mount table is not watched: a mount made later is not seen");
		return;
	}
	ev_io_init(&mw.changed, changed_cb, mw.epoll_fd, EV_READ);
	ev_io_start(gp_rt->loop, &mw.changed);
	ev_check_init(&mw.registered, registered_cb);
	ev_check_start(gp_rt->loop, &mw.registered);
	gp_loop_changed();
}

/* The whole file from its start: its length, or -1. *buf is (re)allocated. */
static long read_all(int fd, char **buf, size_t *cap)
{
	if (syscall(SYS_lseek, fd, 0, SEEK_SET) < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		if (n == *cap) {
			size_t more = *cap ? *cap * 2 : 16384;
			char *b = realloc(*buf, more);
			if (!b)
				return -1;
			*buf = b;
			*cap = more;
		}
		long r = syscall(SYS_read, fd, *buf + n, *cap - n);
		if (r < 0)
			return -1;
		if (r == 0)
			return (long)n;
		n += (size_t)r;
	}
}

/* Read the table again, from the watched descriptor or from a fresh one. */
static bool reread(void)
{
	int fd = mw.info_fd;
	if (fd < 0)
		fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char *text = NULL;
	size_t cap = 0;
	long len = read_all(fd, &text, &cap);
	if (fd != mw.info_fd)
		syscall(SYS_close, fd);
	bool ok = len >= 0 && gp_mounts_parse(&mw.table, text, (size_t)len) == 0;
	free(text);
	return ok;
}

const struct gp_mounts *gp_mounts_current(void)
{
	if (GP_LIKELY(mw.read && !__atomic_load_n(&mw.stale, __ATOMIC_RELAXED)))
		return mw.readable ? &mw.table : NULL;
	/* The watch first: a change made while the file is read is then seen. */
	if (!mw.read)
		watch_start();
	__atomic_store_n(&mw.stale, false, __ATOMIC_RELAXED);
	bool was_readable = mw.readable || !mw.read;
	mw.readable = reread();
	mw.read = true;
	if (!mw.readable && was_readable)
		gp_log(GP_LOG_INFO, "/proc/self/mountinfo cannot be read: every path call is "
		       "taken as local");
	bool some_slow = mw.readable && gp_mounts_any_slow(&mw.table);
	if (some_slow && !gp_mounts_some_slow()) {
		__atomic_store_n(&gp__mounts_some_slow, true, __ATOMIC_RELAXED);
		gp_monitor_retick();   /* it looks more often now (watch.h) */
	}
	__atomic_store_n(&gp__mounts_some_slow, some_slow, __ATOMIC_RELAXED);
	/* Unless a change came in meanwhile: then the next question reads again. */
	set_all_local((!mw.readable || !gp_mounts_any_slow(&mw.table)) &&
		      !__atomic_load_n(&mw.stale, __ATOMIC_RELAXED));
	return mw.readable ? &mw.table : NULL;
}

static void close_own(int *fd)
{
	if (*fd < 0)
		return;
	gp_own_fd_forget(*fd);
	syscall(SYS_close, *fd);
	*fd = -1;
}

void gp_mounts_after_fork(void)
{
	/* The watcher belonged to the parent's loop, which the child has dropped. */
	close_own(&mw.epoll_fd);
	close_own(&mw.info_fd);
	memset(&mw.changed, 0, sizeof(mw.changed));
	memset(&mw.registered, 0, sizeof(mw.registered));
	mw.read = false;
	mw.readable = false;
	set_all_local(false);
	__atomic_store_n(&gp__mounts_some_slow, false, __ATOMIC_RELAXED);
}

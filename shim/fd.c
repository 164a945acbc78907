/*
 * What the program does to its descriptors. fcntl(F_SETFL) and ioctl(FIONBIO) tell us
 * its own O_NONBLOCK. Everything that ends what a number names (close, close_range,
 * closefrom, fclose, dup2 and dup3 over an open number) first wakes the green threads
 * waiting on it, with EBADF, and takes it out of the event loop, before the kernel can
 * hand the number out again; everything that hands a number out (dup, pipe,
 * socketpair, F_DUPFD) starts its state afresh. A dup's two numbers share one open
 * file, whose O_NONBLOCK either may change: both are marked shared, and that flag is
 * asked again where it decides (iowait.c).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "hook.h"
#include "block.h"
#include "iowait.h"
#include "loop.h"
#include "ownfd.h"
#include "ownfd_guard.h"
#include "stdio_lock.h"
#include "path.h"

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (gp__own_fd_refused(fd))
		return -1;
	if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && gp_on_green())
		return gp__fcntl_lock_wait(real, fd, cmd, arg);
	int rc = real(fd, cmd, arg);
	if (rc < 0 || !gp_on_green())
		return rc;
	switch (cmd) {
	case F_SETFL:
		gp_fd_set_nonblock(fd, ((int)(long)arg & O_NONBLOCK) != 0);
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		gp__fd_born(rc, GP_FD_UNKNOWN, 0);
		gp__fd_mark_shared(fd);
		gp__fd_mark_shared(rc);
		break;
	}
	return rc;
}

/* Every fcntl argument is an int or a pointer: both travel as one register-sized word. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(GP_REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(GP_REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int rc = GP_REAL(ioctl)(fd, req, arg);
	if (rc == 0 && req == FIONBIO && gp_on_green())
		gp_fd_set_nonblock(fd, *(int *)arg != 0);
	return rc;
}

/*
 * The last close of a file on a slow file system may wait for it (NFS writes back, FUSE
 * sends a flush and waits for the answer): made apart, as the path calls (path.h).
 */
int close(int fd)
{
	if (GP_UNLIKELY(gp_own_fd(fd))) {
		if (gp__own_fd_refused(fd))
			return -1;
		gp_own_fd_forget(fd);
	}
	bool apart = gp_fd_apart(fd);
	gp__fd_forget(fd);
	return apart ? GP_BLOCKING(GP_REAL(close)(fd)) : GP_REAL(close)(fd);
}

/*
 * Before numbers first..last are closed: their waiters are woken, and, as for one close
 * (gp__fd_forget), the poller's round is waited for, since it may hold an event for one
 * of them.
 */
static void forget_range(unsigned first, unsigned last)
{
	gp_enter();
	gp_fd_closed_range(first, last);
	uint64_t round = gp_poll_round_to_wait();
	gp_leave();
	if (round)
		gp_poll_round_wait(round);
}

int close_range(unsigned first, unsigned last, int flags)
{
	if (gp_on_green() && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		forget_range(first, last);
	if (first <= last && gp_own_fd_next(first) >= 0 && !gp_own_fds_making())
		return gp__close_range_around_own(first, last, flags);
	return GP_REAL(close_range)(first, last, flags);
}

/* Without close_range: each number up to the library's highest, then closefrom past it. */
static void close_each_but_own(int lowfd)
{
	int highest = lowfd - 1;
	for (int own; (own = gp_own_fd_next((unsigned)highest + 1)) >= 0;)
		highest = own;
	for (int fd = lowfd; fd < highest; fd++)
		if (!gp_own_fd(fd))
			GP_REAL(close)(fd);
	GP_REAL(closefrom)(highest + 1);
}

/*
 * glibc's closefrom calls close_range inside the C library, and falls back to closing
 * what /proc/self/fd lists, where no hook sees it: with the library's numbers in the
 * range, close_range is called here instead, around them. glibc's closefrom cannot
 * fail (it ends the process); close_range failing here means a kernel older than
 * 5.9, where each number up to the highest of the library's is closed one by one.
 */
void closefrom(int lowfd)
{
	if (gp_on_green() && lowfd >= 0)
		forget_range((unsigned)lowfd, ~0u);
	int own = lowfd >= 0 ? gp_own_fd_next((unsigned)lowfd) : -1;
	if (own < 0) {
		GP_REAL(closefrom)(lowfd);
		return;
	}
	int saved_errno = errno;
	if (gp__close_range_around_own((unsigned)lowfd, ~0u, 0) < 0)
		close_each_but_own(lowfd);
	errno = saved_errno;
}

/*
 * fclose closes the stream's descriptor inside the C library, where no hook sees it.
 * Its flush is made green first; if a wait fails, libc's flush fails the same way. A
 * failed write of output written green has emptied the buffer, as libc's own does: libc
 * then has nothing to fail on, and fclose answers the failure here.
 */
int fclose(FILE *f)
{
	bool apart = false;
	int flush_errno = 0;
	if (gp_on_green()) {
		bool wide_waits = gp__wide_flush_may_wait(f);
		int saved_errno = errno;
		if (wide_waits || gp__stdio_before_flush(f) == 0)
			errno = saved_errno;
		else if (f->_IO_write_ptr <= f->_IO_write_base)
			flush_errno = errno;
		apart = gp_fd_apart(fileno(f));
		gp__fd_forget(fileno(f));
		if (wide_waits)
			return GP_BLOCKING(GP_REAL(fclose)(f));
	}
	int rc = apart ? GP_BLOCKING(GP_REAL(fclose)(f)) : GP_REAL(fclose)(f);
	if (!flush_errno)
		return rc;
	errno = flush_errno;
	return EOF;
}

int dup(int fd)
{
	if (gp__own_fd_refused(fd))
		return -1;
	int nfd = GP_REAL(dup)(fd);
	if (nfd >= 0) {
		gp__fd_born(nfd, GP_FD_UNKNOWN, 0);
		gp__fd_mark_shared(fd);
		gp__fd_mark_shared(nfd);
	}
	return nfd;
}

/* dup2 closes fd2 only when it succeeds: fd must be open, and differ from fd2. */
static void forget_target(int fd, int fd2)
{
	if (gp_on_green() && fd != fd2 && GP_REAL(fcntl)(fd, F_GETFD) >= 0)
		gp__fd_forget(fd2);
}

int dup2(int fd, int fd2)
{
	if (gp__own_dup_refused(fd, fd2))
		return -1;
	forget_target(fd, fd2);
	int rc = GP_REAL(dup2)(fd, fd2);
	gp_program_fd_note(rc);
	if (rc >= 0 && fd != fd2) {
		gp__fd_mark_shared(fd);
		gp__fd_mark_shared(rc);
	}
	return rc;
}

int dup3(int fd, int fd2, int flags)
{
	if (gp__own_dup_refused(fd, fd2))
		return -1;
	forget_target(fd, fd2);
	int rc = GP_REAL(dup3)(fd, fd2, flags);
	gp_program_fd_note(rc);
	if (rc >= 0) {
		gp__fd_mark_shared(fd);
		gp__fd_mark_shared(rc);
	}
	return rc;
}

int pipe2(int fds[2], int flags)
{
	int rc = GP_REAL(pipe2)(fds, flags);
	if (rc == 0) {
		gp__fd_born(fds[0], GP_FD_NOWAIT, flags & O_NONBLOCK);
		gp__fd_born(fds[1], GP_FD_NOWAIT, flags & O_NONBLOCK);
	}
	return rc;
}

int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

int socketpair(int domain, int type, int protocol, int fds[2])
{
	int rc = GP_REAL(socketpair)(domain, type, protocol, fds);
	if (rc == 0) {
		gp__fd_born(fds[0], GP_FD_SOCKET, type & SOCK_NONBLOCK);
		gp__fd_born(fds[1], GP_FD_SOCKET, type & SOCK_NONBLOCK);
		if ((type & 0xf) == SOCK_STREAM) {
			gp__fd_mark_stream(fds[0]);
			gp__fd_mark_stream(fds[1]);
		}
	}
	return rc;
}

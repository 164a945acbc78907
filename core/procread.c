#include "procread.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "offload.h"
#include "util.h"

enum { READER_NONE, READER_STARTING, READER_READY, READER_FAILED };

/* Its deepest frame holds a 4 KiB buffer. It may start after the program lowered
 * RLIMIT_AS, whose budget an 8 MiB default stack would come out of. */
#define READER_STACK ((size_t)64 << 10)

static struct {
	_Atomic uint32_t lock;    /* one request at a time: 0 free, 1 held */
	_Atomic uint32_t ask;     /* bumped for each request */
	_Atomic uint32_t done;    /* the reader's answer to ask */
	_Atomic uint32_t state;   /* READER_* */
	pid_t pid;                /* the process the reader belongs to (none after fork) */
	const char *path;
	gp_proc_use_fn *use;
	void *arg;
	int rc;
} pr;

int gp_proc_with_here(const char *path, gp_proc_use_fn *use, void *arg)
{
	int fd = (int)gp__raw_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	use(fd, arg);
	gp__raw_syscall(SYS_close, fd);
	return 0;
}

static void reader_serve(void)
{
	uint32_t seen = 0;
	for (;;) {
		uint32_t ask;
		while ((ask = atomic_load(&pr.ask)) == seen)
			gp_futex_wait(&pr.ask, seen, -1);
		seen = ask;
		pr.rc = gp_proc_with_here(pr.path, pr.use, pr.arg);
		atomic_store(&pr.done, seen);
		gp_futex_wake(&pr.done, INT32_MAX);
	}
}

static void *reader_main(void *unused)
{
	(void)unused;
	gp_block_program_signals();
	prctl(PR_SET_NAME, "gp-procread");
	/* A table of its own, emptied: what it inherited (the program's files) must not
	 * stay open because the reader holds them. On failure the thread ends, and its
	 * table with it. */
	if (gp__raw_syscall(SYS_unshare, CLONE_FILES) != 0 ||
	    gp__raw_syscall(SYS_close_range, 0U, ~0U, 0U) != 0) {
		atomic_store(&pr.state, READER_FAILED);
		gp_futex_wake(&pr.state, INT32_MAX);
		return NULL;
	}
	atomic_store(&pr.state, READER_READY);
	gp_futex_wake(&pr.state, INT32_MAX);
	reader_serve();
	return NULL;
}

/* The reader of this process, started at the first request: true once it serves. */
static bool reader_ready(void)
{
	pid_t pid = (pid_t)gp__raw_syscall(SYS_getpid);
	if (pr.pid != pid) {   /* the first request here, or the first in a child of fork */
		pr.pid = pid;
		atomic_store(&pr.ask, 0);
		atomic_store(&pr.done, 0);
		bool can = gp__create_kernel_thread != NULL;
		atomic_store(&pr.state, can ? READER_STARTING : READER_FAILED);
		if (can && gp__create_kernel_thread(reader_main, NULL, READER_STACK) != 0)
			atomic_store(&pr.state, READER_FAILED);
	}
	uint32_t s;
	while ((s = atomic_load(&pr.state)) == READER_STARTING)
		gp_futex_wait(&pr.state, s, -1);
	return s == READER_READY;
}

int gp_proc_with(const char *path, gp_proc_use_fn *use, void *arg)
{
	/* The child of fork has no reader, and nobody else asking: a lock held at the
	 * fork is nobody's now. */
	if (pr.pid != (pid_t)gp__raw_syscall(SYS_getpid))
		atomic_store(&pr.lock, 0);
	uint32_t free_ = 0;
	while (!atomic_compare_exchange_weak(&pr.lock, &free_, 1)) {
		gp_futex_wait(&pr.lock, 1, -1);
		free_ = 0;
	}
	int rc;
	if (reader_ready()) {
		pr.path = path;
		pr.use = use;
		pr.arg = arg;
		uint32_t ask = atomic_load(&pr.ask) + 1;
		atomic_store(&pr.ask, ask);
		gp_futex_wake(&pr.ask, INT32_MAX);
		while (atomic_load(&pr.done) != ask)
			gp_futex_wait(&pr.done, atomic_load(&pr.done), -1);
		rc = pr.rc;
	} else {
		rc = gp_proc_with_here(path, use, arg);
	}
	atomic_store(&pr.lock, 0);
	gp_futex_wake(&pr.lock, INT32_MAX);
	return rc;
}

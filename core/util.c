#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static long raw_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

gp_write_fn gp__log_write = raw_write;

static const char *const level_names[] = {
	[GP_LOG_ERROR] = "error",
	[GP_LOG_WARNING] = "warning",
	[GP_LOG_INFO] = "info",
	[GP_LOG_DEBUG] = "debug",
};

static void vlog(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "greenpatch[%d]: %s: ", (int)getpid(), level);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	gp__log_write(2, line, len);
}

void gp_log(enum gp_log_level level, const char *fmt, ...)
{
	if ((int)level > gp_config.log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level_names[level], fmt, ap);
	va_end(ap);
}

const char *gp_shown(const char *s, size_t len, char *buf)
{
	size_t n = 0;
	buf[n++] = '\'';
	for (size_t i = 0; i < len && i < GP_SHOWN_BYTES; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			buf[n++] = (char)c;
		} else {
			n += (size_t)snprintf(buf + n, 5, "\\x%02x", c);
		}
	}
	buf[n++] = '\'';
	if (len > GP_SHOWN_BYTES)
		snprintf(buf + n, GP_SHOWN_SIZE - n, "... (%zu bytes)", len);
	else
		buf[n] = '\0';
	return buf;
}

double gp_mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

_Noreturn void gp_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("fatal", fmt, ap);
	va_end(ap);
	abort();
}

void gp_take_malloc_arena(void)
{
	/* Larger than malloc's per-thread cache holds: a block the cache has would be
	 * given without an arena. volatile: the pair is not optimised away. */
	void *volatile p = malloc(4096);
	free(p);
}

static _Atomic pid_t peek_pid;

void gp_peek_after_fork(void)
{
	__atomic_store_n(&peek_pid, 0, __ATOMIC_RELAXED);
}

/*
 * Forgotten in every child of fork, from the start: the shim's own child handler also
 * forgets it first thing (its other steps may peek), and a program built on the core
 * alone has only this one. A child made without the handlers (_Fork, a raw clone) keeps
 * the parent's id, and its peeks read the parent's memory where ptrace's rules let it
 * (YAMA's default does not); such a child has the parent's runtime too, which it
 * cannot use either.
 */
__attribute__((constructor)) static void peek_fork_handler(void)
{
	pthread_atfork(NULL, NULL, gp_peek_after_fork);
}

static pid_t own_pid(void)
{
	pid_t pid = __atomic_load_n(&peek_pid, __ATOMIC_RELAXED);
	if (!pid) {
		pid = (pid_t)syscall(SYS_getpid);
		__atomic_store_n(&peek_pid, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

#define PEEK_PIECES_MAX 4

bool gp_peek_pieces(const struct gp_peek_piece *pieces, unsigned n)
{
	struct iovec local[PEEK_PIECES_MAX], remote[PEEK_PIECES_MAX];
	long want = 0;
	if (n > PEEK_PIECES_MAX)
		return false;
	for (unsigned i = 0; i < n; i++) {
		local[i] = (struct iovec){ pieces[i].out, pieces[i].len };
		remote[i] = (struct iovec){ (void *)pieces[i].addr, pieces[i].len };
		want += (long)pieces[i].len;
	}
	/* The kernel stops at the first piece it cannot read: a short count. */
	return syscall(SYS_process_vm_readv, (long)own_pid(), local, (unsigned long)n, remote,
		       (unsigned long)n, 0ul) == want;
}

bool gp_peek(const void *addr, void *out, size_t len)
{
	struct gp_peek_piece piece = { addr, out, len };
	return gp_peek_pieces(&piece, 1);
}

bool gp_poke(void *addr, const void *in, size_t len)
{
	struct iovec local = { (void *)in, len }, remote = { addr, len };
	return syscall(SYS_process_vm_writev, (long)own_pid(), &local, 1ul, &remote, 1ul, 0ul) ==
	       (long)len;
}

bool gp_fd_open(int fd)
{
	int saved = errno;
	bool open = syscall(SYS_fcntl, fd, F_GETFD) >= 0;
	errno = saved;
	return open;
}

long (*gp__raw_syscall)(long number, ...) = syscall;

void gp_futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ns)
{
	struct timespec ts = { timeout_ns / 1000000000L, timeout_ns % 1000000000L };
	int saved = errno;
	gp__raw_syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, timeout_ns < 0 ? NULL : &ts,
			NULL, 0);
	errno = saved;
}

void gp_futex_wake(_Atomic uint32_t *word, int n)
{
	int saved = errno;
	gp__raw_syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
	errno = saved;
}

void gp_block_program_signals(void)
{
	uint64_t all = GP_SIGMASK_LIBRARY_THREAD;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof(all));
}

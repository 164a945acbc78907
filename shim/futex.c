/*
 * syscall(SYS_futex, ...). libstdc++ waits with raw futex calls through syscall()
 * (std::future, std::atomic::wait, std::counting_semaphore): on a green thread the
 * wait would stop the whole carrier while the thread that will wake it sits runnable.
 * So FUTEX_WAIT and FUTEX_WAIT_BITSET (private or not) park the green thread on the
 * futex word, after comparing it as the kernel does (EAGAIN when it changed), and
 * FUTEX_WAKE unparks green waiters as well as kernel ones. Every other system call,
 * and every futex call from a kernel thread, goes to the kernel unchanged.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "hook.h"
#include "signals.h"
#include "sync.h"

static double wait_seconds(int cmd, int op, const struct timespec *ts)
{
	if (!ts)
		return -1;
	/* FUTEX_WAIT takes a relative timeout, FUTEX_WAIT_BITSET an absolute one. */
	if (cmd == FUTEX_WAIT)
		return gp_ts_seconds(ts);
	clockid_t clock = (op & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	return gp_until(clock, ts);
}

/* A futex wait on a green thread: 0, or -1 and errno (EAGAIN, ETIMEDOUT, EINTR). */
static long green_futex_wait(uint32_t *word, int cmd, int op, uint32_t val,
			     const struct timespec *ts)
{
	if (ts && !gp_ts_valid(ts)) {
		errno = EINVAL;
		return -1;
	}
	if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != val) {
		errno = EAGAIN;
		return -1;
	}
	double left = wait_seconds(cmd, op, ts);
	if (ts && left <= 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	gp_enter();
	int rc = gp_park_on(word, left, "futex");
	gp_leave();
	if (rc == 0 || rc == -EAGAIN)   /* -EAGAIN: look again, as after a spurious wake-up */
		return 0;
	errno = rc == -ETIMEDOUT ? ETIMEDOUT : EINTR;
	return -1;
}

static long green_futex_wake(uint32_t *word, int op, int n, long a3, long a4, long a5)
{
	long woken = GP_REAL(syscall)(SYS_futex, word, op, n, a3, a4, a5);
	if (woken < 0)
		return woken;
	size_t left = n > (int)woken ? (size_t)(n - (int)woken) : 0;
	if (left) {
		gp_enter();
		woken += (long)gp_unpark_on(word, left);
		gp_leave();
	}
	return woken;
}

/* syscall(SYS_futex, ...) from the program (shim/syscall.c). */
long gp__futex_call(const long a[6])
{
	if (!gp_rt)
		return GP_REAL(syscall)(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
	uint32_t *word = (uint32_t *)a[0];
	int op = (int)a[1];
	int cmd = op & FUTEX_CMD_MASK;
	if (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET) {
		if (!gp_on_green()) {
			/* A kernel thread wakes: a green thread may be parked on the word. */
			long r = GP_REAL(syscall)(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
			gp_unpark_all_on_async(word);
			return r;
		}
		return green_futex_wake(word, op, (int)a[2], a[3], a[4], a[5]);
	}
	if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && gp_cooperative())
		return green_futex_wait(word, cmd, op, (uint32_t)a[2], (const struct timespec *)a[3]);
	return GP_REAL(syscall)(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
}

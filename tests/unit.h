/*
 * What the core/ unit tests share.
 *
 * The unit tests link core/ directly: no shim, no LD_PRELOAD, so plain libc calls
 * (read, write, pipe, clock_gettime) behave natively inside them. Criterion runs each
 * test in its own process, which is why every scheduler test may call gp_sched_start()
 * and leave the runtime behind when it ends.
 *
 * A failed cr_assert inside a green thread jumps back to Criterion's frame on the
 * main stack; the process is about to end, so that is harmless, and the message keeps
 * the line that failed. Helpers here are static inline: several test files include
 * this header and are linked into one binary.
 */
#ifndef GP_UNIT_H
#define GP_UNIT_H

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched.h"
#include "util.h"

/* Per-test bounds, in seconds: generous, so that a loaded machine never fails a test
 * that is merely slow, yet a hang ends in a report rather than a stuck run. */
#define UNIT_TIMEOUT      10
#define UNIT_TIMEOUT_LONG 60

static inline double unit_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The running process becomes a carrier; the test function is its main green thread. */
static inline void unit_start(void)
{
	int rc = gp_sched_start();
	cr_assert_eq(rc, 0, "gp_sched_start() = %d (%s)", rc, strerror(-rc));
	cr_assert(gp_sched_started(), "gp_sched_start() returned 0 but no carrier exists");
}

static inline struct gp_green *unit_spawn_attr(void *(*fn)(void *), void *arg,
					       const struct gp_spawn_attr *attr)
{
	struct gp_green *g = NULL;
	int rc = gp_spawn(&g, fn, arg, attr);
	cr_assert_eq(rc, 0, "gp_spawn() = %d (%s)", rc, strerror(-rc));
	cr_assert_not_null(g, "gp_spawn() returned 0 without a thread");
	return g;
}

static inline struct gp_green *unit_spawn(void *(*fn)(void *), void *arg)
{
	return unit_spawn_attr(fn, arg, NULL);
}

/* Join g, which must succeed; its return value. */
static inline void *unit_join(struct gp_green *g)
{
	void *ret = NULL;
	int rc = gp_join(g, &ret);
	cr_assert_eq(rc, 0, "gp_join() = %d (%s)", rc, strerror(-rc));
	return ret;
}

/* Let every runnable thread run until each has parked or ended (a bounded number of
 * rounds, so a thread that never parks cannot hang the test). */
static inline void unit_settle(void)
{
	for (int i = 0; i < 8; i++)
		gp_yield();
}

/*
 * Park the caller until the hub has polled the loop once: watchers started since the
 * last poll then reach the kernel, and whatever is ready has been handed to its waiters.
 * (While the caller merely yields, the hub may not run at all.)
 */
static inline void unit_run_loop(void)
{
	int rc = gp_sleep(0);
	cr_assert_eq(rc, 0, "gp_sleep(0) = %d", rc);
}

/* The state of g as words, for messages. */
static inline const char *unit_state_name(enum gp_green_state s)
{
	switch (s) {
	case GP_RUNNABLE: return "RUNNABLE";
	case GP_RUNNING: return "RUNNING";
	case GP_PARKED: return "PARKED";
	case GP_DONE: return "DONE";
	}
	return "?";
}

static inline void unit_assert_state(struct gp_green *g, enum gp_green_state want,
				     const char *why)
{
	cr_assert_eq(g->state, want, "%s: thread %llu is %s, expected %s", why,
		     (unsigned long long)g->id, unit_state_name(g->state),
		     unit_state_name(want));
}

/*
 * An ordered record of events (thread indexes, steps), compared as a whole at the end:
 * a wrong order then shows where it first goes wrong instead of only that it is wrong.
 */
#define UNIT_TRACE_MAX 4096

struct unit_trace {
	int v[UNIT_TRACE_MAX];
	size_t n;
};

static inline void unit_trace_add(struct unit_trace *t, int v)
{
	cr_assert_lt(t->n, (size_t)UNIT_TRACE_MAX, "trace overflow");
	t->v[t->n++] = v;
}

static inline void unit_trace_expect(const struct unit_trace *t, const int *want, size_t n,
				     const char *what)
{
	cr_assert_eq(t->n, n, "%s: %zu events recorded, expected %zu", what, t->n, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(t->v[i], want[i], "%s: event %zu is %d, expected %d", what, i,
			     t->v[i], want[i]);
}

/* A pipe whose two ends close on exec; asserts it was made. */
static inline void unit_pipe(int fds[2])
{
	int rc = pipe2(fds, O_CLOEXEC);
	cr_assert_eq(rc, 0, "pipe2: %s", strerror(errno));
}

/* write(2) all of len, in a test that knows the descriptor has room. */
static inline void unit_write(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);
	cr_assert_eq(n, (ssize_t)len, "write(%d, %zu) = %zd (%s)", fd, len, n,
		     n < 0 ? strerror(errno) : "short write");
}

#endif

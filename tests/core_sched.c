/*
 * core/sched: spawning, joining, detaching, yielding, parking and sleeping green
 * threads on one carrier. The test function itself is the main green thread.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "config.h"
#include "loop.h"

static struct unit_trace trace;

static void *record_index(void *arg)
{
	unit_trace_add(&trace, (int)(intptr_t)arg);
	return arg;
}

/* Is g on the carrier's list of every thread object? */
static bool on_all_list(const struct gp_green *g)
{
	for (struct gp_green *x = gp_all(); x; x = x->all_next)
		if (x == g)
			return true;
	return false;
}

/* ---- starting ---- */

Test(core_sched, start_twice_keeps_the_carrier, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_runtime *c = gp_rt;
	struct gp_green *self = gp_self();
	cr_assert(self->is_main, "the test function is not the main green thread");
	cr_assert_eq(gp_alive(), 1, "%zu threads alive at start", gp_alive());
	cr_assert_eq(gp_sched_start(), 0, "second gp_sched_start failed");
	cr_assert_eq(gp_rt, c, "second gp_sched_start replaced the carrier");
	cr_assert_eq(gp_self(), self, "second gp_sched_start replaced the main thread");
}

/* ---- spawn order ---- */

Test(core_sched, first_run_is_fifo, .timeout = UNIT_TIMEOUT)
{
	enum { N = 150 };   /* more than GP_POLL_CHECK switches: the hub may run in between */
	unit_start();
	struct gp_green *g[N];
	for (int i = 0; i < N; i++)
		g[i] = unit_spawn(record_index, (void *)(intptr_t)i);
	cr_assert_eq(trace.n, 0, "a spawned thread ran before main gave up the carrier");
	cr_assert_eq(gp_alive(), (size_t)N + 1, "gp_alive() = %zu after %d spawns", gp_alive(), N);
	for (int i = 0; i < N; i++)
		unit_join(g[i]);
	int want[N];
	for (int i = 0; i < N; i++)
		want[i] = i;
	unit_trace_expect(&trace, want, N, "first runs");
	cr_assert_eq(gp_alive(), 1, "gp_alive() = %zu after joining all", gp_alive());
}

/* ---- yield ---- */

enum { RR_THREADS = 5, RR_ROUNDS = 40 };

static void *yield_rounds(void *arg)
{
	for (int r = 0; r < RR_ROUNDS; r++) {
		unit_trace_add(&trace, (int)(intptr_t)arg);
		gp_yield();
	}
	return NULL;
}

Test(core_sched, yield_is_round_robin, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g[RR_THREADS];
	for (int i = 0; i < RR_THREADS; i++)
		g[i] = unit_spawn(yield_rounds, (void *)(intptr_t)i);
	for (int i = 0; i < RR_THREADS; i++)
		unit_join(g[i]);
	static int want[RR_THREADS * RR_ROUNDS];
	for (int r = 0; r < RR_ROUNDS; r++)
		for (int i = 0; i < RR_THREADS; i++)
			want[r * RR_THREADS + i] = i;
	unit_trace_expect(&trace, want, RR_THREADS * RR_ROUNDS, "yield order");
}

/* With nothing else runnable, yield comes straight back. */
Test(core_sched, yield_alone_returns, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	for (int i = 0; i < 1000; i++)
		gp_yield();
	cr_assert_eq(gp_self()->state, GP_RUNNING, "main is %s after yielding alone",
		     unit_state_name(gp_self()->state));
}

/* ---- join and detach ---- */

static void *return_arg_plus_one(void *arg)
{
	gp_yield();
	return (char *)arg + 1;
}

Test(core_sched, join_returns_retval, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	/* Joined while still running: the joiner parks. */
	struct gp_green *a = unit_spawn(return_arg_plus_one, (void *)0x1000);
	void *ra = unit_join(a);
	cr_assert_eq(ra, (void *)0x1001, "join of a running thread gave %p, expected 0x1001", ra);
	/* Joined after it ended: no park. */
	struct gp_green *b = unit_spawn(return_arg_plus_one, (void *)0x2000);
	unit_settle();
	unit_assert_state(b, GP_DONE, "after settling");
	void *rb = unit_join(b);
	cr_assert_eq(rb, (void *)0x2001, "join of an ended thread gave %p, expected 0x2001", rb);
	/* A NULL retval pointer is allowed. */
	struct gp_green *c = unit_spawn(return_arg_plus_one, NULL);
	int rc = gp_join(c, NULL);
	cr_assert_eq(rc, 0, "gp_join(g, NULL) = %d", rc);
}

Test(core_sched, joined_thread_leaves_the_thread_list, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(return_arg_plus_one, NULL);
	cr_assert(on_all_list(g), "a spawned thread is missing from the list of threads");
	unit_join(g);
	cr_assert_not(on_all_list(g), "a joined thread is still on the list of threads");
}

Test(core_sched, join_self_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int rc = gp_join(gp_self(), NULL);
	cr_assert_eq(rc, -EDEADLK, "gp_join(self) = %d, expected -EDEADLK (%d)", rc, -EDEADLK);
}

static struct gp_green *main_thread;
static int join_main_rc = 1;

static void *join_main(void *arg)
{
	(void)arg;
	join_main_rc = gp_join(main_thread, NULL);
	return NULL;
}

/* A joins main while main joins A: the second join would wait forever. */
Test(core_sched, mutual_join_is_edeadlk, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	main_thread = gp_self();
	struct gp_green *a = unit_spawn(join_main, NULL);
	unit_settle();
	unit_assert_state(a, GP_PARKED, "A joining main");
	int rc = gp_join(a, NULL);
	cr_assert_eq(rc, -EDEADLK, "main joining A, which joins main: %d, expected -EDEADLK",
		     rc);
}

Test(core_sched, join_detached_is_einval, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_spawn_attr attr = { .detached = true };
	struct gp_green *g = unit_spawn_attr(record_index, (void *)(intptr_t)7, &attr);
	int rc = gp_join(g, NULL);
	cr_assert_eq(rc, -EINVAL, "gp_join(detached) = %d, expected -EINVAL", rc);
	unit_settle();
	cr_assert_eq(trace.n, 1, "the detached thread ran %zu times", trace.n);
	cr_assert_eq(gp_alive(), 1, "gp_alive() = %zu after the detached thread ended",
		     gp_alive());
}

static void *park_forever(void *arg)
{
	(void)arg;
	gp_park(-1, "test");
	return NULL;
}

/* A second joiner of the same thread is refused, as pthread_join may refuse it. */
static int second_join_rc = 1;

static void *join_arg(void *arg)
{
	second_join_rc = gp_join(arg, NULL);
	return NULL;
}

Test(core_sched, second_joiner_is_einval, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *target = unit_spawn(park_forever, NULL);
	struct gp_green *j1 = unit_spawn(join_arg, target);
	unit_settle();
	int rc = gp_join(target, NULL);
	cr_assert_eq(rc, -EINVAL, "a second joiner got %d, expected -EINVAL", rc);
	gp_unpark(target);
	unit_join(j1);
	cr_assert_eq(second_join_rc, 0, "the first joiner got %d", second_join_rc);
}

Test(core_sched, detach_twice_is_einval, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(record_index, NULL);
	int rc = gp_detach(g);
	cr_assert_eq(rc, 0, "first gp_detach = %d", rc);
	rc = gp_detach(g);
	cr_assert_eq(rc, -EINVAL, "second gp_detach = %d, expected -EINVAL", rc);
	unit_settle();
	cr_assert_eq(trace.n, 1, "the detached thread ran %zu times", trace.n);
}

/* Detaching a thread that already ended frees it at once. */
Test(core_sched, detach_after_end_frees, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(record_index, NULL);
	unit_settle();
	unit_assert_state(g, GP_DONE, "before detach");
	cr_assert(on_all_list(g), "an ended, unjoined thread left the list early");
	int rc = gp_detach(g);
	cr_assert_eq(rc, 0, "gp_detach(ended) = %d", rc);
	cr_assert_not(on_all_list(g), "an ended thread, detached, is still on the list");
}

/* A thread spawned detached is freed as soon as it ends. */
Test(core_sched, detached_thread_is_freed_when_it_ends, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_spawn_attr attr = { .detached = true };
	struct gp_green *g = unit_spawn_attr(record_index, NULL, &attr);
	unit_settle();
	cr_assert_eq(trace.n, 1, "the detached thread did not run");
	cr_assert_not(on_all_list(g), "an ended detached thread is still on the list");
}

/* ---- park, unpark, interrupt ---- */

static int park_rc = 1;

static void *park_and_record(void *arg)
{
	double timeout = arg ? *(double *)arg : -1;
	park_rc = gp_park(timeout, "test");
	return NULL;
}

Test(core_sched, park_until_unpark, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(park_and_record, NULL);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "after gp_park");
	cr_assert_str_eq(g->waits_for, "test", "waits_for names \"%s\"",
			 g->waits_for ? g->waits_for : "(null)");
	cr_assert_eq(park_rc, 1, "gp_park returned before anyone unparked it");
	gp_unpark(g);
	unit_assert_state(g, GP_RUNNABLE, "after gp_unpark");
	unit_join(g);
	cr_assert_eq(park_rc, 0, "gp_park after gp_unpark returned %d, expected 0", park_rc);
}

/* gp_unpark of a thread that is not parked changes nothing: in particular a runnable
 * thread is not queued twice (which would run it twice or corrupt the queue). */
Test(core_sched, unpark_of_runnable_thread_is_a_noop, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(record_index, NULL);
	gp_unpark(g);
	gp_unpark(g);
	gp_unpark(gp_self());
	unit_join(g);
	unit_settle();
	cr_assert_eq(trace.n, 1, "the thread ran %zu times after being unparked while "
		     "runnable", trace.n);
}

static void assert_elapsed(double t0, double at_least, const char *what)
{
	double el = unit_now() - t0;
	cr_assert_geq(el, at_least, "%s ended after %.6f s, before its %.3f s timeout", what,
		      el, at_least);
	cr_assert_lt(el, 5.0, "%s took %.3f s for a %.3f s timeout", what, el, at_least);
}

Test(core_sched, park_timeout_is_etimedout_and_never_early, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	const double timeouts[] = { 0.0, 0.001, 0.05, 0.2 };
	for (size_t i = 0; i < GP_ARRAY_LEN(timeouts); i++) {
		double t0 = unit_now();
		int rc = gp_park(timeouts[i], "test");
		cr_assert_eq(rc, -ETIMEDOUT, "gp_park(%.3f) in main = %d, expected -ETIMEDOUT",
			     timeouts[i], rc);
		assert_elapsed(t0, timeouts[i], "gp_park in main");
	}
	/* And in a green thread, while main waits in join. */
	double timeout = 0.1, t0 = unit_now();
	unit_join(unit_spawn(park_and_record, &timeout));
	cr_assert_eq(park_rc, -ETIMEDOUT, "gp_park(0.1) in a thread = %d", park_rc);
	assert_elapsed(t0, timeout, "gp_park in a thread");
}

static int park_rcs[2] = { 1, 1 };

static void *park_twice(void *arg)
{
	(void)arg;
	park_rcs[0] = gp_park(0.05, "first");
	park_rcs[1] = gp_park(-1, "second");
	return NULL;
}

/* Unparked before its timeout, a thread's timer must be gone: it may not end a later
 * park that has no timeout. */
Test(core_sched, early_unpark_cancels_the_timer, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(park_twice, NULL);
	unit_settle();
	gp_unpark(g);
	unit_settle();
	cr_assert_eq(park_rcs[0], 0, "first park, unparked early, returned %d", park_rcs[0]);
	unit_assert_state(g, GP_PARKED, "in its second park");
	int rc = gp_sleep(0.2);
	cr_assert_eq(rc, 0, "gp_sleep = %d", rc);
	unit_assert_state(g, GP_PARKED, "0.2 s after the first park's timeout would have passed");
	cr_assert_eq(park_rcs[1], 1, "the second park (no timeout) ended with %d", park_rcs[1]);
	gp_unpark(g);
	unit_join(g);
	cr_assert_eq(park_rcs[1], 0, "second park returned %d", park_rcs[1]);
}

Test(core_sched, interrupt_is_eintr, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(park_and_record, NULL);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "before the interrupt");
	gp_interrupt(g);
	unit_join(g);
	cr_assert_eq(park_rc, -EINTR, "interrupted gp_park returned %d, expected -EINTR",
		     park_rc);
}

/* An interrupt aimed at a thread that is not parked is not kept for its next park. */
Test(core_sched, interrupt_of_runnable_thread_is_a_noop, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	double timeout = 0.02;
	struct gp_green *g = unit_spawn(park_and_record, &timeout);
	gp_interrupt(g);
	unit_join(g);
	cr_assert_eq(park_rc, -ETIMEDOUT, "park after a stale interrupt returned %d, expected "
		     "-ETIMEDOUT", park_rc);
}

static int sleep_rc = 1;

static void *sleep_long(void *arg)
{
	(void)arg;
	sleep_rc = gp_sleep(30);
	return NULL;
}

Test(core_sched, interrupt_ends_sleep, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(sleep_long, NULL);
	unit_settle();
	double t0 = unit_now();
	gp_interrupt(g);
	unit_join(g);
	cr_assert_eq(sleep_rc, -EINTR, "interrupted gp_sleep returned %d", sleep_rc);
	cr_assert_lt(unit_now() - t0, 1.0, "the interrupted sleep did not end at once");
}

/* A plain unpark does not cut a sleep short: the rest is slept. */
static double slept_for;

static void *sleep_fifth(void *arg)
{
	(void)arg;
	double t0 = unit_now();
	sleep_rc = gp_sleep(0.2);
	slept_for = unit_now() - t0;
	return NULL;
}

Test(core_sched, unpark_does_not_shorten_sleep, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *g = unit_spawn(sleep_fifth, NULL);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "sleeping");
	gp_unpark(g);
	unit_join(g);
	cr_assert_eq(sleep_rc, 0, "gp_sleep unparked early returned %d", sleep_rc);
	cr_assert_geq(slept_for, 0.2, "gp_sleep(0.2) unparked early slept only %.6f s",
		      slept_for);
}

/* ---- errno ---- */

enum { ERRNO_ROUNDS = 100 };
static int errno_bad[3];

/* Each thread sets its own errno and checks it is still there after the others ran. */
static void *hold_errno(void *arg)
{
	int mine = (int)(intptr_t)arg;
	for (int r = 0; r < ERRNO_ROUNDS; r++) {
		errno = mine + r;
		gp_yield();
		if (errno != mine + r && !errno_bad[mine / 1000])
			errno_bad[mine / 1000] = errno ? errno : -1;
	}
	return NULL;
}

Test(core_sched, errno_is_per_thread, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *a = unit_spawn(hold_errno, (void *)(intptr_t)1000);
	struct gp_green *b = unit_spawn(hold_errno, (void *)(intptr_t)2000);
	errno = 3333;
	unit_settle();
	cr_assert_eq(errno, 3333, "main's errno is %d after the others ran", errno);
	unit_join(a);
	unit_join(b);
	cr_assert_eq(errno_bad[1], 0, "thread A found errno %d after yielding", errno_bad[1]);
	cr_assert_eq(errno_bad[2], 0, "thread B found errno %d after yielding", errno_bad[2]);
	/* join parks main; its errno must survive that too. */
	errno = 4444;
	unit_join(unit_spawn(hold_errno, (void *)(intptr_t)1000));
	cr_assert_eq(errno, 4444, "main's errno is %d after a join that parked", errno);
}

static int start_errno = -1, sleep_errno = -1;

static void *errno_at_start_and_after_sleep(void *arg)
{
	(void)arg;
	start_errno = errno;
	errno = EIO;
	gp_sleep(0.02);
	sleep_errno = errno;
	return NULL;
}

static void *clobber_errno(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		errno = ENOENT;
		gp_sleep(0.001);
	}
	return NULL;
}

Test(core_sched, errno_starts_at_zero_and_survives_sleep, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	errno = 77;
	struct gp_green *a = unit_spawn(errno_at_start_and_after_sleep, NULL);
	struct gp_green *b = unit_spawn(clobber_errno, NULL);
	unit_join(a);
	unit_join(b);
	cr_assert_eq(start_errno, 0, "a new thread started with errno %d (its creator's was 77)",
		     start_errno);
	cr_assert_eq(sleep_errno, EIO, "errno after gp_sleep is %d, expected EIO (%d)",
		     sleep_errno, EIO);
}

/* ---- many threads ---- */

enum { SLEEPERS = 1000 };
static int sleepers_done, sleepers_early, sleepers_failed;

static void *sleep_and_check(void *arg)
{
	(void)arg;
	double t0 = unit_now();
	int rc = gp_sleep(0.2);
	double el = unit_now() - t0;
	sleepers_failed += rc != 0;
	sleepers_early += el < 0.2;
	sleepers_done++;
	return NULL;
}

Test(core_sched, thousand_sleepers_sleep_together, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static struct gp_green *g[SLEEPERS];
	double t0 = unit_now();
	for (int i = 0; i < SLEEPERS; i++)
		g[i] = unit_spawn(sleep_and_check, NULL);
	for (int i = 0; i < SLEEPERS; i++)
		unit_join(g[i]);
	double el = unit_now() - t0;
	cr_assert_eq(sleepers_done, SLEEPERS, "%d of %d sleepers finished", sleepers_done,
		     SLEEPERS);
	cr_assert_eq(sleepers_failed, 0, "%d sleeps returned an error", sleepers_failed);
	cr_assert_eq(sleepers_early, 0, "%d sleeps of 0.2 s ended early", sleepers_early);
	/* One after the other they would take 200 s; together, a little over 0.2 s. */
	cr_assert_lt(el, 5.0, "%d concurrent 0.2 s sleeps took %.2f s: they did not overlap",
		     SLEEPERS, el);
}

enum { MANY = 10000 };

static void *return_double(void *arg)
{
	return (void *)((intptr_t)arg * 2);
}

Test(core_sched, ten_thousand_threads_alive_at_once, .timeout = UNIT_TIMEOUT_LONG)
{
	unit_start();
	static struct gp_green *g[MANY];
	for (int i = 0; i < MANY; i++)
		g[i] = unit_spawn(return_double, (void *)(intptr_t)i);
	cr_assert_eq(gp_rt->stats.peak_alive, (uint64_t)MANY + 1, "peak_alive = %llu",
		     (unsigned long long)gp_rt->stats.peak_alive);
	for (int i = 0; i < MANY; i++) {
		intptr_t r = (intptr_t)unit_join(g[i]);
		cr_assert_eq(r, 2 * (intptr_t)i, "thread %d returned %ld", i, (long)r);
	}
	cr_assert_eq(gp_alive(), 1, "gp_alive() = %zu after joining all", gp_alive());
}

Test(core_sched, ten_thousand_threads_one_after_another, .timeout = UNIT_TIMEOUT_LONG)
{
	unit_start();
	uint64_t created = gp_rt->stats.created;
	void *first_lo = NULL;
	for (int i = 0; i < MANY; i++) {
		struct gp_green *g = unit_spawn(return_double, (void *)(intptr_t)i);
		void *lo = g->stack.lo;
		if (i == 0)
			first_lo = lo;
		/* Each thread ends before the next starts: its stack comes back every time. */
		cr_assert_eq(lo, first_lo, "thread %d got a new stack %p instead of the cached %p",
			     i, lo, first_lo);
		intptr_t r = (intptr_t)unit_join(g);
		cr_assert_eq(r, 2 * (intptr_t)i, "thread %d returned %ld", i, (long)r);
	}
	cr_assert_eq(gp_rt->stats.created - created, (uint64_t)MANY, "created moved by %llu",
		     (unsigned long long)(gp_rt->stats.created - created));
}

/* ---- gp_exit ---- */

static int after_exit_ran;
static volatile int exit_at_bottom = 1;

/* gp_exit from ten calls deep: nothing of the frames above it may run again. */
static void leave_from_deep(int depth)
{
	if (depth > 0)
		leave_from_deep(depth - 1);
	else if (exit_at_bottom)
		gp_exit((void *)0x42);
	after_exit_ran = 1;
}

static void *exit_midway(void *arg)
{
	(void)arg;
	leave_from_deep(10);
	after_exit_ran = 1;
	return (void *)0x99;
}

Test(core_sched, gp_exit_ends_the_thread_with_its_value, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	void *r = unit_join(unit_spawn(exit_midway, NULL));
	cr_assert_eq(r, (void *)0x42, "join gave %p, expected gp_exit's 0x42", r);
	cr_assert_eq(after_exit_ran, 0, "code after gp_exit ran");
}

/*
 * When main leaves with gp_exit, the others go on; when the last of them ends, the
 * hook runs. The hook exits with its own status so that the default hook, exit(0),
 * cannot pass for it.
 */
enum { HOOK_OK = 42, HOOK_BAD = 43 };
enum { AFTER_MAIN = 3 };
static int after_main_done;

static void *outlive_main(void *arg)
{
	(void)arg;
	gp_sleep(0.05);
	after_main_done++;
	return NULL;
}

static void hook_fail(const char *why)
{
	/* The process ends in the hook: stderr is the only way to say why. */
	(void)!write(2, why, strlen(why));
	_exit(HOOK_BAD);
}

static void hook_after_main(void)
{
	if (after_main_done != AFTER_MAIN)
		hook_fail("hook: called before every thread ended\n");
	if (gp_alive() != 0)
		hook_fail("hook: gp_alive() is not 0\n");
	if (main_thread->state != GP_DONE)
		hook_fail("hook: main is not DONE\n");
	_exit(HOOK_OK);
}

Test(core_sched, last_thread_hook_runs_after_main_exits, .exit_code = HOOK_OK,
     .timeout = UNIT_TIMEOUT)
{
	unit_start();
	main_thread = gp_self();
	gp__last_thread_ended = hook_after_main;
	struct gp_spawn_attr detached = { .detached = true };
	for (int i = 0; i < AFTER_MAIN; i++)
		unit_spawn_attr(outlive_main, NULL, &detached);
	gp_exit(NULL);
}

static void hook_main_alone(void)
{
	if (gp_alive() != 0)
		hook_fail("hook: gp_alive() is not 0\n");
	_exit(HOOK_OK);
}

/* The others ended first: main leaving is the end. */
Test(core_sched, last_thread_hook_when_main_ends_last, .exit_code = HOOK_OK,
     .timeout = UNIT_TIMEOUT)
{
	unit_start();
	gp__last_thread_ended = hook_main_alone;
	unit_join(unit_spawn(outlive_main, NULL));
	unit_join(unit_spawn(outlive_main, NULL));
	gp_exit(NULL);
}

/* The default hook exits with status 0, as a process whose last pthread ends does.
 * Were it not called, nothing would end the process and the test would time out. */
Test(core_sched, default_last_thread_hook_exits_zero, .exit_code = 0,
     .timeout = UNIT_TIMEOUT)
{
	unit_start();
	unit_spawn(outlive_main, NULL);
	gp_exit(NULL);
}

/* ---- statistics ---- */

static void *yield_then_sleep(void *arg)
{
	(void)arg;
	gp_yield();
	gp_sleep(0.01);
	return NULL;
}

Test(core_sched, stats_move, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_stats before = gp_rt->stats;
	cr_assert_eq(before.created, 1, "created = %llu at start (main counts)",
		     (unsigned long long)before.created);
	struct gp_green *g[3];
	for (int i = 0; i < 3; i++)
		g[i] = unit_spawn(yield_then_sleep, NULL);
	for (int i = 0; i < 3; i++)
		unit_join(g[i]);
	struct gp_stats after = gp_rt->stats;
	cr_assert_eq(after.created, before.created + 3, "created %llu -> %llu after 3 spawns",
		     (unsigned long long)before.created, (unsigned long long)after.created);
	cr_assert_eq(after.peak_alive, 4, "peak_alive = %llu with main and 3 threads",
		     (unsigned long long)after.peak_alive);
	/* Each thread is switched to at least 3 times (start, after yield, after sleep). */
	cr_assert_geq(after.switches, before.switches + 9, "switches %llu -> %llu",
		      (unsigned long long)before.switches, (unsigned long long)after.switches);
	/* 3 sleeps, and main parked in join at least once. */
	cr_assert_geq(after.parks, before.parks + 4, "parks %llu -> %llu",
		      (unsigned long long)before.parks, (unsigned long long)after.parks);
	/* Sleeping needs the loop. */
	cr_assert_gt(after.polls, before.polls, "polls %llu -> %llu",
		     (unsigned long long)before.polls, (unsigned long long)after.polls);
}

/* ---- handles ---- */

Test(core_sched, find_by_handle, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *self = gp_self();
	cr_assert_eq(gp_find(self->handle), self, "main's handle does not find main");
	struct gp_green *g = unit_spawn(record_index, NULL);
	cr_assert_eq(gp_find(g->handle), g, "a thread's handle does not find it");
	cr_assert_null(gp_find(0), "handle 0 found a thread");
	cr_assert_null(gp_find((uintptr_t)&gp_rt->carriers[0].hub), "the hub is found as a thread");
	static struct gp_green fake;   /* zeroed: no magic */
	cr_assert_null(gp_find((uintptr_t)&fake), "an object without the magic was found");
	unit_join(g);
}

/* ---- stack sizes ---- */

static void *report_stack_size(void *arg)
{
	(void)arg;
	/* Touch 8 KiB: the thread really runs on the stack it reports. */
	volatile char buf[8 * 1024];
	for (size_t i = 0; i < sizeof(buf); i += 512)
		buf[i] = 1;
	return (void *)(uintptr_t)gp_self()->stack.size;
}

static size_t spawned_stack_size(size_t ask)
{
	struct gp_spawn_attr attr = { .stack_size = ask };
	return (size_t)(uintptr_t)unit_join(unit_spawn_attr(report_stack_size, NULL, &attr));
}

Test(core_sched, spawn_stack_sizes, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	size_t got = spawned_stack_size(0);
	cr_assert_eq(got, (size_t)256 * 1024, "default stack is %zu bytes, expected 256 KiB", got);
	got = spawned_stack_size(GP_STACK_MIN);
	cr_assert_eq(got, (size_t)GP_STACK_MIN, "asked GP_STACK_MIN, got %zu", got);
	got = spawned_stack_size(1024 * 1024);
	cr_assert_eq(got, (size_t)1024 * 1024, "asked 1 MiB, got %zu", got);
	gp_config.stack_size = 128 * 1024;
	got = spawned_stack_size(0);
	cr_assert_eq(got, (size_t)128 * 1024, "with gp_config.stack_size = 128 KiB the default "
		     "stack is %zu", got);
	struct gp_green *g = NULL;
	struct gp_spawn_attr huge = { .stack_size = (size_t)1 << 41 };
	int rc = gp_spawn(&g, report_stack_size, NULL, &huge);
	cr_assert_eq(rc, -EINVAL, "a 2 TiB stack: gp_spawn = %d, expected -EINVAL", rc);
	cr_assert_eq(gp_alive(), 1, "a failed spawn left gp_alive() at %zu", gp_alive());
}

/* ---- fork ---- */

static int fork_wait_rc = 1;
static int fork_pipe[2];

static void *wait_readable(void *arg)
{
	(void)arg;
	fork_wait_rc = gp_wait_fd(fork_pipe[0], EV_READ, 5.0);
	return NULL;
}

static void *child_sleeper(void *arg)
{
	gp_sleep(0.01);
	return arg;
}

/* In the child: the old runtime dropped, a new one works, with its own loop. */
static int child_after_fork(void)
{
	gp_sched_after_fork();
	if (gp_sched_started())
		return 1;
	if (gp_sched_start() != 0)
		return 2;
	if (gp_alive() != 1)
		return 3;
	struct gp_green *g;
	if (gp_spawn(&g, child_sleeper, (void *)7, NULL) != 0)
		return 4;
	void *r = NULL;
	if (gp_join(g, &r) != 0 || r != (void *)7)
		return 5;
	if (gp_wait_fd(fork_pipe[0], EV_READ, 0.02) != -ETIMEDOUT)
		return 6;
	return 0;
}

/*
 * The child shares the parent's epoll instance until it drops it: if the child
 * touched the shared set, the parent's waiter, registered before the fork, would
 * never be woken.
 */
Test(core_sched, fork_child_restarts_runtime_parent_unaffected, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	unit_pipe(fork_pipe);
	struct gp_green *w = unit_spawn(wait_readable, NULL);
	unit_settle();
	unit_assert_state(w, GP_PARKED, "waiting on the pipe before fork");
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_after_fork());
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid: %s", strerror(errno));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the child failed at step %d (status %#x)", WEXITSTATUS(status), status);
	unit_write(fork_pipe[1], "x", 1);
	unit_join(w);
	cr_assert_eq(fork_wait_rc, 0, "the parent's waiter got %d after the child ran",
		     fork_wait_rc);
}

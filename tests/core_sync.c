/*
 * core/sync: wait queues keyed by address. Each address is FIFO; addresses that share
 * a bucket of the table must not see each other's waiters.
 */
#include "unit.h"

#include <stdint.h>
#include <sys/wait.h>

#include "sync.h"

/* One parked thread: where it parks, and how its park ended. */
struct parker {
	const void *addr;
	double timeout;
	int index;
	int rc;            /* 1 until gp_park_on returns */
};

static struct unit_trace trace;

static void *park_on_and_record(void *arg)
{
	struct parker *p = arg;
	p->rc = gp_park_on(p->addr, p->timeout, "test");
	unit_trace_add(&trace, p->index);
	return NULL;
}

static struct gp_green *spawn_parker(struct parker *p, const void *addr, int index,
				     double timeout)
{
	*p = (struct parker){ .addr = addr, .timeout = timeout, .index = index, .rc = 1 };
	return unit_spawn(park_on_and_record, p);
}

Test(core_sync, unpark_on_is_fifo, .timeout = UNIT_TIMEOUT)
{
	enum { N = 10 };
	unit_start();
	static int obj;
	struct parker p[N];
	struct gp_green *g[N];
	for (int i = 0; i < N; i++)
		g[i] = spawn_parker(&p[i], &obj, i, -1);
	unit_settle();
	cr_assert_eq(gp_parked_on(&obj), (size_t)N, "gp_parked_on = %zu with %d parked",
		     gp_parked_on(&obj), N);
	/* One at a time: each unpark picks the oldest waiter left. */
	for (int i = 0; i < N / 2; i++) {
		size_t woken = gp_unpark_on(&obj, 1);
		cr_assert_eq(woken, 1, "gp_unpark_on(1) woke %zu", woken);
		unit_settle();
	}
	/* The rest at once: they run in the order they parked. */
	size_t woken = gp_unpark_on(&obj, SIZE_MAX);
	cr_assert_eq(woken, (size_t)(N - N / 2), "gp_unpark_on(all) woke %zu", woken);
	for (int i = 0; i < N; i++)
		unit_join(g[i]);
	int want[N];
	for (int i = 0; i < N; i++)
		want[i] = i;
	unit_trace_expect(&trace, want, N, "wake order");
	for (int i = 0; i < N; i++)
		cr_assert_eq(p[i].rc, 0, "parker %d got %d", i, p[i].rc);
}

Test(core_sync, unpark_on_returns_count, .timeout = UNIT_TIMEOUT)
{
	enum { N = 5 };
	unit_start();
	static int obj, unused;
	struct parker p[N];
	struct gp_green *g[N];
	for (int i = 0; i < N; i++)
		g[i] = spawn_parker(&p[i], &obj, i, -1);
	unit_settle();
	cr_assert_eq(gp_unpark_on(&unused, 1), 0, "unpark on an address nobody waits on woke "
		     "someone");
	cr_assert_eq(gp_unpark_on(&obj, 0), 0, "gp_unpark_on(n = 0) woke someone");
	size_t w = gp_unpark_on(&obj, 2);
	cr_assert_eq(w, 2, "gp_unpark_on(2) with 5 parked = %zu", w);
	cr_assert_eq(gp_parked_on(&obj), 3, "gp_parked_on after waking 2 = %zu",
		     gp_parked_on(&obj));
	w = gp_unpark_on(&obj, 10);
	cr_assert_eq(w, 3, "gp_unpark_on(10) with 3 parked = %zu", w);
	w = gp_unpark_on(&obj, 1);
	cr_assert_eq(w, 0, "gp_unpark_on with none left = %zu", w);
	for (int i = 0; i < N; i++)
		unit_join(g[i]);
}

Test(core_sync, other_address_unaffected, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int a, b;
	struct parker pa[3], pb[3];
	struct gp_green *ga[3], *gb[3];
	for (int i = 0; i < 3; i++) {
		ga[i] = spawn_parker(&pa[i], &a, i, -1);
		gb[i] = spawn_parker(&pb[i], &b, 10 + i, -1);
	}
	unit_settle();
	size_t w = gp_unpark_on(&a, SIZE_MAX);
	cr_assert_eq(w, 3, "woke %zu on a", w);
	unit_settle();
	for (int i = 0; i < 3; i++) {
		unit_assert_state(ga[i], GP_DONE, "a thread parked on a, after unpark(a)");
		unit_assert_state(gb[i], GP_PARKED, "a thread parked on b, after unpark(a)");
	}
	cr_assert_eq(gp_parked_on(&b), 3, "gp_parked_on(b) = %zu", gp_parked_on(&b));
	cr_assert_eq(gp_unpark_on(&b, SIZE_MAX), 3, "b's waiters were lost");
	for (int i = 0; i < 3; i++) {
		unit_join(ga[i]);
		unit_join(gb[i]);
	}
}

/*
 * n threads parked on addresses of their own, every timed_every-th of them (none when
 * 0) with a timeout of 0.2 s that ends before the others are woken: each address is then
 * woken in a shuffled order (7 is coprime with n), and must wake exactly its own
 * thread; the timed-out ones leave nothing behind.
 */
static void wake_each_in_turn(uint64_t *objs, struct parker *p, struct gp_green **g, int n,
			      int timed_every)
{
	unit_start();
	for (int i = 0; i < n; i++)
		g[i] = spawn_parker(&p[i], &objs[i], i,
				    timed_every && i % timed_every == 0 ? 0.2 : -1);
	unit_settle();
	for (int i = 0; i < n; i++) {
		bool timed = timed_every && i % timed_every == 0;
		cr_assert(timed || gp_parked_on(&objs[i]) == 1, "gp_parked_on(objs[%d]) = %zu", i,
			  gp_parked_on(&objs[i]));
		if (!timed)
			continue;
		unit_join(g[i]);
		cr_assert_eq(p[i].rc, -ETIMEDOUT, "thread %d's park ended with %d", i, p[i].rc);
		cr_assert_eq(gp_parked_on(&objs[i]), 0, "objs[%d] kept its timed-out waiter", i);
	}
	size_t ran = trace.n;
	for (int step = 0; step < n; step++) {
		int k = (int)(((long)step * 7) % n);
		bool timed = timed_every && k % timed_every == 0;
		size_t w = gp_unpark_on(&objs[k], SIZE_MAX);
		cr_assert_eq(w, timed ? 0u : 1u, "step %d: gp_unpark_on(objs[%d]) woke %zu", step, k,
			     w);
		if (timed)
			continue;
		unit_settle();
		cr_assert_eq(trace.n, ran + 1, "step %d: %zu threads have run", step, trace.n);
		cr_assert_eq(trace.v[ran], k, "step %d: waking objs[%d] woke thread %d", step, k,
			     trace.v[ran]);
		ran++;
		unit_join(g[k]);
	}
}

/*
 * Many addresses, so that many share a bucket (1,024 waiters hash into at most 1,024
 * buckets, about a quarter of which then hold two or more).
 */
Test(core_sync, addresses_sharing_buckets, .timeout = UNIT_TIMEOUT)
{
	enum { N = 1024 };
	static uint64_t objs[N];
	static struct parker p[N];
	static struct gp_green *g[N];
	wake_each_in_turn(objs, p, g, N, 0);
}

/*
 * The table grows while threads wait in it: 3,000 waiters make it double four times,
 * moving the waiters already there, a tenth of them with a timeout that ends after.
 */
Test(core_sync, table_grows_under_waiters, .timeout = UNIT_TIMEOUT)
{
	enum { N = 3000 };
	static uint64_t objs[N];
	static struct parker p[N];
	static struct gp_green *g[N];
	wake_each_in_turn(objs, p, g, N, 10);
}

Test(core_sync, park_on_timeout, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int obj;
	double t0 = unit_now();
	int rc = gp_park_on(&obj, 0.05, "test");
	double el = unit_now() - t0;
	cr_assert_eq(rc, -ETIMEDOUT, "gp_park_on(0.05) with nobody to wake it = %d", rc);
	cr_assert_geq(el, 0.05, "timed out after %.6f s", el);
	cr_assert_lt(el, 5.0, "timed out after %.3f s", el);
	cr_assert_eq(gp_parked_on(&obj), 0, "the timed-out waiter is still queued");
	cr_assert_eq(gp_unpark_on(&obj, 1), 0, "an unpark after the timeout found a waiter");
}

/* A queue entry lives on the waiter's stack: once the waiter has timed out and its
 * thread ended (its stack reused by another), the queue must hold nothing of it. */
static void *scribble_stack(void *arg)
{
	(void)arg;
	volatile unsigned char junk[16 * 1024];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xdb;
	return NULL;
}

Test(core_sync, timed_out_entry_does_not_outlive_its_stack, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static uint64_t objs[512];   /* neighbours in (some of) the same buckets */
	struct parker p;
	unit_join(spawn_parker(&p, &objs[0], 0, 0.01));
	cr_assert_eq(p.rc, -ETIMEDOUT, "park_on = %d", p.rc);
	unit_join(unit_spawn(scribble_stack, NULL));
	for (int i = 0; i < 512; i++) {
		cr_assert_eq(gp_parked_on(&objs[i]), 0, "objs[%d] has a waiter", i);
		cr_assert_eq(gp_unpark_on(&objs[i], 1), 0, "objs[%d] woke a ghost", i);
	}
}

Test(core_sync, interrupted_park_on_leaves_the_queue, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int obj;
	struct parker p[2];
	struct gp_green *g0 = spawn_parker(&p[0], &obj, 0, -1);
	struct gp_green *g1 = spawn_parker(&p[1], &obj, 1, -1);
	unit_settle();
	gp_interrupt(g0);
	unit_join(g0);
	cr_assert_eq(p[0].rc, -EINTR, "interrupted gp_park_on = %d", p[0].rc);
	cr_assert_eq(gp_parked_on(&obj), 1, "gp_parked_on = %zu after one left", gp_parked_on(&obj));
	cr_assert_eq(gp_unpark_on(&obj, 1), 1, "the remaining waiter was not found");
	unit_join(g1);
	cr_assert_eq(p[1].rc, 0, "the remaining waiter got %d", p[1].rc);
}

/*
 * A waiter whose timer fired, but which has not run yet, is still in the queue. If
 * gp_unpark_on picks it and counts it, the waiter must report the wake-up (0), not the
 * timeout: a condition variable's signal would otherwise be lost.
 */
Test(core_sync, picked_waiter_reports_wakeup_over_timeout, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int obj;
	struct parker p;
	struct gp_green *g = spawn_parker(&p, &obj, 0, 0.01);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "parked with a timeout");
	/* Busy past the timeout, then yield until the loop has run the timer: the waiter
	 * is then runnable but behind main in the run queue. */
	double t0 = unit_now();
	while (unit_now() - t0 < 0.03)
		;
	/* Yielding polls the loop once a clock tick has passed: bounded at 2 s. */
	for (double t1 = unit_now(); g->state == GP_PARKED && unit_now() - t1 < 2;)
		gp_yield();
	unit_assert_state(g, GP_RUNNABLE, "after its timer fired");
	cr_assert_eq(p.rc, 1, "the waiter ran before main could pick it");
	size_t w = gp_unpark_on(&obj, 1);
	cr_assert_eq(w, 1, "gp_unpark_on did not find the timed-out, not yet resumed waiter");
	unit_join(g);
	cr_assert_eq(p.rc, 0, "a waiter counted by gp_unpark_on returned %d, losing the wake-up",
		     p.rc);
}

/*
 * More wake-ups from afar than the async queue holds: the one that does not fit makes
 * the carrier wake every thread parked on an address like its own. A waiter nobody
 * picked must hear "look again" (-EAGAIN), never 0, which says a waker chose it: a
 * barrier's waiter would leave before its round ended. A thread parked on an address
 * nobody asked to wake sleeps on.
 */
Test(core_sync, overflow_wakeup_is_not_a_pick, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int obj, other, quiets[8];
	int *quiet = quiets;   /* one whose class is neither obj's nor other's */
	while (gp__sync_overflow_class(quiet) == gp__sync_overflow_class(&obj) ||
	       gp__sync_overflow_class(quiet) == gp__sync_overflow_class(&other))
		quiet++;
	struct parker p, q;
	struct gp_green *g = spawn_parker(&p, &obj, 0, -1);
	struct gp_green *h = spawn_parker(&q, quiet, 0, -1);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "parked on obj");
	unit_assert_state(h, GP_PARKED, "parked on quiet");
	for (int i = 0; i < 4096; i++)   /* past the queue's capacity */
		gp_unpark_on_async(&other);
	gp_unpark_on_async(&obj);        /* lost in the overflow */
	for (int i = 0; i < 100 && g->state == GP_PARKED; i++)
		unit_run_loop();
	unit_join(g);
	cr_assert_eq(p.rc, -EAGAIN,
		     "a waiter woken by the overflow, not picked, returned %d (0 = picked)", p.rc);
	cr_assert_eq(gp_parked_on(&obj), 0, "the woken waiter is still queued");
	unit_assert_state(h, GP_PARKED, "a waiter on an address nobody woke was woken");
	gp_unpark_on(quiet, 1);
	unit_join(h);
	cr_assert_eq(q.rc, 0, "the quiet waiter, picked at last, returned %d", q.rc);
}

Test(core_sync, parked_on_counts, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	static int obj;
	cr_assert_eq(gp_parked_on(&obj), 0, "gp_parked_on of a fresh address = %zu",
		     gp_parked_on(&obj));
	struct parker p[3];
	struct gp_green *g[3];
	for (int i = 0; i < 3; i++) {
		g[i] = spawn_parker(&p[i], &obj, i, -1);
		unit_settle();
		cr_assert_eq(gp_parked_on(&obj), (size_t)i + 1, "gp_parked_on = %zu with %d parked",
			     gp_parked_on(&obj), i + 1);
	}
	gp_unpark_on(&obj, 1);
	cr_assert_eq(gp_parked_on(&obj), 2, "gp_parked_on right after waking one = %zu",
		     gp_parked_on(&obj));
	gp_unpark_on(&obj, SIZE_MAX);
	for (int i = 0; i < 3; i++)
		unit_join(g[i]);
	cr_assert_eq(gp_parked_on(&obj), 0, "gp_parked_on when all left = %zu",
		     gp_parked_on(&obj));
}

/*
 * The child of fork keeps only the thread that forked (DESIGN, invariant 7). A thread
 * parked on an address in the parent does not exist in the child, so after
 * gp_sched_after_fork the child must find nobody parked there, and waking the address
 * must not resume the parent's thread (its copied stack and object) in the child.
 */
static volatile int ghost_ran;

static void *park_then_mark(void *arg)
{
	gp_park_on(arg, -1, "test");
	ghost_ran = 1;
	return NULL;
}

enum { CHILD_OK, CHILD_STILL_PARKED, CHILD_WOKE_GHOST, CHILD_GHOST_RAN, CHILD_START };

static int child_after_fork(const void *addr)
{
	gp_sched_after_fork();
	if (gp_sched_start() != 0)
		return CHILD_START;
	if (gp_parked_on(addr) != 0)
		return CHILD_STILL_PARKED;
	if (gp_unpark_on(addr, 1) != 0)
		return CHILD_WOKE_GHOST;
	for (int i = 0; i < 8; i++)
		gp_yield();
	return ghost_ran ? CHILD_GHOST_RAN : CHILD_OK;
}

Test(core_sync, parked_waiters_do_not_survive_fork, .timeout = UNIT_TIMEOUT)
{
	static const char *const what[] = {
		[CHILD_OK] = "ok",
		[CHILD_STILL_PARKED] = "gp_parked_on counts the parent's waiter",
		[CHILD_WOKE_GHOST] = "gp_unpark_on woke the parent's waiter",
		[CHILD_GHOST_RAN] = "the parent's thread ran in the child",
		[CHILD_START] = "gp_sched_start failed",
	};
	unit_start();
	static int obj;
	struct gp_green *g = unit_spawn(park_then_mark, &obj);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "parked on obj before fork");
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_after_fork(&obj));
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid: %s", strerror(errno));
	cr_assert(WIFEXITED(status), "the child died (status %#x)", status);
	int code = WEXITSTATUS(status);
	cr_assert_eq(code, CHILD_OK, "in the child after gp_sched_after_fork: %s",
		     code < (int)GP_ARRAY_LEN(what) ? what[code] : "unknown failure");
	/* The parent's waiter is untouched. */
	cr_assert_eq(gp_unpark_on(&obj, 1), 1, "the parent lost its waiter");
	unit_join(g);
	cr_assert_eq(ghost_ran, 1, "the parent's waiter did not finish");
}

/*
 * Threads coordinating through the pthread API (tests/progs/condvar.c), natively and under
 * the shim: producers and consumers on a mutex and two condition variables, timed waits on
 * both clocks, join values, detach, pthread_self, sched_yield ping-pong, mutex kinds,
 * rwlocks, semaphores (and signals handled while they wait), once, thread-specific data,
 * barriers and cancellation.
 *
 * The output is totals that do not depend on interleaving, so it must be the same. Each
 * section also runs on its own, so that a hang names the section. Sections still pending
 * are listed below with why.
 */
#include "harness.h"

TestSuite(condvar, .timeout = 120);

/*
 * Sections that do not behave under the shim as natively yet, and the feature each waits
 * for. They are left out of the comparisons below, reported as skipped, and checked by
 * pending_cases_still_pending, which fails once one of them passes: then delete its line.
 * timedwait_many here also stands for timed_waits_overlap: with a 3 s limit, its still
 * pending check tells overlapping waits (0.2 s) from waits in turn (12 s).
 */
static const struct gp_pending pending[] = {
};

GP_PENDING_REPORT(condvar, pending)

Test(condvar, pending_cases_still_pending, .timeout = 90)
{
	gp_expect_still_pending("condvar", pending, GP_COUNT(pending));
}

Test(condvar, native_ok)
{
	struct gp_run r;

	gp_run_prog("condvar", NULL, false, 60, NULL, &r);
	gp_expect_ok(&r);
	gp_run_free(&r);
}

Test(condvar, all_sections_same)
{
	gp_compare_cases("condvar", pending, GP_COUNT(pending), 45);
}

Test(condvar, all_sections_same_fortify)
{
	gp_compare_cases("condvar.fortify", pending, GP_COUNT(pending), 45);
}

/*
 * 60 threads in 200 ms timed waits (condvar on both clocks, clockwait, semaphore, mutex,
 * rwlock) at once: they must overlap under the shim. In turn they would take 12 s; a
 * wait that blocks the one kernel thread instead of parking its green thread shows here.
 */
Test(condvar, timed_waits_overlap)
{
	const struct gp_pending *p = gp_pending_find(pending, GP_COUNT(pending), "timedwait_many");
	struct gp_run n, s;

	if (p)
		gp_skip_pending(p);
	gp_compare("condvar", GP_ARGV("timedwait_many"), 30, &n, &s);
	gp_expect_ok(&n);
	cr_expect(s.elapsed_s < 5, "%s took %.1f s: its 60 timed waits of 200 ms did not overlap",
		  s.label, s.elapsed_s);
	gp_run_free(&n);
	gp_run_free(&s);
}

/* Natively the longest section takes half a second. */
Test(condvar, each_section_same, .timeout = 300)
{
	gp_compare_each_case_except("condvar", pending, GP_COUNT(pending), 10);
}

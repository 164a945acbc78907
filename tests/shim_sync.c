/*
 * Threads coordinating through the pthread API (tests/progs/condvar.c), natively and under
 * the shim: producers and consumers on a mutex and two condition variables, timed waits on
 * both clocks, join values, detach, pthread_self, sched_yield ping-pong, mutex kinds,
 * rwlocks, semaphores, once, thread-specific data, barriers and cancellation.
 *
 * The output is totals that do not depend on interleaving, so it must be the same. Each
 * section also runs on its own, so that a hang names the section.
 */
#include "harness.h"

TestSuite(condvar, .timeout = 120);

Test(condvar, native_ok)
{
	struct gp_run r;

	gp_run_prog("condvar", NULL, false, 60, NULL, &r);
	gp_expect_ok(&r);
	gp_run_free(&r);
}

Test(condvar, all_sections_same)
{
	gp_compare("condvar", NULL, 45, NULL, NULL);
}

Test(condvar, all_sections_same_fortify)
{
	gp_compare("condvar.fortify", NULL, 45, NULL, NULL);
}

/*
 * 60 threads in 200 ms timed waits (condvar on both clocks, clockwait, semaphore, mutex,
 * rwlock) at once: they must overlap under the shim. In turn they would take 12 s; a
 * wait that blocks the one kernel thread instead of parking its green thread shows here.
 */
Test(condvar, timed_waits_overlap)
{
	struct gp_run n, s;

	gp_compare("condvar", GP_ARGV("timedwait_many"), 30, &n, &s);
	gp_expect_ok(&n);
	cr_expect(s.elapsed_s < 5, "%s took %.1f s: its 60 timed waits of 200 ms did not overlap",
		  s.label, s.elapsed_s);
	gp_run_free(&n);
	gp_run_free(&s);
}

Test(condvar, each_section_same, .timeout = 600)
{
	gp_compare_each_case("condvar", 10);
}

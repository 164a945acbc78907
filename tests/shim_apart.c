/*
 * Calls made on their own kernel thread (libgreenpatch(7), "Calls on their own kernel
 * thread"), against another process that uses the same lock, semaphore or queue without
 * threads (tests/progs/apart_cases.c): file locks, process-shared and named semaphores,
 * mutexes (robust), condition variables, read-write locks and barriers, System V and POSIX
 * IPC, aio_suspend, user and group lookups, disk syncs, tcdrain; and the same objects
 * between two threads of one process. Each case's result, errno (EINTR and EDEADLK
 * included, timeouts, SA_RESTART) and ticker verdict must be the same natively and under
 * the library.
 *
 * The runs under the library set GREENPATCH_HANDOFF=60s: the monitor then hands nothing off
 * while a case runs, so the ticker can only have gone on if the call gave the carrier away
 * before it waited.
 */
#include "harness.h"

TestSuite(apart, .timeout = 180);

#define NO_MONITOR_HANDOFF GP_ARGV("GREENPATCH_HANDOFF=60s")

/* Cases that do not behave under the library as natively yet (libgreenpatch(7), LIMITATIONS). */
static const struct gp_pending pending[] = {
};

GP_PENDING_REPORT(apart, pending)

Test(apart, pending_cases_still_pending)
{
	gp_expect_still_pending("apart_cases", pending, GP_COUNT(pending));
}

/* All cases in one process, built with _FORTIFY_SOURCE; each case in a process of its own. */
Test(apart, all_cases_same_fortify)
{
	gp_compare_cases_env("apart_cases.fortify", pending, GP_COUNT(pending), NO_MONITOR_HANDOFF,
			     60);
}

Test(apart, each_case_same)
{
	gp_compare_each_case_env("apart_cases", pending, GP_COUNT(pending), NO_MONITOR_HANDOFF, 20);
}

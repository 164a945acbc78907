/*
 * Calls made on their own kernel thread (libgreenpatch(7), "Calls on their own kernel
 * thread"), against another process that uses the same lock, semaphore or queue without
 * threads (tests/progs/apart_cases.c): file locks, process-shared and named semaphores,
 * mutexes (robust), condition variables, read-write locks and barriers, System V and POSIX
 * IPC, aio_suspend, user and group lookups, disk syncs, tcdrain. Each case's result, errno
 * (EINTR and EDEADLK included) and ticker verdict must be the same natively and under the
 * library.
 *
 * The runs under the library set GREENPATCH_HANDOFF=60s: the monitor then hands nothing off
 * while a case runs, so the ticker can only have gone on if the call gave the carrier away
 * before it waited.
 */
#include "harness.h"

TestSuite(apart, .timeout = 180);

#define NO_MONITOR_HANDOFF GP_ARGV("GREENPATCH_HANDOFF=60s")

/* All cases in one process, built with _FORTIFY_SOURCE; each case in a process of its own. */
Test(apart, all_cases_same_fortify)
{
	gp_compare_env("apart_cases.fortify", NULL, NO_MONITOR_HANDOFF, 60, NULL, NULL);
}

Test(apart, each_case_same)
{
	gp_compare_each_case_env("apart_cases", NO_MONITOR_HANDOFF, 20);
}

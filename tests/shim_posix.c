/*
 * POSIX thread semantics at the edges (tests/progs/posix_cases.c): scheduling
 * attributes and real-time priority order, asynchronous cancellation in a mutex wait,
 * a signal's handler during a wait that never ends with EINTR, signals pending per
 * thread, per-thread CPU-time clocks, handles of joined threads, thread ids, the thread
 * that runs the handler of a signal sent to the process, pause after a handler, and fork
 * from a thread other than the first. Each case natively and under the library, at the
 * carriers of the run (make test runs the suite at two and at one).
 */
#include "harness.h"

TestSuite(posix, .timeout = 120);

Test(posix, each_case_same)
{
	gp_compare_each_case("posix_cases", 30);
}

Test(posix, all_cases_same_fortify)
{
	gp_compare_cases("posix_cases.fortify", NULL, 0, 60);
}

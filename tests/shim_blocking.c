/*
 * Blocking calls beyond sockets and pipes (tests/progs/blocking_cases.c), natively and
 * under the shim: regular files read cold and at offsets, sendfile, splice,
 * recvmmsg/sendmmsg, opening a FIFO, pause, sigsuspend, fork from a thread with threads
 * in the child, a close while another thread reads, epoll loops on several threads.
 * Each case's output must be the same; a call that blocked every thread would hang it.
 */
#include "harness.h"

TestSuite(blocking_cases, .timeout = 120);

Test(blocking_cases, all_cases_same)
{
	gp_compare_cases("blocking_cases", NULL, 0, 60);
}

Test(blocking_cases, all_cases_same_fortify)
{
	gp_compare_cases("blocking_cases.fortify", NULL, 0, 60);
}

Test(blocking_cases, each_case_same, .timeout = 240)
{
	gp_compare_each_case("blocking_cases", 10);
}

/*
 * Natively a reader keeps a closed descriptor's file until its peer writes; under the
 * shim it is woken with EBADF as soon as the number is closed, before a new socket takes
 * the number (which the case checks is unaffected).
 */
Test(blocking_cases, close_wakes_reader_with_ebadf)
{
	struct gp_run r;

	gp_run_prog("blocking_cases", GP_ARGV("close_wakes_reader"), true, 20, NULL, &r);
	gp_assert_ok(&r);
	cr_expect(strstr(r.err, "reader ended with -1 EBADF") != NULL,
		  "the reader should end with EBADF under the shim; stderr:\n%s", r.err);
	gp_run_free(&r);
}

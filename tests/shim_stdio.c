/*
 * stdio on pipes, sockets and stdin (tests/progs/stdio_cases.c), natively and under the
 * shim: fgets, getline, getdelim, fread, getc, fscanf and fflush on data that arrives in
 * pieces from another thread, their errors (EINTR, SO_RCVTIMEO, O_NONBLOCK, sticky end of
 * file), a thread reading stdin while others run, and a thread-per-connection server on
 * fdopen/fgets/fprintf whose clients talk last-connected-first, and a line longer than a
 * pipe holds. A stdio read that blocked the carrier would hang the case; its output must
 * be the same as natively.
 */
#include "harness.h"

TestSuite(stdio_cases, .timeout = 120);

Test(stdio_cases, all_cases_same)
{
	gp_compare_cases("stdio_cases", NULL, 0, 45);
}

Test(stdio_cases, all_cases_same_fortify)
{
	gp_compare_cases("stdio_cases.fortify", NULL, 0, 45);
}

/*
 * A long line (or a large buffer's pending output) written to a slow pipe, without the
 * monitor's hand-off: only a write made green leaves the ticker ticking meanwhile.
 */
Test(stdio_cases, long_line_waits_green)
{
	gp_compare_env("stdio_cases", GP_ARGV("long_line_to_slow_pipe"),
		       GP_ARGV("GREENPATCH_HANDOFF=60s"), 45, NULL, NULL);
}

Test(stdio_cases, each_case_same, .timeout = 240)
{
	gp_compare_each_case("stdio_cases", 10);
}

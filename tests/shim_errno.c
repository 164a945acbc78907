/*
 * Corner cases of I/O, polling and sleeping (tests/progs/errno_cases.c), natively and
 * under the shim: return values, errno (EBADF, ENOTSOCK, EFAULT, ECONNREFUSED, EPIPE,
 * EAGAIN, EINPROGRESS, EINVAL, EINTR, ...), revents, descriptor flags as the program set
 * them, and blocking calls woken by another thread or interrupted by a signal.
 *
 * Every case prints one line; the whole output must be the same. Each case also runs in a
 * process of its own, so that one case that hangs or crashes under the shim does not hide
 * the others, and the failure names it.
 */
#include "harness.h"

TestSuite(errno_cases, .timeout = 120);

/* Every case printed its line natively: the comparison below covers them all. */
Test(errno_cases, native_prints_every_case)
{
	struct gp_run list, all;

	gp_run_prog("errno_cases", GP_ARGV("--list"), false, 10, NULL, &list);
	gp_run_prog("errno_cases", NULL, false, 60, NULL, &all);
	gp_assert_ok(&list);
	gp_assert_ok(&all);
	cr_expect_eq(gp_count_lines(all.out, all.out_len), gp_count_lines(list.out, list.out_len),
		     "errno_cases prints one line per case; got:\n%s", all.out);
	gp_run_free(&list);
	gp_run_free(&all);
}

Test(errno_cases, all_cases_same)
{
	gp_compare("errno_cases", NULL, 45, NULL, NULL);
}

Test(errno_cases, all_cases_same_fortify)
{
	gp_compare("errno_cases.fortify", NULL, 45, NULL, NULL);
}

/* Natively no case takes more than a fraction of a second: 5 s means stuck. */
Test(errno_cases, each_case_same, .timeout = 900)
{
	gp_compare_each_case("errno_cases", 5);
}

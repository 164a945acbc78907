/*
 * Corner cases of I/O, polling and sleeping (tests/progs/errno_cases.c), natively and
 * under the shim: return values, errno (EBADF, ENOTSOCK, EFAULT, ECONNREFUSED, EPIPE,
 * EAGAIN, EINPROGRESS, EINVAL, EINTR, ...), revents, descriptor flags as the program set
 * them, and blocking calls woken by another thread or interrupted by a signal.
 *
 * Every case prints one line; the whole output must be the same. Each case also runs in a
 * process of its own, so that one case that hangs or crashes under the shim does not hide
 * the others, and the failure names it. Cases still pending are listed below with why.
 */
#include "harness.h"

TestSuite(errno_cases, .timeout = 120);

/*
 * Cases that do not behave under the shim as natively yet, and the feature each waits
 * for. They are left out of the comparisons below, reported as skipped, and checked by
 * pending_cases_still_pending, which fails once one of them passes: then delete its line.
 */
static const struct gp_pending pending[] = {
};

GP_PENDING_REPORT(errno_cases, pending)

Test(errno_cases, pending_cases_still_pending, .timeout = 90)
{
	gp_expect_still_pending("errno_cases", pending, GP_COUNT(pending));
}

/* Every case printed its line natively: the comparisons below cover them all. */
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
	gp_compare_cases("errno_cases", pending, GP_COUNT(pending), 45);
}

Test(errno_cases, all_cases_same_fortify)
{
	gp_compare_cases("errno_cases.fortify", pending, GP_COUNT(pending), 45);
}

/*
 * Natively no case takes more than a fraction of a second: 5 s means stuck. The
 * comparison stops after a few stuck cases, which bounds the test's time.
 */
Test(errno_cases, each_case_same, .timeout = 300)
{
	gp_compare_each_case_except("errno_cases", pending, GP_COUNT(pending), 5);
}

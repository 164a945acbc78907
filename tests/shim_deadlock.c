/*
 * The deadlock report: when every green thread waits and nothing can wake them, the
 * shim names each thread, what it waits for and who holds it; GREENPATCH_DEADLOCK=abort
 * then aborts instead of hanging as the program would natively.
 */
#include <signal.h>
#include <string.h>

#include "harness.h"

TestSuite(deadlock, .timeout = 60);

static void expect_line(const struct gp_run *r, const char *needle)
{
	cr_expect(r->err && strstr(r->err, needle), "stderr lacks \"%s\":\n%s", needle,
		  r->err ? r->err : "(none)");
}

static void expect_report(const struct gp_run *r)
{
	expect_line(r, "deadlock: all 3 green threads wait");
	expect_line(r, "\"left\" waits for mutex");
	expect_line(r, "held by thread 3 \"right\"");
	expect_line(r, "\"right\" waits for mutex");
	expect_line(r, "held by thread 2 \"left\"");
	expect_line(r, "(main) \"deadlock\" waits for the end of thread 2 \"left\"");
}

Test(deadlock, abort_after_report)
{
	struct gp_run r;

	setenv("GREENPATCH_DEADLOCK", "abort", 1);
	gp_run_prog("deadlock", NULL, true, 20, NULL, &r);
	unsetenv("GREENPATCH_DEADLOCK");
	cr_expect(!r.timed_out, "GREENPATCH_DEADLOCK=abort did not end the process");
	cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
		  "expected SIGABRT, got status 0x%x", r.status);
	expect_report(&r);
	gp_run_free(&r);
}

/* By default the program hangs as natively; the report has been printed meanwhile. */
Test(deadlock, report_then_wait)
{
	struct gp_run r;

	gp_run_prog("deadlock", NULL, true, 2, NULL, &r);
	cr_expect(r.timed_out, "the deadlocked program ended (status 0x%x)", r.status);
	expect_report(&r);
	gp_run_free(&r);
}

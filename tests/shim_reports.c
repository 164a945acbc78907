/*
 * What the shim tells its user: the stack-overflow line and the statistics at exit.
 */
#include <signal.h>
#include <string.h>

#include "harness.h"

TestSuite(reports, .timeout = 60);

static void expect_in(const char *text, const char *needle, const char *what)
{
	cr_expect(text && strstr(text, needle), "%s lacks \"%s\":\n%s", what, needle,
		  text ? text : "(none)");
}

/* Both die of SIGSEGV; under the shim the thread and the remedy are named first. */
Test(reports, stack_overflow_is_named)
{
	struct gp_run n, s;

	gp_run_prog("overflow", NULL, false, 20, NULL, &n);
	gp_run_prog("overflow", NULL, true, 20, NULL, &s);
	cr_expect(WIFSIGNALED(n.status) && WTERMSIG(n.status) == SIGSEGV,
		  "natively: status 0x%x, expected SIGSEGV", n.status);
	cr_expect(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGSEGV,
		  "under the shim: status 0x%x, expected SIGSEGV", s.status);
	expect_in(s.err, "green thread 2 \"deep\" overflowed its stack of 128 KiB", "stderr");
	expect_in(s.err, "GREENPATCH_STACK_SIZE", "stderr");
	gp_run_free(&n);
	gp_run_free(&s);
}

/*
 * The same on a kernel thread that took the others over from a computation: it has an
 * alternate signal stack of its own for the report.
 */
Test(reports, stack_overflow_is_named_after_a_handoff)
{
	struct gp_run s;

	setenv("GREENPATCH_HANDOFF", "1ms", 1);
	gp_run_prog("overflow", GP_ARGV("after-handoff"), true, 20, NULL, &s);
	unsetenv("GREENPATCH_HANDOFF");
	cr_expect(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGSEGV,
		  "under the shim: status 0x%x, expected SIGSEGV; stderr:\n%s", s.status, s.err);
	expect_in(s.err, "green thread 3 \"deep\" overflowed its stack of 128 KiB", "stderr");
	gp_run_free(&s);
}

/* GREENPATCH_STATS=1: the counts describe what the program did. */
Test(reports, stats_at_exit)
{
	struct gp_run r;

	setenv("GREENPATCH_STATS", "1", 1);
	gp_run_prog("sleepers", GP_ARGV("10", "0.05"), true, 20, NULL, &r);
	unsetenv("GREENPATCH_STATS");
	gp_expect_ok(&r);
	expect_in(r.err, "stats: green threads created 11, peak alive 11", "stderr");
	expect_in(r.err, "parks by reason:", "stderr");
	expect_in(r.err, " sleep 10", "stderr");
	gp_run_free(&r);
}

/* A bad value stops the program before main, with one line naming the variable. */
Test(reports, bad_variable_stops_before_main)
{
	struct gp_run r;

	setenv("GREENPATCH_STACK_SIZE", "banana", 1);
	gp_run_prog("sleepers", GP_ARGV("2", "0.01"), true, 20, NULL, &r);
	unsetenv("GREENPATCH_STACK_SIZE");
	cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "status 0x%x", r.status);
	cr_expect_eq(r.out_len, 0, "main ran: stdout \"%s\"", r.out);
	expect_in(r.err, "greenpatch: GREENPATCH_STACK_SIZE='banana' is not a size", "stderr");
	gp_run_free(&r);
}

/* Stack size, a stack of the program's own, pthread_getattr_np: as natively. */
Test(reports, thread_attributes_same)
{
	gp_compare("thread_attrs", NULL, 20, NULL, NULL);
	gp_compare("thread_attrs.fortify", NULL, 20, NULL, NULL);
}

/* A thread in sigwait (every thread blocks the signal) while another works. */
Test(reports, sigwait_thread_same)
{
	gp_compare("sigwaiter", NULL, 20, NULL, NULL);
	gp_compare("sigwaiter.fortify", NULL, 20, NULL, NULL);
}

/* SIGALRM from alarm() interrupts main's blocking accept, read and sleep, as natively. */
Test(reports, process_signal_interrupts_main)
{
	gp_compare("alarm_eintr", NULL, 20, NULL, NULL);
	gp_compare("alarm_eintr.fortify", NULL, 20, NULL, NULL);
}

/* DNS, system, waitpid and pclose run on the offload pool while other threads work. */
Test(reports, offloaded_calls_same)
{
	gp_compare("offloaded", NULL, 30, NULL, NULL);
	gp_compare("offloaded.fortify", NULL, 30, NULL, NULL);
}

/* An accepted socket inherits SO_RCVTIMEO from a listener set up before any thread. */
Test(reports, accepted_socket_inherits_timeout)
{
	gp_compare("timeo_inherit", NULL, 20, NULL, NULL);
}

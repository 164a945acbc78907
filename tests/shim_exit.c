/*
 * How a threaded process ends (tests/progs/exit_cases.c), natively and under the shim:
 * main's pthread_exit leaves the process running until the last thread ends, then exits 0
 * with atexit handlers run and stdio flushed; exit() in a thread ends everything at once
 * with its status; returning from main does not wait for threads blocked in read or sleep;
 * _exit, abort and a fatal signal end the process as they do natively. The crowd_ modes
 * do the same while thousands of threads are parked in reads, sleeps, locks, condition
 * variables and semaphores, and in crowd_last_exit the last of them to call pthread_exit
 * ends the process.
 */
#include "harness.h"

#include <signal.h>
#include <string.h>

TestSuite(exit_cases, .timeout = 60);

struct exit_param {
	char mode[32];
	int exit_code; /* expected exit status, or -1 when killed ... */
	int signal;    /* ... by this signal */
};

ParameterizedTestParameters(exit_cases, each_mode)
{
	static struct exit_param params[] = {
		{ "main_exit", 0, 0 },
		{ "thread_exit", 3, 0 },
		{ "main_return", 7, 0 },
		{ "thread__exit", 5, 0 },
		{ "thread_abort", -1, SIGABRT },
		{ "sigterm", -1, SIGTERM },
		{ "sigterm_blocked", -1, SIGTERM },
		{ "crowd_exit", 3, 0 },
		{ "crowd__exit", 5, 0 },
		{ "crowd_abort", -1, SIGABRT },
		{ "crowd_sigterm", -1, SIGTERM },
		{ "crowd_return", 7, 0 },
		{ "crowd_last_exit", 0, 0 },
	};

	return cr_make_param_array(struct exit_param, params, sizeof(params) / sizeof(params[0]));
}

static void expect_end(const struct gp_run *r, const struct exit_param *p)
{
	if (p->exit_code >= 0) {
		gp_expect_exit(r, p->exit_code);
	} else {
		char *d = gp_describe(r);

		cr_expect(!r->timed_out && WIFSIGNALED(r->status) &&
				  WTERMSIG(r->status) == p->signal,
			  "expected death by SIG%s:\n%s", sigabbrev_np(p->signal), d);
		free(d);
	}
}

ParameterizedTest(struct exit_param *p, exit_cases, each_mode)
{
	struct gp_run n, s, f;

	gp_compare("exit_cases", GP_ARGV(p->mode), 20, &n, &s);
	expect_end(&n, p);
	expect_end(&s, p);
	/* None of these waits for the threads that stay blocked (they would block for 30 s). */
	cr_expect(s.elapsed_s < 5, "%s took %.1f s to end", s.label, s.elapsed_s);
	gp_run_prog("exit_cases.fortify", GP_ARGV(p->mode), true, 20, NULL, &f);
	gp_expect_same(&n, &f);
	gp_run_free(&n);
	gp_run_free(&s);
	gp_run_free(&f);
}

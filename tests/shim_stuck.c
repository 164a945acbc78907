/*
 * Waits the library cannot make cooperative (tests/progs/stuck_cases.c): flock and
 * F_SETLKW on a file another process holds, a raw syscall(SYS_read), io_uring_enter
 * through liburing, a computation, a spin on an atomic flag. Natively the other threads
 * go on meanwhile; under the library too, because the monitor hands the stuck carrier
 * to another kernel thread after GREENPATCH_HANDOFF (1 ms by default, which these runs
 * use). The raw read, io_uring and spin cases are ended by another thread of the
 * program: without hand-off they would never end.
 */
#include "harness.h"

#include <stdlib.h>

TestSuite(stuck, .timeout = 120);

Test(stuck, all_cases_same)
{
	gp_compare_cases("stuck_cases", NULL, 0, 60);
}

Test(stuck, all_cases_same_fortify)
{
	gp_compare_cases("stuck_cases.fortify", NULL, 0, 60);
}

Test(stuck, each_case_same)
{
	gp_compare_each_case("stuck_cases", 20);
}

/* Runs one case under the library with extra environment. */
static void run_case(const char *name, char *const *env, struct gp_run *r)
{
	struct gp_cmd cmd = { .prog = "stuck_cases", .argv = GP_ARGV((char *)name), .shim = true,
			      .timeout_s = 20, .env = env };

	gp_run(&cmd, r);
	gp_assert_ok(r);
}

static void expect_err(const struct gp_run *r, const char *text, const char *why)
{
	cr_expect(strstr(r->err, text) != NULL, "%s: stderr should say \"%s\"; it is:\n%s", why,
		  text, r->err);
}

/*
 * The stall report stays, as information (GREENPATCH_LOG=info), since the thread holds
 * nobody: it names the call the thread is stuck in and says that its carrier was handed
 * off; the statistics count the hand-off and the kernel threads.
 */
Test(stuck, handed_off_thread_is_reported)
{
	struct gp_run r;

	run_case("raw_read_pipe",
		 GP_ARGV("GREENPATCH_STALL_MS=50", "GREENPATCH_STATS=1", "GREENPATCH_LOG=info"), &r);
	expect_err(&r, "it is blocked in the system call read(", "the stall report");
	expect_err(&r, "its carrier was handed to another kernel thread", "the stall report");
	const char *h = strstr(r.err, "; hand-offs ");
	long handoffs = h ? strtol(h + strlen("; hand-offs "), NULL, 10) : 0;
	cr_expect(handoffs >= 1,
		  "the statistics should count at least one hand-off; stderr:\n%s", r.err);
	cr_expect(strstr(r.out, "raw read: 5 [hello], others ran meanwhile: yes") != NULL,
		  "the read should end with what the other thread wrote; stdout:\n%s", r.out);
	gp_run_free(&r);
}

/* With GREENPATCH_HANDOFF=0 a computation holds the others again; it is reported. */
Test(stuck, without_handoff_a_computation_holds_the_others)
{
	struct gp_run r;

	run_case("computation", GP_ARGV("GREENPATCH_HANDOFF=0", "GREENPATCH_STALL_MS=50"), &r);
	cr_expect(strstr(r.out, "computation: done, others ran meanwhile: no") != NULL,
		  "without hand-off the ticker waits for the computation; stdout:\n%s", r.out);
	expect_err(&r, "has run", "the stall report");
	expect_err(&r, "it computes without calling the library", "the stall report");
	gp_run_free(&r);
}

/* At GREENPATCH_MAX_THREADS no spare can take the carrier: the report says so. */
Test(stuck, bound_on_kernel_threads_is_reported)
{
	struct gp_run r;

	run_case("computation", GP_ARGV("GREENPATCH_MAX_THREADS=1", "GREENPATCH_STALL_MS=50"),
		 &r);
	cr_expect(strstr(r.out, "computation: done, others ran meanwhile: no") != NULL,
		  "with one kernel thread allowed the ticker waits; stdout:\n%s", r.out);
	expect_err(&r, "no kernel thread was free to take its carrier over "
		   "(GREENPATCH_MAX_THREADS)", "the stall report");
	gp_run_free(&r);
}

/* A bad value stops the program before main, naming the variable. */
Test(stuck, bad_values_are_refused)
{
	static const char *const bad[][2] = {
		{ "GREENPATCH_HANDOFF=10", "GREENPATCH_HANDOFF='10'" },
		{ "GREENPATCH_HANDOFF=20us", "GREENPATCH_HANDOFF='20us'" },
		{ "GREENPATCH_HANDOFF=1h", "GREENPATCH_HANDOFF='1h'" },
		{ "GREENPATCH_MAX_THREADS=0", "GREENPATCH_MAX_THREADS='0'" },
		{ "GREENPATCH_MAX_THREADS=lots", "GREENPATCH_MAX_THREADS='lots'" },
		{ "GREENPATCH_CARRIERS=0", "GREENPATCH_CARRIERS='0'" },
		{ "GREENPATCH_CARRIERS=1025", "GREENPATCH_CARRIERS='1025'" },
		{ "GREENPATCH_CARRIERS=two", "GREENPATCH_CARRIERS='two'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gp_run r;
		struct gp_cmd cmd = { .prog = "stuck_cases", .argv = GP_ARGV("computation"),
				      .shim = true, .timeout_s = 20,
				      .env = (char *const[]){ (char *)bad[i][0], NULL } };

		gp_run(&cmd, &r);
		cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0 && r.out_len == 0,
			  "%s should stop the program before main: %s", bad[i][0],
			  gp_describe(&r));
		expect_err(&r, bad[i][1], bad[i][0]);
		gp_run_free(&r);
	}
}

/*
 * Threads that wake each other (condition variables, a mutex, create and join), and
 * that share streams, recursive and error-checking mutexes and barriers, while they
 * or others compute in bursts and are handed off and rejoin again and again
 * (tests/progs/handoff_stress.c): the totals are the program's own, natively, with the
 * default threshold, and with the smallest one, which hands off as often as it can.
 * Lines two handed-off threads write on one stream at once come out whole. Killed by
 * the harness before the program's own alarm (120 s), so that a hang is described.
 */
#define STRESS_TIMEOUT_S 100

Test(stuck, wake_ups_across_handoffs)
{
	struct gp_run native, shim;

	gp_compare_env("handoff_stress", NULL, GP_ARGV(GP_DUMP_ON_HANG), STRESS_TIMEOUT_S, &native,
		       &shim);
	struct gp_cmd cmd = { .prog = "handoff_stress", .shim = true,
			      .timeout_s = STRESS_TIMEOUT_S,
			      .env = GP_ARGV("GREENPATCH_HANDOFF=50us", "GREENPATCH_STATS=1",
					     GP_DUMP_ON_HANG) };
	struct gp_run fast;

	gp_run(&cmd, &fast);
	gp_assert_ok(&fast);
	cr_expect(strcmp(fast.out, native.out) == 0,
		  "with GREENPATCH_HANDOFF=50us the totals differ from native:\n%s\nnative:\n%s",
		  fast.out, native.out);
	const char *h = strstr(fast.err, "; hand-offs ");
	cr_expect(h && strtol(h + strlen("; hand-offs "), NULL, 10) > 0,
		  "the bursts should have been handed off; stderr:\n%s", fast.err);
	gp_run_free(&native);
	gp_run_free(&shim);
	gp_run_free(&fast);
}

/*
 * Several carriers (GREENPATCH_CARRIERS): threads that wake each other as fast as they
 * can while kernel threads run them in parallel (tests/progs/carrier_stress.c), at two
 * carriers and at four (on a machine with fewer CPUs, four oversubscribe it, which
 * finds other races), and threads that take turns with sched_yield on four carriers
 * pinned to one CPU; the stuck calls of tests/progs/stuck_cases.c at one carrier and at
 * two, where a ticker must keep ticking. Every case prints counts that do not depend on
 * timing: the same natively and green. Bad values are refused with the others of hand-off
 * (tests/shim_stuck.c). A program built without PIE that takes malloc's address
 * (tests/progs/nopie_malloc.c, as Debian's python3) still has the C library's malloc, and
 * gets the carriers it asks for.
 */
#include <sched.h>

#include "harness.h"

TestSuite(carriers, .timeout = 240);

/*
 * A stress run takes about 6 s natively and 7 s green. Under the ASan build, ASan asks
 * for its thread's record at every switch (shim/tsd.c, from_sanitizer) and every green
 * thread's creation poisons and unpoisons its stack: 100,000 create/join alone take
 * about 30 s on a 2-CPU machine, and the whole run over a minute beside other tests.
 */
static double stress_timeout_s(void)
{
	return gp_asan_preloaded() ? 180 : 60;
}

/* The environment of the stress run at n carriers; the program's own alarm
 * (tests/progs/progs.h) after the harness's bound, which describes a hang first. */
#define STRESS_ENV(n)                                                                    \
	(gp_asan_preloaded()                                                             \
		 ? GP_ARGV("GREENPATCH_CARRIERS=" #n, "GP_PROG_ALARM_S=200", GP_DUMP_ON_HANG) \
		 : GP_ARGV("GREENPATCH_CARRIERS=" #n, "GP_PROG_ALARM_S=75", GP_DUMP_ON_HANG))

Test(carriers, stress_at_two)
{
	gp_compare_cases_env("carrier_stress", NULL, 0, STRESS_ENV(2),
			     stress_timeout_s());
}

Test(carriers, stress_at_four)
{
	gp_compare_cases_env("carrier_stress", NULL, 0, STRESS_ENV(4),
			     stress_timeout_s());
}

Test(carriers, stress_at_four_fortify)
{
	gp_compare_cases_env("carrier_stress.fortify", NULL, 0, STRESS_ENV(4),
			     stress_timeout_s());
}

Test(carriers, stuck_at_one)
{
	gp_compare_cases_env("stuck_cases", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=1"), 60);
}

Test(carriers, stuck_at_two)
{
	gp_compare_cases_env("stuck_cases", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=2"), 60);
}

/*
 * More carriers than CPUs: two threads that take turns with sched_yield (condvar's yield
 * case) on four carriers that share one CPU. A carrier that finds no other green thread
 * to run must give the CPU to the kernel, as sched_yield does natively; otherwise each
 * turn waits for the kernel to preempt the spinning carrier, and the 2,000 turns that
 * take 0.02 s natively outlast the bound of 10 s.
 */
Test(carriers, yield_with_more_carriers_than_cpus)
{
	cpu_set_t allowed, one;
	cr_assert(sched_getaffinity(0, sizeof(allowed), &allowed) == 0, "sched_getaffinity: %m");
	CPU_ZERO(&one);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &allowed)) {
			CPU_SET(cpu, &one);
			break;
		}
	/* This test's process only (each test is a process of its own); children inherit it. */
	cr_assert(sched_setaffinity(0, sizeof(one), &one) == 0, "sched_setaffinity: %m");
	/* Three times: unfixed, a run took 9 to 12 s, so one alone passed now and then. */
	for (int run = 0; run < 3; run++)
		gp_compare_env("condvar", GP_ARGV("yield"), GP_ARGV("GREENPATCH_CARRIERS=4"), 10,
			       NULL, NULL);
}

/*
 * The number after "sleep" in the statistics' parks by reason, or -1 if none.
 */
static long sleep_parks(const char *err)
{
	const char *line = strstr(err, "parks by reason:");
	const char *end = line ? strchr(line, '\n') : NULL;
	const char *at = line ? strstr(line, " sleep ") : NULL;
	return at && (!end || at < end) ? strtol(at + 7, NULL, 10) : -1;
}

/*
 * Threads that left a signal handler with siglongjmp, then computed until handed off,
 * rejoin at their next call: their 10 sleeps each park (stuck_cases'
 * sleep_after_handler_jump). A thread taken to be still in its handler would keep a
 * kernel thread of its own instead, and its sleeps would park nobody.
 */
Test(carriers, rejoin_after_handler_jump)
{
	struct gp_cmd cmd = { .prog = "stuck_cases", .argv = GP_ARGV("sleep_after_handler_jump"),
			      .shim = true, .timeout_s = 60,
			      .env = GP_ARGV("GREENPATCH_CARRIERS=1", "GREENPATCH_STATS=1") };
	struct gp_run r;

	gp_compare_env("stuck_cases", GP_ARGV("sleep_after_handler_jump"),
		       GP_ARGV("GREENPATCH_CARRIERS=1"), 60, NULL, NULL);
	gp_run(&cmd, &r);
	gp_assert_ok(&r);
	long parks = sleep_parks(r.err);
	cr_expect(parks >= 4 * 10,
		  "the 4 threads' 40 sleeps should park them, after their hand-off: "
		  "sleep parks %ld; stderr:\n%s", parks, r.err);
	gp_run_free(&r);
}

/*
 * Threads whose handlers compute until handed off there, then return, siglongjmp to a
 * buffer that saved the mask, or block a signal and longjmp to one that saved none
 * (stuck_cases' masks_after_handler_handoff): the mask after is the one the return or
 * the jump restores, or the handler's, as natively. Such a thread cannot take
 * its own mask in the handler, which must end on its kernel thread: it takes it at its
 * rejoin. The runs must have handed off, or they would prove nothing.
 */
Test(carriers, mask_after_handoff_in_handler)
{
	struct gp_cmd cmd = { .prog = "stuck_cases",
			      .argv = GP_ARGV("masks_after_handler_handoff"), .shim = true,
			      .timeout_s = 60,
			      .env = GP_ARGV("GREENPATCH_CARRIERS=1", "GREENPATCH_STATS=1") };
	struct gp_run r;

	gp_compare_env("stuck_cases", GP_ARGV("masks_after_handler_handoff"),
		       GP_ARGV("GREENPATCH_CARRIERS=1"), 60, NULL, NULL);
	gp_run(&cmd, &r);
	gp_assert_ok(&r);
	const char *h = strstr(r.err, "; hand-offs ");
	long handoffs = h ? strtol(h + strlen("; hand-offs "), NULL, 10) : -1;
	cr_expect(handoffs >= 4,
		  "the 4 threads' handlers compute 30 ms each, three times, and should be handed "
		  "off: hand-offs %ld; stderr:\n%s", handoffs, r.err);
	cr_expect(strstr(r.out, "restored at return 4 of 4, by the jump 4 of 4, the handler's "
				"kept by a plain jump 4 of 4") != NULL,
		  "every thread should end each handler with the mask it ends with natively; "
		  "stdout:\n%s", r.out);
	gp_run_free(&r);
	/* Until it rejoins, the mask a handed-off thread took is the one a signal sent to
	 * it meets (and a handler that began there restores its own at its return). */
	gp_compare_env("stuck_cases", GP_ARGV("signal_after_handler_handoff"),
		       GP_ARGV("GREENPATCH_CARRIERS=1"), 60, NULL, NULL);
}

/* Under the ASan build, ASan's malloc is preloaded with the library: one carrier then. */
Test(carriers, nopie_program_taking_malloc_address)
{
	const char *progs[] = { "nopie_malloc", "nopie_malloc.fortify" };
	bool asan = gp_asan_preloaded();

	for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) {
		gp_compare_env(progs[i], NULL, GP_ARGV("GREENPATCH_CARRIERS=2"), 60, NULL, NULL);
		struct gp_cmd cmd = { .prog = progs[i], .shim = true, .timeout_s = 60,
				      .env = GP_ARGV("GREENPATCH_CARRIERS=2", "GREENPATCH_STATS=1") };
		struct gp_run r;

		gp_run(&cmd, &r);
		gp_assert_ok(&r);
		if (asan)
			cr_expect(strstr(r.err, "one carrier, since the program's malloc") != NULL,
				  "%s: with ASan's malloc it should run on one carrier, and say so; "
				  "stderr:\n%s", progs[i], r.err);
		else
			cr_expect(strstr(r.err, "; carriers 2;") != NULL &&
					  !strstr(r.err, "one carrier"),
				  "%s: its malloc is the C library's, and it should run on two "
				  "carriers; stderr:\n%s", progs[i], r.err);
		gp_run_free(&r);
	}
}

/*
 * Several carriers (GREENPATCH_CARRIERS): threads that wake each other as fast as they
 * can while kernel threads run them in parallel (tests/progs/carrier_stress.c), at two
 * carriers and at four (on a machine with fewer CPUs, four oversubscribe it, which
 * finds other races); the stuck calls of tests/progs/stuck_cases.c at one carrier and at
 * two, where a ticker must keep ticking. Every case prints counts that do not depend on
 * timing: the same natively and green.
 */
#include "harness.h"

TestSuite(carriers, .timeout = 240);

Test(carriers, stress_at_two)
{
	gp_compare_cases_env("carrier_stress", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=2"), 60);
}

Test(carriers, stress_at_four)
{
	gp_compare_cases_env("carrier_stress", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=4"), 60);
}

Test(carriers, stress_at_four_fortify)
{
	gp_compare_cases_env("carrier_stress.fortify", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=4"),
			     60);
}

Test(carriers, stuck_at_one)
{
	gp_compare_cases_env("stuck_cases", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=1"), 60);
}

Test(carriers, stuck_at_two)
{
	gp_compare_cases_env("stuck_cases", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=2"), 60);
}

/* A carrier count it cannot have is refused before main, naming the variable. */
Test(carriers, bad_values_are_refused)
{
	static const char *const bad[][2] = {
		{ "GREENPATCH_CARRIERS=0", "GREENPATCH_CARRIERS='0'" },
		{ "GREENPATCH_CARRIERS=1025", "GREENPATCH_CARRIERS='1025'" },
		{ "GREENPATCH_CARRIERS=two", "GREENPATCH_CARRIERS='two'" },
		{ "GREENPATCH_CARRIERS=-1", "GREENPATCH_CARRIERS='-1'" },
	};

	for (size_t i = 0; i < GP_COUNT(bad); i++) {
		struct gp_run r;
		struct gp_cmd cmd = { .prog = "carrier_stress", .argv = GP_ARGV("spin_flag"),
				      .shim = true, .timeout_s = 20,
				      .env = (char *const[]){ (char *)bad[i][0], NULL } };

		gp_run(&cmd, &r);
		cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0 && r.out_len == 0,
			  "%s should stop the program before main: %s", bad[i][0],
			  gp_describe(&r));
		cr_expect(strstr(r.err, bad[i][1]) != NULL, "%s: stderr should name it as %s:\n%s",
			  bad[i][0], bad[i][1], r.err);
		gp_run_free(&r);
	}
}

/*
 * Several carriers (GREENPATCH_CARRIERS): threads that wake each other as fast as they
 * can while kernel threads run them in parallel (tests/progs/carrier_stress.c), at two
 * carriers and at four (on a machine with fewer CPUs, four oversubscribe it, which
 * finds other races); the stuck calls of tests/progs/stuck_cases.c at one carrier and at
 * two, where a ticker must keep ticking. Every case prints counts that do not depend on
 * timing: the same natively and green. Bad values are refused with the others of hand-off
 * (tests/shim_stuck.c).
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

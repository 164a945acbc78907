/*
 * The threading walk. tests/progs/thread_walk SEED STEPS makes a seeded random walk
 * through the pthread API (mutexes of every kind, condition variables, rwlocks,
 * semaphores, barriers, once, keys, spinlocks, cancellation, join and detach, signals to
 * threads) and prints one line per step with what each call returned, every line
 * determined by the seed. Each seed runs natively and under the library, and the two
 * must print the same and end the same way; a difference fails with the seed, the
 * number of steps and the first line that differs.
 *
 * GP_FUZZ_THREAD_SEEDS (default 40) walks of GP_FUZZ_THREAD_STEPS steps (default 2000)
 * from seed GP_FUZZ_THREAD_SEED (default 1; make fuzz-threads takes it from the clock)
 * on; GP_FUZZ_THREAD_CASE=SEED runs that walk alone, as a failure names it.
 *
 * Families of calls that do not behave as natively yet are pending: left out of the
 * walks, reported as skipped with why, and walked once more by a test that fails as soon
 * as they agree, so that the table cannot silently go stale.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"

/* No timeout of its own: a long run takes as long as it needs; each walk has one. */
TestSuite(thread_fuzz);

#define DEFAULT_SEEDS 40      /* make test; make fuzz-threads walks more */
#define DEFAULT_STEPS 2000
#define RUN_TIMEOUT_S 60.0
#define MAX_FAILURES 5	      /* a broken library fails in seconds, not after every walk */

static unsigned long long env_ull(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* Families of the walk that differ still, and why: none at present. */
static const struct gp_pending pending[] = {
};

GP_PENDING_REPORT(thread_fuzz, pending)

/* Every family of tests/progs/thread_walk that is not pending. */
#define WALKED "mutex,cond,rwlock,sem,spin,barrier,once,key,signal,cancel,join,exit"

/* Runs one walk natively and under the library; true when they agree. */
static bool walk_same_of(unsigned long long seed, unsigned long long steps,
			 const char *families, bool report)
{
	char seed_s[32], steps_s[32], fam[128];
	struct gp_run n, s;

	snprintf(seed_s, sizeof(seed_s), "%llu", seed);
	snprintf(steps_s, sizeof(steps_s), "%llu", steps);
	snprintf(fam, sizeof(fam), "%s", families);
	/*
	 * In the ASan build the native walk carries ASan's runtime as the library's does:
	 * the runtime takes a pthread key of its own, and a walk that creates keys until
	 * EAGAIN would otherwise get one fewer under the library than natively.
	 */
	const char *asan = gp_asan_runtime();
	char *asan_preload = asan ? gp_asprintf("LD_PRELOAD=%s", asan) : NULL;
	char *const native_env[] = { asan_preload, NULL };
	struct gp_cmd native = { .prog = "thread_walk", .argv = GP_ARGV(seed_s, steps_s, fam),
				 .timeout_s = RUN_TIMEOUT_S, .env = native_env };
	gp_run(&native, &n);
	free(asan_preload);
	char *bad = gp_check_ok(&n, 0);
	if (bad) {
		cr_expect_fail("walk %llu (%llu steps) fails natively: %s", seed, steps, bad);
		free(bad);
		gp_run_free(&n);
		return false;
	}
	gp_run_prog("thread_walk", GP_ARGV(seed_s, steps_s, fam), true, RUN_TIMEOUT_S, NULL,
		    &s);
	char *diff = gp_diff_runs(&n, &s);
	if (diff && report)
		cr_expect_fail("walk %llu (%llu steps) differs under the library (carriers %d); "
			       "again alone: GP_FUZZ_THREAD_CASE=%llu GP_FUZZ_THREAD_STEPS=%llu\n%s",
			       seed, steps, gp_carriers(), seed, steps, diff);
	free(diff);
	gp_run_free(&n);
	gp_run_free(&s);
	return diff == NULL;
}

static bool walk_same(unsigned long long seed, unsigned long long steps)
{
	return walk_same_of(seed, steps, WALKED, true);
}

Test(thread_fuzz, random)
{
	unsigned long long steps = env_ull("GP_FUZZ_THREAD_STEPS", DEFAULT_STEPS);
	const char *one = getenv("GP_FUZZ_THREAD_CASE");

	if (one && *one) {
		walk_same(strtoull(one, NULL, 0), steps);
		return;
	}
	unsigned long long first = env_ull("GP_FUZZ_THREAD_SEED", 1);
	unsigned long long seeds = env_ull("GP_FUZZ_THREAD_SEEDS", DEFAULT_SEEDS);
	unsigned failures = 0, done = 0;

	for (unsigned long long i = 0; i < seeds && failures < MAX_FAILURES; i++, done++)
		failures += !walk_same(first + i, steps);
	cr_log_info("thread walks: seeds %llu to %llu, %llu steps each, %u of %u differed",
		    first, first + done - 1, steps, failures, done);
}

/* Walks that differed with each pending family added: one of them must differ still. */
Test(thread_fuzz, pending_families_still_pending, .timeout = 120)
{
	size_t n = GP_COUNT(pending);

	if (n == 0)
		cr_skip_test("no family of thread_walk is pending");
	for (size_t i = 0; i < n; i++) {
		char fam[128];
		bool differs = false;

		snprintf(fam, sizeof(fam), "%s,%s", WALKED, pending[i].name);
		for (unsigned long long seed = 1; seed <= 30 && !differs; seed++)
			differs = !walk_same_of(seed, DEFAULT_STEPS, fam, false);
		gp_expect_still_differs(pending[i].name, differs);
	}
}

/* The walk itself must be determined by its seed, or a difference would mean nothing. */
Test(thread_fuzz, native_deterministic, .timeout = 120)
{
	for (int seed = 1; seed <= 3; seed++) {
		char seed_s[16];
		struct gp_run a, b;

		snprintf(seed_s, sizeof(seed_s), "%d", seed);
		gp_run_prog("thread_walk", GP_ARGV(seed_s, "2000"), false, RUN_TIMEOUT_S, NULL, &a);
		gp_run_prog("thread_walk", GP_ARGV(seed_s, "2000"), false, RUN_TIMEOUT_S, NULL, &b);
		gp_expect_ok(&a);
		gp_expect_same(&a, &b);
		gp_run_free(&a);
		gp_run_free(&b);
	}
}

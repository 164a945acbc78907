/*
 * The differential I/O fuzzer. tests/progs/io_walk makes a seeded random walk of the
 * interposed I/O calls, one line per step, whose output depends on the seed alone; here
 * each walk runs natively and under the library, and the two outputs must be the same
 * line for line. A failure names the seed and shows the first line that differs, and
 * `io_walk SEED CALLS` runs it again by hand.
 *
 * GP_FUZZ_SEEDS walks (default 4, and as many with the _FORTIFY_SOURCE build) of
 * GP_FUZZ_CALLS steps each (default 1000), from seed GP_FUZZ_SEED (default 1): make test
 * runs the defaults, make fuzz more.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* No timeout of its own: make fuzz runs as long as it needs; each walk has one. */
TestSuite(io_fuzz);

#define DEFAULT_SEEDS 4
#define DEFAULT_CALLS 1000
#define WALK_TIMEOUT_S 30.0 /* natively a walk of 1000 steps takes a few seconds */
/* A pending seed's walk under the library: one that hangs is cut short (it still differs). */
#define PENDING_TIMEOUT_S 8.0
#define MAX_FAILURES 5	    /* a broken library fails in seconds, not after every seed */

static long knob(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : dflt;
}

/*
 * Seeds whose walk of DEFAULT_CALLS steps still differs under the library, with the call
 * that differs first and why. They are left out of the walks below, reported as
 * skipped, and checked by pending_seeds_still_differ, which fails once one of them
 * walks the same: then delete its line.
 */
static const struct gp_pending pending[] = {
};

GP_PENDING_REPORT(io_fuzz, pending)

/*
 * The first difference of a walk under the library, as a message (to free), or NULL;
 * the run under the library lasts shim_timeout_s at most.
 */
static char *walk_diff(const char *prog, long seed, long calls, double shim_timeout_s)
{
	char s[32], c[32];
	struct gp_run native, shim;

	snprintf(s, sizeof(s), "%ld", seed);
	snprintf(c, sizeof(c), "%ld", calls);
	gp_run_prog(prog, GP_ARGV(s, c), false, WALK_TIMEOUT_S, NULL, &native);
	gp_run_prog(prog, GP_ARGV(s, c), true, shim_timeout_s, NULL, &shim);
	char *bad = gp_check_ok(&native, 0);

	if (!bad)
		bad = gp_diff_runs(&native, &shim);
	gp_run_free(&native);
	gp_run_free(&shim);
	return bad;
}

/* Whether a walk is the same under the library; fails the test naming it when not. */
static bool walk_same(const char *prog, long seed, long calls)
{
	char *bad = walk_diff(prog, seed, calls, WALK_TIMEOUT_S);

	cr_expect(bad == NULL, "%s seed %ld (run again: %s %ld %ld):\n%s", prog, seed, prog, seed,
		  calls, bad ? bad : "");
	free(bad);
	return bad == NULL;
}

static bool seed_pending(long seed)
{
	char name[32];

	snprintf(name, sizeof(name), "%ld", seed);
	return gp_pending_find(pending, GP_COUNT(pending), name) != NULL;
}

static void walks(const char *prog)
{
	/* ASan's interceptors (poll, accept...) read the walk's bad pointers themselves. */
	if (gp_asan_preloaded())
		cr_skip_test("%s: ASan's own interceptors fault on the walk's unmapped "
			     "arguments before the library sees them", prog);
	long seeds = knob("GP_FUZZ_SEEDS", DEFAULT_SEEDS);
	long calls = knob("GP_FUZZ_CALLS", DEFAULT_CALLS);
	long first = knob("GP_FUZZ_SEED", 1);
	int failures = 0;

	cr_log_info("%s: %ld walks of %ld calls from seed %ld", prog, seeds, calls, first);
	for (long seed = first; seed < first + seeds && failures < MAX_FAILURES; seed++)
		if (calls != DEFAULT_CALLS || !seed_pending(seed))
			failures += !walk_same(prog, seed, calls);
}

Test(io_fuzz, pending_seeds_still_differ)
{
	size_t n = GP_COUNT(pending);

	if (n == 0)
		cr_skip_test("no seed of io_walk is pending");
	for (size_t i = 0; i < n; i++) {
		char *bad = walk_diff("io_walk", strtol(pending[i].name, NULL, 10), DEFAULT_CALLS,
				      PENDING_TIMEOUT_S);

		gp_expect_still_differs(pending[i].name, bad != NULL);
		free(bad);
	}
}

/*
 * Walks that once differed where no errno case can show it: the difference depended on
 * timing the library added. Each is walked far enough to pass its step.
 */
static const struct {
	long seed, calls;
	const char *what;
} regressions[] = {
	{ 91, 310, "step 306: sendmmsg on a non-blocking TCP socket is one call; one call a "
		   "message let the second find room the first had filled, freed meanwhile" },
};

Test(io_fuzz, regression_walks_same)
{
	if (gp_asan_preloaded())
		cr_skip_test("ASan's own interceptors fault on the walk's unmapped arguments");
	for (size_t i = 0; i < GP_COUNT(regressions); i++)
		if (!walk_same("io_walk", regressions[i].seed, regressions[i].calls))
			cr_log_error("seed %ld: %s", regressions[i].seed, regressions[i].what);
}

Test(io_fuzz, walks_same)
{
	walks("io_walk");
}

Test(io_fuzz, walks_same_fortify)
{
	walks("io_walk.fortify");
}

/* The walk depends on its seed alone: two native runs print the same. */
Test(io_fuzz, walk_is_deterministic)
{
	struct gp_run a, b;

	gp_run_prog("io_walk", GP_ARGV("2", "1000"), false, WALK_TIMEOUT_S, NULL, &a);
	gp_run_prog("io_walk", GP_ARGV("2", "1000"), false, WALK_TIMEOUT_S, NULL, &b);
	gp_expect_ok(&a);
	gp_expect_same(&a, &b);
	cr_expect(gp_count_lines(a.out, a.out_len) > 500, "io_walk 2 1000 printed:\n%s", a.out);
	gp_run_free(&a);
	gp_run_free(&b);
}

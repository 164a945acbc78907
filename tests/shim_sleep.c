/*
 * Sleeping threads (tests/progs/sleepers.c) natively and under the shim.
 *
 * What these prove: every sleep call gives the same result under the shim (none returns
 * early: the program checks that itself); the threads are green (the process has one
 * kernel thread while they sleep); and they sleep concurrently, not one after the other
 * (1,000 threads sleeping half a second each finish in a few seconds, where sleeping in
 * turn would take 500 s). The last is a bound far from the expected time, not a speed test.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/*
 * The runtime carries every green thread on its carriers (GREENPATCH_CARRIERS kernel
 * threads, main's among them), so "Threads:" should read their number. Three more are
 * accepted: the monitor, its reader of /proc (core/procread.h) once it has looked at a
 * carrier that seemed stuck (a busy machine), and a small offload pool of kernel threads
 * for calls that cannot be made non-blocking; what matters here is that 1,000 sleeping
 * threads do not need 1,000 kernel threads.
 */
#define MAX_KERNEL_THREADS (3 + gp_carriers())

/* The "Threads:" value the program copied to stderr, or fail. */
static long kernel_threads(const struct gp_run *r)
{
	long n = -1;

	cr_assert(gp_kv_long(r->err, "Threads:", &n), "%s printed no \"Threads:\" line:\n%s",
		  r->label, r->err);
	return n;
}

static void expect_green(const struct gp_run *r)
{
	long n = kernel_threads(r);

	cr_expect(n <= MAX_KERNEL_THREADS,
		  "%s: %ld kernel threads while its threads slept: they are not green "
		  "(expected 1, at most %d)",
		  r->label, n, MAX_KERNEL_THREADS);
}

TestSuite(sleepers, .timeout = 120);

Test(sleepers, mix_same_output)
{
	struct gp_run n, s;

	gp_compare("sleepers", GP_ARGV("20", "0.2"), 30, &n, &s);
	gp_expect_ok(&n);
	cr_expect_str_eq(n.out, "slept 20\n");
	gp_run_free(&n);
	gp_run_free(&s);
}

Test(sleepers, mix_same_output_fortify)
{
	gp_compare("sleepers.fortify", GP_ARGV("20", "0.2"), 30, NULL, NULL);
}

/*
 * The probe itself works: natively, 50 sleeping threads are 51 kernel threads. They sleep
 * a whole second so that none has ended yet when main looks, even on a loaded machine.
 */
Test(sleepers, native_threads_are_kernel_threads)
{
	struct gp_run r;

	gp_run_prog("sleepers", GP_ARGV("50", "1"), false, 30, NULL, &r);
	gp_assert_ok(&r);
	cr_expect_eq(kernel_threads(&r), 51,
		     "natively, 50 sleepers + main should be 51 threads:\n%s", r.err);
	gp_run_free(&r);
}

Test(sleepers, shim_threads_are_green)
{
	struct gp_run r;

	gp_run_prog("sleepers", GP_ARGV("50", "0.3"), true, 30, NULL, &r);
	gp_assert_ok(&r);
	expect_green(&r);
	gp_run_free(&r);
}

static void thousand_sleepers(const char *prog)
{
	struct gp_run r;

	gp_run_prog(prog, GP_ARGV("1000", "0.5"), true, 60, NULL, &r);
	gp_assert_ok(&r);
	cr_expect_str_eq(r.out, "slept 1000\n");
	expect_green(&r);
	cr_expect(r.elapsed_s < 10.0,
		  "%s took %.1f s: 1,000 threads sleeping 0.5 s should overlap (in turn: 500 s)",
		  r.label, r.elapsed_s);
	gp_run_free(&r);
}

Test(sleepers, thousand_sleep_concurrently)
{
	thousand_sleepers("sleepers");
}

Test(sleepers, thousand_sleep_concurrently_fortify)
{
	thousand_sleepers("sleepers.fortify");
}

/* The same under the shim, with a single sleep call for all threads. */
struct method_param {
	char name[32];
	char secs[8]; /* sleep() needs a second or more to be called at all */
};

static struct method_param methods[] = {
	{ "nanosleep", "0.3" },
	{ "usleep", "0.3" },
	{ "sleep", "1.1" },
	{ "clock_rel", "0.3" },
	{ "clock_abs", "0.3" },
	{ "clock_realtime_abs", "0.3" },
	{ "select", "0.3" },
	{ "poll", "0.3" },
	{ "thrd_sleep", "0.3" },
};

/*
 * Methods that do not behave under the shim as natively yet, and the feature each waits
 * for. each_method skips them, saying why; pending_cases_still_pending fails once one of
 * them passes: then delete its line.
 */
static const struct gp_pending pending[] = {
};

/*
 * NULL when 100 threads sleeping with method p under the shim print and end as natively,
 * on one kernel thread, at the same time; otherwise what went wrong (to free).
 */
static char *method_problem(struct method_param *p, double timeout_s)
{
	struct gp_run n, s;
	double secs = strtod(p->secs, NULL);
	char *msg;

	gp_run_prog("sleepers", GP_ARGV("100", p->secs, p->name), false, timeout_s, NULL, &n);
	gp_run_prog("sleepers", GP_ARGV("100", p->secs, p->name), true, timeout_s, NULL, &s);
	msg = gp_check_ok(&n, 0);
	if (!msg)
		msg = gp_diff_runs(&n, &s);
	if (!msg && kernel_threads(&s) > MAX_KERNEL_THREADS)
		msg = gp_asprintf("%s: %ld kernel threads while its threads slept: not green",
				  s.label, kernel_threads(&s));
	/* 100 threads in turn would take 100 * secs. */
	if (!msg && s.elapsed_s >= 10 * secs + 3)
		msg = gp_asprintf("%s took %.1f s: 100 threads sleeping %.1f s did not overlap",
				  s.label, s.elapsed_s, secs);
	gp_run_free(&n);
	gp_run_free(&s);
	return msg;
}

ParameterizedTestParameters(sleepers, each_method)
{
	return cr_make_param_array(struct method_param, methods, GP_COUNT(methods));
}

ParameterizedTest(struct method_param *p, sleepers, each_method)
{
	const struct gp_pending *pend = gp_pending_find(pending, GP_COUNT(pending), p->name);

	if (pend)
		gp_skip_pending(pend);
	gp_expect_msg_(method_problem(p, 60));
}

static struct method_param *find_method(const char *name)
{
	for (size_t i = 0; i < GP_COUNT(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* n as a parameter: a loop bound of GP_COUNT(pending) may be a constant 0. */
static void expect_methods_still_pending(const struct gp_pending *pend, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct method_param *m = find_method(pend[i].name);
		char *problem;

		if (!m) {
			cr_expect_fail("pending method %s is not one of each_method's", pend[i].name);
			continue;
		}
		problem = method_problem(m, GP_PENDING_TIMEOUT_S);
		gp_expect_still_differs(m->name, problem != NULL);
		free(problem);
	}
}

Test(sleepers, pending_cases_still_pending, .timeout = 90)
{
	expect_methods_still_pending(pending, GP_COUNT(pending));
}

/*
 * Thread runtimes other than raw pthreads, natively and under the shim: C11 <threads.h>
 * (tests/progs/c11_threads.c), the C++ standard thread library (cxx_threads.cc), objects
 * shared with a kernel thread the shim does not manage (kernel_wake.c), and CPython's
 * threading modules (threads.py).
 *
 * What these prove: each program prints the same and exits the same natively and under
 * the shim, the C ones in both builds, and the C and C++ ones also case by case (a case
 * that differs is named, and one that hangs does not hide the others); and the work was
 * green: while 100 or 200 threads exist the process has a handful of kernel threads under
 * the shim, against one per thread natively, and their sleeps overlap. Overlap bounds are
 * far from the expected times, not speed tests: they only tell "at once" from "in turn".
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(runtimes, .timeout = 240);

/* Each case of a program, natively and under the shim, killed after this long. */
#define CASE_TIMEOUT_S 20

/*
 * Under the shim every green thread rides the carrier; the offload pool (4 kernel threads
 * by default) may add a few. One to spare: "a handful", against one per thread natively.
 */
#define MAX_KERNEL_THREADS (5 + gp_carriers())
#define MIN_NATIVE_THREADS 100

/* A "KEY value" line the program wrote to stderr, as a number; fails the test if absent. */
static double stderr_value(const struct gp_run *r, const char *key)
{
	char val[64];

	cr_assert(gp_kv(r->err, key, val, sizeof(val)), "%s printed no \"%s\" line:\n%s",
		  r->label, key, r->err);
	return strtod(val, NULL);
}

static void expect_kernel_threads_green(const struct gp_run *r, const char *key)
{
	double n = stderr_value(r, key);

	cr_expect(n <= MAX_KERNEL_THREADS,
		  "%s: %s %.0f while its threads existed: they are not green (expected at most "
		  "%d kernel threads)",
		  r->label, key, n, MAX_KERNEL_THREADS);
}

/*
 * Natively each thread is a kernel thread: the probe sees them, so its low count under the
 * shim means something.
 */
static void expect_kernel_threads_native(const struct gp_run *r, const char *key)
{
	double n = stderr_value(r, key);

	cr_expect(n >= MIN_NATIVE_THREADS,
		  "%s: %s %.0f: natively its threads should each be a kernel thread (at least %d)",
		  r->label, key, n, MIN_NATIVE_THREADS);
}

static void expect_overlap(const struct gp_run *r, const char *key, double max_s,
			   double in_turn_s)
{
	double s = stderr_value(r, key);

	cr_expect(s < max_s, "%s: %s %.2f s: the sleeps did not overlap (bound %.0f s; in turn "
		  "they take %.0f s)",
		  r->label, key, s, max_s, in_turn_s);
}

static bool exited_ok(const struct gp_run *r)
{
	return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/*
 * Runs one case natively and under the shim, expects the same output, and checks the
 * thread count and the overlap each run reported on stderr.
 */
static void compare_green_case(const char *prog, char *const argv[], const char *threads_key,
			       const char *elapsed_key, double max_s, double in_turn_s)
{
	struct gp_run n, s;

	gp_compare(prog, argv, 60, &n, &s);
	gp_expect_ok(&n);
	if (exited_ok(&n))
		expect_kernel_threads_native(&n, threads_key);
	if (exited_ok(&s)) {
		expect_kernel_threads_green(&s, threads_key);
		expect_overlap(&s, elapsed_key, max_s, in_turn_s);
	}
	gp_run_free(&n);
	gp_run_free(&s);
}

/*
 * The whole program natively and under the shim: same output, same status, and natively
 * every case passes (a case that fails natively would differ for the wrong reason).
 */
static void compare_whole(const char *prog, double timeout_s)
{
	struct gp_run n;

	gp_compare(prog, NULL, timeout_s, &n, NULL);
	gp_expect_ok(&n);
	gp_run_free(&n);
}

/* ---- C11 <threads.h> ------------------------------------------------------------------ */

Test(runtimes, c11_threads_same)
{
	compare_whole("c11_threads", 60);
}

Test(runtimes, c11_threads_same_fortify)
{
	compare_whole("c11_threads.fortify", 60);
}

Test(runtimes, c11_threads_each_case)
{
	gp_compare_each_case("c11_threads", CASE_TIMEOUT_S);
}

/* 100 threads in thrd_sleep(0.3 s): 30 s in turn. */
Test(runtimes, c11_thrd_sleep_overlaps_green)
{
	compare_green_case("c11_threads", GP_ARGV("sleep"), "Threads:", "sleep_elapsed:", 6.0,
			      30.0);
}

/* ---- C++ standard library threads -------------------------------------------------------- */

Test(runtimes, cxx_threads_same)
{
	compare_whole("cxx_threads", 30);
}

Test(runtimes, cxx_threads_each_case)
{
	gp_compare_each_case("cxx_threads", CASE_TIMEOUT_S);
}

/* 100 std::threads in sleep_for(200 ms): 20 s in turn. */
Test(runtimes, cxx_threads_green)
{
	compare_green_case("cxx_threads", GP_ARGV("threads"), "Threads:", "sleep_elapsed:", 5.0,
			      20.0);
}

/* ---- objects shared with a kernel thread ------------------------------------------------- */

/*
 * Natively the whole program takes about 4 s, its two handoff cases most of it; under
 * the shim on a loaded machine, up to a minute (see kernel_wake_each_case).
 */
Test(runtimes, kernel_wake_same)
{
	compare_whole("kernel_wake", 120);
}

Test(runtimes, kernel_wake_same_fortify)
{
	compare_whole("kernel_wake.fortify", 120);
}

/*
 * Each handoff case makes 100,000 wake-ups across kernel threads: about 1.5 s natively,
 * and up to 20 s under the shim on a loaded two-core machine, where every wake-up
 * waits for the carrier to be scheduled.
 */
Test(runtimes, kernel_wake_each_case, .timeout = 300)
{
	gp_compare_each_case("kernel_wake", 60);
}

/* ---- CPython threading ---------------------------------------------------------------- */

/* The first executable python3 on PATH, or NULL. */
static char *python_on_path(void)
{
	const char *path = getenv("PATH");
	char *dirs = strdup(path ? path : "/usr/bin:/bin"), *save = NULL, *found = NULL;

	cr_assert(dirs != NULL, "out of memory");
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *candidate = gp_asprintf("%s/python3", *d ? d : ".");

		if (access(candidate, X_OK) == 0)
			found = candidate;
		else
			free(candidate);
	}
	free(dirs);
	return found;
}

/*
 * The interpreter itself: a python3 on PATH may be a wrapper script (pyenv, a virtualenv
 * launcher) that the shim would then be preloaded into as well; sys.executable names the
 * binary that runs the threads.
 */
static char *python_interpreter(void)
{
	char *launcher = python_on_path();
	struct gp_run r;
	char *exe;

	if (!launcher)
		cr_skip_test("python3 is not on PATH: install the python3 package (Debian: apt-get "
			     "install python3) to run the CPython threading test");
	gp_run_prog(launcher, GP_ARGV("-c", "import sys; print(sys.executable)"), false, 30, NULL,
		    &r);
	gp_assert_ok(&r);
	r.out[strcspn(r.out, "\n")] = '\0';
	exe = gp_asprintf("%s", r.out[0] == '/' ? r.out : launcher);
	gp_run_free(&r);
	free(launcher);
	return exe;
}

static char *python_script(void)
{
	char *script = gp_asprintf("%s/tests/progs/threads.py", gp_env("GP_TEST_ROOT"));

	cr_assert(access(script, R_OK) == 0, "%s is missing", script);
	return script;
}

/*
 * The whole script natively and under the shim: same output and status; 200 threads and a
 * 200-worker pool are each a handful of kernel threads under the shim, and their 0.2 s
 * sleeps overlap (40 s in turn).
 */
Test(runtimes, python_threading)
{
	char *python = python_interpreter(), *script = python_script();
	struct gp_run n, s;

	gp_compare(python, GP_ARGV(script), 120, &n, &s);
	gp_expect_ok(&n);
	if (exited_ok(&n)) {
		expect_kernel_threads_native(&n, "Threads:");
		expect_kernel_threads_native(&n, "pool_Threads:");
	}
	if (exited_ok(&s)) {
		expect_kernel_threads_green(&s, "Threads:");
		expect_kernel_threads_green(&s, "pool_Threads:");
		expect_overlap(&s, "sleep_elapsed:", 8.0, 40.0);
		expect_overlap(&s, "pool_elapsed:", 8.0, 40.0);
	}
	gp_run_free(&n);
	gp_run_free(&s);
	free(python);
	free(script);
}

/*
 * Faults (tests/progs/fault_cases.c), each case natively and under the shim, which must
 * print the same and end the same way: descriptors running out under a server,
 * pthread_create failing when no stack can be mapped, signal storms (an interval timer,
 * pthread_kill) with and without SA_RESTART while threads read, write, accept, sleep,
 * poll and wait on locks, fork and exec from many threads at once, threads created and
 * ended in waves with memory coming back, and descriptors closed and reused under
 * waiting threads. The endings of a process with thousands of parked threads are in
 * shim_exit.c, the stack overflow in shim_reports.c.
 */
#include "harness.h"

#include <string.h>

TestSuite(faults, .timeout = 150);

struct fault_case {
	char name[32];
	double timeout_s;     /* for each run, natively and under the shim */
	bool fortify;	      /* also compare the _FORTIFY_SOURCE build under the shim */
	char not_asan[160];   /* why it cannot run with AddressSanitizer's runtime, if so */
};

#define NOT_ASAN_RLIMIT_AS                                                             \
	"AddressSanitizer's runtime cannot map its own memory under the RLIMIT_AS the " \
	"case sets"
#define NOT_ASAN_RSS "AddressSanitizer's quarantine and shadow memory grow the resident set"
/* GCC 12's runtime has no fork handler: glibc's malloc takes its locks around fork. */
#define NOT_ASAN_FORK                                                                 \
	"AddressSanitizer's allocator is not reset in a forked child: one forked while " \
	"another kernel thread held its lock hangs in its first free"


/*
 * thread_waves creates 30,000 threads natively in about 2 s here; FAULT_CASES_THREADS,
 * passed on to the program, runs the full million (about a minute natively).
 */
static struct fault_case fault_cases[] = {
	{ "nofile_accept", 30, true, "" },
	{ "create_eagain", 30, true, NOT_ASAN_RLIMIT_AS },
	{ "storm_timer_restart", 30, true, "" },
	{ "storm_timer_no_restart", 30, true, "" },
	{ "storm_kill_restart", 30, true, "" },
	{ "storm_kill_no_restart", 30, true, "" },
	{ "fork_exec_storm", 30, true, NOT_ASAN_FORK },
	{ "thread_waves", 120, false, NOT_ASAN_RSS },
	{ "close_storm", 30, true, "" },
};

ParameterizedTestParameters(faults, each_case)
{
	return cr_make_param_array(struct fault_case, fault_cases, GP_COUNT(fault_cases));
}

ParameterizedTest(struct fault_case *c, faults, each_case)
{
	struct gp_run n, f;

	if (c->not_asan[0] && strstr(gp_env("GP_TEST_PRELOAD"), "asan"))
		cr_skip_test("%s, in the AddressSanitizer build: %s; it runs in the build "
			     "without sanitizer", c->name, c->not_asan);

	gp_compare("fault_cases", GP_ARGV(c->name), c->timeout_s, &n, NULL);
	gp_expect_ok(&n);
	if (c->fortify) {
		gp_run_prog("fault_cases.fortify", GP_ARGV(c->name), true, c->timeout_s, NULL, &f);
		gp_expect_same(&n, &f);
		gp_run_free(&f);
	}
	gp_run_free(&n);
}

static bool in_table(const char *name)
{
	for (size_t i = 0; i < GP_COUNT(fault_cases); i++)
		if (strcmp(fault_cases[i].name, name) == 0)
			return true;
	return false;
}

/* Every case of the program is in the table above, so none is left out silently. */
Test(faults, every_case_is_run)
{
	struct gp_run list;
	char *save = NULL;

	gp_run_prog("fault_cases", GP_ARGV("--list"), false, 10, NULL, &list);
	gp_assert_ok(&list);
	for (char *w = strtok_r(list.out, "\n", &save); w; w = strtok_r(NULL, "\n", &save))
		cr_expect(in_table(w), "case %s of fault_cases is not in the table", w);
	gp_run_free(&list);
}

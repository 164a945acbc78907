/*
 * Programs hostile to their own process (tests/progs/hostile.c), natively and under the
 * shim, once threads run: daemon-style loops that close or dup2 over every number they
 * did not open, closefrom, close_range, F_SETFD everywhere, a handler for every signal,
 * every signal blocked in every thread. The library's event loop descriptors must be
 * out of their way (libev would abort the process on a closed epoll descriptor), and
 * its dump signal must keep working without changing what the program sees.
 */
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

TestSuite(hostile, .timeout = 120);

Test(hostile, each_case_same)
{
	gp_compare_each_case("hostile", 20);
}

/*
 * The monitor reads /proc to tell a stuck thread, more often with a short hand-off: its
 * opens never take a number of the program's (core/procread.h), where a dup2 over
 * every number would meet EBUSY, or replace it and have the monitor close the
 * program's file. Before, one run in three differed here.
 */
Test(hostile, dup2_over_all_while_the_monitor_looks)
{
	struct rlimit rl;
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = 1024;
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	struct gp_run native;
	gp_run_prog("hostile", GP_ARGV("dup2_over_all"), false, 20, NULL, &native);
	gp_expect_ok(&native);
	for (int i = 0; i < 5; i++) {
		struct gp_run shim;
		struct gp_cmd cmd = { .prog = "hostile", .argv = GP_ARGV("dup2_over_all"),
				      .shim = true, .timeout_s = 20,
				      .env = GP_ARGV("GREENPATCH_HANDOFF=100us") };
		gp_run(&cmd, &shim);
		cr_expect_str_eq(shim.out, native.out, "run %d: natively\n%sunder the library\n%s",
				 i, native.out, shim.out);
		gp_run_free(&shim);
	}
	gp_run_free(&native);
}

/*
 * With the soft limit most systems start programs with: the library's descriptors are
 * then above it as well, where a dup2 onto them fails natively too.
 */
Test(hostile, each_case_same_at_1024_descriptors)
{
	struct rlimit rl;
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = 1024;
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	gp_compare_each_case("hostile", 20);
}

static size_t count_in(const char *text, const char *needle)
{
	size_t n = 0;
	for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Runs case natively, then under the shim with dumps on SIGUSR2; same output. */
static void compare_with_dumps(const char *name, size_t dumps)
{
	struct gp_run n, s;
	char *const env[] = { "GREENPATCH_DUMP_SIGNAL=USR2", NULL };
	struct gp_cmd native = { .prog = "hostile", .argv = GP_ARGV((char *)name),
				 .timeout_s = 20 };
	struct gp_cmd shim = { .prog = "hostile", .argv = GP_ARGV((char *)name), .shim = true,
			       .timeout_s = 20, .env = env };

	gp_run(&native, &n);
	gp_run(&shim, &s);
	gp_expect_same(&n, &s);
	cr_expect(count_in(s.err, "green threads alive") == dumps,
		  "%s: expected %zu dumps on stderr; stderr:\n%s", name, dumps, s.err);
	gp_run_free(&n);
	gp_run_free(&s);
}

/*
 * Every thread of the program blocks every signal: the library's monitor takes the dump
 * signal, writes the dump, and gives the signal back to the process, where it waits
 * until the program unblocks it, as it would natively, and is not dumped twice.
 */
Test(hostile, dump_signal_while_the_program_blocks_every_signal)
{
	compare_with_dumps("usr2_waits_for_unblock", 1);
}

/* The program handles the dump signal itself: its handler runs, and the dump is written. */
Test(hostile, dump_signal_the_program_handles)
{
	compare_with_dumps("usr2_handled", 3);
}

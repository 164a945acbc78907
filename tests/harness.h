/*
 * Behaviour-test harness: runs the plain programs of tests/progs (or any binary) as child
 * processes, natively or with the library in LD_PRELOAD, and compares what they did.
 *
 * The Criterion runner itself never has the library preloaded: LD_PRELOAD is set only in
 * the environment of the child. Children are stopped by pid (SIGKILL, then waitpid), and
 * also die with their parent (PR_SET_PDEATHSIG) if a test is cut short by its timeout.
 *
 * Where things are comes from the environment that `make test` sets:
 *   GP_TEST_PRELOAD  the LD_PRELOAD value for shim runs (may start with a sanitizer runtime)
 *   GP_TEST_LIB      absolute path of libgreenpatch.so
 *   GP_TEST_PROGS    directory of the built tests/progs programs
 *   GP_TEST_ROOT     the repository
 * A test that needs one of them fails with a message naming it when it is not set.
 */
#ifndef GP_TEST_HARNESS_H
#define GP_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>

/*
 * What to run. Only prog is required: a name in GP_TEST_PROGS ("sleepers",
 * "sleepers.fortify"), or a path containing '/' for any other binary.
 */
struct gp_cmd {
	const char *prog;
	char *const *argv;	/* arguments after argv[0], NULL-terminated; may be NULL */
	bool shim;		/* LD_PRELOAD=$GP_TEST_PRELOAD in the child */
	double timeout_s;	/* SIGKILL after this long; 0 means 30 s */
	const char *stdin_data; /* fed to stdin, then EOF; NULL means /dev/null */
	char *const *env;	/* extra NAME=VALUE entries, NULL-terminated; may be NULL */
	bool env_only;		/* the child's environment is env alone, LD_PRELOAD for a shim
				   run and the runner's ASAN_OPTIONS (a sanitizer build needs
				   them), as under env -i: not the rest of the runner's */
};

/* What happened. out and err are NUL-terminated, and may contain NULs themselves. */
struct gp_run {
	char label[160];  /* "sleepers 10 0.2 (shim)": names the run in messages */
	int status;	  /* as from waitpid */
	bool timed_out;	  /* killed by the harness after timeout_s */
	double elapsed_s; /* from spawn to reaping, CLOCK_MONOTONIC */
	char *out;
	size_t out_len;
	char *err;
	size_t err_len;
};

/* A child left running in the background, e.g. a server. */
struct gp_bg {
	pid_t pid; /* 0 once reaped */
	int pidfd;
	int out_fd; /* read end of its stdout pipe */
	int err_fd; /* its stderr: an unlinked file, so it can never fill up */
	char *out;  /* stdout read so far */
	size_t out_len;
	struct gp_run run; /* label, and the outcome once gp_bg_wait returned */
	double t0;
};

/* The value of a GP_TEST_* variable; fails the test, naming it, when it is not set. */
const char *gp_env(const char *name);

/* The library under test is the ASan build: ASan's runtime is preloaded with it. */
bool gp_asan_preloaded(void);

/*
 * In the ASan build, the path of ASan's runtime as GP_TEST_PRELOAD names it; NULL in any
 * other. For a native run that must carry what the runtime adds to a process (a pthread
 * key, its reads of /proc at start-up) to be compared with a run under the library.
 */
const char *gp_asan_runtime(void);

/* The carriers the library runs under the tests: GREENPATCH_CARRIERS, else one per CPU. */
int gp_carriers(void);

/* Full path of a program; fails the test when it does not exist or cannot be executed. */
char *gp_prog_path(const char *prog);

/*
 * Runs cmd to completion, capturing all of stdout and stderr. Returns 0, or fails the test
 * when the child could not be started. A shim run whose stderr shows that the dynamic
 * loader could not preload the library fails the test too: it would otherwise silently
 * compare a native run with a native run.
 */
int gp_run(const struct gp_cmd *cmd, struct gp_run *r);

/*
 * gp_run for the native side of a comparison: with GP_TEST_NATIVE_RUNS set, the run kept
 * from an earlier pass when there is one, labelled so (and true); else gp_run, and the
 * run is kept (native_runs.h). cmd runs no library of ours: a native run, or a script
 * that preloads the library itself only in a mode of its own (tests/real/run).
 */
bool gp_run_native(const struct gp_cmd *cmd, struct gp_run *r);

/* Shorthand for the common case. */
int gp_run_prog(const char *prog, char *const argv[], bool shim, double timeout_s,
		const char *stdin_data, struct gp_run *r);

void gp_run_free(struct gp_run *r);

/* Starts cmd in the background (cmd->timeout_s is not used here). */
int gp_bg_start(const struct gp_cmd *cmd, struct gp_bg *bg);

/*
 * Reads the background child's stdout until a whole first line is there and copies it,
 * without the newline, to line. Returns 0, or -1 (with the child's stderr in bg->run) if
 * the child exited or timeout_s passed first.
 */
int gp_bg_first_line(struct gp_bg *bg, double timeout_s, char *line, size_t size);

/* Waits up to timeout_s for the child to exit by itself, then kills it; fills bg->run. */
void gp_bg_wait(struct gp_bg *bg, double timeout_s);

/* Kills the child by pid if it still runs, reaps it and frees everything. Idempotent. */
void gp_bg_stop(struct gp_bg *bg);

/* Kills every background child still running: for a suite's .fini. */
void gp_bg_stop_all(void);

/* "exit 0", "killed by SIGSEGV", "timed out, killed by the harness": written to buf. */
const char *gp_status_str(const struct gp_run *r, char *buf, size_t size);

/*
 * NULL when a and b printed the same stdout and ended the same way; otherwise a message
 * (to free) showing the first differing line, both statuses and both stderrs.
 */
char *gp_diff_runs(const struct gp_run *a, const struct gp_run *b);

/* NULL when r exited by itself with status want_exit; otherwise a message (to free). */
char *gp_check_ok(const struct gp_run *r, int want_exit);

/* A message (to free) describing a run, for any failure that concerns it. */
char *gp_describe(const struct gp_run *r);

/* Number of lines in text (a last line without a newline counts). */
size_t gp_count_lines(const char *text, size_t len);

/*
 * Finds the first line of text that is "key value" (key, then blanks, then the value) and
 * copies the value, without its newline, to val. Returns false when there is none.
 */
bool gp_kv(const char *text, const char *key, char *val, size_t size);

/* Same, parsing the value as a decimal integer. */
bool gp_kv_long(const char *text, const char *key, long *val);

/* A string (to free) formatted as by printf; fails the test when out of memory. */
char *gp_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seconds on CLOCK_MONOTONIC. */
double gp_now(void);

/*
 * Runs prog with argv natively, then under the shim, and expects both to print the same and
 * end the same way. The runs are handed back through native and shim when those are not
 * NULL (free them with gp_run_free), for checks of their own.
 */
void gp_compare(const char *prog, char *const argv[], double timeout_s, struct gp_run *native,
		struct gp_run *shim);

/*
 * For the shim_env of a run that may hang (a stress test): a run killed at its timeout
 * is described first (gp_run), and with this set the library's dump of its green
 * threads is part of it. SIGRTMIN+6, by number: for programs that do not use it, whose
 * own alarm (GP_PROG_ALARM_S, tests/progs/progs.h) comes after the harness's bound.
 */
#define GP_DUMP_ON_HANG "GREENPATCH_DUMP_SIGNAL=40"

/*
 * The same, with shim_env (NAME=VALUE entries, NULL-terminated; may be NULL) added to the
 * environment of the run under the shim: a setting of the library the comparison needs.
 */
void gp_compare_env(const char *prog, char *const argv[], char *const *shim_env,
		    double timeout_s, struct gp_run *native, struct gp_run *shim);

/*
 * A case of a program that does not behave under the shim as natively yet, because a
 * feature it needs is missing; reason says which, in words. A suite keeps one table of
 * them. They stay in the programs, are left out of the comparisons, are reported as
 * skipped with their reason, and are run once more by a test that fails as soon as one
 * behaves as natively, so that the table cannot silently go stale. Arrays, not pointers:
 * Criterion copies test parameters into the process that runs the test.
 */
struct gp_pending {
	char name[48];
	char reason[160];
};

/* How long a pending case may run, natively or under the shim, before it counts as hung. */
#define GP_PENDING_TIMEOUT_S 3.0

#define GP_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The entry for name in a table of n pending cases, or NULL. */
const struct gp_pending *gp_pending_find(const struct gp_pending *pending, size_t n,
					 const char *name);

/*
 * For a program with a "--list" of cases (errno_cases, condvar): runs it natively and
 * under the shim with every case that is not pending named on the command line, and
 * expects both runs to print the same and end the same way.
 */
void gp_compare_cases(const char *prog, const struct gp_pending *pending, size_t n,
		      double timeout_s);

/* The same, with shim_env added to the environment of the run under the shim. */
void gp_compare_cases_env(const char *prog, const struct gp_pending *pending, size_t n,
			  char *const *shim_env, double timeout_s);

/*
 * Runs each case that is not pending on its own, natively and under the shim, and fails
 * once per case that differs, naming it. Stops after a few cases that hang.
 */
void gp_compare_each_case_except(const char *prog, const struct gp_pending *pending, size_t n,
				 double timeout_s);

/* The same for a program with no pending case. */
void gp_compare_each_case(const char *prog, double timeout_s);

/* gp_compare_each_case_except with shim_env added to the environment of the shim runs. */
void gp_compare_each_case_env(const char *prog, const struct gp_pending *pending, size_t n,
			      char *const *shim_env, double timeout_s);

/*
 * Runs each pending case natively and under the shim, GP_PENDING_TIMEOUT_S at most, and
 * fails for each that now behaves as natively, or is not a case of prog at all.
 */
void gp_expect_still_pending(const char *prog, const struct gp_pending *pending, size_t n);

/* The failure of a pending case that no longer differs, worded in one place. */
#define gp_expect_still_differs(name, differs)                                                \
	cr_expect((differs), "case %s now behaves as natively: remove it from the pending list", \
		  (name))

/* Skips the test that would run pending case p, saying why. */
#define gp_skip_pending(p) cr_skip_test("%s is pending: %s", (p)->name, (p)->reason)

/*
 * In a suite's file: a test "pending" run once per entry of table (an array of struct
 * gp_pending), each run skipped with the case's name and reason, so that the report
 * lists every pending case.
 */
#define GP_PENDING_REPORT(suite, table)                                               \
	ParameterizedTestParameters(suite, pending)                                   \
	{                                                                             \
		return cr_make_param_array(struct gp_pending, (table), GP_COUNT(table)); \
	}                                                                             \
	ParameterizedTest(const struct gp_pending *p, suite, pending)                 \
	{                                                                             \
		gp_skip_pending(p);                                                   \
	}

/* The message helpers as expectations, reported at the line of the test that uses them. */
#define gp_expect_msg_(msg_expr)                                          \
	do {                                                              \
		char *gp_msg_ = (msg_expr);                               \
		cr_expect(gp_msg_ == NULL, "%s", gp_msg_ ? gp_msg_ : ""); \
		free(gp_msg_);                                            \
	} while (0)

#define gp_assert_msg_(msg_expr)                                          \
	do {                                                              \
		char *gp_msg_ = (msg_expr);                               \
		cr_assert(gp_msg_ == NULL, "%s", gp_msg_ ? gp_msg_ : ""); \
	} while (0)

#define gp_expect_same(a, b) gp_expect_msg_(gp_diff_runs((a), (b)))
#define gp_expect_ok(r) gp_expect_msg_(gp_check_ok((r), 0))
#define gp_expect_exit(r, code) gp_expect_msg_(gp_check_ok((r), (code)))
#define gp_assert_ok(r) gp_assert_msg_(gp_check_ok((r), 0))

/* argv literal: GP_ARGV("10", "0.5") */
#define GP_ARGV(...) ((char *const[]){ __VA_ARGS__, NULL })

#endif

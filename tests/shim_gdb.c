/*
 * The gdb extension (scripts/libgreenpatch-gdb.py) on tests/progs/gdb_parked: 100 green
 * threads parked in read, mutex, condition, sleep and join, each in a function of its
 * own, and main running in a system call the library does not see. gdb attaches in batch
 * mode; `info green-threads` must list every thread with its state and what it waits on,
 * and `green-thread N bt` must show each kind of wait in its function at its source line,
 * with gdb's own unwinder (locals too). Then the same on a core file that gcore wrote.
 *
 * The program runs with small stacks (the core stays a few megabytes) and with guard
 * mappings (GREENPATCH_STACK_GUARD=mprotect): gcore leaves out every stack after a guard
 * region, which Linux 6.13 and later give by default. The core file test is skipped in
 * the AddressSanitizer build (make asan), whose core gcore would make terabytes large.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(gdb, .timeout = 180);

#define GDB "/usr/bin/gdb"
#define GCORE "/usr/bin/gcore"
#define PER_KIND 20

/* The kinds in the order gdb_parked creates them: ids 2-21 read, 22-41 mutex... */
enum kind { K_READ, K_MUTEX, K_COND, K_SLEEP, K_JOIN, K_MAIN, K_COUNT };
static const char *const kind_name[K_COUNT] = { "read", "mutex", "cond", "sleep", "join",
						 "main" };
static const char *const kind_fn[K_COUNT] = { "wait_in_read", "wait_in_mutex", "wait_in_cond",
					       "wait_in_sleep", "wait_in_join", "main_waits" };

struct parked {
	struct gp_bg bg;
	int line[K_COUNT];   /* the source line of each kind's wait, as the program printed */
};

static void need_gdb(void)
{
	if (access(GDB, X_OK) != 0 || access(GCORE, X_OK) != 0)
		cr_skip_test("gdb is not installed (Debian package gdb, which scripts/deps "
			     "installs): the gdb extension cannot be tested");
}

static int first_id(enum kind k)
{
	return k == K_MAIN ? 1 : 2 + PER_KIND * (int)k;
}

static void start_parked(struct parked *p)
{
	struct gp_cmd cmd = { .prog = "gdb_parked", .argv = GP_ARGV("150"), .shim = true,
			      .env = GP_ARGV("GREENPATCH_STACK_SIZE=64k",
					     "GREENPATCH_STACK_GUARD=mprotect",
					     "GREENPATCH_STALL_MS=0",
					     /* the listing checked is one carrier's, main on
					      * the first kernel thread */
					     "GREENPATCH_CARRIERS=1") };
	char line[256];

	gp_bg_start(&cmd, &p->bg);
	cr_assert_eq(gp_bg_first_line(&p->bg, 60, line, sizeof(line)), 0,
		     "gdb_parked never got ready: %s", p->bg.run.err ? p->bg.run.err : "");
	for (int k = 0; k < K_COUNT; k++) {
		char *key = gp_asprintf(" %s=", kind_name[k]);
		const char *at = strstr(line, key);
		cr_assert_not_null(at, "no%s in \"%s\"", key, line);
		p->line[k] = atoi(at + strlen(key));
		free(key);
	}
}

/* gdb in batch mode with the extension, then these commands; its output and status. */
static void run_gdb(char *const *target, char *const *commands, struct gp_run *r)
{
	char *script = gp_asprintf("%s/scripts/libgreenpatch-gdb.py", gp_env("GP_TEST_ROOT"));
	char *argv[64];
	int n = 0;

	argv[n++] = "-batch";
	argv[n++] = "-nx";
	for (int i = 0; target[i]; i++)
		argv[n++] = target[i];
	argv[n++] = "-x";
	argv[n++] = script;
	for (int i = 0; commands[i] && n < 62; i++) {
		argv[n++] = "-ex";
		argv[n++] = commands[i];
	}
	argv[n] = NULL;
	struct gp_cmd cmd = { .prog = GDB, .argv = argv, .timeout_s = 90 };
	gp_run(&cmd, r);
	free(script);
	if (strstr(r->err, "ptrace: Operation not permitted"))
		cr_skip_test("gdb may not attach to the test's processes (ptrace_scope; run as "
			     "root): %s", r->err);
	gp_expect_ok(r);
}

/* The line of text that starts with start (after the one-character mark), or NULL. */
static char *row(const char *text, const char *start)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] && strncmp(l + 1, start, strlen(start)) == 0)
			return strndup(l, strcspn(l, "\n"));
	}
	return NULL;
}

static void expect_in(const char *text, const char *what, const char *where)
{
	cr_expect(text && strstr(text, what), "%s lacks \"%s\":\n%s", where, what,
		  text ? text : "(none)");
}

/* The row of thread id: its name, its state and the start of what it waits on. */
static void expect_row(const char *out, int id, const char *name, const char *state,
		       const char *wait)
{
	char *start = gp_asprintf(" %-6d ", id);
	char *r = row(out, start);
	cr_expect_not_null(r, "info green-threads has no row for thread %d:\n%s", id, out);
	if (r) {
		char *quoted = gp_asprintf("\"%s\"", name);
		expect_in(r, quoted, "the row");
		expect_in(r, state, "the row");
		expect_in(r, wait, "the row");
		free(quoted);
	}
	free(r);
	free(start);
}

static void check_listing(const char *out, pid_t pid)
{
	expect_in(out, "101 green threads on 1 carrier", "info green-threads");
	char *lwp = gp_asprintf(" %d ", (int)pid);
	expect_row(out, 1, "gdb_parked", "running", lwp);
	free(lwp);
	for (int i = 0; i < PER_KIND; i++) {
		char name[16], *held = gp_asprintf("held by thread 1 \"gdb_parked\", for ");
		char *joined = gp_asprintf("the end of thread %d \"sleep-%d\", for ",
					   first_id(K_SLEEP) + i, i);

		snprintf(name, sizeof(name), "read-%d", i);
		expect_row(out, first_id(K_READ) + i, name, "parked", "fd, for ");
		snprintf(name, sizeof(name), "mutex-%d", i);
		expect_row(out, first_id(K_MUTEX) + i, name, "parked", held);
		snprintf(name, sizeof(name), "cond-%d", i);
		expect_row(out, first_id(K_COND) + i, name, "parked", "cond 0x");
		snprintf(name, sizeof(name), "sleep-%d", i);
		expect_row(out, first_id(K_SLEEP) + i, name, "parked", "sleep, for ");
		snprintf(name, sizeof(name), "join-%d", i);
		expect_row(out, first_id(K_JOIN) + i, name, "parked", joined);
		free(held);
		free(joined);
	}
	char *hub = row(out, " hub ");
	expect_in(hub, "(event loop)", "the hub's row");
	free(hub);
}

/* The backtrace gdb printed after "[green thread ID ", up to the next one. */
static char *backtrace_of(const char *out, int id)
{
	char *head = gp_asprintf("\n[green thread %d \"", id);
	const char *at = strstr(out, head);
	free(head);
	if (!at)
		return NULL;
	const char *end = strstr(at + 1, "\n[green thread ");
	return strndup(at, end ? (size_t)(end - at) : strlen(at));
}

/* A frame of function fn at gdb_parked.c:line, on one line of the backtrace. */
static void expect_frame(const char *bt, const char *fn, int line, int id)
{
	char *call = gp_asprintf(" %s (", fn), *where = gp_asprintf("gdb_parked.c:%d\n", line);
	bool found = false;

	for (const char *l = bt; l && *l && !found; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t len = strcspn(l, "\n") + 1;
		char *one = strndup(l, len);
		found = strstr(one, call) && strstr(one, where);
		free(one);
	}
	cr_expect(found, "the backtrace of thread %d has no frame%sat %s:\n%s", id, call, where,
		  bt ? bt : "(none)");
	free(call);
	free(where);
}

static char *const bt_commands[] = {
	"info green-threads", "green-thread 2 bt", "green-thread 22 bt", "green-thread 42 bt",
	"green-thread 62 bt", "green-thread 82 bt", "green-thread 1 bt",
	"green-thread 83", "frame function wait_in_join", "info locals", NULL
};

static void check_backtraces(const char *out, const struct parked *p)
{
	for (int k = 0; k < K_COUNT; k++) {
		int id = first_id(k);
		char *bt = backtrace_of(out, id);
		cr_expect_not_null(bt, "no backtrace of thread %d:\n%s", id, out);
		if (bt)
			expect_frame(bt, kind_fn[k], p->line[k], id);
		free(bt);
	}
	/* join-1's locals, in its own frame: i is 1. */
	expect_in(out, "\ni = 1\n", "info locals in wait_in_join of thread 83");
}

Test(gdb, live_process)
{
	need_gdb();
	struct parked p;
	start_parked(&p);
	char *pid = gp_asprintf("%d", (int)p.bg.pid);
	struct gp_run r;

	run_gdb(GP_ARGV("-p", pid), bt_commands, &r);
	check_listing(r.out, p.bg.pid);
	check_backtraces(r.out, &p);
	gp_run_free(&r);

	/* A layout it does not know is refused, and said so. */
	run_gdb(GP_ARGV("-p", pid), GP_ARGV("set {unsigned int}&greenpatch_debug = 99",
					    "info green-threads",
					    "set {unsigned int}&greenpatch_debug = 1"), &r);
	expect_in(r.err, "has version 99; this extension reads version 1", "gdb's errors");
	gp_run_free(&r);
	free(pid);
	gp_bg_stop(&p.bg);
}

/* A temporary directory the test made, and all in it. */
static void remove_dir(const char *dir)
{
	char *rm = gp_asprintf("rm -rf '%s'", dir);
	cr_expect_eq(system(rm), 0, "%s", rm);
	free(rm);
}

/* A path's directory part, to free. */
static char *dir_of(const char *path)
{
	char *d = gp_asprintf("%s", path);
	*strrchr(d, '/') = '\0';
	return d;
}

/*
 * `greenpatch gdb PID` attaches with the extension; and gdb loads the extension by itself
 * from its auto-load directory as <the library's path>-gdb.py, where make install puts it.
 */
Test(gdb, launcher_and_auto_load)
{
	need_gdb();
	struct parked p;
	start_parked(&p);
	char *pid = gp_asprintf("%d", (int)p.bg.pid), *libdir = dir_of(gp_env("GP_TEST_LIB"));
	char *launcher = gp_asprintf("%s/greenpatch", libdir);
	struct gp_cmd cmd = { .prog = launcher, .timeout_s = 90,
			      .argv = GP_ARGV("gdb", pid, "-batch", "-ex", "green-thread 62 bt") };
	struct gp_run r;

	gp_run(&cmd, &r);
	gp_expect_ok(&r);
	expect_in(r.out, "101 green threads on 1 carrier", "greenpatch gdb");
	char *bt = backtrace_of(r.out, 62);
	expect_frame(bt, kind_fn[K_SLEEP], p.line[K_SLEEP], 62);
	free(bt);
	gp_run_free(&r);

	char dir[] = "/tmp/gp-gdb-XXXXXX";
	cr_assert_not_null(mkdtemp(dir), "mkdtemp");
	char *lib = realpath(gp_env("GP_TEST_LIB"), NULL);
	char *script = gp_asprintf("%s%s-gdb.py", dir, lib), *script_dir = dir_of(script);
	char *copy = gp_asprintf("mkdir -p '%s' && cp '%s/scripts/libgreenpatch-gdb.py' '%s'",
				 script_dir, gp_env("GP_TEST_ROOT"), script);
	cr_assert_eq(system(copy), 0, "%s", copy);
	char *set_dir = gp_asprintf("set auto-load scripts-directory %s", dir);
	struct gp_cmd plain = { .prog = GDB, .timeout_s = 90,
				.argv = GP_ARGV("-batch", "-nx", "-iex", set_dir, "-iex",
						"set auto-load safe-path /", "-p", pid, "-ex",
						"info green-threads") };
	gp_run(&plain, &r);
	gp_expect_ok(&r);
	expect_in(r.out, "101 green threads on 1 carrier", "gdb with the auto-loaded extension");
	gp_run_free(&r);

	remove_dir(dir);
	free(set_dir);
	free(copy);
	free(script_dir);
	free(script);
	free(lib);
	free(launcher);
	free(libdir);
	free(pid);
	gp_bg_stop(&p.bg);
}

/*
 * gcore writes the core; the process is gone before gdb reads it. Not with an
 * AddressSanitizer runtime preloaded: gcore copies its shadow memory, terabytes, which
 * gdb 13 does not leave out even though it is marked not to be dumped.
 */
Test(gdb, core_file_from_gcore)
{
	need_gdb();
	if (strstr(gp_env("GP_TEST_PRELOAD"), "asan"))
		cr_skip_test("gcore would copy AddressSanitizer's shadow memory (terabytes): "
			     "the core file test runs with the build without sanitizer");
	struct parked p;
	start_parked(&p);
	char dir[] = "/tmp/gp-gdb-XXXXXX";
	cr_assert_not_null(mkdtemp(dir), "mkdtemp");
	char *prefix = gp_asprintf("%s/core", dir), *pid = gp_asprintf("%d", (int)p.bg.pid);
	char *core = gp_asprintf("%s.%s", prefix, pid), *prog = gp_prog_path("gdb_parked");
	struct gp_cmd gcore = { .prog = GCORE, .argv = GP_ARGV("-o", prefix, pid), .timeout_s = 90 };
	struct gp_run r;

	gp_run(&gcore, &r);
	gp_expect_ok(&r);
	gp_run_free(&r);
	pid_t was = p.bg.pid;
	gp_bg_stop(&p.bg);
	cr_expect_eq(access(core, R_OK), 0, "gcore wrote no %s", core);

	run_gdb(GP_ARGV(prog, core), bt_commands, &r);
	check_listing(r.out, was);
	check_backtraces(r.out, &p);
	gp_run_free(&r);

	remove_dir(dir);
	free(prog);
	free(core);
	free(pid);
	free(prefix);
}

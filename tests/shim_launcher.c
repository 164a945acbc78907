/*
 * The launcher (the greenpatch built next to the library), `greenpatch check`, the
 * GREENPATCH_* variables, the stall report, the dump, the installed tree and the man
 * pages.
 *
 * LD_PRELOAD as the launcher composes it is read by a statically linked program, built
 * here once with cc -static: the loader never preloads anything into it, so what it
 * prints is exactly what the launcher exported.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(launcher, .timeout = 120, .fini = gp_bg_stop_all);

static void expect_in(const char *text, const char *needle, const char *what)
{
	cr_expect(text && strstr(text, needle), "%s lacks \"%s\":\n%s", what, needle,
		  text ? text : "(none)");
}

static void expect_not_in(const char *text, const char *needle, const char *what)
{
	cr_expect(!text || !strstr(text, needle), "%s has \"%s\":\n%s", what, needle,
		  text ? text : "(none)");
}

/* The directory of the library, where the built launcher and its lists are. */
static char *libdir(void)
{
	char *d = gp_asprintf("%s", gp_env("GP_TEST_LIB"));
	*strrchr(d, '/') = '\0';
	return d;
}

static char *launcher(void)
{
	char *d = libdir();
	char *l = gp_asprintf("%s/greenpatch", d);
	free(d);
	return l;
}

/* The library's path as the launcher writes it: symbolic links resolved. */
static char *real_lib(void)
{
	char *p = realpath(gp_env("GP_TEST_LIB"), NULL);
	cr_assert_not_null(p, "realpath of GP_TEST_LIB");
	return p;
}

/* Runs the launcher with args (NULL-terminated) and extra environment env. */
static void run_launcher(char *const *args, char *const *env, double timeout_s,
			 struct gp_run *r)
{
	char *l = launcher();
	struct gp_cmd cmd = { .prog = l, .argv = args, .env = env, .timeout_s = timeout_s };
	gp_run(&cmd, r);
	free(l);
}

static int exit_status(const struct gp_run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* A private temporary directory, removed by rm_tmpdir. */
static char *mk_tmpdir(void)
{
	char *d = gp_asprintf("/tmp/gp-launcher-XXXXXX");
	cr_assert_not_null(mkdtemp(d), "mkdtemp");
	return d;
}

static void rm_tmpdir(char *d)
{
	char *cmd = gp_asprintf("rm -rf '%s'", d);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	free(cmd);
	free(d);
}

/*
 * A static program that prints its LD_PRELOAD as "[value]" (or "unset") and exits with
 * status 0, built once next to the test programs.
 */
static char *static_prog(void)
{
	char *path = gp_asprintf("%s/../static-printenv", gp_env("GP_TEST_PROGS"));
	if (access(path, X_OK) == 0)
		return path;
	char *src = gp_asprintf("%s.%d.c", path, (int)getpid());
	char *tmp = gp_asprintf("%s.%d", path, (int)getpid());
	FILE *f = fopen(src, "w");
	cr_assert_not_null(f, "cannot write %s", src);
	fputs("#include <stdio.h>\n#include <stdlib.h>\n"
	      "int main(void) { const char *v = getenv(\"LD_PRELOAD\");\n"
	      "  if (v) printf(\"[%s]\\n\", v); else printf(\"unset\\n\"); return 0; }\n", f);
	fclose(f);
	char *cc = gp_asprintf("cc -static -O1 -o '%s' '%s'", tmp, src);
	int rc = system(cc);
	unlink(src);
	cr_assert_eq(rc, 0, "%s failed (is libc6-dev's libc.a installed?)", cc);
	cr_assert_eq(rename(tmp, path), 0, "rename %s", tmp);
	free(cc);
	free(src);
	free(tmp);
	return path;
}

/* ---- options and usage -------------------------------------------------------------- */

Test(launcher, help_and_version)
{
	struct gp_run r;

	run_launcher(GP_ARGV("--help"), NULL, 20, &r);
	gp_expect_ok(&r);
	static const char *const options[] = {
		"--stack-size", "--stall-ms", "--stats", "--log", "--no-inherit", "--deadlock",
		"--offload-threads", "--dump-signal", "--verbose", "-q", "--version", "check",
	};
	for (size_t i = 0; i < GP_COUNT(options); i++)
		expect_in(r.out, options[i], "--help");
	gp_run_free(&r);

	run_launcher(GP_ARGV("--version"), NULL, 20, &r);
	gp_expect_ok(&r);
	expect_in(r.out, "greenpatch ", "--version");
	gp_run_free(&r);
}

/* Bad usage: a message, the usage line, exit status 2, and nothing run. */
Test(launcher, usage_errors_exit_2)
{
	static const char *const cases[][3] = {
		{ NULL },
		{ "--frobnicate", "true", NULL },
		{ "--stack-size", NULL },
		{ "--no-inherit=1", "true", NULL },
		{ "-v", NULL },
		{ "check", NULL },
		{ "check", "a", "b" },
	};
	for (size_t i = 0; i < GP_COUNT(cases); i++) {
		char *args[4] = { NULL };
		for (size_t j = 0; j < 3 && cases[i][j]; j++)
			args[j] = (char *)cases[i][j];
		struct gp_run r;
		run_launcher(args, NULL, 20, &r);
		cr_expect_eq(exit_status(&r), 2, "greenpatch %s %s: %s", args[0] ? args[0] : "",
			     args[1] ? args[1] : "", gp_describe(&r));
		expect_in(r.err, "usage: greenpatch", "stderr");
		gp_run_free(&r);
	}
}

/* Each option sets its variable for the program. */
Test(launcher, options_set_variables)
{
	struct gp_run r;

	run_launcher(GP_ARGV("--stack-size", "256k", "--stall-ms=50", "--stats=stats.out",
			     "--log", "debug", "--deadlock", "abort", "--offload-threads", "3",
			     "--dump-signal", "USR2", "--unpatch", "stdio,time", "--tls", "shared",
			     "--stack-guard", "mprotect", "--",
			     "/usr/bin/env"),
		     NULL, 20, &r);
	gp_expect_ok(&r);
	static const char *const want[] = {
		"GREENPATCH_STACK_SIZE=256k\n", "GREENPATCH_STALL_MS=50\n",
		"GREENPATCH_LOG=debug\n", "GREENPATCH_DEADLOCK=abort\n",
		"GREENPATCH_OFFLOAD_THREADS=3\n", "GREENPATCH_DUMP_SIGNAL=USR2\n",
		"GREENPATCH_UNPATCH=stdio,time\n", "GREENPATCH_TLS=shared\n",
		"GREENPATCH_STACK_GUARD=mprotect\n",
		"/stats.out\n",
	};
	for (size_t i = 0; i < GP_COUNT(want); i++)
		expect_in(r.out, want[i], "env");
	/* A relative --stats file is made absolute: it must contain a '/'. */
	expect_in(r.out, "GREENPATCH_STATS=/", "env");
	gp_run_free(&r);

	run_launcher(GP_ARGV("--stats", "/usr/bin/env"), NULL, 20, &r);
	expect_in(r.out, "GREENPATCH_STATS=1\n", "env");
	gp_run_free(&r);

	/* --no-inherit: the library takes itself out of the program's LD_PRELOAD. */
	run_launcher(GP_ARGV("--no-inherit", "/usr/bin/env"), NULL, 20, &r);
	gp_expect_ok(&r);
	expect_in(r.out, "GREENPATCH_NO_INHERIT=1\n", "env");
	expect_not_in(r.out, "\nLD_PRELOAD=", "env");
	gp_run_free(&r);

	/* -v says what it runs and asks the library for info; -q asks for errors only. */
	run_launcher(GP_ARGV("-v", "/usr/bin/env"), NULL, 20, &r);
	expect_in(r.out, "GREENPATCH_LOG=info\n", "env");
	expect_in(r.err, "greenpatch: exec /usr/bin/env", "stderr of -v");
	expect_in(r.err, "greenpatch: LD_PRELOAD=", "stderr of -v");
	gp_run_free(&r);
	run_launcher(GP_ARGV("-q", "/usr/bin/env"), NULL, 20, &r);
	expect_in(r.out, "GREENPATCH_LOG=error\n", "env");
	gp_run_free(&r);
}

/* ---- LD_PRELOAD --------------------------------------------------------------------- */

/* What the static program saw, with the launcher run with LD_PRELOAD=preload. */
static char *composed(const char *preload, bool twice)
{
	char *prog = static_prog();
	char *l = launcher();
	char *env_entry = preload ? gp_asprintf("LD_PRELOAD=%s", preload) : NULL;
	char *const env[] = { env_entry, NULL };
	struct gp_run r;
	if (twice)
		run_launcher(GP_ARGV("-q", l, "-q", prog), preload ? env : NULL, 20, &r);
	else
		run_launcher(GP_ARGV("-q", prog), preload ? env : NULL, 20, &r);
	gp_expect_ok(&r);
	char *out = gp_asprintf("%s", r.out);
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	gp_run_free(&r);
	free(env_entry);
	free(l);
	free(prog);
	return out;
}

static void expect_composed(const char *preload, bool twice, const char *want)
{
	/*
	 * Run twice, or with the library already in LD_PRELOAD, the launcher's own shell
	 * loads the library: a sanitized build of it cannot be loaded into a process that
	 * lacks the sanitizer's runtime.
	 */
	bool sanitized = strcmp(gp_env("GP_TEST_PRELOAD"), gp_env("GP_TEST_LIB")) != 0;
	if (sanitized && (twice || (preload && strstr(preload, "libgreenpatch.so"))))
		return;
	char *got = composed(preload, twice);
	cr_expect_str_eq(got, want, "LD_PRELOAD=%s%s: the program got %s, expected %s",
			 preload ? preload : "(unset)", twice ? " (launcher run twice)" : "", got,
			 want);
	free(got);
}

Test(launcher, ld_preload_composition)
{
	char *lib = real_lib();
	const char *m = "/lib/x86_64-linux-gnu/libm.so.6";
	/* The launcher knows a sanitizer runtime by its name: a copy of libm stands in for
	 * one, so that no process here runs with a real sanitizer it was not built for. */
	char *dir = mk_tmpdir();
	char *asan = gp_asprintf("%s/libasan.so.8", dir);
	char *cp = gp_asprintf("cp %s '%s'", m, asan);
	cr_assert_eq(system(cp), 0, "%s", cp);
	free(cp);
	char *want;

	want = gp_asprintf("[%s]", lib);
	expect_composed(NULL, false, want);
	expect_composed("", false, want);
	expect_composed(NULL, true, want);
	expect_composed(lib, false, want);
	free(want);

	/* Existing entries keep their order, after the library; a copy of it is dropped. */
	char *pre = gp_asprintf("%s:%s", m, lib);
	want = gp_asprintf("[%s:%s]", lib, m);
	expect_composed(pre, false, want);
	expect_composed(pre, true, want);
	free(pre);
	pre = gp_asprintf("%s %s", m, m);   /* ld.so also splits on spaces */
	want = gp_asprintf("[%s:%s:%s]", lib, m, m);
	expect_composed(pre, false, want);
	free(pre);
	free(want);

	/* A sanitizer runtime that leads stays first. */
	pre = gp_asprintf("%s:%s", asan, m);
	want = gp_asprintf("[%s:%s:%s]", asan, lib, m);
	expect_composed(pre, false, want);
	expect_composed(pre, true, want);
	free(pre);
	free(want);
	free(asan);
	rm_tmpdir(dir);
	free(lib);
}

/* ---- exec: status, signals, pid ----------------------------------------------------- */

Test(launcher, exit_status_and_signals_pass_through)
{
	struct gp_run r;

	run_launcher(GP_ARGV("sh", "-c", "exit 7"), NULL, 20, &r);
	gp_expect_exit(&r, 7);
	gp_run_free(&r);

	run_launcher(GP_ARGV("sh", "-c", "kill -TERM $$; sleep 5"), NULL, 20, &r);
	cr_expect(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM, "%s",
		  gp_describe(&r));
	gp_run_free(&r);

	/* exec: the program is the process the launcher was, and takes its signals. */
	char *l = launcher();
	struct gp_cmd cmd = { .prog = l,
			      .argv = GP_ARGV("sh", "-c", "echo $$; exec sleep 30") };
	struct gp_bg bg;
	gp_bg_start(&cmd, &bg);
	char line[64];
	cr_assert_eq(gp_bg_first_line(&bg, 20, line, sizeof(line)), 0, "no pid printed");
	cr_expect_eq(atol(line), (long)bg.pid, "the program's pid %s is not the launcher's %d",
		     line, (int)bg.pid);
	kill(bg.pid, SIGINT);
	gp_bg_wait(&bg, 20);
	cr_expect(WIFSIGNALED(bg.run.status) && WTERMSIG(bg.run.status) == SIGINT,
		  "status 0x%x, expected death by SIGINT", bg.run.status);
	gp_bg_stop(&bg);
	free(l);

	run_launcher(GP_ARGV("no-such-command-here"), NULL, 20, &r);
	gp_expect_exit(&r, 127);
	expect_in(r.err, "no-such-command-here: command not found", "stderr");
	gp_run_free(&r);
}

/* The loader would ignore LD_PRELOAD: refused, whoever runs it, by the mode bits. */
Test(launcher, refuses_setuid_and_setgid)
{
	char *dir = mk_tmpdir();
	static const mode_t modes[] = { S_ISUID | 0755, S_ISGID | 0755 };
	for (size_t i = 0; i < GP_COUNT(modes); i++) {
		char *copy = gp_asprintf("%s/true-%zu", dir, i);
		char *cp = gp_asprintf("cp /bin/true '%s'", copy);
		/* Expectations, not assertions: the set-ID copy must never outlive the test. */
		struct stat st;
		bool made = system(cp) == 0 && chmod(copy, modes[i]) == 0 && stat(copy, &st) == 0;
		cr_expect(made, "cannot make a set-ID copy of /bin/true: %s", cp);
		if (!made || (st.st_mode & (S_ISUID | S_ISGID)) != (modes[i] & (S_ISUID | S_ISGID))) {
			cr_expect_fail("the copy lacks its set-ID bit");
			free(cp);
			free(copy);
			continue;
		}
		struct gp_run r;
		run_launcher(GP_ARGV(copy), NULL, 20, &r);
		gp_expect_exit(&r, 126);
		expect_in(r.err, "set-user-ID or set-group-ID", "stderr");
		expect_in(r.err, "ignores LD_PRELOAD", "stderr");
		gp_run_free(&r);
		free(cp);
		free(copy);
	}
	rm_tmpdir(dir);
}

Test(launcher, warns_about_static_binary)
{
	char *prog = static_prog();
	struct gp_run r;

	run_launcher(GP_ARGV(prog), NULL, 20, &r);
	gp_expect_ok(&r);
	expect_in(r.err, "is statically linked", "stderr");
	expect_in(r.err, "runs unpatched", "stderr");
	gp_run_free(&r);

	run_launcher(GP_ARGV("-q", prog), NULL, 20, &r);
	gp_expect_ok(&r);
	cr_expect_eq(r.err_len, 0, "-q still warns: %s", r.err);
	gp_run_free(&r);

	/* A dynamic program gets no warning. */
	run_launcher(GP_ARGV("true"), NULL, 20, &r);
	gp_expect_ok(&r);
	cr_expect_eq(r.err_len, 0, "warning for true: %s", r.err);
	gp_run_free(&r);
	free(prog);
}

/* ---- check -------------------------------------------------------------------------- */

/* The count on the line that starts with title, or -1. */
static long section_count(const char *out, const char *title)
{
	const char *p = strstr(out, title);
	if (!p)
		return -1;
	p = strchr(p, ':');
	return p ? atol(p + 1) : -1;
}

/* The text of a section: from its title to the next line that does not start blank. */
static char *section(const char *out, const char *title)
{
	const char *p = strstr(out, title);
	if (!p)
		return gp_asprintf("%s", "");
	p = strchr(p, '\n');
	const char *end = p;
	while (end && end[1] == ' ')
		end = strchr(end + 1, '\n');
	return end ? strndup(p, (size_t)(end - p)) : gp_asprintf("%s", p);
}

/* check on a program: its sections, and exit 0 exactly when nothing is uncovered. */
static void check_program(const char *prog, const char *const *coop, size_t ncoop,
			  const char *const *off, size_t noff)
{
	struct gp_run r;
	run_launcher(GP_ARGV("check", (char *)prog), NULL, 90, &r);
	long nc = section_count(r.out, "cooperative");
	long no = section_count(r.out, "offloaded");
	long nu = section_count(r.out, "uncovered");
	cr_expect(nc > 0 && no >= 0 && nu >= 0, "check %s printed: %s", prog, gp_describe(&r));
	cr_expect_eq(exit_status(&r), nu > 0, "check %s: %ld uncovered but %s", prog, nu,
		     gp_describe(&r));
	char *c = section(r.out, "cooperative"), *o = section(r.out, "offloaded");
	for (size_t i = 0; i < ncoop; i++) {
		char *word = gp_asprintf(" %s", coop[i]);
		expect_in(c, word, "the cooperative section");
		free(word);
	}
	for (size_t i = 0; i < noff; i++) {
		char *word = gp_asprintf(" %s", off[i]);
		expect_in(o, word, "the offloaded section");
		free(word);
	}
	free(c);
	free(o);
	gp_run_free(&r);
}

Test(launcher, check_curl_and_nc)
{
	static const char *const curl_coop[] = { "connect", "poll", "pthread_create" };
	static const char *const nc_coop[] = { "connect", "poll", "read", "write" };
	static const char *const off[] = { "getaddrinfo" };
	check_program("curl", curl_coop, GP_COUNT(curl_coop), off, GP_COUNT(off));
	check_program("nc", nc_coop, GP_COUNT(nc_coop), off, GP_COUNT(off));
}

/* A program that imports only what the library covers passes. */
Test(launcher, check_covered_program_passes)
{
	static const char *const coop[] = { "pthread_create", "pthread_join" };
	char *prog = gp_prog_path("sleepers");
	check_program(prog, coop, GP_COUNT(coop), NULL, 0);
	struct gp_run r;
	run_launcher(GP_ARGV("check", prog), NULL, 60, &r);
	gp_expect_ok(&r);
	gp_run_free(&r);
	free(prog);
}

Test(launcher, check_static_binary)
{
	char *prog = static_prog();
	struct gp_run r;
	run_launcher(GP_ARGV("check", prog), NULL, 20, &r);
	gp_expect_exit(&r, 1);
	expect_in(r.out, "statically linked", "stdout");
	gp_run_free(&r);
	free(prog);

	run_launcher(GP_ARGV("check", "no-such-program-here"), NULL, 20, &r);
	gp_expect_exit(&r, 127);
	gp_run_free(&r);
}

/* A function is either interposed or in the list of those that are not, never both. */
Test(launcher, hooked_and_uncovered_lists_are_disjoint)
{
	char *d = libdir();
	char *cmd = gp_asprintf("awk 'FILENAME ~ /hooked/ { h[$2] = 1; next } "
				"/^[a-z_]/ && ($1 in h) { print $1; bad = 1 } END { exit bad }' "
				"'%s/hooked.list' '%s/uncovered.list'", d, d);
	struct gp_cmd c = { .prog = "/bin/sh", .argv = GP_ARGV("-c", cmd) };
	struct gp_run r;
	gp_run(&c, &r);
	cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "interposed, yet listed as uncovered in shim/uncovered.list: %s", r.out);
	gp_run_free(&r);
	free(cmd);
	free(d);
}

/* ---- variables ---------------------------------------------------------------------- */

struct bad_value {
	char var[40];
	char value[24];
	char message[96];
};

static struct bad_value bad_values[] = {
	{ "GREENPATCH_STACK_SIZE", "banana", "='banana' is not a size" },
	{ "GREENPATCH_STACK_SIZE", "1k", "='1k' is out of range (16k to 1g)" },
	{ "GREENPATCH_LOG", "loud", "='loud' is not a log level" },
	{ "GREENPATCH_STATS", "yes", "='yes' is not 0, 1 or a file path" },
	{ "GREENPATCH_OFFLOAD_THREADS", "0", "='0' is not a number of threads from 1 to 256" },
	{ "GREENPATCH_OFFLOAD_THREADS", "many", "='many' is not a number of threads" },
	{ "GREENPATCH_NO_INHERIT", "yes", "='yes' is not 0 or 1" },
	{ "GREENPATCH_DEADLOCK", "panic", "='panic' is not one of report, abort" },
	{ "GREENPATCH_STALL_MS", "-5", "='-5' is not a number of milliseconds" },
	{ "GREENPATCH_STALL_MS", "100ms", "='100ms' is not a number of milliseconds" },
	{ "GREENPATCH_DUMP_SIGNAL", "KILL", "='KILL' is not a signal a handler can take" },
	{ "GREENPATCH_DUMP_SIGNAL", "SEGV", "='SEGV' is not a signal a handler can take" },
	{ "GREENPATCH_DUMP_SIGNAL", "99", "='99' is not a signal a handler can take" },
	{ "GREENPATCH_DUMP_SIGNAL", "RTMIN+99", "='RTMIN+99' is not a signal" },
	{ "GREENPATCH_UNPATCH", "thread", "='thread' is not a comma-separated list of families" },
	{ "GREENPATCH_TLS", "own", "='own' is not one of thread, shared" },
	{ "GREENPATCH_STACK_GUARD", "none", "='none' is not one of auto, mprotect" },
};

ParameterizedTestParameters(launcher, bad_value_stops_before_main)
{
	return cr_make_param_array(struct bad_value, bad_values, GP_COUNT(bad_values));
}

/* Exit status 2, main never ran, one line naming the variable, the value and the form. */
ParameterizedTest(struct bad_value *b, launcher, bad_value_stops_before_main)
{
	char *entry = gp_asprintf("%s=%s", b->var, b->value);
	struct gp_cmd cmd = { .prog = "sleepers", .argv = GP_ARGV("2", "0.01"), .shim = true,
			      .env = (char *const[]){ entry, NULL } };
	struct gp_run r;
	gp_run(&cmd, &r);
	gp_expect_exit(&r, 2);
	cr_expect_eq(r.out_len, 0, "%s: main ran: %s", entry, r.out);
	char *want = gp_asprintf("greenpatch: %s%s", b->var, b->message);
	expect_in(r.err, want, "stderr");
	cr_expect_eq(gp_count_lines(r.err, r.err_len), 1, "%s: more than one line:\n%s", entry,
		     r.err);
	gp_run_free(&r);
	free(want);
	free(entry);
}

/* The same through the launcher's option: the library refuses it, status 2. */
Test(launcher, bad_option_value_stops_before_main)
{
	struct gp_run r;
	char *prog = gp_prog_path("sleepers");
	run_launcher(GP_ARGV("--stall-ms", "soon", prog, "2", "0.01"), NULL, 20, &r);
	gp_expect_exit(&r, 2);
	expect_in(r.err, "GREENPATCH_STALL_MS='soon' is not a number of milliseconds", "stderr");
	gp_run_free(&r);
	free(prog);
}

static void run_env(const char *prog, char *const *argv, char *const *env, struct gp_run *r)
{
	struct gp_cmd cmd = { .prog = prog, .argv = argv, .shim = true, .env = env,
			      .timeout_s = 60 };
	gp_run(&cmd, r);
}

Test(launcher, good_values_take_effect)
{
	struct gp_run r;

	run_env("default_stack", NULL, GP_ARGV("GREENPATCH_STACK_SIZE=256k"), &r);
	gp_expect_ok(&r);
	expect_in(r.out, "stack 262144\n", "default_stack");
	gp_run_free(&r);

	run_env("/bin/sh", GP_ARGV("-c", "printf '[%s]' \"$LD_PRELOAD\""),
		GP_ARGV("GREENPATCH_NO_INHERIT=1"), &r);
	gp_expect_ok(&r);
	expect_not_in(r.out, "libgreenpatch.so", "LD_PRELOAD with GREENPATCH_NO_INHERIT=1");
	gp_run_free(&r);
	run_env("/bin/sh", GP_ARGV("-c", "printf '[%s]' \"$LD_PRELOAD\""),
		GP_ARGV("GREENPATCH_NO_INHERIT=0"), &r);
	expect_in(r.out, "libgreenpatch.so", "LD_PRELOAD with GREENPATCH_NO_INHERIT=0");
	gp_run_free(&r);

	char *dir = mk_tmpdir();
	char *stats = gp_asprintf("GREENPATCH_STATS=%s/stats", dir);
	run_env("sleepers", GP_ARGV("3", "0.01"),
		GP_ARGV(stats, "GREENPATCH_OFFLOAD_THREADS=1", "GREENPATCH_LOG=debug"), &r);
	gp_expect_ok(&r);
	expect_not_in(r.err, "stats:", "stderr, with the statistics going to a file");
	gp_run_free(&r);
	char *cat = gp_asprintf("%s/stats", dir);
	struct gp_cmd c = { .prog = "/bin/cat", .argv = GP_ARGV(cat) };
	gp_run(&c, &r);
	expect_in(r.out, "stats: green threads created 4, peak alive 4", "the statistics file");
	expect_in(r.out, "stalls 0", "the statistics file");
	gp_run_free(&r);
	free(cat);
	free(stats);
	rm_tmpdir(dir);

	/* GREENPATCH_UNPATCH=time: the sleeps go to libc and park nobody. */
	run_env("sleepers", GP_ARGV("3", "0.01"), GP_ARGV("GREENPATCH_STATS=1"), &r);
	gp_expect_ok(&r);
	expect_in(r.err, " sleep 3", "the parks by reason, sleeps patched");
	gp_run_free(&r);
	run_env("sleepers", GP_ARGV("3", "0.01"),
		GP_ARGV("GREENPATCH_STATS=1", "GREENPATCH_UNPATCH=time"), &r);
	gp_expect_ok(&r);
	/* How often main parks in join depends on when the sleeps end (and, with
	 * GREENPATCH_HANDOFF, on how they were handed off). */
	expect_in(r.err, "parks by reason: barrier 3 join ", "the parks, sleeps unpatched");
	expect_not_in(r.err, " sleep ", "the parks, sleeps unpatched");
	expect_in(r.err, "calls passed to libc ", "the statistics, sleeps unpatched");
	gp_run_free(&r);

	/* 100 concurrent lookups never get more pool threads than allowed (one more may
	 * serve a wait for a child, which is never kept waiting behind the limit). Idle pool
	 * threads may end, so the count at exit shows the bound, not how many ran. */
	run_env("offloaded", NULL, GP_ARGV("GREENPATCH_OFFLOAD_THREADS=1", "GREENPATCH_STATS=1"),
		&r);
	gp_expect_ok(&r);
	const char *on = r.err ? strstr(r.err, " on ") : NULL;
	long pool = on ? atol(on + 4) : -1;
	cr_expect(on && strstr(on, " pool threads"), "no pool count:\n%s", r.err);
	cr_expect(pool >= 0 && pool <= 2, "%ld pool threads with a limit of 1", pool);
	gp_run_free(&r);

	/* GREENPATCH_DEADLOCK=abort: see tests/shim_deadlock.c. */
}

/* ---- the stall detector ------------------------------------------------------------- */

/* A raw syscall(SYS_read) on a pipe blocks every thread; the report names it. */
Test(launcher, stall_is_reported)
{
	struct gp_run n, s;
	setenv("GREENPATCH_STATS", "1", 1);
	setenv("GREENPATCH_LOG", "info", 1);   /* handed off, the report is information */
	gp_compare("stall", NULL, 60, &n, &s);
	unsetenv("GREENPATCH_LOG");
	unsetenv("GREENPATCH_STATS");
	expect_in(s.err, "stall: green thread 3 \"raw-reader\" has kept its kernel thread for",
		  "stderr");
	expect_in(s.err, "its carrier was handed to another kernel thread", "stderr");
	expect_in(s.err, "blocked in the system call read(0x", "stderr");
	expect_in(s.err, "did not go through the library", "stderr");
	expect_in(s.err, "progs/stall+0x", "the stack in the report");
	expect_in(s.err, "info:   #0 0x", "the stack in the report");
	expect_in(s.err, "stalls 1;", "the statistics");
	gp_run_free(&n);
	gp_run_free(&s);

	/* The fortified build: the same report. */
	setenv("GREENPATCH_LOG", "info", 1);
	gp_compare("stall.fortify", NULL, 60, NULL, &s);
	unsetenv("GREENPATCH_LOG");
	expect_in(s.err, "\"raw-reader\"", "stderr");
	gp_run_free(&s);
}

/*
 * A thread that computes is named too (no system call, no stack: it is not stopped):
 * handed off, as information; with GREENPATCH_HANDOFF=0, holding the others, as a
 * warning. On one carrier, which the spinner keeps while the others wait for it: with
 * two, the other carrier serves them, the spinner holds nobody, and it is neither
 * handed off nor reported.
 */
Test(launcher, computing_stall_is_reported)
{
	struct gp_run s;
	gp_compare_env("stall", GP_ARGV("spin"),
		       GP_ARGV("GREENPATCH_LOG=info", "GREENPATCH_CARRIERS=1"), 60, NULL, &s);
	expect_in(s.err, "stall: green thread 3 \"spinner\" has kept its kernel thread for",
		  "stderr");
	expect_in(s.err, "it computes without calling the library", "stderr");
	gp_run_free(&s);

	run_env("stall", GP_ARGV("spin"), GP_ARGV("GREENPATCH_HANDOFF=0"), &s);
	gp_expect_ok(&s);
	expect_in(s.err, "stall: green thread 3 \"spinner\" has run", "stderr");
	gp_run_free(&s);
}

/* 0 turns the detector off; GREENPATCH_LOG=error silences its warning. */
Test(launcher, stall_detector_off_or_silent)
{
	struct gp_run r;
	run_env("stall", NULL, GP_ARGV("GREENPATCH_STALL_MS=0", "GREENPATCH_STATS=1"), &r);
	gp_expect_ok(&r);
	expect_not_in(r.err, "stall:", "stderr with GREENPATCH_STALL_MS=0");
	expect_in(r.err, "stalls 0;", "the statistics");
	gp_run_free(&r);

	run_env("stall", NULL, GP_ARGV("GREENPATCH_LOG=error", "GREENPATCH_STATS=1"), &r);
	gp_expect_ok(&r);
	expect_not_in(r.err, "stall:", "stderr with GREENPATCH_LOG=error");
	expect_in(r.err, "stalls 1;", "the statistics");
	gp_run_free(&r);

	/* By default a handed-off stall holds nobody: counted, not a warning. */
	run_env("stall", NULL, GP_ARGV("GREENPATCH_STATS=1"), &r);
	gp_expect_ok(&r);
	expect_not_in(r.err, "stall:", "stderr at the default log level");
	expect_in(r.err, "stalls 1;", "the statistics");
	gp_run_free(&r);
}

/* ---- the dump ----------------------------------------------------------------------- */

static void expect_dump(const struct gp_run *r)
{
	expect_in(r->out, "ready\ndone\n", "stdout");
	static const char *const want[] = {
		"dump: 4 green threads alive",
		"dump: thread 1 (main) \"dumped\" ",   /* running, or parked in its sleep */
		"dump: thread 2 \"sleeper\" parked on sleep for ",
		"dump: thread 3 \"locker\" parked on mutex ",
		"held by thread 1 \"dumped\"",
		"dump: thread 4 \"waiter\" parked on cond ",
		"dump:   #0 0x",
		"progs/dumped+0x",
	};
	for (size_t i = 0; i < GP_COUNT(want); i++)
		expect_in(r->err, want[i], "the dump");
}

/* Start dumped with the launcher's extra arguments, send the signal once it is ready. */
static void dump_run(char *const *argv, char *const *env, int sig, struct gp_run *out)
{
	char *l = launcher();
	struct gp_cmd cmd = { .prog = argv ? l : "dumped", .argv = argv, .shim = !argv,
			      .env = env };
	struct gp_bg bg;
	gp_bg_start(&cmd, &bg);
	char line[64];
	cr_assert_eq(gp_bg_first_line(&bg, 30, line, sizeof(line)), 0, "dumped never got ready: %s",
		     bg.run.err ? bg.run.err : "");
	kill(bg.pid, sig);
	gp_bg_wait(&bg, 30);
	gp_expect_ok(&bg.run);
	out->out = gp_asprintf("%s", bg.run.out ? bg.run.out : "");
	out->err = gp_asprintf("%s", bg.run.err ? bg.run.err : "");
	gp_bg_stop(&bg);
	free(l);
}

Test(launcher, dump_on_signal)
{
	struct gp_run r;
	dump_run(NULL, GP_ARGV("GREENPATCH_DUMP_SIGNAL=USR2"), SIGUSR2, &r);
	expect_dump(&r);
	free(r.out);
	free(r.err);

	char *prog = gp_prog_path("dumped");
	dump_run(GP_ARGV("--dump-signal", "SIGRTMIN+2", prog), NULL, SIGRTMIN + 2, &r);
	expect_dump(&r);
	free(r.out);
	free(r.err);
	free(prog);
}

/* ---- install and man pages ---------------------------------------------------------- */

Test(launcher, installed_launcher_runs, .timeout = 300)
{
	char *dir = mk_tmpdir();
	const char *root = gp_env("GP_TEST_ROOT");
	char *d = libdir();
	size_t rl = strlen(root);
	const char *b = strncmp(d, root, rl) == 0 && d[rl] == '/' ? d + rl + 1 : d;
	/* -o: install what is built, never rebuild the library under the other tests. */
	char *make = gp_asprintf("make -s -C '%s' B='%s' -o '%s/libgreenpatch.so' "
				 "-o '%s/hooked.list' -o '%s/uncovered.list' -o '%s/greenpatch' "
				 "DESTDIR='%s' prefix=/usr install", root, b, b, b, b, b, dir);
	struct gp_cmd c = { .prog = "/bin/sh", .argv = GP_ARGV("-c", make), .timeout_s = 240 };
	struct gp_run r;
	gp_run(&c, &r);
	gp_expect_ok(&r);
	bool install_ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0;
	gp_run_free(&r);
	if (!install_ok) {
		free(make);
		free(d);
		rm_tmpdir(dir);
		return;
	}

	static const char *const files[] = {
		"usr/bin/greenpatch", "usr/lib/greenpatch/libgreenpatch.so",
		"usr/lib/greenpatch/hooked.list", "usr/lib/greenpatch/uncovered.list",
		"usr/share/man/man1/greenpatch.1", "usr/share/man/man7/libgreenpatch.7",
		"usr/share/gdb/auto-load/usr/lib/greenpatch/libgreenpatch.so-gdb.py",
	};
	for (size_t i = 0; i < GP_COUNT(files); i++) {
		char *f = gp_asprintf("%s/%s", dir, files[i]);
		cr_expect_eq(access(f, R_OK), 0, "make install did not install %s", files[i]);
		free(f);
	}

	/* The staged launcher finds the library staged with it. */
	char *installed = gp_asprintf("%s/usr/bin/greenpatch", dir);
	char *prog = gp_prog_path("sleepers");
	struct gp_cmd run = { .prog = installed,
			      .argv = GP_ARGV("--stats", prog, "3", "0.01") };
	gp_run(&run, &r);
	gp_expect_ok(&r);
	expect_in(r.out, "slept 3", "stdout");
	expect_in(r.err, "stats: green threads created 4", "stderr");
	gp_run_free(&r);
	struct gp_cmd chk = { .prog = installed, .argv = GP_ARGV("check", prog) };
	gp_run(&chk, &r);
	gp_expect_ok(&r);
	gp_run_free(&r);

	char *un = gp_asprintf("make -s -C '%s' B='%s' DESTDIR='%s' prefix=/usr uninstall", root,
			       b, dir);
	struct gp_cmd u = { .prog = "/bin/sh", .argv = GP_ARGV("-c", un) };
	gp_run(&u, &r);
	gp_expect_ok(&r);
	cr_expect_neq(access(installed, F_OK), 0, "make uninstall left %s", installed);
	char *auto_load = gp_asprintf("%s/usr/share/gdb/auto-load/usr", dir);
	cr_expect_neq(access(auto_load, F_OK), 0, "make uninstall left %s", auto_load);
	free(auto_load);
	gp_run_free(&r);

	free(un);
	free(prog);
	free(installed);
	free(make);
	free(d);
	rm_tmpdir(dir);
}

Test(launcher, man_pages_lint_clean)
{
	static const char *const pages[] = { "man/greenpatch.1", "man/libgreenpatch.7" };
	for (size_t i = 0; i < GP_COUNT(pages); i++) {
		char *page = gp_asprintf("%s/%s", gp_env("GP_TEST_ROOT"), pages[i]);
		struct gp_cmd c = { .prog = "/usr/bin/groff",
				    .argv = GP_ARGV("-man", "-ww", "-z", page) };
		struct gp_run r;
		gp_run(&c, &r);
		gp_expect_ok(&r);
		cr_expect_eq(r.err_len, 0, "groff -man -ww warns about %s:\n%s", pages[i], r.err);
		gp_run_free(&r);
		free(page);
	}
	/* The page documents every option and variable of the launcher. */
	char *page = gp_asprintf("%s/man/greenpatch.1", gp_env("GP_TEST_ROOT"));
	static const char *const sections[] = {
		".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS", ".SH ENVIRONMENT",
		".SH EXIT STATUS", ".SH FILES", ".SH EXAMPLES", ".SH LIMITATIONS", ".SH SEE ALSO",
	};
	FILE *f = fopen(page, "r");
	cr_assert_not_null(f, "%s", page);
	char text[65536];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	for (size_t i = 0; i < GP_COUNT(sections); i++)
		expect_in(text, sections[i], "man/greenpatch.1");
	free(page);
}

/*
 * The GREENPATCH_* variables: the list the library reads (core/config.def) is the list
 * the documentation gives; cases the configuration fuzzer (tests/shim_config_fuzz.c)
 * found, each as it found it.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

TestSuite(config, .timeout = 60);

/* Every variable the library reads, in the order it reads them. */
static const char *const config_vars[] = {
#define GP_CONFIG_VAR(name, loader) #name,
#include "config.def"
#undef GP_CONFIG_VAR
};

/* ---- the documentation names the variables the library reads ----------------------- */

/* A file of the repository, whole, as a string (to free). */
static char *read_repo_file(const char *rel)
{
	char *path = gp_asprintf("%s/%s", gp_env("GP_TEST_ROOT"), rel);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	cr_assert(n >= 0, "cannot read %s", path);
	fclose(f);
	free(path);
	return text;
}

/* The part of text from the line that starts with from to the next line that starts with to. */
static char *section(char *text, const char *from, const char *to, const char *what)
{
	char *start = strstr(text, from);
	cr_assert_not_null(start, "%s has no \"%s\"", what, from);
	char *end = strstr(start + strlen(from), to);
	if (end)
		*end = '\0';
	return start;
}

struct names {
	char v[64][40];
	size_t n;
};

static bool names_have(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* Each GREENPATCH_ name in text that comes right after marker ("" for anywhere), once. */
static void names_after(const char *text, const char *marker, struct names *s)
{
	char *needle = gp_asprintf("%sGREENPATCH_", marker);
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) {
		const char *name = p + strlen(marker);
		size_t len = 11;
		while (isupper((unsigned char)name[len]) || isdigit((unsigned char)name[len]) ||
		       name[len] == '_')
			len++;
		char one[40];
		snprintf(one, sizeof(one), "%.*s", (int)len, name);
		if (len > 11 && !names_have(s, one) && s->n < GP_COUNT(s->v))
			snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", one);
	}
	free(needle);
}

/* The names a document gives are exactly those of core/config.def. */
static void expect_same_names(const struct names *doc, const char *what)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++)
		cr_expect(names_have(doc, config_vars[i]),
			  "%s does not document %s, which the library reads (core/config.def)",
			  what, config_vars[i]);
	for (size_t i = 0; i < doc->n; i++) {
		bool read = false;
		for (size_t j = 0; j < GP_COUNT(config_vars); j++)
			read = read || strcmp(doc->v[i], config_vars[j]) == 0;
		cr_expect(read, "%s documents %s, which the library does not read (core/config.def)",
			  what, doc->v[i]);
	}
}

Test(config, man_page_lists_the_variables_read)
{
	char *page = read_repo_file("man/libgreenpatch.7");
	struct names doc = { .n = 0 };
	names_after(section(page, ".SH ENVIRONMENT", "\n.SH ", "man/libgreenpatch.7"),
		    ".TP\n.B ", &doc);
	expect_same_names(&doc, "ENVIRONMENT in man/libgreenpatch.7");
	free(page);
}

Test(config, readme_lists_the_variables_read)
{
	char *readme = read_repo_file("README.md");
	struct names doc = { .n = 0 };
	names_after(section(readme, "## Environment variables", "\n## ", "README.md"), "\n| `",
		    &doc);
	expect_same_names(&doc, "README.md's table of environment variables");
	free(readme);
}

/* The launcher built next to the library (to free). */
static char *launcher_path(void)
{
	const char *lib = gp_env("GP_TEST_LIB");
	return gp_asprintf("%.*s/greenpatch", (int)(strrchr(lib, '/') - lib), lib);
}

/* Every variable has a launcher option, in its page and in its --help. */
Test(config, launcher_sets_the_variables_read)
{
	char *page = read_repo_file("man/greenpatch.1");
	struct names doc = { .n = 0 };
	names_after(section(page, ".SH OPTIONS", "\n.SH ", "man/greenpatch.1"), "", &doc);
	expect_same_names(&doc, "OPTIONS in man/greenpatch.1");
	free(page);

	char *launcher = launcher_path();
	struct gp_cmd cmd = { .prog = launcher, .argv = GP_ARGV("--help") };
	struct gp_run r;
	gp_run(&cmd, &r);
	gp_expect_ok(&r);
	struct names help = { .n = 0 };
	names_after(r.out, "", &help);
	expect_same_names(&help, "greenpatch --help");
	gp_run_free(&r);
	free(launcher);
}

/* ---- values that are not text, or long, as the fuzzer found them ------------------- */

/* unit repeated to len bytes (to free). */
static char *repeated(const char *unit, size_t len)
{
	char *s = malloc(len + 1);
	cr_assert_not_null(s, "out of memory");
	for (size_t i = 0; i < len; i++)
		s[i] = unit[i % strlen(unit)];
	s[len] = '\0';
	return s;
}

/*
 * config_probe with the environment entries env (over the runner's environment, or an
 * empty one with env_i), preloaded, or through the launcher when args (its options) is
 * not NULL: it must stop before main with exactly the line want.
 */
static void expect_stop(bool env_i, char *const *env, char *const *args, const char *want)
{
	size_t nargs = 0;
	while (args && args[nargs])
		nargs++;
	char *argv[nargs + 3], *prog = NULL;
	struct gp_cmd cmd = { .prog = "config_probe", .shim = !args, .env = env,
			      .env_only = env_i, .timeout_s = 20 };
	if (args) {
		memcpy(argv, args, nargs * sizeof(*args));
		argv[nargs] = "--";
		argv[nargs + 1] = prog = gp_prog_path("config_probe");
		argv[nargs + 2] = NULL;
		cmd.prog = launcher_path();
		cmd.argv = argv;
	}
	struct gp_run r;
	gp_run(&cmd, &r);
	gp_expect_exit(&r, 2);
	cr_expect_eq(r.out_len, 0, "main ran: stdout \"%s\"", r.out);
	cr_expect_str_eq(r.err, want, "stderr is not the one line expected");
	gp_run_free(&r);
	if (args)
		free((char *)cmd.prog);
	free(prog);
}

/* A newline in a value made the message two lines. */
Test(config, newline_in_a_value)
{
	expect_stop(false,
		    GP_ARGV("GREENPATCH_DEADLOCK=report", "GREENPATCH_STACK_SIZE=\n",
			    "GREENPATCH_STACK_SIZE=1_000", "GREENPATCH_MAX_THREADS=2C"),
		    NULL,
		    "greenpatch: GREENPATCH_STACK_SIZE='\\x0a' is not a size (e.g. 256k, 8m)\n");
}

/* Control characters and bytes that are not text went out as they were. */
Test(config, control_character_in_a_value)
{
	expect_stop(false,
		    GP_ARGV("GREENPATCH_LOG=error", "GREENPATCH_STACK_GUARD=debug\r",
			    "GREENPATCH_DEADLOCK=abo\x0et"),
		    NULL,
		    "greenpatch: GREENPATCH_DEADLOCK='abo\\x0et' is not one of report, abort\n");
}

Test(config, bytes_not_text_in_a_value)
{
	expect_stop(true, GP_ARGV("GREENPATCH_STATS=1", "GREENPATCH_STALL_MS=1\xb3" "033364"), NULL,
		    "greenpatch: GREENPATCH_STALL_MS='1\\xb3033364' is not a number of milliseconds "
		    "from 0 (off) to 3600000\n");
}

Test(config, bytes_not_text_through_the_launcher)
{
	expect_stop(false, GP_ARGV(NULL),
		    GP_ARGV("--log=info", "--stack-size",
			    "A\xbc\x1f\x08\xb9\xf9\xce\xe7\x06y4I\xa8\xf6"),
		    "greenpatch: GREENPATCH_STACK_SIZE='A\\xbc\\x1f\\x08\\xb9\\xf9\\xce\\xe7\\x06y4I"
		    "\\xa8\\xf6' is not a size (e.g. 256k, 8m)\n");
}

/* A value of 95 KB: the message was cut at 512 bytes, without its reason. */
Test(config, long_value)
{
	char *value = repeated("1k", 95753);
	char *entry = gp_asprintf("GREENPATCH_DEADLOCK=%s", value);
	expect_stop(false,
		    GP_ARGV("GREENPATCH_LOG=DeBuG", "GREENPATCH_DEADLOCK", entry,
			    "GREENPATCH_UNPATCH=RTMIN+99999999999999999999"),
		    NULL,
		    "greenpatch: GREENPATCH_DEADLOCK='1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k"
		    "1k1k1k1k1k1k1k1k'... (95753 bytes) is not one of report, abort\n");
	free(entry);
	free(value);
}

Test(config, long_value_through_the_launcher)
{
	char *zeros = repeated("0", 100000 - strlen("Warning"));
	char *option = gp_asprintf("--log=%sWarning", zeros);
	char *want = gp_asprintf("greenpatch: GREENPATCH_LOG='%.64s'... (100000 bytes) is not a "
				 "log level (error, warning, info, debug)\n", zeros);
	expect_stop(true, GP_ARGV("GREENPATCH_LOG=0X1f", "GREENPATCH_STACKSIZE=65"),
		    GP_ARGV("--stall-ms=1", option), want);
	free(want);
	free(option);
	free(zeros);
}

/*
 * config_probe with only the entries env, preloaded: it must run, and say nothing on
 * stderr, or, when line is not NULL, only the log line "greenpatch[PID]: " line.
 */
static void expect_start(char *const *env, const char *line)
{
	struct gp_cmd cmd = { .prog = "config_probe", .shim = true, .env = env, .env_only = true };
	struct gp_run r;
	gp_run(&cmd, &r);
	gp_expect_ok(&r);
	cr_expect_str_eq(r.out, "read: hello\n", "stdout");
	const char *tail = strstr(r.err, "]: ");
	if (line)
		cr_expect(strncmp(r.err, "greenpatch[", 11) == 0 && tail &&
				  strcmp(tail + 3, line) == 0,
			  "stderr is not \"greenpatch[PID]: %s\":\n%s", line, r.err);
	else
		cr_expect_eq(r.err_len, 0, "stderr is not empty:\n%s", r.err);
	gp_run_free(&r);
}

/* A GREENPATCH_STATS file that cannot be opened at exit is said in one line too. */
Test(config, stats_file_name_with_a_newline)
{
	expect_start(GP_ARGV("GREENPATCH_STATS=no/such\ndirectory"),
		     "error: GREENPATCH_STATS: cannot open 'no/such\\x0adirectory': No such file "
		     "or directory\n");
}

/* ---- names the library does not read ----------------------------------------------- */

/* A misspelt name is said once, with the process id, and changes nothing. */
Test(config, unknown_name_is_warned_about)
{
	expect_start(GP_ARGV("GREENPATCH_STACKSIZE=256k"),
		     "warning: 'GREENPATCH_STACKSIZE' is not a variable the library reads: "
		     "ignored\n");
}

/* Several: the first is named, the others counted; a name without '=' is one too. */
Test(config, unknown_names_are_counted)
{
	expect_start(GP_ARGV("GREENPATCH_STACK_SIZE=64k", "GREENPATCH_=1", "GREENPATCH_LOG2",
			     "GREENPATCH_TLS=thread", "GREENPATCH_X\x01\xff=1"),
		     "warning: 'GREENPATCH_' and 2 more are not variables the library reads: "
		     "ignored\n");
}

/* Not with GREENPATCH_LOG=error; not for a name without the prefix as it is spelt. */
Test(config, unknown_names_not_warned_about)
{
	expect_start(GP_ARGV("GREENPATCH_STACKSIZE=256k", "GREENPATCH_LOG=error"), NULL);
	expect_start(GP_ARGV("greenpatch_log=debug", "GREENPATCHLOG=1", "XGREENPATCH_LOG=1"),
		     NULL);
}

/* A bad value stops the program with its one line, and no warning before it. */
Test(config, bad_value_comes_alone)
{
	expect_stop(true, GP_ARGV("GREENPATCH_STACKSIZE=256k", "GREENPATCH_LOG=loud"), NULL,
		    "greenpatch: GREENPATCH_LOG='loud' is not a log level (error, warning, info, "
		    "debug)\n");
}

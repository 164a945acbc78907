/*
 * The configuration fuzzer. Each run gives tests/progs/config_probe (a thread, a pipe,
 * one line on stdout) an environment in which each GREENPATCH_* variable of
 * core/config.def is absent or set to a value drawn at random: a valid one, or one of the
 * forms a parser gets wrong (empty, blanks, signs, huge and overflowing numbers, hex and
 * octal, suffixes it takes and ones it does not, bytes that are not text, strings of 100
 * KB), with now and then a name the library does not read. The environment is the
 * runner's or an empty one (env -i); the library is preloaded directly, or by the
 * launcher, whose options then set some of the variables.
 *
 * Every run either starts (exit 0 and "read: hello"), or stops before main: status 2,
 * nothing on stdout and one line of printable ASCII on stderr,
 * "greenpatch: NAME='VALUE' why", that names a variable that is set, shows its value
 * (escaped and shortened when it has to be) and is the same with that variable alone.
 * Besides: a run whose values all come from the valid lists starts, and a value with a
 * byte that is not graphic ASCII stops the run (GREENPATCH_STATS, a file name, aside).
 * Anything else (a signal, another status, a hang, several lines, an unnamed variable)
 * fails with the case's seed and its environment, non-text bytes escaped.
 *
 * GP_FUZZ_RUNS (default 500) and GP_FUZZ_SEED (default: from the clock) choose the runs,
 * and the seed is printed; GP_FUZZ_CASE=SEED runs one case alone, as a failure names it.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* No timeout of its own: a long run takes as long as it needs; each run has one. */
TestSuite(config_fuzz);

#define DEFAULT_RUNS 500	   /* make test; make fuzz-config runs more */
#define RUN_TIMEOUT_S 10.0
#define MAX_FAILURES 5	   /* a broken library fails in seconds, not after every run */
#define LONG_VALUE 100000  /* bytes of a "very long" value: below the kernel's 128 KiB */
#define MAX_LONG_VALUES 3  /* in one run, so that the environment fits in ARG_MAX */
#define SHOW_VALUE 96	   /* bytes of a value shown in a failure before it is cut */
#define SHOW_TAIL 24	   /* and of its end */
#define SHOW_OUTPUT 1000   /* and of a run's stdout or stderr */
#define PROBE_OUTPUT "read: hello\n"

/* ---- random numbers: splitmix64, so that a seed names a run on any machine --------- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rng_below(struct rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

static bool rng_percent(struct rng *r, unsigned percent)
{
	return rng_below(r, 100) < percent;
}

#define PICK(r, array) ((array)[rng_below((r), GP_COUNT(array))])

/* ---- what each variable takes ------------------------------------------------------ */

/* Every variable the library reads (core/config.def). */
static const char *const config_vars[] = {
#define GP_CONFIG_VAR(name, loader) #name,
#include "config.def"
#undef GP_CONFIG_VAR
};

/* Where a valid GREENPATCH_STATS file goes: the run's directory, filled in at the start. */
#define TMP_MARK "@TMP@"

struct var_kind {
	const char *name;
	const char *option;	  /* the launcher's option for it */
	const char *const *valid; /* values it takes, NULL-terminated */
	long lo, hi;		  /* any whole number from lo to hi is valid too (hi 0: none) */
};

#define VALUES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const struct var_kind kinds[] = {
	{ "GREENPATCH_STACK_SIZE", "--stack-size",
	  VALUES("16k", "64k", "256k", "1m", "8M", "1g", "1G", "16384", "65536", "2mb", "16KB",
		 "16385", "1048576", "000016k"),
	  16384, 1L << 30 },
	{ "GREENPATCH_LOG", "--log",
	  VALUES("error", "warning", "info", "debug", "ERROR", "Warning", "DeBuG"), 0, 0 },
	{ "GREENPATCH_DEADLOCK", "--deadlock", VALUES("report", "abort"), 0, 0 },
	{ "GREENPATCH_OFFLOAD_THREADS", "--offload-threads", VALUES("1", "4", "256", "0012"), 1,
	  256 },
	{ "GREENPATCH_STATS", "--stats", VALUES("0", "1", TMP_MARK "/stats"), 0, 0 },
	{ "GREENPATCH_NO_INHERIT", "--no-inherit", VALUES("0", "1", ""), 0, 0 },
	{ "GREENPATCH_STALL_MS", "--stall-ms", VALUES("0", "1", "100", "3600000"), 0, 3600000 },
	{ "GREENPATCH_DUMP_SIGNAL", "--dump-signal",
	  VALUES("", "USR2", "SIGUSR1", "usr1", "sigquit", "HUP", "WINCH", "CHLD", "SIGPIPE",
		 "RTMIN", "RTMIN+1", "SIGRTMAX", "RTMAX-2", "rtmin+30", "12", "10", "34", "64"),
	  0, 0 },
	{ "GREENPATCH_UNPATCH", "--unpatch",
	  VALUES("", "io", "stdio", "socket", "poll", "offload", "time", "block", "stdio,offload",
		 "io,stdio,socket,poll,offload,time,block", "time,time"),
	  0, 0 },
	{ "GREENPATCH_TLS", "--tls", VALUES("thread", "shared"), 0, 0 },
	{ "GREENPATCH_STACK_GUARD", "--stack-guard", VALUES("auto", "mprotect"), 0, 0 },
	{ "GREENPATCH_HANDOFF", "--handoff",
	  VALUES("0", "0us", "0s", "50us", "500us", "1ms", "2ms", "1s", "3600s", "3600000ms"), 0,
	  0 },
	{ "GREENPATCH_MAX_THREADS", "--max-threads", VALUES("1", "2", "256", "100000"), 1,
	  100000 },
	{ "GREENPATCH_CARRIERS", "--carriers", VALUES("1", "2", "4", "1024"), 1, 1024 },
};

/* Forms parsers get wrong, for any variable. */
static const char *const hostile[] = {
	"", " ", "\t", " \n", "0", "-0", "+0", "-1", "+1", "--1", "1-", " 1", "1 ", "1\n", "00",
	"007", "0x10", "0X1f", "010", "0o17", "0b101", "1e3", "1.5", "1,000", "1_000",
	"2147483647", "2147483648", "-2147483649", "4294967295", "4294967296",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808",
	"18446744073709551615", "18446744073709551616", "99999999999999999999999999999",
	"1k", "1K", "1kb", "1KB", "1KiB", "1kk", "1 k", "1t", "1p", "1e", "1b", "k",
	"17179869184g", "18014398509481984k", "18446744073709551615k", "16383", "1073741825",
	"2g", "0us", "49us", "1ns", "5min", "1h", "1sec", "1S", "1MS", "3601s", "3600001",
	"4000000000000ms", "18446744073709551615us", "257", "100001", "SIG", "SIGRTMIN+",
	"RTMIN-1", "RTMAX+1", "RTMIN+31", "RTMIN+99999999999999999999",
	"RTMAX-99999999999999999999",
	"SIGKILL", "STOP", "SEGV", "9", "31", "32", "33", "65", "-12", ",", "io,", ",io",
	"io,,io", "IO", "all", "report ", "abort\n", "ABORT", "Thread", "shared\x01",
	"mprotect\xff", "yes", "no", "true", "on", "'", "\\", "it's", "a=b", "=", "%s%n%x",
	"$(id)", "\x01", "\x1f", "\x7f", "\x80", "\xff", "\xc3\x28", "\xe2\x82", "\xf0\x28\x8c\xbc",
	"\xc0\xaf", "\xed\xa0\x80", "\xef\xbb\xbf" "1", "debug\r", "\x1b[31mred",
};

static const char *const suffixes[] = {
	"k", "m", "g", "b", "kb", "KiB", "t", "us", "ms", "s", "ns", " ", "\n", "x", ",io", "+1",
};

static const char *const prefixes[] = { "+", "-", " ", "0", "0x", "\t", "SIG", "\xff" };

/* Names the library does not read: with the prefix, or close to it. */
static const char *const unknown_names[] = {
	"GREENPATCH_", "GREENPATCH_STACK", "GREENPATCH_STACKSIZE", "GREENPATCH_STACK_SIZE_",
	"GREENPATCH_LOG2", "GREENPATCH_log", "GREENPATCH_STATS_FILE", "GREENPATCH_HANDOFF_NS",
	"GREENPATCH_FOO", "greenpatch_log", "GREENPATCHLOG", "XGREENPATCH_LOG",
};

/* ---- a case ------------------------------------------------------------------------ */

/* A variable as the program gets it: from the environment, or from a launcher option. */
struct setting {
	char *name;
	char *value; /* NULL: an environment entry without '=' */
	bool valid;  /* from the valid list of a variable the library reads */
};

struct fuzz_case {
	uint64_t seed;
	bool env_i;	/* an empty environment, as under env -i */
	bool launcher;	/* through build/greenpatch */
	bool valid_only; /* every variable the library reads gets a valid value */
	const char *prog;
	struct setting env[48]; /* GREENPATCH_* entries, in environment order */
	size_t nenv;
	char *args[64]; /* the launcher's options, before "--" */
	size_t nargs;
	struct setting opt[32]; /* what those options set, in order */
	size_t nopt;
	int long_values;
};

struct fuzz_ctx {
	char *tmpdir; /* the children's working directory, and where stats files go */
	uint64_t seed;
	long runs, started, stopped, failed, hung;
};

static char *xstrdup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	cr_assert_not_null(d, "out of memory");
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *xstrdup(const char *s)
{
	return xstrdup_n(s, strlen(s));
}

static char *repeat(const char *unit, size_t len)
{
	char *s = malloc(len + 1);
	cr_assert_not_null(s, "out of memory");
	size_t ulen = strlen(unit);
	for (size_t i = 0; i < len; i++)
		s[i] = unit[i % ulen];
	s[len] = '\0';
	return s;
}

static const struct var_kind *kind_of(const char *name)
{
	for (size_t i = 0; i < GP_COUNT(kinds); i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

static bool is_config_var(const char *name)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++)
		if (strcmp(config_vars[i], name) == 0)
			return true;
	return false;
}

/* ---- drawing values ---------------------------------------------------------------- */

static char *random_bytes(struct rng *r, size_t len)
{
	char *s = malloc(len + 1);
	cr_assert_not_null(s, "out of memory");
	for (size_t i = 0; i < len; i++)
		s[i] = (char)(1 + rng_below(r, 255));
	s[len] = '\0';
	return s;
}

static char *valid_value(struct rng *r, const struct var_kind *k, struct fuzz_ctx *ctx)
{
	size_t n = 0;
	while (k->valid[n])
		n++;
	if (k->hi && rng_percent(r, 30))
		return gp_asprintf("%ld", k->lo + (long)rng_below(r, (size_t)(k->hi - k->lo + 1)));
	const char *v = k->valid[rng_below(r, n)];
	if (strncmp(v, TMP_MARK, strlen(TMP_MARK)) == 0)
		return gp_asprintf("%s%s", ctx->tmpdir, v + strlen(TMP_MARK));
	return xstrdup(v);
}

/* A valid value changed by one byte, or with something before or after it. */
static char *mutated(struct rng *r, const struct var_kind *k, struct fuzz_ctx *ctx)
{
	char *v = valid_value(r, k, ctx), *m;
	size_t len = strlen(v), at = rng_below(r, len + 1);
	char byte[2] = { (char)(1 + rng_below(r, 255)), '\0' };
	switch (rng_below(r, 6)) {
	case 0: /* insert a byte */
		m = gp_asprintf("%.*s%s%s", (int)at, v, byte, v + at);
		break;
	case 1: /* delete one */
		at = len ? at % len : 0;
		m = len ? gp_asprintf("%.*s%s", (int)at, v, v + at + 1) : xstrdup(byte);
		break;
	case 2: /* replace one */
		m = xstrdup(v);
		if (len)
			m[at % len] = byte[0];
		break;
	case 3:
		m = gp_asprintf("%s%s", v, PICK(r, suffixes));
		break;
	case 4:
		m = gp_asprintf("%s%s", PICK(r, prefixes), v);
		break;
	default: /* twice */
		m = gp_asprintf("%s%s", v, v);
		break;
	}
	free(v);
	return m;
}

/* A number too big for long, size_t or int once its suffix applies, or just outside the range. */
static char *huge_number(struct rng *r, const struct var_kind *k)
{
	if (k->hi && rng_percent(r, 40))
		return gp_asprintf("%ld", rng_percent(r, 50) ? k->lo - 1 : k->hi + 1);
	size_t digits = 10 + rng_below(r, 40);
	char *s = malloc(digits + 1);
	cr_assert_not_null(s, "out of memory");
	s[0] = (char)('1' + rng_below(r, 9));
	for (size_t i = 1; i < digits; i++)
		s[i] = (char)('0' + rng_below(r, 10));
	s[digits] = '\0';
	if (!rng_percent(r, 50))
		return s;
	char *t = gp_asprintf("%s%s", s, PICK(r, suffixes));
	free(s);
	return t;
}

/* 100 KB: one character, digits that overflow, zeros before a valid value, or any bytes. */
static char *long_value(struct rng *r, const struct var_kind *k, struct fuzz_ctx *ctx)
{
	static const char *const units[] = { "x", "9", "0", " ", "\xff", "ab", "1k" };
	switch (rng_below(r, 4)) {
	case 0:
		return repeat(PICK(r, units), LONG_VALUE);
	case 1: {
		char *v = valid_value(r, k, ctx);
		char *zeros = repeat("0", LONG_VALUE - strlen(v));
		char *s = gp_asprintf("%s%s", zeros, v);
		free(zeros);
		free(v);
		return s;
	}
	case 2:
		return random_bytes(r, LONG_VALUE);
	default:
		return repeat(PICK(r, units), 4096 + rng_below(r, LONG_VALUE - 4096));
	}
}

/*
 * A GREENPATCH_STATS value that is not from the valid list stays a name inside the run's
 * directory, whatever it holds: a '/' in it would name a file anywhere.
 */
static char *confined_stats(struct rng *r, char *v, struct fuzz_ctx *ctx)
{
	for (char *p = v; *p; p++)
		if (*p == '/')
			*p = '_';
	if (!rng_percent(r, 40))
		return v;
	char *s = gp_asprintf("%s/%s", ctx->tmpdir, v);
	free(v);
	return s;
}

/* A value for k: valid, or hostile in one of several ways. *valid says which. */
static char *draw_value(struct rng *r, const struct var_kind *k, struct fuzz_case *c,
			struct fuzz_ctx *ctx, bool *valid)
{
	char *v;
	*valid = false;
	switch (c->valid_only ? 0 : rng_below(r, 10)) {
	case 0: case 1: case 2: case 3:
		*valid = true;
		return valid_value(r, k, ctx);
	case 4: case 5:
		v = xstrdup(PICK(r, hostile));
		break;
	case 6:
		v = mutated(r, k, ctx);
		break;
	case 7:
		v = huge_number(r, k);
		break;
	case 8:
		v = random_bytes(r, 1 + rng_below(r, 24));
		break;
	default:
		if (c->long_values < MAX_LONG_VALUES) {
			c->long_values++;
			v = long_value(r, k, ctx);
		} else {
			v = random_bytes(r, 1 + rng_below(r, 24));
		}
		break;
	}
	return strcmp(k->name, "GREENPATCH_STATS") == 0 ? confined_stats(r, v, ctx) : v;
}

/* ---- building a case --------------------------------------------------------------- */

static void add_env(struct fuzz_case *c, char *name, char *value, bool valid)
{
	cr_assert_lt(c->nenv, GP_COUNT(c->env), "too many environment entries");
	c->env[c->nenv++] = (struct setting){ name, value, valid };
}

static void add_arg(struct fuzz_case *c, char *arg)
{
	cr_assert_lt(c->nargs, GP_COUNT(c->args), "too many launcher arguments");
	c->args[c->nargs++] = arg;
}

static void add_opt(struct fuzz_case *c, const char *name, char *value, bool valid)
{
	cr_assert_lt(c->nopt, GP_COUNT(c->opt), "too many launcher options");
	c->opt[c->nopt++] = (struct setting){ xstrdup(name), value, valid };
}

/*
 * Sets k's value v through its launcher option, if the option can carry it: true then.
 * The launcher makes a relative --stats=FILE absolute, from the run's directory.
 */
static bool set_by_option(struct rng *r, struct fuzz_case *c, const struct var_kind *k, char *v,
			  bool valid, struct fuzz_ctx *ctx)
{
	if (strcmp(k->option, "--no-inherit") == 0 || strcmp(k->option, "--stats") == 0) {
		if (strcmp(v, "1") == 0) {
			add_arg(c, xstrdup(k->option));
		} else if (strcmp(k->option, "--stats") == 0 && *v) {
			add_arg(c, gp_asprintf("--stats=%s", v));
			if (*v != '/') {
				char *abs = gp_asprintf("%s/%s", ctx->tmpdir, v);
				free(v);
				v = abs;
			}
		} else {
			return false;
		}
	} else if (rng_percent(r, 50)) {
		add_arg(c, xstrdup(k->option));
		add_arg(c, xstrdup(v));
	} else {
		add_arg(c, gp_asprintf("%s=%s", k->option, v));
	}
	add_opt(c, k->name, v, valid);
	return true;
}

/* An unknown name: from the list, with bytes that are not text, or 100 KB long. */
static char *unknown_name(struct rng *r, bool launcher)
{
	if (launcher || rng_percent(r, 70))
		return xstrdup(PICK(r, unknown_names));
	if (rng_percent(r, 50)) {
		char *tail = random_bytes(r, 1 + rng_below(r, 12));
		for (char *p = tail; *p; p++)
			if (*p == '=')
				*p = '_';
		char *name = gp_asprintf("GREENPATCH_%s", tail);
		free(tail);
		return name;
	}
	char *tail = repeat("X", LONG_VALUE);
	char *name = gp_asprintf("GREENPATCH_%s", tail);
	free(tail);
	return name;
}

static void draw_unknown(struct rng *r, struct fuzz_case *c)
{
	size_t n = rng_percent(r, 80) ? 0 : 1 + rng_below(r, 3);
	for (size_t i = 0; i < n; i++) {
		char *name = unknown_name(r, c->launcher);
		bool no_eq = !c->launcher && rng_percent(r, 15);
		add_env(c, name, no_eq ? NULL : xstrdup(PICK(r, hostile)), false);
	}
}

/*
 * Each variable absent or set, in random order; launched, some through their option;
 * directly, now and then a variable twice (the first counts) or a known name without
 * '=' (it sets nothing).
 */
static void draw_case(uint64_t seed, struct fuzz_case *c, struct fuzz_ctx *ctx)
{
	struct rng r = { seed };
	*c = (struct fuzz_case){ .seed = seed };
	c->env_i = rng_percent(&r, 30);
	c->launcher = rng_percent(&r, 25);
	c->prog = rng_percent(&r, 80) ? "config_probe" : "config_probe.fortify";
	c->valid_only = rng_percent(&r, 30);
	unsigned density = (unsigned)PICK(&r, ((const unsigned[]){ 8, 15, 30, 60, 100 }));
	size_t order[GP_COUNT(kinds)];
	for (size_t i = 0; i < GP_COUNT(kinds); i++)
		order[i] = i;
	for (size_t i = GP_COUNT(kinds) - 1; i > 0; i--) {
		size_t j = rng_below(&r, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < GP_COUNT(kinds); i++) {
		const struct var_kind *k = &kinds[order[i]];
		if (!rng_percent(&r, density))
			continue;
		bool valid;
		char *v = draw_value(&r, k, c, ctx, &valid);
		if (c->launcher && rng_percent(&r, 50) && set_by_option(&r, c, k, v, valid, ctx)) {
			if (rng_percent(&r, 10)) /* which the option overrides */
				add_env(c, xstrdup(k->name), xstrdup(PICK(&r, hostile)), false);
			continue;
		}
		if (!c->launcher && rng_percent(&r, 5))
			add_env(c, xstrdup(k->name), NULL, false);
		add_env(c, xstrdup(k->name), v, valid);
		if (!c->launcher && rng_percent(&r, 5))
			add_env(c, xstrdup(k->name), xstrdup(PICK(&r, hostile)), false);
	}
	if (c->launcher && rng_percent(&r, 10)) {
		add_arg(c, xstrdup("-q"));
		add_opt(c, "GREENPATCH_LOG", xstrdup("error"), true);
	}
	draw_unknown(&r, c);
}

static void free_case(struct fuzz_case *c)
{
	for (size_t i = 0; i < c->nenv; i++) {
		free(c->env[i].name);
		free(c->env[i].value);
	}
	for (size_t i = 0; i < c->nopt; i++) {
		free(c->opt[i].name);
		free(c->opt[i].value);
	}
	for (size_t i = 0; i < c->nargs; i++)
		free(c->args[i]);
}

/* The value the program sees for name: the last option that sets it, else the first entry. */
static const struct setting *effective(const struct fuzz_case *c, const char *name)
{
	for (size_t i = c->nopt; i-- > 0;)
		if (strcmp(c->opt[i].name, name) == 0)
			return &c->opt[i];
	for (size_t i = 0; i < c->nenv; i++)
		if (c->env[i].value && strcmp(c->env[i].name, name) == 0)
			return &c->env[i];
	return NULL;
}

/* ---- running a case ---------------------------------------------------------------- */

extern char **environ;

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * The child's environment, given whole (gp_cmd.env_only): the runner's without its
 * GREENPATCH_* and LD_PRELOAD, or none under env -i, then the case's entries. The
 * launcher gets no LD_PRELOAD, as in tests/shim_launcher.c: the library in it would be
 * preloaded into the launcher's shell and the tools it runs too.
 */
static char **case_env(const struct fuzz_case *c)
{
	size_t n = 0, k = 0;
	for (char **e = environ; *e; e++)
		n++;
	char **env = calloc(n + c->nenv + 1, sizeof(*env));
	cr_assert_not_null(env, "out of memory");
	for (char **e = environ; *e && !c->env_i; e++)
		if (!starts_with(*e, "GREENPATCH_") && !starts_with(*e, "LD_PRELOAD="))
			env[k++] = xstrdup(*e);
	for (size_t i = 0; i < c->nenv; i++)
		env[k++] = c->env[i].value ? gp_asprintf("%s=%s", c->env[i].name, c->env[i].value)
					   : xstrdup(c->env[i].name);
	env[k] = NULL;
	return env;
}

static void free_strv(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char *launcher_path(void)
{
	const char *lib = gp_env("GP_TEST_LIB");
	return gp_asprintf("%.*s/greenpatch", (int)(strrchr(lib, '/') - lib), lib);
}

static void run_case(const struct fuzz_case *c, struct gp_run *r)
{
	char **env = case_env(c);
	char *launcher = NULL, *prog = NULL;
	char *argv[GP_COUNT(c->args) + 3];
	struct gp_cmd cmd = { .prog = c->prog, .shim = !c->launcher, .env = env,
			      .env_only = true, .timeout_s = RUN_TIMEOUT_S };
	if (c->launcher) {
		launcher = launcher_path();
		prog = gp_prog_path(c->prog);
		size_t n = 0;
		for (size_t i = 0; i < c->nargs; i++)
			argv[n++] = c->args[i];
		argv[n++] = "--";
		argv[n++] = prog;
		argv[n] = NULL;
		cmd.prog = launcher;
		cmd.argv = argv;
	}
	gp_run(&cmd, r);
	free_strv(env);
	free(launcher);
	free(prog);
}

/* ---- describing a case ------------------------------------------------------------- */

/* s (len bytes) in bash's $'...' quoting. */
static void put_quoted_bytes(FILE *f, const char *s, size_t len)
{
	fputs("$'", f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\'' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('\'', f);
}

/*
 * s (len bytes) as bash reads it back ($'...' when it has to). Beyond max bytes, its
 * start and its end: a long value is drawn as a repeated unit, or zeros before a value.
 */
static void put_shell_bytes(FILE *f, const char *s, size_t len, size_t max)
{
	bool plain = len > 0;
	for (size_t i = 0; i < len && plain; i++)
		plain = isalnum((unsigned char)s[i]) || (s[i] && strchr("_-+.,/:=@%", s[i]));
	if (plain && len <= max) {
		fwrite(s, 1, len, f);
	} else if (len <= max) {
		put_quoted_bytes(f, s, len);
	} else {
		put_quoted_bytes(f, s, max);
		fputs("...", f);
		put_quoted_bytes(f, s + len - SHOW_TAIL, SHOW_TAIL);
		fprintf(f, "(%zu bytes in all)", len);
	}
}

static void put_shell_word(FILE *f, const char *s)
{
	put_shell_bytes(f, s, strlen(s), SHOW_VALUE);
}

/* How a run ended, and what it wrote, escaped. */
static void put_run(FILE *f, const struct gp_run *r)
{
	char st[128];
	fprintf(f, "  %s after %.2f s\n  stdout: ", gp_status_str(r, st, sizeof(st)),
		r->elapsed_s);
	put_shell_bytes(f, r->out, r->out_len, SHOW_OUTPUT);
	fputs("\n  stderr: ", f);
	put_shell_bytes(f, r->err, r->err_len, SHOW_OUTPUT);
}

/* The command line that reproduces the case, the seed that draws it again, and its run. */
static char *describe_case(const struct fuzz_case *c, const struct fuzz_ctx *ctx,
			   const struct gp_run *r)
{
	char *p = NULL;
	size_t n;
	FILE *f = open_memstream(&p, &n);
	fprintf(f, "case GP_FUZZ_CASE=%#" PRIx64, c->seed);
	if (ctx->seed)
		fprintf(f, " (run %ld of GP_FUZZ_SEED=%" PRIu64 ")", ctx->runs, ctx->seed);
	fprintf(f, ", in %s:\n  ", ctx->tmpdir);
	fputs(c->env_i ? "env -i" : "env (the runner's, without GREENPATCH_*)", f);
	if (!c->launcher)
		fprintf(f, " LD_PRELOAD=%s", gp_env("GP_TEST_PRELOAD"));
	for (size_t i = 0; i < c->nenv; i++) {
		fputc(' ', f);
		if (c->env[i].value) {
			char *entry = gp_asprintf("%s=%s", c->env[i].name, c->env[i].value);
			put_shell_word(f, entry);
			free(entry);
		} else {
			put_shell_word(f, c->env[i].name);
			fputs(" (no '=')", f);
		}
	}
	if (c->launcher) {
		char *l = launcher_path();
		fprintf(f, " %s", l);
		free(l);
		for (size_t i = 0; i < c->nargs; i++) {
			fputc(' ', f);
			put_shell_word(f, c->args[i]);
		}
		fputs(" --", f);
	}
	fprintf(f, " %s/%s\n", gp_env("GP_TEST_PROGS"), c->prog);
	put_run(f, r);
	fclose(f);
	return p;
}

/* ---- the verdict ------------------------------------------------------------------- */

static bool all_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool graphic_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* A value the line must show as it is: short, printable, nothing to escape. */
static bool shown_as_is(const char *v)
{
	return strlen(v) <= 32 && all_printable(v, strlen(v)) && !strpbrk(v, "'\\");
}

/* Every variable the library reads that is set has a valid value. */
static bool only_valid_values(const struct fuzz_case *c)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++) {
		const struct setting *s = effective(c, config_vars[i]);
		if (s && !s->valid)
			return false;
	}
	return true;
}

/* A variable the library reads, but GREENPATCH_STATS, whose value no parser may take. */
static const struct setting *surely_bad(const struct fuzz_case *c)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++) {
		const struct setting *s = effective(c, config_vars[i]);
		if (s && strcmp(s->name, "GREENPATCH_STATS") != 0 && *s->value &&
		    !graphic_ascii(s->value))
			return s;
	}
	return NULL;
}

/* A GREENPATCH_ name the library does not read is in the environment. */
static bool has_unknown_name(const struct fuzz_case *c)
{
	for (size_t i = 0; i < c->nenv; i++)
		if (starts_with(c->env[i].name, "GREENPATCH_") && !is_config_var(c->env[i].name))
			return true;
	return false;
}

/* Whether a run that started had to warn about a name the library does not read. */
static char *check_warning(const struct fuzz_case *c, const struct gp_run *r)
{
	const struct setting *log = effective(c, "GREENPATCH_LOG");
	bool want = has_unknown_name(c) && !(log && strcasecmp(log->value, "error") == 0);
	bool warned = strstr(r->err, " the library reads: ignored\n") != NULL;
	if (want && !warned)
		return gp_asprintf("the run started without a warning about the name the library "
				   "does not read");
	if (warned && !want)
		return gp_asprintf("the run warned about a name the library does not read, "
				   "though there is none, or GREENPATCH_LOG=error");
	return NULL;
}

static bool started(const struct gp_run *r)
{
	return !r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 &&
	       strcmp(r->out, PROBE_OUTPUT) == 0;
}

/* NULL when the run stopped as it should, else why not (to free). */
static char *check_stop_line(const struct fuzz_case *c, const struct gp_run *r)
{
	if (r->timed_out || !WIFEXITED(r->status) || WEXITSTATUS(r->status) != 2)
		return gp_asprintf("neither started nor stopped with status 2");
	if (r->out_len)
		return gp_asprintf("stopped with status 2, but main ran (stdout not empty)");
	if (r->err_len == 0 || r->err[r->err_len - 1] != '\n' ||
	    gp_count_lines(r->err, r->err_len) != 1)
		return gp_asprintf("stopped, but with %zu lines on stderr, not one",
				   gp_count_lines(r->err, r->err_len));
	if (!all_printable(r->err, r->err_len - 1))
		return gp_asprintf("the line is not all printable ASCII");
	if (r->err_len > 512)
		return gp_asprintf("the line is %zu bytes long", r->err_len);
	if (!starts_with(r->err, "greenpatch: GREENPATCH_") || !strstr(r->err, "='"))
		return gp_asprintf("the line is not \"greenpatch: GREENPATCH_NAME='VALUE' why\"");
	char *name = xstrdup_n(r->err + 12, strcspn(r->err + 12, "="));
	const struct setting *s = effective(c, name);
	char *why = NULL;
	if (!is_config_var(name))
		why = gp_asprintf("the line names %s, which the library does not read", name);
	else if (!s)
		why = gp_asprintf("the line names %s, which is not set", name);
	else if (shown_as_is(s->value)) {
		char *want = gp_asprintf("greenpatch: %s='%s' ", name, s->value);
		if (!starts_with(r->err, want))
			why = gp_asprintf("the line does not start with \"%s\"", want);
		free(want);
	}
	free(name);
	return why;
}

/* The same stop with the variable named alone, in an empty environment. */
static char *check_alone(const struct fuzz_case *c, const struct gp_run *r)
{
	char *name = xstrdup_n(r->err + 12, strcspn(r->err + 12, "="));
	const struct setting *s = effective(c, name);
	char *entry = gp_asprintf("%s=%s", name, s->value);
	char *env[] = { entry, NULL };
	struct gp_cmd cmd = { .prog = "config_probe", .shim = true, .env = env, .env_only = true,
			      .timeout_s = RUN_TIMEOUT_S };
	struct gp_run a;
	gp_run(&cmd, &a);
	char *why = NULL;
	if (a.timed_out || !WIFEXITED(a.status) || WEXITSTATUS(a.status) != 2 ||
	    a.err_len != r->err_len || memcmp(a.err, r->err, r->err_len) != 0) {
		size_t n;
		FILE *f = open_memstream(&why, &n);
		fprintf(f, "with %s alone, the run does not stop with the same line:\n", name);
		put_run(f, &a);
		fclose(f);
	}
	gp_run_free(&a);
	free(entry);
	free(name);
	return why;
}

/* NULL when the run is one of the two allowed outcomes, else why not (to free). */
static char *verdict(const struct fuzz_case *c, const struct gp_run *r, struct fuzz_ctx *ctx)
{
	const struct setting *bad = surely_bad(c);
	if (started(r)) {
		ctx->started++;
		if (bad)
			return gp_asprintf("the run started, though %s has a byte that is not "
					   "graphic ASCII", bad->name);
		return check_warning(c, r);
	}
	char *why = check_stop_line(c, r);
	if (!why && only_valid_values(c))
		why = gp_asprintf("the run stopped, though every value is valid");
	if (!why)
		why = check_alone(c, r);
	if (!why)
		ctx->stopped++;
	return why;
}

/* Runs one case, and reports it if it fails. */
static void fuzz_one(uint64_t seed, struct fuzz_ctx *ctx)
{
	struct fuzz_case c;
	struct gp_run r;
	draw_case(seed, &c, ctx);
	run_case(&c, &r);
	ctx->runs++;
	ctx->hung += r.timed_out;
	char *why = verdict(&c, &r, ctx);
	if (why) {
		char *what = describe_case(&c, ctx, &r);
		cr_expect_fail("%s\n%s", why, what);
		ctx->failed++;
		free(what);
		free(why);
	}
	gp_run_free(&r);
	free_case(&c);
}

/* ---- the fuzzer -------------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	errno = 0;
	uint64_t n = strtoull(v, &end, 0);
	cr_assert(!errno && !*end, "%s=%s is not a number", name, v);
	return n;
}

/* The seed of run i of a fuzz with seed: independent of the other runs. */
static uint64_t case_seed(uint64_t seed, long i)
{
	struct rng r = { seed ^ ((uint64_t)i * 0xd1342543de82ef95ull) };
	return rng_next(&r);
}

static void fuzz_start(struct fuzz_ctx *ctx)
{
	ctx->tmpdir = xstrdup("/tmp/gp-config-fuzz-XXXXXX");
	cr_assert_not_null(mkdtemp(ctx->tmpdir), "mkdtemp: %s", strerror(errno));
	/* Relative GREENPATCH_STATS files, and the launcher's, land there. */
	cr_assert_eq(chdir(ctx->tmpdir), 0, "chdir %s", ctx->tmpdir);
}

static void fuzz_end(struct fuzz_ctx *ctx)
{
	cr_expect_eq(chdir("/"), 0, "chdir /");
	char *cmd = gp_asprintf("rm -rf '%s'", ctx->tmpdir);
	cr_expect_eq(system(cmd), 0, "%s", cmd);
	free(cmd);
	free(ctx->tmpdir);
}

Test(config_fuzz, random)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t clock_seed = (uint64_t)now.tv_sec * 1000003u ^ (uint64_t)now.tv_nsec;
	struct fuzz_ctx ctx = { .seed = env_u64("GP_FUZZ_SEED", clock_seed) };
	long runs = (long)env_u64("GP_FUZZ_RUNS", DEFAULT_RUNS);
	uint64_t only = env_u64("GP_FUZZ_CASE", 0);
	fuzz_start(&ctx);
	if (only) {
		ctx.seed = 0;
		fprintf(stderr, "config_fuzz: GP_FUZZ_CASE=%#" PRIx64 " alone\n", only);
		fuzz_one(only, &ctx);
	} else {
		fprintf(stderr, "config_fuzz: GP_FUZZ_SEED=%" PRIu64 ", %ld runs\n", ctx.seed, runs);
		for (long i = 0; i < runs && ctx.failed < MAX_FAILURES; i++)
			fuzz_one(case_seed(ctx.seed, i), &ctx);
	}
	fprintf(stderr, "config_fuzz: %ld runs (GP_FUZZ_SEED=%" PRIu64 "): %ld started, %ld "
		"stopped with one line (each also with its variable alone), %ld failed, %ld hung\n",
		ctx.runs, ctx.seed, ctx.started, ctx.stopped, ctx.failed, ctx.hung);
	fuzz_end(&ctx);
}

/* Every variable the library reads has a kind here, so that the fuzzer draws it. */
Test(config_fuzz, every_variable_is_drawn)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++)
		cr_expect_not_null(kind_of(config_vars[i]), "%s (core/config.def) has no entry in "
				   "kinds[] of tests/shim_config_fuzz.c", config_vars[i]);
	for (size_t i = 0; i < GP_COUNT(kinds); i++)
		cr_expect(is_config_var(kinds[i].name), "kinds[] has %s, which the library does "
			  "not read", kinds[i].name);
}

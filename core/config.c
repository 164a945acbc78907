#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <sys/auxv.h>

#include "util.h"

struct gp_config gp_config = {
	.stack_size = 0,
	.log_level = GP_LOG_WARNING,
	.stall_ms = GP_STALL_MS_DEFAULT,
	.handoff_ns = GP_HANDOFF_NS_DEFAULT,
	.max_threads = GP_MAX_THREADS_DEFAULT,
};

int gp_parse_size(const char *s, size_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unsigned shift = 0;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	}
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end != '\0' || v > (SIZE_MAX >> shift))
		return -EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

static const char *const log_names[] = { "error", "warning", "info", "debug" };

static int parse_log_level(const char *s, int *out)
{
	for (size_t i = 0; i < GP_ARRAY_LEN(log_names); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * A loader takes the value of its variable, which is set: 0 with gp_config changed, or
 * -EINVAL with why the value is refused in why ("is not a size (e.g. 256k, 8m)"), which
 * gp_config_load puts after the variable and its value.
 */
static int load_stack_size(const char *v, char *why, size_t whylen)
{
	size_t size;
	if (gp_parse_size(v, &size) < 0) {
		snprintf(why, whylen, "is not a size (e.g. 256k, 8m)");
		return -EINVAL;
	}
	if (size < GP_STACK_MIN || size > ((size_t)1 << 30)) {
		snprintf(why, whylen, "is out of range (16k to 1g)");
		return -EINVAL;
	}
	gp_config.stack_size = size;
	return 0;
}

static int load_log_level(const char *v, char *why, size_t whylen)
{
	if (parse_log_level(v, &gp_config.log_level) < 0) {
		snprintf(why, whylen, "is not a log level (error, warning, info, debug)");
		return -EINVAL;
	}
	return 0;
}

/* A value that is one of two words: *out is 0 for the first (the default), 1 for the other. */
static int load_either(const char *v, const char *first, const char *other, int *out,
		       char *why, size_t whylen)
{
	if (strcmp(v, first) == 0 || strcmp(v, other) == 0) {
		*out = strcmp(v, other) == 0;
		return 0;
	}
	snprintf(why, whylen, "is not one of %s, %s", first, other);
	return -EINVAL;
}

static int load_deadlock(const char *v, char *why, size_t whylen)
{
	return load_either(v, "report", "abort", &gp_config.deadlock_abort, why, whylen);
}

static int load_tls(const char *v, char *why, size_t whylen)
{
	return load_either(v, "thread", "shared", &gp_config.tls_shared, why, whylen);
}

static int load_stack_guard(const char *v, char *why, size_t whylen)
{
	return load_either(v, "auto", "mprotect", &gp_config.stack_guard_mprotect, why, whylen);
}

/* A whole decimal number from lo to hi, digits only: true and *out. */
static bool parse_count(const char *v, long lo, long hi, long *out)
{
	if (!isdigit((unsigned char)*v))
		return false;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* v as a count from lo to hi, what it counts named in the reason: 0 with *out set, or -EINVAL. */
static int load_count(const char *v, long lo, long hi, const char *what, long *out,
		      char *why, size_t whylen)
{
	if (!parse_count(v, lo, hi, out)) {
		snprintf(why, whylen, "is not a number of %s from %ld to %ld", what, lo, hi);
		return -EINVAL;
	}
	return 0;
}

static int load_offload_threads(const char *v, char *why, size_t whylen)
{
	long n;
	int rc = load_count(v, 1, 256, "threads", &n, why, whylen);
	if (rc == 0)
		gp_config.offload_threads = (int)n;
	return rc;
}

/* 0 or 1 (1: on standard error), or a file path with a '/' in it. */
static int load_stats(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "1") == 0) {
		gp_config.stats = "";
		return 0;
	}
	if (strchr(v, '/')) {
		gp_config.stats = v;
		return 0;
	}
	snprintf(why, whylen, "is not 0, 1 or a file path containing a '/'");
	return -EINVAL;
}

static int load_no_inherit(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "0") == 0 || strcmp(v, "") == 0)
		return 0;
	if (strcmp(v, "1") == 0) {
		gp_config.no_inherit = 1;
		return 0;
	}
	snprintf(why, whylen, "is not 0 or 1");
	return -EINVAL;
}

static int load_stall_ms(const char *v, char *why, size_t whylen)
{
	long n;
	if (!parse_count(v, 0, 3600000, &n)) {
		snprintf(why, whylen, "is not a number of milliseconds from 0 (off) to 3600000");
		return -EINVAL;
	}
	gp_config.stall_ms = (unsigned)n;
	return 0;
}

int gp_parse_duration(const char *s, unsigned long *ns)
{
	static const struct { const char *unit; unsigned long ns; } units[] = {
		{ "us", 1000UL }, { "ms", 1000000UL }, { "s", 1000000000UL },
	};
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (v == 0 && *end == '\0') {
		*ns = 0;
		return 0;
	}
	for (size_t i = 0; i < GP_ARRAY_LEN(units); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (v > 3600ULL * 1000000000ULL / units[i].ns)
				return -EINVAL;
			*ns = (unsigned long)(v * units[i].ns);
			return 0;
		}
	}
	return -EINVAL;
}

static int load_handoff(const char *v, char *why, size_t whylen)
{
	unsigned long ns;
	if (gp_parse_duration(v, &ns) < 0 || (ns && ns < 50000UL)) {
		snprintf(why, whylen, "is not 0 (off) or a duration of 50us or more (such as "
			 "500us, 2ms or 1s)");
		return -EINVAL;
	}
	gp_config.handoff_ns = ns;
	return 0;
}

static int load_max_threads(const char *v, char *why, size_t whylen)
{
	long n;
	int rc = load_count(v, 1, 100000, "kernel threads", &n, why, whylen);
	if (rc == 0)
		gp_config.max_threads = (unsigned)n;
	return rc;
}

static int load_carriers(const char *v, char *why, size_t whylen)
{
	long n;
	int rc = load_count(v, 1, 1024, "carriers", &n, why, whylen);
	if (rc == 0)
		gp_config.carriers = (unsigned)n;
	return rc;
}

/* Signals a dump may use: those whose default action does not matter to the program. */
static const struct { const char *name; int sig; } signal_names[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR }, { "SYS", SIGSYS },
};

/* A signal a handler can be installed for: not KILL, STOP, or a fault (SEGV, BUS...). */
static bool dump_signal_ok(int sig)
{
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		return true;
	for (size_t i = 0; i < GP_ARRAY_LEN(signal_names); i++)
		if (signal_names[i].sig == sig)
			return true;
	return false;
}

int gp_parse_signal(const char *s)
{
	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)*s)) {
		char *end;
		errno = 0;
		long n = strtol(s, &end, 10);
		return errno || *end || n > 64 || !dump_signal_ok((int)n) ? -EINVAL : (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < GP_ARRAY_LEN(signal_names); i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].sig;
	int base, sign;
	if (strncasecmp(s, "RTMIN", 5) == 0)
		base = SIGRTMIN, sign = 1;
	else if (strncasecmp(s, "RTMAX", 5) == 0)
		base = SIGRTMAX, sign = -1;
	else
		return -EINVAL;
	s += 5;
	if (!*s)
		return base;
	if (*s != (sign > 0 ? '+' : '-') || !isdigit((unsigned char)s[1]))
		return -EINVAL;
	char *end;
	long n = strtol(s + 1, &end, 10);
	if (*end || n > SIGRTMAX - SIGRTMIN)
		return -EINVAL;
	return base + sign * (int)n;
}

static int load_dump_signal(const char *v, char *why, size_t whylen)
{
	if (!*v)
		return 0;
	int sig = gp_parse_signal(v);
	if (sig < 0) {
		snprintf(why, whylen, "is not a signal a handler can take (a name such as USR2, "
			 "SIGQUIT or RTMIN+1, or a number)");
		return -EINVAL;
	}
	gp_config.dump_signal = sig;
	return 0;
}

static const struct {
	const char *name;
	unsigned bit;
} families[] = {
	{ "io", GP_FAM_IO }, { "stdio", GP_FAM_STDIO }, { "socket", GP_FAM_SOCKET },
	{ "poll", GP_FAM_POLL }, { "offload", GP_FAM_OFFLOAD }, { "time", GP_FAM_TIME },
	{ "block", GP_FAM_BLOCK }, { "path", GP_FAM_PATH },
};

/* "stdio,offload": the families named, comma-separated; "" none. */
static int parse_families(const char *v, unsigned *out)
{
	unsigned bits = 0;
	while (*v) {
		size_t len = strcspn(v, ",");
		size_t i;
		for (i = 0; i < sizeof(families) / sizeof(families[0]); i++)
			if (strlen(families[i].name) == len && strncmp(v, families[i].name, len) == 0)
				break;
		if (i == sizeof(families) / sizeof(families[0]))
			return -EINVAL;
		bits |= families[i].bit;
		v += len;
		if (*v == ',' && *++v == '\0')
			return -EINVAL;
	}
	*out = bits;
	return 0;
}

/* The reason names the families from the table, so that it cannot leave one out. */
static int load_unpatch(const char *v, char *why, size_t whylen)
{
	if (parse_families(v, &gp_config.unpatched) == 0)
		return 0;
	int n = snprintf(why, whylen, "is not a comma-separated list of families (");
	for (size_t i = 0; i < GP_ARRAY_LEN(families) && n >= 0 && (size_t)n < whylen; i++)
		n += snprintf(why + n, whylen - (size_t)n, "%s%s", i ? ", " : "",
			      families[i].name);
	if (n >= 0 && (size_t)n < whylen)
		snprintf(why + n, whylen - (size_t)n, ")");
	return -EINVAL;
}

static const struct {
	const char *name;
	int (*load)(const char *v, char *why, size_t whylen);
} variables[] = {
#define GP_CONFIG_VAR(name, loader) { #name, loader },
#include "config.def"
#undef GP_CONFIG_VAR
};

static bool is_variable(const char *name, size_t len)
{
	for (size_t i = 0; i < GP_ARRAY_LEN(variables); i++)
		if (strlen(variables[i].name) == len && memcmp(variables[i].name, name, len) == 0)
			return true;
	return false;
}

/*
 * A GREENPATCH_ name the library does not read is most often a misspelt one, whose value
 * would otherwise be lost without a word: one warning names the first, and counts the
 * others.
 */
static void warn_unknown_names(void)
{
	extern char **environ;
	const char *first = NULL;
	size_t first_len = 0, others = 0;
	for (char **e = environ; e && *e; e++) {
		size_t len = strcspn(*e, "=");
		if (strncmp(*e, "GREENPATCH_", 11) != 0 || is_variable(*e, len))
			continue;
		if (first) {
			others++;
		} else {
			first = *e;
			first_len = len;
		}
	}
	if (!first)
		return;
	char shown[GP_SHOWN_SIZE];
	gp_shown(first, first_len, shown);
	if (others)
		gp_log(GP_LOG_WARNING, "%s and %zu more are not variables the library reads: "
		       "ignored", shown, others);
	else
		gp_log(GP_LOG_WARNING, "%s is not a variable the library reads: ignored", shown);
}

int gp_config_load(char *err, size_t errlen)
{
	/* In secure-execution mode (setuid) the environment is not ours to trust. */
	if (getauxval(AT_SECURE))
		return 0;
	for (size_t i = 0; i < GP_ARRAY_LEN(variables); i++) {
		const char *v = getenv(variables[i].name);
		char why[160], shown[GP_SHOWN_SIZE];
		if (v && variables[i].load(v, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s=%s %s", variables[i].name,
				 gp_shown(v, strlen(v), shown), why);
			return -EINVAL;
		}
	}
	warn_unknown_names();
	return 0;
}

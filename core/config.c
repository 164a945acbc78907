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

static int load_stack_size(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_STACK_SIZE");
	if (!v)
		return 0;
	size_t size;
	if (gp_parse_size(v, &size) < 0) {
		snprintf(err, errlen, "GREENPATCH_STACK_SIZE='%s' is not a size (e.g. 256k, 8m)", v);
		return -EINVAL;
	}
	if (size < GP_STACK_MIN || size > ((size_t)1 << 30)) {
		snprintf(err, errlen,
			 "GREENPATCH_STACK_SIZE='%s' is out of range (16k to 1g)", v);
		return -EINVAL;
	}
	gp_config.stack_size = size;
	return 0;
}

static int load_log_level(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_LOG");
	if (!v)
		return 0;
	if (parse_log_level(v, &gp_config.log_level) < 0) {
		snprintf(err, errlen,
			 "GREENPATCH_LOG='%s' is not a log level (error, warning, info, debug)", v);
		return -EINVAL;
	}
	return 0;
}

static int load_deadlock(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_DEADLOCK");
	if (!v)
		return 0;
	if (strcmp(v, "report") == 0 || strcmp(v, "abort") == 0) {
		gp_config.deadlock_abort = strcmp(v, "abort") == 0;
		return 0;
	}
	snprintf(err, errlen, "GREENPATCH_DEADLOCK='%s' is not one of report, abort", v);
	return -EINVAL;
}

/* A variable that is one of two words: *out is 0 for the first (the default), 1 for the other. */
static int load_either(const char *name, const char *first, const char *other, int *out,
		       char *err, size_t errlen)
{
	const char *v = getenv(name);
	if (!v)
		return 0;
	if (strcmp(v, first) == 0 || strcmp(v, other) == 0) {
		*out = strcmp(v, other) == 0;
		return 0;
	}
	snprintf(err, errlen, "%s='%s' is not one of %s, %s", name, v, first, other);
	return -EINVAL;
}

static int load_tls(char *err, size_t errlen)
{
	return load_either("GREENPATCH_TLS", "thread", "shared", &gp_config.tls_shared, err,
			   errlen);
}

static int load_stack_guard(char *err, size_t errlen)
{
	return load_either("GREENPATCH_STACK_GUARD", "auto", "mprotect",
			   &gp_config.stack_guard_mprotect, err, errlen);
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

/*
 * The variable name as a count from lo to hi, what it counts named in the message:
 * 1 with *out set, 0 if unset, or -EINVAL.
 */
static int load_count(const char *name, long lo, long hi, const char *what, long *out,
		      char *err, size_t errlen)
{
	const char *v = getenv(name);
	if (!v)
		return 0;
	if (!parse_count(v, lo, hi, out)) {
		snprintf(err, errlen, "%s='%s' is not a number of %s from %ld to %ld", name, v,
			 what, lo, hi);
		return -EINVAL;
	}
	return 1;
}

static int load_offload_threads(char *err, size_t errlen)
{
	long n;
	int rc = load_count("GREENPATCH_OFFLOAD_THREADS", 1, 256, "threads", &n, err, errlen);
	if (rc > 0)
		gp_config.offload_threads = (int)n;
	return rc < 0 ? rc : 0;
}

/* 0 or 1 (1: on standard error), or a file path with a '/' in it. */
static int load_stats(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_STATS");
	if (!v || strcmp(v, "0") == 0)
		return 0;
	if (strcmp(v, "1") == 0) {
		gp_config.stats = "";
		return 0;
	}
	if (strchr(v, '/')) {
		gp_config.stats = v;
		return 0;
	}
	snprintf(err, errlen, "GREENPATCH_STATS='%s' is not 0, 1 or a file path containing a '/'",
		 v);
	return -EINVAL;
}

static int load_no_inherit(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_NO_INHERIT");
	if (!v || strcmp(v, "0") == 0 || strcmp(v, "") == 0)
		return 0;
	if (strcmp(v, "1") == 0) {
		gp_config.no_inherit = 1;
		return 0;
	}
	snprintf(err, errlen, "GREENPATCH_NO_INHERIT='%s' is not 0 or 1", v);
	return -EINVAL;
}

static int load_stall_ms(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_STALL_MS");
	if (!v)
		return 0;
	long n;
	if (!parse_count(v, 0, 3600000, &n)) {
		snprintf(err, errlen, "GREENPATCH_STALL_MS='%s' is not a number of milliseconds "
			 "from 0 (off) to 3600000", v);
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

static int load_handoff(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_HANDOFF");
	if (!v)
		return 0;
	unsigned long ns;
	if (gp_parse_duration(v, &ns) < 0 || (ns && ns < 50000UL)) {
		snprintf(err, errlen, "GREENPATCH_HANDOFF='%s' is not 0 (off) or a duration of "
			 "50us or more (such as 500us, 2ms or 1s)", v);
		return -EINVAL;
	}
	gp_config.handoff_ns = ns;
	return 0;
}

static int load_max_threads(char *err, size_t errlen)
{
	long n;
	int rc = load_count("GREENPATCH_MAX_THREADS", 1, 100000, "kernel threads", &n, err,
			    errlen);
	if (rc > 0)
		gp_config.max_threads = (unsigned)n;
	return rc < 0 ? rc : 0;
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

static int load_dump_signal(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_DUMP_SIGNAL");
	if (!v || !*v)
		return 0;
	int sig = gp_parse_signal(v);
	if (sig < 0) {
		snprintf(err, errlen, "GREENPATCH_DUMP_SIGNAL='%s' is not a signal a handler can "
			 "take (a name such as USR2, SIGQUIT or RTMIN+1, or a number)", v);
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

static int load_unpatch(char *err, size_t errlen)
{
	const char *v = getenv("GREENPATCH_UNPATCH");
	if (!v)
		return 0;
	if (parse_families(v, &gp_config.unpatched) == 0)
		return 0;
	snprintf(err, errlen, "GREENPATCH_UNPATCH='%s' is not a comma-separated list of families "
		 "(io, stdio, socket, poll, offload, time, block, path)", v);
	return -EINVAL;
}

int gp_config_load(char *err, size_t errlen)
{
	/* In secure-execution mode (setuid) the environment is not ours to trust. */
	if (getauxval(AT_SECURE))
		return 0;
	int rc = load_stack_size(err, errlen);
	if (rc == 0)
		rc = load_log_level(err, errlen);
	if (rc == 0)
		rc = load_deadlock(err, errlen);
	if (rc == 0)
		rc = load_offload_threads(err, errlen);
	if (rc == 0)
		rc = load_stats(err, errlen);
	if (rc == 0)
		rc = load_no_inherit(err, errlen);
	if (rc == 0)
		rc = load_stall_ms(err, errlen);
	if (rc == 0)
		rc = load_dump_signal(err, errlen);
	if (rc == 0)
		rc = load_unpatch(err, errlen);
	if (rc == 0)
		rc = load_tls(err, errlen);
	if (rc == 0)
		rc = load_stack_guard(err, errlen);
	if (rc == 0)
		rc = load_handoff(err, errlen);
	if (rc == 0)
		rc = load_max_threads(err, errlen);
	return rc;
}

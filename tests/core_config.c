/*
 * core/config: sizes and GREENPATCH_* variables. A bad value must be refused with one
 * message that names the variable, repeats the value and shows the accepted form.
 */
#include "unit.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

Test(core_config, parse_size_accepts, .timeout = UNIT_TIMEOUT)
{
	const struct { const char *s; size_t want; } ok[] = {
		{ "65536", 65536 },
		{ "0", 0 },
		{ "256k", 256 * 1024 },
		{ "16K", 16 * 1024 },
		{ "4kb", 4 * 1024 },
		{ "4KB", 4 * 1024 },
		{ "8m", (size_t)8 << 20 },
		{ "8M", (size_t)8 << 20 },
		{ "2mb", (size_t)2 << 20 },
		{ "1g", (size_t)1 << 30 },
		{ "1G", (size_t)1 << 30 },
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(ok); i++) {
		size_t out = 12345;
		int rc = gp_parse_size(ok[i].s, &out);
		cr_assert_eq(rc, 0, "gp_parse_size(\"%s\") = %d, expected 0", ok[i].s, rc);
		cr_assert_eq(out, ok[i].want, "gp_parse_size(\"%s\") gave %zu, expected %zu",
			     ok[i].s, out, ok[i].want);
	}
}

Test(core_config, parse_size_rejects, .timeout = UNIT_TIMEOUT)
{
	static const char *const bad[] = {
		"", "banana", "-1", "1x", "99999999999999999999", "k", " 1k", "1k ", "1 k",
		"+5", "1kk", "1b", "1.5m", "0x10", "1t",
		"17179869184g",          /* 2^34 GiB: beyond size_t once shifted */
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++) {
		size_t out = 12345;
		int rc = gp_parse_size(bad[i], &out);
		cr_assert_eq(rc, -EINVAL, "gp_parse_size(\"%s\") = %d (value %zu), expected -EINVAL",
			     bad[i], rc, out);
		cr_assert_eq(out, 12345, "gp_parse_size(\"%s\") wrote %zu although it failed",
			     bad[i], out);
	}
	size_t out;
	cr_assert_eq(gp_parse_size(NULL, &out), -EINVAL, "gp_parse_size(NULL) accepted");
}

/* Load with only the given variables set (the rest of GREENPATCH_* unset). */
static int load_with(const char *stack, const char *log, char *err, size_t errlen)
{
	if (stack)
		setenv("GREENPATCH_STACK_SIZE", stack, 1);
	else
		unsetenv("GREENPATCH_STACK_SIZE");
	if (log)
		setenv("GREENPATCH_LOG", log, 1);
	else
		unsetenv("GREENPATCH_LOG");
	err[0] = '\0';
	return gp_config_load(err, errlen);
}

static void assert_mentions(const char *msg, const char *what, const char *why)
{
	cr_assert_not_null(strstr(msg, what), "the message \"%s\" does not mention %s (\"%s\")",
			   msg, why, what);
}

Test(core_config, stack_size_banana_is_refused, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	gp_config.stack_size = 0;
	int rc = load_with("banana", NULL, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "GREENPATCH_STACK_SIZE=banana: gp_config_load = %d", rc);
	assert_mentions(err, "GREENPATCH_STACK_SIZE", "the variable");
	assert_mentions(err, "banana", "the value");
	assert_mentions(err, "256k", "an example of the accepted form");
	cr_assert_null(strchr(err, '\n'), "the message \"%s\" is more than one line", err);
	cr_assert_eq(gp_config.stack_size, 0, "a refused value was stored: %zu",
		     gp_config.stack_size);
}

Test(core_config, stack_size_out_of_range_is_refused, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	const char *const out_of_range[] = { "4k", "0", "16383", "2g" };
	for (size_t i = 0; i < GP_ARRAY_LEN(out_of_range); i++) {
		gp_config.stack_size = 0;
		int rc = load_with(out_of_range[i], NULL, err, sizeof(err));
		cr_assert_eq(rc, -EINVAL, "GREENPATCH_STACK_SIZE=%s: gp_config_load = %d",
			     out_of_range[i], rc);
		assert_mentions(err, "GREENPATCH_STACK_SIZE", "the variable");
		assert_mentions(err, out_of_range[i], "the value");
		assert_mentions(err, "range", "that the value is out of range");
		assert_mentions(err, "16k", "the lower bound");
		cr_assert_eq(gp_config.stack_size, 0, "a refused value was stored: %zu",
			     gp_config.stack_size);
	}
}

Test(core_config, stack_size_in_range_is_stored, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	const struct { const char *s; size_t want; } ok[] = {
		{ "16k", GP_STACK_MIN }, { "64k", 64 * 1024 }, { "8m", (size_t)8 << 20 },
		{ "1g", (size_t)1 << 30 },
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(ok); i++) {
		int rc = load_with(ok[i].s, NULL, err, sizeof(err));
		cr_assert_eq(rc, 0, "GREENPATCH_STACK_SIZE=%s refused: %s", ok[i].s, err);
		cr_assert_eq(gp_config.stack_size, ok[i].want, "GREENPATCH_STACK_SIZE=%s stored %zu",
			     ok[i].s, gp_config.stack_size);
	}
}

Test(core_config, log_level, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	int rc = load_with(NULL, "debug", err, sizeof(err));
	cr_assert_eq(rc, 0, "GREENPATCH_LOG=debug refused: %s", err);
	cr_assert_eq(gp_config.log_level, GP_LOG_DEBUG, "log_level %d after debug",
		     gp_config.log_level);
	rc = load_with(NULL, "ERROR", err, sizeof(err));
	cr_assert_eq(rc, 0, "GREENPATCH_LOG=ERROR refused: %s", err);
	cr_assert_eq(gp_config.log_level, GP_LOG_ERROR, "log_level %d after ERROR",
		     gp_config.log_level);

	rc = load_with(NULL, "loud", err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "GREENPATCH_LOG=loud: gp_config_load = %d", rc);
	assert_mentions(err, "GREENPATCH_LOG", "the variable");
	assert_mentions(err, "loud", "the value");
	assert_mentions(err, "debug", "the accepted levels");
	assert_mentions(err, "warning", "the accepted levels");
	cr_assert_eq(gp_config.log_level, GP_LOG_ERROR, "a refused level changed log_level to %d",
		     gp_config.log_level);
}

Test(core_config, nothing_set_changes_nothing, .timeout = UNIT_TIMEOUT)
{
	char err[64];
	int rc = load_with(NULL, NULL, err, sizeof(err));
	cr_assert_eq(rc, 0, "gp_config_load with nothing set = %d (%s)", rc, err);
	cr_assert_eq(gp_config.stack_size, 0, "stack_size %zu with nothing set",
		     gp_config.stack_size);
	cr_assert_eq(gp_config.log_level, GP_LOG_WARNING, "log_level %d with nothing set",
		     gp_config.log_level);
}

/* A message longer than the buffer is cut, never overflows it. */
Test(core_config, long_value_is_truncated_safely, .timeout = UNIT_TIMEOUT)
{
	char value[600];
	memset(value, 'z', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	struct { char err[32]; char canary[8]; } buf;
	memset(buf.canary, 0x5a, sizeof(buf.canary));
	int rc = load_with(value, NULL, buf.err, sizeof(buf.err));
	cr_assert_eq(rc, -EINVAL, "a 599-letter value: %d", rc);
	cr_assert_eq(strlen(buf.err), sizeof(buf.err) - 1, "message length %zu in a %zu buffer",
		     strlen(buf.err), sizeof(buf.err));
	for (size_t i = 0; i < sizeof(buf.canary); i++)
		cr_assert_eq((unsigned char)buf.canary[i], 0x5a, "byte %zu past the buffer written",
			     i);
}

/*
 * The value in the message is made safe for one line: escaped (a newline, a byte that
 * is not ASCII, the quote) and, past 64 bytes, cut, with its length.
 */
Test(core_config, value_is_shown_escaped_and_shortened, .timeout = UNIT_TIMEOUT)
{
	char err[512];
	int rc = load_with(NULL, "de'bug\n\xff\\", err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "a value with a newline: %d", rc);
	cr_assert_str_eq(err, "GREENPATCH_LOG='de\\'bug\\x0a\\xff\\\\' is not a log level "
			 "(error, warning, info, debug)");

	char value[100001];
	memset(value, 'z', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	rc = load_with(NULL, value, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "a value of 100000 bytes: %d", rc);
	cr_assert_str_eq(err, "GREENPATCH_LOG='zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
			 "zzzzzzzz'... (100000 bytes) is not a log level (error, warning, info, debug)");
	unsetenv("GREENPATCH_LOG");
}

/* GREENPATCH_DEADLOCK: report (default) or abort; anything else stops the program. */
Test(core_config, deadlock_values, .timeout = UNIT_TIMEOUT)
{
	char err[256] = "";
	setenv("GREENPATCH_DEADLOCK", "abort", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "abort rejected: %s", err);
	cr_assert_eq(gp_config.deadlock_abort, 1, "abort did not take effect");
	setenv("GREENPATCH_DEADLOCK", "report", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "report rejected: %s", err);
	cr_assert_eq(gp_config.deadlock_abort, 0, "report did not take effect");
	setenv("GREENPATCH_DEADLOCK", "explode", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), -EINVAL, "explode accepted");
	cr_assert(strstr(err, "GREENPATCH_DEADLOCK='explode'") && strstr(err, "report, abort"),
		  "message does not name the variable, value and accepted values: %s", err);
	unsetenv("GREENPATCH_DEADLOCK");
}

/* GREENPATCH_OFFLOAD_THREADS: a whole number from 1 to 256. */
Test(core_config, offload_threads_values, .timeout = UNIT_TIMEOUT)
{
	char err[256] = "";
	setenv("GREENPATCH_OFFLOAD_THREADS", "8", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "8 rejected: %s", err);
	cr_assert_eq(gp_config.offload_threads, 8);
	static const char *const bad[] = { "0", "257", "-1", "four", "4x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("GREENPATCH_OFFLOAD_THREADS", bad[i], 1);
		cr_assert_eq(gp_config_load(err, sizeof(err)), -EINVAL, "'%s' accepted", bad[i]);
		cr_assert(strstr(err, "GREENPATCH_OFFLOAD_THREADS") && strstr(err, "1 to 256"),
			  "message for '%s' does not name the variable and the range: %s", bad[i],
			  err);
	}
	unsetenv("GREENPATCH_OFFLOAD_THREADS");
}

/* GREENPATCH_STATS: 0, 1 (standard error) or a file path; anything else is refused. */
Test(core_config, stats_values, .timeout = UNIT_TIMEOUT)
{
	char err[256] = "";
	setenv("GREENPATCH_STATS", "1", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "1 rejected: %s", err);
	cr_assert_str_eq(gp_config.stats, "", "1 should mean standard error");
	setenv("GREENPATCH_STATS", "/tmp/stats.txt", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "a path rejected: %s", err);
	cr_assert_str_eq(gp_config.stats, "/tmp/stats.txt");
	setenv("GREENPATCH_STATS", "yes", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), -EINVAL, "yes accepted");
	cr_assert(strstr(err, "GREENPATCH_STATS='yes'"), "message: %s", err);
	unsetenv("GREENPATCH_STATS");
}

/* GREENPATCH_NO_INHERIT: 0 or 1. */
Test(core_config, no_inherit_values, .timeout = UNIT_TIMEOUT)
{
	char err[256] = "";
	setenv("GREENPATCH_NO_INHERIT", "1", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), 0, "1 rejected: %s", err);
	cr_assert_eq(gp_config.no_inherit, 1);
	setenv("GREENPATCH_NO_INHERIT", "maybe", 1);
	cr_assert_eq(gp_config_load(err, sizeof(err)), -EINVAL, "maybe accepted");
	cr_assert(strstr(err, "GREENPATCH_NO_INHERIT='maybe'"), "message: %s", err);
	unsetenv("GREENPATCH_NO_INHERIT");
}

Test(core_config, parse_signal, .timeout = UNIT_TIMEOUT)
{
	const struct { const char *s; int want; } ok[] = {
		{ "USR2", SIGUSR2 }, { "SIGUSR1", SIGUSR1 }, { "sigquit", SIGQUIT },
		{ "12", 12 }, { "RTMIN", SIGRTMIN }, { "RTMIN+3", SIGRTMIN + 3 },
		{ "SIGRTMAX-1", SIGRTMAX - 1 }, { "WINCH", SIGWINCH },
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(ok); i++)
		cr_assert_eq(gp_parse_signal(ok[i].s), ok[i].want, "gp_parse_signal(\"%s\") = %d, "
			     "expected %d", ok[i].s, gp_parse_signal(ok[i].s), ok[i].want);
	/* Not a signal, or one no handler can take (KILL, STOP) or that reports a fault. */
	static const char *const bad[] = {
		"", "banana", "0", "9", "KILL", "SIGSTOP", "SEGV", "BUS", "65", "RTMIN+99",
		"RTMIN-1", "RTMAX+1", "12x", "-12", "RTMIN+", "USR2 ",
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++)
		cr_assert_lt(gp_parse_signal(bad[i]), 0, "gp_parse_signal(\"%s\") accepted it",
			     bad[i]);
}

/* Load with only one of the variables this file did not test above set. */
static int load_one(const char *name, const char *value, char *err, size_t errlen)
{
	unsetenv("GREENPATCH_STACK_SIZE");
	unsetenv("GREENPATCH_LOG");
	unsetenv("GREENPATCH_STALL_MS");
	unsetenv("GREENPATCH_DUMP_SIGNAL");
	unsetenv("GREENPATCH_UNPATCH");
	unsetenv("GREENPATCH_TLS");
	unsetenv("GREENPATCH_STACK_GUARD");
	if (value)
		setenv(name, value, 1);
	err[0] = '\0';
	return gp_config_load(err, errlen);
}

Test(core_config, stall_ms, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	cr_assert_eq(gp_config.stall_ms, GP_STALL_MS_DEFAULT, "default %u", gp_config.stall_ms);
	cr_assert_eq(load_one("GREENPATCH_STALL_MS", "0", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.stall_ms, 0);
	cr_assert_eq(load_one("GREENPATCH_STALL_MS", "250", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.stall_ms, 250);
	static const char *const bad[] = { "", "-1", "1.5", "10ms", "3600001", " 5", "0x10" };
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++) {
		int rc = load_one("GREENPATCH_STALL_MS", bad[i], err, sizeof(err));
		cr_assert_eq(rc, -EINVAL, "GREENPATCH_STALL_MS='%s' accepted", bad[i]);
		assert_mentions(err, "GREENPATCH_STALL_MS", "the variable");
		assert_mentions(err, "milliseconds", "the accepted form");
		cr_assert_eq(gp_config.stall_ms, 250, "a refused value was stored");
	}
}

Test(core_config, dump_signal, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	cr_assert_eq(load_one("GREENPATCH_DUMP_SIGNAL", NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.dump_signal, 0, "a dump signal with the variable unset");
	cr_assert_eq(load_one("GREENPATCH_DUMP_SIGNAL", "USR2", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.dump_signal, SIGUSR2);
	int rc = load_one("GREENPATCH_DUMP_SIGNAL", "KILL", err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "GREENPATCH_DUMP_SIGNAL=KILL accepted");
	assert_mentions(err, "GREENPATCH_DUMP_SIGNAL", "the variable");
	assert_mentions(err, "'KILL'", "the value");
	assert_mentions(err, "USR2", "an example of the accepted form");
	cr_assert_null(strchr(err, '\n'), "the message \"%s\" is more than one line", err);
}

Test(core_config, unpatch, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	cr_assert_eq(load_one("GREENPATCH_UNPATCH", NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(load_one("GREENPATCH_UNPATCH", "stdio,offload", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(gp_config.unpatched, GP_FAM_STDIO | GP_FAM_OFFLOAD, "bits %#x",
		     gp_config.unpatched);
	cr_assert_eq(load_one("GREENPATCH_UNPATCH", "block,path", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.unpatched, GP_FAM_BLOCK | GP_FAM_PATH, "bits %#x",
		     gp_config.unpatched);
	cr_assert_eq(load_one("GREENPATCH_UNPATCH", "", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.unpatched, 0, "an empty list leaves %#x", gp_config.unpatched);
	static const char *const bad[] = { "thread", "stdio,", ",io", "io,,time", "IO", "all" };
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++) {
		int rc = load_one("GREENPATCH_UNPATCH", bad[i], err, sizeof(err));
		cr_assert_eq(rc, -EINVAL, "GREENPATCH_UNPATCH='%s' accepted", bad[i]);
		assert_mentions(err, "GREENPATCH_UNPATCH", "the variable");
		assert_mentions(err, "stdio", "the accepted families");
		assert_mentions(err, "block, path)", "the accepted families, the last one too");
	}
}

Test(core_config, tls, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	cr_assert_eq(load_one("GREENPATCH_TLS", "shared", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.tls_shared, 1, "GREENPATCH_TLS=shared not taken");
	cr_assert_eq(load_one("GREENPATCH_TLS", "thread", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.tls_shared, 0, "GREENPATCH_TLS=thread left shared TLS on");
	static const char *const bad[] = { "", "Thread", "per-thread", "1" };
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++) {
		int rc = load_one("GREENPATCH_TLS", bad[i], err, sizeof(err));
		cr_assert_eq(rc, -EINVAL, "GREENPATCH_TLS='%s' accepted", bad[i]);
		assert_mentions(err, "GREENPATCH_TLS", "the variable");
		assert_mentions(err, "thread, shared", "the accepted values");
		cr_assert_null(strchr(err, '\n'), "the message \"%s\" is more than one line", err);
	}
	unsetenv("GREENPATCH_TLS");
	gp_config.tls_shared = 0;
}

Test(core_config, stack_guard, .timeout = UNIT_TIMEOUT)
{
	char err[256];
	cr_assert_eq(gp_config.stack_guard_mprotect, 0, "guard mappings by default");
	cr_assert_eq(load_one("GREENPATCH_STACK_GUARD", "mprotect", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(gp_config.stack_guard_mprotect, 1, "GREENPATCH_STACK_GUARD=mprotect not taken");
	cr_assert_eq(load_one("GREENPATCH_STACK_GUARD", "auto", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gp_config.stack_guard_mprotect, 0);
	static const char *const bad[] = { "", "madvise", "MPROTECT", "1" };
	for (size_t i = 0; i < GP_ARRAY_LEN(bad); i++) {
		int rc = load_one("GREENPATCH_STACK_GUARD", bad[i], err, sizeof(err));
		cr_assert_eq(rc, -EINVAL, "GREENPATCH_STACK_GUARD='%s' accepted", bad[i]);
		assert_mentions(err, "GREENPATCH_STACK_GUARD", "the variable");
		assert_mentions(err, "auto, mprotect", "the accepted values");
	}
	unsetenv("GREENPATCH_STACK_GUARD");
}

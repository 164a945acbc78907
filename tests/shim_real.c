/*
 * Real programs from Debian, natively and under the shim: curl, wget (also many calls at
 * once against a slow server: curl --parallel, wget -i, xargs -P of curl, 1,000 python
 * threads), OpenBSD nc, socat,
 * openssl s_client and s_server, git clone and git daemon, python3 (ThreadingHTTPServer
 * under 200 clients at once, a pool of 50 client threads, input() while a thread works,
 * asyncio, multiprocessing),
 * perl ithreads, redis-server (also with I/O threads) and redis-benchmark, PostgreSQL's
 * clients (pgbench with 8 threads and 200 connections, psql, psycopg2 from 100 threads)
 * against a server the case starts, memcached's clients (memaslap, pymemcache from 100
 * threads) and memcached itself, deferred jobs (python3's threading.Timer, and
 * timer_create(SIGEV_THREAD) in tests/progs/timer_jobs.c), 1,000 WebSocket clients
 * (python3-websocket) against tests/progs/ws_server.c and libwebsockets' test server and
 * ws_server under 1,000 native clients and libwebsockets' test clients, sort --parallel,
 * xz -T.
 *
 * Each case is a function of tests/real/run, which starts the peers (servers, clients)
 * natively, runs the program under test with the library preloaded or not, and prints what
 * it saw: exit statuses, checksums of what crossed the connection, counts; never a port, a
 * time or a pid. This suite runs the script twice per case, "native" and "shim", and
 * expects the same output and the same status, 0. The script itself is never preloaded:
 * it passes $GP_TEST_PRELOAD to the program under test alone.
 *
 * A case that the shim cannot run as natively yet is listed in pending[] with the reason;
 * it still runs, with shorter deadlines, and is reported as skipped, or fails as soon as it
 * behaves as natively, so that the list cannot go stale (except a case that fails only
 * some of the time, whose reason says "intermittent").
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The cases of tests/real/run, in its order; the test "table" checks they agree. */
struct real_case {
	char name[48];
};

static const struct real_case cases[] = {
	{ "curl_page" }, { "curl_redirects" }, { "curl_large" }, { "curl_refused" },
	{ "curl_resolver" }, { "curl_parallel" }, { "wget_page" }, { "wget_large" },
	{ "curl_parallel_slow" }, { "wget_many" }, { "xargs_curl" }, { "python_many_calls" },
	{ "nc_send" }, { "nc_listen" }, { "socat_relay" }, { "openssl_client" },
	{ "openssl_server" }, { "git_clone" }, { "git_daemon" },
	{ "python_threading_http" }, { "python_thread_pool" }, { "python_stdin_threads" },
	{ "python_asyncio" }, { "python_multiprocessing" }, { "perl_threads" },
	{ "redis_server" }, { "redis_io_threads" }, { "redis_benchmark" }, { "pg_pgbench" },
	{ "pg_psql" }, { "pg_psycopg2" }, { "memcached_memaslap" }, { "memcached_pymemcache" },
	{ "memcached_server" }, { "python_timers" }, { "timer_create_jobs" }, { "ws_clients" },
	{ "ws_server" }, { "ws_lws_server" }, { "ws_lws_client" }, { "sort_parallel" },
	{ "xz_threads" },
};

/* Cases that do not yet behave under the shim as natively; see libgreenpatch(7). */
static const struct gp_pending pending[] = {
};

/*
 * A pending case whose reason starts with this fails only some of the time: that one run
 * behaved as natively says nothing, so it is not reported as fixed.
 */
#define INTERMITTENT "intermittent"

/* One run of the script: the deadline of each program it starts, and of the run. */
#define CMD_SECS "60"
#define RUN_TIMEOUT_S 240
#define PENDING_CMD_SECS "10"
#define PENDING_TIMEOUT_S 60

TestSuite(real, .timeout = 600);

static char *script(void)
{
	char *s = gp_asprintf("%s/tests/real/run", gp_env("GP_TEST_ROOT"));

	cr_assert(access(s, X_OK) == 0, "%s cannot be run", s);
	return s;
}

/*
 * Runs case name of the script in mode ("native" or "shim"), with one more NAME=VALUE (or
 * NULL) in the environment. A native run may be one kept from an earlier pass if
 * may_keep (native_runs.h).
 */
static void run_case_how(const char *name, const char *mode, bool is_pending, const char *extra,
			 bool may_keep, struct gp_run *r)
{
	char *s = script();
	char *env = gp_asprintf("GP_REAL_CMD_SECS=%s", is_pending ? PENDING_CMD_SECS : CMD_SECS);
	struct gp_cmd cmd = {
		.prog = s,
		.argv = GP_ARGV((char *)name, (char *)mode),
		.shim = false, /* the script passes the library to the program under test */
		.timeout_s = is_pending ? PENDING_TIMEOUT_S : RUN_TIMEOUT_S,
		.env = GP_ARGV(env, (char *)extra),
	};
	bool kept = false;

	gp_env("GP_TEST_PRELOAD");
	if (may_keep && strcmp(mode, "native") == 0)
		kept = gp_run_native(&cmd, r);
	else
		gp_run(&cmd, r);
	snprintf(r->label, sizeof(r->label), "real %s (%s)", name,
		 kept ? "native, kept from an earlier pass" : mode);
	free(env);
	free(s);
}

static void run_case_env(const char *name, const char *mode, bool is_pending, const char *extra,
			 struct gp_run *r)
{
	run_case_how(name, mode, is_pending, extra, false, r);
}

static void run_case(const char *name, const char *mode, bool is_pending, struct gp_run *r)
{
	run_case_how(name, mode, is_pending, NULL, false, r);
}

ParameterizedTestParameters(real, same)
{
	return cr_make_param_array(struct real_case, (void *)cases, GP_COUNT(cases));
}

/*
 * A case whose two runs differ is run again, both ways, once: on a loaded machine the
 * native run is starved too (python_timers' 2,000 native threads have run 3 s late,
 * out of the order the case checks). What the first try printed stays in the log; a
 * library that gets a case wrong most of the time still fails it.
 */
static void again_if_differs(const char *name, struct gp_run *n, struct gp_run *s)
{
	char *diff = gp_diff_runs(n, s);
	if (!diff)
		return;
	/* Not cr_log_warn: a warning makes the whole run end with status 1. */
	fprintf(stderr, "[RETRY] real: %s differs (try 1), again:\n%s", name, diff);
	free(diff);
	gp_run_free(n);
	gp_run_free(s);
	run_case(name, "native", false, n);
	run_case(name, "shim", false, s);
}

/*
 * Under `make asan` these run too: the ASan runtime preloaded into Debian's programs
 * deadlocks those that link p11-kit in their first setlocale, with or without the
 * library, unless a stub is preloaded after it (tests/progs/mod/swift_stub.c).
 */
ParameterizedTest(const struct real_case *c, real, same)
{
	const struct gp_pending *p = gp_pending_find(pending, GP_COUNT(pending), c->name);
	struct gp_run n, s;
	bool differs = false;
	char *diff;

	run_case_how(c->name, "native", p != NULL, NULL, true, &n);
	if (p)
		gp_expect_ok(&n);
	run_case(c->name, "shim", p != NULL, &s);
	if (p) {
		diff = gp_diff_runs(&n, &s);
		differs = diff != NULL;
		if (strncmp(p->reason, INTERMITTENT, strlen(INTERMITTENT)) == 0)
			differs = true;
		else
			gp_expect_still_differs(c->name, differs);
		free(diff);
	} else {
		/* A native run that fails a check of its own (a sampler the machine starved
		 * saw 984 of 1,000 threads) differs from the library's, and both are run
		 * again: the native run must pass its checks then. */
		again_if_differs(c->name, &n, &s);
		gp_expect_ok(&n);
		gp_expect_same(&n, &s);
		gp_expect_ok(&s);
	}
	gp_run_free(&n);
	gp_run_free(&s);
	if (p && differs)
		gp_skip_pending(p);
}

/*
 * perl keeps its interpreter in a __thread variable, so that with TLS shared between
 * green threads one thread ran on another's interpreter and crashed some of the time:
 * one good run proves nothing. 50 runs in a row must each print what perl prints
 * natively. At several carriers, one in about a hundred hung once (each thread's
 * setlocale corrupted glibc's lock while green threads shared one thread id). The 50
 * runs go to one server, in one run of the script (GP_REAL_REPEAT): the server's start
 * and stop took half of each run's second.
 */
#define PERL_RUNS 50

/* What the shim's run must print: the native run's perl lines PERL_RUNS times over, then
 * its last line (the server's status). */
static struct gp_run perl_expected(const struct gp_run *n, size_t *run_len)
{
	struct gp_run e = *n;
	size_t last = n->out_len;
	while (last > 0 && n->out[last - 1] == '\n')
		last--;
	while (last > 0 && n->out[last - 1] != '\n')
		last--;
	*run_len = last;
	e.out_len = PERL_RUNS * last + (n->out_len - last);
	e.out = malloc(e.out_len + 1);
	e.err = malloc(n->err_len + 1);
	cr_assert(e.out && e.err, "out of memory");
	memcpy(e.err, n->err, n->err_len + 1);   /* it may hold NULs */
	for (int i = 0; i < PERL_RUNS; i++)
		memcpy(e.out + i * last, n->out, last);
	memcpy(e.out + PERL_RUNS * last, n->out + last, n->out_len - last + 1);
	snprintf(e.label, sizeof(e.label), "real perl_threads (native, its output %d times)",
		 PERL_RUNS);
	return e;
}

/* The 1-based run in which the shim's output first differs from e's. */
static size_t first_run_differing(const struct gp_run *e, const struct gp_run *s, size_t run_len)
{
	size_t i = 0;
	while (i < e->out_len && i < s->out_len && e->out[i] == s->out[i])
		i++;
	return run_len ? i / run_len + 1 : 1;
}

Test(real, perl_threads_50_runs, .timeout = 400)
{
	struct gp_run n, s;
	run_case("perl_threads", "native", false, &n);
	gp_expect_ok(&n);
	char repeat[32];
	snprintf(repeat, sizeof(repeat), "GP_REAL_REPEAT=%d", PERL_RUNS);
	run_case_env("perl_threads", "shim", false, repeat, &s);
	size_t run_len;
	struct gp_run e = perl_expected(&n, &run_len);
	char *diff = gp_diff_runs(&e, &s);
	cr_expect(diff == NULL, "run %zu of %d first differs; %s",
		  first_run_differing(&e, &s, run_len), PERL_RUNS, diff ? diff : "");
	free(diff);
	gp_run_free(&e);
	gp_run_free(&s);
	gp_run_free(&n);
}

/* Every pending entry names a case of the list want. Not inlined: the table may be empty. */
static __attribute__((noinline)) void expect_cases(const char *want, const struct gp_pending *p,
						   size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_expect(strstr(want, p[i].name) != NULL, "pending case %s is no case", p[i].name);
}

/* The table above and the script's --list name the same cases, in the same order. */
Test(real, table)
{
	char *s = script();
	struct gp_run r;
	char *want = gp_asprintf("%s", "");

	for (size_t i = 0; i < GP_COUNT(cases); i++) {
		char *w = gp_asprintf("%s%s\n", want, cases[i].name);

		free(want);
		want = w;
	}
	gp_run_prog(s, GP_ARGV("--list"), false, 10, NULL, &r);
	gp_expect_ok(&r);
	cr_expect_str_eq(r.out, want, "tests/real/run --list:\n%s\ntests/shim_real.c:\n%s", r.out,
			 want);
	expect_cases(want, pending, GP_COUNT(pending));
	gp_run_free(&r);
	free(want);
	free(s);
}

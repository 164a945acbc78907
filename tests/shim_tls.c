/*
 * Thread-local storage belongs to each green thread, natively and under the shim: the
 * tls_* programs of tests/progs (C __thread variables, errno, C++ thread_local objects and
 * their destructors, the locale, strerror buffers, _res, TLS of a library loaded late, the
 * rseq area behind sched_getcpu, the pointer and stack guards) and a Rust program
 * (thread_local! with Drop, Mutex, Condvar, mpsc, a thread-per-connection TCP echo server).
 *
 * Every program makes its threads block between using their storage and checking it, so a
 * runtime whose green threads share one thread pointer fails them. Each program runs as a
 * whole in its -O2 build (where the compiler keeps TLS addresses across calls) and case by
 * case in its plain build, natively and under the shim, and must print the same. The
 * native runs must also pass the programs' own checks: a program that failed natively would
 * differ for the wrong reason, or agree with a broken runtime. And the work must be green:
 * per-thread storage must not come from running each thread on a kernel thread again.
 */
#include "harness.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(tls, .timeout = 240);

/* Natively no case takes a second; 20 s under the shim means stuck. */
#define CASE_TIMEOUT_S 20
#define WHOLE_TIMEOUT_S 60

/*
 * Under the shim every green thread rides the carrier; the offload pool and the watchdog
 * may add a few: "a handful", against one per thread natively.
 */
#define MAX_KERNEL_THREADS (5 + gp_carriers())

#define RUSTC "/usr/bin/rustc"

/*
 * tls_jmp cases that do not behave as natively yet for a reason other than TLS. They are
 * left out of the comparisons, reported as skipped, and checked by
 * jmp_pending_still_pending, which fails once one passes: then delete its line.
 */
static const struct gp_pending jmp_pending[] = {
};

GP_PENDING_REPORT(tls, jmp_pending)

Test(tls, jmp_pending_still_pending, .timeout = 60)
{
	gp_expect_still_pending("tls_jmp", jmp_pending, GP_COUNT(jmp_pending));
}

/* ---- checks on a run ------------------------------------------------------------------ */

/* A word that says something went wrong: "x=no", or "wrong=N" or "*_unlike_main=N", N > 0. */
static bool bad_word(const char *w, size_t len)
{
	const char *eq = memchr(w, '=', len);
	size_t key = eq ? (size_t)(eq - w) : len;

	if (!eq)
		return false;
	if (len - key - 1 == 2 && strncmp(eq + 1, "no", 2) == 0)
		return true;
	if ((key == 5 && strncmp(w, "wrong", 5) == 0) ||
	    (key > 11 && strncmp(eq - 11, "unlike_main", 11) == 0))
		return !(len - key - 1 == 1 && eq[1] == '0');
	return false;
}

/*
 * The native run passed the program's own checks: it exited 0 and no line reports
 * something wrong. Fails naming the first line that does.
 */
static void expect_native_right(const struct gp_run *n)
{
	const char *p = n->out, *end = n->out + n->out_len;

	gp_expect_ok(n);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		for (const char *w = p; w < eol;) {
			const char *s = w;

			while (w < eol && !isspace((unsigned char)*w))
				w++;
			if (bad_word(s, (size_t)(w - s))) {
				cr_expect_fail("%s failed its own check natively, so the "
					       "comparison means nothing: \"%.*s\"",
					       n->label, (int)(eol - p), p);
				return;
			}
			while (w < eol && isspace((unsigned char)*w))
				w++;
		}
		p = eol + 1;
	}
}

/* The "Threads:" count a run copied to stderr; fails the test if there is none. */
static long kernel_threads(const struct gp_run *r)
{
	long n;

	cr_assert(gp_kv_long(r->err, "Threads:", &n), "%s printed no \"Threads:\" line:\n%s",
		  r->label, r->err);
	return n;
}

/* Natively at least min_native kernel threads; under the shim a handful. */
static void expect_green(const struct gp_run *n, const struct gp_run *s, long min_native)
{
	long kn = kernel_threads(n), ks;

	cr_expect(kn >= min_native,
		  "%s: Threads: %ld: natively each thread should be a kernel thread (at least "
		  "%ld), or the count under the shim means nothing",
		  n->label, kn, min_native);
	if (s->timed_out || !WIFEXITED(s->status))
		return; /* the comparison has failed already, with the reason */
	ks = kernel_threads(s);
	cr_expect(ks <= MAX_KERNEL_THREADS,
		  "%s: Threads: %ld while its threads existed: they are not green (expected at "
		  "most %d kernel threads)",
		  s->label, ks, MAX_KERNEL_THREADS);
}

/*
 * The whole of prog natively and under the shim: same output and status, and natively
 * right. Returns the runs through n and s when they are not NULL.
 */
static void compare_whole(const char *prog, struct gp_run *n_out, struct gp_run *s_out)
{
	struct gp_run n, s;

	gp_compare(prog, NULL, WHOLE_TIMEOUT_S, &n, &s);
	expect_native_right(&n);
	if (n_out)
		*n_out = n;
	else
		gp_run_free(&n);
	if (s_out)
		*s_out = s;
	else
		gp_run_free(&s);
}

/* ---- C __thread variables ------------------------------------------------------------- */

/* Also: while 1,000 threads count in their own copies, a handful of kernel threads exist. */
Test(tls, vars_same)
{
	struct gp_run n, s;

	compare_whole("tls_vars.fortify", &n, &s);
	expect_green(&n, &s, 1000);
	gp_run_free(&n);
	gp_run_free(&s);
}

/* GREENPATCH_TLS=shared takes effect: the green threads then share __thread variables. */
Test(tls, shared_mode_shares)
{
	struct gp_run s;

	struct gp_cmd cmd = { .prog = "tls_vars", .shim = true, .timeout_s = WHOLE_TIMEOUT_S,
			      .env = GP_ARGV("GREENPATCH_TLS=shared") };

	gp_run(&cmd, &s);
	cr_expect(s.out && strstr(s.out, "wrong=0") != strstr(s.out, "wrong="),
		  "with GREENPATCH_TLS=shared every thread still had its own variables:\n%s",
		  s.out ? s.out : "");
	gp_run_free(&s);
}

Test(tls, vars_each_case)
{
	gp_compare_each_case("tls_vars", CASE_TIMEOUT_S);
}

/* ---- errno ------------------------------------------------------------------------------ */

Test(tls, errno_same)
{
	compare_whole("tls_errno.fortify", NULL, NULL);
}

Test(tls, errno_each_case)
{
	gp_compare_each_case("tls_errno", CASE_TIMEOUT_S);
}

/* ---- C++ thread_local ------------------------------------------------------------------- */

Test(tls, cxx_same)
{
	compare_whole("tls_cxx", NULL, NULL);
}

Test(tls, cxx_each_case)
{
	gp_compare_each_case("tls_cxx", CASE_TIMEOUT_S);
}

/* ---- what glibc keeps in TLS ------------------------------------------------------------ */

Test(tls, locale_same)
{
	compare_whole("tls_locale.fortify", NULL, NULL);
}

Test(tls, locale_each_case)
{
	gp_compare_each_case("tls_locale", CASE_TIMEOUT_S);
}

Test(tls, strerror_same)
{
	compare_whole("tls_strerror.fortify", NULL, NULL);
}

Test(tls, strerror_each_case)
{
	gp_compare_each_case("tls_strerror", CASE_TIMEOUT_S);
}

Test(tls, resolv_same)
{
	compare_whole("tls_resolv.fortify", NULL, NULL);
}

Test(tls, resolv_each_case)
{
	gp_compare_each_case("tls_resolv", CASE_TIMEOUT_S);
}

/*
 * One carrier: main's raw move to another CPU moves the kernel thread it runs on, which
 * carries every green thread only when there is one (with several, a green thread's
 * CPU is its carrier's: libgreenpatch(7), LIMITATIONS).
 */
Test(tls, getcpu_same)
{
	struct gp_run n, s;
	gp_compare_env("tls_getcpu.fortify", NULL, GP_ARGV("GREENPATCH_CARRIERS=1"),
		       WHOLE_TIMEOUT_S, &n, &s);
	expect_native_right(&n);
	gp_run_free(&n);
	gp_run_free(&s);
}

Test(tls, getcpu_each_case)
{
	gp_compare_each_case_env("tls_getcpu", NULL, 0, GP_ARGV("GREENPATCH_CARRIERS=1"),
				 CASE_TIMEOUT_S);
}

/* ---- glibc's own use of the descriptor ------------------------------------------------- */

/* setuid from a thread, flockfile with a blocked holder, _res on a stack the program gave. */
Test(tls, glibc_same, .timeout = 60)
{
	compare_whole("tls_glibc.fortify", NULL, NULL);
}

Test(tls, glibc_each_case, .timeout = 60)
{
	gp_compare_each_case("tls_glibc", CASE_TIMEOUT_S);
}

/* ---- a library loaded late -------------------------------------------------------------- */

/*
 * A library whose TLS is initial-exec takes room in every thread's static TLS when it
 * is loaded, and glibc copies its initial values there only for the threads it made.
 * Green threads created after the load get them; those alive at the load see zeros.
 */
static const struct gp_pending dlopen_pending[] = {
	{ "initial_exec",
	  "green threads alive when a library with initial-exec TLS is loaded see its "
	  "variables as zero, not their initial values (libgreenpatch(7), LIMITATIONS)" },
};

GP_PENDING_REPORT(tls_dlopen, dlopen_pending)

Test(tls_dlopen, pending_still_pending, .timeout = 60)
{
	gp_expect_still_pending("tls_dlopen", dlopen_pending, GP_COUNT(dlopen_pending));
}

Test(tls, dlopen_same)
{
	gp_compare_cases("tls_dlopen.fortify", dlopen_pending, GP_COUNT(dlopen_pending),
			 CASE_TIMEOUT_S);
}

Test(tls, dlopen_each_case)
{
	gp_compare_each_case_except("tls_dlopen", dlopen_pending, GP_COUNT(dlopen_pending),
				    CASE_TIMEOUT_S);
}

/* ---- the pointer guard and the stack guard ------------------------------------------------ */

/* Natively every case passes, the pending one too; the comparison leaves that one out. */
Test(tls, jmp_same)
{
	struct gp_run n;

	gp_run_prog("tls_jmp.fortify", NULL, false, WHOLE_TIMEOUT_S, NULL, &n);
	expect_native_right(&n);
	gp_run_free(&n);
	gp_compare_cases("tls_jmp.fortify", jmp_pending, GP_COUNT(jmp_pending), WHOLE_TIMEOUT_S);
}

Test(tls, jmp_each_case)
{
	gp_compare_each_case_except("tls_jmp", jmp_pending, GP_COUNT(jmp_pending),
				    CASE_TIMEOUT_S);
}

/* Built with -fstack-protector-strong: a wrong canary aborts with "stack smashing detected". */
Test(tls, stack_protector_same)
{
	compare_whole("tls_stack.ssp", NULL, NULL);
}

Test(tls, stack_protector_each_case)
{
	gp_compare_each_case("tls_stack.ssp", CASE_TIMEOUT_S);
}

/* ---- Rust ---------------------------------------------------------------------------------- */

/* main, the acceptor, 30 clients and their 30 handlers */
#define RUST_ECHO_THREADS 62

static void need_rustc(void)
{
	if (access(RUSTC, X_OK) != 0)
		cr_skip_test("%s is not installed (Debian package rustc; `make deps` installs it), "
			     "so tls_rust was not built",
			     RUSTC);
}

/* Also: while the echo server and its clients exist, a handful of kernel threads do. */
Test(tls, rust_same)
{
	struct gp_run n, s;

	need_rustc();
	compare_whole("tls_rust", &n, &s);
	expect_green(&n, &s, RUST_ECHO_THREADS);
	gp_run_free(&n);
	gp_run_free(&s);
}

Test(tls, rust_each_case)
{
	need_rustc();
	gp_compare_each_case("tls_rust", CASE_TIMEOUT_S);
}

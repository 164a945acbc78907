/*
 * tls_preload: what a program's threads cost, as the program sees them. A plain pthread
 * program, linked with nothing of the library's: scripts/bench runs it natively and with
 * LD_PRELOAD=libgreenpatch.so, with GREENPATCH_TLS=thread (each green thread has its own
 * thread-local storage) and GREENPATCH_TLS=shared (one storage for all, only errno
 * switched), and puts the runs side by side.
 *
 *   yield [--one-cpu]   two threads calling sched_yield() in turn; one operation is one
 *                       yield, which under the library is one switch to the other thread
 *                       (natively: a system call that may or may not switch, on two
 *                       CPUs or, with --one-cpu, pinned to one)
 *   create              pthread_create + pthread_join of a thread that returns at once;
 *                       one operation is one pair
 *   idle N [--stack-kib K] [--budget-s S]
 *                       N threads parked at once in pthread_cond_wait on one condition
 *                       variable: resident memory, page tables and mappings before and
 *                       after, then one broadcast wakes them all and each is joined. K
 *                       sets the stack size in the attributes (natively; under the
 *                       library GREENPATCH_STACK_SIZE sets it, attributes left alone).
 *                       Creating stops after S seconds (default 40) or at the first
 *                       failure, and the figures are those of the threads created.
 *
 * Each prints one line of key=value figures for scripts/bench; yield and create are
 * calibrated and repeated by bench.h and give the best and the median repeat. tls= says
 * what the threads were seen to have: "own" when two threads' __thread variables are at
 * different addresses, "shared" when at the same one.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_OPS (1L << 26)

static __thread int tls_probe;

/* Where the calling thread's __thread variable is, for the tls= figure. */
static uintptr_t tls_addr(void)
{
	return (uintptr_t)&tls_probe;
}

static const char *tls_seen(uintptr_t a, uintptr_t b)
{
	return a == b ? "shared" : "own";
}

static void print_measured(struct bench_result r, const char *tls)
{
	printf("best_ns=%.2f median_ns=%.2f ops=%ld repeats=%d tls=%s\n", r.best_ns, r.median_ns,
	       r.ops, BENCH_REPEATS, tls);
}

/* ---- yield ---- */

struct yield_run {
	long yields;              /* per thread */
	atomic_int ready;
	atomic_llong t0;          /* ns, set by the first past the start line */
	double t1[2];
	uintptr_t tls[2];
};

struct yielder {
	struct yield_run *run;
	int i;
};

/* Both threads exist before the clock starts: creating them is not timed. */
static void *yielder(void *arg)
{
	struct yielder *y = arg;
	struct yield_run *r = y->run;
	r->tls[y->i] = tls_addr();
	atomic_fetch_add(&r->ready, 1);
	while (atomic_load(&r->ready) < 2)
		sched_yield();
	long long zero = 0;
	atomic_compare_exchange_strong(&r->t0, &zero, (long long)bench_now_ns());
	for (long i = 0; i < r->yields; i++)
		sched_yield();
	r->t1[y->i] = bench_now_ns();
	return NULL;
}

static uintptr_t yield_tls[2];

/* n operations are n yields, half in each thread. */
static double yield_bench(void *arg, long n)
{
	(void)arg;
	struct yield_run r = { .yields = (n + 1) / 2 };
	struct yielder y[2] = { { &r, 0 }, { &r, 1 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		int rc = pthread_create(&t[i], NULL, yielder, &y[i]);
		if (rc)
			bench_die("pthread_create", rc);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	yield_tls[0] = r.tls[0];
	yield_tls[1] = r.tls[1];
	double t1 = r.t1[0] > r.t1[1] ? r.t1[0] : r.t1[1];
	return (t1 - (double)atomic_load(&r.t0)) * (double)n / (double)(2 * r.yields);
}

/* The whole process on its first allowed CPU: threads inherit the mask. */
static void pin_to_one_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		bench_die("sched_getaffinity", errno);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set)) {
			CPU_ZERO(&set);
			CPU_SET(c, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				bench_die("sched_setaffinity", errno);
			return;
		}
	}
}

static int run_yield(bool one_cpu)
{
	if (one_cpu)
		pin_to_one_cpu();
	struct bench_result r = bench_measure(yield_bench, NULL, 1024, MAX_OPS);
	print_measured(r, tls_seen(yield_tls[0], yield_tls[1]));
	return 0;
}

/* ---- create + join ---- */

static void *trivial(void *arg)
{
	(void)arg;
	return (void *)tls_addr();
}

static uintptr_t create_tls;

static double create_bench(void *arg, long n)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *ret;
		int rc = pthread_create(&t, NULL, trivial, NULL);
		if (rc)
			bench_die("pthread_create", rc);
		pthread_join(t, &ret);
		create_tls = (uintptr_t)ret;
	}
	return bench_now_ns() - t0;
}

static int run_create(void)
{
	struct bench_result r = bench_measure(create_bench, NULL, 16, MAX_OPS);
	print_measured(r, tls_seen(create_tls, tls_addr()));
	return 0;
}

/* ---- idle threads ---- */

static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_go = PTHREAD_COND_INITIALIZER;    /* the threads wait here */
static pthread_cond_t idle_all = PTHREAD_COND_INITIALIZER;   /* main waits here */
static long idle_parked, idle_target;
static bool idle_wake;

static void *idle_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&idle_mu);
	if (++idle_parked == idle_target)
		pthread_cond_signal(&idle_all);
	while (!idle_wake)
		pthread_cond_wait(&idle_go, &idle_mu);
	pthread_mutex_unlock(&idle_mu);
	return (void *)tls_addr();
}

static int run_idle(long n, long stack_kib, double budget_s)
{
	pthread_attr_t attr, *ap = NULL;
	if (stack_kib > 0) {
		pthread_attr_init(&attr);
		int rc = pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024);
		if (rc)
			bench_die("pthread_attr_setstacksize", rc);
		ap = &attr;
	}
	/* The handles' pages are resident before the first reading, so that the figures
	 * are the threads' own; one thread is created and joined first, so that starting
	 * the runtime (or glibc's first thread) is not counted either. */
	pthread_t *t = malloc((size_t)n * sizeof(*t));
	if (!t)
		bench_die("malloc", ENOMEM);
	memset(t, 0, (size_t)n * sizeof(*t));
	pthread_t first;
	int rc = pthread_create(&first, ap, trivial, NULL);
	if (rc)
		bench_die("pthread_create", rc);
	pthread_join(first, NULL);

	long rss0 = bench_self_status("VmRSS"), pte0 = bench_self_status("VmPTE");
	long maps0 = bench_map_count();
	idle_target = n;
	const char *stopped = "no";
	double t0 = bench_now_ns(), deadline = t0 + budget_s * 1e9;
	long k;
	for (k = 0; k < n; k++) {
		if ((rc = pthread_create(&t[k], ap, idle_thread, NULL)) != 0) {
			stopped = strerrorname_np(rc);
			break;
		}
		if ((k & 1023) == 1023 && bench_now_ns() > deadline) {
			k++;
			stopped = "time";
			break;
		}
	}
	pthread_mutex_lock(&idle_mu);
	idle_target = k;
	while (idle_parked < k)
		pthread_cond_wait(&idle_all, &idle_mu);
	pthread_mutex_unlock(&idle_mu);
	double t1 = bench_now_ns();
	long rss1 = bench_self_status("VmRSS"), pte1 = bench_self_status("VmPTE");
	long maps1 = bench_map_count();
	long kthreads = bench_self_status("Threads");

	pthread_mutex_lock(&idle_mu);
	idle_wake = true;
	pthread_cond_broadcast(&idle_go);
	pthread_mutex_unlock(&idle_mu);
	uintptr_t tls[2] = { 0, 0 };
	for (long i = 0; i < k; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		if (i < 2)
			tls[i] = (uintptr_t)ret;
	}
	double t2 = bench_now_ns();
	free(t);
	printf("threads=%ld created=%ld stopped=%s rss0_kib=%ld rss1_kib=%ld pte0_kib=%ld "
	       "pte1_kib=%ld maps0=%ld maps1=%ld max_map_count=%ld kernel_threads=%ld "
	       "create_park_ns=%.0f wake_join_ns=%.0f tls=%s\n",
	       n, k, stopped, rss0, rss1, pte0, pte1, maps0, maps1, bench_max_map_count(), kthreads,
	       k ? (t1 - t0) / (double)k : 0, k ? (t2 - t1) / (double)k : 0,
	       k > 1 ? tls_seen(tls[0], tls[1]) : "n/a");
	return 0;
}

/* ---- driver ---- */

static void usage(void)
{
	fprintf(stderr, "usage: tls_preload yield [--one-cpu]\n"
			"       tls_preload create\n"
			"       tls_preload idle N [--stack-kib K] [--budget-s S]\n");
	exit(2);
}

static long number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "yield") == 0) {
		if (argc == 2 || (argc == 3 && strcmp(argv[2], "--one-cpu") == 0))
			return run_yield(argc == 3);
	} else if (strcmp(argv[1], "create") == 0) {
		if (argc == 2)
			return run_create();
	} else if (strcmp(argv[1], "idle") == 0 && argc >= 3) {
		long n = number(argv[2]), stack_kib = 0;
		double budget_s = 40;
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--stack-kib") == 0 && i + 1 < argc)
				stack_kib = number(argv[++i]);
			else if (strcmp(argv[i], "--budget-s") == 0 && i + 1 < argc)
				budget_s = (double)number(argv[++i]);
			else
				usage();
		}
		return run_idle(n, stack_kib, budget_s);
	}
	usage();
}

/*
 * ctxswitch: what one switch between two threads of control costs.
 *
 *   green yield      two green threads that gp_yield() to each other: the scheduler's
 *                    run queue, its errno save/restore, its periodic hub poll, and the
 *                    assembly switch underneath
 *   gp_ctx_switch    the same ping-pong on the bare switch of core/ctx.c, no scheduler
 *   swapcontext      the same ping-pong on glibc's ucontext switch, which also saves and
 *                    restores the signal mask with a system call per switch
 *   pthread          two kernel threads handing a turn to each other through a mutex
 *                    and a condition variable (futex wait and wake), on two CPUs and
 *                    pinned to one CPU
 *
 * All figures are per switch (per hand-off for kernel threads: a round trip is two).
 *
 * `ctxswitch --green-only [--switches N]` runs only the green ping-pong, once, without
 * calibration, and prints what the scheduler counted, so that scripts/bench can run it
 * under strace and divide the system calls by the switches.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "bench.h"
#include "ctx.h"
#include "sched.h"
#include "stack.h"

#define PEER_STACK_SIZE (64 * 1024)
#define MAX_OPS (1L << 28)

/* ---- green yield through the scheduler ---- */

struct green_pingpong {
	long yields;      /* per thread */
	double t0, t1;    /* first thread's start, last thread's end */
};

/* The first of the two to run starts the clock, the last to finish stops it. */
static void *green_yielder(void *arg)
{
	struct green_pingpong *p = arg;
	if (p->t0 == 0)
		p->t0 = bench_now_ns();
	for (long i = 0; i < p->yields; i++)
		gp_yield();
	p->t1 = bench_now_ns();
	return NULL;
}

/* Each yield hands the carrier to the other thread: 2 * yields switches. */
static double green_pingpong(long yields)
{
	struct green_pingpong p = { .yields = yields };
	struct gp_green *a, *b;
	int rc = gp_spawn(&a, green_yielder, &p, NULL);
	if (rc == 0)
		rc = gp_spawn(&b, green_yielder, &p, NULL);
	if (rc < 0)
		bench_die("gp_spawn", rc);
	/* main parks in the joins: from here only a and b are runnable. */
	gp_join(a, NULL);
	gp_join(b, NULL);
	return p.t1 - p.t0;
}

static double green_run(void *arg, long n)
{
	(void)arg;
	long yields = (n + 1) / 2;
	return green_pingpong(yields) * (double)n / (double)(2 * yields);
}

/* ---- the bare assembly (or ucontext) switch of core/ctx.c ---- */

static struct gp_ctx raw_main, raw_peer;

static void raw_peer_loop(void *arg)
{
	(void)arg;
	for (;;)
		gp_ctx_switch(&raw_peer, &raw_main);
}

static void raw_setup(void)
{
	struct gp_stack s;
	int rc = gp_stack_alloc(&s, PEER_STACK_SIZE);
	if (rc < 0)
		bench_die("gp_stack_alloc", rc);
	gp_ctx_init_current(&raw_main);
	gp_ctx_make(&raw_peer, s.lo, s.size, raw_peer_loop, NULL);
}

/* One iteration is two switches: to the peer and back. */
static double raw_run(void *arg, long n)
{
	(void)arg;
	long pairs = (n + 1) / 2;
	double t0 = bench_now_ns();
	for (long i = 0; i < pairs; i++)
		gp_ctx_switch(&raw_main, &raw_peer);
	return (bench_now_ns() - t0) * (double)n / (double)(2 * pairs);
}

/* ---- glibc swapcontext ---- */

static ucontext_t uc_main, uc_peer;

static void uc_peer_loop(void)
{
	for (;;)
		swapcontext(&uc_peer, &uc_main);
}

static void uc_setup(void)
{
	void *stack = malloc(PEER_STACK_SIZE);
	if (!stack || getcontext(&uc_peer) < 0)
		bench_die("swapcontext setup", errno);
	uc_peer.uc_stack.ss_sp = stack;
	uc_peer.uc_stack.ss_size = PEER_STACK_SIZE;
	uc_peer.uc_link = NULL;
	makecontext(&uc_peer, uc_peer_loop, 0);
}

static double uc_run(void *arg, long n)
{
	(void)arg;
	long pairs = (n + 1) / 2;
	double t0 = bench_now_ns();
	for (long i = 0; i < pairs; i++)
		swapcontext(&uc_main, &uc_peer);
	return (bench_now_ns() - t0) * (double)n / (double)(2 * pairs);
}

/* ---- kernel threads: mutex + condition variable hand-off ---- */

struct handoff {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int turn;          /* 1: the peer's turn, 0: the main thread's */
	bool stop;
	pthread_t peer;
};

static void *handoff_peer(void *arg)
{
	struct handoff *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->turn != 1 && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stop)
			break;
		h->turn = 0;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* One iteration is two hand-offs: to the peer and back. */
static double handoff_run(void *arg, long n)
{
	struct handoff *h = arg;
	long pairs = (n + 1) / 2;
	double t0 = bench_now_ns();
	pthread_mutex_lock(&h->mu);
	for (long i = 0; i < pairs; i++) {
		h->turn = 1;
		pthread_cond_signal(&h->cv);
		while (h->turn != 0)
			pthread_cond_wait(&h->cv, &h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return (bench_now_ns() - t0) * (double)n / (double)(2 * pairs);
}

static void pin(pthread_t t, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(t, sizeof(set), &set);
	if (rc)
		bench_die("pthread_setaffinity_np", rc);
}

/* The main thread on cpu_main, the peer on cpu_peer; the main thread's mask is restored. */
static struct bench_result handoff_measure(int cpu_main, int cpu_peer)
{
	struct handoff h = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	cpu_set_t saved;
	sched_getaffinity(0, sizeof(saved), &saved);
	int rc = pthread_create(&h.peer, NULL, handoff_peer, &h);
	if (rc)
		bench_die("pthread_create", rc);
	pin(pthread_self(), cpu_main);
	pin(h.peer, cpu_peer);
	struct bench_result r = bench_measure(handoff_run, &h, 64, MAX_OPS);
	pthread_mutex_lock(&h.mu);
	h.stop = true;
	pthread_cond_signal(&h.cv);
	pthread_mutex_unlock(&h.mu);
	pthread_join(h.peer, NULL);
	sched_setaffinity(0, sizeof(saved), &saved);
	return r;
}

/* The first two CPUs this process may run on; cpus[1] is -1 when there is only one. */
static void usable_cpus(int cpus[2])
{
	cpu_set_t set;
	cpus[0] = cpus[1] = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[k++] = c;
}

/* ---- driver ---- */

static void start_scheduler(void)
{
	int rc = gp_sched_start();
	if (rc < 0)
		bench_die("gp_sched_start", rc);
}

/* One uncalibrated green run with the scheduler's own counts, for strace. */
static int green_only(long switches)
{
	start_scheduler();
	struct gp_stats before = gp_rt->stats;
	double ns = green_pingpong(switches / 2);
	struct gp_stats after = gp_rt->stats;
	printf("green-only: switches=%ld scheduler_switches=%llu hub_polls=%llu ns=%.0f\n",
	       2 * (switches / 2),
	       (unsigned long long)(after.switches - before.switches),
	       (unsigned long long)(after.polls - before.polls), ns);
	return 0;
}

/* How many switches and hub polls one yield costs, as the scheduler counts them. */
static void print_scheduler_counts(void)
{
	struct gp_stats before = gp_rt->stats;
	long yields = 1000000;
	green_pingpong(yields / 2);
	struct gp_stats after = gp_rt->stats;
	double sw = (double)(after.switches - before.switches);
	double polls = (double)(after.polls - before.polls);
	printf("  scheduler: %.3f context switches per yield, one hub poll (a non-blocking\n"
	       "  ev_run: an epoll_wait system call) every %.1f yields\n",
	       sw / (double)yields, polls > 0 ? (double)yields / polls : 0.0);
}

static void print_pthread_rows(double base)
{
	int cpus[2];
	usable_cpus(cpus);
	if (cpus[0] < 0)
		return;
	if (cpus[1] >= 0)
		bench_row("pthread mutex+condvar, two CPUs", handoff_measure(cpus[0], cpus[1]),
			  base);
	bench_row("pthread mutex+condvar, one CPU", handoff_measure(cpus[0], cpus[0]), base);
	printf("  (pthread rows: one hand-off; a round trip is two)\n");
}

static int run_all(void)
{
	start_scheduler();
	raw_setup();
	uc_setup();
	struct bench_result green = bench_measure(green_run, NULL, 1024, MAX_OPS);
	struct bench_result raw = bench_measure(raw_run, NULL, 1024, MAX_OPS);
	struct bench_result uc = bench_measure(uc_run, NULL, 64, MAX_OPS);

	char title[128];
	snprintf(title, sizeof(title), "context switch (core switch: %s; %d repeats)",
		 gp_ctx_kind(), BENCH_REPEATS);
	bench_header(title, "ns/switch");
	bench_row("green yield (gp_yield)", green, green.best_ns);
	bench_row("bare gp_ctx_switch, no scheduler", raw, green.best_ns);
	bench_row("swapcontext", uc, green.best_ns);
	print_pthread_rows(green.best_ns);
	print_scheduler_counts();
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ctxswitch [--green-only [--switches N]]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	bool only_green = false;
	long switches = 2000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--green-only") == 0)
			only_green = true;
		else if (strcmp(argv[i], "--switches") == 0 && i + 1 < argc)
			switches = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (switches < 0)
		usage();
	return only_green ? green_only(switches) : run_all();
}

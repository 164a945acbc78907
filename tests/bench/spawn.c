/*
 * spawn: what a thread costs to create and to keep.
 *
 *   create+join     gp_spawn + gp_join of a thread that returns at once, against
 *                   pthread_create + pthread_join of the same function; after the first
 *                   round both reuse a cached stack
 *   idle memory     K green threads parked forever on small stacks: resident memory and
 *                   memory mappings per thread, read from /proc/self
 *   create+join     once more after the idle threads ended, with the default stack size
 *     again         and with one the stack cache has never held
 *   a million       1,000,000 green threads asleep at once (each with its own timer) on
 *                   16 KiB stacks: resident memory, page tables and mappings, against
 *                   vm.max_map_count; then they are woken and joined
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "sched.h"
#include "stack.h"

#define MAX_OPS (1L << 24)
#define IDLE_THREADS 10000
#define IDLE_STACK_SIZE (16 * 1024)
#define OTHER_STACK_SIZE (128 * 1024)   /* a size no earlier part uses */

static void *trivial(void *arg)
{
	return arg;
}

/* ---- create + join ---- */

/* arg: the struct gp_spawn_attr to spawn with, or NULL. */
static double green_pair_run(void *arg, long n)
{
	const struct gp_spawn_attr *attr = arg;
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		struct gp_green *g;
		int rc = gp_spawn(&g, trivial, NULL, attr);
		if (rc < 0)
			bench_die("gp_spawn", rc);
		gp_join(g, NULL);
	}
	return bench_now_ns() - t0;
}

static double pthread_pair_run(void *arg, long n)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pthread_t t;
		int rc = pthread_create(&t, NULL, trivial, NULL);
		if (rc)
			bench_die("pthread_create", rc);
		pthread_join(t, NULL);
	}
	return bench_now_ns() - t0;
}

/* Returns the best green time, which later tables are relative to. */
static double print_create_join(void)
{
	struct bench_result green = bench_measure(green_pair_run, NULL, 256, MAX_OPS);
	struct bench_result native = bench_measure(pthread_pair_run, NULL, 16, MAX_OPS);
	char title[96];
	snprintf(title, sizeof(title), "create + join (%d repeats, default stack sizes)",
		 BENCH_REPEATS);
	bench_header(title, "ns/pair");
	bench_row("green gp_spawn + gp_join", green, green.best_ns);
	bench_row("pthread_create + pthread_join", native, green.best_ns);
	return green.best_ns;
}

/* ---- idle memory ---- */

static void *idle_forever(void *arg)
{
	(void)arg;
	gp_park(-1, "bench idle");
	return NULL;
}

/* Spawn k idle threads and let each run up to its park, so its stack top is touched. */
static struct gp_green **spawn_idle(int k)
{
	struct gp_green **g = calloc((size_t)k, sizeof(*g));
	struct gp_spawn_attr attr = { .stack_size = IDLE_STACK_SIZE };
	if (!g)
		bench_die("calloc", ENOMEM);
	for (int i = 0; i < k; i++) {
		int rc = gp_spawn(&g[i], idle_forever, NULL, &attr);
		if (rc < 0)
			bench_die("gp_spawn", rc);
	}
	/* The run queue is FIFO: main, queued behind them all, resumes once each has parked. */
	gp_yield();
	return g;
}

/* Wake them (the park ends with 0), let them return, and free them. */
static void reap_idle(struct gp_green **g, int k)
{
	for (int i = 0; i < k; i++)
		gp_unpark(g[i]);
	for (int i = 0; i < k; i++)
		gp_join(g[i], NULL);
	free(g);
}

/* The figure includes 8 bytes a thread for this benchmark's own array of handles. */
static void print_idle_memory(void)
{
	long rss0 = bench_self_status("VmRSS"), maps0 = bench_map_count();
	double t0 = bench_now_ns();
	struct gp_green **g = spawn_idle(IDLE_THREADS);
	double t1 = bench_now_ns();
	long rss1 = bench_self_status("VmRSS"), maps1 = bench_map_count();
	reap_idle(g, IDLE_THREADS);

	printf("idle green threads (%d parked, %d KiB stacks, guard: %s)\n", IDLE_THREADS,
	       IDLE_STACK_SIZE / 1024,
	       gp_stack_guard_is_madvise() ? "MADV_GUARD_INSTALL" : "mprotect");
	printf("  VmRSS %ld -> %ld KiB: %.2f KiB per thread\n", rss0, rss1,
	       (double)(rss1 - rss0) / IDLE_THREADS);
	printf("  mappings %ld -> %ld: %.4f per thread\n", maps0, maps1,
	       (double)(maps1 - maps0) / IDLE_THREADS);
	printf("  spawn and first run, fresh stacks: %.0f ns per thread\n",
	       (t1 - t0) / IDLE_THREADS);
}

/*
 * The stack cache keeps stacks by exact size and up to a fixed count. The idle threads
 * leave it full of their small stacks; a size it holds is still served, a size it does
 * not hold may find no room.
 */
static void print_create_join_after_idle(double base_best)
{
	struct gp_spawn_attr other = { .stack_size = OTHER_STACK_SIZE };
	struct bench_result held = bench_measure(green_pair_run, NULL, 16, MAX_OPS);
	struct bench_result not_held = bench_measure(green_pair_run, &other, 16, MAX_OPS);
	char what[64];
	snprintf(what, sizeof(what), "green, %d KiB stacks (not cached)",
		 OTHER_STACK_SIZE / 1024);
	bench_header("create + join again, after the idle threads ended", "ns/pair");
	bench_row("green, default stacks (cached before)", held, base_best);
	bench_row(what, not_held, base_best);
}

/* ---- a million sleeping threads ---- */

#define MILLION 1000000
#define MILLION_STACK_SIZE (16 * 1024)

static void *sleep_long(void *arg)
{
	(void)arg;
	gp_sleep(3600);   /* ended early by gp_interrupt */
	return NULL;
}

static void print_million(void)
{
	struct gp_green **g = calloc(MILLION, sizeof(*g));
	struct gp_spawn_attr attr = { .stack_size = MILLION_STACK_SIZE };
	if (!g)
		bench_die("calloc", ENOMEM);
	long rss0 = bench_self_status("VmRSS"), pte0 = bench_self_status("VmPTE");
	long maps0 = bench_map_count();
	double t0 = bench_now_ns();
	long k;
	int rc = 0;
	for (k = 0; k < MILLION; k++)
		if ((rc = gp_spawn(&g[k], sleep_long, NULL, &attr)) < 0)
			break;
	gp_yield();   /* each runs up to its sleep; main, queued behind them, comes back last */
	double t1 = bench_now_ns();
	long rss1 = bench_self_status("VmRSS"), pte1 = bench_self_status("VmPTE");
	long maps1 = bench_map_count();
	size_t alive = gp_alive();

	printf("a million sleeping green threads (%d KiB stacks, a timer each)\n",
	       MILLION_STACK_SIZE / 1024);
	if (k < MILLION)
		printf("  only %ld fit: gp_spawn said %s\n", k, strerror(-rc));
	printf("  %zu green threads alive at once, asleep, on %d kernel thread\n", alive, 1);
	printf("  VmRSS %ld -> %ld KiB: %.2f GiB in all, %.2f KiB per thread\n", rss0, rss1,
	       (double)(rss1 - rss0) / (1024.0 * 1024.0), (double)(rss1 - rss0) / (double)k);
	printf("  page tables (VmPTE) %ld -> %ld KiB: %.3f KiB per thread\n", pte0, pte1,
	       (double)(pte1 - pte0) / (double)k);
	printf("  mappings %ld -> %ld (vm.max_map_count %ld)\n", maps0, maps1, bench_max_map_count());
	printf("  spawn and first run: %.0f ns per thread (mostly the page fault of each new\n"
	       "  stack's first page, which a virtual machine with shadow paging makes slow)\n",
	       (t1 - t0) / (double)k);

	t0 = bench_now_ns();
	for (long i = 0; i < k; i++)
		gp_interrupt(g[i]);
	for (long i = 0; i < k; i++)
		gp_join(g[i], NULL);
	free(g);
	gp_stack_cache_drain();
	t1 = bench_now_ns();
	printf("  wake, end and join: %.0f ns per thread; VmRSS after: %ld KiB, mappings %ld\n",
	       (t1 - t0) / (double)k, bench_self_status("VmRSS"), bench_map_count());
}

int main(void)
{
	int rc = gp_sched_start();
	if (rc < 0)
		bench_die("gp_sched_start", rc);
	double base = print_create_join();
	printf("\n");
	print_idle_memory();
	printf("\n");
	print_create_join_after_idle(base);
	printf("\n");
	print_million();
	return 0;
}

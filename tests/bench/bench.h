/*
 * What the benchmarks share: a monotonic clock, a calibrated measurement (warm up, size
 * the run to a time budget, repeat, keep the best and the median) and the table format.
 *
 * Benchmarks print figures and never judge them: the time a run takes depends on the
 * machine and its load, so nothing here fails on a slow result.
 */
#ifndef GP_BENCH_H
#define GP_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_REPEATS 9
/* Long enough to hide the clock reads and a stray interrupt, short enough for ~1 min total. */
#define BENCH_TARGET_NS 40e6

/* Runs n operations (whatever one operation is for the caller); returns elapsed ns. */
typedef double (*bench_fn)(void *arg, long n);

struct bench_result {
	double best_ns;    /* per operation, fastest repeat */
	double median_ns;  /* per operation, median repeat */
	long ops;          /* operations per repeat */
};

static inline double bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Double n until one run takes a measurable time, then scale it to the budget. */
static inline long bench_calibrate(bench_fn fn, void *arg, long n, long max_ops)
{
	double t;
	while ((t = fn(arg, n)) < BENCH_TARGET_NS / 16 && n < max_ops)
		n *= 2;
	double scaled = (double)n * BENCH_TARGET_NS / (t > 1 ? t : 1);
	if (scaled > (double)max_ops)
		scaled = (double)max_ops;
	return scaled < 1 ? 1 : (long)scaled;
}

/*
 * Calibration doubles as the warm-up: caches, branch predictors, the stack cache and
 * the CPU frequency have all seen the code before the first measured repeat.
 */
static inline struct bench_result bench_measure(bench_fn fn, void *arg, long start_ops,
						long max_ops)
{
	struct bench_result r = { .ops = bench_calibrate(fn, arg, start_ops, max_ops) };
	double per_op[BENCH_REPEATS];
	for (int i = 0; i < BENCH_REPEATS; i++)
		per_op[i] = fn(arg, r.ops) / (double)r.ops;
	qsort(per_op, BENCH_REPEATS, sizeof(per_op[0]), bench_cmp_double);
	r.best_ns = per_op[0];
	r.median_ns = per_op[BENCH_REPEATS / 2];
	return r;
}

static inline void bench_header(const char *title, const char *unit)
{
	printf("%s\n", title);
	printf("  %-40s %12s %12s %9s\n", "", "best", "median", "ratio");
	printf("  %-40s %12s %12s %9s\n", "", unit, unit, "");
}

/* One row; the ratio compares best times with the row the table is relative to. */
static inline void bench_row(const char *what, struct bench_result r, double base_best)
{
	printf("  %-40s %12.1f %12.1f %8.2fx\n", what, r.best_ns, r.median_ns,
	       r.best_ns / base_best);
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- latency histogram: 1 µs buckets up to 1 ms, then 512 per doubling (0.2%) ---- */

#define BENCH_HIST_BITS 10
#define BENCH_HIST_BUCKETS ((1 << BENCH_HIST_BITS) + 54 * (1 << (BENCH_HIST_BITS - 1)))

struct bench_hist {
	uint64_t n[BENCH_HIST_BUCKETS];
};

static inline unsigned bench_hist_index(uint64_t us)
{
	const unsigned hb = BENCH_HIST_BITS;
	if (us < (1u << hb))
		return (unsigned)us;
	int msb = 63 - __builtin_clzll(us);
	int shift = msb - (int)(hb - 1);
	unsigned i = (1u << hb) + (unsigned)(msb - (int)hb) * (1u << (hb - 1)) +
		     (unsigned)((us >> shift) - (1u << (hb - 1)));
	return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}

static inline double bench_hist_value(unsigned i)
{
	const unsigned hb = BENCH_HIST_BITS;
	if (i < (1u << hb))
		return i;
	unsigned k = i - (1u << hb), m = k / (1u << (hb - 1)), r = k % (1u << (hb - 1));
	return (double)((uint64_t)(r + (1u << (hb - 1))) << (m + 1));
}

static inline void bench_hist_add(struct bench_hist *h, uint64_t us)
{
	h->n[bench_hist_index(us)]++;
}

static inline uint64_t bench_hist_count(const struct bench_hist *h)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		total += h->n[i];
	return total;
}

/* The value below which a fraction p of the samples lie, in µs; 0 without samples. */
static inline double bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t total = bench_hist_count(h), seen = 0;
	if (!total)
		return 0;
	uint64_t want = (uint64_t)(p * (double)total);
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen > want)
			return bench_hist_value(i);
	}
	return bench_hist_value(BENCH_HIST_BUCKETS - 1);
}

/* A "Name:  N kB" (or plain number) field of a /proc/.../status file; -1 if absent. */
static inline long bench_status_field(const char *path, const char *field)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t len = strlen(field);
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* A field of this process's status, in the units the kernel gives (KiB for Vm...). */
static inline long bench_self_status(const char *field)
{
	return bench_status_field("/proc/self/status", field);
}

/* Memory mappings of this process: each costs an entry of vm.max_map_count. */
static inline long bench_map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long lines = 0;
	int c;
	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

static inline long bench_max_map_count(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long n = -1;
	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

#endif

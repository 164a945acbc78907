/*
 * tls_strerror [--list | CASE...]
 *
 * strerror() and strsignal() of a number glibc has no text for format "Unknown error N" or
 * "Unknown signal N" into a buffer of the calling thread's own, kept in TLS and replaced by
 * that thread's next call. So a thread's string survives while other threads call them
 * with other numbers: each thread asks for a number no other asks for, blocks while the
 * others ask for theirs, and finds its string intact. strerror_r writes into the caller's
 * buffer, and is checked the same way.
 *
 * Each case prints a line of counts and main's own string; natively "wrong" is 0.
 */
#define PROG "tls_strerror"
#include "progs.h"
#include "tls.h"

#include <malloc.h>
#include <signal.h>

#define THREADS 200
#define ROUNDS 10

/* The number thread id asks about in round r: unknown to glibc, and nobody else's. */
static int number(int id, int r)
{
	return 1000 + r * THREADS + id;
}

/* One call kind: what the call returns for n, and what it should say. */
struct kind {
	const char *(*call)(int n, char *buf, size_t size);
	const char *format;
};

static const char *call_strerror(int n, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	return strerror(n);
}

static const char *call_strsignal(int n, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	return strsignal(n);
}

static const char *call_strerror_r(int n, char *buf, size_t size)
{
	return strerror_r(n, buf, size); /* the GNU one: returns the string */
}

static const struct kind *kind;

static void *asker_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	char buf[64], want[64];
	bool ok = true;

	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		const char *s = kind->call(number(id, r), buf, sizeof(buf));

		snprintf(want, sizeof(want), kind->format, number(id, r));
		ok = ok && strcmp(s, want) == 0;
		park(r); /* the others ask for their numbers now */
		ok = ok && strcmp(s, want) == 0;
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void run_kind(const struct kind *k)
{
	char buf[64], mine[64];
	const char *s;
	int bad;

	kind = k;
	s = k->call(999999, buf, sizeof(buf)); /* main's, kept across the whole run */
	snprintf(mine, sizeof(mine), "%s", s);
	bad = run_threads(THREADS, asker_main);
	printf("%s: threads=%d wrong=%d main_string=\"%s\" main_kept_it=%s\n", current, THREADS,
	       bad, mine, yes(strcmp(s, mine) == 0));
}

static void case_strerror(void)
{
	run_kind(&(struct kind){ call_strerror, "Unknown error %d" });
}

static void case_strsignal(void)
{
	run_kind(&(struct kind){ call_strsignal, "Unknown signal %d" });
}

static void case_strerror_r(void)
{
	run_kind(&(struct kind){ call_strerror_r, "Unknown error %d" });
}

/* ---- table and driver ---------------------------------------------------------------- */

/*
 * The buffers are the thread's and are given back when it ends: 2,000 threads one after
 * another, each asking for an unknown error and signal, leave the heap about as it was
 * (natively a few bytes per thread; a buffer not given back is about 40 each).
 */
static void *unknown_main(void *arg)
{
	(void)arg;
	strerror(-98765);
	strsignal(98765);
	return NULL;
}

static void case_buffers_freed(void)
{
	enum { N = 2000, WARM = 16 };
	pthread_t warm[WARM];
	/* What the first threads on each kernel thread set up (malloc's arena and cache
	 * for that kernel thread, under the library too, where there are several
	 * carriers) is not counted. */
	for (int i = 0; i < WARM; i++)
		warm[i] = start(unknown_main, NULL);
	for (int i = 0; i < WARM; i++)
		join(warm[i]);
	size_t before = mallinfo2().uordblks;
	for (int i = 0; i < N; i++)
		join(start(unknown_main, NULL));
	size_t after = mallinfo2().uordblks;
	long per = ((long)after - (long)before) / N;
	printf("%s: %d threads, heap grew under 16 bytes per thread: %s\n", current, N,
	       yes(per < 16));
}

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(strerror),
	CASE(strsignal),
	CASE(strerror_r),
	CASE(buffers_freed),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

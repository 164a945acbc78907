/*
 * tls_errno [--list | CASE...]
 *
 * errno is each thread's own, across blocking calls: a thread sets a value no other thread
 * uses, blocks while the others set theirs and fail calls of their own, and finds its value
 * unchanged.
 *
 * A runtime that saves errno's value at each switch and restores it into one shared
 * location passes that much, so the other cases look at where errno lives, as glibc defines
 * it: __errno_location() is an address in the thread's TLS, distinct for every thread and
 * the same for one thread before and after a block (compiled code may keep it: the
 * function is declared const), and another thread reading through it sees the owner's
 * value.
 *
 * Each case prints one line of counts; natively every "wrong" count is 0.
 */
#define PROG "tls_errno"
#include "progs.h"
#include "tls.h"

#define THREADS 1000
#define ROUNDS 20

static int value_of(int id)
{
	return 10000 + id; /* no errno constant is that large */
}

/* ---- the value ----------------------------------------------------------------------- */

static void *keeper_main(void *arg)
{
	int mine = value_of((int)(intptr_t)arg);
	bool ok = true;
	char b[1];

	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		errno = mine;
		park(r);
		ok = ok && errno == mine;
		/* A failure of this thread's own, in between. */
		ssize_t n = read(-1, b, 1);

		ok = ok && n < 0 && errno == EBADF;
		errno = mine;
		sched_yield();
		ok = ok && errno == mine;
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_across_parks(void)
{
	errno = 7;
	printf("%s: threads=%d wrong=%d main_errno_kept=%s\n", current, THREADS,
	       run_threads(THREADS, keeper_main), yes(errno == 7));
}

/* ---- where it lives ----------------------------------------------------------------- */

static int *where[THREADS];
static pthread_barrier_t parked, peeked;

/*
 * Publishes &errno, sets its value and blocks in a barrier while main reads every thread's
 * errno through the published addresses; then checks the address did not change.
 */
static void *publisher_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	int *volatile kept = &errno; /* taken once, as compiled code may */

	where[id] = kept;
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		*kept = value_of(id);
		park(r);
		if (kept != &errno || errno != value_of(id))
			return THREAD_BAD;
	}
	pthread_barrier_wait(&parked);
	pthread_barrier_wait(&peeked);
	return kept == &errno && errno == value_of(id) ? THREAD_OK : THREAD_BAD;
}

static int compare_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (int *const *)a, y = (uintptr_t) * (int *const *)b;

	return (x > y) - (x < y);
}

static void case_addresses(void)
{
	pthread_t t[THREADS];
	int bad = 0, owners_value = 0, distinct = 0;
	bool main_own = true;

	pthread_barrier_init(&all_started, NULL, THREADS);
	pthread_barrier_init(&parked, NULL, THREADS + 1);
	pthread_barrier_init(&peeked, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		t[i] = start(publisher_main, (void *)(intptr_t)i);
	pthread_barrier_wait(&parked);
	errno = 3;
	for (int i = 0; i < THREADS; i++) {
		owners_value += *where[i] == value_of(i);
		main_own = main_own && where[i] != &errno;
	}
	pthread_barrier_wait(&peeked);
	for (int i = 0; i < THREADS; i++)
		bad += join(t[i]) != THREAD_OK;
	qsort(where, THREADS, sizeof(where[0]), compare_ptr);
	for (int i = 0; i < THREADS; i++)
		distinct += i == 0 || where[i] != where[i - 1];
	printf("%s: threads=%d wrong=%d distinct_addresses=%d read_owners_value=%d "
	       "main_address_own=%s\n",
	       current, THREADS, bad, distinct, owners_value, yes(main_own));
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(across_parks),
	CASE(addresses),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

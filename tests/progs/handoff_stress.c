/*
 * handoff_stress [ROUNDS]
 *
 * Threads that wake each other while others compute in bursts long enough to be handed
 * off (about 4 ms each, with GREENPATCH_HANDOFF at its default of 1 ms), so that under the
 * library wake-ups cross between kernel threads all the time:
 *
 *   - four pairs pass a turn back and forth ROUNDS times with a mutex and a condition
 *     variable each;
 *   - two workers compute a burst, then count it under a shared mutex, signal a
 *     condition variable that a collector waits on and wait for its acknowledgement
 *     (which parks them: a handed-off worker rejoins), BURSTS times each;
 *   - a thread creates and joins CHURN short threads, each of which adds to a counter
 *     under the shared mutex and wakes the collector;
 *   - a spinner spins on an atomic flag that the last pair to finish sets.
 *
 * Prints the totals, which do not depend on timing; a lost wake-up hangs the program
 * (alarm after 120 s), a double one or a race shows in the totals.
 */
#define PROG "handoff_stress"
#include "progs.h"

#include <stdatomic.h>

#define PAIRS 4
#define BURSTS 40
#define BURST_MS 4
#define CHURN 2000

static long rounds = 20000;

/* ---- ping-pong pairs ------------------------------------------------------------------- */

struct pair {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int turn;       /* 0: the first thread's, 1: the second's */
	long passes;
};

static struct pair pairs[PAIRS];
static atomic_int pairs_done, flag;

struct side {
	struct pair *p;
	int me;
};

static void *ping(void *arg)
{
	struct side *s = arg;
	struct pair *p = s->p;

	pthread_mutex_lock(&p->m);
	for (long i = 0; i < rounds; i++) {
		while (p->turn != s->me)
			pthread_cond_wait(&p->cv, &p->m);
		p->passes++;
		p->turn = !s->me;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->m);
	if (atomic_fetch_add(&pairs_done, 1) + 1 == 2 * PAIRS)
		atomic_store(&flag, 1);
	return NULL;
}

/* ---- bursts, churn and the collector ------------------------------------------------------ */

static pthread_mutex_t shared = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t counted = PTHREAD_COND_INITIALIZER, acked = PTHREAD_COND_INITIALIZER;
static long bursts_done, churned, expected_events = 2 * BURSTS + CHURN;
static long events, acks;

static void compute(long ms)
{
	struct timespec t0 = mono();
	volatile unsigned long x = 1;

	while (elapsed_ms(t0) < ms)
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005UL + 1;
}

static void count(long *what)
{
	pthread_mutex_lock(&shared);
	(*what)++;
	events++;
	pthread_cond_signal(&counted);
	pthread_mutex_unlock(&shared);
}

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < BURSTS; i++) {
		compute(BURST_MS);
		pthread_mutex_lock(&shared);
		bursts_done++;
		long mine = ++events;
		pthread_cond_signal(&counted);
		while (acks < mine)
			pthread_cond_wait(&acked, &shared);
		pthread_mutex_unlock(&shared);
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	(void)arg;
	count(&churned);
	return NULL;
}

static void *churner(void *arg)
{
	(void)arg;
	for (int i = 0; i < CHURN; i++)
		join(start(short_lived, NULL));
	return NULL;
}

static void *collector(void *arg)
{
	long *seen = arg;

	pthread_mutex_lock(&shared);
	for (;;) {
		acks = events;
		pthread_cond_broadcast(&acked);
		if (events >= expected_events)
			break;
		pthread_cond_wait(&counted, &shared);
	}
	*seen = events;
	pthread_mutex_unlock(&shared);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&flag, memory_order_acquire))
		;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[2 * PAIRS + 5];
	struct side sides[2 * PAIRS];
	long seen = 0;
	int n = 0;

	if (argc > 1)
		rounds = atol(argv[1]);
	alarm(120);
	for (int i = 0; i < PAIRS; i++) {
		pthread_mutex_init(&pairs[i].m, NULL);
		pthread_cond_init(&pairs[i].cv, NULL);
		for (int s = 0; s < 2; s++) {
			sides[2 * i + s] = (struct side){ &pairs[i], s };
			t[n++] = start(ping, &sides[2 * i + s]);
		}
	}
	t[n++] = start(collector, &seen);
	t[n++] = start(spinner, NULL);
	t[n++] = start(worker, NULL);
	t[n++] = start(worker, NULL);
	t[n++] = start(churner, NULL);
	for (int i = 0; i < n; i++)
		join(t[i]);
	long passes = 0;

	for (int i = 0; i < PAIRS; i++)
		passes += pairs[i].passes;
	printf("passes %ld of %ld\n", passes, 2 * PAIRS * rounds);
	printf("bursts %ld churned %ld events seen %ld of %ld\n", bursts_done, churned, seen,
	       expected_events);
	printf("spinner ended: it saw the flag the last pair set\n");
	return 0;
}

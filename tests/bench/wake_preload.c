/*
 * wake_preload: how long a thread parked on a semaphore takes to run after another
 * thread posts it, when the waker then waits itself (a request handed over: under the
 * library the woken thread runs next on the waker's carrier) and when the waker goes on
 * computing for 2 ms (the woken thread must run elsewhere: on another carrier, which
 * sleeps until it is woken, or natively on another CPU). A plain pthread program, run
 * natively and preloaded by scripts/bench: the median and the 99th percentile of the
 * wake-up, in microseconds.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 2000 };

static sem_t go, done;
static atomic_long posted_ns;
static long lat_ns[ROUNDS];

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *waiter_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		while (sem_wait(&go) != 0)
			;
		lat_ns[i] = now_ns() - atomic_load(&posted_ns);
		sem_post(&done);
	}
	return NULL;
}

static void compute_for(long ns)
{
	long until = now_ns() + ns;
	while (now_ns() < until)
		;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

static void run(const char *mode, long compute_ns)
{
	pthread_t t;
	sem_init(&go, 0, 0);
	sem_init(&done, 0, 0);
	if (pthread_create(&t, NULL, waiter_main, NULL) != 0) {
		perror("pthread_create");
		exit(1);
	}
	for (int i = 0; i < ROUNDS; i++) {
		usleep(200);   /* the waiter's side goes to sleep */
		atomic_store(&posted_ns, now_ns());
		sem_post(&go);
		if (compute_ns)
			compute_for(compute_ns);
		while (sem_wait(&done) != 0)
			;
	}
	pthread_join(t, NULL);
	qsort(lat_ns, ROUNDS, sizeof(lat_ns[0]), cmp_long);
	printf("%s: wake-up p50 %.1f us, p99 %.1f us (%d rounds)\n", mode,
	       (double)lat_ns[ROUNDS / 2] / 1e3, (double)lat_ns[ROUNDS * 99 / 100] / 1e3, ROUNDS);
	sem_destroy(&go);
	sem_destroy(&done);
}

int main(void)
{
	run("waker then waits", 0);
	run("waker computes 2 ms", 2000000L);
	return 0;
}

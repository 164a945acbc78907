/*
 * wake_preload: how long a thread parked on a semaphore takes to run after another
 * thread posts it, when the waker then waits itself (a request handed over: under the
 * library the woken thread runs next on the waker's carrier) and when the waker goes on
 * computing for 2 ms (the woken thread must run elsewhere: on another carrier, which
 * sleeps until it is woken, or natively on another CPU). A plain pthread program, run
 * natively and preloaded by scripts/bench: the median and the 99th percentile of the
 * wake-up, in microseconds. Then how late a thread that sleeps 1 ms at a time wakes
 * while two others keep each other runnable.
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

/*
 * Two threads that hand a turn back and forth on a condition variable, so that one of
 * them is always runnable, and a third that sleeps 1 ms at a time: how late its sleeps
 * end. Under the library its timer is seen at the next poll of the event loop, which a
 * busy run queue makes about once a millisecond (core/sched.h).
 */
enum { SLEEPS = 500 };

static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_cv = PTHREAD_COND_INITIALIZER;
static int turn;
static atomic_int pair_stop;

static void *take_turns(void *arg)
{
	int me = (int)(long)arg;

	pthread_mutex_lock(&turn_lock);
	while (!atomic_load(&pair_stop)) {
		if (turn != me) {
			pthread_cond_wait(&turn_cv, &turn_lock);
			continue;
		}
		turn = !me;
		pthread_cond_signal(&turn_cv);
	}
	pthread_mutex_unlock(&turn_lock);
	return NULL;
}

static void run_sleeper_beside_pair(void)
{
	pthread_t a, b;
	if (pthread_create(&a, NULL, take_turns, (void *)0L) != 0 ||
	    pthread_create(&b, NULL, take_turns, (void *)1L) != 0) {
		perror("pthread_create");
		exit(1);
	}
	for (int i = 0; i < SLEEPS; i++) {
		long t0 = now_ns();
		usleep(1000);
		lat_ns[i] = now_ns() - t0 - 1000000L;
	}
	atomic_store(&pair_stop, 1);
	pthread_mutex_lock(&turn_lock);
	pthread_cond_broadcast(&turn_cv);
	pthread_mutex_unlock(&turn_lock);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	qsort(lat_ns, SLEEPS, sizeof(lat_ns[0]), cmp_long);
	printf("sleeps 1 ms beside a busy pair: late p50 %.1f us, p99 %.1f us (%d sleeps)\n",
	       (double)lat_ns[SLEEPS / 2] / 1e3, (double)lat_ns[SLEEPS * 99 / 100] / 1e3, SLEEPS);
}

int main(void)
{
	run("waker then waits", 0);
	run("waker computes 2 ms", 2000000L);
	run_sleeper_beside_pair();
	return 0;
}

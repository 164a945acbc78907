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
 *   - a spinner spins on an atomic flag that the last pair to finish sets;
 *   - two loggers hold a recursive mutex (locked twice) and a stream's lock (flockfile)
 *     across a burst, writing one line to a pipe in two parts around it, and meet at a
 *     barrier each round; a contender takes the same recursive mutex as often, an
 *     error-checking mutex is locked again by its holder after a burst (EDEADLK), and
 *     two writers put WRITES short lines each on the same stream with fputs, with no
 *     lock of their own, after each burst; a reader checks every line it reads with
 *     fgets from the other end of the pipe (natively glibc's stream lock keeps each
 *     fputs whole).
 *     So the library's own bookkeeping (green stream locks, recursive mutex owners,
 *     barriers) is exercised by threads that have just been handed off;
 *   - a kicker sends a signal to a thread each time it ends a burst, KICKS times, and
 *     waits until it has posted a semaphore: each signal reaches the thread on its own
 *     kernel thread or as it comes back, and its handler runs once.
 *
 * Prints the totals, which do not depend on timing; a lost wake-up hangs the program
 * (alarm after 120 s), a double one or a race shows in the totals.
 */
#define PROG "handoff_stress"
#include "progs.h"

#include <semaphore.h>
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

/* ---- signals to a thread that was just handed off --------------------------------------- */

#define KICKS 100

static sem_t kick_go, kick_done;
static atomic_int kick_phase, kicks_handled;

static void on_kick(int sig)
{
	(void)sig;
	atomic_fetch_add(&kicks_handled, 1);
}

/* Computes a burst (handed off meanwhile), says so, and comes back at its next wait. */
static void *kicked(void *arg)
{
	(void)arg;
	for (int i = 0; i < KICKS; i++) {
		while (sem_wait(&kick_go) != 0)
			;
		compute(2);
		atomic_store(&kick_phase, 1);
		sem_post(&kick_done);
	}
	while (sem_wait(&kick_go) != 0)   /* the last signal reaches it before it ends */
		;
	return NULL;
}

static void *kicker(void *arg)
{
	pthread_t target = *(pthread_t *)arg;

	for (int i = 0; i < KICKS; i++) {
		atomic_store(&kick_phase, 0);
		sem_post(&kick_go);
		while (!atomic_load(&kick_phase))
			;
		pthread_kill(target, SIGUSR1);
		while (sem_wait(&kick_done) != 0)
			;
	}
	sem_post(&kick_go);
	return NULL;
}

/* ---- the library's bookkeeping across hand-offs ----------------------------------------- */

#define LOGGERS 2
#define LOG_ROUNDS 25
#define CONTENDS 200
#define WRITERS 2
#define WRITES 300

static pthread_mutex_t rec, check;
static pthread_barrier_t meet, writers_meet;
static FILE *log_out;
static long log_rounds_done, serial_rounds, deadlocks_seen, contended;

static void *logger(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < LOG_ROUNDS; i++) {
		pthread_mutex_lock(&rec);
		pthread_mutex_lock(&rec);
		flockfile(log_out);
		fprintf(log_out, "logger %ld ", id);
		compute(BURST_MS);
		fprintf(log_out, "round %d\n", i);
		fflush(log_out);
		funlockfile(log_out);
		log_rounds_done++;
		pthread_mutex_unlock(&rec);
		pthread_mutex_unlock(&rec);
		pthread_mutex_lock(&check);
		compute(1);
		if (pthread_mutex_lock(&check) == EDEADLK)
			deadlocks_seen++;
		pthread_mutex_unlock(&check);
		if (pthread_barrier_wait(&meet) == PTHREAD_BARRIER_SERIAL_THREAD)
			serial_rounds++;
	}
	return NULL;
}


static void *writer(void *arg)
{
	long id = (long)arg;
	char line[64];

	for (int r = 0; r < LOG_ROUNDS; r++) {
		/* Together, so that both are handed off and write at the same time. */
		pthread_barrier_wait(&writers_meet);
		compute(BURST_MS);
		for (int i = 0; i < WRITES; i++) {
			snprintf(line, sizeof(line), "writer %ld line %d\n", id, r * WRITES + i);
			fputs(line, log_out);
		}
	}
	return NULL;
}

static void *contender(void *arg)
{
	(void)arg;
	for (int i = 0; i < CONTENDS; i++) {
		pthread_mutex_lock(&rec);
		pthread_mutex_lock(&rec);
		contended++;
		pthread_mutex_unlock(&rec);
		pthread_mutex_unlock(&rec);
		if (i % 20 == 0)
			usleep(1000);
	}
	return NULL;
}

/* Reads every line; counts the well-formed ones and each logger's rounds in order. */
static void *log_reader(void *arg)
{
	FILE *in = arg;
	static long good;
	int next[LOGGERS + WRITERS] = { 0 };
	char line[128];
	long id;
	int n, bad = 0;

	while (fgets(line, sizeof(line), in)) {
		if (sscanf(line, "logger %ld round %d\n", &id, &n) == 2 && id >= 0 &&
		    id < LOGGERS && n == next[id]) {
			next[id]++;
			good++;
		} else if (sscanf(line, "writer %ld line %d\n", &id, &n) == 2 && id >= 0 &&
			   id < WRITERS && n == next[LOGGERS + id]) {
			next[LOGGERS + id]++;
			good++;
		} else if (bad++ < 5) {
			printf("bad line: %s", line);
		}
	}
	fclose(in);
	return &good;
}

static void bookkeeping_start(pthread_t *t, int *n, pthread_t *reader)
{
	pthread_mutexattr_t a;
	int fds[2];

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&rec, &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&check, &a);
	pthread_mutexattr_destroy(&a);
	pthread_barrier_init(&meet, NULL, LOGGERS);
	pthread_barrier_init(&writers_meet, NULL, WRITERS);
	if (pipe(fds) != 0)
		die("pipe");
	log_out = fdopen(fds[1], "w");
	FILE *in = fdopen(fds[0], "r");
	if (!log_out || !in)
		die("fdopen");
	*reader = start(log_reader, in);
	for (long i = 0; i < LOGGERS; i++)
		t[(*n)++] = start(logger, (void *)i);
	for (long i = 0; i < WRITERS; i++)
		t[(*n)++] = start(writer, (void *)i);
	t[(*n)++] = start(contender, NULL);
}

static void bookkeeping_report(pthread_t reader)
{
	fclose(log_out);
	long *good = join(reader);

	printf("log rounds %ld, lines read whole and in order %ld of %d, barrier rounds %ld, "
	       "EDEADLK %ld, contender %ld\n",
	       log_rounds_done, *good, LOGGERS * LOG_ROUNDS + WRITERS * LOG_ROUNDS * WRITES,
	       serial_rounds, deadlocks_seen, contended);
}

int main(int argc, char **argv)
{
	pthread_t t[2 * PAIRS + 7 + LOGGERS + WRITERS + 1], reader;
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
	struct sigaction kick = { .sa_handler = on_kick, .sa_flags = SA_RESTART };
	sigaction(SIGUSR1, &kick, NULL);
	sem_init(&kick_go, 0, 0);
	sem_init(&kick_done, 0, 0);
	t[n] = start(kicked, NULL);
	t[n + 1] = start(kicker, &t[n]);
	n += 2;
	bookkeeping_start(t, &n, &reader);
	for (int i = 0; i < n; i++)
		join(t[i]);
	long passes = 0;

	for (int i = 0; i < PAIRS; i++)
		passes += pairs[i].passes;
	printf("passes %ld of %ld\n", passes, 2 * PAIRS * rounds);
	printf("bursts %ld churned %ld events seen %ld of %ld\n", bursts_done, churned, seen,
	       expected_events);
	printf("spinner ended: it saw the flag the last pair set\n");
	printf("kicks handled %d of %d\n", atomic_load(&kicks_handled), KICKS);
	bookkeeping_report(reader);
	return 0;
}

/*
 * carrier_stress [--list | CASE...]: threads that synchronise with each other as fast as
 * they can, where several carriers (GREENPATCH_CARRIERS) run them in parallel and every
 * wake-up may cross from one kernel thread to another. Each case prints counts that do
 * not depend on timing, so that a lost wake-up shows as a hang (the harness's timeout),
 * a lost update as a wrong count.
 *
 *   cond_pingpong     two threads take turns under a mutex and a condition variable
 *   sem_pairs         eight pairs of threads hand a token back and forth with semaphores
 *   mutex_counter     eight threads add to one counter under a mutex
 *   create_join_wake  100,000 threads created and joined, four creators at once, each
 *                     new thread waking its creator through a semaphore before it ends
 *   spin_flag         a thread spins on an atomic flag that another sets after a sleep
 *   barrier_rounds    four threads meet at a barrier, round after round
 *   stuck_beside      raw system calls that block (hand-offs) while pairs take turns
 *   rwlock_mix        readers and writers on one rwlock: writers see no reader inside
 *   glibc_locks       eight threads call what takes glibc's own tid-based locks at once:
 *                     textdomain and setlocale (read-write locks), dl_iterate_phdr (the
 *                     loader's recursive lock); a thread taken for another's owner there
 *                     corrupts the lock, and every later caller waits for ever
 */
#define PROG "carrier_stress"
#include "progs.h"

#include <libintl.h>
#include <link.h>
#include <locale.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/syscall.h>

/* ---- cond_pingpong ------------------------------------------------------------------- */

enum { PINGPONG_ROUNDS = 100000 };

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int turn;
	long moves;
} pp = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void *pingpong_main(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < PINGPONG_ROUNDS; i++) {
		pthread_mutex_lock(&pp.m);
		while (pp.turn != me)
			pthread_cond_wait(&pp.cv, &pp.m);
		pp.moves++;
		pp.turn = !me;
		pthread_cond_signal(&pp.cv);
		pthread_mutex_unlock(&pp.m);
	}
	return NULL;
}

static void case_cond_pingpong(void)
{
	pthread_t a = start(pingpong_main, (void *)0), b = start(pingpong_main, (void *)1);

	join(a);
	join(b);
	printf("cond_pingpong: rounds=%d moves=%ld\n", PINGPONG_ROUNDS, pp.moves);
}

/* ---- sem_pairs ----------------------------------------------------------------------- */

enum { PAIRS = 8, PAIR_ROUNDS = 20000 };

struct pair {
	sem_t ping, pong;
	long served;
};

static struct pair pairs[PAIRS];

static void *pair_server(void *arg)
{
	struct pair *p = arg;

	for (int i = 0; i < PAIR_ROUNDS; i++) {
		while (sem_wait(&p->ping) != 0)
			;
		p->served++;
		sem_post(&p->pong);
	}
	return NULL;
}

static void *pair_client(void *arg)
{
	struct pair *p = arg;

	for (int i = 0; i < PAIR_ROUNDS; i++) {
		sem_post(&p->ping);
		while (sem_wait(&p->pong) != 0)
			;
	}
	return NULL;
}

/* Every pair, from the start to the end of their rounds: the rounds served in all. */
static long run_pairs(void)
{
	pthread_t t[2 * PAIRS];
	long served = 0;

	for (int i = 0; i < PAIRS; i++) {
		pairs[i] = (struct pair){ .served = 0 };
		sem_init(&pairs[i].ping, 0, 0);
		sem_init(&pairs[i].pong, 0, 0);
		t[2 * i] = start(pair_server, &pairs[i]);
		t[2 * i + 1] = start(pair_client, &pairs[i]);
	}
	for (int i = 0; i < 2 * PAIRS; i++)
		join(t[i]);
	for (int i = 0; i < PAIRS; i++) {
		served += pairs[i].served;
		sem_destroy(&pairs[i].ping);
		sem_destroy(&pairs[i].pong);
	}
	return served;
}

static void case_sem_pairs(void)
{
	printf("sem_pairs: pairs=%d rounds=%d served=%ld\n", PAIRS, PAIR_ROUNDS, run_pairs());
}

/* ---- mutex_counter ------------------------------------------------------------------- */

enum { ADDERS = 8, ADDS = 50000 };

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static long counted;

static void *adder_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < ADDS; i++) {
		pthread_mutex_lock(&count_lock);
		long v = counted;
		if (i % 64 == 0)
			sched_yield();   /* a switch while holding it: others must wait */
		counted = v + 1;
		pthread_mutex_unlock(&count_lock);
	}
	return NULL;
}

static void case_mutex_counter(void)
{
	pthread_t t[ADDERS];

	for (int i = 0; i < ADDERS; i++)
		t[i] = start(adder_main, NULL);
	for (int i = 0; i < ADDERS; i++)
		join(t[i]);
	printf("mutex_counter: threads=%d adds=%d counter=%ld\n", ADDERS, ADDS, counted);
}

/* ---- create_join_wake ---------------------------------------------------------------- */

enum { CREATORS = 4, CREATES = 25000 };

static atomic_long children_ran;

static void *child_main(void *arg)
{
	atomic_fetch_add(&children_ran, 1);
	sem_post(arg);
	return arg;
}

static void *creator_main(void *arg)
{
	sem_t done;
	long wrong = 0;

	(void)arg;
	sem_init(&done, 0, 0);
	for (int i = 0; i < CREATES; i++) {
		pthread_t c = start(child_main, &done);
		while (sem_wait(&done) != 0)
			;
		if (join(c) != &done)
			wrong++;
	}
	sem_destroy(&done);
	return (void *)wrong;
}

static void case_create_join_wake(void)
{
	pthread_t t[CREATORS];
	long wrong = 0;

	for (int i = 0; i < CREATORS; i++)
		t[i] = start(creator_main, NULL);
	for (int i = 0; i < CREATORS; i++)
		wrong += (long)join(t[i]);
	printf("create_join_wake: created=%d ran=%ld wrong_results=%ld\n", CREATORS * CREATES,
	       atomic_load(&children_ran), wrong);
}

/* ---- spin_flag ----------------------------------------------------------------------- */

static atomic_int flag;

static void *flag_setter(void *arg)
{
	(void)arg;
	msleep(100);
	atomic_store(&flag, 1);
	return NULL;
}

static void case_spin_flag(void)
{
	pthread_t t = start(flag_setter, NULL);
	long spins = 0;

	while (!atomic_load(&flag))
		spins++;
	join(t);
	printf("spin_flag: seen=yes spun=%s\n", yes(spins > 0));
}

/* ---- barrier_rounds ------------------------------------------------------------------ */

enum { MEETERS = 4, MEETINGS = 10000 };

static pthread_barrier_t meet;
static atomic_long serials;

static void *meeter_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < MEETINGS; i++)
		if (pthread_barrier_wait(&meet) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serials, 1);
	return NULL;
}

static void case_barrier_rounds(void)
{
	pthread_t t[MEETERS];

	pthread_barrier_init(&meet, NULL, MEETERS);
	for (int i = 0; i < MEETERS; i++)
		t[i] = start(meeter_main, NULL);
	for (int i = 0; i < MEETERS; i++)
		join(t[i]);
	pthread_barrier_destroy(&meet);
	printf("barrier_rounds: threads=%d rounds=%d serial_threads=%ld\n", MEETERS, MEETINGS,
	       atomic_load(&serials));
}

/* ---- stuck_beside -------------------------------------------------------------------- */

enum { STUCK = 4, STUCK_SLEEPS = 40 };

/* A raw nanosleep the library does not see: its carrier is handed off each time. */
static void *stuck_main(void *arg)
{
	struct timespec ts = { 0, 5 * 1000000L };

	(void)arg;
	for (int i = 0; i < STUCK_SLEEPS; i++)
		syscall(SYS_nanosleep, &ts, NULL);
	return NULL;
}

static void case_stuck_beside(void)
{
	pthread_t s[STUCK];

	for (int i = 0; i < STUCK; i++)
		s[i] = start(stuck_main, NULL);
	long served = run_pairs();
	for (int i = 0; i < STUCK; i++)
		join(s[i]);
	printf("stuck_beside: stuck_threads=%d served=%ld\n", STUCK, served);
}

/* ---- rwlock_mix ---------------------------------------------------------------------- */

enum { READERS = 6, WRITERS = 2, RW_ROUNDS = 20000 };

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int readers_inside;
static long written;
static atomic_long writer_saw_reader;

static void *reader_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < RW_ROUNDS; i++) {
		pthread_rwlock_rdlock(&rw);
		atomic_fetch_add(&readers_inside, 1);
		atomic_fetch_sub(&readers_inside, 1);
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void *writer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < RW_ROUNDS; i++) {
		pthread_rwlock_wrlock(&rw);
		if (atomic_load(&readers_inside))
			atomic_fetch_add(&writer_saw_reader, 1);
		written++;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void case_rwlock_mix(void)
{
	pthread_t t[READERS + WRITERS];

	for (int i = 0; i < READERS; i++)
		t[i] = start(reader_main, NULL);
	for (int i = 0; i < WRITERS; i++)
		t[READERS + i] = start(writer_main, NULL);
	for (int i = 0; i < READERS + WRITERS; i++)
		join(t[i]);
	printf("rwlock_mix: writes=%ld writer_saw_a_reader=%ld\n", written,
	       atomic_load(&writer_saw_reader));
}

/* ---- glibc_locks --------------------------------------------------------------------- */

enum { LOCKERS = 8, LOCKER_ROUNDS = 5000 };

static int count_object(struct dl_phdr_info *info, size_t size, void *seen)
{
	(void)info, (void)size;
	++*(long *)seen;
	return 0;
}

static void *locker_main(void *arg)
{
	long *objects = arg;
	for (int i = 0; i < LOCKER_ROUNDS; i++) {
		if (!textdomain("messages") || !setlocale(LC_NUMERIC, "C"))
			die("textdomain or setlocale");
		long seen = 0;
		dl_iterate_phdr(count_object, &seen);
		if (seen != *objects)
			fail("dl_iterate_phdr saw %ld objects, not %ld", seen, *objects);
	}
	return NULL;
}

static void case_glibc_locks(void)
{
	pthread_t t[LOCKERS];
	long objects = 0;

	dl_iterate_phdr(count_object, &objects);
	for (int i = 0; i < LOCKERS; i++)
		t[i] = start(locker_main, &objects);
	for (int i = 0; i < LOCKERS; i++)
		join(t[i]);
	printf("glibc_locks: %d threads x %d rounds\n", LOCKERS, LOCKER_ROUNDS);
}

static const struct prog_case cases[] = {
#define CASE(n) { #n, case_##n }
	CASE(cond_pingpong),
	CASE(sem_pairs),
	CASE(mutex_counter),
	CASE(create_join_wake),
	CASE(spin_flag),
	CASE(barrier_rounds),
	CASE(stuck_beside),
	CASE(rwlock_mix),
	CASE(glibc_locks),
#undef CASE
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			 run_case_in_thread);
}

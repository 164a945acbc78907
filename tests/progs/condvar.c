/*
 * condvar [--list | SECTION...]
 *
 * Threads that coordinate through pthread mutexes, condition variables, rwlocks, spinlocks,
 * semaphores, barriers, once, thread-specific data, join, detach and cancellation. Each
 * section prints one line of totals that do not depend on how the threads interleave;
 * a section that finds something wrong says so on stderr and exits 1.
 *
 * With no argument every section runs in order; with SECTIONs those, in the order of the
 * table below; --list names them all.
 */
#define PROG "condvar"
#include "progs.h"

#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

static void check(bool ok, const char *what)
{
	if (!ok)
		fail("%s", what);
}

/* ---- producers and consumers on a bounded queue -------------------------------------- */

#define QCAP 8
#define PRODUCERS 4
#define CONSUMERS 3
#define ITEMS 25000 /* per producer */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	uint64_t items[QCAP];
	unsigned head, count, producers_left;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER };

static void *producer_main(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg * 1000000;

	for (uint64_t i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&q.lock);
		while (q.count == QCAP)
			pthread_cond_wait(&q.not_full, &q.lock);
		q.items[(q.head + q.count++) % QCAP] = base + i;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.lock);
	}
	pthread_mutex_lock(&q.lock);
	if (--q.producers_left == 0)
		pthread_cond_broadcast(&q.not_empty); /* consumers may now see the end */
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

struct tally {
	uint64_t n, sum;
};

static void *consumer_main(void *arg)
{
	struct tally *t = calloc(1, sizeof(*t));

	(void)arg;
	if (!t)
		die("calloc");
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (q.count == 0 && q.producers_left > 0)
			pthread_cond_wait(&q.not_empty, &q.lock);
		if (q.count == 0)
			break;
		t->sum += q.items[q.head];
		t->n++;
		q.head = (q.head + 1) % QCAP;
		q.count--;
		pthread_cond_signal(&q.not_full);
	}
	pthread_mutex_unlock(&q.lock);
	return t;
}

static void section_prodcons(void)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];
	struct tally total = { 0, 0 };
	uint64_t expect = 0;

	q.producers_left = PRODUCERS;
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		c[i] = start(consumer_main, NULL);
	for (uintptr_t i = 0; i < PRODUCERS; i++) {
		p[i] = start(producer_main, (void *)(i + 1));
		expect += (i + 1) * 1000000 * ITEMS + (uint64_t)ITEMS * (ITEMS + 1) / 2;
	}
	for (int i = 0; i < PRODUCERS; i++)
		join(p[i]);
	for (int i = 0; i < CONSUMERS; i++) {
		struct tally *t = join(c[i]);

		total.n += t->n;
		total.sum += t->sum;
		free(t);
	}
	check(total.sum == expect, "checksum of consumed items is wrong");
	printf("prodcons: produced=%d consumed=%llu sum=%llu\n", PRODUCERS * ITEMS,
	       (unsigned long long)total.n, (unsigned long long)total.sum);
}

/* ---- timed waits --------------------------------------------------------------------- */

/* Waits on a condition nobody signals: must time out, not early, with the mutex held. */
static void timed_wait(const char *how, clockid_t clock, bool use_attr, bool use_clockwait)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_condattr_t attr;
	pthread_cond_t cv;
	struct timespec deadline;
	int r;

	pthread_condattr_init(&attr);
	if (use_attr)
		pthread_condattr_setclock(&attr, clock);
	pthread_cond_init(&cv, &attr);
	pthread_mutex_lock(&m);
	deadline = clock_after(clock, 100);
	do {
		r = use_clockwait ? pthread_cond_clockwait(&cv, &m, clock, &deadline)
				  : pthread_cond_timedwait(&cv, &m, &deadline);
	} while (r == 0); /* a spurious wakeup is allowed; the deadline still holds */
	printf("%s: ret=%s waited=%s mutex_held=%s\n", how, errname(r),
	       yes(reached(clock, deadline)), yes(pthread_mutex_trylock(&m) == EBUSY));
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&cv);
	pthread_condattr_destroy(&attr);
}

static void section_timedwait(void)
{
	timed_wait("timedwait_realtime", CLOCK_REALTIME, false, false);
	timed_wait("timedwait_monotonic", CLOCK_MONOTONIC, true, false);
	timed_wait("clockwait_monotonic", CLOCK_MONOTONIC, false, true);
}

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool flag;
} wake = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *waker_main(void *arg)
{
	(void)arg;
	msleep(20);
	pthread_mutex_lock(&wake.m);
	wake.flag = true;
	pthread_cond_signal(&wake.cv);
	pthread_mutex_unlock(&wake.m);
	return NULL;
}

/* A timed wait that is signalled well before its deadline returns 0. */
static void section_timedwait_signalled(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, 10000);
	pthread_t t = start(waker_main, NULL);
	int r = 0;

	pthread_mutex_lock(&wake.m);
	while (!wake.flag && r == 0)
		r = pthread_cond_timedwait(&wake.cv, &wake.m, &deadline);
	pthread_mutex_unlock(&wake.m);
	join(t);
	printf("timedwait_signalled: ret=%s flag=%s\n", errname(r), yes(wake.flag));
}

/*
 * A thread that computes for longer than the library's hand-off threshold (1 ms) is
 * asked to yield, or handed off, and then waits on a condition variable nobody signals,
 * with a short deadline: the wait times out, as glibc's does. Under the library such a
 * thread's next park was told to look again, and the wait returned 0.
 */
enum { YIELD_ROUNDS = 10 };

static pthread_mutex_t after_yield_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t after_yield_cv = PTHREAD_COND_INITIALIZER;

static void *computes_then_waits(void *arg)
{
	int *timed_out = arg;
	for (int i = 0; i < YIELD_ROUNDS; i++) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (elapsed_ms(t0) < 4)
			;
		struct timespec deadline = clock_after(CLOCK_REALTIME, 5);
		pthread_mutex_lock(&after_yield_lock);
		int r = pthread_cond_timedwait(&after_yield_cv, &after_yield_lock, &deadline);
		pthread_mutex_unlock(&after_yield_lock);
		*timed_out += r == ETIMEDOUT;
	}
	return NULL;
}

static void section_timedwait_after_compute(void)
{
	int timed_out = 0;
	join(start(computes_then_waits, &timed_out));
	printf("timedwait_after_compute: waits=%d timed_out=%d\n", YIELD_ROUNDS, timed_out);
}

/*
 * Many threads in timed waits at once, each on something nobody will give it: a condvar
 * (both clocks, timedwait and clockwait), a semaphore, a mutex and an rwlock that main
 * holds. Every wait must time out, none early; run in turn they would take
 * TIMED_THREADS * 200 ms, which is how a test tells that they overlapped.
 */
#define TIMED_THREADS 60
#define TIMED_KINDS 6

static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t held_rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t empty_sem;

static int timed_cond(int kind, struct timespec *deadline, clockid_t *clock)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_condattr_t attr;
	pthread_cond_t cv;
	int r;

	*clock = kind == 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	pthread_condattr_init(&attr);
	if (kind == 1)
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &attr);
	pthread_mutex_lock(&m);
	*deadline = clock_after(*clock, 200);
	do {
		r = kind == 2 ? pthread_cond_clockwait(&cv, &m, *clock, deadline)
			      : pthread_cond_timedwait(&cv, &m, deadline);
	} while (r == 0);
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&cv);
	pthread_condattr_destroy(&attr);
	return r;
}

static void *timed_main(void *arg)
{
	int kind = (int)(intptr_t)arg % TIMED_KINDS, r;
	clockid_t clock = CLOCK_REALTIME;
	struct timespec deadline = clock_after(CLOCK_REALTIME, 200);

	switch (kind) {
	case 3: r = sem_timedwait(&empty_sem, &deadline) == 0 ? 0 : errno; break;
	case 4: r = pthread_mutex_timedlock(&held_m, &deadline); break;
	case 5: r = pthread_rwlock_timedwrlock(&held_rw, &deadline); break;
	default: r = timed_cond(kind, &deadline, &clock); break;
	}
	check(r == ETIMEDOUT, "a timed wait did not time out");
	check(reached(clock, deadline), "a timed wait returned before its deadline");
	return NULL;
}

static void section_timedwait_many(void)
{
	pthread_t t[TIMED_THREADS];

	sem_init(&empty_sem, 0, 0);
	pthread_mutex_lock(&held_m);
	pthread_rwlock_rdlock(&held_rw);
	for (intptr_t i = 0; i < TIMED_THREADS; i++)
		t[i] = start(timed_main, (void *)i);
	for (int i = 0; i < TIMED_THREADS; i++)
		join(t[i]);
	pthread_rwlock_unlock(&held_rw);
	pthread_mutex_unlock(&held_m);
	sem_destroy(&empty_sem);
	printf("timedwait_many: threads=%d all_timed_out=yes\n", TIMED_THREADS);
}

/* ---- join, detach, self ------------------------------------------------------------- */

static void *square_main(void *arg)
{
	uintptr_t i = (uintptr_t)arg;

	msleep((long)(8 - i)); /* finish in the opposite order of creation */
	if (i % 2)
		pthread_exit((void *)(i * i));
	return (void *)(i * i);
}

static void section_join(void)
{
	pthread_t t[8];
	uintptr_t sum = 0;

	for (uintptr_t i = 0; i < 8; i++)
		t[i] = start(square_main, (void *)i);
	for (int i = 0; i < 8; i++)
		sum += (uintptr_t)join(t[i]);
	errno = pthread_join(pthread_self(), NULL);
	printf("join: sum_of_squares=%lu self_join=%s\n", (unsigned long)sum, errname(errno));
}

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int done;
} det = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *detached_main(void *arg)
{
	(void)arg;
	msleep(5);
	pthread_mutex_lock(&det.m);
	det.done++;
	pthread_cond_broadcast(&det.cv);
	pthread_mutex_unlock(&det.m);
	return NULL;
}

/* Half detach themselves after creation, half are created detached. */
static void section_detach(void)
{
	pthread_attr_t attr;
	int state = -1;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_getdetachstate(&attr, &state);
	for (int i = 0; i < 10; i++) {
		pthread_t t;

		if (i % 2) {
			t = start(detached_main, NULL);
			errno = pthread_detach(t);
			if (errno)
				die("pthread_detach");
		} else if ((errno = pthread_create(&t, &attr, detached_main, NULL))) {
			die("pthread_create");
		}
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_lock(&det.m);
	while (det.done < 10)
		pthread_cond_wait(&det.cv, &det.m);
	pthread_mutex_unlock(&det.m);
	printf("detach: finished=%d attr_detached=%s\n", det.done,
	       yes(state == PTHREAD_CREATE_DETACHED));
}

struct selfie {
	pthread_t seen_before, seen_after;
};

static void *selfie_main(void *arg)
{
	struct selfie *s = arg;

	s->seen_before = pthread_self();
	msleep(10); /* a blocking call must not change who we are */
	s->seen_after = pthread_self();
	return NULL;
}

static void section_self(void)
{
	struct selfie s;
	pthread_t t = start(selfie_main, &s), me = pthread_self();

	join(t);
	printf("self: thread_sees_own_id=%s stable=%s differs_from_main=%s main_equal=%s\n",
	       yes(pthread_equal(t, s.seen_before)),
	       yes(pthread_equal(s.seen_before, s.seen_after)),
	       yes(!pthread_equal(me, s.seen_before)), yes(pthread_equal(me, pthread_self())));
}

/* ---- sched_yield --------------------------------------------------------------------- */

#define ROUNDS 2000

static atomic_int turn;

/* Spins with sched_yield until it is our turn: only works if yielding lets the other run. */
static void *pingpong_main(void *arg)
{
	int me = (int)(intptr_t)arg, spins = 0;

	for (int i = 0; i < ROUNDS; i++) {
		while (atomic_load(&turn) != me) {
			sched_yield();
			check(++spins < 100000000, "the other thread never ran");
		}
		atomic_store(&turn, !me);
	}
	return NULL;
}

static void section_yield(void)
{
	pthread_t a, b;

	atomic_store(&turn, 0);
	a = start(pingpong_main, (void *)0);
	b = start(pingpong_main, (void *)1);
	join(a);
	join(b);
	printf("yield: rounds=%d\n", ROUNDS);
}

/* ---- mutex kinds ---------------------------------------------------------------------- */

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *incrementer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		pthread_mutex_lock(&counter_lock);
		long v = counter;
		if (i % 1000 == 0)
			sched_yield(); /* give others a chance to find the lock taken */
		counter = v + 1;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

struct holder {
	pthread_mutex_t *m;
	pthread_barrier_t *held, *release;
};

static void *holder_main(void *arg)
{
	struct holder *h = arg;

	pthread_mutex_lock(h->m);
	pthread_barrier_wait(h->held);
	pthread_barrier_wait(h->release);
	pthread_mutex_unlock(h->m);
	return NULL;
}

static void section_mutex(void)
{
	static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	static pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutexattr_t attr;
	pthread_mutex_t errchk;
	pthread_barrier_t held, release;
	struct holder h = { &plain, &held, &release };
	struct timespec deadline;
	pthread_t t[8], ht;
	int trylock, timedlock, relock, rec_ok;

	counter = 0;
	for (int i = 0; i < 8; i++)
		t[i] = start(incrementer_main, NULL);
	for (int i = 0; i < 8; i++)
		join(t[i]);

	/* Another thread holds plain: trylock and a short timedlock both fail. */
	pthread_barrier_init(&held, NULL, 2);
	pthread_barrier_init(&release, NULL, 2);
	ht = start(holder_main, &h);
	pthread_barrier_wait(&held);
	trylock = pthread_mutex_trylock(&plain);
	deadline = clock_after(CLOCK_REALTIME, 50);
	timedlock = pthread_mutex_timedlock(&plain, &deadline);
	pthread_barrier_wait(&release);
	join(ht);
	pthread_barrier_destroy(&held);
	pthread_barrier_destroy(&release);

	rec_ok = pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0 &&
		 pthread_mutex_unlock(&rec) == 0 && pthread_mutex_trylock(&rec) == 0 &&
		 pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&errchk, &attr);
	pthread_mutex_lock(&errchk);
	relock = pthread_mutex_lock(&errchk);
	pthread_mutex_unlock(&errchk);
	pthread_mutex_destroy(&errchk);
	pthread_mutexattr_destroy(&attr);

	printf("mutex: counter=%ld trylock=%s timedlock=%s recursive=%s errorcheck_relock=%s\n",
	       counter, errname(trylock), errname(timedlock), yes(rec_ok), errname(relock));
}

/* ---- priority-inheritance mutexes ------------------------------------------------------ */

static pthread_mutex_t pi_lock;
static long pi_counter;

/* Takes the lock and, now and then, keeps it across a sleep so that others wait for it. */
static void *pi_incrementer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&pi_lock);
		long v = pi_counter;
		if (i % 500 == 0)
			usleep(2000);
		pi_counter = v + 1;
		pthread_mutex_unlock(&pi_lock);
	}
	return NULL;
}

static pthread_mutex_t *pi_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, type);
	check(pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT) == 0, "setprotocol");
	check(pthread_mutex_init(m, &attr) == 0, "pthread_mutex_init (PTHREAD_PRIO_INHERIT)");
	pthread_mutexattr_destroy(&attr);
	return m;
}

/* Threads that wait for a priority-inheritance mutex another holds, across sleeps. */
static void section_pi_mutex(void)
{
	pthread_mutex_t rec, errchk;
	pthread_t t[4];
	int rec_ok, relock;

	pi_mutex(&pi_lock, PTHREAD_MUTEX_NORMAL);
	pi_counter = 0;
	for (int i = 0; i < 4; i++)
		t[i] = start(pi_incrementer_main, NULL);
	for (int i = 0; i < 4; i++)
		join(t[i]);
	pthread_mutex_destroy(&pi_lock);

	pi_mutex(&rec, PTHREAD_MUTEX_RECURSIVE);
	rec_ok = pthread_mutex_lock(&rec) == 0 && pthread_mutex_lock(&rec) == 0 &&
		 pthread_mutex_unlock(&rec) == 0 && pthread_mutex_unlock(&rec) == 0;
	pthread_mutex_destroy(&rec);
	pi_mutex(&errchk, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_lock(&errchk);
	relock = pthread_mutex_lock(&errchk);
	pthread_mutex_unlock(&errchk);
	pthread_mutex_destroy(&errchk);
	printf("pi_mutex: counter=%ld recursive=%s errorcheck_relock=%s\n", pi_counter,
	       yes(rec_ok), errname(relock));
}

/* ---- rwlock ---------------------------------------------------------------------------- */

static struct {
	pthread_rwlock_t lock;
	pthread_barrier_t all_in;
	atomic_int inside, max_inside;
} rw = { .lock = PTHREAD_RWLOCK_INITIALIZER };

/* Readers meet at a barrier while holding the read lock: all four hold it at once. */
static void *reader_main(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&rw.lock);
	int n = atomic_fetch_add(&rw.inside, 1) + 1;
	int m = atomic_load(&rw.max_inside);
	while (n > m && !atomic_compare_exchange_weak(&rw.max_inside, &m, n))
		;
	pthread_barrier_wait(&rw.all_in);
	atomic_fetch_sub(&rw.inside, 1);
	pthread_rwlock_unlock(&rw.lock);
	return NULL;
}

struct rw_holder {
	bool write;
	pthread_barrier_t held, release;
};

static void *rw_holder_main(void *arg)
{
	struct rw_holder *h = arg;

	if (h->write)
		pthread_rwlock_wrlock(&rw.lock);
	else
		pthread_rwlock_rdlock(&rw.lock);
	pthread_barrier_wait(&h->held);
	pthread_barrier_wait(&h->release);
	pthread_rwlock_unlock(&rw.lock);
	return NULL;
}

/* Runs probe() while another thread holds the lock for reading or for writing. */
static void while_held(bool write, void (*probe)(int *), int *results)
{
	struct rw_holder h = { .write = write };
	pthread_t t;

	pthread_barrier_init(&h.held, NULL, 2);
	pthread_barrier_init(&h.release, NULL, 2);
	t = start(rw_holder_main, &h);
	pthread_barrier_wait(&h.held);
	probe(results);
	pthread_barrier_wait(&h.release);
	join(t);
	pthread_barrier_destroy(&h.held);
	pthread_barrier_destroy(&h.release);
}

static void probe_locks(int *r)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, 30);

	if ((r[0] = pthread_rwlock_tryrdlock(&rw.lock)) == 0)
		pthread_rwlock_unlock(&rw.lock);
	if ((r[1] = pthread_rwlock_trywrlock(&rw.lock)) == 0)
		pthread_rwlock_unlock(&rw.lock);
	if ((r[2] = pthread_rwlock_timedwrlock(&rw.lock, &deadline)) == 0)
		pthread_rwlock_unlock(&rw.lock);
}

static void section_rwlock(void)
{
	pthread_t t[4];
	int rd[3], wr[3];

	pthread_barrier_init(&rw.all_in, NULL, 4);
	for (int i = 0; i < 4; i++)
		t[i] = start(reader_main, NULL);
	for (int i = 0; i < 4; i++)
		join(t[i]);
	pthread_barrier_destroy(&rw.all_in);
	while_held(false, probe_locks, rd);
	while_held(true, probe_locks, wr);
	printf("rwlock: readers_at_once=%d held_for_reading=%s/%s/%s held_for_writing=%s/%s/%s\n",
	       atomic_load(&rw.max_inside), errname(rd[0]), errname(rd[1]), errname(rd[2]),
	       errname(wr[0]), errname(wr[1]), errname(wr[2]));
}

/* ---- semaphores --------------------------------------------------------------------- */

static sem_t sem_items;

static void *poster_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		if (i % 10 == 0)
			msleep(1);
		sem_post(&sem_items);
	}
	return NULL;
}

static void section_semaphore(void)
{
	struct timespec deadline;
	pthread_t t;
	int got = 0, tw, tw_err, tr, tr_err;

	sem_init(&sem_items, 0, 0);
	t = start(poster_main, NULL);
	for (int i = 0; i < 100; i++)
		if (sem_wait(&sem_items) == 0)
			got++;
	join(t);
	errno = 0;
	tr = sem_trywait(&sem_items);
	tr_err = errno;
	deadline = clock_after(CLOCK_REALTIME, 50);
	errno = 0;
	tw = sem_timedwait(&sem_items, &deadline);
	tw_err = errno;
	printf("semaphore: waited=%d trywait=%d/%s timedwait=%d/%s\n", got, tr, errname(tr_err), tw,
	       errname(tw_err));
	sem_destroy(&sem_items);
}

/*
 * A handler ends sem_wait with EINTR unless it was installed with SA_RESTART: then the
 * wait goes on until the post. sem_timedwait ends with EINTR either way (the kernel
 * restarts a futex wait with a deadline only when no handler ran).
 */
static volatile sig_atomic_t sem_handled;

static void on_sem_signal(int sig)
{
	(void)sig;
	sem_handled++;
}

struct sem_poke {
	pthread_t waiter;
	bool post;
	int woken; /* set by the waiter once its wait ended */
};

/* Without a post, the signal is what ends the wait: sent again until it did. */
static void *sem_poker(void *arg)
{
	struct sem_poke *p = arg;

	msleep(50);
	pthread_kill(p->waiter, SIGUSR1);
	if (p->post) {
		msleep(50);
		sem_post(&sem_items);
	} else {
		signal_until_woken(p->waiter, SIGUSR1, &p->woken);
	}
	return NULL;
}

/* "rc/errno" of a wait sent SIGUSR1, handled with flags; then posted if post. */
static const char *interrupted_sem_wait(int flags, bool timed, bool post, char *buf, size_t len)
{
	struct sigaction sa = { .sa_handler = on_sem_signal, .sa_flags = flags };
	struct sem_poke p = { pthread_self(), post, 0 };
	struct timespec deadline = clock_after(CLOCK_REALTIME, 2000);

	sigaction(SIGUSR1, &sa, NULL);
	pthread_t t = start(sem_poker, &p);
	errno = 0;
	int rc = timed ? sem_timedwait(&sem_items, &deadline) : sem_wait(&sem_items);
	snprintf(buf, len, "%d/%s", rc, errname(rc ? errno : 0));
	__atomic_store_n(&p.woken, 1, __ATOMIC_RELEASE);
	join(t);
	signal(SIGUSR1, SIG_DFL);
	return buf;
}

static void section_semaphore_signals(void)
{
	char plain[32], restarted[32], timed[32];

	sem_init(&sem_items, 0, 0);
	sem_handled = 0;
	interrupted_sem_wait(0, false, false, plain, sizeof(plain));
	interrupted_sem_wait(SA_RESTART, false, true, restarted, sizeof(restarted));
	interrupted_sem_wait(SA_RESTART, true, false, timed, sizeof(timed));
	printf("semaphore_signals: wait=%s wait_sa_restart=%s timedwait_sa_restart=%s "
	       "handled=%d\n", plain, restarted, timed, (int)sem_handled);
	sem_destroy(&sem_items);
}

/* ---- once, thread-specific data, barrier ------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_runs;

static void once_init(void)
{
	msleep(10); /* the others must wait for us, not run init again */
	atomic_fetch_add(&once_runs, 1);
}

static void *once_main(void *arg)
{
	(void)arg;
	pthread_once(&once, once_init);
	return (void *)(intptr_t)atomic_load(&once_runs);
}

static void section_once(void)
{
	pthread_t t[8];
	int saw_done = 0;

	for (int i = 0; i < 8; i++)
		t[i] = start(once_main, NULL);
	for (int i = 0; i < 8; i++)
		saw_done += join(t[i]) == (void *)1;
	printf("once: init_runs=%d threads_saw_init_done=%d\n", atomic_load(&once_runs), saw_done);
}

static pthread_key_t key;
static atomic_int destructed;

static void tsd_destructor(void *v)
{
	if (v)
		atomic_fetch_add(&destructed, 1);
}

static void *tsd_main(void *arg)
{
	pthread_setspecific(key, arg);
	msleep(5); /* others set their values meanwhile */
	sched_yield();
	return (void *)(intptr_t)(pthread_getspecific(key) == arg);
}

static void section_tsd(void)
{
	static int slots[8];
	pthread_t t[8];
	int kept = 0;

	pthread_key_create(&key, tsd_destructor);
	pthread_setspecific(key, &slots[0]);
	for (int i = 0; i < 8; i++)
		t[i] = start(tsd_main, &slots[i]);
	for (int i = 0; i < 8; i++)
		kept += join(t[i]) == (void *)1;
	printf("tsd: kept_own_value=%d destructors=%d main_kept=%s\n", kept,
	       atomic_load(&destructed), yes(pthread_getspecific(key) == &slots[0]));
	pthread_key_delete(key);
}

static pthread_barrier_t rounds_barrier;
static atomic_int serial_count;

static void *barrier_main(void *arg)
{
	(void)arg;
	for (int r = 0; r < 3; r++)
		if (pthread_barrier_wait(&rounds_barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
			atomic_fetch_add(&serial_count, 1);
	return NULL;
}

static void section_barrier(void)
{
	pthread_t t[8];

	pthread_barrier_init(&rounds_barrier, NULL, 8);
	for (int i = 0; i < 8; i++)
		t[i] = start(barrier_main, NULL);
	for (int i = 0; i < 8; i++)
		join(t[i]);
	pthread_barrier_destroy(&rounds_barrier);
	printf("barrier: rounds=3 serial_threads=%d\n", atomic_load(&serial_count));
}

/* ---- cancellation ------------------------------------------------------------------- */

static atomic_int cleanups;
static pthread_mutex_t cancel_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cv = PTHREAD_COND_INITIALIZER;

static void count_cleanup(void *m)
{
	atomic_fetch_add(&cleanups, 1);
	if (m)
		pthread_mutex_unlock(m); /* a canceled cond_wait returns with the mutex held */
}

static void *cancel_cond_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cancel_m);
	pthread_cleanup_push(count_cleanup, &cancel_m);
	for (;;)
		pthread_cond_wait(&cancel_cv, &cancel_m);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *cancel_read_main(void *arg)
{
	int *p = arg;
	char b[8];
	ssize_t n;

	pthread_cleanup_push(count_cleanup, NULL);
	n = read(p[0], b, sizeof(b));
	pthread_cleanup_pop(1);
	return (void *)(intptr_t)n;
}

static void *cancel_sleep_main(void *arg)
{
	(void)arg;
	pthread_cleanup_push(count_cleanup, NULL);
	sleep(30);
	pthread_cleanup_pop(1);
	return NULL;
}

/* Cancelled in a cancellation point, each thread runs its cleanup and joins as canceled. */
static void section_cancel(void)
{
	int p[2];
	pthread_t t[3];
	const char *res[3];

	make_pipe(p, 0);
	t[0] = start(cancel_cond_main, NULL);
	t[1] = start(cancel_read_main, p);
	t[2] = start(cancel_sleep_main, NULL);
	msleep(50); /* let them block: the result is the same if they had not */
	for (int i = 0; i < 3; i++)
		pthread_cancel(t[i]);
	for (int i = 0; i < 3; i++)
		res[i] = join(t[i]) == PTHREAD_CANCELED ? "canceled" : "returned";
	close2(p);
	printf("cancel: cond_wait=%s read=%s sleep=%s cleanups=%d mutex_free=%s\n", res[0], res[1],
	       res[2], atomic_load(&cleanups), yes(pthread_mutex_trylock(&cancel_m) == 0));
	pthread_mutex_unlock(&cancel_m);
}

/* ---- table and driver --------------------------------------------------------------- */

/* ---- spinlock ------------------------------------------------------------------------ */

static pthread_spinlock_t spin;
static int spin_counter;

/* Holds the spinlock across a sleep: a spinner must let the holder run to release it. */
static void *spin_holder_main(void *arg)
{
	(void)arg;
	pthread_spin_lock(&spin);
	msleep(50);
	spin_counter += 1000;
	pthread_spin_unlock(&spin);
	return NULL;
}

static void *spinner_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		pthread_spin_lock(&spin);
		spin_counter++;
		pthread_spin_unlock(&spin);
	}
	return NULL;
}

static void section_spin(void)
{
	pthread_t holder, spinners[4];

	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	holder = start(spin_holder_main, NULL);
	msleep(10); /* the holder has the lock and sleeps with it */
	for (int i = 0; i < 4; i++)
		spinners[i] = start(spinner_main, NULL);
	for (int i = 0; i < 4; i++)
		join(spinners[i]);
	join(holder);
	printf("spin: counter=%d busy=%s\n", spin_counter,
	       pthread_spin_trylock(&spin) == 0 ? "no" : "yes");
	pthread_spin_destroy(&spin);
}

/* ---- a waiting writer keeps new readers out, in the kind that asks for it ------------ */

static struct {
	pthread_rwlock_t lock;
	atomic_int writer_done, reader_saw_writer_done;
} pw;

static void *pw_writer_main(void *arg)
{
	(void)arg;
	pthread_rwlock_wrlock(&pw.lock);
	msleep(20);
	atomic_store(&pw.writer_done, 1);
	pthread_rwlock_unlock(&pw.lock);
	return NULL;
}

static void *pw_reader_main(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&pw.lock);
	atomic_store(&pw.reader_saw_writer_done, atomic_load(&pw.writer_done));
	pthread_rwlock_unlock(&pw.lock);
	return NULL;
}

/*
 * PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: main reads, a writer waits for it; then a
 * new reader's try fails and its rdlock waits until the writer has had the lock.
 */
static void section_rwlock_prefer_writer(void)
{
	pthread_rwlockattr_t a;
	pthread_t w, r;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&pw.lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_rwlock_rdlock(&pw.lock);
	w = start(pw_writer_main, NULL);
	msleep(100); /* the writer waits by now */
	int try = pthread_rwlock_tryrdlock(&pw.lock);
	if (try == 0)
		pthread_rwlock_unlock(&pw.lock);
	r = start(pw_reader_main, NULL);
	msleep(50);
	pthread_rwlock_unlock(&pw.lock);
	join(w);
	join(r);
	pthread_rwlock_destroy(&pw.lock);
	printf("rwlock_prefer_writer: tryrdlock=%s reader_after_writer=%s\n", errname(try),
	       yes(atomic_load(&pw.reader_saw_writer_done)));
}

/* ---- process-shared mutexes that know their owner ------------------------------------ */

static struct {
	pthread_mutex_t m;
	sem_t go, done;
	int rc[3];
} ps;

/* Another thread's attempts at a mutex main holds. */
static void *ps_other_main(void *arg)
{
	(void)arg;
	while (sem_wait(&ps.go) != 0)
		;
	ps.rc[0] = pthread_mutex_trylock(&ps.m);
	ps.rc[1] = pthread_mutex_unlock(&ps.m);
	struct timespec past = { 0, 0 };
	ps.rc[2] = pthread_mutex_timedlock(&ps.m, &past);
	sem_post(&ps.done);
	return NULL;
}

static void pshared_owner(int type, const char *name)
{
	pthread_mutexattr_t a;
	pthread_t t;
	int r[6];

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&ps.m, &a);
	pthread_mutexattr_destroy(&a);
	sem_init(&ps.go, 0, 0);
	sem_init(&ps.done, 0, 0);
	t = start(ps_other_main, NULL);
	r[0] = pthread_mutex_lock(&ps.m);
	r[1] = pthread_mutex_trylock(&ps.m);  /* recursive: counts; errorcheck: EBUSY */
	r[2] = pthread_mutex_lock(&ps.m);     /* recursive: counts; errorcheck: EDEADLK */
	sem_post(&ps.go);
	while (sem_wait(&ps.done) != 0)
		;
	join(t);
	r[3] = pthread_mutex_unlock(&ps.m);
	r[4] = pthread_mutex_unlock(&ps.m);
	r[5] = pthread_mutex_unlock(&ps.m);
	printf("pshared_owner %s: lock=%s trylock=%s lock=%s other: trylock=%s unlock=%s "
	       "timedlock=%s unlock=%s/%s/%s\n", name, errname(r[0]), errname(r[1]),
	       errname(r[2]), errname(ps.rc[0]), errname(ps.rc[1]), errname(ps.rc[2]),
	       errname(r[3]), errname(r[4]), errname(r[5]));
	pthread_mutex_destroy(&ps.m);
	sem_destroy(&ps.go);
	sem_destroy(&ps.done);
}

static void section_pshared_owner(void)
{
	pshared_owner(PTHREAD_MUTEX_RECURSIVE, "recursive");
	pshared_owner(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
}

/* ---- deadlines and clocks refused before the lock is looked at ----------------------- */

static pthread_mutex_t dl_pi;

static void *dl_pi_holder_main(void *arg)
{
	pthread_barrier_t *b = arg;

	pthread_mutex_lock(&dl_pi);
	pthread_barrier_wait(b);
	pthread_barrier_wait(b);
	pthread_mutex_unlock(&dl_pi);
	return NULL;
}

/*
 * A free rwlock with a deadline of bad nanoseconds, a free mutex with a clock glibc does
 * not wait on: EINVAL. A priority-inheritance mutex held by another, with a deadline
 * before 1970: EINVAL too (the kernel's answer).
 */
static void section_deadlines(void)
{
	pthread_rwlock_t rwl = PTHREAD_RWLOCK_INITIALIZER;
	pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER, shared;
	pthread_mutexattr_t a;
	pthread_barrier_t b;
	struct timespec bad = { time(NULL) + 1, NSEC_PER_SEC }, past = { 0, 0 }, neg = { -1, 0 };
	int r[7];

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&shared, &a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_PRIVATE);
	pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&dl_pi, &a);
	pthread_mutexattr_destroy(&a);
	pthread_barrier_init(&b, NULL, 2);
	pthread_t t = start(dl_pi_holder_main, &b);
	pthread_barrier_wait(&b);
	r[0] = pthread_rwlock_timedrdlock(&rwl, &bad);
	r[1] = pthread_rwlock_clockwrlock(&rwl, CLOCK_MONOTONIC, &bad);
	r[2] = pthread_mutex_clocklock(&plain, CLOCK_PROCESS_CPUTIME_ID, &past);
	r[3] = pthread_mutex_clocklock(&shared, CLOCK_PROCESS_CPUTIME_ID, &past);
	r[4] = pthread_mutex_clocklock(&dl_pi, CLOCK_MONOTONIC, &neg);
	r[5] = pthread_mutex_timedlock(&dl_pi, &neg);
	r[6] = pthread_mutex_timedlock(&dl_pi, &past);
	pthread_barrier_wait(&b);
	join(t);
	pthread_barrier_destroy(&b);
	printf("deadlines: rwlock=%s/%s clocklock=%s/%s pi=%s/%s/%s\n", errname(r[0]),
	       errname(r[1]), errname(r[2]), errname(r[3]), errname(r[4]), errname(r[5]),
	       errname(r[6]));
}

/* ---- a thread that ends holding robust mutexes ----------------------------------------- */

static pthread_mutex_t robust[2];

static void *robust_holder_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust[0]);
	pthread_mutex_lock(&robust[1]);
	return NULL;
}

/* The next locker of each gets EOWNERDEAD; made consistent, it is a mutex again. */
static void section_robust_owner_died(void)
{
	pthread_mutexattr_t a;
	int r[4][2];

	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust[0], &a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&robust[1], &a);
	pthread_mutexattr_destroy(&a);
	join(start(robust_holder_main, NULL));
	for (int i = 0; i < 2; i++) {
		r[0][i] = pthread_mutex_lock(&robust[i]);
		r[1][i] = pthread_mutex_consistent(&robust[i]);
		r[2][i] = pthread_mutex_unlock(&robust[i]);
		r[3][i] = pthread_mutex_trylock(&robust[i]);
		pthread_mutex_unlock(&robust[i]);
		pthread_mutex_destroy(&robust[i]);
	}
	printf("robust_owner_died: private=%s/%s/%s/%s shared=%s/%s/%s/%s\n", errname(r[0][0]),
	       errname(r[1][0]), errname(r[2][0]), errname(r[3][0]), errname(r[0][1]),
	       errname(r[1][1]), errname(r[2][1]), errname(r[3][1]));
}

/* ---- mutexes whose owner ended: a new thread is not their owner ---------------------- */

static pthread_mutex_t ended_m[2];

static void *ended_holder_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ended_m[0]);
	pthread_mutex_lock(&ended_m[1]);
	return NULL;
}

static void *ended_prober_main(void *arg)
{
	int *r = arg;
	struct timespec past = { 0, 0 };

	for (int i = 0; i < 2; i++) {
		r[i * 3] = pthread_mutex_trylock(&ended_m[i]);
		r[i * 3 + 1] = pthread_mutex_timedlock(&ended_m[i], &past);
		r[i * 3 + 2] = pthread_mutex_unlock(&ended_m[i]);
	}
	return NULL;
}

/*
 * An error-checking and a recursive mutex held by a thread that ended: threads started
 * after it (which may get the memory it had) find them taken, and may not unlock them.
 */
static void section_owner_ended(void)
{
	pthread_mutexattr_t a;
	int r[6] = { 0 }, differ = 0;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&ended_m[0], &a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ended_m[1], &a);
	pthread_mutexattr_destroy(&a);
	join(start(ended_holder_main, NULL));
	for (int k = 0; k < 8; k++) {
		int now[6];

		join(start(ended_prober_main, now));
		if (k == 0)
			memcpy(r, now, sizeof(r));
		differ += memcmp(r, now, sizeof(r)) != 0;
	}
	printf("owner_ended: errorcheck=%s/%s/%s recursive=%s/%s/%s changed=%d\n", errname(r[0]),
	       errname(r[1]), errname(r[2]), errname(r[3]), errname(r[4]), errname(r[5]), differ);
}

/* ---- an error-checking priority-inheritance mutex tried by its owner ---------------- */

/* glibc answers EDEADLK there, where a plain error-checking one answers EBUSY. */
static void section_pi_errorcheck_self(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m[2];
	int r[2];

	ticker_start(); /* another thread, so that the calls are made among several */
	for (int i = 0; i < 2; i++) {
		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
		if (i)
			pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
		pthread_mutex_init(&m[i], &a);
		pthread_mutexattr_destroy(&a);
		pthread_mutex_lock(&m[i]);
		r[i] = pthread_mutex_trylock(&m[i]);
		pthread_mutex_unlock(&m[i]);
		pthread_mutex_destroy(&m[i]);
	}
	ticker_stop();
	printf("pi_errorcheck_self: plain=%s pi=%s\n", errname(r[0]), errname(r[1]));
}

/* ---- a signal a thread sends itself while it blocks it ------------------------------- */

static pthread_t self_kill_thread;
static volatile sig_atomic_t self_kill_mine, self_kill_others;

static void on_self_kill(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), self_kill_thread))
		self_kill_mine++;
	else
		self_kill_others++;
}

static void *self_kill_main(void *arg)
{
	int *r = arg;
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	r[0] = pthread_kill(pthread_self(), SIGUSR2);
	msleep(20); /* others run meanwhile, with SIGUSR2 not blocked */
	r[1] = self_kill_mine;
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	r[2] = self_kill_mine; /* handled before pthread_sigmask returned */
	return NULL;
}

/* It stays pending on the thread, which handles it once it unblocks it, and no other. */
static void section_self_kill_blocked(void)
{
	struct sigaction sa = { .sa_handler = on_self_kill }, old;
	int r[3];

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, &old);
	ticker_start();
	self_kill_thread = start(self_kill_main, r);
	join(self_kill_thread);
	ticker_stop();
	sigaction(SIGUSR2, &old, NULL);
	printf("self_kill_blocked: kill=%s while_blocked=%d after_unblock=%d others=%d\n",
	       errname(r[0]), r[1], r[2], (int)self_kill_others);
}

#define SECTION(n) { #n, section_##n }
static const struct prog_case sections[] = {
	SECTION(prodcons),
	SECTION(timedwait),
	SECTION(timedwait_signalled),
	SECTION(timedwait_after_compute),
	SECTION(timedwait_many),
	SECTION(join),
	SECTION(detach),
	SECTION(self),
	SECTION(yield),
	SECTION(mutex),
	SECTION(pi_mutex),
	SECTION(rwlock),
	SECTION(semaphore),
	SECTION(semaphore_signals),
	SECTION(once),
	SECTION(tsd),
	SECTION(barrier),
	SECTION(cancel),
	SECTION(spin),
	SECTION(rwlock_prefer_writer),
	SECTION(pshared_owner),
	SECTION(deadlines),
	SECTION(robust_owner_died),
	SECTION(owner_ended),
	SECTION(pi_errorcheck_self),
	SECTION(self_kill_blocked),
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, sections, sizeof(sections) / sizeof(sections[0]), NULL);
}

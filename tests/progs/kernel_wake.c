/*
 * kernel_wake [--list | CASE...]
 *
 * Semaphores, condition variables, mutexes and rwlocks shared between threads the
 * program creates and a kernel thread it does not: glibc runs the callback of a
 * timer_create(SIGEV_THREAD) timer on a thread of its own, which it starts with its
 * internal pthread_create. The callback posts, signals, broadcasts and unlocks what
 * the program's threads wait for; each waiter prints what it got.
 *
 * Meanwhile "runner" threads keep sleeping a millisecond at a time and counting. A
 * waiter notes the count before it blocks and after it wakes: others_ran=yes says that
 * the other threads kept running while it waited (they would not, if its wait had
 * blocked every thread of the process).
 *
 * The handoff cases pass a turn back and forth many times between the callback and one
 * thread. The callback gives each answer HANDOFF_PATIENCE_S seconds; when one does not
 * come it counts a stall, wakes the thread once more and stops the exchange, so that a
 * lost wake-up shows in the output instead of hanging the program.
 *
 * Each case prints one line that does not depend on timing; a case that finds something
 * wrong says so on stderr and exits 1. With no argument every case runs in order; with
 * CASEs those, in the order of the table below; --list names them all.
 */
#define PROG "kernel_wake"
#include "progs.h"

#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#define RUNNERS 3
#define MIN_PROGRESS 5 /* runner ticks (about 1 ms each) that prove others ran */
#define HANDOFF_ROUNDS 100000
#define HANDOFF_PATIENCE_S 2

static void check(bool ok, const char *what)
{
	if (!ok)
		fail("%s", what);
}

/* Polls an atomic flag: a wait that cannot itself depend on what is being tested. */
static void await_flag(atomic_int *flag, int value)
{
	for (int i = 0; atomic_load(flag) < value; i++) {
		check(i < 30000, "gave up waiting for the callback");
		msleep(1);
	}
}

/* ---- runners: threads that keep running while others wait ----------------------------- */

static atomic_long progress;
static atomic_int runners_stop;
static pthread_t runners[RUNNERS];

static void *runner_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&runners_stop)) {
		msleep(1);
		atomic_fetch_add(&progress, 1);
	}
	return NULL;
}

static void runners_start(void)
{
	atomic_store(&runners_stop, 0);
	for (int i = 0; i < RUNNERS; i++)
		runners[i] = start(runner_main, NULL);
}

static void runners_end(void)
{
	atomic_store(&runners_stop, 1);
	for (int i = 0; i < RUNNERS; i++)
		join(runners[i]);
}

static long progress_now(void)
{
	return atomic_load(&progress);
}

static bool others_ran_since(long before)
{
	return progress_now() - before >= MIN_PROGRESS;
}

/*
 * On a kernel thread: let the runners tick twice MIN_PROGRESS times (a waiter that a
 * busy machine started late would otherwise wait a moment only, and see too few), or
 * give up after two seconds, which a wait that stops every thread of the process gets.
 */
static void await_progress(void)
{
	long before = progress_now();

	for (int i = 0; i < 2000 && progress_now() - before < 2 * MIN_PROGRESS; i++)
		msleep(1);
}

/* ---- kernel-thread jobs: timer_create(SIGEV_THREAD) callbacks --------------------------- */

struct kjob {
	void (*fn)(struct kjob *j);
	void *arg;
	timer_t timer;
	bool on_other_thread; /* the callback ran on a kernel thread other than main's */
	int result;           /* what the callback reports back, if anything */
	atomic_int finished;
};

static void kjob_entry(union sigval v)
{
	struct kjob *j = v.sival_ptr;

	j->on_other_thread = gettid() != getpid();
	j->fn(j);
	atomic_store(&j->finished, 1);
}

/* Runs fn(j) on glibc's timer thread after delay_ms. */
static void kjob_start(struct kjob *j, void (*fn)(struct kjob *), void *arg, long delay_ms)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD,
		.sigev_notify_function = kjob_entry,
		.sigev_value.sival_ptr = j,
	};
	struct itimerspec its = { .it_value = ts_ms(delay_ms) };

	j->fn = fn;
	j->arg = arg;
	j->on_other_thread = false;
	atomic_store(&j->finished, 0);
	if (timer_create(CLOCK_MONOTONIC, &sev, &j->timer) != 0)
		die("timer_create");
	if (timer_settime(j->timer, 0, &its, NULL) != 0)
		die("timer_settime");
}

static void kjob_finish(struct kjob *j)
{
	await_flag(&j->finished, 1);
	timer_delete(j->timer);
}

/* ---- semaphore posted by the kernel thread ------------------------------------------------ */

static sem_t posted;
static atomic_int ready;

static void post_twice(struct kjob *j)
{
	(void)j;
	sem_post(&posted);
	sem_post(&posted);
}

struct sem_result {
	bool timed; /* sem_timedwait rather than sem_wait */
	int rc;
	bool others_ran;
};

static void *sem_waiter_main(void *arg)
{
	struct sem_result *r = arg;
	struct timespec deadline = clock_after(CLOCK_REALTIME, 10000);
	long before = progress_now();

	atomic_fetch_add(&ready, 1);
	if (r->timed)
		r->rc = sem_timedwait(&posted, &deadline) == 0 ? 0 : errno;
	else
		r->rc = sem_wait(&posted) == 0 ? 0 : errno;
	r->others_ran = others_ran_since(before);
	return NULL;
}

static void case_sem(void)
{
	struct sem_result plain = { .timed = false }, timed = { .timed = true };
	struct kjob j;
	pthread_t a, b;
	int left = -1;

	sem_init(&posted, 0, 0);
	atomic_store(&ready, 0);
	runners_start();
	a = start(sem_waiter_main, &plain);
	b = start(sem_waiter_main, &timed);
	await_flag(&ready, 2);
	kjob_start(&j, post_twice, NULL, 100);
	join(a);
	join(b);
	kjob_finish(&j);
	runners_end();
	sem_getvalue(&posted, &left);
	sem_destroy(&posted);
	printf("sem: callback_on_other_kernel_thread=%s sem_wait=%s sem_timedwait=%s value_after=%d "
	       "others_ran=%s/%s\n",
	       yes(j.on_other_thread), errname(plain.rc), errname(timed.rc), left,
	       yes(plain.others_ran), yes(timed.others_ran));
}

/* ---- condition variable signalled and broadcast by the kernel thread ---------------------- */

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	unsigned generation;
	int waiting, woken, saw_progress;
} cond = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Waits for the next generation: with pthread_cond_wait, or timedwait if arg is set. */
static void *generation_waiter_main(void *arg)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, 10000);
	int rc = 0;

	pthread_mutex_lock(&cond.m);
	unsigned seen = cond.generation;
	long before = progress_now();
	cond.waiting++;
	while (cond.generation == seen && rc == 0)
		rc = arg ? pthread_cond_timedwait(&cond.cv, &cond.m, &deadline)
			 : pthread_cond_wait(&cond.cv, &cond.m);
	cond.woken += rc == 0;
	cond.saw_progress += others_ran_since(before);
	pthread_mutex_unlock(&cond.m);
	return (void *)(intptr_t)rc;
}

/* Waits, as a kernel thread, until want threads wait, and a while more; then wakes them. */
static void next_generation(struct kjob *j)
{
	int want = (int)(intptr_t)j->arg;

	for (;;) {
		pthread_mutex_lock(&cond.m);
		if (cond.waiting >= want)
			break;
		pthread_mutex_unlock(&cond.m);
		msleep(1);
	}
	pthread_mutex_unlock(&cond.m);
	await_progress();
	pthread_mutex_lock(&cond.m);
	cond.generation++;
	if (want == 1)
		pthread_cond_signal(&cond.cv);
	else
		pthread_cond_broadcast(&cond.cv);
	pthread_mutex_unlock(&cond.m);
}

static void cond_reset(void)
{
	cond.waiting = cond.woken = cond.saw_progress = 0;
}

static void case_cond_signal(void)
{
	struct kjob j;
	pthread_t t;
	int rc_plain, rc_timed;
	bool ran_plain;

	runners_start();
	cond_reset();
	t = start(generation_waiter_main, NULL);
	kjob_start(&j, next_generation, (void *)1, 100);
	rc_plain = (int)(intptr_t)join(t);
	kjob_finish(&j);
	ran_plain = cond.saw_progress == 1;

	cond_reset();
	t = start(generation_waiter_main, (void *)1);
	kjob_start(&j, next_generation, (void *)1, 100);
	rc_timed = (int)(intptr_t)join(t);
	kjob_finish(&j);
	runners_end();
	printf("cond_signal: callback_on_other_kernel_thread=%s cond_wait=%s cond_timedwait=%s "
	       "others_ran=%s/%s\n",
	       yes(j.on_other_thread), errname(rc_plain), errname(rc_timed), yes(ran_plain),
	       yes(cond.saw_progress == 1));
}

#define BROADCAST_WAITERS 5

static void case_cond_broadcast(void)
{
	pthread_t t[BROADCAST_WAITERS];
	struct kjob j;
	int ok = 0;

	runners_start();
	cond_reset();
	for (intptr_t i = 0; i < BROADCAST_WAITERS; i++)
		t[i] = start(generation_waiter_main, (void *)(i % 2)); /* both kinds of wait */
	kjob_start(&j, next_generation, (void *)BROADCAST_WAITERS, 100);
	for (int i = 0; i < BROADCAST_WAITERS; i++)
		ok += join(t[i]) == NULL;
	kjob_finish(&j);
	runners_end();
	printf("cond_broadcast: waiters=%d returned_0=%d woken=%d others_ran=%d\n",
	       BROADCAST_WAITERS, ok, cond.woken, cond.saw_progress);
}

/* ---- mutex locked by the kernel thread, unlocked by it later ------------------------------ */

static struct {
	pthread_mutex_t *m;
	atomic_int held, released;
} hold;

/* Locks hold.m, keeps it a while, then unlocks it: all on the kernel thread. */
static void hold_mutex(struct kjob *j)
{
	long ms = (long)(intptr_t)j->arg;

	if (pthread_mutex_lock(hold.m) != 0)
		return;
	atomic_store(&hold.held, 1);
	msleep(ms);
	atomic_store(&hold.released, 1);
	pthread_mutex_unlock(hold.m);
}

static void hold_start(struct kjob *j, pthread_mutex_t *m, long ms)
{
	hold.m = m;
	atomic_store(&hold.held, 0);
	atomic_store(&hold.released, 0);
	kjob_start(j, hold_mutex, (void *)(intptr_t)ms, 1);
	await_flag(&hold.held, 1);
}

struct lock_result {
	bool timed;
	int rc;
	bool after_release, others_ran;
};

static void *mutex_waiter_main(void *arg)
{
	struct lock_result *r = arg;
	struct timespec deadline = clock_after(CLOCK_REALTIME, 10000);
	long before = progress_now();

	r->rc = r->timed ? pthread_mutex_timedlock(hold.m, &deadline) : pthread_mutex_lock(hold.m);
	r->after_release = atomic_load(&hold.released);
	r->others_ran = others_ran_since(before);
	if (r->rc == 0)
		pthread_mutex_unlock(hold.m);
	return NULL;
}

/*
 * While the callback holds a normal mutex: trylock is refused, a short timedlock times out,
 * and two threads that wait for it, one in lock and one in timedlock, both get it once the
 * callback unlocks it.
 */
static void case_mutex(void)
{
	static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct lock_result a = { .timed = false }, b = { .timed = true };
	struct timespec short_deadline;
	struct kjob j;
	pthread_t ta, tb;
	int trylock, timedlock;

	runners_start();
	hold_start(&j, &m, 150);
	trylock = pthread_mutex_trylock(&m);
	short_deadline = clock_after(CLOCK_REALTIME, 20);
	timedlock = pthread_mutex_timedlock(&m, &short_deadline);
	/* Got after the callback's 150 ms, on a slow machine: let go, or the waiters never
	 * get it. The lines printed show it. */
	if (trylock == 0)
		pthread_mutex_unlock(&m);
	if (timedlock == 0)
		pthread_mutex_unlock(&m);
	ta = start(mutex_waiter_main, &a);
	tb = start(mutex_waiter_main, &b);
	join(ta);
	join(tb);
	kjob_finish(&j);
	runners_end();
	printf("mutex: callback_on_other_kernel_thread=%s trylock=%s short_timedlock=%s lock=%s "
	       "timedlock=%s after_release=%s/%s others_ran=%s/%s\n",
	       yes(j.on_other_thread), errname(trylock), errname(timedlock), errname(a.rc),
	       errname(b.rc), yes(a.after_release), yes(b.after_release), yes(a.others_ran),
	       yes(b.others_ran));
}

/* The program's first thread waits, in pthread_mutex_lock, for a mutex of the given type. */
static void main_waits_for(int type, struct lock_result *r)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t m;
	struct kjob j;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, type);
	pthread_mutex_init(&m, &attr);
	pthread_mutexattr_destroy(&attr);
	hold_start(&j, &m, 150);
	*r = (struct lock_result){ .timed = false };
	mutex_waiter_main(r);
	kjob_finish(&j);
	pthread_mutex_destroy(&m);
}

/* Error-checking and recursive mutexes record their owner: a kernel thread is not us. */
static void case_mutex_kinds(void)
{
	struct lock_result errchk, rec;

	runners_start();
	main_waits_for(PTHREAD_MUTEX_ERRORCHECK, &errchk);
	main_waits_for(PTHREAD_MUTEX_RECURSIVE, &rec);
	runners_end();
	printf("mutex_kinds: errorcheck_lock=%s recursive_lock=%s after_release=%s/%s "
	       "others_ran=%s/%s\n",
	       errname(errchk.rc), errname(rec.rc), yes(errchk.after_release),
	       yes(rec.after_release), yes(errchk.others_ran), yes(rec.others_ran));
}

/* ---- mutex released by the kernel thread's pthread_cond_wait ----------------------------- */

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	atomic_int held, locking;
	bool got; /* under m */
} cw = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/*
 * Holds cw.m until the waiter blocks on it, then gives it up the way a condition wait
 * does, inside glibc, until the waiter has had it and signals.
 */
static void release_by_cond_wait(struct kjob *j)
{
	struct timespec deadline;
	int rc = 0;

	pthread_mutex_lock(&cw.m);
	atomic_store(&cw.held, 1);
	await_flag(&cw.locking, 1);
	msleep(50); /* long enough for it to block in pthread_mutex_lock */
	deadline = clock_after(CLOCK_REALTIME, 2000);
	while (!cw.got && rc == 0)
		rc = pthread_cond_timedwait(&cw.cv, &cw.m, &deadline);
	j->result = rc;
	pthread_mutex_unlock(&cw.m);
}

/*
 * A mutex is released not only by pthread_mutex_unlock: a kernel thread's condition wait
 * releases it too. The waiter gets it then, not when the wait times out.
 */
static void case_cond_wait_releases_mutex(void)
{
	struct kjob j;
	bool meanwhile, ran;
	long before;

	runners_start();
	kjob_start(&j, release_by_cond_wait, NULL, 1);
	await_flag(&cw.held, 1);
	before = progress_now();
	atomic_store(&cw.locking, 1);
	pthread_mutex_lock(&cw.m);
	ran = others_ran_since(before);
	cw.got = true;
	pthread_cond_signal(&cw.cv);
	pthread_mutex_unlock(&cw.m);
	kjob_finish(&j);
	meanwhile = j.result == 0;
	runners_end();
	printf("cond_wait_releases_mutex: kernel_timedwait=%s waiter_got_mutex_during_it=%s "
	       "others_ran=%s\n",
	       errname(j.result), yes(meanwhile), yes(ran));
}

/* ---- rwlock held by the kernel thread ------------------------------------------------------- */

static struct {
	pthread_rwlock_t lock;
	atomic_int held, released;
} rw = { .lock = PTHREAD_RWLOCK_INITIALIZER };

static void hold_rwlock(struct kjob *j)
{
	bool write = j->arg != NULL;

	if ((write ? pthread_rwlock_wrlock(&rw.lock) : pthread_rwlock_rdlock(&rw.lock)) != 0)
		return;
	atomic_store(&rw.held, 1);
	msleep(150);
	atomic_store(&rw.released, 1);
	pthread_rwlock_unlock(&rw.lock);
}

static void rw_hold_start(struct kjob *j, bool write)
{
	atomic_store(&rw.held, 0);
	atomic_store(&rw.released, 0);
	kjob_start(j, hold_rwlock, write ? (void *)1 : NULL, 1);
	await_flag(&rw.held, 1);
}

/* arg: 0 reader, 1 writer. Returns 1 if it got the lock after the callback released it. */
static void *rw_waiter_main(void *arg)
{
	long before = progress_now();
	int rc = arg ? pthread_rwlock_wrlock(&rw.lock) : pthread_rwlock_rdlock(&rw.lock);
	bool ok = rc == 0 && atomic_load(&rw.released) && others_ran_since(before);

	if (rc == 0)
		pthread_rwlock_unlock(&rw.lock);
	return (void *)(intptr_t)ok;
}

static int try_rw(bool write)
{
	int rc = write ? pthread_rwlock_trywrlock(&rw.lock) : pthread_rwlock_tryrdlock(&rw.lock);

	if (rc == 0)
		pthread_rwlock_unlock(&rw.lock);
	return rc;
}

/*
 * The callback holds the rwlock for writing: three readers and a writer wait and all get
 * it after the release. Then it holds it for reading: a reader gets in at once, a writer
 * waits for the release.
 */
static void case_rwlock(void)
{
	struct kjob j;
	pthread_t t[4];
	int waited_ok = 0, tryrd_w, trywr_w, tryrd_r, trywr_r;

	runners_start();
	rw_hold_start(&j, true);
	tryrd_w = try_rw(false);
	trywr_w = try_rw(true);
	for (intptr_t i = 0; i < 4; i++)
		t[i] = start(rw_waiter_main, (void *)(intptr_t)(i == 3));
	for (int i = 0; i < 4; i++)
		waited_ok += join(t[i]) != NULL;
	kjob_finish(&j);

	rw_hold_start(&j, false);
	tryrd_r = try_rw(false);
	trywr_r = try_rw(true);
	t[0] = start(rw_waiter_main, (void *)1);
	waited_ok += join(t[0]) != NULL;
	kjob_finish(&j);
	runners_end();
	printf("rwlock: write_held_try=%s/%s read_held_try=%s/%s waiters_woken_after_release=%d/5\n",
	       errname(tryrd_w), errname(trywr_w), errname(tryrd_r), errname(trywr_r), waited_ok);
}

/* ---- handoff: many round trips between the kernel thread and one thread ------------------- */

static struct {
	sem_t ping, pong;
	atomic_int stop, stalls;
	int rounds_done;
} ho;

/* Posts ping, then waits for pong; a missing answer is a stall, which ends the exchange. */
static void handoff_sem_kernel(struct kjob *j)
{
	(void)j;
	for (int i = 0; i < HANDOFF_ROUNDS; i++) {
		struct timespec deadline = clock_after(CLOCK_REALTIME, HANDOFF_PATIENCE_S * 1000);

		sem_post(&ho.ping);
		if (sem_timedwait(&ho.pong, &deadline) == 0)
			continue;
		atomic_fetch_add(&ho.stalls, 1);
		atomic_store(&ho.stop, 1);
		sem_post(&ho.ping); /* wake the thread a second time, so that it can end */
		return;
	}
}

static void *handoff_sem_green(void *arg)
{
	(void)arg;
	for (int i = 0; i < HANDOFF_ROUNDS; i++) {
		if (sem_wait(&ho.ping) != 0)
			die("sem_wait");
		if (atomic_load(&ho.stop))
			break;
		ho.rounds_done++;
		sem_post(&ho.pong);
	}
	return NULL;
}

static void case_handoff_sem(void)
{
	struct kjob j;
	pthread_t t;

	sem_init(&ho.ping, 0, 0);
	sem_init(&ho.pong, 0, 0);
	runners_start();
	t = start(handoff_sem_green, NULL);
	kjob_start(&j, handoff_sem_kernel, NULL, 10);
	join(t);
	kjob_finish(&j);
	runners_end();
	sem_destroy(&ho.ping);
	sem_destroy(&ho.pong);
	printf("handoff_sem: rounds=%d completed=%d stalls=%d\n", HANDOFF_ROUNDS, ho.rounds_done,
	       atomic_load(&ho.stalls));
}

static struct {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool kernel_turn, stop;
	int rounds_done, stalls;
} hc = { .m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Waits, mutex held, for its turn; false (and the exchange stopped) after a stall. */
static bool kernel_await_turn(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, HANDOFF_PATIENCE_S * 1000);

	while (!hc.kernel_turn) {
		if (pthread_cond_timedwait(&hc.cv, &hc.m, &deadline) == ETIMEDOUT &&
		    !hc.kernel_turn) {
			hc.stalls++;
			hc.stop = true;
			pthread_cond_broadcast(&hc.cv);
			return false;
		}
	}
	return true;
}

/* Gives the turn away and waits for it back, HANDOFF_ROUNDS times, holding the mutex. */
static void handoff_cond_kernel(struct kjob *j)
{
	(void)j;
	pthread_mutex_lock(&hc.m);
	for (int i = 0; i < HANDOFF_ROUNDS; i++) {
		hc.kernel_turn = false;
		pthread_cond_signal(&hc.cv);
		if (!kernel_await_turn())
			break;
	}
	pthread_mutex_unlock(&hc.m);
}

static void *handoff_cond_green(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hc.m);
	while (hc.rounds_done < HANDOFF_ROUNDS) {
		while (hc.kernel_turn && !hc.stop)
			pthread_cond_wait(&hc.cv, &hc.m);
		if (hc.stop)
			break;
		hc.rounds_done++;
		hc.kernel_turn = true;
		pthread_cond_signal(&hc.cv);
	}
	pthread_mutex_unlock(&hc.m);
	return NULL;
}

static void case_handoff_cond(void)
{
	struct kjob j;
	pthread_t t;

	hc.kernel_turn = true; /* the green thread waits until the kernel thread hands over */
	runners_start();
	t = start(handoff_cond_green, NULL);
	kjob_start(&j, handoff_cond_kernel, NULL, 10);
	join(t);
	kjob_finish(&j);
	runners_end();
	printf("handoff_cond: rounds=%d completed=%d stalls=%d\n", HANDOFF_ROUNDS, hc.rounds_done,
	       hc.stalls);
}

/* ---- table and driver ----------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(sem),
	CASE(cond_signal),
	CASE(cond_broadcast),
	CASE(mutex),
	CASE(mutex_kinds),
	CASE(cond_wait_releases_mutex),
	CASE(rwlock),
	CASE(handoff_sem),
	CASE(handoff_cond),
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

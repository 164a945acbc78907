/*
 * c11_threads [--list | CASE...]
 *
 * A plain C11 <threads.h> program: threads, mutexes (plain, timed, recursive),
 * condition variables, thread-specific storage and call_once. Each case prints lines of
 * totals and result codes that do not depend on how the threads interleave; a case that
 * finds something wrong says so on stderr and exits 1.
 *
 * The sleep case also copies the "Threads:" line of /proc/self/status to stderr while
 * its 100 threads exist, and "sleep_elapsed: SECONDS" once they have slept: how many
 * kernel threads carried them, and whether their sleeps overlapped.
 *
 * With no argument every case runs in order; with CASEs those, in the order of the table
 * below; --list names them all.
 */
#define PROG "c11_threads"
#include "progs.h"

#include <stdatomic.h>
#include <stdint.h>
#include <threads.h>

static void check(bool ok, const char *what)
{
	if (!ok)
		fail("%s", what);
}

static const char *rcname(int rc)
{
	switch (rc) {
	case thrd_success: return "thrd_success";
	case thrd_busy: return "thrd_busy";
	case thrd_timedout: return "thrd_timedout";
	case thrd_nomem: return "thrd_nomem";
	case thrd_error: return "thrd_error";
	default: return "unknown";
	}
}

static thrd_t c11_start(thrd_start_t fn, void *arg)
{
	thrd_t t;

	check(thrd_create(&t, fn, arg) == thrd_success, "thrd_create failed");
	return t;
}

static int c11_join(thrd_t t)
{
	int res = -1;

	check(thrd_join(t, &res) == thrd_success, "thrd_join failed");
	return res;
}

static void init_mtx(mtx_t *m, int type)
{
	check(mtx_init(m, type) == thrd_success, "mtx_init failed");
}

static void init_cnd(cnd_t *c)
{
	check(cnd_init(c) == thrd_success, "cnd_init failed");
}

/* An absolute TIME_UTC deadline ms from now: what mtx_timedlock and cnd_timedwait take. */
static struct timespec utc_after(long ms)
{
	struct timespec ts;

	timespec_get(&ts, TIME_UTC);
	return ts_add(ts, ts_ms(ms));
}

static bool utc_reached(struct timespec deadline)
{
	struct timespec ts;

	timespec_get(&ts, TIME_UTC);
	return !ts_before(ts, deadline);
}

/* Sleeps the whole time with thrd_sleep, which returns -1 when a signal interrupts it. */
static void nap_ms(long ms)
{
	struct timespec ts = ts_ms(ms);

	while (thrd_sleep(&ts, &ts) == -1)
		;
}

/*
 * A gate: threads arrive, the opener waits until all have, then lets them through. Built
 * from a mutex and a condition variable, as C11 has no barrier.
 */
struct gate {
	mtx_t m;
	cnd_t cv;
	int arrived;
	bool open;
};

static void gate_init(struct gate *g)
{
	init_mtx(&g->m, mtx_plain);
	init_cnd(&g->cv);
	g->arrived = 0;
	g->open = false;
}

static void gate_destroy(struct gate *g)
{
	mtx_destroy(&g->m);
	cnd_destroy(&g->cv);
}

static void gate_pass(struct gate *g)
{
	mtx_lock(&g->m);
	g->arrived++;
	cnd_broadcast(&g->cv);
	while (!g->open)
		cnd_wait(&g->cv, &g->m);
	mtx_unlock(&g->m);
}

static void gate_wait_arrivals(struct gate *g, int n)
{
	mtx_lock(&g->m);
	while (g->arrived < n)
		cnd_wait(&g->cv, &g->m);
	mtx_unlock(&g->m);
}

static void gate_open(struct gate *g)
{
	mtx_lock(&g->m);
	g->open = true;
	cnd_broadcast(&g->cv);
	mtx_unlock(&g->m);
}

/* ---- create, join, current, equal --------------------------------------------------- */

#define MANY 100

static thrd_t seen_self[MANY];

/* Odd threads leave with thrd_exit, even ones return: both carry the result to join. */
static int numbered_main(void *arg)
{
	int i = (int)(intptr_t)arg;

	seen_self[i] = thrd_current();
	thrd_yield();
	if (i % 2)
		thrd_exit(i);
	return i;
}

static void case_create_join(void)
{
	thrd_t t[MANY];
	int sum = 0, matches = 0, differs = 0, rc = thrd_success;

	for (int i = 0; i < MANY && rc == thrd_success; i++)
		rc = thrd_create(&t[i], numbered_main, (void *)(intptr_t)i);
	check(rc == thrd_success, "thrd_create failed");
	for (int i = 0; i < MANY; i++)
		sum += c11_join(t[i]);
	for (int i = 0; i < MANY; i++) {
		matches += thrd_equal(seen_self[i], t[i]) != 0;
		differs += !thrd_equal(seen_self[i], thrd_current());
	}
	printf("create_join: threads=%d create=%s sum=%d current_is_own_handle=%d "
	       "differs_from_main=%d main_equal_self=%s\n",
	       MANY, rcname(rc), sum, matches, differs,
	       yes(thrd_equal(thrd_current(), thrd_current())));
}

/* ---- detach --------------------------------------------------------------------------- */

static struct {
	mtx_t m;
	cnd_t cv;
	int done;
} det;

static int detached_main(void *arg)
{
	(void)arg;
	nap_ms(5);
	mtx_lock(&det.m);
	det.done++;
	cnd_broadcast(&det.cv);
	mtx_unlock(&det.m);
	return 0;
}

static void case_detach(void)
{
	int detached = 0;

	init_mtx(&det.m, mtx_plain);
	init_cnd(&det.cv);
	for (int i = 0; i < 10; i++)
		detached += thrd_detach(c11_start(detached_main, NULL)) == thrd_success;
	mtx_lock(&det.m);
	while (det.done < 10)
		cnd_wait(&det.cv, &det.m);
	mtx_unlock(&det.m);
	printf("detach: detached=%d finished=%d\n", detached, det.done);
	/* A detached thread may still be leaving its cnd_broadcast: keep the objects. */
}

/* ---- yield ---------------------------------------------------------------------------- */

#define ROUNDS 2000

static atomic_int turn;

/* Spins with thrd_yield until it is our turn: only works if yielding lets the other run. */
static int pingpong_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	long spins = 0;

	for (int i = 0; i < ROUNDS; i++) {
		while (atomic_load(&turn) != me) {
			thrd_yield();
			check(++spins < 100000000, "the other thread never ran");
		}
		atomic_store(&turn, !me);
	}
	return 0;
}

static void case_yield(void)
{
	thrd_t a, b;

	atomic_store(&turn, 0);
	a = c11_start(pingpong_main, (void *)0);
	b = c11_start(pingpong_main, (void *)1);
	c11_join(a);
	c11_join(b);
	printf("yield: rounds=%d\n", ROUNDS);
}

/* ---- sleep ---------------------------------------------------------------------------- */

#define SLEEPERS 100
#define SLEEP_MS 300

static struct gate sleep_gate;

/* Returns 1 when thrd_sleep returned 0 and the full time passed on the monotonic clock. */
static int sleeper_main(void *arg)
{
	struct timespec len = ts_ms(SLEEP_MS), rem = { 0, 0 }, t0;
	int rc;

	(void)arg;
	gate_pass(&sleep_gate);
	t0 = mono();
	rc = thrd_sleep(&len, &rem);
	return rc == 0 && elapsed_ms(t0) >= SLEEP_MS;
}

/*
 * The sleepers first meet at a gate, so that all of them exist when main counts the
 * kernel threads; then they sleep at once. In turn the sleeps would take
 * SLEEPERS * SLEEP_MS (30 s); overlapping, a little over SLEEP_MS.
 */
static void case_sleep(void)
{
	thrd_t t[SLEEPERS];
	int full = 0;
	struct timespec t0;
	double elapsed;

	gate_init(&sleep_gate);
	for (int i = 0; i < SLEEPERS; i++)
		t[i] = c11_start(sleeper_main, NULL);
	gate_wait_arrivals(&sleep_gate, SLEEPERS);
	report_threads();
	t0 = mono();
	gate_open(&sleep_gate);
	for (int i = 0; i < SLEEPERS; i++)
		full += c11_join(t[i]);
	elapsed = elapsed_ms(t0) / 1000.0;
	gate_destroy(&sleep_gate);
	fprintf(stderr, "sleep_elapsed: %.3f\n", elapsed);
	printf("sleep: threads=%d slept_full=%d overlapped=%s\n", SLEEPERS, full,
	       yes(elapsed < SLEEPERS * SLEEP_MS / 1000.0 / 4));
}

/* ---- mutexes -------------------------------------------------------------------------- */

static mtx_t counter_lock;
static long counter;

static int incrementer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		mtx_lock(&counter_lock);
		long v = counter;
		if (i % 1000 == 0)
			thrd_yield(); /* let the others find the lock taken */
		counter = v + 1;
		mtx_unlock(&counter_lock);
	}
	return 0;
}

/* Holds a mutex between two gates, for probes from another thread. */
struct holder {
	mtx_t *m;
	int locks; /* how many times to lock it (recursive mutexes) */
	struct gate held, release;
};

static int holder_main(void *arg)
{
	struct holder *h = arg;

	for (int i = 0; i < h->locks; i++)
		check(mtx_lock(h->m) == thrd_success, "holder: mtx_lock failed");
	gate_pass(&h->held);
	gate_pass(&h->release);
	for (int i = 0; i < h->locks; i++)
		mtx_unlock(h->m);
	return 0;
}

/* Runs probe(m, results) while another thread holds m (locked `locks` times). */
static void while_held(mtx_t *m, int locks, void (*probe)(mtx_t *, int *), int *results)
{
	struct holder h = { .m = m, .locks = locks };
	thrd_t t;

	gate_init(&h.held);
	gate_init(&h.release);
	t = c11_start(holder_main, &h);
	gate_wait_arrivals(&h.held, 1);
	probe(m, results);
	gate_open(&h.held);
	gate_open(&h.release);
	c11_join(t);
	gate_destroy(&h.held);
	gate_destroy(&h.release);
}

static void probe_timed(mtx_t *m, int *r)
{
	struct timespec deadline = utc_after(50);

	r[0] = mtx_trylock(m);
	r[1] = mtx_timedlock(m, &deadline);
	r[2] = utc_reached(deadline);
}

static void probe_trylock(mtx_t *m, int *r)
{
	if ((r[0] = mtx_trylock(m)) == thrd_success)
		mtx_unlock(m);
}

/* Eight threads add 20,000 each to a counter under a plain mutex. */
static void mutex_counter(void)
{
	thrd_t t[8];

	init_mtx(&counter_lock, mtx_plain);
	counter = 0;
	for (int i = 0; i < 8; i++)
		t[i] = c11_start(incrementer_main, NULL);
	for (int i = 0; i < 8; i++)
		c11_join(t[i]);
	mtx_destroy(&counter_lock);
	printf("mutex_counter: threads=8 counter=%ld\n", counter);
}

/* Held by another thread, a timed mutex refuses trylock and times out a timedlock. */
static void mutex_timed(void)
{
	struct timespec deadline;
	int held[3], free_timed, own_try;
	mtx_t m;

	init_mtx(&m, mtx_timed);
	while_held(&m, 1, probe_timed, held);
	deadline = utc_after(1000);
	free_timed = mtx_timedlock(&m, &deadline);
	own_try = mtx_trylock(&m); /* not recursive: its owner is refused too */
	mtx_unlock(&m);
	mtx_destroy(&m);
	printf("mutex_timed: trylock_held=%s timedlock_held=%s waited=%s timedlock_free=%s "
	       "trylock_own=%s\n",
	       rcname(held[0]), rcname(held[1]), yes(held[2]), rcname(free_timed),
	       rcname(own_try));
}

/* A recursive mutex: its owner locks it again, another thread cannot until it is free. */
static void mutex_recursive(void)
{
	int nested = 0, own_try, other_held, other_after;
	mtx_t m;

	init_mtx(&m, mtx_plain | mtx_recursive);
	for (int i = 0; i < 3; i++)
		nested += mtx_lock(&m) == thrd_success;
	own_try = mtx_trylock(&m);
	for (int i = 0; i < 4; i++)
		mtx_unlock(&m);
	while_held(&m, 3, probe_trylock, &other_held);
	probe_trylock(&m, &other_after);
	mtx_destroy(&m);
	printf("mutex_recursive: nested_locks=%d trylock_own=%s trylock_while_held=%s "
	       "trylock_after_release=%s\n",
	       nested, rcname(own_try), rcname(other_held), rcname(other_after));
}

static void case_mutex(void)
{
	mutex_counter();
	mutex_timed();
	mutex_recursive();
}

/* ---- condition variables --------------------------------------------------------------- */

#define QCAP 8
#define PRODUCERS 3
#define CONSUMERS 3
#define ITEMS 10000 /* per producer */

static struct {
	mtx_t lock;
	cnd_t not_empty, not_full;
	uint64_t items[QCAP];
	unsigned head, count, producers_left;
} q;

static int producer_main(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg * 1000000;

	for (uint64_t i = 1; i <= ITEMS; i++) {
		mtx_lock(&q.lock);
		while (q.count == QCAP)
			cnd_wait(&q.not_full, &q.lock);
		q.items[(q.head + q.count++) % QCAP] = base + i;
		cnd_signal(&q.not_empty);
		mtx_unlock(&q.lock);
	}
	mtx_lock(&q.lock);
	if (--q.producers_left == 0)
		cnd_broadcast(&q.not_empty); /* consumers may now see the end */
	mtx_unlock(&q.lock);
	return 0;
}

static uint64_t consumed_sum;
static int consumed_n;

static int consumer_main(void *arg)
{
	(void)arg;
	mtx_lock(&q.lock);
	for (;;) {
		while (q.count == 0 && q.producers_left > 0)
			cnd_wait(&q.not_empty, &q.lock);
		if (q.count == 0)
			break;
		consumed_sum += q.items[q.head];
		consumed_n++;
		q.head = (q.head + 1) % QCAP;
		q.count--;
		cnd_signal(&q.not_full);
	}
	mtx_unlock(&q.lock);
	return 0;
}

static void prodcons(void)
{
	thrd_t p[PRODUCERS], c[CONSUMERS];
	uint64_t expect = 0;

	init_mtx(&q.lock, mtx_plain);
	init_cnd(&q.not_empty);
	init_cnd(&q.not_full);
	q.producers_left = PRODUCERS;
	for (int i = 0; i < CONSUMERS; i++)
		c[i] = c11_start(consumer_main, NULL);
	for (uintptr_t i = 0; i < PRODUCERS; i++) {
		p[i] = c11_start(producer_main, (void *)(i + 1));
		expect += (i + 1) * 1000000 * ITEMS + (uint64_t)ITEMS * (ITEMS + 1) / 2;
	}
	for (int i = 0; i < PRODUCERS; i++)
		c11_join(p[i]);
	for (int i = 0; i < CONSUMERS; i++)
		c11_join(c[i]);
	check(consumed_sum == expect, "checksum of consumed items is wrong");
	printf("condvar_prodcons: produced=%d consumed=%d sum=%llu\n", PRODUCERS * ITEMS,
	       consumed_n, (unsigned long long)consumed_sum);
	mtx_destroy(&q.lock);
	cnd_destroy(&q.not_empty);
	cnd_destroy(&q.not_full);
}

/* Nobody signals: the wait times out, not early, and returns with the mutex held. */
static void timedwait_timeout(void)
{
	mtx_t m;
	cnd_t cv;
	struct timespec deadline;
	int rc;

	init_mtx(&m, mtx_plain);
	init_cnd(&cv);
	mtx_lock(&m);
	deadline = utc_after(100);
	do
		rc = cnd_timedwait(&cv, &m, &deadline);
	while (rc == thrd_success); /* a spurious wakeup is allowed; the deadline still holds */
	printf("condvar_timedwait: ret=%s waited=%s mutex_held=%s\n", rcname(rc),
	       yes(utc_reached(deadline)), yes(mtx_trylock(&m) == thrd_busy));
	mtx_unlock(&m);
	mtx_destroy(&m);
	cnd_destroy(&cv);
}

static struct {
	mtx_t m;
	cnd_t cv;
	bool flag;
	int waiting, woken;
	unsigned generation;
} sig;

static int signaller_main(void *arg)
{
	(void)arg;
	nap_ms(20);
	mtx_lock(&sig.m);
	sig.flag = true;
	cnd_signal(&sig.cv);
	mtx_unlock(&sig.m);
	return 0;
}

/* Signalled long before its deadline, a timed wait returns thrd_success. */
static void timedwait_signalled(void)
{
	struct timespec deadline = utc_after(10000);
	thrd_t t = c11_start(signaller_main, NULL);
	int rc = thrd_success;

	mtx_lock(&sig.m);
	while (!sig.flag && rc == thrd_success)
		rc = cnd_timedwait(&sig.cv, &sig.m, &deadline);
	mtx_unlock(&sig.m);
	c11_join(t);
	printf("condvar_timedwait_signalled: ret=%s flag=%s\n", rcname(rc), yes(sig.flag));
}

static int generation_waiter_main(void *arg)
{
	unsigned seen;

	(void)arg;
	mtx_lock(&sig.m);
	seen = sig.generation;
	sig.waiting++;
	while (sig.generation == seen)
		cnd_wait(&sig.cv, &sig.m);
	sig.woken++;
	mtx_unlock(&sig.m);
	return 0;
}

/*
 * Ten threads wait for a new generation. Main sees waiting == 10 under the mutex only
 * once every waiter has released it inside cnd_wait: one broadcast then wakes them all.
 */
static void broadcast_all(void)
{
	thrd_t t[10];
	int rc;

	for (int i = 0; i < 10; i++)
		t[i] = c11_start(generation_waiter_main, NULL);
	for (;;) {
		mtx_lock(&sig.m);
		if (sig.waiting == 10)
			break;
		mtx_unlock(&sig.m);
		nap_ms(1);
	}
	sig.generation++;
	rc = cnd_broadcast(&sig.cv);
	mtx_unlock(&sig.m);
	for (int i = 0; i < 10; i++)
		c11_join(t[i]);
	printf("condvar_broadcast: ret=%s waiters=10 woken=%d\n", rcname(rc), sig.woken);
}

static void case_condvar(void)
{
	init_mtx(&sig.m, mtx_plain);
	init_cnd(&sig.cv);
	prodcons();
	timedwait_timeout();
	timedwait_signalled();
	broadcast_all();
	mtx_destroy(&sig.m);
	cnd_destroy(&sig.cv);
}

/* ---- thread-specific storage ---------------------------------------------------------- */

#define TSS_SETTERS 16
#define TSS_IDLE 4

static tss_t key;
static atomic_int destructed, destructed_sum;

static void tss_destructor(void *v)
{
	atomic_fetch_add(&destructed, 1);
	atomic_fetch_add(&destructed_sum, *(int *)v);
	free(v);
}

/* Sets its own value, lets the others set theirs, and finds its own again. */
static int tss_setter_main(void *arg)
{
	int *mine = malloc(sizeof(*mine));

	check(mine != NULL, "malloc failed");
	*mine = (int)(intptr_t)arg;
	check(tss_set(key, mine) == thrd_success, "tss_set failed");
	nap_ms(5);
	thrd_yield();
	return tss_get(key) == mine && *(int *)tss_get(key) == (int)(intptr_t)arg;
}

/* Never sets a value: sees NULL, and no destructor runs for it. */
static int tss_idle_main(void *arg)
{
	(void)arg;
	nap_ms(2);
	return tss_get(key) == NULL;
}

static void case_tss(void)
{
	thrd_t t[TSS_SETTERS + TSS_IDLE];
	int kept = 0, idle_null = 0, created = tss_create(&key, tss_destructor);
	static int main_value = -1;

	check(created == thrd_success, "tss_create failed");
	tss_set(key, &main_value);
	for (int i = 0; i < TSS_SETTERS; i++)
		t[i] = c11_start(tss_setter_main, (void *)(intptr_t)(i + 1));
	for (int i = TSS_SETTERS; i < TSS_SETTERS + TSS_IDLE; i++)
		t[i] = c11_start(tss_idle_main, NULL);
	for (int i = 0; i < TSS_SETTERS; i++)
		kept += c11_join(t[i]);
	for (int i = TSS_SETTERS; i < TSS_SETTERS + TSS_IDLE; i++)
		idle_null += c11_join(t[i]);
	printf("tss: create=%s kept_own_value=%d unset_saw_null=%d destructors=%d "
	       "destructed_sum=%d main_kept=%s\n",
	       rcname(created), kept, idle_null, atomic_load(&destructed),
	       atomic_load(&destructed_sum), yes(tss_get(key) == &main_value));
	tss_delete(key);
}

/* ---- call_once -------------------------------------------------------------------------- */

static once_flag once = ONCE_FLAG_INIT;
static atomic_int once_runs;

static void once_init(void)
{
	nap_ms(10); /* the others must wait for us, not run init again */
	atomic_fetch_add(&once_runs, 1);
}

static int once_main(void *arg)
{
	(void)arg;
	call_once(&once, once_init);
	return atomic_load(&once_runs);
}

static void case_once(void)
{
	thrd_t t[8];
	int saw_done = 0;

	for (int i = 0; i < 8; i++)
		t[i] = c11_start(once_main, NULL);
	for (int i = 0; i < 8; i++)
		saw_done += c11_join(t[i]) == 1;
	call_once(&once, once_init);
	printf("once: init_runs=%d threads_saw_init_done=%d\n", atomic_load(&once_runs), saw_done);
}

/* ---- table and driver ------------------------------------------------------------------ */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(create_join),
	CASE(detach),
	CASE(yield),
	CASE(sleep),
	CASE(mutex),
	CASE(condvar),
	CASE(tss),
	CASE(once),
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

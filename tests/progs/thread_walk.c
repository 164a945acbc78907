/*
 * thread_walk SEED STEPS [FAMILY,...]
 *
 * A seeded random walk through the pthread API: mutexes of every type, robust,
 * process-shared, priority-inheritance and priority-protect; timed and clock locks with
 * past, odd and invalid deadlines; condition variables on both clocks; rwlocks of every
 * kind; semaphores up to SEM_VALUE_MAX; barriers; once; thread-specific data up to
 * PTHREAD_KEYS_MAX; spinlocks; cancellation; join, detach and their errors; signals sent
 * to threads that block them or not.
 *
 * Every step prints one line: its number, the thread that acted, the call and what it
 * returned (errno by name). The walk is made so that every line is determined by the
 * seed: the workers act one at a time, each when main hands it a step through a
 * semaphore of its own and main waits for it to be done. A call that waits is made only
 * when it returns at once, when its deadline is short and nothing can end the wait
 * early, or when the step that ends it comes next (a lock held by another worker, which
 * that worker then releases). Main keeps a model of who holds what, updated from the
 * results printed, only to choose such steps; the output itself is the test. The same
 * seed must then print the same lines natively and under the library.
 *
 * FAMILY,... walks only those families of calls (mutex, cond, rwlock, sem, spin,
 * barrier, once, key, signal, cancel, join, exit); the default is all of them.
 */
#define PROG "thread_walk"
#include "progs.h"

#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>

#define WORKERS 3
#define MUTEXES 8
#define RWLOCKS 3
#define SEMS 3
#define SPINS 2
#define KEYS 4
#define ONCES 3
#define LINE 200
/*
 * Not real-time ones: a green thread keeps one of each kind pending, where a kernel
 * thread queues them all, and a pthread_sigqueue value does not reach a green thread
 * (libgreenpatch(7), LIMITATIONS). Two sent while blocked make one, either way.
 */
#define SIG_KILL SIGUSR1
#define SIG_QUEUE SIGUSR2

/* ---- random numbers: rng_next (progs.h), so that a seed names a walk anywhere -------- */


static int rnd(int n)
{
	return (int)(rng_next() % (uint64_t)n);
}

/* ---- workers ----------------------------------------------------------------------- */

struct worker;
typedef void (*op_fn)(struct worker *w);

struct worker {
	int idx;
	pthread_t th;
	sem_t go, done;
	op_fn fn;
	int obj, arg, arg2; /* what the step works on */
	int rc;		    /* what the call returned: main updates its model from it */
	bool quit;	    /* return after this step */
	char res[LINE];	    /* what the step printed */
};

static struct worker workers[WORKERS];
static __thread int self_idx = -1;
static int step_no;

/* Signals each worker handled, counted by the handler in the worker itself. */
static volatile sig_atomic_t sigs_seen[WORKERS];
static bool sigs_blocked[WORKERS]; /* the model */

static void wait_sem(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			die("sem_wait");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	sigset_t usr;

	/* Signals wait until the handler can tell which worker this is. */
	self_idx = w->idx;
	sigemptyset(&usr);
	sigaddset(&usr, SIG_KILL);
	sigaddset(&usr, SIG_QUEUE);
	pthread_sigmask(SIG_UNBLOCK, &usr, NULL);
	for (;;) {
		wait_sem(&w->go);
		w->fn(w);
		bool quit = w->quit;
		sem_post(&w->done);
		if (quit)
			return (void *)(intptr_t)(100 + w->idx);
	}
}

static void worker_start(int i)
{
	struct worker *w = &workers[i];

	w->idx = i;
	w->quit = false;
	if (sem_init(&w->go, 0, 0) != 0 || sem_init(&w->done, 0, 0) != 0)
		die("sem_init");
	w->th = start(worker_main, w);
}

/* Hands w a step without waiting for it (it may wait for a later step). */
static void dispatch(int t, op_fn fn, int obj, int arg, int arg2)
{
	struct worker *w = &workers[t];

	w->fn = fn;
	w->obj = obj;
	w->arg = arg;
	w->arg2 = arg2;
	w->res[0] = 0;
	sem_post(&w->go);
}

static void model_after(struct worker *w);

/*
 * Waits for w's step, prints its line and updates the model: in main, in the order of
 * the lines, since a worker that waited may return before the one that woke it did.
 */
static void collect(int t)
{
	wait_sem(&workers[t].done);
	printf("%d t%d %s\n", step_no, t, workers[t].res);
	model_after(&workers[t]);
}

static void run(int t, op_fn fn, int obj, int arg, int arg2)
{
	dispatch(t, fn, obj, arg, arg2);
	collect(t);
}

#define SAY(w, ...) snprintf((w)->res, sizeof((w)->res), __VA_ARGS__)

/* The result of a call that returns an error number. */
static const char *rc_name(int rc)
{
	return errname(rc);
}

/* The result of a call that returns -1 and sets errno. */
static const char *ret_name(int ret)
{
	return ret == 0 ? "0" : errname(errno);
}

/* ---- deadlines --------------------------------------------------------------------- */

enum { TO_PAST, TO_EPOCH, TO_NEGSEC, TO_BADNSEC, TO_NEGNSEC, TO_SHORT, TO_KINDS };
static const char *const to_names[] = { "past", "epoch", "negsec", "badnsec", "negnsec",
					"short" };

static struct timespec deadline(clockid_t clock, int kind)
{
	struct timespec t = now(clock);

	switch (kind) {
	case TO_PAST:
		t.tv_sec -= 1;
		return t;
	case TO_EPOCH:
		return (struct timespec){ 0, 0 };
	case TO_NEGSEC:
		return (struct timespec){ -1, 0 };
	case TO_BADNSEC:
		return (struct timespec){ t.tv_sec + 1, NSEC_PER_SEC };
	case TO_NEGNSEC:
		return (struct timespec){ t.tv_sec + 1, -1 };
	default:
		return ts_add(t, ts_ms(3));
	}
}

static const clockid_t clocks[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID };
static const char *const clock_names[] = { "realtime", "monotonic", "cputime" };

/* ---- mutexes ----------------------------------------------------------------------- */

enum { P_NONE, P_INHERIT, P_PROTECT };

struct mutex {
	pthread_mutex_t m;
	int type, robust, pshared, proto;
	char desc[64];
	/* the model */
	int owner; /* worker, -1 free, -2 a worker that ended holding it */
	int count;
	bool dead_owner; /* robust: its owner ended; the next lock gets EOWNERDEAD */
	bool inconsistent, unrecoverable;
};

static struct mutex mutexes[MUTEXES];

static const char *const type_names[] = { "normal", "recursive", "errorcheck", "default" };
static const int types[] = { PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
			     PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_DEFAULT };

static void mutex_make(struct mutex *x)
{
	pthread_mutexattr_t a;

	x->type = rnd(4);
	x->robust = rnd(3) == 0;
	x->pshared = rnd(3) == 0;
	/* Priority-protect ones fail with ESRCH on green threads, and robust or
	   process-shared priority-inheritance ones cannot be waited for (libgreenpatch(7),
	   LIMITATIONS): left out. */
	x->proto = rnd(4) == 0 && !x->robust && !x->pshared ? P_INHERIT : P_NONE;
	x->owner = -1;
	x->count = 0;
	x->dead_owner = x->inconsistent = x->unrecoverable = false;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, types[x->type]);
	if (x->robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (x->pshared)
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (x->proto == P_INHERIT)
		pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
	if (x->proto == P_PROTECT) {
		pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT);
		pthread_mutexattr_setprioceiling(&a, 0);
	}
	int rc = pthread_mutex_init(&x->m, &a);
	pthread_mutexattr_destroy(&a);
	if (rc != 0) { /* a combination glibc refuses: a plain one instead */
		printf("%d main mutex_init m%d -> %s\n", step_no, (int)(x - mutexes), rc_name(rc));
		x->type = x->robust = x->pshared = x->proto = 0;
		rc = pthread_mutex_init(&x->m, NULL);
	}
	snprintf(x->desc, sizeof(x->desc), "%s%s%s%s", type_names[x->type],
		 x->robust ? ",robust" : "", x->pshared ? ",pshared" : "",
		 x->proto == P_INHERIT ? ",pi" : x->proto == P_PROTECT ? ",pp" : "");
	printf("%d main mutex_init m%d %s -> %s\n", step_no, (int)(x - mutexes), x->desc,
	       rc_name(rc));
}

/* The model after a call by t that returned rc: taken, released or unchanged. */
static void mutex_took(struct mutex *x, int t, int rc)
{
	if (x->owner == -2)
		return; /* held for good */
	if (rc == EOWNERDEAD) {
		x->dead_owner = false;
		x->inconsistent = true;
	}
	/* glibc's trylock of an unrecoverable robust mutex leaves it locked, and an unlock
	   then crashes in glibc: it is left alone for good. */
	if (rc == ENOTRECOVERABLE)
		x->owner = -2;
	if (rc != 0 && rc != EOWNERDEAD)
		return;
	if (x->owner == t) {
		x->count++;
		return;
	}
	x->owner = t;
	x->count = 1;
}

static void op_mutex_lock(struct worker *w)
{
	struct mutex *x = &mutexes[w->obj];
	int rc = pthread_mutex_lock(&x->m);

	SAY(w, "mutex_lock m%d -> %s", w->obj, rc_name(rc));
	w->rc = rc;
}

static void op_mutex_trylock(struct worker *w)
{
	struct mutex *x = &mutexes[w->obj];
	int rc = pthread_mutex_trylock(&x->m);

	SAY(w, "mutex_trylock m%d -> %s", w->obj, rc_name(rc));
	w->rc = rc;
}

static void op_mutex_timedlock(struct worker *w)
{
	struct mutex *x = &mutexes[w->obj];
	int c = w->arg2;
	struct timespec d = deadline(c < 0 ? CLOCK_REALTIME : clocks[c], w->arg);
	int rc = c < 0 ? pthread_mutex_timedlock(&x->m, &d)
		       : pthread_mutex_clocklock(&x->m, clocks[c], &d);

	SAY(w, "mutex_%s m%d %s %s -> %s", c < 0 ? "timedlock" : "clocklock", w->obj,
	    c < 0 ? "" : clock_names[c], to_names[w->arg], rc_name(rc));
	w->rc = rc;
}

static void op_mutex_unlock(struct worker *w)
{
	struct mutex *x = &mutexes[w->obj];
	int rc = pthread_mutex_unlock(&x->m);

	SAY(w, "mutex_unlock m%d -> %s", w->obj, rc_name(rc));
	w->rc = rc;
}

static void mutex_released(struct mutex *x, int t, int rc)
{
	if (rc != 0 || x->owner == -2)
		return;
	if (x->inconsistent) { /* released without being made consistent */
		x->inconsistent = false;
		x->unrecoverable = true;
	}
	if (x->owner == t && --x->count > 0)
		return;
	x->owner = -1;
	x->count = 0;
}

static void op_mutex_consistent(struct worker *w)
{
	struct mutex *x = &mutexes[w->obj];
	int rc = pthread_mutex_consistent(&x->m);

	SAY(w, "mutex_consistent m%d -> %s", w->obj, rc_name(rc));
	w->rc = rc;
}

/* A lock that returns at once, or fails at once, for t: nothing to wait for. */
static bool mutex_lock_returns(const struct mutex *x, int t)
{
	if (x->owner == -1)
		return true;
	if (x->owner == t)
		return x->type == 1 || x->type == 2; /* counts, or EDEADLK */
	return false;
}

/*
 * Whether an unlock by t leaves the model true. Natively, an unlock by a thread that
 * does not hold a normal mutex releases it; one of a priority-inheritance or -protect
 * mutex it does not hold leaves the kernel's owner in place: left out.
 */
static bool mutex_unlock_known(const struct mutex *x, int t)
{
	if (x->owner == -2)
		return false;
	if (x->owner == t || x->robust || x->type == 1 || x->type == 2)
		return true;
	return x->proto == P_NONE;
}

static void step_mutex(void)
{
	int i = rnd(MUTEXES), t = rnd(WORKERS);
	struct mutex *x = &mutexes[i];

	if (x->owner == -2 && x->robust)
		return; /* unrecoverable and left locked by glibc's trylock: left alone */
	if ((x->owner == -1 || x->owner == -2) && rnd(40) == 0) {
		mutex_make(x); /* free, or held by a worker that ended */
		return;
	}
	switch (rnd(6)) {
	case 0:
		run(t, op_mutex_trylock, i, 0, 0);
		return;
	case 1: {
		int to = rnd(TO_KINDS), c = rnd(4) - 1;

		/* A short deadline on a mutex held for good only costs its 3 ms. */
		if (to == TO_SHORT && x->owner != -1 && x->owner != t && rnd(2))
			to = TO_PAST;
		run(t, op_mutex_timedlock, i, to, c);
		return;
	}
	case 2:
	case 3:
		if (mutex_lock_returns(x, t)) {
			run(t, op_mutex_lock, i, 0, 0);
			return;
		}
		/* Held once by another worker: t waits, the holder lets it go. */
		if (x->owner >= 0 && x->owner != t && x->count == 1 && !x->inconsistent) {
			int o = x->owner;

			dispatch(t, op_mutex_lock, i, 0, 0);
			run(o, op_mutex_unlock, i, 0, 0);
			collect(t);
			return;
		}
		run(t, op_mutex_trylock, i, 0, 0);
		return;
	case 4:
		if (x->inconsistent && x->owner == t) {
			run(t, op_mutex_consistent, i, 0, 0);
			return;
		}
		/* fall through */
	default:
		if (x->owner >= 0 && rnd(3))
			t = x->owner;
		if (mutex_unlock_known(x, t))
			run(t, op_mutex_unlock, i, 0, 0);
		else
			run(t, op_mutex_trylock, i, 0, 0);
		return;
	}
}

/* ---- condition variables ----------------------------------------------------------- */

static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conds[2]; /* on CLOCK_REALTIME, on CLOCK_MONOTONIC */
static int cond_pred;

static void op_cond_timed(struct worker *w)
{
	pthread_cond_t *c = &conds[w->obj];
	struct timespec d;
	int rc;

	pthread_mutex_lock(&cond_lock);
	if (w->arg2 < 0) {
		d = deadline(w->obj ? CLOCK_MONOTONIC : CLOCK_REALTIME, w->arg);
		rc = pthread_cond_timedwait(c, &cond_lock, &d);
	} else {
		d = deadline(clocks[w->arg2], w->arg);
		rc = pthread_cond_clockwait(c, &cond_lock, clocks[w->arg2], &d);
	}
	int held = pthread_mutex_trylock(&cond_lock); /* normal: EBUSY while we hold it */
	pthread_mutex_unlock(&cond_lock);
	SAY(w, "cond_%s c%d %s %s -> %s lock %s", w->arg2 < 0 ? "timedwait" : "clockwait",
	    w->obj, w->arg2 < 0 ? "" : clock_names[w->arg2], to_names[w->arg], rc_name(rc),
	    rc_name(held));
}

/* Waits until the predicate is set; what the last wait returned. */
static void op_cond_wait(struct worker *w)
{
	pthread_cond_t *c = &conds[w->obj];
	int rc = 0, waits = 0;

	pthread_mutex_lock(&cond_lock);
	while (!cond_pred && rc == 0) {
		if (w->arg) {
			struct timespec d = clock_after(w->obj ? CLOCK_MONOTONIC : CLOCK_REALTIME,
							20000);
			rc = pthread_cond_timedwait(c, &cond_lock, &d);
		} else {
			rc = pthread_cond_wait(c, &cond_lock);
		}
		waits++;
	}
	cond_pred = 0;
	pthread_mutex_unlock(&cond_lock);
	SAY(w, "cond_%s c%d -> %s", w->arg ? "timedwait" : "wait", w->obj, rc_name(rc));
}

static void op_cond_wake(struct worker *w)
{
	pthread_mutex_lock(&cond_lock);
	cond_pred = w->arg2;
	int rc = w->arg ? pthread_cond_broadcast(&conds[w->obj])
			: pthread_cond_signal(&conds[w->obj]);
	pthread_mutex_unlock(&cond_lock);
	SAY(w, "cond_%s c%d -> %s", w->arg ? "broadcast" : "signal", w->obj, rc_name(rc));
}

static void step_cond(void)
{
	int c = rnd(2), t = rnd(WORKERS);

	switch (rnd(3)) {
	case 0: {
		int to = rnd(TO_KINDS);

		run(t, op_cond_timed, c, to, rnd(4) - 1);
		return;
	}
	case 1:
		run(t, op_cond_wake, c, rnd(2), 0);
		return;
	default: {
		int o = (t + 1 + rnd(WORKERS - 1)) % WORKERS;

		dispatch(t, op_cond_wait, c, rnd(2), 0);
		run(o, op_cond_wake, c, rnd(2), 1);
		collect(t);
		return;
	}
	}
}

/* ---- rwlocks ----------------------------------------------------------------------- */

struct rwlock {
	pthread_rwlock_t l;
	int kind, pshared;
	int readers[WORKERS]; /* the model: read holds by each worker */
	int writer;	      /* -1 none */
};

static struct rwlock rwlocks[RWLOCKS];
static const char *const rw_kind_names[] = { "prefer_reader", "prefer_writer",
					     "prefer_writer_nonrecursive" };
static const int rw_kinds[] = { PTHREAD_RWLOCK_PREFER_READER_NP, PTHREAD_RWLOCK_PREFER_WRITER_NP,
				PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP };

static void rwlock_make(struct rwlock *r)
{
	pthread_rwlockattr_t a;

	r->kind = rnd(3);
	r->pshared = rnd(3) == 0;
	r->writer = -1;
	memset(r->readers, 0, sizeof(r->readers));
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, rw_kinds[r->kind]);
	if (r->pshared)
		pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	int rc = pthread_rwlock_init(&r->l, &a);
	pthread_rwlockattr_destroy(&a);
	printf("%d main rwlock_init r%d %s%s -> %s\n", step_no, (int)(r - rwlocks),
	       rw_kind_names[r->kind], r->pshared ? ",pshared" : "", rc_name(rc));
}

static int readers(const struct rwlock *r)
{
	int n = 0;

	for (int i = 0; i < WORKERS; i++)
		n += r->readers[i];
	return n;
}

enum { RW_RD, RW_WR, RW_TRYRD, RW_TRYWR, RW_TIMEDRD, RW_TIMEDWR, RW_CLOCKRD, RW_CLOCKWR };
static const char *const rw_op_names[] = { "rdlock", "wrlock", "tryrdlock", "trywrlock",
					   "timedrdlock", "timedwrlock", "clockrdlock",
					   "clockwrlock" };

static void op_rwlock(struct worker *w)
{
	struct rwlock *r = &rwlocks[w->obj];
	int how = w->arg, c = w->arg2 % 3, to = w->arg2 / 3, rc;
	struct timespec d = deadline(how >= RW_CLOCKRD ? clocks[c] : CLOCK_REALTIME, to);

	switch (how) {
	case RW_RD: rc = pthread_rwlock_rdlock(&r->l); break;
	case RW_WR: rc = pthread_rwlock_wrlock(&r->l); break;
	case RW_TRYRD: rc = pthread_rwlock_tryrdlock(&r->l); break;
	case RW_TRYWR: rc = pthread_rwlock_trywrlock(&r->l); break;
	case RW_TIMEDRD: rc = pthread_rwlock_timedrdlock(&r->l, &d); break;
	case RW_TIMEDWR: rc = pthread_rwlock_timedwrlock(&r->l, &d); break;
	case RW_CLOCKRD: rc = pthread_rwlock_clockrdlock(&r->l, clocks[c], &d); break;
	default: rc = pthread_rwlock_clockwrlock(&r->l, clocks[c], &d); break;
	}
	if (how >= RW_TIMEDRD)
		SAY(w, "rwlock_%s r%d %s %s -> %s", rw_op_names[how], w->obj,
		    how >= RW_CLOCKRD ? clock_names[c] : "", to_names[to], rc_name(rc));
	else
		SAY(w, "rwlock_%s r%d -> %s", rw_op_names[how], w->obj, rc_name(rc));
	w->rc = rc;
}

static void op_rwlock_unlock(struct worker *w)
{
	struct rwlock *r = &rwlocks[w->obj];
	int rc = pthread_rwlock_unlock(&r->l);

	SAY(w, "rwlock_unlock r%d -> %s", w->obj, rc_name(rc));
	w->rc = rc;
}

static void step_rwlock(void)
{
	int i = rnd(RWLOCKS), t = rnd(WORKERS);
	struct rwlock *r = &rwlocks[i];
	int how = rnd(8), to = rnd(TO_KINDS), c = rnd(3);

	if (rnd(3) == 0 && (r->writer >= 0 || readers(r) > 0)) {
		/* Let a holder go; if the holder is alone, another waits for it first. */
		int h = r->writer >= 0 ? r->writer : -1;

		for (int k = 0; h < 0 && k < WORKERS; k++)
			if (r->readers[(t + k) % WORKERS])
				h = (t + k) % WORKERS;
		bool alone = r->writer >= 0 || (readers(r) == 1);
		int o = (h + 1 + rnd(WORKERS - 1)) % WORKERS;

		if (alone && !(r->writer == o || r->readers[o]) && rnd(2)) {
			dispatch(o, op_rwlock, i, rnd(2) ? RW_WR : RW_RD, 0);
			run(h, op_rwlock_unlock, i, 0, 0);
			collect(o);
			return;
		}
		run(h, op_rwlock_unlock, i, 0, 0);
		return;
	}
	if (how == RW_RD || how == RW_WR) {
		/* Only when it returns at once: free, or shared with readers, or ours. */
		bool ok = how == RW_RD ? r->writer < 0 || r->writer == t
				       : (r->writer < 0 && readers(r) == 0) || r->writer == t;
		if (!ok)
			how += 2;
	}
	run(t, op_rwlock, i, how, to * 3 + c);
}

/* ---- semaphores -------------------------------------------------------------------- */

static sem_t sems[SEMS];
static long sem_model[SEMS];

static void sem_make(int i, unsigned v)
{
	int rc = sem_init(&sems[i], rnd(2), v);

	sem_model[i] = v;
	printf("%d main sem_init s%d %u -> %s\n", step_no, i, v, ret_name(rc));
}

enum { S_POST, S_TRY, S_WAIT, S_TIMED, S_CLOCK, S_VALUE, S_KINDS };

static void op_sem(struct worker *w)
{
	sem_t *s = &sems[w->obj];
	int how = w->arg, c = w->arg2 % 3, to = w->arg2 / 3, ret, v = -1;
	struct timespec d = deadline(how == S_CLOCK ? clocks[c] : CLOCK_REALTIME, to);

	switch (how) {
	case S_POST: ret = sem_post(s); break;
	case S_TRY: ret = sem_trywait(s); break;
	case S_WAIT: ret = sem_wait(s); break;
	case S_TIMED: ret = sem_timedwait(s, &d); break;
	case S_CLOCK: ret = sem_clockwait(s, clocks[c], &d); break;
	default: ret = sem_getvalue(s, &v); break;
	}
	if (how == S_VALUE)
		SAY(w, "sem_getvalue s%d -> %s %d", w->obj, ret_name(ret), v);
	else if (how == S_TIMED || how == S_CLOCK)
		SAY(w, "sem_%s s%d %s %s -> %s", how == S_TIMED ? "timedwait" : "clockwait",
		    w->obj, how == S_CLOCK ? clock_names[c] : "", to_names[to], ret_name(ret));
	else
		SAY(w, "sem_%s s%d -> %s", how == S_POST ? "post" : how == S_TRY ? "trywait" : "wait",
		    w->obj, ret_name(ret));
	w->rc = ret;
}

static void step_sem(void)
{
	int i = rnd(SEMS), t = rnd(WORKERS), how = rnd(S_KINDS);
	int arg2 = rnd(TO_KINDS) * 3 + rnd(3);

	if (rnd(40) == 0) {
		sem_make(i, rnd(2) ? SEM_VALUE_MAX - (unsigned)rnd(2) : (unsigned)rnd(3));
		return;
	}
	if (how == S_WAIT && sem_model[i] == 0) {
		int o = (t + 1 + rnd(WORKERS - 1)) % WORKERS;

		dispatch(t, op_sem, i, S_WAIT, 0);
		run(o, op_sem, i, S_POST, 0);
		collect(t);
		return;
	}
	run(t, op_sem, i, how, arg2);
}

/* ---- spinlocks --------------------------------------------------------------------- */

static pthread_spinlock_t spins[SPINS];
static int spin_owner[SPINS] = { -1, -1 };

static void op_spin(struct worker *w)
{
	pthread_spinlock_t *s = &spins[w->obj];
	int rc;

	switch (w->arg) {
	case 0: rc = pthread_spin_lock(s); break;
	case 1: rc = pthread_spin_trylock(s); break;
	default: rc = pthread_spin_unlock(s); break;
	}
	SAY(w, "spin_%s p%d -> %s", w->arg == 0 ? "lock" : w->arg == 1 ? "trylock" : "unlock",
	    w->obj, rc_name(rc));
	w->rc = rc;
}

static void step_spin(void)
{
	int i = rnd(SPINS), t = rnd(WORKERS), how = rnd(3);

	if (how == 0 && spin_owner[i] >= 0)
		how = 1;
	if (how == 2 && spin_owner[i] >= 0 && spin_owner[i] < WORKERS && rnd(2))
		t = spin_owner[i];
	run(t, op_spin, i, how, 0);
}

/* ---- barriers ---------------------------------------------------------------------- */

static pthread_barrier_t barrier;
static int barrier_serial;

static void op_barrier(struct worker *w)
{
	int rc = pthread_barrier_wait(&barrier);

	if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
		__atomic_fetch_add(&barrier_serial, 1, __ATOMIC_SEQ_CST);
	SAY(w, "barrier_wait -> %s", rc == PTHREAD_BARRIER_SERIAL_THREAD ? "0" : rc_name(rc));
}

static void step_barrier(void)
{
	pthread_barrierattr_t a;
	int n = rnd(WORKERS + 1), first = rnd(WORKERS);

	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, rnd(2) ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
	int rc = pthread_barrier_init(&barrier, &a, (unsigned)n);
	pthread_barrierattr_destroy(&a);
	printf("%d main barrier_init %d -> %s\n", step_no, n, rc_name(rc));
	if (rc != 0)
		return;
	barrier_serial = 0;
	for (int k = 0; k < n; k++)
		dispatch((first + k) % WORKERS, op_barrier, 0, 0, 0);
	for (int k = 0; k < n; k++)
		collect((first + k) % WORKERS);
	printf("%d main barrier serial %d -> %s\n", step_no, barrier_serial,
	       rc_name(pthread_barrier_destroy(&barrier)));
}

/* ---- once -------------------------------------------------------------------------- */

static pthread_once_t onces[ONCES];
static int once_runs[ONCES];
static int once_now;

static void once_fn(void)
{
	once_runs[once_now]++;
}

static void op_once(struct worker *w)
{
	once_now = w->obj;
	int rc = pthread_once(&onces[w->obj], once_fn);

	SAY(w, "once o%d -> %s runs %d", w->obj, rc_name(rc), once_runs[w->obj]);
}

static void step_once(void)
{
	int i = rnd(ONCES);

	if (rnd(6) == 0) {
		onces[i] = (pthread_once_t)PTHREAD_ONCE_INIT;
		once_runs[i] = 0;
		printf("%d main once_reset o%d\n", step_no, i);
		return;
	}
	run(rnd(WORKERS), op_once, i, 0, 0);
}

/* ---- thread-specific data ---------------------------------------------------------- */

static pthread_key_t keys[KEYS];
static bool key_live[KEYS], key_dtor[KEYS];
static uintptr_t key_val[WORKERS][KEYS]; /* the model: what each worker set */
/* Destructors run, in the order they ran, by the worker that ended. */
static char dtor_log[WORKERS][LINE];

static void key_destructor(void *v)
{
	uintptr_t x = (uintptr_t)v;
	char *log = dtor_log[self_idx < 0 ? 0 : self_idx];
	size_t len = strlen(log);

	snprintf(log + len, LINE - len, " k%lu=%lu", (unsigned long)(x / 1000),
		 (unsigned long)(x % 1000));
}

static void op_key_set(struct worker *w)
{
	uintptr_t v = w->arg ? (uintptr_t)w->obj * 1000 + (uintptr_t)w->arg : 0;
	int rc = pthread_setspecific(keys[w->obj], (void *)v);

	SAY(w, "setspecific k%d %lu -> %s", w->obj, (unsigned long)(v % 1000), rc_name(rc));
	w->rc = rc;
}

static void op_key_get(struct worker *w)
{
	uintptr_t v = (uintptr_t)pthread_getspecific(keys[w->obj]);

	SAY(w, "getspecific k%d -> %lu", w->obj, (unsigned long)(v % 1000));
}

static void op_key_bad(struct worker *w)
{
	int rc1 = pthread_setspecific((pthread_key_t)PTHREAD_KEYS_MAX, (void *)1);
	int rc2 = pthread_key_delete((pthread_key_t)PTHREAD_KEYS_MAX + (unsigned)w->arg);

	SAY(w, "setspecific/key_delete KEYS_MAX -> %s %s", rc_name(rc1), rc_name(rc2));
}

/* Creates keys until none is left, then deletes them: how many there were. */
static void op_key_exhaust(struct worker *w)
{
	static pthread_key_t all[PTHREAD_KEYS_MAX];
	int n = 0, rc;

	while (n < PTHREAD_KEYS_MAX && (rc = pthread_key_create(&all[n], NULL)) == 0)
		n++;
	if (n == PTHREAD_KEYS_MAX)
		rc = pthread_key_create(&(pthread_key_t){ 0 }, NULL);
	int del = 0;
	for (int i = 0; i < n; i++)
		del += pthread_key_delete(all[i]) == 0;
	SAY(w, "key_create x%d -> %s deleted %d", n, rc_name(rc), del);
}

static void step_key(void)
{
	int i = rnd(KEYS), t = rnd(WORKERS);

	switch (rnd(8)) {
	case 0:
		if (key_live[i]) {
			int rc = pthread_key_delete(keys[i]);

			printf("%d main key_delete k%d -> %s\n", step_no, i, rc_name(rc));
			key_live[i] = false;
			return;
		}
		key_dtor[i] = rnd(2);
		int rc = pthread_key_create(&keys[i], key_dtor[i] ? key_destructor : NULL);
		printf("%d main key_create k%d%s -> %s\n", step_no, i,
		       key_dtor[i] ? " dtor" : "", rc_name(rc));
		key_live[i] = rc == 0;
		for (int k = 0; k < WORKERS; k++)
			key_val[k][i] = 0;
		return;
	case 1:
		run(t, op_key_bad, i, rnd(2), 0);
		return;
	case 2:
		if (rnd(10) == 0) {
			run(t, op_key_exhaust, 0, 0, 0);
			return;
		}
		/* fall through */
	default:
		if (!key_live[i])
			return;
		if (rnd(2))
			run(t, op_key_set, i, rnd(4) ? 1 + rnd(999) : 0, 0);
		else
			run(t, op_key_get, i, 0, 0);
		return;
	}
}

/* ---- signals to threads ------------------------------------------------------------ */

static void on_usr(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (self_idx < 0)
		return;
	(void)sig, (void)si;
	sigs_seen[self_idx]++;
}

static void op_kill(struct worker *w)
{
	int target = w->obj, rc;

	if (w->arg == 0)
		rc = pthread_kill(workers[target].th, SIG_KILL);
	else if (w->arg == 1)
		rc = pthread_sigqueue(workers[target].th, SIG_QUEUE,
				      (union sigval){ .sival_int = w->arg2 });
	else if (w->arg == 2)
		rc = pthread_kill(workers[target].th, 0);
	else
		rc = pthread_kill(workers[target].th, 99);
	SAY(w, "%s t%d -> %s seen %d", w->arg == 1 ? "pthread_sigqueue" : "pthread_kill", target,
	    rc_name(rc), (int)sigs_seen[w->idx]);
}

static void op_sigmask(struct worker *w)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIG_KILL);
	sigaddset(&s, SIG_QUEUE);
	int rc = pthread_sigmask(w->arg ? SIG_BLOCK : SIG_UNBLOCK, &s, NULL);
	SAY(w, "sigmask %s -> %s seen %d", w->arg ? "block" : "unblock", rc_name(rc),
	    (int)sigs_seen[w->idx]);
	w->rc = rc;
}

static void op_sigseen(struct worker *w)
{
	SAY(w, "signals seen %d", (int)sigs_seen[w->idx]);
}

static void step_signal(void)
{
	int t = rnd(WORKERS), target = rnd(WORKERS);

	switch (rnd(4)) {
	case 0:
		run(t, op_sigmask, 0, rnd(2), 0);
		return;
	case 1:
		run(target, op_sigseen, 0, 0, 0);
		return;
	default: {
		int how = rnd(5) % 4;

		run(t, op_kill, target, how, 1 + rnd(100));
		/* One it does not block is handled before it acts again: it says so now,
		   before another could be sent and merged with it. */
		if (how < 2 && !sigs_blocked[target] && target != t)
			run(target, op_sigseen, 0, 0, 0);
		return;
	}
	}
}

/* ---- threads: join, detach, cancel --------------------------------------------------- */

struct child {
	sem_t ready, go;
	int state, type, mode; /* cancel state and type; where it waits */
	int cleanups;
};

static void child_cleanup(void *arg)
{
	struct child *c = arg;

	c->cleanups++;
	if (c->mode == 2)
		pthread_mutex_unlock(&cond_lock);
}

static void *child_main(void *arg)
{
	struct child *c = arg;
	pthread_setcancelstate(c->state, NULL);
	pthread_setcanceltype(c->type, NULL);
	pthread_cleanup_push(child_cleanup, c);
	if (c->mode == 2) {
		/* Main takes the lock after the cancel: only once this waits. */
		pthread_mutex_lock(&cond_lock);
		sem_post(&c->ready);
		while (sem_trywait(&c->go) != 0)
			pthread_cond_wait(&conds[0], &cond_lock);
		pthread_mutex_unlock(&cond_lock);
	} else {
		sem_post(&c->ready);
		wait_sem(&c->go);
	}
	if (c->mode == 1) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		pthread_testcancel();
	}
	pthread_cleanup_pop(0);
	return (void *)(intptr_t)(c->mode == 1 ? 8 : 7);
}

static const char *retval_name(void *v)
{
	static char buf[32];

	if (v == PTHREAD_CANCELED)
		return "canceled";
	snprintf(buf, sizeof(buf), "%ld", (long)(intptr_t)v);
	return buf;
}

/* A thread that waits at a cancellation point, cancelled or not, then joined. */
static void step_cancel(void)
{
	struct child c = { .state = rnd(2) ? PTHREAD_CANCEL_ENABLE : PTHREAD_CANCEL_DISABLE,
			   .type = rnd(2) ? PTHREAD_CANCEL_DEFERRED : PTHREAD_CANCEL_ASYNCHRONOUS,
			   .mode = rnd(3) };
	bool cancel = rnd(4) != 0;
	void *v;

	sem_init(&c.ready, 0, 0);
	sem_init(&c.go, 0, 0);
	if (c.mode != 0) /* async only around sem_wait: in cond_wait or while it enables
			    cancellation itself, what happens is undefined */
		c.type = PTHREAD_CANCEL_DEFERRED;
	pthread_t th = start(child_main, &c);
	wait_sem(&c.ready);
	int rc = cancel ? pthread_cancel(th) : 0;
	/* A wake-up that races with an acted-on cancellation may win natively: none then. */
	if (cancel && c.state == PTHREAD_CANCEL_ENABLE) {
		if (c.mode == 2) { /* the lock comes free once it waits */
			pthread_mutex_lock(&cond_lock);
			pthread_mutex_unlock(&cond_lock);
		}
	} else if (c.mode == 2) {
		pthread_mutex_lock(&cond_lock);
		sem_post(&c.go);
		pthread_cond_broadcast(&conds[0]);
		pthread_mutex_unlock(&cond_lock);
	} else {
		sem_post(&c.go);
	}
	int jrc = pthread_join(th, &v);
	int lrc = pthread_mutex_trylock(&cond_lock);
	if (lrc == 0)
		pthread_mutex_unlock(&cond_lock);
	printf("%d main cancel %s %s mode %d cancel %s -> %s join %s %s cleanups %d lock %s\n",
	       step_no, c.state == PTHREAD_CANCEL_ENABLE ? "enabled" : "disabled",
	       c.type == PTHREAD_CANCEL_DEFERRED ? "deferred" : "async", c.mode, yes(cancel),
	       rc_name(rc), rc_name(jrc), retval_name(v), c.cleanups, rc_name(lrc));
	sem_destroy(&c.ready);
	sem_destroy(&c.go);
}

static void op_self_join(struct worker *w)
{
	int rc = pthread_join(pthread_self(), NULL);

	SAY(w, "join self -> %s", rc_name(rc));
}

static void *sleeper_main(void *arg)
{
	wait_sem(arg);
	return (void *)5;
}

static void step_join(void)
{
	sem_t *go;
	pthread_t th;
	struct timespec d;
	void *v = NULL;
	int to = rnd(TO_KINDS), c = rnd(3), rc;

	/* glibc waits for good on a deadline with bad nanoseconds: none here. */
	if (to == TO_BADNSEC || to == TO_NEGNSEC)
		to = TO_PAST;
	if (rnd(4) == 0) {
		run(rnd(WORKERS), op_self_join, 0, 0, 0);
		return;
	}
	go = malloc(sizeof(*go));
	if (!go || sem_init(go, 0, 0) != 0)
		die("sem_init");
	th = start(sleeper_main, go);
	switch (rnd(4)) {
	case 0:
		rc = pthread_tryjoin_np(th, &v);
		printf("%d main tryjoin -> %s\n", step_no, rc_name(rc));
		break;
	case 1:
		d = deadline(CLOCK_REALTIME, to);
		rc = pthread_timedjoin_np(th, &v, &d);
		printf("%d main timedjoin %s -> %s\n", step_no, to_names[to], rc_name(rc));
		break;
	case 2:
		d = deadline(clocks[c], to);
		rc = pthread_clockjoin_np(th, &v, clocks[c], &d);
		printf("%d main clockjoin %s %s -> %s\n", step_no, clock_names[c], to_names[to],
		       rc_name(rc));
		break;
	default:
		rc = pthread_detach(th);
		int rc2 = pthread_join(th, &v);
		int rc3 = pthread_detach(th);
		printf("%d main detach -> %s join %s detach %s\n", step_no, rc_name(rc),
		       rc_name(rc2), rc_name(rc3));
		sem_post(go); /* it ends by itself; its semaphore is left to it */
		return;
	}
	sem_post(go);
	rc = pthread_join(th, &v);
	printf("%d main join -> %s %s\n", step_no, rc_name(rc), retval_name(v));
	sem_destroy(go);
	free(go);
}

/* A worker ends: what it returned, the destructors its ending ran; then a new one. */
static void op_exit(struct worker *w)
{
	w->quit = true;
	SAY(w, "exit");
}

static void step_worker_exit(void)
{
	int t = rnd(WORKERS);
	void *v;

	dtor_log[t][0] = 0;
	run(t, op_exit, 0, 0, 0);
	int rc = pthread_join(workers[t].th, &v);
	printf("%d main join t%d -> %s %s destructors:%s\n", step_no, t, rc_name(rc),
	       retval_name(v), dtor_log[t]);
	sem_destroy(&workers[t].go);
	sem_destroy(&workers[t].done);
	/* What it held: a robust mutex is now its next locker's, the others stay held. */
	for (int i = 0; i < MUTEXES; i++) {
		struct mutex *x = &mutexes[i];

		if (x->owner != t)
			continue;
		if (x->robust) {
			x->owner = -1;
			x->count = 0;
			x->dead_owner = true;
			x->inconsistent = false;
		} else if (x->proto == P_INHERIT) {
			mutex_make(x); /* glibc asserts on a try of it: the kernel sees no owner */
		} else {
			x->owner = -2;
		}
	}
	for (int i = 0; i < RWLOCKS; i++) {
		/* An rwlock held by a thread that ended stays held; its new self may not
		   take it again, so it is counted as another's. */
		if (rwlocks[i].writer == t || rwlocks[i].readers[t]) {
			rwlock_make(&rwlocks[i]);
		}
	}
	if (spin_owner[0] == t)
		spin_owner[0] = WORKERS;
	if (spin_owner[1] == t)
		spin_owner[1] = WORKERS;
	for (int k = 0; k < KEYS; k++)
		key_val[t][k] = 0;
	sigs_seen[t] = 0;
	sigs_blocked[t] = false;
	worker_start(t);
}

/* ---- the model, from what each step returned ----------------------------------------- */

static void model_after(struct worker *w)
{
	int t = w->idx, rc = w->rc;

	if (w->fn == op_mutex_lock || w->fn == op_mutex_trylock || w->fn == op_mutex_timedlock) {
		mutex_took(&mutexes[w->obj], t, rc);
	} else if (w->fn == op_mutex_unlock) {
		mutex_released(&mutexes[w->obj], t, rc);
	} else if (w->fn == op_mutex_consistent) {
		if (rc == 0)
			mutexes[w->obj].inconsistent = false;
	} else if (w->fn == op_rwlock && rc == 0) {
		if (w->arg % 2 == 0)
			rwlocks[w->obj].readers[t]++;
		else
			rwlocks[w->obj].writer = t;
	} else if (w->fn == op_rwlock_unlock && rc == 0) {
		if (rwlocks[w->obj].writer == t)
			rwlocks[w->obj].writer = -1;
		else
			rwlocks[w->obj].readers[t]--;
	} else if (w->fn == op_sem && rc == 0 && w->arg != S_VALUE) {
		sem_model[w->obj] += w->arg == S_POST ? 1 : -1;
	} else if (w->fn == op_spin && rc == 0) {
		spin_owner[w->obj] = w->arg == 2 ? -1 : t;
	} else if (w->fn == op_sigmask && rc == 0) {
		sigs_blocked[t] = w->arg;
	} else if (w->fn == op_key_set && rc == 0) {
		key_val[t][w->obj] = w->arg ? (uintptr_t)w->obj * 1000 + (uintptr_t)w->arg : 0;
	}
}

/* ---- the walk ---------------------------------------------------------------------- */

static const struct {
	const char *family;
	void (*step)(void);
	int weight;
} steps[] = {
	{ "mutex", step_mutex, 4 },   { "cond", step_cond, 2 },	  { "rwlock", step_rwlock, 3 },
	{ "sem", step_sem, 3 },	      { "spin", step_spin, 1 },	  { "barrier", step_barrier, 1 },
	{ "once", step_once, 1 },     { "key", step_key, 2 },	  { "signal", step_signal, 2 },
	{ "cancel", step_cancel, 1 }, { "join", step_join, 1 },	  { "exit", step_worker_exit, 1 },
};

/* The steps to draw from, each as often as its weight, of the families named. */
static void (*chosen[64])(void);
static int n_chosen;

static bool choose(const char *families)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (families) {
			char want[128];
			snprintf(want, sizeof(want), ",%s,", families);
			char name[32];
			snprintf(name, sizeof(name), ",%s,", steps[i].family);
			if (!strstr(want, name))
				continue;
		}
		for (int k = 0; k < steps[i].weight; k++)
			chosen[n_chosen++] = steps[i].step;
	}
	return n_chosen > 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_usr, .sa_flags = SA_SIGINFO };
	pthread_condattr_t ca;
	sigset_t usr;

	if ((argc != 3 && argc != 4) || !choose(argc == 4 ? argv[3] : NULL)) {
		fprintf(stderr, "usage: %s SEED STEPS [FAMILY,...]\n", PROG);
		return 2;
	}
	rng_state = strtoull(argv[1], NULL, 0);
	long n = strtol(argv[2], NULL, 0);

	setvbuf(stdout, NULL, _IOLBF, 0); /* a walk that hangs shows where */
	alarm(120); /* a walk that hangs must not hold up whoever runs it for ever */
	if (rnd(2))
		sa.sa_flags |= SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIG_KILL, &sa, NULL);
	sigaction(SIG_QUEUE, &sa, NULL);
	sigemptyset(&usr);
	sigaddset(&usr, SIG_KILL);
	sigaddset(&usr, SIG_QUEUE);
	pthread_sigmask(SIG_BLOCK, &usr, NULL); /* the threads started inherit it */
	pthread_cond_init(&conds[0], NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&conds[1], &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < MUTEXES; i++)
		mutex_make(&mutexes[i]);
	for (int i = 0; i < RWLOCKS; i++)
		rwlock_make(&rwlocks[i]);
	for (int i = 0; i < SEMS; i++)
		sem_make(i, (unsigned)rnd(3));
	for (int i = 0; i < SPINS; i++)
		pthread_spin_init(&spins[i], rnd(2));
	for (int i = 0; i < ONCES; i++)
		onces[i] = (pthread_once_t)PTHREAD_ONCE_INIT;
	for (int i = 0; i < WORKERS; i++)
		worker_start(i);
	for (step_no = 1; step_no <= n; step_no++) {
		chosen[rnd(n_chosen)]();
		if (step_no % 64 == 0)
			fflush(stdout);
	}
	printf("done %ld steps\n", n);
	fflush(stdout);
	_exit(0); /* the workers may hold anything: end without waiting for them */
}

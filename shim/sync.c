/*
 * Mutexes and condition variables for green threads.
 *
 * The lock word stays glibc's: a green thread takes a mutex with the real trylock and,
 * when it is taken, parks on the mutex's address (core/sync.h) until an unlock through
 * our hook unparks it. So the mutex keeps working for code that reaches libc directly.
 *
 * glibc records the owner of a mutex by the thread id in its descriptor, which each
 * green thread has of its own (core/tls.h; the first thread keeps its kernel id). The
 * green owner is kept as well, for the deadlock report and for when green threads
 * share TLS, hence an id: in the mutex's __list.__prev, a field glibc uses only for
 * robust mutexes, which take the real path. A mutex held with no green owner recorded
 * was taken before the runtime started, by the program's first thread.
 *
 * Process-shared, robust and priority-protect mutexes, and process-shared condition
 * variables, take the real path: they may be shared with other processes, and a
 * priority ceiling changes the priority of the kernel thread. Priority-inheritance
 * mutexes are green: the kernel reads their lock word as the owner's thread id, which
 * for a green thread names no kernel thread, so a green thread must never wait for one
 * in the kernel. Its trylock and its unlock stay in user space as long as no kernel
 * thread waits; between green threads priorities mean nothing.
 *
 * A condition variable is only an address to park on: waiters park on it, signal and
 * broadcast unpark them. The real signal/broadcast are called as well, for waiters that
 * are kernel threads (they cost no system call when there are none).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "debug.h"
#include "hook.h"
#include "signals.h"
#include "sync.h"
#include "tls.h"

#define KIND_TYPE_MASK 3             /* PTHREAD_MUTEX_KIND_MASK_NP */
#define KIND_REAL_ONLY (16 | 64 | 128)  /* robust, PP, process-shared */
#define KIND_PI 32                   /* PTHREAD_MUTEX_PRIO_INHERIT_NP */
#define COND_SHARED 1                /* __wrefs bit 0: process-shared */
#define COND_MONOTONIC 2             /* __wrefs bit 1: CLOCK_MONOTONIC */

/*
 * Asked without rejoining (shim/hook.h): a handed-off thread takes and releases an
 * uncontended mutex where it runs, glibc's lock word being atomic; one that tracks its
 * owner, and any wait, enter the runtime, which rejoins first.
 */
static bool mutex_is_green(const pthread_mutex_t *m)
{
	return gp_in_program() && !(m->__data.__kind & KIND_REAL_ONLY);
}

static int mutex_type(const pthread_mutex_t *m)
{
	return m->__data.__kind & KIND_TYPE_MASK;
}

static bool tracks_owner(const pthread_mutex_t *m)
{
	int t = mutex_type(m);
	return t == PTHREAD_MUTEX_RECURSIVE || t == PTHREAD_MUTEX_ERRORCHECK;
}

/* A thread id glibc records that is a green thread's: the first's, or one of ours. */
static bool tid_is_green(int tid)
{
	return tid == gp_rt->tid || gp_tls_tid_is_green(tid);
}

/* Held by a kernel thread that runs no green code (an offload thread, a timer's). */
static bool held_by_kernel_thread(const pthread_mutex_t *m)
{
	return m->__data.__owner && !tid_is_green(m->__data.__owner);
}

/* The green thread holding m: NULL if free or held by another kernel thread. */
static struct gp_green *green_owner(const pthread_mutex_t *m)
{
	if (!m->__data.__owner || held_by_kernel_thread(m))
		return NULL;
	struct gp_green *g = (struct gp_green *)m->__data.__list.__prev;
	return g ? g : gp_rt->main;   /* taken on the carrier before the runtime */
}

static void set_green_owner(pthread_mutex_t *m, struct gp_green *g)
{
	m->__data.__list.__prev = (struct __pthread_internal_list *)g;
}

/* Where a debugger finds a mutex's owners (core/debug.h): as the two above keep them. */
void gp__sync_debug_init(void)
{
	greenpatch_debug.mutex_owner_tid = offsetof(pthread_mutex_t, __data.__owner);
	greenpatch_debug.mutex_owner_green = offsetof(pthread_mutex_t, __data.__list.__prev);
}

/*
 * Held by the calling green thread. A thread that ended holding m may have left its
 * record at the address a new thread now has; where each green thread has its own TCB,
 * the thread id glibc recorded tells them apart, as it does natively.
 */
static bool owned_by_self(const pthread_mutex_t *m)
{
	struct gp_green *g = gp_self();
	if (green_owner(m) != g)
		return false;
	return !gp_tls_per_thread || !g->ctx.tp || m->__data.__owner == gp_tls_tid(g->ctx.tp);
}

/* One attempt at a mutex that tracks its owner: 0, EBUSY, EDEADLK, or an error. */
static int owner_trylock(pthread_mutex_t *m)
{
	if (held_by_kernel_thread(m))
		return EBUSY;
	struct gp_green *o = green_owner(m);
	if (owned_by_self(m)) {
		if (mutex_type(m) == PTHREAD_MUTEX_ERRORCHECK)
			return EDEADLK;
		return GP_REAL(pthread_mutex_trylock)(m);  /* counts the recursion */
	}
	if (o)
		return EBUSY;
	int rc = GP_REAL(pthread_mutex_trylock)(m);
	if (rc == 0)
		set_green_owner(m, gp_self());
	return rc;
}

/*
 * One attempt: 0, EBUSY (held by another green thread), or an error.
 *
 * glibc counts a recursive mutex's recursion for whoever has the owner's thread id,
 * which green threads share when they share TLS: the green owner is checked and
 * glibc's lock taken in one step, inside the bracket, so that no other green thread can
 * come between them (a handed-off one rejoins first, core/kthread.h).
 */
static int green_trylock(pthread_mutex_t *m)
{
	if (tracks_owner(m)) {
		gp_enter();
		int rc = owner_trylock(m);
		gp_leave();
		return rc;
	}
	int rc = GP_REAL(pthread_mutex_trylock)(m);
	if (rc == 0)   /* every kind: the deadlock report names the holder */
		set_green_owner(m, gp_self());
	return rc;
}

/*
 * A kernel thread may release the mutex where no hook sees it (glibc's own
 * pthread_cond_wait unlocks internally): while one holds it, look again this often.
 */
#define KERNEL_HOLDER_RECHECK 0.002

/*
 * Lock, parking while another thread holds it, until abstime on clock if given. A
 * pthread_mutex_lock (cancelable) ends for an asynchronous cancel; a condition wait's
 * re-lock does not: its cleanup handlers run with the mutex held.
 */
static int green_lock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime,
		      bool cancelable)
{
	for (;;) {
		int rc = green_trylock(m);
		if (rc != EBUSY)
			return rc;
		double left = -1;
		if (abstime) {
			left = gp_until(clock, abstime);
			if (left <= 0)
				return ETIMEDOUT;
		}
		/*
		 * Only a green holder is sure to unlock through our hook. Held by a kernel
		 * thread, or already released (glibc's own cond_wait may have let it go since
		 * the attempt): look again soon rather than wait for a wake-up.
		 */
		if (!tid_is_green(m->__data.__owner) &&
		    (left < 0 || left > KERNEL_HOLDER_RECHECK))
			left = KERNEL_HOLDER_RECHECK;
		gp_enter();
		gp_park_on(m, left, "mutex");
		gp_leave();
		if (cancelable)
			gp__async_cancel_point();
	}
}

/* Release a mutex that tracks its owner: 0, EPERM if not ours; *freed if released. */
static int owner_unlock(pthread_mutex_t *m, bool *freed)
{
	if (!owned_by_self(m))
		return EPERM;
	int rc = GP_REAL(pthread_mutex_unlock)(m);
	*freed = rc == 0 && m->__data.__owner == 0;
	if (*freed)
		set_green_owner(m, NULL);
	return rc;
}

static int green_unlock(pthread_mutex_t *m)
{
	bool freed = true;
	int rc;
	if (tracks_owner(m)) {
		gp_enter();   /* as green_trylock */
		rc = owner_unlock(m, &freed);
		gp_leave();
	} else {
		/* Forgotten first: once released, the record is the next holder's. */
		set_green_owner(m, NULL);
		rc = GP_REAL(pthread_mutex_unlock)(m);
	}
	if (rc == 0 && freed)
		gp_wake(m, 1);
	return rc;
}

/*
 * Robust, priority-protected and process-shared mutexes stay glibc's (their owner is
 * known to the kernel, or to other processes): on a green thread, one that is taken is
 * waited for in glibc on the thread's own kernel thread while the carrier goes on
 * (gp__block_begin), with glibc's answers (EOWNERDEAD, EDEADLK, ETIMEDOUT). A deadline
 * glibc would refuse is left to glibc at once.
 */
/* The try's answer, unless the mutex was taken: then the wait, with the carrier away. */
#define REAL_ONLY_LOCK(call, abstime, timed)                                   \
	do {                                                                   \
		if (gp_in_program() && (m->__data.__kind & KIND_REAL_ONLY) &&  \
		    (!(timed) || gp_ts_valid(abstime))) {                      \
			int rc_ = GP_REAL(pthread_mutex_trylock)(m);           \
			return rc_ == EBUSY ? GP_BLOCKING(call) : rc_;         \
		}                                                              \
	} while (0)

int pthread_mutex_lock(pthread_mutex_t *m)
{
	REAL_ONLY_LOCK(GP_REAL(pthread_mutex_lock)(m), NULL, false);
	if (!mutex_is_green(m))
		return GP_REAL(pthread_mutex_lock)(m);
	return green_lock(m, CLOCK_REALTIME, NULL, true);
}

/* An error-checking mutex we hold: EBUSY, except for glibc's priority-inheritance one. */
int pthread_mutex_trylock(pthread_mutex_t *m)
{
	if (!mutex_is_green(m))
		return GP_REAL(pthread_mutex_trylock)(m);
	int rc = green_trylock(m);
	return rc == EDEADLK && !(m->__data.__kind & KIND_PI) ? EBUSY : rc;
}

/*
 * A deadline is looked at only once the mutex is taken, as glibc does; glibc leaves a
 * priority-inheritance one to the kernel, which refuses a time before 1970 as invalid.
 */
static int green_timedlock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	int rc = green_trylock(m);
	if (rc != EBUSY)
		return rc;
	if (!gp_ts_valid(abstime) || ((m->__data.__kind & KIND_PI) && abstime->tv_sec < 0))
		return EINVAL;
	return green_lock(m, clock, abstime, true);
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	REAL_ONLY_LOCK(GP_REAL(pthread_mutex_timedlock)(m, abstime), abstime, true);
	if (!mutex_is_green(m))
		return GP_REAL(pthread_mutex_timedlock)(m, abstime);
	return green_timedlock(m, CLOCK_REALTIME, abstime);
}

/* A clock glibc does not wait on is refused before the mutex is looked at. */
int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return GP_REAL(pthread_mutex_clocklock)(m, clock, abstime);
	REAL_ONLY_LOCK(GP_REAL(pthread_mutex_clocklock)(m, clock, abstime), abstime, true);
	if (!mutex_is_green(m))
		return GP_REAL(pthread_mutex_clocklock)(m, clock, abstime);
	return green_timedlock(m, clock, abstime);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	if (mutex_is_green(m))
		return green_unlock(m);
	int rc = GP_REAL(pthread_mutex_unlock)(m);
	/* A kernel thread released it: a green thread may be parked on it. */
	if (rc == 0 && !(m->__data.__kind & KIND_REAL_ONLY))
		gp_unpark_on_async(m);
	return rc;
}

/* As mutex_is_green: a signal or broadcast from a handed-off thread wakes from afar. */
static bool cond_is_green(const pthread_cond_t *c)
{
	return gp_in_program() && !(c->__data.__wrefs & COND_SHARED);
}

static clockid_t cond_clock(const pthread_cond_t *c)
{
	return (c->__data.__wrefs & COND_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

/* Release m, park on c until signalled or abstime (on clock), take m again. */
static int green_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
			   const struct timespec *abstime)
{
	double left = -1;
	if (abstime) {
		if (!gp_ts_valid(abstime))
			return EINVAL;
		left = gp_until(clock, abstime);
	}
	/* With several carriers, a signal may come as soon as m is released, before the
	 * park: the wake-ups counted from before the release make the park look again
	 * (core/sync.c), which green_unlock's own entry would otherwise hide. */
	uint64_t seen = gp_wake_seq();
	int rc = green_unlock(m);
	if (rc != 0)
		return rc;
	int woke = -ETIMEDOUT;
	if (!abstime || left > 0) {
		struct gp_green *self = gp_self();
		self->left_at = seen;
		gp_enter();
		/*
		 * A rejoin after a hand-off (here on the way in, when the thread computed
		 * before it waits), or a yield the monitor asked for, marks the next park to
		 * look again, in case what its hook saw went stale meanwhile. This wait saw
		 * nothing: only a signal after seen is for it, and that stamps the bucket
		 * (from afar too, once a carrier takes it). Without one, looking again would
		 * end the wait with 0 where glibc's goes on waiting (condvar.c,
		 * timedwait_after_compute).
		 */
		gp_park_forget_away(c, seen);
		woke = gp_park_on(c, left, "cond");
		gp_leave();
	}
	rc = green_lock(m, CLOCK_REALTIME, NULL, false);
	if (rc != 0)
		return rc;
	/* A cancellation point: the cleanup handlers run with the mutex held again. */
	gp__cancel_point();
	return woke == -ETIMEDOUT ? ETIMEDOUT : 0;
}

/*
 * A wait on a process-shared condition variable, or with a mutex that stays glibc's, is
 * glibc's: on a green thread it is made on the thread's own kernel thread while the
 * carrier goes on (gp__block_begin).
 */
#define REAL_COND_WAIT(call)                                                   \
	do {                                                                   \
		if (!cond_is_green(c) || !mutex_is_green(m))                   \
			return gp_in_program() ? GP_BLOCKING(call) : (call);   \
	} while (0)

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	REAL_COND_WAIT(GP_REAL(pthread_cond_wait)(c, m));
	return green_cond_wait(c, m, CLOCK_REALTIME, NULL);
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
	REAL_COND_WAIT(GP_REAL(pthread_cond_timedwait)(c, m, abstime));
	return green_cond_wait(c, m, cond_clock(c), abstime);
}

int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
			   const struct timespec *abstime)
{
	REAL_COND_WAIT(GP_REAL(pthread_cond_clockwait)(c, m, clock, abstime));
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return green_cond_wait(c, m, clock, abstime);
}

int pthread_cond_signal(pthread_cond_t *c)
{
	if (cond_is_green(c) && gp_wake(c, 1))
		return 0;
	/* From a kernel thread: a green thread may be waiting. */
	if (!gp_in_program() && !(c->__data.__wrefs & COND_SHARED))
		gp_unpark_on_async(c);
	return GP_REAL(pthread_cond_signal)(c);
}

int pthread_cond_broadcast(pthread_cond_t *c)
{
	if (cond_is_green(c))
		gp_wake(c, (size_t)-1);
	else if (!(c->__data.__wrefs & COND_SHARED))
		gp_unpark_all_on_async(c);
	return GP_REAL(pthread_cond_broadcast)(c);
}

/* For the deadlock report: who holds the mutex or the thread being joined. */
void gp__describe_wait_shim(struct gp_green *g, char *buf, size_t len)
{
	const char *what = g->waits_for ? g->waits_for : "?";
	if (strcmp(what, "mutex") == 0 && g->wait_obj) {
		const pthread_mutex_t *m = g->wait_obj;
		if (held_by_kernel_thread(m)) {
			snprintf(buf, len, "mutex %p held by kernel thread %d", (void *)m,
				 m->__data.__owner);
			return;
		}
		struct gp_green *o = m->__data.__owner ? green_owner(m) : NULL;
		if (o) {
			snprintf(buf, len, "mutex %p held by thread %llu \"%s\"", (void *)m,
				 (unsigned long long)o->id, o->name);
			return;
		}
	}
	if (strcmp(what, "join") == 0 && g->wait_obj) {
		const struct gp_green *t = g->wait_obj;
		snprintf(buf, len, "the end of thread %llu \"%s\"", (unsigned long long)t->id,
			 t->name);
		return;
	}
	if (g->wait_obj)
		snprintf(buf, len, "%s %p", what, g->wait_obj);
	else
		snprintf(buf, len, "%s", what);
}

/*
 * Read-write locks for green threads. The lock stays glibc's: a green thread takes it
 * with the real tryrdlock/trywrlock and parks on its address while it is held; an
 * unlock through our hook unparks the waiters, which try again. glibc knows the writer
 * by the thread id in its descriptor, which green threads share when they share TLS,
 * so the green writer is recorded as well, in padding glibc does not use, for EDEADLK.
 * Process-shared rwlocks are glibc's throughout.
 *
 * A writer parked here is unknown to glibc's lock word, so for the one kind that keeps
 * readers out while a writer waits (PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) the
 * green writers waiting are counted, in another padding field, and a green reader's
 * attempt fails while there are any, as glibc's does.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "hook.h"
#include "sync.h"

static bool rw_is_green(const pthread_rwlock_t *rw)
{
	return gp_on_green() && !rw->__data.__shared;
}

/*
 * The green writer is kept in __pad3 and __pad4, two unsigned ints glibc never uses,
 * side by side in both its x86_64 and its generic (aarch64) layouts.
 */
_Static_assert(sizeof(((pthread_rwlock_t *)0)->__data.__pad3) +
	       sizeof(((pthread_rwlock_t *)0)->__data.__pad4) >= sizeof(void *),
	       "room for a pointer");

static void set_writer(pthread_rwlock_t *rw, struct gp_green *g)
{
	memcpy(&rw->__data.__pad3, &g, sizeof(g));
}

static struct gp_green *writer(const pthread_rwlock_t *rw)
{
	struct gp_green *g;
	memcpy(&g, &rw->__data.__pad3, sizeof(g));
	return rw->__data.__cur_writer ? g : NULL;
}

static bool prefers_writer(const pthread_rwlock_t *rw)
{
	return rw->__data.__flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

/* Green writers parked on rw, in __pad2, which glibc never uses either. */
static bool writers_wait(const pthread_rwlock_t *rw)
{
	return __atomic_load_n(&rw->__data.__pad2, __ATOMIC_ACQUIRE) != 0;
}

/* One attempt: 0, EBUSY, EDEADLK (we hold it for writing), or another error. */
static int try_lock(pthread_rwlock_t *rw, bool write)
{
	if (writer(rw) == gp_self())
		return EDEADLK;
	if (!write && prefers_writer(rw) && writers_wait(rw))
		return EBUSY;
	int rc = write ? GP_REAL(pthread_rwlock_trywrlock)(rw)
		       : GP_REAL(pthread_rwlock_tryrdlock)(rw);
	if (rc == 0 && write)
		set_writer(rw, gp_self());
	return rc;
}

static int park_until_locked(pthread_rwlock_t *rw, bool write, clockid_t clock,
			     const struct timespec *abstime, bool *counted)
{
	for (;;) {
		int rc = try_lock(rw, write);
		if (rc != EBUSY)
			return rc;
		double left = -1;
		if (abstime) {
			if ((left = gp_until(clock, abstime)) <= 0)
				return ETIMEDOUT;
		}
		if (write && prefers_writer(rw) && !*counted) {
			__atomic_fetch_add(&rw->__data.__pad2, 1, __ATOMIC_ACQ_REL);
			*counted = true;
		}
		gp_enter();
		gp_park_on(rw, left, write ? "rwlock (write)" : "rwlock (read)");
		gp_leave();
	}
}

static int green_lock(pthread_rwlock_t *rw, bool write, clockid_t clock,
		      const struct timespec *abstime)
{
	bool counted = false;
	int rc = park_until_locked(rw, write, clock, abstime, &counted);
	/* The last writer to stop waiting without the lock lets the readers try again. */
	if (counted && __atomic_sub_fetch(&rw->__data.__pad2, 1, __ATOMIC_ACQ_REL) == 0 &&
	    rc != 0)
		gp_wake(rw, (size_t)-1);
	return rc;
}

/*
 * A process-shared lock stays glibc's: on a green thread, one taken is waited for in
 * glibc on the thread's own kernel thread while the carrier goes on (gp__block_begin).
 */
static int try_shared(pthread_rwlock_t *rw, bool write)
{
	return write ? GP_REAL(pthread_rwlock_trywrlock)(rw) : GP_REAL(pthread_rwlock_tryrdlock)(rw);
}

/* glibc refuses a deadline with bad nanoseconds before it looks at the lock. */
#define RW_HOOK(name, write, timed, clock_expr, abstime, ...)                  \
	if ((timed) && !gp_ts_valid(abstime))                                  \
		return EINVAL;                                                 \
	if (gp_in_program() && rw->__data.__shared) {                          \
		int rc_ = try_shared(rw, write);                               \
		return rc_ == EBUSY ? GP_BLOCKING(GP_REAL(name)(__VA_ARGS__)) : rc_; \
	}                                                                      \
	if (!rw_is_green(rw))                                                  \
		return GP_REAL(name)(__VA_ARGS__);                             \
	return green_lock(rw, write, clock_expr, abstime)

int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	RW_HOOK(pthread_rwlock_rdlock, false, false, CLOCK_REALTIME, NULL, rw);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	RW_HOOK(pthread_rwlock_wrlock, true, false, CLOCK_REALTIME, NULL, rw);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	RW_HOOK(pthread_rwlock_timedrdlock, false, true, CLOCK_REALTIME, abstime, rw, abstime);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	RW_HOOK(pthread_rwlock_timedwrlock, true, true, CLOCK_REALTIME, abstime, rw, abstime);
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clock,
			       const struct timespec *abstime)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	RW_HOOK(pthread_rwlock_clockrdlock, false, true, clock, abstime, rw, clock, abstime);
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clock,
			       const struct timespec *abstime)
{
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	RW_HOOK(pthread_rwlock_clockwrlock, true, true, clock, abstime, rw, clock, abstime);
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	if (!rw_is_green(rw))
		return GP_REAL(pthread_rwlock_tryrdlock)(rw);
	int rc = try_lock(rw, false);
	return rc == EDEADLK ? EBUSY : rc;
}

int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	if (!rw_is_green(rw))
		return GP_REAL(pthread_rwlock_trywrlock)(rw);
	int rc = try_lock(rw, true);
	return rc == EDEADLK ? EBUSY : rc;
}

int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	if (!rw_is_green(rw)) {
		int rc = GP_REAL(pthread_rwlock_unlock)(rw);
		if (rc == 0 && !rw->__data.__shared)
			gp_unpark_all_on_async(rw);
		return rc;
	}
	/* Forgotten first: once released, the record is the next writer's. (glibc's unlock
	 * answers 0 whoever calls it, so there is no failure to restore it for.) */
	if (writer(rw) == gp_self())
		set_writer(rw, NULL);
	int rc = GP_REAL(pthread_rwlock_unlock)(rw);
	if (rc != 0)
		return rc;
	/* Every waiter tries again: readers may all get in, writers race for it. */
	gp_wake(rw, (size_t)-1);
	return 0;
}

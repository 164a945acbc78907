/*
 * Unnamed process-private semaphores. The count stays glibc's: a green thread takes
 * it with the real sem_trywait and parks on the semaphore's address while it is zero;
 * sem_post through our hook unparks one. A post from a kernel thread, or from a signal
 * handler that interrupted the runtime, reaches the carrier through
 * gp_unpark_on_async. Process-shared and named semaphores stay glibc's, since other
 * processes wait on them and post them: a green thread takes one at once if it can, and
 * otherwise waits in glibc on its own kernel thread while the carrier goes on
 * (gp__block_begin), with glibc's EINTR and timeouts.
 *
 * glibc's sem_t on 64-bit: { uint64_t data (value | waiters << 32); int private; ... },
 * where private is glibc's futex flag: 0 for a process-private semaphore, 128
 * (FUTEX_PRIVATE_FLAG, glibc's LLL_SHARED) for a process-shared one.
 */
#include <errno.h>
#include <semaphore.h>
#include <time.h>

#include "hook.h"
#include "signals.h"
#include "sync.h"

struct glibc_sem {
	unsigned long data;
	int private;
};

_Static_assert(sizeof(struct glibc_sem) <= sizeof(sem_t), "glibc's semaphore layout");

static bool sem_is_shared(sem_t *s)
{
	return ((struct glibc_sem *)s)->private != 0;
}

static bool sem_is_green(sem_t *s)
{
	return gp_on_green() && !sem_is_shared(s);
}

/* Wait until the count can be taken; abstime (on clock) may be NULL: 0 or errno. */
static int green_sem_wait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	/* glibc checks the deadline before the count. */
	if (abstime && !gp_ts_valid(abstime))
		return EINVAL;
	int saved_errno = errno;
	for (;;) {
		if (sem_trywait(s) == 0) {
			errno = saved_errno;   /* the failed attempts' EAGAIN is not the caller's */
			return 0;
		}
		if (errno != EAGAIN)
			return errno;
		double left = -1;
		if (abstime && (left = gp_until(clock, abstime)) <= 0)
			return ETIMEDOUT;
		gp__cancel_point();
		gp_enter();
		int rc = gp_park_on(s, left, "semaphore");
		gp_leave();
		gp__cancel_point();
		/*
		 * As glibc's futex waits do: an untimed one goes on under SA_RESTART, as
		 * signal(7) says; a timed one ends with EINTR all the same, since the kernel
		 * restarts a futex wait with a deadline only when no handler ran.
		 */
		if (rc == -EINTR && (abstime || !gp__signal_restarts()))
			return EINTR;
	}
}

/* A process-shared semaphore that cannot be taken at once. */
static bool shared_and_taken_later(sem_t *s)
{
	int saved_errno = errno;
	bool taken = sem_trywait(s) == 0;
	errno = saved_errno;
	return !taken;
}

static int as_errno_result(int err)
{
	if (!err)
		return 0;
	errno = err;
	return -1;
}

/* A shared semaphore taken by the try, or by glibc's wait with the carrier handed off. */
#define SHARED_SEM_WAIT(call, abstime, timed)                                  \
	do {                                                                   \
		if (gp_in_program() && sem_is_shared(s) &&                     \
		    (!(timed) || gp_ts_valid(abstime)))                        \
			return shared_and_taken_later(s) ? GP_BLOCKING(call) : 0; \
	} while (0)

int sem_wait(sem_t *s)
{
	SHARED_SEM_WAIT(GP_REAL(sem_wait)(s), NULL, false);
	if (!sem_is_green(s))
		return GP_REAL(sem_wait)(s);
	return as_errno_result(green_sem_wait(s, CLOCK_REALTIME, NULL));
}

int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	SHARED_SEM_WAIT(GP_REAL(sem_timedwait)(s, abstime), abstime, true);
	if (!sem_is_green(s))
		return GP_REAL(sem_timedwait)(s, abstime);
	return as_errno_result(green_sem_wait(s, CLOCK_REALTIME, abstime));
}

int sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	if (clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC)
		SHARED_SEM_WAIT(GP_REAL(sem_clockwait)(s, clock, abstime), abstime, true);
	if (!sem_is_green(s) || (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC))
		return GP_REAL(sem_clockwait)(s, clock, abstime);
	return as_errno_result(green_sem_wait(s, clock, abstime));
}

int sem_post(sem_t *s)
{
	int rc = GP_REAL(sem_post)(s);
	if (rc != 0 || sem_is_shared(s))
		return rc;
	if (gp_on_green())
		gp_wake(s, 1);
	else
		gp_unpark_on_async(s);
	return 0;
}

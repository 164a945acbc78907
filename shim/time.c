/*
 * Sleeps park the green thread on a timer of the loop. Arguments are checked as the
 * kernel checks them (EINVAL for a bad tv_nsec or a negative time, EFAULT for a NULL
 * request) before anything parks. Clocks other than the wall and monotonic ones (CPU
 * time clocks) pass through.
 */
/* GREENPATCH_UNPATCH=time leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_TIME

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "signals.h"
#include "util.h"

static bool clock_is_timer(clockid_t clock)
{
	return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME || clock == CLOCK_BOOTTIME ||
	       clock == CLOCK_TAI;
}

/*
 * Park for seconds: 0, or -EINTR when a signal sent to this thread interrupted it
 * (sleeps are never restarted, whatever SA_RESTART says), with *left the time that
 * was not slept.
 */
static int green_sleep(double seconds, double *left)
{
	double deadline = gp_mono_now() + seconds;
	gp__cancel_point();
	gp_enter();
	int rc = gp_sleep(seconds);
	gp_leave();
	gp__cancel_point();
	/* The clock read once: read again, it could be past the deadline it was not at the
	 * first reading, and a negative time left is EINVAL to the nanosleep that goes on
	 * with it. */
	double now = gp_mono_now();
	if (left)
		*left = rc == -EINTR && deadline > now ? deadline - now : 0;
	return rc;
}

static void seconds_to_ts(double s, struct timespec *ts)
{
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)((s - (double)ts->tv_sec) * 1e9);
	if (ts->tv_nsec >= 1000000000L)
		ts->tv_nsec = 999999999L;
}

/* The request, read without faulting: false when it cannot be, the kernel's EFAULT. */
static bool request(const struct timespec *req, struct timespec *out)
{
	int saved_errno = errno;   /* clock_nanosleep leaves errno alone, whatever it says */
	bool ok = req && gp_peek(req, out, sizeof(*out));
	errno = saved_errno;
	return ok;
}

int nanosleep(const struct timespec *user_req, struct timespec *rem)
{
	struct timespec copy, *req = &copy;
	if (!gp_cooperative() || !request(user_req, &copy))
		return GP_REAL(nanosleep)(user_req, rem);
	if (!gp_ts_valid(req) || req->tv_sec < 0) {
		errno = EINVAL;
		return -1;
	}
	double left;
	int rc = green_sleep(gp_ts_seconds(req), &left);
	if (rc == -EINTR && rem)
		seconds_to_ts(left, rem);
	return (int)gp_ret(rc);
}

/* A negative time is EINVAL, absolute or not. */
int clock_nanosleep(clockid_t clock, int flags, const struct timespec *user_req,
		    struct timespec *rem)
{
	struct timespec copy, *req = &copy;
	if (!gp_cooperative() || !clock_is_timer(clock) || !request(user_req, &copy))
		return GP_REAL(clock_nanosleep)(clock, flags, user_req, rem);
	if (!gp_ts_valid(req) || req->tv_sec < 0)
		return EINVAL;
	double left, seconds = flags & TIMER_ABSTIME ? gp_until(clock, req) : gp_ts_seconds(req);
	int rc = seconds > 0 ? green_sleep(seconds, &left) : 0;
	if (rc == -EINTR && rem && !(flags & TIMER_ABSTIME))
		seconds_to_ts(left, rem);
	return -rc;
}

unsigned int sleep(unsigned int seconds)
{
	if (!gp_cooperative())
		return GP_REAL(sleep)(seconds);
	double left;
	/* Interrupted, sleep sets EINTR and returns the whole seconds left, as glibc's
	 * (which returns nanosleep's remaining tv_sec). */
	if (green_sleep((double)seconds, &left) == -EINTR) {
		errno = EINTR;
		return (unsigned int)left;
	}
	return 0;
}

int usleep(useconds_t usec)
{
	if (!gp_cooperative())
		return GP_REAL(usleep)(usec);
	return (int)gp_ret(green_sleep((double)usec * 1e-6, NULL));
}

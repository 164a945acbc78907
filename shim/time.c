/*
 * Sleeps park the green thread on a timer of the loop. Arguments are checked as the
 * kernel checks them (EINVAL for a bad tv_nsec or a negative time, EFAULT for a NULL
 * request) before anything parks. Clocks other than the wall and monotonic ones (CPU
 * time clocks) pass through.
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

static bool clock_is_timer(clockid_t clock)
{
	return clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME || clock == CLOCK_BOOTTIME ||
	       clock == CLOCK_TAI;
}

/* Park for seconds; on -EINTR fill rem (if given) with what is left: 0 or -errno. */
static int green_sleep(double seconds)
{
	gp_enter();
	int rc = gp_sleep(seconds);
	gp_leave();
	return rc;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!gp_cooperative() || !req)
		return GP_REAL(nanosleep)(req, rem);
	if (!gp_ts_valid(req) || req->tv_sec < 0) {
		errno = EINVAL;
		return -1;
	}
	return (int)gp_ret(green_sleep(gp_ts_seconds(req)));
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	if (!gp_cooperative() || !req || !clock_is_timer(clock))
		return GP_REAL(clock_nanosleep)(clock, flags, req, rem);
	if (!gp_ts_valid(req) || (!(flags & TIMER_ABSTIME) && req->tv_sec < 0))
		return EINVAL;
	double seconds = flags & TIMER_ABSTIME ? gp_until(clock, req) : gp_ts_seconds(req);
	int rc = seconds > 0 ? green_sleep(seconds) : 0;
	return -rc;
}

unsigned int sleep(unsigned int seconds)
{
	if (!gp_cooperative())
		return GP_REAL(sleep)(seconds);
	green_sleep((double)seconds);
	return 0;
}

int usleep(useconds_t usec)
{
	if (!gp_cooperative())
		return GP_REAL(usleep)(usec);
	return (int)gp_ret(green_sleep((double)usec * 1e-6));
}

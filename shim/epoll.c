/*
 * epoll_wait and its variants. An epoll descriptor is itself pollable (readable when
 * an event is pending), so a green thread parks on it like on any descriptor, and
 * programs that run their own event loop on several threads keep working.
 *
 * With a signal mask, epoll_pwait and epoll_pwait2 give it to the green thread while it
 * waits (ready.h).
 */
/* GREENPATCH_UNPATCH=poll leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_POLL

#include <errno.h>
#include <sys/epoll.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"
#include "ready.h"

struct epollset {
	int epfd;
	struct epoll_event *events;
	int max;
};

static int epoll_probe(struct gp_ready *r)
{
	struct epollset *e = r->arg;
	return GP_REAL(epoll_wait)(e->epfd, e->events, e->max, 0);
}

static int epoll_park(struct gp_ready *r, double left)
{
	struct epollset *e = r->arg;
	return gp__wait_fd(e->epfd, EV_READ, left);
}

static int green_epoll_wait(int epfd, struct epoll_event *events, int max, double timeout,
			    const sigset_t *mask)
{
	struct epollset e = { epfd, events, max };
	struct gp_ready r = { .probe = epoll_probe, .park = epoll_park, .arg = &e };
	return gp__ready_wait_masked(&r, timeout, NULL, mask);
}

int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout)
{
	if (!gp_cooperative() || timeout == 0)
		return GP_REAL(epoll_wait)(epfd, events, max, timeout);
	return green_epoll_wait(epfd, events, max, timeout < 0 ? -1 : timeout / 1000.0, NULL);
}

int epoll_pwait(int epfd, struct epoll_event *events, int max, int timeout, const sigset_t *mask)
{
	if (!gp_cooperative() || timeout == 0)
		return GP_REAL(epoll_pwait)(epfd, events, max, timeout, mask);
	return green_epoll_wait(epfd, events, max, timeout < 0 ? -1 : timeout / 1000.0, mask);
}

int epoll_pwait2(int epfd, struct epoll_event *events, int max, const struct timespec *ts,
		 const sigset_t *mask)
{
	if (!gp_cooperative() || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return GP_REAL(epoll_pwait2)(epfd, events, max, ts, mask);
	if (ts && (!gp_ts_valid(ts) || ts->tv_sec < 0)) {
		errno = EINVAL;
		return -1;
	}
	return green_epoll_wait(epfd, events, max, ts ? gp_ts_seconds(ts) : -1, mask);
}

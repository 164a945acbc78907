/*
 * poll: ask the kernel without waiting; if nothing is ready, park on every descriptor
 * at once until one is ready or the timeout passes, then ask the kernel again for the
 * exact revents. Libev knows only readable and writable: POLLPRI waits as readable,
 * and a descriptor asked for no event at all waits only through the kernel's answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include "hook.h"
#include "loop.h"

#define WAITERS_ON_STACK 16

static int ev_events(short events)
{
	int ev = 0;
	if (events & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP))
		ev |= EV_READ;
	if (events & (POLLOUT | POLLWRNORM | POLLWRBAND))
		ev |= EV_WRITE;
	return ev;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return gp_ts_seconds(&ts);
}

/* Park until one of fds may be ready or timeout (s, < 0 none) passes: 0 or -errno. */
static int park_on_fds(struct pollfd *fds, nfds_t n, double timeout)
{
	struct gp_fdwaiter small[WAITERS_ON_STACK];
	struct gp_fdwaiter *w = n <= WAITERS_ON_STACK ? small : calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int k = 0;
	for (nfds_t i = 0; i < n; i++) {
		int ev = ev_events(fds[i].events);
		if (fds[i].fd >= 0 && ev)
			w[k++] = (struct gp_fdwaiter){ .fd = fds[i].fd, .events = ev };
	}
	gp_enter();
	int rc = k ? gp_wait_fds(w, k, timeout) : gp_park(timeout, "poll");
	gp_leave();
	if (w != small)
		free(w);
	return rc;
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!gp_cooperative() || timeout == 0)
		return GP_REAL(poll)(fds, n, timeout);
	int r = GP_REAL(poll)(fds, n, 0);
	if (r != 0)
		return r;
	double deadline = timeout > 0 ? now_mono() + timeout / 1000.0 : 0;
	for (;;) {
		double left = -1;
		if (timeout > 0 && (left = deadline - now_mono()) <= 0)
			return 0;
		int rc = park_on_fds(fds, n, left);
		if (rc == -EINTR)
			return (int)gp_ret(rc);
		/* A descriptor beyond what the table can watch: block as the program asked. */
		if (rc == -ENOMEM)
			return GP_REAL(poll)(fds, n, left < 0 ? -1 : (int)(left * 1000) + 1);
		/* Ready, closed (the kernel says POLLNVAL), timed out: the kernel has the answer. */
		r = GP_REAL(poll)(fds, n, 0);
		if (r != 0 || rc == -ETIMEDOUT)
			return r;
	}
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

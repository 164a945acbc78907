#include "ready.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "hook.h"
#include "loop.h"
#include "signals.h"

#define WAITERS_ON_STACK 16

/* Libev knows only readable and writable: POLLPRI waits as readable. */
static int ev_events(short events)
{
	int ev = 0;
	if (events & (POLLIN | POLLPRI | POLLRDNORM | POLLRDBAND | POLLRDHUP))
		ev |= EV_READ;
	if (events & (POLLOUT | POLLWRNORM | POLLWRBAND))
		ev |= EV_WRITE;
	return ev;
}

int gp__park_on_pollfds(struct pollfd *fds, nfds_t n, double left)
{
	struct gp_fdwaiter small[WAITERS_ON_STACK];
	struct gp_fdwaiter *w = n <= WAITERS_ON_STACK ? small : calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int k = 0;
	for (nfds_t i = 0; i < n; i++) {
		int ev = ev_events(fds[i].events);
		/* A descriptor asked for no event only reports errors: the kernel tells. */
		if (fds[i].fd >= 0 && ev)
			w[k++] = (struct gp_fdwaiter){ .fd = fds[i].fd, .events = ev };
	}
	gp__cancel_point();
	gp_enter();
	int rc = k ? gp_wait_fds(w, k, left) : gp_park(left, "poll");
	gp_leave();
	if (w != small)
		free(w);
	gp__cancel_point();
	return rc;
}

int gp__ready_wait(struct gp_ready *r, double timeout, double *left_out)
{
	int saved_errno = errno;
	double deadline = timeout >= 0 ? gp_mono_now() + timeout : 0;
	double left = timeout;
	int n;
	while ((n = r->probe(r)) == 0) {
		if (timeout >= 0 && (left = deadline - gp_mono_now()) <= 0)
			break;
		int rc = r->park(r, left);
		/* Ready, timed out, or closed while waiting: the next probe tells (POLLNVAL,
		 * EBADF) as the kernel would. Anything else ends the call. */
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EBADF) {
			errno = -rc;
			return -1;
		}
	}
	if (left_out)
		*left_out = n == 0 || left < 0 ? 0 : left;
	if (n >= 0)
		errno = saved_errno;
	return n;
}

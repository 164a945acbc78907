#include "ready.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "hook.h"
#include "loop.h"
#include "signals.h"

#define WAITERS_ON_STACK 16

/*
 * Libev knows only readable and writable. A descriptor polled for urgent data or a
 * peer's half-close alone (POLLPRI, POLLRDBAND, POLLRDHUP without POLLIN) cannot wait as
 * "readable": it may be readable the whole time without the event asked for, and the
 * thread would spin. Such a descriptor is looked at again every URGENT_RECHECK_S.
 */
#define URGENT_RECHECK_S 0.01

static bool read_side_inexact(short events)
{
	return (events & (POLLPRI | POLLRDBAND | POLLRDHUP)) && !(events & (POLLIN | POLLRDNORM));
}

static int ev_events(short events)
{
	int ev = 0;
	if (events & (POLLIN | POLLRDNORM))
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
		if (fds[i].fd < 0)
			continue;
		if (read_side_inexact(fds[i].events) && (left < 0 || left > URGENT_RECHECK_S))
			left = URGENT_RECHECK_S;
		int ev = ev_events(fds[i].events);
		/* A descriptor asked for no event only reports errors: the kernel tells. */
		if (ev)
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

/*
 * An event loop whose descriptors are always ready (a socket waited on for writing while
 * it has room) gets an answer at once from every wait and never parks: natively its
 * kernel thread is preempted, here the other green threads would never run. So a
 * readiness call that answered at once HOT_ANSWERS times in a row lets the others run
 * first, once; the kernel's answer is then asked again.
 */
#define HOT_ANSWERS 64

static unsigned answered_at_once;

static void yield_if_hot(struct gp_ready *r, int *n)
{
	if (++answered_at_once < HOT_ANSWERS)
		return;
	answered_at_once = 0;
	gp_enter();
	gp_yield();
	gp_leave();
	*n = r->probe(r);
}

int gp__ready_wait(struct gp_ready *r, double timeout, double *left_out)
{
	int saved_errno = errno;
	double deadline = timeout >= 0 ? gp_mono_now() + timeout : 0;
	double left = timeout;
	int n = r->probe(r);
	if (n > 0)
		yield_if_hot(r, &n);
	else
		answered_at_once = 0;
	for (; n == 0; n = r->probe(r)) {
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

int gp__ready_wait_masked(struct gp_ready *r, double timeout, double *left_out,
			  const sigset_t *mask)
{
	if (!mask)
		return gp__ready_wait(r, timeout, left_out);
	sigset_t old;
	unsigned long ran = atomic_load(&gp__handlers_ran);
	pthread_sigmask(SIG_SETMASK, mask, &old);
	int n;
	if (atomic_load(&gp__handlers_ran) != ran) {
		/* A pending signal the mask lets in was handled as the mask went in. */
		errno = EINTR;
		n = -1;
	} else {
		n = gp__ready_wait(r, timeout, left_out);
	}
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}

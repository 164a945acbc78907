#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sched.h"
#include "util.h"

/* What the linked waiters want, those already woken included: they run soon. */
static int wanted_events(const struct gp_fd *e)
{
	int want = 0;
	for (const struct gp_fdwaiter *w = e->waiters; w; w = w->next)
		want |= w->events;
	return want;
}

/*
 * Arm the watcher for events (0 disarms). libev compares what a descriptor is armed
 * for before and after each batch of changes and calls epoll_ctl only when that
 * differs, so a watcher disarmed when its waiter woke and armed again when the thread
 * waits again costs no system call. Only a watcher marked fresh (its number may name
 * another file than libev registered) is set with ev_io_set, which forces libev to
 * register it anew.
 */
static void arm(struct ev_loop *loop, struct gp_fd *e, int fd, int events)
{
	if (ev_is_active(&e->io)) {
		if ((e->io.events & (EV_READ | EV_WRITE)) == events && !e->fresh)
			return;
		ev_io_stop(loop, &e->io);
	}
	if (!events)
		return;
	if (e->fresh) {
		ev_io_set(&e->io, fd, events);
		e->fresh = 0;
	} else {
		ev_io_modify(&e->io, events);
	}
	ev_io_start(loop, &e->io);
	gp_loop_changed();
}

static void io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct gp_fd *e = gp_container_of(io, struct gp_fd, io);
	for (struct gp_fdwaiter *w = e->waiters; w; w = w->next) {
		int got = revents & w->events;
		if (got && !w->revents) {
			w->revents = got;
			gp_unpark(w->g);
		}
	}
	/*
	 * A woken waiter stays linked until its thread runs, and keeps the watcher armed
	 * meanwhile: a poll before then sees the descriptor still ready and calls this
	 * again, which costs nothing, where disarming would make libev drop the kernel's
	 * registration and the next wait add it back, two epoll_ctl per wake-up. Events
	 * no linked waiter wants are disarmed, or libev reports them again and again.
	 */
	int want = wanted_events(e);
	if (revents & ~want & (EV_READ | EV_WRITE))
		arm(loop, e, io->fd, want);
}

void gp__fd_init_watcher(struct gp_fd *e, int fd)
{
	ev_io_init(&e->io, io_cb, fd, 0);
	e->fresh = 1;
}

static void link_waiter(struct gp_fd *e, struct gp_fdwaiter *w)
{
	w->prev = NULL;
	w->next = e->waiters;
	if (e->waiters)
		e->waiters->prev = w;
	e->waiters = w;
	w->linked = 1;
}

/*
 * Watchers whose last waiter left by readiness, to be stopped before the next poll
 * unless a thread waits on them again first, as an echo server's does a few
 * microseconds later: a stop then a start before the poll left libev's registration as
 * it was, at the cost of both calls into libev and a change for the poll to look at,
 * more than the rest of the wait. A poll finds every watcher as the stop at the leave
 * would have left it. Bounded: past it, the watcher is stopped at once. No allocation:
 * this runs under the runtime's lock, where the program's malloc must not be called.
 */
#define IDLE_MAX 4096
static int idle_fds[IDLE_MAX];
static unsigned idle_n;

static void stop_before_poll(struct ev_loop *loop, struct gp_fd *e, int fd)
{
	if (idle_n == IDLE_MAX) {
		ev_io_stop(loop, &e->io);
		return;
	}
	e->idle = 1;
	idle_fds[idle_n++] = fd;
}

void gp_loop_before_poll(struct ev_loop *loop)
{
	/* A number may be listed twice (waited on again, then left again): its second
	 * entry finds it stopped. */
	for (unsigned i = 0; i < idle_n; i++) {
		struct gp_fd *e = gp_fd_peek(idle_fds[i]);
		if (!e || !e->idle)
			continue;
		e->idle = 0;
		if (!e->waiters && ev_is_active(&e->io))
			ev_io_stop(loop, &e->io);
	}
	idle_n = 0;
}

/*
 * The last waiter to leave stops the watcher: no system call if the next wait comes
 * before the next poll (see arm), and libev then trusts the kernel's registration as it
 * is. That is right when the wait ended by readiness, which the registration itself
 * reported; the stop is then put off until the poll (stop_before_poll). A wait that
 * ended otherwise (timeout, interrupt) proved nothing: the file may have been closed
 * and its number reused where no hook saw it, and the kernel then dropped the
 * registration. Mark the watcher fresh so the next wait registers anew.
 */
static void unlink_waiter(struct ev_loop *loop, struct gp_fdwaiter *w)
{
	if (!w->linked)
		return;
	struct gp_fd *e = gp_fd_peek(w->fd);
	if (w->prev)
		w->prev->next = w->next;
	else
		e->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->linked = 0;
	if (!e->waiters && ev_is_active(&e->io)) {
		if (w->revents & (EV_READ | EV_WRITE)) {
			stop_before_poll(loop, e, w->fd);
		} else {
			ev_io_stop(loop, &e->io);
			e->fresh = 1;
		}
	}
}

static int add_waiter(struct ev_loop *loop, struct gp_fdwaiter *w)
{
	struct gp_fd *e = gp_fd_get(w->fd);
	if (!e)
		return -ENOMEM;
	w->g = gp_self();
	w->revents = 0;
	int armed = ev_is_active(&e->io) ? e->io.events & (EV_READ | EV_WRITE) : 0;
	/*
	 * A watcher left armed with nobody waiting may describe a file that has since been
	 * closed where no hook saw it (the kernel then dropped the registration): set it
	 * again, which makes libev re-register it, at the cost of one epoll_ctl. Unless
	 * its stop was only put off, and no poll has come since: as a stop and a start
	 * before the poll would (see unlink_waiter).
	 */
	if (e->idle) {
		e->idle = 0;
	} else if (armed && !e->waiters) {
		e->fresh = 1;
		armed = 0;
	}
	/* libev aborts the process on a number that names nothing: ask the kernel first,
	 * once per registration (a raw call: this is no hook of the program's). */
	if (e->fresh && syscall(SYS_fcntl, w->fd, F_GETFD) < 0)
		return -EBADF;
	link_waiter(e, w);
	if ((armed & w->events) != w->events)
		arm(loop, e, w->fd, armed | w->events);
	return 0;
}

/*
 * With several carriers, another one may have closed a number between this thread's
 * last look at it (its attempt, in program code) and this wait, and the number may name
 * another file now: the wait ends as if the close had come during it. The thread's
 * attempt came after its last leave from the runtime (left_at), so a close stamped since
 * may have come after it; one that came before the attempt is answered EBADF too, which
 * is what a call made after the close gets.
 */
static bool closed_since_look(const struct gp_fdwaiter *w, int n)
{
	if (!gp_rt->multi)
		return false;
	uint64_t left_at = gp_self()->left_at;
	for (int i = 0; i < n; i++) {
		const struct gp_fd *e = gp_fd_peek(w[i].fd);
		if (e && e->closed_at > left_at)
			return true;
	}
	return false;
}

int gp_wait_fds(struct gp_fdwaiter *w, int n, double timeout)
{
	struct ev_loop *loop = gp_rt->loop;
	int i, rc = 0;
	if (closed_since_look(w, n))
		return -EBADF;
	for (i = 0; i < n; i++) {
		w[i].linked = 0;
		if ((rc = add_waiter(loop, &w[i])) < 0)
			break;
	}
	if (rc == 0) {
		gp_self()->wait_io = true;
		rc = gp_park(timeout, "fd");
	}
	int ready = 0, closed = 0;
	for (int j = 0; j < i; j++) {
		unlink_waiter(loop, &w[j]);
		ready |= w[j].revents & (EV_READ | EV_WRITE);
		closed |= w[j].revents & GP_EV_CLOSED;
	}
	gp_self()->left_at = gp_rt->wake_seq;   /* the caller looks again from here */
	if (closed)
		return -EBADF;
	if (ready)
		return 0;
	return rc;
}

int gp_wait_fd(int fd, int events, double timeout)
{
	struct gp_fdwaiter w = { .fd = fd, .events = events };
	return gp_wait_fds(&w, 1, timeout);
}

void gp_fd_closed(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (!e)
		return;
	for (struct gp_fdwaiter *w = e->waiters; w; w = w->next) {
		w->revents |= GP_EV_CLOSED;
		w->linked = 0;
		gp_unpark(w->g);
	}
	e->waiters = NULL;
	/* With several carriers, an attempt of a call that began before the close may be
	 * under way on another one: the number is not given back before it ends (and the
	 * next attempt sees the close). Natively the call holds the file until it returns.
	 * Bounded: an attempt interrupted by a signal whose handler enters the runtime
	 * would wait for this carrier's lock, and this carrier for it. */
	__atomic_store_n(&e->closed_at, gp_wake_stamp(), __ATOMIC_SEQ_CST);
	for (unsigned spins = 0; __atomic_load_n(&e->inflight, __ATOMIC_SEQ_CST) && spins < 20000;
	     spins++)
		gp_spin_step(spins, 1000);
	if (ev_is_active(&e->io))
		ev_io_stop(gp_rt->loop, &e->io);
	e->idle = 0;
	e->fresh = 1;
	e->timeo_known = 0;
	e->kind = GP_FD_UNKNOWN;
	e->nonblock = GP_NB_UNKNOWN;
	e->file = 0;
	e->mount = GP_MOUNT_UNKNOWN;
	e->shared = 0;
	/* A new file under the number is not the emptied socket: a read of it is tried. */
	e->drained_at = 0;
}

void gp_fd_closed_range(unsigned first, unsigned last)
{
	unsigned end = gp_fd_table_size();
	if (last >= end)
		last = end - 1;
	for (unsigned fd = first; fd <= last && end; fd++)
		if (gp_fd_peek((int)fd))
			gp_fd_closed((int)fd);
}

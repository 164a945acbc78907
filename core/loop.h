/*
 * libev glue: wait until descriptors are ready, with an optional timeout.
 *
 * Each descriptor has one ev_io watcher (in its gp_fd) and a list of waiters; a waiter
 * is a small record on the waiting thread's stack, so a poll() over many descriptors
 * costs no allocation. When the watcher fires, every waiter that wants what fired is
 * made runnable; the thread then retries its call, which tells it the truth.
 *
 * A descriptor waited on again and again (a connection's read loop) is registered
 * with the kernel once, not once per wait: the watcher stays armed from the wake-up
 * until the woken thread runs again (the loop may be polled in between, and must not
 * see it disarmed), and is stopped when its last waiter leaves. libev compares what a
 * descriptor is armed for at each poll with what it was at the last one, so the stop
 * and the start of the thread's next wait, both between two polls, make no system
 * call. A watcher that fires for events no linked waiter wants is narrowed.
 */
#ifndef GP_LOOP_H
#define GP_LOOP_H

#include <ev.h>

#include "fdstate.h"
#include "green.h"
#include "sched.h"

/* Returned in revents when the descriptor was closed while waiting. */
#define GP_EV_CLOSED 0x1000

struct gp_fdwaiter {
	struct gp_fdwaiter *prev, *next;
	struct gp_green *g;
	int fd;
	int events;      /* EV_READ | EV_WRITE */
	int revents;     /* what happened: EV_READ, EV_WRITE, GP_EV_CLOSED */
	int linked;
};

/*
 * Wait until one of the n descriptors is ready for what its waiter wants (0), the
 * timeout (seconds, < 0 for none) passes (-ETIMEDOUT), one of them is closed through
 * gp_fd_closed (-EBADF), the thread is interrupted (-EINTR), or a descriptor cannot be
 * watched (-ENOMEM). Each waiter's revents tells what happened to it.
 */
int gp_wait_fds(struct gp_fdwaiter *w, int n, double timeout);

/* Before each poll of the loop, under the runtime's lock: stop the watchers whose
 * stop was put off (loop.c). */
void gp_loop_before_poll(struct ev_loop *loop);

/* One descriptor: events is EV_READ or EV_WRITE. */
int gp_wait_fd(int fd, int events, double timeout);

/*
 * The number fd is about to stop naming the file it named (close, dup2 over it): wake
 * its waiters with GP_EV_CLOSED, disarm its watcher and forget what was learnt of it.
 * Must be called before the number can be reused.
 */
void gp_fd_closed(int fd);

/* gp_fd_closed for every number from first to last that has an entry. */
void gp_fd_closed_range(unsigned first, unsigned last);

/*
 * A read of a stream socket that returned less than it asked for has emptied the
 * socket's receive queue. Until the running thread switches, data seldom arrives (a
 * peer answers a message the thread has at most just sent): another read would only
 * say EAGAIN, a system call for nothing, and the caller may wait for readiness at once.
 * The wait is level-triggered, so data that did arrive meanwhile costs a trip through
 * the loop, never a lost wake-up.
 */
static inline uint64_t gp__drain_mark(void)
{
	struct gp_carrier *c = gp_here();
	return (__atomic_load_n(&c->switches, __ATOMIC_RELAXED) + 1) << 10 | c->index;
}

static inline void gp_fd_note_drained(struct gp_fd *e)
{
	e->drained_at = gp__drain_mark();
}

static inline bool gp_fd_surely_drained(const struct gp_fd *e)
{
	return e->drained_at == gp__drain_mark();
}

/* For fdstate.c: set up the watcher of a new entry. */
void gp__fd_init_watcher(struct gp_fd *e, int fd);

#endif

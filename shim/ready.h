/*
 * The loop every readiness call shares (poll, ppoll, select, pselect, epoll_wait and
 * its variants): ask the kernel without waiting; while it answers "nothing", park on
 * the descriptors until one may be ready or the deadline passes, and ask again. The
 * kernel's answer is always the one returned, so revents, fd_sets and epoll events are
 * exactly what the program would have got.
 */
#ifndef GP_READY_H
#define GP_READY_H

#include <poll.h>
#include <signal.h>

struct gp_ready {
	/* Ask the kernel with a zero timeout: > 0 ready, 0 nothing, -1 and errno. */
	int (*probe)(struct gp_ready *r);
	/* Park until something may be ready or left seconds pass (< 0: no limit). */
	int (*park)(struct gp_ready *r, double left);
	void *arg;
};

/*
 * Run the loop with a timeout in seconds (< 0: none). Returns the probe's answer (0
 * when the timeout passed), or -1 with errno. *left_out, if given, receives the time
 * that was left (select updates its timeout with it).
 */
int gp__ready_wait(struct gp_ready *r, double timeout, double *left_out);

/*
 * The same with the green thread's signal mask replaced by mask (if not NULL) for the
 * call, as ppoll, pselect and epoll_pwait do: a signal the mask lets in ends the wait
 * with EINTR after its handler ran, and the mask the thread had is back on return.
 */
int gp__ready_wait_masked(struct gp_ready *r, double timeout, double *left_out,
			  const sigset_t *mask);

/* Park on the pollfd array as poll would wait on it: 0 or -errno. */
int gp__park_on_pollfds(struct pollfd *fds, nfds_t n, double left);

#endif

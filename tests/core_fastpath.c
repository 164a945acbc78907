/*
 * The fast paths the benchmarks rely on, as behaviour: the threads one poll of the loop
 * woke all run before the loop is polled again, and a descriptor waited on again and
 * again stays registered with libev between the waits.
 */
#include "unit.h"

#include "loop.h"
#include "sched.h"

enum { BATCH = 256 };

struct batch_waiter {
	int fd;
	int rc;
	uint64_t polls_woken;         /* the carrier's poll count when the wait returned */
};

enum { ROUNDS = 4, LOOKED_AT = 2 };
static int rounds_done[ROUNDS];

/*
 * In the first rounds libev's event array grows (it doubles when a poll fills it) to
 * hold the whole batch; the round LOOKED_AT is examined; the last lets it end in a
 * park, as a server's turn does.
 */
static void *batch_main(void *arg)
{
	struct batch_waiter *w = arg;
	for (int round = 0; round < ROUNDS; round++) {
		char c;
		w->rc = gp_wait_fd(w->fd, EV_READ, UNIT_TIMEOUT);
		if (w->rc < 0 || read(w->fd, &c, 1) != 1)
			return NULL;
		if (round == LOOKED_AT)
			w->polls_woken = gp_rt->stats.polls;
		/* A turn long enough that the whole batch spans several clock ticks. */
		double end = unit_now() + 50e-6;
		while (unit_now() < end)
			;
		rounds_done[round]++;
	}
	return NULL;
}

/*
 * A poll while woken threads wait for their turn finds their descriptors, not yet read,
 * ready again: with many connections that is most of the work (sched.h).
 */
Test(core_fastpath, woken_threads_run_before_the_next_poll, .timeout = UNIT_TIMEOUT)
{
	static int p[BATCH][2];
	static struct batch_waiter w[BATCH];
	static struct gp_green *g[BATCH];
	unit_start();
	for (int i = 0; i < BATCH; i++) {
		unit_pipe(p[i]);
		w[i].fd = p[i][0];
		g[i] = unit_spawn(batch_main, &w[i]);
	}
	unit_settle();
	unit_run_loop();
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < BATCH; i++)
			unit_write(p[i][1], "x", 1);
		while (round < ROUNDS - 1 && rounds_done[round] < BATCH)
			unit_run_loop();
	}
	for (int i = 0; i < BATCH; i++)
		unit_join(g[i]);
	/* One poll found every pipe of that round written and woke every thread; each
	 * then ran, ending its turn in a park, with no poll in between. */
	int later = 0;
	for (int i = 0; i < BATCH; i++) {
		cr_assert_eq(w[i].rc, 0, "waiter %d: gp_wait_fd = %d", i, w[i].rc);
		later += w[i].polls_woken != w[0].polls_woken;
	}
	cr_assert_eq(later, 0, "%d of %d threads woken by one poll ran after another poll: "
		     "the loop was polled while threads it had woken still waited for their "
		     "turn", later, BATCH);
	for (int i = 0; i < BATCH; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

struct repeat_reader {
	int fd, wfd;
	int rounds;
	int armed_between;   /* waits that found the watcher still armed from the last one */
	int rc;
};

static void *repeat_main(void *arg)
{
	struct repeat_reader *r = arg;
	char c;
	for (int i = 0; i < r->rounds; i++) {
		if ((r->rc = gp_wait_fd(r->fd, EV_READ, UNIT_TIMEOUT)) < 0)
			return NULL;
		if (read(r->fd, &c, 1) != 1) {
			r->rc = -EIO;
			return NULL;
		}
		/* Woken by readiness, the watcher is stopped but not yet reported to the
		 * kernel as such: libev compares at its next poll, and the next wait comes
		 * first. A fresh mark would force a new registration (an epoll_ctl). */
		struct gp_fd *e = gp_fd_peek(r->fd);
		r->armed_between += e && !e->fresh;
	}
	return NULL;
}

static void *repeat_writer(void *arg)
{
	struct repeat_reader *r = arg;
	for (int i = 0; i < r->rounds; i++) {
		unit_write(r->wfd, "y", 1);
		unit_run_loop();
	}
	return NULL;
}

Test(core_fastpath, repeated_waits_keep_the_registration, .timeout = UNIT_TIMEOUT)
{
	int p[2];
	unit_start();
	unit_pipe(p);
	struct repeat_reader r = { .fd = p[0], .wfd = p[1], .rounds = 50 };
	struct gp_green *reader = unit_spawn(repeat_main, &r);
	struct gp_green *writer = unit_spawn(repeat_writer, &r);
	unit_join(reader);
	unit_join(writer);
	cr_assert_eq(r.rc, 0, "the reader's wait or read failed: %d", r.rc);
	cr_assert_eq(r.armed_between, r.rounds,
		     "%d of %d waits ended by readiness marked the descriptor for a new "
		     "registration", r.rounds - r.armed_between, r.rounds);
	close(p[0]);
	close(p[1]);
}

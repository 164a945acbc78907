/*
 * core/loop and core/fdstate: green threads waiting for descriptors.
 *
 * The descriptors are plain pipes and socketpairs, read and written with plain libc
 * calls (there is no shim in the unit tests). A waiter only learns readiness; the data
 * it then reads tells whether it woke for the right file.
 */
#include "unit.h"

#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop.h"

/* What one waiting thread was asked to do and what it got. */
struct waiter {
	int fd;
	int events;
	double timeout;
	bool no_read;      /* only learn readiness: another thread may take the data */
	int rc;            /* gp_wait_fd's result; 1 until it returns */
	int revents;       /* from gp_wait_fds, when the test asks through it */
	char got[16];      /* what it read after waking, if it was readable */
	ssize_t nread;
	double elapsed;
};

static void waiter_init(struct waiter *w, int fd, int events, double timeout)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->events = events;
	w->timeout = timeout;
	w->rc = 1;
	w->nread = -2;
}

/* Wait through gp_wait_fds, to see revents; read once if woken readable. */
static void *wait_then_read(void *arg)
{
	struct waiter *w = arg;
	struct gp_fdwaiter fw = { .fd = w->fd, .events = w->events };
	double t0 = unit_now();
	w->rc = gp_wait_fds(&fw, 1, w->timeout);
	w->elapsed = unit_now() - t0;
	w->revents = fw.revents;
	if (w->rc == 0 && (fw.revents & EV_READ) && !w->no_read)
		w->nread = read(w->fd, w->got, sizeof(w->got) - 1);
	return NULL;
}

static struct gp_green *spawn_waiter(struct waiter *w)
{
	return unit_spawn(wait_then_read, w);
}

static void close_pair(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

/* ---- one waiter ---- */

Test(core_loop, wait_fd_parks_until_written, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	struct waiter w;
	waiter_init(&w, p[0], EV_READ, -1);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "waiting on an empty pipe");
	cr_assert_eq(w.rc, 1, "gp_wait_fd returned %d on an empty pipe", w.rc);
	unit_write(p[1], "hello", 5);
	unit_join(g);
	cr_assert_eq(w.rc, 0, "gp_wait_fd after a write returned %d", w.rc);
	cr_assert_eq(w.revents, EV_READ, "revents %#x, expected EV_READ", w.revents);
	cr_assert_eq(w.nread, 5, "read %zd bytes after waking", w.nread);
	cr_assert_str_eq(w.got, "hello", "read \"%s\"", w.got);
	close_pair(p);
}

/* Already readable: no wait for the loop to say so. */
Test(core_loop, wait_fd_on_ready_fd_returns, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	unit_write(p[1], "x", 1);
	int rc = gp_wait_fd(p[0], EV_READ, 2.0);
	cr_assert_eq(rc, 0, "gp_wait_fd on a readable pipe = %d", rc);
	rc = gp_wait_fd(p[1], EV_WRITE, 2.0);
	cr_assert_eq(rc, 0, "gp_wait_fd(EV_WRITE) on an empty pipe = %d", rc);
	close_pair(p);
}

Test(core_loop, wait_fd_timeout_is_etimedout, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	double t0 = unit_now();
	int rc = gp_wait_fd(p[0], EV_READ, 0.1);
	double el = unit_now() - t0;
	cr_assert_eq(rc, -ETIMEDOUT, "gp_wait_fd on an empty pipe with 0.1 s = %d", rc);
	cr_assert_geq(el, 0.1, "the wait ended after %.6f s, before its timeout", el);
	cr_assert_lt(el, 5.0, "the wait took %.3f s", el);
	/* The watcher left armed by the timed-out wait does not disturb the next one. */
	struct waiter w;
	waiter_init(&w, p[0], EV_READ, 5.0);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	unit_write(p[1], "y", 1);
	unit_join(g);
	cr_assert_eq(w.rc, 0, "a wait after a timed-out one returned %d", w.rc);
	cr_assert_eq(w.nread, 1, "read %zd", w.nread);
	close_pair(p);
}

Test(core_loop, interrupt_ends_wait_with_eintr, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	struct waiter w;
	waiter_init(&w, p[0], EV_READ, -1);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	gp_interrupt(g);
	unit_join(g);
	cr_assert_eq(w.rc, -EINTR, "interrupted wait returned %d", w.rc);
	/* It left the descriptor: a new waiter is the only one woken. */
	cr_assert_null(gp_fd_peek(p[0])->waiters, "the interrupted waiter is still linked");
	close_pair(p);
}

/* ---- several waiters, several descriptors ---- */

Test(core_loop, two_waiters_on_one_fd_both_wake, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	struct waiter a, b;
	waiter_init(&a, p[0], EV_READ, 5.0);
	waiter_init(&b, p[0], EV_READ, 5.0);
	/* Only learn readiness: both must wake, and a read by the first would leave
	 * the second blocked in read(2). */
	a.no_read = b.no_read = true;
	struct gp_green *ga = unit_spawn(wait_then_read, &a);
	struct gp_green *gb = unit_spawn(wait_then_read, &b);
	unit_settle();
	unit_assert_state(ga, GP_PARKED, "first waiter");
	unit_assert_state(gb, GP_PARKED, "second waiter");
	unit_run_loop();
	unit_write(p[1], "ab", 2);
	/* One readiness event wakes both: neither waits for the other to leave first. */
	unit_run_loop();
	cr_assert_neq(ga->state, GP_PARKED, "first waiter still parked after the pipe became "
		      "readable and the loop polled");
	cr_assert_neq(gb->state, GP_PARKED, "second waiter still parked after the pipe became "
		      "readable and the loop polled");
	unit_join(ga);
	unit_join(gb);
	cr_assert_eq(a.rc, 0, "first waiter got %d", a.rc);
	cr_assert_eq(b.rc, 0, "second waiter got %d", b.rc);
	cr_assert_eq(a.revents, EV_READ, "first waiter revents %#x", a.revents);
	cr_assert_eq(b.revents, EV_READ, "second waiter revents %#x", b.revents);
	close_pair(p);
}

/* A reader and a writer wait on the two directions of one socket. */
Test(core_loop, read_and_write_waiters_on_one_socket, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair");
	struct waiter r, w;
	waiter_init(&r, sv[0], EV_READ, 5.0);
	waiter_init(&w, sv[0], EV_WRITE, 5.0);
	struct gp_green *gr = unit_spawn(wait_then_read, &r);
	unit_settle();
	unit_assert_state(gr, GP_PARKED, "reader");
	/* The writer is ready at once; the reader must stay parked. */
	struct gp_green *gw = unit_spawn(wait_then_read, &w);
	unit_join(gw);
	cr_assert_eq(w.rc, 0, "writer got %d", w.rc);
	cr_assert_eq(w.revents, EV_WRITE, "writer revents %#x", w.revents);
	unit_settle();
	unit_assert_state(gr, GP_PARKED, "reader after the writer woke");
	unit_write(sv[1], "r", 1);
	unit_join(gr);
	cr_assert_eq(r.rc, 0, "reader got %d", r.rc);
	cr_assert_eq(r.revents, EV_READ, "reader revents %#x", r.revents);
	close_pair(sv);
}

enum { NFDS = 3 };
static struct gp_fdwaiter multi[NFDS];
static int multi_rc = 1;

static void *wait_on_all(void *arg)
{
	double timeout = *(double *)arg;
	multi_rc = gp_wait_fds(multi, NFDS, timeout);
	return NULL;
}

Test(core_loop, wait_fds_wakes_on_any_and_tells_which, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[NFDS][2];
	for (int i = 0; i < NFDS; i++) {
		unit_pipe(p[i]);
		multi[i] = (struct gp_fdwaiter){ .fd = p[i][0], .events = EV_READ };
	}
	static double forever = -1;
	struct gp_green *g = unit_spawn(wait_on_all, &forever);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "waiting on three empty pipes");
	unit_write(p[1][1], "m", 1);
	unit_join(g);
	cr_assert_eq(multi_rc, 0, "gp_wait_fds = %d", multi_rc);
	cr_assert_eq(multi[0].revents, 0, "pipe 0 (empty) has revents %#x", multi[0].revents);
	cr_assert_eq(multi[1].revents, EV_READ, "pipe 1 (written) has revents %#x",
		     multi[1].revents);
	cr_assert_eq(multi[2].revents, 0, "pipe 2 (empty) has revents %#x", multi[2].revents);
	for (int i = 0; i < NFDS; i++)
		cr_assert_null(gp_fd_peek(p[i][0])->waiters,
			       "pipe %d still lists a waiter after the wait returned", i);
	for (int i = 0; i < NFDS; i++)
		close_pair(p[i]);
}

Test(core_loop, wait_fds_timeout, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[NFDS][2];
	for (int i = 0; i < NFDS; i++) {
		unit_pipe(p[i]);
		multi[i] = (struct gp_fdwaiter){ .fd = p[i][0], .events = EV_READ };
	}
	static double timeout = 0.05;
	double t0 = unit_now();
	unit_join(unit_spawn(wait_on_all, &timeout));
	double el = unit_now() - t0;
	cr_assert_eq(multi_rc, -ETIMEDOUT, "gp_wait_fds on empty pipes = %d", multi_rc);
	cr_assert_geq(el, 0.05, "timed out after %.6f s", el);
	for (int i = 0; i < NFDS; i++)
		cr_assert_eq(multi[i].revents, 0, "pipe %d has revents %#x", i, multi[i].revents);
	for (int i = 0; i < NFDS; i++)
		close_pair(p[i]);
}

/* ---- writability ---- */

/* Fill a pipe through a non-blocking write end (the test's own descriptor). */
static size_t fill_pipe(int wfd)
{
	int fl = fcntl(wfd, F_GETFL);
	cr_assert_eq(fcntl(wfd, F_SETFL, fl | O_NONBLOCK), 0, "F_SETFL: %s", strerror(errno));
	static char chunk[4096];
	size_t total = 0;
	ssize_t n;
	while ((n = write(wfd, chunk, sizeof(chunk))) > 0)
		total += (size_t)n;
	cr_assert_eq(errno, EAGAIN, "filling the pipe stopped with %s", strerror(errno));
	return total;
}

static void drain_pipe(int rfd, size_t n)
{
	static char buf[65536];
	while (n > 0) {
		ssize_t r = read(rfd, buf, n < sizeof(buf) ? n : sizeof(buf));
		cr_assert_gt(r, 0, "draining the pipe: %s", r < 0 ? strerror(errno) : "EOF");
		n -= (size_t)r;
	}
}

Test(core_loop, write_wait_on_full_pipe_wakes_when_drained, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	size_t full = fill_pipe(p[1]);
	struct waiter w;
	waiter_init(&w, p[1], EV_WRITE, -1);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "writer on a full pipe");
	gp_sleep(0.02);
	unit_assert_state(g, GP_PARKED, "writer on a full pipe, after the loop ran");
	drain_pipe(p[0], full);
	unit_join(g);
	cr_assert_eq(w.rc, 0, "write wait after draining = %d", w.rc);
	cr_assert_eq(w.revents, EV_WRITE, "revents %#x, expected EV_WRITE", w.revents);
	close_pair(p);
}

/* ---- close while waiting, and the number reused ---- */

Test(core_loop, fd_closed_wakes_waiter_with_ebadf, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	struct waiter w;
	waiter_init(&w, p[0], EV_READ, -1);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	unit_assert_state(g, GP_PARKED, "waiting before the close");
	gp_fd_closed(p[0]);
	close(p[0]);
	unit_join(g);
	cr_assert_eq(w.rc, -EBADF, "a waiter on a closed fd got %d, expected -EBADF", w.rc);
	cr_assert(w.revents & GP_EV_CLOSED, "revents %#x lacks GP_EV_CLOSED", w.revents);
	cr_assert_not(w.revents & (EV_READ | EV_WRITE), "revents %#x claims readiness",
		      w.revents);
	close(p[1]);
}

/*
 * The number of a closed descriptor is handed out again at once. The old waiter must
 * get EBADF, never the new file's data, and the new file must be waitable as if the
 * number were fresh (the loop forgot the old registration).
 */
Test(core_loop, fd_number_reused_after_close, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	int num = p[0];
	struct waiter old;
	waiter_init(&old, num, EV_READ, -1);
	struct gp_green *gold = spawn_waiter(&old);
	unit_settle();
	unit_assert_state(gold, GP_PARKED, "old waiter");
	/* The old file is registered in the kernel, as it is after any real wait. */
	unit_run_loop();
	unit_assert_state(gold, GP_PARKED, "old waiter after a poll");

	gp_fd_closed(num);
	close(num);
	int q[2];
	unit_pipe(q);
	if (q[0] != num) {   /* the lowest free number is not num: put it there */
		cr_assert_eq(dup2(q[0], num), num, "dup2: %s", strerror(errno));
		close(q[0]);
		q[0] = num;
	}
	/* Data is there before the old waiter even runs. */
	unit_write(q[1], "new1", 4);

	struct waiter fresh;
	waiter_init(&fresh, num, EV_READ, 5.0);
	struct gp_green *gfresh = spawn_waiter(&fresh);
	unit_join(gold);
	cr_assert_eq(old.rc, -EBADF, "old waiter got %d, expected -EBADF", old.rc);
	cr_assert_eq(old.nread, -2, "the old waiter read %zd bytes (\"%s\") of the new pipe",
		     old.nread, old.got);
	unit_join(gfresh);
	cr_assert_eq(fresh.rc, 0, "new waiter got %d", fresh.rc);
	cr_assert_str_eq(fresh.got, "new1", "new waiter read \"%s\"", fresh.got);

	/* And waiting on the reused number parks and wakes normally. */
	waiter_init(&fresh, num, EV_READ, 5.0);
	gfresh = spawn_waiter(&fresh);
	unit_settle();
	unit_assert_state(gfresh, GP_PARKED, "waiter on the reused number, nothing written");
	unit_write(q[1], "new2", 4);
	unit_join(gfresh);
	cr_assert_eq(fresh.rc, 0, "second new waiter got %d", fresh.rc);
	cr_assert_str_eq(fresh.got, "new2", "second new waiter read \"%s\"", fresh.got);
	close(p[1]);
	close_pair(q);
}

/*
 * fdstate.h allows a number to be closed and reused entirely inside libc, unseen
 * (fclose of an fdopen'd socket, then accept returning the same number), at the cost
 * of "one wrong guess of the kind". Here the old file was last waited on with a
 * timeout, so its watcher was left armed (loop.h: disarmed lazily); the kernel dropped
 * that registration when the file was closed. A wait on the new file behind the same
 * number must still be woken by its data.
 */
Test(core_loop, unseen_close_then_reuse_is_still_waitable, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	int num = p[0];
	int rc = gp_wait_fd(num, EV_READ, 0.02);
	cr_assert_eq(rc, -ETIMEDOUT, "first wait = %d", rc);
	close(num);                 /* no gp_fd_closed: the close happened inside libc */
	int q[2];
	unit_pipe(q);
	if (q[0] != num) {
		cr_assert_eq(dup2(q[0], num), num, "dup2: %s", strerror(errno));
		close(q[0]);
		q[0] = num;
	}
	struct waiter w;
	waiter_init(&w, num, EV_READ, 2.0);
	struct gp_green *g = spawn_waiter(&w);
	unit_settle();
	unit_run_loop();
	unit_write(q[1], "new", 3);
	unit_join(g);
	cr_assert_eq(w.rc, 0, "a wait on the reused number got %d (%s) after %.2f s although "
		     "its pipe was written: the watcher left armed for the closed file was "
		     "trusted to be registered for the new one", w.rc, strerror(-w.rc),
		     w.elapsed);
	cr_assert_str_eq(w.got, "new", "read \"%s\"", w.got);
	close(p[1]);
	close_pair(q);
}

/* A number that names nothing cannot be watched: the wait fails with an error (as
 * loop.h promises for a descriptor that cannot be watched), it does not take the
 * process down. */
Test(core_loop, wait_on_closed_fd_fails_without_crashing, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	close_pair(p);              /* p[0] now names nothing */
	int rc = gp_wait_fd(p[0], EV_READ, 0.1);
	cr_assert_lt(rc, 0, "gp_wait_fd on a closed descriptor = %d", rc);
	cr_assert_neq(rc, -ETIMEDOUT, "gp_wait_fd on a closed descriptor waited out its "
		      "timeout instead of failing");
}

/* gp_fd_closed forgets what was learnt of the number. */
Test(core_loop, fd_closed_resets_fd_state, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int p[2];
	unit_pipe(p);
	struct gp_fd *e = gp_fd_get(p[0]);
	cr_assert_not_null(e, "gp_fd_get(%d) = NULL", p[0]);
	gp_fd_set_kind(p[0], GP_FD_NOWAIT);
	gp_fd_set_nonblock(p[0], 1);
	cr_assert_eq(e->kind, GP_FD_NOWAIT, "kind %d", e->kind);
	cr_assert_eq(e->nonblock, GP_NB_ON, "nonblock %d", e->nonblock);
	gp_fd_closed(p[0]);
	cr_assert_eq(e->kind, GP_FD_UNKNOWN, "kind %d after gp_fd_closed", e->kind);
	cr_assert_eq(e->nonblock, GP_NB_UNKNOWN, "nonblock %d after gp_fd_closed", e->nonblock);
	close_pair(p);
}

/* ---- many round trips ---- */

enum { PINGS = 10000 };
static int sv[2];
static long pongs, ping_errors;

/* Read exactly one byte after waiting for it; the byte is the round number mod 256. */
static int read_byte_after_wait(int fd)
{
	int rc = gp_wait_fd(fd, EV_READ, 5.0);
	if (rc < 0)
		return rc;
	unsigned char c;
	ssize_t n = read(fd, &c, 1);
	return n == 1 ? c : -EIO;
}

static void *ponger(void *arg)
{
	(void)arg;
	for (long i = 0; i < PINGS; i++) {
		int c = read_byte_after_wait(sv[1]);
		if (c != (int)(i & 0xff)) {
			ping_errors++;
			return NULL;
		}
		unsigned char back = (unsigned char)(c ^ 0xff);
		if (write(sv[1], &back, 1) != 1) {
			ping_errors++;
			return NULL;
		}
		pongs++;
	}
	return NULL;
}

static long pinger_bad_round = -1;
static int pinger_bad_value;

static void *pinger(void *arg)
{
	(void)arg;
	for (long i = 0; i < PINGS; i++) {
		unsigned char c = (unsigned char)(i & 0xff);
		if (write(sv[0], &c, 1) != 1) {
			pinger_bad_round = i;
			return NULL;
		}
		int r = read_byte_after_wait(sv[0]);
		if (r != (c ^ 0xff)) {
			pinger_bad_round = i;
			pinger_bad_value = r;
			return NULL;
		}
	}
	return NULL;
}

Test(core_loop, socketpair_ping_pong, .timeout = UNIT_TIMEOUT_LONG)
{
	unit_start();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair");
	struct gp_green *a = unit_spawn(ponger, NULL);
	struct gp_green *b = unit_spawn(pinger, NULL);
	unit_join(b);
	unit_join(a);
	cr_assert_eq(pinger_bad_round, -1, "pinger failed in round %ld (got %d)",
		     pinger_bad_round, pinger_bad_value);
	cr_assert_eq(ping_errors, 0, "ponger failed after %ld round trips", pongs);
	cr_assert_eq(pongs, PINGS, "%ld round trips of %d", pongs, PINGS);
	close_pair(sv);
}

/* ---- the descriptor table ---- */

Test(core_loop, fd_table_bounds, .timeout = UNIT_TIMEOUT)
{
	cr_assert_null(gp_fd_get(-1), "gp_fd_get(-1) is not NULL");
	cr_assert_null(gp_fd_get(INT_MIN), "gp_fd_get(INT_MIN) is not NULL");
	cr_assert_null(gp_fd_peek(-1), "gp_fd_peek(-1) is not NULL");
	cr_assert_null(gp_fd_peek(5000), "gp_fd_peek of a never used number allocated");
	struct gp_fd *e = gp_fd_get(5000);
	cr_assert_not_null(e, "gp_fd_get(5000) = NULL");
	cr_assert_eq(gp_fd_peek(5000), e, "peek and get disagree on fd 5000");
	cr_assert_eq(gp_fd_get(5000), e, "a second gp_fd_get(5000) moved the entry");
	cr_assert_neq(gp_fd_get(5001), e, "fd 5001 shares fd 5000's entry");
	cr_assert_eq(e->kind, GP_FD_UNKNOWN, "a new entry has kind %d", e->kind);
	cr_assert_null(gp_fd_get(INT_MAX), "gp_fd_get(INT_MAX), beyond RLIMIT_NOFILE, is not "
		       "NULL");
}

Test(core_loop, wait_on_negative_fd_fails, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	int rc = gp_wait_fd(-1, EV_READ, 0.01);
	cr_assert_lt(rc, 0, "gp_wait_fd(-1) = %d", rc);
	cr_assert_neq(rc, -ETIMEDOUT, "gp_wait_fd(-1) waited instead of failing");
}

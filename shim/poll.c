/*
 * poll, ppoll, select and pselect, on the shared readiness loop (ready.h).
 *
 * select's sets are both input and output: the loop probes on copies, so the
 * program's sets are written once, with the kernel's final answer, and Linux's
 * update of select's timeout (the time left) is reproduced.
 *
 * ppoll and pselect with a signal mask give the green thread that mask while it waits
 * (ready.h).
 */
/* GREENPATCH_UNPATCH=poll leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_POLL

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "hook.h"
#include "ownfd.h"
#include "ready.h"
#include "util.h"

/* ---- poll, ppoll ---- */

struct pollset {
	struct pollfd *fds;
	nfds_t n;
};

static int poll_probe(struct gp_ready *r)
{
	struct pollset *p = r->arg;
	return GP_REAL(poll)(p->fds, p->n, 0);
}

static int poll_park(struct gp_ready *r, double left)
{
	struct pollset *p = r->arg;
	return gp__park_on_pollfds(p->fds, p->n, left);
}

static int green_poll(struct pollfd *fds, nfds_t n, double timeout, const sigset_t *mask)
{
	struct pollset p = { fds, n };
	struct gp_ready r = { .probe = poll_probe, .park = poll_park, .arg = &p };
	return gp__ready_wait_masked(&r, timeout, NULL, mask);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (!gp_cooperative() || timeout == 0)
		return GP_REAL(poll)(fds, n, timeout);
	return green_poll(fds, n, timeout < 0 ? -1 : timeout / 1000.0, NULL);
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (!gp_cooperative() || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return GP_REAL(ppoll)(fds, n, ts, mask);
	if (ts && (!gp_ts_valid(ts) || ts->tv_sec < 0)) {
		errno = EINVAL;
		return -1;
	}
	return green_poll(fds, n, ts ? gp_ts_seconds(ts) : -1, mask);
}

int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask,
		size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* ---- select, pselect ---- */

struct selectset {
	int nfds;
	fd_set *user[3];          /* read, write, except, as the program passed them */
	fd_set copy[3];           /* the probe's scratch copies */
	size_t bytes;             /* bytes of each set that nfds covers */
};

static const short select_events[3] = { POLLIN, POLLOUT, POLLPRI };

static int select_probe(struct gp_ready *r)
{
	struct selectset *s = r->arg;
	fd_set *sets[3];
	for (int i = 0; i < 3; i++) {
		sets[i] = s->user[i] ? &s->copy[i] : NULL;
		if (sets[i])
			memcpy(sets[i], s->user[i], s->bytes);
	}
	struct timeval zero = { 0, 0 };
	return GP_REAL(select)(s->nfds, sets[0], sets[1], sets[2], &zero);
}

/* Park on every descriptor named in the sets, as poll would. */
static int select_park(struct gp_ready *r, double left)
{
	struct selectset *s = r->arg;
	struct pollfd fds[FD_SETSIZE];
	nfds_t n = 0;
	for (int fd = 0; fd < s->nfds; fd++) {
		short ev = 0;
		for (int i = 0; i < 3; i++)
			if (s->user[i] && FD_ISSET(fd, s->user[i]))
				ev |= select_events[i];
		if (ev)
			fds[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	return gp__park_on_pollfds(fds, n, left);
}

/* The program's sets get the kernel's answer: the ready descriptors, or none. */
static void select_publish(struct selectset *s, int n)
{
	for (int i = 0; i < 3; i++) {
		if (!s->user[i])
			continue;
		if (n > 0)
			memcpy(s->user[i], &s->copy[i], s->bytes);
		else if (n == 0)
			memset(s->user[i], 0, s->bytes);
	}
}

/*
 * The nfds the kernel would act on natively: no further than the end of the table the
 * program's own descriptors made (core/ownfd.h), where the library's numbers have made
 * the kernel's longer. A number past that end that is open (made by a call no hook saw)
 * shows the program's table longer, as natively. The kernel writes back only the part
 * of the sets it acted on, and never reads the rest: neither does this, but for a peek,
 * and an unreadable tail is no error. That peek is one system call more for a program
 * that passes more numbers than its table holds (FD_SETSIZE, say).
 */
static int select_span(int nfds, fd_set *rd, fd_set *wr, fd_set *ex)
{
	int size = gp_program_fd_table();
	if (nfds <= size || size >= GP_OWN_FD_TOP)
		return nfds;
	/* Past the library's numbers the kernel's table is the program's. */
	if (nfds > GP_OWN_FD_TOP && !gp_fd_table_ends_by(GP_OWN_FD_TOP))
		return nfds;
	int end = nfds < GP_OWN_FD_TOP ? nfds : GP_OWN_FD_TOP;
	fd_set *sets[3] = { rd, wr, ex };
	unsigned char tail[3][GP_OWN_FD_TOP / 8];
	struct gp_peek_piece pieces[3];
	unsigned n = 0;
	size_t from = (size_t)size / 8, len = ((size_t)end + 7) / 8 - from;
	for (int i = 0; i < 3; i++) {
		if (!sets[i])
			continue;
		pieces[n] = (struct gp_peek_piece){ (unsigned char *)sets[i] + from, tail[n], len };
		n++;
	}
	int saved = errno;   /* a peek that fails sets it: natively nothing was read */
	bool read = n > 0 && gp_peek_pieces(pieces, n);
	errno = saved;
	for (size_t b = 0; read && b < len; b++) {
		unsigned named = 0;
		for (unsigned i = 0; i < n; i++)
			named |= tail[i][b];
		for (int fd = (int)(from + b) * 8; named; named >>= 1, fd++)
			if ((named & 1) && fd < end && !gp_own_fd(fd) && gp_fd_open(fd))
				gp_program_fd_note(fd);
	}
	size = gp_program_fd_table();
	return nfds < size || size >= GP_OWN_FD_TOP ? nfds : size;
}

/*
 * Sets beyond FD_SETSIZE (nfds larger) go to the C library, as does a zero timeout, and
 * sets that cannot be read: the probe copies them, where the kernel says EFAULT.
 */
static bool select_is_green(int nfds, fd_set *rd, fd_set *wr, fd_set *ex)
{
	if (!gp_cooperative() || nfds < 0 || nfds > FD_SETSIZE)
		return false;
	fd_set *sets[3] = { rd, wr, ex }, scratch[3];
	struct gp_peek_piece pieces[3];
	unsigned n = 0;
	for (int i = 0; i < 3; i++) {
		if (!sets[i])
			continue;
		pieces[n] = (struct gp_peek_piece){ sets[i], &scratch[n], ((size_t)nfds + 7) / 8 };
		n++;
	}
	/* One system call for the three. */
	return n == 0 || gp_peek_pieces(pieces, n);
}

static int green_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, double timeout,
			double *left, const sigset_t *mask)
{
	struct selectset s = { .nfds = nfds, .user = { rd, wr, ex },
			       .bytes = ((size_t)nfds + 7) / 8 };
	struct gp_ready r = { .probe = select_probe, .park = select_park, .arg = &s };
	int n = gp__ready_wait_masked(&r, timeout, left, mask);
	select_publish(&s, n);
	return n;
}

int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	nfds = select_span(nfds, rd, wr, ex);
	if ((tv && tv->tv_sec == 0 && tv->tv_usec == 0) || !select_is_green(nfds, rd, wr, ex))
		return GP_REAL(select)(nfds, rd, wr, ex, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)) {
		errno = EINVAL;
		return -1;
	}
	double left;
	double timeout = tv ? (double)tv->tv_sec + (double)tv->tv_usec * 1e-6 : -1;
	int n = green_select(nfds, rd, wr, ex, timeout, &left, NULL);
	/* Linux writes back the time that was not slept. */
	if (tv && n >= 0) {
		tv->tv_sec = (time_t)left;
		tv->tv_usec = (suseconds_t)((left - (double)tv->tv_sec) * 1e6);
	}
	return n;
}

int pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
	    const sigset_t *mask)
{
	nfds = select_span(nfds, rd, wr, ex);
	if ((ts && ts->tv_sec == 0 && ts->tv_nsec == 0) || !select_is_green(nfds, rd, wr, ex))
		return GP_REAL(pselect)(nfds, rd, wr, ex, ts, mask);
	if (ts && (!gp_ts_valid(ts) || ts->tv_sec < 0)) {
		errno = EINVAL;
		return -1;
	}
	return green_select(nfds, rd, wr, ex, ts ? gp_ts_seconds(ts) : -1, NULL, mask);
}

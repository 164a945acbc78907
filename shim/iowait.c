#include "iowait.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "hook.h"
#include "loop.h"
#include "offcall.h"
#include "ownfd.h"
#include "signals.h"

/*
 * The memory devices whose calls never wait (/dev/null, /dev/zero, /dev/full,
 * /dev/random and /dev/urandom, major 1): the real call, as for a directory, so that a
 * daemon's stdio to /dev/null is not made green. Not /dev/kmsg, of the same major,
 * whose reads wait for the next message.
 */
static bool never_waits(const struct stat *st)
{
	if (!S_ISCHR(st->st_mode) || major(st->st_rdev) != 1)
		return false;
	switch (minor(st->st_rdev)) {
	case 3: case 5: case 7: case 8: case 9: return true;
	default: return false;
	}
}

static enum gp_fd_kind kind_of(const struct stat *st)
{
	if (never_waits(st))
		return GP_FD_PASS;
	switch (st->st_mode & S_IFMT) {
	case S_IFSOCK: return GP_FD_SOCKET;
	case S_IFREG: return GP_FD_FILE;
	case S_IFDIR:
	case S_IFBLK: return GP_FD_PASS;
	default: return GP_FD_NOWAIT;  /* pipes, FIFOs, character devices, anon inodes */
	}
}

struct gp_fd *gp__fd_learn(int fd)
{
	struct gp_fd *e = gp_fd_get(fd);
	if (!e)
		return NULL;
	if (e->kind == GP_FD_UNKNOWN) {
		struct stat st;
		/* A number that names nothing (EBADF) stays unknown: a file it names later,
		 * made where no hook sees it, is learnt then. */
		if (fstat(fd, &st) == 0)
			e->kind = kind_of(&st);
		else if (errno != EBADF)
			e->kind = GP_FD_PASS;
	}
	if (e->nonblock == GP_NB_UNKNOWN || e->shared) {
		int fl = GP_REAL(fcntl)(fd, F_GETFL);
		e->nonblock = fl >= 0 && (fl & O_NONBLOCK) ? GP_NB_ON : GP_NB_OFF;
		if (fl >= 0 && (fl & (O_SYNC | O_DSYNC | O_DIRECT)))
			e->file |= GP_FILE_SYNC;
	}
	return e;
}

static double timeval_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec * 1e-6;
}

static void learn_timeouts(int fd, struct gp_fd *e)
{
	static const int opts[2] = { SO_RCVTIMEO, SO_SNDTIMEO };
	for (int i = 0; i < 2; i++) {
		struct timeval tv = { 0, 0 };
		socklen_t len = sizeof(tv);
		e->timeo[i] = getsockopt(fd, SOL_SOCKET, opts[i], &tv, &len) == 0
				      ? (float)timeval_seconds(&tv) : 0;
	}
	e->timeo_known = 1;
}

double gp__fd_wait_limit(int fd, struct gp_fd *e, int events)
{
	if (!e || e->kind != GP_FD_SOCKET)
		return -1;
	if (!e->timeo_known)
		learn_timeouts(fd, e);
	float t = e->timeo[events == EV_READ ? 0 : 1];
	return t > 0 ? t : -1;
}

void gp__fd_set_timeo(int fd, int which, double seconds)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (e && e->timeo_known)
		e->timeo[which] = (float)seconds;
}

void gp__fd_inherit_timeo(int fd, int listener)
{
	struct gp_fd *e = gp_fd_peek(fd), *l = gp_fd_peek(listener);
	if (!e)
		return;
	if (l && l->timeo_known) {
		e->timeo[0] = l->timeo[0];
		e->timeo[1] = l->timeo[1];
	}
	/* A listener whose timeouts were never learnt: ask the new socket itself later. */
	e->timeo_known = l && l->timeo_known;
}

int gp__wait_fd(int fd, int events, double timeout)
{
	gp__cancel_point();
	gp_enter();
	int rc = gp_wait_fd(fd, events, timeout);
	gp_leave();
	gp__cancel_point();
	return rc;
}

int gp__wait_fd_call(int fd, struct gp_fd *e, int events)
{
	double limit = gp__fd_wait_limit(fd, e, events);
	int rc;
	do
		rc = gp__wait_fd(fd, events, limit);
	while (rc == -EINTR && limit < 0 && gp__signal_restarts());
	return rc;
}

static bool ready_now(int fd, int events)
{
	struct pollfd p = { .fd = fd, .events = events == EV_READ ? POLLIN : POLLOUT };
	return GP_REAL(poll)(&p, 1, 0) != 0;
}

static ssize_t transfer(struct gp_io *io);

/*
 * A socket with an error pending (a reset, a timeout), seen without taking the error: a
 * blocking transfer that has made progress stops there, and the kernel keeps the error
 * for the next call. Our own attempt would take it (sock_error clears it), and the next
 * call would find only the shut socket: EPIPE, and SIGPIPE, where natively it says
 * ECONNRESET. An error that arrives between this look and the attempt is still taken.
 */
bool gp__socket_error_pending(int fd)
{
	struct pollfd p = { .fd = fd };
	return GP_REAL(poll)(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/*
 * A datagram socket shut for reading (shutdown SHUT_RD) with nothing queued: a blocking
 * read returns 0 at once there, but the attempt without waiting says EAGAIN, and poll
 * says readable, for ever (the kernel's __skb_wait_for_more_packets ends the wait on
 * RCV_SHUTDOWN without an error). Looked at only when an attempt after readiness still
 * finds nothing. POLLRDHUP stays once set: the real call then cannot block.
 */
static bool shut_for_reading(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	return GP_REAL(poll)(&p, 1, 0) == 1 && (p.revents & POLLRDHUP);
}

/*
 * After progress, a read of an AF_UNIX stream takes a pending error and returns what it
 * copied (the kernel's unix_stream_read_generic); TCP leaves the error for the next call,
 * and recvmmsg (neither iovec nor msghdr here) puts it back whatever the family. Asked
 * only when an error is pending.
 */
static int socket_option(int fd, int name);

static bool read_takes_error(const struct gp_io *io)
{
	return io->events == EV_READ && (io->iov || io->msg) &&
	       socket_option(io->fd, SO_DOMAIN) == AF_UNIX;
}

static ssize_t as_result(ssize_t r)
{
	return r < 0 ? -errno : r;
}

struct io_offcall {
	struct gp_offcall c;
	struct gp_io *io;
};

static void run_blocking(struct gp_offcall *c)
{
	struct gp_io *io = ((struct io_offcall *)c)->io;
	c->ret = io->blocking(io);
}

/* The real call on the offload pool: -errno or the count. */
static ssize_t offloaded(struct gp_io *io)
{
	struct io_offcall oc = { { .run = run_blocking }, io };
	gp__offload_call(&oc.c);
	return as_result(oc.c.ret);
}

/*
 * A regular file never "would block" as a socket does, but a read that misses the page
 * cache waits for the disk. RWF_NOWAIT says so (EAGAIN) without waiting: then the real
 * call goes to the offload pool. A page-cache hit costs one system call, as natively.
 * Buffered writes go to the page cache; a file system that refuses RWF_NOWAIT writes
 * (ext4 today) is written directly, as natively, unless the descriptor waits for the
 * disk on every write (O_SYNC, O_DSYNC, O_DIRECT) or its file is on a remote or
 * user-space file system (FUSE and NFS without a cache wait for the server): then on
 * the pool.
 */
static ssize_t file_transfer(struct gp_io *io, struct gp_fd *e)
{
	bool write = io->events == EV_WRITE;
	if (write && (e->file & GP_FILE_NO_NOWAIT_WRITE))
		return (e->file & GP_FILE_SYNC) || e->mount == GP_MOUNT_SLOW
			       ? offloaded(io) : as_result(io->blocking(io));
	ssize_t r = io->nowait(io);
	if (r >= 0)
		return r;
	int err = errno;
	if (err == EOPNOTSUPP && write) {
		e->file |= GP_FILE_NO_NOWAIT_WRITE;
		return file_transfer(io, e);
	}
	if (err != EAGAIN && err != EOPNOTSUPP)
		return -err;
	return offloaded(io);
}

ssize_t gp__recvfrom_nowait(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			    socklen_t *len)
{
	if (gp_self()->is_main)
		return GP_REAL(recvfrom)(fd, buf, n, flags, addr, len);
	return gp__raw_syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
}

ssize_t gp__sendto_nowait(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len)
{
	if (gp_self()->is_main)
		return GP_REAL(sendto)(fd, buf, n, flags, addr, len);
	return gp__raw_syscall(SYS_sendto, fd, buf, n, flags, addr, (long)len);
}

ssize_t gp__io(struct gp_io *io)
{
	if (!io->continued && gp_rt)
		io->since = gp_wake_seq();
	/* A call that succeeds leaves errno as it found it, whatever the attempts set. */
	int saved_errno = errno;
	ssize_t r = transfer(io);
	if (r >= 0)
		errno = saved_errno;
	return r;
}

/*
 * A stream socket's read that returned less than it asked for emptied the receive queue:
 * until this thread next switches, a read of it would only say EAGAIN (an echo server's
 * next read, before the peer has even seen the answer). loop.h keeps the mark; data
 * that does arrive meanwhile costs one trip through the level-triggered loop.
 */
static void note_if_drained(const struct gp_io *io, struct gp_fd *e, ssize_t r)
{
	/* recvmmsg (neither iovec nor msghdr) counts messages, not bytes. */
	if (io->events != EV_READ || !(e->file & GP_SOCK_STREAM) || r <= 0 ||
	    (io->flags & MSG_PEEK) || (!io->iov && !io->msg))
		return;
	ssize_t asked = io->msg ? gp__iov_len(io->msg->msg_iov, (int)io->msg->msg_iovlen)
				: gp__iov_len(io->iov, io->iovcnt);
	if (r < asked)
		gp_fd_note_drained(e);
}

/*
 * An attempt that never blocks. With several carriers, another may close the number
 * between two attempts of one call (while this thread went back to program code after
 * a wait) and a new file may take it: the call ends with EBADF, as a call the close
 * came during ends under the library, rather than go on with the new file. Marked in
 * flight meanwhile, so that the close waits for it (gp_fd_closed): Dekker's handshake on
 * inflight and closed_at.
 */
static ssize_t attempt(struct gp_io *io, struct gp_fd *e)
{
	if (!gp_rt->multi)
		return io->nowait(io);
	__atomic_fetch_add(&e->inflight, 1, __ATOMIC_SEQ_CST);
	ssize_t r;
	if (__atomic_load_n(&e->closed_at, __ATOMIC_SEQ_CST) > io->since) {
		errno = EBADF;
		r = -1;
	} else {
		r = io->nowait(io);
	}
	int err = errno;
	__atomic_fetch_sub(&e->inflight, 1, __ATOMIC_RELEASE);
	errno = err;
	return r;
}

/* The RWF_* flags of preadv2 and pwritev2 every kernel the library runs on knows. */
#define KNOWN_RWF (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND)

static ssize_t transfer(struct gp_io *io)
{
	bool was_ready = false;   /* the last wait ended with the descriptor ready */
	for (;;) {
		struct gp_fd *e = gp_fd_get(io->fd);
		/* A dup's flag may have changed through the other number: asked again where it
		 * decides, before the call is passed through as non-blocking (it could block
		 * the carrier now) and before a wait (it should say EAGAIN now). */
		if (e && e->shared && e->nonblock == GP_NB_ON)
			gp__fd_learn(io->fd);
		if (!e || e->nonblock == GP_NB_ON || e->kind == GP_FD_PASS)
			return as_result(io->blocking(io));
		if (e->kind == GP_FD_FILE)
			return file_transfer(io, e);
		if (e->kind == GP_FD_POLL && e->nonblock == GP_NB_OFF) {
			if (!ready_now(io->fd, io->events)) {
				int rc = gp__wait_fd_call(io->fd, e, io->events);
				if (rc < 0)
					return rc;
			}
			return as_result(io->blocking(io));
		}
		if (io->continued && e->kind == GP_FD_SOCKET && gp__socket_error_pending(io->fd) &&
		    (io->error_stays || !read_takes_error(io)))
			return -EPIPE;   /* gp__io_rest reports the progress; the error stays */
		/* A read known to find nothing is not tried: it waits for readiness first. Not
		 * one for urgent data, which has its own answer (EINVAL when there is none), nor
		 * one for 0 bytes, whose answer after the wait depends on what the attempt
		 * before it found: an error waiting, taken, or nothing. */
		bool drained = io->events == EV_READ && !(io->flags & MSG_OOB) &&
			       gp_fd_surely_drained(e) &&
			       !(io->asks_nothing && io->asks_nothing(io, false));
		ssize_t r = drained ? -1 : attempt(io, e);
		if (r >= 0) {
			note_if_drained(io, e, r);
			return r;
		}
		int err = drained ? EAGAIN : errno;
		if (err != EAGAIN && err != EOPNOTSUPP)
			return -err;
		if (was_ready && e->kind == GP_FD_SOCKET && io->events == EV_READ &&
		    shut_for_reading(io->fd))
			return as_result(io->blocking(io));
		if (e->kind == GP_FD_UNKNOWN || e->nonblock == GP_NB_UNKNOWN) {
			gp__fd_learn(io->fd);
			continue;
		}
		if (err == EOPNOTSUPP) {
			/* The socket's own answer, or the kernel's to RWF_* flags it does not
			 * know, which the program passed: not a file without RWF_NOWAIT. */
			if (e->kind == GP_FD_SOCKET || (io->rwf & ~KNOWN_RWF))
				return -err;
			e->kind = GP_FD_POLL;   /* no RWF_NOWAIT here: readiness, then the call */
			continue;
		}
		if (e->shared && gp__fd_learn(io->fd) && e->nonblock == GP_NB_ON)
			continue;
		if (io->no_wait)
			return -EAGAIN;
		bool nothing = !drained && io->asks_nothing && e->kind == GP_FD_SOCKET &&
			       io->asks_nothing(io, true) &&
			       socket_option(io->fd, SO_PROTOCOL) == IPPROTO_TCP;
		if (nothing) {
			/* One wait, never restarted: tcp_recvmsg returns 0 after a signal
			 * too, SA_RESTART or not. */
			int rc = gp__wait_fd(io->fd, io->events,
					     gp__fd_wait_limit(io->fd, e, io->events));
			if (rc < 0 && rc != -EINTR && rc != -ETIMEDOUT)
				return rc;
			io->replied_empty = true;
			return io->empty_reply(io);
		}
		int rc = gp__wait_fd_call(io->fd, e, io->events);
		if (rc < 0)
			return rc == -ETIMEDOUT ? -EAGAIN : rc;
		was_ready = true;
	}
}

#define IOV_ON_STACK 8

/*
 * After a partial transfer, continue on a private copy of the iovec (and msghdr): the
 * caller's arrays are read-only to us, and only copied once the kernel has read them,
 * so a bad pointer still gets the kernel's EFAULT.
 */
struct iov_copy {
	struct iovec small[IOV_ON_STACK];
	struct iovec *iov;
	struct msghdr msg;
};

static int iov_copy_make(struct iov_copy *c, struct gp_io *io)
{
	size_t bytes = sizeof(struct iovec) * (size_t)io->iovcnt;
	c->iov = io->iovcnt <= IOV_ON_STACK ? c->small : malloc(bytes);
	if (!c->iov)
		return -ENOMEM;
	memcpy(c->iov, io->iov, bytes);
	io->iov = c->iov;
	if (io->msg) {
		c->msg = *io->msg;
		io->msg = &c->msg;
	}
	return 0;
}

static void iov_copy_free(struct iov_copy *c)
{
	if (c->iov && c->iov != c->small)
		free(c->iov);
}

static void iov_advance(struct gp_io *io, size_t n)
{
	while (io->iovcnt > 0 && n >= io->iov->iov_len) {
		n -= io->iov->iov_len;
		io->iov++;
		io->iovcnt--;
	}
	if (io->iovcnt > 0) {
		io->iov->iov_base = (char *)io->iov->iov_base + n;
		io->iov->iov_len -= n;
	}
	if (io->msg) {
		io->msg->msg_iov = io->iov;
		io->msg->msg_iovlen = (size_t)io->iovcnt;
		/* Ancillary data goes with the first part only. */
		io->msg->msg_control = NULL;
		io->msg->msg_controllen = 0;
	}
}

ssize_t gp__iov_len(const struct iovec *iov, int cnt)
{
	size_t total = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

/* Did that transfer go through the real call (so it was whole, as far as it could be)? */
static bool went_through(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	return !e || e->nonblock == GP_NB_ON || e->kind == GP_FD_PASS;
}

ssize_t gp__io_rest(struct gp_io *io, ssize_t done)
{
	if (went_through(io->fd))
		return done;
	ssize_t want = gp__iov_len(io->iov, io->iovcnt);
	if (done >= want)
		return done;
	struct iov_copy copy = { .iov = NULL };
	if (iov_copy_make(&copy, io) < 0)
		return done;
	int saved_errno = errno;
	iov_advance(io, (size_t)done);
	io->continued = true;
	if (io->positional)
		io->off += done;
	while (done < want) {
		ssize_t r = gp__io(io);
		if (r <= 0)   /* an error after progress reports the progress; 0 is end of file */
			break;
		done += r;
		iov_advance(io, (size_t)r);
		if (io->positional)
			io->off += r;
	}
	iov_copy_free(&copy);
	errno = saved_errno;
	return done;
}

ssize_t gp__io_read(struct gp_io *io)
{
	ssize_t r = gp__io(io);
	struct gp_fd *e = r > 0 ? gp_fd_peek(io->fd) : NULL;
	/* RWF_NOWAIT stops at the end of what is cached; read(2) on a file does not. */
	if (e && e->kind == GP_FD_FILE && e->nonblock != GP_NB_ON)
		return gp__io_rest(io, r);
	return r;
}

ssize_t gp__io_all(struct gp_io *io)
{
	ssize_t r = gp__io(io);
	return r <= 0 ? r : gp__io_rest(io, r);
}

void gp__fd_forget(int fd)
{
	if (fd < 0 || !gp_on_green())
		return;
	gp_enter();
	const struct gp_fd *e = gp_fd_peek(fd);
	bool known = e && !e->fresh;   /* libev has registered the number with the kernel */
	gp_fd_closed(fd);
	uint64_t round = known ? gp_poll_round_to_wait() : 0;
	gp_leave();
	if (round)
		gp_poll_round_wait(round);
}

void gp__fd_mark_shared(int fd)
{
	struct gp_fd *e = fd >= 0 && gp_on_green() ? gp_fd_get(fd) : NULL;
	if (e)
		e->shared = 1;
}

void gp__fd_mark_stream(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (e && gp_on_green())
		e->file |= GP_SOCK_STREAM;
}

/* An int-valued SOL_SOCKET option of fd, or -1 (not a socket...), errno left alone. */
static int socket_option(int fd, int name)
{
	int value = 0, saved_errno = errno;
	socklen_t len = sizeof(value);
	if (getsockopt(fd, SOL_SOCKET, name, &value, &len) != 0)
		value = -1;
	errno = saved_errno;
	return value;
}

bool gp__fd_is_stream(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (e && (e->file & GP_SOCK_STREAM))
		return true;
	if (socket_option(fd, SO_TYPE) != SOCK_STREAM)
		return false;
	gp__fd_mark_stream(fd);
	return true;
}

void gp__fd_born(int fd, enum gp_fd_kind kind, int nonblocking)
{
	gp_program_fd_note(fd);
	if (fd < 0 || !gp_on_green())
		return;
	gp__fd_forget(fd);
	/* A number never used before gets its entry now: what it is, known at birth, need
	 * not be learnt later (fstat and F_GETFL), and a stream is marked one. */
	gp_fd_get(fd);
	gp_fd_set_kind(fd, kind);
	if (kind != GP_FD_UNKNOWN)
		gp_fd_set_nonblock(fd, nonblocking);
	/* A new socket has no timeouts; an accepted one is given its listener's after. */
	struct gp_fd *e = gp_fd_peek(fd);
	if (e && kind == GP_FD_SOCKET) {
		e->timeo[0] = e->timeo[1] = 0;
		e->timeo_known = 1;
	}
}

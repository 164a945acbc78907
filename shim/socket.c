/*
 * Sockets: creation, accept, connect, and the send/recv family.
 *
 * send and recv take MSG_DONTWAIT for their non-blocking attempt. accept has no such
 * flag, so a blocking accept asks poll(2) first (no other green thread can run between
 * the two calls) and parks while nothing is pending. connect has none either: a socket
 * being connected is one the process has just created, and the shim makes it
 * non-blocking for the duration of the connect(2) call only, then waits for the
 * outcome; F_GETFL never shows the difference to another green thread.
 */
/* GREENPATCH_UNPATCH=socket leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_SOCKET

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"
#include "signals.h"

int socket(int domain, int type, int protocol)
{
	int fd = GP_REAL(socket)(domain, type, protocol);
	gp__fd_born(fd, GP_FD_SOCKET, type & SOCK_NONBLOCK);
	if (fd >= 0 && (type & 0xf) == SOCK_STREAM)
		gp__fd_mark_stream(fd);
	return fd;
}

/* ---- accept ---- */

/* A descriptor the program made non-blocking, or not a socket: the real call answers. */
static bool real_call_answers(int fd)
{
	struct gp_fd *e = gp__fd_learn(fd);
	return !e || e->nonblock == GP_NB_ON || e->kind != GP_FD_SOCKET;
}

/*
 * What accept says at once without waiting: EINVAL for flags it does not know, or for a
 * socket that does not listen (asked only when a wait would follow).
 */
static bool fails_at_once(int fd, int flags)
{
	int on = 0;
	socklen_t len = sizeof(on);
	return (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) ||
	       getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on;
}

static int accept_common(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (real_call_answers(fd) || GP_REAL(poll)(&p, 1, 0) != 0 ||
		    fails_at_once(fd, flags))
			break;
		/* SO_RCVTIMEO bounds a blocking accept too. */
		int rc = gp__wait_fd_call(fd, gp_fd_peek(fd), EV_READ);
		if (rc < 0)
			return (int)gp_ret(rc == -ETIMEDOUT ? -EAGAIN : rc);
	}
	int nfd = GP_REAL(accept4)(fd, addr, len, flags);
	gp__fd_born(nfd, GP_FD_SOCKET, flags & SOCK_NONBLOCK);
	gp__fd_inherit_timeo(nfd, fd);
	if (nfd >= 0 && gp__fd_is_stream(fd))
		gp__fd_mark_stream(nfd);
	return nfd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!gp_cooperative())
		return GP_REAL(accept)(fd, addr, len);
	return accept_common(fd, addr, len, 0);
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (!gp_cooperative())
		return GP_REAL(accept4)(fd, addr, len, flags);
	return accept_common(fd, addr, len, flags);
}

/* ---- connect ---- */

/*
 * The outcome of a connect that said EINPROGRESS: 0 or -errno. A blocking connect
 * leaves the socket connected, or unconnected after a failure; a non-blocking one
 * leaves it "connecting" until connect is called again, so that a later connect would
 * say 0 where natively it says EISCONN, or ECONNABORTED where it tries again. Once the
 * outcome is known, connect is called again: it returns at once and settles the state.
 */
static int connect_outcome(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	/* SO_SNDTIMEO bounds a blocking connect: then it says EINPROGRESS, as natively. */
	int rc = gp__wait_fd_call(fd, gp_fd_peek(fd), EV_WRITE);
	if (rc < 0)
		return rc == -ETIMEDOUT ? -EINPROGRESS : rc;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	GP_REAL(connect)(fd, addr, addrlen);
	return -err;
}

/* connect(2) on a socket made non-blocking for this call only: 0 or -errno. */
static int connect_once(int fd, const struct sockaddr *addr, socklen_t len, int fl)
{
	if (GP_REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int rc = GP_REAL(connect)(fd, addr, len);
	int err = rc < 0 ? errno : 0;
	GP_REAL(fcntl)(fd, F_SETFL, fl);
	return -err;
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!gp_cooperative() || real_call_answers(fd))
		return GP_REAL(connect)(fd, addr, len);
	int fl = GP_REAL(fcntl)(fd, F_GETFL);
	if (fl < 0)
		return -1;
	int saved_errno = errno;
	double backoff = 0.001;
	for (;;) {
		int rc = connect_once(fd, addr, len, fl);
		if (rc == -EINPROGRESS)
			rc = connect_outcome(fd, addr, len);
		if (rc == 0)
			errno = saved_errno;
		/* A Unix socket whose listener's backlog is full: a blocking connect waits. */
		if (rc == -EAGAIN && addr && addr->sa_family == AF_UNIX) {
			gp_enter();
			rc = gp_sleep(backoff);
			gp_leave();
			if (backoff < 0.05)
				backoff *= 2;
			if (rc == 0)
				continue;
		}
		return (int)gp_ret(rc);
	}
}

/* ---- receive ---- */

static ssize_t recvfrom_nowait(struct gp_io *io)
{
	return gp__recvfrom_nowait(io->fd, io->iov->iov_base, io->iov->iov_len,
				   io->flags | MSG_DONTWAIT, io->addr, io->addrlen);
}

static ssize_t recvfrom_blocking(struct gp_io *io)
{
	return GP_REAL(recvfrom)(io->fd, io->iov->iov_base, io->iov->iov_len, io->flags,
				 io->addr, io->addrlen);
}

static ssize_t recvmsg_nowait(struct gp_io *io)
{
	return GP_REAL(recvmsg)(io->fd, io->msg, io->flags | MSG_DONTWAIT);
}

static ssize_t recvmsg_blocking(struct gp_io *io)
{
	return GP_REAL(recvmsg)(io->fd, io->msg, io->flags);
}

/* MSG_WAITALL asks a stream socket for everything; a datagram socket ignores it. */
static bool wants_all(int fd, int flags)
{
	return (flags & MSG_WAITALL) && gp__fd_is_stream(fd);
}

/*
 * MSG_PEEK with MSG_WAITALL waits until the whole length can be peeked, from the start of
 * the queue each time: the rest of a partial peek is not a later part of the stream, and
 * the socket stays readable while it waits for more, so no green wait fits. A peek that
 * finds less than asked (rare) waits in the kernel on the thread's own kernel thread.
 */
static ssize_t peek_all(struct gp_io *io)
{
	ssize_t r = gp__io(io);
	if (r <= 0)
		return r;
	/* The kernel has read the msghdr: it is safe to walk now. */
	ssize_t asked = io->msg ? gp__iov_len(io->msg->msg_iov, (int)io->msg->msg_iovlen)
				: gp__iov_len(io->iov, io->iovcnt);
	if (r >= asked)
		return r;
	r = GP_BLOCKING(io->blocking(io));
	return r < 0 ? -errno : r;
}

static ssize_t recv_io(struct gp_io *io)
{
	if (!wants_all(io->fd, io->flags))
		return gp__io(io);
	return io->flags & MSG_PEEK ? peek_all(io) : gp__io_all(io);
}

/*
 * Receives made as the program wrote them: a non-blocking one, and one from the error
 * queue, which never waits where there is one (an inet socket: EAGAIN when it is empty,
 * whatever the socket's readiness, for which a wait would wait for ever); an AF_UNIX
 * socket takes no notice of the flag, and its wait keeps the kernel thread.
 */
#define GP_RECV_AS_IS (MSG_DONTWAIT | MSG_ERRQUEUE)

/*
 * Receives of 0 bytes from a stream socket (gp_io.asks_nothing): after the wait, the
 * kernel's empty answer. recvfrom gives back an address of length 0, as the kernel's
 * move_addr_to_user: EFAULT when the length cannot be read, EINVAL when it is negative.
 */
static bool recvfrom_asks_nothing(struct gp_io *io, bool checked)
{
	(void)checked;   /* the iovec is the hook's own */
	return io->iov->iov_len == 0;
}

static ssize_t recvfrom_empty_reply(struct gp_io *io)
{
	socklen_t *len = io->addrlen;
	int asked;
	if (!io->addr)
		return 0;
	if (!len || !gp_peek(len, &asked, sizeof(asked)))
		return -EFAULT;
	if (asked < 0)
		return -EINVAL;
	*len = 0;
	return 0;
}

/*
 * Read only once the kernel has read the msghdr and its iovec (checked). Before, a bad
 * pointer must get the kernel's EFAULT, and reading costs a system call: a message read
 * of a socket surely drained waits without trying (iowait.c), and if it asked for 0
 * bytes, an error that comes during that wait is taken, where the kernel would have
 * returned 0 and left it. One already there is taken in both.
 */
static bool msg_asks_nothing(const struct msghdr *msg, bool checked)
{
	return checked && gp__iov_len(msg->msg_iov, (int)msg->msg_iovlen) == 0;
}

/*
 * A TCP socket with TCP_INQ on: tcp_recvmsg adds its TCP_CM_INQ message to every answer,
 * the empty one after a wait too. It holds tcp_inq_hint: the bytes queued, and one more
 * once the peer's FIN came (SIOCINQ leaves the FIN out; RCV_SHUTDOWN, seen as POLLRDHUP,
 * says it came). Written as put_cmsg writes it: cut short to the room there is, with
 * MSG_CTRUNC, and no room at all is MSG_CTRUNC alone; a buffer that cannot be written
 * gets nothing. One system call for every empty reply, three with TCP_INQ on: only a
 * receive of 0 bytes that waited pays them.
 */
static void empty_msg_inq(int fd, struct msghdr *msg, size_t room)
{
	int on = 0, inq = 0;
	socklen_t len = sizeof(on);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INQ, &on, &len) != 0 || !on ||
	    GP_REAL(ioctl)(fd, SIOCINQ, &inq) != 0)
		return;
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	if (GP_REAL(poll)(&p, 1, 0) == 1 && (p.revents & POLLRDHUP))
		inq++;
	if (!msg->msg_control || room < sizeof(struct cmsghdr)) {
		msg->msg_flags |= MSG_CTRUNC;
		return;
	}
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c = { .h = { .cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = IPPROTO_TCP,
		       .cmsg_type = TCP_CM_INQ } };
	memcpy(CMSG_DATA(&c.h), &inq, sizeof(inq));
	size_t put = c.h.cmsg_len;
	if (room < put) {
		msg->msg_flags |= MSG_CTRUNC;
		put = c.h.cmsg_len = room;
	}
	if (gp_poke(msg->msg_control, c.b, put))
		msg->msg_controllen = room < sizeof(c.b) ? room : sizeof(c.b);
}

/* What ____sys_recvmsg writes back for a message of no bytes: an address of length 0
   where one was asked for, no ancillary data but TCP_INQ's, and of the flags only
   MSG_CMSG_CLOEXEC (and MSG_CTRUNC). */
static void empty_msg(int fd, struct msghdr *msg, int flags)
{
	size_t room = msg->msg_controllen;
	if (msg->msg_name)
		msg->msg_namelen = 0;
	msg->msg_controllen = 0;
	msg->msg_flags = flags & MSG_CMSG_CLOEXEC;
	empty_msg_inq(fd, msg, room);
}

static bool recvmsg_asks_nothing(struct gp_io *io, bool checked)
{
	return msg_asks_nothing(io->msg, checked);
}

static ssize_t recvmsg_empty_reply(struct gp_io *io)
{
	empty_msg(io->fd, io->msg, io->flags);
	return 0;
}

/* recvmmsg: its first message (the rest are asked for one by one, recvmmsg below). */
static bool recvmmsg_asks_nothing(struct gp_io *io, bool checked)
{
	return msg_asks_nothing(&((struct mmsghdr *)io->addr)->msg_hdr, checked);
}

static ssize_t recvmmsg_empty_reply(struct gp_io *io)
{
	struct mmsghdr *first = io->addr;
	empty_msg(io->fd, &first->msg_hdr, io->flags);
	first->msg_len = 0;
	return 1;
}

static ssize_t green_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			      socklen_t *len)
{
	struct iovec iov = { buf, n };
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = recvfrom_nowait,
			    .blocking = recvfrom_blocking, .iov = &iov, .iovcnt = 1,
			    .flags = flags, .addr = addr, .addrlen = len,
			    .asks_nothing = recvfrom_asks_nothing,
			    .empty_reply = recvfrom_empty_reply };
	return gp_ret(recv_io(&io));
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len)
{
	if (!gp_cooperative() || (flags & GP_RECV_AS_IS))
		return GP_REAL(recvfrom)(fd, buf, n, flags, addr, len);
	/* An address asked for with no length to bound it: the kernel receives all it would
	 * (MSG_WAITALL waits on), then cannot write the address back (move_addr_to_user):
	 * EFAULT, and what was received is gone. An attempt would fail that way at its
	 * first bytes, without the wait. (Not through recvfrom by name: a fortified build
	 * of this file makes that an inline wrapper of the function defined here.) */
	if (addr && !len) {
		ssize_t r = green_recvfrom(fd, buf, n, flags, NULL, NULL);
		if (r >= 0)
			errno = EFAULT;
		return -1;
	}
	return green_recvfrom(fd, buf, n, flags, addr, len);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *len)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, len);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!gp_cooperative() || (flags & GP_RECV_AS_IS))
		return GP_REAL(recvmsg)(fd, msg, flags);
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = recvmsg_nowait,
			    .blocking = recvmsg_blocking, .flags = flags, .msg = msg,
			    .asks_nothing = recvmsg_asks_nothing,
			    .empty_reply = recvmsg_empty_reply };
	if ((flags & MSG_PEEK) && wants_all(fd, flags))
		return gp_ret(peek_all(&io));
	ssize_t r = gp__io(&io);
	if (r <= 0 || !wants_all(fd, flags))
		return gp_ret(r);
	/* MSG_WAITALL: the kernel has read the msghdr, it is safe to walk now. */
	io.iov = msg->msg_iov;
	io.iovcnt = (int)msg->msg_iovlen;
	return gp__io_rest(&io, r);
}

/* ---- send ---- */

static ssize_t sendto_nowait(struct gp_io *io)
{
	return gp__sendto_nowait(io->fd, io->iov->iov_base, io->iov->iov_len,
				 io->flags | MSG_DONTWAIT, io->addr, *(socklen_t *)io->addrlen);
}

static ssize_t sendto_blocking(struct gp_io *io)
{
	return GP_REAL(sendto)(io->fd, io->iov->iov_base, io->iov->iov_len, io->flags,
			       io->addr, *(socklen_t *)io->addrlen);
}

static ssize_t sendmsg_nowait(struct gp_io *io)
{
	return GP_REAL(sendmsg)(io->fd, io->msg, io->flags | MSG_DONTWAIT);
}

static ssize_t sendmsg_blocking(struct gp_io *io)
{
	return GP_REAL(sendmsg)(io->fd, io->msg, io->flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
	       socklen_t len)
{
	if (!gp_cooperative() || (flags & MSG_DONTWAIT))
		return GP_REAL(sendto)(fd, buf, n, flags, addr, len);
	struct iovec iov = { (void *)buf, n };
	struct gp_io io = { .fd = fd, .events = EV_WRITE, .nowait = sendto_nowait,
			    .blocking = sendto_blocking, .iov = &iov, .iovcnt = 1,
			    .flags = flags, .addr = (void *)addr, .addrlen = &len };
	return gp_ret(gp__io_all(&io));
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!gp_cooperative() || (flags & MSG_DONTWAIT))
		return GP_REAL(sendmsg)(fd, msg, flags);
	struct gp_io io = { .fd = fd, .events = EV_WRITE, .nowait = sendmsg_nowait,
			    .blocking = sendmsg_blocking, .flags = flags,
			    .msg = (struct msghdr *)msg };
	ssize_t r = gp__io(&io);
	if (r <= 0)
		return gp_ret(r);
	/* Partly sent? The kernel has read the msghdr: it is safe to walk now. */
	io.iov = msg->msg_iov;
	io.iovcnt = (int)msg->msg_iovlen;
	return gp__io_rest(&io, r);
}

/* ---- several messages ---- */

/*
 * The program's timeout (NULL: none) and when it ends, counted from the call. The kernel
 * looks at it after each message: one that has passed (or is zero) ends the call after
 * the first, whatever is queued. Each attempt gives the kernel the time left then, not
 * the whole timeout again after a green wait, and the time left when the call ends is
 * written back once the call has a message, as do_recvmmsg does.
 */
struct mmsg_time {
	struct timespec *user;
	double deadline;
};

/* The time left in *ts (0 once passed); NULL without a timeout. */
static struct timespec *mmsg_time_left(const struct mmsg_time *t, struct timespec *ts)
{
	if (!t->user)
		return NULL;
	double left = t->deadline - gp_mono_now();
	*ts = left > 0 ? gp_ts_of_seconds(left) : (struct timespec){ 0, 0 };
	return ts;
}

/*
 * got messages: the time left goes to the program, written as the kernel writes it, so
 * that a timeout the program cannot write gets EFAULT (the messages are gone), not a
 * fault in the library.
 */
static int mmsg_end(const struct mmsg_time *t, int got)
{
	struct timespec left;
	if (got > 0 && t->user && !gp_poke(t->user, mmsg_time_left(t, &left), sizeof(left))) {
		errno = EFAULT;
		return -1;
	}
	return got;
}

static ssize_t recvmmsg_nowait(struct gp_io *io)
{
	struct timespec ts;
	return GP_REAL(recvmmsg)(io->fd, io->addr, (unsigned)io->iovcnt, io->flags | MSG_DONTWAIT,
				 mmsg_time_left(io->addrlen, &ts));
}

static ssize_t recvmmsg_blocking(struct gp_io *io)
{
	struct timespec ts;
	return GP_REAL(recvmmsg)(io->fd, io->addr, (unsigned)io->iovcnt, io->flags,
				 mmsg_time_left(io->addrlen, &ts));
}

/*
 * MSG_WAITALL on a stream: the kernel fills each message whole (or up to the end or an
 * error) before it tries the next, one ___sys_recvmsg after another, and with
 * MSG_WAITFORONE only the first: the rest take what is there. Here one transfer a
 * message, waiting green, once SO_ERROR has given an error already waiting (do_recvmmsg
 * takes it first). An error that comes before a later message's first byte stays for the
 * next call, as the kernel puts it back (gp_io.error_stays); the time left is written
 * back as the kernel does.
 */
static int recvmmsg_each_whole(int fd, struct mmsghdr *vec, unsigned vlen, int flags,
			       const struct mmsg_time *t)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err) {
		errno = err;
		return -1;
	}
	int saved_errno = errno;
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = recvmsg_nowait,
			    .blocking = recvmsg_blocking, .asks_nothing = recvmsg_asks_nothing,
			    .empty_reply = recvmsg_empty_reply };
	unsigned got = 0;
	while (got < vlen) {
		bool rest_nowait = got > 0 && (flags & MSG_WAITFORONE);
		io.flags = flags & ~MSG_WAITFORONE;
		io.msg = &vec[got].msg_hdr;
		io.iov = NULL;
		io.iovcnt = 0;
		io.no_wait = rest_nowait;
		io.error_stays = got > 0;
		bool peek = (io.flags & MSG_PEEK) && !rest_nowait;
		ssize_t r = peek ? peek_all(&io) : gp__io(&io);
		if (r > 0 && !rest_nowait && !peek) {
			/* The kernel has read the msghdr: it is safe to walk now. */
			io.iov = io.msg->msg_iov;
			io.iovcnt = (int)io.msg->msg_iovlen;
			io.error_stays = false;   /* within a message, as one recvmsg */
			r = gp__io_rest(&io, r);
		}
		if (r < 0) {
			if (got > 0)
				break;
			errno = (int)-r;
			return -1;
		}
		vec[got++].msg_len = (unsigned)r;
		io.continued = true;   /* one call: a close meanwhile ends it (iowait.c) */
		if ((vec[got - 1].msg_hdr.msg_flags & MSG_OOB) ||
		    (t->user && gp_mono_now() >= t->deadline))
			break;
	}
	errno = saved_errno;
	return mmsg_end(t, (int)got);
}

/*
 * A blocking recvmmsg waits for vlen messages, or for one with MSG_WAITFORONE; its
 * timeout is looked at only after each message arrives (recvmmsg(2), BUGS), here too.
 */
int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout)
{
	/* The timeout is read as the kernel reads it: one it cannot read, or a bad one, is
	 * the kernel's EFAULT or EINVAL, before anything is received. */
	struct timespec asked;
	if (!gp_cooperative() || (flags & GP_RECV_AS_IS) || vlen == 0 ||
	    (timeout && (!gp_peek(timeout, &asked, sizeof(asked)) || !gp_ts_valid(&asked))))
		return GP_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
	struct mmsg_time t = { timeout, timeout ? gp_mono_now() + gp_ts_seconds(&asked) : 0 };
	if (wants_all(fd, flags) && !real_call_answers(fd))
		return recvmmsg_each_whole(fd, vec, vlen, flags, &t);
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = recvmmsg_nowait,
			    .blocking = recvmmsg_blocking, .addr = vec, .addrlen = &t,
			    .iovcnt = (int)vlen, .flags = flags,
			    .asks_nothing = recvmmsg_asks_nothing,
			    .empty_reply = recvmmsg_empty_reply };
	ssize_t r = gp__io(&io);
	/* MSG_WAITFORONE: the first attempt took all there was, unless the first message
	 * asked for 0 bytes and got them after a wait; the rest then without waiting. */
	if (r <= 0 || ((flags & MSG_WAITFORONE) && !io.replied_empty))
		return mmsg_end(&t, (int)gp_ret(r));
	io.no_wait = flags & MSG_WAITFORONE;
	unsigned got = (unsigned)r;
	int saved_errno = errno;
	/* The kernel puts an error that came after some messages back on the socket, for
	 * the next call: the attempts for the rest stop before a pending error instead of
	 * taking it (gp__io after progress). */
	io.continued = true;
	while (got < vlen && !(t.user && gp_mono_now() >= t.deadline)) {
		io.addr = vec + got;
		io.iovcnt = (int)(vlen - got);
		r = gp__io(&io);
		if (r <= 0)   /* the error is for the next call, as the kernel does */
			break;
		got += (unsigned)r;
	}
	errno = saved_errno;
	return mmsg_end(&t, (int)got);
}

/*
 * A blocking sendmmsg sends every message whole: here one cooperative sendmsg each,
 * which costs a system call per message instead of one in all.
 */
int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	/* No message to send: the kernel still checks the descriptor. A non-blocking
	 * socket: one call, as the program made it, since what a second message finds
	 * depends on when it is tried (the buffer the first filled frees as the peer
	 * acknowledges), and the kernel tries it at once. */
	if (!gp_cooperative() || (flags & MSG_DONTWAIT) || vlen == 0 || real_call_answers(fd))
		return GP_REAL(sendmmsg)(fd, vec, vlen, flags);
	/* An error after some messages went is not reported (the kernel's __sys_sendmmsg):
	 * the count is, with errno as the call found it. */
	int saved_errno = errno;
	unsigned i;
	for (i = 0; i < vlen && i < UIO_MAXIOV; i++) {
		ssize_t r = sendmsg(fd, &vec[i].msg_hdr, flags);
		if (r < 0) {
			if (i == 0)
				return -1;
			break;
		}
		vec[i].msg_len = (unsigned)r;
	}
	errno = saved_errno;
	return (int)i;
}

/* ---- options ---- */

/* SO_RCVTIMEO and SO_SNDTIMEO, in both the old and the 64-bit time layouts. */
static int timeo_index(int level, int name)
{
	if (level != SOL_SOCKET)
		return -1;
	if (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW)
		return 0;
	if (name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW)
		return 1;
	return -1;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	int rc = GP_REAL(setsockopt)(fd, level, name, value, len);
	int which = timeo_index(level, name);
	/* Both layouts are two 64-bit words (seconds, microseconds) on 64-bit Linux. */
	if (rc == 0 && which >= 0 && gp_on_green() && len >= sizeof(struct timeval)) {
		const struct timeval *tv = value;
		gp__fd_set_timeo(fd, which, (double)tv->tv_sec + (double)tv->tv_usec * 1e-6);
	}
	return rc;
}

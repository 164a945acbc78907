/*
 * errno_cases [--list | CASE...]
 *
 * Corner cases of blocking I/O, sleeping and polling, one line each:
 *
 *     name: ret=R errno=NAME [what else the case checks]
 *
 * errno is cleared before the call under test and printed even on success: a successful
 * call leaves errno alone, so "errno=0" there is part of the expected output.
 *
 * Each case runs in a thread of its own while main waits in pthread_join, so that the
 * process has at least two threads whenever a case runs. Cases are independent: each one
 * makes and closes its own descriptors, and puts back any signal disposition it changes.
 * With no argument every case runs in order; with CASEs those, in the order of the table
 * below; --list names them all.
 */
#define PROG "errno_cases"
#include "progs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define MIB (1024 * 1024)

/* ---- helpers ------------------------------------------------------------------------ */

/* Prints "name: ret=R errno=NAME" and, when fmt is not NULL, a space and the rest. */
static void say(long ret, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(long ret, int err, const char *fmt, ...)
{
	printf("%s: ret=%ld errno=%s", current, ret, errname(err));
	if (fmt) {
		va_list ap;

		va_start(ap, fmt);
		putchar(' ');
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
}

/*
 * Makes the call, then reads errno, then evaluates the rest of the line: the order of
 * function arguments is unspecified, so "say(read(...), errno)" could read errno first.
 */
#define SAY(call, ...)                                \
	do {                                          \
		long say_ret_;                        \
		int say_err_;                         \
                                                      \
		errno = 0;                            \
		say_ret_ = (long)(call);              \
		say_err_ = errno;                     \
		say(say_ret_, say_err_, __VA_ARGS__); \
	} while (0)

static void make_socketpair(int sv[2], int type_flags)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | type_flags, 0, sv) != 0)
		die("socketpair");
}

static void put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		die("write");
}

/*
 * A descriptor number that is not open. Far above the lowest free number, so that nothing
 * opened meanwhile (by a helper thread, or by the runtime of a shim) can take it; below
 * FD_SETSIZE, so that select can be given it.
 */
static int closed_fd(void)
{
	for (int fd = 1000; fd > 2; fd--)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	die("no closed descriptor");
	return -1;
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A listening TCP socket on 127.0.0.1; *port gets the port the kernel chose. */
static int tcp_listener(int type_flags, uint16_t *port)
{
	struct sockaddr_in sa = loopback(0);
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("listener");
	*port = ntohs(sa.sin_port);
	return fd;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("connect");
	return fd;
}

/* A connected TCP pair on loopback: fds[0] the client, fds[1] the accepted end. */
static void tcp_pair(int fds[2])
{
	uint16_t port;
	int l = tcp_listener(0, &port);

	fds[0] = tcp_connect(port);
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		die("accept");
	close(l);
}

/* Writes a few bytes to an fd after a delay, from another thread: wakes a blocked reader. */
struct late_write {
	int fd;
	long delay_ms;
};

static void *late_write_main(void *arg)
{
	struct late_write *lw = arg;

	msleep(lw->delay_ms);
	put(lw->fd, "hello", 5);
	return NULL;
}

static int flags_of(int fd)
{
	return fcntl(fd, F_GETFL);
}

/* ---- bad descriptors ---------------------------------------------------------------- */

static void case_read_ebadf(void)
{
	char b[8];

	SAY(read(-1, b, sizeof(b)), NULL);
}

static void case_read_ebadf_huge(void)
{
	char b[8];

	/* Far beyond any descriptor table, and beyond RLIMIT_NOFILE. */
	SAY(read(1 << 24, b, sizeof(b)), NULL);
}

static void case_write_ebadf(void)
{
	int fd = closed_fd();

	SAY(write(fd, "x", 1), NULL);
}

static void case_recv_ebadf(void)
{
	char b[8];
	int fd = closed_fd();

	SAY(recv(fd, b, sizeof(b), 0), NULL);
}

static void case_send_ebadf(void)
{
	SAY(send(-1, "x", 1, 0), NULL);
}

static void case_accept_ebadf(void)
{
	int fd = closed_fd();

	SAY(accept(fd, NULL, NULL), NULL);
}

/*
 * select ignores numbers beyond the kernel's descriptor table, which grows with use: the
 * closed descriptor here is one that was just open, so that it lies inside the table.
 */
static void case_select_ebadf(void)
{
	fd_set rd;
	struct timeval tv = { 0, 0 };
	int p[2], fd;

	make_pipe(p, 0);
	close(p[1]);
	fd = p[1];

	FD_ZERO(&rd);
	FD_SET(fd, &rd);
	SAY(select(fd + 1, &rd, NULL, NULL, &tv), NULL);
	close(p[0]);
}

static void case_close_twice(void)
{
	int p[2];
	int r1, r2, e;

	make_pipe(p, 0);
	close(p[1]);
	r1 = close(p[0]);
	errno = 0;
	r2 = close(p[0]);
	e = errno;
	say(r2, e, "first=%d", r1);
}

/* ---- not a socket ------------------------------------------------------------------- */

static void case_recv_enotsock(void)
{
	int p[2];
	char b[8];

	make_pipe(p, 0);
	put(p[1], "x", 1);
	SAY(recv(p[0], b, sizeof(b), 0), NULL);
	close2(p);
}

static void case_send_enotsock(void)
{
	int p[2];

	make_pipe(p, 0);
	SAY(send(p[1], "x", 1, 0), NULL);
	close2(p);
}

static void case_accept_enotsock(void)
{
	int p[2];

	make_pipe(p, 0);
	SAY(accept(p[0], NULL, NULL), NULL);
	close2(p);
}

static void case_connect_enotsock(void)
{
	struct sockaddr_in sa = loopback(9);
	int p[2];

	make_pipe(p, 0);
	SAY(connect(p[0], (struct sockaddr *)&sa, sizeof(sa)), NULL);
	close2(p);
}

/* ---- bad buffers -------------------------------------------------------------------- */

/* Hidden from the compiler, which would otherwise warn about the deliberate NULL. */
static void *volatile null_ptr;

static void *inaccessible_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void case_read_efault(void)
{
	int p[2];
	char b[16];
	long r;
	int e;

	make_pipe(p, 0);
	put(p[1], "0123456789", 10);
	errno = 0;
	r = read(p[0], null_ptr, 10);
	e = errno;
	/* The failed copy consumed nothing: the bytes are still there. */
	say(r, e, "left=%zd", read(p[0], b, sizeof(b)));
	close2(p);
}

static void case_recv_efault(void)
{
	void *bad = inaccessible_page();
	int sv[2];
	long r;
	int e;

	make_socketpair(sv, 0);
	put(sv[1], "0123456789", 10);
	errno = 0;
	r = recv(sv[0], bad, 10, 0);
	e = errno;
	say(r, e, NULL);
	munmap(bad, 4096);
	close2(sv);
}

static void case_write_efault(void)
{
	int p[2];

	make_pipe(p, 0);
	SAY(write(p[1], null_ptr, 10), NULL);
	close2(p);
}

static void case_send_efault(void)
{
	void *bad = inaccessible_page();
	int sv[2];

	make_socketpair(sv, 0);
	SAY(send(sv[0], bad, 10, 0), NULL);
	munmap(bad, 4096);
	close2(sv);
}

/*
 * A count that takes the buffer past the end of user space: read and write check the
 * whole range first and say EFAULT, even on a socket where recv would cut the count and
 * wait. The pointer is hidden from _FORTIFY_SOURCE, which would stop the call first.
 */
static char *volatile any_buf;

static void case_count_past_user(void)
{
	char b[16];
	int sv[2];
	long r, w;
	int re, we;

	any_buf = b;
	make_socketpair(sv, 0);
	put(sv[1], "0123456789", 10);
	errno = 0;
	r = read(sv[0], any_buf, SIZE_MAX / 4);
	re = errno;
	errno = 0;
	w = write(sv[0], any_buf, SIZE_MAX / 4);
	we = errno;
	say(r, re, "left=%zd write=%ld %s sent=%zd", recv(sv[0], b, sizeof(b), MSG_DONTWAIT), w,
	    errname(we), recv(sv[1], b, sizeof(b), MSG_DONTWAIT));
	close2(sv);
}

/*
 * readv and writev on a socket with an iovec array that is not mapped: EFAULT. The
 * socket has been waited on first, so that the library knows it is one.
 */
static void case_iovec_efault(void)
{
	void *bad = inaccessible_page();
	struct late_write lw;
	char b[8];
	pthread_t t;
	int sv[2];
	long r;
	int e;

	make_socketpair(sv, 0);
	lw = (struct late_write){ sv[1], 20 };
	t = start(late_write_main, &lw);
	if (read(sv[0], b, sizeof(b)) != 5)
		die("read");
	join(t);
	put(sv[1], "0123456789", 10);
	errno = 0;
	r = readv(sv[0], bad, 1);
	e = errno;
	SAY(writev(sv[0], bad, 1), "readv=%ld %s", r, errname(e));
	munmap(bad, 4096);
	close2(sv);
}

/* MSG_PEEK with MSG_WAITALL on a stream: waits for the whole length, and peeks the
   stream from its start (a second peek for the rest would see the first bytes again);
   through recv or recvmsg. Into out: "ret=R E peeked=... read=R ...". */
static void peek_waitall(bool use_recvmsg, char *out, size_t len)
{
	int fds[2];
	char buf[11] = { 0 }, after[11] = { 0 };
	struct iovec iov = { buf, 10 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct late_write lw;
	pthread_t t;

	tcp_pair(fds);
	put(fds[1], "HELLO", 5);
	lw = (struct late_write){ fds[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	errno = 0;
	long r = use_recvmsg ? recvmsg(fds[0], &mh, MSG_PEEK | MSG_WAITALL)
			     : recv(fds[0], buf, 10, MSG_PEEK | MSG_WAITALL);
	int e = errno;
	long n = read(fds[0], after, 10);
	snprintf(out, len, "ret=%ld %s peeked=%s read=%ld %s", r, errname(e), buf, n, after);
	pthread_join(t, NULL);
	close2(fds);
}

static void case_recv_peek_waitall(void)
{
	char with_recv[80], with_recvmsg[80];

	peek_waitall(false, with_recv, sizeof(with_recv));
	peek_waitall(true, with_recvmsg, sizeof(with_recvmsg));
	say(0, 0, "recv: %s recvmsg: %s", with_recv, with_recvmsg);
}

static void *late_close_main(void *arg)
{
	msleep(20);
	close(*(int *)arg);
	return NULL;
}

/* A blocking recvmmsg that has a message and waits for the next when the peer closes
   with data unread (ECONNRESET): it returns the message, and the error is the next
   call's, as the kernel puts it back on the socket. */
static void case_recvmmsg_error_after_progress(void)
{
	int sv[2];
	char b[2][16], after[16];
	struct iovec iov[2] = { { b[0], sizeof(b[0]) }, { b[1], sizeof(b[1]) } };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };
	pthread_t t;
	long r2, r3;
	int e2, e3;

	make_socketpair(sv, 0);
	put(sv[0], "unread", 6);
	put(sv[1], "hello", 5);
	pthread_create(&t, NULL, late_close_main, &sv[1]);
	errno = 0;
	long r1 = recvmmsg(sv[0], mm, 2, 0, NULL);
	int e1 = errno;
	pthread_join(t, NULL);
	errno = 0;
	r2 = recv(sv[0], after, sizeof(after), 0);
	e2 = errno;
	errno = 0;
	r3 = recv(sv[0], after, sizeof(after), 0);
	e3 = errno;
	say(r1, e1, "len0=%u next=%ld %s then=%ld %s", mm[0].msg_len, r2, errname(e2), r3,
	    errname(e3));
	close(sv[0]);
}

/* A blocking recv of 0 bytes from a stream waits for something to come, then returns 0:
   here the peer's reset, which stays for the next call. */
static void case_recv_nothing_waits(void)
{
	int fds[2];
	char buf[8];
	pthread_t t;
	long r2;
	int e2;

	tcp_pair(fds);
	put(fds[0], "x", 1);   /* unread when the peer closes: a reset */
	pthread_create(&t, NULL, late_close_main, &fds[1]);
	errno = 0;
	long r1 = recv(fds[0], buf, 0, 0);
	int e1 = errno;
	pthread_join(t, NULL);
	errno = 0;
	r2 = recv(fds[0], buf, sizeof(buf), 0);
	e2 = errno;
	close(fds[0]);

	/* recvfrom then gives back an address of length 0: EFAULT without a length. */
	struct sockaddr_in from;
	socklen_t fromlen = sizeof(from);
	struct late_write lw;
	long rf[2] = { 0, 0 };
	int ef[2] = { 0, 0 };

	for (int with_len = 0; with_len < 2; with_len++) {
		tcp_pair(fds);
		lw = (struct late_write){ fds[1], 20 };
		pthread_create(&t, NULL, late_write_main, &lw);
		errno = 0;
		rf[with_len] = recvfrom(fds[0], buf, 0, 0, (struct sockaddr *)&from,
					with_len ? &fromlen : NULL);
		ef[with_len] = errno;
		pthread_join(t, NULL);
		close2(fds);
	}
	say(r1, e1, "next=%ld %s from_no_len=%ld %s from=%ld %s fromlen=%u", r2, errname(e2),
	    rf[0], errname(ef[0]), rf[1], errname(ef[1]), (unsigned)fromlen);
}

/* The same through recvmsg, and recvmmsg whose first buffer has length 0: the wait ends
   with the peer's reset, the message gets 0 bytes (an empty address, no ancillary data,
   no flags) and the reset is the next message's, here recvmmsg's second, put back for
   the next call as after any message. Not on an AF_UNIX stream, which looks again. */
static pthread_t nothing_then_reset(int *fds)
{
	pthread_t t;

	tcp_pair(fds);
	put(fds[0], "x", 1);   /* unread when the peer closes: a reset */
	pthread_create(&t, NULL, late_close_main, &fds[1]);
	errno = 0;
	return t;
}

/* Once the peer is gone: what the next recv takes. */
static long next_recv(pthread_t t, int fd, int *e)
{
	char buf[8];

	pthread_join(t, NULL);
	errno = 0;
	long r = recv(fd, buf, sizeof(buf), 0);
	*e = errno;
	close(fd);
	return r;
}

static void case_recvmsg_nothing_waits(void)
{
	int fds[2];
	char buf[8], name[32], control[64];
	struct iovec iov[2] = { { buf, 0 }, { buf, sizeof(buf) } };
	struct msghdr mh = { .msg_name = name, .msg_namelen = sizeof(name), .msg_iov = iov,
			     .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof(control), .msg_flags = -1 };
	int e2, e3;
	pthread_t t = nothing_then_reset(fds);
	long r1 = recvmsg(fds[0], &mh, 0);
	int e1 = errno;
	long r2 = next_recv(t, fds[0], &e2);

	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_name = name, .msg_namelen = sizeof(name),
						.msg_iov = &iov[0], .msg_iovlen = 1 },
				   .msg_len = 99 },
				 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 },
				   .msg_len = 99 } };
	t = nothing_then_reset(fds);
	long rm = recvmmsg(fds[0], mm, 2, 0, NULL);
	int em = errno;
	long r3 = next_recv(t, fds[0], &e3);

	/* An AF_UNIX stream looks again after its wait: it takes the reset. */
	make_socketpair(fds, 0);
	put(fds[0], "x", 1);
	pthread_create(&t, NULL, late_close_main, &fds[1]);
	errno = 0;
	long ru = recv(fds[0], buf, 0, 0);
	int eu = errno;
	pthread_join(t, NULL);
	close(fds[0]);
	say(r1, e1, "namelen=%u controllen=%zu flags=%#x next=%ld %s; recvmmsg=%ld %s len0=%u "
	    "namelen0=%u len1=%u next=%ld %s; unix=%ld %s", (unsigned)mh.msg_namelen,
	    (size_t)mh.msg_controllen, (unsigned)mh.msg_flags, r2, errname(e2), rm, errname(em),
	    mm[0].msg_len, (unsigned)mm[0].msg_hdr.msg_namelen, mm[1].msg_len, r3, errname(e3),
	    ru, errname(eu));
}

/* With TCP_INQ on, a receive of 0 bytes that waited still carries the kernel's
   TCP_CM_INQ message: the bytes queued, or 1 after the peer's FIN with none; cut short
   with MSG_CTRUNC where there is less room (none: the flag alone). */
struct inq_reply {
	long r;
	int e, inq, flags;
	size_t controllen;
};

static void inq_wait(int fd, size_t room, struct inq_reply *out)
{
	char buf[1];
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { buf, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = room ? control.b : NULL, .msg_controllen = room };

	memset(&control, 0, sizeof(control));
	errno = 0;
	out->r = recvmsg(fd, &mh, 0);
	out->e = errno;
	out->controllen = mh.msg_controllen;
	out->flags = mh.msg_flags;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	out->inq = c && c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ &&
			   c->cmsg_len == CMSG_LEN(sizeof(int)) ? *(int *)CMSG_DATA(c) : -1;
}

/* A byte from the peer of fd after 20 ms, while fd waits for it, then read. */
static void inq_wait_for_byte(int *fds, size_t room, struct inq_reply *out)
{
	pthread_t t;
	struct late_write lw = { fds[1], 20 };
	char b[16];

	pthread_create(&t, NULL, late_write_main, &lw);
	inq_wait(fds[0], room, out);
	pthread_join(t, NULL);
	if (recv(fds[0], b, sizeof(b), 0) <= 0)
		die("recv");
}

static void case_recvmsg_nothing_inq(void)
{
	int fds[2], one = 1;
	struct inq_reply w[4];
	pthread_t t;

	tcp_pair(fds);
	setsockopt(fds[0], IPPROTO_TCP, TCP_INQ, &one, sizeof(one));
	inq_wait_for_byte(fds, CMSG_SPACE(sizeof(int)), &w[0]);
	inq_wait_for_byte(fds, sizeof(struct cmsghdr), &w[1]);
	inq_wait_for_byte(fds, 0, &w[2]);
	pthread_create(&t, NULL, late_close_main, &fds[1]);
	inq_wait(fds[0], CMSG_SPACE(sizeof(int)), &w[3]);
	pthread_join(t, NULL);
	close(fds[0]);
	printf("%s:", current);
	for (int i = 0; i < 4; i++)
		printf(" %ld %s controllen=%zu flags=%#x inq=%d;", w[i].r, errname(w[i].e),
		       w[i].controllen, (unsigned)w[i].flags, w[i].inq);
	printf("\n");
}

/* recvmmsg with MSG_WAITFORONE whose first buffer has length 0, on TCP: the first
   message waits, gets 0 bytes, and what came is taken by the next without waiting. */
static void case_recvmmsg_nothing_then_more(void)
{
	int fds[2];
	char b[2][8];
	struct iovec iov[3] = { { b[0], 0 }, { b[0], sizeof(b[0]) }, { b[1], sizeof(b[1]) } };
	struct mmsghdr mm[3];
	pthread_t t;

	for (int i = 0; i < 3; i++)
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 },
					  .msg_len = 99 };
	tcp_pair(fds);
	struct late_write lw = { fds[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	errno = 0;
	long r = recvmmsg(fds[0], mm, 3, MSG_WAITFORONE, NULL);
	int e = errno;
	pthread_join(t, NULL);
	close2(fds);
	say(r, e, "len=%u,%u,%u", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
}

/* Two messages of 8 bytes for recvmmsg, into b[0] and b[1]. */
struct two_msgs {
	char b[2][8];
	struct iovec iov[2];
	struct mmsghdr mm[2];
};

static void two_msgs_init(struct two_msgs *m)
{
	for (int i = 0; i < 2; i++) {
		m->iov[i] = (struct iovec){ m->b[i], sizeof(m->b[i]) };
		m->mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &m->iov[i], .msg_iovlen = 1 } };
	}
}

/* recvmmsg with MSG_WAITALL on a stream fills each message before the next (with
   MSG_WAITFORONE, the first, and the rest take what is there); an error already waiting
   is its answer before any message, as for every recvmmsg. */
static void *late_write_8(void *arg)
{
	msleep(20);
	put(*(int *)arg, "defghijk", 8);
	return NULL;
}

/* A TCP pair whose peer has sent "abc" and sends "defghijk" a moment later: recvmmsg of
   two messages with flags meanwhile (fds stay open). */
static long recvmmsg_abc_then_8(int *fds, struct two_msgs *m, int flags, int *e)
{
	pthread_t t;

	two_msgs_init(m);
	tcp_pair(fds);
	put(fds[1], "abc", 3);
	pthread_create(&t, NULL, late_write_8, &fds[1]);
	errno = 0;
	long r = recvmmsg(fds[0], m->mm, 2, flags, NULL);
	*e = errno;
	pthread_join(t, NULL);
	return r;
}

static void case_recvmmsg_waitall_fills_first(void)
{
	int fds[2];
	struct two_msgs m;
	int e;
	long r = recvmmsg_abc_then_8(fds, &m, MSG_WAITALL | MSG_WAITFORONE, &e);

	close2(fds);

	/* The peer closes with data unread: a reset waits on the socket. */
	tcp_pair(fds);
	put(fds[0], "x", 1);
	close(fds[1]);
	msleep(20);
	errno = 0;
	long rr = recvmmsg(fds[0], m.mm, 2, MSG_WAITALL, NULL);
	int er = errno;
	close(fds[0]);
	say(r, e, "len=%u,%u %.8s|%.3s; reset waiting: %ld %s", m.mm[0].msg_len, m.mm[1].msg_len,
	    m.b[0], m.b[1], rr, errname(er));
}

/* recvfrom with an address but no length, and MSG_WAITALL: the kernel receives all it
   waits for, then fails to write the address back: EFAULT, with the data gone. */
static void case_recvfrom_no_length(void)
{
	int fds[2];
	char buf[8];
	struct sockaddr_in from;
	pthread_t t;

	tcp_pair(fds);
	put(fds[1], "abc", 3);
	struct late_write lw = { fds[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	errno = 0;
	long r = recvfrom(fds[0], buf, sizeof(buf), MSG_WAITALL, (struct sockaddr *)&from, NULL);
	int e = errno;
	pthread_join(t, NULL);
	errno = 0;
	long left = recv(fds[0], buf, sizeof(buf), MSG_DONTWAIT);
	int el = errno;
	close2(fds);
	say(r, e, "left=%ld %s", left, errname(el));
}

/* recvmmsg with a zero timeout and messages queued: the kernel looks at the timeout
   after each message, so the call ends after the first (with MSG_WAITFORONE too). */
static void case_recvmmsg_zero_timeout(void)
{
	int sv[2];
	char b[3][8];
	struct iovec iov[3];
	struct mmsghdr mm[3];
	int got[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		die("socketpair");
	for (int i = 0; i < 6; i++)
		put(sv[1], "dgram", 5);
	for (int pass = 0; pass < 2; pass++) {
		struct timespec zero = { 0, 0 };

		for (int i = 0; i < 3; i++) {
			iov[i] = (struct iovec){ b[i], sizeof(b[i]) };
			mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		got[pass] = recvmmsg(sv[0], mm, 3, pass ? MSG_WAITFORONE : 0, &zero);
	}
	SAY(recvmmsg(sv[0], mm, 3, 0, NULL), "zero_timeout=%d waitforone=%d", got[0], got[1]);
	close2(sv);
}

/* recvmmsg with a timeout writes back the time left once it has a message: counted
   from the call, waits included. Two datagrams come 100 and 200 ms after a call with
   1 s, so about 800 ms are left. */
static void *two_late_dgrams(void *arg)
{
	for (int i = 0; i < 2; i++) {
		msleep(100);
		put(*(int *)arg, "dgram", 5);
	}
	return NULL;
}

static void case_recvmmsg_time_left(void)
{
	int sv[2];
	struct two_msgs m;
	struct timespec ts = { 1, 0 };
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		die("socketpair");
	two_msgs_init(&m);
	pthread_create(&t, NULL, two_late_dgrams, &sv[1]);
	long r = recvmmsg(sv[0], m.mm, 2, 0, &ts);
	int e = errno;
	pthread_join(t, NULL);
	long left_ms = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	say(r, e, "left_under_900ms=%s left_over_0=%s", yes(left_ms < 900), yes(left_ms > 0));
	close2(sv);
}

/* A timeout recvmmsg cannot read is EFAULT before anything is received; one it cannot
   write back is EFAULT after, with the message gone. Both while the message is late. */
static void *late_dgram(void *arg)
{
	msleep(20);
	put(*(int *)arg, "dgram", 5);
	return NULL;
}

static void case_recvmmsg_timeout_fault(void)
{
	static const struct timespec read_only = { 1, 0 };
	int sv[2], e[2];
	long r[2];
	struct two_msgs m;
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		die("socketpair");
	two_msgs_init(&m);
	for (int i = 0; i < 2; i++) {
		pthread_create(&t, NULL, late_dgram, &sv[1]);
		errno = 0;
		r[i] = recvmmsg(sv[0], m.mm, 2, 0,
				i ? (struct timespec *)&read_only : (struct timespec *)16);
		e[i] = errno;
		pthread_join(t, NULL);
	}
	long left = recv(sv[0], m.b[0], sizeof(m.b[0]), MSG_DONTWAIT);
	say(left, errno, "unreadable=%ld %s read_only=%ld %s; then", r[0], errname(e[0]), r[1],
	    errname(e[1]));
	close2(sv);
}

/* preadv2 with an RWF_* flag the kernel does not know: EOPNOTSUPP, the kernel's answer
   to the flag, not a sign that the pipe cannot be read without waiting (the library then
   waited for the pipe's read end to be writable in the writev that follows). */
static void case_preadv2_unknown_flag(void)
{
	int p[2];
	char buf[8];
	struct iovec iov = { buf, sizeof(buf) };
	long r2;
	int e2;

	make_pipe(p, 0);
	errno = 0;
	long r1 = preadv2(p[0], &iov, 1, -1, 0x1000);
	int e1 = errno;
	errno = 0;
	r2 = writev(p[0], &iov, 1);
	e2 = errno;
	say(r1, e1, "writev_read_end=%ld %s", r2, errname(e2));
	close2(p);
}

/* recv with MSG_WAITALL that has part of its length when the peer resets: it returns
   that part; an AF_UNIX stream takes the error with it, TCP leaves it for the next call.
   Into out: "first=R E next=R E". */
static void waitall_then_reset(int fds[2], char *out, size_t len)
{
	char buf[100];
	pthread_t t;

	put(fds[0], "unread", 6);   /* unread when the peer closes: a reset */
	put(fds[1], "hello", 5);
	pthread_create(&t, NULL, late_close_main, &fds[1]);
	errno = 0;
	long r1 = recv(fds[0], buf, sizeof(buf), MSG_WAITALL);
	int e1 = errno;
	pthread_join(t, NULL);
	errno = 0;
	long r2 = recv(fds[0], buf, sizeof(buf), 0);
	int e2 = errno;
	snprintf(out, len, "first=%ld %s next=%ld %s", r1, errname(e1), r2, errname(e2));
	close(fds[0]);
}

static void case_recv_waitall_then_reset(void)
{
	int fds[2];
	char unix_stream[80], tcp[80];

	make_socketpair(fds, 0);
	waitall_then_reset(fds, unix_stream, sizeof(unix_stream));
	tcp_pair(fds);
	waitall_then_reset(fds, tcp, sizeof(tcp));
	say(0, 0, "unix: %s tcp: %s", unix_stream, tcp);
}

/* O_NONBLOCK belongs to the open file, which a dup's two numbers share: set through one
   number, a read through the other says EAGAIN instead of waiting (a late write ends
   the wait of a library that missed it). */
static void case_nonblock_through_dup(void)
{
	int sv[2];
	char buf[8];
	struct late_write lw;
	pthread_t t;

	make_socketpair(sv, 0);
	int d = dup(sv[0]);
	lw = (struct late_write){ sv[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	long first = read(d, buf, sizeof(buf));   /* waits: d is blocking */
	pthread_join(t, NULL);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	lw = (struct late_write){ sv[1], 200 };
	pthread_create(&t, NULL, late_write_main, &lw);
	errno = 0;
	long nonblocking = read(d, buf, sizeof(buf));
	int e = errno;
	pthread_join(t, NULL);
	if (read(d, buf, sizeof(buf)) != 5)   /* what the late write sent */
		die("read");
	/* And back: made blocking through sv[0], a read through d waits for the data. */
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) & ~O_NONBLOCK);
	lw = (struct late_write){ sv[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	long blocking = read(d, buf, sizeof(buf));
	pthread_join(t, NULL);
	say(nonblocking, e, "first=%ld blocking_again=%ld", first, blocking);
	close(d);
	close2(sv);
}

/* recv of urgent data from a stream socket a read has just emptied: EINVAL at once,
   there is none (the library took the socket for one to wait on, and waited). */
static void case_recv_oob_after_emptied(void)
{
	int fds[2];
	char buf[100];

	tcp_pair(fds);
	put(fds[1], "x", 1);
	if (read(fds[0], buf, sizeof(buf)) != 1)
		die("read");
	SAY(recv(fds[0], buf, sizeof(buf), MSG_OOB), NULL);
	close2(fds);
}

/* sendmmsg whose second message cannot be read: the count of messages sent, and errno
   as the call found it (the kernel reports an error only when nothing went). */
static void case_sendmmsg_error_after_progress(void)
{
	int sv[2];
	char buf[8];
	struct iovec iov[2] = { { "ab", 2 }, { (void *)16, 10 } };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };

	make_socketpair(sv, 0);
	SAY(sendmmsg(sv[0], mm, 2, 0), "len0=%u received=%zd", mm[0].msg_len,
	    recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT));
	close2(sv);
}

/* sendmmsg of no message still checks its descriptor. */
static void case_sendmmsg_none_ebadf(void)
{
	struct mmsghdr mm;

	SAY(sendmmsg(closed_fd(), &mm, 0, 0), NULL);
}

/* A receive from the empty error queue of a TCP socket says EAGAIN: it never waits. */
static void case_recv_errqueue(void)
{
	char b[8];
	int fds[2];

	tcp_pair(fds);
	SAY(recv(fds[0], b, sizeof(b), MSG_ERRQUEUE), NULL);
	close2(fds);
}

/* recvmmsg on a stream socket with data waiting: it counts messages, not bytes. */
static void case_recvmmsg_stream(void)
{
	char b0[8], b1[8];
	struct iovec iov[2] = { { b0, sizeof(b0) }, { b1, sizeof(b1) } };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &iov[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &iov[1], .msg_iovlen = 1 } } };
	int sv[2];

	make_socketpair(sv, 0);
	put(sv[1], "abc", 3);
	SAY(recvmmsg(sv[0], mm, 2, MSG_WAITFORONE, NULL), "len0=%u", mm[0].msg_len);
	close2(sv);
}

/* ---- connection errors -------------------------------------------------------------- */

static void case_connect_refused(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port);
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	close(l); /* nothing listens on the port any more */
	SAY(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), NULL);
	close(fd);
}

/* A blocking connect leaves the socket connected: connect again says EISCONN. */
static void case_connect_twice(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port), c = tcp_connect(port);
	struct sockaddr_in sa = loopback(port);

	SAY(connect(c, (struct sockaddr *)&sa, sizeof(sa)), NULL);
	close(c);
	close(l);
}

/* After a refusal it is unconnected: connect again tries again, and is refused. */
static void case_connect_refused_twice(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port), c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = loopback(port);
	long r;
	int e;

	close(l);
	errno = 0;
	r = connect(c, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	SAY(connect(c, (struct sockaddr *)&sa, sizeof(sa)), "first=%ld %s", r, errname(e));
	close(c);
}

static void case_connect_nonblock(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port);
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, e, soerr = -1, pr;

	errno = 0;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	pr = poll(&pfd, 1, 5000);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	say(r, e, "poll=%d revents=%#x so_error=%s", pr, pfd.revents, errname(soerr));
	close(fd);
	close(l);
}

static void case_connect_nonblock_refused(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port);
	struct sockaddr_in sa = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, e, soerr = -1, pr;

	close(l);
	errno = 0;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	pr = poll(&pfd, 1, 5000);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	say(r, e, "poll=%d so_error=%s", pr, errname(soerr));
	close(fd);
}

/* ---- broken pipes ------------------------------------------------------------------- */

static void case_write_epipe(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int p[2];

	sigaction(SIGPIPE, &ign, &old);
	make_pipe(p, 0);
	close(p[0]);
	SAY(write(p[1], "x", 1), NULL);
	close(p[1]);
	sigaction(SIGPIPE, &old, NULL);
}

static void case_send_epipe_nosignal(void)
{
	int sv[2];

	make_socketpair(sv, 0);
	close(sv[1]);
	SAY(send(sv[0], "x", 1, MSG_NOSIGNAL), NULL);
	close(sv[0]);
}

/* Resets the connection after a delay, from another thread: ends a blocked writer's wait. */
struct late_reset {
	int fd;
	long delay_ms;
};

static void *late_reset_main(void *arg)
{
	struct late_reset *lr = arg;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	msleep(lr->delay_ms);
	if (setsockopt(lr->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0)
		die("SO_LINGER");
	close(lr->fd);
	return NULL;
}

/*
 * The peer resets the connection while a blocking write waits for room: the write returns
 * what it sent, and the reset is the next call's error (ECONNRESET, no SIGPIPE); only the
 * call after that says EPIPE. Printed: the second write's result, and what the first and
 * the third did.
 */
static void case_write_after_reset(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct late_reset lr;
	size_t len = 8 * MIB;
	char *buf = calloc(1, len);
	int fds[2];
	pthread_t t;
	const char *first;
	ssize_t r;

	if (!buf)
		die("calloc");
	sigaction(SIGPIPE, &ign, &old);
	tcp_pair(fds);
	lr = (struct late_reset){ .fd = fds[0], .delay_ms = 100 };
	t = start(late_reset_main, &lr);
	r = write(fds[1], buf, len);
	first = r > 0 && (size_t)r < len ? "part" : r < 0 ? errname(errno) : "all";
	join(t);
	SAY(write(fds[1], "x", 1), "first=%s third=%s", first,
	    write(fds[1], "x", 1) < 0 ? errname(errno) : "written");
	close(fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	free(buf);
}

/* The default SIGPIPE action kills the writer: shown in a child process. */
static void case_sigpipe_child(void)
{
	int p[2], status;
	pid_t pid;

	make_pipe(p, 0);
	close(p[0]); /* before fork: no process holds a read end */
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (write(p[1], "x", 1) < 0)
			_exit(2);
		_exit(1);
	}
	close(p[1]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	if (WIFSIGNALED(status))
		say(0, 0, "child=SIG%s", sigabbrev_np(WTERMSIG(status)));
	else
		say(0, 0, "child=exit %d", WEXITSTATUS(status));
}

/* ---- non-blocking descriptors ------------------------------------------------------- */

static void case_nonblock_sock_flag(void)
{
	int sv[2];
	char b[8];

	make_socketpair(sv, SOCK_NONBLOCK);
	SAY(read(sv[0], b, sizeof(b)), "flags=%#x", flags_of(sv[0]));
	close2(sv);
}

static void case_nonblock_fcntl(void)
{
	int sv[2];
	char b[8];

	make_socketpair(sv, 0);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	SAY(recv(sv[0], b, sizeof(b), 0), "flags=%#x", flags_of(sv[0]));
	close2(sv);
}

static void case_nonblock_fionbio(void)
{
	int sv[2], on = 1;
	char b[8];

	make_socketpair(sv, 0);
	if (ioctl(sv[0], FIONBIO, &on) != 0)
		die("FIONBIO");
	SAY(read(sv[0], b, sizeof(b)), "flags=%#x", flags_of(sv[0]));
	close2(sv);
}

static void case_nonblock_pipe(void)
{
	int p[2];
	char b[8];

	make_pipe(p, O_NONBLOCK);
	SAY(read(p[0], b, sizeof(b)), "flags=%#x", flags_of(p[0]));
	close2(p);
}

static void case_nonblock_tcp(void)
{
	int fds[2];
	char b[8];

	tcp_pair(fds);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	SAY(recv(fds[1], b, sizeof(b), 0), "flags=%#x", flags_of(fds[1]));
	close2(fds);
}

static void case_nonblock_accept(void)
{
	uint16_t port;
	int l = tcp_listener(SOCK_NONBLOCK, &port);

	SAY(accept(l, NULL, NULL), NULL);
	close(l);
}

static void case_nonblock_pipe_full(void)
{
	static char buf[4096];
	long total = 0;
	ssize_t n;
	int p[2];

	make_pipe(p, O_NONBLOCK);
	errno = 0;
	while ((n = write(p[1], buf, sizeof(buf))) > 0)
		total += n;
	say(n, errno, "written=%ld", total);
	close2(p);
}

static void case_msg_dontwait(void)
{
	int sv[2];
	char b[8];

	make_socketpair(sv, 0);
	/* Non-blocking for this call only: the descriptor stays blocking. */
	SAY(recv(sv[0], b, sizeof(b), MSG_DONTWAIT), "flags=%#x", flags_of(sv[0]));
	close2(sv);
}

/* A program that clears O_NONBLOCK expects the next read to block again. */
static void case_nonblock_cleared(void)
{
	int sv[2];
	char b[8];
	struct late_write lw;
	pthread_t t;

	make_socketpair(sv, SOCK_NONBLOCK);
	fcntl(sv[0], F_SETFL, 0);
	lw = (struct late_write){ sv[1], 50 };
	t = start(late_write_main, &lw);
	SAY(read(sv[0], b, sizeof(b)), "flags=%#x", flags_of(sv[0]));
	join(t);
	close2(sv);
}

/* ---- partial reads, EOF, zero lengths ----------------------------------------------- */

static void case_partial_read(void)
{
	char b[100];
	int p[2];

	make_pipe(p, 0);
	put(p[1], "0123456789", 10);
	SAY(read(p[0], b, sizeof(b)), NULL);
	close2(p);
}

static void case_eof_pipe(void)
{
	char b[8];
	int p[2];

	make_pipe(p, 0);
	close(p[1]);
	SAY(read(p[0], b, sizeof(b)), NULL);
	close(p[0]);
}

static void case_eof_socket(void)
{
	char b[8];
	int fds[2];

	tcp_pair(fds);
	close(fds[0]);
	SAY(recv(fds[1], b, sizeof(b), 0), NULL);
	close(fds[1]);
}

/* A pipe returns 0 for a 0-byte read at once, data or not. */
static void case_read_zero(void)
{
	char b[8];
	int p[2];

	make_pipe(p, 0);
	SAY(read(p[0], b, 0), NULL);
	close2(p);
}

static void case_write_zero(void)
{
	int p[2];

	make_pipe(p, 0);
	SAY(write(p[1], "", 0), NULL);
	close2(p);
}

struct blocked_recv {
	int fd;
	ssize_t ret;
	int err;
};

static void *blocked_recv_main(void *arg)
{
	struct blocked_recv *br = arg;
	char b[8];

	errno = 0;
	br->ret = recv(br->fd, b, sizeof(b), 0);
	br->err = errno;
	return NULL;
}

/* shutdown() by another thread wakes a reader blocked on the socket with EOF. */
static void case_shutdown_wakes_reader(void)
{
	struct blocked_recv br;
	int fds[2];
	pthread_t t;

	tcp_pair(fds);
	br = (struct blocked_recv){ .fd = fds[1] };
	t = start(blocked_recv_main, &br);
	msleep(50);
	shutdown(fds[1], SHUT_RDWR);
	join(t);
	say(br.ret, br.err, NULL);
	close2(fds);
}

/* ---- large writes and MSG_WAITALL --------------------------------------------------- */

struct slow_reader {
	int fd;
	long total;
	uint32_t sum;
};

/* Reads in small pieces with pauses, so that the writer fills the buffer and must wait. */
static void *slow_reader_main(void *arg)
{
	struct slow_reader *sr = arg;
	unsigned char b[4096];
	ssize_t n;

	while ((n = read(sr->fd, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sr->sum = sr->sum * 31 + b[i];
		sr->total += n;
		if (sr->total % (64 * 1024) < 4096)
			msleep(2);
	}
	return NULL;
}

static unsigned char *pattern_mib(uint32_t *sum)
{
	unsigned char *buf = malloc(MIB);

	if (!buf)
		die("malloc");
	*sum = 0;
	for (long i = 0; i < MIB; i++) {
		buf[i] = (unsigned char)(i * 7 + i / 251);
		*sum = *sum * 31 + buf[i];
	}
	return buf;
}

/* One blocking write of 1 MiB returns 1 MiB, however slowly the peer reads. */
static void big_write(int wfd, int rfd, bool use_send)
{
	struct slow_reader sr = { .fd = rfd };
	uint32_t sum;
	unsigned char *buf = pattern_mib(&sum);
	pthread_t t = start(slow_reader_main, &sr);
	ssize_t r;
	int e;

	errno = 0;
	r = use_send ? send(wfd, buf, MIB, 0) : write(wfd, buf, MIB);
	e = errno;
	close(wfd);
	join(t);
	say(r, e, "received=%ld intact=%s", sr.total, yes(sr.sum == sum));
	close(rfd);
	free(buf);
}

static void case_big_write_socketpair(void)
{
	int sv[2];

	make_socketpair(sv, 0);
	big_write(sv[0], sv[1], false);
}

static void case_big_write_pipe(void)
{
	int p[2];

	make_pipe(p, 0);
	big_write(p[1], p[0], false);
}

static void case_big_send_tcp(void)
{
	int fds[2];

	tcp_pair(fds);
	big_write(fds[0], fds[1], true);
}

struct dribble {
	int fd;
};

static void *dribble_main(void *arg)
{
	struct dribble *d = arg;

	for (int i = 0; i < 10; i++) {
		put(d->fd, "0123456789", 10);
		msleep(5);
	}
	return NULL;
}

static void case_recv_waitall(void)
{
	struct dribble d;
	char b[100];
	int fds[2];
	pthread_t t;
	ssize_t r;
	int e;

	tcp_pair(fds);
	d.fd = fds[0];
	t = start(dribble_main, &d);
	errno = 0;
	r = recv(fds[1], b, sizeof(b), MSG_WAITALL);
	e = errno;
	join(t);
	say(r, e, "last=%c", b[99]);
	close2(fds);
}

/* ---- poll, select, epoll ------------------------------------------------------------ */

static void case_poll_timeout(void)
{
	struct pollfd pfd;
	struct timespec t0;
	int p[2];

	make_pipe(p, 0);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = mono();
	SAY(poll(&pfd, 1, 50), "revents=%#x waited_50ms=%s", pfd.revents,
	    yes(elapsed_ms(t0) >= 50));
	close2(p);
}

static void case_poll_data(void)
{
	struct pollfd pfd;
	int p[2];

	make_pipe(p, 0);
	put(p[1], "x", 1);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN | POLLOUT };
	SAY(poll(&pfd, 1, 50), "revents=%#x", pfd.revents);
	close2(p);
}

static void case_poll_wakes(void)
{
	struct late_write lw;
	struct pollfd pfd;
	pthread_t t;
	int p[2];

	make_pipe(p, 0);
	lw = (struct late_write){ p[1], 50 };
	t = start(late_write_main, &lw);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	SAY(poll(&pfd, 1, -1), "revents=%#x", pfd.revents);
	join(t);
	close2(p);
}

static void case_poll_nval(void)
{
	struct pollfd pfd = { .fd = closed_fd(), .events = POLLIN };

	SAY(poll(&pfd, 1, 50), "revents=%#x", pfd.revents);
}

static void case_poll_negative_fd(void)
{
	struct pollfd pfd[2];
	int p[2];

	make_pipe(p, 0);
	put(p[1], "x", 1);
	pfd[0] = (struct pollfd){ .fd = -1, .events = POLLIN, .revents = 0x7 };
	pfd[1] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	SAY(poll(pfd, 2, 50), "revents=%#x,%#x", pfd[0].revents, pfd[1].revents);
	close2(p);
}

/* Polls fd alone for events, a second at most, and says what came back. */
static void say_poll(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	SAY(poll(&pfd, 1, 1000), "revents=%#x", pfd.revents);
}

static void case_poll_hup_socket(void)
{
	int sv[2];

	make_socketpair(sv, 0);
	close(sv[1]);
	say_poll(sv[0], POLLIN | POLLRDHUP);
	close(sv[0]);
}

static void case_poll_hup_pipe(void)
{
	int p[2];

	make_pipe(p, 0);
	close(p[1]);
	say_poll(p[0], POLLIN);
	close(p[0]);
}

static void case_poll_err_pipe(void)
{
	int p[2];

	make_pipe(p, 0);
	close(p[0]);
	say_poll(p[1], POLLOUT);
	close(p[1]);
}

static void case_poll_rdhup_tcp(void)
{
	int fds[2];

	tcp_pair(fds);
	shutdown(fds[0], SHUT_WR);
	say_poll(fds[1], POLLIN | POLLRDHUP);
	close2(fds);
}

static void case_poll_no_fds(void)
{
	struct timespec t0 = mono();

	SAY(poll(NULL, 0, 30), "waited_30ms=%s", yes(elapsed_ms(t0) >= 30));
}

static void case_ppoll_timeout(void)
{
	struct timespec ts = { 0, 50 * 1000000 }, t0;
	struct pollfd pfd;
	int p[2];

	make_pipe(p, 0);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	t0 = mono();
	SAY(ppoll(&pfd, 1, &ts, NULL), "waited_50ms=%s", yes(elapsed_ms(t0) >= 50));
	close2(p);
}

/*
 * A number past the end of the kernel's descriptor table is ignored, and its bit left as
 * it was; the table is as long as the highest number the process ever held needs (a
 * power of two, 64 at least). The library's own numbers near 4,096 must not change that.
 */
static void select_past_table_after(long usec)
{
	fd_set r;
	struct timeval tv = { 0, usec };

	FD_ZERO(&r);
	FD_SET(1000, &r);
	SAY(select(1001, &r, NULL, NULL, &tv), "set=%d", FD_ISSET(1000, &r) != 0);
}

static void case_select_past_table(void)
{
	select_past_table_after(1000);
}

/* The same with a zero timeout, which the library leaves to libc. */
static void case_select_past_table_polled(void)
{
	select_past_table_after(0);
}

/*
 * The kernel reads no more of the sets than its table holds: sets whose memory ends
 * past it are no fault, and a call that succeeds leaves errno alone.
 */
static void case_select_past_table_unreadable(void)
{
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct timeval tv = { 0, 1000 };
	fd_set *r;

	if (two == MAP_FAILED || mprotect(two + 4096, 4096, PROT_NONE) != 0)
		die("mmap");
	/* The table made 1,024 long, and a whole fd_set (1,024 numbers) readable, no more. */
	close(fcntl(0, F_DUPFD, 1000));
	r = (fd_set *)(two + 4096 - sizeof(fd_set));
	FD_ZERO(r);
	SAY(select(2001, r, NULL, NULL, &tv), NULL);
	munmap(two, 8192);
}

/* A number the process held once is inside the table: closed, it is EBADF to select. */
static void case_select_closed_in_table(void)
{
	fd_set r;
	struct timeval tv = { 0, 1000 };
	int fd = fcntl(0, F_DUPFD, 600);

	close(fd);
	FD_ZERO(&r);
	FD_SET(fd, &r);
	SAY(select(fd + 1, &r, NULL, NULL, &tv), "fd=%d set=%d", fd, FD_ISSET(fd, &r) != 0);
}

/* A high number made by a raw system call, which no hook sees, is selected as any. */
static void case_select_unseen_high(void)
{
	fd_set r;
	struct timeval tv = { 1, 0 };
	int p[2], high = 900;

	make_pipe(p, 0);
	if (write(p[1], "x", 1) != 1 || syscall(SYS_dup3, p[0], high, 0) != high) {
		printf("select_unseen_high: setup failed\n");
		return;
	}
	FD_ZERO(&r);
	FD_SET(high, &r);
	SAY(select(high + 1, &r, NULL, NULL, &tv), "set=%d", FD_ISSET(high, &r) != 0);
	close(high);
	close2(p);
}

/* select with a set that is not mapped: EFAULT from the kernel. */
static void case_select_efault(void)
{
	void *bad = inaccessible_page();
	struct timeval tv = { 0, 1000 };

	SAY(select(4, bad, NULL, NULL, &tv), NULL);
	munmap(bad, 4096);
}

static void case_select_timeout(void)
{
	struct timeval tv = { 0, 50000 };
	struct timespec t0;
	fd_set rd;
	int p[2];

	make_pipe(p, 0);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	t0 = mono();
	/* Linux writes the time left back into tv: none, after a timeout. */
	SAY(select(p[0] + 1, &rd, NULL, NULL, &tv), "set=%d tv=%ld.%06ld waited_50ms=%s",
	    FD_ISSET(p[0], &rd), (long)tv.tv_sec, (long)tv.tv_usec, yes(elapsed_ms(t0) >= 50));
	close2(p);
}

static void case_select_wakes(void)
{
	struct late_write lw;
	fd_set rd;
	pthread_t t;
	int p[2];

	make_pipe(p, 0);
	lw = (struct late_write){ p[1], 50 };
	t = start(late_write_main, &lw);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	SAY(select(p[0] + 1, &rd, NULL, NULL, NULL), "set=%d", FD_ISSET(p[0], &rd));
	join(t);
	close2(p);
}

static void case_epoll_timeout(void)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct timespec t0;
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC);

	make_pipe(p, 0);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	t0 = mono();
	SAY(epoll_wait(ep, &out, 1, 50), "waited_50ms=%s", yes(elapsed_ms(t0) >= 50));
	close2(p);
	close(ep);
}

static void case_epoll_wakes(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 42 }, out = { 0 };
	struct late_write lw;
	pthread_t t;
	int p[2], ep = epoll_create1(EPOLL_CLOEXEC);

	make_pipe(p, 0);
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
	lw = (struct late_write){ p[1], 50 };
	t = start(late_write_main, &lw);
	SAY(epoll_wait(ep, &out, 1, -1), "events=%#x data=%u", out.events, out.data.u32);
	join(t);
	close2(p);
	close(ep);
}

/* ---- sleeping ----------------------------------------------------------------------- */

static void case_nanosleep_einval(void)
{
	struct timespec ts = { 0, 1000000000 };

	SAY(nanosleep(&ts, NULL), NULL);
}

static void case_nanosleep_negative(void)
{
	struct timespec ts = { -1, 0 };

	SAY(nanosleep(&ts, NULL), NULL);
}

static void case_nanosleep_efault(void)
{
	SAY(nanosleep(null_ptr, NULL), NULL);
}

/* Requests that are not mapped, and a negative absolute time: EFAULT, EINVAL. */
static void case_sleep_bad_request(void)
{
	void *bad = inaccessible_page();
	struct timespec neg = { -1, 0 };
	long r;
	int e;

	errno = 0;
	r = nanosleep(bad, NULL);
	e = errno;
	errno = 0;
	say(r, e, "clock_nanosleep=%d abstime_negative=%d errno_after=%s",
	    clock_nanosleep(CLOCK_MONOTONIC, 0, bad, NULL),
	    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &neg, NULL), errname(errno));
	munmap(bad, 4096);
}

static void case_nanosleep_zero(void)
{
	struct timespec ts = { 0, 0 };

	SAY(nanosleep(&ts, NULL), NULL);
}

/* The child of fork: its thread sleeps on a request its process changed, which is
   still valid at the same address in the parent; its nanosleep must read the child's. */
static struct timespec forked_request = { 0, 1000 };

static void *sleep_on_forked_request(void *unused)
{
	(void)unused;
	errno = 0;
	long r = nanosleep(&forked_request, NULL);
	return (void *)(intptr_t)(r == -1 && errno == EINVAL ? 0 : r == 0 ? 1 : 2);
}

static void case_nanosleep_in_fork_child(void)
{
	pthread_t t;
	void *res;
	int status;

	if (nanosleep(&forked_request, NULL) != 0)   /* a request read in the parent first */
		die("nanosleep");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		forked_request.tv_nsec = 1000000000;
		if (pthread_create(&t, NULL, sleep_on_forked_request, NULL) != 0 ||
		    pthread_join(t, &res) != 0)
			_exit(3);
		_exit((int)(intptr_t)res);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	/* 0: EINVAL, as the child's request says; 1: it slept, on the parent's. */
	say(0, 0, "child=%s", WIFEXITED(status) ? (const char *[]){ "EINVAL", "slept",
		"other", "no thread" }[WEXITSTATUS(status) & 3] : "killed");
}

/* clock_nanosleep returns the error number and leaves errno alone. */
static void case_clock_nanosleep_einval(void)
{
	struct timespec ts = { 0, 1000000000 };

	SAY(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), NULL);
}

static void case_clock_nanosleep_bad_clock(void)
{
	struct timespec ts = { 0, 1000 };

	SAY(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &ts, NULL), NULL);
}

static void case_clock_nanosleep_past(void)
{
	struct timespec ts = { 1, 0 }; /* long past on CLOCK_MONOTONIC */

	SAY(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL), NULL);
}

static void case_usleep_zero(void)
{
	SAY(usleep(0), NULL);
}

static void case_sleep_zero(void)
{
	SAY(sleep(0), NULL);
}

/* ---- signals interrupting blocked calls --------------------------------------------- */

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void catch_usr1(bool restart, struct sigaction *old)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = restart ? SA_RESTART : 0 };

	sigemptyset(&sa.sa_mask);
	handled = 0;
	sigaction(SIGUSR1, &sa, old);
}

struct interrupted {
	int (*call)(struct interrupted *);
	int fd;
	atomic_bool done;
	long ret;
	int err;
	long extra;
};

static void *interrupted_main(void *arg)
{
	struct interrupted *in = arg;

	errno = 0;
	in->ret = in->call(in);
	in->err = errno;
	atomic_store(&in->done, true);
	return NULL;
}

/*
 * Runs in->call in a thread and signals that thread until the call returns. A signal that
 * lands before the call blocks only runs the handler, so the outcome does not depend on
 * timing: the first signal that finds the call blocked decides. With write_after > 0, the
 * thread gets that many signals, then data on fd_to_write (for SA_RESTART cases).
 */
static void interrupt(struct interrupted *in, bool restart, int write_after, int fd_to_write)
{
	struct sigaction old;
	pthread_t t;

	catch_usr1(restart, &old);
	t = start(interrupted_main, in);
	for (int i = 0; !atomic_load(&in->done); i++) {
		if (i == 200) {
			/* Natively the first signal or the data ends the call within 20 ms. */
			printf("%s: still blocked after %d signals in 2 s\n", current, i);
			exit(1);
		}
		msleep(10);
		if (write_after && i == write_after)
			put(fd_to_write, "hello", 5);
		pthread_kill(t, SIGUSR1);
	}
	join(t);
	sigaction(SIGUSR1, &old, NULL);
}

static int call_read(struct interrupted *in)
{
	char b[8];

	return (int)read(in->fd, b, sizeof(b));
}

static int call_poll(struct interrupted *in)
{
	struct pollfd pfd = { .fd = in->fd, .events = POLLIN };

	return poll(&pfd, 1, -1);
}

static int call_accept(struct interrupted *in)
{
	return accept(in->fd, NULL, NULL);
}

/* extra: the time left came back, more than nothing and no more than asked. */
static int call_nanosleep(struct interrupted *in)
{
	struct timespec ts = { 10, 0 }, rem = { 0, 0 };
	int r = nanosleep(&ts, &rem);

	in->extra = (rem.tv_sec || rem.tv_nsec) &&
		    (rem.tv_sec < 10 || (rem.tv_sec == 10 && rem.tv_nsec == 0));
	return r;
}

/* sleep() reports through its return value only: errno after it is unspecified. */
static int call_sleep(struct interrupted *in)
{
	int left = (int)sleep(10);

	in->extra = left > 0 && left <= 10;
	errno = 0;
	return 0;
}

static void case_read_eintr(void)
{
	struct interrupted in = { .call = call_read };
	int p[2];

	make_pipe(p, 0);
	in.fd = p[0];
	interrupt(&in, false, 0, -1);
	say(in.ret, in.err, "handler=%s", yes(handled > 0));
	close2(p);
}

static void case_read_restart(void)
{
	struct interrupted in = { .call = call_read };
	int p[2];

	make_pipe(p, 0);
	in.fd = p[0];
	interrupt(&in, true, 5, p[1]);
	say(in.ret, in.err, "handler=%s", yes(handled > 0));
	close2(p);
}

/* A recv of 0 bytes from TCP ends at the first signal that finds it waiting, with 0,
   SA_RESTART or not: tcp_recvmsg's loop ends on the length left. extra: what was queued
   when it returned (the data comes only after a few signals). */
static int call_recv_nothing(struct interrupted *in)
{
	char b[1];
	int r = (int)recv(in->fd, b, 0, 0), e = errno, queued = -1;

	ioctl(in->fd, FIONREAD, &queued);
	in->extra = queued;
	errno = e;
	return r;
}

static void case_recv_nothing_signal_restart(void)
{
	int fds[2];
	struct interrupted in = { .call = call_recv_nothing };

	tcp_pair(fds);
	in.fd = fds[0];
	interrupt(&in, true, 5, fds[1]);
	close2(fds);
	say(in.ret, in.err, "queued=%ld handled=%s", in.extra, handled > 0 ? "yes" : "no");
}

/* recvmmsg with MSG_PEEK | MSG_WAITALL: each message peeks from the start of the queue,
   the first once the whole length can be peeked; nothing is taken. */
static void case_recvmmsg_peek_waitall(void)
{
	int fds[2];
	struct two_msgs m;
	char after[8];
	int e;
	long r = recvmmsg_abc_then_8(fds, &m, MSG_PEEK | MSG_WAITALL, &e);
	long got = recv(fds[0], after, sizeof(after), 0);
	close2(fds);
	say(r, e, "len=%u,%u %.8s|%.8s then recv=%ld %.8s", m.mm[0].msg_len, m.mm[1].msg_len,
	    m.b[0], m.b[1], got, after);
}

/* recvmmsg with MSG_WAITALL: the first message is whole, the peer resets while the
   second waits: the call returns the first, and the reset is the next call's. */
static void case_recvmmsg_waitall_reset_stays(void)
{
	int fds[2];
	struct two_msgs m;
	pthread_t t;

	two_msgs_init(&m);

	tcp_pair(fds);
	put(fds[1], "abcdefgh", 8);
	struct late_reset lr = { .fd = fds[1], .delay_ms = 20 };
	pthread_create(&t, NULL, late_reset_main, &lr);
	errno = 0;
	long r = recvmmsg(fds[0], m.mm, 2, MSG_WAITALL, NULL);
	int e = errno;
	pthread_join(t, NULL);
	errno = 0;
	long next = recv(fds[0], m.b[1], sizeof(m.b[1]), 0);
	int en = errno;
	close(fds[0]);
	say(r, e, "len0=%u next=%ld %s", m.mm[0].msg_len, next, errname(en));
}

/* poll is never restarted, SA_RESTART or not. */
static void case_poll_eintr_restart(void)
{
	struct interrupted in = { .call = call_poll };
	int p[2];

	make_pipe(p, 0);
	in.fd = p[0];
	interrupt(&in, true, 0, -1);
	say(in.ret, in.err, "handler=%s", yes(handled > 0));
	close2(p);
}

static void case_accept_eintr(void)
{
	struct interrupted in = { .call = call_accept };
	uint16_t port;

	in.fd = tcp_listener(0, &port);
	interrupt(&in, false, 0, -1);
	say(in.ret, in.err, "handler=%s", yes(handled > 0));
	close(in.fd);
}

static void case_nanosleep_eintr(void)
{
	struct interrupted in = { .call = call_nanosleep };

	interrupt(&in, true, 0, -1);
	say(in.ret, in.err, "rem_set=%s handler=%s", yes(in.extra), yes(handled > 0));
}

/* sleep() returns the seconds it did not sleep. */
static void case_sleep_eintr(void)
{
	struct interrupted in = { .call = call_sleep };

	interrupt(&in, false, 0, -1);
	say(in.ret, in.err, "unslept_returned=%s handler=%s", yes(in.extra), yes(handled > 0));
}

/* ---- descriptor flags ---------------------------------------------------------------- */

/* After blocking connect, accept, send and recv, no descriptor has gained O_NONBLOCK. */
static void case_flags_after_blocking_use(void)
{
	struct late_write lw;
	uint16_t port;
	int l = tcp_listener(0, &port);
	int c = tcp_connect(port);
	int a = accept(l, NULL, NULL);
	char b[8];
	pthread_t t;
	ssize_t r;
	int e;

	lw = (struct late_write){ c, 30 };
	t = start(late_write_main, &lw);
	errno = 0;
	r = recv(a, b, sizeof(b), 0);
	e = errno;
	join(t);
	say(r, e, "listener=%#x client=%#x accepted=%#x", flags_of(l), flags_of(c), flags_of(a));
	close(a);
	close(c);
	close(l);
}

static void case_flags_pipe_after_blocking_read(void)
{
	struct late_write lw;
	char b[8];
	pthread_t t;
	int p[2];
	ssize_t r;
	int e;

	make_pipe(p, 0);
	lw = (struct late_write){ p[1], 30 };
	t = start(late_write_main, &lw);
	errno = 0;
	r = read(p[0], b, sizeof(b));
	e = errno;
	join(t);
	say(r, e, "read_end=%#x write_end=%#x", flags_of(p[0]), flags_of(p[1]));
	close2(p);
}

static void case_flags_nonblock_kept(void)
{
	int s1 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);
	int p[2];

	fcntl(s2, F_SETFL, O_NONBLOCK);
	make_pipe(p, O_NONBLOCK);
	say(0, 0, "sock_nonblock=%#x fcntl=%#x pipe=%#x,%#x", flags_of(s1), flags_of(s2),
	    flags_of(p[0]), flags_of(p[1]));
	close(s1);
	close(s2);
	close2(p);
}

/* accept on a socket that does not listen, or with unknown flags: EINVAL, no wait. */
static void case_accept_not_listening(void)
{
	uint16_t port;
	int fds[2], l = tcp_listener(0, &port), u = socket(AF_INET, SOCK_STREAM, 0);
	long r1, r2, r3;
	int e1, e2, e3;

	tcp_pair(fds);
	errno = 0;
	r1 = accept(fds[0], NULL, NULL);
	e1 = errno;
	errno = 0;
	r2 = accept(u, NULL, NULL);
	e2 = errno;
	errno = 0;
	r3 = accept4(l, NULL, NULL, 0x4000000);
	e3 = errno;
	say(r1, e1, "unbound=%ld %s bad_flags=%ld %s", r2, errname(e2), r3, errname(e3));
	close(u);
	close(l);
	close2(fds);
}

/* A datagram socket shut for reading: a blocking read of it returns 0 at once (the
   non-blocking attempt says EAGAIN, and poll says readable, for ever). */
static void case_dgram_shut_for_reading(void)
{
	int sv[2];
	char buf[100];
	struct iovec iov = { buf, sizeof(buf) };
	long r1, r2;
	int e1, e2;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0)
		die("socketpair");
	shutdown(sv[0], SHUT_RD);
	errno = 0;
	r1 = readv(sv[0], &iov, 1);
	e1 = errno;
	errno = 0;
	r2 = recv(sv[0], buf, sizeof(buf), 0);
	e2 = errno;
	say(r1, e1, "recv=%ld %s", r2, errname(e2));
	close2(sv);
}

/* Transfers of 0 bytes on a listening socket: read returns 0 without asking the socket;
   write asks it (EPIPE); readv and writev of nothing return 0. The same on a
   non-blocking one. Into out: "read=R E write=R E readv=R E writev=R E". */
static void zero_bytes_on_listener(int type_flags, char *out, size_t len)
{
	uint16_t port;
	int l = tcp_listener(type_flags, &port);
	char buf[1];
	struct iovec iov = { buf, 0 };
	long r[4];
	int e[4];

	errno = 0;
	r[0] = read(l, buf, 0);
	e[0] = errno;
	errno = 0;
	r[1] = write(l, buf, 0);
	e[1] = errno;
	errno = 0;
	r[2] = readv(l, &iov, 1);
	e[2] = errno;
	errno = 0;
	r[3] = writev(l, &iov, 1);
	e[3] = errno;
	snprintf(out, len, "read=%ld %s write=%ld %s readv=%ld %s writev=%ld %s", r[0],
		 errname(e[0]), r[1], errname(e[1]), r[2], errname(e[2]), r[3], errname(e[3]));
	close(l);
}

static void case_zero_bytes_on_listener(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	char blocking[160], nonblocking[160];

	sigaction(SIGPIPE, &ign, &old);
	zero_bytes_on_listener(0, blocking, sizeof(blocking));
	zero_bytes_on_listener(SOCK_NONBLOCK, nonblocking, sizeof(nonblocking));
	sigaction(SIGPIPE, &old, NULL);
	say(0, 0, "%s nonblocking: %s", blocking, nonblocking);
}

/* A stream over a listening socket: flushing it and reading it fail at once (EPIPE,
   ENOTCONN), where a wait for the socket to be writable or readable would last for ever. */
static void case_stdio_on_listener(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	uint16_t port;
	int l = tcp_listener(0, &port);
	FILE *f = fdopen(l, "r+");
	long r1, r2, r3;
	int e1, e2, e3;

	if (!f)
		die("fdopen");
	sigaction(SIGPIPE, &ign, &old);
	fputc('x', f);
	errno = 0;
	r1 = fflush(f);
	e1 = errno;
	fputc('y', f);
	errno = 0;
	r2 = fclose(f);
	e2 = errno;
	f = fdopen(tcp_listener(0, &port), "r");
	if (!f)
		die("fdopen");
	errno = 0;
	r3 = fgetc(f);
	e3 = errno;
	say(r1, e1, "fclose=%ld %s fgetc=%ld %s", r2, errname(e2), r3, errname(e3));
	fclose(f);
	sigaction(SIGPIPE, &old, NULL);
}

/* A read of a stream socket that emptied it, then the number closed and given to a pipe
   before the thread switches: the pipe is not the emptied socket, recv of it is
   ENOTSOCK (it waited for ever for the pipe to be readable). The first pair only makes
   the library know the numbers, as a long-running program's numbers are known. */
static void case_number_reused_after_short_read(void)
{
	int sv[2], p[2];
	char buf[100];
	struct late_write lw;
	pthread_t t;

	make_socketpair(sv, 0);
	lw = (struct late_write){ sv[1], 20 };
	pthread_create(&t, NULL, late_write_main, &lw);
	if (read(sv[0], buf, sizeof(buf)) != 5)
		die("read");
	pthread_join(t, NULL);
	close2(sv);
	make_socketpair(sv, 0);
	put(sv[1], "x", 1);
	if (read(sv[0], buf, sizeof(buf)) != 1)
		die("read");
	int reused = sv[0];
	close(sv[0]);
	make_pipe(p, 0);
	if (p[0] != reused && p[1] != reused)
		die("pipe did not take the closed number");
	SAY(recv(reused, buf, sizeof(buf), 0), NULL);
	close2(p);
	close(sv[1]);
}

static void case_accept4_flags(void)
{
	uint16_t port;
	int l = tcp_listener(0, &port);
	int c = tcp_connect(port);
	int a;

	/* Descriptor numbers are never printed: the runtime may hold a few of its own. */
	SAY((a = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0 ? 0 : -1,
	    "fl=%#x fd=%#x", flags_of(a), fcntl(a, F_GETFD));
	close(a);
	close(c);
	close(l);
}

/* On Linux an accepted socket does not inherit O_NONBLOCK from the listener. */
static void case_accept_no_inherit(void)
{
	uint16_t port;
	int l = tcp_listener(SOCK_NONBLOCK, &port);
	int c = tcp_connect(port);
	struct pollfd pfd = { .fd = l, .events = POLLIN };
	int a;

	poll(&pfd, 1, 5000);
	SAY((a = accept(l, NULL, NULL)) >= 0 ? 0 : -1, "fl=%#x fd=%#x", flags_of(a),
	    fcntl(a, F_GETFD));
	close(a);
	close(c);
	close(l);
}

/* ---- socket timeouts ---------------------------------------------------------------- */

/*
 * The kernel counts a socket timeout in clock ticks and may return up to one tick
 * (4 ms at HZ=250) before the 100 ms are up: "waited" is 90 ms or more, which tells a
 * wait from no wait and does not depend on the tick.
 */
#define WAITED_MS 90

static void case_rcvtimeo(void)
{
	struct timeval tv = { 0, 100000 };
	struct timespec t0;
	char b[8];
	int sv[2];

	make_socketpair(sv, 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = mono();
	SAY(read(sv[0], b, sizeof(b)), "waited_100ms=%s", yes(elapsed_ms(t0) >= WAITED_MS));
	close2(sv);
}

static void case_sndtimeo(void)
{
	static char buf[4096];
	struct timeval tv = { 0, 100000 };
	struct timespec t0;
	int sv[2];

	make_socketpair(sv, 0);
	while (send(sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	t0 = mono();
	SAY(send(sv[0], buf, 1, 0), "waited_100ms=%s", yes(elapsed_ms(t0) >= WAITED_MS));
	close2(sv);
}

/* ---- errno belongs to each thread --------------------------------------------------- */

static void *errno_keeper_main(void *arg)
{
	int mine = (int)(intptr_t)arg;
	char b[1];

	for (int i = 0; i < 20; i++) {
		errno = mine;
		msleep(1);
		if (read(-1, b, 1) >= 0 || errno != EBADF) /* a failure of our own in between */
			return (void *)1;
		errno = mine;
		sched_yield();
		if (errno != mine)
			return (void *)1;
	}
	return NULL;
}

static void case_errno_per_thread(void)
{
	pthread_t t[4];
	int bad = 0;

	for (int i = 0; i < 4; i++)
		t[i] = start(errno_keeper_main, (void *)(intptr_t)(1000 + i));
	for (int i = 0; i < 4; i++)
		bad += join(t[i]) != NULL;
	say(0, 0, "threads_with_wrong_errno=%d", bad);
}

/* ---- table and driver --------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(read_ebadf),
	CASE(read_ebadf_huge),
	CASE(write_ebadf),
	CASE(recv_ebadf),
	CASE(send_ebadf),
	CASE(accept_ebadf),
	CASE(select_ebadf),
	CASE(close_twice),
	CASE(recv_enotsock),
	CASE(send_enotsock),
	CASE(accept_enotsock),
	CASE(connect_enotsock),
	CASE(read_efault),
	CASE(recv_efault),
	CASE(write_efault),
	CASE(send_efault),
	CASE(count_past_user),
	CASE(iovec_efault),
	CASE(recvmmsg_stream),
	CASE(recv_errqueue),
	CASE(sendmmsg_none_ebadf),
	CASE(sendmmsg_error_after_progress),
	CASE(recv_peek_waitall),
	CASE(recvmmsg_error_after_progress),
	CASE(recv_nothing_waits),
	CASE(recvmsg_nothing_inq),
	CASE(recvmsg_nothing_waits),
	CASE(recvmmsg_nothing_then_more),
	CASE(recvmmsg_waitall_fills_first),
	CASE(recvfrom_no_length),
	CASE(recvmmsg_waitall_reset_stays),
	CASE(recvmmsg_peek_waitall),
	CASE(recv_nothing_signal_restart),
	CASE(recvmmsg_zero_timeout),
	CASE(recvmmsg_time_left),
	CASE(recvmmsg_timeout_fault),
	CASE(preadv2_unknown_flag),
	CASE(recv_waitall_then_reset),
	CASE(nonblock_through_dup),
	CASE(recv_oob_after_emptied),
	CASE(connect_refused),
	CASE(connect_twice),
	CASE(connect_refused_twice),
	CASE(connect_nonblock),
	CASE(connect_nonblock_refused),
	CASE(write_epipe),
	CASE(write_after_reset),
	CASE(send_epipe_nosignal),
	CASE(sigpipe_child),
	CASE(nonblock_sock_flag),
	CASE(nonblock_fcntl),
	CASE(nonblock_fionbio),
	CASE(nonblock_pipe),
	CASE(nonblock_tcp),
	CASE(nonblock_accept),
	CASE(nonblock_pipe_full),
	CASE(msg_dontwait),
	CASE(nonblock_cleared),
	CASE(partial_read),
	CASE(eof_pipe),
	CASE(eof_socket),
	CASE(read_zero),
	CASE(write_zero),
	CASE(shutdown_wakes_reader),
	CASE(big_write_socketpair),
	CASE(big_write_pipe),
	CASE(big_send_tcp),
	CASE(recv_waitall),
	CASE(poll_timeout),
	CASE(poll_data),
	CASE(poll_wakes),
	CASE(poll_nval),
	CASE(poll_negative_fd),
	CASE(poll_hup_socket),
	CASE(poll_hup_pipe),
	CASE(poll_err_pipe),
	CASE(poll_rdhup_tcp),
	CASE(poll_no_fds),
	CASE(ppoll_timeout),
	CASE(select_past_table),
	CASE(select_past_table_polled),
	CASE(select_past_table_unreadable),
	CASE(select_closed_in_table),
	CASE(select_unseen_high),
	CASE(select_efault),
	CASE(select_timeout),
	CASE(select_wakes),
	CASE(epoll_timeout),
	CASE(epoll_wakes),
	CASE(nanosleep_einval),
	CASE(nanosleep_negative),
	CASE(nanosleep_efault),
	CASE(sleep_bad_request),
	CASE(nanosleep_zero),
	CASE(nanosleep_in_fork_child),
	CASE(clock_nanosleep_einval),
	CASE(clock_nanosleep_bad_clock),
	CASE(clock_nanosleep_past),
	CASE(usleep_zero),
	CASE(sleep_zero),
	CASE(read_eintr),
	CASE(read_restart),
	CASE(poll_eintr_restart),
	CASE(accept_eintr),
	CASE(nanosleep_eintr),
	CASE(sleep_eintr),
	CASE(flags_after_blocking_use),
	CASE(flags_pipe_after_blocking_read),
	CASE(flags_nonblock_kept),
	CASE(accept4_flags),
	CASE(dgram_shut_for_reading),
	CASE(zero_bytes_on_listener),
	CASE(stdio_on_listener),
	CASE(number_reused_after_short_read),
	CASE(accept_not_listening),
	CASE(accept_no_inherit),
	CASE(rcvtimeo),
	CASE(sndtimeo),
	CASE(errno_per_thread),
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			 run_case_in_thread);
}

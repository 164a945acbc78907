/*
 * io_walk SEED CALLS
 *
 * A seeded random walk over the I/O calls the library interposes: read and write in all
 * their forms, the socket calls with their flags, accept and connect in every state of a
 * socket, poll, select and epoll with odd sets and timeouts, fcntl and ioctl, sleeps with
 * bad values, stdio on pipes and sockets, with sizes of 0, 1 and huge and with NULL and
 * unmapped buffers. Each step prints one line:
 *
 *     STEP CALL ARGS -> RESULT ERRNO
 *
 * The output depends on the seed alone, never on timing, so that a run under the library
 * can be compared with a native run line by line. How that holds:
 *
 *  - Descriptors live in a few slots. A slot has the near end, which the walk uses, and
 *    where there is one the far end (the other end of its pipe or socket), which a peer
 *    thread uses. The peer acts only when the walk asks it to, and the walk waits for it
 *    to be done before its next step.
 *  - A call that may block is made only when it certainly completes: either it is ready
 *    (a poll with a zero timeout says so just before), or the walk first asks the peer to
 *    act a little later in a way that completes it with the same result whatever the
 *    timing: write one chunk into a channel found empty, close the far end (end of file is
 *    final: a read that needs more gets everything there, then the end), drain the
 *    channel until the call has returned, or connect to a listener. A wait with a timeout
 *    is made only when nothing can change before it expires, or with no timeout when
 *    something is ready.
 *  - Buffer sizes are fixed; the amount a write accepts before a buffer fills is printed
 *    as "part", not as a number, and the channel is drained right after it, so that no
 *    later result depends on it.
 *  - Descriptor numbers are never printed (the library may hold some of its own); a
 *    descriptor is named by its slot.
 *  - TCP is used on loopback only, and after a step that sends a segment the walk waits
 *    until the other end has seen it, so that softirq scheduling cannot show.
 */
#define PROG "io_walk"
#include "progs.h"

#include <inttypes.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <threads.h>

#define SLOTS 6
#define BUF_SIZE (1 << 20)    /* read and write buffers, each; more than any channel holds */
#define SMALL_WRITE 1024      /* a blocking write this size or less, once POLLOUT, completes */
#define CHUNK_MAX 200	      /* bytes the peer writes at once */
#define SOCK_BUF 32768	      /* SO_SNDBUF and SO_RCVBUF of every socket the walk makes */
#define LISTEN_BACKLOG 8
#define MAX_PENDING 4	      /* connections waiting on a listener: connect never blocks */
#define RESCUE_DELAY_MS 1
#define SETTLE_MS 2000	      /* how long TCP may take to show a segment before we give up */

/* ---- random numbers: rng_next (progs.h), so that a seed names a walk anywhere -------- */


static unsigned below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

static bool chance(unsigned percent)
{
	return below(100) < percent;
}

#define PICK(array) ((array)[below(sizeof(array) / sizeof((array)[0]))])

/* ---- slots -------------------------------------------------------------------------- */

enum kind {
	K_NONE,	     /* nothing: the walk uses a descriptor number that is not open */
	K_PIPE_R,    /* read end of a pipe; far is its write end */
	K_PIPE_W,    /* write end; far is the read end */
	K_STREAM,    /* AF_UNIX SOCK_STREAM socketpair */
	K_SEQPACKET, /* AF_UNIX SOCK_SEQPACKET socketpair */
	K_DGRAM,     /* AF_UNIX SOCK_DGRAM socketpair */
	K_TCP,	     /* connected TCP on loopback; far is the other end, or -1 */
	K_LISTEN,    /* listening TCP socket */
	K_SOCKET,    /* TCP socket, neither connected nor listening (maybe bound) */
};

static const char *const kind_names[] = { "none", "pipe_r", "pipe_w", "stream", "seqpacket",
					  "dgram", "tcp", "listen", "socket" };

struct slot {
	enum kind kind;
	int near, far; /* -1 when there is none */
	bool nb;       /* O_NONBLOCK on near, as the walk set it */
	uint16_t port; /* K_LISTEN */
	int conns[MAX_PENDING + 1]; /* K_LISTEN: peer's ends of the queued connections, FIFO;
				       -1 for one the walk made */
	int nconns;
	FILE *f;       /* a stream on a dup of near, or NULL */
	int f_dir;     /* 1: the stream only reads, 2: only writes: a stream that switches
			  without a seek, or writes after an ungetc, is undefined, and
			  glibc's crashes */
	int epoll_in;  /* near is in the epoll set (as this slot's number) */
	int far_shut;  /* 1: far shut down for reading, 2: for writing (bits) */
};

static struct slot slots[SLOTS];
static int closed_number;  /* a descriptor number that is never open */
static uint16_t dead_port; /* a loopback port nothing listens on, kept bound */
static int epfd;
static unsigned char *wbuf, *rbuf, *bad; /* bad: an unmapped page, right after rbuf */
static long step;

/* ---- printing ----------------------------------------------------------------------- */

static char args[256];

static void set_args(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void set_args(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
}

/* Sum of bytes, so that a read shows what it got, not only how much. */
static unsigned sum(const unsigned char *p, long n)
{
	unsigned s = 0;

	for (long i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static void line(const char *call, const char *result, int err)
{
	printf("%ld %s %s -> %s %s\n", step, call, args, result, errname(err));
}

/* A plain result: the number itself. */
static void say(const char *call, long ret, int err)
{
	char r[32];

	snprintf(r, sizeof(r), "%ld", ret);
	line(call, r, err);
}

/* The result of a transfer of asked bytes: exact unless it may depend on buffer sizes. */
static void say_xfer(const char *call, long ret, int err, size_t asked, bool exact,
		     const unsigned char *data)
{
	char r[64];

	if (ret > 0 && !exact && (size_t)ret != asked)
		snprintf(r, sizeof(r), "part");
	else if (ret > 0 && data)
		snprintf(r, sizeof(r), "%ld sum=%08x", ret, sum(data, ret));
	else
		snprintf(r, sizeof(r), "%ld", ret);
	line(call, r, err);
}

/* ---- the peer ------------------------------------------------------------------------ */

enum peer_op { P_NONE, P_WRITE, P_CLOSE, P_SHUTDOWN, P_CONNECT, P_DRAIN, P_QUIT };

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum peer_op op;
	int fd, arg, near;
	long delay_ms;
	bool tcp;
	int result;
	bool busy;
	atomic_bool walker_back; /* the walk's call has returned: P_DRAIN may stop */
} peer = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* Bytes near has sent that the other end has not yet acknowledged (TCP only). */
static int outq(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n) != 0)
		return 0;
	return n;
}

/* Reads fd (the far end, non-blocking) until it is empty and, for TCP, near has nothing
   in flight, and until the walk's call has returned. */
static void drain(int fd, int near, bool tcp)
{
	static unsigned char sink[65536];
	struct timespec t0 = mono();

	for (;;) {
		bool back = atomic_load(&peer.walker_back);
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n < 0 && errno == ENOTSOCK)
			n = read(fd, sink, sizeof(sink));
		if (n > 0)
			continue;
		if (back && (!tcp || near < 0 || outq(near) == 0))
			return;
		if (elapsed_ms(t0) > 10 * SETTLE_MS)
			fail("drain: the walk's call never returned");
		msleep(1);
	}
}

static int tcp_connect_to(uint16_t port, bool nb);

static void *peer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&peer.lock);
	for (;;) {
		while (peer.op == P_NONE)
			pthread_cond_wait(&peer.cond, &peer.lock);
		if (peer.op == P_QUIT)
			break;
		pthread_mutex_unlock(&peer.lock);
		if (peer.delay_ms)
			msleep(peer.delay_ms);
		int r = 0;

		switch (peer.op) {
		case P_WRITE:
			r = (int)write(peer.fd, wbuf + peer.arg, (size_t)peer.arg);
			if (r < 0)
				r = -errno;
			break;
		case P_CLOSE:
			r = close(peer.fd);
			break;
		case P_SHUTDOWN:
			r = shutdown(peer.fd, peer.arg);
			break;
		case P_CONNECT:
			r = tcp_connect_to((uint16_t)peer.arg, false);
			break;
		case P_DRAIN:
			drain(peer.fd, peer.near, peer.tcp);
			break;
		default:
			break;
		}
		pthread_mutex_lock(&peer.lock);
		peer.result = r;
		peer.op = P_NONE;
		peer.busy = false;
		pthread_cond_broadcast(&peer.cond);
	}
	pthread_mutex_unlock(&peer.lock);
	return NULL;
}

/* Asks the peer to act after delay_ms; peer_wait waits for it to be done. */
static void peer_post(enum peer_op op, int fd, int arg, long delay_ms)
{
	pthread_mutex_lock(&peer.lock);
	peer.op = op;
	peer.fd = fd;
	peer.arg = arg;
	peer.delay_ms = delay_ms;
	peer.busy = true;
	atomic_store(&peer.walker_back, false);
	pthread_cond_broadcast(&peer.cond);
	pthread_mutex_unlock(&peer.lock);
}

static int peer_wait(void)
{
	atomic_store(&peer.walker_back, true);
	pthread_mutex_lock(&peer.lock);
	while (peer.busy)
		pthread_cond_wait(&peer.cond, &peer.lock);
	int r = peer.result;

	pthread_mutex_unlock(&peer.lock);
	return r;
}

static int peer_do(enum peer_op op, int fd, int arg)
{
	peer_post(op, fd, arg, 0);
	return peer_wait();
}

/* ---- making descriptors -------------------------------------------------------------- */

static void fix_bufs(int fd)
{
	int size = SOCK_BUF;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static struct sockaddr_in loopback(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static int tcp_socket(bool nb)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		die("socket");
	fix_bufs(fd);
	return fd;
}

/* A connected client; -errno when connect failed. */
static int tcp_connect_to(uint16_t port, bool nb)
{
	struct sockaddr_in sa = loopback(port);
	int fd = tcp_socket(nb);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("getsockname");
	return ntohs(sa.sin_port);
}

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = loopback(0);
	int fd = tcp_socket(false);

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		die("listener");
	*port = port_of(fd);
	return fd;
}

/* Waits, unprinted, until poll shows events on fd (a TCP segment reached it). */
static void settle(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (fd >= 0)
		poll(&p, 1, SETTLE_MS);
}

/* Waits until near has nothing unacknowledged in flight. */
static void settle_out(int fd)
{
	struct timespec t0 = mono();

	while (fd >= 0 && outq(fd) > 0 && elapsed_ms(t0) < SETTLE_MS)
		msleep(1);
}

/* The TCP state of fd, or -1 when it is not a TCP socket. */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return -1;
	return ti.tcpi_state;
}

/* Waits until near's own FIN is acknowledged. The acknowledgement moves the socket on
   (FIN_WAIT1 to FIN_WAIT2, LAST_ACK to CLOSE) and wakes its waiters, and an edge-triggered
   epoll reports that as a new edge: it must not land at a timing-dependent step. */
static void settle_our_fin(int near)
{
	struct timespec t0 = mono();
	int st;

	while ((st = tcp_state(near)) == TCP_FIN_WAIT1 || st == TCP_CLOSING || st == TCP_LAST_ACK) {
		if (elapsed_ms(t0) > SETTLE_MS)
			return;
		msleep(1);
	}
}

/* Waits until near has taken the FIN or reset its peer sent. Readiness alone cannot tell:
   a near end shut for reading already polls POLLRDHUP before the FIN comes. */
static void settle_their_fin(int near)
{
	struct timespec t0 = mono();
	int st;

	while ((st = tcp_state(near)) == TCP_ESTABLISHED || st == TCP_FIN_WAIT1 ||
	       st == TCP_FIN_WAIT2) {
		if (elapsed_ms(t0) > SETTLE_MS)
			return;
		msleep(1);
	}
	settle_our_fin(near);
}

static void set_nb(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static void epoll_forget(struct slot *s)
{
	if (s->epoll_in && s->near >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, s->near, NULL);
	s->epoll_in = 0;
}

/* Empties a slot: its stream, its descriptors, its listener's queue. */
static void clear_slot(struct slot *s)
{
	epoll_forget(s);
	if (s->f) {
		/* Buffered output must not block: the far end goes first, and a connection
		   with no far end here takes what fits, or nothing. */
		if (s->far >= 0)
			close(s->far);
		s->far = -1;
		set_nb(fileno(s->f), true);
		fclose(s->f);
		s->f = NULL;
	}
	if (s->near >= 0)
		close(s->near);
	if (s->far >= 0)
		close(s->far);
	for (int i = 0; i < s->nconns; i++)
		if (s->conns[i] >= 0)
			close(s->conns[i]);
	*s = (struct slot){ .kind = K_NONE, .near = -1, .far = -1 };
}

static struct slot mk_slot(enum kind kind, int near, int far, bool nb)
{
	return (struct slot){ .kind = kind, .near = near, .far = far, .nb = nb };
}

static bool is_tcp(const struct slot *s)
{
	return s->kind == K_TCP || s->kind == K_LISTEN || s->kind == K_SOCKET;
}

/* The number the walk passes for near: an unopened one when the slot is empty. */
static int fd_of(const struct slot *s)
{
	return s->near >= 0 ? s->near : closed_number;
}

/* ---- readiness ---------------------------------------------------------------------- */

static short ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) != 1)
		return 0;
	return p.revents;
}

/* fd, near or a dup of it, can receive: a read on it waits when nothing is there. */
static bool can_receive(const struct slot *s, int fd)
{
	return fd >= 0 && fd != closed_number && (s->kind == K_PIPE_R || s->kind == K_STREAM ||
				s->kind == K_SEQPACKET || s->kind == K_DGRAM || s->kind == K_TCP);
}

static bool can_send(const struct slot *s, int fd)
{
	return fd >= 0 && fd != closed_number && (s->kind == K_PIPE_W || s->kind == K_STREAM ||
				s->kind == K_SEQPACKET || s->kind == K_DGRAM || s->kind == K_TCP);
}

/* What the walk does around a call that may block. */
enum guard { G_NONE, G_SKIP, G_RESCUE };

static int rescue_arg;
static enum peer_op rescue_op;

/*
 * Before a read of some kind on s that would wait: none when it does not wait, else the
 * peer acts. whole: the call waits for more than one arrival (MSG_WAITALL, stdio): only
 * the end of the file completes it the same way whatever the timing.
 */
static enum guard guard_read(struct slot *s, int fd, bool nonblocking, bool whole)
{
	if (nonblocking || !can_receive(s, fd))
		return G_NONE;
	if (whole) {
		if (s->kind == K_DGRAM)
			return G_SKIP;
		if (s->far < 0)
			return ready(fd, POLLIN) & (POLLHUP | POLLERR | POLLRDHUP) ? G_NONE : G_SKIP;
		rescue_op = P_CLOSE;
		return G_RESCUE;
	}
	if (ready(fd, POLLIN))
		return G_NONE;
	/* A datagram socket's far end shut for writing can neither write nor wake it. */
	if (s->far < 0 || (s->kind == K_DGRAM && (s->far_shut & 2)))
		return G_SKIP;
	/* Closing a datagram socket's far end does not wake its reader. */
	rescue_op = s->kind == K_DGRAM || chance(80) ? P_WRITE : P_CLOSE;
	rescue_arg = 1 + (int)below(CHUNK_MAX);
	return G_RESCUE;
}

/* Before a write of n bytes on s. */
static enum guard guard_write(struct slot *s, int fd, bool nonblocking, size_t n)
{
	if (nonblocking || !can_send(s, fd))
		return G_NONE;
	if (n <= SMALL_WRITE && (ready(fd, POLLOUT) & (POLLOUT | POLLERR)))
		return G_NONE;
	/* TCP's far end shut for reading keeps its data: nothing drains it. */
	if (s->far < 0 || (s->kind == K_TCP && (s->far_shut & 1)))
		return (ready(fd, POLLOUT) & (POLLERR | POLLHUP)) ? G_NONE : G_SKIP;
	rescue_op = P_DRAIN;
	return G_RESCUE;
}

static void rescue_start(struct slot *s)
{
	peer.near = s->near;
	peer.tcp = s->kind == K_TCP;
	peer_post(rescue_op, s->far, rescue_arg, RESCUE_DELAY_MS);
}

static void rescue_end(struct slot *s)
{
	peer_wait();
	if (rescue_op == P_CLOSE)
		s->far = -1;
	/* The chunk has arrived once the far end has it acknowledged. */
	if (s->kind == K_TCP && rescue_op == P_WRITE)
		settle_out(s->far);
}

/* After a write that may have been cut short: the channel is emptied, unprinted. */
static void after_write(struct slot *s, long ret, size_t asked)
{
	if (ret > 0 && s->kind == K_TCP)
		settle_out(s->near);
	if (ret > 0 && (size_t)ret != asked && s->far >= 0) {
		peer.near = s->near;
		peer.tcp = s->kind == K_TCP;
		peer_do(P_DRAIN, s->far, 0);
	}
}

/* ---- buffers and sizes --------------------------------------------------------------- */

static const size_t sizes[] = { 0, 1, 1, 7, 64, 100, 1000, 4096, 65536, 300000, SIZE_MAX / 4 };

static size_t pick_size(void)
{
	return PICK(sizes);
}

enum buf_kind { B_GOOD, B_NULL, B_BAD, B_EDGE };
static const char *const buf_names[] = { "buf", "NULL", "unmapped", "edge" };

static enum buf_kind pick_buf(void)
{
	unsigned r = below(100);

	return r < 85 ? B_GOOD : r < 90 ? B_NULL : r < 95 ? B_BAD : B_EDGE;
}

static void *rptr(enum buf_kind b)
{
	return b == B_GOOD ? rbuf : b == B_NULL ? NULL : b == B_BAD ? bad : bad - 16;
}

static void *wptr(enum buf_kind b)
{
	return b == B_GOOD ? wbuf : b == B_NULL ? NULL : b == B_BAD ? bad : bad - 16;
}

static const char *size_name(size_t n)
{
	static char s[32];

	if (n >= (size_t)1 << 40)
		return "huge";
	snprintf(s, sizeof(s), "%zu", n);
	return s;
}

/* A write of wbuf never asks more than wbuf holds unless the buffer is bad anyway. */
static size_t write_size(enum buf_kind b)
{
	size_t n = pick_size();

	if (b == B_GOOD && n > BUF_SIZE)
		n = BUF_SIZE;
	return n;
}

/* ---- the steps ----------------------------------------------------------------------- */

static struct slot *pick_slot(int *i)
{
	*i = (int)below(SLOTS);
	return &slots[*i];
}

static void new_slot(void)
{
	int i, sv[2];
	struct slot *s = pick_slot(&i);
	bool nb = chance(30);

	clear_slot(s);
	switch (below(8)) {
	case 0:
	case 1:
		if (pipe2(sv, O_CLOEXEC) != 0)
			die("pipe2");
		if (chance(50)) {
			*s = mk_slot(K_PIPE_R, sv[0], sv[1], false);
		} else {
			*s = mk_slot(K_PIPE_W, sv[1], sv[0], false);
		}
		set_nb(s->far, true);
		break;
	case 2:
	case 3:
	case 4: {
		static const int types[] = { SOCK_STREAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM };
		int type = PICK(types);

		if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0)
			die("socketpair");
		fix_bufs(sv[0]);
		fix_bufs(sv[1]);
		*s = mk_slot(type == SOCK_STREAM ? K_STREAM
				    : type == SOCK_DGRAM ? K_DGRAM
							 : K_SEQPACKET, sv[0], sv[1], false);
		break;
	}
	case 5: {
		uint16_t port;
		int l = listener(&port), c = tcp_connect_to(port, false), a;

		if (c < 0 || (a = accept(l, NULL, NULL)) < 0)
			die("tcp pair");
		close(l);
		if (chance(50))
			*s = mk_slot(K_TCP, c, a, false);
		else
			*s = mk_slot(K_TCP, a, c, false);
		break;
	}
	case 6:
		*s = mk_slot(K_LISTEN, listener(&s->port), -1, false);
		s->port = port_of(s->near);
		break;
	default: {
		int fd = tcp_socket(false);

		if (chance(50)) {
			struct sockaddr_in sa = loopback(0);

			if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
				die("bind");
		}
		*s = mk_slot(K_SOCKET, fd, -1, false);
		break;
	}
	}
	if (nb)
		set_nb(s->near, true);
	s->nb = nb;
	set_args("s%d %s%s", i, kind_names[s->kind], nb ? " nonblock" : "");
	line("new", "0", 0);
}

/* The far end goes away: closed, or shut down. */
static void end_far(void)
{
	int i;
	struct slot *s = pick_slot(&i);

	if (s->far < 0)
		return;
	if (s->kind != K_PIPE_R && s->kind != K_PIPE_W && chance(50)) {
		static const int hows[] = { SHUT_RD, SHUT_WR, SHUT_RDWR };
		/* TCP shut for reading keeps what arrives, and nothing could drain it. */
		int how = s->kind == K_TCP ? SHUT_WR : PICK(hows);

		set_args("s%d far how=%d", i, how);
		say("shutdown", peer_do(P_SHUTDOWN, s->far, how) ? -1 : 0, 0);
		s->far_shut |= how == SHUT_RD ? 1 : how == SHUT_WR ? 2 : 3;
	} else {
		set_args("s%d far", i);
		say("close", peer_do(P_CLOSE, s->far, 0), 0);
		s->far = -1;
	}
	/* Only a FIN shows; SHUT_RD sends nothing. */
	if (s->kind == K_TCP && (s->far < 0 || (s->far_shut & 2)))
		settle_their_fin(s->near);
}

static void peer_feed(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int n = 1 + (int)below(CHUNK_MAX);

	if (s->far < 0 || !can_receive(s, s->near) || s->kind == K_TCP)
		return;
	/* The far end is non-blocking for pipes; sockets have room for a chunk unless full. */
	if (!(ready(s->far, POLLOUT) & POLLOUT))
		return;
	set_args("s%d far %d", i, n);
	int r = peer_do(P_WRITE, s->far, n);

	say("peer_write", r < 0 ? -1 : r, r < 0 ? -r : 0);
}

/* A TCP chunk, whose arrival the walk waits for. */
static void peer_feed_tcp(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int n = 1 + (int)below(CHUNK_MAX);

	if (s->kind != K_TCP || s->far < 0 || !(ready(s->far, POLLOUT) & POLLOUT))
		return;
	int before = 0;

	ioctl(s->near, FIONREAD, &before);
	set_args("s%d far %d", i, n);
	int r = peer_do(P_WRITE, s->far, n);

	say("peer_write", r < 0 ? -1 : r, r < 0 ? -r : 0);
	if (r > 0) {
		struct timespec t0 = mono();
		int now_there = 0;

		while (ioctl(s->near, FIONREAD, &now_there) == 0 && now_there < before + r &&
		       elapsed_ms(t0) < SETTLE_MS)
			msleep(1);
	}
}

static void do_close(void)
{
	int i;
	struct slot *s = pick_slot(&i);

	set_args("s%d %s", i, kind_names[s->kind]);
	if (s->near < 0) {
		errno = 0;
		int r = close(closed_number);

		say("close", r, errno);
		return;
	}
	epoll_forget(s);
	errno = 0;
	int r = close(s->near), e = errno;
	bool fin = s->kind == K_TCP && s->far >= 0 && !s->f; /* a stream's dup keeps it open */

	s->near = -1;
	say("close", r, e);
	if (!s->f && s->far < 0 && s->nconns == 0)
		clear_slot(s);
	if (fin)
		settle(s->far, POLLIN | POLLRDHUP);
}

static void do_shutdown(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	static const int hows[] = { SHUT_RD, SHUT_WR, SHUT_RDWR, 7 };
	int how = PICK(hows);

	set_args("s%d %s how=%d", i, kind_names[s->kind], how);
	errno = 0;
	int r = shutdown(fd_of(s), how);

	say("shutdown", r, errno);
	if (r == 0 && s->kind == K_TCP && s->far >= 0 && how != SHUT_RD) {
		settle(s->far, POLLIN | POLLRDHUP);
		settle_our_fin(s->near);
	}
}

static void do_fcntl(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int fd = fd_of(s), r, e;

	errno = 0;
	switch (below(6)) {
	case 0:
		set_args("s%d F_GETFL", i);
		r = fcntl(fd, F_GETFL);
		e = errno;
		set_args("s%d F_GETFL nonblock=%s acc=%d", i, r >= 0 ? yes(r & O_NONBLOCK) : "-",
			 r >= 0 ? r & O_ACCMODE : -1);
		say("fcntl", r >= 0 ? 0 : r, e);
		break;
	case 1: {
		bool on = chance(50);
		int fl = fcntl(fd, F_GETFL);

		errno = 0;
		r = fcntl(fd, F_SETFL, fl < 0 ? (on ? O_NONBLOCK : 0)
					      : (on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
		e = errno;
		if (r == 0)
			s->nb = on;
		set_args("s%d F_SETFL nonblock=%s", i, yes(on));
		say("fcntl", r, e);
		break;
	}
	case 2:
		r = fcntl(fd, F_GETFD);
		e = errno;
		set_args("s%d F_GETFD", i);
		say("fcntl", r, e);
		break;
	case 3: {
		int min = chance(50) ? 0 : 900;

		r = fcntl(fd, chance(50) ? F_DUPFD : F_DUPFD_CLOEXEC, min);
		e = errno;
		set_args("s%d F_DUPFD %d", i, min);
		say("fcntl", r >= min ? 0 : r, e);
		if (r >= 0) {
			set_args("dup of s%d cloexec", i);
			say("fcntl", fcntl(r, F_GETFD), 0);
			close(r);
		}
		break;
	}
	case 4: {
		int on = chance(50);

		r = ioctl(fd, FIONBIO, &on);
		e = errno;
		if (r == 0)
			s->nb = on;
		set_args("s%d FIONBIO %d", i, on);
		say("ioctl", r, e);
		break;
	}
	default: {
		int n = -7;

		r = ioctl(fd, FIONREAD, chance(90) ? (void *)&n : (void *)bad);
		e = errno;
		set_args("s%d FIONREAD", i);
		printf("%ld ioctl %s -> %d n=%d %s\n", step, args, r, n, errname(e));
		break;
	}
	}
}

/* ---- reading ---------------------------------------------------------------------------- */

static const int recv_flag_set[] = { MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, MSG_TRUNC,
				     MSG_OOB, MSG_ERRQUEUE, MSG_CMSG_CLOEXEC };

static int pick_recv_flags(void)
{
	int f = 0;

	for (size_t k = 0; k < sizeof(recv_flag_set) / sizeof(recv_flag_set[0]); k++)
		if (chance(k < 3 ? 25 : 4))
			f |= recv_flag_set[k];
	return f;
}

static void do_read(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int fd = fd_of(s);
	enum buf_kind b = pick_buf();
	size_t n = pick_size(); /* more than rbuf holds: no channel holds that much */
	unsigned char *p = rptr(b);
	int call = (int)below(12), flags = 0;
	static const char *const names[] = { "read",	 "readv",   "pread",  "preadv",
					     "preadv2",	 "recv",    "recvfrom", "recvmsg",
					     "recvmmsg", "read",    "recv",     "recvmmsg" };
	const char *name = names[call];

	if (call >= 5 && call != 9)
		flags = pick_recv_flags();
	if (call == 4)
		flags = chance(30) ? RWF_NOWAIT : chance(10) ? 0x1000 : 0;
	bool dontwait = call >= 5 && call != 9 ? (flags & MSG_DONTWAIT) : call == 4 && (flags & RWF_NOWAIT);
	bool whole = call >= 5 && call != 9 && (flags & MSG_WAITALL) && n > 1;
	int vlen = 1;

	if (call == 8 || call == 11) {
		static const int vlens[] = { 0, 1, 1, 3 };

		vlen = PICK(vlens);
		if (chance(50))
			flags |= MSG_WAITFORONE;
		if (vlen > 1 && !(flags & MSG_WAITFORONE))
			whole = true;
	}
	/* Both return at once, but an AF_UNIX socket takes no notice of MSG_ERRQUEUE. */
	if ((flags & MSG_OOB) || (is_tcp(s) && (flags & MSG_ERRQUEUE)))
		dontwait = true;
	enum guard g = guard_read(s, s->near, s->nb || dontwait, whole);

	if (g == G_SKIP)
		return;
	set_args("s%d %s n=%s %s flags=%#x", i, kind_names[s->kind], size_name(n), buf_names[b],
		 flags);
	if (g == G_RESCUE)
		rescue_start(s);
	struct iovec iov[3] = { { p, n }, { NULL, 0 }, { rbuf + BUF_SIZE / 2, 5 } };
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = iov,
			     .msg_iovlen = 1 };
	struct mmsghdr mm[3];
	long r;
	int e;
	int iovcnt = chance(80) ? 1 : chance(50) ? 3 : chance(50) ? 0 : 1025;
	struct iovec *iovp = chance(95) ? iov : (struct iovec *)bad;

	if (iovcnt == 3)
		iov[0].iov_len = n > 50 ? 50 : n;
	errno = 0;
	switch (call) {
	case 0:
	case 9:
		r = read(fd, p, n);
		break;
	case 1:
		r = readv(fd, iovp, iovcnt);
		break;
	case 2:
		r = pread(fd, p, n, chance(80) ? 0 : -1);
		break;
	case 3:
		r = preadv(fd, iovp, iovcnt, 0);
		break;
	case 4:
		r = preadv2(fd, iovp, iovcnt, chance(80) ? -1 : 0, flags);
		break;
	case 5:
	case 10:
		r = recv(fd, p, n, flags);
		break;
	case 6:
		r = recvfrom(fd, p, n, flags, chance(50) ? (struct sockaddr *)&from : NULL,
			     chance(50) ? &fromlen : NULL);
		break;
	case 7:
		mh.msg_iovlen = (size_t)iovcnt;
		mh.msg_iov = iovp;
		r = recvmsg(fd, chance(97) ? &mh : (struct msghdr *)bad, flags);
		break;
	default: {
		for (int k = 0; k < 3; k++)
			mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[k == 1 ? 2 : 0],
							       .msg_iovlen = 1 } };
		struct timespec zero = { 0, 0 };

		r = recvmmsg(fd, chance(97) ? mm : (struct mmsghdr *)bad, (unsigned)vlen, flags,
			     chance(20) && !whole ? &zero : NULL);
		break;
	}
	}
	e = errno;
	if (g == G_RESCUE)
		rescue_end(s);
	if (call == 7 && r >= 0) {
		char more[64];

		snprintf(more, sizeof(more), " msg_flags=%#x", mh.msg_flags);
		strncat(args, more, sizeof(args) - strlen(args) - 1);
	}
	if ((call == 8 || call == 11) && r > 0) {
		char more[96];
		/* With MSG_TRUNC, msg_len is the datagram's length, perhaps past the buffer,
		   and an edge buffer holds less than its length says: only a good one. */
		size_t held = b == B_GOOD ? mm[0].msg_len : 0;

		if (held > mm[0].msg_hdr.msg_iov->iov_len)
			held = mm[0].msg_hdr.msg_iov->iov_len;
		snprintf(more, sizeof(more), " len0=%u sum0=%08x", mm[0].msg_len,
			 sum(mm[0].msg_hdr.msg_iov->iov_base, held));
		strncat(args, more, sizeof(args) - strlen(args) - 1);
		say(name, r, e);
		return;
	}
	bool peek_or_trunc = flags & (MSG_PEEK | MSG_TRUNC);

	say_xfer(name, r, e, n, true, (b == B_GOOD && !peek_or_trunc && iovcnt == 1) ||
		 (b == B_GOOD && call == 0) ? p : NULL);
}

/* ---- writing ---------------------------------------------------------------------------- */

static const int send_flag_set[] = { MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE, MSG_OOB, MSG_EOR,
				     MSG_CONFIRM };

static int pick_send_flags(const struct slot *s)
{
	int f = 0;

	for (size_t k = 0; k < sizeof(send_flag_set) / sizeof(send_flag_set[0]); k++)
		if (chance(k < 2 ? 30 : 4))
			f |= send_flag_set[k];
	if (is_tcp(s))
		f &= ~MSG_MORE; /* TCP holds such data back for a while: timing */
	return f;
}

static void do_write(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int fd = fd_of(s);
	enum buf_kind b = pick_buf();
	size_t n = write_size(b);
	unsigned char *p = wptr(b);
	int call = (int)below(10), flags = 0;
	static const char *const names[] = { "write", "writev", "pwrite", "pwritev", "pwritev2",
					     "send",  "sendto", "sendmsg", "sendmmsg", "write" };
	const char *name = names[call];

	if (call >= 5 && call != 9)
		flags = pick_send_flags(s);
	if (call == 4)
		flags = chance(30) ? RWF_NOWAIT : chance(10) ? RWF_APPEND : 0;
	bool dontwait = (call >= 5 && call != 9 && (flags & MSG_DONTWAIT)) ||
			(call == 4 && (flags & RWF_NOWAIT));
	int iovcnt = chance(80) ? 1 : chance(50) ? 3 : chance(50) ? 0 : 1025;
	struct iovec iov[3] = { { p, n }, { NULL, 0 }, { wbuf + 7, 5 } };
	struct iovec *iovp = chance(95) ? iov : (struct iovec *)bad;
	bool vector = call == 1 || call == 3 || call == 4 || call == 7;
	static const int vlens[] = { 0, 1, 1, 3 };
	int vlen = PICK(vlens);
	size_t total = !vector	    ? (call == 8 ? (vlen == 3 ? 2 * n + 5 : vlen == 1 ? n : 0) : n)
		       : iovcnt == 3 ? n + 5
		       : iovcnt == 1 ? n
				     : 0;
	enum guard g = guard_write(s, s->near, s->nb || dontwait, total);

	if (g == G_SKIP)
		return;
	/* A write that does not fit exactly: its amount may depend on buffer sizes. */
	bool exact = total <= 4096 || !is_tcp(s);

	set_args("s%d %s n=%s %s flags=%#x", i, kind_names[s->kind], size_name(n), buf_names[b],
		 flags);
	if (g == G_RESCUE)
		rescue_start(s);
	struct sockaddr_in to = loopback(dead_port);
	struct msghdr mh = { .msg_iov = iovp, .msg_iovlen = (size_t)iovcnt };
	struct mmsghdr mm[3];
	long r;
	int e;

	errno = 0;
	switch (call) {
	case 0:
	case 9:
		r = write(fd, p, n);
		break;
	case 1:
		r = writev(fd, iovp, iovcnt);
		break;
	case 2:
		r = pwrite(fd, p, n, 0);
		break;
	case 3:
		r = pwritev(fd, iovp, iovcnt, chance(80) ? 0 : -1);
		break;
	case 4:
		r = pwritev2(fd, iovp, iovcnt, chance(80) ? -1 : 0, flags);
		break;
	case 5:
		r = send(fd, p, n, flags);
		break;
	case 6:
		r = sendto(fd, p, n, flags, chance(70) ? NULL : (struct sockaddr *)&to,
			   sizeof(to));
		break;
	case 7:
		r = sendmsg(fd, chance(97) ? &mh : (struct msghdr *)bad, flags);
		break;
	default:
		for (int k = 0; k < 3; k++)
			mm[k] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[k == 1 ? 2 : 0],
							       .msg_iovlen = 1 } };
		r = sendmmsg(fd, chance(97) ? mm : (struct mmsghdr *)bad, (unsigned)vlen, flags);
		if (vlen > 1)
			exact = exact && n + 10 <= 4096;
		total = r > 0 && vlen > 1 ? (size_t)r : total;
		break;
	}
	e = errno;
	if (g == G_RESCUE)
		rescue_end(s);
	say_xfer(name, r, e, total, exact, NULL);
	after_write(s, r, call == 8 ? (size_t)r : total);
}

/* ---- accept and connect -------------------------------------------------------------- */

/* The slot of a listener, or -1. */
static int some_listener(void)
{
	for (int k = 0, i = (int)below(SLOTS); k < SLOTS; k++, i = (i + 1) % SLOTS)
		if (slots[i].kind == K_LISTEN && slots[i].near >= 0)
			return i;
	return -1;
}

static void do_accept(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int fd = fd_of(s);
	bool four = chance(50);
	static const int aflags[] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC,
				      0x4000000 };
	int flags = four ? PICK(aflags) : 0;
	struct sockaddr_in sa;
	socklen_t len = chance(50) ? sizeof(sa) : chance(50) ? 0 : 3;
	struct sockaddr *sap = chance(70) ? (struct sockaddr *)&sa : NULL;
	socklen_t *lenp = sap ? (chance(95) ? &len : (socklen_t *)bad) : NULL;
	bool rescue = false, queued = s->kind == K_LISTEN && (ready(fd, POLLIN) & POLLIN);

	if (s->kind == K_LISTEN && s->near >= 0 && !s->nb && !(ready(s->near, POLLIN) & POLLIN)) {
		if (s->nconns >= MAX_PENDING)
			return;
		rescue = true;
		peer_post(P_CONNECT, -1, s->port, RESCUE_DELAY_MS);
	}
	set_args("s%d %s flags=%#x addr=%s", i, kind_names[s->kind], flags,
		 sap ? (lenp == (socklen_t *)bad ? "badlen" : "yes") : "NULL");
	errno = 0;
	int r = four ? accept4(fd, sap, lenp, flags) : accept(fd, sap, lenp);
	int e = errno;

	if (rescue) {
		int c = peer_wait();

		if (c >= 0)
			s->conns[s->nconns++] = c;
	}
	if (r >= 0 && sap && lenp == &len) {
		char more[48];

		snprintf(more, sizeof(more), " len=%u", len);
		strncat(args, more, sizeof(args) - strlen(args) - 1);
	}
	say(four ? "accept4" : "accept", r >= 0 ? 0 : r, e);
	if (r < 0 && e == EFAULT && (queued || rescue) && s->nconns > 0) {
		/* The connection was taken off the queue, and lost with the address. */
		if (s->conns[0] >= 0)
			close(s->conns[0]);
		memmove(s->conns, s->conns + 1, (size_t)--s->nconns * sizeof(int));
	}
	if (r < 0)
		return;
	int far = -1;

	if (s->nconns > 0) {
		far = s->conns[0];
		memmove(s->conns, s->conns + 1, (size_t)--s->nconns * sizeof(int));
	}
	struct sockaddr_in peer_sa;
	socklen_t peer_len = sizeof(peer_sa);

	if (far >= 0 && (getpeername(r, (struct sockaddr *)&peer_sa, &peer_len) != 0 ||
			 ntohs(peer_sa.sin_port) != port_of(far)))
		fail("step %ld: accepted a connection that is not the one queued", step);
	/* The new connection takes another slot, never the listener's. */
	int j = (i + 1 + (int)below(SLOTS - 1)) % SLOTS;

	clear_slot(&slots[j]);
	slots[j] = mk_slot(K_TCP, r, far, (flags & SOCK_NONBLOCK) != 0);
	set_args("s%d from s%d", j, i);
	line("new", "0", 0);
}

static void do_connect(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	int fd = fd_of(s);
	int l = some_listener();
	struct sockaddr_in sa = loopback(l >= 0 && chance(80) ? slots[l].port : dead_port);
	socklen_t len = chance(90) ? sizeof(sa) : chance(50) ? 3 : 0;
	bool to_listener = l >= 0 && ntohs(sa.sin_port) == slots[l].port;
	const struct sockaddr *sap = chance(95) ? (struct sockaddr *)&sa : (struct sockaddr *)bad;

	if (chance(5))
		sa.sin_family = AF_UNIX;
	if (to_listener && slots[l].nconns >= MAX_PENDING)
		return;
	set_args("s%d %s to=%s len=%u", i, kind_names[s->kind],
		 to_listener ? "listener" : "dead", len);
	errno = 0;
	int r = connect(fd, sap, len), e = errno;

	say("connect", r, e);
	if ((r == 0 || e == EINPROGRESS) && s->kind == K_SOCKET) {
		settle(s->near, POLLOUT);
		s->kind = K_TCP;
		s->far = -1;
		if (to_listener && sap == (struct sockaddr *)&sa && sa.sin_family == AF_INET)
			slots[l].conns[slots[l].nconns++] = -1;
	}
}

/* ---- waiting for readiness ------------------------------------------------------------- */

static const short poll_events[] = { POLLIN, POLLOUT, POLLIN | POLLOUT, POLLPRI, POLLRDHUP,
				     0, POLLIN | POLLRDHUP, -1 };

static void do_poll(void)
{
	struct pollfd p[SLOTS + 2];
	int n = (int)below(SLOTS + 4), call = (int)below(2);
	static const int timeouts[] = { 0, 0, 1, 2, -1, -1, -5 };
	int timeout = PICK(timeouts);
	bool badp = chance(3);

	for (int k = 0; k < n && k < SLOTS + 2; k++) {
		int j = (int)below(SLOTS);

		p[k] = (struct pollfd){ .fd = chance(90) ? fd_of(&slots[j]) : -1 - (int)below(3),
					.events = PICK(poll_events), .revents = 0x7 };
	}
	if (n > SLOTS + 2)
		n = 0x7fffffff; /* more than RLIMIT_NOFILE: EINVAL */
	/* No wait without an end unless something is ready now. */
	if (timeout < 0 && (badp || n == 0))
		timeout = 1;
	if (timeout < 0 && n <= SLOTS + 2) {
		struct pollfd q[SLOTS + 2];

		memcpy(q, p, sizeof(p[0]) * (size_t)n);
		if (poll(q, (nfds_t)n, 0) <= 0)
			timeout = 1;
	}
	struct timespec ts = { 0, timeout * 1000000L };

	if (timeout < 0 && call == 1 && chance(20))
		ts = (struct timespec){ 0, NSEC_PER_SEC + 5 }; /* EINVAL */
	set_args("n=%d timeout=%d%s", n, timeout, badp ? " unmapped" : "");
	errno = 0;
	struct pollfd *pp = badp ? (struct pollfd *)bad : p;

	/* Hidden from _FORTIFY_SOURCE, which would stop a count larger than the array. */
	__asm__("" : "+r"(pp));
	int r = call == 0 ? poll(pp, (nfds_t)n, timeout)
			  : ppoll(pp, (nfds_t)n,
				  timeout < 0 && ts.tv_nsec <= NSEC_PER_SEC ? NULL : &ts, NULL);
	int e = errno;
	char res[160];
	int off = snprintf(res, sizeof(res), "%d", r);

	for (int k = 0; r >= 0 && k < n && k < SLOTS + 2; k++)
		off += snprintf(res + off, sizeof(res) - (size_t)off, " %x", (unsigned short)p[k].revents);
	line(call == 0 ? "poll" : "ppoll", res, e);
}

static void do_select(void)
{
	fd_set sets[3], copy[3];
	int maxfd = -1, call = (int)below(2);
	bool used[3] = { chance(70), chance(50), chance(20) };

	for (int k = 0; k < 3; k++)
		FD_ZERO(&sets[k]);
	for (int k = 0, n = (int)below(4); k < n; k++) {
		int j = (int)below(SLOTS), fd = fd_of(&slots[j]);
		int w = (int)below(3);

		if (!used[w])
			continue;
		FD_SET(fd, &sets[w]);
		if (fd > maxfd)
			maxfd = fd;
	}
	static const long usecs[] = { 0, 0, 1000, 1500, -1, -1, -8, -7 };
	long usec = PICK(usecs);
	int nfds = chance(85) ? maxfd + 1 : chance(50) ? -1 : 0;
	bool badset = chance(3);

	memcpy(copy, sets, sizeof(sets));
	if (usec == -1 && badset)
		usec = 1000;
	if (usec == -1) {
		struct timeval zero = { 0, 0 };

		if (select(nfds, used[0] ? &copy[0] : NULL, used[1] ? &copy[1] : NULL,
			   used[2] ? &copy[2] : NULL, &zero) <= 0)
			usec = 1000;
		memcpy(copy, sets, sizeof(sets));
	}
	struct timeval tv = { usec == -7 ? -1 : 0, usec >= 0 ? usec : usec == -8 ? -1 : 0 };
	struct timespec ts = { tv.tv_sec, tv.tv_usec * 1000 };
	fd_set *rs = badset ? (fd_set *)bad : used[0] ? &sets[0] : NULL;

	set_args("nfds=%s sets=%d%d%d usec=%ld%s", nfds == maxfd + 1 ? "max+1" : nfds < 0 ? "-1" : "0",
		 used[0], used[1], used[2], usec, badset ? " unmapped" : "");
	errno = 0;
	int r = call == 0 ? select(nfds, rs, used[1] ? &sets[1] : NULL, used[2] ? &sets[2] : NULL,
				   usec == -1 ? NULL : &tv)
			  : pselect(nfds, rs, used[1] ? &sets[1] : NULL, used[2] ? &sets[2] : NULL,
				    usec == -1 ? NULL : &ts, NULL);
	int e = errno;
	char res[200];
	int off = snprintf(res, sizeof(res), "%d", r);

	for (int w = 0; r >= 0 && w < 3; w++) {
		if (!used[w])
			continue;
		off += snprintf(res + off, sizeof(res) - (size_t)off, " %c", "rwe"[w]);
		for (int j = 0; j < SLOTS; j++)
			if (FD_ISSET(fd_of(&slots[j]), &sets[w]))
				off += snprintf(res + off, sizeof(res) - (size_t)off, "%d", j);
	}
	/* select writes back what is left of the timeout: zero once it expired. */
	if (call == 0 && r == 0 && usec >= 0)
		snprintf(res + off, sizeof(res) - (size_t)off, " left=%ld.%06ld", (long)tv.tv_sec,
			 (long)tv.tv_usec);
	line(call == 0 ? "select" : "pselect", res, e);
}

static void do_epoll_ctl(void)
{
	int i;
	struct slot *s = pick_slot(&i);
	static const unsigned evs[] = { EPOLLIN, EPOLLOUT, EPOLLIN | EPOLLET, EPOLLIN | EPOLLONESHOT,
					EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLLPRI, EPOLLEXCLUSIVE | EPOLLIN };
	struct epoll_event ev = { .events = PICK(evs), .data.u32 = (uint32_t)i };
	int op = s->epoll_in ? (chance(50) ? EPOLL_CTL_DEL : EPOLL_CTL_MOD)
			     : (chance(90) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD);

	set_args("s%d %s op=%d events=%#x", i, kind_names[s->kind], op, ev.events);
	errno = 0;
	int r = epoll_ctl(epfd, op, fd_of(s), &ev), e = errno;

	if (r == 0 && s->near >= 0)
		s->epoll_in = op != EPOLL_CTL_DEL;
	say("epoll_ctl", r, e);
}

static void do_epoll_wait(void)
{
	struct epoll_event ev[8];
	static const int maxes[] = { 1, 2, 8, 8, 0, -1 };
	static const int timeouts[] = { 0, 0, 1, -1, -1 };
	int max = PICK(maxes), timeout = PICK(timeouts), call = (int)below(3);
	bool badp = chance(3);

	if (timeout < 0 && !(ready(epfd, POLLIN) & POLLIN))
		timeout = 1;
	set_args("max=%d timeout=%d%s", max, timeout, badp ? " unmapped" : "");
	struct epoll_event *evp = badp ? (struct epoll_event *)bad : ev;
	struct timespec ts = { 0, timeout * 1000000L };
	errno = 0;
	int r = call == 0   ? epoll_wait(epfd, evp, max, timeout)
		: call == 1 ? epoll_pwait(epfd, evp, max, timeout, NULL)
			    : epoll_pwait2(epfd, evp, max, timeout < 0 ? NULL : &ts, NULL);
	int e = errno;
	char res[200];
	int off = snprintf(res, sizeof(res), "%d", r);

	/* The order of the ready list is not epoll's contract, and a poll of the epoll
	   descriptor itself (as when a thread parks on it) reorders it in the kernel: the
	   events are shown sorted, and when max may have cut them short, which ones came
	   depends on that order: only their number then. */
	if (r > 0 && !badp && (r < max || max >= SLOTS)) {
		unsigned shown[8][2];

		for (int k = 0; k < r; k++) {
			int j = k;

			for (; j > 0 && shown[j - 1][0] > ev[k].data.u32; j--)
				memcpy(shown[j], shown[j - 1], sizeof(shown[j]));
			shown[j][0] = ev[k].data.u32;
			shown[j][1] = ev[k].events;
		}
		for (int k = 0; k < r; k++)
			off += snprintf(res + off, sizeof(res) - (size_t)off, " s%u:%x", shown[k][0],
					shown[k][1]);
	}
	line(call == 0 ? "epoll_wait" : call == 1 ? "epoll_pwait" : "epoll_pwait2", res, e);
}

/* ---- sleeping --------------------------------------------------------------------------- */

static void do_sleep(void)
{
	static const struct timespec tss[] = { { 0, 0 }, { 0, 1 }, { 0, 1000 }, { 0, -1 },
					       { -1, 0 }, { 0, NSEC_PER_SEC }, { 0, 999999999 },
					       { -5, -5 }, { 0, 200000 } };
	int which = (int)below(6), k = (int)below(sizeof(tss) / sizeof(tss[0]));
	struct timespec ts = tss[k], rem = { 7, 7 };
	/* A valid sleep of nearly a second is too long for a walk: only as a time past. */
	if (ts.tv_nsec == 999999999 && ts.tv_sec == 0 && which != 2)
		ts.tv_nsec = 999;
	bool badp = chance(5), nullp = chance(5);
	const struct timespec *tp = nullp ? NULL : badp ? (struct timespec *)bad : &ts;
	int r, e;

	set_args("{%ld,%ld}%s", (long)ts.tv_sec, ts.tv_nsec, nullp ? " NULL" : badp ? " unmapped" : "");
	errno = 0;
	switch (which) {
	case 0:
	case 1:
		r = nanosleep(tp, chance(50) ? &rem : NULL);
		e = errno;
		say("nanosleep", r, e);
		break;
	case 2: {
		static const clockid_t clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, 99,
						    CLOCK_THREAD_CPUTIME_ID, CLOCK_BOOTTIME };
		clockid_t c = PICK(clocks);
		int flags = chance(40) ? TIMER_ABSTIME : 0;

		if (!flags && ts.tv_nsec == 999999999)
			ts.tv_nsec = 999;
		set_args("clock=%d flags=%d {%ld,%ld}%s", (int)c, flags, (long)ts.tv_sec, ts.tv_nsec,
			 nullp ? " NULL" : badp ? " unmapped" : "");
		r = clock_nanosleep(c, flags, tp, &rem);
		say("clock_nanosleep", r, errno);
		break;
	}
	case 3: {
		static const useconds_t us[] = { 0, 1, 500, 999999 - 999000 };

		useconds_t u = PICK(us);

		set_args("%u", u);
		r = usleep(u);
		say("usleep", r, errno);
		break;
	}
	case 4:
		set_args("0");
		say("sleep", sleep(0), errno);
		break;
	default:
		r = thrd_sleep(tp, NULL);
		say("thrd_sleep", r, errno);
		break;
	}
}

/* ---- stdio ------------------------------------------------------------------------------ */

static void do_stdio(void)
{
	int i;
	struct slot *s = pick_slot(&i);

	if (!s->f) {
		if (s->near < 0)
			return;
		static const char *const modes[] = { "r", "w", "r+", "a" };
		const char *mode = PICK(modes);
		int d = dup(s->near);

		if (d < 0)
			die("dup");
		set_args("s%d %s %s", i, kind_names[s->kind], mode);
		errno = 0;
		s->f = fdopen(d, mode);
		int e = errno;

		say("fdopen", s->f ? 0 : -1, e);
		s->f_dir = mode[0] == 'r' ? (mode[1] ? 1 + (int)below(2) : 1) : 2;
		if (!s->f)
			close(d);
		return;
	}
	bool writing = s->f_dir == 2;
	char *buf = (char *)rbuf;
	long r;
	int e, call = (int)below(5);

	if (writing) {
		static const char *const names[] = { "fwrite", "fputs", "fputc", "fflush", "fclose" };
		size_t n = call == 0 ? (chance(50) ? 1 + below(100) : PICK(sizes) % 9000) : 40;
		/* Any of them may flush a full buffer. */
		enum guard g = guard_write(s, fileno(s->f), s->nb, 8192);

		if (g == G_SKIP)
			return;
		set_args("s%d %s n=%zu", i, kind_names[s->kind], call == 0 ? n : (size_t)(call == 2 ? 1 : 0));
		if (g == G_RESCUE)
			rescue_start(s);
		errno = 0;
		switch (call) {
		case 0:
			r = (long)fwrite(wbuf, 1, n, s->f);
			break;
		case 1:
			r = fputs("a line\n", s->f);
			break;
		case 2:
			r = fputc('z', s->f);
			break;
		case 3:
			r = fflush(s->f);
			break;
		default:
			r = fclose(s->f);
			s->f = NULL;
			break;
		}
		e = errno;
		if (g == G_RESCUE)
			rescue_end(s);
		bool exact = !(s->nb && call == 0 && n > 4096) && g != G_RESCUE;

		if (s->f) {
			char more[48];

			snprintf(more, sizeof(more), " err=%d eof=%d", ferror(s->f), feof(s->f));
			strncat(args, more, sizeof(args) - strlen(args) - 1);
			clearerr(s->f);
		}
		say_xfer(names[call], r, s->nb && e == EAGAIN ? EAGAIN : e, call == 0 ? n : 0,
			 exact, NULL);
		if (s->far >= 0 && (g == G_RESCUE || !exact)) {
			peer.near = s->near;
			peer.tcp = s->kind == K_TCP;
			peer_do(P_DRAIN, s->far, 0);
		} else if (s->kind == K_TCP && s->far >= 0) {
			settle_out(s->near);
		}
		if (!s->f && s->near < 0 && s->far < 0)
			clear_slot(s);
		return;
	}
	static const char *const names[] = { "fgets", "fread", "fgetc", "getline", "ungetc" };
	static const int fgets_sizes[] = { 1, 2, 16, 200, 0 };
	enum guard g = call == 4 ? G_NONE : guard_read(s, fileno(s->f), s->nb, call != 2);

	if (g == G_SKIP)
		return;
	int n = call == 0 ? PICK(fgets_sizes) : call == 1 ? (int)PICK(sizes) % 10000 : 1;

	set_args("s%d %s n=%d", i, kind_names[s->kind], n);
	if (g == G_RESCUE)
		rescue_start(s);
	errno = 0;
	switch (call) {
	case 0:
		r = fgets(buf, n, s->f) ? (long)strlen(buf) : -1;
		break;
	case 1:
		r = (long)fread(buf, 1, (size_t)n, s->f);
		break;
	case 2:
		r = fgetc(s->f);
		break;
	case 3: {
		char *lp = NULL;
		size_t cap = 0;

		r = getline(&lp, &cap, s->f);
		if (r > 0)
			memcpy(buf, lp, (size_t)r);
		free(lp);
		break;
	}
	default:
		r = ungetc('u', s->f);
		break;
	}
	e = errno;
	if (g == G_RESCUE)
		rescue_end(s);
	char more[48];

	snprintf(more, sizeof(more), " err=%d eof=%d", ferror(s->f), feof(s->f));
	strncat(args, more, sizeof(args) - strlen(args) - 1);
	clearerr(s->f);
	say_xfer(names[call], r, e, (size_t)n, true, call <= 1 || call == 3 ? (unsigned char *)buf : NULL);
}

/* ---- the walk ---------------------------------------------------------------------------- */

struct op {
	void (*fn)(void);
	unsigned weight;
};

static const struct op ops[] = {
	{ new_slot, 10 },   { end_far, 3 },	   { peer_feed, 10 },	 { peer_feed_tcp, 3 },
	{ do_close, 3 },    { do_shutdown, 3 },	   { do_fcntl, 8 },	 { do_read, 20 },
	{ do_write, 16 },   { do_accept, 5 },	   { do_connect, 4 },	 { do_poll, 6 },
	{ do_select, 5 },   { do_epoll_ctl, 4 },   { do_epoll_wait, 4 }, { do_sleep, 3 },
	{ do_stdio, 8 },
};

static void walk_one(void)
{
	unsigned total = 0;

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		total += ops[k].weight;
	unsigned r = below(total);

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (r < ops[k].weight) {
			ops[k].fn();
			return;
		}
		r -= ops[k].weight;
	}
}

static void setup(void)
{
	unsigned char *m = mmap(NULL, 2 * BUF_SIZE + 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		die("mmap");
	wbuf = m;
	rbuf = m + BUF_SIZE;
	bad = m + 2 * BUF_SIZE;
	if (mprotect(bad, 4096, PROT_NONE) != 0)
		die("mprotect");
	for (size_t k = 0; k < BUF_SIZE; k++)
		wbuf[k] = k % 41 == 40 ? '\n' : (unsigned char)('a' + k % 26);
	/* Within the smallest descriptor table: select ignores numbers past the table's end,
	   and the library's own descriptors make it larger (libgreenpatch(7)). */
	for (closed_number = 63; fcntl(closed_number, F_GETFD) >= 0; closed_number--)
		;
	int d = tcp_socket(false);
	struct sockaddr_in sa = loopback(0);

	if (bind(d, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("bind");
	/* Kept bound, never listening: connecting is refused, and no listener the walk
	   makes later can be given the same port. */
	dead_port = port_of(d);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	for (int i = 0; i < SLOTS; i++)
		slots[i] = (struct slot){ .kind = K_NONE, .near = -1, .far = -1 };
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s SEED CALLS\n", PROG);
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 0);
	long calls = strtol(argv[2], NULL, 0);

	rng_state = seed;
	setup();
	pthread_t t = start(peer_main, NULL);

	setvbuf(stdout, NULL, _IOLBF, 0); /* a walk cut short still shows its steps */
	for (step = 0; step < calls; step++)
		walk_one();
	for (int i = 0; i < SLOTS; i++)
		clear_slot(&slots[i]);
	pthread_mutex_lock(&peer.lock);
	peer.op = P_QUIT;
	pthread_cond_broadcast(&peer.cond);
	pthread_mutex_unlock(&peer.lock);
	join(t);
	printf("end %ld\n", step);
	return 0;
}

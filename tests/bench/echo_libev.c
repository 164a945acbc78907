/*
 * echo_libev NCONN: a hand-written libev echo server, the M:1 limit the shim is measured
 * against.
 *
 * It takes the interface of tests/progs/echo_server: listens on 127.0.0.1 at a port the
 * kernel picks, prints "port P", serves NCONN connections and, when every one of them has
 * been closed by its client, prints "served NCONN bytes TOTAL" and exits.
 *
 * One non-blocking socket and one ev_io per connection, level-triggered, armed for
 * reading for the connection's whole life: a readable socket is read once into a buffer
 * shared by every connection and written straight back. Only what the socket does not
 * take at once is copied into a buffer of the connection's own, and the watcher then
 * waits for EV_WRITE until it is gone, reading nothing meanwhile. An idle connection
 * costs its struct conn and its libev slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 16384

struct conn {
	ev_io io;
	char *pending;        /* bytes read but not yet written back */
	size_t pending_len, pending_off;
};

static long want_conns, accepted, open_conns;
static unsigned long long total_bytes;
static char shared_buf[BUF_SIZE];

static void die(const char *what)
{
	fprintf(stderr, "echo_libev: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void conn_close(struct ev_loop *loop, struct conn *c)
{
	ev_io_stop(loop, &c->io);
	close(c->io.fd);
	free(c->pending);
	free(c);
	if (--open_conns == 0 && accepted == want_conns)
		ev_break(loop, EVBREAK_ALL);
}

/* Write buf back; keep what does not fit and wait until the socket takes it. */
static void conn_send(struct ev_loop *loop, struct conn *c, const char *buf, size_t len)
{
	ssize_t n = send(c->io.fd, buf, len, MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_close(loop, c);
		return;
	}
	size_t done = n > 0 ? (size_t)n : 0;
	if (done == len)
		return;
	c->pending = malloc(len - done);
	if (!c->pending)
		die("malloc");
	memcpy(c->pending, buf + done, len - done);
	c->pending_len = len - done;
	c->pending_off = 0;
	ev_io_stop(loop, &c->io);
	ev_io_modify(&c->io, EV_WRITE);
	ev_io_start(loop, &c->io);
}

static void conn_flush(struct ev_loop *loop, struct conn *c)
{
	ssize_t n = send(c->io.fd, c->pending + c->pending_off, c->pending_len - c->pending_off,
			 MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		conn_close(loop, c);
		return;
	}
	if (n > 0)
		c->pending_off += (size_t)n;
	if (c->pending_off < c->pending_len)
		return;
	free(c->pending);
	c->pending = NULL;
	ev_io_stop(loop, &c->io);
	ev_io_modify(&c->io, EV_READ);
	ev_io_start(loop, &c->io);
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = (struct conn *)w;
	if (revents & EV_WRITE) {
		conn_flush(loop, c);
		return;
	}
	ssize_t n = recv(w->fd, shared_buf, sizeof(shared_buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(loop, c);
		return;
	}
	total_bytes += (unsigned long long)n;
	conn_send(loop, c, shared_buf, (size_t)n);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	while (accepted < want_conns) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			die("accept4");
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c)
			die("calloc");
		ev_io_init(&c->io, conn_cb, fd, EV_READ);
		ev_io_start(loop, &c->io);
		accepted++;
		open_conns++;
	}
	/* Every connection is in: stop listening, as echo_server does. */
	ev_io_stop(loop, w);
	close(w->fd);
}

static int listen_loopback(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		die("bind");
	if (listen(fd, SOMAXCONN) != 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		die("getsockname");
	printf("port %u\n", ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 2 || (want_conns = strtol(argv[1], NULL, 10)) < 1 || want_conns > 100000) {
		fprintf(stderr, "usage: echo_libev NCONN\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	if (!loop)
		die("ev_loop_new");
	ev_io lio;
	ev_io_init(&lio, accept_cb, listen_loopback(), EV_READ);
	ev_io_start(loop, &lio);
	ev_run(loop, 0);
	printf("served %ld bytes %llu\n", want_conns, total_bytes);
	ev_loop_destroy(loop);
	return 0;
}

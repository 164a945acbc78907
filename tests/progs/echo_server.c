/*
 * echo_server NCONN [rw|sendrecv] [accept|accept4] [hash]
 *
 * A thread-per-connection TCP echo server, written the plain blocking way: it listens on
 * 127.0.0.1 at a port the kernel picks, prints "port P", accepts NCONN connections one
 * after the other with a blocking accept, and gives each one a thread that echoes with
 * blocking read/write (or recv/send) until the client closes. When every connection is
 * done it prints "served NCONN bytes TOTAL". With "hash", each request costs real work
 * before its answer: a hash over 64 KiB of the connection's own memory, seeded by the
 * request (the work a server does to answer, for `make bench`'s carriers figures).
 *
 * Once all connections are accepted, main copies the "Threads:" line of /proc/self/status
 * to stderr, to show how many kernel threads carry the connections.
 */
#define PROG "echo_server"
#include "progs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

struct conn {
	pthread_t tid;
	int fd;
	bool sendrecv;
	unsigned char *area;	/* with "hash": the memory each request hashes */
	unsigned long long bytes;
};

#define WORK_BYTES (64 * 1024)

/* The hashes computed, summed: kept so that the work is not optimised away. */
static _Atomic unsigned long long work_sink;

/* FNV-1a over the connection's 64 KiB, seeded by the request. */
static void do_work(unsigned char *area, const char *req, size_t len)
{
	unsigned long long h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)req[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < WORK_BYTES; i++)
		h = (h ^ (area[i] + (unsigned char)i)) * 0x100000001b3ull;
	area[h % WORK_BYTES] ^= (unsigned char)h;
	atomic_fetch_add_explicit(&work_sink, h, memory_order_relaxed);
}

static ssize_t conn_read(struct conn *c, char *buf, size_t len)
{
	return c->sendrecv ? recv(c->fd, buf, len, 0) : read(c->fd, buf, len);
}

static ssize_t conn_write(struct conn *c, const char *buf, size_t len)
{
	return c->sendrecv ? send(c->fd, buf, len, MSG_NOSIGNAL) : write(c->fd, buf, len);
}

/* A blocking write may still be short (a signal, a peer that went away): finish it. */
static int write_all(struct conn *c, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = conn_write(c, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	char buf[16384];

	for (;;) {
		ssize_t n = conn_read(c, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (c->area)
			do_work(c->area, buf, (size_t)n);
		if (write_all(c, buf, (size_t)n) != 0)
			die("write");
		c->bytes += (unsigned long long)n;
	}
	if (close(c->fd) != 0)
		die("close");
	return NULL;
}

static int accept_one(int lfd, bool use_accept4)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	int fd;

	do {
		fd = use_accept4 ? accept4(lfd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC)
				 : accept(lfd, (struct sockaddr *)&peer, &len);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		die("accept");
	/* Any loopback address: the load generator of `make bench` spreads its sources
	 * over 127.0.0.0/8 so that no one address runs out of ephemeral ports. */
	if (len != sizeof(peer) || peer.sin_family != AF_INET ||
	    ntohl(peer.sin_addr.s_addr) >> 24 != 127)
		fail("accept returned a peer that is not in 127.0.0.0/8");
	return fd;
}

static int usage(void)
{
	fprintf(stderr, "usage: echo_server NCONN [rw|sendrecv] [accept|accept4] [hash]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long long total = 0;
	bool sendrecv = false, use_accept4 = false, hash = false;
	struct conn *conns;
	long n;
	int lfd;

	if (argc < 2 || argc > 5)
		return usage();
	n = strtol(argv[1], NULL, 10);
	if (n < 1 || n > 100000)
		return usage();
	if (argc > 2 && !(sendrecv = strcmp(argv[2], "sendrecv") == 0) && strcmp(argv[2], "rw"))
		return usage();
	if (argc > 3 && !(use_accept4 = strcmp(argv[3], "accept4") == 0) &&
	    strcmp(argv[3], "accept"))
		return usage();
	if (argc > 4 && !(hash = strcmp(argv[4], "hash") == 0))
		return usage();
	alarm(150); /* see echo_client */

	conns = calloc((size_t)n, sizeof(*conns));
	if (!conns)
		die("calloc");
	lfd = serve_loopback();
	for (long i = 0; i < n; i++) {
		conns[i].fd = accept_one(lfd, use_accept4);
		conns[i].sendrecv = sendrecv;
		/* Not on the stack, nor in TLS: `make bench` runs with 64 KiB stacks. */
		if (hash && !(conns[i].area = calloc(1, WORK_BYTES)))
			die("calloc");
		conns[i].tid = start(conn_main, &conns[i]);
	}
	report_threads();
	close(lfd);
	for (long i = 0; i < n; i++) {
		pthread_join(conns[i].tid, NULL);
		total += conns[i].bytes;
	}
	printf("served %ld bytes %llu\n", n, total);
	free(conns);
	return 0;
}

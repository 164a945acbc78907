/*
 * echo_client PORT NCLIENTS BYTES [lockstep|duplex]
 *
 * NCLIENTS threads each connect to an echo server on 127.0.0.1:PORT, wait until every
 * client is connected (so that NCLIENTS connections are open at the same time), then send
 * BYTES of a pattern of their own and check every byte that comes back. Prints
 * "ok NCLIENTS BYTES" when all bytes came back right and every connection then saw EOF.
 *
 * lockstep (default): send a chunk, read its echo, and so on.
 * duplex: a second thread per connection sends everything while the first one reads, so
 *         that two threads block on the same socket at once, one reading, one writing.
 *
 * Chunk sizes vary, and so do the calls: write/send/writev/sendmsg to send,
 * read/recv/readv/recvmsg/recvfrom to receive, all blocking.
 */
#define PROG "echo_client"
#include "progs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define MAX_CHUNK 16384

struct client {
	pthread_t tid;
	long id;
	int fd;
	size_t bytes;
	bool duplex;
	uint64_t rng; /* chunk sizes and call choices, not the data */
};

static uint16_t port;
static pthread_barrier_t all_connected;

static void __attribute__((noreturn)) client_die(const struct client *c, const char *what)
{
	int e = errno;

	fail("client %ld: %s: %s", c->id, what, strerror(e));
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Byte k of client id's pattern: computable anywhere, so writer and reader never share state. */
static unsigned char pattern(long id, size_t k)
{
	return (unsigned char)(splitmix64(((uint64_t)id << 40) ^ (k >> 3)) >> (8 * (k & 7)));
}

static void fill(long id, size_t off, unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(id, off + i);
}

static uint64_t next(uint64_t *rng)
{
	*rng = splitmix64(*rng);
	return *rng;
}

/* Mostly small and medium chunks, sometimes one byte, sometimes a large one. */
static size_t chunk_size(uint64_t *rng, size_t left)
{
	static const size_t limits[] = { 1, 100, 1500, 4096, MAX_CHUNK };
	uint64_t r = next(rng);
	size_t n = 1 + (size_t)((r >> 8) % limits[r % 5]);

	return n < left ? n : left;
}

/* One send call of up to len bytes, split over two iovecs where the call takes a vector. */
static ssize_t send_some(struct client *c, int how, const unsigned char *buf, size_t len)
{
	struct iovec iov[2] = {
		{ (void *)buf, len / 2 },
		{ (void *)(buf + len / 2), len - len / 2 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (how) {
	case 0: return write(c->fd, buf, len);
	case 1: return send(c->fd, buf, len, 0);
	case 2: return writev(c->fd, iov, 2);
	default: return sendmsg(c->fd, &msg, 0);
	}
}

static ssize_t recv_some(struct client *c, int how, unsigned char *buf, size_t len)
{
	struct iovec iov[2] = {
		{ buf, len / 2 },
		{ buf + len / 2, len - len / 2 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);

	if (len < 2 && (how == 2 || how == 3))
		how = 0; /* an empty iovec would make a 1-byte read look odd */
	switch (how) {
	case 0: return read(c->fd, buf, len);
	case 1: return recv(c->fd, buf, len, 0);
	case 2: return readv(c->fd, iov, 2);
	case 3: return recvmsg(c->fd, &msg, 0);
	default: return recvfrom(c->fd, buf, len, 0, (struct sockaddr *)&from, &fromlen);
	}
}

/* Sends len bytes of the pattern from offset off, finishing short sends as a program must. */
static void send_chunk(struct client *c, uint64_t *rng, size_t off, size_t len)
{
	unsigned char buf[MAX_CHUNK];
	size_t done = 0;

	fill(c->id, off, buf, len);
	while (done < len) {
		ssize_t n = send_some(c, (int)(next(rng) % 4), buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			client_die(c, "send");
		done += (size_t)n;
	}
}

/* Reads exactly len bytes and checks them against the pattern from offset off. */
static void recv_chunk(struct client *c, uint64_t *rng, size_t off, size_t len)
{
	unsigned char buf[MAX_CHUNK];
	size_t done = 0;

	while (done < len) {
		size_t want = chunk_size(rng, len - done);
		ssize_t n = recv_some(c, (int)(next(rng) % 5), buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			client_die(c, "recv");
		if (n == 0)
			fail("client %ld: EOF after %zu of %zu bytes", c->id, off + done, c->bytes);
		for (size_t i = 0; i < (size_t)n; i++) {
			unsigned char want_b = pattern(c->id, off + done + i);

			if (buf[i] != want_b)
				fail("client %ld: byte %zu: expected %u, got %u", c->id,
				     off + done + i, want_b, buf[i]);
		}
		done += (size_t)n;
	}
}

static void expect_eof(struct client *c)
{
	unsigned char b;
	ssize_t n;

	while ((n = read(c->fd, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 0) {
		if (n < 0)
			client_die(c, "read at end");
		fail("client %ld: data after the echo", c->id);
	}
}

static void *writer_main(void *arg)
{
	struct client *c = arg;
	uint64_t rng = c->rng ^ 0x5bd1e995;

	for (size_t off = 0; off < c->bytes;) {
		size_t len = chunk_size(&rng, c->bytes - off);

		send_chunk(c, &rng, off, len);
		off += len;
	}
	if (shutdown(c->fd, SHUT_WR) != 0)
		client_die(c, "shutdown");
	return NULL;
}

static void run_lockstep(struct client *c)
{
	for (size_t off = 0; off < c->bytes;) {
		size_t len = chunk_size(&c->rng, c->bytes - off);

		send_chunk(c, &c->rng, off, len);
		recv_chunk(c, &c->rng, off, len);
		off += len;
	}
	if (shutdown(c->fd, SHUT_WR) != 0)
		client_die(c, "shutdown");
}

static void run_duplex(struct client *c)
{
	pthread_t writer = start(writer_main, c);

	recv_chunk(c, &c->rng, 0, c->bytes);
	join(writer);
}

static void connect_loopback(struct client *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		client_die(c, "socket");
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		client_die(c, "connect");
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	connect_loopback(c);
	/* Every connection is open here; one client looks at how many kernel threads we use. */
	if (pthread_barrier_wait(&all_connected) == PTHREAD_BARRIER_SERIAL_THREAD)
		report_threads();
	if (c->duplex)
		run_duplex(c);
	else
		run_lockstep(c);
	expect_eof(c);
	if (close(c->fd) != 0)
		client_die(c, "close");
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: echo_client PORT NCLIENTS BYTES [lockstep|duplex]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct client *clients;
	bool duplex = false;
	long p, n, bytes;

	if (argc < 4 || argc > 5)
		return usage();
	p = strtol(argv[1], NULL, 10);
	n = strtol(argv[2], NULL, 10);
	bytes = strtol(argv[3], NULL, 10);
	if (p < 1 || p > 65535 || n < 1 || n > 100000 || bytes < 0)
		return usage();
	if (argc > 4 && !(duplex = strcmp(argv[4], "duplex") == 0) && strcmp(argv[4], "lockstep"))
		return usage();
	port = (uint16_t)p;
	alarm(150); /* 1,000 duplex clients under ASan on a loaded machine take minutes */

	clients = calloc((size_t)n, sizeof(*clients));
	if (!clients)
		die("calloc");
	pthread_barrier_init(&all_connected, NULL, (unsigned)n);
	for (long i = 0; i < n; i++) {
		clients[i] = (struct client){ .id = i,
					      .bytes = (size_t)bytes,
					      .duplex = duplex,
					      .rng = splitmix64((uint64_t)i + 1) };
		clients[i].tid = start(client_main, &clients[i]);
	}
	for (long i = 0; i < n; i++)
		pthread_join(clients[i].tid, NULL);
	printf("ok %ld %ld\n", n, bytes);
	free(clients);
	return 0;
}

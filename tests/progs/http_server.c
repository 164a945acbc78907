/*
 * http_server NCONN [hold]
 *
 * A thread-per-connection server written the plain blocking way, speaking just enough
 * HTTP/1.0 for curl and a line echo for nc: it listens on 127.0.0.1 at a port the kernel
 * picks, prints "port P", accepts NCONN connections with a blocking accept and gives each
 * its own thread. A thread reads the first line: "GET PATH ..." gets, once the request
 * head is read, a response and the connection is closed; anything else is echoed back,
 * that line and all that follows, until the client closes.
 *
 *   GET /bytes/N   N bytes of a fixed pseudo-random sequence (the same every run)
 *   GET /anything  "hello from a thread-per-connection server: GET /anything\n"
 *
 * With "hold", no thread answers before all NCONN connections are accepted: they then all
 * exist at once, each blocked, and main copies the "Threads:" line of /proc/self/status to
 * stderr at that moment. At the end main prints "served NCONN: H http, E echo" and copies
 * the "VmHWM:" line (peak resident memory) to stderr.
 */
#define PROG "http_server"
#include "progs.h"

#include <stdint.h>

#define HEAD_MAX 8192

struct conn {
	pthread_t tid;
	int fd;
	bool http;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_accepted = PTHREAD_COND_INITIALIZER;
static bool hold, go;

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until buf holds what ends in end (e.g. "\n"), or is full, or the peer closed. */
static size_t read_until(int fd, char *buf, size_t len, size_t size, const char *end)
{
	while (len < size - 1) {
		buf[len] = '\0';
		if (strstr(buf, end))
			break;
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

static void wait_for_go(void)
{
	pthread_mutex_lock(&lock);
	while (hold && !go)
		pthread_cond_wait(&all_accepted, &lock);
	pthread_mutex_unlock(&lock);
}

/* /bytes/N: a xorshift sequence, written in chunks. */
static void send_bytes(int fd, unsigned long long n)
{
	char head[128], buf[65536];
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	snprintf(head, sizeof(head),
		 "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
		 "Content-Length: %llu\r\n\r\n",
		 n);
	if (write_all(fd, head, strlen(head)) != 0)
		return;
	while (n > 0) {
		size_t len = n < sizeof(buf) ? (size_t)n : sizeof(buf);

		for (size_t i = 0; i < len; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(buf + i, &x, len - i < 8 ? len - i : 8);
		}
		if (write_all(fd, buf, len) != 0)
			return;
		n -= len;
	}
}

static void serve_http(int fd, char *head)
{
	char path[1024], body[1200], resp[1400];
	unsigned long long n;

	if (sscanf(head, "GET %1023s", path) != 1)
		snprintf(path, sizeof(path), "?");
	if (sscanf(path, "/bytes/%llu", &n) == 1) {
		send_bytes(fd, n);
		return;
	}
	snprintf(body, sizeof(body), "hello from a thread-per-connection server: GET %s\n", path);
	snprintf(resp, sizeof(resp),
		 "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	write_all(fd, resp, strlen(resp));
}

static void serve_echo(int fd, char *buf, size_t len)
{
	if (write_all(fd, buf, len) != 0)
		return;
	for (;;) {
		char chunk[16384];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0 || write_all(fd, chunk, (size_t)n) != 0)
			return;
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	char buf[HEAD_MAX];
	size_t len = read_until(c->fd, buf, 0, sizeof(buf), "\n");

	c->http = strncmp(buf, "GET ", 4) == 0;
	if (c->http) {
		len = read_until(c->fd, buf, len, sizeof(buf), "\r\n\r\n");
		wait_for_go();
		serve_http(c->fd, buf);
	} else {
		wait_for_go();
		serve_echo(c->fd, buf, len);
	}
	if (close(c->fd) != 0)
		die("close");
	return NULL;
}

int main(int argc, char **argv)
{
	long n, http = 0;
	struct conn *conns;
	int lfd;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "hold") != 0) ||
	    (n = strtol(argv[1], NULL, 10)) < 1 || n > 100000) {
		fprintf(stderr, "usage: http_server NCONN [hold]\n");
		return 2;
	}
	hold = argc == 3;
	alarm(60);
	conns = calloc((size_t)n, sizeof(*conns));
	if (!conns)
		die("calloc");
	lfd = serve_loopback();
	for (long i = 0; i < n; i++) {
		do
			conns[i].fd = accept(lfd, NULL, NULL);
		while (conns[i].fd < 0 && errno == EINTR);
		if (conns[i].fd < 0)
			die("accept");
		conns[i].tid = start(conn_main, &conns[i]);
	}
	if (hold)
		report_threads();
	close(lfd);
	pthread_mutex_lock(&lock);
	go = true;
	pthread_cond_broadcast(&all_accepted);
	pthread_mutex_unlock(&lock);
	for (long i = 0; i < n; i++) {
		join(conns[i].tid);
		http += conns[i].http;
	}
	printf("served %ld: %ld http, %ld echo\n", n, http, n - http);
	report_status("VmHWM:");
	free(conns);
	return 0;
}

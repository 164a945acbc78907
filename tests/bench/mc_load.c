/*
 * mc_load PORT CONNS SECONDS: the load of the memcached row of the real-program benchmark
 * (tests/real/run bench_memcached), on loopback only.
 *
 * One kernel thread with epoll holds CONNS connections to the memcached on
 * 127.0.0.1:PORT, each alternating a set of its own key (a 64-byte value) and a get of
 * it in memcached's text protocol, one command outstanding per connection (lockstep),
 * for SECONDS once every connection is open. A load of one thread takes one thread's
 * share of the CPUs, as the server under the library does, so that the figures are the
 * server's rather than those of a load of many threads competing with it. Every answer
 * is checked byte for byte.
 *
 * Prints one line: conns=N ops=K rate=R p50_ms=A p99_ms=B errors=E, where an op is one
 * command and its answer, rate is ops per second, p50 and p99 the time of one; exits 1
 * on an error (a wrong answer, a closed connection), after a deadline of SECONDS + 30.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define VALUE_LEN 64
#define MAX_ANSWER 128

struct conn {
	int fd;
	bool getting;             /* the command outstanding is the get */
	bool busy;                /* a command is outstanding */
	size_t got;
	double sent_at;
	char set[MAX_ANSWER], get[MAX_ANSWER], found[MAX_ANSWER], buf[MAX_ANSWER];
	size_t set_len, get_len, found_len;
};

static struct bench_hist hist;

static _Noreturn void fail(const char *what, long i)
{
	int e = errno;
	fprintf(stderr, "mc_load: %s (connection %ld)%s%s\n", what, i, e ? ": " : "",
		e ? strerror(e) : "");
	exit(1);
}

static void open_conn(struct conn *c, long i, int port, int ep)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	char value[VALUE_LEN + 1];

	snprintf(value, sizeof(value), "%064ld", i);
	c->set_len = (size_t)snprintf(c->set, sizeof(c->set), "set k%ld 0 0 %d\r\n%s\r\n", i,
				      VALUE_LEN, value);
	c->get_len = (size_t)snprintf(c->get, sizeof(c->get), "get k%ld\r\n", i);
	c->found_len = (size_t)snprintf(c->found, sizeof(c->found),
					"VALUE k%ld 0 %d\r\n%s\r\nEND\r\n", i, VALUE_LEN, value);
	c->getting = true; /* so that the first command is the set */
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail("connect", i);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		fail("epoll_ctl", i);
}

static void send_next(struct conn *c, long i)
{
	c->getting = !c->getting;
	const char *m = c->getting ? c->get : c->set;
	size_t len = c->getting ? c->get_len : c->set_len;
	c->got = 0;
	c->busy = true;
	c->sent_at = bench_now_ns();
	if (write(c->fd, m, len) != (ssize_t)len) /* a few bytes: the socket has room */
		fail("write", i);
}

/* Reads what came; true when the whole answer is there (and right). */
static bool answered(struct conn *c, long i)
{
	const char *want = c->getting ? c->found : "STORED\r\n";
	size_t len = c->getting ? c->found_len : 8;
	ssize_t n = read(c->fd, c->buf + c->got, sizeof(c->buf) - c->got);
	if (n <= 0)
		fail(n == 0 ? "memcached closed the connection" : "read", i);
	c->got += (size_t)n;
	if (c->got > len || memcmp(c->buf, want, c->got) != 0)
		fail(c->getting ? "the get answered something else" : "the set was not stored", i);
	return c->got == len;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: mc_load PORT CONNS SECONDS\n");
		return 2;
	}
	int port = atoi(argv[1]);
	long nconns = atol(argv[2]);
	double seconds = atof(argv[3]);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconns + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)nconns + 64 ? rl.rlim_max : (rlim_t)nconns + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
	int ep = epoll_create1(0);
	if (!conns || ep < 0 || port <= 0 || nconns <= 0 || seconds <= 0)
		fail("setup", -1);
	for (long i = 0; i < nconns; i++)
		open_conn(&conns[i], i, port, ep);

	double start = bench_now_ns(), end = start + seconds * 1e9;
	double deadline = end + 30e9;
	long busy = nconns;
	uint64_t ops = 0;
	for (long i = 0; i < nconns; i++)
		send_next(&conns[i], i);
	struct epoll_event evs[256];
	while (busy > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			fail("epoll_wait", -1);
		double now = bench_now_ns();
		if (now > deadline)
			fail("answers still outstanding at the deadline", -1);
		for (int k = 0; k < n; k++) {
			long i = (long)evs[k].data.u64;
			struct conn *c = &conns[i];
			if (!c->busy || !answered(c, i))
				continue;
			c->busy = false;
			busy--;
			now = bench_now_ns();
			if (now < end) {
				bench_hist_add(&hist, (uint64_t)((now - c->sent_at) / 1e3));
				ops++;
				send_next(c, i);
				busy++;
			}
		}
	}
	for (long i = 0; i < nconns; i++)
		close(conns[i].fd);
	printf("conns=%ld ops=%llu rate=%.0f p50_ms=%.2f p99_ms=%.2f errors=0\n", nconns,
	       (unsigned long long)ops, (double)ops / seconds,
	       bench_hist_percentile(&hist, 0.5) / 1e3, bench_hist_percentile(&hist, 0.99) / 1e3);
	return 0;
}

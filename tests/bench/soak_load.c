/*
 * soak_load: the load generator and the judge of `make soak` (scripts/soak), on loopback only.
 *
 *   soak_load [--conns N] [--seconds S] [--seed X] [--hang-s H] [--samples FILE]
 *             -- SERVER [ARGS...]
 *
 * It starts SERVER (tests/progs/soak_server, under the library or not), which prints "port
 * P", echoes every connection, prints "live L accepted A ended E resets R errors X" once a
 * second, and stops when its standard input ends. Then, natively, on one kernel thread with
 * edge-triggered epoll and non-blocking sockets, it holds N connections (10,000) for S
 * seconds: a client that ends is replaced at once by a new one (a reconnect), so that N
 * stay open.
 *
 * Clients. Each has a serial number, and everything it does is drawn from a PRNG seeded
 * with (seed, serial): its kind, its messages, its pauses, how it ends. Kinds:
 *
 *   stream       full duplex: writes its messages as fast as the socket takes them while
 *                it reads the echo, with a think time between messages;
 *   exchange     request and response: writes a message, reads its whole echo, thinks,
 *                writes the next; mostly idle, as most of a server's connections are;
 *   slow writer  writes 1 to 512 bytes at a time, with a pause after each;
 *   slow reader  writes fast but reads 1 to 4096 bytes at a time, with a pause after each,
 *                so that the server's writes block and its reads with them;
 *   ping         (one slot in 100) small timed round trips, 50 to 250 ms apart: the round
 *                trip figures (p50, p99) under all the rest of the load, the load
 *                generator's own delays included;
 *   vanish       connects and goes: closes before the connection is set up, closes at
 *                once, resets at once, or writes a few bytes and closes without reading.
 *
 * Message sizes are log-uniform from 1 byte to 1 MiB (64 KiB at most for slow writers,
 * 256 bytes for pings). The clients that do not vanish end by close (after the whole
 * echo), by half-close (shutdown(SHUT_WR) once everything is written, then the echo read to
 * its end of file) or, but for pings, by reset (SO_LINGER {1, 0} and close at a random
 * byte). Half of the clients set small socket buffers, so that the server sees short reads
 * and writes.
 *
 * Checking. The bytes a client sends at offset o are a function of (its key, o), so the
 * echo is checked against bytes made again, never kept: what 10,000 connections of up to
 * several MiB each have sent would take gigabytes. Each received byte is compared where it lands (a
 * corrupted byte is reported with its connection and offset), and a running checksum
 * of each direction is compared at a clean end. A clean end that misses bytes, an end of
 * file or reset from the server before the client's own end, and bytes the client never
 * sent are failures; bytes in flight when the client resets are not lost, and are counted
 * apart.
 *
 * Sampling. Once a second: the server's VmRSS (/proc/PID/status), its descriptors
 * (/proc/PID/fd) and kernel threads (/proc/PID/task), and the connection threads alive
 * from its last report (the green threads under the library); --samples writes them to a
 * file, one line a second.
 *
 * The end. After S seconds no client starts; the open ones stop writing, read their echo
 * at full speed and close (drain). Once they are all gone, the server gets a few seconds
 * to come back to its starting descriptors, kernel threads and zero connection threads
 * (settle); then its standard input is closed and it must exit 0. A table of figures
 * follows, and the exit status is 1 on any corrupted or lost byte, any error, descriptors
 * or threads above the start after the settle, RSS still growing after the warm-up, or a
 * hang: a client, or the whole load, without progress for H seconds (default 30), a drain
 * that does not end, or a server that does not exit when asked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Connections being set up at once: the listen backlog (SOMAXCONN) never overflows, which
 * would cost one-second SYN retransmissions. */
#define CONNECT_WINDOW 256
#define IO_CHUNK 65536		/* the most one send or recv moves */
#define MAX_MESSAGE (1 << 20)
#define PING_SLOTS_EVERY 100
#define TIMER_TICK_S 0.005	/* pauses are looked at this often */
#define DRAIN_S 30.0		/* the most the last echoes may take at the end */
#define SETTLE_S 15.0		/* the most the server may take to free what it held */
#define EXIT_S 30.0		/* the most the server may take to exit once asked */
#define REPORTED_PROBLEMS 20	/* problems printed one by one; the rest are counted */
#define NO_TIME 1e300

/*
 * RSS still growing after the warm-up: the largest VmRSS of the last half of what follows
 * the warm-up against the largest of its first half. The warm-up is the first third of the
 * run, and a minute at least: the server's RSS climbs for about a minute (it saturates
 * with a time constant of 20 to 30 s here), as more of its 10,000 threads have moved data
 * through their stacks' buffers, and as the allocator's arenas reach their working size.
 * After it, RSS follows the connection threads alive (some 20 KiB each), and those dip
 * whenever the machine's other work slows the reconnects, by a tenth or more on a busy
 * machine. Maxima, not averages or a fitted slope: the largest figure of a stretch of the
 * run is the one the dips do not move, and only a leak keeps pushing it up. The tolerance
 * covers what is left of the warm-up and what the busiest moment of a random load still
 * gains over a longer window. A leak of 40 bytes per connection exceeds it over the
 * 600,000 connections of a third of an hour, one of about 1 KiB over the 18,000 of the
 * last half minute of two. Runs shorter than RSS_MIN_S are too short to tell, and are not
 * judged.
 */
#define RSS_TOLERANCE 0.10
#define RSS_TOLERANCE_MIN_KIB (16 * 1024)
#define RSS_WARMUP_MIN_S 60
#define RSS_MIN_S 90

/*
 * The library's spare carriers (kernel threads named "gp-carrier") are left out of the
 * threads check: its monitor makes one to take the green threads over from a carrier that
 * has not switched for the hand-off threshold (1 ms), which on a busy machine is one the
 * kernel preempted in the program's code, and keeps it, idle, to be used again
 * (libgreenpatch(7), Hand-off): a pool that GREENPATCH_MAX_THREADS bounds, as Go keeps the
 * threads it made for its system calls. How many there are depends on how many carriers
 * the machine's load preempted at once, not on the connections: they are counted apart,
 * with the monitor's reader of /proc ("gp-procread", core/procread.h), which it starts the
 * first time it looks at such a carrier.
 */

enum kind { K_STREAM, K_EXCHANGE, K_SLOW_WRITER, K_SLOW_READER, K_PING, K_VANISH, K_COUNT };
static const char *const kind_names[K_COUNT] = {
	"stream", "exchange", "slow writer", "slow reader", "ping", "vanish",
};

/* How a client ends; E_DRAINED: closed after its echo at the end of the run. */
enum ending { E_CLOSE, E_HALF_CLOSE, E_RESET, E_VANISH, E_DRAINED, E_FAILED, E_COUNT };
static const char *const ending_names[E_COUNT] = {
	"close", "half-close", "reset", "vanish", "end of run", "failed",
};

enum vanish { V_CONNECTING, V_CLOSE, V_RESET, V_AFTER_BYTES, V_COUNT };

enum state { S_FREE, S_CONNECTING, S_OPEN, S_HALF_CLOSED };
static const char *const state_names[] = { "free", "connecting", "open", "half-closed" };

struct client {
	int fd;
	uint8_t kind, ending, state, vanish;
	bool readable, writable, lockstep;
	uint64_t serial, key, rng;
	uint32_t msgs_left;	/* messages not started yet */
	uint32_t reset_msg;	/* E_RESET: messages left when the one it resets in starts */
	uint64_t msg_start, msg_end; /* offsets of the message being written */
	uint64_t reset_at;	/* E_RESET: reset once this much is written */
	uint32_t max_message, write_chunk, read_chunk; /* the most one call moves */
	uint32_t write_pause_ms, read_pause_ms; /* the most of a pause after a write, a read */
	uint32_t think_min_ms, think_ms;	/* before each message */
	uint64_t sent, received;
	uint64_t tx_a, tx_b, rx_a, rx_b; /* checksums of each direction */
	double write_at, read_at;	/* no write, no read before */
	double wake_at;			/* the earliest pause that ends */
	double progress_at;		/* the last progress, or the end of a pause */
	double ping_at;
	double opened_at;
};

struct sample {
	double t;
	long rss_kib, fds, tasks, live, open;
	long spares; /* only in the start and end figures */
};

/* What the server said in its last report. */
struct server {
	pid_t pid;
	int in_fd, out_fd;
	int port;
	char line[512];
	size_t line_len;
	long live, accepted, ended, resets, errors;
	unsigned long long bytes;
	bool reported, final;
	double report_at;
};

static struct {
	uint64_t opened, by_kind[K_COUNT], ended_by[E_COUNT], vanish_by[V_COUNT];
	uint64_t sent, checked, in_flight_at_reset, corrupted, lost;
	uint64_t problems;
	long open, connecting, peak_open;
} tally;

static long nconns = 10000;
static double seconds = 120, hang_s = 30;
static uint64_t seed = 1;
static const char *samples_path;

static struct client *clients;
static long *free_slots, nfree;
static int ep;
static struct server srv = { .pid = -1, .in_fd = -1, .out_fd = -1 };
static struct sample *samples;
static long nsamples, max_samples;
static struct sample start_fig, end_fig;
static struct bench_hist rtt;
static unsigned char wbuf[IO_CHUNK], rbuf[IO_CHUNK], ebuf[IO_CHUNK];
static double t0;
static bool draining;
static const char *hang; /* why the run stopped early, or NULL */
static volatile sig_atomic_t interrupted;

/* ---- time, failing ---- */

static double now_s(void)
{
	return bench_now_ns() / 1e9;
}

static void kill_server(void)
{
	if (srv.pid > 0) {
		kill(srv.pid, SIGKILL);
		waitpid(srv.pid, NULL, 0);
		srv.pid = -1;
	}
}

/* A failure of the set-up, which leaves nothing to judge. */
static _Noreturn void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "soak_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", e ? ": " : "", e ? strerror(e) : "");
	kill_server();
	exit(1);
}

/* A failure of the soak: printed (the first few), counted, judged at the end. */
static void __attribute__((format(printf, 1, 2))) problem(const char *fmt, ...)
{
	va_list ap;

	if (tally.problems++ >= REPORTED_PROBLEMS) {
		if (tally.problems == REPORTED_PROBLEMS + 1)
			fprintf(stderr, "soak_load: more problems follow, counted but not shown\n");
		return;
	}
	fprintf(stderr, "soak_load: %.1f s: ", now_s() - t0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A problem of one connection: the message says what the connection was doing. */
static void __attribute__((format(printf, 2, 3)))
client_problem(const struct client *c, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	problem("connection %llu (%s, to end by %s, %s for %.0f s, %llu bytes written, %llu "
		"echoed): %s",
		(unsigned long long)c->serial, kind_names[c->kind], ending_names[c->ending],
		state_names[c->state], now_s() - c->opened_at, (unsigned long long)c->sent,
		(unsigned long long)c->received, what);
}

/* ---- numbers that can be made again ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* splitmix64 */
static uint64_t next(uint64_t *state)
{
	return mix64(*state += 0x9e3779b97f4a7c15ull);
}

/* Uniform in [lo, hi]. */
static uint64_t between(uint64_t *rng, uint64_t lo, uint64_t hi)
{
	return lo + next(rng) % (hi - lo + 1);
}

static bool chance(uint64_t *rng, unsigned percent)
{
	return next(rng) % 100 < percent;
}

/* Log-uniform in [1, max] (max a power of two): a power of two picked uniformly, then a
 * size uniformly up to the next one; as many messages of 1-2 bytes as of 512 KiB-1 MiB. */
static uint32_t log_size(uint64_t *rng, uint32_t max)
{
	unsigned powers = 31 - (unsigned)__builtin_clz(max);
	uint64_t low = 1ull << between(rng, 0, powers - 1);

	return (uint32_t)between(rng, low, 2 * low);
}

/* The bytes at offsets [off, off + n) of a connection's stream: those of 8-byte word w are
 * mix64(key + w), so any stretch is made again from its offset alone. */
static void fill(uint64_t key, uint64_t off, unsigned char *buf, size_t n)
{
	while (n > 0) {
		uint64_t w = mix64(key + (off >> 3));
		size_t skip = off & 7, take = 8 - skip < n ? 8 - skip : n;

		memcpy(buf, (unsigned char *)&w + skip, take);
		buf += take;
		off += take;
		n -= take;
	}
}

/* Fletcher's checksum on 64-bit sums: order and length change it, not only the bytes. */
static void checksum(uint64_t *a, uint64_t *b, const unsigned char *p, size_t n)
{
	uint64_t x = *a, y = *b;

	for (size_t i = 0; i < n; i++) {
		x += p[i];
		y += x;
	}
	*a = x;
	*b = y;
}

/* ---- clients: what they do ---- */

static void client_plan(struct client *c, long slot)
{
	/* In 100; pings have slots of their own. */
	static const unsigned kind_weights[K_COUNT] = { 20, 35, 15, 15, 0, 15 };
	uint64_t *r = &c->rng;
	unsigned pick;

	c->kind = K_VANISH;
	if (slot % PING_SLOTS_EVERY == 0) {
		c->kind = K_PING;
	} else {
		pick = (unsigned)between(r, 0, 99);
		for (int k = 0; k < K_COUNT; k++) {
			if (pick < kind_weights[k]) {
				c->kind = (uint8_t)k;
				break;
			}
			pick -= kind_weights[k];
		}
	}
	c->max_message = MAX_MESSAGE;
	c->write_chunk = c->read_chunk = IO_CHUNK;
	c->write_pause_ms = c->read_pause_ms = 0;
	c->lockstep = false;
	c->reset_at = UINT64_MAX;
	switch (c->kind) {
	case K_STREAM:
		c->msgs_left = (uint32_t)between(r, 1, 4);
		c->think_ms = 5000;
		break;
	case K_EXCHANGE:
		c->lockstep = true;
		c->msgs_left = (uint32_t)between(r, 1, 10);
		c->think_ms = 15000;
		break;
	/*
	 * Slow clients draw the size of each write or read anew, up to 512 or 4096 bytes:
	 * some calls move a byte, yet a client moves a few KiB a second. One that always read
	 * a byte would keep its receive window shut for hours (the window opens again only
	 * once a segment's worth is read), and when the server has closed after a half-close,
	 * the kernel gives up on the closed socket whose peer keeps its window shut for a few
	 * minutes (tcp_orphan_retries) and drops the echo still queued in it, natively too.
	 */
	case K_SLOW_WRITER:
		c->max_message = 65536;
		c->msgs_left = (uint32_t)between(r, 1, 2);
		c->write_chunk = 512;
		c->write_pause_ms = 200;
		c->think_ms = 2000;
		break;
	case K_SLOW_READER:
		c->msgs_left = (uint32_t)between(r, 1, 2);
		c->read_chunk = 4096;
		c->read_pause_ms = 200;
		c->think_ms = 2000;
		break;
	case K_PING:
		c->lockstep = true;
		c->max_message = 256;
		c->msgs_left = (uint32_t)between(r, 50, 300);
		c->think_min_ms = 50;
		c->think_ms = 250;
		break;
	case K_VANISH:
		c->vanish = (uint8_t)between(r, 0, V_COUNT - 1);
		c->ending = E_VANISH;
		return;
	}
	c->ending = chance(r, 25) ? E_HALF_CLOSE : E_CLOSE;
	if (c->kind != K_PING && chance(r, 20)) {
		c->ending = E_RESET;
		c->reset_msg = (uint32_t)between(r, 1, c->msgs_left) - 1;
	}
}

/* A pause of min_ms to max_ms; a client in a pause waits on nobody, so its hang clock
 * waits too. */
static double pause_until(struct client *c, double now, uint32_t min_ms, uint32_t max_ms)
{
	double t = now + (double)between(&c->rng, min_ms, max_ms) / 1e3;

	if (c->progress_at < t)
		c->progress_at = t;
	return t;
}

static void progress(struct client *c, double now)
{
	if (c->progress_at < now)
		c->progress_at = now;
}

/* The next message starts after a think time; false when there is none left. */
static bool start_message(struct client *c, double now)
{
	uint32_t size;

	if (c->msgs_left == 0 || draining)
		return false;
	size = log_size(&c->rng, c->max_message);
	c->msgs_left--;
	c->msg_start = c->msg_end;
	c->msg_end += size;
	if (c->ending == E_RESET && c->msgs_left == c->reset_msg)
		c->reset_at = c->msg_start + between(&c->rng, 0, size);
	c->write_at = pause_until(c, now, c->think_min_ms, c->think_ms);
	return true;
}

static bool done_sending(const struct client *c)
{
	return c->msgs_left == 0 && c->sent == c->msg_end;
}

/* ---- clients: opening and ending ---- */

static void ep_add(struct client *c, long slot)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)slot,
	};

	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		fatal("epoll_ctl");
}

/*
 * Ports: every connection comes from a source address of its own in 127.0.0.0/8 (bound with
 * IP_BIND_ADDRESS_NO_PORT, so the port is picked at connect for the whole 4-tuple), cycling
 * through 127.1.0.1 to 127.100.254.254 (6.5 million). A closed connection leaves its
 * TIME_WAIT on a 4-tuple that comes back only after millions of others, however many
 * reconnects there are: the ephemeral ports of one source address never run out, whichever
 * side closes first.
 */
static struct sockaddr_in source_address(uint64_t serial)
{
	uint64_t i = serial % (100ull * 254 * 254);
	struct sockaddr_in sa = { .sin_family = AF_INET };

	sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(i / (254 * 254) + 1) << 16 |
				   (uint32_t)(i / 254 % 254 + 1) << 8 | (uint32_t)(i % 254 + 1));
	return sa;
}

/* Half of the clients set small buffers, before connect, so that the window follows. */
static void set_buffers(struct client *c)
{
	int one = 1, size;

	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (chance(&c->rng, 50))
		return;
	size = 1 << between(&c->rng, 12, 17);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	size = 1 << between(&c->rng, 12, 17);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static void reset_socket(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void client_end(struct client *c, enum ending how)
{
	long slot = c - clients;

	if (how == E_RESET || how == E_FAILED)
		reset_socket(c->fd);
	if (how == E_RESET)
		tally.in_flight_at_reset += c->sent - c->received;
	if (c->state == S_CONNECTING)
		tally.connecting--;
	close(c->fd);
	c->fd = -1;
	c->state = S_FREE;
	tally.ended_by[how]++;
	tally.open--;
	free_slots[nfree++] = slot;
}

static void client_open(long slot)
{
	struct client *c = &clients[slot];
	struct sockaddr_in src, dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port) };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->serial = tally.opened++;
	c->rng = seed * 0x100000001b3ull ^ c->serial;
	c->key = next(&c->rng);
	client_plan(c, slot);
	tally.by_kind[c->kind]++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fatal("socket");
	set_buffers(c);
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	src = source_address(c->serial);
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0)
		fatal("bind to a source address in 127.0.0.0/8");
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS) {
		client_problem(c, "connect: %s", strerror(errno));
		close(c->fd);
		tally.ended_by[E_FAILED]++;
		free_slots[nfree++] = slot;
		return;
	}
	c->state = S_CONNECTING;
	c->opened_at = c->progress_at = now_s();
	c->write_at = c->read_at = c->wake_at = NO_TIME;
	tally.open++;
	tally.connecting++;
	if (tally.open > tally.peak_open)
		tally.peak_open = tally.open;
	if (c->kind == K_VANISH && c->vanish == V_CONNECTING) {
		tally.vanish_by[V_CONNECTING]++;
		client_end(c, E_VANISH);
		return;
	}
	ep_add(c, slot);
}

/* Keeps every slot busy, at most CONNECT_WINDOW connections being set up at a time (and
 * opened per call, should connect fail at once again and again). */
static void fill_slots(void)
{
	for (int i = 0; i < CONNECT_WINDOW && nfree > 0 && tally.connecting < CONNECT_WINDOW &&
			!draining; i++)
		client_open(free_slots[--nfree]);
}

/* Goes before it has read anything (vanish kinds other than V_CONNECTING). */
static void vanish(struct client *c)
{
	size_t n;

	tally.vanish_by[c->vanish]++;
	if (c->vanish == V_RESET)
		reset_socket(c->fd);
	if (c->vanish == V_AFTER_BYTES) {
		n = (size_t)between(&c->rng, 1, 64);
		fill(c->key, 0, wbuf, n);
		if (send(c->fd, wbuf, n, MSG_NOSIGNAL) > 0) {
			tally.sent += n;
			tally.in_flight_at_reset += n;
		}
	}
	client_end(c, E_VANISH);
}

/* ---- clients: input and output ---- */

/* The echo of a message is complete: a lockstep client thinks, then starts the next. */
static void message_echoed(struct client *c, double now)
{
	if (c->kind == K_PING)
		bench_hist_add(&rtt, (uint64_t)((now - c->ping_at) * 1e6));
	start_message(c, now);
}

/* Compares n received bytes with what was sent at their offset; false if they differ. */
static bool check_echo(struct client *c, const unsigned char *p, size_t n)
{
	size_t bad = 0, first = n, ok = n;

	if (c->received + n > c->sent) {
		ok = (size_t)(c->sent - c->received);
		client_problem(c, "%zu bytes echoed that were never sent", n - ok);
		bad = n - ok;
	}
	fill(c->key, c->received, ebuf, ok);
	if (memcmp(p, ebuf, ok) != 0) {
		for (size_t i = 0; i < ok; i++) {
			if (p[i] == ebuf[i])
				continue;
			if (first == n)
				first = i;
			bad++;
		}
		client_problem(c, "%zu corrupted bytes, the first at offset %llu (0x%02x, "
				  "expected 0x%02x)", bad, (unsigned long long)(c->received + first),
			       p[first], ebuf[first]);
	}
	tally.corrupted += bad;
	return bad == 0;
}

/* The server ended the connection before the client did: every byte not echoed is lost. */
static void ended_early(struct client *c, const char *how)
{
	client_problem(c, "%s", how);
	tally.lost += c->sent - c->received;
	client_end(c, E_FAILED);
}

/* At a clean end, when every byte sent came back: the checksums of both directions agree. */
static void compare_checksums(const struct client *c)
{
	if (c->tx_a != c->rx_a || c->tx_b != c->rx_b) {
		client_problem(c, "the checksums of the two directions differ");
		tally.corrupted++;
	}
}

static void end_of_file(struct client *c)
{
	if (c->state != S_HALF_CLOSED || c->received != c->sent) {
		ended_early(c, "end of file from the server");
		return;
	}
	compare_checksums(c);
	client_end(c, draining ? E_DRAINED : E_HALF_CLOSE);
}

/* Reads what there is (a slow reader: one small read, then a pause); false once ended. */
static bool read_some(struct client *c, double now)
{
	while (c->readable && now >= c->read_at) {
		size_t want = draining	      ? IO_CHUNK
			      : c->read_pause_ms ? between(&c->rng, 1, c->read_chunk)
						 : c->read_chunk;
		ssize_t n = recv(c->fd, rbuf, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->readable = false;
			break;
		}
		if (n < 0) {
			ended_early(c, strerror(errno));
			return false;
		}
		if (n == 0) {
			end_of_file(c);
			return false;
		}
		if (!check_echo(c, rbuf, (size_t)n)) {
			client_end(c, E_FAILED);
			return false;
		}
		checksum(&c->rx_a, &c->rx_b, rbuf, (size_t)n);
		c->received += (uint64_t)n;
		tally.checked += (uint64_t)n;
		progress(c, now);
		if (c->lockstep && c->received == c->msg_end && c->sent == c->msg_end)
			message_echoed(c, now);
		if (c->read_pause_ms && !draining)
			c->read_at = pause_until(c, now, 1, c->read_pause_ms);
	}
	return true;
}

/* Writes what the plan allows now (a slow writer: one small write, then a pause). */
static bool write_some(struct client *c, double now)
{
	while (c->writable && now >= c->write_at && c->sent < c->msg_end) {
		uint64_t left = (c->reset_at < c->msg_end ? c->reset_at : c->msg_end) - c->sent;
		size_t chunk = c->write_pause_ms ? between(&c->rng, 1, c->write_chunk)
						 : c->write_chunk;
		size_t want = left < chunk ? (size_t)left : chunk;
		ssize_t n;

		if (want == 0)
			break;
		fill(c->key, c->sent, wbuf, want);
		n = send(c->fd, wbuf, want, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->writable = false;
			break;
		}
		if (n < 0) {
			ended_early(c, strerror(errno));
			return false;
		}
		if (c->sent == c->msg_start)
			c->ping_at = now;
		checksum(&c->tx_a, &c->tx_b, wbuf, (size_t)n);
		c->sent += (uint64_t)n;
		tally.sent += (uint64_t)n;
		progress(c, now);
		if (c->sent == c->msg_end && !c->lockstep)
			start_message(c, now);
		if (c->write_pause_ms)
			c->write_at = pause_until(c, now, 1, c->write_pause_ms);
	}
	return true;
}

/* Ends the client if its plan is done: reset, close after the whole echo, or half-close. */
static bool finish_if_done(struct client *c)
{
	if (c->sent >= c->reset_at && !draining) {
		client_end(c, E_RESET);
		return false;
	}
	if (!done_sending(c) || c->state == S_HALF_CLOSED)
		return true;
	if (c->ending == E_HALF_CLOSE && !draining) {
		if (shutdown(c->fd, SHUT_WR) != 0)
			fatal("shutdown");
		c->state = S_HALF_CLOSED;
		return true;
	}
	if (c->received < c->sent)
		return true;
	compare_checksums(c);
	client_end(c, draining ? E_DRAINED : (enum ending)c->ending);
	return false;
}

static void schedule_wake(struct client *c, double now)
{
	c->wake_at = NO_TIME;
	if (c->read_at > now && c->read_at < c->wake_at)
		c->wake_at = c->read_at;
	if (c->write_at > now && c->write_at < c->wake_at)
		c->wake_at = c->write_at;
}

static void step(struct client *c, double now)
{
	if (!read_some(c, now) || !write_some(c, now) || !finish_if_done(c))
		return;
	schedule_wake(c, now);
}

static void connected(struct client *c, double now)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		client_problem(c, "connect: %s", strerror(err));
		client_end(c, E_FAILED);
		return;
	}
	tally.connecting--;
	c->state = S_OPEN;
	progress(c, now);
	if (c->kind == K_VANISH) {
		vanish(c);
		return;
	}
	c->read_at = 0;
	if (draining)
		c->msgs_left = 0;
	if (start_message(c, now))
		step(c, now);
	else
		finish_if_done(c);
}

static void client_event(long slot, uint32_t events, double now)
{
	struct client *c = &clients[slot];

	if (c->fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->writable = true;
	if (c->state == S_CONNECTING)
		connected(c, now);
	else
		step(c, now);
}

/* Steps every client whose pause has ended. */
static void wake_clients(double now)
{
	for (long i = 0; i < nconns; i++) {
		struct client *c = &clients[i];

		if (c->fd >= 0 && c->state != S_CONNECTING && c->wake_at <= now)
			step(c, now);
	}
}

/* At the end of the run: nothing more is written, the echo is read at full speed. */
static void start_drain(double now)
{
	draining = true;
	for (long i = 0; i < nconns; i++) {
		struct client *c = &clients[i];

		if (c->fd < 0 || c->state == S_CONNECTING)
			continue;
		c->msgs_left = 0;
		c->msg_end = c->sent;
		c->read_at = 0;
		c->progress_at = now;
		step(c, now);
	}
}

/* ---- the server ---- */

static void on_signal(int sig)
{
	interrupted = sig;
}

static void start_server(char **argv)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		fatal("pipe");
	srv.pid = fork();
	if (srv.pid < 0)
		fatal("fork");
	if (srv.pid == 0) {
		/* If this program is killed, the server must not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* Its descriptor figures start from 0, 1 and 2, whatever this one inherited. */
		close_range(3, ~0u, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "soak_load: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv.in_fd = in[1];
	srv.out_fd = out[0];
	fcntl(srv.out_fd, F_SETFL, O_NONBLOCK);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, srv.out_fd, &ev) != 0)
		fatal("epoll_ctl");
}

static void server_line(char *line, double now)
{
	int port;

	if (sscanf(line, "port %d", &port) == 1) {
		srv.port = port;
		return;
	}
	srv.final = strncmp(line, "final ", 6) == 0;
	if (sscanf(line + (srv.final ? 6 : 0), "live %ld accepted %ld ended %ld resets %ld errors %ld",
		   &srv.live, &srv.accepted, &srv.ended, &srv.resets, &srv.errors) != 5) {
		problem("the server printed: %s", line);
		return;
	}
	if (srv.final)
		sscanf(strstr(line, " bytes ") ? strstr(line, " bytes ") : "", " bytes %llu",
		       &srv.bytes);
	srv.reported = true;
	srv.report_at = now;
}

static void server_output(double now)
{
	for (;;) {
		ssize_t n = read(srv.out_fd, srv.line + srv.line_len,
				 sizeof(srv.line) - 1 - srv.line_len);
		char *nl;

		if (n <= 0)
			return;
		srv.line_len += (size_t)n;
		srv.line[srv.line_len] = 0;
		while ((nl = strchr(srv.line, '\n'))) {
			*nl = 0;
			server_line(srv.line, now);
			srv.line_len -= (size_t)(nl + 1 - srv.line);
			memmove(srv.line, nl + 1, srv.line_len + 1);
		}
		if (srv.line_len == sizeof(srv.line) - 1)
			srv.line_len = 0; /* a line that long is not the server's */
	}
}

/* Handles the events there are, waiting at most timeout_ms for the first. */
static void pump(int timeout_ms)
{
	struct epoll_event evs[512];
	int n = epoll_wait(ep, evs, 512, timeout_ms);
	double now = now_s();

	if (n < 0 && errno != EINTR)
		fatal("epoll_wait");
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u64 == UINT64_MAX)
			server_output(now);
		else
			client_event((long)evs[i].data.u64, evs[i].events, now);
	}
}

static long count_dir(const char *fmt)
{
	char path[64];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), fmt, (int)srv.pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long spare_carriers(void)
{
	char path[64], comm[32];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)srv.pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", (int)srv.pid, e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) &&
		    (strcmp(comm, "gp-carrier\n") == 0 || strcmp(comm, "gp-procread\n") == 0))
			n++;
		if (f)
			fclose(f);
	}
	closedir(d);
	return n;
}

static struct sample sample_server(double now)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)srv.pid);
	return (struct sample){
		.t = now - t0,
		.rss_kib = bench_status_field(path, "VmRSS"),
		.fds = count_dir("/proc/%d/fd"),
		.tasks = count_dir("/proc/%d/task"),
		.live = srv.live,
		.open = tally.open,
	};
}

/* The start and end figures, with the spare carriers counted. */
static struct sample sample_with_spares(double now)
{
	struct sample s = sample_server(now);

	s.spares = spare_carriers();
	return s;
}

static bool server_exited(int *status)
{
	return srv.pid > 0 && waitpid(srv.pid, status, WNOHANG) == srv.pid;
}

/* ---- the run ---- */

static FILE *samples_file;

static void record_sample(double now)
{
	struct sample s = sample_server(now);

	if (nsamples < max_samples)
		samples[nsamples++] = s;
	if (samples_file)
		fprintf(samples_file, "%.0f %ld %ld %ld %ld %ld %llu %llu\n", s.t, s.rss_kib,
			s.fds, s.tasks, s.live, s.open, (unsigned long long)tally.sent,
			(unsigned long long)tally.checked);
}

static void print_progress(const struct sample *s)
{
	printf("soak: %4.0f s: %ld open, %llu opened, %.2f GiB echoed and checked; server: "
	       "RSS %.1f MiB, %ld descriptors, %ld kernel threads, %ld connection threads\n",
	       s->t, s->open, (unsigned long long)tally.opened,
	       (double)tally.checked / (1 << 30), (double)s->rss_kib / 1024, s->fds, s->tasks,
	       s->live);
	fflush(stdout);
}

/* Once a second: a sample, and the checks for a hang or a server gone. */
static void every_second(double now, uint64_t *last_moved, double *moved_at)
{
	uint64_t moved = tally.sent + tally.checked + tally.opened;
	int status;

	record_sample(now);
	if (moved != *last_moved) {
		*last_moved = moved;
		*moved_at = now;
	} else if (now - *moved_at > hang_s) {
		hang = "no byte moved and no connection opened";
	}
	if (now - srv.report_at > hang_s)
		hang = "the server stopped reporting";
	if (server_exited(&status)) {
		srv.pid = -1;
		hang = "the server exited";
	}
	for (long i = 0; i < nconns && !hang; i++) {
		struct client *c = &clients[i];

		if (c->fd >= 0 && now - c->progress_at > hang_s) {
			client_problem(c, "no progress for %.0f s", hang_s);
			hang = "a connection made no progress";
		}
	}
}

/* Runs the load until `until` (or, draining, until every client is gone). */
static void run_until(double until, double progress_every)
{
	double next_tick = 0, next_second = now_s(), next_print = now_s() + progress_every;
	double moved_at = now_s();
	uint64_t last_moved = 0;

	for (;;) {
		double now = now_s();

		if (now >= until || hang || interrupted || (draining && tally.open == 0))
			return;
		fill_slots();
		pump(2);
		now = now_s();
		if (now >= next_tick) {
			wake_clients(now);
			next_tick = now + TIMER_TICK_S;
		}
		if (now >= next_second) {
			every_second(now, &last_moved, &moved_at);
			next_second += 1;
			if (now >= next_print && !draining) {
				print_progress(&samples[nsamples - 1]);
				next_print += progress_every;
			}
		}
	}
}

/*
 * Waits until the server holds no more than at the start, or SETTLE_S; the last sample.
 * Its count of connection threads must come from a report made after the clients were
 * all gone.
 */
static struct sample settle(void)
{
	double since = now_s(), until = since + SETTLE_S;
	struct sample s;

	for (;;) {
		pump(100);
		s = sample_with_spares(now_s());
		if (s.fds <= start_fig.fds && s.tasks - s.spares <= start_fig.tasks - start_fig.spares &&
		    srv.live == 0 &&
		    srv.report_at > since)
			return s;
		if (now_s() > until)
			return s;
	}
}

/* Closes the server's standard input and waits for it to exit; false if it does not. */
static bool stop_server(int *status)
{
	double until = now_s() + EXIT_S;

	close(srv.in_fd);
	while (now_s() < until) {
		pump(50);
		if (server_exited(status)) {
			srv.pid = -1;
			server_output(now_s());
			return true;
		}
	}
	return false;
}

/* ---- the verdict ---- */

static long max_rss(double from, double to)
{
	long m = -1;

	for (long i = 0; i < nsamples; i++)
		if (samples[i].t >= from && samples[i].t < to && samples[i].rss_kib > m)
			m = samples[i].rss_kib;
	return m;
}

static long peak(long (*field)(const struct sample *))
{
	long m = 0;

	for (long i = 0; i < nsamples; i++)
		if (field(&samples[i]) > m)
			m = field(&samples[i]);
	return m;
}

/* How many connections were open, from the samples after the first connections are all
 * made (RAMP_S) to the end of the load: the mean and the least. */
#define RAMP_S 10

static void open_figures(double *mean, long *least)
{
	long n = 0, sum = 0;

	*least = 0;
	for (long i = 0; i < nsamples; i++) {
		if (samples[i].t < RAMP_S || samples[i].t > seconds)
			continue;
		if (n == 0 || samples[i].open < *least)
			*least = samples[i].open;
		sum += samples[i].open;
		n++;
	}
	*mean = n ? (double)sum / (double)n : 0;
}

static long fds_of(const struct sample *s)
{
	return s->fds;
}

static long tasks_of(const struct sample *s)
{
	return s->tasks;
}

static long live_of(const struct sample *s)
{
	return s->live;
}

static double mib(long kib)
{
	return (double)kib / 1024;
}

static double gib(uint64_t bytes)
{
	return (double)bytes / (1 << 30);
}

static void print_list(const char *label, const uint64_t *counts, const char *const *names,
		       int n)
{
	printf("  %-36s", label);
	for (int i = 0; i < n; i++)
		printf("%s %s %llu", i ? "," : "", names[i], (unsigned long long)counts[i]);
	putchar('\n');
}

static const char *fail_if(bool bad, int *failures)
{
	*failures += bad;
	return bad ? "  FAIL" : "";
}

/* Prints the table; returns how many checks failed. */
static int verdict(const struct sample *end_run, bool asked, bool exited, int status)
{
	static const char *const vanish_names[V_COUNT] = {
		"while connecting", "close", "reset", "after a few bytes",
	};
	double warmed = seconds / 3 > RSS_WARMUP_MIN_S ? seconds / 3 : RSS_WARMUP_MIN_S;
	double half = warmed + (seconds - warmed) / 2;
	long warm = max_rss(warmed, half), last = max_rss(half, seconds + 1);
	long slack = (long)((double)warm * RSS_TOLERANCE);
	long limit = warm + (slack > RSS_TOLERANCE_MIN_KIB ? slack : RSS_TOLERANCE_MIN_KIB);
	bool judged = seconds >= RSS_MIN_S && warm > 0 && last > 0;
	int failures = 0;
	double open_mean;
	long open_least;

	open_figures(&open_mean, &open_least);
	printf("\n== soak: %ld connections for %.0f s, seed %llu\n", nconns, seconds,
	       (unsigned long long)seed);
	printf("  %-36s%llu\n", "connections opened", (unsigned long long)tally.opened);
	print_list("  by kind", tally.by_kind, kind_names, K_COUNT);
	print_list("  ended by", tally.ended_by, ending_names, E_COUNT);
	print_list("  vanished", tally.vanish_by, vanish_names, V_COUNT);
	printf("  %-36speak %ld, mean %.0f, least %ld (after %d s)\n", "connections open at once",
	       tally.peak_open, open_mean, open_least, RAMP_S);
	printf("  %-36s%llu (%.2f GiB)\n", "bytes sent", (unsigned long long)tally.sent,
	       gib(tally.sent));
	printf("  %-36s%llu (%.2f GiB)\n", "bytes echoed and checked",
	       (unsigned long long)tally.checked, gib(tally.checked));
	printf("  %-36s%llu (not lost)\n", "bytes in flight at resets, vanish",
	       (unsigned long long)tally.in_flight_at_reset);
	printf("  %-36s%llu%s\n", "bytes corrupted", (unsigned long long)tally.corrupted,
	       fail_if(tally.corrupted > 0, &failures));
	printf("  %-36s%llu%s\n", "bytes lost", (unsigned long long)tally.lost,
	       fail_if(tally.lost > 0, &failures));
	printf("  %-36sp50 %.0f us, p99 %.0f us (%llu round trips)\n", "round trip (ping)",
	       bench_hist_percentile(&rtt, 0.50), bench_hist_percentile(&rtt, 0.99),
	       (unsigned long long)bench_hist_count(&rtt));
	printf("  %-36sstart %.1f, after warm-up %.1f (largest of %.0f-%.0f s), end of run "
	       "%.1f, without clients %.1f\n",
	       "server RSS, MiB", mib(start_fig.rss_kib), mib(warm), warmed, half,
	       mib(end_run->rss_kib), mib(end_fig.rss_kib));
	if (judged)
		printf("  %-36slargest of %.0f-%.0f s %.1f MiB, limit %.1f MiB%s\n",
		       "RSS growth after warm-up", half, seconds, mib(last), mib(limit),
		       fail_if(last > limit, &failures));
	else
		printf("  %-36snot judged: a run of %.0f s is too short (%d s or more)\n",
		       "RSS growth after warm-up", seconds, RSS_MIN_S);
	printf("  %-36sstart %ld, peak %ld, end %ld%s\n", "server descriptors", start_fig.fds,
	       peak(fds_of), end_fig.fds, fail_if(end_fig.fds > start_fig.fds, &failures));
	printf("  %-36sstart %ld, peak %ld, end %ld%s\n", "server kernel threads",
	       start_fig.tasks, peak(tasks_of), end_fig.tasks,
	       fail_if(end_fig.tasks - end_fig.spares > start_fig.tasks - start_fig.spares,
		       &failures));
	printf("  %-36sstart %ld, end %ld (idle, kept for reuse: not a leak)\n",
	       "  of which spares and reader", start_fig.spares, end_fig.spares);
	printf("  %-36sstart %ld, peak %ld, end %ld%s\n", "server connection threads",
	       start_fig.live, peak(live_of), srv.live, fail_if(srv.live > 0, &failures));
	printf("  %-36saccepted %ld, ended %ld, resets %ld, errors %ld, bytes echoed %llu%s\n",
	       "server's own count", srv.accepted, srv.ended, srv.resets, srv.errors, srv.bytes,
	       fail_if(srv.errors > 0, &failures));
	printf("  %-36s%llu%s\n", "problems", (unsigned long long)tally.problems,
	       fail_if(tally.problems > 0, &failures));
	printf("  %-36s%s%s\n", "hang", hang ? hang : "none", fail_if(hang != NULL, &failures));
	printf("  %-36s%s%s\n", "server exit",
	       !asked ? "not asked: the run stopped early" :
	       !exited ? "did not exit when asked" :
	       WIFEXITED(status) ? (WEXITSTATUS(status) == 0 ? "0" : "non-zero status") :
				   "killed by a signal",
	       fail_if(!exited || !WIFEXITED(status) || WEXITSTATUS(status) != 0, &failures));
	printf("  %-36s%s\n", "verdict", failures ? "FAIL" : "pass");
	return failures;
}

/* ---- main ---- */

/* The descriptors this process needs: one per connection and a few; the soft limit is
 * raised to the hard one, which cannot be. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal("setrlimit");
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < nconns + 64) {
		errno = 0;
		fatal("%ld connections need %ld descriptors; the hard limit is %ld", nconns,
		      nconns + 64, (long)rl.rlim_cur);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: soak_load [--conns N] [--seconds S] [--seed X] [--hang-s H] "
			"[--samples FILE] -- SERVER [ARGS...]\n");
	exit(2);
}

static int parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--conns") == 0)
			nconns = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--hang-s") == 0)
			hang_s = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--samples") == 0)
			samples_path = argv[++i];
		else
			usage();
	}
	if (i + 1 >= argc || nconns < 1 || nconns > 100000 || seconds < 1 || hang_s < 1)
		usage();
	return i + 1;
}

static void set_up(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	raise_nofile();
	clients = calloc((size_t)nconns, sizeof(*clients));
	free_slots = calloc((size_t)nconns, sizeof(*free_slots));
	max_samples = (long)seconds + (long)(DRAIN_S + SETTLE_S + EXIT_S) + 16;
	samples = calloc((size_t)max_samples, sizeof(*samples));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!clients || !free_slots || !samples || ep < 0)
		fatal("set-up");
	for (long i = 0; i < nconns; i++) {
		clients[i].fd = -1;
		free_slots[nfree++] = nconns - 1 - i;
	}
	if (samples_path && !(samples_file = fopen(samples_path, "w")))
		fatal("%s", samples_path);
	if (samples_file)
		fprintf(samples_file, "# seconds rss_kib fds kernel_threads connection_threads "
				      "open bytes_sent bytes_checked\n");
}

/* Waits for the server's port, then its first report: its threads are all started. */
static void await_server(void)
{
	double until = now_s() + 10;
	int status;

	while (!srv.reported) {
		pump(50);
		if (server_exited(&status)) {
			srv.pid = -1;
			errno = 0;
			fatal("the server exited before its first report");
		}
		if (now_s() > until) {
			errno = 0;
			fatal("the server printed no port and no report in 10 s");
		}
	}
	if (srv.port <= 0) {
		errno = 0;
		fatal("the server printed no port");
	}
}

int main(int argc, char **argv)
{
	int first = parse_args(argc, argv), status = 0;
	struct sample end_run;
	bool asked = false, exited = false;

	set_up();
	start_server(argv + first);
	await_server();
	t0 = now_s();
	start_fig = sample_with_spares(t0);
	printf("soak: %ld connections for %.0f s, seed %llu; server pid %d, port %d: RSS %.1f "
	       "MiB, %ld descriptors, %ld kernel threads\n",
	       nconns, seconds, (unsigned long long)seed, (int)srv.pid, srv.port,
	       mib(start_fig.rss_kib), start_fig.fds, start_fig.tasks);
	fflush(stdout);

	run_until(t0 + seconds, seconds > 600 ? 60 : 10);
	end_run = sample_server(now_s());
	if (!hang && !interrupted) {
		start_drain(now_s());
		run_until(now_s() + DRAIN_S, 1e9);
		if (tally.open > 0 && !hang && !interrupted) {
			problem("%ld connections still waited for their echo %.0f s after the end",
				tally.open, DRAIN_S);
			hang = "the drain did not end";
		}
	}
	if (interrupted) {
		hang = "interrupted";
	} else if (!hang) {
		end_fig = settle();
		asked = true;
		exited = stop_server(&status);
	}
	if (hang)
		end_fig = sample_with_spares(now_s());
	kill_server();
	if (samples_file)
		fclose(samples_file);
	return verdict(&end_run, asked, exited, status) ? 1 : 0;
}

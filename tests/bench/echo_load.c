/*
 * echo_load: a closed-loop load generator for echo servers, on loopback only.
 *
 *   echo_load [--conns N] [--seconds S] [--warmup S] [--size B] [--stack-kib K]
 *             [--syscalls] -- SERVER [ARGS...]
 *
 * It starts SERVER, which must print "port P" as its first line, listen on 127.0.0.1:P,
 * serve exactly N connections and exit once they are all closed (tests/progs/echo_server
 * N, echo_libev N). Then, on one kernel thread with epoll:
 *
 *   1. connect N sockets, each bound first to its own source address in 127.0.0.0/8
 *      (127.0.0.1 up to 127.0.39.x for 10,000), so that no source address runs out of
 *      ephemeral ports however many runs leave connections in TIME_WAIT; at most
 *      CONNECT_WINDOW connections are being set up at a time, so the listen backlog
 *      never overflows (an overflow costs a one-second SYN retransmission);
 *   2. make one round trip on each, which proves the server accepted and serves it;
 *   3. with every connection idle, read the server's VmRSS;
 *   4. keep all N connections busy in lockstep (send B bytes, read the B bytes back,
 *      send again) for --warmup seconds, then --seconds more while counting round
 *      trips, their latencies (send to last byte back) and the CPU time the server
 *      used (from /proc/PID/stat: a figure the other processes of a busy machine
 *      disturb less than the round trips per second);
 *   5. read the server's VmRSS and VmHWM, stop sending, let the last echoes come back,
 *      close every connection and wait for the server to exit.
 *
 * With --syscalls, `perf stat -e raw_syscalls:sys_enter -p PID -- sleep T` counts the
 * server's system calls (and its epoll_ctl calls: a descriptor waited on again and again
 * should be registered once) for T seconds inside the measured ones, and its writes,
 * one per round trip, which gives the calls per round trip however long perf took to
 * attach. Run it apart from the figures it would slow down. --stack-kib sets RLIMIT_STACK in the
 * server, which is glibc's default thread stack size (and the shim's default with it).
 *
 * The result is one line of key=value pairs on stdout. Everything is bounded: the run
 * gives up after a deadline and kills the server by its pid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define CONNECT_WINDOW 256
#define MAX_SIZE 4096
#define DEADLINE_S 50.0   /* under the servers' alarm(60) */

struct conn {
	int fd;
	int state;
	size_t got;
	double sent_at;
};

enum { C_CONNECTING, C_FIRST, C_IDLE, C_BUSY, C_DONE };
enum { P_SETUP, P_WARMUP, P_MEASURE, P_DRAIN };

static struct conn *conns;
static long nconns = 100;
static double seconds = 2, warmup = 0.5;
static size_t msg_size = 64;
static long stack_kib;
static bool count_syscalls;
static char msg[MAX_SIZE];
static int ep;
static pid_t server_pid = -1, perf_pid = -1;
static char server_err[] = "/tmp/echo_load.XXXXXX", perf_out[] = "/tmp/echo_load_perf.XXXXXX";
static int phase = P_SETUP;
static long busy;            /* connections with an echo outstanding */
static uint64_t measured;    /* round trips completed while measuring */
static long idle_count;      /* connections set up and idle */

static void kill_server(void)
{
	if (perf_pid > 0)
		kill(perf_pid, SIGKILL);
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
}

static _Noreturn void fail(const char *fmt, const char *arg)
{
	int e = errno;
	fprintf(stderr, "echo_load: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "%s%s\n", e ? ": " : "", e ? strerror(e) : "");
	kill_server();
	FILE *f = fopen(server_err, "r");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		fprintf(stderr, "  server: %s", line);
	unlink(server_err);
	unlink(perf_out);
	exit(1);
}

static struct bench_hist hist;

/* ---- the server ---- */

static long proc_status_kib(const char *field)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)server_pid);
	return bench_status_field(path, field);
}

/* The server's user + system CPU time, in seconds (all its threads). */
static double proc_cpu_seconds(void)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)server_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* Fields after the command name, which ends with the last ')': state is field 3,
	 * utime field 14, stime field 15. */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Start the server; returns the port it printed. */
static int start_server(char **argv)
{
	int out[2];
	int errfd = mkstemp(server_err);
	if (errfd < 0 || pipe(out) < 0)
		fail("%s", "server pipes");
	server_pid = fork();
	if (server_pid < 0)
		fail("%s", "fork");
	if (server_pid == 0) {
		dup2(out[1], 1);
		dup2(errfd, 2);
		close(out[0]);
		close(out[1]);
		if (stack_kib > 0) {
			struct rlimit rl = { (rlim_t)stack_kib * 1024, (rlim_t)stack_kib * 1024 };
			getrlimit(RLIMIT_STACK, &rl);
			rl.rlim_cur = (rlim_t)stack_kib * 1024;
			setrlimit(RLIMIT_STACK, &rl);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(errfd);
	char line[64];
	FILE *f = fdopen(out[0], "r");
	unsigned port = 0;
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "port %u", &port) != 1)
		fail("%s", "the server printed no port");
	/* The rest of its output is not ours to read; the pipe stays open so it can write. */
	return (int)port;
}

static int wait_server(double deadline)
{
	int status;
	for (;;) {
		pid_t r = waitpid(server_pid, &status, WNOHANG);
		if (r == server_pid)
			break;
		if (r < 0)
			fail("%s", "waitpid");
		if (bench_now_ns() > deadline) {
			errno = 0;
			fail("%s", "the server did not exit after its connections were closed");
		}
		usleep(10000);
	}
	server_pid = -1;
	return status;
}

/* ---- system calls: perf stat attached to the server ---- */

static void perf_start(double secs)
{
	int fd = mkstemp(perf_out);
	if (fd < 0)
		fail("%s", "perf output");
	close(fd);
	char pid[16];
	char dur[32];
	snprintf(pid, sizeof(pid), "%d", (int)server_pid);
	snprintf(dur, sizeof(dur), "%.3f", secs);
	perf_pid = fork();
	if (perf_pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 1);
		dup2(null, 2);
		execlp("perf", "perf", "stat", "-x,", "-e",
		       "raw_syscalls:sys_enter,syscalls:sys_enter_epoll_ctl,"
		       "syscalls:sys_enter_write,syscalls:sys_enter_pwritev2,"
		       "syscalls:sys_enter_sendto", "-p", pid,
		       "-o", perf_out, "--", "sleep", dur, (char *)NULL);
		_exit(127);
	}
}

static bool perf_done(void)
{
	int status;
	if (perf_pid <= 0)
		return true;
	if (waitpid(perf_pid, &status, WNOHANG) != perf_pid)
		return false;
	perf_pid = -1;
	return true;
}

/*
 * The server's system calls per round trip while perf counted, or -1; *ctl gets its
 * epoll_ctl calls per round trip (descriptors registered with the kernel anew). Each
 * server writes each echo back with one write, pwritev2 or sendto (64 bytes always fit),
 * so those calls count the round trips perf saw, whenever it started counting.
 */
static double perf_per_rt(double *ctl)
{
	FILE *f = fopen(perf_out, "r");
	char line[256];
	double n = -1, ctls = 0, writes = 0;
	while (f && fgets(line, sizeof(line), f)) {
		double v = strtod(line, NULL);
		if (strstr(line, "raw_syscalls:sys_enter"))
			n = v;
		else if (strstr(line, "sys_enter_epoll_ctl"))
			ctls = v;
		else if (strstr(line, "sys_enter_write") || strstr(line, "sys_enter_pwritev2") ||
			 strstr(line, "sys_enter_sendto"))
			writes += v;
	}
	if (f)
		fclose(f);
	unlink(perf_out);
	*ctl = n >= 0 && writes > 0 ? ctls / writes : -1;
	return n >= 0 && writes > 0 ? n / writes : -1;
}

/* ---- connections ---- */

static void ep_set(int op, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	if (epoll_ctl(ep, op, c->fd, &ev) < 0)
		fail("%s", "epoll_ctl");
}

static void conn_open(struct conn *c, long i, int port)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;
	/* 127.0.x.y with y from 1 to 250: 10,000 connections use 40 values of x. */
	src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(i / 250) << 8 | (uint32_t)(i % 250 + 1));
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fail("%s", "socket");
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
		fail("%s", "bind to a 127.0.0.0/8 source address");
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS)
		fail("%s", "connect");
	c->state = C_CONNECTING;
	ep_set(EPOLL_CTL_ADD, c, EPOLLOUT);
}

static void conn_send(struct conn *c)
{
	ssize_t n = send(c->fd, msg, msg_size, MSG_NOSIGNAL);
	if (n != (ssize_t)msg_size)
		fail("%s", "send (a lockstep message always fits the socket buffer)");
	c->got = 0;
	c->sent_at = bench_now_ns();
	busy++;
}

/* The echo of c's message is complete. */
static void conn_echoed(struct conn *c, double now)
{
	busy--;
	if (phase == P_MEASURE) {
		bench_hist_add(&hist, (uint64_t)((now - c->sent_at) / 1000));
		measured++;
	}
	if (c->state == C_FIRST) {
		c->state = C_IDLE;
		idle_count++;
		return;
	}
	if (phase == P_WARMUP || phase == P_MEASURE)
		conn_send(c);
	else
		c->state = C_IDLE;
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			errno = err;
			fail("%s", "connect");
		}
		ep_set(EPOLL_CTL_MOD, c, EPOLLIN);
		c->state = C_FIRST;
		conn_send(c);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	char buf[MAX_SIZE];
	ssize_t n = recv(c->fd, buf, msg_size - c->got, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		errno = n < 0 ? errno : 0;
		fail("%s", "the server closed a connection or failed to echo");
	}
	c->got += (size_t)n;
	if (c->got == msg_size)
		conn_echoed(c, bench_now_ns());
}

/* Handle the events that are there, waiting at most timeout_ms for the first. */
static void pump(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ep, evs, 256, timeout_ms);
	if (n < 0 && errno != EINTR)
		fail("%s", "epoll_wait");
	for (int i = 0; i < n; i++)
		conn_event(evs[i].data.ptr, evs[i].events);
}

static void usage(void)
{
	fprintf(stderr, "usage: echo_load [--conns N] [--seconds S] [--warmup S] [--size B] "
			"[--stack-kib K] [--syscalls] -- SERVER [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--conns") == 0)
			nconns = strtol(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
			seconds = strtod(argv[++i], NULL);
		else if (i + 1 < argc && strcmp(argv[i], "--warmup") == 0)
			warmup = strtod(argv[++i], NULL);
		else if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
			msg_size = (size_t)strtol(argv[++i], NULL, 10);
		else if (i + 1 < argc && strcmp(argv[i], "--stack-kib") == 0)
			stack_kib = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--syscalls") == 0)
			count_syscalls = true;
		else
			usage();
	}
	if (i + 1 >= argc || nconns < 1 || nconns > 60000 || seconds <= 0 || warmup < 0 ||
	    msg_size < 1 || msg_size > MAX_SIZE)
		usage();
	signal(SIGPIPE, SIG_IGN);
	memset(msg, 'x', sizeof(msg));
	double deadline = bench_now_ns() + DEADLINE_S * 1e9;
	conns = calloc((size_t)nconns, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		fail("%s", "setup");

	int port = start_server(argv + i + 1);
	usleep(50000);   /* let the server settle before its baseline is read */
	long rss_base = proc_status_kib("VmRSS");

	/* 1 and 2: connect, one round trip each, at most CONNECT_WINDOW in flight. */
	double t_setup = bench_now_ns();
	long opened = 0;
	while (idle_count < nconns) {
		while (opened < nconns && opened - idle_count < CONNECT_WINDOW) {
			conn_open(&conns[opened], opened, port);
			opened++;
		}
		pump(100);
		if (bench_now_ns() > deadline) {
			errno = 0;
			fail("%s", "connections were not all set up in time");
		}
	}
	t_setup = bench_now_ns() - t_setup;

	/* 3: every connection idle. */
	usleep(100000);
	long rss_idle = proc_status_kib("VmRSS");

	/* 4: lockstep load. */
	phase = P_WARMUP;
	for (long k = 0; k < nconns; k++) {
		conns[k].state = C_BUSY;
		conn_send(&conns[k]);
	}
	double t0 = bench_now_ns(), t_end = t0 + warmup * 1e9;
	while (bench_now_ns() < t_end)
		pump(10);
	phase = P_MEASURE;
	t0 = bench_now_ns();
	t_end = t0 + seconds * 1e9;
	double cpu0 = proc_cpu_seconds();
	if (count_syscalls)
		perf_start(seconds * 0.6);
	while (bench_now_ns() < t_end || !perf_done()) {
		pump(10);
		if (bench_now_ns() > deadline) {
			errno = 0;
			fail("%s", "perf did not finish in time");
		}
	}
	double elapsed = bench_now_ns() - t0;
	double cpu = proc_cpu_seconds() - cpu0;
	uint64_t rts = measured;
	double rtps = (double)rts / (elapsed / 1e9);
	double ctl_per_rt = -1;
	double sys_per_rt = count_syscalls ? perf_per_rt(&ctl_per_rt) : -1;

	/* 5: memory under load, then drain and close. */
	long rss_load = proc_status_kib("VmRSS"), hwm = proc_status_kib("VmHWM");
	phase = P_DRAIN;
	while (busy > 0 && bench_now_ns() < deadline)
		pump(100);
	for (long k = 0; k < nconns; k++)
		close(conns[k].fd);
	int status = wait_server(deadline);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = 0;
		fail("%s", "the server did not exit with status 0");
	}
	unlink(server_err);

	printf("conns=%ld rtps=%.0f p50_us=%.0f p99_us=%.0f rss_base_kib=%ld rss_idle_kib=%ld "
	       "idle_per_conn_kib=%.2f rss_load_kib=%ld hwm_kib=%ld syscalls_per_rt=%.3f "
	       "epoll_ctl_per_rt=%.3f cpu_us_per_rt=%.2f setup_s=%.2f rts=%llu\n",
	       nconns, rtps, bench_hist_percentile(&hist, 0.50), bench_hist_percentile(&hist, 0.99),
	       rss_base, rss_idle, (double)(rss_idle - rss_base) / (double)nconns, rss_load, hwm,
	       sys_per_rt, ctl_per_rt,
	       cpu >= 0 && rts ? cpu * 1e6 / (double)rts : -1.0, t_setup / 1e9,
	       (unsigned long long)rts);
	return 0;
}

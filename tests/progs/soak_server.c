/*
 * soak_server [STACK_KIB]
 *
 * The server of `make soak` (scripts/soak, tests/bench/soak_load.c): a thread-per-connection
 * TCP echo server that runs until it is told to stop, written the plain blocking way, with
 * no event loop. It listens on 127.0.0.1 at a port the kernel picks, prints "port P", and
 * main accepts with a blocking accept and gives each connection a detached thread that
 * echoes with blocking read and write. A connection thread ends, closing its descriptor, on:
 *
 *   - end of file: the client closed, or shut down its writing side (a half-close). Each
 *     read is written back whole before the next read, so the rest is already echoed:
 *     closing now ends the echo, and a half-closed client reads it to its end of file;
 *   - ECONNRESET from read, EPIPE or ECONNRESET from write: the client reset the
 *     connection or went away (SIGPIPE is ignored, so a write to it fails with EPIPE
 *     instead of ending the process); counted as resets;
 *   - any other error: unexpected, printed and counted as an error.
 *
 * Once a second a reporter thread prints
 *
 *     live L accepted A ended E resets R errors X
 *
 * where L is the connection threads alive: the load generator samples it as the green
 * threads of the soak. End of file on standard input (the load generator closes the pipe)
 * asks the server to stop: a thread shuts the listening socket down, which ends the
 * blocking accept with EINVAL (close would not wake it), and main waits for every
 * connection thread to end, prints "final live 0 accepted A ended E resets R errors X bytes
 * B" (B: bytes echoed) and exits 0.
 *
 * Stacks: 10,000 threads at glibc's default of 8 MiB would reserve 80 GiB of address space,
 * so, as a program written for many threads does, it asks for STACK_KIB (default 64) in
 * the thread attributes. A connection thread touches its 16 KiB buffer and a few frames.
 */
#define PROG "soak_server"
#include "progs.h"

#include <signal.h>
#include <sys/resource.h>

#define BUF_SIZE 16384

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_ended = PTHREAD_COND_INITIALIZER;
/* Under lock. */
static long live, accepted, ended, resets, errors;
static unsigned long long bytes_echoed;

static int listen_fd;
static volatile int stopping;

static void count_end(bool reset, bool error, unsigned long long bytes)
{
	pthread_mutex_lock(&lock);
	live--;
	ended++;
	resets += reset;
	errors += error;
	bytes_echoed += bytes;
	if (live == 0)
		pthread_cond_broadcast(&all_ended);
	pthread_mutex_unlock(&lock);
}

static bool is_reset(int e)
{
	return e == ECONNRESET || e == EPIPE;
}

/* Writes all of buf: a blocking write may still be short. 0, or the errno of the failure. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Echoes until end of file or an error: 0, or the errno that ended it. */
static int echo(int fd, unsigned long long *bytes)
{
	char buf[BUF_SIZE];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		int e;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return 0;
		e = write_all(fd, buf, (size_t)n);
		if (e)
			return e;
		*bytes += (unsigned long long)n;
	}
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned long long bytes = 0;
	int e = echo(fd, &bytes);

	if (e && !is_reset(e))
		fprintf(stderr, "%s: echo: %s\n", PROG, strerror(e));
	if (close(fd) != 0) {
		e = errno;
		fprintf(stderr, "%s: close: %s\n", PROG, strerror(e));
	}
	count_end(e && is_reset(e), e && !is_reset(e), bytes);
	return NULL;
}

static void start_conn(const pthread_attr_t *attr, int fd)
{
	pthread_t t;
	int e;

	pthread_mutex_lock(&lock);
	live++;
	accepted++;
	pthread_mutex_unlock(&lock);
	e = pthread_create(&t, attr, conn_main, (void *)(intptr_t)fd);
	if (e) {
		fprintf(stderr, "%s: pthread_create: %s\n", PROG, strerror(e));
		close(fd);
		count_end(false, true, 0);
	}
}

/* Accepts until the listening socket is shut down. */
static void accept_loop(const pthread_attr_t *attr)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd >= 0) {
			start_conn(attr, fd);
			continue;
		}
		int e = errno;

		if (e == EINTR || e == ECONNABORTED)
			continue;
		if (stopping)
			return;
		fprintf(stderr, "%s: accept: %s\n", PROG, strerror(e));
		if (e != EMFILE && e != ENFILE)
			exit(1);
		/* Out of descriptors: what a server does is wait a little and go on. */
		pthread_mutex_lock(&lock);
		errors++;
		pthread_mutex_unlock(&lock);
		msleep(100);
	}
}

/* The counts, copied under the lock and printed after it: a print may wait for the pipe. */
static void print_counts(bool final)
{
	long l, a, e, r, x;
	unsigned long long b;

	pthread_mutex_lock(&lock);
	l = live, a = accepted, e = ended, r = resets, x = errors, b = bytes_echoed;
	pthread_mutex_unlock(&lock);
	printf("%slive %ld accepted %ld ended %ld resets %ld errors %ld", final ? "final " : "", l,
	       a, e, r, x);
	if (final)
		printf(" bytes %llu", b);
	putchar('\n');
	fflush(stdout);
}

static void *reporter_main(void *arg)
{
	(void)arg;
	for (;;) {
		msleep(1000);
		print_counts(false);
	}
	return NULL;
}

/* Standard input reaching its end asks the server to stop. */
static void *stdin_main(void *arg)
{
	char buf[256];
	ssize_t n;

	(void)arg;
	while ((n = read(0, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			die("read standard input");
	stopping = 1;
	if (shutdown(listen_fd, SHUT_RDWR) != 0)
		die("shutdown of the listening socket");
	return NULL;
}

/* The descriptors a process may hold: the soft limit raised to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("setrlimit");
}

int main(int argc, char **argv)
{
	long stack_kib = argc > 1 ? strtol(argv[1], NULL, 10) : 64;
	pthread_attr_t attr;

	if (argc > 2 || stack_kib < 16 || stack_kib > 65536) {
		fprintf(stderr, "usage: soak_server [STACK_KIB]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	errno = pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024);
	if (errno)
		die("pthread_attr_setstacksize");

	listen_fd = serve_loopback();
	pthread_detach(start(reporter_main, NULL));
	pthread_detach(start(stdin_main, NULL));
	accept_loop(&attr);

	pthread_mutex_lock(&lock);
	while (live > 0)
		pthread_cond_wait(&all_ended, &lock);
	pthread_mutex_unlock(&lock);
	close(listen_fd);
	print_counts(true);
	return 0;
}

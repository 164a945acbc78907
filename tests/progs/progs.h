/*
 * Helpers shared by the programs in tests/progs. Each program is built from its own .c
 * file, so everything here is static inline: a program pays only for what it uses.
 *
 * Define PROG, the program's name for messages, before including this header. Messages
 * go to stderr as "PROG: what: why", or "PROG: CASE: what: why" while a case of a
 * program made of cases runs (current names it), so that a failure says where it was.
 */
#ifndef GP_PROGS_H
#define GP_PROGS_H

#ifndef PROG
#error "define PROG, the program's name for messages, before including progs.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000L

/* The case running now, or NULL. */
static const char *current;

/* ---- failing ------------------------------------------------------------------------ */

static inline void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static inline void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	if (current)
		fprintf(stderr, "%s: ", current);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* For a call that failed and set errno. */
static inline void __attribute__((noreturn)) die(const char *what)
{
	int e = errno; /* fail's own stdio calls may change errno */

	fail("%s: %s", what, strerror(e));
}

/* ---- printing results --------------------------------------------------------------- */

static inline const char *yes(bool b)
{
	return b ? "yes" : "no";
}

/* "EAGAIN", or "0" for no error: results print errno by name, never by number. */
static inline const char *errname(int e)
{
	const char *s = e ? strerrorname_np(e) : "0";

	return s ? s : "unknown";
}

/* Copies the line of /proc/self/status that starts with key ("VmHWM:") to stderr. */
static inline void report_status(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			fputs(line, stderr);
	fclose(f);
}

/* Copies the "Threads:" line of /proc/self/status to stderr: how many kernel threads. */
static inline void report_threads(void)
{
	report_status("Threads:");
}

/* ---- threads ------------------------------------------------------------------------ */

static inline pthread_t start(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	errno = pthread_create(&t, NULL, fn, arg);
	if (errno)
		die("pthread_create");
	return t;
}

static inline void *join(pthread_t t)
{
	void *ret;

	errno = pthread_join(t, &ret);
	if (errno)
		die("pthread_join");
	return ret;
}

/* ---- signals ------------------------------------------------------------------------ */

/* Blocks (SIG_BLOCK) or unblocks (SIG_UNBLOCK) sig in the calling thread. */
static inline void block_signal(int sig, int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	errno = pthread_sigmask(how, &set, NULL);
	if (errno)
		die("pthread_sigmask");
}

/* Whether the calling thread blocks sig. */
static inline bool signal_blocked(int sig)
{
	sigset_t set;

	errno = pthread_sigmask(SIG_BLOCK, NULL, &set);
	if (errno)
		die("pthread_sigmask");
	return sigismember(&set, sig) == 1;
}

/* ---- seeded random numbers ---------------------------------------------------------- */

/* splitmix64: the same numbers from the same rng_state on any machine and C library. */
static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- clocks and sleeping ------------------------------------------------------------ */

static inline struct timespec now(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts) != 0)
		die("clock_gettime");
	return ts;
}

static inline struct timespec ts_add(struct timespec a, struct timespec b)
{
	a.tv_sec += b.tv_sec;
	a.tv_nsec += b.tv_nsec;
	if (a.tv_nsec >= NSEC_PER_SEC) {
		a.tv_sec++;
		a.tv_nsec -= NSEC_PER_SEC;
	}
	return a;
}

static inline struct timespec ts_ms(long ms)
{
	return (struct timespec){ ms / 1000, ms % 1000 * 1000000 };
}

/* a < b */
static inline bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* The deadline ms milliseconds from now on clock, for timed waits. */
static inline struct timespec clock_after(clockid_t clock, long ms)
{
	return ts_add(now(clock), ts_ms(ms));
}

static inline bool reached(clockid_t clock, struct timespec deadline)
{
	return !ts_before(now(clock), deadline);
}

static inline struct timespec mono(void)
{
	return now(CLOCK_MONOTONIC);
}

static inline long elapsed_ms(struct timespec t0)
{
	struct timespec t = mono();

	return ((t.tv_sec - t0.tv_sec) * NSEC_PER_SEC + (t.tv_nsec - t0.tv_nsec)) / 1000000;
}

/* Sleeps the whole time, signals or not: for pauses that only order events. */
static inline void msleep(long ms)
{
	struct timespec ts = ts_ms(ms);

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * After a signal sent to t for a wait it should end: sends it again each second until
 * *woken is set, 5 times at most. On a loaded machine the first one may come before t
 * waits, run its handler there, and leave t waiting for ever; the extra signals end
 * that wait instead, and a case that prints its handler's count shows they were needed.
 */
static inline void signal_until_woken(pthread_t t, int sig, const int *woken)
{
	for (int ms = 10; ms <= 5000; ms += 10) {
		if (__atomic_load_n(woken, __ATOMIC_ACQUIRE))
			return;
		msleep(10);
		if (ms % 1000 == 0)
			pthread_kill(t, sig);
	}
}

/* ---- a thread that shows the others ran ------------------------------------------- */

static volatile int ticker_on, ticker_ticks;

static inline void *ticker_loop(void *arg)
{
	(void)arg;
	while (ticker_on) {
		ticker_ticks++;
		msleep(2);
	}
	return NULL;
}

static pthread_t ticker_thread;

/*
 * Starts a thread that counts while a case waits, and returns once it has counted
 * once: it is running, so natively it keeps counting while the case waits.
 */
static inline void ticker_start(void)
{
	ticker_ticks = 0;
	ticker_on = 1;
	ticker_thread = start(ticker_loop, NULL);
	while (ticker_ticks == 0)
		msleep(1);
}

/* Stops it: "yes" if it counted again while the case waited. */
static inline const char *ticker_stop(void)
{
	ticker_on = 0;
	join(ticker_thread);
	return yes(ticker_ticks > 1);
}

/* ---- a ticker that says how late it got --------------------------------------------- */

/*
 * A thread that sleeps in steps of tick_ms and keeps the worst lateness of its wake-ups,
 * for a case that must show that the others ran on time while it waited. Relative
 * sleeps: a ticker held up for a while does not catch up afterwards. The counters are
 * atomic through the builtins, which C and C++ share.
 */
static long timed_tick_ms, timed_ticks, timed_worst_late_us;
static int timed_tick_on;
static pthread_t timed_ticker;

static inline void *timed_tick_loop(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&timed_tick_on, __ATOMIC_SEQ_CST)) {
		struct timespec next = ts_add(mono(), ts_ms(timed_tick_ms));

		msleep(timed_tick_ms);
		struct timespec t = mono();
		long late = (t.tv_sec - next.tv_sec) * 1000000L + (t.tv_nsec - next.tv_nsec) / 1000;

		if (late > __atomic_load_n(&timed_worst_late_us, __ATOMIC_SEQ_CST))
			__atomic_store_n(&timed_worst_late_us, late, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&timed_ticks, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static inline long timed_ticks_now(void)
{
	return __atomic_load_n(&timed_ticks, __ATOMIC_SEQ_CST);
}

/* Starts it, and returns once it runs past its first sleep, its lateness reset. */
static inline void timed_ticker_start(long tick_ms)
{
	timed_tick_ms = tick_ms;
	__atomic_store_n(&timed_ticks, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&timed_tick_on, 1, __ATOMIC_SEQ_CST);
	timed_ticker = start(timed_tick_loop, NULL);
	while (timed_ticks_now() < 2)
		msleep(1);
	__atomic_store_n(&timed_worst_late_us, 0, __ATOMIC_SEQ_CST);
}

/* Stops it: its worst lateness since it started, in microseconds. */
static inline long timed_ticker_stop(void)
{
	__atomic_store_n(&timed_tick_on, 0, __ATOMIC_SEQ_CST);
	join(timed_ticker);
	return __atomic_load_n(&timed_worst_late_us, __ATOMIC_SEQ_CST);
}

/* ---- pipes -------------------------------------------------------------------------- */

static inline void make_pipe(int p[2], int flags)
{
	if (pipe2(p, flags) != 0)
		die("pipe2");
}

static inline void close2(int p[2])
{
	close(p[0]);
	close(p[1]);
}

/* ---- files -------------------------------------------------------------------------- */

/*
 * Another open of fd's file, through /proc/self/fd (the file may have no name left): an
 * open file description of its own, so its own flock and OFD locks.
 */
static inline int reopen(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int again = open(path, O_RDWR | O_CLOEXEC);

	if (again < 0)
		die("open /proc/self/fd");
	return again;
}

/* ---- servers ------------------------------------------------------------------------ */

/*
 * A listening TCP socket on 127.0.0.1 at a port the kernel picks, with the longest backlog
 * (clients connect all at once); prints "port P" on stdout, flushed.
 */
static inline int serve_loopback(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

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

/* ---- programs made of cases --------------------------------------------------------- */

struct prog_case {
	const char *name;
	void (*fn)(void);
};

static inline const struct prog_case *find_case(const struct prog_case *cases, size_t n,
						const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	return NULL;
}

static inline bool named(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

/* Every argument names a case: checked before any case runs, so a typo runs nothing. */
static inline bool all_known(const struct prog_case *cases, size_t n, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (find_case(cases, n, argv[i]))
			continue;
		if (argv[i][0] == '-')
			fprintf(stderr, "%s: %s: the one option is --list, alone\n", PROG, argv[i]);
		else
			fprintf(stderr, "%s: no case named %s\n", PROG, argv[i]);
		fprintf(stderr, "usage: %s [--list | CASE...]\n", PROG);
		return false;
	}
	return true;
}

/*
 * main for a program made of cases: "--list" prints their names, no argument runs them
 * all, names run those cases (in the order of the table, each once). run runs one case,
 * or is NULL to call it directly. Returns the exit status: 0, or 2 for a bad argument.
 */
static inline int run_cases(int argc, char **argv, const struct prog_case *cases, size_t n,
			    void (*run)(const struct prog_case *))
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			puts(cases[i].name);
		return 0;
	}
	if (!all_known(cases, n, argc, argv))
		return 2;
	/* A case that hangs must not hold up whoever runs us for ever: a minute, or
	 * GP_PROG_ALARM_S seconds for a slower build (a test under ASan). */
	const char *a = getenv("GP_PROG_ALARM_S");
	int secs = a ? atoi(a) : 0;
	alarm(secs > 0 ? (unsigned)secs : 60);
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && !named(cases[i].name, argc, argv))
			continue;
		current = cases[i].name;
		if (run)
			run(&cases[i]);
		else
			cases[i].fn();
		fflush(stdout); /* if a later case hangs, the lines so far still show */
	}
	return 0;
}

static inline void *case_main(void *arg)
{
	const struct prog_case *c = arg;

	c->fn();
	return NULL;
}

/* Runs a case in a thread of its own: main then waits in pthread_join, so two exist. */
static inline void run_case_in_thread(const struct prog_case *c)
{
	join(start(case_main, (void *)c));
}

#endif

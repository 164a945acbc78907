/*
 * sleepers N SECONDS [METHOD]
 *
 * N threads each sleep SECONDS with one of several libc sleep calls, then main joins them
 * and prints "slept N". Every thread checks on its own clock that the sleep did not end
 * early, which no sleep call is allowed to do.
 *
 * While the threads sleep, main copies the "Threads:" line of /proc/self/status to stderr:
 * it shows how many kernel threads carry the N threads (stderr, so that stdout stays the
 * same from one run to the next).
 *
 * METHOD is "mix" (default: nanosleep, usleep, sleep, clock_nanosleep relative and
 * absolute on CLOCK_MONOTONIC, in turn), or one of the names in methods[] to use only that.
 */
#define PROG "sleepers"
#include "progs.h"

#include <math.h>
#include <poll.h>
#include <sys/select.h>
#include <threads.h>

typedef int sleep_fn(clockid_t *clock, const struct timespec *len);

struct method {
	const char *name;
	sleep_fn *fn;
};

struct sleeper {
	pthread_t tid;
	const struct method *method;
	struct timespec len;
	pthread_barrier_t *start;
};

/* Microseconds rounded up, so that a sleep in microseconds is never shorter than len. */
static long long ts_usec_up(struct timespec len)
{
	return len.tv_sec * 1000000LL + (len.tv_nsec + 999) / 1000;
}

static int sleep_nanosleep(clockid_t *clock, const struct timespec *len)
{
	struct timespec req = *len, rem;

	*clock = CLOCK_MONOTONIC;
	while (nanosleep(&req, &rem) != 0) {
		if (errno != EINTR)
			return -1;
		req = rem;
	}
	return 0;
}

/* usleep may refuse a full second or more (POSIX), so sleep in pieces below one. */
static int sleep_usleep(clockid_t *clock, const struct timespec *len)
{
	long long left = ts_usec_up(*len);

	*clock = CLOCK_MONOTONIC;
	while (left > 0) {
		useconds_t piece = left > 999999 ? 999999 : (useconds_t)left;

		if (usleep(piece) != 0)
			return -1;
		left -= piece;
	}
	return 0;
}

/* sleep() takes whole seconds: the fraction goes to usleep. */
static int sleep_sleep(clockid_t *clock, const struct timespec *len)
{
	unsigned left = (unsigned)len->tv_sec;
	struct timespec frac = { 0, len->tv_nsec };

	*clock = CLOCK_MONOTONIC;
	while (left > 0)
		left = sleep(left);
	return sleep_usleep(clock, &frac);
}

static int sleep_clock_rel(clockid_t *clock, const struct timespec *len)
{
	struct timespec req = *len, rem;
	int err;

	*clock = CLOCK_MONOTONIC;
	while ((err = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem)) == EINTR)
		req = rem;
	errno = err;
	return err ? -1 : 0;
}

static int sleep_clock_abs_on(clockid_t which, clockid_t *clock, const struct timespec *len)
{
	struct timespec until = ts_add(now(which), *len);
	int err;

	*clock = which;
	while ((err = clock_nanosleep(which, TIMER_ABSTIME, &until, NULL)) == EINTR)
		;
	errno = err;
	return err ? -1 : 0;
}

static int sleep_clock_abs(clockid_t *clock, const struct timespec *len)
{
	return sleep_clock_abs_on(CLOCK_MONOTONIC, clock, len);
}

static int sleep_clock_realtime_abs(clockid_t *clock, const struct timespec *len)
{
	return sleep_clock_abs_on(CLOCK_REALTIME, clock, len);
}

/* The classic portable sleep: select with no descriptors. */
static int sleep_select(clockid_t *clock, const struct timespec *len)
{
	long long us = ts_usec_up(*len);
	struct timeval tv = { us / 1000000, us % 1000000 };

	*clock = CLOCK_MONOTONIC;
	/* Linux updates tv with the time left, so EINTR can simply retry. */
	while (select(0, NULL, NULL, NULL, &tv) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* poll with no descriptors; after EINTR it waits for what is left, else it must be done. */
static int sleep_poll(clockid_t *clock, const struct timespec *len)
{
	struct timespec until = ts_add(now(CLOCK_MONOTONIC), *len), left = *len;

	*clock = CLOCK_MONOTONIC;
	while (poll(NULL, 0, (int)((ts_usec_up(left) + 999) / 1000)) != 0) {
		struct timespec t = now(CLOCK_MONOTONIC);

		if (errno != EINTR)
			return -1;
		if (!ts_before(t, until))
			return 0;
		left.tv_sec = until.tv_sec - t.tv_sec;
		left.tv_nsec = until.tv_nsec - t.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += NSEC_PER_SEC;
		}
	}
	return 0;
}

static int sleep_thrd_sleep(clockid_t *clock, const struct timespec *len)
{
	struct timespec req = *len, rem;
	int r;

	*clock = CLOCK_MONOTONIC;
	while ((r = thrd_sleep(&req, &rem)) == -1)
		req = rem;
	return r == 0 ? 0 : -1;
}

static const struct method methods[] = {
	{ "nanosleep", sleep_nanosleep },
	{ "usleep", sleep_usleep },
	{ "sleep", sleep_sleep },
	{ "clock_rel", sleep_clock_rel },
	{ "clock_abs", sleep_clock_abs },
	/* Not in "mix": the ones below are chosen by name only. */
	{ "clock_realtime_abs", sleep_clock_realtime_abs },
	{ "select", sleep_select },
	{ "poll", sleep_poll },
	{ "thrd_sleep", sleep_thrd_sleep },
};
#define N_MIX 5
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	clockid_t clock = CLOCK_MONOTONIC;
	struct timespec t0_rt, t0, until;

	pthread_barrier_wait(s->start);
	/* Taken on both clocks, then checked on the one the method sleeps on. */
	t0_rt = now(CLOCK_REALTIME);
	t0 = now(CLOCK_MONOTONIC);
	if (s->method->fn(&clock, &s->len) != 0)
		die(s->method->name);
	until = ts_add(clock == CLOCK_REALTIME ? t0_rt : t0, s->len);
	if (ts_before(now(clock), until))
		fail("%s returned before %ld.%09ld s had passed", s->method->name,
		     (long)s->len.tv_sec, s->len.tv_nsec);
	return NULL;
}

static const struct method *find_method(const char *name)
{
	for (size_t i = 0; i < N_METHODS; i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: sleepers N SECONDS [mix");
	for (size_t i = 0; i < N_METHODS; i++)
		fprintf(stderr, "|%s", methods[i].name);
	fprintf(stderr, "]\n");
	return 2;
}

int main(int argc, char **argv)
{
	pthread_barrier_t all_started;
	struct sleeper *s;
	const struct method *only = NULL;
	double secs;
	long n;

	if (argc < 3 || argc > 4)
		return usage();
	n = strtol(argv[1], NULL, 10);
	secs = strtod(argv[2], NULL);
	if (n < 1 || n > 100000 || !(secs >= 0 && secs < 30))
		return usage();
	if (argc == 4 && strcmp(argv[3], "mix") != 0 && !(only = find_method(argv[3])))
		return usage();
	alarm(60);

	s = calloc((size_t)n, sizeof(*s));
	if (!s)
		die("calloc");
	/* Everyone starts at once; main passes the barrier too, then looks at the threads. */
	pthread_barrier_init(&all_started, NULL, (unsigned)n + 1);
	for (long i = 0; i < n; i++) {
		s[i].method = only ? only : &methods[i % N_MIX];
		s[i].len.tv_sec = (time_t)secs;
		s[i].len.tv_nsec = lround((secs - floor(secs)) * NSEC_PER_SEC);
		if (s[i].len.tv_nsec >= NSEC_PER_SEC)
			s[i].len = (struct timespec){ s[i].len.tv_sec + 1, 0 };
		s[i].start = &all_started;
		s[i].tid = start(sleeper_main, &s[i]);
	}
	pthread_barrier_wait(&all_started);
	report_threads();
	for (long i = 0; i < n; i++)
		pthread_join(s[i].tid, NULL);
	printf("slept %ld\n", n);
	free(s);
	return 0;
}

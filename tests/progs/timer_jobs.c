/*
 * timer_jobs [N]
 *
 * Deferred work the POSIX way: N one-shot timers (default 1000) made with
 * timer_create(SIGEV_THREAD) on CLOCK_MONOTONIC, due at delays drawn from a fixed seed
 * between 200 ms and 3.2 s. Each callback runs in a thread that glibc starts for the
 * expiry (glibc's own threads, which the program never sees created), takes the mutex
 * the program's threads share, records when it ran and in which place, and the last one
 * signals the condition variable the main thread waits on. Meanwhile 20 threads of the
 * program tick every millisecond with usleep under the same mutex, so that the callbacks
 * come while the program's threads sleep and wake. Under the library the callbacks still
 * run on kernel threads, since glibc starts them itself and not through the
 * pthread_create the program calls: the main thread and the tickers are green and share
 * the mutex and the condition variable with them.
 *
 * Prints what does not depend on the machine's speed: how many jobs ran, how many ran
 * before they were due (none may), how many ran after a job due more than 1.5 s later
 * than themselves, how many ran more than 10 s late (bounds that hold on a loaded
 * machine), and whether the tickers ticked while the jobs ran. The lateness itself (p50,
 * p99, worst) goes to stderr, for information.
 */
#define PROG "timer_jobs"
#include "progs.h"

#include <signal.h>
#include <stdatomic.h>

#define TICKERS 20
#define FIRST_MS 200
#define SPREAD_MS 3000
#define ORDER_SLACK_MS 1500
#define LATE_MS 10000

struct job {
	timer_t timer;
	struct timespec due;
	struct timespec ran;
	int place; /* 0 until it ran, then 1 for the first to run */
};

static struct job *jobs;
static int njobs;
static int ran;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_ran = PTHREAD_COND_INITIALIZER;
static atomic_bool stop_ticking;
static atomic_long ticks;

static long long ts_ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void fire(union sigval v)
{
	struct job *j = &jobs[v.sival_int];
	struct timespec t = mono();

	pthread_mutex_lock(&lock);
	j->ran = t;
	j->place = ++ran;
	if (ran == njobs)
		pthread_cond_signal(&all_ran);
	pthread_mutex_unlock(&lock);
}

static void *ticker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_ticking)) {
		usleep(1000);
		pthread_mutex_lock(&lock);
		atomic_fetch_add(&ticks, 1);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	njobs = argc > 1 ? atoi(argv[1]) : 1000;
	if (njobs < 1)
		fail("usage: timer_jobs [N]");
	jobs = calloc(njobs, sizeof(*jobs));
	int *by_place = calloc(njobs + 1, sizeof(int));
	long long *late = calloc(njobs, sizeof(long long));
	if (!jobs || !by_place || !late)
		die("calloc");

	pthread_t tickers[TICKERS];
	for (int i = 0; i < TICKERS; i++)
		tickers[i] = start(ticker, NULL);

	unsigned seed = 12345;
	for (int i = 0; i < njobs; i++) {
		struct sigevent sev = {
			.sigev_notify = SIGEV_THREAD,
			.sigev_notify_function = fire,
			.sigev_value.sival_int = i,
		};
		if (timer_create(CLOCK_MONOTONIC, &sev, &jobs[i].timer) != 0)
			die("timer_create");
	}
	long ticks_before = atomic_load(&ticks);
	for (int i = 0; i < njobs; i++) {
		long ms = FIRST_MS + rand_r(&seed) % SPREAD_MS;
		struct itimerspec its = { .it_value = clock_after(CLOCK_MONOTONIC, ms) };
		jobs[i].due = its.it_value;
		if (timer_settime(jobs[i].timer, TIMER_ABSTIME, &its, NULL) != 0)
			die("timer_settime");
	}

	struct timespec deadline = clock_after(CLOCK_REALTIME, FIRST_MS + SPREAD_MS + 30000);
	pthread_mutex_lock(&lock);
	while (ran < njobs)
		if (pthread_cond_timedwait(&all_ran, &lock, &deadline) == ETIMEDOUT)
			break;
	int done = ran;
	long ticks_during = atomic_load(&ticks) - ticks_before;
	pthread_mutex_unlock(&lock);

	atomic_store(&stop_ticking, true);
	for (int i = 0; i < TICKERS; i++)
		join(tickers[i]);
	for (int i = 0; i < njobs; i++)
		if (timer_delete(jobs[i].timer) != 0)
			die("timer_delete");

	/* Read the jobs in the order they ran: one due well after a later one is out of order. */
	int early = 0, out_of_order = 0, very_late = 0, nlate = 0;
	for (int i = 0; i < njobs; i++)
		if (jobs[i].place)
			by_place[jobs[i].place] = i;
	long long latest_due = 0;
	for (int p = 1; p <= done; p++) {
		struct job *j = &jobs[by_place[p]];
		long long due = ts_ns(j->due), l = ts_ns(j->ran) - due;

		if (l < 0)
			early++;
		if (l > LATE_MS * 1000000LL)
			very_late++;
		if (due + ORDER_SLACK_MS * 1000000LL < latest_due)
			out_of_order++;
		if (due > latest_due)
			latest_due = due;
		late[nlate++] = l;
	}
	qsort(late, nlate, sizeof(*late), cmp_ll);
	if (nlate)
		fprintf(stderr, "%s: lateness p50 %.2f ms, p99 %.2f ms, worst %.2f ms\n", PROG,
			late[nlate / 2] / 1e6, late[nlate * 99 / 100] / 1e6, late[nlate - 1] / 1e6);

	printf("jobs run: %d of %d\n", done, njobs);
	printf("run before they were due: %d\n", early);
	printf("run after a job due over %d ms later: %d\n", ORDER_SLACK_MS, out_of_order);
	printf("run over %d ms late: %d\n", LATE_MS, very_late);
	printf("tickers ticked while the jobs ran: %s\n", yes(ticks_during > 0));
	return done == njobs && !early && !out_of_order && !very_late && ticks_during > 0 ? 0 : 1;
}

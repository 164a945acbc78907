/*
 * gdb_parked
 *
 * 100 threads, each parked in one kind of wait in a function of its own: 20 "read-N"
 * read an empty pipe (wait_in_read), 20 "mutex-N" wait for a mutex main holds
 * (wait_in_mutex), 20 "cond-N" wait on a condition variable (wait_in_cond), 20
 * "sleep-N" sleep (wait_in_sleep), and 20 "join-N" join sleep-N (wait_in_join). They
 * are created in that order. Once all of them wait, main prints one line,
 *
 *   ready read=L mutex=L cond=L sleep=L join=L main=L
 *
 * with the source line of each wait, then stays in a raw nanosleep system call (which
 * the library does not see, so main is the running thread) in main_waits for
 * SECONDS (default 120), and exits 0. tests/shim_gdb.c reads the threads with gdb.
 *
 * Each thread writes a byte to a pipe just before its wait; main reads 100 of them. On
 * green threads, a thread that has written runs on into its wait before main can run
 * again, so that when main has read all of them every thread is parked.
 */
#define PROG "gdb_parked"
#include "progs.h"

#include <sys/syscall.h>

#define PER_KIND 20

enum kind { K_READ, K_MUTEX, K_COND, K_SLEEP, K_JOIN, K_MAIN, K_COUNT };

static const char *const kind_name[K_COUNT] = { "read", "mutex", "cond", "sleep", "join",
						 "main" };

/* The source line of each kind's wait, recorded as the wait starts. */
static int line_of[K_COUNT];
#define AT(kind, call) (line_of[kind] = __LINE__, (call))

static int ready_pipe[2], empty_pipe[2];
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool never;
static pthread_t sleepers[PER_KIND];

static void name_self(enum kind k, long i)
{
	char name[16];

	snprintf(name, sizeof(name), "%s-%ld", kind_name[k], i);
	pthread_setname_np(pthread_self(), name);
	if (write(ready_pipe[1], "x", 1) != 1)
		die("write");
}

static __attribute__((noinline)) void *wait_in_read(void *arg)
{
	char c;

	name_self(K_READ, (long)arg);
	if (AT(K_READ, read(empty_pipe[0], &c, 1)) < 0)
		die("read");
	return NULL;
}

static __attribute__((noinline)) void *wait_in_mutex(void *arg)
{
	name_self(K_MUTEX, (long)arg);
	AT(K_MUTEX, pthread_mutex_lock(&held));
	pthread_mutex_unlock(&held);
	return NULL;
}

static __attribute__((noinline)) void *wait_in_cond(void *arg)
{
	name_self(K_COND, (long)arg);
	pthread_mutex_lock(&cond_lock);
	while (!never)
		AT(K_COND, pthread_cond_wait(&cond, &cond_lock));
	pthread_mutex_unlock(&cond_lock);
	return NULL;
}

static __attribute__((noinline)) void *wait_in_sleep(void *arg)
{
	name_self(K_SLEEP, (long)arg);
	AT(K_SLEEP, sleep(1000));
	return NULL;
}

static __attribute__((noinline)) void *wait_in_join(void *arg)
{
	long i = (long)arg;

	name_self(K_JOIN, i);
	AT(K_JOIN, pthread_join(sleepers[i], NULL));
	return NULL;
}

/* Outside the library's sight: main keeps the kernel thread, as the running thread. */
static __attribute__((noinline)) void main_waits(long seconds)
{
	struct timespec ts = { seconds, 0 };

	AT(K_MAIN, syscall(SYS_nanosleep, &ts, NULL));
}

int main(int argc, char **argv)
{
	static void *(*const fn[])(void *) = { wait_in_read, wait_in_mutex, wait_in_cond,
					      wait_in_sleep, wait_in_join };
	long seconds = argc > 1 ? atol(argv[1]) : 120;
	char buf[5 * PER_KIND];

	make_pipe(ready_pipe, 0);
	make_pipe(empty_pipe, 0);
	pthread_mutex_lock(&held);
	for (int k = K_READ; k <= K_JOIN; k++)
		for (long i = 0; i < PER_KIND; i++) {
			pthread_t t = start(fn[k], (void *)i);
			if (k == K_SLEEP)
				sleepers[i] = t;
		}
	for (size_t got = 0; got < sizeof(buf);) {
		ssize_t n = read(ready_pipe[0], buf, sizeof(buf) - got);
		if (n <= 0)
			die("read");
		got += (size_t)n;
	}
	main_waits(0);   /* records its line */
	printf("ready");
	for (int k = 0; k < K_COUNT; k++)
		printf(" %s=%d", kind_name[k], line_of[k]);
	printf("\n");
	fflush(stdout);
	main_waits(seconds);
	return 0;
}

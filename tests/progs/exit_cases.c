/*
 * exit_cases MODE
 *
 * How a threaded process ends, one way per MODE:
 *
 *   main_exit      main calls pthread_exit while three threads still work; the process
 *                  ends (status 0, atexit handlers run, stdio flushed) when the last one does
 *   thread_exit    a thread calls exit(3) while main waits in pthread_join and other
 *                  threads are blocked in read, sleep and pthread_cond_wait
 *   main_return    main returns 7 while threads are blocked in read and sleep: the process
 *                  ends at once with 7
 *   thread__exit   a thread calls _exit(5): nothing buffered in stdio comes out
 *   thread_abort   a thread calls abort(): the process dies of SIGABRT
 *   sigterm        a thread sends SIGTERM to the process: it dies of SIGTERM
 *   sigterm_blocked  the same while another thread blocks SIGTERM: the threads that do
 *                  not block it (main in pthread_join) still take it, and it dies
 *   crowd_exit, crowd__exit, crowd_abort, crowd_sigterm, crowd_return
 *                  thread_exit, thread__exit, thread_abort, sigterm and main_return
 *                  while CROWD threads are parked in read, sleep, pthread_cond_wait,
 *                  pthread_mutex_lock and sem_wait
 *   crowd_last_exit  main calls pthread_exit while the crowd is parked; a thread then
 *                  releases it and every thread ends with pthread_exit: the last one's
 *                  ends the process (status 0, atexit handlers run, stdio flushed)
 *
 * stdout is a pipe when the tests run this, so stdio buffers it fully: what gets flushed
 * at exit, and what does not, is part of the expected output.
 */
#define PROG "exit_cases"
#include "progs.h"

#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

static int never_written[2]; /* a pipe nobody writes: read() on it blocks for good */
static pthread_mutex_t stuck_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stuck_cv = PTHREAD_COND_INITIALIZER;

static void on_exit_print(void)
{
	printf("atexit ran\n");
}

static void *blocked_reader_main(void *arg)
{
	char b[8];

	(void)arg;
	if (read(never_written[0], b, sizeof(b)) >= 0)
		printf("read returned\n");
	return NULL;
}

static void *blocked_sleeper_main(void *arg)
{
	(void)arg;
	sleep(30);
	printf("sleep returned\n");
	return NULL;
}

static void *blocked_waiter_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&stuck_m);
	for (;;)
		pthread_cond_wait(&stuck_cv, &stuck_m);
	return NULL;
}

/* Threads that block until the process ends: the exit must not wait for them. */
static void start_blocked_threads(void)
{
	make_pipe(never_written, 0);
	for (int i = 0; i < 3; i++)
		pthread_detach(start(blocked_reader_main, NULL));
	pthread_detach(start(blocked_sleeper_main, NULL));
	pthread_detach(start(blocked_waiter_main, NULL));
	msleep(50); /* let them block; the outcome is the same if they have not */
}

/* ---- a crowd of parked threads -------------------------------------------------------- */

enum { CROWD = 3000, CROWD_STACK = 64 * 1024 };

static int crowd_pipe[2];			/* written by nobody: read ends at its close */
static pthread_mutex_t crowd_held = PTHREAD_MUTEX_INITIALIZER;	/* by crowd_holder_main */
static pthread_mutex_t crowd_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t crowd_cv = PTHREAD_COND_INITIALIZER;
static bool crowd_released;
static sem_t crowd_sem, holder_ready, holder_release;
static long crowd_nap_ms;
static atomic_int crowd_arrived;

static void sem_take(sem_t *s)
{
	while (sem_wait(s) != 0)
		if (errno != EINTR)
			die("sem_wait");
}

/* Parks in one of five ways until released (or the process ends), then pthread_exit. */
static void *crowd_member_main(void *arg)
{
	char c;

	atomic_fetch_add(&crowd_arrived, 1);
	switch ((long)arg % 5) {
	case 0:
		if (read(crowd_pipe[0], &c, 1) != 0)
			die("read");
		break;
	case 1:
		msleep(crowd_nap_ms);
		break;
	case 2:
		pthread_mutex_lock(&crowd_m);
		while (!crowd_released)
			pthread_cond_wait(&crowd_cv, &crowd_m);
		pthread_mutex_unlock(&crowd_m);
		break;
	case 3:
		pthread_mutex_lock(&crowd_held);
		pthread_mutex_unlock(&crowd_held);
		break;
	default:
		sem_take(&crowd_sem);
	}
	pthread_exit(NULL);
}

/* Holds crowd_held until the crowd is released: its owner must be the one to unlock it. */
static void *crowd_holder_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&crowd_held);
	sem_post(&holder_ready);
	sem_take(&holder_release);
	pthread_mutex_unlock(&crowd_held);
	return NULL;
}

static void start_detached(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack)
		pthread_attr_setstacksize(&attr, stack);
	errno = pthread_create(&t, &attr, fn, arg);
	if (errno)
		die("pthread_create");
	pthread_attr_destroy(&attr);
}

/* CROWD detached threads, parked (or about to) when it returns; sleepers nap nap_ms. */
static void start_crowd(long nap_ms)
{
	crowd_nap_ms = nap_ms;
	make_pipe(crowd_pipe, 0);
	sem_init(&crowd_sem, 0, 0);
	sem_init(&holder_ready, 0, 0);
	sem_init(&holder_release, 0, 0);
	start_detached(crowd_holder_main, NULL, CROWD_STACK);
	sem_take(&holder_ready);
	for (long i = 0; i < CROWD; i++)
		start_detached(crowd_member_main, (void *)i, CROWD_STACK);
	while (atomic_load(&crowd_arrived) < CROWD)
		msleep(5);
	msleep(50); /* let the last ones park; the outcome is the same if they have not */
}

static void release_crowd(void)
{
	close(crowd_pipe[1]);
	pthread_mutex_lock(&crowd_m);
	crowd_released = true;
	pthread_cond_broadcast(&crowd_cv);
	pthread_mutex_unlock(&crowd_m);
	sem_post(&holder_release);
	for (int i = 0; i < CROWD; i++)
		sem_post(&crowd_sem);
}

/* ---- main_exit ------------------------------------------------------------------------ */

/* Each worker waits for the one before it, so that they print in order. */
static void *chained_main(void *arg)
{
	pthread_t *prev = arg;
	static int next_id;
	int id;

	if (prev)
		pthread_join(*prev, NULL);
	id = next_id++;
	msleep(50);
	printf("thread %d done\n", id);
	return NULL;
}

static int mode_main_exit(void)
{
	static pthread_t t[3];

	atexit(on_exit_print);
	printf("main exiting\n"); /* before the threads start, so that it comes first */
	for (int i = 0; i < 3; i++)
		t[i] = start(chained_main, i ? &t[i - 1] : NULL);
	pthread_exit(NULL);
}

/* ---- thread_exit ---------------------------------------------------------------------- */

static void *exiter_main(void *arg)
{
	(void)arg;
	msleep(50);
	printf("calling exit\n");
	exit(3);
}

/* ---- main_return ---------------------------------------------------------------------- */

static int mode_main_return(void)
{
	atexit(on_exit_print);
	start_blocked_threads();
	printf("main returns\n");
	return 7;
}

/* ---- thread__exit, thread_abort, sigterm ---------------------------------------------- */

static void *underscore_exit_main(void *arg)
{
	(void)arg;
	printf("never flushed\n");
	_exit(5);
}

static void *abort_main(void *arg)
{
	(void)arg;
	msleep(20);
	abort();
}

static void *sigterm_main(void *arg)
{
	(void)arg;
	msleep(20);
	kill(getpid(), SIGTERM);
	msleep(5000); /* the signal is on its way; it must not return first */
	printf("sigterm did not kill\n");
	return NULL;
}

/* Blocks SIGTERM and sleeps: the process must still die of the SIGTERM main takes. */
static void *blocks_sigterm_main(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	msleep(5000);
	return NULL;
}

static int mode_sigterm_blocked(void)
{
	start(blocks_sigterm_main, NULL);
	msleep(20);
	pthread_join(start(sigterm_main, NULL), NULL);
	printf("join returned\n");
	return 0;
}

/* fn in a thread while others are parked: a few, or a crowd. */
static int run_and_wait(void *(*fn)(void *), bool crowd)
{
	atexit(on_exit_print);
	if (crowd)
		start_crowd(30000);
	else
		start_blocked_threads();
	pthread_join(start(fn, NULL), NULL);
	printf("join returned\n");
	return 0;
}

static int mode_crowd_return(void)
{
	atexit(on_exit_print);
	start_crowd(30000);
	printf("main returns\n");
	return 7;
}

static void *releaser_main(void *arg)
{
	(void)arg;
	msleep(50);
	printf("releasing the crowd\n");
	release_crowd();
	pthread_exit(NULL);
}

/* Sleepers nap 200 ms: every thread of the crowd ends by itself soon. */
static int mode_crowd_last_exit(void)
{
	atexit(on_exit_print);
	printf("main exiting\n");
	start_crowd(200);
	start_detached(releaser_main, NULL, 0);
	pthread_exit(NULL);
}

/* Each mode: a function of its own, or fn run in a thread while others are parked. */
static const struct exit_mode {
	const char *name;
	int (*run)(void);
	void *(*fn)(void *);
	bool crowd;
} modes[] = {
	{ "main_exit", mode_main_exit, NULL, false },
	{ "thread_exit", NULL, exiter_main, false },
	{ "main_return", mode_main_return, NULL, false },
	{ "thread__exit", NULL, underscore_exit_main, false },
	{ "thread_abort", NULL, abort_main, false },
	{ "sigterm", NULL, sigterm_main, false },
	{ "sigterm_blocked", mode_sigterm_blocked, NULL, false },
	{ "crowd_exit", NULL, exiter_main, true },
	{ "crowd__exit", NULL, underscore_exit_main, true },
	{ "crowd_abort", NULL, abort_main, true },
	{ "crowd_sigterm", NULL, sigterm_main, true },
	{ "crowd_return", mode_crowd_return, NULL, true },
	{ "crowd_last_exit", mode_crowd_last_exit, NULL, true },
};

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";

	alarm(60);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct exit_mode *m = &modes[i];

		if (strcmp(mode, m->name) == 0)
			return m->run ? m->run() : run_and_wait(m->fn, m->crowd);
	}
	fprintf(stderr, "usage: exit_cases MODE, one of:");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, " %s", modes[i].name);
	fputc('\n', stderr);
	return 2;
}

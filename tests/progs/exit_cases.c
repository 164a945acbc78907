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
 *
 * stdout is a pipe when the tests run this, so stdio buffers it fully: what gets flushed
 * at exit, and what does not, is part of the expected output.
 */
#define PROG "exit_cases"
#include "progs.h"

#include <signal.h>
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

static int mode_thread_exit(void)
{
	atexit(on_exit_print);
	start_blocked_threads();
	pthread_join(start(exiter_main, NULL), NULL);
	printf("join returned\n");
	return 0;
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

static int run_and_wait(void *(*fn)(void *))
{
	atexit(on_exit_print);
	start_blocked_threads();
	pthread_join(start(fn, NULL), NULL);
	printf("join returned\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";

	alarm(60);
	if (strcmp(mode, "main_exit") == 0)
		return mode_main_exit();
	if (strcmp(mode, "thread_exit") == 0)
		return mode_thread_exit();
	if (strcmp(mode, "main_return") == 0)
		return mode_main_return();
	if (strcmp(mode, "thread__exit") == 0)
		return run_and_wait(underscore_exit_main);
	if (strcmp(mode, "thread_abort") == 0)
		return run_and_wait(abort_main);
	if (strcmp(mode, "sigterm") == 0)
		return run_and_wait(sigterm_main);
	if (strcmp(mode, "sigterm_blocked") == 0)
		return mode_sigterm_blocked();
	fprintf(stderr, "usage: exit_cases main_exit|thread_exit|main_return|thread__exit|"
			"thread_abort|sigterm|sigterm_blocked\n");
	return 2;
}

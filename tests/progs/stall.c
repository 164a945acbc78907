/*
 * stall [read|spin]
 *
 * read (the default): a green thread named "raw-reader" reads a pipe with a raw
 * syscall(SYS_read), which no hook sees: it blocks its kernel thread (and, with
 * GREENPATCH_HANDOFF=0, every other thread) until a child process (not a thread: with
 * hand-off off nothing in this process could run) writes to the pipe after 600 ms. A second thread, "ticker", sleeps meanwhile. Prints
 * "read x" and "ticked", the same with and without the library; under the library, the
 * stall detector names the reader and the read on stderr.
 *
 * spin: a thread named "spinner" computes for 500 ms of its CPU time without calling
 * anything that could yield, while "ticker" sleeps. Prints "spun" and "ticked".
 */
#define PROG "stall"
#include "progs.h"

#include <sys/syscall.h>
#include <sys/wait.h>

static int pipefd[2];

static void *raw_reader(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "raw-reader");
	char c = 0;
	long n = syscall(SYS_read, pipefd[0], &c, 1);
	if (n != 1)
		die("raw read");
	printf("read %c\n", c);
	return NULL;
}

static void *spinner(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "spinner");
	struct timespec t0 = now(CLOCK_THREAD_CPUTIME_ID);
	struct timespec end = ts_add(t0, ts_ms(500));
	while (!reached(CLOCK_THREAD_CPUTIME_ID, end))
		;
	printf("spun\n");
	return NULL;
}

static void *ticker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "ticker");
	msleep(50);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "spin") == 0) {
		pthread_t t = start(ticker, NULL);
		pthread_t s = start(spinner, NULL);
		join(s);
		join(t);
		printf("ticked\n");
		return 0;
	}
	make_pipe(pipefd, 0);
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		msleep(600);
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	pthread_t t = start(ticker, NULL);
	pthread_t r = start(raw_reader, NULL);
	join(r);
	join(t);
	printf("ticked\n");
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("the writer failed");
	return 0;
}

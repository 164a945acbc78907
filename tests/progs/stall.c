/*
 * stall [MS]
 *
 * A green thread named "raw-reader" reads a pipe with a raw syscall(SYS_read), which no
 * hook sees: it blocks the kernel thread, and with it every other thread, until a child
 * process (not a thread: nothing in this process could run) writes to the pipe after MS
 * milliseconds (default 600). A second thread, "ticker", sleeps meanwhile. Prints "read x"
 * and "ticked", the same with and without the library; under the library, the stall
 * detector names the reader and the read on stderr.
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

static void *ticker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "ticker");
	msleep(50);
	return NULL;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 600;
	make_pipe(pipefd, 0);
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		msleep(ms);
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

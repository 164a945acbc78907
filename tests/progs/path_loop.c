/*
 * A loop of path calls on local files, for counting system calls (tests/shim_paths.c):
 *
 *   path_loop DIR N
 *
 * creates N files in DIR, then stats, opens and closes each of them, while a second
 * thread waits on a pipe (so that under the library the loop runs on a green thread
 * with another alive, where the hooks do their work). Prints "done N".
 */
#define PROG "path_loop"
#include "progs.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static int wake[2];

static void *waiter(void *arg)
{
	(void)arg;
	char c;
	if (read(wake[0], &c, 1) < 0)
		die("read");
	return NULL;
}

static const char *name(const char *dir, int i)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/f%d", dir, i);
	return path;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		fail("usage: path_loop DIR N");
	const char *dir = argv[1];
	int n = atoi(argv[2]);
	make_pipe(wake, O_CLOEXEC);
	pthread_t t = start(waiter, NULL);
	for (int i = 0; i < n; i++) {
		int fd = creat(name(dir, i), 0644);
		if (fd < 0 || close(fd) != 0)
			die(name(dir, i));
	}
	struct stat st;
	for (int i = 0; i < n; i++) {
		if (stat(name(dir, i), &st) != 0)
			die("stat");
		int fd = open(name(dir, i), O_RDONLY);
		if (fd < 0)
			die("open");
		if (close(fd) != 0)
			die("close");
	}
	if (write(wake[1], "x", 1) != 1)
		die("write");
	join(t);
	printf("done %d\n", n);
	return 0;
}

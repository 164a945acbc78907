/*
 * config_probe
 *
 * The least a program does to have the library's runtime start and work: a thread
 * sleeps a millisecond and writes a line into a pipe; main joins it, reads the line and
 * prints "read: hello". Main reads only after the join, so that the program ends under
 * any GREENPATCH_UNPATCH: a read left to libc that waited for another green thread would
 * block them all where there is no hand-off. The configuration fuzzer
 * (tests/shim_config_fuzz.c) runs it under every environment it makes.
 */
#define PROG "config_probe"
#include "progs.h"

static void *writer(void *arg)
{
	int fd = *(int *)arg;
	msleep(1);
	if (write(fd, "hello\n", 6) != 6)
		die("write");
	return NULL;
}

int main(void)
{
	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	join(start(writer, &p[1]));
	char line[16];
	ssize_t n = read(p[0], line, sizeof(line) - 1);
	if (n < 0)
		die("read");
	line[n] = '\0';
	printf("read: %s", line);
	return 0;
}

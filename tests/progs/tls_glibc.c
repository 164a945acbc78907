/*
 * tls_glibc [--list | CASE...]
 *
 * What changes in glibc's own behaviour once each thread has a descriptor of its own:
 *
 *   setuid          glibc makes every thread it knows change credentials and waits for
 *                   each to answer a signal; from a thread, with another kernel thread
 *                   in the process (the library's offload pool, started here by an fsync
 *                   on a thread), it must still return.
 *   flockfile       a stream locked with flockfile by one thread that blocks: another
 *                   thread's plain fputs and a third thread's flockfile wait for it (in
 *                   an order the kernel chooses natively: printed sorted); its
 *                   ftrylockfile meanwhile answers EBUSY.
 *   flockfile_before_threads
 *                   a stream the first thread locked before it created any thread: a
 *                   thread that writes to it waits until the first thread unlocks it.
 *   flockfile_sections
 *                   two threads write sections of three parts each under flockfile
 *                   (fputs, putc_unlocked, fputs) to a file and to a pipe while two
 *                   others write whole lines with fputs, all at once, on every CPU:
 *                   no plain line lands inside a section.
 *   given_stack_res a thread on a stack the program gives (full of 0xff) starts with a
 *                   zeroed _res, as glibc's descriptor has it.
 *
 * Each case prints lines that do not depend on timing.
 */
#define PROG "tls_glibc"
#include "progs.h"
#include "tls.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <resolv.h>

/* ---- setuid ----------------------------------------------------------------------- */

static void *setuid_main(void *arg)
{
	(void)arg;
	char path[] = "/tmp/gp-tls-glibc-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (write(fd, "x", 1) != 1 || fsync(fd) != 0)
		die("fsync");
	close(fd);
	uid_t uid = getuid();
	int rc = setuid(uid);
	printf("%s: setuid(getuid()) from a thread returns %d, uid kept %s\n", current, rc,
	       yes(getuid() == uid));
	return NULL;
}

static void *ticker_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		usleep(1000);
	return NULL;
}

static void case_setuid(void)
{
	pthread_t a = start(setuid_main, NULL), b = start(ticker_main, NULL);
	join(a);
	join(b);
}

/* ---- flockfile ---------------------------------------------------------------------- */

static FILE *out;
static int held[2];   /* the holder writes a byte for each other thread once it holds */

static void wait_until_held(void)
{
	char b;
	if (read(held[0], &b, 1) != 1)
		die("read");
}

static void *holder(void *arg)
{
	(void)arg;
	flockfile(out);
	if (write(held[1], "ab", 2) != 2)
		die("write");
	msleep(60);
	fputs("1 holder: wrote while it held the stream\n", out);
	funlockfile(out);
	return NULL;
}

static int trylock_while_held;

static void *plain_writer(void *arg)
{
	(void)arg;
	wait_until_held();
	trylock_while_held = ftrylockfile(out);
	fputs("2 plain writer: after the holder\n", out);
	return NULL;
}

static void *second_locker(void *arg)
{
	(void)arg;
	wait_until_held();
	flockfile(out);
	fputs("3 second locker: after both\n", out);
	funlockfile(out);
	return NULL;
}

static void case_flockfile(void)
{
	int p[2];
	if (pipe(p) != 0 || pipe(held) != 0)
		die("pipe");
	out = fdopen(p[1], "w");
	if (!out)
		die("fdopen");
	setvbuf(out, NULL, _IOLBF, 0);
	pthread_t t[3] = { start(holder, NULL), start(plain_writer, NULL),
			   start(second_locker, NULL) };
	for (int i = 0; i < 3; i++)
		join(t[i]);
	fclose(out);
	close(held[0]);
	close(held[1]);
	char buf[512];
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	/* Who of the two waiters gets the stream first is up to the kernel natively. */
	char *second = strchr(buf, '\n');
	char *third = second ? strchr(second + 1, '\n') : NULL;
	if (!third)
		fail("the stream got:\n%s", buf);
	*second = *third = '\0';
	char *end = strchr(third + 1, '\n');
	if (end)
		*end = '\0';
	bool two_first = second[1] == '2';
	printf("%s: ftrylockfile while another thread held it: %s\n", current,
	       trylock_while_held == EBUSY ? "EBUSY" : trylock_while_held ? "nonzero" : "0");
	printf("%s: first, while held: %s\n", current, buf);
	printf("%s: then: %s\n", current, two_first ? second + 1 : third + 1);
	printf("%s: then: %s\n", current, two_first ? third + 1 : second + 1);
}

static void *early_writer(void *arg)
{
	(void)arg;
	fputs("2 thread: after the first thread unlocked\n", out);
	return NULL;
}

/* Run in a child, so that the stream is locked while the process has one thread. */
static void case_flockfile_before_threads(void)
{
	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		out = fdopen(p[1], "w");
		setvbuf(out, NULL, _IOLBF, 0);
		flockfile(out);
		pthread_t t = start(early_writer, NULL);
		msleep(30);
		fputs("1 first thread: held the stream from before\n", out);
		funlockfile(out);
		join(t);
		fclose(out);
		_exit(0);
	}
	close(p[1]);
	char buf[512];
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(buf) - 1 && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	printf("%s: child exit %d; the stream got, in order:\n%s", current,
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1, buf);
}

/* ---- flockfile sections against plain writes, in parallel ------------------------------ */

#define SECTION_ROUNDS 20000

static void *section_writer(void *arg)
{
	FILE *f = arg;
	for (int i = 0; i < SECTION_ROUNDS; i++) {
		flockfile(f);
		fputs("<", f);
		putc_unlocked('-', f);
		fputs(">\n", f);
		funlockfile(f);
	}
	return NULL;
}

static void *line_writer(void *arg)
{
	FILE *f = arg;
	for (int i = 0; i < SECTION_ROUNDS; i++)
		fputs("x\n", f);
	return NULL;
}

/* Lines of f's output that are neither a whole section nor a whole plain line. */
static unsigned long broken_lines(FILE *in, unsigned long *lines)
{
	char line[64];
	unsigned long broken = 0;
	*lines = 0;
	while (fgets(line, sizeof(line), in)) {
		(*lines)++;
		if (strcmp(line, "<->\n") != 0 && strcmp(line, "x\n") != 0)
			broken++;
	}
	return broken;
}

static void *drain_pipe(void *arg)
{
	int *fds = arg;   /* read end, then the descriptor of a file to copy into */
	char buf[4096];
	ssize_t n;
	while ((n = read(fds[0], buf, sizeof(buf))) > 0)
		if (write(fds[1], buf, (size_t)n) != n)
			die("write");
	return NULL;
}

/* The four writers on f, then f closed and what it got read back from the file at fd. */
static void sections_on(const char *what, FILE *f, int fd, pthread_t *reader)
{
	pthread_t t[4] = { start(section_writer, f), start(line_writer, f),
			   start(section_writer, f), start(line_writer, f) };
	for (int i = 0; i < 4; i++)
		join(t[i]);
	if (fclose(f) != 0)
		die("fclose");
	if (reader)
		join(*reader);
	FILE *in = fdopen(fd, "r");
	if (!in || fseek(in, 0, SEEK_SET) != 0)
		die("fdopen");
	unsigned long lines, broken = broken_lines(in, &lines);
	fclose(in);
	printf("%s: %s: %lu lines, %lu cut into\n", current, what, lines, broken);
}

static FILE *temp_stream(int *fd)
{
	char path[] = "/tmp/gp-tls-sections-XXXXXX";
	*fd = mkstemp(path);
	if (*fd < 0)
		die("mkstemp");
	unlink(path);
	FILE *f = fdopen(dup(*fd), "w");
	if (!f)
		die("fdopen");
	return f;
}

static void case_flockfile_sections(void)
{
	int fd;
	FILE *f = temp_stream(&fd);
	sections_on("file", f, fd, NULL);

	int p[2];
	FILE *copy = temp_stream(&fd);
	fclose(copy);
	if (pipe(p) != 0)
		die("pipe");
	int fds[2] = { p[0], fd };
	pthread_t reader = start(drain_pipe, fds);
	FILE *w = fdopen(p[1], "w");
	if (!w)
		die("fdopen");
	sections_on("pipe", w, fd, &reader);
	close(p[0]);
}

/* ---- _res on a given stack ---------------------------------------------------------------- */

static void *res_main(void *arg)
{
	(void)arg;
	printf("%s: _res.options=%#lx nscount=%d\n", current, (unsigned long)_res.options,
	       _res.nscount);
	return NULL;
}

static void case_given_stack_res(void)
{
	size_t size = 1 << 20;
	void *stack = malloc(size);
	if (!stack)
		die("malloc");
	memset(stack, 0xff, size);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, size);
	pthread_t t;
	if (pthread_create(&t, &attr, res_main, NULL) != 0)
		die("pthread_create");
	join(t);
	pthread_attr_destroy(&attr);
	free(stack);
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(setuid),
	CASE(flockfile),
	CASE(flockfile_before_threads),
	CASE(flockfile_sections),
	CASE(given_stack_res),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

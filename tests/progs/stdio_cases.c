/*
 * stdio on pipes, sockets and stdin, read and written by several threads: each case
 * prints what the program sees (lines, counts, flags, errno), the same natively and
 * under the shim. Data arrives in pieces, after pauses, from another thread: a stdio
 * read that blocked the carrier would stop the thread that sends the rest, and the case
 * would hang instead of printing.
 */
#define PROG "stdio_cases"
#include "progs.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <locale.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <wchar.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* Writes pieces to fd, pausing before each one; a NULL piece ends, "" closes fd. */
struct feeder {
	int fd;
	long pause_ms;
	const char *pieces[8];
};

static void *feed(void *arg)
{
	struct feeder *f = arg;

	for (int i = 0; i < 8 && f->pieces[i]; i++) {
		msleep(f->pause_ms);
		if (!f->pieces[i][0]) {
			close(f->fd);
			break;
		}
		if (write(f->fd, f->pieces[i], strlen(f->pieces[i])) < 0)
			die("write");
	}
	return NULL;
}

static FILE *open_pipe_read(int p[2])
{
	make_pipe(p, O_CLOEXEC);
	FILE *f = fdopen(p[0], "r");
	if (!f)
		die("fdopen");
	return f;
}

/* ---- reading in pieces -------------------------------------------------------------- */

static void case_fgets_pipe_pieces(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 30, { "hel", "lo wor", "ld\nsecond", " line\n", "" } };
	char line[64];

	ticker_start();
	pthread_t t = start(feed, &fd);
	while (fgets(line, sizeof(line), f))
		printf("line: %s", line);
	printf("eof=%d error=%d ticked=%s\n", feof(f), ferror(f), ticker_stop());
	join(t);
	fclose(f);
}

static void case_fgets_short_buffer(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 20, { "abcdefgh", "ij\nk", "" } };
	char line[5];

	pthread_t t = start(feed, &fd);
	while (fgets(line, sizeof(line), f))
		printf("piece: [%s]\n", line);
	printf("n1: %s\n", fgets(line, 1, f) == line && line[0] == 0 ? "empty" : "other");
	printf("n0: %s\n", fgets(line, 0, f) ? "buffer" : "NULL");
	join(t);
	fclose(f);
}

static void case_getline_socket(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	FILE *f = fdopen(sv[0], "r");
	struct feeder fd = { sv[1], 20, { "one", "\ntwo\n", "thr", "ee", "" } };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	ticker_start();
	pthread_t t = start(feed, &fd);
	while ((n = getline(&line, &cap, f)) >= 0)
		printf("getline %zd: [%s]\n", n, line);
	printf("eof=%d ticked=%s\n", feof(f), ticker_stop());
	n = getdelim(&line, NULL, ',', f);
	printf("getdelim no size: %zd %s\n", n, errname(errno));
	free(line);
	join(t);
	fclose(f);
}

static void case_getdelim_long_record(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	static char big[10000];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = ';';
	struct feeder fd = { p[1], 10, { big, "tail;", "" } };
	char *rec = NULL;
	size_t cap = 0;
	ssize_t n;

	pthread_t t = start(feed, &fd);
	while ((n = getdelim(&rec, &cap, ';', f)) >= 0)
		printf("record %zd bytes, last=%c cap_ok=%s\n", n, rec[n - 1], yes(cap > (size_t)n));
	free(rec);
	join(t);
	fclose(f);
}

static void case_fread_pipe(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	static char chunk[3000];
	memset(chunk, 'a', sizeof(chunk) - 1);
	struct feeder fd = { p[1], 15, { chunk, chunk, "12345", chunk, "" } };
	static char buf[20000];

	ticker_start();
	pthread_t t = start(feed, &fd);
	size_t got = fread(buf, 100, 50, f);   /* 5000 bytes, more than arrives at once */
	size_t rest = fread(buf, 1, sizeof(buf), f);
	printf("fread items=%zu rest=%zu eof=%d ticked=%s\n", got, rest, feof(f), ticker_stop());
	printf("fread at eof: %zu\n", fread(buf, 1, 10, f));
	join(t);
	fclose(f);
}

/* A first fread asking more than user space holds: glibc gives the stream its buffer
   and reads straight into the caller's memory, which fails with EFAULT and leaves the
   data in the pipe for the next fread (it was taken into the buffer, then the second
   fread waited for ever). */
static void case_fread_past_user_space(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	char buf[16] = { 0 };
	char *volatile dst = buf;   /* its size unknown to the fortified fread */

	if (write(p[1], "abcdefgh", 8) != 8)
		die("write");
	errno = 0;
	size_t huge = fread(dst, 1, (size_t)1 << 47, f);
	int e = errno, err = ferror(f);
	clearerr(f);
	close(p[1]);
	size_t next = fread(buf, 1, sizeof(buf), f);
	printf("fread huge=%zu %s error=%d next=%zu %s\n", huge, errname(e), err != 0, next, buf);
	fclose(f);
}

/* fwrite of exactly the free space of a stream's buffer: glibc fills the buffer and
   writes nothing until the next write or flush (the library wrote it at once). */
static void case_fwrite_fills_buffer(void)
{
	int p[2];
	static char data[4096];
	char sink[8192];

	if (pipe(p) != 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0)   /* reads never wait */
		die("pipe");
	FILE *f = fdopen(p[1], "w");

	if (!f || setvbuf(f, NULL, _IOFBF, sizeof(data)) != 0)
		die("fdopen");
	memset(data, 'w', sizeof(data));
	fputc('x', f);
	fflush(f);   /* the buffer exists, and is empty */
	size_t put = fwrite(data, 1, sizeof(data), f);
	ssize_t before = read(p[0], sink, sizeof(sink));   /* 'x' only */
	fflush(f);
	ssize_t after = read(p[0], sink, sizeof(sink));
	printf("fwrite=%zu in_pipe_before_flush=%zd after=%zd\n", put, before, after);
	fclose(f);
	close(p[0]);
}

/* fwrite larger than a stream's free space when its peer is gone: glibc fills the free
   space, then the flush fails (EPIPE), and those bytes count as written. */
static void case_fwrite_peer_gone(void)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int sv[2];
	static char data[4096];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	FILE *f = fdopen(sv[0], "w");

	if (!f || setvbuf(f, NULL, _IOFBF, sizeof(data)) != 0)
		die("fdopen");
	sigaction(SIGPIPE, &ign, &old);
	fputs("a line\n", f);   /* 7 bytes wait in the buffer */
	close(sv[1]);
	errno = 0;
	size_t put = fwrite(data, 1, sizeof(data), f);
	int e = errno;
	printf("fwrite=%zu %s error=%d\n", put, errname(e), ferror(f) != 0);
	fclose(f);
	sigaction(SIGPIPE, &old, NULL);
}

static void case_getc_pipe(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 20, { "a", "bc", "\n", "" } };
	int c, n = 0;

	pthread_t t = start(feed, &fd);
	while ((c = getc(f)) != EOF)
		n += c;
	printf("getc sum=%d eof=%d\n", n, feof(f));
	join(t);
	fclose(f);
}

static void case_fgetc_ungetc(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 20, { "xy", "z", "" } };

	pthread_t t = start(feed, &fd);
	int a = fgetc(f);
	ungetc('Q', f);
	int b = fgetc(f), c = fgetc(f);
	ungetc(c, f);
	int d = fgetc(f), e = fgetc(f), g = fgetc(f);
	printf("%c %c %c %c %c %d\n", a, b, c, d, e, g);
	join(t);
	fclose(f);
}

static void case_fscanf_pipe(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 20, { "12 3", "4\n", "word\n", "" } };
	int a = 0, b = 0;
	char w[16] = "";

	pthread_t t = start(feed, &fd);
	int n1 = fscanf(f, "%d", &a);
	int n2 = fscanf(f, "%d %15s", &b, w);
	int n3 = fscanf(f, "%d", &a);
	printf("fscanf %d %d %d: %d %d %s\n", n1, n2, n3, a, b, w);
	join(t);
	fclose(f);
}

/* ---- the unlocked forms, and the names older binaries call ---------------------------- */

typedef int (*fscanf_fn)(FILE *, const char *, ...);
typedef int (*getc_fn)(FILE *);

/*
 * Programs built today call __isoc99_fscanf and getc; older binaries call fscanf (with
 * the GNU %a) and _IO_getc. Those are reached here the way such a binary reaches them.
 */
static void case_unlocked_and_old_names(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 20, { "ab", "c\nde", "f\n7 8", "\nxyz", "" } };
	char line[16];
	fscanf_fn old_fscanf = (fscanf_fn)dlsym(RTLD_DEFAULT, "fscanf");
	getc_fn old_getc = (getc_fn)dlsym(RTLD_DEFAULT, "_IO_getc");
	int a = 0, b = 0;

	if (!old_fscanf || !old_getc)
		fail("dlsym: %s", dlerror());
	pthread_t t = start(feed, &fd);
	int c1 = getc_unlocked(f), c2 = fgetc_unlocked(f);
	char *l = fgets_unlocked(line, sizeof(line), f);
	printf("unlocked: %c %c [%s]\n", c1, c2, l ? line : "NULL");
	size_t n = fread_unlocked(line, 1, 4, f);
	line[n] = 0;
	printf("fread_unlocked: %zu [%s]\n", n, line);
	int m = old_fscanf(f, "%d %d", &a, &b);
	int c3 = old_getc(f), c4 = old_getc(f);
	printf("fscanf: %d %d %d; _IO_getc: %d %c\n", m, a, b, c3, c4);
	join(t);
	fclose(f);
}

/* ---- errors ------------------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
}

struct poke {
	pthread_t target;
	long after_ms;
	const int *woken; /* if not NULL: sent again until this is set */
};

/* Sends SIGALRM to one thread after a pause (a process signal could go to any thread). */
static void *poke(void *arg)
{
	const struct poke *p = arg;

	msleep(p->after_ms);
	pthread_kill(p->target, SIGALRM);
	if (p->woken)
		signal_until_woken(p->target, SIGALRM, p->woken);
	return NULL;
}

static void case_fgets_eintr(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	int woken = 0;
	struct poke pk = { pthread_self(), 50, &woken };
	char line[16];

	sigaction(SIGALRM, &sa, NULL);
	pthread_t t = start(poke, &pk);
	errno = 0;
	char *r = fgets(line, sizeof(line), f);
	int e = errno;
	__atomic_store_n(&woken, 1, __ATOMIC_RELEASE);
	join(t);
	printf("fgets interrupted: %s errno=%s error=%d\n", r ? "line" : "NULL", errname(e),
	       ferror(f));
	signal(SIGALRM, SIG_DFL);
	fclose(f);
	close(p[1]);
}

static void case_fgets_restart(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct poke pk = { pthread_self(), 30, NULL };
	struct feeder fd = { p[1], 80, { "after\n", "" } };
	char line[16];

	sigaction(SIGALRM, &sa, NULL);
	pthread_t k = start(poke, &pk);
	pthread_t t = start(feed, &fd);
	char *r = fgets(line, sizeof(line), f);
	join(k);
	printf("fgets restarted: %s", r ? line : "NULL\n");
	signal(SIGALRM, SIG_DFL);
	join(t);
	fclose(f);
}

static void case_fgets_rcvtimeo(void)
{
	int sv[2];
	struct timeval tv = { 0, 50000 };
	char line[16];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	FILE *f = fdopen(sv[0], "r");
	errno = 0;
	char *r = fgets(line, sizeof(line), f);
	printf("fgets timed out: %s errno=%s error=%d\n", r ? "line" : "NULL", errname(errno),
	       ferror(f));
	fclose(f);
	close(sv[1]);
}

static void case_fgets_nonblocking(void)
{
	int p[2];
	char line[16];

	make_pipe(p, O_CLOEXEC | O_NONBLOCK);
	FILE *f = fdopen(p[0], "r");
	errno = 0;
	char *r = fgets(line, sizeof(line), f);
	printf("nonblocking fgets: %s errno=%s error=%d\n", r ? "line" : "NULL",
	       errname(errno), ferror(f));
	fclose(f);
	close(p[1]);
}

static void case_eof_is_sticky(void)
{
	int p[2];
	FILE *f = open_pipe_read(p);
	char line[16];

	close(p[1]);
	printf("first: %s\n", fgets(line, sizeof(line), f) ? "line" : "NULL");
	printf("eof=%d getc=%d fread=%zu\n", feof(f), getc(f), fread(line, 1, 4, f));
	fclose(f);
}

/* ---- writing ------------------------------------------------------------------------ */

struct slow_reader {
	int fd;
	long total;
};

static void *read_slowly(void *arg)
{
	struct slow_reader *r = arg;
	char buf[4096];
	ssize_t n;

	msleep(50);
	while ((n = read(r->fd, buf, sizeof(buf))) > 0)
		r->total += n;
	return NULL;
}

/* A stream writing into a socket that r reads from, once read_slowly starts. */
static FILE *to_slow_reader(struct slow_reader *r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	*r = (struct slow_reader){ sv[0], 0 };
	FILE *f = fdopen(sv[1], "w");
	if (!f)
		die("fdopen");
	return f;
}

/* Many flushes into a socket whose reader starts late: the writer waits, others run. */
static void case_fflush_socket_full(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
	FILE *f = fdopen(sv[1], "w");
	struct slow_reader r = { sv[0], 0 };
	static char block[1000];
	memset(block, 'b', sizeof(block));

	ticker_start();
	pthread_t t = start(read_slowly, &r);
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		bad |= fwrite(block, 1, sizeof(block), f) != sizeof(block);
		bad |= (i % 2 ? fflush(f) : fflush_unlocked(f)) != 0;
	}
	bad |= fclose(f) != 0;
	join(t);
	printf("wrote 2000 flushes: ok=%s read=%ld ticked=%s\n", yes(!bad), r.total,
	       ticker_stop());
	close(sv[0]);
}

/*
 * Writes far larger than the socket's buffer, through each kind of stdio writer, to a
 * reader that starts late: the writer must wait without stopping the reader.
 */
enum writer { W_FWRITE, W_FPRINTF, W_FPUTS_PUTS, W_PUTC, W_LINE_BUFFERED, W_UNBUFFERED, W_DPRINTF };

static void write_lots(FILE *f, enum writer how, int *bad)
{
	static char big[200000];
	memset(big, 'w', sizeof(big) - 1);
	switch (how) {
	case W_FWRITE:
		for (int i = 0; i < 10; i++)
			*bad |= fwrite(big, 1, sizeof(big) - 1, f) != sizeof(big) - 1;
		break;
	case W_FPRINTF:
		for (int i = 0; i < 2000; i++)
			*bad |= fprintf(f, "%d %.900s\n", i, big) < 0;
		break;
	case W_FPUTS_PUTS:
		for (int i = 0; i < 20; i++)
			*bad |= fputs(big + i, f) == EOF;
		break;
	case W_PUTC:
		for (int i = 0; i < 300000; i++)
			*bad |= putc('c', f) == EOF;
		break;
	case W_LINE_BUFFERED:
		setvbuf(f, NULL, _IOLBF, 0);
		for (int i = 0; i < 3000; i++)
			*bad |= fprintf(f, "line %d %.600s\n", i, big) < 0;
		break;
	case W_UNBUFFERED:
		setvbuf(f, NULL, _IONBF, 0);
		for (int i = 0; i < 20; i++)
			*bad |= fwrite(big, 1, 100000, f) != 100000;
		break;
	case W_DPRINTF:   /* to the descriptor itself, beside the stream */
		for (int i = 0; i < 200; i++)
			*bad |= dprintf(fileno(f), "%d %.9000s\n", i, big) < 0;
		break;
	}
}

static void case_writers_to_slow_reader(void)
{
	static const char *names[] = { "fwrite", "fprintf", "fputs", "putc", "line-buffered",
				       "unbuffered", "dprintf" };
	for (int how = W_FWRITE; how <= W_DPRINTF; how++) {
		struct slow_reader r;
		FILE *f = to_slow_reader(&r);
		int bad = 0;

		ticker_start();
		pthread_t t = start(read_slowly, &r);
		write_lots(f, (enum writer)how, &bad);
		bad |= fclose(f) != 0;
		join(t);
		printf("%s to a slow reader: ok=%s read=%ld ticked=%s\n", names[how], yes(!bad),
		       r.total, ticker_stop());
		close(r.fd);
	}
}

/* puts and putchar on stdout, made a pipe to a reader that starts late. */
static void case_stdout_pipe_full(void)
{
	int p[2];
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	make_pipe(p, 0);
	dup2(p[1], STDOUT_FILENO);
	close(p[1]);
	struct slow_reader r = { p[0], 0 };
	static char line[1000];
	memset(line, 'p', sizeof(line) - 1);

	ticker_start();
	pthread_t t = start(read_slowly, &r);
	int bad = 0;
	for (int i = 0; i < 300; i++) {
		bad |= puts(line) == EOF;
		bad |= putchar('!') == EOF;
		bad |= printf("%d\n", i) < 0;
	}
	bad |= fflush(stdout) != 0;
	dup2(saved, STDOUT_FILENO);   /* the pipe's last write end closes: the reader ends */
	close(saved);
	join(t);
	printf("stdout to a slow pipe: ok=%s read=%ld ticked=%s\n", yes(!bad), r.total,
	       ticker_stop());
	close(p[0]);
}

/* ---- stdin -------------------------------------------------------------------------- */

static void case_stdin_thread(void)
{
	int p[2];
	make_pipe(p, 0);
	if (dup2(p[0], STDIN_FILENO) < 0)
		die("dup2");
	close(p[0]);
	struct feeder fd = { p[1], 30, { "first ", "line\n", "42\n", "last", "" } };
	char line[64];
	int n = 0;

	ticker_start();
	pthread_t t = start(feed, &fd);
	if (fgets(line, sizeof(line), stdin))
		printf("stdin line: %s", line);
	if (scanf("%d", &n) == 1)
		printf("stdin number: %d\n", n);
	int c;
	while ((c = getchar()) != EOF)
		printf("stdin char: %c\n", c == '\n' ? '|' : c);
	printf("stdin eof=%d ticked=%s\n", feof(stdin), ticker_stop());
	join(t);
}

/* ---- a thread-per-connection server on fdopen/fgets/fprintf -------------------------- */

#define LIFO_CLIENTS 40

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	FILE *in = fdopen(fd, "r"), *out = fdopen(dup(fd), "w");
	char line[128];

	if (!in || !out)
		die("fdopen");
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = 0;
		fprintf(out, "echo %s\n", line);
		fflush(out);
	}
	fclose(in);
	fclose(out);
	return NULL;
}

static void *acceptor(void *arg)
{
	int l = (int)(long)arg;
	pthread_t t[LIFO_CLIENTS];

	for (int i = 0; i < LIFO_CLIENTS; i++) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			die("accept");
		t[i] = start(serve, (void *)(long)c);
	}
	for (int i = 0; i < LIFO_CLIENTS; i++)
		join(t[i]);
	return NULL;
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 128) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		die("listener");
	*port = ntohs(a.sin_port);
	return l;
}

static int connect_loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	return c;
}

/*
 * Every client connects, then they talk last-connected-first, each one waiting for its
 * answer: the first server threads wait in fgets while the last ones must be served.
 */
static void case_fdopen_server_lifo(void)
{
	uint16_t port;
	int l = listen_loopback(&port), c[LIFO_CLIENTS], ok = 0;
	pthread_t a = start(acceptor, (void *)(long)l);

	for (int i = 0; i < LIFO_CLIENTS; i++)
		c[i] = connect_loopback(port);
	for (int i = LIFO_CLIENTS - 1; i >= 0; i--) {
		char msg[32], want[40], got[40] = "";
		int len = snprintf(msg, sizeof(msg), "client %d\n", i);
		snprintf(want, sizeof(want), "echo client %d\n", i);
		if (write(c[i], msg, (size_t)len) != len)
			die("write");
		ssize_t n = 0, r;
		while (n < (ssize_t)strlen(want) &&
		       (r = read(c[i], got + n, sizeof(got) - 1 - (size_t)n)) > 0)
			n += r;
		ok += strcmp(got, want) == 0;
	}
	for (int i = 0; i < LIFO_CLIENTS; i++)
		close(c[i]);
	join(a);
	close(l);
	printf("lifo clients answered: %d of %d\n", ok, LIFO_CLIENTS);
}

/* ---- wide characters ---------------------------------------------------------------- */

/*
 * Lines of wide characters arriving in pieces, a multibyte character cut between two of
 * them: fgetws, fgetwc and fwscanf read them while the sender and a ticker run.
 */
static void case_wide_readers_pipe(void)
{
	int p[2];
	setlocale(LC_ALL, "C.UTF-8");
	FILE *f = open_pipe_read(p);
	struct feeder fd = { p[1], 30, { "gr\xc3\xbc", "\xc3\x9f 1\nzw", "ei \xe2\x82",
					 "\xac 2\n42 7", "\n", "" } };
	wchar_t line[64], word[16], euro;
	int a, b, c2;

	ticker_start();
	pthread_t t = start(feed, &fd);
	if (fgetws(line, 64, f))
		printf("fgetws: %zu characters, %ls", wcslen(line), line);
	wint_t c = fgetwc(f);
	printf("fgetwc: U+%04X\n", (unsigned)c);
	int n = fwscanf(f, L"%ls %lc %d %d %d", word, &euro, &a, &b, &c2);
	printf("fwscanf: %d %ls U+%04X %d %d %d\n", n, word, (unsigned)euro, a, b, c2);
	printf("at end: U+%04X eof=%d error=%d ticked=%s\n", (unsigned)fgetwc(f), feof(f),
	       ferror(f), ticker_stop());
	join(t);
	fclose(f);
}

/* fputws, fwprintf and fputwc into a socket whose reader starts late. */
static void case_wide_writers_to_slow_reader(void)
{
	static const char *names[] = { "fputws", "fwprintf", "fputwc", "line-buffered fwprintf" };
	setlocale(LC_ALL, "C.UTF-8");
	for (int how = 0; how < 4; how++) {
		struct slow_reader r;
		FILE *f = to_slow_reader(&r);
		int bad = 0;
		if (how == 3)
			setvbuf(f, NULL, _IOLBF, 0);
		ticker_start();
		pthread_t t = start(read_slowly, &r);
		for (int i = 0; i < 20000; i++) {
			if (how == 0)
				bad |= fputws(L"gr\u00fc\u00df \u20ac\n", f) < 0;
			else if (how == 2)
				bad |= fputwc(L'\u20ac', f) == WEOF;
			else
				bad |= fwprintf(f, L"%d %ls\n", i, L"\u00e9t\u00e9") < 0;
		}
		bad |= fclose(f) != 0;
		join(t);
		printf("%s to a slow reader: ok=%s read=%ld ticked=%s\n", names[how], yes(!bad),
		       r.total, ticker_stop());
		close(r.fd);
	}
}

/*
 * One long line through a line-buffered stream into a pipe that a child process drains
 * slowly, while a ticker ticks: the line is far larger than the pipe holds, so its write
 * waits for the reader, about a quarter of a second. Under the library the writer must
 * wait green and the ticker go on ticking (how late it was goes to stderr); the reader
 * is a process of its own, so that a write that held the carrier would still end
 * (tests/shim_stdio.c also runs this without the monitor's hand-off, which would
 * otherwise free the ticker after a millisecond). The buffer is the default one, or one larger than the line, which libc
 * then writes at the newline in one go; or, fully buffered, at fflush or fclose.
 */
#define LONG_LINE (256 * 1024)

/* Reads fd 4 KiB every 5 ms until its end: the count, written to out. */
static void drain_slowly(int fd, int out)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	while ((msleep(5), n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	dprintf(out, "%ld", total);
	_exit(0);
}

enum long_line_how { LL_FPUTS, LL_PIECES, LL_FPRINTF, LL_DEFAULT_BUFFER, LL_FFLUSH, LL_FCLOSE };

static void put_long_line(FILE *f, enum long_line_how how, const char *line, int *bad)
{
	switch (how) {
	case LL_FPUTS:
	case LL_DEFAULT_BUFFER:
		*bad |= fputs(line, f) == EOF;
		*bad |= fputc('\n', f) == EOF;
		break;
	case LL_PIECES:   /* the line gathers in the buffer; its newline writes it */
		for (int i = 0; i < LONG_LINE / 1024; i++)
			*bad |= fwrite(line, 1, 1024, f) != 1024;
		*bad |= putc('\n', f) == EOF;
		break;
	case LL_FPRINTF:
		*bad |= fprintf(f, "%s\n", line) < 0;
		break;
	case LL_FFLUSH:   /* fully buffered: the buffer takes it all, the flush writes it */
		*bad |= fputs(line, f) == EOF;
		*bad |= fputc('\n', f) == EOF;
		*bad |= fflush(f) != 0;
		break;
	case LL_FCLOSE:
		*bad |= fputs(line, f) == EOF;
		*bad |= fputc('\n', f) == EOF;
		*bad |= fclose(f) != 0;
		break;
	}
}

static void case_long_line_to_slow_pipe(void)
{
	static const char *names[] = { "fputs", "pieces", "fprintf", "default buffer",
				       "fflush, fully buffered", "fclose, fully buffered" };
	static char line[LONG_LINE + 1];
	memset(line, 'l', LONG_LINE);
	for (int how = LL_FPUTS; how <= LL_FCLOSE; how++) {
		int p[2], res[2];
		make_pipe(p, O_CLOEXEC);
		make_pipe(res, O_CLOEXEC);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(p[1]);
			close(res[0]);
			drain_slowly(p[0], res[1]);
		}
		close(p[0]);
		close(res[1]);
		FILE *f = fdopen(p[1], "w");
		if (!f)
			die("fdopen");
		/* glibc takes a size only with a buffer. */
		static char big[2 * LONG_LINE];
		setvbuf(f, how == LL_DEFAULT_BUFFER ? NULL : big, how >= LL_FFLUSH ? _IOFBF : _IOLBF,
			sizeof(big));
		int bad = 0;
		timed_ticker_start(5);
		long ticks0 = timed_ticks_now();
		put_long_line(f, (enum long_line_how)how, line, &bad);
		long ticks = timed_ticks_now() - ticks0;
		long late_us = timed_ticker_stop();
		if (how != LL_FCLOSE)
			bad |= fclose(f) != 0;
		char total[32] = "";
		ssize_t n = read(res[0], total, sizeof(total) - 1);
		total[n > 0 ? n : 0] = '\0';
		close(res[0]);
		waitpid(pid, NULL, 0);
		printf("%s: ok=%s read=%s ticked=%s\n", names[how], yes(!bad), total,
		       yes(ticks >= 3));
		fprintf(stderr, "%s: %ld ticks, worst %.1f ms late\n", names[how], ticks,
			(double)late_us / 1000.0);
	}
}

/*
 * fflush(NULL) while another thread holds a stream with flockfile: glibc flushes each
 * stream under its lock, so the call returns only once that thread's section has ended.
 */
static atomic_int section_state;   /* 0: not begun, 1: inside, 2: ended */

static void *hold_stream_a_while(void *arg)
{
	FILE *f = arg;
	flockfile(f);
	fputs_unlocked("inside the section", f);
	atomic_store(&section_state, 1);
	usleep(100 * 1000);
	atomic_store(&section_state, 2);
	funlockfile(f);
	return NULL;
}

static void case_fflush_all_waits_for_flockfile(void)
{
	FILE *f = fopen("/dev/null", "w");
	if (!f)
		die("fopen /dev/null");
	atomic_store(&section_state, 0);
	pthread_t t = start(hold_stream_a_while, f);
	while (atomic_load(&section_state) == 0)
		usleep(1000);
	int bad = fflush(NULL) != 0;
	int when = atomic_load(&section_state);
	join(t);
	bad |= fclose(f) != 0;
	printf("fflush(NULL) during another thread's flockfile: ok=%s returned after the "
	       "section=%s\n", yes(!bad), yes(when == 2));
}

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(fgets_pipe_pieces),
	CASE(fgets_short_buffer),
	CASE(getline_socket),
	CASE(getdelim_long_record),
	CASE(fread_pipe),
	CASE(fread_past_user_space),
	CASE(fwrite_fills_buffer),
	CASE(fwrite_peer_gone),
	CASE(getc_pipe),
	CASE(fgetc_ungetc),
	CASE(fscanf_pipe),
	CASE(unlocked_and_old_names),
	CASE(fgets_eintr),
	CASE(fgets_restart),
	CASE(fgets_rcvtimeo),
	CASE(fgets_nonblocking),
	CASE(eof_is_sticky),
	CASE(fflush_socket_full),
	CASE(fflush_all_waits_for_flockfile),
	CASE(writers_to_slow_reader),
	CASE(stdout_pipe_full),
	CASE(long_line_to_slow_pipe),
	CASE(stdin_thread),
	CASE(fdopen_server_lifo),
	CASE(wide_readers_pipe),
	CASE(wide_writers_to_slow_reader),
};

int main(int argc, char **argv)
{
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			 run_case_in_thread);
}

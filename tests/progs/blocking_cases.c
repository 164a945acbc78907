/*
 * Blocking calls beyond sockets and pipes, each made by one thread while others must
 * keep running: regular-file reads and writes (cold and cached, at offsets), sendfile,
 * splice, recvmmsg/sendmmsg, opening a FIFO, pause and sigsuspend, fork from a thread
 * with threads in the child, a close while another thread reads, and a program's own
 * epoll loops on several threads. Each case prints what the program sees, the same
 * natively and under the shim; a call that blocked every thread would hang the case.
 */
#define PROG "blocking_cases"
#include "progs.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <resolv.h>
#include <signal.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

/* ---- helpers ------------------------------------------------------------------------ */

static unsigned long sum_bytes(const unsigned char *p, size_t n, unsigned long h)
{
	for (size_t i = 0; i < n; i++)
		h = h * 31 + p[i];
	return h;
}

/* A temporary file of size bytes (a known pattern), removed from its directory. */
static int temp_file(size_t size)
{
	char path[] = "/tmp/gp-blocking-XXXXXX";
	int fd = mkstemp(path);
	static unsigned char block[65536];

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (unsigned char)(i * 7 + 3);
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? size - done : sizeof(block);
		if (write(fd, block, n) != (ssize_t)n)
			die("write");
		done += n;
	}
	return fd;
}

/* Drop the file's pages from the page cache, so that reading it waits for the disk. */
/* Pages of fd's first size bytes still in the page cache. */
static size_t cached_pages(int fd, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (size + page - 1) / page, in = 0;
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	unsigned char *vec = malloc(n);

	if (map == MAP_FAILED || !vec || mincore(map, size, vec) != 0)
		die("mincore");
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	munmap(map, size);
	free(vec);
	return in;
}

/*
 * Out of the page cache, so that reading it waits for the disk. The kernel may keep a
 * page it is still busy with: ask again, a few times, until none is left.
 */
static void make_cold(int fd, size_t size)
{
	for (int tries = 0; tries < 50; tries++) {
		if (fdatasync(fd) != 0)
			die("fdatasync");
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (cached_pages(fd, size) == 0)
			return;
		msleep(10);
	}
}

static void socket_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
}

struct drain {
	int fd;
	long pause_ms;
	size_t total;
	unsigned long hash;
};

/* Reads fd to its end after a pause, hashing what it reads. */
static void *drain(void *arg)
{
	struct drain *d = arg;
	unsigned char buf[8192];
	ssize_t n;

	msleep(d->pause_ms);
	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		d->total += (size_t)n;
		d->hash = sum_bytes(buf, (size_t)n, d->hash);
	}
	return NULL;
}

/* ---- regular files ------------------------------------------------------------------ */

/*
 * Whether others ran while this thread waited for the disk can only be told when the
 * wait was long: a file the kernel keeps cached (tmpfs, or a fast disk) is read in a
 * few milliseconds, natively as under the shim, and the ticker may or may not count
 * in that time. So the reads alone are timed (not the hashing, which is CPU work the
 * ticker shares natively), and "no" is said only of a wait this long in which the
 * ticker never counted: natively that does not happen, and under the shim it means
 * the read held the carrier.
 */
enum { DISK_WAIT_TELLS_MS = 100 };

static void case_file_read_cold(void)
{
	int fd = temp_file(4 << 20);
	unsigned char *buf = malloc(1 << 20);
	unsigned long h = 0;
	size_t total = 0;
	long waited_ms = 0;
	int ticks_in_reads = 0;
	ssize_t n;

	make_cold(fd, 4 << 20);
	lseek(fd, 0, SEEK_SET);
	ticker_start();
	for (;;) {
		struct timespec t0 = mono();
		int ticks0 = ticker_ticks;

		n = read(fd, buf, 1 << 20);
		waited_ms += elapsed_ms(t0);
		ticks_in_reads += ticker_ticks - ticks0;
		if (n <= 0)
			break;
		total += (size_t)n;
		h = sum_bytes(buf, (size_t)n, h);
	}
	ticker_stop();
	printf("read cold file: %zu bytes hash=%lx last=%zd others ran while it waited=%s\n",
	       total, h, n, yes(waited_ms < DISK_WAIT_TELLS_MS || ticks_in_reads > 0));
	free(buf);
	close(fd);
}

/* A read larger than what is cached still returns all of it: only end of file is short. */
static void case_file_read_partly_cached(void)
{
	int fd = temp_file(1 << 20);
	static unsigned char buf[1 << 20];

	make_cold(fd, 1 << 20);
	if (pread(fd, buf, 4096, 0) != 4096)   /* the first page only is cached now */
		die("pread");
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, sizeof(buf));
	ssize_t m = read(fd, buf, sizeof(buf));
	printf("read partly cached: %zd then %zd\n", n, m);
	close(fd);
}

static void case_file_positional(void)
{
	int fd = temp_file(100000);
	char a[16] = "", b[8] = "", c[8] = "";
	struct iovec iov[2] = { { b, sizeof(b) - 1 }, { c, sizeof(c) - 1 } };

	make_cold(fd, 100000);
	printf("pwrite: %zd\n", pwrite(fd, "hello, world", 12, 50000));
	printf("pread: %zd [%s]\n", pread(fd, a, 12, 50000), a);
	printf("pwritev: %zd\n", pwritev(fd, iov, 2, 70000));
	memcpy(b, "abcdefg", 7);
	memcpy(c, "hijklmn", 7);
	printf("pwritev: %zd\n", pwritev(fd, iov, 2, 80000));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	printf("preadv: %zd [%s][%s]\n", preadv(fd, iov, 2, 80000), b, c);
	printf("preadv2 at -1: %zd pos=%ld\n", preadv2(fd, iov, 2, -1, 0),
	       (long)lseek(fd, 0, SEEK_CUR));
	printf("pread past end: %zd\n", pread(fd, a, 10, 200000));
	printf("position untouched: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	close(fd);
}

/* One line: what call returned, and errno named. */
#define SAY_ERR(label, call)                                           \
	do {                                                           \
		errno = 0;                                             \
		ssize_t r_ = (call);                                   \
		printf("%s: %zd %s\n", label, r_, errname(errno));     \
	} while (0)

static void case_positional_errors(void)
{
	char buf[8];
	int p[2];

	make_pipe(p, O_CLOEXEC);
	SAY_ERR("pread pipe", pread(p[0], buf, 1, 0));
	SAY_ERR("pwrite pipe", pwrite(p[1], "x", 1, 0));
	close2(p);
	int fd = temp_file(10);
	SAY_ERR("pread negative", pread(fd, buf, 1, -5));
	close(fd);
	SAY_ERR("pread closed", pread(fd, buf, 1, 0));
	SAY_ERR("pwrite bad", pwrite(-1, buf, 1, 0));
}

/*
 * The 64-bit names (what a program built with _FILE_OFFSET_BITS=64 calls), the openat
 * family, tee and copy_file_range, on cold files: the results as natively.
 */
static void case_abi_variants(void)
{
	int fd = temp_file(200000), p[2], q[2];
	char a[8] = "", b[8] = "";
	struct iovec iov[2] = { { a, 3 }, { b, 3 } };
	off64_t in_off = 1000, out_off = 0;

	make_cold(fd, 200000);
	ssize_t w = pwrite64(fd, "xyz", 3, 150000), r = pread64(fd, a, 3, 150000);
	printf("pwrite64 %zd pread64 %zd [%s]\n", w, r, a);
	memcpy(a, "abc", 3);
	memcpy(b, "def", 3);
	w = pwritev64(fd, iov, 2, 160000);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	r = preadv64(fd, iov, 2, 160000);
	printf("pwritev64 %zd preadv64 %zd [%s][%s]\n", w, r, a, b);
	w = pwritev64v2(fd, iov, 2, 170000, 0);
	r = preadv64v2(fd, iov, 2, 170000, 0);
	printf("pwritev64v2 %zd preadv64v2 %zd [%s][%s]\n", w, r, a, b);
	int dir = open64("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char name[64];
	snprintf(name, sizeof(name), "gp-abi-%d", (int)getpid());
	int g = openat64(dir, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int h = openat(dir, name, O_RDONLY | O_CLOEXEC);
	printf("open64 %s openat64 %s openat %s\n", yes(dir >= 0), yes(g >= 0), yes(h >= 0));
	ssize_t copied = copy_file_range(fd, &in_off, g, &out_off, 5000, 0);
	printf("copy_file_range %zd in_off=%lld out_off=%lld\n", copied, (long long)in_off,
	       (long long)out_off);
	make_pipe(p, O_CLOEXEC);
	make_pipe(q, O_CLOEXEC);
	off64_t off = 0;
	printf("sendfile64 %zd\n", sendfile64(p[1], h, &off, 4000));
	printf("tee %zd\n", tee(p[0], q[1], 4000, 0));
	unlinkat(dir, name, 0);
	close(g);
	close(h);
	close(dir);
	close2(p);
	close2(q);
	close(fd);
}

/* ---- copies ------------------------------------------------------------------------- */

static void case_sendfile_socket(void)
{
	int fd = temp_file(3 << 20), sv[2];
	struct drain d = { .pause_ms = 50 };
	off_t off = 0;
	size_t sent = 0;
	ssize_t n;

	socket_pair(sv);
	d.fd = sv[0];
	ticker_start();
	pthread_t t = start(drain, &d);
	while (sent < (3u << 20) && (n = sendfile(sv[1], fd, &off, (3u << 20) - sent)) > 0)
		sent += (size_t)n;
	close(sv[1]);
	join(t);
	unsigned char *all = malloc(3 << 20);
	if (pread(fd, all, 3 << 20, 0) != 3 << 20)
		die("pread");
	printf("sendfile: sent=%zu off=%ld received=%zu same=%s ticked=%s\n", sent, (long)off,
	       d.total, yes(d.hash == sum_bytes(all, 3 << 20, 0)), ticker_stop());
	free(all);
	close(sv[0]);
	close(fd);
}

static void case_splice_pipes(void)
{
	int in[2], out[2];
	struct drain d = { .pause_ms = 30 };

	make_pipe(in, O_CLOEXEC);
	make_pipe(out, O_CLOEXEC);
	d.fd = out[0];
	pthread_t t = start(drain, &d);
	if (write(in[1], "spliced bytes", 13) != 13)
		die("write");
	close(in[1]);
	ssize_t n = splice(in[0], NULL, out[1], NULL, 1 << 16, 0);
	ssize_t m = splice(in[0], NULL, out[1], NULL, 1 << 16, 0);
	close(out[1]);
	join(t);
	printf("splice: %zd then %zd, received %zu\n", n, m, d.total);
	close(in[0]);
	close(out[0]);
}

/* ---- datagrams ---------------------------------------------------------------------- */

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0)
		die("udp socket");
	*port = ntohs(a.sin_port);
	return s;
}

struct datagrams {
	int fd;
	uint16_t port;
};

/* Three datagrams with sendmmsg, then two more one by one, after pauses. */
static void *send_datagrams(void *arg)
{
	struct datagrams *d = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(d->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *words[5] = { "one", "two", "three", "four", "five" };
	struct iovec iov[5];
	struct mmsghdr m[5];

	memset(m, 0, sizeof(m));
	for (int i = 0; i < 5; i++) {
		iov[i] = (struct iovec){ words[i], strlen(words[i]) };
		m[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof(to),
						.msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	msleep(30);
	int n = sendmmsg(d->fd, m, 3, 0);
	printf("sendmmsg: %d, lengths %u %u %u\n", n, m[0].msg_len, m[1].msg_len, m[2].msg_len);
	fflush(stdout);
	for (int i = 3; i < 5; i++) {
		msleep(30);
		sendmmsg(d->fd, &m[i], 1, 0);
	}
	return NULL;
}

static void case_mmsg_udp(void)
{
	uint16_t rport, sport;
	int r = udp_socket(&rport);
	struct datagrams d = { .port = rport };
	char bufs[5][16];
	struct iovec iov[5];
	struct mmsghdr m[5];

	d.fd = udp_socket(&sport);
	memset(m, 0, sizeof(m));
	memset(bufs, 0, sizeof(bufs));
	for (int i = 0; i < 5; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) - 1 };
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	pthread_t t = start(send_datagrams, &d);
	/* At most the first three: a receiver late enough to find more would wait for ever
	 * below, for two more that never come. */
	int a = recvmmsg(r, m, 3, MSG_WAITFORONE, NULL);
	msleep(100);   /* the rest of the three, and maybe more, wait in the socket */
	int b = a < 3 ? recvmmsg(r, m + a, (unsigned)(3 - a), 0, NULL) : 0;
	int c = recvmmsg(r, m + 3, 2, 0, NULL);   /* waits for both of the last two */
	join(t);
	printf("recvmmsg: first>=1=%s all=%d last two=%d:", yes(a >= 1), a + b, c);
	for (int i = 0; i < 5; i++)
		printf(" %s", bufs[i]);
	printf("\n");
	close(r);
	close(d.fd);
}

/* ---- the C library's DNS resolver ---------------------------------------------------- */

/*
 * A name server on loopback that answers every A query for any name with 127.0.0.9,
 * after a pause, until told to stop (a query whose first label is "stop").
 */
static void *fake_name_server(void *arg)
{
	int fd = *(int *)arg;
	unsigned char q[512], a[600];
	struct sockaddr_in from;
	socklen_t len;
	ssize_t n;

	for (;;) {
		len = sizeof(from);
		n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &len);
		if (n < 12)
			break;
		msleep(20);
		memcpy(a, q, (size_t)n);
		a[2] = 0x81 | (q[2] & 0x01);   /* a response, recursion desired as asked */
		a[3] = 0x80;                   /* recursion available, no error */
		a[6] = 0, a[7] = 1;            /* one answer */
		a[8] = a[9] = a[10] = a[11] = 0;
		static const unsigned char rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4,
						    127, 0, 0, 9 };
		memcpy(a + n, rr, sizeof(rr));
		sendto(fd, a, (size_t)n + sizeof(rr), 0, (struct sockaddr *)&from, len);
		if (n > 17 && memcmp(q + 13, "stop", 4) == 0)
			break;
	}
	return NULL;
}

static void use_name_server(res_state st, uint16_t port)
{
	struct sockaddr_in ns = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	st->nscount = 1;
	st->nsaddr_list[0] = ns;
	st->retry = 1;
	st->retrans = 3;
}

static void say_answer(const char *what, int n, const unsigned char *ans)
{
	printf("%s: %d bytes, address %d.%d.%d.%d\n", what, n, n > 4 ? ans[n - 4] : -1,
	       n > 4 ? ans[n - 3] : -1, n > 4 ? ans[n - 2] : -1, n > 4 ? ans[n - 1] : -1);
}

static void case_resolver_queries(void)
{
	uint16_t port;
	int fd = udp_socket(&port);
	struct __res_state st;
	unsigned char ans[512], q[512];
	int qlen;

	memset(&st, 0, sizeof(st));
	ticker_start();
	pthread_t t = start(fake_name_server, &fd);
	if (res_ninit(&st) != 0)
		die("res_ninit");
	use_name_server(&st, port);
	say_answer("res_nquery", res_nquery(&st, "one.example", ns_c_in, ns_t_a, ans, sizeof(ans)),
		   ans);
	say_answer("res_nsearch", res_nsearch(&st, "two.example.", ns_c_in, ns_t_a, ans,
					      sizeof(ans)), ans);
	qlen = res_nmkquery(&st, ns_o_query, "four.example", ns_c_in, ns_t_a, NULL, 0, NULL, q,
			    sizeof(q));
	say_answer("res_nsend", res_nsend(&st, q, qlen, ans, sizeof(ans)), ans);
	res_nclose(&st);
	if (res_init() != 0)
		die("res_init");
	use_name_server(&_res, port);
	say_answer("res_query", res_query("three.example", ns_c_in, ns_t_a, ans, sizeof(ans)),
		   ans);
	say_answer("res_search", res_search("five.example.", ns_c_in, ns_t_a, ans, sizeof(ans)),
		   ans);
	qlen = res_mkquery(ns_o_query, "six.example", ns_c_in, ns_t_a, NULL, 0, NULL, q, sizeof(q));
	say_answer("res_send", res_send(q, qlen, ans, sizeof(ans)), ans);
	say_answer("res_querydomain", res_querydomain("stop", "example", ns_c_in, ns_t_a, ans,
							sizeof(ans)), ans);
	join(t);
	printf("resolver ticked=%s\n", ticker_stop());
	close(fd);
}

/* ---- FIFOs -------------------------------------------------------------------------- */

static char fifo_path[64];

static void *fifo_writer(void *arg)
{
	(void)arg;
	msleep(50);
	int fd = open(fifo_path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("open fifo for writing");
	if (write(fd, "through the fifo", 16) != 16)
		die("write");
	close(fd);
	return NULL;
}

static void case_fifo_open(void)
{
	char buf[32] = "";

	snprintf(fifo_path, sizeof(fifo_path), "/tmp/gp-fifo-%d", (int)getpid());
	unlink(fifo_path);
	if (mkfifo(fifo_path, 0600) != 0)
		die("mkfifo");
	ticker_start();
	pthread_t t = start(fifo_writer, NULL);
	int fd = open(fifo_path, O_RDONLY | O_CLOEXEC);   /* waits for the writer */
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	ssize_t m = fd < 0 ? -1 : read(fd, buf + n, sizeof(buf) - 1 - (size_t)n);
	join(t);
	printf("fifo: opened=%s read %zd [%s] then %zd ticked=%s\n", yes(fd >= 0), n, buf, m,
	       ticker_stop());
	close(fd);
	int nb = open(fifo_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	printf("fifo nonblocking write open without reader: %d %s\n", nb, errname(errno));
	unlink(fifo_path);
}

/* ---- pause and sigsuspend ----------------------------------------------------------- */

static volatile pthread_t handled_in;
static volatile int handled;

static void on_usr(int sig)
{
	(void)sig;
	handled_in = pthread_self();
	handled++;
}

struct poke {
	pthread_t target;
	int sig;
	long after_ms;
	bool process;
	const int *woken; /* if not NULL: the target is sent it again until this is set */
};

static void *poke(void *arg)
{
	const struct poke *p = arg;

	msleep(p->after_ms);
	if (p->process)
		kill(getpid(), p->sig);
	else
		pthread_kill(p->target, p->sig);
	if (p->woken)
		signal_until_woken(p->target, p->sig, p->woken);
	return NULL;
}

static void case_pause_thread(void)
{
	struct sigaction sa = { .sa_handler = on_usr, .sa_flags = SA_RESTART };
	int woken = 0;
	struct poke pk = { pthread_self(), SIGUSR1, 50, false, &woken };

	sigaction(SIGUSR1, &sa, NULL);
	handled = 0;
	ticker_start();
	pthread_t t = start(poke, &pk);
	errno = 0;
	int r = pause();
	int e = errno;
	__atomic_store_n(&woken, 1, __ATOMIC_RELEASE);
	join(t);
	printf("pause: %d %s handled=%d in_me=%s ticked=%s\n", r, errname(e), handled,
	       yes(pthread_equal(handled_in, pthread_self())), ticker_stop());
	signal(SIGUSR1, SIG_DFL);
}

/*
 * SIGUSR2 is blocked in every thread from the start (main): a signal sent to the process
 * can only go to the thread in sigsuspend.
 */
static void *suspender(void *arg)
{
	sigset_t none, now;
	(void)arg;

	sigemptyset(&none);
	errno = 0;
	int r = sigsuspend(&none);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	/* Under the shim a process signal's handler runs on the carrier's current stack
	 * (libgreenpatch(7), LIMITATIONS): where it ran goes to stderr only. */
	fprintf(stderr, "handler ran in the suspended thread: %s\n",
		yes(pthread_equal(handled_in, pthread_self())));
	printf("sigsuspend: %d %s handled=%d mask_restored=%s\n", r, errname(e), handled,
	       yes(sigismember(&now, SIGUSR2)));
	return NULL;
}

static void case_sigsuspend_process_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr };
	struct poke pk = { .sig = SIGUSR2, .after_ms = 50, .process = true };

	sigaction(SIGUSR2, &sa, NULL);
	handled = 0;
	ticker_start();
	pthread_t s = start(suspender, NULL);
	pthread_t p = start(poke, &pk);
	join(p);
	join(s);
	printf("ticked=%s\n", ticker_stop());
	signal(SIGUSR2, SIG_DFL);
}

/*
 * X/Open's sigpause (glibc's __xpg_sigpause with _GNU_SOURCE) takes SIGUSR1 out of the
 * thread's mask and waits: a pthread_kill ends it with EINTR once the handler ran, and
 * the mask comes back. glibc makes it on its own sigsuspend, where no hook sees it.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"   /* sigpause is, still used */
static void case_sigpause_thread(void)
{
	struct sigaction sa = { .sa_handler = on_usr };
	struct poke pk = { pthread_self(), SIGUSR1, 50, false, NULL };
	sigset_t usr1, now;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	handled = 0;
	ticker_start();
	pthread_t t = start(poke, &pk);
	errno = 0;
	int r = sigpause(SIGUSR1);
	int e = errno;
	join(t);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	printf("sigpause: %d %s handled=%d mask_restored=%s ticked=%s\n", r, errname(e),
	       handled, yes(sigismember(&now, SIGUSR1)), ticker_stop());
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	signal(SIGUSR1, SIG_DFL);
	errno = 0;
	r = sigpause(0);
	printf("sigpause of no signal: %d %s\n", r, errname(errno));
}
#pragma GCC diagnostic pop

/* A full pipe waits for its reader; the pages given to the pipe arrive whole. */
static void *drain_later(void *arg)
{
	int fd = *(int *)arg;
	static char buf[1 << 16];
	long total = 0;
	ssize_t n;

	msleep(50);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	return (void *)total;
}

static void case_vmsplice_full_pipe(void)
{
	int p[2];
	static char page[1 << 16];
	long given = 0;

	make_pipe(p, 0);
	memset(page, 'v', sizeof(page));
	ticker_start();
	pthread_t t = start(drain_later, &p[0]);
	for (int i = 0; i < 16; i++) {
		struct iovec iov = { page, sizeof(page) };
		ssize_t n = vmsplice(p[1], &iov, 1, 0);
		if (n < 0)
			die("vmsplice");
		given += n;
	}
	close(p[1]);
	long read_back = (long)join(t);
	close(p[0]);
	printf("vmsplice: gave %ld, read %ld, ticked=%s\n", given, read_back, ticker_stop());
}

/* getaddrinfo_a with GAI_WAIT, for names the hosts file answers. */
static void case_getaddrinfo_a_wait(void)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct gaicb a = { .ar_name = "localhost", .ar_request = &hints };
	struct gaicb b = { .ar_name = "127.0.0.1", .ar_service = "80", .ar_request = &hints };
	struct gaicb *list[] = { &a, &b };

	ticker_start();
	int rc = getaddrinfo_a(GAI_WAIT, list, 2, NULL);
	printf("getaddrinfo_a: %d, first %d, second %d port %d\n", rc, gai_error(&a),
	       gai_error(&b),
	       b.ar_result ? ntohs(((struct sockaddr_in *)b.ar_result->ai_addr)->sin_port) : -1);
	const struct gaicb *wait_for[] = { &a };
	printf("gai_suspend when done: %d\n", gai_suspend(wait_for, 1, NULL));
	ticker_stop();
	freeaddrinfo(a.ar_result);
	freeaddrinfo(b.ar_result);
}

enum masked_call { MASKED_PPOLL, MASKED_PSELECT, MASKED_EPOLL_PWAIT };

struct masked {
	enum masked_call call;
	int fd;
	int ret, err;
};

/* Waits on fd with SIGUSR2 (blocked everywhere else) let in for the wait only. */
static void *wait_masked(void *arg)
{
	struct masked *m = arg;
	sigset_t none;
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	fd_set rd;
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int ep;

	sigemptyset(&none);
	errno = 0;
	switch (m->call) {
	case MASKED_PPOLL:
		m->ret = ppoll(&p, 1, NULL, &none);
		break;
	case MASKED_PSELECT:
		FD_ZERO(&rd);
		FD_SET(m->fd, &rd);
		m->ret = pselect(m->fd + 1, &rd, NULL, NULL, NULL, &none);
		break;
	case MASKED_EPOLL_PWAIT:
		ep = epoll_create1(EPOLL_CLOEXEC);
		epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &ev);
		m->ret = epoll_pwait(ep, &out, 1, -1, &none);
		m->err = errno;
		close(ep);
		errno = m->err;
		break;
	}
	m->err = errno;
	return NULL;
}

static void masked_wait(enum masked_call call, const char *name)
{
	struct sigaction sa = { .sa_handler = on_usr, .sa_flags = SA_RESTART };
	struct poke pk = { .sig = SIGUSR2, .after_ms = 50, .process = true };
	struct masked m = { .call = call };
	sigset_t now;
	int p[2];

	make_pipe(p, O_CLOEXEC);
	m.fd = p[0];
	sigaction(SIGUSR2, &sa, NULL);
	handled = 0;
	ticker_start();
	pthread_t w = start(wait_masked, &m);
	pthread_t k = start(poke, &pk);
	join(k);
	join(w);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	printf("%s with mask: %d %s handled=%d still_blocked_here=%s ticked=%s\n", name, m.ret,
	       errname(m.err), handled, yes(sigismember(&now, SIGUSR2)), ticker_stop());
	signal(SIGUSR2, SIG_DFL);
	close2(p);
}

/* A signal the call's mask lets in interrupts it, even with SA_RESTART, as natively. */
static void case_masked_waits(void)
{
	masked_wait(MASKED_PPOLL, "ppoll");
	masked_wait(MASKED_PSELECT, "pselect");
	masked_wait(MASKED_EPOLL_PWAIT, "epoll_pwait");
}

/* A signal already pending on the thread, which the new mask lets in: no wait at all. */
static void case_sigsuspend_pending(void)
{
	struct sigaction sa = { .sa_handler = on_usr };
	sigset_t usr1, old, none;

	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	handled = 0;
	pthread_kill(pthread_self(), SIGUSR1);
	printf("pending, handled=%d\n", handled);
	sigemptyset(&none);
	int r = sigsuspend(&none);
	printf("sigsuspend: %d %s handled=%d\n", r, errname(errno), handled);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- eventfd, timerfd, signalfd ------------------------------------------------------- */

struct counter_read {
	int fd;
	ssize_t n;
	uint64_t value;
};

static void *read_counter(void *arg)
{
	struct counter_read *c = arg;

	c->n = read(c->fd, &c->value, sizeof(c->value));
	return NULL;
}

static void case_event_descriptors(void)
{
	struct counter_read ev = { .fd = eventfd(0, EFD_CLOEXEC) };
	struct counter_read tm = { .fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) };
	struct itimerspec its = { .it_value = { 0, 60 * 1000000L } };
	sigset_t usr2;
	struct signalfd_siginfo si = { 0 };
	struct poke pk = { .sig = SIGUSR2, .after_ms = 40, .process = true };

	ticker_start();
	pthread_t a = start(read_counter, &ev);
	pthread_t b = start(read_counter, &tm);
	timerfd_settime(tm.fd, 0, &its, NULL);
	msleep(30);
	uint64_t one = 5;
	if (write(ev.fd, &one, sizeof(one)) != sizeof(one))
		die("write eventfd");
	join(a);
	join(b);
	printf("eventfd read %zd value %llu; timerfd read %zd expirations %llu\n", ev.n,
	       (unsigned long long)ev.value, tm.n, (unsigned long long)tm.value);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);   /* blocked in every thread since main */
	int sfd = signalfd(-1, &usr2, SFD_CLOEXEC);
	pthread_t p = start(poke, &pk);
	ssize_t n = read(sfd, &si, sizeof(si));
	join(p);
	printf("signalfd read %zd signal %s ticked=%s\n", n, si.ssi_signo == SIGUSR2 ? "SIGUSR2" : "other",
	       ticker_stop());
	close(ev.fd);
	close(tm.fd);
	close(sfd);
}

/* ---- fork --------------------------------------------------------------------------- */

static int child_pipe[2];

static void *child_thread(void *arg)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "child thread %d\n", (int)(long)arg);

	msleep(10 * (3 - (long)arg));
	if (write(child_pipe[1], line, (size_t)n) != n)
		die("write");
	return NULL;
}

static void case_fork_child_threads(void)
{
	make_pipe(child_pipe, O_CLOEXEC);
	ticker_start();   /* a thread the child does not get */
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(child_pipe[0]);
		pthread_t t[3];
		for (long i = 0; i < 3; i++)
			t[i] = start(child_thread, (void *)i);
		for (int i = 0; i < 3; i++)
			join(t[i]);
		_exit(7);
	}
	close(child_pipe[1]);
	static char out[256];
	ssize_t n, len = 0;
	while ((n = read(child_pipe[0], out + len, sizeof(out) - 1 - (size_t)len)) > 0)
		len += n;
	int st = 0;
	pid_t w = waitpid(pid, &st, 0);
	/* The child's threads finish in any order: count their lines and which wrote. */
	int lines = 0, seen = 0;
	for (char *l = strstr(out, "child thread "); l; l = strstr(l + 1, "child thread ")) {
		lines++;
		seen |= 1 << (l[13] - '0');
	}
	printf("fork: waited=%s status=%d ticked=%s child threads wrote %d lines, all=%s\n",
	       yes(w == pid), WEXITSTATUS(st), ticker_stop(), lines, yes(seen == 7));
	close(child_pipe[0]);
}

/* ---- close while another thread reads ----------------------------------------------- */

struct reader {
	int fd;
	int about_to_read; /* set just before the read, so that the closer waits less by chance */
	ssize_t ret;
	int err;
};

static void *read_one(void *arg)
{
	struct reader *r = arg;
	char c;

	__atomic_store_n(&r->about_to_read, 1, __ATOMIC_RELEASE);
	r->ret = read(r->fd, &c, 1);
	r->err = errno;
	return NULL;
}

/*
 * Natively the reader keeps its file until the peer writes; under the shim it is woken
 * with EBADF at once. Either way the new socket that takes the number works, and the
 * reader ends: that is what is printed; stderr says which ending it was.
 *
 * The reader must be in its read before the close. A reader the machine has not run yet
 * would read the new socket that took the number, and take the byte meant for this thread:
 * so this thread waits until the reader is about to read, then 30 ms more, and gives up its
 * own read after 2 s rather than wait for ever if the machine was that slow even so.
 */
static void case_close_wakes_reader(void)
{
	int a[2], b[2];
	struct reader r = { 0 };

	socket_pair(a);
	r.fd = a[0];
	pthread_t t = start(read_one, &r);
	while (!__atomic_load_n(&r.about_to_read, __ATOMIC_ACQUIRE))
		msleep(1);
	msleep(30);
	int peer = a[1];
	close(a[0]);
	socket_pair(b);   /* takes a[0]'s number */
	bool same_number = b[0] == a[0] || b[1] == a[0];
	if (write(b[1], "n", 1) != 1)
		die("write");
	char c = 0;
	struct pollfd readable = { .fd = b[0], .events = POLLIN };
	ssize_t n = poll(&readable, 1, 2000) == 1 ? read(b[0], &c, 1) : -2;
	msleep(30);
	send(peer, "x", 1, MSG_NOSIGNAL);   /* natively, this is what ends the reader */
	join(t);
	fprintf(stderr, "reader ended with %zd %s\n", r.ret, errname(r.ret < 0 ? r.err : 0));
	printf("close: number reused=%s new socket read %zd [%c] reader ended=%s\n",
	       yes(same_number), n, c, yes(r.ret == 1 || (r.ret < 0 && r.err == EBADF)));
	close(peer);
	close(b[0]);
	close(b[1]);
}

/* ---- epoll loops on several threads ------------------------------------------------- */

#define LOOPS 3
#define PIPES_PER_LOOP 4
#define ROUNDS 20

struct loop {
	int ep;
	int pipes[PIPES_PER_LOOP][2];
	int received;
};

static void *run_loop(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[PIPES_PER_LOOP];

	while (l->received < PIPES_PER_LOOP * ROUNDS) {
		int n = epoll_wait(l->ep, ev, PIPES_PER_LOOP, 5000);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			char buf[64];
			ssize_t r = read(l->pipes[ev[i].data.u32][0], buf, sizeof(buf));
			l->received += r > 0 ? (int)r : 0;
		}
	}
	return NULL;
}

/* Also an epoll descriptor inside another one: the outer wakes when the inner has events. */
static void case_epoll_threads(void)
{
	struct loop loops[LOOPS];
	pthread_t t[LOOPS];

	for (int i = 0; i < LOOPS; i++) {
		loops[i].ep = epoll_create1(EPOLL_CLOEXEC);
		loops[i].received = 0;
		for (uint32_t j = 0; j < PIPES_PER_LOOP; j++) {
			make_pipe(loops[i].pipes[j], O_CLOEXEC);
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = j };
			epoll_ctl(loops[i].ep, EPOLL_CTL_ADD, loops[i].pipes[j][0], &ev);
		}
	}
	int outer = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event oev = { .events = EPOLLIN, .data.u32 = 99 }, got = { 0 };
	epoll_ctl(outer, EPOLL_CTL_ADD, loops[0].ep, &oev);
	ticker_start();
	for (int i = 0; i < LOOPS; i++)
		t[i] = start(run_loop, &loops[i]);
	msleep(20);
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < LOOPS * PIPES_PER_LOOP; k++) {
			int i = (k * 7 + round) % LOOPS, j = (k * 5 + round) % PIPES_PER_LOOP;
			if (write(loops[i].pipes[j][1], "x", 1) != 1)
				die("write");
		}
		msleep(2);
	}
	for (int i = 0; i < LOOPS; i++)
		join(t[i]);
	if (write(loops[0].pipes[0][1], "y", 1) != 1)
		die("write");
	int n = epoll_wait(outer, &got, 1, 5000);
	printf("epoll loops:");
	for (int i = 0; i < LOOPS; i++)
		printf(" %d", loops[i].received);
	printf(" nested=%d data=%u ticked=%s\n", n, got.data.u32, ticker_stop());
	for (int i = 0; i < LOOPS; i++) {
		for (int j = 0; j < PIPES_PER_LOOP; j++)
			close2(loops[i].pipes[j]);
		close(loops[i].ep);
	}
	close(outer);
}

/* ---- urgent data ------------------------------------------------------------------- */

static int tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) != 0)
		die("listener");
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(*client, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("connect");
	*server = accept(l, NULL, NULL);
	close(l);
	return *server < 0 ? -1 : 0;
}

struct urgent {
	int fd;
	int ret;
	short revents;
};

static void *poll_urgent(void *arg)
{
	struct urgent *u = arg;
	struct pollfd p = { .fd = u->fd, .events = POLLPRI };

	u->ret = poll(&p, 1, 5000);
	u->revents = p.revents;
	return NULL;
}

/* Ordinary data first (the socket is readable all along), urgent data later. */
static void case_poll_urgent_only(void)
{
	int c, s;
	struct urgent u = { 0 };

	if (tcp_pair(&c, &s) != 0)
		die("tcp pair");
	u.fd = s;
	if (write(c, "plain", 5) != 5)
		die("write");
	pthread_t t = start(poll_urgent, &u);
	msleep(50);
	if (send(c, "!", 1, MSG_OOB) != 1)
		die("send MSG_OOB");
	join(t);
	printf("poll POLLPRI: %d pri=%s in=%s\n", u.ret, yes(u.revents & POLLPRI),
	       yes(u.revents & POLLIN));
	close(c);
	close(s);
}

/* ---- a loop whose descriptor is always ready ------------------------------------------ */

static volatile int stop_spinning;

static void *stop_after_a_while(void *arg)
{
	(void)arg;
	msleep(30);
	stop_spinning = 1;
	return NULL;
}

/*
 * An event loop waiting for a socket to be writable gets an answer at once, every time:
 * it never waits, and the thread that tells it to stop must still get to run.
 */
static void case_epoll_always_ready(void)
{
	int sv[2];
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	long rounds = 0;

	socket_pair(sv);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
	stop_spinning = 0;
	pthread_t t = start(stop_after_a_while, NULL);
	while (!stop_spinning && epoll_wait(ep, &out, 1, 1000) == 1)
		rounds++;
	join(t);
	printf("always-ready loop stopped by another thread: %s\n", yes(stop_spinning && rounds > 0));
	close(ep);
	close(sv[0]);
	close(sv[1]);
}

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(file_read_cold),
	CASE(file_read_partly_cached),
	CASE(file_positional),
	CASE(positional_errors),
	CASE(abi_variants),
	CASE(sendfile_socket),
	CASE(splice_pipes),
	CASE(mmsg_udp),
	CASE(resolver_queries),
	CASE(fifo_open),
	CASE(pause_thread),
	CASE(sigsuspend_process_signal),
	CASE(sigpause_thread),
	CASE(vmsplice_full_pipe),
	CASE(getaddrinfo_a_wait),
	CASE(sigsuspend_pending),
	CASE(masked_waits),
	CASE(event_descriptors),
	CASE(fork_child_threads),
	CASE(close_wakes_reader),
	CASE(epoll_threads),
	CASE(poll_urgent_only),
	CASE(epoll_always_ready),
};

int main(int argc, char **argv)
{
	sigset_t usr2;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, NULL);   /* see case_sigsuspend_process_signal */
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]),
			 run_case_in_thread);
}

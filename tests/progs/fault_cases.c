/*
 * fault_cases [--list | CASE...]
 *
 * Faults a threaded program meets, one case each, with what it prints the same natively
 * and under the library: verdicts about properties (a call never failed with EINTR,
 * every thread ran, memory came back), never counts that depend on timing.
 *
 *   nofile_accept          RLIMIT_NOFILE lowered: accept fails with EMFILE, the server
 *                          lets its connections go and serves every client
 *   create_eagain          RLIMIT_AS lowered: pthread_create fails with EAGAIN once no
 *                          stack can be mapped, nothing crashes, and works again later
 *   storm_*                signals while threads read and write pipes, sockets (with
 *                          and without timeouts) and a terminal, accept, sleep, poll,
 *                          and wait on semaphores, mutexes, condition variables and
 *                          joins: an interval timer every millisecond (process-directed
 *                          SIGALRM) or pthread_kill to each waiter, with and without
 *                          SA_RESTART: EINTR exactly where Linux gives it, nothing lost
 *   fork_exec_storm        many threads fork and exec at once while others work
 *   thread_waves           threads created and joined in waves of 1,000, memory back to
 *                          where it was after the first waves (FAULT_CASES_THREADS sets
 *                          how many in all: 30,000 by default, 1,000,000 for the full run)
 *   close_storm            descriptors closed while other threads wait in them, their
 *                          numbers reused at once: no waiter sees the new file's data
 *
 * A child that fork_exec_storm runs is this program again: fault_cases --child TOKEN
 * CODE prints TOKEN and exits with CODE.
 */
#define PROG "fault_cases"
#include "progs.h"

#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* A listening TCP socket on 127.0.0.1 at a port the kernel picks, whose address is *addr. */
static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	*addr = (struct sockaddr_in){ .sin_family = AF_INET };
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0)
		die("bind");
	if (listen(fd, SOMAXCONN) != 0)
		die("listen");
	if (getsockname(fd, (struct sockaddr *)addr, &len) != 0)
		die("getsockname");
	return fd;
}

static int connect_loopback(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0)
		die("connect");
	return fd;
}

static void socket_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair");
}

/* The number the next descriptor would get. */
static int lowest_free_fd(void)
{
	int fd = fcntl(2, F_DUPFD, 0);

	if (fd < 0)
		die("F_DUPFD");
	close(fd);
	return fd;
}

/* A field of /proc/self/statm, in bytes: 0 is the size of the address space, 1 the RSS. */
static size_t statm_bytes(int field)
{
	long v[2] = { 0, 0 };
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &v[0], &v[1]) != 2)
		die("/proc/self/statm");
	fclose(f);
	return (size_t)v[field] * (size_t)sysconf(_SC_PAGESIZE);
}

static void set_limit(int resource, rlim_t soft)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) != 0)
		die("getrlimit");
	rl.rlim_cur = soft;
	if (setrlimit(resource, &rl) != 0)
		die("setrlimit");
}

static rlim_t soft_limit(int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) != 0)
		die("getrlimit");
	return rl.rlim_cur;
}

/* ---- nofile_accept ------------------------------------------------------------------- */

/*
 * A thread-per-connection server under a low RLIMIT_NOFILE: each connection's thread
 * answers it and keeps it open until the server lets it go. When accept fails with
 * EMFILE, the server lets every connection go, waits for their threads to close them,
 * and accepts again. The clients all connect first and wait in the listener's backlog.
 */
enum { NOFILE_CLIENTS = 64, NOFILE_SPARE = 6 };

struct nofile_server {
	int listener;
	pthread_mutex_t lock;
	pthread_cond_t let_go;
	int generation;   /* connections of older generations close */
	pthread_t held[NOFILE_CLIENTS];
	int nheld;
	int served;
	bool saw_emfile, served_after_emfile, stuck;
	int other_errno;
};

struct nofile_conn {
	struct nofile_server *s;
	int fd;
	int generation;	/* read when it was accepted: it ends once the server's moves on */
};

static void *nofile_conn_main(void *arg)
{
	struct nofile_conn *c = arg;
	struct nofile_server *s = c->s;

	if (write(c->fd, "ok\n", 3) != 3)
		die("write");
	pthread_mutex_lock(&s->lock);
	while (s->generation == c->generation)
		pthread_cond_wait(&s->let_go, &s->lock);
	pthread_mutex_unlock(&s->lock);
	close(c->fd);
	free(c);
	return NULL;
}

/* Lets every connection go, and waits until their descriptors are closed. */
static void nofile_let_go(struct nofile_server *s)
{
	pthread_mutex_lock(&s->lock);
	s->generation++;
	pthread_cond_broadcast(&s->let_go);
	pthread_mutex_unlock(&s->lock);
	while (s->nheld > 0)
		join(s->held[--s->nheld]);
}

static void *nofile_serve(void *arg)
{
	struct nofile_server *s = arg;
	int fruitless = 0;

	while (s->served < NOFILE_CLIENTS) {
		int fd = accept(s->listener, NULL, NULL);

		if (fd >= 0) {
			struct nofile_conn *c = malloc(sizeof(*c));

			pthread_mutex_lock(&s->lock);
			*c = (struct nofile_conn){ s, fd, s->generation };
			pthread_mutex_unlock(&s->lock);
			s->held[s->nheld++] = start(nofile_conn_main, c);
			s->served++;
			s->served_after_emfile |= s->saw_emfile;
			fruitless = 0;
			continue;
		}
		if (errno != EMFILE) {
			s->other_errno = errno;
			break;
		}
		s->saw_emfile = true;
		/* Nothing of its own to let go, again and again: it could never go on. */
		if (s->nheld == 0 && ++fruitless > 3) {
			s->stuck = true;
			break;
		}
		nofile_let_go(s);
	}
	nofile_let_go(s);
	return NULL;
}

static void case_nofile_accept(void)
{
	struct nofile_server s = { .lock = PTHREAD_MUTEX_INITIALIZER,
				   .let_go = PTHREAD_COND_INITIALIZER };
	struct sockaddr_in addr;
	int clients[NOFILE_CLIENTS], answered = 0;
	rlim_t old = soft_limit(RLIMIT_NOFILE);

	s.listener = listen_loopback(&addr);
	for (int i = 0; i < NOFILE_CLIENTS; i++)
		clients[i] = connect_loopback(&addr);
	set_limit(RLIMIT_NOFILE, (rlim_t)(lowest_free_fd() + NOFILE_SPARE));
	join(start(nofile_serve, &s));
	set_limit(RLIMIT_NOFILE, old);
	for (int i = 0; i < NOFILE_CLIENTS; i++) {
		char reply[4] = "";

		answered += read(clients[i], reply, 3) == 3 && strcmp(reply, "ok\n") == 0;
		close(clients[i]);
	}
	close(s.listener);
	printf("descriptors running out: accept failed with EMFILE=%s, accepted again once "
	       "the server let its connections go=%s, stuck=%s, other error=%s, clients "
	       "answered %d of %d\n",
	       yes(s.saw_emfile), yes(s.served_after_emfile), yes(s.stuck),
	       errname(s.other_errno), answered, NOFILE_CLIENTS);
}

/* ---- create_eagain ------------------------------------------------------------------- */

/*
 * With RLIMIT_AS at what the process maps now plus a budget, threads are created until
 * one cannot be mapped: pthread_create fails with EAGAIN, as it does natively once mmap
 * fails. Those made all run and are joined; once they are gone their stacks are free
 * again and a new thread can be made. A thread asking for a stack larger than the whole
 * budget fails at once. With the default stack (8 MiB) the budget holds a few dozen;
 * with 64 KiB stacks, stacks must fill most of it before creation fails, as glibc's do
 * (a stack, its guard page and its thread's TLS: 3/4 of the budget is a floor far below
 * what glibc reaches). Nothing is printed while the limit holds: stdio's buffer might
 * not be had.
 */
#define AS_BUDGET ((size_t)100 << 20)
#define SMALL_STACK ((size_t)64 << 10)
enum { CREATE_MAX = 4096 };

struct budget_fill {
	int made, err, joined, err_again;
};

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_release = PTHREAD_COND_INITIALIZER;
static bool held_released;

static void *held_main(void *arg)
{
	pthread_mutex_lock(&held_lock);
	while (!held_released)
		pthread_cond_wait(&held_release, &held_lock);
	pthread_mutex_unlock(&held_lock);
	return arg;
}

static void release_held(bool released)
{
	pthread_mutex_lock(&held_lock);
	held_released = released;
	pthread_cond_broadcast(&held_release);
	pthread_mutex_unlock(&held_lock);
}

/* A thread with a stack of stack bytes (0: the default), waiting to be released. */
static int create_held(pthread_t *t, size_t stack, long arg)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	if (stack)
		pthread_attr_setstacksize(&attr, stack);
	int err = pthread_create(t, &attr, held_main, (void *)arg);
	pthread_attr_destroy(&attr);
	return err;
}

/*
 * Under the budget, threads with stacks of stack bytes until creation fails; then
 * they are released and joined, and one more is made, without the limit holding still.
 */
static struct budget_fill fill_budget(size_t stack)
{
	static pthread_t t[CREATE_MAX];
	struct budget_fill f = { 0 };
	rlim_t old = soft_limit(RLIMIT_AS);
	pthread_t again;

	release_held(false);
	set_limit(RLIMIT_AS, (rlim_t)(statm_bytes(0) + AS_BUDGET));
	while (f.made < CREATE_MAX && (f.err = create_held(&t[f.made], stack, f.made)) == 0)
		f.made++;
	release_held(true);
	for (int i = 0; i < f.made; i++)
		f.joined += join(t[i]) == (void *)(long)i;
	f.err_again = create_held(&again, stack, 0);
	if (f.err_again == 0)
		join(again);
	set_limit(RLIMIT_AS, old);
	return f;
}

/* How pthread_create fails for a thread whose stack is larger than the budget. */
static int create_too_large(void)
{
	rlim_t old = soft_limit(RLIMIT_AS);
	pthread_t t;
	int err;

	release_held(true);
	set_limit(RLIMIT_AS, (rlim_t)(statm_bytes(0) + AS_BUDGET));
	err = create_held(&t, 2 * AS_BUDGET, 0);
	set_limit(RLIMIT_AS, old);
	if (err == 0)
		join(t);
	return err;
}

static void print_fill(const char *stacks, const struct budget_fill *f)
{
	printf("address space running out, %s stacks: pthread_create failed with %s after it "
	       "made some=%s, every thread made ran and was joined=%s, once they ended a new "
	       "one: %s\n",
	       stacks, errname(f->err), yes(f->made > 0), yes(f->joined == f->made),
	       errname(f->err_again));
}

static void case_create_eagain(void)
{
	struct budget_fill dflt = fill_budget(0), small = fill_budget(SMALL_STACK);
	int err_large = create_too_large();

	fprintf(stderr, "threads made before pthread_create failed: %d with the default "
		"stack, %d with 64 KiB\n", dflt.made, small.made);
	print_fill("default", &dflt);
	print_fill("64 KiB", &small);
	printf("  64 KiB stacks filled 3/4 of the budget before it failed=%s, a stack larger "
	       "than the budget: %s\n",
	       yes((size_t)small.made * SMALL_STACK >= AS_BUDGET / 4 * 3), errname(err_large));
}

/* ---- storm_* ------------------------------------------------------------------------- */

/*
 * Waiters, each in a loop of one blocking call, while signals rain on them for
 * STORM_MS: SIGALRM from an interval timer every millisecond, sent to the process (the
 * kernel picks a thread that does not block it: only the waiters leave it unblocked),
 * or SIGUSR1 sent with pthread_kill to each waiter in turn every millisecond. Each
 * waiter has a feeder that gives it what it waits for now and then during the storm,
 * and a last time once the storm is over: a waiter that missed a wake-up would wait for
 * ever, and the run would time out.
 *
 * What must hold (signal(7)): under SA_RESTART, reads, writes, recv and accept on a
 * socket without a timeout go on waiting and never fail with EINTR; without it they
 * fail with EINTR. poll, select, epoll_wait, nanosleep and recv on a socket with
 * SO_RCVTIMEO fail with EINTR either way; sem_wait is restarted under SA_RESTART.
 * pthread_mutex_lock, pthread_cond_wait and pthread_join never fail with EINTR. No call
 * fails otherwise, and everything each feeder gave arrives, in order.
 *
 * pthread_kill interrupts every waiter hundreds of times while it waits, so a call that
 * may fail with EINTR does: the storm says whether each did. On a loaded machine every
 * signal may find a waiter just woken with what it waited for (its call then completes),
 * so the storm goes on until each waiter that may see EINTR has, STORM_MAX_MS at most: a
 * call restarted where it must not be still shows, as "no". Which thread the timer's
 * signals interrupt is the kernel's choice (it keeps giving them to the same one while it
 * takes them), so that storm says only where EINTR must not be seen.
 */
enum { STORM_MS = 300, STORM_MAX_MS = 10000 };

enum storm_source { BY_TIMER, BY_KILL };

static struct {
	enum storm_source source;
	bool restart;
	int sig;
} storm;

static atomic_bool storm_over;
static atomic_long storm_handled;

static void storm_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&storm_handled, 1);
}

/* How a call behaves when a handler interrupts it (signal(7)). */
enum eintr_rule {
	EINTR_UNLESS_RESTART,	/* restarted under SA_RESTART, else EINTR */
	EINTR_ALWAYS,		/* EINTR, SA_RESTART or not */
	EINTR_NEVER,		/* goes on waiting */
};

struct waiter {
	const struct waiter_kind *kind;
	pthread_t thread, feeder;
	int fds[2];
	int ep;
	struct sockaddr_in addr;
	sem_t sem;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int eintr;	/* looked at by the storm while the waiter runs */
	int failures, first_errno;
	atomic_long sent;	/* what the feeder gave: bytes, connections, posts, items */
	atomic_bool done;	/* the feeder gave its last */
	long got;		/* what the waiter took */
	bool in_order;
	void *joined;		/* what pthread_join gave back */
};

struct waiter_kind {
	const char *call;
	enum eintr_rule rule;
	void (*setup)(struct waiter *);
	void *(*wait)(void *);
	void *(*feed)(void *);
	bool (*all_came)(const struct waiter *);
	bool timed;	/* the call's timed form */
};

static bool storm_is_over(void)
{
	return atomic_load(&storm_over);
}

/* Counts a failed call; true if it was EINTR and the waiter should go on. */
static bool note_failure(struct waiter *w, int err)
{
	if (err == EINTR) {
		atomic_fetch_add(&w->eintr, 1);
		return true;
	}
	if (w->failures++ == 0)
		w->first_errno = err;
	return false;
}

/* A deadline for the timed calls, never reached here. */
static struct timespec far_deadline(void)
{
	return clock_after(CLOCK_REALTIME, 30000);
}

static void waiter_begin(void)
{
	block_signal(storm.sig, SIG_UNBLOCK);
}

/* Byte n of a feeder's stream. */
static unsigned char stream_byte(long n)
{
	return (unsigned char)(n % 251);
}

static void take_bytes(struct waiter *w, const unsigned char *b, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		w->in_order &= b[i] == stream_byte(w->got++);
}

static bool all_bytes_came(const struct waiter *w)
{
	return w->in_order && w->got == atomic_load(&w->sent);
}

static bool all_counted_came(const struct waiter *w)
{
	return w->got == atomic_load(&w->sent);
}

static bool no_failure(const struct waiter *w)
{
	return w->got > 0 && w->failures == 0;
}

/* -- byte streams: read, recv, and the readiness calls ------------------------------- */

static void setup_pipe(struct waiter *w)
{
	make_pipe(w->fds, O_CLOEXEC);
}

static void setup_socket(struct waiter *w)
{
	socket_pair(w->fds);
}

/* A timeout (which never expires here) makes a socket call fail with EINTR, SA_RESTART or not. */
static void set_socket_timeout(int fd, int option)
{
	struct timeval tv = { 30, 0 };

	if (setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv)) != 0)
		die("setsockopt");
}

static void setup_socket_timeout(struct waiter *w)
{
	socket_pair(w->fds);
	set_socket_timeout(w->fds[0], SO_RCVTIMEO);
}

/* The writer writes into fds[1]: its timeout is on that end. */
static void setup_socket_send_timeout(struct waiter *w)
{
	socket_pair(w->fds);
	set_socket_timeout(w->fds[1], SO_SNDTIMEO);
}

static void setup_epoll(struct waiter *w)
{
	struct epoll_event ev = { .events = EPOLLIN };

	make_pipe(w->fds, O_CLOEXEC);
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->fds[0], &ev) != 0)
		die("epoll");
}

/*
 * A terminal: the waiter reads the slave side of a pseudo-terminal in raw mode. Its
 * stream ends with END_BYTE, not with a close: the master's close hangs the slave up,
 * which may throw away what it has not read yet.
 */
enum { END_BYTE = 0xff };

static void setup_terminal(struct waiter *w)
{
	struct termios t;

	w->fds[1] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (w->fds[1] < 0 || grantpt(w->fds[1]) != 0 || unlockpt(w->fds[1]) != 0)
		die("posix_openpt");
	w->fds[0] = open(ptsname(w->fds[1]), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (w->fds[0] < 0 || tcgetattr(w->fds[0], &t) != 0)
		die("pseudo-terminal");
	cfmakeraw(&t);
	if (tcsetattr(w->fds[0], TCSANOW, &t) != 0)
		die("tcsetattr");
}

/* One byte every 3 ms while the storm lasts. */
static void feed_stream(struct waiter *w)
{
	long n = 0;

	while (!storm_is_over()) {
		unsigned char b = stream_byte(n);

		if (write(w->fds[1], &b, 1) != 1)
			die("write");
		n++;
		msleep(3);
	}
	atomic_store(&w->sent, n);
}

/* The stream, then its end: the descriptor closed. */
static void *feed_bytes(void *arg)
{
	struct waiter *w = arg;

	feed_stream(w);
	close(w->fds[1]);
	w->fds[1] = -1;
	return NULL;
}

static void *feed_terminal(void *arg)
{
	struct waiter *w = arg;
	unsigned char end = END_BYTE;

	feed_stream(w);
	if (write(w->fds[1], &end, 1) != 1)
		die("write");
	return NULL;
}

/* Reads what is there, after a readiness call said so: false at the end. */
static bool take_ready_bytes(struct waiter *w)
{
	unsigned char b[64];
	ssize_t n = read(w->fds[0], b, sizeof(b));

	if (n > 0)
		take_bytes(w, b, n);
	else if (n < 0)
		note_failure(w, errno);
	return n > 0;
}

/*
 * Reads the stream, with recv or read, to its end: end of file, or END_BYTE (which a
 * stream's own bytes never are), which is not counted.
 */
static void take_stream(struct waiter *w, bool by_recv)
{
	unsigned char b[64];

	waiter_begin();
	for (;;) {
		ssize_t n = by_recv ? recv(w->fds[0], b, sizeof(b), 0)
				    : read(w->fds[0], b, sizeof(b));
		bool end = n > 0 && b[n - 1] == END_BYTE;

		if (n > 0)
			take_bytes(w, b, end ? n - 1 : n);
		if (end || n == 0 || (n < 0 && !note_failure(w, errno)))
			break;
	}
}

static void *wait_read(void *arg)
{
	take_stream(arg, false);
	return NULL;
}

static void *wait_recv(void *arg)
{
	take_stream(arg, true);
	return NULL;
}

/* Takes the stream, each time after readable(w) said it can be read: -1 on a failure. */
static void take_when_ready(struct waiter *w, int (*readable)(struct waiter *))
{
	waiter_begin();
	for (;;) {
		if (readable(w) < 0) {
			if (!note_failure(w, errno))
				break;
		} else if (!take_ready_bytes(w)) {
			break;
		}
	}
}

static int poll_readable(struct waiter *w)
{
	struct pollfd p = { .fd = w->fds[0], .events = POLLIN };

	return poll(&p, 1, -1);
}

static int select_readable(struct waiter *w)
{
	fd_set r;

	FD_ZERO(&r);
	FD_SET(w->fds[0], &r);
	return select(w->fds[0] + 1, &r, NULL, NULL, NULL);
}

static int epoll_readable(struct waiter *w)
{
	struct epoll_event ev;

	return epoll_wait(w->ep, &ev, 1, -1);
}

static void *wait_poll(void *arg)
{
	take_when_ready(arg, poll_readable);
	return NULL;
}

static void *wait_select(void *arg)
{
	take_when_ready(arg, select_readable);
	return NULL;
}

static void *wait_epoll(void *arg)
{
	take_when_ready(arg, epoll_readable);
	return NULL;
}

/* -- write into a pipe drained slowly ------------------------------------------------ */

enum { WRITE_CHUNK = 65536 };

/* Writes the stream in chunks while the storm lasts; the pipe or socket is mostly full. */
static void *wait_write(void *arg)
{
	struct waiter *w = arg;
	unsigned char *chunk = malloc(WRITE_CHUNK);
	long off = 0;

	if (!chunk)
		die("malloc");
	waiter_begin();
	while (!storm_is_over()) {
		for (size_t i = 0; i < WRITE_CHUNK; i++)
			chunk[i] = stream_byte(off + (long)i);
		for (size_t done = 0; done < WRITE_CHUNK;) {
			ssize_t n = write(w->fds[1], chunk + done, WRITE_CHUNK - done);

			if (n > 0) {
				done += (size_t)n;
				atomic_fetch_add(&w->sent, n);
			} else if (!note_failure(w, errno)) {
				goto out;
			}
		}
		off += WRITE_CHUNK;
	}
out:
	close(w->fds[1]);
	w->fds[1] = -1;
	free(chunk);
	return NULL;
}

/* 4 KiB every 2 ms while the storm lasts, then everything. */
static void *feed_drain(void *arg)
{
	struct waiter *w = arg;
	unsigned char b[WRITE_CHUNK];
	ssize_t n;

	while (!storm_is_over()) {
		n = read(w->fds[0], b, 4096);
		if (n <= 0)
			break;
		take_bytes(w, b, n);
		msleep(2);
	}
	while ((n = read(w->fds[0], b, sizeof(b))) > 0)
		take_bytes(w, b, n);
	return NULL;
}

/* -- accept -------------------------------------------------------------------------- */

static void setup_listener(struct waiter *w)
{
	w->fds[0] = listen_loopback(&w->addr);
	w->fds[1] = -1;
}

static void setup_listener_timeout(struct waiter *w)
{
	setup_listener(w);
	set_socket_timeout(w->fds[0], SO_RCVTIMEO);
}

/* Counted before it connects, and the last one after done: got == sent is the end. */
static void connect_counted(struct waiter *w)
{
	close(connect_loopback(&w->addr));
}

static void *feed_connections(void *arg)
{
	struct waiter *w = arg;

	while (!storm_is_over()) {
		atomic_fetch_add(&w->sent, 1);
		connect_counted(w);
		msleep(5);
	}
	atomic_fetch_add(&w->sent, 1);
	atomic_store(&w->done, true);
	connect_counted(w);
	return NULL;
}

static void *wait_accept(void *arg)
{
	struct waiter *w = arg;

	waiter_begin();
	for (;;) {
		int fd = accept(w->fds[0], NULL, NULL);

		if (fd < 0) {
			if (!note_failure(w, errno))
				break;
			continue;
		}
		close(fd);
		w->got++;
		if (atomic_load(&w->done) && w->got == atomic_load(&w->sent))
			break;
	}
	return NULL;
}

/* -- nanosleep ----------------------------------------------------------------------- */

enum { NAP_MS = 20 };

static long elapsed_ns(struct timespec t0)
{
	struct timespec t = mono();

	return (t.tv_sec - t0.tv_sec) * NSEC_PER_SEC + (t.tv_nsec - t0.tv_nsec);
}

/*
 * Naps of NAP_MS, each resumed with the time left after EINTR: none may end early. At
 * least one, even if this thread first runs after the storm (a loaded machine).
 */
static void *wait_nanosleep(void *arg)
{
	struct waiter *w = arg;

	waiter_begin();
	w->in_order = true;
	do {
		struct timespec left = ts_ms(NAP_MS), t0 = mono();

		while (nanosleep(&left, &left) != 0)
			if (!note_failure(w, errno))
				return NULL;
		w->in_order &= elapsed_ns(t0) >= NAP_MS * 1000000L;
		w->got++;
	} while (!storm_is_over());
	return NULL;
}

static bool naps_were_whole(const struct waiter *w)
{
	return w->got > 0 && w->in_order;
}

/* -- sem_wait ------------------------------------------------------------------------ */

static void setup_sem(struct waiter *w)
{
	if (sem_init(&w->sem, 0, 0) != 0)
		die("sem_init");
}

static void *feed_posts(void *arg)
{
	struct waiter *w = arg;

	while (!storm_is_over()) {
		atomic_fetch_add(&w->sent, 1);
		sem_post(&w->sem);
		msleep(10);
	}
	atomic_fetch_add(&w->sent, 1);
	atomic_store(&w->done, true);
	sem_post(&w->sem);
	return NULL;
}

/* sem_wait, or sem_timedwait with a deadline that is never reached. */
static int sem_take(sem_t *sem, bool timed)
{
	struct timespec deadline = far_deadline();

	return timed ? sem_timedwait(sem, &deadline) : sem_wait(sem);
}

static void *wait_sem(void *arg)
{
	struct waiter *w = arg;

	waiter_begin();
	for (;;) {
		if (sem_take(&w->sem, w->kind->timed) != 0) {
			if (!note_failure(w, errno))
				break;
			continue;
		}
		w->got++;
		if (atomic_load(&w->done) && w->got == atomic_load(&w->sent))
			break;
	}
	return NULL;
}

/* -- mutex, condition variable, join ------------------------------------------------- */

static void setup_lock(struct waiter *w)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
}

/* Holds the mutex 3 ms of every 4 while the storm lasts. */
static void *feed_holder(void *arg)
{
	struct waiter *w = arg;

	while (!storm_is_over()) {
		pthread_mutex_lock(&w->lock);
		msleep(3);
		pthread_mutex_unlock(&w->lock);
		msleep(1);
	}
	return NULL;
}

static int mutex_take(pthread_mutex_t *m, bool timed)
{
	struct timespec deadline = far_deadline();

	return timed ? pthread_mutex_timedlock(m, &deadline) : pthread_mutex_lock(m);
}

/* Takes the mutex again and again, at least once. */
static void *wait_mutex(void *arg)
{
	struct waiter *w = arg;

	waiter_begin();
	do {
		int rc = mutex_take(&w->lock, w->kind->timed);

		if (rc != 0) {
			if (!note_failure(w, rc))
				break;
			continue;
		}
		w->got++;
		pthread_mutex_unlock(&w->lock);
		msleep(1);
	} while (!storm_is_over());
	return NULL;
}

/* An item every 2 ms while the storm lasts, then done. */
static void *feed_items(void *arg)
{
	struct waiter *w = arg;

	while (!storm_is_over()) {
		pthread_mutex_lock(&w->lock);
		atomic_fetch_add(&w->sent, 1);
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		msleep(2);
	}
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->done, true);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int cond_wait(struct waiter *w, bool timed)
{
	struct timespec deadline = far_deadline();

	return timed ? pthread_cond_timedwait(&w->cond, &w->lock, &deadline)
		     : pthread_cond_wait(&w->cond, &w->lock);
}

static void *wait_cond(void *arg)
{
	struct waiter *w = arg;

	waiter_begin();
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->got == atomic_load(&w->sent) && !atomic_load(&w->done)) {
			int rc = cond_wait(w, w->kind->timed);

			if (rc != 0 && !note_failure(w, rc))
				goto out;
		}
		if (w->got == atomic_load(&w->sent))
			break;
		w->got++;
	}
out:
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void setup_nothing(struct waiter *w)
{
	(void)w;
}

/* Ends once the storm is over; its waiter joins it. */
static void *feed_ending(void *arg)
{
	while (!storm_is_over())
		msleep(5);
	return arg;
}

static void *wait_join(void *arg)
{
	struct waiter *w = arg;
	int rc;

	waiter_begin();
	while ((rc = pthread_join(w->feeder, &w->joined)) != 0)
		if (!note_failure(w, rc))
			break;
	return NULL;
}

static bool join_gave_back(const struct waiter *w)
{
	return w->failures == 0 && w->joined == w;
}

/* -- the storm ----------------------------------------------------------------------- */

/* A waiter in the call, or in its timed form with a deadline never reached. */
#define WAITER(call, rule, setup, wait, feed, all_came) \
	{ call, rule, setup, wait, feed, all_came, false }
#define TIMED_WAITER(call, rule, setup, wait, feed, all_came) \
	{ call, rule, setup, wait, feed, all_came, true }

static const struct waiter_kind waiter_kinds[] = {
	WAITER("read (pipe)", EINTR_UNLESS_RESTART, setup_pipe, wait_read, feed_bytes,
	       all_bytes_came),
	WAITER("recv (socket)", EINTR_UNLESS_RESTART, setup_socket, wait_recv, feed_bytes,
	       all_bytes_came),
	WAITER("read (terminal)", EINTR_UNLESS_RESTART, setup_terminal, wait_read, feed_terminal,
	       all_bytes_came),
	WAITER("write (pipe)", EINTR_UNLESS_RESTART, setup_pipe, wait_write, feed_drain,
	       all_bytes_came),
	WAITER("accept", EINTR_UNLESS_RESTART, setup_listener, wait_accept, feed_connections,
	       all_counted_came),
	WAITER("sem_wait", EINTR_UNLESS_RESTART, setup_sem, wait_sem, feed_posts, all_counted_came),
	TIMED_WAITER("sem_timedwait", EINTR_ALWAYS, setup_sem, wait_sem, feed_posts,
		     all_counted_came),
	WAITER("recv (SO_RCVTIMEO)", EINTR_ALWAYS, setup_socket_timeout, wait_recv, feed_bytes,
	       all_bytes_came),
	WAITER("read (SO_RCVTIMEO)", EINTR_ALWAYS, setup_socket_timeout, wait_read, feed_bytes,
	       all_bytes_came),
	WAITER("write (SO_SNDTIMEO)", EINTR_ALWAYS, setup_socket_send_timeout, wait_write,
	       feed_drain, all_bytes_came),
	WAITER("accept (SO_RCVTIMEO)", EINTR_ALWAYS, setup_listener_timeout, wait_accept,
	       feed_connections, all_counted_came),
	WAITER("poll", EINTR_ALWAYS, setup_pipe, wait_poll, feed_bytes, all_bytes_came),
	WAITER("select", EINTR_ALWAYS, setup_pipe, wait_select, feed_bytes, all_bytes_came),
	WAITER("epoll_wait", EINTR_ALWAYS, setup_epoll, wait_epoll, feed_bytes, all_bytes_came),
	WAITER("nanosleep", EINTR_ALWAYS, setup_nothing, wait_nanosleep, NULL, naps_were_whole),
	WAITER("pthread_mutex_lock", EINTR_NEVER, setup_lock, wait_mutex, feed_holder, no_failure),
	TIMED_WAITER("pthread_mutex_timedlock", EINTR_NEVER, setup_lock, wait_mutex, feed_holder,
		     no_failure),
	WAITER("pthread_cond_wait", EINTR_NEVER, setup_lock, wait_cond, feed_items,
	       all_counted_came),
	TIMED_WAITER("pthread_cond_timedwait", EINTR_NEVER, setup_lock, wait_cond, feed_items,
		     all_counted_came),
	WAITER("pthread_join", EINTR_NEVER, setup_nothing, wait_join, feed_ending, join_gave_back),
};

#define WAITERS (sizeof(waiter_kinds) / sizeof(waiter_kinds[0]))

static void *kill_waiters(void *arg)
{
	struct waiter *w = arg;

	while (!storm_is_over()) {
		for (size_t i = 0; i < WAITERS; i++)
			pthread_kill(w[i].thread, SIGUSR1);
		msleep(1);
	}
	return NULL;
}

static void set_timer_ms(long ms)
{
	struct itimerval it = { { 0, ms * 1000 }, { 0, ms * 1000 } };

	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		die("setitimer");
}

static bool eintr_allowed(const struct waiter *w)
{
	return w->kind->rule == EINTR_ALWAYS ||
	       (w->kind->rule == EINTR_UNLESS_RESTART && !storm.restart);
}

/* Where the rules leave no doubt, whether EINTR was seen; "allowed" where they do. */
static const char *eintr_verdict(const struct waiter *w)
{
	if (storm.source == BY_TIMER && eintr_allowed(w))
		return "allowed";
	return yes(atomic_load(&w->eintr) > 0);
}

/* Every waiter pthread_kill may interrupt has been interrupted. */
static bool every_interruptible_was(const struct waiter *w)
{
	for (size_t i = 0; i < WAITERS; i++)
		if (eintr_allowed(&w[i]) && atomic_load(&w[i].eintr) == 0)
			return false;
	return true;
}

static void start_waiters(struct waiter *w)
{
	for (size_t i = 0; i < WAITERS; i++) {
		w[i] = (struct waiter){ .kind = &waiter_kinds[i], .in_order = true, .ep = -1,
					.fds = { -1, -1 } };
		w[i].kind->setup(&w[i]);
		if (w[i].kind->feed)
			w[i].feeder = start(w[i].kind->feed, &w[i]);
		w[i].thread = start(w[i].kind->wait, &w[i]);
	}
}

static void end_waiters(struct waiter *w)
{
	for (size_t i = 0; i < WAITERS; i++) {
		join(w[i].thread);
		if (w[i].kind->feed && w[i].kind->wait != wait_join)
			join(w[i].feeder);
		for (int k = 0; k < 2; k++)
			if (w[i].fds[k] >= 0)
				close(w[i].fds[k]);
		if (w[i].ep >= 0)
			close(w[i].ep);
	}
}

static void print_waiters(const struct waiter *w)
{
	printf("signal storm by %s, %s SA_RESTART: handlers ran=%s\n",
	       storm.source == BY_TIMER ? "an interval timer of 1 ms" : "pthread_kill",
	       storm.restart ? "with" : "without", yes(atomic_load(&storm_handled) > 0));
	for (size_t i = 0; i < WAITERS; i++)
		printf("  %-24s EINTR seen=%s, other failures=%s, all it waited for came=%s\n",
		       w[i].kind->call, eintr_verdict(&w[i]),
		       w[i].failures ? errname(w[i].first_errno) : "none",
		       yes(w[i].kind->all_came(&w[i])));
}

static void run_storm(enum storm_source source, bool restart)
{
	static struct waiter w[WAITERS];
	struct sigaction sa = { .sa_handler = storm_handler, .sa_flags = restart ? SA_RESTART : 0 };
	pthread_t killer = 0;

	storm.source = source;
	storm.restart = restart;
	storm.sig = source == BY_TIMER ? SIGALRM : SIGUSR1;
	atomic_store(&storm_over, false);
	atomic_store(&storm_handled, 0);
	sigemptyset(&sa.sa_mask);
	if (sigaction(storm.sig, &sa, NULL) != 0)
		die("sigaction");
	/* This thread and the feeders it starts block the signals; the waiters take them. */
	block_signal(SIGALRM, SIG_BLOCK);
	block_signal(SIGUSR1, SIG_BLOCK);
	start_waiters(w);
	if (source == BY_TIMER)
		set_timer_ms(1);
	else
		killer = start(kill_waiters, w);
	msleep(STORM_MS);
	for (int ms = STORM_MS; source == BY_KILL && !every_interruptible_was(w) &&
			       ms < STORM_MAX_MS; ms += 10)
		msleep(10);
	atomic_store(&storm_over, true);
	if (source == BY_TIMER)
		set_timer_ms(0);
	else
		join(killer);
	end_waiters(w);
	print_waiters(w);
	block_signal(SIGALRM, SIG_UNBLOCK);
	block_signal(SIGUSR1, SIG_UNBLOCK);
}

static void case_storm_timer_restart(void)
{
	run_storm(BY_TIMER, true);
}

static void case_storm_timer_no_restart(void)
{
	run_storm(BY_TIMER, false);
}

static void case_storm_kill_restart(void)
{
	run_storm(BY_KILL, true);
}

static void case_storm_kill_no_restart(void)
{
	run_storm(BY_KILL, false);
}

/* ---- fork_exec_storm ----------------------------------------------------------------- */

/*
 * FORKERS threads fork and exec this program FORKS_EACH times each, all at once, while
 * other threads keep two socket pairs busy and one computes: every child must print its
 * own token through its pipe and exit with its own status, and the others go on.
 */
enum { FORKERS = 16, FORKS_EACH = 8, PINGPONGS = 2 };

struct forker {
	int id;
	int children, own_output, own_status;
};

static atomic_bool load_over;

static int child_code(int forker, int k)
{
	return (forker * FORKS_EACH + k) % 100 + 1;
}

/* Everything until the end of file, at most size - 1 bytes, NUL-terminated. */
static void read_to_end(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) != 0) {
		if (n < 0 && errno != EINTR)
			die("read");
		len += n > 0 ? (size_t)n : 0;
	}
	buf[len] = '\0';
}

static void run_child(struct forker *f, int k)
{
	char token[32], code[8], want[40], out[64];
	int p[2], status;
	pid_t pid;

	snprintf(token, sizeof(token), "child-%d-%d", f->id, k);
	snprintf(code, sizeof(code), "%d", child_code(f->id, k));
	make_pipe(p, O_CLOEXEC);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(p[1], 1);	/* the copy on 1 does not close on exec */
		execl("/proc/self/exe", PROG, "--child", token, code, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	read_to_end(p[0], out, sizeof(out));
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	snprintf(want, sizeof(want), "%s\n", token);
	f->children++;
	f->own_output += strcmp(out, want) == 0;
	f->own_status += WIFEXITED(status) && WEXITSTATUS(status) == child_code(f->id, k);
}

static void *forker_main(void *arg)
{
	struct forker *f = arg;

	for (int k = 0; k < FORKS_EACH; k++)
		run_child(f, k);
	return NULL;
}

struct pingpong {
	int sv[2];
	long rounds;
};

/* Rounds until the forks are over, at least one: the first may come after them. */
static void *ping_main(void *arg)
{
	struct pingpong *p = arg;
	char c = 'p';

	do {
		if (write(p->sv[0], &c, 1) != 1 || read(p->sv[0], &c, 1) != 1)
			die("ping");
		p->rounds++;
	} while (!atomic_load(&load_over));
	shutdown(p->sv[0], SHUT_WR);
	return NULL;
}

static void *pong_main(void *arg)
{
	struct pingpong *p = arg;
	char c;

	while (read(p->sv[1], &c, 1) == 1)
		if (write(p->sv[1], &c, 1) != 1)
			die("pong");
	return NULL;
}

static void *compute_main(void *arg)
{
	volatile unsigned long x = 1;

	while (!atomic_load_explicit(&load_over, memory_order_relaxed))
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005UL + 1;
	return arg;
}

static void case_fork_exec_storm(void)
{
	static struct forker f[FORKERS];
	static struct pingpong pp[PINGPONGS];
	pthread_t forkers[FORKERS], load[2 * PINGPONGS + 1];
	int children = 0, own_output = 0, own_status = 0;
	bool load_went_on = true;

	atomic_store(&load_over, false);
	for (int i = 0; i < PINGPONGS; i++) {
		socket_pair(pp[i].sv);
		load[2 * i] = start(ping_main, &pp[i]);
		load[2 * i + 1] = start(pong_main, &pp[i]);
	}
	load[2 * PINGPONGS] = start(compute_main, NULL);
	for (int i = 0; i < FORKERS; i++) {
		f[i] = (struct forker){ .id = i };
		forkers[i] = start(forker_main, &f[i]);
	}
	for (int i = 0; i < FORKERS; i++) {
		join(forkers[i]);
		children += f[i].children;
		own_output += f[i].own_output;
		own_status += f[i].own_status;
	}
	atomic_store(&load_over, true);
	for (int i = 0; i < 2 * PINGPONGS + 1; i++)
		join(load[i]);
	for (int i = 0; i < PINGPONGS; i++) {
		load_went_on &= pp[i].rounds > 0;
		close2(pp[i].sv);
	}
	printf("fork and exec from %d threads at once: children %d, each printed its own "
	       "token=%s, each exited with its own status=%s, the other threads went on=%s\n",
	       FORKERS, children, yes(own_output == children), yes(own_status == children),
	       yes(load_went_on));
}

/* ---- thread_waves -------------------------------------------------------------------- */

/*
 * Threads created and joined in waves of WAVE, the threads of a wave alive together
 * (they meet at a barrier). The resident set is measured once the first WARM_WAVES have
 * ended (stack caches, allocator arenas and the library's tables have then grown to what
 * a wave needs) and again after the last: it must be within RSS_SLACK. Between the two,
 * the resident set grows by up to 64 KiB natively here and up to 144 KiB under the
 * library, once, whatever the count; a leak of the smallest malloc chunk (32 bytes) per
 * thread would add 640 KiB over the 20,000 threads after the first waves of the default
 * run, 30 MiB over a million, and a stack or thread record kept far more.
 *
 * The default is 30,000 threads: natively each takes a process id, and on a machine
 * whose pid_max is 32768 a million of them recycle every id 30 times in a minute, which
 * makes any late kill(2) of a process that has ended, anywhere on the machine, likely to
 * land on one of them (seen here: a tool's stale SIGKILL took the case down).
 */
enum { WAVE = 1000, WARM_WAVES = 10, DEFAULT_THREADS = 30000 };
#define RSS_SLACK ((size_t)384 << 10)

static atomic_long wave_threads_ran;
static pthread_barrier_t wave_barrier;

static void *wave_main(void *arg)
{
	atomic_fetch_add(&wave_threads_ran, 1);
	pthread_barrier_wait(&wave_barrier);
	return arg;
}

/* FAULT_CASES_THREADS, in whole waves, at least one more than the warm-up. */
static long wave_count(void)
{
	const char *s = getenv("FAULT_CASES_THREADS");
	long threads = s && *s ? atol(s) : DEFAULT_THREADS;
	long waves = (threads + WAVE - 1) / WAVE;

	return waves > WARM_WAVES ? waves : WARM_WAVES + 1;
}

static void case_thread_waves(void)
{
	static pthread_t t[WAVE];
	long waves = wave_count(), wrong = 0;
	size_t rss_warm = 0, rss_end;

	alarm((unsigned)(60 + waves / 4)); /* a million natively: about a minute here */
	atomic_store(&wave_threads_ran, 0);
	pthread_barrier_init(&wave_barrier, NULL, WAVE);
	for (long w = 0; w < waves; w++) {
		for (long i = 0; i < WAVE; i++)
			t[i] = start(wave_main, (void *)i);
		for (long i = 0; i < WAVE; i++)
			wrong += join(t[i]) != (void *)i;
		if (w + 1 == WARM_WAVES)
			rss_warm = statm_bytes(1);
	}
	rss_end = statm_bytes(1);
	pthread_barrier_destroy(&wave_barrier);
	fprintf(stderr, "resident after %d waves %zu KiB, after %ld waves %zu KiB\n",
		WARM_WAVES, rss_warm >> 10, waves, rss_end >> 10);
	printf("threads created and joined in waves of %d: %ld, every one ran and ended=%s, "
	       "resident memory within 384 KiB of where it was after %d waves=%s\n",
	       WAVE, waves * WAVE, yes(atomic_load(&wave_threads_ran) == waves * WAVE && !wrong),
	       WARM_WAVES, yes(rss_end <= rss_warm + RSS_SLACK));
}

/* ---- close_storm --------------------------------------------------------------------- */

/*
 * Threads wait in socket calls while other threads close their descriptors and open new
 * sockets that take the numbers at once. Natively a thread blocked in a call keeps the
 * file it started with (the kernel holds it until the call returns): closing the number
 * does not end the wait, the new socket is none of its business, and the wait ends when
 * the old peer goes away. The library ends the wait with EBADF when the number is
 * closed, before it can be reused (libgreenpatch(7)). Either way, what must hold is that
 * no waiter takes data from the new socket or puts its own there, and that none hangs.
 *
 * The closer must know that the waiter is inside its call, not about to make it (then
 * it would rightly use the new socket): a receiver asks for 2 bytes with MSG_WAITALL and
 * the closer sends 1 and waits until the receiver has taken it, so that it waits for the
 * second inside the call; a sender sends more than the socket holds, and once its peer
 * has data the send cannot return until the peer reads. Half the receivers are sent their
 * second byte just before the close: natively they return with it, under the library the
 * close may come first and they return with the first only. Only data of their own.
 */
enum { CLOSE_SLOTS = 24, CLOSE_ROUNDS = 8, CLOSERS = 4 };
#define SEND_SIZE ((size_t)4 << 20)

enum slot_role { RECEIVES, RECEIVES_SECOND, SENDS };

struct close_slot {
	enum slot_role role;
	int fd, peer;		/* the waiter's socket and its peer */
	int fresh[2];		/* the pair opened right after the close */
	int fresh_dup;		/* fresh[0] copied onto the closed number, or -1 */
	pthread_t thread;
	ssize_t ret;
	char got[2];
	atomic_bool returned;
};

static pthread_mutex_t reuse_lock = PTHREAD_MUTEX_INITIALIZER;
static char send_data[SEND_SIZE];

static void *close_waiter_main(void *arg)
{
	struct close_slot *s = arg;

	if (s->role == SENDS)
		s->ret = send(s->fd, send_data, SEND_SIZE, MSG_NOSIGNAL);
	else
		s->ret = recv(s->fd, s->got, 2, MSG_WAITALL);
	atomic_store(&s->returned, true);
	return NULL;
}

static int queued_bytes(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) != 0)
		die("FIONREAD");
	return n;
}

/* Waits (10 s at most) until fd has (want_data) or has not (!want_data) data queued. */
static void wait_queue(int fd, bool want_data)
{
	for (int i = 0; i < 10000; i++) {
		if ((queued_bytes(fd) > 0) == want_data)
			return;
		msleep(1);
	}
	fail("the waiter never got into its call");
}

/* Until the waiter is inside its call, waiting on the socket it started with. */
static void wait_until_inside(struct close_slot *s)
{
	if (s->role == SENDS) {
		wait_queue(s->peer, true);
		return;
	}
	if (send(s->peer, "H", 1, MSG_NOSIGNAL) != 1)
		die("send");
	wait_queue(s->fd, false);
}

/*
 * Closes the waiter's number and opens a new socket pair on it at once (a lower number
 * freed elsewhere may come first: then a copy of the new socket goes onto it), with a
 * byte queued each way. One closer at a time, so that the number is there to take.
 */
static void close_and_reuse(struct close_slot *s)
{
	int number = s->fd;

	pthread_mutex_lock(&reuse_lock);
	close(number);
	socket_pair(s->fresh);
	s->fresh_dup = -1;
	if (s->fresh[0] != number && s->fresh[1] != number) {
		s->fresh_dup = fcntl(s->fresh[0], F_DUPFD_CLOEXEC, number);
		if (s->fresh_dup != number)
			fail("number %d was not free again (got %d)", number, s->fresh_dup);
	}
	pthread_mutex_unlock(&reuse_lock);
	if (send(s->fresh[0], "N", 1, MSG_NOSIGNAL) != 1 ||
	    send(s->fresh[1], "N", 1, MSG_NOSIGNAL) != 1)
		die("send");
}

static void close_under_waiter(struct close_slot *s)
{
	wait_until_inside(s);
	if (atomic_load(&s->returned))
		fail("the waiter returned before the close");
	if (s->role == RECEIVES_SECOND && send(s->peer, "X", 1, MSG_NOSIGNAL) != 1)
		die("send");
	close_and_reuse(s);
	close(s->peer); /* natively, what ends the wait: end of file, or EPIPE */
}

struct closer {
	struct close_slot *slots;
	int first;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	for (int i = c->first; i < CLOSE_SLOTS; i += CLOSERS)
		close_under_waiter(&c->slots[i]);
	return NULL;
}

/* Each end of the new pair holds exactly the byte the other end queued. */
static bool fresh_untouched(const struct close_slot *s)
{
	bool clean = true;

	for (int i = 0; i < 2; i++) {
		char b[16];

		clean &= recv(s->fresh[i], b, sizeof(b), MSG_DONTWAIT) == 1 && b[0] == 'N';
	}
	return clean;
}

/* Only data of its own: the first byte, then the second or nothing; a part of the send. */
static bool waiter_kept_to_its_own(const struct close_slot *s)
{
	if (s->role == SENDS)
		return s->ret > 0 && (size_t)s->ret < SEND_SIZE;
	if (s->ret < 1 || s->got[0] != 'H')
		return false;
	return s->ret == 1 || (s->role == RECEIVES_SECOND && s->got[1] == 'X');
}

static void start_close_round(struct close_slot *slots)
{
	for (int i = 0; i < CLOSE_SLOTS; i++) {
		struct close_slot *s = &slots[i];
		int sv[2];

		socket_pair(sv);
		*s = (struct close_slot){ .role = (enum slot_role)(i % 3), .fd = sv[0],
					  .peer = sv[1] };
		s->thread = start(close_waiter_main, s);
	}
}

struct close_tally {
	int kept, untouched;	/* waiters with data of their own only; new pairs untouched */
	int given_second, got_second;
};

static void run_close_round(struct close_slot *slots, struct close_tally *t)
{
	struct closer c[CLOSERS];
	pthread_t closers[CLOSERS];

	start_close_round(slots);
	for (int i = 0; i < CLOSERS; i++) {
		c[i] = (struct closer){ slots, i };
		closers[i] = start(closer_main, &c[i]);
	}
	for (int i = 0; i < CLOSERS; i++)
		join(closers[i]);
	for (int i = 0; i < CLOSE_SLOTS; i++) {
		struct close_slot *s = &slots[i];

		join(s->thread);
		t->kept += waiter_kept_to_its_own(s);
		t->untouched += fresh_untouched(s);
		t->given_second += s->role == RECEIVES_SECOND;
		t->got_second += s->role == RECEIVES_SECOND && s->ret == 2;
		close2(s->fresh);
		if (s->fresh_dup >= 0)
			close(s->fresh_dup);
	}
}

static void case_close_storm(void)
{
	static struct close_slot slots[CLOSE_SLOTS];
	struct close_tally t = { 0 };

	memset(send_data, 'S', sizeof(send_data));
	for (int round = 0; round < CLOSE_ROUNDS; round++)
		run_close_round(slots, &t);
	fprintf(stderr, "receivers sent a second byte just before the close: %d of %d got it\n",
		t.got_second, t.given_second);
	printf("descriptors closed under %d waiters and their numbers reused at once: every "
	       "waiter ended with data of its own only=%s, every new socket untouched=%s\n",
	       CLOSE_SLOTS * CLOSE_ROUNDS, yes(t.kept == CLOSE_SLOTS * CLOSE_ROUNDS),
	       yes(t.untouched == CLOSE_SLOTS * CLOSE_ROUNDS));
}

/* ---- main ---------------------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(nofile_accept),
	CASE(create_eagain),
	CASE(storm_timer_restart),
	CASE(storm_timer_no_restart),
	CASE(storm_kill_restart),
	CASE(storm_kill_no_restart),
	CASE(fork_exec_storm),
	CASE(thread_waves),
	CASE(close_storm),
};

/* The case's thread takes SIGALRM (the watchdog's alarm), which main blocks. */
static void *fault_case_main(void *arg)
{
	block_signal(SIGALRM, SIG_UNBLOCK);
	return case_main(arg);
}

/*
 * Each case runs in a thread of its own while main waits in pthread_join with SIGALRM
 * blocked: a process-directed signal then goes to the case's threads, not to main.
 */
static void run_fault_case(const struct prog_case *c)
{
	join(start(fault_case_main, (void *)c));
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0) {
		printf("%s\n", argv[2]);
		return atoi(argv[3]);
	}
	block_signal(SIGALRM, SIG_BLOCK);
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), run_fault_case);
}

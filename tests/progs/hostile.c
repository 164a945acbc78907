/*
 * Programs that do unusual things to their own process once threads run: close or
 * dup2 over every descriptor they did not open, as daemons do; handle or block every
 * signal. Each case then runs a workload of threads that wait on descriptors, sleep
 * and hand a lock back and forth, and prints what a program would see: the same
 * natively and under the library, whose own descriptors and signals must be out of
 * the way.
 *
 * Run one case per process: hostile CASE.
 */
#define PROG "hostile"
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progs.h"

/* The numbers the daemon loops go through: select()'s whole range. */
#define SELECT_RANGE 1024

/* ---- the workload --------------------------------------------------------------- */

#define ROUNDS 200

static void *echo_side(void *arg)
{
	int fd = *(int *)arg;
	char c;
	for (int i = 0; i < ROUNDS; i++) {
		if (read(fd, &c, 1) != 1)
			die("echo read");
		if (write(fd, &c, 1) != 1)
			die("echo write");
	}
	return NULL;
}

/* Round trips over a socketpair: both threads park on their descriptor each time. */
static bool ping_pong(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	pthread_t t = start(echo_side, &sv[1]);
	bool same = true;
	for (int i = 0; i < ROUNDS; i++) {
		char c = (char)i, back;
		if (write(sv[0], &c, 1) != 1 || read(sv[0], &back, 1) != 1)
			die("ping");
		same = same && back == c;
	}
	join(t);
	close2(sv);
	return same;
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t turn_changed;
	int turn;
} baton = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };

/* Takes the baton when it is side's turn, ROUNDS times, and hands it over. */
static void *baton_side(void *arg)
{
	int side = (int)(long)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&baton.lock);
		while (baton.turn != side)
			pthread_cond_wait(&baton.turn_changed, &baton.lock);
		baton.turn = !side;
		pthread_cond_broadcast(&baton.turn_changed);
		pthread_mutex_unlock(&baton.lock);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		msleep(5);
	return NULL;
}

/* What every case runs after its hostile act: the threads must all finish. */
static void workload(void)
{
	pthread_t a = start(baton_side, (void *)0L);
	pthread_t b = start(baton_side, (void *)1L);
	pthread_t s = start(sleeper, NULL);
	bool echoed = ping_pong();
	join(a);
	join(b);
	join(s);
	printf("workload: echoed %s, baton passed %d times, sleeper done\n", yes(echoed),
	       2 * ROUNDS);
}

/* Threads running before the hostile act, so that the library has started. */
static pthread_t started;

static void *parked_until_told(void *arg)
{
	int fd = *(int *)arg;
	char c;
	ssize_t n = read(fd, &c, 1);
	return (void *)(long)n;
}

static int wake_pipe[2];

static void threads_first(void)
{
	if (pipe(wake_pipe) < 0)
		die("pipe");
	started = start(parked_until_told, &wake_pipe[0]);
	msleep(10);
}

/* The thread started first is still there and gets what is written to it. */
static void threads_first_end(void)
{
	if (write(wake_pipe[1], "x", 1) != 1)
		die("write to the first thread");
	printf("first thread read %ld byte\n", (long)join(started));
	close2(wake_pipe);
}

static bool is_kept(int fd)
{
	return fd == wake_pipe[0] || fd == wake_pipe[1];
}

/* ---- descriptors ------------------------------------------------------------------ */

/* for (fd = 3; fd < 1024; fd++) close(fd), but for the pipe it still uses. */
static void case_close_loop(void)
{
	threads_first();
	int closed = 0;
	for (int fd = 3; fd < SELECT_RANGE; fd++)
		if (!is_kept(fd) && close(fd) == 0)
			closed++;
	printf("closed %d descriptors\n", closed);
	threads_first_end();
	workload();
}

/* Every number the program may open: up to the soft limit, and a little over. */
static void case_close_every_number(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	threads_first();
	int closed = 0, ebadf = 0;
	for (int fd = 3; fd < (int)rl.rlim_cur + 16; fd++) {
		if (is_kept(fd))
			continue;
		if (close(fd) == 0)
			closed++;
		else if (errno == EBADF)
			ebadf++;
	}
	printf("closed %d descriptors, every other answered EBADF: %s\n", closed,
	       yes(closed + ebadf == (int)rl.rlim_cur + 16 - 3 - 2));
	threads_first_end();
	workload();
}

/* What /proc/self/fd lists, as glib and systemd close what they did not open. */
static void case_close_listed(void)
{
	threads_first();
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die("opendir");
	int closed = 0;
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && !is_kept(fd) &&
		    close(fd) == 0)
			closed++;
	}
	closedir(d);
	printf("closed %d listed descriptors\n", closed);
	threads_first_end();
	workload();
}

/* Moves the pipe to 3 and 4 first: the cases below close everything above. */
static void keep_pipe_low(void)
{
	for (int i = 0; i < 2; i++) {
		if (wake_pipe[i] == 3 + i)
			continue;
		if (dup2(wake_pipe[i], 3 + i) < 0)
			die("dup2");
		close(wake_pipe[i]);
		wake_pipe[i] = 3 + i;
	}
}

static void threads_first_low(void)
{
	for (int fd = 3; fd < 5; fd++)
		close(fd);
	threads_first();
	keep_pipe_low();
}

static void case_closefrom(void)
{
	threads_first_low();
	closefrom(5);
	printf("closefrom(5) returned\n");
	threads_first_end();
	workload();
}

static void case_close_range(void)
{
	threads_first_low();
	int rc = close_range(5, ~0u, 0);
	printf("close_range(5, ~0U, 0) = %d\n", rc);
	threads_first_end();
	workload();
}

/* Marks every number above 4 close-on-exec, the library's included: harmless. */
static void case_close_range_cloexec(void)
{
	threads_first_low();
	int rc = close_range(5, ~0u, CLOSE_RANGE_CLOEXEC);
	printf("close_range(5, ~0U, CLOSE_RANGE_CLOEXEC) = %d\n", rc);
	threads_first_end();
	workload();
}

/* dup2 of /dev/null over every number in select()'s range, then closes them again. */
static void case_dup2_over_all(void)
{
	threads_first();
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		die("open /dev/null");
	int duped = 0, closed = 0;
	for (int fd = 3; fd < SELECT_RANGE; fd++)
		if (fd != null && !is_kept(fd) && dup2(null, fd) == fd)
			duped++;
	for (int fd = 3; fd < SELECT_RANGE; fd++)
		if (!is_kept(fd) && close(fd) == 0)
			closed++;
	printf("dup2 over %d descriptors, closed %d\n", duped, closed);
	threads_first_end();
	workload();
}

/* fcntl(F_SETFD) on every number up to the soft limit: only the program's answer. */
static void case_setfd_everywhere(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	threads_first();
	int set = 0;
	for (int fd = 3; fd < (int)rl.rlim_cur; fd++)
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
			set++;
	printf("F_SETFD took on %d descriptors\n", set);
	threads_first_end();
	workload();
}

/* ---- signals -------------------------------------------------------------------- */

static _Atomic int handled[NSIG];

static void count_signal(int sig)
{
	handled[sig]++;
}

/* A handler for every signal that can have one; the answer for the others. */
static void handle_every_signal(void)
{
	int refused = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = count_signal;
		sa.sa_flags = SA_RESTART;
		if (sigaction(sig, &sa, NULL) < 0)
			refused++;
	}
	printf("handlers refused for %d signals\n", refused);
}

static void block_every_signal(void)
{
	sigset_t all;
	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, NULL))
		fail("pthread_sigmask");
}

static void case_every_signal_handled(void)
{
	handle_every_signal();
	threads_first();
	threads_first_end();
	workload();
}

/* Blocked before the first thread, so that every thread inherits it. */
static void case_every_signal_blocked(void)
{
	block_every_signal();
	threads_first();
	threads_first_end();
	workload();
}

/*
 * Every signal handled and blocked in every thread, and SIGUSR2 sent to the process:
 * it waits, pending, until the program unblocks it, then its handler runs once.
 * (Under GREENPATCH_DUMP_SIGNAL=USR2 the library writes its dump on the way.)
 */
static void case_usr2_waits_for_unblock(void)
{
	handle_every_signal();
	block_every_signal();
	threads_first();
	if (kill(getpid(), SIGUSR2) < 0)
		die("kill");
	sigset_t pending;
	bool seen = false;
	for (int i = 0; i < 500 && !seen; i++) {
		if (sigpending(&pending) < 0)
			die("sigpending");
		seen = sigismember(&pending, SIGUSR2) == 1;
		if (!seen)
			msleep(2);
	}
	printf("SIGUSR2 pending while blocked: %s, handled before: %d\n", yes(seen),
	       handled[SIGUSR2]);
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
	/* Natively at once. With the library's dump on SIGUSR2, the library's monitor may
	 * have the signal in hand at that moment, and send it back a moment later. */
	for (int i = 0; i < 500 && !handled[SIGUSR2]; i++)
		msleep(2);
	printf("handled after unblocking: %d\n", handled[SIGUSR2]);
	threads_first_end();
	workload();
}

/* The program's own handler for SIGUSR2 runs once per signal. */
static void case_usr2_handled(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	if (sigaction(SIGUSR2, &sa, &old) < 0)
		die("sigaction");
	printf("SIGUSR2's action before: %s\n", old.sa_handler == SIG_DFL ? "default" : "other");
	threads_first();
	for (int i = 0; i < 3; i++) {
		if (kill(getpid(), SIGUSR2) < 0)
			die("kill");
		for (int j = 0; j < 500 && handled[SIGUSR2] <= i; j++)
			msleep(2);
	}
	printf("SIGUSR2 handled: %d\n", handled[SIGUSR2]);
	threads_first_end();
	workload();
}

#define CASE(n) { #n, case_##n }

static const struct prog_case cases[] = {
	CASE(close_loop),
	CASE(close_every_number),
	CASE(close_listed),
	CASE(closefrom),
	CASE(close_range),
	CASE(close_range_cloexec),
	CASE(dup2_over_all),
	CASE(setfd_everywhere),
	CASE(every_signal_handled),
	CASE(every_signal_blocked),
	CASE(usr2_waits_for_unblock),
	CASE(usr2_handled),
};

static void run_in_main(const struct prog_case *c)
{
	c->fn();
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), run_in_main);
}

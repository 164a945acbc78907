/*
 * tls_stack [--list | CASE...]
 *
 * Built a third time as tls_stack.ssp, with -fstack-protector-strong: every function with
 * a char array then saves a canary read from the thread descriptor (%fs:0x28 on x86_64)
 * on entry and compares it on return, aborting with "stack smashing detected" when they
 * differ. glibc gives every thread the process's canary, so a function that blocks, and
 * resumes after other threads ran, finds the value it saved, provided each thread's
 * descriptor holds that same canary.
 *
 * exchange: threads in pairs, each in a protected function with char arrays, send each
 * other messages over a socket pair and block reading the partner's. canary: every
 * thread's canary is main's (x86_64; elsewhere glibc keeps it in a global).
 *
 * Each case prints one line of counts; natively every "wrong" count is 0.
 */
#define PROG "tls_stack"
#include "progs.h"
#include "tls.h"

#define PAIRS 100
#define THREADS (2 * PAIRS)
#define ROUNDS 10

static int sock[PAIRS][2];

/*
 * Sends "thread ID round R" to the partner, blocks until the partner's arrives and checks
 * it. The arrays keep this frame protected; the partner writes only after a park, so the
 * read usually blocks.
 */
static __attribute__((noinline)) bool exchange(int id, int r)
{
	char mine[64], theirs[64], want[64];
	int fd = sock[id / 2][id % 2];
	ssize_t n;

	snprintf(mine, sizeof(mine), "thread %d round %d", id, r);
	snprintf(want, sizeof(want), "thread %d round %d", id ^ 1, r);
	park(r + id);
	if (write(fd, mine, sizeof(mine)) != sizeof(mine))
		die("write");
	n = recv(fd, theirs, sizeof(theirs), MSG_WAITALL);
	return n == sizeof(theirs) && strcmp(theirs, want) == 0;
}

static void *exchanger_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	bool ok = true;

	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++)
		ok = exchange(id, r) && ok;
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_exchange(void)
{
	for (int i = 0; i < PAIRS; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sock[i]) != 0)
			die("socketpair");
	printf("%s: threads=%d wrong=%d\n", current, THREADS, run_threads(THREADS, exchanger_main));
	for (int i = 0; i < PAIRS; i++)
		close2(sock[i]);
}

/* ---- the canary ------------------------------------------------------------------------ */

static uintptr_t canary(void)
{
	uintptr_t c = 0;

#if defined(__x86_64__)
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(c));
#endif
	return c;
}

static uintptr_t main_canary;

static void *canary_main(void *arg)
{
	bool ok = canary() == main_canary;

	pthread_barrier_wait(&all_started);
	park((int)(intptr_t)arg);
	return ok && canary() == main_canary ? THREAD_OK : THREAD_BAD;
}

static void case_canary(void)
{
	main_canary = canary();
	printf("%s: threads=%d canary_unlike_main=%d\n", current, THREADS,
	       run_threads(THREADS, canary_main));
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(exchange),
	CASE(canary),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

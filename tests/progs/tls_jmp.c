/*
 * tls_jmp [--list | CASE...]
 *
 * setjmp/longjmp and sigsetjmp/siglongjmp in threads, also with a blocking call between
 * the jump's setting and the jump. glibc mangles the saved stack and code pointers with the
 * pointer guard, which it keeps in the thread descriptor (fs:0x30 on x86_64) and copies
 * into every thread: one value for the whole process. A thread whose descriptor holds
 * another guard still jumps within itself, so two cases look where a different guard
 * shows: mangling compares the mangled code pointer that setjmp saves at one call site in
 * every thread with main's, and exit_from_thread runs, from exit() in a thread, atexit
 * handlers that main and another thread registered (glibc mangles those pointers too).
 *
 * exit_from_thread ends the process: it is the last case.
 */
#define PROG "tls_jmp"
#include "progs.h"
#include "tls.h"

#include <setjmp.h>
#include <signal.h>

#define THREADS 200
#define ROUNDS 10

/* ---- jumps --------------------------------------------------------------------------- */

static __attribute__((noinline)) void jump_back(jmp_buf *env, int value, int park_round)
{
	if (park_round >= 0)
		park(park_round);
	longjmp(*env, value);
}

/* Jumps ROUNDS times, blocking between setjmp and longjmp when parking; counts arrivals. */
static void *jumper_main(void *arg)
{
	bool parking = arg != NULL;
	volatile int arrivals = 0, r = 0;
	jmp_buf env;
	int got;

	pthread_barrier_wait(&all_started);
	got = setjmp(env);
	if (got != 0) {
		if (got != r + 1)
			return THREAD_BAD;
		arrivals++;
		r++;
	}
	if (r < ROUNDS)
		jump_back(&env, r + 1, parking ? r : -1);
	return arrivals == ROUNDS ? THREAD_OK : THREAD_BAD;
}

static void *jumper_no_park(void *arg)
{
	(void)arg;
	return jumper_main(NULL);
}

static void *jumper_park(void *arg)
{
	(void)arg;
	return jumper_main((void *)1);
}

static void case_longjmp(void)
{
	printf("%s: threads=%d wrong=%d\n", current, THREADS, run_threads(THREADS, jumper_no_park));
}

static void case_longjmp_across_park(void)
{
	printf("%s: threads=%d wrong=%d\n", current, THREADS, run_threads(THREADS, jumper_park));
}

/*
 * sigsetjmp(env, 1) saves the mask and siglongjmp after a block restores it; with
 * block_usr2, the thread blocks SIGUSR2 before each jump and checks the restored mask.
 */
static void *sigjumper(bool block_usr2)
{
	volatile int arrivals = 0;
	sigjmp_buf env;
	sigset_t usr2, now;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_barrier_wait(&all_started);
	if (sigsetjmp(env, 1) != 0) {
		pthread_sigmask(SIG_SETMASK, NULL, &now);
		if (sigismember(&now, SIGUSR2))
			return THREAD_BAD;
	}
	if (arrivals++ < ROUNDS) {
		if (block_usr2)
			pthread_sigmask(SIG_BLOCK, &usr2, NULL);
		park(arrivals);
		siglongjmp(env, 1);
	}
	return arrivals == ROUNDS + 1 ? THREAD_OK : THREAD_BAD;
}

static void *sigjumper_keep_mask(void *arg)
{
	(void)arg;
	return sigjumper(false);
}

static void *sigjumper_block_usr2(void *arg)
{
	(void)arg;
	return sigjumper(true);
}

static void case_siglongjmp_across_park(void)
{
	printf("%s: threads=%d wrong=%d\n", current, THREADS,
	       run_threads(THREADS, sigjumper_keep_mask));
}

static void case_siglongjmp_restores_mask(void)
{
	printf("%s: threads=%d wrong=%d\n", current, THREADS,
	       run_threads(THREADS, sigjumper_block_usr2));
}

/*
 * A handler that leaves with siglongjmp, for a signal another thread sends while this
 * one waits in read: the read is left, the mask saved by sigsetjmp(env, 1) comes back
 * (without the handled signal, which the kernel blocks while its handler runs), and the
 * next signal is handled again. Whether a signal comes before or during the read, the
 * handler jumps: the outcome does not depend on timing.
 */
#define OUT_OF_HANDLER_THREADS 50

static __thread sigjmp_buf *jump_env;

static void jump_out(int sig)
{
	(void)sig;
	siglongjmp(*jump_env, 1);
}

struct jumped_reader {
	pthread_t self;
	int armed; /* the round the reader waits in, from 1 */
};

static void *send_each_round(void *arg)
{
	struct jumped_reader *r = arg;

	for (int round = 1; round <= ROUNDS; round++) {
		while (__atomic_load_n(&r->armed, __ATOMIC_ACQUIRE) < round)
			msleep(1);
		pthread_kill(r->self, SIGUSR1);
	}
	return NULL;
}

static void *reader_jumped_out(void *arg)
{
	struct jumped_reader r = { pthread_self(), 0 };
	volatile int arrivals = 0, masked = 0;
	sigjmp_buf env;
	sigset_t now;
	int p[2];
	char c;

	(void)arg;
	make_pipe(p, O_CLOEXEC);
	jump_env = &env;
	pthread_barrier_wait(&all_started);
	pthread_t sender = start(send_each_round, &r);
	if (sigsetjmp(env, 1) != 0) {
		arrivals++;
		pthread_sigmask(SIG_SETMASK, NULL, &now);
		masked += sigismember(&now, SIGUSR1);
	}
	if (arrivals < ROUNDS) {
		__atomic_store_n(&r.armed, arrivals + 1, __ATOMIC_RELEASE);
		ssize_t n = read(p[0], &c, 1);
		fail("read returned %zd (%s), where the handler jumps out of it", n,
		     n < 0 ? strerror(errno) : "no error");
	}
	join(sender);
	close2(p);
	return arrivals == ROUNDS && masked == 0 ? THREAD_OK : THREAD_BAD;
}

static void case_siglongjmp_out_of_handler(void)
{
	struct sigaction sa = { .sa_handler = jump_out }, old;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	printf("%s: threads=%d wrong=%d\n", current, OUT_OF_HANDLER_THREADS,
	       run_threads(OUT_OF_HANDLER_THREADS, reader_jumped_out));
	sigaction(SIGUSR1, &old, NULL);
}

/* ---- the pointer guard ----------------------------------------------------------------- */

/*
 * The code pointer setjmp saves, mangled: the same call site saves the same pointer, so
 * threads with the same guard save the same value. glibc's x86_64 jmp_buf keeps it in
 * slot 7; elsewhere only the jumps themselves are checked.
 */
static __attribute__((noinline)) long mangled_pc(void)
{
#if defined(__x86_64__)
	jmp_buf env;

	if (setjmp(env) == 0)
		return env[0].__jmpbuf[7];
#endif
	return 0;
}

static long main_mangled_pc;

static void *mangling_main(void *arg)
{
	bool ok = mangled_pc() == main_mangled_pc;

	pthread_barrier_wait(&all_started);
	park((int)(intptr_t)arg);
	return ok && mangled_pc() == main_mangled_pc ? THREAD_OK : THREAD_BAD;
}

static void case_mangling(void)
{
	main_mangled_pc = mangled_pc();
	printf("%s: threads=%d mangled_unlike_main=%d\n", current, THREADS,
	       run_threads(THREADS, mangling_main));
}

/* ---- exit from a thread -------------------------------------------------------------- */

static void main_handler(void)
{
	printf("exit_from_thread: main's atexit handler ran\n");
}

static void thread_handler(void)
{
	printf("exit_from_thread: a thread's atexit handler ran\n");
}

static void *registering_main(void *arg)
{
	(void)arg;
	park(1);
	if (atexit(thread_handler) != 0)
		fail("atexit");
	park(0);
	return NULL;
}

static void *exiting_main(void *arg)
{
	(void)arg;
	park(1);
	printf("exit_from_thread: a thread calls exit\n");
	exit(0);
}

static void case_exit_from_thread(void)
{
	if (atexit(main_handler) != 0)
		fail("atexit");
	join(start(registering_main, NULL));
	join(start(exiting_main, NULL));
	fail("exit() in a thread returned to main");
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(longjmp),
	CASE(longjmp_across_park),
	CASE(siglongjmp_across_park),
	CASE(siglongjmp_restores_mask),
	CASE(siglongjmp_out_of_handler),
	CASE(mangling),
	CASE(exit_from_thread), /* last: it ends the process */
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

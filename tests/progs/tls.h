/*
 * Helpers for the tls_* programs, which check that each thread has thread-local storage
 * of its own: __thread variables, errno, and what glibc keeps there (locale, strerror
 * buffers, _res, the rseq area, the pointer and stack guards).
 *
 * Under the library a thread keeps its own storage only if the runtime switches the
 * thread pointer with the green thread: these programs make every thread block ("park")
 * between using its storage and checking it, while the other threads use theirs. Natively
 * each thread is a kernel thread, so the checks pass; a runtime that shares one TLS block
 * between green threads fails them.
 *
 * Include after progs.h.
 */
#ifndef GP_TLS_H
#define GP_TLS_H

#include <poll.h>
#include <stdint.h>

/*
 * A short block the library parks on, so that other green threads run before this one
 * goes on. Odd rounds sleep, even rounds poll a pipe that never becomes readable, for 1 ms:
 * both kinds of wake-up (a timer, a descriptor wait's timeout) resume the thread.
 */
static inline void park(int round)
{
	static int never[2] = { -1, -1 };
	struct pollfd pfd;

	if (round & 1) {
		usleep(100);
		return;
	}
	if (never[0] < 0 && pipe(never) != 0) /* made by main before any thread: no race */
		die("pipe");
	pfd = (struct pollfd){ .fd = never[0], .events = POLLIN };
	poll(&pfd, 1, 1);
}

/* Makes park's pipe while the process has one thread. */
static inline void park_init(void)
{
	park(0);
}

/*
 * For run_threads' threads to wait at before they use their storage, so that all of them
 * exist, and interleave, while they do.
 */
static pthread_barrier_t all_started;

/*
 * Runs fn((void *)i) for i in [0, n), each in a thread of its own, joins them all and
 * returns how many returned non-NULL, that is, found something wrong. fn waits at
 * all_started (set for n threads) first.
 */
static inline int run_threads(int n, void *(*fn)(void *))
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	int bad = 0;

	if (!t)
		die("calloc");
	pthread_barrier_init(&all_started, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		t[i] = start(fn, (void *)(intptr_t)i);
	for (int i = 0; i < n; i++)
		bad += join(t[i]) != NULL;
	pthread_barrier_destroy(&all_started);
	free(t);
	return bad;
}

/* A thread's verdict for run_threads: NULL when all was well. */
#define THREAD_OK NULL
#define THREAD_BAD ((void *)1)

#endif

/*
 * Barriers. A barrier cannot be used before pthread_barrier_init, so every
 * process-private barrier is ours from birth: its storage holds our own fields, and
 * waiting parks on its address. A process-shared barrier is glibc's throughout.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "hook.h"
#include "signals.h"
#include "sync.h"

#define BARRIER_MAGIC 0x67706272u   /* "gpbr" */

struct green_barrier {
	uint32_t magic;
	unsigned count;      /* threads that must arrive */
	unsigned arrived;    /* in the current round */
	unsigned round;      /* incremented when a round completes */
};

_Static_assert(sizeof(struct green_barrier) <= sizeof(pthread_barrier_t),
	       "the green barrier fits in glibc's storage");

static struct green_barrier *green(pthread_barrier_t *b)
{
	struct green_barrier *g = (struct green_barrier *)b;
	return g->magic == BARRIER_MAGIC ? g : NULL;
}

int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *attr, unsigned count)
{
	int shared = PTHREAD_PROCESS_PRIVATE;
	if (attr && pthread_barrierattr_getpshared(attr, &shared) != 0)
		return EINVAL;
	if (shared == PTHREAD_PROCESS_SHARED)
		return GP_REAL(pthread_barrier_init)(b, attr, count);
	if (count == 0 || count > INT_MAX)
		return EINVAL;
	*(struct green_barrier *)b = (struct green_barrier){
		.magic = BARRIER_MAGIC, .count = count,
	};
	return 0;
}

/* Off green threads (before the runtime starts): nobody else can arrive but the last. */
static int kernel_thread_wait(struct green_barrier *g)
{
	if (++g->arrived == g->count) {
		g->arrived = 0;
		g->round++;
		if (gp_rt)
			gp_unpark_all_on_async(g);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	/* Without green threads nobody else can arrive: wait forever, as natively. */
	for (;;)
		pause();
}

int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct green_barrier *g = green(b);
	/* A process-shared barrier stays glibc's: a green thread waits on its own kernel
	 * thread while the carrier goes on (gp__block_begin). */
	if (!g)
		return gp_in_program() ? GP_BLOCKING(GP_REAL(pthread_barrier_wait)(b))
				       : GP_REAL(pthread_barrier_wait)(b);
	if (!gp_on_green())
		return kernel_thread_wait(g);
	/* The count is the runtime's state: changed inside the bracket, where no other
	 * green thread comes between the arrival and the round's end (a handed-off one
	 * rejoins first, core/kthread.h). */
	gp_enter();
	unsigned round = g->round;
	if (++g->arrived == g->count) {
		g->arrived = 0;
		g->round++;
		gp_unpark_on(g, (size_t)-1);
		gp_leave();
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	/*
	 * A waiter the round's last arrival picked leaves without reading the barrier
	 * again: it may already have been destroyed and initialised anew. A signal's
	 * handler runs at once, in program context (gp_leave), and the wait goes on:
	 * pthread_barrier_wait never ends with EINTR.
	 */
	int rc;
	while (g->round == round && (rc = gp_park_on(g, -1, "barrier")) != 0) {
		if (rc != -EINTR)
			continue;
		gp_leave();
		gp__async_cancel_point();
		gp_enter();
	}
	gp_leave();
	return 0;
}

int pthread_barrier_destroy(pthread_barrier_t *b)
{
	struct green_barrier *g = green(b);
	if (!g)
		return GP_REAL(pthread_barrier_destroy)(b);
	if (g->arrived)
		return EBUSY;
	g->magic = 0;
	return 0;
}

#include "offload.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "sched.h"
#include "sync.h"
#include "util.h"

#define DEFAULT_THREADS 4

struct job {
	gp_offload_fn fn;
	void *arg;
	struct job *next;
	_Atomic int done;
};

/*
 * The queue is a list under a spinlock: its critical sections are a few pointer
 * moves, and it is shared by the carrier and the pool threads, which must not use the
 * (interposed) pthread locks. Idle pool threads sleep on a futex word that counts
 * submissions.
 */
static struct job *head, *tail;
static atomic_flag queue_lock = ATOMIC_FLAG_INIT;
static _Atomic unsigned submitted;
static _Atomic int idle;
static _Atomic int threads;
static _Atomic unsigned long calls;
static _Atomic int unbounded_out;   /* unbounded calls in progress: they raise the limit */

int (*gp__create_kernel_thread)(void *(*fn)(void *), void *arg, size_t stack);

static void lock(void)
{
	while (atomic_flag_test_and_set_explicit(&queue_lock, memory_order_acquire))
		;
}

static void unlock(void)
{
	atomic_flag_clear_explicit(&queue_lock, memory_order_release);
}

static struct job *take(void)
{
	lock();
	struct job *j = head;
	if (j) {
		head = j->next;
		if (!head)
			tail = NULL;
	}
	unlock();
	return j;
}

static void *worker_main(void *arg)
{
	(void)arg;
	/* Signals are for the program's threads: a pool thread never takes one (but
	 * glibc's own, util.h). */
	gp_block_program_signals();
	for (;;) {
		unsigned seen = atomic_load(&submitted);
		struct job *j = take();
		if (!j) {
			atomic_fetch_add(&idle, 1);
			gp_futex_wait(&submitted, seen, -1);
			atomic_fetch_sub(&idle, 1);
			continue;
		}
		j->fn(j->arg);
		atomic_store_explicit(&j->done, 1, memory_order_release);
		gp_unpark_on_async(j);
	}
	return NULL;
}

static int max_threads(void)
{
	return gp_config.offload_threads > 0 ? gp_config.offload_threads : DEFAULT_THREADS;
}

/* A new pool thread when none is idle and the pool may grow: 0 or -EAGAIN. */
static int maybe_grow(void)
{
	if (atomic_load(&idle) > 0 ||
	    atomic_load(&threads) >= max_threads() + atomic_load(&unbounded_out))
		return 0;
	if (!gp__create_kernel_thread)
		return -EAGAIN;
	atomic_fetch_add(&threads, 1);
	if (gp__create_kernel_thread(worker_main, NULL, 0) != 0) {
		atomic_fetch_sub(&threads, 1);
		return atomic_load(&threads) > 0 ? 0 : -EAGAIN;
	}
	return 0;
}

int gp_offload(gp_offload_fn fn, void *arg, bool unbounded)
{
	if (unbounded)
		atomic_fetch_add(&unbounded_out, 1);
	int rc = maybe_grow();
	if (rc < 0) {
		if (unbounded)
			atomic_fetch_sub(&unbounded_out, 1);
		return rc;
	}
	struct job j = { .fn = fn, .arg = arg };
	lock();
	if (tail)
		tail->next = &j;
	else
		head = &j;
	tail = &j;
	unlock();
	atomic_fetch_add(&calls, 1);
	atomic_fetch_add(&submitted, 1);
	gp_futex_wake(&submitted, 1);
	/* Wakeable by the pool, like a descriptor: no deadlock while a call is out. */
	while (!atomic_load_explicit(&j.done, memory_order_acquire)) {
		gp_self()->wait_io = true;
		gp_park_on(&j, -1, "offloaded call");
	}
	if (unbounded)
		atomic_fetch_sub(&unbounded_out, 1);
	return 0;
}

void gp_offload_after_fork(void)
{
	head = tail = NULL;
	atomic_flag_clear(&queue_lock);
	atomic_store(&idle, 0);
	atomic_store(&threads, 0);
	atomic_store(&unbounded_out, 0);
}

int gp_offload_threads(void)
{
	return atomic_load(&threads);
}

unsigned long gp_offload_calls(void)
{
	return atomic_load(&calls);
}

/*
 * Wait queues keyed by address (a "parking lot", as in WebKit and Rust's parking_lot):
 * a green thread parks on the address of a mutex, condition variable or any other
 * object, and is unparked by whoever changes that object. Nothing is stored in the
 * object itself and nothing is allocated: the queue entry lives on the waiter's stack.
 * Each address has FIFO order among waiters of the same real-time priority, higher
 * priorities first (core/green.h), as the kernel orders futex waiters.
 *
 * On one carrier, no other green thread runs between a check of the object and the
 * park that follows it, so "check, then park" needs no lock and loses no wake-up.
 */
#ifndef GP_SYNC_H
#define GP_SYNC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Park the running thread on addr until gp_unpark_on(addr) picks it (0), the timeout
 * passes (-ETIMEDOUT; < 0 waits forever) or it is interrupted (-EINTR). -EAGAIN when
 * it must look again at what it waits for: at once, without parking, when the thread
 * has just rejoined the carrier or its bucket was stamped since it looked (what it saw
 * may have changed), or after a wake-up that did not pick it (an overflow of the async
 * queue wakes every parked thread). Only 0 says that a waker chose this thread.
 */
int gp_park_on(const void *addr, double timeout, const char *what);

/*
 * Whether the running thread, about to park on addr, must look again only because it
 * was away (it rejoined, or yielded to the loop): not if nothing was unparked on addr's
 * bucket since wake_seq seq, when it last looked. Then the mark is dropped, and the park
 * waits. For a wait that looked at nothing before seq (a condition variable's), where
 * looking again would end it for nothing. Under the runtime's lock.
 */
void gp_park_forget_away(const void *addr, uint64_t seq);

/* Unpark up to n threads parked on addr, in their order; returns how many. */
size_t gp_unpark_on(const void *addr, size_t n);

/*
 * From any kernel thread, or a signal handler: unpark one thread parked on addr, soon
 * (the carrier's loop does it). A kernel thread that releases what a green thread may
 * wait for calls this: one ev_async_send, a system call, each time.
 */
void gp_unpark_on_async(const void *addr);

/* The same for every thread parked on addr (a broadcast). */
void gp_unpark_all_on_async(const void *addr);

/* Which class of addresses an overflow of the async queue wakes together (sync.c);
   for the tests. */
size_t gp__sync_overflow_class(const void *addr);

/* For the scheduler: perform the wake-ups gp_unpark_on_async queued. */
void gp__sync_drain_async(void);

/* Start afresh: at start-up, and in the child of fork (which has none of them). */
void gp_sync_reset(void);

/* How many threads are parked on addr. */
size_t gp_parked_on(const void *addr);

#endif

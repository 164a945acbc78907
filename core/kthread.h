/*
 * The kernel threads that carry green code, and hand-off.
 *
 * The carrier (struct gp_runtime: run queue, loop, hub) is owned by one kernel thread at
 * a time, which runs its green threads. A green thread that stays in one system call the
 * library cannot see (flock, a raw syscall()) or in one computation keeps its kernel
 * thread busy: the monitor (watch.c) then hands the carrier to a spare kernel thread,
 * which resumes the hub, and the other green threads go on. The stuck green thread keeps
 * its kernel thread. At its next entry into the runtime (gp_enter) it finds that it is no
 * longer the carrier's running thread: it gives itself back to the carrier's run queue
 * from its kernel thread's idle context, and that kernel thread becomes a spare.
 *
 * Who may touch runtime state: only code inside the bracket (gp_enter..gp_leave in the
 * shim) on the kernel thread that owns the carrier, and the hub. Taking the carrier from
 * a kernel thread is safe only while its green thread runs program code. Checking that
 * is Dekker's handshake with an asymmetric fence: the green thread stores "in the
 * runtime" and then loads the carrier's state with only a compiler barrier between
 * (nothing on the fast path); the monitor stores "revoking", then makes every running
 * thread of the process execute a full barrier (membarrier(2)), then loads the thread's
 * flag. Either the monitor sees the thread inside the runtime and gives up, or the
 * thread sees the revocation and waits for its outcome.
 *
 * This is Go's hand-off (sysmon's retake and handoffp) for code that never announces
 * its system calls: Go marks a goroutine in a system call on entry; here the monitor
 * learns it from the switch counter that stopped moving.
 */
#ifndef GP_KTHREAD_H
#define GP_KTHREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "green.h"

struct gp_runtime;

struct gp_kthread {
	struct gp_green idle;          /* its idle context: where it waits while a spare */
	int tid;
	bool made_idle;                /* the idle context runs on a stack of ours */
	_Atomic uint32_t started;      /* futex word: 1 once it has its malloc arena */
	_Atomic uint32_t assigned;     /* futex word: 1 once given a carrier */
	struct gp_carrier *target;     /* the carrier it is given */
	struct gp_green *rejoining;    /* the green thread it gives back to the carrier */
	struct gp_green *_Atomic carrying;  /* the handed-off green thread it runs, or NULL */
	_Atomic unsigned signalling;   /* pthread_kills between reading carrying and tgkill */
	_Atomic bool signalled;        /* sent a program's signal while it carried a thread */
	long carrying_since_ns;        /* monotonic time the carrier last switched to it */
	bool moved;                    /* runs on a moved carrier's CPUs (gp_kthread_follow),
	                                * not on the process's */
	bool stall_reported;
	struct gp_kthread *next_spare;
};

/* The idle context's code (of the first kernel thread's made context, and of spares). */
void gp__kthread_idle_main(void *m);

/* The kernel thread that started the runtime: it owns the carrier at first. */
void gp_kthread_init_first(struct gp_kthread *m);

/*
 * An idle spare kernel thread, or a new one: NULL when GREENPATCH_MAX_THREADS kernel
 * threads carry green code already, or none can be created. Called by the monitor, and
 * by a carrier about to block (gp_handoff_self).
 */
struct gp_kthread *gp_kthread_spare(void);

/*
 * The program moved carrier c's kernel thread to set (sched_setaffinity of the first
 * thread's own, shim/tid.c), inside the runtime. A kernel thread that takes c over
 * later, at a hand-off, moves there too (gp_kthread_follow): the green threads c runs
 * stay where the program put them, as they do while c keeps its kernel thread.
 */
void gp_kthread_moved(struct gp_carrier *c, const void *set, size_t size);

/* m is about to run c: onto c's CPUs if the program moved c, else back onto the
 * process's if m ran a moved carrier before. */
void gp_kthread_follow(struct gp_kthread *m, struct gp_carrier *c);

/* Give an unused spare back (the hand-off did not happen). */
void gp_kthread_unused(struct gp_kthread *m);

/* Wake spare m to take the carrier: it resumes the hub. */
void gp_kthread_assign(struct gp_kthread *m);

/* Kernel threads that carry green code or wait as spares, the first included. */
unsigned gp_kthread_count(void);

/* The kernel thread made here whose id is tid, or NULL (the first one is not made). */
struct gp_kthread *gp_kthread_of_tid(int tid);

/* Visit the first kernel thread and every one made so far (the monitor's reports). */
void gp_kthread_each(void (*fn)(struct gp_kthread *m, void *arg), void *arg);

/* In the child of fork: only the forking kernel thread came along. */
void gp_kthread_after_fork(void);

#endif

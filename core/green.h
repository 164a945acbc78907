/*
 * The green thread object.
 *
 * A green thread is RUNNING (one per carrier, and each handed-off one on a kernel thread
 * of its own: core/kthread.h), RUNNABLE (on the run queue),
 * PARKED (waiting for an unpark: a descriptor, a timer, a lock, a join) or DONE (its
 * start routine returned; the object lives on until it is joined, or is freed at once
 * when detached). Its stack is given back as soon as it is DONE.
 */
#ifndef GP_GREEN_H
#define GP_GREEN_H

#include <ev.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "stack.h"

struct gp_carrier;

#define GP_GREEN_MAGIC 0x6e65657267706700ULL  /* "\0gpgreen" */
#define GP_GREEN_ENDED 0x646e657267706700ULL  /* "\0gprend": joined or detached, kept */

enum gp_green_state { GP_RUNNABLE, GP_RUNNING, GP_PARKED, GP_DONE };

/* Why the last park ended. */
enum gp_wake { GP_WAKE_UNPARK, GP_WAKE_TIMEOUT, GP_WAKE_INTR };

struct gp_green {
	uint64_t magic;              /* GP_GREEN_MAGIC while the object is valid,
	                              * GP_GREEN_ENDED while kept for reuse (sched.c) */
	uintptr_t handle;            /* the pthread_t the program sees */
	struct gp_ctx ctx;
	struct gp_stack stack;
	struct gp_green *runq_next;
	enum gp_green_state state;
	enum gp_wake wake;
	int saved_errno;
	uint64_t id;
	bool detached;
	bool is_main;
	bool is_hub;
	void *(*start)(void *);
	void *arg;
	void *retval;
	struct gp_green *joiner;     /* parked in gp_join on this thread */
	ev_timer timer;              /* the timeout of the current park */
	const char *waits_for;       /* what the current park waits on, for reports */
	const void *wait_obj;        /* the object it waits on (a lock, a thread), if any */
	bool wait_io;                /* the park can end by a descriptor becoming ready */
	long parked_ns;              /* coarse clock when the park began (the carrier's clock_ns) */
	struct gp_green *all_prev, *all_next;  /* every live object, for reports */
	void *shim_data;             /* owned by the layer that interposes libc */
	uint64_t sig_pending;        /* signals sent to this thread, delivered when it runs */
	uint64_t sig_later;          /* SIGPROF or SIGVTALRM of its CPU time, come while it ran
	                              * inside the library: their handlers run at its return
	                              * to program code, ending no park (shim/sigaction.c) */
	uint64_t raising;            /* signals it is raising on itself now (shim/signal.c) */
	uint64_t raise_stood_in;     /* of those, signals a look delivered in the raise's place
	                              * (shim/sigaction.c, place_given) */
	uint64_t sigmask;            /* its signal mask (bit n-1 for signal n) */
	uint64_t sigmask_at_rejoin;  /* its mask from its rejoin on, when mask_at_rejoin: set
	                              * while handed off in a handler (gp_sigmask_at_rejoin) */
	bool mask_at_rejoin;
	bool intr_restart;           /* the signals that ended its last park asked SA_RESTART */
	bool intr_given;             /* a park ended at once for its pending signals, which
	                              * have not been delivered since (gp_park) */
	bool intr_next_park;         /* interrupted while not parked: its next park ends at
	                              * once (gp_interrupt) */
	bool cancel_pending;         /* pthread_cancel was called on it */
	bool cancel_disabled;        /* PTHREAD_CANCEL_DISABLE, or already acting on a cancel */
	bool cancel_async;           /* PTHREAD_CANCEL_ASYNCHRONOUS */
	unsigned char cancel_signals; /* sent to its kernel thread while it waits apart for a
	                              * pending cancel (shim/cancel.c, core/watch.c) */
	void *cleanup_top;           /* innermost pthread_cleanup_push buffer */
	bool exiting;                /* unwinding for pthread_exit: retval holds its value */
	void *once_running;          /* the pthread_once control whose init it runs, if any */
	struct gp_carrier *on;       /* the carrier it runs on, or last ran on */
	uint64_t left_at;            /* the runtime's wake_seq when it last looked at shared
	                              * state from the runtime: its last leave (core/sync.c) */
	struct gp_kthread *m;        /* while handed off: the kernel thread it runs on */
	bool handed_off;             /* runs on m, outside the carrier, until it rejoins */
	const char *blocking_in;     /* the hook whose call it makes in libc, which may wait
	                              * long (shim/hook.h, GP_BLOCKING), for the stall report */
	/* Odd while it makes a call on a path taken as local while a slow mount exists
	 * (shim/path.h), which a symbolic link may have led into one: the monitor hands
	 * its carrier off once the same call has lasted GP_MAYBE_SLOW_NS (watch.h). */
	uint32_t maybe_slow_seq;
	bool rejoined;               /* has rejoined, or yielded when asked, since its last park */
	long cpu_ns;                 /* CPU time counted so far (gp_green_cpu_ns) */
	long cpu_since;              /* its kernel thread's CPU time when it last began to
	                              * run there, while counted; 0 otherwise */
	int sched_policy;            /* pthread_setschedparam's, or inherited: SCHED_OTHER = 0 */
	int sched_priority;
	char name[16];
};

/*
 * g's real-time priority (SCHED_FIFO, SCHED_RR), or 0: among green threads that wait for
 * the same object or to run, a higher one goes first, as the kernel orders them.
 */
static inline int gp_rt_priority(const struct gp_green *g)
{
	return g->sched_policy == SCHED_FIFO || g->sched_policy == SCHED_RR ? g->sched_priority
									      : 0;
}

#endif

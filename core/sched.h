/*
 * The scheduler: GREENPATCH_CARRIERS carriers (kernel threads that run green threads),
 * a run queue they share, and on each carrier a hub context where it goes when it has
 * nothing to run.
 *
 * A thread that parks switches straight to the next runnable one; only when none is
 * runnable, or when the loop has not been polled for GP_POLL_INTERVAL_NS (so that I/O
 * and timers are never starved by threads that keep yielding), does it switch to its
 * carrier's hub, which polls the loop (blocking only when nothing is runnable) and
 * resumes whatever the loop's callbacks made runnable.
 *
 * Every switch goes through one function, which saves and restores errno (per kernel
 * thread in glibc, per green thread here) and releases the stack of a thread that has
 * just ended, once nothing runs on it any more.
 *
 * DESIGN NOTES (several carriers):
 * - One libev loop, shared, polled by one carrier at a time (the poller), as Go's
 *   netpoller and Tokio's driver, rather than a loop per carrier: a descriptor's one
 *   watcher, its waiters and the threads' timers then stay where they are when a
 *   thread moves between carriers, which a wake-up on an idle carrier makes it do
 *   often; a loop per carrier would have to move watchers between epoll sets (an
 *   epoll_ctl each) or wake threads on the carrier that owns the descriptor. The cost
 *   is that a change another carrier makes to the loop while the poller waits in
 *   epoll_wait must wake it (gp_loop_changed, one eventfd write per poll at most); a
 *   busy carrier polls without waiting, and nobody waits while every carrier is busy.
 * - One lock for the runtime's state (run queue, parking lot, descriptor waiters,
 *   timers, the deadlock detector, statistics), held only in runtime code: the shim's
 *   hooks already kept runtime state inside the bracket (shim/hook.h) against handed-off
 *   threads, so the bracket is the critical section, and program code, where the time
 *   goes in programs that compute, runs in parallel. Its sections are short; an echo
 *   server that does nothing but call the runtime contends on it, which `make bench`
 *   measures. A run queue per carrier with stealing would spread that lock, at the
 *   price of a lock per queue and per wait queue.
 * - A thread woken by a running one runs next on the waker's carrier (Go's runnext),
 *   which keeps a request and its answer on one warm carrier at no cost; a new thread,
 *   or one the loop woke, goes to the shared queue and wakes an idle carrier (a futex,
 *   as Go's wakep), the only system call that spreading work costs. The monitor moves a
 *   runnext whose carrier has not switched for a tick, and wakes an idle carrier when
 *   nobody has polled for a millisecond.
 * - What one kernel thread made atomic by itself needs a check now: a thread decides to
 *   park on what it saw in program code, where another carrier may change it before
 *   the thread is in the runtime. Wake-ups and closes stamp a sequence number; a thread
 *   that would park on something stamped since it last left the runtime looks again
 *   (sync.c, loop.c), as a futex wait compares its word.
 */
#ifndef GP_SCHED_H
#define GP_SCHED_H

#include <ev.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "green.h"
#include "kthread.h"
#include "util.h"

/*
 * While threads keep the run queue busy, the loop is polled (one epoll_wait) once every
 * thread queued at the last poll has run and GP_POLL_INTERVAL_NS has passed since,
 * checked every GP_POLL_CHECK switches with the clock (from the vDSO, about 20 ns):
 * I/O and timers wait at most a turn of the run queue and a millisecond, as in an event
 * loop that runs every callback of a poll before polling again, and a switch costs no
 * amortised system call. Two threads that keep each other runnable poll at most a
 * thousand times a second, a microsecond or two each. (The coarse clock, which costs
 * less, moves only at the kernel's tick: with HZ=250, a thread that slept 1 ms beside
 * two that keep each other runnable woke up to 4 ms late.)
 */
#define GP_POLL_CHECK 64
#define GP_POLL_INTERVAL_NS 1000000L

#define GP_STATS_REASONS 16

struct gp_stats {
	uint64_t created;
	uint64_t peak_alive;
	uint64_t switches;
	uint64_t parks;
	uint64_t polls;
	uint64_t passed;     /* calls a hook on a green thread left to libc (shim/hook.h) */
	uint64_t handoffs;   /* carriers handed to another kernel thread (kthread.h) */
	struct {
		const char *what;    /* the park's name: "fd", "sleep", "mutex"... */
		uint64_t parks;
	} by_reason[GP_STATS_REASONS];
};

/*
 * A carrier: a kernel thread's worth of green code. GREENPATCH_CARRIERS of them run green
 * threads in parallel, each with a hub of its own (where it goes when it has nothing to
 * run). The owner kernel thread runs it; a hand-off gives it to a spare (kthread.h).
 */
/*
 * Who asks a carrier's running thread to yield (yield_request): each takes back only
 * its own request, so that the monitor, which takes its back once the carrier has
 * switched, does not lose a signal's.
 */
#define GP_YIELD_MONITOR 1
#define GP_YIELD_LOOP 2

struct gp_carrier {
	struct gp_green *current;    /* written by the owner, and by a hand-off (kthread.h) */
	_Atomic int revoking;        /* a hand-off is being decided: wait for its outcome */
	struct gp_kthread *owner;    /* the kernel thread that runs it */
	struct gp_kthread first;     /* the kernel thread made for it (the first carrier's:
	                              * the one that started the runtime) */
	_Atomic int hub_waiting;     /* its hub waits (in the loop or idle): the monitor may
	                              * sleep */
	_Atomic int yield_request;   /* the monitor (GP_YIELD_MONITOR), or a signal kept for
	                              * the loop to give (GP_YIELD_LOOP), asks the running
	                              * thread to let the loop run at its next return from
	                              * the runtime */
	struct gp_green hub;
	struct gp_green *runnext;    /* woken by the thread running here: runs next here */
	unsigned runnext_streak;     /* threads taken from runnext in a row */
	uint64_t nudge_sw;           /* switches at the monitor's last nudge (gp_sched_nudge) */
	uint64_t runnext_sw;         /* switches when runnext was filled: unchanged at a
	                              * nudge, its waker has run ever since */
	struct gp_green *ended;      /* just ended: its stack is released after the switch */
	unsigned since_check;        /* switches since the clock was last looked at */
	long clock_ns;               /* coarse clock (ns) when this carrier last read it */
	_Atomic uint64_t switches;   /* the monitor tells a stuck carrier by it */
	uint64_t kernel_sigmask;     /* its kernel thread's signal mask as the kernel has it */
	_Atomic uint32_t wake;       /* futex word: 1 once an idle carrier is given work */
	bool idle;                   /* its hub sleeps on wake, with nothing to run */
	bool thief;                  /* woken to take another carrier's runnext */
	struct gp_carrier *next_idle;
	unsigned index;
	struct gp_green *all;        /* the first carrier's: every thread object, for reports
	                              * (gp_all); the others' stay empty */
	bool moved;                  /* the program moved its kernel thread to cpus
	                              * (gp_kthread_moved): whoever takes it over follows */
	cpu_set_t cpus;
};

/*
 * The runtime all carriers share: the run queue, the loop, the threads. With more than
 * one carrier, it is touched only under its lock, which a carrier holds while it runs
 * runtime code (the bracket, shim/hook.h) and releases in program code, while its hub
 * waits in the loop, and while it sleeps idle. Program code runs in parallel; the
 * runtime's own short critical sections do not (see DESIGN notes in sched.c).
 */
struct gp_runtime {
	struct ev_loop *loop;
	_Atomic uint32_t lock;       /* futex lock: 0 free, 1 held, 2 held with waiters */
	bool multi;                  /* more than one carrier: the lock is taken */
	struct gp_carrier *carriers;
	unsigned ncarriers;
	struct gp_carrier *poller;   /* whose hub polls the loop now, or NULL */
	_Atomic int poll_blocked;    /* the poller waits in epoll_wait, without the lock */
	_Atomic int kicked;          /* it was told to poll again (gp_loop_changed) */
	_Atomic uint64_t poll_round; /* polls the poller has finished (gp_poll_round_wait) */
	struct gp_carrier *idle;     /* carriers whose hubs sleep with nothing to run */
	unsigned nidle;
	bool thief_awake;            /* an idle carrier was woken to take a runnext
	                              * (gp__offer_runnext) and has not looked yet */
	unsigned thief_backoff;      /* thieves in a row that found nothing, up to a bound */
	unsigned thief_skip;         /* offers still to skip after them */
	struct gp_green *_Atomic rejoined;  /* given back by kernel threads that lost it */
	uint64_t wake_seq;           /* unparks on an address so far (sync.h, left_at) */
	bool handoff;                /* hand-off is on (GREENPATCH_HANDOFF, per-thread TLS) */
	struct gp_green *main;
	struct gp_green *runq_head, *runq_tail;
	size_t runq_len;
	struct gp_green *batch_last;  /* last thread queued at the last poll, until it runs */
	long last_poll_tick;         /* coarse clock (ns) at the last poll */
	long last_poll_ns;           /* CLOCK_MONOTONIC (ns) at the last poll */
	size_t alive;                /* threads not yet ended, main included */
	uint64_t next_id;
	ev_async async;              /* keeps the loop alive; cross-thread wake-ups */
	int *errno_at;               /* the carrier's errno (libc's, per kernel thread) */
	int tid;                     /* the first kernel thread's id, which every green
	                              * thread's descriptor holds (glibc's mutex owner) */
	unsigned blocked_by[64];     /* live threads not handed off that block signal n+1 */
	size_t away;                 /* live threads handed off (on kernel threads of their own) */
	size_t parked;               /* threads parked now */
	size_t parked_wakeable;      /* of which a timer or a descriptor can end the park */
	uint64_t parks_ended;        /* parks that have ended, ever: a deadlock has none */
	uint64_t reported_at;        /* parks_ended when the last deadlock was reported */
	bool deadlock_reported;
	ev_timer deadlock_confirm;   /* a deadlock must last this long to be reported */
	bool cpu_clocks;             /* green threads' CPU time is counted (gp_green_cpu_ns) */
	struct gp_green *ended;      /* objects of freed threads, kept for reuse */
	size_t nended;
	struct gp_stats stats;
};

/* NULL until gp_sched_start; then the carrier of the kernel thread that started it. */
extern struct gp_runtime *gp_rt;

/*
 * Called on a new thread before its start routine, and expected to return its result;
 * the layer above sets it to bracket the routine. Default: g->start(g->arg).
 */
extern void *(*gp__thread_main)(struct gp_green *g);

/* Called by the loop when another thread or a signal handler sent it an ev_async. */
extern void (*gp__async_extra)(void);

/*
 * Called on a kernel thread that gives its handed-off thread g back, with the program's
 * signals blocked: the signals sent to this kernel thread for g (pthread_kill), still
 * pending here, become g's.
 */
extern void (*gp__thread_signals_to)(struct gp_green *g);

/*
 * g, rejoining with the mask it took while handed off (gp_sigmask_at_rejoin), unblocked
 * the signals unblocked: the shim gives it those kept for the process until a thread
 * unblocks them. Inside the bracket.
 */
extern void (*gp__rejoin_unblocked)(struct gp_green *g, uint64_t unblocked);

/* Called when the last thread ends (main included). Default: exit(0), as glibc does. */
extern void (*gp__last_thread_ended)(void);

/*
 * Set the carrier's signal mask to mask (signals 1 to 64) if it differs: each green
 * thread has its own mask, installed when it runs (a switch between threads with the
 * same mask costs nothing).
 */
void gp_sigmask_install(uint64_t mask);

/* Whether every carrier's kernel thread blocks all of bits now, in the kernel. */
bool gp_carriers_block(uint64_t bits);

/* g's mask becomes mask (g is the running thread): keeps the hub's mask right. */
void gp_sigmask_set(struct gp_green *g, uint64_t mask);

/*
 * The kernel sets the carrier's mask itself as a handler of the program's begins (the
 * mask of the interrupted code, the action's sa_mask and the signal: done by the time
 * the handler runs, done true: noted, no call) or ends (the ucontext's mask, restored
 * by sigreturn: about to be, done false: set at once). Told before the running thread's
 * own mask follows (gp_sigmask_set), which then makes no system call. Inside the bracket.
 */
void gp_sigmask_by_kernel(uint64_t mask, bool done);

/*
 * The running thread, handed off in a handler, cannot take the runtime's lock there (it
 * would rejoin): its mask becomes mask when it rejoins (gp__rejoin).
 */
void gp_sigmask_at_rejoin(uint64_t mask);

/*
 * The mask g runs with now: for a handed-off thread that took a new one in a handler
 * (gp_sigmask_at_rejoin), that one, which its kernel thread has.
 */
static inline uint64_t gp_sigmask_now(const struct gp_green *g)
{
	if (__builtin_expect(__atomic_load_n(&g->mask_at_rejoin, __ATOMIC_ACQUIRE), 0))
		return __atomic_load_n(&g->sigmask_at_rejoin, __ATOMIC_RELAXED);
	return g->sigmask;
}

/*
 * The loop was changed (a watcher or a timer started) from a carrier that does not poll
 * it: the poller, if it waits in the kernel, polls again with the change.
 */
void gp_loop_changed(void);

/*
 * A descriptor libev registered is about to be closed (the caller is inside the runtime).
 * With several carriers the poller may have had an event for it from the kernel already,
 * which it handles once it has the lock back: if the number were closed (or taken by
 * another file) by then, libev's epoll_ctl on it would fail, and libev would make its
 * whole epoll set anew. So while the poller waits, it is told to poll again, and the
 * close waits for that round (gp_poll_round_wait, in program code): a round number, or 0
 * when there is nothing to wait for.
 */
uint64_t gp_poll_round_to_wait(void);
void gp_poll_round_wait(uint64_t round);

/* Make the running kernel thread a carrier whose main green thread is the current code. */
int gp_sched_start(void);
/*
 * Start the other carriers' kernel threads (gp__create_kernel_thread): after
 * gp_sched_start, inside the runtime, once kernel threads can be made.
 */
void gp_sched_start_carriers(void);

static inline bool gp_sched_started(void) { return gp_rt != NULL; }

/*
 * The running green thread (the hub while the loop runs), kept in its own TLS when
 * threads have TLS of their own, so that a thread knows itself wherever it runs; NULL
 * on kernel threads that run no green code, and with shared TLS, where the carrier's
 * current thread is the answer.
 */
extern __thread struct gp_green *gp__me __attribute__((tls_model("initial-exec")));

static inline struct gp_green *gp_self(void)
{
	struct gp_green *g = gp__me;
	return __builtin_expect(g != NULL, 1) ? g : gp_rt->carriers[0].current;
}

/* The carrier the running code is on (the running thread's, or the hub's own). */
static inline struct gp_carrier *gp_here(void)
{
	return gp_self()->on;
}

/*
 * The runtime lock (with more than one carrier). Held by a carrier, not by a green
 * thread: a thread that parks leaves it to the next one the carrier runs, which
 * releases it on its way back to program code. Spins a little first: the runtime's
 * critical sections are short, and a system call costs more than most of them.
 */
void gp__rt_lock_slow(void);
void gp__rt_unlock_wake(void);

static inline void gp_rt_lock(void)
{
	uint32_t free_ = 0;
	if (__builtin_expect(!__atomic_compare_exchange_n(&gp_rt->lock, &free_, 1, false,
							  __ATOMIC_ACQUIRE, __ATOMIC_RELAXED), 0))
		gp__rt_lock_slow();
}

static inline void gp_rt_unlock(void)
{
	if (__builtin_expect(__atomic_exchange_n(&gp_rt->lock, 0, __ATOMIC_RELEASE) == 2, 0))
		gp__rt_unlock_wake();
}

/*
 * Where a green thread's flag "runs program code" lies, from its thread pointer (the
 * shim's bracket, shim/hook.h): the monitor reads it before a hand-off. 0: unknown,
 * and there is no hand-off.
 */
extern long gp__in_user_offset;

/* Where its count of entries into the runtime lies, likewise (the monitor's). */
extern long gp__enters_offset;

/*
 * Read the running thread g's two words from another kernel thread, without faulting
 * should g end meanwhile: true, with *in_program (its flag) and *enters.
 */
bool gp_sched_peek_thread(const struct gp_green *g, bool *in_program, unsigned *enters);

/*
 * The running green thread is not, or may no longer be, the carrier's: it was handed
 * off (kthread.h). Wait for a hand-off being decided; if it happened, give the thread
 * back to the carrier's run queue and return once the carrier runs it again.
 */
void gp__rejoin(void);

/*
 * Called by the shim as the running green thread enters the runtime, after it has
 * marked itself as inside: returns at once while the thread owns the carrier.
 */
static inline void gp_sched_check_owner(void)
{
	struct gp_green *self = gp_self();
	struct gp_carrier *c = self->on;
	/* revoking first: once it reads 0, a hand-off that happened has set current. */
	if (__builtin_expect(__atomic_load_n(&c->revoking, __ATOMIC_ACQUIRE) ||
			     __atomic_load_n(&c->current, __ATOMIC_RELAXED) != self, 0))
		gp__rejoin();   /* resumed by a carrier, which holds the lock for it */
	else if (gp_rt->multi)
		gp_rt_lock();
}

/*
 * gp_sched_check_owner for code that must not rejoin: a handler of the program's, which
 * must end on the kernel thread it began on (shim/hook.h, gp__in_handler). True with the
 * carrier owned, as gp_sched_check_owner leaves it; false, changing nothing, where the
 * carrier was handed off.
 */
static inline bool gp_sched_own_unless_handed_off(void)
{
	struct gp_green *self = gp_self();
	struct gp_carrier *c = self->on;
	for (unsigned spins = 0; __atomic_load_n(&c->revoking, __ATOMIC_ACQUIRE); spins++)
		gp_spin_step(spins, 1000);
	if (__atomic_load_n(&c->current, __ATOMIC_RELAXED) != self)
		return false;
	if (gp_rt->multi)
		gp_rt_lock();
	return true;
}

/*
 * The count of unparks on addresses so far (gp_park_on), read from program code before
 * a caller commits to a park it makes later, across other entries into the runtime.
 */
static inline uint64_t gp_wake_seq(void)
{
	return __atomic_load_n(&gp_rt->wake_seq, __ATOMIC_RELAXED);
}

/* A new wake_seq, for an unpark or a close that a thread may have missed. Under the lock. */
static inline uint64_t gp_wake_stamp(void)
{
	uint64_t seq = gp_rt->wake_seq + 1;
	__atomic_store_n(&gp_rt->wake_seq, seq, __ATOMIC_RELAXED);
	return seq;
}

/*
 * The thread about to leave woke a thread into the runnext of its carrier c, and another
 * carrier sleeps or waits in the loop: wake it to take that thread, should this one go
 * on in program code (sched.c).
 */
void gp__offer_runnext(struct gp_runtime *rt, struct gp_carrier *c);

/* Back to program code: the runtime lock goes (with more than one carrier). */
static inline void gp_sched_leave(void)
{
	struct gp_runtime *rt = gp_rt;
	if (rt->multi) {
		struct gp_green *self = gp_self();
		self->left_at = rt->wake_seq;
		if (GP_UNLIKELY(self->on->runnext != NULL) && !rt->thief_awake &&
		    (rt->idle || __atomic_load_n(&rt->poll_blocked, __ATOMIC_RELAXED)))
			gp__offer_runnext(rt, self->on);
		gp_rt_unlock();
	}
}

/*
 * The monitor's hand-off: g has run on the carrier's kernel thread, with the switch
 * counter at sw, since since_ns (monotonic), longer than the threshold. Give the
 * carrier to a spare kernel thread if g is still there, has not switched, and runs
 * program code, not the runtime's (it may have called the runtime and come back
 * meanwhile: a thread that loops on calls that never wait does so all the time). 1 if
 * handed off, 0 if g moved meanwhile, -EAGAIN if no spare could be had
 * (GREENPATCH_MAX_THREADS).
 */
int gp_handoff(struct gp_carrier *c, struct gp_green *g, uint64_t sw, long since_ns);

/*
 * Go's hand-off before a system call known to block: the running thread, inside the
 * runtime, is about to make a call that may wait long and that the library cannot make
 * wait green (a file lock, a process-shared semaphore, a directory lookup). The carrier
 * goes to a spare kernel thread now, rather than after the monitor's threshold; the
 * thread makes its call on its own kernel thread, with native semantics (signals,
 * EINTR, the process's identity), then rejoins (gp__rejoin). False, and nothing
 * changed, without hand-off (GREENPATCH_HANDOFF=0, shared TLS) or a spare
 * (GREENPATCH_MAX_THREADS).
 */
bool gp_handoff_self(void);

/*
 * The monitor, every tick, with several carriers: if carriers sleep idle while a thread
 * waits in a busy carrier's runnext (its waker computes on: the carrier has not
 * switched since the slot was filled, or since the last tick), or in the run queue, or
 * while nobody has polled the loop for a tick (every carrier busy in one computation),
 * wake one. Takes the lock. True if a thread was taken from a runnext: its waker
 * computes, and the monitor keeps looking every tick.
 */
bool gp_sched_nudge(void);

/* A spare kernel thread m was given the carrier: run its hub until m is needed back. */
void gp__take_over(struct gp_kthread *m);

/* On kernel thread m's idle context: give g, handed off and now back, to the carrier. */
void gp__give_back(struct gp_green *g);

struct gp_spawn_attr {
	size_t stack_size;           /* 0: gp_config.stack_size */
	void *stack_addr;            /* the program's own stack (pthread_attr_setstack), or NULL */
	bool detached;
	bool explicit_sched;         /* the policy below, not the creator's */
	int sched_policy;
	int sched_priority;
};

/* A new runnable thread running start(arg): 0, -EAGAIN or -EINVAL. */
int gp_spawn(struct gp_green **out, void *(*start)(void *), void *arg,
	     const struct gp_spawn_attr *attr);

/* End the running thread with retval. */
_Noreturn void gp_exit(void *retval);

/*
 * Wait for g to end: 0 (and *retval), -EDEADLK or -EINVAL; g is then freed. -EINTR
 * when the wait was interrupted: for a cancel to act on (the join is a cancellation
 * point), or for a signal, after which the caller stays g's joiner and calls again.
 */
int gp_join(struct gp_green *g, void **retval);

/* 0, or -EINVAL if g is already detached. An ended thread is freed at once. */
int gp_detach(struct gp_green *g);

/* Let the other runnable threads run; come back after them. False if there were none. */
bool gp_yield(void);

/*
 * The monitor saw the running thread hold the carrier past GREENPATCH_HANDOFF while it
 * calls the runtime now and then (a loop of calls that never wait): it asks it to
 * yield, which is cheaper than a hand-off and needs no spare. gp_leave honours it.
 */
static inline bool gp_yield_requested(void)
{
	return __builtin_expect(__atomic_load_n(&gp_here()->yield_request, __ATOMIC_RELAXED), 0);
}

/*
 * From a signal handler on a carrier, in a green thread: something the loop must act on
 * has arrived (a signal kept for another thread, shim/sigaction.c). The loop is polled
 * only when the run queue empties, or every GP_POLL_CHECK switches, which threads that
 * compute between calls make once per hand-off: the running thread yields to the loop
 * at its next return from the runtime instead.
 */
static inline void gp_sched_loop_soon(void)
{
	__atomic_or_fetch(&gp_here()->yield_request, GP_YIELD_LOOP, __ATOMIC_RELAXED);
}

/*
 * Honour it: to the back of the run queue, through the loop, which polls first. The
 * thread's next park on an address then looks again first (gp_park_on), as after a
 * rejoin.
 */
void gp_yield_to_loop(void);

/*
 * Park the running thread until gp_unpark (0), timeout seconds pass (-ETIMEDOUT;
 * timeout < 0 waits forever) or gp_interrupt (-EINTR). what names the wait for reports.
 */
int gp_park(double timeout, const char *what);

/*
 * Describe what g waits on, after "waits for": the layer above knows who holds a lock.
 * Default: the wait's name and object address.
 */
extern void (*gp__describe_wait)(struct gp_green *g, char *buf, size_t len);

/* Make a parked thread runnable. No effect on a thread that is not parked. */
void gp_unpark(struct gp_green *g);

/*
 * End g's park with -EINTR, queued ahead of the runnable threads of its priority: it is
 * interrupted for a signal or a cancel, which natively act at once. No effect on a
 * thread that is not parked.
 */
void gp_interrupt(struct gp_green *g);

/*
 * The same, and if g is not parked, its next park ends so at once: for a cancel, which
 * a thread on its way to a park (on another carrier) must not miss.
 */
void gp_interrupt_now_or_next(struct gp_green *g);

/* Sleep for seconds (>= 0): 0, or -EINTR. */
int gp_sleep(double seconds);

/*
 * In the child of fork(2): the other green threads did not come along, and the loop's
 * epoll instance is shared with the parent. Drop the runtime (closing the loop's
 * descriptors, never touching the shared epoll set) so that the child runs as a
 * plain single-threaded process until it creates a thread, which starts a fresh
 * runtime around whatever code is running.
 */
void gp_sched_after_fork(void);

/* Every thread object, through all_next (the hubs are not among them). */
static inline struct gp_green *gp_all(void)
{
	return gp_rt->carriers[0].all;
}

/* Number of green threads not yet ended. */
static inline size_t gp_alive(void) { return gp_rt ? gp_rt->alive : 1; }

/* Look a handle the program holds up: the thread, or NULL if it names none of ours. */
struct gp_green *gp_find(uintptr_t handle);

/*
 * g's thread id: the first thread's kernel id, or one that names no kernel thread
 * (core/tls.h), which glibc's descriptor of g holds and gettid answers (shim/tid.c).
 */
int gp_green_tid(const struct gp_green *g);

/* The live green thread whose id is tid, or NULL. Inside the bracket. */
struct gp_green *gp_find_tid(int tid);

/*
 * The CPU time g has used, in nanoseconds. Counted from the first call on: each switch
 * from then on costs a system call (the carrier's CPU clock), which a program that never
 * asks for a thread's CPU time does not pay. The first thread's count starts with what
 * it used before the runtime started. Inside the bracket.
 */
long gp_green_cpu_ns(struct gp_green *g);

/* The same for the running thread, from program code without the bracket: a thread that
 * reads its own clock as it computes stays where it runs (handed off, say). */
long gp_self_cpu_ns(void);

/* Does the handle name a thread of ours that was joined, or ended detached? */
bool gp_handle_ended(uintptr_t handle);

#endif

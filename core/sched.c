#include "sched.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "debug.h"
#include "fdstate.h"
#include "loop.h"
#include "mounts.h"
#include "offload.h"
#include "ownfd.h"
#include "sync.h"
#include "tls.h"
#include "watch.h"
#include "util.h"

#define HUB_STACK_SIZE (256 * 1024)
#define IDLE_STACK_SIZE (64 * 1024)   /* the first kernel thread's idle context */
#define DEFAULT_STACK_SIZE (256 * 1024)

struct gp_runtime *gp_rt;
__thread struct gp_green *gp__me __attribute__((tls_model("initial-exec")));
long gp__in_user_offset;
long gp__enters_offset;

static struct gp_runtime the_runtime;
static struct gp_green the_main;

static void *default_thread_main(struct gp_green *g)
{
	return g->start(g->arg);
}

static void default_last_thread_ended(void)
{
	exit(0);
}

void *(*gp__thread_main)(struct gp_green *g) = default_thread_main;
void (*gp__last_thread_ended)(void) = default_last_thread_ended;

/* ---- run queue and the list of all threads ---- */

/*
 * Before the first thread of lower real-time priority: FIFO among equals, or ahead of
 * them (a thread interrupted for a signal, whose handler runs at once natively).
 */
static void runq_insert_by_priority(struct gp_runtime *c, struct gp_green *g, int prio,
				    bool ahead)
{
	struct gp_green **at = &c->runq_head;
	while (*at && gp_rt_priority(*at) >= prio + ahead)
		at = &(*at)->runq_next;
	g->runq_next = *at;
	*at = g;
	if (!g->runq_next)
		c->runq_tail = g;
	c->runq_len++;
}

static void runq_push(struct gp_runtime *c, struct gp_green *g)
{
	int prio = gp_rt_priority(g);
	if (GP_UNLIKELY(prio > 0)) {
		runq_insert_by_priority(c, g, prio, false);
		return;
	}
	g->runq_next = NULL;
	if (c->runq_tail)
		c->runq_tail->runq_next = g;
	else
		c->runq_head = g;
	c->runq_tail = g;
	c->runq_len++;
}

static struct gp_green *runq_pop(struct gp_runtime *c)
{
	struct gp_green *g = c->runq_head;
	if (g) {
		c->runq_head = g->runq_next;
		if (!c->runq_head)
			c->runq_tail = NULL;
		if (g == c->batch_last)
			c->batch_last = NULL;
		c->runq_len--;
	}
	return g;
}

static void all_add(struct gp_runtime *c, struct gp_green *g)
{
	g->all_prev = NULL;
	struct gp_green **all = &c->carriers[0].all;
	g->all_next = *all;
	if (*all)
		(*all)->all_prev = g;
	*all = g;
}

static void all_remove(struct gp_runtime *c, struct gp_green *g)
{
	if (g->all_prev)
		g->all_prev->all_next = g->all_next;
	else
		c->carriers[0].all = g->all_next;
	if (g->all_next)
		g->all_next->all_prev = g->all_prev;
}

/* ---- switching ---- */

/*
 * Up to this many objects of freed threads are kept, marked GP_GREEN_ENDED, and used
 * again for new threads, as glibc keeps the descriptors of its ended threads with their
 * stacks: a handle used after its join names an ended thread (ESRCH) rather than freed
 * memory, or a new thread once the object is reused, as natively.
 */
#define KEEP_ENDED 4096

static void free_green(struct gp_green *g)
{
	struct gp_runtime *rt = gp_rt;
	all_remove(rt, g);
	g->magic = 0;
	if (g->is_main)
		return;
	if (rt->nended >= KEEP_ENDED) {
		free(g);
		return;
	}
	g->magic = GP_GREEN_ENDED;
	g->runq_next = rt->ended;
	rt->ended = g;
	rt->nended++;
}

/* A zeroed object for a new thread: a kept one, the most recently freed first. */
static struct gp_green *new_green(struct gp_runtime *rt)
{
	struct gp_green *g = rt->ended;
	if (!g)
		return calloc(1, sizeof(*g));
	rt->ended = g->runq_next;
	rt->nended--;
	memset(g, 0, sizeof(*g));
	return g;
}

/* The thread that ended just before this switch no longer runs on its stack. */
static __attribute__((noinline)) void release(struct gp_carrier *c, struct gp_green *g)
{
	c->ended = NULL;
	gp_ctx_release(&g->ctx);
	if (g->ctx.tp)
		gp_tls_release(g->ctx.tp);
	gp_stack_free(&g->stack);
	if (g->detached)
		free_green(g);
}

/* Checked after every switch: inline, since a thread has almost never just ended. */
static inline void release_ended(struct gp_carrier *c)
{
	if (GP_UNLIKELY(c->ended != NULL))
		release(c, c->ended);
}

static void install_mask_on(struct gp_carrier *c, uint64_t mask)
{
	uint64_t was = __atomic_load_n(&c->kernel_sigmask, __ATOMIC_RELAXED);
	if (mask == was)
		return;
	/*
	 * A bit set here means the kernel blocks that signal (gp_carriers_block relies on
	 * it): signals let in are noted before the call, signals blocked after it. A
	 * handler that runs as the call returns may block one more signal there for the
	 * rest of the wait (shim/sigaction.c) and notes it itself, which neither step
	 * undoes. A raw call: sigprocmask is the program's to interpose. 8 bytes: the
	 * kernel's set.
	 */
	__atomic_and_fetch(&c->kernel_sigmask, mask | ~was, __ATOMIC_SEQ_CST);
	int saved = errno;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(mask));
	errno = saved;
	__atomic_or_fetch(&c->kernel_sigmask, mask, __ATOMIC_SEQ_CST);
}

bool gp_carriers_block(uint64_t bits)
{
	struct gp_runtime *rt = gp_rt;
	for (unsigned i = 0; i < rt->ncarriers; i++)
		if ((__atomic_load_n(&rt->carriers[i].kernel_sigmask, __ATOMIC_SEQ_CST) & bits) !=
		    bits)
			return false;
	return true;
}

void gp_sigmask_install(uint64_t mask)
{
	install_mask_on(gp_here(), mask);
}

void gp_sigmask_by_kernel(uint64_t mask, bool done)
{
	struct gp_carrier *c = gp_here();
	/*
	 * At a handler's end the kernel keeps the handler's mask until sigreturn, while
	 * program code runs: a signal the handler's mask lets in may be handled there, and
	 * that handler's return would restore the handler's mask, taking it for the
	 * thread's. So the mask sigreturn sets is set now, one call where it differs.
	 */
	if (!done)
		install_mask_on(c, mask);
	else
		__atomic_store_n(&c->kernel_sigmask, mask, __ATOMIC_SEQ_CST);
}

void gp_sigmask_at_rejoin(uint64_t mask)
{
	struct gp_green *g = gp_self();
	g->sigmask_at_rejoin = mask;
	__atomic_store_n(&g->mask_at_rejoin, true, __ATOMIC_RELEASE);
}

/* Count g's blocked signals in or out of blocked_by. */
static void count_mask(struct gp_runtime *rt, uint64_t mask, int delta)
{
	for (; mask; mask &= mask - 1)
		rt->blocked_by[__builtin_ctzll(mask)] += (unsigned)delta;
}

/*
 * While a hub waits in the loop, a signal for the process must be deliverable if any
 * green thread would take it, as Linux delivers it to any thread that does not block it:
 * the hub blocks only what every one of them blocks. A handed-off thread runs on a
 * kernel thread of its own, whose mask the kernel sees: a signal that only it takes
 * must go to it, to end its system call with EINTR as natively, so the hub leaves it
 * out of the count and, with nobody else, blocks every signal. Idle carriers (which
 * sleep on a futex, not in the loop) block every signal: the poller, or a running
 * thread, takes them.
 */
static uint64_t hub_mask(const struct gp_runtime *rt)
{
	size_t here = rt->alive - rt->away;
	if (here == 0)
		return GP_SIGMASK_LIBRARY_THREAD;
	uint64_t mask = 0;
	for (int i = 0; i < 64; i++)
		if (rt->blocked_by[i] >= here)
			mask |= 1ull << i;
	return mask;
}

/* g leaves the carriers for a kernel thread of its own, or (away false) comes back. */
static void count_away(struct gp_runtime *rt, struct gp_green *g, bool away)
{
	count_mask(rt, g->sigmask, away ? -1 : +1);
	if (away)
		rt->away++;
	else
		rt->away--;
}

void gp_sigmask_set(struct gp_green *g, uint64_t mask)
{
	struct gp_runtime *rt = gp_rt;
	count_mask(rt, g->sigmask, -1);
	count_mask(rt, mask, +1);
	g->sigmask = mask;
	gp_sigmask_install(mask);
}

/* From self to next on this kernel thread: self's CPU time so far, next's from now. */
static void count_cpu(struct gp_green *self, struct gp_green *next)
{
	long now = gp_thread_cpu_ns(0);
	if (self->cpu_since)
		self->cpu_ns += now - self->cpu_since;
	self->cpu_since = 0;
	next->cpu_since = now;
}

long gp_self_cpu_ns(void)
{
	struct gp_green *self = gp_self();
	long now = gp_thread_cpu_ns(0);
	/* While it runs, only this thread changes its own count (count_cpu runs at its
	 * switches, gp__rejoin on its way back): no lock. A thread that ran when counting
	 * began starts its count now. */
	if (!__atomic_load_n(&gp_rt->cpu_clocks, __ATOMIC_RELAXED))
		__atomic_store_n(&gp_rt->cpu_clocks, true, __ATOMIC_RELAXED);
	if (!self->cpu_since)
		self->cpu_since = now;
	return self->cpu_ns + (now - self->cpu_since);
}

long gp_green_cpu_ns(struct gp_green *g)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *self = gp_self();
	if (!rt->cpu_clocks) {
		rt->cpu_clocks = true;
		self->cpu_since = gp_thread_cpu_ns(0);
	}
	long t = g->cpu_ns;
	if (!g->cpu_since)
		return t;
	int tid = 0;   /* the kernel thread that runs it now: this one for self */
	if (g != self) {
		if (g->handed_off && g->m)
			tid = g->m->tid;
		else if (g->state == GP_RUNNING && g->on)
			tid = g->on->owner->tid;
		else
			return t;
	}
	long now = gp_thread_cpu_ns(tid);
	return now > g->cpu_since ? t + (now - g->cpu_since) : t;
}

/*
 * With TLS of its own, each thread has its own errno, switched with the thread pointer.
 * With shared TLS (GREENPATCH_TLS=shared, one carrier), errno is saved and restored
 * through the pointer kept at start: errno is __errno_location(), a call into libc twice
 * per switch otherwise; the carrier is one kernel thread, so the address is fixed. The
 * mask is compared here, so that a switch between threads with the same mask (all of
 * them, usually) makes no call at all.
 *
 * Nothing here keeps a TLS address across the switch: self resumes on its own TLS, and
 * perhaps on another carrier than it left (the one that picked it from the run queue).
 */
static void switch_to(struct gp_carrier *c, struct gp_green *next)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *self = c->current;
	uint64_t mask = next->is_hub ? hub_mask(rt) : next->sigmask;
	if (GP_UNLIKELY(mask != c->kernel_sigmask))
		install_mask_on(c, mask);
	bool shared_tls = rt->errno_at != NULL;
	if (shared_tls)
		self->saved_errno = *rt->errno_at;
	if (GP_UNLIKELY(rt->cpu_clocks))
		count_cpu(self, next);
	next->on = c;
	c->current = next;
	next->state = GP_RUNNING;
	rt->stats.switches++;
	__atomic_store_n(&c->switches, c->switches + 1, __ATOMIC_RELAXED);
	gp_ctx_switch(&self->ctx, &next->ctx);
	/* Resumed: whoever switched here has set current, on its carrier, to self. */
	release_ended(self->on);
	if (shared_tls)
		*rt->errno_at = self->saved_errno;
}

static long coarse_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static long mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/*
 * Have the threads queued at the last poll all run, and has the loop gone unpolled for
 * GP_POLL_INTERVAL_NS since? Looks at the clock every GP_POLL_CHECK calls. A poll
 * before those threads have run would find the descriptors they were woken for still
 * ready and report them again, once per poll while they wait their turn: with 10,000
 * threads queued, many times each.
 */
static bool poll_due(struct gp_runtime *rt, struct gp_carrier *c)
{
	if (rt->batch_last)
		return false;
	if (++c->since_check < GP_POLL_CHECK)
		return false;
	c->since_check = 0;
	c->clock_ns = coarse_now();
	return mono_now() - rt->last_poll_ns >= GP_POLL_INTERVAL_NS;
}

/*
 * The next thread for carrier c from its own slot or the run queue, or NULL. Two threads
 * that wake each other in turn would keep the slot to themselves: after GP_POLL_CHECK
 * turns in a row, the slot's thread goes to the back of the queue.
 */
static struct gp_green *take_runnable(struct gp_runtime *rt, struct gp_carrier *c)
{
	struct gp_green *g = c->runnext;
	if (g) {
		c->runnext = NULL;
		if ((++c->runnext_streak < GP_POLL_CHECK || !rt->runq_head) &&
		    (!rt->runq_head || gp_rt_priority(rt->runq_head) <= gp_rt_priority(g)))
			return g;
		runq_push(rt, g);
	}
	c->runnext_streak = 0;
	return runq_pop(rt);
}

/* The next thing to run when the current thread stops running. */
static struct gp_green *pick_next(struct gp_runtime *rt, struct gp_carrier *c)
{
	if (!poll_due(rt, c)) {
		struct gp_green *g = take_runnable(rt, c);
		if (g)
			return g;
	}
	return &c->hub;
}

/* The running thread is parked, or queued: run something else until it is resumed. */
static void schedule(struct gp_runtime *rt, struct gp_carrier *c)
{
	struct gp_green *next = pick_next(rt, c);
	if (next == c->current) {
		next->state = GP_RUNNING;
		return;
	}
	switch_to(c, next);
}

/* ---- several carriers ---- */

void gp__rt_lock_slow(void)
{
	_Atomic uint32_t *l = &gp_rt->lock;
	/*
	 * Spin first: the holder is on another CPU, in a section of a few hundred
	 * nanoseconds, more often than not. The longest section a running holder makes is a
	 * switch, which holds the lock across its thread pointer's install: an arch_prctl
	 * system call where the kernel does not allow wrfsbase (core/tls.h), several
	 * microseconds in some virtual machines. Sleeping costs more than that (a futex
	 * wait, the holder's wake and both kernel threads' switches), so the spin outlasts
	 * it: 400 pauses, 7 to 16 us depending on the CPU. With 2 carriers and a 3.3 us
	 * arch_prctl, 100 pauses made 0.29 futex calls per echo round trip, 400 make 0.04.
	 */
	for (int i = 0; i < 400; i++) {
		gp_cpu_relax();
		uint32_t free_ = 0;
		if (__atomic_load_n(l, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(l, &free_, 1, false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
	}
	while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE) != 0)
		gp_futex_wait(l, 2, -1);
}

void gp__rt_unlock_wake(void)
{
	gp_futex_wake(&gp_rt->lock, 1);
}

/* Wake one idle carrier, if any, to run what is queued. */
static void wake_idle(struct gp_runtime *rt)
{
	struct gp_carrier *c = rt->idle;
	if (!c)
		return;
	rt->idle = c->next_idle;
	rt->nidle--;
	c->idle = false;
	__atomic_store_n(&c->wake, 1, __ATOMIC_RELEASE);
	gp_futex_wake(&c->wake, 1);
}

/*
 * Work was queued: with several carriers, an idle one runs it, or the poller does,
 * woken from its wait (its callbacks queue threads while it does not wait: nothing to
 * do then).
 */
static void work_queued(struct gp_runtime *rt)
{
	if (!rt->multi)
		return;
	if (rt->idle)
		wake_idle(rt);
	else
		gp_loop_changed();
}

void gp_loop_changed(void)
{
	struct gp_runtime *rt = gp_rt;
	if (rt->multi && __atomic_load_n(&rt->poll_blocked, __ATOMIC_ACQUIRE) &&
	    !__atomic_exchange_n(&rt->kicked, 1, __ATOMIC_ACQ_REL)) {
		int saved = errno;
		ev_async_send(rt->loop, &rt->async);
		errno = saved;
	}
}

uint64_t gp_poll_round_to_wait(void)
{
	struct gp_runtime *rt = gp_rt;
	if (!rt->multi || !__atomic_load_n(&rt->poll_blocked, __ATOMIC_ACQUIRE))
		return 0;
	gp_loop_changed();
	return rt->poll_round + 1;
}

void gp_poll_round_wait(uint64_t round)
{
	/* Bounded all the same: a poller that cannot run (stopped) must not hold a close. */
	for (unsigned spins = 0; __atomic_load_n(&gp_rt->poll_round, __ATOMIC_ACQUIRE) < round &&
				 spins < 20000; spins++)
		gp_spin_step(spins, 200);
}

/* libev calls these around its wait in the kernel: other carriers go on meanwhile. */
static void loop_release(struct ev_loop *loop)
{
	(void)loop;
	struct gp_runtime *rt = gp_rt;
	__atomic_store_n(&rt->poll_blocked, 1, __ATOMIC_RELEASE);
	gp_rt_unlock();
}

static void loop_acquire(struct ev_loop *loop)
{
	(void)loop;
	struct gp_runtime *rt = gp_rt;
	gp_rt_lock();
	__atomic_store_n(&rt->poll_blocked, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rt->kicked, 0, __ATOMIC_RELAXED);
}

/*
 * Nothing to run and another carrier polls: sleep until given work. Every signal is
 * blocked meanwhile (hub_mask): the poller takes those for the process.
 */
static void idle_sleep(struct gp_runtime *rt, struct gp_carrier *c)
{
	/* The last to go idle while the poller waits: every thread may be parked for good,
	 * which the poller did not see when it began to wait. */
	if (rt->nidle + 2 >= rt->ncarriers && !rt->runq_head)
		gp__deadlock_check(rt);
	c->idle = true;
	c->next_idle = rt->idle;
	rt->idle = c;
	rt->nidle++;
	__atomic_store_n(&c->wake, 0, __ATOMIC_RELAXED);
	install_mask_on(c, GP_SIGMASK_LIBRARY_THREAD);
	__atomic_store_n(&c->hub_waiting, 1, __ATOMIC_SEQ_CST);
	gp_rt_unlock();
	while (!__atomic_exchange_n(&c->wake, 0, __ATOMIC_ACQUIRE))
		gp_futex_wait(&c->wake, 0, -1);
	/* Its system call made before the lock is taken, not while others wait for it. */
	__atomic_store_n(&c->hub_waiting, 0, __ATOMIC_SEQ_CST);
	gp_monitor_wake();
	gp_rt_lock();
	c->clock_ns = coarse_now();
}

/*
 * Go's spinning M, which steals a running P's runnext: a thread woken into runnext
 * waits for its waker to switch, which a waker that goes on computing does only at the
 * monitor's nudge, a millisecond or more later, while another carrier sleeps. So when
 * the waker leaves the runtime with runnext filled, an idle carrier is woken as a
 * thief. The futex wake-up takes it tens of microseconds, Go's grace before a steal:
 * a waker that parked meanwhile (a request, then the wait for its answer) has run the
 * thread itself, and the thief finds nothing and sleeps again. One thief at a time: an
 * idle carrier, or else the poller, told to come out of its wait.
 *
 * Two threads that hand a lock or a condition back and forth (each wakes the other,
 * then waits) would wake a thief at every turn for nothing, a system call each and a
 * wake-up of another CPU: after thieves that found nothing, offers are skipped, twice
 * as many after each, up to 63 in 64, until a thief finds a thread to take again.
 */
#define THIEF_BACKOFF_MAX 6

void gp__offer_runnext(struct gp_runtime *rt, struct gp_carrier *c)
{
	struct gp_carrier *thief = rt->idle ? rt->idle : rt->poller;
	if (!thief || thief == c)
		return;
	if (rt->thief_skip) {
		rt->thief_skip--;
		return;
	}
	rt->thief_awake = true;
	thief->thief = true;
	if (thief == rt->idle)
		wake_idle(rt);
	else
		gp_loop_changed();
}

/* For thief c, which found next to run (NULL: nothing): the runnext of a carrier that
 * has not switched since it was filled, if next is NULL. */
static struct gp_green *steal_runnext(struct gp_runtime *rt, struct gp_carrier *c,
				      struct gp_green *next)
{
	c->thief = false;
	rt->thief_awake = false;
	if (next)
		return next;
	for (unsigned i = 0; i < rt->ncarriers; i++) {
		struct gp_carrier *o = &rt->carriers[i];
		struct gp_green *g = o->runnext;
		if (o != c && g &&
		    __atomic_load_n(&o->switches, __ATOMIC_RELAXED) == o->runnext_sw) {
			o->runnext = NULL;
			rt->thief_backoff = 0;
			return g;
		}
	}
	if (rt->thief_backoff < THIEF_BACKOFF_MAX)
		rt->thief_backoff++;
	rt->thief_skip = (1u << rt->thief_backoff) - 1;
	return NULL;
}

bool gp_sched_nudge(void)
{
	struct gp_runtime *rt = gp_rt;
	/* Nobody to give work to: every carrier runs a thread. */
	if (!rt->multi || (!__atomic_load_n(&rt->nidle, __ATOMIC_RELAXED) &&
			   !__atomic_load_n(&rt->poll_blocked, __ATOMIC_RELAXED)))
		return false;
	gp_rt_lock();
	bool moved = false;
	for (unsigned i = 0; i < rt->ncarriers; i++) {
		struct gp_carrier *c = &rt->carriers[i];
		uint64_t sw = __atomic_load_n(&c->switches, __ATOMIC_RELAXED);
		if (c->runnext && (sw == c->nudge_sw || sw == c->runnext_sw)) {
			runq_push(rt, c->runnext);
			c->runnext = NULL;
			moved = true;
		}
		c->nudge_sw = sw;
	}
	if (moved || rt->runq_head)
		work_queued(rt);   /* an idle carrier, or the poller from its wait */
	else if (!rt->poller && coarse_now() - rt->last_poll_tick > 1000000L)
		wake_idle(rt);
	gp_rt_unlock();
	return moved;
}

/* Every other carrier sleeps with nothing to run: a deadlock may be seen. */
static bool others_idle(const struct gp_runtime *rt)
{
	return rt->nidle + 1 >= rt->ncarriers;
}

/* Poll the loop from c's hub: wait in it when nothing is runnable. */
static void hub_poll(struct gp_runtime *rt, struct gp_carrier *c)
{
	bool wait = !rt->runq_head && !c->runnext;
	if (wait && others_idle(rt))
		gp__deadlock_check(rt);
	c->since_check = 0;
	rt->last_poll_tick = c->clock_ns = coarse_now();
	rt->last_poll_ns = mono_now();
	rt->stats.polls++;
	rt->poller = c;
	/* The poller takes the process's signals (an idle carrier blocked them all). */
	install_mask_on(c, hub_mask(rt));
	/*
	 * libev may make its epoll set anew inside (it does when the kernel reports an event
	 * for a number's earlier file, which a close racing another carrier's system call on
	 * that file can leave behind): its close of the old descriptor and the new ones it
	 * makes are the library's, as when the loop was made (ownfd.h).
	 */
	gp_own_fds_begin();
	gp_loop_before_poll(rt->loop);
	if (!wait) {
		ev_run(rt->loop, EVRUN_NOWAIT);
	} else {
		/* Nothing can be stuck while the hub waits: the monitor may sleep. */
		__atomic_store_n(&c->hub_waiting, 1, __ATOMIC_SEQ_CST);
		ev_run(rt->loop, EVRUN_ONCE);
		__atomic_store_n(&c->hub_waiting, 0, __ATOMIC_SEQ_CST);
		c->clock_ns = coarse_now();   /* after a wait of any length */
		gp_monitor_wake();
	}
	gp_own_fds_end();
	rt->poller = NULL;
	__atomic_store_n(&rt->poll_round, rt->poll_round + 1, __ATOMIC_RELEASE);
	rt->batch_last = rt->runq_tail;
	/* This carrier runs one of them; idle ones the rest. */
	for (size_t n = rt->runq_len; n > 1 && rt->idle; n--)
		wake_idle(rt);
}

/* Where each hub's first steps return to (gp_sched_start). */
static struct gp_ctx *hub_starter;

static void hub_main(void *arg)
{
	struct gp_carrier *c = arg;
	/*
	 * The first steps run at once, on the kernel thread that starts the runtime, before
	 * the program goes on: a carrier's kernel thread may first run its hub much later,
	 * after the program lowered RLIMIT_AS. Where malloc's arena goes along with the
	 * kernel thread (tls.c, find_arena) the hub takes its kernel thread's; where it
	 * does not, the hub's own would then take 64 MiB of the budget the program set for
	 * its own threads.
	 */
	gp_tls_thread_start();
	gp_take_malloc_arena();
	gp_ctx_switch(&c->hub.ctx, hub_starter);
	struct gp_runtime *rt = gp_rt;
	if (!rt->errno_at)
		gp__me = &c->hub;
	bool woken = false;
	for (;;) {
		release_ended(c);
		/* One poller at a time. A carrier woken from idleness was given work: it runs
		 * it first, the poll would only delay it. */
		if (!woken && !rt->poller)
			hub_poll(rt, c);
		woken = false;
		struct gp_green *next = take_runnable(rt, c);
		if (GP_UNLIKELY(c->thief))
			next = steal_runnext(rt, c, next);
		if (next) {
			switch_to(c, next);
		} else if (rt->poller) {
			idle_sleep(rt, c);
			woken = true;
		}
	}
}

void (*gp__async_extra)(void);

/* Queue the threads that kernel threads gave back, in the order they came. */
static void rejoined_drain(struct gp_runtime *rt)
{
	struct gp_green *g = __atomic_exchange_n(&rt->rejoined, NULL, __ATOMIC_ACQUIRE), *rev = NULL;
	while (g) {
		struct gp_green *next = g->runq_next;
		g->runq_next = rev;
		rev = g;
		g = next;
	}
	while (rev) {
		struct gp_green *next = rev->runq_next;
		rev->handed_off = false;
		count_away(rt, rev, false);
		rev->m = NULL;
		rev->state = GP_RUNNABLE;
		runq_push(rt, rev);
		rev = next;
	}
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	rejoined_drain(gp_rt);
	gp__sync_drain_async();
	if (gp__async_extra)
		gp__async_extra();
}

/* ---- starting ---- */

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct gp_green *g = gp_container_of(w, struct gp_green, timer);
	if (g->state == GP_PARKED) {
		g->wake = GP_WAKE_TIMEOUT;
		gp_unpark(g);
	}
}

static void green_init(struct gp_runtime *c, struct gp_green *g)
{
	g->magic = GP_GREEN_MAGIC;
	g->handle = (uintptr_t)g;
	g->id = c->next_id++;
	ev_timer_init(&g->timer, timer_cb, 0., 0.);
}

/*
 * Per-thread TLS, unless the program asked for shared TLS or the C library's layout is
 * not one we know (said once, since programs then behave differently).
 */
static bool tls_start(void)
{
	static bool warned, told;
	char why[160];
	if (gp_tls_init(why, sizeof(why)) == 0) {
		if (!told && strcmp(gp_tls_switch_kind(), "arch_prctl") == 0)
			gp_log(GP_LOG_INFO, "this kernel does not let programs write the FS base "
			       "(no FSGSBASE): each switch sets the thread pointer with arch_prctl, "
			       "a system call");
		told = true;
		return true;
	}
	if (!warned && !gp_config.tls_shared)
		gp_log(GP_LOG_WARNING, "green threads share thread-local storage: %s", why);
	warned = true;
	return false;
}

/*
 * The thread id glibc finds in g's TCB, if it has one (core/tls.h): a hub's by its
 * carrier, a thread's by its number (0 until green_init, for a kernel thread's idle
 * context, which runs no program code).
 */
int gp_green_tid(const struct gp_green *g)
{
	if (g->is_main)
		return gp_rt->tid;
	return g->is_hub ? GP_TLS_GREEN_TID_BASE - 1 - (int)g->on->index
			 : GP_TLS_GREEN_TID_BASE + (int)(g->id % GP_TLS_GREEN_TID_SPAN);
}

struct gp_green *gp_find_tid(int tid)
{
	if (tid == gp_rt->tid)
		return gp_rt->main->state != GP_DONE ? gp_rt->main : NULL;
	if (!gp_tls_tid_is_green(tid))
		return NULL;
	for (struct gp_green *g = gp_all(); g; g = g->all_next)
		if (!g->is_hub && g->state != GP_DONE && gp_green_tid(g) == tid)
			return g;
	return NULL;
}

static void name_tcb(struct gp_green *g)
{
	if (g->ctx.tp)
		gp_tls_set_tid(g->ctx.tp, gp_green_tid(g));
}

/*
 * g's stack (the program's memory if stack_addr, else from the cache) and its context.
 * When threads have TLS of their own, its block comes out of the top of the stack, as
 * glibc carves it out of a thread's stack: the same size costs the same memory as
 * natively. A stack too small for the block and a little stack is grown (ours), or
 * refused as glibc refuses it (the program's). 0, -EAGAIN or -EINVAL.
 */
static int make_context(struct gp_green *g, size_t size, void *stack_addr,
			gp_ctx_fn fn, void *arg)
{
	size_t tls = gp_tls_area_size();
	size_t least = tls ? tls + GP_STACK_MIN / 2 : 0;
	if (stack_addr) {
		/* The program's memory: used as it is, never given back to the cache. */
		if (size < least)
			return -EINVAL;
		g->stack = (struct gp_stack){ .lo = stack_addr, .size = size };
	} else {
		int rc = gp_stack_alloc(&g->stack, size < least ? least : size);
		if (rc < 0)
			return rc == -EINVAL ? -EINVAL : -EAGAIN;
	}
	char *top = (char *)g->stack.lo + g->stack.size;
	void *tp = NULL;
	if (tls) {
		char *map = g->stack.map ? g->stack.map : g->stack.lo;
		size_t map_size = g->stack.map ? g->stack.map_size : g->stack.size;
		tp = gp_tls_make(top, map, map_size, (size_t)((char *)g->stack.lo - map), &top);
		if (!tp) {
			if (!stack_addr)
				gp_stack_free(&g->stack);
			return -EAGAIN;
		}
	}
	gp_ctx_make(&g->ctx, g->stack.lo, (size_t)(top - (char *)g->stack.lo), fn, arg);
	g->ctx.tp = tp;
	name_tcb(g);
	return 0;
}

/*
 * The TCB glibc knows for the running kernel thread: a spare's own (its idle context's),
 * the first one's otherwise. Asked by its id, since a green thread may be handed off to
 * another kernel thread at any moment in program code, where this is asked from.
 */
static void *kernel_tp(void)
{
	if (gp_kthread_count() == 1)
		return NULL;   /* no spare yet: no system call */
	struct gp_kthread *m = gp_kthread_of_tid(gp_kernel_tid());
	return m ? m->idle.ctx.tp : NULL;
}

/*
 * Hand-off needs per-thread TLS (a handed-off thread and the carrier's next one run at
 * once, each on its own errno), the shim's bracket flag, the expedited membarrier, and
 * an idle context for the first kernel thread to return to when its thread rejoins.
 */
static bool handoff_start(struct gp_runtime *rt, struct gp_carrier *c)
{
	static bool warned;
	if (!gp_config.handoff_ns || rt->errno_at || !gp__in_user_offset)
		return false;
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) {
		if (!warned)
			gp_log(GP_LOG_WARNING, "no hand-off (GREENPATCH_HANDOFF): the kernel has no "
			       "expedited membarrier(2)");
		warned = true;
		return false;
	}
	struct gp_green *idle = &c->first.idle;
	if (make_context(idle, IDLE_STACK_SIZE, NULL, gp__kthread_idle_main, &c->first) < 0)
		return false;
	c->first.made_idle = true;
	gp__tls_kernel_tp = kernel_tp;
	return true;
}

/* Closes the loop's epoll and eventfd descriptors, the library's own (ownfd.h). */
static void destroy_loop(struct gp_runtime *rt)
{
	gp_own_fds_begin();
	ev_loop_destroy(rt->loop);
	gp_own_fds_end();
}

/*
 * How many carriers: GREENPATCH_CARRIERS, else one per CPU the process may run on (as
 * Go's GOMAXPROCS; a process confined to one CPU by taskset or a cgroup's cpuset gets
 * one). More than one needs what hand-off needs (per-thread TLS, the bracket flag): a
 * carrier's kernel thread is made as a spare, and a stuck one is handed off as with one.
 */
/*
 * The runtime allocates while it holds its lock (libev's arrays, thread objects, TLS
 * blocks). The C library's malloc takes locks of its own that no hook ever waits under;
 * another malloc (jemalloc, tcmalloc) takes the program's pthread mutexes, which are
 * green: a thread on another carrier that holds one of them and enters the runtime
 * would wait for the lock while the runtime waits for the mutex. Such a program runs on
 * one carrier.
 *
 * A program built without PIE whose code takes malloc's address (Debian's python3)
 * defines no malloc, but makes its PLT entry the function's address: the lookup finds
 * that entry, an undefined symbol with a value, and the definition is the next one,
 * after this library (a malloc preloaded before this library is then not seen).
 */
static bool libc_malloc(void)
{
	void *used = dlsym(RTLD_DEFAULT, "malloc"), *libc = dlsym(RTLD_DEFAULT, "__libc_malloc");
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (used && used != libc && dladdr1(used, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
	    sym->st_shndx == SHN_UNDEF)
		used = dlsym(RTLD_NEXT, "malloc");
	return used && used == libc;
}

static unsigned cpus_allowed(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	int n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

static unsigned carriers_wanted(const struct gp_runtime *rt)
{
	static bool warned;
	unsigned n = gp_config.carriers ? gp_config.carriers : cpus_allowed();
	const char *why = rt->errno_at ? "green threads share TLS (GREENPATCH_TLS=shared)"
		: !gp_config.handoff_ns || !gp__in_user_offset ? "hand-off is off (GREENPATCH_HANDOFF=0)"
		: n > 1 && !libc_malloc() ? "the program's malloc is not the C library's" : NULL;
	if (n > 1 && why) {
		if (!warned)
			gp_log(gp_config.carriers > 1 ? GP_LOG_WARNING : GP_LOG_INFO,
			       "one carrier, since %s", why);
		warned = true;
		n = 1;
	}
	/* Each needs a kernel thread, and a spare should remain for hand-off. */
	if (n >= gp_config.max_threads)
		n = gp_config.max_threads > 1 ? gp_config.max_threads - 1 : 1;
	return n ? n : 1;
}

/* Carrier c's hub: where it goes with nothing to run. */
static int make_hub(struct gp_carrier *c, unsigned index)
{
	struct gp_green *h = &c->hub;
	h->magic = GP_GREEN_MAGIC;
	h->is_hub = true;
	h->on = c;
	c->index = index;
	c->current = h;
	c->kernel_sigmask = GP_SIGMASK_LIBRARY_THREAD;
	/* The hub runs on TLS of its own, so that the loop's errno is not a thread's. */
	int rc = make_context(h, HUB_STACK_SIZE, NULL, hub_main, c);
	if (rc == 0 && h->ctx.tp)
		gp_tls_learn_on(h->ctx.tp);
	return rc;
}

/*
 * The other carriers' kernel threads, made as spares and given a carrier each: each
 * starts its hub, which waits for the runtime lock the caller holds. Fewer if kernel
 * threads cannot be made.
 */
static void start_other_carriers(struct gp_runtime *rt)
{
	for (unsigned i = 1; i < rt->ncarriers; i++) {
		struct gp_kthread *m = gp_kthread_spare();
		if (!m) {
			gp_log(GP_LOG_WARNING, "GREENPATCH_CARRIERS: %u carriers, since no more "
			       "kernel threads could be made", i);
			rt->ncarriers = i;
			if (i == 1) {
				/* One carrier after all: no lock, as if never taken. */
				rt->multi = false;
				ev_set_loop_release_cb(rt->loop, NULL, NULL);
				gp_rt_unlock();
			}
			break;
		}
		m->target = &rt->carriers[i];
		gp_kthread_assign(m);
	}
}

int gp_sched_start(void)
{
	if (gp_rt)
		return 0;
	static struct gp_carrier one;
	struct gp_runtime *rt = &the_runtime;
	memset(rt, 0, sizeof(*rt));
	rt->errno_at = tls_start() ? NULL : &errno;
	unsigned n = carriers_wanted(rt);
	memset(&one, 0, sizeof(one));
	rt->carriers = n > 1 ? calloc(n, sizeof(*rt->carriers)) : &one;
	if (!rt->carriers) {
		rt->carriers = &one;
		n = 1;
	}
	rt->ncarriers = n;
	gp_own_fds_begin();
	/* Not the default loop: it would take SIGCHLD and reap the program's children. */
	rt->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
	if (rt->loop) {
		ev_async_init(&rt->async, async_cb);
		ev_async_start(rt->loop, &rt->async);
	}
	gp_own_fds_end();
	if (!rt->loop)
		return -ENOMEM;

	struct gp_carrier *c = &rt->carriers[0];
	rt->next_id = 1;
	struct gp_green *m = &the_main;
	memset(m, 0, sizeof(*m));
	green_init(rt, m);
	m->is_main = true;
	m->cpu_ns = gp_thread_cpu_ns(0);
	m->state = GP_RUNNING;
	m->on = c;
	int rc = 0;
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = make_hub(&rt->carriers[i], i);
	if (rc < 0) {
		destroy_loop(rt);   /* the hubs made are left: a few pages, once */
		return rc;
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &c->kernel_sigmask, sizeof(uint64_t));
	m->sigmask = c->kernel_sigmask;
	count_mask(rt, m->sigmask, +1);
	gp_ctx_init_current(&m->ctx);
	m->ctx.tp = rt->errno_at ? NULL : gp_tls_carrier_tp();
	hub_starter = &m->ctx;
	for (unsigned i = 0; i < n; i++)
		gp_ctx_switch(&m->ctx, &rt->carriers[i].hub.ctx);
	all_add(rt, m);

	gp_sync_reset();
	rt->tid = gp_kernel_tid();
	gp_kthread_init_first(&c->first);
	c->owner = &c->first;
	rt->handoff = handoff_start(rt, c);
	if (!rt->handoff)
		rt->ncarriers = 1;
	rt->main = m;
	c->current = m;
	c->clock_ns = coarse_now();
	gp__me = rt->errno_at ? NULL : m;
	rt->alive = 1;
	rt->stats.created = 1;
	rt->stats.peak_alive = 1;
	rt->multi = rt->ncarriers > 1;
	gp_rt = rt;
	if (rt->multi) {
		/* Held, as inside every entry: gp__runtime_start's leave releases it. */
		gp_rt_lock();
		ev_set_loop_release_cb(rt->loop, loop_release, loop_acquire);
	}
	gp_debug_set_carriers(rt->carriers, rt->ncarriers);
	return 0;
}

void gp_sched_start_carriers(void)
{
	struct gp_runtime *rt = gp_rt;
	if (rt->multi) {
		start_other_carriers(rt);
		gp_debug_set_carriers(rt->carriers, rt->ncarriers);
	}
}

void gp_sched_after_fork(void)
{
	struct gp_runtime *c = gp_rt;
	if (!c)
		return;
	gp_rt = NULL;
	gp_debug_set_carriers(NULL, 0);
	gp__me = NULL;
	gp_kthread_after_fork();
	/* The kernel's epoll set, shared with the parent, is left as it is. */
	destroy_loop(c);
	gp_mounts_after_fork();
	gp_fd_table_reset();
	gp_sync_reset();
	gp_offload_after_fork();
}

/* ---- thread life ---- */

static void green_entry(void *arg)
{
	struct gp_green *g = arg;
	gp_tls_thread_start();
	if (!gp_rt->errno_at)
		gp__me = g;
	release_ended(g->on);
	errno = 0;
	gp_exit(gp__thread_main(g));
}

int gp_spawn(struct gp_green **out, void *(*start)(void *), void *arg,
	     const struct gp_spawn_attr *attr)
{
	struct gp_runtime *c = gp_rt;
	size_t size = attr && attr->stack_size ? attr->stack_size : gp_config.stack_size;
	if (!size)
		size = DEFAULT_STACK_SIZE;
	struct gp_green *g = new_green(c);
	if (!g)
		return -EAGAIN;
	int rc = make_context(g, size, attr ? attr->stack_addr : NULL, green_entry, g);
	if (rc < 0) {
		free(g);
		return rc;
	}
	green_init(c, g);
	name_tcb(g);
	g->start = start;
	g->arg = arg;
	g->detached = attr && attr->detached;
	g->sigmask = gp_self()->sigmask;   /* as a new kernel thread inherits its creator's */
	bool explicit_sched = attr && attr->explicit_sched;
	g->sched_policy = explicit_sched ? attr->sched_policy : gp_self()->sched_policy;
	g->sched_priority = explicit_sched ? attr->sched_priority : gp_self()->sched_priority;
	count_mask(c, g->sigmask, +1);
	all_add(c, g);
	c->alive++;
	c->stats.created++;
	if (c->alive > c->stats.peak_alive)
		c->stats.peak_alive = c->alive;
	g->state = GP_RUNNABLE;
	runq_push(c, g);
	work_queued(c);   /* a new thread is work for an idle carrier */
	*out = g;
	return 0;
}

void gp_exit(void *retval)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *g = gp_self();
	struct gp_carrier *c = g->on;
	g->retval = retval;
	g->state = GP_DONE;
	count_mask(rt, g->sigmask, -1);
	if (g->joiner)
		gp_unpark(g->joiner);
	if (--rt->alive == 0)
		gp__last_thread_ended();
	c->ended = g;
	struct gp_green *next = take_runnable(rt, c);
	if (!next)
		next = &c->hub;
	if (GP_UNLIKELY(rt->cpu_clocks))
		count_cpu(g, next);
	next->on = c;
	c->current = next;
	next->state = GP_RUNNING;
	rt->stats.switches++;
	__atomic_store_n(&c->switches, c->switches + 1, __ATOMIC_RELAXED);
	install_mask_on(c, next->is_hub ? hub_mask(rt) : next->sigmask);
	gp_ctx_exit_to(&g->ctx, &next->ctx);
}

int gp_join(struct gp_green *g, void **retval)
{
	struct gp_green *self = gp_self();
	/* Joining oneself, or a thread that is joining us, would wait forever. */
	if (g == self || self->joiner == g)
		return -EDEADLK;
	if (g->detached || (g->joiner && g->joiner != self))
		return -EINVAL;
	g->joiner = self;
	while (g->state != GP_DONE) {
		self->wait_obj = g;
		/* Interrupted: for a signal's handler, which runs in program code before the
		 * caller joins again (still the joiner: a detach meanwhile leaves g to it), or
		 * for a cancel, which ends the wait, not the join. */
		if (gp_park(-1, "join") == -EINTR) {
			if (self->cancel_pending && !self->cancel_disabled)
				g->joiner = NULL;
			return -EINTR;
		}
	}
	if (retval)
		*retval = g->retval;
	free_green(g);
	return 0;
}

int gp_detach(struct gp_green *g)
{
	if (g->detached)
		return -EINVAL;
	/* Being joined: as glibc, the join stays in charge and frees it. */
	if (g->joiner)
		return 0;
	g->detached = true;
	/* Ended and its stack released (it is not the one that ended just now): free it. */
	if (g->state == GP_DONE && gp_here()->ended != g && !g->joiner)
		free_green(g);
	return 0;
}

struct gp_green *gp_find(uintptr_t handle)
{
	struct gp_runtime *c = gp_rt;
	if (!c || !handle)
		return NULL;
	if (handle == c->main->handle)
		return c->main->magic == GP_GREEN_MAGIC ? c->main : NULL;
	struct gp_green *g = (struct gp_green *)handle;
	return g->magic == GP_GREEN_MAGIC && !g->is_hub ? g : NULL;
}

bool gp_handle_ended(uintptr_t handle)
{
	return gp_rt && handle && ((struct gp_green *)handle)->magic == GP_GREEN_ENDED;
}

/* ---- parking ---- */

bool gp_yield(void)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *self = gp_self();
	struct gp_carrier *c = self->on;
	uint64_t before = c->switches;
	self->state = GP_RUNNABLE;
	runq_push(rt, self);
	schedule(rt, c);
	/* Resumed perhaps on another carrier: any switch of the one it left says others ran. */
	return self->on != c || __atomic_load_n(&c->switches, __ATOMIC_RELAXED) != before;
}

void gp_yield_to_loop(void)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *self = gp_self();
	struct gp_carrier *c = self->on;
	__atomic_store_n(&c->yield_request, 0, __ATOMIC_RELAXED);
	self->state = GP_RUNNABLE;
	runq_push(rt, self);
	work_queued(rt);
	switch_to(c, &c->hub);
	/* Away from a hook that may park on what it saw before (cond_wait unlocks, then
	 * parks in its next entry): a wake-up may have come meanwhile, as after a rejoin. */
	self->rejoined = true;
}

/* Count a park under its name: a handful of names, found by pointer or by text. */
static void count_reason(struct gp_stats *st, const char *what)
{
	if (!what)
		return;
	/* The same literal, the common case: found without comparing strings, which took
	 * more than the rest of a park's bookkeeping. */
	for (int i = 0; i < GP_STATS_REASONS && st->by_reason[i].what; i++)
		if (st->by_reason[i].what == what) {
			st->by_reason[i].parks++;
			return;
		}
	for (int i = 0; i < GP_STATS_REASONS; i++) {
		const char *w = st->by_reason[i].what;
		if (!w)
			st->by_reason[i].what = what;
		if (!w || w == what || strcmp(w, what) == 0) {
			st->by_reason[i].parks++;
			return;
		}
	}
}

int gp_park(double timeout, const char *what)
{
	struct gp_runtime *c = gp_rt;
	struct gp_green *self = gp_self();
	/* A signal came for it while it ran (shim/signal.c): the wait ends before it
	 * begins, as a system call with a signal pending does, and the caller, back in
	 * program code, runs the handler. Once: a caller that waits again before it goes
	 * back (for an offloaded call that must finish) waits, as for an interrupt. */
	bool signalled = (__atomic_load_n(&self->sig_pending, __ATOMIC_RELAXED) & ~self->sigmask) &&
			 !self->intr_given;
	if (GP_UNLIKELY(signalled || self->intr_next_park)) {
		self->intr_given |= signalled;
		self->intr_next_park = false;
		self->wait_obj = NULL;
		self->wait_io = false;
		return -EINTR;
	}
	if (timeout >= 0) {
		/* The loop's clock may be stale after a long run: a sleep never ends early. */
		ev_now_update(c->loop);
		ev_timer_set(&self->timer, timeout, 0.);
		ev_timer_start(c->loop, &self->timer);
		gp_loop_changed();
	}
	self->wake = GP_WAKE_UNPARK;
	self->waits_for = what;
	self->state = GP_PARKED;
	self->parked_ns = self->on->clock_ns;   /* "for how long", in the dump and a debugger */
	bool wakeable = timeout >= 0 || self->wait_io;
	c->parked++;
	c->parked_wakeable += wakeable;
	c->stats.parks++;
	count_reason(&c->stats, what);
	schedule(c, self->on);
	c->parked--;
	c->parked_wakeable -= wakeable;
	c->parks_ended++;
	self->waits_for = NULL;
	self->wait_obj = NULL;
	self->wait_io = false;
	if (timeout >= 0)
		ev_timer_stop(c->loop, &self->timer);
	switch (self->wake) {
	case GP_WAKE_TIMEOUT: return -ETIMEDOUT;
	case GP_WAKE_INTR: return -EINTR;
	default: return 0;
	}
}

/*
 * With several carriers, a thread woken by a running thread runs next on the waker's
 * carrier, as Go's runnext: a wake-up followed by the waker's park (a request and its
 * answer, a lock handed over) stays on one carrier, warm in its cache, and costs no
 * wake-up of another. A second one, and those the loop wakes, go to the run queue,
 * where idle carriers take them.
 */
/* Make parked g runnable: ahead of the queued threads of its priority if ahead. */
static void unpark(struct gp_green *g, bool ahead)
{
	if (g->state != GP_PARKED)
		return;
	struct gp_runtime *rt = gp_rt;
	g->state = GP_RUNNABLE;
	if (ahead) {
		runq_insert_by_priority(rt, g, gp_rt_priority(g), true);
		if (!rt->multi || !gp_self()->is_hub)
			work_queued(rt);
		return;
	}
	if (rt->multi) {
		struct gp_green *self = gp_self();
		if (self->is_hub) {
			/* The loop's callbacks: the poller runs one, idle carriers the rest,
			 * once the poll is over (hub_poll). */
			runq_push(rt, g);
			return;
		}
		if (!self->on->runnext) {
			self->on->runnext = g;
			self->on->runnext_sw = __atomic_load_n(&self->on->switches,
							       __ATOMIC_RELAXED);
			return;
		}
	}
	runq_push(rt, g);
	work_queued(rt);
}

void gp_unpark(struct gp_green *g)
{
	unpark(g, false);
}

void gp_interrupt_now_or_next(struct gp_green *g)
{
	/* Not parked yet (it runs toward a park, perhaps on another carrier): the next
	 * park it makes ends at once, so that a cancel sent now is not lost. */
	if (g->state != GP_PARKED && g->state != GP_DONE)
		g->intr_next_park = true;
	gp_interrupt(g);
}

void gp_interrupt(struct gp_green *g)
{
	if (g->state != GP_PARKED)
		return;
	g->wake = GP_WAKE_INTR;
	unpark(g, true);
}

int gp_sleep(double seconds)
{
	double deadline = gp_mono_now() + seconds;
	for (;;) {
		int rc = gp_park(seconds, "sleep");
		if (rc == -ETIMEDOUT)
			return 0;
		if (rc < 0)
			return rc;
		/* Unparked by something else than the timer: sleep the rest. */
		seconds = deadline - gp_mono_now();
		if (seconds <= 0)
			return 0;
	}
}

/* ---- hand-off (kthread.h) ---- */

void gp__rejoin(void)
{
	struct gp_green *g = gp__me;
	struct gp_carrier *c = g->on;
	/* The monitor decides within a membarrier; if it was preempted meanwhile, let it run. */
	for (unsigned spins = 0; __atomic_load_n(&c->revoking, __ATOMIC_ACQUIRE); spins++)
		gp_spin_step(spins, 1000);
	if (__atomic_load_n(&c->current, __ATOMIC_RELAXED) == g) {
		if (gp_rt->multi)
			gp_rt_lock();
	} else {
		/* Off to this kernel thread's idle context, which gives g back once g is
		 * saved; no handler of the program's may run there, on the idle context's
		 * TLS. */
		gp_block_program_signals();
		if (g->cpu_since) {   /* its time on this kernel thread ends here */
			g->cpu_ns += gp_thread_cpu_ns(0) - g->cpu_since;
			g->cpu_since = 0;
		}
		g->m->rejoining = g;
		gp_ctx_switch(&g->ctx, &g->m->idle.ctx);
		/* Resumed by a carrier, on the kernel thread that owns it now, under the lock. */
		release_ended(g->on);
		g->rejoined = true;
	}
	if (GP_UNLIKELY(__atomic_load_n(&g->mask_at_rejoin, __ATOMIC_ACQUIRE))) {
		uint64_t was = g->sigmask;
		g->mask_at_rejoin = false;
		gp_sigmask_set(g, g->sigmask_at_rejoin);
		if ((was & ~g->sigmask) && gp__rejoin_unblocked)
			gp__rejoin_unblocked(g, was & ~g->sigmask);
	}
}

void (*gp__rejoin_unblocked)(struct gp_green *g, uint64_t unblocked);

void gp__give_back(struct gp_green *g)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_green *head = __atomic_load_n(&rt->rejoined, __ATOMIC_RELAXED);
	do
		g->runq_next = head;
	while (!__atomic_compare_exchange_n(&rt->rejoined, &head, g, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	ev_async_send(rt->loop, &rt->async);
}

bool gp_sched_peek_thread(const struct gp_green *g, bool *in_program, unsigned *enters)
{
	int flag;
	const char *tp;
	/* g itself may have ended and been freed since the caller read c->current. */
	if (!gp_peek(&g->ctx.tp, &tp, sizeof(tp)) || !tp || !gp__enters_offset)
		return false;
	struct gp_peek_piece words[2] = { { tp + gp__in_user_offset, &flag, sizeof(flag) },
					  { tp + gp__enters_offset, enters, sizeof(*enters) } };
	if (!gp_peek_pieces(words, 2))
		return false;
	*in_program = flag != 0;
	return true;
}

/* g, carrier c's running thread, keeps its kernel thread; c's hub goes on on the spare
 * the caller assigns next. Under the lock with several carriers. */
static void give_carrier_away(struct gp_carrier *c, struct gp_green *g, long since_ns)
{
	struct gp_runtime *rt = gp_rt;
	struct gp_kthread *old = c->owner;
	g->m = old;
	g->handed_off = true;
	count_away(rt, g, true);
	old->stall_reported = false;
	old->carrying_since_ns = since_ns;
	__atomic_store_n(&old->carrying, g, __ATOMIC_RELEASE);
	rt->stats.handoffs++;
	rt->stats.switches++;
	__atomic_store_n(&c->switches, c->switches + 1, __ATOMIC_RELAXED);
	c->hub.state = GP_RUNNING;
	__atomic_store_n(&c->current, &c->hub, __ATOMIC_RELEASE);
}

/*
 * Inside the runtime the monitor never takes the carrier (gp_handoff wants the thread
 * in program code), so nothing here races with it: it may look meanwhile, and finds
 * the thread inside or gone. The thread keeps the bracket closed during its call, but
 * not the lock: the spare takes it to run the carrier.
 */
bool gp_handoff_self(void)
{
	struct gp_runtime *rt = gp_rt;
	if (!rt->handoff)
		return false;
	struct gp_kthread *spare = gp_kthread_spare();
	if (!spare)
		return false;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	struct gp_carrier *c = gp_here();
	give_carrier_away(c, gp_self(), ts.tv_sec * 1000000000L + ts.tv_nsec);
	spare->target = c;
	gp_sched_leave();
	gp_kthread_assign(spare);
	return true;
}

int gp_handoff(struct gp_carrier *c, struct gp_green *g, uint64_t sw, long since_ns)
{
	struct gp_runtime *rt = gp_rt;
	if (!rt->handoff)
		return 0;
	struct gp_kthread *spare = gp_kthread_spare();
	if (!spare)
		return -EAGAIN;
	__atomic_store_n(&c->revoking, 1, __ATOMIC_SEQ_CST);
	/* Every running thread of the process passes a full barrier: the carrier's thread
	 * now sees revoking at its next entry, or its entry is visible here. */
	bool fenced = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
	bool in_program = false;
	unsigned enters;
	bool still = fenced && __atomic_load_n(&c->current, __ATOMIC_RELAXED) == g &&
		     __atomic_load_n(&c->switches, __ATOMIC_RELAXED) == sw &&
		     gp_sched_peek_thread(g, &in_program, &enters) && in_program;
	if (still) {
		/* g waits for revoking before it takes the lock: no deadlock with it. */
		if (rt->multi)
			gp_rt_lock();
		give_carrier_away(c, g, since_ns);
		if (rt->multi)
			gp_rt_unlock();
	}
	__atomic_store_n(&c->revoking, 0, __ATOMIC_RELEASE);
	if (!still) {
		gp_kthread_unused(spare);
		return 0;
	}
	spare->target = c;
	gp_kthread_assign(spare);
	return 1;
}

void gp__take_over(struct gp_kthread *m)
{
	struct gp_carrier *c = m->target;
	c->owner = m;
	gp_kthread_follow(m, c);
	c->kernel_sigmask = GP_SIGMASK_LIBRARY_THREAD;   /* what a spare blocks */
	if (gp_rt->multi)
		gp_rt_lock();
	install_mask_on(c, hub_mask(gp_rt));
	gp_ctx_switch(&m->idle.ctx, &c->hub.ctx);
	/* Back here: a green thread this kernel thread carried was handed off, and has
	 * come back (gp__rejoin); the carrier runs elsewhere. */
}

/*
 * The shape every hook shares.
 *
 * gp__in_user is 1 on the carrier (the kernel thread that runs the green threads) while
 * a green thread runs the program's code, and 0 everywhere else: on other kernel
 * threads, before the runtime starts, and inside the runtime. A hook that finds it 0
 * passes straight through to libc; this is the re-entrancy bracket, since libev's own
 * read, write and epoll_wait come back through our hooks while the runtime runs.
 *
 * A parked thread is always inside (0): it parked from a hook. A switch therefore never
 * changes the bracket, except that a new thread leaves it before its start routine and
 * re-enters it when the routine returns.
 *
 * The variable is per green thread: it lives in the TLS each green thread has of its
 * own (core/tls.h), the hub's and the offload threads' included, and starts at 0 in each.
 * Its meaning holds because every switch happens inside the bracket: the thread that
 * leaves and the one that arrives both have it at 0, so whichever TLS is installed
 * during the switch says "inside". With GREENPATCH_TLS=shared it is the carrier's, as
 * before, with the same meaning.
 *
 * Calls that may block pass through also while only one green thread is alive: with
 * nobody else to run, blocking the carrier is what the program asked for, and cheaper.
 * Not with several carriers: the thread may run on any of them, and a signal for the
 * process would then go to the carrier that waits in the loop (the first kernel thread,
 * which the kernel prefers) rather than end the call, as it does natively.
 * Calls that concern a thread's identity (pthread_self, join) look only at the bracket.
 *
 * Hooks change runtime state (run queue, wait queues) only inside the bracket, through
 * gp_enter/gp_leave or gp_wake: a signal handler that runs meanwhile and calls a hook
 * then finds the bracket closed and takes the path of a foreign thread. Outside it, a
 * hook may run on a kernel thread that no longer owns the carrier (a handed-off thread,
 * core/kthread.h), at the same time as the carrier's own threads: it may read what a
 * race cannot make unsafe (the thread's own object, the descriptor table, counts) and
 * must change nothing else.
 */
#ifndef GP_HOOK_H
#define GP_HOOK_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "real.h"
#include "sched.h"
#include "sync.h"
#include "util.h"

extern __thread int gp__in_user __attribute__((tls_model("initial-exec")));

/* Entries into the runtime so far: the monitor tells a stuck thread by it (kthread.h). */
extern __thread unsigned gp__enters __attribute__((tls_model("initial-exec")));

/*
 * In program code on a green thread, wherever it runs: for the hooks a handed-off
 * thread may run where it is, without rejoining (gp_on_green): those that only read or
 * change the calling thread's own state (pthread_self, its thread-specific data), and
 * an uncontended mutex or a condition variable's signal (shim/sync.c).
 */
static inline bool gp_in_program(void)
{
	return GP_LIKELY(gp__in_user != 0);
}

void gp__rejoin_at_hook(void);

/*
 * Handlers of the program's running now on this green thread's kernel thread, from a
 * signal the kernel delivered (shim/sigaction.c). A handed-off thread does not rejoin in
 * one: the kernel returns from the handler to the kernel thread it interrupted, with
 * the signal stack and mask it saved there, so the handler must end where it began. Its
 * hooks act as on a kernel thread of the program; it rejoins at its next call after.
 */
extern __thread int gp__in_handler __attribute__((tls_model("initial-exec")));

/*
 * A handler may leave with siglongjmp, past the decrement of gp__in_handler: the thread
 * would then never rejoin after a hand-off. So where each handler began (its first
 * frame) is kept, for GP_HANDLER_FRAMES nested handlers: stacks grow down, and code
 * that runs above that frame has left the handler. A handler installed with SA_ONSTACK
 * may run on a signal stack that lies anywhere: its entry is marked (GP_HANDLER_ONSTACK)
 * and never counted as left, nor are the ones below it; nor is a handler nested deeper
 * than the table. Such a handler left by a jump keeps the old outcome: the thread keeps
 * its kernel thread. What this cannot tell is a handler that itself moves to a stack
 * above its first frame (a scheduler of the program's own that switches contexts from a
 * handler): code there would count as outside.
 */
#define GP_HANDLER_FRAMES 8
#define GP_HANDLER_ONSTACK ((uintptr_t)1)
extern __thread uintptr_t gp__handler_frame[GP_HANDLER_FRAMES]
	__attribute__((tls_model("initial-exec")));

/* Forget the handlers a jump has left, seen from the frame at sp: how many still run. */
int gp__handlers_running(uintptr_t sp);

/* Does a handler still run on this thread, seen from the caller? */
bool gp__in_handler_now(void);

/*
 * In program code on a green thread: the question every hook asks first. A green thread
 * whose carrier was handed off (core/kthread.h) ran on outside it, which is all a hand-off
 * is for; at its next call into the library it rejoins the carrier first, as a Go thread
 * back from a system call must get a P before it runs Go code again. From then on what a
 * hook does runs as on one kernel thread: the hooks' own bookkeeping (stream lock tables,
 * mutex owners, barriers) needs no lock of its own against a handed-off thread, only the
 * bracket for the short parts a hand-off could otherwise cut in two. The hooks that are
 * safe anywhere and that computing threads call between computations (an uncontended
 * mutex, a condition variable's signal) ask gp_in_program instead, and wake from afar.
 */
static inline bool gp_on_green(void)
{
	if (!gp_in_program())
		return false;
	if (GP_UNLIKELY(__atomic_load_n(&gp_self()->handed_off, __ATOMIC_RELAXED))) {
		if (gp__in_handler && gp__in_handler_now())
			return false;
		gp__rejoin_at_hook();
	}
	return true;
}

/*
 * A handle of a green thread joined, or ended detached (core/sched.c keeps the object):
 * the calls on it answer as glibc's do for a thread it freed, never passing it to glibc.
 */
static inline bool gp_ended_thread(pthread_t t)
{
	return gp_rt && gp_handle_ended((uintptr_t)t);
}

/*
 * In the child of a fork made by a green thread other than the first, that thread's
 * handle (its pthread_self, which the child keeps) and the descriptor glibc knows it by
 * (init.c); 0 elsewhere.
 */
extern uintptr_t gp__forker_handle, gp__forker_tcb;

/* The handle to give glibc for t: the child's one thread's descriptor for its handle. */
static inline pthread_t gp_libc_handle(pthread_t t)
{
	return GP_UNLIKELY(gp__forker_handle && (uintptr_t)t == gp__forker_handle)
		       ? (pthread_t)gp__forker_tcb
		       : t;
}

/*
 * The family (GP_FAM_* in config.h) of the hooks in the including file, which
 * GREENPATCH_UNPATCH may leave to libc; 0 for hooks that are always green.
 */
#ifndef GP_HOOK_FAMILY
#define GP_HOOK_FAMILY 0
#endif

/*
 * A call that may block should park instead: on a green thread, with another alive,
 * unless the program asked for this family of calls to be left to libc. The calls
 * left to libc on a green thread are counted for the statistics.
 */
static inline bool gp_cooperative_in(unsigned family)
{
	if (!gp_on_green())
		return false;
	if (GP_LIKELY((gp_rt->alive > 1 || gp_rt->multi) && !(gp_config.unpatched & family)))
		return true;
	/* For GREENPATCH_STATS: no other thread, or unpatched. Outside the bracket, on
	 * whichever kernel thread this thread runs: an atomic count. */
	__atomic_fetch_add(&gp_rt->stats.passed, 1, __ATOMIC_RELAXED);
	return false;
}

/* The same for the family of the hooks in the including file. */
static inline bool gp_cooperative(void)
{
	return gp_cooperative_in(GP_HOOK_FAMILY);
}

/*
 * A call that may wait long and that cannot be made to wait green (a file lock held by
 * another process, a process-shared semaphore, a directory service lookup) is made on
 * the calling thread's own kernel thread, with the carrier handed to a spare first
 * (gp_handoff_self): the other green threads go on, and the call has its native
 * semantics, signals and EINTR included. True: make the call, then gp__block_end,
 * which rejoins the carrier. The bracket stays closed in between: the C library's own
 * calls inside it (NSS modules open files and sockets) pass through to libc, as on a
 * kernel thread of the program. False: make the call as it is (not on a green thread,
 * or without hand-off or a spare).
 */
bool gp__block_handoff(void);
void gp__block_end(void);

/*
 * call (the hook's name) is also kept on the thread while it runs in libc, handed off or
 * not, so that a stall report names it rather than saying it did not go through the
 * library.
 */
static inline void gp__blocking_in(const char *call)
{
	if (gp_in_program())
		gp_self()->blocking_in = call;
}

static inline bool gp__block_begin(const char *call)
{
	gp__blocking_in(call);
	return gp_cooperative() && gp__block_handoff();
}

static inline void gp__block_done(bool handed)
{
	if (handed)
		gp__block_end();
	gp__blocking_in(NULL);
}

/* expr (the hook's call into libc), made as gp__block_begin says; errno is expr's. */
#define GP_BLOCKING_AS(call, expr)                                             \
	__extension__({                                                        \
		bool gp_handed_ = gp__block_begin(call);                       \
		__typeof__(expr) gp_ret_ = (expr);                             \
		int gp_errno_ = errno;                                         \
		gp__block_done(gp_handed_);                                    \
		errno = gp_errno_;                                             \
		gp_ret_;                                                       \
	})

#define GP_BLOCKING(expr) GP_BLOCKING_AS(__func__, expr)

/* expr, a call that may wait long, passed to libc as it is (the hook found
 * gp_cooperative false), named for the stall report meanwhile. */
#define GP_PASSED(expr)                                                        \
	__extension__({                                                        \
		gp__blocking_in(__func__);                                     \
		__typeof__(expr) gp_ret_ = (expr);                             \
		int gp_errno_ = errno;                                         \
		gp__blocking_in(NULL);                                         \
		errno = gp_errno_;                                             \
		gp_ret_;                                                       \
	})

/* Deliver the signals kept pending on the running green thread (signal.c). */
void gp__deliver_signals(void);

/*
 * Into the runtime. A thread whose carrier was handed off meanwhile (core/kthread.h)
 * rejoins it first: from here on, runtime state is its to touch. The flag is stored
 * before the carrier is looked at, with only a compiler barrier between them: the
 * monitor's membarrier(2) supplies the other half of the fence.
 */
static inline void gp_enter(void)
{
	gp__in_user = 0;
	gp__enters++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gp_sched_check_owner();
}

/*
 * gp_enter in a handler of the program's, which must end on the kernel thread it began
 * on: false, back in program code, where the carrier was handed off, instead of
 * rejoining there.
 */
static inline bool gp_enter_in_handler(void)
{
	gp__in_user = 0;
	gp__enters++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (gp_sched_own_unless_handed_off())
		return true;
	gp__in_user = 1;
	return false;
}

/*
 * Back to program code. Signals sent to this green thread while it was parked are
 * delivered here, once the runtime's state is settled and in program context, so a
 * handler may call anything, longjmp out, or end the thread.
 */
static inline void gp_leave(void)
{
	struct gp_green *self = gp_self();
	/*
	 * A rejoin is remembered past this exit (gp_park_on): a hook may decide to park in a
	 * later entry on what it saw before this one (cond_wait unlocks the mutex, waking
	 * its waiters in one entry, and parks in the next), and a wake-up may have come in
	 * between while the thread was away. A later park that had nothing to do with it
	 * is told to look again once, which every caller does anyway.
	 */
	if (GP_UNLIKELY(gp_yield_requested()))
		gp_yield_to_loop();
	gp_sched_leave();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gp__in_user = 1;
	if (GP_UNLIKELY(self->sig_pending | self->sig_later))
		gp__deliver_signals();
}

/*
 * From a handed-off thread (core/kthread.h): unpark the green threads parked on addr
 * through the carrier's queue, as a kernel thread of the program does, without
 * rejoining. The bracket is closed meanwhile: libev's ev_async_send writes its eventfd
 * through our write hook, which must pass straight through, not rejoin in the middle.
 */
void gp__wake_from_afar(const void *addr, size_t n);

/*
 * Unpark up to n green threads parked on addr, from program code. A handed-off thread
 * wakes them from afar and goes on where it runs: an unlock or a signal is all a
 * computing thread that synchronises with others does between two computations, and
 * rejoining for it would put their computations back on one core. It answers 0, as if
 * nobody had been parked there.
 */
static inline size_t gp_wake(const void *addr, size_t n)
{
	if (GP_UNLIKELY(__atomic_load_n(&gp_self()->handed_off, __ATOMIC_RELAXED))) {
		gp__wake_from_afar(addr, n);
		return 0;
	}
	gp_enter();
	size_t woken = gp_unpark_on(addr, n);
	gp_leave();
	return woken;
}

/* At the libc edge: a -errno result becomes -1 and errno; anything else is returned. */
static inline long gp_ret(long rc)
{
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

/* glibc's report of a fortified call given a buffer smaller than its length. */
extern _Noreturn void __chk_fail(void);

/* The deadlock report's description of a wait, knowing glibc's mutex layout. */
void gp__describe_wait_shim(struct gp_green *g, char *buf, size_t len);

/* Tell debuggers where a mutex keeps its owners (core/debug.h). */
void gp__sync_debug_init(void);

/* Name the green thread that overflows its stack (overflow.c). */
void gp__overflow_watch(void);

/* glibc's default thread stack size (from RLIMIT_STACK), asked once; 0 if unknown. */
size_t gp__glibc_stack_size(void);

/* Start the runtime on this kernel thread if it is not running: 0 or -errno. */
int gp__runtime_start(void);

/* Turn a timespec into seconds (for core's timers). */
static inline double gp_ts_seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

static inline struct timespec gp_ts_of_seconds(double seconds)
{
	time_t whole = (time_t)seconds;
	return (struct timespec){ whole, (long)((seconds - (double)whole) * 1e9) };
}

static inline bool gp_ts_valid(const struct timespec *ts)
{
	return ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

/* Seconds from now (on clock) until the absolute time abs; may be negative. */
double gp_until(clockid_t clock, const struct timespec *abs);

#endif

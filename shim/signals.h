#ifndef GP_SHIM_SIGNAL_H
#define GP_SHIM_SIGNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "green.h"

/* Wrap the program's signal handlers so that process signals can interrupt parks. */
void gp__sigaction_init(void);

/* GREENPATCH_DUMP_SIGNAL's action: the dump, whatever the program installs (sigaction.c). */
void gp__dump_signal_init(void);

/* May a thread take this scheduling policy and priority (threadattr.c)? */
bool gp__sched_allowed(int policy, int prio);

/*
 * In the child of a fork made by g: its handle and stack are the child's one thread's
 * (threadattr.c), which keeps them when it starts a runtime of its own (init.c).
 */
void gp__remember_forker(const struct gp_green *g);

/* The first thread's scheduling policy, from its kernel thread's (threadattr.c). */
void gp__sched_adopt(struct gp_green *main);

/*
 * g runs on another kernel thread, with sig pending for it: signal that kernel thread,
 * whose trampoline runs the handler there if g is still in program code (sigaction.c).
 * Inside the bracket.
 */
void gp__tell_signal(struct gp_green *g, int sig);

/* The calling kernel thread's own pending signals become g's (the first green thread's,
 * or the one it gives back after a hand-off). */
void gp__signals_adopt(struct gp_green *g);

/*
 * g has just unblocked the signals unblocked: give it those for the process kept until
 * a thread unblocks them (in the bracket).
 */
void gp__take_kept_signals(struct gp_green *g, uint64_t unblocked);

/* SIGKILL and SIGSTOP cannot be blocked; glibc keeps its own two (32, 33) open too. */
#define GP_UNBLOCKABLE ((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | (3ull << 31))

/*
 * The calling green thread's mask becomes *set, as pthread_sigmask(SIG_SETMASK) makes
 * it: for a jump that restores a saved mask (longjmp.c). A handed-off thread's, leaving
 * a handler, at its rejoin.
 */
void gp__sigmask_restore(const sigset_t *set);

/*
 * A handler of the program's begins (done: the kernel has set kernel, the carrier's
 * mask, as it does for a handler) or ends (sigreturn is about to set kernel) on the
 * calling green thread, in program code on its carrier: its own mask becomes green, and
 * what that unblocks arrives. A thread handed off meanwhile takes green at its rejoin.
 */
void gp__handler_mask(uint64_t green, uint64_t kernel, bool done);

/*
 * The calling kernel thread's mask in the kernel becomes mask, for a thread handed off
 * in a handler, whose own mask waits for its rejoin: at the handler's end, as sigreturn
 * is about to make it (a signal handled before the sigreturn then sees the thread's
 * mask, not the handler's), and for pthread_sigmask there.
 */
void gp__kernel_thread_mask(uint64_t mask);

/* Signals for the process a hub has just taken, on their way back (sigaction.c). */
uint64_t gp__hub_held_signals(void);

/* The signals for the process kept until a thread unblocks them. */
uint64_t gp__kept_signals(void);

/* After a park ended with -EINTR: did every handler that ran ask for SA_RESTART? */
bool gp__signal_restarts(void);

/*
 * A cancellation point: if pthread_cancel was called on the running green thread and
 * its state allows, run its cleanup handlers and end it. Call in program context.
 */
void gp__cancel_point(void);

/*
 * The same in a wait that is no cancellation point (a mutex, a barrier, a join's
 * retry), for a thread of the asynchronous type: natively its cancel interrupts any
 * instruction, the wait's futex call included.
 */
void gp__async_cancel_point(void);

/*
 * pthread_exit of a green thread (not the first one): run its cleanup handlers,
 * innermost first, then its thread-specific data destructors, and end it with retval.
 */
_Noreturn void gp__exit_unwinding(struct gp_green *g, void *retval);

/* How many times a handler of the program has run: it changes across a call if one ran. */
extern _Atomic unsigned long gp__handlers_ran;

#endif

/*
 * The offload pool: a few kernel threads for calls that cannot be made non-blocking
 * (name resolution, waitpid, system, fsync...). The calling green thread parks while
 * a pool thread makes the call, and is woken through the loop's ev_async when it
 * returns; the other green threads run meanwhile.
 *
 * Pool threads are created on demand, up to GREENPATCH_OFFLOAD_THREADS, block every
 * signal, and never run green code: every hook they reach passes straight through.
 */
#ifndef GP_OFFLOAD_H
#define GP_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

typedef void (*gp_offload_fn)(void *arg);

/*
 * Run fn(arg) on a pool thread, parking the caller until it returns: 0 or -EAGAIN.
 * unbounded: the call may last as long as something outside the process wants (a
 * child's exit): it gets a pool thread beyond the limit, so that such calls can never
 * take every pool thread while others wait behind them.
 */
int gp_offload(gp_offload_fn fn, void *arg, bool unbounded);

/*
 * How the library's kernel threads are created (the real pthread_create): 0 or an
 * errno value. stack: the stack size to ask for, or 0 for the default (RLIMIT_STACK's,
 * 8 MiB as a rule).
 */
extern int (*gp__create_kernel_thread)(void *(*fn)(void *), void *arg, size_t stack);

/* In the child of fork: the pool's threads did not come along. */
void gp_offload_after_fork(void);

/* Pool threads alive now, and calls made through them so far (for statistics). */
int gp_offload_threads(void);
unsigned long gp_offload_calls(void);

#endif

#ifndef GP_SHIM_SIGNAL_H
#define GP_SHIM_SIGNAL_H

#include <stdbool.h>

#include "green.h"

/* Wrap the program's signal handlers so that process signals can interrupt parks. */
void gp__sigaction_init(void);

/* GREENPATCH_DUMP_SIGNAL's action: the dump, whatever the program installs (sigaction.c). */
void gp__dump_signal_init(void);

/* After a park ended with -EINTR: did every handler that ran ask for SA_RESTART? */
bool gp__signal_restarts(void);

/*
 * A cancellation point: if pthread_cancel was called on the running green thread and
 * its state allows, run its cleanup handlers and end it. Call in program context.
 */
void gp__cancel_point(void);

/*
 * pthread_exit of a green thread (not the first one): run its cleanup handlers,
 * innermost first, then its thread-specific data destructors, and end it with retval.
 */
_Noreturn void gp__exit_unwinding(struct gp_green *g, void *retval);

/* How many times a handler of the program has run: it changes across a call if one ran. */
extern _Atomic unsigned long gp__handlers_ran;

#endif

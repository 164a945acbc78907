#ifndef GP_TSD_H
#define GP_TSD_H

#include "green.h"

/* Run g's thread-specific data destructors and free its storage (program context). */
void gp__tsd_thread_ended(struct gp_green *g);

/*
 * In the child of a fork made by green thread g: the child's one thread is g, now a
 * plain kernel thread whose descriptor is g's own (core/tls.h), so its values move to
 * glibc's storage there, where the calls on a thread without the runtime look.
 */
void gp__tsd_after_fork(struct gp_green *g);

/*
 * The end of green thread g (the running one), in program context and in glibc's
 * order: C++ thread_local destructors, then thread-specific data destructors, then what
 * glibc keeps per thread is given back.
 */
void gp__thread_cleanup(struct gp_green *g);

#endif

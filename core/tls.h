/*
 * Thread control blocks: each green thread gets a thread pointer of its own, laid out
 * as glibc lays out a new kernel thread's, so that __thread variables, C++ thread_local
 * objects and what glibc itself keeps per thread (errno, the locale, _res, the
 * strerror buffers, the DTV of dlopened modules) belong to the green thread.
 *
 * Layout (x86_64, TLS variant II; aarch64 is variant I, the same parts mirrored):
 *
 *     stack top ................................................... mapping top
 *     | struct __res_state | static TLS blocks (+ surplus) | struct pthread |
 *                                                           ^ thread pointer
 *
 * The block sits at the top of the green thread's own stack mapping, as glibc puts it
 * at the top of a thread's stack: an idle thread costs the pages it touched, and a
 * cached stack brings its block along. The dynamic loader's own allocator
 * (_dl_allocate_tls, whose signature has not changed from glibc 2.31 to 2.42) builds
 * the DTV and copies every module's initialisation image; the fields of struct pthread
 * that glibc reads through the thread pointer are set here, at offsets glibc exports
 * for debuggers (_thread_db_*) or that gp_tls_init finds on the first thread and checks.
 * Whatever cannot be found or checked turns per-thread TLS off, with a warning: the
 * green threads then share the carrier's TLS, as with GREENPATCH_TLS=shared.
 *
 * Installing a thread pointer is one instruction (wrfsbase on x86_64 where the kernel
 * allows it, msr tpidr_el0 on aarch64), else an arch_prctl system call.
 */
#ifndef GP_TLS_H
#define GP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__)
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "util.h"

/* Green threads have TLS of their own (set by gp_tls_init). */
extern bool gp_tls_per_thread;

/*
 * Learn the layout from the running thread, which must be the process's first one
 * (or a green thread of a process that forked). 0, or -ENOTSUP with why, when
 * per-thread TLS cannot be had; then gp_tls_per_thread stays false.
 */
int gp_tls_init(char *why, size_t len);

/* Bytes at the top of a green thread's stack mapping that its TLS block may take. */
size_t gp_tls_area_size(void);

/*
 * Build a thread's TCB and static TLS in the area ending at top. block and block_size
 * are the whole stack mapping, guard the size of its guard (glibc's bookkeeping, and
 * the alloca limit derived from it). The thread pointer, with *stack_top set to where
 * the stack begins below the block; NULL if the DTV could not be allocated.
 */
void *gp_tls_make(char *top, void *block, size_t block_size, size_t guard, char **stack_top);

/* Free what glibc allocated for the TCB at tp (DTV, dynamic TLS); not the block itself. */
void gp_tls_release(void *tp);

/* First thing on a new green thread, on its own TCB: what glibc's start_thread sets. */
void gp_tls_thread_start(void);

/* At the end of a green thread, in program context: C++ thread_local destructors. */
void gp_tls_run_dtors(void);

/* After every destructor: give back what glibc allocated for this thread. */
void gp_tls_thread_end(void);

/* The carrier's own thread pointer (its kernel thread's TCB). */
void *gp_tls_carrier_tp(void);

/* Is tp a TCB made here (a green thread's or the hub's), not a kernel thread's? */
bool gp_tls_is_green(void *tp);

#if defined(__x86_64__)
extern bool gp__tls_fsgsbase;

static inline void *gp_tp_get(void)
{
	void *tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* The memory clobber keeps the compiler from moving TLS accesses across the switch. */
static inline void gp_tp_set(void *tp)
{
	if (GP_LIKELY(gp__tls_fsgsbase))
		__asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
	else
		syscall(SYS_arch_prctl, ARCH_SET_FS, tp);
}
#elif defined(__aarch64__)
static inline void *gp_tp_get(void)
{
	void *tp;
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

static inline void gp_tp_set(void *tp)
{
	__asm__ volatile("msr tpidr_el0, %0" : : "r"(tp) : "memory");
}
#else
static inline void *gp_tp_get(void) { return NULL; }
static inline void gp_tp_set(void *tp) { (void)tp; }
#endif

#endif

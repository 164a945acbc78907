/*
 * Context switching, in one place.
 *
 * The default switch is a few lines of assembly per architecture (ctx_x86_64.S,
 * ctx_aarch64.S) that save the callee-saved registers and the floating-point control
 * words on the old stack and load them from the new one: no system call, a few
 * nanoseconds. swapcontext(3) also saves and restores the signal mask, an
 * rt_sigprocmask system call per switch (about a microsecond here); it stays as the
 * portable fallback, selected at build time with -DGP_CTX_UCONTEXT (make CTX=ucontext),
 * and on architectures without an assembly switch.
 *
 * The sanitizer and valgrind annotations live here too, so that the scheduler never
 * knows which switch it uses.
 */
#ifndef GP_CTX_H
#define GP_CTX_H

#include <stddef.h>

#if !defined(GP_CTX_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define GP_CTX_UCONTEXT 1
#endif

#ifdef GP_CTX_UCONTEXT
#include <ucontext.h>
#endif

#ifndef GP_CTX_UCONTEXT
#include <stdint.h>

/*
 * What the assembly switch leaves at a switched-out context's saved sp (ctx_*.S), and
 * gp_ctx_make builds for a new one. core/debug.c tells debuggers where each register is
 * from this declaration.
 */
#if defined(__x86_64__)
struct gp_ctx_frame {
	uint32_t mxcsr;
	uint16_t fcw, pad;
	uint64_t r15, r14, r13, r12, rbx, rbp;
	uint64_t ret;           /* where the context resumes */
};
#elif defined(__aarch64__)
struct gp_ctx_frame {
	uint64_t x[10];         /* x19..x28 */
	uint64_t x29, x30;      /* frame pointer; link register: where the context resumes */
	uint64_t d[8];          /* d8..d15 */
	uint64_t fpcr, pad;
};
#endif
#endif

/* The entry function of a new context; it must never return. */
typedef void (*gp_ctx_fn)(void *arg);

struct gp_ctx {
#ifdef GP_CTX_UCONTEXT
	ucontext_t uc;
#else
	void *sp;               /* saved stack pointer; the registers are on that stack */
#endif
	gp_ctx_fn fn;
	void *arg;
	const void *stack_lo;   /* lowest usable address, for ASan; NULL until known */
	size_t stack_size;
	void *fake_stack;       /* ASan's fake stack of this context while switched out */
	struct gp_ctx *asan_from;  /* the context that last switched here, for ASan */
	unsigned valgrind_id;
	void *tp;               /* its thread pointer (core/tls.h); NULL: the carrier's, unchanged */
};

/* The context that is running now (the thread's own stack): nothing to build. */
void gp_ctx_init_current(struct gp_ctx *c);

/* A context that, on its first switch-in, calls fn(arg) on [stack_lo, stack_lo+size). */
void gp_ctx_make(struct gp_ctx *c, void *stack_lo, size_t size, gp_ctx_fn fn, void *arg);

/* Forget what gp_ctx_make registered (valgrind); the stack may then be reused. */
void gp_ctx_release(struct gp_ctx *c);

/*
 * Save the running context into from, resume to. Returns when something resumes from.
 * The thread pointer is switched too when the two differ: from then on this kernel
 * thread's TLS is to's, so nothing between here and the arrival may touch TLS.
 */
void gp_ctx_switch(struct gp_ctx *from, struct gp_ctx *to);

/* Leave a context that will never be resumed (its thread has ended). */
_Noreturn void gp_ctx_exit_to(struct gp_ctx *from, struct gp_ctx *to);

/* Which switch this build uses: "asm" or "ucontext". */
const char *gp_ctx_kind(void);

#endif

#include "ctx.h"

#include <stdint.h>
#include <string.h>

#include "tls.h"
#include "util.h"

#ifdef GP_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

/*
 * Under ASan every switch is announced (start) and acknowledged on arrival (finish);
 * the arrival learns the bounds of the stack it came from, which is how the bounds of
 * the thread's original stack, never built here, become known. Where it came from is
 * kept in the arriving context, not in a __thread variable: the thread pointer changes
 * on the way.
 */
#ifdef GP_ASAN
static void asan_start(struct gp_ctx *from, struct gp_ctx *to, int from_exits)
{
	to->asan_from = from;
	__sanitizer_start_switch_fiber(from_exits ? NULL : &from->fake_stack,
				       to->stack_lo, to->stack_size);
}

/* self: the context arriving; its fake stack is restored unless it is new. */
static void asan_finish(struct gp_ctx *self, int is_new)
{
	struct gp_ctx *from = self->asan_from;
	const void *lo;
	size_t size;
	__sanitizer_finish_switch_fiber(is_new ? NULL : self->fake_stack, &lo, &size);
	if (from && !from->stack_lo) {
		from->stack_lo = lo;
		from->stack_size = size;
	}
}
#else
static inline void asan_start(struct gp_ctx *from, struct gp_ctx *to, int from_exits)
{
	(void)from, (void)to, (void)from_exits;
}
static inline void asan_finish(struct gp_ctx *self, int is_new) { (void)self, (void)is_new; }
#endif

/*
 * Contexts with TLS of their own carry their thread pointer; others leave it alone. What
 * belongs to the kernel thread goes along: malloc's cache, and under ASan its record of
 * the kernel thread, without which asan_finish on the arriving side would go unheard.
 */
static inline void switch_tp(const struct gp_ctx *from, const struct gp_ctx *to)
{
	if (to->tp != from->tp) {
		gp_tls_pass_malloc(from->tp, to->tp);
#ifdef GP_ASAN
		gp_tls_pass_asan(from->tp, to->tp);
#endif
		gp_tp_set(to->tp);
	}
}

/* Where every new context begins, whichever switch built it. */
static void trampoline(struct gp_ctx *c)
{
	asan_finish(c, 1);
	c->fn(c->arg);
	gp_panic("context entry function returned");
}

void gp_ctx_init_current(struct gp_ctx *c)
{
	memset(c, 0, sizeof(*c));
}

void gp_ctx_release(struct gp_ctx *c)
{
	if (c->valgrind_id)
		VALGRIND_STACK_DEREGISTER(c->valgrind_id);
	c->valgrind_id = 0;
}

static void ctx_common(struct gp_ctx *c, void *stack_lo, size_t size, gp_ctx_fn fn, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->fn = fn;
	c->arg = arg;
	c->stack_lo = stack_lo;
	c->stack_size = size;
	c->valgrind_id = VALGRIND_STACK_REGISTER(stack_lo, (char *)stack_lo + size);
#ifdef GP_ASAN
	/* A reused stack still carries the poison of the frames that last lived on it. */
	ASAN_UNPOISON_MEMORY_REGION(stack_lo, size);
#endif
}

#ifdef GP_CTX_UCONTEXT

const char *gp_ctx_kind(void) { return "ucontext"; }

/* makecontext passes int arguments: the pointer travels in two halves. */
static void uc_entry(unsigned hi, unsigned lo)
{
	trampoline((struct gp_ctx *)(((uintptr_t)hi << 32) | lo));
}

void gp_ctx_make(struct gp_ctx *c, void *stack_lo, size_t size, gp_ctx_fn fn, void *arg)
{
	ctx_common(c, stack_lo, size, fn, arg);
	if (getcontext(&c->uc) < 0)
		gp_panic("getcontext failed");
	c->uc.uc_stack.ss_sp = stack_lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	uintptr_t p = (uintptr_t)c;
	makecontext(&c->uc, (void (*)(void))uc_entry, 2,
		    (unsigned)((uint64_t)p >> 32), (unsigned)(p & 0xffffffffu));
}

void gp_ctx_switch(struct gp_ctx *from, struct gp_ctx *to)
{
	asan_start(from, to, 0);
	switch_tp(from, to);
	if (swapcontext(&from->uc, &to->uc) < 0)
		gp_panic("swapcontext failed");
	asan_finish(from, 0);
}

void gp_ctx_exit_to(struct gp_ctx *from, struct gp_ctx *to)
{
	asan_start(from, to, 1);
	switch_tp(from, to);
	setcontext(&to->uc);
	gp_panic("setcontext failed");
}

#else /* the assembly switch */

void gp__ctx_swap(void **save_sp, void *load_sp);
void gp__ctx_entry(void);

const char *gp_ctx_kind(void) { return "asm"; }

#if defined(__x86_64__)
static void fill_frame(struct gp_ctx_frame *f, struct gp_ctx *c)
{
	memset(f, 0, sizeof(*f));
	/* A new thread starts with its creator's floating-point modes, as clone(2) copies them. */
	__asm__ volatile("stmxcsr %0" : "=m"(f->mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(f->fcw));
	f->r12 = (uint64_t)(uintptr_t)trampoline;
	f->r13 = (uint64_t)(uintptr_t)c;
	f->ret = (uint64_t)(uintptr_t)gp__ctx_entry;
}
#elif defined(__aarch64__)
static void fill_frame(struct gp_ctx_frame *f, struct gp_ctx *c)
{
	memset(f, 0, sizeof(*f));
	uint64_t fpcr;
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	f->fpcr = fpcr;
	f->x[0] = (uint64_t)(uintptr_t)trampoline;   /* x19 */
	f->x[1] = (uint64_t)(uintptr_t)c;            /* x20 */
	f->x30 = (uint64_t)(uintptr_t)gp__ctx_entry;
}
#endif

_Static_assert(sizeof(struct gp_ctx_frame) % 16 == 0, "frame keeps the stack aligned");

void gp_ctx_make(struct gp_ctx *c, void *stack_lo, size_t size, gp_ctx_fn fn, void *arg)
{
	ctx_common(c, stack_lo, size, fn, arg);
	uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
	struct gp_ctx_frame *f = (struct gp_ctx_frame *)(top - sizeof(*f));
	fill_frame(f, c);
	c->sp = f;
}

void gp_ctx_switch(struct gp_ctx *from, struct gp_ctx *to)
{
	asan_start(from, to, 0);
	switch_tp(from, to);
	gp__ctx_swap(&from->sp, to->sp);
	asan_finish(from, 0);
}

void gp_ctx_exit_to(struct gp_ctx *from, struct gp_ctx *to)
{
	asan_start(from, to, 1);
	switch_tp(from, to);
	gp__ctx_swap(&from->sp, to->sp);
	gp_panic("an ended context was resumed");
}

#endif

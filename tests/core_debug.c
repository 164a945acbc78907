/*
 * core/debug: the structure debuggers read. The test reads a parked thread the way
 * scripts/libgreenpatch-gdb.py does, through greenpatch_debug's offsets only, and checks
 * what it finds against the scheduler's own view; it runs with both context switches.
 */
#include "unit.h"

#include <dlfcn.h>
#include <stdint.h>

#include "ctx.h"
#include "debug.h"

static const struct gp_debug *d = &greenpatch_debug;

static uint64_t u64_at(uintptr_t base, uint32_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static int int_at(uintptr_t base, uint32_t off)
{
	int v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void *parker(void *arg)
{
	(void)arg;
	gp_park(-1, "debugger test");
	return NULL;
}

/* The thread whose id is id, found from the carriers as a debugger finds it. */
static uintptr_t find_by_id(uint64_t id)
{
	for (uint32_t i = 0; i < d->ncarriers; i++) {
		uintptr_t c = (uintptr_t)d->carriers + (uintptr_t)i * d->carrier_stride;
		for (uintptr_t g = u64_at(c, d->carrier_all); g; g = u64_at(g, d->green_all_next)) {
			cr_assert_eq(u64_at(g, d->green_magic), d->green_magic_value,
				     "a thread on the list lacks the magic value");
			if (u64_at(g, d->green_id) == id)
				return g;
		}
	}
	return 0;
}

/* Where the switched-out context g resumes, and its stack pointer. */
static void resume_point(uintptr_t g, uint64_t *pc, uint64_t *sp)
{
	uintptr_t ctx = g + d->green_ctx, base = ctx;
#if defined(__x86_64__)
	const char *pc_name = "rip";
#else
	const char *pc_name = "pc";
#endif
	*sp = 0;
	if (d->ctx_kind == GP_DEBUG_CTX_FRAME) {
		base = u64_at(ctx, d->ctx_sp);
		*sp = base + d->frame_size;
	}
	*pc = 0;
	for (uint32_t i = 0; i < d->nregs; i++) {
		const char *n = d->regs[i].name;
		if (strcmp(n, pc_name) == 0)
			*pc = u64_at(base, d->regs[i].offset);
		if (strcmp(n, "rsp") == 0 || strcmp(n, "sp") == 0)
			*sp = u64_at(base, d->regs[i].offset);
	}
}

Test(core_debug, header, .timeout = UNIT_TIMEOUT)
{
	cr_assert_eq(d->version, GP_DEBUG_VERSION);
	cr_assert_eq(d->size, sizeof(struct gp_debug));
	cr_assert_eq(d->ncarriers, 0, "carriers described before the runtime started");
	unit_start();
	cr_assert_eq(d->ncarriers, 1);
	cr_assert_eq(d->carriers, gp_rt->carriers);
	cr_assert_eq(d->ctx_kind, strcmp(gp_ctx_kind(), "asm") == 0 ? GP_DEBUG_CTX_FRAME :
		     GP_DEBUG_CTX_UCONTEXT, "the context kind is not the build's (%s)",
		     gp_ctx_kind());
	cr_assert_gt(d->nregs, 0, "no register is described");
}

Test(core_debug, parked_thread_as_a_debugger_reads_it, .timeout = UNIT_TIMEOUT)
{
	unit_start();
	struct gp_green *t = unit_spawn(parker, NULL);
	gp_yield();   /* t runs up to its park */

	uintptr_t g = find_by_id(t->id);
	cr_assert_eq(g, (uintptr_t)t, "thread %llu not found from greenpatch_debug",
		     (unsigned long long)t->id);
	int state = int_at(g, d->green_state);
	cr_assert(state >= 0 && (uint32_t)state < d->nstates);
	cr_assert_str_eq(d->state_names[state], "parked");
	cr_assert_str_eq((const char *)u64_at(g, d->green_waits_for), "debugger test");
	cr_assert_str_eq((const char *)g + d->green_name, t->name);
	uintptr_t c = (uintptr_t)d->carriers;
	cr_assert_eq(u64_at(c, d->carrier_current), (uint64_t)(uintptr_t)gp_self());
	cr_assert_eq(int_at(c + d->carrier_first, d->kthread_tid), gp_rt->tid);
	long parked = (long)u64_at(g, d->green_parked_ns);
	cr_assert(parked > 0 && parked <= (long)u64_at(c, d->carrier_clock_ns),
		  "parked at %ld, scheduler clock %ld", parked,
		  (long)u64_at(c, d->carrier_clock_ns));

	/* It resumes in code (the switch's caller; under ASan, its swapcontext
	 * interceptor), on its own stack. */
	uint64_t pc, sp;
	resume_point(g, &pc, &sp);
	Dl_info at;
	cr_assert(pc && dladdr((void *)(uintptr_t)pc, &at) && at.dli_fname,
		  "resumes at 0x%llx, in no loaded object's code", (unsigned long long)pc);
	uintptr_t lo = (uintptr_t)t->stack.lo;
	cr_assert(sp > lo && sp < lo + t->stack.size, "sp 0x%llx is off its stack",
		  (unsigned long long)sp);

	gp_unpark(t);
	unit_join(t);
}

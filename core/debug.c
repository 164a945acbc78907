#include "debug.h"

#include <stddef.h>

#include "green.h"
#include "kthread.h"
#include "sched.h"
#include "util.h"

_Static_assert(sizeof(void *) == 8, "debuggers read 8-byte pointers");
/* The layout scripts/libgreenpatch-gdb.py reads: a field added at the end changes the
 * size only; any other change needs a new GP_DEBUG_VERSION there and here. */
_Static_assert(sizeof(struct gp_debug) == 176, "struct gp_debug changed");

#define FIELD(type, member) ((uint32_t)offsetof(type, member))

const char *const gp_state_names[] = {
	[GP_RUNNABLE] = "runnable",
	[GP_RUNNING] = "running",
	[GP_PARKED] = "parked",
	[GP_DONE] = "done",
};

#ifdef GP_CTX_UCONTEXT
#define CTX_KIND GP_DEBUG_CTX_UCONTEXT
#define FRAME_SIZE 0
#define CTX_SP GP_DEBUG_NONE
/* From the start of struct gp_ctx, whose first member is the ucontext_t. */
#define UC_REG(gdb_name, field) \
	{ gdb_name, FIELD(struct gp_ctx, uc.uc_mcontext.field), 8 }
#if defined(__x86_64__)
static const struct gp_debug_reg regs[] = {
	UC_REG("rip", gregs[REG_RIP]), UC_REG("rsp", gregs[REG_RSP]),
	UC_REG("rbp", gregs[REG_RBP]), UC_REG("rbx", gregs[REG_RBX]),
	UC_REG("r12", gregs[REG_R12]), UC_REG("r13", gregs[REG_R13]),
	UC_REG("r14", gregs[REG_R14]), UC_REG("r15", gregs[REG_R15]),
};
#elif defined(__aarch64__)
static const struct gp_debug_reg regs[] = {
	UC_REG("pc", pc), UC_REG("sp", sp),
	UC_REG("x19", regs[19]), UC_REG("x20", regs[20]), UC_REG("x21", regs[21]),
	UC_REG("x22", regs[22]), UC_REG("x23", regs[23]), UC_REG("x24", regs[24]),
	UC_REG("x25", regs[25]), UC_REG("x26", regs[26]), UC_REG("x27", regs[27]),
	UC_REG("x28", regs[28]), UC_REG("x29", regs[29]), UC_REG("x30", regs[30]),
};
#endif
#else /* the assembly switch: struct gp_ctx_frame at the saved sp */
#define CTX_KIND GP_DEBUG_CTX_FRAME
#define FRAME_SIZE ((uint32_t)sizeof(struct gp_ctx_frame))
#define CTX_SP FIELD(struct gp_ctx, sp)
#define FRAME_REG(gdb_name, field) { gdb_name, FIELD(struct gp_ctx_frame, field), 8 }
#if defined(__x86_64__)
static const struct gp_debug_reg regs[] = {
	FRAME_REG("rip", ret), FRAME_REG("rbp", rbp), FRAME_REG("rbx", rbx),
	FRAME_REG("r12", r12), FRAME_REG("r13", r13), FRAME_REG("r14", r14),
	FRAME_REG("r15", r15),
};
#elif defined(__aarch64__)
/* d8-d15 are left out: gdb names them only as halves of the vector registers. */
static const struct gp_debug_reg regs[] = {
	FRAME_REG("pc", x30), FRAME_REG("x30", x30), FRAME_REG("x29", x29),
	FRAME_REG("x19", x[0]), FRAME_REG("x20", x[1]), FRAME_REG("x21", x[2]),
	FRAME_REG("x22", x[3]), FRAME_REG("x23", x[4]), FRAME_REG("x24", x[5]),
	FRAME_REG("x25", x[6]), FRAME_REG("x26", x[7]), FRAME_REG("x27", x[8]),
	FRAME_REG("x28", x[9]),
};
#endif
#endif

#if defined(__x86_64__)
#define ARCH "x86_64"
#elif defined(__aarch64__)
#define ARCH "aarch64"
#else
#define ARCH "unknown"
#endif


__attribute__((visibility("default"))) struct gp_debug greenpatch_debug = {
	.version = GP_DEBUG_VERSION,
	.size = sizeof(struct gp_debug),
	.arch = ARCH,
	.carrier_stride = sizeof(struct gp_carrier),
	.carrier_current = FIELD(struct gp_carrier, current),
	.carrier_all = FIELD(struct gp_carrier, all),
	.carrier_owner = FIELD(struct gp_carrier, owner),
	.carrier_first = FIELD(struct gp_carrier, first),
	.carrier_hub = FIELD(struct gp_carrier, hub),
	.carrier_clock_ns = FIELD(struct gp_carrier, clock_ns),
	.kthread_tid = FIELD(struct gp_kthread, tid),
	.green_magic = FIELD(struct gp_green, magic),
	.green_magic_value = GP_GREEN_MAGIC,
	.green_id = FIELD(struct gp_green, id),
	.green_handle = FIELD(struct gp_green, handle),
	.green_name = FIELD(struct gp_green, name),
	.green_name_size = sizeof(((struct gp_green *)0)->name),
	.green_state = FIELD(struct gp_green, state),
	.green_waits_for = FIELD(struct gp_green, waits_for),
	.green_wait_obj = FIELD(struct gp_green, wait_obj),
	.green_parked_ns = FIELD(struct gp_green, parked_ns),
	.green_all_next = FIELD(struct gp_green, all_next),
	.green_ctx = FIELD(struct gp_green, ctx),
	.green_m = FIELD(struct gp_green, m),
	.green_handed_off = FIELD(struct gp_green, handed_off),
	.green_is_hub = FIELD(struct gp_green, is_hub),
	.green_is_main = FIELD(struct gp_green, is_main),
	.state_names = gp_state_names,
	.nstates = GP_ARRAY_LEN(gp_state_names),
	.ctx_kind = CTX_KIND,
	.ctx_sp = CTX_SP,
	.frame_size = FRAME_SIZE,
#if defined(__x86_64__) || defined(__aarch64__)
	.regs = regs,
	.nregs = GP_ARRAY_LEN(regs),
#endif
	.mutex_owner_tid = GP_DEBUG_NONE,
	.mutex_owner_green = GP_DEBUG_NONE,
};

void gp_debug_set_carriers(struct gp_carrier *c, unsigned n)
{
	greenpatch_debug.carriers = c;
	greenpatch_debug.ncarriers = n;
}

/*
 * core/ctx: the context switch alone, without the scheduler.
 *
 * Every test builds contexts on gp_stack stacks and switches between them and the
 * test's own context (gp_ctx_init_current). Values travel through globals, since a
 * context's entry function takes one pointer and never returns.
 *
 * The same file is built twice, once per switch (build/tests/core with the assembly
 * switch, build/tests/core-ucontext with -DGP_CTX_UCONTEXT), so each test holds for both.
 */
#include "unit.h"

#include <signal.h>
#include <stdint.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "ctx.h"
#include "stack.h"
#include "util.h"

#define STACK_SIZE (256 * 1024)

static struct gp_ctx main_ctx, ctx_a, ctx_b;
static struct gp_stack stack_a, stack_b;

static void make_ctx(struct gp_ctx *c, struct gp_stack *s, size_t size, gp_ctx_fn fn,
		     void *arg)
{
	int rc = gp_stack_alloc(s, size);
	cr_assert_eq(rc, 0, "gp_stack_alloc(%zu) = %d", size, rc);
	gp_ctx_make(c, s->lo, s->size, fn, arg);
}

/* ---- ping-pong ---- */

#define ROUNDS 100000

static long counter;

static void count_and_return(void *arg)
{
	(void)arg;
	for (;;) {
		counter++;
		gp_ctx_switch(&ctx_a, &main_ctx);
	}
}

Test(core_ctx, ping_pong_with_main, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, count_and_return, NULL);
	for (long i = 0; i < ROUNDS; i++) {
		gp_ctx_switch(&main_ctx, &ctx_a);
		cr_assert_eq(counter, i + 1, "after switch %ld the context ran %ld times", i + 1,
			     counter);
	}
}

/*
 * Two contexts on their own stacks hand a token to each other; each checks that it is
 * its turn, so a switch that resumed the wrong context, or the right one twice, shows.
 */
static long token;
static long turn_errors;

static void pass_token(void *arg)
{
	long parity = (long)(intptr_t)arg;
	struct gp_ctx *self = parity ? &ctx_b : &ctx_a, *other = parity ? &ctx_a : &ctx_b;
	for (;;) {
		if (token % 2 != parity)
			turn_errors++;
		if (++token >= 2 * ROUNDS)
			gp_ctx_switch(self, &main_ctx);
		else
			gp_ctx_switch(self, other);
	}
}

Test(core_ctx, ping_pong_between_two_stacks, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, pass_token, (void *)(intptr_t)0);
	make_ctx(&ctx_b, &stack_b, STACK_SIZE, pass_token, (void *)(intptr_t)1);
	gp_ctx_switch(&main_ctx, &ctx_a);
	cr_assert_eq(token, 2 * ROUNDS, "the contexts passed the token %ld times, expected %d",
		     token, 2 * ROUNDS);
	cr_assert_eq(turn_errors, 0, "%ld switches resumed the wrong context", turn_errors);
}

/* ---- the context runs on its stack, aligned as the ABI requires ---- */

struct entry_probe {
	uintptr_t frame, local, stack_var;
	int printed;
};

static struct entry_probe probe;

static void probe_entry(void *arg)
{
	(void)arg;
	_Alignas(16) char local[16];
	local[0] = 1;
	probe.frame = (uintptr_t)__builtin_frame_address(0);
	probe.local = (uintptr_t)local;
	probe.stack_var = (uintptr_t)&arg;
	/* printf-family calls with a double save vector registers with aligned moves in
	 * their prologue: a misaligned stack crashes here rather than later. */
	char buf[32];
	probe.printed = snprintf(buf, sizeof(buf), "%.3f", 1.5);
	gp_ctx_switch(&ctx_a, &main_ctx);
	gp_panic("probe context resumed");
}

static void check_entry_alignment(size_t shrink)
{
	gp_ctx_init_current(&main_ctx);
	struct gp_stack s;
	int rc = gp_stack_alloc(&s, STACK_SIZE);
	cr_assert_eq(rc, 0, "gp_stack_alloc = %d", rc);
	/* A size that leaves the top unaligned: gp_ctx_make must align it itself. */
	gp_ctx_make(&ctx_a, s.lo, s.size - shrink, probe_entry, NULL);
	memset(&probe, 0, sizeof(probe));
	gp_ctx_switch(&main_ctx, &ctx_a);

	uintptr_t lo = (uintptr_t)s.lo, hi = lo + s.size - shrink;
	cr_assert(probe.stack_var >= lo && probe.stack_var < hi,
		  "size-%zu: a local of the entry function is at %#lx, outside its stack "
		  "[%#lx, %#lx)", shrink, (unsigned long)probe.stack_var, (unsigned long)lo,
		  (unsigned long)hi);
	cr_assert_eq(probe.frame % 16, 0,
		     "size-%zu: frame address %#lx at entry is not 16-byte aligned", shrink,
		     (unsigned long)probe.frame);
	cr_assert_eq(probe.local % 16, 0,
		     "size-%zu: a local declared _Alignas(16) is at %#lx", shrink,
		     (unsigned long)probe.local);
	cr_assert_eq(probe.printed, 5, "snprintf of a double on the new stack returned %d",
		     probe.printed);
	gp_ctx_release(&ctx_a);
	gp_stack_free(&s);
}

Test(core_ctx, entry_stack_is_aligned, .timeout = UNIT_TIMEOUT)
{
	static const size_t shrinks[] = { 0, 1, 8, 24, 40, 4095 };
	for (size_t i = 0; i < GP_ARRAY_LEN(shrinks); i++)
		check_entry_alignment(shrinks[i]);
}

/* ---- callee-saved registers ---- */

#if defined(__x86_64__)
/*
 * unit_switch_marked(from, to, seed, out): load rbx, rbp, r12..r15 with seed+0..5,
 * gp_ctx_switch(from, to), and store what those registers hold on return in out[0..5].
 * Written in assembly because compiled C chooses its registers itself (and at -O0
 * barely keeps anything in them across a call).
 */
void unit_switch_marked(struct gp_ctx *from, struct gp_ctx *to, uint64_t seed,
			uint64_t out[6]);
__asm__(
	"	.text\n"
	"	.globl	unit_switch_marked\n"
	"	.hidden	unit_switch_marked\n"
	"	.type	unit_switch_marked, @function\n"
	"unit_switch_marked:\n"
	"	pushq	%rbp\n"
	"	pushq	%rbx\n"
	"	pushq	%r12\n"
	"	pushq	%r13\n"
	"	pushq	%r14\n"
	"	pushq	%r15\n"
	"	pushq	%rcx\n"                 /* out; also realigns rsp to 16 for the call */
	"	movq	%rdx, %rbx\n"
	"	leaq	1(%rdx), %rbp\n"
	"	leaq	2(%rdx), %r12\n"
	"	leaq	3(%rdx), %r13\n"
	"	leaq	4(%rdx), %r14\n"
	"	leaq	5(%rdx), %r15\n"
	"	call	gp_ctx_switch@PLT\n"
	"	popq	%rcx\n"
	"	movq	%rbx, 0(%rcx)\n"
	"	movq	%rbp, 8(%rcx)\n"
	"	movq	%r12, 16(%rcx)\n"
	"	movq	%r13, 24(%rcx)\n"
	"	movq	%r14, 32(%rcx)\n"
	"	movq	%r15, 40(%rcx)\n"
	"	popq	%r15\n"
	"	popq	%r14\n"
	"	popq	%r13\n"
	"	popq	%r12\n"
	"	popq	%rbx\n"
	"	popq	%rbp\n"
	"	ret\n"
	"	.size	unit_switch_marked, .-unit_switch_marked\n");

static const char *const reg_names[6] = { "rbx", "rbp", "r12", "r13", "r14", "r15" };

#define SEED_MAIN 0x1111000000000000ULL
#define SEED_CTX  0x2222000000000000ULL
#define REG_ROUNDS 1000

static uint64_t ctx_out[6];
static int ctx_bad_reg = -1, ctx_bad_round = -1;
static uint64_t ctx_bad_value;

/* The other side sets its own markers before every switch back, clobbering the
 * registers the first side must get back. */
static void marked_peer(void *arg)
{
	(void)arg;
	for (int r = 0;; r++) {
		uint64_t seed = SEED_CTX + (uint64_t)r * 16;
		unit_switch_marked(&ctx_a, &main_ctx, seed, ctx_out);
		for (int i = 0; i < 6 && ctx_bad_reg < 0; i++) {
			if (ctx_out[i] != seed + (uint64_t)i) {
				ctx_bad_reg = i;
				ctx_bad_round = r;
				ctx_bad_value = ctx_out[i];
			}
		}
	}
}

Test(core_ctx, callee_saved_registers_survive, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, marked_peer, NULL);
	uint64_t out[6];
	for (int r = 0; r < REG_ROUNDS; r++) {
		uint64_t seed = SEED_MAIN + (uint64_t)r * 16;
		unit_switch_marked(&main_ctx, &ctx_a, seed, out);
		for (int i = 0; i < 6; i++)
			cr_assert_eq(out[i], seed + (uint64_t)i,
				     "round %d: %s was %#llx before the switch and %#llx after",
				     r, reg_names[i], (unsigned long long)(seed + (uint64_t)i),
				     (unsigned long long)out[i]);
	}
	cr_assert_eq(ctx_bad_reg, -1,
		     "in the context, round %d: %s came back as %#llx",
		     ctx_bad_round, ctx_bad_reg >= 0 ? reg_names[ctx_bad_reg] : "-",
		     (unsigned long long)ctx_bad_value);
}
#else
Test(core_ctx, callee_saved_registers_survive)
{
	cr_skip_test("the register check is written for x86_64");
}
#endif

/* ---- floating point ---- */

/* Two series computed in alternation, each switch in the middle of the arithmetic;
 * the same series computed straight must give the same bits. */
#define FP_STEPS 10000

static double fp_ctx_result;

static double series_step(double x, int i)
{
	return x * 1.000001 + 1.0 / (double)(i + 1);
}

static void fp_peer(void *arg)
{
	(void)arg;
	double x = 0.5;
	for (int i = 0; i < FP_STEPS; i++) {
		double half = x * 1.000001;
		gp_ctx_switch(&ctx_a, &main_ctx);
		x = half + 1.0 / (double)(i + 1);
	}
	fp_ctx_result = x;
	gp_ctx_switch(&ctx_a, &main_ctx);
	gp_panic("fp context resumed after its last step");
}

Test(core_ctx, doubles_survive_switches, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, fp_peer, NULL);
	double y = 2.5;
	for (int i = 0; i <= FP_STEPS; i++) {
		double part = y / 3.0;
		gp_ctx_switch(&main_ctx, &ctx_a);
		y = part * 3.0 + 0.25;
	}
	double want_x = 0.5, want_y = 2.5;
	for (int i = 0; i < FP_STEPS; i++)
		want_x = series_step(want_x, i);
	for (int i = 0; i <= FP_STEPS; i++)
		want_y = want_y / 3.0 * 3.0 + 0.25;
	cr_assert_eq(fp_ctx_result, want_x, "context series: %.17g, computed straight: %.17g",
		     fp_ctx_result, want_x);
	cr_assert_eq(y, want_y, "main series: %.17g, computed straight: %.17g", y, want_y);
}

#if defined(__x86_64__)
/*
 * Rounding modes, set in both places fesetround(3) sets them: the x87 control word and
 * MXCSR. (fesetround itself is in libm, which the unit binaries do not link.) The
 * switch saves both per context, so a mode set in one context must not leak into
 * another, and must be back when the first is resumed.
 */
enum rounding { RND_NEAREST = 0, RND_DOWN = 1, RND_UP = 2, RND_ZERO = 3 };
static const char *const rnd_names[] = { "nearest", "down", "up", "toward zero" };

static void set_rounding(enum rounding r)
{
	uint16_t cw;
	uint32_t csr;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	cw = (uint16_t)((cw & ~0x0c00u) | ((unsigned)r << 10));
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	csr = (csr & ~0x6000u) | ((unsigned)r << 13);
	__asm__ volatile("ldmxcsr %0" : : "m"(csr));
}

static enum rounding x87_rounding(void)
{
	uint16_t cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return (enum rounding)((cw >> 10) & 3);
}

static enum rounding sse_rounding(void)
{
	uint32_t csr;
	__asm__ volatile("stmxcsr %0" : "=m"(csr));
	return (enum rounding)((csr >> 13) & 3);
}

/* 1/3 in SSE arithmetic: rounding up gives the next double above the nearest one. */
static uint64_t third_bits(void)
{
	volatile double one = 1.0, three = 3.0;
	double q = one / three;
	uint64_t bits;
	memcpy(&bits, &q, sizeof(bits));
	return bits;
}

#define THIRD_NEAREST 0x3fd5555555555555ULL
#define THIRD_UP      0x3fd5555555555556ULL

/* What the peer saw, in order: its x87 and SSE modes on its first and second run. */
static enum rounding peer_seen[4];
static uint64_t peer_third;

static void rounding_peer(void *arg)
{
	(void)arg;
	peer_seen[0] = x87_rounding();
	peer_seen[1] = sse_rounding();
	peer_third = third_bits();
	set_rounding(RND_ZERO);
	gp_ctx_switch(&ctx_a, &main_ctx);
	peer_seen[2] = x87_rounding();
	peer_seen[3] = sse_rounding();
	gp_ctx_switch(&ctx_a, &main_ctx);
	gp_panic("rounding context resumed a third time");
}

static void assert_rounding(enum rounding want, const char *when)
{
	enum rounding x = x87_rounding(), s = sse_rounding();
	cr_assert_eq(x, want, "%s: x87 rounding is %s, expected %s", when, rnd_names[x],
		     rnd_names[want]);
	cr_assert_eq(s, want, "%s: MXCSR rounding is %s, expected %s", when, rnd_names[s],
		     rnd_names[want]);
}

Test(core_ctx, rounding_mode_is_per_context, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	assert_rounding(RND_NEAREST, "at the start of the test");
	/* Made before the mode changes: the peer starts with its creator's mode then. */
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, rounding_peer, NULL);
	set_rounding(RND_UP);
	/* Valgrind computes SSE arithmetic in round-to-nearest whatever MXCSR says: there,
	 * only the saved and restored control bits can be checked. */
	const bool arith = !RUNNING_ON_VALGRIND;
	if (arith)
		cr_assert_eq(third_bits(), THIRD_UP, "1/3 rounded up is %#llx",
			     (unsigned long long)third_bits());

	gp_ctx_switch(&main_ctx, &ctx_a);
	cr_assert_eq(peer_seen[0], RND_NEAREST, "the context saw x87 rounding %s, expected "
		     "nearest (its creator's mode when it was made)", rnd_names[peer_seen[0]]);
	cr_assert_eq(peer_seen[1], RND_NEAREST, "the context saw MXCSR rounding %s, expected "
		     "nearest", rnd_names[peer_seen[1]]);
	cr_assert_eq(peer_third, THIRD_NEAREST, "1/3 in the context is %#llx, expected the "
		     "nearest double %#llx", (unsigned long long)peer_third, THIRD_NEAREST);
	assert_rounding(RND_UP, "back in main after the context set toward-zero");
	if (arith)
		cr_assert_eq(third_bits(), THIRD_UP, "1/3 back in main is %#llx, expected "
			     "rounded up", (unsigned long long)third_bits());

	gp_ctx_switch(&main_ctx, &ctx_a);
	cr_assert_eq(peer_seen[2], RND_ZERO, "the context's own x87 mode came back as %s",
		     rnd_names[peer_seen[2]]);
	cr_assert_eq(peer_seen[3], RND_ZERO, "the context's own MXCSR mode came back as %s",
		     rnd_names[peer_seen[3]]);
	assert_rounding(RND_UP, "back in main a second time");
	set_rounding(RND_NEAREST);
}

static void report_rounding(void *arg)
{
	(void)arg;
	peer_seen[0] = x87_rounding();
	peer_seen[1] = sse_rounding();
	gp_ctx_switch(&ctx_a, &main_ctx);
	gp_panic("context resumed");
}

/* As clone(2) copies them, a new context starts with the modes its creator had when
 * it made the context, whatever the creator did since. */
Test(core_ctx, new_context_inherits_creator_rounding, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	set_rounding(RND_DOWN);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, report_rounding, NULL);
	set_rounding(RND_NEAREST);
	gp_ctx_switch(&main_ctx, &ctx_a);
	cr_assert_eq(peer_seen[0], RND_DOWN, "x87 rounding at entry is %s, expected down",
		     rnd_names[peer_seen[0]]);
	cr_assert_eq(peer_seen[1], RND_DOWN, "MXCSR rounding at entry is %s, expected down",
		     rnd_names[peer_seen[1]]);
	assert_rounding(RND_NEAREST, "in main after the context ran");
}
#endif

/* ---- deep recursion ---- */

#define RECURSE_DEPTH 200   /* ~210 KiB of a 256 KiB stack */

static unsigned long recurse_result;
static uintptr_t recurse_low_water;

/* About 1 KiB of frame per level, noting the lowest address reached; the volatile
 * array keeps every level's frame real. */
static unsigned long recurse_probe(int depth, uintptr_t *low)
{
	volatile unsigned char pad[1000];
	pad[0] = (unsigned char)depth;
	if ((uintptr_t)pad < *low)
		*low = (uintptr_t)pad;
	if (depth == 0)
		return 0;
	return recurse_probe(depth - 1, low) + pad[0];
}

static void deep_entry(void *arg)
{
	(void)arg;
	recurse_low_water = UINTPTR_MAX;
	recurse_result = recurse_probe(RECURSE_DEPTH, &recurse_low_water);
	gp_ctx_switch(&ctx_a, &main_ctx);
	gp_panic("context resumed");
}

Test(core_ctx, deep_recursion_on_256k_stack, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, 256 * 1024, deep_entry, NULL);
	gp_ctx_switch(&main_ctx, &ctx_a);
	unsigned long want = 0;
	for (int d = 1; d <= RECURSE_DEPTH; d++)
		want += (unsigned char)d;
	cr_assert_eq(recurse_result, want, "recursion returned %lu, expected %lu",
		     recurse_result, want);
	uintptr_t used = (uintptr_t)stack_a.lo + stack_a.size - recurse_low_water;
	cr_assert_geq(used, (uintptr_t)(150 * 1024),
		      "the recursion used only %lu bytes of stack: it did not go deep",
		      (unsigned long)used);
	cr_assert_lt(used, (uintptr_t)stack_a.size, "the recursion ran below the stack");
}

/* ---- leaving for good ---- */

static int exited_once;

static void exit_entry(void *arg)
{
	(void)arg;
	exited_once++;
	gp_ctx_exit_to(&ctx_a, &main_ctx);
}

/* A context that leaves with gp_ctx_exit_to is not resumed, and its stack can then be
 * released and handed out again. */
Test(core_ctx, exit_to_leaves_for_good, .timeout = UNIT_TIMEOUT)
{
	gp_ctx_init_current(&main_ctx);
	for (int i = 0; i < 100; i++) {
		make_ctx(&ctx_a, &stack_a, STACK_SIZE, exit_entry, NULL);
		gp_ctx_switch(&main_ctx, &ctx_a);
		cr_assert_eq(exited_once, i + 1, "run %d: entry ran %d times", i, exited_once);
		gp_ctx_release(&ctx_a);
		gp_stack_free(&stack_a);
	}
}

static void returning_entry(void *arg)
{
	(void)arg;
}

/* The panic line must be the runtime's one-line format; anything else fails the test
 * by exiting instead of letting the abort through. */
static long expect_panic_line(int fd, const void *buf, size_t len)
{
	const char *s = buf;
	if (fd != 2 || len < 12 || strncmp(s, "greenpatch[", 11) != 0 ||
	    !memmem(s, len, "fatal: context entry function returned\n", 39))
		_exit(3);
	return (long)len;
}

/* An entry function that returns is an impossible state: the runtime aborts with a
 * message instead of running off the top of the stack. */
Test(core_ctx, entry_returning_aborts, .signal = SIGABRT, .timeout = UNIT_TIMEOUT)
{
	gp__log_write = expect_panic_line;
	gp_ctx_init_current(&main_ctx);
	make_ctx(&ctx_a, &stack_a, STACK_SIZE, returning_entry, NULL);
	gp_ctx_switch(&main_ctx, &ctx_a);
}

/* ---- which switch ---- */

Test(core_ctx, kind_matches_build, .timeout = UNIT_TIMEOUT)
{
#ifdef GP_CTX_UCONTEXT
	const char *want = "ucontext";
#else
	const char *want = "asm";
#endif
	cr_assert_str_eq(gp_ctx_kind(), want, "gp_ctx_kind() = \"%s\" in a build for \"%s\"",
			 gp_ctx_kind(), want);
}

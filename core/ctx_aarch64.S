/*
 * AArch64 (AAPCS64) context switch.
 *
 * gp__ctx_swap(void **save_sp, void *load_sp): store the callee-saved x19-x28, the
 * frame pointer x29, the link register x30, the low halves of v8-v15 (d8-d15) and FPCR
 * in a 176-byte frame on the current stack, store sp in *save_sp, load load_sp, restore
 * the same frame and return to the restored x30.
 *
 * Frame at the saved sp: x19..x28 (0-79), x29 x30 (80-95), d8..d15 (96-159), fpcr
 * (160), pad. gp_ctx_make (ctx.c) builds the same frame for a new context, with x30 =
 * gp__ctx_entry, x19 = the C entry, x20 = its argument.
 */
	.text
	.globl	gp__ctx_swap
	.hidden	gp__ctx_swap
	.type	gp__ctx_swap, %function
gp__ctx_swap:
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	add	sp, sp, #176
	ret
	.size	gp__ctx_swap, .-gp__ctx_swap

	.globl	gp__ctx_entry
	.hidden	gp__ctx_entry
	.type	gp__ctx_entry, %function
gp__ctx_entry:
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0
	.size	gp__ctx_entry, .-gp__ctx_entry

	.section .note.GNU-stack,"",%progbits

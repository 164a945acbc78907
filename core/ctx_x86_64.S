/*
 * x86_64 System V context switch.
 *
 * gp__ctx_swap(void **save_sp, void *load_sp): push the callee-saved registers (rbx,
 * rbp, r12-r15) and the MXCSR and x87 control words, which the ABI also treats as
 * callee-saved, store rsp in *save_sp, load load_sp, pop the same frame and jump to the
 * saved return address. Resuming with pop+jmp instead of ret keeps the return stack
 * buffer from mispredicting every switch.
 *
 * Frame at the saved rsp, low to high: mxcsr(4) fcw(2) pad(2), r15, r14, r13, r12,
 * rbx, rbp, return address. gp_ctx_make (ctx.c) builds the same frame for a new
 * context, with the return address pointing at gp__ctx_entry.
 */
	.text
	.globl	gp__ctx_swap
	.hidden	gp__ctx_swap
	.type	gp__ctx_swap, @function
gp__ctx_swap:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movl	(%rsp), %eax
	movzwl	4(%rsp), %ecx
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	cmpl	%eax, (%rsp)
	jne	2f
	cmpw	%cx, 4(%rsp)
	jne	2f
1:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmpq	*%rcx
	/* Loading MXCSR and the x87 control word is the slow part of the switch: done only
	 * when the arriving context's differ from the ones just saved. */
2:	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	jmp	1b
	.cfi_endproc
	.size	gp__ctx_swap, .-gp__ctx_swap

/*
 * First instructions of a new context: r12 holds the C entry, r13 its argument. The
 * stack is 16-byte aligned here, as a call requires. The entry never returns.
 */
	.globl	gp__ctx_entry
	.hidden	gp__ctx_entry
	.type	gp__ctx_entry, @function
gp__ctx_entry:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	gp__ctx_entry, .-gp__ctx_entry

	.section .note.GNU-stack,"",@progbits

/*
 * Jumps that restore a saved signal mask.
 *
 * A jump to a buffer that saved the mask (sigsetjmp(env, 1)) restores it with glibc's
 * own sigprocmask, which no hook sees: the green thread's mask would stay as it was. So
 * the mask is set here first, as pthread_sigmask sets it; as natively, a pending signal
 * it lets in is handled before the jump. A thread handed off in a handler takes it at
 * its rejoin (signal.c). glibc then sets the kernel's mask again, which is still needed
 * where the runtime does not follow the kernel's mask: on such a thread's kernel thread,
 * and with shared TLS, where a handler cannot tell its green thread.
 *
 * longjmp, _longjmp and siglongjmp are one function in glibc, and __longjmp_chk
 * (_FORTIFY_SOURCE) the same with a check of the stack. With _FORTIFY_SOURCE,
 * <setjmp.h> renames the first three to __longjmp_chk, which would make this file
 * define that symbol four times: it is built without.
 */
#undef _FORTIFY_SOURCE

#include <setjmp.h>
#include <signal.h>

#include "hook.h"
#include "signals.h"

static _Noreturn void jump(struct __jmp_buf_tag env[1], int val,
			   void (*real)(struct __jmp_buf_tag[1], int))
{
	if (env->__mask_was_saved && gp_rt)
		gp__sigmask_restore(&env->__saved_mask);
	real(env, val);
	__builtin_unreachable();
}

void siglongjmp(sigjmp_buf env, int val)
{
	jump(env, val, GP_REAL(siglongjmp));
}

void longjmp(jmp_buf env, int val)
{
	jump(env, val, GP_REAL(longjmp));
}

void _longjmp(jmp_buf env, int val)
{
	jump(env, val, GP_REAL(_longjmp));
}

void __longjmp_chk(struct __jmp_buf_tag env[1], int val)
{
	jump(env, val, GP_REAL(__longjmp_chk));
}

/*
 * Cancellation of green threads.
 *
 * glibc keeps the cancellation state and the pthread_cleanup_push chain in the kernel
 * thread's descriptor, which every green thread of the carrier shares, so both live in
 * the green thread here: the exported functions that pthread_cleanup_push and _pop
 * expand to (__pthread_register_cancel and friends) keep a per-thread chain of the
 * program's cleanup buffers, linked through the buffer's own __pad[0].
 *
 * pthread_cancel marks the target and ends the wait it is parked in. The target acts
 * on it at a cancellation point: the green waits in the hooks (before parking, and
 * when a park ends), pthread_testcancel, and enabling the state with a cancel pending
 * and the asynchronous type. A target made apart (hook.h: a file lock, a process-shared
 * semaphore) waits in glibc on its own kernel thread: it is sent a signal there
 * (core/tls.h), whose handler acts if glibc's call is at the system call of a
 * cancellation point, as glibc's own SIGCANCEL handler would, and returns otherwise.
 * Acting jumps into the innermost cleanup buffer, whose code runs the handler and calls __pthread_unwind_next, which jumps into the next one; after
 * the last, the thread-specific data destructors run and the thread ends with
 * PTHREAD_CANCELED. A condition wait re-takes its mutex before that, as POSIX asks.
 *
 * The program's first thread keeps glibc's own cancellation, since its cleanup chain
 * may predate the runtime. C++ code, which glibc unwinds with exceptions, is not
 * covered.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "signals.h"
#include "tls.h"
#include "tsd.h"

/*
 * The cleanup buffer holds only the jmp_buf and the mask flag (always 0 there) of a
 * sigjmp_buf, so glibc's siglongjmp never reads the signal mask part that the buffer
 * lacks. The real one: the hook (longjmp.c) has no mask to restore here.
 */
static _Noreturn void jump_to_cleanup(void *cancel_jmp_buf)
{
	GP_REAL(siglongjmp)((struct __jmp_buf_tag *)cancel_jmp_buf, 1);
	__builtin_unreachable();
}

/* The green thread whose cancellation we keep: not the first thread, not a kernel thread. */
static struct gp_green *cancel_owner(void)
{
	if (!gp_on_green())
		return NULL;
	struct gp_green *g = gp_self();
	return g->is_main ? NULL : g;
}

/* A pthread_once initialiser that never returned: the next caller runs it again. */
static void abandon_once(struct gp_green *g)
{
	if (!g->once_running)
		return;
	__atomic_store_n((int *)g->once_running, 0, __ATOMIC_RELEASE);
	gp_wake(g->once_running, (size_t)-1);
	g->once_running = NULL;
}

static _Noreturn void finish(struct gp_green *g)
{
	abandon_once(g);
	gp__thread_cleanup(g);
	gp_enter();
	gp_exit(g->exiting ? g->retval : PTHREAD_CANCELED);
}

/* Run the next cleanup handler (it comes back through __pthread_unwind_next), or end. */
static _Noreturn void unwind_from(struct gp_green *g, __pthread_unwind_buf_t *buf)
{
	if (!buf)
		finish(g);
	g->cleanup_top = buf->__pad[0];
	jump_to_cleanup(buf->__cancel_jmp_buf);
}

static _Noreturn void act(struct gp_green *g)
{
	g->cancel_disabled = true;   /* as glibc: no second cancellation while unwinding */
	unwind_from(g, g->cleanup_top);
}

void gp__exit_unwinding(struct gp_green *g, void *retval)
{
	g->exiting = true;
	g->retval = retval;
	g->cancel_disabled = true;
	unwind_from(g, g->cleanup_top);
}

void gp__cancel_point(void)
{
	struct gp_green *g = cancel_owner();
	if (g && g->cancel_pending && !g->cancel_disabled)
		act(g);
}

void gp__async_cancel_point(void)
{
	struct gp_green *g = cancel_owner();
	if (g && g->cancel_async)
		gp__cancel_point();
}

/*
 * The handler's half, on the kernel thread of a thread made apart: its call is at the
 * system call of a cancellation point (no lock of glibc's held, as where glibc's
 * SIGCANCEL handler unwinds), so the call is left as if it had returned, the thread
 * rejoins the carrier, and acts. The handler's mask would stay on the kernel thread,
 * which goes back to the library: the signal is unblocked first.
 */
static void cancel_from_signal(void)
{
	/* The kernel thread's TLS is the thread's it runs (gp_on_green would rejoin). */
	struct gp_green *g = gp__me;
	if (!g || g->is_hub || g->is_main || !g->handed_off || !g->cancel_pending ||
	    g->cancel_disabled || !gp_tls_in_cancellable_call())
		return;
	uint64_t setxid = 1ull << (GP_TLS_SIGSETXID - 1);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &setxid, NULL, sizeof(setxid));
	gp__block_end();
	act(g);
}

/*
 * g waits apart (see above): end its wait. Inside the bracket. A signal that finds it
 * outside glibc's system call (just handed off, not yet in it) is lost: the monitor
 * sends a few more while it stays apart with the cancel pending (core/watch.c).
 */
static void cancel_apart(struct gp_green *g)
{
	gp__tls_cancel_signal = cancel_from_signal;
	struct gp_kthread *m = g->handed_off ? g->m : NULL;
	if (!m || __atomic_load_n(&m->carrying, __ATOMIC_ACQUIRE) != g)
		return;
	g->cancel_signals++;
	gp_tls_signal_cancel(m->tid);
}

int pthread_cancel(pthread_t t)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	if (!g && gp_ended_thread(t))   /* glibc 2.34 on: 0 for a thread that ended */
		return 0;
	if (!g || g->is_main)
		return GP_REAL(pthread_cancel)(gp_libc_handle(t));
	if (g->state == GP_DONE)
		return ESRCH;
	g->cancel_pending = true;
	if (g == gp_self()) {
		if (g->cancel_async && !g->cancel_disabled)
			act(g);
		return 0;
	}
	if (!g->cancel_disabled) {
		gp_enter();
		gp_interrupt_now_or_next(g);
		cancel_apart(g);
		gp_leave();
	}
	return 0;
}

void pthread_testcancel(void)
{
	if (!cancel_owner())
		GP_REAL(pthread_testcancel)();
	gp__cancel_point();
}

int pthread_setcancelstate(int state, int *old)
{
	struct gp_green *g = cancel_owner();
	if (!g)
		return GP_REAL(pthread_setcancelstate)(state, old);
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	if (old)
		*old = g->cancel_disabled ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
	g->cancel_disabled = state == PTHREAD_CANCEL_DISABLE;
	if (g->cancel_async)
		gp__cancel_point();
	return 0;
}

int pthread_setcanceltype(int type, int *old)
{
	struct gp_green *g = cancel_owner();
	if (!g)
		return GP_REAL(pthread_setcanceltype)(type, old);
	if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	if (old)
		*old = g->cancel_async ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
	g->cancel_async = type == PTHREAD_CANCEL_ASYNCHRONOUS;
	if (g->cancel_async)
		gp__cancel_point();
	return 0;
}

/* ---- what pthread_cleanup_push and _pop expand to ---- */

void __pthread_register_cancel(__pthread_unwind_buf_t *buf)
{
	struct gp_green *g = cancel_owner();
	if (!g) {
		GP_REAL(__pthread_register_cancel)(buf);
		return;
	}
	buf->__pad[0] = g->cleanup_top;
	g->cleanup_top = buf;
}

void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf)
{
	struct gp_green *g = cancel_owner();
	if (!g) {
		GP_REAL(__pthread_unregister_cancel)(buf);
		return;
	}
	g->cleanup_top = buf->__pad[0];
}

void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
	struct gp_green *g = cancel_owner();
	if (!g)
		GP_REAL(__pthread_unwind_next)(buf);
	unwind_from(g, buf->__pad[0]);
}

/*
 * Signals sent to the process. Linux delivers one to a thread that does not block it,
 * and if that thread was blocked in a system call, the call fails with EINTR (or is
 * restarted under SA_RESTART). On one carrier the handler runs wherever the carrier is,
 * most often in the hub's epoll_wait, and no green thread would notice.
 *
 * So the program's handlers are wrapped: sigaction and signal record the program's
 * handler and install a trampoline that calls it and then notes which signal arrived.
 * The carrier's loop, woken through its ev_async, picks the green thread Linux would
 * have picked (the first thread if it does not block the signal, else another that does
 * not) and ends its park if it is parked: its call then fails with EINTR, or goes on
 * under SA_RESTART. sigaction reports to the program exactly what it installed.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "hook.h"
#include "watch.h"
#include "signals.h"

/* glibc sets the kernel's SA_RESTORER on every action it installs (not in user headers). */
#define GP_SA_RESTORER 0x04000000

struct program_action {
	struct sigaction sa;   /* what the program installed */
	bool wrapped;          /* our trampoline is installed in its place */
};

static struct program_action actions[NSIG];
static _Atomic uint64_t arrived;     /* signals whose handler ran, not yet dealt with */
_Atomic unsigned long gp__handlers_ran;

static bool has_handler(const struct sigaction *act)
{
	if (act->sa_flags & SA_SIGINFO)
		return act->sa_sigaction != NULL;
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

/*
 * GREENPATCH_DUMP_SIGNAL. Its action in the kernel is always the trampoline, whatever
 * the program installs for it (sigaction reports the program's own), so that the dump
 * is written however the program handles the signal; after the dump, the program's
 * handler runs if it has one, as for any other signal.
 *
 * A program may block every signal in every thread: the monitor (core/watch.c), a
 * kernel thread of the library, takes the dump signal then. It cannot run the
 * program's handler, which must run on a thread of the program: it blocks the signal
 * for itself from then on, by the mask the kernel restores when the handler returns,
 * and sends it to the process again, where it waits for a thread of the program as it
 * would natively; that second arrival is not dumped again.
 */
static _Atomic unsigned dump_sent_back;

static bool take_one(_Atomic unsigned *count)
{
	unsigned n = atomic_load(count);
	while (n && !atomic_compare_exchange_weak(count, &n, n - 1))
		;
	return n != 0;
}

/* The dump signal arrived: true if nothing more is to be done for it here. */
static bool dump_signal_arrived(int sig, ucontext_t *uctx)
{
	if (take_one(&dump_sent_back))
		return false;
	gp_dump_write(2);
	if (!has_handler(&actions[sig].sa))
		return true;
	if (!gp__on_monitor)
		return false;
	sigaddset(&uctx->uc_sigmask, sig);
	atomic_fetch_add(&dump_sent_back, 1);
	syscall(SYS_kill, getpid(), sig);
	return true;
}

static bool on_handed_off_thread(void)
{
	struct gp_green *g = gp__me;
	return g && __atomic_load_n(&g->handed_off, __ATOMIC_RELAXED);
}

static void trampoline(int sig, siginfo_t *info, void *uctx)
{
	struct program_action *a = &actions[sig];
	int saved_errno = errno;
	if (sig == gp_config.dump_signal && dump_signal_arrived(sig, uctx)) {
		errno = saved_errno;
		return;
	}
	atomic_fetch_add_explicit(&gp__handlers_ran, 1, memory_order_relaxed);
	gp__in_handler++;
	if (a->sa.sa_flags & SA_SIGINFO)
		a->sa.sa_sigaction(sig, info, uctx);
	else if (a->sa.sa_handler != SIG_IGN && a->sa.sa_handler != SIG_DFL)
		a->sa.sa_handler(sig);
	gp__in_handler--;
	if (a->sa.sa_flags & SA_RESETHAND) {
		a->sa.sa_handler = SIG_DFL;
		a->sa.sa_flags &= ~SA_SIGINFO;
		a->wrapped = sig == gp_config.dump_signal;
	}
	/* A signal sent to one thread (raise, pthread_kill: SI_TKILL) is that thread's
	 * business: signal.c delivers those to green threads itself. One that the kernel
	 * gave a handed-off thread in its own system call (gp__block_begin) has done what
	 * it does natively: the call ends with EINTR or restarts, and no other thread's. */
	if (gp_rt && sig <= 64 && (!info || info->si_code != SI_TKILL) &&
	    !on_handed_off_thread()) {
		atomic_fetch_or(&arrived, 1ull << (sig - 1));
		/* Bracket closed: libev's write to its eventfd must pass straight through,
		 * not rejoin a handed-off thread's carrier in the middle of it (hook.h). */
		int in_user = gp__in_user;
		gp__in_user = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		ev_async_send(gp_rt->loop, &gp_rt->async);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		gp__in_user = in_user;
	}
	errno = saved_errno;
}

/* The green thread Linux would have given the signal, if it is parked. */
static struct gp_green *target_for(int sig)
{
	uint64_t bit = 1ull << (sig - 1);
	struct gp_green *m = gp_rt->main;
	if (m->state != GP_DONE && !(m->sigmask & bit))
		return m->state == GP_PARKED ? m : NULL;
	for (struct gp_green *g = gp_all(); g; g = g->all_next)
		if (g->state == GP_PARKED && !g->is_main && !(g->sigmask & bit))
			return g;
	return NULL;
}

/* On the carrier, in the loop: end the park of each arrived signal's thread. */
static void interrupt_for_arrived(void)
{
	uint64_t bits = atomic_exchange(&arrived, 0);
	while (bits) {
		int sig = __builtin_ctzll(bits) + 1;
		bits &= bits - 1;
		struct gp_green *g = target_for(sig);
		if (!g)
			continue;
		g->intr_restart = (actions[sig].sa.sa_flags & SA_RESTART) != 0;
		gp_interrupt(g);
	}
}

void gp__sigaction_init(void)
{
	gp__async_extra = interrupt_for_arrived;
}

static bool wants_trampoline(int sig, const struct sigaction *act)
{
	return has_handler(act) || sig == gp_config.dump_signal;
}

/*
 * The action in the kernel for the program's act. The dump signal's stays with the
 * trampoline: without a handler of the program's it restarts what it interrupts, and
 * a one-shot handler (SA_RESETHAND) is reset by the trampoline, not by the kernel.
 */
static struct sigaction trampoline_for(int sig, const struct sigaction *act)
{
	struct sigaction mine = *act;
	if (!has_handler(act)) {
		mine.sa_flags = SA_RESTART;
		sigemptyset(&mine.sa_mask);
	}
	if (sig == gp_config.dump_signal)
		mine.sa_flags &= ~SA_RESETHAND;
	mine.sa_sigaction = trampoline;
	mine.sa_flags |= SA_SIGINFO;
	return mine;
}

void gp__dump_signal_init(void)
{
	int sig = gp_config.dump_signal;
	struct sigaction dfl, mine;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	mine = trampoline_for(sig, &dfl);
	if (GP_REAL(sigaction)(sig, &mine, NULL) != 0) {
		gp_log(GP_LOG_ERROR, "GREENPATCH_DUMP_SIGNAL: cannot handle signal %d", sig);
		return;
	}
	actions[sig].sa = dfl;
	actions[sig].wrapped = true;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig <= 0 || sig >= NSIG)
		return GP_REAL(sigaction)(sig, act, old);
	struct program_action *a = &actions[sig];
	struct sigaction kernel_old, wanted;
	if (act)
		wanted = *act;   /* act and old may be the same structure */
	int rc;
	if (act && wants_trampoline(sig, act)) {
		struct sigaction mine = trampoline_for(sig, &wanted);
		rc = GP_REAL(sigaction)(sig, &mine, &kernel_old);
	} else {
		rc = GP_REAL(sigaction)(sig, act, &kernel_old);
	}
	if (rc != 0)
		return rc;
	if (old) {
		*old = kernel_old;
		if (a->wrapped && kernel_old.sa_sigaction == trampoline) {
			/* The program sees what it installed, with what glibc adds to it. */
			*old = a->sa;
			old->sa_flags |= kernel_old.sa_flags & GP_SA_RESTORER;
			old->sa_restorer = kernel_old.sa_restorer;
		}
	}
	if (act) {
		a->sa = wanted;
		a->wrapped = wants_trampoline(sig, &wanted);
	}
	return 0;
}

/* glibc's signal: BSD semantics, SA_RESTART, installed through sigaction. */
static sighandler_t install(int sig, sighandler_t handler, int flags)
{
	struct sigaction act, old;
	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	if (sig > 0 && sig < NSIG)
		sigaddset(&act.sa_mask, sig);
	if (sigaction(sig, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

sighandler_t signal(int sig, sighandler_t handler)
{
	return install(sig, handler, SA_RESTART);
}

sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return install(sig, handler, SA_RESTART);
}

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

#include "hook.h"
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

static void trampoline(int sig, siginfo_t *info, void *uctx)
{
	struct program_action *a = &actions[sig];
	int saved_errno = errno;
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
		a->wrapped = false;
	}
	/* A signal sent to one thread (raise, pthread_kill: SI_TKILL) is that thread's
	 * business: signal.c delivers those to green threads itself. */
	if (gp_carrier && sig <= 64 && (!info || info->si_code != SI_TKILL)) {
		atomic_fetch_or(&arrived, 1ull << (sig - 1));
		/* Bracket closed: libev's write to its eventfd must pass straight through,
		 * not rejoin a handed-off thread's carrier in the middle of it (hook.h). */
		int in_user = gp__in_user;
		gp__in_user = 0;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		ev_async_send(gp_carrier->loop, &gp_carrier->async);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		gp__in_user = in_user;
	}
	errno = saved_errno;
}

/* The green thread Linux would have given the signal, if it is parked. */
static struct gp_green *target_for(int sig)
{
	uint64_t bit = 1ull << (sig - 1);
	struct gp_green *m = gp_carrier->main;
	if (m->state != GP_DONE && !(m->sigmask & bit))
		return m->state == GP_PARKED ? m : NULL;
	for (struct gp_green *g = gp_carrier->all; g; g = g->all_next)
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

static bool wants_trampoline(const struct sigaction *act)
{
	if (act->sa_flags & SA_SIGINFO)
		return act->sa_sigaction != NULL;
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
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
	if (act && wants_trampoline(act)) {
		struct sigaction mine = wanted;
		mine.sa_sigaction = trampoline;
		mine.sa_flags |= SA_SIGINFO;
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
		a->wrapped = wants_trampoline(&wanted);
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

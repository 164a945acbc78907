/*
 * Signals sent to one green thread (pthread_kill).
 *
 * A kernel thread receives a signal wherever it is; a green thread may be parked. The
 * signal is therefore kept pending on the green thread, its park (if any) is ended,
 * and when the thread runs again the signal is raised on the carrier in that thread's
 * context, so its handler runs on the right stack, as the right pthread_self. The call
 * the thread was parked in then returns EINTR, or goes on waiting when every handler
 * that ran was installed with SA_RESTART, as signal(7) describes for the call.
 *
 * A signal sent to the running thread itself is raised at once, as natively.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include "hook.h"
#include "signals.h"

static bool valid_signal(int sig)
{
	return sig > 0 && sig < 64;
}

/* Would this signal do anything to the thread? Ignored ones are dropped by the kernel. */
static bool ignored(int sig)
{
	struct sigaction sa;
	if (sigaction(sig, NULL, &sa) != 0)
		return false;
	if (sa.sa_handler == SIG_IGN)
		return true;
	return sa.sa_handler == SIG_DFL &&
	       (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT);
}

static void deliver_pending(struct gp_green *g)
{
	bool restart = true;
	while (g->sig_pending) {
		int sig = __builtin_ctzll(g->sig_pending) + 1;
		g->sig_pending &= ~(1ull << (sig - 1));
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && !(sa.sa_flags & SA_RESTART))
			restart = false;
		/* The kernel runs the handler before this call returns, on this stack. */
		GP_REAL(pthread_kill)(GP_REAL(pthread_self)(), sig);
	}
	g->intr_restart = restart;
}

void gp__signal_init(void)
{
	gp__deliver_pending = deliver_pending;
}

bool gp__signal_restarts(void)
{
	return gp_self()->intr_restart;
}

int pthread_kill(pthread_t t, int sig)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	if (!g || g == gp_self())
		return GP_REAL(pthread_kill)(g ? GP_REAL(pthread_self)() : t, sig);
	if (sig == 0)
		return g->state == GP_DONE ? ESRCH : 0;
	if (!valid_signal(sig))
		return EINVAL;
	if (g->state == GP_DONE)
		return ESRCH;
	if (ignored(sig))
		return 0;
	g->sig_pending |= 1ull << (sig - 1);
	gp_enter();
	gp_interrupt(g);
	gp_leave();
	return 0;
}

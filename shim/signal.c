/*
 * Signals sent to one green thread (pthread_kill).
 *
 * A kernel thread receives a signal wherever it is; a green thread may be parked. The
 * signal is therefore kept pending on the green thread and its park (if any) is ended.
 * When the thread is back in program code (gp_leave, on the way out of the runtime,
 * with no runtime state half-changed) the signal is raised on the carrier, so its
 * handler runs on the right stack, as the right pthread_self, and may do anything a
 * handler may, longjmp included. The call the thread was parked in then returns EINTR,
 * or goes on waiting when every handler that ran was installed with SA_RESTART, as
 * signal(7) describes for the call.
 *
 * A signal sent to the running thread itself is raised at once, as natively.
 *
 * Each green thread has its own signal mask (pthread_sigmask, and sigprocmask, which
 * Linux applies to the calling thread), installed on the carrier when the thread runs.
 * A signal sent to a green thread that blocks it stays pending until it unblocks it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "signals.h"

static bool valid_signal(int sig)
{
	return sig > 0 && sig < NSIG;
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
	uint64_t ready;
	while ((ready = g->sig_pending & ~g->sigmask)) {
		int sig = __builtin_ctzll(ready) + 1;
		g->sig_pending &= ~(1ull << (sig - 1));
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && !(sa.sa_flags & SA_RESTART))
			restart = false;
		/* The kernel runs the handler before this call returns, on this stack. */
		GP_REAL(pthread_kill)(GP_REAL(pthread_self)(), sig);
	}
	g->intr_restart = restart;
}

void gp__deliver_signals(void)
{
	deliver_pending(gp_self());
}

bool gp__signal_restarts(void)
{
	return gp_self()->intr_restart;
}

int pthread_kill(pthread_t t, int sig)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	/* One the thread blocks stays pending on it, not on a carrier others run on. */
	if (g && g == gp_self() && valid_signal(sig) && (g->sigmask & (1ull << (sig - 1))) &&
	    !ignored(sig)) {
		g->sig_pending |= 1ull << (sig - 1);
		return 0;
	}
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
	uint64_t bit = 1ull << (sig - 1);
	gp_enter();
	struct gp_kthread *m = g->handed_off && !(g->sigmask & bit) ? g->m : NULL;
	if (m && __atomic_load_n(&m->carrying, __ATOMIC_ACQUIRE) == g) {
		/* It runs on a kernel thread of its own (handed off): the kernel delivers
		 * the signal there, ending its system call as it would natively. One it
		 * blocks stays pending on the green thread, which carries it along. */
		gp_leave();
		return syscall(SYS_tgkill, getpid(), m->tid, sig) == 0 ? 0 : errno;
	}
	g->sig_pending |= bit;
	if (!(g->sigmask & bit))
		gp_interrupt(g);
	gp_leave();
	return 0;
}

/* ---- masks ---- */

/* glibc's sigset_t keeps signals 1 to 64 in its first word, signal n at bit n-1. */
static uint64_t set_bits(const sigset_t *set)
{
	uint64_t bits;
	memcpy(&bits, set, sizeof(bits));
	return bits;
}

static void bits_set(sigset_t *set, uint64_t bits)
{
	sigemptyset(set);
	memcpy(set, &bits, sizeof(bits));
}

/* SIGKILL and SIGSTOP cannot be blocked; glibc keeps its own two (32, 33) open too. */
#define UNBLOCKABLE ((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | (3ull << 31))

static int green_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	struct gp_green *g = gp_self();
	uint64_t cur = g->sigmask;
	if (set) {
		uint64_t bits = set_bits(set), next;
		switch (how) {
		case SIG_BLOCK: next = cur | bits; break;
		case SIG_UNBLOCK: next = cur & ~bits; break;
		case SIG_SETMASK: next = bits; break;
		default: return EINVAL;
		}
		gp_enter();
		gp_sigmask_set(g, next & ~UNBLOCKABLE);
		gp_sched_leave();
		gp__in_user = 1;
	}
	if (old)
		bits_set(old, cur);
	/* Signals sent to this thread while it blocked them arrive now. */
	if (g->sig_pending & ~g->sigmask)
		deliver_pending(g);
	return 0;
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!gp_on_green())
		return GP_REAL(pthread_sigmask)(how, set, old);
	return green_sigmask(how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!gp_on_green())
		return GP_REAL(sigprocmask)(how, set, old);
	int rc = green_sigmask(how, set, old);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

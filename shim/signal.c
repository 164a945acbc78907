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
#include <fcntl.h>
#include <stdlib.h>
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

/*
 * Raise here each signal of *set that g does not block, taking it out of *set first:
 * the kernel runs its handler before pthread_kill returns, on this stack. False if a
 * handler installed without SA_RESTART ran.
 */
static bool raise_each(struct gp_green *g, uint64_t *set)
{
	bool restart = true;
	uint64_t ready;
	/* Atomic: the trampoline may take a signal given to g (sigaction.c) meanwhile, a
	 * signal of ours to look arriving between the load and the clear: it ran the
	 * handler then, and the signal is not raised a second time. */
	while ((ready = __atomic_load_n(set, __ATOMIC_RELAXED) & ~g->sigmask)) {
		int sig = __builtin_ctzll(ready) + 1;
		uint64_t bit = 1ull << (sig - 1);
		if (!(__atomic_fetch_and(set, ~bit, __ATOMIC_RELAXED) & bit))
			continue;
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && !(sa.sa_flags & SA_RESTART))
			restart = false;
		/* A look sent for this signal may be pending on this kernel thread already: a
		 * second instance of a signal below the real-time ones is then dropped, and
		 * the look is delivered in the raise's place (sigaction.c, place_given). The
		 * kernel delivers what is due before the call returns. */
		__atomic_or_fetch(&g->raising, bit, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		GP_REAL(pthread_kill)(GP_REAL(pthread_self)(), sig);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		__atomic_and_fetch(&g->raising, ~bit, __ATOMIC_RELAXED);
		__atomic_and_fetch(&g->raise_stood_in, ~bit, __ATOMIC_RELAXED);
	}
	return restart;
}

static void deliver_pending(struct gp_green *g)
{
	g->intr_given = false;
	g->intr_restart = raise_each(g, &g->sig_pending);
}

void gp__deliver_signals(void)
{
	struct gp_green *g = gp_self();
	/* First what came first: the CPU-time signals, which end no park. */
	if (g->sig_later & ~g->sigmask)
		(void)raise_each(g, &g->sig_later);
	if (g->sig_pending)
		deliver_pending(g);
}

bool gp__signal_restarts(void)
{
	return gp_self()->intr_restart;
}

int pthread_kill(pthread_t t, int sig)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	if (!g && gp_ended_thread(t))   /* glibc 2.34 on: 0 for a thread that ended */
		return valid_signal(sig) || sig == 0 ? 0 : EINVAL;
	if (g && g == gp_self() && valid_signal(sig) && sig <= 64 &&
	    (g->sigmask & (1ull << (sig - 1))) && !ignored(sig)) {
		/* Blocked: pending on this green thread, not on the carrier's kernel thread,
		 * whose other green threads would see it (sigpending) or take it. */
		__atomic_or_fetch(&g->sig_pending, 1ull << (sig - 1), __ATOMIC_RELAXED);
		return 0;
	}
	if (!g || g == gp_self())
		return GP_REAL(pthread_kill)(g ? GP_REAL(pthread_self)() : gp_libc_handle(t), sig);
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
	struct gp_kthread *m = g->handed_off ? g->m : NULL;
	if (m) {
		/* It runs on a kernel thread of its own (handed off): the kernel delivers
		 * the signal there, ending its system call as it would natively, or keeps
		 * it pending there while that kernel thread blocks it (which a handler's
		 * return or a jump may undo, where no hook sees it). If g comes back
		 * meanwhile, the kernel thread passes the signal on to it (core/kthread.c,
		 * give_signals_back). */
		__atomic_fetch_add(&m->signalling, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&m->carrying, __ATOMIC_SEQ_CST) == g) {
			gp_leave();
			__atomic_store_n(&m->signalled, true, __ATOMIC_RELEASE);
			long rc = GP_REAL(syscall)(SYS_tgkill, getpid(), m->tid, sig);
			int err = rc == 0 ? 0 : errno;
			__atomic_fetch_sub(&m->signalling, 1, __ATOMIC_RELEASE);
			return err;
		}
		__atomic_fetch_sub(&m->signalling, 1, __ATOMIC_RELEASE);
	}
	__atomic_or_fetch(&g->sig_pending, bit, __ATOMIC_RELAXED);
	if (!(gp_sigmask_now(g) & bit)) {
		if (g->state == GP_PARKED)
			gp_interrupt(g);
		else if (g->state == GP_RUNNING)   /* on another carrier: at once, as natively */
			gp__tell_signal(g, sig);
	}
	gp_leave();
	return 0;
}

/* raise is pthread_kill of oneself (glibc's calls its own, which no hook sees). */
int raise(int sig)
{
	if (!gp_on_green())
		return GP_REAL(raise)(sig);
	int rc = pthread_kill(pthread_self(), sig);
	if (rc) {
		errno = rc;
		return -1;
	}
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

/*
 * Into the bracket to change the running thread's mask: false where the thread was
 * handed off while in a handler, which must not rejoin there (hook.h).
 */
static bool enter_for_mask(void)
{
	if (!gp__in_handler || !gp__in_handler_now()) {
		gp_enter();
		return true;
	}
	return gp_enter_in_handler();
}

/*
 * Inside the bracket, g's mask becomes next (g runs), with what follows from it: signals
 * for the process kept until a thread unblocks them are given to g. kernel, when not
 * NULL, is the carrier's mask as the kernel sets it around a handler, told first
 * (gp_sigmask_by_kernel), so that setting g's own makes no call where the two agree.
 * Leaves the bracket.
 */
static void mask_becomes(struct gp_green *g, uint64_t next, const uint64_t *kernel, bool done)
{
	uint64_t cur = g->sigmask;
	if (kernel)
		gp_sigmask_by_kernel(*kernel, done);
	gp_sigmask_set(g, next & ~GP_UNBLOCKABLE);
	if (cur & ~g->sigmask)
		gp__take_kept_signals(g, cur & ~g->sigmask);
	gp_sched_leave();
	gp__in_user = 1;
}

/* Signals sent to g while it blocked them, which it no longer blocks, arrive now. */
static void deliver_unblocked(struct gp_green *g)
{
	if (g->sig_later & ~g->sigmask)
		(void)raise_each(g, &g->sig_later);
	if (g->sig_pending & ~g->sigmask)
		deliver_pending(g);
}

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
		if (!enter_for_mask()) {
			/* Handed off in a handler: its kernel thread's mask now, its own at
			 * its rejoin. */
			gp__kernel_thread_mask(next & ~GP_UNBLOCKABLE);
			gp_sigmask_at_rejoin(next & ~GP_UNBLOCKABLE);
			if (old)
				bits_set(old, cur);
			return 0;
		}
		mask_becomes(g, next, NULL, false);
	}
	if (old)
		bits_set(old, cur);
	deliver_unblocked(g);
	return 0;
}

void gp__kernel_thread_mask(uint64_t mask)
{
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(mask));
}

/* A green thread handed off while in a handler (its hooks act as a kernel thread's). */
static bool handed_off_in_handler(void)
{
	struct gp_green *me = gp__me;
	return me && gp__in_user && __atomic_load_n(&me->handed_off, __ATOMIC_RELAXED);
}

/*
 * Its kernel thread's mask was changed: the green thread's becomes the same at its
 * rejoin, unless the handler's return or a jump sets another first. One more call, in
 * a handler on a handed-off thread only.
 */
static void kernel_mask_changed(void)
{
	sigset_t now;
	if (handed_off_in_handler() && GP_REAL(pthread_sigmask)(SIG_BLOCK, NULL, &now) == 0)
		gp_sigmask_at_rejoin(set_bits(&now) & ~GP_UNBLOCKABLE);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!gp_on_green()) {
		int rc = GP_REAL(pthread_sigmask)(how, set, old);
		if (rc == 0 && set)
			kernel_mask_changed();
		return rc;
	}
	return green_sigmask(how, set, old);
}

void gp__sigmask_restore(const sigset_t *set)
{
	if (gp_on_green())
		(void)green_sigmask(SIG_SETMASK, set, NULL);
	else if (handed_off_in_handler())
		gp_sigmask_at_rejoin(set_bits(set) & ~GP_UNBLOCKABLE);
}

void gp__handler_mask(uint64_t green, uint64_t kernel, bool done)
{
	struct gp_green *g = gp__me;
	if (!gp_enter_in_handler()) {
		if (!done)
			gp__kernel_thread_mask(kernel);
		gp_sigmask_at_rejoin(green & ~GP_UNBLOCKABLE);
		return;
	}
	mask_becomes(g, green, &kernel, done);
	deliver_unblocked(g);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	if (!gp_on_green()) {
		int rc = GP_REAL(sigprocmask)(how, set, old);
		if (rc == 0 && set)
			kernel_mask_changed();
		return rc;
	}
	int rc = green_sigmask(how, set, old);
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

/*
 * What is pending for the calling thread: for the process and for the carrier's kernel
 * thread (the kernel's answer), for this green thread alone, and for the process but
 * kept by the library until a thread unblocks it (sigaction.c).
 */
int sigpending(sigset_t *set)
{
	if (!gp_on_green())
		return GP_REAL(sigpending)(set);
	if (GP_REAL(sigpending)(set) != 0)
		return -1;
	struct gp_green *g = gp_self();
	uint64_t bits = set_bits(set) | __atomic_load_n(&g->sig_pending, __ATOMIC_RELAXED) |
			__atomic_load_n(&g->sig_later, __ATOMIC_RELAXED) | gp__kept_signals() |
			gp__hub_held_signals();
	memcpy(set, &bits, sizeof(bits));
	return 0;
}

/*
 * The signals pending for the calling kernel thread alone become g's: taken from the
 * kernel (which hands a thread's own pending signals out before the process's) and
 * kept pending on the green thread. Two callers. When the runtime starts, the first
 * kernel thread's (sent to the first thread while it blocked them): it becomes a
 * carrier, which other green threads run on. And a kernel thread that gives back the
 * thread it carried after a hand-off, with the signals sent to it for that thread
 * (core/sched.h, gp__thread_signals_to).
 */
void gp__signals_adopt(struct gp_green *g)
{
	char buf[4096];
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/status",
			      O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *line = strstr(buf, "\nSigPnd:");
	uint64_t own = line ? strtoull(line + 8, NULL, 16) : 0;
	for (; own; own &= own - 1) {
		int sig = __builtin_ctzll(own) + 1;
		uint64_t one = 1ull << (sig - 1);
		struct timespec zero = { 0, 0 };
		if (syscall(SYS_rt_sigtimedwait, &one, NULL, &zero, sizeof(one)) == sig)
			__atomic_or_fetch(&g->sig_pending, one, __ATOMIC_RELAXED);
	}
}

/*
 * Signals sent to the process. Linux delivers one to a thread that does not block it
 * (the first thread if it does not, else another), runs the handler there, on that
 * thread's stack, and if the thread was blocked in a system call, the call fails with
 * EINTR (or is restarted under SA_RESTART). Here the kernel delivers it to a carrier's
 * kernel thread, wherever the carrier is: most often in the hub's epoll_wait.
 *
 * So the program's handlers are wrapped: sigaction and signal record the program's
 * handler and install a trampoline in its place. The trampoline runs the handler at
 * once when the kernel thread runs, in program code, the thread Linux would have picked
 * (or a kernel thread of the program's own, or a handed-off thread in its system call,
 * which Linux did pick). Anywhere else (the hub, the runtime's own code, a thread that
 * Linux would have passed over for the first one) the signal is kept, with its siginfo,
 * and the carrier's loop, woken through its ev_async, gives it to the green thread
 * Linux would pick: pending on that thread, whose park it ends (its call then fails
 * with EINTR, or goes on under SA_RESTART), or whose kernel thread it reaches with a
 * signal of ours if it runs elsewhere. The thread runs the handler in program context
 * (signal.c), with the siginfo the sender gave. As in the kernel, a second instance of a
 * signal merges with one not yet handled. sigaction reports to the program exactly what
 * it installed.
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

/*
 * A signal for the process on its way to a green thread: FREE, then KEPT (with no
 * thread yet), then GIVEN to one, until its handler runs there. WRITING while its
 * siginfo is stored.
 */
enum { FREE, WRITING, KEPT, GIVEN };

static struct {
	_Atomic int state;
	siginfo_t info;
	struct gp_green *to;
} kept[65];

static _Atomic uint64_t arrived;     /* signals kept, for the loop to give */
static _Atomic uint64_t ran_elsewhere;  /* with shared TLS: handlers run, parks to end */
_Atomic unsigned long gp__handlers_ran;

/* The signal of ours that tells a thread's kernel thread to look (SI_QUEUE, this value). */
#define LOOK_MARK 0x67706c6b   /* "gplk" */

static bool is_look(const siginfo_t *info)
{
	return info && info->si_code == SI_QUEUE && info->si_pid == getpid() &&
	       info->si_value.sival_int == LOOK_MARK;
}

/* If sig was given to g, take it: its siginfo into *info. */
static bool take_given(int sig, struct gp_green *g, siginfo_t *info)
{
	if (atomic_load(&kept[sig].state) != GIVEN || kept[sig].to != g)
		return false;
	*info = kept[sig].info;
	__atomic_and_fetch(&g->sig_pending, ~(1ull << (sig - 1)), __ATOMIC_RELAXED);
	g->intr_given = false;   /* delivered: the next signal may end a park at once */
	atomic_store(&kept[sig].state, FREE);
	return true;
}

static void wake_loop(void)
{
	/* Bracket closed: libev's write to its eventfd must pass straight through, not
	 * rejoin a handed-off thread's carrier in the middle of it (hook.h). */
	int in_user = gp__in_user;
	gp__in_user = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	ev_async_send(gp_rt->loop, &gp_rt->async);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gp__in_user = in_user;
}

/*
 * Whether the trampoline is sig's action: read by keep on any kernel thread while
 * sigaction changes it, sequentially consistent with the kept signal's state.
 */
static bool is_wrapped(int sig)
{
	return __atomic_load_n(&actions[sig].wrapped, __ATOMIC_SEQ_CST);
}

static void set_wrapped(int sig, bool wrapped)
{
	__atomic_store_n(&actions[sig].wrapped, wrapped, __ATOMIC_SEQ_CST);
}

/*
 * Keep sig for the loop to give; merged with an instance already kept.
 *
 * The kernel may have delivered it here just before the program replaced the handler:
 * a trampoline the kernel thread had not yet run when sigaction returned. An action
 * that discards the signal (SIG_IGN) must find it and drop it, as the kernel drops what
 * it holds; keeping it after that would give it later under whatever action comes
 * next, the default one included, which kills the process for SIGALRM (seen: a timer
 * stopped, SIG_IGN, then SIG_DFL). So the state is published first, then the action
 * read: either this sees the trampoline gone and takes the signal back, or sigaction,
 * which changes the action before it looks at the state (discard_kept), sees it kept.
 */
static void keep(int sig, const siginfo_t *info)
{
	int expect = FREE;
	if (atomic_compare_exchange_strong(&kept[sig].state, &expect, WRITING)) {
		if (info)
			kept[sig].info = *info;
		else
			kept[sig].info = (siginfo_t){ .si_signo = sig, .si_code = SI_KERNEL };
		atomic_store(&kept[sig].state, KEPT);
		if (!is_wrapped(sig)) {
			expect = KEPT;
			atomic_compare_exchange_strong(&kept[sig].state, &expect, FREE);
			return;
		}
	}
	atomic_fetch_or(&arrived, 1ull << (sig - 1));
	wake_loop();
}

/* Could the first thread take sig? Linux gives it a signal for the process first. */
static bool first_thread_takes(int sig)
{
	struct gp_green *m = gp_rt->main;
	return m->state != GP_DONE && !(gp_sigmask_now(m) & (1ull << (sig - 1)));
}

enum place { HERE, HERE_AS_GIVEN, ELSEWHERE, NEW };

/*
 * A look that comes while the thread raises the same signal on itself (signal.c,
 * raise_each) stands in for the raise: the thread took the signal from its pending set
 * first, so the look finds nothing there, and the raise's own instance, if the kernel
 * queued one, is dropped (below). A look pending on the kernel thread when the raise is
 * made swallows it (a signal below the kernel's first real-time one, 32, is pending
 * once): the raise must not be lost with it. Natively the two instances are one signal
 * too. Real-time signals queue: the kernel keeps both, and a late look is just late.
 */
#define KERNEL_SIGRTMIN 32

static bool stands_in_for_raise(struct gp_green *me, int sig, uint64_t bit)
{
	if (sig >= KERNEL_SIGRTMIN || !(__atomic_load_n(&me->raising, __ATOMIC_RELAXED) & bit))
		return false;
	__atomic_and_fetch(&me->raising, ~bit, __ATOMIC_RELAXED);
	__atomic_or_fetch(&me->raise_stood_in, bit, __ATOMIC_RELAXED);
	return true;
}

/*
 * The raise's own instance: dropped, once, when a look stood in for it; else delivered,
 * and a look that comes after it is a late one, as before the raise.
 */
static bool raise_stood_in(struct gp_green *me, uint64_t bit)
{
	if (__atomic_fetch_and(&me->raise_stood_in, ~bit, __ATOMIC_RELAXED) & bit)
		return true;
	__atomic_and_fetch(&me->raising, ~bit, __ATOMIC_RELAXED);
	return false;
}

/*
 * A signal given to this thread before (by the loop), which the kernel brings back
 * here (a raise of ours, or our signal to look): HERE_AS_GIVEN with its siginfo in
 * *given, or ELSEWHERE for a look that came too late. NEW for any other.
 */
static enum place place_given(int sig, const siginfo_t *info, siginfo_t *given)
{
	struct gp_green *me = gp__me;
	if (!gp_rt || sig > 64)
		return NEW;
	uint64_t bit = 1ull << (sig - 1);
	if (is_look(info)) {
		/* Never a signal by itself: a kernel thread that carries no green thread now
		 * (it gave its thread back) has nothing to look at. */
		if (!me || !gp__in_user)
			return ELSEWHERE;   /* given at its next return to program code */
		bool stands_in = stands_in_for_raise(me, sig, bit);
		if (take_given(sig, me, given))
			return HERE_AS_GIVEN;
		if (!(__atomic_fetch_and(&me->sig_pending, ~bit, __ATOMIC_RELAXED) & bit) &&
		    !stands_in)
			return ELSEWHERE;
		/* Sent to this thread by pthread_kill while it ran on this carrier. */
		me->intr_given = false;
		*given = (siginfo_t){ .si_signo = sig, .si_code = SI_TKILL };
		given->si_pid = getpid();
		given->si_uid = getuid();
		return HERE_AS_GIVEN;
	}
	if (me && info && info->si_code == SI_TKILL) {
		if (info->si_pid == getpid() && raise_stood_in(me, bit))
			return ELSEWHERE;
		if (take_given(sig, me, given))
			return HERE_AS_GIVEN;
	}
	return NEW;
}

/*
 * A hub waits in the loop with the mask of the moment it began (core/sched.c, hub_mask),
 * which may let in a signal that every green thread has blocked since. Natively such a
 * signal stays pending for the process until a thread unblocks it (sigpending shows
 * it, and the unblocking thread takes it at once): it is sent to the process again,
 * with this kernel thread blocking it from the handler's return on.
 */
static _Atomic uint64_t hub_holds;   /* signals a hub has taken and not yet dealt with */

static bool nobody_takes(int sig)
{
	struct gp_runtime *rt = gp_rt;
	size_t here = __atomic_load_n(&rt->alive, __ATOMIC_RELAXED) -
		      __atomic_load_n(&rt->away, __ATOMIC_RELAXED);
	return __atomic_load_n(&rt->blocked_by[sig - 1], __ATOMIC_RELAXED) >= here;
}

static void pend_again(int sig, const siginfo_t *info, ucontext_t *uctx)
{
	uint64_t bit = 1ull << (sig - 1);
	sigaddset(&uctx->uc_sigmask, sig);
	struct gp_carrier *c = gp__me->on;
	__atomic_or_fetch(&c->kernel_sigmask, bit, __ATOMIC_RELAXED);
	/* The sender's siginfo where the kernel allows it (from the first kernel thread,
	 * or a sigqueue's), else a plain kill. */
	if (!info || syscall(SYS_rt_sigqueueinfo, getpid(), sig, info) != 0)
		syscall(SYS_kill, getpid(), sig);
}

/*
 * ITIMER_PROF and ITIMER_VIRTUAL expire as the process uses CPU time, and Linux sends
 * their signal to the thread whose CPU time made them expire, the one running: a
 * profiler's handler reads the code it interrupted.
 */
static bool from_cpu_timer(int sig, const siginfo_t *info)
{
	return (sig == SIGPROF || sig == SIGVTALRM) && info && info->si_code == SI_KERNEL;
}

/* Where the handler of a signal the kernel delivered here for the first time runs. */
static enum place place_new(int sig, const siginfo_t *info, ucontext_t *uctx)
{
	struct gp_green *me = gp__me;
	/* Before the runtime, above the 64 signals it follows, or on a kernel thread of the
	 * program's own: where the kernel put it. */
	if (!gp_rt || sig > 64)
		return HERE;
	if (!me) {
		/* With shared TLS a thread cannot know itself in a handler: the handler runs
		 * where the kernel put it, and the thread Linux would pick, if parked, sees
		 * its call interrupted. */
		if (gp_rt->errno_at && !(info && info->si_code == SI_TKILL) && !gp__on_monitor) {
			atomic_fetch_or(&ran_elsewhere, 1ull << (sig - 1));
			wake_loop();
		}
		return HERE;
	}
	/* Sent to this thread (raise, pthread_kill), or to a handed-off thread in its own
	 * system call, which Linux picked. */
	if ((info && info->si_code == SI_TKILL) || __atomic_load_n(&me->handed_off,
								   __ATOMIC_RELAXED))
		return HERE;
	/* The running thread's CPU time: its handler runs here, or, from inside the
	 * library, at its return to program code. Natively it would have run before the
	 * call the thread was making, which it does not end: it ends no park. The hub's
	 * time is no thread's: the first thread takes the signal so, if it may; ending
	 * its park would make its poll or epoll_wait fail with EINTR, where natively a
	 * thread that waits uses no CPU time and is never sent one. */
	if (from_cpu_timer(sig, info)) {
		struct gp_green *to = !me->is_hub ? me : first_thread_takes(sig) ? gp_rt->main : NULL;
		if (to == me && gp__in_user)
			return HERE;
		if (to) {
			__atomic_or_fetch(&to->sig_later, 1ull << (sig - 1), __ATOMIC_RELAXED);
			return ELSEWHERE;
		}
	}
	if (gp__in_user && !me->is_hub && (me->is_main || !first_thread_takes(sig)) &&
	    atomic_load(&kept[sig].state) == FREE)
		return HERE;
	if (!me->is_hub) {
		keep(sig, info);
		gp_sched_loop_soon();
		return ELSEWHERE;
	}
	/* Until it is pending again or kept, a thread that unblocks it waits (below). */
	uint64_t bit = 1ull << (sig - 1);
	atomic_fetch_or(&hub_holds, bit);
	if (nobody_takes(sig) && uctx)
		pend_again(sig, info, uctx);
	else
		keep(sig, info);
	atomic_fetch_and(&hub_holds, ~bit);
	return ELSEWHERE;
}

/* Signals 1 to 64 of a set, as the kernel keeps them; SIGKILL and SIGSTOP never block. */
static uint64_t kernel_bits(const sigset_t *set)
{
	uint64_t bits;
	memcpy(&bits, set, sizeof(bits));
	return bits & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
}

/*
 * As a handler begins, the kernel blocks the action's sa_mask and the signal (unless
 * SA_NODEFER) on top of the interrupted code's mask, and sigreturn restores that mask,
 * the one in the ucontext (which the handler may change), as it ends. So a handler
 * sees its signal blocked, a mask it sets lasts until it returns, and a handler left
 * with longjmp leaves the signal blocked. The green thread's mask follows, where a
 * handler runs on a green thread in program code: on its carrier, whose mask in the
 * kernel the runtime records, at once; on a thread handed off before the signal came
 * (whose hooks act as a kernel thread's in a handler, hook.h), at its rejoin. At the
 * handler's end the restored mask is set in the kernel first (one call), so that a
 * signal handled before sigreturn restores the thread's mask at its own end, not the
 * handler's.
 */
enum handler_masks { MASKS_NONE, MASKS_CARRIER, MASKS_AT_REJOIN };

static enum handler_masks handler_mask_begins(int sig, const struct sigaction *sa,
					      const ucontext_t *uc)
{
	struct gp_green *me = gp__me;
	if (!me || !uc || !gp__in_user || me->is_hub || sig > 64)
		return MASKS_NONE;
	uint64_t added = kernel_bits(&sa->sa_mask);
	if (!(sa->sa_flags & SA_NODEFER))
		added |= 1ull << (sig - 1);
	uint64_t kernel = kernel_bits(&uc->uc_sigmask) | added;
	if (__atomic_load_n(&me->handed_off, __ATOMIC_RELAXED)) {
		gp_sigmask_at_rejoin(kernel & ~GP_UNBLOCKABLE);
		return MASKS_AT_REJOIN;
	}
	gp__handler_mask(me->sigmask | added, kernel, true);
	return MASKS_CARRIER;
}

/*
 * A thread that began the handler handed off may have rejoined in it, against the rule
 * (a mutex call in a handler, hook.h): it ends it on a carrier then.
 */
static void handler_mask_ends(enum handler_masks masks, const ucontext_t *uc)
{
	uint64_t after = kernel_bits(&uc->uc_sigmask);
	if (masks == MASKS_AT_REJOIN && __atomic_load_n(&gp__me->handed_off, __ATOMIC_RELAXED)) {
		gp__kernel_thread_mask(after);
		gp_sigmask_at_rejoin(after & ~GP_UNBLOCKABLE);
	} else if (masks != MASKS_NONE) {
		gp__handler_mask(after, after, false);
	}
}

static void run_handler(int sig, siginfo_t *info, void *uctx)
{
	struct program_action *a = &actions[sig];
	atomic_fetch_add_explicit(&gp__handlers_ran, 1, memory_order_relaxed);
	/* Without the handlers a jump left, seen from here; from a signal stack, which
	 * may lie above the thread's, nothing can be told (hook.h). */
	uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
	bool onstack = a->sa.sa_flags & SA_ONSTACK;
	int depth = onstack ? gp__in_handler : gp__handlers_running(frame);
	if (depth < GP_HANDLER_FRAMES)
		gp__handler_frame[depth] = frame | (onstack ? GP_HANDLER_ONSTACK : 0);
	gp__in_handler = depth + 1;
	enum handler_masks masks = has_handler(&a->sa) ? handler_mask_begins(sig, &a->sa, uctx)
						       : MASKS_NONE;
	if (a->sa.sa_flags & SA_SIGINFO)
		a->sa.sa_sigaction(sig, info, uctx);
	else if (a->sa.sa_handler != SIG_IGN && a->sa.sa_handler != SIG_DFL)
		a->sa.sa_handler(sig);
	handler_mask_ends(masks, uctx);
	/* Never below 0: under GREENPATCH_TLS=shared the green threads of a kernel thread
	 * share the count, and one's handler may take back another's entry. */
	if (gp__in_handler > 0)
		gp__in_handler--;
	if (a->sa.sa_flags & SA_RESETHAND) {
		a->sa.sa_handler = SIG_DFL;
		a->sa.sa_flags &= ~SA_SIGINFO;
		set_wrapped(sig, sig == gp_config.dump_signal);
	}
}

static void trampoline(int sig, siginfo_t *info, void *uctx)
{
	int saved_errno = errno;
	siginfo_t given;
	enum place where = place_given(sig, info, &given);
	/* The dump is written when the signal first arrives, not when it is given. */
	if (where == NEW && sig == gp_config.dump_signal && dump_signal_arrived(sig, uctx))
		where = ELSEWHERE;
	else if (where == NEW)
		where = place_new(sig, info, uctx);
	if (where == HERE)
		run_handler(sig, info, uctx);
	else if (where == HERE_AS_GIVEN)
		run_handler(sig, &given, uctx);
	errno = saved_errno;
}

/* The green thread Linux would give sig: the first thread if it takes it, else another. */
static struct gp_green *target_for(int sig)
{
	uint64_t bit = 1ull << (sig - 1);
	if (first_thread_takes(sig))
		return gp_rt->main;
	for (struct gp_green *g = gp_all(); g; g = g->all_next)
		if (g->state != GP_DONE && !g->is_main && !(gp_sigmask_now(g) & bit))
			return g;
	return NULL;
}

/* Tell the kernel thread that runs g (elsewhere) to look: the trampoline takes it there. */
void gp__tell_signal(struct gp_green *g, int sig)
{
	struct gp_kthread *m = g->handed_off ? g->m : g->on ? g->on->owner : NULL;
	if (!m)
		return;
	siginfo_t si = { .si_signo = sig, .si_code = SI_QUEUE };
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = LOOK_MARK;
	syscall(SYS_rt_tgsigqueueinfo, getpid(), m->tid, sig, &si);
}

/* Discards of each signal by a discarding action (discard_kept), for give. */
static _Atomic unsigned discarded_count[65];

/*
 * Give kept signal sig to g, inside the bracket: claimed first, since the loop and a
 * thread that unblocks it may try at once. Marked given before it is made pending on
 * g, which may raise it at once on another carrier and must find it given. A
 * discarding action set meanwhile on another kernel thread (discard_kept) waits for the
 * claim to end, frees the signal and clears it from every thread: made pending on g
 * after that, it is taken back here. A discard counted since the claim began that left
 * the signal given to g came before the claim, and freed an earlier instance.
 */
static void give(int sig, struct gp_green *g)
{
	uint64_t bit = 1ull << (sig - 1);
	unsigned discarded = atomic_load(&discarded_count[sig]);
	int expect = KEPT;
	if (!atomic_compare_exchange_strong(&kept[sig].state, &expect, WRITING))
		return;
	kept[sig].to = g;
	atomic_store(&kept[sig].state, GIVEN);
	__atomic_or_fetch(&g->sig_pending, bit, __ATOMIC_SEQ_CST);
	if (atomic_load(&discarded_count[sig]) != discarded &&
	    (atomic_load(&kept[sig].state) != GIVEN || kept[sig].to != g)) {
		/* Discarded (or taken by g already, which cleared it first). */
		__atomic_and_fetch(&g->sig_pending, ~bit, __ATOMIC_SEQ_CST);
		return;
	}
	if (g->state == GP_PARKED) {
		g->intr_restart = (actions[sig].sa.sa_flags & SA_RESTART) != 0;
		gp_interrupt(g);
	} else if (g != gp_self() && (g->state == GP_RUNNING || g->handed_off)) {
		gp__tell_signal(g, sig);
	}
}

/* On the carrier, in the loop: give each kept signal to its thread. */
static void give_arrived(void)
{
	uint64_t bits = atomic_exchange(&arrived, 0);
	while (bits) {
		int sig = __builtin_ctzll(bits) + 1;
		bits &= bits - 1;
		if (atomic_load(&kept[sig].state) != KEPT)
			continue;
		struct gp_green *g = target_for(sig);
		if (g)
			give(sig, g);   /* else it waits for a thread to unblock it */
	}
	bits = atomic_exchange(&ran_elsewhere, 0);
	while (bits) {
		int sig = __builtin_ctzll(bits) + 1;
		bits &= bits - 1;
		struct gp_green *g = target_for(sig);
		if (g && g->state == GP_PARKED) {
			g->intr_restart = (actions[sig].sa.sa_flags & SA_RESTART) != 0;
			gp_interrupt(g);
		}
	}
}

/*
 * A hub that took one of these signals in its event loop a moment ago, while every
 * thread blocked it, puts it back within microseconds (pend_again): wait for that, so
 * that the thread that unblocks it takes it at once, as natively. Bounded: a hub the
 * kernel does not run for that long is not waited for.
 */
static void wait_for_hubs(uint64_t bits)
{
	for (int i = 0; i < 1000 && (atomic_load(&hub_holds) & bits); i++)
		syscall(SYS_sched_yield);
}

/*
 * A poller waits with the mask of when it began to wait, which may let in a signal that
 * every green thread has blocked since: the kernel gives it the signal, which it puts
 * back for the process a moment later (pend_again), and meanwhile neither sigpending
 * nor a discarding action sees it. Until every carrier's kernel thread blocks bits and
 * no hub holds one, the poller is told to look at its mask again (it does before it
 * next waits). Bounded: a hub the kernel does not run for that long is not waited for.
 */
static void hubs_let_go(uint64_t bits)
{
	for (int i = 0; i < 1000; i++) {
		if (gp_carriers_block(bits) && !(atomic_load(&hub_holds) & bits))
			return;
		gp_loop_changed();
		syscall(SYS_sched_yield);
	}
}

/*
 * A signal the program sends its own process (kill, sigqueue) while every green thread
 * blocks it stays pending for the process natively: sigpending shows it at once, from
 * any thread, and an action that ignores it discards it. So no hub may take it.
 */
static void before_signalling(pid_t pid, int sig)
{
	if (!gp_rt || sig <= 0 || sig > 64 || !nobody_takes(sig))
		return;
	if (pid == 0 || pid == getpid() || (pid < -1 && -pid == getpgrp()))
		hubs_let_go(1ull << (sig - 1));
}

int kill(pid_t pid, int sig)
{
	before_signalling(pid, sig);
	return GP_REAL(kill)(pid, sig);
}

/* glibc's killpg calls its kill inside libc, where no hook sees it. */
int killpg(pid_t pgrp, int sig)
{
	if (pgrp >= 0)
		before_signalling(-pgrp, sig);
	return GP_REAL(killpg)(pgrp, sig);
}

int sigqueue(pid_t pid, int sig, const union sigval value)
{
	before_signalling(pid, sig);
	return GP_REAL(sigqueue)(pid, sig, value);
}

uint64_t gp__hub_held_signals(void)
{
	return atomic_load(&hub_holds);
}

void gp__take_kept_signals(struct gp_green *g, uint64_t unblocked)
{
	wait_for_hubs(unblocked);
	for (int sig = 1; sig <= 64; sig++)
		if (!(g->sigmask & (1ull << (sig - 1))) && atomic_load(&kept[sig].state) == KEPT)
			give(sig, g);
}

uint64_t gp__kept_signals(void)
{
	uint64_t bits = 0;
	for (int sig = 1; sig <= 64; sig++)
		if (atomic_load(&kept[sig].state) == KEPT)
			bits |= 1ull << (sig - 1);
	return bits;
}

void gp__sigaction_init(void)
{
	gp__async_extra = give_arrived;
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
	set_wrapped(sig, true);
}

/* An action that makes the kernel discard the signal, pending instances included. */
static bool discards(int sig, const struct sigaction *act)
{
	if (act->sa_flags & SA_SIGINFO)
		return false;
	return act->sa_handler == SIG_IGN ||
	       (act->sa_handler == SIG_DFL &&
		(sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT));
}

/*
 * POSIX: setting an action that ignores a pending signal discards it. The kernel does
 * so for its queues; the instances this library keeps or has given to a green thread,
 * not yet handled, go too.
 */
static void discard_kept(int sig)
{
	if (sig > 64 || !gp_rt)
		return;
	uint64_t bit = 1ull << (sig - 1);
	bool entered = gp_on_green();
	if (entered)
		gp_enter();
	atomic_fetch_add(&discarded_count[sig], 1);
	/* Being kept or given on another kernel thread: a few instructions, unless that
	 * thread is preempted in them (bounded all the same: past the bound, a signal being
	 * given is delivered). */
	int state = atomic_load(&kept[sig].state);
	for (unsigned spins = 0; state == WRITING && spins < 20000; spins++) {
		gp_spin_step(spins, 200);
		state = atomic_load(&kept[sig].state);
	}
	if (state == KEPT || state == GIVEN)
		atomic_compare_exchange_strong(&kept[sig].state, &state, FREE);
	for (struct gp_green *g = entered ? gp_all() : NULL; g; g = g->all_next)
		__atomic_and_fetch(&g->sig_pending, ~bit, __ATOMIC_SEQ_CST);
	if (entered)
		gp_leave();
}

/*
 * A hub may have taken sig from the kernel a moment before the discarding action was
 * set: it puts the signal back (pend_again) after the kernel's discard, where a handler
 * installed since would run, which natively never sees it. Once no hub can take or hold
 * it, the action is set once more: the kernel discards what came back. Nothing to wait
 * for when a green thread takes sig: a signal that reaches one before the action
 * changes is taken, as natively.
 */
static void discard_from_hubs(int sig, const struct sigaction *act)
{
	if (sig > 64 || !gp_rt || wants_trampoline(sig, act) || !nobody_takes(sig))
		return;
	hubs_let_go(1ull << (sig - 1));
	GP_REAL(sigaction)(sig, act, NULL);
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
		set_wrapped(sig, wants_trampoline(sig, &wanted));
		if (discards(sig, &wanted)) {
			discard_from_hubs(sig, &wanted);
			discard_kept(sig);
		}
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

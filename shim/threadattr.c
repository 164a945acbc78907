/*
 * The calls that describe or tune one thread by its pthread_t. glibc would read its
 * own thread descriptor behind the handle, which a green thread does not have: for a
 * green thread these answer from the green thread itself. Scheduling parameters are
 * the green thread's (below); affinity is accepted and not applied (carriers run any
 * green thread). Its CPU-time clock is in cputime.c.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "signals.h"
#include "tls.h"

/* A green thread other than the first one, which is the kernel thread itself. */
static struct gp_green *green_of(pthread_t t)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	return g && !g->is_main ? g : NULL;
}

/* Any green thread, the first one included. */
static struct gp_green *any_green_of(pthread_t t)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	return g && !g->is_hub ? g : NULL;
}

/*
 * The stack of the thread that forked this process, if it was a green thread other than
 * the first: the child's one thread, whose descriptor glibc knows no stack of.
 */
static struct gp_stack forker_stack;
uintptr_t gp__forker_handle, gp__forker_tcb;

void gp__remember_forker(const struct gp_green *g)
{
	if (g && !g->is_main && !g->is_hub) {
		forker_stack = g->stack;
		gp__forker_handle = g->handle;
		gp__forker_tcb = (uintptr_t)GP_REAL(pthread_self)();
	}
}

static int describe_stack(pthread_attr_t *attr, const struct gp_stack *stack, bool detached)
{
	int rc = pthread_attr_init(attr);
	if (rc != 0)
		return rc;
	pthread_attr_setstack(attr, stack->lo, stack->size);
	pthread_attr_setguardsize(attr, stack->map ? (size_t)sysconf(_SC_PAGESIZE) : 0);
	pthread_attr_setdetachstate(attr, detached ? PTHREAD_CREATE_DETACHED
						  : PTHREAD_CREATE_JOINABLE);
	return 0;
}

/*
 * The running green thread named by its descriptor, which glibc's pthread_self gives
 * inside the runtime: AddressSanitizer asks for that thread's stack as it ends, in a
 * process where it does not know the thread (the child of a fork).
 */
static struct gp_green *self_by_descriptor(pthread_t t)
{
	struct gp_green *me = gp__me;
	return me && !me->is_hub && !me->is_main && me->ctx.tp == (void *)t ? me : NULL;
}

int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct gp_green *g = green_of(t);
	if (!g)
		g = self_by_descriptor(t);
	if (!g && gp__forker_handle && (uintptr_t)t == gp__forker_handle)
		return describe_stack(attr, &forker_stack, false);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_getattr_np)(gp_libc_handle(t), attr);
	return describe_stack(attr, &g->stack, g->detached);
}

static bool valid_policy(int policy, int prio)
{
	int lo = sched_get_priority_min(policy), hi = sched_get_priority_max(policy);
	return lo >= 0 && prio >= lo && prio <= hi;
}

/* CAP_SYS_NICE in the effective set (capget, version 3: two 32-bit words). */
static bool may_set_any_priority(void)
{
	struct { unsigned version; int pid; } head = { 0x20080522, 0 };
	struct { unsigned effective, permitted, inheritable; } data[2] = { { 0 } };
	if (syscall(SYS_capget, &head, data) != 0)
		return false;
	return data[0].effective & (1u << 23 /* CAP_SYS_NICE */);
}

/*
 * May a thread take this policy? As the kernel decides for sched_setscheduler: a
 * real-time priority needs CAP_SYS_NICE, or to be within RLIMIT_RTPRIO.
 */
bool gp__sched_allowed(int policy, int prio)
{
	if ((policy != SCHED_FIFO && policy != SCHED_RR) || prio == 0)
		return true;
	struct rlimit rl;
	if (getrlimit(RLIMIT_RTPRIO, &rl) == 0 && (rlim_t)prio <= rl.rlim_cur)
		return true;
	return may_set_any_priority();
}

/*
 * Scheduling parameters of green threads, the first one's included, are theirs: kept
 * here, never given to the kernel, whose threads are the carriers. They order green
 * threads that wait to run or for the same object (core/green.h).
 */
int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *param)
{
	struct gp_green *g = any_green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_setschedparam)(gp_libc_handle(t), policy, param);
	if (!valid_policy(policy, param->sched_priority))
		return EINVAL;
	if (!gp__sched_allowed(policy, param->sched_priority))
		return EPERM;
	g->sched_policy = policy;
	g->sched_priority = param->sched_priority;
	return 0;
}

int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *param)
{
	struct gp_green *g = any_green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_getschedparam)(gp_libc_handle(t), policy, param);
	*policy = g->sched_policy;
	memset(param, 0, sizeof(*param));
	param->sched_priority = g->sched_priority;
	return 0;
}

int pthread_setschedprio(pthread_t t, int prio)
{
	struct gp_green *g = any_green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_setschedprio)(gp_libc_handle(t), prio);
	if (!valid_policy(g->sched_policy, prio))
		return EINVAL;
	if (!gp__sched_allowed(g->sched_policy, prio))
		return EPERM;
	g->sched_priority = prio;
	return 0;
}

/*
 * The same through the calls that name a thread by its id (sched(7)): 0 for the caller,
 * or a green thread's id (tid.c). Any other id is the kernel's.
 */
static bool sched_target(pid_t pid, struct gp_green **g)
{
	*g = NULL;
	if (!gp_rt || !gp_on_green())
		return false;
	if (pid == 0) {
		*g = gp_self();
		return !(*g)->is_hub;
	}
	if (pid != gp_rt->tid && !gp_tls_tid_is_green(pid))
		return false;
	gp_enter();
	*g = gp_find_tid(pid);
	gp_leave();
	return true;
}

static int sched_fail(int err)
{
	errno = err;
	return -1;
}

int sched_getscheduler(pid_t pid)
{
	struct gp_green *g;
	if (!sched_target(pid, &g))
		return GP_REAL(sched_getscheduler)(pid);
	return g ? g->sched_policy : sched_fail(ESRCH);
}

int sched_getparam(pid_t pid, struct sched_param *param)
{
	struct gp_green *g;
	if (!sched_target(pid, &g) || !param)
		return GP_REAL(sched_getparam)(pid, param);
	if (!g)
		return sched_fail(ESRCH);
	memset(param, 0, sizeof(*param));
	param->sched_priority = g->sched_priority;
	return 0;
}

int sched_setscheduler(pid_t pid, int policy, const struct sched_param *param)
{
	struct gp_green *g;
	if (!sched_target(pid, &g) || !param)
		return GP_REAL(sched_setscheduler)(pid, policy, param);
	if (!g)
		return sched_fail(ESRCH);
	policy &= ~SCHED_RESET_ON_FORK;
	if (!valid_policy(policy, param->sched_priority))
		return sched_fail(EINVAL);
	if (!gp__sched_allowed(policy, param->sched_priority))
		return sched_fail(EPERM);
	g->sched_policy = policy;
	g->sched_priority = param->sched_priority;
	return 0;
}

int sched_setparam(pid_t pid, const struct sched_param *param)
{
	struct gp_green *g;
	if (!sched_target(pid, &g) || !param)
		return GP_REAL(sched_setparam)(pid, param);
	if (!g)
		return sched_fail(ESRCH);
	return sched_setscheduler(pid, g->sched_policy, param);
}

/* The first thread's policy when the runtime starts: the kernel thread's until then. */
void gp__sched_adopt(struct gp_green *main)
{
	struct sched_param sp = { 0 };
	int policy = GP_REAL(sched_getscheduler)(0);
	if (policy < 0 || GP_REAL(sched_getparam)(0, &sp) != 0)
		return;
	main->sched_policy = policy & ~SCHED_RESET_ON_FORK;
	main->sched_priority = sp.sched_priority;
}

int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	if (!green_of(t))
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_setaffinity_np)(gp_libc_handle(t), size, set);
	(void)set;
	return size == 0 ? EINVAL : 0;
}

int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	if (!green_of(t))
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_getaffinity_np)(gp_libc_handle(t), size, set);
	return sched_getaffinity(0, size, set) == 0 ? 0 : errno;
}

/* The value travels only with a signal raised for real: a green target gets the signal. */
int pthread_sigqueue(pthread_t t, int sig, const union sigval value)
{
	if (!green_of(t))
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_sigqueue)(gp_libc_handle(t), sig, value);
	return pthread_kill(t, sig);
}

/*
 * The calls that describe or tune one thread by its pthread_t. glibc would read its
 * own thread descriptor behind the handle, which a green thread does not have: for a
 * green thread these answer from the green thread itself. Scheduling parameters and
 * affinity are accepted and stored (all green threads share one kernel thread, so they
 * cannot take effect); the CPU-time clock is the carrier's.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"

/* A green thread other than the first one, which is the kernel thread itself. */
static struct gp_green *green_of(pthread_t t)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	return g && !g->is_main ? g : NULL;
}

int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return GP_REAL(pthread_getattr_np)(t, attr);
	int rc = pthread_attr_init(attr);
	if (rc != 0)
		return rc;
	pthread_attr_setstack(attr, g->stack.lo, g->stack.size);
	pthread_attr_setguardsize(attr, g->stack.map ? (size_t)sysconf(_SC_PAGESIZE) : 0);
	pthread_attr_setdetachstate(attr, g->detached ? PTHREAD_CREATE_DETACHED
						      : PTHREAD_CREATE_JOINABLE);
	return 0;
}

static bool valid_policy(int policy, int prio)
{
	int lo = sched_get_priority_min(policy), hi = sched_get_priority_max(policy);
	return lo >= 0 && prio >= lo && prio <= hi;
}

int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *param)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return GP_REAL(pthread_setschedparam)(t, policy, param);
	if (!valid_policy(policy, param->sched_priority))
		return EINVAL;
	g->sched_policy = policy;
	g->sched_priority = param->sched_priority;
	return 0;
}

int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *param)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return GP_REAL(pthread_getschedparam)(t, policy, param);
	*policy = g->sched_policy;
	memset(param, 0, sizeof(*param));
	param->sched_priority = g->sched_priority;
	return 0;
}

int pthread_setschedprio(pthread_t t, int prio)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return GP_REAL(pthread_setschedprio)(t, prio);
	if (!valid_policy(g->sched_policy, prio))
		return EINVAL;
	g->sched_priority = prio;
	return 0;
}

int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	if (!green_of(t))
		return GP_REAL(pthread_setaffinity_np)(t, size, set);
	(void)set;
	return size == 0 ? EINVAL : 0;
}

int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	if (!green_of(t))
		return GP_REAL(pthread_getaffinity_np)(t, size, set);
	return sched_getaffinity(0, size, set) == 0 ? 0 : errno;
}

/*
 * The kernel's CPU-time clock of one thread, by its id (the encoding of
 * MAKE_THREAD_CPUCLOCK in the kernel's posix-timers.h: part of its ABI).
 */
static clockid_t thread_cpu_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 4 /* per thread */ | 2 /* sched */);
}

/* glibc's would build the clock from the id in a green thread's descriptor, which names
 * no kernel thread (core/tls.h): the running kernel thread's, the carrier's. */
int pthread_getcpuclockid(pthread_t t, clockid_t *clock)
{
	if (!green_of(t))
		return GP_REAL(pthread_getcpuclockid)(t, clock);
	*clock = thread_cpu_clock((pid_t)syscall(SYS_gettid));
	return 0;
}

/* The value travels only with a signal raised for real: a green target gets the signal. */
int pthread_sigqueue(pthread_t t, int sig, const union sigval value)
{
	if (!green_of(t))
		return GP_REAL(pthread_sigqueue)(t, sig, value);
	return pthread_kill(t, sig);
}

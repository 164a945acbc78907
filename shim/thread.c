/*
 * pthread_create and friends: on the carrier they create and manage green threads.
 *
 * A green thread's pthread_t is the address of its gp_green object, except for the
 * program's first thread, which keeps the pthread_t it had before the runtime started
 * (the program may have stored it). A handle that names no green thread (a kernel
 * thread created elsewhere, before the runtime or by a library's own clone) is passed
 * to libc.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "hook.h"
#include "signals.h"
#include "tsd.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static struct gp_green *green_of(pthread_t t)
{
	return gp_on_green() ? gp_find((uintptr_t)t) : NULL;
}

/* The stack size and detach state the attributes ask for. */
static int read_attr(const pthread_attr_t *attr, struct gp_spawn_attr *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (!attr)
		return 0;
	int ds;
	size_t size;
	if (pthread_attr_getdetachstate(attr, &ds) != 0 ||
	    pthread_attr_getstacksize(attr, &size) != 0)
		return -EINVAL;
	sa->detached = ds == PTHREAD_CREATE_DETACHED;
	int inherit = PTHREAD_INHERIT_SCHED;
	struct sched_param sp = { 0 };
	if (pthread_attr_getinheritsched(attr, &inherit) == 0 && inherit == PTHREAD_EXPLICIT_SCHED &&
	    pthread_attr_getschedpolicy(attr, &sa->sched_policy) == 0 &&
	    pthread_attr_getschedparam(attr, &sp) == 0) {
		sa->explicit_sched = true;
		sa->sched_priority = sp.sched_priority;
	}
	/*
	 * glibc keeps the top of a given stack and pthread_attr_getstack answers
	 * "top - size", also when no stack was given: the top is then NULL, and the
	 * answer wraps around to exactly -size.
	 */
	void *addr = NULL;
	size_t user_size = 0;
	if (pthread_attr_getstack(attr, &addr, &user_size) == 0 &&
	    (uintptr_t)addr + user_size != 0) {
		sa->stack_addr = addr;
		sa->stack_size = user_size;
		return 0;
	}
	/* An attribute left at glibc's default does not override GREENPATCH_STACK_SIZE. */
	if (size != gp__glibc_stack_size())
		sa->stack_size = size;
	return 0;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	/*
	 * Off the carrier (or inside the runtime) a kernel thread stays a kernel thread. The
	 * runtime starts only on the process's first thread: a helper thread glibc made
	 * (a SIGEV_THREAD timer's) must not become the carrier.
	 */
	if ((!gp_on_green() && gp_rt) ||
	    (!gp_rt && gp_kernel_tid() != getpid()))
		return GP_REAL(pthread_create)(t, attr, fn, arg);
	struct gp_spawn_attr sa;
	if (read_attr(attr, &sa) < 0)
		return EINVAL;
	/* As glibc, which sets an explicit policy on the new thread: EPERM if not allowed. */
	if (sa.explicit_sched && !gp__sched_allowed(sa.sched_policy, sa.sched_priority))
		return EPERM;
	int rc = gp__runtime_start();
	if (rc < 0)
		return -rc == ENOMEM ? EAGAIN : -rc;
	gp_enter();
	struct gp_green *g;
	rc = gp_spawn(&g, fn, arg, &sa);
	bool preempts = false;
	if (rc == 0) {
		/* Before the lock goes: another carrier may run g from then on, and g may
		 * rename itself, read *t, or end. As clone(2) copies the creator's name. */
		memcpy(g->name, gp_self()->name, sizeof(g->name));
		*t = (pthread_t)g->handle;
		preempts = gp_rt_priority(g) > gp_rt_priority(gp_self());
	}
	/* A new thread of higher real-time priority runs first, as the kernel runs it. */
	if (preempts)
		gp_yield();
	gp_leave();
	return -rc;
}

int pthread_join(pthread_t t, void **ret)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_join)(gp_libc_handle(t), ret);
	int rc;
	do {
		/* Acts on a cancel (does not return); a signal's handler has run in gp_leave. */
		gp__cancel_point();
		gp_enter();
		rc = gp_join(g, ret);
		gp_leave();
	} while (rc == -EINTR);
	return -rc;
}

int pthread_tryjoin_np(pthread_t t, void **ret)
{
	struct gp_green *g = green_of(t);
	if (!g)   /* glibc finds no end to wait for in a freed thread's descriptor */
		return gp_ended_thread(t) ? EBUSY : GP_REAL(pthread_tryjoin_np)(gp_libc_handle(t), ret);
	if (g->state != GP_DONE)
		return g->detached ? EINVAL : EBUSY;
	gp_enter();
	int rc = gp_join(g, ret);
	gp_leave();
	return -rc;
}

/* Join g, waiting until abstime on clock at the latest: 0 or an errno value. */
static int join_until(pthread_t t, struct gp_green *g, void **ret, clockid_t clock,
		      const struct timespec *abstime)
{
	if (!abstime)
		return pthread_join(t, ret);
	if (!gp_ts_valid(abstime))
		return EINVAL;
	if (g->detached || (g->joiner && g->joiner != gp_self()))
		return EINVAL;
	if (g == gp_self())
		return EDEADLK;
	gp_enter();
	int rc = 0;
	while (g->state != GP_DONE && rc == 0) {
		g->joiner = gp_self();
		double left = gp_until(clock, abstime);
		rc = left > 0 ? gp_park(left, "join") : -ETIMEDOUT;
		if (rc == -EINTR) {
			/* A signal's handler runs now, and the wait goes on; a cancel ends it
			 * (a cancellation point, as the plain join). */
			struct gp_green *self = gp_self();
			if (self->cancel_pending && !self->cancel_disabled)
				g->joiner = NULL;
			gp_leave();
			gp__cancel_point();
			gp_enter();
			rc = 0;
		}
	}
	if (g->state == GP_DONE)
		rc = gp_join(g, ret);
	else
		g->joiner = NULL;
	gp_leave();
	return -rc;
}

int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abstime)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_timedjoin_np)(gp_libc_handle(t), ret, abstime);
	return join_until(t, g, ret, CLOCK_REALTIME, abstime);
}

int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clock, const struct timespec *abstime)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH
					  : GP_REAL(pthread_clockjoin_np)(gp_libc_handle(t), ret, clock, abstime);
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	return join_until(t, g, ret, clock, abstime);
}

int pthread_detach(pthread_t t)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_detach)(gp_libc_handle(t));
	gp_enter();
	int rc = gp_detach(g);
	gp_leave();
	return -rc;
}

void pthread_exit(void *ret)
{
	if (!gp_on_green())
		GP_REAL(pthread_exit)(ret);
	struct gp_green *g = gp_self();
	if (!g->is_main)
		gp__exit_unwinding(g, ret);
	gp_enter();
	gp_exit(ret);
}

pthread_t pthread_self(void)
{
	if (!gp_in_program())
		return GP_REAL(pthread_self)();
	return (pthread_t)gp_self()->handle;
}

int pthread_equal(pthread_t a, pthread_t b)
{
	return a == b;
}

int sched_yield(void)
{
	if (!gp_cooperative())
		return GP_REAL(sched_yield)();
	gp_enter();
	bool others_ran = gp_yield();
	gp_leave();
	/*
	 * No other green thread was ready here: the kernel's turn, as natively. Threads that
	 * wait for each other with sched_yield may run on carriers that share a CPU (more
	 * carriers than CPUs), and the other carrier runs only when this one gives the CPU
	 * up: without this, every turn waited for the kernel to preempt a spinning carrier.
	 */
	if (!others_ran)
		return GP_REAL(sched_yield)();
	return 0;
}

/* glibc's pthread.h redirects pthread_yield to sched_yield: define it by its own name. */
__attribute__((visibility("default"))) int gp__pthread_yield(void) __asm__("pthread_yield");
int gp__pthread_yield(void)
{
	return sched_yield();
}

/* Green threads keep their name themselves: glibc would write it to /proc/self/task. */
int pthread_setname_np(pthread_t t, const char *name)
{
	struct gp_green *g = green_of(t);
	if (!g)   /* glibc: no /proc/self/task entry left for it */
		return gp_ended_thread(t) ? ENOENT : GP_REAL(pthread_setname_np)(gp_libc_handle(t), name);
	size_t len = strlen(name);
	if (len >= sizeof(g->name))
		return ERANGE;
	memcpy(g->name, name, len + 1);
	/* The first thread's name is the process's name in ps and /proc: keep it there too. */
	if (g->is_main)
		return GP_REAL(pthread_setname_np)(gp_libc_handle((pthread_t)g->handle), name);
	return 0;
}

int pthread_getname_np(pthread_t t, char *name, size_t len)
{
	struct gp_green *g = green_of(t);
	if (!g)
		return gp_ended_thread(t) ? ENOENT : GP_REAL(pthread_getname_np)(gp_libc_handle(t), name, len);
	size_t n = strlen(g->name);
	if (len < sizeof(g->name))
		return ERANGE;
	memcpy(name, g->name, n + 1);
	return 0;
}

/*
 * Thread ids. A green thread other than the first has an id of its own: the one its
 * descriptor holds (core/tls.h), GP_TLS_GREEN_TID_BASE plus its number, which is above
 * PID_MAX_LIMIT and so names no thread of this process or of any other, and stays the
 * same wherever the thread runs. gettid() and syscall(SYS_gettid) answer it; the first
 * thread keeps its kernel id, the process id, as natively. The calls that take the id
 * of a thread of this process understand it: tgkill and tkill signal that green thread
 * (as pthread_kill does), sched_getaffinity answers its carrier's CPUs, and
 * sched_setaffinity accepts a set the process may run on without pinning a carrier (as
 * pthread_setaffinity_np does for a green thread). /proc/self/task has no entry for it:
 * open and fopen of /proc/self/task/ID/... find the entry of the kernel thread that runs
 * the green thread now (its carrier's, or its own while handed off).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "tid.h"
#include "tls.h"

/* The calling green thread, if it is one other than the first. */
static struct gp_green *green_self(void)
{
	if (!gp_in_program())
		return NULL;
	struct gp_green *g = gp_self();
	return g->is_main || g->is_hub ? NULL : g;
}

/* The first thread's too: it may run on any carrier, and keeps the process id. */
pid_t gettid(void)
{
	if (!gp_rt || !gp_in_program() || gp_self()->is_hub)
		return GP_REAL(gettid)();
	return gp_green_tid(gp_self());
}

/* Is tid a green thread's id for the calls below (not a kernel thread's)? */
static bool names_green(pid_t tid)
{
	return gp_rt && (gp_tls_tid_is_green(tid) || tid == gp_rt->tid) && gp_on_green();
}

/* The handle of the live green thread whose id is tid, or 0. */
static pthread_t handle_of_tid(pid_t tid)
{
	gp_enter();
	struct gp_green *g = gp_find_tid(tid);
	pthread_t t = g ? (pthread_t)g->handle : 0;
	gp_leave();
	return t;
}

static long kill_green(pid_t tid, int sig)
{
	pthread_t t = handle_of_tid(tid);
	int rc = t ? pthread_kill(t, sig) : ESRCH;
	if (rc) {
		errno = rc;
		return -1;
	}
	return 0;
}

int tgkill(pid_t tgid, pid_t tid, int sig)
{
	if (tgid != getpid() || !names_green(tid))
		return GP_REAL(tgkill)(tgid, tid, sig);
	return (int)kill_green(tid, sig);
}

long gp__tkill(pid_t tid, int sig)
{
	if (!names_green(tid))
		return GP_REAL(syscall)(SYS_tkill, tid, sig);
	return kill_green(tid, sig);
}

/*
 * The caller's own id means the caller, as 0 does. For the first thread that id is the
 * process id, the first kernel thread's, which after a hand-off runs some other green
 * thread or none: main must move, and be answered for, where it runs now.
 */
static pid_t own_id_as_zero(pid_t tid)
{
	return tid != 0 && gp_rt && gp_in_program() && tid == gettid() ? 0 : tid;
}

/*
 * A green thread's id: the CPUs its carrier may run on. 0, or the caller's own id made 0
 * (*tid), on a green thread other than the first: the same, with the carrier left as it
 * is. The first thread's 0 is its carrier's kernel thread, as the kernel takes it.
 */
static bool green_target(pid_t *tid, bool *alive)
{
	struct gp_green *self = green_self();
	*tid = own_id_as_zero(*tid);
	if (*tid == 0) {
		*alive = true;
		return self != NULL;
	}
	if (!gp_tls_tid_is_green(*tid) || !names_green(*tid))
		return false;
	*alive = handle_of_tid(*tid) != 0;
	return true;
}

/* The id sched_getaffinity asks the kernel about in *tid (0 for a green thread's
 * carrier); false, with ESRCH, for a green thread that has ended. */
static bool affinity_asked_of(pid_t *tid)
{
	bool alive;
	if (!green_target(tid, &alive))
		return true;
	if (!alive) {
		errno = ESRCH;
		return false;
	}
	*tid = 0;
	return true;
}

long gp__sched_getaffinity_call(pid_t tid, size_t size, void *set)
{
	if (!affinity_asked_of(&tid))
		return -1;
	return GP_REAL(syscall)(SYS_sched_getaffinity, tid, size, set);
}

int sched_getaffinity(pid_t tid, size_t size, cpu_set_t *set)
{
	if (!affinity_asked_of(&tid))
		return -1;
	return GP_REAL(sched_getaffinity)(tid, size, set);
}

/* Accepted as the kernel would accept it (a CPU the process may use), and not applied. */
static long accept_affinity(size_t size, const void *want)
{
	cpu_set_t allowed;
	if (GP_REAL(sched_getaffinity)(0, sizeof(allowed), &allowed) != 0)
		return -1;
	const unsigned char *w = want, *a = (const unsigned char *)&allowed;
	for (size_t i = 0; i < size && i < sizeof(allowed); i++)
		if (w[i] & a[i])
			return 0;
	errno = EINVAL;
	return -1;
}

/*
 * The first thread's move of its own carrier (tid 0), made inside the runtime, where the
 * monitor hands no carrier off (core/watch.c). The kernel moves the calling thread
 * before the call returns, which on a loaded machine takes long enough for a hand-off;
 * the green threads would then go on on a spare that the move never reached. A
 * hand-off later gives the carrier to a kernel thread that moves there first
 * (gp_kthread_moved).
 */
static long move_own_carrier(size_t size, const void *set)
{
	gp_enter();
	long rc = GP_REAL(syscall)(SYS_sched_setaffinity, 0, size, set);
	int err = errno;
	if (rc == 0)
		gp_kthread_moved(gp_self()->on, set, size);
	gp_leave();
	errno = err;
	return rc;
}

long gp__sched_setaffinity_call(pid_t tid, size_t size, const void *set)
{
	bool alive;
	if (!green_target(&tid, &alive))
		return tid == 0 && gp_on_green()
			       ? move_own_carrier(size, set)
			       : GP_REAL(syscall)(SYS_sched_setaffinity, tid, size, set);
	if (!alive) {
		errno = ESRCH;
		return -1;
	}
	return accept_affinity(size, set);
}

int sched_setaffinity(pid_t tid, size_t size, const cpu_set_t *set)
{
	return (int)gp__sched_setaffinity_call(tid, size, set);
}

/* The kernel thread that runs g now, or ran it last. Inside the bracket. */
static int kernel_tid_of(struct gp_green *g)
{
	if (g == gp_self())
		return gp_kernel_tid();
	if (g->handed_off && g->m)
		return g->m->tid;
	return g->on ? g->on->owner->tid : 0;
}

/* The first thread's entry is its id's too: it may run on any carrier's kernel thread. */
const char *gp__task_path(const char *path, char buf[GP_TASK_PATH_MAX])
{
	if (!path || strncmp(path, "/proc/", 6) != 0 || !gp_rt)
		return path;
	const char *p = path + 6;
	if (strncmp(p, "self/", 5) == 0) {
		p += 5;
	} else {
		char *end;
		if (strtol(p, &end, 10) != getpid() || *end != '/')
			return path;
		p = end + 1;
	}
	if (strncmp(p, "task/", 5) != 0)
		return path;
	char *rest;
	long tid = strtol(p + 5, &rest, 10);
	if (rest == p + 5 || (*rest != '/' && *rest != 0) || tid > INT32_MAX ||
	    !names_green((pid_t)tid))
		return path;
	gp_enter();
	struct gp_green *g = gp_find_tid((int)tid);
	int kernel = g ? kernel_tid_of(g) : 0;
	gp_leave();
	if (!kernel || kernel == tid)
		return path;
	int n = snprintf(buf, GP_TASK_PATH_MAX, "/proc/self/task/%d%s", kernel, rest);
	return n > 0 && n < GP_TASK_PATH_MAX ? buf : path;
}

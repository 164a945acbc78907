/*
 * CPU-time clocks of green threads. CLOCK_THREAD_CPUTIME_ID and the clock
 * pthread_getcpuclockid gives measure the CPU time of the thread they name; the kernel
 * measures its kernel threads, and a carrier runs many green threads. So a green
 * thread's clock is the kernel's CPU-time clock of a number that names no kernel
 * thread (below), and clock_gettime answers it from the runtime's count of each green
 * thread's time on its carriers (core/sched.h, gp_green_cpu_ns), counted from the first
 * time the program asks on. A clock of a thread that has ended is EINVAL, as natively.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "hook.h"

/* The kernel's CPU-time clock of thread tid (MAKE_THREAD_CPUCLOCK, posix-timers.h). */
static clockid_t thread_cpu_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 4 /* per thread */ | 2 /* sched */);
}

/* The thread id in a per-thread CPU-time clock (CPUCLOCK_PID), or 0 if clock is not one. */
static pid_t clock_tid(clockid_t clock)
{
	if (clock >= 0 || (clock & 7) != (4 | 2))
		return 0;
	return (pid_t)~(clock >> 3);
}

/*
 * The encoding keeps 29 bits of the id: a green thread's clock holds, instead of its
 * id, a number above PID_MAX_LIMIT (2^22) and below 2^28, which names no kernel thread
 * either (the kernel says EINVAL for its clock, natively too).
 */
#define CLOCK_ID_BASE (1 << 22)
#define CLOCK_ID_SPAN ((1 << 28) - CLOCK_ID_BASE)

static pid_t clock_id_of(const struct gp_green *g)
{
	return g->is_main ? gp_green_tid(g) : CLOCK_ID_BASE + (pid_t)(g->id % CLOCK_ID_SPAN);
}

int pthread_getcpuclockid(pthread_t t, clockid_t *clock)
{
	struct gp_green *g = gp_on_green() ? gp_find((uintptr_t)t) : NULL;
	if (!g || g->is_hub)
		return gp_ended_thread(t) ? ESRCH : GP_REAL(pthread_getcpuclockid)(gp_libc_handle(t), clock);
	*clock = thread_cpu_clock(clock_id_of(g));
	return 0;
}

/* The live green thread whose clock has id, inside the bracket; or NULL. */
static struct gp_green *find_clock_id(pid_t id)
{
	for (struct gp_green *g = gp_all(); g; g = g->all_next)
		if (!g->is_hub && g->state != GP_DONE && clock_id_of(g) == id)
			return g;
	return NULL;
}

/*
 * The green thread whose CPU time clock measures, with the bracket entered; or NULL,
 * *ours set if the clock is one of a green thread that has ended.
 */
static struct gp_green *clock_owner(clockid_t clock, bool *ours)
{
	*ours = false;
	pid_t id = clock_tid(clock);
	if (id != gp_rt->tid && id < CLOCK_ID_BASE)
		return NULL;
	*ours = true;
	gp_enter();
	struct gp_green *g = find_clock_id(id);
	if (!g)
		gp_leave();
	return g;
}

static void set_ns(struct timespec *ts, long ns)
{
	ts->tv_sec = ns / 1000000000L;
	ts->tv_nsec = ns % 1000000000L;
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
	if (GP_LIKELY(clock >= 0 && clock != CLOCK_THREAD_CPUTIME_ID) || !gp_rt ||
	    !gp_in_program() || gp_self()->is_hub)
		return GP_REAL(clock_gettime)(clock, ts);
	if (clock == CLOCK_THREAD_CPUTIME_ID) {
		set_ns(ts, gp_self_cpu_ns());
		return 0;
	}
	if (!gp_on_green())
		return GP_REAL(clock_gettime)(clock, ts);
	bool ours;
	struct gp_green *g = clock_owner(clock, &ours);
	if (!g) {
		if (!ours)
			return GP_REAL(clock_gettime)(clock, ts);
		errno = EINVAL;
		return -1;
	}
	long ns = gp_green_cpu_ns(g);
	gp_leave();
	set_ns(ts, ns);
	return 0;
}

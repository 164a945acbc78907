/*
 * The end of the process, for the robust mutexes of green threads.
 *
 * When a process ends, the kernel marks each robust mutex one of its threads still
 * holds (FUTEX_OWNER_DIED, futex(2) "Robust futexes") and wakes a waiter, who gets
 * EOWNERDEAD: it walks each kernel thread's robust list and matches the owner's thread
 * id. It knows no green thread: their lists are in descriptors the library made, and
 * their ids name no kernel thread (core/tls.h). So the library walks them as the
 * process ends through its own code: exit (main's return, the last thread's
 * pthread_exit), where the library's destructor runs after the program's atexit
 * handlers, and _exit and _Exit, hooked. The walk happens as late as the library can
 * make it, while green threads on other carriers may still run for a moment, which
 * natively the end of the process would have stopped first.
 *
 * A process killed by a signal (SIGKILL, a crash) runs no code, nor does one ending by
 * quick_exit (glibc's own _exit) or replaced by execve: the robust mutexes of its green
 * threads other than the first stay held (libgreenpatch(7), LIMITATIONS). The first
 * thread's are on its kernel thread's list, and the kernel marks them as natively.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "tls.h"

/*
 * Inside the runtime while it walks, on a green thread (without it, from a kernel
 * thread of the program's own, the list is walked as it is). stay: the process ends
 * right after (_exit), so the runtime is never left: no other green thread runs after
 * the walk, and no signal is delivered that could take the thread out of _exit.
 */
static void release_green_robust(bool stay)
{
	struct gp_runtime *rt = gp_rt;
	/* Not in a child that shares our memory without being this process (a clone
	 * with CLONE_VM): the threads are its parent's. */
	if (!rt || !gp_tls_per_thread || syscall(SYS_getpid) != rt->tid)
		return;
	bool entered = gp_on_green();
	if (entered)
		gp_enter();
	/* An ended thread nobody joined has given its descriptor back. */
	for (struct gp_green *g = gp_all(); g; g = g->all_next)
		if (g->state != GP_DONE)
			gp_tls_release_robust(g->ctx.tp);
	if (entered && !stay)
		gp_leave();
}

__attribute__((destructor)) static void at_exit(void)
{
	release_green_robust(false);
}

void _exit(int status)
{
	release_green_robust(true);
	GP_REAL(_exit)(status);
	__builtin_unreachable();
}

void _Exit(int status)
{
	release_green_robust(true);
	GP_REAL(_Exit)(status);
	__builtin_unreachable();
}

/*
 * pthread_once. glibc waits for an initialisation in progress with a futex, which
 * would stop the whole carrier while the initialising green thread is parked (in a
 * sleep, say). The green version keeps glibc's encoding of the control word (bit 0 in
 * progress, bit 1 done) so that kernel threads and glibc itself agree with it, and parks
 * while another thread initialises. It looks again every few milliseconds as well, in
 * case the initialiser is a kernel thread, which cannot unpark it.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "hook.h"
#include "sync.h"

#define ONCE_IN_PROGRESS 1
#define ONCE_DONE 2
#define ONCE_RECHECK 0.005

int pthread_once(pthread_once_t *once, void (*init)(void))
{
	_Atomic int *ctl = (_Atomic int *)once;
	if ((atomic_load_explicit(ctl, memory_order_acquire) & ONCE_DONE) || !gp_on_green())
		return GP_REAL(pthread_once)(once, init);
	for (;;) {
		int v = atomic_load_explicit(ctl, memory_order_acquire);
		if (v & ONCE_DONE)
			return 0;
		if (!(v & ONCE_IN_PROGRESS) &&
		    atomic_compare_exchange_strong(ctl, &v, ONCE_IN_PROGRESS)) {
			/* If init ends the thread (cancel, pthread_exit), cancel.c puts the control
			 * back to "not run" so that another thread runs it, as glibc does. */
			gp_self()->once_running = once;
			init();
			gp_self()->once_running = NULL;
			atomic_store_explicit(ctl, ONCE_DONE, memory_order_release);
			gp_wake(once, (size_t)-1);
			return 0;
		}
		gp_enter();
		gp_park_on(once, ONCE_RECHECK, "once");
		gp_leave();
	}
}

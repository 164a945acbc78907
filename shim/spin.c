/*
 * Spinlocks. A green thread that spins on a lock held by a parked green thread would
 * spin forever: the holder can only run when the spinner stops. So a green thread
 * that finds the lock taken yields to the others between attempts.
 */
#include <errno.h>
#include <pthread.h>

#include "hook.h"

int pthread_spin_lock(pthread_spinlock_t *lock)
{
	if (!gp_cooperative())
		return GP_REAL(pthread_spin_lock)(lock);
	while (pthread_spin_trylock(lock) != 0) {
		gp_enter();
		gp_yield();
		gp_leave();
	}
	return 0;
}

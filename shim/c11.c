/*
 * C11 threads (<threads.h>). glibc implements them on top of its pthread functions
 * but calls those internally, without the PLT, so the pthread hooks never see them:
 * each C11 function gets its own hook, which calls the pthread hook and maps the
 * result to the C11 codes as glibc does. glibc's C11 types are its pthread types.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>
#include <time.h>

#include "hook.h"

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread_cond_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

/* glibc's mapping of an errno value to a C11 result. */
static int c11_result(int err)
{
	switch (err) {
	case 0: return thrd_success;
	case ENOMEM: return thrd_nomem;
	case ETIMEDOUT: return thrd_timedout;
	case EBUSY: return thrd_busy;
	default: return thrd_error;
	}
}

/* As glibc does: the int a C11 thread returns travels as its pthread result. */
int thrd_create(thrd_t *t, thrd_start_t fn, void *arg)
{
	return c11_result(pthread_create((pthread_t *)t, NULL, (void *(*)(void *))(void (*)(void))fn,
					 arg));
}

int thrd_join(thrd_t t, int *res)
{
	void *ret;
	int rc = pthread_join((pthread_t)t, &ret);
	if (rc == 0 && res)
		*res = (int)(intptr_t)ret;
	return rc == 0 ? thrd_success : thrd_error;
}

int thrd_detach(thrd_t t)
{
	return pthread_detach((pthread_t)t) == 0 ? thrd_success : thrd_error;
}

void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

thrd_t thrd_current(void)
{
	return (thrd_t)pthread_self();
}

int thrd_equal(thrd_t a, thrd_t b)
{
	return a == b;
}

void thrd_yield(void)
{
	sched_yield();
}

/* 0, -1 when a signal interrupted it, another negative value on error. */
int thrd_sleep(const struct timespec *dur, struct timespec *rem)
{
	/* glibc's thrd_sleep reports through its result and leaves errno alone. */
	int saved_errno = errno;
	int rc = nanosleep(dur, rem) == 0 ? 0 : errno == EINTR ? -1 : -2;
	errno = saved_errno;
	return rc;
}

int mtx_lock(mtx_t *m)
{
	return c11_result(pthread_mutex_lock((pthread_mutex_t *)m));
}

int mtx_trylock(mtx_t *m)
{
	return c11_result(pthread_mutex_trylock((pthread_mutex_t *)m));
}

int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict abstime)
{
	return c11_result(pthread_mutex_timedlock((pthread_mutex_t *)m, abstime));
}

int mtx_unlock(mtx_t *m)
{
	return c11_result(pthread_mutex_unlock((pthread_mutex_t *)m));
}

int cnd_wait(cnd_t *c, mtx_t *m)
{
	return c11_result(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict abstime)
{
	return c11_result(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, abstime));
}

int cnd_signal(cnd_t *c)
{
	return c11_result(pthread_cond_signal((pthread_cond_t *)c));
}

int cnd_broadcast(cnd_t *c)
{
	return c11_result(pthread_cond_broadcast((pthread_cond_t *)c));
}

int tss_create(tss_t *key, tss_dtor_t dtor)
{
	return pthread_key_create((pthread_key_t *)key, dtor) == 0 ? thrd_success : thrd_error;
}

void tss_delete(tss_t key)
{
	pthread_key_delete((pthread_key_t)key);
}

void *tss_get(tss_t key)
{
	return pthread_getspecific((pthread_key_t)key);
}

int tss_set(tss_t key, void *value)
{
	return pthread_setspecific((pthread_key_t)key, value) == 0 ? thrd_success : thrd_error;
}

void call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}

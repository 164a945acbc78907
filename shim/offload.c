/*
 * The shim's side of the offload pool: how its threads are created (the real
 * pthread_create: they are kernel threads, never green), and how a call's result,
 * errno and h_errno travel back to the green thread that asked for it.
 */
/* GREENPATCH_UNPATCH=offload leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_OFFLOAD

#include <errno.h>
#include <locale.h>
#include <netdb.h>
#include <pthread.h>

#include "hook.h"
#include "offcall.h"
#include "offload.h"

static void run_on_pool(void *arg)
{
	struct gp_offcall *c = arg;
	/* The call sees the caller's errno and locale, and leaves errno as libc would. */
	locale_t own = uselocale(c->locale);
	errno = c->err;
	h_errno = c->herr;
	c->run(c);
	c->err = errno;
	c->herr = h_errno;
	uselocale(own);
}

void gp__offload_call(struct gp_offcall *c)
{
	c->err = errno;
	c->herr = h_errno;
	c->locale = uselocale((locale_t)0);
	gp_enter();
	int rc = gp_offload(run_on_pool, c, c->unbounded);
	gp_leave();
	if (rc < 0) {
		/* No pool thread could be started: make the call here, blocking. */
		c->run(c);
		return;
	}
	errno = c->err;
	h_errno = c->herr;
}

bool gp__offload_wanted(void)
{
	return gp_cooperative();
}

/* A stack size glibc refuses (EINVAL: the program's static TLS does not fit in it)
 * falls back to the default. */
static int create_pool_thread(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack)
		pthread_attr_setstacksize(&attr, stack);
	int rc = GP_REAL(pthread_create)(&t, &attr, fn, arg);
	if (rc == EINVAL && stack) {
		pthread_attr_destroy(&attr);
		return create_pool_thread(fn, arg, 0);
	}
	pthread_attr_destroy(&attr);
	return rc;
}

void gp__offload_init(void)
{
	gp__create_kernel_thread = create_pool_thread;
}

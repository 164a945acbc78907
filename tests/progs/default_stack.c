/*
 * default_stack
 *
 * Prints "stack N": the stack size pthread_getattr_np reports to a thread created with
 * default attributes. Natively glibc's default (from RLIMIT_STACK); under the library,
 * GREENPATCH_STACK_SIZE when it is set.
 */
#define PROG "default_stack"
#include "progs.h"

static void *probe(void *arg)
{
	size_t *size = arg;
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) != 0 ||
	    pthread_attr_getstacksize(&attr, size) != 0)
		fail("pthread_getattr_np failed");
	pthread_attr_destroy(&attr);
	return NULL;
}

int main(void)
{
	size_t size = 0;
	join(start(probe, &size));
	printf("stack %zu\n", size);
	return 0;
}

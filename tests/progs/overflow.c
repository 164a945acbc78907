/*
 * overflow: a thread named "deep" recurses until its stack runs out. Natively the
 * process dies of SIGSEGV; it does under the shim too, after naming the thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int depth(int n)
{
	volatile char frame[1024];
	memset((char *)frame, n, sizeof(frame));
	return n ? depth(n - 1) + frame[3] : 0;
}

static void *deep_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "deep");
	return (void *)(long)depth(1 << 30);
}

int main(void)
{
	pthread_t t;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_create(&t, &attr, deep_main, NULL);
	pthread_join(t, NULL);
	puts("unreachable");
	return 0;
}

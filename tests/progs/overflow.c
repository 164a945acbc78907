/*
 * overflow [after-handoff]: a thread named "deep" recurses until its stack runs out.
 * Natively the process dies of SIGSEGV; it does under the shim too, after naming the
 * thread. With "after-handoff", a thread first computes for 300 ms and "deep" starts
 * 100 ms into it: under the library the computation has been handed off by then, so
 * "deep" overflows on the kernel thread that took the others over.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void *compute_main(void *arg)
{
	struct timespec t0, t;
	volatile unsigned long x = 1;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005UL + 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t, c;
	pthread_attr_t attr;

	if (argc > 1 && strcmp(argv[1], "after-handoff") == 0) {
		pthread_create(&c, NULL, compute_main, NULL);
		usleep(100 * 1000);
	}

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_create(&t, &attr, deep_main, NULL);
	pthread_join(t, NULL);
	puts("unreachable");
	return 0;
}

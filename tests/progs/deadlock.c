/*
 * deadlock: two threads take two mutexes in opposite orders and wait for each other
 * forever, while main joins the first. Natively the process hangs; it is only ever run
 * with a time limit.
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t second = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t both_hold_one;

static void *take(pthread_mutex_t *mine, pthread_mutex_t *theirs, const char *name)
{
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(mine);
	pthread_barrier_wait(&both_hold_one);
	pthread_mutex_lock(theirs);
	return NULL;
}

static void *left_main(void *arg)
{
	(void)arg;
	return take(&first, &second, "left");
}

static void *right_main(void *arg)
{
	(void)arg;
	return take(&second, &first, "right");
}

int main(void)
{
	pthread_t left, right;

	alarm(30);
	pthread_barrier_init(&both_hold_one, NULL, 2);
	pthread_create(&left, NULL, left_main, NULL);
	pthread_create(&right, NULL, right_main, NULL);
	pthread_join(left, NULL);
	puts("unreachable");
	return 0;
}

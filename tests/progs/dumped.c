/*
 * dumped
 *
 * Sets up threads in known waits, prints "ready", then sleeps 3 seconds in main while
 * its caller sends the signal GREENPATCH_DUMP_SIGNAL names: "sleeper" sleeps, "locker"
 * waits for a mutex main holds, "waiter" waits on a condition variable. Then main wakes
 * them all and prints "done".
 */
#define PROG "dumped"
#include "progs.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool go;

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	msleep(3500);
	return NULL;
}

static void *locker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "locker");
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "waiter");
	pthread_mutex_lock(&cond_lock);
	while (!go)
		pthread_cond_wait(&cond, &cond_lock);
	pthread_mutex_unlock(&cond_lock);
	return NULL;
}

int main(void)
{
	pthread_mutex_lock(&lock);
	pthread_t s = start(sleeper, NULL);
	pthread_t l = start(locker, NULL);
	pthread_t w = start(waiter, NULL);
	msleep(100);
	printf("ready\n");
	fflush(stdout);
	msleep(3000);
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&cond_lock);
	go = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&cond_lock);
	join(s);
	join(l);
	join(w);
	printf("done\n");
	return 0;
}

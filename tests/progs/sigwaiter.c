/*
 * sigwaiter: the daemon pattern. Every thread blocks SIGUSR1; one thread waits for it
 * in sigwait while another keeps working, and main sends it to the process. Then a
 * sigtimedwait with nothing pending times out with EAGAIN. Under the shim the waiting
 * green thread must not stop the working one.
 */
#define PROG "sigwaiter"
#include "progs.h"

#include <signal.h>

static volatile int ticks;

static void *ticker_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		msleep(20);
		ticks++;
	}
	return NULL;
}

static void *waiter_main(void *arg)
{
	sigset_t set;
	int sig = 0;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int rc = sigwait(&set, &sig);
	printf("sigwait: rc=%d sig=%s others_ran=%s\n", rc, sig == SIGUSR1 ? "SIGUSR1" : "?",
	       ticks >= 2 ? "yes" : "no");
	struct timespec timeout = { 0, 50 * 1000 * 1000 };
	errno = 0;
	int r = sigtimedwait(&set, NULL, &timeout);
	printf("sigtimedwait: ret=%d errno=%s\n", r, errname(errno));
	return NULL;
}

int main(void)
{
	sigset_t set;

	alarm(30);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t waiter = start(waiter_main, NULL);
	pthread_t ticker = start(ticker_main, NULL);
	/* Sent once the ticker has ticked twice (5 s at most), not after a fixed time,
	 * which a loaded machine may not give it natively. A waiter that stopped the
	 * others would stop this thread too: no signal, and the alarm ends the process. */
	struct timespec t0 = mono();
	do
		msleep(10);
	while (ticks < 2 && elapsed_ms(t0) < 5000);
	msleep(20);
	kill(getpid(), SIGUSR1);
	join(waiter);
	join(ticker);
	printf("ticks=%d\n", ticks);
	return 0;
}

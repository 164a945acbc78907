/*
 * alarm_eintr: signals sent to the process (alarm's SIGALRM) while main is blocked and
 * another thread works. Without SA_RESTART a blocking accept and a blocking read fail
 * with EINTR after the handler runs, and sleep returns the seconds left; sigaction
 * reports the handler the program installed.
 */
#define PROG "alarm_eintr"
#include "progs.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

static volatile sig_atomic_t handled;
static volatile int ticks;

static void on_alarm(int sig)
{
	(void)sig;
	handled++;
}

static void *ticker_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		msleep(50);
		ticks++;
	}
	return NULL;
}

static int listening_socket(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
		die("listening socket");
	return s;
}

int main(void)
{
	struct sigaction sa, seen;
	int p[2];
	char b;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGALRM, NULL, &seen);
	printf("sigaction: handler_is_ours=%s restart=%s\n", seen.sa_handler == on_alarm ? "yes" : "no",
	       seen.sa_flags & SA_RESTART ? "yes" : "no");
	pthread_t ticker = start(ticker_main, NULL);

	int s = listening_socket();
	alarm(1);
	errno = 0;
	int r = accept(s, NULL, NULL);
	printf("accept: ret=%d errno=%s handled=%d\n", r, errname(errno), (int)handled);

	make_pipe(p, 0);
	alarm(1);
	errno = 0;
	r = (int)read(p[0], &b, 1);
	printf("read: ret=%d errno=%s handled=%d\n", r, errname(errno), (int)handled);

	alarm(1);
	unsigned left = sleep(3);
	/* About 2 s are left; a delay between alarm() and sleep() on a loaded machine makes
	 * it more than 2, so either whole number is right. */
	printf("sleep: left_1_or_2=%s handled=%d others_ran=%s\n", yes(left == 1 || left == 2),
	       (int)handled, ticks > 0 ? "yes" : "no");
	join(ticker);
	return 0;
}

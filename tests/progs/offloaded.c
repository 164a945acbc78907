/*
 * offloaded: calls that cannot be made non-blocking, made by threads while others
 * work: 100 concurrent getaddrinfo("localhost"), a system("sleep 0.3; exit 3") during
 * which a ticker keeps ticking, a waitpid for a forked child, popen and pclose.
 */
#define PROG "offloaded"
#include "progs.h"

#include <netdb.h>
#include <sys/wait.h>

static int resolved;
static pthread_mutex_t resolved_m = PTHREAD_MUTEX_INITIALIZER;
static volatile int ticks;

static void *resolve_main(void *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

	(void)arg;
	if (getaddrinfo("localhost", "80", &hints, &res) == 0) {
		pthread_mutex_lock(&resolved_m);
		resolved++;
		pthread_mutex_unlock(&resolved_m);
		freeaddrinfo(res);
	}
	return NULL;
}

static void *ticker_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		msleep(10);
		ticks++;
	}
	return NULL;
}

int main(void)
{
	pthread_t t[100], ticker;
	char line[32] = "";

	alarm(30);
	for (int i = 0; i < 100; i++)
		t[i] = start(resolve_main, NULL);
	for (int i = 0; i < 100; i++)
		join(t[i]);
	printf("getaddrinfo: resolved=%d\n", resolved);

	ticker = start(ticker_main, NULL);
	int st = system("sleep 0.3; exit 3");
	printf("system: status=%d others_ran=%s\n", WEXITSTATUS(st), ticks >= 10 ? "yes" : "no");
	join(ticker);

	/* The ticker is running (it ticked once) before the wait begins. */
	ticks = 0;
	ticker = start(ticker_main, NULL);
	while (ticks == 0)
		msleep(1);
	int before = ticks;
	pid_t child = fork();
	if (child == 0) {
		usleep(100000);
		_exit(5);
	}
	waitpid(child, &st, 0);
	printf("waitpid: status=%d others_ran=%s\n", WEXITSTATUS(st),
	       ticks > before ? "yes" : "no");
	join(ticker);

	FILE *f = popen("echo hi; exit 2", "r");
	if (!f || !fgets(line, sizeof(line), f))
		die("popen");
	line[strcspn(line, "\n")] = '\0';
	printf("popen: line=%s pclose=%d\n", line, WEXITSTATUS(pclose(f)));
	return 0;
}

/*
 * timeo_inherit: SO_RCVTIMEO set on a listening socket before any thread exists is
 * inherited by the socket accept returns, as the kernel does: a read on it with
 * nothing to read fails with EAGAIN after the timeout, while a client thread idles.
 */
#define PROG "timeo_inherit"
#include "progs.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct sockaddr_in server;

static void *client_main(void *arg)
{
	(void)arg;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&server, sizeof(server)) < 0)
		die("connect");
	msleep(1000);   /* sends nothing: the server's read must time out first */
	close(c);
	return NULL;
}

int main(void)
{
	struct timeval tv = { 0, 100 * 1000 };
	socklen_t len = sizeof(server);
	char b;

	alarm(30);
	server = (struct sockaddr_in){ .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&server, sizeof(server)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&server, &len) < 0)
		die("listen");
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pthread_t client = start(client_main, NULL);
	int a = accept(l, NULL, NULL);
	errno = 0;
	int r = (int)read(a, &b, 1);
	printf("read: ret=%d errno=%s\n", r, errname(errno));
	join(client);
	return 0;
}

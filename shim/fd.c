/*
 * What the program does to its descriptors: fcntl(F_SETFL) and ioctl(FIONBIO) tell us
 * its own O_NONBLOCK; close and the F_DUPFD family change what a number names.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#include "hook.h"
#include "loop.h"

/* The number no longer names what we learnt about: forget, and wake its waiters. */
static void forget(int fd)
{
	gp_enter();
	gp_fd_closed(fd);
	gp_leave();
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = real(fd, cmd, arg);
	if (rc < 0 || !gp_on_green())
		return rc;
	switch (cmd) {
	case F_SETFL:
		gp_fd_set_nonblock(fd, ((int)(long)arg & O_NONBLOCK) != 0);
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		forget(rc);
		break;
	}
	return rc;
}

/* Every fcntl argument is an int or a pointer: both travel as one register-sized word. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(GP_REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(GP_REAL(fcntl64), fd, cmd, arg);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	int rc = GP_REAL(ioctl)(fd, req, arg);
	if (rc == 0 && req == FIONBIO && gp_on_green())
		gp_fd_set_nonblock(fd, *(int *)arg != 0);
	return rc;
}

int close(int fd)
{
	if (gp_on_green())
		forget(fd);
	return GP_REAL(close)(fd);
}

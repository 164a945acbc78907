/*
 * The event loop's descriptors, made by libev through these hooks while the runtime
 * makes its loop, and kept out of the program's reach (core/ownfd.h): the program's own
 * calls pass straight through.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "hook.h"
#include "ownfd.h"
#include "ownfd_guard.h"

int epoll_create1(int flags)
{
	int fd = GP_REAL(epoll_create1)(flags);
	return gp_own_fds_making() ? gp_own_fd_adopt(fd) : fd;
}

int epoll_create(int size)
{
	int fd = GP_REAL(epoll_create)(size);
	return gp_own_fds_making() ? gp_own_fd_adopt(fd) : fd;
}

int eventfd(unsigned count, int flags)
{
	int fd = GP_REAL(eventfd)(count, flags);
	return gp_own_fds_making() ? gp_own_fd_adopt(fd) : fd;
}

/*
 * A dup2 or dup3 onto one of the library's numbers. Below the soft limit on
 * descriptors it would succeed natively; it cannot here, since libev keeps using the
 * number: said once, then refused as a number out of range is.
 */
static void say_dup_refused(int fd2)
{
	static bool said;
	struct rlimit rl;
	if (said || getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    (rl.rlim_cur != RLIM_INFINITY && (rlim_t)fd2 >= rl.rlim_cur))
		return;
	said = true;
	gp_log(GP_LOG_WARNING, "a dup2 onto descriptor %d, which the library's event loop "
	       "holds, is refused with EBADF", fd2);
}

bool gp__own_fd_refused(int fd)
{
	if (!gp_own_fd(fd) || gp_own_fds_making())
		return false;
	errno = EBADF;
	return true;
}

bool gp__own_dup_refused(int fd, int fd2)
{
	if (gp__own_fd_refused(fd))
		return true;
	if (!gp__own_fd_refused(fd2))
		return false;
	say_dup_refused(fd2);
	return true;
}

/* close_range over [first, last] but the library's numbers: 0, or -1 and errno. */
int gp__close_range_around_own(unsigned first, unsigned last, int flags)
{
	int own;
	while ((own = gp_own_fd_next(first)) >= 0 && (unsigned)own <= last) {
		if ((unsigned)own > first && GP_REAL(close_range)(first, (unsigned)own - 1, flags))
			return -1;
		if ((unsigned)own == last)
			return 0;
		first = (unsigned)own + 1;
	}
	return GP_REAL(close_range)(first, last, flags);
}

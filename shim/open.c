/*
 * Opening a FIFO waits until the other end is opened too (fifo(7)); opening anything
 * else does not wait on another program. So open and openat look first (one fstatat,
 * only on a green thread with another alive, and only when the call could open an
 * existing file without O_NONBLOCK): a FIFO is opened on the offload pool, anything
 * else directly. fopen opens with libc's internal call, which no hook sees.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "hook.h"
#include "iowait.h"
#include "offcall.h"

struct open_call {
	struct gp_offcall c;
	int dirfd;
	const char *path;
	int flags;
	mode_t mode;
};

static void run_open(struct gp_offcall *c)
{
	struct open_call *o = (struct open_call *)c;
	c->ret = GP_REAL(openat)(o->dirfd, o->path, o->flags, o->mode);
}

static bool may_wait_for_peer(int dirfd, const char *path, int flags)
{
	if (!gp__offload_wanted() || (flags & (O_NONBLOCK | O_PATH)) ||
	    (flags & O_TMPFILE) == O_TMPFILE || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return false;
	struct stat st;
	int at = flags & O_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0;
	return fstatat(dirfd, path, &st, at) == 0 && S_ISFIFO(st.st_mode);
}

static int open_fifo(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_call o = { .c = { .run = run_open, .unbounded = true }, .dirfd = dirfd,
			       .path = path, .flags = flags, .mode = mode };
	gp__offload_call(&o.c);
	int fd = (int)o.c.ret;
	gp__fd_born(fd, GP_FD_NOWAIT, 0);
	return fd;
}

/* The mode argument exists only when the flags create a file. */
#define MODE_ARG(flags, mode)                                        \
	do {                                                         \
		if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap;                                  \
			va_start(ap, flags);                         \
			mode = (mode_t)va_arg(ap, int);              \
			va_end(ap);                                  \
		}                                                    \
	} while (0)

#define GREEN_OPEN(name)                                                               \
	int name(const char *path, int flags, ...)                                     \
	{                                                                              \
		mode_t mode = 0;                                                       \
		MODE_ARG(flags, mode);                                                 \
		if (!may_wait_for_peer(AT_FDCWD, path, flags))                         \
			return GP_REAL(name)(path, flags, mode);                       \
		return open_fifo(AT_FDCWD, path, flags, mode);                         \
	}

#define GREEN_OPENAT(name)                                                             \
	int name(int dirfd, const char *path, int flags, ...)                          \
	{                                                                              \
		mode_t mode = 0;                                                       \
		MODE_ARG(flags, mode);                                                 \
		if (!may_wait_for_peer(dirfd, path, flags))                            \
			return GP_REAL(name)(dirfd, path, flags, mode);                \
		return open_fifo(dirfd, path, flags, mode);                            \
	}

GREEN_OPEN(open)
GREEN_OPEN(open64)
GREEN_OPENAT(openat)
GREEN_OPENAT(openat64)

/* The fortified forms: called when the flags need no mode (they check that). */
int __open_2(const char *path, int flags)
{
	if (!may_wait_for_peer(AT_FDCWD, path, flags))
		return GP_REAL(__open_2)(path, flags);
	return open_fifo(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags)
{
	if (!may_wait_for_peer(AT_FDCWD, path, flags))
		return GP_REAL(__open64_2)(path, flags);
	return open_fifo(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags)
{
	if (!may_wait_for_peer(dirfd, path, flags))
		return GP_REAL(__openat_2)(dirfd, path, flags);
	return open_fifo(dirfd, path, flags, 0);
}

int __openat64_2(int dirfd, const char *path, int flags)
{
	if (!may_wait_for_peer(dirfd, path, flags))
		return GP_REAL(__openat64_2)(dirfd, path, flags);
	return open_fifo(dirfd, path, flags, 0);
}

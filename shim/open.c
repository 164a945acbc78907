/*
 * Opening files. Two waits are possible: the file system's, on a remote or user-space
 * one (path.h), where the open is made on the caller's own kernel thread while the
 * others go on; and a FIFO's, whose opening waits until the other end is opened too
 * (fifo(7)).
 *
 * A FIFO cannot be told from a regular file without a look at the path, which would
 * cost every open a system call. So with hand-off (GREENPATCH_HANDOFF) the open is made
 * directly, named for the monitor: a FIFO's that waits is one more call stuck in the
 * kernel, and the monitor hands the others to a spare after the threshold. Without
 * hand-off, the open looks first (one fstatat, only on a green thread with another
 * alive, and only when the call could open an existing file without O_NONBLOCK), and a
 * FIFO is opened on the offload pool.
 *
 * A descriptor opened here is remembered as on a slow mount or a local one while a slow
 * mount exists, for the calls made on it later (fstat, readdir, the *at calls).
 * fopen opens with libc's internal call, which no hook sees: it has hooks of its own.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "hook.h"
#include "tid.h"
#include "iowait.h"
#include "offcall.h"
#include "ownfd.h"
#include "path.h"

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
	if (!gp__offload_wanted() || gp_rt->handoff || (flags & (O_NONBLOCK | O_PATH)) ||
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

/* The program's call, whichever of the eight names it used. */
struct open_args {
	int dirfd;
	const char *path;
	int flags;
	mode_t mode;
};

typedef int (*open_fn)(const struct open_args *a);

/* Made directly, named for the stall report and the monitor while it lasts. */
static int open_here(open_fn real, const struct open_args *a, const char *name)
{
	gp__blocking_in(name);
	int fd = real(a);
	int err = errno;
	gp__blocking_in(NULL);
	errno = err;
	return fd;
}

static int open_as(open_fn real, const char *name, int dirfd, const char *path, int flags,
		   mode_t mode)
{
	char task_path[GP_TASK_PATH_MAX];
	path = gp__task_path(path, task_path);
	struct open_args a = { dirfd, path, flags, mode };
	enum gp_path_class k = gp_path_class(dirfd, path);
	int fd;
	if (k == GP_PATH_SLOW)
		fd = GP_BLOCKING_AS(name, real(&a));
	else if (may_wait_for_peer(dirfd, path, flags))
		return open_fifo(dirfd, path, flags, mode);
	else
		fd = GP_MAYBE_SLOW_AS(name, k, open_here(real, &a, name));
	gp__path_opened(fd, k);
	gp_program_fd_note(fd);
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
	static int real_##name(const struct open_args *a)                              \
	{                                                                              \
		return GP_REAL(name)(a->path, a->flags, a->mode);                      \
	}                                                                              \
	int name(const char *path, int flags, ...)                                     \
	{                                                                              \
		mode_t mode = 0;                                                       \
		MODE_ARG(flags, mode);                                                 \
		return open_as(real_##name, #name, AT_FDCWD, path, flags, mode);       \
	}

#define GREEN_OPENAT(name)                                                             \
	static int real_##name(const struct open_args *a)                              \
	{                                                                              \
		return GP_REAL(name)(a->dirfd, a->path, a->flags, a->mode);            \
	}                                                                              \
	int name(int dirfd, const char *path, int flags, ...)                          \
	{                                                                              \
		mode_t mode = 0;                                                       \
		MODE_ARG(flags, mode);                                                 \
		return open_as(real_##name, #name, dirfd, path, flags, mode);          \
	}

GREEN_OPEN(open)
GREEN_OPEN(open64)
GREEN_OPENAT(openat)
GREEN_OPENAT(openat64)

/* The fortified forms: called when the flags need no mode (they check that). */
#define GREEN_OPEN_2(name)                                                             \
	static int real_##name(const struct open_args *a)                              \
	{                                                                              \
		return GP_REAL(name)(a->path, a->flags);                               \
	}                                                                              \
	int name(const char *path, int flags)                                          \
	{                                                                              \
		return open_as(real_##name, #name, AT_FDCWD, path, flags, 0);          \
	}

#define GREEN_OPENAT_2(name)                                                           \
	static int real_##name(const struct open_args *a)                              \
	{                                                                              \
		return GP_REAL(name)(a->dirfd, a->path, a->flags);                     \
	}                                                                              \
	int name(int dirfd, const char *path, int flags)                               \
	{                                                                              \
		return open_as(real_##name, #name, dirfd, path, flags, 0);             \
	}

GREEN_OPEN_2(__open_2)
GREEN_OPEN_2(__open64_2)
GREEN_OPENAT_2(__openat_2)
GREEN_OPENAT_2(__openat64_2)

/* creat opens with libc's internal call: it has hooks of its own. */
#define GREEN_CREAT(name)                                                              \
	static int real_##name(const struct open_args *a)                              \
	{                                                                              \
		return GP_REAL(name)(a->path, a->mode);                                \
	}                                                                              \
	int name(const char *path, mode_t mode)                                        \
	{                                                                              \
		return open_as(real_##name, #name, AT_FDCWD, path,                     \
			       O_CREAT | O_WRONLY | O_TRUNC, mode);                    \
	}

GREEN_CREAT(creat)
GREEN_CREAT(creat64)

#define GREEN_FOPEN(name)                                                              \
	FILE *name(const char *path, const char *how)                                  \
	{                                                                              \
		char task_path[GP_TASK_PATH_MAX];                                      \
		path = gp__task_path(path, task_path);                                 \
		enum gp_path_class k = gp_path_class(AT_FDCWD, path);                  \
		FILE *f = GP_CLASS_CALL(k, GP_REAL(name)(path, how));                  \
		if (f)                                                                 \
			gp__path_opened(fileno(f), k);                                 \
		return f;                                                              \
	}

GREEN_FOPEN(fopen)
GREEN_FOPEN(fopen64)

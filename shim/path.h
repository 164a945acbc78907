/*
 * Path calls on slow file systems.
 *
 * A call on a path waits for the file system that holds the path. On a local one
 * (core/mounts.h) the carrier makes it, as it always did: it costs what it costs
 * natively, not one system call more. On a remote or user-space one (NFS, SMB, FUSE,
 * 9p...) it may wait for a server or a daemon for as long as they take: the call is made
 * on the calling thread's own kernel thread while the carrier goes to a spare
 * (GP_BLOCKING, hook.h), so the others go on and the call keeps its native result,
 * errno and signals.
 *
 * Which kind a call is on: for an absolute path, the mount whose point is the longest
 * prefix of the path; for a path relative to the current directory, the same with the
 * current directory in front (asked once of the kernel, and again after a chdir or
 * fchdir through the hooks); for a path relative to a descriptor, and for the calls on
 * a descriptor, the mount the descriptor's file is on, learnt when a hook opened it or,
 * for a directory descriptor opened elsewhere, from one statx of it that never waits for
 * the file system (AT_STATX_DONT_SYNC). While no slow mount exists, which is the usual
 * case, none of this is done: the answer is "local" at once.
 *
 * The paths are the program's: they are read only while a slow mount exists, and a
 * NULL one is left to the C library's error.
 */
#ifndef GP_SHIM_PATH_H
#define GP_SHIM_PATH_H

#include <fcntl.h>

#include "hook.h"
#include "mounts.h"

enum gp_path_class {
	GP_PATH_DIRECT = 0,   /* not asked: off a green thread, alone, or no slow mount */
	GP_PATH_LOCAL,
	GP_PATH_SLOW,
};

enum gp_path_class gp__path_class(int dirfd, const char *path, bool tree);

/*
 * Where the call on path (relative to dirfd) is made: GP_PATH_SLOW makes it apart. The
 * mount table is looked at first: with no slow mount, a call is not one the library
 * left to libc (GREENPATCH_STATS), whoever makes it.
 */
static inline enum gp_path_class gp_path_class(int dirfd, const char *path)
{
	if (gp_mounts_all_local() || !gp_cooperative_in(GP_FAM_PATH))
		return GP_PATH_DIRECT;
	return gp__path_class(dirfd, path, false);
}

static inline bool gp_path_apart(int dirfd, const char *path)
{
	return gp_path_class(dirfd, path) == GP_PATH_SLOW;
}

/* Either of two paths (rename, link) is on a slow mount. */
static inline bool gp_paths_apart(int dirfd1, const char *path1, int dirfd2, const char *path2)
{
	return gp_path_apart(dirfd1, path1) || gp_path_apart(dirfd2, path2);
}

/*
 * A walk of the tree at path (nftw, ftw) is made apart when the path is on a slow mount
 * or a slow mount lies below it: the walk crosses into it (without FTW_MOUNT).
 */
static inline bool gp_path_tree_apart(const char *path)
{
	if (gp_mounts_all_local() || !gp_cooperative_in(GP_FAM_PATH))
		return false;
	return gp__path_class(AT_FDCWD, path, true) == GP_PATH_SLOW;
}

bool gp__fd_on_slow_mount(int fd);

/* A call on descriptor fd, known to be on a slow mount, is made apart. */
static inline bool gp_fd_apart(int fd)
{
	return !gp_mounts_all_local() && gp_cooperative_in(GP_FAM_PATH) &&
	       gp__fd_on_slow_mount(fd);
}

/* A hook opened fd on a path of class k: the descriptor's calls know where it is. */
void gp__path_opened(int fd, enum gp_path_class k);

/* The current directory changed (chdir, fchdir): from any thread. */
void gp__path_cwd_changed(void);

/* expr, a call on path relative to dirfd: apart on a slow mount, else directly. */
#define GP_PATH_CALL(dirfd, path, expr) \
	(gp_path_apart((dirfd), (path)) ? GP_BLOCKING(expr) : (expr))

#define GP_PATHS_CALL(dirfd1, path1, dirfd2, path2, expr) \
	(gp_paths_apart((dirfd1), (path1), (dirfd2), (path2)) ? GP_BLOCKING(expr) : (expr))

/* expr, a call on descriptor fd. */
#define GP_FD_PATH_CALL(fd, expr) (gp_fd_apart(fd) ? GP_BLOCKING(expr) : (expr))

#endif

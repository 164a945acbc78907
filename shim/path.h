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
 *
 * A symbolic link on a local file system may lead into a slow one, and the text of the
 * path does not show it. Following the links first would cost every call on a local
 * path a system call or more (realpath: one per component), and the cost would be
 * paid on every local file for the rare link; asking the kernel where a path leads
 * waits for the slow file system itself. So a call on a path taken as local is made
 * directly, as always, but marked while a slow mount exists (two stores, no system
 * call): the monitor hands its carrier off once the same call has lasted
 * GP_MAYBE_SLOW_NS (core/watch.h), whatever GREENPATCH_HANDOFF says, and the others
 * go on after a couple of milliseconds at most. A descriptor such a call opened and
 * that was handed off learns its mount from the kernel (one statx that never waits
 * for the file system), so that its later calls are made apart from the start.
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

/* Either of two paths (rename, link) on a slow mount makes the call slow. */
static inline enum gp_path_class gp_paths_class(int dirfd1, const char *path1, int dirfd2,
						const char *path2)
{
	enum gp_path_class k = gp_path_class(dirfd1, path1);
	return k == GP_PATH_LOCAL ? gp_path_class(dirfd2, path2) : k;
}

/*
 * A walk of the tree at path (nftw, ftw) is made apart when the path is on a slow mount
 * or a slow mount lies below it: the walk crosses into it (without FTW_MOUNT).
 */
static inline enum gp_path_class gp_path_tree_class(const char *path)
{
	if (gp_mounts_all_local() || !gp_cooperative_in(GP_FAM_PATH))
		return GP_PATH_DIRECT;
	return gp__path_class(AT_FDCWD, path, true);
}

bool gp__fd_on_slow_mount(int fd);

/* A call on descriptor fd, known to be on a slow mount, is made apart. */
static inline bool gp_fd_apart(int fd)
{
	return !gp_mounts_all_local() && gp_cooperative_in(GP_FAM_PATH) &&
	       gp__fd_on_slow_mount(fd);
}

/* The class of a call on descriptor fd: on a slow mount, or taken as local. */
static inline enum gp_path_class gp_fd_class(int fd)
{
	if (gp_mounts_all_local() || !gp_cooperative_in(GP_FAM_PATH))
		return GP_PATH_DIRECT;
	return gp__fd_on_slow_mount(fd) ? GP_PATH_SLOW : GP_PATH_LOCAL;
}

/* A hook opened fd on a path of class k: the descriptor's calls know where it is. */
void gp__path_opened(int fd, enum gp_path_class k);

/* The current directory changed (chdir, fchdir): from any thread. */
void gp__path_cwd_changed(void);

/*
 * The calling thread starts a call taken as local while a slow mount exists: false when
 * it is inside one already (a walk's callback, a signal handler), which stays the call
 * the monitor times.
 */
static inline bool gp__maybe_slow_begin(const char *call)
{
	struct gp_green *self = gp_self();
	if (self->maybe_slow_seq & 1)
		return false;
	self->blocking_in = call;
	__atomic_store_n(&self->maybe_slow_seq, self->maybe_slow_seq + 1, __ATOMIC_RELAXED);
	return true;
}

static inline void gp__maybe_slow_end(void)
{
	struct gp_green *self = gp_self();
	__atomic_store_n(&self->maybe_slow_seq, self->maybe_slow_seq + 1, __ATOMIC_RELAXED);
	self->blocking_in = NULL;
}

/* expr, a call of class k made on the carrier: marked for the monitor unless DIRECT. */
#define GP_MAYBE_SLOW_AS(call, k, expr)                                        \
	__extension__({                                                        \
		bool gp_marked_ = (k) == GP_PATH_LOCAL && gp__maybe_slow_begin(call); \
		__typeof__(expr) gp_ret_ = (expr);                             \
		if (gp_marked_) {                                              \
			int gp_errno_ = errno;                                 \
			gp__maybe_slow_end();                                  \
			errno = gp_errno_;                                     \
		}                                                              \
		gp_ret_;                                                       \
	})

/* expr, a call of class k: apart on a slow mount, else directly. */
#define GP_CLASS_CALL(k, expr)                                                 \
	__extension__({                                                        \
		enum gp_path_class gp_k_ = (k);                                \
		gp_k_ == GP_PATH_SLOW ? GP_BLOCKING(expr)                      \
				      : GP_MAYBE_SLOW_AS(__func__, gp_k_, expr); \
	})

/* expr, a call on path relative to dirfd. */
#define GP_PATH_CALL(dirfd, path, expr) GP_CLASS_CALL(gp_path_class((dirfd), (path)), expr)

#define GP_PATHS_CALL(dirfd1, path1, dirfd2, path2, expr) \
	GP_CLASS_CALL(gp_paths_class((dirfd1), (path1), (dirfd2), (path2)), expr)

/* expr, a call on descriptor fd. */
#define GP_FD_PATH_CALL(fd, expr) GP_CLASS_CALL(gp_fd_class(fd), expr)

#endif

/*
 * Which kind of file system a path call is on (path.h). The answer is worked out inside
 * the runtime, on the carrier: the mount table, the current directory and the
 * descriptor table are the carrier's, and the buffers below serve one question at a
 * time.
 */
#include "path.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fdstate.h"
#include "mounts.h"

/* Bumped by chdir and fchdir from any thread; the cached directory is of one number. */
static unsigned cwd_generation;

static struct {
	char path[PATH_MAX];
	unsigned generation;
	bool asked;             /* path is of this generation (or could not be had) */
	bool known;
} cwd;

/* The path a relative one starts from: asked of the kernel once per directory. */
static const char *current_dir(void)
{
	unsigned gen = __atomic_load_n(&cwd_generation, __ATOMIC_ACQUIRE);
	if (!cwd.asked || cwd.generation != gen) {
		long n = syscall(SYS_getcwd, cwd.path, sizeof(cwd.path));
		/* "(unreachable)/...": a directory outside the root, or removed. */
		cwd.known = n > 0 && cwd.path[0] == '/';
		cwd.generation = gen;
		cwd.asked = true;
	}
	return cwd.known ? cwd.path : NULL;
}

void gp__path_cwd_changed(void)
{
	__atomic_fetch_add(&cwd_generation, 1, __ATOMIC_RELEASE);
}

static enum gp_path_class class_of(bool slow)
{
	return slow ? GP_PATH_SLOW : GP_PATH_LOCAL;
}

/*
 * A path too long to hold is left to the kernel's ENAMETOOLONG, as local. For a walk
 * (tree), the mounts below the path count too.
 */
static enum gp_path_class by_path(const struct gp_mounts *t, const char *base, const char *path,
				  bool tree)
{
	static char normal[2 * PATH_MAX];
	if (!gp_path_normalise(normal, sizeof(normal), base, path))
		return GP_PATH_LOCAL;
	return class_of(tree ? gp_mounts_tree_slow(t, normal) : gp_mounts_path_slow(t, normal));
}

/*
 * The mount of a descriptor's file, without waiting for its file system: statx with
 * AT_STATX_DONT_SYNC and only the mount ID asked for answers from what the kernel holds.
 * Before Linux 5.8 there is no mount ID, and the device number tells.
 */
static enum gp_fd_mount learn_mount(const struct gp_mounts *t, int fd)
{
	struct statx sx;
	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0)
		return GP_MOUNT_UNKNOWN;
	uint64_t id = sx.stx_mask & STATX_MNT_ID ? sx.stx_mnt_id : 0;
	uint64_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	return gp_mounts_id_slow(t, id, dev) ? GP_MOUNT_SLOW : GP_MOUNT_LOCAL;
}

/*
 * A path relative to a descriptor is taken to be on the descriptor's mount: one that
 * leads into another mount below it is not seen (libgreenpatch(7), LIMITATIONS).
 */
static enum gp_path_class by_fd(const struct gp_mounts *t, int fd)
{
	struct gp_fd *e = gp_fd_get(fd);
	if (!e)
		return GP_PATH_LOCAL;
	if (e->mount == GP_MOUNT_UNKNOWN)
		e->mount = (uint8_t)learn_mount(t, fd);
	return class_of(e->mount == GP_MOUNT_SLOW);
}

static enum gp_path_class classify(int dirfd, const char *path, bool tree)
{
	const struct gp_mounts *t = gp_mounts_current();
	if (!t || !gp_mounts_any_slow(t))
		return GP_PATH_DIRECT;
	if (!path)   /* utimensat(fd, NULL): the descriptor itself; else libc's EFAULT */
		return dirfd == AT_FDCWD ? GP_PATH_LOCAL : by_fd(t, dirfd);
	if (path[0] == '/')
		return by_path(t, NULL, path, tree);
	if (dirfd != AT_FDCWD)
		return by_fd(t, dirfd);
	const char *base = current_dir();
	return base ? by_path(t, base, path, tree) : GP_PATH_LOCAL;
}

enum gp_path_class gp__path_class(int dirfd, const char *path, bool tree)
{
	gp_enter();
	enum gp_path_class k = classify(dirfd, path, tree);
	gp_leave();
	return k;
}

bool gp__fd_on_slow_mount(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	return e && e->mount == GP_MOUNT_SLOW;
}

/*
 * Taken as local, the open was handed off while it lasted (path.h): a symbolic link
 * may have led it into a slow mount, which the descriptor tells. Asked before the
 * thread rejoins the carrier.
 */
void gp__path_opened(int fd, enum gp_path_class k)
{
	if (fd < 0 || k == GP_PATH_DIRECT || !gp_in_program())
		return;
	bool ask = k == GP_PATH_LOCAL && __atomic_load_n(&gp_self()->handed_off, __ATOMIC_RELAXED);
	if (!gp_on_green())
		return;
	gp_enter();
	struct gp_fd *e = gp_fd_get(fd);
	const struct gp_mounts *t = ask ? gp_mounts_current() : NULL;
	if (e && t)
		e->mount = (uint8_t)learn_mount(t, fd);
	else if (e)
		e->mount = k == GP_PATH_SLOW ? GP_MOUNT_SLOW : GP_MOUNT_LOCAL;
	gp_leave();
}

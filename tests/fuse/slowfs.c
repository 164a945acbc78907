/*
 * slowfs: a FUSE file system that answers slowly, for the tests of path calls on slow
 * file systems (tests/shim_paths.c).
 *
 *   slowfs DELAY_MS BACKING MOUNTPOINT
 *
 * mounts at MOUNTPOINT what BACKING (a directory) holds, and sleeps DELAY_MS before it
 * answers each request, as a server far away would. It runs in the foreground, each
 * request on a thread of its own, until `fusermount3 -u MOUNTPOINT` or a signal; the
 * kernel keeps no attribute, entry or data cache, so that every call the tests make
 * reaches it.
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static long delay_ms;
static const char *backing;

static void slowly(void)
{
	struct timespec ts = { delay_ms / 1000, delay_ms % 1000 * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The backing file of a path of the mount ("/a/b"). */
static const char *real_path(const char *path, char *buf)
{
	snprintf(buf, PATH_MAX, "%s%s", backing, path);
	return buf;
}

#define SLOW_CALL(call)                                                        \
	do {                                                                   \
		slowly();                                                      \
		return (call) < 0 ? -errno : 0;                                \
	} while (0)

static void *sf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return NULL;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	slowly();
	int rc = fi ? fstat((int)fi->fh, st) : lstat(real_path(path, b), st);
	return rc < 0 ? -errno : 0;
}

static int sf_access(const char *path, int mode)
{
	char b[PATH_MAX];
	SLOW_CALL(access(real_path(path, b), mode));
}

static int sf_readlink(const char *path, char *buf, size_t size)
{
	char b[PATH_MAX];
	slowly();
	ssize_t n = readlink(real_path(path, b), buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int sf_opendir(const char *path, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	slowly();
	DIR *d = opendir(real_path(path, b));
	if (!d)
		return -errno;
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)path;
	(void)flags;
	slowly();
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	seekdir(d, off);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st = { .st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type) };
		if (fill(buf, e->d_name, &st, telldir(d), 0))
			break;
	}
	return 0;
}

static int sf_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int sf_mkdir(const char *path, mode_t mode)
{
	char b[PATH_MAX];
	SLOW_CALL(mkdir(real_path(path, b), mode));
}

static int sf_unlink(const char *path)
{
	char b[PATH_MAX];
	SLOW_CALL(unlink(real_path(path, b)));
}

static int sf_rmdir(const char *path)
{
	char b[PATH_MAX];
	SLOW_CALL(rmdir(real_path(path, b)));
}

static int sf_symlink(const char *target, const char *path)
{
	char b[PATH_MAX];
	SLOW_CALL(symlink(target, real_path(path, b)));
}

static int sf_rename(const char *from, const char *to, unsigned flags)
{
	char b1[PATH_MAX], b2[PATH_MAX];
	SLOW_CALL(renameat2(AT_FDCWD, real_path(from, b1), AT_FDCWD, real_path(to, b2), flags));
}

static int sf_link(const char *from, const char *to)
{
	char b1[PATH_MAX], b2[PATH_MAX];
	SLOW_CALL(link(real_path(from, b1), real_path(to, b2)));
}

static int sf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	SLOW_CALL(fi ? fchmod((int)fi->fh, mode) : chmod(real_path(path, b), mode));
}

static int sf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	SLOW_CALL(fi ? fchown((int)fi->fh, uid, gid) : lchown(real_path(path, b), uid, gid));
}

static int sf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	SLOW_CALL(fi ? ftruncate((int)fi->fh, size) : truncate(real_path(path, b), size));
}

static int sf_utimens(const char *path, const struct timespec ts[2], struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	SLOW_CALL(fi ? futimens((int)fi->fh, ts)
		     : utimensat(AT_FDCWD, real_path(path, b), ts, AT_SYMLINK_NOFOLLOW));
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	slowly();
	int fd = open(real_path(path, b), fi->flags & ~O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int sf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char b[PATH_MAX];
	slowly();
	int fd = open(real_path(path, b), fi->flags, mode);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int sf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	slowly();
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	slowly();
	ssize_t n = pwrite((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	slowly();
	return 0;
}

static int sf_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int sf_statfs(const char *path, struct statvfs *sv)
{
	char b[PATH_MAX];
	SLOW_CALL(statvfs(real_path(path, b), sv));
}

/* The extended attributes are the backing file's; a symbolic link's own are not asked. */
static int sf_setxattr(const char *path, const char *name, const char *value, size_t size,
		       int flags)
{
	char b[PATH_MAX];
	SLOW_CALL(lsetxattr(real_path(path, b), name, value, size, flags));
}

static int sf_getxattr(const char *path, const char *name, char *value, size_t size)
{
	char b[PATH_MAX];
	slowly();
	ssize_t n = lgetxattr(real_path(path, b), name, value, size);
	return n < 0 ? -errno : (int)n;
}

static int sf_listxattr(const char *path, char *list, size_t size)
{
	char b[PATH_MAX];
	slowly();
	ssize_t n = llistxattr(real_path(path, b), list, size);
	return n < 0 ? -errno : (int)n;
}

static int sf_removexattr(const char *path, const char *name)
{
	char b[PATH_MAX];
	SLOW_CALL(lremovexattr(real_path(path, b), name));
}

static const struct fuse_operations ops = {
	.init = sf_init,
	.getattr = sf_getattr,
	.access = sf_access,
	.readlink = sf_readlink,
	.opendir = sf_opendir,
	.readdir = sf_readdir,
	.releasedir = sf_releasedir,
	.mkdir = sf_mkdir,
	.unlink = sf_unlink,
	.rmdir = sf_rmdir,
	.symlink = sf_symlink,
	.rename = sf_rename,
	.link = sf_link,
	.chmod = sf_chmod,
	.chown = sf_chown,
	.truncate = sf_truncate,
	.utimens = sf_utimens,
	.open = sf_open,
	.create = sf_create,
	.read = sf_read,
	.write = sf_write,
	.flush = sf_flush,
	.release = sf_release,
	.statfs = sf_statfs,
	.setxattr = sf_setxattr,
	.getxattr = sf_getxattr,
	.listxattr = sf_listxattr,
	.removexattr = sf_removexattr,
};

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: slowfs DELAY_MS BACKING MOUNTPOINT\n");
		return 2;
	}
	delay_ms = atol(argv[1]);
	static char abs_backing[PATH_MAX];
	if (!realpath(argv[2], abs_backing)) {
		perror(argv[2]);
		return 1;
	}
	backing = abs_backing;
	umask(0);
	char *fargs[] = { argv[0], "-f", "-o", "fsname=slowfs,subtype=slowfs,max_threads=16",
			  argv[3], NULL };
	return fuse_main(5, fargs, &ops, NULL);
}

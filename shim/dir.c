/*
 * Directories on a slow file system (path.h): opening, reading, making, removing and
 * entering them. opendir remembers where its descriptor is, so that readdir knows; the
 * C library reads a directory in blocks (getdents64) and answers most readdir calls
 * from the block it holds, so only a call that must fetch the next block is made apart.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <dirent.h>
#include <sys/stat.h>

#include "iowait.h"
#include "path.h"

/*
 * The head of glibc's struct __dirstream (sysdeps/unix/sysv/linux/dirstream.h, the same
 * from 2.x to 2.42): readdir fetches a block when offset has reached size.
 */
struct glibc_dirstream_head {
	int fd;
	int lock;
	size_t allocation;
	size_t size;
	size_t offset;
};

static bool block_in_hand(DIR *d)
{
	const struct glibc_dirstream_head *h = (const void *)d;
	return h->offset < h->size;
}

/*
 * Where readdir's call on d is made: directly while it answers from the block it holds,
 * else as a call on its descriptor (readdir(NULL) crashes natively).
 */
static enum gp_path_class dir_class(DIR *d)
{
	return block_in_hand(d) ? GP_PATH_DIRECT : gp_fd_class(dirfd(d));
}

DIR *opendir(const char *path)
{
	enum gp_path_class k = gp_path_class(AT_FDCWD, path);
	DIR *d = GP_CLASS_CALL(k, GP_REAL(opendir)(path));
	if (d)
		gp__path_opened(dirfd(d), k);
	return d;
}

struct dirent *readdir(DIR *d)
{
	return GP_CLASS_CALL(dir_class(d), GP_REAL(readdir)(d));
}

struct dirent64 *readdir64(DIR *d)
{
	return GP_CLASS_CALL(dir_class(d), GP_REAL(readdir64)(d));
}

int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
	return GP_CLASS_CALL(dir_class(d), GP_REAL(readdir_r)(d, entry, result));
}

int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result)
{
	return GP_CLASS_CALL(dir_class(d), GP_REAL(readdir64_r)(d, entry, result));
}

/*
 * closedir closes its descriptor inside the C library, where no hook sees it. The C
 * library answers a NULL with EINVAL, though its header says it never gets one: the
 * compiler is kept from believing the header.
 */
int closedir(DIR *d)
{
	DIR *maybe_null = d;
	__asm__("" : "+r"(maybe_null));
	if (maybe_null)
		gp__fd_forget(dirfd(d));
	return GP_REAL(closedir)(d);
}

int mkdir(const char *path, mode_t mode)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(mkdir)(path, mode));
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(mkdirat)(dirfd, path, mode));
}

int rmdir(const char *path)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(rmdir)(path));
}

/* Relative paths start from the new directory: the cached one is dropped. */
int chdir(const char *path)
{
	int rc = GP_PATH_CALL(AT_FDCWD, path, GP_REAL(chdir)(path));
	if (rc == 0)
		gp__path_cwd_changed();
	return rc;
}

int fchdir(int fd)
{
	int rc = GP_FD_PATH_CALL(fd, GP_REAL(fchdir)(fd));
	if (rc == 0)
		gp__path_cwd_changed();
	return rc;
}

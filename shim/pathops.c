/*
 * The other calls on paths, on a slow file system made on the caller's own kernel
 * thread (path.h): access, links and names, modes and owners, sizes and times. A call
 * on two paths (rename, link) is made apart when either is on a slow mount.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

int access(const char *path, int mode)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(access)(path, mode));
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(faccessat)(dirfd, path, mode, flags));
}

/* ---- names -------------------------------------------------------------------------- */

int unlink(const char *path)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(unlink)(path));
}

int unlinkat(int dirfd, const char *path, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(unlinkat)(dirfd, path, flags));
}

int rename(const char *from, const char *to)
{
	return GP_PATHS_CALL(AT_FDCWD, from, AT_FDCWD, to, GP_REAL(rename)(from, to));
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	return GP_PATHS_CALL(fromfd, from, tofd, to, GP_REAL(renameat)(fromfd, from, tofd, to));
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	return GP_PATHS_CALL(fromfd, from, tofd, to,
			     GP_REAL(renameat2)(fromfd, from, tofd, to, flags));
}

int link(const char *from, const char *to)
{
	return GP_PATHS_CALL(AT_FDCWD, from, AT_FDCWD, to, GP_REAL(link)(from, to));
}

/* The target is only text stored in the link: the link's own path decides. */
int symlink(const char *target, const char *path)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(symlink)(target, path));
}

ssize_t readlink(const char *path, char *buf, size_t len)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(readlink)(path, buf, len));
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t len)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(readlinkat)(dirfd, path, buf, len));
}

ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__readlink_chk)(path, buf, len, buflen));
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len, size_t buflen)
{
	return GP_PATH_CALL(dirfd, path,
			    GP_REAL(__readlinkat_chk)(dirfd, path, buf, len, buflen));
}

/* realpath looks at each component with the C library's own calls: all of it apart. */
char *realpath(const char *path, char *resolved)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(realpath)(path, resolved));
}

char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__realpath_chk)(path, resolved, resolvedlen));
}

/* ---- modes, owners, sizes and times ------------------------------------------------- */

int chmod(const char *path, mode_t mode)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(chmod)(path, mode));
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(fchmodat)(dirfd, path, mode, flags));
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(chown)(path, uid, gid));
}

int lchown(const char *path, uid_t uid, gid_t gid)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lchown)(path, uid, gid));
}

int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(fchownat)(dirfd, path, uid, gid, flags));
}

int truncate(const char *path, off_t len)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(truncate)(path, len));
}

int truncate64(const char *path, off64_t len)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(truncate64)(path, len));
}

int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(utimensat)(dirfd, path, times, flags));
}

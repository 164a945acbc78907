/*
 * The stat family, on a slow file system made on the caller's own kernel thread
 * (path.h). The names glibc 2.33 replaced (__xstat, __lxstat, __fxstatat and their 64
 * forms) are still what programs built before it call; the descriptor forms (fstat,
 * __fxstat) are apart only for a descriptor a hook opened on a slow mount.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <sys/stat.h>

#include "path.h"

int stat(const char *path, struct stat *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(stat)(path, st));
}

int stat64(const char *path, struct stat64 *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(stat64)(path, st));
}

int lstat(const char *path, struct stat *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lstat)(path, st));
}

int lstat64(const char *path, struct stat64 *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lstat64)(path, st));
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(fstatat)(dirfd, path, st, flags));
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(fstatat64)(dirfd, path, st, flags));
}

int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *sx)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(statx)(dirfd, path, flags, mask, sx));
}

int fstat(int fd, struct stat *st)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstat)(fd, st));
}

int fstat64(int fd, struct stat64 *st)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstat64)(fd, st));
}

/* ---- before glibc 2.33 -------------------------------------------------------------- */

int __xstat(int ver, const char *path, struct stat *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__xstat)(ver, path, st));
}

int __xstat64(int ver, const char *path, struct stat64 *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__xstat64)(ver, path, st));
}

int __lxstat(int ver, const char *path, struct stat *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__lxstat)(ver, path, st));
}

int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(__lxstat64)(ver, path, st));
}

int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(__fxstatat)(ver, dirfd, path, st, flags));
}

int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(__fxstatat64)(ver, dirfd, path, st, flags));
}

int __fxstat(int ver, int fd, struct stat *st)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(__fxstat)(ver, fd, st));
}

int __fxstat64(int ver, int fd, struct stat64 *st)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(__fxstat64)(ver, fd, st));
}

/*
 * The stat family, on a slow file system made on the caller's own kernel thread
 * (path.h). The names glibc 2.33 replaced (__xstat, __lxstat, __fxstatat and their 64
 * forms) are still what programs built before it call; the descriptor forms (fstat,
 * __fxstat) are apart only for a descriptor a hook opened on a slow mount. The file
 * system's own figures (statfs, statvfs) are asked of its server or daemon too.
 * statvfs and fstatvfs make their statfs inside the C library, where no hook sees it:
 * they have hooks of their own.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

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

/* ---- the file system's figures ------------------------------------------------------- */

int statfs(const char *path, struct statfs *sf)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(statfs)(path, sf));
}

int statfs64(const char *path, struct statfs64 *sf)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(statfs64)(path, sf));
}

int fstatfs(int fd, struct statfs *sf)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstatfs)(fd, sf));
}

int fstatfs64(int fd, struct statfs64 *sf)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstatfs64)(fd, sf));
}

int statvfs(const char *path, struct statvfs *sv)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(statvfs)(path, sv));
}

int statvfs64(const char *path, struct statvfs64 *sv)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(statvfs64)(path, sv));
}

int fstatvfs(int fd, struct statvfs *sv)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstatvfs)(fd, sv));
}

int fstatvfs64(int fd, struct statvfs64 *sv)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fstatvfs64)(fd, sv));
}

/*
 * Extended attributes, on a slow file system made on the caller's own kernel thread
 * (path.h). The l- forms act on a symbolic link itself; the f- forms are apart only for
 * a descriptor a hook opened on a slow mount.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <sys/xattr.h>

#include "path.h"

ssize_t getxattr(const char *path, const char *name, void *value, size_t size)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(getxattr)(path, name, value, size));
}

ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lgetxattr)(path, name, value, size));
}

ssize_t fgetxattr(int fd, const char *name, void *value, size_t size)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fgetxattr)(fd, name, value, size));
}

int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(setxattr)(path, name, value, size, flags));
}

int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lsetxattr)(path, name, value, size, flags));
}

int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fsetxattr)(fd, name, value, size, flags));
}

ssize_t listxattr(const char *path, char *list, size_t size)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(listxattr)(path, list, size));
}

ssize_t llistxattr(const char *path, char *list, size_t size)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(llistxattr)(path, list, size));
}

ssize_t flistxattr(int fd, char *list, size_t size)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(flistxattr)(fd, list, size));
}

int removexattr(const char *path, const char *name)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(removexattr)(path, name));
}

int lremovexattr(const char *path, const char *name)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(lremovexattr)(path, name));
}

int fremovexattr(int fd, const char *name)
{
	return GP_FD_PATH_CALL(fd, GP_REAL(fremovexattr)(fd, name));
}

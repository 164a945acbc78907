/*
 * Whole walks of directories: scandir reads one directory, nftw and ftw a tree. The C
 * library makes their calls inside itself (glibc 2.36, checked with a preloaded library
 * that names every opendir, readdir, stat, fstatat, chdir and close it sees: scandir,
 * scandirat, nftw with or without FTW_CHDIR, and ftw show none of them), so the hooks
 * of those calls (dir.c, stat.c) never see a walk: on a slow file system the whole walk
 * is made on the caller's own kernel thread (path.h). The program's functions the walk
 * calls (scandir's filter and comparison, nftw's callback) run there meanwhile, as on
 * a kernel thread of the program: their calls go straight to libc.
 *
 * A tree walk is made apart when its start is on a slow mount or one is mounted below
 * it (the walk crosses into it unless FTW_MOUNT says not to, which is not looked at:
 * the walk is then apart for nothing). A symbolic link the walk follows into a slow
 * mount elsewhere is not seen, as for the other path calls.
 *
 * nftw has two versions; the hook serves both with the one of glibc 2.3.3, which
 * differs from the first (2.2.5) only in refusing flags it does not know (EINVAL) where
 * the first ignored them: a program built against a C library older than 2.3.3 that
 * passes unknown flags would see the difference.
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <dirent.h>
#include <ftw.h>

#include "path.h"

typedef int (*dirent_filter)(const struct dirent *);
typedef int (*dirent_compar)(const struct dirent **, const struct dirent **);
typedef int (*dirent64_filter)(const struct dirent64 *);
typedef int (*dirent64_compar)(const struct dirent64 **, const struct dirent64 **);

int scandir(const char *path, struct dirent ***list, dirent_filter filter, dirent_compar compar)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(scandir)(path, list, filter, compar));
}

int scandir64(const char *path, struct dirent64 ***list, dirent64_filter filter,
	      dirent64_compar compar)
{
	return GP_PATH_CALL(AT_FDCWD, path, GP_REAL(scandir64)(path, list, filter, compar));
}

int scandirat(int dirfd, const char *path, struct dirent ***list, dirent_filter filter,
	      dirent_compar compar)
{
	return GP_PATH_CALL(dirfd, path, GP_REAL(scandirat)(dirfd, path, list, filter, compar));
}

int scandirat64(int dirfd, const char *path, struct dirent64 ***list, dirent64_filter filter,
		dirent64_compar compar)
{
	return GP_PATH_CALL(dirfd, path,
			    GP_REAL(scandirat64)(dirfd, path, list, filter, compar));
}

/* expr, a walk of the tree at path. */
#define GP_TREE_CALL(path, expr) GP_CLASS_CALL(gp_path_tree_class(path), expr)

int nftw(const char *path, __nftw_func_t fn, int fds, int flags)
{
	return GP_TREE_CALL(path, GP_REAL(nftw)(path, fn, fds, flags));
}

int nftw64(const char *path, __nftw64_func_t fn, int fds, int flags)
{
	return GP_TREE_CALL(path, GP_REAL(nftw64)(path, fn, fds, flags));
}

int ftw(const char *path, __ftw_func_t fn, int fds)
{
	return GP_TREE_CALL(path, GP_REAL(ftw)(path, fn, fds));
}

int ftw64(const char *path, __ftw64_func_t fn, int fds)
{
	return GP_TREE_CALL(path, GP_REAL(ftw64)(path, fn, fds));
}

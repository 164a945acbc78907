/*
 * glob_versions
 *
 * glob as the program was linked for it: built twice, as glob_versions (glob@GLIBC_2.27,
 * the current version) and as glob_versions.first (the first version, as a program
 * linked before glibc 2.27 binds it). The two differ where a pattern names a dangling
 * symbolic link: the current version looks with lstat (GLOB_ALTDIRFUNC: gl_lstat) and
 * matches it, the first with stat (gl_stat) and does not. Prints which of the
 * program's functions glob called, and what it matched.
 */
#define PROG "glob_versions"
#include "progs.h"

#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <sys/stat.h>

#ifdef GLOB_FIRST_VERSION
#if defined(__aarch64__)
__asm__(".symver glob, glob@GLIBC_2.17");
#else
__asm__(".symver glob, glob@GLIBC_2.2.5");
#endif
#endif

static char root[] = "/tmp/glob_versions.XXXXXX";

static int my_stat(const char *restrict path, struct stat *restrict st)
{
	printf(" stat(%s)", path + strlen(root) + 1);
	return stat(path, st);
}

static int my_lstat(const char *restrict path, struct stat *restrict st)
{
	printf(" lstat(%s)", path + strlen(root) + 1);
	return lstat(path, st);
}

static void *my_opendir(const char *path) { return opendir(path); }
static struct dirent *my_readdir(void *d) { return readdir(d); }
static void my_closedir(void *d) { closedir(d); }

static void try(const char *name, int flags)
{
	char pattern[PATH_MAX];
	glob_t g = { .gl_opendir = my_opendir, .gl_readdir = my_readdir,
		     .gl_closedir = my_closedir, .gl_stat = my_stat, .gl_lstat = my_lstat };
	snprintf(pattern, sizeof(pattern), "%s/%s", root, name);
	printf("%s%s:", name, flags & GLOB_ALTDIRFUNC ? " (the program's functions)" : "");
	int rc = glob(pattern, flags, NULL, &g);
	printf(" -> %d", rc);
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		printf(" %s", g.gl_pathv[i] + strlen(root) + 1);
	printf("\n");
	if (rc == 0)
		globfree(&g);
}

int main(void)
{
	char path[PATH_MAX];
	if (!mkdtemp(root))
		die("mkdtemp");
	snprintf(path, sizeof(path), "%s/dangling", root);
	if (symlink("nowhere", path) != 0)
		die("symlink");
	try("dangling", GLOB_ALTDIRFUNC);
	try("dangling", 0);
	try("dang*", GLOB_ALTDIRFUNC | GLOB_MARK);
	unlink(path);
	rmdir(root);
	return 0;
}

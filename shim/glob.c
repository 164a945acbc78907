/*
 * glob reads directories inside the C library (__opendir, __readdir64, __lstat64: no
 * hook sees them, checked with glibc 2.36 as for the walks of walk.c), so on a slow
 * mount the whole call is made apart (path.h), as nftw is: when the pattern's leading
 * directories, those before its first wildcard, are on a slow mount or one is mounted
 * below them, where the wildcards may lead. A pattern that starts with ~ (GLOB_TILDE)
 * may lead anywhere: its walk is taken from /. With GLOB_ALTDIRFUNC the program's own
 * functions read the directories, through the hooks: the call is made directly.
 *
 * Two versions of glob, and of glob64, which is the same function on 64-bit Linux:
 * since glibc 2.27 it asks gl_lstat (GLOB_ALTDIRFUNC) or lstat where the first version
 * asked gl_stat or stat, so that a dangling symbolic link matches. A program gets the
 * version it was linked for, and our hook, exported without a version, stands for both:
 * it gives each caller the one its object names (symver.h).
 */
/* GREENPATCH_UNPATCH=path leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_PATH

#include <glob.h>
#include <limits.h>

#include "path.h"
#include "symver.h"

typedef int (*glob_fn)(const char *pattern, int flags, int (*errfunc)(const char *, int),
		       glob_t *pglob);

/* The first version, for an object linked before glibc 2.27; NULL where there is none. */
static glob_fn first_glob(void)
{
	static glob_fn first;
	glob_fn f = __atomic_load_n(&first, __ATOMIC_ACQUIRE);
	if (!f) {
		f = (glob_fn)dlvsym(RTLD_NEXT, "glob", GP_GLIBC_BASE);
		__atomic_store_n(&first, f, __ATOMIC_RELEASE);
	}
	return f;
}

static bool is_wildcard(char c)
{
	return c == '*' || c == '?' || c == '[';
}

/*
 * The directories the pattern starts with, before its first wildcard, into dir, its
 * escapes taken out: "." for a pattern whose first name has a wildcard. false when the
 * walk must be taken from /: a pattern that starts with ~ (a home directory is looked
 * up), one with braces (GLOB_BRACE: each alternative is a pattern of its own, which
 * may start anywhere), or one that does not fit.
 */
static bool fixed_part(const char *pattern, int flags, char *dir, size_t size)
{
	if (pattern[0] == '~' && (flags & (GLOB_TILDE | GLOB_TILDE_CHECK)))
		return false;
	if ((flags & GLOB_BRACE) && strchr(pattern, '{'))
		return false;
	size_t len = 0, at_slash = 0;
	bool slash = false;
	for (size_t i = 0; pattern[i] && !is_wildcard(pattern[i]); i++) {
		if (pattern[i] == '\\' && !(flags & GLOB_NOESCAPE) && pattern[i + 1])
			i++;
		if (len + 1 >= size)
			return false;
		if (pattern[i] == '/')
			at_slash = len, slash = true;
		dir[len++] = pattern[i];
	}
	if (!slash)
		return snprintf(dir, size, ".") < (int)size;
	dir[at_slash ? at_slash : 1] = '\0';   /* "/x*": the root */
	return true;
}

static enum gp_path_class glob_class(const char *pattern, int flags)
{
	if (gp_mounts_all_local() || !gp_cooperative_in(GP_FAM_PATH))
		return GP_PATH_DIRECT;
	if (!pattern || (flags & GLOB_ALTDIRFUNC))
		return GP_PATH_DIRECT;   /* libc's EINVAL, or the program's own functions */
	char dir[PATH_MAX];
	return gp_path_tree_class(fixed_part(pattern, flags, dir, sizeof(dir)) ? dir : "/");
}

/* The version the calling object was linked for. */
static glob_fn glob_version(const void *caller, glob_fn current)
{
	if (gp_symver_binds_older(caller, "glob", "glob64", "GLIBC_2.27") && first_glob())
		return first_glob();
	return current;
}

int glob(const char *pattern, int flags, int (*errfunc)(const char *, int), glob_t *pglob)
{
	glob_fn f = glob_version(__builtin_return_address(0), GP_REAL(glob));
	return GP_CLASS_CALL(glob_class(pattern, flags), f(pattern, flags, errfunc, pglob));
}

/* The same function, and glob64_t the same layout as glob_t, on 64-bit Linux. */
int glob64(const char *pattern, int flags, int (*errfunc)(const char *, int), glob64_t *pglob)
{
	glob_fn f = glob_version(__builtin_return_address(0), (glob_fn)GP_REAL(glob64));
	return GP_CLASS_CALL(glob_class(pattern, flags),
			     f(pattern, flags, errfunc, (glob_t *)pglob));
}

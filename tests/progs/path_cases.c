/*
 * Path calls on a slow file system, each made by one thread while a ticker thread
 * ticks: stat and its kin, access, opening, reading, writing and closing, directories
 * read and made, names removed and changed, links, modes, owners, sizes and times,
 * whole walks (scandir, nftw, ftw, glob), the file system's figures (statfs, statvfs),
 * extended attributes, and calls that reach DIR through a symbolic link on the local
 * file system that holds DIR.
 *
 *   PATH_CASES_DIR=DIR PATH_CASES_BACKING=BACKING path_cases [--list | CASE...]
 *
 * DIR is where the calls are made (a FUSE mount of BACKING that answers slowly, in
 * tests/shim_paths.c); what a case needs is laid out in BACKING directly, so that only
 * the call a case watches goes through DIR. Each case prints the call's result and
 * errno, what it read, and whether the ticker kept ticking while the call lasted
 * ("ticked=yes") without once being late by LATE_MS or more ("late=no"): natively the
 * ticker is a kernel thread of its own; under the library it is a green thread, and it
 * ticks on time only if the call left the carrier to it. Without BACKING the cases lay
 * out their files through DIR itself. With PATH_CASES_WAIT_MOUNT set, the one case
 * after_mount runs instead: DIR is mounted while it runs.
 */
#define PROG "path_cases"
#include "progs.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>

/* The names glibc 2.33 replaced, still exported for programs built before it. */
extern int __xstat(int ver, const char *path, struct stat *st);
extern int __xstat64(int ver, const char *path, struct stat64 *st);
extern int __lxstat(int ver, const char *path, struct stat *st);
extern int __lxstat64(int ver, const char *path, struct stat64 *st);
extern int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
extern int __fxstat(int ver, int fd, struct stat *st);
extern int __fxstat64(int ver, int fd, struct stat64 *st);
/* The fortified forms, called by name: which one a fortified build picks depends on
 * what the compiler knows of the arguments. */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);
extern ssize_t __readlink_chk(const char *path, char *buf, size_t len, size_t buflen);
extern ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t len,
				size_t buflen);
extern char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);

#define STAT_VER 1   /* _STAT_VER_LINUX on x86_64 */
#define TICK_MS 5
#define LATE_MS 60     /* under the delay of tests/shim_paths.c's file system, 100 ms */
#define MIN_TICKS 3

static const char *dir, *backing;

/* ---- the ticker --------------------------------------------------------------------- */

static long ticks0;

/* The ticker runs, past its first sleep, when the watched call starts. */
static void watch_begin(void)
{
	timed_ticker_start(TICK_MS);
	ticks0 = timed_ticks_now();
	errno = 0;
}

/* One line: the call's result and errno, and how the ticker fared meanwhile. */
static void watch_end(long rc, int err)
{
	long got = timed_ticks_now() - ticks0;
	long late_us = timed_ticker_stop();
	printf("%s: rc=%ld errno=%s ticked=%s late=%s\n", current, rc, errname(err),
	       yes(got >= MIN_TICKS), yes(late_us >= LATE_MS * 1000L));
	fprintf(stderr, "%s: %ld ticks, worst %.1f ms late\n", current, got,
		(double)late_us / 1000.0);
}

#define WATCH(call)                                                            \
	do {                                                                   \
		watch_begin();                                                 \
		long rc_ = (long)(call);                                       \
		int err_ = errno;                                              \
		watch_end(rc_, err_);                                          \
	} while (0)

/* For calls that answer a pointer: 1 for one, 0 for NULL. */
#define WATCH_PTR(call) WATCH((call) != NULL)

/* ---- where things are --------------------------------------------------------------- */

/* DIR/name, in one of a few rotating buffers. */
static const char *at(const char *root, const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, PATH_MAX, "%s/%s", root, name);
	return b;
}

static const char *p(const char *name)
{
	return at(dir, name);
}

/*
 * DIR reached through a symbolic link on the local file system that holds DIR: the
 * link is DIR's parent's "via", which names DIR.
 */
static char via_dir[PATH_MAX / 2];

static const char *via(const char *name)
{
	return at(via_dir, name);
}

static void put_via_link(void)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		fail("%s has no parent to put a link in", dir);
	*slash = '\0';
	if ((size_t)snprintf(via_dir, sizeof(via_dir), "%s/via", parent) >= sizeof(via_dir))
		fail("%s is too long", dir);
	unlink(via_dir);
	if (symlink(slash + 1, via_dir) != 0)
		die(via_dir);
}

/* Where a case lays out what it needs: in BACKING, without going through DIR. */
static const char *b(const char *name)
{
	return at(backing ? backing : dir, name);
}

static void put_file(const char *name, const char *text)
{
	FILE *f = fopen(b(name), "w");
	if (!f)
		die(b(name));
	fputs(text, f);
	if (fclose(f) != 0)
		die("fclose");
}

static void put_dir(const char *name)
{
	if (mkdir(b(name), 0755) != 0 && errno != EEXIST)
		die(b(name));
}

static void put_link(const char *target, const char *name)
{
	unlink(b(name));
	if (symlink(target, b(name)) != 0)
		die(b(name));
}

/* The layout every case may rely on. */
static void lay_out(void)
{
	put_file("f", "hello\n");
	put_dir("d");
	put_file("d/a", "a");
	put_file("d/b", "b");
	put_file("d/c", "c");
	put_link("f", "l");
	put_via_link();
	/* A file of its own for the extended attributes, with one attribute only. */
	unlink(b("x"));
	put_file("x", "x");
	if (setxattr(b("x"), "user.gp", "value", 5, 0) != 0)
		die("setxattr");
}

/* A descriptor of DIR (a directory) or of one of its files, opened before a watch. */
static int open_there(const char *name, int flags)
{
	int fd = open(p(name), flags | O_CLOEXEC);
	if (fd < 0)
		die(p(name));
	return fd;
}

static void say_stat(const struct stat *st)
{
	printf("  mode=%o size=%ld nlink=%lu\n", st->st_mode, (long)st->st_size,
	       (unsigned long)st->st_nlink);
}

static void say_stat64(const struct stat64 *st)
{
	printf("  mode=%o size=%ld nlink=%lu\n", st->st_mode, (long)st->st_size,
	       (unsigned long)st->st_nlink);
}

/* ---- stat and its kin --------------------------------------------------------------- */

static struct stat st;
static struct stat64 st64;

static void case_stat(void) { WATCH(stat(p("f"), &st)); say_stat(&st); }
static void case_stat_missing(void) { WATCH(stat(p("missing"), &st)); }
static void case_stat64(void) { WATCH(stat64(p("f"), &st64)); say_stat64(&st64); }
static void case_lstat(void) { WATCH(lstat(p("l"), &st)); say_stat(&st); }
static void case_lstat64(void) { WATCH(lstat64(p("l"), &st64)); say_stat64(&st64); }
static void case_fstatat(void) { WATCH(fstatat(AT_FDCWD, p("f"), &st, 0)); say_stat(&st); }

static void case_fstatat_dirfd(void)
{
	int d = open_there("d", O_RDONLY | O_DIRECTORY);
	WATCH(fstatat(d, "a", &st, AT_SYMLINK_NOFOLLOW));
	say_stat(&st);
	close(d);
}

static void case_fstatat64(void) { WATCH(fstatat64(AT_FDCWD, p("f"), &st64, 0)); say_stat64(&st64); }

static void case_statx(void)
{
	struct statx sx;
	WATCH(statx(AT_FDCWD, p("f"), 0, STATX_BASIC_STATS, &sx));
	printf("  size=%llu\n", (unsigned long long)sx.stx_size);
}

static void case_fstat(void)
{
	int fd = open_there("f", O_RDONLY);
	WATCH(fstat(fd, &st));
	say_stat(&st);
	close(fd);
}

static void case_fstat64(void)
{
	int fd = open_there("f", O_RDONLY);
	WATCH(fstat64(fd, &st64));
	say_stat64(&st64);
	close(fd);
}

static void case_xstat(void) { WATCH(__xstat(STAT_VER, p("f"), &st)); say_stat(&st); }
static void case_xstat64(void) { WATCH(__xstat64(STAT_VER, p("f"), &st64)); say_stat64(&st64); }
static void case_lxstat(void) { WATCH(__lxstat(STAT_VER, p("l"), &st)); say_stat(&st); }
static void case_lxstat64(void) { WATCH(__lxstat64(STAT_VER, p("l"), &st64)); say_stat64(&st64); }

static void case_fxstatat(void)
{
	WATCH(__fxstatat(STAT_VER, AT_FDCWD, p("f"), &st, 0));
	say_stat(&st);
}

static void case_fxstatat64(void)
{
	WATCH(__fxstatat64(STAT_VER, AT_FDCWD, p("f"), &st64, 0));
	say_stat64(&st64);
}

static void case_fxstat(void)
{
	int fd = open_there("f", O_RDONLY);
	WATCH(__fxstat(STAT_VER, fd, &st));
	say_stat(&st);
	close(fd);
}

static void case_fxstat64(void)
{
	int fd = open_there("f", O_RDONLY);
	WATCH(__fxstat64(STAT_VER, fd, &st64));
	say_stat64(&st64);
	close(fd);
}

static void case_access(void) { WATCH(access(p("f"), R_OK)); }
static void case_access_missing(void) { WATCH(access(p("missing"), F_OK)); }
static void case_faccessat(void) { WATCH(faccessat(AT_FDCWD, p("f"), W_OK, 0)); }

/* ---- opening and closing ------------------------------------------------------------- */

/* What fd reads, then closed (outside the watch). */
static void say_contents(int fd)
{
	char buf[64];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	buf[n > 0 ? n : 0] = '\0';
	printf("  read %zd [%s]\n", n, strtok(buf, "\n") ? buf : "");
	if (fd >= 0)
		close(fd);
}

static int fd;
static ssize_t n;

static void case_open(void) { WATCH(fd = open(p("f"), O_RDONLY)); say_contents(fd); }
static void case_open_missing(void) { WATCH(fd = open(p("missing"), O_RDONLY)); }
static void case_open64(void) { WATCH(fd = open64(p("f"), O_RDONLY)); say_contents(fd); }
static void case_openat(void) { WATCH(fd = openat(AT_FDCWD, p("f"), O_RDONLY)); say_contents(fd); }

static void case_openat_dirfd(void)
{
	int d = open_there("d", O_RDONLY | O_DIRECTORY);
	WATCH(fd = openat(d, "a", O_RDONLY));
	say_contents(fd);
	close(d);
}

static void case_openat64(void)
{
	WATCH(fd = openat64(AT_FDCWD, p("f"), O_RDONLY));
	say_contents(fd);
}

static void case_open_2(void) { WATCH(fd = __open_2(p("f"), O_RDONLY)); say_contents(fd); }
static void case_open64_2(void) { WATCH(fd = __open64_2(p("f"), O_RDONLY)); say_contents(fd); }

static void case_openat_2(void)
{
	WATCH(fd = __openat_2(AT_FDCWD, p("f"), O_RDONLY));
	say_contents(fd);
}

static void case_openat64_2(void)
{
	WATCH(fd = __openat64_2(AT_FDCWD, p("f"), O_RDONLY));
	say_contents(fd);
}

static void case_open_create(void)
{
	unlink(b("new"));
	WATCH(fd = open(p("new"), O_RDWR | O_CREAT | O_EXCL, 0640));
	say_contents(fd);
	WATCH(fd = open(p("new"), O_RDWR | O_CREAT | O_EXCL, 0640));
}

static void case_creat(void)
{
	put_file("cr", "old contents");
	WATCH(fd = creat(p("cr"), 0600));
	say_contents(fd);
}

static void case_creat64(void)
{
	put_file("cr", "old contents");
	WATCH(fd = creat64(p("cr"), 0600));
	say_contents(fd);
}

/* The last close of a FUSE file sends a flush and waits for its answer. */
static void case_close(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(close(f));
}

static FILE *fp;

static void say_stream(FILE *f)
{
	char buf[64] = "";
	if (f && fgets(buf, sizeof(buf), f))
		buf[strcspn(buf, "\n")] = '\0';
	printf("  got [%s]\n", buf);
}

static void case_fopen(void) { WATCH_PTR(fp = fopen(p("f"), "r")); say_stream(fp); fclose(fp); }
static void case_fopen64(void) { WATCH_PTR(fp = fopen64(p("f"), "r")); say_stream(fp); fclose(fp); }
static void case_fopen_missing(void) { WATCH_PTR(fp = fopen(p("missing"), "r")); }

static void case_fclose(void)
{
	FILE *f = fopen(p("f"), "r");
	if (!f)
		die("fopen");
	WATCH(fclose(f));
}

/* The contents of a file there: read without the page cache (slowfs uses direct I/O). */
static char buf[64];

static void say_buf(ssize_t got)
{
	buf[got > 0 ? got : 0] = '\0';
	printf("  got [%s]\n", strtok(buf, "\n") ? buf : "");
}

static void case_read(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(n = read(f, buf, sizeof(buf) - 1));
	say_buf(n);
	close(f);
}

static void case_pread(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(n = pread(f, buf, sizeof(buf) - 1, 1));
	say_buf(n);
	close(f);
}

static void case_write(void)
{
	put_file("w", "");
	int f = open_there("w", O_WRONLY);
	WATCH(write(f, "written\n", 8));
	close(f);
	int back = open(b("w"), O_RDONLY);
	say_buf(back >= 0 ? read(back, buf, sizeof(buf) - 1) : -1);
	close(back);
}

/* ---- directories -------------------------------------------------------------------- */

static DIR *dp;

/* The names in d (sorted: the order readdir gives is the file system's). */
static void say_names(char names[][NAME_MAX + 1], int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[NAME_MAX + 1];
			strcpy(t, names[j]);
			strcpy(names[j], names[j - 1]);
			strcpy(names[j - 1], t);
		}
	printf(" ");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("\n");
}

static DIR *open_dir_there(const char *name)
{
	DIR *d = opendir(p(name));
	if (!d)
		die(p(name));
	return d;
}

static void case_opendir(void) { WATCH_PTR(dp = opendir(p("d"))); closedir(dp); }
static void case_opendir_missing(void) { WATCH_PTR(dp = opendir(p("missing"))); }
static void case_opendir_file(void) { WATCH_PTR(dp = opendir(p("f"))); }

/* The first readdir fetches a block of entries: that one is watched, then the rest. */
#define READDIR_CASE(name, type, call)                                         \
	static void case_##name(void)                                          \
	{                                                                      \
		char names[16][NAME_MAX + 1];                                  \
		int n = 0;                                                     \
		type *e;                                                       \
		dp = open_dir_there("d");                                      \
		WATCH_PTR(e = call);                                           \
		for (; e && n < 16; e = call)                                  \
			strcpy(names[n++], e->d_name);                         \
		say_names(names, n);                                           \
		closedir(dp);                                                  \
	}

READDIR_CASE(readdir, struct dirent, readdir(dp))
READDIR_CASE(readdir64, struct dirent64, readdir64(dp))

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static struct dirent *next_r(DIR *d)
{
	static struct dirent ent;
	struct dirent *res;
	return readdir_r(d, &ent, &res) == 0 ? res : NULL;
}

static struct dirent64 *next64_r(DIR *d)
{
	static struct dirent64 ent;
	struct dirent64 *res;
	return readdir64_r(d, &ent, &res) == 0 ? res : NULL;
}

READDIR_CASE(readdir_r, struct dirent, next_r(dp))
READDIR_CASE(readdir64_r, struct dirent64, next64_r(dp))

static void case_closedir(void)
{
	dp = open_dir_there("d");
	WATCH(closedir(dp));
}

static void case_mkdir(void) { rmdir(b("md")); WATCH(mkdir(p("md"), 0750)); }
static void case_mkdir_exists(void) { WATCH(mkdir(p("d"), 0750)); }

static void case_mkdirat(void)
{
	rmdir(b("d/md"));
	int d = open_there("d", O_RDONLY | O_DIRECTORY);
	WATCH(mkdirat(d, "md", 0700));
	close(d);
	rmdir(b("d/md"));
}

static void case_rmdir(void) { put_dir("rd"); WATCH(rmdir(p("rd"))); }
static void case_rmdir_not_empty(void) { WATCH(rmdir(p("d"))); }

/* A relative path after a chdir into DIR is on DIR's file system too. */
static void case_chdir(void)
{
	char back[PATH_MAX];
	if (!getcwd(back, sizeof(back)))
		die("getcwd");
	WATCH(chdir(p("d")));
	WATCH(stat("a", &st));
	say_stat(&st);
	if (chdir(back) != 0)
		die("chdir back");
}

static void case_fchdir(void)
{
	char back[PATH_MAX];
	if (!getcwd(back, sizeof(back)))
		die("getcwd");
	int d = open_there("d", O_RDONLY | O_DIRECTORY);
	WATCH(fchdir(d));
	WATCH(access("b", R_OK));
	close(d);
	if (chdir(back) != 0)
		die("chdir back");
}

/* ---- names -------------------------------------------------------------------------- */

static void case_unlink(void) { put_file("u", "x"); WATCH(unlink(p("u"))); }
static void case_unlink_dir(void) { WATCH(unlink(p("d"))); }

static void case_unlinkat(void)
{
	put_file("u", "x");
	WATCH(unlinkat(AT_FDCWD, p("u"), 0));
}

static void case_unlinkat_dir(void) { put_dir("ud"); WATCH(unlinkat(AT_FDCWD, p("ud"), AT_REMOVEDIR)); }

static void case_rename(void)
{
	put_file("r1", "renamed");
	WATCH(rename(p("r1"), p("r2")));
	printf("  r1 %s, r2 %s\n", access(b("r1"), F_OK) == 0 ? "there" : "gone",
	       access(b("r2"), F_OK) == 0 ? "there" : "gone");
}

static void case_rename_missing(void) { WATCH(rename(p("missing"), p("r2"))); }

static void case_renameat(void)
{
	put_file("r1", "renamed");
	WATCH(renameat(AT_FDCWD, p("r1"), AT_FDCWD, p("r3")));
}

static void case_renameat2(void)
{
	put_file("r1", "one");
	put_file("r4", "four");
	WATCH(renameat2(AT_FDCWD, p("r1"), AT_FDCWD, p("r4"), RENAME_NOREPLACE));
}

static void case_link(void)
{
	unlink(b("hard"));
	WATCH(link(p("f"), p("hard")));
	if (stat(b("f"), &st) == 0)
		say_stat(&st);
	unlink(b("hard"));
}

static void case_symlink(void) { unlink(b("sl")); WATCH(symlink("f", p("sl"))); }
static void case_symlink_exists(void) { WATCH(symlink("f", p("l"))); }

static char target[PATH_MAX];

static void say_target(ssize_t n)
{
	target[n > 0 ? n : 0] = '\0';
	printf("  target [%s]\n", target);
}

static void case_readlink(void) { WATCH(n = readlink(p("l"), target, sizeof(target))); say_target(n); }
static void case_readlink_not_link(void) { WATCH(readlink(p("f"), target, sizeof(target))); }

static void case_readlinkat(void)
{
	WATCH(n = readlinkat(AT_FDCWD, p("l"), target, sizeof(target)));
	say_target(n);
}

static void case_readlink_chk(void)
{
	WATCH(n = __readlink_chk(p("l"), target, sizeof(target), sizeof(target)));
	say_target(n);
}

static void case_readlinkat_chk(void)
{
	WATCH(n = __readlinkat_chk(AT_FDCWD, p("l"), target, sizeof(target), sizeof(target)));
	say_target(n);
}

/* The answer names DIR, which differs from run to run: only its end is printed. */
static void say_resolved(const char *r)
{
	printf("  resolved [...%s]\n", r && strlen(r) >= 2 ? r + strlen(r) - 2 : "");
}

static char resolved[PATH_MAX];

static void case_realpath(void) { WATCH_PTR(realpath(p("l"), resolved)); say_resolved(resolved); }
static void case_realpath_missing(void) { WATCH_PTR(realpath(p("missing/x"), resolved)); }

static void case_realpath_chk(void)
{
	WATCH_PTR(__realpath_chk(p("l"), resolved, sizeof(resolved)));
	say_resolved(resolved);
}

/* ---- modes, owners, sizes and times ------------------------------------------------- */

static void say_mode(const char *name)
{
	if (lstat(b(name), &st) != 0)
		die(b(name));
	printf("  mode=%o uid=%u gid=%u size=%ld\n", st.st_mode, st.st_uid, st.st_gid,
	       (long)st.st_size);
}

static void case_chmod(void) { put_file("m", "m"); WATCH(chmod(p("m"), 0604)); say_mode("m"); }

static void case_fchmodat(void)
{
	put_file("m", "m");
	WATCH(fchmodat(AT_FDCWD, p("m"), 0660, 0));
	say_mode("m");
}

static void case_chown(void) { put_file("o", "o"); WATCH(chown(p("o"), 1, 2)); say_mode("o"); }
static void case_lchown(void) { put_link("f", "ol"); WATCH(lchown(p("ol"), 3, 4)); say_mode("ol"); }

static void case_fchownat(void)
{
	put_file("o", "o");
	WATCH(fchownat(AT_FDCWD, p("o"), 5, 6, 0));
	say_mode("o");
}

static void case_truncate(void)
{
	put_file("t", "0123456789");
	WATCH(truncate(p("t"), 4));
	say_mode("t");
}

static void case_truncate64(void)
{
	put_file("t", "0123456789");
	WATCH(truncate64(p("t"), 7));
	say_mode("t");
}

static void case_utimensat(void)
{
	put_file("ut", "t");
	struct timespec ts[2] = { { 1000000000, 0 }, { 1234567890, 0 } };
	WATCH(utimensat(AT_FDCWD, p("ut"), ts, 0));
	if (stat(b("ut"), &st) != 0)
		die(b("ut"));
	printf("  atime=%ld mtime=%ld\n", (long)st.st_atime, (long)st.st_mtime);
}

/* ---- whole walks of directories ------------------------------------------------------ */

static int scanned;

static void say_list(char **names, int n)
{
	printf(" ");
	for (int i = 0; i < n; i++)
		printf(" %s", names[i]);
	printf("%s\n", n > 0 ? "" : " (none)");
}

/* scandir's filter and comparison run inside the walk: they are the program's code. */
static int not_dots(const struct dirent *e)
{
	scanned++;
	return e->d_name[0] != '.';
}

static int not_dots64(const struct dirent64 *e)
{
	scanned++;
	return e->d_name[0] != '.';
}

/* A descriptor of DIR itself, for the *at forms. */
static int root_fd(void)
{
	return open_there(".", O_RDONLY | O_DIRECTORY);
}

/* call fills list; r is a descriptor of DIR, for the *at forms. */
#define SCANDIR_CASE(name, type, call)                                         \
	static void case_##name(void)                                          \
	{                                                                      \
		type **list = NULL;                                            \
		int n, r = root_fd();                                          \
		scanned = 0;                                                   \
		WATCH(n = call);                                               \
		char *names[16];                                               \
		for (int i = 0; i < n && i < 16; i++)                          \
			names[i] = list[i]->d_name;                            \
		say_list(names, n < 16 ? n : 16);                              \
		printf("  filtered %d\n", scanned);                            \
		for (int i = 0; i < n; i++)                                    \
			free(list[i]);                                         \
		free(list);                                                    \
		close(r);                                                      \
	}

SCANDIR_CASE(scandir, struct dirent, scandir(p("d"), &list, not_dots, alphasort))
SCANDIR_CASE(scandir64, struct dirent64, scandir64(p("d"), &list, not_dots64, alphasort64))
SCANDIR_CASE(scandir_missing, struct dirent, scandir(p("missing"), &list, not_dots, alphasort))
SCANDIR_CASE(scandirat, struct dirent, scandirat(r, "d", &list, not_dots, alphasort))
SCANDIR_CASE(scandirat64, struct dirent64, scandirat64(r, "d", &list, not_dots64, alphasort64))

/* What a walk saw: each path below its start, with its type, in the walk's order. */
static char walked[32][NAME_MAX + 8];
static int nwalked;
static size_t walk_root_len;

static void saw(const char *path, int flag)
{
	if (nwalked < 32)
		snprintf(walked[nwalked++], sizeof(walked[0]), "%s:%d",
			 path[walk_root_len] ? path + walk_root_len + 1 : ".", flag);
}

static int on_nftw(const char *path, const struct stat *s, int flag, struct FTW *f)
{
	(void)s;
	(void)f;
	saw(path, flag);
	return 0;
}

static int on_nftw64(const char *path, const struct stat64 *s, int flag, struct FTW *f)
{
	(void)s;
	(void)f;
	saw(path, flag);
	return 0;
}

static int on_ftw(const char *path, const struct stat *s, int flag)
{
	(void)s;
	saw(path, flag);
	return 0;
}

static int on_ftw64(const char *path, const struct stat64 *s, int flag)
{
	(void)s;
	saw(path, flag);
	return 0;
}

static void walk_begin(const char *root)
{
	nwalked = 0;
	walk_root_len = strlen(root);
}

/* The order is the file system's: sorted. */
static void say_walked(void)
{
	char *names[32];
	for (int i = 0; i < nwalked; i++)
		names[i] = walked[i];
	for (int i = 1; i < nwalked; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	say_list(names, nwalked);
}

static void case_nftw(void)
{
	walk_begin(p("d"));
	WATCH(nftw(p("d"), on_nftw, 4, FTW_PHYS));
	say_walked();
}

static void case_nftw64(void)
{
	walk_begin(p("d"));
	WATCH(nftw64(p("d"), on_nftw64, 4, FTW_PHYS | FTW_DEPTH));
	say_walked();
}

static void case_nftw_chdir(void)
{
	walk_begin(p("d"));
	WATCH(nftw(p("d"), on_nftw, 4, FTW_CHDIR));
	say_walked();
}

static void case_nftw_missing(void) { WATCH(nftw(p("missing"), on_nftw, 4, 0)); }
static void case_ftw(void) { walk_begin(p("d")); WATCH(ftw(p("d"), on_ftw, 4)); say_walked(); }

static void case_ftw64(void)
{
	walk_begin(p("d"));
	WATCH(ftw64(p("d"), on_ftw64, 4));
	say_walked();
}

/*
 * A walk that starts on a local directory and crosses into the slow mount below it:
 * from DIR's parent into DIR, where only d is walked and shown (the rest is skipped,
 * for time).
 */
static int on_nftw_into(const char *path, const struct stat *s, int flag, struct FTW *f)
{
	const char *d = p("d");
	if (strncmp(path, d, strlen(d)) == 0 && (!path[strlen(d)] || path[strlen(d)] == '/'))
		return on_nftw(path, s, flag, f);
	if (flag == FTW_D && f->level > 0 && strcmp(path, dir) != 0)
		return FTW_SKIP_SUBTREE;
	return FTW_CONTINUE;
}

static void case_nftw_into_mount(void)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	walk_begin(dir);
	WATCH(nftw(parent, on_nftw_into, 4, FTW_PHYS | FTW_ACTIONRETVAL));
	say_walked();
}

/* ---- glob ---------------------------------------------------------------------------- */

/* What glob matched, below DIR. */
static void say_globbed(int rc, const glob_t *g)
{
	char *names[16];
	size_t n = rc == 0 ? g->gl_pathc : 0, skip = strlen(dir) + 1;
	for (size_t i = 0; i < n && i < 16; i++)
		names[i] = strncmp(g->gl_pathv[i], dir, skip - 1) == 0 ? g->gl_pathv[i] + skip
								       : g->gl_pathv[i];
	say_list(names, (int)(n < 16 ? n : 16));
}

#define GLOB_CASE(name, type, globber, freer, pattern, flags)                  \
	static void case_##name(void)                                          \
	{                                                                      \
		type g = { 0 };                                                \
		int rc;                                                        \
		WATCH(rc = globber(pattern, flags, NULL, &g));                 \
		say_globbed(rc, (const glob_t *)&g);                           \
		if (rc == 0)                                                   \
			freer(&g);                                             \
	}

/* A pattern with a wildcard above DIR: "[x]" for DIR's last letter, which names DIR
   alone, in DIR's parent (local), so that the walk crosses into the slow mount. */
static const char *into_mount(const char *below)
{
	static char pattern[PATH_MAX];
	size_t len = strlen(dir);
	snprintf(pattern, sizeof(pattern), "%.*s[%c]/%s", (int)(len - 1), dir, dir[len - 1], below);
	return pattern;
}

GLOB_CASE(glob, glob_t, glob, globfree, p("d/*"), GLOB_MARK)
GLOB_CASE(glob64, glob64_t, glob64, globfree64, p("d/[ab]"), 0)
GLOB_CASE(glob_missing, glob_t, glob, globfree, p("d/z*"), 0)
GLOB_CASE(glob_no_wildcard, glob_t, glob, globfree, p("d/a"), 0)
GLOB_CASE(glob_into_mount, glob_t, glob, globfree, into_mount("d/?"), 0)

/* ---- the file system's figures ---------------------------------------------------- */

/* Only what does not change from run to run: the type, the block size, the name limit. */
static void say_statfs(long type, long bsize, long namelen)
{
	printf("  type=%lx bsize=%ld namelen=%ld\n", type, bsize, namelen);
}

static struct statfs sf;
static struct statfs64 sf64;
static struct statvfs sv;
static struct statvfs64 sv64;

static void case_statfs(void)
{
	WATCH(statfs(p("f"), &sf));
	say_statfs((long)sf.f_type, (long)sf.f_bsize, (long)sf.f_namelen);
}

static void case_statfs64(void)
{
	WATCH(statfs64(p("f"), &sf64));
	say_statfs((long)sf64.f_type, (long)sf64.f_bsize, (long)sf64.f_namelen);
}

static void case_statfs_missing(void) { WATCH(statfs(p("missing"), &sf)); }

static void case_fstatfs(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(fstatfs(f, &sf));
	say_statfs((long)sf.f_type, (long)sf.f_bsize, (long)sf.f_namelen);
	close(f);
}

static void case_fstatfs64(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(fstatfs64(f, &sf64));
	say_statfs((long)sf64.f_type, (long)sf64.f_bsize, (long)sf64.f_namelen);
	close(f);
}

static void case_statvfs(void)
{
	WATCH(statvfs(p("f"), &sv));
	say_statfs(0, (long)sv.f_bsize, (long)sv.f_namemax);
}

static void case_statvfs64(void)
{
	WATCH(statvfs64(p("f"), &sv64));
	say_statfs(0, (long)sv64.f_bsize, (long)sv64.f_namemax);
}

static void case_fstatvfs(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(fstatvfs(f, &sv));
	say_statfs(0, (long)sv.f_bsize, (long)sv.f_namemax);
	close(f);
}

static void case_fstatvfs64(void)
{
	int f = open_there("f", O_RDONLY);
	WATCH(fstatvfs64(f, &sv64));
	say_statfs(0, (long)sv64.f_bsize, (long)sv64.f_namemax);
	close(f);
}

/* ---- extended attributes ---------------------------------------------------------- */

static char xv[256];
static ssize_t xn;

static void say_xattr(ssize_t got)
{
	printf("  value [%.*s]\n", got > 0 ? (int)got : 0, xv);
}

/* A list of names, each ended by a NUL: with commas. */
static void say_xlist(ssize_t got)
{
	for (ssize_t i = 0; i < got; i++)
		if (xv[i] == '\0')
			xv[i] = ',';
	printf("  names [%.*s]\n", got > 0 ? (int)got : 0, xv);
}

static void case_getxattr(void) { WATCH(xn = getxattr(p("x"), "user.gp", xv, sizeof(xv))); say_xattr(xn); }
static void case_getxattr_missing(void) { WATCH(getxattr(p("x"), "user.none", xv, sizeof(xv))); }

static void case_lgetxattr(void)
{
	WATCH(xn = lgetxattr(p("x"), "user.gp", xv, sizeof(xv)));
	say_xattr(xn);
}

static void case_fgetxattr(void)
{
	int f = open_there("x", O_RDONLY);
	WATCH(xn = fgetxattr(f, "user.gp", xv, sizeof(xv)));
	say_xattr(xn);
	close(f);
}

static void case_listxattr(void) { WATCH(xn = listxattr(p("x"), xv, sizeof(xv))); say_xlist(xn); }
static void case_llistxattr(void) { WATCH(xn = llistxattr(p("x"), xv, sizeof(xv))); say_xlist(xn); }

static void case_flistxattr(void)
{
	int f = open_there("x", O_RDONLY);
	WATCH(xn = flistxattr(f, xv, sizeof(xv)));
	say_xlist(xn);
	close(f);
}

/* What the backing file holds under name afterwards; the attribute is then removed. */
static void say_set(const char *name)
{
	say_xattr(lgetxattr(b("x"), name, xv, sizeof(xv)));
	lremovexattr(b("x"), name);
}

static void case_setxattr(void) { WATCH(setxattr(p("x"), "user.s", "set", 3, 0)); say_set("user.s"); }

static void case_setxattr_exists(void)
{
	WATCH(setxattr(p("x"), "user.gp", "again", 5, XATTR_CREATE));
}

static void case_lsetxattr(void) { WATCH(lsetxattr(p("x"), "user.s", "lset", 4, 0)); say_set("user.s"); }

static void case_fsetxattr(void)
{
	int f = open_there("x", O_RDONLY);
	WATCH(fsetxattr(f, "user.s", "fset", 4, 0));
	say_set("user.s");
	close(f);
}

static void put_xattr(const char *name)
{
	if (lsetxattr(b("x"), name, "rm", 2, 0) != 0)
		die("lsetxattr");
}

static void case_removexattr(void) { put_xattr("user.r"); WATCH(removexattr(p("x"), "user.r")); say_set("user.r"); }
static void case_removexattr_missing(void) { WATCH(removexattr(p("x"), "user.none")); }
static void case_lremovexattr(void) { put_xattr("user.r"); WATCH(lremovexattr(p("x"), "user.r")); say_set("user.r"); }

static void case_fremovexattr(void)
{
	put_xattr("user.r");
	int f = open_there("x", O_RDONLY);
	WATCH(fremovexattr(f, "user.r"));
	say_set("user.r");
	close(f);
}

/* ---- through a symbolic link on a local file system --------------------------------- */

static void case_stat_via_link(void) { WATCH(stat(via("f"), &st)); say_stat(&st); }
static void case_access_via_link(void) { WATCH(access(via("missing"), F_OK)); }

/* The descriptor an open through the link made is known to be on DIR's mount after. */
static void case_open_via_link(void)
{
	WATCH(fd = open(via("f"), O_RDONLY));
	WATCH(fstat(fd, &st));
	say_stat(&st);
	say_contents(fd);
}

static void case_opendir_via_link(void)
{
	WATCH_PTR(dp = opendir(via("d")));
	struct dirent *e;
	char names[16][NAME_MAX + 1];
	int n = 0;
	WATCH_PTR(e = readdir(dp));
	for (; e && n < 16; e = readdir(dp))
		strcpy(names[n++], e->d_name);
	say_names(names, n);
	closedir(dp);
}

static const struct prog_case cases[] = {
	{ "stat", case_stat },
	{ "stat_missing", case_stat_missing },
	{ "stat64", case_stat64 },
	{ "lstat", case_lstat },
	{ "lstat64", case_lstat64 },
	{ "fstatat", case_fstatat },
	{ "fstatat_dirfd", case_fstatat_dirfd },
	{ "fstatat64", case_fstatat64 },
	{ "statx", case_statx },
	{ "fstat", case_fstat },
	{ "fstat64", case_fstat64 },
	{ "__xstat", case_xstat },
	{ "__xstat64", case_xstat64 },
	{ "__lxstat", case_lxstat },
	{ "__lxstat64", case_lxstat64 },
	{ "__fxstatat", case_fxstatat },
	{ "__fxstatat64", case_fxstatat64 },
	{ "__fxstat", case_fxstat },
	{ "__fxstat64", case_fxstat64 },
	{ "access", case_access },
	{ "access_missing", case_access_missing },
	{ "faccessat", case_faccessat },
	{ "open", case_open },
	{ "open_missing", case_open_missing },
	{ "open64", case_open64 },
	{ "openat", case_openat },
	{ "openat_dirfd", case_openat_dirfd },
	{ "openat64", case_openat64 },
	{ "__open_2", case_open_2 },
	{ "__open64_2", case_open64_2 },
	{ "__openat_2", case_openat_2 },
	{ "__openat64_2", case_openat64_2 },
	{ "open_create", case_open_create },
	{ "creat", case_creat },
	{ "creat64", case_creat64 },
	{ "close", case_close },
	{ "fopen", case_fopen },
	{ "fopen64", case_fopen64 },
	{ "fopen_missing", case_fopen_missing },
	{ "fclose", case_fclose },
	{ "read", case_read },
	{ "pread", case_pread },
	{ "write", case_write },
	{ "opendir", case_opendir },
	{ "opendir_missing", case_opendir_missing },
	{ "opendir_file", case_opendir_file },
	{ "readdir", case_readdir },
	{ "readdir64", case_readdir64 },
	{ "readdir_r", case_readdir_r },
	{ "readdir64_r", case_readdir64_r },
	{ "closedir", case_closedir },
	{ "mkdir", case_mkdir },
	{ "mkdir_exists", case_mkdir_exists },
	{ "mkdirat", case_mkdirat },
	{ "rmdir", case_rmdir },
	{ "rmdir_not_empty", case_rmdir_not_empty },
	{ "chdir", case_chdir },
	{ "fchdir", case_fchdir },
	{ "unlink", case_unlink },
	{ "unlink_dir", case_unlink_dir },
	{ "unlinkat", case_unlinkat },
	{ "unlinkat_dir", case_unlinkat_dir },
	{ "rename", case_rename },
	{ "rename_missing", case_rename_missing },
	{ "renameat", case_renameat },
	{ "renameat2", case_renameat2 },
	{ "link", case_link },
	{ "symlink", case_symlink },
	{ "symlink_exists", case_symlink_exists },
	{ "readlink", case_readlink },
	{ "readlink_not_link", case_readlink_not_link },
	{ "readlinkat", case_readlinkat },
	{ "__readlink_chk", case_readlink_chk },
	{ "__readlinkat_chk", case_readlinkat_chk },
	{ "realpath", case_realpath },
	{ "realpath_missing", case_realpath_missing },
	{ "__realpath_chk", case_realpath_chk },
	{ "chmod", case_chmod },
	{ "fchmodat", case_fchmodat },
	{ "chown", case_chown },
	{ "lchown", case_lchown },
	{ "fchownat", case_fchownat },
	{ "truncate", case_truncate },
	{ "truncate64", case_truncate64 },
	{ "utimensat", case_utimensat },
	{ "scandir", case_scandir },
	{ "scandir64", case_scandir64 },
	{ "scandir_missing", case_scandir_missing },
	{ "scandirat", case_scandirat },
	{ "scandirat64", case_scandirat64 },
	{ "nftw", case_nftw },
	{ "nftw64", case_nftw64 },
	{ "nftw_chdir", case_nftw_chdir },
	{ "nftw_missing", case_nftw_missing },
	{ "nftw_into_mount", case_nftw_into_mount },
	{ "ftw", case_ftw },
	{ "ftw64", case_ftw64 },
	{ "glob", case_glob },
	{ "glob64", case_glob64 },
	{ "glob_missing", case_glob_missing },
	{ "glob_no_wildcard", case_glob_no_wildcard },
	{ "glob_into_mount", case_glob_into_mount },
	{ "statfs", case_statfs },
	{ "statfs64", case_statfs64 },
	{ "statfs_missing", case_statfs_missing },
	{ "fstatfs", case_fstatfs },
	{ "fstatfs64", case_fstatfs64 },
	{ "statvfs", case_statvfs },
	{ "statvfs64", case_statvfs64 },
	{ "fstatvfs", case_fstatvfs },
	{ "fstatvfs64", case_fstatvfs64 },
	{ "getxattr", case_getxattr },
	{ "getxattr_missing", case_getxattr_missing },
	{ "lgetxattr", case_lgetxattr },
	{ "fgetxattr", case_fgetxattr },
	{ "listxattr", case_listxattr },
	{ "llistxattr", case_llistxattr },
	{ "flistxattr", case_flistxattr },
	{ "setxattr", case_setxattr },
	{ "setxattr_exists", case_setxattr_exists },
	{ "lsetxattr", case_lsetxattr },
	{ "fsetxattr", case_fsetxattr },
	{ "removexattr", case_removexattr },
	{ "removexattr_missing", case_removexattr_missing },
	{ "lremovexattr", case_lremovexattr },
	{ "fremovexattr", case_fremovexattr },
	{ "stat_via_link", case_stat_via_link },
	{ "access_via_link", case_access_via_link },
	{ "open_via_link", case_open_via_link },
	{ "opendir_via_link", case_opendir_via_link },
};

/* ---- a mount made while the program runs ------------------------------------------- */

/* DIR is a mount point now: its device is not its parent's. */
static bool dir_mounted(void)
{
	struct stat self, parent;
	return stat(dir, &self) == 0 && stat(p(".."), &parent) == 0 && self.st_dev != parent.st_dev;
}

/*
 * With PATH_CASES_WAIT_MOUNT set, DIR is mounted only once the program says it waits,
 * after its threads have made a path call on a local file: a stat on DIR afterwards is
 * on the new mount.
 */
static void case_after_mount(void)
{
	if (stat("/", &st) != 0)
		die("stat /");
	printf("waiting for the mount\n");
	fflush(stdout);
	for (int i = 0; !dir_mounted(); i++) {
		if (i == 2000)
			fail("%s was not mounted in 20 s", dir);
		msleep(10);
	}
	WATCH(stat(p("f"), &st));
	say_stat(&st);
}

/* Each case in a thread of its own, within a minute: FUSE answers take their time. */
static void run_case(const struct prog_case *c)
{
	alarm(60);
	run_case_in_thread(c);
}

int main(int argc, char **argv)
{
	dir = getenv("PATH_CASES_DIR");
	backing = getenv("PATH_CASES_BACKING");
	if (!(argc == 2 && strcmp(argv[1], "--list") == 0)) {
		if (!dir)
			fail("PATH_CASES_DIR names the directory to work in");
		lay_out();
	}
	if (getenv("PATH_CASES_WAIT_MOUNT")) {
		static const struct prog_case after = { "after_mount", case_after_mount };
		current = after.name;
		run_case(&after);
		return 0;
	}
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), run_case);
}

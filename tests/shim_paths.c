/*
 * Path calls on slow file systems (tests/progs/path_cases.c). A FUSE file system that
 * answers each request after 100 ms (tests/fuse/slowfs.c) is mounted in a temporary
 * directory; one thread makes each path call there while a ticker thread ticks. Natively
 * the ticker is a kernel thread of its own and never late; under the library it is a
 * green thread, and it is on time only if the call left the carrier to it. The library
 * runs with GREENPATCH_HANDOFF=60s, so that the monitor's hand-off cannot be what
 * rescues the ticker: only the mount's classification can, or, for a path that reaches
 * the mount through a symbolic link on a local file system, the short bound the monitor
 * gives the calls on local paths while a slow mount exists (shim/path.h). Each case must print the
 * same both ways: the call's result, errno and what it read, "ticked=yes" and
 * "late=no".
 *
 * Local files cost nothing more: strace counts the file system calls of a loop of
 * stat, open and close over 10,000 files, natively and under the library.
 *
 * Without /dev/fuse, fusermount3 or libfuse3 the FUSE tests say so and are skipped.
 */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void unmount_all(void);

/* A test that fails or asserts still unmounts what it mounted and stops its daemons. */
TestSuite(paths, .timeout = 300, .fini = unmount_all);

#define DELAY_MS "100"
/* A case late once may have met a busy machine; a carrier held by the call is late
 * every time. */
#define TRIES 4

/* ---- the slow file system ----------------------------------------------------------- */

struct slowfs {
	char root[64];
	char backing[96];
	char mnt[96];
	struct gp_bg bg;
	bool started;
};

static const char *fusermount(void)
{
	static const char *const where[] = { "/usr/bin/fusermount3", "/bin/fusermount3" };
	for (size_t i = 0; i < GP_COUNT(where); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* Why no FUSE file system can be mounted here, or NULL. */
static const char *fuse_missing(void)
{
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		return "/dev/fuse is missing or cannot be opened";
	if (!fusermount())
		return "fusermount3 is not installed (Debian package fuse3)";
	char *fs = gp_asprintf("%s/slowfs", gp_env("GP_TEST_PROGS"));
	bool built = access(fs, X_OK) == 0;
	free(fs);
	return built ? NULL : "slowfs is not built: libfuse3-dev is not installed";
}

/* The mount table names mnt as a slowfs mount point. */
static bool mounted(const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;
	size_t len = strlen(mnt);
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, mnt);
		found = p && p > line && p[-1] == ' ' && p[len] == ' ' && strstr(p, " - fuse.slowfs ");
	}
	if (f)
		fclose(f);
	return found;
}

static void slowfs_prepare(struct slowfs *fs)
{
	*fs = (struct slowfs){ .bg = { .pid = 0 } };
	strcpy(fs->root, "/tmp/gp-paths-XXXXXX");
	cr_assert_not_null(mkdtemp(fs->root), "mkdtemp: %s", strerror(errno));
	snprintf(fs->backing, sizeof(fs->backing), "%s/backing", fs->root);
	snprintf(fs->mnt, sizeof(fs->mnt), "%s/mnt", fs->root);
	cr_assert(mkdir(fs->backing, 0755) == 0 && mkdir(fs->mnt, 0755) == 0);
}

/* Mounted: true; else false with why set (the file system's own words). */
static bool slowfs_start(struct slowfs *fs, char *why, size_t len)
{
	struct gp_cmd cmd = { .prog = "slowfs",
			      .argv = GP_ARGV(DELAY_MS, fs->backing, fs->mnt) };
	gp_bg_start(&cmd, &fs->bg);
	fs->started = true;
	for (double end = gp_now() + 10; gp_now() < end; usleep(10000)) {
		if (mounted(fs->mnt))
			return true;
		if (kill(fs->bg.pid, 0) != 0)
			break;
	}
	gp_bg_wait(&fs->bg, 1);
	snprintf(why, len, "slowfs could not mount %s: %s", fs->mnt, fs->bg.run.err);
	return false;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Unmount, let the file system end by itself (or stop it by pid), remove the tree. */
static void slowfs_stop(struct slowfs *fs)
{
	if (!fs->root[0])
		return;
	if (fs->started) {
		if (mounted(fs->mnt)) {
			struct gp_run r;
			gp_run_prog(fusermount(), GP_ARGV("-u", fs->mnt), false, 20, NULL, &r);
			gp_run_free(&r);
		}
		gp_bg_wait(&fs->bg, 5);
		gp_bg_stop(&fs->bg);
		fs->started = false;
	}
	if (!mounted(fs->mnt)) {
		nftw(fs->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		fs->root[0] = '\0';
	}
}

/* Two slow file systems, one for the native runs and one for the library's. */
static struct slowfs fs_native, fs_shim;

static void start_both(void)
{
	const char *missing = fuse_missing();
	if (missing)
		cr_skip_test("FUSE cannot be used here: %s", missing);
	char why[1024];
	slowfs_prepare(&fs_native);
	slowfs_prepare(&fs_shim);
	if (!slowfs_start(&fs_native, why, sizeof(why)) || !slowfs_start(&fs_shim, why, sizeof(why))) {
		slowfs_stop(&fs_native);
		slowfs_stop(&fs_shim);
		cr_skip_test("FUSE cannot be used here: %s", why);
	}
}

static void stop_both(void)
{
	slowfs_stop(&fs_native);
	slowfs_stop(&fs_shim);
}

/* The programs first (a file they hold open keeps the mount busy), then the mounts. */
static void unmount_all(void)
{
	gp_bg_stop_all();
	stop_both();
}

/* ---- the cases ---------------------------------------------------------------------- */

/* path_cases on fs with the cases named (all when NULL), started in the background. */
static void cases_start(struct slowfs *fs, bool shim, char *const *cases, char *const *more_env,
			struct gp_bg *bg, char **env)
{
	env[0] = gp_asprintf("PATH_CASES_DIR=%s", fs->mnt);
	env[1] = gp_asprintf("PATH_CASES_BACKING=%s", fs->backing);
	int n = 2;
	for (; more_env && more_env[n - 2]; n++)
		env[n] = more_env[n - 2];
	env[n] = NULL;
	struct gp_cmd cmd = { .prog = "path_cases", .argv = cases, .shim = shim, .env = env };
	gp_bg_start(&cmd, bg);
}

/* Natively on one file system and under the library on the other, at once. */
static void run_both(char *const *cases, struct gp_run *native, struct gp_run *shim)
{
	struct gp_bg bn, bs;
	char *en[4], *es[4];
	cases_start(&fs_native, false, cases, NULL, &bn, en);
	cases_start(&fs_shim, true, cases, GP_ARGV("GREENPATCH_HANDOFF=60s"), &bs, es);
	gp_bg_wait(&bn, 240);
	gp_bg_wait(&bs, 240);
	*native = bn.run;
	*shim = bs.run;
	bn.run = bs.run = (struct gp_run){ 0 };
	gp_bg_stop(&bn);
	gp_bg_stop(&bs);
	for (int i = 0; i < 2; i++) {
		free(en[i]);
		free(es[i]);
	}
}

/* A case's lines in out: its own, and the indented ones among and after them. */
static char *block_of(const char *out, const char *name)
{
	char *head = gp_asprintf("%s: ", name), *text = gp_asprintf("%s", "");
	bool in = false;
	for (const char *line = out; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
		if (strncmp(line, head, strlen(head)) == 0 || (in && line[0] == ' ')) {
			char *more = gp_asprintf("%s%.*s", text, (int)len, line);
			free(text);
			text = more;
			in = true;
		} else if (in) {
			break;
		}
		line += len;
	}
	free(head);
	return text;
}

/* The names path_cases --list prints, one a line (to free). */
static char *case_list(void)
{
	struct gp_run r;
	gp_run_prog("path_cases", GP_ARGV("--list"), false, 10, NULL, &r);
	gp_assert_ok(&r);
	char *list = gp_asprintf("%s", r.out);
	gp_run_free(&r);
	return list;
}

/*
 * The case's blocks of the two runs differ, or either was late (a busy machine delays
 * a native sleeper too): true, with what each printed.
 */
static bool case_differs(const struct gp_run *n, const struct gp_run *s, const char *name,
			 char **nb, char **sb)
{
	*nb = block_of(n->out, name);
	*sb = block_of(s->out, name);
	return **nb == '\0' || strcmp(*nb, *sb) != 0 || strstr(*nb, "late=yes") ||
	       strstr(*sb, "late=yes");
}

Test(paths, each_call_same_as_native_while_others_run)
{
	start_both();
	struct gp_run n, s;
	run_both(NULL, &n, &s);
	gp_expect_ok(&n);
	gp_expect_ok(&s);
	char *list = case_list();
	for (char *name = strtok(list, "\n"); name; name = strtok(NULL, "\n")) {
		char *nb, *sb;
		bool differs = case_differs(&n, &s, name, &nb, &sb);
		for (int t = 1; differs && t < TRIES; t++) {
			/* Not cr_log_warn: Criterion counts warnings, and a run with any ends
			 * with status 1 however its tests did (without --ignore-warnings), so
			 * a case that passed when tried again would fail the run all the same. */
			fprintf(stderr, "[RETRY] paths: %s differs or was late (try %d), "
				"again:\n%s---\n%s", name, t, nb, sb);
			free(nb);
			free(sb);
			struct gp_run n1, s1;
			run_both(GP_ARGV(name), &n1, &s1);
			differs = case_differs(&n1, &s1, name, &nb, &sb);
			gp_run_free(&n1);
			gp_run_free(&s1);
		}
		cr_expect(!differs, "%s: natively\n%sunder the library\n%s", name, nb, sb);
		cr_expect(strstr(sb, "late=yes") == NULL,
			  "%s: the ticker was late under the library:\n%s", name, sb);
		free(nb);
		free(sb);
	}
	free(list);
	gp_run_free(&n);
	gp_run_free(&s);
	stop_both();
}

/*
 * glob has two versions, and the hook, exported without one, stands for both: each
 * program still gets the one it was linked for. The two differ natively (a dangling
 * link, seen with stat or with lstat), so that a hook giving every program the same
 * one fails here.
 */
Test(paths, glob_as_each_program_was_linked)
{
	struct gp_run out[2][2];
	const char *progs[2] = { "glob_versions", "glob_versions.first" };
	for (int v = 0; v < 2; v++)
		for (int shim = 0; shim < 2; shim++) {
			gp_run_prog(progs[v], NULL, shim, 30, NULL, &out[v][shim]);
			gp_expect_ok(&out[v][shim]);
		}
	cr_expect_str_neq(out[0][0].out, out[1][0].out,
			  "the two versions of glob answer alike natively:\n%s", out[0][0].out);
	for (int v = 0; v < 2; v++)
		cr_expect_str_eq(out[v][1].out, out[v][0].out,
				 "%s: natively\n%sunder the library\n%s", progs[v],
				 out[v][0].out, out[v][1].out);
	for (int v = 0; v < 2; v++)
		for (int shim = 0; shim < 2; shim++)
			gp_run_free(&out[v][shim]);
}

/*
 * The same call left to the C library (GREENPATCH_UNPATCH=path) holds the carrier while
 * the file system takes its time, and the ticker with it: what the test above would see
 * if the mount were not told from a local one.
 */
Test(paths, unpatched_call_holds_the_others)
{
	start_both();
	struct gp_bg bs;
	char *es[5];
	/* One carrier: with two, the ticker would tick on the other. */
	cases_start(&fs_shim, true, GP_ARGV("stat"),
		    GP_ARGV("GREENPATCH_HANDOFF=60s", "GREENPATCH_UNPATCH=path",
			    "GREENPATCH_CARRIERS=1"), &bs, es);
	gp_bg_wait(&bs, 60);
	gp_expect_ok(&bs.run);
	cr_expect(strstr(bs.run.out, "stat: rc=0 errno=0 ticked=no late=yes") != NULL,
		  "the ticker should have been held up; it printed:\n%s", bs.run.out);
	gp_bg_stop(&bs);
	free(es[0]);
	free(es[1]);
	stop_both();
}

/* A file system mounted after the threads looked at the mount table is seen. */
Test(paths, mount_made_later_is_seen)
{
	const char *missing = fuse_missing();
	if (missing)
		cr_skip_test("FUSE cannot be used here: %s", missing);
	slowfs_prepare(&fs_shim);
	struct gp_bg bs;
	char *es[5];
	char line[256], why[1024];
	cases_start(&fs_shim, true, NULL,
		    GP_ARGV("GREENPATCH_HANDOFF=60s", "PATH_CASES_WAIT_MOUNT=1"), &bs, es);
	cr_assert(gp_bg_first_line(&bs, 20, line, sizeof(line)) == 0, "path_cases: %s",
		  bs.run.err);
	bool up = slowfs_start(&fs_shim, why, sizeof(why));
	if (!up) {
		gp_bg_stop(&bs);
		slowfs_stop(&fs_shim);
		cr_skip_test("FUSE cannot be used here: %s", why);
	}
	gp_bg_wait(&bs, 60);
	gp_expect_ok(&bs.run);
	cr_expect(strstr(bs.run.out, "after_mount: rc=0 errno=0 ticked=yes late=no") != NULL,
		  "the stat on the new mount should have left the carrier to the others:\n%s%s",
		  bs.run.out, bs.run.err);
	gp_bg_stop(&bs);
	free(es[0]);
	free(es[1]);
	slowfs_stop(&fs_shim);
}

/* ---- local files cost nothing more -------------------------------------------------- */

#define LOOP_FILES "10000"
#define COUNTED "openat,open,newfstatat,statx,stat,lstat,fstat,close"

/*
 * What the library may add once, whatever the number of files: its event loop's two
 * descriptors and the mount table's two are each moved high (one close of the number
 * they had, core/ownfd.h), and the table is read once (one openat). 8 of each kind
 * covers them with room; one more per file would be 10,000.
 */
#define STARTUP_ALLOWANCE 8

/* The count of name in a table of counted(): "name count" lines. */
static long strace_calls(const char *table, const char *name)
{
	for (const char *line = table; *line;) {
		size_t len = strcspn(line, "\n");
		char call[64];
		long n;
		if (sscanf(line, "%63s %ld", call, &n) == 2 && strcmp(call, name) == 0)
			return n;
		line += len + (line[len] == '\n');
	}
	return 0;
}

/* Is tid in the list of n? */
static bool listed(const long *tids, size_t n, long tid)
{
	for (size_t i = 0; i < n; i++)
		if (tids[i] == tid)
			return true;
	return false;
}

/*
 * The calls of an strace -f trace, "name count" per line, but those of the library's
 * monitor: the thread that reads /proc/self/task/TID/ to see whether a thread is
 * stuck. It looks while a slow mount exists anywhere on the machine (another test's
 * FUSE mount, say), on its own kernel thread: not a cost of the path calls.
 */
static char *count_trace(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	static char line[4096];
	long monitors[16];
	size_t nmonitors = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\"/proc/self/task/") && nmonitors < GP_COUNT(monitors))
			monitors[nmonitors++] = atol(line);
	rewind(f);
	static const char *const names[] = { "openat", "open", "newfstatat", "statx", "stat",
					     "lstat", "fstat", "close" };
	long counts[GP_COUNT(names)] = { 0 };
	while (fgets(line, sizeof(line), f)) {
		char *end, *call;
		long tid = strtol(line, &end, 10);
		call = end + strspn(end, " ");
		if (listed(monitors, nmonitors, tid) || strncmp(call, "<...", 4) == 0)
			continue;
		for (size_t i = 0; i < GP_COUNT(names); i++) {
			size_t len = strlen(names[i]);
			if (strncmp(call, names[i], len) == 0 && call[len] == '(')
				counts[i]++;
		}
	}
	fclose(f);
	char *table = gp_asprintf("%s", "");
	for (size_t i = 0; i < GP_COUNT(names); i++) {
		char *more = gp_asprintf("%s%s %ld\n", table, names[i], counts[i]);
		free(table);
		table = more;
	}
	return table;
}

/* path_loop under strace -f: the calls it made, as count_trace counts them. */
static char *counted(const char *strace, const char *dir, bool shim)
{
	char *out = gp_asprintf("%s.strace", dir), *prog = gp_prog_path("path_loop");
	char *preload = gp_asprintf("LD_PRELOAD=%s", gp_env("GP_TEST_PRELOAD"));
	/* GREENPATCH_HANDOFF: the monitor looks at /proc/self/task/TID/stat while a thread
	 * runs long without switching, as this loop does; a long threshold keeps it from
	 * handing the loop off (hand-off stays on, so open takes no look for a FIFO either).
	 * No stall report either: while a slow mount exists (another test's), the monitor
	 * looks often enough to make one. */
	char *const argv_shim[] = { "-f", "-o", out, "-e", "trace=" COUNTED, "-E", preload,
				    "-E", "GREENPATCH_HANDOFF=60s", "-E", "GREENPATCH_STALL_MS=0",
				    prog, (char *)dir, LOOP_FILES, NULL };
	/* In the ASan build the native loop carries ASan's runtime as the library's does: it
	 * loads libraries of its own and reads /proc/self/maps and others at start-up, which
	 * are no cost of the library. Elsewhere "-E LD_PRELOAD" only removes a variable that
	 * native runs never have. */
	const char *asan = gp_asan_runtime();
	char *native_preload = asan ? gp_asprintf("LD_PRELOAD=%s", asan)
				    : gp_asprintf("%s", "LD_PRELOAD");
	char *const argv_native[] = { "-f", "-o", out, "-e", "trace=" COUNTED, "-E",
				      native_preload, prog, (char *)dir, LOOP_FILES, NULL };
	cr_assert(mkdir(dir, 0755) == 0, "mkdir %s: %s", dir, strerror(errno));
	struct gp_run r;
	gp_run_prog(strace, shim ? argv_shim : argv_native, false, 120, NULL, &r);
	gp_assert_ok(&r);
	cr_expect(strstr(r.out, "done " LOOP_FILES) != NULL, "path_loop: %s", gp_describe(&r));
	gp_run_free(&r);
	char *table = count_trace(out);
	unlink(out);
	free(out);
	free(prog);
	free(preload);
	free(native_preload);
	return table;
}

Test(paths, local_files_cost_no_more_system_calls)
{
	const char *strace = access("/usr/bin/strace", X_OK) == 0 ? "/usr/bin/strace" : NULL;
	if (!strace)
		cr_skip_test("strace is not installed (Debian package strace)");
	char root[] = "/tmp/gp-paths-loop-XXXXXX";
	cr_assert_not_null(mkdtemp(root));
	char *native_dir = gp_asprintf("%s/native", root), *shim_dir = gp_asprintf("%s/shim", root);
	char *native = counted(strace, native_dir, false), *shim = counted(strace, shim_dir, true);
	static const char *const calls[] = { "openat", "newfstatat", "statx", "close" };
	for (size_t i = 0; i < GP_COUNT(calls); i++) {
		long n = strace_calls(native, calls[i]), s = strace_calls(shim, calls[i]);
		cr_log_info("%s: %ld natively, %ld under the library", calls[i], n, s);
		cr_expect(s <= n + STARTUP_ALLOWANCE,
			  "%s: %ld natively, %ld under the library\nnative:\n%s\nlibrary:\n%s",
			  calls[i], n, s, native, shim);
	}
	cr_expect(strace_calls(native, "openat") >= 10000 && strace_calls(native, "close") >= 20000,
		  "the loop should have opened and closed every file:\n%s", native);
	free(native);
	free(shim);
	free(native_dir);
	free(shim_dir);
	nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

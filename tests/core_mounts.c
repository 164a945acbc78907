/*
 * core/mounts: which file system types are slow, the mount table's text, paths taken
 * apart as text, and which mount a path is on.
 */
#include "unit.h"

#include <stdlib.h>
#include <sys/sysmacros.h>

#include "mounts.h"

Test(core_mounts, slow_types, .timeout = UNIT_TIMEOUT)
{
	const char *slow[] = { "nfs", "nfs4", "cifs", "smb3", "fuse", "fuseblk", "fuse.sshfs",
			       "fuse.slowfs", "9p", "ceph", "virtiofs", "glusterfs" };
	const char *local[] = { "ext4", "xfs", "btrfs", "tmpfs", "proc", "sysfs", "overlay",
				"nfsd", "fusectl", "fuse.", "cgroup2", "devpts", "" };
	for (size_t i = 0; i < GP_ARRAY_LEN(slow); i++)
		cr_expect(gp_fstype_slow(slow[i], strlen(slow[i])), "%s is slow", slow[i]);
	for (size_t i = 0; i < GP_ARRAY_LEN(local); i++)
		cr_expect(!gp_fstype_slow(local[i], strlen(local[i])), "'%s' is local", local[i]);
}

Test(core_mounts, normalise, .timeout = UNIT_TIMEOUT)
{
	const struct { const char *base, *path, *want; } cases[] = {
		{ NULL, "/", "/" },
		{ NULL, "/a/b", "/a/b" },
		{ NULL, "//a///b/", "/a/b" },
		{ NULL, "/a/./b/../c", "/a/c" },
		{ NULL, "/../../a", "/a" },
		{ "/home/u", "x/y", "/home/u/x/y" },
		{ "/home/u", "../v", "/home/v" },
		{ "/home/u", ".", "/home/u" },
		{ "/", "a", "/a" },
		{ "/home/u", "/abs", "/abs" },
	};
	char out[64];
	for (size_t i = 0; i < GP_ARRAY_LEN(cases); i++) {
		size_t n = gp_path_normalise(out, sizeof(out), cases[i].base, cases[i].path);
		cr_expect(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0,
			  "%s + %s: got '%s' (%zu), want '%s'", cases[i].base ? cases[i].base : "-",
			  cases[i].path, out, n, cases[i].want);
	}
	cr_expect(gp_path_normalise(out, 8, NULL, "/abcdefgh") == 0, "too long is refused");
}

/* A table as proc(5) writes it: escapes, optional tags, mounts on top of others. */
static const char table_text[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"30 22 0:25 / /proc rw - proc proc rw\n"
	"40 22 0:40 / /mnt/nfs rw,relatime shared:5 master:2 - nfs4 srv:/x rw,vers=4.2\n"
	"41 40 0:41 / /mnt/nfs/local rw - tmpfs tmpfs rw\n"
	"42 22 0:42 / /mnt/my\\040share rw - fuse.sshfs u@h: rw\n"
	"43 22 0:43 / /srv rw - tmpfs tmpfs rw\n"
	"44 22 0:44 / /srv rw - cifs //h/s rw\n"
	"45 22 0:45 / /data rw - cifs //h/d rw\n"
	"46 22 0:46 / /data rw - xfs /dev/sdb rw\n"
	"not a mount line\n";

Test(core_mounts, path_on_slow_mount, .timeout = UNIT_TIMEOUT)
{
	struct gp_mounts t = { 0 };
	cr_assert(gp_mounts_parse(&t, table_text, strlen(table_text)) == 0);
	cr_expect(gp_mounts_any_slow(&t));
	const struct { const char *path; bool slow; } cases[] = {
		{ "/", false }, { "/etc/passwd", false }, { "/proc/self", false },
		{ "/mnt", false }, { "/mnt/nfs", true }, { "/mnt/nfs/a/b", true },
		{ "/mnt/nfsx", false }, { "/mnt/nfs/local", false }, { "/mnt/nfs/local/f", false },
		{ "/mnt/nfs/locally", true }, { "/mnt/my share/f", true }, { "/mnt/my", false },
		{ "/srv/x", true },      /* cifs mounted on top of tmpfs */
		{ "/data/x", false },    /* xfs mounted on top of cifs */
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(cases); i++)
		cr_expect(gp_mounts_path_slow(&t, cases[i].path) == cases[i].slow, "%s: %s",
			  cases[i].path, cases[i].slow ? "slow" : "local");
	cr_expect(gp_mounts_id_slow(&t, 40, 0));
	cr_expect(!gp_mounts_id_slow(&t, 41, 0));
	cr_expect(!gp_mounts_id_slow(&t, 22, 0));
	cr_expect(gp_mounts_id_slow(&t, 0, makedev(0, 42)), "by device without a mount ID");
	gp_mounts_free(&t);
}

/* A walk from a directory meets the slow mounts at and below it. */
Test(core_mounts, tree_meets_slow_mount, .timeout = UNIT_TIMEOUT)
{
	struct gp_mounts t = { 0 };
	cr_assert(gp_mounts_parse(&t, table_text, strlen(table_text)) == 0);
	const struct { const char *path; bool slow; } cases[] = {
		{ "/", true }, { "/mnt", true }, { "/mnt/nfs/a", true }, { "/etc", false },
		{ "/mnt/nfs/local", false }, { "/mnt/nfsx", false }, { "/srv", true },
	};
	for (size_t i = 0; i < GP_ARRAY_LEN(cases); i++)
		cr_expect(gp_mounts_tree_slow(&t, cases[i].path) == cases[i].slow, "%s: %s",
			  cases[i].path, cases[i].slow ? "slow" : "local");
	gp_mounts_free(&t);
}

Test(core_mounts, no_slow_mount, .timeout = UNIT_TIMEOUT)
{
	static const char text[] = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
				   "30 22 0:25 / /proc rw - proc proc rw\n";
	struct gp_mounts t = { 0 };
	cr_assert(gp_mounts_parse(&t, text, strlen(text)) == 0);
	cr_expect(!gp_mounts_any_slow(&t));
	cr_expect(!gp_mounts_path_slow(&t, "/proc/1"));
	gp_mounts_free(&t);
}

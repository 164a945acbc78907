/*
 * The mount table, as far as the path calls need it: which mounts may answer slowly,
 * and whether a path lies on one of them.
 *
 * A call on a path (stat, open, mkdir...) waits for the file system that holds it. A
 * local one (ext4, xfs, btrfs, tmpfs, proc...) answers from memory or from a disk in
 * milliseconds at worst, and the carrier simply makes the call. A remote or user-space
 * one (NFS, SMB, FUSE, 9p, Ceph...) answers when a server or a daemon does, which may
 * be never: there the call is made on the calling thread's own kernel thread while the
 * others go on (shim/path.c). Which kind a mount is comes from its file system type in
 * /proc/self/mountinfo; a type not known as slow is taken as local, since a wrong
 * "local" costs at worst a wait that the monitor's hand-off ends (kthread.h), and a
 * wrong "slow" costs every call a hand-off.
 *
 * Only the slow mounts, and the mounts below one of them (a local file system mounted
 * inside an NFS tree takes its paths back), can change a path's answer: the table keeps
 * those alone, so that a machine with no slow mount answers every question at once,
 * and one with a few compares a path with a few mount points.
 *
 * Paths are compared as text, after "." and ".." are taken out lexically: a symbolic
 * link that leads into a slow mount is not followed here (the monitor's short bound
 * for such calls answers it: shim/path.h).
 */
#ifndef GP_MOUNTS_H
#define GP_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gp_mount {
	const char *point;   /* absolute, without a trailing slash ("/" alone excepted) */
	size_t len;
	uint64_t id;         /* the mount ID, as statx's STATX_MNT_ID gives it */
	uint64_t dev;        /* makedev(major, minor), for kernels without STATX_MNT_ID */
	bool slow;
};

struct gp_mounts {
	struct gp_mount *m;  /* the slow mounts and those below one; in mountinfo's order */
	size_t n;
	char *points;        /* the text the points live in */
};

/* A remote or user-space file system type ("nfs4", "fuse.sshfs", "cifs", "9p"...). */
bool gp_fstype_slow(const char *type, size_t len);

/*
 * Parse the text of a mountinfo file (proc(5)) into t: 0, or -ENOMEM. Malformed lines
 * are skipped. t is emptied first; gp_mounts_free releases it.
 */
int gp_mounts_parse(struct gp_mounts *t, const char *text, size_t len);
void gp_mounts_free(struct gp_mounts *t);

static inline bool gp_mounts_any_slow(const struct gp_mounts *t)
{
	return t->n > 0;
}

/* The absolute, normalised path lies on a slow mount (the deepest mount point wins). */
bool gp_mounts_path_slow(const struct gp_mounts *t, const char *path);

/*
 * A walk of the tree at path (absolute, normalised) may meet a slow mount: path lies on
 * one, or one is mounted below it.
 */
bool gp_mounts_tree_slow(const struct gp_mounts *t, const char *path);

/* The mount with this ID, or (id 0) this device, is a slow one. */
bool gp_mounts_id_slow(const struct gp_mounts *t, uint64_t id, uint64_t dev);

/*
 * base (absolute, normalised; NULL when path is absolute) joined with path, with empty
 * components, "." and ".." taken out as text: the length written to out, or 0 when it
 * does not fit in cap bytes with its terminating NUL.
 */
size_t gp_path_normalise(char *out, size_t cap, const char *base, const char *path);

/*
 * The process's table, read from /proc/self/mountinfo at the first call and again
 * after the mount table changed. Called from the runtime, on the carrier: the first
 * call also watches the table, through a descriptor of the library's own (ownfd.h)
 * whose change the event loop reports. NULL when the table cannot be read (no /proc):
 * every path is then taken as local.
 */
const struct gp_mounts *gp_mounts_current(void);

/*
 * The table has been read, has not changed since, and holds no slow mount: every path
 * is local. Read without entering the runtime, from wherever a hook runs: an answer a
 * moment late about a change is an answer the loop's poll would have given later.
 */
extern bool gp__mounts_all_local;

static inline bool gp_mounts_all_local(void)
{
	return __atomic_load_n(&gp__mounts_all_local, __ATOMIC_RELAXED);
}

/* The table last read holds a slow mount (the monitor looks more often then). */
extern bool gp__mounts_some_slow;

static inline bool gp_mounts_some_slow(void)
{
	return __atomic_load_n(&gp__mounts_some_slow, __ATOMIC_RELAXED);
}

/* In the child of fork: the watch's descriptors are the parent's too; start again. */
void gp_mounts_after_fork(void);

#endif

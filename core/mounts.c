/*
 * The mount table's text, and the questions asked of it (mounts.h). Nothing here makes a
 * system call: mountwatch.c reads the file and keeps the table current.
 */
#include "mounts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "util.h"

/*
 * File systems whose calls wait for a server or a daemon. FUSE file systems are named
 * "fuse.SUBTYPE" (sshfs, s3fs, gvfsd-fuse, rclone...), "fuse" or "fuseblk" (ntfs-3g);
 * virtiofs is FUSE towards the host. Cluster file systems (GFS2, OCFS2) wait for their
 * lock manager on the network. Anything else is local.
 */
static const char *const slow_types[] = {
	"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse", "fuseblk", "virtiofs", "9p", "ceph",
	"afs", "coda", "ncpfs", "ncp", "lustre", "glusterfs", "orangefs", "pvfs2", "beegfs",
	"gpfs", "gfs2", "ocfs2", "vboxsf", "vmhgfs", "prl_fs", "davfs", "panfs",
};

bool gp_fstype_slow(const char *type, size_t len)
{
	if (len > 5 && memcmp(type, "fuse.", 5) == 0)
		return true;
	for (size_t i = 0; i < GP_ARRAY_LEN(slow_types); i++)
		if (strlen(slow_types[i]) == len && memcmp(slow_types[i], type, len) == 0)
			return true;
	return false;
}

/* ---- reading a line ----------------------------------------------------------------- */

/* The next field of a line, up to a blank: its start, with *len set; NULL at the end. */
static const char *field(const char **p, const char *end, size_t *len)
{
	const char *s = *p;
	while (s < end && *s == ' ')
		s++;
	if (s == end)
		return NULL;
	const char *e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	*len = (size_t)(e - s);
	*p = e;
	return s;
}

static bool octal_at(const char *s, const char *end)
{
	if (end - s < 4 || s[0] != '\\')
		return false;
	for (int i = 1; i < 4; i++)
		if (s[i] < '0' || s[i] > '7')
			return false;
	return true;
}

/*
 * Copy a mount point, undoing mountinfo's octal escapes (\040 for a blank, \011, \012,
 * \134) and dropping a trailing slash: the length written.
 */
static size_t unescape(char *out, const char *s, size_t len)
{
	const char *end = s + len;
	size_t n = 0;
	while (s < end) {
		if (octal_at(s, end)) {
			out[n++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			out[n++] = *s++;
		}
	}
	while (n > 1 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	return n;
}

/* One line: "ID PARENT MAJOR:MINOR ROOT POINT OPTIONS [TAGS...] - TYPE SOURCE SUPER". */
static bool parse_line(const char *p, const char *end, struct gp_mount *m, char *point)
{
	size_t len;
	const char *f[5];
	size_t flen[5];
	for (int i = 0; i < 5; i++) {
		f[i] = field(&p, end, &flen[i]);
		if (!f[i])
			return false;
	}
	char *stop;
	m->id = strtoull(f[0], &stop, 10);
	unsigned long major = strtoul(f[2], &stop, 10);
	if (*stop != ':')
		return false;
	unsigned long minor = strtoul(stop + 1, NULL, 10);
	m->dev = makedev(major, minor);
	if (flen[4] == 0 || f[4][0] != '/')
		return false;
	m->len = unescape(point, f[4], flen[4]);
	m->point = point;
	const char *s;
	while ((s = field(&p, end, &len)) && !(len == 1 && *s == '-'))
		;
	if (!s || !(s = field(&p, end, &len)))
		return false;
	m->slow = gp_fstype_slow(s, len);
	return true;
}

/* ---- the table ---------------------------------------------------------------------- */

/* point is at or below the directory dir (both normalised). */
static bool under(const char *point, size_t plen, const char *dir, size_t dlen)
{
	if (dlen == 1)
		return true;
	return plen >= dlen && memcmp(point, dir, dlen) == 0 &&
	       (plen == dlen || point[dlen] == '/');
}

/*
 * A local mount counts only below a slow one mounted before it: one mounted earlier at
 * or under that point is hidden by it.
 */
static bool under_earlier_slow(const struct gp_mount *all, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (all[j].slow && under(all[i].point, all[i].len, all[j].point, all[j].len))
			return true;
	return false;
}

void gp_mounts_free(struct gp_mounts *t)
{
	free(t->m);
	free(t->points);
	*t = (struct gp_mounts){ 0 };
}

static size_t count_lines(const char *text, size_t len)
{
	size_t n = 1;
	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
		n++;
	return n;
}

int gp_mounts_parse(struct gp_mounts *t, const char *text, size_t len)
{
	gp_mounts_free(t);
	size_t lines = count_lines(text, len);
	struct gp_mount *all = calloc(lines, sizeof(*all));
	char *points = malloc(len + 1);
	if (!all || !points) {
		free(all);
		free(points);
		return -ENOMEM;
	}
	size_t n = 0, used = 0;
	for (const char *p = text, *end = text + len; p < end && n < lines;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (parse_line(p, eol, &all[n], points + used)) {
			used += all[n].len + 1;
			n++;
		}
		p = eol + 1;
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++)
		if (all[i].slow || under_earlier_slow(all, i))
			all[kept++] = all[i];
	t->m = all;
	t->n = kept;
	t->points = points;
	return 0;
}

bool gp_mounts_path_slow(const struct gp_mounts *t, const char *path)
{
	size_t plen = strlen(path);
	const struct gp_mount *best = NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct gp_mount *m = &t->m[i];
		/* The later of two at one point is the one on top. */
		if ((!best || m->len >= best->len) && under(path, plen, m->point, m->len))
			best = m;
	}
	return best && best->slow;
}

bool gp_mounts_tree_slow(const struct gp_mounts *t, const char *path)
{
	size_t plen = strlen(path);
	for (size_t i = 0; i < t->n; i++)
		if (t->m[i].slow && under(t->m[i].point, t->m[i].len, path, plen))
			return true;
	return gp_mounts_path_slow(t, path);
}

bool gp_mounts_id_slow(const struct gp_mounts *t, uint64_t id, uint64_t dev)
{
	for (size_t i = 0; i < t->n; i++)
		if (id ? t->m[i].id == id : t->m[i].dev == dev)
			return t->m[i].slow;
	return false;
}

/* ---- paths as text ------------------------------------------------------------------ */

/* Append the components of s to out (n bytes so far, "/" at least): false if too long. */
static bool append_components(char *out, size_t cap, size_t *n, const char *s)
{
	while (*s) {
		while (*s == '/')
			s++;
		size_t len = strcspn(s, "/");
		if (len == 0 || (len == 1 && s[0] == '.')) {
			s += len;
			continue;
		}
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			while (*n > 1 && out[*n - 1] != '/')
				(*n)--;
			if (*n > 1)
				(*n)--;
		} else {
			size_t sep = *n > 1;
			if (*n + sep + len + 1 > cap)
				return false;
			if (sep)
				out[(*n)++] = '/';
			memcpy(out + *n, s, len);
			*n += len;
		}
		s += len;
	}
	return true;
}

size_t gp_path_normalise(char *out, size_t cap, const char *base, const char *path)
{
	if (cap < 2)
		return 0;
	size_t n = 1;
	out[0] = '/';
	if (path[0] != '/' && base && !append_components(out, cap, &n, base))
		return 0;
	if (!append_components(out, cap, &n, path))
		return 0;
	out[n] = '\0';
	return n;
}

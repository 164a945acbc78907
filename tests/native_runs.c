/*
 * Native runs kept between the passes of `make test` (native_runs.h).
 *
 * One file per command in $GP_TEST_NATIVE_RUNS, named by a hash of the command and
 * holding the command itself, so that a collision reads as "not kept":
 *
 *   "gp-native-run 1\n", then five size_t: the command's length, the status (as from
 *   waitpid), the elapsed time in microseconds, stdout's length, stderr's length;
 *   then the command, stdout and stderr, as they are.
 *
 * A file is written under a temporary name and renamed, so that a reader (another test
 * of the same pass, with --jobs) finds a whole one or none.
 */
#include "native_runs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "gp-native-run 1\n"

struct text {
	char *p;
	size_t len;
};

/*
 * What tells one native run from another: the binary, its arguments, the environment
 * added, whether it had the runner's, and its input. The rest of the environment is the
 * runner's own, the same in every pass but for GREENPATCH_CARRIERS, which only the
 * library reads.
 */
static struct text command_of(const char *path, const struct gp_cmd *cmd)
{
	struct text t = { 0 };
	FILE *f = open_memstream(&t.p, &t.len);

	cr_assert(f, "native runs: out of memory");
	/* Each part followed by a NUL, so that ("a", "bc") and ("ab", "c") differ. */
	fprintf(f, "%s%c", path, 0);
	for (char *const *a = cmd->argv; a && *a; a++)
		fprintf(f, "%s%c", *a, 0);
	fprintf(f, "--env%c", 0);
	for (char *const *e = cmd->env; e && *e; e++)
		fprintf(f, "%s%c", *e, 0);
	fprintf(f, "%s%c", cmd->env_only ? "--env-only" : "--inherit", 0);
	fprintf(f, "%s%c", cmd->stdin_data ? cmd->stdin_data : "--no-input", 0);
	cr_assert(fclose(f) == 0, "native runs: out of memory");
	return t;
}

/* FNV-1a, 64 bits: a file name, not a proof of identity (the file holds the command). */
static uint64_t hash(const struct text *t)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < t->len; i++)
		h = (h ^ (unsigned char)t->p[i]) * 0x100000001b3ull;
	return h;
}

static char *file_of(const char *dir, const struct text *command)
{
	char *f = NULL;

	cr_assert(asprintf(&f, "%s/%016llx", dir, (unsigned long long)hash(command)) >= 0,
		  "native runs: out of memory");
	return f;
}

static const char *dir_of_runs(void)
{
	const char *d = getenv("GP_TEST_NATIVE_RUNS");

	return d && *d ? d : NULL;
}

static bool read_exact(FILE *f, void *p, size_t n)
{
	return n == 0 || fread(p, 1, n, f) == n;
}

static char *read_part(FILE *f, size_t n)
{
	char *p = malloc(n + 1);

	cr_assert(p, "native runs: out of memory");
	if (!read_exact(f, p, n)) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	return p;
}

bool gp_native_run_load(const char *path, const struct gp_cmd *cmd, struct gp_run *r)
{
	const char *dir = dir_of_runs();
	if (!dir)
		return false;
	struct text command = command_of(path, cmd);
	char *file = file_of(dir, &command);
	FILE *f = fopen(file, "rb");
	bool found = false;
	char magic[sizeof(MAGIC) - 1];
	size_t head[5];
	char *kept = NULL;

	if (f && read_exact(f, magic, sizeof(magic)) && memcmp(magic, MAGIC, sizeof(magic)) == 0 &&
	    read_exact(f, head, sizeof(head)) && head[0] == command.len &&
	    (kept = read_part(f, head[0])) && memcmp(kept, command.p, command.len) == 0) {
		r->status = (int)head[1];
		r->timed_out = false;
		r->elapsed_s = (double)head[2] / 1e6;
		r->out_len = head[3];
		r->err_len = head[4];
		r->out = read_part(f, head[3]);
		r->err = r->out ? read_part(f, head[4]) : NULL;
		found = r->out && r->err;
		if (!found) {
			free(r->out);
			free(r->err);
			r->out = r->err = NULL;
		}
	}
	if (f)
		fclose(f);
	free(kept);
	free(file);
	free(command.p);
	return found;
}

/*
 * Only a run that can serve as the reference: it exited 0 in time, and the machine did not
 * starve it (the mark of harness.c's STARVED_MARK). Any other is run again next time.
 */
static bool worth_keeping(const struct gp_run *r, const char *starved_mark)
{
	char *bad = gp_check_ok(r, 0);

	free(bad);
	return !bad && !(r->err && strstr(r->err, starved_mark));
}

void gp_native_run_save(const char *path, const struct gp_cmd *cmd, const struct gp_run *r,
			const char *starved_mark)
{
	const char *dir = dir_of_runs();
	if (!dir || !worth_keeping(r, starved_mark))
		return;
	struct text command = command_of(path, cmd);
	char *file = file_of(dir, &command), *tmp = NULL;
	cr_assert(asprintf(&tmp, "%s.%d.tmp", file, (int)getpid()) >= 0,
		  "native runs: out of memory");
	FILE *f = fopen(tmp, "wb");
	cr_assert(f, "GP_TEST_NATIVE_RUNS=%s: cannot write %s: %s", dir, tmp, strerror(errno));
	size_t head[5] = { command.len, (size_t)r->status, (size_t)(r->elapsed_s * 1e6),
			   r->out_len, r->err_len };
	bool ok = fwrite(MAGIC, 1, sizeof(MAGIC) - 1, f) == sizeof(MAGIC) - 1 &&
		  fwrite(head, sizeof(head), 1, f) == 1 &&
		  fwrite(command.p, 1, command.len, f) == command.len &&
		  fwrite(r->out, 1, r->out_len, f) == r->out_len &&
		  fwrite(r->err, 1, r->err_len, f) == r->err_len;
	ok = fclose(f) == 0 && ok;
	cr_assert(ok, "GP_TEST_NATIVE_RUNS=%s: cannot write %s", dir, tmp);
	cr_assert(rename(tmp, file) == 0, "GP_TEST_NATIVE_RUNS=%s: rename %s: %s", dir, tmp,
		  strerror(errno));
	free(tmp);
	free(file);
	free(command.p);
}

/*
 * Kernel-side copies: sendfile, splice, tee and copy_file_range. None of them has a
 * non-blocking attempt that leaves the descriptors' flags alone (SPLICE_F_NONBLOCK
 * concerns only the pipe side, and sendfile has nothing at all), and a blocking copy
 * into a socket lasts until the peer has read it all. So they run on the offload pool,
 * where they block a pool thread instead of every green thread. A copy the program
 * made non-blocking (SPLICE_F_NONBLOCK, or an output descriptor with O_NONBLOCK) is the
 * real call's business: it answers at once.
 */
#include <fcntl.h>
#include <sys/sendfile.h>

#include "hook.h"
#include "iowait.h"
#include "offcall.h"

struct copy_call {
	struct gp_offcall c;
	int kind;
	int in, out;
	off64_t *in_off, *out_off;
	size_t len;
	unsigned flags;
};

enum { COPY_SENDFILE, COPY_SPLICE, COPY_TEE, COPY_RANGE };

static void run_copy(struct gp_offcall *c)
{
	struct copy_call *k = (struct copy_call *)c;
	switch (k->kind) {
	case COPY_SENDFILE:
		c->ret = GP_REAL(sendfile64)(k->out, k->in, k->in_off, k->len);
		break;
	case COPY_SPLICE:
		c->ret = GP_REAL(splice)(k->in, k->in_off, k->out, k->out_off, k->len, k->flags);
		break;
	case COPY_TEE:
		c->ret = GP_REAL(tee)(k->in, k->out, k->len, k->flags);
		break;
	default:
		c->ret = GP_REAL(copy_file_range)(k->in, k->in_off, k->out, k->out_off, k->len,
						  k->flags);
	}
}

/* Would the copy into out wait? Not if the program made out non-blocking. */
static bool copy_green(int out, unsigned flags)
{
	if (!gp__offload_wanted() || (flags & SPLICE_F_NONBLOCK))
		return false;
	struct gp_fd *e = gp__fd_learn(out);
	return !e || e->nonblock != GP_NB_ON;
}

static ssize_t offload_copy(struct copy_call *k)
{
	k->c.run = run_copy;
	k->c.unbounded = true;   /* a peer may take as long as it likes to read */
	gp__offload_call(&k->c);
	return k->c.ret;
}

ssize_t sendfile(int out, int in, off_t *off, size_t len)
{
	if (!copy_green(out, 0))
		return GP_REAL(sendfile)(out, in, off, len);
	struct copy_call k = { .kind = COPY_SENDFILE, .in = in, .out = out,
			       .in_off = (off64_t *)off, .len = len };
	return offload_copy(&k);
}

ssize_t sendfile64(int out, int in, off64_t *off, size_t len)
{
	if (!copy_green(out, 0))
		return GP_REAL(sendfile64)(out, in, off, len);
	struct copy_call k = { .kind = COPY_SENDFILE, .in = in, .out = out, .in_off = off,
			       .len = len };
	return offload_copy(&k);
}

ssize_t splice(int in, off64_t *in_off, int out, off64_t *out_off, size_t len, unsigned flags)
{
	if (!copy_green(out, flags))
		return GP_REAL(splice)(in, in_off, out, out_off, len, flags);
	struct copy_call k = { .kind = COPY_SPLICE, .in = in, .out = out, .in_off = in_off,
			       .out_off = out_off, .len = len, .flags = flags };
	return offload_copy(&k);
}

ssize_t tee(int in, int out, size_t len, unsigned flags)
{
	if (!copy_green(out, flags))
		return GP_REAL(tee)(in, out, len, flags);
	struct copy_call k = { .kind = COPY_TEE, .in = in, .out = out, .len = len,
			       .flags = flags };
	return offload_copy(&k);
}

ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t len,
			unsigned flags)
{
	if (!copy_green(out, 0))
		return GP_REAL(copy_file_range)(in, in_off, out, out_off, len, flags);
	struct copy_call k = { .kind = COPY_RANGE, .in = in, .out = out, .in_off = in_off,
			       .out_off = out_off, .len = len, .flags = flags };
	return offload_copy(&k);
}

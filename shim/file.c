/*
 * Flushing a file to its disk can take as long as the disk likes: fsync and fdatasync
 * go to the offload pool.
 */
#include <unistd.h>

#include "hook.h"
#include "offcall.h"

struct sync_call {
	struct gp_offcall c;
	int fd;
};

static void run_fsync(struct gp_offcall *c)
{
	c->ret = GP_REAL(fsync)(((struct sync_call *)c)->fd);
}

static void run_fdatasync(struct gp_offcall *c)
{
	c->ret = GP_REAL(fdatasync)(((struct sync_call *)c)->fd);
}

int fsync(int fd)
{
	if (!gp__offload_wanted())
		return GP_REAL(fsync)(fd);
	struct sync_call s = { { .run = run_fsync }, fd };
	gp__offload_call(&s.c);
	return (int)s.c.ret;
}

int fdatasync(int fd)
{
	if (!gp__offload_wanted())
		return GP_REAL(fdatasync)(fd);
	struct sync_call s = { { .run = run_fdatasync }, fd };
	gp__offload_call(&s.c);
	return (int)s.c.ret;
}

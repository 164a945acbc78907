#include "fdstate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loop.h"

#define CHUNK_SIZE (1 << GP_FD_CHUNK_BITS)
#define MAX_FDS (1 << 30)

struct gp_fd **gp__fd_chunks;
size_t gp__fd_nchunks;

static int table_init(void)
{
	struct rlimit rl;
	size_t limit = MAX_FDS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < MAX_FDS)
		limit = rl.rlim_max;
	size_t n = (limit + CHUNK_SIZE - 1) / CHUNK_SIZE;
	struct gp_fd **table = calloc(n, sizeof(*table)), **none = NULL;
	if (!table)
		return -1;
	gp__fd_nchunks = n;   /* the same number, whoever wins */
	if (!__atomic_compare_exchange_n(&gp__fd_chunks, &none, table, false, __ATOMIC_RELEASE,
					 __ATOMIC_ACQUIRE))
		free(table);
	return 0;
}

/*
 * Hooks look numbers up from program code, where a handed-off thread (kthread.h) runs
 * at the same time as the carrier: a chunk is published once, by exchange, and the
 * loser of a race frees its own.
 */
static struct gp_fd *chunk_new(size_t ci)
{
	struct gp_fd *ch = calloc(CHUNK_SIZE, sizeof(*ch));
	if (!ch)
		return NULL;
	for (int i = 0; i < CHUNK_SIZE; i++)
		gp__fd_init_watcher(&ch[i], (int)(ci * CHUNK_SIZE + i));
	struct gp_fd *none = NULL;
	if (!__atomic_compare_exchange_n(&gp__fd_chunks[ci], &none, ch, false, __ATOMIC_RELEASE,
					 __ATOMIC_ACQUIRE)) {
		free(ch);
		return none;
	}
	return ch;
}

/* gp_fd_get found no entry: make the table, or fd's chunk. */
struct gp_fd *gp__fd_get_slow(int fd)
{
	if (fd < 0)
		return NULL;
	if (!__atomic_load_n(&gp__fd_chunks, __ATOMIC_ACQUIRE) && table_init() < 0)
		return NULL;
	size_t ci = (size_t)fd >> GP_FD_CHUNK_BITS;
	if (ci >= gp__fd_nchunks)
		return NULL;
	struct gp_fd *ch = __atomic_load_n(&gp__fd_chunks[ci], __ATOMIC_ACQUIRE);
	if (!ch && !(ch = chunk_new(ci)))
		return NULL;
	return &ch[fd & (CHUNK_SIZE - 1)];
}

void gp_fd_set_nonblock(int fd, int nonblocking)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (e)
		e->nonblock = nonblocking ? GP_NB_ON : GP_NB_OFF;
}

void gp_fd_set_kind(int fd, enum gp_fd_kind kind)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (e)
		e->kind = (uint8_t)kind;
}

unsigned gp_fd_table_size(void)
{
	return (unsigned)(gp__fd_nchunks * CHUNK_SIZE);
}

void gp_fd_table_reset(void)
{
	if (!gp__fd_chunks)
		return;
	for (size_t ci = 0; ci < gp__fd_nchunks; ci++)
		free(gp__fd_chunks[ci]);
	memset(gp__fd_chunks, 0, gp__fd_nchunks * sizeof(*gp__fd_chunks));
}

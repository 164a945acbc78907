/*
 * Per-descriptor state: what kind of file the number names (so that a hook knows how
 * to make its call non-blocking), whether the program itself made it non-blocking, and
 * which green threads wait on it.
 *
 * The shim never changes a descriptor's O_NONBLOCK behind the program's back (the flag
 * belongs to the open file description, shared with other processes and with libc's
 * own unpatched calls). It remembers what the program set instead: learnt from
 * F_GETFL the first time a call would block, kept up to date by the hooks of fcntl,
 * ioctl(FIONBIO), socket, accept4 and friends, and forgotten (back to unknown) when the
 * number is closed or replaced through a hook. A number closed and reused entirely
 * inside libc (fclose then fopen) is not seen; the cost is at most one wrong guess
 * of the kind, which the hooks tolerate (an unexpected EAGAIN or EOPNOTSUPP makes them
 * look again).
 *
 * The table has two levels so that it costs nothing for numbers never used, up to
 * RLIMIT_NOFILE.
 */
#ifndef GP_FDSTATE_H
#define GP_FDSTATE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

enum gp_fd_kind {
	GP_FD_UNKNOWN = 0,
	GP_FD_SOCKET,     /* MSG_DONTWAIT, or preadv2/pwritev2 with RWF_NOWAIT */
	GP_FD_NOWAIT,     /* pipes, FIFOs, eventfd...: RWF_NOWAIT works */
	GP_FD_POLL,       /* ttys and other character devices: wait for readiness, then call */
	GP_FD_PASS,       /* directories, block devices: the real call */
	GP_FD_FILE,       /* regular files: RWF_NOWAIT hits the page cache, a miss is offloaded */
};

/* What was learnt of a regular file's writes, or of a socket (gp_fd.file). */
enum {
	GP_FILE_SYNC = 1,          /* O_SYNC, O_DSYNC or O_DIRECT: every write waits for the disk */
	GP_FILE_NO_NOWAIT_WRITE = 2,   /* its file system refuses RWF_NOWAIT writes */
	GP_SOCK_STREAM = 4,        /* a SOCK_STREAM socket: a short read emptied its queue */
};

enum gp_fd_nonblock { GP_NB_UNKNOWN = 0, GP_NB_OFF, GP_NB_ON };

/* The file system the descriptor's file is on (mounts.h), once learnt (shim/path.c). */
enum gp_fd_mount { GP_MOUNT_UNKNOWN = 0, GP_MOUNT_LOCAL, GP_MOUNT_SLOW };

struct gp_fdwaiter;

struct gp_fd {
	ev_io io;                     /* armed while someone waits, disarmed lazily */
	struct gp_fdwaiter *waiters;
	uint8_t kind;                 /* enum gp_fd_kind */
	uint8_t nonblock;             /* enum gp_fd_nonblock: what the program set */
	uint8_t fresh;                /* libev must register the number anew (loop.c) */
	uint8_t timeo_known;          /* timeo[] holds the socket's SO_RCVTIMEO/SO_SNDTIMEO */
	uint8_t file;                 /* GP_FILE_* bits (a GP_FD_FILE), GP_SOCK_STREAM */
	uint8_t mount;                /* enum gp_fd_mount */
	uint8_t shared;               /* another number names its open file (a dup): the
	                               * program may set O_NONBLOCK through that one, so it
	                               * is asked again where it decides (iowait.c) */
	uint8_t idle;                 /* armed with nobody waiting until the next poll (loop.c) */
	float timeo[2];               /* seconds a read [0] or write [1] may wait; 0: forever */
	uint64_t drained_at;          /* loop.h: gp_fd_note_drained */
	uint64_t closed_at;           /* the runtime's wake_seq when the number was last
	                               * closed through a hook (loop.c) */
	_Atomic uint32_t inflight;    /* attempts under way on other carriers (loop.c) */
};

/*
 * The table (fdstate.c): chunks of 2^GP_FD_CHUNK_BITS entries, each published once. The
 * lookups are inline: a hook looks a number up several times per call, and as a call
 * into the slow path's frame each cost more than the work.
 */
#define GP_FD_CHUNK_BITS 10
extern struct gp_fd **gp__fd_chunks;
extern size_t gp__fd_nchunks;

struct gp_fd *gp__fd_get_slow(int fd);

/* The state of fd if it exists, else NULL. Never allocates. */
static inline struct gp_fd *gp_fd_peek(int fd)
{
	struct gp_fd **chunks = __atomic_load_n(&gp__fd_chunks, __ATOMIC_ACQUIRE);
	if (fd < 0 || !chunks)
		return NULL;
	size_t ci = (size_t)fd >> GP_FD_CHUNK_BITS;
	if (ci >= gp__fd_nchunks)
		return NULL;
	struct gp_fd *ch = __atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE);
	return ch ? &ch[fd & ((1 << GP_FD_CHUNK_BITS) - 1)] : NULL;
}

/* The state of fd, created if needed; NULL if fd is negative or beyond the table. */
static inline struct gp_fd *gp_fd_get(int fd)
{
	struct gp_fd *e = gp_fd_peek(fd);
	return e ? e : gp__fd_get_slow(fd);
}

/* Record what the program set; no-op if the table does not hold fd. */
void gp_fd_set_nonblock(int fd, int nonblocking);
void gp_fd_set_kind(int fd, enum gp_fd_kind kind);

/* One more than the largest number the table can hold (0 before it exists). */
unsigned gp_fd_table_size(void);

/* Drop every entry (after fork: the loop they were armed in is gone). */
void gp_fd_table_reset(void);

#endif

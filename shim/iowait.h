/*
 * How a blocking call on a descriptor becomes cooperative.
 *
 * A transfer is attempted without blocking (MSG_DONTWAIT for the socket calls,
 * preadv2/pwritev2 with RWF_NOWAIT for read and write: neither touches the file's
 * O_NONBLOCK). If it would block, the green thread parks until the descriptor is ready
 * and tries again. What the descriptor is, and whether the program itself made it
 * non-blocking, is learnt the first time an attempt would block (fstat and F_GETFL, once
 * per descriptor) and kept in core's fdstate:
 *
 *   the program made it non-blocking   the real call, as the program wrote it
 *   regular file                       RWF_NOWAIT first; a page-cache miss is offloaded
 *   directory, block device            the real call
 *   RWF_NOWAIT not supported (ttys)    wait until poll says ready, then the real call
 *   anything else                      the non-blocking attempt, park, retry
 *
 * A blocking write on a stream writes everything unless an error stops it, so the
 * write calls repeat the attempt until all is written, and return the count written
 * when an error comes after some progress, as the kernel does, leaving a socket's error
 * for the next call.
 */
#ifndef GP_IOWAIT_H
#define GP_IOWAIT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fdstate.h"

struct gp_io;

/* One attempt; returns >= 0 or -1 with errno, like the libc call. */
typedef ssize_t (*gp_io_fn)(struct gp_io *io);

struct gp_io {
	int fd;
	int events;          /* EV_READ or EV_WRITE */
	gp_io_fn nowait;     /* the attempt that never blocks */
	gp_io_fn blocking;   /* the real call, as the program made it */
	/* the operation's arguments, for the two functions above */
	struct iovec *iov;
	int iovcnt;
	int flags;
	void *addr;
	void *addrlen;
	struct msghdr *msg;
	bool one_buffer;     /* read or write: iov is the hook's own, made of its buffer */
	bool positional;     /* pread/pwrite: at off, advanced after a partial transfer */
	off_t off;
	int rwf;             /* the program's RWF_* flags (preadv2/pwritev2) */
	bool continued;      /* after some progress (gp__io_rest): a socket error ends it */
	/*
	 * A receive from a TCP socket that asks for 0 bytes and finds nothing waits for
	 * anything to come (data, the end, an error, its timeout, a signal, with SA_RESTART
	 * or not) and then returns 0 without another look: tcp_recvmsg's loop ends on the
	 * length left, 0, as soon as its wait does, and an error that came stays for the
	 * next call. (An AF_UNIX stream looks again after its wait, as every other receive
	 * does.) asks_nothing says whether this receive asks for 0 bytes; before an attempt
	 * has read its arguments (checked false) it may answer "perhaps" (true) rather than
	 * read them. empty_reply makes the kernel's answer after the wait. Both NULL for
	 * every other call (socket.c).
	 */
	bool (*asks_nothing)(struct gp_io *io, bool checked);
	ssize_t (*empty_reply)(struct gp_io *io);
	bool replied_empty;  /* empty_reply made this call's answer */
	bool no_wait;        /* what comes without waiting: EAGAIN ends the call */
	bool error_stays;    /* continued: an error ends it whatever the family (a later
	                      * message of recvmmsg, which the kernel puts back) */
	uint64_t since;      /* the runtime's wake_seq when the call began (iowait.c) */
};

/*
 * recvfrom and sendto of one attempt, which flags make never block (MSG_DONTWAIT).
 * glibc's own bracket the system call with its asynchronous cancellation, an atomic
 * exchange on the thread's descriptor before and after: a green thread other than the
 * first has the library's cancellation (cancel.c), which an attempt does not act on,
 * and makes the system call alone.
 */
ssize_t gp__recvfrom_nowait(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			    socklen_t *len);
ssize_t gp__sendto_nowait(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *addr, socklen_t len);

/* One transfer, parking while it would block: >= 0 or -errno. */
ssize_t gp__io(struct gp_io *io);

/*
 * Repeat gp__io until the whole iovec is transferred (a blocking stream write, or a
 * read with MSG_WAITALL): the total, or -errno if the first attempt fails. The caller's
 * iovec and msghdr are not modified. A read stops early at end of file.
 */
ssize_t gp__io_all(struct gp_io *io);

/*
 * One read, completed on a regular file: a read there returns less than asked only at
 * end of file, so a short RWF_NOWAIT attempt is followed by the rest.
 */
ssize_t gp__io_read(struct gp_io *io);

/* The same, after a first transfer of done bytes: the total. */
ssize_t gp__io_rest(struct gp_io *io, ssize_t done);

/* fd's entry, with kind and the program's O_NONBLOCK learnt if still unknown (asked
 * again each time for a number that shares its open file). */
struct gp_fd *gp__fd_learn(int fd);

/* fd names an open file another number names too (dup, dup2, dup3, F_DUPFD). */
void gp__fd_mark_shared(int fd);

/*
 * How long a wait for events (EV_READ or EV_WRITE) may last on e: the socket's
 * SO_RCVTIMEO or SO_SNDTIMEO (learnt once), or -1 for no limit. When it passes, the
 * call fails with EAGAIN, as natively.
 */
double gp__fd_wait_limit(int fd, struct gp_fd *e, int events);

/* Record a timeout the program set with setsockopt (which: 0 receive, 1 send). */
void gp__fd_set_timeo(int fd, int which, double seconds);

/* A socket accept4 made from listener inherits its timeouts, as in the kernel. */
void gp__fd_inherit_timeo(int fd, int listener);

/* The number no longer names what was learnt of it: wake its waiters, forget it. */
void gp__fd_forget(int fd);

/* fd is a SOCK_STREAM socket (socket, socketpair, or accepted from one). */
void gp__fd_mark_stream(int fd);

/* fd is a SOCK_STREAM socket: marked one, or asked once (a socket made where no hook
 * saw it) and marked then; errno left alone. */
bool gp__fd_is_stream(int fd);

/* A number just handed out, and what is known of it (GP_FD_UNKNOWN: nothing). */
void gp__fd_born(int fd, enum gp_fd_kind kind, int nonblocking);

/* Wait in the runtime until fd is ready for events: 0 or -errno. */
int gp__wait_fd(int fd, int events, double timeout);

/*
 * Wait until fd is ready for events as a blocking call on it waits: bounded by the
 * socket's timeout for that direction (gp__fd_wait_limit: -ETIMEDOUT when it passes),
 * and ended by a signal's handler with -EINTR, or restarted as signal(7) says: under
 * SA_RESTART, except on a socket with that timeout, where the kernel fails the call
 * with EINTR whatever the flag. 0 once ready: the call is then tried again.
 */
int gp__wait_fd_call(int fd, struct gp_fd *e, int events);

/* A socket with an error pending, seen without taking it (iowait.c). */
bool gp__socket_error_pending(int fd);

/* Total length of an iovec array; -EINVAL if it overflows ssize_t. */
ssize_t gp__iov_len(const struct iovec *iov, int cnt);

/*
 * Before libc writes a stream's pending output (fflush, fclose): wait green until its
 * descriptor is writable, or write the output here when a writable descriptor may not
 * take it all at once (stdio.c). 0, or -1 with errno and the stream's error flag set;
 * when the output was written here, it is gone from the buffer either way, as after
 * libc's own flush.
 */
int gp__stdio_before_flush(FILE *fp);

/*
 * What a pipe or socket that polls writable surely takes in one write: a pipe then has a
 * free page, a socket at least a quarter of its send buffer.
 */
#define GP_STDIO_SURE_ROOM 4096

/* n bytes onto fp's descriptor through our write: the count written (short after an
 * error, with the stream's error flag set). */
size_t gp__stdio_write_all(FILE *fp, const char *data, size_t n);

/* A descriptor whose transfers wait for a peer (socket, pipe, tty), blocking. */
bool gp__waits_for_peer(const struct gp_fd *e);

/*
 * Park until fd has events (EV_READ or EV_WRITE) for stream fp: 0, or -1 with errno
 * and fp's error flag set as libc's read or write would have (EINTR, EAGAIN, EBADF).
 */
int gp__stream_wait(FILE *fp, int fd, int events);

#endif

/*
 * read, write, readv, writev (and the fortified __read_chk).
 *
 * The non-blocking attempt is preadv2/pwritev2 with offset -1 (the file position, as
 * read and write use) and RWF_NOWAIT: it works on sockets, pipes, FIFOs, eventfds and
 * most character devices, returns EAGAIN where read would block and EOPNOTSUPP where
 * the file cannot tell (ttys), and never changes the file's flags.
 *
 * The positional calls (pread, pwrite, preadv, pwritev and their 64 and v2 forms) make
 * the same attempt at their offset. On a regular file a page-cache miss goes to the
 * offload pool (iowait.c); on anything else they answer at once (ESPIPE on a pipe or a
 * socket), so they pass through.
 */
/* GREENPATCH_UNPATCH=io leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_IO

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"

/* Where a transfer happens: at the file position (-1), or at the program's offset. */
static off_t where(const struct gp_io *io)
{
	return io->positional ? io->off : -1;
}

/*
 * A plain read or write of one buffer on a socket is recv or send without flags: the
 * socket calls skip preadv2/pwritev2's iovec import and file position lock. Only the
 * hook's own iovec is looked into: the program's may be a bad pointer, the kernel's
 * EFAULT to report.
 */
static bool plain_socket_io(const struct gp_io *io)
{
	struct gp_fd *e;
	return io->one_buffer && !io->positional && !io->rwf && (e = gp_fd_peek(io->fd)) &&
	       e->kind == GP_FD_SOCKET;
}

/*
 * A read of 0 bytes from a socket returns 0 at once, whatever its state (the kernel's
 * sock_read_iter); recv of 0 bytes asks the protocol, which says ENOTCONN on a listening
 * socket. It goes to preadv2, which returns 0 for an empty range as readv does.
 */
static ssize_t readv_nowait(struct gp_io *io)
{
	if (plain_socket_io(io) && io->iov->iov_len)
		return gp__recvfrom_nowait(io->fd, io->iov->iov_base, io->iov->iov_len,
					   MSG_DONTWAIT, NULL, NULL);
	return GP_REAL(preadv2)(io->fd, io->iov, io->iovcnt, where(io), io->rwf | RWF_NOWAIT);
}

/* read and write are made as read and write: of 0 bytes, they ask a socket, where
 * readv and writev of an empty range return 0 without asking. */
static ssize_t readv_blocking(struct gp_io *io)
{
	if (io->one_buffer)
		return GP_REAL(read)(io->fd, io->iov->iov_base, io->iov->iov_len);
	return GP_REAL(readv)(io->fd, io->iov, io->iovcnt);
}

static ssize_t writev_nowait(struct gp_io *io)
{
	if (plain_socket_io(io))
		return gp__sendto_nowait(io->fd, io->iov->iov_base, io->iov->iov_len,
					 MSG_DONTWAIT, NULL, 0);
	return GP_REAL(pwritev2)(io->fd, io->iov, io->iovcnt, where(io), io->rwf | RWF_NOWAIT);
}

static ssize_t writev_blocking(struct gp_io *io)
{
	if (io->one_buffer)
		return GP_REAL(write)(io->fd, io->iov->iov_base, io->iov->iov_len);
	return GP_REAL(writev)(io->fd, io->iov, io->iovcnt);
}

/*
 * read, write, pread and pwrite check the whole range of their buffer before anything
 * else, and fail with EFAULT when it goes past the end of user space; recv and send,
 * preadv2 and pwritev2 cut the count to MAX_RW_COUNT first, and pass it (or say EINVAL
 * beyond SSIZE_MAX). Such a call is the real call's to answer. The end is x86_64's with
 * 4-level page tables (and aarch64's 48-bit one above it); a count that passes there but
 * not there is as absurd, and only loses a cooperative wait.
 */
#define GP_USER_END (((uintptr_t)1 << 47) - 4096)

static bool past_user_space(const void *buf, size_t n)
{
	return n > GP_USER_END || (uintptr_t)buf > GP_USER_END - n;
}

ssize_t read(int fd, void *buf, size_t n)
{
	if (!gp_cooperative() || past_user_space(buf, n))
		return GP_REAL(read)(fd, buf, n);
	struct iovec iov = { buf, n };
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = readv_nowait,
			    .blocking = readv_blocking, .iov = &iov, .iovcnt = 1,
			    .one_buffer = true };
	return gp_ret(gp__io_read(&io));
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (!gp_cooperative())
		return GP_REAL(readv)(fd, iov, iovcnt);
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = readv_nowait,
			    .blocking = readv_blocking, .iov = (struct iovec *)iov,
			    .iovcnt = iovcnt };
	return gp_ret(gp__io_read(&io));
}

/*
 * A write of 0 bytes to a socket is a message (a datagram of 0 bytes) or a question
 * (EPIPE on a listening socket): it must be send's, but pwritev2 returns 0 for an empty
 * range without asking the file. So what the number is is learnt first. (writev of an
 * empty range returns 0 natively too, and needs nothing.)
 */
ssize_t write(int fd, const void *buf, size_t n)
{
	if (!gp_cooperative() || past_user_space(buf, n))
		return GP_REAL(write)(fd, buf, n);
	if (n == 0)
		gp__fd_learn(fd);
	struct iovec iov = { (void *)buf, n };
	struct gp_io io = { .fd = fd, .events = EV_WRITE, .nowait = writev_nowait,
			    .blocking = writev_blocking, .iov = &iov, .iovcnt = 1,
			    .one_buffer = true };
	return gp_ret(gp__io_all(&io));
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (!gp_cooperative())
		return GP_REAL(writev)(fd, iov, iovcnt);
	struct gp_io io = { .fd = fd, .events = EV_WRITE, .nowait = writev_nowait,
			    .blocking = writev_blocking, .iov = (struct iovec *)iov,
			    .iovcnt = iovcnt };
	return gp_ret(gp__io_all(&io));
}

/* ---- at an offset ------------------------------------------------------------------ */

static ssize_t preadv_blocking(struct gp_io *io)
{
	return GP_REAL(preadv2)(io->fd, io->iov, io->iovcnt, io->off, io->rwf);
}

static ssize_t pwritev_blocking(struct gp_io *io)
{
	return GP_REAL(pwritev2)(io->fd, io->iov, io->iovcnt, io->off, io->rwf);
}

/*
 * Only a regular file (or a descriptor not yet seen) can make a positional call wait;
 * a call the program made non-blocking (RWF_NOWAIT) or one that cannot name a real
 * position (-1: preadv2's "file position") is the real call's business.
 */
static bool positional_green(int fd, off_t off, int rwf)
{
	if (!gp_cooperative() || off < 0 || (rwf & RWF_NOWAIT))
		return false;
	struct gp_fd *e = gp_fd_peek(fd);
	return !e || e->kind == GP_FD_UNKNOWN || e->kind == GP_FD_FILE;
}

static ssize_t positional(int fd, const struct iovec *iov, int iovcnt, off_t off, int rwf,
			  bool write)
{
	struct gp_io io = { .fd = fd, .events = write ? EV_WRITE : EV_READ,
			    .nowait = write ? writev_nowait : readv_nowait,
			    .blocking = write ? pwritev_blocking : preadv_blocking,
			    .iov = (struct iovec *)iov, .iovcnt = iovcnt, .positional = true,
			    .off = off, .rwf = rwf };
	return gp_ret(write ? gp__io_all(&io) : gp__io_read(&io));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (!positional_green(fd, off, 0) || past_user_space(buf, n))
		return GP_REAL(pread)(fd, buf, n, off);
	struct iovec iov = { buf, n };
	return positional(fd, &iov, 1, off, 0, false);
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	if (!positional_green(fd, off, 0) || past_user_space(buf, n))
		return GP_REAL(pread64)(fd, buf, n, off);
	struct iovec iov = { buf, n };
	return positional(fd, &iov, 1, off, 0, false);
}

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread(fd, buf, n, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return pread64(fd, buf, n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (!positional_green(fd, off, 0) || past_user_space(buf, n))
		return GP_REAL(pwrite)(fd, buf, n, off);
	struct iovec iov = { (void *)buf, n };
	return positional(fd, &iov, 1, off, 0, true);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	if (!positional_green(fd, off, 0) || past_user_space(buf, n))
		return GP_REAL(pwrite64)(fd, buf, n, off);
	struct iovec iov = { (void *)buf, n };
	return positional(fd, &iov, 1, off, 0, true);
}

ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	if (!positional_green(fd, off, 0))
		return GP_REAL(preadv)(fd, iov, iovcnt, off);
	return positional(fd, iov, iovcnt, off, 0, false);
}

ssize_t preadv64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	if (!positional_green(fd, off, 0))
		return GP_REAL(preadv64)(fd, iov, iovcnt, off);
	return positional(fd, iov, iovcnt, off, 0, false);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	if (!positional_green(fd, off, 0))
		return GP_REAL(pwritev)(fd, iov, iovcnt, off);
	return positional(fd, iov, iovcnt, off, 0, true);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	if (!positional_green(fd, off, 0))
		return GP_REAL(pwritev64)(fd, iov, iovcnt, off);
	return positional(fd, iov, iovcnt, off, 0, true);
}

/*
 * preadv2 and pwritev2 at offset -1 use the file position, as readv and writev: they
 * take the same path, with the program's flags added to the attempt.
 */
static ssize_t v2(int fd, const struct iovec *iov, int iovcnt, off_t off, int rwf, bool write)
{
	if (off == -1 && gp_cooperative() && !(rwf & RWF_NOWAIT)) {
		struct gp_io io = { .fd = fd, .events = write ? EV_WRITE : EV_READ,
				    .nowait = write ? writev_nowait : readv_nowait,
				    .blocking = write ? pwritev_blocking : preadv_blocking,
				    .iov = (struct iovec *)iov, .iovcnt = iovcnt, .off = -1,
				    .rwf = rwf };
		return gp_ret(write ? gp__io_all(&io) : gp__io_read(&io));
	}
	if (!positional_green(fd, off, rwf))
		return write ? GP_REAL(pwritev2)(fd, iov, iovcnt, off, rwf)
			     : GP_REAL(preadv2)(fd, iov, iovcnt, off, rwf);
	return positional(fd, iov, iovcnt, off, rwf, write);
}

ssize_t preadv2(int fd, const struct iovec *iov, int iovcnt, off_t off, int rwf)
{
	return v2(fd, iov, iovcnt, off, rwf, false);
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int iovcnt, off64_t off, int rwf)
{
	return v2(fd, iov, iovcnt, off, rwf, false);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int rwf)
{
	return v2(fd, iov, iovcnt, off, rwf, true);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t off, int rwf)
{
	return v2(fd, iov, iovcnt, off, rwf, true);
}

/*
 * vmsplice's descriptor is a pipe, and SPLICE_F_NONBLOCK makes the whole call
 * non-blocking: it is tried so, and a full pipe (or an empty one, read with vmsplice
 * from its read end) is waited for green. Which end it is costs one fcntl per call.
 */
static ssize_t vmsplice_nowait(struct gp_io *io)
{
	return GP_REAL(vmsplice)(io->fd, io->iov, (size_t)io->iovcnt,
				 (unsigned)io->flags | SPLICE_F_NONBLOCK);
}

static ssize_t vmsplice_blocking(struct gp_io *io)
{
	return GP_REAL(vmsplice)(io->fd, io->iov, (size_t)io->iovcnt, (unsigned)io->flags);
}

ssize_t vmsplice(int fd, const struct iovec *iov, size_t n, unsigned flags)
{
	int mode;
	if (!gp_cooperative() || (flags & SPLICE_F_NONBLOCK) || n > INT_MAX ||
	    (mode = GP_REAL(fcntl)(fd, F_GETFL)) < 0)
		return GP_REAL(vmsplice)(fd, iov, n, flags);
	struct gp_io io = { .fd = fd, .events = (mode & O_ACCMODE) == O_RDONLY ? EV_READ : EV_WRITE,
			    .nowait = vmsplice_nowait, .blocking = vmsplice_blocking,
			    .iov = (struct iovec *)iov, .iovcnt = (int)n, .flags = (int)flags };
	return gp_ret(gp__io(&io));
}

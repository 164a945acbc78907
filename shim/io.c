/*
 * read, write, readv, writev (and the fortified __read_chk).
 *
 * The non-blocking attempt is preadv2/pwritev2 with offset -1 (the file position, as
 * read and write use) and RWF_NOWAIT: it works on sockets, pipes, FIFOs, eventfds and
 * most character devices, returns EAGAIN where read would block and EOPNOTSUPP where
 * the file cannot tell (ttys), and never changes the file's flags.
 */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"

static ssize_t readv_nowait(struct gp_io *io)
{
	return gp__real.preadv2(io->fd, io->iov, io->iovcnt, -1, RWF_NOWAIT);
}

static ssize_t readv_blocking(struct gp_io *io)
{
	return GP_REAL(readv)(io->fd, io->iov, io->iovcnt);
}

static ssize_t writev_nowait(struct gp_io *io)
{
	return gp__real.pwritev2(io->fd, io->iov, io->iovcnt, -1, RWF_NOWAIT);
}

static ssize_t writev_blocking(struct gp_io *io)
{
	return GP_REAL(writev)(io->fd, io->iov, io->iovcnt);
}

ssize_t read(int fd, void *buf, size_t n)
{
	/* Beyond SSIZE_MAX preadv2 says EINVAL where read says EFAULT: let read answer. */
	if (!gp_cooperative() || n > SSIZE_MAX)
		return GP_REAL(read)(fd, buf, n);
	struct iovec iov = { buf, n };
	struct gp_io io = { .fd = fd, .events = EV_READ, .nowait = readv_nowait,
			    .blocking = readv_blocking, .iov = &iov, .iovcnt = 1 };
	return gp_ret(gp__io(&io));
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
	return gp_ret(gp__io(&io));
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (!gp_cooperative() || n > SSIZE_MAX)
		return GP_REAL(write)(fd, buf, n);
	struct iovec iov = { (void *)buf, n };
	struct gp_io io = { .fd = fd, .events = EV_WRITE, .nowait = writev_nowait,
			    .blocking = writev_blocking, .iov = &iov, .iovcnt = 1 };
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

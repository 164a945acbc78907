/*
 * stdio reads on sockets, pipes and ttys.
 *
 * glibc's stdio fills a stream's buffer with an internal read (__read inside libc, no
 * PLT entry), which no hook sees: a green thread in fgets on a socket would block the
 * carrier and every other thread with it. What the C library does expose, as ABI, is
 * the get area of the FILE (_IO_read_ptr, _IO_read_end: the inline getc macros read
 * them), the flags _IO_EOF_SEEN and _IO_ERR_SEEN, and __uflow/__underflow, which fill
 * an empty buffer with one read. So every refill made here is preceded by a green wait
 * until the descriptor is readable, after which glibc's single read cannot block:
 *
 *   - the character readers (getc and friends, __uflow, __underflow) wait only when
 *     the buffer is empty, then call libc;
 *   - the line and block readers (fgets, getline/getdelim, fread) may need several
 *     refills in one call, so they are written here on top of the get area and the
 *     refill, following glibc's own code (libio/iogets.c, iogetdelim.c, iofread.c)
 *     for every result, errno and flag;
 *   - the scanf family cannot be rewritten on top of the get area, and a conversion may
 *     need any number of refills: it waits green until input is there, then runs on
 *     the offload pool, where its further reads block only a pool thread;
 *   - fflush waits until the descriptor is writable before libc writes the pending
 *     output, or writes it here when it is more than a writable descriptor surely
 *     takes; the writers (fwrite, fputs, fprintf...) are in stdio_out.c.
 *
 * A stream is left to libc entirely when the wait would be wrong or useless: no green
 * thread to switch to, a descriptor the program made non-blocking (libc's read then
 * fails with EAGAIN, as natively), a regular file, a stream with no descriptor
 * (fmemopen, fopencookie), a wide-oriented stream, a stream at end of file (glibc's
 * end of file is sticky: the next read returns EOF without reading).
 *
 * glibc's lock of the FILE is never held across a park: it names its owner by thread
 * pointer, so another green thread would wait for it in the kernel and freeze the
 * carrier. A green thread's flockfile is a green lock instead (flockfile.c), which
 * these hooks wait for before they touch a stream. Nothing else touches the get area
 * meanwhile: every green thread runs on the one carrier and none is preempted.
 */
/* GREENPATCH_UNPATCH=stdio leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_STDIO

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <wchar.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"
#include "offcall.h"
#include "signals.h"
#include "stdio_lock.h"

/*
 * From glibc's libio.h, which is not installed: the stream is unbuffered; it cannot
 * read; it reads from its pushback area; it is line-buffered; it was last used for
 * output.
 */
#define GP_IO_UNBUFFERED 0x0002
#define GP_IO_NO_READS 0x0004
#define GP_IO_IN_BACKUP 0x0100
#define GP_IO_LINE_BUF 0x0200
#define GP_IO_CURRENTLY_PUTTING 0x0800

/* Bytes left in the get area, counting a pushback area's return to the main one. */
static size_t buffered(const FILE *fp)
{
	size_t n = fp->_IO_read_end > fp->_IO_read_ptr
			   ? (size_t)(fp->_IO_read_end - fp->_IO_read_ptr) : 0;
	/* In the pushback area, the main area's unread bytes wait in the save fields. */
	if ((fp->_flags & GP_IO_IN_BACKUP) && fp->_IO_save_end > fp->_IO_save_base)
		n += (size_t)(fp->_IO_save_end - fp->_IO_save_base);
	return n;
}

/* A descriptor whose reads and writes wait for a peer: sockets, pipes, ttys. */
bool gp__waits_for_peer(const struct gp_fd *e)
{
	return e && e->nonblock == GP_NB_OFF &&
	       (e->kind == GP_FD_SOCKET || e->kind == GP_FD_NOWAIT || e->kind == GP_FD_POLL);
}

/* The stream's descriptor, if waiting on it green makes sense before libc reads it. */
static bool green_fd(FILE *fp, int *fd)
{
	if (!gp_cooperative() || fp->_mode > 0 || (fp->_flags & (_IO_EOF_SEEN | GP_IO_NO_READS)))
		return false;
	gp__file_wait(fp);
	*fd = fp->_fileno;
	if (*fd < 0)
		return false;
	return gp__waits_for_peer(gp__fd_learn(*fd));
}

static bool ready_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	return GP_REAL(poll)(&p, 1, 0) != 0;
}

/*
 * A socket that polls neither readable nor writable may still not make libc's call wait:
 * a listening or unconnected socket, or one shut for writing, fails it at once
 * (ENOTCONN, EPIPE), where a wait for readiness would last for ever. A transfer of 0
 * bytes that neither waits nor takes data (MSG_PEEK) nor raises SIGPIPE (MSG_NOSIGNAL)
 * answers as that call would: EAGAIN when it would wait, an error when it would fail.
 * Asked only when the descriptor is not ready, so no pending error (POLLERR) is taken.
 * A send of 0 bytes is a message on a datagram or seqpacket socket: only a stream's is
 * asked.
 */
static bool fails_at_once(int fd, int events)
{
	struct gp_fd *e = gp_fd_peek(fd);
	if (!e || e->kind != GP_FD_SOCKET || (events == EV_WRITE && !gp__fd_is_stream(fd)))
		return false;
	int saved = errno;
	ssize_t r = events == EV_READ
		? GP_REAL(recv)(fd, NULL, 0, MSG_DONTWAIT | MSG_PEEK)
		: GP_REAL(send)(fd, NULL, 0, MSG_DONTWAIT | MSG_NOSIGNAL);
	bool fails = r < 0 && errno != EAGAIN && errno != EINTR;
	errno = saved;
	return fails;
}

/*
 * Park until fd has events (EV_READ or EV_WRITE). 0 to go on to libc's call, which will
 * not block; -1 after recording on the stream what libc's read or write would have
 * failed with (a signal without SA_RESTART, SO_RCVTIMEO passing, the descriptor closed).
 */
int gp__stream_wait(FILE *fp, int fd, int events)
{
	short pev = events == EV_READ ? POLLIN : POLLOUT;
	while (!ready_now(fd, pev)) {
		if (fails_at_once(fd, events))
			return 0;
		int rc = gp__wait_fd_call(fd, gp_fd_get(fd), events);
		if (rc == 0)
			continue;
		errno = rc == -ETIMEDOUT ? EAGAIN : -rc;
		fp->_flags |= _IO_ERR_SEEN;
		return -1;
	}
	return 0;
}

/* Before libc refills fp's empty buffer: make sure its one read will not block. */
static int before_refill(FILE *fp)
{
	int fd;
	if (buffered(fp) > 0 || !green_fd(fp, &fd))
		return 0;
	return gp__stream_wait(fp, fd, EV_READ);
}

/* ---- characters ------------------------------------------------------------------- */

/* An _unlocked form's call: its caller holds the stream (flockfile), or is alone on it. */
#define UNLOCKED_CALL(fp, call) (call)

#define GREEN_CHAR_READER(name, args, call, made)      \
	int name args                                  \
	{                                              \
		if (before_refill(fp) < 0)             \
			return EOF;                    \
		return made(fp, GP_REAL(name) call);   \
	}

GREEN_CHAR_READER(fgetc, (FILE *fp), (fp), GP_FILE_CALL)
GREEN_CHAR_READER(getc, (FILE *fp), (fp), GP_FILE_CALL)
GREEN_CHAR_READER(_IO_getc, (FILE *fp), (fp), GP_FILE_CALL)
GREEN_CHAR_READER(fgetc_unlocked, (FILE *fp), (fp), UNLOCKED_CALL)
GREEN_CHAR_READER(getc_unlocked, (FILE *fp), (fp), UNLOCKED_CALL)
GREEN_CHAR_READER(__uflow, (FILE *fp), (fp), UNLOCKED_CALL)
GREEN_CHAR_READER(__underflow, (FILE *fp), (fp), UNLOCKED_CALL)

int getchar(void)
{
	return getc(stdin);
}

int getchar_unlocked(void)
{
	return getc_unlocked(stdin);
}

/* glibc's: gives fp its buffer (exported, declared in the uninstalled libio.h). */
extern void _IO_doallocbuf(FILE *fp);

/* The next byte, consumed (EOF at end of file or on error), refilling green. */
static int next_byte(FILE *fp)
{
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return *(unsigned char *)fp->_IO_read_ptr++;
	if (before_refill(fp) < 0)
		return EOF;
	return gp__real.__uflow(fp);
}

/* The next byte left in the get area (EOF at end of file or on error), not consumed. */
static int peek_byte(FILE *fp)
{
	if (fp->_IO_read_ptr < fp->_IO_read_end)
		return *(unsigned char *)fp->_IO_read_ptr;
	if (before_refill(fp) < 0)
		return EOF;
	return gp__real.__underflow(fp);
}

static size_t get_area_len(const FILE *fp)
{
	return (size_t)(fp->_IO_read_end - fp->_IO_read_ptr);
}

/* ---- lines ------------------------------------------------------------------------ */

/*
 * glibc's _IO_getline with the delimiter kept: up to n bytes into buf, stopping after
 * delim; the count stored.
 */
static size_t get_line(FILE *fp, char *buf, size_t n, int delim)
{
	char *p = buf;
	if (fp->_mode == 0)
		fwide(fp, -1);
	while (n > 0) {
		size_t len = get_area_len(fp);
		if (len == 0) {
			int c = next_byte(fp);
			if (c == EOF)
				break;
			*p++ = (char)c;
			n--;
			if (c == delim)
				break;
			continue;
		}
		if (len > n)
			len = n;
		char *t = memchr(fp->_IO_read_ptr, delim, len);
		if (t)
			len = (size_t)(t - fp->_IO_read_ptr) + 1;
		memcpy(p, fp->_IO_read_ptr, len);
		fp->_IO_read_ptr += len;
		p += len;
		n -= len;
		if (t)
			break;
	}
	return (size_t)(p - buf);
}

/* Does fgets on fp need this file's help, or can libc answer without waiting? */
static bool reads_green(FILE *fp)
{
	int fd;
	return green_fd(fp, &fd);
}

static char *green_fgets(char *buf, int n, FILE *fp)
{
	if (n <= 0)
		return NULL;
	if (n == 1) {
		buf[0] = '\0';
		return buf;
	}
	/* As glibc: an error seen before this call does not make it fail. */
	int old_error = fp->_flags & _IO_ERR_SEEN;
	fp->_flags &= ~_IO_ERR_SEEN;
	size_t count = get_line(fp, buf, (size_t)n - 1, '\n');
	char *result = buf;
	if (count == 0 || ((fp->_flags & _IO_ERR_SEEN) && errno != EAGAIN))
		result = NULL;
	else
		buf[count] = '\0';
	fp->_flags |= old_error;
	return result;
}

/* green_fgets with the stream's green lock held: one line to one thread, as natively. */
static char *held_fgets(char *buf, int n, FILE *fp)
{
	bool held = gp__file_hold(fp);
	char *r = green_fgets(buf, n, fp);
	if (held)
		gp__file_release(fp);
	return r;
}

char *fgets(char *buf, int n, FILE *fp)
{
	if (!reads_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(fgets)(buf, n, fp));
	return held_fgets(buf, n, fp);
}

char *fgets_unlocked(char *buf, int n, FILE *fp)
{
	if (!reads_green(fp))
		return GP_REAL(fgets_unlocked)(buf, n, fp);
	return held_fgets(buf, n, fp);
}

char *__fgets_chk(char *buf, size_t size, int n, FILE *fp)
{
	if ((size_t)n > size)
		__chk_fail();
	return fgets(buf, n, fp);
}

char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp)
{
	if ((size_t)n > size)
		__chk_fail();
	return fgets_unlocked(buf, n, fp);
}

/* Grow *line to hold need bytes, at least doubling, as glibc does. */
static int line_reserve(char **line, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	if (need < 2 * *cap)
		need = 2 * *cap;
	char *p = realloc(*line, need);
	if (!p)
		return -1;
	*line = p;
	*cap = need;
	return 0;
}

static ssize_t green_getdelim(char **line, size_t *cap, int delim, FILE *fp)
{
	if (fp->_flags & _IO_ERR_SEEN)
		return -1;
	if (!*line || *cap == 0) {
		*cap = 120;
		if (!(*line = realloc(*line, *cap)))
			goto fail;
	}
	if (peek_byte(fp) == EOF)
		return -1;
	size_t cur = 0;
	for (;;) {
		size_t len = get_area_len(fp);
		char *t = memchr(fp->_IO_read_ptr, delim, len);
		if (t)
			len = (size_t)(t - fp->_IO_read_ptr) + 1;
		if (cur + len + 1 < cur || cur + len + 1 > (size_t)SSIZE_MAX) {
			errno = EOVERFLOW;
			goto fail;
		}
		if (line_reserve(line, cap, cur + len + 1) < 0)
			goto fail;
		memcpy(*line + cur, fp->_IO_read_ptr, len);
		fp->_IO_read_ptr += len;
		cur += len;
		if (t || peek_byte(fp) == EOF)
			break;
	}
	(*line)[cur] = '\0';
	return (ssize_t)cur;
fail:
	fp->_flags |= _IO_ERR_SEEN;
	return -1;
}

ssize_t getdelim(char **line, size_t *cap, int delim, FILE *fp)
{
	if (!line || !cap) {
		errno = EINVAL;
		return -1;
	}
	if (!reads_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(getdelim)(line, cap, delim, fp));
	bool held = gp__file_hold(fp);
	ssize_t r = green_getdelim(line, cap, delim, fp);
	if (held)
		gp__file_release(fp);
	return r;
}

ssize_t __getdelim(char **line, size_t *cap, int delim, FILE *fp)
{
	return getdelim(line, cap, delim, fp);
}

ssize_t getline(char **line, size_t *cap, FILE *fp)
{
	return getdelim(line, cap, '\n', fp);
}

/* ---- blocks ----------------------------------------------------------------------- */

/*
 * Up to want bytes: first what is buffered, then refills. A request at least as large as
 * the buffer goes straight into the caller's memory, as glibc does, through our read
 * (which waits green); the descriptor is not seekable, so no offset is kept to match.
 */
static size_t green_read_bytes(FILE *fp, char *dst, size_t want)
{
	size_t done = 0;
	if (fp->_mode == 0)
		fwide(fp, -1);
	/* As glibc's _IO_file_xsgetn: the buffer first, so that a large request is read
	 * straight into dst, and nothing is taken from the descriptor into the buffer
	 * before (a count past user space then fails with EFAULT, leaving the data). */
	if (!fp->_IO_buf_base)
		_IO_doallocbuf(fp);
	while (done < want) {
		size_t len = get_area_len(fp);
		if (len > 0) {
			if (len > want - done)
				len = want - done;
			memcpy(dst + done, fp->_IO_read_ptr, len);
			fp->_IO_read_ptr += len;
			done += len;
			continue;
		}
		size_t bufsize = (size_t)(fp->_IO_buf_end - fp->_IO_buf_base);
		if (buffered(fp) == 0 && fp->_IO_buf_base && want - done >= bufsize &&
		    !(fp->_flags & (_IO_EOF_SEEN | GP_IO_CURRENTLY_PUTTING))) {
			/* A whole number of blocks, as glibc reads; the rest through the buffer. */
			size_t count = want - done;
			if (bufsize >= 128)
				count -= count % bufsize;
			ssize_t r = read(fp->_fileno, dst + done, count);
			if (r > 0) {
				done += (size_t)r;
				continue;
			}
			fp->_flags |= r == 0 ? _IO_EOF_SEEN : _IO_ERR_SEEN;
			break;
		}
		if (peek_byte(fp) == EOF)
			break;
	}
	return done;
}

static size_t green_fread(void *buf, size_t size, size_t n, FILE *fp)
{
	size_t want = size * n;   /* unchecked, as in glibc */
	if (want == 0)
		return 0;
	bool held = gp__file_hold(fp);
	size_t done = green_read_bytes(fp, buf, want);
	if (held)
		gp__file_release(fp);
	return done / size;
}

size_t fread(void *buf, size_t size, size_t n, FILE *fp)
{
	if (!reads_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(fread)(buf, size, n, fp));
	return green_fread(buf, size, n, fp);
}

size_t fread_unlocked(void *buf, size_t size, size_t n, FILE *fp)
{
	if (!reads_green(fp))
		return GP_REAL(fread_unlocked)(buf, size, n, fp);
	return green_fread(buf, size, n, fp);
}

/* glibc's check: the size * n bytes asked for fit in the caller's buffer. */
static void fread_check(size_t buflen, size_t size, size_t n)
{
	size_t half = (size_t)1 << (sizeof(size_t) * CHAR_BIT / 2);
	if ((n | size) >= half && size != 0 && (size * n) / size != n)
		__chk_fail();
	if (size * n > buflen)
		__chk_fail();
}

size_t __fread_chk(void *buf, size_t buflen, size_t size, size_t n, FILE *fp)
{
	fread_check(buflen, size, n);
	return fread(buf, size, n, fp);
}

size_t __fread_unlocked_chk(void *buf, size_t buflen, size_t size, size_t n, FILE *fp)
{
	fread_check(buflen, size, n);
	return fread_unlocked(buf, size, n, fp);
}

/* ---- scanf ------------------------------------------------------------------------ */

/*
 * <stdio.h> redirects fscanf, scanf, vfscanf and vscanf to their __isoc99_ versions in
 * C99 and later, so programs built today call those; older binaries call the plain
 * names, which keep the GNU meaning of %a. Both are hooked. The plain ones are defined
 * here under asm names, since their C names would be redirected too.
 */
#define GP_EXPORT_AS(sym) __asm__(sym) __attribute__((visibility("default")))

typedef int (*vfscanf_fn)(FILE *, const char *, va_list);

struct scanf_call {
	struct gp_offcall c;
	vfscanf_fn real;
	FILE *fp;
	const char *fmt;
	va_list ap;
};

static void run_scanf(struct gp_offcall *c)
{
	struct scanf_call *s = (struct scanf_call *)c;
	c->ret = s->real(s->fp, s->fmt, s->ap);
}

static int green_vfscanf(vfscanf_fn real, FILE *fp, const char *fmt, va_list ap)
{
	if (before_refill(fp) < 0)
		return EOF;
	if (!reads_green(fp))
		return GP_FILE_CALL(fp, real(fp, fmt, ap));
	/* Waiting for the rest of the input may take as long as whoever sends it likes. */
	struct scanf_call s = { .c = { .run = run_scanf, .unbounded = true },
				.real = real, .fp = fp, .fmt = fmt };
	va_copy(s.ap, ap);
	gp__offload_call(&s.c);
	va_end(s.ap);
	return (int)s.c.ret;
}

int gp__vfscanf(FILE *fp, const char *fmt, va_list ap) GP_EXPORT_AS("vfscanf");
int gp__vfscanf(FILE *fp, const char *fmt, va_list ap)
{
	return green_vfscanf(GP_REAL(vfscanf), fp, fmt, ap);
}

int gp__vscanf(const char *fmt, va_list ap) GP_EXPORT_AS("vscanf");
int gp__vscanf(const char *fmt, va_list ap)
{
	return green_vfscanf(GP_REAL(vfscanf), stdin, fmt, ap);
}

int gp__fscanf(FILE *fp, const char *fmt, ...) GP_EXPORT_AS("fscanf");
int gp__fscanf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = green_vfscanf(GP_REAL(vfscanf), fp, fmt, ap);
	va_end(ap);
	return rc;
}

int gp__scanf(const char *fmt, ...) GP_EXPORT_AS("scanf");
int gp__scanf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = green_vfscanf(GP_REAL(vfscanf), stdin, fmt, ap);
	va_end(ap);
	return rc;
}

int __isoc99_vfscanf(FILE *fp, const char *fmt, va_list ap)
{
	return green_vfscanf(GP_REAL(__isoc99_vfscanf), fp, fmt, ap);
}

int __isoc99_vscanf(const char *fmt, va_list ap)
{
	return green_vfscanf(GP_REAL(__isoc99_vfscanf), stdin, fmt, ap);
}

int __isoc99_fscanf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = green_vfscanf(GP_REAL(__isoc99_vfscanf), fp, fmt, ap);
	va_end(ap);
	return rc;
}

int __isoc99_scanf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = green_vfscanf(GP_REAL(__isoc99_vfscanf), stdin, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- output ----------------------------------------------------------------------- */

size_t gp__stdio_write_all(FILE *fp, const char *data, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fp->_fileno, data + done, n - done);
		if (w <= 0) {
			fp->_flags |= _IO_ERR_SEEN;
			break;
		}
		done += (size_t)w;
	}
	return done;
}

/*
 * What glibc's flush leaves behind, whether its write succeeded or not
 * (libio/fileops.c, new_do_write): an empty buffer, in which a line-buffered or
 * unbuffered stream sends every character through __overflow.
 */
static void buffer_written(FILE *fp, size_t n)
{
	if (fp->_offset >= 0)
		fp->_offset += (off64_t)n;
	fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end = fp->_IO_buf_base;
	fp->_IO_write_base = fp->_IO_write_ptr = fp->_IO_buf_base;
	fp->_IO_write_end = fp->_flags & (GP_IO_LINE_BUF | GP_IO_UNBUFFERED) ? fp->_IO_buf_base
									    : fp->_IO_buf_end;
}

/*
 * libc writes a stream's pending output in one write, which waits until all of it is
 * in the pipe or socket. A descriptor that polls writable surely takes GP_STDIO_SURE_ROOM
 * bytes: for as much, waiting green until then is enough. More (a buffer the program
 * made larger with setvbuf) is written here, through our write, which parks whenever
 * the descriptor is full, and the stream is left as glibc's flush leaves it.
 */
int gp__stdio_before_flush(FILE *fp)
{
	int fd;
	if (!fp || fp->_IO_write_ptr <= fp->_IO_write_base)
		return 0;
	if (!gp_cooperative() || fp->_fileno < 0 || fp->_mode > 0)
		return 0;
	gp__file_wait(fp);
	fd = fp->_fileno;
	if (!gp__waits_for_peer(gp__fd_learn(fd)))
		return 0;
	size_t n = (size_t)(fp->_IO_write_ptr - fp->_IO_write_base);
	if (n <= GP_STDIO_SURE_ROOM)
		return gp__stream_wait(fp, fd, EV_WRITE);
	size_t done = gp__stdio_write_all(fp, fp->_IO_write_base, n);
	int err = errno;
	buffer_written(fp, done);
	errno = err;
	return done == n ? 0 : -1;
}

int fflush(FILE *fp)
{
	if (!fp)
		gp__file_wait_all();
	if (gp__wide_flush_may_wait(fp))
		return GP_BLOCKING(GP_REAL(fflush)(fp));
	if (gp__stdio_before_flush(fp) < 0)
		return EOF;
	return GP_FILE_CALL(fp, GP_REAL(fflush)(fp));
}

int fflush_unlocked(FILE *fp)
{
	if (gp__wide_flush_may_wait(fp))
		return GP_BLOCKING(GP_REAL(fflush_unlocked)(fp));
	if (gp__stdio_before_flush(fp) < 0)
		return EOF;
	return GP_REAL(fflush_unlocked)(fp);
}

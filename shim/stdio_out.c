/*
 * stdio writes on sockets, pipes and ttys.
 *
 * When a stream's buffer fills, glibc writes it out with its internal write, which no
 * hook sees and which waits as long as the peer does not read. So a write that would
 * not fit in the buffer's free space is done here in two steps: the pending output is
 * flushed once the descriptor is writable (gp__stdio_before_flush), then data as large
 * as the buffer goes straight to the descriptor through our write (which parks, and
 * writes everything, as glibc's direct write of a large fwrite does), and smaller data
 * goes to the now empty buffer. Data that fits is left to libc, which then does no
 * system call at all. A line-buffered or unbuffered stream (a tty, or setvbuf) writes at
 * each call, so its pending output is flushed green first too. libc writes what it
 * writes in one write, which waits until all of it is taken: a line, or pending output,
 * larger than what a writable descriptor surely takes (a buffer made larger with
 * setvbuf) is written here instead, through our write.
 *
 * The printf family formats into memory first (a stack buffer, or vasprintf for more),
 * then writes that; the fortified forms format with their own checks. dprintf, which
 * glibc writes through a stream of its own, is formatted the same way and written with
 * our write.
 *
 * Everything else (regular files, streams without a descriptor, wide streams, a
 * descriptor the program made non-blocking, no other green thread) is libc's.
 */
/* GREENPATCH_UNPATCH=stdio leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_STDIO

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "iowait.h"
#include "stdio_lock.h"

/* From glibc's libio.h, which is not installed. */
#define GP_IO_UNBUFFERED 0x0002
#define GP_IO_NO_WRITES 0x0008
#define GP_IO_LINE_BUF 0x0200

static bool writes_green(FILE *fp)
{
	if (!gp_cooperative() || fp->_fileno < 0 || fp->_mode > 0 ||
	    (fp->_flags & GP_IO_NO_WRITES))
		return false;
	gp__file_wait(fp);
	return gp__waits_for_peer(gp__fd_learn(fp->_fileno));
}

/*
 * Would libc take these n bytes without a system call? A fully buffered stream does
 * while they fit in the free space, filling it to the end (glibc flushes a full buffer
 * at the next write, not this one); a line-buffered one too, unless they hold a
 * newline; an unbuffered one never.
 */
static bool fits(const FILE *fp, const char *data, size_t n)
{
	if (fp->_flags & GP_IO_UNBUFFERED)
		return false;
	/* A line-buffered stream keeps _IO_write_end at the buffer's start, so that every
	 * putc goes through __overflow: its free space ends at the buffer's end. */
	const char *end = fp->_IO_write_end;
	if (fp->_flags & GP_IO_LINE_BUF) {
		if (memchr(data, '\n', n))
			return false;
		end = fp->_IO_buf_end;
	}
	return fp->_IO_write_ptr && end > fp->_IO_write_ptr &&
	       n <= (size_t)(end - fp->_IO_write_ptr);
}

static size_t buffer_size(const FILE *fp)
{
	return fp->_IO_buf_base ? (size_t)(fp->_IO_buf_end - fp->_IO_buf_base) : BUFSIZ;
}

static size_t pending(const FILE *fp)
{
	return fp->_IO_write_ptr > fp->_IO_write_base
		       ? (size_t)(fp->_IO_write_ptr - fp->_IO_write_base) : 0;
}

/*
 * n bytes onto fp, with fp's green lock held (green_put): the count written (short after
 * an error, with the error flag set). The green lock keeps the other green threads out
 * of the stream for the whole call, wherever the thread runs (one handed off while
 * libc's own write of the buffer waits included), so libc's _unlocked calls serve:
 * glibc's lock, which a waiting thread would hold, is never held across a wait that a
 * signal handler on the carrier could then wait behind.
 */
static size_t put_held(FILE *fp, const char *data, size_t n)
{
	if (n == 0 || fits(fp, data, n))
		return GP_REAL(fwrite_unlocked)(data, 1, n, fp);
	/* A line with its pending start, within the buffer and the room a writable
	 * descriptor surely has: libc writes it in one go. */
	if ((fp->_flags & GP_IO_LINE_BUF) && pending(fp) + n < buffer_size(fp) &&
	    pending(fp) + n <= GP_STDIO_SURE_ROOM) {
		if (gp__stream_wait(fp, fp->_fileno, EV_WRITE) < 0)
			return 0;
		return GP_REAL(fwrite_unlocked)(data, 1, n, fp);
	}
	/* glibc fills a fully buffered stream's free space before it flushes, and counts
	 * those bytes as written when the flush then fails (_IO_new_file_xsputn). */
	size_t room = !(fp->_flags & (GP_IO_LINE_BUF | GP_IO_UNBUFFERED)) && fp->_IO_write_ptr &&
			      fp->_IO_write_end > fp->_IO_write_ptr
		? (size_t)(fp->_IO_write_end - fp->_IO_write_ptr) : 0;
	if (gp__stdio_before_flush(fp) < 0 || GP_REAL(fflush_unlocked)(fp) != 0)
		return room < n ? room : n;
	if (n < buffer_size(fp) && !(fp->_flags & GP_IO_UNBUFFERED)) {
		if (!(fp->_flags & GP_IO_LINE_BUF) || !memchr(data, '\n', n))
			return GP_REAL(fwrite_unlocked)(data, 1, n, fp);
		/* A line-buffered stream writes here up to the last newline: let it wait, or
		 * write the lines here when they may not fit, and leave the rest to libc. */
		size_t lines = (size_t)((const char *)memrchr(data, '\n', n) - data) + 1;
		if (lines <= GP_STDIO_SURE_ROOM) {
			if (gp__stream_wait(fp, fp->_fileno, EV_WRITE) < 0)
				return 0;
			return GP_REAL(fwrite_unlocked)(data, 1, n, fp);
		}
		size_t done = gp__stdio_write_all(fp, data, lines);
		if (done < lines)
			return done;
		return lines + GP_REAL(fwrite_unlocked)(data + lines, 1, n - lines, fp);
	}
	return gp__stdio_write_all(fp, data, n);
}

/* put_held with fp's green lock held: the call's parts are not cut into by others'. */
static size_t green_put(FILE *fp, const char *data, size_t n)
{
	bool held = gp__file_hold(fp);
	size_t done = put_held(fp, data, n);
	if (held)
		gp__file_release(fp);
	return done;
}

/* ---- blocks and strings ------------------------------------------------------------ */

static size_t green_fwrite(const void *buf, size_t size, size_t n, FILE *fp)
{
	size_t want = size * n;   /* unchecked, as in glibc */
	if (want == 0)
		return 0;
	size_t done = green_put(fp, buf, want);
	return done == want ? n : done / size;
}

size_t fwrite(const void *buf, size_t size, size_t n, FILE *fp)
{
	if (!writes_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(fwrite)(buf, size, n, fp));
	return green_fwrite(buf, size, n, fp);
}

/*
 * The _unlocked forms with data that fits in the buffer are libc's at once: its call
 * makes no system call, so it never parks, and takes no lock, as natively (the green
 * lock was two trips through the runtime's lock). Not the locked forms: glibc's lock
 * there would not keep out a thread that holds the stream's green lock (flockfile), so
 * another thread's locked section could be cut into.
 */
size_t fwrite_unlocked(const void *buf, size_t size, size_t n, FILE *fp)
{
	if (!writes_green(fp) || fits(fp, buf, size * n))
		return GP_REAL(fwrite_unlocked)(buf, size, n, fp);
	return green_fwrite(buf, size, n, fp);
}

int fputs(const char *s, FILE *fp)
{
	if (!writes_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(fputs)(s, fp));
	size_t n = strlen(s);
	return green_put(fp, s, n) == n ? 1 : EOF;
}

int fputs_unlocked(const char *s, FILE *fp)
{
	size_t n;
	if (!writes_green(fp) || fits(fp, s, n = strlen(s)))
		return GP_REAL(fputs_unlocked)(s, fp);
	return green_put(fp, s, n) == n ? 1 : EOF;
}

int puts(const char *s)
{
	if (!writes_green(stdout))
		return GP_FILE_CALL(stdout, GP_REAL(puts)(s));
	size_t n = strlen(s);
	bool held = gp__file_hold(stdout);   /* the line and its newline together */
	bool ok = put_held(stdout, s, n) == n && put_held(stdout, "\n", 1) == 1;
	if (held)
		gp__file_release(stdout);
	if (!ok)
		return EOF;
	return n + 1 > (size_t)INT_MAX ? INT_MAX : (int)(n + 1);
}

/* ---- characters -------------------------------------------------------------------- */

/*
 * One character: libc's call when it only fills the buffer, else green_put. A locked
 * form's call holds glibc's lock from the look at the green lock on (GP_FILE_CALL); an
 * _unlocked form's caller holds the stream already.
 */
static int green_putc(int (*real)(int, FILE *), bool locked, int c, FILE *fp)
{
	unsigned char ch = (unsigned char)c;
	if (!writes_green(fp) || fits(fp, (const char *)&ch, 1))
		return locked ? GP_FILE_CALL(fp, real(c, fp)) : real(c, fp);
	return green_put(fp, (const char *)&ch, 1) == 1 ? ch : EOF;
}

#define GREEN_CHAR_WRITER(name, locked)                          \
	int name(int c, FILE *fp)                                \
	{                                                        \
		return green_putc(GP_REAL(name), locked, c, fp); \
	}

GREEN_CHAR_WRITER(fputc, true)
GREEN_CHAR_WRITER(putc, true)
GREEN_CHAR_WRITER(_IO_putc, true)
GREEN_CHAR_WRITER(fputc_unlocked, false)
GREEN_CHAR_WRITER(putc_unlocked, false)

/*
 * What the inline putc macros call when the buffer is full (or to flush it, with EOF):
 * put c as putc would, or flush once the descriptor takes it.
 */
int __overflow(FILE *fp, int c)
{
	if (!writes_green(fp))
		return GP_REAL(__overflow)(fp, c);
	if (c == EOF)
		return gp__stdio_before_flush(fp) < 0 ? EOF : GP_REAL(__overflow)(fp, c);
	unsigned char ch = (unsigned char)c;
	return green_put(fp, (const char *)&ch, 1) == 1 ? ch : EOF;
}

int putchar(int c)
{
	return putc(c, stdout);
}

int putchar_unlocked(int c)
{
	return putc_unlocked(c, stdout);
}

/* ---- printf ------------------------------------------------------------------------ */

#define FORMAT_ON_STACK 512

/* glibc's fortified formatters, declared by <stdio.h> only in fortified builds. */
extern int __vsnprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt,
			   va_list ap);
extern int __vasprintf_chk(char **ptr, int flag, const char *fmt, va_list ap);
extern int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap);
extern int __dprintf_chk(int fd, int flag, const char *fmt, ...);

/*
 * Format into small (or, if longer, memory from vasprintf, in *text): the length, or -1.
 * flag < 0: vsnprintf's checks; else the fortified ones at that level.
 */
static int format(char *small, size_t size, char **text, int flag, const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	*text = small;
	int n = flag < 0 ? vsnprintf(small, size, fmt, ap)
			 : __vsnprintf_chk(small, size, flag, size, fmt, ap);
	if (n >= (int)size) {
		n = flag < 0 ? vasprintf(text, fmt, again) : __vasprintf_chk(text, flag, fmt, again);
		if (n < 0)
			*text = small;
	}
	va_end(again);
	return n;
}

static int green_vfprintf(FILE *fp, int flag, const char *fmt, va_list ap)
{
	char small[FORMAT_ON_STACK], *text;
	int n = format(small, sizeof(small), &text, flag, fmt, ap);
	if (n >= 0 && green_put(fp, text, (size_t)n) != (size_t)n)
		n = -1;
	if (text != small)
		free(text);
	return n;
}

int vfprintf(FILE *fp, const char *fmt, va_list ap)
{
	if (!writes_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(vfprintf)(fp, fmt, ap));
	return green_vfprintf(fp, -1, fmt, ap);
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int fprintf(FILE *fp, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(fp, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}

int __vfprintf_chk(FILE *fp, int flag, const char *fmt, va_list ap)
{
	if (!writes_green(fp))
		return GP_FILE_CALL(fp, GP_REAL(__vfprintf_chk)(fp, flag, fmt, ap));
	return green_vfprintf(fp, flag, fmt, ap);
}

int __vprintf_chk(int flag, const char *fmt, va_list ap)
{
	return __vfprintf_chk(stdout, flag, fmt, ap);
}

int __fprintf_chk(FILE *fp, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = __vfprintf_chk(fp, flag, fmt, ap);
	va_end(ap);
	return n;
}

int __printf_chk(int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = __vfprintf_chk(stdout, flag, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- dprintf: formatted, then written with one cooperative write ------------------- */

static int green_vdprintf(int fd, int flag, const char *fmt, va_list ap)
{
	char small[FORMAT_ON_STACK], *text;
	int n = format(small, sizeof(small), &text, flag, fmt, ap);
	if (n > 0 && write(fd, text, (size_t)n) != n)
		n = -1;
	if (text != small)
		free(text);
	return n;
}

int vdprintf(int fd, const char *fmt, va_list ap)
{
	if (!gp_cooperative())
		return GP_REAL(vdprintf)(fd, fmt, ap);
	return green_vdprintf(fd, -1, fmt, ap);
}

int __vdprintf_chk(int fd, int flag, const char *fmt, va_list ap)
{
	if (!gp_cooperative())
		return GP_REAL(__vdprintf_chk)(fd, flag, fmt, ap);
	return green_vdprintf(fd, flag, fmt, ap);
}

int dprintf(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vdprintf(fd, fmt, ap);
	va_end(ap);
	return n;
}

int __dprintf_chk(int fd, int flag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = __vdprintf_chk(fd, flag, fmt, ap);
	va_end(ap);
	return n;
}

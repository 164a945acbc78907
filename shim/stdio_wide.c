/*
 * Wide-character stdio on sockets, pipes and ttys (fgetwc, fgetws, fputws, fwprintf,
 * the fwscanf family...).
 *
 * A wide stream keeps a buffer of wide characters in front of its byte buffer, and
 * converts between the two inside the C library, where refills and flushes make their
 * reads and writes with no hook to see them. The byte hooks (stdio.c, stdio_out.c)
 * leave wide streams alone. Here:
 *
 *   - a character read from a stream with nothing buffered waits green until the
 *     descriptor is readable, then lets libc refill with its one read (a multibyte
 *     character cut in two by the peer would need a second one: the monitor's hand-off
 *     covers that rare case);
 *   - a line read with no newline buffered, and the fwscanf family, which may need any
 *     number of refills, wait green for the first input, then run on the calling
 *     thread's own kernel thread with the carrier handed off (gp__block_begin);
 *   - a write that fits in the wide buffer of a fully buffered stream is libc's, with no
 *     system call; any other (a line-buffered or unbuffered stream, a full buffer) may
 *     write, and runs apart as above. The wprintf family formats into memory first
 *     (vswprintf) so that its length is known; a text too long for that is printed
 *     apart directly.
 *
 * A call that parks or runs apart holds the stream's green lock (stdio_lock.h), so that
 * other green threads wait for the stream green rather than in glibc's lock.
 */
/* GREENPATCH_UNPATCH=stdio leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_STDIO

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"
#include "stdio_lock.h"

/* From glibc's libio.h, which is not installed. */
#define GP_IO_UNBUFFERED 0x0002
#define GP_IO_NO_READS 0x0004
#define GP_IO_NO_WRITES 0x0008
#define GP_IO_LINE_BUF 0x0200

/*
 * The start of glibc's struct _IO_wide_data: the wide get and put areas, laid out as
 * the byte ones at the start of FILE (libio/libio.h). Stable since glibc 2.2.
 */
struct wide_areas {
	wchar_t *read_ptr, *read_end, *read_base;
	wchar_t *write_base, *write_ptr, *write_end;
	wchar_t *buf_base, *buf_end;
};

static const struct wide_areas *wide(const FILE *fp)
{
	return (const struct wide_areas *)fp->_wide_data;
}

/* A stream whose reads or writes (no_flag) would wait for a peer, on a green thread. */
static bool wide_green(FILE *fp, int no_flag)
{
	if (!gp_cooperative() || fp->_mode < 0 || fp->_fileno < 0 || (fp->_flags & no_flag))
		return false;
	gp__file_wait(fp);
	return gp__waits_for_peer(gp__fd_learn(fp->_fileno));
}

/* Characters or bytes waiting to be read, in either buffer. */
static bool anything_buffered(const FILE *fp)
{
	const struct wide_areas *w = wide(fp);
	return (fp->_mode > 0 && w && w->read_ptr < w->read_end) ||
	       fp->_IO_read_ptr < fp->_IO_read_end;
}

static bool newline_buffered(const FILE *fp)
{
	const struct wide_areas *w = wide(fp);
	return fp->_mode > 0 && w && w->read_ptr < w->read_end &&
	       wmemchr(w->read_ptr, L'\n', (size_t)(w->read_end - w->read_ptr));
}

/* Before libc may refill: wait until its read will not block. 0, or -1 (errno set). */
static int wait_for_input(FILE *fp)
{
	if ((fp->_flags & _IO_EOF_SEEN) || anything_buffered(fp))
		return 0;
	return gp__stream_wait(fp, fp->_fileno, EV_READ);
}

/* Would libc take n more wide characters without writing? */
static bool wide_fits(const FILE *fp, size_t n)
{
	const struct wide_areas *w = wide(fp);
	if (fp->_mode <= 0 || !w || (fp->_flags & (GP_IO_UNBUFFERED | GP_IO_LINE_BUF)))
		return false;
	return w->write_ptr && w->write_end > w->write_ptr &&
	       (size_t)(w->write_end - w->write_ptr) >= n;
}

bool gp__wide_flush_may_wait(FILE *fp)
{
	const struct wide_areas *w = fp ? wide(fp) : NULL;
	return fp && fp->_mode > 0 && w && w->write_ptr > w->write_base &&
	       wide_green(fp, GP_IO_NO_WRITES);
}

/* ---- reading ------------------------------------------------------------------------ */

#define WIDE_CHAR_READER(name, params, stream, args)                           \
	wint_t name params                                                     \
	{                                                                      \
		FILE *fp_ = (stream);                                          \
		if (!wide_green(fp_, GP_IO_NO_READS))                          \
			return GP_FILE_CALL(fp_, GP_REAL(name) args);          \
		bool held = gp__file_hold(fp_);                                \
		wint_t r = wait_for_input(fp_) < 0 ? WEOF : GP_REAL(name) args; \
		if (held)                                                      \
			gp__file_release(fp_);                                 \
		return r;                                                      \
	}

WIDE_CHAR_READER(fgetwc, (FILE *fp), fp, (fp))
WIDE_CHAR_READER(getwc, (FILE *fp), fp, (fp))
WIDE_CHAR_READER(fgetwc_unlocked, (FILE *fp), fp, (fp))
WIDE_CHAR_READER(getwc_unlocked, (FILE *fp), fp, (fp))
WIDE_CHAR_READER(getwchar, (void), stdin, ())
WIDE_CHAR_READER(getwchar_unlocked, (void), stdin, ())

/* A line with its newline already buffered is libc's; else the first input, then apart. */
#define WIDE_LINE_READER(name, params, args)                                   \
	wchar_t *name params                                                   \
	{                                                                      \
		if (!wide_green(fp, GP_IO_NO_READS) || newline_buffered(fp))   \
			return GP_FILE_CALL(fp, GP_REAL(name) args);           \
		bool held = gp__file_hold(fp);                                 \
		wchar_t *r = wait_for_input(fp) < 0 ? NULL                     \
						    : GP_BLOCKING(GP_REAL(name) args); \
		if (held)                                                      \
			gp__file_release(fp);                                  \
		return r;                                                      \
	}

WIDE_LINE_READER(fgetws, (wchar_t *ws, int n, FILE *fp), (ws, n, fp))
WIDE_LINE_READER(fgetws_unlocked, (wchar_t *ws, int n, FILE *fp), (ws, n, fp))
WIDE_LINE_READER(__fgetws_chk, (wchar_t *ws, size_t size, int n, FILE *fp), (ws, size, n, fp))
WIDE_LINE_READER(__fgetws_unlocked_chk, (wchar_t *ws, size_t size, int n, FILE *fp),
		 (ws, size, n, fp))

typedef int (*vfwscanf_fn)(FILE *, const wchar_t *, va_list);

static int green_vfwscanf(vfwscanf_fn real, FILE *fp, const wchar_t *fmt, va_list ap)
{
	if (!wide_green(fp, GP_IO_NO_READS))
		return real(fp, fmt, ap);
	bool held = gp__file_hold(fp);
	int r = wait_for_input(fp) < 0 ? EOF : GP_BLOCKING(real(fp, fmt, ap));
	if (held)
		gp__file_release(fp);
	return r;
}

/*
 * <wchar.h> renames fwscanf and the others to their __isoc99_ forms for C99 programs:
 * the plain names, which older programs import, are defined under asm names.
 */
#define GP_EXPORT_AS(sym) __asm__(sym) __attribute__((visibility("default")))

int gp__vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap) GP_EXPORT_AS("vfwscanf");
int gp__vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap)
{
	return green_vfwscanf(GP_REAL(vfwscanf), fp, fmt, ap);
}

int gp__vwscanf(const wchar_t *fmt, va_list ap) GP_EXPORT_AS("vwscanf");
int gp__vwscanf(const wchar_t *fmt, va_list ap)
{
	return green_vfwscanf(GP_REAL(vfwscanf), stdin, fmt, ap);
}

int gp__fwscanf(FILE *fp, const wchar_t *fmt, ...) GP_EXPORT_AS("fwscanf");
int gp__fwscanf(FILE *fp, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwscanf(GP_REAL(vfwscanf), fp, fmt, ap);
	va_end(ap);
	return r;
}

int gp__wscanf(const wchar_t *fmt, ...) GP_EXPORT_AS("wscanf");
int gp__wscanf(const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwscanf(GP_REAL(vfwscanf), stdin, fmt, ap);
	va_end(ap);
	return r;
}

int __isoc99_vfwscanf(FILE *fp, const wchar_t *fmt, va_list ap)
{
	return green_vfwscanf(GP_REAL(__isoc99_vfwscanf), fp, fmt, ap);
}

int __isoc99_vwscanf(const wchar_t *fmt, va_list ap)
{
	return green_vfwscanf(GP_REAL(__isoc99_vfwscanf), stdin, fmt, ap);
}

int __isoc99_fwscanf(FILE *fp, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwscanf(GP_REAL(__isoc99_vfwscanf), fp, fmt, ap);
	va_end(ap);
	return r;
}

int __isoc99_wscanf(const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwscanf(GP_REAL(__isoc99_vfwscanf), stdin, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- writing ------------------------------------------------------------------------ */

/* call writes n wide characters to fp: libc's if they fit, else apart. */
#define WIDE_WRITE(fp, n, type, call)                                          \
	__extension__({                                                        \
		type r_;                                                       \
		if (!wide_green(fp, GP_IO_NO_WRITES) || wide_fits(fp, n)) {    \
			r_ = GP_FILE_CALL(fp, call);                           \
		} else {                                                       \
			bool held_ = gp__file_hold(fp);                        \
			r_ = GP_BLOCKING(call);                                \
			if (held_)                                             \
				gp__file_release(fp);                          \
		}                                                              \
		r_;                                                            \
	})

wint_t fputwc(wchar_t c, FILE *fp)
{
	return WIDE_WRITE(fp, 1, wint_t, GP_REAL(fputwc)(c, fp));
}

wint_t putwc(wchar_t c, FILE *fp)
{
	return WIDE_WRITE(fp, 1, wint_t, GP_REAL(putwc)(c, fp));
}

wint_t fputwc_unlocked(wchar_t c, FILE *fp)
{
	return WIDE_WRITE(fp, 1, wint_t, GP_REAL(fputwc_unlocked)(c, fp));
}

wint_t putwc_unlocked(wchar_t c, FILE *fp)
{
	return WIDE_WRITE(fp, 1, wint_t, GP_REAL(putwc_unlocked)(c, fp));
}

wint_t putwchar(wchar_t c)
{
	return WIDE_WRITE(stdout, 1, wint_t, GP_REAL(putwchar)(c));
}

wint_t putwchar_unlocked(wchar_t c)
{
	return WIDE_WRITE(stdout, 1, wint_t, GP_REAL(putwchar_unlocked)(c));
}

int fputws(const wchar_t *ws, FILE *fp)
{
	return WIDE_WRITE(fp, wcslen(ws), int, GP_REAL(fputws)(ws, fp));
}

int fputws_unlocked(const wchar_t *ws, FILE *fp)
{
	return WIDE_WRITE(fp, wcslen(ws), int, GP_REAL(fputws_unlocked)(ws, fp));
}

/* What a wprintf formats in memory first; longer texts are printed apart directly. */
#define FORMAT_ROOM 512

extern int __vswprintf_chk(wchar_t *s, size_t n, int flag, size_t slen, const wchar_t *fmt,
			   va_list ap);

/*
 * flag < 0: the plain form; else the fortified one's flag. The text goes out as fputws
 * would; one that does not fit FORMAT_ROOM is formatted again by libc, apart.
 */
static int green_vfwprintf(FILE *fp, int flag, const wchar_t *fmt, va_list ap)
{
	if (!wide_green(fp, GP_IO_NO_WRITES))
		return flag < 0 ? GP_FILE_CALL(fp, GP_REAL(vfwprintf)(fp, fmt, ap))
				: GP_FILE_CALL(fp, GP_REAL(__vfwprintf_chk)(fp, flag, fmt, ap));
	wchar_t text[FORMAT_ROOM];
	va_list copy;
	va_copy(copy, ap);
	int saved_errno = errno;
	int n = flag < 0 ? vswprintf(text, FORMAT_ROOM, fmt, copy)
			 : __vswprintf_chk(text, FORMAT_ROOM, flag, FORMAT_ROOM, fmt, copy);
	va_end(copy);
	errno = saved_errno;
	/* A text with a null character in it (%lc of 0) is not one fputws can write. */
	if (n >= 0 && wcslen(text) == (size_t)n)
		return WIDE_WRITE(fp, (size_t)n, int, GP_REAL(fputws)(text, fp)) < 0 ? -1 : n;
	bool held = gp__file_hold(fp);
	int r = flag < 0 ? GP_BLOCKING(GP_REAL(vfwprintf)(fp, fmt, ap))
			 : GP_BLOCKING(GP_REAL(__vfwprintf_chk)(fp, flag, fmt, ap));
	if (held)
		gp__file_release(fp);
	return r;
}

int vfwprintf(FILE *fp, const wchar_t *fmt, va_list ap)
{
	return green_vfwprintf(fp, -1, fmt, ap);
}

int vwprintf(const wchar_t *fmt, va_list ap)
{
	return green_vfwprintf(stdout, -1, fmt, ap);
}

int fwprintf(FILE *fp, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwprintf(fp, -1, fmt, ap);
	va_end(ap);
	return r;
}

int wprintf(const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwprintf(stdout, -1, fmt, ap);
	va_end(ap);
	return r;
}

int __vfwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, va_list ap)
{
	return green_vfwprintf(fp, flag, fmt, ap);
}

int __vwprintf_chk(int flag, const wchar_t *fmt, va_list ap)
{
	return green_vfwprintf(stdout, flag, fmt, ap);
}

int __fwprintf_chk(FILE *fp, int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwprintf(fp, flag, fmt, ap);
	va_end(ap);
	return r;
}

int __wprintf_chk(int flag, const wchar_t *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = green_vfwprintf(stdout, flag, fmt, ap);
	va_end(ap);
	return r;
}

#ifndef GP_STDIO_LOCK_H
#define GP_STDIO_LOCK_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Park while another green thread holds fp's lock through flockfile (flockfile.c):
 * called by the stdio hooks before they read or write a stream.
 */
void gp__file_wait(FILE *fp);

/*
 * fflush(NULL) flushes every stream under its lock (glibc's _IO_flush_all), so natively
 * it waits for each stream another thread holds with flockfile. Here those are green
 * locks, which glibc's does not see: park until each stream another green thread holds
 * is released, one after another as glibc takes them.
 */
void gp__file_wait_all(void);

/*
 * libc's own call on fp (a locked one: fputs, not fputs_unlocked) from a green thread,
 * after the hook looked at fp's green lock: made holding glibc's lock of fp, under which
 * the green lock is looked at again, so that no flockfile on another carrier comes in
 * between (flockfile.c). gp__file_turn parks while another green thread holds the green
 * lock; true if it took glibc's lock, which gp__file_turn_end gives back.
 */
bool gp__file_turn(FILE *fp);
void gp__file_turn_end(FILE *fp);

#define GP_FILE_CALL(fp, call)                          \
	({                                              \
		FILE *turn_fp_ = (fp);                  \
		bool turn_ = gp__file_turn(turn_fp_);   \
		__typeof__(call) turn_r_ = (call);      \
		if (turn_)                              \
			gp__file_turn_end(turn_fp_);    \
		turn_r_;                                \
	})

/*
 * On a green thread: take fp's green lock for one stdio call that may park (parking
 * while another green thread holds it); true if taken, to be given back with
 * gp__file_release. Recursive: a thread that holds it through flockfile takes it again.
 */
bool gp__file_hold(FILE *fp);
void gp__file_release(FILE *fp);

/*
 * A wide stream with output pending in its wide buffer, on a descriptor that waits for
 * a peer, on a green thread: its flush (fflush, fclose) may wait, and is made apart
 * (stdio_wide.c).
 */
bool gp__wide_flush_may_wait(FILE *fp);

/*
 * When the runtime starts, on the first thread: the streams it holds locked with
 * flockfile become green locks of its green thread first.
 */
struct gp_green;
void gp__file_locks_adopt(struct gp_green *first);

/* In the child of fork: no stream is locked. */
void gp__file_locks_after_fork(void);

#endif

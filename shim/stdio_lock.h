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

#ifndef GP_STDIO_LOCK_H
#define GP_STDIO_LOCK_H

#include <stdio.h>

/*
 * Park while another green thread holds fp's lock through flockfile (flockfile.c):
 * called by the stdio hooks before they read or write a stream.
 */
void gp__file_wait(FILE *fp);

/* In the child of fork: no stream is locked. */
void gp__file_locks_after_fork(void);

#endif

/*
 * Files of /proc read by the monitor without a descriptor in the program's table.
 *
 * An open takes the lowest free descriptor number, and the program's table is shared by
 * all its kernel threads: a number the monitor holds for a moment is one the program may
 * be dup2()ing over (EBUSY while the open is under way), or replace, after which the
 * monitor's close would close the program's file. So the monitor asks a reader: a kernel
 * thread of the library with a table of its own (unshare(CLONE_FILES), then everything
 * it inherited closed), where its opens cannot meet the program's numbers. Where no
 * reader can be had, the file is opened in place, as before.
 */
#ifndef GP_PROCREAD_H
#define GP_PROCREAD_H

/* Reads the file at fd (raw system calls: it runs on the reader). */
typedef void gp_proc_use_fn(int fd, void *arg);

/* Open path read-only, run use(fd, arg), close: 0, or -errno when it cannot be opened. */
int gp_proc_with(const char *path, gp_proc_use_fn *use, void *arg);

/*
 * The same opened in the caller's table: for a signal handler (a dump), which must not
 * wait for a reader the interrupted thread may be asking.
 */
int gp_proc_with_here(const char *path, gp_proc_use_fn *use, void *arg);

#endif

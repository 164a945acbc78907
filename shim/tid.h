#ifndef GP_SHIM_TID_H
#define GP_SHIM_TID_H

#include <stddef.h>
#include <sys/types.h>

/* tkill(tid, sig), which glibc has no function for: 0 or -1 and errno. */
long gp__tkill(pid_t tid, int sig);

/* The system calls as syscall() makes them: their raw results, -1 and errno on error. */
long gp__sched_getaffinity_call(pid_t tid, size_t size, void *set);
long gp__sched_setaffinity_call(pid_t tid, size_t size, const void *set);

/*
 * path, or, for /proc/self/task/ID/... (or /proc/PID/task/ID/...) where ID is a green
 * thread's id (the first thread's included), the same path in buf with the id of the
 * kernel thread that runs the thread now (or ran it last): what a program that reads
 * its own thread's entry finds.
 */
#define GP_TASK_PATH_MAX 256
const char *gp__task_path(const char *path, char buf[GP_TASK_PATH_MAX]);

#endif

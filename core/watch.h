/*
 * What the runtime tells about itself: the deadlock report, the stall detector, the dump
 * of every green thread, and the statistics at exit.
 */
#ifndef GP_WATCH_H
#define GP_WATCH_H

#include <stdbool.h>

struct gp_runtime;

/*
 * Called by the hub when nothing is runnable: if every live green thread is parked
 * and no timer or descriptor can end any of the parks, report each thread and what it
 * waits for, once per deadlock (Go's "all goroutines are asleep"). Then keep waiting,
 * as the program would natively, or abort with GREENPATCH_DEADLOCK=abort. A kernel
 * thread the runtime does not know could still release a lock: the report says so.
 */
void gp__deadlock_check(struct gp_runtime *c);

/*
 * The statistics line(s) GREENPATCH_STATS asks for, written with write_fn to fd:
 * threads created and peak alive, context switches, parks by reason, loop polls,
 * offloaded calls and pool threads.
 */
void gp_stats_write(int fd);

/*
 * Start the monitor if GREENPATCH_HANDOFF or GREENPATCH_STALL_MS is not 0: a kernel
 * thread (made with gp__create_kernel_thread, every signal blocked) that hands a
 * carrier stuck in one system call or one computation to a spare kernel thread
 * (kthread.h), and reports a green thread that has run GREENPATCH_STALL_MS without
 * letting the others run, once per call site: the thread, the system call it is
 * blocked in (from /proc/self/task/TID/syscall), its stack, and whether its carrier was
 * handed off. Called when the runtime starts, again in the child of a fork (the
 * monitor did not come along): 0 or -errno.
 */
int gp_watch_start(void);

/*
 * How long a call on a path taken as local (shim/path.h) may hold the carrier while a
 * slow mount exists: a symbolic link on a local file system can lead into the slow one,
 * which the path's text does not show, and resolving every link first would cost a
 * local file more system calls than natively. A local file system answers well within
 * this; the monitor looks at least twice as often while a slow mount exists, and hands
 * a carrier whose thread is still in the same such call off, however long
 * GREENPATCH_HANDOFF is (unless it is 0).
 */
#define GP_MAYBE_SLOW_NS (2 * 1000000L)

/*
 * True on the monitor's kernel thread. It takes GREENPATCH_DUMP_SIGNAL, which it does
 * not block, when every thread of the program blocks it (shim/sigaction.c).
 */
extern __thread bool gp__on_monitor __attribute__((tls_model("initial-exec")));

/* The hub leaves the loop: wake the monitor if it sleeps (it sleeps while the hub waits). */
void gp_monitor_wake(void);

/* The monitor's tick may change (a slow mount appeared): end its current one. */
void gp_monitor_retick(void);

/* Stalls reported so far, for the statistics. */
unsigned long gp_stall_count(void);

/*
 * Write every green thread to fd: id, name, state, what it waits on and for how long
 * (from the coarse clock the scheduler last read when the park began), and its stack.
 * Made for the GREENPATCH_DUMP_SIGNAL handler on the carrier: it allocates nothing and
 * writes with gp__log_write.
 */
void gp_dump_write(int fd);

#endif

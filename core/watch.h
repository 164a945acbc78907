/*
 * What the runtime tells about itself: the deadlock report.
 */
#ifndef GP_WATCH_H
#define GP_WATCH_H

struct gp_carrier;

/*
 * Called by the hub when nothing is runnable: if every live green thread is parked
 * and no timer or descriptor can end any of the parks, report each thread and what it
 * waits for, once per deadlock (Go's "all goroutines are asleep"). Then keep waiting,
 * as the program would natively, or abort with GREENPATCH_DEADLOCK=abort. A kernel
 * thread the runtime does not know could still release a lock: the report says so.
 */
void gp__deadlock_check(struct gp_carrier *c);

/*
 * The statistics line(s) GREENPATCH_STATS asks for, written with write_fn to fd:
 * threads created and peak alive, context switches, parks by reason, loop polls,
 * offloaded calls and pool threads.
 */
void gp_stats_write(int fd);

#endif

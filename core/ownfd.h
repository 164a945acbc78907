/*
 * The library's own descriptors: the event loop's epoll and eventfd, and the mount
 * table's watch (mounts.h).
 *
 * A program does to its descriptors what it likes, and daemons like to close every
 * number above the ones they know (a loop of close to 1,024, closefrom(3), close_range,
 * a walk of /proc/self/fd), or to dup2 over them. Had the loop's descriptors the low
 * numbers the kernel hands out first, such a program would close them under the loop.
 *
 * So they live high: moved with F_DUPFD_CLOEXEC to the top of the first 4,096 numbers
 * (above select()'s 1,024; within 4,096 so that the kernel's table of descriptors, which
 * grows to the highest number in use and is copied at every fork, stays at 32 KiB), and
 * above RLIMIT_NOFILE's soft limit when it is 1,024, as on most systems, which is
 * raised for the move and set back at once: no open, socket or dup can return those
 * numbers then, and a dup2 onto them fails with EBADF natively too. The hooks that end
 * or change what a number names (close, close_range, closefrom, dup2, dup3, fcntl) then
 * answer for these numbers as for a number the program never opened, and skip them in
 * a range, except while the runtime itself makes or ends its loop.
 *
 * Numbers only move while the runtime is being made or ended, by the thread doing it,
 * with no other thread of the program running, or when the carrier adopts one more (the
 * mount table's watch, mounts.h) while a handed-off thread may run: that number is
 * published before the count that makes it visible, and readers need no lock. The soft
 * limit raised for the move could then let such a thread's open succeed above the
 * limit for those few microseconds, where it would fail with EMFILE.
 */
#ifndef GP_OWNFD_H
#define GP_OWNFD_H

#include <stdbool.h>

#include "util.h"

#define GP_OWN_FDS_MAX 8

/* The library's numbers are below this one (the top of the first 4,096). */
#define GP_OWN_FD_TOP 4096

/* The lowest of the library's own descriptors, or INT_MAX while it has none. */
extern int gp__own_fd_low;

/*
 * The runtime makes or ends its event loop from here to gp_own_fds_end, on the calling
 * kernel thread: the descriptors libev makes meanwhile (gp_own_fd_adopt) are the
 * library's, and its own calls on them pass.
 */
void gp_own_fds_begin(void);
void gp_own_fds_end(void);

/* Between the two calls above, on the thread that made them. */
bool gp_own_fds_making(void);

/*
 * fd was just made by libev for the runtime (its epoll or eventfd): move it high and
 * remember it. The descriptor to use instead: fd itself if it could not move (it is
 * still remembered as the library's).
 */
int gp_own_fd_adopt(int fd);

bool gp__own_fd_lookup(int fd);

/* fd is one of the library's: the program must not change it. */
static inline bool gp_own_fd(int fd)
{
	return GP_UNLIKELY(fd >= gp__own_fd_low) && gp__own_fd_lookup(fd);
}

/* The library closed fd (its loop ended). */
void gp_own_fd_forget(int fd);

/* The lowest of the library's descriptors at or above from, or -1. */
int gp_own_fd_next(unsigned from);

/*
 * The descriptor table the program would have without the library's numbers.
 *
 * The kernel's table holds a power of two of numbers, 64 at least; it grows to fit the
 * highest number ever opened, never shrinks, and a child's is sized to its parent's
 * highest open number. select(2) takes no notice of a number past the table's end and
 * fails with EBADF for one inside it that is not open. The library's numbers near 4,096
 * make the table 4,096 long, so a never-opened number such as 1,000, ignored natively,
 * would be EBADF: the select hooks count only the numbers of the table the program's
 * own history made (shim/poll.c).
 *
 * That table is learnt before the first of the library's numbers moves high (select
 * finds where it ends), then grows with every number the program is seen to hold: those
 * the hooks make (gp_program_fd_note), and open ones a select names past the end. A
 * number opened and closed again by a call the library does not see (a raw system
 * call) leaves no trace: a select naming it later, EBADF natively, ignores it.
 */

/* The numbers below which select counts the program's descriptors; INT_MAX while the
 * library has none of its own (the kernel's table is then the program's). */
int gp_program_fd_table(void);

/* fd is open in the program (made by it): the table grows to fit it. */
void gp_program_fd_note(int fd);

/*
 * Does the kernel's table end at or before number k (0 <= k < 8,192), so that select
 * would take no notice of k? Two system calls.
 */
bool gp_fd_table_ends_by(int k);

#endif

/*
 * The guards of the library's own descriptors (core/ownfd.h) for the hooks that end or
 * change what a number names: outside the runtime's making of its loop, they answer
 * for those numbers as for a number the program never opened.
 */
#ifndef GP_OWNFD_GUARD_H
#define GP_OWNFD_GUARD_H

#include <stdbool.h>

/* fd is the library's: errno is EBADF and the caller returns -1. */
bool gp__own_fd_refused(int fd);

/* The same for dup2 and dup3, whose source or target may be the library's. */
bool gp__own_dup_refused(int fd, int fd2);

/* close_range over [first, last] but the library's numbers: 0, or -1 and errno. */
int gp__close_range_around_own(unsigned first, unsigned last, int flags);

#endif

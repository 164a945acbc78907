/*
 * The real libc functions behind every hook, resolved once with dlsym(RTLD_NEXT) (or
 * dlvsym for a versioned one), plus the few libc functions the hooks use that are not
 * interposed and are reached directly.
 *
 * A hook can run before our constructor (from another library's constructor, or from
 * dlsym's own allocations): gp_real_init() is idempotent and every pass-through path
 * calls GP_REAL(name), which resolves the table on first use.
 */
#ifndef GP_REAL_H
#define GP_REAL_H

#include <aio.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <mqueue.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <resolv.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "util.h"

/* <link.h> clashes with <ev.h> (both name EV_NONE, EV_CURRENT): the type is enough. */
struct dl_phdr_info;

/* <bits/stdio.h> makes these macros when optimising: we define the functions. */
#undef fread_unlocked
#undef fwrite_unlocked
#undef fputs_unlocked

/*
 * Our hooks, declared from the list with default visibility (the rest of the library
 * is hidden): a signature that differs from glibc's fails to compile here.
 */
#define GP_SYM(family, ret, name, params, version) \
	__attribute__((visibility("default"))) ret name params;
#include "syms.def"
#undef GP_SYM

struct gp_real {
#define GP_SYM(family, ret, name, params, version) ret(*name) params;
#include "syms.def"
#undef GP_SYM
	int ready;
};

extern struct gp_real gp__real;

void gp_real_init(void);

#define GP_REAL(name) \
	(GP_LIKELY(gp__real.ready) ? gp__real.name : (gp_real_init(), gp__real.name))

#endif

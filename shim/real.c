#include "real.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include <dlfcn.h>
#include <string.h>
#include <sys/syscall.h>

struct gp_real gp__real;

static void *resolve(const char *name, const char *version, void *ours)
{
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
	if (!p && version)
		p = dlsym(RTLD_NEXT, name);
	/* proxychains-ng's lesson: if the "next" symbol is our own, the chain is broken. */
	if (p && p == ours)
		gp_panic("dlsym(RTLD_NEXT, \"%s\") returned the hook itself", name);
	return p;
}

static long raw_write(int fd, const void *buf, size_t len)
{
	return syscall(SYS_write, fd, buf, len);
}

static long real_write_for_log(int fd, const void *buf, size_t len)
{
	return gp__real.write ? gp__real.write(fd, buf, len) : raw_write(fd, buf, len);
}

/*
 * Resolved straight into the table, in the order of syms.def (threads and locks first):
 * a lookup that calls back into a hook (a malloc that takes a lock) finds what is
 * resolved so far instead of nothing.
 */
void gp_real_init(void)
{
	static __thread int resolving;
	if (gp__real.ready || resolving)
		return;
	resolving = 1;
#define GP_SYM(family, ret, name, params, version) \
	gp__real.name = (ret(*) params)resolve(#name, version, (void *)name);
#include "syms.def"
#undef GP_SYM
	if (!gp__real.read || !gp__real.write || !gp__real.pthread_create || !gp__real.preadv2)
		gp_panic("cannot resolve libc's functions (is this glibc?)");
	__atomic_store_n(&gp__real.ready, 1, __ATOMIC_RELEASE);
	gp__log_write = real_write_for_log;
	resolving = 0;
}

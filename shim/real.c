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

void gp_real_init(void)
{
	static __thread int resolving;
	if (gp__real.ready || resolving)
		return;
	resolving = 1;
	struct gp_real r;
	memset(&r, 0, sizeof(r));
#define GP_SYM(family, ret, name, params, version) \
	r.name = (ret(*) params)resolve(#name, version, (void *)name);
#include "syms.def"
#undef GP_SYM
	if (!r.read || !r.write || !r.pthread_create || !r.preadv2)
		gp_panic("cannot resolve libc's functions (is this glibc?)");
	r.ready = 1;
	gp__real = r;
	gp__log_write = real_write_for_log;
	resolving = 0;
}

/*
 * The dynamic loader's lock, taken by dl_iterate_phdr (the C++ unwinder calls it for
 * every exception), dladdr and dladdr1, is recursive and names its owner by the tid in
 * the caller's thread descriptor, which every green thread shares with the first kernel
 * thread (glibc's mutexes name the owner the same way, and a green thread must stay
 * their owner wherever it runs). Two kernel threads that run green code at once (one
 * of them handed off, core/kthread.h) would both take it as its owner. So a green
 * thread makes these calls inside the bracket: a handed-off thread rejoins the carrier
 * first, and no thread is handed off in the middle of one. The callback of
 * dl_iterate_phdr runs inside the bracket too, as the unwinder's does natively with the
 * lock held; a hook it calls passes straight through.
 */
#include <dlfcn.h>
#include <stddef.h>

#include "hook.h"

int dl_iterate_phdr(int (*fn)(struct dl_phdr_info *info, size_t size, void *data), void *data)
{
	if (!gp_on_green())
		return GP_REAL(dl_iterate_phdr)(fn, data);
	gp_enter();
	int rc = GP_REAL(dl_iterate_phdr)(fn, data);
	gp_leave();
	return rc;
}

int dladdr(const void *addr, Dl_info *info)
{
	if (!gp_on_green())
		return GP_REAL(dladdr)(addr, info);
	gp_enter();
	int rc = GP_REAL(dladdr)(addr, info);
	gp_leave();
	return rc;
}

int dladdr1(const void *addr, Dl_info *info, void **extra, int flags)
{
	if (!gp_on_green())
		return GP_REAL(dladdr1)(addr, info, extra, flags);
	gp_enter();
	int rc = GP_REAL(dladdr1)(addr, info, extra, flags);
	gp_leave();
	return rc;
}

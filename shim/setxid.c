/*
 * setuid and the other calls that change a credential of the whole process.
 *
 * glibc makes every thread change it (__nptl_setxid): it marks each thread it knows
 * except the caller, sends it SIGSETXID, and waits until the thread's handler has
 * cleared the mark on THREAD_SELF. The carrier is one of the threads it knows; a green
 * thread's descriptor is not. Called from a green thread, glibc would mark the carrier
 * and signal it, and the handler, running on the carrier with the green thread's
 * descriptor installed, would clear the mark on that one: the caller would signal and
 * wait for ever. So the call is made with the carrier's own descriptor installed, as
 * if the carrier made it, which it does. Nothing inside it parks.
 */
#include <grp.h>
#include <unistd.h>

#include "hook.h"
#include "tls.h"

#define SETXID1(name, type)                                                   \
	static long real_##name(const long *a)                                \
	{                                                                     \
		return GP_REAL(name)((type)a[0]);                             \
	}                                                                     \
	int name(type x)                                                      \
	{                                                                     \
		long a[1] = { (long)x };                                      \
		return (int)gp_tls_on_carrier(real_##name, a);                \
	}

#define SETXID2(name, type)                                                   \
	static long real_##name(const long *a)                                \
	{                                                                     \
		return GP_REAL(name)((type)a[0], (type)a[1]);                 \
	}                                                                     \
	int name(type x, type y)                                              \
	{                                                                     \
		long a[2] = { (long)x, (long)y };                             \
		return (int)gp_tls_on_carrier(real_##name, a);                \
	}

#define SETXID3(name, type)                                                   \
	static long real_##name(const long *a)                                \
	{                                                                     \
		return GP_REAL(name)((type)a[0], (type)a[1], (type)a[2]);     \
	}                                                                     \
	int name(type x, type y, type z)                                      \
	{                                                                     \
		long a[3] = { (long)x, (long)y, (long)z };                    \
		return (int)gp_tls_on_carrier(real_##name, a);                \
	}

SETXID1(setuid, uid_t)
SETXID1(setgid, gid_t)
SETXID1(seteuid, uid_t)
SETXID1(setegid, gid_t)
SETXID2(setreuid, uid_t)
SETXID2(setregid, gid_t)
SETXID3(setresuid, uid_t)
SETXID3(setresgid, gid_t)

static long real_setgroups(const long *a)
{
	return GP_REAL(setgroups)((size_t)a[0], (const gid_t *)a[1]);
}

int setgroups(size_t n, const gid_t *list)
{
	long a[2] = { (long)n, (long)list };
	return (int)gp_tls_on_carrier(real_setgroups, a);
}

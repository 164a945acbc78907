/*
 * syscall(): the system calls a program makes by number that the library has hooks for
 * under their names go to those hooks (futex waits: futex.c; thread ids: tid.c). Every
 * other one goes to the kernel unchanged.
 */
#include <stdarg.h>
#include <sys/syscall.h>

#include "hook.h"
#include "tid.h"

long gp__futex_call(const long a[6]);

/*
 * syscall() takes six arguments whatever the call, as glibc's own reads six registers:
 * a caller that passes fewer leaves the rest unspecified, and reading them is harmless
 * here but not to AddressSanitizer, which sees a read past the caller's arguments.
 */
__attribute__((no_sanitize_address)) static void read_args(va_list ap, long a[6])
{
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
}

long syscall(long number, ...)
{
	va_list ap;
	va_start(ap, number);
	long a[6];
	read_args(ap, a);
	va_end(ap);
	switch (number) {
	case SYS_futex:
		return gp__futex_call(a);
	case SYS_gettid:
		return gettid();
	case SYS_tgkill:
		return tgkill((pid_t)a[0], (pid_t)a[1], (int)a[2]);
	case SYS_tkill:
		return gp__tkill((pid_t)a[0], (int)a[1]);
	case SYS_sched_getaffinity:
		return gp__sched_getaffinity_call((pid_t)a[0], (size_t)a[1], (void *)a[2]);
	case SYS_sched_setaffinity:
		return gp__sched_setaffinity_call((pid_t)a[0], (size_t)a[1], (const void *)a[2]);
	default:
		return GP_REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}

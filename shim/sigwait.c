/*
 * sigwait, sigwaitinfo and sigtimedwait park the calling green thread. A signal the
 * program waits for is blocked (sigwait requires it), so it stays pending on the
 * process once it arrives, and a signalfd for the same set becomes readable: the thread
 * parks on that descriptor, then takes the signal with a sigtimedwait that does not
 * wait. The signal is taken only if every green thread blocks it (otherwise Linux hands
 * it to a thread that does not, there as here). pause and sigsuspend, which wait for a
 * handler instead, are at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "iowait.h"
#include "loop.h"
#include "signals.h"

static const struct timespec no_wait = { 0, 0 };

/* Wait for a signal of set: its number, or -1 and errno (EAGAIN on timeout, EINTR). */
static int green_sigwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	if (timeout && (!gp_ts_valid(timeout) || timeout->tv_sec < 0)) {
		errno = EINVAL;
		return -1;
	}
	int saved_errno = errno;
	double deadline = timeout ? gp_mono_now() + gp_ts_seconds(timeout) : 0;
	int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return GP_REAL(sigtimedwait)(set, info, timeout);
	int sig;
	for (;;) {
		sig = GP_REAL(sigtimedwait)(set, info, &no_wait);
		if (sig > 0 || errno != EAGAIN)
			break;
		double left = -1;
		if (timeout && (left = deadline - gp_mono_now()) <= 0)
			break;   /* sig is -1, errno EAGAIN: the timeout */
		int rc = gp__wait_fd(fd, EV_READ, left);
		if (rc == -EINTR) {
			errno = EINTR;
			break;
		}
	}
	int err = errno;
	gp__fd_forget(fd);
	GP_REAL(close)(fd);
	errno = sig > 0 ? saved_errno : err;
	return sig;
}

int sigwait(const sigset_t *set, int *sig)
{
	if (!gp_cooperative())
		return GP_REAL(sigwait)(set, sig);
	int s;
	do
		s = green_sigwait(set, NULL, NULL);
	while (s < 0 && errno == EINTR);   /* sigwait is never interrupted */
	if (s < 0)
		return errno;
	*sig = s;
	return 0;
}

int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	if (!gp_cooperative())
		return GP_REAL(sigwaitinfo)(set, info);
	return green_sigwait(set, info, NULL);
}

int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	if (!gp_cooperative() || (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0))
		return GP_REAL(sigtimedwait)(set, info, timeout);
	return green_sigwait(set, info, timeout);
}

/*
 * pause and sigsuspend end only when a signal handler has run in the calling thread,
 * and then always with EINTR (SA_RESTART does not restart them). The thread parks until
 * a signal sent to it (pthread_kill) or to the process (sigaction.c picks the thread
 * Linux would) ends the park; the handler runs on the way out, in gp_leave.
 */
static int park_until_signal(const char *what)
{
	gp__cancel_point();
	gp_enter();
	while (gp_park(-1, what) != -EINTR)
		;
	gp_leave();
	gp__cancel_point();
	errno = EINTR;
	return -1;
}

int pause(void)
{
	if (!gp_cooperative())
		return GP_REAL(pause)();
	return park_until_signal("pause");
}

/*
 * The mask is this green thread's for the wait, restored after the handler ran, as the
 * kernel does. A signal already pending (on the green thread, or in the kernel for the
 * carrier) that the new mask lets through is delivered while the mask is set: its
 * handler has then run, and the call returns at once.
 */
int sigsuspend(const sigset_t *mask)
{
	/* <signal.h> says mask is never NULL; the kernel says EFAULT, and so does libc. */
	const sigset_t *volatile given = mask;
	if (!gp_cooperative() || !given)
		return GP_REAL(sigsuspend)(mask);
	sigset_t old, probe;
	sigemptyset(&probe);
	memcpy(&probe, mask, sizeof(uint64_t));
	unsigned long ran = atomic_load(&gp__handlers_ran);
	pthread_sigmask(SIG_SETMASK, &probe, &old);
	int rc;
	if (atomic_load(&gp__handlers_ran) != ran) {
		errno = EINTR;   /* delivered by pthread_sigmask, before it returned */
		rc = -1;
	} else {
		rc = park_until_signal("sigsuspend");
	}
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return rc;
}

/* glibc's other name for it, which its own sigpause calls without a hook seeing it. */
int __sigsuspend(const sigset_t *mask)
{
	return sigsuspend(mask);
}

/*
 * glibc's sigpause family, made here on sigsuspend: X/Open's takes one signal out of the
 * thread's mask (is_sig), the BSD one is given the first 32 signals' mask as an int, as
 * glibc builds it.
 */
int __sigpause(int sig_or_mask, int is_sig)
{
	if (!gp_cooperative())
		return GP_REAL(__sigpause)(sig_or_mask, is_sig);
	sigset_t set;
	if (is_sig) {
		if (pthread_sigmask(SIG_SETMASK, NULL, &set) != 0 || sigdelset(&set, sig_or_mask) < 0)
			return -1;
	} else {
		sigemptyset(&set);
		for (int sig = 1; sig <= 32; sig++)
			if ((unsigned)sig_or_mask & (1u << (sig - 1)))
				sigaddset(&set, sig);
	}
	return sigsuspend(&set);
}

/*
 * <signal.h> renames sigpause to __xpg_sigpause for _GNU_SOURCE: the BSD one, which
 * keeps the name, is defined under another C name.
 */
int gp__bsd_sigpause(int mask) __asm__("sigpause") __attribute__((visibility("default")));

int gp__bsd_sigpause(int mask)
{
	return __sigpause(mask, 0);
}

int __xpg_sigpause(int sig)
{
	return __sigpause(sig, 1);
}

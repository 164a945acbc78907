/*
 * Calls that may wait long and that no descriptor readiness can announce: file locks
 * another process holds, System V IPC, directory service lookups (NSS may ask LDAP over
 * the network), disk syncs. Each is made on the calling thread's own kernel thread with
 * the carrier handed to a spare first (gp__block_begin), so that the other green
 * threads go on from the first microsecond and the call keeps its native semantics:
 * EINTR under a signal without SA_RESTART, EDEADLK where the kernel detects a deadlock,
 * locks owned by the process or the open file description exactly as natively (the call
 * is made by the process, from the thread that asked).
 *
 * Where a form that cannot wait exists (LOCK_NB, F_TLOCK, IPC_NOWAIT), it is tried
 * first: an uncontended lock costs what it costs natively, and only a call that would
 * wait pays for the hand-off.
 */
/* GREENPATCH_UNPATCH=block leaves these hooks to libc. */
#define GP_HOOK_FAMILY GP_FAM_BLOCK

#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <termios.h>
#include <unistd.h>

#include "block.h"
#include "hook.h"

/* ---- file locks ------------------------------------------------------------------ */

int flock(int fd, int op)
{
	if (op & LOCK_NB)
		return GP_REAL(flock)(fd, op);
	if (!gp_cooperative())
		return GP_PASSED(GP_REAL(flock)(fd, op));
	int saved_errno = errno;
	int rc = GP_REAL(flock)(fd, op | LOCK_NB);
	if (rc == 0 || errno != EWOULDBLOCK)
		return rc;
	errno = saved_errno;
	return GP_BLOCKING(GP_REAL(flock)(fd, op));
}

/* lockf's F_LOCK, after F_TLOCK found the section locked (EACCES or EAGAIN). */
#define LOCKF_HOOK(name, off_type)                                             \
	int name(int fd, int cmd, off_type len)                                \
	{                                                                      \
		if (cmd != F_LOCK)                                             \
			return GP_REAL(name)(fd, cmd, len);                    \
		if (!gp_cooperative())                                         \
			return GP_PASSED(GP_REAL(name)(fd, cmd, len));         \
		int saved_errno = errno;                                       \
		int rc = GP_REAL(name)(fd, F_TLOCK, len);                      \
		if (rc == 0 || (errno != EACCES && errno != EAGAIN))           \
			return rc;                                             \
		errno = saved_errno;                                           \
		return GP_BLOCKING(GP_REAL(name)(fd, F_LOCK, len));            \
	}

LOCKF_HOOK(lockf, off_t)
LOCKF_HOOK(lockf64, off64_t)

int gp__fcntl_lock_wait(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	const char *call = cmd == F_SETLKW ? "fcntl(F_SETLKW)" : "fcntl(F_OFD_SETLKW)";
	if (!gp_cooperative())
		return GP_BLOCKING_AS(call, real(fd, cmd, arg));
	int saved_errno = errno;
	int rc = real(fd, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, arg);
	if (rc == 0 || (errno != EACCES && errno != EAGAIN))
		return rc;
	errno = saved_errno;
	return GP_BLOCKING_AS(call, real(fd, cmd, arg));
}

/* ---- System V IPC ------------------------------------------------------------------ */

/* Above this many operations, a copy with IPC_NOWAIT is not tried first. */
#define SEMOP_TRY_MAX 64

/* The operations would wait: 1; they were made or failed otherwise: 0, rc set. */
static int semop_would_wait(int id, struct sembuf *ops, size_t n, int *rc)
{
	struct sembuf nowait[SEMOP_TRY_MAX];
	bool all_nowait = true;
	for (size_t i = 0; i < n; i++) {
		nowait[i] = ops[i];
		all_nowait = all_nowait && (ops[i].sem_flg & IPC_NOWAIT);
		nowait[i].sem_flg |= IPC_NOWAIT;
	}
	int saved_errno = errno;
	*rc = GP_REAL(semop)(id, nowait, n);
	if (all_nowait || *rc == 0 || errno != EAGAIN)
		return 0;
	errno = saved_errno;
	return 1;
}

int semop(int id, struct sembuf *ops, size_t n)
{
	if (n == 0)
		return GP_REAL(semop)(id, ops, n);
	if (!gp_cooperative())
		return GP_PASSED(GP_REAL(semop)(id, ops, n));
	int rc;
	if (n <= SEMOP_TRY_MAX && !semop_would_wait(id, ops, n, &rc))
		return rc;
	return GP_BLOCKING(GP_REAL(semop)(id, ops, n));
}

int semtimedop(int id, struct sembuf *ops, size_t n, const struct timespec *timeout)
{
	return GP_BLOCKING(GP_REAL(semtimedop)(id, ops, n, timeout));
}

ssize_t msgrcv(int id, void *msg, size_t size, long type, int flags)
{
	if (flags & IPC_NOWAIT)
		return GP_REAL(msgrcv)(id, msg, size, type, flags);
	if (!gp_cooperative())
		return GP_PASSED(GP_REAL(msgrcv)(id, msg, size, type, flags));
	int saved_errno = errno;
	ssize_t rc = GP_REAL(msgrcv)(id, msg, size, type, flags | IPC_NOWAIT);
	if (rc >= 0 || errno != ENOMSG)
		return rc;
	errno = saved_errno;
	return GP_BLOCKING(GP_REAL(msgrcv)(id, msg, size, type, flags));
}

int msgsnd(int id, const void *msg, size_t size, int flags)
{
	if (flags & IPC_NOWAIT)
		return GP_REAL(msgsnd)(id, msg, size, flags);
	if (!gp_cooperative())
		return GP_PASSED(GP_REAL(msgsnd)(id, msg, size, flags));
	int saved_errno = errno;
	int rc = GP_REAL(msgsnd)(id, msg, size, flags | IPC_NOWAIT);
	if (rc == 0 || errno != EAGAIN)
		return rc;
	errno = saved_errno;
	return GP_BLOCKING(GP_REAL(msgsnd)(id, msg, size, flags));
}

/* ---- POSIX message queues ------------------------------------------------------ */

/*
 * A queue is a descriptor: one with a message (or room) now needs no hand-off. A poll
 * that says so costs one system call; natively the call itself would not have waited.
 */
static bool mq_ready(mqd_t q, short events)
{
	struct pollfd p = { .fd = q, .events = events };
	return GP_REAL(poll)(&p, 1, 0) == 1;
}

enum mq_path { MQ_NOW, MQ_PASSED, MQ_APART };

static enum mq_path mq_path(mqd_t q, short events)
{
	if (!gp_cooperative())
		return MQ_PASSED;
	return mq_ready(q, events) ? MQ_NOW : MQ_APART;
}

#define MQ_CALL(events, call)                                                  \
	switch (mq_path(q, events)) {                                          \
	case MQ_NOW:                                                           \
		return call;                                                   \
	case MQ_PASSED:                                                        \
		return GP_PASSED(call);                                        \
	default:                                                               \
		return GP_BLOCKING(call);                                      \
	}

ssize_t mq_receive(mqd_t q, char *buf, size_t len, unsigned *prio)
{
	MQ_CALL(POLLIN, GP_REAL(mq_receive)(q, buf, len, prio))
}

ssize_t mq_timedreceive(mqd_t q, char *buf, size_t len, unsigned *prio,
			const struct timespec *abstime)
{
	MQ_CALL(POLLIN, GP_REAL(mq_timedreceive)(q, buf, len, prio, abstime))
}

int mq_send(mqd_t q, const char *buf, size_t len, unsigned prio)
{
	MQ_CALL(POLLOUT, GP_REAL(mq_send)(q, buf, len, prio))
}

int mq_timedsend(mqd_t q, const char *buf, size_t len, unsigned prio,
		 const struct timespec *abstime)
{
	MQ_CALL(POLLOUT, GP_REAL(mq_timedsend)(q, buf, len, prio, abstime))
}

/* ---- waits with nothing to try first ------------------------------------------------ */

int aio_suspend(const struct aiocb *const list[], int n, const struct timespec *timeout)
{
	return GP_BLOCKING(GP_REAL(aio_suspend)(list, n, timeout));
}

int tcdrain(int fd)
{
	return GP_BLOCKING(GP_REAL(tcdrain)(fd));
}

/* Asynchronous lookups: only GAI_WAIT waits, and gai_suspend. */
int getaddrinfo_a(int mode, struct gaicb *list[], int n, struct sigevent *sev)
{
	if (mode != GAI_WAIT)
		return GP_REAL(getaddrinfo_a)(mode, list, n, sev);
	return GP_BLOCKING(GP_REAL(getaddrinfo_a)(mode, list, n, sev));
}

int gai_suspend(const struct gaicb *const list[], int n, const struct timespec *timeout)
{
	return GP_BLOCKING(GP_REAL(gai_suspend)(list, n, timeout));
}

/* ---- the disk ------------------------------------------------------------------------- */

void sync(void)
{
	bool handed = gp__block_begin(__func__);
	GP_REAL(sync)();
	gp__block_done(handed);
}

int syncfs(int fd)
{
	return GP_BLOCKING(GP_REAL(syncfs)(fd));
}

/* Without a WAIT flag it only starts the writing: no hand-off for that. */
int sync_file_range(int fd, off64_t off, off64_t n, unsigned flags)
{
	if (!(flags & (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER)))
		return GP_REAL(sync_file_range)(fd, off, n, flags);
	return GP_BLOCKING(GP_REAL(sync_file_range)(fd, off, n, flags));
}

int msync(void *addr, size_t len, int flags)
{
	if (!(flags & MS_SYNC))
		return GP_REAL(msync)(addr, len, flags);
	return GP_BLOCKING(GP_REAL(msync)(addr, len, flags));
}

/* ---- users and groups (NSS) --------------------------------------------------------- */

struct passwd *getpwnam(const char *name)
{
	return GP_BLOCKING(GP_REAL(getpwnam)(name));
}

struct passwd *getpwuid(uid_t uid)
{
	return GP_BLOCKING(GP_REAL(getpwuid)(uid));
}

int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len,
	       struct passwd **result)
{
	return GP_BLOCKING(GP_REAL(getpwnam_r)(name, pwd, buf, len, result));
}

int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result)
{
	return GP_BLOCKING(GP_REAL(getpwuid_r)(uid, pwd, buf, len, result));
}

struct group *getgrnam(const char *name)
{
	return GP_BLOCKING(GP_REAL(getgrnam)(name));
}

struct group *getgrgid(gid_t gid)
{
	return GP_BLOCKING(GP_REAL(getgrgid)(gid));
}

int getgrnam_r(const char *name, struct group *grp, char *buf, size_t len,
	       struct group **result)
{
	return GP_BLOCKING(GP_REAL(getgrnam_r)(name, grp, buf, len, result));
}

int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t len, struct group **result)
{
	return GP_BLOCKING(GP_REAL(getgrgid_r)(gid, grp, buf, len, result));
}

int getgrouplist(const char *user, gid_t group, gid_t *groups, int *ngroups)
{
	return GP_BLOCKING(GP_REAL(getgrouplist)(user, group, groups, ngroups));
}

int initgroups(const char *user, gid_t group)
{
	return GP_BLOCKING(GP_REAL(initgroups)(user, group));
}

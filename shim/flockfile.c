/*
 * flockfile, ftrylockfile and funlockfile on green threads.
 *
 * glibc's stream lock is recursive and names its owner by thread pointer. With TLS of
 * their own, green threads are different owners: a green thread that holds a stream's
 * lock and parks (in a write to a full pipe, say) would make the next green thread
 * that locks the stream wait in the kernel, freezing the carrier and with it the
 * holder, for ever.
 *
 * So on a green thread the lock a program takes itself is a green lock, kept in a
 * small table beside the stream: another green thread parks until it is released, and
 * the stdio hooks wait for it before they read or write (gp__file_wait), so a locked
 * section is not cut into by another thread's fgets or fprintf. A stdio hook that may
 * park in the middle of its call (a write that waits for the peer) holds the green
 * lock for the whole call (gp__file_hold), as glibc holds its own for every call: no
 * other green thread's call, or flockfile, comes between its parts. glibc's own lock is
 * then only ever taken inside one libc call, which never parks, so no green thread
 * ever waits in the kernel for a lock another green thread holds. What is not
 * covered: a stdio function without a hook (fseek, ftell, ferror...) does not wait
 * for the green lock.
 *
 * A lock the first thread took before the runtime started becomes a green lock of the
 * first thread when the runtime starts (gp__file_locks_adopt). A lock a kernel thread
 * takes is glibc's, and is released by glibc.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "stdio_lock.h"
#include "tls.h"

struct held {
	FILE *fp;
	struct gp_green *owner;
	unsigned count;
};

/* The streams locked now: a handful at most, so a short array is searched. */
static struct held *held;
static size_t held_len, held_cap;

static struct held *find(const FILE *fp)
{
	for (size_t i = 0; i < held_len; i++)
		if (held[i].fp == fp)
			return &held[i];
	return NULL;
}

static bool add(FILE *fp, struct gp_green *owner)
{
	if (held_len == held_cap) {
		size_t cap = held_cap ? 2 * held_cap : 8;
		struct held *h = realloc(held, cap * sizeof(*h));
		if (!h)
			return false;
		held = h;
		held_cap = cap;
	}
	held[held_len++] = (struct held){ fp, owner, 1 };
	return true;
}

/*
 * Take fp's green lock, or say who has it: 0, or the holder. The table is the runtime's
 * state, changed inside the bracket (a handed-off thread rejoins first, core/kthread.h).
 */
static struct gp_green *try_take(FILE *fp, struct gp_green *self)
{
	struct gp_green *holder = NULL;
	gp_enter();
	struct held *h = find(fp);
	if (!h)
		holder = add(fp, self) ? NULL : self;
	else if (h->owner == self)
		h->count++;
	else
		holder = h->owner;
	gp_leave();
	return holder;
}

/* Green threads parked on some stream's green lock: none, and a release wakes nobody. */
static size_t stream_waiters;

/* Release one hold of fp's green lock if self has it: false if it has not. */
static bool release(FILE *fp, struct gp_green *self)
{
	gp_enter();
	struct held *h = find(fp);
	bool mine = h && h->owner == self;
	bool freed = mine && --h->count == 0;
	if (freed)
		*h = held[--held_len];
	/* Every waiter: a stdio hook only waits for the stream to be free, so waking one of
	 * those alone would leave a flockfile behind it parked. */
	if (freed && stream_waiters)
		gp_unpark_on(fp, (size_t)-1);
	gp_leave();
	return mine;
}

/*
 * Park until funlockfile releases fp (or a signal's handler wants to run), if another
 * green thread holds it: false if none does, and nothing was waited for. Looked at
 * inside the bracket, so that a release since the caller's own look (by a thread that
 * ran while a signal's handler here parked) is not missed.
 */
static bool park_on_stream(struct gp_green *self, FILE *fp)
{
	gp_enter();
	struct held *h = find(fp);
	bool other = h && h->owner != self;
	if (other) {
		self->wait_obj = fp;
		stream_waiters++;
		gp_park_on(fp, -1, "flockfile");
		stream_waiters--;
	}
	gp_leave();
	return other;
}

bool gp__file_hold(FILE *fp)
{
	struct gp_green *self = gp_self();
	struct gp_green *holder;
	while ((holder = try_take(fp, self)) != NULL) {
		if (holder == self)
			return false;   /* no memory for the table: unheld, as a stream can be */
		park_on_stream(self, fp);
	}
	return true;
}

void gp__file_release(FILE *fp)
{
	release(fp, gp_self());
}

void gp__file_wait(FILE *fp)
{
	if (GP_LIKELY(held_len == 0) || !gp_on_green())
		return;
	struct gp_green *self = gp_self();
	while (park_on_stream(self, fp))
		;
}

void flockfile(FILE *fp)
{
	if (!gp_on_green()) {
		GP_REAL(flockfile)(fp);
		return;
	}
	struct gp_green *self = gp_self();
	struct gp_green *holder;
	while ((holder = try_take(fp, self)) != NULL) {
		if (holder == self) {
			/* No memory for the table: glibc's lock, as a kernel thread would. */
			GP_REAL(flockfile)(fp);
			return;
		}
		park_on_stream(self, fp);
	}
}

int ftrylockfile(FILE *fp)
{
	if (!gp_on_green())
		return GP_REAL(ftrylockfile)(fp);
	struct gp_green *holder = try_take(fp, gp_self());
	if (holder == gp_self())
		return GP_REAL(ftrylockfile)(fp);
	return holder ? EBUSY : 0;   /* glibc's answer for a stream another thread holds */
}

void funlockfile(FILE *fp)
{
	if (!gp_on_green() || !release(fp, gp_self()))
		GP_REAL(funlockfile)(fp);
}

/* glibc's lock of a stream (libio's _IO_lock_t): recursive, owned by a descriptor. */
struct stream_lock {
	int lock;
	int cnt;
	void *owner;
};

#define GP_IO_USER_LOCK 0x8000   /* __fsetlocking(FSETLOCKING_BYCALLER): no lock */

/* The list of every open stream, and its lock: exported by libc since 2.2.5. */
extern FILE *_IO_list_all;
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);

void gp__file_locks_adopt(struct gp_green *first)
{
	if (!gp_tls_per_thread)
		return;   /* one descriptor for all: glibc's locks still serve */
	void *self = gp_tls_self(gp_tp_get());
	_IO_list_lock();
	for (FILE *fp = _IO_list_all; fp; fp = fp->_chain) {
		struct stream_lock *lk = (struct stream_lock *)fp->_lock;
		if ((fp->_flags & GP_IO_USER_LOCK) || !lk || lk->owner != self || lk->cnt <= 0 ||
		    !add(fp, first))
			continue;
		held[held_len - 1].count = (unsigned)lk->cnt;
		lk->cnt = 0;
		lk->owner = NULL;
		/* As glibc unlocks: a kernel thread may be waiting. */
		if (__atomic_exchange_n(&lk->lock, 0, __ATOMIC_RELEASE) > 1)
			syscall(SYS_futex, &lk->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
	_IO_list_unlock();
}

void gp__file_locks_after_fork(void)
{
	/* As glibc resets every stream lock in the child. */
	held_len = 0;
}

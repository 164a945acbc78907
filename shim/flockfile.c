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
 * then only ever held across one libc call, which never parks, so no green thread
 * ever waits in the kernel for a lock another green thread holds. What is not
 * covered: a stdio function without a hook (fseek, ftell, ferror...) does not wait
 * for the green lock.
 *
 * With several carriers, a hook's look at the green lock and libc's call after it are
 * apart in time, and a flockfile on another CPU could come in between: the call would
 * then land inside that thread's locked section, and race its putc_unlocked on the
 * buffer. So the hook looks while it holds glibc's lock of the stream, until the call
 * ends (gp__file_turn), and whoever takes a green lock then waits for glibc's lock
 * once (drain), for a call begun before: from then on every look sees the green lock.
 * The table is read without the runtime's lock for this: its slots do not move.
 *
 * A lock the first thread took before the runtime started becomes a green lock of the
 * first thread when the runtime starts (gp__file_locks_adopt). A lock a kernel thread
 * takes is glibc's, and is released by glibc.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"
#include "stdio_lock.h"
#include "tls.h"

struct held {
	FILE *_Atomic fp;   /* NULL: a free slot */
	struct gp_green *owner;
	unsigned count;
};

/*
 * The streams locked now: a handful at most. Slots are changed under the runtime's lock,
 * and read without it (held_by_other); one in use stays where it is until released. A
 * program that holds more streams at once than there are slots takes glibc's locks for
 * the others, as a kernel thread would.
 */
#define HELD_SLOTS 256
static struct held held[HELD_SLOTS];
static _Atomic unsigned held_top;   /* slots at and past it are free */
static _Atomic unsigned held_len;   /* slots in use */

static struct held *find(const FILE *fp)
{
	unsigned top = atomic_load_explicit(&held_top, memory_order_acquire);
	for (unsigned i = 0; i < top; i++)
		if (atomic_load_explicit(&held[i].fp, memory_order_acquire) == fp)
			return &held[i];
	return NULL;
}

static struct held *add(FILE *fp, struct gp_green *owner)
{
	unsigned top = atomic_load_explicit(&held_top, memory_order_relaxed), i = 0;
	while (i < top && atomic_load_explicit(&held[i].fp, memory_order_relaxed))
		i++;
	if (i == HELD_SLOTS)
		return NULL;
	held[i].owner = owner;
	held[i].count = 1;
	atomic_store_explicit(&held[i].fp, fp, memory_order_release);
	if (i == top)
		atomic_store_explicit(&held_top, top + 1, memory_order_release);
	/* Changed under the runtime's lock only: no atomic increment needed. */
	atomic_store_explicit(&held_len, atomic_load_explicit(&held_len, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	return &held[i];
}

static void remove_held(struct held *h)
{
	atomic_store_explicit(&h->fp, NULL, memory_order_release);
	atomic_store_explicit(&held_len, atomic_load_explicit(&held_len, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	unsigned top = atomic_load_explicit(&held_top, memory_order_relaxed);
	while (top > 0 && !atomic_load_explicit(&held[top - 1].fp, memory_order_relaxed))
		top--;
	atomic_store_explicit(&held_top, top, memory_order_release);
}

/* __fsetlocking(FSETLOCKING_BYCALLER): glibc takes no lock for the stream's calls. */
#define GP_IO_USER_LOCK 0x8000

static bool has_glibc_lock(const FILE *fp)
{
	return !(fp->_flags & GP_IO_USER_LOCK) && fp->_lock;
}

/*
 * This thread has just taken fp's green lock: wait for a libc call on fp that a thread
 * on another CPU began before, holding glibc's lock since its look (gp__file_turn).
 * Only another kernel thread can be in such a call: another carrier, or a thread handed
 * off (counted away before the spare that runs this carrier starts). Never called
 * inside the bracket: such a call may enter the runtime while it holds glibc's lock.
 */
static void drain(FILE *fp)
{
	struct gp_runtime *rt = gp_rt;
	if (!has_glibc_lock(fp) ||
	    (!rt->multi && !__atomic_load_n(&rt->away, __ATOMIC_RELAXED)))
		return;
	GP_REAL(flockfile)(fp);
	GP_REAL(funlockfile)(fp);
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
		remove_held(h);
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
			return false;   /* no slot left: unheld, as a stream can be */
		park_on_stream(self, fp);
	}
	drain(fp);
	return true;
}

void gp__file_release(FILE *fp)
{
	release(fp, gp_self());
}

void gp__file_wait(FILE *fp)
{
	if (GP_LIKELY(atomic_load_explicit(&held_len, memory_order_relaxed) == 0) ||
	    !gp_on_green())
		return;
	struct gp_green *self = gp_self();
	while (park_on_stream(self, fp))
		;
}

void gp__file_wait_all(void)
{
	if (GP_LIKELY(atomic_load_explicit(&held_len, memory_order_relaxed) == 0) ||
	    !gp_on_green())
		return;
	unsigned top = atomic_load_explicit(&held_top, memory_order_acquire);
	for (unsigned i = 0; i < top; i++) {
		FILE *fp = atomic_load_explicit(&held[i].fp, memory_order_acquire);
		if (fp)
			gp__file_wait(fp);
	}
}

/* Does a green thread other than self hold fp's green lock? Without the runtime's lock. */
static bool held_by_other(const FILE *fp, const struct gp_green *self)
{
	if (GP_LIKELY(atomic_load_explicit(&held_len, memory_order_relaxed) == 0))
		return false;
	const struct held *h = find(fp);
	/* A slot released and taken for another stream meanwhile shows another owner: the
	 * caller parks, finds the stream free, and looks again. */
	return h && h->owner != self;
}

bool gp__file_turn(FILE *fp)
{
	if (!fp || !has_glibc_lock(fp) || !gp_on_green())
		return false;
	struct gp_green *self = gp_self();
	for (;;) {
		/* Taking glibc's lock orders this look after any drain that ended before: a
		 * green lock taken before that drain is seen. */
		GP_REAL(flockfile)(fp);
		if (!held_by_other(fp, self))
			return true;
		GP_REAL(funlockfile)(fp);
		park_on_stream(self, fp);
	}
}

void gp__file_turn_end(FILE *fp)
{
	GP_REAL(funlockfile)(fp);
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
			/* No slot left: glibc's lock, as a kernel thread would. */
			GP_REAL(flockfile)(fp);
			return;
		}
		park_on_stream(self, fp);
	}
	drain(fp);
}

int ftrylockfile(FILE *fp)
{
	if (!gp_on_green())
		return GP_REAL(ftrylockfile)(fp);
	struct gp_green *holder = try_take(fp, gp_self());
	if (holder == gp_self())
		return GP_REAL(ftrylockfile)(fp);
	if (holder)
		return EBUSY;   /* glibc's answer for a stream another thread holds */
	drain(fp);   /* a libc call on another CPU ends in microseconds */
	return 0;
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
		struct held *h;
		if ((fp->_flags & GP_IO_USER_LOCK) || !lk || lk->owner != self || lk->cnt <= 0 ||
		    !(h = add(fp, first)))
			continue;
		h->count = (unsigned)lk->cnt;
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
	for (unsigned i = 0; i < HELD_SLOTS; i++)
		atomic_store_explicit(&held[i].fp, NULL, memory_order_relaxed);
	atomic_store_explicit(&held_top, 0, memory_order_relaxed);
	atomic_store_explicit(&held_len, 0, memory_order_relaxed);
}

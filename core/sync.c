#include "sync.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sched.h"
#include "util.h"

/*
 * The table of parked threads starts with FIRST_BITS bits of hash and doubles whenever
 * it holds more waiters than buckets, up to MAX_BITS: an unpark walks its bucket, whose
 * entries live on the waiters' stacks (a cache miss each), so that 2,000 threads each
 * waiting on its own lock or semaphore (python3's threading.Timer) spent 6% of the
 * process's time in that walk with a fixed 256 buckets, and 2% now. Entries are
 * moved to the new table as they are; a bucket of it is stamped with the latest stamp
 * of the old one, which can only make a waiter look again (see gp_park_on).
 */
#define FIRST_BITS 8
#define MAX_BITS 20

struct parked {
	struct parked *prev, *next;
	const void *addr;
	struct gp_green *g;
	int priority;        /* its real-time priority when it parked (green.h) */
	int picked;
};

struct bucket {
	struct parked *head, *tail;
	uint64_t woken_at;   /* the runtime's wake_seq at the last unpark on its addresses */
};

static struct bucket first_buckets[1 << FIRST_BITS];
static struct bucket *buckets = first_buckets;
static unsigned bits = FIRST_BITS;
static size_t nparked;

static size_t bucket_index(const void *addr, unsigned b)
{
	uint64_t a = (uintptr_t)addr;
	a ^= a >> 17;
	a *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(a >> (64 - b));
}

static struct bucket *bucket_of(const void *addr)
{
	return &buckets[bucket_index(addr, bits)];
}

static void bucket_remove(struct bucket *b, struct parked *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		b->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		b->tail = p->prev;
}

static void bucket_append(struct bucket *b, struct parked *p)
{
	p->prev = b->tail;
	p->next = NULL;
	if (b->tail)
		b->tail->next = p;
	else
		b->head = p;
	b->tail = p;
}

/*
 * A waiter with a real-time priority goes before the first waiter for the same address
 * with a lower one, as the kernel queues futex waiters; the others, at the end.
 */
static void bucket_add(struct bucket *b, struct parked *p)
{
	struct parked *before = NULL;
	if (GP_UNLIKELY(p->priority > 0))
		for (before = b->head; before; before = before->next)
			if (before->addr == p->addr && before->priority < p->priority)
				break;
	if (!before) {
		bucket_append(b, p);
		return;
	}
	p->next = before;
	p->prev = before->prev;
	if (before->prev)
		before->prev->next = p;
	else
		b->head = p;
	before->prev = p;
}

/*
 * A table past the first is mapped, not taken from malloc: malloc on a green thread that
 * never called it gives that thread an arena (64 MiB of address space, reserved where
 * natively a thread that only waits reserves nothing), and a program with a lowered
 * RLIMIT_AS would lose it from its budget.
 */
static struct bucket *table_map(size_t n)
{
	void *t = mmap(NULL, n * sizeof(struct bucket), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return t == MAP_FAILED ? NULL : t;
}

static void table_unmap(struct bucket *t, unsigned b)
{
	if (t != first_buckets)
		munmap(t, ((size_t)1 << b) * sizeof(*t));
}

/* Doubles the table, keeping each address's waiters in their order; without memory,
 * the table stays as it is. */
static void grow(void)
{
	size_t old_n = (size_t)1 << bits, n = old_n * 2;
	struct bucket *t = table_map(n);
	if (!t)
		return;
	uint64_t stamp = 0;
	for (size_t i = 0; i < old_n; i++)
		if (buckets[i].woken_at > stamp)
			stamp = buckets[i].woken_at;
	for (size_t i = 0; i < n; i++)
		t[i].woken_at = stamp;
	for (size_t i = 0; i < old_n; i++)
		for (struct parked *p = buckets[i].head, *next; p; p = next) {
			next = p->next;
			bucket_append(&t[bucket_index(p->addr, bits + 1)], p);
		}
	table_unmap(buckets, bits);
	buckets = t;
	bits++;
}

int gp_park_on(const void *addr, double timeout, const char *what)
{
	/*
	 * A caller decides to park on what it saw before it entered the runtime (a lock
	 * taken, a count at zero): on one kernel thread nothing can change in between. A
	 * thread that had to rejoin the carrier on its way in (kthread.h) was away while the
	 * others ran, and the wake-up it would wait for may have come and gone: it is told
	 * to look again.
	 */
	struct gp_runtime *rt = gp_rt;
	struct gp_green *self = gp_self();
	struct bucket *b = bucket_of(addr);
	/*
	 * With several carriers, what the caller saw in program code may have changed since
	 * on another carrier, which woke the waiters of addr before this thread was one of
	 * them. Every unpark on an address stamps its bucket with a sequence number; the
	 * thread noted the number when it left the runtime before it looked (gp_leave), and
	 * looks again if its bucket has been stamped since, as a futex wait compares the
	 * word. A stamp for another address of the bucket costs one look more.
	 */
	bool stale = rt->multi && b->woken_at > self->left_at;
	self->left_at = rt->wake_seq;
	if (GP_UNLIKELY(self->rejoined || stale)) {
		self->rejoined = false;
		self->wait_obj = NULL;
		self->wait_io = false;
		return -EAGAIN;
	}
	if (GP_UNLIKELY(++nparked > ((size_t)1 << bits) && bits < MAX_BITS)) {
		grow();
		b = bucket_of(addr);
	}
	struct parked p = { .addr = addr, .g = self, .priority = gp_rt_priority(self) };
	bucket_add(b, &p);
	p.g->wait_obj = addr;
	int rc = gp_park(timeout, what);
	self->left_at = rt->wake_seq;   /* what it looks at next, it looks at from here */
	nparked--;
	/* The table may have grown meanwhile: its bucket is looked up again. */
	if (p.picked)
		return 0;
	bucket_remove(bucket_of(addr), &p);
	/*
	 * Resumed but not picked: the async queue overflowed and every parked thread was
	 * woken (gp__sync_drain_async). That is a spurious wake-up, not a hand-over: a
	 * barrier's waiter that took it for one would leave before its round ended.
	 */
	return rc == 0 ? -EAGAIN : rc;
}

void gp_park_forget_away(const void *addr, uint64_t seq)
{
	struct gp_green *self = gp_self();
	if (self->rejoined && bucket_of(addr)->woken_at <= seq)
		self->rejoined = false;
}

size_t gp_unpark_on(const void *addr, size_t n)
{
	struct bucket *b = bucket_of(addr);
	b->woken_at = gp_wake_stamp();
	size_t woken = 0;
	for (struct parked *p = b->head, *next; p && woken < n; p = next) {
		next = p->next;
		if (p->addr != addr)
			continue;
		bucket_remove(b, p);
		p->picked = 1;
		gp_unpark(p->g);
		woken++;
	}
	return woken;
}

size_t gp_parked_on(const void *addr)
{
	size_t n = 0;
	for (struct parked *p = bucket_of(addr)->head; p; p = p->next)
		n += p->addr == addr;
	return n;
}


/*
 * Wake-ups asked for from other kernel threads travel through a bounded lock-free
 * queue (Vyukov's bounded MPMC design, used here with one consumer) and the carrier's
 * ev_async. When the queue is full the request is not lost: it marks its address's
 * class (OVERFLOW_BITS of the address's hash) and a flag, and the carrier wakes every
 * thread parked on an address of a marked class, each of which looks again at what it
 * waits for. Threads parked elsewhere sleep on: a burst of hand-offs that fills the
 * queue wakes those that may have lost a wake-up, not every parked thread.
 */
#define ASYNC_SLOTS 1024
#define OVERFLOW_BITS 12

struct async_slot {
	_Atomic size_t seq;
	const void *addr;
};

static struct async_slot async_ring[ASYNC_SLOTS];
static _Atomic size_t async_head;       /* next slot to fill */
static size_t async_tail;               /* next slot to drain (carrier only) */
static _Atomic int async_overflow;
static _Atomic uint64_t overflow_marks[((size_t)1 << OVERFLOW_BITS) / 64];
static _Atomic int async_ready;

/* The class is marked before the flag is raised; the carrier lowers the flag before it
 * takes the marks: a mark it misses comes with a flag it sees next time. */
static void overflow_mark(const void *addr)
{
	size_t k = bucket_index(addr, OVERFLOW_BITS);
	atomic_fetch_or(&overflow_marks[k / 64], (uint64_t)1 << (k % 64));
	atomic_store(&async_overflow, 1);
}

size_t gp__sync_overflow_class(const void *addr)
{
	return bucket_index(addr, OVERFLOW_BITS);
}

static bool overflow_marked(const uint64_t *marks, const void *addr)
{
	size_t k = bucket_index(addr, OVERFLOW_BITS);
	return marks[k / 64] & ((uint64_t)1 << (k % 64));
}

static void async_ring_init(void)
{
	for (size_t i = 0; i < ASYNC_SLOTS; i++)
		atomic_store_explicit(&async_ring[i].seq, i, memory_order_relaxed);
	atomic_store(&async_ready, 1);
}

static int async_push(const void *addr)
{
	size_t pos = atomic_load_explicit(&async_head, memory_order_relaxed);
	for (;;) {
		struct async_slot *s = &async_ring[pos % ASYNC_SLOTS];
		size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&async_head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				s->addr = addr;
				atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
				return 0;
			}
		} else if (dif < 0) {
			return -1;   /* full */
		} else {
			pos = atomic_load_explicit(&async_head, memory_order_relaxed);
		}
	}
}

static bool async_pop(const void **addr)
{
	struct async_slot *s = &async_ring[async_tail % ASYNC_SLOTS];
	size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if ((intptr_t)seq - (intptr_t)(async_tail + 1) < 0)
		return false;
	*addr = s->addr;
	atomic_store_explicit(&s->seq, async_tail + ASYNC_SLOTS, memory_order_release);
	async_tail++;
	return true;
}

/*
 * The queued address carries in its lowest bit whether to wake all (objects are
 * aligned). The request is queued even when nobody is parked on addr yet: a green
 * thread may have found the object taken and be about to park, and it parks before
 * the carrier drains the queue.
 */
static void unpark_async(const void *addr, bool all)
{
	struct gp_runtime *c = gp_rt;
	if (!c || !atomic_load_explicit(&async_ready, memory_order_acquire))
		return;
	if (async_push((const char *)addr + all) < 0)
		overflow_mark(addr);
	ev_async_send(c->loop, &c->async);
}

void gp_unpark_on_async(const void *addr)
{
	unpark_async(addr, false);
}

void gp_unpark_all_on_async(const void *addr)
{
	unpark_async(addr, true);
}

/* After an overflow: every thread parked on an address of a marked class, woken to look
 * again (gp_park_on: not a pick). Every bucket is stamped, as after any unpark: a thread
 * that looked at such an address and is about to park looks again. */
static void wake_marked(void)
{
	uint64_t marks[GP_ARRAY_LEN(overflow_marks)];
	for (size_t i = 0; i < GP_ARRAY_LEN(overflow_marks); i++)
		marks[i] = atomic_exchange(&overflow_marks[i], 0);
	uint64_t stamp = gp_wake_stamp();
	for (size_t i = 0; i < (size_t)1 << bits; i++) {
		buckets[i].woken_at = stamp;
		for (struct parked *p = buckets[i].head; p; p = p->next)
			if (overflow_marked(marks, p->addr))
				gp_unpark(p->g);
	}
}

void gp__sync_drain_async(void)
{
	const void *tagged;
	while (async_pop(&tagged)) {
		uintptr_t a = (uintptr_t)tagged;
		gp_unpark_on((const void *)(a & ~(uintptr_t)1), (a & 1) ? (size_t)-1 : 1);
	}
	if (atomic_exchange(&async_overflow, 0))
		wake_marked();
}

void gp_sync_reset(void)
{
	table_unmap(buckets, bits);
	memset(first_buckets, 0, sizeof(first_buckets));
	buckets = first_buckets;
	bits = FIRST_BITS;
	nparked = 0;
	atomic_store(&async_head, 0);
	async_tail = 0;
	atomic_store(&async_overflow, 0);
	for (size_t i = 0; i < GP_ARRAY_LEN(overflow_marks); i++)
		atomic_store(&overflow_marks[i], 0);
	async_ring_init();
}

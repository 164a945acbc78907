#include "sync.h"

#include <stdint.h>
#include <string.h>

#include "sched.h"

#define BUCKETS 256

struct parked {
	struct parked *prev, *next;
	const void *addr;
	struct gp_green *g;
	int picked;
};

struct bucket {
	struct parked *head, *tail;
};

static struct bucket buckets[BUCKETS];

static struct bucket *bucket_of(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	a ^= a >> 17;
	a *= 0x9e3779b97f4a7c15ULL;
	return &buckets[(a >> 32) % BUCKETS];
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

int gp_park_on(const void *addr, double timeout, const char *what)
{
	struct bucket *b = bucket_of(addr);
	struct parked p = { .prev = b->tail, .addr = addr, .g = gp_self() };
	if (b->tail)
		b->tail->next = &p;
	else
		b->head = &p;
	b->tail = &p;
	int rc = gp_park(timeout, what);
	if (!p.picked)
		bucket_remove(b, &p);
	return p.picked ? 0 : rc;
}

size_t gp_unpark_on(const void *addr, size_t n)
{
	struct bucket *b = bucket_of(addr);
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

void gp_sync_reset(void)
{
	memset(buckets, 0, sizeof(buckets));
}

#include "stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef PIDFD_SELF_THREAD
#define PIDFD_SELF_THREAD -10000   /* Linux 6.14+: the calling thread, without a descriptor */
#endif

/*
 * Where stacks come from. Each size in use has a class; a class carves slots (a guard
 * page, then the stack) one after the other from regions it reserves with one mmap
 * each, every region twice as large as the one before, from REGION_MIN up to
 * REGION_MAX (or one slot, if a slot is larger), or smaller when the address space
 * cannot give that much. A million 16 KiB stacks then take a few dozen mappings, not a
 * million.
 *
 * A freed stack goes to the warm cache: the most recently freed stacks of any size,
 * at most CACHE_MAX, handed out again as they are (their touched pages still there), the
 * most recent first, so a thread created right after another ended runs on a warm
 * stack. When the cache is full, its oldest half gives its pages back to the kernel
 * (MADV_DONTNEED over each stack, never its guard) and goes to the cold lists of their
 * classes, which are reused before anything new is carved. Nothing is ever unmapped:
 * an munmap in the middle of a region would split it in two mappings.
 *
 * Every madvise that takes pages away, or installs a guard, ends in a TLB flush, which
 * costs tens of microseconds in a virtual machine: pages go back, and guards are
 * installed, CARVE_BATCH stacks at a time, with one process_madvise (Linux 6.14+, on
 * the calling thread's own memory) where the kernel takes it, else one madvise each.
 *
 * Only the carrier allocates and frees stacks, so nothing here is locked.
 */
#define CACHE_MAX 64
#define CARVE_BATCH 32
#define REGION_MIN ((size_t)1 << 20)
#define REGION_MAX ((size_t)1 << 30)

struct stack_class {
	struct stack_class *next;
	size_t size;             /* usable bytes of its stacks */
	char *carve, *carve_end; /* what is left of the newest region */
	size_t next_region;      /* bytes of the next region */
	void **cold;             /* lo of each stack whose pages went back */
	size_t cold_len, cold_cap;
};

static struct gp_stack cache[CACHE_MAX];
static int cache_len;
static struct stack_class *classes;
static int guard_mode;  /* 0 unknown, 1 madvise, 2 mprotect */
static bool no_process_madvise;
static size_t page_size;

static size_t page(void)
{
	if (!page_size)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	return page_size;
}

/*
 * A guard region (MADV_GUARD_INSTALL) lies inside its stack's mapping, where it makes
 * any read of the mapping that crosses it fail: gdb's gcore then leaves out every stack
 * after it. GREENPATCH_STACK_GUARD=mprotect makes each guard a mapping of its own, which
 * such tools skip, at the cost of two mappings per stack.
 */
static int install_guard(void *guard)
{
	if (gp_config.stack_guard_mprotect)
		guard_mode = 2;
	if (guard_mode != 2) {
		if (madvise(guard, page(), MADV_GUARD_INSTALL) == 0) {
			guard_mode = 1;
			return 0;
		}
		if (guard_mode == 1)
			return -errno;
		guard_mode = 2;   /* EINVAL: the kernel predates guard regions */
	}
	return mprotect(guard, page(), PROT_NONE) == 0 ? 0 : -errno;
}

/* madvise(advice) over each of the n ranges: one system call where the kernel can. */
static int madvise_ranges(struct iovec *iov, int n, int advice)
{
	if (n == 0)
		return 0;
	size_t total = 0;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (!no_process_madvise &&
	    syscall(SYS_process_madvise, PIDFD_SELF_THREAD, iov, (size_t)n, advice, 0) ==
		    (long)total)
		return 0;
	/* An older kernel (EINVAL, EBADF, ENOSYS), or a partial run: one call per range,
	 * which does again harmlessly what may have been done. */
	if (errno != EINTR && errno != EAGAIN && errno != ENOMEM)
		no_process_madvise = true;
	for (int i = 0; i < n; i++)
		if (madvise(iov[i].iov_base, iov[i].iov_len, advice) < 0)
			return -errno;
	return 0;
}

bool gp_stack_guard_is_madvise(void)
{
	return guard_mode == 1;
}

static struct stack_class *class_of(size_t size, bool create)
{
	for (struct stack_class *k = classes; k; k = k->next)
		if (k->size == size)
			return k;
	if (!create)
		return NULL;
	struct stack_class *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->size = size;
	k->next_region = REGION_MIN;
	k->next = classes;
	classes = k;
	return k;
}

static void stack_set(struct gp_stack *s, void *lo, size_t size)
{
	s->lo = lo;
	s->size = size;
	s->map = (char *)lo - page();
	s->map_size = size + page();
}

static void cold_push(struct stack_class *k, void *lo);

/*
 * A new region for the class: as large as it asks for, or when the address space cannot
 * give that much (RLIMIT_AS, or an address space nearly full), the largest it can, down
 * to one slot. A thread is then refused only when its own stack cannot be mapped, as
 * glibc refuses it, not when a region of a thousand stacks cannot. NULL if not even one.
 */
static void *map_region(struct stack_class *k, size_t slot, size_t *bytes)
{
	size_t want = k->next_region < slot ? slot : k->next_region;
	for (;;) {
		want -= want % slot;
		void *r = mmap(NULL, want, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
		if (r != MAP_FAILED) {
			*bytes = want;
			if (want < k->next_region)
				k->next_region = want;   /* doubled again below */
			return r;
		}
		if (want == slot)
			return NULL;
		want = want / 2 < slot ? slot : want / 2;
	}
}

/*
 * A stack from the class's region, with its guard installed; NULL if none can be had.
 * Up to CARVE_BATCH slots are carved at once, their guards installed together, and all
 * but the first go to the cold list (they are untouched: nothing to give back).
 */
static void *carve(struct stack_class *k, int *err)
{
	size_t slot = k->size + page();
	if ((size_t)(k->carve_end - k->carve) < slot) {
		size_t bytes;
		void *r = map_region(k, slot, &bytes);
		if (!r) {
			*err = -ENOMEM;
			return NULL;
		}
		/* The rest of the old region is left unused: it was never touched. */
		k->carve = r;
		k->carve_end = (char *)r + bytes;
		if (k->next_region < REGION_MAX)
			k->next_region *= 2;
	}
	int n = (int)((size_t)(k->carve_end - k->carve) / slot);
	if (n > CARVE_BATCH)
		n = CARVE_BATCH;
	if (guard_mode == 0)
		n = 1;   /* the first guard finds out which kind the kernel has */
	int rc = 0;
	if (guard_mode == 1) {
		struct iovec iov[CARVE_BATCH];
		for (int i = 0; i < n; i++)
			iov[i] = (struct iovec){ k->carve + (size_t)i * slot, page() };
		rc = madvise_ranges(iov, n, MADV_GUARD_INSTALL);
	} else {
		n = 1;
		rc = install_guard(k->carve);
	}
	if (rc < 0) {
		*err = rc == -EINVAL ? -ENOMEM : rc;
		return NULL;
	}
	char *first = k->carve + page();
	k->carve += (size_t)n * slot;
	/* Pushed highest first, so that the cold list hands them out in address order. */
	for (int i = n - 1; i >= 1; i--)
		cold_push(k, first + (size_t)i * slot);
	return first;
}

static bool take_cached(struct gp_stack *s, size_t size)
{
	for (int i = cache_len - 1; i >= 0; i--) {
		if (cache[i].size == size) {
			*s = cache[i];
			memmove(&cache[i], &cache[i + 1], sizeof(cache[0]) * (size_t)(cache_len - 1 - i));
			cache_len--;
			return true;
		}
	}
	return false;
}

int gp_stack_alloc(struct gp_stack *s, size_t size)
{
	if (size == 0 || size > ((size_t)1 << 40))
		return -EINVAL;
	size = (size + page() - 1) & ~(page() - 1);
	if (take_cached(s, size))
		return 0;
	struct stack_class *k = class_of(size, true);
	if (!k)
		return -ENOMEM;
	if (k->cold_len > 0) {
		stack_set(s, k->cold[--k->cold_len], size);
		return 0;
	}
	int err = 0;
	void *lo = carve(k, &err);
	if (!lo)
		return err;
	stack_set(s, lo, size);
	return 0;
}

/* Keep lo for reuse; without memory for the list, the stack stays reserved, unused. */
static void cold_push(struct stack_class *k, void *lo)
{
	if (k->cold_len == k->cold_cap) {
		size_t cap = k->cold_cap ? 2 * k->cold_cap : 64;
		void **cold = realloc(k->cold, cap * sizeof(*cold));
		if (!cold)
			return;
		k->cold = cold;
		k->cold_cap = cap;
	}
	k->cold[k->cold_len++] = lo;
}

/* The n oldest cached stacks give their pages back and go to their cold lists. */
static void evict_oldest(int n)
{
	struct iovec iov[CACHE_MAX];
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){ cache[i].lo, cache[i].size };
	madvise_ranges(iov, n, MADV_DONTNEED);
	for (int i = 0; i < n; i++) {
		struct stack_class *k = class_of(cache[i].size, false);
		if (k)
			cold_push(k, cache[i].lo);
	}
	memmove(&cache[0], &cache[n], sizeof(cache[0]) * (size_t)(cache_len - n));
	cache_len -= n;
}

void gp_stack_free(struct gp_stack *s)
{
	if (!s->map)
		return;
	if (cache_len == CACHE_MAX)
		evict_oldest(CACHE_MAX / 2);
	cache[cache_len++] = *s;
	s->map = NULL;
}

bool gp_stack_addr_in_guard(const struct gp_stack *s, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, g = (uintptr_t)s->map;
	return s->map && a >= g && a < g + page();
}

void gp_stack_cache_drain(void)
{
	evict_oldest(cache_len);
}

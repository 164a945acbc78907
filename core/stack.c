#include "stack.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/*
 * The cache keeps the most recently freed stacks of any size, so a thread created right
 * after another ended reuses its warm stack. It is bounded in count: when it is full,
 * the oldest entry goes back to the kernel, so a size the program stopped using never
 * crowds out the one it uses now.
 */
#define CACHE_MAX 64

static struct gp_stack cache[CACHE_MAX];
static int cache_len;
static int guard_mode;  /* 0 unknown, 1 madvise, 2 mprotect */
static size_t page_size;

static size_t page(void)
{
	if (!page_size)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	return page_size;
}

static int install_guard(void *guard)
{
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

bool gp_stack_guard_is_madvise(void)
{
	return guard_mode == 1;
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
	size_t map_size = size + page();
	void *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	int rc = install_guard(map);
	if (rc < 0) {
		munmap(map, map_size);
		return rc == -EINVAL ? -ENOMEM : rc;
	}
	s->map = map;
	s->map_size = map_size;
	s->lo = (char *)map + page();
	s->size = size;
	return 0;
}

void gp_stack_free(struct gp_stack *s)
{
	if (!s->map)
		return;
	if (cache_len == CACHE_MAX) {
		munmap(cache[0].map, cache[0].map_size);
		memmove(&cache[0], &cache[1], sizeof(cache[0]) * (CACHE_MAX - 1));
		cache_len--;
	}
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
	while (cache_len > 0) {
		struct gp_stack *s = &cache[--cache_len];
		munmap(s->map, s->map_size);
	}
}

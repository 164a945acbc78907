/*
 * Green thread stacks: reserved with MAP_NORESERVE so that only touched pages cost
 * memory, with a guard page below the usable range, and kept in a small cache so that
 * creating a thread after the first few makes no system call.
 *
 * The guard is installed with MADV_GUARD_INSTALL where the kernel has it (Linux 6.13+):
 * it does not split the mapping, so a stack costs one entry of vm.max_map_count instead
 * of two. Elsewhere it is an mprotect(PROT_NONE) page.
 */
#ifndef GP_STACK_H
#define GP_STACK_H

#include <stdbool.h>
#include <stddef.h>

struct gp_stack {
	void *lo;          /* lowest usable byte; the guard page is just below */
	size_t size;       /* usable bytes */
	void *map;         /* the whole mapping, guard included; NULL if not ours */
	size_t map_size;
};

/* A stack of at least size usable bytes (rounded up to pages): 0 or -ENOMEM/-EINVAL. */
int gp_stack_alloc(struct gp_stack *s, size_t size);

/* Give a stack back (to the cache, or to the kernel). */
void gp_stack_free(struct gp_stack *s);

/* Whether guards are installed without splitting mappings (MADV_GUARD_INSTALL). */
bool gp_stack_guard_is_madvise(void);

/* Is addr inside the guard page of a stack this module handed out and still tracks? */
bool gp_stack_addr_in_guard(const struct gp_stack *s, const void *addr);

/* Drop every cached stack (after fork, in tests). */
void gp_stack_cache_drain(void);

#endif

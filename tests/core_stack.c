/*
 * core/stack: sizes, the guard page below each stack, the cache of freed stacks, the
 * pages of stacks beyond the cache given back, and stacks carved from shared regions.
 */
#include "unit.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "config.h"
#include "stack.h"

static volatile char sink;

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static struct gp_stack alloc_ok(size_t size)
{
	struct gp_stack s;
	memset(&s, 0, sizeof(s));
	int rc = gp_stack_alloc(&s, size);
	cr_assert_eq(rc, 0, "gp_stack_alloc(%zu) = %d (%s)", size, rc, strerror(-rc));
	return s;
}

/* Is [addr, addr+len) mapped at all? mincore fails with ENOMEM where nothing is. */
static bool is_mapped(const void *addr, size_t len)
{
	unsigned char vec[16];
	return mincore((void *)addr, len, vec) == 0 || errno != ENOMEM;
}

/* Is the page at addr in memory? (A page given back with MADV_DONTNEED is not.) */
static bool is_resident(const void *addr)
{
	unsigned char vec = 0;
	cr_assert_eq(mincore((void *)((uintptr_t)addr & ~(page() - 1)), page(), &vec), 0,
		     "mincore(%p): %s", addr, strerror(errno));
	return vec & 1;
}

static void *top_page(const struct gp_stack *s)
{
	return (char *)s->lo + s->size - page();
}

/* Memory mappings of the process: vm.max_map_count caps them. */
static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f, "/proc/self/maps: %s", strerror(errno));
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

Test(core_stack, sizes_round_up_to_pages, .timeout = UNIT_TIMEOUT)
{
	const size_t p = page();
	const struct { size_t ask, want; } cases[] = {
		{ 1, p }, { p - 1, p }, { p, p }, { p + 1, 2 * p },
		{ 65536, 65536 }, { 256 * 1024 - 100, 256 * 1024 }, { 8 << 20, 8 << 20 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gp_stack s = alloc_ok(cases[i].ask);
		cr_assert_eq(s.size, cases[i].want, "asked %zu bytes, got %zu usable, expected %zu",
			     cases[i].ask, s.size, cases[i].want);
		cr_assert_eq((uintptr_t)s.lo % p, 0, "lo %p is not page-aligned", s.lo);
		cr_assert_eq((char *)s.map + p, (char *)s.lo,
			     "the guard is not one page right below lo: map %p, lo %p", s.map, s.lo);
		cr_assert_eq(s.map_size, s.size + p, "map_size %zu for %zu usable bytes",
			     s.map_size, s.size);
		gp_stack_free(&s);
	}
}

Test(core_stack, whole_usable_range_is_writable, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(1024 * 1024);
	memset(s.lo, 0xa5, s.size);
	unsigned char *b = s.lo;
	for (size_t i = 0; i < s.size; i += page() / 2)
		cr_assert_eq(b[i], 0xa5, "byte %zu of the stack reads %#x after memset", i, b[i]);
	cr_assert_eq(b[s.size - 1], 0xa5, "the top byte reads %#x", b[s.size - 1]);
	gp_stack_free(&s);
}

Test(core_stack, zero_or_absurd_size_is_einval, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s;
	memset(&s, 0, sizeof(s));
	int rc = gp_stack_alloc(&s, 0);
	cr_assert_eq(rc, -EINVAL, "gp_stack_alloc(0) = %d, expected -EINVAL", rc);
	rc = gp_stack_alloc(&s, SIZE_MAX);
	cr_assert_eq(rc, -EINVAL, "gp_stack_alloc(SIZE_MAX) = %d, expected -EINVAL (and no "
		     "overflow in the rounding)", rc);
}

/* Is there a mapping without access that ends at addr? */
static bool inaccessible_mapping_ends_at(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3)
			found = hi == (uintptr_t)addr && strncmp(perms, "---", 3) == 0;
	}
	fclose(f);
	return found;
}

/* GREENPATCH_STACK_GUARD=mprotect: the guard is a mapping of its own (gcore reads around it). */
Test(core_stack, guard_is_a_mapping_when_asked, .timeout = UNIT_TIMEOUT)
{
	gp_config.stack_guard_mprotect = 1;
	struct gp_stack s = alloc_ok(64 * 1024);
	cr_assert(!gp_stack_guard_is_madvise(), "a guard region despite mprotect");
	cr_assert(inaccessible_mapping_ends_at(s.lo), "no guard mapping right below lo %p", s.lo);
	gp_stack_free(&s);
}

/* The byte right below lo is the guard: touching it must kill, not scribble. */
Test(core_stack, guard_below_lo_faults, .signal = SIGSEGV, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(64 * 1024);
	volatile char *below = (char *)s.lo - 1;
	*below = 1;
	cr_assert_fail("wrote below lo at %p without a fault", (void *)below);
}

Test(core_stack, guard_bottom_byte_faults, .signal = SIGSEGV, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(64 * 1024);
	volatile char *bottom = (char *)s.lo - page();
	sink = *bottom;   /* a load whose value is used: valgrind drops dead loads */
	cr_assert_fail("read the lowest guard byte at %p without a fault", (void *)bottom);
}

/* A stack handed out again from the cache keeps its guard. */
Test(core_stack, guard_survives_reuse, .signal = SIGSEGV, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(64 * 1024);
	void *lo = s.lo;
	gp_stack_free(&s);
	s = alloc_ok(64 * 1024);
	cr_assert_eq(s.lo, lo, "the freed stack was not reused");
	volatile char *below = (char *)s.lo - 1;
	*below = 1;
	cr_assert_fail("wrote below a reused stack at %p without a fault", (void *)below);
}

Test(core_stack, freed_stack_is_reused, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack a = alloc_ok(128 * 1024);
	void *lo = a.lo;
	gp_stack_free(&a);
	cr_assert_null(a.map, "gp_stack_free left map set: a second free would cache it twice");
	struct gp_stack b = alloc_ok(128 * 1024);
	cr_assert_eq(b.lo, lo, "same size after a free: got lo %p, the freed stack was %p",
		     b.lo, lo);
	/* Only an exact size matches: a smaller stack is not served from a larger one. */
	gp_stack_free(&b);
	struct gp_stack c = alloc_ok(64 * 1024);
	cr_assert_neq(c.lo, lo, "a 64 KiB request was served with the cached 128 KiB stack");
	cr_assert_eq(c.size, (size_t)64 * 1024, "size %zu", c.size);
	/* A size that rounds to the cached one does match. */
	struct gp_stack d = alloc_ok(128 * 1024 - 10);
	cr_assert_eq(d.lo, lo, "128 KiB - 10 rounds to 128 KiB but did not reuse the stack");
	gp_stack_free(&c);
	gp_stack_free(&d);
}

/* Most recently freed first: its pages are the likeliest to be warm. */
Test(core_stack, cache_is_lifo, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack a = alloc_ok(64 * 1024), b = alloc_ok(64 * 1024);
	void *lo_a = a.lo, *lo_b = b.lo;
	gp_stack_free(&a);
	gp_stack_free(&b);
	struct gp_stack x = alloc_ok(64 * 1024), y = alloc_ok(64 * 1024);
	cr_assert_eq(x.lo, lo_b, "first reuse got %p, expected the last freed %p", x.lo, lo_b);
	cr_assert_eq(y.lo, lo_a, "second reuse got %p, expected %p", y.lo, lo_a);
}

/* A drain gives the cached stacks' pages back; the stacks stay reserved for reuse. */
Test(core_stack, drain_returns_cached_pages, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(64 * 1024);
	void *lo = s.lo;
	*(volatile char *)top_page(&s) = 1;
	gp_stack_free(&s);
	cr_assert(is_resident((char *)lo + 64 * 1024 - page()),
		  "a cached stack lost its pages before the drain");
	gp_stack_cache_drain();
	cr_assert(is_mapped((char *)lo + 64 * 1024 - page(), page()),
		  "the drained stack was unmapped: an munmap splits its region");
	cr_assert_not(is_resident((char *)lo + 64 * 1024 - page()),
		      "the drained stack at %p still holds its top page", lo);
	s = alloc_ok(64 * 1024);
	cr_assert_eq(s.lo, lo, "the drained stack was not reused: got %p, expected %p", s.lo, lo);
	gp_stack_free(&s);
}

/* The cache is bounded: beyond it, the oldest stacks give their pages back and the most
 * recently freed one keeps them; the stacks are reused before anything new is mapped. */
Test(core_stack, cache_is_bounded, .timeout = UNIT_TIMEOUT)
{
	enum { N = 200 };
	static struct gp_stack s[N];
	for (int i = 0; i < N; i++) {
		s[i] = alloc_ok(32 * 1024);
		*(volatile char *)top_page(&s[i]) = 1;
	}
	void *first_top = top_page(&s[0]), *last_top = top_page(&s[N - 1]);
	for (int i = 0; i < N; i++)
		gp_stack_free(&s[i]);
	cr_assert_not(is_resident(first_top),
		      "%d stacks freed and the first one still holds its pages: the cache is "
		      "unbounded", N);
	cr_assert(is_mapped(first_top, page()), "a stack beyond the cache was unmapped");
	cr_assert(is_resident(last_top),
		  "the most recently freed stack lost its pages: the cache evicts the wrong end");
	int maps = count_maps();
	for (int i = 0; i < N; i++)
		s[i] = alloc_ok(32 * 1024);
	cr_assert_eq(count_maps(), maps, "reusing %d freed stacks changed the mappings", N);
	bool reused_first = false;
	for (int i = 0; i < N; i++)
		reused_first |= top_page(&s[i]) == first_top;
	cr_assert(reused_first, "the stack whose pages went back was not reused");
	for (int i = 0; i < N; i++)
		gp_stack_free(&s[i]);
}

/* A stack whose pages went back keeps its guard when it is handed out again. */
Test(core_stack, guard_survives_returned_pages, .signal = SIGSEGV, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(48 * 1024);
	void *lo = s.lo;
	*(volatile char *)top_page(&s) = 1;
	gp_stack_free(&s);
	gp_stack_cache_drain();
	s = alloc_ok(48 * 1024);
	cr_assert_eq(s.lo, lo, "the drained stack was not reused");
	memset(s.lo, 0, s.size);   /* usable from bottom to top after the pages came back */
	volatile char *below = (char *)s.lo - 1;
	*below = 1;
	cr_assert_fail("wrote below a stack whose pages had gone back, at %p, without a fault",
		       (void *)below);
}

Test(core_stack, addr_in_guard, .timeout = UNIT_TIMEOUT)
{
	struct gp_stack s = alloc_ok(64 * 1024);
	const char *lo = s.lo;
	const size_t p = page();
	const struct { const char *addr; bool want; const char *what; } cases[] = {
		{ lo - 1, true, "lo - 1" },
		{ lo - p, true, "lo - page (lowest guard byte)" },
		{ lo - p / 2, true, "middle of the guard" },
		{ lo, false, "lo" },
		{ lo + s.size - 1, false, "top byte" },
		{ lo - p - 1, false, "below the guard" },
		{ NULL, false, "NULL" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(gp_stack_addr_in_guard(&s, cases[i].addr), cases[i].want,
			     "gp_stack_addr_in_guard(%s) = %d", cases[i].what, !cases[i].want);
	gp_stack_free(&s);
	cr_assert_not(gp_stack_addr_in_guard(&s, lo - 1),
		      "a freed stack still claims its guard");
}

/* Kernel release as major * 1000 + minor, 0 if unreadable. */
static int kernel_version(void)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major * 1000 + minor;
}

Test(core_stack, guard_uses_madvise_on_recent_kernels, .timeout = UNIT_TIMEOUT)
{
	int v = kernel_version();
	if (v < 6013)
		cr_skip_test("kernel %d.%d predates MADV_GUARD_INSTALL (6.13)", v / 1000, v % 1000);
	/* The mode is learnt from the first guard installed. */
	struct gp_stack s = alloc_ok(64 * 1024);
	cr_assert(gp_stack_guard_is_madvise(),
		  "kernel %d.%d has MADV_GUARD_INSTALL but the guard fell back to mprotect",
		  v / 1000, v % 1000);
	gp_stack_free(&s);
}

/* With madvise guards a stack is one mapping at most; count them in /proc/self/maps
 * around a batch of allocations (fewer than 2 per stack proves the guard did not split). */
Test(core_stack, madvise_guard_does_not_split_mappings, .timeout = UNIT_TIMEOUT)
{
	enum { N = 100 };
	if (kernel_version() < 6013)
		cr_skip_test("kernel predates MADV_GUARD_INSTALL");
	static struct gp_stack s[N];
	s[0] = alloc_ok(64 * 1024);
	cr_assert(gp_stack_guard_is_madvise(), "guards are not madvise guards");
	int before = count_maps();
	for (int i = 1; i < N; i++)
		s[i] = alloc_ok(64 * 1024);
	int added = count_maps() - before;
	cr_assert_lt(added, 2 * (N - 1), "%d stacks added %d mappings: each guard splits its "
		     "mapping", N - 1, added);
	for (int i = 0; i < N; i++)
		gp_stack_free(&s[i]);
}

/* Stacks are carved from regions: thousands of them take a handful of mappings, which is
 * what lets a million green threads fit under vm.max_map_count (65530). */
Test(core_stack, carved_stacks_share_mappings, .timeout = UNIT_TIMEOUT)
{
	enum { N = 5000 };
	if (kernel_version() < 6013)
		cr_skip_test("kernel predates MADV_GUARD_INSTALL");
	static struct gp_stack s[N];
	s[0] = alloc_ok(20 * 1024);
	int before = count_maps();
	for (int i = 1; i < N; i++) {
		s[i] = alloc_ok(20 * 1024);
		*(volatile char *)top_page(&s[i]) = 1;
	}
	int added = count_maps() - before;
	cr_assert_lt(added, 32, "%d stacks added %d mappings", N - 1, added);
	for (int i = 0; i < N; i++)
		gp_stack_free(&s[i]);
	/* Slack for mappings others make meanwhile (a sanitizer's allocator): a split
	 * region would add one or two mappings per stack. */
	int after = count_maps() - before;
	cr_assert_lt(after, added + 32, "freeing %d stacks took the mappings from %d to %d: "
		     "it split their regions", N, added, after);
}

/*
 * Thread-specific data for green threads.
 *
 * Keys are glibc's (pthread_key_create hands them out, so they stay valid for kernel
 * threads too); the values of a green thread live in a small two-level table of its
 * own, allocated on its first pthread_setspecific. The program's first thread keeps
 * glibc's own storage, which holds what it set before the runtime started.
 *
 * When a green thread ends, the destructors of its non-NULL values run, for up to
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds as glibc does, since a destructor may set values
 * again.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#if defined(__SANITIZE_ADDRESS__)
/* <link.h> (through <elf.h>) defines names <ev.h> uses for its own constants. */
#include <link.h>
#undef EV_NONE
#undef EV_CURRENT
#undef EV_NUM
#endif

#include "hook.h"
#include "tls.h"
#include "tsd.h"

#define BLOCK 32
#define BLOCKS ((PTHREAD_KEYS_MAX + BLOCK - 1) / BLOCK)

struct green_tsd {
	void **block[BLOCKS];
};

/* Each key's destructor, as the program gave it, and whether the key exists. Every
 * key is created through our hook, even one created before our constructor ran. */
static void (*destructors[PTHREAD_KEYS_MAX])(void *);
static bool key_used[PTHREAD_KEYS_MAX];

static struct green_tsd *tsd_of(struct gp_green *g)
{
	return g->shim_data;
}

int pthread_key_create(pthread_key_t *key, void (*dtor)(void *))
{
	int rc = GP_REAL(pthread_key_create)(key, dtor);
	if (rc == 0 && *key < PTHREAD_KEYS_MAX) {
		destructors[*key] = dtor;
		key_used[*key] = true;
	}
	return rc;
}

int pthread_key_delete(pthread_key_t key)
{
	int rc = GP_REAL(pthread_key_delete)(key);
	if (rc == 0 && key < PTHREAD_KEYS_MAX) {
		destructors[key] = NULL;
		key_used[key] = false;
		/* A key created later with the same number starts with no values. The list
		 * of threads is the runtime's: walked inside the bracket. */
		bool entered = gp_on_green();
		if (entered)
			gp_enter();
		for (struct gp_green *g = gp_rt ? gp_all() : NULL; g; g = g->all_next) {
			struct green_tsd *t = tsd_of(g);
			if (t && t->block[key / BLOCK])
				t->block[key / BLOCK][key % BLOCK] = NULL;
		}
		if (entered)
			gp_leave();
	}
	return rc;
}

#if defined(__SANITIZE_ADDRESS__)
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
/*
 * In the AddressSanitizer build the sanitizer runtime keeps its per-kernel-thread state
 * in a pthread key of its own, and reaches our hooks since the shim is preloaded before
 * it: its calls keep glibc's storage, and on the carrier the carrier's own, whichever
 * green thread's TLS is installed, so that ASan sees one thread as it always did.
 */
static struct {
	uintptr_t lo, hi;        /* the sanitizer runtime's mapped range */
	_Atomic int known;
} asan_rt;

#undef p_type   /* <resolv.h> renames it */

static int find_runtime(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	uintptr_t want = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (want < lo || want >= hi)
		return 0;
	asan_rt.lo = lo;
	asan_rt.hi = hi;
	return 1;
}

/*
 * Its range is found once, with the loader's own walk; then a caller is placed by
 * comparing addresses, never with dladdr, which takes the loader's lock (this may run
 * in the middle of a switch).
 */
static bool from_sanitizer(const void *caller)
{
	if (!atomic_load_explicit(&asan_rt.known, memory_order_acquire)) {
		void *init = dlsym(RTLD_DEFAULT, "__asan_init");
		if (init)
			dl_iterate_phdr(find_runtime, init);
		atomic_store_explicit(&asan_rt.known, 1, memory_order_release);
	}
	return (uintptr_t)caller >= asan_rt.lo && (uintptr_t)caller < asan_rt.hi;
}
#define FROM_SANITIZER() from_sanitizer(__builtin_return_address(0))

#else
#define FROM_SANITIZER() false
#endif

/* The real calls, run on the carrier's TLS for the sanitizer (gp_tls_on_carrier). */
static long real_getspecific(const long *a)
{
	return (long)GP_REAL(pthread_getspecific)((pthread_key_t)a[0]);
}

static long real_setspecific(const long *a)
{
	return GP_REAL(pthread_setspecific)((pthread_key_t)a[0], (const void *)a[1]);
}

/* Green storage applies to green threads other than the first one. */
static struct gp_green *green_owner(pthread_key_t key)
{
	if (!gp_in_program() || key >= PTHREAD_KEYS_MAX)
		return NULL;
	struct gp_green *g = gp_self();
	return g->is_main ? NULL : g;
}

void *pthread_getspecific(pthread_key_t key)
{
	void *value;
	if (FROM_SANITIZER())
		return gp_tls_asan_get(key, &value)
			       ? value
			       : (void *)gp_tls_on_carrier(real_getspecific, (long[]){ (long)key });
	struct gp_green *g = green_owner(key);
	if (!g)
		return GP_REAL(pthread_getspecific)(key);
	struct green_tsd *t = tsd_of(g);
	void **b = t ? t->block[key / BLOCK] : NULL;
	return b ? b[key % BLOCK] : NULL;
}

int pthread_setspecific(pthread_key_t key, const void *value)
{
	if (FROM_SANITIZER())
		return (int)gp_tls_on_carrier(real_setspecific,
					      (long[]){ (long)key, (long)value });
	struct gp_green *g = green_owner(key);
	if (!g)
		return GP_REAL(pthread_setspecific)(key, value);
	if (!key_used[key])
		return EINVAL;   /* glibc's answer for a key never created, or deleted */
	struct green_tsd *t = tsd_of(g);
	if (!t && !(t = g->shim_data = calloc(1, sizeof(*t))))
		return ENOMEM;
	void **b = t->block[key / BLOCK];
	if (!b && !(b = t->block[key / BLOCK] = calloc(BLOCK, sizeof(void *))))
		return ENOMEM;
	b[key % BLOCK] = (void *)value;
	return 0;
}

/* One round over every value: true if a destructor ran. */
static bool destroy_round(struct green_tsd *t)
{
	bool ran = false;
	for (int bi = 0; bi < BLOCKS; bi++) {
		void **b = t->block[bi];
		for (int i = 0; b && i < BLOCK; i++) {
			void (*dtor)(void *) = destructors[bi * BLOCK + i];
			void *v = b[i];
			if (!v || !key_used[bi * BLOCK + i])
				continue;
			b[i] = NULL;
			if (dtor) {
				dtor(v);
				ran = true;
			}
		}
	}
	return ran;
}

void gp__tsd_thread_ended(struct gp_green *g)
{
	struct green_tsd *t = tsd_of(g);
	if (!t)
		return;
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS && destroy_round(t); round++)
		;
	for (int bi = 0; bi < BLOCKS; bi++)
		free(t->block[bi]);
	free(t);
	g->shim_data = NULL;
}

void gp__tsd_after_fork(struct gp_green *g)
{
	struct green_tsd *t = g && !g->is_main ? tsd_of(g) : NULL;
	if (!t)
		return;
	for (int bi = 0; bi < BLOCKS; bi++) {
		for (int i = 0; t->block[bi] && i < BLOCK; i++)
			if (t->block[bi][i] && key_used[bi * BLOCK + i])
				GP_REAL(pthread_setspecific)(bi * BLOCK + i, t->block[bi][i]);
		free(t->block[bi]);
	}
	free(t);
	g->shim_data = NULL;
}

void gp__thread_cleanup(struct gp_green *g)
{
	gp_tls_run_dtors();
	gp__tsd_thread_ended(g);
	gp_tls_thread_end();
}

#include "tls.h"

#include "config.h"
#include "util.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <resolv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef GP_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/*
 * What glibc and its dynamic loader export for debuggers and sanitizers (GLIBC_PRIVATE,
 * but relied on by libthread_db and GCC's sanitizers). Weak: a C library without one
 * of them leaves per-thread TLS off instead of failing to load.
 */
extern void *_dl_allocate_tls(void *mem) __attribute__((weak));
extern void _dl_deallocate_tls(void *tcb, bool dealloc_tcb) __attribute__((weak));
extern void _dl_get_tls_static_info(size_t *size, size_t *align) __attribute__((weak));
extern const uint32_t _thread_db_sizeof_pthread __attribute__((weak));
/* Field descriptors: { size in bits, count, offset in struct pthread }. */
extern const uint32_t _thread_db_pthread_tid[3] __attribute__((weak));
extern const uint32_t _thread_db_pthread_list[3] __attribute__((weak));
extern const uint32_t _thread_db_pthread_specific[3] __attribute__((weak));
extern const uint32_t _thread_db_pthread_report_events[3] __attribute__((weak));
extern const uint32_t _thread_db_pthread_cancelhandling[3] __attribute__((weak));
extern void __ctype_init(void) __attribute__((weak));
extern void __call_tls_dtors(void) __attribute__((weak));
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
extern void *__libc_stack_end __attribute__((weak));
/* The resolver state of the running thread: glibc's start_thread points it into the
 * new thread's descriptor. Exported by libc for libresolv. */
extern __thread struct __res_state *__resp __attribute__((tls_model("initial-exec")));

bool gp_tls_per_thread;
bool gp__tls_fsgsbase;
ptrdiff_t gp__tls_tcache_offset;
ptrdiff_t gp__tls_arena_offset;
void *(*gp__tls_kernel_tp)(void);

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

/* glibc's value in a thread whose rseq registration failed: sched_getcpu then asks the
 * kernel. A green thread is not registered (the kernel knows only the carrier). */
#define RSEQ_CPU_ID_REGISTRATION_FAILED (-2)

/* For rseq(2) (sys/rseq.h, which glibc before 2.35 has not). */
#define GP_RSEQ_FLAG_UNREGISTER 1
#if defined(__x86_64__)
#define GP_RSEQ_SIG 0x53053053
#elif defined(__aarch64__)
#define GP_RSEQ_SIG 0xd428bc00
#endif

/* Where things are, learnt once by gp_tls_init (offsets in struct pthread). */
static struct {
	size_t static_size;     /* glibc's static TLS size (variant II: with the TCB) */
	size_t align;
	size_t pd_size;         /* sizeof(struct pthread) */
	size_t area;            /* what gp_tls_area_size answers */
	size_t tid, list, specific, user_stack, robust_head, stackblock, rseq_cpu_id;
	size_t cancelhandling;   /* 0: unknown */
	size_t strerror_buf, strsignal_buf;  /* glibc's buffers for unknown numbers */
	ptrdiff_t tcache;       /* malloc's per-thread cache pointer, from the thread
				   pointer; 0 when not found */
	void *carrier_tcache;
	ptrdiff_t arena;        /* malloc's per-thread arena pointer, the same way */
	void *carrier_arena;
	ptrdiff_t res_from_tp;  /* our struct __res_state, from the thread pointer */
	ptrdiff_t asan_key;     /* ASan's pthread key entry, from the thread pointer; 0
				   when not an ASan build or not found */
	void *carrier_tp;
	int carrier_tid;
	bool have_rseq;
} L;

#if defined(__x86_64__)
/* Variant II: struct pthread begins at the thread pointer, the static blocks lie below. */
static char *pd_of(void *tp) { return tp; }
static char *static_lo(void *tp) { return (char *)tp - (L.static_size - L.pd_size); }
static char *static_hi(void *tp) { return tp; }
/* Bytes of the block below the thread pointer: the static TLS blocks. */
static size_t below_tp(void) { return L.static_size - L.pd_size; }
/* The head of tcbhead_t that a new thread copies from its creator: sysinfo, the stack
 * protector's canary, the pointer guard, the vgetcpu cache, the CET feature bits. */
#define HEADER_COPY_LO 0x20
#define HEADER_COPY_HI 0x50
#elif defined(__aarch64__)
/* Variant I: struct pthread lies just below the thread pointer, the blocks above it. */
static char *pd_of(void *tp) { return (char *)tp - L.pd_size; }
static char *static_lo(void *tp) { return (char *)tp + 16; }
static char *static_hi(void *tp) { return (char *)tp + L.static_size; }
/* Bytes of the block below the thread pointer: struct pthread. */
static size_t below_tp(void) { return L.pd_size; }
#endif

size_t gp_tls_area_size(void)
{
	return gp_tls_per_thread ? L.area : 0;
}

void *gp_tls_carrier_tp(void)
{
	return L.carrier_tp;
}

#if defined(__x86_64__) || defined(__aarch64__)

static bool have_glibc_exports(void)
{
	return _dl_allocate_tls && _dl_deallocate_tls && _dl_get_tls_static_info &&
	       &_thread_db_sizeof_pthread && _thread_db_pthread_tid &&
	       _thread_db_pthread_list && _thread_db_pthread_specific &&
	       _thread_db_pthread_report_events && __ctype_init && &__libc_stack_end;
}

/* The one offset in the first thread's descriptor that holds value; 0 if none or several. */
static size_t find_word(const char *pd, size_t lo, size_t hi, uintptr_t value)
{
	size_t found = 0;
	for (size_t off = lo; off + sizeof(uintptr_t) <= hi; off += sizeof(uintptr_t)) {
		uintptr_t w;
		memcpy(&w, pd + off, sizeof(w));
		if (w == value) {
			if (found)
				return 0;
			found = off;
		}
	}
	return found;
}


/*
 * malloc keeps a per-thread cache (tcache) in a static __thread pointer of its own,
 * which only a kernel thread's exit gives back. Green threads share their carrier's
 * instead, one at a time as they run, so that no thread's end leaks one. It is found
 * in the carrier's static TLS by what a free leaves in it: glibc's struct (2.30+) holds
 * 64 uint16_t counts, then the 64 bins' heads, and a freed chunk heads its bin.
 */
static void find_tcache(void)
{
	void *a = malloc(24), *b = malloc(40);   /* bins 0 and 1 */
	free(a);
	free(b);
	char *lo = static_lo(L.carrier_tp), *hi = static_hi(L.carrier_tp);
	for (char *p = lo; p + sizeof(void *) <= hi; p += sizeof(void *)) {
		uintptr_t w;
		memcpy(&w, p, sizeof(w));
		void *heads[2];
		if (w < 4096 || (w & 15) || !gp_peek((char *)w + 128, heads, sizeof(heads)))
			continue;
		if (heads[0] == a && heads[1] == b) {
			L.tcache = p - (char *)L.carrier_tp;
			gp__tls_tcache_offset = L.tcache;
			L.carrier_tcache = (void *)w;
			return;
		}
	}
}

/* Does the struct at w look like malloc's main arena: one of its first 32 words points
 * to a chunk (its top) whose end is the program break? */
static bool is_main_arena(uintptr_t w, uintptr_t brk)
{
	uintptr_t words[32];
	if (!gp_peek((void *)w, words, sizeof(words)))
		return false;
	for (int i = 0; i < 32; i++) {
		uintptr_t top = words[i], head[2];
		if (top >= 4096 && !(top & 15) && gp_peek((void *)top, head, sizeof(head)) &&
		    top + (head[1] & ~(uintptr_t)7) == brk)
			return true;
	}
	return false;
}

/*
 * malloc also keeps the arena a thread allocates from in a static __thread pointer
 * (thread_arena), which it sets at the thread's first malloc that its cache cannot
 * serve: to a new arena (64 MiB of address space reserved) while there are fewer than
 * 8 per CPU. It goes along with the cache, so that green threads and hubs allocate
 * from their kernel thread's arena: without it, any green thread that grows one of
 * libev's arrays as it parks, or a hub on its first run, reserved an arena at a moment
 * the program does not choose, out of a budget it may have set with RLIMIT_AS for
 * its threads' stacks. It is found in the carrier's static TLS as the one word that
 * points to the main arena, a struct in the C library's data (near stdin's) whose top
 * chunk ends at the program break. Not found (another malloc, a break moved by the
 * program), each thread keeps its own, as glibc would give it.
 */
static void find_arena(void)
{
	gp_take_malloc_arena();   /* past the cache: thread_arena is set */
	uintptr_t brk = (uintptr_t)sbrk(0), near = (uintptr_t)stdin;
	char *lo = static_lo(L.carrier_tp), *hi = static_hi(L.carrier_tp), *found = NULL;
	for (char *q = lo; q + sizeof(void *) <= hi; q += sizeof(void *)) {
		uintptr_t w;
		memcpy(&w, q, sizeof(w));
		if ((w & 7) || w + (1 << 20) < near || w > near + (1 << 20) ||
		    !is_main_arena(w, brk))
			continue;
		if (found)
			return;   /* two: neither is trusted */
		found = q;
	}
	if (!found)
		return;
	L.arena = found - (char *)L.carrier_tp;
	gp__tls_arena_offset = L.arena;
	L.carrier_arena = *(void **)found;
}

/* glibc's first block of pthread key entries ({ seq, data }, keys 0 to 31) lies just
 * before the specific array in its descriptor. */
#define KEY_BLOCK 32
#define KEY_ENTRY (2 * sizeof(void *))

static char *key_entries(void *tp)
{
	return pd_of(tp) + L.specific - KEY_BLOCK * KEY_ENTRY;
}

#ifdef GP_ASAN
/*
 * Does ASan know the running thread? A switch annotation to the stack it is on tells:
 * for a thread it knows, the finish reports the bounds it had, which a second switch
 * puts back; for one it does not, both do nothing.
 */
static bool asan_knows_thread(void)
{
	void *fake = NULL;
	const void *lo = NULL;
	size_t size = 0;
	char here = 0;
	__sanitizer_start_switch_fiber(&fake, &here, 1);
	__sanitizer_finish_switch_fiber(fake, &lo, &size);
	if (!lo)
		return false;
	__sanitizer_start_switch_fiber(&fake, lo, size);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
	return true;
}

/*
 * ASan's key (tls.h, gp_tls_pass_asan) is made by its runtime before any program code
 * runs, so it is among the first block's; which one it is, ASan does not say: it is the
 * entry of the first thread without which ASan no longer knows the thread.
 */
static void find_asan_key(void)
{
	char *first = key_entries(L.carrier_tp);
	if (!asan_knows_thread())
		return;
	for (int k = 0; k < KEY_BLOCK; k++) {
		void **data = (void **)(first + k * KEY_ENTRY + sizeof(void *));
		void *was = *data;
		if (!was)
			continue;
		*data = NULL;
		bool known = asan_knows_thread();
		*data = was;
		if (!known) {
			L.asan_key = first + k * KEY_ENTRY - (char *)L.carrier_tp;
			return;
		}
	}
	gp_log(GP_LOG_WARNING, "AddressSanitizer's thread key is not found: it will not "
	       "know green threads");
}
#else
static void find_asan_key(void) {}
#endif

void gp_tls_pass_asan(void *from, void *to)
{
	if (L.asan_key && gp_tls_is_green(to))
		memcpy((char *)to + L.asan_key, (char *)from + L.asan_key, KEY_ENTRY);
}

/*
 * strerror and strsignal format an unknown number into a buffer glibc keeps in the
 * thread's descriptor and frees when a kernel thread exits. Where is found by asking for
 * one on the TCB at tp, installed: never the program's own threads, whose buffer a
 * program may still hold.
 */
static __attribute__((noinline)) void find_message_buffers(void *tp)
{
	char *pd = pd_of(tp);
	char *e = strerror(-1234567), *s = strsignal(1234567);
	L.strerror_buf = find_word(pd, L.tid, L.pd_size, (uintptr_t)e);
	L.strsignal_buf = find_word(pd, L.tid, L.pd_size, (uintptr_t)s);
}

void gp_tls_learn_on(void *tp)
{
	static bool learnt;
	if (!gp_tls_per_thread || learnt)
		return;
	learnt = true;
	void *own = gp_tp_get();
	gp_tls_pass_asan(own, tp);
	gp_tp_set(tp);
	gp_tls_thread_start();
	find_message_buffers(tp);
	gp_tp_set(own);
}

/* Check what can be checked on the running (first) thread, and learn the rest. */
static int learn_layout(void *tp, char *why, size_t len)
{
	char *pd = pd_of(tp);
#if defined(__x86_64__)
	if (*(void **)pd != tp || *(void **)(pd + 16) != tp) {
		snprintf(why, len, "the thread pointer does not lead to a glibc descriptor");
		return -ENOTSUP;
	}
#endif
	L.tid = _thread_db_pthread_tid[2];
	if (_thread_db_pthread_cancelhandling && _thread_db_pthread_cancelhandling[0] == 32)
		L.cancelhandling = _thread_db_pthread_cancelhandling[2];
	L.list = _thread_db_pthread_list[2];
	L.specific = _thread_db_pthread_specific[2];
	L.user_stack = _thread_db_pthread_report_events[2] + 1;
	if (*(int *)(pd + L.tid) != L.carrier_tid || !*(bool *)(pd + L.user_stack)) {
		snprintf(why, len, "glibc's thread descriptor has an unknown layout");
		return -ENOTSUP;
	}
	/* The kernel knows where the thread's robust mutex list is. */
	void *head;
	size_t head_len;
	if (syscall(SYS_get_robust_list, 0, &head, &head_len) == 0 &&
	    (char *)head > pd && (char *)head < pd + L.pd_size) {
		/* glibc keeps robust_prev just before it: pointing at the head while the
		 * list is empty. */
		void **h = head;
		if (h[0] != head || h[-1] == head)
			L.robust_head = (size_t)((char *)head - pd);
	}
	/* glibc stores __libc_stack_end as the first thread's stack block size. */
	size_t size_off = find_word(pd, L.tid, L.pd_size, (uintptr_t)__libc_stack_end);
	if (!size_off) {
		snprintf(why, len, "the stack fields of glibc's thread descriptor are not found");
		return -ENOTSUP;
	}
	L.stackblock = size_off - sizeof(void *);
	if (&__rseq_offset) {
		L.have_rseq = true;
		L.rseq_cpu_id = (size_t)((char *)tp + __rseq_offset + 4 - pd);
	}
	return 0;
}

/*
 * The first thread's descriptor goes with the first green thread, which may run on any
 * kernel thread from now on (a hand-off), while the kernel would go on writing the CPU
 * of the first kernel thread into the rseq area it registered there: sched_getcpu would
 * answer another thread's CPU. The registration ends, and the area says so, as a green
 * thread's does; sched_getcpu then asks the kernel (the vDSO's getcpu). Left as it is if
 * glibc did not register (__rseq_size 0) or the kernel refuses.
 */
static void end_first_rseq(void)
{
#ifdef GP_RSEQ_SIG
	if (!L.have_rseq || !&__rseq_size || !__rseq_size)
		return;
	/* It must be given the length glibc registered: 32 bytes (the original area), though
	 * glibc 2.35 and 2.36 say 20 in __rseq_size; or a larger one, which it then says. */
	void *area = (char *)L.carrier_tp + __rseq_offset;
	unsigned len = __rseq_size > 32 ? __rseq_size : 32;
	if (syscall(SYS_rseq, area, len, GP_RSEQ_FLAG_UNREGISTER, GP_RSEQ_SIG) != 0)
		return;
	*(int *)((char *)pd_of(L.carrier_tp) + L.rseq_cpu_id) = RSEQ_CPU_ID_REGISTRATION_FAILED;
#endif
}

int gp_tls_init(char *why, size_t len)
{
	if (gp_tls_per_thread) {
		/* Again, in the child of a fork: its one thread is the carrier now. */
		L.carrier_tp = gp_tp_get();
		L.carrier_tid = gp_kernel_tid();
		if (L.tcache)
			L.carrier_tcache = *(void **)((char *)L.carrier_tp + L.tcache);
		if (L.arena)
			L.carrier_arena = *(void **)((char *)L.carrier_tp + L.arena);
		return 0;
	}
	if (gp_config.tls_shared) {
		snprintf(why, len, "GREENPATCH_TLS=shared");
		return -ENOTSUP;
	}
	if (!have_glibc_exports()) {
		snprintf(why, len, "the C library does not export what a thread control block needs");
		return -ENOTSUP;
	}
	L.carrier_tp = gp_tp_get();
	L.carrier_tid = gp_kernel_tid();
	_dl_get_tls_static_info(&L.static_size, &L.align);
	L.pd_size = _thread_db_sizeof_pthread;
	if (L.align < 64)
		L.align = 64;
	int rc = learn_layout(L.carrier_tp, why, len);
	if (rc < 0)
		return rc;
	find_tcache();
	find_arena();
	find_asan_key();
	/*
	 * glibc's pthread_create sets multiple_threads only in the creator's descriptor,
	 * and x86_64 malloc drops the lock prefix of its atomics while it is 0: the first
	 * kernel thread the library starts may be started from a green thread, so the
	 * carrier's is set here.
	 */
#if defined(__x86_64__)
	*(int *)((char *)pd_of(L.carrier_tp) + 24) = 1;
#else
	*(int *)pd_of(L.carrier_tp) = 1;
#endif
#if defined(__x86_64__)
	gp__tls_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	size_t block = L.static_size;
#else
	size_t block = L.pd_size + L.static_size;
#endif
	/* Our struct __res_state lies just below the block, 64-byte aligned (tp is). */
	L.res_from_tp = -(ptrdiff_t)((below_tp() + sizeof(struct __res_state) + 63) &
				     ~(size_t)63);
	L.area = block + L.align + sizeof(struct __res_state) + 64;
	end_first_rseq();
	gp_tls_per_thread = true;
	return 0;
}

void *gp_tls_make(char *top, void *block, size_t block_size, size_t guard, char **stack_top)
{
	uintptr_t mask = ~(uintptr_t)(L.align - 1);
#if defined(__x86_64__)
	char *tp = (char *)(((uintptr_t)top - L.pd_size) & mask);
#else
	char *tp = (char *)(((uintptr_t)top - L.static_size) & mask);
#endif
	char *pd = pd_of(tp);
	struct __res_state *res = (struct __res_state *)(tp + L.res_from_tp);
	*stack_top = (char *)res;
	/* glibc's res, in the descriptor, starts zeroed; a cached stack or the program's
	 * own may hold anything there. */
	memset(res, 0, sizeof(*res));
	/* A cached stack brings its last thread's descriptor: start from zero, as a new
	 * kernel thread's (glibc's stack cache clears the same way). */
	memset(pd, 0, L.pd_size);
#if defined(__x86_64__)
	memcpy(pd + HEADER_COPY_LO, (char *)L.carrier_tp + HEADER_COPY_LO,
	       HEADER_COPY_HI - HEADER_COPY_LO);
	*(void **)pd = tp;                 /* tcbhead_t.tcb */
	*(void **)(pd + 16) = tp;          /* tcbhead_t.self */
	*(int *)(pd + 24) = 1;             /* multiple_threads: malloc's atomics lock */
#else
	*(int *)pd = 1;                    /* multiple_threads */
#endif
	if (!_dl_allocate_tls(tp))
		return NULL;
	/* Its own list node: glibc's fork unlinks the forking thread's node from a list. */
	void **list = (void **)(pd + L.list);
	list[0] = list[1] = list;
	*(int *)(pd + L.tid) = GP_TLS_GREEN_TID_BASE;   /* gp_tls_set_tid sets its own */
	*(bool *)(pd + L.user_stack) = true;   /* glibc never reuses the stack as its own */
	((void **)(pd + L.specific))[0] = key_entries(tp);
	if (L.robust_head) {
		/* An empty robust list, for the process-shared robust mutexes glibc locks. */
		void **head = (void **)(pd + L.robust_head);
		head[-1] = head;                    /* robust_prev */
		head[0] = head;                     /* list */
		head[1] = ((void **)((char *)pd_of(L.carrier_tp) + L.robust_head))[1];
	}
	void **sb = (void **)(pd + L.stackblock);
	sb[0] = block;
	sb[1] = (void *)block_size;             /* sets glibc's alloca limit */
	sb[2] = sb[3] = (void *)guard;
	if (L.have_rseq)
		*(int *)(pd + L.rseq_cpu_id) = RSEQ_CPU_ID_REGISTRATION_FAILED;
	if (L.tcache)
		*(void **)(tp + L.tcache) = L.carrier_tcache;
	if (L.arena)
		*(void **)(tp + L.arena) = L.carrier_arena;
	return tp;
}

void *gp_tls_self(void *tp)
{
	return pd_of(tp);
}

bool gp_tls_is_green(void *tp)
{
	return gp_tls_per_thread && tp != L.carrier_tp &&
	       gp_tls_tid_is_green(*(int *)(pd_of(tp) + L.tid));
}

void gp_tls_set_tid(void *tp, int tid)
{
	*(int *)(pd_of(tp) + L.tid) = tid;
}

int gp_tls_tid(void *tp)
{
	return *(int *)(pd_of(tp) + L.tid);
}

/* The call, and its errno read while the carrier's TLS is still installed. */
static __attribute__((noinline)) long call_keeping_errno(long (*call)(const long *),
							   const long *a, int *err)
{
	long r = call(a);
	*err = errno;
	return r;
}

/* The running kernel thread's own TCB, with tp installed. */
static void *kernel_own_tp(void *tp)
{
	/* A spare's own TCB, or NULL on the first kernel thread and on threads that run no
	 * green code, whose own TCB is installed unless a green thread's is. */
	void *own = gp__tls_kernel_tp ? gp__tls_kernel_tp() : NULL;
	if (!own)
		own = gp_tls_is_green(tp) ? L.carrier_tp : tp;
	return own;
}

bool gp_tls_asan_get(unsigned key, void **value)
{
	if (!L.asan_key || key >= KEY_BLOCK)
		return false;
	void *own = kernel_own_tp(gp_tp_get());
	char *entry = key_entries(own) + key * KEY_ENTRY;
	if (entry != (char *)own + L.asan_key)
		return false;
	/* glibc answers the data of an entry whose sequence matches the key's; ASan's key
	 * is never deleted, so its entry's always does. */
	memcpy(value, entry + sizeof(void *), sizeof(*value));
	return true;
}

long gp_tls_on_carrier(long (*call)(const long *a), const long *a)
{
	void *tp = gp_tp_get();
	void *own = kernel_own_tp(tp);
	if (own == tp)
		return call(a);
	int err = 0;
	gp_tp_set(own);
	long r = call_keeping_errno(call, a, &err);
	gp_tp_set(tp);
	if (r < 0)
		errno = err;
	return r;
}

/* glibc's SIGSETXID: its handler, and the rest of the kernel's struct sigaction. */
#define GP_SIGSETXID GP_TLS_SIGSETXID

struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void (*glibc_setxid_handler)(int, siginfo_t *, void *);

static long run_setxid_handler(const long *a)
{
	glibc_setxid_handler((int)a[0], (siginfo_t *)a[1], (void *)a[2]);
	return 0;
}

void (*gp__tls_cancel_signal)(void);

#define CANCEL_MARK 0x67706361   /* "gpca" */

bool gp_tls_signal_cancel(int tid)
{
	if (!glibc_setxid_handler)
		return false;
	siginfo_t si = { .si_signo = GP_SIGSETXID, .si_code = SI_QUEUE };
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = CANCEL_MARK;
	return syscall(SYS_rt_tgsigqueueinfo, si.si_pid, tid, GP_SIGSETXID, &si) == 0;
}

bool gp_tls_in_cancellable_call(void)
{
	/* CANCELTYPE_BITMASK: set by __pthread_enable_asynccancel around the system call of
	 * a cancellation point (glibc 2.31 to 2.42), as in a thread cancelled natively. */
	return L.cancelhandling && (*(int *)(pd_of(gp_tp_get()) + L.cancelhandling) & 2);
}

static void setxid_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code == SI_QUEUE && si->si_pid == getpid() &&
	    si->si_value.sival_int == CANCEL_MARK) {
		if (gp__tls_cancel_signal)
			gp__tls_cancel_signal();
		return;
	}
	int saved = errno;
	gp_tls_on_carrier(run_setxid_handler, (const long[]){ sig, (long)si, (long)uc });
	errno = saved;
}

void gp_tls_guard_setxid(void)
{
	/* glibc installs its handler at the first pthread_create of a kernel thread, which
	 * has happened by the time there are two; a program cannot change it (sigaction
	 * refuses the signal), so it is read and replaced with the system call. */
	struct kernel_sigaction ka;
	if (!gp_tls_per_thread || glibc_setxid_handler ||
	    syscall(SYS_rt_sigaction, GP_SIGSETXID, NULL, &ka, sizeof(uint64_t)) != 0 ||
	    !(ka.flags & SA_SIGINFO) || (uintptr_t)ka.handler <= (uintptr_t)SIG_IGN)
		return;
	glibc_setxid_handler = ka.handler;
	ka.handler = setxid_handler;
	if (syscall(SYS_rt_sigaction, GP_SIGSETXID, &ka, NULL, sizeof(uint64_t)) != 0)
		glibc_setxid_handler = NULL;
}

void gp_tls_release(void *tp)
{
	_dl_deallocate_tls(tp, false);
}

void gp_tls_thread_start(void)
{
	if (!gp_tls_per_thread)
		return;
	__resp = (struct __res_state *)((char *)gp_tp_get() + L.res_from_tp);
	__ctype_init();
}

void gp_tls_run_dtors(void)
{
	if (gp_tls_per_thread && __call_tls_dtors)
		__call_tls_dtors();
}

/*
 * What the kernel does with the robust list of a kernel thread that ends (futex(2),
 * "Robust futexes"), which it never sees for a green thread (only its carrier's is
 * registered): a mutex still held by the thread, or the one it was taking or
 * releasing, gets FUTEX_OWNER_DIED in place of the owner's id, and one waiter is woken,
 * so that the next locker gets EOWNERDEAD. Entries carry bit 0 set for a
 * priority-inheritance mutex, whose waiters the kernel alone can hand it to: those are
 * only marked.
 */
#define ROBUST_LIST_LIMIT 2048 /* the kernel's bound on a list that may loop */

static void robust_owner_died(uintptr_t entry, long futex_offset, uint32_t tid)
{
	uint32_t *word = (uint32_t *)((entry & ~(uintptr_t)1) + futex_offset);
	uint32_t v;
	/* The kernel reads with get_user and passes over what faults: memory the program
	 * unmapped while it held the mutex (at exit, an atexit handler's munmap). */
	if (!gp_peek(word, &v, sizeof(v)))
		return;
	while ((v & FUTEX_TID_MASK) == tid) {
		uint32_t died = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
		if (__atomic_compare_exchange_n(word, &v, died, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			if ((died & FUTEX_WAITERS) && !(entry & 1))
				syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
			return;
		}
	}
}

static void robust_list_release(char *pd)
{
	if (!L.robust_head)
		return;
	void **head = (void **)(pd + L.robust_head);
	long futex_offset = (long)head[1];
	uint32_t tid = (uint32_t)*(int *)(pd + L.tid);
	uintptr_t pending = (uintptr_t)head[2];
	uintptr_t e = (uintptr_t)head[0];
	for (int n = 0; (e & ~(uintptr_t)1) != (uintptr_t)head && n < ROBUST_LIST_LIMIT; n++) {
		uintptr_t next;
		if (!gp_peek((void *)(e & ~(uintptr_t)1), &next, sizeof(next)))
			break;   /* as the kernel: a list it cannot read ends there */
		if (e != pending)
			robust_owner_died(e, futex_offset, tid);
		e = next;
	}
	if (pending)
		robust_owner_died(pending, futex_offset, tid);
	head[0] = head;
	head[2] = NULL;
}

void gp_tls_release_robust(void *tp)
{
	if (gp_tls_per_thread && tp && gp_tls_is_green(tp))
		robust_list_release(pd_of(tp));
}

void gp_tls_thread_end(void)
{
	if (!gp_tls_per_thread)
		return;
	robust_list_release(pd_of(gp_tp_get()));
	/* A dlerror message nobody read is freed by reading it (twice: glibc keeps the
	 * buffer of the one it returned until the next call). */
	if (dlerror())
		dlerror();
	char *pd = pd_of(gp_tp_get());
	size_t bufs[2] = { L.strerror_buf, L.strsignal_buf };
	for (int i = 0; i < 2; i++) {
		if (bufs[i]) {
			void **p = (void **)(pd + bufs[i]);
			free(*p);
			*p = NULL;
		}
	}
	/* What the resolver holds for this thread (name server addresses, a socket). */
	struct __res_state *res = __resp;
	if ((char *)res == (char *)gp_tp_get() + L.res_from_tp && (res->options & RES_INIT))
		res_nclose(res);
}

const char *gp_tls_switch_kind(void)
{
	if (!gp_tls_per_thread)
		return "none (shared TLS)";
#if defined(__x86_64__)
	return gp__tls_fsgsbase ? "wrfsbase" : "arch_prctl";
#else
	return "tpidr_el0";
#endif
}

#else /* no thread pointer switch on this architecture */

const char *gp_tls_switch_kind(void)
{
	return "none (shared TLS)";
}

int gp_tls_init(char *why, size_t len)
{
	snprintf(why, len, "no thread pointer switch for this architecture");
	return -ENOTSUP;
}

void *gp_tls_make(char *top, void *block, size_t block_size, size_t guard, char **stack_top)
{
	(void)block, (void)block_size, (void)guard;
	*stack_top = top;
	return NULL;
}

void gp_tls_release(void *tp) { (void)tp; }
void gp_tls_pass_asan(void *from, void *to) { (void)from, (void)to; }
bool gp_tls_asan_get(unsigned key, void **value) { (void)key, (void)value; return false; }
long gp_tls_on_carrier(long (*call)(const long *a), const long *a) { return call(a); }
void gp_tls_guard_setxid(void) {}
void gp_tls_learn_on(void *tp) { (void)tp; }
bool gp_tls_is_green(void *tp) { (void)tp; return false; }
bool gp_tls_in_cancellable_call(void) { return false; }
bool gp_tls_signal_cancel(int tid) { (void)tid; return false; }
void (*gp__tls_cancel_signal)(void);
void gp_tls_set_tid(void *tp, int tid) { (void)tp, (void)tid; }
int gp_tls_tid(void *tp) { (void)tp; return 0; }
void *gp_tls_self(void *tp) { return tp; }
void gp_tls_thread_start(void) {}
void gp_tls_run_dtors(void) {}
void gp_tls_thread_end(void) {}
void gp_tls_release_robust(void *tp) { (void)tp; }

#endif

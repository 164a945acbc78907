/*
 * Thread control blocks: each green thread gets a thread pointer of its own, laid out
 * as glibc lays out a new kernel thread's, so that __thread variables, C++ thread_local
 * objects and what glibc itself keeps per thread (errno, the locale, _res, the
 * strerror buffers, the DTV of dlopened modules) belong to the green thread.
 *
 * Layout (x86_64, TLS variant II; aarch64 is variant I, the same parts mirrored):
 *
 *     stack top ................................................... mapping top
 *     | struct __res_state | static TLS blocks (+ surplus) | struct pthread |
 *                                                           ^ thread pointer
 *
 * The block sits at the top of the green thread's own stack mapping, as glibc puts it
 * at the top of a thread's stack: an idle thread costs the pages it touched, and a
 * cached stack brings its block along. The dynamic loader's own allocator
 * (_dl_allocate_tls, whose signature has not changed from glibc 2.31 to 2.42) builds
 * the DTV and copies every module's initialisation image; the fields of struct pthread
 * that glibc reads through the thread pointer are set here, at offsets glibc exports
 * for debuggers (_thread_db_*) or that gp_tls_init finds on the first thread and checks.
 * Whatever cannot be found or checked turns per-thread TLS off, with a warning: the
 * green threads then share the carrier's TLS, as with GREENPATCH_TLS=shared.
 *
 * Installing a thread pointer is one instruction (wrfsbase on x86_64 where the kernel
 * allows it, msr tpidr_el0 on aarch64), else an arch_prctl system call.
 *
 * What else follows from distinct thread pointers, and how it is kept safe:
 *
 *   - The thread id in the descriptor. glibc names the owner of its tid-based locks by
 *     it: a mutex's __owner, a read-write lock's __cur_writer (which also decides
 *     whether an unlock is a writer's), the loader's recursive locks. Green threads run
 *     in parallel (several carriers, or one handed off beside its carrier's next), so
 *     each needs an id of its own, or glibc takes one green thread for another: the
 *     second writer of one of glibc's internal read-write locks (setlocale's,
 *     textdomain's) got EDEADLK, went on without the lock and then released the first
 *     one's, and every later taker waited for ever. An id must also stay the same
 *     while its thread moves between kernel threads, since a lock taken on one may be
 *     released on another. So a green thread's id is GP_TLS_GREEN_TID_BASE plus its
 *     number: above the kernel's largest thread id (PID_MAX_LIMIT, 2^22), it never
 *     names a thread of this process or another, and within FUTEX_TID_MASK, glibc
 *     stores it in lock words. The first thread keeps its kernel id (locks it took
 *     before the runtime started name it). What glibc would pass to the kernel as a
 *     thread id is answered by the shim for green threads (shim/threadattr.c,
 *     shim/thread.c); raise() asks the kernel for its id. A priority-inheritance lock
 *     word is the one the kernel reads: such mutexes are green (shim/sync.c).
 *   - glibc's internal locks wait in the kernel. glibc holds them only inside one of
 *     its calls, and no call parks inside glibc (a hook parks before or after calling
 *     libc, never in between), so the holder is running on another kernel thread and
 *     releases soon; the one lock a program can hold across a park, a stream's through
 *     flockfile, is a green lock on green threads (shim/flockfile.c). A glibc lock held
 *     by an offload thread may make a green thread wait for that call, as before. Not
 *     covered: a callback glibc makes into the program with a stream locked
 *     (fopencookie's functions, printf handlers) that parks, while another green
 *     thread uses that stream. The loader's locks are held around dl_iterate_phdr
 *     callbacks and library constructors, which may park: another green thread that
 *     then loads a library waits in the kernel, and the monitor hands its carrier off.
 *   - malloc's per-thread cache (tcache) is the kernel thread's, passed from thread
 *     pointer to thread pointer at each switch, so that green threads share it one at
 *     a time and two kernel threads never do (a handed-off thread keeps its kernel
 *     thread's, core/kthread.h): glibc frees a thread's cache only when a kernel thread
 *     exits, so a cache per green thread would leak one per thread. malloc's arena
 *     goes along the same way (tls.c, find_arena): a kernel thread reserves one, not
 *     each green thread that allocates.
 *   - The stack, the compiler and the switch: a green thread always resumes on its own
 *     TLS, so a TLS address (or __errno_location()) the compiler keeps in a register
 *     across a park stays right. The switch path itself keeps nothing of the TLS it
 *     leaves (ctx.c keeps ASan's bookkeeping in the contexts, not in TLS).
 *   - The runtime's own __thread variables (gp__in_user, shim/hook.h) are per green
 *     thread; the carrier's state is in struct gp_runtime, never in TLS.
 *   - What cannot be made per green thread: the kernel knows one robust mutex list and
 *     one rseq area per kernel thread (the carrier's); green threads have an empty
 *     robust list of their own and an rseq area marked unregistered.
 */
#ifndef GP_TLS_H
#define GP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__)
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "util.h"

/* Green threads have TLS of their own (set by gp_tls_init). */
extern bool gp_tls_per_thread;

/*
 * Learn the layout from the running thread, which must be the process's first one
 * (or a green thread of a process that forked). 0, or -ENOTSUP with why, when
 * per-thread TLS cannot be had; then gp_tls_per_thread stays false.
 */
int gp_tls_init(char *why, size_t len);

/*
 * How a switch installs the next thread's thread pointer, for the statistics and the
 * log: "wrfsbase" or "tpidr_el0" (one instruction), "arch_prctl" (x86_64 where the
 * kernel does not let programs write the FS base: a system call at every switch, some
 * microseconds in a virtual machine), or "none (shared TLS)".
 */
const char *gp_tls_switch_kind(void);

/* Bytes at the top of a green thread's stack mapping that its TLS block may take. */
size_t gp_tls_area_size(void);

/*
 * Build a thread's TCB and static TLS in the area ending at top. block and block_size
 * are the whole stack mapping, guard the size of its guard (glibc's bookkeeping, and
 * the alloca limit derived from it). The thread pointer, with *stack_top set to where
 * the stack begins below the block; NULL if the DTV could not be allocated.
 */
void *gp_tls_make(char *top, void *block, size_t block_size, size_t guard, char **stack_top);

/*
 * Learn what can only be learnt by running glibc on a thread of ours: with the TCB at
 * tp (the hub's, never used yet) installed for the while. Once.
 */
void gp_tls_learn_on(void *tp);

/* Free what glibc allocated for the TCB at tp (DTV, dynamic TLS); not the block itself. */
void gp_tls_release(void *tp);

/* First thing on a new green thread, on its own TCB: what glibc's start_thread sets. */
void gp_tls_thread_start(void);

/* At the end of a green thread, in program context: C++ thread_local destructors. */
void gp_tls_run_dtors(void);

/* After every destructor: give back what glibc allocated for this thread. */
void gp_tls_thread_end(void);

/*
 * What the kernel does with the robust list of a thread that ends, for the green thread
 * whose thread pointer is tp: its robust mutexes are marked FUTEX_OWNER_DIED, a waiter
 * of each woken (the process ends: shim/exit.c). Nothing for a kernel thread's own
 * descriptor, whose list the kernel knows.
 */
void gp_tls_release_robust(void *tp);

/* The carrier's own thread pointer (its kernel thread's TCB). */
void *gp_tls_carrier_tp(void);

/* glibc's THREAD_SELF (its struct pthread) for the thread pointer tp. */
void *gp_tls_self(void *tp);

/*
 * call(a) with the running kernel thread's own TCB installed if a green thread's is, as
 * if that kernel thread made it: for glibc calls that find the thread by THREAD_SELF
 * and must find the one the kernel and glibc's thread list know. errno (set when the
 * result is negative) comes back to the caller's TLS. Nothing in between touches TLS.
 */
long gp_tls_on_carrier(long (*call)(const long *a), const long *a);

/*
 * Once there are kernel threads that run green code besides the first one (hand-off,
 * kthread.h): glibc's handler of SIGSETXID runs with the kernel thread's own TCB. glibc
 * makes every thread it knows change a credential (setuid...) by signalling it, and the
 * handler marks its work done on THREAD_SELF; on a kernel thread that runs a handed-off
 * green thread that would be the green thread's TCB, and the setuid would wait for ever.
 */
void gp_tls_guard_setxid(void);

/*
 * A cancellation that must end a call made apart (shim/cancel.c): glibc's SIGSETXID,
 * whose handler is ours (gp_tls_guard_setxid), sent to kernel thread tid as SI_QUEUE
 * with a value of ours, which glibc's handler would ignore (it takes SI_TKILL only).
 * There the handler calls gp__tls_cancel_signal; if that returns, the interrupted call
 * goes on (glibc's action has SA_RESTART). False if the handler is not ours.
 */
bool gp_tls_signal_cancel(int tid);
#define GP_TLS_SIGSETXID 33
extern void (*gp__tls_cancel_signal)(void);

/* The running thread is in the system call of a cancellation point of glibc's. */
bool gp_tls_in_cancellable_call(void);

/*
 * The running kernel thread's own TCB, for gp_tls_on_carrier: set by the scheduler,
 * which knows the kernel threads that run green code (kthread.h); NULL: the first one's.
 */
extern void *(*gp__tls_kernel_tp)(void);

/* Is tp a TCB made here (a green thread's or the hub's), not a kernel thread's? */
bool gp_tls_is_green(void *tp);

/*
 * Thread ids of green threads and hubs (above): GP_TLS_GREEN_TID_BASE + a thread's
 * number, hubs just below. Above PID_MAX_LIMIT (2^22), within FUTEX_TID_MASK.
 */
#define GP_TLS_GREEN_TID_BASE 0x20000000
#define GP_TLS_GREEN_TID_SPAN 0x1fffffff

/* Is tid one of the ids above? */
static inline bool gp_tls_tid_is_green(int tid)
{
	return tid >= GP_TLS_GREEN_TID_BASE - 1024;
}

/* Give the TCB at tp (one of gp_tls_make's) the thread id tid. */
void gp_tls_set_tid(void *tp, int tid);

/* The thread id glibc finds in the TCB at tp. */
int gp_tls_tid(void *tp);

/* Where malloc's per-thread cache and arena pointers lie from a thread pointer; 0:
 * unknown. */
extern ptrdiff_t gp__tls_tcache_offset, gp__tls_arena_offset;

/*
 * A switch from the thread with thread pointer from to the one with to, on one kernel
 * thread: the kernel thread's malloc cache and arena go along (see above).
 */
static inline void gp_tls_pass_malloc(void *from, void *to)
{
	ptrdiff_t off = gp__tls_tcache_offset;
	if (off)
		*(void **)((char *)to + off) = *(void **)((char *)from + off);
	off = gp__tls_arena_offset;
	if (off)
		*(void **)((char *)to + off) = *(void **)((char *)from + off);
}

/*
 * AddressSanitizer keeps its record of a kernel thread (the stack it runs on, which the
 * switch annotations of ctx.c move from stack to stack) under a pthread key of its own,
 * in the descriptor at the thread pointer. In a descriptor made here that entry is
 * empty: ASan then knows no thread, ignores the switch annotations (the kernel thread's
 * record keeps a stack it has left), and at the next call that cannot return (a
 * longjmp, a thread's exit) asks glibc's pthread_getattr_np for the stack of a thread
 * whose id the kernel does not know, which fails, and ASan stops the process. So in
 * the ASan build the entry goes along at every switch, as malloc's cache does, into
 * descriptors made here only. A kernel thread's own descriptor keeps its own entry:
 * the first thread's may run on another kernel thread (the main green thread after a
 * hand-off), and the shim answers the sanitizer on the first kernel thread from it
 * (shim/tsd.c: gp_tls_asan_get, gp_tls_on_carrier). Without the shim there is no
 * hand-off. Nothing is passed in other builds.
 */
void gp_tls_pass_asan(void *from, void *to);

/*
 * pthread_getspecific(key) as the running kernel thread's own TCB answers it, when key
 * is ASan's: read from that TCB's entry, which gp_tls_on_carrier would answer from
 * after installing it, two thread-pointer installs (system calls where the kernel does
 * not allow wrfsbase) at each of the sanitizer's switch annotations. False for any
 * other key.
 */
bool gp_tls_asan_get(unsigned key, void **value);

#if defined(__x86_64__)
extern bool gp__tls_fsgsbase;

static inline void *gp_tp_get(void)
{
	void *tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* The memory clobber keeps the compiler from moving TLS accesses across the switch. */
static inline void gp_tp_set(void *tp)
{
	if (GP_LIKELY(gp__tls_fsgsbase))
		__asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
	else
		syscall(SYS_arch_prctl, ARCH_SET_FS, tp);
}
#elif defined(__aarch64__)
static inline void *gp_tp_get(void)
{
	void *tp;
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

static inline void gp_tp_set(void *tp)
{
	__asm__ volatile("msr tpidr_el0, %0" : : "r"(tp) : "memory");
}
#else
static inline void *gp_tp_get(void) { return NULL; }
static inline void gp_tp_set(void *tp) { (void)tp; }
#endif

#endif

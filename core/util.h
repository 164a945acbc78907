/*
 * Small helpers shared by core/ and shim/: branch hints, container_of, the one panic
 * function and the log line format.
 *
 * Errors inside the runtime travel as 0 or -errno; only a hook at the libc edge turns
 * them into -1 and errno (shim/hook.h).
 */
#ifndef GP_UTIL_H
#define GP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GP_HIDDEN      __attribute__((visibility("hidden")))
#define GP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define gp_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Built with AddressSanitizer: GCC says so with a macro, clang with a feature test. */
#if defined(__SANITIZE_ADDRESS__)
#define GP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GP_ASAN 1
#endif
#endif

/*
 * The runtime writes its messages with this function pointer so that they never pass
 * through an interposed write(2): shim/ points it at the real write, the unit tests keep
 * the default (a raw system call).
 */
typedef long (*gp_write_fn)(int fd, const void *buf, size_t len);
extern gp_write_fn gp__log_write;

enum gp_log_level { GP_LOG_ERROR, GP_LOG_WARNING, GP_LOG_INFO, GP_LOG_DEBUG };

/*
 * The signal mask of the library's own kernel threads (watchdog, offload pool): every
 * signal blocked but glibc's internal two, SIGCANCEL (32) and SIGSETXID (33), which
 * glibc sends to every thread when one calls setuid and waits for each to answer.
 */
#define GP_SIGMASK_LIBRARY_THREAD (~((1ull << (32 - 1)) | (1ull << (33 - 1))))

/* Install that mask on the calling kernel thread (a raw call: sigprocmask is hooked). */
void gp_block_program_signals(void);

/*
 * The C library's syscall, past the shim's hook of it (set by the shim; the unit tests
 * have no hook). The hook takes a futex wake from a kernel thread for one a green thread
 * may wait for, and wakes the event loop through its descriptor, which a kernel thread
 * with a table of its own (procread.h) does not have.
 */
extern long (*gp__raw_syscall)(long number, ...);

/*
 * The runtime's own futex waits and wakes (its lock, idle carriers, spares, the
 * monitor, the offload pool): straight to the kernel through gp__raw_syscall, errno
 * left as it was (they run on green threads' TLS too, where errno is the program's).
 * Through the hook, each wake from a kernel thread also queued an unpark of the word
 * for the event loop and woke it, and each from a green thread looked for green
 * waiters on it: none ever parks on the runtime's words. wait: a relative timeout in
 * nanoseconds, or < 0 for none.
 */
void gp_futex_wait(_Atomic uint32_t *word, uint32_t val, long timeout_ns);
void gp_futex_wake(_Atomic uint32_t *word, int n);

/*
 * Copy len bytes at addr without dereferencing it (process_vm_readv): memory another
 * kernel thread may give back meanwhile, or a word that only looks like a pointer, is
 * read without faulting. True if all of it was read. One system call: the process's id
 * it needs is kept from the first peek on (getpid is a system call of its own), and
 * forgotten in the child of fork (gp_peek_after_fork).
 */
bool gp_peek(const void *addr, void *out, size_t len);

/* Write len bytes at addr the same way (process_vm_writev): true if all were written. */
bool gp_poke(void *addr, const void *in, size_t len);

/* n pieces at once, in one system call, likewise: true if all of every one was read. */
struct gp_peek_piece {
	const void *addr;
	void *out;
	size_t len;
};
bool gp_peek_pieces(const struct gp_peek_piece *pieces, unsigned n);

/* In the child of fork, before any peek: the id kept is the parent's, whose memory the
 * next peek would read. */
void gp_peek_after_fork(void);

/* Is fd open? A raw fcntl(F_GETFD), past the hooks; errno is left as it was. */
bool gp_fd_open(int fd);

/*
 * glibc gives each thread's first malloc an arena: 64 MiB of address space reserved.
 * A context of the library's own with its own TLS (a hub, the monitor) takes its arena
 * here, as the runtime starts and before the program goes on (its starter waits for
 * it), rather than at a first malloc much later (libev growing an array), where it
 * would take 64 MiB from a budget the program set with RLIMIT_AS for its own threads'
 * stacks.
 */
void gp_take_malloc_arena(void);

/* A spin-wait's pause: lets the sibling hyperthread run, and saves power. */
static inline void gp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * One step of a spin-wait for another kernel thread: a pause for the first pauses steps,
 * then the CPU yielded, in case the thread waited for needs it to get on.
 */
static inline void gp_spin_step(unsigned spins, unsigned pauses)
{
	if (spins < pauses)
		gp_cpu_relax();
	else
		syscall(SYS_sched_yield);
}

/*
 * The calling kernel thread's id, from the kernel itself: gettid and syscall() are the
 * program's to interpose, and ours answer a green thread's own id (shim/tid.c).
 */
static inline int gp_kernel_tid(void)
{
#if defined(__x86_64__)
	long r;
	__asm__ __volatile__("syscall" : "=a"(r) : "a"((long)SYS_gettid) : "rcx", "r11", "memory");
	return (int)r;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_gettid;
	register long x0 __asm__("x0");
	__asm__ __volatile__("svc 0" : "=r"(x0) : "r"(x8) : "memory");
	return (int)x0;
#else
#error "gp_kernel_tid: unknown architecture"
#endif
}

/*
 * The CPU time of kernel thread tid (0: the calling one) in nanoseconds, or 0, from the
 * kernel itself: clock_gettime is the program's to interpose, and ours answers a green
 * thread's own CPU time (shim/cputime.c). CLOCK_THREAD_CPUTIME_ID is not one the vDSO
 * answers: this is one system call.
 */
static inline long gp_thread_cpu_ns(int tid)
{
	/* The kernel's encoding of a thread's CPU-time clock (posix-timers.h, its ABI). */
	long clock = tid ? (long)(int)((~(unsigned)tid << 3) | 4 | 2) : 3 /* THREAD_CPUTIME */;
	struct { long sec, nsec; } ts = { 0, 0 };
#if defined(__x86_64__)
	long r;
	__asm__ __volatile__("syscall" : "=a"(r)
			     : "a"((long)SYS_clock_gettime), "D"(clock), "S"(&ts)
			     : "rcx", "r11", "memory");
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = SYS_clock_gettime;
	register long x0 __asm__("x0") = clock;
	register long x1 __asm__("x1") = (long)&ts;
	__asm__ __volatile__("svc 0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
	long r = x0;
#endif
	return r == 0 ? ts.sec * 1000000000L + ts.nsec : 0;
}

/* CLOCK_MONOTONIC in seconds, for deadlines. */
double gp_mono_now(void);

/*
 * The len bytes at s, from outside (a variable's value, a file name), as a one-line
 * message can show them: in single quotes, printable ASCII as it is but for \ and '
 * (\\, \'), any other byte as \xHH, and, beyond GP_SHOWN_BYTES bytes, only the first
 * GP_SHOWN_BYTES, then "..." and the length: 'abc'... (100000 bytes). Written to buf,
 * which holds GP_SHOWN_SIZE bytes; returns buf.
 */
#define GP_SHOWN_BYTES 64
#define GP_SHOWN_SIZE (4 * GP_SHOWN_BYTES + 40)
const char *gp_shown(const char *s, size_t len, char *buf);

/* "greenpatch[PID]: warning: ..." on stderr, one line. */
void gp_log(enum gp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An impossible state: say where and why, then abort. Never a silent sentinel. */
_Noreturn void gp_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

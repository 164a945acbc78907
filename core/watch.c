/*
 * The stall detector and the dump look at stacks without stopping or signalling the
 * thread they describe: a signal would end a blocked poll or epoll_wait with EINTR even
 * under SA_RESTART, which the program must never see. A stack is read from its saved
 * (or, for a thread blocked in a system call, its reported) stack pointer upwards, and
 * every word that points just after a call instruction in an executable mapping is taken
 * as a return address. Such a scan needs no unwind tables and no frame pointers, but may
 * show a stale frame left on the stack by an earlier call: the frames are printed as
 * "#n address object+offset", for addr2line(1).
 */
#include "watch.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#ifdef GP_CTX_UCONTEXT
#include <ucontext.h>
#endif

#include "config.h"
#include "debug.h"
#include "kthread.h"
#include "mounts.h"
#include "offload.h"
#include "procread.h"
#include "sched.h"
#include "tls.h"
#include "util.h"

static void default_describe(struct gp_green *g, char *buf, size_t len)
{
	if (g->wait_obj)
		snprintf(buf, len, "%s %p", g->waits_for, g->wait_obj);
	else
		snprintf(buf, len, "%s", g->waits_for ? g->waits_for : "?");
}

void (*gp__describe_wait)(struct gp_green *g, char *buf, size_t len) = default_describe;

/* Every live thread parked, none of them wakeable by a timer or a descriptor. */
static bool looks_deadlocked(const struct gp_runtime *c)
{
	return c->parked > 0 && c->parked >= c->alive && c->parked_wakeable == 0;
}

static void report(struct gp_runtime *c)
{
	c->deadlock_reported = true;
	c->reported_at = c->parks_ended;
	gp_log(GP_LOG_ERROR, "deadlock: all %zu green threads wait, and no timer or descriptor "
	       "can wake them (only a kernel thread outside the runtime still could):",
	       c->alive);
	for (struct gp_green *g = gp_all(); g; g = g->all_next) {
		if (g->state != GP_PARKED)
			continue;
		char what[160];
		gp__describe_wait(g, what, sizeof(what));
		gp_log(GP_LOG_ERROR, "  thread %llu%s \"%s\" waits for %s",
		       (unsigned long long)g->id, g->is_main ? " (main)" : "", g->name, what);
	}
	if (gp_config.deadlock_abort)
		gp_panic("deadlock: aborting as GREENPATCH_DEADLOCK=abort asks");
}

/*
 * A kernel thread the runtime does not manage (a timer's helper thread, say) may wake
 * green threads that all look stuck for a moment: a deadlock is reported only when it
 * has lasted DEADLOCK_CONFIRM seconds with not a single park ending meanwhile.
 */
#define DEADLOCK_CONFIRM 0.5

static void confirm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct gp_runtime *c = gp_container_of(w, struct gp_runtime, deadlock_confirm);
	if (looks_deadlocked(c) && c->parks_ended == (uint64_t)w->data)
		report(c);
}

void gp__deadlock_check(struct gp_runtime *c)
{
	if (c->deadlock_reported && c->parks_ended != c->reported_at)
		c->deadlock_reported = false;   /* something moved: a new deadlock is news */
	if (c->deadlock_reported || !looks_deadlocked(c))
		return;
	ev_timer *w = &c->deadlock_confirm;
	if (ev_is_active(w))
		return;
	ev_timer_init(w, confirm_cb, DEADLOCK_CONFIRM, 0.);
	w->data = (void *)(uintptr_t)c->parks_ended;
	ev_timer_start(c->loop, w);
	gp_loop_changed();
}

/* ---- reading stacks ---- */

#define SCAN_BYTES (64 * 1024)   /* how far up a stack the scan looks */
#define MAX_FRAMES 24
#define MAX_XMAPS 192

struct xmap {
	uintptr_t lo, hi, off;
	char path[104];
};

/* The executable mappings, from /proc/self/maps. */
struct xmaps {
	int n;
	struct xmap m[MAX_XMAPS];
};

/* Raw system calls: these run on the monitor, its reader, and in a signal handler. */
static long raw_read(int fd, char *buf, size_t len)
{
	return syscall(SYS_read, fd, buf, len);
}

/* One read of a /proc file into buf (gp_proc_with), which says how much in n. */
struct proc_buf {
	char *buf;
	size_t len;
	long n;
};

static void read_once(int fd, void *arg)
{
	struct proc_buf *b = arg;
	b->n = raw_read(fd, b->buf, b->len);
}

/* The file at path, read once into buf (NUL-terminated): its length, or <= 0. */
static long proc_read(const char *path, char *buf, size_t size)
{
	struct proc_buf b = { buf, size - 1, -1 };
	if (gp_proc_with(path, read_once, &b) < 0 || b.n <= 0)
		return -1;
	buf[b.n] = '\0';
	return b.n;
}

static uintptr_t hex(const char **p)
{
	uintptr_t v = 0;
	for (;; (*p)++) {
		int c = (unsigned char)**p, d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return v;
		v = v * 16 + (uintptr_t)d;
	}
}

/* "lo-hi perms off dev inode path": keep the executable ones. */
static void xmap_line(struct xmaps *x, const char *line)
{
	if (x->n >= MAX_XMAPS)
		return;
	struct xmap *m = &x->m[x->n];
	const char *p = line;
	m->lo = hex(&p);
	if (*p++ != '-')
		return;
	m->hi = hex(&p);
	if (*p++ != ' ' || strlen(p) < 4 || p[2] != 'x')
		return;
	p += 5;
	m->off = hex(&p);
	for (int field = 0; field < 2; field++) {   /* dev, inode */
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	snprintf(m->path, sizeof(m->path), "%s", *p ? p : "[anon]");
	x->n++;
}

static void xmaps_read(int fd, void *arg)
{
	struct xmaps *x = arg;
	char buf[4096];
	size_t have = 0;
	for (;;) {
		long r = raw_read(fd, buf + have, sizeof(buf) - 1 - have);
		if (r <= 0)
			break;
		have += (size_t)r;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
			*nl = '\0';
			xmap_line(x, line);
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;   /* a line longer than the buffer: not one we need */
	}
}

/* here: opened in the caller's table (a signal handler's dump: procread.h). */
static void xmaps_load(struct xmaps *x, bool here)
{
	x->n = 0;
	if (here)
		gp_proc_with_here("/proc/self/maps", xmaps_read, x);
	else
		gp_proc_with("/proc/self/maps", xmaps_read, x);
}

static const struct xmap *xmap_find(const struct xmaps *x, uintptr_t a)
{
	for (int i = 0; i < x->n; i++)
		if (a >= x->m[i].lo && a < x->m[i].hi)
			return &x->m[i];
	return NULL;
}

/*
 * Memory is read with process_vm_readv, never dereferenced: a stack the monitor scans
 * may be given back to the kernel by the time it reads it (the stall ended meanwhile),
 * and a word that looks like a code address may point where nothing is mapped. A read
 * of unmapped memory then fails instead of killing the process, and AddressSanitizer
 * never sees the scan touch the redzones of live frames.
 */
static bool safe_copy(void *dst, uintptr_t addr, size_t len)
{
	return gp_peek((const void *)addr, dst, len);
}

/* Does the instruction before ra call something? */
static bool after_call(uintptr_t ra)
{
#if defined(__x86_64__)
	unsigned char b[8];
	if (!safe_copy(b, ra - 8, sizeof(b)))
		return false;
	const unsigned char *p = b + 8;
	if (p[-5] == 0xe8)                                      /* call rel32 */
		return true;
	if (p[-6] == 0xff && (p[-5] & 0x38) == 0x10)            /* call *disp32(...) */
		return true;
	if (p[-7] == 0xff && (p[-6] & 0x38) == 0x10 && (p[-6] & 0xc7) == 0x84)
		return true;                                    /* call *disp32(sib) */
	if (p[-3] == 0xff && (p[-2] & 0xf8) == 0x50)            /* call *disp8(%reg) */
		return true;
	if (p[-4] == 0xff && p[-3] == 0x54)                     /* call *disp8(sib) */
		return true;
	if (p[-2] == 0xff && (p[-1] & 0xf0) == 0xd0 && (p[-1] & 0x08) == 0)
		return true;                                    /* call *%reg */
	if (p[-2] == 0xff && (p[-1] & 0xf8) == 0x10)            /* call *(%reg) */
		return true;
	if (p[-3] == 0xff && p[-2] == 0x14)                     /* call *(sib) */
		return true;
	return false;
#elif defined(__aarch64__)
	uint32_t insn;
	if (!safe_copy(&insn, ra - 4, sizeof(insn)))
		return false;
	return (insn & 0xfc000000u) == 0x94000000u ||           /* bl */
	       (insn & 0xfffffc1fu) == 0xd63f0000u;             /* blr */
#else
	(void)ra;
	return true;
#endif
}

#define SCAN_PAGE 4096

/*
 * Return addresses on [sp, top), at most max of them, read a page at a time into page
 * (SCAN_PAGE bytes: static, since a green thread's stack may be small); the scan stops
 * at the first page that cannot be read.
 */
static int scan_stack(const struct xmaps *x, uintptr_t sp, uintptr_t top, uintptr_t *out,
		      int max, uintptr_t *page)
{
	int n = 0;
	sp &= ~(uintptr_t)(sizeof(uintptr_t) - 1);
	if (!sp || top <= sp)
		return 0;
	if (top - sp > SCAN_BYTES)
		top = sp + SCAN_BYTES;
	for (uintptr_t p = sp; p < top && n < max;) {
		size_t len = SCAN_PAGE - (p & (SCAN_PAGE - 1));   /* to the end of its page */
		if (len > top - p)
			len = top - p;
		if (!safe_copy(page, p, len))
			break;
		for (size_t i = 0; i < len / sizeof(uintptr_t) && n < max; i++) {
			uintptr_t v = page[i];
			const struct xmap *m = xmap_find(x, v);
			if (m && v >= m->lo + 8 && after_call(v))
				out[n++] = v;
		}
		p += len;
	}
	return n;
}

/* The top of g's stack; the first thread's is the process stack. */
extern void *__libc_stack_end;

static uintptr_t stack_top(const struct gp_green *g)
{
	if (g->is_main || !g->stack.lo)
		return (uintptr_t)__libc_stack_end;
	return (uintptr_t)g->stack.lo + g->stack.size;
}

/* Where a thread that is not running saved its registers. */
static uintptr_t saved_sp(const struct gp_green *g)
{
#ifdef GP_CTX_UCONTEXT
#if defined(__x86_64__)
	return (uintptr_t)g->ctx.uc.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	return (uintptr_t)g->ctx.uc.uc_mcontext.sp;
#else
	return 0;
#endif
#else
	return (uintptr_t)g->ctx.sp;
#endif
}

/*
 * One frame as "#n 0xADDR object+0xOFFSET", and "(symbol+0xN)" when names may be looked
 * up (not in a signal handler: dladdr takes the loader's lock).
 */
static int frame_str(const struct xmaps *x, int i, uintptr_t a, bool names, char *buf,
		     size_t len)
{
	const struct xmap *m = xmap_find(x, a);
	int n = snprintf(buf, len, "#%d 0x%lx %s+0x%lx", i, (unsigned long)a,
			 m ? m->path : "?", m ? (unsigned long)(a - m->lo + m->off) : 0ul);
	Dl_info info;
	if (names && n > 0 && (size_t)n < len && dladdr((void *)a, &info) && info.dli_sname)
		n += snprintf(buf + n, len - (size_t)n, " (%s+0x%lx)", info.dli_sname,
			      (unsigned long)(a - (uintptr_t)info.dli_saddr));
	return n;
}

/* ---- system calls, by number ---- */

static const struct { long nr; const char *name; } syscall_names[] = {
	{ SYS_read, "read" }, { SYS_write, "write" }, { SYS_readv, "readv" },
	{ SYS_writev, "writev" }, { SYS_pread64, "pread64" }, { SYS_pwrite64, "pwrite64" },
	{ SYS_preadv, "preadv" }, { SYS_pwritev, "pwritev" }, { SYS_preadv2, "preadv2" },
	{ SYS_pwritev2, "pwritev2" }, { SYS_openat, "openat" }, { SYS_close, "close" },
	{ SYS_ioctl, "ioctl" }, { SYS_fcntl, "fcntl" }, { SYS_flock, "flock" },
	{ SYS_fsync, "fsync" }, { SYS_fdatasync, "fdatasync" }, { SYS_sendfile, "sendfile" },
	{ SYS_splice, "splice" }, { SYS_tee, "tee" }, { SYS_copy_file_range, "copy_file_range" },
	{ SYS_accept, "accept" }, { SYS_accept4, "accept4" }, { SYS_connect, "connect" },
	{ SYS_recvfrom, "recvfrom" }, { SYS_sendto, "sendto" }, { SYS_recvmsg, "recvmsg" },
	{ SYS_sendmsg, "sendmsg" }, { SYS_recvmmsg, "recvmmsg" }, { SYS_sendmmsg, "sendmmsg" },
	{ SYS_ppoll, "ppoll" }, { SYS_pselect6, "pselect6" }, { SYS_epoll_pwait, "epoll_pwait" },
	{ SYS_nanosleep, "nanosleep" }, { SYS_clock_nanosleep, "clock_nanosleep" },
	{ SYS_futex, "futex" }, { SYS_wait4, "wait4" }, { SYS_waitid, "waitid" },
	{ SYS_rt_sigsuspend, "rt_sigsuspend" }, { SYS_rt_sigtimedwait, "rt_sigtimedwait" },
	{ SYS_semop, "semop" }, { SYS_semtimedop, "semtimedop" }, { SYS_msgrcv, "msgrcv" },
	{ SYS_msgsnd, "msgsnd" }, { SYS_mq_timedreceive, "mq_timedreceive" },
	{ SYS_mq_timedsend, "mq_timedsend" }, { SYS_getrandom, "getrandom" },
	{ SYS_io_uring_enter, "io_uring_enter" }, { SYS_io_getevents, "io_getevents" },
#ifdef SYS_poll
	{ SYS_poll, "poll" }, { SYS_select, "select" }, { SYS_pause, "pause" },
	{ SYS_epoll_wait, "epoll_wait" }, { SYS_open, "open" },
#endif
#ifdef SYS_epoll_pwait2
	{ SYS_epoll_pwait2, "epoll_pwait2" },
#endif
};

static const char *syscall_name(long nr)
{
	for (size_t i = 0; i < GP_ARRAY_LEN(syscall_names); i++)
		if (syscall_names[i].nr == nr)
			return syscall_names[i].name;
	return NULL;
}

/* ---- the stall detector ---- */

/*
 * The monitor reads a few words of the carrier's state without a lock while the
 * carrier runs: the switch counter (only compared for change), the running thread and
 * the number alive. A torn or stale value costs at most one tick of delay; the report
 * reads a thread's fields only while the switch counter shows that it is still running
 * (blocked, in fact, since the counter has not moved for the whole threshold).
 */
#define MAX_SITES 128

static struct {
	pid_t pid;                   /* the process whose monitor runs; 0: none */
	unsigned long stalls;
	uint64_t sites[MAX_SITES];   /* call sites already reported */
	int nsites;
	struct xmaps xmaps;
	uintptr_t page[SCAN_PAGE / sizeof(uintptr_t)];
} wd;

unsigned long gp_stall_count(void)
{
	return __atomic_load_n(&wd.stalls, __ATOMIC_RELAXED);
}

static long now_ns(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0)
		return -1;
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* The CPU-time clock of kernel thread tid (glibc's MAKE_THREAD_CPUCLOCK). */
static clockid_t thread_cpu_clock(int tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 6);
}

/* True the first time this site is seen. */
static bool new_site(uint64_t key)
{
	for (int i = 0; i < wd.nsites; i++)
		if (wd.sites[i] == key)
			return false;
	if (wd.nsites < MAX_SITES)
		wd.sites[wd.nsites++] = key;
	return true;
}

/*
 * /proc/self/task/TID/syscall: "running", or "NR ARG1 ... ARG6 SP PC" while blocked in
 * system call NR ("-1 SP PC" while blocked outside one). Returns NR, -1, or -2 (running).
 */
static long read_task_syscall(int tid, unsigned long args[6], uintptr_t *sp, uintptr_t *pc)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	if (strncmp(buf, "running", 7) == 0)
		return -2;
	char *p = buf, *end;
	long nr = strtol(p, &end, 10);
	if (end == p)
		return -1;
	p = end;
	if (nr >= 0)
		for (int i = 0; i < 6; i++, p = end)
			args[i] = strtoul(p, &end, 0);
	*sp = strtoul(p, &end, 0);
	*pc = strtoul(end, NULL, 0);
	return nr;
}

/* The task's state letter from /proc/self/task/TID/stat: 'R' running, 'S'/'D' waiting. */
static char read_task_state(int tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (proc_read(path, buf, sizeof(buf)) <= 0)
		return '?';
	char *paren = strrchr(buf, ')');   /* the command name may hold anything */
	return paren && paren[1] == ' ' ? paren[2] : '?';
}

/*
 * Is g still where it was when the report began? On the carrier: the switch counter has
 * not moved. Handed off: its kernel thread still carries it. Otherwise g and its stack
 * may be gone.
 */
static bool still_stuck(struct gp_carrier *c, struct gp_green *g, uint64_t sw,
			struct gp_kthread *m)
{
	if (m)
		return __atomic_load_n(&m->carrying, __ATOMIC_ACQUIRE) == g;
	return __atomic_load_n(&c->switches, __ATOMIC_RELAXED) == sw;
}

/* What became of the others while g was stuck, for the end of a stall line. */
static const char *others_note(struct gp_kthread *m, bool at_bound)
{
	if (m)
		return "; its carrier was handed to another kernel thread, so the other green "
		       "threads go on";
	if (at_bound)
		return "; no kernel thread was free to take its carrier over "
		       "(GREENPATCH_MAX_THREADS), so the others wait";
	return "";
}

/*
 * Report g, stuck for ms on kernel thread tid: on the carrier (m NULL, switch counter
 * at sw) or handed off to m.
 */
static void stall_report(struct gp_carrier *c, struct gp_green *g, uint64_t sw,
			 struct gp_kthread *m, int tid, long ms, bool at_bound, bool called)
{
	unsigned long args[6] = { 0 };
	uintptr_t sp = 0, pc = 0, frames[MAX_FRAMES];
	long nr = read_task_syscall(tid, args, &sp, &pc);
	int n = 0;
	if (nr >= 0) {
		xmaps_load(&wd.xmaps, false);
		if (pc)
			frames[n++] = pc;
		n += scan_stack(&wd.xmaps, sp, stack_top(g), frames + n, MAX_FRAMES - n, wd.page);
	}
	if (!still_stuck(c, g, sw, m))
		return;
	/* The site: the system call and where it was made from; a computing thread, itself. */
	uint64_t key = nr >= 0 ? (uint64_t)nr * 0x9e3779b97f4a7c15ull : ~g->id;
	for (int i = 0; i < n && i < 4; i++)
		key = (key ^ frames[i]) * 0x100000001b3ull;
	if (!new_site(key))
		return;
	__atomic_add_fetch(&wd.stalls, 1, __ATOMIC_RELAXED);
	const char *others = others_note(m, at_bound);
	const char *blocking_in = __atomic_load_n(&g->blocking_in, __ATOMIC_RELAXED);
	/* Handed off, it holds nobody but itself, as natively: information, not a warning. */
	enum gp_log_level level = m ? GP_LOG_INFO : GP_LOG_WARNING;
	/* Handed off, it holds only its own kernel thread; else it holds everyone. */
	const char *lead = m ? "has kept its kernel thread for" : "has run";
	const char *lead_end = m ? "" : " without letting the others run";
	/* In a system call but running: a loop of calls that never wait (each is short). */
	if (nr >= 0 && read_task_state(tid) == 'R') {
		const char *name = syscall_name(nr);
		gp_log(level, "stall: green thread %llu \"%s\" %s %ld ms%s: it keeps "
		       "making calls that do not wait (%s at this moment) or computing (reported "
		       "once per call site)%s", (unsigned long long)g->id, g->name, lead, ms,
		       lead_end, name ? name : "a system call", others);
	} else if (nr >= 0 && blocking_in) {
		gp_log(level, "stall: green thread %llu \"%s\" %s %ld ms%s: it waits in %s, "
		       "%s (reported once per call site)%s", (unsigned long long)g->id, g->name,
		       lead, ms, lead_end, blocking_in,
		       m ? "made on its own kernel thread while the others run"
			 : "which the library passed to the C library (GREENPATCH_UNPATCH, or "
			   "no hand-off)", others);
	} else if (nr >= 0) {
		const char *name = syscall_name(nr);
		char num[24];
		if (!name) {
			snprintf(num, sizeof(num), "%ld", nr);
			name = num;
		}
		gp_log(level, "stall: green thread %llu \"%s\" %s %ld ms%s: it is "
		       "blocked in the system call %s(0x%lx, 0x%lx, 0x%lx, ...), which did not go "
		       "through the library (reported once per call site)%s",
		       (unsigned long long)g->id, g->name, lead, ms, lead_end, name, args[0],
		       args[1], args[2], others);
	} else {
		gp_log(level, "stall: green thread %llu \"%s\" %s %ld ms%s: it computes "
		       "%s (reported once per thread)%s", (unsigned long long)g->id, g->name, lead,
		       ms, lead_end, called ? "and calls the library, but none of its calls waits"
					     : "without calling the library", others);
	}
	for (int i = 0; i < n; i++) {
		char line[256];
		frame_str(&wd.xmaps, i, frames[i], true, line, sizeof(line));
		gp_log(level, "  %s", line);
	}
}

/*
 * The monitor: one kernel thread (made with gp__create_kernel_thread, every signal
 * blocked) that hands a stuck carrier off (kthread.h) and reports stalls.
 *
 * It looks at the carrier every half of GREENPATCH_HANDOFF (a quarter of
 * GREENPATCH_STALL_MS without hand-off), less often while nothing is stuck (struct
 * pace), and at least every half of GP_MAYBE_SLOW_NS while a slow mount exists, for
 * the path calls taken as local that a symbolic link led into it (watch.h). The
 * carrier is stuck when its switch counter has not moved since the last look while a
 * green thread, not the hub, runs on it: one computation or one system call, since
 * every call through the library that waits switches. Once stuck for the threshold
 * with another green thread alive, it is handed off; after GREENPATCH_STALL_MS it is
 * reported, handed off or not. While the hub waits in the loop, nothing can be stuck:
 * after a few looks that find it so, the monitor sleeps until the hub leaves the loop
 * (gp_monitor_wake), or, while a handed-off thread is still out, until its next stall
 * check, and at most IDLE_SLEEP_NS.
 */
#define IDLE_LOOKS_BEFORE_SLEEP 16

/*
 * The longest the monitor sleeps while the hub waits: the hub wakes it when it leaves
 * the loop, and this bounds what a missed wake-up could cost (twenty looks a second in
 * an idle process).
 */
#define IDLE_SLEEP_NS (50 * 1000000L)

static struct {
	_Atomic uint32_t asleep;        /* futex: the monitor sleeps until the hub wakes it */
	_Atomic uint32_t retick;        /* futex: its tick between looks, cut short to re-time */
	_Atomic uint32_t started;       /* futex: 1 once it has its malloc arena */
} mon;

/* Every carrier's hub waits, in the loop or idle: nothing can be stuck. */
static bool hubs_waiting(struct gp_runtime *rt)
{
	for (unsigned i = 0; i < rt->ncarriers; i++)
		if (!__atomic_load_n(&rt->carriers[i].hub_waiting, __ATOMIC_SEQ_CST))
			return false;
	return true;
}

static void monitor_sleep(struct gp_runtime *rt, long timeout_ns)
{
	__atomic_store_n(&mon.asleep, 1, __ATOMIC_SEQ_CST);
	if (hubs_waiting(rt)) {
		gp_futex_wait(&mon.asleep, 1, timeout_ns > 0 ? timeout_ns : -1);
	}
	__atomic_store_n(&mon.asleep, 0, __ATOMIC_RELAXED);
}

void gp_monitor_wake(void)
{
	/* Ordered after the caller's seq_cst store of hub_waiting: a load suffices to see a
	 * monitor that went to sleep; only then the exchange, so one wake-up is sent. */
	if (__atomic_load_n(&mon.asleep, __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&mon.asleep, 0, __ATOMIC_SEQ_CST))
		gp_futex_wake(&mon.asleep, 1);
}

void gp_monitor_retick(void)
{
	__atomic_fetch_add(&mon.retick, 1, __ATOMIC_SEQ_CST);
	gp_futex_wake(&mon.retick, 1);
}

struct handed_check {
	struct gp_carrier *c;
	long now, threshold;
	bool any;
};

/* A handed-off thread still out after GREENPATCH_STALL_MS is reported, once per site. */
/*
 * A cancel pending for a thread that waits apart: its signal may have found it outside
 * the system call it waits in (shim/cancel.c). A few more, one a look; a wait that is
 * no cancellation point (flock) goes on after each.
 */
#define CANCEL_SIGNALS_MAX 8

static void resend_cancel(struct gp_kthread *m, struct gp_green *g)
{
	if (!__atomic_load_n(&g->cancel_pending, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&g->cancel_disabled, __ATOMIC_RELAXED) ||
	    g->cancel_signals >= CANCEL_SIGNALS_MAX || !gp__tls_cancel_signal)
		return;
	g->cancel_signals++;
	gp_tls_signal_cancel(m->tid);
}

static void check_handed_off(struct gp_kthread *m, void *arg)
{
	struct handed_check *h = arg;
	struct gp_green *g = __atomic_load_n(&m->carrying, __ATOMIC_ACQUIRE);
	if (!g)
		return;
	h->any = true;
	resend_cancel(m, g);
	long ms = (h->now - m->carrying_since_ns) / 1000000L;
	if (!h->threshold || m->stall_reported || h->now - m->carrying_since_ns < h->threshold)
		return;
	m->stall_reported = true;
	stall_report(h->c, g, 0, m, m->tid, ms, false, false);
}

/*
 * What the monitor saw of the carrier's running thread at its last look. The thread
 * has been stuck since `since` while the switch counter and the thread stay the same:
 * one system call, one computation, or a loop that calls the library without ever
 * waiting in it (a spin on a mutex's trylock, or an I/O thread that polls for work and
 * takes an uncontended lock now and then, as redis's do), which holds the others as
 * surely. The CPU time of its kernel thread is taken at the first look that finds it
 * so, to tell computing from waiting for a CPU. A thread handed off in such a loop
 * rejoins at its next call (shim/hook.h), behind the others: a yield.
 */
struct look {
	uint64_t sw;
	struct gp_green *g;
	unsigned enters;              /* at the last look that read it */
	bool enters_known;            /* enters was read (looks after the first) */
	bool entered;                 /* it has called the library since a look read enters */
	long yield_asked_ns;          /* when it was asked to yield; 0: not yet */
	long since;                   /* when it may have got stuck: see look_at */
	bool seen_stuck;              /* a look has found it stuck */
	long cpu_from;                /* its CPU time at the first look that found it stuck */
	bool cpu_known;               /* cpu_from is taken */
	bool at_bound;                /* the last hand-off found no spare */
	long runnable_at;             /* when /proc last said it runs or waits for a CPU */
	uint32_t slow_seq;            /* its maybe_slow_seq at the last look (green.h) */
	long slow_since;              /* when a look first found it in that call */
	uint64_t reported_at;         /* the switch count at its last report */
};

/*
 * Worth a hand-off: blocked in the kernel, or computing: it has had at least min_cpu of
 * CPU time since the first look found it stuck, however busy the machine (ordinary work
 * between two entries into the runtime takes microseconds). A carrier preempted in the
 * middle of such work has had none: it is left, since a spare would wait for a CPU as
 * well.
 */
static bool really_stuck(int tid, struct look *l, long cpu, long now, long handoff)
{
	/* Computing (or making calls that never wait): the CPU clock says so, at once. The
	 * look at /proc is the reader's (procread.h). */
	if (l->cpu_known && cpu - l->cpu_from >= handoff / 4)
		return true;
	/* Found waiting for a CPU less than a threshold ago: a machine that has none for
	 * the carrier has little for the monitor's reads either, and a spare would wait as
	 * well. A thread that went into a system call since is handed off a threshold
	 * later than it would have been. */
	if (l->runnable_at && now - l->runnable_at < handoff)
		return false;
	char state = read_task_state(tid);
	if (state == 'S' || state == 'D')
		return true;
	l->runnable_at = now;
	return false;
}

/*
 * A thread that has called the runtime since it got stuck (a loop of calls that never
 * wait) is asked to yield at its next return from it: true while that request is
 * fresher than a tick, and the hand-off waits. Only once in a row: a thread stuck so
 * again after it yielded keeps to its loop, and is better off on a kernel thread of its
 * own, where the kernel shares the CPU between it and the others as natively, than
 * back on the carrier at every yield, holding the others a threshold each time; it is
 * asked to yield all the same, in case the hand-off finds it inside the runtime.
 */
static bool asked_to_yield(struct gp_carrier *c, struct look *l, long now, long tick_ns)
{
	static const struct gp_green *last_asked;
	if (!l->entered)
		return false;
	bool again = l->g == last_asked;
	if (!l->yield_asked_ns) {
		l->yield_asked_ns = now;
		last_asked = l->g;
		__atomic_or_fetch(&c->yield_request, GP_YIELD_MONITOR, __ATOMIC_RELAXED);
	}
	/* Again: the hand-off is tried at once, and the yield stands should it fail (the
	 * thread may be inside the runtime at every look, on a busy machine). */
	return !again && now - l->yield_asked_ns < tick_ns;
}

__thread bool gp__on_monitor __attribute__((tls_model("initial-exec")));

/* Every signal blocked but the dump signal, which is the library's (watch.h). */
static void monitor_signals(void)
{
	gp_block_program_signals();
	gp__on_monitor = true;
	if (!gp_config.dump_signal)
		return;
	uint64_t dump = 1ull << (gp_config.dump_signal - 1);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &dump, NULL, sizeof(dump));
}

/*
 * Whether a green thread waits for a carrier that none can give it: one runnable, or
 * one parked, whose wake-up (readiness, a timer, another kernel thread's) a carrier
 * must poll for, while no carrier's hub waits in the loop or idle. A waiting hub polls,
 * and is woken for a runnable thread (gp_sched_nudge), so handing off a computing
 * thread would only give its carrier to a spare with nothing to do: a membarrier and
 * two wake-ups for each stretch of computation of threads that compute on every
 * carrier (sort --parallel). Read without the lock: a stale value delays a hand-off by
 * one look.
 */
static bool others_wait(struct gp_runtime *rt)
{
	size_t here = __atomic_load_n(&rt->alive, __ATOMIC_RELAXED) -
		      __atomic_load_n(&rt->away, __ATOMIC_RELAXED);
	size_t running = 0;
	for (unsigned i = 0; i < rt->ncarriers; i++) {
		struct gp_carrier *c = &rt->carriers[i];
		if (__atomic_load_n(&c->hub_waiting, __ATOMIC_SEQ_CST))
			return false;
		running += __atomic_load_n(&c->current, __ATOMIC_RELAXED) != &c->hub;
	}
	return here > running;
}

/*
 * One look at carrier c (see above): hand it off, or report it, when its running thread
 * has been stuck long enough. l is what the last look saw of it.
 */
struct watch_params {
	long now, threshold, handoff;
	long tick_ns;                 /* between two looks while one finds a carrier stuck */
};

/*
 * A look at a carrier found stuck (see look_at): hand it off, or report it, once it
 * has been so long enough. True if it did either.
 */
static bool act_on_stuck(struct gp_runtime *rt, struct gp_carrier *c, struct look *l,
			 const struct watch_params *p, uint64_t sw, struct gp_green *g)
{
	bool in_program = false;
	unsigned enters = 0;
	/*
	 * In one call on a path taken as local since slow_since (watch.h)? Only while every
	 * path is not known local do hooks mark such calls. g may have ended and been freed
	 * since c->current was read, and its memory given back: read through gp_peek, one
	 * system call, made only then.
	 */
	uint32_t seq = 0;
	if (!gp_mounts_all_local() && !gp_peek(&g->maybe_slow_seq, &seq, sizeof(seq))) {
		l->sw = UINT64_MAX;   /* ended meanwhile: look afresh */
		return false;
	}
	if (!(seq & 1) || seq != l->slow_seq) {
		l->slow_seq = seq;
		l->slow_since = p->now;
	}
	bool maybe_slow = (seq & 1) && p->now - l->slow_since >= GP_MAYBE_SLOW_NS;
	/*
	 * Between the first look that finds it stuck, which takes what the later ones
	 * compare with, and the first at which a hand-off or a report is due, nothing is
	 * decided: no look at the thread, which costs system calls. On a machine with more
	 * busy threads than CPUs a preempted carrier looks stuck for a few milliseconds at
	 * a time, again and again.
	 */
	bool handoff_due = p->handoff && (p->now - l->since >= p->handoff || maybe_slow);
	bool report_due = p->threshold && sw != l->reported_at &&
			  p->now - l->since >= p->threshold;
	if (l->cpu_known && !handoff_due && !report_due)
		return false;
	if (!gp_sched_peek_thread(g, &in_program, &enters)) {
		l->sw = UINT64_MAX;   /* ended meanwhile: look afresh */
		return false;
	}
	if (!l->enters_known) {
		l->enters = enters;
		l->enters_known = true;
	} else if (enters != l->enters) {
		l->enters = enters;
		l->entered = true;
	}
	/*
	 * Inside the library at this look, where it is not handed off (gp_handoff wants it
	 * in program code). One that keeps calling the library is asked to yield at its
	 * next return from it instead: a loop whose library calls take far longer than its
	 * own code (calls that fail at once, a sanitizer build) may be found inside at look
	 * after look, hundreds of milliseconds in a row.
	 */
	if (!in_program) {
		if (handoff_due && l->entered && __atomic_load_n(&rt->alive, __ATOMIC_RELAXED) >= 2) {
			(void)asked_to_yield(c, l, p->now, p->tick_ns);
			__atomic_or_fetch(&c->yield_request, GP_YIELD_MONITOR, __ATOMIC_RELAXED);
		}
		return false;
	}
	int tid = c->owner->tid;
	long cpu = now_ns(thread_cpu_clock(tid));
	if (!l->cpu_known) {
		l->cpu_from = cpu;
		l->cpu_known = true;
	}
	if (__atomic_load_n(&rt->alive, __ATOMIC_RELAXED) < 2)
		return false;
	/* Computing (as really_stuck tells it) while nobody waits for its carrier: it
	 * holds nobody. One stuck in a system call costs no CPU where it waits, and is
	 * handed off all the same, so that as many kernel threads as carriers run green
	 * code. */
	long min_cpu = (p->handoff ? p->handoff : p->threshold) / 4;
	if (cpu - l->cpu_from >= min_cpu && !others_wait(rt))
		return false;
	/* Tried at every look: a spare may have come back since the bound was met. A
	 * thread that calls the runtime is asked to yield first, and handed off only if
	 * it has not a tick later. */
	if (handoff_due && really_stuck(tid, l, cpu, p->now, p->handoff) &&
	    !asked_to_yield(c, l, p->now, p->tick_ns)) {
		int rc = gp_handoff(c, g, sw, l->since);
		if (rc == 1)
			return true;
		l->at_bound = rc == -EAGAIN;
	}
	if (!report_due)
		return false;
	/* Computing, rather than waiting for a CPU on a busy machine? */
	unsigned long args[6];
	uintptr_t sp, pc;
	long nr = read_task_syscall(tid, args, &sp, &pc);
	if (nr == -1 || (nr == -2 && cpu - l->cpu_from < p->threshold / 4))
		return false;
	l->reported_at = sw;
	stall_report(c, g, sw, NULL, tid, (p->now - l->since) / 1000000L, l->at_bound,
		     l->entered);
	return true;
}

/* What a look found of a carrier, for the monitor's pace (struct pace). */
enum look_found {
	LOOK_QUIET,     /* switching, its hub waiting, or stuck waiting for a CPU */
	LOOK_STUCK,     /* stuck: looked at again a tick later */
	LOOK_ACTED,     /* stuck long enough: handed off or reported */
};

static enum look_found look_at(struct gp_runtime *rt, struct gp_carrier *c, struct look *l,
			       const struct watch_params *p)
{
	uint64_t sw = __atomic_load_n(&c->switches, __ATOMIC_RELAXED);
	struct gp_green *g = __atomic_load_n(&c->current, __ATOMIC_RELAXED);
	/* A carrier that switched since the last look is not stuck: that is all the look
	 * needs, and the common case of a busy carrier, so its thread is not read (two
	 * process_vm_readv calls) until a look finds it still there. */
	if (g == &c->hub || sw != l->sw || g != l->g) {
		*l = (struct look){ .sw = sw, .g = g, .since = p->now,
				    .reported_at = l->reported_at };
		/* A yield asked of a thread that has switched since is moot. */
		__atomic_and_fetch(&c->yield_request, ~GP_YIELD_MONITOR, __ATOMIC_RELAXED);
		return LOOK_QUIET;
	}
	/* The last look that saw it switch may be several ticks old when the monitor had
	 * slowed down (struct pace): it has been stuck no longer than a tick as far as a
	 * hand-off or a report can tell, as if the monitor had looked every tick. */
	if (!l->seen_stuck) {
		l->seen_stuck = true;
		if (l->since < p->now - p->tick_ns)
			l->since = p->now - p->tick_ns;
	}
	if (act_on_stuck(rt, c, l, p, sw, g))
		return LOOK_ACTED;
	/* Waiting for a CPU, as /proc said less than a threshold ago (really_stuck): it is
	 * not looked at again sooner than that anyway. */
	if (l->runnable_at && p->now - l->runnable_at < p->handoff)
		return LOOK_QUIET;
	return LOOK_STUCK;
}

/*
 * How long the monitor sleeps between looks. Each look costs a wake-up of its kernel
 * thread, most of what it costs a busy program: at the default threshold, 2,000 a
 * second, 1.3% of a CPU beside a carrier that serves 10,000 connections. So, as Go's
 * sysmon does, it slows down while it finds nothing to do: after QUIET_LOOKS looks in
 * a row that neither handed off, reported nor took a woken thread from a waker that
 * computes, twice as long between looks, up to four ticks and never past
 * SLOWEST_TICK_NS unless the tick itself is longer. Doing any of those, or waking up
 * because a hub left the loop, brings it back to every tick. While a look finds a
 * carrier stuck, the next comes a tick later whatever the pace, and the carrier is
 * timed as if looked at every tick (look_at): a thread that gets stuck after a quiet
 * stretch is only seen up to a slow tick later.
 */
#define QUIET_LOOKS 16
#define SLOWEST_SHIFT 2
#define SLOWEST_TICK_NS (2 * 1000000L)

struct pace {
	unsigned quiet;               /* quiet looks since the pace last changed */
	unsigned shift;               /* between looks: the tick shifted left so much */
};

static long pace_sleep_ns(const struct pace *pc, long tick_ns, bool stuck)
{
	if (stuck)
		return tick_ns;
	long slowest = tick_ns << SLOWEST_SHIFT;
	if (slowest > SLOWEST_TICK_NS)
		slowest = tick_ns > SLOWEST_TICK_NS ? tick_ns : SLOWEST_TICK_NS;
	long ns = tick_ns << pc->shift;
	return ns < slowest ? ns : slowest;
}

static void pace_after_look(struct pace *pc, bool acted)
{
	if (acted) {
		*pc = (struct pace){ 0, 0 };
	} else if (++pc->quiet >= QUIET_LOOKS && pc->shift < SLOWEST_SHIFT) {
		pc->quiet = 0;
		pc->shift++;
	}
}

static void *monitor_main(void *arg)
{
	(void)arg;
	monitor_signals();
	prctl(PR_SET_NAME, "gp-monitor");
	gp_take_malloc_arena();
	__atomic_store_n(&mon.started, 1, __ATOMIC_RELEASE);
	gp_futex_wake(&mon.started, 1);
	struct watch_params p = { .threshold = (long)gp_config.stall_ms * 1000000L,
				  .handoff = (long)gp_config.handoff_ns };
	long tick_ns = p.handoff ? p.handoff / 2 : p.threshold / 4;
	struct look *looks = NULL;
	unsigned nlooks = 0, idle_looks = 0;
	struct pace pace = { 0, 0 };
	bool stuck = false;   /* the last look found a carrier stuck */
	for (;;) {
		p.tick_ns = tick_ns;
		if (p.handoff && p.tick_ns > GP_MAYBE_SLOW_NS / 2 && gp_mounts_some_slow())
			p.tick_ns = GP_MAYBE_SLOW_NS / 2;
		uint32_t retick = __atomic_load_n(&mon.retick, __ATOMIC_SEQ_CST);
		gp_futex_wait(&mon.retick, retick, pace_sleep_ns(&pace, p.tick_ns, stuck));
		bool acted = __atomic_load_n(&mon.retick, __ATOMIC_SEQ_CST) != retick;
		struct gp_runtime *rt = __atomic_load_n(&gp_rt, __ATOMIC_ACQUIRE);
		if (!rt)
			continue;
		if (nlooks != rt->ncarriers) {
			/* A new runtime (after fork, in the child that made one): look afresh.
			 * Mapped: a malloc here would make this kernel thread a malloc arena,
			 * 64 MiB of address space for a few hundred bytes. */
			if (looks)
				munmap(looks, nlooks * sizeof(*looks));
			nlooks = rt->ncarriers;
			looks = mmap(NULL, nlooks * sizeof(*looks), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (looks == MAP_FAILED) {
				looks = NULL;
				nlooks = 0;
				continue;
			}
			for (unsigned i = 0; i < nlooks; i++)
				looks[i] = (struct look){ .sw = UINT64_MAX, .reported_at = UINT64_MAX };
		}
		p.now = now_ns(CLOCK_MONOTONIC);
		struct handed_check h = { NULL, p.now, p.threshold, false };
		gp_kthread_each(check_handed_off, &h);
		if (hubs_waiting(rt)) {
			if (++idle_looks >= IDLE_LOOKS_BEFORE_SLEEP) {
				monitor_sleep(rt, h.any && p.threshold ? p.threshold / 4 : IDLE_SLEEP_NS);
				idle_looks = 0;
				acted = true;   /* woken as a hub leaves the loop: look every tick */
			}
		} else {
			idle_looks = 0;
		}
		stuck = false;
		for (unsigned i = 0; i < nlooks; i++) {
			enum look_found found = look_at(rt, &rt->carriers[i], &looks[i], &p);
			stuck |= found == LOOK_STUCK;
			acted |= found == LOOK_ACTED;
		}
		acted |= gp_sched_nudge();
		pace_after_look(&pace, acted);
	}
	return NULL;
}

int gp_watch_start(void)
{
	pid_t pid = getpid();
	if ((!gp_config.stall_ms && !gp_config.handoff_ns) || wd.pid == pid ||
	    !gp__create_kernel_thread)
		return 0;
	wd.pid = pid;
	wd.nsites = 0;
	__atomic_store_n(&mon.started, 0, __ATOMIC_RELAXED);
	int rc = gp__create_kernel_thread(monitor_main, NULL, 0);
	if (rc) {
		wd.pid = 0;
		return -rc;
	}
	/* Its arena taken before the program goes on, as the hubs' are (sched.c, hub_main). */
	while (!__atomic_load_n(&mon.started, __ATOMIC_ACQUIRE))
		gp_futex_wait(&mon.started, 0, -1);
	/* glibc's SIGSETXID handler exists now: the first kernel thread answers setuid made
	 * elsewhere with its own descriptor, whichever green thread it runs (tls.h). */
	gp_tls_guard_setxid();
	return 0;
}

/* ---- the dump ---- */

static struct xmaps dump_xmaps;
static uintptr_t dump_page[SCAN_PAGE / sizeof(uintptr_t)];

static void dump_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void dump_line(int fd, const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "greenpatch[%d]: dump: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	gp__log_write(fd, line, len);
}

static const char *state_name(enum gp_green_state s)
{
	return (unsigned)s < GP_ARRAY_LEN(gp_state_names) ? gp_state_names[s] : "?";
}

void gp_dump_write(int fd)
{
	struct gp_runtime *c = gp_rt;
	if (!c) {
		dump_line(fd, "no green threads: the program has not created a thread");
		return;
	}
	xmaps_load(&dump_xmaps, true);
	dump_line(fd, "%zu green threads alive on %u carrier%s (the first on kernel thread %d); "
		  "%zu parked; context switches %llu", c->alive, c->ncarriers,
		  c->ncarriers == 1 ? "" : "s", c->tid, c->parked,
		  (unsigned long long)c->stats.switches);
	for (unsigned i = 0; i < c->ncarriers; i++) {
		struct gp_carrier *k = &c->carriers[i];
		struct gp_green *cur = __atomic_load_n(&k->current, __ATOMIC_RELAXED);
		struct gp_kthread *owner = __atomic_load_n(&k->owner, __ATOMIC_RELAXED);
		if (cur == &k->hub)
			dump_line(fd, "carrier %u on kernel thread %d: %s", i, owner ? owner->tid : 0,
				  k->idle ? "idle" : "in its event loop");
		else
			dump_line(fd, "carrier %u on kernel thread %d: runs thread %llu", i,
				  owner ? owner->tid : 0, (unsigned long long)cur->id);
	}
	size_t limit = 100000;   /* a list damaged by the interrupted code must not loop */
	for (struct gp_green *g = gp_all(); g && limit--; g = g->all_next) {
		if (g->magic != GP_GREEN_MAGIC)
			break;
		char what[200] = "";
		/* Read once: another carrier may change it meanwhile. */
		enum gp_green_state state = __atomic_load_n(&g->state, __ATOMIC_RELAXED);
		if (state == GP_PARKED) {
			char desc[160];
			gp__describe_wait(g, desc, sizeof(desc));
			/* The clock read for each thread: the other carriers run on while the
			 * dump is written, and a thread may have parked after it began. */
			long parked = g->parked_ns ? now_ns(CLOCK_MONOTONIC_COARSE) - g->parked_ns : 0;
			snprintf(what, sizeof(what), " on %s for %.3f s", desc,
				 (double)(parked > 0 ? parked : 0) * 1e-9);
		}
		dump_line(fd, "thread %llu%s \"%s\" %s%s", (unsigned long long)g->id,
			  g->is_main ? " (main)" : "", g->name, state_name(state), what);
		if (state == GP_DONE)
			continue;
		uintptr_t frames[MAX_FRAMES], here = (uintptr_t)&frames;
		uintptr_t sp = g == gp_self() ? here : saved_sp(g);
		int n = scan_stack(&dump_xmaps, sp, stack_top(g), frames, MAX_FRAMES, dump_page);
		for (int i = 0; i < n; i++) {
			char line[256];
			frame_str(&dump_xmaps, i, frames[i], false, line, sizeof(line));
			dump_line(fd, "  %s", line);
		}
	}
}

void gp_stats_write(int fd)
{
	struct gp_stats st = { 0 };
	if (gp_rt)
		st = gp_rt->stats;
	char buf[2048];
	int n = snprintf(buf, sizeof(buf),
			 "greenpatch[%d]: stats: green threads created %llu, peak alive %llu; "
			 "context switches %llu; parks %llu; loop polls %llu; offloaded calls %lu "
			 "on %d pool threads; stalls %lu; calls passed to libc %llu; carriers %u; "
			 "hand-offs %llu among %u kernel threads; thread pointer set by %s\n",
			 (int)getpid(), (unsigned long long)st.created,
			 (unsigned long long)st.peak_alive, (unsigned long long)st.switches,
			 (unsigned long long)st.parks, (unsigned long long)st.polls,
			 gp_offload_calls(), gp_offload_threads(), gp_stall_count(),
			 (unsigned long long)st.passed, gp_rt ? gp_rt->ncarriers : 1,
			 (unsigned long long)st.handoffs, gp_kthread_count(), gp_tls_switch_kind());
	if (st.by_reason[0].what && n > 0 && (size_t)n < sizeof(buf)) {
		n += snprintf(buf + n, sizeof(buf) - n, "greenpatch[%d]: stats: parks by reason:",
			      (int)getpid());
		for (int i = 0; i < GP_STATS_REASONS && st.by_reason[i].what; i++)
			if ((size_t)n < sizeof(buf))
				n += snprintf(buf + n, sizeof(buf) - n, " %s %llu",
					      st.by_reason[i].what,
					      (unsigned long long)st.by_reason[i].parks);
		if ((size_t)n < sizeof(buf) - 1)
			buf[n++] = '\n';
	}
	if (n > 0)
		gp__log_write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

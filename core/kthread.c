#include "kthread.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "offload.h"
#include "sched.h"
#include "tls.h"
#include "util.h"

/*
 * Spares wait on a lock-free stack: any kernel thread pushes itself when it becomes
 * idle. Those who take one (the monitor, and a carrier about to block, gp_handoff_self)
 * pop under taking_lock: with one popper at a time a node cannot leave and come back
 * between the popper's read of the head and its exchange, so there is no ABA.
 */
static struct gp_kthread *_Atomic spares;

/*
 * Held while a spare is popped or made. A futex lock (0 free, 1 held, 2 held with
 * waiters): the two takers rarely meet, but making a kernel thread takes long enough
 * that the other should sleep rather than spin.
 */
static _Atomic uint32_t taking_lock;

/* The first kernel thread, and every one made so far, for the monitor's reports; made
 * under taking_lock. */
static struct gp_kthread *first;
static struct gp_kthread **made;
static _Atomic unsigned nmade;
static unsigned made_cap;

static void spare_push(struct gp_kthread *m)
{
	struct gp_kthread *head = __atomic_load_n(&spares, __ATOMIC_RELAXED);
	do
		m->next_spare = head;
	while (!__atomic_compare_exchange_n(&spares, &head, m, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

static struct gp_kthread *spare_pop(void)
{
	struct gp_kthread *head = __atomic_load_n(&spares, __ATOMIC_ACQUIRE);
	while (head && !__atomic_compare_exchange_n(&spares, &head, head->next_spare, true,
						    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE))
		;
	return head;
}

void (*gp__thread_signals_to)(struct gp_green *g);

/*
 * A pthread_kill that found m carrying g signals m itself, as the kernel would g's own
 * kernel thread; g may come back meanwhile, and the signal then waits here, blocked, for
 * a green thread that is gone. Once nobody can find g here (Dekker's handshake on
 * carrying and signalling, with pthread_kill), such signals go with g.
 */
static void give_signals_back(struct gp_kthread *m, struct gp_green *g)
{
	__atomic_store_n(&m->carrying, NULL, __ATOMIC_SEQ_CST);
	for (unsigned spins = 0; __atomic_load_n(&m->signalling, __ATOMIC_SEQ_CST); spins++)
		gp_spin_step(spins, 1000);
	if (__atomic_exchange_n(&m->signalled, false, __ATOMIC_ACQUIRE) && gp__thread_signals_to)
		gp__thread_signals_to(g);
}

/*
 * Give back the thread it carried, if any, wait as a spare until assigned, run the
 * carrier until a thread it carried comes back; again. A kernel thread just made by the
 * monitor is reserved: the monitor assigns it or puts it among the spares itself.
 */
static void idle_loop(struct gp_kthread *m, bool reserved)
{
	for (;;) {
		struct gp_green *g = m->rejoining;
		if (g) {
			m->rejoining = NULL;
			gp_block_program_signals();   /* a spare runs no green code */
			give_signals_back(m, g);
			gp__give_back(g);
		}
		if (!reserved)
			spare_push(m);
		reserved = false;
		while (!__atomic_exchange_n(&m->assigned, 0, __ATOMIC_ACQUIRE))
			gp_futex_wait(&m->assigned, 0, -1);
		gp__take_over(m);
	}
}

void gp__kthread_idle_main(void *arg)
{
	struct gp_kthread *m = arg;
	if (m->made_idle)
		gp_tls_thread_start();
	idle_loop(m, false);
}

/*
 * A signal stack of its own, as the first kernel thread has one when the stack overflow
 * report is installed (shim/overflow.c): a green thread that overflows its stack here
 * gets the same report. Kept for the kernel thread's life, which is the process's.
 */
#define SPARE_SIGNAL_STACK (64 * 1024)

static void give_signal_stack(void)
{
	/* Mapped, not malloc'd: a first malloc on this kernel thread's own descriptor would
	 * make it a malloc arena, 64 MiB of address space reserved for one small block (a
	 * program under RLIMIT_AS would lose it to every carrier and spare). */
	void *sp = mmap(NULL, SPARE_SIGNAL_STACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sp == MAP_FAILED)
		return;
	stack_t ss = { .ss_sp = sp, .ss_size = SPARE_SIGNAL_STACK };
	if (sigaltstack(&ss, NULL) != 0)
		munmap(sp, SPARE_SIGNAL_STACK);
}

static void *spare_main(void *arg)
{
	struct gp_kthread *m = arg;
	m->tid = gp_kernel_tid();
	give_signal_stack();
	/* The arena the hubs and green threads it runs allocate from (tls.c, find_arena),
	 * taken while its maker waits: at a carrier's start, before the program goes on. */
	gp_take_malloc_arena();
	__atomic_store_n(&m->started, 1, __ATOMIC_RELEASE);
	gp_futex_wake(&m->started, 1);
	prctl(PR_SET_NAME, "gp-carrier");
	gp_ctx_init_current(&m->idle.ctx);
	m->idle.ctx.tp = gp_tp_get();
	idle_loop(m, true);
	return NULL;
}

/* The CPUs the process may run on when the runtime started: where a kernel thread that
 * ran a moved carrier goes back to. */
static cpu_set_t process_cpus;

void gp_kthread_moved(struct gp_carrier *c, const void *set, size_t size)
{
	CPU_ZERO(&c->cpus);
	memcpy(&c->cpus, set, size < sizeof(c->cpus) ? size : sizeof(c->cpus));
	c->moved = true;
	c->owner->moved = true;
}

/* A raw call: from inside the runtime, the hook would take it for the program's. */
static void move_to(const cpu_set_t *set)
{
	syscall(SYS_sched_setaffinity, 0, sizeof(*set), set);
}

void gp_kthread_follow(struct gp_kthread *m, struct gp_carrier *c)
{
	if (c->moved) {
		move_to(&c->cpus);
		m->moved = true;
	} else if (m->moved) {
		move_to(&process_cpus);
		m->moved = false;
	}
}

void gp_kthread_init_first(struct gp_kthread *m)
{
	memset(m, 0, sizeof(*m));
	m->tid = gp_kernel_tid();
	if (sched_getaffinity(0, sizeof(process_cpus), &process_cpus) != 0)
		memset(&process_cpus, 0xff, sizeof(process_cpus));
	__atomic_store_n(&first, m, __ATOMIC_RELEASE);
}

/* Record m among the made ones: the monitor's list grows, readers see a whole entry. */
static bool remember(struct gp_kthread *m)
{
	unsigned n = __atomic_load_n(&nmade, __ATOMIC_RELAXED);
	if (n == made_cap) {
		/* Never freed: a reader may still hold the old array for a moment. */
		unsigned cap = made_cap ? made_cap * 2 : 16;
		struct gp_kthread **bigger = calloc(cap, sizeof(*bigger));
		if (!bigger)
			return false;
		if (n)
			memcpy(bigger, made, n * sizeof(*made));
		__atomic_store_n(&made, bigger, __ATOMIC_RELEASE);
		made_cap = cap;
	}
	made[n] = m;
	__atomic_store_n(&nmade, n + 1, __ATOMIC_RELEASE);
	return true;
}

static void take_lock(void)
{
	uint32_t c = 0;
	if (__atomic_compare_exchange_n(&taking_lock, &c, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	while (__atomic_exchange_n(&taking_lock, 2, __ATOMIC_ACQUIRE) != 0)
		gp_futex_wait(&taking_lock, 2, -1);
}

static void take_unlock(void)
{
	if (__atomic_exchange_n(&taking_lock, 0, __ATOMIC_RELEASE) == 2)
		gp_futex_wake(&taking_lock, 1);
}

/*
 * A spare's own stack holds only its idle loop (the hub and the green threads it runs
 * have stacks of their own): it is kept small, since it counts in the program's address
 * space (RLIMIT_AS), where hand-offs under load made several 8 MiB stacks at once.
 */
#define SPARE_STACK ((size_t)256 << 10)

static struct gp_kthread *spare_take(void)
{
	struct gp_kthread *m = spare_pop();
	if (m)
		return m;
	/* The first kernel thread counts among the bound. */
	if (__atomic_load_n(&nmade, __ATOMIC_RELAXED) + 1 >= gp_config.max_threads ||
	    !gp__create_kernel_thread)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (gp__create_kernel_thread(spare_main, m, SPARE_STACK) != 0) {
		free(m);
		return NULL;
	}
	while (!__atomic_load_n(&m->started, __ATOMIC_ACQUIRE))
		gp_futex_wait(&m->started, 0, -1);
	/* Running now: it is never freed, so a failed remember only hides it from reports. */
	remember(m);
	gp_tls_guard_setxid();
	return m;
}

struct gp_kthread *gp_kthread_spare(void)
{
	take_lock();
	struct gp_kthread *m = spare_take();
	take_unlock();
	return m;
}

void gp_kthread_unused(struct gp_kthread *m)
{
	spare_push(m);
}

void gp_kthread_assign(struct gp_kthread *m)
{
	__atomic_store_n(&m->assigned, 1, __ATOMIC_RELEASE);
	gp_futex_wake(&m->assigned, 1);
}

struct gp_kthread *gp_kthread_of_tid(int tid)
{
	unsigned n = __atomic_load_n(&nmade, __ATOMIC_ACQUIRE);
	struct gp_kthread **list = __atomic_load_n(&made, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		if (list[i]->tid == tid)
			return list[i];
	return NULL;
}

unsigned gp_kthread_count(void)
{
	return 1 + __atomic_load_n(&nmade, __ATOMIC_ACQUIRE);
}

void gp_kthread_each(void (*fn)(struct gp_kthread *m, void *arg), void *arg)
{
	struct gp_kthread *m = __atomic_load_n(&first, __ATOMIC_ACQUIRE);
	if (m)
		fn(m, arg);
	unsigned n = __atomic_load_n(&nmade, __ATOMIC_ACQUIRE);
	struct gp_kthread **list = __atomic_load_n(&made, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		fn(list[i], arg);
}

void gp_kthread_after_fork(void)
{
	/* Their kernel threads did not come along; the objects are left, unreachable. */
	__atomic_store_n(&spares, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&taking_lock, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&nmade, 0, __ATOMIC_RELAXED);
	made_cap = 0;
	made = NULL;
}

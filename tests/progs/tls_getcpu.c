/*
 * tls_getcpu [--list | CASE...]
 *
 * sched_getcpu() tells the CPU the calling thread runs on. glibc 2.35+ reads it from the
 * thread's rseq area, which lives in its thread descriptor and which the kernel updates
 * only for the area registered by that kernel thread; a thread descriptor made in user
 * space must not answer from a copy of another's (stale, or another CPU's).
 *
 * The process is pinned to one CPU first, so that every answer is known: pinned checks
 * that sched_getcpu() in every thread, after blocking, is the getcpu system call's answer
 * and that CPU. migrated starts threads on that CPU; then main, and each thread after it,
 * moves to another CPU with the raw system call, which no library sees (under the library
 * main's move takes the carrier, and so every green thread, along); then every thread's
 * answer must be the new CPU: an rseq area copied before the move would still say the
 * first. With one CPU allowed, migrated stays on it and prints the same. handed_off
 * checks that main's move holds for the threads after it while one of them waits in a
 * call the library does not see (their carrier is handed to another kernel thread).
 * main_handed_off checks main's own answer after it waited in such a call; main_by_pid
 * the same when main moves itself by the process id, which names the first thread.
 *
 * Each case prints one line of counts; no CPU number is printed.
 */
#define PROG "tls_getcpu"
#include "progs.h"
#include "tls.h"

#include <sched.h>
#include <sys/syscall.h>

#define THREADS 200
#define ROUNDS 10

static int first_cpu, second_cpu; /* second_cpu == first_cpu when only one is allowed */

static int kernel_cpu(void)
{
	unsigned cpu;

	if (syscall(SYS_getcpu, &cpu, NULL, NULL) != 0)
		die("getcpu");
	return (int)cpu;
}

/* Pins the calling kernel thread to cpu, with the raw system call. */
static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (syscall(SYS_sched_setaffinity, 0, sizeof(set), &set) != 0)
		die("sched_setaffinity");
}

/* sched_getcpu() agrees with the kernel and is cpu. */
static bool answers(int cpu)
{
	int glibc = sched_getcpu();

	return glibc >= 0 && glibc == kernel_cpu() && glibc == cpu;
}

/* ---- pinned ----------------------------------------------------------------------- */

static void *pinned_main(void *arg)
{
	bool ok = answers(first_cpu);

	(void)arg;
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		park(r);
		ok = ok && answers(first_cpu);
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_pinned(void)
{
	pin(first_cpu);
	printf("%s: threads=%d wrong=%d main_right=%s\n", current, THREADS,
	       run_threads(THREADS, pinned_main), yes(answers(first_cpu)));
}

/* ---- migrated ----------------------------------------------------------------------- */

static int moved[2]; /* a pipe: one byte per thread once main has moved */

static void *migrating_main(void *arg)
{
	bool ok = answers(first_cpu);
	char b;

	(void)arg;
	if (read(moved[0], &b, 1) != 1) /* blocked here while main moves */
		die("read");
	pin(second_cpu); /* natively this thread moves; green, its carrier already has */
	sched_yield();
	for (int r = 0; r < ROUNDS; r++) {
		ok = ok && answers(second_cpu);
		park(r);
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_migrated(void)
{
	pthread_t t[THREADS];
	int bad = 0;
	bool main_ok;

	pin(first_cpu);
	make_pipe(moved, 0);
	for (int i = 0; i < THREADS; i++)
		t[i] = start(migrating_main, NULL);
	msleep(50); /* they have all asked once and blocked in read */
	pin(second_cpu);
	main_ok = answers(second_cpu);
	for (int i = 0; i < THREADS; i++)
		if (write(moved[1], "x", 1) != 1)
			die("write");
	for (int i = 0; i < THREADS; i++)
		bad += join(t[i]) != THREAD_OK;
	printf("%s: threads=%d wrong=%d main_right=%s\n", current, THREADS, bad, yes(main_ok));
	close2(moved);
}

/* ---- handed_off ---------------------------------------------------------------------- */

/*
 * main moves to second_cpu with the raw system call; threads started after it are
 * there too (natively they inherit its set; green, they run on its carrier). One of
 * them then waits in a raw read, which no library sees: under the library its carrier
 * is handed to another kernel thread, which must have moved to second_cpu first, since
 * the others, sleeping and asking meanwhile, must still run there and may run nowhere
 * else (sched_getaffinity answers a green thread's carrier's CPUs). With one CPU
 * allowed it stays on it and prints the same.
 */
#define ASKERS 20
#define ASKS 50

static int held[2]; /* a pipe: the raw read waits on it until main writes */

static void *holder_main(void *arg)
{
	char b;

	(void)arg;
	if (syscall(SYS_read, held[0], &b, 1) != 1)
		die("read");
	return THREAD_OK;
}

/* The CPUs the calling thread may run on are cpu alone. */
static bool allowed_only(int cpu)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1 &&
	       CPU_ISSET(cpu, &set);
}

static void *asker_main(void *arg)
{
	bool ok = true;

	(void)arg;
	for (int i = 0; i < ASKS; i++) {
		usleep(1000);
		ok = ok && answers(second_cpu) && allowed_only(second_cpu);
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

/* A thread waits in the raw read for 20 ms: under the library, kernel threads other than
 * main's exist from then on, made before main moves. */
static void hold_once(void)
{
	pthread_t holder = start(holder_main, NULL);

	msleep(20);
	if (write(held[1], "x", 1) != 1)
		die("write");
	join(holder);
}

static void case_handed_off(void)
{
	pthread_t holder, t[ASKERS];
	int bad = 0;

	make_pipe(held, 0);
	hold_once();
	pin(second_cpu);
	holder = start(holder_main, NULL);
	msleep(20); /* it waits in the read */
	for (int i = 0; i < ASKERS; i++)
		t[i] = start(asker_main, NULL);
	for (int i = 0; i < ASKERS; i++)
		bad += join(t[i]) != THREAD_OK;
	if (write(held[1], "x", 1) != 1)
		die("write");
	join(holder);
	printf("%s: threads=%d wrong=%d main_right=%s\n", current, ASKERS, bad,
	       yes(answers(second_cpu)));
	close2(held);
}

/* ---- main_handed_off --------------------------------------------------------------- */

/*
 * main, on first_cpu, waits in a raw read until another thread writes: under the library
 * its carrier goes to another kernel thread meanwhile, and main comes back to it at its
 * next call. It then moves to second_cpu and asks: its descriptor's rseq area must not
 * answer for the kernel thread main began on, which stayed on first_cpu.
 */
static void *writer_main(void *arg)
{
	(void)arg;
	msleep(20);
	if (write(held[1], "x", 1) != 1)
		die("write");
	return THREAD_OK;
}

/* main, on first_cpu, waits in the raw read: under the library it comes back handed off. */
static void wait_unseen_on_first_cpu(void)
{
	pthread_t writer;
	char b;

	pin(first_cpu);
	make_pipe(held, 0);
	writer = start(writer_main, NULL);
	if (syscall(SYS_read, held[0], &b, 1) != 1)
		die("read");
	join(writer);
}

static void case_main_handed_off(void)
{
	wait_unseen_on_first_cpu();
	pin(second_cpu);
	printf("%s: main_right=%s\n", current, yes(answers(second_cpu)));
	close2(held);
}

/* ---- main_by_pid -------------------------------------------------------------------- */

/* Only cpu, as sched_getaffinity answers for who. */
static bool allowed_just(pid_t who, int cpu)
{
	cpu_set_t set;

	return sched_getaffinity(who, sizeof(set), &set) == 0 && CPU_COUNT(&set) == 1 &&
	       CPU_ISSET(cpu, &set);
}

/*
 * As main_handed_off, but main moves with sched_setaffinity(getpid(), ...): the process
 * id is the first thread's id, so this moves main wherever it runs, as 0 does, and
 * sched_getaffinity(getpid(), ...) answers for it.
 */
static void case_main_by_pid(void)
{
	cpu_set_t set;

	wait_unseen_on_first_cpu();
	CPU_ZERO(&set);
	CPU_SET(second_cpu, &set);
	if (sched_setaffinity(getpid(), sizeof(set), &set) != 0)
		die("sched_setaffinity");
	printf("%s: main_right=%s allowed_right=%s\n", current, yes(answers(second_cpu)),
	       yes(allowed_just(getpid(), second_cpu)));
	close2(held);
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(pinned),
	CASE(migrated),
	CASE(handed_off),
	CASE(main_handed_off),
	CASE(main_by_pid),
};

int main(int argc, char **argv)
{
	cpu_set_t allowed;
	int n = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		die("sched_getaffinity");
	for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		if (n++ == 0)
			first_cpu = second_cpu = cpu;
		else
			second_cpu = cpu;
	}
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

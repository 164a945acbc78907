/*
 * What POSIX and Linux say a thread is, checked where it is easy to get wrong: its
 * scheduling attributes and the order in which waiters of different real-time
 * priorities get a lock; asynchronous cancellation of a thread that waits for a mutex; a
 * signal that reaches a thread in a wait which does not end with EINTR; what is pending
 * for a thread; its own CPU-time clock; a handle used after its thread was joined; its
 * kernel thread id; which thread runs the handler of a signal sent to the process,
 * and of SIGPROF from a CPU-time timer; pause() after a handler already ran; fork from
 * a thread other than the first; the mask while a handler runs, at its return, and after
 * a longjmp out of it.
 *
 * Each case prints only what is the same on every run natively: results and errno
 * names, and yes/no for facts such as "this thread's id differs from that one's".
 */
#define PROG "posix_cases"
#include "progs.h"

#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

/* ---- helpers ---- */

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		die("sigaction");
}

/* Waits until *flag is set, for at most 5 s: whether it was. */
static bool await_flag(volatile int *flag)
{
	for (int i = 0; i < 5000 && !__atomic_load_n(flag, __ATOMIC_SEQ_CST); i++)
		msleep(1);
	return __atomic_load_n(flag, __ATOMIC_SEQ_CST);
}

static const char *policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER: return "SCHED_OTHER";
	case SCHED_FIFO: return "SCHED_FIFO";
	case SCHED_RR: return "SCHED_RR";
	case SCHED_BATCH: return "SCHED_BATCH";
	case SCHED_IDLE: return "SCHED_IDLE";
	default: return "?";
	}
}

/* ---- scheduling attributes ---- */

/* What a thread says of its scheduling, returned (malloc'd) to be printed by its joiner:
 * a real-time thread may run before its creator returns from pthread_create. */
static char *sched_report(const char *name)
{
	int policy = -1;
	struct sched_param sp = { .sched_priority = -1 };
	int rc = pthread_getschedparam(pthread_self(), &policy, &sp);
	char *line;
	if (asprintf(&line, "%s: getschedparam=%s policy=%s priority=%d\n", name, errname(rc),
		     policy_name(policy), sp.sched_priority) < 0)
		die("asprintf");
	return line;
}

static void *report_sched(void *arg)
{
	return sched_report(arg);
}

static void print_report(char *line)
{
	fputs(line, stdout);
	free(line);
}

/* Creates a thread with attr (NULL: the defaults) that reports its scheduling. */
static void create_reporting(const char *name, const pthread_attr_t *attr)
{
	pthread_t t;
	int rc = pthread_create(&t, attr, report_sched, (void *)name);
	printf("%s: create=%s\n", name, errname(rc));
	if (rc == 0)
		print_report(join(t));
}

static void explicit_attr(pthread_attr_t *attr, int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };
	pthread_attr_init(attr);
	pthread_attr_setinheritsched(attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(attr, policy);
	pthread_attr_setschedparam(attr, &sp);
}

static void *inheriting_creator(void *arg)
{
	(void)arg;
	print_report(sched_report("creator"));
	create_reporting("inherits_from_creator", NULL);
	pthread_attr_t attr;
	explicit_attr(&attr, SCHED_OTHER, 0);
	create_reporting("explicit_other_from_creator", &attr);
	pthread_attr_destroy(&attr);
	return NULL;
}

/*
 * The calls of sched(7), which name a thread by id: 0 for the caller, or gettid()'s.
 * (glibc's pthread_getschedparam answers what pthread calls set, not these.)
 */
static void *sched_by_id(void *arg)
{
	(void)arg;
	struct sched_param sp = { .sched_priority = 4 };
	printf("sched_setscheduler_rr_4=%s\n",
	       errname(sched_setscheduler(0, SCHED_RR, &sp) == 0 ? 0 : errno));
	sp.sched_priority = 9;
	printf("sched_setparam_9=%s\n", errname(sched_setparam(gettid(), &sp) == 0 ? 0 : errno));
	printf("sched_getscheduler=%s\n", policy_name(sched_getscheduler(0)));
	sp.sched_priority = -1;
	int rc = sched_getparam(0, &sp) == 0 ? 0 : errno;
	printf("sched_getparam=%s priority=%d\n", errname(rc), sp.sched_priority);
	sp.sched_priority = 500;
	printf("sched_setscheduler_bad=%s\n",
	       errname(sched_setscheduler(0, SCHED_FIFO, &sp) == 0 ? 0 : errno));
	return NULL;
}

static void sched_attributes(void)
{
	pthread_attr_t attr;

	create_reporting("defaults", NULL);
	explicit_attr(&attr, SCHED_FIFO, 10);
	create_reporting("explicit_fifo_10", &attr);
	pthread_attr_destroy(&attr);
	explicit_attr(&attr, SCHED_RR, 3);
	create_reporting("explicit_rr_3", &attr);
	pthread_attr_destroy(&attr);
	explicit_attr(&attr, SCHED_BATCH, 0);
	create_reporting("explicit_batch", &attr);
	pthread_attr_destroy(&attr);

	/* The inherited policy is the creator's, whatever the attributes say. */
	pthread_attr_init(&attr);
	struct sched_param sp = { .sched_priority = 20 };
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	create_reporting("inherit_ignores_attr", &attr);
	pthread_attr_destroy(&attr);

	explicit_attr(&attr, SCHED_FIFO, 7);
	pthread_t t;
	int rc = pthread_create(&t, &attr, inheriting_creator, NULL);
	if (rc == 0)
		join(t);
	printf("fifo_7_creator: create=%s\n", errname(rc));
	pthread_attr_destroy(&attr);

	/* Changed on a running thread, then read back; bad values refused. */
	rc = pthread_create(&t, NULL, report_sched, "before_change");
	if (rc != 0)
		fail("pthread_create: %s", errname(rc));
	print_report(join(t));
	sp.sched_priority = 5;
	printf("setschedparam_fifo_5=%s\n", errname(pthread_setschedparam(pthread_self(),
									  SCHED_FIFO, &sp)));
	print_report(sched_report("main_after_fifo_5"));
	printf("setschedprio_6=%s\n", errname(pthread_setschedprio(pthread_self(), 6)));
	print_report(sched_report("main_after_prio_6"));
	sp.sched_priority = 0;
	printf("setschedparam_other=%s\n", errname(pthread_setschedparam(pthread_self(),
									  SCHED_OTHER, &sp)));
	sp.sched_priority = 1000;
	printf("setschedparam_fifo_1000=%s\n", errname(pthread_setschedparam(pthread_self(),
									      SCHED_FIFO, &sp)));
	sp.sched_priority = 0;
	printf("setschedparam_policy_99=%s\n", errname(pthread_setschedparam(pthread_self(),
									      99, &sp)));
	print_report(sched_report("main_at_end"));
	join(start(sched_by_id, NULL));
}

/*
 * Threads of three real-time priorities wait for one mutex, which the kernel (and glibc's
 * futex) hands to the highest priority first, and in arrival order among equals.
 */
static pthread_mutex_t prio_lock = PTHREAD_MUTEX_INITIALIZER;
static int prio_arrived;
static char prio_order[64];

static void *take_prio_lock(void *arg)
{
	const char *name = arg;
	__atomic_add_fetch(&prio_arrived, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&prio_lock);
	strcat(prio_order, name);
	pthread_mutex_unlock(&prio_lock);
	return NULL;
}

static void rt_priority_lock_order(void)
{
	static const struct { const char *name; int prio; } waiters[] = {
		{ "a10 ", 10 }, { "b20 ", 20 }, { "c5 ", 5 }, { "d20 ", 20 }, { "e1 ", 1 },
	};
	enum { N = sizeof(waiters) / sizeof(waiters[0]) };
	pthread_t t[N];
	pthread_mutex_lock(&prio_lock);
	for (int i = 0; i < N; i++) {
		pthread_attr_t attr;
		explicit_attr(&attr, SCHED_FIFO, waiters[i].prio);
		int rc = pthread_create(&t[i], &attr, take_prio_lock, (void *)waiters[i].name);
		pthread_attr_destroy(&attr);
		if (rc == EPERM) {
			/* Not allowed real-time threads: the same natively and under the library. */
			printf("create=EPERM\n");
			pthread_mutex_unlock(&prio_lock);
			for (int j = 0; j < i; j++)
				join(t[j]);
			return;
		}
		if (rc != 0)
			fail("pthread_create: %s", errname(rc));
		/* Each waits before the next comes: the arrival order is fixed. */
		while (__atomic_load_n(&prio_arrived, __ATOMIC_SEQ_CST) < i + 1)
			msleep(1);
		msleep(20);
	}
	pthread_mutex_unlock(&prio_lock);
	for (int i = 0; i < N; i++)
		join(t[i]);
	printf("order=%s\n", prio_order);
}

/* ---- cancellation ---- */

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int async_ready;

static void *lock_async(void *arg)
{
	(void)arg;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
	__atomic_store_n(&async_ready, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
	return "locked";
}

static void async_cancel_in_mutex_lock(void)
{
	pthread_mutex_lock(&held);
	pthread_t t = start(lock_async, NULL);
	await_flag(&async_ready);
	msleep(50);
	printf("cancel=%s\n", errname(pthread_cancel(t)));
	void *ret = join(t);
	printf("canceled=%s\n", yes(ret == PTHREAD_CANCELED));
	pthread_mutex_unlock(&held);
}

/* ---- signals ---- */

static pthread_barrier_t barrier;
static pthread_t handler_thread;
static volatile int handler_ran, barrier_passed;

static void note_handler(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	handler_thread = pthread_self();
	handler_ran++;
}

static void *wait_at_barrier(void *arg)
{
	(void)arg;
	int rc = pthread_barrier_wait(&barrier);
	barrier_passed = 1;
	return (void *)(long)rc;
}

static void signal_in_barrier_wait(void)
{
	set_handler(SIGUSR1, note_handler);
	handler_ran = barrier_passed = 0;
	pthread_barrier_init(&barrier, NULL, 2);
	pthread_t t = start(wait_at_barrier, NULL);
	msleep(50);
	printf("kill=%s\n", errname(pthread_kill(t, SIGUSR1)));
	/* Natively the handler runs at once, and the wait goes on. */
	printf("handler_ran_while_waiting=%s\n", yes(await_flag(&handler_ran)));
	printf("handler_as_waiter=%s\n", yes(pthread_equal(handler_thread, t)));
	msleep(20);
	printf("passed_before_release=%s\n", yes(barrier_passed));
	int rc = pthread_barrier_wait(&barrier);
	long other = (long)join(t);
	printf("one_serial=%s\n", yes((rc == PTHREAD_BARRIER_SERIAL_THREAD) +
				      (other == PTHREAD_BARRIER_SERIAL_THREAD) == 1));
	pthread_barrier_destroy(&barrier);
	signal(SIGUSR1, SIG_DFL);
}

static void describe_pending(const char *who)
{
	sigset_t set;
	sigpending(&set);
	printf("%s: pending USR1=%s USR2=%s\n", who, yes(sigismember(&set, SIGUSR1)),
	       yes(sigismember(&set, SIGUSR2)));
}

static void *look_at_pending(void *arg)
{
	(void)arg;
	describe_pending("new_thread");
	return NULL;
}

/* A signal sent to one thread is pending for it alone; one sent to the process, for all. */
static void pending_per_thread(void)
{
	set_handler(SIGUSR1, note_handler);
	set_handler(SIGUSR2, note_handler);
	block_signal(SIGUSR1, SIG_BLOCK);
	block_signal(SIGUSR2, SIG_BLOCK);
	pthread_kill(pthread_self(), SIGUSR1);
	kill(getpid(), SIGUSR2);
	describe_pending("first_thread");
	join(start(look_at_pending, NULL));
	handler_ran = 0;
	block_signal(SIGUSR1, SIG_UNBLOCK);
	block_signal(SIGUSR2, SIG_UNBLOCK);
	printf("handlers_ran=%d\n", handler_ran);
	describe_pending("first_thread_after");
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

/*
 * A signal sent to a thread that runs runs its handler there once, before the thread's
 * next step, whichever carrier sends it. Each round, a new thread (SIGUSR1 blocked from
 * its creator) unblocks it and waits for a step; another thread sends it SIGUSR1, then
 * the new thread is given a step and says how often its handler ran. Under the library
 * at 2 carriers, 3 to 24 rounds of 2,000 lost the signal: the thread took it from its
 * pending set while the other carrier's notice ("look") was on its way, and the kernel
 * dropped the thread's own instance beside the notice it already held.
 */
#define KILL_ROUNDS 2000

static __thread int ran_here;
static pthread_t kill_target;

struct stepper {
	sem_t go, done;
	int op;   /* 0: say ran_here, 1: kill kill_target, 2: end */
	int said;
};

static void count_here(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	ran_here++;
}

static void *stepper_main(void *arg)
{
	struct stepper *st = arg;

	block_signal(SIGUSR1, SIG_UNBLOCK);
	for (;;) {
		while (sem_wait(&st->go) != 0)
			if (errno != EINTR)
				die("sem_wait");
		int op = st->op;
		if (op == 0)
			st->said = ran_here;
		else if (op == 1)
			pthread_kill(kill_target, SIGUSR1);
		sem_post(&st->done);
		if (op == 2)
			return NULL;
	}
}

static void step(struct stepper *st, int op)
{
	st->op = op;
	sem_post(&st->go);
	while (sem_wait(&st->done) != 0)
		if (errno != EINTR)
			die("sem_wait");
}

static pthread_t stepper_start(struct stepper *st)
{
	if (sem_init(&st->go, 0, 0) != 0 || sem_init(&st->done, 0, 0) != 0)
		die("sem_init");
	return start(stepper_main, st);
}

static void kill_new_thread_once(void)
{
	struct stepper killer, target;
	int not_once = 0;

	set_handler(SIGUSR1, count_here);
	block_signal(SIGUSR1, SIG_BLOCK);
	pthread_t k = stepper_start(&killer);
	for (int i = 0; i < KILL_ROUNDS; i++) {
		kill_target = stepper_start(&target);
		step(&killer, 1);
		step(&target, 0);
		not_once += target.said != 1;
		step(&target, 2);
		join(kill_target);
	}
	step(&killer, 2);
	join(k);
	printf("rounds=%d not_once=%d\n", KILL_ROUNDS, not_once);
	block_signal(SIGUSR1, SIG_UNBLOCK);
	signal(SIGUSR1, SIG_DFL);
}

/* Setting SIG_IGN discards a pending signal, for the process and for each thread. */
static void *wait_then_unblock(void *arg)
{
	(void)arg;
	msleep(30);
	block_signal(SIGUSR1, SIG_UNBLOCK);
	return NULL;
}

static void ignore_discards_pending(void)
{
	set_handler(SIGUSR1, note_handler);
	block_signal(SIGUSR1, SIG_BLOCK);
	pthread_t t = start(wait_then_unblock, NULL);   /* blocks it too, from its creator */
	handler_ran = 0;
	kill(getpid(), SIGUSR1);
	pthread_kill(t, SIGUSR1);
	pthread_kill(pthread_self(), SIGUSR1);
	signal(SIGUSR1, SIG_IGN);
	set_handler(SIGUSR1, note_handler);
	join(t);
	block_signal(SIGUSR1, SIG_UNBLOCK);
	msleep(20);
	printf("handlers_ran_after_ignore=%d\n", handler_ran);
	describe_pending("after");
	signal(SIGUSR1, SIG_DFL);
}

/* ---- CPU-time clocks ---- */

static long cpu_ms(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0)
		die("clock_gettime");
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_barrier_t cpu_done;
static bool spinner_reached, sleeper_small;   /* printed by main: in a fixed order */

static void *spin_100ms(void *arg)
{
	(void)arg;
	struct timespec t0 = mono();
	while (cpu_ms(CLOCK_THREAD_CPUTIME_ID) < 100 && elapsed_ms(t0) < 10000)
		;
	spinner_reached = cpu_ms(CLOCK_THREAD_CPUTIME_ID) >= 100;
	pthread_barrier_wait(&cpu_done);
	pthread_barrier_wait(&cpu_done);   /* alive while main reads its clock */
	return NULL;
}

static void *sleep_200ms(void *arg)
{
	(void)arg;
	msleep(200);
	sleeper_small = cpu_ms(CLOCK_THREAD_CPUTIME_ID) < 50;
	pthread_barrier_wait(&cpu_done);
	pthread_barrier_wait(&cpu_done);
	return NULL;
}

static void thread_cpu_clocks(void)
{
	pthread_barrier_init(&cpu_done, NULL, 3);
	pthread_t spinner = start(spin_100ms, NULL), sleeper = start(sleep_200ms, NULL);
	clockid_t spin_clock, sleep_clock;
	printf("getcpuclockid=%s\n", errname(pthread_getcpuclockid(spinner, &spin_clock)));
	pthread_getcpuclockid(sleeper, &sleep_clock);
	printf("clocks_differ=%s\n", yes(spin_clock != sleep_clock));
	pthread_barrier_wait(&cpu_done);
	printf("spinner_own_clock_reached=%s\n", yes(spinner_reached));
	printf("sleeper_own_clock_small=%s\n", yes(sleeper_small));
	printf("spinner_clock_from_main=%s\n", yes(cpu_ms(spin_clock) >= 100));
	printf("sleeper_clock_from_main=%s\n", yes(cpu_ms(sleep_clock) < 50));
	pthread_barrier_wait(&cpu_done);
	join(spinner);
	join(sleeper);
	pthread_barrier_destroy(&cpu_done);
}

/* ---- handles of joined threads ---- */

static void *nothing(void *arg)
{
	return arg;
}

static void join_after_join(void)
{
	pthread_t t = start(nothing, NULL);
	printf("join=%s\n", errname(pthread_join(t, NULL)));
	printf("join_again=%s\n", errname(pthread_join(t, NULL)));
	printf("detach_joined=%s\n", errname(pthread_detach(t)));
	printf("tryjoin_joined=%s\n", errname(pthread_tryjoin_np(t, NULL)));
}

/* ---- thread ids ---- */

static pid_t ids[3];
static pthread_t id_threads[3];
static int id_ready[3];
static pthread_t tgkill_handler_thread;

static void note_tgkill(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	tgkill_handler_thread = pthread_self();
	__atomic_store_n(&handler_ran, 1, __ATOMIC_SEQ_CST);
}

static pthread_barrier_t ids_done;

static void *learn_id(void *arg)
{
	long i = (long)arg;
	ids[i] = gettid();
	if (syscall(SYS_gettid) != ids[i])
		printf("thread %ld: syscall(SYS_gettid) differs from gettid()\n", i);
	/* Its own entry in /proc, as a program that reads its thread's state finds it. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", ids[i]);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		printf("thread %ld: open of its /proc/self/task entry: %s\n", i, errname(errno));
	else
		close(fd);
	__atomic_store_n(&id_ready[i], 1, __ATOMIC_SEQ_CST);
	pthread_barrier_wait(&ids_done);   /* the others learn theirs meanwhile */
	pthread_barrier_wait(&ids_done);   /* main has sent its signals */
	return NULL;
}

static void thread_ids(void)
{
	printf("first_thread_is_pid=%s\n", yes(gettid() == getpid()));
	pthread_barrier_init(&ids_done, NULL, 4);
	for (long i = 0; i < 3; i++)
		id_threads[i] = start(learn_id, (void *)i);
	pthread_barrier_wait(&ids_done);
	bool distinct = ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2];
	bool not_first = ids[0] != getpid() && ids[1] != getpid() && ids[2] != getpid();
	printf("distinct=%s not_the_first=%s\n", yes(distinct), yes(not_first));
	set_handler(SIGUSR1, note_tgkill);
	handler_ran = 0;
	printf("tgkill=%s\n", errname(syscall(SYS_tgkill, getpid(), ids[1], SIGUSR1) == 0 ? 0
											  : errno));
	printf("tgkill_reached_it=%s\n", yes(await_flag(&handler_ran) &&
					     pthread_equal(tgkill_handler_thread, id_threads[1])));
	cpu_set_t set;
	CPU_ZERO(&set);
	printf("getaffinity=%s\n", errname(sched_getaffinity(ids[2], sizeof(set), &set) == 0
					   ? 0 : errno));
	printf("affinity_has_cpus=%s\n", yes(CPU_COUNT(&set) > 0));
	printf("setaffinity=%s\n", errname(sched_setaffinity(ids[2], sizeof(set), &set) == 0
					   ? 0 : errno));
	pthread_barrier_wait(&ids_done);
	for (int i = 0; i < 3; i++)
		join(id_threads[i]);
	pthread_barrier_destroy(&ids_done);
	signal(SIGUSR1, SIG_DFL);
	/*
	 * A thread that has ended has no id any more. Natively not quite at once:
	 * pthread_join returns when the kernel clears the thread's id word, which it does
	 * before it reaps the thread, and tgkill finds the thread until then. A second at
	 * most, 1 ms at a time.
	 */
	long rc;
	for (int tries = 0; (rc = syscall(SYS_tgkill, getpid(), ids[0], 0)) == 0 && tries < 1000;
	     tries++)
		msleep(1);
	printf("tgkill_ended=%s\n", errname(rc == 0 ? 0 : errno));
}

/* ---- a signal sent to the process ---- */

static char *handler_stack;
static int reader_ready;

static void note_stack(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)uctx;
	char here;
	handler_stack = &here;
	handler_thread = pthread_self();
	if (info->si_code != SI_USER || info->si_pid != getpid())
		printf("handler: si_code=%d si_pid is ours=%s\n", info->si_code,
		       yes(info->si_pid == getpid()));
	__atomic_store_n(&handler_ran, 1, __ATOMIC_SEQ_CST);
}

/* What the reader saw, printed by main after the join: in one order on every run. */
static ssize_t reader_got;
static int reader_err;
static bool handler_on_reader_stack;

static void *read_with_signal_open(void *arg)
{
	int fd = *(int *)arg;
	char c, local;
	block_signal(SIGUSR1, SIG_UNBLOCK);
	__atomic_store_n(&reader_ready, 1, __ATOMIC_SEQ_CST);
	reader_got = read(fd, &c, 1);
	reader_err = reader_got < 0 ? errno : 0;
	long distance = handler_stack - &local;
	handler_on_reader_stack = distance > -65536 && distance < 65536;
	return NULL;
}

static void process_signal_handler_thread(void)
{
	int p[2];
	make_pipe(p, 0);
	set_handler(SIGUSR1, note_stack);   /* without SA_RESTART: the read ends */
	handler_ran = reader_ready = 0;
	block_signal(SIGUSR1, SIG_BLOCK);          /* every thread but the reader */
	pthread_t t = start(read_with_signal_open, &p[0]);
	await_flag(&reader_ready);
	msleep(50);
	kill(getpid(), SIGUSR1);
	bool ran = await_flag(&handler_ran);
	/* A reader the machine stopped between its flag and its read would read for ever:
	 * after 2 s it is given a byte, and prints read=1. */
	struct timespec deadline = clock_after(CLOCK_REALTIME, 2000);
	if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
		if (write(p[1], "x", 1) != 1)
			die("write");
		join(t);
	}
	printf("read=%zd %s\n", reader_got, errname(reader_err));
	printf("handler_on_this_stack=%s\n", yes(handler_on_reader_stack));
	printf("handler_ran=%s\n", yes(ran));
	printf("handler_as_reader=%s\n", yes(pthread_equal(handler_thread, t)));
	close2(p);
	signal(SIGUSR1, SIG_DFL);
	block_signal(SIGUSR1, SIG_UNBLOCK);
}

/* ---- pause ---- */

static volatile int alarms;

static void count_alarm(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	alarms++;
}

static void *park_on_pipe(void *arg)
{
	char c;
	return (void *)read(*(int *)arg, &c, 1);
}

static void pause_after_earlier_handler(void)
{
	int p[2];
	make_pipe(p, 0);
	pthread_t t = start(park_on_pipe, &p[0]);   /* another thread, parked meanwhile */
	set_handler(SIGALRM, count_alarm);
	msleep(20);
	alarms = 0;
	kill(getpid(), SIGALRM);
	/* The handler has run: natively a process signal is delivered at once to us. */
	struct timespec t0 = mono();
	while (alarms == 0 && elapsed_ms(t0) < 5000)
		;
	/*
	 * Again every second: a pause the machine was slower than 50 ms to reach would
	 * otherwise wait for ever. It then ends a second later, and prints one more alarm.
	 */
	struct itimerval it = { .it_interval = { 1, 0 }, .it_value = { 0, 50000 } },
			 off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
	int rc = pause();
	int e = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	printf("pause=%d %s alarms=%d\n", rc, errname(e), alarms);
	if (write(p[1], "x", 1) != 1)
		die("write");
	join(t);
	close2(p);
	signal(SIGALRM, SIG_DFL);
}

/* ---- fork from a thread other than the first ---- */

static pthread_key_t fork_key;
static __thread int fork_tls;
static pthread_t forker;

static void *child_helper(void *arg)
{
	return (char *)arg + 1;
}

static void child_life(bool return_from_thread)
{
	printf("child: self_is_forker=%s\n", yes(pthread_equal(pthread_self(), forker)));
	printf("child: key=%s tls=%d\n", (char *)pthread_getspecific(fork_key), fork_tls);
	sigset_t mask;
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	printf("child: blocks USR2=%s\n", yes(sigismember(&mask, SIGUSR2)));
	printf("child: tid_is_pid=%s\n", yes(gettid() == getpid()));
	pthread_attr_t attr;
	void *lo = NULL;
	size_t size = 0;
	char here;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &lo, &size);
		pthread_attr_destroy(&attr);
	}
	printf("child: stack_holds_locals=%s\n", yes(&here >= (char *)lo && &here < (char *)lo + size));
	char x;
	printf("child: helper_joined=%s\n", yes(join(start(child_helper, &x)) == &x + 1));
	/* Its handle, the forker's, is still its own to name it by. */
	char name[16] = "";
	int set = pthread_setname_np(pthread_self(), "forked");
	int got = pthread_getname_np(pthread_self(), name, sizeof(name));
	printf("child: setname=%s getname=%s name=%s\n", errname(set), errname(got), name);
	fflush(stdout);
	if (!return_from_thread)
		exit(3);
}

static void *fork_here(void *arg)
{
	bool return_from_thread = arg != NULL;
	pthread_setspecific(fork_key, "forker's");
	fork_tls = 42;
	block_signal(SIGUSR2, SIG_BLOCK);
	forker = pthread_self();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		child_life(return_from_thread);
		return NULL;   /* the child's last thread ends: the child exits with 0 */
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	printf("child status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
	return NULL;
}

static void fork_from_other_thread(void)
{
	pthread_key_create(&fork_key, NULL);
	pthread_setspecific(fork_key, "first thread's");
	fork_tls = 1;
	join(start(fork_here, NULL));
	join(start(fork_here, "return"));
	pthread_key_delete(fork_key);
}

/* ---- a CPU-time interval timer's signal ---- */

/*
 * ITIMER_PROF expires as the process uses CPU time, and Linux sends SIGPROF to the
 * thread whose CPU time made it expire: a profiler's handler records the code of the
 * thread it runs on. Two threads compute, a third sleeps a millisecond at a time, and
 * the first thread waits in poll on an empty pipe, four times 100 ms, then in
 * pthread_join: the samples are the computing threads', and the first thread's polls,
 * which use no CPU time, all time out (a sample given to it would end one with EINTR).
 */
#define PROF_WORKERS 2
#define PROF_OTHERS PROF_WORKERS

static __thread int prof_who = PROF_OTHERS;
static _Atomic unsigned prof_samples[PROF_WORKERS + 1];
static atomic_int prof_done;

static void on_prof(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	atomic_fetch_add(&prof_samples[prof_who], 1);
}

/* A few hundred milliseconds of computation that never calls the library. */
static void *profiled_worker(void *arg)
{
	volatile unsigned long x = 1;
	prof_who = (int)(intptr_t)arg;
	for (long i = 0; i < 300000000L; i++)
		x = x * 6364136223846793005UL + 1442695040888963407UL;
	return NULL;
}

static void *profiled_sleeper(void *arg)
{
	(void)arg;
	while (!atomic_load(&prof_done))
		msleep(1);
	return NULL;
}

/* Polls of an empty pipe that timed out, of four. */
static int first_thread_polls(void)
{
	int p[2], timed_out = 0;
	if (pipe(p) != 0)
		die("pipe");
	for (int i = 0; i < 4; i++) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		timed_out += poll(&pfd, 1, 100) == 0;
	}
	close(p[0]);
	close(p[1]);
	return timed_out;
}

static void cpu_timer_signal_thread(void)
{
	struct itimerval every = { { 0, 2000 }, { 0, 2000 } }, off = { { 0, 0 }, { 0, 0 } };
	pthread_t t[PROF_WORKERS], sleeper;
	set_handler(SIGPROF, on_prof);
	if (setitimer(ITIMER_PROF, &every, NULL) != 0)
		die("setitimer");
	for (int i = 0; i < PROF_WORKERS; i++)
		t[i] = start(profiled_worker, (void *)(intptr_t)i);
	sleeper = start(profiled_sleeper, NULL);
	int timed_out = first_thread_polls();
	for (int i = 0; i < PROF_WORKERS; i++)
		join(t[i]);
	atomic_store(&prof_done, 1);
	join(sleeper);
	setitimer(ITIMER_PROF, &off, NULL);
	/* Ignored first: a signal still pending is discarded, not acted on by default. */
	signal(SIGPROF, SIG_IGN);
	signal(SIGPROF, SIG_DFL);
	unsigned on_workers = 0, each = UINT_MAX, others = atomic_load(&prof_samples[PROF_OTHERS]);
	for (int i = 0; i < PROF_WORKERS; i++) {
		unsigned n = atomic_load(&prof_samples[i]);
		on_workers += n;
		each = n < each ? n : each;
	}
	printf("SIGPROF: each computing thread sampled: %s; nine in ten on them: %s\n",
	       yes(each >= 10), yes(on_workers >= 9 * others && on_workers > 0));
	/*
	 * Natively the kernel gives the signal to the thread whose tick expired the timer,
	 * unless that one already has a signal pending: then to another thread, now and
	 * then the first, whose poll then ends early (seen once in about ten runs). A
	 * library that gave the first thread every sample it took for the process would
	 * interrupt all four.
	 */
	printf("SIGPROF: first thread's polls timed out, two of four at least: %s\n",
	       yes(timed_out >= 2));
}

/* ---- the mask in a handler ---- */

#define MASK_THREADS 20

static __thread int mask_runs;          /* handler runs on this thread */
static __thread bool mask_seen_inside;  /* the first run saw SIGUSR1 and its sa_mask blocked */

/*
 * Blocks SIGWINCH, which its return undoes; parks (and may come back on another
 * carrier); raises its own signal once more, which waits for its return.
 */
static void mask_handler(int sig, siginfo_t *info, void *uctx)
{
	(void)sig, (void)info, (void)uctx;
	if (mask_runs++ > 0)
		return;
	mask_seen_inside = signal_blocked(SIGUSR1) && signal_blocked(SIGUSR2) && !signal_blocked(SIGWINCH);
	block_signal(SIGWINCH, SIG_BLOCK);
	if (poll(NULL, 0, 2) != 0)
		die("poll");
	raise(SIGUSR1);
	if (mask_runs != 1)
		mask_seen_inside = false;   /* it did not wait */
}

static void *mask_in_handler_thread(void *arg)
{
	(void)arg;
	raise(SIGUSR1);
	bool restored = !signal_blocked(SIGUSR1) && !signal_blocked(SIGUSR2) && !signal_blocked(SIGWINCH);
	return (void *)(uintptr_t)(mask_seen_inside | restored << 1 | (mask_runs == 2) << 2);
}

/*
 * A handler runs with its signal and its sa_mask blocked, on top of the thread's mask,
 * and its return restores the thread's mask, whatever the handler set meanwhile; the
 * signal it raised on itself meanwhile arrives right after.
 */
static void mask_in_handler(void)
{
	struct sigaction sa = { .sa_sigaction = mask_handler, .sa_flags = SA_SIGINFO }, old;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	if (sigaction(SIGUSR1, &sa, &old) != 0)
		die("sigaction");
	pthread_t t[MASK_THREADS];
	int inside = 0, restored = 0, twice = 0;
	for (int i = 0; i < MASK_THREADS; i++)
		t[i] = start(mask_in_handler_thread, NULL);
	for (int i = 0; i < MASK_THREADS; i++) {
		uintptr_t r = (uintptr_t)join(t[i]);
		inside += r & 1;
		restored += (r >> 1) & 1;
		twice += (r >> 2) & 1;
	}
	sigaction(SIGUSR1, &old, NULL);
	printf("threads=%d usr1_and_sa_mask_blocked_inside=%d restored_at_return=%d "
	       "raised_inside_ran_after=%d\n", MASK_THREADS, inside, restored, twice);
}

static __thread jmp_buf *mask_jump_env;
static volatile int plain_runs;

/* Jumps out where the thread set a buffer; else counts. */
static void jump_out_or_count(int sig)
{
	(void)sig;
	if (mask_jump_env)
		longjmp(*mask_jump_env, 1);
	__atomic_fetch_add(&plain_runs, 1, __ATOMIC_RELAXED);
}

static void *jump_out_thread(void *arg)
{
	jmp_buf env;
	(void)arg;
	mask_jump_env = &env;
	if (setjmp(env) == 0) {
		raise(SIGUSR1);
		return NULL;   /* the handler did not jump */
	}
	mask_jump_env = NULL;
	bool blocked = signal_blocked(SIGUSR1);
	block_signal(SIGUSR1, SIG_UNBLOCK);
	raise(SIGUSR1);
	return (void *)(uintptr_t)(1 | blocked << 1);
}

/*
 * longjmp out of a handler, to a buffer that saved no mask, leaves the handler's signal
 * blocked in the thread that jumped, and only there. Once it unblocks it, a raise runs
 * the handler again.
 */
static void longjmp_keeps_handler_mask(void)
{
	struct sigaction sa = { .sa_handler = jump_out_or_count }, old;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old) != 0)
		die("sigaction");
	plain_runs = 0;
	pthread_t t[MASK_THREADS];
	int jumped = 0, still_blocked = 0;
	for (int i = 0; i < MASK_THREADS; i++)
		t[i] = start(jump_out_thread, NULL);
	for (int i = 0; i < MASK_THREADS; i++) {
		uintptr_t r = (uintptr_t)join(t[i]);
		jumped += r & 1;
		still_blocked += (r >> 1) & 1;
	}
	bool here_blocked = signal_blocked(SIGUSR1);
	raise(SIGUSR1);
	printf("threads=%d jumped=%d blocked_after_jump=%d blocked_in_others=%s "
	       "raises_after_unblock_ran=%d\n", MASK_THREADS, jumped, still_blocked,
	       yes(here_blocked), plain_runs);
	sigaction(SIGUSR1, &old, NULL);
}

/*
 * A handler's end while a CPU-time timer fires every 50 us: natively sigreturn restores
 * the thread's mask in one step. A signal handled between the end of a handler and its
 * sigreturn sees the handler's mask as the one to restore; a library that took that for
 * the thread's left the handled signal blocked for good in one to three of four threads.
 */
static void empty_handler(int sig)
{
	(void)sig;
}

static void *raise_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		raise(SIGUSR1);
		if (i % 500 == 0)
			sched_yield();
	}
	return (void *)(uintptr_t)signal_blocked(SIGUSR1);
}

static void handler_end_under_cpu_timer(void)
{
	struct sigaction sa = { .sa_handler = empty_handler }, old_usr1, old_prof;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, &old_usr1) != 0 || sigaction(SIGPROF, &sa, &old_prof) != 0)
		die("sigaction");
	struct itimerval every = { { 0, 50 }, { 0, 50 } }, off = { { 0, 0 }, { 0, 0 } };
	if (setitimer(ITIMER_PROF, &every, NULL) != 0)
		die("setitimer");
	pthread_t t[4];
	int blocked = 0;
	for (int i = 0; i < 4; i++)
		t[i] = start(raise_many, NULL);
	for (int i = 0; i < 4; i++)
		blocked += join(t[i]) != NULL;
	setitimer(ITIMER_PROF, &off, NULL);
	sigaction(SIGPROF, &old_prof, NULL);
	sigaction(SIGUSR1, &old_usr1, NULL);
	printf("threads left with the handled signal blocked: %d of 4\n", blocked);
}

/*
 * A program that stops its interval timer and resets SIGALRM to the default action,
 * through SIG_IGN so that a signal still pending is dropped, must not be killed by a
 * last one: natively the timer sends nothing after setitimer returns, and the kernel
 * drops what SIG_IGN finds. Two threads compute meanwhile, so that under the library
 * the kernel brings the signal to carriers that run them, where it is kept for the
 * first thread: a keep just before SIG_IGN, given just after SIG_DFL, once killed the
 * process in three runs of five at 2 carriers.
 */
#define RESET_ROUNDS 400

static atomic_int reset_alarms, reset_stop;

static void count_reset_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&reset_alarms, 1);
}

static void *compute_until_stopped(void *arg)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	volatile unsigned long x = 1;

	(void)arg;
	while (!atomic_load(&reset_stop)) {
		for (int i = 0; i < 20000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
		pthread_mutex_lock(&m);
		pthread_mutex_unlock(&m);
	}
	return NULL;
}

/* Sleeps of half a millisecond for ms milliseconds: a signal ends each early. */
static void sleep_through_signals(long ms)
{
	struct timespec from, now;
	clock_gettime(CLOCK_MONOTONIC, &from);
	do {
		struct timespec half = { 0, 500000 };
		nanosleep(&half, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - from.tv_sec) * 1000 + (now.tv_nsec - from.tv_nsec) / 1000000 < ms);
}

static void timer_reset_to_default(void)
{
	struct sigaction sa = { .sa_handler = count_reset_alarm }, ign = { .sa_handler = SIG_IGN },
			 dfl = { .sa_handler = SIG_DFL };
	struct itimerval every = { { 0, 100 }, { 0, 100 } }, off = { { 0, 0 }, { 0, 0 } };

	sigemptyset(&sa.sa_mask);
	atomic_store(&reset_stop, 0);
	pthread_t a = start(compute_until_stopped, NULL), b = start(compute_until_stopped, NULL);
	for (int i = 0; i < RESET_ROUNDS; i++) {
		if (sigaction(SIGALRM, &sa, NULL) != 0 || setitimer(ITIMER_REAL, &every, NULL) != 0)
			die("setitimer");
		sleep_through_signals(2);
		setitimer(ITIMER_REAL, &off, NULL);
		sigaction(SIGALRM, &ign, NULL);
		sigaction(SIGALRM, &dfl, NULL);
		/* Running, then parked: a signal given late would be raised or sent here. */
		for (volatile int spin = 0; spin < 100000; spin++)
			;
		msleep(1);
	}
	atomic_store(&reset_stop, 1);
	join(a);
	join(b);
	printf("timer stopped and SIGALRM reset %d times: alive, handlers ran: %s\n",
	       RESET_ROUNDS, atomic_load(&reset_alarms) > 0 ? "yes" : "no");
}

static const struct prog_case cases[] = {
	{ "sched_attributes", sched_attributes },
	{ "rt_priority_lock_order", rt_priority_lock_order },
	{ "async_cancel_in_mutex_lock", async_cancel_in_mutex_lock },
	{ "signal_in_barrier_wait", signal_in_barrier_wait },
	{ "pending_per_thread", pending_per_thread },
	{ "kill_new_thread_once", kill_new_thread_once },
	{ "ignore_discards_pending", ignore_discards_pending },
	{ "thread_cpu_clocks", thread_cpu_clocks },
	{ "join_after_join", join_after_join },
	{ "thread_ids", thread_ids },
	{ "process_signal_handler_thread", process_signal_handler_thread },
	{ "cpu_timer_signal_thread", cpu_timer_signal_thread },
	{ "pause_after_earlier_handler", pause_after_earlier_handler },
	{ "fork_from_other_thread", fork_from_other_thread },
	{ "mask_in_handler", mask_in_handler },
	{ "longjmp_keeps_handler_mask", longjmp_keeps_handler_mask },
	{ "handler_end_under_cpu_timer", handler_end_under_cpu_timer },
	{ "timer_reset_to_default", timer_reset_to_default },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

/*
 * Calls that wait for another process, each made by one thread while a ticker thread
 * counts: file locks (flock, fcntl F_SETLKW and F_OFD_SETLKW, lockf, a deadlock the kernel
 * reports), semaphores, mutexes (a robust one whose owner dies), condition variables,
 * read-write locks and barriers shared with the other process, a named semaphore, System V
 * semaphores and message queues, POSIX message queues, aio_suspend; and calls that may
 * take long without waiting for anyone in particular: user and group lookups, disk syncs,
 * tcdrain.
 *
 * The other process is forked while the program has a single thread and runs no other
 * (but in one case): under the library too it makes its calls as a plain process does,
 * so each case also shows that the object works between a process under the library and
 * one without it. It takes
 * the lock (or holds back the message, the post, the signal), says it is ready, and lets
 * go when told to. The one who tells it is a third thread of ours, the nudger, once it has
 * seen the waiting thread blocked in the call's system call (/proc/self/task/TID/syscall)
 * and HOLD_MS have passed. If the call held every thread, the nudger could not run: the
 * other process then lets go by itself after ON_ITS_OWN_MS, so that the case still ends,
 * with the ticker's "no". The same nudger sends the signals of the EINTR cases.
 *
 * Each case prints the call's result, errno by name, and the ticker's verdict: whether it
 * counted while the call waited. Natively it always does.
 *
 * shared_objects_between_threads makes the same waits with another thread of this
 * process at the other end, and cancel_waiting cancels a thread in such a wait. Two cases
 * turn things round: a robust mutex whose owner is a second thread of the other process,
 * and process-shared mutexes that check their owner, held by another thread of this one.
 */
#define PROG "apart_cases"
#include "progs.h"

#include <aio.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>

/* How long the waiting thread waits before the nudger lets the other process go. */
#define HOLD_MS 200
/* A deadline of a timed wait that nobody ends. */
#define TIMEOUT_MS 200
/* A short deadline, for a timed try before the wait that the other process ends. */
#define SHORT_TIMEOUT_MS 100
/* The other process lets go by itself after this long, if nobody told it to. */
#define ON_ITS_OWN_MS 3000
/* How long a robust mutex's waiter waits for its owner's death to be noticed. */
#define ROBUST_DEATH_MS 1000
/* How long the nudger looks for the waiting thread in its system call. */
#define SEEN_WAITING_MS 2000

/* ---- names and objects to remove at exit ----------------------------------------------- */

static struct {
	pid_t owner; /* the program, not the other process, which exits with _exit or fail */
	char sem_name[64];
	int semid, msgid;
} leftovers = { .semid = -1, .msgid = -1 };

/* Whatever a case created and could not remove because it failed half-way. */
static void remove_leftovers(void)
{
	if (getpid() != leftovers.owner)
		return;
	if (leftovers.sem_name[0])
		sem_unlink(leftovers.sem_name);
	if (leftovers.semid >= 0)
		semctl(leftovers.semid, 0, IPC_RMID);
	if (leftovers.msgid >= 0)
		msgctl(leftovers.msgid, IPC_RMID, NULL);
}

/* ---- files and shared memory ----------------------------------------------------------- */

/* A temporary file of ten digits, already removed from its directory. */
static int temp_file(void)
{
	char path[] = "/tmp/gp-apart-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	if (write(fd, "0123456789", 10) != 10)
		die("write");
	return fd;
}

/* Memory the other process shares: mapped before the fork. */
static void *shared_memory(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

/* ---- the other process ------------------------------------------------------------------ */

struct other {
	pid_t pid;
	int go; /* written to tell it to go on */
};

/* In the other process: the two ends it uses. */
static int other_ready_fd = -1, other_go_fd = -1;

/* In the other process: tells the program it holds what it holds. */
static void say_ready(void)
{
	if (write(other_ready_fd, "r", 1) != 1)
		_exit(100);
}

/* In the other process: waits to be told to go on, ON_ITS_OWN_MS at most: told or not. */
static bool await_go(void)
{
	struct pollfd p = { .fd = other_go_fd, .events = POLLIN };

	if (poll(&p, 1, ON_ITS_OWN_MS) != 0)
		return true;
	fprintf(stderr, "%s: %s: nobody said go: the other process goes on by itself\n", PROG,
		current);
	return false;
}

/*
 * Forks the other process, which runs body and exits with what it returns, and waits
 * until body has called say_ready. Called while the program has a single thread.
 */
static struct other other_start(int (*body)(void))
{
	int ready[2], go[2];
	char c;

	make_pipe(ready, O_CLOEXEC);
	make_pipe(go, O_CLOEXEC);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		other_ready_fd = ready[1];
		other_go_fd = go[0];
		_exit(body());
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		fail("the other process ended before it was ready");
	close(ready[0]);
	return (struct other){ pid, go[1] };
}

static void other_go(const struct other *o)
{
	if (write(o->go, "g", 1) != 1 && errno != EPIPE)
		die("write go");
}

/* Tells it to go on (again, harmless) and waits for its end: its exit status. */
static int other_end(struct other *o)
{
	int status;

	other_go(o);
	while (waitpid(o->pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	close(o->go);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- watching a thread wait -------------------------------------------------------------- */

/* Whether thread tid of process pid is blocked in system call sysno now. */
static bool in_syscall(pid_t pid, pid_t tid, long sysno)
{
	char path[64], buf[64] = "";
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	return got && sscanf(buf, "%ld", &nr) == 1 && nr == sysno;
}

/* Waits until it is, SEEN_WAITING_MS at most; says on stderr if it never was. */
static void await_in_syscall(pid_t pid, pid_t tid, long sysno)
{
	struct timespec t0 = mono();

	while (!in_syscall(pid, tid, sysno)) {
		if (elapsed_ms(t0) > SEEN_WAITING_MS) {
			fprintf(stderr, "%s: %s: thread %d never seen in system call %ld\n", PROG,
				current, (int)tid, sysno);
			return;
		}
		msleep(1);
	}
}

/*
 * What the nudger does once the waiting thread has waited HOLD_MS in system call sysno:
 * send it signal (if not 0), then, once it waits again HOLD_MS later, tell other (if not
 * NULL) to go on, or do act (if not NULL) itself.
 */
struct nudge {
	long sysno;
	int signal;
	bool to_process; /* the signal goes to the process, not to the waiting thread */
	const struct other *other;
	void (*act)(void);
	pthread_t waiter; /* filled in by watch */
	pid_t tid;
};

static void *nudge_loop(void *arg)
{
	const struct nudge *n = arg;

	msleep(HOLD_MS);
	await_in_syscall(getpid(), n->tid, n->sysno);
	if (n->signal) {
		if (n->to_process)
			kill(getpid(), n->signal);
		else
			pthread_kill(n->waiter, n->signal);
		if (!n->other && !n->act)
			return NULL;
		msleep(HOLD_MS);
		await_in_syscall(getpid(), n->tid, n->sysno);
	}
	if (n->other)
		other_go(n->other);
	if (n->act)
		n->act();
	return NULL;
}

/* A call's outcome: rc (-1 with errno err, or an error number), the ticker's verdict. */
struct outcome {
	long rc;
	int err;
	const char *others_ran;
};

/* The calls the cases watch: each takes what it needs from the case's variables. */
typedef long (*call_fn)(void);

/*
 * Makes the call while the ticker ticks and, if n is not NULL, the nudger nudges. The
 * ticker ran meanwhile if it counted twice during the call: natively it counts every
 * 2 ms of the call's hundreds; under a library that let the call hold every thread,
 * never.
 */
static struct outcome watch(call_fn call, struct nudge *n)
{
	pthread_t nudger = 0;
	struct outcome o;

	ticker_start();
	if (n) {
		n->waiter = pthread_self();
		n->tid = gettid();
		nudger = start(nudge_loop, n);
	}
	int ticks_before = ticker_ticks;
	errno = 0;
	o.rc = call();
	o.err = errno;
	int ticks_during = ticker_ticks - ticks_before;
	ticker_stop();
	o.others_ran = yes(ticks_during >= 2);
	if (n)
		join(nudger);
	return o;
}

/* The outcome of a call that returns -1 and sets errno. */
static void report(const char *what, struct outcome o)
{
	printf("%s: %ld %s, others ran meanwhile: %s\n", what, o.rc, errname(o.rc < 0 ? o.err : 0),
	       o.others_ran);
}

/* The outcome of a call that returns an error number (the pthread calls). */
static void report_errnum(const char *what, struct outcome o)
{
	printf("%s: %s, others ran meanwhile: %s\n", what, errname((int)o.rc), o.others_ran);
}

/* The outcome of a call made while others ran, where waiting was not the point. */
static void report_result(const char *what, long rc, int err)
{
	printf("%s: %ld %s\n", what, rc, errname(rc < 0 ? err : 0));
}

/* The same for a call returning -1 and errno, made here: errno read after it. */
#define report_call(what, call)                                                \
	do {                                                                   \
		long rc_ = (call);                                             \
		report_result((what), rc_, errno);                             \
	} while (0)

/* ---- signals ----------------------------------------------------------------------------- */

static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static void handle_usr1(int flags)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = flags };

	handled = 0;
	sigaction(SIGUSR1, &sa, NULL);
}

static void default_usr1(void)
{
	signal(SIGUSR1, SIG_DFL);
}

/* ---- flock ------------------------------------------------------------------------------ */

static int file_fd;

static int flock_exclusive_body(void)
{
	int fd = reopen(file_fd);

	if (flock(fd, LOCK_EX) != 0)
		return errno;
	say_ready();
	await_go();
	return 0; /* exiting closes the file, and so lets go of the lock */
}

static int flock_shared_body(void)
{
	int fd = reopen(file_fd);

	if (flock(fd, LOCK_SH) != 0)
		return errno;
	say_ready();
	await_go();
	return 0;
}

static long flock_ex(void)
{
	return flock(file_fd, LOCK_EX);
}

/* The signals the waiting thread unblocks for its call (and blocks again after it). */
static sigset_t unblocked_for_the_call;

static long flock_ex_unblocked(void)
{
	pthread_sigmask(SIG_UNBLOCK, &unblocked_for_the_call, NULL);
	long rc = flock(file_fd, LOCK_EX);
	int e = errno;
	pthread_sigmask(SIG_BLOCK, &unblocked_for_the_call, NULL);
	errno = e;
	return rc;
}

static long flock_sh(void)
{
	return flock(file_fd, LOCK_SH);
}

/* call (a flock of the file) while another process holds the file as body does. */
static void flock_while_held(int (*body)(void), call_fn call, const char *what)
{
	file_fd = temp_file();
	struct other o = other_start(body);
	struct nudge n = { .sysno = SYS_flock, .other = &o };

	report(what, watch(call, &n));
	printf("other process: exit %d\n", other_end(&o));
	close(file_fd);
}

static void case_flock_exclusive(void)
{
	flock_while_held(flock_exclusive_body, flock_ex, "flock LOCK_EX, held LOCK_EX elsewhere");
}

static void case_flock_shared_waits(void)
{
	flock_while_held(flock_exclusive_body, flock_sh, "flock LOCK_SH, held LOCK_EX elsewhere");
}

/* A shared lock beside another process's is had at once; making it exclusive waits. */
static void case_flock_shared_then_exclusive(void)
{
	file_fd = temp_file();
	struct other o = other_start(flock_shared_body);
	struct nudge n = { .sysno = SYS_flock, .other = &o };

	report_call("flock LOCK_SH, held LOCK_SH elsewhere", flock(file_fd, LOCK_SH));
	report("flock LOCK_EX over our LOCK_SH", watch(flock_ex, &n));
	printf("other process: exit %d\n", other_end(&o));
	close(file_fd);
}

/* A signal ends the wait with EINTR (no SA_RESTART); the lock is ours once the other goes. */
static void case_flock_eintr(void)
{
	file_fd = temp_file();
	struct other o = other_start(flock_exclusive_body);
	struct nudge n = { .sysno = SYS_flock, .signal = SIGUSR1 };

	handle_usr1(0);
	report("flock LOCK_EX, interrupted", watch(flock_ex, &n));
	printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	report_call("flock LOCK_EX after it", flock(file_fd, LOCK_EX));
	default_usr1();
	close(file_fd);
}

/*
 * A signal sent to the process while every thread but the waiting one blocks it: Linux
 * gives it to the waiting thread, whose flock ends with EINTR.
 */
static void case_flock_eintr_process_signal(void)
{
	sigset_t usr1, old;

	file_fd = temp_file();
	struct other o = other_start(flock_exclusive_body);
	struct nudge n = { .sysno = SYS_flock, .signal = SIGUSR1, .to_process = true };

	handle_usr1(0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);   /* in the ticker and the nudger too */
	unblocked_for_the_call = usr1;
	report("flock LOCK_EX, the process signalled", watch(flock_ex_unblocked, &n));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	default_usr1();
	close(file_fd);
}

/* Under SA_RESTART the handler runs and flock goes on waiting until the lock is free. */
static void case_flock_restart(void)
{
	file_fd = temp_file();
	struct other o = other_start(flock_exclusive_body);
	struct nudge n = { .sysno = SYS_flock, .signal = SIGUSR1, .other = &o };

	handle_usr1(SA_RESTART);
	report("flock LOCK_EX, interrupted under SA_RESTART", watch(flock_ex, &n));
	printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	default_usr1();
	close(file_fd);
}

/* ---- fcntl and lockf --------------------------------------------------------------------- */

static int lock_cmd; /* F_SETLK or F_OFD_SETLK for the other process, F_SETLKW or F_OFD_SETLKW for us */

static struct flock write_lock(off_t start, off_t len)
{
	return (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start,
			       .l_len = len };
}

static int fcntl_lock_body(void)
{
	int fd = reopen(file_fd);
	struct flock fl = write_lock(0, 0);

	if (fcntl(fd, lock_cmd, &fl) != 0)
		return errno;
	say_ready();
	await_go();
	return 0;
}

static long fcntl_lock_wait(void)
{
	struct flock fl = write_lock(0, 0);

	return fcntl(file_fd, lock_cmd == F_SETLK ? F_SETLKW : F_OFD_SETLKW, &fl);
}

static void fcntl_while_held(int cmd, int signal, const char *what)
{
	file_fd = temp_file();
	lock_cmd = cmd;
	struct other o = other_start(fcntl_lock_body);
	struct nudge n = { .sysno = SYS_fcntl, .signal = signal, .other = signal ? NULL : &o };

	handle_usr1(0);
	report(what, watch(fcntl_lock_wait, &n));
	if (signal)
		printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	default_usr1();
	close(file_fd);
}

static void case_fcntl_setlkw(void)
{
	fcntl_while_held(F_SETLK, 0, "fcntl F_SETLKW, held elsewhere");
}

static void case_fcntl_setlkw_eintr(void)
{
	fcntl_while_held(F_SETLK, SIGUSR1, "fcntl F_SETLKW, interrupted");
}

static void case_fcntl_ofd_setlkw(void)
{
	fcntl_while_held(F_OFD_SETLK, 0, "fcntl F_OFD_SETLKW, held elsewhere");
}

static int lockf_body(void)
{
	int fd = reopen(file_fd);

	if (lockf(fd, F_LOCK, 0) != 0)
		return errno;
	say_ready();
	await_go();
	return 0;
}

static long lockf_lock(void)
{
	return lockf(file_fd, F_LOCK, 0);
}

static void case_lockf_lock(void)
{
	file_fd = temp_file();
	struct other o = other_start(lockf_body);
	struct nudge n = { .sysno = SYS_fcntl, .other = &o };

	report("lockf F_LOCK, held elsewhere", watch(lockf_lock, &n));
	printf("other process: exit %d\n", other_end(&o));
	close(file_fd);
}

/*
 * Byte 0 is ours; the other process takes byte 1, then waits for byte 0. Our request for
 * byte 1 closes the cycle: the kernel answers it EDEADLK at once, always to us, since the
 * other is seen waiting before we ask. Once we let go of byte 0, the other gets it.
 */
static int deadlock_body(void)
{
	struct flock one = write_lock(1, 1), zero = write_lock(0, 1);

	if (fcntl(file_fd, F_SETLK, &one) != 0)
		return errno;
	say_ready();
	return fcntl(file_fd, F_SETLKW, &zero) == 0 ? 0 : errno;
}

static long lock_byte_one(void)
{
	struct flock one = write_lock(1, 1);

	return fcntl(file_fd, F_SETLKW, &one);
}

static void case_fcntl_edeadlk(void)
{
	struct flock zero = write_lock(0, 1), unlock = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

	file_fd = temp_file();
	if (fcntl(file_fd, F_SETLK, &zero) != 0)
		die("fcntl F_SETLK");
	struct other o = other_start(deadlock_body);
	await_in_syscall(o.pid, o.pid, SYS_fcntl);
	struct outcome r = watch(lock_byte_one, NULL);
	report_result("fcntl F_SETLKW closing a cycle", r.rc, r.err);
	fcntl(file_fd, F_SETLK, &unlock);
	printf("other process's F_SETLKW: %s\n", errname(other_end(&o)));
	close(file_fd);
}

/* ---- semaphores ------------------------------------------------------------------------- */

static sem_t *sem;

static int sem_post_body(void)
{
	say_ready();
	await_go();
	return sem_post(sem) == 0 ? 0 : errno;
}

static long sem_wait_call(void)
{
	return sem_wait(sem);
}

static long sem_timedwait_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, TIMEOUT_MS);

	return sem_timedwait(sem, &deadline);
}

static long sem_clockwait_call(void)
{
	struct timespec deadline = clock_after(CLOCK_MONOTONIC, TIMEOUT_MS);

	return sem_clockwait(sem, CLOCK_MONOTONIC, &deadline);
}

static sem_t *shared_sem(void)
{
	sem_t *s = shared_memory(sizeof(*s));

	if (sem_init(s, 1, 0) != 0)
		die("sem_init");
	return s;
}

static void case_sem_shared_posted(void)
{
	sem = shared_sem();
	struct other o = other_start(sem_post_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	report("sem_wait, posted by another process", watch(sem_wait_call, &n));
	printf("other process: exit %d\n", other_end(&o));
	sem_destroy(sem);
	munmap(sem, sizeof(*sem));
}

static void case_sem_shared_timeout(void)
{
	sem = shared_sem();
	report("sem_timedwait, never posted", watch(sem_timedwait_call, NULL));
	report("sem_clockwait CLOCK_MONOTONIC, never posted", watch(sem_clockwait_call, NULL));
	sem_destroy(sem);
	munmap(sem, sizeof(*sem));
}

/* Waiting for a post, sent a signal: handled with flags, then posted by the other. */
static void sem_shared_signalled(int flags, const char *what)
{
	sem = shared_sem();
	struct other o = other_start(sem_post_body);
	struct nudge n = { .sysno = SYS_futex, .signal = SIGUSR1, .other = &o };

	handle_usr1(flags);
	report(what, watch(sem_wait_call, &n));
	printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	report_call("sem_trywait after it", sem_trywait(sem));
	default_usr1();
	sem_destroy(sem);
	munmap(sem, sizeof(*sem));
}

/* Without SA_RESTART, the handler ends the wait with EINTR; the post comes after. */
static void case_sem_shared_eintr(void)
{
	sem_shared_signalled(0, "sem_wait, interrupted");
}

/*
 * Under SA_RESTART, glibc's sem_wait (a futex wait without a deadline) goes on waiting
 * after the handler, whatever signal(7) says, until the other process posts.
 */
static void case_sem_shared_restart(void)
{
	sem_shared_signalled(SA_RESTART, "sem_wait, interrupted under SA_RESTART");
}

/* The other process opens the semaphore by its name; the name is removed once it has. */
static int sem_named_body(void)
{
	sem = sem_open(leftovers.sem_name, 0);
	if (sem == SEM_FAILED)
		return errno;
	return sem_post_body();
}

static void case_sem_named(void)
{
	snprintf(leftovers.sem_name, sizeof(leftovers.sem_name), "/gp-apart-%d", (int)getpid());
	sem = sem_open(leftovers.sem_name, O_CREAT | O_EXCL, 0600, 0);
	if (sem == SEM_FAILED)
		die("sem_open");
	struct other o = other_start(sem_named_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	printf("sem_unlink: %d\n", sem_unlink(leftovers.sem_name));
	leftovers.sem_name[0] = '\0';
	report("sem_wait on a named semaphore, posted by another process", watch(sem_wait_call, &n));
	printf("other process: exit %d\n", other_end(&o));
	sem_close(sem);
}

/* ---- mutexes, condition variables, read-write locks, barriers ------------------------------ */

static struct shared_sync {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	pthread_rwlock_t rwlock;
	pthread_barrier_t barrier;
	sem_t sem;
	int flag;
} *sync_area;

static void init_mutex_kind(int type, bool robust)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, type);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (robust)
		pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if ((errno = pthread_mutex_init(&sync_area->mutex, &a)))
		die("pthread_mutex_init");
	pthread_mutexattr_destroy(&a);
}

static void init_mutex(bool robust)
{
	init_mutex_kind(PTHREAD_MUTEX_DEFAULT, robust);
}

static void make_sync_area(void)
{
	sync_area = shared_memory(sizeof(*sync_area));
}

static void drop_sync_area(void)
{
	munmap(sync_area, sizeof(*sync_area));
}

static int mutex_body(void)
{
	if ((errno = pthread_mutex_lock(&sync_area->mutex)))
		return errno;
	say_ready();
	await_go();
	return pthread_mutex_unlock(&sync_area->mutex);
}

/* The owner dies holding it. */
static int mutex_owner_dies_body(void)
{
	if ((errno = pthread_mutex_lock(&sync_area->mutex)))
		return errno;
	say_ready();
	await_go();
	return 0;
}

static long mutex_lock_call(void)
{
	return pthread_mutex_lock(&sync_area->mutex);
}

/* The deadline of mutex_timedlock_call, from now. */
static long timedlock_ms;

static long mutex_timedlock_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, timedlock_ms);

	return pthread_mutex_timedlock(&sync_area->mutex, &deadline);
}

static void case_mutex_shared(void)
{
	make_sync_area();
	init_mutex(false);
	struct other o = other_start(mutex_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	timedlock_ms = SHORT_TIMEOUT_MS;
	report_errnum("pthread_mutex_timedlock, held elsewhere", watch(mutex_timedlock_call, NULL));
	report_errnum("pthread_mutex_lock, held elsewhere", watch(mutex_lock_call, &n));
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(&sync_area->mutex)));
	printf("other process: exit %d\n", other_end(&o));
	pthread_mutex_destroy(&sync_area->mutex);
	drop_sync_area();
}

static void case_mutex_robust_owner_dies(void)
{
	make_sync_area();
	init_mutex(true);
	struct other o = other_start(mutex_owner_dies_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };
	pthread_mutex_t *m = &sync_area->mutex;

	report_errnum("pthread_mutex_lock, its owner exits", watch(mutex_lock_call, &n));
	printf("pthread_mutex_consistent: %s\n", errname(pthread_mutex_consistent(m)));
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(m)));
	printf("pthread_mutex_lock again: %s\n", errname(pthread_mutex_lock(m)));
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(m)));
	printf("other process: exit %d\n", other_end(&o));
	pthread_mutex_destroy(m);
	drop_sync_area();
}

/*
 * The other way round: a thread of the other process, not its first, holds the robust
 * mutex when that process exits. Its kernel thread's robust list names the mutex, so
 * the kernel marks it for us.
 */
static void *__attribute__((noreturn)) lock_and_stay(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sync_area->mutex);
	say_ready();
	for (;;)
		pause();
}

static int owner_thread_exits_body(void)
{
	start(lock_and_stay, NULL);
	await_go();
	return 0;
}

/* The same, the other process ending by exit(3): its atexit handlers and destructors
   run first, then the kernel's walk of its threads' robust lists. */
static int owner_thread_exit3_body(void)
{
	start(lock_and_stay, NULL);
	await_go();
	exit(0);
}

static void robust_owner_thread_case(int (*body)(void))
{
	make_sync_area();
	init_mutex(true);
	struct other o = other_start(body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };
	pthread_mutex_t *m = &sync_area->mutex;

	timedlock_ms = HOLD_MS + ROBUST_DEATH_MS;
	report_errnum("pthread_mutex_timedlock, its owner's process exits",
		      watch(mutex_timedlock_call, &n));
	printf("pthread_mutex_consistent: %s\n", errname(pthread_mutex_consistent(m)));
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(m)));
	printf("other process: exit %d\n", other_end(&o));
	pthread_mutex_destroy(m);
	drop_sync_area();
}

static void case_mutex_robust_owner_thread_exits(void)
{
	robust_owner_thread_case(owner_thread_exits_body);
}

static void case_mutex_robust_owner_process_calls_exit(void)
{
	robust_owner_thread_case(owner_thread_exit3_body);
}

/*
 * A process whose second thread holds a robust mutex in memory the process then unmaps,
 * and which ends by exit(3): the kernel passes over what it cannot read, and the
 * process ends with its own status.
 */
static pthread_mutex_t *unmapped_mutex;

static void *__attribute__((noreturn)) lock_unmapped_and_stay(void *arg)
{
	(void)arg;
	pthread_mutex_lock(unmapped_mutex);
	say_ready();
	for (;;)
		pause();
}

static int unmapped_at_exit_body(void)
{
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	unmapped_mutex = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (unmapped_mutex == MAP_FAILED)
		_exit(101);
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(unmapped_mutex, &a);
	start(lock_unmapped_and_stay, NULL);
	await_go();
	munmap(unmapped_mutex, len);
	exit(7);
}

static void case_mutex_robust_unmapped_at_exit(void)
{
	struct other o = other_start(unmapped_at_exit_body);
	printf("other process, its robust mutex unmapped before exit(7): exit %d\n",
	       other_end(&o));
}

/* Another thread of ours holds the mutex for HOLD_MS. */
static volatile int holder_holds;

static void *hold_a_while(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sync_area->mutex);
	holder_holds = 1;
	msleep(HOLD_MS);
	holder_holds = 0;
	pthread_mutex_unlock(&sync_area->mutex);
	return NULL;
}

/* A process-shared mutex of type held by another thread of ours: the lock waits for it. */
static void lock_held_by_another_thread(int type, const char *what)
{
	init_mutex_kind(type, false);
	holder_holds = 0;
	pthread_t holder = start(hold_a_while, NULL);
	while (!holder_holds)
		msleep(1);
	int rc = pthread_mutex_lock(&sync_area->mutex);
	printf("%s, held by another thread of ours: %s, that thread still held it: %s\n", what,
	       errname(rc), yes(holder_holds));
	if (rc == 0)
		pthread_mutex_unlock(&sync_area->mutex);
	join(holder);
	pthread_mutex_destroy(&sync_area->mutex);
}

static void case_mutex_shared_kinds_between_threads(void)
{
	make_sync_area();
	lock_held_by_another_thread(PTHREAD_MUTEX_ERRORCHECK, "error-checking mutex");
	lock_held_by_another_thread(PTHREAD_MUTEX_RECURSIVE, "recursive mutex");
	drop_sync_area();
}

static int cond_signal_body(void)
{
	say_ready();
	await_go();
	pthread_mutex_lock(&sync_area->mutex);
	sync_area->flag = 1;
	int rc = pthread_cond_signal(&sync_area->cond);
	pthread_mutex_unlock(&sync_area->mutex);
	return rc;
}

static long cond_wait_call(void)
{
	int rc = 0;

	while (!sync_area->flag && rc == 0)
		rc = pthread_cond_wait(&sync_area->cond, &sync_area->mutex);
	return rc;
}

static long cond_timedwait_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, SHORT_TIMEOUT_MS);

	return pthread_cond_timedwait(&sync_area->cond, &sync_area->mutex, &deadline);
}

static void init_cond(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_cond_init(&sync_area->cond, &a);
	pthread_condattr_destroy(&a);
}

static void case_cond_shared(void)
{
	make_sync_area();
	init_mutex(false);
	init_cond();
	struct other o = other_start(cond_signal_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	pthread_mutex_lock(&sync_area->mutex);
	report_errnum("pthread_cond_timedwait, never signalled", watch(cond_timedwait_call, NULL));
	report_errnum("pthread_cond_wait, signalled by another process", watch(cond_wait_call, &n));
	printf("flag: %d\n", sync_area->flag);
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(&sync_area->mutex)));
	printf("other process: exit %d\n", other_end(&o));
	pthread_cond_destroy(&sync_area->cond);
	pthread_mutex_destroy(&sync_area->mutex);
	drop_sync_area();
}

static int rwlock_writer_body(void)
{
	if ((errno = pthread_rwlock_wrlock(&sync_area->rwlock)))
		return errno;
	say_ready();
	await_go();
	return pthread_rwlock_unlock(&sync_area->rwlock);
}

static long rwlock_rdlock_call(void)
{
	return pthread_rwlock_rdlock(&sync_area->rwlock);
}

static long rwlock_timedwrlock_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, SHORT_TIMEOUT_MS);

	return pthread_rwlock_timedwrlock(&sync_area->rwlock, &deadline);
}

static void init_rwlock(void)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_rwlock_init(&sync_area->rwlock, &a);
	pthread_rwlockattr_destroy(&a);
}

static void case_rwlock_shared(void)
{
	make_sync_area();
	init_rwlock();
	struct other o = other_start(rwlock_writer_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	report_errnum("pthread_rwlock_timedwrlock, written elsewhere",
		      watch(rwlock_timedwrlock_call, NULL));
	report_errnum("pthread_rwlock_rdlock, written elsewhere", watch(rwlock_rdlock_call, &n));
	printf("pthread_rwlock_unlock: %s\n", errname(pthread_rwlock_unlock(&sync_area->rwlock)));
	printf("other process: exit %d\n", other_end(&o));
	pthread_rwlock_destroy(&sync_area->rwlock);
	drop_sync_area();
}

/* 1 for PTHREAD_BARRIER_SERIAL_THREAD, 0 for 0, else 2. */
static int barrier_code(int rc)
{
	return rc == PTHREAD_BARRIER_SERIAL_THREAD ? 1 : rc == 0 ? 0 : 2;
}

static const char *const barrier_said[] = { "0", "PTHREAD_BARRIER_SERIAL_THREAD", "an error" };

static void report_barrier(const char *what, struct outcome o)
{
	printf("%s: %s, others ran meanwhile: %s\n", what, barrier_said[o.rc], o.others_ran);
}

static int barrier_body(void)
{
	say_ready();
	await_go();
	return barrier_code(pthread_barrier_wait(&sync_area->barrier));
}

static long barrier_wait_call(void)
{
	return barrier_code(pthread_barrier_wait(&sync_area->barrier));
}

/* For two: the waiting thread and the other. */
static void init_barrier(void)
{
	pthread_barrierattr_t a;

	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if ((errno = pthread_barrier_init(&sync_area->barrier, &a, 2)))
		die("pthread_barrier_init");
	pthread_barrierattr_destroy(&a);
}

static void case_barrier_shared(void)
{
	make_sync_area();
	init_barrier();
	struct other o = other_start(barrier_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	report_barrier("pthread_barrier_wait", watch(barrier_wait_call, &n));
	int code = other_end(&o);
	printf("other process's pthread_barrier_wait: %s\n", code <= 2 ? barrier_said[code] : "killed");
	pthread_barrier_destroy(&sync_area->barrier);
	drop_sync_area();
}

/* ---- the same objects between two threads of this process -------------------------------- */

/*
 * The waits above, ended by another thread of this process instead: the nudger itself
 * posts, signals or arrives, or lets a thread that holds the lock go on. A waiter handed
 * off meanwhile is woken by the kernel, whichever kernel thread runs the other.
 */
static volatile int keep_holding;

static void let_go(void)
{
	keep_holding = 0;
}

/* Holds until told to let go, ON_ITS_OWN_MS at most. */
static void hold_until_let_go(void)
{
	for (int ms = 0; keep_holding && ms < ON_ITS_OWN_MS; ms++)
		msleep(1);
}

static volatile int holding;

static void *hold_mutex(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sync_area->mutex);
	holding = 1;
	hold_until_let_go();
	pthread_mutex_unlock(&sync_area->mutex);
	return NULL;
}

static void *hold_rwlock_for_reading(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&sync_area->rwlock);
	holding = 1;
	hold_until_let_go();
	pthread_rwlock_unlock(&sync_area->rwlock);
	return NULL;
}

static long rwlock_wrlock_call(void)
{
	return pthread_rwlock_wrlock(&sync_area->rwlock);
}

/* Makes call while a thread of ours runs holder until the nudger lets it go. */
static struct outcome watch_held(void *(*holder)(void *), call_fn call)
{
	struct nudge n = { .sysno = SYS_futex, .act = let_go };

	holding = 0;
	keep_holding = 1;
	pthread_t t = start(holder, NULL);
	while (!holding)
		msleep(1);
	struct outcome o = watch(call, &n);
	join(t);
	return o;
}

static void post_sem(void)
{
	sem_post(sem);
}

static void signal_cond(void)
{
	pthread_mutex_lock(&sync_area->mutex);
	sync_area->flag = 1;
	pthread_cond_signal(&sync_area->cond);
	pthread_mutex_unlock(&sync_area->mutex);
}

static void arrive_at_barrier(void)
{
	pthread_barrier_wait(&sync_area->barrier);
}

static struct outcome watch_acted(call_fn call, void (*act)(void))
{
	struct nudge n = { .sysno = SYS_futex, .act = act };

	return watch(call, &n);
}

static void case_shared_objects_between_threads(void)
{
	make_sync_area();
	init_mutex(false);
	report_errnum("pthread_mutex_lock, held by another thread of ours",
		      watch_held(hold_mutex, mutex_lock_call));
	printf("pthread_mutex_unlock: %s\n", errname(pthread_mutex_unlock(&sync_area->mutex)));

	init_rwlock();
	report_errnum("pthread_rwlock_wrlock, read by another thread of ours",
		      watch_held(hold_rwlock_for_reading, rwlock_wrlock_call));
	printf("pthread_rwlock_unlock: %s\n", errname(pthread_rwlock_unlock(&sync_area->rwlock)));

	sem = &sync_area->sem;
	sem_init(sem, 1, 0);
	report("sem_wait, posted by another thread of ours", watch_acted(sem_wait_call, post_sem));

	init_cond();
	pthread_mutex_lock(&sync_area->mutex);
	report_errnum("pthread_cond_wait, signalled by another thread of ours",
		      watch_acted(cond_wait_call, signal_cond));
	pthread_mutex_unlock(&sync_area->mutex);

	init_barrier();
	report_barrier("pthread_barrier_wait, with another thread of ours",
		       watch_acted(barrier_wait_call, arrive_at_barrier));

	pthread_barrier_destroy(&sync_area->barrier);
	pthread_cond_destroy(&sync_area->cond);
	sem_destroy(sem);
	pthread_rwlock_destroy(&sync_area->rwlock);
	pthread_mutex_destroy(&sync_area->mutex);
	drop_sync_area();
}

/* ---- cancellation ------------------------------------------------------------------------ */

/*
 * pthread_cancel of a thread waiting for another process in a cancellation point
 * (sem_wait, fcntl F_SETLKW): it ends with PTHREAD_CANCELED. If it is not cancelled
 * within CANCEL_WAIT_MS, the wait is ended for it and the case says so.
 */
#define CANCEL_WAIT_MS 1000

static pid_t cancelled_tid;

static void *wait_cancellable(void *arg)
{
	call_fn call = (call_fn)arg;

	cancelled_tid = gettid();
	call();
	pthread_testcancel();
	return NULL;
}

static void cancel_waiting(call_fn call, long sysno, void (*end_wait)(void), const char *what)
{
	void *ret;

	cancelled_tid = 0;
	pthread_t t = start(wait_cancellable, (void *)call);
	while (!cancelled_tid)
		msleep(1);
	await_in_syscall(getpid(), cancelled_tid, sysno);
	pthread_cancel(t);
	struct timespec deadline = clock_after(CLOCK_REALTIME, CANCEL_WAIT_MS);
	int rc = pthread_timedjoin_np(t, &ret, &deadline);
	if (rc == ETIMEDOUT) {
		end_wait();
		ret = join(t);
	}
	printf("%s, cancelled: %s%s\n", what,
	       ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "returned",
	       rc == ETIMEDOUT ? " once its wait was ended for it" : "");
}

static void post_sem_once(void)
{
	sem_post(sem);
}

static struct other cancel_other;

static void let_other_go(void)
{
	other_go(&cancel_other);
}

static void case_cancel_waiting(void)
{
	sem = shared_sem();
	cancel_waiting(sem_wait_call, SYS_futex, post_sem_once, "sem_wait");
	munmap(sem, sizeof(*sem));

	file_fd = temp_file();
	lock_cmd = F_SETLK;
	cancel_other = other_start(fcntl_lock_body);
	cancel_waiting(fcntl_lock_wait, SYS_fcntl, let_other_go, "fcntl F_SETLKW");
	printf("other process: exit %d\n", other_end(&cancel_other));
	close(file_fd);
}

/* ---- System V semaphores and message queues --------------------------------------------- */

static int sysv_sem(void)
{
	leftovers.semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (leftovers.semid < 0)
		die("semget");
	return leftovers.semid;
}

static void sysv_sem_remove(void)
{
	printf("semctl IPC_RMID: %d\n", semctl(leftovers.semid, 0, IPC_RMID));
	leftovers.semid = -1;
}

static int semop_up_body(void)
{
	struct sembuf up = { .sem_num = 0, .sem_op = 1 };

	say_ready();
	await_go();
	return semop(leftovers.semid, &up, 1) == 0 ? 0 : errno;
}

static long semop_down(void)
{
	struct sembuf down = { .sem_num = 0, .sem_op = -1 };

	return semop(leftovers.semid, &down, 1);
}

static long semtimedop_down(void)
{
	struct sembuf down = { .sem_num = 0, .sem_op = -1 };
	struct timespec timeout = ts_ms(TIMEOUT_MS);

	return semtimedop(leftovers.semid, &down, 1, &timeout);
}

static void case_semop_posted(void)
{
	sysv_sem();
	struct other o = other_start(semop_up_body);
	struct nudge n = { .sysno = SYS_semtimedop, .other = &o };

	report("semop -1, raised by another process", watch(semop_down, &n));
	printf("other process: exit %d\n", other_end(&o));
	sysv_sem_remove();
}

static void case_semtimedop_timeout(void)
{
	sysv_sem();
	report("semtimedop -1, never raised", watch(semtimedop_down, NULL));
	sysv_sem_remove();
}

#define MSG_TEXT 32

struct message {
	long type;
	char text[MSG_TEXT];
};

static struct message message(const char *text)
{
	struct message m = { .type = 1 };

	snprintf(m.text, sizeof(m.text), "%s", text);
	return m;
}

static void sysv_queue(void)
{
	leftovers.msgid = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (leftovers.msgid < 0)
		die("msgget");
}

static void sysv_queue_remove(void)
{
	printf("msgctl IPC_RMID: %d\n", msgctl(leftovers.msgid, IPC_RMID, NULL));
	leftovers.msgid = -1;
}

static int msgsnd_body(void)
{
	struct message m = message("from the other process");

	say_ready();
	await_go();
	return msgsnd(leftovers.msgid, &m, sizeof(m.text), 0) == 0 ? 0 : errno;
}

static struct message received;

static long msgrcv_call(void)
{
	return msgrcv(leftovers.msgid, &received, sizeof(received.text), 0, 0);
}

static void case_msgrcv_sent_later(void)
{
	sysv_queue();
	struct other o = other_start(msgsnd_body);
	struct nudge n = { .sysno = SYS_msgrcv, .other = &o };

	report("msgrcv, sent by another process", watch(msgrcv_call, &n));
	printf("received: type %ld [%s]\n", received.type, received.text);
	printf("other process: exit %d\n", other_end(&o));
	sysv_queue_remove();
}

static int msgrcv_body(void)
{
	struct message m;

	say_ready();
	await_go();
	return msgrcv(leftovers.msgid, &m, sizeof(m.text), 0, 0) == MSG_TEXT ? 0 : errno;
}

static long msgsnd_call(void)
{
	struct message m = message("one too many");

	return msgsnd(leftovers.msgid, &m, sizeof(m.text), 0);
}

/* The queue holds two messages; the third waits until the other process takes one. */
static void case_msgsnd_full_queue(void)
{
	struct msqid_ds ds;
	struct message m = message("filler");

	sysv_queue();
	if (msgctl(leftovers.msgid, IPC_STAT, &ds) != 0)
		die("msgctl IPC_STAT");
	ds.msg_qbytes = 2 * MSG_TEXT;
	if (msgctl(leftovers.msgid, IPC_SET, &ds) != 0)
		die("msgctl IPC_SET");
	for (int i = 0; i < 2; i++)
		if (msgsnd(leftovers.msgid, &m, sizeof(m.text), IPC_NOWAIT) != 0)
			die("msgsnd");
	report_call("msgsnd IPC_NOWAIT to the full queue",
		    msgsnd(leftovers.msgid, &m, sizeof(m.text), IPC_NOWAIT));
	struct other o = other_start(msgrcv_body);
	struct nudge n = { .sysno = SYS_msgsnd, .other = &o };

	report("msgsnd to the full queue, emptied by another process", watch(msgsnd_call, &n));
	printf("other process: exit %d\n", other_end(&o));
	msgctl(leftovers.msgid, IPC_STAT, &ds);
	printf("messages queued: %lu\n", (unsigned long)ds.msg_qnum);
	sysv_queue_remove();
}

/*
 * System V waits end with EINTR after a handler, SA_RESTART or not (signal(7)): the
 * signal alone ends each wait. Only if nobody could send it (the waits held every
 * thread) does the other process raise the semaphore and send a message, so that the
 * case ends all the same.
 */
static int sysv_rescue_body(void)
{
	struct sembuf up = { .sem_num = 0, .sem_op = 1 };
	struct message m = message("rescue");

	say_ready();
	if (await_go())
		return 0;
	semop(leftovers.semid, &up, 1);
	msgsnd(leftovers.msgid, &m, sizeof(m.text), 0);
	return 1;
}

static void case_sysv_eintr_under_sa_restart(void)
{
	struct nudge n = { .sysno = SYS_semtimedop, .signal = SIGUSR1 };

	sysv_sem();
	sysv_queue();
	struct other o = other_start(sysv_rescue_body);
	handle_usr1(SA_RESTART);
	report("semop -1, interrupted under SA_RESTART", watch(semop_down, &n));
	n.sysno = SYS_msgrcv;
	report("msgrcv, interrupted under SA_RESTART", watch(msgrcv_call, &n));
	printf("handler ran: %d\n", (int)handled);
	printf("other process: exit %d\n", other_end(&o));
	default_usr1();
	sysv_queue_remove();
	sysv_sem_remove();
}

/* ---- POSIX message queues ---------------------------------------------------------------- */

#define MQ_MAXMSG 4

static mqd_t queue;
static char mq_text[64];

/*
 * A new queue, its name already removed (the descriptor serves both processes); false,
 * with a line that says why, where the kernel offers none.
 */
static bool posix_queue(void)
{
	char name[64];
	struct mq_attr attr = { .mq_maxmsg = MQ_MAXMSG, .mq_msgsize = sizeof(mq_text) };

	snprintf(name, sizeof(name), "/gp-apart-%d", (int)getpid());
	queue = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
	if (queue == (mqd_t)-1) {
		printf("POSIX message queues are not usable here (%s): skipped\n", errname(errno));
		return false;
	}
	mq_unlink(name);
	return true;
}

static int mq_send_body(void)
{
	static const char text[] = "from the other process";

	say_ready();
	await_go();
	return mq_send(queue, text, sizeof(text), 3) == 0 ? 0 : errno;
}

static long mq_receive_call(void)
{
	return mq_receive(queue, mq_text, sizeof(mq_text), NULL);
}

static long mq_timedreceive_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, TIMEOUT_MS);

	return mq_timedreceive(queue, mq_text, sizeof(mq_text), NULL, &deadline);
}

static void case_mq_receive_sent_later(void)
{
	if (!posix_queue())
		return;
	struct other o = other_start(mq_send_body);
	struct nudge n = { .sysno = SYS_mq_timedreceive, .other = &o };

	report("mq_receive, sent by another process", watch(mq_receive_call, &n));
	printf("received: [%s]\n", mq_text);
	printf("other process: exit %d\n", other_end(&o));
	mq_close(queue);
}

static long mq_timedsend_call(void)
{
	struct timespec deadline = clock_after(CLOCK_REALTIME, TIMEOUT_MS);

	return mq_timedsend(queue, "late", 5, 0, &deadline);
}

/* Nothing comes to an empty queue; no room comes in a full one. */
static void case_mq_timeouts(void)
{
	if (!posix_queue())
		return;
	report("mq_timedreceive, never sent", watch(mq_timedreceive_call, NULL));
	for (int i = 0; i < MQ_MAXMSG; i++)
		if (mq_send(queue, "filler", 7, 0) != 0)
			die("mq_send");
	report("mq_timedsend to a full queue, never read", watch(mq_timedsend_call, NULL));
	mq_close(queue);
}

/* ---- aio_suspend ------------------------------------------------------------------------- */

static struct aiocb aio;
static char aio_buf[64];

static long aio_suspend_call(void)
{
	const struct aiocb *list[] = { &aio };

	return aio_suspend(list, 1, NULL);
}

static long aio_suspend_timed_call(void)
{
	const struct aiocb *list[] = { &aio };
	struct timespec timeout = ts_ms(SHORT_TIMEOUT_MS);

	return aio_suspend(list, 1, &timeout);
}

static void report_aio(void)
{
	printf("aio_error: %s\n", errname(aio_error(&aio)));
	ssize_t n = aio_return(&aio);
	printf("aio_return: %zd [%.*s]\n", n, n > 0 ? (int)n : 0, aio_buf);
}

static void start_read(int fd)
{
	memset(aio_buf, 0, sizeof(aio_buf));
	aio = (struct aiocb){ .aio_fildes = fd, .aio_buf = aio_buf, .aio_nbytes = sizeof(aio_buf) };
	if (aio_read(&aio) != 0)
		die("aio_read");
}

static void case_aio_suspend_file(void)
{
	int fd = temp_file();

	start_read(fd);
	struct outcome r = watch(aio_suspend_call, NULL);
	report_result("aio_suspend for a read of a file", r.rc, r.err);
	report_aio();
	close(fd);
}

static int aio_pipe[2];

static int pipe_writer_body(void)
{
	static const char text[] = "from the other process";

	say_ready();
	await_go();
	return write(aio_pipe[1], text, sizeof(text) - 1) > 0 ? 0 : errno;
}

static void case_aio_suspend_pipe(void)
{
	make_pipe(aio_pipe, O_CLOEXEC);
	struct other o = other_start(pipe_writer_body);
	struct nudge n = { .sysno = SYS_futex, .other = &o };

	close(aio_pipe[1]);
	start_read(aio_pipe[0]);
	report("aio_suspend with a timeout, nothing written", watch(aio_suspend_timed_call, NULL));
	report("aio_suspend for a read of a pipe, written by another process",
	       watch(aio_suspend_call, &n));
	report_aio();
	printf("other process: exit %d\n", other_end(&o));
	close(aio_pipe[0]);
}

/* ---- calls that wait for no one in particular ------------------------------------------- */

static long lookups(void)
{
	struct passwd *pw = getpwnam("root");
	printf("getpwnam root: %s uid %d gid %d dir %s\n", pw ? pw->pw_name : "none",
	       pw ? (int)pw->pw_uid : -1, pw ? (int)pw->pw_gid : -1, pw ? pw->pw_dir : "none");
	struct group *gr = getgrgid(0);
	int members = 0;
	for (char **m = gr ? gr->gr_mem : NULL; m && *m; m++)
		members++;
	printf("getgrgid 0: %s members %d\n", gr ? gr->gr_name : "none", members);

	struct passwd pwd, *found = NULL;
	char buf[4096];
	int rc = getpwuid_r(0, &pwd, buf, sizeof(buf), &found);
	printf("getpwuid_r 0: %s %s shell %s\n", errname(rc), found ? found->pw_name : "none",
	       found ? found->pw_shell : "none");
	rc = getpwnam_r("root", &pwd, buf, 4, &found);
	printf("getpwnam_r root, 4 bytes of buffer: %s found %s\n", errname(rc), yes(found));

	gid_t groups[64];
	int n = 64;
	int count = getgrouplist("root", 0, groups, &n);
	printf("getgrouplist root: %d groups, first gid %d\n", count, count > 0 ? (int)groups[0] : -1);
	return 0;
}

static void case_users_and_groups(void)
{
	watch(lookups, NULL);
}

static int sync_fd;
static char *sync_map;

static long disk_syncs(void)
{
	sync();
	printf("sync: returned\n");
	report_call("syncfs", syncfs(sync_fd));
	report_call("sync_file_range WAIT_BEFORE|WRITE|WAIT_AFTER",
		    sync_file_range(sync_fd, 0, 0,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
					    SYNC_FILE_RANGE_WAIT_AFTER));
	memcpy(sync_map, "written", 7);
	report_call("msync MS_SYNC", msync(sync_map, 4096, MS_SYNC));
	return 0;
}

static void case_disk_syncs(void)
{
	char path[] = "/var/tmp/gp-apart-XXXXXX";

	sync_fd = mkstemp(path);
	if (sync_fd < 0)
		die("mkstemp");
	unlink(path);
	if (ftruncate(sync_fd, 4096) != 0)
		die("ftruncate");
	sync_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sync_fd, 0);
	if (sync_map == MAP_FAILED)
		die("mmap");
	watch(disk_syncs, NULL);
	munmap(sync_map, 4096);
	close(sync_fd);
}

static int pty_master, pty_slave;

static long drain_pty(void)
{
	if (write(pty_slave, "drained\n", 8) != 8)
		die("write");
	report_call("tcdrain on a pty", tcdrain(pty_slave));
	char buf[16] = "";
	ssize_t n = read(pty_master, buf, sizeof(buf) - 1);
	printf("the other end read: %zd [%.*s]\n", n, n > 0 ? (int)strcspn(buf, "\r\n") : 0, buf);
	return 0;
}

static void case_tcdrain_pty(void)
{
	struct termios raw;

	if (openpty(&pty_master, &pty_slave, NULL, NULL, NULL) != 0)
		die("openpty");
	tcgetattr(pty_slave, &raw);
	cfmakeraw(&raw);
	tcsetattr(pty_slave, TCSANOW, &raw);
	watch(drain_pty, NULL);
	close(pty_slave);
	close(pty_master);
}

/* ---- the cases --------------------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(flock_exclusive),
	CASE(flock_shared_waits),
	CASE(flock_shared_then_exclusive),
	CASE(flock_eintr),
	CASE(flock_eintr_process_signal),
	CASE(flock_restart),
	CASE(fcntl_setlkw),
	CASE(fcntl_setlkw_eintr),
	CASE(fcntl_ofd_setlkw),
	CASE(lockf_lock),
	CASE(fcntl_edeadlk),
	CASE(sem_shared_posted),
	CASE(sem_shared_timeout),
	CASE(sem_shared_eintr),
	CASE(sem_shared_restart),
	CASE(sem_named),
	CASE(mutex_shared),
	CASE(mutex_robust_owner_dies),
	CASE(mutex_robust_owner_thread_exits),
	CASE(mutex_robust_owner_process_calls_exit),
	CASE(mutex_robust_unmapped_at_exit),
	CASE(mutex_shared_kinds_between_threads),
	CASE(cond_shared),
	CASE(rwlock_shared),
	CASE(barrier_shared),
	CASE(shared_objects_between_threads),
	CASE(cancel_waiting),
	CASE(semop_posted),
	CASE(semtimedop_timeout),
	CASE(sysv_eintr_under_sa_restart),
	CASE(msgrcv_sent_later),
	CASE(msgsnd_full_queue),
	CASE(mq_receive_sent_later),
	CASE(mq_timeouts),
	CASE(aio_suspend_file),
	CASE(aio_suspend_pipe),
	CASE(users_and_groups),
	CASE(disk_syncs),
	CASE(tcdrain_pty),
};

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a go said to a process that went on by itself */
	leftovers.owner = getpid();
	atexit(remove_leftovers);
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

/*
 * Behaviour-test harness: see harness.h.
 *
 * A child is started with fork and execve. Between the two, the child only makes
 * async-signal-safe calls: it asks to die with its parent, puts its pipes on 0, 1 and 2,
 * restores default signal dispositions and an empty signal mask (the runner may ignore or
 * block signals, and both survive exec), and marks every other descriptor close-on-exec.
 * If execve fails, the child sends errno back through a close-on-exec pipe, so that the
 * parent can tell "could not start" from "exited with 127".
 *
 * The parent waits with poll on the child's stdout, stderr, stdin (while there is input
 * left to feed) and a pidfd, so that a child that prints a lot never blocks on a full pipe,
 * and a child that exits while a grandchild still holds its pipes is still noticed.
 */
#include "harness.h"
#include "native_runs.h"

#include <criterion/hooks.h>
#include <criterion/options.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define DEFAULT_TIMEOUT_S 30.0
#define SHOW_OUT 1500 /* bytes of stdout shown in a message */
#define SHOW_ERR 2500 /* bytes of stderr shown in a message */
#define SHOW_LINE 300 /* characters of one differing line */

extern char **environ;

/* ---- small utilities ---------------------------------------------------------------- */

double gp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	cr_assert(p != NULL, "harness: out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	cr_assert(d != NULL, "harness: out of memory");
	return d;
}

char *gp_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0, "harness: out of memory");
	return s;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_append(struct buf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Takes the buffer's contents as a NUL-terminated string (never NULL). */
static char *buf_take(struct buf *b, size_t *len)
{
	char *p = b->p ? b->p : xstrdup("");

	*len = b->len;
	*b = (struct buf){ 0 };
	return p;
}

/*
 * Reads what fd has now (fd is non-blocking). Returns 1 when more may come, 0 at EOF or on
 * an error (the descriptor is then of no further use).
 */
static int buf_read(int fd, struct buf *b)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			buf_append(b, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- locating things ---------------------------------------------------------------- */

const char *gp_env(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v && *v,
		  "%s is not set. The behaviour tests find the library and the programs through "
		  "GP_TEST_PRELOAD, GP_TEST_LIB, GP_TEST_PROGS and GP_TEST_ROOT: run them with "
		  "`make test`, or set those variables by hand.",
		  name);
	return v;
}

const char *gp_asan_runtime(void)
{
	static char path[4096];
	const char *pre = getenv("GP_TEST_PRELOAD");

	if (!pre)
		return NULL;
	/* LD_PRELOAD's list is separated by colons or spaces. */
	for (const char *p = pre; *p;) {
		size_t n = strcspn(p, ": ");
		if (n > 0 && n < sizeof(path) && memmem(p, n, "libasan", 7)) {
			memcpy(path, p, n);
			path[n] = '\0';
			return path;
		}
		p += n + (p[n] != '\0');
	}
	return NULL;
}

bool gp_asan_preloaded(void)
{
	return gp_asan_runtime() != NULL;
}

char *gp_prog_path(const char *prog)
{
	char *path = strchr(prog, '/') ? xstrdup(prog)
				       : gp_asprintf("%s/%s", gp_env("GP_TEST_PROGS"), prog);

	cr_assert(access(path, X_OK) == 0, "%s cannot be run (%s)%s", path, strerror(errno),
		  strchr(prog, '/') ? "" : ": build the test programs with `make progs`");
	return path;
}

/* The library must exist: a missing one would only make ld.so print a warning. */
static void check_lib(void)
{
	const char *lib = gp_env("GP_TEST_LIB");

	gp_env("GP_TEST_PRELOAD");
	cr_assert(access(lib, R_OK) == 0, "GP_TEST_LIB=%s: %s: build it with `make`", lib,
		  strerror(errno));
}

static bool env_overridden(const char *entry, char *const *extra)
{
	size_t n = strcspn(entry, "=");

	if (n == strlen("LD_PRELOAD") && strncmp(entry, "LD_PRELOAD", n) == 0)
		return true; /* decided by cmd->shim alone */
	for (; extra && *extra; extra++)
		if (strncmp(entry, *extra, n) == 0 && (*extra)[n] == '=')
			return true;
	return false;
}

/* With cmd->env_only, only ASAN_OPTIONS is kept from the runner's environment. */
static bool env_inherited(const char *entry, const struct gp_cmd *cmd)
{
	if (cmd->env_only && strncmp(entry, "ASAN_OPTIONS=", 13) != 0)
		return false;
	return !env_overridden(entry, cmd->env);
}

/* The runner's environment, without its LD_PRELOAD, with the shim's and cmd->env added. */
static char **child_env(const struct gp_cmd *cmd)
{
	size_t n = 0, k = 0;
	char **env;

	for (char **e = environ; *e; e++)
		n++;
	for (char *const *e = cmd->env; e && *e; e++)
		n++;
	env = xrealloc(NULL, (n + 2) * sizeof(*env));
	for (char **e = environ; *e; e++)
		if (env_inherited(*e, cmd))
			env[k++] = xstrdup(*e);
	if (cmd->shim)
		env[k++] = gp_asprintf("LD_PRELOAD=%s", gp_env("GP_TEST_PRELOAD"));
	for (char *const *e = cmd->env; e && *e; e++)
		env[k++] = xstrdup(*e);
	env[k] = NULL;
	return env;
}

static char **child_argv(const char *path, char *const *args)
{
	size_t n = 0, k = 0;
	char **argv;

	for (char *const *a = args; a && *a; a++)
		n++;
	argv = xrealloc(NULL, (n + 2) * sizeof(*argv));
	argv[k++] = xstrdup(path);
	for (char *const *a = args; a && *a; a++)
		argv[k++] = xstrdup(*a);
	argv[k] = NULL;
	return argv;
}

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/*
 * "echo_server 1000 rw (shim)". A long argument list is cut ("...") so that the mode at
 * the end, which tells the two runs of a comparison apart, always shows.
 */
static void make_label_as(const struct gp_cmd *cmd, const char *mode, char *label, size_t size)
{
	const char *base = strrchr(cmd->prog, '/') ? strrchr(cmd->prog, '/') + 1 : cmd->prog;
	size_t room = size - strlen(mode) - strlen(" ...") - 1;
	size_t len = strlen(base) < room ? strlen(base) : room - 1;

	snprintf(label, len + 1, "%s", base);
	for (char *const *a = cmd->argv; a && *a; a++) {
		if (len + 1 + strlen(*a) > room) {
			len += (size_t)snprintf(label + len, size - len, " ...");
			break;
		}
		len += (size_t)snprintf(label + len, size - len, " %s", *a);
	}
	snprintf(label + len, size - len, "%s", mode);
}

static void make_label(const struct gp_cmd *cmd, char *label, size_t size)
{
	make_label_as(cmd, cmd->shim ? " (shim)" : " (native)", label, size);
}

/* ---- starting a child ------------------------------------------------------------- */

/* Runs in the child between fork and execve: async-signal-safe calls only. */
static void __attribute__((noreturn)) exec_child(const char *path, char **argv, char **envp, int in,
						 int out, int err, int errpipe, pid_t parent)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* the parent died before we could ask */
	/* A process group of its own, whose id is its pid: what it starts in the background
	 * (a script's servers) is stopped with it (kill_and_reap, end_group). */
	setpgid(0, 0);
	/* Out of the way first: one of them may itself be 0, 1 or 2 if the runner closed those. */
	in = fcntl(in, F_DUPFD, 3);
	out = fcntl(out, F_DUPFD, 3);
	err = fcntl(err, F_DUPFD, 3);
	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(path, argv, envp);
fail:
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/*
 * Starts path with the given descriptors as its stdin, stdout and stderr (the parent keeps
 * its own copies: close them after). Fails the test if the program cannot be started.
 */
static pid_t spawn(const char *path, char **argv, char **envp, int in, int out, int err, int *pidfd)
{
	pid_t parent = getpid(), pid;
	int ep[2], child_errno = 0;
	ssize_t n;

	cr_assert(pipe2(ep, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
	pid = fork();
	cr_assert(pid >= 0, "harness: fork: %s", strerror(errno));
	if (pid == 0)
		exec_child(path, argv, envp, in, out, err, ep[1], parent);
	close(ep[1]);
	do {
		n = read(ep[0], &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n > 0) {
		waitpid(pid, NULL, 0);
		cr_assert_fail("harness: cannot execute %s: %s", path, strerror(child_errno));
	}
	*pidfd = pidfd_open(pid, 0);
	cr_assert(*pidfd >= 0, "harness: pidfd_open: %s", strerror(errno));
	return pid;
}

static int open_devnull(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	cr_assert(fd >= 0, "harness: /dev/null: %s", strerror(errno));
	return fd;
}

static void make_pipe(int p[2])
{
	cr_assert(pipe2(p, O_CLOEXEC) == 0, "harness: pipe2: %s", strerror(errno));
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A shim run in which ld.so could not load the library would silently run natively. */
static void check_preloaded(const struct gp_run *r)
{
	cr_assert(!memmem(r->err, r->err_len, "cannot be preloaded", 19),
		  "%s: the dynamic loader did not preload the library (LD_PRELOAD=%s):\n%.*s",
		  r->label, getenv("GP_TEST_PRELOAD"), SHOW_ERR, r->err);
}

/*
 * The processes left in the group of the child pid, which has exited and is not yet
 * reaped (so that its id, the group's, cannot have been reused): killed, as a test's
 * processes must not outlive it.
 */
static void end_group(pid_t pid)
{
	kill(-pid, SIGKILL);
}

static void kill_and_reap(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

static void reap(pid_t pid, int *status)
{
	end_group(pid);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* ---- running to completion ---------------------------------------------------------- */

struct session {
	pid_t pid;
	int pidfd, in, out, err;
	const char *in_data;
	size_t in_left;
	struct buf obuf, ebuf;
};

static void feed_stdin(struct session *s)
{
	while (s->in_left > 0) {
		ssize_t n = write(s->in, s->in_data, s->in_left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* EPIPE: the child does not want the rest */
		s->in_data += n;
		s->in_left -= (size_t)n;
	}
	close_fd(&s->in);
}

/* Polls until the child exits (returns true) or the deadline passes (returns false). */
static bool pump(struct session *s, double deadline)
{
	for (;;) {
		struct pollfd p[4] = {
			{ .fd = s->out, .events = POLLIN },
			{ .fd = s->err, .events = POLLIN },
			{ .fd = s->in, .events = POLLOUT },
			{ .fd = s->pidfd, .events = POLLIN },
		};
		double left = deadline - gp_now();
		int r;

		if (left <= 0)
			return false;
		r = poll(p, 4, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "harness: poll: %s", strerror(errno));
		if (p[0].revents && !buf_read(s->out, &s->obuf))
			close_fd(&s->out);
		if (p[1].revents && !buf_read(s->err, &s->ebuf))
			close_fd(&s->err);
		if (p[2].revents)
			feed_stdin(s);
		if (p[3].revents)
			return true;
	}
}

/* ---- a run past its time ------------------------------------------------------------ */

/* The first line of /proc/PID/task/TID/NAME, without its newline; "?" if unreadable. */
static void task_line(pid_t pid, const char *tid, const char *name, char *out, size_t size)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, tid, name);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(out, (int)size, f))
		snprintf(out, size, "?");
	if (f)
		fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/*
 * For the log of a run that hung: each of its kernel threads, with its state, where
 * the kernel has it wait and the system call it is in (number first), as /proc says.
 */
static void describe_tasks(pid_t pid, struct buf *err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	const char *head = "\n[harness] at the timeout, its kernel threads:\n";
	buf_append(err, head, strlen(head));
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char comm[64], stat[512], wchan[64], sc[128], line[512];
		task_line(pid, e->d_name, "comm", comm, sizeof(comm));
		task_line(pid, e->d_name, "stat", stat, sizeof(stat));
		task_line(pid, e->d_name, "wchan", wchan, sizeof(wchan));
		task_line(pid, e->d_name, "syscall", sc, sizeof(sc));
		/* The state follows the command's closing parenthesis. */
		const char *paren = strrchr(stat, ')');
		char state = paren && paren[1] == ' ' ? paren[2] : '?';
		sc[strcspn(sc, " ")] = '\0';
		int n = snprintf(line, sizeof(line), "[harness]   %s %s: %c, in %s, system call %s\n",
				 e->d_name, comm, state, wchan[0] ? wchan : "-", sc);
		buf_append(err, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
	closedir(d);
}

/* The number cmd sets GREENPATCH_DUMP_SIGNAL to in its environment, or 0. */
static int dump_signal_of(const struct gp_cmd *cmd)
{
	static const char key[] = "GREENPATCH_DUMP_SIGNAL=";
	for (char *const *e = cmd->env; cmd->shim && e && *e; e++)
		if (strncmp(*e, key, strlen(key)) == 0)
			return atoi(*e + strlen(key));
	return 0;
}

/*
 * A run past its time is described before it is killed, so that a hang seen once says
 * where it was: its kernel threads, and where the run set a dump signal (by number),
 * the library's dump of its green threads, written to its standard error.
 */
static void describe_hang(const struct gp_cmd *cmd, struct session *s)
{
	describe_tasks(s->pid, &s->ebuf);
	int sig = dump_signal_of(cmd);
	if (sig > 0 && kill(s->pid, sig) == 0)
		(void)pump(s, gp_now() + 2);
}

int gp_run(const struct gp_cmd *cmd, struct gp_run *r)
{
	double timeout = cmd->timeout_s > 0 ? cmd->timeout_s : DEFAULT_TIMEOUT_S;
	struct session s = { .in = -1, .out = -1, .err = -1 };
	char *path = gp_prog_path(cmd->prog);
	char **argv = child_argv(path, cmd->argv), **envp;
	int o[2], e[2], i[2] = { -1, -1 };

	if (cmd->shim)
		check_lib();
	envp = child_env(cmd);
	*r = (struct gp_run){ 0 };
	make_label(cmd, r->label, sizeof(r->label));
	make_pipe(o);
	make_pipe(e);
	if (cmd->stdin_data)
		make_pipe(i);
	else
		i[0] = open_devnull();
	r->elapsed_s = gp_now();
	s.pid = spawn(path, argv, envp, i[0], o[1], e[1], &s.pidfd);
	close(o[1]);
	close(e[1]);
	close(i[0]);
	s.out = o[0];
	s.err = e[0];
	s.in = i[1];
	s.in_data = cmd->stdin_data;
	s.in_left = cmd->stdin_data ? strlen(cmd->stdin_data) : 0;
	set_nonblock(s.out);
	set_nonblock(s.err);
	if (s.in >= 0) {
		set_nonblock(s.in);
		signal(SIGPIPE, SIG_IGN); /* a child that stops reading must not kill the runner */
		feed_stdin(&s);
	}

	if (!pump(&s, r->elapsed_s + timeout)) {
		r->timed_out = true;
		describe_hang(cmd, &s);
		kill_and_reap(s.pid, &r->status);
	} else {
		reap(s.pid, &r->status);
	}
	r->elapsed_s = gp_now() - r->elapsed_s;
	/* The child is gone: what it wrote is in the pipes. A grandchild may still hold them,
       so take what is there and stop at EAGAIN rather than wait for EOF. */
	if (s.out >= 0)
		buf_read(s.out, &s.obuf);
	if (s.err >= 0)
		buf_read(s.err, &s.ebuf);
	close_fd(&s.out);
	close_fd(&s.err);
	close_fd(&s.in);
	close_fd(&s.pidfd);
	r->out = buf_take(&s.obuf, &r->out_len);
	r->err = buf_take(&s.ebuf, &r->err_len);
	free(path);
	free_strv(argv);
	free_strv(envp);
	if (cmd->shim)
		check_preloaded(r);
	return 0;
}

/*
 * A program that times its own threads prints this on stderr when the machine's load
 * starved one natively (tests/progs/stuck_cases.c): the native run is then no reference,
 * and the comparison is made again, up to STARVED_TRIES times in all.
 */
#define STARVED_MARK "(starved)"
#define STARVED_TRIES 3

bool gp_run_native(const struct gp_cmd *cmd, struct gp_run *r)
{
	char *path = gp_prog_path(cmd->prog);

	*r = (struct gp_run){ 0 };
	bool kept = gp_native_run_load(path, cmd, r);
	if (kept) {
		make_label_as(cmd, " (native, kept from an earlier pass)", r->label,
			      sizeof(r->label));
	} else {
		gp_run(cmd, r);
		gp_native_run_save(path, cmd, r, STARVED_MARK);
	}
	free(path);
	return kept;
}

int gp_run_prog(const char *prog, char *const argv[], bool shim, double timeout_s,
		const char *stdin_data, struct gp_run *r)
{
	struct gp_cmd cmd = {
		.prog = prog,
		.argv = argv,
		.shim = shim,
		.timeout_s = timeout_s,
		.stdin_data = stdin_data,
	};

	return gp_run(&cmd, r);
}

void gp_run_free(struct gp_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}

/* ---- background children ------------------------------------------------------------ */

#define MAX_BG 16
static struct gp_bg *bg_list[MAX_BG];

static void bg_register(struct gp_bg *bg)
{
	for (int i = 0; i < MAX_BG; i++) {
		if (!bg_list[i]) {
			bg_list[i] = bg;
			return;
		}
	}
	cr_assert_fail("harness: more than %d background children", MAX_BG);
}

static void bg_unregister(struct gp_bg *bg)
{
	for (int i = 0; i < MAX_BG; i++)
		if (bg_list[i] == bg)
			bg_list[i] = NULL;
}

int gp_bg_start(const struct gp_cmd *cmd, struct gp_bg *bg)
{
	char *path = gp_prog_path(cmd->prog);
	char **argv = child_argv(path, cmd->argv), **envp;
	int o[2], in;

	if (cmd->shim)
		check_lib();
	envp = child_env(cmd);
	*bg = (struct gp_bg){ .out_fd = -1, .err_fd = -1, .pidfd = -1 };
	make_label(cmd, bg->run.label, sizeof(bg->run.label));
	make_pipe(o);
	in = open_devnull();
	bg->err_fd = memfd_create("gp-test-stderr", MFD_CLOEXEC);
	cr_assert(bg->err_fd >= 0, "harness: memfd_create: %s", strerror(errno));
	bg->t0 = gp_now();
	bg->pid = spawn(path, argv, envp, in, o[1], bg->err_fd, &bg->pidfd);
	close(o[1]);
	close(in);
	bg->out_fd = o[0];
	set_nonblock(bg->out_fd);
	bg_register(bg);
	free(path);
	free_strv(argv);
	free_strv(envp);
	return 0;
}

/* Reads the child's stderr file from the start. */
static void bg_collect_err(struct gp_bg *bg)
{
	struct buf b = { 0 };
	char chunk[65536];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(bg->err_fd, chunk, sizeof(chunk), off)) > 0) {
		buf_append(&b, chunk, (size_t)n);
		off += n;
	}
	free(bg->run.err);
	bg->run.err = buf_take(&b, &bg->run.err_len);
}

/* Copies what is known so far into bg->run, for messages. */
static void bg_snapshot(struct gp_bg *bg)
{
	free(bg->run.out);
	bg->run.out = xrealloc(NULL, bg->out_len + 1);
	memcpy(bg->run.out, bg->out ? bg->out : "", bg->out_len);
	bg->run.out[bg->out_len] = '\0';
	bg->run.out_len = bg->out_len;
	bg_collect_err(bg);
	bg->run.elapsed_s = gp_now() - bg->t0;
}

static void bg_reap(struct gp_bg *bg, bool kill_it)
{
	if (!bg->pid)
		return;
	if (kill_it) {
		kill_and_reap(bg->pid, &bg->run.status);
		bg->run.timed_out = true;
	} else {
		reap(bg->pid, &bg->run.status);
	}
	bg->pid = 0;
}

/* Reads stdout until the child exits or the deadline passes. Returns true if it exited. */
static bool bg_pump(struct gp_bg *bg, double deadline, bool stop_at_newline)
{
	struct buf b = { bg->out, bg->out_len, bg->out_len + 1 };
	bool exited = false;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = bg->out_fd, .events = POLLIN },
			{ .fd = bg->pidfd, .events = POLLIN },
		};
		double left = deadline - gp_now();
		int r;

		if (stop_at_newline && b.p && memchr(b.p, '\n', b.len))
			break;
		if (left <= 0)
			break;
		r = poll(p, 2, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert(r >= 0, "harness: poll: %s", strerror(errno));
		if (p[0].revents && !buf_read(bg->out_fd, &b))
			close_fd(&bg->out_fd);
		if (p[1].revents) {
			if (bg->out_fd >= 0)
				buf_read(bg->out_fd, &b);
			exited = true;
			break;
		}
	}
	bg->out = b.p;
	bg->out_len = b.len;
	return exited;
}

int gp_bg_first_line(struct gp_bg *bg, double timeout_s, char *line, size_t size)
{
	bool exited = bg_pump(bg, gp_now() + timeout_s, true);
	char *nl = bg->out ? memchr(bg->out, '\n', bg->out_len) : NULL;

	if (!nl) {
		bg_reap(bg, !exited);
		bg_snapshot(bg);
		if (bg->run.timed_out)
			bg->run.elapsed_s = timeout_s;
		return -1;
	}
	snprintf(line, size, "%.*s", (int)(nl - bg->out), bg->out);
	return 0;
}

void gp_bg_wait(struct gp_bg *bg, double timeout_s)
{
	if (bg->pid) {
		bool exited = bg_pump(bg, gp_now() + timeout_s, false);

		bg_reap(bg, !exited);
	}
	bg_snapshot(bg);
	if (bg->run.timed_out)
		bg->run.elapsed_s = timeout_s;
}

void gp_bg_stop(struct gp_bg *bg)
{
	bg_reap(bg, true);
	close_fd(&bg->out_fd);
	close_fd(&bg->err_fd);
	close_fd(&bg->pidfd);
	free(bg->out);
	bg->out = NULL;
	bg->out_len = 0;
	gp_run_free(&bg->run);
	bg_unregister(bg);
}

void gp_bg_stop_all(void)
{
	for (int i = 0; i < MAX_BG; i++)
		if (bg_list[i])
			gp_bg_stop(bg_list[i]);
}

/* ---- describing and comparing runs ---------------------------------------------------- */

const char *gp_status_str(const struct gp_run *r, char *buf, size_t size)
{
	if (r->timed_out)
		snprintf(buf, size, "timed out, killed by the harness");
	else if (WIFEXITED(r->status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(buf, size, "killed by SIG%s%s", sigabbrev_np(WTERMSIG(r->status)) ?: "?",
			 WCOREDUMP(r->status) ? " (core dumped)" : "");
	else
		snprintf(buf, size, "wait status %#x", r->status);
	return buf;
}

/* Appends text to f, quoted, with control characters escaped, cut at max bytes. */
static void put_quoted(FILE *f, const char *s, size_t len, size_t max)
{
	fputc('"', f);
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
	if (len > max)
		fprintf(f, "... (%zu more bytes)", len - max);
}

/* Appends a block of output, indented, cut at max bytes: "  stderr of LABEL:". */
static void put_block(FILE *f, const char *title, const char *label, const char *s, size_t len,
		      size_t max)
{
	if (len == 0) {
		fprintf(f, "  %s%s%s: (empty)\n", title, label ? " of " : "", label ? label : "");
		return;
	}
	fprintf(f, "  %s%s%s:\n    | ", title, label ? " of " : "", label ? label : "");
	for (size_t i = 0; i < len && i < max; i++) {
		fputc(s[i], f);
		if (s[i] == '\n' && i + 1 < len && i + 1 < max)
			fputs("    | ", f);
	}
	if (s[(len < max ? len : max) - 1] != '\n')
		fputc('\n', f);
	if (len > max)
		fprintf(f, "    ... (%zu more bytes)\n", len - max);
}

static char *memstream_done(FILE *f, char **p)
{
	fclose(f);
	return *p;
}

char *gp_describe(const struct gp_run *r)
{
	char st[128], *p = NULL;
	size_t n;
	FILE *f = open_memstream(&p, &n);

	fprintf(f, "%s: %s after %.2f s\n", r->label, gp_status_str(r, st, sizeof(st)),
		r->elapsed_s);
	put_block(f, "stdout", NULL, r->out, r->out_len, SHOW_OUT);
	put_block(f, "stderr", NULL, r->err, r->err_len, SHOW_ERR);
	return memstream_done(f, &p);
}

char *gp_check_ok(const struct gp_run *r, int want_exit)
{
	char *d, *msg;

	if (!r->timed_out && WIFEXITED(r->status) && WEXITSTATUS(r->status) == want_exit)
		return NULL;
	d = gp_describe(r);
	msg = gp_asprintf("expected exit %d, got:\n%s", want_exit, d);
	free(d);
	return msg;
}

/* Start and length of line number n (0-based) of text; false past the end. */
static bool nth_line(const char *text, size_t len, size_t n, const char **start, size_t *llen)
{
	const char *p = text, *end = text + len;

	for (size_t i = 0; i < n; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			return false;
		p = nl + 1;
	}
	if (p >= end)
		return false;
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	*start = p;
	*llen = (size_t)((nl ? nl : end) - p);
	return true;
}

static void put_first_difference(FILE *f, const struct gp_run *a, const struct gp_run *b)
{
	for (size_t i = 0;; i++) {
		const char *la = NULL, *lb = NULL;
		size_t na = 0, nb = 0;
		bool ha = nth_line(a->out, a->out_len, i, &la, &na);
		bool hb = nth_line(b->out, b->out_len, i, &lb, &nb);

		if (!ha && !hb)
			break; /* differ only in a final newline */
		if (ha && hb && na == nb && memcmp(la, lb, na) == 0)
			continue;
		fprintf(f, "  stdout first differs at line %zu:\n    %s: ", i + 1, a->label);
		if (ha)
			put_quoted(f, la, na, SHOW_LINE);
		else
			fputs("(no such line)", f);
		fprintf(f, "\n    %s: ", b->label);
		if (hb)
			put_quoted(f, lb, nb, SHOW_LINE);
		else
			fputs("(no such line)", f);
		fputc('\n', f);
		break;
	}
	fprintf(f, "  stdout has %zu lines (%zu bytes) vs %zu lines (%zu bytes)\n",
		gp_count_lines(a->out, a->out_len), a->out_len, gp_count_lines(b->out, b->out_len),
		b->out_len);
}

char *gp_diff_runs(const struct gp_run *a, const struct gp_run *b)
{
	bool same_out = a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0;
	char sa[128], sb[128], *p = NULL;
	size_t n;
	FILE *f;

	if (same_out && a->status == b->status && !a->timed_out && !b->timed_out)
		return NULL;
	f = open_memstream(&p, &n);
	fprintf(f, "runs differ:\n  %s: %s after %.2f s\n  %s: %s after %.2f s\n", a->label,
		gp_status_str(a, sa, sizeof(sa)), a->elapsed_s, b->label,
		gp_status_str(b, sb, sizeof(sb)), b->elapsed_s);
	if (same_out)
		fprintf(f, "  stdout identical (%zu lines)\n", gp_count_lines(a->out, a->out_len));
	else
		put_first_difference(f, a, b);
	put_block(f, "stderr", a->label, a->err, a->err_len, SHOW_ERR);
	put_block(f, "stderr", b->label, b->err, b->err_len, SHOW_ERR);
	return memstream_done(f, &p);
}

/* ---- parsing output ---------------------------------------------------------------- */

size_t gp_count_lines(const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n + (len > 0 && text[len - 1] != '\n');
}

bool gp_kv(const char *text, const char *key, char *val, size_t size)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t llen = nl ? (size_t)(nl - line) : strlen(line);

		if (llen > klen && strncmp(line, key, klen) == 0 &&
		    (line[klen] == ' ' || line[klen] == '\t')) {
			const char *v = line + klen;

			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(val, size, "%.*s", (int)(line + llen - v), v);
			return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

bool gp_kv_long(const char *text, const char *key, long *val)
{
	char buf[64], *end;

	if (!gp_kv(text, key, buf, sizeof(buf)))
		return false;
	errno = 0;
	*val = strtol(buf, &end, 10);
	return errno == 0 && end != buf && *end == '\0';
}

/* ---- comparisons -------------------------------------------------------------------- */

/*
 * Runs prog with argv natively, and under the shim with shim_env added (may be NULL). The
 * native run may be one kept from an earlier pass (native_runs.h) unless fresh; where the
 * two differ, the native one is made again, so that a kept run never decides alone.
 */
static void run_both(const char *prog, char *const argv[], char *const *shim_env,
		     double timeout_s, bool fresh, struct gp_run *n, struct gp_run *s)
{
	struct gp_cmd native = { .prog = prog, .argv = argv, .timeout_s = timeout_s };
	struct gp_cmd shim = { .prog = prog, .argv = argv, .shim = true, .timeout_s = timeout_s,
			       .env = shim_env };

	for (int tries = 1;; tries++) {
		bool kept = false;
		if (fresh || tries > 1)
			gp_run(&native, n);
		else
			kept = gp_run_native(&native, n);
		gp_run(&shim, s);
		char *kept_diff = kept ? gp_diff_runs(n, s) : NULL;
		if (kept_diff) {
			free(kept_diff);
			gp_run_free(n);
			gp_run(&native, n);
		}
		if (tries == STARVED_TRIES || !n->err || !strstr(n->err, STARVED_MARK))
			return;
		char *diff = gp_diff_runs(n, s);
		if (!diff)
			return;
		/* Not cr_log_warn: Criterion ends a run that has warnings with status 1. */
		fprintf(stderr, "[RETRY] %s: the machine starved the native run (try %d); "
			"again:\n%s\n", prog, tries, diff);
		free(diff);
		gp_run_free(n);
		gp_run_free(s);
	}
}

void gp_compare_env(const char *prog, char *const argv[], char *const *shim_env,
		    double timeout_s, struct gp_run *native, struct gp_run *shim)
{
	struct gp_run n, s;

	run_both(prog, argv, shim_env, timeout_s, false, &n, &s);
	gp_expect_same(&n, &s);
	if (native)
		*native = n;
	else
		gp_run_free(&n);
	if (shim)
		*shim = s;
	else
		gp_run_free(&s);
}

void gp_compare(const char *prog, char *const argv[], double timeout_s, struct gp_run *native,
		struct gp_run *shim)
{
	gp_compare_env(prog, argv, NULL, timeout_s, native, shim);
}

/* ---- programs made of cases, and pending cases ----------------------------------------- */

/*
 * After this many cases that hang, gp_compare_each_case_except runs no more: a
 * shim that hangs everywhere then fails within seconds, naming the cases left out.
 */
#define MAX_HUNG_CASES 3

const struct gp_pending *gp_pending_find(const struct gp_pending *pending, size_t n,
					 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pending[i].name, name) == 0)
			return &pending[i];
	return NULL;
}

static char *strv_find(char *const *v, const char *s)
{
	for (; *v; v++)
		if (strcmp(*v, s) == 0)
			return *v;
	return NULL;
}

/* Appends " word" to *list. */
static void append_word(char **list, const char *word)
{
	char *l = gp_asprintf("%s %s", *list, word);

	free(*list);
	*list = l;
}

/* The names that prog --list prints, in its order; NULL-terminated, for free_strv. */
static char **list_cases(const char *prog)
{
	struct gp_run list;
	char **names = xrealloc(NULL, sizeof(*names)), *save = NULL;
	size_t n = 0;

	gp_run_prog(prog, GP_ARGV("--list"), false, 10, NULL, &list);
	gp_assert_ok(&list);
	for (char *w = strtok_r(list.out, "\n", &save); w; w = strtok_r(NULL, "\n", &save)) {
		names = xrealloc(names, (n + 2) * sizeof(*names));
		names[n++] = xstrdup(w);
	}
	names[n] = NULL;
	gp_run_free(&list);
	cr_assert(n > 0, "%s --list named no cases", prog);
	return names;
}

/* The cases of prog that are not pending, in list order. */
static char **cases_to_compare(const char *prog, const struct gp_pending *pending, size_t n)
{
	char **names = list_cases(prog);
	size_t k = 0;

	for (char **p = names; *p; p++) {
		if (gp_pending_find(pending, n, *p))
			free(*p);
		else
			names[k++] = *p;
	}
	names[k] = NULL;
	return names;
}

void gp_compare_cases_env(const char *prog, const struct gp_pending *pending, size_t n,
			  char *const *shim_env, double timeout_s)
{
	char **names = cases_to_compare(prog, pending, n);

	/* With no name, the program would run every case, pending ones included. */
	cr_assert(names[0] != NULL, "every case of %s is pending: nothing is left to compare",
		  prog);
	gp_compare_env(prog, names, shim_env, timeout_s, NULL, NULL);
	free_strv(names);
}

void gp_compare_cases(const char *prog, const struct gp_pending *pending, size_t n,
		      double timeout_s)
{
	gp_compare_cases_env(prog, pending, n, NULL, timeout_s);
}

struct case_tally {
	int compared, differ, hung;
	char *differing; /* " name name ..." */
	char *not_run;
};

/*
 * Each case is compared once more when it differs, as real::same does: once in a CI run,
 * a native read with a 100 ms SO_RCVTIMEO returned in under 90 ms, on a loaded virtual
 * machine, and nothing the library does can make the native run right. The first
 * difference stays in the log; a library that gets a case wrong most of the time still
 * fails it. A case that hung is not run again: it costs its whole timeout.
 */
static char *compare_case_twice(const char *prog, char *name, char *const *shim_env,
				double timeout_s, struct gp_run *n, struct gp_run *s)
{
	run_both(prog, GP_ARGV(name), shim_env, timeout_s, false, n, s);
	char *diff = gp_diff_runs(n, s);
	if (!diff || n->timed_out || s->timed_out)
		return diff;
	/* Not cr_log_warn: Criterion ends a run that has warnings with status 1. */
	fprintf(stderr, "[RETRY] %s: case %s differs (try 1), again:\n%s\n", prog, name, diff);
	free(diff);
	gp_run_free(n);
	gp_run_free(s);
	run_both(prog, GP_ARGV(name), shim_env, timeout_s, true, n, s);
	return gp_diff_runs(n, s);
}

static void compare_one_case(const char *prog, char *name, char *const *shim_env,
			     double timeout_s, struct case_tally *t)
{
	struct gp_run n, s;
	char *diff = compare_case_twice(prog, name, shim_env, timeout_s, &n, &s);

	t->compared++;
	if (diff) {
		cr_expect_fail("case %s: %s", name, diff);
		append_word(&t->differing, name);
		t->differ++;
		t->hung += n.timed_out || s.timed_out;
	}
	free(diff);
	gp_run_free(&n);
	gp_run_free(&s);
}

static void compare_each_case(const char *prog, const struct gp_pending *pending, size_t n,
			      char *const *shim_env, double timeout_s)
{
	char **names = cases_to_compare(prog, pending, n);
	struct case_tally t = { .differing = xstrdup(""), .not_run = xstrdup("") };

	for (char **p = names; *p; p++) {
		if (t.hung < MAX_HUNG_CASES)
			compare_one_case(prog, *p, shim_env, timeout_s, &t);
		else
			append_word(&t.not_run, *p);
	}
	if (t.differ)
		cr_log_error("%s: %d of %d cases differ under the shim:%s", prog, t.differ,
			     t.compared, t.differing);
	cr_expect(*t.not_run == '\0', "%s: %d cases hung under the shim; not run:%s", prog,
		  t.hung, t.not_run);
	free(t.differing);
	free(t.not_run);
	free_strv(names);
}

void gp_compare_each_case_except(const char *prog, const struct gp_pending *pending, size_t n,
				 double timeout_s)
{
	compare_each_case(prog, pending, n, NULL, timeout_s);
}

void gp_compare_each_case(const char *prog, double timeout_s)
{
	compare_each_case(prog, NULL, 0, NULL, timeout_s);
}

void gp_compare_each_case_env(const char *prog, const struct gp_pending *pending, size_t n,
			      char *const *shim_env, double timeout_s)
{
	compare_each_case(prog, pending, n, shim_env, timeout_s);
}

/*
 * Whether case name of prog ends as natively under the shim within GP_PENDING_TIMEOUT_S:
 * long enough for any case natively, short enough that a hang costs little.
 */
static bool case_behaves(const char *prog, char *name)
{
	struct gp_run n, s;
	char *diff;
	bool same;

	gp_run_prog(prog, GP_ARGV(name), false, GP_PENDING_TIMEOUT_S, NULL, &n);
	gp_run_prog(prog, GP_ARGV(name), true, GP_PENDING_TIMEOUT_S, NULL, &s);
	/* A case that fails natively would differ for the wrong reason. */
	gp_expect_ok(&n);
	diff = gp_diff_runs(&n, &s);
	same = diff == NULL;
	free(diff);
	gp_run_free(&n);
	gp_run_free(&s);
	return same;
}

void gp_expect_still_pending(const char *prog, const struct gp_pending *pending, size_t n)
{
	if (n == 0)
		cr_skip_test("no case of %s is pending", prog);
	char **names = list_cases(prog);

	for (size_t i = 0; i < n; i++) {
		char *name = strv_find(names, pending[i].name);

		if (name)
			gp_expect_still_differs(name, !case_behaves(prog, name));
		else
			cr_expect_fail("pending case %s is not a case of %s (see %s --list)",
				       pending[i].name, prog, prog);
	}
	free_strv(names);
}

/* ---- reporting skipped tests ---------------------------------------------------------- */

/*
 * Criterion names skipped tests only with --verbose, and its synthesis does not count
 * them: a pending case would then vanish from the report. These hooks run in the runner.
 * Only tests that ran and skipped themselves count; --filter's leftovers are not news.
 */
static size_t skipped_tests;

ReportHook(POST_TEST)(struct criterion_test_stats *st)
{
	if (st->test_status != CR_STATUS_SKIPPED || !st->message)
		return;
	skipped_tests++;
	if (criterion_options.logging_threshold > CRITERION_INFO) /* else Criterion says it */
		fprintf(stderr, "[SKIP] %s::%s: %s\n", st->test->category, st->test->name,
			st->message);
}

ReportHook(POST_ALL)(struct criterion_global_stats *st)
{
	(void)st;
	if (skipped_tests)
		fprintf(stderr, "[====] Skipped: %zu (each named above, with the reason)\n",
			skipped_tests);
}

int gp_carriers(void)
{
	const char *v = getenv("GREENPATCH_CARRIERS");
	if (v && atoi(v) > 0)
		return atoi(v);
	cpu_set_t set;   /* the library's default: one per CPU the process may run on */
	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0
		       ? CPU_COUNT(&set) : 1;
}

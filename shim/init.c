/*
 * Start-up: resolve the real functions, read the configuration before main (a bad
 * GREENPATCH_* value stops the program there, with one line), and start the runtime on
 * the first pthread_create.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "hook.h"
#include "tls.h"
#include "watch.h"
#include "offcall.h"
#include "signals.h"
#include "stdio_lock.h"
#include "tsd.h"

__thread int gp__in_user __attribute__((tls_model("initial-exec")));
__thread unsigned gp__enters __attribute__((tls_model("initial-exec")));
__thread int gp__in_handler __attribute__((tls_model("initial-exec")));
__thread uintptr_t gp__handler_frame[GP_HANDLER_FRAMES]
	__attribute__((tls_model("initial-exec")));

int gp__handlers_running(uintptr_t sp)
{
	/* Stacks grow down: a handler's frames all lie below the frame it began in. A
	 * marked one (SA_ONSTACK) is never taken as left. */
	while (gp__in_handler > 0 && gp__in_handler <= GP_HANDLER_FRAMES) {
		uintptr_t frame = gp__handler_frame[gp__in_handler - 1];
		if ((frame & GP_HANDLER_ONSTACK) || frame >= sp)
			break;
		gp__in_handler--;
	}
	return gp__in_handler;
}

__attribute__((noinline)) bool gp__in_handler_now(void)
{
	return gp__handlers_running((uintptr_t)__builtin_frame_address(0)) > 0;
}

void gp__wake_from_afar(const void *addr, size_t n)
{
	int in_user = gp__in_user;
	gp__in_user = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (n == 1)
		gp_unpark_on_async(addr);
	else
		gp_unpark_all_on_async(addr);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gp__in_user = in_user;
}

void gp__rejoin_at_hook(void)
{
	gp_enter();   /* rejoins: gp_sched_check_owner */
	gp_leave();
}

bool gp__block_handoff(void)
{
	gp_enter();
	if (gp_handoff_self())
		return true;
	gp_leave();
	return false;
}

void gp__block_end(void)
{
	gp__rejoin_at_hook();
}

size_t gp__glibc_stack_size(void)
{
	static size_t size;
	if (!size) {
		pthread_attr_t attr;
		if (pthread_getattr_default_np(&attr) == 0) {
			pthread_attr_getstacksize(&attr, &size);
			pthread_attr_destroy(&attr);
		}
	}
	return size;
}

/* The green stack size when neither the variable nor the attributes say. */
static size_t default_green_stack(void)
{
	size_t size = gp__glibc_stack_size();
	return size >= GP_STACK_MIN ? size : 8u << 20;
}

/*
 * A green thread forks from inside the bracket, on the kernel thread that owns the
 * carrier: a handed-off thread rejoins first (core/kthread.h), so that the child's copy
 * of the runtime is never caught half-changed by another kernel thread.
 */
static __thread bool fork_entered __attribute__((tls_model("initial-exec")));

static void before_fork(void)
{
	fork_entered = gp_on_green();
	if (fork_entered)
		gp_enter();
}

static void after_fork_in_parent(void)
{
	if (fork_entered)
		gp_leave();
}

/* The child of fork runs its one thread as a plain process: see gp_sched_after_fork. */
static void after_fork_in_child(void)
{
	gp_peek_after_fork();
	gp__in_user = 0;
	gp__file_locks_after_fork();
	if (fork_entered) {
		gp__tsd_after_fork(gp_self());
		gp__remember_forker(gp_self());
	}
	gp_sched_after_fork();
}

/* GREENPATCH_STATS: the statistics when the process exits (atexit, exit or main's return). */
static void write_stats(void)
{
	/* A process that never started a thread (a shell run by system) has nothing to say. */
	if (!gp_config.stats || !gp_rt)
		return;
	int fd = 2;
	if (*gp_config.stats) {
		fd = open(gp_config.stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			char shown[GP_SHOWN_SIZE];
			gp_log(GP_LOG_ERROR, "GREENPATCH_STATS: cannot open %s: %s",
			       gp_shown(gp_config.stats, strlen(gp_config.stats), shown), strerror(errno));
			return;
		}
	}
	gp_stats_write(fd);
	if (fd != 2)
		GP_REAL(close)(fd);
}

/*
 * GREENPATCH_NO_INHERIT: the loader has read LD_PRELOAD already, so this process keeps
 * the library; taking it out of the environment now keeps it from every child (exec,
 * posix_spawn, system) without hooking any of them.
 */
static void drop_from_ld_preload(void)
{
	const char *v = getenv("LD_PRELOAD");
	if (!v)
		return;
	char kept[4096];
	size_t n = 0;
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ": ");
		const char *base = memrchr(p, '/', len);
		base = base ? base + 1 : p;
		size_t blen = len - (size_t)(base - p);
		bool ours = blen == strlen("libgreenpatch.so") &&
			    memcmp(base, "libgreenpatch.so", blen) == 0;
		if (!ours && len && n + len + 2 < sizeof(kept)) {
			if (n)
				kept[n++] = ':';
			memcpy(kept + n, p, len);
			n += len;
		}
		p += len;
		p += strspn(p, ": ");
	}
	kept[n] = '\0';
	if (n)
		setenv("LD_PRELOAD", kept, 1);
	else
		unsetenv("LD_PRELOAD");
}

__attribute__((constructor(101))) static void gp_init(void)
{
	gp_real_init();
	char err[512];
	if (gp_config_load(err, sizeof(err)) < 0) {
		char line[600];
		int n = snprintf(line, sizeof(line), "greenpatch: %s\n", err);
		GP_REAL(write)(2, line, (size_t)n);
		_exit(2);
	}
	if (!gp_config.stack_size)
		gp_config.stack_size = default_green_stack();
	pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
	if (gp_config.no_inherit)
		drop_from_ld_preload();
	if (gp_config.stats)
		atexit(write_stats);
	/* Before main, so that the signal never takes its default action (a USR2 would
	 * end the program) once the user asked for dumps on it. */
	if (gp_config.dump_signal)
		gp__dump_signal_init();
}

static void *thread_main(struct gp_green *g)
{
	gp_leave();
	void *ret = g->start(g->arg);
	gp__thread_cleanup(g);
	gp_enter();
	return ret;
}

int gp__runtime_start(void)
{
	if (gp_rt)
		return 0;
	gp_real_init();
	gp__in_user_offset = (long)((char *)&gp__in_user - (char *)gp_tp_get());
	gp__enters_offset = (long)((char *)&gp__enters - (char *)gp_tp_get());
	int rc = gp_sched_start();
	if (rc < 0)
		return rc;
	gp__thread_main = thread_main;
	gp__sigaction_init();
	gp__thread_signals_to = gp__signals_adopt;
	gp__rejoin_unblocked = gp__take_kept_signals;
	gp__offload_init();
	gp__raw_syscall = GP_REAL(syscall);
	gp_sched_start_carriers();
	gp__overflow_watch();
	if (gp_watch_start() < 0)
		gp_log(GP_LOG_WARNING, "cannot start the stall detector (GREENPATCH_STALL_MS)");
	gp__describe_wait = gp__describe_wait_shim;
	gp__sync_debug_init();
	/* The program's first thread keeps the identity it had before the runtime (in the
	 * child of a fork made by a green thread, that thread's). */
	gp_rt->main->handle = gp__forker_handle ? gp__forker_handle
						: (uintptr_t)GP_REAL(pthread_self)();
	prctl(PR_GET_NAME, gp_rt->main->name);
	gp__file_locks_adopt(gp_rt->main);
	gp__signals_adopt(gp_rt->main);
	gp__sched_adopt(gp_rt->main);
	gp_leave();
	return 0;
}

double gp_until(clockid_t clock, const struct timespec *abs)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return (double)(abs->tv_sec - now.tv_sec) + (double)(abs->tv_nsec - now.tv_nsec) * 1e-9;
}

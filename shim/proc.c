/*
 * Waiting for processes, and running them with system and pclose, go to the offload
 * pool: the wait is a blocking system call with no readiness to wait for. Calls with
 * WNOHANG never block and stay here. A pool thread never takes signals, so a wait there
 * is not interrupted by one: the green caller gets its result when the child ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "hook.h"
#include "offcall.h"

struct wait_call {
	struct gp_offcall c;
	pid_t pid;
	int *status;
	int options;
	struct rusage *usage;
	idtype_t idtype;
	id_t id;
	siginfo_t *info;
	const char *command;
	FILE *stream;
};

static void run_wait4(struct gp_offcall *c)
{
	struct wait_call *w = (struct wait_call *)c;
	c->ret = GP_REAL(wait4)(w->pid, w->status, w->options, w->usage);
}

static void run_waitid(struct gp_offcall *c)
{
	struct wait_call *w = (struct wait_call *)c;
	c->ret = GP_REAL(waitid)(w->idtype, w->id, w->info, w->options);
}

static void run_system(struct gp_offcall *c)
{
	struct wait_call *w = (struct wait_call *)c;
	c->ret = GP_REAL(system)(w->command);
}

static void run_pclose(struct gp_offcall *c)
{
	struct wait_call *w = (struct wait_call *)c;
	c->ret = GP_REAL(pclose)(w->stream);
}

static pid_t offload_wait4(pid_t pid, int *status, int options, struct rusage *usage)
{
	struct wait_call w = { .c.run = run_wait4, .c.unbounded = true, .pid = pid, .status = status,
			       .options = options, .usage = usage };
	gp__offload_call(&w.c);
	return (pid_t)w.c.ret;
}

pid_t wait4(pid_t pid, int *status, int options, struct rusage *usage)
{
	if (!gp__offload_wanted() || (options & WNOHANG))
		return GP_REAL(wait4)(pid, status, options, usage);
	return offload_wait4(pid, status, options, usage);
}

pid_t waitpid(pid_t pid, int *status, int options)
{
	if (!gp__offload_wanted() || (options & WNOHANG))
		return GP_REAL(waitpid)(pid, status, options);
	return offload_wait4(pid, status, options, NULL);
}

pid_t wait(int *status)
{
	if (!gp__offload_wanted())
		return GP_REAL(wait)(status);
	return offload_wait4(-1, status, 0, NULL);
}

pid_t wait3(int *status, int options, struct rusage *usage)
{
	if (!gp__offload_wanted() || (options & WNOHANG))
		return GP_REAL(wait3)(status, options, usage);
	return offload_wait4(-1, status, options, usage);
}

int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	if (!gp__offload_wanted() || (options & WNOHANG))
		return GP_REAL(waitid)(idtype, id, info, options);
	struct wait_call w = { .c.run = run_waitid, .c.unbounded = true, .idtype = idtype, .id = id, .info = info,
			       .options = options };
	gp__offload_call(&w.c);
	return (int)w.c.ret;
}

int system(const char *command)
{
	if (!gp__offload_wanted() || !command)
		return GP_REAL(system)(command);
	struct wait_call w = { .c.run = run_system, .c.unbounded = true, .command = command };
	gp__offload_call(&w.c);
	return (int)w.c.ret;
}

int pclose(FILE *stream)
{
	if (!gp__offload_wanted())
		return GP_REAL(pclose)(stream);
	struct wait_call w = { .c.run = run_pclose, .c.unbounded = true, .stream = stream };
	gp__offload_call(&w.c);
	return (int)w.c.ret;
}

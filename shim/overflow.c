/*
 * A green thread that overflows its stack hits the guard page below it. Instead of a
 * bare SIGSEGV the program then gets one line naming the thread and what sets its
 * stack size, and the same death by SIGSEGV as natively.
 *
 * The handler is installed when the runtime starts, only if the program left SIGSEGV
 * at its default (a program's own handler is never replaced), and runs on an
 * alternate signal stack, since the faulting stack is full. If the fault is not a
 * guard page, or once the line is written, the default action is restored and the
 * faulting instruction runs again, so the process dies exactly as it would have.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"

#define ALT_STACK_SIZE (64 * 1024)

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	struct gp_green *g = gp_rt ? gp_self() : NULL;
	if (g && gp_stack_addr_in_guard(&g->stack, info->si_addr)) {
		char line[256];
		int n = snprintf(line, sizeof(line),
				 "greenpatch[%d]: error: green thread %llu \"%s\" overflowed its "
				 "stack of %zu KiB (GREENPATCH_STACK_SIZE, or the thread's "
				 "pthread_attr_setstacksize, sets it)\n",
				 (int)getpid(), (unsigned long long)g->id, g->name,
				 g->stack.size / 1024);
		if (n > 0)
			gp__log_write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line));
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	GP_REAL(sigaction)(sig, &dfl, NULL);
}

void gp__overflow_watch(void)
{
	struct sigaction old;
	if (GP_REAL(sigaction)(SIGSEGV, NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
	    (old.sa_flags & SA_SIGINFO))
		return;
	stack_t ss, cur;
	if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
		ss.ss_sp = malloc(ALT_STACK_SIZE);
		ss.ss_size = ALT_STACK_SIZE;
		ss.ss_flags = 0;
		if (!ss.ss_sp || sigaltstack(&ss, NULL) != 0)
			return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	GP_REAL(sigaction)(SIGSEGV, &sa, NULL);
}

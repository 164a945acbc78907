#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "offload.h"
#include "sched.h"
#include "util.h"

static void default_describe(struct gp_green *g, char *buf, size_t len)
{
	if (g->wait_obj)
		snprintf(buf, len, "%s %p", g->waits_for, g->wait_obj);
	else
		snprintf(buf, len, "%s", g->waits_for ? g->waits_for : "?");
}

void (*gp__describe_wait)(struct gp_green *g, char *buf, size_t len) = default_describe;

void gp__deadlock_check(struct gp_carrier *c)
{
	if (c->deadlock_reported || c->parked == 0 || c->parked < c->alive ||
	    c->parked_wakeable > 0)
		return;
	c->deadlock_reported = true;
	gp_log(GP_LOG_ERROR, "deadlock: all %zu green threads wait, and no timer or descriptor "
	       "can wake them (only a kernel thread outside the runtime still could):",
	       c->alive);
	for (struct gp_green *g = c->all; g; g = g->all_next) {
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

void gp_stats_write(int fd)
{
	struct gp_stats st = { 0 };
	if (gp_carrier)
		st = gp_carrier->stats;
	char buf[2048];
	int n = snprintf(buf, sizeof(buf),
			 "greenpatch[%d]: stats: green threads created %llu, peak alive %llu; "
			 "context switches %llu; parks %llu; loop polls %llu; offloaded calls %lu "
			 "on %d pool threads\n",
			 (int)getpid(), (unsigned long long)st.created,
			 (unsigned long long)st.peak_alive, (unsigned long long)st.switches,
			 (unsigned long long)st.parks, (unsigned long long)st.polls,
			 gp_offload_calls(), gp_offload_threads());
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

#include "watch.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
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

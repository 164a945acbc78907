#include "watch.h"

#include <stdint.h>
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

/* Every live thread parked, none of them wakeable by a timer or a descriptor. */
static bool looks_deadlocked(const struct gp_carrier *c)
{
	return c->parked > 0 && c->parked >= c->alive && c->parked_wakeable == 0;
}

static void report(struct gp_carrier *c)
{
	c->deadlock_reported = true;
	c->reported_at = c->parks_ended;
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

/*
 * A kernel thread the runtime does not manage (a timer's helper thread, say) may wake
 * green threads that all look stuck for a moment: a deadlock is reported only when it
 * has lasted DEADLOCK_CONFIRM seconds with not a single park ending meanwhile.
 */
#define DEADLOCK_CONFIRM 0.5

static void confirm_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	struct gp_carrier *c = gp_container_of(w, struct gp_carrier, deadlock_confirm);
	if (looks_deadlocked(c) && c->parks_ended == (uint64_t)w->data)
		report(c);
}

void gp__deadlock_check(struct gp_carrier *c)
{
	if (c->deadlock_reported && c->parks_ended != c->reported_at)
		c->deadlock_reported = false;   /* something moved: a new deadlock is news */
	if (c->deadlock_reported || !looks_deadlocked(c))
		return;
	ev_timer *w = &c->deadlock_confirm;
	if (ev_is_active(w))
		return;
	ev_timer_init(w, confirm_cb, DEADLOCK_CONFIRM, 0.);
	w->data = (void *)(uintptr_t)c->parks_ended;
	ev_timer_start(c->loop, w);
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

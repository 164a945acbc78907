/*
 * Thread control blocks (core/tls.c): each green thread runs on TLS of its own.
 *
 * These run in the unit-test process, whose first thread starts the runtime, so the
 * layout is learnt as it is in a preloaded program. The checks are the ones the
 * scheduler's switch must keep: a thread's __thread variables and errno are its own and
 * keep their values across switches, also through an address taken before the switch
 * (what an optimising compiler keeps in a register), and a new thread starts with the
 * variables' initial values, not its creator's.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>

#include "tls.h"
#include "unit.h"

TestSuite(core_tls, .timeout = UNIT_TIMEOUT);

static __thread int counter = 1000;
static __thread char tag[16] = "initial";

#define ROUNDS 200

struct worker {
	int id;
	int *counter_at;     /* &counter as the thread saw it */
	int bad;             /* rounds in which something was not the thread's own */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	if (counter != 1000 || tag[0] != 'i')
		w->bad++;
	int *mine = &counter;   /* kept across every yield below */
	w->counter_at = mine;
	for (int i = 0; i < ROUNDS; i++) {
		*mine += 1;
		tag[0] = (char)('a' + w->id);
		errno = 100 + w->id;
		gp_yield();
		if (errno != 100 + w->id || tag[0] != 'a' + w->id || *mine != 1001 + i ||
		    !isalpha('x'))
			w->bad++;
	}
	return NULL;
}

Test(core_tls, each_thread_has_its_own)
{
	unit_start();
	cr_assert(gp_tls_per_thread, "per-thread TLS is off in the unit-test process");
	counter = 5;   /* main's own: the threads must not start from it */
	struct worker w[4] = { { .id = 0 }, { .id = 1 }, { .id = 2 }, { .id = 3 } };
	struct gp_green *g[4];
	for (int i = 0; i < 4; i++)
		g[i] = unit_spawn(work, &w[i]);
	for (int i = 0; i < 4; i++)
		unit_join(g[i]);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(w[i].bad, 0, "thread %d saw %d rounds of values not its own", i,
			     w[i].bad);
		for (int j = 0; j < i; j++)
			cr_expect_neq(w[i].counter_at, w[j].counter_at,
				      "threads %d and %d share one __thread variable", i, j);
	}
	cr_expect_eq(counter, 5, "main's __thread variable became %d", counter);
	cr_expect_str_eq(tag, "initial", "main's tag became \"%s\"", tag);
}

static void *report_tp(void *arg)
{
	(void)arg;
	return gp_tp_get();
}

/* A cached stack brings its TCB back: the next thread gets it fresh, with a new DTV. */
Test(core_tls, reused_block_starts_fresh)
{
	unit_start();
	for (int i = 0; i < 3; i++) {
		void *tp = unit_join(unit_spawn(report_tp, NULL));
		cr_assert_neq(tp, gp_tls_carrier_tp(), "a green thread ran on the carrier's TLS");
		cr_expect(gp_tls_is_green(tp), "thread %d's TCB is not recognised as green", i);
	}
	cr_expect(!gp_tls_is_green(gp_tls_carrier_tp()), "the carrier's TCB counted as green");
	struct worker w = { .id = 7 };
	unit_join(unit_spawn(work, &w));
	cr_expect_eq(w.bad, 0, "a thread on a reused block saw a former thread's values");
}

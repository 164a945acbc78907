/*
 * tls_resolv [--list | CASE...]
 *
 * The resolver state _res is each thread's own: glibc's _res is (*__res_state()), a
 * pointer kept in TLS that the main thread points at the global state and every new thread
 * at one inside its own thread descriptor. So a new thread starts uninitialised whatever
 * main did, its res_init() sets up its own state, and the options and timeouts it sets
 * survive its blocking calls while other threads set theirs. No query is made: only the
 * state is looked at.
 *
 * Each case prints one line of counts; natively every "wrong" count is 0.
 */
#define PROG "tls_resolv"
#include "progs.h"
#include "tls.h"

#include <netinet/in.h>
#include <resolv.h>

#define THREADS 50
#define ROUNDS 10

/* What res_init() gives, read by main before it changes its own state. */
static int default_retrans;
static unsigned long default_options;

static struct __res_state *state_of[THREADS];

static void *resolver_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	/* Before this thread's res_init: natively none was made in it, whatever main did. */
	bool ok = !(_res.options & RES_INIT);

	state_of[id] = &_res;
	pthread_barrier_wait(&all_started);
	if (res_init() != 0)
		return THREAD_BAD;
	ok = ok && _res.retrans == default_retrans && _res.options == default_options;
	for (int r = 0; r < ROUNDS; r++) {
		_res.retrans = 100 + id;
		_res.options = default_options | (id % 2 ? RES_USEVC : RES_NOAAAA);
		park(r);
		ok = ok && _res.retrans == 100 + id && &_res == state_of[id] &&
		     _res.options == (default_options | (id % 2 ? RES_USEVC : RES_NOAAAA));
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static int compare_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

static void case_per_thread(void)
{
	unsigned long main_options;
	int bad, distinct = 0;
	bool main_own = true;

	if (res_init() != 0)
		fail("res_init in main failed");
	default_retrans = _res.retrans;
	default_options = _res.options;
	_res.retrans = 7;
	_res.options |= RES_USEVC | RES_NOAAAA;
	main_options = _res.options;
	bad = run_threads(THREADS, resolver_main);
	for (int i = 0; i < THREADS; i++)
		main_own = main_own && state_of[i] != &_res;
	qsort(state_of, THREADS, sizeof(state_of[0]), compare_ptr);
	for (int i = 0; i < THREADS; i++)
		distinct += i == 0 || state_of[i] != state_of[i - 1];
	printf("%s: threads=%d wrong=%d distinct_states=%d main_state_own=%s "
	       "main_kept_its_values=%s\n",
	       current, THREADS, bad, distinct, yes(main_own),
	       yes(_res.retrans == 7 && _res.options == main_options));
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(per_thread),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

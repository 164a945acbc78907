/*
 * tls_vars [--list | CASE...]
 *
 * C __thread variables, initialised and zero-initialised (an int, a struct, an array),
 * belong to each thread: a new thread sees the initial values, not its creator's current
 * ones; each of 1,000 threads counts to 100 in its own copy, blocking between increments
 * while the others count in theirs; the main thread's copy is untouched by them all.
 *
 * kept_pointer takes the variables' addresses once and uses them across the blocking calls,
 * as compiled code does (at -O2 the compiler keeps &var, or the thread pointer, in a
 * register across calls): the address must stay the thread's own storage. published hands
 * each thread's address to main, which reads every thread's counter through it while they
 * are all alive: natively 1,000 distinct addresses holding 100 each. Meanwhile it copies the
 * "Threads:" line of /proc/self/status to stderr: per-thread storage must not come from
 * making each thread a kernel thread again.
 *
 * Each case prints one line of counts that do not depend on timing; natively every
 * "wrong" count is 0.
 */
#define PROG "tls_vars"
#include "progs.h"
#include "tls.h"

#define THREADS 1000
#define ROUNDS 100

struct rec {
	int id;
	char name[8];
};

/* Not static: the compiler must assume any call may read or write them. */
__thread int tls_init = 17;
__thread int tls_zero;
__thread struct rec tls_rec = { 5, "init" };
__thread struct rec tls_rec_zero;
__thread int tls_array[4] = { 1, 2, 3, 4 };
__thread long tls_zero_array[16];

static bool sees_initial_values(void)
{
	bool ok = tls_init == 17 && tls_zero == 0 && tls_rec.id == 5 &&
		  strcmp(tls_rec.name, "init") == 0 && tls_rec_zero.id == 0 &&
		  tls_rec_zero.name[0] == '\0';

	for (int i = 0; i < 4; i++)
		ok = ok && tls_array[i] == i + 1;
	for (int i = 0; i < 16; i++)
		ok = ok && tls_zero_array[i] == 0;
	return ok;
}

/* Gives every variable a value of this thread's own, derived from mark. */
static void set_all(int mark)
{
	tls_init = mark;
	tls_zero = mark + 1;
	tls_rec = (struct rec){ mark, "set" };
	tls_rec_zero.id = -mark;
	for (int i = 0; i < 4; i++)
		tls_array[i] = mark * 10 + i;
	for (int i = 0; i < 16; i++)
		tls_zero_array[i] = (long)mark * 100 + i;
}

static bool has_all(int mark)
{
	bool ok = tls_init == mark && tls_zero == mark + 1 && tls_rec.id == mark &&
		  strcmp(tls_rec.name, "set") == 0 && tls_rec_zero.id == -mark;

	for (int i = 0; i < 4; i++)
		ok = ok && tls_array[i] == mark * 10 + i;
	for (int i = 0; i < 16; i++)
		ok = ok && tls_zero_array[i] == (long)mark * 100 + i;
	return ok;
}

/* The main thread's own values, set before the threads start and checked after. */
#define MAIN_MARK 4242

static void print_result(int bad)
{
	printf("%s: threads=%d wrong=%d main_kept_its_values=%s\n", current, THREADS, bad,
	       yes(has_all(MAIN_MARK)));
}

/* ---- initial values -------------------------------------------------------------- */

static void *initial_main(void *arg)
{
	bool ok = sees_initial_values(); /* before anything else could touch them */

	pthread_barrier_wait(&all_started);
	set_all((int)(intptr_t)arg);
	park(1);
	ok = ok && has_all((int)(intptr_t)arg);
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_initial_values(void)
{
	set_all(MAIN_MARK);
	print_result(run_threads(THREADS, initial_main));
}

/* ---- counting ---------------------------------------------------------------------- */

/*
 * Each thread counts in tls_zero and in its struct and arrays, blocking after each step,
 * and checks after each block that nobody else's step landed in its copy.
 */
static void *count_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	bool ok = sees_initial_values();

	pthread_barrier_wait(&all_started);
	tls_rec.id = id;
	for (int r = 0; r < ROUNDS; r++) {
		tls_zero++;
		tls_init++;
		tls_array[r % 4]++;
		tls_zero_array[r % 16] += id;
		park(r);
		ok = ok && tls_zero == r + 1 && tls_init == 17 + r + 1 && tls_rec.id == id;
	}
	for (int i = 0; i < 4; i++)
		ok = ok && tls_array[i] == i + 1 + ROUNDS / 4;
	for (int i = 0; i < 16; i++)
		ok = ok && tls_zero_array[i] == (long)id * (ROUNDS / 16 + (i < ROUNDS % 16));
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_counters(void)
{
	set_all(MAIN_MARK);
	print_result(run_threads(THREADS, count_main));
}

/*
 * The same through addresses taken once, before the first block: compiled code keeps them
 * in registers or on the stack, so after a block they must still be this thread's.
 */
static void *kept_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	int *volatile counter = &tls_zero; /* volatile: kept on the stack, never recomputed */
	struct rec *volatile rec = &tls_rec;
	int *volatile array = tls_array;
	bool ok = sees_initial_values();

	pthread_barrier_wait(&all_started);
	rec->id = id;
	for (int r = 0; r < ROUNDS; r++) {
		(*counter)++;
		array[r % 4]++;
		park(r);
		ok = ok && *counter == r + 1 && tls_zero == r + 1 && rec->id == id &&
		     counter == &tls_zero && rec == &tls_rec;
	}
	for (int i = 0; i < 4; i++)
		ok = ok && tls_array[i] == i + 1 + ROUNDS / 4;
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_kept_pointer(void)
{
	set_all(MAIN_MARK);
	print_result(run_threads(THREADS, kept_main));
}

/* ---- addresses handed to another thread ------------------------------------------- */

static int *published[THREADS];
static pthread_barrier_t counted, read_by_main;

static void *publish_main(void *arg)
{
	int id = (int)(intptr_t)arg;

	published[id] = &tls_zero;
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		tls_zero++;
		park(r);
	}
	pthread_barrier_wait(&counted);      /* main reads every copy now... */
	pthread_barrier_wait(&read_by_main); /* ...while this thread, and its copy, exist */
	return THREAD_OK;
}

static int compare_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (int *const *)a, y = (uintptr_t) * (int *const *)b;

	return (x > y) - (x < y);
}

static void case_published(void)
{
	pthread_t t[THREADS];
	long sum = 0;
	int distinct = 0, at_100 = 0;

	set_all(MAIN_MARK);
	pthread_barrier_init(&all_started, NULL, THREADS);
	pthread_barrier_init(&counted, NULL, THREADS + 1);
	pthread_barrier_init(&read_by_main, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		t[i] = start(publish_main, (void *)(intptr_t)i);
	pthread_barrier_wait(&counted);
	report_threads(); /* all of them alive: natively 1,001 kernel threads */
	for (int i = 0; i < THREADS; i++) {
		sum += *published[i];
		at_100 += *published[i] == ROUNDS;
	}
	qsort(published, THREADS, sizeof(published[0]), compare_ptr);
	for (int i = 0; i < THREADS; i++)
		distinct += i == 0 || published[i] != published[i - 1];
	pthread_barrier_wait(&read_by_main);
	for (int i = 0; i < THREADS; i++)
		join(t[i]);
	printf("%s: threads=%d distinct_addresses=%d at_100=%d sum=%ld main_kept_its_values=%s\n",
	       current, THREADS, distinct, at_100, sum, yes(has_all(MAIN_MARK)));
}

/* ---- a thread's new thread --------------------------------------------------------- */

#define PARENTS 100

static void *child_main(void *arg)
{
	int mark = (int)(intptr_t)arg;
	bool ok = sees_initial_values();

	set_all(mark);
	park(1);
	return ok && has_all(mark) ? THREAD_OK : THREAD_BAD;
}

/* Each parent changes its values, blocks, starts a child that must see the initial ones. */
static void *parent_main(void *arg)
{
	int mark = 1000 + (int)(intptr_t)arg;
	bool ok;

	pthread_barrier_wait(&all_started);
	set_all(mark);
	park(0);
	ok = join(start(child_main, (void *)(intptr_t)(mark + 5000))) == THREAD_OK;
	park(1);
	return ok && has_all(mark) ? THREAD_OK : THREAD_BAD;
}

static void case_grandchildren(void)
{
	set_all(MAIN_MARK);
	printf("%s: parents=%d wrong=%d main_kept_its_values=%s\n", current, PARENTS,
	       run_threads(PARENTS, parent_main), yes(has_all(MAIN_MARK)));
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(initial_values),
	CASE(counters),
	CASE(kept_pointer),
	CASE(published),
	CASE(grandchildren),
};

int main(int argc, char **argv)
{
	/* The main thread, before any other exists, has the initial values too. */
	if (!sees_initial_values())
		fail("the main thread does not start with the initial values");
	park_init();
	/* Cases run in the main thread: its own copy is part of what they check. */
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

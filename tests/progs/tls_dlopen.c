/*
 * tls_dlopen [--list | CASE...]
 *
 * Thread-local variables of a library loaded with dlopen() while threads already exist
 * (tests/progs/mod/tls_mod.c, built next to this program): threads started before the load
 * are blocked in a read when main loads it; then they, main, and threads started after the
 * load each use their own copy, blocking between increments. Every copy starts at the
 * library's initial value (42, "tlsmod"), whoever loaded the library and whatever the
 * others did with theirs.
 *
 * global_dynamic loads libtlsmod.so, whose copies are allocated on first use in each
 * thread. initial_exec loads libtlsmod_ie.so, built with -ftls-model=initial-exec: glibc
 * then places its variables in the static TLS surplus and initialises them in every
 * thread that exists; whether the load succeeds and what each thread sees is printed.
 *
 * Each case prints lines of counts; natively every "wrong" count is 0.
 */
#define PROG "tls_dlopen"
#include "progs.h"
#include "tls.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>

#define EARLY 50 /* started before the load */
#define LATE 50	 /* started after it */
#define THREADS (EARLY + LATE)
#define ROUNDS 20
#define INITIAL 42

static struct {
	int (*get)(void);
	int (*inc)(void);
	int *(*addr)(void);
	const char *(*label)(void);
} mod;

static int loaded[2]; /* a pipe: one byte per early thread once the library is loaded */
static int *copy_of[THREADS];
static int first_seen[THREADS]; /* the value of each thread's copy on its first use */
/* Every thread waits here before it ends, so that all copies exist at once: a thread
 * that ended could give its copy's memory to a later thread, natively as well. */
static pthread_barrier_t all_used;

static void *user_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	bool ok;
	char b;

	if (id < EARLY) {
		ssize_t n = read(loaded[0], &b, 1); /* parked here during the load */

		if (n == 0)
			return THREAD_OK; /* the load failed: nothing to use */
		if (n != 1)
			die("read");
	}
	first_seen[id] = mod.get();
	ok = first_seen[id] == INITIAL && strcmp(mod.label(), "tlsmod") == 0;
	copy_of[id] = mod.addr();
	for (int r = 0; r < ROUNDS; r++) {
		int v = mod.inc();

		ok = ok && v == INITIAL + r + 1;
		park(r);
		ok = ok && mod.get() == INITIAL + r + 1 && mod.addr() == copy_of[id];
	}
	pthread_barrier_wait(&all_used);
	return ok ? THREAD_OK : THREAD_BAD;
}

/* How many of threads [from, to) saw something other than the initial value first. */
static int saw_other_first(int from, int to)
{
	int n = 0;

	for (int i = from; i < to; i++)
		n += first_seen[i] != INITIAL;
	return n;
}

static void *must_sym(void *lib, const char *name)
{
	void *p = dlsym(lib, name);

	if (!p)
		fail("dlsym %s: %s", name, dlerror());
	return p;
}

static int compare_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

/* The path of the library named name in this program's directory. */
static void beside_me(const char *name, char *path, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		die("readlink /proc/self/exe");
	exe[n] = '\0';
	snprintf(path, size, "%s/%s", dirname(exe), name);
}

static void load_late(const char *name)
{
	pthread_t t[THREADS];
	char path[PATH_MAX];
	int bad = 0, distinct = 0;
	bool main_ok;
	void *lib;

	make_pipe(loaded, 0);
	for (int i = 0; i < EARLY; i++)
		t[i] = start(user_main, (void *)(intptr_t)i);
	msleep(50); /* natively they are all blocked in read by now; green, they are parked */
	beside_me(name, path, sizeof(path));
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	printf("%s: dlopen %s: %s\n", current, name, lib ? "loaded" : dlerror());
	if (!lib) {
		close2(loaded); /* the early threads read EOF and exit */
		for (int i = 0; i < EARLY; i++)
			join(t[i]);
		return;
	}
	mod.get = must_sym(lib, "tlsmod_get");
	mod.inc = must_sym(lib, "tlsmod_inc");
	mod.addr = must_sym(lib, "tlsmod_addr");
	mod.label = must_sym(lib, "tlsmod_label");
	pthread_barrier_init(&all_used, NULL, THREADS);
	main_ok = mod.get() == INITIAL;
	*mod.addr() = 1000; /* main's copy: the threads must not see it, nor change it */
	if (write(loaded[1], "................................................................",
		  EARLY) != EARLY)
		die("write");
	for (int i = EARLY; i < THREADS; i++)
		t[i] = start(user_main, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		bad += join(t[i]) != THREAD_OK;
	pthread_barrier_destroy(&all_used);
	main_ok = main_ok && mod.get() == 1000;
	qsort(copy_of, THREADS, sizeof(copy_of[0]), compare_ptr);
	for (int i = 0; i < THREADS; i++)
		distinct += i == 0 || copy_of[i] != copy_of[i - 1];
	printf("%s: threads=%d (%d before the load) wrong=%d distinct_copies=%d main_copy_own=%s\n",
	       current, THREADS, EARLY, bad, distinct, yes(main_ok));
	printf("%s: not %d on first use: started_before_load=%d started_after=%d\n", current,
	       INITIAL, saw_other_first(0, EARLY), saw_other_first(EARLY, THREADS));
	dlclose(lib);
	close2(loaded);
}

static void case_global_dynamic(void)
{
	load_late("libtlsmod.so");
}

static void case_initial_exec(void)
{
	load_late("libtlsmod_ie.so");
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(global_dynamic),
	CASE(initial_exec),
};

int main(int argc, char **argv)
{
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

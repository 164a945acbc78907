/*
 * tls_locale [--list | CASE...]
 *
 * uselocale() sets the calling thread's locale only: glibc keeps it, and pointers into its
 * ctype tables, in TLS. Half the threads switch to C.UTF-8 (LC_CTYPE and LC_NUMERIC; the one
 * locale besides C that Debian 12 has without the locales package), the other half stay on
 * the global "C" locale, and all of them block between conversions.
 *
 * C.UTF-8 has C's decimal point, so LC_NUMERIC alone would not tell the two apart: the
 * conversions that do are the character set's (nl_langinfo(CODESET), MB_CUR_MAX, mbstowcs
 * of a UTF-8 "é", towupper, and printf's %ls, which fails with EILSEQ in C).
 *
 * ctype: isalpha, toupper and friends read tables through TLS pointers that glibc sets up
 * per thread (__ctype_init); every thread must get the same answers as main, through
 * pointers of its own (__ctype_b_loc() is the address of one).
 *
 * Each case prints lines of counts and the two views; natively every "wrong" count is 0.
 */
#define PROG "tls_locale"
#include "progs.h"
#include "tls.h"

#include <ctype.h>
#include <langinfo.h>
#include <locale.h>
#include <wchar.h>
#include <wctype.h>

#define ROUNDS 20

static locale_t utf8;

/* The locale-dependent conversions of this thread, as one line. */
static void view(char *out, size_t size)
{
	char ls[16];
	int n = snprintf(ls, sizeof(ls), "%ls", L"\u00e9");

	snprintf(out, size, "codeset=%s mb_cur_max=%zu mbstowcs=%zd towupper=%#x printf_ls=%d",
		 nl_langinfo(CODESET), MB_CUR_MAX, mbstowcs(NULL, "\xc3\xa9", 0),
		 (unsigned)towupper(0xe9), n);
}

static char global_view[160], utf8_view[160];

/* Computes both expected views in main, switching its own locale and back. */
static void expected_views(void)
{
	view(global_view, sizeof(global_view));
	uselocale(utf8);
	view(utf8_view, sizeof(utf8_view));
	uselocale(LC_GLOBAL_LOCALE);
}

static bool wants_utf8(void *arg)
{
	return (intptr_t)arg % 2 == 0;
}

/* ---- conversions ------------------------------------------------------------------- */

static void *convert_main(void *arg)
{
	bool mine = wants_utf8(arg), ok = true;
	const char *want = mine ? utf8_view : global_view;
	char got[160];

	if (mine)
		uselocale(utf8);
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		park(r);
		view(got, sizeof(got));
		ok = ok && strcmp(got, want) == 0;
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_conversions(void)
{
	char main_view[160];
	int bad = run_threads(100, convert_main);

	view(main_view, sizeof(main_view));
	printf("%s: C.UTF-8 threads see: %s\n", current, utf8_view);
	printf("%s: global-locale threads see: %s\n", current, global_view);
	printf("%s: threads=100 wrong=%d main_still_global=%s\n", current, bad,
	       yes(strcmp(main_view, global_view) == 0));
}

/* ---- uselocale(NULL) --------------------------------------------------------------- */

static void *query_main(void *arg)
{
	bool mine = wants_utf8(arg), ok;
	locale_t want = mine ? utf8 : LC_GLOBAL_LOCALE;

	ok = uselocale(NULL) == LC_GLOBAL_LOCALE; /* a new thread starts on the global locale */
	if (mine)
		uselocale(utf8);
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < ROUNDS; r++) {
		park(r);
		ok = ok && uselocale(NULL) == want;
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_uselocale_null(void)
{
	int bad;

	uselocale(utf8); /* main's own choice: its threads must not inherit it */
	bad = run_threads(100, query_main);
	printf("%s: threads=100 wrong=%d main_answer_own=%s\n", current, bad,
	       yes(uselocale(NULL) == utf8));
	uselocale(LC_GLOBAL_LOCALE);
}

/* ---- ctype ------------------------------------------------------------------------- */

#define CTYPE_THREADS 1000

/* A digest of every ctype answer for EOF and each byte. */
static unsigned long ctype_digest(void)
{
	unsigned long h = 5381;

	for (int c = -1; c < 256; c++) {
		unsigned v = (unsigned)!!isalpha(c) | (unsigned)!!isdigit(c) << 1 |
			     (unsigned)!!isspace(c) << 2 | (unsigned)!!ispunct(c) << 3 |
			     (unsigned)!!isupper(c) << 4 | (unsigned)!!isprint(c) << 5;

		h = h * 33 + v;
		h = h * 33 + (unsigned)toupper(c);
		h = h * 33 + (unsigned)tolower(c);
	}
	return h;
}

static unsigned long main_digest;
static const unsigned short **table_ptr[CTYPE_THREADS];

static void *ctype_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	bool ok;

	if (wants_utf8(arg))
		uselocale(utf8);
	table_ptr[id] = __ctype_b_loc();
	ok = ctype_digest() == main_digest;
	pthread_barrier_wait(&all_started);
	park(id);
	ok = ok && ctype_digest() == main_digest && table_ptr[id] == __ctype_b_loc();
	return ok ? THREAD_OK : THREAD_BAD;
}

static int compare_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

static void case_ctype(void)
{
	int bad, distinct = 0;
	bool main_own = true;

	main_digest = ctype_digest();
	bad = run_threads(CTYPE_THREADS, ctype_main);
	for (int i = 0; i < CTYPE_THREADS; i++)
		main_own = main_own && table_ptr[i] != __ctype_b_loc();
	qsort(table_ptr, CTYPE_THREADS, sizeof(table_ptr[0]), compare_ptr);
	for (int i = 0; i < CTYPE_THREADS; i++)
		distinct += i == 0 || table_ptr[i] != table_ptr[i - 1];
	printf("%s: threads=%d wrong=%d distinct_table_pointers=%d main_pointer_own=%s\n",
	       current, CTYPE_THREADS, bad, distinct, yes(main_own));
}

/* ---- a conversion that runs elsewhere ---------------------------------------------------- */

/*
 * fscanf's %ls converts multibyte input with the thread's LC_CTYPE. Under the library a
 * scanf on a pipe runs on the offload pool: it must still convert in the calling
 * thread's locale. One "é" in UTF-8 is one wide character in C.UTF-8, and an encoding
 * error in C.
 */
static char scan_want[2][64];

static void scan_view(char *out, size_t size)
{
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe");
	FILE *in = fdopen(fds[0], "r");
	if (!in)
		die("fdopen");
	if (write(fds[1], "\xc3\xa9 x\n", 5) != 5)
		die("write");
	close(fds[1]);
	wchar_t w[8] = { 0 };
	errno = 0;
	int n = fscanf(in, "%7ls", w);
	snprintf(out, size, "fscanf=%d wide_chars=%zu errno_eilseq=%d", n, n == 1 ? wcslen(w) : 0,
		 errno == EILSEQ);
	fclose(in);
}

static void *scan_main(void *arg)
{
	bool mine = wants_utf8(arg), ok = true;
	char got[64];

	if (mine)
		uselocale(utf8);
	pthread_barrier_wait(&all_started);
	for (int r = 0; r < 3; r++) {
		park(r);
		scan_view(got, sizeof(got));
		ok = ok && strcmp(got, scan_want[mine]) == 0;
	}
	return ok ? THREAD_OK : THREAD_BAD;
}

static void case_offloaded_scanf(void)
{
	scan_view(scan_want[0], sizeof(scan_want[0]));
	uselocale(utf8);
	scan_view(scan_want[1], sizeof(scan_want[1]));
	uselocale(LC_GLOBAL_LOCALE);
	int bad = run_threads(20, scan_main);

	printf("%s: C.UTF-8 threads scan: %s\n", current, scan_want[1]);
	printf("%s: global-locale threads scan: %s\n", current, scan_want[0]);
	printf("%s: threads=20 wrong=%d\n", current, bad);
}

/* ---- table and driver ---------------------------------------------------------------- */

#define CASE(n) { #n, case_##n }
static const struct prog_case cases[] = {
	CASE(conversions),
	CASE(uselocale_null),
	CASE(ctype),
	CASE(offloaded_scanf),
};

int main(int argc, char **argv)
{
	utf8 = newlocale(LC_CTYPE_MASK | LC_NUMERIC_MASK, "C.UTF-8", (locale_t)0);
	if (utf8 == (locale_t)0)
		die("newlocale C.UTF-8");
	expected_views();
	park_init();
	return run_cases(argc, argv, cases, sizeof(cases) / sizeof(cases[0]), NULL);
}

/*
 * Preloaded after the ASan runtime in `make asan`, so that Debian's programs can run
 * under the ASan-built library (tests/shim_real.c).
 *
 * The ASan runtime, preloaded into a program not built with it, initializes at the
 * first malloc. p11-kit's constructor (linked into curl, wget and others through
 * GnuTLS) calls newlocale, which mallocs while it holds glibc's setlocale lock for
 * writing. The runtime's initialization looks for swift_demangle with dlsym and clears
 * the failure with dlerror, which translates the message with gettext, which takes the
 * same lock for reading: glibc returns EDEADLK to the thread that holds it for writing,
 * gettext ignores that, and its unlock releases newlocale's write lock. newlocale's own
 * unlock then leaves the reader count at -1, and the program's first setlocale waits
 * for ever. The ASan runtime alone does the same (LD_PRELOAD=libasan.so curl ...).
 *
 * With the symbol found there is no error for dlerror to translate. ASan calls it for
 * each name it symbolizes; NULL says "not a Swift name", and it demangles as C++.
 */
#include <stddef.h>
#include <stdint.h>

char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len, uint32_t flags);

char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len, uint32_t flags)
{
	(void)name, (void)len, (void)out, (void)out_len, (void)flags;
	return NULL;
}

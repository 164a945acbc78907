/*
 * A shared library with thread-local variables, for tests/progs/tls_dlopen.c, which
 * dlopen()s it after threads exist. Built twice: libtlsmod.so in the default model for a
 * shared library (global-dynamic: each thread's copy is allocated on its first use, through
 * __tls_get_addr and the thread's DTV), and libtlsmod_ie.so with -ftls-model=initial-exec
 * (the copies live in every thread's static TLS block, which glibc initialises for the
 * threads that already exist when the library is loaded).
 *
 * The initial values are not zero, so that a copy nobody initialised shows.
 */
__thread int tlsmod_counter = 42;
__thread char tlsmod_name[16] = "tlsmod";

int tlsmod_get(void)
{
	return tlsmod_counter;
}

int tlsmod_inc(void)
{
	return ++tlsmod_counter;
}

int *tlsmod_addr(void)
{
	return &tlsmod_counter;
}

const char *tlsmod_label(void)
{
	return tlsmod_name;
}

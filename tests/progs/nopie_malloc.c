/*
 * nopie_malloc: built without PIE (see the Makefile), and taking malloc's address in its
 * code, as Debian's python3 does: the program's PLT entry for malloc then becomes the
 * function's address everywhere, and a lookup of "malloc" finds that entry, though the
 * definition is still the C library's. Four threads allocate through that address and
 * free, under a mutex they share; prints the totals, which do not depend on timing.
 */
#define PROG "nopie_malloc"
#include "progs.h"

enum { THREADS = 4, ROUNDS = 20000 };

static void *(*volatile alloc)(size_t);
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void *work(void *arg)
{
	long sum = 0;
	for (int i = 0; i < ROUNDS; i++) {
		unsigned char *p = alloc(16 + i % 256);
		if (!p)
			die("malloc");
		p[0] = (unsigned char)(i + (int)(long)arg);
		sum += p[0];
		free(p);
	}
	pthread_mutex_lock(&lock);
	total += sum;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];

	alloc = malloc; /* an absolute address in the code: the PLT entry is canonical */
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, work, (void *)i) != 0)
			die("pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("threads %d, allocations %d, checksum %ld\n", THREADS, THREADS * ROUNDS, total);
	return 0;
}

/*
 * thread_attrs: what a thread learns about itself. A thread created with a stack size,
 * with its own stack (pthread_attr_setstack), or with the defaults, reads its
 * attributes back with pthread_getattr_np: its stack contains its locals, is the one
 * it was given, and is as large as asked; scheduling parameters set on it read back.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static char own_stack[1 << 20] __attribute__((aligned(4096)));

struct expect {
	const char *name;
	void *stack;        /* the stack it was given, or NULL */
	size_t size;        /* the size asked for, or 0 */
};

static void *report(void *arg)
{
	const struct expect *e = arg;
	pthread_attr_t attr;
	void *lo;
	size_t size;
	char local;

	pthread_getattr_np(pthread_self(), &attr);
	pthread_attr_getstack(&attr, &lo, &size);
	pthread_attr_destroy(&attr);
	int inside = &local >= (char *)lo && &local < (char *)lo + size;
	struct sched_param sp = { .sched_priority = 0 };
	int policy = -1;
	pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	pthread_getschedparam(pthread_self(), &policy, &sp);
	printf("%s: locals_on_stack=%d given_stack=%s big_enough=%s policy=%d\n", e->name, inside,
	       e->stack ? (lo == e->stack ? "yes" : "no") : "-",
	       e->size ? (size >= e->size ? "yes" : "no") : "-", policy);
	return NULL;
}

static void run(const struct expect *e, pthread_attr_t *attr)
{
	pthread_t t;
	if (pthread_create(&t, attr, report, (void *)e) != 0) {
		fprintf(stderr, "thread_attrs: pthread_create failed for %s\n", e->name);
		exit(1);
	}
	pthread_join(t, NULL);
}

int main(void)
{
	static const struct expect defaults = { "defaults", NULL, 0 };
	static const struct expect sized = { "stacksize", NULL, 256 * 1024 };
	static const struct expect own = { "setstack", own_stack, sizeof(own_stack) };
	pthread_attr_t attr;

	run(&defaults, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, sized.size);
	run(&sized, &attr);
	pthread_attr_destroy(&attr);
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, own_stack, sizeof(own_stack));
	run(&own, &attr);
	pthread_attr_destroy(&attr);
	return 0;
}

/*
 * Calls that cannot be made non-blocking run on the offload pool (core/offload.h).
 * The result, errno and h_errno of the pool thread are carried back to the caller,
 * since those two are per thread; the call runs in the caller's locale (uselocale).
 */
#ifndef GP_SHIM_OFFCALL_H
#define GP_SHIM_OFFCALL_H

#include <locale.h>
#include <stdbool.h>

struct gp_offcall {
	void (*run)(struct gp_offcall *c);   /* makes the call, sets ret */
	long ret;
	void *ptr;                           /* for calls that return a pointer */
	int err, herr;
	locale_t locale;                     /* the caller's (uselocale), lent to the call */
	bool unbounded;                      /* may last as long as a child runs */
};

/* Run c on the pool with the caller parked; errno and h_errno come back. */
void gp__offload_call(struct gp_offcall *c);

/* Should this call go to the pool? On a green thread, with another alive. */
bool gp__offload_wanted(void);

/* Tell core how to create pool threads. */
void gp__offload_init(void);

#endif

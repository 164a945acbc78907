/*
 * What a debugger reads of the runtime: one exported object, greenpatch_debug, that it
 * finds by its dynamic symbol, which stripping keeps (scripts/libgreenpatch-gdb.py).
 *
 * Only the layout of this structure is a promise to debuggers. GP_DEBUG_VERSION changes
 * when a field changes its place or meaning; fields may be added at the end without a
 * new version, and size tells a reader which ones are there. Everything else it reads
 * (struct gp_green, struct gp_runtime, struct gp_kthread, a switched-out context) is
 * described here by offsets taken with offsetof, so that those structures may change
 * freely. Pointers are 8 bytes on every architecture the library builds for, so the
 * layout is the same on x86_64 and aarch64.
 */
#ifndef GP_DEBUG_H
#define GP_DEBUG_H

#include <stdint.h>

#define GP_DEBUG_VERSION 1

/* How a switched-out context keeps its registers. */
enum gp_debug_ctx_kind {
	GP_DEBUG_CTX_FRAME = 1,     /* on its stack, at the saved sp (core/ctx_*.S) */
	GP_DEBUG_CTX_UCONTEXT = 2,  /* in the ucontext_t inside struct gp_ctx */
};

struct gp_debug_reg {
	const char *name;   /* gdb's name for it: "rip", "rbx", "x19", "pc" */
	uint32_t offset;    /* FRAME: from the saved sp; UCONTEXT: from the start of the context */
	uint32_t size;
};

/* An offset no field has: the field is unknown, or not there. */
#define GP_DEBUG_NONE UINT32_MAX

struct gp_debug {
	uint32_t version;            /* GP_DEBUG_VERSION */
	uint32_t size;               /* sizeof(struct gp_debug) */
	const char *arch;            /* "x86_64", "aarch64" */

	/* ncarriers carriers (struct gp_carrier), carrier_stride bytes apart from carriers;
	 * 0 until the program creates its first thread, and again in the child of a fork. */
	void *carriers;
	uint32_t ncarriers;
	uint32_t carrier_stride;

	/* struct gp_runtime */
	uint32_t carrier_current;    /* struct gp_green *: the thread it runs now */
	uint32_t carrier_all;        /* struct gp_green *: every thread, through green_all_next */
	uint32_t carrier_owner;      /* struct gp_kthread *: the kernel thread that runs it */
	uint32_t carrier_first;      /* struct gp_kthread: the one that started the runtime */
	uint32_t carrier_hub;        /* struct gp_green: runs the event loop; not in the list */
	uint32_t carrier_clock_ns;   /* long: CLOCK_MONOTONIC_COARSE (ns) it last read */

	/* struct gp_kthread */
	uint32_t kthread_tid;        /* int: its kernel thread id (an LWP in gdb) */

	/* struct gp_green */
	uint32_t green_magic;        /* uint64_t: green_magic_value while the object is valid */
	uint64_t green_magic_value;
	uint32_t green_id;           /* uint64_t: the number reports give it; main is 1 */
	uint32_t green_handle;       /* uintptr_t: the pthread_t the program sees */
	uint32_t green_name;         /* char[green_name_size], NUL-terminated */
	uint32_t green_name_size;
	uint32_t green_state;        /* int (enum): an index in state_names */
	uint32_t green_waits_for;    /* const char *: what a parked thread waits on ("fd", "mutex") */
	uint32_t green_wait_obj;     /* const void *: the mutex, condition, thread... or NULL */
	uint32_t green_parked_ns;    /* long: CLOCK_MONOTONIC_COARSE (ns) when its park began,
	                              * to a clock tick or a turn of the run queue */
	uint32_t green_all_next;     /* struct gp_green * */
	uint32_t green_ctx;          /* struct gp_ctx: its context while it is switched out */
	uint32_t green_m;            /* struct gp_kthread *: the kernel thread it was handed to */
	uint32_t green_handed_off;   /* bool: runs on green_m, outside the carrier */
	uint32_t green_is_hub;       /* bool */
	uint32_t green_is_main;      /* bool */

	const char *const *state_names;  /* "runnable", "running", "parked", "done" */
	uint32_t nstates;

	/* A context that is not running: its registers as the switch left them. */
	uint32_t ctx_kind;           /* enum gp_debug_ctx_kind */
	uint32_t ctx_sp;             /* FRAME: offset in struct gp_ctx of the saved sp */
	uint32_t frame_size;         /* FRAME: the resumed code's sp is the saved sp + this */
	const struct gp_debug_reg *regs;  /* nregs registers, the pc and, with UCONTEXT, the sp */
	uint32_t nregs;

	/*
	 * A mutex a thread waits on (green_wait_obj, green_waits_for "mutex"): offsets of
	 * glibc's owner thread id (int) and of the green owner (struct gp_green *) that the
	 * library keeps beside it when the owner id is the carrier's first kernel thread's
	 * (NULL then: the main thread). GP_DEBUG_NONE until the library that interposes
	 * libc has set them.
	 */
	uint32_t mutex_owner_tid;
	uint32_t mutex_owner_green;
};

/* The names of enum gp_green_state, for reports. */
extern const char *const gp_state_names[4];

/* The object debuggers look up, by this name: exported from the library. */
extern struct gp_debug greenpatch_debug;

struct gp_carrier;

/* The carriers are these n, from now on (0: none, in the child of a fork). */
void gp_debug_set_carriers(struct gp_carrier *c, unsigned n);

#endif

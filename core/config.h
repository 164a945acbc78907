/*
 * GREENPATCH_* variables, parsed and validated once, before main.
 */
#ifndef GP_CONFIG_H
#define GP_CONFIG_H

#include <stddef.h>

struct gp_config {
	size_t stack_size;  /* default green stack size in bytes; 0 = not chosen yet */
	int log_level;      /* enum gp_log_level: messages above it are dropped */
	int deadlock_abort; /* GREENPATCH_DEADLOCK=abort: abort after the report */
	int offload_threads; /* GREENPATCH_OFFLOAD_THREADS: pool size; 0 = default */
	int no_inherit;     /* GREENPATCH_NO_INHERIT: children do not get the library */
	const char *stats;  /* GREENPATCH_STATS: NULL off, "" standard error, else a file */
	unsigned stall_ms;  /* GREENPATCH_STALL_MS: report a thread running this long; 0 off */
	int dump_signal;    /* GREENPATCH_DUMP_SIGNAL: dump every green thread on it; 0 off */
	unsigned unpatched; /* GREENPATCH_UNPATCH: GP_FAM_* bits of families left to libc */
	int tls_shared;     /* GREENPATCH_TLS=shared: green threads share the carrier's TLS */
	int stack_guard_mprotect; /* GREENPATCH_STACK_GUARD=mprotect: guards are mappings */
	unsigned long handoff_ns; /* GREENPATCH_HANDOFF: hand a stuck carrier off after; 0 off */
	unsigned max_threads; /* GREENPATCH_MAX_THREADS: kernel threads that run green code */
	unsigned carriers;  /* GREENPATCH_CARRIERS: carriers; 0 = one per CPU allowed */
};

/*
 * The families of hooks a program may leave to the C library (GREENPATCH_UNPATCH): their
 * calls then block the kernel thread, as without the library. Threads, locks, signals
 * and descriptor bookkeeping cannot be left out: green threads depend on them.
 */
enum {
	GP_FAM_IO = 1 << 0,       /* read, write, pread, pwrite... */
	GP_FAM_STDIO = 1 << 1,    /* fgets, fread, fwrite, printf... */
	GP_FAM_SOCKET = 1 << 2,   /* accept, connect, recv, send... */
	GP_FAM_POLL = 1 << 3,     /* poll, select, epoll_wait... */
	GP_FAM_OFFLOAD = 1 << 4,  /* name resolution, waitpid, system, sendfile... */
	GP_FAM_TIME = 1 << 5,     /* sleep, nanosleep... */
	GP_FAM_BLOCK = 1 << 6,    /* file locks, NSS, disk syncs: on their own kernel thread */
	GP_FAM_PATH = 1 << 7,     /* path calls on remote and user-space file systems: likewise */
};

extern struct gp_config gp_config;

/* The smallest stack a green thread may have (glibc's PTHREAD_STACK_MIN). */
#define GP_STACK_MIN (16 * 1024)

/*
 * Parse the environment into gp_config. On a bad value, write one line into err naming
 * the variable, the value (gp_shown) and the accepted form, and return -EINVAL.
 * Otherwise warn about the GREENPATCH_ names it does not read, which it ignores.
 */
int gp_config_load(char *err, size_t errlen);

/* GREENPATCH_STALL_MS when the variable is not set. */
#define GP_STALL_MS_DEFAULT 100

/*
 * GREENPATCH_HANDOFF and GREENPATCH_MAX_THREADS when not set. 1 ms for a blocked call and
 * a computation alike: why not Go's 20 us and 10 ms is in libgreenpatch(7), Hand-off.
 */
#define GP_HANDOFF_NS_DEFAULT 1000000UL
#define GP_MAX_THREADS_DEFAULT 256

/* "500us", "2ms", "1s", "0": 0 and *ns set, or -EINVAL. */
int gp_parse_duration(const char *s, unsigned long *ns);

/* "256k", "8m", "1g", "65536": 0 and *out set, or -EINVAL. */
int gp_parse_size(const char *s, size_t *out);

/* "SIGUSR2", "USR2", "usr2", "12", "RTMIN+3": the signal number, or -EINVAL. */
int gp_parse_signal(const char *s);

#endif

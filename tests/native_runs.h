/*
 * Native runs kept between the passes of `make test`. The shim suite runs once at two
 * carriers and once at one; the native side of each comparison is the same program
 * run the same way both times, and the real-program cases spend as long natively as
 * under the library. With GP_TEST_NATIVE_RUNS=DIR, the first native run of a command
 * is kept in DIR, and a later one (the next pass) reads it instead of running it again.
 * Where a kept run differs from the library's, the native side is run again
 * (harness.c): what is kept only ever spares a native run whose output matched, and never
 * decides a failure alone.
 */
#ifndef GP_TEST_NATIVE_RUNS_H
#define GP_TEST_NATIVE_RUNS_H

#include "harness.h"

/* The run kept for cmd (path: its binary, resolved), into r; false if none is. */
bool gp_native_run_load(const char *path, const struct gp_cmd *cmd, struct gp_run *r);

/* Keep r, the native run of cmd, if it exited 0, in time and not starved (the mark). */
void gp_native_run_save(const char *path, const struct gp_cmd *cmd, const struct gp_run *r,
			const char *starved_mark);

#endif

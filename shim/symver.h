/*
 * Which version of a C library function a program was linked for.
 *
 * A few functions changed behaviour in a new symbol version and kept the old one for
 * programs linked before (glob at glibc 2.27). The library's hook is exported without
 * a version, and the dynamic linker binds every reference to it, whatever version the
 * reference names: the hook then gives each caller the version its own object names,
 * read from that object's dynamic section (its undefined symbol of that name and the
 * version that symbol needs), as the dynamic linker would have bound it.
 */
#ifndef GP_SHIM_SYMVER_H
#define GP_SHIM_SYMVER_H

#include <stdbool.h>

/*
 * The object that holds the code at caller imports name (or alias) with a version, and
 * with none but versions other than current: it was linked before current existed.
 * false when it imports neither (a pointer from dlsym: the default version), imports
 * one without a version, or cannot be read.
 */
bool gp_symver_binds_older(const void *caller, const char *name, const char *alias,
			   const char *current);

#endif

/*
 * vfork runs as fork. The child of a real vfork shares the parent's memory until it
 * execs: a hook running there would change the parent's scheduler and descriptor
 * state. POSIX allows vfork to be fork; posix_spawn keeps its own clone and reaches no
 * hook in the child.
 */
#include <unistd.h>

#include "hook.h"

pid_t vfork(void)
{
	return fork();
}

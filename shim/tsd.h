#ifndef GP_TSD_H
#define GP_TSD_H

#include "green.h"

/* Run g's thread-specific data destructors and free its storage (program context). */
void gp__tsd_thread_ended(struct gp_green *g);

#endif

/* Calls made on their own kernel thread while the carrier goes on (block.c). */
#ifndef GP_SHIM_BLOCK_H
#define GP_SHIM_BLOCK_H

/*
 * fcntl's F_SETLKW or F_OFD_SETLKW on a green thread: F_SETLK or F_OFD_SETLK first,
 * then, if another holds the section, the waiting command with the carrier handed off.
 */
int gp__fcntl_lock_wait(int (*real)(int, int, ...), int fd, int cmd, void *arg);

#endif

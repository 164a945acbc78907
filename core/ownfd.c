#include "ownfd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Where the numbers go: the top of the first TOP numbers, above select()'s range. */
#define TOP GP_OWN_FD_TOP
#define SELECT_RANGE 1024

int gp__own_fd_low = INT_MAX;

static int own[GP_OWN_FDS_MAX];
static unsigned own_count;
static __thread int making __attribute__((tls_model("initial-exec")));

void gp_own_fds_begin(void)
{
	making++;
}

void gp_own_fds_end(void)
{
	making--;
}

bool gp_own_fds_making(void)
{
	return making > 0;
}

bool gp__own_fd_lookup(int fd)
{
	unsigned n = __atomic_load_n(&own_count, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		if (own[i] == fd)
			return true;
	return false;
}

static void recompute_low(void)
{
	int low = INT_MAX;
	for (unsigned i = 0; i < own_count; i++)
		if (own[i] < low)
			low = own[i];
	__atomic_store_n(&gp__own_fd_low, low, __ATOMIC_RELAXED);
}

/* The lowest number to move to, given the hard limit on descriptors; top is set too. */
static int floor_under(rlim_t hard, int *top)
{
	*top = hard == RLIM_INFINITY || hard > TOP ? TOP : (int)hard;
	int floor = *top - 2 * GP_OWN_FDS_MAX;
	if (floor < SELECT_RANGE && *top > SELECT_RANGE)
		floor = SELECT_RANGE;
	return floor < 3 ? 3 : floor;
}

/*
 * F_DUPFD refuses a lowest number at or above the soft limit: the limit is raised to
 * let the duplicate be made there, and set back, which leaves the descriptor where it
 * is (the kernel checks the limit only when it hands a number out). The program's
 * other threads do not run meanwhile (ownfd.h), so none sees the raised limit.
 */
static int move_high(int fd)
{
	struct rlimit was;
	if (getrlimit(RLIMIT_NOFILE, &was) < 0)
		return fd;
	int top;
	int floor = floor_under(was.rlim_max, &top);
	if (fd >= floor)
		return fd;
	bool raise = was.rlim_cur != RLIM_INFINITY && was.rlim_cur <= (rlim_t)floor;
	struct rlimit raised = { (rlim_t)top, was.rlim_max };
	if (raise && setrlimit(RLIMIT_NOFILE, &raised) < 0)
		return fd;
	long high = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
	if (raise)
		setrlimit(RLIMIT_NOFILE, &was);
	if (high < 0)
		return fd;
	syscall(SYS_close, fd);
	return (int)high;
}

/* The kernel's smallest table, on 64-bit (BITS_PER_LONG numbers, NR_OPEN_DEFAULT). */
#define TABLE_MIN 64

/* gp_program_fd_table's answer once learnt; 0 before. */
static int table_size;

bool gp_fd_table_ends_by(int k)
{
	const unsigned per = 8 * sizeof(unsigned long);
	unsigned long bits[2 * TOP / (8 * sizeof(unsigned long))] = { 0 };
	if (k < 0 || k >= 2 * TOP || gp_fd_open(k))
		return false;
	int saved = errno;
	bits[k / per] = 1UL << (k % per);
	struct timespec zero = { 0, 0 };
	bool past = syscall(SYS_pselect6, k + 1, bits, NULL, NULL, &zero, NULL) >= 0;
	errno = saved;
	return past;
}

/* Where the kernel's table ends now: at most a dozen system calls, once. */
static int table_end(void)
{
	for (int k = TABLE_MIN; k < TOP; k *= 2)
		if (gp_fd_table_ends_by(k))
			return k;
	return TOP;
}

int gp_program_fd_table(void)
{
	int n = __atomic_load_n(&table_size, __ATOMIC_RELAXED);
	return n && __atomic_load_n(&own_count, __ATOMIC_RELAXED) ? n : INT_MAX;
}

void gp_program_fd_note(int fd)
{
	int n = __atomic_load_n(&table_size, __ATOMIC_RELAXED);
	if (fd < n || !n)
		return;
	int want = TABLE_MIN;
	while (want <= fd && want < INT_MAX / 2)
		want *= 2;
	while (n < want && !__atomic_compare_exchange_n(&table_size, &n, want, true,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

int gp_own_fd_adopt(int fd)
{
	if (fd < 0)
		return fd;
	if (!table_size)
		table_size = table_end();
	fd = move_high(fd);
	/* The number before the count: a reader on a handed-off thread (ownfd.h) sees
	 * either the old count or the new one with the number in place. */
	if (own_count < GP_OWN_FDS_MAX) {
		own[own_count] = fd;
		__atomic_store_n(&own_count, own_count + 1, __ATOMIC_RELEASE);
	}
	recompute_low();
	return fd;
}

void gp_own_fd_forget(int fd)
{
	for (unsigned i = 0; i < own_count; i++)
		if (own[i] == fd) {
			own[i] = own[--own_count];
			break;
		}
	recompute_low();
}

int gp_own_fd_next(unsigned from)
{
	int next = -1;
	for (unsigned i = 0; i < own_count; i++)
		if ((unsigned)own[i] >= from && (next < 0 || own[i] < next))
			next = own[i];
	return next;
}

/*
 * The case driver of the C++ programs in tests/progs, as progs.h's run_cases is for the
 * C ones: `prog --list` names the cases, `prog CASE...` runs those, `prog` runs all.
 * Each case prints its lines; current names the case running, for failure messages.
 */
#ifndef GP_PROGS_CASES_HH
#define GP_PROGS_CASES_HH

#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace progs {

struct Case {
	const char *name;
	void (*fn)();
};

inline bool named(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (std::strcmp(argv[i], name) == 0)
			return true;
	return false;
}

/* Every argument names a case: checked before any case runs, so a typo runs nothing. */
template <size_t N>
bool all_known(const char *prog, const Case (&cases)[N], int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		bool known = false;

		for (const auto &c : cases)
			known = known || std::strcmp(c.name, argv[i]) == 0;
		if (!known) {
			std::fprintf(stderr, "%s: no case named %s\nusage: %s [--list | CASE...]\n",
				     prog, argv[i], prog);
			return false;
		}
	}
	return true;
}

template <size_t N>
int run_cases(const char *prog, const Case (&cases)[N], const char *&current, int argc,
	      char **argv)
{
	if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
		for (const auto &c : cases)
			std::puts(c.name);
		return 0;
	}
	if (!all_known(prog, cases, argc, argv))
		return 2;
	alarm(60); /* a case that hangs must not hold up whoever runs us for ever */
	for (const auto &c : cases) {
		if (argc > 1 && !named(c.name, argc, argv))
			continue;
		current = c.name;
		c.fn();
		std::fflush(stdout); /* if a later case hangs, the lines so far still show */
	}
	return 0;
}

} // namespace progs

#endif

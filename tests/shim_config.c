/*
 * The GREENPATCH_* variables: the list the library reads (core/config.def) is the list
 * the documentation gives.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

TestSuite(config, .timeout = 60);

/* Every variable the library reads, in the order it reads them. */
static const char *const config_vars[] = {
#define GP_CONFIG_VAR(name, loader) #name,
#include "config.def"
#undef GP_CONFIG_VAR
};

/* ---- the documentation names the variables the library reads ----------------------- */

/* A file of the repository, whole, as a string (to free). */
static char *read_repo_file(const char *rel)
{
	char *path = gp_asprintf("%s/%s", gp_env("GP_TEST_ROOT"), rel);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	cr_assert(n >= 0, "cannot read %s", path);
	fclose(f);
	free(path);
	return text;
}

/* The part of text from the line that starts with from to the next line that starts with to. */
static char *section(char *text, const char *from, const char *to, const char *what)
{
	char *start = strstr(text, from);
	cr_assert_not_null(start, "%s has no \"%s\"", what, from);
	char *end = strstr(start + strlen(from), to);
	if (end)
		*end = '\0';
	return start;
}

struct names {
	char v[64][40];
	size_t n;
};

static bool names_have(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* Each GREENPATCH_ name in text that comes right after marker ("" for anywhere), once. */
static void names_after(const char *text, const char *marker, struct names *s)
{
	char *needle = gp_asprintf("%sGREENPATCH_", marker);
	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) {
		const char *name = p + strlen(marker);
		size_t len = 11;
		while (isupper((unsigned char)name[len]) || isdigit((unsigned char)name[len]) ||
		       name[len] == '_')
			len++;
		char one[40];
		snprintf(one, sizeof(one), "%.*s", (int)len, name);
		if (len > 11 && !names_have(s, one) && s->n < GP_COUNT(s->v))
			snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", one);
	}
	free(needle);
}

/* The names a document gives are exactly those of core/config.def. */
static void expect_same_names(const struct names *doc, const char *what)
{
	for (size_t i = 0; i < GP_COUNT(config_vars); i++)
		cr_expect(names_have(doc, config_vars[i]),
			  "%s does not document %s, which the library reads (core/config.def)",
			  what, config_vars[i]);
	for (size_t i = 0; i < doc->n; i++) {
		bool read = false;
		for (size_t j = 0; j < GP_COUNT(config_vars); j++)
			read = read || strcmp(doc->v[i], config_vars[j]) == 0;
		cr_expect(read, "%s documents %s, which the library does not read (core/config.def)",
			  what, doc->v[i]);
	}
}

Test(config, man_page_lists_the_variables_read)
{
	char *page = read_repo_file("man/libgreenpatch.7");
	struct names doc = { .n = 0 };
	names_after(section(page, ".SH ENVIRONMENT", "\n.SH ", "man/libgreenpatch.7"),
		    ".TP\n.B ", &doc);
	expect_same_names(&doc, "ENVIRONMENT in man/libgreenpatch.7");
	free(page);
}

Test(config, readme_lists_the_variables_read)
{
	char *readme = read_repo_file("README.md");
	struct names doc = { .n = 0 };
	names_after(section(readme, "## Environment variables", "\n## ", "README.md"), "\n| `",
		    &doc);
	expect_same_names(&doc, "README.md's table of environment variables");
	free(readme);
}

/* Every variable has a launcher option, in its page and in its --help. */
Test(config, launcher_sets_the_variables_read)
{
	char *page = read_repo_file("man/greenpatch.1");
	struct names doc = { .n = 0 };
	names_after(section(page, ".SH OPTIONS", "\n.SH ", "man/greenpatch.1"), "", &doc);
	expect_same_names(&doc, "OPTIONS in man/greenpatch.1");
	free(page);

	char *lib = gp_asprintf("%s", gp_env("GP_TEST_LIB"));
	char *launcher = gp_asprintf("%.*s/greenpatch", (int)(strrchr(lib, '/') - lib), lib);
	struct gp_cmd cmd = { .prog = launcher, .argv = GP_ARGV("--help") };
	struct gp_run r;
	gp_run(&cmd, &r);
	gp_expect_ok(&r);
	struct names help = { .n = 0 };
	names_after(r.out, "", &help);
	expect_same_names(&help, "greenpatch --help");
	gp_run_free(&r);
	free(launcher);
	free(lib);
}

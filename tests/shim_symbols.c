/*
 * The one list of interposed symbols (shim/syms.def) against what the library exports
 * and what the man page names: nothing missing, nothing extra but the object debuggers
 * read.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SYMS 512

struct names {
	char *v[MAX_SYMS];
	int n;
};

static const char *env_or_skip(const char *name)
{
	const char *v = getenv(name);
	if (!v)
		cr_skip_test("%s is not set: run through make test", name);
	return v;
}

static bool has(const struct names *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->v[i], name) == 0)
			return true;
	return false;
}

/* The third field of every GP_SYM(family, ret, name, ...) line. */
static void read_syms_def(struct names *out)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/shim/syms.def", env_or_skip("GP_TEST_ROOT"));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "GP_SYM(", 7) != 0)
			continue;
		char *p = line + 7;
		for (int comma = 0; comma < 2 && p; comma++)
			p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
		cr_assert_not_null(p, "malformed line in syms.def: %s", line);
		p += strspn(p, " ");
		size_t len = strcspn(p, ", ");
		cr_assert_lt(out->n, MAX_SYMS);
		out->v[out->n++] = strndup(p, len);
	}
	fclose(f);
	cr_assert_gt(out->n, 10, "syms.def lists only %d symbols", out->n);
}

static void read_exports(struct names *out)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", env_or_skip("GP_TEST_LIB"));
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char addr[64], type[8], name[256];
	while (fscanf(p, "%63s %7s %255s", addr, type, name) == 3) {
		cr_assert_lt(out->n, MAX_SYMS);
		out->v[out->n++] = strdup(name);
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
}

Test(symbols, every_listed_symbol_is_exported)
{
	struct names def = { .n = 0 }, exp = { .n = 0 };
	read_syms_def(&def);
	read_exports(&exp);
	for (int i = 0; i < def.n; i++)
		cr_expect(has(&exp, def.v[i]), "%s is in syms.def but not exported", def.v[i]);
}

/* Exported besides the hooks: the object debuggers find by name (core/debug.h). */
#define DEBUG_OBJECT "greenpatch_debug"

Test(symbols, nothing_else_is_exported)
{
	struct names def = { .n = 0 }, exp = { .n = 0 };
	read_syms_def(&def);
	read_exports(&exp);
	for (int i = 0; i < exp.n; i++)
		cr_expect(has(&def, exp.v[i]) || strcmp(exp.v[i], DEBUG_OBJECT) == 0,
			  "%s is exported but not in syms.def", exp.v[i]);
}

Test(symbols, debug_object_is_exported)
{
	struct names exp = { .n = 0 };
	read_exports(&exp);
	cr_expect(has(&exp, DEBUG_OBJECT), "%s is not exported: debuggers cannot find it",
		  DEBUG_OBJECT);
}

Test(symbols, man_page_names_every_symbol)
{
	struct names def = { .n = 0 };
	read_syms_def(&def);
	char path[4096];
	snprintf(path, sizeof(path), "%s/man/libgreenpatch.7", env_or_skip("GP_TEST_ROOT"));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	static char page[1 << 20];
	size_t n = fread(page, 1, sizeof(page) - 1, f);
	page[n] = '\0';
	fclose(f);
	for (int i = 0; i < def.n; i++) {
		/* A name counts when it stands alone, not inside a longer one. */
		bool found = false;
		size_t len = strlen(def.v[i]);
		for (char *p = page; (p = strstr(p, def.v[i])) && !found; p += len) {
			char before = p == page ? ' ' : p[-1], after = p[len];
			found = !(before == '_' || (before >= 'a' && before <= 'z')) &&
				!(after == '_' || (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9'));
		}
		cr_expect(found, "man/libgreenpatch.7 does not name %s", def.v[i]);
	}
}

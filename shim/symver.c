/*
 * Reading an object's dynamic section (elf(5)): its symbols, their versions (versym),
 * and the versions it needs from other objects (verneed).
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>

#include "symver.h"

struct dynamic {
	uintptr_t base;
	const ElfW(Sym) *symtab;
	const char *strtab;
	const ElfW(Half) *versym;
	const char *verneed;
	size_t verneed_count;
	const uint32_t *hash, *gnu_hash;
};

/* The dynamic linker relocates some entries in place where the dynamic section is
 * writable (DT_STRTAB, DT_SYMTAB, DT_VERSYM, the hash tables: elf_get_dynamic_info):
 * an address below the load base is still relative to it. DT_VERNEED it never does
 * (dl-version.c adds l_addr when it reads it). */
static const void *dyn_ptr(const struct dynamic *d, ElfW(Addr) p)
{
	return (const void *)(p < d->base ? p + d->base : p);
}

static bool dynamic_read(const struct link_map *lm, struct dynamic *d)
{
	*d = (struct dynamic){ .base = lm->l_addr };
	for (const ElfW(Dyn) *e = lm->l_ld; e && e->d_tag != DT_NULL; e++) {
		switch (e->d_tag) {
		case DT_SYMTAB: d->symtab = dyn_ptr(d, e->d_un.d_ptr); break;
		case DT_STRTAB: d->strtab = dyn_ptr(d, e->d_un.d_ptr); break;
		case DT_VERSYM: d->versym = dyn_ptr(d, e->d_un.d_ptr); break;
		case DT_VERNEED: d->verneed = (const char *)(d->base + e->d_un.d_ptr); break;
		case DT_VERNEEDNUM: d->verneed_count = e->d_un.d_val; break;
		case DT_HASH: d->hash = dyn_ptr(d, e->d_un.d_ptr); break;
		case DT_GNU_HASH: d->gnu_hash = dyn_ptr(d, e->d_un.d_ptr); break;
		}
	}
	return d->symtab && d->strtab && d->versym && d->verneed && (d->hash || d->gnu_hash);
}

/* How many symbols the table holds: the SysV hash says it; the GNU hash, past the last
 * chain's end (its undefined symbols, not hashed, come first). */
static size_t symbol_count(const struct dynamic *d)
{
	if (d->hash)
		return d->hash[1];
	const uint32_t *h = d->gnu_hash;
	uint32_t nbuckets = h[0], symoffset = h[1], bloom_words = h[2];
	const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(h + 4) + bloom_words);
	const uint32_t *chain = buckets + nbuckets;
	uint32_t last = 0;
	for (uint32_t i = 0; i < nbuckets; i++)
		if (buckets[i] > last)
			last = buckets[i];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return (size_t)last + 1;
}

/* The name of the needed version with index ndx, or NULL. */
static const char *needed_version(const struct dynamic *d, ElfW(Half) ndx)
{
	const char *vn = d->verneed;
	for (size_t i = 0; i < d->verneed_count; i++) {
		const ElfW(Verneed) *need = (const ElfW(Verneed) *)vn;
		const char *aux = vn + need->vn_aux;
		for (unsigned j = 0; j < need->vn_cnt; j++) {
			const ElfW(Vernaux) *a = (const ElfW(Vernaux) *)aux;
			if (a->vna_other == ndx)
				return d->strtab + a->vna_name;
			aux += a->vna_next;
		}
		vn += need->vn_next;
	}
	return NULL;
}

static bool binds_older(const struct link_map *lm, const char *name, const char *alias,
			const char *current)
{
	struct dynamic d;
	if (!dynamic_read(lm, &d))
		return false;
	bool older = false;
	size_t n = symbol_count(&d);
	for (size_t i = 1; i < n; i++) {
		const ElfW(Sym) *s = &d.symtab[i];
		const char *sname = d.strtab + s->st_name;
		if (s->st_shndx != SHN_UNDEF || (strcmp(sname, name) && strcmp(sname, alias)))
			continue;
		const char *version = needed_version(&d, d.versym[i] & 0x7fff);
		if (!version || !strcmp(version, current))
			return false;
		older = true;
	}
	return older;
}

/* One dladdr1 and one walk of the caller's symbols a call: glob reads directories, which
   costs far more. */
bool gp_symver_binds_older(const void *caller, const char *name, const char *alias,
			   const char *current)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return false;
	return binds_older(lm, name, alias, current);
}

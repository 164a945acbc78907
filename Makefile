# libgreenpatch: one non-recursive Makefile, no configure step.
#
#   make            build/libgreenpatch.so (and the launcher is scripts/greenpatch)
#   make test       build everything and run every Criterion suite (alias: check)
#   make asan       the same with AddressSanitizer, in build-asan/
#   make bench      build and run the benchmarks, printing figures
#   make demo       build and run the demo
#   make soak       10,000 connections on a thread-per-connection server under the library
#                   for SOAK_SECONDS (default 120; SOAK_SECONDS=3600 for the hour)
#   make deb        build the Debian package into build/deb (scripts/deb)
#   make test-package   build, lint, install, try and remove the package (as root)
#   make fuzz-config FUZZ_RUNS=100000 [FUZZ_SEED=N]   the configuration fuzzer, longer
#   make fuzz-threads FUZZ_THREAD_SEEDS=2000 [FUZZ_SEED=N] [FUZZ_THREAD_STEPS=N]
#                   the threading walk (tests/shim_thread_fuzz.c), longer, at 2 carriers and 1
#   make fuzz FUZZ_SEEDS=200 FUZZ_CALLS=3000 [FUZZ_SEED=N]   the I/O fuzzer, longer: seeded
#                   walks of the I/O calls, natively and under the library, outputs compared
#   make CTX=ucontext ...   use the portable ucontext switch instead of the assembly one

CC       ?= cc
CFLAGS   ?= -O2 -g
CPPFLAGS ?=
LDFLAGS  ?=
prefix   ?= /usr/local
bindir   ?= $(prefix)/bin
libdir   ?= $(prefix)/lib
datadir  ?= $(prefix)/share
mandir   ?= $(datadir)/man
DESTDIR  ?=

CTX      ?= asm
SANITIZE ?=
B        ?= build

ARCH     := $(shell $(CC) -dumpmachine | cut -d- -f1)

GP_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
             -D_GNU_SOURCE -iquote core -iquote shim -iquote $(B)
ifeq ($(CTX),ucontext)
GP_CFLAGS += -DGP_CTX_UCONTEXT
endif
ifneq ($(SANITIZE),)
GP_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif

CORE_C   := $(wildcard core/*.c)
CORE_S   := $(wildcard core/ctx_$(ARCH).S)
SHIM_C   := $(wildcard shim/*.c)
CORE_O   := $(CORE_C:%.c=$(B)/%.o) $(CORE_S:%.S=$(B)/%.o)
SHIM_O   := $(SHIM_C:%.c=$(B)/%.o)
# The same core built with the other switch, so that both are tested.
CORE_UC_O := $(CORE_C:%.c=$(B)/uc/%.o)

LIB      := $(B)/libgreenpatch.so
MAP      := $(B)/exports.map
# The launcher as built: it uses the library and lists in $(B), as the installed one
# uses those in $(libdir)/greenpatch. hooked.list (family and name of each interposed
# symbol) is written from syms.def, for `greenpatch check`.
LAUNCHER := $(B)/greenpatch $(B)/hooked.list $(B)/uncovered.list

PROG_SRC := $(wildcard tests/progs/*.c)
PROG_CXX := $(wildcard tests/progs/*.cc)
PROGS    := $(PROG_SRC:tests/progs/%.c=$(B)/progs/%) \
            $(PROG_SRC:tests/progs/%.c=$(B)/progs/%.fortify) \
            $(PROG_CXX:tests/progs/%.cc=$(B)/progs/%)
PROG_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -O1 -g -pthread -D_GNU_SOURCE

UNIT_SRC := $(wildcard tests/core_*.c)
SHIM_TEST_SRC := $(wildcard tests/shim_*.c)
TEST_BINS := $(B)/tests/core $(B)/tests/core-ucontext $(B)/tests/shim

# tests/bench/*_preload.c are plain pthread programs that scripts/bench runs natively and
# preloaded: built like tests/progs, into $(B)/bench-progs, never with the core objects.
BENCH_PROG_SRC := $(wildcard tests/bench/*_preload.c)
BENCH_PROGS := $(BENCH_PROG_SRC:tests/bench/%.c=$(B)/bench-progs/%)
BENCH_SRC := $(filter-out $(BENCH_PROG_SRC),$(wildcard tests/bench/*.c))
BENCHES  := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)

.PHONY: all test check asan bench demo soak deps clean install uninstall progs man-symbols \
        deb test-package fuzz-config fuzz-threads fuzz
all: $(LIB) $(LAUNCHER)

deps:
	@scripts/deps

$(B)/%.o: %.c $(MAP)
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/uc/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(GP_CFLAGS) -DGP_CTX_UCONTEXT $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The version script is generated from the one list of interposed symbols.
$(MAP): shim/syms.def shim/exports.map.in
	@mkdir -p $(@D)
	$(CC) -E -P -x c -Ishim shim/exports.map.in -o $@

$(LIB): $(CORE_O) $(SHIM_O) $(MAP)
	$(CC) -shared $(SAN_LDFLAGS) $(LDFLAGS) -Wl,--version-script=$(MAP) -Wl,-z,now \
	    -o $@ $(CORE_O) $(SHIM_O) -lev -ldl -lpthread

$(B)/greenpatch: scripts/greenpatch
	@mkdir -p $(@D)
	sed -e 's|^GP_LIBDIR=.*|GP_LIBDIR=$(abspath $(B))|' \
	    -e 's|^GP_GDB_EXT=.*|GP_GDB_EXT=$(abspath scripts/libgreenpatch-gdb.py)|' \
	    $< > $@.tmp && chmod 755 $@.tmp && mv $@.tmp $@

$(B)/hooked.list: shim/syms.def
	@mkdir -p $(@D)
	awk -F', *' '/^GP_SYM\(/ { print substr($$1, 8), $$3 }' $< > $@

$(B)/uncovered.list: shim/uncovered.list
	@mkdir -p $(@D)
	cp $< $@

$(B)/progs/%: tests/progs/%.c tests/progs/progs.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -o $@ $< -lm $(PROG_LIBS)

$(B)/progs/%.fortify: tests/progs/%.c tests/progs/progs.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -O2 -D_FORTIFY_SOURCE=2 -o $@ $< -lm $(PROG_LIBS)

# Without PIE, so that malloc's address is the program's PLT entry (tests/shim_carriers.c).
$(B)/progs/nopie_malloc $(B)/progs/nopie_malloc.fortify: PROG_CFLAGS += -fno-pie -no-pie

# Waits the library cannot see, io_uring's among them (tests/shim_stuck.c).
$(B)/progs/stuck_cases $(B)/progs/stuck_cases.fortify: PROG_LIBS := -luring

# glob as a program linked before glibc 2.27 binds it (tests/shim_paths.c).
PROGS += $(B)/progs/glob_versions.first
$(B)/progs/glob_versions.first: tests/progs/glob_versions.c tests/progs/progs.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -DGLOB_FIRST_VERSION -o $@ $< -lm

$(B)/progs/%: tests/progs/%.cc tests/progs/cases.hh
	@mkdir -p $(@D)
	$(CXX) -std=gnu++17 -Wall -Wextra -Werror -O1 -g -pthread -o $@ $<

# tests/shim_paths.c mounts a FUSE file system that answers slowly, built with Debian's
# libfuse3 where it is installed (scripts/deps installs it; the test says it is skipped
# otherwise).
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null)
ifneq ($(FUSE_LIBS),)
PROGS += $(B)/progs/slowfs
endif

$(B)/progs/slowfs: tests/fuse/slowfs.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) $(FUSE_CFLAGS) -o $@ $< $(FUSE_LIBS)

progs: $(PROGS)

# Thread-local storage (tests/shim_tls.c). The tls_* programs are built by the rules above
# and share tls.h; besides them: the library tls_dlopen loads late, in the two TLS models a
# shared library can use; a build with stack protection, whose canary is read from TLS in
# every protected function; and a Rust program, built with Debian's rustc when it is there
# (scripts/deps installs it; the test says it is skipped otherwise).
TLS_C     := $(wildcard tests/progs/tls_*.c)
TLS_EXTRA := $(B)/progs/libtlsmod.so $(B)/progs/libtlsmod_ie.so $(B)/progs/tls_stack.ssp
ifneq ($(wildcard /usr/bin/rustc),)
TLS_EXTRA += $(B)/progs/tls_rust
endif

$(TLS_C:tests/progs/%.c=$(B)/progs/%) $(TLS_C:tests/progs/%.c=$(B)/progs/%.fortify): \
    tests/progs/tls.h

$(B)/progs/libtlsmod.so: tests/progs/mod/tls_mod.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -fPIC -shared -o $@ $<

$(B)/progs/libtlsmod_ie.so: tests/progs/mod/tls_mod.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -fPIC -shared -ftls-model=initial-exec -o $@ $<

$(B)/progs/tls_stack.ssp: tests/progs/tls_stack.c tests/progs/progs.h tests/progs/tls.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -O2 -fstack-protector-strong -o $@ $< -lm

$(B)/progs/tls_rust: tests/progs/tls_rust.rs
	@mkdir -p $(@D)
	/usr/bin/rustc -O --edition 2021 -D warnings -o $@ $<

progs: $(TLS_EXTRA)

# Preloaded after the ASan runtime in a sanitizer build (tests/progs/mod/swift_stub.c).
ASAN_STUB := $(B)/progs/libswift_stub.so

$(ASAN_STUB): tests/progs/mod/swift_stub.c
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -fPIC -shared -o $@ $<

ifeq ($(SANITIZE),address)
progs: $(ASAN_STUB)
endif

TEST_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -g -D_GNU_SOURCE -iquote core -iquote shim -iquote tests -iquote $(B)

$(B)/tests/core: $(UNIT_SRC) $(CORE_O) tests/unit.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(filter %.c,$^) $(CORE_O) $(SAN_LDFLAGS) -o $@ -lcriterion -lev -lpthread

$(B)/tests/core-ucontext: $(UNIT_SRC) $(CORE_UC_O) tests/unit.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DGP_CTX_UCONTEXT $(filter %.c,$^) $(CORE_UC_O) $(SAN_LDFLAGS) -o $@ -lcriterion -lev -lpthread

$(B)/tests/shim: $(SHIM_TEST_SRC) tests/harness.c tests/harness.h tests/native_runs.c tests/native_runs.h shim/syms.def core/config.def
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(filter %.c,$^) -o $@ -lcriterion

$(B)/bench/%: tests/bench/%.c tests/bench/bench.h $(CORE_O)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -O2 $< $(CORE_O) $(SAN_LDFLAGS) -o $@ -lev -lpthread

$(B)/bench-progs/%: tests/bench/%.c tests/bench/bench.h
	@mkdir -p $(@D)
	$(CC) $(PROG_CFLAGS) -O2 -o $@ $<

# Tests find what they run through these variables. An ASan-built shim is preloaded
# before the ASan runtime, not after: ASan's own pthread_create interceptor would
# otherwise wrap every green thread's start routine as if it were a new kernel thread.
# With the shim first, our hooks call ASan's interceptors as their "real" functions.
# handle_segv=0: the guard-page tests expect the SIGSEGV itself, not ASan's report of it.
# After the runtime, a stub without which the runtime deadlocks Debian's programs that
# link p11-kit as it starts (tests/progs/mod/swift_stub.c).
ASAN_RT := $(if $(filter address,$(SANITIZE)),:$(shell $(CC) -print-file-name=libasan.so):$(abspath $(ASAN_STUB)))
TEST_ENV := GP_TEST_LIB=$(abspath $(LIB)) GP_TEST_PRELOAD=$(abspath $(LIB))$(ASAN_RT) \
            GP_TEST_PROGS=$(abspath $(B)/progs) GP_TEST_ROOT=$(CURDIR) \
            ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0:$(ASAN_OPTIONS)

# The build before the tests runs a job a CPU, unless make was given -j itself.
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
BUILD_PAR   = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(BUILD_JOBS))

# The native side of each comparison runs in the first pass of the behaviour tests and
# is kept here for the second (tests/native_runs.h); made afresh by every make test.
NATIVE_RUNS := $(abspath $(B)/native-runs)

test: deps
	@$(MAKE) --no-print-directory $(BUILD_PAR) $(LIB) $(LAUNCHER) progs $(TEST_BINS)
	@rm -rf $(NATIVE_RUNS) && mkdir -p $(NATIVE_RUNS)
	@set -e; for t in $(TEST_BINS); do \
	    echo "== $$t"; $(TEST_ENV) GP_TEST_NATIVE_RUNS=$(NATIVE_RUNS) GREENPATCH_CARRIERS=2 \
	    $$t --jobs 2 --short-filename; done
	@echo "== $(B)/tests/shim, one carrier"
	@$(TEST_ENV) GP_TEST_NATIVE_RUNS=$(NATIVE_RUNS) GREENPATCH_CARRIERS=1 \
	    $(B)/tests/shim --jobs 2 --short-filename
	@$(if $(SANITIZE),,tests/package/run)
check: test

asan:
	@$(MAKE) --no-print-directory SANITIZE=address B=build-asan test

# The configuration fuzzer (tests/shim_config_fuzz.c) alone, for longer than the 500 runs
# of make test; from FUZZ_SEED when given, else from the clock. It prints the seed and
# the count of runs; a failure names its case, which GP_FUZZ_CASE runs again alone.
FUZZ_RUNS ?= 20000
FUZZ_SEED ?=
fuzz-config: deps
	@$(MAKE) --no-print-directory $(LIB) $(LAUNCHER) progs $(B)/tests/shim
	@$(TEST_ENV) GP_FUZZ_RUNS=$(FUZZ_RUNS) GP_FUZZ_SEED=$(FUZZ_SEED) \
	    $(B)/tests/shim --jobs 1 --short-filename --filter 'config_fuzz/random'

# The threading walk (tests/shim_thread_fuzz.c) alone, for more seeds than the 40 of
# make test, at two carriers and at one; from FUZZ_SEED when given, else from the clock.
# A failure names its seed, which GP_FUZZ_THREAD_CASE runs again alone.
FUZZ_THREAD_SEEDS ?= 2000
FUZZ_THREAD_STEPS ?= 3000
fuzz-threads: deps
	@$(MAKE) --no-print-directory $(LIB) progs $(B)/tests/shim
	@seed=$${FUZZ_SEED:-$$(date +%s)}; echo "thread walks from seed $$seed"; \
	for c in 2 1; do \
	    $(TEST_ENV) GREENPATCH_CARRIERS=$$c GP_FUZZ_THREAD_SEEDS=$(FUZZ_THREAD_SEEDS) \
	    GP_FUZZ_THREAD_STEPS=$(FUZZ_THREAD_STEPS) GP_FUZZ_THREAD_SEED=$$seed \
	    $(B)/tests/shim --jobs 1 --short-filename --filter 'thread_fuzz/random' || exit 1; \
	done
# The differential I/O fuzzer (tests/shim_fuzz.c, tests/progs/io_walk.c) alone, for more
# than the 4 walks of 1000 calls of make test, in both builds of io_walk, from seed FUZZ_SEED (default
# 1). A failure names its seed: build/progs/io_walk SEED CALLS runs it again.
FUZZ_SEEDS ?= 200
FUZZ_CALLS ?= 3000
fuzz: deps
	@$(MAKE) --no-print-directory $(LIB) $(LAUNCHER) progs $(B)/tests/shim
	@$(TEST_ENV) GP_FUZZ_SEEDS=$(FUZZ_SEEDS) GP_FUZZ_CALLS=$(FUZZ_CALLS) GP_FUZZ_SEED=$(FUZZ_SEED) \
	    $(B)/tests/shim --jobs 1 --short-filename --filter 'io_fuzz/*'

bench: deps
	@$(MAKE) --no-print-directory $(LIB) progs $(BENCHES) $(BENCH_PROGS)
	@scripts/bench $(B)

demo: deps
	@$(MAKE) --no-print-directory $(LIB) progs
	@scripts/demo $(B)

# The soak (scripts/soak): how long the load lasts, in seconds. CI runs the default.
SOAK_SECONDS ?= 120

soak: deps
	@$(MAKE) --no-print-directory $(LIB) $(B)/progs/soak_server $(B)/bench/soak_load
	@SOAK_SECONDS=$(SOAK_SECONDS) scripts/soak $(B)

# The Debian package, built with debian/ from a copy of the tree (dpkg-buildpackage
# cleans and writes next to the tree it builds): the .deb files land in $(B)/deb.
deb:
	@scripts/deb $(B)/deb

# Builds the package, checks it with lintian, installs it, tries it and removes it; as
# root only, since it installs it system-wide (tests/package/run says when it skips).
# `make test` runs it last, except in the sanitizer build.
test-package: deps
	@tests/package/run

# The man page's list of interposed functions, rewritten from shim/syms.def.
man-symbols:
	@scripts/man-symbols

# The gdb extension goes where gdb auto-loads it with the library (<objfile>-gdb.py under
# its auto-load directory, which is $(datadir)/gdb/auto-load for a gdb installed in the
# same prefix); the launcher names it to gdb itself for other prefixes.
GDB_EXT  := $(datadir)/gdb/auto-load$(libdir)/greenpatch/libgreenpatch.so-gdb.py

install: $(LIB) $(LAUNCHER)
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir)/greenpatch \
	    $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man7 $(DESTDIR)$(dir $(GDB_EXT))
	install -m 755 $(LIB) $(DESTDIR)$(libdir)/greenpatch/libgreenpatch.so
	install -m 644 $(B)/hooked.list $(B)/uncovered.list $(DESTDIR)$(libdir)/greenpatch/
	install -m 644 scripts/libgreenpatch-gdb.py $(DESTDIR)$(GDB_EXT)
	sed -e 's|^GP_LIBDIR=.*|GP_LIBDIR=$(libdir)/greenpatch|' \
	    -e 's|^GP_GDB_EXT=.*|GP_GDB_EXT=$(GDB_EXT)|' \
	    -e 's|^GP_BINDIR=.*|GP_BINDIR=$(bindir)|' scripts/greenpatch > $(DESTDIR)$(bindir)/greenpatch
	chmod 755 $(DESTDIR)$(bindir)/greenpatch
	install -m 644 man/greenpatch.1 $(DESTDIR)$(mandir)/man1/
	install -m 644 man/libgreenpatch.7 $(DESTDIR)$(mandir)/man7/

uninstall:
	rm -f $(DESTDIR)$(bindir)/greenpatch $(DESTDIR)$(libdir)/greenpatch/libgreenpatch.so \
	    $(DESTDIR)$(libdir)/greenpatch/hooked.list $(DESTDIR)$(libdir)/greenpatch/uncovered.list \
	    $(DESTDIR)$(mandir)/man1/greenpatch.1 $(DESTDIR)$(mandir)/man7/libgreenpatch.7 \
	    $(DESTDIR)$(GDB_EXT)
	-rmdir $(DESTDIR)$(libdir)/greenpatch
	-d=$(DESTDIR)$(datadir)/gdb/auto-load$(libdir)/greenpatch; \
	while [ "$$d" != "$(DESTDIR)$(datadir)/gdb/auto-load" ] && rmdir "$$d" 2>/dev/null; do \
	    d=$${d%/*}; done

clean:
	rm -rf build build-asan

-include $(shell find $(B) -name '*.d' 2>/dev/null)

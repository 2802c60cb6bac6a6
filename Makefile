# SPDX-License-Identifier: GPL-2.0
#
# circbuf: top-level Makefile. Kbuild reads ./Kbuild for the module; this
# file drives that build, the CMake build of user space, the VM and tests.
#
#   make            module + user space (KVER=RELEASE: for that kernel;
#                   default: the newest supported one installed, scripts/kver)
#   make module-for KVER=RELEASE  the module for another kernel, in
#                   build/kmod/RELEASE (SPARSE=1: sparse too)
#   make demo       set up, boot the VM, show /dev/circbuf at work
#   make check      set up, then every test (host, lint, VM) on the kernel
#                   matrix (scripts/kernels: KERNELS= the VM kernels,
#                   RT_KERNELS= and CLOUD_KERNELS= those of the RT and cloud
#                   lanes, BUILD_KERNELS= the build-only ones); prints a summary
#   make check-debug the VM tests again under the debug kernels of 6.12:
#                   KASAN, lockdep, kmemleak, DMA-API debugging; and KCSAN
#                   (DEBUG_LANES="6.12:full 6.12:races 6.1:short" adds
#                   6.1's); builds each once
#   make kernels    print the kernel matrix
#   make debug-kernel  build the debug kernel once (DEBUG_SERIES=6.1 or 6.12;
#                   6.12-kcsan or 6.1-kcsan: the KCSAN one)
#   make bench      circbuf against the pipe on each VM kernel of the matrix;
#                   writes docs/bench-results.md and the README's figures
#   make install    module, tools, man pages, udev rule (uninstall: the reverse)
#   make dkms-install  register with DKMS and install for $(KVER) (dkms-remove)
#   make help       this text

# Once, not at every expansion (scripts/kver may print a note).
ifndef KVER
KVER  := $(shell $(CURDIR)/scripts/kver)
endif
KDIR  ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
JOBS  ?= $(shell nproc)

.PHONY: all deps module module-for kernels userland unit lint sparse checkpatch vm-test check demo clean
.PHONY: debug-kernel debug-module vm-test-debug check-debug

all: module userland

.PHONY: help
help:
	@sed -n '/^#   make /,/^$$/{/^$$/d;s/^# \{0,3\}//;p}' $(firstword $(MAKEFILE_LIST))

deps:
	@$(CURDIR)/scripts/install-deps

module:
	@test -d "$(KDIR)" || { echo "no kernel headers at $(KDIR): run 'make deps' (or apt-get install linux-headers-amd64)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# A copy of the sources per kernel, so that the matrix's builds never touch
# this tree's objects (circbuf.ko here stays the one for $(KVER)).
KMOD_DIR = $(BUILD)/kmod/$(KVER)
module-for:
	@test -d "$(KDIR)" || { echo "no kernel headers at $(KDIR): apt-get install linux-headers-$(KVER)"; exit 1; }
	@rm -rf $(KMOD_DIR) && mkdir -p $(KMOD_DIR) && \
	cp -p --parents $(DEBUG_MODULE_SRC) $(KMOD_DIR)/
	$(MAKE) -C $(KDIR) M=$(KMOD_DIR) W=1 $(if $(SPARSE),C=2 CF="-D__CHECK_ENDIAN__") modules

kernels:
	@echo "build: $$($(CURDIR)/scripts/kernels --build | tr '\n' ' ')"
	@echo "VM:    $$($(CURDIR)/scripts/kernels --vm | tr '\n' ' ')"
	@echo "RT:    $$($(CURDIR)/scripts/kernels --rt | tr '\n' ' ')"
	@echo "cloud: $$($(CURDIR)/scripts/kernels --cloud | tr '\n' ' ')"

$(BUILD)/user/CMakeCache.txt:
	cmake -S $(CURDIR) -B $(BUILD)/user -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE)

userland: $(BUILD)/user/CMakeCache.txt
	cmake --build $(BUILD)/user -j$(JOBS)

unit: userland
	ctest --test-dir $(BUILD)/user --output-on-failure -j$(JOBS)

sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 CF="-D__CHECK_ENDIAN__" modules

checkpatch:
	@$(CURDIR)/scripts/checkpatch

lint: sparse checkpatch

vm-test: module userland
	$(CURDIR)/tests/vm/run -- $(BUILD)/user/bin/circbuf-vm-test

check:
	@$(CURDIR)/tests/check

demo:
	@$(CURDIR)/scripts/demo

# circbuf against a pipe, read/write against io_uring, in two VM lanes on
# each kernel of the matrix (scripts/bench); results in $(BUILD)/bench,
# published to docs/bench-results.md and the README (scripts/bench-report;
# BENCH_PUBLISH=0 keeps them in $(BUILD)). About 8 minutes per kernel.
.PHONY: bench bench-dma
bench: userland
	@$(CURDIR)/scripts/bench

# The DMA path against the CPU-copy path over block sizes, in one
# instruction-counted boot (scripts/bench-dma); how dma_threshold was chosen.
bench-dma: module userland
	@$(CURDIR)/scripts/bench-dma $(if $(PUBLISH),--publish)

# The debug lanes: Debian's 6.12 (DEBUG_SERIES=6.1: 6.1) source with KASAN,
# lockdep and friends (tests/vm/debug.config), or with KCSAN
# (DEBUG_SERIES=6.12-kcsan or 6.1-kcsan: tests/vm/kcsan.config), each on
# tests/vm/debug-base.config, cached outside the tree; the
# module is built for it from a copy of its sources in
# $(BUILD)/debug-module/$(DEBUG_SERIES), so the objects in this directory
# stay those of the Debian kernel. CIRCBUF_DEBUG_SERIES in the environment
# does the same for every tool (tests/vm/run --debug, tests/kunit/run).
DEBUG_SERIES ?= $(or $(CIRCBUF_DEBUG_SERIES),6.12)
export CIRCBUF_DEBUG_SERIES := $(DEBUG_SERIES)
DEBUG_MODULE := $(BUILD)/debug-module/$(DEBUG_SERIES)
DEBUG_MODULE_SRC = Kbuild $(wildcard kmod/*.[ch] dma/*.[ch] uapi/*.h)

debug-kernel:
	@$(CURDIR)/scripts/build-debug-kernel

debug-module:
	@dk=$$($(CURDIR)/scripts/build-debug-kernel) && \
	mkdir -p $(DEBUG_MODULE) && \
	cp -p --parents $(DEBUG_MODULE_SRC) $(DEBUG_MODULE)/ && \
	$(MAKE) -C "$$dk" M=$(DEBUG_MODULE) W=1 modules

# KUnit suites of the ring arithmetic, the DMA descriptor building and the
# DMA engine (tests/kunit/), for the debug kernel: build/kunit/SERIES/circbuf_kunit.ko,
# built with the debug module and from the same headers (the engine suite
# reads circbuf.ko's private state); tests/kunit/run runs them in the VM.
KUNIT_MODULE := $(BUILD)/kunit/$(DEBUG_SERIES)
.PHONY: kunit-module
kunit-module: debug-module
	@dk=$$($(CURDIR)/scripts/build-debug-kernel) && \
	mkdir -p $(KUNIT_MODULE) && \
	cp -p tests/kunit/Kbuild tests/kunit/*.c $(KUNIT_MODULE)/ && \
	cp -p --parents $(wildcard kmod/*.h dma/*.h uapi/*.h) $(KUNIT_MODULE)/ && \
	$(MAKE) -C "$$dk" M=$(KUNIT_MODULE) W=1 modules

vm-test-debug: debug-module userland
	$(CURDIR)/tests/vm/run --debug -- $(BUILD)/user/bin/circbuf-vm-test

check-debug:
	@$(CURDIR)/tests/check-debug

# Install (README.md, "Install"); nothing is built here: run make first.
# The module goes to /lib/modules/$(KVER)/updates (then depmod), the tools
# and their shared library under $(PREFIX), the man pages under $(MANDIR),
# and a udev rule giving /dev/circbuf to the group circbuf, mode 0660, to
# /etc/udev/rules.d: a source install is local administration, udev does
# not read $(PREFIX), and /lib/udev/rules.d belongs to the package manager
# (packagers: UDEVRULESDIR=/lib/udev/rules.d). DESTDIR stages everything
# below a directory and depmod then indexes only that tree (depmod -b, for
# modprobe -d); DEPMOD=true skips depmod. uninstall removes the same files.
.PHONY: install uninstall dkms-src dkms-add dkms-install dkms-remove
# The module to install: this tree's, or one of "make module-for".
KO           ?= circbuf.ko
PREFIX       ?= /usr/local
MANDIR       ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /etc/udev/rules.d
# /sbin: not in a normal user's PATH on Debian, and DESTDIR needs no root.
DEPMOD       ?= /sbin/depmod
MODINFO      ?= /sbin/modinfo
# circbuf's version is kept in one place: PACKAGE_VERSION in dkms.conf.
VERSION      := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' $(CURDIR)/dkms.conf)
TOOLS        := $(sort $(patsubst userland/tools/%.cpp,%,$(wildcard userland/tools/*.cpp)))
DEST         := $(if $(DESTDIR),$(abspath $(DESTDIR)))
MODDIR        = $(DEST)/lib/modules/$(KVER)
# The indexes depmod writes, removed from a stage with its last module.
DEPMOD_FILES := modules.alias modules.alias.bin modules.builtin.alias.bin \
	modules.builtin.bin modules.dep modules.dep.bin modules.devname \
	modules.softdep modules.symbols modules.symbols.bin modules.weakdep

install:
	@test -r $(KO) || { echo "make install: $(KO) is not built: run 'make'$(if $(filter-out circbuf.ko,$(KO)), or 'make module-for KVER=$(KVER)',) first" >&2; exit 1; }
	@v=$$($(MODINFO) -F vermagic $(KO) | cut -d' ' -f1); [ "$$v" = "$(KVER)" ] || \
		{ echo "make install: $(KO) is built for $$v, not $(KVER): run 'make KVER=$(KVER)' first" >&2; exit 1; }
	@for t in $(TOOLS); do test -x "$(BUILD)/user/bin/$$t" || \
		{ echo "make install: $(BUILD)/user/bin/$$t is not built: run 'make' first" >&2; exit 1; }; done
	install -D -m 0644 $(KO) $(MODDIR)/updates/circbuf.ko
	DESTDIR=$(DEST) cmake --install $(BUILD)/user --prefix $(PREFIX)
	install -D -m 0644 -t $(DEST)$(MANDIR)/man1 $(TOOLS:%=man/%.1)
	install -D -m 0644 -t $(DEST)$(MANDIR)/man4 man/circbuf.4
	install -D -m 0644 -t $(DEST)$(UDEVRULESDIR) udev/60-circbuf.rules
	$(DEPMOD)$(if $(DEST), -b $(DEST)) $(KVER)
	@[ -n "$(DEST)" ] || getent group circbuf >/dev/null || \
		echo "make install: no group circbuf, so /dev/circbuf stays root's: groupadd --system circbuf; usermod -aG circbuf USER"

uninstall:
	rm -f $(MODDIR)/updates/circbuf.ko
	@rmdir --ignore-fail-on-non-empty $(MODDIR)/updates 2>/dev/null || true
	rm -f $(TOOLS:%=$(DEST)$(PREFIX)/bin/%) $(DEST)$(PREFIX)/lib/libcircbuf_util.so
	rm -f $(TOOLS:%=$(DEST)$(MANDIR)/man1/%.1) $(DEST)$(MANDIR)/man4/circbuf.4
	rm -f $(DEST)$(UDEVRULESDIR)/60-circbuf.rules
	@if [ -z "$(DEST)" ]; then echo "$(DEPMOD) $(KVER)"; $(DEPMOD) $(KVER); \
	elif [ -n "$$(find $(MODDIR) -name '*.ko*' 2>/dev/null)" ]; then \
		echo "$(DEPMOD) -b $(DEST) $(KVER)"; $(DEPMOD) -b $(DEST) $(KVER); \
	else echo "rm -f $(MODDIR)/modules.*"; rm -f $(DEPMOD_FILES:%=$(MODDIR)/%); fi

# DKMS: dkms-src copies what dkms builds from (dkms.conf, Kbuild and the
# module's sources, not the build tree) to $(DKMS_SRCDIR), below DESTDIR
# if set (packagers then run dkms add at install time); dkms-install also
# registers it and builds and installs it for $(KVER); DKMS rebuilds it
# for kernels installed later (AUTOINSTALL). dkms-remove undoes it all.
DKMS_SRCDIR ?= /usr/src/circbuf-$(VERSION)

dkms-src:
	@[ -n "$(VERSION)" ] || { echo "no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf $(DEST)$(DKMS_SRCDIR)
	mkdir -p $(DEST)$(DKMS_SRCDIR)
	cp -p --parents dkms.conf $(DEBUG_MODULE_SRC) $(DEST)$(DKMS_SRCDIR)/

dkms-add: dkms-src
	@[ -z "$(DEST)" ] || { echo "make $@: not with DESTDIR (use dkms-src)" >&2; exit 1; }
	dkms status -m circbuf -v $(VERSION) | grep -q . || dkms add -m circbuf -v $(VERSION)

dkms-install: dkms-add
	dkms install -m circbuf -v $(VERSION) -k $(KVER)

dkms-remove:
	@[ -z "$(DEST)" ] || { echo "make $@: not with DESTDIR" >&2; exit 1; }
	! dkms status -m circbuf -v $(VERSION) | grep -q . || dkms remove -m circbuf -v $(VERSION) --all
	rm -rf $(DKMS_SRCDIR)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)

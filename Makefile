# SPDX-License-Identifier: GPL-2.0
#
# circbuf: top-level Makefile. Kbuild reads ./Kbuild for the module; this
# file drives that build, the CMake build of user space, the VM and tests.
#
#   make            module + user space
#   make demo       set up, boot the VM, show /dev/circbuf at work
#   make check      set up, then every test (host, lint, VM); prints a summary
#   make check-debug the VM tests again under the debug kernel (KASAN,
#                   lockdep, kmemleak, DMA-API debugging); builds it once
#   make vm-shell   (not interactive here) see tests/vm/run --help

KVER  ?= $(shell $(CURDIR)/scripts/kver)
KDIR  ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
JOBS  ?= $(shell nproc)

.PHONY: all deps module userland unit lint sparse checkpatch vm-test check demo clean
.PHONY: debug-kernel debug-module vm-test-debug check-debug

all: module userland

deps:
	@$(CURDIR)/scripts/install-deps

module:
	@test -d "$(KDIR)" || { echo "no kernel headers at $(KDIR): run 'make deps' (or apt-get install linux-headers-amd64)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

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

# circbuf against a pipe, read/write against io_uring, in two VM lanes
# (scripts/bench); results in $(BUILD)/bench. About 4 minutes.
.PHONY: bench bench-dma
bench: module userland
	@$(CURDIR)/scripts/bench

# The DMA path against the CPU-copy path over block sizes, in one
# instruction-counted boot (scripts/bench-dma); how dma_threshold was chosen.
bench-dma: module userland
	@$(CURDIR)/scripts/bench-dma

# The debug lane: Debian's 6.1 source with KASAN, lockdep and friends
# (tests/vm/debug.config), cached outside the tree; the module is built for
# it from a copy of its sources in $(BUILD)/debug-module, so the objects in
# this directory stay those of the Debian kernel.
DEBUG_MODULE := $(BUILD)/debug-module
DEBUG_MODULE_SRC = Kbuild $(wildcard kmod/*.[ch] dma/*.[ch] uapi/*.h)

debug-kernel:
	@$(CURDIR)/scripts/build-debug-kernel

debug-module:
	@dk=$$($(CURDIR)/scripts/build-debug-kernel) && \
	mkdir -p $(DEBUG_MODULE) && \
	cp -p --parents $(DEBUG_MODULE_SRC) $(DEBUG_MODULE)/ && \
	$(MAKE) -C "$$dk" M=$(DEBUG_MODULE) W=1 modules

vm-test-debug: debug-module userland
	$(CURDIR)/tests/vm/run --debug -- $(BUILD)/user/bin/circbuf-vm-test

check-debug:
	@$(CURDIR)/tests/check-debug

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)

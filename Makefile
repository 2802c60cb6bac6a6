# SPDX-License-Identifier: GPL-2.0
#
# circbuf: top-level Makefile. Kbuild reads ./Kbuild for the module; this
# file drives that build, the CMake build of user space, the VM and tests.
#
#   make            module + user space
#   make demo       set up, boot the VM, show /dev/circbuf at work
#   make check      set up, then every test (host, lint, VM); prints a summary
#   make vm-shell   (not interactive here) see tests/vm/run --help

KVER  ?= $(shell $(CURDIR)/scripts/kver)
KDIR  ?= /lib/modules/$(KVER)/build
BUILD ?= $(CURDIR)/build
CMAKE_BUILD_TYPE ?= RelWithDebInfo
JOBS  ?= $(shell nproc)

.PHONY: all deps module userland unit lint sparse checkpatch vm-test check demo clean

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

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)

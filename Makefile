# Cairn - top-level build.
#
#   make run     install what is missing, build, create the NVMe disk image, boot in QEMU
#   make test    install what is missing, build, run every test (unit + QEMU integration)
#   make image   build/kernel.elf and build/cairn.iso
#   make unit    host unit tests only
#   make disk    build/nvme-disk.img
#   make bench-sgl  PRPs against SGLs in QEMU (4 KiB and 128 KiB; a benchmark, not part of make test)
#   make bench-linux  Linux and Cairn booted alternately in one QEMU configuration (ROUNDS=3; not in make test)
#   make usb DEVICE=/dev/sdX   write build/cairn.iso to a removable USB stick (checks, asks, verifies)
#   make clean
#
# BUILD=<dir> puts every output in another folder (parallel work trees).

BUILD ?= build
.DEFAULT_GOAL := all
# How long `make test` runs each libFuzzer target (CI's bounded fuzz run).
TEST_FUZZ_SECONDS ?= 30
VERSION := 0.1.0

CC := gcc
LD := ld
NASM := nasm
HOSTCC := gcc
PYTHON := /usr/bin/python3

KERNEL_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-builtin -nostdlib \
	-fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mcmodel=kernel -mgeneral-regs-only \
	-mno-mmx -mno-sse -mno-sse2 -fno-omit-frame-pointer -fno-tree-loop-distribute-patterns \
	-fno-asynchronous-unwind-tables -fno-strict-aliasing \
	-Ikernel/include -DCAIRN_VERSION=\"$(VERSION)\" -MMD -MP
KERNEL_LDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack -T linker.ld
NASM_FLAGS := -f elf64 -g -F dwarf

KERNEL_C_SOURCES := $(shell find kernel/source -name '*.c' | sort)
KERNEL_ASM_SOURCES := $(shell find kernel/source -name '*.asm' | sort) boot/Boot.asm
KERNEL_OBJECTS := $(patsubst %.c,$(BUILD)/obj/%.o,$(KERNEL_C_SOURCES)) \
	$(patsubst %.asm,$(BUILD)/obj/%.asm.o,$(KERNEL_ASM_SOURCES))

# The framebuffer console's fonts: PSF files from Debian's console-setup-linux, turned into C at build time
# (tools/psf2c.py; drivers/console/Font.h). No font data is kept in the repository.
FONT_DIR ?= /usr/share/consolefonts
FONT_FILES := FontVGA16=$(FONT_DIR)/Uni2-VGA16.psf.gz FontTerminus16x32=$(FONT_DIR)/Uni2-Terminus32x16.psf.gz
GENERATED_FONTS := $(BUILD)/generated/Fonts.c
KERNEL_OBJECTS += $(BUILD)/obj/generated/Fonts.o

KERNEL_ELF := $(BUILD)/kernel.elf
ISO := $(BUILD)/cairn.iso
DISK_IMAGE := $(BUILD)/nvme-disk.img

# Host tests link the host kernel (tests/host) and the kernel sources their "// SOURCES:" line names, which may
# be groups from tests/sources.mk. Each file is compiled once per flavour into $(BUILD)/host/<flavour>/ and
# the objects are linked into each test.
include tests/sources.mk

# Host unit tests: tests/unit/Test-*.c (cmocka), ASan and UBSan.
UNIT_TEST_SOURCES := $(sort $(wildcard tests/unit/Test-*.c))
UNIT_TEST_BINARIES := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_TEST_SOURCES))
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -DCAIRN_HOST_BUILD -Ikernel/include -Itests/host -Itests/unit \
	-fsanitize=address,undefined -fno-omit-frame-pointer -pthread

$(eval $(call HOST_OBJECT_RULE,unit,$(HOSTCC) $(HOST_CFLAGS)))

# $(call UNIT_TEST_RULE,test.c)
define UNIT_TEST_RULE
$(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(1)): $(call HOST_TEST_OBJECTS,unit,$(1))
	@mkdir -p $$(dir $$@)
	$(HOSTCC) $(HOST_CFLAGS) -o $$@ $$^ -lcmocka
endef
$(foreach Test,$(UNIT_TEST_SOURCES),$(eval $(call UNIT_TEST_RULE,$(Test))))

# Host tests against the NVMe controller model (defines test-model and MODEL_TEST_BINARIES).
-include tests/model/model.mk

# QEMU with an Intel VMD device (tools/qemu-vmd): `make qemu-vmd` builds it once per patch version into a cache
# outside the work tree and links it as $(QEMU_VMD); the VMD integration tests use it.
include tools/qemu-vmd/qemu-vmd.mk

.PHONY: all image kernel run test unit integration disk deps clean usb bench-sgl bench-linux

all: image

deps:
	@tools/install-deps.sh

kernel: $(KERNEL_ELF)

image: $(ISO)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.asm.o: %.asm
	@mkdir -p $(dir $@)
	$(NASM) $(NASM_FLAGS) $< -o $@

$(GENERATED_FONTS): tools/psf2c.py tools/psf.py
	@mkdir -p $(dir $@)
	$(PYTHON) tools/psf2c.py $@ $(FONT_FILES)

$(BUILD)/obj/generated/Fonts.o: $(GENERATED_FONTS)
	@mkdir -p $(dir $@)
	$(CC) $(KERNEL_CFLAGS) -c $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJECTS) linker.ld
	$(LD) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJECTS)
	@grub-file --is-x86-multiboot2 $@ || (echo "error: $@ is not multiboot2" && rm -f $@ && false)

$(ISO): $(KERNEL_ELF) boot/grub.cfg
	@rm -rf $(BUILD)/iso && mkdir -p $(BUILD)/iso/boot/grub
	cp $(KERNEL_ELF) $(BUILD)/iso/boot/kernel.elf
	cp boot/grub.cfg $(BUILD)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(BUILD)/iso > $(BUILD)/grub-mkrescue.log 2>&1 || (cat $(BUILD)/grub-mkrescue.log && false)

disk: $(DISK_IMAGE)

$(DISK_IMAGE): tools/make-disk-image.sh $(shell find tools/disk-content -type f 2>/dev/null)
	tools/make-disk-image.sh $@ tools/disk-content

# Refuses anything but a removable, unmounted whole disk; see tools/write-usb.py and documentation/Bare-Metal.md.
usb: image
	@$(PYTHON) tools/write-usb.py --image $(ISO) $(DEVICE)

run: deps image disk
	@tools/run-qemu.sh $(ISO) $(DISK_IMAGE)

unit: $(UNIT_TEST_BINARIES) $(MODEL_TEST_BINARIES)
	@$(PYTHON) tests/run_all.py --build $(BUILD) --unit-only

integration: image disk
	@$(PYTHON) tests/run_all.py --build $(BUILD) --integration-only

# BENCH_SGL_ARGS passes options on (--seconds, --rounds, --qd, --workloads, --sizes: see the script).
bench-sgl: image
	@$(PYTHON) tests/integration/bench_nvme_sgl.py --build $(BUILD) $(BENCH_SGL_ARGS)

# Debian's Linux (cloud kernel, busybox, fio: fetched once into $(BUILD)/bench-linux) against Cairn, ROUNDS
# alternating rounds; the table, $(BUILD)/bench-linux/results.json and results.png. See documentation/Performance.md.
ROUNDS ?= 3
bench-linux: image
	@tools/install-deps.sh --bench
	@$(PYTHON) tools/bench/bench_linux.py --build $(BUILD) --rounds $(ROUNDS) $(BENCH_LINUX_ARGS)
	@$(PYTHON) tools/bench/plot.py $(BUILD)/bench-linux/results.json $(BUILD)/bench-linux/results.png

# A unit test that does not compile is counted as failed by run_all.py, so the
# closing "N passed, N failed" line is always printed (the binaries are removed
# first, so none is left from an earlier build; relinking them is quick).
test: deps
	@$(MAKE) --no-print-directory image disk
	-@$(MAKE) --no-print-directory qemu-vmd
	@rm -f $(UNIT_TEST_BINARIES) $(MODEL_TEST_BINARIES)
	-@$(MAKE) --no-print-directory -k $(UNIT_TEST_BINARIES) $(MODEL_TEST_BINARIES)
	@CAIRN_REQUIRE_QEMU_VMD=1 $(PYTHON) tests/run_all.py --build $(BUILD) --fuzz-seconds $(TEST_FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/host -name '*.d' 2>/dev/null)

# Fuzz targets (libFuzzer, clang): tests/fuzz/fuzz.mk defines `fuzz` and `fuzz-smoke`.
-include tests/fuzz/fuzz.mk

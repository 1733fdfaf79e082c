# qemu-vmd.mk - make fragment for the QEMU with an Intel VMD device
# (tools/qemu-vmd/build.sh). Include it from the top Makefile after BUILD is
# set:
#     include tools/qemu-vmd/qemu-vmd.mk
# `make qemu-vmd` builds (or takes from the cache) qemu-system-x86_64 with the
# vmd device and links it as $(QEMU_VMD).

BUILD ?= build
QEMU_VMD := $(BUILD)/qemu-vmd/qemu-system-x86_64

.PHONY: qemu-vmd
qemu-vmd:
	@tools/qemu-vmd/build.sh $(BUILD)

# tests/sources.mk - the kernel sources of each host-test group, named once (included by the top Makefile).
#
# Paths are relative to kernel/source. A test's "// SOURCES:" line may name groups as make variables,
# e.g. "// SOURCES: $(EXT2_SOURCES) shell/Shell.c"; the Makefile expands them (TEST_SOURCES). Every host test
# (unit, model, fuzz) also links the host kernel, so no SOURCES line needs to name its files.

# The host kernel (tests/host/HostKernel.h): the real kernel files it is made of, and its host glue.
HOST_KERNEL_SOURCES := core/Log.c core/CommandLine.c drivers/console/Console.c utils/TextRing.c \
	utils/RateLimit.c utils/Format.c utils/String.c
HOST_KERNEL_GLUE := $(sort $(wildcard tests/host/*.c))

# The NVMe driver: every file of storage/nvme, and the disk layer it registers with.
NVME_DRIVER_SOURCES := $(patsubst kernel/source/%,%,$(sort $(wildcard kernel/source/storage/nvme/*.c))) block/Disk.c

# EXT2 behind the VFS, on the disk layer and the block cache (its metadata lives there), with the checksums and the
# sort its ext4 and journal code use.
EXT2_SOURCES := $(patsubst kernel/source/%,%,$(sort $(wildcard kernel/source/fs/ext2/*.c))) fs/VFS.c fs/VFS-File.c \
	system/RTC.c block/Disk.c block/Cache.c block/BlockDevice.c block/DirectRead.c utils/CRC32C.c utils/Sort.c

# The block layer: disks, partitions and their tables, the sector cache.
BLOCK_SOURCES := block/Disk.c block/Partition.c block/PartitionTables.c block/Cache.c block/BlockDevice.c \
	block/DirectRead.c utils/CRC32.c

# The PCI core's pure parts (the device-model tests' host kernel adds segments and MSI-X mapping), and the
# platform layer's remapped-message path, which the kernel's Platform.c and the host platform both run.
PCI_SOURCES := bus/pci/PCI-Config.c bus/pci/PCI-Enumerate.c bus/pci/PCI-Resources.c bus/pci/PCI-MSI.c \
	bus/pci/PCI-Registry.c bus/pci/PCI-Names.c drivers/Platform-Remap.c

# The Intel VMD driver: every file of bus/vmd, and the PCI core's reset state it saves and restores.
VMD_DRIVER_SOURCES := $(patsubst kernel/source/%,%,$(sort $(wildcard kernel/source/bus/vmd/*.c))) bus/pci/PCI-State.c

# $(call TEST_SOURCES,file): the kernel sources on file's "// SOURCES:" line, groups expanded (eval runs the
# line through make once more).
TEST_SOURCES = $(eval TEST_SOURCES_LINE := $(shell sed -n 's|^// SOURCES:||p' $(1)))$(TEST_SOURCES_LINE)

# $(call HOST_OBJECTS,flavour,files): the object files of files (paths from the repository root) built for a
# flavour of host test (unit, model, fuzz, bench: each has its own compiler flags and folder).
HOST_OBJECTS = $(patsubst %.c,$(BUILD)/host/$(1)/%.o,$(2))

# $(call HOST_TEST_OBJECTS,flavour,test.c): everything a host test links: the test, the kernel sources its
# SOURCES line names, the host kernel (each object once).
HOST_TEST_OBJECTS = $(call HOST_OBJECTS,$(1),$(2) $(sort $(addprefix kernel/source/,$(HOST_KERNEL_SOURCES) \
	$(call TEST_SOURCES,$(2))) $(HOST_KERNEL_GLUE)))

# $(call HOST_OBJECT_RULE,flavour,compile command): how a flavour compiles one file (dependencies in .d files).
define HOST_OBJECT_RULE
$(BUILD)/host/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$(2) -MMD -MP -c $$< -o $$@
endef

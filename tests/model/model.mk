# tests/model/model.mk - host tests against the device models (NVMe controller model, HostPlatform).
#
# The top-level Makefile includes this file (-include tests/model/model.mk) after it has defined BUILD, HOSTCC,
# HOST_CFLAGS and KERNEL_C_SOURCES. Each tests/model/Test-<Name>.c is linked with:
#   - every other .c file of tests/model (the model library: MemoryBus, DiskBackend, HostPlatform, HostKernel,
#     NVMeModel*, TinyDriver),
#   - the pure kernel sources the library always needs (MODEL_KERNEL_SOURCES),
#   - the kernel sources named on the test's own "// SOURCES: a.c b.c" line (relative to kernel/source), as unit
#     tests do; a driver test lists the driver's files there,
#   - with the extra compiler flags of an optional "// CFLAGS: -DX" line (the NVMe driver needs -DNVME_HOST_MODEL
#     to build its platform-dependent half on the host).
# Binaries land in $(BUILD)/unit/ next to the unit tests, so tests/run_all.py runs and counts them too.
#
#   make test-model          build and run every model test (ASan/UBSan, like the unit tests)
#   MODEL_TEST_BINARIES      the binaries, for the lead's `make test`

MODEL_DIR := tests/model
MODEL_TEST_SOURCES := $(sort $(wildcard $(MODEL_DIR)/Test-*.c))
MODEL_TEST_BINARIES := $(patsubst $(MODEL_DIR)/%.c,$(BUILD)/unit/%,$(MODEL_TEST_SOURCES))
MODEL_LIB_SOURCES := $(sort $(filter-out $(MODEL_TEST_SOURCES),$(wildcard $(MODEL_DIR)/*.c)))
MODEL_KERNEL_SOURCES := drivers/bus/PCI-Config.c drivers/bus/PCI-Enumerate.c drivers/bus/PCI-MSI.c \
	drivers/bus/PCI-Names.c utils/String.c utils/Format.c utils/RateLimit.c
MODEL_CFLAGS = $(HOST_CFLAGS) -I$(MODEL_DIR) -pthread

$(MODEL_TEST_BINARIES): $(BUILD)/unit/%: $(MODEL_DIR)/%.c $(MODEL_LIB_SOURCES) $(wildcard $(MODEL_DIR)/*.h) \
		$(KERNEL_C_SOURCES) $(MODEL_DIR)/model.mk
	@mkdir -p $(dir $@)
	@rm -f $@
	$(HOSTCC) $(MODEL_CFLAGS) $(shell sed -n 's|^// CFLAGS:||p' $<) -o $@ $< $(MODEL_LIB_SOURCES) \
		$(addprefix kernel/source/,$(sort $(MODEL_KERNEL_SOURCES) $(shell sed -n 's|^// SOURCES:||p' $<))) -lcmocka

.PHONY: test-model
test-model: $(MODEL_TEST_BINARIES)
	@failed=0; for binary in $(MODEL_TEST_BINARIES); do \
		echo "== $$binary"; \
		ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
			timeout 300 $$binary || failed=$$((failed + 1)); \
	done; \
	if [ $$failed -ne 0 ]; then echo "test-model: $$failed binaries failed"; exit 1; fi; \
	echo "test-model: all $(words $(MODEL_TEST_BINARIES)) binaries passed"

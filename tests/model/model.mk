# tests/model/model.mk - host tests against the device models (NVMe controller model, VMD model, HostPlatform).
#
# The top-level Makefile includes this file after tests/sources.mk and after it has defined BUILD, HOSTCC and
# HOST_CFLAGS. Each tests/model/Test-<Name>.c is linked with:
#   - the model library: every other .c file of tests/model (MemoryBus, DiskBackend, HostPlatform, HostPCI,
#     NVMeModel*, VMDModel*, TinyDriver),
#   - the host kernel (tests/host, as every host test) and the PCI core's pure parts ($(PCI_SOURCES)),
#   - the kernel sources named on the test's own "// SOURCES:" line, as unit tests do; a driver test names
#     $(NVME_DRIVER_SOURCES) there, a VMD test $(VMD_DRIVER_SOURCES) too.
# Everything is compiled once into $(BUILD)/host/model/ with the unit tests' flags plus -DNVME_HOST_MODEL (the
# NVMe driver builds its platform-dependent half on the host). Binaries land in $(BUILD)/unit/ next to the
# unit tests, so tests/run_all.py runs and counts them too.
#
#   make test-model          build and run every model test (ASan/UBSan, like the unit tests)
#   MODEL_TEST_BINARIES      the binaries, for the lead's `make test`
#   make soak-model          the NVMe driver soak (Test-DriverSoak) over many more seeds and operations than CI
#                            runs: SOAK_PROCESSES processes of 14 seeds each, SOAK_OPS operations per thread
#   make soak-powercut       the power-cut test (Test-PowerCut) with CUTS cuts (default 1000) from seed
#                            POWERCUT_SEED (default 1000); CI runs 40 from seed 1 through test-model
#   make bench-model         instructions per 4 KiB read in the NVMe driver, counted with callgrind
#                            (tests/model/Bench-Driver.c, built -O2 without sanitizers into
#                            $(BUILD)/host/bench/; needs valgrind); MODEL_BENCH_ARGS="bs=131072 sgl=on"
#                            for other sizes and data pointer modes; the figure is printed with the
#                            interrupts the run took per 10000 reads; MODEL_BENCH_ARGS="burst=3" (reads
#                            in flight at once, default 32) measures at about 3500-4000 of them

MODEL_DIR := tests/model
MODEL_TEST_SOURCES := $(sort $(wildcard $(MODEL_DIR)/Test-*.c))
MODEL_TEST_BINARIES := $(patsubst $(MODEL_DIR)/%.c,$(BUILD)/unit/%,$(MODEL_TEST_SOURCES))
MODEL_LIB_SOURCES := $(sort $(filter-out $(MODEL_TEST_SOURCES) $(MODEL_DIR)/Bench-%.c,$(wildcard $(MODEL_DIR)/*.c)))
MODEL_CFLAGS = $(HOST_CFLAGS) -I$(MODEL_DIR) -DNVME_HOST_MODEL

$(eval $(call HOST_OBJECT_RULE,model,$(HOSTCC) $(MODEL_CFLAGS)))

# $(call MODEL_TEST_RULE,test.c)
define MODEL_TEST_RULE
$(patsubst $(MODEL_DIR)/%.c,$(BUILD)/unit/%,$(1)): $(call HOST_TEST_OBJECTS,model,$(1)) \
		$(call HOST_OBJECTS,model,$(MODEL_LIB_SOURCES) $(addprefix kernel/source/,$(PCI_SOURCES)))
	@mkdir -p $$(dir $$@)
	$(HOSTCC) $(MODEL_CFLAGS) -o $$@ $$^ -lcmocka
endef
$(foreach Test,$(MODEL_TEST_SOURCES),$(eval $(call MODEL_TEST_RULE,$(Test))))

.PHONY: test-model
test-model: $(MODEL_TEST_BINARIES)
	@failed=0; for binary in $(MODEL_TEST_BINARIES); do \
		echo "== $$binary"; \
		ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
			timeout 300 $$binary || failed=$$((failed + 1)); \
	done; \
	if [ $$failed -ne 0 ]; then echo "test-model: $$failed binaries failed"; exit 1; fi; \
	echo "test-model: all $(words $(MODEL_TEST_BINARIES)) binaries passed"

# The NVMe driver soak: CI runs Test-DriverSoak's fixed seeds through test-model; this runs seeds 1000.. in
# SOAK_PROCESSES processes (the driver keeps its controllers: 14 seeds a process).
SOAK_PROCESSES ?= 8
SOAK_OPS ?= 1500

.PHONY: soak-model
soak-model: $(BUILD)/unit/Test-DriverSoak
	@failed=0; for p in $$(seq 0 $$(($(SOAK_PROCESSES) - 1))); do \
		echo "== soak seeds $$((1000 + p * 14))..$$((1013 + p * 14)), $(SOAK_OPS) operations per thread"; \
		CAIRN_SOAK_FIRST=$$((p * 14)) CAIRN_SOAK_COUNT=14 CAIRN_SOAK_OPS=$(SOAK_OPS) \
		ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
			timeout 1800 $(BUILD)/unit/Test-DriverSoak 2>&1 | grep -E "^soak seed .*writes|PASSED|FAILED|ERROR|error" \
			|| failed=1; \
	done; \
	if [ $$failed -ne 0 ]; then echo "soak-model: failures above"; exit 1; fi

# The power-cut test over many more cuts than CI runs: one process, rounds seeded POWERCUT_SEED.. on.
CUTS ?= 1000
POWERCUT_SEED ?= 1000

.PHONY: soak-powercut
soak-powercut: $(BUILD)/unit/Test-PowerCut
	CAIRN_TEST=survive CAIRN_POWERCUT_CUTS=$(CUTS) CAIRN_POWERCUT_SEED=$(POWERCUT_SEED) \
	ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout 14400 $(BUILD)/unit/Test-PowerCut

# Instructions per 4 KiB read in the NVMe driver (callgrind, collection on only inside the driver's entry points).
MODEL_BENCH := $(BUILD)/bench/Bench-Driver
MODEL_BENCH_COUNT ?= 10000
MODEL_BENCH_ARGS ?=
BENCH_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -DCAIRN_HOST_BUILD -DNVME_HOST_MODEL -Ikernel/include \
	-Itests/host -I$(MODEL_DIR) -pthread

$(eval $(call HOST_OBJECT_RULE,bench,$(HOSTCC) $(BENCH_CFLAGS)))

$(MODEL_BENCH): $(call HOST_OBJECTS,bench,$(MODEL_DIR)/Bench-Driver.c $(MODEL_LIB_SOURCES) $(HOST_KERNEL_GLUE) \
		$(addprefix kernel/source/,$(sort $(HOST_KERNEL_SOURCES) $(PCI_SOURCES) $(NVME_DRIVER_SOURCES))))
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_CFLAGS) -o $@ $^

.PHONY: bench-model
bench-model: $(MODEL_BENCH)
	@command -v valgrind > /dev/null || (echo "bench-model: valgrind is missing (tools/install-deps.sh)" && false)
	valgrind --tool=callgrind --callgrind-out-file=$(BUILD)/bench/callgrind.out --collect-atstart=no \
		--toggle-collect=NVMeSubmitIO --toggle-collect=NVMeQueueInterrupt --toggle-collect=NVMeQueueBottomHalf \
		$(MODEL_BENCH) $(MODEL_BENCH_COUNT) $(MODEL_BENCH_ARGS) 2> $(BUILD)/bench/valgrind.log
	@$(MODEL_BENCH) --report $(BUILD)/bench/callgrind.out $(MODEL_BENCH_COUNT) $(MODEL_BENCH_ARGS)

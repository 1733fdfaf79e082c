# tests/fuzz/fuzz.mk - libFuzzer targets (included by the top Makefile).
#
#   make fuzz         every tests/fuzz/Fuzz-*.c for FUZZ_SECONDS each (default 60)
#   make fuzz-smoke   the same, 20 s each
#   make fuzz-build   only build them
#
# Each Fuzz-<Name>.c is built with clang -fsanitize=fuzzer,address,undefined
# -DCAIRN_HOST_BUILD against the host kernel and the kernel sources listed on
# its line "// SOURCES: a.c $(GROUP)" (relative to kernel/source; groups from
# tests/sources.mk), like the unit tests, each file compiled once into
# $(BUILD)/host/fuzz/; an optional line "// FUZZ_FLAGS: -max_len=N ..." adds libFuzzer options, and
# "// FUZZ_CORPUS: folder ..." extra seed folders (in the tree, read only).
# Seeds come from tools/make-fuzz-corpus.sh ($(BUILD)/fuzz/seeds/<Name>, may
# be empty); what the fuzzer finds accumulates in $(BUILD)/fuzz/corpus/<Name>.
# A crash, sanitizer report, leak or timeout fails the run; the input is
# saved as $(BUILD)/fuzz/artifacts/<Name>-crash-..., the log in
# $(BUILD)/fuzz/<Name>.log. Extra libFuzzer options: FUZZ_ARGS=...

FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZ_ARGS ?=
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SOURCES := $(sort $(wildcard tests/fuzz/Fuzz-*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SOURCES))
FUZZ_BINARIES := $(addprefix $(FUZZ_DIR)/,$(FUZZ_NAMES))
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -DCAIRN_HOST_BUILD -Ikernel/include -Itests/host \
	-Itests/fuzz -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -pthread

.PHONY: fuzz fuzz-smoke fuzz-build

$(eval $(call HOST_OBJECT_RULE,fuzz,$(FUZZ_CC) $(FUZZ_CFLAGS)))

# $(call FUZZ_RULE,Fuzz-Name.c)
define FUZZ_RULE
$(patsubst tests/fuzz/%.c,$(FUZZ_DIR)/%,$(1)): $(call HOST_TEST_OBJECTS,fuzz,$(1))
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $$@ $$^
endef
$(foreach Target,$(FUZZ_SOURCES),$(eval $(call FUZZ_RULE,$(Target))))

$(FUZZ_DIR)/seeds.stamp: tools/make-fuzz-corpus.sh
	@mkdir -p $(FUZZ_DIR)
	tools/make-fuzz-corpus.sh $(FUZZ_DIR)/seeds
	@touch $@

fuzz-build: $(FUZZ_BINARIES)

# $(call FUZZ_RUN,seconds): runs every target in turn, then fails if any failed.
define FUZZ_RUN
	@if [ -z "$(FUZZ_NAMES)" ]; then echo "fuzz: no tests/fuzz/Fuzz-*.c"; exit 1; fi
	@Failed=""; \
	for Name in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$Name $(FUZZ_DIR)/seeds/$$Name $(FUZZ_DIR)/artifacts; \
		Flags=$$(sed -n 's|^// FUZZ_FLAGS:||p' tests/fuzz/$$Name.c); \
		Extra=$$(sed -n 's|^// FUZZ_CORPUS:||p' tests/fuzz/$$Name.c); \
		echo "fuzz: $$Name for $(1) s"; \
		if $(FUZZ_DIR)/$$Name -max_total_time=$(1) -print_final_stats=1 $$Flags $(FUZZ_ARGS) \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$Name- \
			$(FUZZ_DIR)/corpus/$$Name $(FUZZ_DIR)/seeds/$$Name $$Extra > $(FUZZ_DIR)/$$Name.log 2>&1; then \
			Runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$$Name.log); \
			Corpus=$$(ls $(FUZZ_DIR)/corpus/$$Name | wc -l); \
			echo "fuzz: $$Name passed: $$Runs runs, $$Corpus inputs in the corpus"; \
		else \
			echo "fuzz: $$Name FAILED (log $(FUZZ_DIR)/$$Name.log):"; \
			grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==|deadly signal|timeout" \
				$(FUZZ_DIR)/$$Name.log | head -20; \
			Failed="$$Failed $$Name"; \
		fi; \
	done; \
	if [ -n "$$Failed" ]; then echo "fuzz: failed:$$Failed"; exit 1; fi; \
	echo "fuzz: all $(words $(FUZZ_NAMES)) targets passed"
endef

fuzz: fuzz-build $(FUZZ_DIR)/seeds.stamp
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build $(FUZZ_DIR)/seeds.stamp
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

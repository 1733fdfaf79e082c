// Test-NVMeQuirks.c - the quirk table as data (storage/nvme/NVMe-Quirks.c): one lookup per kind of entry (by PCI
// vendor/device, by Identify vendor and model string, with and without a firmware string match), several quirks
// on one part, unknown parts, the names `nvme info` prints, the post-disable delay; and Linux's APST table as
// NVMe-Power.c builds it from power state descriptors (the deepest state left out by NO_DEEPEST_PS, a latency
// bound that excludes a state, no non-operational state at all).
// SOURCES: storage/nvme/NVMe-Quirks.c storage/nvme/NVMe-Power.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "storage/nvme/NVMe-Internal.h"

static void test_lookup_by_pci_id(void** State) {
    (void)State;
    assert_int_equal(NVMeQuirksForDevice(0x1c58, 0x0003), NVME_QUIRK_DELAY_BEFORE_READY);  // HGST SN100
    assert_int_equal(NVMeQuirksForDevice(0x144d, 0xa822),
                     NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_MQES_ZERO_IS_64 | NVME_QUIRK_NO_WRITE_ZEROES);
    assert_int_equal(NVMeQuirksForDevice(0x15b7, 0x5008), NVME_QUIRK_BROKEN_MSI);           // WD SN530
    assert_int_equal(NVMeQuirksForDevice(0x2646, 0x2263), NVME_QUIRK_NO_DEEPEST_PS);        // Kingston A2000
    assert_int_equal(NVMeQuirksForDevice(0x1d0f, 0xcd02), NVME_QUIRK_DMA_48BIT);            // Amazon
    assert_int_equal(NVMeQuirksForDevice(0x1b36, 0x0010), 0);                               // QEMU: none
    assert_int_equal(NVMeQuirksForDevice(0x144d, 0x0000), 0);                               // vendor alone: none
    // A model-string entry is never matched by PCI ID (its device field is not a device).
    assert_int_equal(NVMeQuirksForDevice(0x1179, 0), 0);
}

static void test_lookup_by_identity(void** State) {
    (void)State;
    assert_int_equal(NVMeQuirksForIdentity(0x1179, "THNSF5256GPUK TOSHIBA", "51055KLA"), NVME_QUIRK_NO_APST);
    assert_int_equal(NVMeQuirksForIdentity(0x1179, "THNSF5256GPUK TOSHIBA", ""), NVME_QUIRK_NO_APST);  // any firmware
    assert_int_equal(NVMeQuirksForIdentity(0x1179, "THNSF5512GPUK TOSHIBA", "51055KLA"), 0);  // another model
    assert_int_equal(NVMeQuirksForIdentity(0x144d, "THNSF5256GPUK TOSHIBA", ""), 0);  // another vendor
    assert_int_equal(NVMeQuirksForIdentity(0x1b36, "QEMU NVMe Ctrl", "7.2.0"), 0);
}

static void test_names_and_delay(void** State) {
    (void)State;
    char Text[128];
    NVMeQuirksFormat(0, Text, sizeof(Text));
    assert_string_equal(Text, "none");
    NVMeQuirksFormat(NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_NO_WRITE_ZEROES | NVME_QUIRK_DMA_48BIT, Text,
                     sizeof(Text));
    assert_string_equal(Text, "delay before ready, no Write Zeroes, 48-bit DMA");
    for (U32 I = 0; I < NVME_QUIRK_COUNT; I++) assert_non_null(NVMeQuirkName(1U << I));
    assert_null(NVMeQuirkName(1U << NVME_QUIRK_COUNT));
    assert_null(NVMeQuirkName(NVME_QUIRK_BROKEN_MSI | NVME_QUIRK_NO_APST));
    assert_int_equal(NVMeQuirkDelayMs(NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_NO_APST), 2300);
    assert_int_equal(NVMeQuirkDelayMs(NVME_QUIRK_NO_APST), 0);
}

/** Power state descriptor State: non-operational or not, entry and exit latency in microseconds. */
static void PowerState(U8* Identify, U32 State, BOOL NonOperational, U32 EntryUs, U32 ExitUs) {
    U8* Descriptor = Identify + NVME_POWER_STATES_OFFSET + State * NVME_POWER_STATE_SIZE;
    Descriptor[3] = NonOperational ? NVME_PS_FLAGS_NON_OPERATIONAL : 0;
    memcpy(Descriptor + NVME_PS_ENTRY_LATENCY, &EntryUs, 4);
    memcpy(Descriptor + NVME_PS_EXIT_LATENCY, &ExitUs, 4);
}

#define ENTRY(State, IdleMs) (((U64)(State) << 3) | ((U64)(IdleMs) << 8))

static void test_apst_table(void** State) {
    (void)State;
    static U8 Identify[4096];
    U64 Table[NVME_APST_MAX_STATES];
    memset(Identify, 0, sizeof(Identify));
    PowerState(Identify, 0, FALSE, 0, 0);
    PowerState(Identify, 1, FALSE, 0, 0);
    PowerState(Identify, 2, TRUE, 2000, 2000);     // 4 ms: 200 ms idle
    PowerState(Identify, 3, TRUE, 10000, 40000);   // 50 ms: 2500 ms idle
    PowerState(Identify, 4, TRUE, 5000, 200000);   // exit 200 ms: beyond Linux's 100 ms
    assert_int_equal(NVMeApstBuildTable(Identify, 4, NVME_APST_DEFAULT_MAX_LATENCY_US, FALSE, Table), 3);
    assert_int_equal(Table[0], ENTRY(2, 200));
    assert_int_equal(Table[1], ENTRY(2, 200));
    assert_int_equal(Table[2], ENTRY(3, 2500));
    assert_int_equal(Table[3], 0);
    assert_int_equal(Table[4], 0);
    // A looser bound takes state 4 too; NO_DEEPEST_PS leaves it out again.
    assert_int_equal(NVMeApstBuildTable(Identify, 4, 300000, FALSE, Table), 4);
    assert_int_equal(Table[3], ENTRY(4, 10250));
    assert_int_equal(NVMeApstBuildTable(Identify, 4, 300000, TRUE, Table), 3);
    assert_int_equal(Table[3], 0);
    assert_int_equal(Table[2], ENTRY(3, 2500));
    // No non-operational state within the bound: nothing to enter, the table stays zero.
    assert_int_equal(NVMeApstBuildTable(Identify, 4, 1000, FALSE, Table), -1);
    for (U32 I = 0; I < NVME_APST_MAX_STATES; I++) assert_int_equal(Table[I], 0);
    // NPSS out of range: refused.
    assert_int_equal(NVMeApstBuildTable(Identify, NVME_APST_MAX_STATES, 300000, FALSE, Table), -1);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_lookup_by_pci_id),
        cmocka_unit_test(test_lookup_by_identity),
        cmocka_unit_test(test_names_and_delay),
        cmocka_unit_test(test_apst_table),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

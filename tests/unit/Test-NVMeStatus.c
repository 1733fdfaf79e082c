// Test-NVMeStatus.c - NVMe status decoding (SCT, SC, More, DNR -> names and KSTATUS) and the checks on what a
// device returns in Identify Namespace.
// Identify parsing lives in NVMe-Admin.c; NVMe-IO.c's limits use NVMe-PRP.c.
// SOURCES: storage/nvme/NVMe-IO.c storage/nvme/NVMe-Admin.c storage/nvme/NVMe-PRP.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "storage/nvme/NVMe-Internal.h"

/** The 16-bit status half of completion dword 3 as a device writes it. */
static U16 CompletionStatus(U8 Sct, U8 Sc, BOOL More, BOOL Dnr, U8 Phase) {
    return (U16)((Dnr ? 0x8000 : 0) | (More ? 0x4000 : 0) | ((Sct & 7) << 9) | (Sc << 1) | (Phase & 1));
}

static void test_field_extraction(void** State) {
    (void)State;
    U16 Field = NVME_STATUS_FIELD(CompletionStatus(0, 0x80, FALSE, TRUE, 1));
    assert_int_equal(Field, 0x4080);
    assert_int_equal(NVME_STATUS_SCT(Field), 0);
    assert_int_equal(NVME_STATUS_SC(Field), 0x80);
    assert_true(NVME_STATUS_DNR(Field));
    assert_false(NVME_STATUS_MORE(Field));
    Field = NVME_STATUS_FIELD(CompletionStatus(2, 0x81, TRUE, FALSE, 0));
    assert_int_equal(NVME_STATUS_SCT(Field), 2);
    assert_int_equal(NVME_STATUS_SC(Field), 0x81);
    assert_true(NVME_STATUS_MORE(Field));
    assert_false(NVME_STATUS_DNR(Field));
    assert_int_equal(NVME_STATUS_FIELD(CompletionStatus(0, 0, FALSE, FALSE, 1)), 0);  // phase alone is success
}

static void test_names(void** State) {
    (void)State;
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x00)), "Successful Completion");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x80)), "LBA Out of Range");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x02)), "Invalid Field in Command");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x04)), "Data Transfer Error");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x06)), "Internal Error");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x82)), "Namespace Not Ready");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(2, 0x80)), "Write Fault");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(2, 0x81)), "Unrecovered Read Error");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(1, 0x01)), "Invalid Queue Identifier");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(1, 0x0E)), "Feature Not Changeable");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(3, 0x71)), "Command Aborted By Host");
    // Unknown codes still get a name that says which type they are.
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(0, 0x7F)), "Unknown Generic Status");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(1, 0xFF)), "Unknown Command Specific Status");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(2, 0x10)), "Unknown Media Error");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(7, 0x01)), "Vendor Specific");
    assert_string_equal(NVMeStatusName(NVME_STATUS_MAKE(5, 0x01)), "Unknown Status Code Type");
    // More and DNR do not change the name.
    assert_string_equal(NVMeStatusName(NVME_STATUS_FIELD(CompletionStatus(2, 0x81, TRUE, TRUE, 1))),
                        "Unrecovered Read Error");
}

static void test_kstatus(void** State) {
    (void)State;
    assert_int_equal(NVMeStatusToKStatus(0), KSTATUS_SUCCESS);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x80)), KSTATUS_BAD_PARAMETER);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x01)), KSTATUS_NOT_SUPPORTED);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x04)), KSTATUS_IO_ERROR);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x82)), KSTATUS_BUSY);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x20)), KSTATUS_NO_PERMISSION);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(2, 0x81)), KSTATUS_IO_ERROR);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(2, 0x86)), KSTATUS_NO_PERMISSION);
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(0, 0x7F)), KSTATUS_IO_ERROR);  // unknown: an I/O error
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_MAKE(7, 0x00)), KSTATUS_IO_ERROR);  // vendor SC 0 is no success
    assert_int_equal(NVMeStatusToKStatus(NVME_STATUS_FIELD(CompletionStatus(0, 0x80, FALSE, TRUE, 0))),
                     KSTATUS_BAD_PARAMETER);
}

static void test_format(void** State) {
    (void)State;
    char Text[80];
    NVMeStatusFormat(NVME_STATUS_FIELD(CompletionStatus(0, 0x80, FALSE, TRUE, 1)), Text, sizeof(Text));
    assert_string_equal(Text, "LBA Out of Range (SCT 0h SC 80h, DNR)");
    NVMeStatusFormat(NVME_STATUS_FIELD(CompletionStatus(2, 0x81, TRUE, FALSE, 1)), Text, sizeof(Text));
    assert_string_equal(Text, "Unrecovered Read Error (SCT 2h SC 81h, More)");
    NVMeStatusFormat(NVME_STATUS_MAKE(0, 0x02), Text, sizeof(Text));
    assert_string_equal(Text, "Invalid Field in Command (SCT 0h SC 02h)");
    char Small[8];
    assert_true(NVMeStatusFormat(NVME_STATUS_MAKE(0, 0x02), Small, sizeof(Small)) > sizeof(Small));
    assert_int_equal(strlen(Small), 7);
}

/************************************************************************/
// Identify Namespace: what the device says is checked before it is used

static U8 Page[4096];

static void Put32(U32 Offset, U32 Value) { memcpy(Page + Offset, &Value, 4); }
static void Put64(U32 Offset, U64 Value) { memcpy(Page + Offset, &Value, 8); }

/** QEMU's default namespace: 8 formats (512, 512+8, 512+16, 512+64, 4096, ...), FLBAS selects one. */
static void QemuNamespace(U64 Blocks, U8 Flbas) {
    static const U32 Formats[8][2] = {{9, 0}, {9, 8}, {9, 16}, {9, 64}, {12, 0}, {12, 8}, {12, 16}, {12, 64}};
    memset(Page, 0, sizeof(Page));
    Put64(0, Blocks);
    Put64(8, Blocks);
    Put64(16, Blocks / 2);
    Page[25] = 7;  // NLBAF, 0-based
    Page[26] = Flbas;
    for (U32 I = 0; I < 8; I++) Put32(128 + 4 * I, (Formats[I][0] << 16) | Formats[I][1] | ((I % 3) << 24));
}

static void test_identify_namespace(void** State) {
    (void)State;
    NVME_NAMESPACE_INFO Info;
    char Reason[NVME_REASON_LENGTH];
    memset(&Info, 0, sizeof(Info));
    QemuNamespace(131072, 0);
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.Size, 131072);
    assert_int_equal(Info.Utilisation, 65536);
    assert_int_equal(Info.FormatCount, 8);
    assert_int_equal(Info.LbaSize, 512);
    assert_int_equal(Info.Formats[4].DataSize, 4096);
    assert_int_equal(Info.Formats[3].MetadataSize, 64);
    assert_int_equal(Info.Formats[5].RelativePerformance, 2);
    assert_true(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "");

    QemuNamespace(16384, 4);  // 4 KiB blocks
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 4096);
    assert_true(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));

    QemuNamespace(16384, 1);  // 512 + 8 bytes of metadata
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "metadata (8 bytes per block)");

    QemuNamespace(16384, 0);
    Page[29] = 1;  // protection information type 1
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "protection information type 1");
}

static void test_identify_namespace_nonsense(void** State) {
    (void)State;
    NVME_NAMESPACE_INFO Info;
    char Reason[NVME_REASON_LENGTH];
    memset(&Info, 0, sizeof(Info));

    QemuNamespace(0, 0);  // size 0: inactive
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "inactive (size 0)");

    QemuNamespace(1000, 0);
    Put32(128, 30U << 16);  // LBADS 30: a 1 GiB block
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 0);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 2^30 unsupported");

    QemuNamespace(1000, 0);
    Put32(128, 8U << 16);  // 256-byte blocks
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 2^8 unsupported");

    QemuNamespace(1000, 0);
    Put32(128, 14U << 16);  // 16 KiB blocks: valid, but larger than the page
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 16384);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 16384 larger than the page");

    QemuNamespace(1000, 9);  // FLBAS names format 9 of 8
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "format 9 out of range (8 formats)");

    QemuNamespace(1000, 0);
    Put64(8, 2000);  // capacity above size
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));

    QemuNamespace(1000, 0);
    Page[25] = 200;  // NLBAF beyond 64 formats: clamped, not read past the table
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.FormatCount, NVME_MAX_LBA_FORMATS);
    // FLBAS bits 6:5 extend the index only when there are more than 16 formats.
    Page[26] = 0x20 | 0x1;
    NVMeParseIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.FormatIndex, 17);
}

static void test_identify_controller(void** State) {
    (void)State;
    NVME_IDENTIFY_INFO Id;
    memset(Page, 0, sizeof(Page));
    Page[0] = 0x36; Page[1] = 0x1B;  // VID 1b36
    memcpy(Page + 4, "CAIRN0001           ", 20);
    memcpy(Page + 24, "QEMU NVMe Ctrl                          ", 40);
    memcpy(Page + 64, "7.2.22  ", 8);
    Page[73] = 0x00; Page[74] = 0x54; Page[75] = 0x52;
    Page[77] = 7;
    Put32(80, 0x10400);
    Page[512] = 0x66;
    Page[513] = 0x44;
    Put32(516, 256);
    Page[525] = 0x7;
    Page[10] = 0x01;  // an unprintable byte inside the serial
    NVMeParseIdentifyController(Page, &Id);
    assert_int_equal(Id.VendorId, 0x1B36);
    assert_string_equal(Id.Model, "QEMU NVMe Ctrl");  // trailing spaces trimmed
    assert_string_equal(Id.Firmware, "7.2.22");
    assert_string_equal(Id.Serial, "CAIRN0?01");  // unprintable shown as '?', padding trimmed
    assert_int_equal(Id.Ieee, 0x525400);
    assert_int_equal(Id.Mdts, 7);
    assert_int_equal(Id.Version, 0x10400);
    assert_int_equal(Id.Nn, 256);
    assert_int_equal(Id.Sqes, 0x66);
    assert_int_equal(Id.Vwc, 7);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_field_extraction),   cmocka_unit_test(test_names),
        cmocka_unit_test(test_kstatus),            cmocka_unit_test(test_format),
        cmocka_unit_test(test_identify_namespace), cmocka_unit_test(test_identify_namespace_nonsense),
        cmocka_unit_test(test_identify_controller),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

// Test-NVMeSpec.c - the one decoder of each NVMe structure (storage/nvme/NVMe-Spec.c): status fields (SCT, SC,
// More, DNR -> names and KSTATUS), CAP, Identify Controller and Namespace (with the driver's checks on what a device
// returns, NVMeNamespaceUsable in NVMe-Admin.c), the SMART / Health, Error Information and Firmware Slot logs with
// odd values, the critical warning texts, feature and event names. Pages are built byte by byte here, at the
// offsets of the NVMe 2.0 figures, independently of the decoder.
// SOURCES: storage/nvme/NVMe-Spec.c storage/nvme/NVMe-IO.c storage/nvme/NVMe-Namespace.c storage/nvme/NVMe-PRP.c

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
    NVMeDecodeIdentifyNamespace(Page, &Info);
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
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 4096);
    assert_true(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));

    QemuNamespace(16384, 1);  // 512 + 8 bytes of metadata
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "metadata (8 bytes per block)");

    QemuNamespace(16384, 0);
    Page[29] = 1;  // protection information type 1
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "protection information type 1");
}

static void test_identify_namespace_nonsense(void** State) {
    (void)State;
    NVME_NAMESPACE_INFO Info;
    char Reason[NVME_REASON_LENGTH];
    memset(&Info, 0, sizeof(Info));

    QemuNamespace(0, 0);  // size 0: inactive
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "inactive (size 0)");

    QemuNamespace(1000, 0);
    Put32(128, 30U << 16);  // LBADS 30: a 1 GiB block
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 0);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 2^30 unsupported");

    QemuNamespace(1000, 0);
    Put32(128, 8U << 16);  // 256-byte blocks
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 2^8 unsupported");

    QemuNamespace(1000, 0);
    Put32(128, 14U << 16);  // 16 KiB blocks: valid, but larger than the page
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.LbaSize, 16384);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "LBA size 16384 larger than the page");

    QemuNamespace(1000, 9);  // FLBAS names format 9 of 8
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));
    assert_string_equal(Reason, "format 9 out of range (8 formats)");

    QemuNamespace(1000, 0);
    Put64(8, 2000);  // capacity above size
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_false(NVMeNamespaceUsable(&Info, 4096, Reason, sizeof(Reason)));

    QemuNamespace(1000, 0);
    Page[25] = 200;  // NLBAF beyond 64 formats: clamped, not read past the table
    NVMeDecodeIdentifyNamespace(Page, &Info);
    assert_int_equal(Info.FormatCount, NVME_MAX_LBA_FORMATS);
    // FLBAS bits 6:5 extend the index only when there are more than 16 formats.
    Page[26] = 0x20 | 0x1;
    NVMeDecodeIdentifyNamespace(Page, &Info);
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
    NVMeDecodeIdentifyController(Page, &Id);
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

/************************************************************************/
// Named status codes: the constants the driver acts on are the codes the table names

static void test_named_codes(void** State) {
    (void)State;
    assert_string_equal(NVMeStatusName(NVME_STATUS_ABORT_REQUESTED), "Command Abort Requested");
    assert_string_equal(NVMeStatusName(NVME_STATUS_ABORTED_SQ_DELETION), "Command Aborted due to SQ Deletion");
    assert_string_equal(NVMeStatusName(NVME_STATUS_ASYNC_LIMIT_EXCEEDED), "Asynchronous Event Request Limit Exceeded");
    assert_string_equal(NVMeStatusName(NVME_STATUS_HOST_PATHING_ERROR), "Host Pathing Error");
    assert_string_equal(NVMeStatusName(NVME_STATUS_ABORTED_BY_HOST), "Command Aborted By Host");
    // NVME_STATUS_CODE drops CRD, More and DNR, nothing else.
    U16 Field = NVME_STATUS_FIELD(CompletionStatus(0, 0x08, TRUE, TRUE, 1)) | (3 << 11);
    assert_int_equal(NVME_STATUS_CODE(Field), NVME_STATUS_ABORTED_SQ_DELETION);
    assert_int_equal(NVME_STATUS_CODE(NVME_STATUS_MAKE(1, 0x08)), 0x108);
    // The retry rule refuses exactly the aborts the host caused, and anything with DNR.
    assert_false(NVMeStatusRetryable(NVME_STATUS_ABORT_REQUESTED));
    assert_false(NVMeStatusRetryable(NVME_STATUS_ABORTED_SQ_DELETION));
    assert_false(NVMeStatusRetryable(NVME_STATUS_HOST_PATHING_ERROR));
    assert_false(NVMeStatusRetryable(NVME_STATUS_ABORTED_BY_HOST));
    assert_false(NVMeStatusRetryable(NVME_STATUS_FIELD(CompletionStatus(0, 0x82, FALSE, TRUE, 0))));
    assert_true(NVMeStatusRetryable(NVME_STATUS_MAKE(0, 0x82)));
    assert_true(NVMeStatusRetryable(NVME_STATUS_MAKE(0, 0x09)));  // next to SQ deletion, not a host abort
    assert_false(NVMeStatusRetryable(0));
}

/************************************************************************/
// CAP

static void test_cap(void** State) {
    (void)State;
    NVME_CAP_INFO Cap;
    NVMeDecodeCap(0x004018200F0107FFULL, &Cap);  // QEMU 7.2
    assert_int_equal(Cap.Mqes, 0x7FF);
    assert_true(Cap.Cqr);
    assert_int_equal(Cap.Ams, 0);
    assert_int_equal(Cap.Timeout, 0x0F);
    assert_int_equal(Cap.Dstrd, 0);
    assert_false(Cap.Nssrs);
    assert_int_equal(Cap.Css, 0xC1);
    assert_int_equal(Cap.MpsMin, 0);
    assert_int_equal(Cap.MpsMax, 4);
    assert_false(Cap.Pmrs);
    assert_false(Cap.Cmbs);
    NVMeDecodeCap(MAX_U64, &Cap);  // every field at its largest, nothing spills into the next
    assert_int_equal(Cap.Mqes, 0xFFFF);
    assert_int_equal(Cap.Ams, 3);
    assert_int_equal(Cap.Timeout, 0xFF);
    assert_int_equal(Cap.Dstrd, 0xF);
    assert_int_equal(Cap.Css, 0xFF);
    assert_int_equal(Cap.Cps, 3);
    assert_int_equal(Cap.MpsMin, 0xF);
    assert_int_equal(Cap.MpsMax, 0xF);
    assert_true(Cap.Nssrs && Cap.Bps && Cap.Pmrs && Cap.Cmbs && Cap.Nsss && Cap.Crwms && Cap.Crims && Cap.Nsses);
    NVMeDecodeCap(1ULL << 36, &Cap);  // NSSRS alone
    assert_true(Cap.Nssrs);
    assert_int_equal(Cap.Dstrd, 0);
    assert_int_equal(Cap.Css, 0);
    assert_false(Cap.Bps);
}

/************************************************************************/
// Log pages

static void Put16At(U8* Data, U32 Offset, U16 Value) { memcpy(Data + Offset, &Value, 2); }

static void test_smart_log(void** State) {
    (void)State;
    U8 Log[NVME_LOG_SMART_SIZE];
    memset(Log, 0, sizeof(Log));
    Log[0] = 0xFF;                          // every critical warning bit, reserved ones included
    Put16At(Log, 1, 0);                     // no composite temperature
    Log[3] = 150;                           // a spare above 100 %
    Log[4] = 10;
    Log[5] = 255;                           // percentage used may exceed 100
    Log[6] = 0x5;
    memset(Log + 32, 0xFF, 16);             // data units read: all 128 bits set
    Log[48] = 7;                            // data units written: 7
    Log[144 + 8] = 1;                       // unsafe shutdowns: 2^64 (high half set)
    Log[176] = 3;                           // error log entries
    memset(Log + 192, 0xFF, 4);             // warning temperature time
    Log[196] = 9;
    Put16At(Log, 200, 300);                 // sensor 1
    Put16At(Log, 214, 0xFFFF);              // sensor 8: nonsense, passed through
    Log[216] = 1; Log[220] = 2; Log[224] = 3; Log[228] = 4;
    NVME_SMART_LOG Smart;
    NVMeDecodeSmartLog(Log, &Smart);
    assert_int_equal(Smart.CriticalWarning, 0xFF);
    assert_int_equal(Smart.Temperature, 0);
    assert_int_equal(Smart.AvailableSpare, 150);
    assert_int_equal(Smart.AvailableSpareThreshold, 10);
    assert_int_equal(Smart.PercentageUsed, 255);
    assert_int_equal(Smart.EnduranceGroupWarning, 5);
    assert_true(Smart.DataUnitsRead.Low == MAX_U64 && Smart.DataUnitsRead.High == MAX_U64);  // exact, not saturated
    assert_true(Smart.DataUnitsWritten.Low == 7 && Smart.DataUnitsWritten.High == 0);
    assert_true(Smart.UnsafeShutdowns.Low == 0 && Smart.UnsafeShutdowns.High == 1);
    assert_true(Smart.ErrorLogEntries.Low == 3);
    assert_true(NVMeU128IsZero(Smart.MediaErrors));
    assert_false(NVMeU128IsZero(Smart.UnsafeShutdowns));
    assert_int_equal(Smart.WarningTemperatureTime, 0xFFFFFFFF);
    assert_int_equal(Smart.CriticalTemperatureTime, 9);
    assert_int_equal(Smart.TemperatureSensors[0], 300);
    assert_int_equal(Smart.TemperatureSensors[7], 0xFFFF);
    assert_int_equal(Smart.ThermalTransitions[0], 1);
    assert_int_equal(Smart.ThermalTransitions[1], 2);
    assert_int_equal(Smart.ThermalTime[0], 3);
    assert_int_equal(Smart.ThermalTime[1], 4);
}

static void test_critical_warning_text(void** State) {
    (void)State;
    char Text[200];
    assert_int_equal(NVMeCriticalWarningText(0, Text, sizeof(Text)), 4);
    assert_string_equal(Text, "none");
    NVMeCriticalWarningText(0x3F, Text, sizeof(Text));
    assert_string_equal(Text, "available spare below threshold, temperature above threshold, reliability degraded, "
                              "media read-only, volatile memory backup failed, persistent memory region unreliable");
    NVMeCriticalWarningText(NVME_CRITICAL_WARNING_PERSONALITY | 0x80, Text, sizeof(Text));
    assert_string_equal(Text, "indeterminate personality, reserved bit 7");
    NVMeCriticalWarningText(0x0C, Text, 20);  // truncated, terminated
    assert_int_equal(strlen(Text), 19);
    assert_int_equal(NVMeCriticalWarningText(0x01, Text, 0), 0);
    // The names and descriptions of the same bits (nvme-cli's).
    assert_string_equal(NVMeSmartWarningName(1), "Temp. Threshold");
    assert_string_equal(NVMeSmartWarningName(6), "Indeterminate Personality");
    assert_string_equal(NVMeSmartWarningName(200), "Reserved");
    assert_string_equal(NVMeSmartWarningDescription(3), "the media has been placed in read-only mode");
}

static void test_error_entry(void** State) {
    (void)State;
    U8 Entry[NVME_LOG_ERROR_ENTRY_SIZE];
    memset(Entry, 0, sizeof(Entry));
    Entry[0] = 9;
    Put16At(Entry, 8, 3);
    Put16At(Entry, 10, 0x1234);
    Put16At(Entry, 12, (U16)((NVME_STATUS_MAKE(2, 0x81) | 0x4000) << 1) | 1);  // DNR, phase tag set in the copy
    Put16At(Entry, 14, 0xFFFF);
    memcpy(Entry + 16, "\x02\x01\0\0\0\0\0\0", 8);  // LBA 0x102
    Entry[24] = 1;
    Entry[28] = 0xAA;
    Entry[29] = 0x3;
    Entry[30] = 0x2;
    Entry[31] = 0x02;
    Entry[32] = 0x77;
    Put16At(Entry, 40, 0xBEEF);
    Entry[63] = 1;
    NVME_ERROR_ENTRY Error;
    NVMeDecodeErrorEntry(Entry, &Error);
    assert_int_equal(Error.ErrorCount, 9);
    assert_int_equal(Error.SqId, 3);
    assert_int_equal(Error.Cid, 0x1234);
    assert_int_equal(Error.Status, NVME_STATUS_MAKE(2, 0x81) | 0x4000);
    assert_int_equal(Error.PhaseTag, 1);
    assert_string_equal(NVMeStatusName(Error.Status), "Unrecovered Read Error");
    assert_true(NVME_STATUS_DNR(Error.Status));
    assert_int_equal(Error.ParameterLocation, 0xFFFF);
    assert_int_equal(Error.Lba, 0x102);
    assert_int_equal(Error.Nsid, 1);
    assert_int_equal(Error.VendorInfoPage, 0xAA);
    assert_int_equal(Error.TransportType, 3);
    assert_int_equal(Error.CommandSetIndicator, 2);
    assert_int_equal(Error.Opcode, 0x02);
    assert_int_equal(Error.CommandSpecific, 0x77);
    assert_int_equal(Error.TransportSpecific, 0xBEEF);
    assert_int_equal(Error.LogPageVersion, 1);
}

static void test_firmware_log(void** State) {
    (void)State;
    U8 Slots[NVME_LOG_FIRMWARE_SIZE];
    memset(Slots, 0, sizeof(Slots));
    Slots[0] = 0x72;  // active 2, next reset 7
    memcpy(Slots + 8, "1.0     ", 8);
    memcpy(Slots + 16, "\x01\x02" "ab\x7f  z", 8);
    NVME_FIRMWARE_LOG Firmware;
    NVMeDecodeFirmwareLog(Slots, 0x0E, &Firmware);
    assert_int_equal(Firmware.Afi, 0x72);
    assert_int_equal(Firmware.ActiveSlot, 2);
    assert_int_equal(Firmware.NextResetSlot, 7);
    assert_int_equal(Firmware.SlotCount, 7);
    assert_false(Firmware.Slot1ReadOnly);
    assert_string_equal(Firmware.RevisionText[0], "1.0");
    assert_string_equal(Firmware.RevisionText[1], "??ab?  z");
    assert_string_equal(Firmware.RevisionText[2], "");
    assert_true(Firmware.Revision[0] == 0x2020202020302e31ULL);
    assert_true(Firmware.Revision[2] == 0);
    NVMeDecodeFirmwareLog(Slots, 0x03, &Firmware);  // one slot, slot 1 read-only
    assert_int_equal(Firmware.SlotCount, 1);
    assert_true(Firmware.Slot1ReadOnly);
}

/************************************************************************/
// Names

static void test_feature_names(void** State) {
    (void)State;
    assert_string_equal(NVMeFeatureName(NVME_FEATURE_VOLATILE_WRITE_CACHE), "Volatile Write Cache");
    assert_string_equal(NVMeFeatureName(NVME_FEATURE_ASYNC_EVENT_CONFIG), "Async Event Configuration");
    assert_string_equal(NVMeFeatureName(NVME_FEATURE_NUMBER_OF_QUEUES), "Number of Queues");
    assert_string_equal(NVMeFeatureName(NVME_FEATURE_HOST_BEHAVIOR), "Host Behavior");
    assert_string_equal(NVMeFeatureName(0x00), "Unknown");
    assert_string_equal(NVMeFeatureName(0x7F), "Unknown");
}

static void test_event_names(void** State) {
    (void)State;
    // Completion dword 0 of an AER: type (2:0), information (15:8), log page (23:16).
    U32 Dw0 = 0x00020101;
    assert_int_equal(NVME_EVENT_TYPE(Dw0), NVME_EVENT_TYPE_SMART);
    assert_int_equal(NVME_EVENT_INFO(Dw0), 1);
    assert_int_equal(NVME_EVENT_LOG(Dw0), NVME_LOG_SMART_HEALTH);
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE(Dw0), NVME_EVENT_INFO(Dw0)), "temperature threshold");
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE_ERROR, NVME_EVENT_ERROR_PERSISTENT_INTERNAL),
                        "persistent internal error");
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE_NOTICE, 0), "namespace attribute changed");
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE_NOTICE, 0xFF), "notice");
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE_ERROR, 0x80), "error");
    assert_string_equal(NVMeEventName(NVME_EVENT_TYPE_VENDOR, 0), "vendor specific event");
    assert_string_equal(NVMeEventName(4, 0), "reserved event type");
}

static void test_text_field(void** State) {
    (void)State;
    char Text[12];
    NVMeDecodeText(Text, (const U8*)"AB C \0\0  ", 9);
    assert_string_equal(Text, "AB C");  // trailing spaces and NULs, not inner ones
    NVMeDecodeText(Text, (const U8*)"\x80x\x1fy", 4);
    assert_string_equal(Text, "?x?y");
    NVMeDecodeText(Text, (const U8*)"        ", 8);
    assert_string_equal(Text, "");
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_field_extraction),   cmocka_unit_test(test_names),
        cmocka_unit_test(test_kstatus),            cmocka_unit_test(test_format),
        cmocka_unit_test(test_identify_namespace), cmocka_unit_test(test_identify_namespace_nonsense),
        cmocka_unit_test(test_identify_controller), cmocka_unit_test(test_named_codes),
        cmocka_unit_test(test_cap),                 cmocka_unit_test(test_smart_log),
        cmocka_unit_test(test_critical_warning_text), cmocka_unit_test(test_error_entry),
        cmocka_unit_test(test_firmware_log),        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_event_names),         cmocka_unit_test(test_text_field),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

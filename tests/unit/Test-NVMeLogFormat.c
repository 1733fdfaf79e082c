/*
 * Test-NVMeLogFormat.c - NVMe log pages, registers and features turned into
 * nvme-cli style text (storage/nvme/NVMe-LogFormat.c, storage/nvme/NVMe-RegisterFormat.c),
 * from pages decoded by storage/nvme/NVMe-Spec.c (whose decoders Test-NVMeSpec.c checks field by field).
 *
 * Odd values on purpose: temperatures of 0 K and 65535 K, 128-bit counters
 * with every bit set (printed in exact decimal), every critical warning bit
 * set, data unit sizes on rounding and unit boundaries, error log pages with
 * empty entries between used ones, and the register values QEMU 7.2 reports.
 * Expected strings were computed independently (Python's big integers for
 * the 128-bit and unit conversions).
 */
// SOURCES: storage/nvme/NVMe-Spec.c storage/nvme/NVMe-LogFormat.c storage/nvme/NVMe-RegisterFormat.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "storage/nvme/NVMe-LogFormat.h"
#include "storage/nvme/NVMe-RegisterFormat.h"

/************************************************************************/
// Collecting output

#define MAX_LINES 256

typedef struct {
    char Lines[MAX_LINES][NVME_FORMAT_LINE_LENGTH];
    unsigned Count;
} CAPTURE;

static CAPTURE Captured;

static void Collect(LPVOID Context, LPCSTR Line) {
    CAPTURE* Capture = (CAPTURE*)Context;
    assert_true(Capture->Count < MAX_LINES);
    assert_null(strchr(Line, '\n'));
    snprintf(Capture->Lines[Capture->Count++], NVME_FORMAT_LINE_LENGTH, "%s", Line);
}

static void Reset(void) { memset(&Captured, 0, sizeof(Captured)); }

/** The index of the line equal to Expected; fails the test when absent. */
static unsigned FindLine(const char* Expected) {
    for (unsigned I = 0; I < Captured.Count; I++) {
        if (strcmp(Captured.Lines[I], Expected) == 0) return I;
    }
    fprintf(stderr, "missing line: [%s]\nhave:\n", Expected);
    for (unsigned I = 0; I < Captured.Count; I++) fprintf(stderr, "  [%s]\n", Captured.Lines[I]);
    fail();
    return 0;
}

static unsigned CountPrefix(const char* Prefix) {
    unsigned Count = 0;
    for (unsigned I = 0; I < Captured.Count; I++) {
        if (strncmp(Captured.Lines[I], Prefix, strlen(Prefix)) == 0) Count++;
    }
    return Count;
}

static void Put16(U8* Page, unsigned Offset, U16 Value) {
    Page[Offset] = (U8)Value;
    Page[Offset + 1] = (U8)(Value >> 8);
}

static void Put32(U8* Page, unsigned Offset, U32 Value) {
    for (unsigned I = 0; I < 4; I++) Page[Offset + I] = (U8)(Value >> (8 * I));
}

static void Put64(U8* Page, unsigned Offset, U64 Value) {
    for (unsigned I = 0; I < 8; I++) Page[Offset + I] = (U8)(Value >> (8 * I));
}

static NVME_U128 U128(U64 High, U64 Low) {
    NVME_U128 Value = {Low, High};
    return Value;
}

/************************************************************************/
// 128-bit decimal and data units

static void TestU128Decimal(void** State) {
    (void)State;
    char Text[64];
    static const struct {
        U64 High, Low;
        const char* Expected;
    } Cases[] = {
        {0, 0, "0"},
        {0, 1, "1"},
        {0, 9, "9"},
        {0, 10, "10"},
        {0, 0xFFFFFFFFFFFFFFFFULL, "18446744073709551615"},
        {1, 0, "18446744073709551616"},
        {0x5, 0x6BC75E2D63100000ULL, "100000000000000000000"},  // 10^20
        {0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL, "340282366920938463463374607431768211455"},
        {0x8000000000000000ULL, 0, "170141183460469231731687303715884105728"},
    };
    for (unsigned I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        SIZE Length = NVMeU128ToDecimal(U128(Cases[I].High, Cases[I].Low), Text, sizeof(Text));
        assert_string_equal(Text, Cases[I].Expected);
        assert_int_equal(Length, strlen(Cases[I].Expected));
    }
    // A short buffer is cut, never overrun.
    char Small[5];
    NVMeU128ToDecimal(U128(0, 123456789), Small, sizeof(Small));
    assert_string_equal(Small, "1234");
    // From little-endian bytes.
    U8 Bytes[16];
    for (unsigned I = 0; I < 16; I++) Bytes[I] = (U8)(I + 1);
    NVME_U128 Value = NVMeU128FromBytes(Bytes);
    assert_true(Value.Low == 0x0807060504030201ULL && Value.High == 0x100F0E0D0C0B0A09ULL);
    assert_true(NVMeU128IsZero(U128(0, 0)));
    assert_false(NVMeU128IsZero(U128(1, 0)));
    assert_false(NVMeU128IsZero(U128(0, 1)));
}

static void TestDataUnits(void** State) {
    (void)State;
    char Text[64];
    static const struct {
        U64 High, Low;
        const char* Expected;
    } Cases[] = {
        {0, 0, "0.00 B"},
        {0, 1, "512.00 kB"},                 // 512000 bytes
        {0, 2, "1.02 MB"},                   // 1024000
        {0, 3, "1.54 MB"},                   // 1536000: 1.536 rounds up
        {0, 1953, "999.94 MB"},              // 999936000
        {0, 1954, "1.00 GB"},                // 1000448000
        {0, 1953125, "1.00 TB"},             // exactly 10^12
        {0, 0xFFFFFFFFFFFFFFFFULL, "9.44 YB"},  // 9444732965739290426880000
        {0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL, "174224571863520493293.25 YB"},
    };
    for (unsigned I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        NVMeFormatDataUnits(U128(Cases[I].High, Cases[I].Low), Text, sizeof(Text));
        assert_string_equal(Text, Cases[I].Expected);
    }
}

static void TestTemperature(void** State) {
    (void)State;
    char Text[48];
    NVMeFormatTemperature(0, Text, sizeof(Text));
    assert_string_equal(Text, "-273 C (0 Kelvin)");
    NVMeFormatTemperature(273, Text, sizeof(Text));
    assert_string_equal(Text, "0 C (273 Kelvin)");
    NVMeFormatTemperature(323, Text, sizeof(Text));
    assert_string_equal(Text, "50 C (323 Kelvin)");
    NVMeFormatTemperature(65535, Text, sizeof(Text));
    assert_string_equal(Text, "65262 C (65535 Kelvin)");
}

/************************************************************************/
// SMART

static void TestSmartAllOnes(void** State) {
    (void)State;
    U8 Page[NVME_LOG_SMART_SIZE];
    memset(Page, 0, sizeof(Page));
    Page[0] = 0xFF;                      // every critical warning bit
    Put16(Page, 1, 0);                   // 0 K
    Page[3] = 100;
    Page[4] = 10;
    Page[5] = 255;
    Page[6] = 0x1;
    memset(Page + 32, 0xFF, 160);        // every 128-bit counter all ones
    Put32(Page, 192, 0xFFFFFFFF);
    Put32(Page, 196, 7);
    Put16(Page, 200, 65535);             // sensor 1
    Put16(Page, 214, 300);               // sensor 8; sensors 2-7 absent
    Put32(Page, 216, 1);
    Put32(Page, 220, 2);
    Put32(Page, 224, 3);
    Put32(Page, 228, 4);

    NVME_SMART_LOG Log;
    NVMeDecodeSmartLog(Page, &Log);
    assert_int_equal(Log.CriticalWarning, 0xFF);
    assert_int_equal(Log.Temperature, 0);
    assert_true(Log.MediaErrors.Low == ~0ULL && Log.MediaErrors.High == ~0ULL);
    assert_int_equal(Log.TemperatureSensors[7], 300);

    Reset();
    NVMeSmartPrint(&Log, "nvme0", NVME_NSID_ALL, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "Smart Log for NVME device:nvme0 namespace-id:ffffffff");
    assert_string_equal(Captured.Lines[1], "critical_warning                        : 0xff");
    // Each of the 8 bits spelled out, in order, right under the field.
    for (unsigned Bit = 0; Bit < 8; Bit++) {
        char Prefix[32];
        snprintf(Prefix, sizeof(Prefix), "      [%u:%u] ", Bit, Bit);
        assert_memory_equal(Captured.Lines[2 + Bit], Prefix, strlen(Prefix));
    }
    FindLine("      [1:1] Temp. Threshold: a temperature is above an over or below an under temperature threshold");
    FindLine("      [7:7] Reserved: a reserved bit is set");
    assert_string_equal(Captured.Lines[10], "temperature                             : -273 C (0 Kelvin)");
    FindLine("available_spare                         : 100%");
    FindLine("available_spare_threshold               : 10%");
    FindLine("percentage_used                         : 255%");
    FindLine("endurance group critical warning summary: 0x1");
    FindLine("Data Units Read                         : 340282366920938463463374607431768211455 "
             "(174224571863520493293.25 YB)");
    FindLine("Data Units Written                      : 340282366920938463463374607431768211455 "
             "(174224571863520493293.25 YB)");
    const char* Counters[] = {"host_read_commands", "host_write_commands", "controller_busy_time",
                              "power_cycles",       "power_on_hours",      "unsafe_shutdowns",
                              "media_errors",       "num_err_log_entries"};
    for (unsigned I = 0; I < sizeof(Counters) / sizeof(Counters[0]); I++) {
        char Expected[128];
        snprintf(Expected, sizeof(Expected), "%-40s: 340282366920938463463374607431768211455", Counters[I]);
        FindLine(Expected);
    }
    FindLine("Warning Temperature Time                : 4294967295");
    FindLine("Critical Composite Temperature Time     : 7");
    FindLine("Temperature Sensor 1                    : 65262 C (65535 Kelvin)");
    FindLine("Temperature Sensor 8                    : 27 C (300 Kelvin)");
    assert_int_equal(CountPrefix("Temperature Sensor"), 2);
    FindLine("Thermal Management T1 Trans Count       : 1");
    FindLine("Thermal Management T2 Trans Count       : 2");
    FindLine("Thermal Management T1 Total Time        : 3");
    FindLine("Thermal Management T2 Total Time        : 4");
    assert_int_equal(Captured.Count, 1 + 1 + 8 + 15 + 2 + 2 + 4);
}

static void TestSmartQemuLike(void** State) {
    (void)State;
    // What QEMU 7.2 reports after some I/O: 323 K, counters small, no warning.
    U8 Page[NVME_LOG_SMART_SIZE];
    memset(Page, 0, sizeof(Page));
    Put16(Page, 1, 323);
    Put64(Page, 32, 1234);   // data units read
    Put64(Page, 48, 1);      // data units written
    Put64(Page, 64, 5000);
    Put64(Page, 80, 17);
    Put64(Page, 128, 2);
    NVME_SMART_LOG Log;
    NVMeDecodeSmartLog(Page, &Log);
    Reset();
    NVMeSmartPrint(&Log, "nvme1", 1, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "Smart Log for NVME device:nvme1 namespace-id:1");
    assert_string_equal(Captured.Lines[1], "critical_warning                        : 0");
    assert_string_equal(Captured.Lines[2], "temperature                             : 50 C (323 Kelvin)");
    FindLine("Data Units Read                         : 1234 (631.81 MB)");
    FindLine("Data Units Written                      : 1 (512.00 kB)");
    FindLine("host_read_commands                      : 5000");
    FindLine("host_write_commands                     : 17");
    FindLine("power_on_hours                          : 2");
    FindLine("media_errors                            : 0");
    assert_int_equal(CountPrefix("      ["), 0);
    assert_int_equal(CountPrefix("Temperature Sensor"), 0);
}

static void TestSmartWarningNames(void** State) {
    (void)State;
    assert_string_equal(NVMeSmartWarningName(0), "Available Spare");
    assert_string_equal(NVMeSmartWarningName(3), "Read-only");
    assert_string_equal(NVMeSmartWarningName(7), "Reserved");
    assert_string_equal(NVMeSmartWarningName(99), "Reserved");
    assert_non_null(NVMeSmartWarningDescription(99));
}

/************************************************************************/
// Error log

static void TestErrorLogSkipsEmptyEntries(void** State) {
    (void)State;
    U8 Page[4 * NVME_LOG_ERROR_ENTRY_SIZE];
    memset(Page, 0, sizeof(Page));
    // Entry 1: error 7, SQ 1, CID 0x1234, status Invalid Field (0x2) with the phase bit, at LBA 0x10000 of NSID 1.
    U8* Entry = Page + NVME_LOG_ERROR_ENTRY_SIZE;
    Put64(Entry, 0, 7);
    Put16(Entry, 8, 1);
    Put16(Entry, 10, 0x1234);
    Put16(Entry, 12, (0x2 << 1) | 1);
    Put16(Entry, 14, 0x28);
    Put64(Entry, 16, 0x10000);
    Put32(Entry, 24, 1);
    Entry[31] = 0x02;
    Entry[63] = 1;
    // Entry 3: the counter all ones, the same status with DNR.
    Entry = Page + 3 * NVME_LOG_ERROR_ENTRY_SIZE;
    Put64(Entry, 0, 0xFFFFFFFFFFFFFFFFULL);
    Put16(Entry, 12, 0x4002 << 1);
    Put32(Entry, 24, 0xFFFFFFFF);

    Reset();
    assert_int_equal(NVMeErrorLogPrint(Page, 4, "nvme0", Collect, &Captured), 2);
    assert_string_equal(Captured.Lines[0], "Error Log Entries for device:nvme0 entries:4");
    assert_string_equal(Captured.Lines[1], ".................");
    assert_string_equal(Captured.Lines[2], " Entry[ 1]");
    FindLine("error_count     : 7");
    FindLine("sqid            : 1");
    FindLine("cmdid           : 0x1234");
    FindLine("status_field    : 0x2 (Invalid Field in Command)");
    FindLine("parm_err_loc    : 0x28");
    FindLine("lba             : 0x10000");
    FindLine("nsid            : 0x1");
    FindLine("opcode          : 0x2");
    FindLine("log_page_version: 1");
    FindLine(" Entry[ 3]");
    FindLine("error_count     : 18446744073709551615");
    FindLine("status_field    : 0x4002 (Invalid Field in Command)");
    FindLine("nsid            : 0xffffffff");
    assert_int_equal(CountPrefix(" Entry["), 2);
    assert_int_equal(CountPrefix("phase_tag       : "), 2);
    FindLine("phase_tag       : 0x1");
    assert_int_equal(CountPrefix("No error log entries"), 0);
}

static void TestErrorLogAllEmpty(void** State) {
    (void)State;
    U8 Page[4 * NVME_LOG_ERROR_ENTRY_SIZE];
    memset(Page, 0, sizeof(Page));
    Reset();
    assert_int_equal(NVMeErrorLogPrint(Page, 4, "nvme2", Collect, &Captured), 0);
    assert_int_equal(Captured.Count, 3);
    assert_string_equal(Captured.Lines[0], "Error Log Entries for device:nvme2 entries:4");
    assert_string_equal(Captured.Lines[2], "No error log entries (all 4 entries have error_count 0)");
}

/************************************************************************/
// Firmware log

static void TestFirmwareLog(void** State) {
    (void)State;
    U8 Page[NVME_LOG_FIRMWARE_SIZE];
    memset(Page, 0, sizeof(Page));
    Page[0] = 0x1;
    memcpy(Page + 8, "1.0     ", 8);
    memcpy(Page + 8 + 8 * 6, "AB\x01" "CDEFG", 8);
    NVME_FIRMWARE_LOG Log;
    NVMeDecodeFirmwareLog(Page, 0x0E, &Log);
    Reset();
    NVMeFirmwareLogPrint(&Log, "nvme0", Collect, &Captured);
    assert_int_equal(Captured.Count, 4);
    assert_string_equal(Captured.Lines[0], "Firmware Log for device:nvme0");
    assert_string_equal(Captured.Lines[1], "afi : 0x1");
    assert_string_equal(Captured.Lines[2], "frs1: 0x2020202020302e31 (1.0)");
    assert_string_equal(Captured.Lines[3], "frs7: 0x4746454443014241 (AB.CDEFG)");
}

/************************************************************************/
// Registers and features

static void TestRegistersQemu(void** State) {
    (void)State;
    NVME_REGISTERS Registers = {0};
    Registers.Cap = 0x004018200F0107FFULL;  // QEMU 7.2 (qemu-nvme-facts.md 1.2)
    Registers.Vs = 0x00010400;
    Registers.Cc = 0x00460001;
    Registers.Csts = 0x9;                   // ready, shutdown complete
    Registers.Aqa = 0x001F001F;
    Registers.Asq = 0x12345000;
    Registers.Acq = 0x0000000100000000ULL;
    Reset();
    NVMeRegistersPrint(&Registers, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "cap     : 0x4018200f0107ff");
    FindLine("\tMemory Page Size Maximum         (MPSMAX): 65536 bytes");
    FindLine("\tMemory Page Size Minimum         (MPSMIN): 4096 bytes");
    FindLine("\tCommand Sets Supported              (CSS): NVM command set is Supported");
    FindLine("\t                                           One or more I/O Command Sets are Supported");
    FindLine("\t                                           Only Admin Command Set Supported");
    FindLine("\tNVM Subsystem Reset Supported     (NSSRS): No");
    FindLine("\tDoorbell Stride                   (DSTRD): 4 bytes");
    FindLine("\tTimeout                              (TO): 7500 ms");
    FindLine("\tContiguous Queues Required          (CQR): Yes");
    FindLine("\tMaximum Queue Entries Supported    (MQES): 2048");
    FindLine("version : 0x10400");
    FindLine("\tNVMe specification 1.4.0");
    FindLine("cc      : 0x460001");
    FindLine("\tI/O Completion Queue Entry Size (IOCQES): 16 bytes");
    FindLine("\tI/O Submission Queue Entry Size (IOSQES): 64 bytes");
    FindLine("\tShutdown Notification              (SHN): No notification; no effect");
    FindLine("\tMemory Page Size                   (MPS): 4096 bytes");
    FindLine("\tI/O Command Set Selected           (CSS): NVM Command Set");
    FindLine("\tEnable                              (EN): Yes");
    FindLine("csts    : 0x9");
    FindLine("\tShutdown Status               (SHST): Shutdown processing complete");
    FindLine("\tController Fatal Status        (CFS): False");
    FindLine("\tReady                          (RDY): Yes");
    FindLine("aqa     : 0x1f001f");
    FindLine("\tAdmin Completion Queue Size (ACQS): 32");
    FindLine("\tAdmin Submission Queue Size (ASQS): 32");
    FindLine("asq     : 0x12345000");
    FindLine("\tAdmin Submission Queue Base (ASQB): 12345000");
    FindLine("\tAdmin Completion Queue Base (ACQB): 100000000");
    FindLine("cmbloc  : 0");
    assert_int_equal(CountPrefix("\tController Memory Buffer feature is not supported"), 2);

    // Everything set: fatal status, shutdown by the subsystem, the largest page sizes.
    Registers.Cap = 0xFFFFFFFFFFFFFFFFULL;
    Registers.Cc = 0xFFFFFFFF;
    Registers.Csts = 0xFFFFFFFF;
    Reset();
    NVMeRegistersPrint(&Registers, Collect, &Captured);
    FindLine("cap     : 0xffffffffffffffff");
    FindLine("\tMemory Page Size Maximum         (MPSMAX): 134217728 bytes");
    FindLine("\tDoorbell Stride                   (DSTRD): 131072 bytes");
    FindLine("\tTimeout                              (TO): 127500 ms");
    FindLine("\tMaximum Queue Entries Supported    (MQES): 65536");
    FindLine("\tShutdown Notification              (SHN): Reserved");
    FindLine("\tArbitration Mechanism Selected     (AMS): Vendor Specific");
    FindLine("\tI/O Command Set Selected           (CSS): Admin Command Set only");
    FindLine("\tShutdown Type                   (ST): Subsystem");
    FindLine("\tController Fatal Status        (CFS): True");
}

static void TestFeatures(void** State) {
    (void)State;
    Reset();
    NVMeFeaturePrint(NVME_FEATURE_ARBITRATION, 0x7, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "get-feature:0x01 (Arbitration), Current value:0x00000007");
    FindLine("\tHigh Priority Weight   (HPW): 1");
    FindLine("\tArbitration Burst       (AB): No limit");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_NUMBER_OF_QUEUES, 0x003F003F, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "get-feature:0x07 (Number of Queues), Current value:0x003f003f");
    FindLine("\tNumber of IO Completion Queues Allocated (NCQA): 64");
    FindLine("\tNumber of IO Submission Queues Allocated (NSQA): 64");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_TEMPERATURE_THRESHOLD, 0x157, Collect, &Captured);
    FindLine("\tThreshold Type Select         (THSEL): 0 - Over Temperature Threshold");
    FindLine("\tThreshold Temperature Select (TMPSEL): 0 - Composite Temperature");
    FindLine("\tTemperature Threshold         (TMPTH): 70 C (343 Kelvin)");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_INTERRUPT_COALESCING, 0, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "get-feature:0x08 (Interrupt Coalescing), Current value:00000000");
    FindLine("\tAggregation Time     (TIME): 0 usec");
    FindLine("\tAggregation Threshold (THR): 1");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_VOLATILE_WRITE_CACHE, 1, Collect, &Captured);
    FindLine("\tVolatile Write Cache Enable (WCE): Enabled");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_ERROR_RECOVERY, 0x10005, Collect, &Captured);
    FindLine("\tDeallocated or Unwritten Logical Block Error Enable (DULBE): Enabled");
    FindLine("\tTime Limited Error Recovery                          (TLER): 500 ms");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_POWER_MANAGEMENT, 0x43, Collect, &Captured);
    FindLine("\tWorkload Hint (WH): 2 - Heavy Sequential Writes");
    FindLine("\tPower State   (PS): 3");

    Reset();
    NVMeFeaturePrint(NVME_FEATURE_ASYNC_EVENT_CONFIG, 0x100 | 0x03, Collect, &Captured);
    assert_string_equal(Captured.Lines[0], "get-feature:0x0b (Async Event Configuration), Current value:0x00000103");
    FindLine("\tNamespace Attribute Notices                           : Send async event");
    FindLine("\tFirmware Activation Notices                           : Do not send async event");
    FindLine("\tSMART / Health Critical Warnings                      : 0x03");
    FindLine("\t  [0:0] Available Spare: Send async event");
    FindLine("\t  [1:1] Temp. Threshold: Send async event");
    assert_int_equal(CountPrefix("\t  ["), 2);

    assert_string_equal(NVMeFeatureName(0x7F), "Unknown");
    Reset();
    NVMeFeaturePrint(0x7F, 0xFFFFFFFF, Collect, &Captured);
    assert_int_equal(Captured.Count, 1);
    assert_string_equal(Captured.Lines[0], "get-feature:0x7f (Unknown), Current value:0xffffffff");
    Reset();
    NVMeFeaturePrint(NVME_FEATURE_APST, 0, Collect, &Captured);  // named, not decoded
    assert_int_equal(Captured.Count, 1);
    assert_string_equal(Captured.Lines[0],
                        "get-feature:0x0c (Autonomous Power State Transition), Current value:00000000");
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestU128Decimal),
        cmocka_unit_test(TestDataUnits),
        cmocka_unit_test(TestTemperature),
        cmocka_unit_test(TestSmartAllOnes),
        cmocka_unit_test(TestSmartQemuLike),
        cmocka_unit_test(TestSmartWarningNames),
        cmocka_unit_test(TestErrorLogSkipsEmptyEntries),
        cmocka_unit_test(TestErrorLogAllEmpty),
        cmocka_unit_test(TestFirmwareLog),
        cmocka_unit_test(TestRegistersQemu),
        cmocka_unit_test(TestFeatures),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

/*
 * NVMe-LogFormat.c - NVMe log pages (SMART / Health, Error Information,
 * Firmware Slot) printed line by line in nvme-cli's layout, exact 128-bit
 * counters in decimal and SMART data units in bytes.
 *
 * Pure: no hardware, no allocation, no locks. The pages are decoded by
 * NVMe-Spec.c; this file only prints. Wide arithmetic is done on 32-bit
 * words (no __int128 division: the kernel links no libgcc).
 */

#include "storage/nvme/NVMe-LogFormat.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Lines

void NVMeFormatLine(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Format, ...) {
    char Line[NVME_FORMAT_LINE_LENGTH];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Line, sizeof(Line), Format, Arguments);
    VA_END(Arguments);
    Output(Context, Line);
}

void NVMeFormatHex(U64 Value, LPSTR Buffer, SIZE Size) {
    if (Value == 0) StringPrintFormat(Buffer, Size, "0");
    else StringPrintFormat(Buffer, Size, "0x%llx", Value);
}

/************************************************************************/
// Wide unsigned integers: 6 x 32 bits, least significant word first

#define WIDE_WORDS 6

typedef struct tag_WIDE {
    U32 Word[WIDE_WORDS];
} WIDE;

static void WideFromU128(WIDE* Wide, NVME_U128 Value) {
    MemorySet(Wide, 0, sizeof(*Wide));
    Wide->Word[0] = (U32)Value.Low;
    Wide->Word[1] = (U32)(Value.Low >> 32);
    Wide->Word[2] = (U32)Value.High;
    Wide->Word[3] = (U32)(Value.High >> 32);
}

/** Wide *= Factor; the callers' values stay below 2^160, so nothing is lost. */
static void WideMultiply(WIDE* Wide, U32 Factor) {
    U64 Carry = 0;
    for (U32 I = 0; I < WIDE_WORDS; I++) {
        U64 Product = (U64)Wide->Word[I] * Factor + Carry;
        Wide->Word[I] = (U32)Product;
        Carry = Product >> 32;
    }
}

static void WideAdd(WIDE* Wide, U32 Addend) {
    U64 Carry = Addend;
    for (U32 I = 0; I < WIDE_WORDS && Carry != 0; I++) {
        U64 Sum = (U64)Wide->Word[I] + Carry;
        Wide->Word[I] = (U32)Sum;
        Carry = Sum >> 32;
    }
}

/** Wide /= Divisor (not 0); returns the remainder. */
static U32 WideDivide(WIDE* Wide, U32 Divisor) {
    U64 Remainder = 0;
    for (I32 I = WIDE_WORDS - 1; I >= 0; I--) {
        U64 Current = (Remainder << 32) | Wide->Word[I];
        Wide->Word[I] = (U32)(Current / Divisor);
        Remainder = Current % Divisor;
    }
    return (U32)Remainder;
}

static BOOL WideIsZero(const WIDE* Wide) {
    for (U32 I = 0; I < WIDE_WORDS; I++) {
        if (Wide->Word[I] != 0) return FALSE;
    }
    return TRUE;
}

static BOOL WideAtLeast(const WIDE* Wide, U32 Value) {
    for (U32 I = 1; I < WIDE_WORDS; I++) {
        if (Wide->Word[I] != 0) return TRUE;
    }
    return Wide->Word[0] >= Value;
}

/** Exact decimal of Wide (a copy is consumed); returns the length written. */
static SIZE WideToDecimal(WIDE Wide, LPSTR Buffer, SIZE Size) {
    char Digits[64];  // 2^192 has 58 digits
    U32 Count = 0;
    do {
        Digits[Count++] = (char)('0' + WideDivide(&Wide, 10));
    } while (!WideIsZero(&Wide) && Count < sizeof(Digits));
    if (Size == 0) return 0;
    SIZE Length = 0;
    while (Count > 0 && Length + 1 < Size) Buffer[Length++] = Digits[--Count];
    Buffer[Length] = '\0';
    return Length;
}

/************************************************************************/
// 128-bit counters

SIZE NVMeU128ToDecimal(NVME_U128 Value, LPSTR Buffer, SIZE Size) {
    WIDE Wide;
    WideFromU128(&Wide, Value);
    return WideToDecimal(Wide, Buffer, Size);
}

#define DATA_UNIT_BYTES 512000U  // one SMART data unit: 1000 x 512 bytes
#define SI_UNIT_COUNT 9

void NVMeFormatDataUnits(NVME_U128 Units, LPSTR Buffer, SIZE Size) {
    static const char* const Prefixes[SI_UNIT_COUNT] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
    WIDE Bytes;
    WideFromU128(&Bytes, Units);
    WideMultiply(&Bytes, DATA_UNIT_BYTES);  // below 2^147

    // The unit: divide by 1000 while the value stays at least 1000 and a larger unit exists.
    U32 Unit = 0;
    WIDE Scaled = Bytes;
    while (Unit + 1 < SI_UNIT_COUNT && WideAtLeast(&Scaled, 1000)) {
        WideDivide(&Scaled, 1000);
        Unit++;
    }
    for (;;) {
        // Hundredths of the unit, rounded half up: (Bytes * 200 / 1000^Unit + 1) / 2.
        WIDE Hundredths = Bytes;
        WideMultiply(&Hundredths, 200);  // below 2^155
        for (U32 I = 0; I < Unit; I++) WideDivide(&Hundredths, 1000);
        WideAdd(&Hundredths, 1);
        WideDivide(&Hundredths, 2);
        // 999.995 kB rounds to 1000.00: show it as 1.00 MB instead.
        if (Unit + 1 < SI_UNIT_COUNT && WideAtLeast(&Hundredths, 100000)) {
            Unit++;
            continue;
        }
        U32 Fraction = WideDivide(&Hundredths, 100);
        char Whole[64];
        WideToDecimal(Hundredths, Whole, sizeof(Whole));
        StringPrintFormat(Buffer, Size, "%s.%02u %sB", Whole, Fraction, Prefixes[Unit]);
        return;
    }
}

/************************************************************************/
// SMART / Health Information

void NVMeFormatTemperature(U32 Kelvin, LPSTR Buffer, SIZE Size) {
    StringPrintFormat(Buffer, Size, "%d C (%u Kelvin)", (I32)Kelvin - 273, Kelvin);
}

/** "name<padding>: value", the name padded to nvme-cli's 40 columns. */
#define SMART_NAME_WIDTH 40

static void SmartLine(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, LPCSTR Value) {
    NVMeFormatLine(Output, Context, "%-*s: %s", SMART_NAME_WIDTH, Name, Value);
}

static void SmartCounter(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, NVME_U128 Value) {
    char Text[64];
    NVMeU128ToDecimal(Value, Text, sizeof(Text));
    SmartLine(Output, Context, Name, Text);
}

static void SmartDataUnits(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, NVME_U128 Value) {
    char Count[64], Size[72], Text[144];
    NVMeU128ToDecimal(Value, Count, sizeof(Count));
    NVMeFormatDataUnits(Value, Size, sizeof(Size));
    StringPrintFormat(Text, sizeof(Text), "%s (%s)", Count, Size);
    SmartLine(Output, Context, Name, Text);
}

static void SmartNumber(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, LPCSTR Format, U32 Value) {
    char Text[32];
    StringPrintFormat(Text, sizeof(Text), Format, Value);
    SmartLine(Output, Context, Name, Text);
}

void NVMeSmartPrint(const NVME_SMART_LOG* Log, LPCSTR DeviceName, U32 Nsid, NVME_LINE_OUTPUT Output,
                    LPVOID Context) {
    char Text[64];
    NVMeFormatLine(Output, Context, "Smart Log for NVME device:%s namespace-id:%x", DeviceName, Nsid);
    NVMeFormatHex(Log->CriticalWarning, Text, sizeof(Text));
    SmartLine(Output, Context, "critical_warning", Text);
    for (U32 Bit = 0; Bit < 8; Bit++) {
        if ((Log->CriticalWarning & (1U << Bit)) == 0) continue;
        NVMeFormatLine(Output, Context, "      [%u:%u] %s: %s", Bit, Bit, NVMeSmartWarningName(Bit),
                       NVMeSmartWarningDescription(Bit));
    }
    NVMeFormatTemperature(Log->Temperature, Text, sizeof(Text));
    SmartLine(Output, Context, "temperature", Text);
    SmartNumber(Output, Context, "available_spare", "%u%%", Log->AvailableSpare);
    SmartNumber(Output, Context, "available_spare_threshold", "%u%%", Log->AvailableSpareThreshold);
    SmartNumber(Output, Context, "percentage_used", "%u%%", Log->PercentageUsed);
    NVMeFormatHex(Log->EnduranceGroupWarning, Text, sizeof(Text));
    SmartLine(Output, Context, "endurance group critical warning summary", Text);
    SmartDataUnits(Output, Context, "Data Units Read", Log->DataUnitsRead);
    SmartDataUnits(Output, Context, "Data Units Written", Log->DataUnitsWritten);
    SmartCounter(Output, Context, "host_read_commands", Log->HostReadCommands);
    SmartCounter(Output, Context, "host_write_commands", Log->HostWriteCommands);
    SmartCounter(Output, Context, "controller_busy_time", Log->ControllerBusyTime);
    SmartCounter(Output, Context, "power_cycles", Log->PowerCycles);
    SmartCounter(Output, Context, "power_on_hours", Log->PowerOnHours);
    SmartCounter(Output, Context, "unsafe_shutdowns", Log->UnsafeShutdowns);
    SmartCounter(Output, Context, "media_errors", Log->MediaErrors);
    SmartCounter(Output, Context, "num_err_log_entries", Log->ErrorLogEntries);
    SmartNumber(Output, Context, "Warning Temperature Time", "%u", Log->WarningTemperatureTime);
    SmartNumber(Output, Context, "Critical Composite Temperature Time", "%u", Log->CriticalTemperatureTime);
    for (U32 I = 0; I < 8; I++) {
        if (Log->TemperatureSensors[I] == 0) continue;  // no such sensor
        char Name[32];
        StringPrintFormat(Name, sizeof(Name), "Temperature Sensor %u", I + 1);
        NVMeFormatTemperature(Log->TemperatureSensors[I], Text, sizeof(Text));
        SmartLine(Output, Context, Name, Text);
    }
    SmartNumber(Output, Context, "Thermal Management T1 Trans Count", "%u", Log->ThermalTransitions[0]);
    SmartNumber(Output, Context, "Thermal Management T2 Trans Count", "%u", Log->ThermalTransitions[1]);
    SmartNumber(Output, Context, "Thermal Management T1 Total Time", "%u", Log->ThermalTime[0]);
    SmartNumber(Output, Context, "Thermal Management T2 Total Time", "%u", Log->ThermalTime[1]);
}

/************************************************************************/
// Error Information

#define ERROR_NAME_WIDTH 16
#define ERROR_SEPARATOR "................."

static void ErrorLine(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, LPCSTR Value) {
    NVMeFormatLine(Output, Context, "%-*s: %s", ERROR_NAME_WIDTH, Name, Value);
}

static void ErrorHex(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, U64 Value) {
    char Text[24];
    NVMeFormatHex(Value, Text, sizeof(Text));
    ErrorLine(Output, Context, Name, Text);
}

static void ErrorDecimal(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Name, U64 Value) {
    char Text[24];
    StringPrintFormat(Text, sizeof(Text), "%llu", Value);
    ErrorLine(Output, Context, Name, Text);
}

U32 NVMeErrorLogPrint(const U8* Page, U32 EntryCount, LPCSTR DeviceName, NVME_LINE_OUTPUT Output, LPVOID Context) {
    U32 Printed = 0;
    NVMeFormatLine(Output, Context, "Error Log Entries for device:%s entries:%u", DeviceName, EntryCount);
    Output(Context, ERROR_SEPARATOR);
    for (U32 I = 0; I < EntryCount; I++) {
        NVME_ERROR_ENTRY Entry;
        NVMeDecodeErrorEntry(Page + I * NVME_LOG_ERROR_ENTRY_SIZE, &Entry);
        if (Entry.ErrorCount == 0) continue;  // an unused entry
        Printed++;
        NVMeFormatLine(Output, Context, " Entry[%2u]", I);
        Output(Context, ERROR_SEPARATOR);
        ErrorDecimal(Output, Context, "error_count", Entry.ErrorCount);
        ErrorDecimal(Output, Context, "sqid", Entry.SqId);
        ErrorHex(Output, Context, "cmdid", Entry.Cid);
        char Text[96], Hex[16];
        NVMeFormatHex(Entry.Status, Hex, sizeof(Hex));
        StringPrintFormat(Text, sizeof(Text), "%s (%s)", Hex, NVMeStatusName(Entry.Status));
        ErrorLine(Output, Context, "status_field", Text);
        ErrorHex(Output, Context, "phase_tag", Entry.PhaseTag);
        ErrorHex(Output, Context, "parm_err_loc", Entry.ParameterLocation);
        StringPrintFormat(Text, sizeof(Text), "0x%llx", Entry.Lba);
        ErrorLine(Output, Context, "lba", Text);
        ErrorHex(Output, Context, "nsid", Entry.Nsid);
        ErrorDecimal(Output, Context, "vs", Entry.VendorInfoPage);
        ErrorHex(Output, Context, "trtype", Entry.TransportType);
        ErrorDecimal(Output, Context, "csi", Entry.CommandSetIndicator);
        ErrorHex(Output, Context, "opcode", Entry.Opcode);
        ErrorHex(Output, Context, "cs", Entry.CommandSpecific);
        ErrorHex(Output, Context, "trtype_spec_info", Entry.TransportSpecific);
        ErrorDecimal(Output, Context, "log_page_version", Entry.LogPageVersion);
        Output(Context, ERROR_SEPARATOR);
    }
    if (Printed == 0) {
        NVMeFormatLine(Output, Context, "No error log entries (all %u entries have error_count 0)", EntryCount);
    }
    return Printed;
}

/************************************************************************/
// Firmware Slot Information

void NVMeFirmwareLogPrint(const NVME_FIRMWARE_LOG* Log, LPCSTR DeviceName, NVME_LINE_OUTPUT Output, LPVOID Context) {
    char Text[24];
    NVMeFormatLine(Output, Context, "Firmware Log for device:%s", DeviceName);
    NVMeFormatHex(Log->Afi, Text, sizeof(Text));
    NVMeFormatLine(Output, Context, "%-4s: %s", "afi", Text);
    for (U32 Slot = 0; Slot < NVME_FIRMWARE_SLOTS; Slot++) {
        U8 Bytes[8];
        WriteLE64(Bytes, Log->Revision[Slot]);
        if (Bytes[0] == 0) continue;  // empty slot
        // nvme-cli's rendering: printable characters as they are, others as '.'; trailing spaces dropped.
        char Ascii[9];
        U32 Length = 8;
        while (Length > 0 && (Bytes[Length - 1] == ' ' || Bytes[Length - 1] == 0)) Length--;
        for (U32 I = 0; I < Length; I++) Ascii[I] = (Bytes[I] >= '!' && Bytes[I] <= '~') ? (char)Bytes[I] : '.';
        Ascii[Length] = '\0';
        char Name[8];
        StringPrintFormat(Name, sizeof(Name), "frs%u", Slot + 1);
        NVMeFormatLine(Output, Context, "%-4s: 0x%016llx (%s)", Name, Log->Revision[Slot], Ascii);
    }
}

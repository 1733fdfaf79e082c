/*
 * NVMe-LogFormat.h - decoding and printing of NVMe log pages and controller
 * registers, the way nvme-cli shows them (smart-log, error-log, fw-log,
 * show-regs -H, get-feature -H).
 *
 * Pure code: raw bytes in (as the controller returned them, little endian,
 * decoded by explicit offsets, never by overlaying packed structures), text
 * lines out through a callback, one call per line without the '\n'. Nothing
 * here touches hardware or allocates, so the shell (`nvme smart`, `nvme
 * error-log`), the data view and the host unit test
 * (tests/unit/Test-NVMe-LogFormat.c) all run the same code. Registers and
 * features are in NVMe-RegisterFormat.h.
 *
 * 128-bit SMART counters are kept exact (NVME_U128) and printed in exact
 * decimal, whatever their size. Output differences from nvme-cli, on purpose:
 * the temperature is ASCII ("50 C (323 Kelvin)", nvme-cli 1.x's form: the
 * same bytes go to a UTF-8 serial terminal and a code page 437 VGA screen,
 * so a degree sign cannot be right on both), counters have no thousands
 * separators (nvme-cli's output in the C locale), and a set critical warning
 * bit is spelled out under the field even without -H.
 *
 * Sources: NVMe Base Specification 2.0 figures 205 (Error Information),
 * 207 (SMART / Health Information), 209 (Firmware Slot Information).
 */

#ifndef STORAGE_NVME_LOGFORMAT_H_INCLUDED
#define STORAGE_NVME_LOGFORMAT_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Log page identifiers and sizes

#define NVME_LOG_ERROR_INFORMATION 0x01
#define NVME_LOG_SMART_HEALTH 0x02
#define NVME_LOG_FIRMWARE_SLOT 0x03
#define NVME_LOG_SMART_SIZE 512
#define NVME_LOG_FIRMWARE_SIZE 512
#define NVME_LOG_ERROR_ENTRY_SIZE 64

#define NVME_NSID_ALL 0xFFFFFFFFU

// SMART critical warning bits (figure 207, byte 0)
#define NVME_CRITICAL_WARNING_SPARE 0x01          // available spare below threshold
#define NVME_CRITICAL_WARNING_TEMPERATURE 0x02    // over or under a temperature threshold
#define NVME_CRITICAL_WARNING_RELIABILITY 0x04    // NVM subsystem reliability degraded
#define NVME_CRITICAL_WARNING_READ_ONLY 0x08      // media placed in read-only mode
#define NVME_CRITICAL_WARNING_VOLATILE_BACKUP 0x10 // volatile memory backup device failed
#define NVME_CRITICAL_WARNING_PMR_READ_ONLY 0x20  // persistent memory region read-only or unreliable
#define NVME_CRITICAL_WARNING_PERSONALITY 0x40    // indeterminate personality (NVMe 2.0)

/************************************************************************/
// Output

/** Receives one line of text, without the line end. */
typedef void (*NVME_LINE_OUTPUT)(LPVOID Context, LPCSTR Line);

/** Lines longer than this are cut. */
#define NVME_FORMAT_LINE_LENGTH 160

/************************************************************************/
// 128-bit counters

typedef struct tag_NVME_U128 {
    U64 Low;
    U64 High;
} NVME_U128;

/** The 16 little-endian bytes at Bytes. */
NVME_U128 NVMeU128FromBytes(const U8* Bytes);
BOOL NVMeU128IsZero(NVME_U128 Value);
/** Exact decimal; returns the length written (Size must allow 40 characters for any value, else it is cut). */
SIZE NVMeU128ToDecimal(NVME_U128 Value, LPSTR Buffer, SIZE Size);
/**
 * A count of SMART data units (1000 blocks of 512 bytes each) as bytes with
 * a decimal unit and two decimals, rounded half up: "0.00 B", "512.00 kB",
 * "1.02 MB" ... "YB" (larger amounts stay in YB).
 */
void NVMeFormatDataUnits(NVME_U128 Units, LPSTR Buffer, SIZE Size);

/************************************************************************/
// SMART / Health Information (log 02h)

typedef struct tag_NVME_SMART_LOG {
    U8 CriticalWarning;
    U16 Temperature;                 // composite, kelvin
    U8 AvailableSpare;               // percent
    U8 AvailableSpareThreshold;      // percent
    U8 PercentageUsed;
    U8 EnduranceGroupWarning;
    NVME_U128 DataUnitsRead;         // thousands of 512-byte units
    NVME_U128 DataUnitsWritten;
    NVME_U128 HostReadCommands;
    NVME_U128 HostWriteCommands;
    NVME_U128 ControllerBusyTime;    // minutes
    NVME_U128 PowerCycles;
    NVME_U128 PowerOnHours;
    NVME_U128 UnsafeShutdowns;
    NVME_U128 MediaErrors;
    NVME_U128 ErrorLogEntries;
    U32 WarningTemperatureTime;      // minutes
    U32 CriticalTemperatureTime;     // minutes
    U16 TemperatureSensors[8];       // kelvin, 0 = no sensor
    U32 ThermalTransitions[2];       // thermal management temperature 1 and 2 transition counts
    U32 ThermalTime[2];              // seconds spent in each
} NVME_SMART_LOG;

/** Decodes the 512-byte page. */
void NVMeSmartDecode(const U8* Page, NVME_SMART_LOG* Log);
/** Short name of a critical warning bit (0-7): "Available Spare", ...; "Reserved" for 7. */
LPCSTR NVMeSmartWarningName(U32 Bit);
/** What the bit means, in a sentence. */
LPCSTR NVMeSmartWarningDescription(U32 Bit);
/** "50 C (323 Kelvin)"; kelvin 0 gives "-273 C (0 Kelvin)". */
void NVMeFormatTemperature(U32 Kelvin, LPSTR Buffer, SIZE Size);
/** nvme smart-log: a header line, then one "name : value" line per field. */
void NVMeSmartPrint(const NVME_SMART_LOG* Log, LPCSTR DeviceName, U32 Nsid, NVME_LINE_OUTPUT Output,
                    LPVOID Context);

/************************************************************************/
// Error Information (log 01h)

typedef struct tag_NVME_ERROR_LOG_ENTRY {
    U64 ErrorCount;               // 0: the entry is empty
    U16 SubmissionQueueId;
    U16 CommandId;
    U16 StatusField;              // bit 0 phase tag, bits 15:1 the status
    U16 ParameterErrorLocation;
    U64 Lba;
    U32 Nsid;
    U8 VendorSpecific;
    U8 TransportType;
    U8 CommandSetIndicator;
    U8 Opcode;
    U64 CommandSpecific;
    U16 TransportSpecific;
    U8 LogPageVersion;
} NVME_ERROR_LOG_ENTRY;

/** Names a raw 15-bit status (phase removed); may be NULL. */
typedef LPCSTR (*NVME_STATUS_NAMER)(U16 Status);

void NVMeErrorEntryDecode(const U8* Entry, NVME_ERROR_LOG_ENTRY* Decoded);
/**
 * nvme error-log for EntryCount entries of Page: the header, then every
 * entry whose error_count is not 0 (empty entries are skipped); when all are
 * empty, one line says so. Returns the number of entries printed.
 */
U32 NVMeErrorLogPrint(const U8* Page, U32 EntryCount, LPCSTR DeviceName, NVME_STATUS_NAMER StatusName,
                      NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Firmware Slot Information (log 03h)

void NVMeFirmwareLogPrint(const U8* Page, LPCSTR DeviceName, NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Helpers shared by the printers

/** printf into a line buffer, then Output. */
void NVMeFormatLine(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
/** nvme-cli's "%#x": "0" for zero, "0x1f" otherwise. */
void NVMeFormatHex(U64 Value, LPSTR Buffer, SIZE Size);

#endif  // STORAGE_NVME_LOGFORMAT_H_INCLUDED

/*
 * NVMe-LogFormat.h - NVMe log pages printed the way nvme-cli shows them
 * (smart-log, error-log, fw-log), from the structures NVMe-Spec.c decodes.
 *
 * Pure code: decoded values in, text lines out through a callback, one call
 * per line without the '\n'. Nothing here touches hardware or allocates, so
 * the shell (`nvme smart`, `nvme error-log`), the data view and the host
 * unit test (tests/unit/Test-NVMeLogFormat.c) all run the same code.
 * Registers and features are printed by NVMe-RegisterFormat.h.
 *
 * 128-bit SMART counters are printed in exact decimal, whatever their size.
 * Output differences from nvme-cli, on purpose: the temperature is ASCII
 * ("50 C (323 Kelvin)", nvme-cli 1.x's form: the same bytes go to a UTF-8
 * serial terminal and a code page 437 VGA screen, so a degree sign cannot
 * be right on both), counters have no thousands separators (nvme-cli's
 * output in the C locale), and a set critical warning bit is spelled out
 * under the field even without -H.
 */

#ifndef STORAGE_NVME_LOGFORMAT_H_INCLUDED
#define STORAGE_NVME_LOGFORMAT_H_INCLUDED

#include "Base.h"
#include "storage/nvme/NVMe-Spec.h"

/************************************************************************/
// Output

/** Receives one line of text, without the line end. */
typedef void (*NVME_LINE_OUTPUT)(LPVOID Context, LPCSTR Line);

/** Lines longer than this are cut. */
#define NVME_FORMAT_LINE_LENGTH 160

/************************************************************************/
// 128-bit counters

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

/** "50 C (323 Kelvin)"; kelvin 0 gives "-273 C (0 Kelvin)". */
void NVMeFormatTemperature(U32 Kelvin, LPSTR Buffer, SIZE Size);
/** nvme smart-log: a header line, then one "name : value" line per field. */
void NVMeSmartPrint(const NVME_SMART_LOG* Log, LPCSTR DeviceName, U32 Nsid, NVME_LINE_OUTPUT Output,
                    LPVOID Context);

/************************************************************************/
// Error Information (log 01h)

/**
 * nvme error-log for EntryCount entries of Page (as read, 64 bytes each): the header, then every entry whose
 * error_count is not 0 (empty entries are skipped), its status named; when all are empty, one line says so.
 * Returns the number of entries printed.
 */
U32 NVMeErrorLogPrint(const U8* Page, U32 EntryCount, LPCSTR DeviceName, NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Firmware Slot Information (log 03h)

void NVMeFirmwareLogPrint(const NVME_FIRMWARE_LOG* Log, LPCSTR DeviceName, NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Helpers shared by the printers

/** printf into a line buffer, then Output. */
void NVMeFormatLine(NVME_LINE_OUTPUT Output, LPVOID Context, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
/** nvme-cli's "%#x": "0" for zero, "0x1f" otherwise. */
void NVMeFormatHex(U64 Value, LPSTR Buffer, SIZE Size);

#endif  // STORAGE_NVME_LOGFORMAT_H_INCLUDED

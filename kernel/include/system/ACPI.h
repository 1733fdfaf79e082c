/*
 * ACPI.h - the kernel's view of the ACPI tables, power off and reset.
 *
 * ACPIInit finds the RSDP (multiboot2 tags first, then the EBDA and the
 * BIOS area 0xE0000-0xFFFFF), walks the XSDT (or RSDT), and keeps copies of
 * the MADT, MCFG, FADT and the \_S5 sleep type from the DSDT. A missing or
 * malformed table gives one warning line and the getter returns NULL, so
 * callers fall back (default IOAPIC address, port-based PCI access, the
 * keyboard-controller reset).
 */

#ifndef SYSTEM_ACPI_H_INCLUDED
#define SYSTEM_ACPI_H_INCLUDED

#include "Base.h"
#include "system/ACPITables.h"

#define ACPI_MAX_TABLES 64

typedef struct tag_ACPI_TABLE_ENTRY {
    char Signature[5];
    PHYSICAL Address;
    U32 Length;
    U8 Revision;
    BOOL ChecksumValid;
} ACPI_TABLE_ENTRY;

BOOL ACPIInit(void);
BOOL ACPIIsAvailable(void);
const ACPI_RSDP_INFO* ACPIGetRSDP(void);
const ACPI_MADT_INFO* ACPIGetMADT(void);
const ACPI_MCFG_INFO* ACPIGetMCFG(void);
const ACPI_FADT_INFO* ACPIGetFADT(void);
/** The tables the root table lists (for the `acpi` command). */
U32 ACPIGetTableList(const ACPI_TABLE_ENTRY** Tables);
/** Sleep type for S5 from \_S5; FALSE if the DSDT had none. */
BOOL ACPIGetS5(U8* SleepTypeA, U8* SleepTypeB);

/** Enters S5. Returns FALSE if the machine is still running afterwards. */
BOOL ACPIPowerOff(void);
/** Writes the FADT reset register. Returns FALSE if the machine is still running afterwards. */
BOOL ACPIReset(void);

/** Copies Size bytes of physical memory (through the direct map, or a temporary uncached mapping). */
BOOL ACPIReadPhysical(PHYSICAL Address, LPVOID Buffer, U32 Size);

#endif  // SYSTEM_ACPI_H_INCLUDED

/*
 * ACPITables.h - parsers for the ACPI tables Cairn uses.
 *
 * Pure functions over table bytes the caller has copied into memory: they
 * check lengths and checksums and never read past the length they are given,
 * so a malformed table gives an error, never a fault (the host unit tests
 * feed them corrupt tables). Layouts: ACPI 6.5 specification, sections 5.2.5
 * (RSDP), 5.2.7/5.2.8 (RSDT/XSDT), 5.2.9 (FADT), 5.2.12 (MADT), PCI Firmware
 * specification 3.3 section 4.1.2 (MCFG), and ACPI 7.4.2 for \_S5.
 */

#ifndef SYSTEM_ACPITABLES_H_INCLUDED
#define SYSTEM_ACPITABLES_H_INCLUDED

#include "Base.h"

#define ACPI_HEADER_SIZE 36
#define ACPI_MAX_LAPICS 64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 16
#define ACPI_MAX_MCFG_SEGMENTS 8

typedef struct tag_ACPI_TABLE_HEADER {
    char Signature[4];
    U32 Length;
    U8 Revision;
    U8 Checksum;
    char OemId[6];
    char OemTableId[8];
    U32 OemRevision;
    U32 CreatorId;
    U32 CreatorRevision;
} PACKED ACPI_TABLE_HEADER;

/** A Generic Address Structure (ACPI 5.2.3.2). */
typedef struct tag_ACPI_ADDRESS {
    U8 AddressSpace;  // 0 memory, 1 I/O port, 2 PCI config
    U8 BitWidth;
    U8 BitOffset;
    U8 AccessSize;
    U64 Address;
} ACPI_ADDRESS;

#define ACPI_SPACE_MEMORY 0
#define ACPI_SPACE_IO 1
#define ACPI_SPACE_PCI_CONFIG 2

typedef struct tag_ACPI_RSDP_INFO {
    U8 Revision;
    char OemId[7];
    PHYSICAL Rsdt;
    PHYSICAL Xsdt;  // 0 for ACPI 1.0
} ACPI_RSDP_INFO;

typedef struct tag_ACPI_LAPIC_ENTRY {
    U32 ProcessorUid;
    U32 ApicId;
    BOOL Enabled;
    BOOL OnlineCapable;
} ACPI_LAPIC_ENTRY;

typedef struct tag_ACPI_IOAPIC_ENTRY {
    U8 Id;
    PHYSICAL Address;
    U32 GsiBase;
} ACPI_IOAPIC_ENTRY;

typedef struct tag_ACPI_OVERRIDE_ENTRY {
    U8 Bus;
    U8 SourceIrq;
    U32 Gsi;
    U16 Flags;  // MPS INTI flags: bits 0-1 polarity, 2-3 trigger mode
} ACPI_OVERRIDE_ENTRY;

typedef struct tag_ACPI_MADT_INFO {
    U8 Revision;  // the Online Capable flag exists from revision 5 (ACPI 6.3)
    PHYSICAL LocalApicAddress;
    BOOL HasLegacyPICs;
    U32 LapicCount;
    ACPI_LAPIC_ENTRY Lapics[ACPI_MAX_LAPICS];
    U32 IoApicCount;
    ACPI_IOAPIC_ENTRY IoApics[ACPI_MAX_IOAPICS];
    U32 OverrideCount;
    ACPI_OVERRIDE_ENTRY Overrides[ACPI_MAX_OVERRIDES];
    U32 SkippedEntries;  // entries beyond the fixed tables or unknown
} ACPI_MADT_INFO;

/** What bring-up does with one MADT processor entry (ACPIListProcessors). */
typedef enum {
    ACPI_PROCESSOR_START = 0,    // Enabled: started at boot
    ACPI_PROCESSOR_BOOT,         // the CPU running the kernel
    ACPI_PROCESSOR_HOTPLUG,      // not Enabled but Online Capable (MADT revision >= 5): could come later
    ACPI_PROCESSOR_DISABLED,     // neither: not usable
    ACPI_PROCESSOR_DUPLICATE,    // an APIC ID already listed
    ACPI_PROCESSOR_UNREACHABLE,  // APIC ID above 254: needs x2APIC, which Cairn does not drive
} ACPI_PROCESSOR_KIND;

typedef struct tag_ACPI_PROCESSOR {
    U32 ApicId;
    U32 ProcessorUid;
    ACPI_PROCESSOR_KIND Kind;
} ACPI_PROCESSOR;

typedef struct tag_ACPI_MCFG_SEGMENT {
    PHYSICAL Base;  // ECAM base for bus 0 of the segment (even if StartBus > 0)
    U16 Segment;
    U8 StartBus;
    U8 EndBus;
} ACPI_MCFG_SEGMENT;

typedef struct tag_ACPI_MCFG_INFO {
    U32 SegmentCount;
    ACPI_MCFG_SEGMENT Segments[ACPI_MAX_MCFG_SEGMENTS];
} ACPI_MCFG_INFO;

typedef struct tag_ACPI_FADT_INFO {
    U8 Revision;
    PHYSICAL Dsdt;
    U16 SciInterrupt;
    U32 SmiCommandPort;
    U8 AcpiEnableValue;
    U8 AcpiDisableValue;
    ACPI_ADDRESS Pm1aControl;
    ACPI_ADDRESS Pm1bControl;
    ACPI_ADDRESS Pm1aEvent;
    ACPI_ADDRESS Pm1bEvent;
    U8 Pm1EventLength;
    U8 Pm1ControlLength;
    U16 BootArchitectureFlags;  // IA-PC: bit 0 legacy devices, bit 1 8042
    U32 Flags;
    BOOL ResetSupported;
    ACPI_ADDRESS ResetRegister;
    U8 ResetValue;
    BOOL HardwareReduced;
} ACPI_FADT_INFO;

#define ACPI_FADT_FLAG_RESET_REG_SUP (1U << 10)
#define ACPI_FADT_FLAG_HW_REDUCED (1U << 20)

/** Sums Length bytes; a valid table sums to 0. */
BOOL ACPIChecksumValid(const U8* Bytes, U32 Length);
/** Checks a table's header: signature, length within Available, checksum. */
BOOL ACPIValidateTable(const U8* Bytes, U32 Available, LPCSTR Signature);
BOOL ACPIParseRSDP(const U8* Bytes, U32 Length, ACPI_RSDP_INFO* Info);
/** Lists the table addresses of an RSDT (4-byte entries) or XSDT (8-byte entries); returns the count. */
U32 ACPIParseRootTable(const U8* Bytes, U32 Length, BOOL IsXsdt, PHYSICAL* Entries, U32 MaxEntries);
BOOL ACPIParseMADT(const U8* Bytes, U32 Length, ACPI_MADT_INFO* Info);
/**
 * Classifies the MADT's processor entries (type 0 and 9) for bring-up, in
 * table order: the boot CPU, the Enabled ones to start, the rest with why
 * not (Linux acpi_is_processor_usable: Online Capable counts only from MADT
 * revision 5). APIC IDs are taken from the entries, holes and all. Returns
 * the number written to List (at most Max).
 */
U32 ACPIListProcessors(const ACPI_MADT_INFO* Info, U32 BootApicId, ACPI_PROCESSOR* List, U32 Max);
/** A word for the kind ("start", "boot", "hotplug", "disabled", "duplicate", "x2apic"). */
LPCSTR ACPIProcessorKindName(ACPI_PROCESSOR_KIND Kind);
BOOL ACPIParseMCFG(const U8* Bytes, U32 Length, ACPI_MCFG_INFO* Info);
BOOL ACPIParseFADT(const U8* Bytes, U32 Length, ACPI_FADT_INFO* Info);
/** Finds the \_S5 package in DSDT/SSDT AML and returns SLP_TYPa/b. */
BOOL ACPIFindS5(const U8* Bytes, U32 Length, U8* SleepTypeA, U8* SleepTypeB);

#endif  // SYSTEM_ACPITABLES_H_INCLUDED

/*
 * APIC.h - the local APIC, the IOAPIC and the legacy PIC.
 *
 * The legacy 8259 PICs are remapped to vectors 32-47 and fully masked. The
 * local APIC is used in xAPIC mode through its MMIO page (32-bit accesses
 * only). Without ACPI MADT parsing yet, the IOAPIC is taken at its
 * architectural default address 0xFEC00000 and ISA IRQs map 1:1 to GSIs;
 * ACPI (a later issue) will supply the real address and overrides through
 * IOAPICSetBase()/IOAPICSetIsaOverride(), called before IOAPICInit().
 *
 * Only one IOAPIC is driven for now (GSIs GsiBase .. GsiBase+entries-1);
 * routes to GSIs outside it fail cleanly.
 */

#ifndef ARCH_X86_64_APIC_H_INCLUDED
#define ARCH_X86_64_APIC_H_INCLUDED

#include "Base.h"

#define IOAPIC_DEFAULT_BASE 0xFEC00000ULL
#define LAPIC_DEFAULT_BASE 0xFEE00000ULL

void PICDisable(void);

BOOL LAPICInit(void);
BOOL LAPICIsEnabled(void);
U32 LAPICGetId(void);
void LAPICEndOfInterrupt(void);
/** Starts the LAPIC timer in periodic mode at Hz, firing Vector; calibrated against the TSC clock. */
BOOL LAPICStartTimer(U32 Hz, U8 Vector);
void LAPICStopTimer(void);
/** The LAPIC timer input frequency after the divider, in Hz (0 before LAPICStartTimer). */
U64 LAPICGetTimerFrequency(void);

/** Overrides the IOAPIC address and its first GSI (from the ACPI MADT); call before IOAPICInit. */
void IOAPICSetBase(PHYSICAL Address, U32 GsiBase);
/** Records an ACPI interrupt source override for an ISA IRQ; call before routing that IRQ. */
BOOL IOAPICSetIsaOverride(U8 IsaIrq, U32 Gsi, BOOL LevelTriggered, BOOL ActiveLow);

BOOL IOAPICInit(void);
BOOL IOAPICIsPresent(void);
/** Routes a GSI to Vector on the CPU with LapicId and unmasks it; edge/high for ISA defaults. */
BOOL IOAPICRoute(U32 Gsi, U8 Vector, U32 LapicId, BOOL LevelTriggered, BOOL ActiveLow);
void IOAPICMask(U32 Gsi, BOOL Masked);
/** Maps an ISA IRQ to its GSI (identity unless an override was set). */
U32 IOAPICIsaToGsi(U8 IsaIrq, BOOL* LevelTriggered, BOOL* ActiveLow);
/** Number of redirection entries (0 before IOAPICInit or without an IOAPIC). */
U32 IOAPICGetEntryCount(void);

#endif  // ARCH_X86_64_APIC_H_INCLUDED

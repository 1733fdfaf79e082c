/*
 * APIC.h - the local APIC, the IOAPIC and the legacy PIC.
 *
 * The legacy 8259 PICs are remapped to vectors 32-47 and fully masked. The
 * local APIC is used in xAPIC mode through its MMIO page (32-bit accesses
 * only). Without ACPI MADT parsing yet, the IOAPIC is taken at its
 * architectural default address 0xFEC00000 and ISA IRQs map 1:1 to GSIs;
 * ACPI (a later issue) will supply the real address and overrides through
 * IOAPICSetBase()/IOAPICSetIsaOverride().
 */

#ifndef ARCH_X86_64_APIC_H_INCLUDED
#define ARCH_X86_64_APIC_H_INCLUDED

#include "Base.h"

void PICDisable(void);

BOOL LAPICInit(void);
U32 LAPICGetId(void);
void LAPICEndOfInterrupt(void);
/** Starts the LAPIC timer in periodic mode at Hz, firing Vector; calibrated against the TSC clock. */
BOOL LAPICStartTimer(U32 Hz, U8 Vector);

BOOL IOAPICInit(void);
/** Routes a GSI to Vector on the CPU with LapicId; edge/high for ISA defaults. */
BOOL IOAPICRoute(U32 Gsi, U8 Vector, U32 LapicId, BOOL LevelTriggered, BOOL ActiveLow);
void IOAPICMask(U32 Gsi, BOOL Masked);
/** Maps an ISA IRQ to its GSI (identity unless an override was set). */
U32 IOAPICIsaToGsi(U8 IsaIrq, BOOL* LevelTriggered, BOOL* ActiveLow);

#endif  // ARCH_X86_64_APIC_H_INCLUDED

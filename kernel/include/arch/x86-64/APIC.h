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
 *
 * Several CPUs: every CPU sees its own local APIC at the same physical (and
 * so the same linear) address. LAPICInit maps it and sets up the boot CPU;
 * each application processor runs LAPICInitCPU on itself. The timer is
 * calibrated once (LAPICStartTimer on the boot CPU); the others reuse that
 * rate (LAPICStartTimerCalibrated), as Linux does. Inter-processor
 * interrupts go through the interrupt command register (ICR, xAPIC MMIO:
 * QEMU's TCG has no x2APIC).
 */

#ifndef ARCH_X86_64_APIC_H_INCLUDED
#define ARCH_X86_64_APIC_H_INCLUDED

#include "Base.h"

#define IOAPIC_DEFAULT_BASE 0xFEC00000ULL
#define LAPIC_DEFAULT_BASE 0xFEE00000ULL

void PICDisable(void);

/** Maps the local APIC and sets up the boot CPU's (call once, after MemoryInit). */
BOOL LAPICInit(void);
/** Sets up the calling application processor's own local APIC (after LAPICInit on the boot CPU). */
BOOL LAPICInitCPU(void);
BOOL LAPICIsEnabled(void);
U32 LAPICGetId(void);
void LAPICEndOfInterrupt(void);
/** Starts the LAPIC timer in periodic mode at Hz, firing Vector; calibrated against the TSC clock. */
BOOL LAPICStartTimer(U32 Hz, U8 Vector);
/** Starts this CPU's timer at Hz with the rate LAPICStartTimer measured (application processors). */
BOOL LAPICStartTimerCalibrated(U32 Hz, U8 Vector);
void LAPICStopTimer(void);
/** The LAPIC timer input frequency after the divider, in Hz (0 before LAPICStartTimer). */
U64 LAPICGetTimerFrequency(void);

/************************************************************************/
// Inter-processor interrupts (Intel SDM vol. 3A 11.6, "Issuing Interprocessor Interrupts")

/** Fixed interrupt Vector to the CPU with ApicId. FALSE if the ICR stayed busy (bounded wait). */
BOOL LAPICSendIPI(U32 ApicId, U8 Vector);
/** A non-maskable interrupt to ApicId (reaches a CPU spinning with interrupts off). */
BOOL LAPICSendNMI(U32 ApicId);
/** INIT, level assert then de-assert: the target resets and waits for a STARTUP IPI. */
BOOL LAPICSendInit(U32 ApicId);
/** STARTUP IPI: the target starts in real mode at Page (4 KiB aligned, below 1 MiB). */
BOOL LAPICSendStartup(U32 ApicId, PHYSICAL Page);
/** Reads and clears the error status register (send errors after an IPI). */
U32 LAPICReadError(void);
/** Error interrupts taken (all CPUs). */
U64 LAPICGetErrorCount(void);

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

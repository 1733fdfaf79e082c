/*
 * APIC.c - the legacy 8259 PICs, the local APIC and the IOAPIC.
 *
 * PIC: remapped to vectors 32-47 (so a stray or spurious 8259 interrupt can
 * never look like a CPU exception) and fully masked; Cairn uses the APICs.
 *
 * LAPIC: xAPIC mode through its 4 KiB MMIO page, mapped with MapIOMemory()
 * after MemoryInit(). Registers are 32 bits wide and accessed with plain
 * 32-bit volatile moves only (Intel SDM vol. 3A 11.4.1: other widths are
 * undefined). LAPICInit() enables it through the spurious vector register,
 * sets the task priority to 0, wires LINT1 as NMI, masks LINT0 (the PIC is
 * off) and sends APIC errors to INTERRUPT_VECTOR_APIC_ERROR. The timer is
 * calibrated against the TSC clock (ClockInit() must have run).
 *
 * IOAPIC: one IOAPIC, at IOAPIC_DEFAULT_BASE unless IOAPICSetBase() said
 * otherwise, covering GSIs GsiBase .. GsiBase + entries - 1. Every entry is
 * masked at init; IOAPICRoute() programs and unmasks one. Register access
 * is an index/data pair (Intel 82093AA datasheet 3.0), so it takes a lock.
 */

#include "arch/x86-64/APIC.h"

#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Log.h"
#include "core/Spinlock.h"
#include "memory/Paging.h"
#include "system/Clock.h"

/************************************************************************/
// 8259 PIC (ports and ICW sequence from the Intel 8259A datasheet)

#define PIC1_COMMAND 0x20
#define PIC1_DATA 0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA 0xA1
#define PIC_ICW1_INIT 0x11  // edge triggered, cascade, ICW4 follows
#define PIC_ICW4_8086 0x01

void PICDisable(void) {
    OutPortByte(PIC1_COMMAND, PIC_ICW1_INIT);
    IOWait();
    OutPortByte(PIC2_COMMAND, PIC_ICW1_INIT);
    IOWait();
    OutPortByte(PIC1_DATA, INTERRUPT_FIRST_PIC_VECTOR);      // ICW2: master base vector
    IOWait();
    OutPortByte(PIC2_DATA, INTERRUPT_FIRST_PIC_VECTOR + 8);  // ICW2: slave base vector
    IOWait();
    OutPortByte(PIC1_DATA, 0x04);  // ICW3: slave on IRQ 2
    IOWait();
    OutPortByte(PIC2_DATA, 0x02);  // ICW3: slave identity 2
    IOWait();
    OutPortByte(PIC1_DATA, PIC_ICW4_8086);
    IOWait();
    OutPortByte(PIC2_DATA, PIC_ICW4_8086);
    IOWait();
    OutPortByte(PIC1_DATA, 0xFF);  // mask everything
    OutPortByte(PIC2_DATA, 0xFF);
}

/************************************************************************/
// Local APIC (register offsets: Intel SDM vol. 3A 11.4.1, "Local APIC Register Address Map")

#define LAPIC_REGISTER_ID 0x020
#define LAPIC_REGISTER_VERSION 0x030
#define LAPIC_REGISTER_TPR 0x080
#define LAPIC_REGISTER_EOI 0x0B0
#define LAPIC_REGISTER_SVR 0x0F0
#define LAPIC_REGISTER_ESR 0x280
#define LAPIC_REGISTER_LVT_TIMER 0x320
#define LAPIC_REGISTER_LVT_THERMAL 0x330
#define LAPIC_REGISTER_LVT_PERFORMANCE 0x340
#define LAPIC_REGISTER_LVT_LINT0 0x350
#define LAPIC_REGISTER_LVT_LINT1 0x360
#define LAPIC_REGISTER_LVT_ERROR 0x370
#define LAPIC_REGISTER_TIMER_INITIAL 0x380
#define LAPIC_REGISTER_TIMER_CURRENT 0x390
#define LAPIC_REGISTER_TIMER_DIVIDE 0x3E0

#define LAPIC_SVR_ENABLE 0x100
#define LAPIC_LVT_MASKED 0x10000
#define LAPIC_LVT_DELIVERY_NMI 0x400
#define LAPIC_LVT_TIMER_PERIODIC 0x20000
#define LAPIC_TIMER_DIVIDE_16 0x3

#define APIC_BASE_MSR_X2APIC 0x400   // IA32_APIC_BASE bit 10: x2APIC mode
#define APIC_BASE_MSR_ENABLE 0x800   // bit 11: APIC global enable
#define APIC_BASE_ADDRESS_MASK 0x000FFFFFFFFFF000ULL
#define CPUID_1_EDX_APIC (1U << 9)

#define LAPIC_CALIBRATION_US 10000
#define LAPIC_CALIBRATION_RUNS 3

static volatile U32* LAPICRegisters;  // NULL until LAPICInit maps the page; the same on every CPU
static PHYSICAL LAPICPhysical;
static U64 LAPICTimerFrequency;
static U64 LAPICErrorCount;

static U32 LAPICRead(U32 Register) { return LAPICRegisters[Register / 4]; }
static void LAPICWrite(U32 Register, U32 Value) { LAPICRegisters[Register / 4] = Value; }

BOOL LAPICIsEnabled(void) { return LAPICRegisters != NULL; }

U32 LAPICGetId(void) {
    if (LAPICRegisters) return LAPICRead(LAPIC_REGISTER_ID) >> 24;
    U32 A, B, C, D;
    CPUID(1, 0, &A, &B, &C, &D);
    return B >> 24;  // initial APIC ID
}

void LAPICEndOfInterrupt(void) {
    if (LAPICRegisters) LAPICWrite(LAPIC_REGISTER_EOI, 0);
}

U32 LAPICReadError(void) {
    if (!LAPICRegisters) return 0;
    LAPICWrite(LAPIC_REGISTER_ESR, 0);  // latches the errors into ESR (SDM 11.5.3)
    return LAPICRead(LAPIC_REGISTER_ESR);
}

U64 LAPICGetErrorCount(void) { return __atomic_load_n(&LAPICErrorCount, __ATOMIC_RELAXED); }

static BOOL LAPICErrorInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    U32 Status = LAPICReadError();
    U64 Count = __atomic_add_fetch(&LAPICErrorCount, 1, __ATOMIC_RELAXED);
    if (IS_POWER_OF_TWO(Count)) {
        WARNING("[LAPICErrorInterrupt] APIC %u error status %x (%llu errors so far)", LAPICGetId(), Status, Count);
    }
    return TRUE;
}

/** The IA32_APIC_BASE MSR in xAPIC mode and enabled; returns the register page's physical address. */
static PHYSICAL LAPICEnableXApic(void) {
    U64 Base = ReadMSR(MSR_APIC_BASE);
    if (Base & APIC_BASE_MSR_X2APIC) {
        // The firmware left x2APIC mode on; going back to xAPIC must pass through "disabled" (SDM 11.12.5).
        Base &= ~(U64)(APIC_BASE_MSR_X2APIC | APIC_BASE_MSR_ENABLE);
        WriteMSR(MSR_APIC_BASE, Base);
    }
    if ((Base & APIC_BASE_MSR_ENABLE) == 0) {
        Base |= APIC_BASE_MSR_ENABLE;
        WriteMSR(MSR_APIC_BASE, Base);
    }
    return Base & APIC_BASE_ADDRESS_MASK;
}

/** Quiets every local source, wires LINT1 as NMI and errors to their vector, then enables this CPU's LAPIC. */
static void LAPICSetupLocal(void) {
    U32 MaxLvt = (LAPICRead(LAPIC_REGISTER_VERSION) >> 16) & 0xFF;
    LAPICWrite(LAPIC_REGISTER_LVT_TIMER, LAPIC_LVT_MASKED);
    LAPICWrite(LAPIC_REGISTER_TIMER_INITIAL, 0);
    if (MaxLvt >= 4) LAPICWrite(LAPIC_REGISTER_LVT_PERFORMANCE, LAPIC_LVT_MASKED);
    if (MaxLvt >= 5) LAPICWrite(LAPIC_REGISTER_LVT_THERMAL, LAPIC_LVT_MASKED);
    LAPICWrite(LAPIC_REGISTER_LVT_LINT0, LAPIC_LVT_MASKED);
    LAPICWrite(LAPIC_REGISTER_LVT_LINT1, LAPIC_LVT_DELIVERY_NMI);

    LAPICWrite(LAPIC_REGISTER_LVT_ERROR, INTERRUPT_VECTOR_APIC_ERROR);
    LAPICWrite(LAPIC_REGISTER_ESR, 0);
    LAPICWrite(LAPIC_REGISTER_ESR, 0);  // back-to-back writes clear it (SDM 11.5.3)

    LAPICWrite(LAPIC_REGISTER_TPR, 0);
    LAPICWrite(LAPIC_REGISTER_SVR, LAPIC_SVR_ENABLE | INTERRUPT_VECTOR_SPURIOUS);
    LAPICWrite(LAPIC_REGISTER_EOI, 0);  // drop anything left in service by the firmware
}

BOOL LAPICInit(void) {
    U32 A, B, C, D;
    CPUID(1, 0, &A, &B, &C, &D);
    if ((D & CPUID_1_EDX_APIC) == 0) {
        ERROR("[LAPICInit] the CPU has no local APIC");
        return FALSE;
    }

    PHYSICAL Physical = LAPICEnableXApic();
    LINEAR Linear = MapIOMemory(Physical, PAGE_SIZE);
    if (Linear == 0) {
        ERROR("[LAPICInit] cannot map the local APIC at %llx", Physical);
        return FALSE;
    }
    LAPICRegisters = (volatile U32*)Linear;

    U32 Version = LAPICRead(LAPIC_REGISTER_VERSION);
    U32 MaxLvt = (Version >> 16) & 0xFF;
    if (Version == 0xFFFFFFFF || (Version & 0xFF) < 0x10) {
        ERROR("[LAPICInit] no integrated local APIC at %llx (version register %x)", Physical, Version);
        LAPICRegisters = NULL;
        return FALSE;
    }
    LAPICPhysical = Physical;

    // One handler for the error vector serves every CPU.
    if (!DeviceInterruptRegister(INTERRUPT_VECTOR_APIC_ERROR, LAPICErrorInterrupt, NULL)) {
        WARNING("[LAPICInit] cannot register the APIC error handler");
    }
    LAPICSetupLocal();

    INFO("[LAPICInit] local APIC %u at %llx, version %x, %u LVT entries", LAPICGetId(), Physical, Version & 0xFF,
         MaxLvt + 1);
    return TRUE;
}

BOOL LAPICInitCPU(void) {
    if (!LAPICRegisters) return FALSE;
    PHYSICAL Physical = LAPICEnableXApic();
    if (Physical != LAPICPhysical) {
        // Our one mapping would reach another CPU's page (or nothing): refuse rather than misprogram.
        ERROR("[LAPICInitCPU] this CPU's local APIC is at %llx, the boot CPU's at %llx", Physical, LAPICPhysical);
        return FALSE;
    }
    LAPICSetupLocal();
    return TRUE;
}

/*
 * Counts LAPIC timer ticks (divide by 16, one-shot, masked) over about
 * LAPIC_CALIBRATION_US measured on the TSC; returns the timer Hz, 0 if the
 * count ran out or the clock is not calibrated.
 */
static U64 LAPICMeasureTimer(void) {
    LAPICWrite(LAPIC_REGISTER_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
    LAPICWrite(LAPIC_REGISTER_LVT_TIMER, LAPIC_LVT_MASKED);
    U64 Start = ReadTSC();
    LAPICWrite(LAPIC_REGISTER_TIMER_INITIAL, MAX_U32);
    ClockDelayUs(LAPIC_CALIBRATION_US);
    U32 Current = LAPICRead(LAPIC_REGISTER_TIMER_CURRENT);
    U64 End = ReadTSC();
    LAPICWrite(LAPIC_REGISTER_TIMER_INITIAL, 0);

    U64 Ns = ClockTicksToNs(End - Start);
    if (Ns == 0 || Current == 0) return 0;
    U64 Elapsed = (U64)(MAX_U32 - Current);  // < 2^32, so Elapsed * 1e9 fits in 64 bits
    return Elapsed * CLOCK_NS_PER_SECOND / Ns;
}

/** Programs this CPU's timer: periodic, Vector, Hz from Frequency (the rate after divide by 16). */
static BOOL LAPICProgramTimer(U64 Frequency, U32 Hz, U8 Vector) {
    U64 Initial = (Frequency + Hz / 2) / Hz;
    if (Frequency == 0 || Initial == 0 || Initial > MAX_U32) return FALSE;
    LAPICWrite(LAPIC_REGISTER_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_16);
    LAPICWrite(LAPIC_REGISTER_LVT_TIMER, LAPIC_LVT_TIMER_PERIODIC | Vector);
    LAPICWrite(LAPIC_REGISTER_TIMER_INITIAL, (U32)Initial);
    return TRUE;
}

BOOL LAPICStartTimer(U32 Hz, U8 Vector) {
    if (!LAPICRegisters || Hz == 0 || Vector < INTERRUPT_EXCEPTION_COUNT) {
        ERROR("[LAPICStartTimer] bad request (Hz %u, vector %u) or no LAPIC", Hz, Vector);
        return FALSE;
    }
    if (ClockGetTSCFrequency() == 0) {
        ERROR("[LAPICStartTimer] the TSC clock is not calibrated");
        return FALSE;
    }

    // Median of a few runs: one run delayed by an SMI or a host hiccup does not skew it.
    U64 Runs[LAPIC_CALIBRATION_RUNS];
    for (U32 Index = 0; Index < LAPIC_CALIBRATION_RUNS; Index++) Runs[Index] = LAPICMeasureTimer();
    for (U32 I = 1; I < LAPIC_CALIBRATION_RUNS; I++) {
        for (U32 J = I; J > 0 && Runs[J - 1] > Runs[J]; J--) {
            U64 Swap = Runs[J];
            Runs[J] = Runs[J - 1];
            Runs[J - 1] = Swap;
        }
    }
    U64 Frequency = Runs[LAPIC_CALIBRATION_RUNS / 2];
    if (!LAPICProgramTimer(Frequency, Hz, Vector)) {
        ERROR("[LAPICStartTimer] calibration failed (timer %llu Hz)", Frequency);
        return FALSE;
    }
    LAPICTimerFrequency = Frequency;
    INFO("[LAPICStartTimer] timer %llu Hz (divide by 16), %u Hz on vector %u, initial count %llu", Frequency, Hz,
         Vector, (Frequency + Hz / 2) / Hz);
    return TRUE;
}

BOOL LAPICStartTimerCalibrated(U32 Hz, U8 Vector) {
    if (!LAPICRegisters || Hz == 0 || Vector < INTERRUPT_EXCEPTION_COUNT) return FALSE;
    return LAPICProgramTimer(LAPICTimerFrequency, Hz, Vector);
}

void LAPICStopTimer(void) {
    if (!LAPICRegisters) return;
    LAPICWrite(LAPIC_REGISTER_LVT_TIMER, LAPIC_LVT_MASKED);
    LAPICWrite(LAPIC_REGISTER_TIMER_INITIAL, 0);
}

U64 LAPICGetTimerFrequency(void) { return LAPICTimerFrequency; }

/************************************************************************/
// Inter-processor interrupts (ICR layout: Intel SDM vol. 3A 11.6.1, "Interrupt Command Register")

#define LAPIC_REGISTER_ICR_LOW 0x300
#define LAPIC_REGISTER_ICR_HIGH 0x310
#define LAPIC_ICR_DELIVERY_FIXED 0x000
#define LAPIC_ICR_DELIVERY_NMI 0x400
#define LAPIC_ICR_DELIVERY_INIT 0x500
#define LAPIC_ICR_DELIVERY_STARTUP 0x600
#define LAPIC_ICR_SEND_PENDING 0x1000  // delivery status
#define LAPIC_ICR_LEVEL_ASSERT 0x4000
#define LAPIC_ICR_TRIGGER_LEVEL 0x8000
#define LAPIC_ICR_IDLE_WAIT_US 1000

/** Waits (bounded) for the previous IPI to leave; FALSE if it never did. */
static BOOL LAPICWaitIcrIdle(void) {
    if ((LAPICRead(LAPIC_REGISTER_ICR_LOW) & LAPIC_ICR_SEND_PENDING) == 0) return TRUE;
    U64 Start = GetSystemTimeNs();
    while (LAPICRead(LAPIC_REGISTER_ICR_LOW) & LAPIC_ICR_SEND_PENDING) {
        if (GetSystemTimeNs() - Start > LAPIC_ICR_IDLE_WAIT_US * 1000ULL) return FALSE;
        CPUPause();
    }
    return TRUE;
}

/*
 * Writes the destination, then the command (the write to the low half sends,
 * SDM 11.6.1). Interrupts are off in between so a handler on this CPU cannot
 * slip its own IPI between the two halves. Earlier stores (a published TLB
 * request, a queued thread) are ordered before the send by the uncached MMIO
 * write itself; the compiler barrier keeps the compiler from sinking them.
 */
static BOOL LAPICSendCommand(U32 ApicId, U32 Command) {
    if (!LAPICRegisters || ApicId > 0xFE) return FALSE;
    U64 Flags = SaveAndDisableInterrupts();
    CompilerBarrier();
    BOOL Idle = LAPICWaitIcrIdle();
    if (Idle) {
        LAPICWrite(LAPIC_REGISTER_ICR_HIGH, ApicId << 24);
        LAPICWrite(LAPIC_REGISTER_ICR_LOW, Command);
    }
    RestoreInterrupts(Flags);
    return Idle;
}

BOOL LAPICSendIPI(U32 ApicId, U8 Vector) {
    if (Vector < INTERRUPT_EXCEPTION_COUNT) return FALSE;
    return LAPICSendCommand(ApicId, LAPIC_ICR_DELIVERY_FIXED | Vector);
}

BOOL LAPICSendNMI(U32 ApicId) { return LAPICSendCommand(ApicId, LAPIC_ICR_DELIVERY_NMI); }

BOOL LAPICSendInit(U32 ApicId) {
    // Assert, then de-assert (Linux `wakeup_secondary_cpu_via_init`; on QEMU the de-assert only
    // resynchronises arbitration IDs).
    BOOL Sent = LAPICSendCommand(ApicId, LAPIC_ICR_DELIVERY_INIT | LAPIC_ICR_TRIGGER_LEVEL | LAPIC_ICR_LEVEL_ASSERT);
    Sent = Sent && LAPICWaitIcrIdle();
    Sent = Sent && LAPICSendCommand(ApicId, LAPIC_ICR_DELIVERY_INIT | LAPIC_ICR_TRIGGER_LEVEL);
    return Sent && LAPICWaitIcrIdle();
}

BOOL LAPICSendStartup(U32 ApicId, PHYSICAL Page) {
    // The vector is the page number: the AP starts at CS:IP = VV00:0000 (MP spec B.4.2).
    if (!IS_ALIGNED(Page, PAGE_SIZE) || Page >= N_1MB || Page == 0) return FALSE;
    return LAPICSendCommand(ApicId, LAPIC_ICR_DELIVERY_STARTUP | (U32)(Page >> PAGE_SHIFT)) && LAPICWaitIcrIdle();
}

/************************************************************************/
// IOAPIC (Intel 82093AA datasheet, sections 3.0-3.2)

#define IOAPIC_REGISTER_SELECT 0x00
#define IOAPIC_REGISTER_WINDOW 0x10
#define IOAPIC_ID 0x00
#define IOAPIC_VERSION 0x01
#define IOAPIC_REDIRECTION_TABLE 0x10

#define IOAPIC_ENTRY_ACTIVE_LOW (1U << 13)
#define IOAPIC_ENTRY_LEVEL (1U << 15)
#define IOAPIC_ENTRY_MASKED (1U << 16)

#define IOAPIC_ISA_IRQ_COUNT 16

typedef struct tag_IOAPIC_ISA_ROUTE {
    BOOL Overridden;
    U32 Gsi;
    BOOL LevelTriggered;
    BOOL ActiveLow;
} IOAPIC_ISA_ROUTE;

static PHYSICAL IOAPICPhysical = IOAPIC_DEFAULT_BASE;
static U32 IOAPICGsiBase;
static volatile U32* IOAPICRegisters;  // NULL until IOAPICInit succeeds
static U32 IOAPICEntries;
static IOAPIC_ISA_ROUTE IOAPICIsaRoutes[IOAPIC_ISA_IRQ_COUNT];
static SPINLOCK IOAPICLock = SPINLOCK_INIT;

// Callers hold IOAPICLock: the select/window pair is not atomic.
static U32 IOAPICRead(U32 Register) {
    IOAPICRegisters[IOAPIC_REGISTER_SELECT / 4] = Register;
    return IOAPICRegisters[IOAPIC_REGISTER_WINDOW / 4];
}

static void IOAPICWrite(U32 Register, U32 Value) {
    IOAPICRegisters[IOAPIC_REGISTER_SELECT / 4] = Register;
    IOAPICRegisters[IOAPIC_REGISTER_WINDOW / 4] = Value;
}

void IOAPICSetBase(PHYSICAL Address, U32 GsiBase) {
    if (IOAPICRegisters) {
        WARNING("[IOAPICSetBase] the IOAPIC is already initialised; ignored");
        return;
    }
    IOAPICPhysical = Address;
    IOAPICGsiBase = GsiBase;
}

BOOL IOAPICSetIsaOverride(U8 IsaIrq, U32 Gsi, BOOL LevelTriggered, BOOL ActiveLow) {
    if (IsaIrq >= IOAPIC_ISA_IRQ_COUNT) return FALSE;
    IOAPIC_ISA_ROUTE* Route = &IOAPICIsaRoutes[IsaIrq];
    Route->Gsi = Gsi;
    Route->LevelTriggered = LevelTriggered;
    Route->ActiveLow = ActiveLow;
    Route->Overridden = TRUE;
    return TRUE;
}

U32 IOAPICIsaToGsi(U8 IsaIrq, BOOL* LevelTriggered, BOOL* ActiveLow) {
    BOOL Level = FALSE, Low = FALSE;  // ISA default: edge triggered, active high
    U32 Gsi = IsaIrq;
    if (IsaIrq < IOAPIC_ISA_IRQ_COUNT && IOAPICIsaRoutes[IsaIrq].Overridden) {
        Gsi = IOAPICIsaRoutes[IsaIrq].Gsi;
        Level = IOAPICIsaRoutes[IsaIrq].LevelTriggered;
        Low = IOAPICIsaRoutes[IsaIrq].ActiveLow;
    }
    if (LevelTriggered) *LevelTriggered = Level;
    if (ActiveLow) *ActiveLow = Low;
    return Gsi;
}

BOOL IOAPICIsPresent(void) { return IOAPICRegisters != NULL; }
U32 IOAPICGetEntryCount(void) { return IOAPICRegisters ? IOAPICEntries : 0; }

BOOL IOAPICInit(void) {
    LINEAR Linear = MapIOMemory(IOAPICPhysical, PAGE_SIZE);
    if (Linear == 0) {
        ERROR("[IOAPICInit] cannot map the IOAPIC at %llx", IOAPICPhysical);
        return FALSE;
    }
    volatile U32* Registers = (volatile U32*)Linear;

    U64 Flags = SpinlockAcquire(&IOAPICLock);
    IOAPICRegisters = Registers;
    U32 Version = IOAPICRead(IOAPIC_VERSION);
    U32 Id = (IOAPICRead(IOAPIC_ID) >> 24) & 0x0F;
    U32 Entries = ((Version >> 16) & 0xFF) + 1;
    // Nothing decoded at the address reads as all ones; real IOAPICs are version 0x1x/0x2x.
    if ((Version & 0xFF) == 0 || (Version & 0xFF) == 0xFF || Entries > 240) {
        IOAPICRegisters = NULL;
        SpinlockRelease(&IOAPICLock, Flags);
        WARNING("[IOAPICInit] no IOAPIC at %llx (version register %x)", IOAPICPhysical, Version);
        return FALSE;
    }
    IOAPICEntries = Entries;
    for (U32 Entry = 0; Entry < Entries; Entry++) {
        IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry, IOAPIC_ENTRY_MASKED);
        IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry + 1, 0);
    }
    SpinlockRelease(&IOAPICLock, Flags);

    INFO("[IOAPICInit] IOAPIC %u at %llx, version %x, GSIs %u-%u, all masked", Id, IOAPICPhysical, Version & 0xFF,
         IOAPICGsiBase, IOAPICGsiBase + Entries - 1);
    return TRUE;
}

static BOOL IOAPICEntryForGsi(U32 Gsi, U32* Entry) {
    if (!IOAPICRegisters || Gsi < IOAPICGsiBase || Gsi - IOAPICGsiBase >= IOAPICEntries) return FALSE;
    *Entry = Gsi - IOAPICGsiBase;
    return TRUE;
}

BOOL IOAPICRoute(U32 Gsi, U8 Vector, U32 LapicId, BOOL LevelTriggered, BOOL ActiveLow) {
    U32 Entry;
    if (!IOAPICEntryForGsi(Gsi, &Entry)) {
        ERROR("[IOAPICRoute] GSI %u is not on this IOAPIC", Gsi);
        return FALSE;
    }
    if (Vector < INTERRUPT_FIRST_DEVICE_VECTOR || Vector == INTERRUPT_VECTOR_SPURIOUS || LapicId > 0xFF) {
        ERROR("[IOAPICRoute] bad vector %u or APIC id %u", Vector, LapicId);
        return FALSE;
    }
    // Fixed delivery, physical destination.
    U32 Low = Vector | (ActiveLow ? IOAPIC_ENTRY_ACTIVE_LOW : 0) | (LevelTriggered ? IOAPIC_ENTRY_LEVEL : 0);
    U64 Flags = SpinlockAcquire(&IOAPICLock);
    // Mask while the two halves are inconsistent, then unmask with the final low half.
    IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry, IOAPIC_ENTRY_MASKED);
    IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry + 1, LapicId << 24);
    IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry, Low);
    SpinlockRelease(&IOAPICLock, Flags);
    return TRUE;
}

void IOAPICMask(U32 Gsi, BOOL Masked) {
    U32 Entry;
    if (!IOAPICEntryForGsi(Gsi, &Entry)) return;
    U64 Flags = SpinlockAcquire(&IOAPICLock);
    U32 Low = IOAPICRead(IOAPIC_REDIRECTION_TABLE + 2 * Entry);
    Low = Masked ? (Low | IOAPIC_ENTRY_MASKED) : (Low & ~IOAPIC_ENTRY_MASKED);
    IOAPICWrite(IOAPIC_REDIRECTION_TABLE + 2 * Entry, Low);
    SpinlockRelease(&IOAPICLock, Flags);
}

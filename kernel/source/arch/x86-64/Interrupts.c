/*
 * Interrupts.c - the IDT, the common dispatcher, and device interrupt routing.
 *
 * Every one of the 256 vectors enters through a stub in InterruptStubs.asm,
 * which builds an INTERRUPT_FRAME and calls InterruptDispatch(). From there:
 *   0-31     CPU exceptions -> ExceptionHandle() (Exceptions.c), never returns;
 *   32-47    the legacy PIC range: the PICs are masked, so only their
 *            spurious IRQ 7/15 can land here; counted, no EOI;
 *   48-254   handlers registered with DeviceInterruptRegister(), then the
 *            LAPIC EOI;
 *   255      the LAPIC spurious vector: counted, no EOI (Intel SDM vol. 3A
 *            "Spurious Interrupt": the LAPIC does not set an ISR bit for it).
 *
 * This file owns the device vector allocator (48-239), the handler slot pool
 * and the per-vector counters. That part is pure logic, built unchanged into
 * the host unit tests (CAIRN_HOST_BUILD); the IDT and the routing glue are
 * kernel only.
 *
 * Locking: registration takes InterruptLock. The dispatcher walks a vector's
 * chain without a lock: a new slot is filled before it is linked with a
 * release store, and an unlinked slot has its handler cleared. Each CPU
 * counts itself in and out of a vector's handlers (InterruptRunning), so
 * DeviceInterruptUnregister, once the slot is unlinked, waits (bounded) until
 * no other CPU can still be inside that handler; the caller may then free
 * the handler's context. Counters are atomic: any CPU may take any vector.
 */

#include "arch/x86-64/Interrupts.h"

#include "arch/x86-64/APIC.h"
#include "core/Spinlock.h"
#include "utils/String.h"

#ifndef CAIRN_HOST_BUILD
#include "arch/x86-64/CPU.h"
#include "arch/x86-64/GDT.h"
#include "core/Log.h"
#include "core/SMP.h"
#include "core/Thread.h"
#include "system/Clock.h"
#endif

/************************************************************************/
// State

typedef struct tag_INTERRUPT_SLOT {
    INTERRUPT_HANDLER Handler;  // NULL: slot free
    LPVOID Context;
    U8 Vector;
    U8 Next;  // index + 1 of the next slot on the same vector, 0 at the end
} INTERRUPT_SLOT;

#define INTERRUPT_BITMAP_WORDS (INTERRUPT_VECTOR_COUNT / 64)

static U64 InterruptVectorBitmap[INTERRUPT_BITMAP_WORDS];  // allocated device vectors
static U8 InterruptChainHead[INTERRUPT_VECTOR_COUNT];      // slot index + 1, 0 = no handler
static INTERRUPT_SLOT InterruptSlots[INTERRUPT_HANDLER_SLOTS];
static U64 InterruptCounts[INTERRUPT_VECTOR_COUNT];
static U32 InterruptRunning[INTERRUPT_VECTOR_COUNT];  // CPUs inside the vector's handler chain now
static LPCSTR InterruptVectorNames[INTERRUPT_VECTOR_COUNT];

STATIC_ASSERT(INTERRUPT_HANDLER_SLOTS < 255, "slot links are stored as U8 index + 1");

#ifdef CAIRN_HOST_BUILD
#define INTERRUPT_LOCK() 0ULL
#define INTERRUPT_UNLOCK(Flags) UNUSED(Flags)
#else
static SPINLOCK InterruptLock = SPINLOCK_INIT;
#define INTERRUPT_LOCK() SpinlockAcquire(&InterruptLock)
#define INTERRUPT_UNLOCK(Flags) SpinlockRelease(&InterruptLock, Flags)
static void InterruptReleaseLegacyVector(U8 Vector);
static void InterruptWaitQuiet(U8 Vector);
#endif

/************************************************************************/
// Vector allocator

static BOOL InterruptIsDeviceVector(U32 Vector) {
    return Vector >= INTERRUPT_FIRST_DEVICE_VECTOR && Vector <= INTERRUPT_LAST_DEVICE_VECTOR;
}

static BOOL InterruptVectorAllocated(U32 Vector) {
    return (InterruptVectorBitmap[Vector / 64] >> (Vector % 64)) & 1;
}

U8 InterruptAllocateVector(void) {
    U64 Flags = INTERRUPT_LOCK();
    U8 Found = 0;
    for (U32 Vector = INTERRUPT_FIRST_DEVICE_VECTOR; Vector <= INTERRUPT_LAST_DEVICE_VECTOR; Vector++) {
        if (!InterruptVectorAllocated(Vector)) {
            InterruptVectorBitmap[Vector / 64] |= 1ULL << (Vector % 64);
            Found = (U8)Vector;
            break;
        }
    }
    INTERRUPT_UNLOCK(Flags);
    return Found;
}

void InterruptFreeVector(U8 Vector) {
    if (!InterruptIsDeviceVector(Vector)) return;
    U64 Flags = INTERRUPT_LOCK();
    // A vector with handlers still attached stays allocated: freeing it would
    // hand a live line to the next driver.
    if (InterruptChainHead[Vector] == 0) InterruptVectorBitmap[Vector / 64] &= ~(1ULL << (Vector % 64));
    INTERRUPT_UNLOCK(Flags);
}

/************************************************************************/
// Handler registration

static BOOL InterruptVectorAcceptsHandlers(U32 Vector) {
    if (Vector < INTERRUPT_FIRST_DEVICE_VECTOR || Vector >= INTERRUPT_VECTOR_SPURIOUS) return FALSE;
    if (InterruptIsDeviceVector(Vector)) return InterruptVectorAllocated(Vector);
    return TRUE;  // kernel vectors 240-254
}

BOOL DeviceInterruptRegister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context) {
    if (Handler == NULL) return FALSE;
    U64 Flags = INTERRUPT_LOCK();
    BOOL Result = FALSE;
    if (!InterruptVectorAcceptsHandlers(Vector)) goto Out;

    // Refuse duplicates and find the tail of the chain.
    U8* Link = &InterruptChainHead[Vector];
    while (*Link != 0) {
        INTERRUPT_SLOT* Slot = &InterruptSlots[*Link - 1];
        if (Slot->Handler == Handler && Slot->Context == Context) goto Out;
        Link = &Slot->Next;
    }

    for (U32 Index = 0; Index < INTERRUPT_HANDLER_SLOTS; Index++) {
        INTERRUPT_SLOT* Slot = &InterruptSlots[Index];
        if (Slot->Handler != NULL) continue;
        Slot->Context = Context;
        Slot->Vector = Vector;
        Slot->Next = 0;
        Slot->Handler = Handler;
        // Publish only once the slot is complete: the dispatcher does not lock.
        __atomic_store_n(Link, (U8)(Index + 1), __ATOMIC_RELEASE);
        Result = TRUE;
        break;
    }
Out:
    INTERRUPT_UNLOCK(Flags);
    return Result;
}

static BOOL InterruptUnlinkHandler(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context) {
    U64 Flags = INTERRUPT_LOCK();
    BOOL Found = FALSE;
    U8* Link = &InterruptChainHead[Vector];
    while (*Link != 0) {
        INTERRUPT_SLOT* Slot = &InterruptSlots[*Link - 1];
        if (Slot->Handler == Handler && Slot->Context == Context) {
            __atomic_store_n(Link, Slot->Next, __ATOMIC_RELEASE);
            Slot->Handler = NULL;
            Slot->Context = NULL;
            Slot->Next = 0;
            Found = TRUE;
            break;
        }
        Link = &Slot->Next;
    }
    INTERRUPT_UNLOCK(Flags);
    return Found;
}

BOOL DeviceInterruptUnregister(U8 Vector, INTERRUPT_HANDLER Handler, LPVOID Context) {
    BOOL Found = InterruptUnlinkHandler(Vector, Handler, Context);
#ifndef CAIRN_HOST_BUILD
    if (Found) {
        InterruptWaitQuiet(Vector);
        InterruptReleaseLegacyVector(Vector);
    }
#endif
    return Found;
}

U32 InterruptRunHandlers(U8 Vector, INTERRUPT_FRAME* Frame) {
    __atomic_add_fetch(&InterruptCounts[Vector], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&InterruptRunning[Vector], 1, __ATOMIC_ACQUIRE);
    U32 Claimed = 0;
    U8 Link = __atomic_load_n(&InterruptChainHead[Vector], __ATOMIC_ACQUIRE);
    // The bound guards against a corrupted chain looping forever.
    for (U32 Steps = 0; Link != 0 && Steps < INTERRUPT_HANDLER_SLOTS; Steps++) {
        if (Link > INTERRUPT_HANDLER_SLOTS) break;
        INTERRUPT_SLOT* Slot = &InterruptSlots[Link - 1];
        INTERRUPT_HANDLER Handler = Slot->Handler;
        LPVOID Context = Slot->Context;
        if (Handler != NULL && Slot->Vector == Vector && Handler(Frame, Context)) Claimed++;
        Link = __atomic_load_n(&Slot->Next, __ATOMIC_ACQUIRE);
    }
    __atomic_sub_fetch(&InterruptRunning[Vector], 1, __ATOMIC_RELEASE);
    return Claimed;
}

U64 InterruptGetCount(U8 Vector) { return __atomic_load_n(&InterruptCounts[Vector], __ATOMIC_RELAXED); }

void InterruptResetState(void) {
    U64 Flags = INTERRUPT_LOCK();
    MemorySet(InterruptVectorBitmap, 0, sizeof(InterruptVectorBitmap));
    MemorySet(InterruptChainHead, 0, sizeof(InterruptChainHead));
    MemorySet(InterruptSlots, 0, sizeof(InterruptSlots));
    MemorySet(InterruptCounts, 0, sizeof(InterruptCounts));
    MemorySet(InterruptRunning, 0, sizeof(InterruptRunning));
    INTERRUPT_UNLOCK(Flags);
}

void InterruptSetVectorName(U8 Vector, LPCSTR Name) { InterruptVectorNames[Vector] = Name; }

LPCSTR InterruptGetVectorName(U8 Vector) { return InterruptVectorNames[Vector]; }

#ifndef CAIRN_HOST_BUILD

/************************************************************************/
// IDT (Intel SDM vol. 3A 6.14.1, 64-bit IDT gate descriptors)

typedef struct tag_IDT_GATE {
    U16 OffsetLow;
    U16 Selector;
    U8 Ist;             // bits 0-2: IST index, 0 = stay on the current stack
    U8 TypeAttributes;  // present, DPL, type
    U16 OffsetMiddle;
    U32 OffsetHigh;
    U32 Reserved;
} PACKED IDT_GATE;

typedef struct tag_IDT_POINTER {
    U16 Limit;
    U64 Base;
} PACKED IDT_POINTER;

STATIC_ASSERT(sizeof(IDT_GATE) == 16, "64-bit IDT gates are 16 bytes");
STATIC_ASSERT(sizeof(INTERRUPT_FRAME) == 22 * 8, "INTERRUPT_FRAME must match InterruptStubs.asm");

#define IDT_TYPE_INTERRUPT_GATE 0x8E  // present, DPL 0, 64-bit interrupt gate (clears IF)

extern const U64 InterruptStubTable[INTERRUPT_VECTOR_COUNT];

static IDT_GATE InterruptDescriptorTable[INTERRUPT_VECTOR_COUNT] __attribute__((aligned(16)));

static void InterruptSetGate(U32 Vector, U64 Handler, U8 Ist) {
    IDT_GATE* Gate = &InterruptDescriptorTable[Vector];
    Gate->OffsetLow = (U16)Handler;
    Gate->Selector = GDT_KERNEL_CODE;
    Gate->Ist = Ist;
    Gate->TypeAttributes = IDT_TYPE_INTERRUPT_GATE;
    Gate->OffsetMiddle = (U16)(Handler >> 16);
    Gate->OffsetHigh = (U32)(Handler >> 32);
    Gate->Reserved = 0;
}

void InterruptsInit(void) {
    for (U32 Vector = 0; Vector < INTERRUPT_VECTOR_COUNT; Vector++) {
        U8 Ist = 0;
        if (Vector == 2) Ist = IST_NMI;
        if (Vector == 8) Ist = IST_DOUBLE_FAULT;
        if (Vector == 18) Ist = IST_MACHINE_CHECK;
        InterruptSetGate(Vector, InterruptStubTable[Vector], Ist);
    }
    InterruptsLoadCPU();
}

void InterruptsLoadCPU(void) {
    IDT_POINTER Pointer = {sizeof(InterruptDescriptorTable) - 1, (U64)(LINEAR)InterruptDescriptorTable};
    __asm__ volatile("lidt %0" : : "m"(Pointer) : "memory");
}

U32 InterruptDefaultApicId(void) { return SMPGetApicId(0); }

U32 InterruptCPUApicId(U32 Cpu) { return SMPIsOnline(Cpu) ? SMPGetApicId(Cpu) : MAX_U32; }

#define INTERRUPT_QUIET_WAIT_MS 100

/*
 * After a handler was unlinked: waits until no CPU is still inside Vector's
 * chain (it may have loaded the slot before the unlink). Not from inside an
 * interrupt handler (this CPU's own count would never drop); bounded.
 */
static void InterruptWaitQuiet(U8 Vector) {
    if (GetPerCPU()->InterruptDepth != 0) return;
    U64 Deadline = GetSystemTimeNs() + INTERRUPT_QUIET_WAIT_MS * 1000000ULL;
    while (__atomic_load_n(&InterruptRunning[Vector], __ATOMIC_ACQUIRE) != 0) {
        if (GetSystemTimeNs() > Deadline) {
            WARNING("[DeviceInterruptUnregister] vector %u still running on another CPU after %u ms", Vector,
                    INTERRUPT_QUIET_WAIT_MS);
            return;
        }
        CPUPause();
    }
}

/************************************************************************/
// Dispatch

static U64 InterruptUnclaimed[INTERRUPT_VECTOR_COUNT];

// Logs the 1st, 2nd, 4th, 8th ... occurrence: a stuck line cannot flood the log.
static BOOL InterruptShouldReport(U8 Vector) {
    U64 Count = __atomic_add_fetch(&InterruptUnclaimed[Vector], 1, __ATOMIC_RELAXED);
    return IS_POWER_OF_TWO(Count);
}

void InterruptDispatch(INTERRUPT_FRAME* Frame) {
    U8 Vector = (U8)Frame->Vector;

    if (Vector < INTERRUPT_EXCEPTION_COUNT) {
        __atomic_add_fetch(&InterruptCounts[Vector], 1, __ATOMIC_RELAXED);
        ExceptionHandle(Frame);
    }

    if (Vector == INTERRUPT_VECTOR_SPURIOUS) {
        __atomic_add_fetch(&InterruptCounts[Vector], 1, __ATOMIC_RELAXED);
        return;
    }

    if (Vector <= INTERRUPT_LAST_PIC_VECTOR) {
        // A masked 8259 still raises its spurious IRQ 7/15; it must not get a LAPIC EOI.
        __atomic_add_fetch(&InterruptCounts[Vector], 1, __ATOMIC_RELAXED);
        if (InterruptShouldReport(Vector)) {
            WARNING("[InterruptDispatch] legacy PIC vector %u (seen %llu times)", Vector, InterruptUnclaimed[Vector]);
        }
        return;
    }

    SchedulerInterruptEnter();
    if (InterruptRunHandlers(Vector, Frame) == 0 && InterruptShouldReport(Vector)) {
        WARNING("[InterruptDispatch] no handler claimed vector %u (seen %llu times)", Vector,
                InterruptUnclaimed[Vector]);
    }
    LAPICEndOfInterrupt();
    // After the EOI: a thread switch here resumes the other thread's stack, not this handler.
    SchedulerInterruptExit();
}

/************************************************************************/
// Legacy ISA interrupts through the IOAPIC

#define INTERRUPT_ISA_IRQ_COUNT 16

static U8 InterruptLegacyVectors[INTERRUPT_ISA_IRQ_COUNT];  // 0 = not routed
static SPINLOCK InterruptLegacyLock = SPINLOCK_INIT;       // taken before InterruptLock and the IOAPIC's

BOOL InterruptRegisterLegacy(U8 IsaIrq, INTERRUPT_HANDLER Handler, LPVOID Context) {
    if (IsaIrq >= INTERRUPT_ISA_IRQ_COUNT || Handler == NULL) {
        ERROR("[InterruptRegisterLegacy] bad IRQ %u or no handler", IsaIrq);
        return FALSE;
    }
    if (!IOAPICIsPresent()) {
        WARNING("[InterruptRegisterLegacy] no IOAPIC: IRQ %u not routed", IsaIrq);
        return FALSE;
    }

    U64 Flags = SpinlockAcquire(&InterruptLegacyLock);
    BOOL Result = FALSE;
    U8 Vector = InterruptLegacyVectors[IsaIrq];
    BOOL NewVector = (Vector == 0);
    if (NewVector) {
        Vector = InterruptAllocateVector();
        if (Vector == 0) {
            ERROR("[InterruptRegisterLegacy] no free vector for IRQ %u", IsaIrq);
            goto Out;
        }
    }
    // The handler goes in before the line is unmasked, so the first interrupt finds it.
    if (!DeviceInterruptRegister(Vector, Handler, Context)) {
        ERROR("[InterruptRegisterLegacy] cannot attach a handler to vector %u", Vector);
        if (NewVector) InterruptFreeVector(Vector);
        goto Out;
    }
    if (NewVector) {
        BOOL Level = FALSE, ActiveLow = FALSE;
        U32 Gsi = IOAPICIsaToGsi(IsaIrq, &Level, &ActiveLow);
        if (!IOAPICRoute(Gsi, Vector, InterruptDefaultApicId(), Level, ActiveLow)) {
            ERROR("[InterruptRegisterLegacy] IOAPIC cannot route IRQ %u (GSI %u)", IsaIrq, Gsi);
            InterruptUnlinkHandler(Vector, Handler, Context);
            InterruptFreeVector(Vector);
            goto Out;
        }
        InterruptLegacyVectors[IsaIrq] = Vector;
        static const char* const IsaNames[INTERRUPT_ISA_IRQ_COUNT] = {
            "ISA IRQ 0",  "ISA IRQ 1",  "ISA IRQ 2",  "ISA IRQ 3",  "ISA IRQ 4",  "ISA IRQ 5",  "ISA IRQ 6",  "ISA IRQ 7",
            "ISA IRQ 8",  "ISA IRQ 9",  "ISA IRQ 10", "ISA IRQ 11", "ISA IRQ 12", "ISA IRQ 13", "ISA IRQ 14", "ISA IRQ 15"};
        if (InterruptGetVectorName(Vector) == NULL) InterruptSetVectorName(Vector, IsaNames[IsaIrq]);
        INFO("[InterruptRegisterLegacy] IRQ %u -> GSI %u -> vector %u", IsaIrq, Gsi, Vector);
    }
    Result = TRUE;
Out:
    SpinlockRelease(&InterruptLegacyLock, Flags);
    return Result;
}

// If the last handler left a legacy vector: mask the line and give the vector back.
static void InterruptReleaseLegacyVector(U8 Vector) {
    U64 Flags = SpinlockAcquire(&InterruptLegacyLock);
    for (U32 Irq = 0; Irq < INTERRUPT_ISA_IRQ_COUNT; Irq++) {
        if (InterruptLegacyVectors[Irq] != Vector) continue;
        if (__atomic_load_n(&InterruptChainHead[Vector], __ATOMIC_ACQUIRE) != 0) break;  // still shared
        BOOL Level = FALSE, ActiveLow = FALSE;
        IOAPICMask(IOAPICIsaToGsi((U8)Irq, &Level, &ActiveLow), TRUE);
        InterruptLegacyVectors[Irq] = 0;
        InterruptFreeVector(Vector);
        break;
    }
    SpinlockRelease(&InterruptLegacyLock, Flags);
}

#endif  // CAIRN_HOST_BUILD

/*
 * Platform.c - the kernel's implementation of the driver platform layer
 * (see drivers/Platform.h).
 *
 * Everything here is a thin mapping onto kernel services: MapIOMemory and
 * volatile 32-bit moves for MMIO, the DMA allocator, the page tables for
 * translation, spinlocks, mutexes and events from core/, the deferred-work
 * thread, and the interrupt layer for MSI-X, MSI and INTx.
 *
 * INTx: the line firmware wrote to the Interrupt Line register is routed
 * through the IOAPIC with the ISA overrides from the MADT (level triggered;
 * QEMU's i440FX wires PCI links to IOAPIC inputs 5/9/10/11 this way). On
 * chipsets whose PCI links reach the IOAPIC at GSI 16-23 (q35), the right
 * input is only named by ACPI _PRT (AML), which Cairn does not interpret
 * yet; there INTx may stay silent and drivers fall back to polling.
 *
 * Message routing: a function on a segment a driver provides (the Intel
 * VMD's) may not reach the CPU with the messages it writes. The segment's
 * PCI_MESSAGE_ROUTING says how: directly (the normal path), remapped (its
 * owner composes the message for each of the function's vectors, and calls
 * the handlers connected to its own vector when that fires), or not at all
 * (the driver polls). Such segments never forward INTx. The function's
 * driver sees the same PLATFORM_INTERRUPTS either way. The remapped path is
 * drivers/Platform-Remap.c, which the host tests' platform runs too.
 *
 * DMA limits: PlatformDMAAlloc gives memory below the lowest DMA address
 * limit of any listed PCI function (PCIGetDMALimit), and PlatformTranslate
 * refuses (returns 0 for) a buffer above it, so no device is ever handed an
 * address it would truncate.
 */

#include "drivers/Platform.h"
#include "drivers/Platform-Remap.h"

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/CommandLine.h"
#include "core/Deferred.h"
#include "core/Log.h"
#include "core/SMP.h"
#include "core/Spinlock.h"
#include "core/Sync.h"
#include "core/Thread.h"
#include "memory/DMA.h"
#include "memory/Heap.h"
#include "memory/Paging.h"
#include "system/Clock.h"
#include "system/Shutdown.h"
#include "utils/String.h"

/************************************************************************/
// MMIO

LINEAR PlatformMapMMIO(PHYSICAL Physical, U64 Size) { return MapIOMemory(Physical, Size); }
void PlatformUnmapMMIO(LINEAR Linear, U64 Size) { UnmapIOMemory(Linear, Size); }
U32 PlatformRead32(LINEAR Address) { return *(volatile U32*)Address; }
void PlatformWrite32(LINEAR Address, U32 Value) { *(volatile U32*)Address = Value; }
void PlatformWriteBarrier(void) { WriteBarrier(); }
void PlatformReadBarrier(void) { ReadBarrier(); }

/************************************************************************/
// Memory

KSTATUS PlatformDMAAlloc(U64 Size, U64 Alignment, U32 Flags, PLATFORM_DMA* Buffer) {
    DMA_BUFFER Dma;
    PHYSICAL Limit = (Flags & PLATFORM_DMA_BELOW_4GB) ? N_4GB : 0;
    PHYSICAL DeviceLimit = PCIGetDMALimit();
    if (DeviceLimit != 0 && (Limit == 0 || DeviceLimit < Limit)) Limit = DeviceLimit;
    KSTATUS Status = DMAAllocBelow(Size, Alignment, Limit, &Dma);
    if (Status != KSTATUS_SUCCESS) return Status;
    Buffer->Linear = Dma.Linear;
    Buffer->Physical = Dma.Physical;
    Buffer->Size = Dma.Size;
    return KSTATUS_SUCCESS;
}

void PlatformDMAFree(PLATFORM_DMA* Buffer) {
    DMA_BUFFER Dma = {Buffer->Linear, Buffer->Physical, Buffer->Size};
    if (Buffer->Linear == NULL) return;
    DMAFree(&Dma);
    Buffer->Linear = NULL;
    Buffer->Physical = 0;
    Buffer->Size = 0;
}

PHYSICAL PlatformTranslate(LPCVOID Linear) { return PCICheckDMAAddress(LinearToPhysical((LINEAR)Linear)); }
LPVOID PlatformAlloc(SIZE Size) { return KernelHeapAlloc(Size); }
LPVOID PlatformAllocZero(SIZE Size) { return KernelHeapAllocZero(Size); }
void PlatformFree(LPVOID Pointer) { KernelHeapFree(Pointer); }

/************************************************************************/
// Time

U64 PlatformTimeNs(void) { return GetSystemTimeNs(); }
void PlatformSleepMs(U32 Milliseconds) { Sleep(Milliseconds); }

void PlatformBusyWaitUs(U32 Microseconds) {
    // The TSC clock moves with interrupts off (system/Clock.c), so this ends under a spinlock too.
    U64 End = GetSystemTimeNs() + (U64)Microseconds * 1000;
    while (GetSystemTimeNs() < End) CPUPause();
}
void PlatformYield(void) { Yield(); }

/************************************************************************/
// Synchronisation

struct tag_PLATFORM_LOCK {
    SPINLOCK Lock;
};
struct tag_PLATFORM_MUTEX {
    MUTEX Mutex;
};
struct tag_PLATFORM_EVENT {
    EVENT Event;
};

PLATFORM_LOCK* PlatformLockCreate(void) {
    PLATFORM_LOCK* Lock = (PLATFORM_LOCK*)KernelHeapAllocZero(sizeof(PLATFORM_LOCK));
    if (Lock) SpinlockInit(&Lock->Lock);
    return Lock;
}
void PlatformLockDestroy(PLATFORM_LOCK* Lock) { KernelHeapFree(Lock); }
U64 PlatformLockAcquire(PLATFORM_LOCK* Lock) { return SpinlockAcquire(&Lock->Lock); }
void PlatformLockRelease(PLATFORM_LOCK* Lock, U64 State) { SpinlockRelease(&Lock->Lock, State); }

PLATFORM_MUTEX* PlatformMutexCreate(void) {
    PLATFORM_MUTEX* Mutex = (PLATFORM_MUTEX*)KernelHeapAllocZero(sizeof(PLATFORM_MUTEX));
    if (Mutex) MutexInit(&Mutex->Mutex);
    return Mutex;
}
void PlatformMutexDestroy(PLATFORM_MUTEX* Mutex) { KernelHeapFree(Mutex); }
void PlatformMutexLock(PLATFORM_MUTEX* Mutex) { MutexLock(&Mutex->Mutex); }
void PlatformMutexUnlock(PLATFORM_MUTEX* Mutex) { MutexUnlock(&Mutex->Mutex); }

PLATFORM_EVENT* PlatformEventCreate(BOOL ManualReset) {
    PLATFORM_EVENT* Event = (PLATFORM_EVENT*)KernelHeapAllocZero(sizeof(PLATFORM_EVENT));
    if (Event) EventInit(&Event->Event, ManualReset, FALSE);
    return Event;
}
void PlatformEventDestroy(PLATFORM_EVENT* Event) { KernelHeapFree(Event); }
void PlatformEventSignal(PLATFORM_EVENT* Event) { EventSignal(&Event->Event); }
void PlatformEventReset(PLATFORM_EVENT* Event) { EventReset(&Event->Event); }
BOOL PlatformEventWait(PLATFORM_EVENT* Event, U32 TimeoutMs) { return WaitForEvent(&Event->Event, TimeoutMs); }

/************************************************************************/
// Threads and deferred work

struct tag_PLATFORM_WORK {
    DEFERRED_WORK Work;
};

BOOL PlatformThreadCreate(LPCSTR Name, PLATFORM_FUNCTION Function, LPVOID Context) {
    return ThreadCreate(Name, Function, Context) != NULL;
}

PLATFORM_WORK* PlatformWorkCreate(PLATFORM_FUNCTION Function, LPVOID Context) {
    PLATFORM_WORK* Work = (PLATFORM_WORK*)KernelHeapAllocZero(sizeof(PLATFORM_WORK));
    if (Work) DeferredWorkInit(&Work->Work, Function, Context);
    return Work;
}
void PlatformWorkDestroy(PLATFORM_WORK* Work) { KernelHeapFree(Work); }
void PlatformWorkQueue(PLATFORM_WORK* Work) { DeferredWorkQueue(&Work->Work); }

/************************************************************************/
// Interrupts

typedef struct tag_INTERRUPT_BINDING {
    PLATFORM_INTERRUPT_HANDLER Handler;
    LPVOID Context;
    U8 Vector;
} INTERRUPT_BINDING;

typedef struct tag_INTERRUPT_PRIVATE {
    U32 BindingCount;
    INTERRUPT_BINDING Bindings[PLATFORM_MAX_VECTORS];
    PLATFORM_REMAP Remap;  // remapped through the segment's owner (Remap.Routing set): what to give back
} INTERRUPT_PRIVATE;

static BOOL PlatformInterruptTrampoline(INTERRUPT_FRAME* Frame, LPVOID Context) {
    INTERRUPT_BINDING* Binding = (INTERRUPT_BINDING*)Context;
    UNUSED(Frame);
    return Binding->Handler(Binding->Context);
}

static BOOL Bind(INTERRUPT_PRIVATE* Private, U8 Vector, PLATFORM_INTERRUPT_HANDLER Handler, LPVOID Context) {
    if (Private->BindingCount >= PLATFORM_MAX_VECTORS) return FALSE;
    INTERRUPT_BINDING* Binding = &Private->Bindings[Private->BindingCount];
    Binding->Handler = Handler;
    Binding->Context = Context;
    Binding->Vector = Vector;
    if (!DeviceInterruptRegister(Vector, PlatformInterruptTrampoline, Binding)) return FALSE;
    Private->BindingCount++;
    return TRUE;
}

static void UnbindAll(INTERRUPT_PRIVATE* Private) {
    for (U32 I = 0; I < Private->BindingCount; I++) {
        DeviceInterruptUnregister(Private->Bindings[I].Vector, PlatformInterruptTrampoline, &Private->Bindings[I]);
    }
    Private->BindingCount = 0;
}

static void FreeVectors(PLATFORM_INTERRUPTS* Interrupts) {
    for (U32 I = 0; I < Interrupts->Count; I++) {
        if (Interrupts->Vectors[I]) InterruptFreeVector(Interrupts->Vectors[I]);
        Interrupts->Vectors[I] = 0;
    }
    Interrupts->Count = 0;
}

static BOOL AllocateVectors(PLATFORM_INTERRUPTS* Interrupts, U32 Count) {
    Interrupts->Count = 0;
    for (U32 I = 0; I < Count; I++) {
        U8 Vector = InterruptAllocateVector();
        if (Vector == 0) break;
        Interrupts->Vectors[Interrupts->Count++] = Vector;
    }
    return Interrupts->Count != 0;
}

/** Binds every context: to its own vector when there are enough, else all to vector 0. */
static BOOL BindContexts(PLATFORM_INTERRUPTS* Interrupts, INTERRUPT_PRIVATE* Private) {
    for (U32 I = 0; I < Interrupts->ContextCount; I++) {
        U8 Vector = Interrupts->Vectors[I < Interrupts->Count ? I : 0];
        if (!Bind(Private, Vector, Interrupts->Handler, Interrupts->Contexts[I])) return FALSE;
    }
    return TRUE;
}

static BOOL SetupMsix(PCI_DEVICE* Device, U32 Wanted, PLATFORM_INTERRUPTS* Interrupts, INTERRUPT_PRIVATE* Private) {
    if (!PCIMSIXRead(Device, &Interrupts->Msix)) return FALSE;
    if (Interrupts->Msix.Table == 0 && !PCIMSIXMap(Device, &Interrupts->Msix)) return FALSE;
    U32 Count = MIN(Wanted, Interrupts->Msix.TableSize);
    if (!AllocateVectors(Interrupts, Count)) return FALSE;
    if (!BindContexts(Interrupts, Private)) {
        UnbindAll(Private);
        FreeVectors(Interrupts);
        return FALSE;
    }
    // Function-masked while the entries change; every entry is masked except those we program.
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, TRUE);
    for (U32 I = 0; I < Interrupts->Msix.TableSize; I++) PCIMSIXMaskEntry(&Interrupts->Msix, I, TRUE);
    for (U32 I = 0; I < Interrupts->Count; I++) {
        PCIMSIXSetEntry(&Interrupts->Msix, I, InterruptDefaultApicId(), Interrupts->Vectors[I], TRUE);
    }
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, FALSE);
    Interrupts->Mode = PCI_INTERRUPT_MSIX;
    return TRUE;
}

static BOOL SetupMsi(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, INTERRUPT_PRIVATE* Private) {
    if (!PCIMSIRead(Device, &Interrupts->Msi)) return FALSE;
    if (!AllocateVectors(Interrupts, 1)) return FALSE;
    if (!BindContexts(Interrupts, Private) ||
        !PCIMSIEnable(Device, &Interrupts->Msi, InterruptDefaultApicId(), Interrupts->Vectors[0], 0)) {
        UnbindAll(Private);
        FreeVectors(Interrupts);
        return FALSE;
    }
    Interrupts->Mode = PCI_INTERRUPT_MSI;
    return TRUE;
}

static BOOL SetupIntx(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, INTERRUPT_PRIVATE* Private) {
    if (Device->InterruptPin == 0 || Device->InterruptLine == 0 || Device->InterruptLine >= 16) return FALSE;
    if (!IOAPICIsPresent()) return FALSE;
    BOOL Level = FALSE, ActiveLow = FALSE;
    U32 Gsi = IOAPICIsaToGsi(Device->InterruptLine, &Level, &ActiveLow);
    if (!AllocateVectors(Interrupts, 1)) return FALSE;
    if (!BindContexts(Interrupts, Private) ||
        !IOAPICRoute(Gsi, Interrupts->Vectors[0], InterruptDefaultApicId(), TRUE, ActiveLow)) {
        UnbindAll(Private);
        FreeVectors(Interrupts);
        return FALSE;
    }
    Interrupts->Line = Gsi;
    PCIDisableIntx(Device, FALSE);
    Interrupts->Mode = PCI_INTERRUPT_INTX;
    return TRUE;
}

/************************************************************************/

KSTATUS PlatformInterruptSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPT_HANDLER Handler,
                               LPVOID* Contexts, U32 ContextCount, PLATFORM_INTERRUPTS* Interrupts) {
    MemorySet(Interrupts, 0, sizeof(*Interrupts));
    if (Handler == NULL || ContextCount == 0 || ContextCount > PLATFORM_MAX_VECTORS || Wanted == 0) {
        return KSTATUS_BAD_PARAMETER;
    }
    U32 Limit;
    PCI_MESSAGE_ROUTE Route = PlatformRemapRoute(Device, &Limit);
    if (Route == PCI_MESSAGES_NONE) return KSTATUS_NOT_SUPPORTED;
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)KernelHeapAllocZero(sizeof(INTERRUPT_PRIVATE));
    if (Private == NULL) return KSTATUS_NO_MEMORY;
    Interrupts->Private = Private;
    Interrupts->Handler = Handler;
    Interrupts->ContextCount = ContextCount;
    for (U32 I = 0; I < ContextCount; I++) Interrupts->Contexts[I] = Contexts[I];
    Wanted = MIN(MIN(Wanted, (U32)PLATFORM_MAX_VECTORS), MAX(Limit, 1U));
    BOOL NoIntx = PlatformRemapNoIntx(Device);

    PCIEnableBusMaster(Device);  // message interrupts are memory writes by the device
    if (Route == PCI_MESSAGES_REMAPPED) {
        if (PlatformRemapSetup(Device, Wanted, Allowed, Interrupts, &Private->Remap)) return KSTATUS_SUCCESS;
    } else {
        if ((Allowed & PLATFORM_ALLOW_MSIX) && SetupMsix(Device, Wanted, Interrupts, Private)) {
            return KSTATUS_SUCCESS;
        }
        if ((Allowed & PLATFORM_ALLOW_MSI) && SetupMsi(Device, Interrupts, Private)) return KSTATUS_SUCCESS;
        if ((Allowed & PLATFORM_ALLOW_INTX) && !NoIntx && SetupIntx(Device, Interrupts, Private)) {
            return KSTATUS_SUCCESS;
        }
    }

    KernelHeapFree(Private);
    Interrupts->Private = NULL;
    Interrupts->Mode = PCI_INTERRUPT_NONE;
    return KSTATUS_NOT_SUPPORTED;
}

void PlatformInterruptRelease(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts) {
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)Interrupts->Private;
    switch (Interrupts->Mode) {
        case PCI_INTERRUPT_MSIX:
            for (U32 I = 0; I < Interrupts->Count; I++) PCIMSIXMaskEntry(&Interrupts->Msix, I, TRUE);
            PCIMSIXControl(Device, &Interrupts->Msix, FALSE, FALSE);
            break;
        case PCI_INTERRUPT_MSI:
            PCIMSIDisable(Device, &Interrupts->Msi);
            break;
        case PCI_INTERRUPT_INTX:
            PCIDisableIntx(Device, TRUE);
            IOAPICMask(Interrupts->Line, TRUE);
            break;
        default:
            break;
    }
    BOOL Remapped = Private && Private->Remap.Routing;
    if (Remapped) {
        PlatformRemapRelease(Interrupts, &Private->Remap);
    } else {
        if (Private) UnbindAll(Private);
        FreeVectors(Interrupts);  // remapped: the CPU vectors are the owner's
    }
    if (Private) KernelHeapFree(Private);
    Interrupts->Private = NULL;
    Interrupts->Mode = PCI_INTERRUPT_NONE;
}

void PlatformInterruptMask(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, BOOL Masked) {
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)Interrupts->Private;
    switch (Interrupts->Mode) {
        case PCI_INTERRUPT_MSIX:
            PCIMSIXMaskEntry(&Interrupts->Msix, Index, Masked);
            break;
        case PCI_INTERRUPT_MSI:
            if (Masked) {
                PCIMSIDisable(Device, &Interrupts->Msi);
            } else if (Private && Private->Remap.Routing) {
                PlatformRemapEnableMsi(Device, Interrupts, &Private->Remap);
            } else {
                PCIMSIEnable(Device, &Interrupts->Msi, InterruptDefaultApicId(), Interrupts->Vectors[0], 0);
            }
            break;
        case PCI_INTERRUPT_INTX:
            PCIDisableIntx(Device, Masked);
            break;
        default:
            break;
    }
}

U64 PlatformInterruptCount(const PLATFORM_INTERRUPTS* Interrupts, U32 Index) {
    if (Index >= Interrupts->Count) return 0;
    return InterruptGetCount(Interrupts->Vectors[Index]);
}

KSTATUS PlatformInterruptSetAffinity(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, U32 Cpu) {
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)Interrupts->Private;
    UNUSED(Device);
    if (!SMPIsOnline(Cpu)) return KSTATUS_BAD_PARAMETER;
    return PlatformRemapAimMsix(Interrupts, Private ? &Private->Remap : NULL, Index, Cpu, SMPGetApicId(Cpu));
}

/************************************************************************/
// CPUs

U32 PlatformCpuCount(void) {
    U32 Count = SMPGetOnlineCount();
    return Count ? Count : 1;
}

U32 PlatformCurrentCpu(void) { return GetPerCPU()->Index; }

/************************************************************************/
// Shutdown and options

typedef struct tag_SHUTDOWN_BINDING {
    PLATFORM_SHUTDOWN Function;
    LPVOID Context;
} SHUTDOWN_BINDING;

static void ShutdownTrampoline(SHUTDOWN_KIND Kind, LPVOID Context) {
    SHUTDOWN_BINDING* Binding = (SHUTDOWN_BINDING*)Context;
    Binding->Function(Kind == SHUTDOWN_REBOOT, Binding->Context);
}

BOOL PlatformRegisterShutdown(LPCSTR Name, PLATFORM_SHUTDOWN Function, LPVOID Context) {
    SHUTDOWN_BINDING* Binding = (SHUTDOWN_BINDING*)KernelHeapAlloc(sizeof(SHUTDOWN_BINDING));
    if (Binding == NULL) return FALSE;
    Binding->Function = Function;
    Binding->Context = Context;
    return ShutdownRegisterHook(Name, ShutdownTrampoline, Binding);
}

LPCSTR PlatformGetOption(LPCSTR Name) { return KernelGetOption(Name); }

/*
 * HostPlatform-Interrupts.c - the interrupt half of drivers/Platform.h for
 * host tests: vector allocation, handler binding, MSI-X / MSI / INTx set-up
 * (through the real PCI-MSI.c helpers on the model's configuration space
 * and MSI-X table), and the "CPU" thread that delivers interrupts.
 *
 * Delivery: a device posts a message (an edge: the vector becomes pending,
 * a second message while pending merges, as in a local APIC's IRR) or sets
 * an INTx level (the routed vector is pending while the level is high and
 * the line unmasked, and is re-delivered after each handler run as long as
 * it stays high, as an IOAPIC does after EOI). The CPU thread runs every
 * handler bound to a vector, marked as interrupt context so that the
 * platform can flag a top half that blocks.
 *
 * Set-up mirrors the kernel's Platform.c: MSI-X entries are programmed
 * function-masked, every entry masked but those in use; MSI gets one
 * vector; INTx needs a pin and a line 1..15 and a segment that forwards it.
 * A function whose segment's owner remaps its messages (the VMD model's
 * children) goes through the kernel's own drivers/Platform-Remap.c: the
 * owner composes its messages and calls its handlers; a segment that routes
 * no message at all leaves the driver polling. CPU vectors come from
 * 0x30..0xEF; APIC IDs are the CPU indexes (HostPlatformSetCpuCount), set-up
 * aims every vector at CPU 0 and PlatformInterruptSetAffinity moves an MSI-X
 * entry (not a remapped one: the owner composes those).
 */

#define _GNU_SOURCE
#include "HostPlatform-Internal.h"

#include "drivers/Platform-Remap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTOR_FIRST 0x30
#define VECTOR_LAST 0xEF
#define MAX_BINDINGS_PER_VECTOR 8
#define MAX_LINES 256
#define STORM_LIMIT 1000  // consecutive level re-deliveries before the line is declared storming


typedef struct tag_BINDING {
    PLATFORM_INTERRUPT_HANDLER Handler;
    LPVOID Context;
    LPVOID Owner;  // the PLATFORM_INTERRUPTS private block that bound it
} BINDING;

typedef struct tag_VECTOR {
    BOOL Allocated;
    BINDING Bindings[MAX_BINDINGS_PER_VECTOR];
    U32 BindingCount;
    U64 Count;      // handler runs
    U32 Cpu;        // destination APIC ID of the last message: the CPU its handlers run as
    BOOL Pending;
    I32 Line;       // the INTx line routed here, -1 if none
} VECTOR;

typedef struct tag_LINE {
    BOOL Level;
    BOOL Routed;
    BOOL Masked;    // by the storm detector
    U8 Vector;
    U32 Redeliveries;
} LINE;

static pthread_mutex_t IrqLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t IrqCond = PTHREAD_COND_INITIALIZER;
static VECTOR Vectors[256];
static LINE Lines[MAX_LINES];
static U8 Queue[256];
static U32 QueueHead, QueueCount;
static U64 Spurious;
static pthread_t CpuThread;
static __thread BOOL InInterrupt;
static U32 CpuCount = 1;
static __thread U32 CurrentCpu;

BOOL HostPlatformInInterrupt(void) { return InInterrupt; }

void HostPlatformSetCpuCount(U32 Count) { __atomic_store_n(&CpuCount, Count ? Count : 1, __ATOMIC_RELEASE); }
void HostPlatformSetCurrentCpu(U32 Cpu) { CurrentCpu = Cpu; }
U32 PlatformCpuCount(void) { return __atomic_load_n(&CpuCount, __ATOMIC_ACQUIRE); }
U32 PlatformCurrentCpu(void) { return CurrentCpu; }

BOOL HostInterruptsBusy(void) {
    pthread_mutex_lock(&IrqLock);
    BOOL Busy = QueueCount != 0;
    pthread_mutex_unlock(&IrqLock);
    return Busy;
}

static void MakePendingLocked(U8 Vector) {
    if (Vectors[Vector].Pending) return;
    Vectors[Vector].Pending = TRUE;
    Queue[(QueueHead + QueueCount) % 256] = Vector;
    QueueCount++;
    pthread_cond_broadcast(&IrqCond);
}

static void* CpuThreadMain(void* Unused) {
    UNUSED(Unused);
    pthread_setname_np(pthread_self(), "host-cpu-irq");
    HostPlatformMarkInternalThread();
    pthread_mutex_lock(&IrqLock);
    for (;;) {
        while (QueueCount == 0) pthread_cond_wait(&IrqCond, &IrqLock);
        U8 Vector = Queue[QueueHead];
        QueueHead = (QueueHead + 1) % 256;
        QueueCount--;
        VECTOR* V = &Vectors[Vector];
        V->Pending = FALSE;
        BINDING Bindings[MAX_BINDINGS_PER_VECTOR];
        U32 Count = V->BindingCount;
        memcpy(Bindings, V->Bindings, sizeof(Bindings));
        if (Count == 0) {
            Spurious++;
            pthread_mutex_unlock(&IrqLock);
            HostPlatformReportViolation("INTERRUPT_UNBOUND_VECTOR", "vector %#x fired but no handler is bound to it",
                                        Vector);
            pthread_mutex_lock(&IrqLock);
            continue;
        }
        V->Count++;
        CurrentCpu = V->Cpu;
        HostActivityBegin();
        pthread_mutex_unlock(&IrqLock);

        InInterrupt = TRUE;
        BOOL Claimed = FALSE;
        for (U32 I = 0; I < Count; I++) Claimed |= Bindings[I].Handler(Bindings[I].Context);
        InInterrupt = FALSE;

        pthread_mutex_lock(&IrqLock);
        I32 LineNumber = V->Line;
        if (LineNumber >= 0) {
            LINE* L = &Lines[LineNumber];
            if (L->Level && L->Routed && !L->Masked) {
                // Still asserted after the handlers ran: a level line interrupts again at once.
                if (++L->Redeliveries >= STORM_LIMIT) {
                    L->Masked = TRUE;
                    pthread_mutex_unlock(&IrqLock);
                    HostPlatformReportViolation("INTX_STORM",
                                                "INTx line %d stayed asserted through %u handler runs (claimed: %s); "
                                                "the top half neither masked nor cleared the device's interrupt",
                                                LineNumber, STORM_LIMIT, Claimed ? "yes" : "no");
                    pthread_mutex_lock(&IrqLock);
                } else {
                    MakePendingLocked(Vector);
                }
            }
        }
        pthread_mutex_unlock(&IrqLock);
        HostActivityEnd();
        pthread_mutex_lock(&IrqLock);
    }
    return NULL;
}

void HostInterruptsInit(void) {
    for (U32 I = 0; I < 256; I++) Vectors[I].Line = -1;
    pthread_create(&CpuThread, NULL, CpuThreadMain, NULL);
    pthread_detach(CpuThread);
}

void HostInterruptsReset(void) {
    pthread_mutex_lock(&IrqLock);
    memset(Vectors, 0, sizeof(Vectors));
    for (U32 I = 0; I < 256; I++) Vectors[I].Line = -1;
    CpuCount = 1;
    memset(Lines, 0, sizeof(Lines));
    QueueHead = 0;
    QueueCount = 0;
    Spurious = 0;
    pthread_mutex_unlock(&IrqLock);
}

/************************************************************************/
// Device side

void HostInterruptMessage(U64 Address, U32 Data) {
    if ((Address & 0xFFF00000ULL) != MSI_ADDRESS_BASE || (Address >> 32) != 0) {
        HostPlatformReportViolation("MSI_BAD_ADDRESS", "message write to %#llx (data %#x): not the APIC window",
                                    Address, Data);
        return;
    }
    U8 Vector = (U8)Data;
    if (Vector < 0x10) {
        HostPlatformReportViolation("MSI_BAD_VECTOR", "message with vector %#x (reserved)", Vector);
        return;
    }
    pthread_mutex_lock(&IrqLock);
    Vectors[Vector].Cpu = (U32)((Address >> 12) & 0xFF);  // the destination ID field (physical mode)
    MakePendingLocked(Vector);
    pthread_mutex_unlock(&IrqLock);
    HostPlatformNoteActivity();
}

void HostInterruptSetLine(U32 Gsi, BOOL Asserted) {
    if (Gsi >= MAX_LINES) return;
    pthread_mutex_lock(&IrqLock);
    LINE* L = &Lines[Gsi];
    if (L->Level != Asserted) L->Redeliveries = 0;
    L->Level = Asserted;
    if (!Asserted) L->Masked = FALSE;
    if (Asserted && L->Routed && !L->Masked) MakePendingLocked(L->Vector);
    pthread_mutex_unlock(&IrqLock);
    HostPlatformNoteActivity();
}

U64 HostInterruptSpuriousCount(void) {
    pthread_mutex_lock(&IrqLock);
    U64 Count = Spurious;
    pthread_mutex_unlock(&IrqLock);
    return Count;
}

U64 HostInterruptVectorCount(U8 Vector) {
    pthread_mutex_lock(&IrqLock);
    U64 Count = Vectors[Vector].Count;
    pthread_mutex_unlock(&IrqLock);
    return Count;
}

U32 HostInterruptVectorCpu(U8 Vector) {
    pthread_mutex_lock(&IrqLock);
    U32 Cpu = Vectors[Vector].Cpu;
    pthread_mutex_unlock(&IrqLock);
    return Cpu;
}

/************************************************************************/
// Platform.h: set-up

typedef struct tag_INTERRUPT_PRIVATE {
    PLATFORM_REMAP Remap;  // remapped through the segment's owner (Remap.Routing set)
} INTERRUPT_PRIVATE;

static U8 AllocateVectorLocked(void) {
    for (U32 V = VECTOR_FIRST; V <= VECTOR_LAST; V++) {
        if (!Vectors[V].Allocated) {
            memset(&Vectors[V], 0, sizeof(VECTOR));
            Vectors[V].Allocated = TRUE;
            Vectors[V].Line = -1;
            return (U8)V;
        }
    }
    return 0;
}

static void FreeVectors(PLATFORM_INTERRUPTS* Interrupts) {
    pthread_mutex_lock(&IrqLock);
    for (U32 I = 0; I < Interrupts->Count; I++) {
        U8 V = Interrupts->Vectors[I];
        if (V == 0) continue;
        if (Vectors[V].Line >= 0) Lines[Vectors[V].Line].Routed = FALSE;
        Vectors[V].Allocated = FALSE;
        Vectors[V].BindingCount = 0;
        Vectors[V].Line = -1;
        Interrupts->Vectors[I] = 0;
    }
    pthread_mutex_unlock(&IrqLock);
    Interrupts->Count = 0;
}

static BOOL AllocateVectors(PLATFORM_INTERRUPTS* Interrupts, U32 Count) {
    Interrupts->Count = 0;
    pthread_mutex_lock(&IrqLock);
    for (U32 I = 0; I < Count; I++) {
        U8 V = AllocateVectorLocked();
        if (V == 0) break;
        Interrupts->Vectors[Interrupts->Count++] = V;
    }
    pthread_mutex_unlock(&IrqLock);
    return Interrupts->Count != 0;
}

/** Every context on its own vector when there are enough, else all on vector 0 (as the kernel does). */
static BOOL BindContexts(PLATFORM_INTERRUPTS* Interrupts) {
    BOOL Ok = TRUE;
    pthread_mutex_lock(&IrqLock);
    for (U32 I = 0; I < Interrupts->ContextCount && Ok; I++) {
        VECTOR* V = &Vectors[Interrupts->Vectors[I < Interrupts->Count ? I : 0]];
        if (V->BindingCount >= MAX_BINDINGS_PER_VECTOR) {
            Ok = FALSE;
            break;
        }
        V->Bindings[V->BindingCount].Handler = Interrupts->Handler;
        V->Bindings[V->BindingCount].Context = Interrupts->Contexts[I];
        V->Bindings[V->BindingCount].Owner = Interrupts->Private;
        V->BindingCount++;
    }
    pthread_mutex_unlock(&IrqLock);
    return Ok;
}

static void UnbindAll(PLATFORM_INTERRUPTS* Interrupts) {
    pthread_mutex_lock(&IrqLock);
    for (U32 I = 0; I < Interrupts->Count; I++) {
        VECTOR* V = &Vectors[Interrupts->Vectors[I]];
        U32 Kept = 0;
        for (U32 B = 0; B < V->BindingCount; B++) {
            if (V->Bindings[B].Owner != Interrupts->Private) V->Bindings[Kept++] = V->Bindings[B];
        }
        V->BindingCount = Kept;
    }
    pthread_mutex_unlock(&IrqLock);
}

static BOOL SetupMsix(PCI_DEVICE* Device, U32 Wanted, PLATFORM_INTERRUPTS* Interrupts) {
    if (!PCIMSIXRead(Device, &Interrupts->Msix)) return FALSE;
    if (Interrupts->Msix.Table == 0 && !PCIMSIXMap(Device, &Interrupts->Msix)) return FALSE;
    U32 Count = MIN(Wanted, Interrupts->Msix.TableSize);
    if (!AllocateVectors(Interrupts, Count)) return FALSE;
    if (!BindContexts(Interrupts)) {
        UnbindAll(Interrupts);
        FreeVectors(Interrupts);
        return FALSE;
    }
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, TRUE);
    for (U32 I = 0; I < Interrupts->Msix.TableSize; I++) PCIMSIXMaskEntry(&Interrupts->Msix, I, TRUE);
    for (U32 I = 0; I < Interrupts->Count; I++) {
        PCIMSIXSetEntry(&Interrupts->Msix, I, 0, Interrupts->Vectors[I], TRUE);
    }
    PCIMSIXControl(Device, &Interrupts->Msix, TRUE, FALSE);
    Interrupts->Mode = PCI_INTERRUPT_MSIX;
    HostMmioSyncAll();
    return TRUE;
}

static BOOL SetupMsi(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts) {
    if (!PCIMSIRead(Device, &Interrupts->Msi)) return FALSE;
    if (!AllocateVectors(Interrupts, 1)) return FALSE;
    if (!BindContexts(Interrupts) || !PCIMSIEnable(Device, &Interrupts->Msi, 0, Interrupts->Vectors[0], 0)) {
        UnbindAll(Interrupts);
        FreeVectors(Interrupts);
        return FALSE;
    }
    Interrupts->Mode = PCI_INTERRUPT_MSI;
    return TRUE;
}

static BOOL SetupIntx(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts) {
    if (Device->InterruptPin == 0 || Device->InterruptLine == 0 || Device->InterruptLine >= 16) return FALSE;
    if (!AllocateVectors(Interrupts, 1)) return FALSE;
    if (!BindContexts(Interrupts)) {
        UnbindAll(Interrupts);
        FreeVectors(Interrupts);
        return FALSE;
    }
    U32 Line = Device->InterruptLine;
    pthread_mutex_lock(&IrqLock);
    Lines[Line].Routed = TRUE;
    Lines[Line].Masked = FALSE;
    Lines[Line].Vector = Interrupts->Vectors[0];
    Lines[Line].Redeliveries = 0;
    Vectors[Interrupts->Vectors[0]].Line = (I32)Line;
    if (Lines[Line].Level) MakePendingLocked(Interrupts->Vectors[0]);
    pthread_mutex_unlock(&IrqLock);
    Interrupts->Line = Line;
    PCIDisableIntx(Device, FALSE);
    Interrupts->Mode = PCI_INTERRUPT_INTX;
    return TRUE;
}

KSTATUS PlatformInterruptSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPT_HANDLER Handler,
                               LPVOID* Contexts, U32 ContextCount, PLATFORM_INTERRUPTS* Interrupts) {
    memset(Interrupts, 0, sizeof(*Interrupts));
    if (Device == NULL || Handler == NULL || ContextCount == 0 || ContextCount > PLATFORM_MAX_VECTORS || Wanted == 0) {
        return KSTATUS_BAD_PARAMETER;
    }
    U32 Limit;
    PCI_MESSAGE_ROUTE Route = PlatformRemapRoute(Device, &Limit);
    if (Route == PCI_MESSAGES_NONE) return KSTATUS_NOT_SUPPORTED;
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)calloc(1, sizeof(INTERRUPT_PRIVATE));
    if (Private == NULL) return KSTATUS_NO_MEMORY;
    Interrupts->Private = Private;
    Interrupts->Handler = Handler;
    Interrupts->ContextCount = ContextCount;
    for (U32 I = 0; I < ContextCount; I++) Interrupts->Contexts[I] = Contexts[I];
    Wanted = MIN(MIN(Wanted, (U32)PLATFORM_MAX_VECTORS), MAX(Limit, 1U));

    PCIEnableBusMaster(Device);
    if (Route == PCI_MESSAGES_REMAPPED) {
        if (PlatformRemapSetup(Device, Wanted, Allowed, Interrupts, &Private->Remap)) {
            HostMmioSyncAll();  // the model re-reads the entries (a pending message goes out)
            return KSTATUS_SUCCESS;
        }
    } else {
        if ((Allowed & PLATFORM_ALLOW_MSIX) && SetupMsix(Device, Wanted, Interrupts)) return KSTATUS_SUCCESS;
        if ((Allowed & PLATFORM_ALLOW_MSI) && SetupMsi(Device, Interrupts)) return KSTATUS_SUCCESS;
        if ((Allowed & PLATFORM_ALLOW_INTX) && !PlatformRemapNoIntx(Device) && SetupIntx(Device, Interrupts)) {
            return KSTATUS_SUCCESS;
        }
    }

    free(Private);
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
            break;
        default:
            break;
    }
    if (Private && Private->Remap.Routing) {
        PlatformRemapRelease(Interrupts, &Private->Remap);  // the CPU vectors are the owner's
    } else {
        if (Private) UnbindAll(Interrupts);
        FreeVectors(Interrupts);
    }
    free(Private);
    Interrupts->Private = NULL;
    Interrupts->Mode = PCI_INTERRUPT_NONE;
}

void PlatformInterruptMask(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, BOOL Masked) {
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)Interrupts->Private;
    switch (Interrupts->Mode) {
        case PCI_INTERRUPT_MSIX:
            PCIMSIXMaskEntry(&Interrupts->Msix, Index, Masked);
            if (!Masked) HostMmioSyncAll();  // a pending message goes out on unmask
            break;
        case PCI_INTERRUPT_MSI:
            if (Masked) PCIMSIDisable(Device, &Interrupts->Msi);
            else if (Private && Private->Remap.Routing) PlatformRemapEnableMsi(Device, Interrupts, &Private->Remap);
            else PCIMSIEnable(Device, &Interrupts->Msi, 0, Interrupts->Vectors[0], 0);
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
    return HostInterruptVectorCount(Interrupts->Vectors[Index]);
}

KSTATUS PlatformInterruptSetAffinity(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, U32 Index, U32 Cpu) {
    INTERRUPT_PRIVATE* Private = (INTERRUPT_PRIVATE*)Interrupts->Private;
    UNUSED(Device);
    if (Cpu >= PlatformCpuCount()) return KSTATUS_BAD_PARAMETER;
    KSTATUS Status = PlatformRemapAimMsix(Interrupts, Private ? &Private->Remap : NULL, Index, Cpu, Cpu);
    if (Status == KSTATUS_SUCCESS) HostMmioSyncAll();  // the model re-reads the entry (a pending message goes out)
    return Status;
}

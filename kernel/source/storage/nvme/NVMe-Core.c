/*
 * NVMe-Core.c - the controller as an object: PCI binding and unbinding, the
 * register accessors, enable and disable (shared by bring-up and resets),
 * DMA memory the controller may still write (parked until it is seen
 * disabled), the controller's threads, the controller list and the view.
 * Bringing a controller up is NVMe-BringUp.c's, on a thread of its own.
 *
 * Binding (Attach): a controller object is made (never freed: a failed or
 * removed controller stays listed, so `nvme<C>` numbering is stable), the
 * quirks its PCI ID names are applied, and bring-up starts on its thread.
 *
 * Unbinding (Detach, told by the PCI registry when the function was removed:
 * hot unplug, a VMD reset that lost it): shutdown's and detach's common
 * rule is that whoever holds ResetMutex lets go (Stopping; every wait of the
 * watchdog, a reset or bring-up ends at its next step), then the controller
 * is REMOVED under that mutex: BAR0 is never touched again (a surprise-removed
 * device is not even read: its reads would only say all ones), every command
 * in flight, held or retrying fails with KSTATUS_IO_ERROR, the interrupts are
 * released, the disks are unregistered (their mounts report errors, nothing
 * waits), the watchdog, poll and rescan threads end, and BAR0 is unmapped.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

static NVME_CONTROLLER* Controllers[NVME_MAX_CONTROLLERS];
static U32 ControllerCount;

/************************************************************************/
// Registers

U32 NVMeRead32(NVME_CONTROLLER* Controller, U32 Offset) {
    if (UNLIKELY(__atomic_load_n(&Controller->Removed, __ATOMIC_ACQUIRE))) return MAX_U32;  // what a gone device says
    return PlatformRead32(Controller->Registers + Offset);
}

void NVMeWrite32(NVME_CONTROLLER* Controller, U32 Offset, U32 Value) {
    if (UNLIKELY(__atomic_load_n(&Controller->Removed, __ATOMIC_ACQUIRE))) return;
    PlatformWrite32(Controller->Registers + Offset, Value);
}

/** A 64-bit register as two ordered 32-bit writes, low dword first. */
static void NVMeWrite64(NVME_CONTROLLER* Controller, U32 Offset, U64 Value) {
    NVMeWrite32(Controller, Offset, (U32)Value);
    NVMeWrite32(Controller, Offset + 4, (U32)(Value >> 32));
}

KSTATUS NVMeControllerFail(NVME_CONTROLLER* Controller, KSTATUS Status, LPCSTR Format, ...) {
    char Reason[NVME_REASON_LENGTH];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Reason, sizeof(Reason), Format, Arguments);
    VA_END(Arguments);
    NVME_VIEW_SET_TEXT(Controller, StateReason, Reason);
    return Status;
}

#define Fail NVMeControllerFail

KSTATUS NVMeControllerWaitReady(NVME_CONTROLLER* Controller, BOOL Ready) {
    U64 Start = PlatformTimeNs();
    U64 LimitNs = (U64)Controller->Info.ReadyTimeoutMs * 1000000ULL;
    U64 BringUpEnd = Controller->BringUpDeadlineNs;
    if (BringUpEnd) LimitNs = MIN(LimitNs, BringUpEnd > Start ? BringUpEnd - Start : 0);
    for (;;) {
        U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
        if (Csts == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "device stopped answering (CSTS all ones)");
        if (Ready && (Csts & NVME_CSTS_CFS)) {
            return Fail(Controller, KSTATUS_IO_ERROR, "controller fatal status (CSTS %x)", Csts);
        }
        if (((Csts & NVME_CSTS_RDY) != 0) == (Ready != 0)) return KSTATUS_SUCCESS;
        if (NVMeStopAsked(Controller)) return Fail(Controller, KSTATUS_IO_ERROR, "stopped (shutdown or removal)");
        if (PlatformTimeNs() - Start > LimitNs) {
            return Fail(Controller, KSTATUS_TIMEOUT, "not %s within %u ms (CSTS %x)", Ready ? "ready" : "disabled",
                        (U32)(LimitNs / 1000000ULL), Csts);
        }
        PlatformSleepMs(1);
    }
}

KSTATUS NVMeControllerDisable(NVME_CONTROLLER* Controller) {
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) Queues[I]->CqLive = FALSE;  // a disabled controller holds no queue
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    if (Cc == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "device stopped answering (CC all ones)");
    NVMeWrite32(Controller, NVME_REG_CC, Cc & ~(NVME_CC_ENABLE | NVME_CC_SHN_MASK));
    // Some controllers freeze when their registers are read too soon after EN falls (NVMe-Quirks.c).
    U32 DelayMs = NVMeQuirkDelayMs(Controller->Quirks);
    if (DelayMs && (Cc & NVME_CC_ENABLE)) PlatformSleepMs(DelayMs);
    KSTATUS Status = NVMeControllerWaitReady(Controller, FALSE);
    // EN=0 and RDY=0 seen: the controller owns no memory of ours any more (issue 11, defect 2).
    if (Status == KSTATUS_SUCCESS) NVMeDmaReleaseParked(Controller);
    return Status;
}

KSTATUS NVMeControllerEnable(NVME_CONTROLLER* Controller) {
    NVME_QUEUE* Admin = &Controller->Admin;
    U32 Depth = Admin->Depth;
    NVMeWrite32(Controller, NVME_REG_AQA, ((Depth - 1) << 16) | (Depth - 1));
    NVMeWrite64(Controller, NVME_REG_ASQ_LOW, Admin->SqMemory.Physical);
    NVMeWrite64(Controller, NVME_REG_ACQ_LOW, Admin->CqMemory.Physical);

    U32 Css = (Controller->Info.Cap.Css & NVME_CAP_CSS_NVM) ? NVME_CC_CSS_NVM : NVME_CC_CSS_ALL;
    U32 Cc = (Css << NVME_CC_CSS_SHIFT) | (0U << NVME_CC_MPS_SHIFT) | (0U << NVME_CC_AMS_SHIFT) |
             (NVME_SQES_LOG2 << NVME_CC_IOSQES_SHIFT) | (NVME_CQES_LOG2 << NVME_CC_IOCQES_SHIFT);
    NVMeWrite32(Controller, NVME_REG_CC, Cc);  // entry sizes and page size before EN
    NVMeWrite32(Controller, NVME_REG_CC, Cc | NVME_CC_ENABLE);
    KSTATUS Status = NVMeControllerWaitReady(Controller, TRUE);
    Admin->CqLive = Status == KSTATUS_SUCCESS;  // EN's rising edge created the admin queues
    return Status;
}

void NVMeControllerAssignVector(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U32 Index) {
    if (Controller->Info.Polling) {
        Queue->Ops = &NVMePolledQueueOps;
        Queue->MessageIndex = 0;
        return;
    }
    PLATFORM_INTERRUPTS* Interrupts = &Controller->Interrupts;
    Queue->MessageIndex = Index < Interrupts->Count ? Index : 0;
    Queue->Ops = Interrupts->Mode == PCI_INTERRUPT_INTX ? &NVMeIntxQueueOps : &NVMeInterruptQueueOps;
    // Vector i > 0 carries context i alone: contexts beyond the vectors granted join vector 0, the admin
    // queue's (PlatformInterruptSetup's rule).
    Queue->OwnVector = Index > 0 && Interrupts->Mode == PCI_INTERRUPT_MSIX && Index < Interrupts->Count;
    Queue->TargetCpu = 0;
    if (!Queue->OwnVector) return;
    U32 Cpu = (Index - 1) % PlatformCpuCount();
    // Refused (a remapped vector, a CPU gone): the vector stays where set-up aimed it; only locality is lost.
    if (PlatformInterruptSetAffinity(Controller->Device, Interrupts, Index, Cpu) == KSTATUS_SUCCESS) {
        Queue->TargetCpu = Cpu;
    } else {
        Queue->TargetCpu = Interrupts->TargetCpus[Index];
    }
}

/************************************************************************/
// Memory the controller may still write (issue 11, defect 2)

void NVMeDmaPark(NVME_CONTROLLER* Controller, PLATFORM_DMA* Region) {
    if (Region->Linear == NULL) return;
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    if (Controller->ParkedCount < NVME_MAX_PARKED) Controller->Parked[Controller->ParkedCount++] = *Region;
    PlatformLockRelease(Controller->ViewLock, State);  // no room: forgotten, never freed (never reused either)
    MemorySet(Region, 0, sizeof(*Region));
}

void NVMeDmaRetirePage(NVME_CONTROLLER* Controller, PHYSICAL Page) {
    PLATFORM_DMA* Slots[] = {&Controller->ScratchPage, &Controller->EventPage};
    for (U32 I = 0; I < ARRAY_COUNT(Slots); I++) {
        PLATFORM_DMA* Slot = Slots[I];
        if (Slot->Linear == NULL || Page < Slot->Physical || Page >= Slot->Physical + Slot->Size) continue;
        NVMeDmaPark(Controller, Slot);
        // A fresh page for the next command; none to be had: the users of this page answer KSTATUS_NO_MEMORY
        // until a reset gives the parked one back.
        if (PlatformDMAAlloc(NVME_IDENTIFY_SIZE, 4096, 0, Slot) != KSTATUS_SUCCESS) MemorySet(Slot, 0, sizeof(*Slot));
        DEBUG("[NVMeDma] %s: a page a timed-out command named is kept until the controller is disabled",
              Controller->Info.Name);
    }
}

void NVMeDmaReleaseParked(NVME_CONTROLLER* Controller) {
    PLATFORM_DMA Parked[NVME_MAX_PARKED];
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    U32 Count = Controller->ParkedCount;
    MemoryCopy(Parked, Controller->Parked, Count * sizeof(PLATFORM_DMA));
    Controller->ParkedCount = 0;
    PlatformLockRelease(Controller->ViewLock, State);
    for (U32 I = 0; I < Count; I++) {
        PLATFORM_DMA* Slot = NULL;
        if (Parked[I].Size == NVME_IDENTIFY_SIZE && Controller->ScratchPage.Linear == NULL) Slot = &Controller->ScratchPage;
        else if (Parked[I].Size == NVME_IDENTIFY_SIZE && Controller->EventPage.Linear == NULL) Slot = &Controller->EventPage;
        if (Slot) {
            MemorySet(Parked[I].Linear, 0, NVME_IDENTIFY_SIZE);
            *Slot = Parked[I];  // a page lost to a timeout, back in use
        } else {
            PlatformDMAFree(&Parked[I]);
        }
    }
}

/************************************************************************/
// The controller's threads

BOOL NVMeThreadStart(NVME_CONTROLLER* Controller, LPCSTR Suffix, PLATFORM_FUNCTION Function) {
    char Name[24];
    StringCopy(Name, Controller->Info.Name, sizeof(Name));
    StringAppend(Name, Suffix, sizeof(Name));
    __atomic_add_fetch(&Controller->ThreadsRunning, 1, __ATOMIC_ACQ_REL);
    if (PlatformThreadCreate(Name, Function, Controller)) return TRUE;
    __atomic_sub_fetch(&Controller->ThreadsRunning, 1, __ATOMIC_ACQ_REL);
    return FALSE;
}

void NVMeThreadEnd(NVME_CONTROLLER* Controller) { __atomic_sub_fetch(&Controller->ThreadsRunning, 1, __ATOMIC_ACQ_REL); }

/************************************************************************/
// PCI binding

static KSTATUS NVMeAttach(PCI_DEVICE* Device) {
    if (ControllerCount >= NVME_MAX_CONTROLLERS) {
        WARNING("[NVMeAttach] more than %u controllers: %04x:%02x:%02x.%x ignored", NVME_MAX_CONTROLLERS,
                Device->Segment, Device->Bus, Device->Device, Device->Function);
        return KSTATUS_NO_MEMORY;
    }
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)PlatformAllocZero(sizeof(NVME_CONTROLLER));
    if (Controller == NULL) return KSTATUS_NO_MEMORY;
    Controller->ViewLock = PlatformLockCreate();
    if (Controller->ViewLock == NULL) {
        PlatformFree(Controller);
        return KSTATUS_NO_MEMORY;
    }
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    Info->Index = ControllerCount;
    StringPrintFormat(Info->Name, sizeof(Info->Name), "nvme%u", Info->Index);
    Info->State = NVME_STATE_PROBING;
    Info->PciSegment = Device->Segment;
    Info->PciBus = Device->Bus;
    Info->PciDevice = Device->Device;
    Info->PciFunction = Device->Function;
    Info->PciVendorId = Device->VendorId;
    Info->PciDeviceId = Device->DeviceId;
    // Quirks by PCI ID act before anything else happens: the DMA limit before the first allocation.
    Controller->Quirks = NVMeQuirksForDevice(Device->VendorId, Device->DeviceId);
    Info->Quirks = Controller->Quirks;
    if ((Controller->Quirks & NVME_QUIRK_DMA_48BIT) && (Device->DmaAddressBits == 0 || Device->DmaAddressBits > 48)) {
        Device->DmaAddressBits = 48;
    }
    Controller->Device = Device;
    Device->DriverData = Controller;
    __atomic_store_n(&Controllers[ControllerCount], Controller, __ATOMIC_RELEASE);
    __atomic_store_n(&ControllerCount, ControllerCount + 1, __ATOMIC_RELEASE);
    NVMeBringUpStart(Controller);
    return KSTATUS_SUCCESS;  // failed or not, the device stays ours (a rebind would renumber controllers)
}

/** Waits (bounded) until Count reaches 0; FALSE if it did not. */
static BOOL WaitZero(U32* Count, U32 LimitMs) {
    for (U32 Waited = 0; __atomic_load_n(Count, __ATOMIC_ACQUIRE) != 0; Waited++) {
        if (Waited >= LimitMs) return FALSE;
        PlatformSleepMs(1);
    }
    return TRUE;
}

#define DETACH_WAIT_MS 10000  // the controller's threads end at their next step (250 ms at most): ample

static void NVMeDetach(PCI_DEVICE* Device) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Device->DriverData;
    if (Controller == NULL) return;
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    U64 Start = PlatformTimeNs();
    // A surprise removal: not one more BAR0 access (its reads would only answer all ones).
    if (Device->Removed) __atomic_store_n(&Controller->Removed, TRUE, __ATOMIC_RELEASE);
    // Whoever holds the controller lets go: bring-up, the watchdog, a reset, a rescan end at their next step.
    __atomic_store_n(&Controller->Stopping, NVME_STOP_ASKED, __ATOMIC_RELEASE);
    NVMeRecoveryKick(Controller);
    if (Controller->PollEvent) PlatformEventSignal(Controller->PollEvent);
    BOOL BringUpDone = TRUE;
    for (U32 Waited = 0; __atomic_load_n(&Controller->BringUpRunning, __ATOMIC_ACQUIRE); Waited++) {
        if (Waited >= DETACH_WAIT_MS) {
            BringUpDone = FALSE;
            break;
        }
        PlatformSleepMs(1);
    }
    U32 Failed = 0;
    if (Controller->ResetMutex) PlatformMutexLock(Controller->ResetMutex);
    __atomic_store_n(&Controller->Stopping, NVME_STOP_OWNED, __ATOMIC_RELEASE);
    if (!Controller->Removed && Controller->Enabled && Controller->Info.State != NVME_STATE_SHUTDOWN) {
        // Still there (unbound, not unplugged): no more DMA into memory we are about to stop watching.
        U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
        if (Cc != MAX_U32 && (Cc & NVME_CC_ENABLE)) NVMeWrite32(Controller, NVME_REG_CC, Cc & ~NVME_CC_ENABLE);
    }
    __atomic_store_n(&Controller->Removed, TRUE, __ATOMIC_RELEASE);
    PCISetCommandBits(Device, 0, PCI_COMMAND_BUS_MASTER);
    NVMeControllerSetState(Controller, NVME_STATE_REMOVED, "device removed");
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) {
        NVME_QUEUE* Queue = Queues[I];
        Queue->CqLive = FALSE;
        Failed += Queue->Stats.Outstanding + Queue->Held + Queue->Retrying;
        if (Queue->Mode != NVME_QUEUE_DEAD) NVMeQueueSetMode(Queue, NVME_QUEUE_DEAD);  // everything it holds fails
    }
    if (Controller->InterruptsActive) {
        PlatformInterruptRelease(Device, &Controller->Interrupts);
        Controller->InterruptsActive = FALSE;
    }
    if (Controller->ResetMutex) PlatformMutexUnlock(Controller->ResetMutex);
    NVMeRecoveryKick(Controller);  // the watchdog sees REMOVED and ends
    if (Controller->PollEvent) PlatformEventSignal(Controller->PollEvent);
    if (Controller->NamespaceMutex) NVMeNamespaceDropDisks(Controller, "removed with its controller");
    BOOL Ended = WaitZero(&Controller->ThreadsRunning, DETACH_WAIT_MS) && BringUpDone;
    if (Ended && Controller->Registers) {
        PlatformUnmapMMIO(Controller->Registers, Controller->RegisterSize);
        Controller->Registers = 0;
    }
    WARNING("[NVMeDetach] %s (%04x:%02x:%02x.%x): removed in %llu ms: %u command(s) failed, its disks are gone%s",
            Info->Name, Info->PciSegment, Info->PciBus, Info->PciDevice, Info->PciFunction,
            (PlatformTimeNs() - Start) / 1000000, Failed, Ended ? "" : " (a thread did not end)");
}

BOOL NVMeWaitBringUp(U32 TimeoutMs) {
    for (U32 Waited = 0;; Waited += 10) {
        BOOL Busy = FALSE;
        for (U32 I = 0; I < NVMeGetControllerCount() && !Busy; I++) {
            Busy = __atomic_load_n(&NVMeGetControllerInternal(I)->BringUpRunning, __ATOMIC_ACQUIRE);
        }
        if (!Busy) return TRUE;
        if (Waited >= TimeoutMs) return FALSE;
        PlatformSleepMs(10);
    }
}

static const PCI_MATCH NVMeMatches[] = {
    {PCI_ANY_ID, PCI_ANY_ID, 0x01, 0x08, 0x02},  // mass storage, non-volatile memory, NVM Express
};

static PCI_DRIVER NVMeDriver = {
    .Name = "nvme",
    .Matches = NVMeMatches,
    .MatchCount = ARRAY_COUNT(NVMeMatches),
    .Probe = NULL,
    .Attach = NVMeAttach,
    .Detach = NVMeDetach,
    .ResetPrepare = NVMeResetPrepare,
    .ResetDone = NVMeResetDone,
    .Next = NULL,
};

void NVMeRegisterDriver(void) { PCIRegisterDriver(&NVMeDriver); }

/************************************************************************/
// Controller list

U32 NVMeGetControllerCount(void) { return __atomic_load_n(&ControllerCount, __ATOMIC_ACQUIRE); }

NVME_CONTROLLER* NVMeGetControllerInternal(U32 Index) {
    return Index < NVMeGetControllerCount() ? __atomic_load_n(&Controllers[Index], __ATOMIC_ACQUIRE) : NULL;
}

U32 NVMeControllerQueues(NVME_CONTROLLER* Controller, NVME_QUEUE** Queues) {
    U32 Count = 0;
    if (Controller->Admin.Allocated) Queues[Count++] = &Controller->Admin;
    for (U32 I = 0; I < Controller->IoCount; I++) {
        if (Controller->Io[I].Allocated) Queues[Count++] = &Controller->Io[I];
    }
    return Count;
}

/************************************************************************/
// The public view

void NVMeViewSetText(NVME_CONTROLLER* Controller, LPSTR Field, SIZE Size, LPCSTR Text) {
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    StringCopy(Field, Text, Size);
    PlatformLockRelease(Controller->ViewLock, State);
}

void NVMeViewSetError(NVME_CONTROLLER* Controller, U16 NvmeStatus) {
    char Text[NVME_REASON_LENGTH];
    NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    Controller->Info.LastErrorStatus = NvmeStatus;
    StringCopy(Controller->Info.LastError, Text, sizeof(Controller->Info.LastError));
    PlatformLockRelease(Controller->ViewLock, State);
}

/** A queue's figures as they are now, taken under its lock. */
static void CopyQueueView(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, NVME_QUEUE_INFO* View) {
    U64 State = PlatformLockAcquire(Queue->Lock);
    *View = Queue->Stats;
    View->FreeTrackers = Queue->Cids.FreeCount;
    View->Held = Queue->Held;
    View->Retrying = Queue->Retrying;
    View->Live = Queue->Mode == NVME_QUEUE_LIVE;
    PlatformLockRelease(Queue->Lock, State);
    View->Polled = Queue->Ops == &NVMePolledQueueOps || Queue->Ops == &NVMeWaiterPolledQueueOps;
    View->MessageIndex = Queue->MessageIndex;
    BOOL HasVector =
        !View->Polled && Controller->InterruptsActive && Queue->MessageIndex < Controller->Interrupts.Count;
    View->CpuVector = HasVector ? Controller->Interrupts.Vectors[Queue->MessageIndex] : 0;
    View->TargetCpu = HasVector ? Controller->Interrupts.TargetCpus[Queue->MessageIndex] : 0;
    View->OwnVector = HasVector && Queue->OwnVector;
}

KSTATUS NVMeGetController(U32 Index, NVME_CONTROLLER_INFO* View) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(Index);
    if (Controller == NULL || View == NULL) return KSTATUS_NOT_FOUND;
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    *View = Controller->Info;
    PlatformLockRelease(Controller->ViewLock, State);

    View->AerOutstanding = __atomic_load_n(&Controller->AerOutstanding, __ATOMIC_RELAXED);
    View->BringUpRunning = __atomic_load_n(&Controller->BringUpRunning, __ATOMIC_ACQUIRE);
    View->ThreadsRunning = __atomic_load_n(&Controller->ThreadsRunning, __ATOMIC_ACQUIRE);
    U32 WaiterFree = 0;
    if (Controller->WaiterLock) {
        State = PlatformLockAcquire(Controller->WaiterLock);
        WaiterFree = Controller->WaiterFree;
        PlatformLockRelease(Controller->WaiterLock, State);
    }
    View->WaiterEventsFree = 0;
    for (U32 I = 0; I < NVME_WAITER_POOL; I++) View->WaiterEventsFree += (WaiterFree >> I) & 1;
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    View->QueueCount = NVMeControllerQueues(Controller, Queues);
    View->CommandsSubmitted = View->CommandsCompleted = View->BadCompletions = 0;
    for (U32 I = 0; I < View->QueueCount; I++) {
        NVME_QUEUE_INFO* Queue = &View->Queues[I];
        CopyQueueView(Controller, Queues[I], Queue);
        View->CommandsSubmitted += Queue->Submitted;
        View->CommandsCompleted += Queue->Completed;
        View->BadCompletions += Queue->BadCompletions;
    }
    return KSTATUS_SUCCESS;
}

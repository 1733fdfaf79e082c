/*
 * NVMe-Core.c - binds NVMe controllers found on PCI and brings them up.
 *
 * Bring-up, per controller (NVMe 2.0 section 3.5.1):
 *   map BAR0 uncached, enable memory space and bus mastering, read CAP
 *   (low then high dword) and VS; take the controller from firmware (if
 *   CC.EN is set: let a pending enable finish, clear EN, wait for RDY=0,
 *   bounded by CAP.TO); set up interrupts (MSI-X vector per queue, else
 *   MSI, else INTx, else polling) while disabled, because the admin CQ gets
 *   its vector when EN rises; program AQA/ASQ/ACQ; set CC (NVM command set,
 *   4 KiB pages, round robin, 64/16-byte entries) and enable; wait for
 *   RDY=1; Identify Controller (if only polling found its completion, poll
 *   from now on); Number of Queues; create the I/O queue pairs; discover
 *   namespaces; register the shutdown hook; start the watchdog (from here
 *   on every command is supervised: NVMe-Recovery.c) and arm asynchronous
 *   events (NVMe-Health.c); register DISKs.
 * A controller that fails any step is reported in one line and left alone;
 * it stays in the list (state FAILED) so `nvme<C>` numbering is stable.
 * The enable and disable steps are shared with the reset path.
 *
 * Boot options: nvme.poll=1 (poll every controller), nvme.queues=N (I/O
 * queue pairs wanted, default 1: one per CPU), nvme.irq=msix|msi|intx (the
 * only interrupt mode to try), nvme.io_timeout=S and nvme.admin_timeout=S
 * (command deadlines in seconds, default 30 and 60).
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

static NVME_CONTROLLER* Controllers[NVME_MAX_CONTROLLERS];
static U32 ControllerCount;

/************************************************************************/
// Registers

U32 NVMeRead32(NVME_CONTROLLER* Controller, U32 Offset) { return PlatformRead32(Controller->Registers + Offset); }
void NVMeWrite32(NVME_CONTROLLER* Controller, U32 Offset, U32 Value) {
    PlatformWrite32(Controller->Registers + Offset, Value);
}

/** A 64-bit register as two ordered 32-bit writes, low dword first. */
static void NVMeWrite64(NVME_CONTROLLER* Controller, U32 Offset, U64 Value) {
    NVMeWrite32(Controller, Offset, (U32)Value);
    NVMeWrite32(Controller, Offset + 4, (U32)(Value >> 32));
}

static KSTATUS Fail(NVME_CONTROLLER* Controller, KSTATUS Status, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
static KSTATUS Fail(NVME_CONTROLLER* Controller, KSTATUS Status, LPCSTR Format, ...) {
    char Reason[NVME_REASON_LENGTH];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Reason, sizeof(Reason), Format, Arguments);
    VA_END(Arguments);
    NVME_VIEW_SET_TEXT(Controller, StateReason, Reason);
    return Status;
}

/** Waits (sleeping between reads) until CSTS.RDY equals Ready, bounded by CAP.TO. */
static KSTATUS WaitReady(NVME_CONTROLLER* Controller, BOOL Ready) {
    U64 Start = PlatformTimeNs();
    for (;;) {
        U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
        if (Csts == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "device stopped answering (CSTS all ones)");
        if (Ready && (Csts & NVME_CSTS_CFS)) {
            return Fail(Controller, KSTATUS_IO_ERROR, "controller fatal status (CSTS %x)", Csts);
        }
        if (((Csts & NVME_CSTS_RDY) != 0) == (Ready != 0)) return KSTATUS_SUCCESS;
        if (PlatformTimeNs() - Start > (U64)Controller->Info.ReadyTimeoutMs * 1000000) {
            return Fail(Controller, KSTATUS_TIMEOUT, "not %s within %u ms (CSTS %x)", Ready ? "ready" : "disabled",
                        Controller->Info.ReadyTimeoutMs, Csts);
        }
        PlatformSleepMs(1);
    }
}

/************************************************************************/
// Bring-up steps

static KSTATUS MapAndReadCapabilities(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    PCI_BAR* Bar = &Controller->Device->Bars[0];
    if ((Bar->Type != PCI_BAR_MEMORY64 && Bar->Type != PCI_BAR_MEMORY32) || Bar->Base == 0 || Bar->Size < 0x2000) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "BAR0 unusable (type %u, size %llx)", Bar->Type, Bar->Size);
    }
    Info->RegisterBase = Bar->Base;
    Info->RegisterSize = Bar->Size;
    Controller->Registers = PlatformMapMMIO(Bar->Base, Bar->Size);
    if (Controller->Registers == 0) return Fail(Controller, KSTATUS_NO_MEMORY, "cannot map BAR0");
    Controller->RegisterSize = Bar->Size;
    PCIEnableMemorySpace(Controller->Device);
    PCIEnableBusMaster(Controller->Device);

    U32 Low = NVMeRead32(Controller, NVME_REG_CAP_LOW);
    U32 High = NVMeRead32(Controller, NVME_REG_CAP_HIGH);
    Info->Version = NVMeRead32(Controller, NVME_REG_VS);
    U64 Cap = ((U64)High << 32) | Low;
    if (Cap == MAX_U64) return Fail(Controller, KSTATUS_IO_ERROR, "registers read all ones");
    NVME_CAP_INFO* C = &Info->Cap;
    NVMeDecodeCap(Cap, C);
    Info->ReadyTimeoutMs = ((U32)C->Timeout + 1) * 500;  // CAP.TO is in 500 ms units; +1 covers TO = 0

    if (C->Mqes == 0) {
        WARNING("[NVMeBringUp] %s: CAP.MQES is 0 (invalid), assuming 64 entries", Info->Name);
        C->Mqes = 63;
    }
    if (C->MpsMin > 0 || C->MpsMax < C->MpsMin) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "memory page sizes %u..%u KiB exclude 4 KiB", 4U << C->MpsMin,
                    4U << C->MpsMax);
    }
    Info->PageSize = 4096;  // MPS 0: the CPU's page size, and PlatformTranslate's
    if (!(C->Css & (NVME_CAP_CSS_NVM | NVME_CAP_CSS_IO_SETS))) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "no NVM command set (CAP.CSS %x)", C->Css);
    }
    if (NVMeDoorbellOffset(1, TRUE, C->Dstrd) + 4 > Bar->Size) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "BAR0 too small for one I/O queue's doorbells");
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS DisableController(NVME_CONTROLLER* Controller) {
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    if (Csts == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "CSTS reads all ones");
    if (Cc & NVME_CC_ENABLE) {
        Controller->Info.WasEnabledByFirmware = TRUE;
        // An enable still in progress must finish before EN may be cleared (unless the controller is dead).
        if (!(Csts & NVME_CSTS_RDY) && !(Csts & NVME_CSTS_CFS)) WaitReady(Controller, TRUE);
        NVMeWrite32(Controller, NVME_REG_CC, Cc & ~(NVME_CC_ENABLE | NVME_CC_SHN_MASK));
    }
    return WaitReady(Controller, FALSE);
}

KSTATUS NVMeControllerDisable(NVME_CONTROLLER* Controller) {
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) Queues[I]->CqLive = FALSE;  // a disabled controller holds no queue
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    if (Cc == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "device stopped answering (CC all ones)");
    NVMeWrite32(Controller, NVME_REG_CC, Cc & ~(NVME_CC_ENABLE | NVME_CC_SHN_MASK));
    return WaitReady(Controller, FALSE);
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
    KSTATUS Status = WaitReady(Controller, TRUE);
    Admin->CqLive = Status == KSTATUS_SUCCESS;  // EN's rising edge created the admin queues
    return Status;
}

static KSTATUS AllocateControllerResources(NVME_CONTROLLER* Controller) {
    Controller->AdminMutex = PlatformMutexCreate();
    Controller->ResetMutex = PlatformMutexCreate();
    Controller->WaiterLock = PlatformLockCreate();
    Controller->EventLock = PlatformLockCreate();
    Controller->WatchEvent = PlatformEventCreate(FALSE);
    if (!Controller->AdminMutex || !Controller->ResetMutex || !Controller->WaiterLock || !Controller->EventLock ||
        !Controller->WatchEvent) {
        return Fail(Controller, KSTATUS_NO_MEMORY, "out of memory");
    }
    for (U32 I = 0; I < NVME_WAITER_POOL; I++) {
        Controller->Waiters[I] = PlatformEventCreate(FALSE);
        if (Controller->Waiters[I]) Controller->WaiterFree |= 1U << I;
    }
    if (PlatformDMAAlloc(NVME_IDENTIFY_SIZE, 4096, 0, &Controller->IdentifyPage) != KSTATUS_SUCCESS ||
        PlatformDMAAlloc(NVME_IDENTIFY_SIZE, 4096, 0, &Controller->ScratchPage) != KSTATUS_SUCCESS ||
        PlatformDMAAlloc(NVME_IDENTIFY_SIZE, 4096, 0, &Controller->EventPage) != KSTATUS_SUCCESS) {
        return Fail(Controller, KSTATUS_NO_MEMORY, "out of DMA memory");
    }
    U16 Depth = (U16)MIN((U32)NVME_ADMIN_QUEUE_DEPTH, Controller->Info.Cap.Mqes + 1);
    KSTATUS Status = NVMeQueueAllocate(Controller, &Controller->Admin, 0, Depth, FALSE);
    if (Status != KSTATUS_SUCCESS) return Fail(Controller, Status, "cannot allocate the admin queue");
    return KSTATUS_SUCCESS;
}

/** How many I/O queue pairs to ask for: nvme.queues (default one per CPU: 1), within the driver and BAR0. */
static U32 WantedIoQueues(NVME_CONTROLLER* Controller) {
    U64 Wanted = 1;
    LPCSTR Option = PlatformGetOption("nvme.queues");
    if (Option && (!StringToU64(Option, &Wanted, FALSE) || Wanted == 0)) Wanted = 1;
    Wanted = MIN(Wanted, (U64)NVME_MAX_IO_QUEUES);
    Wanted = MIN(Wanted, (U64)PLATFORM_MAX_VECTORS - 1);
    U8 Dstrd = Controller->Info.Cap.Dstrd;
    while (Wanted > 1 && NVMeDoorbellOffset((U16)Wanted, TRUE, Dstrd) + 4 > Controller->RegisterSize) Wanted--;
    return (U32)Wanted;
}

/** The vector queue Index (0 = admin) uses, and whether its handler must check its own CQ. */
static void AssignVector(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U32 Index) {
    if (Controller->Info.Polling) {
        Queue->Ops = &NVMePolledQueueOps;
        Queue->MessageIndex = 0;
        return;
    }
    PLATFORM_INTERRUPTS* Interrupts = &Controller->Interrupts;
    Queue->MessageIndex = Index < Interrupts->Count ? Index : 0;
    Queue->SharedVector = Interrupts->Mode == PCI_INTERRUPT_INTX ||
                          (Queue->MessageIndex == 0 && Interrupts->Count < Interrupts->ContextCount);
    Queue->Ops = Interrupts->Mode == PCI_INTERRUPT_INTX ? &NVMeIntxQueueOps : &NVMeInterruptQueueOps;
}

static void SetupInterrupts(NVME_CONTROLLER* Controller, U32 IoQueues) {
    LPCSTR Poll = PlatformGetOption("nvme.poll");
    if (Poll && StringCompare(Poll, "0") != 0) {
        NVMeControllerStartPolling(Controller, "nvme.poll=1");
        return;
    }
    U32 Allowed = PLATFORM_ALLOW_ALL;
    LPCSTR Mode = PlatformGetOption("nvme.irq");
    if (Mode && StringCompare(Mode, "msix") == 0) Allowed = PLATFORM_ALLOW_MSIX;
    if (Mode && StringCompare(Mode, "msi") == 0) Allowed = PLATFORM_ALLOW_MSI;
    if (Mode && StringCompare(Mode, "intx") == 0) Allowed = PLATFORM_ALLOW_INTX;
    LPVOID Contexts[1 + NVME_MAX_IO_QUEUES];
    Contexts[0] = &Controller->Admin;
    for (U32 I = 0; I < IoQueues; I++) Contexts[1 + I] = &Controller->Io[I];
    if (PlatformInterruptSetup(Controller->Device, 1 + IoQueues, Allowed, NVMeQueueInterrupt, Contexts, 1 + IoQueues,
                               &Controller->Interrupts) != KSTATUS_SUCCESS) {
        NVMeControllerStartPolling(Controller, "no interrupt mode available");
        return;
    }
    Controller->InterruptsActive = TRUE;
    Controller->Info.InterruptMode = Controller->Interrupts.Mode;
    Controller->Info.VectorCount = Controller->Interrupts.Count;
    AssignVector(Controller, &Controller->Admin, 0);
}

static KSTATUS IdentifyController(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    KSTATUS Status = NVMeAdminIdentify(Controller, NVME_CNS_CONTROLLER, 0, Controller->IdentifyPage.Physical, FALSE);
    // The first admin command tells whether interrupts work: if it was only found by polling, poll from now on.
    if (!Info->Polling && Controller->Admin.Stats.ReapedByWaiter > 0 &&
        PlatformInterruptCount(&Controller->Interrupts, 0) == 0) {
        NVMeControllerStartPolling(Controller, "no interrupt arrived for the admin Identify");
    }
    if (Status != KSTATUS_SUCCESS) return Fail(Controller, Status, "Identify Controller failed");
    NVMeDecodeIdentifyController((const U8*)Controller->IdentifyPage.Linear, &Info->Identify);
    Info->IdentifyData = (const U8*)Controller->IdentifyPage.Linear;
    Info->IdentifyValid = TRUE;

    NVME_IDENTIFY_INFO* Id = &Info->Identify;
    U8 SqMin = Id->Sqes & 0xF, SqMax = Id->Sqes >> 4, CqMin = Id->Cqes & 0xF, CqMax = Id->Cqes >> 4;
    if (Id->Sqes != 0 && (SqMin > NVME_SQES_LOG2 || SqMax < NVME_SQES_LOG2)) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "SQES %x excludes 64-byte entries", Id->Sqes);
    }
    if (Id->Cqes != 0 && (CqMin > NVME_CQES_LOG2 || CqMax < NVME_CQES_LOG2)) {
        return Fail(Controller, KSTATUS_NOT_SUPPORTED, "CQES %x excludes 16-byte entries", Id->Cqes);
    }
    if (Id->Mdts > 20) WARNING("[NVMeBringUp] %s: MDTS %u is absurd, ignored", Info->Name, Id->Mdts);
    Info->MdtsBytes = NVMeMdtsBytes(Id->Mdts, Info->Cap.MpsMin);
    Info->MaxCommandBytes = NVMeMaxCommandBytes(Info->MdtsBytes, NVME_PRP_PAGES_PER_TRACKER, Info->PageSize);

    char Mdts[24];
    if (Info->MdtsBytes) FormatByteSize(Mdts, sizeof(Mdts), Info->MdtsBytes, FORMAT_SIZE_TENTHS);
    else StringCopy(Mdts, "none", sizeof(Mdts));
    INFO("[NVMeBringUp] %s: NVMe %u.%u.%u \"%s\" serial %s fw %s, MQES %u, CQR %u, DSTRD %u, timeout %u ms, "
         "MDTS %s, NN %u, VWC %u%s",
         Info->Name, Info->Version >> 16, (Info->Version >> 8) & 0xFF, Info->Version & 0xFF, Id->Model, Id->Serial,
         Id->Firmware, Info->Cap.Mqes + 1, Info->Cap.Cqr, Info->Cap.Dstrd, Info->ReadyTimeoutMs, Mdts, Id->Nn,
         Id->Vwc & NVME_VWC_PRESENT, Info->WasEnabledByFirmware ? ", taken over from firmware (was enabled)" : "");
    return KSTATUS_SUCCESS;
}

static void CreateIoQueues(NVME_CONTROLLER* Controller, U32 Wanted) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    U32 Granted = 0;
    Info->IoQueuesRequested = Wanted;
    if (NVMeAdminSetQueueCount(Controller, Wanted, &Granted) != KSTATUS_SUCCESS) {
        WARNING("[NVMeBringUp] %s: Set Features Number of Queues failed: admin queue only", Info->Name);
        return;
    }
    Info->IoQueuesGranted = Granted;
    U32 Depth = MIN(Info->Cap.Mqes + 1, (U32)NVME_IO_QUEUE_DEPTH_MAX);
    for (U32 I = 0; I < Granted; I++) {
        NVME_QUEUE* Queue = &Controller->Io[I];
        KSTATUS Status = KSTATUS_NO_MEMORY;
        // Less memory, shallower queue: down to 64 entries before giving up.
        for (U32 Try = Depth; Try >= MIN(Depth, 64U); Try /= 2) {
            Status = NVMeQueueAllocate(Controller, Queue, (U16)(I + 1), (U16)Try, TRUE);
            if (Status == KSTATUS_SUCCESS || Try <= 64) break;
        }
        if (Status != KSTATUS_SUCCESS) {
            WARNING("[NVMeBringUp] %s: no memory for I/O queue %u", Info->Name, I + 1);
            break;
        }
        AssignVector(Controller, Queue, I + 1);
        if (NVMeAdminCreateQueuePair(Controller, Queue, !Info->Polling) != KSTATUS_SUCCESS) {
            WARNING("[NVMeBringUp] %s: creating I/O queue %u failed", Info->Name, I + 1);
            NVMeQueueFree(Queue);
            break;
        }
        Controller->IoCount = I + 1;
    }
    Info->IoQueueCount = Controller->IoCount;
}

/** A timeout option in seconds (1..3600), or Default milliseconds. */
static U32 TimeoutOption(LPCSTR Name, U32 DefaultMs) {
    U64 Seconds = 0;
    LPCSTR Option = PlatformGetOption(Name);
    if (Option == NULL) return DefaultMs;
    if (!StringToU64(Option, &Seconds, FALSE) || Seconds == 0 || Seconds > 3600) {
        WARNING("[NVMeBringUp] %s=%s ignored (seconds, 1..3600)", Name, Option);
        return DefaultMs;
    }
    return (U32)Seconds * 1000;
}

static KSTATUS BringUp(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    Controller->IoTimeoutMs = TimeoutOption("nvme.io_timeout", NVME_IO_TIMEOUT_MS);
    Controller->AdminTimeoutMs = TimeoutOption("nvme.admin_timeout", NVME_ADMIN_TIMEOUT_MS);
    KSTATUS Status = MapAndReadCapabilities(Controller);
    if (Status == KSTATUS_SUCCESS) Status = DisableController(Controller);
    if (Status == KSTATUS_SUCCESS) Status = AllocateControllerResources(Controller);
    if (Status != KSTATUS_SUCCESS) return Status;
    // Interrupts before EN: a controller may bind a CQ to its MSI-X vector only when the CQ is created (QEMU
    // does: msix_vector_use at CQ creation, and the admin CQ is created by the 0->1 edge of CC.EN).
    U32 Wanted = WantedIoQueues(Controller);
    Controller->WantedIoQueues = Wanted;
    SetupInterrupts(Controller, Wanted);
    Status = NVMeControllerEnable(Controller);
    if (Status == KSTATUS_SUCCESS) Status = IdentifyController(Controller);
    if (Status != KSTATUS_SUCCESS) return Status;
    CreateIoQueues(Controller, Wanted);
    Status = NVMeAdminDiscoverNamespaces(Controller);
    if (Status != KSTATUS_SUCCESS) return Fail(Controller, Status, "namespace discovery failed");
    NVMeControllerSetState(Controller, Controller->IoCount ? NVME_STATE_READY : NVME_STATE_ADMIN_ONLY, NULL);
    Info->IoTimeoutMs = Controller->IoTimeoutMs;
    Info->AdminTimeoutMs = Controller->AdminTimeoutMs;
    PlatformRegisterShutdown(Info->Name, NVMeRecoveryShutdown, Controller);
    // From here on the watchdog supervises every command (deadlines, retries, resets) and events are armed.
    NVMeRecoveryStart(Controller);
    NVMeHealthStart(Controller);
    if (Controller->IoCount) NVMeDiskRegisterNamespaces(Controller);

    U32 Exposed = 0;
    for (U32 I = 0; I < Controller->NamespaceCount; I++) Exposed += Controller->NamespaceInfos[I].Exposed ? 1 : 0;
    INFO("[NVMeBringUp] %s: %u I/O queue pair(s) of %u entries, %s (%u vector(s)), %u namespace(s), %u exposed",
         Info->Name, Controller->IoCount, Controller->IoCount ? Controller->Io[0].Depth : 0,
         Info->Polling ? "polling" : PCIInterruptModeName(Info->InterruptMode), Info->VectorCount,
         Controller->NamespaceCount, Exposed);
    return KSTATUS_SUCCESS;
}

/************************************************************************/
// PCI binding

static KSTATUS NVMeAttach(PCI_DEVICE* Device) {
    if (ControllerCount >= NVME_MAX_CONTROLLERS) {
        WARNING("[NVMeAttach] more than %u controllers: %02x:%02x.%x ignored", NVME_MAX_CONTROLLERS, Device->Bus,
                Device->Device, Device->Function);
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
    Controller->Device = Device;
    Device->DriverData = Controller;
    Controllers[ControllerCount++] = Controller;

    if (BringUp(Controller) != KSTATUS_SUCCESS) {
        NVMeControllerSetState(Controller, NVME_STATE_FAILED, NULL);  // Fail() wrote the reason
        // Left alone: its memory is not freed, since a controller that got this far may still hold our addresses.
        WARNING("[NVMeAttach] %s (%04x:%02x:%02x.%x): left alone: %s", Info->Name, Device->Segment, Device->Bus,
                Device->Device, Device->Function, Info->StateReason);
    }
    return KSTATUS_SUCCESS;  // failed or not, the device stays ours (a rebind would renumber controllers)
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
    .Next = NULL,
};

void NVMeRegisterDriver(void) { PCIRegisterDriver(&NVMeDriver); }

/************************************************************************/
// Controller list

U32 NVMeGetControllerCount(void) { return ControllerCount; }

NVME_CONTROLLER* NVMeGetControllerInternal(U32 Index) { return Index < ControllerCount ? Controllers[Index] : NULL; }

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
    View->Polled = Queue->Ops == &NVMePolledQueueOps;
    View->MessageIndex = Queue->MessageIndex;
    BOOL HasVector =
        !View->Polled && Controller->InterruptsActive && Queue->MessageIndex < Controller->Interrupts.Count;
    View->CpuVector = HasVector ? Controller->Interrupts.Vectors[Queue->MessageIndex] : 0;
}

KSTATUS NVMeGetController(U32 Index, NVME_CONTROLLER_INFO* View) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(Index);
    if (Controller == NULL || View == NULL) return KSTATUS_NOT_FOUND;
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    *View = Controller->Info;
    PlatformLockRelease(Controller->ViewLock, State);

    View->AerOutstanding = __atomic_load_n(&Controller->AerOutstanding, __ATOMIC_RELAXED);
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

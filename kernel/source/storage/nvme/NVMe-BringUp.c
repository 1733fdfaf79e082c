/*
 * NVMe-BringUp.c - bringing a controller up (NVMe 2.0 section 3.5.1), on a
 * thread of its own: Attach returns at once, so several controllers come up
 * in parallel and none delays the others, the PCI scan (or a VMD's hot-plug
 * thread) or the prompt.
 *
 * Steps: map BAR0 uncached, enable memory space and bus mastering, read CAP
 * (low then high dword) and VS; take the controller from firmware (if CC.EN
 * is set: let a pending enable finish, clear EN, wait for RDY=0, bounded by
 * CAP.TO); set up interrupts (MSI-X vector per queue, else MSI, else INTx,
 * else polling) while disabled, because the admin CQ gets its vector when EN
 * rises; program AQA/ASQ/ACQ; set CC and enable; wait for RDY=1; Identify
 * Controller (if only polling found its completion, poll from now on); the
 * quirks its strings name; the APST policy; shadow doorbells (Doorbell
 * Buffer Config, when offered: NVMe-Doorbell.c); Number of Queues; the I/O queue
 * pairs; the namespaces; then the shutdown hook, the watchdog (from here on
 * every command is supervised: NVMe-Recovery.c), asynchronous events
 * (NVMe-Health.c) and the disks.
 *
 * The bound (issue 11, defect 1): a controller that is not up within
 *     3 x ready timeout + the quirk's post-disable delay + admin timeout
 * (the ready timeout is (CAP.TO + 1) x 500 ms; hand-off may wait for RDY to
 * rise and then fall, enabling for it to rise; every admin command of
 * bring-up shares one admin timeout) is given up on: 84 s for QEMU's CAP.TO
 * of 7.5 s and the default 60 s admin timeout, 444 s at the worst CAP.TO.
 * Every wait ends by that deadline; CSTS is read between the steps (all ones:
 * gone, CFS: fatal, RDY 0: no longer ready); a command that times out fails
 * the bring-up at once (a controller that stops answering is dead, not slow:
 * nothing is probed further and nothing piles up on the admin queue); a
 * command the controller refuses is its answer (Number of Queues refused:
 * admin queue only; the active namespace list refused: NSIDs probed).
 *
 * A controller that fails is reported in one line and quieted (EN cleared if
 * it answers, bus mastering off, interrupts released); its memory is never
 * freed, since it may still hold our addresses. It stays in the list (state
 * FAILED) so `nvme<C>` numbering is stable. The enable and disable steps are
 * shared with the reset path (NVMe-Core.c).
 *
 * Boot options: nvme.poll=1 (poll every controller), nvme.queues=N (I/O
 * queue pairs wanted, default 1: one per CPU), nvme.irq=msix|msi|intx (the
 * only interrupt mode to try), nvme.io_timeout=S and nvme.admin_timeout=S
 * (command deadlines in seconds, default 30 and 60), nvme.sgl=auto|on|off
 * (how data commands carry their data: NVMe-SGL.c), nvme.dbbuf=auto|on|off
 * (shadow doorbells: NVMe-Doorbell.c).
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

#define Fail NVMeControllerFail

/************************************************************************/
// Steps

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
        // Invalid, and what Samsung's PM1725 reports for 64 entries (the quirk says so: no warning then).
        if (!(Controller->Quirks & NVME_QUIRK_MQES_ZERO_IS_64)) {
            WARNING("[NVMeBringUp] %s: CAP.MQES is 0 (invalid), assuming 64 entries", Info->Name);
        }
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

/** Firmware (SeaBIOS, OVMF) may leave the controller enabled with queues in its memory: disable it first. */
static KSTATUS TakeOverFromFirmware(NVME_CONTROLLER* Controller) {
    U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    if (Csts == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "CSTS reads all ones");
    if (Cc & NVME_CC_ENABLE) {
        Controller->Info.WasEnabledByFirmware = TRUE;
        // An enable still in progress must finish before EN may be cleared (unless the controller is dead).
        if (!(Csts & NVME_CSTS_RDY) && !(Csts & NVME_CSTS_CFS)) NVMeControllerWaitReady(Controller, TRUE);
    }
    return NVMeControllerDisable(Controller);
}

static KSTATUS AllocateControllerResources(NVME_CONTROLLER* Controller) {
    Controller->AdminMutex = PlatformMutexCreate();
    Controller->ResetMutex = PlatformMutexCreate();
    Controller->NamespaceMutex = PlatformMutexCreate();
    Controller->WaiterLock = PlatformLockCreate();
    Controller->EventLock = PlatformLockCreate();
    Controller->WatchEvent = PlatformEventCreate(FALSE);
    if (!Controller->AdminMutex || !Controller->ResetMutex || !Controller->NamespaceMutex || !Controller->WaiterLock ||
        !Controller->EventLock || !Controller->WatchEvent) {
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

/** How many I/O queue pairs to ask for: nvme.queues (default one per CPU), within the driver and BAR0. */
static U32 WantedIoQueues(NVME_CONTROLLER* Controller) {
    U64 Cpus = PlatformCpuCount(), Wanted = Cpus;
    LPCSTR Option = PlatformGetOption("nvme.queues");
    if (Option && (!StringToU64(Option, &Wanted, FALSE) || Wanted == 0)) Wanted = Cpus;
    Wanted = MIN(Wanted, (U64)NVME_MAX_IO_QUEUES);
    Wanted = MIN(Wanted, (U64)PLATFORM_MAX_VECTORS - 1);
    U8 Dstrd = Controller->Info.Cap.Dstrd;
    while (Wanted > 1 && NVMeDoorbellOffset((U16)Wanted, TRUE, Dstrd) + 4 > Controller->RegisterSize) Wanted--;
    return (U32)Wanted;
}

/** nvme.poll_queues: extra I/O queue pairs without interrupts for synchronous single commands (default 0). */
static U32 PollQueues(NVME_CONTROLLER* Controller, U32 IrqQueues) {
    U64 Wanted = 0;
    LPCSTR Option = PlatformGetOption("nvme.poll_queues");
    if (Option && !StringToU64(Option, &Wanted, FALSE)) {
        WARNING("[NVMeBringUp] nvme.poll_queues=%s ignored (a count)", Option);
        Wanted = 0;
    }
    Wanted = MIN(Wanted, (U64)(NVME_MAX_IO_QUEUES - IrqQueues));
    U8 Dstrd = Controller->Info.Cap.Dstrd;
    while (Wanted > 0 && NVMeDoorbellOffset((U16)(IrqQueues + Wanted), TRUE, Dstrd) + 4 > Controller->RegisterSize) {
        Wanted--;
    }
    return (U32)Wanted;
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
    if (Controller->Quirks & NVME_QUIRK_BROKEN_MSI) Allowed &= ~(U32)PLATFORM_ALLOW_MSI;  // it would never fire
    LPVOID Contexts[1 + NVME_MAX_IO_QUEUES];
    Contexts[0] = &Controller->Admin;
    for (U32 I = 0; I < IoQueues; I++) Contexts[1 + I] = &Controller->Io[I];
    if (Allowed == 0 || PlatformInterruptSetup(Controller->Device, 1 + IoQueues, Allowed, NVMeQueueInterrupt,
                                               Contexts, 1 + IoQueues, &Controller->Interrupts) != KSTATUS_SUCCESS) {
        NVMeControllerStartPolling(Controller, "no interrupt mode available");
        return;
    }
    Controller->InterruptsActive = TRUE;
    Controller->Info.InterruptMode = Controller->Interrupts.Mode;
    Controller->Info.VectorCount = Controller->Interrupts.Count;
    NVMeControllerAssignVector(Controller, &Controller->Admin, 0);
}

static KSTATUS IdentifyController(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    KSTATUS Status = NVMeAdminIdentify(Controller, NVME_CNS_CONTROLLER, 0, Controller->IdentifyPage.Physical, FALSE);
    // The first admin command tells whether interrupts work: if it was only found by polling, poll from now on.
    if (!Info->Polling && Controller->Admin.Stats.ReapedByWaiter > 0 &&
        PlatformInterruptCount(&Controller->Interrupts, 0) == 0) {
        NVMeControllerStartPolling(Controller, "no interrupt arrived for the admin Identify");
    }
    if (Status != KSTATUS_SUCCESS) {
        return Fail(Controller, Status, "Identify Controller %s", Status == KSTATUS_TIMEOUT ? "timed out" : "failed");
    }
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
    NVMeSglConfigure(Controller);
    // Quirks known by the model and firmware strings (the PCI ID ones were applied at attach).
    Controller->Quirks |= NVMeQuirksForIdentity(Id->VendorId, Id->Model, Id->Firmware);
    Info->Quirks = Controller->Quirks;

    char Mdts[24], Quirks[96];
    if (Info->MdtsBytes) FormatByteSize(Mdts, sizeof(Mdts), Info->MdtsBytes, FORMAT_SIZE_TENTHS);
    else StringCopy(Mdts, "none", sizeof(Mdts));
    NVMeQuirksFormat(Controller->Quirks, Quirks, sizeof(Quirks));
    INFO("[NVMeBringUp] %s: NVMe %u.%u.%u \"%s\" serial %s fw %s, MQES %u, CQR %u, DSTRD %u, timeout %u ms, "
         "MDTS %s, NN %u, VWC %u%s",
         Info->Name, Info->Version >> 16, (Info->Version >> 8) & 0xFF, Info->Version & 0xFF, Id->Model, Id->Serial,
         Id->Firmware, Info->Cap.Mqes + 1, Info->Cap.Cqr, Info->Cap.Dstrd, Info->ReadyTimeoutMs, Mdts, Id->Nn,
         Id->Vwc & NVME_VWC_PRESENT, Info->WasEnabledByFirmware ? ", taken over from firmware (was enabled)" : "");
    if (Controller->Quirks) INFO("[NVMeBringUp] %s: quirks: %s", Info->Name, Quirks);
    return KSTATUS_SUCCESS;
}

/**
 * Number of Queues, then the pairs: the first IrqQueues with interrupts, the rest polled by their waiters (fewer
 * granted: the polled ones go first). A timeout fails the bring-up; a refusal leaves fewer queues (maybe none).
 */
static KSTATUS CreateIoQueues(NVME_CONTROLLER* Controller, U32 Wanted, U32 IrqQueues) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    U32 Granted = 0;
    Info->IoQueuesRequested = Wanted;
    KSTATUS Status = NVMeAdminSetQueueCount(Controller, Wanted, &Granted);
    if (Status == KSTATUS_TIMEOUT) return Fail(Controller, Status, "Set Features Number of Queues timed out");
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[NVMeBringUp] %s: Set Features Number of Queues failed: admin queue only", Info->Name);
        return KSTATUS_SUCCESS;
    }
    Info->IoQueuesGranted = Granted;
    U32 Depth = MIN(Info->Cap.Mqes + 1, (U32)NVME_IO_QUEUE_DEPTH_MAX);
    for (U32 I = 0; I < Granted; I++) {
        NVME_QUEUE* Queue = &Controller->Io[I];
        Status = KSTATUS_NO_MEMORY;
        // Less memory, shallower queue: down to 64 entries before giving up.
        for (U32 Try = Depth; Try >= MIN(Depth, 64U); Try /= 2) {
            Status = NVMeQueueAllocate(Controller, Queue, (U16)(I + 1), (U16)Try, TRUE);
            if (Status == KSTATUS_SUCCESS || Try <= 64) break;
        }
        if (Status != KSTATUS_SUCCESS) {
            WARNING("[NVMeBringUp] %s: no memory for I/O queue %u", Info->Name, I + 1);
            break;
        }
        BOOL Interrupts = I < IrqQueues;
        if (Interrupts) NVMeControllerAssignVector(Controller, Queue, I + 1);
        else Queue->Ops = &NVMeWaiterPolledQueueOps;
        BOOL MayExist = FALSE;
        Status = NVMeAdminCreateQueuePair(Controller, Queue, Interrupts && !Info->Polling, &MayExist);
        if (Status != KSTATUS_SUCCESS) {
            WARNING("[NVMeBringUp] %s: creating I/O queue %u failed", Info->Name, I + 1);
            // Rings the controller may still own stay out of use until it is disabled (issue 11, defect 2).
            if (MayExist) {
                NVMeDmaPark(Controller, &Queue->SqMemory);
                NVMeDmaPark(Controller, &Queue->CqMemory);
            }
            NVMeQueueFree(Queue);
            if (Status == KSTATUS_TIMEOUT) return Fail(Controller, Status, "creating I/O queue %u timed out", I + 1);
            break;
        }
        Controller->IoCount = I + 1;
        if (Interrupts) Controller->IrqQueueCount = I + 1;
    }
    Controller->IrqQueueCount = MIN(Controller->IoCount, IrqQueues);
    Info->IoQueueCount = Controller->IoCount;
    Info->PollQueueCount = Controller->IoCount - Controller->IrqQueueCount;
    return KSTATUS_SUCCESS;
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

/** Between steps: the controller still answers, is not fatal, is ready, and bring-up is within its bound. */
static KSTATUS StillAlive(NVME_CONTROLLER* Controller, LPCSTR After) {
    if (NVMeStopAsked(Controller)) return Fail(Controller, KSTATUS_IO_ERROR, "removed during bring-up");
    U32 Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    if (Csts == MAX_U32) return Fail(Controller, KSTATUS_IO_ERROR, "stopped answering after %s", After);
    if (Csts & NVME_CSTS_CFS) return Fail(Controller, KSTATUS_IO_ERROR, "fatal status after %s", After);
    if (!(Csts & NVME_CSTS_RDY)) return Fail(Controller, KSTATUS_IO_ERROR, "no longer ready after %s", After);
    if (PlatformTimeNs() > Controller->BringUpDeadlineNs) {
        return Fail(Controller, KSTATUS_TIMEOUT, "not up within %u ms (after %s)", Controller->Info.BringUpBoundMs,
                    After);
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS Configure(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    KSTATUS Status = MapAndReadCapabilities(Controller);
    if (Status != KSTATUS_SUCCESS) return Status;
    // The bound of everything that follows (see the header): one deadline every wait respects.
    Info->BringUpBoundMs = 3 * Info->ReadyTimeoutMs + NVMeQuirkDelayMs(Controller->Quirks) + Controller->AdminTimeoutMs;
    Controller->BringUpDeadlineNs = Controller->BringUpStartNs + (U64)Info->BringUpBoundMs * 1000000ULL;
    Status = TakeOverFromFirmware(Controller);
    if (Status == KSTATUS_SUCCESS) Status = AllocateControllerResources(Controller);
    if (Status != KSTATUS_SUCCESS) return Status;
    // Interrupts before EN: a controller may bind a CQ to its MSI-X vector only when the CQ is created (QEMU
    // does: msix_vector_use at CQ creation, and the admin CQ is created by the 0->1 edge of CC.EN).
    U32 Wanted = WantedIoQueues(Controller);
    U32 Polled = PollQueues(Controller, Wanted);
    Controller->WantedIoQueues = Wanted + Polled;
    SetupInterrupts(Controller, Wanted);
    Controller->Enabled = TRUE;  // from here a failure has something to quiet
    Status = NVMeControllerEnable(Controller);
    if (Status == KSTATUS_SUCCESS) Status = IdentifyController(Controller);
    if (Status == KSTATUS_SUCCESS) Status = StillAlive(Controller, "Identify Controller");
    if (Status != KSTATUS_SUCCESS) return Status;
    NVMePowerApply(Controller);
    Status = StillAlive(Controller, "the power policy");
    if (Status == KSTATUS_SUCCESS && NVMeDoorbellConfigure(Controller) == KSTATUS_TIMEOUT) {
        Status = Fail(Controller, KSTATUS_TIMEOUT, "Doorbell Buffer Config timed out");
    }
    if (Status == KSTATUS_SUCCESS) Status = CreateIoQueues(Controller, Wanted + Polled, Wanted);
    if (Status == KSTATUS_SUCCESS) Status = StillAlive(Controller, "the I/O queues");
    if (Status != KSTATUS_SUCCESS) return Status;
    Status = NVMeNamespaceScan(Controller);
    if (Status != KSTATUS_SUCCESS) {
        return Fail(Controller, Status, "namespace discovery %s", Status == KSTATUS_TIMEOUT ? "timed out" : "failed");
    }
    return StillAlive(Controller, "namespace discovery");
}

/** What a bring-up that failed leaves: a quiet controller (no DMA, no interrupts) whose memory is kept. */
static void Quiet(NVME_CONTROLLER* Controller) {
    if (Controller->Enabled) {
        U32 Cc = NVMeRead32(Controller, NVME_REG_CC);
        if (Cc != MAX_U32 && (Cc & NVME_CC_ENABLE)) NVMeWrite32(Controller, NVME_REG_CC, Cc & ~NVME_CC_ENABLE);
        PCISetCommandBits(Controller->Device, 0, PCI_COMMAND_BUS_MASTER);
    }
    if (Controller->InterruptsActive) {
        PlatformInterruptRelease(Controller->Device, &Controller->Interrupts);
        Controller->InterruptsActive = FALSE;
    }
    NVME_QUEUE* Queues[1 + NVME_MAX_IO_QUEUES];
    U32 Count = NVMeControllerQueues(Controller, Queues);
    for (U32 I = 0; I < Count; I++) {
        Queues[I]->CqLive = FALSE;
        if (Queues[I]->Mode != NVME_QUEUE_DEAD) NVMeQueueSetMode(Queues[I], NVME_QUEUE_DEAD);
    }
    if (Controller->PollEvent) PlatformEventSignal(Controller->PollEvent);  // the poll thread sees FAILED, ends
}

static void BringUpThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    Controller->IoTimeoutMs = TimeoutOption("nvme.io_timeout", NVME_IO_TIMEOUT_MS);
    Controller->AdminTimeoutMs = TimeoutOption("nvme.admin_timeout", NVME_ADMIN_TIMEOUT_MS);
    KSTATUS Status = Configure(Controller);
    Controller->BringUpDeadlineNs = 0;  // from here on commands are supervised, not bounded by bring-up
    Info->BringUpMs = (U32)((PlatformTimeNs() - Controller->BringUpStartNs) / 1000000);
    if (Info->State != NVME_STATE_PROBING) {  // detached meanwhile (the detach gave up waiting for us)
        __atomic_store_n(&Controller->BringUpRunning, FALSE, __ATOMIC_RELEASE);
        return;
    }
    if (Status != KSTATUS_SUCCESS) {
        NVMeControllerSetState(Controller, NVME_STATE_FAILED, NULL);  // NVMeControllerFail wrote the reason
        Quiet(Controller);
        WARNING("[NVMeAttach] %s (%04x:%02x:%02x.%x): left alone after %u ms: %s", Info->Name, Info->PciSegment,
                Info->PciBus, Info->PciDevice, Info->PciFunction, Info->BringUpMs, Info->StateReason);
        __atomic_store_n(&Controller->BringUpRunning, FALSE, __ATOMIC_RELEASE);
        return;
    }
    NVMeControllerSetState(Controller, Controller->IoCount ? NVME_STATE_READY : NVME_STATE_ADMIN_ONLY, NULL);
    Info->IoTimeoutMs = Controller->IoTimeoutMs;
    Info->AdminTimeoutMs = Controller->AdminTimeoutMs;
    PlatformRegisterShutdown(Info->Name, NVMeRecoveryShutdown, Controller);
    // From here on the watchdog supervises every command (deadlines, retries, resets) and events are armed.
    NVMeRecoveryStart(Controller);
    NVMeHealthStart(Controller);
    NVMeNamespaceRegisterDisks(Controller);

    NVME_NAMESPACE_TABLE* Table = NVMeNamespaceTable(Controller);
    U32 Active = Table ? Table->Count : 0, Exposed = 0;
    for (U32 I = 0; I < Active; I++) Exposed += Table->Namespaces[I]->Exposed ? 1 : 0;
    INFO("[NVMeBringUp] %s: %u I/O queue pair(s) of %u entries, %s (%u vector(s)), %u namespace(s), %u exposed",
         Info->Name, Controller->IoCount, Controller->IoCount ? Controller->Io[0].Depth : 0,
         Info->Polling ? "polling" : PCIInterruptModeName(Info->InterruptMode), Info->VectorCount, Active, Exposed);
    __atomic_store_n(&Controller->BringUpRunning, FALSE, __ATOMIC_RELEASE);
}

void NVMeBringUpStart(NVME_CONTROLLER* Controller) {
    char Name[24];
    StringCopy(Name, Controller->Info.Name, sizeof(Name));
    StringAppend(Name, "-up", sizeof(Name));
    Controller->BringUpStartNs = PlatformTimeNs();
    Controller->BringUpRunning = TRUE;
    if (!PlatformThreadCreate(Name, BringUpThread, Controller)) BringUpThread(Controller);  // no thread: in line
}

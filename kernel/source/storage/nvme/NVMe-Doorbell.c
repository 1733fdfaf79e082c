/*
 * NVMe-Doorbell.c - every doorbell write of the driver: the SQ tail and the
 * CQ head, by MMIO or through the shadow doorbell buffer (Doorbell Buffer
 * Config, NVMe 1.3 sections 5.7 and 7.13), and the command that sets the
 * buffer up.
 *
 * Shadow doorbells are for emulated controllers (QEMU offers them: OACS
 * bit 8), where every MMIO write is a trap. The host stores each new tail or
 * head in the queue's slot of the shadow page, then reads the slot of the
 * EventIdx page the controller keeps: the MMIO doorbell is written only when
 * the controller asked to hear of the move (NVMeDoorbellNeedEvent: EventIdx
 * in [old, new)). Slots sit at the doorbell offsets less 1000h, so they
 * follow CAP.DSTRD (QEMU's DSTRD is 0).
 *
 * Invariants:
 *  - Order on a write: the ring entries (SQ) or the reaped entries (CQ) are
 *    in memory first (the caller's PlatformWriteBarrier, or the reap's
 *    reads), then the shadow store, then a full fence, then the EventIdx
 *    load. The controller does the mirror (store EventIdx, fence, load the
 *    shadow), so one of the two sides always sees the other's store: no
 *    update is lost.
 *  - The admin queue stores its shadow slots and always writes MMIO too: the
 *    spec asks the host to keep the admin doorbell register equal to its
 *    shadow entry, and QEMU 7.2 copies an admin MMIO write into the shadow
 *    (hw/nvme/ctrl.c nvme_process_db), because Linux and SPDK leave admin
 *    queues out.
 *  - Every queue's shadow slots are kept current, CQ heads included: QEMU
 *    7.2 reads the CQ head from the shadow before it posts (nvme_post_cqes)
 *    and ignores what an MMIO head write said, so a CQ head written only by
 *    MMIO looks unconsumed and the CQ fills up after Depth - 1 completions
 *    (seen: a stall at qd 32 when CQ heads skipped the shadow).
 *  - With pin (INTx) or MSI interrupts the CQ head is also always written
 *    by MMIO: the interrupt is deasserted only when the controller sees the
 *    head reach the tail, which QEMU 7.2 checks on the MMIO write alone.
 *  - The controller forgets the buffers when it is disabled, so bring-up and
 *    every reset configure again (after enable, before the I/O queues exist:
 *    new queues start at 0 in zeroed slots); a refusal means MMIO doorbells.
 *  - The two pages are never freed: the controller may write EventIdx until
 *    it is disabled, and the driver keeps them for the next reset anyway.
 * Counters (per queue, under its lock): shadow stores and MMIO writes.
 *
 * Option: nvme.dbbuf=auto|on|off (auto and on use it when offered; on warns
 * when it is not; off never sends the command).
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

LPCSTR NVMeDbbufModeName(U32 Mode) {
    switch (Mode) {
        case NVME_DBBUF_AUTO: return "auto";
        case NVME_DBBUF_ON: return "on";
        case NVME_DBBUF_OFF: return "off";
        default: return "?";
    }
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// The writes (hot path, under the queue lock)

/** A doorbell register's slot in one of the two pages: the same offset from the first doorbell. */
static volatile U32* Slot(NVME_CONTROLLER* Controller, const PLATFORM_DMA* Page, LINEAR Register) {
    return (volatile U32*)((U8*)Page->Linear + (Register - Controller->Registers - NVME_REG_DOORBELLS));
}

/** Stores Value in the shadow slot; TRUE when the EventIdx rule says the controller needs the MMIO write. */
static BOOL ShadowStore(NVME_CONTROLLER* Controller, LINEAR Register, U16 Value) {
    volatile U32* Shadow = Slot(Controller, &Controller->DbbufShadow, Register);
    U16 Old = (U16)*Shadow;
    *Shadow = Value;
    // Store-load order: the shadow store is visible before EventIdx is read (x86 needs a full fence here).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return NVMeDoorbellNeedEvent((U16)*Slot(Controller, &Controller->DbbufEventIdx, Register), Value, Old);
}

// NVMeDoorbellWriteSq / NVMeDoorbellWriteCq (NVMe-Internal.h, inline) choose: this, or the register alone.
void NVMeDoorbellShadowWrite(NVME_QUEUE* Queue, LINEAR Register, BOOL AlwaysRing, U16 Value) {
    Queue->Stats.ShadowWrites++;
    if (!ShadowStore(Queue->Controller, Register, Value) && !AlwaysRing) return;
    NVMeDoorbellMmioWrite(Queue, Register, Value);
}

/************************************************************************/
// Configuration (bring-up and resets)

/** Turns shadow doorbells on or off for every queue at once; CqMmio: CQ heads always ring too. */
static void Use(NVME_CONTROLLER* Controller, BOOL On, BOOL CqMmio) {
    Controller->Info.DbbufCqMmio = On && CqMmio;
    __atomic_store_n(&Controller->Info.DbbufActive, On, __ATOMIC_RELEASE);
}

void NVMeDoorbellDetach(NVME_CONTROLLER* Controller) { Use(Controller, FALSE, FALSE); }

/** nvme.dbbuf (read at bring-up and at each reset). */
static U32 ModeOption(NVME_CONTROLLER* Controller) {
    LPCSTR Option = PlatformGetOption("nvme.dbbuf");
    if (Option == NULL || StringCompare(Option, "auto") == 0) return NVME_DBBUF_AUTO;
    if (StringCompare(Option, "on") == 0) return NVME_DBBUF_ON;
    if (StringCompare(Option, "off") == 0) return NVME_DBBUF_OFF;
    WARNING("[NVMeDoorbell] %s: nvme.dbbuf=%s ignored (auto|on|off)", Controller->Info.Name, Option);
    return NVME_DBBUF_AUTO;
}

/** Why shadow doorbells are not used here (NULL: they may be). */
static LPCSTR Unusable(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    if (!Info->DbbufOffered) return "not offered (OACS bit 8 clear)";
    // Every queue's two slots must fit one memory page at this stride.
    if (NVMeDoorbellOffset(NVME_MAX_IO_QUEUES, TRUE, Info->Cap.Dstrd) + 4 - NVME_REG_DOORBELLS > Info->PageSize) {
        return "the doorbell stride leaves too little room in one page";
    }
    return NULL;
}

KSTATUS NVMeDoorbellConfigure(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    NVMeDoorbellDetach(Controller);  // whatever the controller had, it forgot with its reset
    Info->DbbufMode = ModeOption(Controller);
    Info->DbbufOffered = (Info->Identify.Oacs & NVME_OACS_DOORBELL_BUFFER_CONFIG) != 0;
    if (Info->DbbufMode == NVME_DBBUF_OFF) return KSTATUS_SUCCESS;
    LPCSTR Why = Unusable(Controller);
    if (Why != NULL) {
        if (Info->DbbufMode == NVME_DBBUF_ON) {
            WARNING("[NVMeDoorbell] %s: nvme.dbbuf=on, but %s: MMIO doorbells", Info->Name, Why);
        }
        return KSTATUS_SUCCESS;
    }
    if (Controller->DbbufShadow.Linear == NULL &&
        (PlatformDMAAlloc(Info->PageSize, Info->PageSize, 0, &Controller->DbbufShadow) != KSTATUS_SUCCESS ||
         PlatformDMAAlloc(Info->PageSize, Info->PageSize, 0, &Controller->DbbufEventIdx) != KSTATUS_SUCCESS)) {
        WARNING("[NVMeDoorbell] %s: no memory for the shadow doorbell pages: MMIO doorbells", Info->Name);
        return KSTATUS_SUCCESS;  // a page allocated alone is kept for the next try
    }
    // New queues start at 0: their slots must say so (a reset's queues come back empty). The admin queue is
    // running: its slots start at what its registers last got, and follow them from here on (it always rings),
    // so the command's own completion already finds its head in the shadow. No I/O queue exists yet.
    MemorySet(Controller->DbbufShadow.Linear, 0, Info->PageSize);
    MemorySet(Controller->DbbufEventIdx.Linear, 0, Info->PageSize);
    NVME_QUEUE* Admin = &Controller->Admin;
    U64 State = PlatformLockAcquire(Admin->Lock);
    *Slot(Controller, &Controller->DbbufShadow, Admin->SqDoorbell) = Admin->SqTail;
    *Slot(Controller, &Controller->DbbufShadow, Admin->CqDoorbell) = NVME_CQ_STATE_HEAD(Admin->CqState);
    // A pin or MSI interrupt waits for the MMIO head write (see the header).
    BOOL CqMmio = !Info->Polling && Info->InterruptMode != PCI_INTERRUPT_MSIX;
    Use(Controller, TRUE, CqMmio);
    PlatformLockRelease(Admin->Lock, State);
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = NVME_ADMIN_DOORBELL_BUFFER_CONFIG;
    Command.Prp1 = Controller->DbbufShadow.Physical;
    Command.Prp2 = Controller->DbbufEventIdx.Physical;
    U16 NvmeStatus = 0;
    // Self-timed: bring-up's or the reset's own command (it passes the admin queue a reset rebuilds).
    KSTATUS Status = NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, NULL, &NvmeStatus);
    if (Status != KSTATUS_SUCCESS) NVMeDoorbellDetach(Controller);
    if (Status == KSTATUS_TIMEOUT) return Status;
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[NVMeDoorbell] %s: Doorbell Buffer Config refused (status %x): MMIO doorbells", Info->Name,
                NvmeStatus);
        return KSTATUS_SUCCESS;
    }
    if (NVME_COUNT(Info->DbbufConfigs, 1) == 1) {
        INFO("[NVMeDoorbell] %s: shadow doorbells on%s", Info->Name, CqMmio ? " (CQ heads by MMIO too)" : "");
    }
    return KSTATUS_SUCCESS;
}

#endif  // NVME_WITH_PLATFORM

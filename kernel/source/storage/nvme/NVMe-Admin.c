/*
 * NVMe-Admin.c - admin commands: Identify, I/O queue creation and deletion
 * (namespaces: NVMe-Namespace.c; features: NVMe-Features.c; log pages and
 * events: NVMe-Health.c).
 *
 * Admin commands run one at a time per caller on the admin queue through
 * the same engine as I/O (a request with one child). A status is final (no
 * retry). Commands issued while the watchdog supervises are timed by it
 * (admin timeout: reset); those of bring-up, resets and shutdown are timed
 * by the calling thread (NVMeAdminCommandTimed), which is the one that
 * would otherwise supervise them. Data moves through the
 * controller's scratch page (one DMA page) under AdminMutex; the Identify
 * Controller page is kept whole in its own page for the shell.
 *
 * A command its waiter gave up on (a self-timed one past its timeout) may
 * still be executed by the controller later: the DMA page it names (the
 * scratch or the event page) is parked, never reused until the controller is
 * seen disabled, and a fresh page takes its place (NVMeDmaRetirePage). A
 * queue whose creation failed in a way that may leave it on the controller
 * keeps its rings the same way (NVMeAdminCreateQueuePair tells the caller).
 * Decoding the pages is NVMe-Spec.c's.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// Commands

static KSTATUS AdminCommand(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, BOOL SelfTimed,
                            U32 TimeoutMs, U32* Dw0, U16* NvmeStatus) {
    NVME_REQUEST Request;
    NVMeRequestInit(Controller, &Request);
    Request.Quiet = Quiet;
    Request.SelfTimed = SelfTimed;
    if (Dw0) *Dw0 = 0;
    if (NvmeStatus) *NvmeStatus = 0;
    NVME_TRACKER* Tracker = NVMeQueueWaitTracker(&Controller->Admin);
    if (Tracker == NULL) {
        NVMeRequestRelease(Controller, &Request);
        return NVMeIoNoTracker(Controller);
    }
    Tracker->Lba = 0;
    Tracker->Blocks = 0;
    // Like Linux's driver-internal commands, a status is final. Self-timed commands come from the thread that
    // supervises (bring-up, the watchdog, a reset, shutdown): they pass an admin queue that a reset rebuilds.
    Tracker->Flags = NVME_TRACKER_NO_RETRY | (SelfTimed ? NVME_TRACKER_RECOVERY : 0);
    Tracker->Command = *Command;
    KSTATUS Status = NVMeRequestSubmitChild(&Request, Tracker);
    KSTATUS Result = NVMeRequestWait(&Controller->Admin, &Request, TimeoutMs);
    if (Dw0) *Dw0 = Request.Dw0;
    if (NvmeStatus) *NvmeStatus = Request.NvmeStatus;
    NVMeRequestRelease(Controller, &Request);
    // Given up on, but still the controller's: the page it may yet write is not handed to the next command.
    if (Request.Abandoned && Command->Prp1 != 0) NVMeDmaRetirePage(Controller, Command->Prp1);
    return Status != KSTATUS_SUCCESS ? Status : Result;
}

KSTATUS NVMeAdminCommand(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, U32* Dw0, U16* NvmeStatus) {
    return AdminCommand(Controller, Command, Quiet, FALSE, Controller->AdminTimeoutMs, Dw0, NvmeStatus);
}

KSTATUS NVMeAdminCommandTimed(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, U32 TimeoutMs,
                              U32* Dw0, U16* NvmeStatus) {
    return AdminCommand(Controller, Command, Quiet, TRUE, TimeoutMs, Dw0, NvmeStatus);
}

KSTATUS NVMeAdminIdentify(NVME_CONTROLLER* Controller, U8 Cns, U32 Nsid, PHYSICAL Page, BOOL Quiet) {
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = NVME_ADMIN_IDENTIFY;
    Command.Nsid = Nsid;
    Command.Prp1 = Page;  // one page-aligned 4 KiB page: PRP1 alone
    Command.Cdw10 = Cns;
    return NVMeAdminCommand(Controller, &Command, Quiet, NULL, NULL);
}

KSTATUS NVMeAdminSetQueueCount(NVME_CONTROLLER* Controller, U32 Wanted, U32* Granted) {
    NVME_COMMAND Command;
    U32 Dw0 = 0;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = NVME_ADMIN_SET_FEATURES;
    Command.Cdw10 = NVME_FEATURE_NUMBER_OF_QUEUES;
    Command.Cdw11 = ((Wanted - 1) << 16) | (Wanted - 1);  // NCQR, NSQR: 0-based
    KSTATUS Status = NVMeAdminCommandTimed(Controller, &Command, FALSE, Controller->AdminTimeoutMs, &Dw0, NULL);
    if (Status != KSTATUS_SUCCESS) return Status;
    // NSQA (15:0) and NCQA (31:16) are 0-based; a controller may grant more than asked: use only what we asked.
    U32 Allocated = MIN(Dw0 & 0xFFFF, Dw0 >> 16) + 1;
    *Granted = MIN(Allocated, Wanted);
    return KSTATUS_SUCCESS;
}

/** Queue creation and deletion run in bring-up, resets and shutdown: the calling thread enforces the timeout. */
static KSTATUS QueueCommand(NVME_CONTROLLER* Controller, U8 Opcode, U32 Cdw10, U32 Cdw11, PHYSICAL Prp1,
                            U32 TimeoutMs) {
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = Opcode;
    Command.Prp1 = Prp1;
    Command.Cdw10 = Cdw10;
    Command.Cdw11 = Cdw11;
    return NVMeAdminCommandTimed(Controller, &Command, FALSE, TimeoutMs, NULL, NULL);
}

KSTATUS NVMeAdminCreateQueuePair(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL InterruptsEnabled,
                                 BOOL* MayExist) {
    U32 Size = ((U32)(Queue->Depth - 1) << 16) | Queue->Id;
    // PC=1 always (the memory is contiguous, and CAP.CQR may demand it); IEN and IV only with interrupts.
    U32 Flags = NVME_QUEUE_PHYS_CONTIGUOUS |
                (InterruptsEnabled ? (NVME_CQ_IRQ_ENABLED | (Queue->MessageIndex << NVME_CQ_IRQ_VECTOR_SHIFT)) : 0);
    U32 TimeoutMs = Controller->AdminTimeoutMs;
    *MayExist = FALSE;
    KSTATUS Status = QueueCommand(Controller, NVME_ADMIN_CREATE_CQ, Size, Flags, Queue->CqMemory.Physical, TimeoutMs);
    if (Status != KSTATUS_SUCCESS) {
        *MayExist = Status == KSTATUS_TIMEOUT;  // no answer: it may have been created all the same
        return Status;
    }
    Queue->CqLive = TRUE;
    // Its CQ, priority 0 (round robin), PC=1.
    Status = QueueCommand(Controller, NVME_ADMIN_CREATE_SQ, Size, ((U32)Queue->Id << 16) | NVME_QUEUE_PHYS_CONTIGUOUS,
                          Queue->SqMemory.Physical, TimeoutMs);
    if (Status != KSTATUS_SUCCESS) {
        // The CQ goes again; if that is not confirmed (or the SQ's fate is unknown), the rings are still the
        // controller's until it is disabled.
        KSTATUS Deleted = QueueCommand(Controller, NVME_ADMIN_DELETE_CQ, Queue->Id, 0, 0, TimeoutMs);
        *MayExist = Status == KSTATUS_TIMEOUT || Deleted != KSTATUS_SUCCESS;
        Queue->CqLive = FALSE;
        return Status;
    }
    Queue->Created = TRUE;
    return KSTATUS_SUCCESS;
}

KSTATUS NVMeAdminDeleteQueue(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL DeleteCq, U32 TimeoutMs) {
    if (!Queue->Created) return KSTATUS_SUCCESS;
    KSTATUS Status = QueueCommand(Controller, DeleteCq ? NVME_ADMIN_DELETE_CQ : NVME_ADMIN_DELETE_SQ, Queue->Id, 0, 0,
                                  TimeoutMs);
    if (DeleteCq) Queue->Created = Queue->CqLive = FALSE;
    return Status;
}

#endif  // NVME_WITH_PLATFORM

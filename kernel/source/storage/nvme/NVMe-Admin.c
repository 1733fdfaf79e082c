/*
 * NVMe-Admin.c - admin commands: Identify, I/O queue creation and deletion,
 * namespace discovery (features: NVMe-Features.c; log pages and events:
 * NVMe-Health.c).
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
 * Nothing a device returns is trusted blindly: NN, MDTS, NLBAF, FLBAS and
 * LBADS are range-checked, the active namespace list must be increasing and
 * within NN, and a namespace the driver cannot serve is listed with the
 * reason instead of being exposed (NVMeNamespaceUsable, pure). Decoding
 * the pages is NVMe-Spec.c's.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Pure: whether the driver can serve a namespace

BOOL NVMeNamespaceUsable(const NVME_NAMESPACE_INFO* Info, U32 PageSize, LPSTR Reason, SIZE ReasonSize) {
    Reason[0] = 0;
    if (Info->Size == 0 || Info->Capacity == 0) {
        StringCopy(Reason, "inactive (size 0)", ReasonSize);
    } else if (Info->Capacity > Info->Size || Info->Utilisation > Info->Capacity) {
        StringPrintFormat(Reason, ReasonSize, "inconsistent sizes (NSZE %llu NCAP %llu)", Info->Size, Info->Capacity);
    } else if (Info->FormatIndex >= Info->FormatCount) {
        StringPrintFormat(Reason, ReasonSize, "format %u out of range (%u formats)", Info->FormatIndex,
                          Info->FormatCount);
    } else if (Info->LbaSize == 0) {
        StringPrintFormat(Reason, ReasonSize, "LBA size 2^%u unsupported", Info->Formats[Info->FormatIndex].Lbads);
    } else if (Info->LbaSize > PageSize) {
        StringPrintFormat(Reason, ReasonSize, "LBA size %u larger than the page", Info->LbaSize);
    } else if (Info->MetadataSize != 0) {
        StringPrintFormat(Reason, ReasonSize, "metadata (%u bytes per block)", Info->MetadataSize);
    } else if ((Info->Dps & 0x7) != 0) {
        StringPrintFormat(Reason, ReasonSize, "protection information type %u", Info->Dps & 0x7);
    } else if (Info->Size > (MAX_U64 >> 16)) {
        StringCopy(Reason, "size out of range", ReasonSize);
    }
    return Reason[0] == 0;
}

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

KSTATUS NVMeAdminCreateQueuePair(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL InterruptsEnabled) {
    U32 Size = ((U32)(Queue->Depth - 1) << 16) | Queue->Id;
    // PC=1 always (the memory is contiguous, and CAP.CQR may demand it); IEN and IV only with interrupts.
    U32 Flags = NVME_QUEUE_PHYS_CONTIGUOUS |
                (InterruptsEnabled ? (NVME_CQ_IRQ_ENABLED | (Queue->MessageIndex << NVME_CQ_IRQ_VECTOR_SHIFT)) : 0);
    U32 TimeoutMs = Controller->AdminTimeoutMs;
    KSTATUS Status = QueueCommand(Controller, NVME_ADMIN_CREATE_CQ, Size, Flags, Queue->CqMemory.Physical, TimeoutMs);
    if (Status != KSTATUS_SUCCESS) return Status;
    Queue->CqLive = TRUE;
    // Its CQ, priority 0 (round robin), PC=1.
    Status = QueueCommand(Controller, NVME_ADMIN_CREATE_SQ, Size, ((U32)Queue->Id << 16) | NVME_QUEUE_PHYS_CONTIGUOUS,
                          Queue->SqMemory.Physical, TimeoutMs);
    if (Status != KSTATUS_SUCCESS) {
        QueueCommand(Controller, NVME_ADMIN_DELETE_CQ, Queue->Id, 0, 0, TimeoutMs);
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

/************************************************************************/
// Namespace discovery

/** Reads the active NSID list with CNS 02h, page by page; FALSE if the controller cannot or the list is bogus. */
static BOOL ReadActiveList(NVME_CONTROLLER* Controller, U32* Nsids, U32* Count) {
    U32 Nn = Controller->Info.Identify.Nn;
    U32 Start = 0;
    *Count = 0;
    for (U32 Page = 0; Page <= NVME_MAX_NAMESPACES / NVME_NSID_LIST_ENTRIES; Page++) {
        if (NVMeAdminIdentify(Controller, NVME_CNS_ACTIVE_NAMESPACES, Start, Controller->ScratchPage.Physical, TRUE) !=
            KSTATUS_SUCCESS) {
            return FALSE;
        }
        const U8* Data = (const U8*)Controller->ScratchPage.Linear;
        U32 Entries = 0;
        for (; Entries < NVME_NSID_LIST_ENTRIES; Entries++) {
            U32 Nsid = ReadLE32(Data + 4 * Entries);
            if (Nsid == 0) break;
            if (Nsid <= Start || Nsid > Nn || Nsid == NVME_NSID_ALL) return FALSE;  // must increase, within NN
            if (*Count >= NVME_MAX_NAMESPACES) {
                WARNING("[NVMeAdminDiscoverNamespaces] %s: more than %u namespaces, the rest ignored",
                        Controller->Info.Name, NVME_MAX_NAMESPACES);
                return TRUE;
            }
            Nsids[(*Count)++] = Nsid;
            Start = Nsid;
        }
        if (Entries < NVME_NSID_LIST_ENTRIES) return TRUE;
        // A full page: the next one starts after the last NSID of this one.
    }
    return TRUE;
}

/** Probes NSIDs 1..NN (bounded) with Identify Namespace; a zero size means inactive. */
static void ProbeNamespaces(NVME_CONTROLLER* Controller, U32* Nsids, U32* Count) {
    U32 Last = MIN(Controller->Info.Identify.Nn, (U32)NVME_MAX_NAMESPACES);
    *Count = 0;
    for (U32 Nsid = 1; Nsid <= Last; Nsid++) {
        if (NVMeAdminIdentify(Controller, NVME_CNS_NAMESPACE, Nsid, Controller->ScratchPage.Physical, TRUE) !=
            KSTATUS_SUCCESS) {
            continue;
        }
        if (ReadLE64((const U8*)Controller->ScratchPage.Linear + 0) != 0) Nsids[(*Count)++] = Nsid;
    }
}

KSTATUS NVMeAdminDiscoverNamespaces(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    if (Info->Identify.Nn == 0) {
        INFO("[NVMeAdminDiscoverNamespaces] %s: the controller reports no namespaces (NN 0)", Info->Name);
        return KSTATUS_SUCCESS;
    }
    U32* Nsids = (U32*)PlatformAlloc(sizeof(U32) * NVME_MAX_NAMESPACES);
    if (Nsids == NULL) return KSTATUS_NO_MEMORY;
    U32 Count = 0;

    PlatformMutexLock(Controller->AdminMutex);
    BOOL ListUsable = Info->Version >= NVME_VERSION_1_1;  // CNS 02h arrived with NVMe 1.1
    if (!ListUsable || !ReadActiveList(Controller, Nsids, &Count)) {
        Info->NamespaceListFallback = TRUE;
        INFO("[NVMeAdminDiscoverNamespaces] %s: no usable active namespace list, probing NSIDs 1..%u", Info->Name,
             MIN(Info->Identify.Nn, (U32)NVME_MAX_NAMESPACES));
        ProbeNamespaces(Controller, Nsids, &Count);
    }

    KSTATUS Status = KSTATUS_SUCCESS;
    if (Count) {
        Controller->NamespaceInfos = (NVME_NAMESPACE_INFO*)PlatformAllocZero(sizeof(NVME_NAMESPACE_INFO) * Count);
        Controller->Namespaces = (NVME_NAMESPACE*)PlatformAllocZero(sizeof(NVME_NAMESPACE) * Count);
        if (Controller->NamespaceInfos == NULL || Controller->Namespaces == NULL) Status = KSTATUS_NO_MEMORY;
    }
    for (U32 I = 0; I < Count && Status == KSTATUS_SUCCESS; I++) {
        NVME_NAMESPACE_INFO* Ns = &Controller->NamespaceInfos[I];
        NVME_NAMESPACE* Namespace = &Controller->Namespaces[I];
        Ns->NSID = Nsids[I];
        Ns->ControllerIndex = Info->Index;
        Namespace->Controller = Controller;
        Namespace->Info = Ns;
        Namespace->Nsid = Nsids[I];
        if (NVMeAdminIdentify(Controller, NVME_CNS_NAMESPACE, Nsids[I], Controller->ScratchPage.Physical, FALSE) !=
            KSTATUS_SUCCESS) {
            StringCopy(Ns->Reason, "Identify Namespace failed", sizeof(Ns->Reason));
            continue;
        }
        NVMeDecodeIdentifyNamespace((const U8*)Controller->ScratchPage.Linear, Ns);
        if (NVMeNamespaceUsable(Ns, Info->PageSize, Ns->Reason, sizeof(Ns->Reason))) {
            Ns->Exposed = TRUE;
            Ns->MaxBlocksPerCommand = NVMeMaxBlocksPerCommand(Info->MaxCommandBytes, Ns->LbaSize);
            StringPrintFormat(Ns->DiskName, sizeof(Ns->DiskName), "nvme%un%u", Info->Index, Ns->NSID);
            Namespace->LbaSize = Ns->LbaSize;
            Namespace->Blocks = Ns->Size;
            Namespace->MaxBlocks = Ns->MaxBlocksPerCommand;
            Namespace->Exposed = TRUE;
        }
    }
    PlatformMutexUnlock(Controller->AdminMutex);
    if (Status == KSTATUS_SUCCESS) {
        Controller->NamespaceCount = Count;
        Info->ActiveNamespaceCount = Count;
        Info->Namespaces = Controller->NamespaceInfos;
    }
    PlatformFree(Nsids);
    return Status;
}

#endif  // NVME_WITH_PLATFORM

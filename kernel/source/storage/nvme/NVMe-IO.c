/*
 * NVMe-IO.c - reads, writes and flushes on a namespace, the retry rule and
 * the transfer limits.
 *
 * Splitting: one command carries at most MaxBlocksPerCommand blocks, the
 * smallest of MDTS (2^MDTS minimum-size pages; 0 = no limit), what one
 * tracker's PRP list pages can describe for any dword-aligned buffer (2 MiB
 * with one 4 KiB list page) and NLB's 16 bits (65536 blocks). A synchronous
 * request larger than that becomes several commands in flight together on
 * one queue, completing as one (the first error wins). The asynchronous
 * interface takes one command's worth per call.
 *
 * Alignment: PRP1 may start anywhere dword aligned, so such buffers go to
 * the device directly, page layout notwithstanding. A buffer that is not
 * dword aligned is bounced: the request is cut into pieces of the queue's
 * bounce buffer (128 KiB, allocated with the queue, one user at a time under
 * BounceMutex) and copied in or out.
 *
 * What a status means is NVMe-Spec.c's; what the driver does about it (the
 * retry rule) is here, and pure.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Pure: the retry rule

BOOL NVMeStatusRetryable(U16 NvmeStatus) {
    if (NvmeStatus == 0 || NVME_STATUS_DNR(NvmeStatus)) return FALSE;
    // Aborts the host caused are final: Command Abort Requested (a timeout path decides instead), SQ deletion
    // (the queue is going away), and the host-side path statuses (Host Pathing Error, Command Aborted By Host).
    switch (NVME_STATUS_CODE(NvmeStatus)) {
        case NVME_STATUS_ABORT_REQUESTED:
        case NVME_STATUS_ABORTED_SQ_DELETION:
        case NVME_STATUS_HOST_PATHING_ERROR:
        case NVME_STATUS_ABORTED_BY_HOST: return FALSE;
        default: return TRUE;
    }
}

U32 NVMeRetryDelayMs(U32 Attempt) {
    if (Attempt == 0) return 0;
    return 10U << MIN(Attempt - 1, 4U);  // 10, 20, 40, 80, 160 ms
}

/************************************************************************/
// Pure: transfer limits

U64 NVMeMdtsBytes(U8 Mdts, U8 MpsMin) {
    if (Mdts == 0 || Mdts > 20 || MpsMin > 15) return 0;  // 2^20 pages is 4 GiB or more: no real device says that
    return ((U64)1 << Mdts) * (4096ULL << MpsMin);
}

U64 NVMeMaxCommandBytes(U64 MdtsBytes, U32 PrpListPages, U32 PageSize) {
    U64 PrpLimit = NVMePRPMaxTransfer(PrpListPages, PageSize);
    return MdtsBytes ? MIN(MdtsBytes, PrpLimit) : PrpLimit;
}

U32 NVMeMaxBlocksPerCommand(U64 MaxCommandBytes, U32 LbaSize) {
    if (LbaSize == 0) return 0;
    U64 Blocks = MaxCommandBytes / LbaSize;
    return (U32)MIN(Blocks, 65536ULL);  // NLB is a 16-bit, 0-based count
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// Errors

LPCSTR NVMeOpcodeName(BOOL Admin, U8 Opcode) {
    if (Admin) {
        switch (Opcode) {
            case NVME_ADMIN_DELETE_SQ: return "Delete I/O SQ";
            case NVME_ADMIN_CREATE_SQ: return "Create I/O SQ";
            case NVME_ADMIN_GET_LOG_PAGE: return "Get Log Page";
            case NVME_ADMIN_DELETE_CQ: return "Delete I/O CQ";
            case NVME_ADMIN_CREATE_CQ: return "Create I/O CQ";
            case NVME_ADMIN_IDENTIFY: return "Identify";
            case NVME_ADMIN_SET_FEATURES: return "Set Features";
            case NVME_ADMIN_GET_FEATURES: return "Get Features";
            case NVME_ADMIN_ABORT: return "Abort";
            case NVME_ADMIN_ASYNC_EVENT: return "Asynchronous Event Request";
            case NVME_ADMIN_NAMESPACE_ATTACHMENT: return "Namespace Attachment";
            default: return "admin command";
        }
    }
    switch (Opcode) {
        case NVME_IO_FLUSH: return "Flush";
        case NVME_IO_WRITE: return "Write";
        case NVME_IO_READ: return "Read";
        case NVME_IO_WRITE_ZEROES: return "Write Zeroes";
        case NVME_IO_DSM: return "Dataset Management";
        default: return "I/O command";
    }
}

void NVMeReportError(NVME_CONTROLLER* Controller, const NVME_TRACKER* Tracker, U16 NvmeStatus) {
    char Text[NVME_REASON_LENGTH];
    NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
    NVME_COUNT(Controller->Info.Errors, 1);
    NVMeViewSetError(Controller, NvmeStatus);
    BOOL Admin = Tracker->Queue->Id == 0;
    if (Admin || Tracker->Opcode == NVME_IO_FLUSH) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5, "[NVMeReportError] %s: %s (NSID %u) failed: %s",
                         Controller->Info.Name, NVMeOpcodeName(Admin, Tracker->Opcode), Tracker->Nsid, Text);
    } else {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5, "[NVMeReportError] %s: %s NSID %u LBA %llu x%u failed: %s",
                         Controller->Info.Name, NVMeOpcodeName(FALSE, Tracker->Opcode), Tracker->Nsid, Tracker->Lba,
                         Tracker->Blocks, Text);
    }
}

void NVMeReportDriverFailure(NVME_CONTROLLER* Controller, const NVME_TRACKER* Tracker) {
    NVME_COUNT(Controller->Info.FailedByDriver, 1);
    LPCSTR Why = Tracker->Failure == KSTATUS_TIMEOUT ? "timed out (no more resubmissions)" : "controller failed";
    BOOL Admin = Tracker->Queue->Id == 0;
    LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 5,
                     "[NVMeReportError] %s: %s NSID %u LBA %llu x%u ended by the driver: %s", Controller->Info.Name,
                     NVMeOpcodeName(Admin, Tracker->Opcode), Tracker->Nsid, Tracker->Lba, Tracker->Blocks, Why);
}

KSTATUS NVMeIoNoTracker(NVME_CONTROLLER* Controller) {
    U32 State = Controller->Info.State;
    return (State == NVME_STATE_FAILED || State == NVME_STATE_SHUTDOWN) ? KSTATUS_IO_ERROR : KSTATUS_BUSY;
}

/************************************************************************/
// Commands

static PHYSICAL Translate(LPCVOID Linear, LPVOID Context) {
    UNUSED(Context);
    return PlatformTranslate(Linear);
}

NVME_QUEUE* NVMeIoPickQueue(NVME_CONTROLLER* Controller) {
    // One pair per CPU once the platform tells the current CPU; until then, spread round robin. IoCount is read
    // once: a reset may lower it meanwhile (a queue it dropped is dead and refuses the command), and it is 0 on
    // an admin-only controller.
    U32 Count = __atomic_load_n(&Controller->IoCount, __ATOMIC_RELAXED);
    if (LIKELY(Count == 1)) return &Controller->Io[0];
    if (UNLIKELY(Count == 0)) return NULL;
    U32 Next = __atomic_fetch_add(&Controller->NextIoQueue, 1, __ATOMIC_RELAXED);
    return &Controller->Io[Next % Count];
}

/** Builds a Read/Write/Flush command in the tracker, its PRPs in the tracker's list pages. */
static KSTATUS BuildCommand(NVME_NAMESPACE* Namespace, NVME_TRACKER* Tracker, U8 Opcode, U64 Lba, U32 Blocks,
                            LPCVOID Buffer) {
    NVME_COMMAND* Command = &Tracker->Command;
    *Command = (NVME_COMMAND){0};
    Command->Opcode = Opcode;
    Command->Nsid = Namespace->Nsid;
    Tracker->Lba = Lba;
    Tracker->Blocks = Blocks;
    if (Opcode == NVME_IO_FLUSH) return KSTATUS_SUCCESS;
    NVME_PRP_RESULT Prp;
    KSTATUS Status = NVMePRPBuild(Buffer, (U64)Blocks * Namespace->LbaSize, Namespace->Controller->Info.PageSize,
                                  Translate, NULL, &Tracker->Prp, &Prp);
    if (Status != KSTATUS_SUCCESS) return Status;
    Command->Prp1 = Prp.Prp1;
    Command->Prp2 = Prp.Prp2;
    Command->Cdw10 = (U32)Lba;
    Command->Cdw11 = (U32)(Lba >> 32);
    Command->Cdw12 = (Blocks - 1) & 0xFFFF;  // NLB, 0-based
    return KSTATUS_SUCCESS;
}

static void AsyncDone(NVME_TRACKER* Tracker) {
    if (Tracker->Failure != KSTATUS_SUCCESS) {
        Tracker->Callback(Tracker->Failure, 0, Tracker->Context);  // ended by the driver: no device status
        return;
    }
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    if (NvmeStatus != 0) NVMeReportError(Tracker->Queue->Controller, Tracker, NvmeStatus);
    Tracker->Callback(NVMeStatusToKStatus(NvmeStatus), NvmeStatus, Tracker->Context);
}

KSTATUS NVMeSubmitIO(NVME_NAMESPACE* Namespace, U32 Opcode, U64 Lba, U32 Blocks, LPVOID Buffer,
                     NVME_IO_CALLBACK Callback, LPVOID Context) {
    if (Callback == NULL || Namespace == NULL) return KSTATUS_BAD_PARAMETER;
    // Flush, Write and Read are opcodes 0, 1 and 2: one comparison says it is one of them.
    STATIC_ASSERT(NVME_IO_FLUSH == 0 && NVME_IO_WRITE == 1 && NVME_IO_READ == 2, "the NVM opcodes NVMeSubmitIO takes");
    if (UNLIKELY(Opcode > NVME_IO_READ)) return KSTATUS_NOT_SUPPORTED;
    if (Opcode == NVME_IO_FLUSH) {
        Lba = 0;
        Blocks = 1;
        Buffer = Namespace;  // only to pass the range check: a flush moves no data
    }
    KSTATUS Status = NVMeIoCheckRange(Namespace, Lba, Blocks, Buffer);
    if (Status != KSTATUS_SUCCESS) return Status;
    if (Opcode != NVME_IO_FLUSH && (Blocks > Namespace->MaxBlocks || !IS_ALIGNED((LINEAR)Buffer, 4))) {
        return KSTATUS_BAD_PARAMETER;
    }
    NVME_QUEUE* Queue = NVMeIoPickQueue(Namespace->Controller);
    if (UNLIKELY(Queue == NULL)) return KSTATUS_IO_ERROR;
    NVME_TRACKER* Tracker = NVMeQueueWaitTracker(Queue);
    if (Tracker == NULL) return NVMeIoNoTracker(Namespace->Controller);
    Status = BuildCommand(Namespace, Tracker, (U8)Opcode, Lba, Opcode == NVME_IO_FLUSH ? 0 : Blocks, Buffer);
    if (Status != KSTATUS_SUCCESS) {
        NVMeQueuePutTracker(Tracker);
        return Status;
    }
    Tracker->Done = AsyncDone;
    Tracker->Callback = Callback;
    Tracker->Context = Context;
    Status = NVMeQueueSubmit(Tracker);
    if (Status != KSTATUS_SUCCESS) NVMeQueuePutTracker(Tracker);
    return Status;
}

/** Split into commands of at most MaxBlocks, all in flight together on Queue; waits for all of them. */
static KSTATUS TransferAligned(NVME_NAMESPACE* Namespace, NVME_QUEUE* Queue, U8 Opcode, U64 Lba, U32 Blocks,
                               LPCVOID Buffer) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_REQUEST Request;
    KSTATUS Status = KSTATUS_SUCCESS;
    NVMeRequestInit(Controller, &Request);
    for (U32 Done = 0; Done < Blocks;) {
        U32 Count = MIN(Blocks - Done, Namespace->MaxBlocks);
        NVME_TRACKER* Tracker = NVMeQueueWaitTracker(Queue);
        if (Tracker == NULL) {
            Status = NVMeIoNoTracker(Controller);
            break;
        }
        LPCVOID Piece = Buffer ? (LPCVOID)((const U8*)Buffer + (SIZE)Done * Namespace->LbaSize) : NULL;
        Status = BuildCommand(Namespace, Tracker, Opcode, Lba + Done, Count, Piece);
        if (Status != KSTATUS_SUCCESS) {
            NVMeQueuePutTracker(Tracker);
            break;
        }
        Status = NVMeRequestSubmitChild(&Request, Tracker);
        if (Status != KSTATUS_SUCCESS) break;
        Done += Count;
    }
    KSTATUS Result = NVMeRequestWait(Queue, &Request, Controller->IoTimeoutMs);
    NVMeRequestRelease(Controller, &Request);
    return Status != KSTATUS_SUCCESS ? Status : Result;
}

/** For buffers that are not dword aligned: through the queue's bounce buffer, piece by piece. */
static KSTATUS TransferBounced(NVME_NAMESPACE* Namespace, NVME_QUEUE* Queue, U8 Opcode, U64 Lba, U32 Blocks,
                               U8* Buffer) {
    U32 PieceBlocks = MIN((U32)(NVME_BOUNCE_BYTES / Namespace->LbaSize), Namespace->MaxBlocks);
    KSTATUS Status = KSTATUS_SUCCESS;
    PlatformMutexLock(Queue->BounceMutex);
    for (U32 Done = 0; Done < Blocks && Status == KSTATUS_SUCCESS;) {
        U32 Count = MIN(Blocks - Done, PieceBlocks);
        SIZE Bytes = (SIZE)Count * Namespace->LbaSize;
        U8* User = Buffer + (SIZE)Done * Namespace->LbaSize;
        if (Opcode == NVME_IO_WRITE) MemoryCopy(Queue->BounceMemory.Linear, User, Bytes);
        Status = TransferAligned(Namespace, Queue, Opcode, Lba + Done, Count, Queue->BounceMemory.Linear);
        if (Status == KSTATUS_SUCCESS && Opcode == NVME_IO_READ) MemoryCopy(User, Queue->BounceMemory.Linear, Bytes);
        Done += Count;
    }
    PlatformMutexUnlock(Queue->BounceMutex);
    return Status;
}

static KSTATUS Transfer(NVME_NAMESPACE* Namespace, U8 Opcode, U64 Lba, U32 Blocks, LPCVOID Buffer) {
    KSTATUS Status = NVMeIoCheckRange(Namespace, Lba, Blocks, Buffer);
    if (Status != KSTATUS_SUCCESS) return Status;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Namespace->Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    if (IS_ALIGNED((LINEAR)Buffer, 4)) return TransferAligned(Namespace, Queue, Opcode, Lba, Blocks, Buffer);
    return TransferBounced(Namespace, Queue, Opcode, Lba, Blocks, (U8*)Buffer);
}

KSTATUS NVMeReadSync(NVME_NAMESPACE* Namespace, U64 Lba, U32 Blocks, LPVOID Buffer) {
    return Transfer(Namespace, NVME_IO_READ, Lba, Blocks, Buffer);
}

KSTATUS NVMeWriteSync(NVME_NAMESPACE* Namespace, U64 Lba, U32 Blocks, LPCVOID Buffer) {
    return Transfer(Namespace, NVME_IO_WRITE, Lba, Blocks, Buffer);
}

KSTATUS NVMeFlushSync(NVME_NAMESPACE* Namespace) {
    KSTATUS Status = NVMeIoCheckRange(Namespace, 0, 1, Namespace);
    if (Status != KSTATUS_SUCCESS) return Status;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Namespace->Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    return TransferAligned(Namespace, Queue, NVME_IO_FLUSH, 0, 1, NULL);
}

#endif  // NVME_WITH_PLATFORM

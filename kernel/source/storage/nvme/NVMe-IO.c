/*
 * NVMe-IO.c - reads, writes and flushes on a namespace, the retry rule and
 * the transfer limits.
 *
 * Splitting: one command carries at most MaxBlocksPerCommand blocks, the
 * smallest of MDTS (2^MDTS minimum-size pages; 0 = no limit), what one
 * tracker's PRP list pages can describe for any dword-aligned buffer (2 MiB
 * with one 4 KiB list page) and NLB's 16 bits (65536 blocks), and only as
 * much of a vectored request as its data pointer can say (NVMePlanCommand,
 * NVMe-SGL.c: PRPs or an SGL). A synchronous request larger than that
 * becomes several commands in flight together on one queue, completing as
 * one (the first error wins). The asynchronous interface takes one
 * command's worth per call.
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
#include "storage/nvme/NVMe-QueueSteps.h"

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
            case NVME_ADMIN_DOORBELL_BUFFER_CONFIG: return "Doorbell Buffer Config";
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

NVME_QUEUE* NVMeIoPickPollQueue(NVME_CONTROLLER* Controller) {
    U32 Count = __atomic_load_n(&Controller->IoCount, __ATOMIC_RELAXED);
    U32 Irq = __atomic_load_n(&Controller->IrqQueueCount, __ATOMIC_RELAXED);
    if (LIKELY(Count <= Irq)) return NULL;
    return &Controller->Io[Irq + PlatformCurrentCpu() % (Count - Irq)];
}

/** The limits NVMePlanCommand works within on this namespace. */
static NVME_PLAN_LIMITS PlanLimits(NVME_NAMESPACE* Namespace) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    U32 PageSize = Controller->Info.PageSize;
    return (NVME_PLAN_LIMITS){PageSize,
                              Namespace->LbaSize,
                              (U64)Namespace->MaxBlocks * Namespace->LbaSize,
                              (U32)(NVMePRPMaxTransfer(NVME_PRP_PAGES_PER_TRACKER, PageSize) / PageSize) + 1,
                              NVMeSGLCapacity(NVME_PRP_PAGES_PER_TRACKER, PageSize),
                              (U8)__atomic_load_n(&Controller->Info.SglMode, __ATOMIC_RELAXED),
                              Controller->Info.SglThreshold};
}

/**
 * Builds a Read/Write/Flush command in the tracker; its data pointer (PRPs or an SGL, as Sgl says) in the
 * tracker's pool page(s).
 */
static KSTATUS BuildCommand(NVME_NAMESPACE* Namespace, NVME_TRACKER* Tracker, U8 Opcode, U64 Lba, U32 Blocks,
                            const NVME_DATA* Data, BOOL Sgl) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_COMMAND* Command = &Tracker->Command;
    *Command = (NVME_COMMAND){0};
    Command->Opcode = Opcode;
    Command->Nsid = Namespace->Nsid;
    Tracker->Lba = Lba;
    Tracker->Blocks = Blocks;
    if (Opcode == NVME_IO_FLUSH) return KSTATUS_SUCCESS;
    U32 PageSize = Controller->Info.PageSize;
    if (Sgl) {
        NVME_SGL_RESULT Result;
        BOOL Dword = (Controller->Info.Identify.Sgls & NVME_SGLS_SUPPORT_MASK) == NVME_SGLS_DWORD_ALIGNED;
        KSTATUS Status = NVMeSGLBuild(Data, PageSize, Dword, Translate, NULL, &Tracker->Prp, &Result);
        if (Status != KSTATUS_SUCCESS) return Status;
        Command->Flags = NVME_FLAGS_PSDT_SGL;
        Command->Prp1 = Result.Sgl1[0];
        Command->Prp2 = Result.Sgl1[1];
        NVME_COUNT(Controller->Info.SglCommands, 1);
    } else {
        NVME_PRP_RESULT Prp;
        KSTATUS Status = NVMePRPBuildData(Data, PageSize, Translate, NULL, &Tracker->Prp, &Prp);
        if (Status != KSTATUS_SUCCESS) return Status;
        Command->Prp1 = Prp.Prp1;
        Command->Prp2 = Prp.Prp2;
        NVME_COUNT(Controller->Info.PrpCommands, 1);
    }
    Command->Cdw10 = (U32)Lba;
    Command->Cdw11 = (U32)(Lba >> 32);
    Command->Cdw12 = (Blocks - 1) & 0xFFFF;  // NLB, 0-based
    return KSTATUS_SUCCESS;
}

/** AsyncDone for a command that failed: out of line, so the clean completion's tail call needs no frame. */
static __attribute__((noinline, cold)) void AsyncFailed(NVME_TRACKER* Tracker) {
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    if (Tracker->Failure != KSTATUS_SUCCESS) {
        Tracker->Callback(Tracker->Failure, 0, Tracker->Context);  // ended by the driver: no device status
        return;
    }
    NVMeReportError(Tracker->Queue->Controller, Tracker, NvmeStatus);
    Tracker->Callback(NVMeStatusToKStatus(NvmeStatus), NvmeStatus, Tracker->Context);
}

static void AsyncDone(NVME_TRACKER* Tracker) {
    if (LIKELY(Tracker->Failure == KSTATUS_SUCCESS && NVME_STATUS_FIELD(Tracker->Completion.Status) == 0)) {
        Tracker->Callback(KSTATUS_SUCCESS, 0, Tracker->Context);  // nearly every command: no status to map
        return;
    }
    AsyncFailed(Tracker);
}

/** Checks one asynchronous command (NVMeSubmitIO's rules); a flush gets the range check's stand-ins. */
static ALWAYS_INLINE KSTATUS CheckIO(NVME_NAMESPACE* Namespace, NVME_IO_REQUEST* Io) {
    if (Io->Callback == NULL || Namespace == NULL) return KSTATUS_BAD_PARAMETER;
    // Flush, Write and Read are opcodes 0, 1 and 2: one comparison says it is one of them.
    STATIC_ASSERT(NVME_IO_FLUSH == 0 && NVME_IO_WRITE == 1 && NVME_IO_READ == 2, "the NVM opcodes NVMeSubmitIO takes");
    if (UNLIKELY(Io->Opcode > NVME_IO_READ)) return KSTATUS_NOT_SUPPORTED;
    if (Io->Opcode == NVME_IO_FLUSH) {
        Io->Lba = 0;
        Io->Blocks = 1;
        Io->Buffer = Namespace;  // only to pass the range check: a flush moves no data
    }
    KSTATUS Status = NVMeIoCheckRange(Namespace, Io->Lba, Io->Blocks, Io->Buffer);
    if (Status != KSTATUS_SUCCESS) return Status;
    if (Io->Opcode != NVME_IO_FLUSH && (Io->Blocks > Namespace->MaxBlocks || !IS_ALIGNED((LINEAR)Io->Buffer, 4))) {
        return KSTATUS_BAD_PARAMETER;
    }
    return KSTATUS_SUCCESS;
}

/**
 * Whether the rule could give a one-buffer command of Bytes an SGL: only such a command is planned, the small
 * ones in auto skip it (make bench-model: ~100 instructions of a 4 KiB read).
 */
static inline BOOL MaySgl(NVME_CONTROLLER* Controller, U64 Bytes) {
    U32 Mode = __atomic_load_n(&Controller->Info.SglMode, __ATOMIC_RELAXED);
    U32 Threshold = Controller->Info.SglThreshold;
    return Mode == NVME_SGL_ON || (Mode == NVME_SGL_AUTO && Threshold != 0 && Bytes >= Threshold);
}

/** Builds a checked asynchronous command in Tracker. */
static ALWAYS_INLINE KSTATUS BuildIO(NVME_NAMESPACE* Namespace, NVME_TRACKER* Tracker, const NVME_IO_REQUEST* Io) {
    // One buffer: the rule's choice when it carries the whole command (an SGL may not: a scattered buffer can
    // need more data blocks than a pool page holds), else PRPs, which always can (Blocks <= MaxBlocks).
    DISK_SEGMENT Segment = {Io->Buffer, Io->Blocks * Namespace->LbaSize};
    NVME_DATA Data = {&Segment, 1, 0, Segment.Length};
    BOOL Sgl = FALSE;
    BOOL Flush = Io->Opcode == NVME_IO_FLUSH;
    if (!Flush && MaySgl(Namespace->Controller, Data.Length)) {
        NVME_PLAN_LIMITS Limits = PlanLimits(Namespace);
        NVME_DATA_PLAN Plan = NVMePlanCommand(&Data, &Limits);
        Sgl = Plan.Sgl && Plan.Bytes == Data.Length;
    }
    KSTATUS Status = BuildCommand(Namespace, Tracker, (U8)Io->Opcode, Io->Lba, Flush ? 0 : Io->Blocks, &Data, Sgl);
    if (Status != KSTATUS_SUCCESS) return Status;
    Tracker->Done = AsyncDone;
    Tracker->Callback = Io->Callback;
    Tracker->Context = Io->Context;
    return KSTATUS_SUCCESS;
}

/** Trackers built for one doorbell. */
typedef struct tag_IO_BATCH {
    NVME_TRACKER* Trackers[NVME_SUBMIT_BATCH];
    U32 Count;
    U32 Submitted;
} IO_BATCH;

/** Posts what the batch holds; on a dead queue its trackers go back (their callbacks never run). */
static KSTATUS FlushBatch(IO_BATCH* Batch) {
    KSTATUS Status = NVMeQueueSubmitBatch(Batch->Trackers, Batch->Count);
    if (Status == KSTATUS_SUCCESS) Batch->Submitted += Batch->Count;
    else for (U32 I = 0; I < Batch->Count; I++) NVMeQueuePutTracker(Batch->Trackers[I]);
    Batch->Count = 0;
    return Status;
}

KSTATUS NVMeSubmitIOBatch(NVME_NAMESPACE* Namespace, const NVME_IO_REQUEST* Requests, U32 Count, U32* Submitted) {
    IO_BATCH Batch;
    Batch.Count = Batch.Submitted = 0;
    KSTATUS Status = Namespace == NULL || Requests == NULL ? KSTATUS_BAD_PARAMETER : KSTATUS_SUCCESS;
    NVME_QUEUE* Queue = Status == KSTATUS_SUCCESS ? NVMeIoPickQueue(Namespace->Controller) : NULL;
    if (Status == KSTATUS_SUCCESS && Queue == NULL) Status = KSTATUS_IO_ERROR;
    for (U32 I = 0; I < Count && Status == KSTATUS_SUCCESS; I++) {
        NVME_IO_REQUEST Io = Requests[I];
        Status = CheckIO(Namespace, &Io);
        if (Status != KSTATUS_SUCCESS) break;
        // A held tracker never waits for another: with none free at once, what is built goes out first.
        NVME_TRACKER* Tracker = Batch.Count ? NVMeQueueTakeTracker(Queue) : NULL;
        if (Tracker == NULL) {
            if (Batch.Count && (Status = FlushBatch(&Batch)) != KSTATUS_SUCCESS) break;
            Tracker = NVMeQueueWaitTracker(Queue);
        }
        if (Tracker == NULL) {
            Status = NVMeIoNoTracker(Namespace->Controller);
            break;
        }
        Status = BuildIO(Namespace, Tracker, &Io);
        if (Status != KSTATUS_SUCCESS) {
            NVMeQueuePutTracker(Tracker);
            break;
        }
        Batch.Trackers[Batch.Count++] = Tracker;
        if (Batch.Count == NVME_SUBMIT_BATCH) Status = FlushBatch(&Batch);
    }
    if (Batch.Count) {
        KSTATUS Flushed = FlushBatch(&Batch);
        if (Status == KSTATUS_SUCCESS) Status = Flushed;
    }
    if (Submitted) *Submitted = Batch.Submitted;
    return Status;
}

KSTATUS NVMeSubmitIO(NVME_NAMESPACE* Namespace, U32 Opcode, U64 Lba, U32 Blocks, LPVOID Buffer,
                     NVME_IO_CALLBACK Callback, LPVOID Context) {
    // The batch's steps for one command, without its bookkeeping (make bench-model counts this path).
    NVME_IO_REQUEST Io = {Opcode, Lba, Blocks, Buffer, Callback, Context};
    KSTATUS Status = CheckIO(Namespace, &Io);
    if (Status != KSTATUS_SUCCESS) return Status;
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Controller);
    if (UNLIKELY(Queue == NULL)) return KSTATUS_IO_ERROR;
    U64 Bytes = (U64)Io.Blocks * Namespace->LbaSize;
    if (LIKELY(Io.Opcode != NVME_IO_FLUSH && !MaySgl(Controller, Bytes))) {
        // A buffer touching one or two pages (every block read): PRP1/PRP2 first, then tracker, command, post and
        // doorbell under one lock hold. More pages: the general path below.
        U64 Prp1, Prp2;
        Status = NVMePRPBuildSmall((LINEAR)Io.Buffer, Bytes, Controller->Info.PageSize, Translate, NULL, &Prp1, &Prp2);
        if (LIKELY(Status == KSTATUS_SUCCESS)) {
            return NVMeQueueSubmitIO(Queue, &Io, Namespace->Nsid, Prp1, Prp2, AsyncDone);
        }
        if (Status != KSTATUS_NO_MEMORY) return Status;
    }
    NVME_TRACKER* Tracker = NVMeQueueWaitTracker(Queue);
    if (Tracker == NULL) return NVMeIoNoTracker(Controller);
    Status = BuildIO(Namespace, Tracker, &Io);
    if (Status == KSTATUS_SUCCESS) Status = NVMeQueueSubmit(Tracker);
    if (Status != KSTATUS_SUCCESS) NVMeQueuePutTracker(Tracker);
    return Status;
}

/**
 * Split into commands as NVMePlanCommand cuts them (MaxBlocks, what one data pointer can say), all in flight
 * together on Queue, posted NVME_SUBMIT_BATCH to a doorbell, children of the caller's Request (waited for by
 * TransferAligned, or later by the disk layer's asynchronous requests). Segments NULL: one Flush.
 */
KSTATUS NVMeTransferStart(NVME_NAMESPACE* Namespace, NVME_QUEUE* Queue, U8 Opcode, U64 Lba, U32 Blocks,
                          const DISK_SEGMENT* Segments, U32 Count, NVME_REQUEST* Request) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_PLAN_LIMITS Limits = PlanLimits(Namespace);
    NVME_DATA Rest = {Segments, Count, 0, (U64)Blocks * Namespace->LbaSize};
    NVME_TRACKER* Batch[NVME_SUBMIT_BATCH];  // built, posted with one doorbell
    U32 Built = 0;
    KSTATUS Status = KSTATUS_SUCCESS;
    NVMeRequestInit(Controller, Request);
    for (U32 Done = 0; Done < Blocks;) {
        NVME_DATA_PLAN Plan = Segments ? NVMePlanCommand(&Rest, &Limits) : (NVME_DATA_PLAN){Namespace->LbaSize, FALSE};
        U32 Command = (U32)(Plan.Bytes / Namespace->LbaSize);
        if (Command == 0) {
            Status = KSTATUS_BAD_PARAMETER;  // no command can carry the next block (a caller's bad segments)
            break;
        }
        // A held tracker never waits for another: with none free at once, what is built goes out first.
        NVME_TRACKER* Tracker = Built ? NVMeQueueTakeTracker(Queue) : NULL;
        if (Tracker == NULL) {
            if (Built && (Status = NVMeRequestSubmitChildren(Request, Batch, Built)) != KSTATUS_SUCCESS) {
                Built = 0;
                break;
            }
            Built = 0;
            Tracker = NVMeQueueWaitTracker(Queue);
        }
        if (Tracker == NULL) {
            Status = NVMeIoNoTracker(Controller);
            break;
        }
        NVME_DATA Piece = Rest;
        Piece.Length = Plan.Bytes;
        Status = BuildCommand(Namespace, Tracker, Opcode, Lba + Done, Command, &Piece, Plan.Sgl);
        if (Status != KSTATUS_SUCCESS) {
            NVMeQueuePutTracker(Tracker);
            break;
        }
        Batch[Built++] = Tracker;
        if (Built == NVME_SUBMIT_BATCH) {
            Status = NVMeRequestSubmitChildren(Request, Batch, Built);
            Built = 0;
            if (Status != KSTATUS_SUCCESS) break;
        }
        Done += Command;
        // Past the command's bytes: whole segments, then into the one it ends in.
        U64 Skip = Plan.Bytes;
        while (Segments && Rest.Count > 0 && Skip >= Rest.Segments[0].Length - Rest.Offset) {
            Skip -= Rest.Segments[0].Length - Rest.Offset;
            Rest.Segments++;
            Rest.Count--;
            Rest.Offset = 0;
        }
        Rest.Offset += (U32)Skip;
        Rest.Length -= Plan.Bytes;
    }
    // What is built goes out even after a later failure: its trackers are the request's to end.
    if (Built) {
        KSTATUS Posted = NVMeRequestSubmitChildren(Request, Batch, Built);
        if (Status == KSTATUS_SUCCESS) Status = Posted;
    }
    return Status;
}

/** NVMeTransferStart, then the wait for all of its commands. Segments NULL: one Flush. */
static KSTATUS TransferAligned(NVME_NAMESPACE* Namespace, NVME_QUEUE* Queue, U8 Opcode, U64 Lba, U32 Blocks,
                               const DISK_SEGMENT* Segments, U32 Count) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_REQUEST Request;
    KSTATUS Status = NVMeTransferStart(Namespace, Queue, Opcode, Lba, Blocks, Segments, Count, &Request);
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
        DISK_SEGMENT Bounce = {Queue->BounceMemory.Linear, (U32)Bytes};
        Status = TransferAligned(Namespace, Queue, Opcode, Lba + Done, Count, &Bounce, 1);
        if (Status == KSTATUS_SUCCESS && Opcode == NVME_IO_READ) MemoryCopy(User, Queue->BounceMemory.Linear, Bytes);
        Done += Count;
    }
    PlatformMutexUnlock(Queue->BounceMutex);
    return Status;
}

static KSTATUS Transfer(NVME_NAMESPACE* Namespace, U8 Opcode, U64 Lba, U32 Blocks, LPCVOID Buffer) {
    KSTATUS Status = NVMeIoCheckRange(Namespace, Lba, Blocks, Buffer);
    if (Status != KSTATUS_SUCCESS) return Status;
    // One aligned command: a polled queue if there are any (nvme.poll_queues), its waiter reaps without sleeping.
    BOOL Aligned = IS_ALIGNED((LINEAR)Buffer, 4);
    NVME_QUEUE* Queue = Aligned && Blocks <= Namespace->MaxBlocks ? NVMeIoPickPollQueue(Namespace->Controller) : NULL;
    if (Queue == NULL) Queue = NVMeIoPickQueue(Namespace->Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    if (!Aligned) return TransferBounced(Namespace, Queue, Opcode, Lba, Blocks, (U8*)Buffer);
    DISK_SEGMENT Segment = {(LPVOID)Buffer, 0};
    if ((U64)Blocks * Namespace->LbaSize <= MAX_U32) {
        Segment.Length = Blocks * Namespace->LbaSize;
        return TransferAligned(Namespace, Queue, Opcode, Lba, Blocks, &Segment, 1);
    }
    // 4 GiB or more in one call: in pieces a segment can say.
    U32 Piece = (MAX_U32 / Namespace->LbaSize) & ~0xFFFU;
    for (U64 Done = 0; Done < Blocks && Status == KSTATUS_SUCCESS; Done += Piece) {
        U32 Count = (U32)MIN(Blocks - Done, (U64)Piece);
        Segment = (DISK_SEGMENT){(U8*)Buffer + (SIZE)Done * Namespace->LbaSize, Count * Namespace->LbaSize};
        Status = TransferAligned(Namespace, Queue, Opcode, Lba + Done, Count, &Segment, 1);
    }
    return Status;
}

/** Vectored: checked, then one request of commands (or, with a buffer that is not dword aligned, one a buffer). */
static KSTATUS TransferVector(NVME_NAMESPACE* Namespace, U8 Opcode, U64 Lba, const DISK_SEGMENT* Segments,
                              U32 Count) {
    U64 Bytes = 0;
    BOOL Aligned = TRUE;
    for (U32 I = 0; Segments && I < Count; I++) {
        if (Segments[I].Buffer == NULL || Segments[I].Length == 0 || Segments[I].Length % Namespace->LbaSize) {
            return KSTATUS_BAD_PARAMETER;
        }
        Aligned = Aligned && IS_ALIGNED((LINEAR)Segments[I].Buffer, 4);
        Bytes += Segments[I].Length;
    }
    U64 Blocks = Bytes / Namespace->LbaSize;
    KSTATUS Status = NVMeIoCheckRange(Namespace, Lba, Blocks, Segments);
    if (Status != KSTATUS_SUCCESS) return Status;
    if (Blocks > MAX_U32) return KSTATUS_BAD_PARAMETER;
    if (!Aligned) {
        for (U32 I = 0; I < Count && Status == KSTATUS_SUCCESS; I++) {
            U32 SegmentBlocks = Segments[I].Length / Namespace->LbaSize;
            Status = Transfer(Namespace, Opcode, Lba, SegmentBlocks, Segments[I].Buffer);
            Lba += SegmentBlocks;
        }
        return Status;
    }
    NVME_QUEUE* Queue = NVMeIoPickQueue(Namespace->Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    return TransferAligned(Namespace, Queue, Opcode, Lba, (U32)Blocks, Segments, Count);
}

KSTATUS NVMeReadVector(NVME_NAMESPACE* Namespace, U64 Lba, const DISK_SEGMENT* Segments, U32 Count) {
    return TransferVector(Namespace, NVME_IO_READ, Lba, Segments, Count);
}

KSTATUS NVMeWriteVector(NVME_NAMESPACE* Namespace, U64 Lba, const DISK_SEGMENT* Segments, U32 Count) {
    return TransferVector(Namespace, NVME_IO_WRITE, Lba, Segments, Count);
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
    return TransferAligned(Namespace, Queue, NVME_IO_FLUSH, 0, 1, NULL, 0);
}

#endif  // NVME_WITH_PLATFORM

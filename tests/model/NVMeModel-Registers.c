/*
 * NVMeModel-Registers.c - the controller's BAR0 registers: access width
 * and alignment checks, CAP/VS/INTMS/INTMC/CC/CSTS/NSSR/AQA/ASQ/ACQ, the
 * enable / disable / shutdown state machine, and the doorbells.
 *
 * State machine (NVMe 1.4 3.1.5, 3.1.6, 7.6): EN 0->1 checks the
 * configuration (the checks QEMU's nvme_start_ctrl makes), creates the
 * admin queues and raises RDY ReadyDelayMs later; EN 1->0 is a controller
 * reset (every queue, command and AER is dropped) and RDY falls
 * DisableDelayMs later; CC.SHN sets SHST to "occurring", then "complete"
 * ShutdownDelayMs later. Delays are read against the platform clock when
 * CSTS is read, so a driver polling CSTS between PlatformSleepMs calls sees
 * exactly the configured behaviour.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

/************************************************************************/
// Status and state machine

void NmUpdateStatusLocked(NM_MODEL* Model) {
    U64 Now = HostClockNowNs();
    if (Model->ReadyPending && Now >= Model->ReadyAtNs) {
        Model->ReadyPending = FALSE;
        if ((Model->Cc & NM_CC_EN) && !Model->Fatal) Model->Csts |= NM_CSTS_RDY;
    }
    if (Model->NotReadyPending && Now >= Model->NotReadyAtNs) {
        Model->NotReadyPending = FALSE;
        Model->Csts &= ~NM_CSTS_RDY;
    }
    if (Model->ShutdownPending && Now >= Model->ShutdownAtNs) {
        Model->ShutdownPending = FALSE;
        NmWriteCacheCommitLocked(Model, 0xFFFFFFFFU);  // a controller shut down has its cache on the medium
        Model->Csts = (Model->Csts & ~NM_CSTS_SHST_MASK) | NM_CSTS_SHST_COMPLETE;
    }
}

BOOL NmReadyLocked(NM_MODEL* Model) {
    NmUpdateStatusLocked(Model);
    return (Model->Cc & NM_CC_EN) && (Model->Csts & NM_CSTS_RDY) && !(Model->Csts & NM_CSTS_CFS) &&
           (Model->Csts & NM_CSTS_SHST_MASK) == 0;
}

void NmSetFatalLocked(NM_MODEL* Model, LPCSTR Reason) {
    if (!Model->Fatal) fprintf(stderr, "NVMe model: controller fatal status: %s\n", Reason);
    Model->Fatal = TRUE;
    Model->Csts |= NM_CSTS_CFS;
}

void NmFreeQueue(NM_QUEUE* Queue) {
    free(Queue->Pages);
    free(Queue->Outstanding);
    for (NM_COMPLETION* C = Queue->Waiting; C;) {
        NM_COMPLETION* Next = C->Next;
        free(C);
        C = Next;
    }
    BOOL Deleted = Queue->Exists || Queue->Deleted;
    memset(Queue, 0, sizeof(*Queue));
    Queue->Deleted = Deleted;
}

/** EN 1->0 (or NSSR): forget every queue, command and event; registers keep their values. */
static void ControllerResetLocked(NM_MODEL* Model) {
    for (U32 Q = 0; Q < NM_MAX_QUEUES; Q++) {
        NmFreeQueue(&Model->Sq[Q]);
        NmFreeQueue(&Model->Cq[Q]);
        Model->Sq[Q].Deleted = FALSE;
        Model->Cq[Q].Deleted = FALSE;
    }
    NmFaultsResetLocked(Model);
    NmAdminResetLocked(Model);
    Model->IoQueuesCreated = 0;
    Model->QueueCountSet = FALSE;
    Model->Fatal = FALSE;
    Model->Csts &= ~NM_CSTS_CFS;
    Model->Intms = 0;
    Model->MsiPending = FALSE;
    Model->WorkPending = FALSE;
    Model->DbbufEnabled = FALSE;  // the controller forgets the shadow doorbell buffers
    Model->Stats.Resets++;
    NmEvaluateIntxLocked(Model);
}

void NmPowerOnResetLocked(NM_MODEL* Model) {
    ControllerResetLocked(Model);
    Model->Cc = 0;
    Model->Csts = 0;
    Model->Aqa = 0;
    Model->Asq = Model->Acq = 0;
    Model->AsqLowWritten = Model->AcqLowWritten = FALSE;
    Model->ReadyPending = Model->NotReadyPending = Model->ShutdownPending = FALSE;
}

static void CreateAdminQueue(NM_QUEUE* Queue, BOOL Completion, U32 Size, PHYSICAL Base) {
    memset(Queue, 0, sizeof(*Queue));
    Queue->Exists = TRUE;
    Queue->Completion = Completion;
    Queue->Size = Size;
    Queue->EntrySize = Completion ? sizeof(NM_CQE) : sizeof(NM_SQE);
    Queue->Base = Base;
    Queue->Contiguous = TRUE;
    if (Completion) {
        Queue->Phase = TRUE;
        Queue->InterruptsEnabled = TRUE;
        Queue->SqCount = 1;
    } else {
        Queue->Outstanding = (U8*)calloc(8192, 1);
    }
}

static void StartLocked(NM_MODEL* Model) {
    NmUpdateStatusLocked(Model);
    if (Model->Csts & NM_CSTS_RDY) {
        NmViolation(Model, NVME_RULE_CC_ENABLE_WHILE_READY,
                    "CC.EN set to 1 while CSTS.RDY is still 1 (the previous disable has not completed; "
                    "CSTS=%#x): wait for RDY=0 first",
                    Model->Csts);
        Model->NotReadyPending = FALSE;
        Model->Csts &= ~NM_CSTS_RDY;
    }
    if ((Model->Csts & NM_CSTS_SHST_MASK) == NM_CSTS_SHST_OCCURRING) {
        NmViolation(Model, NVME_RULE_CC_ENABLE_DURING_SHUTDOWN,
                    "CC.EN set to 1 while a shutdown is in progress (CSTS.SHST=01b)");
    }
    Model->ShutdownPending = FALSE;
    Model->Csts &= ~NM_CSTS_SHST_MASK;

    U32 Cc = Model->Cc;
    U32 Mps = (Cc & NM_CC_MPS_MASK) >> NM_CC_MPS_SHIFT;
    U64 PageSize = 4096ULL << Mps;
    char Reason[160] = "";
    if (Mps < Model->Config.MpsMin || Mps > Model->Config.MpsMax) {
        snprintf(Reason, sizeof(Reason), "CC.MPS=%u (%llu-byte pages) outside CAP.MPSMIN..MPSMAX=%u..%u", Mps,
                 PageSize, Model->Config.MpsMin, Model->Config.MpsMax);
    } else if ((Cc & NM_CC_CSS_MASK) != 0) {
        snprintf(Reason, sizeof(Reason), "CC.CSS=%u: only the NVM command set (0) is supported",
                 (Cc & NM_CC_CSS_MASK) >> NM_CC_CSS_SHIFT);
    } else if ((Cc & NM_CC_AMS_MASK) != 0) {
        snprintf(Reason, sizeof(Reason), "CC.AMS=%u: only round robin (0) is supported",
                 (Cc & NM_CC_AMS_MASK) >> NM_CC_AMS_SHIFT);
    } else if (NM_AQA_ASQS(Model->Aqa) == 0 || NM_AQA_ACQS(Model->Aqa) == 0) {
        snprintf(Reason, sizeof(Reason), "AQA=%#x: admin queues need at least 2 entries (0-based sizes of 1)",
                 Model->Aqa);
    } else if (Model->Asq == 0 || Model->Acq == 0) {
        snprintf(Reason, sizeof(Reason), "ASQ=%#llx ACQ=%#llx: the admin queue bases are not set", Model->Asq,
                 Model->Acq);
    } else if ((Model->Asq | Model->Acq) & (PageSize - 1)) {
        NmViolation(Model, NVME_RULE_ADMIN_QUEUE_ALIGNMENT,
                    "ASQ=%#llx ACQ=%#llx must be aligned to the %llu-byte memory page (CC.MPS)", Model->Asq,
                    Model->Acq, PageSize);
        snprintf(Reason, sizeof(Reason), "admin queue base not page aligned");
    } else if (Model->Config.QemuStrictStart &&
               (((Cc & NM_CC_IOSQES_MASK) >> NM_CC_IOSQES_SHIFT) != 6 ||
                ((Cc & NM_CC_IOCQES_MASK) >> NM_CC_IOCQES_SHIFT) != 4)) {
        snprintf(Reason, sizeof(Reason), "CC.IOSQES=%u IOCQES=%u: QEMU starts only with 6 and 4",
                 (Cc & NM_CC_IOSQES_MASK) >> NM_CC_IOSQES_SHIFT, (Cc & NM_CC_IOCQES_MASK) >> NM_CC_IOCQES_SHIFT);
    }
    if (Reason[0] != 0) {
        NmViolation(Model, NVME_RULE_CC_ENABLE_INVALID, "enable refused (CSTS.CFS set): %s", Reason);
        NmSetFatalLocked(Model, Reason);
        return;
    }

    Model->PageSize = PageSize;
    CreateAdminQueue(&Model->Sq[0], FALSE, NM_AQA_ASQS(Model->Aqa) + 1, Model->Asq);
    CreateAdminQueue(&Model->Cq[0], TRUE, NM_AQA_ACQS(Model->Aqa) + 1, Model->Acq);
    Model->Stats.Enables++;
    Model->AdminCommandsSinceEnable = 0;
    U32 Delay =
        Model->ControllerFaults.ReadyDelayMs ? Model->ControllerFaults.ReadyDelayMs : Model->Config.ReadyDelayMs;
    if (Model->ControllerFaults.ReadyNever) return;
    Model->ReadyAtNs = HostClockNowNs() + (U64)Delay * 1000000ULL;
    Model->ReadyPending = TRUE;
    NmUpdateStatusLocked(Model);
}

static void WriteCcLocked(NM_MODEL* Model, U32 Value) {
    U32 Old = Model->Cc;
    NmUpdateStatusLocked(Model);
    if (Value & NM_CC_RESERVED_MASK) {
        NmViolation(Model, NVME_RULE_CC_RESERVED_BITS, "CC write %#x sets reserved bits %#x", Value,
                    Value & NM_CC_RESERVED_MASK);
        Value &= ~NM_CC_RESERVED_MASK;
    }
    BOOL WasEnabled = (Old & NM_CC_EN) != 0;
    BOOL Enable = (Value & NM_CC_EN) != 0;
    if (WasEnabled && Enable) {
        U32 Fixed = NM_CC_CSS_MASK | NM_CC_MPS_MASK | NM_CC_AMS_MASK;
        if ((Old ^ Value) & Fixed) {
            NmViolation(Model, NVME_RULE_CC_CHANGED_WHILE_ENABLED,
                        "CC %#x -> %#x changes CSS/MPS/AMS while CC.EN=1 (kept: %#x)", Old, Value, Old & Fixed);
            Value = (Value & ~Fixed) | (Old & Fixed);
        }
        U32 Sizes = NM_CC_IOSQES_MASK | NM_CC_IOCQES_MASK;
        if (((Old ^ Value) & Sizes) && Model->IoQueuesCreated > 0) {
            NmViolation(Model, NVME_RULE_QUEUE_ENTRY_SIZE_CHANGED,
                        "CC %#x -> %#x changes IOSQES/IOCQES while %u I/O queues exist", Old, Value,
                        Model->IoQueuesCreated);
        }
    }
    Model->Cc = Value;

    if (!WasEnabled && Enable) {
        StartLocked(Model);
    } else if (WasEnabled && !Enable) {
        ControllerResetLocked(Model);
        Model->ReadyPending = FALSE;
        if (Model->Csts & NM_CSTS_RDY) {
            Model->NotReadyAtNs = HostClockNowNs() + (U64)Model->Config.DisableDelayMs * 1000000ULL;
            Model->NotReadyPending = TRUE;
        }
        NmUpdateStatusLocked(Model);
    }

    U32 OldShn = Old & NM_CC_SHN_MASK;
    U32 NewShn = Value & NM_CC_SHN_MASK;
    if (NewShn != 0 && OldShn == 0) {
        Model->Stats.Shutdowns++;
        Model->Csts = (Model->Csts & ~NM_CSTS_SHST_MASK) | NM_CSTS_SHST_OCCURRING;
        if (!Model->ControllerFaults.ShutdownNever) {
            Model->ShutdownAtNs = HostClockNowNs() + (U64)Model->Config.ShutdownDelayMs * 1000000ULL;
            Model->ShutdownPending = TRUE;
            NmUpdateStatusLocked(Model);
        }
    } else if (NewShn == 0 && OldShn != 0) {
        // As QEMU: clearing SHN brings SHST back to "normal operation".
        Model->ShutdownPending = FALSE;
        Model->Csts &= ~NM_CSTS_SHST_MASK;
    }
}


/************************************************************************/
// Doorbells

static void RaiseDoorbellErrorLocked(NM_MODEL* Model, U8 Info) {
    // As QEMU: an invalid doorbell write is ignored and reported through an Error AER (info 0 or 1).
    if (Model->AerCount > 0 && NmRaiseEventLocked(Model, NM_AER_TYPE_ERROR, Info, NM_LOG_ERROR)) {
        NmDeliverEventsLocked(Model);
        NmFireInterruptsLocked(Model);
    }
}

static void DoorbellWriteLocked(NM_MODEL* Model, U32 Offset, U32 Value) {
    U32 Stride = 4U << Model->Config.Dstrd;
    U32 Relative = Offset - NM_DOORBELL_BASE;
    Model->Stats.DoorbellWrites++;
    if (Relative % Stride != 0) {
        NmViolation(Model, NVME_RULE_REG_INVALID_OFFSET,
                    "doorbell write at %#x falls between doorbells (stride %u bytes, CAP.DSTRD=%u)", Offset, Stride,
                    Model->Config.Dstrd);
        return;
    }
    U32 Index = Relative / Stride;
    U16 Qid = (U16)(Index / 2);
    BOOL IsCq = (Index & 1) != 0;
    LPCSTR Kind = IsCq ? "CQ head" : "SQ tail";
    if (!IsCq) Model->Stats.SqTailWrites[MIN(Qid, (U16)(NVME_MODEL_MAX_SQ_STATS - 1))]++;
    NmUpdateStatusLocked(Model);
    // Submitting is the host's choice: not before RDY, not after EN=0 or a shutdown request. CSTS.CFS is the
    // device's, and a submission racing it cannot be avoided: such writes are ignored, not reported. Consuming
    // completions (CQ head) stays legal as long as the queue exists.
    BOOL HostStopped = !(Model->Cc & NM_CC_EN) || !(Model->Csts & NM_CSTS_RDY) ||
                       (Model->Cc & NM_CC_SHN_MASK) != 0 || (Model->Csts & NM_CSTS_SHST_MASK) != 0;
    if (HostStopped && !(IsCq && (Model->Cc & NM_CC_EN))) {
        NmViolation(Model, NVME_RULE_DOORBELL_NOT_READY,
                    "%s doorbell of queue %u written (value %u) while the controller is not ready (CC=%#x CSTS=%#x)",
                    Kind, Qid, Value, Model->Cc, Model->Csts);
        return;
    }
    if (Model->Csts & NM_CSTS_CFS) return;
    NM_QUEUE* Queue = Qid < NM_MAX_QUEUES ? (IsCq ? &Model->Cq[Qid] : &Model->Sq[Qid]) : NULL;
    if (Queue == NULL || !Queue->Exists) {
        if (Queue && Queue->Deleted) {
            NmViolation(Model, NVME_RULE_DOORBELL_DELETED_QUEUE, "%s doorbell of deleted queue %u written (value %u)",
                        Kind, Qid, Value);
        } else {
            NmViolation(Model, NVME_RULE_DOORBELL_INVALID_QUEUE,
                        "%s doorbell of queue %u written (value %u): no such queue exists", Kind, Qid, Value);
        }
        RaiseDoorbellErrorLocked(Model, 0);
        return;
    }
    if (Value >= Queue->Size) {
        NmViolation(Model, NVME_RULE_DOORBELL_VALUE_RANGE,
                    "%s doorbell of queue %u: value %u, but the queue has %u entries", Kind, Qid, Value, Queue->Size);
        RaiseDoorbellErrorLocked(Model, 1);
        return;
    }
    NmDbbufCheckAdminLocked(Model, Qid, IsCq, Value);
    U32 Size = Queue->Size;
    if (!IsCq) {
        U32 Advance = (Value + Size - Queue->Tail) % Size;
        U32 InUse = (Queue->Tail + Size - Queue->HostKnownHead) % Size;
        if (Advance > Size - 1 - InUse) {
            NmViolation(Model, NVME_RULE_SQ_OVERRUN,
                        "SQ %u tail %u -> %u adds %u entries but only %u are free (the last head reported in a "
                        "completion is %u; %u entries): the host overwrote commands not yet consumed",
                        Qid, Queue->Tail, Value, Advance, Size - 1 - InUse, Queue->HostKnownHead, Size);
        }
        Queue->Tail = Value;
        Model->WorkPending = TRUE;
        if (Model->Config.Mode == NVME_MODEL_INLINE) NmProcessLocked(Model, MAX_U32);
        else if (Model->Config.Mode == NVME_MODEL_THREAD) pthread_cond_broadcast(&Model->WorkCond);
    } else {
        U32 Advance = (Value + Size - Queue->Head) % Size;
        U32 Posted = (Queue->Tail + Size - Queue->Head) % Size;
        if (Advance > Posted) {
            NmViolation(Model, NVME_RULE_CQ_HEAD_BEYOND_TAIL,
                        "CQ %u head %u -> %u consumes %u entries but only %u were posted (tail %u)", Qid, Queue->Head,
                        Value, Advance, Posted, Queue->Tail);
        }
        Queue->Head = Value;
        Queue->Silenced = FALSE;
        NmFlushWaitingLocked(Model, Queue);
        NmFireInterruptsLocked(Model);
    }
}

/************************************************************************/
// Register access

static BOOL Is64BitRegister(U32 Offset) { return Offset == NM_REG_CAP || Offset == NM_REG_ASQ || Offset == NM_REG_ACQ; }

/** Width and alignment rules (NVMe 1.4 3.1: native width or aligned 32-bit). FALSE: ignore the access. */
static BOOL CheckAccessLocked(NM_MODEL* Model, U32 Offset, U32 Size, BOOL Write) {
    LPCSTR Verb = Write ? "write" : "read";
    if (Size != 1 && Size != 2 && Size != 4 && Size != 8) Size = 4;
    if (Offset % Size != 0 || (Size < 4 && Offset % 4 + Size > 4)) {
        NmViolation(Model, NVME_RULE_REG_MISALIGNED, "%u-byte register %s at %#x is not naturally aligned", Size,
                    Verb, Offset);
        return FALSE;
    }
    if (Size == 4) return TRUE;
    if (Size == 8 && Offset < NM_DOORBELL_BASE && Is64BitRegister(Offset)) return TRUE;
    NmViolation(Model, NVME_RULE_REG_ACCESS_WIDTH,
                "%u-byte register %s at %#x: registers take 32-bit accesses (64-bit ones also a single 64-bit "
                "access)%s",
                Size, Verb, Offset, Write ? "; the write is ignored" : "");
    return !Write;
}

static U64 RegisterValueLocked(NM_MODEL* Model, U32 Offset, BOOL* Valid) {
    *Valid = TRUE;
    NmUpdateStatusLocked(Model);
    switch (Offset) {
        case 0x00:
            return Model->Cap & 0xFFFFFFFF;
        case 0x04:
            return Model->Cap >> 32;
        case NM_REG_VS:
            return Model->Config.Version;
        case NM_REG_INTMS:
        case NM_REG_INTMC:
            return Model->Intms;
        case NM_REG_CC:
            return Model->Cc;
        case NM_REG_CSTS:
            return Model->Csts;
        case NM_REG_NSSR:
            return 0;
        case NM_REG_AQA:
            return Model->Aqa;
        case 0x28:
            return Model->Asq & 0xFFFFFFFF;
        case 0x2C:
            return Model->Asq >> 32;
        case 0x30:
            return Model->Acq & 0xFFFFFFFF;
        case 0x34:
            return Model->Acq >> 32;
        case NM_REG_CMBLOC:
        case NM_REG_CMBSZ:
            return 0;
        default:
            *Valid = FALSE;
            return 0;
    }
}

static BOOL InMsix(NM_MODEL* Model, U32 Offset) {
    return Model->Config.Msix && Offset >= Model->MsixTableOffset && Offset < Model->MsixPbaOffset + 0x1000;
}

static U32 DoorbellEnd(const NM_MODEL* Model) {
    return NM_DOORBELL_BASE + 2 * NM_MAX_QUEUES * (4U << Model->Config.Dstrd);
}

U64 NVMeModelRead(NVME_MODEL* Model, U32 Offset, U32 Size) {
    pthread_mutex_lock(&Model->Lock);
    U64 Result = 0;
    if (!NmMemoryEnabled(Model)) {
        NmViolation(Model, NVME_RULE_MMIO_DECODE_DISABLED,
                    "BAR0 read at %#x while the command register's Memory Space Enable is clear", Offset);
        Result = Size >= 8 ? MAX_U64 : ((1ULL << (Size * 8)) - 1);
    } else if (InMsix(Model, Offset)) {
        Result = NmMsixRead(Model, Offset, Size);
    } else if (Offset >= NM_DOORBELL_BASE && Offset < DoorbellEnd(Model)) {
        NmViolation(Model, NVME_RULE_DOORBELL_READ, "doorbell at %#x read: doorbells are write-only (reads 0)", Offset);
    } else if (CheckAccessLocked(Model, Offset, Size, FALSE)) {
        U32 Base = Offset & ~3U;
        BOOL Valid;
        U64 Value = RegisterValueLocked(Model, Base, &Valid);
        if (Size == 8) {
            BOOL High;
            Value |= RegisterValueLocked(Model, Base + 4, &High) << 32;
        }
        if (!Valid) {
            NmViolation(Model, NVME_RULE_REG_INVALID_OFFSET, "%u-byte read at %#x: no register there (reads 0)", Size,
                        Offset);
        }
        if ((Base == NM_REG_INTMS || Base == NM_REG_INTMC) && NmMsixEnabled(Model)) {
            NmViolation(Model, NVME_RULE_INTMASK_WITH_MSIX, "%s read while MSI-X is enabled",
                        Base == NM_REG_INTMS ? "INTMS" : "INTMC");
        }
        Result = Size >= 4 ? Value : (Value >> ((Offset & 3) * 8)) & ((1ULL << (Size * 8)) - 1);
        NmSyncMsixLocked(Model);
    }
    pthread_mutex_unlock(&Model->Lock);
    return Result;
}

static void Write64Locked(NM_MODEL* Model, U64* Register, BOOL* LowWritten, LPCSTR Name, U32 Part, U64 Value) {
    // Part: 0 low dword, 1 high dword, 2 whole register.
    if (Model->Cc & NM_CC_EN) {
        NmViolation(Model, NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED, "%s written (%#llx) while CC.EN=1", Name, Value);
    }
    if (Part == 1 && !*LowWritten) {
        NmViolation(Model, NVME_RULE_REG64_SPLIT_ORDER,
                    "%s high dword written (%#llx) without its low dword just before: a 64-bit register is written "
                    "low dword first, then high (Platform.h)",
                    Name, Value);
    }
    if (Part == 0) {
        *Register = (*Register & 0xFFFFFFFF00000000ULL) | (Value & 0xFFFFFFFF);
        *LowWritten = TRUE;
    } else if (Part == 1) {
        *Register = (*Register & 0xFFFFFFFFULL) | (Value << 32);
        *LowWritten = FALSE;
    } else {
        *Register = Value;
        *LowWritten = FALSE;
    }
    if (Part != 1 && (Value & 0xFFF) != 0) {
        NmViolation(Model, NVME_RULE_ADMIN_QUEUE_ALIGNMENT,
                    "%s=%#llx (written %#llx): bits 11:0 are reserved (page aligned base)", Name, *Register, Value);
    }
}

void NVMeModelWrite(NVME_MODEL* Model, U32 Offset, U32 Size, U64 Value) {
    pthread_mutex_lock(&Model->Lock);
    if (!NmMemoryEnabled(Model)) {
        NmViolation(Model, NVME_RULE_MMIO_DECODE_DISABLED,
                    "BAR0 write %#llx at %#x while the command register's Memory Space Enable is clear", Value, Offset);
    } else if (InMsix(Model, Offset)) {
        NmMsixWrite(Model, Offset, Size, Value);
    } else if (CheckAccessLocked(Model, Offset, Size, TRUE)) {
        if (Offset >= NM_DOORBELL_BASE && Offset < DoorbellEnd(Model)) {
            if (Size != 4) {
                NmViolation(Model, NVME_RULE_REG_ACCESS_WIDTH, "%u-byte doorbell write at %#x", Size, Offset);
            } else {
                DoorbellWriteLocked(Model, Offset, (U32)Value);
            }
        } else if (Offset < 0x0C || Offset == NM_REG_CMBLOC || Offset == NM_REG_CMBSZ) {
            NmViolation(Model, NVME_RULE_REG_READ_ONLY, "write %#llx to read-only register at %#x", Value, Offset);
        } else if (Offset == NM_REG_INTMS || Offset == NM_REG_INTMC) {
            if (NmMsixEnabled(Model)) {
                NmViolation(Model, NVME_RULE_INTMASK_WITH_MSIX, "%s written (%#llx) while MSI-X is enabled",
                            Offset == NM_REG_INTMS ? "INTMS" : "INTMC", Value);
            } else if (Offset == NM_REG_INTMS) {
                Model->Intms |= (U32)Value;
            } else {
                Model->Intms &= ~(U32)Value;
                if (Model->MsiPending && !(Model->Intms & 1) && NmMsiEnabled(Model)) NmSendMsiLocked(Model);
            }
            NmEvaluateIntxLocked(Model);
        } else if (Offset == NM_REG_CC) {
            WriteCcLocked(Model, (U32)Value);
        } else if (Offset == NM_REG_CSTS) {
            if ((U32)Value & ~NM_CSTS_NSSRO) {
                NmViolation(Model, NVME_RULE_REG_READ_ONLY, "write %#llx to CSTS (read-only but for NSSRO, RW1C)",
                            Value);
            }
            Model->Csts &= ~((U32)Value & NM_CSTS_NSSRO);
        } else if (Offset == NM_REG_NSSR) {
            if (!Model->Config.Nssrs) {
                NmViolation(Model, NVME_RULE_NSSR_UNSUPPORTED, "NSSR written (%#llx) but CAP.NSSRS=0", Value);
            } else if ((U32)Value == 0x4E564D65) {  // "NVMe"
                ControllerResetLocked(Model);
                Model->Cc = 0;
                Model->Csts = NM_CSTS_NSSRO;
                Model->ReadyPending = Model->NotReadyPending = Model->ShutdownPending = FALSE;
            }
        } else if (Offset == NM_REG_AQA) {
            if (Model->Cc & NM_CC_EN) {
                NmViolation(Model, NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED, "AQA written (%#llx) while CC.EN=1", Value);
            }
            Model->Aqa = (U32)Value & 0x0FFF0FFF;
        } else if (Offset == 0x28 || Offset == 0x2C) {
            Write64Locked(Model, &Model->Asq, &Model->AsqLowWritten, "ASQ", Size == 8 ? 2 : (Offset == 0x2C), Value);
        } else if (Offset == 0x30 || Offset == 0x34) {
            Write64Locked(Model, &Model->Acq, &Model->AcqLowWritten, "ACQ", Size == 8 ? 2 : (Offset == 0x34), Value);
        } else {
            NmViolation(Model, NVME_RULE_REG_INVALID_OFFSET, "write %#llx at %#x: no register there", Value, Offset);
        }
        NmSyncMsixLocked(Model);
    }
    pthread_mutex_unlock(&Model->Lock);
}

U32 NVMeModelRead32(NVME_MODEL* Model, U32 Offset) { return (U32)NVMeModelRead(Model, Offset, 4); }
void NVMeModelWrite32(NVME_MODEL* Model, U32 Offset, U32 Value) { NVMeModelWrite(Model, Offset, 4, Value); }

U32 NVMeModelDoorbell(const NVME_MODEL* Model, U16 Qid, BOOL Completion) {
    return NM_DOORBELL_BASE + (2U * Qid + (Completion ? 1 : 0)) * (4U << Model->Config.Dstrd);
}


U32 NVMeModelPeekRegister(NVME_MODEL* Model, U32 Offset) {
    pthread_mutex_lock(&Model->Lock);
    BOOL Valid;
    U32 Value = (U32)RegisterValueLocked(Model, Offset & ~3U, &Valid);
    pthread_mutex_unlock(&Model->Lock);
    return Value;
}


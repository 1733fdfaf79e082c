/*
 * NVMeModel.c - the controller's engine: the processing loop in its three
 * modes, completion posting, interrupt signalling, and the model's life
 * cycle and inspection (see NVMeModel.h; registers and the state machine
 * are in NVMeModel-Registers.c).
 *
 * Completions (4.6): the CQE's first twelve bytes are written, then the
 * dword holding CID, status and phase with release ordering, so a driver
 * that checks the phase and then issues its read barrier reads a whole
 * entry. A full CQ parks completions until the host frees room.
 *
 * Interrupts (7.5): after each processing batch, each CQ that received
 * entries and has IEN set signals its vector: an MSI-X message (or its
 * pending bit when masked), an MSI message (held while INTMS masks it), or
 * the INTx level, which stays asserted while any IEN CQ holds unconsumed
 * entries and INTMS bit 0 is clear.
 */

#define _GNU_SOURCE
#include "NVMeModel-Internal.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define THREAD_BATCH 16

U64 NmRandom(NM_MODEL* Model) {
    U64 X = Model->Random;
    X ^= X >> 12;
    X ^= X << 25;
    X ^= X >> 27;
    Model->Random = X;
    return X * 0x2545F4914F6CDD1DULL;
}

/************************************************************************/
// Queue memory

PHYSICAL NmQueueEntryAddress(const NM_QUEUE* Queue, U32 Index) {
    U64 Offset = (U64)Index * Queue->EntrySize;
    if (Queue->Contiguous) return Queue->Base + Offset;
    // A non-contiguous queue keeps one address per memory page (CC.MPS) in Pages.
    return Queue->Pages[Offset / Queue->PageBytes] + (Offset % Queue->PageBytes);
}

/************************************************************************/
// Interrupts

void NmSyncMsixLocked(NM_MODEL* Model) {
    // Pending messages wait for MSI-X enable, the function and entry masks, and bus mastering (a message is a write).
    if (!Model->Config.Msix || !NmMsixEnabled(Model) || !NmBusMasterEnabled(Model)) return;
    U16 Control = NmConfigRead16Locked(Model, Model->MsixCap + 2);
    if (Control & 0x4000) return;  // function mask
    for (U32 V = 0; V < Model->Config.MsixVectors; V++) {
        U32* PbaWord = (U32*)(Model->MsixPba + (V / 32) * 4);
        U32 Bit = 1U << (V % 32);
        if (!(__atomic_load_n(PbaWord, __ATOMIC_SEQ_CST) & Bit)) continue;
        U8* Entry = Model->MsixTable + V * 16;
        if (__atomic_load_n((U32*)(Entry + 12), __ATOMIC_SEQ_CST) & 1) continue;
        __atomic_fetch_and(PbaWord, ~Bit, __ATOMIC_SEQ_CST);
        U64 Address = __atomic_load_n((U32*)Entry, __ATOMIC_SEQ_CST) |
                      ((U64)__atomic_load_n((U32*)(Entry + 4), __ATOMIC_SEQ_CST) << 32);
        U32 Data = __atomic_load_n((U32*)(Entry + 8), __ATOMIC_SEQ_CST);
        Model->Stats.MsixMessages++;
        Model->Stats.MsixPerVector[V]++;
        NmSendMessageLocked(Model, Address, Data);
    }
}

static void SendMsixLocked(NM_MODEL* Model, U32 Vector) {
    if (Vector >= Model->Config.MsixVectors) return;
    U32* PbaWord = (U32*)(Model->MsixPba + (Vector / 32) * 4);
    __atomic_fetch_or(PbaWord, 1U << (Vector % 32), __ATOMIC_SEQ_CST);
    U16 Control = NmConfigRead16Locked(Model, Model->MsixCap + 2);
    U8* Entry = Model->MsixTable + Vector * 16;
    if ((Control & 0x4000) || (__atomic_load_n((U32*)(Entry + 12), __ATOMIC_SEQ_CST) & 1)) {
        Model->Stats.MessagesMasked++;
        return;
    }
    if (!NmBusMasterEnabled(Model)) {
        NmViolation(Model, NVME_RULE_DMA_WITHOUT_BUS_MASTER,
                    "MSI-X message for vector %u while the command register's Bus Master Enable is clear", Vector);
        return;
    }
    NmSyncMsixLocked(Model);
}

void NmSendMsiLocked(NM_MODEL* Model) {
    if (Model->Intms & 1) {
        Model->MsiPending = TRUE;
        Model->Stats.MessagesMasked++;
        return;
    }
    if (!NmBusMasterEnabled(Model)) {
        NmViolation(Model, NVME_RULE_DMA_WITHOUT_BUS_MASTER,
                    "MSI message while the command register's Bus Master Enable is clear");
        return;
    }
    U8 C = Model->MsiCap;
    U16 Control = NmConfigRead16Locked(Model, C + 2);
    U64 Address = NmConfigRead32Locked(Model, C + 4);
    U32 Data;
    if (Control & 0x0080) {
        Address |= (U64)NmConfigRead32Locked(Model, C + 8) << 32;
        Data = NmConfigRead16Locked(Model, C + 12);
    } else {
        Data = NmConfigRead16Locked(Model, C + 8);
    }
    Model->MsiPending = FALSE;
    Model->Stats.MsiMessages++;
    NmSendMessageLocked(Model, Address, Data);
}

void NmEvaluateIntxLocked(NM_MODEL* Model) {
    BOOL Pending = FALSE;
    for (U32 Q = 0; Q < NM_MAX_QUEUES && !Pending; Q++) {
        const NM_QUEUE* Cq = &Model->Cq[Q];
        Pending = Cq->Exists && Cq->InterruptsEnabled && !Cq->Silenced && Cq->Head != Cq->Tail;
    }
    // PCI status bit 3 reports the device's interrupt whatever INTx Disable says.
    if (Pending) Model->ConfigSpace[PCI_STATUS] |= 0x08;
    else Model->ConfigSpace[PCI_STATUS] &= (U8)~0x08;
    U16 Command = NmConfigRead16Locked(Model, PCI_COMMAND);
    BOOL Level = Pending && Model->Config.InterruptPin != 0 && !NmMsixEnabled(Model) && !NmMsiEnabled(Model) &&
                 !(Command & PCI_COMMAND_INTX_DISABLE) && !(Model->Intms & 1);
    if (Level == Model->IntxLevel) return;
    Model->IntxLevel = Level;
    if (Level) Model->Stats.IntxAssertions++;
    NmSetIntxLocked(Model, Level);
}

void NmFireInterruptsLocked(NM_MODEL* Model) {
    for (U32 Q = 0; Q < NM_MAX_QUEUES; Q++) {
        NM_QUEUE* Cq = &Model->Cq[Q];
        if (!Cq->Exists || !Cq->InterruptDue) continue;
        Cq->InterruptDue = FALSE;
        if (!Cq->InterruptsEnabled) continue;
        if (NmFaultSkipInterruptLocked(Model, Cq)) {
            Model->Stats.InterruptsSkipped++;
            Cq->Silenced = TRUE;
            continue;
        }
        if (NmMsixEnabled(Model)) SendMsixLocked(Model, Cq->Vector);
        else if (NmMsiEnabled(Model)) NmSendMsiLocked(Model);
    }
    NmEvaluateIntxLocked(Model);
}

/************************************************************************/
// Completions

static BOOL CqFull(const NM_QUEUE* Cq) { return (Cq->Tail + 1) % Cq->Size == Cq->Head; }

static void ClearOutstanding(NM_QUEUE* Sq, U16 Cid) {
    if (Sq->Outstanding == NULL) return;
    U8 Bit = (U8)(1 << (Cid % 8));
    if (Sq->Outstanding[Cid / 8] & Bit) {
        Sq->Outstanding[Cid / 8] &= (U8)~Bit;
        Sq->OutstandingCount--;
    }
}

static BOOL WriteCqeLocked(NM_MODEL* Model, NM_QUEUE* Cq, NM_QUEUE* Sq, const NM_COMPLETION* C) {
    NM_CQE Entry;
    Entry.Dw0 = C->Dw0;
    Entry.Dw1 = 0;
    Entry.SqHead = (U16)Sq->Head;
    Entry.SqId = Sq->Id;
    Entry.Cid = C->Cid;
    Entry.Status = (U16)((C->Status << 1) | (Cq->Phase ? 1 : 0));
    PHYSICAL Address = NmQueueEntryAddress(Cq, Cq->Tail);
    if (!NmBusMasterEnabled(Model)) {
        NmViolation(Model, NVME_RULE_DMA_WITHOUT_BUS_MASTER,
                    "completion for CID %u (SQ %u) cannot be written to CQ %u at %#llx: Bus Master Enable is clear",
                    C->Cid, Sq->Id, Cq->Id, Address);
        NmSetFatalLocked(Model, "CQ entry write without bus mastering");
        return FALSE;
    }
    U8* Host = (U8*)MemoryBusHostPointer(Model->Bus, Address, sizeof(NM_CQE));
    if (Host == NULL) {
        NmViolation(Model, NVME_RULE_DMA_UNMAPPED, "CQ %u entry %u at %#llx is not in memory", Cq->Id, Cq->Tail,
                    Address);
        NmSetFatalLocked(Model, "cannot write a CQ entry");
        return FALSE;
    }
    memcpy(Host, &Entry, 12);
    U32 Last;
    memcpy(&Last, (U8*)&Entry + 12, 4);
    __atomic_store_n((U32*)(Host + 12), Last, __ATOMIC_RELEASE);

    Cq->Tail = (Cq->Tail + 1) % Cq->Size;
    if (Cq->Tail == 0) Cq->Phase = !Cq->Phase;
    Cq->Posted++;
    Cq->InterruptDue = TRUE;
    Sq->HostKnownHead = Sq->Head;
    ClearOutstanding(Sq, C->Cid);
    Model->Stats.Completions++;
    if (C->Status & 0x7FF) Model->Stats.ErrorCompletions++;
    return TRUE;
}

void NmPostLocked(NM_MODEL* Model, NM_COMPLETION* Completion) {
    NM_QUEUE* Sq = Completion->SqId < NM_MAX_QUEUES ? &Model->Sq[Completion->SqId] : NULL;
    NM_QUEUE* Cq = (Sq && Sq->Exists) ? &Model->Cq[Sq->CqId] : NULL;
    if (Cq == NULL || !Cq->Exists || Model->Fatal) {
        free(Completion);  // its queue went away (or the controller died): nothing to post to
        return;
    }
    NmDbbufFetchCqLocked(Model, Cq);
    if (Cq->Waiting != NULL || CqFull(Cq)) {
        Completion->Next = NULL;
        NM_COMPLETION** Link = &Cq->Waiting;
        while (*Link) Link = &(*Link)->Next;
        *Link = Completion;
        Model->Stats.CqFullStalls++;
        return;
    }
    WriteCqeLocked(Model, Cq, Sq, Completion);
    free(Completion);
    NmReleaseDueLocked(Model);
}

void NmFlushWaitingLocked(NM_MODEL* Model, NM_QUEUE* Cq) {
    if (Cq->Waiting) NmDbbufFetchCqLocked(Model, Cq);
    while (Cq->Waiting && !CqFull(Cq) && !Model->Fatal) {
        NM_COMPLETION* C = Cq->Waiting;
        Cq->Waiting = C->Next;
        NM_QUEUE* Sq = &Model->Sq[C->SqId];
        if (Sq->Exists) WriteCqeLocked(Model, Cq, Sq, C);
        free(C);
    }
}

void NmCompleteLocked(NM_MODEL* Model, NM_QUEUE* Sq, U16 Cid, U8 Opcode, U16 Status, U32 Dw0) {
    NM_COMPLETION* C = (NM_COMPLETION*)calloc(1, sizeof(NM_COMPLETION));
    if (C == NULL) return;
    C->SqId = Sq->Id;
    C->Cid = Cid;
    C->Opcode = Opcode;
    C->Status = Status;
    C->Dw0 = Dw0;
    NmPostLocked(Model, C);
}

/************************************************************************/
// Processing

static void ProcessOneLocked(NM_MODEL* Model, NM_QUEUE* Sq) {
    NM_SQE Command;
    PHYSICAL Address = NmQueueEntryAddress(Sq, Sq->Head);
    if (!NmDmaReadLocked(Model, Address, &Command, sizeof(Command), "submission queue entry")) {
        NmSetFatalLocked(Model, "cannot read a submission queue entry");
        return;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    Sq->Head = (Sq->Head + 1) % Sq->Size;
    U16 Cid = NM_SQE_CID(&Command);
    U8 Opcode = NM_SQE_OPCODE(&Command);
    if (Sq->Id == 0) Model->Stats.AdminCommands++;
    else Model->Stats.IoCommands++;

    U8 Bit = (U8)(1 << (Cid % 8));
    if (Sq->Outstanding[Cid / 8] & Bit) {
        NmViolation(Model, NVME_RULE_CID_REUSED,
                    "SQ %u: CID %u (opcode %#x) reused while a command with that CID is still outstanding", Sq->Id,
                    Cid, Opcode);
    } else {
        Sq->Outstanding[Cid / 8] |= Bit;
        Sq->OutstandingCount++;
        if (Sq->OutstandingCount > Model->Stats.MaxOutstanding) Model->Stats.MaxOutstanding = Sq->OutstandingCount;
    }

    NM_RESULT Result;
    memset(&Result, 0, sizeof(Result));
    NM_FAULT_PLAN Plan;
    NmFaultPlanLocked(Model, Sq, &Command, &Plan);
    if (NM_SQE_FUSE(&Command) != 0) {
        NmViolation(Model, NVME_RULE_FUSED_COMMAND, "SQ %u CID %u: fused operation %u is not supported", Sq->Id, Cid,
                    NM_SQE_FUSE(&Command));
        Result.Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR;
    } else if (Plan.Error) {
        Result.Status = Plan.ErrorStatus;
    } else if (Sq->Id == 0) {
        NmAdminExecuteLocked(Model, Sq, &Command, &Result);
    } else {
        NmIoExecuteLocked(Model, Sq, &Command, &Result);
    }
    if (Result.Deferred) return;

    if (Result.Status != 0) {
        U64 Lba = Sq->Id != 0 ? ((U64)Command.Cdw11 << 32) | Command.Cdw10 : 0;
        NmRecordErrorLocked(Model, Sq->Id, Cid, Result.Status, Lba, Command.Nsid);
    }
    NM_COMPLETION* C = (NM_COMPLETION*)calloc(1, sizeof(NM_COMPLETION));
    if (C) {
        C->SqId = Sq->Id;
        C->Cid = Cid;
        C->Opcode = Opcode;
        C->Status = Result.Status;
        C->Dw0 = Result.Dw0;
        if (Plan.Drop) NmLoseLocked(Model, C);
        else if (Plan.Hold) NmHoldLocked(Model, C, Plan.HoldCompletions, Plan.HoldMs);
        else NmPostLocked(Model, C);
    }

    // Events released by this command (a log page read, a threshold change) follow its own completion.
    if (Sq->Id == 0 && Model->EventCount > 0) NmDeliverEventsLocked(Model);

    if (Sq->Id == 0) {
        U32 FatalAfter = Model->ControllerFaults.FatalAfterAdminCommands;
        if (FatalAfter != 0 && ++Model->AdminCommandsSinceEnable == FatalAfter) {
            NmSetFatalLocked(Model, "injected: CSTS.CFS after the configured number of admin commands");
        }
    } else {
        Model->IoCommandsSeen++;
        U32 FatalAfter = Model->ControllerFaults.FatalAfterIoCommands;
        if (FatalAfter != 0 && Model->IoCommandsSeen == FatalAfter) {
            NmSetFatalLocked(Model, "injected: CSTS.CFS after the configured number of I/O commands");
        }
    }
}

U32 NmProcessLocked(NM_MODEL* Model, U32 Max) {
    U32 Done = 0;
    __atomic_add_fetch(&Model->Busy, 1, __ATOMIC_SEQ_CST);
    for (U32 Q = 0; Q < NM_MAX_QUEUES; Q++) NmDbbufFetchSqLocked(Model, &Model->Sq[Q], FALSE);
    while (Done < Max && NmReadyLocked(Model)) {
        NM_QUEUE* Next = NULL;
        for (U32 I = 0; I < NM_MAX_QUEUES && Next == NULL; I++) {
            U32 Q = (Model->RoundRobin + 1 + I) % NM_MAX_QUEUES;
            NM_QUEUE* Sq = &Model->Sq[Q];
            if (Sq->Exists && Sq->Head != Sq->Tail) {
                Next = Sq;
                Model->RoundRobin = Q;
            }
        }
        if (Next == NULL) break;
        ProcessOneLocked(Model, Next);
        NmDbbufFetchSqLocked(Model, Next, FALSE);
        Done++;
    }
    NmFireInterruptsLocked(Model);
    // Shadow doorbells: EventIdx exact and one more look before idling, so no submission waits unseen.
    for (U32 Q = 0; Q < NM_MAX_QUEUES; Q++) NmDbbufFetchSqLocked(Model, &Model->Sq[Q], TRUE);
    BOOL More = FALSE;
    for (U32 Q = 0; Q < NM_MAX_QUEUES && !More; Q++)
        More = Model->Sq[Q].Exists && Model->Sq[Q].Head != Model->Sq[Q].Tail;
    Model->WorkPending = More && NmReadyLocked(Model);
    __atomic_sub_fetch(&Model->Busy, 1, __ATOMIC_SEQ_CST);
    return Done;
}

static void* ModelThreadMain(LPVOID Argument) {
    NM_MODEL* Model = (NM_MODEL*)Argument;
    pthread_setname_np(pthread_self(), "nvme-model");
    HostPlatformMarkInternalThread();
    pthread_mutex_lock(&Model->Lock);
    while (!Model->ThreadStop) {
        if (!Model->WorkPending) {
            pthread_cond_broadcast(&Model->IdleCond);
            pthread_cond_wait(&Model->WorkCond, &Model->Lock);
            continue;
        }
        NmProcessLocked(Model, THREAD_BATCH);
        // Let MMIO in between batches, as hardware fetches while the host writes.
        pthread_mutex_unlock(&Model->Lock);
        sched_yield();
        pthread_mutex_lock(&Model->Lock);
    }
    pthread_mutex_unlock(&Model->Lock);
    return NULL;
}

static BOOL ModelBusy(LPVOID Context) {
    NM_MODEL* Model = (NM_MODEL*)Context;
    if (__atomic_load_n(&Model->Busy, __ATOMIC_SEQ_CST) > 0) return TRUE;
    return Model->Config.Mode == NVME_MODEL_THREAD && __atomic_load_n(&Model->WorkPending, __ATOMIC_SEQ_CST);
}

/************************************************************************/
// Life cycle

static void HoldTimerFired(LPVOID Context) {
    NM_MODEL* Model = (NM_MODEL*)Context;
    pthread_mutex_lock(&Model->Lock);
    NmReleaseDueLocked(Model);
    NmFireInterruptsLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
}

NVME_MODEL* NVMeModelCreate(const NVME_MODEL_CONFIG* Config) {
    HostPlatformInit();
    NM_MODEL* Model = (NM_MODEL*)calloc(1, sizeof(NM_MODEL));
    if (Model == NULL) return NULL;
    Model->Config = *Config;
    if (Model->Config.MaxIoQueues > NVME_MODEL_MAX_IO_QUEUES) Model->Config.MaxIoQueues = NVME_MODEL_MAX_IO_QUEUES;
    if (Model->Config.MsixVectors == 0 || Model->Config.MsixVectors > NVME_MODEL_MAX_MSIX) {
        Model->Config.MsixVectors = NVME_MODEL_MAX_MSIX;
    }
    Model->Bus = Config->MemoryBus ? Config->MemoryBus : HostPlatformMemoryBus();
    Model->Random = Config->Seed ? Config->Seed : 1;
    pthread_mutex_init(&Model->Lock, NULL);
    pthread_cond_init(&Model->WorkCond, NULL);
    pthread_cond_init(&Model->IdleCond, NULL);

    const NVME_MODEL_CONFIG* C = &Model->Config;
    Model->Cap = (U64)(C->MqesReadsZero ? 0 : C->Mqes) | (C->Cqr ? NM_CAP_CQR : 0) | ((U64)C->Timeout << NM_CAP_TO_SHIFT) |
                 ((U64)(C->Dstrd & 0xF) << NM_CAP_DSTRD_SHIFT) | (C->Nssrs ? NM_CAP_NSSRS : 0) | NM_CAP_CSS_NVM |
                 ((U64)(C->MpsMin & 0xF) << NM_CAP_MPSMIN_SHIFT) | ((U64)(C->MpsMax & 0xF) << NM_CAP_MPSMAX_SHIFT);
    Model->GrantedSq = Model->GrantedCq = C->MaxIoQueues;
    NmFaultsInit(Model);
    NmAdminInitLocked(Model);
    if (!NmNamespacesInit(Model)) {
        NmNamespacesRelease(Model);
        free(Model);
        return NULL;
    }
    NmPciInit(Model);
    Model->HoldTimer = HostTimerCreate(HoldTimerFired, Model);
    HostPlatformAddBusySource(ModelBusy, Model);
    if (C->Mode == NVME_MODEL_THREAD) {
        Model->ThreadRunning = pthread_create(&Model->Thread, NULL, ModelThreadMain, Model) == 0;
    }
    return Model;
}

void NVMeModelDestroy(NVME_MODEL* Model) {
    if (Model == NULL) return;
    if (Model->ThreadRunning) {
        pthread_mutex_lock(&Model->Lock);
        Model->ThreadStop = TRUE;
        pthread_cond_broadcast(&Model->WorkCond);
        pthread_mutex_unlock(&Model->Lock);
        pthread_join(Model->Thread, NULL);
    }
    HostPlatformRemoveBusySource(ModelBusy, Model);
    HostTimerDestroy(Model->HoldTimer);
    pthread_mutex_lock(&Model->Lock);
    if (Model->IntxLevel) NmSetIntxLocked(Model, FALSE);
    for (U32 Q = 0; Q < NM_MAX_QUEUES; Q++) {
        NmFreeQueue(&Model->Sq[Q]);
        NmFreeQueue(&Model->Cq[Q]);
    }
    NmFaultsRelease(Model);
    pthread_mutex_unlock(&Model->Lock);
    NmPciRelease(Model);
    NmWriteCacheRelease(Model);
    NmNamespacesRelease(Model);
    pthread_cond_destroy(&Model->WorkCond);
    pthread_cond_destroy(&Model->IdleCond);
    pthread_mutex_destroy(&Model->Lock);
    free(Model);
}

/************************************************************************/
// Processing control

NVME_MODEL_MODE NVMeModelMode(const NVME_MODEL* Model) { return Model->Config.Mode; }

U32 NVMeModelStep(NVME_MODEL* Model, U32 MaxCommands) {
    pthread_mutex_lock(&Model->Lock);
    U32 Done = NmProcessLocked(Model, MaxCommands);
    pthread_mutex_unlock(&Model->Lock);
    return Done;
}

U32 NVMeModelRunUntilIdle(NVME_MODEL* Model) { return NVMeModelStep(Model, MAX_U32); }

BOOL NVMeModelWaitIdle(NVME_MODEL* Model, U32 RealTimeoutMs) {
    struct timespec Start;
    clock_gettime(CLOCK_MONOTONIC, &Start);
    U32 Token = HostPlatformExternalWaitBegin();
    BOOL Idle;
    for (;;) {
        Idle = !ModelBusy(Model);
        struct timespec Now;
        clock_gettime(CLOCK_MONOTONIC, &Now);
        I64 Elapsed = (I64)(Now.tv_sec - Start.tv_sec) * 1000 + ((I64)Now.tv_nsec - (I64)Start.tv_nsec) / 1000000;
        if (Idle || Elapsed > (I64)RealTimeoutMs) break;
        struct timespec Pause = {0, 200000};
        nanosleep(&Pause, NULL);
    }
    HostPlatformExternalWaitEnd(Token);
    return Idle;
}

void NVMeModelSetControllerFaults(NVME_MODEL* Model, const NVME_MODEL_CONTROLLER_FAULTS* Faults) {
    pthread_mutex_lock(&Model->Lock);
    Model->ControllerFaults = *Faults;
    if (Faults->ShutdownNever) Model->ShutdownPending = FALSE;
    if (Faults->ReadyNever) Model->ReadyPending = FALSE;
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelRaiseFatal(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    NmSetFatalLocked(Model, "raised by the test");
    pthread_mutex_unlock(&Model->Lock);
}

/************************************************************************/
// Inspection

void NVMeModelGetStats(NVME_MODEL* Model, NVME_MODEL_STATS* Stats) {
    pthread_mutex_lock(&Model->Lock);
    *Stats = Model->Stats;
    pthread_mutex_unlock(&Model->Lock);
}

BOOL NVMeModelQueueInfo(NVME_MODEL* Model, U16 Qid, BOOL Completion, NVME_MODEL_QUEUE_INFO* Info) {
    memset(Info, 0, sizeof(*Info));
    if (Qid >= NM_MAX_QUEUES) return FALSE;
    pthread_mutex_lock(&Model->Lock);
    const NM_QUEUE* Q = Completion ? &Model->Cq[Qid] : &Model->Sq[Qid];
    Info->Exists = Q->Exists;
    Info->Size = Q->Size;
    Info->Base = Q->Base;
    Info->Head = Q->Head;
    Info->Tail = Q->Tail;
    Info->Phase = Q->Phase;
    Info->CqId = Q->CqId;
    Info->Vector = Q->Vector;
    Info->InterruptsEnabled = Q->InterruptsEnabled;
    Info->Outstanding = Q->OutstandingCount;
    pthread_mutex_unlock(&Model->Lock);
    return Info->Exists;
}

BOOL NVMeModelIntxAsserted(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    BOOL Level = Model->IntxLevel;
    pthread_mutex_unlock(&Model->Lock);
    return Level;
}

void NVMeModelGrantedQueues(NVME_MODEL* Model, U32* Submission, U32* Completion) {
    pthread_mutex_lock(&Model->Lock);
    if (Submission) *Submission = Model->GrantedSq;
    if (Completion) *Completion = Model->GrantedCq;
    pthread_mutex_unlock(&Model->Lock);
}
void NVMeModelGetApst(NVME_MODEL* Model, U32* Dword11, U64 Table[32]) {
    pthread_mutex_lock(&Model->Lock);
    *Dword11 = Model->Features[NM_FEATURE_APST];
    memcpy(Table, Model->ApstTable, sizeof(Model->ApstTable));
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelSetMaxIoQueues(NVME_MODEL* Model, U16 Count) {
    pthread_mutex_lock(&Model->Lock);
    Model->Config.MaxIoQueues = MIN(Count, (U16)NVME_MODEL_MAX_IO_QUEUES);
    pthread_mutex_unlock(&Model->Lock);
}

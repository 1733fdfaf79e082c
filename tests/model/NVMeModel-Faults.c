/*
 * NVMeModel-Faults.c - fault injection: matching commands and postings
 * against the test's fault table, and the completions faults park.
 *
 * Determinism: a fault counts its own matches, so "the 3rd write to LBA
 * 100-199" is the same command on every run; probabilistic faults draw from
 * the model's seeded generator in command order. Parked completions: a
 * "held" one is posted once its CQ has taken HoldCompletions later
 * completions or HoldMs of platform time has passed (a HostTimer), which
 * puts completions out of order whenever the host keeps several commands
 * in flight; a "lost" one is never posted unless an Abort (in
 * NVME_ABORT_SUCCEEDS mode) finds it. A controller reset drops both.
 */

#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

static BOOL QueueMatches(U16 Wanted, U16 Qid) {
    return Wanted == NVME_MODEL_ANY_QUEUE || (Wanted == NVME_MODEL_IO_QUEUES && Qid != 0) || Wanted == Qid;
}

static BOOL CommandMatches(const NVME_MODEL_MATCH* Match, const NM_QUEUE* Sq, const NM_SQE* Command) {
    if (!QueueMatches(Match->QueueId, Sq->Id)) return FALSE;
    U8 Opcode = NM_SQE_OPCODE(Command);
    if (Match->Opcode != NVME_MODEL_ANY_OPCODE && Match->Opcode != Opcode) return FALSE;
    if (Match->LbaFirst == 0 && Match->LbaLast == 0) return TRUE;
    // An LBA range only matches I/O commands that carry one.
    if (Sq->Id == 0 || (Opcode != NM_IO_READ && Opcode != NM_IO_WRITE && Opcode != NM_IO_WRITE_ZEROES)) return FALSE;
    U64 First = ((U64)Command->Cdw11 << 32) | Command->Cdw10;
    U64 Last = First + (Command->Cdw12 & 0xFFFF);
    U64 MatchLast = Match->LbaLast ? Match->LbaLast : MAX_U64;
    return First <= MatchLast && Match->LbaFirst <= Last;
}

/** Counts a match and decides whether the fault fires on it. */
static BOOL Fires(NM_MODEL* Model, NM_FAULT* Fault) {
    const NVME_MODEL_MATCH* Match = &Fault->Fault.Match;
    Fault->Matches++;
    if (Match->Count != 0 && Fault->Hits >= Match->Count) return FALSE;
    BOOL Fire;
    if (Match->PerMille != 0) Fire = NmRandom(Model) % 1000 < Match->PerMille;
    else if (Match->From != 0) Fire = Fault->Matches >= Match->From;
    else if (Match->Nth != 0) Fire = Fault->Matches == Match->Nth;
    else Fire = TRUE;
    if (Fire) Fault->Hits++;
    return Fire;
}

void NmFaultPlanLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, NM_FAULT_PLAN* Plan) {
    memset(Plan, 0, sizeof(*Plan));
    for (U32 I = 0; I < Model->FaultCount; I++) {
        NM_FAULT* Fault = &Model->Faults[I];
        NVME_MODEL_FAULT_KIND Kind = Fault->Fault.Kind;
        if (Kind == NVME_FAULT_SKIP_INTERRUPT) continue;
        if (!CommandMatches(&Fault->Fault.Match, Sq, Command) || !Fires(Model, Fault)) continue;
        if (Kind == NVME_FAULT_ERROR_STATUS && !Plan->Error) {
            Plan->Error = TRUE;
            Plan->ErrorStatus = Fault->Fault.Status;
        } else if (Kind == NVME_FAULT_DROP_COMPLETION) {
            Plan->Drop = TRUE;
        } else if (Kind == NVME_FAULT_HOLD_COMPLETION && !Plan->Hold) {
            Plan->Hold = TRUE;
            Plan->HoldCompletions = Fault->Fault.HoldCompletions;
            Plan->HoldMs = Fault->Fault.HoldMs;
        }
    }
}

BOOL NmFaultSkipInterruptLocked(NM_MODEL* Model, const NM_QUEUE* Cq) {
    BOOL Skip = FALSE;
    for (U32 I = 0; I < Model->FaultCount; I++) {
        NM_FAULT* Fault = &Model->Faults[I];
        if (Fault->Fault.Kind != NVME_FAULT_SKIP_INTERRUPT || !QueueMatches(Fault->Fault.Match.QueueId, Cq->Id))
            continue;
        if (Fires(Model, Fault)) Skip = TRUE;
    }
    return Skip;
}

/************************************************************************/
// Parked completions

static void Append(NM_COMPLETION** List, NM_COMPLETION* Completion) {
    Completion->Next = NULL;
    while (*List) List = &(*List)->Next;
    *List = Completion;
}

static void FreeList(NM_COMPLETION** List) {
    for (NM_COMPLETION* C = *List; C;) {
        NM_COMPLETION* Next = C->Next;
        free(C);
        C = Next;
    }
    *List = NULL;
}

static void ArmHoldTimerLocked(NM_MODEL* Model) {
    U64 Earliest = 0;
    for (NM_COMPLETION* C = Model->Held; C; C = C->Next) {
        if (C->HoldUntilNs && (Earliest == 0 || C->HoldUntilNs < Earliest)) Earliest = C->HoldUntilNs;
    }
    if (Earliest) HostTimerArm(Model->HoldTimer, Earliest);
    else HostTimerCancel(Model->HoldTimer);
}

void NmHoldLocked(NM_MODEL* Model, NM_COMPLETION* Completion, U32 HoldCompletions, U32 HoldMs) {
    const NM_QUEUE* Sq = &Model->Sq[Completion->SqId];
    const NM_QUEUE* Cq = &Model->Cq[Sq->CqId];
    if (HoldCompletions == 0 && HoldMs == 0) HoldCompletions = 1;
    Completion->HoldUntilPost = HoldCompletions ? Cq->Posted + HoldCompletions : 0;
    Completion->HoldUntilNs = HoldMs ? HostClockNowNs() + (U64)HoldMs * 1000000ULL : 0;
    Append(&Model->Held, Completion);
    Model->Stats.CompletionsHeld++;
    ArmHoldTimerLocked(Model);
}

void NmLoseLocked(NM_MODEL* Model, NM_COMPLETION* Completion) {
    Append(&Model->Lost, Completion);
    Model->Stats.CompletionsDropped++;
}

static BOOL Due(NM_MODEL* Model, const NM_COMPLETION* C, U64 Now) {
    const NM_QUEUE* Sq = &Model->Sq[C->SqId];
    if (!Sq->Exists) return TRUE;  // posting will discard it
    const NM_QUEUE* Cq = &Model->Cq[Sq->CqId];
    return (C->HoldUntilNs != 0 && Now >= C->HoldUntilNs) || (C->HoldUntilPost != 0 && Cq->Posted >= C->HoldUntilPost);
}

void NmReleaseDueLocked(NM_MODEL* Model) {
    static __thread BOOL Releasing;  // posting a released completion may make others due: no recursion
    if (Releasing || Model->Held == NULL) return;
    Releasing = TRUE;
    for (BOOL Again = TRUE; Again;) {
        Again = FALSE;
        U64 Now = HostClockNowNs();
        for (NM_COMPLETION** Link = &Model->Held; *Link; Link = &(*Link)->Next) {
            NM_COMPLETION* C = *Link;
            if (!Due(Model, C, Now)) continue;
            *Link = C->Next;
            NmPostLocked(Model, C);
            Again = TRUE;
            break;
        }
    }
    Releasing = FALSE;
    ArmHoldTimerLocked(Model);
}

NM_COMPLETION* NmTakeParkedLocked(NM_MODEL* Model, U16 SqId, U16 Cid) {
    NM_COMPLETION** Lists[2] = {&Model->Held, &Model->Lost};
    for (U32 L = 0; L < 2; L++) {
        for (NM_COMPLETION** Link = Lists[L]; *Link; Link = &(*Link)->Next) {
            NM_COMPLETION* C = *Link;
            if (C->SqId != SqId || C->Cid != Cid) continue;
            *Link = C->Next;
            C->Next = NULL;
            if (L == 0) ArmHoldTimerLocked(Model);
            return C;
        }
    }
    return NULL;
}

void NmFaultsInit(NM_MODEL* Model) {
    Model->FaultCount = 0;
    Model->Held = NULL;
    Model->Lost = NULL;
}

void NmFaultsResetLocked(NM_MODEL* Model) {
    FreeList(&Model->Held);
    FreeList(&Model->Lost);
    if (Model->HoldTimer) HostTimerCancel(Model->HoldTimer);
}

void NmFaultsRelease(NM_MODEL* Model) {
    FreeList(&Model->Held);
    FreeList(&Model->Lost);
}

/************************************************************************/
// Public

U32 NVMeModelAddFault(NVME_MODEL* Model, const NVME_MODEL_FAULT* Fault) {
    pthread_mutex_lock(&Model->Lock);
    U32 Id = 0;
    if (Model->FaultCount < NM_MAX_FAULTS) {
        memset(&Model->Faults[Model->FaultCount], 0, sizeof(NM_FAULT));
        Model->Faults[Model->FaultCount].Fault = *Fault;
        Id = ++Model->FaultCount;
    }
    pthread_mutex_unlock(&Model->Lock);
    return Id;
}

U32 NVMeModelFaultHits(NVME_MODEL* Model, U32 Id) {
    pthread_mutex_lock(&Model->Lock);
    U32 Hits = (Id >= 1 && Id <= Model->FaultCount) ? Model->Faults[Id - 1].Hits : 0;
    pthread_mutex_unlock(&Model->Lock);
    return Hits;
}

void NVMeModelClearFaults(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    Model->FaultCount = 0;
    pthread_mutex_unlock(&Model->Lock);
}

U32 NVMeModelReleaseHeld(NVME_MODEL* Model) {
    U32 Count = 0;
    pthread_mutex_lock(&Model->Lock);
    while (Model->Held) {
        NM_COMPLETION* C = Model->Held;
        Model->Held = C->Next;
        NmPostLocked(Model, C);
        Count++;
    }
    ArmHoldTimerLocked(Model);
    NmFireInterruptsLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
    return Count;
}

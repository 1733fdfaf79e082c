/*
 * NVMeModel-Admin.c - the admin command set (NVMe 1.4 chapter 5):
 * Identify (CNS 00h, 01h, 02h, 03h), Create/Delete I/O SQ and CQ with
 * QEMU's checks, Get/Set Features, Get Log Page (Error Information, SMART /
 * Health, Firmware Slot), Abort and Asynchronous Event Request.
 *
 * Every error a host could have avoided by reading CAP and Identify is also
 * a conformance violation; errors a host meets by probing (an unknown log
 * page, feature or CNS) are only statuses, as on real controllers.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

#define STATUS_INVALID_FIELD (NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR)

static void Put16(U8* Data, U32 Offset, U16 Value) { memcpy(Data + Offset, &Value, 2); }
static void Put32(U8* Data, U32 Offset, U32 Value) { memcpy(Data + Offset, &Value, 4); }
static void Put64(U8* Data, U32 Offset, U64 Value) { memcpy(Data + Offset, &Value, 8); }

/** ASCII field padded with spaces (Identify strings are not NUL terminated). */
static void PutString(U8* Data, U32 Offset, U32 Length, LPCSTR Text) {
    memset(Data + Offset, ' ', Length);
    U32 N = (U32)strnlen(Text, Length);
    memcpy(Data + Offset, Text, N);
}

static U16 Transfer(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, LPCVOID Data, U64 Length, U64 Described) {
    NM_SG_LIST List;
    U16 Status = NmMapDataLocked(Model, Sq, Command, Described, &List);
    if (Status == 0) Status = NmSgCopyLocked(Model, &List, (LPVOID)Data, Length, TRUE);
    NmSgRelease(&List);
    return Status;
}

/************************************************************************/
// Identify

static void IdentifyController(NM_MODEL* Model, U8* Data) {
    const NVME_MODEL_CONFIG* C = &Model->Config;
    Put16(Data, 0, C->VendorId);
    Put16(Data, 2, C->SubsystemVendorId);
    PutString(Data, 4, 20, C->SerialNumber);
    PutString(Data, 24, 40, C->ModelNumber);
    PutString(Data, 64, 8, C->FirmwareRevision);
    Data[72] = 6;                      // RAB
    Data[73] = 0x00;                   // IEEE OUI 52:54:00, as QEMU
    Data[74] = 0x54;
    Data[75] = 0x52;
    Data[77] = C->Mdts;
    Put32(Data, 80, C->Version);
    Put32(Data, 92, 0x100);            // OAES: namespace attribute notices
    Put16(Data, 256, C->Oacs);
    Data[258] = C->Acl;
    Data[259] = C->Aerl;
    Data[260] = C->Frmw;
    Data[261] = C->Lpa;
    Data[262] = C->Elpe;
    Put16(Data, 266, C->Wctemp);
    Put16(Data, 268, C->Cctemp);
    Data[512] = C->Sqes;
    Data[513] = C->Cqes;
    Put32(Data, 516, C->NumberOfNamespaces);
    Put16(Data, 520, C->Oncs);
    Data[525] = C->Vwc;
    Put32(Data, 536, C->Sgls);
    char Nqn[64];
    snprintf(Nqn, sizeof(Nqn), "nqn.2019-08.org.qemu:%s", C->SerialNumber);
    memcpy(Data + 768, Nqn, strlen(Nqn));
    Put16(Data, 2048, 2500);           // power state 0: 25 W
    if (C->Apst) {
        // APSTA 1, NPSS 3: PS1 operational (10 W), PS2 and PS3 non-operational with entry / exit latencies.
        static const U32 Latencies[4][2] = {{0, 0}, {0, 0}, {2000, 2000}, {10000, 40000}};
        Data[263] = 3;  // NPSS
        Data[265] = 1;  // APSTA
        for (U32 State = 1; State < 4; State++) {
            U8* Descriptor = Data + 2048 + 32 * State;
            Put16(Descriptor, 0, State == 1 ? 1000 : 50);
            Descriptor[3] = State >= 2 ? 0x02 : 0;  // NOPS
            Put32(Descriptor, 4, Latencies[State][0]);
            Put32(Descriptor, 8, Latencies[State][1]);
        }
    }
}

static void IdentifyActiveList(NM_MODEL* Model, U32 After, U8* Data) {
    U32 Count = 0;
    U32 Last = After;
    // Ascending NSIDs above After: repeated selection keeps the configuration order free.
    while (Count < 1024) {
        U32 Best = 0;
        for (U32 I = 0; I < Model->NamespaceCount; I++) {
            U32 Nsid = Model->Namespaces[I].Config.Nsid;
            if (!Model->Namespaces[I].Detached && Nsid > Last && (Best == 0 || Nsid < Best)) Best = Nsid;
        }
        U32 PhantomEnd = Model->Config.PhantomFirst + Model->Config.PhantomCount;
        if (Model->Config.PhantomCount && Last + 1 < PhantomEnd) {
            U32 Phantom = MAX(Last + 1, Model->Config.PhantomFirst);
            if (Best == 0 || Phantom < Best) Best = Phantom;
        }
        if (Best == 0) break;
        Put32(Data, Count * 4, Best);
        Count++;
        Last = Best;
    }
}

static void Identify(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8* Data = (U8*)calloc(1, 4096);
    if (Data == NULL) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
        return;
    }
    U8 Cns = (U8)Command->Cdw10;
    U32 Nsid = Command->Nsid;
    BOOL Valid = TRUE;
    switch (Cns) {
        case NM_CNS_CONTROLLER:
            IdentifyController(Model, Data);
            break;
        case NM_CNS_NAMESPACE: {
            NM_NAMESPACE* Namespace = NmFindNamespace(Model, Nsid);
            if (Namespace) NmIdentifyNamespace(Model, Namespace, Data);
            // An inactive NSID inside 1..NN returns zeroes; anything else is invalid.
            else if (Nsid == 0 || Nsid > Model->Config.NumberOfNamespaces) Valid = FALSE;
            break;
        }
        case NM_CNS_ACTIVE_NAMESPACES:
            if (Nsid >= 0xFFFFFFFEU) Valid = FALSE;
            else IdentifyActiveList(Model, Nsid, Data);
            break;
        case NM_CNS_NAMESPACE_DESCRIPTORS: {
            if (NmFindNamespace(Model, Nsid) == NULL) {
                Valid = FALSE;
                break;
            }
            Data[0] = 1;  // EUI-64
            Data[1] = 8;
            U64 Eui = 0x5254000000000000ULL | ((U64)Model->Config.PciSegment << 32) | Nsid;
            for (U32 I = 0; I < 8; I++) Data[4 + I] = (U8)(Eui >> (56 - 8 * I));
            Data[12] = 4;  // Command Set Identifier: NVM
            Data[13] = 1;
            break;
        }
        default:
            free(Data);
            Result->Status = STATUS_INVALID_FIELD;
            return;
    }
    if (!Valid) {
        free(Data);
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR;
        return;
    }
    Result->Status = Transfer(Model, Sq, Command, Data, 4096, 4096);
    free(Data);
}

/************************************************************************/
// Queue management

static U32 QueueEntrySize(NM_MODEL* Model, BOOL Completion) {
    U32 Field = Completion ? (Model->Cc & NM_CC_IOCQES_MASK) >> NM_CC_IOCQES_SHIFT
                           : (Model->Cc & NM_CC_IOSQES_MASK) >> NM_CC_IOSQES_SHIFT;
    return Field;
}

/** The checks both Create commands share; returns a status (0: go ahead). */
static U16 CheckCreate(NM_MODEL* Model, const NM_SQE* Command, BOOL Completion, U16 Qid, U32 Size, BOOL Contiguous) {
    LPCSTR Kind = Completion ? "CQ" : "SQ";
    U32 Needed = Completion ? 4 : 6;
    U32 Have = QueueEntrySize(Model, Completion);
    U32 Granted = Completion ? Model->GrantedCq : Model->GrantedSq;
    NM_QUEUE* Queue = Completion ? Model->Cq : Model->Sq;
    if (Have != Needed) {
        NmViolation(Model, NVME_RULE_QUEUE_ENTRY_SIZES_UNSET,
                    "Create I/O %s %u while CC.%s=%u (must be %u: %u-byte entries)", Kind, Qid,
                    Completion ? "IOCQES" : "IOSQES", Have, Needed, 1U << Needed);
        return STATUS_INVALID_FIELD;
    }
    if (Qid == 0 || Qid > Granted || Qid > NVME_MODEL_MAX_IO_QUEUES) {
        NmViolation(Model, NVME_RULE_QUEUE_ID_INVALID,
                    "Create I/O %s with QID %u: valid I/O %s IDs are 1..%u (granted)", Kind, Qid, Kind, Granted);
        return NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_ID) | NM_STATUS_DNR;
    }
    if (Queue[Qid].Exists) {
        NmViolation(Model, NVME_RULE_QUEUE_EXISTS, "Create I/O %s %u: it already exists", Kind, Qid);
        return NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_ID) | NM_STATUS_DNR;
    }
    if (Size < 2 || Size > Model->Config.Mqes + 1U) {
        NmViolation(Model, NVME_RULE_QUEUE_SIZE_INVALID, "Create I/O %s %u with %u entries: allowed 2..%u (CAP.MQES+1)",
                    Kind, Qid, Size, Model->Config.Mqes + 1U);
        return NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_SIZE) | NM_STATUS_DNR;
    }
    if (!Contiguous && Model->Config.Cqr) {
        NmViolation(Model, NVME_RULE_QUEUE_NOT_CONTIGUOUS, "Create I/O %s %u with PC=0 while CAP.CQR=1", Kind, Qid);
        return STATUS_INVALID_FIELD;
    }
    if (Command->Prp1 == 0 || (Command->Prp1 & (Model->PageSize - 1))) {
        NmViolation(Model, NVME_RULE_QUEUE_BASE_ALIGNMENT, "Create I/O %s %u at PRP1=%#llx: not %llu-byte aligned",
                    Kind, Qid, Command->Prp1, Model->PageSize);
        return NM_STATUS(NM_SCT_GENERIC, NM_SC_PRP_OFFSET_INVALID) | NM_STATUS_DNR;
    }
    return 0;
}

/** Fills the queue's memory description: contiguous base, or the page list PRP1 points to. */
static U16 SetQueueMemory(NM_MODEL* Model, NM_QUEUE* Queue, PHYSICAL Prp1, BOOL Contiguous) {
    Queue->Base = Prp1;
    Queue->Contiguous = Contiguous;
    if (Contiguous) return 0;
    U64 Bytes = (U64)Queue->Size * Queue->EntrySize;
    U32 Pages = (U32)((Bytes + Model->PageSize - 1) / Model->PageSize);
    Queue->Pages = (PHYSICAL*)calloc(Pages, sizeof(PHYSICAL));
    Queue->PageCount = Pages;
    Queue->PageBytes = Model->PageSize;
    if (Queue->Pages == NULL || !NmDmaReadLocked(Model, Prp1, Queue->Pages, Pages * 8ULL, "a queue's PRP list")) {
        return NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
    }
    for (U32 I = 0; I < Pages; I++) {
        if (Queue->Pages[I] & (Model->PageSize - 1)) {
            NmViolation(Model, NVME_RULE_PRP_ENTRY_ALIGNMENT, "non-contiguous queue %u: page %u at %#llx not aligned",
                        Queue->Id, I, Queue->Pages[I]);
            return NM_STATUS(NM_SCT_GENERIC, NM_SC_PRP_OFFSET_INVALID) | NM_STATUS_DNR;
        }
    }
    return 0;
}

static void CreateCq(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    U16 Qid = (U16)Command->Cdw10;
    U32 Size = (Command->Cdw10 >> 16) + 1;
    BOOL Contiguous = (Command->Cdw11 & 1) != 0;
    BOOL Ien = (Command->Cdw11 & 2) != 0;
    U16 Vector = (U16)(Command->Cdw11 >> 16);
    Result->Status = CheckCreate(Model, Command, TRUE, Qid, Size, Contiguous);
    if (Result->Status) return;
    BOOL Msix = NmMsixEnabled(Model);
    if ((Msix && Vector >= Model->Config.MsixVectors) || (!Msix && Vector != 0)) {
        NmViolation(Model, NVME_RULE_CQ_VECTOR_INVALID, "Create I/O CQ %u with vector %u: %s", Qid, Vector,
                    Msix ? "beyond the MSI-X table" : "MSI-X is not enabled, only vector 0 exists");
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_VECTOR) | NM_STATUS_DNR;
        return;
    }
    NM_QUEUE* Cq = &Model->Cq[Qid];
    memset(Cq, 0, sizeof(*Cq));
    Cq->Id = Qid;
    Cq->Completion = TRUE;
    Cq->Size = Size;
    Cq->EntrySize = sizeof(NM_CQE);
    Cq->Phase = TRUE;
    Cq->InterruptsEnabled = Ien;
    Cq->Vector = Vector;
    Result->Status = SetQueueMemory(Model, Cq, Command->Prp1, Contiguous);
    if (Result->Status) {
        free(Cq->Pages);
        memset(Cq, 0, sizeof(*Cq));
        return;
    }
    Cq->Exists = TRUE;
    Model->IoQueuesCreated++;
}

static void CreateSq(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    U16 Qid = (U16)Command->Cdw10;
    U32 Size = (Command->Cdw10 >> 16) + 1;
    BOOL Contiguous = (Command->Cdw11 & 1) != 0;
    U16 CqId = (U16)(Command->Cdw11 >> 16);
    Result->Status = CheckCreate(Model, Command, FALSE, Qid, Size, Contiguous);
    if (Result->Status) return;
    if (CqId == 0 || CqId >= NM_MAX_QUEUES || !Model->Cq[CqId].Exists) {
        NmViolation(Model, NVME_RULE_CQ_MISSING_FOR_SQ, "Create I/O SQ %u on CQ %u: %s", Qid, CqId,
                    CqId == 0 ? "I/O SQs cannot use the admin CQ" : "that CQ does not exist (create the CQ first)");
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_CQ_INVALID) | NM_STATUS_DNR;
        return;
    }
    NM_QUEUE* Sq = &Model->Sq[Qid];
    memset(Sq, 0, sizeof(*Sq));
    Sq->Id = Qid;
    Sq->Size = Size;
    Sq->EntrySize = sizeof(NM_SQE);
    Sq->CqId = CqId;
    Result->Status = SetQueueMemory(Model, Sq, Command->Prp1, Contiguous);
    Sq->Outstanding = Result->Status ? NULL : (U8*)calloc(8192, 1);
    if (Result->Status || Sq->Outstanding == NULL) {
        free(Sq->Pages);
        memset(Sq, 0, sizeof(*Sq));
        if (!Result->Status) Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
        return;
    }
    Sq->Exists = TRUE;
    Model->Cq[CqId].SqCount++;
    Model->IoQueuesCreated++;
}

static void ReleaseQueue(NM_MODEL* Model, NM_QUEUE* Queue) {
    free(Queue->Pages);
    free(Queue->Outstanding);
    for (NM_COMPLETION* C = Queue->Waiting; C;) {
        NM_COMPLETION* Next = C->Next;
        free(C);
        C = Next;
    }
    memset(Queue, 0, sizeof(*Queue));
    Queue->Deleted = TRUE;
    if (Model->IoQueuesCreated > 0) Model->IoQueuesCreated--;
}

static void DeleteSq(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    U16 Qid = (U16)Command->Cdw10;
    if (Qid == 0 || Qid >= NM_MAX_QUEUES || !Model->Sq[Qid].Exists) {
        NmViolation(Model, NVME_RULE_QUEUE_DELETE_INVALID, "Delete I/O SQ %u: no such I/O SQ", Qid);
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_ID) | NM_STATUS_DNR;
        return;
    }
    NM_QUEUE* Sq = &Model->Sq[Qid];
    // Commands the controller still holds are completed "aborted due to SQ deletion" first (5.6).
    for (U32 Cid = 0; Cid < 65536; Cid++) {
        if (!(Sq->Outstanding[Cid / 8] & (1 << (Cid % 8)))) continue;
        NM_COMPLETION* Parked = NmTakeParkedLocked(Model, Qid, (U16)Cid);
        if (Parked) {
            Parked->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_ABORTED_SQ_DELETION);
            NmPostLocked(Model, Parked);
        }
    }
    Model->Cq[Sq->CqId].SqCount--;
    ReleaseQueue(Model, Sq);
}

static void DeleteCq(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    U16 Qid = (U16)Command->Cdw10;
    if (Qid == 0 || Qid >= NM_MAX_QUEUES || !Model->Cq[Qid].Exists) {
        NmViolation(Model, NVME_RULE_QUEUE_DELETE_INVALID, "Delete I/O CQ %u: no such I/O CQ", Qid);
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_ID) | NM_STATUS_DNR;
        return;
    }
    if (Model->Cq[Qid].SqCount > 0) {
        NmViolation(Model, NVME_RULE_CQ_DELETE_IN_USE, "Delete I/O CQ %u while %u SQ(s) still use it", Qid,
                    Model->Cq[Qid].SqCount);
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_QUEUE_DELETION) | NM_STATUS_DNR;
        return;
    }
    ReleaseQueue(Model, &Model->Cq[Qid]);
    NmEvaluateIntxLocked(Model);
}

/************************************************************************/
// Features

static void FeatureDefaults(NM_MODEL* Model) {
    memset(Model->Features, 0, sizeof(Model->Features));
    memset(Model->ApstTable, 0, sizeof(Model->ApstTable));
    Model->Features[NM_FEATURE_VOLATILE_WRITE_CACHE] = (Model->Config.Vwc & 1) ? 1 : 0;
    Model->TemperatureOver = Model->Config.Wctemp ? Model->Config.Wctemp : 343;
    Model->TemperatureUnder = 0;
}

static BOOL FeatureSupported(NM_MODEL* Model, U8 Fid) {
    switch (Fid) {
        case NM_FEATURE_ARBITRATION:
        case NM_FEATURE_POWER_MANAGEMENT:
        case NM_FEATURE_TEMPERATURE_THRESHOLD:
        case NM_FEATURE_ERROR_RECOVERY:
        case NM_FEATURE_NUMBER_OF_QUEUES:
        case NM_FEATURE_INTERRUPT_COALESCING:
        case NM_FEATURE_INTERRUPT_VECTOR_CONFIG:
        case NM_FEATURE_ASYNC_EVENT_CONFIG:
            return TRUE;
        case NM_FEATURE_VOLATILE_WRITE_CACHE:
            return (Model->Config.Vwc & 1) != 0;
        case NM_FEATURE_APST:
            return Model->Config.Apst;
        default:
            return FALSE;
    }
}

static U16 FeatureValueInvalid(NM_MODEL* Model, LPCSTR What, U32 Value) {
    NmViolation(Model, NVME_RULE_FEATURE_VALUE_INVALID, "Set Features %s with %#x", What, Value);
    return STATUS_INVALID_FIELD;
}

static void SetFeatures(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8 Fid = (U8)Command->Cdw10;
    U32 Value = Command->Cdw11;
    if (Command->Cdw10 & 0x80000000U) {
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_FEATURE_NOT_SAVEABLE) | NM_STATUS_DNR;
        return;
    }
    if (!FeatureSupported(Model, Fid)) {
        Result->Status = STATUS_INVALID_FIELD;
        return;
    }
    switch (Fid) {
        case NM_FEATURE_NUMBER_OF_QUEUES: {
            U32 Sq = (Value & 0xFFFF) + 1, Cq = (Value >> 16) + 1;
            if ((Value & 0xFFFF) == 0xFFFF || (Value >> 16) == 0xFFFF) {
                Result->Status = FeatureValueInvalid(Model, "Number of Queues (65535 is reserved)", Value);
                return;
            }
            if (Model->IoQueuesCreated > 0) {
                NmViolation(Model, NVME_RULE_QUEUE_COUNT_AFTER_CREATE,
                            "Set Features Number of Queues (%#x) after %u I/O queues were created", Value,
                            Model->IoQueuesCreated);
                Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_COMMAND_SEQUENCE_ERROR) | NM_STATUS_DNR;
                return;
            }
            U32 Max = Model->Config.MaxIoQueues;
            Model->GrantedSq = Model->Config.GrantRequested ? MIN(Sq, Max) : Max;
            Model->GrantedCq = Model->Config.GrantRequested ? MIN(Cq, Max) : Max;
            Model->QueueCountSet = TRUE;
            Result->Dw0 = (Model->GrantedSq - 1) | ((Model->GrantedCq - 1) << 16);
            return;
        }
        case NM_FEATURE_POWER_MANAGEMENT:
            if ((Value & 0x1F) != 0) {
                Result->Status = FeatureValueInvalid(Model, "Power Management (only power state 0 exists)", Value);
                return;
            }
            break;
        case NM_FEATURE_TEMPERATURE_THRESHOLD: {
            U32 Select = (Value >> 16) & 0xF, Type = (Value >> 20) & 3;
            if (Select != 0 || Type > 1) {
                Result->Status = FeatureValueInvalid(Model, "Temperature Threshold (TMPSEL 0, THSEL 0/1)", Value);
                return;
            }
            if (Type == 0) Model->TemperatureOver = Value & 0xFFFF;
            else Model->TemperatureUnder = Value & 0xFFFF;
            if (Model->Temperature >= Model->TemperatureOver ||
                (Model->TemperatureUnder && Model->Temperature <= Model->TemperatureUnder)) {
                NmRaiseEventLocked(Model, NM_AER_TYPE_SMART, 1, NM_LOG_SMART);
            }
            return;
        }
        case NM_FEATURE_ERROR_RECOVERY:
            if (Value & 0x10000) {
                Result->Status = FeatureValueInvalid(Model, "Error Recovery (DULBE is not supported)", Value);
                return;
            }
            break;
        case NM_FEATURE_APST: {
            U64 Table[32];
            U16 Status = NmCommandDataLocked(Model, Sq, Command, Table, sizeof(Table), FALSE);
            if (Status != 0) {
                Result->Status = Status;
                return;
            }
            memcpy(Model->ApstTable, Table, sizeof(Table));
            break;
        }
        case NM_FEATURE_INTERRUPT_VECTOR_CONFIG: {
            U16 Vector = (U16)Value;
            if (Vector >= (NmMsixEnabled(Model) ? Model->Config.MsixVectors : 1)) {
                Result->Status = FeatureValueInvalid(Model, "Interrupt Vector Configuration (no such vector)", Value);
                return;
            }
            break;
        }
        case NM_FEATURE_VOLATILE_WRITE_CACHE:
            if (!(Value & 1)) NmWriteCacheCommitLocked(Model, 0xFFFFFFFFU);  // turned off: nothing stays volatile
            break;
        default:
            break;
    }
    Model->Features[Fid] = Value;
}

static void GetFeatures(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8 Fid = (U8)Command->Cdw10;
    U32 Select = (Command->Cdw10 >> 8) & 7;
    if (!FeatureSupported(Model, Fid) || Select > 3) {
        Result->Status = STATUS_INVALID_FIELD;
        return;
    }
    if (Select == 3) {
        Result->Dw0 = 0x4;  // changeable, not saveable, not namespace specific
        return;
    }
    BOOL Default = Select == 1 || Select == 2;  // nothing is saveable: "saved" reads the default
    switch (Fid) {
        case NM_FEATURE_NUMBER_OF_QUEUES: {
            U32 Sq = Default ? Model->Config.MaxIoQueues : Model->GrantedSq;
            U32 Cq = Default ? Model->Config.MaxIoQueues : Model->GrantedCq;
            Result->Dw0 = (Sq - 1) | ((Cq - 1) << 16);
            return;
        }
        case NM_FEATURE_TEMPERATURE_THRESHOLD:
            Result->Dw0 = ((Command->Cdw11 >> 20) & 3) == 1 ? (Default ? 0 : Model->TemperatureUnder)
                                                             : (Default ? 343 : Model->TemperatureOver);
            return;
        case NM_FEATURE_INTERRUPT_VECTOR_CONFIG:
            Result->Dw0 = (Command->Cdw11 & 0xFFFF) | (Default ? 0 : (Model->Features[Fid] & 0x10000));
            return;
        case NM_FEATURE_VOLATILE_WRITE_CACHE:
            Result->Dw0 = Default ? 1 : Model->Features[Fid];
            return;
        case NM_FEATURE_APST: {
            U64 Zero[32] = {0};
            Result->Dw0 = Default ? 0 : (Model->Features[Fid] & 1);
            Result->Status = Transfer(Model, Sq, Command, Default ? Zero : Model->ApstTable, sizeof(Zero), sizeof(Zero));
            return;
        }
        default:
            Result->Dw0 = Default ? 0 : Model->Features[Fid];
            return;
    }
}

/************************************************************************/
// Log pages

static void BuildSmart(NM_MODEL* Model, U8* Data) {
    Data[0] = Model->CriticalWarning;
    Put16(Data, 1, Model->Temperature);
    Data[3] = 100;  // available spare
    Data[4] = 10;   // threshold
    Put64(Data, 32, (Model->DataUnitsRead + 999) / 1000);
    Put64(Data, 48, (Model->DataUnitsWritten + 999) / 1000);
    Put64(Data, 64, Model->HostReads);
    Put64(Data, 80, Model->HostWrites);
    Put64(Data, 112, 1);  // power cycles
    Put64(Data, 176, Model->ErrorCount);
    Put16(Data, 200, Model->Temperature);
}

static void GetLogPage(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8 Lid = (U8)Command->Cdw10;
    BOOL RetainEvent = (Command->Cdw10 & 0x8000) != 0;
    U64 Dwords = (((U64)(Command->Cdw11 & 0xFFFF) << 16) | (Command->Cdw10 >> 16)) + 1;
    U64 Offset = ((U64)Command->Cdw13 << 32) | Command->Cdw12;
    U8 Data[NM_ERROR_LOG_ENTRIES * NM_ERROR_LOG_ENTRY_SIZE];
    U32 Size;
    U8 EventType;
    memset(Data, 0, sizeof(Data));
    switch (Lid) {
        case NM_LOG_ERROR:
            Size = sizeof(Data);
            EventType = NM_AER_TYPE_ERROR;
            for (U32 I = 0; I < NM_ERROR_LOG_ENTRIES && I < Model->ErrorCount; I++) {
                U32 Slot = (U32)((Model->ErrorCount - 1 - I) % NM_ERROR_LOG_ENTRIES);  // newest first
                memcpy(Data + I * NM_ERROR_LOG_ENTRY_SIZE, Model->ErrorLog[Slot], NM_ERROR_LOG_ENTRY_SIZE);
            }
            break;
        case NM_LOG_SMART:
            Size = 512;
            EventType = NM_AER_TYPE_SMART;
            BuildSmart(Model, Data);
            break;
        case NM_LOG_CHANGED_NAMESPACES:
            Size = 4096;
            EventType = NM_AER_TYPE_NOTICE;
            NmChangedNamespaceLogLocked(Model, Data, RetainEvent);
            break;
        case NM_LOG_FIRMWARE_SLOT:
            Size = 512;
            EventType = NM_AER_TYPE_NOTICE;
            Data[0] = 1;  // slot 1 active
            memset(Data + 8, ' ', 8);
            memcpy(Data + 8, Model->Config.FirmwareRevision, strnlen(Model->Config.FirmwareRevision, 8));
            break;
        default:
            Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_INVALID_LOG_PAGE) | NM_STATUS_DNR;
            return;
    }
    if ((Offset & 3) || Offset >= Size) {
        NmViolation(Model, NVME_RULE_LOG_OFFSET_INVALID, "Get Log Page %#x at offset %llu: the log has %u bytes and "
                    "offsets are dword aligned", Lid, Offset, Size);
        Result->Status = STATUS_INVALID_FIELD;
        return;
    }
    U64 Length = MIN(Dwords * 4, Size - Offset);
    Result->Status = Transfer(Model, Sq, Command, Data + Offset, Length, Dwords * 4);
    // The released events go out after this command's own completion (ProcessOneLocked delivers).
    if (Result->Status == 0 && !RetainEvent) Model->MaskedEventTypes &= (U8)~(1U << EventType);
}

void NmRecordErrorLocked(NM_MODEL* Model, U16 SqId, U16 Cid, U16 Status, U64 Lba, U32 Nsid) {
    U8* Entry = Model->ErrorLog[Model->ErrorCount % NM_ERROR_LOG_ENTRIES];
    Model->ErrorCount++;
    memset(Entry, 0, NM_ERROR_LOG_ENTRY_SIZE);
    Put64(Entry, 0, Model->ErrorCount);
    Put16(Entry, 8, SqId);
    Put16(Entry, 10, Cid);
    Put16(Entry, 12, (U16)(Status << 1));
    Put16(Entry, 14, 0xFFFF);  // parameter error location: not reported
    Put64(Entry, 16, Lba);
    Put32(Entry, 24, Nsid);
}

/************************************************************************/
// Asynchronous events and Abort

/** The Async Event Config bit that enables a SMART or notice event (5.21.1.11), or -1 if none gates it. */
static I32 EventEnableBit(U8 Type, U8 Info) {
    if (Type == NM_AER_TYPE_SMART) return Info == 0 ? 2 : Info == 1 ? 1 : Info == 2 ? 0 : -1;
    if (Type == NM_AER_TYPE_NOTICE) return Info == 0 ? 8 : Info == 1 ? 9 : -1;
    return -1;
}

void NmDeliverEventsLocked(NM_MODEL* Model) {
    while (Model->AerCount > 0) {
        U32 Index = Model->EventCount;
        for (U32 I = 0; I < Model->EventCount; I++) {
            if (!(Model->MaskedEventTypes & (1U << Model->Events[I].Type))) {
                Index = I;
                break;
            }
        }
        if (Index == Model->EventCount) return;
        NM_EVENT Event = Model->Events[Index];
        memmove(&Model->Events[Index], &Model->Events[Index + 1], (Model->EventCount - Index - 1) * sizeof(NM_EVENT));
        Model->EventCount--;
        U16 Cid = Model->AerCids[0];
        memmove(&Model->AerCids[0], &Model->AerCids[1], (Model->AerCount - 1) * sizeof(U16));
        Model->AerCount--;
        Model->MaskedEventTypes |= (U8)(1U << Event.Type);
        Model->Stats.AsyncEventsCompleted++;
        NmCompleteLocked(Model, &Model->Sq[0], Cid, NM_ADMIN_ASYNC_EVENT, 0,
                         (U32)Event.Type | ((U32)Event.Info << 8) | ((U32)Event.LogPage << 16));
    }
}

BOOL NmRaiseEventLocked(NM_MODEL* Model, U8 Type, U8 Info, U8 LogPage) {
    I32 Bit = EventEnableBit(Type, Info);
    if (Bit >= 0 && !(Model->Features[NM_FEATURE_ASYNC_EVENT_CONFIG] & (1U << Bit))) return FALSE;
    if (Model->EventCount == NM_MAX_EVENTS) {
        memmove(&Model->Events[0], &Model->Events[1], (NM_MAX_EVENTS - 1) * sizeof(NM_EVENT));
        Model->EventCount--;
    }
    Model->Events[Model->EventCount].Type = Type;
    Model->Events[Model->EventCount].Info = Info;
    Model->Events[Model->EventCount].LogPage = LogPage;
    Model->EventCount++;
    return TRUE;
}

static void AsyncEventRequest(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    if (Model->AerCount >= (U32)Model->Config.Aerl + 1 || Model->AerCount >= NM_MAX_AERS) {
        NmViolation(Model, NVME_RULE_AER_LIMIT_EXCEEDED, "Asynchronous Event Request CID %u: %u already outstanding "
                    "(AERL=%u allows %u)", NM_SQE_CID(Command), Model->AerCount, Model->Config.Aerl,
                    Model->Config.Aerl + 1U);
        Result->Status = NM_STATUS(NM_SCT_COMMAND, NM_SC_AER_LIMIT) | NM_STATUS_DNR;
        return;
    }
    Model->AerCids[Model->AerCount++] = NM_SQE_CID(Command);
    Result->Deferred = TRUE;
    NmDeliverEventsLocked(Model);
}

static void Abort(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    U16 SqId = (U16)Command->Cdw10;
    U16 Cid = (U16)(Command->Cdw10 >> 16);
    Model->Stats.AbortsReceived++;
    Result->Dw0 = 1;  // "not aborted" unless we find it
    if (Model->Config.AbortMode == NVME_ABORT_FAILS) {
        Result->Status = Model->Config.AbortFailStatus;
        return;
    }
    if (Model->Config.AbortMode == NVME_ABORT_NOT_ABORTED) return;
    NM_COMPLETION* Parked = SqId < NM_MAX_QUEUES ? NmTakeParkedLocked(Model, SqId, Cid) : NULL;
    if (Parked && Model->Config.AbortMode == NVME_ABORT_COMPLETES_FIRST) {
        // The command finished before the Abort reached it: its own completion is posted first (5.1 allows it).
        NmPostLocked(Model, Parked);
        return;
    }
    if (Model->Config.AbortMode != NVME_ABORT_SUCCEEDS) return;
    if (Parked) {
        Parked->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_ABORT_REQUESTED);
        Parked->Dw0 = 0;
        NmPostLocked(Model, Parked);
        Result->Dw0 = 0;
        Model->Stats.AbortsSucceeded++;
        return;
    }
    for (U32 I = 0; SqId == 0 && I < Model->AerCount; I++) {
        if (Model->AerCids[I] != Cid) continue;
        memmove(&Model->AerCids[I], &Model->AerCids[I + 1], (Model->AerCount - I - 1) * sizeof(U16));
        Model->AerCount--;
        NmCompleteLocked(Model, &Model->Sq[0], Cid, NM_ADMIN_ASYNC_EVENT,
                         NM_STATUS(NM_SCT_GENERIC, NM_SC_ABORT_REQUESTED), 0);
        Result->Dw0 = 0;
        Model->Stats.AbortsSucceeded++;
        return;
    }
}

/************************************************************************/
// Dispatch

void NmAdminInitLocked(NM_MODEL* Model) {
    FeatureDefaults(Model);
    Model->Temperature = 323;
}

void NmAdminResetLocked(NM_MODEL* Model) {
    Model->AerCount = 0;
    Model->EventCount = 0;
    Model->MaskedEventTypes = 0;
    U32 Sq = Model->GrantedSq, Cq = Model->GrantedCq;
    FeatureDefaults(Model);
    Model->GrantedSq = Sq;  // the queue allocation does not change across resets (5.21.1.7)
    Model->GrantedCq = Cq;
}

void NmAdminExecuteLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8 Opcode = NM_SQE_OPCODE(Command);
    switch (Opcode) {
        case NM_ADMIN_IDENTIFY:
            Identify(Model, Sq, Command, Result);
            break;
        case NM_ADMIN_CREATE_CQ:
            CreateCq(Model, Command, Result);
            break;
        case NM_ADMIN_CREATE_SQ:
            CreateSq(Model, Command, Result);
            break;
        case NM_ADMIN_DELETE_SQ:
            DeleteSq(Model, Command, Result);
            break;
        case NM_ADMIN_DELETE_CQ:
            DeleteCq(Model, Command, Result);
            break;
        case NM_ADMIN_SET_FEATURES:
            SetFeatures(Model, Sq, Command, Result);
            break;
        case NM_ADMIN_GET_FEATURES:
            GetFeatures(Model, Sq, Command, Result);
            break;
        case NM_ADMIN_GET_LOG_PAGE:
            GetLogPage(Model, Sq, Command, Result);
            break;
        case NM_ADMIN_ABORT:
            Abort(Model, Command, Result);
            break;
        case NM_ADMIN_ASYNC_EVENT:
            AsyncEventRequest(Model, Command, Result);
            break;
        case NM_ADMIN_NAMESPACE_ATTACHMENT:
            NmNamespaceAttachmentLocked(Model, Sq, Command, Result);
            break;
        case NM_ADMIN_DOORBELL_BUFFER_CONFIG:
            NmDbbufConfigLocked(Model, Command, Result);
            break;
        default:
            NmViolation(Model, NVME_RULE_OPCODE_INVALID, "admin opcode %#x (CID %u) is not implemented", Opcode,
                        NM_SQE_CID(Command));
            Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR;
            break;
    }
}

/************************************************************************/
// Public

BOOL NVMeModelRaiseAsyncEvent(NVME_MODEL* Model, U8 Type, U8 Info, U8 LogPage) {
    pthread_mutex_lock(&Model->Lock);
    BOOL Raised = NmRaiseEventLocked(Model, Type, Info, LogPage);
    if (Model->Sq[0].Exists) NmDeliverEventsLocked(Model);
    NmFireInterruptsLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
    return Raised;
}

void NVMeModelSetSmart(NVME_MODEL* Model, U8 CriticalWarning, U16 TemperatureKelvin) {
    pthread_mutex_lock(&Model->Lock);
    U8 NewBits = CriticalWarning & (U8)~Model->CriticalWarning;
    Model->CriticalWarning = CriticalWarning;
    Model->Temperature = TemperatureKelvin;
    // As QEMU's smart_critical_warning: newly set bits raise SMART events (spare 0, temperature 1, reliability 2).
    if (NewBits & 0x01) NmRaiseEventLocked(Model, NM_AER_TYPE_SMART, 2, NM_LOG_SMART);
    if (NewBits & 0x02) NmRaiseEventLocked(Model, NM_AER_TYPE_SMART, 1, NM_LOG_SMART);
    if (NewBits & 0x04) NmRaiseEventLocked(Model, NM_AER_TYPE_SMART, 0, NM_LOG_SMART);
    if (Model->Sq[0].Exists) NmDeliverEventsLocked(Model);
    NmFireInterruptsLocked(Model);
    pthread_mutex_unlock(&Model->Lock);
}

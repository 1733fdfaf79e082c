/*
 * NVMeModel-Internal.h - the model's state, shared by its source files:
 *   NVMeModel.c             processing loop, completion posting, interrupts,
 *                           life cycle and inspection
 *   NVMeModel-Registers.c   registers, enable/disable/shutdown, doorbells
 *   NVMeModel-PCI.c         configuration space, BAR0 decoding, MSI-X memory
 *   NVMeModel-Admin.c       admin commands
 *   NVMeModel-IO.c          NVM commands and namespaces
 *   NVMeModel-DMA.c         PRP and SGL walking
 *   NVMeModel-Conformance.c rule table and violation records
 *   NVMeModel-Faults.c      fault matching, held and lost completions
 *   NVMeModel-Config.c      defaults and presets (public API only)
 *   NVMeModel-WriteCache.c  the volatile write cache and power cuts
 *   NVMeModel-Dbbuf.c       Doorbell Buffer Config: shadow doorbells, EventIdx
 * Every function named Nm*Locked expects Model->Lock held.
 */

#ifndef TESTS_MODEL_NVMEMODEL_INTERNAL_H_INCLUDED
#define TESTS_MODEL_NVMEMODEL_INTERNAL_H_INCLUDED

#include <pthread.h>

#include "HostPlatform.h"
#include "NVMeModel.h"

#define NM_MAX_QUEUES (NVME_MODEL_MAX_IO_QUEUES + 1)
#define NM_MAX_FAULTS 32
#define NM_MAX_VIOLATIONS 256
#define NM_MAX_AERS 16
#define NM_MAX_EVENTS 16
#define NM_MAX_SEGMENTS 4096
#define NM_MAX_TRANSFER (64ULL * 1024 * 1024)  // per command, whatever MDTS says

/** A completion on its way to a CQ: waiting for room, held by a fault, or lost. */
typedef struct tag_NM_COMPLETION {
    U16 SqId;
    U16 Cid;
    U16 Status;          // status field without the phase bit
    U32 Dw0;
    U8 Opcode;
    U64 HoldUntilNs;     // held: release time (0: none)
    U64 HoldUntilPost;   // held: release once the CQ's post counter reaches this (0: none)
    struct tag_NM_COMPLETION* Next;
} NM_COMPLETION;

typedef struct tag_NM_QUEUE {
    BOOL Exists;
    BOOL Deleted;        // deleted since the last controller reset
    BOOL Completion;
    U16 Id;
    U32 Size;
    U32 EntrySize;
    PHYSICAL Base;
    BOOL Contiguous;
    PHYSICAL* Pages;     // non-contiguous queues: one physical address per memory page
    U32 PageCount;
    U64 PageBytes;       // the memory page size the pages were described with
    U32 Head, Tail;
    // Submission queues
    U16 CqId;
    U32 HostKnownHead;   // SQHD of the latest completion posted for this SQ
    U8* Outstanding;     // CID bitmap: fetched and not yet completed
    U32 OutstandingCount;
    // Completion queues
    BOOL Phase;
    BOOL InterruptsEnabled;
    U16 Vector;
    U32 SqCount;         // SQs bound to it
    U64 Posted;          // completions ever posted
    NM_COMPLETION* Waiting;  // completions waiting for room, in order
    BOOL InterruptDue;   // something was posted in this batch
    BOOL Silenced;       // INTx: a skipped interrupt keeps the level down until the head moves
} NM_QUEUE;

typedef struct tag_NM_FAULT {
    NVME_MODEL_FAULT Fault;
    U32 Matches;         // matching commands (or postings) seen
    U32 Hits;            // times it fired
} NM_FAULT;

typedef struct tag_NM_VIOLATION {
    NVME_RULE Rule;
    char Message[240];
} NM_VIOLATION;

typedef struct tag_NM_NAMESPACE {
    NVME_MODEL_NAMESPACE Config;
    DISK_BACKEND* Data;
    DISK_BACKEND* Metadata;  // separate metadata (MS != 0), NULL otherwise
    BOOL OwnsData;
    BOOL Detached;           // not attached to this controller: inactive (NmFindNamespace does not find it)
    U64 BlockSize;           // 2^LBADS
    U32 MetadataSize;
} NM_NAMESPACE;

typedef struct tag_NM_EVENT {
    U8 Type, Info, LogPage;
} NM_EVENT;

typedef struct tag_NM_SEGMENT {
    PHYSICAL Address;
    U64 Length;
} NM_SEGMENT;

typedef struct tag_NM_SG_LIST {
    NM_SEGMENT* Segments;
    U32 Count;
    U32 Capacity;
    U64 Total;
} NM_SG_LIST;

typedef struct tag_NM_RESULT {
    U16 Status;      // status field (SCT/SC, DNR, More)
    U32 Dw0;
    BOOL Deferred;   // completes later (AER)
} NM_RESULT;

struct tag_NVME_MODEL {
    pthread_mutex_t Lock;
    NVME_MODEL_CONFIG Config;
    MEMORY_BUS* Bus;

    // Registers
    U64 Cap;
    U32 Cc, Csts, Aqa, Intms;
    U64 Asq, Acq;
    BOOL AsqLowWritten, AcqLowWritten;  // low half written, high half not yet
    U64 PageSize;                       // from CC.MPS at enable
    U64 ReadyAtNs, NotReadyAtNs, ShutdownAtNs;
    BOOL ReadyPending, NotReadyPending, ShutdownPending;
    BOOL Fatal;

    // Queues
    NM_QUEUE Sq[NM_MAX_QUEUES];
    NM_QUEUE Cq[NM_MAX_QUEUES];
    U32 IoQueuesCreated;          // since the last reset
    U32 GrantedSq, GrantedCq;
    BOOL QueueCountSet;
    U32 RoundRobin;

    // Admin state
    U32 Features[256];
    U64 ApstTable[32];      // Set Features 0Ch data
    U32 TemperatureOver, TemperatureUnder;
    U16 AerCids[NM_MAX_AERS];
    U32 AerCount;
    NM_EVENT Events[NM_MAX_EVENTS];
    U32 EventCount;
    U8 MaskedEventTypes;          // bit per type: reported, waiting for its log page
    U8 ErrorLog[NM_ERROR_LOG_ENTRIES][NM_ERROR_LOG_ENTRY_SIZE];
    U64 ErrorCount;
    U8 CriticalWarning;
    U16 Temperature;
    U64 DataUnitsRead, DataUnitsWritten;  // in 512-byte units (reported in thousands)
    U64 HostReads, HostWrites;

    // Namespaces
    NM_NAMESPACE Namespaces[NVME_MODEL_MAX_NAMESPACES];
    U32 NamespaceCount;
    U32 ChangedNsids[1024];  // Changed Namespace List (log 04h) since it was last read with RAE clear
    U32 ChangedCount;

    // PCI
    PCI_SEGMENT Segment;
    U8 ConfigSpace[4096];
    U8 ConfigWritable[4096];      // bit mask of writable bits per byte
    U64 BarSize;
    U32 MsixTableOffset, MsixPbaOffset;  // in the register space (reached through BAR0, or BAR4: MsixInBar4)
    U8* MsixTable;
    U8* MsixPba;
    U8 PmCap, MsiCap, MsixCap, PcieCap;
    HOST_MMIO_DEVICE* Mmio;       // NULL behind an upstream port
    const NVME_MODEL_UPSTREAM* Upstream;
    LPVOID UpstreamContext;
    BOOL IntxLevel;
    BOOL MsiPending;              // a message masked by INTMS, to send on INTMC

    // Faults
    NM_FAULT Faults[NM_MAX_FAULTS];
    U32 FaultCount;
    NVME_MODEL_CONTROLLER_FAULTS ControllerFaults;
    U64 IoCommandsSeen;
    U64 AdminCommandsSinceEnable;  // for FatalAfterAdminCommands
    U64 Random;
    NM_COMPLETION* Held;          // held by a fault
    NM_COMPLETION* Lost;          // dropped by a fault
    HOST_TIMER* HoldTimer;

    // Processing
    pthread_t Thread;
    pthread_cond_t WorkCond;
    pthread_cond_t IdleCond;
    BOOL ThreadRunning, ThreadStop;
    BOOL WorkPending;             // a doorbell moved since the last processing pass
    I32 Busy;                     // processing in progress (atomic, read by HostPlatform)

    // Conformance
    NM_VIOLATION Violations[NM_MAX_VIOLATIONS];
    U32 ViolationCount;
    U32 ViolationsDropped;
    NVME_MODEL_VIOLATION_HANDLER ViolationHandler;
    LPVOID ViolationContext;

    // Shadow doorbells (NVMeModel-Dbbuf.c)
    BOOL DbbufEnabled;            // Doorbell Buffer Config accepted since the last reset
    PHYSICAL DbbufShadow, DbbufEventIdx;

    NVME_MODEL_STATS Stats;
    struct tag_NM_WRITE_CACHE* WriteCache;  // NULL: writes go straight to the medium
};

typedef NVME_MODEL NM_MODEL;

/************************************************************************/
// NVMeModel.c and NVMeModel-Registers.c

void NmUpdateStatusLocked(NM_MODEL* Model);
/** Power-on state of the controller registers (a conventional reset): CC, CSTS, AQA, ASQ, ACQ 0, queues gone. */
void NmPowerOnResetLocked(NM_MODEL* Model);
BOOL NmReadyLocked(NM_MODEL* Model);
/** Posts a completion for (Sq, Cid) now (no faults): AERs, aborted commands. */
void NmCompleteLocked(NM_MODEL* Model, NM_QUEUE* Sq, U16 Cid, U8 Opcode, U16 Status, U32 Dw0);
/** Writes a completion to its CQ now, or parks it until the CQ has room. */
void NmPostLocked(NM_MODEL* Model, NM_COMPLETION* Completion);
void NmFireInterruptsLocked(NM_MODEL* Model);
void NmEvaluateIntxLocked(NM_MODEL* Model);
void NmSyncMsixLocked(NM_MODEL* Model);
BOOL NmMsixEnabled(NM_MODEL* Model);
BOOL NmMsiEnabled(NM_MODEL* Model);
void NmSetFatalLocked(NM_MODEL* Model, LPCSTR Reason);
PHYSICAL NmQueueEntryAddress(const NM_QUEUE* Queue, U32 Index);
U64 NmRandom(NM_MODEL* Model);
/** Processes up to Max commands round robin over the SQs, then signals interrupts; returns how many. */
U32 NmProcessLocked(NM_MODEL* Model, U32 Max);
void NmSendMsiLocked(NM_MODEL* Model);
/** Posts the completions a full CQ parked, as far as its room goes. */
void NmFlushWaitingLocked(NM_MODEL* Model, NM_QUEUE* Cq);
/** Frees a queue's memory; it is then "deleted" if it existed. */
void NmFreeQueue(NM_QUEUE* Queue);

/************************************************************************/
// NVMeModel-PCI.c

void NmPciInit(NM_MODEL* Model);
void NmPciRelease(NM_MODEL* Model);
/** Configuration space at its defaults with BAR0 = Bar (what firmware programmed, or 0 after a reset). */
void NmPciConfigResetLocked(NM_MODEL* Model, PHYSICAL Bar, U16 Command);
/** A message write leaving the function: to HostPlatform, or to the upstream port. */
void NmSendMessageLocked(NM_MODEL* Model, U64 Address, U32 Data);
/** The function's INTx level: to HostPlatform's line, or to the upstream port. */
void NmSetIntxLocked(NM_MODEL* Model, BOOL Level);
BOOL NmBusMasterEnabled(NM_MODEL* Model);
BOOL NmMemoryEnabled(NM_MODEL* Model);
PHYSICAL NmBar0Locked(NM_MODEL* Model);
U16 NmConfigRead16Locked(NM_MODEL* Model, U16 Offset);
U32 NmConfigRead32Locked(NM_MODEL* Model, U16 Offset);
U64 NmMsixRead(NM_MODEL* Model, U32 Offset, U32 Size);
void NmMsixWrite(NM_MODEL* Model, U32 Offset, U32 Size, U64 Value);

/************************************************************************/
// NVMeModel-Admin.c and NVMeModel-IO.c

void NmAdminInitLocked(NM_MODEL* Model);
/** Doorbell Buffer Config (admin 7Ch). */
void NmDbbufConfigLocked(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result);
/** Takes a SQ's tail from its shadow slot (first publishing EventIdx; Idle: exactly, before the model idles). */
void NmDbbufFetchSqLocked(NM_MODEL* Model, NM_QUEUE* Sq, BOOL Idle);
/** Takes a CQ's head from its shadow slot (publishing EventIdx as the mode says). */
void NmDbbufFetchCqLocked(NM_MODEL* Model, NM_QUEUE* Cq);
/** An MMIO write to an admin doorbell: with shadow doorbells, it must match the shadow entry. */
void NmDbbufCheckAdminLocked(NM_MODEL* Model, U16 Qid, BOOL Completion, U32 Value);
void NmAdminResetLocked(NM_MODEL* Model);
void NmAdminExecuteLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result);
void NmRecordErrorLocked(NM_MODEL* Model, U16 SqId, U16 Cid, U16 Status, U64 Lba, U32 Nsid);
void NmDeliverEventsLocked(NM_MODEL* Model);
/** Completes an outstanding AER with the event or queues it; FALSE if masked. */
BOOL NmRaiseEventLocked(NM_MODEL* Model, U8 Type, U8 Info, U8 LogPage);
BOOL NmNamespacesInit(NM_MODEL* Model);
void NmNamespacesRelease(NM_MODEL* Model);
NM_NAMESPACE* NmFindNamespace(NM_MODEL* Model, U32 Nsid);
/** A configured namespace, attached or not. */
NM_NAMESPACE* NmFindAllocatedNamespace(NM_MODEL* Model, U32 Nsid);

// NVMeModel-Attach.c
/** Namespace Attachment (opcode 15h). */
void NmNamespaceAttachmentLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result);
/** Fills the Changed Namespace List (4096 bytes); clears it when Retain is FALSE. */
void NmChangedNamespaceLogLocked(NM_MODEL* Model, U8* Data, BOOL Retain);
void NmIoExecuteLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result);
void NmIdentifyNamespace(NM_MODEL* Model, const NM_NAMESPACE* Namespace, U8* Data);

/************************************************************************/
// NVMeModel-DMA.c

void NmSgInit(NM_SG_LIST* List);
void NmSgRelease(NM_SG_LIST* List);
/** Maps the command's data pointer (PRP or SGL) for Length bytes; returns a status field (0 = success). */
U16 NmMapDataLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, U64 Length, NM_SG_LIST* List);
/** Copies between the mapped memory and Buffer; returns a status field (Data Transfer Error on failure). */
U16 NmSgCopyLocked(NM_MODEL* Model, const NM_SG_LIST* List, LPVOID Buffer, U64 Length, BOOL ToMemory);
/** Maps the command's data pointer for Length bytes and copies them to or from Buffer; a status field. */
U16 NmCommandDataLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, LPVOID Buffer, U64 Length,
                        BOOL ToMemory);
/** Device DMA with the bus-master check; FALSE (and a violation) when it cannot happen. */
BOOL NmDmaReadLocked(NM_MODEL* Model, PHYSICAL Address, LPVOID Buffer, U64 Length, LPCSTR What);
BOOL NmDmaWriteLocked(NM_MODEL* Model, PHYSICAL Address, LPCVOID Buffer, U64 Length, LPCSTR What);

/************************************************************************/
// NVMeModel-Conformance.c

void NmViolation(NM_MODEL* Model, NVME_RULE Rule, LPCSTR Format, ...) PRINTF_LIKE(3, 4);

/************************************************************************/
// NVMeModel-Faults.c

typedef struct tag_NM_FAULT_PLAN {
    BOOL Error;
    U16 ErrorStatus;
    BOOL Drop;
    BOOL Hold;
    U32 HoldCompletions;
    U32 HoldMs;
} NM_FAULT_PLAN;

/** Decides which per-command faults fire for Command on Sq (counts every match). */
void NmFaultPlanLocked(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command, NM_FAULT_PLAN* Plan);
/** TRUE if the interrupt for this posting on Cq must be skipped. */
BOOL NmFaultSkipInterruptLocked(NM_MODEL* Model, const NM_QUEUE* Cq);
void NmHoldLocked(NM_MODEL* Model, NM_COMPLETION* Completion, U32 HoldCompletions, U32 HoldMs);
void NmLoseLocked(NM_MODEL* Model, NM_COMPLETION* Completion);
/** Posts held completions whose time or count has come. */
void NmReleaseDueLocked(NM_MODEL* Model);
/** Removes a held or lost completion for (SqId, Cid); NULL if none. */
NM_COMPLETION* NmTakeParkedLocked(NM_MODEL* Model, U16 SqId, U16 Cid);
void NmFaultsInit(NM_MODEL* Model);
void NmFaultsResetLocked(NM_MODEL* Model);
void NmFaultsRelease(NM_MODEL* Model);

/************************************************************************/
// NVMeModel-WriteCache.c (every hook does nothing while the cache is off)

typedef struct tag_NM_WRITE_CACHE NM_WRITE_CACHE;

/** Before each I/O command: a scheduled cut; TRUE if power is off and the command must do nothing (success). */
BOOL NmWriteCacheBeforeIoLocked(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result);
/** A write of whole blocks: to the cache, or through to the medium (FUA, metadata, cache turned off). */
KSTATUS NmWriteCacheWriteLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, const U8* Data, U64 Length,
                                BOOL Fua);
/** Puts the cached blocks of the range over what was read from the medium. */
void NmWriteCacheReadLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, U8* Buffer, U64 Length);
/** Writes the cached blocks of namespace Nsid (FFFFFFFFh: all) to the medium. */
KSTATUS NmWriteCacheCommitLocked(NM_MODEL* Model, U32 Nsid);
/** A Flush command's part: the commit, unless the drive lies (NVMeModelSetFlushIgnored). */
KSTATUS NmWriteCacheFlushLocked(NM_MODEL* Model, U32 Nsid);
/** Counts a Flush that found the cache on. */
void NmWriteCacheFlushedLocked(NM_MODEL* Model);
/** Forgets the cached blocks of the range (zeroed or deallocated on the medium). */
void NmWriteCacheDropLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, U64 Length);
void NmWriteCachePowerCutLocked(NM_MODEL* Model, U32 KeepPerMille, U64 Seed);
void NmWriteCacheRelease(NM_MODEL* Model);

#endif  // TESTS_MODEL_NVMEMODEL_INTERNAL_H_INCLUDED

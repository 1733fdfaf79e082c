/*
 * NVMe-Internal.h - what the NVMe driver's files share: register and command
 * layouts, the controller / queue / tracker structures, and the functions
 * each file offers the others.
 *
 * Layering (one file each):
 *   NVMe-PRP.c    pure: builds PRP1/PRP2/PRP lists for a buffer
 *   NVMe-Queue.c  the queue engine: trackers, CIDs, submission, completion,
 *                 interrupt and polled variants, waiting (its ring and CID
 *                 arithmetic is pure)
 *   NVMe-Admin.c  admin commands: identify, features, queue create/delete
 *   NVMe-Core.c   PCI binding and bring-up, the controller list
 *   NVMe-IO.c     read/write/flush, splitting, bouncing, status decoding
 *                 (the decoding is pure)
 *   NVMe-Disk.c   namespaces as DISK objects
 *
 * The driver reaches the machine only through drivers/Platform.h. Pure parts
 * build on the host (-DCAIRN_HOST_BUILD) for the unit tests; the parts that
 * need the platform are inside NVME_WITH_PLATFORM, which a host build against
 * a device model enables by defining NVME_HOST_MODEL.
 *
 * Register offsets and bit positions: NVM Express Base Specification 2.0,
 * section 3.1 (controller registers), figures 88 (SQE), 90 (CQE), 100
 * (status field), 275 (Identify Controller), 280 (Identify Namespace).
 */

#ifndef DRIVERS_STORAGE_NVME_INTERNAL_H_INCLUDED
#define DRIVERS_STORAGE_NVME_INTERNAL_H_INCLUDED

#include "Base.h"
#include "drivers/Platform.h"
#include "drivers/storage/NVMe.h"
#include "fs/Disk.h"

#if !defined(CAIRN_HOST_BUILD) || defined(NVME_HOST_MODEL)
#define NVME_WITH_PLATFORM 1
#endif

/************************************************************************/
// Controller registers (NVMe 2.0, 3.1.4)

#define NVME_REG_CAP_LOW 0x00
#define NVME_REG_CAP_HIGH 0x04
#define NVME_REG_VS 0x08
#define NVME_REG_INTMS 0x0C
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1C
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ_LOW 0x28
#define NVME_REG_ASQ_HIGH 0x2C
#define NVME_REG_ACQ_LOW 0x30
#define NVME_REG_ACQ_HIGH 0x34
#define NVME_REG_DOORBELLS 0x1000

#define NVME_CC_ENABLE 0x00000001
#define NVME_CC_CSS_SHIFT 4
#define NVME_CC_CSS_NVM 0x0
#define NVME_CC_CSS_ALL 0x6     // all supported I/O command sets (CAP.CSS bit 6)
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_AMS_SHIFT 11    // 0 = round robin
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3U << 14)
#define NVME_CC_SHN_NORMAL (1U << 14)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOCQES_SHIFT 20

#define NVME_CSTS_RDY 0x00000001
#define NVME_CSTS_CFS 0x00000002
#define NVME_CSTS_SHST_MASK 0x0000000C
#define NVME_CSTS_SHST_COMPLETE 0x00000008

#define NVME_CAP_CSS_NVM 0x01
#define NVME_CAP_CSS_IO_SETS 0x40
#define NVME_CAP_CSS_NO_IO 0x80

#define NVME_SQ_ENTRY_SIZE 64
#define NVME_CQ_ENTRY_SIZE 16
#define NVME_SQES_LOG2 6
#define NVME_CQES_LOG2 4

/************************************************************************/
// Commands

#define NVME_ADMIN_DELETE_SQ 0x00
#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_GET_LOG_PAGE 0x02
#define NVME_ADMIN_DELETE_CQ 0x04
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_ADMIN_SET_FEATURES 0x09
#define NVME_ADMIN_GET_FEATURES 0x0A

#define NVME_CNS_NAMESPACE 0x00
#define NVME_CNS_CONTROLLER 0x01
#define NVME_CNS_ACTIVE_NAMESPACES 0x02

#define NVME_FEATURE_NUMBER_OF_QUEUES 0x07

#define NVME_NSID_LIST_ENTRIES 1024  // a CNS 02h page holds 1024 NSIDs

typedef struct tag_NVME_COMMAND {
    U8 Opcode;
    U8 Flags;     // FUSE (1:0), PSDT (7:6) = 0: PRPs
    U16 Cid;
    U32 Nsid;
    U32 Cdw2, Cdw3;
    U64 Mptr;
    U64 Prp1, Prp2;
    U32 Cdw10, Cdw11, Cdw12, Cdw13, Cdw14, Cdw15;
} NVME_COMMAND;

typedef struct tag_NVME_COMPLETION {
    U32 Dw0, Dw1;
    U16 SqHead;
    U16 SqId;
    U16 Cid;
    U16 Status;   // bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 More, 15 DNR
} NVME_COMPLETION;

STATIC_ASSERT(sizeof(NVME_COMMAND) == NVME_SQ_ENTRY_SIZE, "SQ entries are 64 bytes");
STATIC_ASSERT(sizeof(NVME_COMPLETION) == NVME_CQ_ENTRY_SIZE, "CQ entries are 16 bytes");

/************************************************************************/
// Status (the 15-bit field without the phase tag: completion Status >> 1)

#define NVME_STATUS_FIELD(CompletionStatus) ((U16)((CompletionStatus) >> 1))
#define NVME_STATUS_SC(S) ((U8)((S) & 0xFF))
#define NVME_STATUS_SCT(S) ((U8)(((S) >> 8) & 0x7))
#define NVME_STATUS_CRD(S) ((U8)(((S) >> 11) & 0x3))
#define NVME_STATUS_MORE(S) (((S) >> 13) & 1)
#define NVME_STATUS_DNR(S) (((S) >> 14) & 1)
#define NVME_STATUS_MAKE(Sct, Sc) ((U16)((((Sct) & 7) << 8) | ((Sc) & 0xFF)))

#define NVME_SCT_GENERIC 0
#define NVME_SCT_COMMAND_SPECIFIC 1
#define NVME_SCT_MEDIA 2
#define NVME_SCT_PATH 3
#define NVME_SCT_VENDOR 7

/** Maps a status field to a KSTATUS (SUCCESS for 0). */
KSTATUS NVMeStatusToKStatus(U16 NvmeStatus);

/************************************************************************/
// PRP builder (pure, NVMe-PRP.c)

/** Physical address of the byte at Linear, 0 if unmapped (PlatformTranslate in the kernel). */
typedef PHYSICAL (*NVME_TRANSLATE)(LPCVOID Linear, LPVOID Context);

/** Physically contiguous list pages a builder may fill (a tracker's share of its queue's pool). */
typedef struct tag_NVME_PRP_POOL {
    U64* Linear;         // first list page
    PHYSICAL Physical;   // its bus address
    U32 Pages;
} NVME_PRP_POOL;

typedef struct tag_NVME_PRP_RESULT {
    U64 Prp1, Prp2;
    U32 DataPages;       // memory pages the transfer touches
    U32 ListPages;       // list pages used from the pool
} NVME_PRP_RESULT;

/** Pages of PageSize that [Address, Address + Length) touches. */
U32 NVMePRPPagesSpanned(LINEAR Address, U64 Length, U32 PageSize);
/** List pages needed for a transfer touching DataPages pages (0 when PRP1/PRP2 suffice). */
U32 NVMePRPListPagesNeeded(U32 DataPages, U32 PageSize);
/** Largest transfer (bytes, a multiple of PageSize) that ListPages list pages take for any dword-aligned buffer. */
U64 NVMePRPMaxTransfer(U32 ListPages, U32 PageSize);
/**
 * Fills Result for Length bytes at Buffer. Buffer must be dword aligned
 * (else KSTATUS_BAD_PARAMETER); every page is translated on its own and must
 * come back with the right offset (PRP1) or page aligned (the rest);
 * KSTATUS_NO_MEMORY when Pool has too few list pages (the caller splits).
 */
KSTATUS NVMePRPBuild(LPCVOID Buffer, U64 Length, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                     const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result);

/************************************************************************/
// Transfer limits (pure, NVMe-IO.c)

/** MDTS in bytes: 2^Mdts pages of 2^(12 + MpsMin) bytes; 0 when MDTS is 0 (no limit) or absurd (> 20). */
U64 NVMeMdtsBytes(U8 Mdts, U8 MpsMin);
/** What one command may carry: MDTS (if any) and what PrpListPages list pages describe for any buffer. */
U64 NVMeMaxCommandBytes(U64 MdtsBytes, U32 PrpListPages, U32 PageSize);
/** Blocks per command for LbaSize-byte blocks (NLB's 65536 at most). */
U32 NVMeMaxBlocksPerCommand(U64 MaxCommandBytes, U32 LbaSize);

/************************************************************************/
// Ring and command identifier arithmetic (pure, NVMe-Queue.c)

#define NVME_CID_INDEX_BITS 12        // tracker index; the 4 bits above are a generation
#define NVME_CID_INDEX_MASK 0x0FFF
#define NVME_MAX_QUEUE_DEPTH 4096     // so an index always fits the CID's low bits
#define NVME_CID_NONE 0xFFFF

/** A FIFO free list of tracker indexes: an index is handed out again only after everything freed before it. */
typedef struct tag_NVME_CID_ALLOCATOR {
    U16* Links;     // Capacity entries: next free index
    U8* Busy;       // Capacity entries
    U16 Capacity;
    U16 FreeCount;
    U16 Head, Tail; // NVME_CID_NONE when empty
} NVME_CID_ALLOCATOR;

void NVMeCidInit(NVME_CID_ALLOCATOR* Allocator, U16* Links, U8* Busy, U16 Capacity);
/** FALSE when every index is busy. */
BOOL NVMeCidAllocate(NVME_CID_ALLOCATOR* Allocator, U16* Index);
/** FALSE (and no change) if Index is out of range or not busy. */
BOOL NVMeCidFree(NVME_CID_ALLOCATOR* Allocator, U16 Index);
BOOL NVMeCidIsBusy(const NVME_CID_ALLOCATOR* Allocator, U16 Index);
U16 NVMeCidCompose(U16 Index, U16 Generation);
U16 NVMeCidIndex(U16 Cid);

U16 NVMeRingNext(U16 Index, U16 Depth);
/** Entries between Head and Tail. */
U16 NVMeRingUsed(U16 Head, U16 Tail, U16 Depth);
/** An SQ is full when one more entry would make Tail reach Head (depth - 1 usable). */
BOOL NVMeSqIsFull(U16 Head, U16 Tail, U16 Depth);
/** Moves a CQ head one entry, flipping the expected phase at the wrap. */
void NVMeCqAdvance(U16* Head, U8* Phase, U16 Depth);
/** Offset in BAR0 of queue Qid's SQ tail (Completion FALSE) or CQ head doorbell. */
U32 NVMeDoorbellOffset(U16 Qid, BOOL Completion, U8 Dstrd);

/************************************************************************/
// Identify parsing (pure, NVMe-Admin.c)

void NVMeParseIdentifyController(const U8* Data, NVME_IDENTIFY_INFO* Info);
/** Fills Info (except NSID, Exposed, Reason, DiskName) from an Identify Namespace page. */
void NVMeParseIdentifyNamespace(const U8* Data, NVME_NAMESPACE_INFO* Info);
/** TRUE when the driver can serve the namespace; otherwise Reason says why not. */
BOOL NVMeNamespaceUsable(const NVME_NAMESPACE_INFO* Info, U32 PageSize, LPSTR Reason, SIZE ReasonSize);

#ifdef NVME_WITH_PLATFORM

/************************************************************************/
// Driver structures

#define NVME_ADMIN_QUEUE_DEPTH 64
#define NVME_IO_QUEUE_DEPTH_MAX 1024
#define NVME_PRP_PAGES_PER_TRACKER 1    // 512 entries: 2 MiB per command whatever the buffer offset
#define NVME_BOUNCE_BYTES (128 * 1024)  // per I/O queue, for buffers that are not dword aligned
#define NVME_WAITER_POOL 16
#define NVME_ADMIN_TIMEOUT_MS 10000
#define NVME_IO_TIMEOUT_MS 30000
#define NVME_WAIT_STEP_MS 250           // a waiter polls its queue itself after this long (missed interrupt)
#define NVME_FIRST_INTERRUPT_MS 200     // how long bring-up waits for the first interrupt
#define NVME_MAX_NAMESPACES 4096        // active namespaces the driver records

#define NVME_TRACKER_FREE 0
#define NVME_TRACKER_IN_FLIGHT 1
#define NVME_TRACKER_COMPLETING 2
#define NVME_TRACKER_RESERVED 3   // taken by a submitter, not yet in the SQ

struct tag_NVME_CONTROLLER;
struct tag_NVME_QUEUE;
struct tag_NVME_TRACKER;

typedef void (*NVME_TRACKER_DONE)(struct tag_NVME_TRACKER* Tracker);

/** One command's state, indexed by its CID; owns one share of its queue's PRP pool. */
typedef struct tag_NVME_TRACKER {
    struct tag_NVME_QUEUE* Queue;
    U16 Index;
    U16 Cid;             // Index plus generation
    U16 Generation;
    U8 State;            // NVME_TRACKER_*
    U8 Opcode;
    U32 Nsid;
    U64 Lba;
    U32 Blocks;
    NVME_TRACKER_DONE Done;    // runs in the bottom half, before the tracker is freed
    LPVOID Context;            // the caller's completion state (a request), used in place
    NVME_IO_CALLBACK Callback; // asynchronous callers
    NVME_COMPLETION Completion;
    NVME_PRP_POOL Prp;
    struct tag_NVME_TRACKER* NextDone;
} NVME_TRACKER;

/** The part of a queue that differs between interrupt-driven and polled completion. */
typedef struct tag_NVME_QUEUE_OPS {
    LPCSTR Name;
    /** After a doorbell: the polled variant wakes the poll thread. */
    void (*Kick)(struct tag_NVME_QUEUE* Queue);
    /** After the bottom half drained the CQ: the INTx variant unmasks. */
    void (*Drained)(struct tag_NVME_QUEUE* Queue);
} NVME_QUEUE_OPS;

typedef struct tag_NVME_QUEUE {
    struct tag_NVME_CONTROLLER* Controller;
    U16 Id;
    U16 Depth;
    BOOL Allocated;
    BOOL Created;               // exists on the device
    const NVME_QUEUE_OPS* Ops;
    PLATFORM_LOCK* Lock;        // SQ tail, CQ head/phase, CID list, tracker states; short sections only
    PLATFORM_DMA SqMemory, CqMemory, PrpMemory, BounceMemory;
    volatile NVME_COMMAND* Sq;
    volatile NVME_COMPLETION* Cq;
    LINEAR SqDoorbell, CqDoorbell;
    U16 SqTail, SqHead, CqHead;
    U8 CqPhase;
    NVME_CID_ALLOCATOR Cids;
    NVME_TRACKER* Trackers;     // Depth - 1
    U16 TrackerCount;
    PLATFORM_EVENT* SlotEvent;  // a tracker was freed and someone waits for one
    U32 SlotWaiters;
    PLATFORM_WORK* Work;        // the bottom half
    PLATFORM_MUTEX* BounceMutex;
    U32 MessageIndex;           // interrupt vector number given to Create I/O CQ
    BOOL SharedVector;          // the handler must check its own CQ
    NVME_QUEUE_INFO Stats;      // counters, copied into the public view
} NVME_QUEUE;

/** NVME_NAMESPACE (opaque in NVMe.h). */
struct tag_NVME_NAMESPACE {
    struct tag_NVME_CONTROLLER* Controller;
    NVME_NAMESPACE_INFO* Info;
    U32 Nsid;
    U32 LbaSize;
    U64 Blocks;
    U32 MaxBlocks;              // per command
    BOOL Exposed;
    DISK Disk;
};

typedef struct tag_NVME_CONTROLLER {
    NVME_CONTROLLER_INFO Info;  // the public view
    PCI_DEVICE* Device;
    LINEAR Registers;
    U64 RegisterSize;
    PLATFORM_DMA IdentifyPage;  // Identify Controller, kept
    PLATFORM_DMA ScratchPage;   // admin data transfers, under AdminMutex
    PLATFORM_MUTEX* AdminMutex;
    NVME_QUEUE Admin;
    NVME_QUEUE Io[NVME_MAX_IO_QUEUES];
    U32 IoCount;
    U32 NextIoQueue;
    PLATFORM_INTERRUPTS Interrupts;
    BOOL InterruptsActive;
    PLATFORM_EVENT* PollEvent;
    BOOL PollThreadStarted;
    PLATFORM_LOCK* WaiterLock;
    PLATFORM_EVENT* Waiters[NVME_WAITER_POOL];
    U32 WaiterFree;             // bit i: Waiters[i] is free
    NVME_NAMESPACE_INFO* NamespaceInfos;
    struct tag_NVME_NAMESPACE* Namespaces;  // parallel to NamespaceInfos
    U32 NamespaceCount;
} NVME_CONTROLLER;

/** A caller waiting for one or more commands (children of a split request). */
typedef struct tag_NVME_REQUEST {
    U32 Pending;               // children in flight, plus one while the submitter still adds children
    KSTATUS Status;            // first error
    U16 NvmeStatus;
    U32 Dw0;                   // completion dword 0 of the last child (admin results)
    PLATFORM_EVENT* Event;
    BOOL Quiet;                // a probe: failures are expected, do not log them
    BOOL Abandoned;
} NVME_REQUEST;

/************************************************************************/
// NVMe-Queue.c

extern const NVME_QUEUE_OPS NVMeInterruptQueueOps;  // MSI-X and MSI
extern const NVME_QUEUE_OPS NVMeIntxQueueOps;
extern const NVME_QUEUE_OPS NVMePolledQueueOps;

/** Allocates rings and trackers (I/O queues also get the PRP pool and the bounce buffer). */
KSTATUS NVMeQueueAllocate(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U16 Id, U16 Depth, BOOL IoQueue);
void NVMeQueueFree(NVME_QUEUE* Queue);
/** Clears the rings (zeroed CQ, phase 1, tails and heads 0); all trackers must be free. */
void NVMeQueueReset(NVME_QUEUE* Queue);
/** Takes a free tracker, sleeping while none is (Wait) or returning NULL (no Wait). */
NVME_TRACKER* NVMeQueueGetTracker(NVME_QUEUE* Queue, BOOL Wait);
/** Gives back a tracker that was never submitted. */
void NVMeQueuePutTracker(NVME_TRACKER* Tracker);
/** Copies Command (CID filled in) into the SQ and rings the doorbell. */
void NVMeQueueSubmit(NVME_TRACKER* Tracker, NVME_COMMAND* Command);
/** Reaps every posted completion; returns how many. ByWaiter counts them as found without an interrupt. */
U32 NVMeQueueProcessCompletions(NVME_QUEUE* Queue, BOOL ByWaiter);
/** The interrupt top half (Context is the queue). */
BOOL NVMeQueueInterrupt(LPVOID Context);
/** Switches the controller to polled completion (once) and says why. */
void NVMeControllerStartPolling(NVME_CONTROLLER* Controller, LPCSTR Reason);

void NVMeRequestInit(NVME_CONTROLLER* Controller, NVME_REQUEST* Request);
void NVMeRequestRelease(NVME_CONTROLLER* Controller, NVME_REQUEST* Request);
/** Tracker Done function for request children. */
void NVMeRequestChildDone(NVME_TRACKER* Tracker);
/** Prepares a tracker as a child of Request (Pending += 1). */
void NVMeRequestAddChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker);
/** Drops the submitter's reference and waits (bounded) for every child; KSTATUS_TIMEOUT detaches them. */
KSTATUS NVMeRequestWait(NVME_QUEUE* Queue, NVME_REQUEST* Request, U32 TimeoutMs);

/************************************************************************/
// NVMe-Admin.c

/** Runs one admin command to completion; *Dw0 (if not NULL) gets completion dword 0. Quiet: do not log failure. */
KSTATUS NVMeAdminCommand(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, U32* Dw0, U16* NvmeStatus);
KSTATUS NVMeAdminIdentify(NVME_CONTROLLER* Controller, U8 Cns, U32 Nsid, PHYSICAL Page, BOOL Quiet);
/** Set Features Number of Queues; *Granted receives min(NSQA, NCQA) + 1. */
KSTATUS NVMeAdminSetQueueCount(NVME_CONTROLLER* Controller, U32 Wanted, U32* Granted);
KSTATUS NVMeAdminCreateQueuePair(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL InterruptsEnabled);
KSTATUS NVMeAdminDeleteQueuePair(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue);
/** Reads the active namespace list (or probes 1..NN) and identifies each namespace. */
KSTATUS NVMeAdminDiscoverNamespaces(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Core.c

U32 NVMeRead32(NVME_CONTROLLER* Controller, U32 Offset);
void NVMeWrite32(NVME_CONTROLLER* Controller, U32 Offset, U32 Value);
NVME_CONTROLLER* NVMeGetControllerInternal(U32 Index);
/** Checks CSTS after a timeout; marks the controller failed on CFS or a vanished device. */
void NVMeCheckFatal(NVME_CONTROLLER* Controller, LPCSTR What);

/************************************************************************/
// NVMe-IO.c

/** Logs a failed command (rate limited) and records it on the controller. */
void NVMeReportError(NVME_CONTROLLER* Controller, const NVME_TRACKER* Tracker, U16 NvmeStatus);
LPCSTR NVMeOpcodeName(BOOL Admin, U8 Opcode);

/************************************************************************/
// NVMe-Disk.c

/** Registers a DISK for every exposed namespace of Controller. */
void NVMeDiskRegisterNamespaces(NVME_CONTROLLER* Controller);

#endif  // NVME_WITH_PLATFORM

#endif  // DRIVERS_STORAGE_NVME_INTERNAL_H_INCLUDED

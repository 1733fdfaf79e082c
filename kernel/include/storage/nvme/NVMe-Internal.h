/*
 * NVMe-Internal.h - what the NVMe driver's files share: the controller /
 * queue / tracker structures, their state machines, and the functions each
 * file offers the others.
 *
 * Layering (one concept a file):
 *   NVMe-Spec.c   pure: the specification's structures, one decoder each
 *                 (NVMe-Spec.h); nvme-cli printing in NVMe-LogFormat.c and
 *                 NVMe-RegisterFormat.c
 *   NVMe-State.c  the state tables: controller states, queue modes,
 *                 tracker states and their legal transitions
 *   NVMe-PRP.c    pure: a command's data walked page by page; builds
 *                 PRP1/PRP2/PRP lists for it
 *   NVMe-SGL.c    pure: builds SGL descriptors for it, and the rule that
 *                 picks PRP or SGL and cuts a vectored request into commands
 *   NVMe-Queue.c  the queue engine: allocation, modes, holding for resets,
 *                 retries, the interrupt / INTx / polled variants (its ring
 *                 and CID arithmetic is pure); with NVMe-Submit.c (trackers,
 *                 submission, the single-command fast path), NVMe-Reap.c
 *                 (completion: drain, validate, complete; the top half) and
 *                 NVMe-QueueSteps.h (the locked steps they share)
 *   NVMe-Doorbell.c  the doorbell writes: MMIO, or the shadow doorbell
 *                 buffer with its event-index rule (Doorbell Buffer Config)
 *   NVMe-Deadline.c  the one owner of time: deadlines, wait limits, missed-
 *                 interrupt polling
 *   NVMe-Request.c  callers waiting for commands (requests)
 *   NVMe-Admin.c  admin commands: identify, queue create/delete, namespaces
 *   NVMe-Core.c   PCI binding and bring-up, the controller list, the view
 *   NVMe-IO.c     read/write/flush, splitting, bouncing, the retry rule and
 *                 transfer limits (pure)
 *   NVMe-DSM.c    Dataset Management (trim) and Write Zeroes
 *   NVMe-Features.c  Get/Set Features, the register snapshot
 *   NVMe-Health.c log pages, asynchronous events
 *   NVMe-Recovery.c  the watchdog: the timeout ladder, retries, health
 *                 checks, controller reset and failure, shutdown
 *   NVMe-Disk.c   namespaces as DISK objects
 *
 * The driver reaches the machine only through drivers/Platform.h. Pure parts
 * build on the host (-DCAIRN_HOST_BUILD) for the unit tests; the parts that
 * need the platform are inside NVME_WITH_PLATFORM, which a host build against
 * a device model enables by defining NVME_HOST_MODEL.
 *
 * Register offsets, command layouts, status codes and the decoders of what
 * a controller returns are the specification's: NVMe-Spec.h.
 */

#ifndef STORAGE_NVME_INTERNAL_H_INCLUDED
#define STORAGE_NVME_INTERNAL_H_INCLUDED

#include "Base.h"
#include "drivers/Platform.h"
#include "storage/nvme/NVMe.h"
#include "storage/nvme/NVMe-Spec.h"
#include "block/Disk.h"

#if !defined(CAIRN_HOST_BUILD) || defined(NVME_HOST_MODEL)
#define NVME_WITH_PLATFORM 1
#endif

/************************************************************************/
// A command's data (pure, NVMe-PRP.c)

/** Physical address of the byte at Linear, 0 if unmapped (PlatformTranslate in the kernel). */
typedef PHYSICAL (*NVME_TRANSLATE)(LPCVOID Linear, LPVOID Context);

/** Length bytes of a vectored buffer, from byte Offset of Segments[0] on: one command's share of a request. */
typedef struct tag_NVME_DATA {
    const DISK_SEGMENT* Segments;
    U32 Count;
    U32 Offset;
    U64 Length;
} NVME_DATA;

/** A walk over an NVME_DATA a piece at a time: each piece lies in one segment and one memory page. */
typedef struct tag_NVME_DATA_WALK {
    const DISK_SEGMENT* Segment;
    const DISK_SEGMENT* End;
    U64 Offset;        // in *Segment
    U64 Left;          // bytes of the command not walked yet
    U32 PageSize;
} NVME_DATA_WALK;

void NVMeDataWalkStart(NVME_DATA_WALK* Walk, const NVME_DATA* Data, U32 PageSize);
/** The next piece (FALSE at the end, or when the segments end before Length: a caller's mistake). */
BOOL NVMeDataWalkNext(NVME_DATA_WALK* Walk, LINEAR* Address, U32* Length);

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
 * Fills Result for Data. Its first byte must be dword aligned, and every
 * segment joint must fall on page boundaries (the first segment ends at the
 * end of a page, the next starts at a page start): what PRPs can say, else
 * KSTATUS_BAD_PARAMETER. Every page is translated on its own and must come
 * back with the right offset (PRP1) or page aligned (the rest);
 * KSTATUS_NO_MEMORY when Pool has too few list pages (the caller splits).
 */
KSTATUS NVMePRPBuildData(const NVME_DATA* Data, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                         const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result);
/**
 * PRP1 and PRP2 of one buffer that touches at most two pages (a 4 KiB block read, page aligned or not), without
 * the builder's walk or pool: the builder's checks (every page translated on its own, PRP1 with the buffer's
 * offset in its page, PRP2 page aligned; KSTATUS_BAD_PARAMETER otherwise). KSTATUS_NO_MEMORY when the buffer
 * touches more pages: the caller takes NVMePRPBuildData. Start must be dword aligned, Length not 0, PageSize a
 * power of two (the controller's).
 */
static inline KSTATUS NVMePRPBuildSmall(LINEAR Start, U64 Length, U32 PageSize, NVME_TRANSLATE Translate,
                                        LPVOID Context, U64* Prp1, U64* Prp2) {
    LINEAR Mask = PageSize - 1;
    LINEAR Offset = Start & Mask;
    if (UNLIKELY(Offset + Length > 2 * (U64)PageSize)) return KSTATUS_NO_MEMORY;
    PHYSICAL First = Translate((LPCVOID)Start, Context);
    if (UNLIKELY(First == 0 || (First & Mask) != Offset)) return KSTATUS_BAD_PARAMETER;
    PHYSICAL Second = 0;
    if (Offset + Length > PageSize) {
        Second = Translate((LPCVOID)((Start & ~Mask) + PageSize), Context);
        if (UNLIKELY(Second == 0 || (Second & Mask) != 0)) return KSTATUS_BAD_PARAMETER;
    }
    *Prp1 = First;
    *Prp2 = Second;
    return KSTATUS_SUCCESS;
}
/** NVMePRPBuildData for one buffer of Length bytes. */
KSTATUS NVMePRPBuild(LPCVOID Buffer, U64 Length, U32 PageSize, NVME_TRANSLATE Translate, LPVOID TranslateContext,
                     const NVME_PRP_POOL* Pool, NVME_PRP_RESULT* Result);

/************************************************************************/
// SGL builder and the PRP-or-SGL rule (pure, NVMe-SGL.c)

// auto: average segment (bytes) from which an SGL is favoured; 0: never, SGLs only where the layout needs them
// (measured in NVMe.md: SGLs cost the driver more and QEMU no less). nvme.sgl_threshold=<bytes> sets another.
#define NVME_SGL_THRESHOLD 0

typedef struct tag_NVME_SGL_RESULT {
    U64 Sgl1[2];         // the command's SGL1 (its PRP1 and PRP2 fields)
    U32 Descriptors;     // data block descriptors
    U32 SegmentPages;    // pool pages used
} NVME_SGL_RESULT;

/** Data block descriptors that fit Pages pool pages (the last slot of every page but the last chains). */
U32 NVMeSGLCapacity(U32 Pages, U32 PageSize);
/**
 * Fills Result for Data: one Data Block descriptor in SGL1 when the data is
 * physically contiguous, else a Last Segment descriptor to the pool's first
 * page of Data Block descriptors (a Segment descriptor, and chaining through
 * the last slot of each page, when one page is not enough). DwordAligned
 * (SGLS 10b): every data block's address and length must be dword aligned
 * (else KSTATUS_BAD_PARAMETER). KSTATUS_NO_MEMORY when the pool is too small.
 */
KSTATUS NVMeSGLBuild(const NVME_DATA* Data, U32 PageSize, BOOL DwordAligned, NVME_TRANSLATE Translate,
                     LPVOID TranslateContext, const NVME_PRP_POOL* Pool, NVME_SGL_RESULT* Result);

/** What one command of a vectored request carries, and how. */
typedef struct tag_NVME_DATA_PLAN {
    U64 Bytes;           // a multiple of the block size, not 0
    BOOL Sgl;
} NVME_DATA_PLAN;

/** The limits a plan respects. */
typedef struct tag_NVME_PLAN_LIMITS {
    U32 PageSize;
    U32 BlockSize;
    U64 MaxBytes;        // MaxBlocks * BlockSize
    U32 PrpPages;        // data pages one command's PRPs may name (1 + the list pages' entries)
    U32 SglDescriptors;  // data blocks one command's SGL may hold (NVMeSGLCapacity)
    U8 Mode;             // NVME_SGL_*, already NVME_SGL_OFF when the controller has no SGLs
    U32 Threshold;       // the controller's SglThreshold (0: size alone never favours an SGL)
} NVME_PLAN_LIMITS;

/**
 * The rule: the longest first command of Data (all of it if it can) and
 * whether it goes as PRPs or an SGL. Off: PRPs, cut where PRPs cannot go on
 * (a segment joint off a page boundary). On: an SGL. Auto: an SGL when PRPs
 * cannot say the command in one (the layout needs it) or its average
 * segment is Threshold or more (it favours it), else PRPs.
 */
NVME_DATA_PLAN NVMePlanCommand(const NVME_DATA* Data, const NVME_PLAN_LIMITS* Limits);

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

#define NVME_CQ_STATE(Head, Phase) ((U32)(Head) | ((U32)(Phase) << 16))
#define NVME_CQ_STATE_HEAD(State) ((U16)(State))
#define NVME_CQ_STATE_PHASE(State) ((U8)((State) >> 16))

#define NVME_CID_INDEX_BITS 12        // tracker index; the 4 bits above are a generation
#define NVME_CID_INDEX_MASK 0x0FFF
#define NVME_MAX_QUEUE_DEPTH 4096     // so an index always fits the CID's low bits
#define NVME_CID_NONE 0xFFFF

/**
 * A FIFO free list of tracker indexes: an index is handed out again only after everything freed before it. The
 * free indexes sit in a ring, oldest at Head (a taking or a freeing is a load, a store and a step, no list to
 * link); Busy says which are out, so a double or stray free is refused and the ring never holds more than Capacity.
 * The ring has a power of two of slots (NVMeCidRingSize), at least Capacity, so a step is an AND with Mask rather
 * than a compare and a select (twice a command, make bench-model).
 */
typedef struct tag_NVME_CID_ALLOCATOR {
    U16* Free;      // NVMeCidRingSize(Capacity) entries: the ring of free indexes
    U8* Busy;       // Capacity entries
    U16 Capacity;
    U16 FreeCount;
    U16 Head;       // ring slot of the next index handed out
    U16 Tail;       // ring slot the next freed index goes to
    U16 Mask;       // ring slots - 1
} NVME_CID_ALLOCATOR;

// The allocator and the ring steps run once or twice per command: inline, a call would cost more than the body.

/** Slots of the free ring for Capacity indexes: the power of two at or above it. */
static inline U32 NVMeCidRingSize(U16 Capacity) {
    U32 Size = 1;
    while (Size < Capacity) Size <<= 1;
    return Size;
}
/** Free holds NVMeCidRingSize(Capacity) entries, Busy Capacity. */
void NVMeCidInit(NVME_CID_ALLOCATOR* Allocator, U16* Free, U8* Busy, U16 Capacity);
/** FALSE when every index is busy. */
static inline BOOL NVMeCidAllocate(NVME_CID_ALLOCATOR* Allocator, U16* Index) {
    if (UNLIKELY(Allocator->FreeCount == 0)) return FALSE;
    U16 Taken = Allocator->Free[Allocator->Head];
    Allocator->Head = (U16)((Allocator->Head + 1) & Allocator->Mask);
    Allocator->Busy[Taken] = 1;
    Allocator->FreeCount--;
    *Index = Taken;
    return TRUE;
}
/** FALSE (and no change) if Index is out of range or not busy. */
static inline BOOL NVMeCidFree(NVME_CID_ALLOCATOR* Allocator, U16 Index) {
    if (UNLIKELY(Index >= Allocator->Capacity || !Allocator->Busy[Index])) return FALSE;
    Allocator->Busy[Index] = 0;
    Allocator->Free[Allocator->Tail] = Index;
    Allocator->Tail = (U16)((Allocator->Tail + 1) & Allocator->Mask);
    Allocator->FreeCount++;
    return TRUE;
}
static inline BOOL NVMeCidIsBusy(const NVME_CID_ALLOCATOR* Allocator, U16 Index) {
    return Index < Allocator->Capacity && Allocator->Busy[Index] != 0;
}
static inline U16 NVMeCidCompose(U16 Index, U16 Generation) {
    return (U16)(((Generation & 0xF) << NVME_CID_INDEX_BITS) | (Index & NVME_CID_INDEX_MASK));
}
static inline U16 NVMeCidIndex(U16 Cid) { return (U16)(Cid & NVME_CID_INDEX_MASK); }

static inline U16 NVMeRingNext(U16 Index, U16 Depth) { return (U16)((U32)Index + 1 >= Depth ? 0 : Index + 1); }
/** Entries between Head and Tail. */
U16 NVMeRingUsed(U16 Head, U16 Tail, U16 Depth);
/** An SQ is full when one more entry would make Tail reach Head (depth - 1 usable). */
BOOL NVMeSqIsFull(U16 Head, U16 Tail, U16 Depth);
/** Moves a CQ head one entry, flipping the expected phase at the wrap. */
static inline void NVMeCqAdvance(U16* Head, U8* Phase, U16 Depth) {
    *Head = NVMeRingNext(*Head, Depth);
    if (*Head == 0) *Phase ^= 1;
}
/** Offset in BAR0 of queue Qid's SQ tail (Completion FALSE) or CQ head doorbell. */
U32 NVMeDoorbellOffset(U16 Qid, BOOL Completion, U8 Dstrd);

/************************************************************************/
// Shadow doorbells (pure part, NVMe-Doorbell.c)

/**
 * The event-index rule (NVMe 1.3 7.13; virtio's vring_need_event): moving a doorbell from Old to New needs the
 * MMIO write only when the controller asked to hear of it, i.e. EventIdx lies in [Old, New) (16-bit ring values).
 */
static inline BOOL NVMeDoorbellNeedEvent(U16 EventIdx, U16 New, U16 Old) {
    return (U16)(New - EventIdx - 1) < (U16)(New - Old);
}

/************************************************************************/
// Quirks (pure, NVMe-Quirks.c)

/** The quirks of a PCI vendor/device pair (entries without strings). */
U32 NVMeQuirksForDevice(U16 VendorId, U16 DeviceId);
/** The quirks of an Identify vendor, model and firmware (entries with strings). */
U32 NVMeQuirksForIdentity(U16 Vid, LPCSTR Model, LPCSTR Firmware);
/** How long to wait after clearing CC.EN before reading CSTS (NVME_QUIRK_DELAY_BEFORE_READY), in ms. */
U32 NVMeQuirkDelayMs(U32 Quirks);
/** "delay before ready, no Write Zeroes" ("none" when Quirks is 0). */
void NVMeQuirksFormat(U32 Quirks, LPSTR Buffer, SIZE Size);

/************************************************************************/
// APST (pure part, NVMe-Power.c)

#define NVME_APST_DEFAULT_MAX_LATENCY_US 100000  // Linux's default_ps_max_latency_us

/**
 * Linux's APST table (nvme_configure_apst) from the Identify Controller page: walking from the deepest state up,
 * each non-operational state whose exit latency is at most MaxLatencyUs becomes the idle target of every
 * shallower state, entered after 50 x (entry + exit latency) of idle time (in ms, rounded up). NoDeepest skips
 * state NPSS. Returns the deepest state used (-1: none fits, the table stays zero).
 */
I32 NVMeApstBuildTable(const U8* IdentifyData, U8 Npss, U32 MaxLatencyUs, BOOL NoDeepest,
                       U64 Table[NVME_APST_MAX_STATES]);

/************************************************************************/
// Namespace policy (pure, NVMe-Namespace.c)

/** TRUE when the driver can serve the namespace; otherwise Reason says why not. */
BOOL NVMeNamespaceUsable(const NVME_NAMESPACE_INFO* Info, U32 PageSize, LPSTR Reason, SIZE ReasonSize);

/************************************************************************/
// Retry policy (pure, NVMe-IO.c)

#define NVME_MAX_RETRIES 5          // a command failed with a retryable status is sent again at most this often
#define NVME_MAX_RESUBMITS 3        // ... and after a timeout (abort or reset) at most this often
/** TRUE when a failed command may be sent again: DNR clear and not an abort the host caused (Linux's rule). */
BOOL NVMeStatusRetryable(U16 NvmeStatus);
/** Delay before retry number Attempt (1-based): 10 ms doubling, 160 ms at most. */
U32 NVMeRetryDelayMs(U32 Attempt);

/************************************************************************/
// State machines (pure tables, NVMe-State.c)

// Tracker states (the legal transitions are a table: NVMe-State.c)
#define NVME_TRACKER_FREE 0
#define NVME_TRACKER_IN_FLIGHT 1
#define NVME_TRACKER_COMPLETING 2
#define NVME_TRACKER_RESERVED 3   // taken by a submitter, not yet in the SQ
#define NVME_TRACKER_HELD 4       // waiting for its queue to come back (a reset): posted again then
#define NVME_TRACKER_RETRY 5      // failed with a retryable status (or was aborted): posted again at RetryAtNs
#define NVME_TRACKER_STATE_COUNT 6

// Queue modes (the legal transitions are a table: NVMe-State.c)
#define NVME_QUEUE_LIVE 0       // doorbells allowed
#define NVME_QUEUE_SUSPENDED 1  // a reset is under way: commands are held, no doorbell is written
#define NVME_QUEUE_DEAD 2       // the controller failed or shut down: commands are refused
#define NVME_QUEUE_RECOVERING 3 // the admin queue while a reset rebuilds: only the reset's own commands go out
#define NVME_QUEUE_MODE_COUNT 4

typedef struct tag_NVME_STATE_MACHINE {
    LPCSTR Name;              // "controller", "queue", "tracker"
    U32 Count;                // states 0 .. Count - 1
    const LPCSTR* Names;
    const U8* Next;           // Next[From]: bit To set when From -> To is legal
} NVME_STATE_MACHINE;

extern const NVME_STATE_MACHINE NVMeControllerStates, NVMeQueueModes, NVMeTrackerStates;
extern const U8 NVMeTrackerNext[];  // NVMeTrackerStates' table, for the inline check on the hot path

BOOL NVMeStateLegal(const NVME_STATE_MACHINE* Machine, U32 From, U32 To);
LPCSTR NVMeStateName(const NVME_STATE_MACHINE* Machine, U32 State);

#ifdef NVME_WITH_PLATFORM

/************************************************************************/
// Driver structures

#define NVME_ADMIN_QUEUE_DEPTH 64
#define NVME_IO_QUEUE_DEPTH_MAX 1024
#define NVME_PRP_PAGES_PER_TRACKER 1    // 512 entries: 2 MiB per command whatever the buffer offset
#define NVME_BOUNCE_BYTES (128 * 1024)  // per I/O queue, for buffers that are not dword aligned
#define NVME_WAITER_POOL 16
#define NVME_SUBMIT_BATCH 32            // commands a split request or NVMeSubmitIOBatch posts per doorbell
#define NVME_ADMIN_TIMEOUT_MS 60000     // nvme.admin_timeout
#define NVME_IO_TIMEOUT_MS 30000        // nvme.io_timeout
#define NVME_WAIT_STEP_MS 250           // a waiter polls its queue itself after this long (missed interrupt)
#define NVME_POLL_SPIN_US 2000          // a waiter on a polled queue reaps without sleeping this long at most
#define NVME_POLL_SPINS 200000          // ... and this many looks (a clock that does not move cannot hold it)
#define NVME_FIRST_INTERRUPT_MS 200     // how long bring-up waits for the first interrupt
#define NVME_MAX_NAMESPACES 4096        // active namespaces the driver records
#define NVME_HEALTH_PERIOD_MS 1000      // the watchdog reads CSTS and checks deadlines this often
#define NVME_RESET_ATTEMPTS 3           // a controller that fails this many resets in a row is failed
#define NVME_MAX_AERS 8                 // Asynchronous Event Requests kept outstanding, at most
#define NVME_AER_RING 16                // events waiting for the watchdog to read their log page
#define NVME_SHUTDOWN_MIN_MS 5000       // RTD3E is clamped to 5..60 s: the whole poweroff hook's bound
#define NVME_SHUTDOWN_MAX_MS 60000
#define NVME_MAX_PARKED 8               // DMA regions kept from reuse until the controller is seen disabled
#define NVME_MAX_SAVED_FEATURES 16      // NVMeSetFeature values re-applied after a reset

// Controller->Stopping: shutdown or detach wants the controller; whoever holds ResetMutex lets go
#define NVME_STOP_NONE 0
#define NVME_STOP_ASKED 1     // self-timed waits, ready waits and reset attempts give up at their next step
#define NVME_STOP_OWNED 2     // the stopper holds ResetMutex: its own commands run normally

// Tracker flags
#define NVME_TRACKER_NO_DEADLINE 0x01  // Asynchronous Event Requests: outstanding until an event
#define NVME_TRACKER_NO_RETRY 0x02     // admin commands: a status is final
#define NVME_TRACKER_ABORT_SENT 0x04   // an Abort named this command
#define NVME_TRACKER_CANCEL 0x08       // never posted again: failed by a reset (AERs, Aborts, abandoned commands)
#define NVME_TRACKER_RECOVERY 0x10     // issued by the reset (or watchdog) thread: passes a RECOVERING queue
#define NVME_TRACKER_QUIET 0x20        // a probe: its failure is expected, not logged

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
    U8 Flags;            // NVME_TRACKER_* flags
    U8 Retries;          // sent again after a retryable status
    U8 Resubmits;        // sent again after a timeout (abort or reset)
    U32 Nsid;
    U64 Lba;
    U32 Blocks;
    U32 SubmitTick;      // the controller's watchdog tick when it was (last) posted
    KSTATUS Failure;     // set when the driver ends the command itself (timeout, failed controller)
    U64 RetryAtNs;
    NVME_TRACKER_DONE Done;    // runs in the bottom half, before the tracker is freed
    LPVOID Context;            // the caller's completion state (a request), used in place
    NVME_IO_CALLBACK Callback; // asynchronous callers
    NVME_COMPLETION Completion;
    NVME_PRP_POOL Prp;
    struct tag_NVME_TRACKER* NextDone;
    NVME_COMMAND Command;      // as submitted (CID included), for resubmission
} NVME_TRACKER;

/** The part of a queue that differs between interrupt-driven and polled completion. */
typedef struct tag_NVME_QUEUE_OPS {
    LPCSTR Name;
    /** After a doorbell: the polled variant wakes the poll thread (NULL: nothing to do). */
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
    BOOL CqLive;                // the controller holds its CQ: head doorbells mean something
    U8 Mode;                    // NVME_QUEUE_LIVE / SUSPENDED / DEAD (under Lock)
    const NVME_QUEUE_OPS* Ops;
    PLATFORM_LOCK* Lock;        // SQ tail, CQ head/phase, CID list, tracker states; short sections only
    PLATFORM_DMA SqMemory, CqMemory, PrpMemory, BounceMemory;
    volatile NVME_COMMAND* Sq;
    volatile NVME_COMPLETION* Cq;
    LINEAR SqDoorbell, CqDoorbell;
    U16 SqTail, SqHead;
    /**
     * The CQ head (bits 15:0) and the phase expected there (bit 16), one word: the reaper (under Lock) stores it
     * after the head doorbell, the top half loads it without the lock (NVMeQueueInterrupt says why that is safe).
     */
    U32 CqState;
    NVME_CID_ALLOCATOR Cids;
    NVME_TRACKER* Trackers;     // Depth - 1
    U16 TrackerCount;
    U16 Held;                   // trackers NVME_TRACKER_HELD
    U16 Retrying;               // trackers NVME_TRACKER_RETRY
    U16 Quiet;                  // in flight without a deadline (AERs): the poll thread need not hurry
    PLATFORM_EVENT* SlotEvent;  // a tracker was freed and someone waits for one
    U32 SlotWaiters;
    PLATFORM_WORK* Work;        // the bottom half
    PLATFORM_MUTEX* BounceMutex;
    U32 MessageIndex;           // interrupt vector number given to Create I/O CQ
    U32 TargetCpu;              // the CPU its vector is aimed at (NVMeControllerAssignVector)
    BOOL OwnVector;             // an I/O queue alone on an MSI-X vector: reaped in the top half, which claims all
    NVME_QUEUE_INFO Stats;      // counters, copied into the public view
} NVME_QUEUE;

/**
 * NVME_NAMESPACE (opaque in NVMe.h): one namespace as the driver met it, never freed (its DISK may be held by a
 * mount for ever). A namespace that goes away (detached, deleted, changed under us) is Exposed no more and its
 * disk is unregistered; if its NSID comes back, a new NVME_NAMESPACE (and a new DISK) serves it.
 */
struct tag_NVME_NAMESPACE {
    struct tag_NVME_CONTROLLER* Controller;
    NVME_NAMESPACE_INFO* Info;  // &InfoData
    NVME_NAMESPACE_INFO InfoData;
    U32 Nsid;
    U32 LbaSize;
    U64 Blocks;
    U32 MaxBlocks;              // per command
    BOOL Exposed;               // I/O allowed (cleared when it goes away)
    BOOL DiskRegistered;
    DISK Disk;
};

/**
 * The active namespaces, published whole (one pointer, under ViewLock): readers never see a count that does not
 * match the arrays. A rescan publishes a new table; old tables are kept (a view copy may still point at them).
 */
typedef struct tag_NVME_NAMESPACE_TABLE {
    U32 Count;
    struct tag_NVME_NAMESPACE** Namespaces;  // by NSID
    NVME_NAMESPACE_INFO* Infos;              // copies for the view, same order
    struct tag_NVME_NAMESPACE_TABLE* Older;
} NVME_NAMESPACE_TABLE;

/** A feature value set with NVMeSetFeature, put back after a reset (the controller forgets it). */
typedef struct tag_NVME_SAVED_FEATURE {
    U8 FeatureId;
    U32 Nsid;
    U32 Dword11;
} NVME_SAVED_FEATURE;

/**
 * The controller. Info is the master copy of the public view: NVMeGetController copies it out under ViewLock.
 * Its texts (and State with StateReason) change only under ViewLock (NVME_VIEW_SET_TEXT, NVMeViewSetError,
 * NVMeControllerSetState), its counters only with NVME_COUNT (an atomic add), other scalars by single stores.
 */
typedef struct tag_NVME_CONTROLLER {
    NVME_CONTROLLER_INFO Info;  // the public view's master copy
    PLATFORM_LOCK* ViewLock;    // texts and the state of Info, and copying it out
    PCI_DEVICE* Device;
    LINEAR Registers;
    U64 RegisterSize;
    PLATFORM_DMA IdentifyPage;  // Identify Controller, kept
    PLATFORM_DMA ScratchPage;   // admin data transfers, under AdminMutex
    PLATFORM_DMA EventPage;     // the ResetMutex holder's page (event logs, a reset's APST table), bring-up's before
    PLATFORM_DMA DbbufShadow, DbbufEventIdx;  // Doorbell Buffer Config's two pages (kept: the controller writes them)
    PLATFORM_MUTEX* AdminMutex;
    NVME_QUEUE Admin;
    NVME_QUEUE Io[NVME_MAX_IO_QUEUES];
    U32 IoCount;
    U32 IrqQueueCount;          // Io[0 .. IrqQueueCount) take interrupts; the rest (nvme.poll_queues) are polled
    U32 NextIoQueue;
    U32 WantedIoQueues;         // asked for at bring-up, asked for again after a reset
    PLATFORM_INTERRUPTS Interrupts;
    BOOL InterruptsActive;
    PLATFORM_EVENT* PollEvent;
    BOOL PollThreadStarted;
    PLATFORM_LOCK* WaiterLock;  // request completion state (NVMe-Request.c); taken after a queue lock, never before
    PLATFORM_EVENT* Waiters[NVME_WAITER_POOL];
    U32 WaiterFree;             // bit i: Waiters[i] is free
    // Namespaces (NVMe-Namespace.c)
    NVME_NAMESPACE_TABLE* Namespaces;  // published under ViewLock; never NULL after bring-up allocated it
    PLATFORM_MUTEX* NamespaceMutex;    // one scan at a time
    U32 RescanRequested;               // an event asked for a rescan (under ViewLock with RescanRunning)
    BOOL RescanRunning;
    // Bring-up (NVMe-BringUp.c) and life (NVMe-Core.c)
    U32 Quirks;                 // NVME_QUIRK_*
    U64 BringUpStartNs;
    U64 BringUpDeadlineNs;      // while probing: every wait ends by then (0 once bring-up is over)
    BOOL BringUpRunning;        // the bring-up thread has not finished
    BOOL Enabled;               // the driver programmed the admin queue and set EN (something to quiet on failure)
    U32 Stopping;               // NVME_STOP_*
    BOOL Removed;               // detached: BAR0 is never touched again (NVMeRead32 answers all ones)
    U32 ThreadsRunning;         // watchdog, poll and rescan threads not yet ended (detach waits for 0)
    PLATFORM_DMA Parked[NVME_MAX_PARKED];  // memory the controller may still write; freed once it is disabled
    U32 ParkedCount;            // under ViewLock
    // Features to put back after a reset (NVMe-Features.c, under ViewLock)
    NVME_SAVED_FEATURE SavedFeatures[NVME_MAX_SAVED_FEATURES];
    U32 SavedFeatureCount;
    U32 IoTimeoutMs, AdminTimeoutMs;  // nvme.io_timeout / nvme.admin_timeout (seconds on the command line)
    // Recovery (NVMe-Recovery.c)
    PLATFORM_MUTEX* ResetMutex;  // one reset, shutdown or watchdog pass at a time
    PLATFORM_EVENT* WatchEvent;  // wakes the watchdog (retries due, events, a health check wanted)
    BOOL WatchdogStarted;        // commands are supervised (deadlines, retries); before: waiters time out alone
    U32 Tick;                    // seconds of watchdog time (deadlines are counted in ticks)
    U32 CheckNow;                // a completion looked wrong: check CSTS at once
    U32 RetryPending;            // trackers wait in NVME_TRACKER_RETRY
    U32 ResetRequested;          // a thread that cannot wait asked for a reset (reason in ResetReason)
    BOOL BusResetHeld;           // ResetPrepare took ResetMutex; ResetDone resets the controller and lets go
    char ResetReason[NVME_REASON_LENGTH];  // under ViewLock
    BOOL MissedInterruptLogged;
    U64 TickBaseNs;              // when the watchdog's clock started (NVMe-Deadline.c)
    U32 InvalidLogged;           // state machines whose refused transition was logged (NVMe-State.c)
    // Health (NVMe-Health.c)
    PLATFORM_LOCK* EventLock;
    U32 AerLimit;                // AERs to keep outstanding
    U32 AerOutstanding;
    BOOL AerStopped;             // the controller answered "limit exceeded": stop re-arming
    U32 EventRing[NVME_AER_RING];  // completion dword 0 of AERs, for the watchdog
    U32 EventHead, EventTail;
} NVME_CONTROLLER;

/** A caller waiting for one or more commands (children of a split request). */
typedef struct tag_NVME_REQUEST {
    U32 Pending;               // children in flight, plus one while the submitter still adds children
    KSTATUS Status;            // first error
    U16 NvmeStatus;
    U32 Dw0;                   // completion dword 0 of the last child (admin results)
    PLATFORM_EVENT* Event;
    BOOL Quiet;                // a probe: failures are expected, do not log them
    BOOL SelfTimed;            // the waiter enforces TimeoutMs itself (bring-up, the watchdog's own commands)
    BOOL Abandoned;
} NVME_REQUEST;

/************************************************************************/
// NVMe-State.c

/** Refuses a transition its machine's table does not list: counted, logged once per controller; FALSE. */
BOOL NVMeStateRefused(NVME_CONTROLLER* Controller, const NVME_STATE_MACHINE* Machine, U32 From, U32 To);
/**
 * The one way a controller's state changes, with its reason (NULL: keep it, "": none) under the view lock;
 * FALSE (and no change) when the table refuses it.
 */
BOOL NVMeControllerSetState(NVME_CONTROLLER* Controller, U32 State, LPCSTR Reason);

/** The one way a tracker's state changes (under its queue's lock); FALSE when the table refuses it. */
static ALWAYS_INLINE BOOL NVMeTrackerMove(NVME_TRACKER* Tracker, U8 State) {
    U8 From = Tracker->State;
    if (UNLIKELY(From >= NVME_TRACKER_STATE_COUNT || !(NVMeTrackerNext[From] & (1U << State)))) {
        return NVMeStateRefused(Tracker->Queue->Controller, &NVMeTrackerStates, From, State);
    }
    Tracker->State = State;
    return TRUE;
}

/************************************************************************/
// NVMe-Queue.c, NVMe-Submit.c, NVMe-Reap.c: the queue engine

extern const NVME_QUEUE_OPS NVMeInterruptQueueOps;  // MSI-X and MSI
extern const NVME_QUEUE_OPS NVMeIntxQueueOps;
extern const NVME_QUEUE_OPS NVMePolledQueueOps;
extern const NVME_QUEUE_OPS NVMeWaiterPolledQueueOps;  // nvme.poll_queues: IEN=0, reaped by its waiters

/** Allocates rings and trackers (I/O queues also get the PRP pool and the bounce buffer). */
KSTATUS NVMeQueueAllocate(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U16 Id, U16 Depth, BOOL IoQueue);
void NVMeQueueFree(NVME_QUEUE* Queue);
/** Clears the rings (zeroed CQ, phase 1, tails and heads 0) and frees every tracker: a new queue only. */
void NVMeQueueReset(NVME_QUEUE* Queue);
/** Clears the rings but keeps the trackers (a reset: held commands are posted again later). */
void NVMeQueueRestartRings(NVME_QUEUE* Queue);
/** A free tracker, or NULL at once when none is (or the queue is dead): for callers that cannot sleep (AERs). */
NVME_TRACKER* NVMeQueueTakeTracker(NVME_QUEUE* Queue);
/** A free tracker, sleeping while none is (bounded); NULL when the queue is dead or stayed full. */
NVME_TRACKER* NVMeQueueWaitTracker(NVME_QUEUE* Queue);
/** Gives back a tracker that was never submitted. */
void NVMeQueuePutTracker(NVME_TRACKER* Tracker);
/**
 * Posts the command built in Tracker->Command (its CID filled in here) and rings the doorbell; while the queue
 * is suspended (a reset) the command is held and posted when the queue comes back. KSTATUS_IO_ERROR (and nothing
 * taken) when the queue is dead.
 */
KSTATUS NVMeQueueSubmit(NVME_TRACKER* Tracker);
/**
 * NVMeQueueSubmit for Count trackers of one queue, under one lock hold with one SQ tail doorbell. Dead queue:
 * KSTATUS_IO_ERROR and none is taken.
 */
KSTATUS NVMeQueueSubmitBatch(NVME_TRACKER* const* Trackers, U32 Count);
/** TRUE when a completion for Cid is posted in the CQ but not yet reaped (a missed interrupt, at a deadline). */
BOOL NVMeQueueCompletionPosted(NVME_QUEUE* Queue, U16 Cid);
/** Reaps every posted completion of an open queue (LIVE, RECOVERING); returns how many entries it took. */
U32 NVMeQueueReap(NVME_QUEUE* Queue);
/**
 * Reaps a SUSPENDED queue for the reset: what the controller posted is real, except "aborted due to SQ
 * deletion", which stays in flight for the reset to hold and send again.
 */
U32 NVMeQueueDrain(NVME_QUEUE* Queue);
/**
 * The one way a queue's mode changes (NVMe-State.c's table; FALSE when refused). Entering LIVE posts every held
 * command, RECOVERING the reset's own ones (CANCEL ones fail instead); entering DEAD fails everything the queue
 * holds with KSTATUS_IO_ERROR and wakes its slot sleepers.
 */
BOOL NVMeQueueSetMode(NVME_QUEUE* Queue, U8 Mode);
/** A reset: holds every command in flight for resubmission (within NVME_MAX_RESUBMITS); returns how many. */
U32 NVMeQueueHoldInFlight(NVME_QUEUE* Queue);
/** Posts trackers whose retry time came; returns the earliest time still waiting (0: none). */
U64 NVMeQueueRetryDue(NVME_QUEUE* Queue, U64 NowNs);
/** Runs the Done functions of a chain of trackers and frees them. */
void NVMeQueueFinish(NVME_QUEUE* Queue, NVME_TRACKER* First);
/** TRUE when the CQ entry at the published head is posted (the top half's unlocked look). */
BOOL NVMeQueuePosted(NVME_QUEUE* Queue);
/** The interrupt top half (Context is the queue). */
BOOL NVMeQueueInterrupt(LPVOID Context);
/** Switches the controller to polled completion (once) and says why. */
void NVMeControllerStartPolling(NVME_CONTROLLER* Controller, LPCSTR Reason);

/************************************************************************/
// NVMe-Doorbell.c: every doorbell write

/** A doorbell through the shadow buffer: the slot, then MMIO when EventIdx asks for it or AlwaysRing. */
void NVMeDoorbellShadowWrite(NVME_QUEUE* Queue, LINEAR Register, BOOL AlwaysRing, U16 Value);
/** Register alone (no shadow doorbells): inline, so MMIO doorbells cost no call on the hot path. */
static inline void NVMeDoorbellMmioWrite(NVME_QUEUE* Queue, LINEAR Register, U16 Value) {
    Queue->Stats.MmioDoorbells++;
    PlatformWrite32(Register, Value);
}
/** The SQ tail doorbell (under the queue lock, after PlatformWriteBarrier). The admin queue always rings. */
static inline void NVMeDoorbellWriteSq(NVME_QUEUE* Queue, U16 Tail) {
    if (UNLIKELY(__atomic_load_n(&Queue->Controller->Info.DbbufActive, __ATOMIC_RELAXED))) {
        NVMeDoorbellShadowWrite(Queue, Queue->SqDoorbell, Queue->Id == 0, Tail);
    } else {
        NVMeDoorbellMmioWrite(Queue, Queue->SqDoorbell, Tail);
    }
}
/** The CQ head doorbell (under the queue lock). Admin queue, or pin / MSI interrupts: always rings. */
static inline void NVMeDoorbellWriteCq(NVME_QUEUE* Queue, U16 Head) {
    NVME_CONTROLLER_INFO* Info = &Queue->Controller->Info;
    if (UNLIKELY(__atomic_load_n(&Info->DbbufActive, __ATOMIC_RELAXED))) {
        NVMeDoorbellShadowWrite(Queue, Queue->CqDoorbell, Queue->Id == 0 || Info->DbbufCqMmio, Head);
    } else {
        NVMeDoorbellMmioWrite(Queue, Queue->CqDoorbell, Head);
    }
}
/**
 * Doorbell Buffer Config per nvme.dbbuf, the offer (OACS bit 8) and the quirks; after Identify at bring-up and
 * after every reset's enable, before the I/O queues are created. The controller forgets it when it resets, so
 * this first turns shadow doorbells off. Only a timeout is an error (the controller stopped answering); a refusal
 * leaves MMIO doorbells.
 */
KSTATUS NVMeDoorbellConfigure(NVME_CONTROLLER* Controller);
/** Back to MMIO doorbells on every queue (the controller was disabled: it forgot the buffers). */
void NVMeDoorbellDetach(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Deadline.c: the one owner of time in the driver

/** A command the watchdog found past its deadline (copied under the lock: the tracker may end meanwhile). */
typedef struct tag_NVME_EXPIRED {
    NVME_QUEUE* Queue;
    U16 Index;
    U16 Cid;
} NVME_EXPIRED;

/** How long a wait for the device may last: TimeoutMs when self-timed or unsupervised, else only a backstop. */
U64 NVMeDeadlineLimitNs(NVME_CONTROLLER* Controller, U32 TimeoutMs, BOOL SelfTimed);
/**
 * One step of any wait on a queue: Event for NVME_WAIT_STEP_MS; when the step ends empty, the queue is reaped
 * by the waiter itself (a missed interrupt, or a poll thread that has not run yet: counted as ReapedByWaiter).
 * TRUE when Event fired.
 */
BOOL NVMeDeadlineWaitStep(NVME_QUEUE* Queue, PLATFORM_EVENT* Event);
/**
 * A waiter on a queue without interrupts (nvme.poll_queues) reaps it itself without sleeping until *Pending is 0,
 * for at most NVME_POLL_SPIN_US (and NVME_POLL_SPINS looks); what is still pending then is waited for in steps.
 */
void NVMeDeadlinePollWait(NVME_QUEUE* Queue, const U32* Pending);
/** Starts a posted command's deadline (under the queue lock). */
static inline void NVMeDeadlineStart(NVME_TRACKER* Tracker) {
    Tracker->SubmitTick = __atomic_load_n(&Tracker->Queue->Controller->Tick, __ATOMIC_RELAXED);
}
/** The watchdog's clock (whole NVME_HEALTH_PERIOD_MS periods): started before the watchdog, then each period. */
void NVMeDeadlineTick(NVME_CONTROLLER* Controller, U64 NowNs);
/**
 * The commands past their deadline, at most Max of them. Those whose completion is already in the CQ are missed
 * interrupts: counted, logged once per controller and reaped here, not returned. The rest need the ladder.
 */
U32 NVMeDeadlineExpired(NVME_CONTROLLER* Controller, NVME_EXPIRED* List, U32 Max);
/** TRUE if the command is still in flight; a copy of its tracker in *Copy. */
BOOL NVMeDeadlinePending(const NVME_EXPIRED* Entry, NVME_TRACKER* Copy);
/** An Abort is sent for it: marks it so and gives it a fresh deadline; FALSE if it ended meanwhile. */
BOOL NVMeDeadlineAbortSent(const NVME_EXPIRED* Entry);

/************************************************************************/
// NVMe-Request.c

/**
 * Splits a transfer of dword-aligned buffers into commands as NVMePlanCommand cuts them (MaxBlocks, what one
 * data pointer can say) and submits them all on Queue as children of Request (initialized here), without
 * waiting: the caller owns Request and must NVMeRequestWait and NVMeRequestRelease it (also after an error,
 * which stops the submission where it happened). Segments NULL: one Flush. (NVMe-IO.c)
 */
KSTATUS NVMeTransferStart(NVME_NAMESPACE* Namespace, NVME_QUEUE* Queue, U8 Opcode, U64 Lba, U32 Blocks,
                          const DISK_SEGMENT* Segments, U32 Count, NVME_REQUEST* Request);
void NVMeRequestInit(NVME_CONTROLLER* Controller, NVME_REQUEST* Request);
void NVMeRequestRelease(NVME_CONTROLLER* Controller, NVME_REQUEST* Request);
/** Tracker Done function for request children. */
void NVMeRequestChildDone(NVME_TRACKER* Tracker);
/** Prepares a tracker as a child of Request (Pending += 1). */
void NVMeRequestAddChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker);
/** Adds Tracker to Request and submits its command; on an error the tracker is given back and the child removed. */
KSTATUS NVMeRequestSubmitChild(NVME_REQUEST* Request, NVME_TRACKER* Tracker);
/** The same for Count trackers of one queue, with one doorbell (NVMeQueueSubmitBatch). */
KSTATUS NVMeRequestSubmitChildren(NVME_REQUEST* Request, NVME_TRACKER* const* Trackers, U32 Count);
/**
 * Drops the submitter's reference and waits for every child. Supervised commands (the watchdog runs and
 * the request is not SelfTimed) end by completion, retry limit, reset limit or controller failure; a
 * SelfTimed wait gives up after TimeoutMs and detaches the commands (KSTATUS_TIMEOUT).
 */
KSTATUS NVMeRequestWait(NVME_QUEUE* Queue, NVME_REQUEST* Request, U32 TimeoutMs);

/************************************************************************/
// NVMe-Admin.c

/** A controller that takes admin commands (ready, admin-only or resetting), or NULL. */
NVME_CONTROLLER* NVMeAdminController(U32 Index);
/** Runs one admin command to completion; *Dw0 (if not NULL) gets completion dword 0. Quiet: do not log failure. */
KSTATUS NVMeAdminCommand(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, U32* Dw0, U16* NvmeStatus);
/** The same, the caller's thread enforcing TimeoutMs (bring-up, the watchdog, a reset, shutdown). */
KSTATUS NVMeAdminCommandTimed(NVME_CONTROLLER* Controller, NVME_COMMAND* Command, BOOL Quiet, U32 TimeoutMs,
                              U32* Dw0, U16* NvmeStatus);
KSTATUS NVMeAdminIdentify(NVME_CONTROLLER* Controller, U8 Cns, U32 Nsid, PHYSICAL Page, BOOL Quiet);
/** Set Features Number of Queues; *Granted receives min(NSQA, NCQA) + 1. */
KSTATUS NVMeAdminSetQueueCount(NVME_CONTROLLER* Controller, U32 Wanted, U32* Granted);
/**
 * Create I/O CQ, then SQ. On a failure *MayExist says whether the controller may still hold either (a timeout, or
 * a failed clean-up): the rings must then not be freed or reused before the controller is disabled.
 */
KSTATUS NVMeAdminCreateQueuePair(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL InterruptsEnabled,
                                 BOOL* MayExist);
/** Deletes the SQ (DeleteCq FALSE) or the CQ of Queue, waiting at most TimeoutMs. */
KSTATUS NVMeAdminDeleteQueue(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, BOOL DeleteCq, U32 TimeoutMs);

/************************************************************************/
// NVMe-Namespace.c

/**
 * Reads the active namespace list (CNS 02h page by page, or probes 1..NN) and identifies each namespace: new
 * ones are added (exposed when usable and the controller has I/O queues), gone or changed ones stop being
 * exposed and lose their disk. Bring-up calls it first (then a timeout fails the bring-up); rescans after events
 * and attach/detach later (supervised). KSTATUS_TIMEOUT when the controller stopped answering.
 */
KSTATUS NVMeNamespaceScan(NVME_CONTROLLER* Controller);
/** Registers a DISK for every exposed namespace that has none yet. */
void NVMeNamespaceRegisterDisks(NVME_CONTROLLER* Controller);
/** A rescan in its own thread (the watchdog cannot wait for supervised commands); a second request reruns it. */
void NVMeNamespaceRequestRescan(NVME_CONTROLLER* Controller);
/** Unregisters every disk of the controller (detach, failure of a live one): their requests fail from now on. */
void NVMeNamespaceDropDisks(NVME_CONTROLLER* Controller, LPCSTR Reason);
/** The current table (acquire). */
NVME_NAMESPACE_TABLE* NVMeNamespaceTable(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Core.c

/** The one way a controller counter changes (any thread, any context). */
#define NVME_COUNT(Counter, Amount) __atomic_add_fetch(&(Counter), (Amount), __ATOMIC_RELAXED)
/** Replaces one of the view's texts whole, under the view lock: a copy of the view never holds half a line. */
void NVMeViewSetText(NVME_CONTROLLER* Controller, LPSTR Field, SIZE Size, LPCSTR Text);
#define NVME_VIEW_SET_TEXT(Controller, Field, Text) \
    NVMeViewSetText((Controller), (Controller)->Info.Field, sizeof((Controller)->Info.Field), (Text))
/** Records a failed command's status in the view (LastErrorStatus and its name in LastError, together). */
void NVMeViewSetError(NVME_CONTROLLER* Controller, U16 NvmeStatus);

/** BAR0 registers; once the controller is Removed, reads answer all ones and writes go nowhere. */
U32 NVMeRead32(NVME_CONTROLLER* Controller, U32 Offset);
void NVMeWrite32(NVME_CONTROLLER* Controller, U32 Offset, U32 Value);
/**
 * Keeps a DMA region the controller may still write (a timed-out command's page, the rings of a queue whose
 * creation or deletion failed) from being freed or reused until the controller is seen disabled; *Region is
 * emptied. With no room left the region is forgotten (never freed).
 */
void NVMeDmaPark(NVME_CONTROLLER* Controller, PLATFORM_DMA* Region);
/** CC.EN=0 and RDY=0 were seen: nothing parked can be written any more, so it goes (or refills a lost page). */
void NVMeDmaReleaseParked(NVME_CONTROLLER* Controller);
/** A given-up command named Page: if it is the scratch or event page, a fresh page replaces it, the old is parked. */
void NVMeDmaRetirePage(NVME_CONTROLLER* Controller, PHYSICAL Page);
/** TRUE while shutdown or detach asks the holder of ResetMutex to let go (NVME_STOP_ASKED). */
static inline BOOL NVMeStopAsked(NVME_CONTROLLER* Controller) {
    return __atomic_load_n(&Controller->Stopping, __ATOMIC_ACQUIRE) == NVME_STOP_ASKED;
}
/** A thread of the controller's (watchdog, poll, rescan) starts / ends: detach waits for them all. */
BOOL NVMeThreadStart(NVME_CONTROLLER* Controller, LPCSTR Suffix, PLATFORM_FUNCTION Function);
void NVMeThreadEnd(NVME_CONTROLLER* Controller);
NVME_CONTROLLER* NVMeGetControllerInternal(U32 Index);
/** The admin queue and the I/O queues in use, in that order: the one list every walk over the queues uses. */
U32 NVMeControllerQueues(NVME_CONTROLLER* Controller, NVME_QUEUE** Queues);
/** Clears CC.EN (and SHN) and waits for RDY=0, bounded by CAP.TO. */
KSTATUS NVMeControllerDisable(NVME_CONTROLLER* Controller);
/** Programs AQA/ASQ/ACQ and CC from the admin queue, sets EN and waits for RDY=1, bounded by CAP.TO. */
KSTATUS NVMeControllerEnable(NVME_CONTROLLER* Controller);
/** Waits (sleeping between reads) until CSTS.RDY equals Ready, bounded by CAP.TO (and bring-up's bound). */
KSTATUS NVMeControllerWaitReady(NVME_CONTROLLER* Controller, BOOL Ready);
/** Records why a step failed in StateReason; returns Status. */
KSTATUS NVMeControllerFail(NVME_CONTROLLER* Controller, KSTATUS Status, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
/**
 * The vector queue Index (0 = admin) uses and its completion variant; an I/O queue alone on an MSI-X vector
 * (OwnVector) has it aimed at CPU (Index - 1) modulo the CPUs, the first CPU whose submissions it takes.
 */
void NVMeControllerAssignVector(NVME_CONTROLLER* Controller, NVME_QUEUE* Queue, U32 Index);

/************************************************************************/
// NVMe-BringUp.c

/** Brings the controller up on its own thread (Attach returns at once). */
void NVMeBringUpStart(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Power.c

/** Applies the APST policy (bring-up and after every reset; self-timed: the caller supervises). */
void NVMePowerApply(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Recovery.c

/** Starts the controller's watchdog thread (deadlines, retries, health, events); once bring-up is done. */
void NVMeRecoveryStart(NVME_CONTROLLER* Controller);
/** Wakes the watchdog (a retry is due, an event arrived, CheckNow was set). */
void NVMeRecoveryKick(NVME_CONTROLLER* Controller);
/** Marks the controller failed: every command fails with KSTATUS_IO_ERROR from now on; one log line. */
void NVMeRecoveryFail(NVME_CONTROLLER* Controller, LPCSTR Reason);
/** The poweroff/reboot hook (registered at bring-up). */
void NVMeRecoveryShutdown(BOOL Reboot, LPVOID Context);
/** Tells the watchdog to reset the controller at its next pass (from a thread that cannot wait). */
void NVMeRecoveryRequestReset(NVME_CONTROLLER* Controller, LPCSTR Reason);
/** PCI_DRIVER.ResetPrepare: the function's bus is about to be reset; nothing touches the controller until... */
void NVMeResetPrepare(PCI_DEVICE* Device);
/** ...PCI_DRIVER.ResetDone: its configuration is back (or it is gone): reset it, post again what it held. */
void NVMeResetDone(PCI_DEVICE* Device);

/************************************************************************/
// NVMe-Features.c

/** Puts back the features NVMeSetFeature set (after a reset; self-timed). */
void NVMeFeaturesReapply(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-Health.c

/** Enables asynchronous events (Set Features 0Bh) and arms AERs up to the limit; after bring-up and resets. */
void NVMeHealthStart(NVME_CONTROLLER* Controller);
/** Tops the outstanding AERs up to the limit. */
void NVMeHealthArmEvents(NVME_CONTROLLER* Controller);
/** The watchdog's part: reads the log page of each event that arrived, logs it, re-arms. */
void NVMeHealthProcessEvents(NVME_CONTROLLER* Controller);

/************************************************************************/
// NVMe-IO.c

/** The I/O queue a new command goes to (an interrupt-driven one); inline: every command asks, lock-free. */
static inline NVME_QUEUE* NVMeIoPickQueue(NVME_CONTROLLER* Controller) {
    // The submitting CPU's pair (CPUs beyond the queues share them by index), so CPUs do not meet on one queue
    // lock. More queues than CPUs (nvme.queues): spread round robin. IoCount is read once: a reset may lower it
    // meanwhile (a queue it dropped is dead and refuses the command), and it is 0 on an admin-only controller.
    U32 Count = MIN(__atomic_load_n(&Controller->IrqQueueCount, __ATOMIC_RELAXED),
                    __atomic_load_n(&Controller->IoCount, __ATOMIC_RELAXED));
    if (LIKELY(Count == 1)) return &Controller->Io[0];
    if (UNLIKELY(Count == 0)) return NULL;
    U32 Cpus = PlatformCpuCount();
    if (LIKELY(Count <= Cpus)) return &Controller->Io[PlatformCurrentCpu() % Count];
    U32 Next = __atomic_fetch_add(&Controller->NextIoQueue, 1, __ATOMIC_RELAXED);
    return &Controller->Io[Next % Count];
}
/** The calling CPU's polled queue (nvme.poll_queues) for a synchronous single command, or NULL when none. */
NVME_QUEUE* NVMeIoPickPollQueue(NVME_CONTROLLER* Controller);
/** Checks a request against the namespace (exposed, in range, buffer given) and the controller's state. */
static inline KSTATUS NVMeIoCheckRange(NVME_NAMESPACE* Namespace, U64 Lba, U64 Blocks, LPCVOID Buffer) {
    if (UNLIKELY(Namespace == NULL || Buffer == NULL || Blocks == 0)) return KSTATUS_BAD_PARAMETER;
    // A namespace not served (never exposed, or gone: detached, removed) has no blocks, so the range check
    // refuses it too; only then is it told apart from a bad range.
    if (UNLIKELY(Lba >= Namespace->Blocks || Blocks > Namespace->Blocks - Lba)) {
        return Namespace->Exposed ? KSTATUS_BAD_PARAMETER : KSTATUS_IO_ERROR;
    }
    U32 State = Namespace->Controller->Info.State;
    if (LIKELY((1U << State) & ((1U << NVME_STATE_READY) | (1U << NVME_STATE_RESETTING)))) {
        return KSTATUS_SUCCESS;  // a reset holds the commands
    }
    return State == NVME_STATE_ADMIN_ONLY ? KSTATUS_NOT_SUPPORTED : KSTATUS_IO_ERROR;
}
/** Sets Info.SglMode from nvme.sgl and Identify SGLS (bring-up, after Identify Controller; NVMe-SGL.c). */
void NVMeSglConfigure(NVME_CONTROLLER* Controller);
/** The error a caller gets when no tracker could be had (failed controller, or a queue that stayed full). */
KSTATUS NVMeIoNoTracker(NVME_CONTROLLER* Controller);
/** Logs a failed command (rate limited) and records it on the controller. */
void NVMeReportError(NVME_CONTROLLER* Controller, const NVME_TRACKER* Tracker, U16 NvmeStatus);
/** Logs a command the driver itself ended (timeout after resubmissions, failed controller), rate limited. */
void NVMeReportDriverFailure(NVME_CONTROLLER* Controller, const NVME_TRACKER* Tracker);
LPCSTR NVMeOpcodeName(BOOL Admin, U8 Opcode);

/************************************************************************/
// NVMe-Disk.c

/** Registers Namespace's DISK (once); FALSE when the disk layer refused it (the namespace is then not exposed). */
BOOL NVMeDiskRegister(NVME_NAMESPACE* Namespace);

#endif  // NVME_WITH_PLATFORM

#endif  // STORAGE_NVME_INTERNAL_H_INCLUDED

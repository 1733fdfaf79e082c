/*
 * NVMeModel.h - a host-side NVMe controller model for driver tests.
 *
 * The model is a PCI function (1b36:0010, class 010802, like QEMU's) with a
 * configuration space served through a PCI_SEGMENT ops table, a BAR0 of
 * registers, doorbells and the MSI-X table and PBA, admin and NVM I/O
 * commands over DMA through a MEMORY_BUS, namespaces stored on
 * DISK_BACKENDs, and INTx, MSI and MSI-X interrupts delivered through
 * HostPlatform. What it emulates, and its limits, are listed in
 * documentation/NVMe-Model.md.
 *
 * Three things make it a test instrument rather than a device:
 *  - The conformance checker: every register access and every command is
 *    checked against the NVMe rules a host must follow (NVME_RULE). A
 *    violation is reported to the handler with the rule's name and the
 *    values involved, and recorded; a test either takes the violations it
 *    provoked on purpose (NVMeModelTakeViolation) or fails.
 *  - Fault injection: seeded and deterministic; per-command faults
 *    (NVME_MODEL_FAULT: error status, lost completion, held-back
 *    completion, skipped interrupt) matched by queue, opcode, LBA and
 *    ordinal, and controller faults (RDY late or never, CFS after N I/O
 *    commands, a shutdown that never completes).
 *  - Processing modes: INLINE (a doorbell write processes the new commands
 *    before it returns: deterministic, single-threaded), STEP (nothing
 *    happens until the test calls NVMeModelStep: a test can look between
 *    submission and completion), THREAD (a model thread processes, as
 *    hardware would, to shake out driver races).
 *
 * Threading: one mutex guards the model; MMIO, configuration accesses,
 * the model thread and timers take it. The model never calls a driver
 * function: interrupts are posted to HostPlatform, which runs handlers on
 * its own thread, so a driver may hold its locks across a doorbell write.
 * Violation handlers run with the model locked and must not call the model.
 */

#ifndef TESTS_MODEL_NVMEMODEL_H_INCLUDED
#define TESTS_MODEL_NVMEMODEL_H_INCLUDED

#include "Base.h"
#include "DiskBackend.h"
#include "MemoryBus.h"
#include "NVMeModelSpec.h"
#include "bus/pci/PCI.h"

typedef struct tag_NVME_MODEL NVME_MODEL;

/************************************************************************/
// Configuration

#define NVME_MODEL_MAX_NAMESPACES 16
#define NVME_MODEL_MAX_IO_QUEUES 64
#define NVME_MODEL_MAX_LBA_FORMATS 16
#define NVME_MODEL_MAX_MSIX 65

typedef enum {
    NVME_MODEL_INLINE = 0,
    NVME_MODEL_STEP = 1,
    NVME_MODEL_THREAD = 2,
} NVME_MODEL_MODE;

/** How the controller keeps the EventIdx buffer (Doorbell Buffer Config, OACS bit 8: NVMeModel-Dbbuf.c). */
typedef enum {
    NVME_MODEL_EVENTIDX_EAGER = 0,  // after every look at a shadow slot: EventIdx = what it read (MMIO on each move)
    NVME_MODEL_EVENTIDX_QEMU = 1,   // QEMU 7.2: SQ as eager; CQ EventIdx = the head known *before* reading the slot
    NVME_MODEL_EVENTIDX_LAZY = 2,   // adversarial: random stale or early values while busy, exact only before idling
} NVME_MODEL_EVENTIDX_MODE;

typedef enum {
    NVME_ABORT_NOT_ABORTED = 0,  // QEMU: success with DW0 bit 0 set ("not aborted")
    NVME_ABORT_SUCCEEDS = 1,     // a lost or held command is completed "Command Abort Requested"
    NVME_ABORT_FAILS = 2,        // the Abort itself completes with AbortFailStatus
    NVME_ABORT_COMPLETES_FIRST = 3,  // the command completes (normally) just before the Abort, answered "not aborted"
} NVME_MODEL_ABORT_MODE;

typedef struct tag_NVME_MODEL_LBA_FORMAT {
    U16 MetadataSize;  // MS
    U8 DataShift;      // LBADS (9 = 512 bytes, 12 = 4096)
    U8 Performance;    // RP
} NVME_MODEL_LBA_FORMAT;

typedef struct tag_NVME_MODEL_NAMESPACE {
    U32 Nsid;                // 1..NumberOfNamespaces
    U64 Blocks;              // NSZE = NCAP = NUSE
    U8 FormatCount;          // NLBAF + 1
    U8 CurrentFormat;        // FLBAS 3:0
    BOOL ExtendedMetadata;   // FLBAS bit 4: metadata inline with the data
    NVME_MODEL_LBA_FORMAT Formats[NVME_MODEL_MAX_LBA_FORMATS];
    DISK_BACKEND* Backend;   // NULL: a sparse memory backend is made (and destroyed with the model)
    BOOL Detached;           // allocated in the subsystem but not attached to this controller (QEMU detached=true)
} NVME_MODEL_NAMESPACE;

typedef struct tag_NVME_MODEL_CONFIG {
    // CAP and VS
    U16 Mqes;              // 0-based maximum queue entries
    BOOL MqesReadsZero;    // CAP.MQES reads 0 all the same (Samsung PM1725: it takes Mqes + 1 entries)
    BOOL Cqr;              // contiguous queues required
    U8 Timeout;            // CAP.TO, 500 ms units
    U8 Dstrd;              // doorbell stride 4 << Dstrd bytes
    U8 MpsMin, MpsMax;     // page size 4 KiB << value
    BOOL Nssrs;
    U32 Version;           // VS
    // Timing (milliseconds of platform time)
    U32 ReadyDelayMs;      // RDY rises this long after EN 0->1
    U32 DisableDelayMs;    // RDY falls this long after EN 1->0
    U32 ShutdownDelayMs;   // SHST complete this long after CC.SHN
    // PCI
    U16 VendorId, DeviceId, SubsystemVendorId, SubsystemId;
    U8 Revision;
    U16 PciSegment;
    U8 Bus, Device, Function;
    PHYSICAL Bar0;         // as firmware programmed it
    BOOL Msix;             // MSI-X capability present
    U32 MsixVectors;       // table entries (1..65)
    BOOL MsixInBar4;       // table and PBA in a 16 KiB 64-bit BAR4 (table at 0, PBA at 8 KiB), not in BAR0
    BOOL Msi;              // MSI capability present (QEMU has none)
    U8 InterruptPin;       // 0: no INTx; 1 = INTA
    U8 InterruptLine;      // what firmware wrote (a GSI for HostPlatform)
    // Identify Controller
    char ModelNumber[41];
    char SerialNumber[21];
    char FirmwareRevision[9];
    U8 Mdts;               // 2^Mdts minimum pages; 0 = no limit
    U32 NumberOfNamespaces;  // NN
    U32 Sgls;
    U16 Oncs;
    U16 Oacs;              // bit 8: Doorbell Buffer Config (shadow doorbells) offered
    NVME_MODEL_EVENTIDX_MODE EventIdxMode;
    U8 Vwc;
    U8 Aerl, Acl, Lpa, Elpe, Frmw;
    U16 Wctemp, Cctemp;    // Kelvin
    BOOL Apst;             // APSTA 1, NPSS 3: PS1 operational, PS2 non-operational (2 + 2 ms), PS3 (10 + 40 ms);
                           // Set/Get Features 0Ch keep the table (NVMeModelGetApst)
    U8 Sqes, Cqes;         // (max << 4) | min, log2
    // Queues
    U16 MaxIoQueues;       // I/O queue pairs the controller can give (<= 64)
    BOOL GrantRequested;   // Number of Queues grants min(requested, max); FALSE: always max (QEMU)
    // Namespaces
    U32 NamespaceCount;
    NVME_MODEL_NAMESPACE Namespaces[NVME_MODEL_MAX_NAMESPACES];
    U32 PhantomFirst, PhantomCount;  // NSIDs First.. also listed active (CNS 02h), their Identify all zeros (size 0)
    // Behaviour
    NVME_MODEL_MODE Mode;
    NVME_MODEL_ABORT_MODE AbortMode;
    U16 AbortFailStatus;   // status field for NVME_ABORT_FAILS
    BOOL QemuStrictStart;  // EN 0->1 needs IOSQES=6 and IOCQES=4 (QEMU refuses otherwise)
    MEMORY_BUS* MemoryBus; // NULL: HostPlatformMemoryBus()
    U64 Seed;              // for probabilistic faults
} NVME_MODEL_CONFIG;

typedef enum {
    NVME_PRESET_QEMU = 0,              // the defaults: QEMU 7.2 with one 512-byte namespace
    NVME_PRESET_MQES_1,                // queues of at most 2 entries
    NVME_PRESET_DSTRD_1,               // 8-byte doorbell stride
    NVME_PRESET_DSTRD_2,               // 16-byte doorbell stride
    NVME_PRESET_MPSMIN_8K,             // the smallest page the controller takes is 8 KiB
    NVME_PRESET_SPARSE_NAMESPACES,     // NN 1024, active 1, 7, 300, 1024
    NVME_PRESET_NAMESPACE_FORMATS,     // NSID 1: 512 B, 2: 4096 B, 3: 512 B + 8 B metadata, 4: 4096 + 64 extended
    NVME_PRESET_IDENTIFY_ZEROS,        // every optional Identify field 0, NN 0: nothing to use
    NVME_PRESET_IDENTIFY_NONSENSE,     // MDTS 1, an LBA data size of 2^30, empty strings
    NVME_PRESET_NO_MSIX,               // MSI and INTx only
    NVME_PRESET_INTX_ONLY,             // no message interrupts at all
} NVME_MODEL_PRESET;

void NVMeModelDefaultConfig(NVME_MODEL_CONFIG* Config);
void NVMeModelApplyPreset(NVME_MODEL_CONFIG* Config, NVME_MODEL_PRESET Preset);
/** Adds a namespace of Blocks blocks of 2^DataShift bytes (one LBA format). FALSE if full. */
BOOL NVMeModelAddNamespace(NVME_MODEL_CONFIG* Config, U32 Nsid, U64 Blocks, U8 DataShift, U16 MetadataSize);

NVME_MODEL* NVMeModelCreate(const NVME_MODEL_CONFIG* Config);
/** Stops the model thread, unregisters from HostPlatform, frees owned backends. */
void NVMeModelDestroy(NVME_MODEL* Model);

/************************************************************************/
// BAR0 and PCI

/** A BAR0 access of Size 1, 2, 4 or 8 bytes at Offset (what the CPU would issue). */
U64 NVMeModelRead(NVME_MODEL* Model, U32 Offset, U32 Size);
void NVMeModelWrite(NVME_MODEL* Model, U32 Offset, U32 Size, U64 Value);
U32 NVMeModelRead32(NVME_MODEL* Model, U32 Offset);
void NVMeModelWrite32(NVME_MODEL* Model, U32 Offset, U32 Value);
/** Doorbell offset of queue Qid (tail for SQ, head for CQ), with the configured stride. */
U32 NVMeModelDoorbell(const NVME_MODEL* Model, U16 Qid, BOOL Completion);

/** The one-function segment the model's configuration space answers on. */
PCI_SEGMENT* NVMeModelSegment(NVME_MODEL* Model);
/** Adds the segment to the host PCI list (PCIAddSegment) and returns the model's PCI_DEVICE. */
PCI_DEVICE* NVMeModelAttachPCI(NVME_MODEL* Model);
PHYSICAL NVMeModelBar0(NVME_MODEL* Model);
U64 NVMeModelBar0Size(const NVME_MODEL* Model);
U32 NVMeModelConfigRead32(NVME_MODEL* Model, U16 Offset);
void NVMeModelConfigWrite32(NVME_MODEL* Model, U16 Offset, U32 Value);
/** Offsets of the capabilities in configuration space (0 when absent). */
U8 NVMeModelCapabilityOffset(const NVME_MODEL* Model, U8 CapabilityId);
/** The MSI-X table and PBA memory (what PCIMSIXMap hands the driver). */
LPVOID NVMeModelMsixTable(NVME_MODEL* Model);
LPVOID NVMeModelMsixPba(NVME_MODEL* Model);
/** Plain memory behind BAR0 [Offset, Offset + Size) when it lies in the MSI-X table or PBA, else NULL. */
LPVOID NVMeModelDirect(NVME_MODEL* Model, U64 Offset, U64 Size);
/** Sends the MSI-X messages that became deliverable (entries unmasked through Direct memory). */
void NVMeModelSyncMessages(NVME_MODEL* Model);

/**
 * Behind a bridge (the VMD model): what leaves the function goes to its upstream port instead of to
 * HostPlatform. The callbacks run with the model locked and must not call back into it.
 */
typedef struct tag_NVME_MODEL_UPSTREAM {
    /** An MSI or MSI-X message write. */
    void (*Message)(LPVOID Context, U64 Address, U32 Data);
    /** The INTx level of the function. */
    void (*Intx)(LPVOID Context, BOOL Asserted);
    /** Whether the function's DMA reaches memory (every bridge above is a bus master); FALSE fails it. */
    BOOL (*DmaAllowed)(LPVOID Context);
} NVME_MODEL_UPSTREAM;

/**
 * Plugs the model in below a port: BAR0 is no longer decoded by HostPlatform (the upstream routes memory
 * accesses to NVMeModelRead/Write and NVMeModelDirect), messages, INTx and DMA go through Upstream.
 */
void NVMeModelSetUpstream(NVME_MODEL* Model, const NVME_MODEL_UPSTREAM* Upstream, LPVOID Context);
/**
 * A conventional reset (the secondary bus reset of the port above, PCIe 6.0 6.6.1): the controller as at
 * power-on (CC, CSTS, AQA/ASQ/ACQ 0, every queue and command gone) and configuration space at its defaults:
 * command 0, BAR0 0, MSI/MSI-X off, every MSI-X entry masked, nothing pending. The namespaces keep their data.
 */
void NVMeModelPciReset(NVME_MODEL* Model);

/************************************************************************/
// Processing

NVME_MODEL_MODE NVMeModelMode(const NVME_MODEL* Model);
/** STEP mode: processes up to MaxCommands commands (round robin over the SQs); returns how many. */
U32 NVMeModelStep(NVME_MODEL* Model, U32 MaxCommands);
/** Any mode: processes everything pending now. */
U32 NVMeModelRunUntilIdle(NVME_MODEL* Model);
/** THREAD mode: waits (real time) until the model thread has nothing left. */
BOOL NVMeModelWaitIdle(NVME_MODEL* Model, U32 RealTimeoutMs);
/** Posts every held-back completion now; returns how many. */
U32 NVMeModelReleaseHeld(NVME_MODEL* Model);

/************************************************************************/
// Fault injection

#define NVME_MODEL_ANY_QUEUE 0xFFFFU
#define NVME_MODEL_IO_QUEUES 0xFFFEU
#define NVME_MODEL_ANY_OPCODE 0xFFFFU

typedef struct tag_NVME_MODEL_MATCH {
    U16 QueueId;     // a QID, NVME_MODEL_ANY_QUEUE or NVME_MODEL_IO_QUEUES
    U16 Opcode;      // an opcode of that queue's set, or NVME_MODEL_ANY_OPCODE
    U64 LbaFirst;    // I/O commands touching [LbaFirst, LbaLast]; LbaLast 0: any LBA
    U64 LbaLast;
    U32 Nth;         // the Nth matching command (1-based); 0: every matching command
    U32 Count;       // at most this many firings (0: no limit)
    U32 PerMille;    // instead of Nth: fire with this probability (seeded)
    U32 From;        // instead of Nth: the From-th matching command and every one after (a device that goes mute)
} NVME_MODEL_MATCH;

typedef enum {
    NVME_FAULT_ERROR_STATUS = 1,     // not executed; completes with Status (DNR as given)
    NVME_FAULT_DROP_COMPLETION = 2,  // executed, completion never posted (an Abort may recover it)
    NVME_FAULT_HOLD_COMPLETION = 3,  // executed, completion posted after HoldCompletions later ones or HoldMs
    NVME_FAULT_SKIP_INTERRUPT = 4,   // the interrupt for a posting is not raised (QueueId = the CQ)
} NVME_MODEL_FAULT_KIND;

typedef struct tag_NVME_MODEL_FAULT {
    NVME_MODEL_FAULT_KIND Kind;
    NVME_MODEL_MATCH Match;
    U16 Status;             // ERROR_STATUS: NM_STATUS(Sct, Sc), optionally | NM_STATUS_DNR
    U32 HoldCompletions;    // HOLD: post after this many later completions on the same CQ...
    U32 HoldMs;             // ...or after this long (0: only the count)
} NVME_MODEL_FAULT;

typedef struct tag_NVME_MODEL_CONTROLLER_FAULTS {
    BOOL ReadyNever;            // RDY never rises after EN 0->1
    U32 ReadyDelayMs;           // non-zero: overrides the configured delay
    BOOL ShutdownNever;         // SHST stays "occurring"
    U32 FatalAfterIoCommands;   // CSTS.CFS after this many I/O commands (0: never)
    U32 FatalAfterAdminCommands;  // CSTS.CFS after this many admin commands since the last enable (0: never)
} NVME_MODEL_CONTROLLER_FAULTS;

/** Returns the fault's id (>= 1), 0 if the table is full. */
U32 NVMeModelAddFault(NVME_MODEL* Model, const NVME_MODEL_FAULT* Fault);
/** How many times fault Id fired. */
U32 NVMeModelFaultHits(NVME_MODEL* Model, U32 Id);
void NVMeModelClearFaults(NVME_MODEL* Model);
void NVMeModelSetControllerFaults(NVME_MODEL* Model, const NVME_MODEL_CONTROLLER_FAULTS* Faults);
/** Sets CSTS.CFS now (the controller stops processing until reset). */
void NVMeModelRaiseFatal(NVME_MODEL* Model);

/************************************************************************/
// Events and health

/** Completes an outstanding AER (or queues the event); FALSE if masked by Async Event Config. */
BOOL NVMeModelRaiseAsyncEvent(NVME_MODEL* Model, U8 Type, U8 Info, U8 LogPage);
void NVMeModelSetSmart(NVME_MODEL* Model, U8 CriticalWarning, U16 TemperatureKelvin);

/************************************************************************/
// Conformance

typedef enum {
    NVME_RULE_NONE = 0,
    // Registers
    NVME_RULE_REG_ACCESS_WIDTH,
    NVME_RULE_REG_MISALIGNED,
    NVME_RULE_REG64_SPLIT_ORDER,
    NVME_RULE_REG_READ_ONLY,
    NVME_RULE_REG_INVALID_OFFSET,
    NVME_RULE_DOORBELL_READ,
    NVME_RULE_INTMASK_WITH_MSIX,
    NVME_RULE_NSSR_UNSUPPORTED,
    NVME_RULE_MMIO_DECODE_DISABLED,
    NVME_RULE_MSIX_ACCESS,
    // Controller state
    NVME_RULE_CC_ENABLE_WHILE_READY,
    NVME_RULE_CC_ENABLE_DURING_SHUTDOWN,
    NVME_RULE_CC_ENABLE_INVALID,
    NVME_RULE_CC_CHANGED_WHILE_ENABLED,
    NVME_RULE_CC_RESERVED_BITS,
    NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED,
    NVME_RULE_ADMIN_QUEUE_ALIGNMENT,
    // Doorbells
    NVME_RULE_DOORBELL_INVALID_QUEUE,
    NVME_RULE_DOORBELL_DELETED_QUEUE,
    NVME_RULE_DOORBELL_VALUE_RANGE,
    NVME_RULE_DOORBELL_NOT_READY,
    NVME_RULE_SQ_OVERRUN,
    NVME_RULE_CQ_HEAD_BEYOND_TAIL,
    NVME_RULE_CID_REUSED,
    NVME_RULE_DBBUF_ADMIN_MISMATCH,
    // Queue management
    NVME_RULE_QUEUE_ENTRY_SIZES_UNSET,
    NVME_RULE_QUEUE_ENTRY_SIZE_CHANGED,
    NVME_RULE_QUEUE_ID_INVALID,
    NVME_RULE_QUEUE_EXISTS,
    NVME_RULE_QUEUE_SIZE_INVALID,
    NVME_RULE_QUEUE_NOT_CONTIGUOUS,
    NVME_RULE_QUEUE_BASE_ALIGNMENT,
    NVME_RULE_CQ_MISSING_FOR_SQ,
    NVME_RULE_CQ_VECTOR_INVALID,
    NVME_RULE_CQ_DELETE_IN_USE,
    NVME_RULE_QUEUE_DELETE_INVALID,
    NVME_RULE_QUEUE_COUNT_AFTER_CREATE,
    // Commands
    NVME_RULE_OPCODE_INVALID,
    NVME_RULE_COMMAND_UNADVERTISED,
    NVME_RULE_FUSED_COMMAND,
    NVME_RULE_NAMESPACE_INVALID,
    NVME_RULE_LBA_OUT_OF_RANGE,
    NVME_RULE_TRANSFER_EXCEEDS_MDTS,
    NVME_RULE_LOG_OFFSET_INVALID,
    NVME_RULE_AER_LIMIT_EXCEEDED,
    NVME_RULE_METADATA_POINTER,
    NVME_RULE_FEATURE_VALUE_INVALID,
    // Data pointers
    NVME_RULE_PSDT_INVALID,
    NVME_RULE_ADMIN_SGL,
    NVME_RULE_SGL_UNSUPPORTED,
    NVME_RULE_PRP1_ALIGNMENT,
    NVME_RULE_PRP2_ALIGNMENT,
    NVME_RULE_PRP2_UNUSED_NONZERO,
    NVME_RULE_PRP_LIST_ALIGNMENT,
    NVME_RULE_PRP_ENTRY_ALIGNMENT,
    NVME_RULE_PRP_LIST_CHAIN,
    NVME_RULE_SGL_DESCRIPTOR_TYPE,
    NVME_RULE_SGL_SEGMENT_INVALID,
    NVME_RULE_SGL_LENGTH_MISMATCH,
    NVME_RULE_SGL_ALIGNMENT,
    NVME_RULE_DMA_UNMAPPED,
    NVME_RULE_DMA_WITHOUT_BUS_MASTER,
    NVME_RULE_COUNT
} NVME_RULE;

typedef void (*NVME_MODEL_VIOLATION_HANDLER)(LPVOID Context, NVME_RULE Rule, LPCSTR Name, LPCSTR Message);

LPCSTR NVMeModelRuleName(NVME_RULE Rule);
LPCSTR NVMeModelRuleDescription(NVME_RULE Rule);
/** NULL restores the default (print to stderr). Violations are recorded either way. */
void NVMeModelSetViolationHandler(NVME_MODEL* Model, NVME_MODEL_VIOLATION_HANDLER Handler, LPVOID Context);
U32 NVMeModelViolationCount(NVME_MODEL* Model);
/** Record Index (oldest first); FALSE past the end. */
BOOL NVMeModelGetViolation(NVME_MODEL* Model, U32 Index, NVME_RULE* Rule, LPSTR Message, SIZE MessageSize);
/** Removes the first record of Rule; FALSE if there is none. */
BOOL NVMeModelTakeViolation(NVME_MODEL* Model, NVME_RULE Rule);
U32 NVMeModelCountViolations(NVME_MODEL* Model, NVME_RULE Rule);
void NVMeModelClearViolations(NVME_MODEL* Model);

/************************************************************************/
// Inspection

#define NVME_MODEL_MAX_SQ_STATS 17

typedef struct tag_NVME_MODEL_STATS {
    U64 AdminCommands, IoCommands;
    U64 Reads, Writes, Flushes, WriteZeroes, Deallocates;
    U64 BytesRead, BytesWritten;       // data moved between memory and namespaces
    U64 SglCommands, SglDataBlocks;    // commands whose data pointer was an SGL (that the checker accepted)
    U64 Completions;                   // CQEs posted
    U64 ErrorCompletions;              // ...with a non-zero status
    U64 MsixMessages, MsiMessages, IntxAssertions;
    U64 MessagesMasked;                // messages left pending by a mask
    U64 InterruptsSkipped;
    U64 Enables, Resets, Shutdowns;
    U64 DoorbellWrites;
    U64 DbbufConfigs;                  // Doorbell Buffer Config commands accepted
    U64 ShadowReads;                   // doorbell values taken from the shadow buffer
    U64 SqTailWrites[NVME_MODEL_MAX_SQ_STATS];  // SQ tail doorbell writes by queue ID (the last counts the rest)
    U64 CompletionsDropped, CompletionsHeld;
    U64 CqFullStalls;                  // completions that waited for room in a full CQ
    U64 AbortsReceived, AbortsSucceeded;
    U64 AsyncEventsCompleted;
    U32 MaxOutstanding;                // most commands outstanding at once on one SQ
    U64 MsixPerVector[NVME_MODEL_MAX_MSIX];
    U64 PciResets;                     // conventional resets (NVMeModelPciReset)
} NVME_MODEL_STATS;

typedef struct tag_NVME_MODEL_QUEUE_INFO {
    BOOL Exists;
    U32 Size;
    PHYSICAL Base;
    U32 Head, Tail;
    BOOL Phase;          // CQ: the phase the controller writes now
    U16 CqId;            // SQ: its CQ
    U16 Vector;          // CQ
    BOOL InterruptsEnabled;
    U32 Outstanding;     // SQ: fetched commands not yet completed
} NVME_MODEL_QUEUE_INFO;

void NVMeModelGetStats(NVME_MODEL* Model, NVME_MODEL_STATS* Stats);
BOOL NVMeModelQueueInfo(NVME_MODEL* Model, U16 Qid, BOOL Completion, NVME_MODEL_QUEUE_INFO* Info);
/** Register values as the controller holds them (no side effects, no checks). */
U32 NVMeModelPeekRegister(NVME_MODEL* Model, U32 Offset);
BOOL NVMeModelIntxAsserted(NVME_MODEL* Model);
DISK_BACKEND* NVMeModelBackend(NVME_MODEL* Model, U32 Nsid);
/**
 * Another host attaches or detaches namespace Nsid (configured, attached or not): the active list changes and,
 * with Notify, a Namespace Attribute Changed event (log 04h lists Nsid) goes to this controller. FALSE if Nsid is
 * not configured. The controller itself takes Namespace Attachment (opcode 15h) when OACS bit 3 is set.
 */
BOOL NVMeModelSetNamespaceAttached(NVME_MODEL* Model, U32 Nsid, BOOL Attached, BOOL Notify);

/** The APST feature as the controller holds it: CDW11 of the last Set Features 0Ch and its 32-entry table. */
void NVMeModelGetApst(NVME_MODEL* Model, U32* Dword11, U64 Table[32]);
/** From the next Number of Queues on, at most Count I/O queue pairs are granted (a smaller grant after a reset). */
void NVMeModelSetMaxIoQueues(NVME_MODEL* Model, U16 Count);
/** Granted I/O queues (NSQA+1, NCQA+1 of the last Number of Queues). */
void NVMeModelGrantedQueues(NVME_MODEL* Model, U32* Submission, U32* Completion);

#endif  // TESTS_MODEL_NVMEMODEL_H_INCLUDED

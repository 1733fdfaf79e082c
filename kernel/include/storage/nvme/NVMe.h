/*
 * NVMe.h - the NVMe driver's public face: controller introspection for the
 * shell, synchronous I/O for the DISK layer, asynchronous I/O for
 * benchmarks.
 *
 * The driver binds every PCI function of class 01h/08h/02h (NVM Express),
 * brings the controller up, and registers one DISK (`nvme<C>n<NSID>`) per
 * namespace it can serve. Controllers are numbered in discovery order from
 * 0, including controllers that failed to come up (their State says why), so
 * `nvme<C>` names stay stable. Controllers and namespaces are never freed:
 * pointers returned here stay valid for the life of the kernel.
 *
 * Views: NVMeGetController copies a controller's view (NVME_CONTROLLER_INFO)
 * into the caller's buffer under the driver's lock, so a copy is consistent
 * (texts whole, the state with its reason) and stays as it was; namespace
 * views (NVME_NAMESPACE_INFO) are read-only and fixed after bring-up.
 *
 * Context of callbacks (NVME_IO_CALLBACK): with no driver lock held, in
 * the interrupt handler of the queue's vector (MSI-X and MSI: on the CPU
 * the vector is aimed at, interrupts off), or in a thread: the deferred-work
 * thread (INTx), the controller's poll thread (polling mode), a thread that
 * reaped the completion itself while waiting for one of its own commands
 * (missed interrupt recovery), or the controller's watchdog thread (a
 * command it found at its deadline, or one a reset or a failure ended).
 * Callbacks must be short: spinlocks and event signals only, never sleep,
 * take a mutex or allocate, and never call any NVMe function that can wait
 * (NVMeSubmitIO when the queue is full, the *Sync functions,
 * NVMeResetController): the context running them frees queue slots.
 *
 * Error handling: every command has a deadline (nvme.io_timeout, default
 * 30 s; nvme.admin_timeout, 60 s). A controller's watchdog checks CSTS every
 * second and runs the timeout ladder (poll, Abort, reset); a reset holds the
 * commands in flight and resubmits them (at most 3 times each, then
 * KSTATUS_TIMEOUT); a status with DNR clear is retried (at most 5 times). A
 * controller that cannot be reset is FAILED: every request on it fails with
 * KSTATUS_IO_ERROR. Callers never wait for ever. See documentation/NVMe.md.
 */

#ifndef STORAGE_NVME_H_INCLUDED
#define STORAGE_NVME_H_INCLUDED

#include "Base.h"
#include "bus/pci/PCI-MSI.h"
#include "block/Disk.h"
#include "storage/nvme/NVMe-Spec.h"

/************************************************************************/
// Limits and constants

#define NVME_MAX_CONTROLLERS 16
#define NVME_MAX_IO_QUEUES 16          // I/O queue pairs per controller the driver will create
#define NVME_NAME_LENGTH 16            // "nvme0"
#define NVME_REASON_LENGTH 64
#define NVME_EVENT_TEXT_LENGTH 256

// Controller states (the legal transitions are a table: NVMe-State.c)
#define NVME_STATE_PROBING 0   // being brought up
#define NVME_STATE_READY 1     // admin and I/O queues running
#define NVME_STATE_FAILED 2    // left alone (bring-up) or given up on (resets failed); StateReason says why
#define NVME_STATE_ADMIN_ONLY 3 // up, but no I/O queue could be created
#define NVME_STATE_RESETTING 4 // being reset (timeout, fatal status, or asked to): new commands wait
#define NVME_STATE_SHUTDOWN 5  // shut down (CC.SHN) by the poweroff/reboot hook; nothing more is accepted
#define NVME_STATE_REMOVED 6   // the PCI function went away (hot unplug, a VMD reset): BAR0 is never touched again
#define NVME_STATE_COUNT 7

// Quirks (NVMe-Quirks.c holds the table: which devices, and where each entry comes from)
#define NVME_QUIRK_DELAY_BEFORE_READY 0x01  // wait 2.3 s after clearing CC.EN before reading CSTS
#define NVME_QUIRK_MQES_ZERO_IS_64 0x02     // CAP.MQES reads 0: the queues take 64 entries
#define NVME_QUIRK_NO_WRITE_ZEROES 0x04     // Write Zeroes is broken: never sent
#define NVME_QUIRK_BROKEN_MSI 0x08          // plain MSI never fires: MSI-X or INTx only
#define NVME_QUIRK_NO_APST 0x10             // any autonomous power state transition kills it: APST off
#define NVME_QUIRK_NO_DEEPEST_PS 0x20       // its deepest power state drops it off the bus: APST stops above it
#define NVME_QUIRK_DMA_48BIT 0x40           // it addresses only 48 bits of DMA
#define NVME_QUIRK_COUNT 7

// APST policy (NVMe-Power.c)
#define NVME_APST_MAX_STATES 32

/************************************************************************/
// Read-only views

typedef struct tag_NVME_NAMESPACE_INFO {
    U32 NSID;
    U32 ControllerIndex;      // the controller it belongs to (nvme<C>)
    U64 Size;                 // NSZE, in blocks
    U64 Capacity;             // NCAP, in blocks
    U64 Utilisation;          // NUSE, in blocks
    U32 LbaSize;              // bytes per block of the format in use (0 if invalid)
    U16 MetadataSize;         // metadata bytes per block of the format in use
    U8 FormatIndex;           // FLBAS-selected format
    U8 FormatCount;           // NLBAF + 1
    U8 Flbas, Nsfeat, Mc, Dpc, Dps, Nmic;
    NVME_LBA_FORMAT_INFO Formats[NVME_MAX_LBA_FORMATS];
    BOOL Exposed;             // registered as a DISK
    char Reason[NVME_REASON_LENGTH];  // why not exposed ("" when exposed)
    char DiskName[DISK_NAME_LENGTH];  // "nvme0n1" ("" when not exposed)
    U32 MaxBlocksPerCommand;  // largest single device command (MDTS, PRP pool, NLB limits)
    BOOL Removed;             // was exposed, then detached or deleted: its disk fails every request
} NVME_NAMESPACE_INFO;

typedef struct tag_NVME_QUEUE_INFO {
    U16 QueueId;              // 0 = admin
    U16 Depth;                // entries in the SQ and in the CQ
    U16 Trackers;             // commands that may be outstanding (Depth - 1)
    BOOL Polled;              // completions reaped by polling
    U32 MessageIndex;         // MSI-X table entry / interrupt vector number given to the device
    U8 CpuVector;             // CPU vector (0 when polled)
    U32 TargetCpu;            // the CPU its vector is aimed at (the CPU whose submissions it takes first)
    BOOL OwnVector;           // a dedicated MSI-X vector: reaped in the interrupt, every interrupt claimed
    U32 Outstanding;          // commands in flight now
    U32 MaxOutstanding;       // high-water mark
    U64 Submitted, Completed, Errors;
    U64 Interrupts;           // times its vector fired
    U64 BadCompletions;       // completions dropped (bad CID/SQID, duplicate)
    U64 ReapedByWaiter;       // completions found by a waiter's own poll (missed or late interrupts)
    U64 FullWaits;            // submitters that had to sleep for a free slot
    U16 FreeTrackers;         // trackers free now (Trackers when idle: nothing leaked)
    U16 Held;                 // commands held during a reset, waiting to be posted again
    U16 Retrying;             // commands waiting for a retry
    BOOL Live;                // doorbells allowed (not suspended by a reset, not dead)
    U64 ShadowWrites;         // doorbell values stored in the shadow doorbell buffer (nvme.dbbuf)
    U64 MmioDoorbells;        // doorbell register writes (SQ tail and CQ head)
} NVME_QUEUE_INFO;

typedef struct tag_NVME_CONTROLLER_INFO {
    char Name[NVME_NAME_LENGTH];      // "nvme0"
    U32 Index;
    U32 State;                        // NVME_STATE_*
    char StateReason[NVME_REASON_LENGTH];
    // PCI
    U32 PciSegment;                   // 0x10000 and up behind a VMD
    U8 PciBus, PciDevice, PciFunction;
    U16 PciVendorId, PciDeviceId;
    PHYSICAL RegisterBase;            // BAR0
    U64 RegisterSize;
    // Registers
    U32 Version;                      // VS: major << 16 | minor << 8 | tertiary
    NVME_CAP_INFO Cap;
    U32 PageSize;                     // CC.MPS in bytes
    U32 ReadyTimeoutMs;               // (CAP.TO + 1) * 500
    U32 BringUpBoundMs;               // bring-up gives up on a controller that is not up within this
    U32 BringUpMs;                    // how long bring-up took (0 while probing)
    BOOL WasEnabledByFirmware;        // CC.EN was set when the driver took over
    U32 Quirks;                       // NVME_QUIRK_* applied (NVMeQuirkName names them)
    // Identify Controller
    BOOL IdentifyValid;
    NVME_IDENTIFY_INFO Identify;
    const U8* IdentifyData;           // the whole 4 KiB page (NULL when not read)
    U64 MdtsBytes;                    // maximum data transfer from MDTS (0: no limit reported)
    U64 MaxCommandBytes;              // what one command may carry here (MDTS and the PRP pool)
    U32 SglMode;                      // NVME_SGL_* in force (nvme.sgl, NVMeSetSglMode; OFF without SGL support)
    U32 SglThreshold;                 // auto: one buffer this large goes as an SGL (nvme.sgl_threshold; 0: never)
    U64 SglCommands, PrpCommands;     // data commands whose data went as an SGL / as PRPs
    U32 DbbufMode;                    // NVME_DBBUF_* asked for (nvme.dbbuf)
    BOOL DbbufOffered;                // OACS bit 8: the controller takes Doorbell Buffer Config
    BOOL DbbufActive;                 // shadow doorbells in use now (configured since the last reset)
    BOOL DbbufCqMmio;                 // CQ heads are written by MMIO too (pin or MSI interrupts: NVMe-Doorbell.c)
    U32 DbbufConfigs;                 // Doorbell Buffer Config commands the controller accepted (bring-up, resets)
    // Namespaces
    U32 ActiveNamespaceCount;
    const NVME_NAMESPACE_INFO* Namespaces;  // ActiveNamespaceCount entries, by NSID
    BOOL NamespaceListFallback;       // CNS 02h failed or VS < 1.1: NSIDs probed 1..NN
    // Queues
    U32 IoQueuesRequested;            // asked for with Set Features Number of Queues
    U32 IoQueuesGranted;              // min(NSQA, NCQA) + 1 from the controller
    U32 IoQueueCount;                 // I/O queue pairs created
    U32 PollQueueCount;               // ... of which the last ones are polled by their waiters (nvme.poll_queues)
    U32 QueueCount;                   // entries in Queues (admin + I/O)
    NVME_QUEUE_INFO Queues[1 + NVME_MAX_IO_QUEUES];  // [0] is the admin queue
    // Interrupts
    PCI_INTERRUPT_MODE InterruptMode; // PCI_INTERRUPT_NONE when polling
    BOOL Polling;
    char PollingReason[NVME_REASON_LENGTH];  // "nvme.poll=1", "no interrupt arrived", ...
    U32 VectorCount;
    // Totals (all queues)
    U64 CommandsSubmitted, CommandsCompleted, Errors, Timeouts, BadCompletions;
    U16 LastErrorStatus;              // raw status field of the last failed command
    char LastError[NVME_REASON_LENGTH];
    // Error handling and reset
    U32 IoTimeoutMs, AdminTimeoutMs;  // command deadlines (nvme.io_timeout / nvme.admin_timeout)
    BOOL Supervised;                  // the watchdog runs (deadlines, retries, health checks)
    U64 Resets;                       // controller resets begun (timeouts, fatal status, NVMeResetController)
    U64 ResetFailures;                // reset attempts that failed
    U64 Aborts, AbortsSucceeded;      // Abort commands sent / that aborted their command
    U64 Retries;                      // commands sent again after a retryable status
    U64 Resubmits;                    // commands sent again after a timeout or a reset
    U64 MissedInterrupts;             // timed-out commands whose completion was found by polling
    U64 FailedByDriver;               // commands ended by the driver (resubmit limit, failed controller)
    U64 HealthChecks;                 // periodic CSTS checks
    char LastResetReason[NVME_REASON_LENGTH];
    // Asynchronous events and health
    U32 AerLimit;                     // AERs kept outstanding (min(AERL + 1, 8), fewer on tiny admin queues)
    U32 AerOutstanding;
    U32 AsyncEventConfig;             // what Set Features 0Bh enabled (0: not accepted)
    U64 AsyncEvents;                  // events received
    char LastAsyncEvent[NVME_EVENT_TEXT_LENGTH];  // "SMART: temperature above threshold (log 02h)"
    U8 CriticalWarning;               // from the last SMART log the driver read
    BOOL ShutdownComplete;            // the shutdown hook saw CSTS.SHST complete
    U32 ShutdownMs;                   // how long it waited
    U32 WaiterEventsFree;             // of the pooled waiter events (NVME_WAITER_POOL when idle)
    U32 ExtraWaiterEvents;            // waiter events made beyond the pool and not yet destroyed
    U64 InvalidTransitions;           // state changes a table refused (a driver bug: 0)
    // Power (APST, NVMe-Power.c)
    BOOL ApstSupported;               // Identify APSTA bit 0
    BOOL ApstEnabled;                 // what the driver set (Set Features 0Ch, APSTE)
    U32 ApstMaxLatencyUs;             // the policy's bound on a state's exit latency (0: APST off)
    U64 ApstTable[NVME_APST_MAX_STATES];  // the table sent (ITPS 7:3, ITPT 31:8 in ms), by power state
    char ApstPolicy[NVME_REASON_LENGTH];  // "Linux's table (exit latency <= 100000 us)", "off: nvme.apst=0", ...
    U32 FeaturesSaved;                // features set with NVMeSetFeature, re-applied after every reset
    BOOL BringUpRunning;              // its bring-up thread has not finished
    U32 ThreadsRunning;               // its watchdog, poll and rescan threads still running
    U64 NamespaceRescans;             // namespace lists read again (attribute-changed events, attach/detach)
} NVME_CONTROLLER_INFO;

/************************************************************************/
// Handles

/** A namespace the driver serves (opaque). */
typedef struct tag_NVME_NAMESPACE NVME_NAMESPACE;

/**
 * Completion of an asynchronous command. Status is KSTATUS_SUCCESS or the
 * error the NVMe status maps to; NvmeStatus is the raw 15-bit status field
 * (SCT/SC/More/DNR, phase removed: NVMeStatusName decodes it), 0 on success.
 */
typedef void (*NVME_IO_CALLBACK)(KSTATUS Status, U16 NvmeStatus, LPVOID Context);

/************************************************************************/
// Functions

/** Registers the PCI driver; call before PCIBindDrivers(). */
void NVMeRegisterDriver(void);

U32 NVMeGetControllerCount(void);
/** "ready", "admin queue only", "failed", ... for an NVME_STATE_* ("unknown" otherwise). */
LPCSTR NVMeControllerStateName(U32 State);
/**
 * Copies the controller's view into *View (copied under the driver's lock, counters summed over the queues at
 * that moment): KSTATUS_NOT_FOUND if Index is out of range. The copy is the caller's; call again to refresh.
 */
KSTATUS NVMeGetController(U32 Index, NVME_CONTROLLER_INFO* View);

/** An exposed namespace by disk name ("nvme0n1"), or NULL. */
NVME_NAMESPACE* NVMeFindNamespace(LPCSTR DiskName);
/** An exposed namespace by controller index and NSID, or NULL. */
NVME_NAMESPACE* NVMeGetNamespace(U32 ControllerIndex, U32 Nsid);
const NVME_NAMESPACE_INFO* NVMeGetNamespaceInfo(const NVME_NAMESPACE* Namespace);

/**
 * Submits one device command and returns at once; Callback(Context) runs
 * later from the bottom half (see the header comment). Opcode is
 * NVME_IO_READ, NVME_IO_WRITE or NVME_IO_FLUSH (Lba, Blocks and Buffer
 * ignored). Blocks must be 1..MaxBlocksPerCommand, the range inside the
 * namespace, Buffer dword aligned (any page layout) and Blocks * LbaSize
 * bytes long. When every slot of the queue is busy the caller sleeps until
 * one frees (so never call this from a callback). On an error return the
 * callback is not called.
 */
KSTATUS NVMeSubmitIO(NVME_NAMESPACE* Namespace, U32 Opcode, U64 Lba, U32 Blocks, LPVOID Buffer,
                     NVME_IO_CALLBACK Callback, LPVOID Context);

/** One command of NVMeSubmitIOBatch: NVMeSubmitIO's arguments. */
typedef struct tag_NVME_IO_REQUEST {
    U32 Opcode;
    U64 Lba;
    U32 Blocks;
    LPVOID Buffer;
    NVME_IO_CALLBACK Callback;
    LPVOID Context;
} NVME_IO_REQUEST;

/**
 * NVMeSubmitIO for Count commands, all on the calling CPU's queue, with one doorbell per batch (up to 32
 * commands; sooner when the queue has no free slot at once). Stops at the first command that fails (its
 * error is returned); *Submitted (if not NULL) says how many went: exactly their callbacks will run.
 */
KSTATUS NVMeSubmitIOBatch(NVME_NAMESPACE* Namespace, const NVME_IO_REQUEST* Requests, U32 Count, U32* Submitted);

/**
 * Vectored synchronous transfers: the blocks from Lba on, in Count buffers
 * (each a whole number of blocks, in order). Each command carries as many
 * buffers as its data pointer can say: an SGL for any layout, PRPs where
 * the buffers meet on page boundaries (NVMe-SGL.c has the rule). Buffers
 * that are not dword aligned go one at a time through the bounce buffer.
 */
KSTATUS NVMeReadVector(NVME_NAMESPACE* Namespace, U64 Lba, const DISK_SEGMENT* Segments, U32 Count);
KSTATUS NVMeWriteVector(NVME_NAMESPACE* Namespace, U64 Lba, const DISK_SEGMENT* Segments, U32 Count);

// How data commands carry their data (nvme.sgl=auto|on|off)
#define NVME_SGL_AUTO 0                 // SGL when the layout needs it or favours it (NVMe.md), else PRPs
#define NVME_SGL_ON 1                   // SGL for every data command
#define NVME_SGL_OFF 2                  // PRPs only
/** Sets a controller's mode (the bench compares them); an SGL mode on a controller without SGLs is refused. */
KSTATUS NVMeSetSglMode(U32 ControllerIndex, U32 Mode);
LPCSTR NVMeSglModeName(U32 Mode);

// Shadow doorbells (nvme.dbbuf=auto|on|off, NVMe-Doorbell.c)
#define NVME_DBBUF_AUTO 0               // used when the controller offers Doorbell Buffer Config (and no quirk)
#define NVME_DBBUF_ON 1                 // the same, and a warning when it is not offered
#define NVME_DBBUF_OFF 2                // MMIO doorbells only
LPCSTR NVMeDbbufModeName(U32 Mode);

/**
 * Synchronous transfers of any size and any buffer alignment: split into as
 * many commands as MDTS, the PRP pool and NLB require (in flight together),
 * bounced through the queue's bounce buffer when Buffer is not dword aligned.
 * Returns when every command completed; the first error wins.
 */
KSTATUS NVMeReadSync(NVME_NAMESPACE* Namespace, U64 Lba, U32 Blocks, LPVOID Buffer);
KSTATUS NVMeWriteSync(NVME_NAMESPACE* Namespace, U64 Lba, U32 Blocks, LPCVOID Buffer);
/** NVMe Flush of the namespace (issued even without a volatile cache). */
KSTATUS NVMeFlushSync(NVME_NAMESPACE* Namespace);

/** Get Log Page (admin 02h) into Buffer (Size bytes, at most 4096, a multiple of 4). */
KSTATUS NVMeGetLogPage(U32 ControllerIndex, U8 LogId, U32 Nsid, LPVOID Buffer, U32 Size);
/** Get Features (admin 0Ah, current value); *Result receives completion dword 0. */
KSTATUS NVMeGetFeature(U32 ControllerIndex, U8 FeatureId, U32 Nsid, U32 Dword11, U32* Result);

/************************************************************************/
// Management (issue "NVMe management and health"; implemented by the driver)

/**
 * Set Features (admin 09h, not saved); *Result receives completion dword 0 (may be NULL). A refusal by the
 * controller (e.g. QEMU's "Feature Not Changeable" for Interrupt Coalescing) returns the mapped KSTATUS
 * (KSTATUS_NOT_SUPPORTED, KSTATUS_BAD_PARAMETER...) and leaves the named status in the view's LastError /
 * LastErrorStatus; it is not logged as a driver failure. NVMeGetFeature behaves the same.
 */
KSTATUS NVMeSetFeature(U32 ControllerIndex, U8 FeatureId, U32 Nsid, U32 Dword11, U32* Result);
KSTATUS NVMeReadRegisters(U32 ControllerIndex, NVME_REGISTERS* Registers);
/**
 * Forces the reset path on a live controller (I/O in flight is resubmitted after it) and returns when the
 * reset is over: KSTATUS_SUCCESS, or KSTATUS_IO_ERROR when the controller could not be brought back (it is
 * then failed). Must not be called from an I/O callback.
 */
KSTATUS NVMeResetController(U32 ControllerIndex);
/** Dataset Management deallocate of Blocks from Lba; KSTATUS_NOT_SUPPORTED when ONCS lacks it. */
KSTATUS NVMeTrim(NVME_NAMESPACE* Namespace, U64 Lba, U64 Blocks);
/** Write Zeroes; KSTATUS_NOT_SUPPORTED when ONCS lacks it. */
KSTATUS NVMeWriteZeroes(NVME_NAMESPACE* Namespace, U64 Lba, U64 Blocks);

/************************************************************************/
// Health (issue "NVMe management and health")

/**
 * Get Log Page from a byte Offset (dword aligned; a non-zero offset needs LPA bit 2, "extended data") of any
 * Size (a multiple of 4; read 4 KiB at a time, each piece with its own offset when more than 4 KiB). Reads
 * retain asynchronous events (RAE set): clearing them is the event handler's job.
 */
KSTATUS NVMeGetLogPageAt(U32 ControllerIndex, U8 LogId, U32 Nsid, U64 Offset, LPVOID Buffer, U32 Size);
/** SMART / Health log of the controller (Nsid 0 or FFFFFFFFh) or of one namespace (needs LPA bit 0). */
KSTATUS NVMeReadSmartLog(U32 ControllerIndex, U32 Nsid, NVME_SMART_LOG* Smart);
/**
 * The Error Information log: ELPE + 1 entries of 64 bytes (only the first 4 KiB without LPA bit 2). Copies
 * the non-empty entries, newest first, up to MaxEntries; *Count receives how many.
 */
KSTATUS NVMeReadErrorLog(U32 ControllerIndex, NVME_ERROR_ENTRY* Entries, U32 MaxEntries, U32* Count);
KSTATUS NVMeReadFirmwareLog(U32 ControllerIndex, NVME_FIRMWARE_LOG* Firmware);

/************************************************************************/
// Bring-up, quirks, namespaces (issue 11)

/**
 * Waits until no controller is still being brought up (each comes up on its own thread, in parallel), at most
 * TimeoutMs; TRUE when none is left. The boot waits a short while so healthy controllers' disks are there at
 * the prompt; a dead controller is given up on later, in its own thread, within its BringUpBoundMs.
 */
BOOL NVMeWaitBringUp(U32 TimeoutMs);
#define NVME_BOOT_WAIT_MS 3000  // what the boot gives bring-ups before the prompt (QEMU's take milliseconds)
/** "delay before ready", ... for one NVME_QUIRK_* bit; NULL for an unknown one. */
LPCSTR NVMeQuirkName(U32 Quirk);
/**
 * Namespace Attachment (admin 15h, needs OACS bit 3): attaches (Attach TRUE) or detaches namespace Nsid to or
 * from this controller, then reads the namespace list again: an attached namespace becomes a disk, a detached
 * one's disk fails every request from then on. KSTATUS_NOT_SUPPORTED without namespace management.
 */
KSTATUS NVMeAttachNamespace(U32 ControllerIndex, U32 Nsid, BOOL Attach);
/** Reads the active namespace list again (as a Namespace Attribute Changed event does) and waits for it. */
KSTATUS NVMeRescanNamespaces(U32 ControllerIndex);


#endif  // STORAGE_NVME_H_INCLUDED

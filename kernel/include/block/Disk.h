/*
 * Disk.h - the disk contract between storage drivers and everything above.
 *
 * A DISK is a kernel object (OBJECT_FIELDS, TypeID KOID_DISK) that a storage
 * driver registers for each device it exposes (an NVMe namespace is
 * `nvme<C>n<NSID>`; a partition found on it later is a DISK too, `nvme0n1p1`,
 * whose driver forwards to its parent). Callers never touch the driver
 * directly: they go through DiskCommand (or the DiskRead/DiskWrite helpers),
 * which checks the access mode and the request's bounds first, so a driver
 * only ever sees well-formed requests.
 *
 * Requests are synchronous: the call returns when the transfer is done (the
 * driver may have split it into several device commands). Buffers need no
 * alignment and need not be physically contiguous. DiskCommand splits a
 * request larger than the driver's MaxTransferSectors into several calls.
 *
 * Asynchronous direct requests (DiskSubmit, DiskWaitRequest): a READ or
 * WRITE in a DISK_REQUEST the caller owns, checked like DiskCommand (bounds
 * and access of the disk and of every disk below it), sent to the physical
 * disk's driver (a partition adds its start) past the cache, and back once
 * the commands are queued; DiskWaitRequest ends it, bounded by the driver's
 * own deadlines. Cache coherence: a direct read first writes back the dirty
 * cached blocks it overlaps (so it reads what the cache would, and no copy
 * of a dirty block has to be merged later); a direct write first forgets
 * the cached sectors it covers (its data is newer) and forgets them again
 * once done (a fill that raced it may have brought old data back). A driver
 * without Submit is served synchronously inside DiskSubmit. The request's
 * buffers must stay until DiskWaitRequest returns; every submitted request
 * must be waited for.
 *
 * Vectored requests: a READ or WRITE whose data is in several buffers (a
 * DISK_SEGMENT list, each a whole number of sectors, in disk order) for one
 * run of sectors. A driver that says MaxSegments > 1 gets up to that many
 * segments in one call (the NVMe driver makes one command of them with an
 * SGL); for the others the disk layer sends one call per buffer. The one
 * splitter (Disk.c) cuts by MaxTransferSectors and by segment count alike.
 *
 * Block cache: every physical disk (Parent NULL, not DISK_FLAG_NO_CACHE)
 * gets a write-back block cache at registration (block/Cache.h), and
 * DiskCommand routes READ, WRITE, FLUSH and TRIM through it; a partition
 * forwards to its parent, so both share one cache (DiskGetCache tells where
 * a partition's sectors are in it, for file systems that pin blocks there:
 * block/BlockDevice.h). Writes stay in the cache until DiskFlush/DiskSync
 * (or `sync`, or the shutdown hook, or eviction); DiskFlush writes back
 * every dirty block of the disk, then sends DF_DISK_FLUSH to the driver. The
 * cache reaches the driver directly for its fills and write-backs. The
 * access mode is checked before the cache (a refused write changes nothing,
 * not even the cache) and again below it.
 */

#ifndef BLOCK_DISK_H_INCLUDED
#define BLOCK_DISK_H_INCLUDED

#include "Base.h"
#include "core/Object.h"

/************************************************************************/
// Driver functions

#define DF_DISK_READ 0x1001      // DISK_IO
#define DF_DISK_WRITE 0x1002     // DISK_IO
#define DF_DISK_GETINFO 0x1003   // DISK_INFO
#define DF_DISK_SETACCESS 0x1004 // DISK_ACCESS_REQUEST
#define DF_DISK_FLUSH 0x1005     // NULL: make written data durable
#define DF_DISK_TRIM 0x1006      // DISK_IO with Buffer NULL: the range no longer holds data

#define DISK_ACCESS_READ_ONLY 0x0001
#define DISK_ACCESS_DISABLED 0x0002

#define DISK_NAME_LENGTH 32
#define DISK_MODEL_LENGTH 48
#define DISK_SERIAL_LENGTH 24

#define DISK_TYPE_NVME 1
#define DISK_TYPE_PARTITION 2
#define DISK_TYPE_RAM 3

#define DISK_FLAG_NO_CACHE 0x0001  // set by the driver before DiskRegister: no block cache (file systems
                                   // on it then pin their metadata in a private one: block/BlockDevice.h)

#define DISK_MAX_SEGMENTS 64  // segments one driver call carries at most (the splitter cuts longer lists)

struct tag_CACHE;

struct tag_DISK;

/** One buffer of a vectored request. */
typedef struct tag_DISK_SEGMENT {
    LPVOID Buffer;
    U32 Length;       // bytes: a non-zero multiple of the sector size
} DISK_SEGMENT;

typedef struct tag_DISK_IO {
    U64 Sector;       // first sector (of the disk's own sector size)
    U32 SectorCount;
    LPVOID Buffer;    // SectorCount * SectorSize bytes (NULL for a vectored request)
    const DISK_SEGMENT* Segments;  // vectored READ/WRITE: the data, in disk order (their lengths add up)
    U32 SegmentCount;
} DISK_IO;

typedef struct tag_DISK_INFO {
    char Name[DISK_NAME_LENGTH];
    char Model[DISK_MODEL_LENGTH];
    char Serial[DISK_SERIAL_LENGTH];
    U32 Type;
    U32 SectorSize;
    U64 SectorCount;
    U32 Access;
    U32 MaxTransferSectors;  // largest single device command (0: no limit); larger requests are split
    U32 MaxSegments;         // buffers one READ/WRITE call may carry (0 or 1: no vectored calls)
    BOOL SupportsTrim;
    BOOL VolatileCache;      // writes need DF_DISK_FLUSH to be durable
} DISK_INFO;

typedef struct tag_DISK_ACCESS_REQUEST {
    U32 Access;
} DISK_ACCESS_REQUEST;

#define DISK_REQUEST_DRIVER_WORDS 10  // what a driver keeps of a request in flight (NVMe: its NVME_REQUEST)

/** An asynchronous READ or WRITE, owned by its caller from DiskSubmit until DiskWaitRequest returns. */
typedef struct tag_DISK_REQUEST {
    struct tag_DISK* Disk;     // as submitted (its statistics count the request)
    struct tag_DISK* Target;   // the physical disk whose driver serves it
    U32 Function;              // DF_DISK_READ or DF_DISK_WRITE
    U64 Sector;                // on Target
    U32 SectorCount;
    KSTATUS Status;            // the submission's error, then the request's
    BOOL Pending;              // the driver holds it: DiskWaitRequest must be called
    U64 Driver[DISK_REQUEST_DRIVER_WORDS];
} DISK_REQUEST;

typedef struct tag_DISK_DRIVER {
    LPCSTR Name;
    /** Handles one DF_DISK_* function; Parameter is the structure the function names. */
    KSTATUS (*Command)(struct tag_DISK* Disk, U32 Function, LPVOID Parameter);
    /**
     * Optional: queues a checked READ/WRITE (Io of any size, split as the driver must) and returns; success
     * means Wait will be called. NULL: DiskSubmit runs Command synchronously.
     */
    KSTATUS (*Submit)(struct tag_DISK* Disk, U32 Function, const DISK_IO* Io, DISK_REQUEST* Request);
    /** Ends a request Submit accepted: waits (bounded by the driver's deadlines) and returns its status. */
    KSTATUS (*Wait)(struct tag_DISK* Disk, DISK_REQUEST* Request);
} DISK_DRIVER;

typedef struct tag_DISK {
    OBJECT_FIELDS
    char Name[DISK_NAME_LENGTH];
    const DISK_DRIVER* Driver;
    LPVOID DriverData;
    struct tag_DISK* Parent;   // for partitions
    U32 SectorSize;            // cached at registration
    U64 SectorCount;
    U32 Access;                // DISK_ACCESS_* (the layer enforces it before calling the driver)
    U64 ReadCount, WriteCount, ErrorCount;   // requests served through DiskCommand
    U64 BytesRead, BytesWritten;
    struct tag_DISK* Next;
    U32 Type;                  // DISK_TYPE_*, cached at registration
    U32 MaxTransferSectors;    // cached at registration (0: no limit)
    U32 Flags;                 // DISK_FLAG_*, set by the driver before registering
    struct tag_CACHE* Cache;   // set by DiskRegister for physical disks; NULL otherwise
    U64 StartSector;           // partitions: where the disk starts in Parent (set before DiskRegister)
    U32 MaxSegments;           // cached at registration (0 or 1: vectored requests go one buffer a call)
} DISK;

typedef void (*DISK_LISTENER)(DISK* Disk, LPVOID Context);

/** Fills the object header, asks the driver for its geometry, attaches a cache, and adds the disk to the list. */
KSTATUS DiskRegister(DISK* Disk);
/**
 * Removes a disk (and, first, the partitions on it). Its cache writes back
 * what it can while the driver still answers and the device is flushed
 * (DF_DISK_FLUSH, so a volatile write cache keeps nothing back), then every later request on
 * the disk fails with KSTATUS_NO_PERMISSION; requests in flight are the
 * driver's to finish. The DISK and its partitions are never freed here.
 */
void DiskUnregister(DISK* Disk);
/** The first registered disk; follow ->Next. */
DISK* GetDiskList(void);
U32 DiskGetCount(void);
DISK* DiskFind(LPCSTR Name);
/** Called for every disk registered from now on (and, immediately, for those already there). */
void DiskAddListener(DISK_LISTENER Listener, LPVOID Context);

/** Checked entry point: validates the object, access and bounds, then calls the driver. */
KSTATUS DiskCommand(DISK* Disk, U32 Function, LPVOID Parameter);
KSTATUS DiskRead(DISK* Disk, U64 Sector, U32 SectorCount, LPVOID Buffer);
KSTATUS DiskWrite(DISK* Disk, U64 Sector, U32 SectorCount, LPCVOID Buffer);
/** Vectored: the sectors from Sector on, in Count buffers (each a non-zero multiple of the sector size). */
KSTATUS DiskReadVector(DISK* Disk, U64 Sector, const DISK_SEGMENT* Segments, U32 Count);
KSTATUS DiskWriteVector(DISK* Disk, U64 Sector, const DISK_SEGMENT* Segments, U32 Count);
/**
 * Bytes at any offset, through DiskRead/DiskWrite: whole sectors in one
 * request (split by DiskCommand), a sector cut by the range read, patched
 * and written back (read-modify-write through a bounce sector allocated for
 * the call). The range must lie on the disk (KSTATUS_BAD_PARAMETER).
 */
KSTATUS DiskReadBytes(DISK* Disk, U64 Offset, U32 Length, LPVOID Buffer);
KSTATUS DiskWriteBytes(DISK* Disk, U64 Offset, U32 Length, LPCVOID Buffer);
/**
 * Asynchronous direct READ/WRITE (see the top of this file): checked, the cache made coherent, queued. An
 * error here means nothing is in flight (Request->Pending FALSE); DiskWaitRequest may still be called.
 */
KSTATUS DiskSubmit(DISK* Disk, U32 Function, const DISK_IO* Io, DISK_REQUEST* Request);
/** Waits for a submitted request (at once when it is done or failed at submission); its status. */
KSTATUS DiskWaitRequest(DISK_REQUEST* Request);
/** Synchronous direct READ/WRITE: DiskSubmit then DiskWaitRequest. */
KSTATUS DiskTransferDirect(DISK* Disk, U32 Function, U64 Sector, U32 SectorCount, LPVOID Buffer);
/** Writes back the disk's dirty cached blocks (the whole parent's for a partition), then DF_DISK_FLUSH. */
KSTATUS DiskFlush(DISK* Disk);
KSTATUS DiskGetInfo(DISK* Disk, DISK_INFO* Info);
/** Whether the access modes of the disk and of every disk below it (a partition's parent) allow reading or writing. */
BOOL DiskAccessAllows(DISK* Disk, BOOL Write);
/**
 * The cache that holds the disk's sectors (its physical disk's; NULL when
 * that has none) and, in *FirstSector, the cache's sector where the disk's
 * sector 0 is (partitions add their start).
 */
struct tag_CACHE* DiskGetCache(DISK* Disk, U64* FirstSector);
/**
 * Making a disk read-only or disabled writes its dirty blocks back and flushes the device first (while it
 * still may: a closed disk refuses DF_DISK_FLUSH).
 */
KSTATUS DiskSetAccess(DISK* Disk, U32 Access);

/** DiskFlush that also tells how many blocks were written back (Written may be NULL). */
KSTATUS DiskSync(DISK* Disk, U32* Written);
/** Blocks of a physical disk's cache waiting to be written back (0 without a cache). */
U32 DiskDirtyBlocks(DISK* Disk);
/** DiskSync on every physical disk (a disabled one only if it still has dirty blocks); first error. Shutdown hook. */
KSTATUS DiskSyncAll(void);
/**
 * For code that reaches the device behind DiskCommand (a benchmark writing
 * through the driver, a firmware tool): writes back the dirty blocks of the
 * disk (the whole parent's for a partition), then forgets every clean one,
 * so later reads come from the device. Dirty blocks that cannot be written
 * stay (and the error is returned).
 */
KSTATUS DiskInvalidateCache(DISK* Disk);
/**
 * Cache budget in bytes for disks registered from now on (0: no cache).
 * Without a call the kernel uses the `cache=` option (k/M/G suffixes,
 * default CACHE_DEFAULT_BUDGET), at most an eighth of the RAM.
 */
void DiskSetCacheBudget(U64 Bytes);

LPCSTR DiskStatusName(KSTATUS Status);

#endif  // BLOCK_DISK_H_INCLUDED

/*
 * HostDisk.h - the host kernel's DISK driver: sectors in memory, for every
 * host test that needs a disk under block/Disk.c.
 *
 * The sectors are a malloc'd buffer (HostDiskCreate: zeroed) or a host image
 * file mapped shared (HostDiskOpenFile), so what the kernel writes is in the
 * file at once for e2fsck, debugfs or dd to judge. Every request is checked
 * to lie on the disk and to respect MaxTransfer (HostKernelFail otherwise)
 * and counted. Tests make it
 * fail or check more through fields they set before or between requests:
 *
 *  - FailReads / FailWrites: requests touching sectors FailFirst..FailLast
 *    (inclusive) fail with KSTATUS_IO_ERROR (counted, nothing transferred);
 *  - ExpectLocked: a read or write must come from a thread holding a kernel
 *    mutex (a cache calls its driver under its lock);
 *  - Hook: sees every request first (after the checks above) and may answer
 *    it itself (return TRUE with the status in *Status): a disk that fails
 *    on the Nth write, a sparse disk whose sectors are computed
 *    (HostDiskCreateHooked: no Data, the hook serves reads and writes).
 *
 *  - Async: the driver takes asynchronous requests (DiskSubmit): a plain
 *    read or write is checked and counted at submission and moved at
 *    DiskWaitRequest (so data a test sees early was not waited for), with
 *    InFlight / MaxInFlight telling how many were queued at once.
 *
 * DISK_INFO reports Type, SectorSize, Sectors, MaxTransfer, MaxSegments,
 * SupportsTrim and VolatileCache as set here (HostDiskCreate: DISK_TYPE_RAM,
 * no limit, no vectored requests, no TRIM, no volatile cache). TRIM zeroes the sectors; FLUSH and SETACCESS
 * succeed. The DISK is not registered: the test calls DiskRegister.
 */

#ifndef TESTS_HOST_HOSTDISK_H_INCLUDED
#define TESTS_HOST_HOSTDISK_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"

typedef struct tag_HOST_DISK HOST_DISK;
typedef BOOL (*HOST_DISK_HOOK)(HOST_DISK* Host, U32 Function, LPVOID Parameter, KSTATUS* Status);

struct tag_HOST_DISK {
    DISK Disk;         // Driver and DriverData point to the host driver and this structure
    U8* Data;          // Sectors * SectorSize bytes (NULL: the hook serves every transfer)
    U32 SectorSize;
    U64 Sectors;
    U32 Type;          // DISK_TYPE_*
    U32 MaxTransfer;   // MaxTransferSectors reported (0: no limit)
    U32 MaxSegments;   // MaxSegments reported (0: no vectored requests; more segments than this fail the test)
    BOOL SupportsTrim, VolatileCache;
    // Counters (requests as the driver sees them; SectorsRead/Written only for successful ones)
    U32 Reads, Writes, Flushes, Trims;
    U32 VectoredReads, VectoredWrites;  // of Reads and Writes: those with segments
    U64 SectorsRead, SectorsWritten;
    U64 LastSector;    // of the last read or write
    U32 LastCount;
    // Faults and checks
    BOOL FailReads, FailWrites;
    U64 FailFirst, FailLast;
    BOOL ExpectLocked;
    BOOL Async;        // asynchronous Submit/Wait (see above)
    U32 Submits, InFlight, MaxInFlight;
    HOST_DISK_HOOK Hook;
    LPVOID HookContext;
    // A mapped image file (HostDiskOpenFile)
    int Descriptor;    // -1 for memory
    SIZE MappedBytes;
};

/** A zero-filled memory disk named Name (not registered). */
HOST_DISK* HostDiskCreate(LPCSTR Name, U32 SectorSize, U64 Sectors);
/** A disk with no sectors of its own: Hook serves every read and write (a sparse or computed disk). */
HOST_DISK* HostDiskCreateHooked(LPCSTR Name, U32 SectorSize, U64 Sectors, HOST_DISK_HOOK Hook, LPVOID Context);
/** A disk over the image file Path (its size rounded down to whole sectors), mapped shared (not registered). */
HOST_DISK* HostDiskOpenFile(LPCSTR Name, LPCSTR Path, U32 SectorSize);
/** Unmaps or frees the sectors and the structure; the disk must be unregistered (or never registered). */
void HostDiskDestroy(HOST_DISK* Host);

#endif  // TESTS_HOST_HOSTDISK_H_INCLUDED

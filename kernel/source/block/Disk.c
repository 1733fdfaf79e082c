/*
 * Disk.c - the disk list, the checked entry point to disk drivers, and the
 * glue that puts a sector cache in front of every physical disk.
 *
 * The list only grows at registration and shrinks at unregistration, both
 * rare; readers walk it without a lock because a disk is never freed while
 * registered (drivers keep their DISK for the life of the device).
 *
 * DiskCommand checks a request (object, bounds, access) and then sends
 * READ/WRITE/FLUSH/TRIM of a cached disk to its cache; the cache comes back
 * through DiskBackendRead/Write, which call the driver directly and refuse
 * to write to a read-only or disabled disk, so nothing below the cache
 * writes what the access mode forbids either. DiskDriverTransfer is the one
 * place a request is split, to the driver's MaxTransferSectors and
 * MaxSegments (a vectored request to a driver without vectored calls goes
 * one buffer a call; through a cache, one CacheRead/CacheWrite a buffer).
 *
 * DiskReadBytes/DiskWriteBytes are the one sector read-modify-write of the
 * kernel (file systems, dd on a raw disk).
 *
 * Shutdown: dirty blocks must reach the disk before its driver's shutdown
 * hook stops the controller. Hooks run last registered, first run, so the
 * cache's hook is registered on the first write after a new physical disk
 * appeared (its driver registered its own hook before registering the disk),
 * and again after each further disk; running it twice is harmless.
 */

#include "block/Disk.h"

#include "block/Cache.h"
#include "core/Log.h"
#include "memory/Heap.h"
#include "system/Shutdown.h"
#include "utils/String.h"

#ifndef CAIRN_HOST_BUILD
#include "core/CommandLine.h"
#include "core/Spinlock.h"
#include "memory/Memory.h"
static SPINLOCK DiskListLock = SPINLOCK_INIT;
#define DISK_LOCK() SpinlockAcquire(&DiskListLock)
#define DISK_UNLOCK(Flags) SpinlockRelease(&DiskListLock, Flags)
#else
#define DISK_LOCK() 0ULL
#define DISK_UNLOCK(Flags) UNUSED(Flags)
// Host tests of drivers may link this file without the cache, the shutdown
// code or a heap: the references are weak there, and a disk then simply has
// no cache (and DiskReadBytes no bounce sector).
#pragma weak CacheCreate
#pragma weak CacheDestroy
#pragma weak CacheRead
#pragma weak CacheWrite
#pragma weak CacheFlush
#pragma weak CacheInvalidate
#pragma weak CacheWriteBackRange
#pragma weak CacheShutdown
#pragma weak CacheGetStats
#pragma weak CacheCleanup
#pragma weak ShutdownRegisterHook
#pragma weak KernelHeapAlloc
#pragma weak KernelHeapFree
#endif

#ifdef CAIRN_HOST_BUILD
#define DISK_LINKED(Function) ((Function) != NULL)
#else
#define DISK_LINKED(Function) TRUE
#endif

#define DISK_MAX_LISTENERS 8
#define DISK_MAX_DEPTH 8  // partition of a partition ... bound when walking to the physical disk

static DISK* Disks;
static U32 DiskCount;
static U64 NextDiskId = 1;
static struct {
    DISK_LISTENER Listener;
    LPVOID Context;
} Listeners[DISK_MAX_LISTENERS];
static U32 ListenerCount;
static U64 DiskCacheBudget = MAX_U64;  // MAX_U64: not set, use the default
static BOOL DiskHookNeeded;

/************************************************************************/
// The driver, reached directly

/** Where a request's buffer Index is: a vectored request's segment, or the plain buffer (Index 0). */
static U8* DiskSegment(const DISK_IO* Request, U32 Index, U32 SectorSize, U64* Sectors) {
    if (Request->Segments == NULL) {
        *Sectors = Request->SectorCount;
        return (U8*)Request->Buffer;
    }
    *Sectors = Request->Segments[Index].Length / SectorSize;
    return (U8*)Request->Segments[Index].Buffer;
}

/**
 * The one request splitter: pieces of at most MaxTransferSectors sectors and MaxSegments buffers (a buffer may
 * be cut between two pieces); a piece of one buffer goes as a plain request, so a driver without vectored
 * calls never sees one. No piece is 4 GiB or more (a segment's length must fit in 32 bits).
 */
static KSTATUS DiskDriverTransfer(DISK* Disk, U32 Function, const DISK_IO* Request) {
    U32 SectorSize = Disk->SectorSize;
    U32 MaxSectors = MIN(Disk->MaxTransferSectors ? Disk->MaxTransferSectors : MAX_U32, MAX_U32 / SectorSize);
    U32 MaxSegments = MIN(MAX(Disk->MaxSegments, 1U), (U32)DISK_MAX_SEGMENTS);
    U32 Buffers = Request->Segments ? Request->SegmentCount : 1;
    U32 Index = 0;
    U64 Done = 0;  // sectors of buffer Index already sent
    U64 Sector = Request->Sector;
    DISK_SEGMENT Piece[DISK_MAX_SEGMENTS];
    while (Index < Buffers) {
        U32 Count = 0, Sectors = 0;
        while (Index < Buffers && Count < MaxSegments && Sectors < MaxSectors) {
            U64 Length;
            U8* Base = DiskSegment(Request, Index, SectorSize, &Length);
            U32 Take = (U32)MIN(Length - Done, (U64)(MaxSectors - Sectors));
            Piece[Count++] = (DISK_SEGMENT){Base + Done * SectorSize, Take * SectorSize};
            Sectors += Take;
            Done += Take;
            if (Done == Length) {
                Index++;
                Done = 0;
            }
        }
        DISK_IO Io = {Sector, Sectors, Piece[0].Buffer, NULL, 0};
        if (Count > 1) Io = (DISK_IO){Sector, Sectors, NULL, Piece, Count};
        KSTATUS Status = Disk->Driver->Command(Disk, Function, &Io);
        if (Status != KSTATUS_SUCCESS) return Status;
        Sector += Sectors;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS DiskDriverFlush(DISK* Disk) {
    KSTATUS Status = Disk->Driver->Command(Disk, DF_DISK_FLUSH, NULL);
    return Status == KSTATUS_NOT_SUPPORTED ? KSTATUS_SUCCESS : Status;
}

static KSTATUS DiskBackendTransfer(DISK* Disk, U32 Function, const DISK_IO* Io) {
    U32 Refused = DISK_ACCESS_DISABLED | (Function == DF_DISK_WRITE ? DISK_ACCESS_READ_ONLY : 0);
    if (Disk->Access & Refused) return KSTATUS_NO_PERMISSION;
    return DiskDriverTransfer(Disk, Function, Io);
}

static KSTATUS DiskBackendRead(LPVOID Context, U64 Sector, U32 Count, LPVOID Buffer) {
    DISK_IO Io = {Sector, Count, Buffer, NULL, 0};
    return DiskBackendTransfer((DISK*)Context, DF_DISK_READ, &Io);
}

static KSTATUS DiskBackendWrite(LPVOID Context, U64 Sector, U32 Count, LPCVOID Buffer) {
    DISK_IO Io = {Sector, Count, (LPVOID)Buffer, NULL, 0};
    return DiskBackendTransfer((DISK*)Context, DF_DISK_WRITE, &Io);
}

/** A vectored request's sectors (the cache's segments are whole sectors). */
static U32 DiskSegmentSectors(DISK* Disk, const DISK_SEGMENT* Segments, U32 Count) {
    U32 Sectors = 0;
    for (U32 I = 0; I < Count; I++) Sectors += Segments[I].Length / Disk->SectorSize;
    return Sectors;
}

static KSTATUS DiskBackendReadVector(LPVOID Context, U64 Sector, const DISK_SEGMENT* Segments, U32 Count) {
    DISK* Disk = (DISK*)Context;
    DISK_IO Io = {Sector, DiskSegmentSectors(Disk, Segments, Count), NULL, Segments, Count};
    return DiskBackendTransfer(Disk, DF_DISK_READ, &Io);
}

static KSTATUS DiskBackendWriteVector(LPVOID Context, U64 Sector, const DISK_SEGMENT* Segments, U32 Count) {
    DISK* Disk = (DISK*)Context;
    DISK_IO Io = {Sector, DiskSegmentSectors(Disk, Segments, Count), NULL, Segments, Count};
    return DiskBackendTransfer(Disk, DF_DISK_WRITE, &Io);
}

/************************************************************************/
// Cache setup and shutdown

void DiskSetCacheBudget(U64 Bytes) { DiskCacheBudget = Bytes; }

static U64 DiskDefaultCacheBudget(void) {
    if (DiskCacheBudget != MAX_U64) return DiskCacheBudget;
#ifndef CAIRN_HOST_BUILD
    U64 Budget = KernelGetOptionNumber("cache", CACHE_DEFAULT_BUDGET);
    MEMORY_STATS Memory;
    MemoryGetStats(&Memory);
    if (Memory.TotalBytes != 0) Budget = MIN(Budget, Memory.TotalBytes / 8);
    return Budget;
#else
    return CACHE_DEFAULT_BUDGET;
#endif
}

static void DiskShutdownHook(SHUTDOWN_KIND Kind, LPVOID Context) {
    UNUSED(Kind);
    UNUSED(Context);
    DiskSyncAll();
}

/** The cache's Dirtied callback: data waits in a cache, so the write-back hook must run before the drivers'. */
static void DiskRegisterShutdownHook(LPVOID Context) {
    UNUSED(Context);
    if (!__atomic_exchange_n(&DiskHookNeeded, FALSE, __ATOMIC_ACQ_REL)) return;
    if (DISK_LINKED(ShutdownRegisterHook)) ShutdownRegisterHook("disk cache write-back", DiskShutdownHook, NULL);
}

static void DiskAttachCache(DISK* Disk) {
    Disk->Cache = NULL;
    if (Disk->Parent != NULL || Disk->Type == DISK_TYPE_PARTITION || (Disk->Flags & DISK_FLAG_NO_CACHE)) return;
    if (!DISK_LINKED(CacheCreate)) return;
    U64 Budget = DiskDefaultCacheBudget();
    if (Budget == 0) return;
    CACHE_BACKEND Backend = {DiskBackendRead, DiskBackendWrite, DiskRegisterShutdownHook, Disk, NULL, NULL};
    if (Disk->MaxSegments > 1) {
        // The driver takes several buffers a call: fills and write-backs move the blocks' own memory.
        Backend.ReadVector = DiskBackendReadVector;
        Backend.WriteVector = DiskBackendWriteVector;
    }
    Disk->Cache = CacheCreate(Disk->SectorSize, Disk->SectorCount, 0, Budget, &Backend);
    if (Disk->Cache == NULL) {
        WARNING("[DiskRegister] %s: no sector cache (budget %llu bytes)", Disk->Name, Budget);
        return;
    }
    __atomic_store_n(&DiskHookNeeded, TRUE, __ATOMIC_RELEASE);
}

/************************************************************************/
// The disk list

KSTATUS DiskRegister(DISK* Disk) {
    DISK_INFO Info;
    if (Disk == NULL || Disk->Driver == NULL || Disk->Driver->Command == NULL || Disk->Name[0] == 0) {
        return KSTATUS_BAD_PARAMETER;
    }
    Disk->TypeID = KOID_DISK;
    Disk->References = 1;
    Disk->Cache = NULL;
    MemorySet(&Info, 0, sizeof(Info));
    KSTATUS Status = Disk->Driver->Command(Disk, DF_DISK_GETINFO, &Info);
    if (Status != KSTATUS_SUCCESS) return Status;
    if (Info.SectorSize < 512 || Info.SectorSize > 65536 || !IS_POWER_OF_TWO(Info.SectorSize)) {
        WARNING("[DiskRegister] %s reports sector size %u: not registered", Disk->Name, Info.SectorSize);
        return KSTATUS_BAD_PARAMETER;
    }
    if (Info.SectorCount == 0) {
        WARNING("[DiskRegister] %s reports no sectors: not registered", Disk->Name);
        return KSTATUS_BAD_PARAMETER;
    }
    Disk->SectorSize = Info.SectorSize;
    Disk->SectorCount = Info.SectorCount;
    Disk->Access = Info.Access;
    Disk->Type = Info.Type;
    Disk->MaxTransferSectors = Info.MaxTransferSectors;
    Disk->MaxSegments = Info.MaxSegments;
    if (DiskFind(Disk->Name) != NULL) {
        WARNING("[DiskRegister] a disk named %s already exists", Disk->Name);
        return KSTATUS_BAD_PARAMETER;
    }
    // The cache exists before anyone can reach the disk, so no request ever bypasses it.
    DiskAttachCache(Disk);

    U64 Flags = DISK_LOCK();
    if (DiskFind(Disk->Name) != NULL) {
        DISK_UNLOCK(Flags);
        WARNING("[DiskRegister] a disk named %s already exists", Disk->Name);
        if (Disk->Cache) CacheDestroy(Disk->Cache);
        Disk->Cache = NULL;
        return KSTATUS_BAD_PARAMETER;
    }
    Disk->ID = NextDiskId++;
    Disk->Next = NULL;
    DISK** Link = &Disks;
    while (*Link) Link = &(*Link)->Next;
    *Link = Disk;
    DiskCount++;
    U32 Count = ListenerCount;
    DISK_UNLOCK(Flags);

    for (U32 I = 0; I < Count; I++) Listeners[I].Listener(Disk, Listeners[I].Context);
    return KSTATUS_SUCCESS;
}

static DISK* DiskFindChild(DISK* Parent) {
    U64 Flags = DISK_LOCK();
    DISK* Child = NULL;
    for (DISK* Disk = Disks; Disk; Disk = Disk->Next) {
        if (Disk->Parent == Parent) {
            Child = Disk;
            break;
        }
    }
    DISK_UNLOCK(Flags);
    return Child;
}

void DiskUnregister(DISK* Disk) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK) return;
    // Partitions first: they forward to this disk. Each pass removes one, so the loop ends.
    for (DISK* Child = DiskFindChild(Disk); Child; Child = DiskFindChild(Disk)) DiskUnregister(Child);

    BOOL Found = FALSE;
    U64 Flags = DISK_LOCK();
    for (DISK** Link = &Disks; *Link; Link = &(*Link)->Next) {
        if (*Link == Disk) {
            *Link = Disk->Next;
            DiskCount--;
            Found = TRUE;
            break;
        }
    }
    DISK_UNLOCK(Flags);
    if (Found && Disk->Cache) {
        U32 Lost = CacheShutdown(Disk->Cache);
        if (Lost) WARNING("[DiskUnregister] %s: %u dirty blocks could not be written back", Disk->Name, Lost);
        // What was written back may sit in a volatile device cache: the last chance to make it durable.
        if (!(Disk->Access & DISK_ACCESS_DISABLED)) DiskDriverFlush(Disk);
    }
    Disk->Access |= DISK_ACCESS_DISABLED;
}

DISK* GetDiskList(void) { return Disks; }
U32 DiskGetCount(void) { return DiskCount; }

DISK* DiskFind(LPCSTR Name) {
    for (DISK* Disk = Disks; Disk; Disk = Disk->Next) {
        if (StringCompare(Disk->Name, Name) == 0) return Disk;
    }
    return NULL;
}

void DiskAddListener(DISK_LISTENER Listener, LPVOID Context) {
    U64 Flags = DISK_LOCK();
    if (ListenerCount >= DISK_MAX_LISTENERS) {
        DISK_UNLOCK(Flags);
        return;
    }
    Listeners[ListenerCount].Listener = Listener;
    Listeners[ListenerCount].Context = Context;
    ListenerCount++;
    DISK_UNLOCK(Flags);
    for (DISK* Disk = Disks; Disk; Disk = Disk->Next) Listener(Disk, Context);
}

/************************************************************************/
// Requests

/** A READ or WRITE through the cache, one buffer at a time. */
static KSTATUS DiskCachedTransfer(DISK* Disk, U32 Function, const DISK_IO* Io) {
    U32 Buffers = Io->Segments ? Io->SegmentCount : 1;
    U64 Sector = Io->Sector;
    for (U32 I = 0; I < Buffers; I++) {
        U64 Count;
        U8* Buffer = DiskSegment(Io, I, Disk->SectorSize, &Count);
        KSTATUS Status = Function == DF_DISK_READ ? CacheRead(Disk->Cache, Sector, (U32)Count, Buffer)
                                                  : CacheWrite(Disk->Cache, Sector, (U32)Count, Buffer);
        if (Status != KSTATUS_SUCCESS) return Status;
        Sector += Count;
    }
    return KSTATUS_SUCCESS;
}

/** READ/WRITE/TRIM/FLUSH of a disk with a cache. */
static KSTATUS DiskCachedCommand(DISK* Disk, U32 Function, DISK_IO* Io) {
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
            return DiskCachedTransfer(Disk, Function, Io);
        case DF_DISK_TRIM:
            // Forget the range first, so no later write-back puts old data back.
            CacheInvalidate(Disk->Cache, Io->Sector, Io->SectorCount);
            return Disk->Driver->Command(Disk, DF_DISK_TRIM, Io);
        default: {
            KSTATUS Status = CacheFlush(Disk->Cache, NULL);
            KSTATUS FlushStatus = DiskDriverFlush(Disk);
            return Status != KSTATUS_SUCCESS ? Status : FlushStatus;
        }
    }
}

static KSTATUS DiskDirectCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    DISK_IO* Io = (DISK_IO*)Parameter;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
            return DiskDriverTransfer(Disk, Function, Io);
        case DF_DISK_FLUSH:
            return DiskDriverFlush(Disk);
        default:
            return Disk->Driver->Command(Disk, Function, Parameter);
    }
}

/** Counts a finished READ/WRITE on the disk it was asked of. */
static void DiskCountRequest(DISK* Disk, U32 Function, U32 Sectors, KSTATUS Status) {
    if (Status != KSTATUS_SUCCESS) {
        Disk->ErrorCount++;
    } else if (Function == DF_DISK_READ) {
        Disk->ReadCount++;
        Disk->BytesRead += (U64)Sectors * Disk->SectorSize;
    } else {
        Disk->WriteCount++;
        Disk->BytesWritten += (U64)Sectors * Disk->SectorSize;
    }
}

/** A READ/WRITE names its data once: a buffer, or segments of whole sectors that add up to the request. */
static BOOL DiskCheckBuffers(DISK* Disk, const DISK_IO* Io) {
    if (Io->Segments == NULL) return Io->Buffer != NULL;
    if (Io->Buffer != NULL || Io->SegmentCount == 0) return FALSE;
    U64 Sectors = 0;
    for (U32 I = 0; I < Io->SegmentCount; I++) {
        const DISK_SEGMENT* Segment = &Io->Segments[I];
        if (Segment->Buffer == NULL || Segment->Length == 0 || Segment->Length % Disk->SectorSize != 0) return FALSE;
        Sectors += Segment->Length / Disk->SectorSize;
    }
    return Sectors == Io->SectorCount;
}

KSTATUS DiskCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->Driver == NULL) return KSTATUS_BAD_PARAMETER;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
        case DF_DISK_TRIM: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            if (Io == NULL || Io->SectorCount == 0) return KSTATUS_BAD_PARAMETER;
            if (Function != DF_DISK_TRIM && !DiskCheckBuffers(Disk, Io)) return KSTATUS_BAD_PARAMETER;
            if (Io->Sector >= Disk->SectorCount || Io->SectorCount > Disk->SectorCount - Io->Sector) {
                return KSTATUS_BAD_PARAMETER;
            }
            if (Disk->Access & DISK_ACCESS_DISABLED) return KSTATUS_NO_PERMISSION;
            if (Function != DF_DISK_READ && (Disk->Access & DISK_ACCESS_READ_ONLY)) return KSTATUS_NO_PERMISSION;
            break;
        }
        case DF_DISK_FLUSH:
            if (Disk->Access & DISK_ACCESS_DISABLED) return KSTATUS_NO_PERMISSION;
            break;
        case DF_DISK_GETINFO:
        case DF_DISK_SETACCESS:
            if (Parameter == NULL) return KSTATUS_BAD_PARAMETER;
            break;
        default:
            return KSTATUS_NOT_SUPPORTED;
    }

    KSTATUS Status;
    if (Disk->Cache != NULL && Function != DF_DISK_GETINFO && Function != DF_DISK_SETACCESS) {
        Status = DiskCachedCommand(Disk, Function, (DISK_IO*)Parameter);
    } else {
        if (Function == DF_DISK_SETACCESS && Disk->Cache != NULL) {
            U32 Closing = DISK_ACCESS_READ_ONLY | DISK_ACCESS_DISABLED;
            U32 New = ((DISK_ACCESS_REQUEST*)Parameter)->Access;
            if ((New & Closing) && !(Disk->Access & Closing)) {
                // Written back and flushed now: once closed, the disk refuses the flush that would make it durable.
                if (CacheFlush(Disk->Cache, NULL) != KSTATUS_SUCCESS) {
                    WARNING("[DiskCommand] %s: dirty blocks could not be written back before the access change",
                            Disk->Name);
                } else if (DiskDriverFlush(Disk) != KSTATUS_SUCCESS) {
                    WARNING("[DiskCommand] %s: the device flush before the access change failed", Disk->Name);
                }
            }
        }
        Status = DiskDirectCommand(Disk, Function, Parameter);
    }

    if (Function == DF_DISK_READ || Function == DF_DISK_WRITE) {
        DiskCountRequest(Disk, Function, ((DISK_IO*)Parameter)->SectorCount, Status);
    }
    if (Function == DF_DISK_SETACCESS && Status == KSTATUS_SUCCESS) {
        Disk->Access = ((DISK_ACCESS_REQUEST*)Parameter)->Access;
    }
    return Status;
}

KSTATUS DiskRead(DISK* Disk, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    DISK_IO Io = {Sector, SectorCount, Buffer, NULL, 0};
    return DiskCommand(Disk, DF_DISK_READ, &Io);
}

KSTATUS DiskWrite(DISK* Disk, U64 Sector, U32 SectorCount, LPCVOID Buffer) {
    DISK_IO Io = {Sector, SectorCount, (LPVOID)Buffer, NULL, 0};
    return DiskCommand(Disk, DF_DISK_WRITE, &Io);
}

static KSTATUS DiskVector(DISK* Disk, U32 Function, U64 Sector, const DISK_SEGMENT* Segments, U32 Count) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->SectorSize == 0 || Segments == NULL) {
        return KSTATUS_BAD_PARAMETER;
    }
    U64 Sectors = 0;
    for (U32 I = 0; I < Count; I++) Sectors += Segments[I].Length / Disk->SectorSize;
    if (Sectors == 0 || Sectors > MAX_U32) return KSTATUS_BAD_PARAMETER;
    DISK_IO Io = {Sector, (U32)Sectors, NULL, Segments, Count};
    return DiskCommand(Disk, Function, &Io);
}

KSTATUS DiskReadVector(DISK* Disk, U64 Sector, const DISK_SEGMENT* Segments, U32 Count) {
    return DiskVector(Disk, DF_DISK_READ, Sector, Segments, Count);
}

KSTATUS DiskWriteVector(DISK* Disk, U64 Sector, const DISK_SEGMENT* Segments, U32 Count) {
    return DiskVector(Disk, DF_DISK_WRITE, Sector, Segments, Count);
}

/************************************************************************/
// Asynchronous direct requests

KSTATUS DiskSubmit(DISK* Disk, U32 Function, const DISK_IO* Io, DISK_REQUEST* Request) {
    if (Request == NULL) return KSTATUS_BAD_PARAMETER;
    MemorySet(Request, 0, sizeof(*Request));
    Request->Disk = Disk;
    Request->Function = Function;
    Request->Status = KSTATUS_BAD_PARAMETER;
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->Driver == NULL || Io == NULL) return Request->Status;
    if (Function != DF_DISK_READ && Function != DF_DISK_WRITE) return Request->Status;
    if (Io->SectorCount == 0 || !DiskCheckBuffers(Disk, Io)) return Request->Status;
    if (Io->Sector >= Disk->SectorCount || Io->SectorCount > Disk->SectorCount - Io->Sector) return Request->Status;
    Request->Status = KSTATUS_NO_PERMISSION;
    if (!DiskAccessAllows(Disk, Function == DF_DISK_WRITE)) return Request->Status;

    // A partition is its parent's sectors from StartSector on, in the parent's sector size (the same size:
    // partitions inherit it), so the request goes to the physical disk's driver directly.
    DISK* Target = Disk;
    U64 Sector = Io->Sector;
    for (U32 Depth = 0; Target->Parent != NULL && Depth < DISK_MAX_DEPTH; Depth++) {
        Sector += Target->StartSector;
        Target = Target->Parent;
    }
    if (Target->Parent != NULL || Target->SectorSize != Disk->SectorSize) return Request->Status = KSTATUS_BAD_PARAMETER;
    Request->Target = Target;
    Request->Sector = Sector;
    Request->SectorCount = Io->SectorCount;
    DISK_IO Forward = *Io;
    Forward.Sector = Sector;

    if (Target->Cache != NULL) {
        KSTATUS Coherent = KSTATUS_SUCCESS;
        if (Function == DF_DISK_READ) Coherent = CacheWriteBackRange(Target->Cache, Sector, Io->SectorCount);
        else CacheInvalidate(Target->Cache, Sector, Io->SectorCount);
        if (Coherent != KSTATUS_SUCCESS) return Request->Status = Coherent;  // the device would read old data
    }
    if (Target->Driver->Submit != NULL && Target->Driver->Wait != NULL) {
        Request->Status = Target->Driver->Submit(Target, Function, &Forward, Request);
        Request->Pending = Request->Status == KSTATUS_SUCCESS;
        return Request->Status;
    }
    Request->Status = DiskDriverTransfer(Target, Function, &Forward);  // the synchronous fallback
    Request->Pending = Request->Status == KSTATUS_SUCCESS;  // counted and made coherent by DiskWaitRequest
    return Request->Status;
}

KSTATUS DiskWaitRequest(DISK_REQUEST* Request) {
    if (Request == NULL) return KSTATUS_BAD_PARAMETER;
    if (!Request->Pending) return Request->Status;
    Request->Pending = FALSE;
    DISK* Target = Request->Target;
    if (Target->Driver->Submit != NULL && Target->Driver->Wait != NULL) {
        Request->Status = Target->Driver->Wait(Target, Request);
    }
    // A fill that ran while the write was in flight may hold the old sectors: forget them once more.
    if (Request->Function == DF_DISK_WRITE && Target->Cache != NULL) {
        CacheInvalidate(Target->Cache, Request->Sector, Request->SectorCount);
    }
    DiskCountRequest(Request->Disk, Request->Function, Request->SectorCount, Request->Status);
    return Request->Status;
}

KSTATUS DiskTransferDirect(DISK* Disk, U32 Function, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    DISK_IO Io = {Sector, SectorCount, Buffer, NULL, 0};
    DISK_REQUEST Request;
    DiskSubmit(Disk, Function, &Io, &Request);
    return DiskWaitRequest(&Request);
}

/** The sector read-modify-write: whole sectors straight through, a cut sector through a bounce sector. */
static KSTATUS DiskTransferBytes(DISK* Disk, U64 Offset, U32 Length, U8* Buffer, BOOL Write) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->SectorSize == 0 || (Length != 0 && Buffer == NULL)) {
        return KSTATUS_BAD_PARAMETER;
    }
    U32 SectorSize = Disk->SectorSize;
    U64 DiskBytes = Disk->SectorCount * SectorSize;
    if (Offset > DiskBytes || Length > DiskBytes - Offset) return KSTATUS_BAD_PARAMETER;
    U8* Bounce = NULL;
    KSTATUS Status = KSTATUS_SUCCESS;
    while (Length > 0 && Status == KSTATUS_SUCCESS) {
        U64 Sector = Offset / SectorSize;
        U32 Within = (U32)(Offset % SectorSize);
        U32 Done;
        if (Within == 0 && Length >= SectorSize) {
            U32 Count = Length / SectorSize;
            Status = Write ? DiskWrite(Disk, Sector, Count, Buffer) : DiskRead(Disk, Sector, Count, Buffer);
            Done = Count * SectorSize;
        } else {
            Done = MIN(SectorSize - Within, Length);
            if (Bounce == NULL && DISK_LINKED(KernelHeapAlloc)) Bounce = (U8*)KernelHeapAlloc(SectorSize);
            Status = Bounce ? DiskRead(Disk, Sector, 1, Bounce) : KSTATUS_NO_MEMORY;
            if (Status == KSTATUS_SUCCESS && Write) {
                MemoryCopy(Bounce + Within, Buffer, Done);
                Status = DiskWrite(Disk, Sector, 1, Bounce);
            } else if (Status == KSTATUS_SUCCESS) {
                MemoryCopy(Buffer, Bounce + Within, Done);
            }
        }
        Offset += Done;
        Buffer += Done;
        Length -= Done;
    }
    if (Bounce) KernelHeapFree(Bounce);
    return Status;
}

KSTATUS DiskReadBytes(DISK* Disk, U64 Offset, U32 Length, LPVOID Buffer) {
    return DiskTransferBytes(Disk, Offset, Length, (U8*)Buffer, FALSE);
}

KSTATUS DiskWriteBytes(DISK* Disk, U64 Offset, U32 Length, LPCVOID Buffer) {
    return DiskTransferBytes(Disk, Offset, Length, (U8*)Buffer, TRUE);
}

KSTATUS DiskFlush(DISK* Disk) { return DiskCommand(Disk, DF_DISK_FLUSH, NULL); }

KSTATUS DiskGetInfo(DISK* Disk, DISK_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    return DiskCommand(Disk, DF_DISK_GETINFO, Info);
}

KSTATUS DiskSetAccess(DISK* Disk, U32 Access) {
    DISK_ACCESS_REQUEST Request = {Access};
    return DiskCommand(Disk, DF_DISK_SETACCESS, &Request);
}

static DISK* DiskPhysical(DISK* Disk) {
    for (U32 Depth = 0; Disk->Parent != NULL && Depth < DISK_MAX_DEPTH; Depth++) Disk = Disk->Parent;
    return Disk;
}

BOOL DiskAccessAllows(DISK* Disk, BOOL Write) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK) return FALSE;
    U32 Refused = DISK_ACCESS_DISABLED | (Write ? DISK_ACCESS_READ_ONLY : 0);
    for (U32 Depth = 0; Disk != NULL && Depth <= DISK_MAX_DEPTH; Disk = Disk->Parent, Depth++) {
        if (Disk->Access & Refused) return FALSE;
    }
    return TRUE;
}

struct tag_CACHE* DiskGetCache(DISK* Disk, U64* FirstSector) {
    *FirstSector = 0;
    if (Disk == NULL || Disk->TypeID != KOID_DISK) return NULL;
    U64 First = 0;
    // A partition's sectors have its parent's size: its start adds up in the physical disk's sectors.
    for (U32 Depth = 0; Disk->Parent != NULL && Depth < DISK_MAX_DEPTH; Depth++) {
        First += Disk->StartSector;
        Disk = Disk->Parent;
    }
    if (Disk->Parent != NULL) return NULL;
    *FirstSector = First;
    return Disk->Cache;
}

KSTATUS DiskSync(DISK* Disk, U32* Written) {
    if (Written) *Written = 0;
    if (Disk == NULL || Disk->TypeID != KOID_DISK) return KSTATUS_BAD_PARAMETER;
    Disk = DiskPhysical(Disk);
    if (Disk->Cache == NULL) return DiskFlush(Disk);
    if (Disk->Access & DISK_ACCESS_DISABLED) return KSTATUS_NO_PERMISSION;
    KSTATUS Status = CacheFlush(Disk->Cache, Written);
    KSTATUS FlushStatus = DiskDriverFlush(Disk);
    return Status != KSTATUS_SUCCESS ? Status : FlushStatus;
}

KSTATUS DiskInvalidateCache(DISK* Disk) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK) return KSTATUS_BAD_PARAMETER;
    Disk = DiskPhysical(Disk);
    if (Disk->Cache == NULL) return KSTATUS_SUCCESS;
    KSTATUS Status = CacheFlush(Disk->Cache, NULL);
    CacheCleanup(Disk->Cache);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[DiskInvalidateCache] %s: dirty blocks kept (%s)", Disk->Name, DiskStatusName(Status));
    }
    return Status;
}

U32 DiskDirtyBlocks(DISK* Disk) {
    if (Disk == NULL || Disk->Cache == NULL) return 0;
    CACHE_STATS Stats;
    CacheGetStats(Disk->Cache, &Stats);
    return Stats.DirtyBlocks;
}

KSTATUS DiskSyncAll(void) {
    KSTATUS Result = KSTATUS_SUCCESS;
    for (DISK* Disk = Disks; Disk; Disk = Disk->Next) {
        if (Disk->Parent != NULL) continue;
        U32 Dirty = DiskDirtyBlocks(Disk);
        // A disabled disk has nothing to flush unless writes are still waiting for it.
        if ((Disk->Access & DISK_ACCESS_DISABLED) && Dirty == 0) continue;
        U32 Written = 0;
        KSTATUS Status = DiskSync(Disk, &Written);
        if (Status != KSTATUS_SUCCESS) {
            ERROR("[DiskSyncAll] %s: %s, %u dirty blocks not written", Disk->Name, DiskStatusName(Status),
                  Dirty - MIN(Dirty, Written));
            if (Result == KSTATUS_SUCCESS) Result = Status;
        } else if (Written != 0) {
            INFO("[DiskSyncAll] %s: %u blocks written back", Disk->Name, Written);
        }
    }
    return Result;
}

LPCSTR DiskStatusName(KSTATUS Status) {
    switch (Status) {
        case KSTATUS_SUCCESS: return "success";
        case KSTATUS_BAD_PARAMETER: return "invalid argument";
        case KSTATUS_NO_MEMORY: return "out of memory";
        case KSTATUS_NOT_FOUND: return "not found";
        case KSTATUS_TIMEOUT: return "timed out";
        case KSTATUS_IO_ERROR: return "I/O error";
        case KSTATUS_NOT_SUPPORTED: return "not supported";
        case KSTATUS_NO_PERMISSION: return "read-only or disabled";
        case KSTATUS_BUSY: return "busy";
        default: return "error";
    }
}

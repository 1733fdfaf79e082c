/*
 * HostDisk.c - the host kernel's memory DISK driver (see HostDisk.h).
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "HostDisk.h"
#include "HostKernel.h"

/** TRUE if [Sector, Sector + Count) touches the fault range. */
static BOOL HostDiskHitsFault(const HOST_DISK* Host, U64 Sector, U32 Count) {
    return Sector <= Host->FailLast && Sector + Count - 1 >= Host->FailFirst;
}

static U8* HostDiskBytes(HOST_DISK* Host, const DISK_IO* Io) {
    if (Host->Data == NULL) HostKernelFail("%s: a transfer with no data and no hook to serve it", Host->Disk.Name);
    return Host->Data + Io->Sector * Host->SectorSize;
}

/** The checks every read, write and trim passes, whoever serves it. */
static void HostDiskCheck(HOST_DISK* Host, U32 Function, const DISK_IO* Io) {
    if (Io == NULL || Io->SectorCount == 0 || Io->Sector >= Host->Sectors ||
        Io->SectorCount > Host->Sectors - Io->Sector) {
        HostKernelFail("%s: request outside the disk (sector %llu, %u sectors of %llu)", Host->Disk.Name,
                       Io ? Io->Sector : 0ULL, Io ? Io->SectorCount : 0U, Host->Sectors);
    }
    if (Function == DF_DISK_TRIM) return;
    if (Host->MaxTransfer != 0 && Io->SectorCount > Host->MaxTransfer) {
        HostKernelFail("%s: %u sectors in one request, more than the %u reported", Host->Disk.Name, Io->SectorCount,
                       Host->MaxTransfer);
    }
    if (Io->Segments != NULL && (Io->SegmentCount < 2 || Io->SegmentCount > Host->MaxSegments)) {
        HostKernelFail("%s: %u segments in one request (%u reported)", Host->Disk.Name, Io->SegmentCount,
                       Host->MaxSegments);
    }
    if (Host->ExpectLocked && HostMutexDepth() == 0) {
        HostKernelFail("%s: a request without the caller's lock held", Host->Disk.Name);
    }
}

/** Copies between the disk's bytes and the request's buffer (or, in order, its segments). */
static void HostDiskCopy(HOST_DISK* Host, const DISK_IO* Io, BOOL Write) {
    U8* Disk = HostDiskBytes(Host, Io);
    if (Io->Segments == NULL) {
        SIZE Bytes = (SIZE)Io->SectorCount * Host->SectorSize;
        if (Write) memcpy(Disk, Io->Buffer, Bytes);
        else memcpy(Io->Buffer, Disk, Bytes);
        return;
    }
    if (Write) Host->VectoredWrites++;
    else Host->VectoredReads++;
    for (U32 I = 0; I < Io->SegmentCount; I++) {
        if (Write) memcpy(Disk, Io->Segments[I].Buffer, Io->Segments[I].Length);
        else memcpy(Io->Segments[I].Buffer, Disk, Io->Segments[I].Length);
        Disk += Io->Segments[I].Length;
    }
}

static KSTATUS HostDiskTransfer(HOST_DISK* Host, U32 Function, DISK_IO* Io) {
    SIZE Bytes = (SIZE)Io->SectorCount * Host->SectorSize;
    switch (Function) {
        case DF_DISK_READ:
            Host->Reads++;
            Host->LastSector = Io->Sector;
            Host->LastCount = Io->SectorCount;
            if (Host->FailReads && HostDiskHitsFault(Host, Io->Sector, Io->SectorCount)) return KSTATUS_IO_ERROR;
            HostDiskCopy(Host, Io, FALSE);
            Host->SectorsRead += Io->SectorCount;
            return KSTATUS_SUCCESS;
        case DF_DISK_WRITE:
            Host->Writes++;
            Host->LastSector = Io->Sector;
            Host->LastCount = Io->SectorCount;
            if (Host->FailWrites && HostDiskHitsFault(Host, Io->Sector, Io->SectorCount)) return KSTATUS_IO_ERROR;
            HostDiskCopy(Host, Io, TRUE);
            Host->SectorsWritten += Io->SectorCount;
            return KSTATUS_SUCCESS;
        default:  // DF_DISK_TRIM
            Host->Trims++;
            memset(HostDiskBytes(Host, Io), 0, Bytes);
            return KSTATUS_SUCCESS;
    }
}

static KSTATUS HostDiskCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    HOST_DISK* Host = (HOST_DISK*)Disk->DriverData;
    KSTATUS Status;
    BOOL Transfer = Function == DF_DISK_READ || Function == DF_DISK_WRITE || Function == DF_DISK_TRIM;
    if (Transfer) HostDiskCheck(Host, Function, (const DISK_IO*)Parameter);
    if (Host->Hook && Host->Hook(Host, Function, Parameter, &Status)) return Status;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
            return HostDiskTransfer(Host, Function, (DISK_IO*)Parameter);
        case DF_DISK_TRIM:
            return Host->SupportsTrim ? HostDiskTransfer(Host, Function, (DISK_IO*)Parameter) : KSTATUS_NOT_SUPPORTED;
        case DF_DISK_FLUSH:
            Host->Flushes++;
            return KSTATUS_SUCCESS;
        case DF_DISK_GETINFO: {
            DISK_INFO* Info = (DISK_INFO*)Parameter;
            snprintf(Info->Name, sizeof(Info->Name), "%s", Disk->Name);
            snprintf(Info->Model, sizeof(Info->Model), "%s", Host->Descriptor >= 0 ? "host image" : "host memory");
            Info->Type = Host->Type;
            Info->SectorSize = Host->SectorSize;
            Info->SectorCount = Host->Sectors;
            Info->Access = Disk->Access;
            Info->MaxTransferSectors = Host->MaxTransfer;
            Info->MaxSegments = Host->MaxSegments;
            Info->SupportsTrim = Host->SupportsTrim;
            Info->VolatileCache = Host->VolatileCache;
            return KSTATUS_SUCCESS;
        }
        case DF_DISK_SETACCESS:
            return KSTATUS_SUCCESS;
        default:
            return KSTATUS_NOT_SUPPORTED;
    }
}

/** What an asynchronous request keeps until its wait (in DISK_REQUEST's driver words). */
typedef struct tag_HOST_DISK_PENDING {
    DISK_IO Io;
    KSTATUS Early;  // a vectored request moves at submission (its segment list is the caller's, for the call only)
    BOOL Moved;
} HOST_DISK_PENDING;

/**
 * Submit takes a request of any size (DISK_DRIVER.Submit: split as the driver must, as NVMe splits at MDTS),
 * so a plain one moves in pieces of at most MaxTransfer sectors, each checked as a command is.
 */
static KSTATUS HostDiskServe(DISK* Disk, U32 Function, const DISK_IO* Io) {
    HOST_DISK* Host = (HOST_DISK*)Disk->DriverData;
    U32 Most = Host->MaxTransfer ? Host->MaxTransfer : Io->SectorCount;
    if (Io->Segments != NULL || Io->SectorCount <= Most) return HostDiskCommand(Disk, Function, (LPVOID)Io);
    for (U32 Done = 0; Done < Io->SectorCount;) {
        U32 Take = Io->SectorCount - Done < Most ? Io->SectorCount - Done : Most;
        DISK_IO Piece = {Io->Sector + Done, Take, (U8*)Io->Buffer + (SIZE)Done * Host->SectorSize, NULL, 0};
        KSTATUS Status = HostDiskCommand(Disk, Function, &Piece);
        if (Status != KSTATUS_SUCCESS) return Status;
        Done += Take;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS HostDiskSubmit(DISK* Disk, U32 Function, const DISK_IO* Io, DISK_REQUEST* Request) {
    HOST_DISK* Host = (HOST_DISK*)Disk->DriverData;
    _Static_assert(sizeof(HOST_DISK_PENDING) <= sizeof(Request->Driver), "the pending state fits the request");
    if (!Host->Async) return HostDiskServe(Disk, Function, Io);  // moved now; the wait has nothing to do
    HOST_DISK_PENDING* Pending = (HOST_DISK_PENDING*)Request->Driver;
    memset(Pending, 0, sizeof(*Pending));
    Pending->Io = *Io;
    if (Io->Segments != NULL) {
        Pending->Early = HostDiskCommand(Disk, Function, (LPVOID)Io);
        Pending->Moved = TRUE;
    } else {
        DISK_IO First = *Io;  // the whole range is checked piece by piece at the wait
        if (Host->MaxTransfer != 0 && First.SectorCount > Host->MaxTransfer) First.SectorCount = Host->MaxTransfer;
        HostDiskCheck(Host, Function, &First);
    }
    Host->Submits++;
    Host->InFlight++;
    if (Host->InFlight > Host->MaxInFlight) Host->MaxInFlight = Host->InFlight;
    return KSTATUS_SUCCESS;
}

static KSTATUS HostDiskWait(DISK* Disk, DISK_REQUEST* Request) {
    HOST_DISK* Host = (HOST_DISK*)Disk->DriverData;
    if (!Host->Async) return KSTATUS_SUCCESS;  // moved at submission
    HOST_DISK_PENDING* Pending = (HOST_DISK_PENDING*)Request->Driver;
    if (Host->InFlight == 0) HostKernelFail("%s: a wait for a request that is not in flight", Disk->Name);
    Host->InFlight--;
    if (Pending->Moved) return Pending->Early;
    Pending->Moved = TRUE;
    return HostDiskServe(Disk, Request->Function, &Pending->Io);
}

static const DISK_DRIVER HostDiskDriver = {"host", HostDiskCommand, HostDiskSubmit, HostDiskWait};

static HOST_DISK* HostDiskNew(LPCSTR Name, U32 SectorSize, U64 Sectors) {
    HOST_DISK* Host = (HOST_DISK*)calloc(1, sizeof(HOST_DISK));
    if (Host == NULL) HostKernelFail("no memory for disk %s", Name);
    snprintf(Host->Disk.Name, sizeof(Host->Disk.Name), "%s", Name);
    Host->Disk.Driver = &HostDiskDriver;
    Host->Disk.DriverData = Host;
    Host->SectorSize = SectorSize;
    Host->Sectors = Sectors;
    Host->Type = DISK_TYPE_RAM;
    Host->Descriptor = -1;
    return Host;
}

HOST_DISK* HostDiskCreate(LPCSTR Name, U32 SectorSize, U64 Sectors) {
    HOST_DISK* Host = HostDiskNew(Name, SectorSize, Sectors);
    Host->Data = (U8*)calloc(Sectors ? Sectors : 1, SectorSize);
    if (Host->Data == NULL) HostKernelFail("no memory for the %llu sectors of disk %s", Sectors, Name);
    return Host;
}

HOST_DISK* HostDiskCreateHooked(LPCSTR Name, U32 SectorSize, U64 Sectors, HOST_DISK_HOOK Hook, LPVOID Context) {
    HOST_DISK* Host = HostDiskNew(Name, SectorSize, Sectors);
    Host->Hook = Hook;
    Host->HookContext = Context;
    return Host;
}

HOST_DISK* HostDiskOpenFile(LPCSTR Name, LPCSTR Path, U32 SectorSize) {
    int Descriptor = open(Path, O_RDWR);
    struct stat Stat;
    if (Descriptor < 0 || fstat(Descriptor, &Stat) != 0) HostKernelFail("cannot open the image %s", Path);
    HOST_DISK* Host = HostDiskNew(Name, SectorSize, (U64)Stat.st_size / SectorSize);
    Host->Descriptor = Descriptor;
    Host->MappedBytes = (SIZE)(Host->Sectors * SectorSize);
    if (Host->MappedBytes != 0) {
        LPVOID Mapped = mmap(NULL, Host->MappedBytes, PROT_READ | PROT_WRITE, MAP_SHARED, Descriptor, 0);
        if (Mapped == MAP_FAILED) HostKernelFail("cannot map the image %s", Path);
        Host->Data = (U8*)Mapped;
    }
    return Host;
}

void HostDiskDestroy(HOST_DISK* Host) {
    if (Host == NULL) return;
    if (Host->Descriptor >= 0) {
        if (Host->Data) munmap(Host->Data, Host->MappedBytes);
        close(Host->Descriptor);
    } else {
        free(Host->Data);
    }
    free(Host);
}

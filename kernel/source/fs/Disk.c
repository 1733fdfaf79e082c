/*
 * Disk.c - the disk list and the checked entry point to disk drivers.
 *
 * The list only grows at registration and shrinks at unregistration, both
 * rare; readers walk it without a lock because a disk is never freed while
 * registered (drivers keep their DISK for the life of the device).
 */

#include "fs/Disk.h"

#include "core/Log.h"
#include "utils/String.h"

#ifndef CAIRN_HOST_BUILD
#include "core/Spinlock.h"
static SPINLOCK DiskListLock = SPINLOCK_INIT;
#define DISK_LOCK() SpinlockAcquire(&DiskListLock)
#define DISK_UNLOCK(Flags) SpinlockRelease(&DiskListLock, Flags)
#else
#define DISK_LOCK() 0ULL
#define DISK_UNLOCK(Flags) UNUSED(Flags)
#endif

#define DISK_MAX_LISTENERS 8

static DISK* Disks;
static U32 DiskCount;
static U64 NextDiskId = 1;
static struct {
    DISK_LISTENER Listener;
    LPVOID Context;
} Listeners[DISK_MAX_LISTENERS];
static U32 ListenerCount;

KSTATUS DiskRegister(DISK* Disk) {
    DISK_INFO Info;
    if (Disk == NULL || Disk->Driver == NULL || Disk->Driver->Command == NULL || Disk->Name[0] == 0) {
        return KSTATUS_BAD_PARAMETER;
    }
    Disk->TypeID = KOID_DISK;
    Disk->References = 1;
    MemorySet(&Info, 0, sizeof(Info));
    KSTATUS Status = Disk->Driver->Command(Disk, DF_DISK_GETINFO, &Info);
    if (Status != KSTATUS_SUCCESS) return Status;
    if (Info.SectorSize < 512 || Info.SectorSize > 65536 || !IS_POWER_OF_TWO(Info.SectorSize)) {
        WARNING("[DiskRegister] %s reports sector size %u: not registered", Disk->Name, Info.SectorSize);
        return KSTATUS_BAD_PARAMETER;
    }
    Disk->SectorSize = Info.SectorSize;
    Disk->SectorCount = Info.SectorCount;
    Disk->Access = Info.Access;

    U64 Flags = DISK_LOCK();
    if (DiskFind(Disk->Name) != NULL) {
        DISK_UNLOCK(Flags);
        WARNING("[DiskRegister] a disk named %s already exists", Disk->Name);
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

void DiskUnregister(DISK* Disk) {
    U64 Flags = DISK_LOCK();
    for (DISK** Link = &Disks; *Link; Link = &(*Link)->Next) {
        if (*Link == Disk) {
            *Link = Disk->Next;
            DiskCount--;
            break;
        }
    }
    DISK_UNLOCK(Flags);
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

KSTATUS DiskCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->Driver == NULL) return KSTATUS_BAD_PARAMETER;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
        case DF_DISK_TRIM: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            if (Io == NULL || Io->SectorCount == 0) return KSTATUS_BAD_PARAMETER;
            if (Function != DF_DISK_TRIM && Io->Buffer == NULL) return KSTATUS_BAD_PARAMETER;
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

    KSTATUS Status = Disk->Driver->Command(Disk, Function, Parameter);
    if (Function == DF_DISK_READ || Function == DF_DISK_WRITE) {
        DISK_IO* Io = (DISK_IO*)Parameter;
        if (Status != KSTATUS_SUCCESS) {
            Disk->ErrorCount++;
        } else if (Function == DF_DISK_READ) {
            Disk->ReadCount++;
            Disk->BytesRead += (U64)Io->SectorCount * Disk->SectorSize;
        } else {
            Disk->WriteCount++;
            Disk->BytesWritten += (U64)Io->SectorCount * Disk->SectorSize;
        }
    }
    if (Function == DF_DISK_SETACCESS && Status == KSTATUS_SUCCESS) {
        Disk->Access = ((DISK_ACCESS_REQUEST*)Parameter)->Access;
    }
    return Status;
}

KSTATUS DiskRead(DISK* Disk, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    DISK_IO Io = {Sector, SectorCount, Buffer};
    return DiskCommand(Disk, DF_DISK_READ, &Io);
}

KSTATUS DiskWrite(DISK* Disk, U64 Sector, U32 SectorCount, LPCVOID Buffer) {
    DISK_IO Io = {Sector, SectorCount, (LPVOID)Buffer};
    return DiskCommand(Disk, DF_DISK_WRITE, &Io);
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

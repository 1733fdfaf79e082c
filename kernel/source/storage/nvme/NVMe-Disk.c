/*
 * NVMe-Disk.c - NVMe namespaces as DISK objects (block/Disk.h).
 *
 * Every namespace the driver can serve becomes one DISK named
 * `nvme<C>n<NSID>`, embedded in its NVME_NAMESPACE (never freed). The DISK
 * layer checks bounds and access before calling here, so this file only
 * translates DF_DISK_* functions into NVMe-IO calls:
 *   READ/WRITE  synchronous transfers (split and bounced as needed),
 *               vectored ones too while SGLs are in use (MaxSegments)
 *   Submit/Wait asynchronous READ/WRITE (DiskSubmit): the commands of one
 *               request queued together (NVMeTransferStart) under an
 *               NVME_REQUEST kept in the caller's DISK_REQUEST, completed
 *               by the child-done path, ended by NVMeRequestWait (the
 *               driver's deadlines bound it); buffers that would need the
 *               bounce buffer (not dword aligned) go synchronously
 *   GETINFO     name, model, serial, geometry, access, per-command limit,
 *               volatile write cache (Identify Controller VWC bit 0)
 *   SETACCESS   accepted and stored (DiskCommand enforces it)
 *   FLUSH       an NVMe Flush when a volatile write cache exists, else
 *               nothing to do
 *   TRIM        Dataset Management deallocate (NVMeTrim) when ONCS has it
 *               (SupportsTrim says so), else KSTATUS_NOT_SUPPORTED
 * A namespace that goes away (NVMe-Namespace.c) has its DISK unregistered:
 * requests already past DiskCommand fail here (not exposed), later ones in
 * the disk layer (disabled).
 */

#include "storage/nvme/NVMe-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

static KSTATUS NVMeDiskGetInfo(NVME_NAMESPACE* Namespace, DISK* Disk, DISK_INFO* Info) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    MemorySet(Info, 0, sizeof(*Info));
    StringCopy(Info->Name, Disk->Name, sizeof(Info->Name));
    StringCopy(Info->Model, Controller->Info.Identify.Model, sizeof(Info->Model));
    StringCopy(Info->Serial, Controller->Info.Identify.Serial, sizeof(Info->Serial));
    Info->Type = DISK_TYPE_NVME;
    Info->SectorSize = Namespace->LbaSize;
    Info->SectorCount = Namespace->Blocks;
    Info->Access = Disk->Access;
    Info->MaxTransferSectors = Namespace->MaxBlocks;  // one device command; larger requests are split
    // Vectored requests when SGLs are in use: then any layout is one command (the cache fills and writes back
    // its blocks in place). With PRPs only, blocks that do not meet on page boundaries would each need a
    // command: the disk layer's one-buffer calls (and the cache's staging copy) are better then.
    Info->MaxSegments = Controller->Info.SglMode != NVME_SGL_OFF ? DISK_MAX_SEGMENTS : 0;
    Info->SupportsTrim = (Controller->Info.Identify.Oncs & NVME_ONCS_DSM) != 0;
    Info->VolatileCache = (Controller->Info.Identify.Vwc & NVME_VWC_PRESENT) != 0;
    return KSTATUS_SUCCESS;
}

static KSTATUS NVMeDiskCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    NVME_NAMESPACE* Namespace = (NVME_NAMESPACE*)Disk->DriverData;
    if (Namespace == NULL) return KSTATUS_BAD_PARAMETER;
    if (!Namespace->Exposed) return KSTATUS_IO_ERROR;  // gone (detached, removed): its mount sees errors
    switch (Function) {
        case DF_DISK_READ: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            if (Io->Segments) return NVMeReadVector(Namespace, Io->Sector, Io->Segments, Io->SegmentCount);
            return NVMeReadSync(Namespace, Io->Sector, Io->SectorCount, Io->Buffer);
        }
        case DF_DISK_WRITE: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            if (Io->Segments) return NVMeWriteVector(Namespace, Io->Sector, Io->Segments, Io->SegmentCount);
            return NVMeWriteSync(Namespace, Io->Sector, Io->SectorCount, Io->Buffer);
        }
        case DF_DISK_GETINFO:
            return NVMeDiskGetInfo(Namespace, Disk, (DISK_INFO*)Parameter);
        case DF_DISK_SETACCESS: {
            DISK_ACCESS_REQUEST* Request = (DISK_ACCESS_REQUEST*)Parameter;
            if (Request->Access & ~(U32)(DISK_ACCESS_READ_ONLY | DISK_ACCESS_DISABLED)) return KSTATUS_BAD_PARAMETER;
            return KSTATUS_SUCCESS;  // DiskCommand stores it and enforces it on every request
        }
        case DF_DISK_TRIM: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            return NVMeTrim(Namespace, Io->Sector, Io->SectorCount);
        }
        case DF_DISK_FLUSH:
            // Nothing volatile: nothing to write back.
            if ((Namespace->Controller->Info.Identify.Vwc & NVME_VWC_PRESENT) == 0) return KSTATUS_SUCCESS;
            return NVMeFlushSync(Namespace);
        default:
            return KSTATUS_NOT_SUPPORTED;
    }
}

/** What a request in flight keeps in its DISK_REQUEST's driver words. */
typedef struct tag_NVME_DISK_PENDING {
    NVME_REQUEST Request;
    NVME_QUEUE* Queue;     // NULL: the transfer was done synchronously at submission
    KSTATUS Start;         // the submission's status (commands before an error are still waited for)
} NVME_DISK_PENDING;

STATIC_ASSERT(sizeof(NVME_DISK_PENDING) <= sizeof(((DISK_REQUEST*)0)->Driver), "an NVMe request fits DISK_REQUEST");

static KSTATUS NVMeDiskSubmit(DISK* Disk, U32 Function, const DISK_IO* Io, DISK_REQUEST* Request) {
    NVME_NAMESPACE* Namespace = (NVME_NAMESPACE*)Disk->DriverData;
    NVME_DISK_PENDING* Pending = (NVME_DISK_PENDING*)Request->Driver;
    Pending->Queue = NULL;
    if (Namespace == NULL) return KSTATUS_BAD_PARAMETER;
    if (!Namespace->Exposed) return KSTATUS_IO_ERROR;
    DISK_SEGMENT Single = {Io->Buffer, 0};
    const DISK_SEGMENT* Segments = Io->Segments ? Io->Segments : &Single;
    U32 Count = Io->Segments ? Io->SegmentCount : 1;
    BOOL Direct = (U64)Io->SectorCount * Namespace->LbaSize <= MAX_U32;
    if (Io->Segments == NULL) Single.Length = Io->SectorCount * Namespace->LbaSize;
    for (U32 I = 0; I < Count && Direct; I++) Direct = IS_ALIGNED((LINEAR)Segments[I].Buffer, 4);
    if (!Direct) {
        // The bounce buffer (one user at a time) or a transfer of 4 GiB: synchronous now, ended by the wait.
        Pending->Start = NVMeDiskCommand(Disk, Function, (LPVOID)Io);
        return KSTATUS_SUCCESS;
    }
    KSTATUS Status = NVMeIoCheckRange(Namespace, Io->Sector, Io->SectorCount, Segments);
    if (Status != KSTATUS_SUCCESS) return Status;
    NVME_QUEUE* Queue = NVMeIoPickQueue(Namespace->Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    U8 Opcode = Function == DF_DISK_WRITE ? NVME_IO_WRITE : NVME_IO_READ;
    Pending->Queue = Queue;
    Pending->Start =
        NVMeTransferStart(Namespace, Queue, Opcode, Io->Sector, Io->SectorCount, Segments, Count, &Pending->Request);
    return KSTATUS_SUCCESS;
}

static KSTATUS NVMeDiskWait(DISK* Disk, DISK_REQUEST* Request) {
    NVME_NAMESPACE* Namespace = (NVME_NAMESPACE*)Disk->DriverData;
    NVME_DISK_PENDING* Pending = (NVME_DISK_PENDING*)Request->Driver;
    if (Pending->Queue == NULL) return Pending->Start;
    NVME_CONTROLLER* Controller = Namespace->Controller;
    KSTATUS Result = NVMeRequestWait(Pending->Queue, &Pending->Request, Controller->IoTimeoutMs);
    NVMeRequestRelease(Controller, &Pending->Request);
    Pending->Queue = NULL;
    return Pending->Start != KSTATUS_SUCCESS ? Pending->Start : Result;
}

static const DISK_DRIVER NVMeDiskDriver = {"nvme", NVMeDiskCommand, NVMeDiskSubmit, NVMeDiskWait};

BOOL NVMeDiskRegister(NVME_NAMESPACE* Namespace) {
    NVME_CONTROLLER* Controller = Namespace->Controller;
    NVME_NAMESPACE_INFO* Info = Namespace->Info;
    DISK* Disk = &Namespace->Disk;
    MemorySet(Disk, 0, sizeof(*Disk));
    StringCopy(Disk->Name, Info->DiskName, sizeof(Disk->Name));
    Disk->Driver = &NVMeDiskDriver;
    Disk->DriverData = Namespace;
    KSTATUS Status = DiskRegister(Disk);
    if (Status != KSTATUS_SUCCESS) {
        Info->Exposed = FALSE;
        Namespace->Exposed = FALSE;
        StringCopy(Info->Reason, "DiskRegister failed", sizeof(Info->Reason));
        Info->DiskName[0] = 0;
        WARNING("[NVMeDiskRegisterNamespaces] %s: %s not registered (%d)", Controller->Info.Name, Disk->Name, Status);
        return FALSE;
    }
    Namespace->DiskRegistered = TRUE;
    INFO("[NVMeDiskRegisterNamespaces] %s: %llu blocks of %u bytes, up to %u blocks per command", Disk->Name,
         Namespace->Blocks, Namespace->LbaSize, Namespace->MaxBlocks);
    return TRUE;
}

/*
 * Partition.c - partition DISKs: the scanner run at disk registration and
 * the DISK driver that forwards a partition's requests to its parent.
 *
 * A PARTITION is allocated once per partition found and never freed: other
 * layers keep DISK pointers, and an unregistered partition stays a valid
 * object that refuses every request (DiskUnregister disables it).
 *
 * The forwarding goes through DiskCommand on the parent, not its driver, so
 * a partition shares the parent's sector cache (raw and partition access
 * stay coherent) and the parent's access mode applies to it too (a
 * read-only disk refuses writes through any of its partitions).
 */

#include "block/Partition.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "utils/Format.h"
#include "utils/String.h"

typedef struct tag_PARTITION {
    DISK Disk;
    PARTITION_INFO Info;
    BOOL Registered;   // before: GETINFO reports the parent's access mode as the initial one
} PARTITION;

static KSTATUS PartitionCommand(DISK* Disk, U32 Function, LPVOID Parameter);

static const DISK_DRIVER PartitionDriver = {"partition", PartitionCommand, NULL, NULL};

static KSTATUS PartitionCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    PARTITION* Partition = (PARTITION*)Disk->DriverData;
    DISK* Parent = Partition->Info.Parent;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE:
        case DF_DISK_TRIM: {
            // DiskCommand checked the range against the partition; the start was checked against the parent.
            DISK_IO* Io = (DISK_IO*)Parameter;
            if (Io->Sector >= Partition->Info.SectorCount ||
                Io->SectorCount > Partition->Info.SectorCount - Io->Sector) {
                return KSTATUS_BAD_PARAMETER;
            }
            DISK_IO Forward = *Io;  // a vectored request keeps its segments
            Forward.Sector = Partition->Info.StartSector + Io->Sector;
            return DiskCommand(Parent, Function, &Forward);
        }
        case DF_DISK_FLUSH:
            return DiskCommand(Parent, DF_DISK_FLUSH, NULL);
        case DF_DISK_GETINFO: {
            DISK_INFO ParentInfo;
            KSTATUS Status = DiskGetInfo(Parent, &ParentInfo);
            if (Status != KSTATUS_SUCCESS) return Status;
            DISK_INFO* Info = (DISK_INFO*)Parameter;
            MemorySet(Info, 0, sizeof(*Info));
            StringCopy(Info->Name, Disk->Name, sizeof(Info->Name));
            StringPrintFormat(Info->Model, sizeof(Info->Model), "%s partition", Partition->Info.TypeName);
            StringCopy(Info->Serial, ParentInfo.Serial, sizeof(Info->Serial));
            Info->Type = DISK_TYPE_PARTITION;
            Info->SectorSize = Parent->SectorSize;
            Info->SectorCount = Partition->Info.SectorCount;
            Info->Access = Partition->Registered ? Disk->Access : Parent->Access;
            Info->MaxTransferSectors = 0;  // DiskCommand on the parent splits
            Info->MaxSegments = DISK_MAX_SEGMENTS;  // and cuts vectors for its driver
            Info->SupportsTrim = ParentInfo.SupportsTrim;
            Info->VolatileCache = ParentInfo.VolatileCache;
            return KSTATUS_SUCCESS;
        }
        case DF_DISK_SETACCESS:
            return KSTATUS_SUCCESS;  // DiskCommand records it; the parent's own mode still applies
        default:
            return KSTATUS_NOT_SUPPORTED;
    }
}

static KSTATUS PartitionReadParent(LPVOID Context, U64 Sector, U32 SectorCount, LPVOID Buffer) {
    return DiskRead((DISK*)Context, Sector, SectorCount, Buffer);
}

static BOOL PartitionRegister(DISK* Parent, const PARTITION_ENTRY* Entry) {
    PARTITION* Partition = (PARTITION*)KernelHeapAllocZero(sizeof(PARTITION));
    if (Partition == NULL) {
        WARNING("[PartitionRegister] %s: no memory for partition %u", Parent->Name, Entry->Number);
        return FALSE;
    }
    PARTITION_INFO* Info = &Partition->Info;
    Info->Parent = Parent;
    Info->Scheme = Entry->Scheme;
    Info->Number = Entry->Number;
    Info->StartSector = Entry->StartSector;
    Info->SectorCount = Entry->SectorCount;
    Info->MbrType = Entry->MbrType;
    Info->Active = Entry->Active;
    Info->Logical = Entry->Logical;
    MemoryCopy(Info->TypeGuid, Entry->TypeGuid, 16);
    MemoryCopy(Info->UniqueGuid, Entry->UniqueGuid, 16);
    Info->Attributes = Entry->Attributes;
    StringCopy(Info->Name, Entry->Name, sizeof(Info->Name));
    StringCopy(Info->TypeName, PartitionTypeName(Entry), sizeof(Info->TypeName));
    if (Entry->Scheme == PARTITION_SCHEME_GPT) {
        PartitionFormatGuid(Entry->TypeGuid, Info->TypeCode, sizeof(Info->TypeCode));
    } else {
        StringPrintFormat(Info->TypeCode, sizeof(Info->TypeCode), "0x%02x", Entry->MbrType);
    }

    DISK* Disk = &Partition->Disk;
    SIZE Length = StringPrintFormat(Disk->Name, sizeof(Disk->Name), "%sp%u", Parent->Name, Entry->Number);
    if (Length >= sizeof(Disk->Name)) {
        WARNING("[PartitionRegister] %s: partition name for %u too long", Parent->Name, Entry->Number);
        KernelHeapFree(Partition);
        return FALSE;
    }
    Disk->Driver = &PartitionDriver;
    Disk->DriverData = Partition;
    Disk->Parent = Parent;
    Disk->StartSector = Info->StartSector;
    Disk->Flags = DISK_FLAG_NO_CACHE;
    char Size[16];
    FormatByteSize(Size, sizeof(Size), Info->SectorCount * Parent->SectorSize, FORMAT_SIZE_TENTHS);
    KSTATUS Status = DiskRegister(Disk);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[PartitionRegister] %s: %s", Disk->Name, DiskStatusName(Status));
        KernelHeapFree(Partition);
        return FALSE;
    }
    Partition->Registered = TRUE;
    BOOL Named = Info->Name[0] != 0;
    INFO("[PartitionRegister] %s: %s %s, sectors %llu-%llu (%s)%s%s%s", Disk->Name, PartitionSchemeName(Info->Scheme),
         Info->TypeName, Info->StartSector, Info->StartSector + Info->SectorCount - 1, Size, Named ? ", \"" : "",
         Info->Name, Named ? "\"" : "");
    return TRUE;
}

static BOOL PartitionHasChildren(DISK* Disk) {
    for (DISK* Other = GetDiskList(); Other; Other = Other->Next) {
        if (Other->Parent == Disk) return TRUE;
    }
    return FALSE;
}

U32 PartitionScanDisk(DISK* Disk) {
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->Parent != NULL || Disk->Type == DISK_TYPE_PARTITION) {
        return 0;
    }
    if (PartitionHasChildren(Disk)) return 0;
    PARTITION_TABLE* Table = (PARTITION_TABLE*)KernelHeapAlloc(sizeof(PARTITION_TABLE));
    if (Table == NULL) {
        WARNING("[PartitionScanDisk] %s: no memory to scan the partition table", Disk->Name);
        return 0;
    }
    PARTITION_SOURCE Source = {Disk->SectorSize, Disk->SectorCount, PartitionReadParent, Disk};
    KSTATUS Status = PartitionTableScan(&Source, Table);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[PartitionScanDisk] %s: partition table not read (%s)", Disk->Name, DiskStatusName(Status));
        KernelHeapFree(Table);
        return 0;
    }
    // One warning line per disk; the other problems go to the debug log.
    if (Table->WarningCount == 1) {
        WARNING("[PartitionScanDisk] %s: %s", Disk->Name, Table->Warnings[0]);
    } else if (Table->WarningCount > 1) {
        WARNING("[PartitionScanDisk] %s: %s (and %u more problems)", Disk->Name, Table->Warnings[0],
                Table->WarningCount - 1);
        for (U32 I = 1; I < MIN(Table->WarningCount, (U32)PARTITION_MAX_WARNINGS); I++) {
            DEBUG("[PartitionScanDisk] %s: %s", Disk->Name, Table->Warnings[I]);
        }
    }
    U32 Registered = 0;
    for (U32 I = 0; I < Table->Count; I++) {
        if (PartitionRegister(Disk, &Table->Entries[I])) Registered++;
    }
    if (Table->Scheme == PARTITION_SCHEME_NONE) {
        INFO("[PartitionScanDisk] %s: no partition table", Disk->Name);
    } else {
        INFO("[PartitionScanDisk] %s: %s, %u partition%s", Disk->Name, PartitionSchemeName(Table->Scheme), Registered,
             Registered == 1 ? "" : "s");
    }
    KernelHeapFree(Table);
    return Registered;
}

static void PartitionListener(DISK* Disk, LPVOID Context) {
    UNUSED(Context);
    if (Disk->Parent == NULL && Disk->Type != DISK_TYPE_PARTITION) PartitionScanDisk(Disk);
}

void PartitionInit(void) { DiskAddListener(PartitionListener, NULL); }

KSTATUS PartitionGetInfo(DISK* Disk, PARTITION_INFO* Info) {
    if (Info == NULL) return KSTATUS_BAD_PARAMETER;
    MemorySet(Info, 0, sizeof(*Info));
    if (Disk == NULL || Disk->TypeID != KOID_DISK || Disk->Driver != &PartitionDriver) return KSTATUS_NOT_FOUND;
    *Info = ((PARTITION*)Disk->DriverData)->Info;
    return KSTATUS_SUCCESS;
}

/*
 * ShellDisk.c - the `disk` command: list disks, dump sectors, and write or
 * verify the deterministic test pattern (utils/Pattern.h).
 *
 *   disk                                          one line per disk (and partition)
 *   disk dump <disk> <lba> [count]                 xxd-style hex dump
 *   disk fill <disk> <lba> <count> <seed> [offset=N]
 *   disk check <disk> <lba> <count> <seed> [offset=N]
 *   disk access <disk> ro|rw|off                   the access mode
 *
 * Everything goes through block/Disk.h, so it works on any disk driver. The
 * transfer buffer of fill and check starts N bytes past a page boundary
 * (N a multiple of 4 below 4096): a driver then sees every first-page
 * offset a caller can produce, which is what PRP construction gets wrong.
 * Output formats are documented in documentation/Disk-Commands.md and read
 * by tests/integration/test_nvme.py: change them together.
 */

#include "shell/ShellCommands.h"

#include "block/Disk.h"
#include "block/Partition.h"
#include "fs/VFS.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "shell/ShellDisk.h"
#include "utils/Format.h"
#include "utils/Pattern.h"
#include "utils/String.h"

// A dump prints at most this many bytes (64 sectors of 512 bytes, 8 of 4 KiB).
#define DISK_DUMP_MAX_BYTES (32 * N_1KB)
// Fill and check move at most this much per DiskRead/DiskWrite. Above 2 MiB a
// 4 KiB-page PRP list no longer fits one page (the driver must chain lists);
// below 4 MiB, because QEMU maps at most 1024 (IOV_MAX) segments per command.
#define DISK_CHUNK_BYTES (3 * N_1MB)
#define DISK_MAX_BUFFER_OFFSET 4096

/************************************************************************/
// Shared helpers (shell/ShellDisk.h)

DISK* ShellDiskFind(LPCSTR Command, LPCSTR Name) {
    DISK* Disk = DiskFind(Name);
    if (Disk == NULL) ShellError(Command, "no disk named '%s'", Name);
    return Disk;
}

/************************************************************************/
// Arguments

typedef struct tag_DISK_RANGE {
    DISK* Disk;
    U64 Lba;
    U64 Count;
} DISK_RANGE;

static BOOL ParseNumber(LPCSTR What, LPCSTR Text, U64* Value) {
    if (!StringToU64(Text, Value, FALSE)) {
        ShellError("disk", "bad %s '%s' (a decimal or 0x hex number)", What, Text);
        return FALSE;
    }
    return TRUE;
}

/** Parses "<disk> <lba> <count>" and checks the range against the disk. */
static BOOL ParseRange(LPCSTR DiskName, LPCSTR LbaText, LPCSTR CountText, DISK_RANGE* Range) {
    Range->Disk = ShellDiskFind("disk", DiskName);
    if (Range->Disk == NULL) return FALSE;
    if (!ParseNumber("LBA", LbaText, &Range->Lba)) return FALSE;
    Range->Count = 1;
    if (CountText != NULL && !ParseNumber("count", CountText, &Range->Count)) return FALSE;
    if (Range->Count == 0) {
        ShellError("disk", "count must be at least 1");
        return FALSE;
    }
    U64 Sectors = Range->Disk->SectorCount;
    if (Range->Lba >= Sectors || Range->Count > Sectors - Range->Lba) {
        ShellError("disk", "range %llu+%llu is past the end of %s (%llu sectors)", Range->Lba, Range->Count,
                   Range->Disk->Name, Sectors);
        return FALSE;
    }
    return TRUE;
}

/**
 * Sectors per DiskRead/DiskWrite: DISK_CHUNK_BYTES whatever the driver's
 * MaxTransferSectors says. Disk requests may be larger than one device
 * command (the driver splits them, block/Disk.h), and fill/check exist to make
 * it do so: an MDTS-limited controller then gets many commands in flight
 * for one call.
 */
static U32 ChunkSectors(const DISK* Disk) { return MAX((U32)(DISK_CHUNK_BYTES / Disk->SectorSize), 1U); }

/************************************************************************/
// disk (list)

void ShellDiskDescribeFileSystem(DISK* Disk, LPSTR FileSystem, SIZE FileSystemSize, LPSTR MountPoint,
                                 SIZE MountPointSize) {
    U32 Count = VFSGetMountCount();
    for (U32 I = 0; I < Count; I++) {
        VFS_MOUNT_INFO Mount;
        if (VFSGetMountInfo(I, &Mount, NULL) != VFS_OK) continue;
        if (StringCompare(Mount.Device, Disk->Name) != 0) continue;
        StringCopy(FileSystem, Mount.Type, FileSystemSize);
        StringCopy(MountPoint, Mount.Path, MountPointSize);
        if (Mount.ReadOnly) StringAppend(MountPoint, " (ro)", MountPointSize);
        return;
    }
}

static LPCSTR AccessName(U32 Access) {
    if (Access & DISK_ACCESS_DISABLED) return "off";
    if (Access & DISK_ACCESS_READ_ONLY) return "ro";
    return "rw";
}

/** What a disk row shows: the driver's answer, or a placeholder when it gives none. */
static void DescribeDisk(DISK* Disk, DISK_INFO* Info) {
    if (DiskGetInfo(Disk, Info) != KSTATUS_SUCCESS) {
        MemorySet(Info, 0, sizeof(*Info));
        StringCopy(Info->Model, "(no answer)", sizeof(Info->Model));
        Info->SectorSize = Disk->SectorSize;
        Info->SectorCount = Disk->SectorCount;
    }
    if (Info->Model[0] == 0) StringCopy(Info->Model, "-", sizeof(Info->Model));
}

static I32 ListDisks(void) {
    if (GetDiskList() == NULL) {
        ShellPrint("No disks found\n");
        return 0;
    }
    // The name and model columns are as wide as their longest entry ("Linux filesystem partition" is 26).
    U32 NameWidth = 12, ModelWidth = 24;
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        DISK_INFO Info;
        DescribeDisk(Disk, &Info);
        NameWidth = MAX(NameWidth, (U32)StringLength(Disk->Name));
        ModelWidth = MAX(ModelWidth, (U32)StringLength(Info.Model));
    }
    ShellPrint("%-*s %-*s %6s %14s  %-10s  %-13s %-3s\n", NameWidth, "NAME", ModelWidth, "MODEL", "SECTOR", "SECTORS",
               "SIZE", "SIZE (BINARY)", "ACC");
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        DISK_INFO Info;
        char Decimal[24], Binary[24];
        DescribeDisk(Disk, &Info);
        U64 Bytes = Info.SectorCount * Info.SectorSize;
        FormatByteSize(Decimal, sizeof(Decimal), Bytes, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL);
        FormatByteSize(Binary, sizeof(Binary), Bytes, FORMAT_SIZE_FIXED2);
        ShellPrint("%-*s %-*s %6u %14llu  %-10s  %-13s %-3s\n", NameWidth, Disk->Name, ModelWidth, Info.Model,
                   Info.SectorSize, Info.SectorCount, Decimal, Binary, AccessName(Disk->Access));
        PARTITION_INFO Partition;
        if (Disk->Parent != NULL && PartitionGetInfo(Disk, &Partition) == KSTATUS_SUCCESS) {
            char FileSystem[16] = "-", MountPoint[64] = "-";
            ShellDiskDescribeFileSystem(Disk, FileSystem, sizeof(FileSystem), MountPoint, sizeof(MountPoint));
            ShellPrint("  partition %u of %s: type %s (%s), start %llu, %llu sectors, file system %s, mounted on %s\n",
                       Partition.Number, Partition.Parent ? Partition.Parent->Name : "?", Partition.TypeName,
                       Partition.TypeCode, Partition.StartSector, Partition.SectorCount, FileSystem, MountPoint);
        }
    }
    return 0;
}

/************************************************************************/
// disk access

static I32 CommandAccess(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 4) {
        ShellError("disk", "usage: disk access <disk> ro|rw|off");
        return 1;
    }
    DISK* Disk = DiskFind(Arguments[2]);
    if (Disk == NULL) {
        ShellError("disk", "no disk named '%s'", Arguments[2]);
        return 1;
    }
    U32 Access;
    if (StringCompare(Arguments[3], "ro") == 0) Access = DISK_ACCESS_READ_ONLY;
    else if (StringCompare(Arguments[3], "rw") == 0) Access = 0;
    else if (StringCompare(Arguments[3], "off") == 0) Access = DISK_ACCESS_DISABLED;
    else {
        ShellError("disk", "access must be ro, rw or off, not '%s'", Arguments[3]);
        return 1;
    }
    KSTATUS Status = DiskSetAccess(Disk, Access);
    if (Status != KSTATUS_SUCCESS) {
        ShellError("disk", "%s: cannot set access: %s", Disk->Name, DiskStatusName(Status));
        return 1;
    }
    ShellPrint("%s: access %s\n", Disk->Name, AccessName(Disk->Access));
    return 0;
}

/************************************************************************/
// disk dump

/** One line in xxd's layout: "OOOOOOOO: xxxx xxxx ... xxxx  ascii". */
static void DumpLine(U64 Offset, const U8* Bytes) {
    char Line[96];
    SIZE Length = StringPrintFormat(Line, sizeof(Line), "%08llx:", Offset);
    for (U32 I = 0; I < 16; I += 2) {
        Length += StringPrintFormat(Line + Length, sizeof(Line) - Length, " %02x%02x", Bytes[I], Bytes[I + 1]);
    }
    Line[Length++] = ' ';
    Line[Length++] = ' ';
    for (U32 I = 0; I < 16; I++) Line[Length++] = (Bytes[I] >= 0x20 && Bytes[I] < 0x7F) ? (char)Bytes[I] : '.';
    Line[Length++] = '\n';
    Line[Length] = 0;
    ShellPrint("%s", Line);
}

static I32 CommandDump(I32 ArgumentCount, LPSTR* Arguments) {
    DISK_RANGE Range;
    if (ArgumentCount < 4 || ArgumentCount > 5) {
        ShellError("disk", "usage: disk dump <disk> <lba> [count]");
        return 1;
    }
    if (!ParseRange(Arguments[2], Arguments[3], ArgumentCount == 5 ? Arguments[4] : NULL, &Range)) return 1;
    U32 SectorSize = Range.Disk->SectorSize;
    U64 MaxSectors = MAX(DISK_DUMP_MAX_BYTES / SectorSize, 1ULL);
    if (Range.Count > MaxSectors) {
        ShellError("disk", "dump shows at most %llu sectors of %s at a time", MaxSectors, Range.Disk->Name);
        return 1;
    }
    SIZE Bytes = (SIZE)(Range.Count * SectorSize);
    U8* Buffer = (U8*)KernelHeapAlloc(Bytes);
    if (Buffer == NULL) {
        ShellError("disk", "out of memory for %lu bytes", (UINT)Bytes);
        return 1;
    }
    KSTATUS Status = DiskRead(Range.Disk, Range.Lba, (U32)Range.Count, Buffer);
    if (Status != KSTATUS_SUCCESS) {
        ShellError("disk", "read of %s LBA %llu+%llu failed: %s", Range.Disk->Name, Range.Lba, Range.Count,
                   DiskStatusName(Status));
        KernelHeapFree(Buffer);
        return 1;
    }
    U64 Base = Range.Lba * SectorSize;
    for (SIZE Offset = 0; Offset < Bytes; Offset += 16) DumpLine(Base + Offset, Buffer + Offset);
    KernelHeapFree(Buffer);
    return 0;
}

/************************************************************************/
// disk fill / disk check

typedef struct tag_PATTERN_JOB {
    DISK_RANGE Range;
    U64 Seed;
    U32 BufferOffset;   // bytes past a page boundary where the transfer buffer starts
    LPVOID Allocation;
    U8* Buffer;
    U32 ChunkSectors;
} PATTERN_JOB;

static BOOL ParsePatternArguments(I32 ArgumentCount, LPSTR* Arguments, PATTERN_JOB* Job) {
    LPCSTR Verb = Arguments[1];
    if (ArgumentCount < 6 || ArgumentCount > 7) {
        ShellError("disk", "usage: disk %s <disk> <lba> <count> <seed> [offset=N]", Verb);
        return FALSE;
    }
    MemorySet(Job, 0, sizeof(*Job));
    if (!ParseRange(Arguments[2], Arguments[3], Arguments[4], &Job->Range)) return FALSE;
    if (!ParseNumber("seed", Arguments[5], &Job->Seed)) return FALSE;
    if (ArgumentCount == 7) {
        U64 Offset;
        if (!StringStartsWith(Arguments[6], "offset=")) {
            ShellError("disk", "unknown argument '%s' (expected offset=N)", Arguments[6]);
            return FALSE;
        }
        if (!ParseNumber("offset", Arguments[6] + 7, &Offset)) return FALSE;
        if (Offset >= DISK_MAX_BUFFER_OFFSET) {
            ShellError("disk", "offset=%llu must be below %u", Offset, DISK_MAX_BUFFER_OFFSET);
            return FALSE;
        }
        // NVMe PRP entries must be dword aligned (NVMe 2.0 base spec 4.1.1); so must the buffer.
        if ((Offset & 3) != 0) {
            ShellError("disk", "offset=%llu is not a multiple of 4", Offset);
            return FALSE;
        }
        Job->BufferOffset = (U32)Offset;
    }
    Job->ChunkSectors = (U32)MIN((U64)ChunkSectors(Job->Range.Disk), Job->Range.Count);
    SIZE ChunkBytes = (SIZE)Job->ChunkSectors * Job->Range.Disk->SectorSize;
    Job->Allocation = KernelHeapAlloc(ChunkBytes + PAGE_SIZE + Job->BufferOffset);
    if (Job->Allocation == NULL) {
        ShellError("disk", "out of memory for a %lu-byte buffer", (UINT)ChunkBytes);
        return FALSE;
    }
    Job->Buffer = (U8*)ALIGN_UP((LINEAR)Job->Allocation, PAGE_SIZE) + Job->BufferOffset;
    return TRUE;
}

static I32 CommandFill(I32 ArgumentCount, LPSTR* Arguments) {
    PATTERN_JOB Job;
    if (!ParsePatternArguments(ArgumentCount, Arguments, &Job)) return 1;
    DISK* Disk = Job.Range.Disk;
    U32 SectorSize = Disk->SectorSize;
    U64 Done = 0;
    while (Done < Job.Range.Count) {
        U32 Sectors = (U32)MIN((U64)Job.ChunkSectors, Job.Range.Count - Done);
        U64 Lba = Job.Range.Lba + Done;
        PatternFill(Job.Buffer, (SIZE)Sectors * SectorSize, Job.Seed, Lba * SectorSize);
        KSTATUS Status = DiskWrite(Disk, Lba, Sectors, Job.Buffer);
        if (Status != KSTATUS_SUCCESS) {
            ShellError("disk", "write of %s LBA %llu+%u failed: %s", Disk->Name, Lba, Sectors, DiskStatusName(Status));
            KernelHeapFree(Job.Allocation);
            return 1;
        }
        Done += Sectors;
    }
    KernelHeapFree(Job.Allocation);
    // Make the data durable, so a test that stops the machine finds it in the backing file.
    KSTATUS Status = DiskFlush(Disk);
    if (Status != KSTATUS_SUCCESS && Status != KSTATUS_NOT_SUPPORTED) {
        ShellError("disk", "flush of %s failed: %s", Disk->Name, DiskStatusName(Status));
        return 1;
    }
    ShellPrint("fill: OK (%llu bytes)\n", Job.Range.Count * SectorSize);
    return 0;
}

static I32 CommandCheck(I32 ArgumentCount, LPSTR* Arguments) {
    PATTERN_JOB Job;
    if (!ParsePatternArguments(ArgumentCount, Arguments, &Job)) return 1;
    DISK* Disk = Job.Range.Disk;
    U32 SectorSize = Disk->SectorSize;
    U64 Done = 0;
    while (Done < Job.Range.Count) {
        U32 Sectors = (U32)MIN((U64)Job.ChunkSectors, Job.Range.Count - Done);
        U64 Lba = Job.Range.Lba + Done;
        SIZE Bytes = (SIZE)Sectors * SectorSize;
        // Poison the buffer so a read that moved no data cannot pass as the previous chunk's.
        MemorySet(Job.Buffer, 0xA5, Bytes);
        KSTATUS Status = DiskRead(Disk, Lba, Sectors, Job.Buffer);
        if (Status != KSTATUS_SUCCESS) {
            ShellError("disk", "read of %s LBA %llu+%u failed: %s", Disk->Name, Lba, Sectors, DiskStatusName(Status));
            KernelHeapFree(Job.Allocation);
            return 1;
        }
        U8 Expected = 0;
        SIZE Index = PatternCheck(Job.Buffer, Bytes, Job.Seed, Lba * SectorSize, &Expected);
        if (Index != Bytes) {
            U64 Position = Lba * SectorSize + Index;
            ShellPrint("check: mismatch at byte %llu (LBA %llu + %llu): expected %02x, read %02x\n", Position,
                       Position / SectorSize, Position % SectorSize, Expected, Job.Buffer[Index]);
            KernelHeapFree(Job.Allocation);
            return 1;
        }
        Done += Sectors;
    }
    KernelHeapFree(Job.Allocation);
    ShellPrint("check: OK (%llu bytes)\n", Job.Range.Count * SectorSize);
    return 0;
}

/************************************************************************/

static I32 CommandDisk(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount == 1) return ListDisks();
    LPCSTR Verb = Arguments[1];
    if (StringCompare(Verb, "dump") == 0) return CommandDump(ArgumentCount, Arguments);
    if (StringCompare(Verb, "fill") == 0) return CommandFill(ArgumentCount, Arguments);
    if (StringCompare(Verb, "check") == 0) return CommandCheck(ArgumentCount, Arguments);
    if (StringCompare(Verb, "access") == 0) return CommandAccess(ArgumentCount, Arguments);
    ShellError("disk", "unknown subcommand '%s' (usage: disk [dump|fill|check|access] ...)", Verb);
    return 1;
}

static const SHELL_COMMAND DiskShellCommand = {
    "disk", "[dump|fill|check|access <disk> ...]",
    "List disks and partitions; dump sectors; fill/check the test pattern; access ro|rw|off",
    CommandDisk};

void ShellRegisterDiskCommands(void) { ShellRegisterCommand(&DiskShellCommand); }

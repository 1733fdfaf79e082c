/*
 * EXT2-Super.c - mounting an EXT2 volume: the superblock, the group
 * descriptors, features, and the rules every operation runs under.
 *
 * Mount checks the superblock and every group descriptor before anything
 * else reads the volume: the geometry must fit the disk, each group's
 * bitmaps and inode table must lie inside that group, and the counts must
 * agree. Unknown incompatible features refuse the mount (named in the log);
 * unknown read-only-compatible ones mount read-only.
 *
 * An operation runs between EXT2Begin (lock; refuses to modify a read-only
 * volume or disk) and EXT2End (syncs the volume's block device, writes the
 * dirty descriptor blocks and the superblock to the disk, sends the
 * discards, then unlocks). Corruption found at any time
 * goes through EXT2Corrupt: one warning for the volume's lifetime, the
 * volume turns read-only, the superblock records the error (when the disk
 * can be written) so e2fsck checks it, and the caller gets VFS_ERROR_IO.
 *
 * The superblock's state stays "clean" while mounted: every operation
 * leaves the volume consistent when it returns (there is no journal to
 * replay), so an interrupted session needs no forced check; a crash in the
 * middle of an operation can leave what e2fsck would fix.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "system/RTC.h"
#include "utils/Format.h"
#include "utils/String.h"

typedef struct tag_EXT2_FEATURE_NAME {
    U32 Bit;
    LPCSTR Name;
} EXT2_FEATURE_NAME;

// Names as e2fsprogs prints them (lib/e2p/feature.c lists them).
static const EXT2_FEATURE_NAME EXT2IncompatNames[] = {
    {EXT2_INCOMPAT_COMPRESSION, "compression"}, {EXT2_INCOMPAT_FILETYPE, "filetype"},
    {EXT2_INCOMPAT_RECOVER, "needs_recovery"},  {EXT2_INCOMPAT_JOURNAL_DEV, "journal_dev"},
    {EXT2_INCOMPAT_META_BG, "meta_bg"},         {EXT2_INCOMPAT_EXTENTS, "extent"},
    {EXT2_INCOMPAT_64BIT, "64bit"},             {EXT2_INCOMPAT_MMP, "mmp"},
    {EXT2_INCOMPAT_FLEX_BG, "flex_bg"},         {EXT2_INCOMPAT_EA_INODE, "ea_inode"},
    {EXT2_INCOMPAT_DIRDATA, "dirdata"},         {EXT2_INCOMPAT_CSUM_SEED, "metadata_csum_seed"},
    {EXT2_INCOMPAT_LARGEDIR, "large_dir"},      {EXT2_INCOMPAT_INLINE_DATA, "inline_data"},
    {EXT2_INCOMPAT_ENCRYPT, "encrypt"},         {EXT2_INCOMPAT_CASEFOLD, "casefold"},
};

static const EXT2_FEATURE_NAME EXT2RoCompatNames[] = {
    {EXT2_RO_COMPAT_SPARSE_SUPER, "sparse_super"},   {EXT2_RO_COMPAT_LARGE_FILE, "large_file"},
    {EXT2_RO_COMPAT_BTREE_DIR, "btree_dir"},         {EXT2_RO_COMPAT_HUGE_FILE, "huge_file"},
    {EXT2_RO_COMPAT_GDT_CSUM, "uninit_bg"},          {EXT2_RO_COMPAT_DIR_NLINK, "dir_nlink"},
    {EXT2_RO_COMPAT_EXTRA_ISIZE, "extra_isize"},     {EXT2_RO_COMPAT_QUOTA, "quota"},
    {EXT2_RO_COMPAT_BIGALLOC, "bigalloc"},           {EXT2_RO_COMPAT_METADATA_CSUM, "metadata_csum"},
    {EXT2_RO_COMPAT_READONLY, "read-only"},          {EXT2_RO_COMPAT_PROJECT, "project"},
};

static void EXT2FeatureNames(const EXT2_FEATURE_NAME* Names, U32 Count, U32 Bits, LPSTR Text, SIZE Size) {
    Text[0] = 0;
    for (U32 Bit = 0; Bit < 32; Bit++) {
        U32 Mask = 1U << Bit;
        if ((Bits & Mask) == 0) continue;
        char Unknown[24];
        LPCSTR Name = NULL;
        for (U32 I = 0; I < Count; I++) {
            if (Names[I].Bit == Mask) Name = Names[I].Name;
        }
        if (Name == NULL) {
            StringPrintFormat(Unknown, sizeof(Unknown), "FEATURE_%x", Mask);
            Name = Unknown;
        }
        if (Text[0]) StringAppend(Text, " ", Size);
        StringAppend(Text, Name, Size);
    }
}

U32 EXT2Now(void) { return (U32)RTCCurrentTime(); }

/************************************************************************/
// Corruption, operations, write-back

BOOL EXT2CanWrite(EXT2_VOLUME* Volume) { return !Volume->ReadOnly && DiskAccessAllows(Volume->Disk, TRUE); }

VFS_STATUS EXT2Corrupt(EXT2_VOLUME* Volume, LPCSTR Format, ...) {
    char Message[160];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Message, sizeof(Message), Format, Arguments);
    VA_END(Arguments);
    if (!Volume->ErrorSeen) {
        WARNING("[EXT2Corrupt] %s: corrupt file system (%s): now read-only, run e2fsck", Volume->Disk->Name,
                Message);
        Volume->ErrorSeen = TRUE;
        if (!Volume->MountedReadOnly && EXT2CanWrite(Volume)) {
            Volume->Super.State |= EXT2_STATE_ERRORS;
            Volume->SuperDirty = TRUE;
        }
    } else {
        DEBUG("[EXT2Corrupt] %s: %s", Volume->Disk->Name, Message);
    }
    Volume->ReadOnly = TRUE;
    return VFS_ERROR_IO;
}

VFS_STATUS EXT2Begin(EXT2_VOLUME* Volume, BOOL Modify) {
    if (Volume == NULL || Volume->Magic != EXT2_VOLUME_MAGIC) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&Volume->Lock);
    if (Modify && !EXT2CanWrite(Volume)) {
        MutexUnlock(&Volume->Lock);
        return VFS_ERROR_READ_ONLY;
    }
    return VFS_OK;
}

void EXT2MarkGroupDirty(EXT2_VOLUME* Volume, U32 Group) {
    U32 Block = (U32)(((U64)Group * sizeof(EXT2_GROUP_DESCRIPTOR)) >> Volume->BlockShift);
    if (Block < Volume->DescriptorBlocks) Volume->DescriptorBlockDirty[Block] = 1;
    Volume->SuperDirty = TRUE;
}

static VFS_STATUS EXT2WriteSuperblock(EXT2_VOLUME* Volume) {
    Volume->Super.WriteTime = EXT2Now();
    VFS_STATUS Status = EXT2WriteBytes(Volume, EXT2_SUPERBLOCK_OFFSET, EXT2_SUPERBLOCK_SIZE, &Volume->Super);
    if (Status == VFS_OK) Volume->SuperDirty = FALSE;
    return Status;
}

/**
 * The end of an operation, in this order: the metadata blocks (a private
 * block cache writes them to the disk now; the disk's own cache already
 * holds them), the dirty descriptor blocks, the superblock, then the
 * discards of the blocks the operation freed. What reached the disk's cache
 * is written back by it (sync, unmount, shutdown, eviction), in block order.
 */
static VFS_STATUS EXT2WriteBack(EXT2_VOLUME* Volume) {
    VFS_STATUS Result = VFSDiskStatus(BlockDeviceSync(&Volume->Blocks), TRUE);
    BOOL MetadataWritten = Result == VFS_OK;
    for (U32 Block = 0; Block < Volume->DescriptorBlocks; Block++) {
        if (!Volume->DescriptorBlockDirty[Block]) continue;
        const U8* Data = (const U8*)Volume->Groups + ((SIZE)Block << Volume->BlockShift);
        VFS_STATUS Status = EXT2WriteBlocks(Volume, Volume->FirstDataBlock + 1 + Block, 1, Data);
        if (Status == VFS_OK) Volume->DescriptorBlockDirty[Block] = 0;
        else if (Result == VFS_OK) Result = Status;
    }
    if (Volume->SuperDirty) {
        VFS_STATUS Status = EXT2WriteSuperblock(Volume);
        if (Status != VFS_OK && Result == VFS_OK) Result = Status;
    }
    // Only once the bitmaps that free the blocks are written may the disk forget their data.
    if (MetadataWritten && Result == VFS_OK) EXT2DiscardFlush(Volume);
    else EXT2DiscardCancel(Volume);
    return Result;
}

VFS_STATUS EXT2End(EXT2_VOLUME* Volume, VFS_STATUS Status) {
    VFS_STATUS WriteStatus = EXT2WriteBack(Volume);
    MutexUnlock(&Volume->Lock);
    return Status != VFS_OK ? Status : WriteStatus;
}

/************************************************************************/
// Geometry

static BOOL EXT2IsPowerOf(U32 Value, U32 Base) {
    U64 Power = Base;
    while (Power < Value) Power *= Base;
    return Power == Value;
}

BOOL EXT2GroupHasSuperblock(EXT2_VOLUME* Volume, U32 Group) {
    if ((Volume->FeatureRoCompat & EXT2_RO_COMPAT_SPARSE_SUPER) == 0) return TRUE;
    if (Group <= 1) return TRUE;
    return EXT2IsPowerOf(Group, 3) || EXT2IsPowerOf(Group, 5) || EXT2IsPowerOf(Group, 7);
}

U32 EXT2GroupFirstBlock(EXT2_VOLUME* Volume, U32 Group) {
    return Volume->FirstDataBlock + Group * Volume->BlocksPerGroup;
}

/** Blocks at the start of a group taken by the superblock copy and the descriptor table (0 without a copy). */
static U32 EXT2GroupSuperBlocks(EXT2_VOLUME* Volume, U32 Group) {
    if (!EXT2GroupHasSuperblock(Volume, Group)) return 0;
    return 1 + Volume->DescriptorBlocks + Volume->ReservedGdtBlocks;
}

BOOL EXT2IsDataBlock(EXT2_VOLUME* Volume, U32 Block) {
    if (Block < Volume->FirstDataBlock || Block >= Volume->BlocksCount) return FALSE;
    U32 Group = (Block - Volume->FirstDataBlock) / Volume->BlocksPerGroup;
    U32 Offset = (Block - Volume->FirstDataBlock) % Volume->BlocksPerGroup;
    if (Offset < EXT2GroupSuperBlocks(Volume, Group)) return FALSE;
    const EXT2_GROUP_DESCRIPTOR* Descriptor = &Volume->Groups[Group];
    if (Block == Descriptor->BlockBitmap || Block == Descriptor->InodeBitmap) return FALSE;
    if (Block >= Descriptor->InodeTable && Block - Descriptor->InodeTable < Volume->InodeTableBlocks) return FALSE;
    return TRUE;
}

/************************************************************************/
// Mount checks

static VFS_STATUS EXT2Refuse(DISK* Disk, LPCSTR Reason, U64 Value) {
    WARNING("[EXT2Mount] %s: not mounted: %s (%llu)", Disk->Name, Reason, Value);
    return VFS_ERROR_INVALID;
}

static VFS_STATUS EXT2CheckSuperblock(EXT2_VOLUME* Volume) {
    const EXT2_SUPERBLOCK* Super = &Volume->Super;
    DISK* Disk = Volume->Disk;
    if (Super->Magic != EXT2_MAGIC) return EXT2Refuse(Disk, "bad magic", Super->Magic);
    if (Super->Revision > EXT2_DYNAMIC_REVISION) return EXT2Refuse(Disk, "unknown revision", Super->Revision);
    if (Super->LogBlockSize > EXT2_MAX_BLOCK_SHIFT - EXT2_MIN_BLOCK_SHIFT) {
        return EXT2Refuse(Disk, "unsupported block size shift", Super->LogBlockSize);
    }
    Volume->Revision = Super->Revision;
    Volume->BlockShift = EXT2_MIN_BLOCK_SHIFT + Super->LogBlockSize;
    Volume->BlockSize = 1U << Volume->BlockShift;
    Volume->PointerShift = Volume->BlockShift - 2;
    Volume->PointersPerBlock = Volume->BlockSize / 4;
    Volume->SectorsPerBlock = Volume->BlockSize / 512;
    Volume->BlocksCount = Super->BlocksCount;
    Volume->FirstDataBlock = Super->FirstDataBlock;
    Volume->BlocksPerGroup = Super->BlocksPerGroup;
    Volume->InodesPerGroup = Super->InodesPerGroup;
    Volume->InodesCount = Super->InodesCount;

    if (Volume->FirstDataBlock != (Volume->BlockSize == 1024 ? 1U : 0U)) {
        return EXT2Refuse(Disk, "first data block does not match the block size", Volume->FirstDataBlock);
    }
    if (Volume->BlocksCount <= Volume->FirstDataBlock + 1) {
        return EXT2Refuse(Disk, "too few blocks", Super->BlocksCount);
    }
    if (((U64)Volume->BlocksCount << Volume->BlockShift) > Volume->DiskBytes) {
        return EXT2Refuse(Disk, "file system larger than the disk (blocks)", Volume->BlocksCount);
    }
    if (Volume->BlocksPerGroup < 8 || Volume->BlocksPerGroup > 8 * Volume->BlockSize) {
        return EXT2Refuse(Disk, "bad blocks per group", Volume->BlocksPerGroup);
    }
    if (Volume->Revision == EXT2_GOOD_OLD_REVISION) {
        Volume->InodeSize = EXT2_GOOD_OLD_INODE_SIZE;
        Volume->FirstInode = EXT2_GOOD_OLD_FIRST_INODE;
        Volume->FeatureCompat = Volume->FeatureIncompat = Volume->FeatureRoCompat = 0;
    } else {
        Volume->InodeSize = Super->InodeSize;
        Volume->FirstInode = Super->FirstInode;
        Volume->FeatureCompat = Super->FeatureCompat;
        Volume->FeatureIncompat = Super->FeatureIncompat;
        Volume->FeatureRoCompat = Super->FeatureRoCompat;
        if (Volume->InodeSize < EXT2_GOOD_OLD_INODE_SIZE || Volume->InodeSize > Volume->BlockSize ||
            !IS_POWER_OF_TWO(Volume->InodeSize)) {
            return EXT2Refuse(Disk, "bad inode size", Volume->InodeSize);
        }
    }
    Volume->InodesPerBlock = Volume->BlockSize / Volume->InodeSize;
    if (Volume->InodesPerGroup < Volume->InodesPerBlock || Volume->InodesPerGroup > 8 * Volume->BlockSize ||
        Volume->InodesPerGroup % Volume->InodesPerBlock != 0) {
        return EXT2Refuse(Disk, "bad inodes per group", Volume->InodesPerGroup);
    }
    U64 Groups = ((U64)Volume->BlocksCount - Volume->FirstDataBlock + Volume->BlocksPerGroup - 1) /
                 Volume->BlocksPerGroup;
    if (Groups == 0 || Groups > EXT2_MAX_GROUPS) return EXT2Refuse(Disk, "bad group count", Groups);
    Volume->GroupCount = (U32)Groups;
    if ((U64)Volume->GroupCount * Volume->InodesPerGroup != Volume->InodesCount) {
        return EXT2Refuse(Disk, "inode count does not match the groups", Volume->InodesCount);
    }
    if (Volume->FirstInode < EXT2_GOOD_OLD_FIRST_INODE || Volume->FirstInode >= Volume->InodesCount) {
        return EXT2Refuse(Disk, "bad first inode", Volume->FirstInode);
    }
    Volume->InodeTableBlocks = Volume->InodesPerGroup / Volume->InodesPerBlock;
    Volume->DescriptorBlocks =
        (U32)(((U64)Volume->GroupCount * sizeof(EXT2_GROUP_DESCRIPTOR) + Volume->BlockSize - 1) >> Volume->BlockShift);
    Volume->ReservedGdtBlocks =
        (Volume->FeatureCompat & EXT2_COMPAT_RESIZE_INODE) ? Super->ReservedGdtBlocks : 0;
    if (Volume->ReservedGdtBlocks > Volume->PointersPerBlock) {
        return EXT2Refuse(Disk, "too many reserved descriptor blocks", Volume->ReservedGdtBlocks);
    }
    if (1ULL + Volume->DescriptorBlocks + Volume->ReservedGdtBlocks + 2 + Volume->InodeTableBlocks >
        Volume->BlocksPerGroup) {
        return EXT2Refuse(Disk, "group metadata larger than a group", Volume->InodeTableBlocks);
    }

    char Names[160];
    U32 Unknown = Volume->FeatureIncompat & ~EXT2_INCOMPAT_SUPPORTED;
    if (Unknown) {
        EXT2FeatureNames(EXT2IncompatNames, ARRAY_COUNT(EXT2IncompatNames), Unknown, Names, sizeof(Names));
        WARNING("[EXT2Mount] %s: not mounted: unsupported incompatible feature(s): %s", Disk->Name, Names);
        return VFS_ERROR_NOT_SUPPORTED;
    }
    Unknown = Volume->FeatureRoCompat & ~EXT2_RO_COMPAT_SUPPORTED;
    if (Unknown) {
        EXT2FeatureNames(EXT2RoCompatNames, ARRAY_COUNT(EXT2RoCompatNames), Unknown, Names, sizeof(Names));
        WARNING("[EXT2Mount] %s: unsupported read-only-compatible feature(s): %s: mounting read-only", Disk->Name,
                Names);
        Volume->MountedReadOnly = TRUE;
    }
    Volume->HasFileType = (Volume->FeatureIncompat & EXT2_INCOMPAT_FILETYPE) != 0;
    return VFS_OK;
}

static VFS_STATUS EXT2CheckDescriptors(EXT2_VOLUME* Volume) {
    for (U32 Group = 0; Group < Volume->GroupCount; Group++) {
        const EXT2_GROUP_DESCRIPTOR* Descriptor = &Volume->Groups[Group];
        U32 First = EXT2GroupFirstBlock(Volume, Group);
        U32 Count = MIN(Volume->BlocksPerGroup, Volume->BlocksCount - First);
        U32 MetaEnd = First + EXT2GroupSuperBlocks(Volume, Group);  // first block after the superblock copy
        U32 End = First + Count;
        LPCSTR Problem = NULL;
        if (Descriptor->BlockBitmap < MetaEnd || Descriptor->BlockBitmap >= End) Problem = "block bitmap outside";
        else if (Descriptor->InodeBitmap < MetaEnd || Descriptor->InodeBitmap >= End) Problem = "inode bitmap outside";
        else if (Descriptor->InodeTable < MetaEnd || Descriptor->InodeTable >= End ||
                 Volume->InodeTableBlocks > End - Descriptor->InodeTable) {
            Problem = "inode table outside";
        } else if (Descriptor->BlockBitmap == Descriptor->InodeBitmap ||
                   (Descriptor->BlockBitmap >= Descriptor->InodeTable &&
                    Descriptor->BlockBitmap - Descriptor->InodeTable < Volume->InodeTableBlocks) ||
                   (Descriptor->InodeBitmap >= Descriptor->InodeTable &&
                    Descriptor->InodeBitmap - Descriptor->InodeTable < Volume->InodeTableBlocks)) {
            Problem = "bitmaps overlap";
        } else if (Descriptor->FreeBlocksCount > Count || Descriptor->FreeInodesCount > Volume->InodesPerGroup ||
                   Descriptor->UsedDirectoriesCount > Volume->InodesPerGroup) {
            Problem = "bad counts";
        }
        if (Problem) {
            WARNING("[EXT2Mount] %s: not mounted: group %u descriptor: %s", Volume->Disk->Name, Group, Problem);
            return VFS_ERROR_INVALID;
        }
    }
    return VFS_OK;
}

static void EXT2FreeVolume(EXT2_VOLUME* Volume) {
    if (Volume == NULL) return;
    BlockDeviceClose(&Volume->Blocks);
    KernelHeapFree(Volume->Groups);
    KernelHeapFree(Volume->DescriptorBlockDirty);
    KernelHeapFree(Volume->Scratch);
    Volume->Magic = 0;
    KernelHeapFree(Volume);
}

/************************************************************************/
// VFS entry points

static VFS_STATUS EXT2Probe(DISK* Disk) {
    if (Disk == NULL || Disk->SectorSize == 0) return VFS_ERROR_INVALID;
    U64 DiskBytes = Disk->SectorCount * Disk->SectorSize;
    if (DiskBytes < EXT2_SUPERBLOCK_OFFSET + EXT2_SUPERBLOCK_SIZE) return VFS_ERROR_WRONG_TYPE;
    // The sectors holding bytes 1024..2047: one 4 KiB sector, or two 512-byte ones.
    U32 FirstSector = EXT2_SUPERBLOCK_OFFSET / Disk->SectorSize;
    U32 LastSector = (EXT2_SUPERBLOCK_OFFSET + EXT2_SUPERBLOCK_SIZE - 1) / Disk->SectorSize;
    U32 Count = LastSector - FirstSector + 1;
    U8* Buffer = (U8*)KernelHeapAlloc((SIZE)Count * Disk->SectorSize);
    if (Buffer == NULL) return VFS_ERROR_NO_MEMORY;
    VFS_STATUS Result = VFS_ERROR_IO;
    if (DiskRead(Disk, FirstSector, Count, Buffer) == KSTATUS_SUCCESS) {
        const EXT2_SUPERBLOCK* Super =
            (const EXT2_SUPERBLOCK*)(Buffer + EXT2_SUPERBLOCK_OFFSET - (SIZE)FirstSector * Disk->SectorSize);
        Result = Super->Magic == EXT2_MAGIC ? VFS_OK : VFS_ERROR_WRONG_TYPE;
    }
    KernelHeapFree(Buffer);
    return Result;
}

static VFS_STATUS EXT2Mount(DISK* Disk, U32 Options, LPVOID* Result, U64* RootInode) {
    BOOL ReadOnly = (Options & VFS_MOUNT_READ_ONLY) != 0;
    *Result = NULL;
    if (Disk == NULL || Disk->SectorSize < 512 || !IS_POWER_OF_TWO(Disk->SectorSize)) return VFS_ERROR_INVALID;
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)KernelHeapAllocZero(sizeof(EXT2_VOLUME));
    if (Volume == NULL) return VFS_ERROR_NO_MEMORY;
    Volume->Disk = Disk;
    MutexInit(&Volume->Lock);
    Volume->SectorSize = Disk->SectorSize;
    Volume->DiskBytes = Disk->SectorCount * Disk->SectorSize;
    DISK_INFO Info;
    BOOL DiskTrims = DiskGetInfo(Disk, &Info) == KSTATUS_SUCCESS && Info.SupportsTrim;
    // Freed blocks are passed on to the disk (TRIM) unless the mount says nodiscard.
    Volume->Discard = DiskTrims && !(Options & VFS_MOUNT_NO_DISCARD);
    Volume->MountedReadOnly = ReadOnly;

    VFS_STATUS Status = EXT2ReadBytes(Volume, EXT2_SUPERBLOCK_OFFSET, EXT2_SUPERBLOCK_SIZE, &Volume->Super);
    if (Status != VFS_OK) goto Fail;
    Status = EXT2CheckSuperblock(Volume);
    if (Status != VFS_OK) goto Fail;

    Status = VFS_ERROR_NO_MEMORY;
    Volume->Groups = (EXT2_GROUP_DESCRIPTOR*)KernelHeapAlloc((SIZE)Volume->DescriptorBlocks << Volume->BlockShift);
    Volume->DescriptorBlockDirty = (U8*)KernelHeapAllocZero(Volume->DescriptorBlocks);
    Volume->Scratch = (U8*)KernelHeapAlloc(Volume->BlockSize);
    if (Volume->Groups == NULL || Volume->DescriptorBlockDirty == NULL || Volume->Scratch == NULL) goto Fail;
    Status = VFSDiskStatus(BlockDeviceOpen(&Volume->Blocks, Disk, Volume->BlockSize), FALSE);
    if (Status != VFS_OK) goto Fail;
    Status = EXT2ReadBytes(Volume, (U64)(Volume->FirstDataBlock + 1) << Volume->BlockShift,
                           Volume->DescriptorBlocks << Volume->BlockShift, Volume->Groups);
    if (Status != VFS_OK) goto Fail;
    Status = EXT2CheckDescriptors(Volume);
    if (Status != VFS_OK) goto Fail;

    Volume->ReadOnly = Volume->MountedReadOnly;
    Volume->Magic = EXT2_VOLUME_MAGIC;
    EXT2_INODE Root;
    Status = EXT2ReadInode(Volume, EXT2_ROOT_INODE, &Root);
    if (Status == VFS_OK && (!VFS_IS_DIRECTORY(Root.Mode) || Root.LinksCount == 0)) {
        WARNING("[EXT2Mount] %s: not mounted: the root inode is not a folder", Disk->Name);
        Status = VFS_ERROR_INVALID;
    }
    if (Status != VFS_OK) goto Fail;

    if ((Volume->Super.State & EXT2_STATE_VALID) == 0 || (Volume->Super.State & EXT2_STATE_ERRORS)) {
        WARNING("[EXT2Mount] %s: the file system was not cleanly unmounted or has errors: run e2fsck", Disk->Name);
    }
    if (EXT2CanWrite(Volume)) {
        Volume->Super.MountCount++;
        Volume->Super.MountTime = EXT2Now();
        Status = EXT2WriteSuperblock(Volume);
        if (Status != VFS_OK) goto Fail;
    }
    DEBUG("[EXT2Mount] %s: revision %u, %u-byte blocks, %u groups, %u of %u blocks free%s", Disk->Name,
         Volume->Revision, Volume->BlockSize, Volume->GroupCount, Volume->Super.FreeBlocksCount, Volume->BlocksCount,
         Volume->ReadOnly ? ", read-only" : "");
    *Result = Volume;
    *RootInode = EXT2_ROOT_INODE;
    return VFS_OK;

Fail:
    EXT2FreeVolume(Volume);
    return Status;
}

static VFS_STATUS EXT2Sync(LPVOID Handle) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    if (EXT2CanWrite(Volume)) Volume->SuperDirty = TRUE;
    return EXT2End(Volume, VFS_OK);
}

static VFS_STATUS EXT2Unmount(LPVOID Handle) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    VFS_STATUS Status = EXT2Sync(Volume);
    if (Status == VFS_ERROR_BAD_HANDLE) return Status;
    EXT2FreeVolume(Volume);
    return Status;
}

static VFS_STATUS EXT2StatFs(LPVOID Handle, VFS_STATFS* Info) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    // Like Linux's ext2_statfs: the total leaves out the groups' own metadata (superblock copy and
    // descriptors, bitmaps, inode table); reserved descriptor blocks (resize_inode) count as used.
    U64 Overhead = Volume->FirstDataBlock;
    for (U32 Group = 0; Group < Volume->GroupCount; Group++) {
        if (EXT2GroupHasSuperblock(Volume, Group)) Overhead += 1 + Volume->DescriptorBlocks;
        Overhead += 2 + Volume->InodeTableBlocks;
    }
    const EXT2_SUPERBLOCK* Super = &Volume->Super;
    MemorySet(Info, 0, sizeof(*Info));
    Info->BlockSize = Volume->BlockSize;
    Info->TotalBlocks = Volume->BlocksCount > Overhead ? Volume->BlocksCount - Overhead : 0;
    Info->FreeBlocks = MIN((U64)Super->FreeBlocksCount, Info->TotalBlocks);
    Info->AvailableBlocks =
        Info->FreeBlocks > Super->ReservedBlocksCount ? Info->FreeBlocks - Super->ReservedBlocksCount : 0;
    Info->TotalInodes = Volume->InodesCount;
    Info->FreeInodes = MIN(Super->FreeInodesCount, Volume->InodesCount);
    Info->ReadOnly = !EXT2CanWrite(Volume);
    StringCopy(Info->Type, "ext2", sizeof(Info->Type));
    return EXT2End(Volume, VFS_OK);
}

void EXT2GetVolumeState(LPVOID Handle, EXT2_VOLUME_STATE* State) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    MemorySet(State, 0, sizeof(*State));
    if (Volume == NULL || Volume->Magic != EXT2_VOLUME_MAGIC) return;
    State->ReadOnly = Volume->ReadOnly;
    State->ErrorSeen = Volume->ErrorSeen;
    State->BlockSize = Volume->BlockSize;
    State->Revision = Volume->Revision;
    State->FeatureCompat = Volume->FeatureCompat;
    State->FeatureIncompat = Volume->FeatureIncompat;
    State->FeatureRoCompat = Volume->FeatureRoCompat;
}

const VFS_FILE_SYSTEM EXT2FileSystem = {
    .Name = "ext2",
    .Probe = EXT2Probe,
    .Mount = EXT2Mount,
    .Unmount = EXT2Unmount,
    .Sync = EXT2Sync,
    .StatFs = EXT2StatFs,
    .GetStat = EXT2GetStat,
    .Lookup = EXT2Lookup,
    .ReadDirectory = EXT2ReadDirectory,
    .ReadLink = EXT2ReadLink,
    .Read = EXT2Read,
    .Write = EXT2Write,
    .Truncate = EXT2Truncate,
    .Create = EXT2Create,
    .Unlink = EXT2Unlink,
    .RemoveDirectory = EXT2RemoveDirectory,
    .Rename = EXT2Rename,
};

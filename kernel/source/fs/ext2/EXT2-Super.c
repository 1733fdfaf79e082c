/*
 * EXT2-Super.c - mounting a volume of the ext family, and the rules every
 * operation runs under.
 *
 * Mount reads and checks, in this order, before anything else reads the
 * volume: the superblock (geometry, EXT2-Layout.c; its checksum with
 * metadata_csum), the features (EXT2-Features.c: refused, read-only or
 * writable), every group descriptor (EXT2-Layout.c), then, when the journal
 * needs recovery, replays it into the overlay (EXT2-Journal.c) and reads the
 * superblock and descriptors again through it, as the last committed
 * transaction left them (needs_recovery masked in memory: the disk is never
 * written). Then the root folder.
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
 * leaves the volume consistent when it returns (writes never use the
 * journal, which stays clean), so an interrupted session needs no forced
 * check; a crash in the middle of an operation can leave what e2fsck would
 * fix.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "system/RTC.h"
#include "utils/Format.h"
#include "utils/String.h"

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
        WARNING("[EXT2Corrupt] %s: corrupt file system (%s): %s, run e2fsck", Volume->Disk->Name, Message,
                Volume->MountedReadOnly ? "the rest reads on" : "now read-only");
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

VFS_STATUS EXT2Refuse(EXT2_VOLUME* Volume, LPCSTR Format, ...) {
    char Message[160];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Message, sizeof(Message), Format, Arguments);
    VA_END(Arguments);
    WARNING("[EXT2Mount] %s: not mounted: %s", Volume->Disk->Name, Message);
    return VFS_ERROR_INVALID;
}

void EXT2MarkGroupDirty(EXT2_VOLUME* Volume, U32 Group) {
    U32 Block = (U32)(((U64)Group * Volume->DescriptorSize) >> Volume->BlockShift);
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
        const U8* Data = Volume->GroupData + ((SIZE)Block << Volume->BlockShift);
        VFS_STATUS Status = EXT2WriteBlocks(Volume, EXT2DescriptorBlockLocation(Volume, Block), 1, Data);
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
// Mounting

static void EXT2FreeVolume(EXT2_VOLUME* Volume) {
    if (Volume == NULL) return;
    BlockDeviceClose(&Volume->Blocks);
    EXT2OverlayFree(Volume->Overlay);
    KernelHeapFree(Volume->GroupData);
    KernelHeapFree(Volume->GroupBad);
    KernelHeapFree(Volume->DescriptorBlockDirty);
    KernelHeapFree(Volume->Scratch);
    KernelHeapFree(Volume->Inline);
    Volume->Magic = 0;
    KernelHeapFree(Volume);
}

/** Reads the superblock (through the overlay, when there is one) and its geometry; checks its checksum. */
static VFS_STATUS EXT2LoadSuperblock(EXT2_VOLUME* Volume) {
    VFS_STATUS Status = EXT2ReadBytes(Volume, EXT2_SUPERBLOCK_OFFSET, EXT2_SUPERBLOCK_SIZE, &Volume->Super);
    if (Status == VFS_OK) Status = EXT2LoadGeometry(Volume);
    if (Status != VFS_OK || !EXT2MetadataChecksums(Volume)) return Status;
    if (Volume->Super.ChecksumType != EXT4_CHECKSUM_TYPE_CRC32C) {
        return EXT2Refuse(Volume, "unknown checksum type %u", Volume->Super.ChecksumType);
    }
    // Linux refuses such a volume too ("invalid superblock checksum"): nothing on it can be located safely.
    if (!EXT2SuperblockChecksumValid(&Volume->Super)) return EXT2Refuse(Volume, "bad superblock checksum");
    EXT2ChecksumSetup(Volume);
    return VFS_OK;
}

/** The journal's part of mounting: refuse what cannot be recovered, replay what needs it, then read again. */
static VFS_STATUS EXT2MountJournal(EXT2_VOLUME* Volume) {
    if (!EXT2HasCompat(Volume, EXT2_COMPAT_HAS_JOURNAL) || !EXT2HasIncompat(Volume, EXT2_INCOMPAT_RECOVER)) {
        return VFS_OK;
    }
    if (Volume->Super.JournalInode == 0) {
        return EXT2Refuse(Volume, "the external journal (device %x) needs recovery", Volume->Super.JournalDevice);
    }
    VFS_STATUS Status = EXT2JournalReplay(Volume);
    if (Status != VFS_OK) return Status;
    // The superblock and descriptors as the last committed transaction left them; the overlay is the recovery.
    U32 Incompat = Volume->FeatureIncompat, RoCompat = Volume->FeatureRoCompat;
    Status = EXT2LoadSuperblock(Volume);
    if (Status != VFS_OK) return Status;
    // The journaled copy was taken while Linux had the volume mounted: it still says needs_recovery.
    Volume->FeatureIncompat &= ~EXT2_INCOMPAT_RECOVER;
    Volume->Super.FeatureIncompat &= ~EXT2_INCOMPAT_RECOVER;
    if ((Volume->FeatureIncompat | EXT2_INCOMPAT_RECOVER) != Incompat || Volume->FeatureRoCompat != RoCompat) {
        Status = EXT2CheckFeatures(Volume);  // features changed in the last transactions (tune2fs while mounted)
        if (Status != VFS_OK) return Status;
    }
    return EXT2LoadDescriptors(Volume);
}

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

/** The length of the internal journal in blocks (for statfs), from inode 8; 0 when there is none or it is unreadable. */
static U64 EXT2JournalLength(EXT2_VOLUME* Volume) {
    if (!EXT2HasCompat(Volume, EXT2_COMPAT_HAS_JOURNAL) || Volume->Super.JournalInode != EXT2_JOURNAL_INODE) return 0;
    EXT2_INODE Journal;
    if (EXT2ReadInode(Volume, EXT2_JOURNAL_INODE, &Journal) != VFS_OK) return 0;
    return EXT2GetSize(Volume, &Journal) >> Volume->BlockShift;
}

static VFS_STATUS EXT2MountVolume(EXT2_VOLUME* Volume) {
    VFS_STATUS Status = EXT2LoadSuperblock(Volume);
    if (Status == VFS_OK) Status = EXT2CheckFeatures(Volume);
    if (Status != VFS_OK) return Status;
    Volume->Scratch = (U8*)KernelHeapAlloc(Volume->BlockSize);
    if (EXT2HasIncompat(Volume, EXT2_INCOMPAT_INLINE_DATA)) {
        Volume->Inline = (U8*)KernelHeapAlloc(Volume->InodeSize + EXT4_INLINE_BLOCK_BYTES);
        if (Volume->Inline == NULL) return VFS_ERROR_NO_MEMORY;
    }
    if (Volume->Scratch == NULL) return VFS_ERROR_NO_MEMORY;
    Status = VFSDiskStatus(BlockDeviceOpen(&Volume->Blocks, Volume->Disk, Volume->BlockSize), FALSE);
    if (Status == VFS_OK) Status = EXT2LoadDescriptors(Volume);
    if (Status == VFS_OK) Status = EXT2MountJournal(Volume);
    if (Status != VFS_OK) return Status;

    Volume->ReadOnly = Volume->MountedReadOnly;
    Volume->Magic = EXT2_VOLUME_MAGIC;
    EXT2_INODE Root;
    Status = EXT2ReadInode(Volume, EXT2_ROOT_INODE, &Root);
    if (Status == VFS_OK && (!VFS_IS_DIRECTORY(Root.Mode) || Root.LinksCount == 0)) {
        Status = EXT2Refuse(Volume, "the root inode is not a folder");
    }
    if (Status != VFS_OK) return Status;
    Volume->JournalBlocks = EXT2JournalLength(Volume);

    if ((Volume->Super.State & EXT2_STATE_VALID) == 0 || (Volume->Super.State & EXT2_STATE_ERRORS)) {
        // A journaled volume is "not clean" while mounted by Linux; the journal (replayed or clean) covers it.
        if (Volume->Overlay == NULL || (Volume->Super.State & EXT2_STATE_ERRORS)) {
            WARNING("[EXT2Mount] %s: the file system was not cleanly unmounted or has errors: run e2fsck",
                    Volume->Disk->Name);
        }
    }
    if (EXT2CanWrite(Volume)) {
        Volume->Super.MountCount++;
        Volume->Super.MountTime = EXT2Now();
        Status = EXT2WriteSuperblock(Volume);
        if (Status != VFS_OK) return Status;
    }
    DEBUG("[EXT2Mount] %s: %s revision %u, %u-byte blocks, %u groups, %llu blocks%s%s", Volume->Disk->Name,
          EXT2KindName(Volume->Kind), Volume->Revision, Volume->BlockSize, Volume->GroupCount, Volume->BlocksCount,
          Volume->ReadOnly ? ", read-only" : "", Volume->Overlay ? ", journal replayed" : "");
    return VFS_OK;
}

static VFS_STATUS EXT2Mount(DISK* Disk, U32 Options, LPVOID* Result, U64* RootInode) {
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
    Volume->MountedReadOnly = (Options & VFS_MOUNT_READ_ONLY) != 0;
    VFS_STATUS Status = EXT2MountVolume(Volume);
    if (Status != VFS_OK) {
        EXT2FreeVolume(Volume);
        return Status;
    }
    *Result = Volume;
    *RootInode = EXT2_ROOT_INODE;
    return VFS_OK;
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

/************************************************************************/
// statfs

/**
 * Blocks that are not for files. ext2, like Linux's ext2_statfs: the groups'
 * superblock copies, descriptors, bitmaps and inode tables (reserved
 * descriptor blocks count as used). ext3/ext4, like Linux's ext4_statfs:
 * s_overhead_clusters when mke2fs recorded it, else the same count with
 * every descriptor block, reserved ones included, and the journal.
 */
static U64 EXT2OverheadBlocks(EXT2_VOLUME* Volume) {
    if (Volume->Kind == EXT2_KIND_EXT2) return EXT2MetadataBlocks(Volume);
    U32 ClusterShift = 0;
    if (EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_BIGALLOC)) ClusterShift = Volume->Super.LogClusterSize - Volume->Super.LogBlockSize;
    if (Volume->Super.OverheadClusters != 0) return (U64)Volume->Super.OverheadClusters << ClusterShift;
    U64 Blocks = Volume->FirstDataBlock + Volume->JournalBlocks;
    for (U32 Group = 0; Group < Volume->GroupCount; Group++) {
        Blocks += EXT2GroupSuperBlocks(Volume, Group) + 2 + Volume->InodeTableBlocks;
    }
    return Blocks;
}

static VFS_STATUS EXT2StatFs(LPVOID Handle, VFS_STATFS* Info) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    const EXT2_SUPERBLOCK* Super = &Volume->Super;
    BOOL Is64Bit = EXT2HasIncompat(Volume, EXT2_INCOMPAT_64BIT);
    U64 Free = Super->FreeBlocksCount | (Is64Bit ? (U64)Super->FreeBlocksCountHigh << 32 : 0);
    U64 Reserved = Super->ReservedBlocksCount | (Is64Bit ? (U64)Super->ReservedBlocksCountHigh << 32 : 0);
    U64 Overhead = EXT2OverheadBlocks(Volume);
    MemorySet(Info, 0, sizeof(*Info));
    Info->BlockSize = Volume->BlockSize;
    Info->TotalBlocks = Volume->BlocksCount > Overhead ? Volume->BlocksCount - Overhead : 0;
    Info->FreeBlocks = MIN(Free, Info->TotalBlocks);
    Info->AvailableBlocks = Info->FreeBlocks > Reserved ? Info->FreeBlocks - Reserved : 0;
    Info->TotalInodes = Volume->InodesCount;
    Info->FreeInodes = MIN(Super->FreeInodesCount, Volume->InodesCount);
    Info->ReadOnly = !EXT2CanWrite(Volume);
    StringCopy(Info->Type, EXT2KindName(Volume->Kind), sizeof(Info->Type));
    if (Volume->ReadOnlyReason[0]) {
        StringCopy(Info->ReadOnlyReason, Volume->ReadOnlyReason, sizeof(Info->ReadOnlyReason));
    } else if (Volume->ErrorSeen && Volume->ReadOnly) {
        StringCopy(Info->ReadOnlyReason, "errors found, run e2fsck", sizeof(Info->ReadOnlyReason));
    }
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
    StringCopy(State->Kind, EXT2KindName(Volume->Kind), sizeof(State->Kind));
    StringCopy(State->ReadOnlyReason, Volume->ReadOnlyReason, sizeof(State->ReadOnlyReason));
    State->JournalReplayed = Volume->Overlay != NULL;
    State->OverlayBlocks = Volume->Overlay ? EXT2OverlayCount(Volume->Overlay) : 0;
    State->TransferBlocks = Volume->TransferBlocks;
    State->Counters = Volume->Counters;
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
    .MapExtents = EXT2MapExtents,
    .Write = EXT2Write,
    .Truncate = EXT2Truncate,
    .Create = EXT2Create,
    .Unlink = EXT2Unlink,
    .RemoveDirectory = EXT2RemoveDirectory,
    .Rename = EXT2Rename,
};

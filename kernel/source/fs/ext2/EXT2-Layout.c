/*
 * EXT2-Layout.c - where things are on an ext2/ext3/ext4 volume: the
 * geometry the superblock gives, the group descriptors and the blocks each
 * group reserves for the superblock copy and the descriptor table.
 *
 * Geometry is checked against itself and the disk before anything is read
 * through it; every group descriptor is checked before use (its bitmaps and
 * inode table inside its own group after the superblock copy, or anywhere
 * in the volume with flex_bg, as Linux's ext4_check_descriptors allows),
 * and its checksum verified (metadata_csum: crc32c; gdt_csum: crc16). A
 * descriptor whose numbers are impossible refuses the mount; one with a bad
 * checksum marks its group bad: the group's inodes then fail with an I/O
 * error and the rest of the volume reads (Linux tolerates the checksum on a
 * read-only mount; Cairn does not trust the table it locates).
 *
 * Layout facts (e2fsprogs openfs.c, closefs.c; the ext4 fact sheet):
 *  - descriptors are 32 bytes, or s_desc_size (a power of two, 64..1024)
 *    with 64bit, whose high halves hold bits 32..63 of the block numbers;
 *  - the classic descriptor table follows the block holding the superblock
 *    (block 2 with 1 KiB blocks, block 1 otherwise, bigalloc included), then
 *    s_reserved_gdt_blocks (resize_inode); backups start the groups that
 *    hold a superblock copy: 0, 1 and powers of 3, 5, 7 with sparse_super,
 *    only s_backup_bgs[] with sparse_super2, every group without either;
 *  - meta_bg: descriptor block I < s_first_meta_bg keeps the classic place;
 *    block I >= s_first_meta_bg covers the metagroup of groups I*D..I*D+D-1
 *    (D descriptors a block) and lies in the first block of group I*D, after
 *    its superblock copy, with backups in the second and the last group.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "utils/String.h"

/************************************************************************/
// Geometry

static BOOL EXT2IsPowerOf(U32 Value, U32 Base) {
    U64 Power = Base;
    while (Power < Value) Power *= Base;
    return Power == Value;
}

BOOL EXT2GroupHasSuperblock(EXT2_VOLUME* Volume, U32 Group) {
    if (Group == 0) return TRUE;
    if (EXT2HasCompat(Volume, EXT2_COMPAT_SPARSE_SUPER2)) {
        return Group == Volume->Super.BackupGroups[0] || Group == Volume->Super.BackupGroups[1];
    }
    if (!EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_SPARSE_SUPER) || Group == 1) return TRUE;
    if ((Group & 1) == 0) return FALSE;
    return EXT2IsPowerOf(Group, 3) || EXT2IsPowerOf(Group, 5) || EXT2IsPowerOf(Group, 7);
}

U64 EXT2GroupFirstBlock(EXT2_VOLUME* Volume, U32 Group) {
    return Volume->FirstDataBlock + (U64)Group * Volume->BlocksPerGroup;
}

static U32 EXT2DescriptorsPerBlock(EXT2_VOLUME* Volume) { return Volume->BlockSize / Volume->DescriptorSize; }

U32 EXT2GroupSuperBlocks(EXT2_VOLUME* Volume, U32 Group) {
    BOOL HasSuper = EXT2GroupHasSuperblock(Volume, Group);
    U32 Count = HasSuper ? 1 : 0;
    if (!EXT2HasIncompat(Volume, EXT2_INCOMPAT_META_BG)) {
        return HasSuper ? Count + Volume->DescriptorBlocks + Volume->ReservedGdtBlocks : 0;
    }
    U32 PerBlock = EXT2DescriptorsPerBlock(Volume);
    U32 MetaGroup = Group / PerBlock, Member = Group % PerBlock;
    if (MetaGroup < Volume->Super.FirstMetaGroup) {
        if (HasSuper) Count += Volume->Super.FirstMetaGroup;
    } else if (Member == 0 || Member == 1 || Member == PerBlock - 1) {
        Count++;
    }
    return Count;
}

U64 EXT2DescriptorBlockLocation(EXT2_VOLUME* Volume, U32 Index) {
    U64 SuperBlock = EXT2_SUPERBLOCK_OFFSET >> Volume->BlockShift;  // 1 with 1 KiB blocks (bigalloc too), else 0
    if (!EXT2HasIncompat(Volume, EXT2_INCOMPAT_META_BG) || Index < Volume->Super.FirstMetaGroup) {
        return SuperBlock + 1 + Index;
    }
    U32 Group = Index * EXT2DescriptorsPerBlock(Volume);
    if (Group == 0) return SuperBlock + 1;
    return EXT2GroupFirstBlock(Volume, Group) + (EXT2GroupHasSuperblock(Volume, Group) ? 1 : 0);
}

/** The disk's largest request, found on the physical disk below partitions (0: no limit). */
static U64 EXT2DiskTransferBytes(DISK* Disk) {
    for (U32 Depth = 0; Disk != NULL && Depth < 8; Depth++, Disk = Disk->Parent) {
        if (Disk->MaxTransferSectors != 0) return (U64)Disk->MaxTransferSectors * Disk->SectorSize;
    }
    return 0;
}

VFS_STATUS EXT2LoadGeometry(EXT2_VOLUME* Volume) {
    const EXT2_SUPERBLOCK* Super = &Volume->Super;
    if (Super->Magic != EXT2_MAGIC) return EXT2Refuse(Volume, "bad magic (%u)", Super->Magic);
    if (Super->Revision > EXT2_DYNAMIC_REVISION) return EXT2Refuse(Volume, "unknown revision (%u)", Super->Revision);
    if (Super->LogBlockSize > EXT2_MAX_BLOCK_SHIFT - EXT2_MIN_BLOCK_SHIFT) {
        return EXT2Refuse(Volume, "unsupported block size shift (%u)", Super->LogBlockSize);
    }
    Volume->Revision = Super->Revision;
    Volume->BlockShift = EXT2_MIN_BLOCK_SHIFT + Super->LogBlockSize;
    Volume->BlockSize = 1U << Volume->BlockShift;
    Volume->PointerShift = Volume->BlockShift - 2;
    Volume->PointersPerBlock = Volume->BlockSize / 4;
    Volume->SectorsPerBlock = Volume->BlockSize / 512;
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
            return EXT2Refuse(Volume, "bad inode size (%u)", Volume->InodeSize);
        }
    }
    BOOL Bigalloc = EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_BIGALLOC);
    BOOL Is64Bit = EXT2HasIncompat(Volume, EXT2_INCOMPAT_64BIT);
    Volume->BlocksCount = Super->BlocksCount | (Is64Bit ? (U64)Super->BlocksCountHigh << 32 : 0);
    Volume->FirstDataBlock = Super->FirstDataBlock;
    Volume->BlocksPerGroup = Super->BlocksPerGroup;
    Volume->InodesPerGroup = Super->InodesPerGroup;
    Volume->InodesCount = Super->InodesCount;

    // 1 KiB blocks start at block 1 (block 0 is the boot block), except with bigalloc (e2fsprogs openfs.c).
    U32 FirstData = (Volume->BlockSize == 1024 && !Bigalloc) ? 1U : 0U;
    if (Volume->FirstDataBlock != FirstData) {
        return EXT2Refuse(Volume, "first data block does not match the block size (%u)", Volume->FirstDataBlock);
    }
    if (Volume->BlocksCount <= Volume->FirstDataBlock + 1ULL) {
        return EXT2Refuse(Volume, "too few blocks (%llu)", Volume->BlocksCount);
    }
    if (Volume->BlocksCount > (Volume->DiskBytes >> Volume->BlockShift)) {
        return EXT2Refuse(Volume, "file system larger than the disk (%llu blocks)", Volume->BlocksCount);
    }
    // Groups are counted in blocks; their bitmaps in clusters (bigalloc) or blocks.
    U32 GroupUnits = Volume->BlocksPerGroup;
    if (Bigalloc) {
        U32 ClusterShift = EXT2_MIN_BLOCK_SHIFT + Super->LogClusterSize;
        if (Super->LogClusterSize > 29 || ClusterShift < Volume->BlockShift || ClusterShift - Volume->BlockShift > 16) {
            return EXT2Refuse(Volume, "bad cluster size shift (%u)", Super->LogClusterSize);
        }
        GroupUnits = Super->ClustersPerGroup;
        if ((U64)GroupUnits << (ClusterShift - Volume->BlockShift) != Volume->BlocksPerGroup) {
            return EXT2Refuse(Volume, "clusters and blocks per group disagree (%u)", GroupUnits);
        }
    } else if (Super->LogClusterSize != Super->LogBlockSize) {
        return EXT2Refuse(Volume, "cluster size differs from the block size without bigalloc (%u)",
                          Super->LogClusterSize);
    }
    if (GroupUnits < 8 || GroupUnits > 8 * Volume->BlockSize) {
        return EXT2Refuse(Volume, "bad blocks per group (%u)", Volume->BlocksPerGroup);
    }
    Volume->InodesPerBlock = Volume->BlockSize / Volume->InodeSize;
    if (Volume->InodesPerGroup < Volume->InodesPerBlock || Volume->InodesPerGroup > 8 * Volume->BlockSize ||
        Volume->InodesPerGroup % Volume->InodesPerBlock != 0) {
        return EXT2Refuse(Volume, "bad inodes per group (%u)", Volume->InodesPerGroup);
    }
    U64 Groups = (Volume->BlocksCount - Volume->FirstDataBlock + Volume->BlocksPerGroup - 1) / Volume->BlocksPerGroup;
    if (Groups == 0 || Groups > EXT2_MAX_GROUPS) return EXT2Refuse(Volume, "bad group count (%llu)", Groups);
    Volume->GroupCount = (U32)Groups;
    if ((U64)Volume->GroupCount * Volume->InodesPerGroup != Volume->InodesCount) {
        return EXT2Refuse(Volume, "inode count does not match the groups (%u)", Volume->InodesCount);
    }
    if (Volume->FirstInode < EXT2_GOOD_OLD_FIRST_INODE || Volume->FirstInode >= Volume->InodesCount) {
        return EXT2Refuse(Volume, "bad first inode (%u)", Volume->FirstInode);
    }
    Volume->InodeTableBlocks = Volume->InodesPerGroup / Volume->InodesPerBlock;

    Volume->DescriptorSize = EXT2_MIN_DESCRIPTOR_SIZE;
    if (Is64Bit) {
        U32 Size = Super->DescriptorSize;
        if (Size < EXT4_MIN_DESCRIPTOR_SIZE_64BIT || Size > EXT4_MAX_DESCRIPTOR_SIZE || !IS_POWER_OF_TWO(Size) ||
            Size > Volume->BlockSize) {
            return EXT2Refuse(Volume, "bad descriptor size (%u)", Size);
        }
        Volume->DescriptorSize = Size;
    }
    Volume->DescriptorBlocks =
        (U32)(((U64)Volume->GroupCount * Volume->DescriptorSize + Volume->BlockSize - 1) >> Volume->BlockShift);
    Volume->ReservedGdtBlocks = EXT2HasCompat(Volume, EXT2_COMPAT_RESIZE_INODE) ? Super->ReservedGdtBlocks : 0;
    if (Volume->ReservedGdtBlocks > Volume->PointersPerBlock) {
        return EXT2Refuse(Volume, "too many reserved descriptor blocks (%u)", Volume->ReservedGdtBlocks);
    }
    if (EXT2HasIncompat(Volume, EXT2_INCOMPAT_META_BG) && Super->FirstMetaGroup > Volume->DescriptorBlocks) {
        return EXT2Refuse(Volume, "first meta_bg past the descriptor table (%u)", Super->FirstMetaGroup);
    }
    // Without flex_bg a group holds its own bitmaps and inode table after its superblock copy.
    U64 Own = EXT2HasIncompat(Volume, EXT2_INCOMPAT_FLEX_BG) ? 0 : 2ULL + Volume->InodeTableBlocks;
    if (EXT2GroupSuperBlocks(Volume, 0) + Own + 1 > Volume->BlocksPerGroup) {
        return EXT2Refuse(Volume, "group metadata larger than a group (%u)", Volume->InodeTableBlocks);
    }

    U64 Transfer = EXT2DiskTransferBytes(Volume->Disk);
    if (Transfer == 0) Transfer = EXT2_DEFAULT_TRANSFER_BYTES;
    Transfer = MIN(Transfer, (U64)EXT2_MAX_TRANSFER_BYTES);
    Volume->TransferBlocks = (U32)MAX(Transfer >> Volume->BlockShift, 1ULL);
    return VFS_OK;
}

/************************************************************************/
// Group descriptors

EXT2_GROUP_DESCRIPTOR* EXT2Group(EXT2_VOLUME* Volume, U32 Group) {
    return (EXT2_GROUP_DESCRIPTOR*)(Volume->GroupData + (SIZE)Group * Volume->DescriptorSize);
}

/** The high halves of a 64-bit descriptor, or NULL. */
static const EXT4_GROUP_DESCRIPTOR_HIGH* EXT2GroupHigh(EXT2_VOLUME* Volume, U32 Group) {
    if (Volume->DescriptorSize < EXT4_MIN_DESCRIPTOR_SIZE_64BIT) return NULL;
    return (const EXT4_GROUP_DESCRIPTOR_HIGH*)((const U8*)EXT2Group(Volume, Group) + sizeof(EXT2_GROUP_DESCRIPTOR));
}

U64 EXT2GroupBlockBitmap(EXT2_VOLUME* Volume, U32 Group) {
    const EXT4_GROUP_DESCRIPTOR_HIGH* High = EXT2GroupHigh(Volume, Group);
    return EXT2Group(Volume, Group)->BlockBitmap | (High ? (U64)High->BlockBitmapHigh << 32 : 0);
}

U64 EXT2GroupInodeBitmap(EXT2_VOLUME* Volume, U32 Group) {
    const EXT4_GROUP_DESCRIPTOR_HIGH* High = EXT2GroupHigh(Volume, Group);
    return EXT2Group(Volume, Group)->InodeBitmap | (High ? (U64)High->InodeBitmapHigh << 32 : 0);
}

U64 EXT2GroupInodeTable(EXT2_VOLUME* Volume, U32 Group) {
    const EXT4_GROUP_DESCRIPTOR_HIGH* High = EXT2GroupHigh(Volume, Group);
    return EXT2Group(Volume, Group)->InodeTable | (High ? (U64)High->InodeTableHigh << 32 : 0);
}

BOOL EXT2IsDataBlock(EXT2_VOLUME* Volume, U64 Block) {
    if (Block < Volume->FirstDataBlock || Block >= Volume->BlocksCount) return FALSE;
    U32 Group = (U32)((Block - Volume->FirstDataBlock) / Volume->BlocksPerGroup);
    U64 Offset = (Block - Volume->FirstDataBlock) % Volume->BlocksPerGroup;
    if (Offset < EXT2GroupSuperBlocks(Volume, Group)) return FALSE;
    if (Block == EXT2GroupBlockBitmap(Volume, Group) || Block == EXT2GroupInodeBitmap(Volume, Group)) return FALSE;
    U64 Table = EXT2GroupInodeTable(Volume, Group);
    return !(Block >= Table && Block - Table < Volume->InodeTableBlocks);
}

U64 EXT2MetadataBlocks(EXT2_VOLUME* Volume) {
    U64 Blocks = Volume->FirstDataBlock;
    for (U32 Group = 0; Group < Volume->GroupCount; Group++) {
        if (EXT2GroupHasSuperblock(Volume, Group)) Blocks += 1 + Volume->DescriptorBlocks;
        Blocks += 2 + Volume->InodeTableBlocks;
    }
    return Blocks;
}

/** A reason the descriptor of Group cannot be used, or NULL. */
static LPCSTR EXT2DescriptorProblem(EXT2_VOLUME* Volume, U32 Group) {
    U64 First = EXT2GroupFirstBlock(Volume, Group);
    U64 Count = MIN((U64)Volume->BlocksPerGroup, Volume->BlocksCount - First);
    U64 Start = First + EXT2GroupSuperBlocks(Volume, Group);  // first block after the superblock copy
    U64 End = First + Count;
    if (EXT2HasIncompat(Volume, EXT2_INCOMPAT_FLEX_BG)) {
        // flex_bg packs the bitmaps and tables of several groups anywhere in the volume.
        Start = Volume->FirstDataBlock;
        End = Volume->BlocksCount;
    }
    U64 BlockBitmap = EXT2GroupBlockBitmap(Volume, Group);
    U64 InodeBitmap = EXT2GroupInodeBitmap(Volume, Group);
    U64 Table = EXT2GroupInodeTable(Volume, Group);
    U32 TableBlocks = Volume->InodeTableBlocks;
    if (BlockBitmap < Start || BlockBitmap >= End) return "block bitmap outside";
    if (InodeBitmap < Start || InodeBitmap >= End) return "inode bitmap outside";
    if (Table < Start || Table >= End || TableBlocks > End - Table) return "inode table outside";
    if (BlockBitmap == InodeBitmap || (BlockBitmap >= Table && BlockBitmap - Table < TableBlocks) ||
        (InodeBitmap >= Table && InodeBitmap - Table < TableBlocks)) {
        return "bitmaps overlap";
    }
    // The counts matter to the writer; ext4 volumes (read-only) may keep 16-bit halves of larger ones.
    const EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
    if (Volume->Kind != EXT2_KIND_EXT4 &&
        (Descriptor->FreeBlocksCount > Count || Descriptor->FreeInodesCount > Volume->InodesPerGroup ||
         Descriptor->UsedDirectoriesCount > Volume->InodesPerGroup)) {
        return "bad counts";
    }
    return NULL;
}

static void EXT2FreeDescriptors(EXT2_VOLUME* Volume) {
    KernelHeapFree(Volume->GroupData);
    KernelHeapFree(Volume->GroupBad);
    KernelHeapFree(Volume->DescriptorBlockDirty);
    Volume->GroupData = Volume->GroupBad = Volume->DescriptorBlockDirty = NULL;
}

VFS_STATUS EXT2LoadDescriptors(EXT2_VOLUME* Volume) {
    EXT2FreeDescriptors(Volume);
    Volume->GroupData = (U8*)KernelHeapAlloc((SIZE)Volume->DescriptorBlocks << Volume->BlockShift);
    Volume->GroupBad = (U8*)KernelHeapAllocZero(Volume->GroupCount);
    Volume->DescriptorBlockDirty = (U8*)KernelHeapAllocZero(Volume->DescriptorBlocks);
    if (Volume->GroupData == NULL || Volume->GroupBad == NULL || Volume->DescriptorBlockDirty == NULL) {
        EXT2FreeDescriptors(Volume);
        return VFS_ERROR_NO_MEMORY;
    }
    // Consecutive descriptor blocks (the classic table) in one request each run.
    for (U32 Index = 0; Index < Volume->DescriptorBlocks;) {
        U64 Location = EXT2DescriptorBlockLocation(Volume, Index);
        U32 Run = 1;
        while (Index + Run < Volume->DescriptorBlocks && Run < Volume->TransferBlocks &&
               EXT2DescriptorBlockLocation(Volume, Index + Run) == Location + Run) {
            Run++;
        }
        if (Location + Run > Volume->BlocksCount) return EXT2Refuse(Volume, "descriptor block %u outside", Index);
        VFS_STATUS Status = EXT2ReadBytes(Volume, Location << Volume->BlockShift, Run << Volume->BlockShift,
                                          Volume->GroupData + ((SIZE)Index << Volume->BlockShift));
        if (Status != VFS_OK) return Status;
        Index += Run;
    }
    U32 BadChecksums = 0;
    for (U32 Group = 0; Group < Volume->GroupCount; Group++) {
        LPCSTR Problem = EXT2DescriptorProblem(Volume, Group);
        if (Problem) return EXT2Refuse(Volume, "group %u descriptor: %s", Group, Problem);
        if (!EXT2DescriptorChecksumValid(Volume, Group, (const U8*)EXT2Group(Volume, Group))) {
            Volume->GroupBad[Group] = 1;
            if (BadChecksums++ == 0) EXT2ChecksumFailed(Volume, "group descriptor", Group);
        }
    }
    if (BadChecksums > 1) {
        WARNING("[EXT2Mount] %s: %u group descriptors have bad checksums: their inodes are unreadable",
                Volume->Disk->Name, BadChecksums);
    }
    return VFS_OK;
}

/*
 * EXT2-Inode.c - inodes and their block maps.
 *
 * An inode lives in its group's inode table: group (N - 1) / inodes per
 * group, slot (N - 1) % inodes per group. With metadata_csum its whole
 * record is checksummed (EXT2-Checksum.c): a bad one fails that inode only.
 * Slots a checksummed group never initialised (INODE_UNINIT, or past
 * InodesPerGroup - bg_itable_unused) read as unused without touching the
 * table, and a group whose descriptor failed its checksum fails its inodes.
 * Large inodes carry fields past byte 128 only as far as i_extra_isize
 * reaches (nanoseconds, creation time); it must fit the record.
 *
 * Three ways to find a file's blocks: i_block[15] as a block map (12
 * direct blocks, then one single, one double and one triple indirect block;
 * each indirect block holds BlockSize / 4 block numbers; 0 is a hole), an
 * extent tree (EXT2_EXTENTS_FL, EXT2-Extent.c), or no blocks at all (inline
 * data, EXT2-Inline.c; fast symbolic links). EXT2MapRun reads any of them;
 * only block maps are ever written (extent and inline inodes exist on ext4
 * volumes, which are read-only).
 *
 * Every block number taken from a block map is checked before use: inside
 * the volume and not group metadata (bitmaps, inode table, superblock or
 * descriptor copies), and an indirect block may not appear again below
 * itself (a loop). Writing extends the map all-or-nothing: the data block
 * and any missing indirect blocks are allocated first, then linked, so a full
 * disk leaves no block allocated and unreachable. i_blocks counts 512-byte
 * units of every block the inode owns, indirect and attribute blocks
 * included, exactly as e2fsck recounts it.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/Endian.h"
#include "utils/String.h"

/************************************************************************/
// Inodes

/** Where inode Number's record is; *Unused when its group never initialised that slot (it reads as zeros). */
static VFS_STATUS EXT2InodeLocation(EXT2_VOLUME* Volume, U32 Number, U64* Block, U32* Offset, BOOL* Unused) {
    *Unused = FALSE;
    if (Number == 0 || Number > Volume->InodesCount) return EXT2Corrupt(Volume, "inode number %u out of range", Number);
    U32 Group = (Number - 1) / Volume->InodesPerGroup;
    U32 Index = (Number - 1) % Volume->InodesPerGroup;
    if (Volume->GroupBad[Group]) return EXT2ChecksumFailed(Volume, "the group descriptor of inode", Number);
    if (EXT2MetadataChecksums(Volume) || EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_GDT_CSUM)) {
        const EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
        U32 Untouched = Descriptor->InodeTableUnused;
        if (Volume->DescriptorSize >= EXT4_MIN_DESCRIPTOR_SIZE_64BIT) {
            Untouched |= (U32)((const EXT4_GROUP_DESCRIPTOR_HIGH*)(Descriptor + 1))->InodeTableUnusedHigh << 16;
        }
        Untouched = MIN(Untouched, Volume->InodesPerGroup);
        if ((Descriptor->Flags & EXT4_BG_INODE_UNINIT) || Index >= Volume->InodesPerGroup - Untouched) *Unused = TRUE;
    }
    U64 Byte = (U64)Index * Volume->InodeSize;
    *Block = EXT2GroupInodeTable(Volume, Group) + (Byte >> Volume->BlockShift);
    *Offset = (U32)(Byte & (Volume->BlockSize - 1));
    return VFS_OK;
}

VFS_STATUS EXT2PinInode(EXT2_VOLUME* Volume, U32 Number, BLOCK_BUFFER* Buffer, U32* Offset) {
    U64 Block;
    BOOL Unused;
    MemorySet(Buffer, 0, sizeof(*Buffer));
    VFS_STATUS Status = EXT2InodeLocation(Volume, Number, &Block, Offset, &Unused);
    if (Status != VFS_OK) return Status;
    if (Unused) return EXT2Corrupt(Volume, "inode %u lies in the unused part of its group", Number);
    return EXT2BufferGet(Volume, Block, TRUE, Buffer);
}

static U32 EXT2InodeCopySize(EXT2_VOLUME* Volume) { return MIN(Volume->InodeSize, (U32)EXT2_INODE_DISK_SIZE); }

VFS_STATUS EXT2ReadInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode) {
    U64 Block;
    U32 Offset;
    BOOL Unused;
    MemorySet(Inode, 0, sizeof(*Inode));
    VFS_STATUS Status = EXT2InodeLocation(Volume, Number, &Block, &Offset, &Unused);
    if (Status != VFS_OK) return Status;
    Inode->Number = Number;
    if (Unused) return VFS_OK;
    BLOCK_BUFFER Buffer;
    Status = EXT2BufferGet(Volume, Block, TRUE, &Buffer);
    if (Status != VFS_OK) return Status;
    const U8* Raw = Buffer.Data + Offset;
    BOOL Valid = !EXT2MetadataChecksums(Volume) || EXT2InodeChecksumValid(Volume, Number, Raw);
    MemoryCopy(Inode, Raw, EXT2InodeCopySize(Volume));
    BlockRelease(&Buffer);
    if (!Valid) return EXT2ChecksumFailed(Volume, "inode", Number);
    if (Volume->InodeSize > EXT2_GOOD_OLD_INODE_SIZE &&
        ((U32)EXT2_GOOD_OLD_INODE_SIZE + Inode->ExtraSize > Volume->InodeSize || (Inode->ExtraSize & 3) != 0)) {
        return EXT2Corrupt(Volume, "inode %u: bad extra size %u", Number, Inode->ExtraSize);
    }
    if (EXT2MetadataChecksums(Volume)) Inode->ChecksumSeed = EXT2InodeSeed(Volume, Number, Inode->Generation);
    return VFS_OK;
}

VFS_STATUS EXT2ReadLiveInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode) {
    VFS_STATUS Status = EXT2ReadInode(Volume, Number, Inode);
    if (Status != VFS_OK) return Status;
    if (Inode->LinksCount == 0) return EXT2Corrupt(Volume, "inode %u is in use but has no links", Number);
    U32 Type = Inode->Mode & VFS_TYPE_MASK;
    switch (Type) {
        case VFS_TYPE_FIFO:
        case VFS_TYPE_CHARACTER:
        case VFS_TYPE_DIRECTORY:
        case VFS_TYPE_BLOCK:
        case VFS_TYPE_REGULAR:
        case VFS_TYPE_SYMLINK:
        case VFS_TYPE_SOCKET:
            break;
        default:
            return EXT2Corrupt(Volume, "inode %u has unknown type %x", Number, Inode->Mode);
    }
    // How its contents are found: only as the volume's features allow, and one way only.
    BOOL Extents = (Inode->Flags & EXT2_EXTENTS_FL) != 0, Inline = (Inode->Flags & EXT2_INLINE_DATA_FL) != 0;
    if ((Extents && !EXT2HasIncompat(Volume, EXT2_INCOMPAT_EXTENTS)) ||
        (Inline && !EXT2HasIncompat(Volume, EXT2_INCOMPAT_INLINE_DATA)) || (Extents && Inline)) {
        return EXT2Corrupt(Volume, "inode %u has flags %x its volume does not allow", Number, Inode->Flags);
    }
    if ((Extents || Inline) && Type != VFS_TYPE_REGULAR && Type != VFS_TYPE_DIRECTORY && Type != VFS_TYPE_SYMLINK) {
        return EXT2Corrupt(Volume, "inode %u: a device or pipe with contents", Number);
    }
    if (Inode->Flags & EXT4_ENCRYPT_FL) return EXT2Corrupt(Volume, "inode %u is encrypted", Number);
    return VFS_OK;
}

static VFS_STATUS EXT2StoreInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode, BOOL Clear) {
    U64 Block;
    U32 Offset;
    BOOL Unused;
    VFS_STATUS Status = EXT2InodeLocation(Volume, Number, &Block, &Offset, &Unused);
    if (Status != VFS_OK) return Status;
    BLOCK_BUFFER Buffer;
    Status = EXT2BufferGet(Volume, Block, TRUE, &Buffer);
    if (Status != VFS_OK) return Status;
    if (Clear) MemorySet(Buffer.Data + Offset, 0, Volume->InodeSize);
    MemoryCopy(Buffer.Data + Offset, Inode, EXT2InodeCopySize(Volume));
    BlockDirty(&Buffer);
    BlockRelease(&Buffer);
    return VFS_OK;
}

VFS_STATUS EXT2WriteInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode) {
    return EXT2StoreInode(Volume, Number, Inode, FALSE);
}

VFS_STATUS EXT2WriteNewInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode) {
    return EXT2StoreInode(Volume, Number, Inode, TRUE);
}

U64 EXT2GetSize(EXT2_VOLUME* Volume, const EXT2_INODE* Inode) {
    // Files use i_size_high; with large_dir, folders too (Linux's ext4_isize).
    if (VFS_IS_REGULAR(Inode->Mode) || EXT2HasIncompat(Volume, EXT2_INCOMPAT_LARGEDIR)) {
        return (U64)Inode->Size | ((U64)Inode->SizeHigh << 32);
    }
    return Inode->Size;
}

U64 EXT2InodeBlocks(EXT2_VOLUME* Volume, const EXT2_INODE* Inode) {
    if (!EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_HUGE_FILE)) return Inode->Blocks;
    U64 Blocks = Inode->Blocks | ((U64)Inode->BlocksHigh << 32);
    // HUGE_FILE_FL: counted in file-system blocks (e2fsprogs blknum.c: ext2fs_get_stat_i_blocks).
    return (Inode->Flags & EXT4_HUGE_FILE_FL) ? Blocks * Volume->SectorsPerBlock : Blocks;
}

VFS_STATUS EXT2SetSize(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 Size) {
    if (!VFS_IS_REGULAR(Inode->Mode)) {
        if (Size > MAX_U32) return VFS_ERROR_FILE_TOO_BIG;
        Inode->Size = (U32)Size;
        return VFS_OK;
    }
    if (Size > 0x7FFFFFFFULL && (Volume->FeatureRoCompat & EXT2_RO_COMPAT_LARGE_FILE) == 0) {
        // Files of 2 GiB and more need large_file; revision 0 has no feature flags to say so.
        if (Volume->Revision == EXT2_GOOD_OLD_REVISION) return VFS_ERROR_FILE_TOO_BIG;
        Volume->FeatureRoCompat |= EXT2_RO_COMPAT_LARGE_FILE;
        Volume->Super.FeatureRoCompat |= EXT2_RO_COMPAT_LARGE_FILE;
        Volume->SuperDirty = TRUE;
    }
    Inode->Size = (U32)Size;
    Inode->SizeHigh = (U32)(Size >> 32);
    return VFS_OK;
}

void EXT2Touch(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 What) {
    U32 Now = EXT2Now();
    // Large inodes keep nanoseconds (and epoch bits) beside each time: clear them so the time reads exactly Now.
    U32 Extra = Volume->InodeSize > EXT2_GOOD_OLD_INODE_SIZE ? Inode->ExtraSize : 0;
    if (What & EXT2_TOUCH_CHANGE) {
        Inode->ChangeTime = Now;
        if (Extra >= 8) Inode->ChangeTimeExtra = 0;
    }
    if (What & EXT2_TOUCH_MODIFY) {
        Inode->ModifyTime = Now;
        if (Extra >= 12) Inode->ModifyTimeExtra = 0;
    }
    if (What & EXT2_TOUCH_ACCESS) {
        Inode->AccessTime = Now;
        if (Extra >= 16) Inode->AccessTimeExtra = 0;
    }
}

BOOL EXT2HasBlockMap(EXT2_VOLUME* Volume, const EXT2_INODE* Inode) {
    U32 Type = Inode->Mode & VFS_TYPE_MASK;
    if (Inode->Flags & EXT2_INLINE_DATA_FL) return FALSE;
    if (Type == VFS_TYPE_REGULAR || Type == VFS_TYPE_DIRECTORY) return TRUE;
    if (Type != VFS_TYPE_SYMLINK) return FALSE;
    // A fast symlink keeps its target in i_block and owns no block (but maybe an attribute block, a cluster).
    U64 ClusterUnits = Volume->SectorsPerBlock;
    if (EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_BIGALLOC)) {
        ClusterUnits <<= Volume->Super.LogClusterSize - Volume->Super.LogBlockSize;
    }
    U64 AttributeUnits = Inode->FileAcl ? ClusterUnits : 0;
    return EXT2InodeBlocks(Volume, Inode) != AttributeUnits;
}

U64 EXT2MaxLogicalBlocks(EXT2_VOLUME* Volume) {
    U64 Pointers = Volume->PointersPerBlock;
    U64 Total = EXT2_DIRECT_BLOCKS + Pointers + Pointers * Pointers + Pointers * Pointers * Pointers;
    return MIN(Total, (U64)MAX_U32);
}

U32 EXT2InodeGoal(EXT2_VOLUME* Volume, U32 Number) {
    U32 Group = (Number >= 1 && Number <= Volume->InodesCount) ? (Number - 1) / Volume->InodesPerGroup : 0;
    return EXT2GroupFirstBlock(Volume, Group);
}

static void EXT2AddBlocks(EXT2_VOLUME* Volume, EXT2_INODE* Inode, I32 Count) {
    I64 Units = (I64)Inode->Blocks + (I64)Count * Volume->SectorsPerBlock;
    Inode->Blocks = Units < 0 ? 0 : (Units > MAX_U32 ? MAX_U32 : (U32)Units);
}

/************************************************************************/
// The block map

typedef struct tag_EXT2_MAP_PATH {
    U32 Depth;        // 0 direct, 1 single, 2 double, 3 triple indirect
    U32 Offsets[4];   // index in i_block, then in each indirect block
} EXT2_MAP_PATH;

static VFS_STATUS EXT2MapPath(EXT2_VOLUME* Volume, U32 Logical, EXT2_MAP_PATH* Path) {
    U64 Index = Logical;
    U64 Pointers = Volume->PointersPerBlock;
    U32 Shift = Volume->PointerShift;
    if (Index < EXT2_DIRECT_BLOCKS) {
        Path->Depth = 0;
        Path->Offsets[0] = (U32)Index;
        return VFS_OK;
    }
    Index -= EXT2_DIRECT_BLOCKS;
    if (Index < Pointers) {
        Path->Depth = 1;
        Path->Offsets[0] = EXT2_INDIRECT_BLOCK;
        Path->Offsets[1] = (U32)Index;
        return VFS_OK;
    }
    Index -= Pointers;
    if (Index < Pointers * Pointers) {
        Path->Depth = 2;
        Path->Offsets[0] = EXT2_DOUBLE_BLOCK;
        Path->Offsets[1] = (U32)(Index >> Shift);
        Path->Offsets[2] = (U32)(Index & (Pointers - 1));
        return VFS_OK;
    }
    Index -= Pointers * Pointers;
    if (Index < Pointers * Pointers * Pointers) {
        Path->Depth = 3;
        Path->Offsets[0] = EXT2_TRIPLE_BLOCK;
        Path->Offsets[1] = (U32)(Index >> (2 * Shift));
        Path->Offsets[2] = (U32)((Index >> Shift) & (Pointers - 1));
        Path->Offsets[3] = (U32)(Index & (Pointers - 1));
        return VFS_OK;
    }
    return VFS_ERROR_FILE_TOO_BIG;
}

static VFS_STATUS EXT2ReadPointer(EXT2_VOLUME* Volume, U32 Block, U32 Index, U32* Value) {
    BLOCK_BUFFER Buffer;
    VFS_STATUS Status = EXT2BufferGet(Volume, Block, TRUE, &Buffer);
    if (Status != VFS_OK) return Status;
    *Value = ((const U32*)Buffer.Data)[Index];
    BlockRelease(&Buffer);
    return VFS_OK;
}

static VFS_STATUS EXT2WritePointer(EXT2_VOLUME* Volume, U32 Block, U32 Index, U32 Value, BOOL Fresh) {
    BLOCK_BUFFER Buffer;
    VFS_STATUS Status = EXT2BufferGet(Volume, Block, !Fresh, &Buffer);
    if (Status != VFS_OK) return Status;
    ((U32*)Buffer.Data)[Index] = Value;
    BlockDirty(&Buffer);
    BlockRelease(&Buffer);
    return VFS_OK;
}

/** A block the map names must be a data block and not one of the indirect blocks above it. */
static VFS_STATUS EXT2CheckMapped(EXT2_VOLUME* Volume, U32 Block, const U32* Above, U32 AboveCount) {
    if (!EXT2IsDataBlock(Volume, Block)) return EXT2Corrupt(Volume, "block map names invalid block %u", Block);
    for (U32 I = 0; I < AboveCount; I++) {
        if (Above[I] == Block) return EXT2Corrupt(Volume, "indirect block %u points to itself or above", Block);
    }
    return VFS_OK;
}

VFS_STATUS EXT2MapBlock(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 Logical, BOOL Create, U32* Goal, U32* Physical,
                        BOOL* Fresh) {
    *Physical = 0;
    if (Fresh) *Fresh = FALSE;
    // Only block maps are written; an extent or inline inode on this path is a volume Cairn must not change.
    if (Inode->Flags & (EXT2_EXTENTS_FL | EXT2_INLINE_DATA_FL)) {
        return EXT2Corrupt(Volume, "inode %u is not block-mapped", Inode->Number);
    }
    EXT2_MAP_PATH Path;
    VFS_STATUS Status = EXT2MapPath(Volume, Logical, &Path);
    if (Status != VFS_OK) return Status;

    // Chain[L] is the block found at level L (Chain[Depth] the data block).
    U32 Chain[4];
    U32 Level = 0;
    Chain[0] = Inode->Block[Path.Offsets[0]];
    while (Chain[Level] != 0 && Level < Path.Depth) {
        Status = EXT2CheckMapped(Volume, Chain[Level], Chain, Level);
        if (Status != VFS_OK) return Status;
        Status = EXT2ReadPointer(Volume, Chain[Level], Path.Offsets[Level + 1], &Chain[Level + 1]);
        if (Status != VFS_OK) return Status;
        Level++;
    }
    if (Chain[Level] != 0) {
        Status = EXT2CheckMapped(Volume, Chain[Level], Chain, Level);
        if (Status != VFS_OK) return Status;
        *Physical = Chain[Level];
        if (Goal) *Goal = Chain[Level] + 1;
        return VFS_OK;
    }
    if (!Create) return VFS_OK;

    // Missing from Level down: Depth - Level new indirect blocks and the data block.
    U32 Needed = Path.Depth - Level + 1;
    if ((U64)Inode->Blocks + (U64)Needed * Volume->SectorsPerBlock > MAX_U32) return VFS_ERROR_FILE_TOO_BIG;
    U32 New[4];
    U32 Allocated = 0;
    U32 Near = Goal ? *Goal : 0;
    for (; Allocated < Needed; Allocated++) {
        Status = EXT2AllocateBlock(Volume, Near, &New[Allocated]);
        if (Status != VFS_OK) break;
        Near = New[Allocated] + 1;
    }
    // New indirect blocks start zeroed; each points to the next; the first is linked last.
    for (U32 I = 0; Status == VFS_OK && I + 1 < Needed; I++) {
        Status = EXT2WritePointer(Volume, New[I], Path.Offsets[Level + I + 1], New[I + 1], TRUE);
    }
    if (Status == VFS_OK) {
        if (Level == 0) Inode->Block[Path.Offsets[0]] = New[0];
        else Status = EXT2WritePointer(Volume, Chain[Level - 1], Path.Offsets[Level], New[0], FALSE);
    }
    if (Status != VFS_OK) {
        for (U32 I = 0; I < Allocated; I++) EXT2FreeBlock(Volume, New[I]);
        return Status;
    }
    EXT2AddBlocks(Volume, Inode, (I32)Needed);
    *Physical = New[Needed - 1];
    if (Goal) *Goal = *Physical + 1;
    if (Fresh) *Fresh = TRUE;
    return VFS_OK;
}

/** A block the run may take after its first: a data block, not an indirect block above it (no error logged). */
static BOOL EXT2RunMayTake(EXT2_VOLUME* Volume, U32 Block, const U32* Above, U32 AboveCount) {
    if (!EXT2IsDataBlock(Volume, Block)) return FALSE;
    for (U32 I = 0; I < AboveCount; I++) {
        if (Above[I] == Block) return FALSE;
    }
    return TRUE;
}

/**
 * A block map's run from Logical, from one read of each indirect block on the way: the pointers after
 * Logical's in the same container (i_block's direct slots, or one last-level indirect block) that continue
 * it on the disk, or that continue a hole. A missing indirect block is a hole to the end of its subtree.
 * The first block is checked as EXT2MapBlock checks it (an error); the run stops before a later bad pointer,
 * so the call that starts there reports it.
 */
static VFS_STATUS EXT2BlockMapRun(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U32 Logical, U32 MaxCount,
                                  U64* Physical, U32* Count) {
    if (Inode->Flags & EXT2_INLINE_DATA_FL) return EXT2Corrupt(Volume, "inode %u is not block-mapped", Inode->Number);
    EXT2_MAP_PATH Path;
    VFS_STATUS Status = EXT2MapPath(Volume, Logical, &Path);
    if (Status != VFS_OK) return Status;

    // Chain[L] is the block found at level L; the walk stops at the last-level container (Chain[Depth - 1]).
    U32 Chain[4];
    U32 Level = 0;
    Chain[0] = Path.Depth ? Inode->Block[Path.Offsets[0]] : 0;
    while (Level + 1 < Path.Depth && Chain[Level] != 0) {
        Status = EXT2CheckMapped(Volume, Chain[Level], Chain, Level);
        if (Status != VFS_OK) return Status;
        Status = EXT2ReadPointer(Volume, Chain[Level], Path.Offsets[Level + 1], &Chain[Level + 1]);
        if (Status != VFS_OK) return Status;
        Level++;
    }
    if (Path.Depth > 0 && Chain[Level] == 0) {
        // The subtree under the missing block covers PointersPerBlock^(Depth - Level) blocks; Logical is
        // Within of them in.
        U64 Within = 0;
        for (U32 K = Level + 1; K <= Path.Depth; K++) {
            Within = (Within << Volume->PointerShift) | Path.Offsets[K];
        }
        U64 Span = 1ULL << (Volume->PointerShift * (Path.Depth - Level));
        *Count = (U32)MIN(Span - Within, (U64)MaxCount);
        return VFS_OK;
    }

    // The container's pointers: the direct slots (copied: the inode is packed) or the pinned indirect block.
    U32 Direct[EXT2_DIRECT_BLOCKS];
    const U8* Entries = (const U8*)Direct;
    U32 End = EXT2_DIRECT_BLOCKS;
    BLOCK_BUFFER Buffer = {0};
    if (Path.Depth > 0) {
        Status = EXT2CheckMapped(Volume, Chain[Level], Chain, Level);
        if (Status != VFS_OK) return Status;
        Status = EXT2BufferGet(Volume, Chain[Level], TRUE, &Buffer);
        if (Status != VFS_OK) return Status;
        Entries = (const U8*)Buffer.Data;
        End = Volume->PointersPerBlock;
    } else {
        MemoryCopy(Direct, Inode->Block, sizeof(Direct));
    }
    U32 Index = Path.Offsets[Path.Depth];
    U32 First = ReadLE32(Entries + Index * sizeof(U32));
    U32 Above = Path.Depth;  // Chain[0 .. Depth - 1] are the indirect blocks above the data
    if (First != 0) Status = EXT2CheckMapped(Volume, First, Chain, Above);
    U32 Taken = 1;
    while (Status == VFS_OK && Taken < MaxCount && Index + Taken < End) {
        U32 Next = ReadLE32(Entries + (Index + Taken) * sizeof(U32));
        if (First == 0 ? Next != 0 : ((U64)First + Taken != Next || !EXT2RunMayTake(Volume, Next, Chain, Above))) {
            break;
        }
        Taken++;
    }
    if (Path.Depth > 0) BlockRelease(&Buffer);
    if (Status != VFS_OK) return Status;
    *Physical = First;
    *Count = Taken;
    return VFS_OK;
}

VFS_STATUS EXT2MapRun(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 Logical, U32 MaxCount, U64* Physical, U32* Count) {
    *Physical = 0;
    *Count = 1;
    if (Inode->Flags & EXT2_EXTENTS_FL) {
        return EXT2ExtentMapRun(Volume, Inode, Logical, MAX(MaxCount, 1U), Physical, Count);
    }
    return EXT2BlockMapRun(Volume, Inode, Logical, MAX(MaxCount, 1U), Physical, Count);
}

/************************************************************************/
// Truncation

/**
 * Frees the blocks of the subtree under indirect block Block (Level 1: it
 * points at data) whose index relative to the subtree is From or more;
 * *Empty tells whether the block now points at nothing (the caller frees it).
 */
static VFS_STATUS EXT2TruncateTree(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 Block, U32 Level, U64 From, U32* Above,
                                   U32 AboveCount, BOOL* Empty) {
    *Empty = FALSE;
    VFS_STATUS Status = EXT2CheckMapped(Volume, Block, Above, AboveCount);
    if (Status != VFS_OK) return Status;
    BLOCK_BUFFER Buffer;
    Status = EXT2BufferGet(Volume, Block, TRUE, &Buffer);
    if (Status != VFS_OK) return Status;
    U32* Entries = (U32*)Buffer.Data;
    U64 ChildSpan = 1ULL << (Volume->PointerShift * (Level - 1));
    BOOL AnyLeft = FALSE;
    Above[AboveCount] = Block;

    for (U32 Index = 0; Index < Volume->PointersPerBlock && Status == VFS_OK; Index++) {
        U32 Child = Entries[Index];
        if (Child == 0) continue;
        U64 ChildStart = (U64)Index * ChildSpan;
        if (ChildStart + ChildSpan <= From) {
            AnyLeft = TRUE;
            continue;
        }
        BOOL ChildEmpty = TRUE;
        if (Level > 1) {
            Status = EXT2TruncateTree(Volume, Inode, Child, Level - 1, From > ChildStart ? From - ChildStart : 0, Above,
                                      AboveCount + 1, &ChildEmpty);
        } else {
            Status = EXT2CheckMapped(Volume, Child, Above, AboveCount + 1);
        }
        if (Status != VFS_OK) break;
        if (!ChildEmpty) {
            AnyLeft = TRUE;
            continue;
        }
        Status = EXT2FreeBlock(Volume, Child);
        if (Status != VFS_OK) break;
        Entries[Index] = 0;
        BlockDirty(&Buffer);
        EXT2AddBlocks(Volume, Inode, -1);
    }
    BlockRelease(&Buffer);
    *Empty = (Status == VFS_OK) && !AnyLeft;
    return Status;
}

VFS_STATUS EXT2TruncateBlocks(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 FirstFreed) {
    for (U64 Index = FirstFreed; Index < EXT2_DIRECT_BLOCKS; Index++) {
        if (Inode->Block[Index] == 0) continue;
        VFS_STATUS Status = EXT2FreeBlock(Volume, Inode->Block[Index]);
        if (Status != VFS_OK) return Status;
        Inode->Block[Index] = 0;
        EXT2AddBlocks(Volume, Inode, -1);
    }
    U64 Base = EXT2_DIRECT_BLOCKS;
    for (U32 Level = 1; Level <= 3; Level++) {
        U64 Span = 1ULL << (Volume->PointerShift * Level);
        U32 Slot = EXT2_INDIRECT_BLOCK + Level - 1;
        U32 Root = Inode->Block[Slot];
        if (Root != 0 && FirstFreed < Base + Span) {
            U32 Above[4];
            BOOL Empty;
            U64 From = FirstFreed > Base ? FirstFreed - Base : 0;
            VFS_STATUS Status = EXT2TruncateTree(Volume, Inode, Root, Level, From, Above, 0, &Empty);
            if (Status != VFS_OK) return Status;
            if (Empty) {
                Status = EXT2FreeBlock(Volume, Root);
                if (Status != VFS_OK) return Status;
                Inode->Block[Slot] = 0;
                EXT2AddBlocks(Volume, Inode, -1);
            }
        }
        Base += Span;
    }
    return VFS_OK;
}

/************************************************************************/
// Attribute blocks and deletion

VFS_STATUS EXT2ReleaseAttributeBlock(EXT2_VOLUME* Volume, EXT2_INODE* Inode) {
    U32 Block = Inode->FileAcl;
    if (Block == 0) return VFS_OK;
    if (!EXT2IsDataBlock(Volume, Block)) return EXT2Corrupt(Volume, "attribute block %u is invalid", Block);
    BLOCK_BUFFER Buffer;
    VFS_STATUS Status = EXT2BufferGet(Volume, Block, TRUE, &Buffer);
    if (Status != VFS_OK) return Status;
    U32* Header = (U32*)Buffer.Data;  // h_magic, h_refcount, h_blocks
    if (Header[0] != EXT2_XATTR_MAGIC || Header[2] != 1 || Header[1] == 0) {
        BlockRelease(&Buffer);
        return EXT2Corrupt(Volume, "attribute block %u has a bad header", Block);
    }
    if (Header[1] > 1) {
        // Shared with other inodes (identical attribute sets): drop one reference.
        Header[1]--;
        BlockDirty(&Buffer);
        BlockRelease(&Buffer);
    } else {
        BlockRelease(&Buffer);
        Status = EXT2FreeBlock(Volume, Block);
        if (Status != VFS_OK) return Status;
    }
    Inode->FileAcl = 0;
    EXT2AddBlocks(Volume, Inode, -1);
    return VFS_OK;
}

VFS_STATUS EXT2DeleteInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode) {
    BOOL Directory = VFS_IS_DIRECTORY(Inode->Mode);
    VFS_STATUS Status = VFS_OK;
    if (EXT2HasBlockMap(Volume, Inode)) Status = EXT2TruncateBlocks(Volume, Inode, 0);
    if (Status == VFS_OK) Status = EXT2ReleaseAttributeBlock(Volume, Inode);
    if (Status != VFS_OK) {
        EXT2WriteInode(Volume, Number, Inode);
        return Status;
    }
    Inode->LinksCount = 0;
    Inode->Size = 0;
    if (VFS_IS_REGULAR(Inode->Mode)) Inode->SizeHigh = 0;
    EXT2Touch(Volume, Inode, EXT2_TOUCH_CHANGE | EXT2_TOUCH_MODIFY);
    Inode->DeleteTime = EXT2Now();
    Status = EXT2WriteInode(Volume, Number, Inode);
    if (Status != VFS_OK) return Status;
    return EXT2FreeInode(Volume, Number, Directory);
}

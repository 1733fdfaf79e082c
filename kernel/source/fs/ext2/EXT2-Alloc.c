/*
 * EXT2-Alloc.c - EXT2 block and inode allocation: the per-group bitmaps and
 * the free counts in the group descriptors and the superblock.
 *
 * Each group has one block bitmap and one inode bitmap block (a set bit is a
 * used block or inode). Every change here keeps three things in step: the
 * bit, the group's free count (and used-folder count for inodes) and the
 * superblock's total, so e2fsck finds them equal after any operation.
 *
 * Placement: a block goes after the goal (the previous block of the same
 * file, or the first block of its inode's group) in the same group, then in
 * the following groups. A file's inode goes to its folder's group; a new
 * folder goes to the next group, round robin, that has at least the average
 * number of free inodes and free blocks (a light form of Linux's Orlov
 * spreading), so trees of folders spread across the disk.
 *
 * A bitmap that contradicts the metadata layout or the counts (a group or
 * reserved block marked free, a free count with no free bit, freeing what
 * is already free) is corruption: EXT2Corrupt, and nothing is changed.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/String.h"

/** First clear bit in [Start, End) of Bitmap, or End. */
static U32 EXT2FindClearBit(const U8* Bitmap, U32 Start, U32 End) {
    U32 Bit = Start;
    while (Bit < End) {
        if ((Bit & 7) == 0 && Bitmap[Bit >> 3] == 0xFF) {
            Bit += 8;
            continue;
        }
        if ((Bitmap[Bit >> 3] & (1U << (Bit & 7))) == 0) return Bit;
        Bit++;
    }
    return End;
}

static BOOL EXT2TestBit(const U8* Bitmap, U32 Bit) { return (Bitmap[Bit >> 3] & (1U << (Bit & 7))) != 0; }
static void EXT2SetBit(U8* Bitmap, U32 Bit) { Bitmap[Bit >> 3] |= (U8)(1U << (Bit & 7)); }
static void EXT2ClearBit(U8* Bitmap, U32 Bit) { Bitmap[Bit >> 3] &= (U8)~(1U << (Bit & 7)); }

static U32 EXT2GroupBlockCount(EXT2_VOLUME* Volume, U32 Group) {
    U32 First = (U32)EXT2GroupFirstBlock(Volume, Group);
    return (U32)MIN((U64)Volume->BlocksPerGroup, Volume->BlocksCount - First);
}

/************************************************************************/
// Blocks

/** Takes a free bit in [Start, group end) of one group; VFS_ERROR_NOT_FOUND when there is none. */
static VFS_STATUS EXT2AllocateInGroup(EXT2_VOLUME* Volume, U32 Group, U32 Start, U32* Block) {
    EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
    if (Descriptor->FreeBlocksCount == 0) return VFS_ERROR_NOT_FOUND;
    U32 Count = EXT2GroupBlockCount(Volume, Group);
    if (Start >= Count) return VFS_ERROR_NOT_FOUND;
    BLOCK_BUFFER Bitmap;
    VFS_STATUS Status = EXT2BufferGet(Volume, Descriptor->BlockBitmap, TRUE, &Bitmap);
    if (Status != VFS_OK) return Status;
    U32 Bit = EXT2FindClearBit(Bitmap.Data, Start, Count);
    if (Bit >= Count) {
        BlockRelease(&Bitmap);
        if (Start == 0) {
            return EXT2Corrupt(Volume, "group %u counts %u free blocks, its bitmap none", Group,
                               Descriptor->FreeBlocksCount);
        }
        return VFS_ERROR_NOT_FOUND;
    }
    U32 Found = (U32)EXT2GroupFirstBlock(Volume, Group) + Bit;
    if (!EXT2IsDataBlock(Volume, Found)) {
        BlockRelease(&Bitmap);
        return EXT2Corrupt(Volume, "group %u bitmap marks metadata block %u free", Group, Found);
    }
    EXT2SetBit(Bitmap.Data, Bit);
    BlockDirty(&Bitmap);
    BlockRelease(&Bitmap);
    Descriptor->FreeBlocksCount--;
    if (Volume->Super.FreeBlocksCount > 0) Volume->Super.FreeBlocksCount--;
    EXT2MarkGroupDirty(Volume, Group);
    BlockForget(&Volume->Blocks, Found);
    *Block = Found;
    return VFS_OK;
}

VFS_STATUS EXT2AllocateBlock(EXT2_VOLUME* Volume, U32 Goal, U32* Block) {
    *Block = 0;
    if (Volume->Super.FreeBlocksCount == 0) return VFS_ERROR_NO_SPACE;
    U32 GoalGroup = 0, GoalOffset = 0;
    if (Goal >= Volume->FirstDataBlock && Goal < Volume->BlocksCount) {
        GoalGroup = (Goal - Volume->FirstDataBlock) / Volume->BlocksPerGroup;
        GoalOffset = (Goal - Volume->FirstDataBlock) % Volume->BlocksPerGroup;
    }
    // The goal group from the goal on, every other group, then the goal group from its start.
    for (U32 Step = 0; Step <= Volume->GroupCount; Step++) {
        U32 Group = (GoalGroup + Step) % Volume->GroupCount;
        VFS_STATUS Status = EXT2AllocateInGroup(Volume, Group, Step == 0 ? GoalOffset : 0, Block);
        if (Status == VFS_OK) {
            // A block freed earlier in this operation is in use again: never discard it.
            for (U32 Run = 0; Run < Volume->DiscardRuns; Run++) {
                if (*Block >= Volume->DiscardStart[Run] && *Block - Volume->DiscardStart[Run] < Volume->DiscardCount[Run]) {
                    Volume->DiscardCount[Run] = 0;
                    Volume->DiscardSkipped++;
                }
            }
        }
        if (Status != VFS_ERROR_NOT_FOUND) return Status;
    }
    return VFS_ERROR_NO_SPACE;
}

VFS_STATUS EXT2FreeBlock(EXT2_VOLUME* Volume, U32 Block) {
    if (!EXT2IsDataBlock(Volume, Block)) return EXT2Corrupt(Volume, "freeing block %u, not a data block", Block);
    U32 Group = (Block - Volume->FirstDataBlock) / Volume->BlocksPerGroup;
    U32 Bit = (Block - Volume->FirstDataBlock) % Volume->BlocksPerGroup;
    EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
    BLOCK_BUFFER Bitmap;
    VFS_STATUS Status = EXT2BufferGet(Volume, Descriptor->BlockBitmap, TRUE, &Bitmap);
    if (Status != VFS_OK) return Status;
    if (!EXT2TestBit(Bitmap.Data, Bit)) {
        BlockRelease(&Bitmap);
        return EXT2Corrupt(Volume, "freeing block %u, already free", Block);
    }
    EXT2ClearBit(Bitmap.Data, Bit);
    BlockDirty(&Bitmap);
    BlockRelease(&Bitmap);
    if (Descriptor->FreeBlocksCount < EXT2GroupBlockCount(Volume, Group)) Descriptor->FreeBlocksCount++;
    if (Volume->Super.FreeBlocksCount < Volume->BlocksCount) Volume->Super.FreeBlocksCount++;
    EXT2MarkGroupDirty(Volume, Group);
    BlockForget(&Volume->Blocks, Block);
    if (Volume->Discard) {
        // Neighbouring blocks (a file's runs) grow the last run; others start a new one while there is room.
        U32 Last = Volume->DiscardRuns - 1;
        if (Volume->DiscardRuns != 0 && Block == Volume->DiscardStart[Last] + Volume->DiscardCount[Last]) {
            Volume->DiscardCount[Last]++;
        } else if (Volume->DiscardRuns < EXT2_DISCARD_RUNS) {
            Volume->DiscardStart[Volume->DiscardRuns] = Block;
            Volume->DiscardCount[Volume->DiscardRuns] = 1;
            Volume->DiscardRuns++;
        } else {
            Volume->DiscardSkipped++;
        }
    }
    return VFS_OK;
}

/************************************************************************/
// Inodes

static U32 EXT2ChooseDirectoryGroup(EXT2_VOLUME* Volume) {
    U32 Groups = Volume->GroupCount;
    U32 AverageInodes = Volume->Super.FreeInodesCount / Groups;
    U32 AverageBlocks = Volume->Super.FreeBlocksCount / Groups;
    U32 Start = Volume->NextDirectoryGroup % Groups;
    U32 Best = MAX_U32;
    for (U32 Step = 0; Step < Groups; Step++) {
        U32 Group = (Start + Step) % Groups;
        const EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
        if (Descriptor->FreeInodesCount == 0) continue;
        if (Descriptor->FreeInodesCount >= AverageInodes && Descriptor->FreeBlocksCount >= AverageBlocks) {
            Best = Group;
            break;
        }
        if (Best == MAX_U32 || Descriptor->FreeInodesCount > EXT2Group(Volume, Best)->FreeInodesCount) Best = Group;
    }
    if (Best == MAX_U32) Best = Start;
    Volume->NextDirectoryGroup = (Best + 1) % Groups;
    return Best;
}

static VFS_STATUS EXT2AllocateInodeInGroup(EXT2_VOLUME* Volume, U32 Group, BOOL Directory, U32* Inode) {
    EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
    if (Descriptor->FreeInodesCount == 0) return VFS_ERROR_NOT_FOUND;
    BLOCK_BUFFER Bitmap;
    VFS_STATUS Status = EXT2BufferGet(Volume, Descriptor->InodeBitmap, TRUE, &Bitmap);
    if (Status != VFS_OK) return Status;
    U32 Bit = EXT2FindClearBit(Bitmap.Data, 0, Volume->InodesPerGroup);
    if (Bit >= Volume->InodesPerGroup) {
        BlockRelease(&Bitmap);
        return EXT2Corrupt(Volume, "group %u counts %u free inodes, its bitmap none", Group,
                           Descriptor->FreeInodesCount);
    }
    U32 Number = Group * Volume->InodesPerGroup + Bit + 1;
    if (Number < Volume->FirstInode) {
        BlockRelease(&Bitmap);
        return EXT2Corrupt(Volume, "reserved inode %u marked free", Number);
    }
    EXT2SetBit(Bitmap.Data, Bit);
    BlockDirty(&Bitmap);
    BlockRelease(&Bitmap);
    Descriptor->FreeInodesCount--;
    if (Directory) Descriptor->UsedDirectoriesCount++;
    if (Volume->Super.FreeInodesCount > 0) Volume->Super.FreeInodesCount--;
    EXT2MarkGroupDirty(Volume, Group);
    *Inode = Number;
    return VFS_OK;
}

VFS_STATUS EXT2AllocateInode(EXT2_VOLUME* Volume, U32 Parent, BOOL Directory, U32* Inode) {
    *Inode = 0;
    if (Volume->Super.FreeInodesCount == 0) return VFS_ERROR_NO_SPACE;
    U32 First;
    if (Directory) {
        First = EXT2ChooseDirectoryGroup(Volume);
    } else {
        First = (Parent >= 1 && Parent <= Volume->InodesCount) ? (Parent - 1) / Volume->InodesPerGroup : 0;
        // Stay with the parent unless its group has no blocks left for the file's data.
        if (EXT2Group(Volume, First)->FreeBlocksCount == 0) {
            for (U32 Step = 1; Step < Volume->GroupCount; Step++) {
                U32 Group = (First + Step) % Volume->GroupCount;
                if (EXT2Group(Volume, Group)->FreeInodesCount > 0 && EXT2Group(Volume, Group)->FreeBlocksCount > 0) {
                    First = Group;
                    break;
                }
            }
        }
    }
    for (U32 Step = 0; Step < Volume->GroupCount; Step++) {
        U32 Group = (First + Step) % Volume->GroupCount;
        VFS_STATUS Status = EXT2AllocateInodeInGroup(Volume, Group, Directory, Inode);
        if (Status != VFS_ERROR_NOT_FOUND) return Status;
    }
    return VFS_ERROR_NO_SPACE;
}

VFS_STATUS EXT2FreeInode(EXT2_VOLUME* Volume, U32 Inode, BOOL Directory) {
    if (Inode < Volume->FirstInode || Inode > Volume->InodesCount) {
        return EXT2Corrupt(Volume, "freeing inode %u, reserved or out of range", Inode);
    }
    U32 Group = (Inode - 1) / Volume->InodesPerGroup;
    U32 Bit = (Inode - 1) % Volume->InodesPerGroup;
    EXT2_GROUP_DESCRIPTOR* Descriptor = EXT2Group(Volume, Group);
    BLOCK_BUFFER Bitmap;
    VFS_STATUS Status = EXT2BufferGet(Volume, Descriptor->InodeBitmap, TRUE, &Bitmap);
    if (Status != VFS_OK) return Status;
    if (!EXT2TestBit(Bitmap.Data, Bit)) {
        BlockRelease(&Bitmap);
        return EXT2Corrupt(Volume, "freeing inode %u, already free", Inode);
    }
    EXT2ClearBit(Bitmap.Data, Bit);
    BlockDirty(&Bitmap);
    BlockRelease(&Bitmap);
    if (Descriptor->FreeInodesCount < Volume->InodesPerGroup) Descriptor->FreeInodesCount++;
    if (Directory && Descriptor->UsedDirectoriesCount > 0) Descriptor->UsedDirectoriesCount--;
    if (Volume->Super.FreeInodesCount < Volume->InodesCount) Volume->Super.FreeInodesCount++;
    EXT2MarkGroupDirty(Volume, Group);
    return VFS_OK;
}

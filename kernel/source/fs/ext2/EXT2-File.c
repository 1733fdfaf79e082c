/*
 * EXT2-File.c - EXT2 file contents: read, write, truncate, and the
 * attributes (stat, symbolic link targets).
 *
 * Data moves between the caller's buffer and the DISK (through the disk's
 * cache, when it has one), not through pinned blocks: runs of physically
 * consecutive whole blocks go in one request; a partial block is read,
 * patched and written through the volume's scratch block; holes read as
 * zeros; the bytes between a file's end and its last block's end read as
 * zeros once the file grows over them (EXT2ZeroBlockTail: after a power cut
 * they may hold a longer version's data). A write allocates missing blocks as it goes (near the previous
 * block of the file); when the disk fills up it stops at the last whole
 * block it could place and reports VFS_ERROR_NO_SPACE with the bytes
 * written, the size covering exactly those bytes. A read that meets an
 * error (a damaged block map, a failing disk) after some bytes returns
 * those bytes, as a short read; the next read, starting at the failure,
 * returns the error.
 *
 * Access times follow Linux's relatime: a read updates atime only when it
 * is older than the last change or a day old, and never on a read-only
 * volume or disk.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/String.h"

#define EXT2_RELATIME_SECONDS (24 * 60 * 60)

typedef struct tag_EXT2_RUN {
    U64 Physical;     // first block of the run
    U32 Count;        // blocks in it
    U8* Memory;       // where its bytes are in the caller's buffer
} EXT2_RUN;

static VFS_STATUS EXT2RunFlush(EXT2_VOLUME* Volume, EXT2_RUN* Run, BOOL Write) {
    if (Run->Count == 0) return VFS_OK;
    VFS_STATUS Status = Write ? EXT2WriteBlocks(Volume, Run->Physical, Run->Count, Run->Memory)
                              : EXT2ReadBlocks(Volume, Run->Physical, Run->Count, Run->Memory);
    Run->Count = 0;
    return Status;
}

/** The largest size a regular file may reach on this volume. */
static U64 EXT2MaxFileSize(EXT2_VOLUME* Volume) {
    U64 Bytes = EXT2MaxLogicalBlocks(Volume) << Volume->BlockShift;
    if (Volume->Revision == EXT2_GOOD_OLD_REVISION) Bytes = MIN(Bytes, 0x7FFFFFFFULL);
    return Bytes;
}

/**
 * Zeroes the bytes of the block holding Offset from Offset to the block's end, when that block is allocated
 * and Offset is inside it. Past the end of a file they may hold anything: a longer file's data whose shorter
 * size reached the disk before a power cut (the data blocks landed, the inode did not), so growing the file
 * (a truncate up, a write past the end) clears them first, and shrinking clears them too.
 */
static VFS_STATUS EXT2ZeroBlockTail(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 Offset) {
    U32 Within = (U32)(Offset & (Volume->BlockSize - 1));
    if (Within == 0) return VFS_OK;
    U32 Physical;
    VFS_STATUS Status = EXT2MapBlock(Volume, Inode, (U32)(Offset >> Volume->BlockShift), FALSE, NULL, &Physical, NULL);
    if (Status != VFS_OK || Physical == 0) return Status;
    Status = EXT2ReadBlocks(Volume, Physical, 1, Volume->Scratch);
    if (Status != VFS_OK) return Status;
    MemorySet(Volume->Scratch + Within, 0, Volume->BlockSize - Within);
    return EXT2WriteBlocks(Volume, Physical, 1, Volume->Scratch);
}

static VFS_STATUS EXT2ReadFile(EXT2_VOLUME* Volume, U32 Number, U64 Offset, U8* Buffer, U32 Length, U32* Done) {
    EXT2_INODE Inode;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, Number, &Inode);
    if (Status != VFS_OK) return Status;
    if (VFS_IS_DIRECTORY(Inode.Mode)) return VFS_ERROR_IS_DIRECTORY;
    if (!VFS_IS_REGULAR(Inode.Mode)) return VFS_ERROR_INVALID;
    U64 Size = EXT2GetSize(Volume, &Inode);
    if (Offset >= Size || Length == 0) return VFS_OK;
    U32 Total = (U32)MIN((U64)Length, Size - Offset);
    if (Inode.Flags & EXT2_INLINE_DATA_FL) {
        Status = EXT2InlineRead(Volume, &Inode, Offset, Buffer, Total);
        if (Status == VFS_OK) *Done = Total;
        return Status;
    }

    // Whole blocks that follow each other on the disk gather in Run, read in one request when it ends or
    // reaches the disk's largest request. The map answers in runs (whole extents), so a large contiguous
    // file costs one lookup and one request per TransferBlocks.
    EXT2_RUN Run = {0, 0, NULL};
    U32 BlockSize = Volume->BlockSize;
    U32 MaxRun = Volume->TransferBlocks;
    U32 Position = 0, Good = 0;  // Good: the bytes before it are read (the pending run starts there)
    BOOL Ended = FALSE;           // the map's last run stopped short of what was asked
    while (Position < Total) {
        U64 Byte = Offset + Position;
        U32 Within = (U32)(Byte & (BlockSize - 1));
        U64 Logical = Byte >> Volume->BlockShift;
        U32 Left = Total - Position;
        U64 Physical = 0;
        U32 Count = 1;
        if (Logical <= MAX_U32) {
            U32 Wanted = (U32)MIN(((U64)Within + Left + BlockSize - 1) >> Volume->BlockShift, (U64)MAX_U32 - Logical + 1);
            if (Ended) {
                // The next lookup may read the next indirect block, which ext2 lays out right after the data
                // pending here: reading that data first keeps the cache's sequential detector (and its
                // read-ahead) going.
                Status = EXT2RunFlush(Volume, &Run, FALSE);
                if (Status != VFS_OK) break;
                Good = Position;
            }
            Status = EXT2MapRun(Volume, &Inode, (U32)Logical, Wanted, &Physical, &Count);
            if (Status != VFS_OK) break;
            Ended = Count < Wanted;
        }
        if (Physical == 0 || Within != 0 || Left < BlockSize) {
            // A hole (or an unwritten extent), or a piece of a block: not part of a run.
            Status = EXT2RunFlush(Volume, &Run, FALSE);
            if (Status != VFS_OK) break;
            Good = Position;
            U32 Chunk = MIN(BlockSize - Within, Left);
            if (Physical == 0) {
                Chunk = (U32)MIN((U64)Count * BlockSize - Within, (U64)Left);
                MemorySet(Buffer + Position, 0, Chunk);
            } else {
                Status = EXT2ReadBlocks(Volume, Physical, 1, Volume->Scratch);
                if (Status != VFS_OK) break;
                MemoryCopy(Buffer + Position, Volume->Scratch + Within, Chunk);
            }
            Position += Chunk;
            Good = Position;
            continue;
        }
        // Whole blocks: extend the pending run while they follow it on the disk, else start another.
        U32 Whole = MIN(Count, Left >> Volume->BlockShift);
        while (Whole > 0) {
            if (Run.Count == 0 || Run.Physical + Run.Count != Physical || Run.Count >= MaxRun) {
                Status = EXT2RunFlush(Volume, &Run, FALSE);
                if (Status != VFS_OK) break;
                Good = Position;
                Run.Physical = Physical;
                Run.Memory = Buffer + Position;
            }
            U32 Take = MIN(Whole, MaxRun - Run.Count);
            Run.Count += Take;
            Physical += Take;
            Whole -= Take;
            Position += Take << Volume->BlockShift;
        }
        if (Status != VFS_OK) break;
    }
    // A run still pending (a failed flush empties it) covers the bytes up to Position.
    if (Run.Count > 0) {
        VFS_STATUS RunStatus = EXT2RunFlush(Volume, &Run, FALSE);
        if (RunStatus == VFS_OK) Good = Position;
        else if (Status == VFS_OK) Status = RunStatus;
    }
    // The bytes read before an error are the answer (a short read); the next read, from there, gets the error.
    if (Status != VFS_OK && Good == 0) return Status;
    *Done = Good;

    if (EXT2CanWrite(Volume)) {
        U32 Now = EXT2Now();
        if (Inode.AccessTime <= Inode.ModifyTime || Inode.AccessTime <= Inode.ChangeTime ||
            Now - Inode.AccessTime >= EXT2_RELATIME_SECONDS) {
            EXT2Touch(Volume, &Inode, EXT2_TOUCH_ACCESS);
            EXT2WriteInode(Volume, Number, &Inode);
        }
    }
    return VFS_OK;
}

VFS_STATUS EXT2Read(LPVOID Handle, U64 Inode, U64 Offset, LPVOID Buffer, U32 Length, U32* Done) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    *Done = 0;
    if (Inode == 0 || Inode > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    Status = EXT2ReadFile(Volume, (U32)Inode, Offset, (U8*)Buffer, Length, Done);
    return EXT2End(Volume, Status);
}

/************************************************************************/
// Direct reads: where a file's bytes are

/** Appends an extent, merged into the previous one when it continues it (same kind, next sectors). */
static void EXT2AddExtent(DIRECT_EXTENT* Extents, U32* Count, U32 Kind, U32 Bytes, U64 Sector, U32 SectorSize) {
    DIRECT_EXTENT* Last = *Count ? &Extents[*Count - 1] : NULL;
    if (Last && Last->Kind == Kind &&
        (Kind != DIRECT_EXTENT_DISK || Last->Sector + Last->Bytes / SectorSize == Sector)) {
        Last->Bytes += Bytes;
        return;
    }
    Extents[(*Count)++] = (DIRECT_EXTENT){Kind, Bytes, Sector};
}

/**
 * Whole blocks become disk sectors (runs from EXT2MapRun: whole extents, or block by block for block maps) or
 * zeros (holes, unwritten extents); a block cut by the range or by the end of the file goes through EXT2Read,
 * and so does everything of an inline file, of a volume whose blocks are smaller than the disk's sectors, or
 * of one a replayed journal overlays (its reads are patched). Direct reads leave atime alone.
 */
static VFS_STATUS EXT2MapFileExtents(EXT2_VOLUME* Volume, U32 Number, U64 Offset, U32 Length,
                                     DIRECT_EXTENT* Extents, U32 Max, U32* Count) {
    EXT2_INODE Inode;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, Number, &Inode);
    if (Status != VFS_OK) return Status;
    if (!VFS_IS_REGULAR(Inode.Mode)) return VFS_ERROR_INVALID;
    U64 Size = EXT2GetSize(Volume, &Inode);
    U32 SectorSize = Volume->SectorSize;
    U32 BlockSize = Volume->BlockSize;
    U32 Total = Offset >= Size ? Length : (U32)MIN((U64)Length, Size - Offset);
    BOOL Direct = Offset < Size && !(Inode.Flags & EXT2_INLINE_DATA_FL) && Volume->Overlay == NULL &&
                  BlockSize >= SectorSize && BlockSize % SectorSize == 0;
    if (!Direct) {
        Extents[(*Count)++] = (DIRECT_EXTENT){DIRECT_EXTENT_COPY, Total, 0};
        return VFS_OK;
    }
    U32 Position = 0;
    // Stops when Max extents are there (a merge needs no slot, but the next piece may not merge).
    while (Position < Total && *Count < Max) {
        U64 Byte = Offset + Position;
        U32 Within = (U32)(Byte & (BlockSize - 1));
        U64 Logical = Byte >> Volume->BlockShift;
        U32 Left = Total - Position;
        if (Within != 0 || Left < BlockSize || Logical > MAX_U32) {
            U32 Piece = Logical > MAX_U32 ? Left : MIN(BlockSize - Within, Left);
            EXT2AddExtent(Extents, Count, DIRECT_EXTENT_COPY, Piece, 0, SectorSize);
            Position += Piece;
            continue;
        }
        U32 Wanted = (U32)MIN((U64)(Left >> Volume->BlockShift), (U64)MAX_U32 - Logical + 1);
        U64 Physical = 0;
        U32 Blocks = 1;
        Status = EXT2MapRun(Volume, &Inode, (U32)Logical, Wanted, &Physical, &Blocks);
        if (Status != VFS_OK) break;
        Blocks = MIN(Blocks, Wanted);
        U32 Bytes = Blocks << Volume->BlockShift;
        if (Physical == 0) {
            EXT2AddExtent(Extents, Count, DIRECT_EXTENT_ZERO, Bytes, 0, SectorSize);
        } else if (Physical >= Volume->BlocksCount || Blocks > Volume->BlocksCount - Physical) {
            Status = EXT2Corrupt(Volume, "file blocks %llu+%u are outside the volume", Physical, Blocks);
            break;
        } else {
            U64 Sector = Physical * (BlockSize / SectorSize);
            EXT2AddExtent(Extents, Count, DIRECT_EXTENT_DISK, Bytes, Sector, SectorSize);
        }
        Position += Bytes;
    }
    // What was mapped before an error is the answer; the next call, from there, gets the error.
    return *Count > 0 ? VFS_OK : Status;
}

VFS_STATUS EXT2MapExtents(LPVOID Handle, U64 Inode, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max,
                          U32* Count) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    *Count = 0;
    if (Inode == 0 || Inode > MAX_U32 || Length == 0 || Max == 0) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    Status = EXT2MapFileExtents(Volume, (U32)Inode, Offset, Length, Extents, Max, Count);
    return EXT2End(Volume, Status);
}

static VFS_STATUS EXT2WriteFile(EXT2_VOLUME* Volume, U32 Number, U64 Offset, const U8* Buffer, U32 Length,
                                U32* Done) {
    EXT2_INODE Inode;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, Number, &Inode);
    if (Status != VFS_OK) return Status;
    if (VFS_IS_DIRECTORY(Inode.Mode)) return VFS_ERROR_IS_DIRECTORY;
    if (!VFS_IS_REGULAR(Inode.Mode)) return VFS_ERROR_INVALID;
    if (Length == 0) return VFS_OK;
    U64 Limit = EXT2MaxFileSize(Volume);
    if (Offset >= Limit || Length > Limit - Offset) return VFS_ERROR_FILE_TOO_BIG;

    U32 BlockSize = Volume->BlockSize;
    U64 OldSize = EXT2GetSize(Volume, &Inode);
    if (Offset > OldSize) {
        // The gap between the old end and the write must read as zeros, whatever the old last block holds.
        Status = EXT2ZeroBlockTail(Volume, &Inode, OldSize);
        if (Status != VFS_OK) return Status;
    }
    U32 Goal = EXT2InodeGoal(Volume, Number);
    if (Offset >= BlockSize) {
        // Continue after the block before the write, when there is one.
        U32 Before;
        Status = EXT2MapBlock(Volume, &Inode, (U32)((Offset >> Volume->BlockShift) - 1), FALSE, &Goal, &Before, NULL);
        if (Status != VFS_OK) return Status;
    }

    // Written: bytes known to be on disk. Whole blocks gather in Run and reach the disk when it is flushed.
    EXT2_RUN Run = {0, 0, NULL};
    U32 MaxRun = Volume->TransferBlocks;
    U32 Position = 0, Written = 0;
    while (Position < Length) {
        U64 Byte = Offset + Position;
        U32 Within = (U32)(Byte & (BlockSize - 1));
        U32 Chunk = MIN(BlockSize - Within, Length - Position);
        U32 Physical;
        BOOL Fresh;
        Status = EXT2MapBlock(Volume, &Inode, (U32)(Byte >> Volume->BlockShift), TRUE, &Goal, &Physical, &Fresh);
        if (Status != VFS_OK) break;
        BOOL Continues = Run.Count > 0 && Run.Physical + Run.Count == Physical && Run.Count < MaxRun;
        if (Chunk == BlockSize && Continues) {
            Run.Count++;
        } else {
            if (Run.Count > 0) {
                Status = EXT2RunFlush(Volume, &Run, TRUE);
                if (Status != VFS_OK) break;
                Written = Position;
            }
            if (Chunk == BlockSize) {
                Run.Physical = Physical;
                Run.Count = 1;
                Run.Memory = (U8*)Buffer + Position;
            } else {
                if (Fresh) MemorySet(Volume->Scratch, 0, BlockSize);
                else Status = EXT2ReadBlocks(Volume, Physical, 1, Volume->Scratch);
                if (Status == VFS_OK) {
                    MemoryCopy(Volume->Scratch + Within, Buffer + Position, Chunk);
                    Status = EXT2WriteBlocks(Volume, Physical, 1, Volume->Scratch);
                }
                if (Status != VFS_OK) break;
                Written = Position + Chunk;
            }
        }
        Position += Chunk;
    }
    // The pending run covers up to Position even after a failure: its blocks are allocated and need their data.
    if (Run.Count > 0) {
        VFS_STATUS FlushStatus = EXT2RunFlush(Volume, &Run, TRUE);
        if (FlushStatus == VFS_OK) Written = Position;
        else if (Status == VFS_OK) Status = FlushStatus;
    }

    if (Offset + Written > EXT2GetSize(Volume, &Inode)) {
        VFS_STATUS SizeStatus = EXT2SetSize(Volume, &Inode, Offset + Written);
        if (SizeStatus != VFS_OK && Status == VFS_OK) Status = SizeStatus;
    }
    EXT2Touch(Volume, &Inode, EXT2_TOUCH_MODIFY | EXT2_TOUCH_CHANGE);
    VFS_STATUS InodeStatus = EXT2WriteInode(Volume, Number, &Inode);
    if (InodeStatus != VFS_OK && Status == VFS_OK) Status = InodeStatus;
    *Done = Written;
    return Status;
}

VFS_STATUS EXT2Write(LPVOID Handle, U64 Inode, U64 Offset, LPCVOID Buffer, U32 Length, U32* Done) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    *Done = 0;
    if (Inode == 0 || Inode > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, TRUE);
    if (Status != VFS_OK) return Status;
    Status = EXT2WriteFile(Volume, (U32)Inode, Offset, (const U8*)Buffer, Length, Done);
    return EXT2End(Volume, Status);
}

static VFS_STATUS EXT2TruncateFile(EXT2_VOLUME* Volume, U32 Number, U64 Size) {
    EXT2_INODE Inode;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, Number, &Inode);
    if (Status != VFS_OK) return Status;
    if (VFS_IS_DIRECTORY(Inode.Mode)) return VFS_ERROR_IS_DIRECTORY;
    if (!VFS_IS_REGULAR(Inode.Mode)) return VFS_ERROR_INVALID;
    if (Size > EXT2MaxFileSize(Volume)) return VFS_ERROR_FILE_TOO_BIG;
    U64 OldSize = EXT2GetSize(Volume, &Inode);
    // The new last block's tail when shrinking, the old one's when growing: both must read as zeros.
    if (Size != OldSize) Status = EXT2ZeroBlockTail(Volume, &Inode, MIN(Size, OldSize));
    if (Status != VFS_OK) return Status;
    if (Size < OldSize) {
        Status = EXT2TruncateBlocks(Volume, &Inode, (Size + Volume->BlockSize - 1) >> Volume->BlockShift);
        if (Status != VFS_OK) {
            EXT2WriteInode(Volume, Number, &Inode);
            return Status;
        }
    }
    Status = EXT2SetSize(Volume, &Inode, Size);
    if (Status != VFS_OK) return Status;
    EXT2Touch(Volume, &Inode, EXT2_TOUCH_MODIFY | EXT2_TOUCH_CHANGE);
    return EXT2WriteInode(Volume, Number, &Inode);
}

VFS_STATUS EXT2Truncate(LPVOID Handle, U64 Inode, U64 Size) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    if (Inode == 0 || Inode > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, TRUE);
    if (Status != VFS_OK) return Status;
    Status = EXT2TruncateFile(Volume, (U32)Inode, Size);
    return EXT2End(Volume, Status);
}

/************************************************************************/
// Attributes

/**
 * A time of an inode: seconds as a signed 32-bit number, widened by the
 * epoch bits (bits 0-1 of the extra field) and with its nanoseconds (bits
 * 2-31) when the large inode has that field (Documentation/filesystems/
 * ext4/inodes.rst). Times before 1970 read as 0: the VFS counts from 1970.
 */
static void EXT2DecodeTime(const EXT2_INODE* Inode, U32 Seconds, U32 Extra, U32 ExtraEnd, U64* Time,
                           U32* Nanoseconds) {
    I64 Value = (I64)(I32)Seconds;
    *Nanoseconds = 0;
    if (ExtraEnd != 0 && EXT4_INODE_HAS(Inode, ExtraEnd)) {
        Value += (I64)(Extra & 3) << 32;
        *Nanoseconds = Extra >> 2;
        if (*Nanoseconds > 999999999U) *Nanoseconds = 0;
    }
    *Time = Value < 0 ? 0 : (U64)Value;
}

static void EXT2FillStat(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, VFS_STAT* Stat) {
    MemorySet(Stat, 0, sizeof(*Stat));
    Stat->Inode = Inode->Number;
    Stat->Mode = Inode->Mode;
    Stat->Links = Inode->LinksCount;
    Stat->Uid = Inode->Uid | ((U32)Inode->UidHigh << 16);
    Stat->Gid = Inode->Gid | ((U32)Inode->GidHigh << 16);
    Stat->Size = EXT2GetSize(Volume, Inode);
    Stat->Blocks = EXT2InodeBlocks(Volume, Inode);
    Stat->BlockSize = Volume->BlockSize;
    // The extra fields exist only in large inodes, as far as i_extra_isize reaches.
    BOOL Large = Volume->InodeSize > EXT2_GOOD_OLD_INODE_SIZE;
    EXT2DecodeTime(Inode, Inode->AccessTime, Inode->AccessTimeExtra, Large ? 0x90 : 0, &Stat->AccessTime,
                   &Stat->AccessNanoseconds);
    EXT2DecodeTime(Inode, Inode->ModifyTime, Inode->ModifyTimeExtra, Large ? 0x8C : 0, &Stat->ModifyTime,
                   &Stat->ModifyNanoseconds);
    EXT2DecodeTime(Inode, Inode->ChangeTime, Inode->ChangeTimeExtra, Large ? 0x88 : 0, &Stat->ChangeTime,
                   &Stat->ChangeNanoseconds);
    if (Large && EXT4_INODE_HAS(Inode, 0x94)) {
        Stat->HasBirthTime = TRUE;
        EXT2DecodeTime(Inode, Inode->CreationTime, Inode->CreationTimeExtra, 0x98, &Stat->BirthTime,
                       &Stat->BirthNanoseconds);
    }
    StringCopy(Stat->Device, Volume->Disk->Name, sizeof(Stat->Device));
}

VFS_STATUS EXT2GetStat(LPVOID Handle, U64 Number, VFS_STAT* Stat) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    if (Number == 0 || Number > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    EXT2_INODE Inode;
    Status = EXT2ReadLiveInode(Volume, (U32)Number, &Inode);
    if (Status == VFS_OK) EXT2FillStat(Volume, &Inode, Stat);
    return EXT2End(Volume, Status);
}

static VFS_STATUS EXT2ReadLinkLocked(EXT2_VOLUME* Volume, U32 Number, LPSTR Buffer, U32 Size) {
    EXT2_INODE Inode;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, Number, &Inode);
    if (Status != VFS_OK) return Status;
    if (!VFS_IS_SYMLINK(Inode.Mode)) return VFS_ERROR_INVALID;
    U64 Length = EXT2GetSize(Volume, &Inode);
    if (Length == 0) return EXT2Corrupt(Volume, "symbolic link %u is empty", Number);
    if (Inode.Flags & EXT2_INLINE_DATA_FL) {
        // inline_data: a target too long for i_block continues in system.data (e2fsprogs symlink.c).
        if (Length >= Size) return VFS_ERROR_NAME_TOO_LONG;
        Status = EXT2InlineRead(Volume, &Inode, 0, (U8*)Buffer, (U32)Length);
        if (Status != VFS_OK) return Status;
    } else if (!EXT2HasBlockMap(Volume, &Inode)) {
        if (Length > EXT2_FAST_SYMLINK_MAX || (Inode.Flags & EXT2_EXTENTS_FL)) {
            return EXT2Corrupt(Volume, "fast symbolic link %u too long or extent-mapped", Number);
        }
        if (Length >= Size) return VFS_ERROR_NAME_TOO_LONG;
        MemoryCopy(Buffer, Inode.Block, (SIZE)Length);
    } else {
        if (Length >= Volume->BlockSize) return EXT2Corrupt(Volume, "symbolic link %u too long", Number);
        if (Length >= Size) return VFS_ERROR_NAME_TOO_LONG;
        U64 Physical;
        U32 Count;
        Status = EXT2MapRun(Volume, &Inode, 0, 1, &Physical, &Count);
        if (Status != VFS_OK) return Status;
        if (Physical == 0) return EXT2Corrupt(Volume, "symbolic link %u has no block", Number);
        BLOCK_BUFFER Block;
        Status = EXT2BufferGet(Volume, Physical, TRUE, &Block);
        if (Status != VFS_OK) return Status;
        MemoryCopy(Buffer, Block.Data, (SIZE)Length);
        BlockRelease(&Block);
    }
    Buffer[Length] = 0;
    if (StringLength(Buffer) != Length) return EXT2Corrupt(Volume, "symbolic link %u holds a zero byte", Number);
    return VFS_OK;
}

VFS_STATUS EXT2ReadLink(LPVOID Handle, U64 Number, LPSTR Buffer, U32 Size) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    if (Number == 0 || Number > MAX_U32 || Buffer == NULL || Size == 0) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    Status = EXT2ReadLinkLocked(Volume, (U32)Number, Buffer, Size);
    return EXT2End(Volume, Status);
}

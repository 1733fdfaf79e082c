/*
 * EXT2-Journal.c - jbd2 recovery without writing: the journal of a volume
 * marked needs_recovery is read, and what Linux would write back is put
 * into the overlay (EXT2-Overlay.c) instead.
 *
 * The journal is inode 8's file (extents or a block map, mapped with the
 * inode as it is on the disk, before any replay). Its block 0 is the jbd2
 * superblock (big-endian, Documentation/filesystems/ext4/journal.rst):
 * checked as Linux's journal_get_superblock does (magic, type, block size,
 * length within the file, first block, known features, at most one of
 * checksum v1/v2/v3, its own crc32c with v2/v3). s_start 0 means nothing to
 * replay. Otherwise three passes walk the log from s_start with tid
 * s_sequence, wrapping from the end of the log area to s_first (the ext4
 * fact sheet, after fs/jbd2/recovery.c, which e2fsck shares):
 *
 *  SCAN    finds the end: the first block that is not a jbd2 block of the
 *          expected tid ends the log; a descriptor skips its data blocks; a
 *          commit closes a transaction once its checksum holds (v1: crc32_be
 *          over descriptors and data; v2/v3: crc32c of the block). A commit
 *          that fails is the end, and reported (Linux refuses the mount
 *          then; e2fsck, like Cairn, keeps the transactions before it),
 *          unless it is older than the previous one (stale log: a clean
 *          end). A descriptor or revoke block with a bad checksum makes the
 *          next commit's time decide: not older means a corrupt journal
 *          (recovery fails: the mount is refused), older a stale one.
 *  REVOKE  collects revoke records: block -> the newest tid revoking it.
 *  REPLAY  for each tag of each descriptor, in log order: skipped when its
 *          block is revoked by this transaction or a later one, or when its
 *          data fails the tag checksum (v2/v3; counted and reported);
 *          otherwise the overlay learns that the block's newest copy is this
 *          journal block (ESCAPE: its first word is the magic, zeroed in the
 *          log). Later transactions replace earlier ones.
 *
 * A walk is bounded by the log's length; tids compare modulo 2^32. A
 * journal with fast commits replays its full commits only (fast-commit
 * records are logical changes a block overlay cannot hold; said in the
 * log). Errors refuse the mount with one line saying why.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "memory/Heap.h"
#include "utils/CRC32C.h"
#include "utils/Endian.h"
#include "utils/Sort.h"
#include "utils/String.h"

typedef enum tag_EXT2_PASS { EXT2_PASS_SCAN, EXT2_PASS_REVOKE, EXT2_PASS_REPLAY } EXT2_PASS;

typedef struct tag_EXT2_REVOKE {
    U64 Block;
    U32 Tid;                  // the newest transaction revoking it
    U32 Unused;
} EXT2_REVOKE;

typedef struct tag_EXT2_JOURNAL {
    EXT2_VOLUME* Volume;
    EXT2_INODE Inode;         // inode 8, as on the disk
    U32 Length;               // s_maxlen
    U32 First, Last;          // the log area: [First, Last)
    U32 Start, Sequence;      // where and with which tid the log starts
    U32 Compat, Incompat;
    U32 TagBytes;
    U32 TailBytes;            // 4 with checksum v2/v3
    U32 Seed;                 // crc32c of the journal's UUID (v2/v3)
    U8* Block;                // one journal block
    U8* Data;                 // another (data blocks, for their checksums)
    U32 RunLogical, RunCount; // the last run of inode 8 found
    U64 RunPhysical;
    // What the scan found
    U32 End;                  // the first tid not to replay
    BOOL EndKnown;
    U32 FailedCommit;         // a commit that failed its checksum (reported)
    BOOL CommitFailed;
    U32 Tags, Records;        // upper bounds for the replay and the revoke table
    // Revoke table (sorted after the REVOKE pass)
    EXT2_REVOKE* Revokes;
    U32 RevokeCount;
    // Replay counts
    U32 Revoked, BadTags, Outside;
} EXT2_JOURNAL;

static BOOL EXT2TidAfter(U32 A, U32 B) { return (I32)(A - B) > 0; }
static BOOL EXT2TidAtOrAfter(U32 A, U32 B) { return (I32)(A - B) >= 0; }

static VFS_STATUS EXT2JournalRefuse(EXT2_JOURNAL* Journal, LPCSTR Why, U64 Value) {
    return EXT2Refuse(Journal->Volume, "journal needs recovery but %s (%llu)", Why, Value);
}

/************************************************************************/
// Reading the journal's blocks

/** The volume block holding journal block Index, through inode 8's map (runs are remembered). */
static VFS_STATUS EXT2JournalLocate(EXT2_JOURNAL* Journal, U32 Index, U64* Physical) {
    if (Index >= Journal->Length) return EXT2JournalRefuse(Journal, "a log block lies past the journal", Index);
    if (Journal->RunCount == 0 || Index < Journal->RunLogical || Index - Journal->RunLogical >= Journal->RunCount) {
        U64 First;
        U32 Count;
        VFS_STATUS Status = EXT2MapRun(Journal->Volume, &Journal->Inode, Index, Journal->Length - Index, &First, &Count);
        if (Status != VFS_OK) return Status;
        if (First == 0) return EXT2JournalRefuse(Journal, "the journal file has a hole", Index);
        Journal->RunLogical = Index;
        Journal->RunCount = Count;
        Journal->RunPhysical = First;
    }
    *Physical = Journal->RunPhysical + (Index - Journal->RunLogical);
    return VFS_OK;
}

static VFS_STATUS EXT2JournalRead(EXT2_JOURNAL* Journal, U32 Index, U8* Buffer) {
    U64 Physical;
    VFS_STATUS Status = EXT2JournalLocate(Journal, Index, &Physical);
    if (Status != VFS_OK) return Status;
    EXT2_VOLUME* Volume = Journal->Volume;
    return EXT2ReadDiskBytes(Volume, Physical << Volume->BlockShift, Volume->BlockSize, Buffer);
}

/** The log block after Index, wrapping from the end of the log area to its start. */
static U32 EXT2JournalNext(EXT2_JOURNAL* Journal, U32 Index) {
    Index++;
    return Index >= Journal->Last ? Journal->First + (Index - Journal->Last) : Index;
}

/************************************************************************/
// Checksums

static U32 EXT2JournalCrc(EXT2_JOURNAL* Journal, U32 Crc, const U8* Data, SIZE Size) {
    UNUSED(Journal);
    return CRC32CUpdate(Crc, Data, Size);
}

/** A block whose checksum field (4 bytes at Field) counts as zero: crc32c(seed, block). */
static BOOL EXT2JournalBlockValid(EXT2_JOURNAL* Journal, const U8* Block, U32 Field) {
    static const U8 Zero[4] = {0, 0, 0, 0};
    U32 Size = Journal->Volume->BlockSize;
    U32 Crc = EXT2JournalCrc(Journal, Journal->Seed, Block, Field);
    Crc = EXT2JournalCrc(Journal, Crc, Zero, sizeof(Zero));
    Crc = EXT2JournalCrc(Journal, Crc, Block + Field + 4, Size - Field - 4);
    return Crc == ReadBE32(Block + Field);
}

/** v1 (COMPAT_CHECKSUM): the big-endian CRC-32 (poly 0x04C11DB7, no inversions) Linux's crc32_be computes. */
static U32 EXT2Crc32BigEndian(U32 Crc, const U8* Data, SIZE Size) {
    for (SIZE I = 0; I < Size; I++) {
        Crc ^= (U32)Data[I] << 24;
        for (U32 Bit = 0; Bit < 8; Bit++) Crc = (Crc << 1) ^ (0x04C11DB7U & (0U - (Crc >> 31)));
    }
    return Crc;
}

/** A data block's tag checksum (v2: low 16 bits, v3: all 32): crc32c(seed, be32 tid, the block as logged). */
static BOOL EXT2TagValid(EXT2_JOURNAL* Journal, const U8* Tag, const U8* Data, U32 Tid) {
    if (Journal->TailBytes == 0) return TRUE;
    U8 Sequence[4];
    WriteBE32(Sequence, Tid);
    U32 Crc = EXT2JournalCrc(Journal, Journal->Seed, Sequence, sizeof(Sequence));
    Crc = EXT2JournalCrc(Journal, Crc, Data, Journal->Volume->BlockSize);
    if (Journal->Incompat & JBD2_INCOMPAT_CSUM_V3) return Crc == ReadBE32(Tag + JBD2_TAG3_CHECKSUM);
    return (U16)Crc == ReadBE16(Tag + JBD2_TAG_CHECKSUM);
}

/************************************************************************/
// Descriptors and revoke records

/**
 * The tag at *Offset of the descriptor in Journal->Block, and *Offset moved
 * past it (count_tags' walk: a 16-byte UUID follows a tag without
 * SAME_UUID; the last tag has LAST_TAG; tags stop before the checksum
 * tail). NULL when there is none left.
 */
static const U8* EXT2NextTag(EXT2_JOURNAL* Journal, U32* Offset) {
    U32 Limit = Journal->Volume->BlockSize - Journal->TailBytes;
    if (*Offset == 0 || *Offset + Journal->TagBytes > Limit) return NULL;
    const U8* Tag = Journal->Block + *Offset;
    U16 Flags = ReadBE16(Tag + JBD2_TAG_FLAGS);
    *Offset += Journal->TagBytes;
    if (!(Flags & JBD2_FLAG_SAME_UUID)) *Offset += JBD2_TAG_UUID_SIZE;
    if (Flags & JBD2_FLAG_LAST_TAG) *Offset = 0;  // no more after this one
    return Tag;
}

static U64 EXT2TagTarget(EXT2_JOURNAL* Journal, const U8* Tag) {
    U64 Block = ReadBE32(Tag);
    if (Journal->Incompat & JBD2_INCOMPAT_64BIT) Block |= (U64)ReadBE32(Tag + JBD2_TAG_BLOCK_HIGH) << 32;
    return Block;
}

static BOOL EXT2RevokeBefore(LPCVOID A, LPCVOID B) { return ((const EXT2_REVOKE*)A)->Block < ((const EXT2_REVOKE*)B)->Block; }

/** Adds a revoke block's records to the table (the newest tid of each block wins later). */
static VFS_STATUS EXT2JournalRevokes(EXT2_JOURNAL* Journal, const U8* Block, U32 Tid) {
    U32 Used = ReadBE32(Block + JBD2_REVOKE_COUNT);
    U32 Record = (Journal->Incompat & JBD2_INCOMPAT_64BIT) ? 8 : 4;
    if (Used > Journal->Volume->BlockSize - Journal->TailBytes) {
        return EXT2JournalRefuse(Journal, "a revoke block is overfull", Used);
    }
    for (U32 Offset = JBD2_REVOKE_HEADER_SIZE; Offset + Record <= Used; Offset += Record) {
        if (Journal->RevokeCount >= Journal->Records) return EXT2JournalRefuse(Journal, "revoke records grew", Tid);
        EXT2_REVOKE* Revoke = &Journal->Revokes[Journal->RevokeCount++];
        Revoke->Block = Record == 8 ? ReadBE64(Block + Offset) : ReadBE32(Block + Offset);
        Revoke->Tid = Tid;
    }
    return VFS_OK;
}

/** Sorts the table and keeps one record a block, with the newest tid. */
static void EXT2JournalSealRevokes(EXT2_JOURNAL* Journal) {
    SortRecords(Journal->Revokes, Journal->RevokeCount, sizeof(EXT2_REVOKE), EXT2RevokeBefore);
    U32 Kept = 0;
    for (U32 I = 0; I < Journal->RevokeCount; I++) {
        EXT2_REVOKE* Revoke = &Journal->Revokes[I];
        if (Kept > 0 && Journal->Revokes[Kept - 1].Block == Revoke->Block) {
            if (EXT2TidAfter(Revoke->Tid, Journal->Revokes[Kept - 1].Tid)) Journal->Revokes[Kept - 1].Tid = Revoke->Tid;
            continue;
        }
        Journal->Revokes[Kept++] = *Revoke;
    }
    Journal->RevokeCount = Kept;
}

/** TRUE when transaction Tid's copy of Block is revoked (by Tid itself or a later transaction). */
static BOOL EXT2JournalRevoked(EXT2_JOURNAL* Journal, U64 Block, U32 Tid) {
    U32 Low = 0, High = Journal->RevokeCount;
    while (Low < High) {
        U32 Middle = Low + (High - Low) / 2;
        if (Journal->Revokes[Middle].Block < Block) Low = Middle + 1;
        else High = Middle;
    }
    return Low < Journal->RevokeCount && Journal->Revokes[Low].Block == Block &&
           !EXT2TidAfter(Tid, Journal->Revokes[Low].Tid);
}

/************************************************************************/
// The passes

/** Replays one descriptor's tags into the overlay; *Next is the log block after its data. */
static VFS_STATUS EXT2JournalReplayTags(EXT2_JOURNAL* Journal, EXT2_OVERLAY* Overlay, U32 Tid, U32* Next) {
    EXT2_VOLUME* Volume = Journal->Volume;
    U32 Offset = JBD2_HEADER_SIZE;
    for (const U8* Tag; (Tag = EXT2NextTag(Journal, &Offset)) != NULL;) {
        U32 Index = *Next;
        *Next = EXT2JournalNext(Journal, *Next);
        U64 Target = EXT2TagTarget(Journal, Tag);
        if (EXT2JournalRevoked(Journal, Target, Tid)) {
            Journal->Revoked++;
            continue;
        }
        if (Journal->TailBytes != 0) {
            VFS_STATUS Status = EXT2JournalRead(Journal, Index, Journal->Data);
            if (Status != VFS_OK) return Status;
            if (!EXT2TagValid(Journal, Tag, Journal->Data, Tid)) {
                Journal->BadTags++;  // Linux skips it too, and fails the recovery at the end; e2fsck reports it
                continue;
            }
        }
        if (Target < Volume->FirstDataBlock || Target >= Volume->BlocksCount) {
            Journal->Outside++;
            continue;
        }
        U64 Source;
        VFS_STATUS Status = EXT2JournalLocate(Journal, Index, &Source);
        if (Status == VFS_OK) {
            BOOL Escaped = (ReadBE16(Tag + JBD2_TAG_FLAGS) & JBD2_FLAG_ESCAPE) != 0;
            Status = EXT2OverlayAdd(Overlay, Target, Source, Escaped);
        }
        if (Status != VFS_OK) return Status;
    }
    return VFS_OK;
}

/** Steps over a descriptor's data blocks; in the scan, with checksum v1, folds them into the running crc32_be. */
static VFS_STATUS EXT2JournalSkipData(EXT2_JOURNAL* Journal, BOOL Fold, U32* Crc, U32* Next) {
    U32 BlockSize = Journal->Volume->BlockSize;
    if (Fold) *Crc = EXT2Crc32BigEndian(*Crc, Journal->Block, BlockSize);
    U32 Offset = JBD2_HEADER_SIZE;
    while (EXT2NextTag(Journal, &Offset) != NULL) {
        Journal->Tags++;
        if (Fold) {
            VFS_STATUS Status = EXT2JournalRead(Journal, *Next, Journal->Data);
            if (Status != VFS_OK) return Status;
            *Crc = EXT2Crc32BigEndian(*Crc, Journal->Data, BlockSize);
        }
        *Next = EXT2JournalNext(Journal, *Next);
    }
    return VFS_OK;
}

typedef struct tag_EXT2_SCAN_STATE {
    U64 LastCommitTime;
    BOOL CheckCommitTime;     // a descriptor or revoke block failed its checksum: the next commit's time decides
    U32 Crc;                  // v1: the running crc32_be of the transaction
} EXT2_SCAN_STATE;

/** A commit block in the scan: *Stop when the log ends here (End set). */
static VFS_STATUS EXT2JournalScanCommit(EXT2_JOURNAL* Journal, EXT2_SCAN_STATE* Scan, U32 Tid, BOOL* Stop) {
    const U8* Block = Journal->Block;
    U64 CommitTime = ReadBE64(Block + JBD2_COMMIT_SECONDS);
    *Stop = FALSE;
    if (Scan->CheckCommitTime) {
        if (CommitTime >= Scan->LastCommitTime) return EXT2JournalRefuse(Journal, "a transaction is corrupt", Tid);
        *Stop = TRUE;  // a stale block of an older log: the log ends cleanly before it
        return VFS_OK;
    }
    BOOL Valid = TRUE;
    if (Journal->Compat & JBD2_COMPAT_CHECKSUM) {
        U32 Found = ReadBE32(Block + JBD2_COMMIT_CHECKSUM);
        U32 Type = Block[JBD2_COMMIT_CHECKSUM_TYPE], Size = Block[JBD2_COMMIT_CHECKSUM_SIZE];
        Valid = (Found == Scan->Crc && Type == JBD2_CHECKSUM_TYPE_CRC32 && Size == JBD2_CRC32_CHECKSUM_SIZE) ||
                (Type == 0 && Size == 0 && Found == 0);
        Scan->Crc = ~0U;
    }
    if (Valid && Journal->TailBytes != 0) Valid = EXT2JournalBlockValid(Journal, Block, JBD2_COMMIT_CHECKSUM);
    if (!Valid) {
        *Stop = TRUE;
        if (CommitTime < Scan->LastCommitTime) return VFS_OK;  // stale log
        Journal->CommitFailed = TRUE;
        Journal->FailedCommit = Tid;
        return VFS_OK;
    }
    Scan->LastCommitTime = CommitTime;
    return VFS_OK;
}

static VFS_STATUS EXT2JournalPass(EXT2_JOURNAL* Journal, EXT2_PASS Pass, EXT2_OVERLAY* Overlay) {
    EXT2_SCAN_STATE Scan = {0, FALSE, ~0U};
    U32 Next = Journal->Start, Tid = Journal->Sequence;
    VFS_STATUS Status = VFS_OK;
    // Every step moves at least one block on: a log cannot be longer than its area.
    for (U32 Steps = 0; Steps < Journal->Last - Journal->First; Steps++) {
        if (Pass != EXT2_PASS_SCAN && EXT2TidAtOrAfter(Tid, Journal->End)) break;
        U32 Index = Next;
        Status = EXT2JournalRead(Journal, Index, Journal->Block);
        if (Status != VFS_OK) return Status;
        if (ReadBE32(Journal->Block) != JBD2_MAGIC || ReadBE32(Journal->Block + 8) != Tid) break;
        U32 Type = ReadBE32(Journal->Block + 4);
        Next = EXT2JournalNext(Journal, Next);
        BOOL Stop = FALSE;
        if (Type == JBD2_DESCRIPTOR_BLOCK) {
            BOOL Valid = Journal->TailBytes == 0 ||
                         EXT2JournalBlockValid(Journal, Journal->Block, Journal->Volume->BlockSize - 4);
            if (!Valid && Pass != EXT2_PASS_SCAN) return EXT2JournalRefuse(Journal, "a descriptor is corrupt", Index);
            if (!Valid) Scan.CheckCommitTime = TRUE;
            if (Pass == EXT2_PASS_REPLAY) {
                Status = EXT2JournalReplayTags(Journal, Overlay, Tid, &Next);
            } else {
                BOOL Fold = Pass == EXT2_PASS_SCAN && (Journal->Compat & JBD2_COMPAT_CHECKSUM) && !Scan.CheckCommitTime;
                Status = EXT2JournalSkipData(Journal, Fold, &Scan.Crc, &Next);
            }
        } else if (Type == JBD2_COMMIT_BLOCK) {
            if (Pass == EXT2_PASS_SCAN) Status = EXT2JournalScanCommit(Journal, &Scan, Tid, &Stop);
            if (Status == VFS_OK && !Stop) Tid++;
        } else if (Type == JBD2_REVOKE_BLOCK) {
            BOOL Valid = Journal->TailBytes == 0 ||
                         EXT2JournalBlockValid(Journal, Journal->Block, Journal->Volume->BlockSize - 4);
            if (Pass == EXT2_PASS_SCAN) {
                if (!Valid) Scan.CheckCommitTime = TRUE;
                U32 Used = MIN(ReadBE32(Journal->Block + JBD2_REVOKE_COUNT), Journal->Volume->BlockSize);
                Journal->Records += Used > JBD2_REVOKE_HEADER_SIZE ? (Used - JBD2_REVOKE_HEADER_SIZE) / 4 : 0;
            } else if (Pass == EXT2_PASS_REVOKE) {
                Status = EXT2JournalRevokes(Journal, Journal->Block, Tid);
            }
        } else {
            break;  // an unknown block type ends the log (Linux: "Unrecognised magic")
        }
        if (Status != VFS_OK) return Status;
        if (Stop) break;
    }
    if (Pass == EXT2_PASS_SCAN) {
        Journal->End = Tid;
        Journal->EndKnown = TRUE;
    } else if (Tid != Journal->End) {
        return EXT2JournalRefuse(Journal, "the passes disagree on the log's end", Tid);
    }
    return VFS_OK;
}

/************************************************************************/
// The journal superblock

static VFS_STATUS EXT2JournalOpen(EXT2_JOURNAL* Journal) {
    EXT2_VOLUME* Volume = Journal->Volume;
    if (Volume->Super.JournalInode != EXT2_JOURNAL_INODE) {
        return EXT2JournalRefuse(Journal, "its inode is not 8", Volume->Super.JournalInode);
    }
    VFS_STATUS Status = EXT2ReadInode(Volume, EXT2_JOURNAL_INODE, &Journal->Inode);
    if (Status != VFS_OK) return Status;
    U64 FileBlocks = EXT2GetSize(Volume, &Journal->Inode) >> Volume->BlockShift;
    if (!VFS_IS_REGULAR(Journal->Inode.Mode) || Journal->Inode.LinksCount == 0 || FileBlocks < 2 ||
        (Journal->Inode.Flags & EXT2_INLINE_DATA_FL)) {
        return EXT2JournalRefuse(Journal, "inode 8 is no journal", Journal->Inode.Mode);
    }
    Journal->Length = (U32)MIN(FileBlocks, (U64)MAX_U32);
    Status = EXT2JournalRead(Journal, 0, Journal->Block);
    if (Status != VFS_OK) return Status;
    const U8* Super = Journal->Block;
    U32 Type = ReadBE32(Super + 4);
    if (ReadBE32(Super) != JBD2_MAGIC || (Type != JBD2_SUPERBLOCK_V1 && Type != JBD2_SUPERBLOCK_V2)) {
        return EXT2JournalRefuse(Journal, "its superblock has a bad magic or type", Type);
    }
    if (ReadBE32(Super + JBD2_SB_BLOCKSIZE) != Volume->BlockSize) {
        return EXT2JournalRefuse(Journal, "its block size differs", ReadBE32(Super + JBD2_SB_BLOCKSIZE));
    }
    U32 Length = ReadBE32(Super + JBD2_SB_MAXLEN), First = ReadBE32(Super + JBD2_SB_FIRST);
    if (Length > Journal->Length || First == 0 || First >= Length) {
        return EXT2JournalRefuse(Journal, "its length or first block is impossible", Length);
    }
    Journal->Length = Length;
    Journal->First = First;
    Journal->Last = Length;
    Journal->Sequence = ReadBE32(Super + JBD2_SB_SEQUENCE);
    Journal->Start = ReadBE32(Super + JBD2_SB_START);
    if (Type == JBD2_SUPERBLOCK_V2) {
        Journal->Compat = ReadBE32(Super + JBD2_SB_FEATURE_COMPAT);
        Journal->Incompat = ReadBE32(Super + JBD2_SB_FEATURE_INCOMPAT);
        if (Journal->Incompat & ~JBD2_INCOMPAT_KNOWN) {
            return EXT2JournalRefuse(Journal, "it has unknown features", Journal->Incompat);
        }
        if (ReadBE32(Super + JBD2_SB_FEATURE_RO_COMPAT) != 0) {
            return EXT2JournalRefuse(Journal, "it has unknown read-only features", ReadBE32(Super + JBD2_SB_FEATURE_RO_COMPAT));
        }
    }
    BOOL V2 = (Journal->Incompat & JBD2_INCOMPAT_CSUM_V2) != 0, V3 = (Journal->Incompat & JBD2_INCOMPAT_CSUM_V3) != 0;
    if ((V2 && V3) || ((V2 || V3) && (Journal->Compat & JBD2_COMPAT_CHECKSUM))) {
        return EXT2JournalRefuse(Journal, "it claims two kinds of checksums", Journal->Incompat);
    }
    if (V2 || V3) {
        if (Super[JBD2_SB_CHECKSUM_TYPE] != JBD2_CHECKSUM_TYPE_CRC32C) {
            return EXT2JournalRefuse(Journal, "its checksum type is unknown", Super[JBD2_SB_CHECKSUM_TYPE]);
        }
        U8 Copy[JBD2_SUPERBLOCK_SIZE];
        MemoryCopy(Copy, Super, sizeof(Copy));
        WriteBE32(Copy + JBD2_SB_CHECKSUM, 0);
        if (CRC32CUpdate(~0U, Copy, sizeof(Copy)) != ReadBE32(Super + JBD2_SB_CHECKSUM)) {
            return EXT2JournalRefuse(Journal, "its superblock checksum is bad", ReadBE32(Super + JBD2_SB_CHECKSUM));
        }
        Journal->Seed = CRC32CUpdate(~0U, Super + JBD2_SB_UUID, 16);
        Journal->TailBytes = JBD2_BLOCK_TAIL_SIZE;
    }
    if (V3) Journal->TagBytes = 16;
    else Journal->TagBytes = 8 + ((Journal->Incompat & JBD2_INCOMPAT_64BIT) ? 4 : 0) + (V2 ? 2 : 0);
    if (Journal->Incompat & JBD2_INCOMPAT_FAST_COMMIT) {
        // The last s_num_fc_blks blocks (0: 256) hold fast commits; the log ends before them.
        U32 FastBlocks = ReadBE32(Super + JBD2_SB_NUM_FC_BLOCKS);
        if (FastBlocks == 0) FastBlocks = JBD2_DEFAULT_FC_BLOCKS;
        if (FastBlocks >= Length - First) return EXT2JournalRefuse(Journal, "its fast-commit area is too large", FastBlocks);
        Journal->Last = Length - FastBlocks;
    }
    if (Journal->Start != 0 && (Journal->Start < First || Journal->Start >= Journal->Last)) {
        return EXT2JournalRefuse(Journal, "its log starts outside the log area", Journal->Start);
    }
    if (ReadBE32(Super + JBD2_SB_ERRNO) != 0) {
        WARNING("[EXT2Journal] %s: the journal records an error (%d): run e2fsck", Volume->Disk->Name,
                (I32)ReadBE32(Super + JBD2_SB_ERRNO));
    }
    return VFS_OK;
}

static VFS_STATUS EXT2JournalRun(EXT2_JOURNAL* Journal, EXT2_OVERLAY** Result) {
    EXT2_VOLUME* Volume = Journal->Volume;
    VFS_STATUS Status = EXT2JournalOpen(Journal);
    if (Status != VFS_OK) return Status;
    if (Journal->Start == 0) {
        // needs_recovery, but nothing logged: an empty overlay, the volume as it is.
        *Result = EXT2OverlayCreate(Volume, 1);
        return *Result ? VFS_OK : VFS_ERROR_NO_MEMORY;
    }
    Status = EXT2JournalPass(Journal, EXT2_PASS_SCAN, NULL);
    if (Status != VFS_OK) return Status;
    Journal->Revokes = (EXT2_REVOKE*)KernelHeapAlloc(((SIZE)Journal->Records + 1) * sizeof(EXT2_REVOKE));
    EXT2_OVERLAY* Overlay = EXT2OverlayCreate(Volume, Journal->Tags);
    if (Journal->Revokes == NULL || Overlay == NULL) {
        EXT2OverlayFree(Overlay);
        return VFS_ERROR_NO_MEMORY;
    }
    Status = EXT2JournalPass(Journal, EXT2_PASS_REVOKE, NULL);
    if (Status == VFS_OK) {
        EXT2JournalSealRevokes(Journal);
        Status = EXT2JournalPass(Journal, EXT2_PASS_REPLAY, Overlay);
    }
    if (Status == VFS_OK) Status = EXT2OverlaySeal(Volume, Overlay);
    if (Status != VFS_OK) {
        EXT2OverlayFree(Overlay);
        return Status;
    }
    *Result = Overlay;
    return VFS_OK;
}

VFS_STATUS EXT2JournalReplay(EXT2_VOLUME* Volume) {
    EXT2_JOURNAL* Journal = (EXT2_JOURNAL*)KernelHeapAllocZero(sizeof(EXT2_JOURNAL));
    if (Journal == NULL) return VFS_ERROR_NO_MEMORY;
    Journal->Volume = Volume;
    Journal->Block = (U8*)KernelHeapAlloc(Volume->BlockSize);
    Journal->Data = (U8*)KernelHeapAlloc(Volume->BlockSize);
    EXT2_OVERLAY* Overlay = NULL;
    VFS_STATUS Status = VFS_ERROR_NO_MEMORY;
    if (Journal->Block != NULL && Journal->Data != NULL) Status = EXT2JournalRun(Journal, &Overlay);
    if (Status == VFS_OK) {
        Volume->Overlay = Overlay;
        INFO("[EXT2Journal] %s: journal replayed in memory: transactions %u to %u, %u blocks (%u revoked)%s",
             Volume->Disk->Name, Journal->Sequence, Journal->End - 1, EXT2OverlayCount(Overlay), Journal->Revoked,
             (Journal->Incompat & JBD2_INCOMPAT_FAST_COMMIT) ? ", fast commits not replayed" : "");
        if (Journal->CommitFailed) {
            WARNING("[EXT2Journal] %s: journal transaction %u is corrupt: replayed up to %u, run e2fsck",
                    Volume->Disk->Name, Journal->FailedCommit, Journal->FailedCommit - 1);
        }
        if (Journal->BadTags || Journal->Outside) {
            WARNING("[EXT2Journal] %s: %u logged blocks failed their checksum, %u lie outside: not replayed, run e2fsck",
                    Volume->Disk->Name, Journal->BadTags, Journal->Outside);
        }
    }
    KernelHeapFree(Journal->Block);
    KernelHeapFree(Journal->Data);
    KernelHeapFree(Journal->Revokes);
    KernelHeapFree(Journal);
    return Status;
}

/*
 * EXT2-Extent.c - ext4 extent trees: which blocks hold a file.
 *
 * An extent-mapped inode (EXT2_EXTENTS_FL) keeps the root node of a tree in
 * i_block (60 bytes: a 12-byte header and 4 entries); deeper nodes are
 * whole blocks. Index nodes (eh_depth > 0) hold {first logical block, child
 * block}; leaves hold extents {first logical block, length, first physical
 * block (48 bits)}. An extent longer than 32768 is unwritten (preallocated):
 * its length is ee_len - 32768 and it reads as zeros, like a hole
 * (Documentation/filesystems/ext4/ifork.rst, e2fsprogs ext3_extents.h).
 *
 * A lookup walks from the root to the leaf covering the logical block and
 * answers with the whole run from there: the rest of an extent, or the hole
 * up to the next extent (the next index entry bounds what a subtree may
 * cover), so a large file is read in a few large requests.
 *
 * Every node on the way is checked before it is used, as Linux's
 * __ext4_ext_check and ext4_valid_extent_entries do, and more: the magic;
 * the depth (the root's at most 5, what 32-bit logical numbers need; each
 * child exactly one less than its parent, so a node pointing back up - a
 * loop - fails at once); eh_max not above what the node holds and not 0;
 * entries not above eh_max and, in an index node, not 0; entries sorted,
 * extents not overlapping, none empty, none past 2^32 logical blocks, none
 * past the volume (nor starting in group metadata); a child's first entry
 * where its index entry says, and nothing in a subtree past the next index
 * entry; with metadata_csum, every node block's tail checksum. A failure
 * fails this file only (EXT2Corrupt, or EXT2ChecksumFailed).
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/String.h"

#define EXT4_ROOT_BYTES (EXT2_BLOCK_POINTERS * 4)

typedef struct tag_EXT2_EXTENT_NODE {
    const U8* Data;
    U32 Bytes;                // 60 for the root, the block size below
    U32 Depth;                // what the header must say
    U64 Block;                // 0 for the root
    U64 First;                // what the first entry must start at (MAX_U64 for the root: anything)
    U64 Bound;                // logical blocks from here on belong to a later subtree
} EXT2_EXTENT_NODE;

static const EXT4_EXTENT_HEADER* EXT2NodeHeader(const EXT2_EXTENT_NODE* Node) {
    return (const EXT4_EXTENT_HEADER*)Node->Data;
}

/** Extent Index of a leaf: its logical start, length and physical start; *Unwritten for a preallocated one. */
static void EXT2ExtentAt(const EXT2_EXTENT_NODE* Node, U32 Index, U64* Start, U32* Length, U64* Physical,
                         BOOL* Unwritten) {
    const EXT4_EXTENT* Extent = (const EXT4_EXTENT*)(Node->Data + sizeof(EXT4_EXTENT_HEADER)) + Index;
    *Start = Extent->Block;
    *Unwritten = Extent->Length > EXT4_EXTENT_INIT_MAX_LENGTH;
    *Length = *Unwritten ? Extent->Length - EXT4_EXTENT_INIT_MAX_LENGTH : Extent->Length;
    *Physical = ((U64)Extent->StartHigh << 32) | Extent->StartLow;
}

static const EXT4_EXTENT_INDEX* EXT2IndexAt(const EXT2_EXTENT_NODE* Node, U32 Index) {
    return (const EXT4_EXTENT_INDEX*)(Node->Data + sizeof(EXT4_EXTENT_HEADER)) + Index;
}

static U64 EXT2IndexChild(const EXT4_EXTENT_INDEX* Entry) { return ((U64)Entry->LeafHigh << 32) | Entry->LeafLow; }

/** Checks a node's header and every entry in it (see the file's comment). */
static VFS_STATUS EXT2CheckNode(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, const EXT2_EXTENT_NODE* Node) {
    const EXT4_EXTENT_HEADER* Header = EXT2NodeHeader(Node);
    U32 Number = Inode->Number;
    U32 Capacity = (Node->Bytes - sizeof(EXT4_EXTENT_HEADER)) / sizeof(EXT4_EXTENT);
    if (Header->Magic != EXT4_EXTENT_MAGIC) return EXT2Corrupt(Volume, "inode %u: bad extent magic", Number);
    if (Header->Depth > EXT4_EXTENT_MAX_DEPTH) {
        return EXT2Corrupt(Volume, "inode %u: extent tree of depth %u, more than %u", Number, Header->Depth,
                           EXT4_EXTENT_MAX_DEPTH);
    }
    if (Header->Depth != Node->Depth) {
        return EXT2Corrupt(Volume, "inode %u: extent node at depth %u, expected %u", Number, Header->Depth,
                           Node->Depth);
    }
    if (Header->Max == 0 || Header->Max > Capacity || Header->Entries > Header->Max ||
        (Header->Depth > 0 && Header->Entries == 0)) {
        return EXT2Corrupt(Volume, "inode %u: extent node holds %u of %u entries", Number, Header->Entries,
                           Header->Max);
    }
    U64 Previous = 0;  // the first logical block after the previous entry
    for (U32 I = 0; I < Header->Entries; I++) {
        U64 Start, End;
        if (Header->Depth > 0) {
            const EXT4_EXTENT_INDEX* Entry = EXT2IndexAt(Node, I);
            U64 Child = EXT2IndexChild(Entry);
            Start = Entry->Block;
            End = Start + 1;
            if (!EXT2IsDataBlock(Volume, Child)) {
                return EXT2Corrupt(Volume, "inode %u: extent index names block %llu", Number, Child);
            }
        } else {
            U32 Length;
            U64 Physical;
            BOOL Unwritten;
            EXT2ExtentAt(Node, I, &Start, &Length, &Physical, &Unwritten);
            End = Start + Length;
            if (Length == 0 || End > (1ULL << 32)) {
                return EXT2Corrupt(Volume, "inode %u: extent of %u blocks at %llu", Number, Length, Start);
            }
            if (!EXT2IsDataBlock(Volume, Physical) || Physical + Length > Volume->BlocksCount) {
                return EXT2Corrupt(Volume, "inode %u: extent at block %llu+%u is outside the data", Number, Physical,
                                   Length);
            }
        }
        if ((I > 0 && Start < Previous) || (I == 0 && Node->First != MAX_U64 && Start != Node->First) ||
            End > Node->Bound) {
            return EXT2Corrupt(Volume, "inode %u: extent entries overlap or are out of order at %llu", Number, Start);
        }
        Previous = End;
    }
    return VFS_OK;
}

/** The first logical block of entry Index of a node, or Bound past its last entry. */
static U64 EXT2EntryStart(const EXT2_EXTENT_NODE* Node, U32 Index) {
    if (Index >= EXT2NodeHeader(Node)->Entries) return Node->Bound;
    if (EXT2NodeHeader(Node)->Depth > 0) return EXT2IndexAt(Node, Index)->Block;
    return ((const EXT4_EXTENT*)(Node->Data + sizeof(EXT4_EXTENT_HEADER)) + Index)->Block;
}

/** The last entry of a node starting at or before Logical, or Entries when Logical comes before them all. */
static U32 EXT2FindEntry(const EXT2_EXTENT_NODE* Node, U32 Logical) {
    U32 Entries = EXT2NodeHeader(Node)->Entries;
    U32 Low = 0, High = Entries;  // the answer is Low - 1 once Low == High
    while (Low < High) {
        U32 Middle = Low + (High - Low) / 2;
        if (EXT2EntryStart(Node, Middle) <= Logical) Low = Middle + 1;
        else High = Middle;
    }
    return Low == 0 ? Entries : Low - 1;
}

/** The answer in a leaf: the rest of the extent holding Logical, or the hole up to the next one. */
static void EXT2LeafRun(const EXT2_EXTENT_NODE* Node, U32 Logical, U32 MaxCount, U64* Physical, U32* Count) {
    U32 Found = EXT2FindEntry(Node, Logical);
    U32 Entries = EXT2NodeHeader(Node)->Entries;
    U64 HoleEnd = EXT2EntryStart(Node, Found == Entries ? 0 : Found + 1);
    if (Found < Entries) {
        U64 Start, First;
        U32 Length;
        BOOL Unwritten;
        EXT2ExtentAt(Node, Found, &Start, &Length, &First, &Unwritten);
        if (Logical < Start + Length) {
            U64 Left = Start + Length - Logical;
            *Count = (U32)MIN(Left, (U64)MaxCount);
            *Physical = Unwritten ? 0 : First + (Logical - Start);
            return;
        }
    }
    *Physical = 0;
    *Count = (U32)MIN(HoleEnd > Logical ? HoleEnd - Logical : 1, (U64)MaxCount);
}

VFS_STATUS EXT2ExtentMapRun(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U32 Logical, U32 MaxCount, U64* Physical,
                            U32* Count) {
    *Physical = 0;
    *Count = 1;
    EXT2_EXTENT_NODE Node = {(const U8*)Inode->Block, EXT4_ROOT_BYTES, 0, 0, MAX_U64, 1ULL << 32};
    Node.Depth = EXT2NodeHeader(&Node)->Depth;
    U64 Path[EXT4_EXTENT_MAX_DEPTH + 1];
    U32 PathLength = 0;
    BLOCK_BUFFER Buffer;
    MemorySet(&Buffer, 0, sizeof(Buffer));
    VFS_STATUS Status;
    for (;;) {
        Status = EXT2CheckNode(Volume, Inode, &Node);
        if (Status != VFS_OK || Node.Depth == 0) break;
        U32 Found = EXT2FindEntry(&Node, Logical);
        if (Found == EXT2NodeHeader(&Node)->Entries) {
            // Before the first subtree: a hole up to it.
            *Count = (U32)MIN(EXT2EntryStart(&Node, 0) - Logical, (U64)MaxCount);
            BlockRelease(&Buffer);
            return VFS_OK;
        }
        U64 Child = EXT2IndexChild(EXT2IndexAt(&Node, Found));
        U64 First = EXT2IndexAt(&Node, Found)->Block;
        U64 Bound = MIN(Node.Bound, EXT2EntryStart(&Node, Found + 1));
        for (U32 I = 0; I < PathLength; I++) {
            if (Path[I] == Child) {
                Status = EXT2Corrupt(Volume, "inode %u: extent tree loops at block %llu", Inode->Number, Child);
                break;
            }
        }
        if (Status != VFS_OK) break;
        if (PathLength < ARRAY_COUNT(Path)) Path[PathLength++] = Child;
        U32 Depth = Node.Depth - 1;
        BlockRelease(&Buffer);
        Status = EXT2BufferGet(Volume, Child, TRUE, &Buffer);
        if (Status != VFS_OK) break;
        Node = (EXT2_EXTENT_NODE){Buffer.Data, Volume->BlockSize, Depth, Child, First, Bound};
        if (EXT2MetadataChecksums(Volume) &&
            !EXT2ExtentChecksumValid(Volume, Inode, Buffer.Data, EXT2NodeHeader(&Node)->Max)) {
            // The header is checked first so the tail's place is known; a bad one fails the checksum either way.
            Status = EXT2ChecksumFailed(Volume, "extent block of inode", Inode->Number);
            break;
        }
    }
    if (Status == VFS_OK) EXT2LeafRun(&Node, Logical, MaxCount, Physical, Count);
    BlockRelease(&Buffer);
    return Status;
}

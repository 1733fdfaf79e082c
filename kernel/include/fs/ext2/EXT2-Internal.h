/*
 * EXT2-Internal.h - what the files of the ext2/ext3/ext4 driver share.
 *
 * One driver reads the whole family: ext2 and ext3 volumes are read and
 * written (ext3's journal is left alone, as Linux's ext2 driver does, while
 * it is clean); ext4 volumes and any volume whose journal needs recovery are
 * read-only (EXT2-Features.c holds the table of what is read, written or
 * refused, and why). The on-disk format is in EXT2-Disk.h.
 *
 * The driver's files, from the bottom:
 *   EXT2-Block.c     the way to the disk: metadata blocks (bitmaps, inode
 *                    tables, indirect, extent, directory and attribute
 *                    blocks) pinned in the block cache through
 *                    block/BlockDevice.h; file data, the superblock and the
 *                    descriptors as bytes on the DISK; every read passes the
 *                    journal overlay; discards
 *   EXT2-Overlay.c   a replayed journal's blocks in front of the disk
 *   EXT2-Journal.c   jbd2: the journal superblock, the scan, revoke and
 *                    replay passes that fill the overlay
 *   EXT2-Features.c  the feature table: refused, read-only or writable;
 *                    the volume's kind (ext2, ext3, ext4)
 *   EXT2-Layout.c    geometry: the superblock's numbers, group descriptors
 *                    (32 or 64 bytes, classic or meta_bg places, sparse_super
 *                    and sparse_super2 backups), their checks and checksums
 *   EXT2-Checksum.c  metadata_csum (crc32c) and gdt_csum (crc16) of each
 *                    object: superblock, descriptors, inodes, extent blocks,
 *                    folder leaves and index blocks
 *   EXT2-Super.c     mount and unmount, the corruption policy (read-only +
 *                    one warning), the operation bracket EXT2Begin/EXT2End,
 *                    statfs, sync
 *   EXT2-Alloc.c     block and inode bitmaps, free counts, group choice
 *   EXT2-Inode.c     inodes (checksums, sizes, times), the block map (direct,
 *                    single, double, triple indirect) with allocation and
 *                    truncation, attribute blocks
 *   EXT2-Extent.c    extent trees: the run of blocks at a logical block
 *   EXT2-Inline.c    inline data: files, folders and links inside the inode
 *   EXT2-Dir.c       directory blocks: checks, lookup, listing, add/remove
 *   EXT2-HTree.c     hashed folders: the name hashes, index checks, lookup
 *   EXT2-Names.c     create, mkdir, unlink, rmdir, rename
 *   EXT2-File.c      read, write, truncate, stat, readlink
 *
 * Locking: every entry point in the VFS table takes the volume's mutex
 * through EXT2Begin and drops it in EXT2End; everything else here assumes it
 * is held (so one thread at a time pins the volume's blocks). Metadata
 * changes made during one operation live in the block cache and the
 * in-memory superblock/descriptors; EXT2End hands the latter to the disk and
 * syncs a private block cache, so between operations nothing is dirty in the
 * driver: what is not on the disk yet waits in the disk's cache, like any
 * other write.
 */

#ifndef FS_EXT2_INTERNAL_H_INCLUDED
#define FS_EXT2_INTERNAL_H_INCLUDED

#include "Base.h"
#include "core/Sync.h"
#include "fs/ext2/EXT2.h"
#include "fs/ext2/EXT2-Disk.h"
#include "block/BlockDevice.h"
#include "block/Disk.h"
#include "fs/VFS.h"

/************************************************************************/
// The volume

#define EXT2_MAX_TRANSFER_BYTES (4 * N_1MB)  // largest run of file blocks in one disk request (or the disk's limit)
#define EXT2_DEFAULT_TRANSFER_BYTES N_1MB   // when the disk reports no limit
#define EXT2_MAX_GROUPS 262144              // 32 TiB of 4 KiB blocks; 16 MiB of 64-byte descriptors at most

#define EXT2_DISCARD_RUNS 32
#define EXT2_REASON_LENGTH 48

typedef enum tag_EXT2_KIND {
    EXT2_KIND_EXT2,           // no journal, no feature beyond Linux's ext2 driver's
    EXT2_KIND_EXT3,           // a journal, no feature beyond Linux's ext3 set
    EXT2_KIND_EXT4,           // anything more (extents, 64bit, flex_bg, checksums ...)
} EXT2_KIND;

typedef struct tag_EXT2_OVERLAY EXT2_OVERLAY;

typedef struct tag_EXT2_VOLUME {
    U32 Magic;                // EXT2_VOLUME_MAGIC while mounted
    DISK* Disk;
    MUTEX Lock;
    U32 SectorSize;
    U64 DiskBytes;

    // Geometry, checked at mount (EXT2-Layout.c).
    U32 BlockSize;
    U32 BlockShift;
    U32 PointersPerBlock;
    U32 PointerShift;
    U32 SectorsPerBlock;      // 512-byte units per block (i_blocks)
    U64 BlocksCount;
    U32 FirstDataBlock;
    U32 BlocksPerGroup;
    U32 InodesPerGroup;
    U32 InodesCount;
    U32 GroupCount;
    U32 InodeSize;
    U32 FirstInode;
    U32 InodesPerBlock;
    U32 InodeTableBlocks;     // per group
    U32 DescriptorSize;       // 32, or s_desc_size with 64bit
    U32 DescriptorBlocks;
    U32 ReservedGdtBlocks;
    U32 TransferBlocks;       // the longest run of blocks read or written in one request
    U32 Revision;
    U32 FeatureCompat;
    U32 FeatureIncompat;      // as read, but needs_recovery once the journal is replayed
    U32 FeatureRoCompat;
    BOOL HasFileType;
    EXT2_KIND Kind;
    U32 ChecksumSeed;         // metadata_csum: crc32c of the UUID, or s_checksum_seed

    BOOL MountedReadOnly;     // asked for, or a feature this driver does not write
    BOOL ReadOnly;            // MountedReadOnly, or turned read-only by corruption
    char ReadOnlyReason[EXT2_REASON_LENGTH];  // why, for mount (empty when asked for or writable)
    BOOL ErrorSeen;
    BOOL SuperDirty;
    BOOL Discard;             // tell the disk about freed blocks (DF_DISK_TRIM)
    U32 DiscardRuns;          // pending runs of freed blocks, sent after the metadata is written
    U32 DiscardStart[EXT2_DISCARD_RUNS];
    U32 DiscardCount[EXT2_DISCARD_RUNS];
    U64 DiscardedBlocks;
    U64 DiscardRequests;
    U64 DiscardSkipped;       // runs not sent (no room, or reused before the write-back)
    EXT2_SUPERBLOCK Super;
    U8* GroupData;            // GroupCount descriptors of DescriptorSize bytes, as on the disk
    U8* GroupBad;             // per group: its descriptor's checksum is wrong (its inodes fail)
    U8* DescriptorBlockDirty; // one flag per descriptor block
    U32 NextDirectoryGroup;
    U64 JournalBlocks;        // the internal journal's length (statfs)
    EXT2_OVERLAY* Overlay;    // the replayed journal, or NULL

    BLOCK_DEVICE Blocks;      // the metadata blocks, pinned in the block cache (opened once the block size is known)
    U8* Scratch;              // one block, for partial-block file I/O
    U8* Inline;               // inline_data: the inline bytes of one inode (InodeSize + 60)
    EXT2_VOLUME_COUNTERS Counters;
} EXT2_VOLUME;

#define EXT2_VOLUME_MAGIC 0x32545845  // "EXT2"

static inline BOOL EXT2HasCompat(const EXT2_VOLUME* Volume, U32 Bit) { return (Volume->FeatureCompat & Bit) != 0; }
static inline BOOL EXT2HasIncompat(const EXT2_VOLUME* Volume, U32 Bit) { return (Volume->FeatureIncompat & Bit) != 0; }
static inline BOOL EXT2HasRoCompat(const EXT2_VOLUME* Volume, U32 Bit) { return (Volume->FeatureRoCompat & Bit) != 0; }
static inline BOOL EXT2MetadataChecksums(const EXT2_VOLUME* Volume) {
    return EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_METADATA_CSUM);
}

/************************************************************************/
// EXT2-Block.c

/** Bytes on the disk (the superblock, the descriptors) as the overlay shows them; the range must lie on the disk. */
VFS_STATUS EXT2ReadBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPVOID Buffer);
VFS_STATUS EXT2WriteBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPCVOID Buffer);
/** Bytes as they are on the disk, past the overlay (the journal and the overlay read so). */
VFS_STATUS EXT2ReadDiskBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPVOID Buffer);
/** Whole blocks of file data (at most TransferBlocks); the range must lie inside the volume. */
VFS_STATUS EXT2ReadBlocks(EXT2_VOLUME* Volume, U64 Block, U32 Count, LPVOID Buffer);
VFS_STATUS EXT2WriteBlocks(EXT2_VOLUME* Volume, U64 Block, U32 Count, LPCVOID Buffer);
/**
 * Pins a metadata block (BlockDirty after changing it, BlockRelease when
 * done); Read FALSE gives a zeroed dirty block (a new one) without reading
 * it. A block outside the volume is corruption. A freed block is forgotten
 * with BlockForget(&Volume->Blocks, Block). A block the journal overlay
 * holds comes from the journal (never to be changed: such volumes are
 * read-only).
 */
VFS_STATUS EXT2BufferGet(EXT2_VOLUME* Volume, U64 Block, BOOL Read, BLOCK_BUFFER* Buffer);
/** Sends the pending runs of freed blocks to the disk, one DF_DISK_TRIM each (errors only logged). */
void EXT2DiscardFlush(EXT2_VOLUME* Volume);
/** Forgets pending runs (a write-back failed: the blocks may still be in use on the disk). */
void EXT2DiscardCancel(EXT2_VOLUME* Volume);

/************************************************************************/
// EXT2-Overlay.c

/**
 * The overlay maps file-system blocks to the journal blocks holding their
 * newest committed copy. Built by the journal's replay pass (Add, in log
 * order: a later copy of a block replaces an earlier one), then sealed
 * (Seal sorts it for lookups); read-only afterwards.
 */
EXT2_OVERLAY* EXT2OverlayCreate(EXT2_VOLUME* Volume, U32 Capacity);
/** Journal block Source (a volume block) is the newest copy of Block; Escaped: its first word was the jbd2 magic. */
VFS_STATUS EXT2OverlayAdd(EXT2_OVERLAY* Overlay, U64 Block, U64 Source, BOOL Escaped);
VFS_STATUS EXT2OverlaySeal(EXT2_VOLUME* Volume, EXT2_OVERLAY* Overlay);
void EXT2OverlayFree(EXT2_OVERLAY* Overlay);
U32 EXT2OverlayCount(const EXT2_OVERLAY* Overlay);
/** Replaces, in Buffer (the disk's bytes Offset..Offset+Length), what the overlay holds. */
VFS_STATUS EXT2OverlayPatch(EXT2_VOLUME* Volume, U64 Offset, U32 Length, U8* Buffer);
/** Pins Block from the overlay when it holds it (*Held TRUE); otherwise leaves Buffer empty. */
VFS_STATUS EXT2OverlayPin(EXT2_VOLUME* Volume, U64 Block, BLOCK_BUFFER* Buffer, BOOL* Held);

/************************************************************************/
// EXT2-Journal.c

/**
 * With needs_recovery set: loads the internal journal, runs the scan,
 * revoke and replay passes into a new overlay (nothing is written) and
 * installs it. VFS_OK with the overlay in place (possibly empty), or the
 * reason the mount is refused (logged).
 */
VFS_STATUS EXT2JournalReplay(EXT2_VOLUME* Volume);

/************************************************************************/
// EXT2-Features.c

/**
 * Judges the volume's features (after the geometry is known): refuses a
 * volume with a feature Cairn cannot read (one warning naming them all),
 * sets Kind, HasFileType, and MountedReadOnly with its reason when a
 * feature is read but not written.
 */
VFS_STATUS EXT2CheckFeatures(EXT2_VOLUME* Volume);
LPCSTR EXT2KindName(EXT2_KIND Kind);
/** Turns the mount read-only, keeping the first reason given. */
void EXT2SetReadOnly(EXT2_VOLUME* Volume, LPCSTR Reason);

/************************************************************************/
// EXT2-Layout.c

/** Reads the geometry from Volume->Super and checks it against itself and the disk (a refusal is logged). */
VFS_STATUS EXT2LoadGeometry(EXT2_VOLUME* Volume);
/** Reads every group descriptor (through the overlay), checks each and its checksum (a refusal is logged). */
VFS_STATUS EXT2LoadDescriptors(EXT2_VOLUME* Volume);
BOOL EXT2GroupHasSuperblock(EXT2_VOLUME* Volume, U32 Group);
U64 EXT2GroupFirstBlock(EXT2_VOLUME* Volume, U32 Group);
/** Blocks at the start of a group taken by the superblock copy and descriptor blocks (reserved ones included). */
U32 EXT2GroupSuperBlocks(EXT2_VOLUME* Volume, U32 Group);
/** Where descriptor block Index lives (classic: after the superblock; meta_bg: in its metagroup). */
U64 EXT2DescriptorBlockLocation(EXT2_VOLUME* Volume, U32 Index);
EXT2_GROUP_DESCRIPTOR* EXT2Group(EXT2_VOLUME* Volume, U32 Group);
U64 EXT2GroupBlockBitmap(EXT2_VOLUME* Volume, U32 Group);
U64 EXT2GroupInodeBitmap(EXT2_VOLUME* Volume, U32 Group);
U64 EXT2GroupInodeTable(EXT2_VOLUME* Volume, U32 Group);
/** TRUE for a block inside the volume that holds file data or a file's metadata (not its own group's metadata). */
BOOL EXT2IsDataBlock(EXT2_VOLUME* Volume, U64 Block);
/** The groups' metadata blocks as Linux's ext2_statfs counts them (superblock copies, descriptors, bitmaps, tables). */
U64 EXT2MetadataBlocks(EXT2_VOLUME* Volume);

/************************************************************************/
// EXT2-Checksum.c

/** Sets Volume->ChecksumSeed (metadata_csum). */
void EXT2ChecksumSetup(EXT2_VOLUME* Volume);
BOOL EXT2SuperblockChecksumValid(const EXT2_SUPERBLOCK* Super);
/** metadata_csum (crc32c) or gdt_csum (crc16) of descriptor Group; TRUE when the volume has neither. */
BOOL EXT2DescriptorChecksumValid(EXT2_VOLUME* Volume, U32 Group, const U8* Descriptor);
/** The per-inode seed: the file-system seed, then the number and the generation. */
U32 EXT2InodeSeed(EXT2_VOLUME* Volume, U32 Number, U32 Generation);
/** The inode record Raw (InodeSize bytes) of inode Number. */
BOOL EXT2InodeChecksumValid(EXT2_VOLUME* Volume, U32 Number, const U8* Raw);
/** An extent tree block of Inode whose header says Max entries (the tail follows them). */
BOOL EXT2ExtentChecksumValid(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, const U8* Node, U32 Max);
/** A folder block of Directory: a leaf by its tail, else a hashed-index block by its count and limit. */
BOOL EXT2DirBlockChecksumValid(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, const U8* Block);
/** TRUE when a folder leaf block ends with the metadata_csum tail. */
BOOL EXT2DirHasTail(EXT2_VOLUME* Volume, const U8* Block);
/** Records a bad checksum of one object (rate-limited warning, counted); returns VFS_ERROR_IO. */
VFS_STATUS EXT2ChecksumFailed(EXT2_VOLUME* Volume, LPCSTR What, U64 Number);

/************************************************************************/
// EXT2-Super.c

/** Records corruption: one warning per volume, the volume turns read-only; returns VFS_ERROR_IO. */
VFS_STATUS EXT2Corrupt(EXT2_VOLUME* Volume, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
/** Refuses a mount: one warning naming the disk and the reason; returns VFS_ERROR_INVALID. */
VFS_STATUS EXT2Refuse(EXT2_VOLUME* Volume, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
/** Starts an operation (takes the lock); Modify refuses a read-only volume or disk with VFS_ERROR_READ_ONLY. */
VFS_STATUS EXT2Begin(EXT2_VOLUME* Volume, BOOL Modify);
/** Writes back what the operation changed and drops the lock; returns Status, or the write-back error. */
VFS_STATUS EXT2End(EXT2_VOLUME* Volume, VFS_STATUS Status);
BOOL EXT2CanWrite(EXT2_VOLUME* Volume);
void EXT2MarkGroupDirty(EXT2_VOLUME* Volume, U32 Group);
U32 EXT2Now(void);

/************************************************************************/
// EXT2-Alloc.c

/** Allocates one block, near Goal when possible (0: no preference). */
VFS_STATUS EXT2AllocateBlock(EXT2_VOLUME* Volume, U32 Goal, U32* Block);
VFS_STATUS EXT2FreeBlock(EXT2_VOLUME* Volume, U32 Block);
/** Picks a group (folders spread out, files near Parent) and allocates an inode there. */
VFS_STATUS EXT2AllocateInode(EXT2_VOLUME* Volume, U32 Parent, BOOL Directory, U32* Inode);
VFS_STATUS EXT2FreeInode(EXT2_VOLUME* Volume, U32 Inode, BOOL Directory);

/************************************************************************/
// EXT2-Inode.c

#define EXT2_TOUCH_ACCESS 0x1
#define EXT2_TOUCH_MODIFY 0x2
#define EXT2_TOUCH_CHANGE 0x4

/** Reads inode Number (its checksum verified with metadata_csum; Number and ChecksumSeed set). */
VFS_STATUS EXT2ReadInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
/** Reads an inode that a directory entry names: it must be in use with a known type and flags the volume allows. */
VFS_STATUS EXT2ReadLiveInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
/** Pins the block holding inode Number's whole record (at Buffer->Data + *Offset, InodeSize bytes). */
VFS_STATUS EXT2PinInode(EXT2_VOLUME* Volume, U32 Number, BLOCK_BUFFER* Buffer, U32* Offset);
VFS_STATUS EXT2WriteInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode);
/** Writes a new inode over a zeroed slot (nothing of a former owner survives past byte 160). */
VFS_STATUS EXT2WriteNewInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode);
U64 EXT2GetSize(EXT2_VOLUME* Volume, const EXT2_INODE* Inode);
/** i_blocks in 512-byte units (huge_file: 48 bits, in file-system blocks with EXT4_HUGE_FILE_FL). */
U64 EXT2InodeBlocks(EXT2_VOLUME* Volume, const EXT2_INODE* Inode);
VFS_STATUS EXT2SetSize(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 Size);
void EXT2Touch(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 What);
/** TRUE when Block[] maps blocks, by block numbers or an extent tree (regular files, folders, slow symlinks). */
BOOL EXT2HasBlockMap(EXT2_VOLUME* Volume, const EXT2_INODE* Inode);
/** Logical blocks a file can have with this block size. */
U64 EXT2MaxLogicalBlocks(EXT2_VOLUME* Volume);
/**
 * Physical block of logical block Logical (0 for a hole). With Create, a hole
 * gets a block (and the indirect blocks leading to it), allocated near *Goal,
 * *Fresh set: the caller must write the whole block. *Goal becomes the next
 * block after the one returned. All-or-nothing: on VFS_ERROR_NO_SPACE
 * nothing stays allocated.
 */
VFS_STATUS EXT2MapBlock(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 Logical, BOOL Create, U32* Goal, U32* Physical,
                        BOOL* Fresh);
/**
 * The run at Logical, for reading: *Physical is its first block (0 for a
 * hole or an unwritten extent, both read as zeros), *Count how many logical
 * blocks from Logical it covers (at least 1, at most MaxCount), all of the
 * same kind and physically consecutive. Extent trees give whole extents,
 * block maps the run within one indirect block (or the direct slots), read
 * once.
 */
VFS_STATUS EXT2MapRun(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 Logical, U32 MaxCount, U64* Physical, U32* Count);
/** Frees every block of logical index FirstFreed and above, and the indirect blocks left empty. */
VFS_STATUS EXT2TruncateBlocks(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 FirstFreed);
/** Drops the inode's reference to its attribute block (freed with its last reference). */
VFS_STATUS EXT2ReleaseAttributeBlock(EXT2_VOLUME* Volume, EXT2_INODE* Inode);
/** The last link is gone: frees the blocks and the inode, sets the deletion time. */
VFS_STATUS EXT2DeleteInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
/** The goal block for a new block of Inode: its group's first block. */
U32 EXT2InodeGoal(EXT2_VOLUME* Volume, U32 Number);

/************************************************************************/
// EXT2-Extent.c

/** EXT2MapRun for an extent-mapped inode: every node on the way checked (and its checksum). */
VFS_STATUS EXT2ExtentMapRun(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U32 Logical, U32 MaxCount, U64* Physical,
                            U32* Count);

/************************************************************************/
// EXT2-Inline.c

#define EXT4_INLINE_BLOCK_BYTES 60   // the part of inline data kept in i_block

/**
 * The inline data of Inode, copied into Volume->Inline: bytes 0..59 from
 * i_block (*Body: how many of them count), then the system.data attribute
 * value (*Extra bytes, from Volume->Inline + 60). Checked: the attribute
 * area, the entry's bounds, no value in an external inode.
 */
VFS_STATUS EXT2InlineLoad(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U32* Body, U32* Extra);
/** Reads an inline file's bytes Offset..Offset+Length (within its size). */
VFS_STATUS EXT2InlineRead(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U64 Offset, U8* Buffer, U32 Length);

/************************************************************************/
// EXT2-Dir.c

typedef struct tag_EXT2_DIR_SLOT {
    U32 Logical;              // directory block holding the entry
    U32 Offset;               // of the entry in that block
    U32 Inode;
    U8 FileType;
} EXT2_DIR_SLOT;

U8 EXT2FileTypeFromMode(U32 Mode);
/** Checks size and block count of a folder before walking it. */
VFS_STATUS EXT2DirCheckInode(EXT2_VOLUME* Volume, const EXT2_INODE* Directory);
VFS_STATUS EXT2DirFind(EXT2_VOLUME* Volume, EXT2_INODE* Directory, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot);
/** Adds an entry (growing the folder by a block if needed) and writes the folder's inode. */
VFS_STATUS EXT2DirAdd(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, LPCSTR Name, U32 Length,
                      U32 Inode, U32 Mode);
/** Removes the entry at Slot (merged into the one before it) and writes the folder's inode. */
VFS_STATUS EXT2DirRemove(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, const EXT2_DIR_SLOT* Slot);
/** Points the entry at Slot to another inode and writes the folder's inode. */
VFS_STATUS EXT2DirRetarget(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, const EXT2_DIR_SLOT* Slot,
                           U32 Inode, U32 Mode);
VFS_STATUS EXT2DirIsEmpty(EXT2_VOLUME* Volume, EXT2_INODE* Directory, BOOL* Empty);
/** Gives a new folder its first block with "." and "..". */
VFS_STATUS EXT2DirInitialize(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Directory, U32 Parent);
/** The checked, pinned block Logical of a folder (its checksum verified with metadata_csum). */
VFS_STATUS EXT2DirGetBlock(EXT2_VOLUME* Volume, EXT2_INODE* Directory, U32 Logical, BLOCK_BUFFER* Buffer);
/** Searches one checked folder block for Name. */
BOOL EXT2DirSearchBlock(EXT2_VOLUME* Volume, const BLOCK_BUFFER* Buffer, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot);
VFS_STATUS EXT2Lookup(LPVOID Volume, U64 Directory, LPCSTR Name, U64* Inode);
VFS_STATUS EXT2ReadDirectory(LPVOID Volume, U64 Directory, U64* Cursor, VFS_DIRECTORY_ENTRY* Entry, BOOL* End);

/************************************************************************/
// EXT2-HTree.c

/**
 * Looks Name up through the hashed index of Directory (INDEX_FL on a
 * dir_index volume): VFS_OK with *Slot, VFS_ERROR_NOT_FOUND when the index
 * says the name is absent, VFS_ERROR_IO for a bad checksum or block. An
 * index that fails its checks sets *Unusable (logged): the caller searches
 * linearly, as Linux falls back.
 */
VFS_STATUS EXT2HTreeFind(EXT2_VOLUME* Volume, EXT2_INODE* Directory, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot,
                         BOOL* Unusable);

/************************************************************************/
// EXT2-Names.c and EXT2-File.c (VFS entry points)

VFS_STATUS EXT2Create(LPVOID Volume, U64 Directory, LPCSTR Name, U32 Mode, U64* Inode);
VFS_STATUS EXT2Unlink(LPVOID Volume, U64 Directory, LPCSTR Name);
VFS_STATUS EXT2RemoveDirectory(LPVOID Volume, U64 Directory, LPCSTR Name);
VFS_STATUS EXT2Rename(LPVOID Volume, U64 OldDirectory, LPCSTR OldName, U64 NewDirectory, LPCSTR NewName);
VFS_STATUS EXT2Read(LPVOID Volume, U64 Inode, U64 Offset, LPVOID Buffer, U32 Length, U32* Done);
/** VFS_FILE_SYSTEM.MapExtents: where a file's bytes are, for direct reads (EXT2-File.c). */
VFS_STATUS EXT2MapExtents(LPVOID Volume, U64 Inode, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max,
                          U32* Count);
VFS_STATUS EXT2Write(LPVOID Volume, U64 Inode, U64 Offset, LPCVOID Buffer, U32 Length, U32* Done);
VFS_STATUS EXT2Truncate(LPVOID Volume, U64 Inode, U64 Size);
VFS_STATUS EXT2GetStat(LPVOID Volume, U64 Inode, VFS_STAT* Stat);
VFS_STATUS EXT2ReadLink(LPVOID Volume, U64 Inode, LPSTR Buffer, U32 Size);

#endif  // FS_EXT2_INTERNAL_H_INCLUDED

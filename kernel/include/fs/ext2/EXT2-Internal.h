/*
 * EXT2-Internal.h - the EXT2 on-disk layout and what the driver's files share.
 *
 * Layout facts come from "The Second Extended File System" (Dave Poirier,
 * nongnu.org/ext2-doc) and the e2fsprogs headers (ext2_fs.h) as documented
 * there; every structure is little-endian on disk, like the CPU.
 *
 * The driver's files, from the bottom:
 *   EXT2-Block.c  the way to the disk: metadata blocks (bitmaps, inode
 *                 tables, indirect, directory and attribute blocks) pinned
 *                 in the block cache through block/BlockDevice.h; file data,
 *                 the superblock and the descriptors as bytes on the DISK
 *                 (block/Disk.h's read-modify-write); discards
 *   EXT2-Super.c  mount, superblock and group descriptor checks, features,
 *                 the corruption policy (read-only + one warning), the
 *                 operation bracket EXT2Begin/EXT2End, statfs, sync
 *   EXT2-Alloc.c  block and inode bitmaps, free counts, group choice
 *   EXT2-Inode.c  inodes, the block map (direct, single, double, triple
 *                 indirect) with allocation and truncation, attribute blocks
 *   EXT2-Dir.c    directory blocks: checks, lookup, listing, add/remove
 *   EXT2-Names.c  create, mkdir, unlink, rmdir, rename
 *   EXT2-File.c   read, write, truncate, stat, readlink
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
#include "block/BlockDevice.h"
#include "block/Disk.h"
#include "fs/VFS.h"

/************************************************************************/
// On-disk constants

#define EXT2_SUPERBLOCK_OFFSET 1024
#define EXT2_SUPERBLOCK_SIZE 1024
#define EXT2_MAGIC 0xEF53
#define EXT2_ROOT_INODE 2
#define EXT2_GOOD_OLD_REVISION 0
#define EXT2_DYNAMIC_REVISION 1
#define EXT2_GOOD_OLD_INODE_SIZE 128
#define EXT2_GOOD_OLD_FIRST_INODE 11
#define EXT2_MIN_BLOCK_SHIFT 10         // 1 KiB
#define EXT2_MAX_BLOCK_SHIFT 12         // 4 KiB: the sizes this driver accepts
#define EXT2_DIRECT_BLOCKS 12
#define EXT2_INDIRECT_BLOCK 12
#define EXT2_DOUBLE_BLOCK 13
#define EXT2_TRIPLE_BLOCK 14
#define EXT2_BLOCK_POINTERS 15
#define EXT2_NAME_LENGTH 255
#define EXT2_LINK_MAX 32000             // Linux ext2's EXT2_LINK_MAX
#define EXT2_FAST_SYMLINK_MAX 59        // target bytes that fit in i_block (60 with the terminator)

#define EXT2_STATE_VALID 0x0001
#define EXT2_STATE_ERRORS 0x0002

// Compatible features: safe to ignore.
#define EXT2_COMPAT_DIR_PREALLOC 0x0001
#define EXT2_COMPAT_IMAGIC_INODES 0x0002
#define EXT2_COMPAT_HAS_JOURNAL 0x0004
#define EXT2_COMPAT_EXT_ATTR 0x0008
#define EXT2_COMPAT_RESIZE_INODE 0x0010
#define EXT2_COMPAT_DIR_INDEX 0x0020
#define EXT2_COMPAT_SPARSE_SUPER2 0x0200

// Incompatible features: the mount is refused unless every one is known.
#define EXT2_INCOMPAT_COMPRESSION 0x0001
#define EXT2_INCOMPAT_FILETYPE 0x0002
#define EXT2_INCOMPAT_RECOVER 0x0004
#define EXT2_INCOMPAT_JOURNAL_DEV 0x0008
#define EXT2_INCOMPAT_META_BG 0x0010
#define EXT2_INCOMPAT_EXTENTS 0x0040
#define EXT2_INCOMPAT_64BIT 0x0080
#define EXT2_INCOMPAT_MMP 0x0100
#define EXT2_INCOMPAT_FLEX_BG 0x0200
#define EXT2_INCOMPAT_EA_INODE 0x0400
#define EXT2_INCOMPAT_DIRDATA 0x1000
#define EXT2_INCOMPAT_CSUM_SEED 0x2000
#define EXT2_INCOMPAT_LARGEDIR 0x4000
#define EXT2_INCOMPAT_INLINE_DATA 0x8000
#define EXT2_INCOMPAT_ENCRYPT 0x10000
#define EXT2_INCOMPAT_CASEFOLD 0x20000
#define EXT2_INCOMPAT_SUPPORTED (EXT2_INCOMPAT_FILETYPE)

// Read-only compatible features: unknown ones make the mount read-only.
#define EXT2_RO_COMPAT_SPARSE_SUPER 0x0001
#define EXT2_RO_COMPAT_LARGE_FILE 0x0002
#define EXT2_RO_COMPAT_BTREE_DIR 0x0004
#define EXT2_RO_COMPAT_HUGE_FILE 0x0008
#define EXT2_RO_COMPAT_GDT_CSUM 0x0010
#define EXT2_RO_COMPAT_DIR_NLINK 0x0020
#define EXT2_RO_COMPAT_EXTRA_ISIZE 0x0040
#define EXT2_RO_COMPAT_QUOTA 0x0100
#define EXT2_RO_COMPAT_BIGALLOC 0x0200
#define EXT2_RO_COMPAT_METADATA_CSUM 0x0400
#define EXT2_RO_COMPAT_READONLY 0x1000
#define EXT2_RO_COMPAT_PROJECT 0x2000
#define EXT2_RO_COMPAT_SUPPORTED (EXT2_RO_COMPAT_SPARSE_SUPER | EXT2_RO_COMPAT_LARGE_FILE)

// Inode flags (i_flags).
#define EXT2_INDEX_FL 0x00001000         // hashed-index directory
#define EXT2_EXTENTS_FL 0x00080000       // ext4 extents: not a block map
#define EXT2_INLINE_DATA_FL 0x10000000   // ext4 inline data

// Directory entry file types (filetype feature).
#define EXT2_FT_UNKNOWN 0
#define EXT2_FT_REGULAR 1
#define EXT2_FT_DIRECTORY 2
#define EXT2_FT_CHARACTER 3
#define EXT2_FT_BLOCK 4
#define EXT2_FT_FIFO 5
#define EXT2_FT_SOCKET 6
#define EXT2_FT_SYMLINK 7

#define EXT2_XATTR_MAGIC 0xEA020000U     // attribute block header h_magic

#define EXT2_DIR_ENTRY_HEADER 8
/** The space an entry with a name of Length bytes needs: header + name, rounded to 4. */
#define EXT2_DIR_RECORD_LENGTH(Length) (((Length) + EXT2_DIR_ENTRY_HEADER + 3) & ~3U)

/************************************************************************/
// On-disk structures

typedef struct PACKED tag_EXT2_SUPERBLOCK {
    U32 InodesCount;          // 0
    U32 BlocksCount;          // 4
    U32 ReservedBlocksCount;  // 8
    U32 FreeBlocksCount;      // 12
    U32 FreeInodesCount;      // 16
    U32 FirstDataBlock;       // 20
    U32 LogBlockSize;         // 24: block size is 1024 << this
    U32 LogFragmentSize;      // 28
    U32 BlocksPerGroup;       // 32
    U32 FragmentsPerGroup;    // 36
    U32 InodesPerGroup;       // 40
    U32 MountTime;            // 44
    U32 WriteTime;            // 48
    U16 MountCount;           // 52
    I16 MaxMountCount;        // 54
    U16 Magic;                // 56
    U16 State;                // 58
    U16 Errors;               // 60
    U16 MinorRevision;        // 62
    U32 LastCheck;            // 64
    U32 CheckInterval;        // 68
    U32 CreatorOS;            // 72
    U32 Revision;             // 76
    U16 DefaultReservedUid;   // 80
    U16 DefaultReservedGid;   // 82
    U32 FirstInode;           // 84: revision 1 only
    U16 InodeSize;            // 88: revision 1 only
    U16 BlockGroupNumber;     // 90
    U32 FeatureCompat;        // 92
    U32 FeatureIncompat;      // 96
    U32 FeatureRoCompat;      // 100
    U8 Uuid[16];              // 104
    char VolumeName[16];      // 120
    char LastMounted[64];     // 136
    U32 AlgorithmBitmap;      // 200
    U8 PreallocBlocks;        // 204
    U8 PreallocDirBlocks;     // 205
    U16 ReservedGdtBlocks;    // 206: with resize_inode
    U8 JournalUuid[16];       // 208
    U32 JournalInode;         // 224
    U32 JournalDevice;        // 228
    U32 LastOrphan;           // 232
    U32 HashSeed[4];          // 236
    U8 DefaultHashVersion;    // 252
    U8 JournalBackupType;     // 253
    U16 DescriptorSize;       // 254
    U32 DefaultMountOptions;  // 256
    U32 FirstMetaGroup;       // 260
    U32 MkfsTime;             // 264
    U8 Rest[EXT2_SUPERBLOCK_SIZE - 268];
} EXT2_SUPERBLOCK;

STATIC_ASSERT(sizeof(EXT2_SUPERBLOCK) == EXT2_SUPERBLOCK_SIZE, "EXT2 superblock is 1024 bytes");

typedef struct PACKED tag_EXT2_GROUP_DESCRIPTOR {
    U32 BlockBitmap;
    U32 InodeBitmap;
    U32 InodeTable;
    U16 FreeBlocksCount;
    U16 FreeInodesCount;
    U16 UsedDirectoriesCount;
    U16 Flags;
    U32 ExcludeBitmap;
    U16 BlockBitmapChecksum;
    U16 InodeBitmapChecksum;
    U16 InodeTableUnused;
    U16 Checksum;
} EXT2_GROUP_DESCRIPTOR;

STATIC_ASSERT(sizeof(EXT2_GROUP_DESCRIPTOR) == 32, "EXT2 group descriptor is 32 bytes");

/** The first 160 bytes of an inode: the 128-byte base and the large-inode fields after it. */
typedef struct PACKED tag_EXT2_INODE {
    U16 Mode;                 // 0
    U16 Uid;                  // 2
    U32 Size;                 // 4
    U32 AccessTime;           // 8
    U32 ChangeTime;           // 12
    U32 ModifyTime;           // 16
    U32 DeleteTime;           // 20
    U16 Gid;                  // 24
    U16 LinksCount;           // 26
    U32 Blocks;               // 28: 512-byte units, metadata blocks included
    U32 Flags;                // 32
    U32 Osd1;                 // 36
    U32 Block[EXT2_BLOCK_POINTERS];  // 40
    U32 Generation;           // 100
    U32 FileAcl;              // 104: extended attribute block
    U32 SizeHigh;             // 108: i_size_high for regular files (i_dir_acl)
    U32 FragmentAddress;      // 112
    U16 BlocksHigh;           // 116
    U16 FileAclHigh;          // 118
    U16 UidHigh;              // 120
    U16 GidHigh;              // 122
    U16 ChecksumLow;          // 124
    U16 Reserved;             // 126
    U16 ExtraSize;            // 128: bytes used past 128
    U16 ChecksumHigh;         // 130
    U32 ChangeTimeExtra;      // 132
    U32 ModifyTimeExtra;      // 136
    U32 AccessTimeExtra;      // 140
    U32 CreationTime;         // 144
    U32 CreationTimeExtra;    // 148
    U32 VersionHigh;          // 152
    U32 ProjectId;            // 156
} EXT2_INODE;

STATIC_ASSERT(sizeof(EXT2_INODE) == 160, "EXT2 in-memory inode is 160 bytes");
#define EXT2_INODE_EXTRA_SIZE 32  // what new large inodes record (ExtraSize), as mke2fs does

typedef struct PACKED tag_EXT2_DIR_ENTRY {
    U32 Inode;
    U16 RecordLength;
    U8 NameLength;
    U8 FileType;              // 0 without the filetype feature (then the high byte of a 16-bit name length)
    char Name[];
} EXT2_DIR_ENTRY;

/************************************************************************/
// The volume

#define EXT2_MAX_TRANSFER_BYTES (256 * 1024)  // largest run of file blocks in one disk request
#define EXT2_MAX_GROUPS 65536

#define EXT2_DISCARD_RUNS 32

typedef struct tag_EXT2_VOLUME {
    U32 Magic;                // EXT2_VOLUME_MAGIC while mounted
    DISK* Disk;
    MUTEX Lock;
    U32 SectorSize;
    U64 DiskBytes;

    // Geometry, checked at mount.
    U32 BlockSize;
    U32 BlockShift;
    U32 PointersPerBlock;
    U32 PointerShift;
    U32 SectorsPerBlock;      // 512-byte units per block (i_blocks)
    U32 BlocksCount;
    U32 FirstDataBlock;
    U32 BlocksPerGroup;
    U32 InodesPerGroup;
    U32 InodesCount;
    U32 GroupCount;
    U32 InodeSize;
    U32 FirstInode;
    U32 InodesPerBlock;
    U32 InodeTableBlocks;     // per group
    U32 DescriptorBlocks;
    U32 ReservedGdtBlocks;
    U32 Revision;
    U32 FeatureCompat;
    U32 FeatureIncompat;
    U32 FeatureRoCompat;
    BOOL HasFileType;

    BOOL MountedReadOnly;     // asked for, or an unknown read-only-compatible feature
    BOOL ReadOnly;            // MountedReadOnly, or turned read-only by corruption
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
    EXT2_GROUP_DESCRIPTOR* Groups;
    U8* DescriptorBlockDirty; // one flag per descriptor block
    U32 NextDirectoryGroup;

    BLOCK_DEVICE Blocks;      // the metadata blocks, pinned in the block cache (opened once the block size is known)
    U8* Scratch;              // one block, for partial-block file I/O
} EXT2_VOLUME;

#define EXT2_VOLUME_MAGIC 0x32545845  // "EXT2"

/************************************************************************/
// EXT2-Block.c

/** Bytes on the disk (the superblock, the descriptors); the range must lie on the disk. */
VFS_STATUS EXT2ReadBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPVOID Buffer);
VFS_STATUS EXT2WriteBytes(EXT2_VOLUME* Volume, U64 Offset, U32 Length, LPCVOID Buffer);
/** Whole blocks of file data (at most EXT2_MAX_TRANSFER_BYTES); the range must lie inside the volume. */
VFS_STATUS EXT2ReadBlocks(EXT2_VOLUME* Volume, U32 Block, U32 Count, LPVOID Buffer);
VFS_STATUS EXT2WriteBlocks(EXT2_VOLUME* Volume, U32 Block, U32 Count, LPCVOID Buffer);
/**
 * Pins a metadata block (BlockDirty after changing it, BlockRelease when
 * done); Read FALSE gives a zeroed dirty block (a new one) without reading
 * it. A block outside the volume is corruption. A freed block is forgotten
 * with BlockForget(&Volume->Blocks, Block).
 */
VFS_STATUS EXT2BufferGet(EXT2_VOLUME* Volume, U32 Block, BOOL Read, BLOCK_BUFFER* Buffer);
/** Sends the pending runs of freed blocks to the disk, one DF_DISK_TRIM each (errors only logged). */
void EXT2DiscardFlush(EXT2_VOLUME* Volume);
/** Forgets pending runs (a write-back failed: the blocks may still be in use on the disk). */
void EXT2DiscardCancel(EXT2_VOLUME* Volume);

/************************************************************************/
// EXT2-Super.c

/** Records corruption: one warning per volume, the volume turns read-only; returns VFS_ERROR_IO. */
VFS_STATUS EXT2Corrupt(EXT2_VOLUME* Volume, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
/** Starts an operation (takes the lock); Modify refuses a read-only volume or disk with VFS_ERROR_READ_ONLY. */
VFS_STATUS EXT2Begin(EXT2_VOLUME* Volume, BOOL Modify);
/** Writes back what the operation changed and drops the lock; returns Status, or the write-back error. */
VFS_STATUS EXT2End(EXT2_VOLUME* Volume, VFS_STATUS Status);
BOOL EXT2CanWrite(EXT2_VOLUME* Volume);
BOOL EXT2GroupHasSuperblock(EXT2_VOLUME* Volume, U32 Group);
/** TRUE for a block inside the volume that holds file data or a file's metadata (not a group's metadata). */
BOOL EXT2IsDataBlock(EXT2_VOLUME* Volume, U32 Block);
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
U32 EXT2GroupFirstBlock(EXT2_VOLUME* Volume, U32 Group);

/************************************************************************/
// EXT2-Inode.c

#define EXT2_TOUCH_ACCESS 0x1
#define EXT2_TOUCH_MODIFY 0x2
#define EXT2_TOUCH_CHANGE 0x4

VFS_STATUS EXT2ReadInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
/** Reads an inode that a directory entry names: it must be in use with a known type. */
VFS_STATUS EXT2ReadLiveInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
VFS_STATUS EXT2WriteInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode);
/** Writes a new inode over a zeroed slot (nothing of a former owner survives past byte 160). */
VFS_STATUS EXT2WriteNewInode(EXT2_VOLUME* Volume, U32 Number, const EXT2_INODE* Inode);
U64 EXT2GetSize(const EXT2_INODE* Inode);
VFS_STATUS EXT2SetSize(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 Size);
void EXT2Touch(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U32 What);
/** TRUE when Block[] holds block numbers (regular files, folders, slow symlinks). */
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
/** Frees every block of logical index FirstFreed and above, and the indirect blocks left empty. */
VFS_STATUS EXT2TruncateBlocks(EXT2_VOLUME* Volume, EXT2_INODE* Inode, U64 FirstFreed);
/** Drops the inode's reference to its attribute block (freed with its last reference). */
VFS_STATUS EXT2ReleaseAttributeBlock(EXT2_VOLUME* Volume, EXT2_INODE* Inode);
/** The last link is gone: frees the blocks and the inode, sets the deletion time. */
VFS_STATUS EXT2DeleteInode(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Inode);
/** The goal block for a new block of Inode: its group's first block. */
U32 EXT2InodeGoal(EXT2_VOLUME* Volume, U32 Number);

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
VFS_STATUS EXT2Lookup(LPVOID Volume, U64 Directory, LPCSTR Name, U64* Inode);
VFS_STATUS EXT2ReadDirectory(LPVOID Volume, U64 Directory, U64* Cursor, VFS_DIRECTORY_ENTRY* Entry, BOOL* End);

/************************************************************************/
// EXT2-Names.c and EXT2-File.c (VFS entry points)

VFS_STATUS EXT2Create(LPVOID Volume, U64 Directory, LPCSTR Name, U32 Mode, U64* Inode);
VFS_STATUS EXT2Unlink(LPVOID Volume, U64 Directory, LPCSTR Name);
VFS_STATUS EXT2RemoveDirectory(LPVOID Volume, U64 Directory, LPCSTR Name);
VFS_STATUS EXT2Rename(LPVOID Volume, U64 OldDirectory, LPCSTR OldName, U64 NewDirectory, LPCSTR NewName);
VFS_STATUS EXT2Read(LPVOID Volume, U64 Inode, U64 Offset, LPVOID Buffer, U32 Length, U32* Done);
VFS_STATUS EXT2Write(LPVOID Volume, U64 Inode, U64 Offset, LPCVOID Buffer, U32 Length, U32* Done);
VFS_STATUS EXT2Truncate(LPVOID Volume, U64 Inode, U64 Size);
VFS_STATUS EXT2GetStat(LPVOID Volume, U64 Inode, VFS_STAT* Stat);
VFS_STATUS EXT2ReadLink(LPVOID Volume, U64 Inode, LPSTR Buffer, U32 Size);

#endif  // FS_EXT2_INTERNAL_H_INCLUDED

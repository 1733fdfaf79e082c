/*
 * EXT2-Disk.h - the on-disk format of the ext2/ext3/ext4 family and of the
 * jbd2 journal, as the driver reads it.
 *
 * Facts from "The Second Extended File System" (Dave Poirier,
 * nongnu.org/ext2-doc), Linux's Documentation/filesystems/ext4/ and the
 * e2fsprogs headers (lib/ext2fs/ext2_fs.h, ext3_extents.h, kernel-jbd.h),
 * with the corrections collected in the project's ext4 fact sheet (dx_node
 * count/limit at 0x8/0xA; meta_bg backups in the first, second and last
 * group of a metagroup). The file system's structures are little-endian
 * like the CPU and are read as packed structures; jbd2's are big-endian
 * and are read by offset with utils/Endian.h.
 */

#ifndef FS_EXT2_DISK_H_INCLUDED
#define FS_EXT2_DISK_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Constants

#define EXT2_SUPERBLOCK_OFFSET 1024
#define EXT2_SUPERBLOCK_SIZE 1024
#define EXT2_MAGIC 0xEF53
#define EXT2_ROOT_INODE 2
#define EXT2_JOURNAL_INODE 8
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
#define EXT2_MIN_DESCRIPTOR_SIZE 32
#define EXT4_MIN_DESCRIPTOR_SIZE_64BIT 64
#define EXT4_MAX_DESCRIPTOR_SIZE 1024

#define EXT2_STATE_VALID 0x0001
#define EXT2_STATE_ERRORS 0x0002

// Compatible features: never block a mount.
#define EXT2_COMPAT_DIR_PREALLOC 0x0001
#define EXT2_COMPAT_IMAGIC_INODES 0x0002
#define EXT2_COMPAT_HAS_JOURNAL 0x0004
#define EXT2_COMPAT_EXT_ATTR 0x0008
#define EXT2_COMPAT_RESIZE_INODE 0x0010
#define EXT2_COMPAT_DIR_INDEX 0x0020
#define EXT2_COMPAT_LAZY_BG 0x0040
#define EXT2_COMPAT_EXCLUDE_BITMAP 0x0100
#define EXT2_COMPAT_SPARSE_SUPER2 0x0200
#define EXT2_COMPAT_FAST_COMMIT 0x0400
#define EXT2_COMPAT_STABLE_INODES 0x0800
#define EXT2_COMPAT_ORPHAN_FILE 0x1000

// Incompatible features: a reader that does not know one must not mount.
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

// Read-only compatible features: a reader that does not know one may still read.
#define EXT2_RO_COMPAT_SPARSE_SUPER 0x0001
#define EXT2_RO_COMPAT_LARGE_FILE 0x0002
#define EXT2_RO_COMPAT_BTREE_DIR 0x0004
#define EXT2_RO_COMPAT_HUGE_FILE 0x0008
#define EXT2_RO_COMPAT_GDT_CSUM 0x0010
#define EXT2_RO_COMPAT_DIR_NLINK 0x0020
#define EXT2_RO_COMPAT_EXTRA_ISIZE 0x0040
#define EXT2_RO_COMPAT_HAS_SNAPSHOT 0x0080
#define EXT2_RO_COMPAT_QUOTA 0x0100
#define EXT2_RO_COMPAT_BIGALLOC 0x0200
#define EXT2_RO_COMPAT_METADATA_CSUM 0x0400
#define EXT2_RO_COMPAT_REPLICA 0x0800
#define EXT2_RO_COMPAT_READONLY 0x1000
#define EXT2_RO_COMPAT_PROJECT 0x2000
#define EXT2_RO_COMPAT_SHARED_BLOCKS 0x4000
#define EXT2_RO_COMPAT_VERITY 0x8000
#define EXT2_RO_COMPAT_ORPHAN_PRESENT 0x10000

// Superblock s_flags: which directory-hash variant the volume's htrees use.
#define EXT2_FLAGS_SIGNED_HASH 0x0001
#define EXT2_FLAGS_UNSIGNED_HASH 0x0002

#define EXT4_CHECKSUM_TYPE_CRC32C 1

// Inode flags (i_flags).
#define EXT4_ENCRYPT_FL 0x00000800       // contents and names encrypted
#define EXT2_INDEX_FL 0x00001000         // hashed-index directory
#define EXT4_HUGE_FILE_FL 0x00040000     // i_blocks in file-system blocks, not 512-byte units
#define EXT2_EXTENTS_FL 0x00080000       // ext4 extents: not a block map
#define EXT4_VERITY_FL 0x00100000        // fs-verity: a Merkle tree past i_size
#define EXT4_EA_INODE_FL 0x00200000      // holds a large attribute value
#define EXT2_INLINE_DATA_FL 0x10000000   // ext4 inline data
#define EXT4_CASEFOLD_FL 0x40000000      // case-insensitive folder

// Directory entry file types (filetype feature).
#define EXT2_FT_UNKNOWN 0
#define EXT2_FT_REGULAR 1
#define EXT2_FT_DIRECTORY 2
#define EXT2_FT_CHARACTER 3
#define EXT2_FT_BLOCK 4
#define EXT2_FT_FIFO 5
#define EXT2_FT_SOCKET 6
#define EXT2_FT_SYMLINK 7
#define EXT4_FT_DIR_CSUM 0xDE            // the leaf checksum tail's "file type"

#define EXT2_XATTR_MAGIC 0xEA020000U     // attribute block header h_magic, and the in-inode attribute area's
#define EXT4_XATTR_INDEX_SYSTEM 7        // "system." names (system.data: the rest of inline data)

#define EXT2_DIR_ENTRY_HEADER 8
/** The space an entry with a name of Length bytes needs: header + name, rounded to 4. */
#define EXT2_DIR_RECORD_LENGTH(Length) (((Length) + EXT2_DIR_ENTRY_HEADER + 3) & ~3U)
#define EXT4_DIR_TAIL_SIZE 12            // the metadata_csum tail of a leaf block

/************************************************************************/
// Superblock

typedef struct PACKED tag_EXT2_SUPERBLOCK {
    U32 InodesCount;          // 0x000
    U32 BlocksCount;          // 0x004: low half (64bit: BlocksCountHigh)
    U32 ReservedBlocksCount;  // 0x008
    U32 FreeBlocksCount;      // 0x00C
    U32 FreeInodesCount;      // 0x010
    U32 FirstDataBlock;       // 0x014
    U32 LogBlockSize;         // 0x018: block size is 1024 << this
    U32 LogClusterSize;       // 0x01C
    U32 BlocksPerGroup;       // 0x020
    U32 ClustersPerGroup;     // 0x024
    U32 InodesPerGroup;       // 0x028
    U32 MountTime;            // 0x02C
    U32 WriteTime;            // 0x030
    U16 MountCount;           // 0x034
    I16 MaxMountCount;        // 0x036
    U16 Magic;                // 0x038
    U16 State;                // 0x03A
    U16 Errors;               // 0x03C
    U16 MinorRevision;        // 0x03E
    U32 LastCheck;            // 0x040
    U32 CheckInterval;        // 0x044
    U32 CreatorOS;            // 0x048
    U32 Revision;             // 0x04C
    U16 DefaultReservedUid;   // 0x050
    U16 DefaultReservedGid;   // 0x052
    U32 FirstInode;           // 0x054: revision 1 only
    U16 InodeSize;            // 0x058: revision 1 only
    U16 BlockGroupNumber;     // 0x05A
    U32 FeatureCompat;        // 0x05C
    U32 FeatureIncompat;      // 0x060
    U32 FeatureRoCompat;      // 0x064
    U8 Uuid[16];              // 0x068
    char VolumeName[16];      // 0x078
    char LastMounted[64];     // 0x088
    U32 AlgorithmBitmap;      // 0x0C8
    U8 PreallocBlocks;        // 0x0CC
    U8 PreallocDirBlocks;     // 0x0CD
    U16 ReservedGdtBlocks;    // 0x0CE: with resize_inode
    U8 JournalUuid[16];       // 0x0D0
    U32 JournalInode;         // 0x0E0: 8 for an internal journal, 0 for an external one
    U32 JournalDevice;        // 0x0E4
    U32 LastOrphan;           // 0x0E8
    U32 HashSeed[4];          // 0x0EC
    U8 DefaultHashVersion;    // 0x0FC
    U8 JournalBackupType;     // 0x0FD
    U16 DescriptorSize;       // 0x0FE: with 64bit
    U32 DefaultMountOptions;  // 0x100
    U32 FirstMetaGroup;       // 0x104: descriptor blocks kept in the classic place (meta_bg)
    U32 MkfsTime;             // 0x108
    U32 JournalBlocks[17];    // 0x10C
    U32 BlocksCountHigh;      // 0x150
    U32 ReservedBlocksCountHigh;  // 0x154
    U32 FreeBlocksCountHigh;  // 0x158
    U16 MinExtraInodeSize;    // 0x15C
    U16 WantExtraInodeSize;   // 0x15E
    U32 Flags;                // 0x160: EXT2_FLAGS_*
    U16 RaidStride;           // 0x164
    U16 MmpInterval;          // 0x166
    U64 MmpBlock;             // 0x168
    U32 RaidStripeWidth;      // 0x170
    U8 LogGroupsPerFlex;      // 0x174
    U8 ChecksumType;          // 0x175
    U16 ReservedPad;          // 0x176
    U8 Statistics[0x248 - 0x178];  // written kilobytes, snapshot and error records, mount options, quota inodes
    U32 OverheadClusters;     // 0x248: metadata clusters (0: not recorded)
    U32 BackupGroups[2];      // 0x24C: sparse_super2
    U8 EncryptAlgorithms[4];  // 0x254
    U8 EncryptSalt[16];       // 0x258
    U32 LostFoundInode;       // 0x268
    U32 ProjectQuotaInode;    // 0x26C
    U32 ChecksumSeed;         // 0x270: with metadata_csum_seed
    U8 TimeHigh[6];           // 0x274
    U8 ErrorCodes[2];         // 0x27A
    U16 Encoding;             // 0x27C: casefold
    U16 EncodingFlags;        // 0x27E
    U32 OrphanFileInode;      // 0x280
    U8 Reserved[0x3FC - 0x284];
    U32 Checksum;             // 0x3FC: metadata_csum
} EXT2_SUPERBLOCK;

STATIC_ASSERT(sizeof(EXT2_SUPERBLOCK) == EXT2_SUPERBLOCK_SIZE, "EXT2 superblock is 1024 bytes");
STATIC_ASSERT(OFFSET_OF(EXT2_SUPERBLOCK, BlocksCountHigh) == 0x150, "s_blocks_count_hi at 0x150");
STATIC_ASSERT(OFFSET_OF(EXT2_SUPERBLOCK, LogGroupsPerFlex) == 0x174, "s_log_groups_per_flex at 0x174");
STATIC_ASSERT(OFFSET_OF(EXT2_SUPERBLOCK, OverheadClusters) == 0x248, "s_overhead_clusters at 0x248");
STATIC_ASSERT(OFFSET_OF(EXT2_SUPERBLOCK, ChecksumSeed) == 0x270, "s_checksum_seed at 0x270");
STATIC_ASSERT(OFFSET_OF(EXT2_SUPERBLOCK, OrphanFileInode) == 0x280, "s_orphan_file_inum at 0x280");

/************************************************************************/
// Group descriptors: 32 bytes, or s_desc_size (64 and more) with 64bit

typedef struct PACKED tag_EXT2_GROUP_DESCRIPTOR {
    U32 BlockBitmap;
    U32 InodeBitmap;
    U32 InodeTable;
    U16 FreeBlocksCount;
    U16 FreeInodesCount;
    U16 UsedDirectoriesCount;
    U16 Flags;                // EXT4_BG_*
    U32 ExcludeBitmap;
    U16 BlockBitmapChecksum;
    U16 InodeBitmapChecksum;
    U16 InodeTableUnused;
    U16 Checksum;             // crc32c (metadata_csum) or crc16 (gdt_csum)
} EXT2_GROUP_DESCRIPTOR;

STATIC_ASSERT(sizeof(EXT2_GROUP_DESCRIPTOR) == 32, "EXT2 group descriptor is 32 bytes");

/** Bytes 32..63 of a 64-bit descriptor: the high halves. */
typedef struct PACKED tag_EXT4_GROUP_DESCRIPTOR_HIGH {
    U32 BlockBitmapHigh;
    U32 InodeBitmapHigh;
    U32 InodeTableHigh;
    U16 FreeBlocksCountHigh;
    U16 FreeInodesCountHigh;
    U16 UsedDirectoriesCountHigh;
    U16 InodeTableUnusedHigh;
    U32 ExcludeBitmapHigh;
    U16 BlockBitmapChecksumHigh;
    U16 InodeBitmapChecksumHigh;
    U32 Reserved;
} EXT4_GROUP_DESCRIPTOR_HIGH;

STATIC_ASSERT(sizeof(EXT4_GROUP_DESCRIPTOR_HIGH) == 32, "the high half of a 64-bit descriptor is 32 bytes");

#define EXT4_BG_INODE_UNINIT 0x0001
#define EXT4_BG_BLOCK_UNINIT 0x0002
#define EXT4_BG_INODE_ZEROED 0x0004
#define EXT4_DESCRIPTOR_CHECKSUM_OFFSET 0x1E

/************************************************************************/
// Inodes

/**
 * The first 160 bytes of an inode as on the disk (the 128-byte base and
 * the large-inode fields after it), then what the driver keeps beside it
 * in memory: only EXT2_INODE_DISK_SIZE bytes are ever copied to or from
 * the inode table.
 */
typedef struct PACKED tag_EXT2_INODE {
    U16 Mode;                 // 0x00
    U16 Uid;                  // 0x02
    U32 Size;                 // 0x04
    U32 AccessTime;           // 0x08
    U32 ChangeTime;           // 0x0C
    U32 ModifyTime;           // 0x10
    U32 DeleteTime;           // 0x14
    U16 Gid;                  // 0x18
    U16 LinksCount;           // 0x1A
    U32 Blocks;               // 0x1C: 512-byte units, metadata blocks included (low half with huge_file)
    U32 Flags;                // 0x20
    U32 Osd1;                 // 0x24
    U32 Block[EXT2_BLOCK_POINTERS];  // 0x28: block map, extent tree root, inline data or a fast link
    U32 Generation;           // 0x64
    U32 FileAcl;              // 0x68: extended attribute block
    U32 SizeHigh;             // 0x6C: i_size_high (files; folders too with large_dir)
    U32 FragmentAddress;      // 0x70
    U16 BlocksHigh;           // 0x74: huge_file
    U16 FileAclHigh;          // 0x76
    U16 UidHigh;              // 0x78
    U16 GidHigh;              // 0x7A
    U16 ChecksumLow;          // 0x7C
    U16 Reserved;             // 0x7E
    U16 ExtraSize;            // 0x80: bytes used past 128
    U16 ChecksumHigh;         // 0x82
    U32 ChangeTimeExtra;      // 0x84: epoch bits 0-1, nanoseconds << 2
    U32 ModifyTimeExtra;      // 0x88
    U32 AccessTimeExtra;      // 0x8C
    U32 CreationTime;         // 0x90
    U32 CreationTimeExtra;    // 0x94
    U32 VersionHigh;          // 0x98
    U32 ProjectId;            // 0x9C
    // In memory only, set by EXT2ReadInode:
    U32 Number;               // the inode's number
    U32 ChecksumSeed;         // crc32c of the file-system seed, the number and the generation (metadata_csum)
} EXT2_INODE;

#define EXT2_INODE_DISK_SIZE 160
STATIC_ASSERT(OFFSET_OF(EXT2_INODE, Number) == EXT2_INODE_DISK_SIZE, "the on-disk part of an inode is 160 bytes");
#define EXT2_INODE_EXTRA_SIZE 32  // what new large inodes record (ExtraSize), as mke2fs does
#define EXT4_INODE_CHECKSUM_LOW 0x7C
#define EXT4_INODE_CHECKSUM_HIGH 0x82
/** The large-inode field ending at byte End (from the inode's start) exists when 128 + ExtraSize reaches it. */
#define EXT4_INODE_HAS(Inode, End) (EXT2_GOOD_OLD_INODE_SIZE + (U32)(Inode)->ExtraSize >= (End))

typedef struct PACKED tag_EXT2_DIR_ENTRY {
    U32 Inode;
    U16 RecordLength;
    U8 NameLength;
    U8 FileType;              // 0 without the filetype feature (then the high byte of a 16-bit name length)
    char Name[];
} EXT2_DIR_ENTRY;

/************************************************************************/
// Extent trees (EXT2_EXTENTS_FL): the root in i_block, nodes in blocks

#define EXT4_EXTENT_MAGIC 0xF30A
#define EXT4_EXTENT_MAX_DEPTH 5           // what the 32-bit logical space needs (Documentation/filesystems/ext4/ifork.rst)
#define EXT4_EXTENT_INIT_MAX_LENGTH 32768 // longer ee_len: an unwritten extent of ee_len - 32768 blocks

typedef struct PACKED tag_EXT4_EXTENT_HEADER {
    U16 Magic;
    U16 Entries;
    U16 Max;
    U16 Depth;                // 0: the entries are extents (a leaf)
    U32 Generation;
} EXT4_EXTENT_HEADER;

typedef struct PACKED tag_EXT4_EXTENT {
    U32 Block;                // first logical block
    U16 Length;
    U16 StartHigh;
    U32 StartLow;
} EXT4_EXTENT;

typedef struct PACKED tag_EXT4_EXTENT_INDEX {
    U32 Block;                // first logical block below this entry
    U32 LeafLow;
    U16 LeafHigh;
    U16 Unused;
} EXT4_EXTENT_INDEX;

STATIC_ASSERT(sizeof(EXT4_EXTENT_HEADER) == 12 && sizeof(EXT4_EXTENT) == 12 && sizeof(EXT4_EXTENT_INDEX) == 12,
              "extent tree entries are 12 bytes");

/************************************************************************/
// Hashed folders (dir_index, EXT2_INDEX_FL)

#define EXT4_DX_ROOT_INFO 0x18            // in block 0, after "." (12 bytes) and ".." (12 bytes)
#define EXT4_DX_ROOT_ENTRIES 0x20         // count/limit, then the entries
#define EXT4_DX_NODE_ENTRIES 0x08         // after the fake empty entry covering the block
#define EXT4_DX_HASH_LEGACY 0
#define EXT4_DX_HASH_HALF_MD4 1
#define EXT4_DX_HASH_TEA 2
#define EXT4_DX_HASH_UNSIGNED_DELTA 3     // legacy/half_md4/tea reading name bytes as unsigned (3, 4, 5)
#define EXT4_DX_HASH_SIPHASH 6
#define EXT4_HTREE_LEVELS 2               // interior levels allowed without large_dir (3 with it)
#define EXT4_HTREE_LEVELS_LARGE 3

typedef struct PACKED tag_EXT4_DX_ENTRY {
    U32 Hash;                 // entry 0's slot holds the count and limit instead
    U32 Block;                // logical folder block
} EXT4_DX_ENTRY;

/************************************************************************/
// jbd2 (big-endian, read by offset)

#define JBD2_MAGIC 0xC03B3998U
#define JBD2_DESCRIPTOR_BLOCK 1
#define JBD2_COMMIT_BLOCK 2
#define JBD2_SUPERBLOCK_V1 3
#define JBD2_SUPERBLOCK_V2 4
#define JBD2_REVOKE_BLOCK 5
#define JBD2_FC_BLOCK 6

#define JBD2_HEADER_SIZE 12               // h_magic, h_blocktype, h_sequence
// Journal superblock fields
#define JBD2_SB_BLOCKSIZE 0x0C
#define JBD2_SB_MAXLEN 0x10
#define JBD2_SB_FIRST 0x14
#define JBD2_SB_SEQUENCE 0x18
#define JBD2_SB_START 0x1C
#define JBD2_SB_ERRNO 0x20
#define JBD2_SB_FEATURE_COMPAT 0x24
#define JBD2_SB_FEATURE_INCOMPAT 0x28
#define JBD2_SB_FEATURE_RO_COMPAT 0x2C
#define JBD2_SB_UUID 0x30
#define JBD2_SB_NR_USERS 0x40
#define JBD2_SB_CHECKSUM_TYPE 0x50
#define JBD2_SB_NUM_FC_BLOCKS 0x54
#define JBD2_SB_CHECKSUM 0xFC
#define JBD2_SUPERBLOCK_SIZE 1024
// Commit block fields
#define JBD2_COMMIT_CHECKSUM_TYPE 0x0C
#define JBD2_COMMIT_CHECKSUM_SIZE 0x0D
#define JBD2_COMMIT_CHECKSUM 0x10
#define JBD2_COMMIT_SECONDS 0x30
// Revoke block field
#define JBD2_REVOKE_COUNT 0x0C            // bytes used, the 16-byte header included
#define JBD2_REVOKE_HEADER_SIZE 16

#define JBD2_COMPAT_CHECKSUM 0x1
#define JBD2_INCOMPAT_REVOKE 0x1
#define JBD2_INCOMPAT_64BIT 0x2
#define JBD2_INCOMPAT_ASYNC_COMMIT 0x4
#define JBD2_INCOMPAT_CSUM_V2 0x8
#define JBD2_INCOMPAT_CSUM_V3 0x10
#define JBD2_INCOMPAT_FAST_COMMIT 0x20
#define JBD2_INCOMPAT_KNOWN 0x3F
#define JBD2_CHECKSUM_TYPE_CRC32 1        // v1 commit checksums (crc32_be)
#define JBD2_CHECKSUM_TYPE_CRC32C 4       // v2/v3
#define JBD2_CRC32_CHECKSUM_SIZE 4
#define JBD2_DEFAULT_FC_BLOCKS 256

// Block tags in a descriptor
#define JBD2_FLAG_ESCAPE 0x1
#define JBD2_FLAG_SAME_UUID 0x2
#define JBD2_FLAG_DELETED 0x4
#define JBD2_FLAG_LAST_TAG 0x8
#define JBD2_TAG_FLAGS 6                  // be16 in every tag format (the low half of tag3's be32)
#define JBD2_TAG_BLOCK_HIGH 8
#define JBD2_TAG3_CHECKSUM 12
#define JBD2_TAG_CHECKSUM 4               // be16 (csum v2)
#define JBD2_TAG_UUID_SIZE 16
#define JBD2_BLOCK_TAIL_SIZE 4            // descriptor and revoke checksum (v2/v3)

#endif  // FS_EXT2_DISK_H_INCLUDED

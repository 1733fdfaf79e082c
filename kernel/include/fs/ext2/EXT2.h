/*
 * EXT2.h - the ext2/ext3/ext4 file system driver, seen from outside.
 *
 * The driver plugs into the VFS (fs/VFS.h) through EXT2FileSystem; the VFS
 * probes disks with it and calls it for every operation on a mounted volume.
 * It reads revision 0 and 1 volumes with 1, 2 or 4 KiB blocks on disks of
 * any sector size: ext2 and ext3 read and write (ext3's journal must be
 * clean and is left alone, as Linux's ext2 driver does), ext4 read-only
 * (extents, 64-bit, flex_bg, meta_bg, hashed and inline folders,
 * metadata_csum ...). A volume whose journal needs recovery is mounted
 * read-only with the journal replayed in memory: the disk is never
 * written. A feature it cannot read refuses the mount with one line naming
 * it (EXT2-Features.c has the table). Every on-disk value is checked before
 * use: a corrupt object gives VFS_ERROR_IO (the rest of the volume still
 * reads) and the volume turns read-only with one warning, never a fault, a
 * hang or a write outside the disk.
 *
 * The on-disk layout is in EXT2-Disk.h, the internals in EXT2-Internal.h.
 */

#ifndef FS_EXT2_H_INCLUDED
#define FS_EXT2_H_INCLUDED

#include "Base.h"
#include "fs/VFS.h"

extern const VFS_FILE_SYSTEM EXT2FileSystem;

/** What the driver counted on a volume since it was mounted. */
typedef struct tag_EXT2_VOLUME_COUNTERS {
    U64 HashedLookups;        // names looked up through a folder's hashed index
    U64 LinearLookups;        // names looked up by reading a folder's blocks in order
    U64 IndexFallbacks;       // hashed folders whose index failed its checks (searched linearly)
    U64 ChecksumErrors;       // objects refused for a bad metadata_csum/gdt_csum checksum
    U64 DataRequests;         // file data requests to the disk (reads and writes of block runs)
} EXT2_VOLUME_COUNTERS;

typedef struct tag_EXT2_VOLUME_STATE {
    BOOL ReadOnly;            // mounted read-only or turned read-only
    BOOL ErrorSeen;           // corruption was found (the one warning was given)
    U32 BlockSize;
    U32 Revision;
    U32 FeatureCompat;
    U32 FeatureIncompat;
    U32 FeatureRoCompat;
    char Kind[8];             // "ext2", "ext3" or "ext4"
    char ReadOnlyReason[48];  // why a volume asked to be writable is not ("" otherwise)
    BOOL JournalReplayed;     // the journal needed recovery and was replayed into memory
    U32 OverlayBlocks;        // blocks the replayed journal holds
    U32 TransferBlocks;       // the longest run of blocks in one disk request
    EXT2_VOLUME_COUNTERS Counters;
} EXT2_VOLUME_STATE;

/** For tests and diagnostics: the state of a volume returned by EXT2FileSystem.Mount. */
void EXT2GetVolumeState(LPVOID Volume, EXT2_VOLUME_STATE* State);

/**
 * The directory hash of a name (fs/ext2/EXT2-HTree.c): Version 0 legacy,
 * 1 half_md4, 2 tea, 3-5 the same reading name bytes as unsigned; Seed the
 * superblock's s_hash_seed (all zero: the default). As e2fsprogs'
 * ext2fs_dirhash: the hash has bit 0 clear. VFS_ERROR_INVALID for another
 * version.
 */
VFS_STATUS EXT2DirectoryHash(U32 Version, const U32 Seed[4], const char* Name, U32 Length, U32* Hash, U32* Minor);

#endif  // FS_EXT2_H_INCLUDED

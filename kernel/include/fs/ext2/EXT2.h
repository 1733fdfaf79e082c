/*
 * EXT2.h - the EXT2 file system driver (read and write), seen from outside.
 *
 * The driver plugs into the VFS (fs/VFS.h) through EXT2FileSystem; the VFS
 * probes disks with it and calls it for every operation on a mounted volume.
 * It handles revision 0 and 1 volumes with 1, 2 or 4 KiB blocks on disks
 * of any sector size, and every feature Debian's `mke2fs -t ext2` sets
 * (ext_attr, resize_inode, dir_index, filetype, sparse_super, large_file).
 * An unknown incompatible feature refuses the mount; an unknown read-only
 * compatible feature mounts read-only. Every on-disk value is checked before
 * use: a corrupt volume gives VFS_ERROR_IO and turns read-only with one
 * warning, never a fault, a hang or a write outside the disk.
 *
 * The on-disk layout and the internals are in EXT2-Internal.h.
 */

#ifndef FS_EXT2_H_INCLUDED
#define FS_EXT2_H_INCLUDED

#include "Base.h"
#include "fs/VFS.h"

extern const VFS_FILE_SYSTEM EXT2FileSystem;

typedef struct tag_EXT2_VOLUME_STATE {
    BOOL ReadOnly;          // mounted read-only or turned read-only
    BOOL ErrorSeen;         // corruption was found (the one warning was given)
    U32 BlockSize;
    U32 Revision;
    U32 FeatureCompat;
    U32 FeatureIncompat;
    U32 FeatureRoCompat;
} EXT2_VOLUME_STATE;

/** For tests and diagnostics: the state of a volume returned by EXT2FileSystem.Mount. */
void EXT2GetVolumeState(LPVOID Volume, EXT2_VOLUME_STATE* State);

#endif  // FS_EXT2_H_INCLUDED

/*
 * VFS.h - the virtual file system: one tree of names over every mounted volume.
 *
 * The tree starts at "/". A file system driver (EXT2 today) mounts a DISK at
 * a path; paths below it are resolved by the driver, one name at a time, so
 * the VFS owns the walk: '.', '..', repeated slashes, crossing mount points
 * both ways, and symbolic links (followed in the middle of a path always, at
 * the end unless the caller asks for the link itself, at most
 * VFS_MAX_SYMLINK_DEPTH of them per lookup). Folders that lead to mount
 * points but belong to no volume ("/", "/mnt") are synthetic: they list the
 * next names of the mount paths under them and hold nothing else.
 *
 * Paths are absolute or relative to the current folder (one for the kernel
 * shell: VFSGetCurrentDirectory is what the prompt shows). Results are
 * VFS_STATUS values, 0 or a negative POSIX errno (the numbers are Linux's),
 * named by VFSErrorString the way strerror names them.
 *
 * Locking: one VFS mutex serialises every call (the mount table, the current
 * folder and the driver calls under them); drivers lock their volume again
 * for callers that bypass the VFS. Calls sleep: thread context only.
 */

#ifndef FS_VFS_H_INCLUDED
#define FS_VFS_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"
#include "block/DirectRead.h"

/************************************************************************/
// Limits

#define VFS_MAX_PATH 1024          // bytes of a path, terminator included
#define VFS_MAX_NAME 255           // bytes of one name
#define VFS_MAX_SYMLINK_DEPTH 8    // links followed in one lookup
#define VFS_MAX_FILE_SYSTEMS 4

/************************************************************************/
// Status codes: 0 or -errno (Linux numbering)

typedef I32 VFS_STATUS;

#define VFS_OK 0
#define VFS_ERROR_NOT_PERMITTED (-1)    // EPERM
#define VFS_ERROR_NOT_FOUND (-2)        // ENOENT
#define VFS_ERROR_IO (-5)               // EIO (also: the volume is corrupt)
#define VFS_ERROR_BAD_HANDLE (-9)       // EBADF
#define VFS_ERROR_NO_MEMORY (-12)       // ENOMEM
#define VFS_ERROR_BUSY (-16)            // EBUSY
#define VFS_ERROR_EXISTS (-17)          // EEXIST
#define VFS_ERROR_CROSS_DEVICE (-18)    // EXDEV
#define VFS_ERROR_NO_DEVICE (-19)       // ENODEV
#define VFS_ERROR_NOT_DIRECTORY (-20)   // ENOTDIR
#define VFS_ERROR_IS_DIRECTORY (-21)    // EISDIR
#define VFS_ERROR_INVALID (-22)         // EINVAL
#define VFS_ERROR_FILE_TOO_BIG (-27)    // EFBIG
#define VFS_ERROR_NO_SPACE (-28)        // ENOSPC
#define VFS_ERROR_READ_ONLY (-30)       // EROFS
#define VFS_ERROR_TOO_MANY_LINKS (-31)  // EMLINK
#define VFS_ERROR_NAME_TOO_LONG (-36)   // ENAMETOOLONG
#define VFS_ERROR_NOT_EMPTY (-39)       // ENOTEMPTY
#define VFS_ERROR_LOOP (-40)            // ELOOP
#define VFS_ERROR_NOT_SUPPORTED (-95)   // EOPNOTSUPP
#define VFS_ERROR_WRONG_TYPE (-200)     // no file system this kernel knows on the disk (Cairn's own)

/** strerror-style text: "No such file or directory", ... */
LPCSTR VFSErrorString(VFS_STATUS Status);
/**
 * The one mapping from a disk layer status to a VFS one (file systems, the
 * raw-disk file commands): refused writes are "Read-only file system",
 * refused reads (a disabled disk) and device failures "Input/output error",
 * a range off the disk "Invalid argument".
 */
VFS_STATUS VFSDiskStatus(KSTATUS Status, BOOL Write);

/************************************************************************/
// Nodes

// File type bits of Mode (the POSIX S_IFMT values, which EXT2 stores as they are).
#define VFS_TYPE_MASK 0xF000
#define VFS_TYPE_FIFO 0x1000
#define VFS_TYPE_CHARACTER 0x2000
#define VFS_TYPE_DIRECTORY 0x4000
#define VFS_TYPE_BLOCK 0x6000
#define VFS_TYPE_REGULAR 0x8000
#define VFS_TYPE_SYMLINK 0xA000
#define VFS_TYPE_SOCKET 0xC000
#define VFS_IS_DIRECTORY(Mode) (((Mode) & VFS_TYPE_MASK) == VFS_TYPE_DIRECTORY)
#define VFS_IS_REGULAR(Mode) (((Mode) & VFS_TYPE_MASK) == VFS_TYPE_REGULAR)
#define VFS_IS_SYMLINK(Mode) (((Mode) & VFS_TYPE_MASK) == VFS_TYPE_SYMLINK)

typedef struct tag_VFS_STAT {
    U64 Inode;
    U32 Mode;             // type and permission bits
    U32 Links;
    U32 Uid;
    U32 Gid;
    U64 Size;
    U64 Blocks;           // 512-byte units allocated (metadata blocks included)
    U32 BlockSize;        // preferred I/O size
    U64 AccessTime;       // seconds since 1970-01-01 UTC
    U64 ModifyTime;
    U64 ChangeTime;
    U64 BirthTime;        // when HasBirthTime
    U32 AccessNanoseconds;  // 0 when the volume keeps whole seconds
    U32 ModifyNanoseconds;
    U32 ChangeNanoseconds;
    U32 BirthNanoseconds;
    BOOL HasBirthTime;
    char Device[DISK_NAME_LENGTH];  // "" for synthetic folders
} VFS_STAT;

typedef struct tag_VFS_DIRECTORY_ENTRY {
    U64 Inode;
    U32 Type;             // VFS_TYPE_* or 0 when the volume does not record it
    char Name[VFS_MAX_NAME + 1];
} VFS_DIRECTORY_ENTRY;

typedef struct tag_VFS_STATFS {
    U32 BlockSize;
    U64 TotalBlocks;
    U64 FreeBlocks;
    U64 AvailableBlocks;  // free blocks minus those reserved for root
    U64 TotalInodes;
    U64 FreeInodes;
    BOOL ReadOnly;
    char Type[8];         // "ext2", "ext3", "ext4"
    char ReadOnlyReason[48];  // why a volume is read-only although not asked to be ("" otherwise)
} VFS_STATFS;

/************************************************************************/
// File system drivers

/**
 * What a driver provides. Volume is the driver's own mount object; nodes
 * are named by inode number. Names passed in are one component, 1 to
 * VFS_MAX_NAME bytes, never "." or "..", without '/'. Every function that
 * changes the volume must return VFS_ERROR_READ_ONLY, changing nothing, when
 * the volume or its disk is read-only.
 */
typedef struct tag_VFS_FILE_SYSTEM {
    LPCSTR Name;
    /** VFS_OK when the disk holds this file system (reads the disk, changes nothing). */
    VFS_STATUS (*Probe)(DISK* Disk);
    /** Options: VFS_MOUNT_* bits. */
    VFS_STATUS (*Mount)(DISK* Disk, U32 Options, LPVOID* Volume, U64* RootInode);
    /** Writes everything back and frees the volume (even when the write fails). */
    VFS_STATUS (*Unmount)(LPVOID Volume);
    VFS_STATUS (*Sync)(LPVOID Volume);
    VFS_STATUS (*StatFs)(LPVOID Volume, VFS_STATFS* Info);
    VFS_STATUS (*GetStat)(LPVOID Volume, U64 Inode, VFS_STAT* Stat);
    VFS_STATUS (*Lookup)(LPVOID Volume, U64 Directory, LPCSTR Name, U64* Inode);
    /** Next entry from *Cursor (0 starts); *End set when there is none. Includes "." and "..". */
    VFS_STATUS (*ReadDirectory)(LPVOID Volume, U64 Directory, U64* Cursor, VFS_DIRECTORY_ENTRY* Entry, BOOL* End);
    /** The link's target, terminated; VFS_ERROR_NAME_TOO_LONG when it does not fit Size. */
    VFS_STATUS (*ReadLink)(LPVOID Volume, U64 Inode, LPSTR Buffer, U32 Size);
    VFS_STATUS (*Read)(LPVOID Volume, U64 Inode, U64 Offset, LPVOID Buffer, U32 Length, U32* Done);
    /** May write less than asked (then returns why, e.g. VFS_ERROR_NO_SPACE, with *Done set). */
    VFS_STATUS (*Write)(LPVOID Volume, U64 Inode, U64 Offset, LPCVOID Buffer, U32 Length, U32* Done);
    VFS_STATUS (*Truncate)(LPVOID Volume, U64 Inode, U64 Size);
    /** Creates a regular file or (Mode with VFS_TYPE_DIRECTORY) a folder; VFS_ERROR_EXISTS if Name is taken. */
    VFS_STATUS (*Create)(LPVOID Volume, U64 Directory, LPCSTR Name, U32 Mode, U64* Inode);
    /** Removes a name that is not a folder. */
    VFS_STATUS (*Unlink)(LPVOID Volume, U64 Directory, LPCSTR Name);
    /** Removes an empty folder. */
    VFS_STATUS (*RemoveDirectory)(LPVOID Volume, U64 Directory, LPCSTR Name);
    /** rename(2) within the volume: replaces a target of a compatible type, refuses moving a folder into itself. */
    VFS_STATUS (*Rename)(LPVOID Volume, U64 OldDirectory, LPCSTR OldName, U64 NewDirectory, LPCSTR NewName);
    /**
     * Optional, for direct reads (block/DirectRead.h): the extents of the file's bytes [Offset, Offset +
     * Length) (within its size), at most Max, covering at least one byte: sectors of the mount's disk
     * (whole sectors of whole blocks), zeros (holes, unwritten extents), or bytes for Read (inline data, a
     * last partial block, a volume whose journal overlay patches reads). NULL: every byte goes through Read.
     */
    VFS_STATUS (*MapExtents)(LPVOID Volume, U64 Inode, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max,
                             U32* Count);
} VFS_FILE_SYSTEM;

/** Adds a driver; probes try drivers in registration order. */
BOOL VFSRegisterFileSystem(const VFS_FILE_SYSTEM* FileSystem);

/************************************************************************/
// Mounting

/**
 * Registers the built-in drivers and a disk listener that mounts every
 * partition (DISK_TYPE_PARTITION) holding a known file system at
 * /mnt/<disk name>, now and whenever one appears later.
 */
void VFSInit(void);

/**
 * Mounts a disk (by name) at an absolute or relative path: a synthetic location or an existing folder. The
 * mount table grows as needed (no fixed number of mounts; VFS_ERROR_NO_MEMORY when the heap is out).
 */
VFS_STATUS VFSMount(LPCSTR DiskName, LPCSTR Path, BOOL ReadOnly);

#define VFS_MOUNT_READ_ONLY 0x0001
#define VFS_MOUNT_NO_DISCARD 0x0002  // do not tell the disk (DF_DISK_TRIM) about freed blocks

/** VFSMount with VFS_MOUNT_* options. */
VFS_STATUS VFSMountWithOptions(LPCSTR DiskName, LPCSTR Path, U32 Options);
/** Writes everything back, then detaches; VFS_ERROR_BUSY while files are open or the current folder is inside. */
VFS_STATUS VFSUnmount(LPCSTR Path);
/** Writes back every mounted volume and flushes its disk. */
VFS_STATUS VFSSyncAll(void);

typedef struct tag_VFS_MOUNT_INFO {
    char Path[VFS_MAX_PATH];
    char Device[DISK_NAME_LENGTH];
    char Type[8];   // as the driver names the volume (StatFs's Type at mount time)
    BOOL ReadOnly;  // mounted read-only, its disk refuses writes now (disk access ro/off), or (with StatFs) corrupt
    U32 Options;    // VFS_MOUNT_* as mounted
} VFS_MOUNT_INFO;

U32 VFSGetMountCount(void);
/** Mounts in mount order; StatFs may be NULL. */
VFS_STATUS VFSGetMountInfo(U32 Index, VFS_MOUNT_INFO* Info, VFS_STATFS* StatFs);
/** The mount holding Path (following links). */
VFS_STATUS VFSStatFs(LPCSTR Path, VFS_STATFS* Info, VFS_MOUNT_INFO* Mount);

/************************************************************************/
// Names

LPCSTR VFSGetCurrentDirectory(void);
/** Changes the current folder (after checking it is one); stores it in canonical form. */
VFS_STATUS VFSSetCurrentDirectory(LPCSTR Path);
/** The canonical absolute path of Path (links followed; the last one only when FollowLast). */
VFS_STATUS VFSResolvePath(LPCSTR Path, BOOL FollowLast, LPSTR Result, SIZE ResultSize);

VFS_STATUS VFSStat(LPCSTR Path, VFS_STAT* Stat);
/** Like VFSStat, but a symbolic link at the end is described itself. */
VFS_STATUS VFSLinkStat(LPCSTR Path, VFS_STAT* Stat);
VFS_STATUS VFSReadLink(LPCSTR Path, LPSTR Buffer, SIZE Size);

VFS_STATUS VFSMakeDirectory(LPCSTR Path);
VFS_STATUS VFSRemoveDirectory(LPCSTR Path);
VFS_STATUS VFSUnlink(LPCSTR Path);
VFS_STATUS VFSRename(LPCSTR OldPath, LPCSTR NewPath);
VFS_STATUS VFSTruncate(LPCSTR Path, U64 Size);

/************************************************************************/
// Open files and folders

#define VFS_OPEN_READ 0x01
#define VFS_OPEN_WRITE 0x02
#define VFS_OPEN_CREATE 0x04     // create a regular file when missing
#define VFS_OPEN_TRUNCATE 0x08   // cut to zero length at open
#define VFS_OPEN_APPEND 0x10     // every write goes to the end
#define VFS_OPEN_EXCLUSIVE 0x20  // with CREATE: fail with VFS_ERROR_EXISTS if it exists

typedef struct tag_VFS_FILE VFS_FILE;
typedef struct tag_VFS_DIRECTORY VFS_DIRECTORY;

VFS_STATUS VFSOpen(LPCSTR Path, U32 Flags, VFS_FILE** File);
/** Reads at the file position and advances it; *Done 0 at the end of the file. */
VFS_STATUS VFSRead(VFS_FILE* File, LPVOID Buffer, U32 Length, U32* Done);
VFS_STATUS VFSWrite(VFS_FILE* File, LPCVOID Buffer, U32 Length, U32* Done);
VFS_STATUS VFSSeek(VFS_FILE* File, U64 Position);
U64 VFSTell(VFS_FILE* File);
VFS_STATUS VFSFileStat(VFS_FILE* File, VFS_STAT* Stat);
VFS_STATUS VFSFileTruncate(VFS_FILE* File, U64 Size);
void VFSClose(VFS_FILE* File);
/**
 * A direct-read source over the file's bytes (stream offsets are file offsets; block/DirectRead.h), and in
 * *Size the file's size now. The file must stay open while a reader uses the source. Errors of the file
 * system reach the reader as KSTATUS_IO_ERROR (KSTATUS_NO_MEMORY, KSTATUS_NO_PERMISSION as they are).
 */
VFS_STATUS VFSDirectSource(VFS_FILE* File, DIRECT_SOURCE* Source, U64* Size);

VFS_STATUS VFSOpenDirectory(LPCSTR Path, VFS_DIRECTORY** Directory);
/** Next entry ("." and ".." included); *End set after the last. */
VFS_STATUS VFSReadDirectory(VFS_DIRECTORY* Directory, VFS_DIRECTORY_ENTRY* Entry, BOOL* End);
void VFSCloseDirectory(VFS_DIRECTORY* Directory);

#ifdef CAIRN_HOST_BUILD
/** Host builds: drops every mount and driver (between tests). */
void VFSHostReset(void);
/** Host builds: the driver's volume mounted at the canonical Path (for its diagnostics), or NULL. */
LPVOID VFSHostVolume(LPCSTR Path);
#endif

#endif  // FS_VFS_H_INCLUDED

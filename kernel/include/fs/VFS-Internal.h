/*
 * VFS-Internal.h - what the VFS's own files (VFS.c, VFS-File.c) share: the
 * mount table, nodes, the path walk, and the open file and folder objects.
 * Everything here is used with VFSLock held.
 */

#ifndef FS_VFS_INTERNAL_H_INCLUDED
#define FS_VFS_INTERNAL_H_INCLUDED

#include "Base.h"
#include "core/Sync.h"
#include "fs/VFS.h"

#define VFS_MAX_DEPTH (VFS_MAX_PATH / 2)
#define VFS_FILE_MAGIC 0x454C4946       // "FILE"
#define VFS_DIRECTORY_MAGIC 0x52494446  // "FDIR"
#define VFS_SYNTHETIC_MODE (VFS_TYPE_DIRECTORY | 0755)

typedef struct tag_VFS_MOUNT {
    char Path[VFS_MAX_PATH];    // canonical: "/" or "/a/b"
    DISK* Disk;
    const VFS_FILE_SYSTEM* FileSystem;
    char Type[8];               // the volume's type as its driver names it at mount ("ext4")
    LPVOID Volume;
    U64 RootInode;
    BOOL ReadOnly;
    U32 Options;  // VFS_MOUNT_* as mounted
    U32 OpenCount;              // open files and folders on it
} VFS_MOUNT;

typedef struct tag_VFS_NODE {
    VFS_MOUNT* Mount;           // NULL: a synthetic folder
    U64 Inode;
    U32 Mode;
} VFS_NODE;

typedef struct tag_VFS_WALK {
    char Path[VFS_MAX_PATH];    // canonical path of Steps[Depth]
    U32 Depth;
    VFS_NODE Steps[VFS_MAX_DEPTH];
    U16 PathLengths[VFS_MAX_DEPTH];
    char Pending[2 * VFS_MAX_PATH];
    char Spare[2 * VFS_MAX_PATH];
    char Name[VFS_MAX_NAME + 1];
    U32 Links;
} VFS_WALK;

struct tag_VFS_FILE {
    U32 Magic;
    VFS_MOUNT* Mount;
    U64 Inode;
    U64 Position;
    U32 Flags;
};

struct tag_VFS_DIRECTORY {
    U32 Magic;
    VFS_MOUNT* Mount;           // NULL: synthetic
    U64 Inode;
    U64 Cursor;
    char Path[VFS_MAX_PATH];
};

#define VFS_WALK_FOLLOW_LAST 0x1
#define VFS_WALK_VIRTUAL 0x2    // unknown names under synthetic folders become synthetic (mount points)

extern MUTEX VFSLock;
extern VFS_MOUNT** VFSMounts;      // VFSMountTotal entries, in mount order (a heap array that grows)
extern U32 VFSMountTotal;
extern char VFSCurrentDirectory[VFS_MAX_PATH];

/** The volume mounted exactly at canonical Path, or NULL. */
VFS_MOUNT* VFSFindMount(LPCSTR Path);
/** TRUE when Inner is Outer or lies below it ("/a" contains "/a/b", not "/ab"). */
BOOL VFSPathContains(LPCSTR Outer, LPCSTR Inner);
/** TRUE when a mount point lies strictly below Path. */
BOOL VFSHasMountBelow(LPCSTR Path);
/** Path + "/" + Name into Result; FALSE when it does not fit. */
BOOL VFSJoin(LPCSTR Path, LPCSTR Name, LPSTR Result, SIZE Size);
/** Walks Path (VFS_WALK_* flags); the node is VFSWalkTop, its canonical path Walk->Path. */
VFS_STATUS VFSWalk(VFS_WALK* Walk, LPCSTR Path, U32 Flags);
/** Walks to the folder holding Path's last name, left in Walk->Name (see VFS.c for the special cases). */
VFS_STATUS VFSWalkParent(VFS_WALK* Walk, LPCSTR Path);
VFS_WALK* VFSWalkAllocate(void);
VFS_NODE* VFSWalkTop(VFS_WALK* Walk);
/** May Walk->Name in the top folder be created, removed or replaced (not a mount point, not synthetic)? */
VFS_STATUS VFSCheckChangeable(VFS_WALK* Walk);

#endif  // FS_VFS_INTERNAL_H_INCLUDED

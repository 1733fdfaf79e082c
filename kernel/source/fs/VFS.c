/*
 * VFS.c - the mount table, path walking, the current folder and the
 * operations on names (see VFS.h for the model; open files and folders are
 * in VFS-File.c, wall-clock time in system/RTC.c).
 *
 * A walk keeps a stack of the nodes it went through (a node is a mount and an
 * inode, or a synthetic folder) and the canonical path of the top one, so
 * ".." pops to the real parent even after a symbolic link or across a mount
 * point, and every name is looked up exactly once. After each name, the
 * canonical path is checked against the mount table: a volume mounted there
 * covers the node. A symbolic link is replaced by its target text followed by
 * the rest of the path, from the root for an absolute target.
 *
 * The walk state (about 17 KiB) is allocated per call, not on the 32 KiB
 * thread stack. Every public function takes VFSLock for its whole duration,
 * driver calls included.
 */

#include "fs/VFS-Internal.h"

#include "core/Log.h"
#include "core/Sync.h"
#include "fs/ext2/EXT2.h"
#include "memory/Heap.h"
#include "system/RTC.h"
#include "utils/Format.h"
#include "utils/String.h"

MUTEX VFSLock;                  // zeroed is a valid unlocked mutex
VFS_MOUNT** VFSMounts;
U32 VFSMountTotal;
static U32 VFSMountCapacity;    // entries VFSMounts has room for
static const VFS_FILE_SYSTEM* VFSFileSystems[VFS_MAX_FILE_SYSTEMS];
static U32 VFSFileSystemTotal;
char VFSCurrentDirectory[VFS_MAX_PATH] = "/";

LPCSTR VFSErrorString(VFS_STATUS Status) {
    switch (Status) {
        case VFS_OK: return "Success";
        case VFS_ERROR_NOT_PERMITTED: return "Operation not permitted";
        case VFS_ERROR_NOT_FOUND: return "No such file or directory";
        case VFS_ERROR_IO: return "Input/output error";
        case VFS_ERROR_BAD_HANDLE: return "Bad file descriptor";
        case VFS_ERROR_NO_MEMORY: return "Cannot allocate memory";
        case VFS_ERROR_BUSY: return "Device or resource busy";
        case VFS_ERROR_EXISTS: return "File exists";
        case VFS_ERROR_CROSS_DEVICE: return "Cross-device link";
        case VFS_ERROR_NO_DEVICE: return "No such device";
        case VFS_ERROR_NOT_DIRECTORY: return "Not a directory";
        case VFS_ERROR_IS_DIRECTORY: return "Is a directory";
        case VFS_ERROR_INVALID: return "Invalid argument";
        case VFS_ERROR_FILE_TOO_BIG: return "File too large";
        case VFS_ERROR_NO_SPACE: return "No space left on device";
        case VFS_ERROR_READ_ONLY: return "Read-only file system";
        case VFS_ERROR_TOO_MANY_LINKS: return "Too many links";
        case VFS_ERROR_NAME_TOO_LONG: return "File name too long";
        case VFS_ERROR_NOT_EMPTY: return "Directory not empty";
        case VFS_ERROR_LOOP: return "Too many levels of symbolic links";
        case VFS_ERROR_NOT_SUPPORTED: return "Operation not supported";
        case VFS_ERROR_WRONG_TYPE: return "Unknown file system type";
        default: return "Unknown error";
    }
}

VFS_STATUS VFSDiskStatus(KSTATUS Status, BOOL Write) {
    switch (Status) {
        case KSTATUS_SUCCESS: return VFS_OK;
        case KSTATUS_NO_PERMISSION: return Write ? VFS_ERROR_READ_ONLY : VFS_ERROR_IO;
        case KSTATUS_NO_MEMORY: return VFS_ERROR_NO_MEMORY;
        case KSTATUS_BAD_PARAMETER: return VFS_ERROR_INVALID;
        default: return VFS_ERROR_IO;
    }
}

BOOL VFSRegisterFileSystem(const VFS_FILE_SYSTEM* FileSystem) {
    if (FileSystem == NULL) return FALSE;
    MutexLock(&VFSLock);
    BOOL Added = FALSE;
    BOOL Known = FALSE;
    for (U32 I = 0; I < VFSFileSystemTotal; I++) Known |= (VFSFileSystems[I] == FileSystem);
    if (!Known && VFSFileSystemTotal < VFS_MAX_FILE_SYSTEMS) {
        VFSFileSystems[VFSFileSystemTotal++] = FileSystem;
        Added = TRUE;
    }
    MutexUnlock(&VFSLock);
    return Added || Known;
}

/************************************************************************/
// Mount table helpers (lock held)

VFS_MOUNT* VFSFindMount(LPCSTR Path) {
    for (U32 I = 0; I < VFSMountTotal; I++) {
        if (StringCompare(VFSMounts[I]->Path, Path) == 0) return VFSMounts[I];
    }
    return NULL;
}

/** TRUE when Inner is Outer or lies below it ("/a" contains "/a/b", not "/ab"). */
BOOL VFSPathContains(LPCSTR Outer, LPCSTR Inner) {
    SIZE Length = StringLength(Outer);
    if (Length == 1) return TRUE;  // "/"
    return StringCompareBounded(Outer, Inner, Length) == 0 && (Inner[Length] == 0 || Inner[Length] == '/');
}

BOOL VFSHasMountBelow(LPCSTR Path) {
    for (U32 I = 0; I < VFSMountTotal; I++) {
        if (StringCompare(VFSMounts[I]->Path, Path) != 0 && VFSPathContains(Path, VFSMounts[I]->Path)) return TRUE;
    }
    return FALSE;
}

/** Path + "/" + Name into Result; FALSE when it does not fit. */
BOOL VFSJoin(LPCSTR Path, LPCSTR Name, LPSTR Result, SIZE Size) {
    SIZE Length = StringPrintFormat(Result, Size, "%s%s%s", Path, StringCompare(Path, "/") == 0 ? "" : "/", Name);
    return Length < Size;
}

static VFS_STATUS VFSNodeMode(VFS_NODE* Node) {
    if (Node->Mount == NULL) {
        Node->Mode = VFS_SYNTHETIC_MODE;
        return VFS_OK;
    }
    VFS_STAT Stat;
    VFS_STATUS Status = Node->Mount->FileSystem->GetStat(Node->Mount->Volume, Node->Inode, &Stat);
    if (Status == VFS_OK) Node->Mode = Stat.Mode;
    return Status;
}

static VFS_STATUS VFSMountRoot(VFS_MOUNT* Mount, VFS_NODE* Node) {
    Node->Mount = Mount;
    Node->Inode = Mount->RootInode;
    return VFSNodeMode(Node);
}

/************************************************************************/
// Walking

static void VFSWalkPop(VFS_WALK* Walk) {
    if (Walk->Depth > 0) Walk->Depth--;
    Walk->Path[Walk->PathLengths[Walk->Depth]] = 0;
}

static VFS_STATUS VFSWalkReset(VFS_WALK* Walk) {
    Walk->Depth = 0;
    StringCopy(Walk->Path, "/", sizeof(Walk->Path));
    Walk->PathLengths[0] = 1;
    VFS_MOUNT* Root = VFSFindMount("/");
    if (Root) return VFSMountRoot(Root, &Walk->Steps[0]);
    Walk->Steps[0].Mount = NULL;
    Walk->Steps[0].Inode = 0;
    Walk->Steps[0].Mode = VFS_SYNTHETIC_MODE;
    return VFS_OK;
}

/** Looks Walk->Name up in the top node and pushes the result. */
static VFS_STATUS VFSWalkPush(VFS_WALK* Walk, U32 Flags) {
    char ChildPath[VFS_MAX_PATH];
    if (Walk->Depth + 1 >= VFS_MAX_DEPTH || !VFSJoin(Walk->Path, Walk->Name, ChildPath, sizeof(ChildPath))) {
        return VFS_ERROR_NAME_TOO_LONG;
    }
    VFS_NODE* Current = &Walk->Steps[Walk->Depth];
    VFS_NODE Child = {NULL, 0, VFS_SYNTHETIC_MODE};
    VFS_MOUNT* Mount = VFSFindMount(ChildPath);
    VFS_STATUS Status = VFS_OK;
    if (Current->Mount == NULL) {
        if (Mount) Status = VFSMountRoot(Mount, &Child);
        else if (!VFSHasMountBelow(ChildPath) && !(Flags & VFS_WALK_VIRTUAL)) Status = VFS_ERROR_NOT_FOUND;
    } else {
        U64 Inode;
        Status = Current->Mount->FileSystem->Lookup(Current->Mount->Volume, Current->Inode, Walk->Name, &Inode);
        if (Status == VFS_OK) {
            if (Mount) {
                Status = VFSMountRoot(Mount, &Child);
            } else {
                Child.Mount = Current->Mount;
                Child.Inode = Inode;
                Status = VFSNodeMode(&Child);
            }
        }
    }
    if (Status != VFS_OK) return Status;
    Walk->Depth++;
    Walk->Steps[Walk->Depth] = Child;
    StringCopy(Walk->Path, ChildPath, sizeof(Walk->Path));
    Walk->PathLengths[Walk->Depth] = (U16)StringLength(ChildPath);
    return VFS_OK;
}

/** Replaces the symbolic link on top of the walk by its target, ahead of Rest. */
static VFS_STATUS VFSWalkFollow(VFS_WALK* Walk, LPCSTR Rest) {
    if (++Walk->Links > VFS_MAX_SYMLINK_DEPTH) return VFS_ERROR_LOOP;
    VFS_NODE* Link = &Walk->Steps[Walk->Depth];
    char* Target = Walk->Spare;
    VFS_STATUS Status = Link->Mount->FileSystem->ReadLink(Link->Mount->Volume, Link->Inode, Target, VFS_MAX_PATH);
    if (Status != VFS_OK) return Status;
    if (Target[0] == 0) return VFS_ERROR_NOT_FOUND;
    VFSWalkPop(Walk);
    if (Target[0] == '/') {
        Status = VFSWalkReset(Walk);
        if (Status != VFS_OK) return Status;
    }
    // Target and Rest meet in Spare, then move to Pending (Rest points into Pending; it is empty or starts
    // with '/', which a trailing slash keeps).
    SIZE TargetLength = StringLength(Target);
    SIZE RestLength = StringLength(Rest);
    if (TargetLength + RestLength + 1 > sizeof(Walk->Spare)) return VFS_ERROR_NAME_TOO_LONG;
    MemoryMove(Target + TargetLength, Rest, RestLength + 1);
    StringCopy(Walk->Pending, Target, sizeof(Walk->Pending));
    return VFS_OK;
}

VFS_STATUS VFSWalk(VFS_WALK* Walk, LPCSTR Path, U32 Flags) {
    if (Path == NULL || Path[0] == 0) return VFS_ERROR_NOT_FOUND;
    if (StringLengthBounded(Path, VFS_MAX_PATH) >= VFS_MAX_PATH) return VFS_ERROR_NAME_TOO_LONG;
    if (Path[0] == '/') StringCopy(Walk->Pending, Path, sizeof(Walk->Pending));
    else StringPrintFormat(Walk->Pending, sizeof(Walk->Pending), "%s/%s", VFSCurrentDirectory, Path);
    Walk->Links = 0;
    VFS_STATUS Status = VFSWalkReset(Walk);
    if (Status != VFS_OK) return Status;

    BOOL MustBeDirectory = FALSE;
    SIZE Cursor = 0;
    for (;;) {
        while (Walk->Pending[Cursor] == '/') Cursor++;
        if (Walk->Pending[Cursor] == 0) break;
        SIZE End = Cursor;
        while (Walk->Pending[End] != 0 && Walk->Pending[End] != '/') End++;
        SIZE After = End;
        while (Walk->Pending[After] == '/') After++;
        BOOL Last = Walk->Pending[After] == 0;
        BOOL Trailing = Last && Walk->Pending[End] == '/';
        SIZE Length = End - Cursor;
        if (Length > VFS_MAX_NAME) return VFS_ERROR_NAME_TOO_LONG;
        MemoryCopy(Walk->Name, Walk->Pending + Cursor, Length);
        Walk->Name[Length] = 0;
        Cursor = End;

        if (!VFS_IS_DIRECTORY(Walk->Steps[Walk->Depth].Mode)) return VFS_ERROR_NOT_DIRECTORY;
        if (StringCompare(Walk->Name, ".") == 0) continue;
        if (StringCompare(Walk->Name, "..") == 0) {
            VFSWalkPop(Walk);
            continue;
        }
        Status = VFSWalkPush(Walk, Flags);
        if (Status != VFS_OK) return Status;
        MustBeDirectory = Trailing;
        if (VFS_IS_SYMLINK(Walk->Steps[Walk->Depth].Mode) && (!Last || Trailing || (Flags & VFS_WALK_FOLLOW_LAST))) {
            Status = VFSWalkFollow(Walk, Walk->Pending + Cursor);
            if (Status != VFS_OK) return Status;
            Cursor = 0;
        }
    }
    if (MustBeDirectory && !VFS_IS_DIRECTORY(Walk->Steps[Walk->Depth].Mode)) return VFS_ERROR_NOT_DIRECTORY;
    return VFS_OK;
}

/**
 * Walks to the folder that holds Path's last name (links followed) and puts
 * the name in Walk->Name. "." and ".." as the last name give VFS_ERROR_INVALID,
 * the root VFS_ERROR_BUSY: callers turn these into what their call reports.
 */
VFS_STATUS VFSWalkParent(VFS_WALK* Walk, LPCSTR Path) {
    char Work[VFS_MAX_PATH];
    char Name[VFS_MAX_NAME + 1];
    if (Path == NULL || Path[0] == 0) return VFS_ERROR_NOT_FOUND;
    if (StringCopy(Work, Path, sizeof(Work)) >= sizeof(Work)) return VFS_ERROR_NAME_TOO_LONG;
    SIZE Length = StringLength(Work);
    while (Length > 1 && Work[Length - 1] == '/') Work[--Length] = 0;
    if (StringCompare(Work, "/") == 0) return VFS_ERROR_BUSY;
    SIZE Slash = Length;
    while (Slash > 0 && Work[Slash - 1] != '/') Slash--;
    if (Length - Slash > VFS_MAX_NAME) return VFS_ERROR_NAME_TOO_LONG;
    StringCopy(Name, Work + Slash, sizeof(Name));
    if (Slash == 0) StringCopy(Work, ".", sizeof(Work));
    else Work[Slash == 1 ? 1 : Slash - 1] = 0;
    VFS_STATUS Status = VFSWalk(Walk, Work, VFS_WALK_FOLLOW_LAST);
    if (Status != VFS_OK) return Status;
    if (!VFS_IS_DIRECTORY(Walk->Steps[Walk->Depth].Mode)) return VFS_ERROR_NOT_DIRECTORY;
    StringCopy(Walk->Name, Name, sizeof(Walk->Name));
    if (StringCompare(Name, ".") == 0 || StringCompare(Name, "..") == 0) return VFS_ERROR_INVALID;
    return VFS_OK;
}

VFS_WALK* VFSWalkAllocate(void) { return (VFS_WALK*)KernelHeapAlloc(sizeof(VFS_WALK)); }

VFS_NODE* VFSWalkTop(VFS_WALK* Walk) { return &Walk->Steps[Walk->Depth]; }

/** What a change to the name Walk->Name in the top folder may not do: touch a mount point or a synthetic folder. */
VFS_STATUS VFSCheckChangeable(VFS_WALK* Walk) {
    char ChildPath[VFS_MAX_PATH];
    if (!VFSJoin(Walk->Path, Walk->Name, ChildPath, sizeof(ChildPath))) return VFS_ERROR_NAME_TOO_LONG;
    if (VFSFindMount(ChildPath) != NULL) return VFS_ERROR_BUSY;
    VFS_NODE* Parent = VFSWalkTop(Walk);
    if (Parent->Mount == NULL) return VFSHasMountBelow(ChildPath) ? VFS_ERROR_BUSY : VFS_ERROR_READ_ONLY;
    if (Parent->Mount->ReadOnly) return VFS_ERROR_READ_ONLY;
    return VFS_OK;
}

/************************************************************************/
// Names

static void VFSStatOfNode(const VFS_NODE* Node, VFS_STAT* Stat) {
    MemorySet(Stat, 0, sizeof(*Stat));
    Stat->Mode = VFS_SYNTHETIC_MODE;
    Stat->Links = 2;
    Stat->BlockSize = 4096;
    UNUSED(Node);
}

static VFS_STATUS VFSStatPath(LPCSTR Path, VFS_STAT* Stat, U32 Flags) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, Flags);
    if (Status == VFS_OK) {
        VFS_NODE* Node = VFSWalkTop(Walk);
        if (Node->Mount == NULL) VFSStatOfNode(Node, Stat);
        else Status = Node->Mount->FileSystem->GetStat(Node->Mount->Volume, Node->Inode, Stat);
    }
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

VFS_STATUS VFSStat(LPCSTR Path, VFS_STAT* Stat) { return VFSStatPath(Path, Stat, VFS_WALK_FOLLOW_LAST); }

VFS_STATUS VFSLinkStat(LPCSTR Path, VFS_STAT* Stat) { return VFSStatPath(Path, Stat, 0); }

VFS_STATUS VFSReadLink(LPCSTR Path, LPSTR Buffer, SIZE Size) {
    if (Buffer == NULL || Size == 0) return VFS_ERROR_INVALID;
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, 0);
    VFS_NODE* Node = VFSWalkTop(Walk);
    if (Status == VFS_OK && !VFS_IS_SYMLINK(Node->Mode)) Status = VFS_ERROR_INVALID;
    if (Status == VFS_OK) {
        Status = Node->Mount->FileSystem->ReadLink(Node->Mount->Volume, Node->Inode, Buffer, (U32)MIN(Size, MAX_U32));
    }
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

VFS_STATUS VFSResolvePath(LPCSTR Path, BOOL FollowLast, LPSTR Result, SIZE ResultSize) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, FollowLast ? VFS_WALK_FOLLOW_LAST : 0);
    if (Status == VFS_OK && StringCopy(Result, Walk->Path, ResultSize) >= ResultSize) Status = VFS_ERROR_NAME_TOO_LONG;
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

LPCSTR VFSGetCurrentDirectory(void) { return VFSCurrentDirectory; }

VFS_STATUS VFSSetCurrentDirectory(LPCSTR Path) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST);
    if (Status == VFS_OK && !VFS_IS_DIRECTORY(VFSWalkTop(Walk)->Mode)) Status = VFS_ERROR_NOT_DIRECTORY;
    if (Status == VFS_OK) StringCopy(VFSCurrentDirectory, Walk->Path, sizeof(VFSCurrentDirectory));
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

#define VFS_CHANGE_MKDIR 0
#define VFS_CHANGE_RMDIR 1
#define VFS_CHANGE_UNLINK 2

/** The current folder, or one above it, may not be removed (the shell would be left nowhere). */
static VFS_STATUS VFSCheckNotCurrent(VFS_WALK* Walk) {
    char ChildPath[VFS_MAX_PATH];
    if (!VFSJoin(Walk->Path, Walk->Name, ChildPath, sizeof(ChildPath))) return VFS_ERROR_NAME_TOO_LONG;
    return VFSPathContains(ChildPath, VFSCurrentDirectory) ? VFS_ERROR_BUSY : VFS_OK;
}

/** The common frame of mkdir, rmdir and unlink: walk to the parent, check, call the driver. */
static VFS_STATUS VFSChangeName(LPCSTR Path, U32 Operation) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalkParent(Walk, Path);
    if (Status == VFS_ERROR_INVALID || Status == VFS_ERROR_BUSY) {
        // The last name is ".", ".." or the path is the root: name the refusal like Linux does.
        BOOL Dots = (Status == VFS_ERROR_INVALID) && StringCompare(Walk->Name, "..") == 0;
        if (Operation == VFS_CHANGE_MKDIR) Status = VFS_ERROR_EXISTS;
        else if (Operation == VFS_CHANGE_RMDIR && Status != VFS_ERROR_BUSY) Status = Dots ? VFS_ERROR_NOT_EMPTY : VFS_ERROR_INVALID;
        else if (Operation == VFS_CHANGE_UNLINK) Status = VFS_ERROR_IS_DIRECTORY;
    }
    if (Status == VFS_OK) {
        VFS_STATUS Changeable = VFSCheckChangeable(Walk);
        if (Changeable == VFS_ERROR_BUSY && Operation == VFS_CHANGE_MKDIR) Changeable = VFS_ERROR_EXISTS;
        if (Changeable == VFS_ERROR_BUSY && Operation == VFS_CHANGE_UNLINK) Changeable = VFS_ERROR_IS_DIRECTORY;
        if (Changeable == VFS_ERROR_READ_ONLY && Operation != VFS_CHANGE_MKDIR && VFSWalkTop(Walk)->Mount == NULL) {
            Changeable = VFS_ERROR_NOT_FOUND;  // nothing but mount points exists in a synthetic folder
        }
        if (Changeable == VFS_OK && Operation == VFS_CHANGE_RMDIR) Changeable = VFSCheckNotCurrent(Walk);
        Status = Changeable;
    }
    if (Status == VFS_OK) {
        VFS_NODE* Parent = VFSWalkTop(Walk);
        const VFS_FILE_SYSTEM* FileSystem = Parent->Mount->FileSystem;
        U64 Inode;
        if (Operation == VFS_CHANGE_MKDIR) {
            Status = FileSystem->Create(Parent->Mount->Volume, Parent->Inode, Walk->Name, VFS_TYPE_DIRECTORY | 0755,
                                        &Inode);
        } else if (Operation == VFS_CHANGE_RMDIR) {
            Status = FileSystem->RemoveDirectory(Parent->Mount->Volume, Parent->Inode, Walk->Name);
        } else {
            Status = FileSystem->Unlink(Parent->Mount->Volume, Parent->Inode, Walk->Name);
        }
    }
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

VFS_STATUS VFSMakeDirectory(LPCSTR Path) { return VFSChangeName(Path, VFS_CHANGE_MKDIR); }
VFS_STATUS VFSRemoveDirectory(LPCSTR Path) { return VFSChangeName(Path, VFS_CHANGE_RMDIR); }
VFS_STATUS VFSUnlink(LPCSTR Path) { return VFSChangeName(Path, VFS_CHANGE_UNLINK); }

/** A folder holding the current folder moved: the current folder's path follows it. */
static void VFSFollowRename(VFS_WALK* Old, VFS_WALK* New) {
    char From[VFS_MAX_PATH], To[VFS_MAX_PATH], Moved[VFS_MAX_PATH];
    if (!VFSJoin(Old->Path, Old->Name, From, sizeof(From)) || !VFSJoin(New->Path, New->Name, To, sizeof(To))) return;
    if (!VFSPathContains(From, VFSCurrentDirectory)) return;
    if (StringPrintFormat(Moved, sizeof(Moved), "%s%s", To, VFSCurrentDirectory + StringLength(From)) < sizeof(Moved)) {
        StringCopy(VFSCurrentDirectory, Moved, sizeof(VFSCurrentDirectory));
    }
}

VFS_STATUS VFSRename(LPCSTR OldPath, LPCSTR NewPath) {
    VFS_WALK* Old = VFSWalkAllocate();
    VFS_WALK* New = VFSWalkAllocate();
    VFS_STATUS Status = (Old && New) ? VFS_OK : VFS_ERROR_NO_MEMORY;
    if (Status == VFS_OK) {
        MutexLock(&VFSLock);
        Status = VFSWalkParent(Old, OldPath);
        if (Status == VFS_OK) Status = VFSWalkParent(New, NewPath);
        if (Status == VFS_OK) Status = VFSCheckChangeable(Old);
        if (Status == VFS_ERROR_READ_ONLY && VFSWalkTop(Old)->Mount == NULL) Status = VFS_ERROR_NOT_FOUND;
        if (Status == VFS_OK) {
            Status = VFSCheckChangeable(New);
            if (Status == VFS_ERROR_READ_ONLY && VFSWalkTop(New)->Mount == NULL) Status = VFS_ERROR_CROSS_DEVICE;
        }
        if (Status == VFS_OK && VFSWalkTop(Old)->Mount != VFSWalkTop(New)->Mount) Status = VFS_ERROR_CROSS_DEVICE;
        if (Status == VFS_OK) Status = VFSCheckNotCurrent(New);  // an empty folder replaced by a folder
        if (Status == VFS_OK) {
            VFS_MOUNT* Mount = VFSWalkTop(Old)->Mount;
            Status = Mount->FileSystem->Rename(Mount->Volume, VFSWalkTop(Old)->Inode, Old->Name, VFSWalkTop(New)->Inode,
                                               New->Name);
        }
        if (Status == VFS_OK) VFSFollowRename(Old, New);
        MutexUnlock(&VFSLock);
    }
    KernelHeapFree(Old);
    KernelHeapFree(New);
    return Status;
}

VFS_STATUS VFSTruncate(LPCSTR Path, U64 Size) {
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Path, VFS_OPEN_WRITE, &File);
    if (Status != VFS_OK) return Status;
    Status = VFSFileTruncate(File, Size);
    VFSClose(File);
    return Status;
}

/************************************************************************/
// Mounting

/** DiskFlush writes the disk's cache back (the partition's parent's) and flushes the device. */
static VFS_STATUS VFSFlushDisk(DISK* Disk) {
    KSTATUS Status = DiskFlush(Disk);
    // Read-only or disabled: nothing of ours to flush; a device without a flush has nothing to make durable.
    if (Status == KSTATUS_NO_PERMISSION || Status == KSTATUS_NOT_SUPPORTED) return VFS_OK;
    return VFSDiskStatus(Status, TRUE);
}

/** Room for one more mount: the table doubles when full (the heap is the only limit). */
static BOOL VFSReserveMount(void) {
    if (VFSMountTotal < VFSMountCapacity) return TRUE;
    U32 Capacity = VFSMountCapacity ? VFSMountCapacity * 2 : 16;
    VFS_MOUNT** Table = (VFS_MOUNT**)KernelHeapAllocZero(Capacity * sizeof(VFS_MOUNT*));
    if (Table == NULL) {
        WARNING("[VFSMount] no memory to grow the mount table past %u mounts", VFSMountCapacity);
        return FALSE;
    }
    if (VFSMountTotal) MemoryCopy(Table, VFSMounts, VFSMountTotal * sizeof(VFS_MOUNT*));
    KernelHeapFree(VFSMounts);
    VFSMounts = Table;
    VFSMountCapacity = Capacity;
    return TRUE;
}

static VFS_STATUS VFSMountLocked(VFS_WALK* Walk, DISK* Disk, LPCSTR Path, U32 Options) {
    BOOL ReadOnly = (Options & VFS_MOUNT_READ_ONLY) != 0;
    for (U32 I = 0; I < VFSMountTotal; I++) {
        if (VFSMounts[I]->Disk == Disk) return VFS_ERROR_BUSY;
    }
    if (!VFSReserveMount()) return VFS_ERROR_NO_MEMORY;
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST | VFS_WALK_VIRTUAL);
    if (Status != VFS_OK) return Status;
    if (!VFS_IS_DIRECTORY(VFSWalkTop(Walk)->Mode)) return VFS_ERROR_NOT_DIRECTORY;
    if (VFSFindMount(Walk->Path) != NULL) return VFS_ERROR_BUSY;

    const VFS_FILE_SYSTEM* FileSystem = NULL;
    for (U32 I = 0; I < VFSFileSystemTotal && FileSystem == NULL; I++) {
        if (VFSFileSystems[I]->Probe(Disk) == VFS_OK) FileSystem = VFSFileSystems[I];
    }
    if (FileSystem == NULL) return VFS_ERROR_WRONG_TYPE;
    VFS_MOUNT* Mount = (VFS_MOUNT*)KernelHeapAllocZero(sizeof(VFS_MOUNT));
    if (Mount == NULL) return VFS_ERROR_NO_MEMORY;
    Status = FileSystem->Mount(Disk, Options, &Mount->Volume, &Mount->RootInode);
    if (Status != VFS_OK) {
        KernelHeapFree(Mount);
        return Status;
    }
    StringCopy(Mount->Path, Walk->Path, sizeof(Mount->Path));
    Mount->Disk = Disk;
    Mount->FileSystem = FileSystem;
    // The driver may name the volume more precisely than itself (EXT2: ext2, ext3 or ext4).
    VFS_STATFS StatFs;
    BOOL Named = FileSystem->StatFs(Mount->Volume, &StatFs) == VFS_OK && StatFs.Type[0] != 0;
    StringCopy(Mount->Type, Named ? StatFs.Type : FileSystem->Name, sizeof(Mount->Type));
    Mount->ReadOnly = ReadOnly;
    Mount->Options = Options;
    VFSMounts[VFSMountTotal++] = Mount;
    return VFS_OK;
}

VFS_STATUS VFSMount(LPCSTR DiskName, LPCSTR Path, BOOL ReadOnly) {
    return VFSMountWithOptions(DiskName, Path, ReadOnly ? VFS_MOUNT_READ_ONLY : 0);
}

VFS_STATUS VFSMountWithOptions(LPCSTR DiskName, LPCSTR Path, U32 Options) {
    BOOL ReadOnly = (Options & VFS_MOUNT_READ_ONLY) != 0;
    DISK* Disk = DiskName ? DiskFind(DiskName) : NULL;
    if (Disk == NULL) return VFS_ERROR_NO_DEVICE;
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSMountLocked(Walk, Disk, Path, Options);
    if (Status == VFS_OK) DEBUG("[VFSMount] %s mounted at %s%s", Disk->Name, Walk->Path, ReadOnly ? " (read-only)" : "");
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

static void VFSRemoveMount(U32 Index) {
    KernelHeapFree(VFSMounts[Index]);
    for (U32 I = Index; I + 1 < VFSMountTotal; I++) VFSMounts[I] = VFSMounts[I + 1];
    VFSMounts[--VFSMountTotal] = NULL;
}

VFS_STATUS VFSUnmount(LPCSTR Path) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST);
    U32 Index = VFSMountTotal;
    for (U32 I = 0; Status == VFS_OK && I < VFSMountTotal; I++) {
        if (StringCompare(VFSMounts[I]->Path, Walk->Path) == 0) Index = I;
    }
    if (Status == VFS_OK && Index == VFSMountTotal) Status = VFS_ERROR_INVALID;  // not a mount point
    if (Status == VFS_OK) {
        VFS_MOUNT* Mount = VFSMounts[Index];
        if (Mount->OpenCount > 0 || VFSHasMountBelow(Mount->Path) ||
            VFSPathContains(Mount->Path, VFSCurrentDirectory)) {
            Status = VFS_ERROR_BUSY;
        } else {
            Status = Mount->FileSystem->Unmount(Mount->Volume);
            VFS_STATUS FlushStatus = VFSFlushDisk(Mount->Disk);
            if (Status == VFS_OK) Status = FlushStatus;
            DEBUG("[VFSUnmount] %s unmounted from %s", Mount->Disk->Name, Mount->Path);
            VFSRemoveMount(Index);
        }
    }
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

VFS_STATUS VFSSyncAll(void) {
    VFS_STATUS Result = VFS_OK;
    MutexLock(&VFSLock);
    for (U32 I = 0; I < VFSMountTotal; I++) {
        VFS_STATUS Status = VFSMounts[I]->FileSystem->Sync(VFSMounts[I]->Volume);
        VFS_STATUS FlushStatus = VFSFlushDisk(VFSMounts[I]->Disk);
        if (Status == VFS_OK) Status = FlushStatus;
        if (Status != VFS_OK && Status != VFS_ERROR_READ_ONLY && Result == VFS_OK) Result = Status;
    }
    MutexUnlock(&VFSLock);
    return Result;
}

U32 VFSGetMountCount(void) { return VFSMountTotal; }

static VFS_STATUS VFSDescribeMount(VFS_MOUNT* Mount, VFS_MOUNT_INFO* Info, VFS_STATFS* StatFs) {
    if (Info) {
        MemorySet(Info, 0, sizeof(*Info));
        StringCopy(Info->Path, Mount->Path, sizeof(Info->Path));
        StringCopy(Info->Device, Mount->Disk->Name, sizeof(Info->Device));
        StringCopy(Info->Type, Mount->Type, sizeof(Info->Type));
        // Read-only when mounted so, or when the disk (or one below it) no longer takes writes.
        Info->ReadOnly = Mount->ReadOnly || !DiskAccessAllows(Mount->Disk, TRUE);
        Info->Options = Mount->Options;
    }
    if (StatFs == NULL) return VFS_OK;
    VFS_STATUS Status = Mount->FileSystem->StatFs(Mount->Volume, StatFs);
    if (Status == VFS_OK && Info) Info->ReadOnly |= StatFs->ReadOnly;
    return Status;
}

VFS_STATUS VFSGetMountInfo(U32 Index, VFS_MOUNT_INFO* Info, VFS_STATFS* StatFs) {
    MutexLock(&VFSLock);
    VFS_STATUS Status = Index < VFSMountTotal ? VFSDescribeMount(VFSMounts[Index], Info, StatFs) : VFS_ERROR_NOT_FOUND;
    MutexUnlock(&VFSLock);
    return Status;
}

VFS_STATUS VFSStatFs(LPCSTR Path, VFS_STATFS* StatFs, VFS_MOUNT_INFO* Info) {
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST);
    if (Status == VFS_OK && VFSWalkTop(Walk)->Mount == NULL) Status = VFS_ERROR_NOT_SUPPORTED;
    if (Status == VFS_OK) Status = VFSDescribeMount(VFSWalkTop(Walk)->Mount, Info, StatFs);
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

/************************************************************************/
// Start-up and the automatic mounts

static void VFSDiskListener(DISK* Disk, LPVOID Context) {
    UNUSED(Context);
    DISK_INFO Info;
    if (DiskGetInfo(Disk, &Info) != KSTATUS_SUCCESS) return;
    // Partitions only: a whole disk with a partition table must not be mounted beside its partitions.
    if (Info.Type != DISK_TYPE_PARTITION && Disk->Parent == NULL) return;
    char Path[VFS_MAX_PATH];
    StringPrintFormat(Path, sizeof(Path), "/mnt/%s", Disk->Name);
    VFS_STATUS Status = VFSMount(Disk->Name, Path, FALSE);
    if (Status == VFS_OK) {
        INFO("[VFSDiskListener] %s mounted at %s", Disk->Name, Path);
    } else if (Status == VFS_ERROR_WRONG_TYPE) {
        DEBUG("[VFSDiskListener] %s: no known file system", Disk->Name);
    } else if (Status == VFS_ERROR_INVALID || Status == VFS_ERROR_NOT_SUPPORTED) {
        // The file system driver has already said why, in one line.
        DEBUG("[VFSDiskListener] %s: not mounted at %s: %s", Disk->Name, Path, VFSErrorString(Status));
    } else {
        WARNING("[VFSDiskListener] %s: not mounted at %s: %s", Disk->Name, Path, VFSErrorString(Status));
    }
}

void VFSInit(void) {
    RTCCurrentTime();  // reads the RTC once, now, rather than in the middle of a disk operation
    VFSRegisterFileSystem(&EXT2FileSystem);
    DiskAddListener(VFSDiskListener, NULL);
}

#ifdef CAIRN_HOST_BUILD
void VFSHostReset(void) {
    MutexLock(&VFSLock);
    while (VFSMountTotal > 0) {
        VFS_MOUNT* Mount = VFSMounts[VFSMountTotal - 1];
        Mount->FileSystem->Unmount(Mount->Volume);
        VFSRemoveMount(VFSMountTotal - 1);
    }
    StringCopy(VFSCurrentDirectory, "/", sizeof(VFSCurrentDirectory));
    MutexUnlock(&VFSLock);
}

LPVOID VFSHostVolume(LPCSTR Path) {
    LPVOID Volume = NULL;
    MutexLock(&VFSLock);
    for (U32 I = 0; I < VFSMountTotal; I++) {
        if (StringCompare(VFSMounts[I]->Path, Path) == 0) Volume = VFSMounts[I]->Volume;
    }
    MutexUnlock(&VFSLock);
    return Volume;
}
#endif

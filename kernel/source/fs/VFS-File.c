/*
 * VFS-File.c - open files and open folders (see VFS.h).
 *
 * A VFS_FILE is a mount, an inode, a position and the open flags; a
 * VFS_DIRECTORY is a mount (NULL for a synthetic folder), an inode and the
 * driver's cursor. Both count against their mount (OpenCount), so the volume
 * cannot be unmounted while they exist, and both are checked by a magic
 * number so a stale or foreign pointer gives VFS_ERROR_BAD_HANDLE instead of
 * a fault. Each call takes VFSLock for its duration.
 *
 * VFSDirectSource makes an open file a source for block/DirectRead.h: the
 * driver's MapExtents says where its bytes are, its Read serves the pieces
 * that must go through the cache; each callback takes VFSLock on its own,
 * so a reader's disk requests run without it.
 */

#include "fs/VFS-Internal.h"

#include "memory/Heap.h"
#include "utils/String.h"

/************************************************************************/
// Open files

static VFS_STATUS VFSOpenLocked(VFS_WALK* Walk, LPCSTR Path, U32 Flags, VFS_FILE** Result) {
    BOOL Writing = (Flags & (VFS_OPEN_WRITE | VFS_OPEN_TRUNCATE | VFS_OPEN_APPEND)) != 0;
    VFS_NODE Node;
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST);
    if (Status == VFS_OK) {
        Node = *VFSWalkTop(Walk);
        if ((Flags & VFS_OPEN_CREATE) && (Flags & VFS_OPEN_EXCLUSIVE)) return VFS_ERROR_EXISTS;
        if (VFS_IS_DIRECTORY(Node.Mode)) return VFS_ERROR_IS_DIRECTORY;
        if (!VFS_IS_REGULAR(Node.Mode)) return VFS_ERROR_NOT_SUPPORTED;
        if (Writing && Node.Mount->ReadOnly) return VFS_ERROR_READ_ONLY;
        if ((Flags & VFS_OPEN_TRUNCATE) && (Flags & VFS_OPEN_WRITE)) {
            Status = Node.Mount->FileSystem->Truncate(Node.Mount->Volume, Node.Inode, 0);
            if (Status != VFS_OK) return Status;
        }
    } else if (Status == VFS_ERROR_NOT_FOUND && (Flags & VFS_OPEN_CREATE)) {
        Status = VFSWalkParent(Walk, Path);
        if (Status == VFS_ERROR_INVALID || Status == VFS_ERROR_BUSY) return VFS_ERROR_IS_DIRECTORY;
        if (Status == VFS_OK) Status = VFSCheckChangeable(Walk);
        if (Status == VFS_ERROR_BUSY) return VFS_ERROR_IS_DIRECTORY;
        if (Status != VFS_OK) return Status;
        VFS_NODE* Parent = VFSWalkTop(Walk);
        Node.Mount = Parent->Mount;
        Node.Mode = VFS_TYPE_REGULAR | 0644;
        Status = Node.Mount->FileSystem->Create(Node.Mount->Volume, Parent->Inode, Walk->Name, Node.Mode, &Node.Inode);
        if (Status != VFS_OK) return Status;
    } else {
        return Status;
    }
    VFS_FILE* File = (VFS_FILE*)KernelHeapAllocZero(sizeof(VFS_FILE));
    if (File == NULL) return VFS_ERROR_NO_MEMORY;
    File->Magic = VFS_FILE_MAGIC;
    File->Mount = Node.Mount;
    File->Inode = Node.Inode;
    File->Flags = Flags;
    Node.Mount->OpenCount++;
    *Result = File;
    return VFS_OK;
}

VFS_STATUS VFSOpen(LPCSTR Path, U32 Flags, VFS_FILE** File) {
    if (File == NULL) return VFS_ERROR_INVALID;
    *File = NULL;
    if ((Flags & (VFS_OPEN_READ | VFS_OPEN_WRITE)) == 0) return VFS_ERROR_INVALID;
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSOpenLocked(Walk, Path, Flags, File);
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

static BOOL VFSFileValid(VFS_FILE* File) { return File != NULL && File->Magic == VFS_FILE_MAGIC; }

VFS_STATUS VFSRead(VFS_FILE* File, LPVOID Buffer, U32 Length, U32* Done) {
    *Done = 0;
    if (!VFSFileValid(File) || !(File->Flags & VFS_OPEN_READ)) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&VFSLock);
    VFS_STATUS Status =
        File->Mount->FileSystem->Read(File->Mount->Volume, File->Inode, File->Position, Buffer, Length, Done);
    File->Position += *Done;
    MutexUnlock(&VFSLock);
    return Status;
}

VFS_STATUS VFSWrite(VFS_FILE* File, LPCVOID Buffer, U32 Length, U32* Done) {
    *Done = 0;
    if (!VFSFileValid(File) || !(File->Flags & VFS_OPEN_WRITE)) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFS_OK;
    if (File->Flags & VFS_OPEN_APPEND) {
        VFS_STAT Stat;
        Status = File->Mount->FileSystem->GetStat(File->Mount->Volume, File->Inode, &Stat);
        if (Status == VFS_OK) File->Position = Stat.Size;
    }
    if (Status == VFS_OK) {
        Status = File->Mount->FileSystem->Write(File->Mount->Volume, File->Inode, File->Position, Buffer, Length, Done);
        File->Position += *Done;
    }
    MutexUnlock(&VFSLock);
    return Status;
}

VFS_STATUS VFSSeek(VFS_FILE* File, U64 Position) {
    if (!VFSFileValid(File)) return VFS_ERROR_BAD_HANDLE;
    File->Position = Position;
    return VFS_OK;
}

U64 VFSTell(VFS_FILE* File) { return VFSFileValid(File) ? File->Position : 0; }

VFS_STATUS VFSFileStat(VFS_FILE* File, VFS_STAT* Stat) {
    if (!VFSFileValid(File)) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&VFSLock);
    VFS_STATUS Status = File->Mount->FileSystem->GetStat(File->Mount->Volume, File->Inode, Stat);
    MutexUnlock(&VFSLock);
    return Status;
}

VFS_STATUS VFSFileTruncate(VFS_FILE* File, U64 Size) {
    if (!VFSFileValid(File) || !(File->Flags & VFS_OPEN_WRITE)) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&VFSLock);
    VFS_STATUS Status = File->Mount->FileSystem->Truncate(File->Mount->Volume, File->Inode, Size);
    MutexUnlock(&VFSLock);
    return Status;
}

void VFSClose(VFS_FILE* File) {
    if (!VFSFileValid(File)) return;
    MutexLock(&VFSLock);
    if (File->Mount->OpenCount > 0) File->Mount->OpenCount--;
    File->Magic = 0;
    MutexUnlock(&VFSLock);
    KernelHeapFree(File);
}

/************************************************************************/
// Open folders

VFS_STATUS VFSOpenDirectory(LPCSTR Path, VFS_DIRECTORY** Result) {
    *Result = NULL;
    VFS_WALK* Walk = VFSWalkAllocate();
    if (Walk == NULL) return VFS_ERROR_NO_MEMORY;
    MutexLock(&VFSLock);
    VFS_STATUS Status = VFSWalk(Walk, Path, VFS_WALK_FOLLOW_LAST);
    VFS_NODE* Node = VFSWalkTop(Walk);
    if (Status == VFS_OK && !VFS_IS_DIRECTORY(Node->Mode)) Status = VFS_ERROR_NOT_DIRECTORY;
    if (Status == VFS_OK) {
        VFS_DIRECTORY* Directory = (VFS_DIRECTORY*)KernelHeapAllocZero(sizeof(VFS_DIRECTORY));
        if (Directory == NULL) {
            Status = VFS_ERROR_NO_MEMORY;
        } else {
            Directory->Magic = VFS_DIRECTORY_MAGIC;
            Directory->Mount = Node->Mount;
            Directory->Inode = Node->Inode;
            StringCopy(Directory->Path, Walk->Path, sizeof(Directory->Path));
            if (Node->Mount) Node->Mount->OpenCount++;
            *Result = Directory;
        }
    }
    MutexUnlock(&VFSLock);
    KernelHeapFree(Walk);
    return Status;
}

/** Synthetic folders list ".", "..", then the next name of each mount path below them (once each). */
static VFS_STATUS VFSReadSynthetic(VFS_DIRECTORY* Directory, VFS_DIRECTORY_ENTRY* Entry, BOOL* End) {
    MemorySet(Entry, 0, sizeof(*Entry));
    Entry->Type = VFS_TYPE_DIRECTORY;
    if (Directory->Cursor < 2) {
        StringCopy(Entry->Name, Directory->Cursor == 0 ? "." : "..", sizeof(Entry->Name));
        Directory->Cursor++;
        return VFS_OK;
    }
    SIZE Prefix = StringCompare(Directory->Path, "/") == 0 ? 1 : StringLength(Directory->Path) + 1;
    while (Directory->Cursor - 2 < VFSMountTotal) {
        U32 Index = (U32)(Directory->Cursor - 2);
        Directory->Cursor++;
        LPCSTR MountPath = VFSMounts[Index]->Path;
        if (StringCompare(MountPath, Directory->Path) == 0 || !VFSPathContains(Directory->Path, MountPath)) continue;
        SIZE Length = 0;
        while (MountPath[Prefix + Length] && MountPath[Prefix + Length] != '/') Length++;
        BOOL Seen = FALSE;
        for (U32 Earlier = 0; Earlier < Index && !Seen; Earlier++) {
            LPCSTR Other = VFSMounts[Earlier]->Path;
            Seen = StringCompare(Other, Directory->Path) != 0 && VFSPathContains(Directory->Path, Other) &&
                   StringCompareBounded(Other + Prefix, MountPath + Prefix, Length) == 0 &&
                   (Other[Prefix + Length] == 0 || Other[Prefix + Length] == '/');
        }
        if (Seen || Length == 0 || Length > VFS_MAX_NAME) continue;
        MemoryCopy(Entry->Name, MountPath + Prefix, Length);
        Entry->Name[Length] = 0;
        return VFS_OK;
    }
    *End = TRUE;
    return VFS_OK;
}

VFS_STATUS VFSReadDirectory(VFS_DIRECTORY* Directory, VFS_DIRECTORY_ENTRY* Entry, BOOL* End) {
    *End = FALSE;
    if (Directory == NULL || Directory->Magic != VFS_DIRECTORY_MAGIC) return VFS_ERROR_BAD_HANDLE;
    MutexLock(&VFSLock);
    VFS_STATUS Status;
    if (Directory->Mount == NULL) {
        Status = VFSReadSynthetic(Directory, Entry, End);
    } else {
        Status = Directory->Mount->FileSystem->ReadDirectory(Directory->Mount->Volume, Directory->Inode,
                                                             &Directory->Cursor, Entry, End);
    }
    MutexUnlock(&VFSLock);
    return Status;
}

void VFSCloseDirectory(VFS_DIRECTORY* Directory) {
    if (Directory == NULL || Directory->Magic != VFS_DIRECTORY_MAGIC) return;
    MutexLock(&VFSLock);
    if (Directory->Mount && Directory->Mount->OpenCount > 0) Directory->Mount->OpenCount--;
    Directory->Magic = 0;
    MutexUnlock(&VFSLock);
    KernelHeapFree(Directory);
}


/************************************************************************/
// Direct reads: an open file as a DIRECT_SOURCE

static KSTATUS VFSDirectStatus(VFS_STATUS Status) {
    switch (Status) {
        case VFS_OK: return KSTATUS_SUCCESS;
        case VFS_ERROR_NO_MEMORY: return KSTATUS_NO_MEMORY;
        default: return KSTATUS_IO_ERROR;
    }
}

static KSTATUS VFSDirectMap(LPVOID Context, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max, U32* Count) {
    VFS_FILE* File = (VFS_FILE*)Context;
    *Count = 0;
    if (!VFSFileValid(File) || Max == 0) return KSTATUS_BAD_PARAMETER;
    const VFS_FILE_SYSTEM* FileSystem = File->Mount->FileSystem;
    if (FileSystem->MapExtents == NULL) {
        Extents[0] = (DIRECT_EXTENT){DIRECT_EXTENT_COPY, Length, 0};
        *Count = 1;
        return KSTATUS_SUCCESS;
    }
    MutexLock(&VFSLock);
    VFS_STATUS Status = FileSystem->MapExtents(File->Mount->Volume, File->Inode, Offset, Length, Extents, Max, Count);
    MutexUnlock(&VFSLock);
    return VFSDirectStatus(Status);
}

/** The cached path for a piece: the driver's Read at Offset (the file position stays); past the end, zeros. */
static KSTATUS VFSDirectCopy(LPVOID Context, U64 Offset, U32 Length, U8* Buffer) {
    VFS_FILE* File = (VFS_FILE*)Context;
    if (!VFSFileValid(File)) return KSTATUS_BAD_PARAMETER;
    U32 Done = 0;
    VFS_STATUS Status = VFS_OK;
    MutexLock(&VFSLock);
    while (Done < Length && Status == VFS_OK) {
        U32 Part = 0;
        Status = File->Mount->FileSystem->Read(File->Mount->Volume, File->Inode, Offset + Done, Buffer + Done,
                                               Length - Done, &Part);
        if (Part == 0) break;
        Done += Part;
    }
    MutexUnlock(&VFSLock);
    if (Done < Length) MemorySet(Buffer + Done, 0, Length - Done);  // the file shrank meanwhile
    return VFSDirectStatus(Status);
}

VFS_STATUS VFSDirectSource(VFS_FILE* File, DIRECT_SOURCE* Source, U64* Size) {
    if (!VFSFileValid(File) || !(File->Flags & VFS_OPEN_READ)) return VFS_ERROR_BAD_HANDLE;
    VFS_STAT Stat;
    VFS_STATUS Status = VFSFileStat(File, &Stat);
    if (Status != VFS_OK) return Status;
    *Source = (DIRECT_SOURCE){File->Mount->Disk, File, VFSDirectMap, VFSDirectCopy};
    *Size = Stat.Size;
    return VFS_OK;
}

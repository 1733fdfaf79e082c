/*
 * EXT2-Names.c - EXT2 operations on names: create (files and folders),
 * unlink, rmdir and rename.
 *
 * Each operation checks everything that can refuse it (names, types, empty
 * folders, free space in the folder) before it changes anything, and does
 * the one step that can run out of space (adding an entry, which may need a
 * new folder block) before removing anything, so a refusal or a full disk
 * leaves the volume as it was. Link counts follow the POSIX model e2fsck
 * checks: a file has one link per entry naming it; a folder has one from its
 * parent's entry, one from its own ".", and one from each child's "..".
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/String.h"

static VFS_STATUS EXT2CheckName(LPCSTR Name, U32* Length) {
    SIZE Size = StringLengthBounded(Name, EXT2_NAME_LENGTH + 1);
    if (Size == 0) return VFS_ERROR_INVALID;
    if (Size > EXT2_NAME_LENGTH) return VFS_ERROR_NAME_TOO_LONG;
    if (StringFindChar(Name, '/') != NULL) return VFS_ERROR_INVALID;
    if (StringCompare(Name, ".") == 0 || StringCompare(Name, "..") == 0) return VFS_ERROR_INVALID;
    *Length = (U32)Size;
    return VFS_OK;
}

/** Reads a folder named by the VFS; VFS_ERROR_NOT_DIRECTORY if it is something else. */
static VFS_STATUS EXT2ReadFolder(EXT2_VOLUME* Volume, U64 Number, EXT2_INODE* Inode) {
    if (Number == 0 || Number > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2ReadLiveInode(Volume, (U32)Number, Inode);
    if (Status != VFS_OK) return Status;
    return VFS_IS_DIRECTORY(Inode->Mode) ? VFS_OK : VFS_ERROR_NOT_DIRECTORY;
}

static void EXT2DropLink(EXT2_INODE* Inode) {
    if (Inode->LinksCount > 0) Inode->LinksCount--;
}

/************************************************************************/

static VFS_STATUS EXT2CreateLocked(EXT2_VOLUME* Volume, U32 DirectoryNumber, LPCSTR Name, U32 Length, U32 Mode,
                                   U64* Result) {
    EXT2_INODE Directory;
    EXT2_DIR_SLOT Slot;
    VFS_STATUS Status = EXT2ReadFolder(Volume, DirectoryNumber, &Directory);
    if (Status != VFS_OK) return Status;
    Status = EXT2DirFind(Volume, &Directory, Name, Length, &Slot);
    if (Status == VFS_OK) return VFS_ERROR_EXISTS;
    if (Status != VFS_ERROR_NOT_FOUND) return Status;

    BOOL Folder = VFS_IS_DIRECTORY(Mode);
    if (!Folder && !VFS_IS_REGULAR(Mode)) return VFS_ERROR_NOT_SUPPORTED;
    if (Folder && Directory.LinksCount >= EXT2_LINK_MAX) return VFS_ERROR_TOO_MANY_LINKS;
    U32 Number;
    Status = EXT2AllocateInode(Volume, DirectoryNumber, Folder, &Number);
    if (Status != VFS_OK) return Status;

    EXT2_INODE Inode;
    MemorySet(&Inode, 0, sizeof(Inode));
    Inode.Mode = (U16)Mode;
    Inode.LinksCount = Folder ? 2 : 1;
    Inode.Generation = Number * 2654435761U ^ EXT2Now();
    if (Volume->InodeSize > EXT2_GOOD_OLD_INODE_SIZE) {
        Inode.ExtraSize = (U16)MIN((U32)EXT2_INODE_EXTRA_SIZE, Volume->InodeSize - EXT2_GOOD_OLD_INODE_SIZE);
        if (Inode.ExtraSize >= 24) Inode.CreationTime = EXT2Now();
    }
    EXT2Touch(Volume, &Inode, EXT2_TOUCH_ACCESS | EXT2_TOUCH_MODIFY | EXT2_TOUCH_CHANGE);
    if (Folder) Status = EXT2DirInitialize(Volume, Number, &Inode, DirectoryNumber);
    if (Status == VFS_OK) Status = EXT2WriteNewInode(Volume, Number, &Inode);
    if (Status == VFS_OK) Status = EXT2DirAdd(Volume, DirectoryNumber, &Directory, Name, Length, Number, Mode);
    if (Status != VFS_OK) {
        // Undo: the inode and its first folder block go back (DeleteInode frees both).
        if (EXT2DeleteInode(Volume, Number, &Inode) != VFS_OK) EXT2FreeInode(Volume, Number, Folder);
        return Status;
    }
    if (Folder) {
        Directory.LinksCount++;
        Status = EXT2WriteInode(Volume, DirectoryNumber, &Directory);
    }
    *Result = Number;
    return Status;
}

VFS_STATUS EXT2Create(LPVOID Handle, U64 DirectoryNumber, LPCSTR Name, U32 Mode, U64* Inode) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    U32 Length = 0;
    VFS_STATUS Status = EXT2CheckName(Name, &Length);
    if (Status != VFS_OK) return Status;
    if ((Mode & VFS_TYPE_MASK) == 0) Mode |= VFS_TYPE_REGULAR;
    Status = EXT2Begin(Volume, TRUE);
    if (Status != VFS_OK) return Status;
    Status = EXT2CreateLocked(Volume, (U32)MIN(DirectoryNumber, (U64)MAX_U32), Name, Length, Mode & 0xFFFF, Inode);
    return EXT2End(Volume, Status);
}

/************************************************************************/

static VFS_STATUS EXT2RemoveLocked(EXT2_VOLUME* Volume, U32 DirectoryNumber, LPCSTR Name, U32 Length, BOOL Folder) {
    EXT2_INODE Directory, Target;
    EXT2_DIR_SLOT Slot;
    VFS_STATUS Status = EXT2ReadFolder(Volume, DirectoryNumber, &Directory);
    if (Status != VFS_OK) return Status;
    Status = EXT2DirFind(Volume, &Directory, Name, Length, &Slot);
    if (Status != VFS_OK) return Status;
    Status = EXT2ReadLiveInode(Volume, Slot.Inode, &Target);
    if (Status != VFS_OK) return Status;
    BOOL TargetIsFolder = VFS_IS_DIRECTORY(Target.Mode);
    if (Folder && !TargetIsFolder) return VFS_ERROR_NOT_DIRECTORY;
    if (!Folder && TargetIsFolder) return VFS_ERROR_IS_DIRECTORY;
    if (Folder) {
        if (Slot.Inode == EXT2_ROOT_INODE || Slot.Inode == DirectoryNumber) {
            return EXT2Corrupt(Volume, "folder %u names its own ancestor %u", DirectoryNumber, Slot.Inode);
        }
        BOOL Empty;
        Status = EXT2DirIsEmpty(Volume, &Target, &Empty);
        if (Status != VFS_OK) return Status;
        if (!Empty) return VFS_ERROR_NOT_EMPTY;
    }

    Status = EXT2DirRemove(Volume, DirectoryNumber, &Directory, &Slot);
    if (Status != VFS_OK) return Status;
    if (Folder) {
        EXT2DropLink(&Directory);  // the child's ".." is gone
        Status = EXT2WriteInode(Volume, DirectoryNumber, &Directory);
        if (Status != VFS_OK) return Status;
        Target.LinksCount = 0;
    } else {
        EXT2DropLink(&Target);
    }
    EXT2Touch(Volume, &Target, EXT2_TOUCH_CHANGE);
    if (Target.LinksCount == 0) return EXT2DeleteInode(Volume, Slot.Inode, &Target);
    return EXT2WriteInode(Volume, Slot.Inode, &Target);
}

static VFS_STATUS EXT2Remove(LPVOID Handle, U64 DirectoryNumber, LPCSTR Name, BOOL Folder) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    U32 Length = 0;
    VFS_STATUS Status = EXT2CheckName(Name, &Length);
    if (Status != VFS_OK) return Status;
    Status = EXT2Begin(Volume, TRUE);
    if (Status != VFS_OK) return Status;
    Status = EXT2RemoveLocked(Volume, (U32)MIN(DirectoryNumber, (U64)MAX_U32), Name, Length, Folder);
    return EXT2End(Volume, Status);
}

VFS_STATUS EXT2Unlink(LPVOID Handle, U64 Directory, LPCSTR Name) { return EXT2Remove(Handle, Directory, Name, FALSE); }

VFS_STATUS EXT2RemoveDirectory(LPVOID Handle, U64 Directory, LPCSTR Name) {
    return EXT2Remove(Handle, Directory, Name, TRUE);
}

/************************************************************************/

#define EXT2_MAX_FOLDER_DEPTH 4096  // ".." steps before a folder chain counts as a loop

/** VFS_ERROR_INVALID when Folder is Ancestor or lies below it (following ".." up to the root). */
static VFS_STATUS EXT2CheckNotInside(EXT2_VOLUME* Volume, U32 Folder, U32 Ancestor) {
    U32 Current = Folder;
    for (U32 Steps = 0; Current != EXT2_ROOT_INODE; Steps++) {
        if (Current == Ancestor) return VFS_ERROR_INVALID;
        if (Steps >= EXT2_MAX_FOLDER_DEPTH) return EXT2Corrupt(Volume, "folder %u: \"..\" chain loops", Folder);
        EXT2_INODE Inode;
        EXT2_DIR_SLOT Slot;
        VFS_STATUS Status = EXT2ReadFolder(Volume, Current, &Inode);
        if (Status == VFS_ERROR_NOT_DIRECTORY) return EXT2Corrupt(Volume, "\"..\" of a folder names a file");
        if (Status != VFS_OK) return Status;
        Status = EXT2DirFind(Volume, &Inode, "..", 2, &Slot);
        if (Status == VFS_ERROR_NOT_FOUND) return EXT2Corrupt(Volume, "folder %u has no \"..\"", Current);
        if (Status != VFS_OK) return Status;
        Current = Slot.Inode;
    }
    return Ancestor == EXT2_ROOT_INODE ? VFS_ERROR_INVALID : VFS_OK;
}

static VFS_STATUS EXT2RenameLocked(EXT2_VOLUME* Volume, U32 OldNumber, LPCSTR OldName, U32 OldLength, U32 NewNumber,
                                   LPCSTR NewName, U32 NewLength) {
    EXT2_INODE OldFolder, NewFolderCopy, Source, Target;
    EXT2_DIR_SLOT SourceSlot, TargetSlot, DotDot;
    VFS_STATUS Status = EXT2ReadFolder(Volume, OldNumber, &OldFolder);
    if (Status != VFS_OK) return Status;
    EXT2_INODE* NewFolder = &OldFolder;
    if (NewNumber != OldNumber) {
        Status = EXT2ReadFolder(Volume, NewNumber, &NewFolderCopy);
        if (Status != VFS_OK) return Status;
        NewFolder = &NewFolderCopy;
    }
    Status = EXT2DirFind(Volume, &OldFolder, OldName, OldLength, &SourceSlot);
    if (Status != VFS_OK) return Status;
    U32 SourceNumber = SourceSlot.Inode;
    Status = EXT2ReadLiveInode(Volume, SourceNumber, &Source);
    if (Status != VFS_OK) return Status;
    BOOL SourceIsFolder = VFS_IS_DIRECTORY(Source.Mode);
    BOOL Moving = SourceIsFolder && NewNumber != OldNumber;
    if (Moving) {
        Status = EXT2CheckNotInside(Volume, NewNumber, SourceNumber);
        if (Status != VFS_OK) return Status;
    }

    Status = EXT2DirFind(Volume, NewFolder, NewName, NewLength, &TargetSlot);
    if (Status == VFS_OK) {
        if (TargetSlot.Inode == SourceNumber) return VFS_OK;  // two names of one file: nothing to do
        Status = EXT2ReadLiveInode(Volume, TargetSlot.Inode, &Target);
        if (Status != VFS_OK) return Status;
        BOOL TargetIsFolder = VFS_IS_DIRECTORY(Target.Mode);
        if (SourceIsFolder && !TargetIsFolder) return VFS_ERROR_NOT_DIRECTORY;
        if (!SourceIsFolder && TargetIsFolder) return VFS_ERROR_IS_DIRECTORY;
        if (TargetIsFolder) {
            BOOL Empty;
            Status = EXT2DirIsEmpty(Volume, &Target, &Empty);
            if (Status != VFS_OK) return Status;
            if (!Empty) return VFS_ERROR_NOT_EMPTY;
        }
        Status = EXT2DirRetarget(Volume, NewNumber, NewFolder, &TargetSlot, SourceNumber, Source.Mode);
        if (Status != VFS_OK) return Status;
        if (TargetIsFolder) {
            Target.LinksCount = 0;
            EXT2DropLink(NewFolder);  // the replaced folder's ".."
        } else {
            EXT2DropLink(&Target);
        }
        EXT2Touch(Volume, &Target, EXT2_TOUCH_CHANGE);
        Status = Target.LinksCount == 0 ? EXT2DeleteInode(Volume, TargetSlot.Inode, &Target)
                                        : EXT2WriteInode(Volume, TargetSlot.Inode, &Target);
        if (Status != VFS_OK) return Status;
    } else if (Status == VFS_ERROR_NOT_FOUND) {
        if (Moving && NewFolder->LinksCount >= EXT2_LINK_MAX) return VFS_ERROR_TOO_MANY_LINKS;
        Status = EXT2DirAdd(Volume, NewNumber, NewFolder, NewName, NewLength, SourceNumber, Source.Mode);
        if (Status != VFS_OK) return Status;
    } else {
        return Status;
    }

    // The old name goes last; adding may have split its record, so find it again.
    Status = EXT2DirFind(Volume, &OldFolder, OldName, OldLength, &SourceSlot);
    if (Status == VFS_OK && SourceSlot.Inode != SourceNumber) Status = VFS_ERROR_NOT_FOUND;
    if (Status != VFS_OK) return EXT2Corrupt(Volume, "renamed entry vanished from folder %u", OldNumber);
    Status = EXT2DirRemove(Volume, OldNumber, &OldFolder, &SourceSlot);
    if (Status != VFS_OK) return Status;

    EXT2Touch(Volume, &Source, EXT2_TOUCH_CHANGE);
    if (Moving) {
        Status = EXT2DirFind(Volume, &Source, "..", 2, &DotDot);
        if (Status == VFS_ERROR_NOT_FOUND) Status = EXT2Corrupt(Volume, "folder %u has no \"..\"", SourceNumber);
        if (Status == VFS_OK) Status = EXT2DirRetarget(Volume, SourceNumber, &Source, &DotDot, NewNumber, Source.Mode);
        if (Status != VFS_OK) return Status;
        EXT2DropLink(&OldFolder);
        NewFolder->LinksCount++;
    }
    Status = EXT2WriteInode(Volume, SourceNumber, &Source);
    if (Status == VFS_OK) Status = EXT2WriteInode(Volume, OldNumber, &OldFolder);
    if (Status == VFS_OK && NewFolder != &OldFolder) Status = EXT2WriteInode(Volume, NewNumber, NewFolder);
    return Status;
}

VFS_STATUS EXT2Rename(LPVOID Handle, U64 OldDirectory, LPCSTR OldName, U64 NewDirectory, LPCSTR NewName) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    U32 OldLength = 0, NewLength = 0;
    VFS_STATUS Status = EXT2CheckName(OldName, &OldLength);
    if (Status == VFS_OK) Status = EXT2CheckName(NewName, &NewLength);
    if (Status != VFS_OK) return Status;
    if (OldDirectory > MAX_U32 || NewDirectory > MAX_U32) return VFS_ERROR_INVALID;
    Status = EXT2Begin(Volume, TRUE);
    if (Status != VFS_OK) return Status;
    Status = EXT2RenameLocked(Volume, (U32)OldDirectory, OldName, OldLength, (U32)NewDirectory, NewName, NewLength);
    return EXT2End(Volume, Status);
}

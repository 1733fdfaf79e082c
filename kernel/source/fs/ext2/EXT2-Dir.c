/*
 * EXT2-Dir.c - EXT2 folders: the entry list in each folder block.
 *
 * A folder is a file of whole blocks, each a chain of entries {inode,
 * record length, name length, file type, name} whose record lengths add up
 * to the block size exactly. A removed entry is merged into the one before it
 * (or, first in its block, gets inode 0); a new one goes into the slack of an
 * entry whose record is longer than its name needs, or into a new block.
 *
 * Every block is checked whole before any entry in it is used: record
 * lengths at least 12, multiples of 4, not crossing the block, names that fit
 * their record, inode numbers in range. Folders have no holes and a size that
 * is a whole number of blocks within what i_blocks pays for, so walking one
 * is bounded by its real blocks.
 *
 * Hashed-index folders (dir_index, EXT2_INDEX_FL) are read as plain ones:
 * the index lives in entries that look empty to a linear reader. Changing
 * such a folder clears EXT2_INDEX_FL, as e2fsck accepts, since the index is
 * not kept up to date.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/String.h"

U8 EXT2FileTypeFromMode(U32 Mode) {
    switch (Mode & VFS_TYPE_MASK) {
        case VFS_TYPE_REGULAR: return EXT2_FT_REGULAR;
        case VFS_TYPE_DIRECTORY: return EXT2_FT_DIRECTORY;
        case VFS_TYPE_CHARACTER: return EXT2_FT_CHARACTER;
        case VFS_TYPE_BLOCK: return EXT2_FT_BLOCK;
        case VFS_TYPE_FIFO: return EXT2_FT_FIFO;
        case VFS_TYPE_SOCKET: return EXT2_FT_SOCKET;
        case VFS_TYPE_SYMLINK: return EXT2_FT_SYMLINK;
        default: return EXT2_FT_UNKNOWN;
    }
}

static U32 EXT2ModeFromFileType(U8 FileType) {
    static const U32 Types[] = {0,
                                VFS_TYPE_REGULAR,
                                VFS_TYPE_DIRECTORY,
                                VFS_TYPE_CHARACTER,
                                VFS_TYPE_BLOCK,
                                VFS_TYPE_FIFO,
                                VFS_TYPE_SOCKET,
                                VFS_TYPE_SYMLINK};
    return FileType < ARRAY_COUNT(Types) ? Types[FileType] : 0;
}

VFS_STATUS EXT2DirCheckInode(EXT2_VOLUME* Volume, const EXT2_INODE* Directory) {
    if (!VFS_IS_DIRECTORY(Directory->Mode)) return VFS_ERROR_NOT_DIRECTORY;
    U32 Size = Directory->Size;
    U64 Blocks = Size >> Volume->BlockShift;
    if (Size == 0 || (Size & (Volume->BlockSize - 1)) != 0 || Blocks > Volume->BlocksCount ||
        Blocks * Volume->SectorsPerBlock > Directory->Blocks) {
        return EXT2Corrupt(Volume, "folder of %u bytes and %u sectors", Size, Directory->Blocks);
    }
    return VFS_OK;
}

static EXT2_DIR_ENTRY* EXT2EntryAt(const BLOCK_BUFFER* Buffer, U32 Offset) {
    return (EXT2_DIR_ENTRY*)(Buffer->Data + Offset);
}

static VFS_STATUS EXT2DirCheckBlock(EXT2_VOLUME* Volume, const BLOCK_BUFFER* Buffer) {
    U32 Block = (U32)Buffer->Block;
    U32 Offset = 0;
    while (Offset < Volume->BlockSize) {
        if (Volume->BlockSize - Offset < EXT2_DIR_RECORD_LENGTH(1)) {
            return EXT2Corrupt(Volume, "folder block %u: entry at %u crosses the block", Block, Offset);
        }
        const EXT2_DIR_ENTRY* Entry = EXT2EntryAt(Buffer, Offset);
        U32 Record = Entry->RecordLength;
        if (Record < EXT2_DIR_RECORD_LENGTH(1) || (Record & 3) != 0 || Record > Volume->BlockSize - Offset ||
            EXT2_DIR_RECORD_LENGTH(Entry->NameLength) > Record) {
            return EXT2Corrupt(Volume, "folder block %u: bad record length %u at %u", Block, Record, Offset);
        }
        if (Entry->Inode > Volume->InodesCount || (Entry->Inode != 0 && Entry->NameLength == 0) ||
            (!Volume->HasFileType && Entry->FileType != 0)) {
            return EXT2Corrupt(Volume, "folder block %u: bad entry at %u", Block, Offset);
        }
        Offset += Record;
    }
    return VFS_OK;
}

/** The checked, pinned block Logical of a folder. */
static VFS_STATUS EXT2DirGetBlock(EXT2_VOLUME* Volume, EXT2_INODE* Directory, U32 Logical, BLOCK_BUFFER* Buffer) {
    U32 Physical;
    VFS_STATUS Status = EXT2MapBlock(Volume, Directory, Logical, FALSE, NULL, &Physical, NULL);
    if (Status != VFS_OK) return Status;
    if (Physical == 0) return EXT2Corrupt(Volume, "folder has a hole at block %u", Logical);
    Status = EXT2BufferGet(Volume, Physical, TRUE, Buffer);
    if (Status != VFS_OK) return Status;
    Status = EXT2DirCheckBlock(Volume, Buffer);
    if (Status != VFS_OK) BlockRelease(Buffer);
    return Status;
}

static BOOL EXT2EntryNameIs(const EXT2_DIR_ENTRY* Entry, LPCSTR Name, U32 Length) {
    return Entry->Inode != 0 && Entry->NameLength == Length && MemoryCompare(Entry->Name, Name, Length) == 0;
}

static void EXT2FillEntry(EXT2_VOLUME* Volume, EXT2_DIR_ENTRY* Entry, LPCSTR Name, U32 Length, U32 Inode, U32 Mode) {
    Entry->Inode = Inode;
    Entry->NameLength = (U8)Length;
    Entry->FileType = Volume->HasFileType ? EXT2FileTypeFromMode(Mode) : 0;
    MemoryCopy(Entry->Name, Name, Length);
}

/** After a change: the index (if any) is stale, and the folder's times move. */
static VFS_STATUS EXT2DirChanged(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Directory) {
    Directory->Flags &= ~EXT2_INDEX_FL;
    EXT2Touch(Volume, Directory, EXT2_TOUCH_MODIFY | EXT2_TOUCH_CHANGE);
    return EXT2WriteInode(Volume, Number, Directory);
}

VFS_STATUS EXT2DirFind(EXT2_VOLUME* Volume, EXT2_INODE* Directory, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot) {
    VFS_STATUS Status = EXT2DirCheckInode(Volume, Directory);
    if (Status != VFS_OK) return Status;
    U32 Blocks = Directory->Size >> Volume->BlockShift;
    for (U32 Logical = 0; Logical < Blocks; Logical++) {
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, Directory, Logical, &Buffer);
        if (Status != VFS_OK) return Status;
        for (U32 Offset = 0; Offset < Volume->BlockSize; Offset += EXT2EntryAt(&Buffer, Offset)->RecordLength) {
            const EXT2_DIR_ENTRY* Entry = EXT2EntryAt(&Buffer, Offset);
            if (!EXT2EntryNameIs(Entry, Name, Length)) continue;
            Slot->Logical = Logical;
            Slot->Offset = Offset;
            Slot->Inode = Entry->Inode;
            Slot->FileType = Entry->FileType;
            BlockRelease(&Buffer);
            return VFS_OK;
        }
        BlockRelease(&Buffer);
    }
    return VFS_ERROR_NOT_FOUND;
}

VFS_STATUS EXT2DirAdd(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, LPCSTR Name, U32 Length,
                      U32 Inode, U32 Mode) {
    VFS_STATUS Status = EXT2DirCheckInode(Volume, Directory);
    if (Status != VFS_OK) return Status;
    U32 Needed = EXT2_DIR_RECORD_LENGTH(Length);
    U32 Blocks = Directory->Size >> Volume->BlockShift;
    for (U32 Logical = 0; Logical < Blocks; Logical++) {
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, Directory, Logical, &Buffer);
        if (Status != VFS_OK) return Status;
        for (U32 Offset = 0; Offset < Volume->BlockSize; Offset += EXT2EntryAt(&Buffer, Offset)->RecordLength) {
            EXT2_DIR_ENTRY* Entry = EXT2EntryAt(&Buffer, Offset);
            U32 Record = Entry->RecordLength;
            if (Entry->Inode == 0 && Record >= Needed) {
                EXT2FillEntry(Volume, Entry, Name, Length, Inode, Mode);
            } else {
                U32 Used = EXT2_DIR_RECORD_LENGTH(Entry->NameLength);
                if (Entry->Inode == 0 || Record < Used + Needed) continue;
                Entry->RecordLength = (U16)Used;
                EXT2_DIR_ENTRY* Added = EXT2EntryAt(&Buffer, Offset + Used);
                Added->RecordLength = (U16)(Record - Used);
                EXT2FillEntry(Volume, Added, Name, Length, Inode, Mode);
            }
            BlockDirty(&Buffer);
            BlockRelease(&Buffer);
            return EXT2DirChanged(Volume, DirectoryNumber, Directory);
        }
        BlockRelease(&Buffer);
    }

    // No room: one more block holding just this entry.
    if ((U64)Directory->Size + Volume->BlockSize > MAX_U32) return VFS_ERROR_NO_SPACE;
    U32 Goal = EXT2InodeGoal(Volume, DirectoryNumber), Physical;
    if (Blocks > 0) {
        Status = EXT2MapBlock(Volume, Directory, Blocks - 1, FALSE, &Goal, &Physical, NULL);
        if (Status != VFS_OK) return Status;
    }
    Status = EXT2MapBlock(Volume, Directory, Blocks, TRUE, &Goal, &Physical, NULL);
    if (Status != VFS_OK) return Status;
    BLOCK_BUFFER Buffer;
    Status = EXT2BufferGet(Volume, Physical, FALSE, &Buffer);
    if (Status != VFS_OK) return Status;
    EXT2_DIR_ENTRY* Entry = EXT2EntryAt(&Buffer, 0);
    Entry->RecordLength = (U16)Volume->BlockSize;
    EXT2FillEntry(Volume, Entry, Name, Length, Inode, Mode);
    BlockRelease(&Buffer);
    Directory->Size += Volume->BlockSize;
    return EXT2DirChanged(Volume, DirectoryNumber, Directory);
}

/** Finds the entry at Slot again (the caller found it under the same lock) with the one before it. */
static VFS_STATUS EXT2DirLocate(EXT2_VOLUME* Volume, EXT2_INODE* Directory, const EXT2_DIR_SLOT* Slot,
                                BLOCK_BUFFER* Buffer, EXT2_DIR_ENTRY** Entry, EXT2_DIR_ENTRY** Previous) {
    VFS_STATUS Status = EXT2DirGetBlock(Volume, Directory, Slot->Logical, Buffer);
    if (Status != VFS_OK) return Status;
    *Previous = NULL;
    for (U32 Offset = 0; Offset < Volume->BlockSize; Offset += EXT2EntryAt(Buffer, Offset)->RecordLength) {
        EXT2_DIR_ENTRY* Current = EXT2EntryAt(Buffer, Offset);
        if (Offset == Slot->Offset && Current->Inode == Slot->Inode) {
            *Entry = Current;
            return VFS_OK;
        }
        *Previous = Current;
    }
    BlockRelease(Buffer);
    return EXT2Corrupt(Volume, "folder entry moved under the lock");
}

VFS_STATUS EXT2DirRemove(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, const EXT2_DIR_SLOT* Slot) {
    BLOCK_BUFFER Buffer;
    EXT2_DIR_ENTRY *Entry, *Previous;
    VFS_STATUS Status = EXT2DirLocate(Volume, Directory, Slot, &Buffer, &Entry, &Previous);
    if (Status != VFS_OK) return Status;
    if (Previous != NULL) Previous->RecordLength = (U16)(Previous->RecordLength + Entry->RecordLength);
    else Entry->Inode = 0;
    BlockDirty(&Buffer);
    BlockRelease(&Buffer);
    return EXT2DirChanged(Volume, DirectoryNumber, Directory);
}

VFS_STATUS EXT2DirRetarget(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, const EXT2_DIR_SLOT* Slot,
                           U32 Inode, U32 Mode) {
    BLOCK_BUFFER Buffer;
    EXT2_DIR_ENTRY *Entry, *Previous;
    VFS_STATUS Status = EXT2DirLocate(Volume, Directory, Slot, &Buffer, &Entry, &Previous);
    if (Status != VFS_OK) return Status;
    Entry->Inode = Inode;
    Entry->FileType = Volume->HasFileType ? EXT2FileTypeFromMode(Mode) : 0;
    BlockDirty(&Buffer);
    BlockRelease(&Buffer);
    return EXT2DirChanged(Volume, DirectoryNumber, Directory);
}

VFS_STATUS EXT2DirIsEmpty(EXT2_VOLUME* Volume, EXT2_INODE* Directory, BOOL* Empty) {
    *Empty = FALSE;
    VFS_STATUS Status = EXT2DirCheckInode(Volume, Directory);
    if (Status != VFS_OK) return Status;
    U32 Blocks = Directory->Size >> Volume->BlockShift;
    for (U32 Logical = 0; Logical < Blocks; Logical++) {
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, Directory, Logical, &Buffer);
        if (Status != VFS_OK) return Status;
        for (U32 Offset = 0; Offset < Volume->BlockSize; Offset += EXT2EntryAt(&Buffer, Offset)->RecordLength) {
            const EXT2_DIR_ENTRY* Entry = EXT2EntryAt(&Buffer, Offset);
            if (Entry->Inode == 0 || EXT2EntryNameIs(Entry, ".", 1) || EXT2EntryNameIs(Entry, "..", 2)) continue;
            BlockRelease(&Buffer);
            return VFS_OK;
        }
        BlockRelease(&Buffer);
    }
    *Empty = TRUE;
    return VFS_OK;
}

VFS_STATUS EXT2DirInitialize(EXT2_VOLUME* Volume, U32 Number, EXT2_INODE* Directory, U32 Parent) {
    U32 Goal = EXT2InodeGoal(Volume, Number), Physical;
    VFS_STATUS Status = EXT2MapBlock(Volume, Directory, 0, TRUE, &Goal, &Physical, NULL);
    if (Status != VFS_OK) return Status;
    BLOCK_BUFFER Buffer;
    Status = EXT2BufferGet(Volume, Physical, FALSE, &Buffer);
    if (Status != VFS_OK) return Status;
    EXT2_DIR_ENTRY* Dot = EXT2EntryAt(&Buffer, 0);
    Dot->RecordLength = EXT2_DIR_RECORD_LENGTH(1);
    EXT2FillEntry(Volume, Dot, ".", 1, Number, VFS_TYPE_DIRECTORY);
    EXT2_DIR_ENTRY* DotDot = EXT2EntryAt(&Buffer, Dot->RecordLength);
    DotDot->RecordLength = (U16)(Volume->BlockSize - Dot->RecordLength);
    EXT2FillEntry(Volume, DotDot, "..", 2, Parent, VFS_TYPE_DIRECTORY);
    BlockRelease(&Buffer);
    Directory->Size = Volume->BlockSize;
    return VFS_OK;
}

/************************************************************************/
// VFS entry points

VFS_STATUS EXT2Lookup(LPVOID Handle, U64 DirectoryNumber, LPCSTR Name, U64* Inode) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    SIZE Length = StringLengthBounded(Name, EXT2_NAME_LENGTH + 1);
    if (Length == 0) return VFS_ERROR_INVALID;
    if (Length > EXT2_NAME_LENGTH) return VFS_ERROR_NAME_TOO_LONG;
    if (DirectoryNumber > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    EXT2_INODE Directory;
    EXT2_DIR_SLOT Slot;
    Status = EXT2ReadLiveInode(Volume, (U32)DirectoryNumber, &Directory);
    if (Status == VFS_OK) Status = EXT2DirFind(Volume, &Directory, Name, (U32)Length, &Slot);
    if (Status == VFS_OK) *Inode = Slot.Inode;
    return EXT2End(Volume, Status);
}

VFS_STATUS EXT2ReadDirectory(LPVOID Handle, U64 DirectoryNumber, U64* Cursor, VFS_DIRECTORY_ENTRY* Result, BOOL* End) {
    EXT2_VOLUME* Volume = (EXT2_VOLUME*)Handle;
    *End = FALSE;
    if (DirectoryNumber > MAX_U32) return VFS_ERROR_INVALID;
    VFS_STATUS Status = EXT2Begin(Volume, FALSE);
    if (Status != VFS_OK) return Status;
    EXT2_INODE Directory;
    Status = EXT2ReadLiveInode(Volume, (U32)DirectoryNumber, &Directory);
    if (Status == VFS_OK) Status = EXT2DirCheckInode(Volume, &Directory);
    if (Status != VFS_OK) return EXT2End(Volume, Status);

    U64 Blocks = Directory.Size >> Volume->BlockShift;
    U64 Position = *Cursor;
    while ((Position >> Volume->BlockShift) < Blocks) {
        U32 Logical = (U32)(Position >> Volume->BlockShift);
        U32 Start = (U32)(Position & (Volume->BlockSize - 1));
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, &Directory, Logical, &Buffer);
        if (Status != VFS_OK) return EXT2End(Volume, Status);
        for (U32 Offset = 0; Offset < Volume->BlockSize; Offset += EXT2EntryAt(&Buffer, Offset)->RecordLength) {
            const EXT2_DIR_ENTRY* Entry = EXT2EntryAt(&Buffer, Offset);
            if (Offset < Start || Entry->Inode == 0) continue;
            Result->Inode = Entry->Inode;
            Result->Type = Volume->HasFileType ? EXT2ModeFromFileType(Entry->FileType) : 0;
            MemoryCopy(Result->Name, Entry->Name, Entry->NameLength);
            Result->Name[Entry->NameLength] = 0;
            *Cursor = ((U64)Logical << Volume->BlockShift) + Offset + Entry->RecordLength;
            BlockRelease(&Buffer);
            return EXT2End(Volume, VFS_OK);
        }
        BlockRelease(&Buffer);
        Position = (U64)(Logical + 1) << Volume->BlockShift;
    }
    *Cursor = Position;
    *End = TRUE;
    return EXT2End(Volume, VFS_OK);
}

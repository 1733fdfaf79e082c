/*
 * EXT2-Dir.c - folders: the entry list in each folder block.
 *
 * A folder is a file of whole blocks, each a chain of entries {inode,
 * record length, name length, file type, name} whose record lengths add up
 * to the block size exactly. A removed entry is merged into the one before it
 * (or, first in its block, gets inode 0); a new one goes into the slack of an
 * entry whose record is longer than its name needs, or into a new block.
 *
 * Every block is checked whole before any entry in it is used: record
 * lengths at least 12, multiples of 4, not crossing the block, names that fit
 * their record, inode numbers in range; with metadata_csum its checksum first
 * (the leaf tail, which reads as one more empty entry, or the hashed index's
 * tail), so a bad block fails this folder only. Folders have no holes and a
 * size that is a whole number of blocks within what i_blocks pays for, so
 * walking one is bounded by its real blocks.
 *
 * Lookup: a hashed-index folder (dir_index, EXT2_INDEX_FL) is searched
 * through its index (EXT2-HTree.c), which reads two or three blocks of a
 * folder of thousands; an index that fails its checks is searched linearly,
 * as Linux falls back. Listing is linear: the index hides in entries that
 * look empty to a linear reader, so every name is seen once. Changing an
 * indexed folder (ext2/ext3 only) clears EXT2_INDEX_FL, as e2fsck accepts,
 * since the index is not kept up to date. Case-folded folders (casefold)
 * are searched linearly for the exact name: their hashes are of folded
 * names, which Cairn does not compute.
 *
 * Inline folders (inline_data) keep their entries in the inode: two chains
 * checked like blocks, and no "." or ".." entries, which listing makes up
 * from the inode number and the parent number kept in i_block.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/Endian.h"
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

/** Blocks of a checked folder (EXT2DirCheckInode bounds them by the volume). */
static U32 EXT2DirBlocks(EXT2_VOLUME* Volume, const EXT2_INODE* Directory) {
    return (U32)(EXT2GetSize(Volume, Directory) >> Volume->BlockShift);
}

static BOOL EXT2DirIsInline(const EXT2_INODE* Directory) { return (Directory->Flags & EXT2_INLINE_DATA_FL) != 0; }

VFS_STATUS EXT2DirCheckInode(EXT2_VOLUME* Volume, const EXT2_INODE* Directory) {
    if (!VFS_IS_DIRECTORY(Directory->Mode)) return VFS_ERROR_NOT_DIRECTORY;
    U64 Size = EXT2GetSize(Volume, Directory);
    if (EXT2DirIsInline(Directory)) {
        if (Size < 4 || Size > (U64)EXT4_INLINE_BLOCK_BYTES + Volume->InodeSize) {
            return EXT2Corrupt(Volume, "inline folder %u of %llu bytes", Directory->Number, Size);
        }
        return VFS_OK;
    }
    U64 Blocks = Size >> Volume->BlockShift;
    U64 Sectors = EXT2InodeBlocks(Volume, Directory);
    if (Size == 0 || (Size & (Volume->BlockSize - 1)) != 0 || Blocks > Volume->BlocksCount || Blocks > MAX_U32 ||
        Blocks * Volume->SectorsPerBlock > Sectors) {
        return EXT2Corrupt(Volume, "folder %u of %llu bytes and %llu sectors", Directory->Number, Size, Sectors);
    }
    return VFS_OK;
}

static EXT2_DIR_ENTRY* EXT2EntryAt(const BLOCK_BUFFER* Buffer, U32 Offset) {
    return (EXT2_DIR_ENTRY*)(Buffer->Data + Offset);
}

/** Checks a chain of entries filling Size bytes (a folder block, or an inline area). */
static VFS_STATUS EXT2DirCheckArea(EXT2_VOLUME* Volume, const U8* Data, U32 Size, U64 Where) {
    U32 Offset = 0;
    while (Offset < Size) {
        if (Size - Offset < EXT2_DIR_RECORD_LENGTH(1)) {
            return EXT2Corrupt(Volume, "folder block %llu: entry at %u crosses the block", Where, Offset);
        }
        const EXT2_DIR_ENTRY* Entry = (const EXT2_DIR_ENTRY*)(Data + Offset);
        U32 Record = Entry->RecordLength;
        if (Record < EXT2_DIR_RECORD_LENGTH(1) || (Record & 3) != 0 || Record > Size - Offset ||
            EXT2_DIR_RECORD_LENGTH(Entry->NameLength) > Record) {
            return EXT2Corrupt(Volume, "folder block %llu: bad record length %u at %u", Where, Record, Offset);
        }
        if (Entry->Inode > Volume->InodesCount || (Entry->Inode != 0 && Entry->NameLength == 0) ||
            (!Volume->HasFileType && Entry->FileType != 0)) {
            return EXT2Corrupt(Volume, "folder block %llu: bad entry at %u", Where, Offset);
        }
        Offset += Record;
    }
    return VFS_OK;
}

VFS_STATUS EXT2DirGetBlock(EXT2_VOLUME* Volume, EXT2_INODE* Directory, U32 Logical, BLOCK_BUFFER* Buffer) {
    U64 Physical;
    U32 Count;
    MemorySet(Buffer, 0, sizeof(*Buffer));
    VFS_STATUS Status = EXT2MapRun(Volume, Directory, Logical, 1, &Physical, &Count);
    if (Status != VFS_OK) return Status;
    if (Physical == 0) return EXT2Corrupt(Volume, "folder %u has a hole at block %u", Directory->Number, Logical);
    Status = EXT2BufferGet(Volume, Physical, TRUE, Buffer);
    if (Status != VFS_OK) return Status;
    if (EXT2MetadataChecksums(Volume) && !EXT2DirBlockChecksumValid(Volume, Directory, Buffer->Data)) {
        Status = EXT2ChecksumFailed(Volume, "folder block of inode", Directory->Number);
    }
    if (Status == VFS_OK) Status = EXT2DirCheckArea(Volume, Buffer->Data, Volume->BlockSize, Physical);
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

/** Searches a checked chain of entries; fills Slot (Offset counted from Data) when Name is there. */
static BOOL EXT2DirSearchArea(const U8* Data, U32 Size, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot) {
    for (U32 Offset = 0; Offset < Size; Offset += ((const EXT2_DIR_ENTRY*)(Data + Offset))->RecordLength) {
        const EXT2_DIR_ENTRY* Entry = (const EXT2_DIR_ENTRY*)(Data + Offset);
        if (!EXT2EntryNameIs(Entry, Name, Length)) continue;
        Slot->Offset = Offset;
        Slot->Inode = Entry->Inode;
        Slot->FileType = Entry->FileType;
        return TRUE;
    }
    return FALSE;
}

BOOL EXT2DirSearchBlock(EXT2_VOLUME* Volume, const BLOCK_BUFFER* Buffer, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot) {
    return EXT2DirSearchArea(Buffer->Data, Volume->BlockSize, Name, Length, Slot);
}

/** The two entry chains of an inline folder, loaded into Volume->Inline: after the parent's number, and the value. */
static VFS_STATUS EXT2InlineAreas(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, U32* Extra) {
    U32 Body;
    VFS_STATUS Status = EXT2InlineLoad(Volume, Directory, &Body, Extra);
    if (Status == VFS_OK) Status = EXT2DirCheckArea(Volume, Volume->Inline + 4, EXT4_INLINE_BLOCK_BYTES - 4, 0);
    if (Status == VFS_OK && *Extra > 0) {
        Status = EXT2DirCheckArea(Volume, Volume->Inline + EXT4_INLINE_BLOCK_BYTES, *Extra, 0);
    }
    return Status;
}

static VFS_STATUS EXT2InlineFind(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, LPCSTR Name, U32 Length,
                                 EXT2_DIR_SLOT* Slot) {
    U32 Extra;
    VFS_STATUS Status = EXT2InlineAreas(Volume, Directory, &Extra);
    if (Status != VFS_OK) return Status;
    Slot->Logical = 0;
    if (EXT2DirSearchArea(Volume->Inline + 4, EXT4_INLINE_BLOCK_BYTES - 4, Name, Length, Slot) ||
        EXT2DirSearchArea(Volume->Inline + EXT4_INLINE_BLOCK_BYTES, Extra, Name, Length, Slot)) {
        return VFS_OK;
    }
    if (Length == 2 && Name[0] == '.' && Name[1] == '.') {
        Slot->Inode = ReadLE32(Volume->Inline);  // the parent, kept in i_block's first word
        Slot->FileType = EXT2_FT_DIRECTORY;
        return Slot->Inode != 0 && Slot->Inode <= Volume->InodesCount ? VFS_OK : EXT2Corrupt(Volume, "bad parent");
    }
    return VFS_ERROR_NOT_FOUND;
}

VFS_STATUS EXT2DirFind(EXT2_VOLUME* Volume, EXT2_INODE* Directory, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot) {
    VFS_STATUS Status = EXT2DirCheckInode(Volume, Directory);
    if (Status != VFS_OK) return Status;
    if (EXT2DirIsInline(Directory)) return EXT2InlineFind(Volume, Directory, Name, Length, Slot);
    if ((Directory->Flags & EXT2_INDEX_FL) && EXT2HasCompat(Volume, EXT2_COMPAT_DIR_INDEX) &&
        !(Directory->Flags & EXT4_CASEFOLD_FL)) {
        BOOL Unusable = FALSE;
        Status = EXT2HTreeFind(Volume, Directory, Name, Length, Slot, &Unusable);
        if (!Unusable) {
            Volume->Counters.HashedLookups++;
            return Status;
        }
        Volume->Counters.IndexFallbacks++;
    }
    Volume->Counters.LinearLookups++;
    U32 Blocks = EXT2DirBlocks(Volume, Directory);
    for (U32 Logical = 0; Logical < Blocks; Logical++) {
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, Directory, Logical, &Buffer);
        if (Status != VFS_OK) return Status;
        BOOL Found = EXT2DirSearchBlock(Volume, &Buffer, Name, Length, Slot);
        BlockRelease(&Buffer);
        if (Found) {
            Slot->Logical = Logical;
            return VFS_OK;
        }
    }
    return VFS_ERROR_NOT_FOUND;
}

VFS_STATUS EXT2DirAdd(EXT2_VOLUME* Volume, U32 DirectoryNumber, EXT2_INODE* Directory, LPCSTR Name, U32 Length,
                      U32 Inode, U32 Mode) {
    VFS_STATUS Status = EXT2DirCheckInode(Volume, Directory);
    if (Status != VFS_OK) return Status;
    U32 Needed = EXT2_DIR_RECORD_LENGTH(Length);
    U32 Blocks = EXT2DirBlocks(Volume, Directory);
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
    U32 Blocks = EXT2DirBlocks(Volume, Directory);
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

static void EXT2DirEmit(EXT2_VOLUME* Volume, const EXT2_DIR_ENTRY* Entry, VFS_DIRECTORY_ENTRY* Result) {
    Result->Inode = Entry->Inode;
    Result->Type = Volume->HasFileType ? EXT2ModeFromFileType(Entry->FileType) : 0;
    MemoryCopy(Result->Name, Entry->Name, Entry->NameLength);
    Result->Name[Entry->NameLength] = 0;
}

/** The next live entry at or after Start in a checked chain; its end in *Next. FALSE when there is none. */
static BOOL EXT2DirNextInArea(const U8* Data, U32 Size, U32 Start, const EXT2_DIR_ENTRY** Found, U32* Next) {
    for (U32 Offset = 0; Offset < Size; Offset += ((const EXT2_DIR_ENTRY*)(Data + Offset))->RecordLength) {
        const EXT2_DIR_ENTRY* Entry = (const EXT2_DIR_ENTRY*)(Data + Offset);
        if (Offset < Start || Entry->Inode == 0) continue;
        *Found = Entry;
        *Next = Offset + Entry->RecordLength;
        return TRUE;
    }
    return FALSE;
}

/**
 * Listing an inline folder. Cursor 0 is ".", 1 "..", then 2 + the offset in
 * the two chains taken as one (the first's 56 bytes, then the second's).
 */
static VFS_STATUS EXT2InlineReadDirectory(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, U64* Cursor,
                                          VFS_DIRECTORY_ENTRY* Result, BOOL* End) {
    U32 Extra;
    VFS_STATUS Status = EXT2InlineAreas(Volume, Directory, &Extra);
    if (Status != VFS_OK) return Status;
    if (*Cursor < 2) {
        Result->Inode = *Cursor == 0 ? Directory->Number : ReadLE32(Volume->Inline);
        Result->Type = VFS_TYPE_DIRECTORY;
        StringCopy(Result->Name, *Cursor == 0 ? "." : "..", sizeof(Result->Name));
        (*Cursor)++;
        return VFS_OK;
    }
    U32 FirstSize = EXT4_INLINE_BLOCK_BYTES - 4;
    U64 Position = *Cursor - 2;
    const EXT2_DIR_ENTRY* Entry;
    U32 Next;
    if (Position < FirstSize && EXT2DirNextInArea(Volume->Inline + 4, FirstSize, (U32)Position, &Entry, &Next)) {
        *Cursor = 2 + Next;
    } else if (Position < (U64)FirstSize + Extra &&
               EXT2DirNextInArea(Volume->Inline + EXT4_INLINE_BLOCK_BYTES, Extra,
                                 Position > FirstSize ? (U32)(Position - FirstSize) : 0, &Entry, &Next)) {
        *Cursor = 2 + FirstSize + Next;
    } else {
        *Cursor = 2 + (U64)FirstSize + Extra;
        *End = TRUE;
        return VFS_OK;
    }
    EXT2DirEmit(Volume, Entry, Result);
    return VFS_OK;
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
    if (EXT2DirIsInline(&Directory)) {
        return EXT2End(Volume, EXT2InlineReadDirectory(Volume, &Directory, Cursor, Result, End));
    }

    U64 Blocks = EXT2DirBlocks(Volume, &Directory);
    U64 Position = *Cursor;
    while ((Position >> Volume->BlockShift) < Blocks) {
        U32 Logical = (U32)(Position >> Volume->BlockShift);
        U32 Start = (U32)(Position & (Volume->BlockSize - 1));
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, &Directory, Logical, &Buffer);
        if (Status != VFS_OK) return EXT2End(Volume, Status);
        const EXT2_DIR_ENTRY* Entry;
        U32 Next;
        BOOL Found = EXT2DirNextInArea(Buffer.Data, Volume->BlockSize, Start, &Entry, &Next);
        if (Found) {
            EXT2DirEmit(Volume, Entry, Result);
            *Cursor = ((U64)Logical << Volume->BlockShift) + Next;
        }
        BlockRelease(&Buffer);
        if (Found) return EXT2End(Volume, VFS_OK);
        Position = (U64)(Logical + 1) << Volume->BlockShift;
    }
    *Cursor = Position;
    *End = TRUE;
    return EXT2End(Volume, VFS_OK);
}

/*
 * EXT2-Inline.c - ext4 inline data: small files, folders and link targets
 * kept inside the inode itself (inline_data, EXT2_INLINE_DATA_FL).
 *
 * The bytes are in two places (Documentation/filesystems/ext4/
 * inlinedata.rst; the ext4 fact sheet): the 60 bytes of i_block first, then
 * the value of the in-inode extended attribute "system.data" (name index 7,
 * name "data"), which must exist even when empty and may not live in an
 * attribute inode (Linux's ext4_find_inline_data_nolock). The in-inode
 * attribute area starts at 128 + i_extra_isize with the magic 0xEA020000,
 * then entries {name length, name index, value offset, value inode, value
 * size, hash, name padded to 4}, ended by four zero bytes; a value offset
 * counts from the first entry. Every entry and the value must lie inside
 * the inode record: a bad one fails this inode only.
 *
 * A file's bytes are the two parts joined (its size at most their total). A
 * folder keeps its parent's inode number in i_block's first 4 bytes, then a
 * chain of entries filling the other 56, and a second, separate chain in the
 * attribute value; it has no "." or ".." entries (EXT2-Dir.c makes them up).
 */

#include "fs/ext2/EXT2-Internal.h"

#include "utils/Endian.h"
#include "utils/String.h"

#define EXT4_XATTR_ENTRY_SIZE 16

/** Finds system.data in the in-inode attribute area of Raw; copies its value after the i_block part. */
static VFS_STATUS EXT2InlineValue(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, const U8* Raw, U32* Extra) {
    *Extra = 0;
    U32 Size = Volume->InodeSize;
    if (Size <= EXT2_GOOD_OLD_INODE_SIZE) return VFS_OK;
    U32 Area = EXT2_GOOD_OLD_INODE_SIZE + Inode->ExtraSize;
    if (Area + 4 > Size || ReadLE32(Raw + Area) != EXT2_XATTR_MAGIC) return VFS_OK;
    U32 First = Area + 4;
    for (U32 Position = First; Position + 4 <= Size && ReadLE32(Raw + Position) != 0;) {
        if (Position + EXT4_XATTR_ENTRY_SIZE > Size) break;
        U32 NameLength = Raw[Position], NameIndex = Raw[Position + 1];
        U32 ValueOffset = ReadLE16(Raw + Position + 2), ValueInode = ReadLE32(Raw + Position + 4);
        U32 ValueSize = ReadLE32(Raw + Position + 8);
        U32 EntrySize = (EXT4_XATTR_ENTRY_SIZE + NameLength + 3) & ~3U;
        if (Position + EntrySize > Size) break;
        if (NameIndex == EXT4_XATTR_INDEX_SYSTEM && NameLength == 4 &&
            MemoryCompare(Raw + Position + EXT4_XATTR_ENTRY_SIZE, "data", 4) == 0) {
            if (ValueInode != 0 || ValueSize > Size || First + ValueOffset > Size - ValueSize) {
                return EXT2Corrupt(Volume, "inode %u: inline data value outside the inode", Inode->Number);
            }
            MemoryCopy(Volume->Inline + EXT4_INLINE_BLOCK_BYTES, Raw + First + ValueOffset, ValueSize);
            *Extra = ValueSize;
            return VFS_OK;
        }
        Position += EntrySize;
    }
    // No system.data: only the i_block part holds data (Linux reads it so too).
    return VFS_OK;
}

VFS_STATUS EXT2InlineLoad(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U32* Body, U32* Extra) {
    *Body = *Extra = 0;
    if (Volume->Inline == NULL) return EXT2Corrupt(Volume, "inode %u: inline data without the feature", Inode->Number);
    MemoryCopy(Volume->Inline, Inode->Block, EXT4_INLINE_BLOCK_BYTES);
    *Body = EXT4_INLINE_BLOCK_BYTES;
    BLOCK_BUFFER Buffer;
    U32 Offset;
    VFS_STATUS Status = EXT2PinInode(Volume, Inode->Number, &Buffer, &Offset);
    if (Status != VFS_OK) return Status;
    Status = EXT2InlineValue(Volume, Inode, Buffer.Data + Offset, Extra);
    BlockRelease(&Buffer);
    return Status;
}

VFS_STATUS EXT2InlineRead(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, U64 Offset, U8* Buffer, U32 Length) {
    U32 Body, Extra;
    VFS_STATUS Status = EXT2InlineLoad(Volume, Inode, &Body, &Extra);
    if (Status != VFS_OK) return Status;
    U64 Size = EXT2GetSize(Volume, Inode);
    if (Size > (U64)Body + Extra) {
        return EXT2Corrupt(Volume, "inode %u: %llu bytes, %u inline", Inode->Number, Size, Body + Extra);
    }
    if (Offset > Size || Length > Size - Offset) return EXT2Corrupt(Volume, "inline read past the end");
    MemoryCopy(Buffer, Volume->Inline + Offset, Length);
    return VFS_OK;
}

/*
 * EXT2-Checksum.c - ext4's metadata checksums, each verified where its
 * object is read, so a bad one fails that object only (the file or folder
 * gets an I/O error; the rest of the volume reads on).
 *
 * What each checksum covers (e2fsprogs lib/ext2fs/csum.c, checked against
 * mke2fs images in the ext4 fact sheet):
 *  - crc32c is the raw register (utils/CRC32C.h: no final inversion),
 *    chained: the file-system seed is crc32c(~0, s_uuid), or s_checksum_seed
 *    with metadata_csum_seed; the per-inode seed continues it with the
 *    inode's number and generation (little-endian 32-bit each);
 *  - superblock: crc32c(~0, bytes 0..0x3FB), in s_checksum;
 *  - group descriptor (metadata_csum): crc32c(seed, le32 group, the
 *    descriptor with bg_checksum zeroed), low 16 bits; (gdt_csum only):
 *    crc16 (reflected 0xA001, from 0xFFFF, no final XOR) of s_uuid, le32
 *    group and the descriptor without bg_checksum;
 *  - inode: crc32c(inode seed, the whole s_inode_size record with
 *    i_checksum_lo and i_checksum_hi zeroed), 32 bits when i_extra_isize
 *    reaches i_checksum_hi, else the low 16; an all-zero record passes;
 *  - extent block: crc32c(inode seed, the node up to its tail), the tail
 *    right after eh_max entries;
 *  - folder leaf: crc32c(inode seed, the block up to its 12-byte tail);
 *  - hashed-index root or node: crc32c(inode seed, the block up to the last
 *    used entry, then dt_reserved, then four zero bytes), in the dx tail
 *    after eh_limit entries.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "utils/CRC32C.h"
#include "utils/Endian.h"

static U32 EXT2Crc32c(U32 Crc, LPCVOID Data, SIZE Size) { return CRC32CUpdate(Crc, Data, Size); }

static U32 EXT2Crc32cWord(U32 Crc, U32 Value) {
    U8 Bytes[4];
    WriteLE32(Bytes, Value);
    return CRC32CUpdate(Crc, Bytes, sizeof(Bytes));
}

/** CRC-16/ARC as gdt_csum uses it: reflected 0x8005 (0xA001), no final XOR; the caller gives the start value. */
static U16 EXT2Crc16(U16 Crc, const U8* Data, SIZE Size) {
    static U16 Table[256];
    static BOOL Ready;
    if (!__atomic_load_n(&Ready, __ATOMIC_ACQUIRE)) {
        for (U32 Byte = 0; Byte < 256; Byte++) {
            U32 Value = Byte;
            for (U32 Bit = 0; Bit < 8; Bit++) Value = (Value >> 1) ^ (0xA001U & (0U - (Value & 1)));
            Table[Byte] = (U16)Value;
        }
        __atomic_store_n(&Ready, TRUE, __ATOMIC_RELEASE);
    }
    for (SIZE I = 0; I < Size; I++) Crc = (U16)((Crc >> 8) ^ Table[(Crc ^ Data[I]) & 0xFF]);
    return Crc;
}

void EXT2ChecksumSetup(EXT2_VOLUME* Volume) {
    if (EXT2HasIncompat(Volume, EXT2_INCOMPAT_CSUM_SEED)) Volume->ChecksumSeed = Volume->Super.ChecksumSeed;
    else Volume->ChecksumSeed = EXT2Crc32c(~0U, Volume->Super.Uuid, sizeof(Volume->Super.Uuid));
}

VFS_STATUS EXT2ChecksumFailed(EXT2_VOLUME* Volume, LPCSTR What, U64 Number) {
    Volume->Counters.ChecksumErrors++;
    LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 4, "[EXT2] %s: bad checksum: %s %llu is unreadable", Volume->Disk->Name,
                     What, Number);
    return VFS_ERROR_IO;
}

BOOL EXT2SuperblockChecksumValid(const EXT2_SUPERBLOCK* Super) {
    return EXT2Crc32c(~0U, Super, OFFSET_OF(EXT2_SUPERBLOCK, Checksum)) == Super->Checksum;
}

BOOL EXT2DescriptorChecksumValid(EXT2_VOLUME* Volume, U32 Group, const U8* Descriptor) {
    U16 Stored = ReadLE16(Descriptor + EXT4_DESCRIPTOR_CHECKSUM_OFFSET);
    U32 After = EXT4_DESCRIPTOR_CHECKSUM_OFFSET + 2;
    static const U8 Zero[2] = {0, 0};
    U8 GroupBytes[4];
    WriteLE32(GroupBytes, Group);
    if (EXT2MetadataChecksums(Volume)) {
        U32 Crc = EXT2Crc32c(Volume->ChecksumSeed, GroupBytes, sizeof(GroupBytes));
        Crc = EXT2Crc32c(Crc, Descriptor, EXT4_DESCRIPTOR_CHECKSUM_OFFSET);
        Crc = EXT2Crc32c(Crc, Zero, sizeof(Zero));
        if (Volume->DescriptorSize > After) Crc = EXT2Crc32c(Crc, Descriptor + After, Volume->DescriptorSize - After);
        return (U16)Crc == Stored;
    }
    if (EXT2HasRoCompat(Volume, EXT2_RO_COMPAT_GDT_CSUM)) {
        U16 Crc = EXT2Crc16(0xFFFF, Volume->Super.Uuid, sizeof(Volume->Super.Uuid));
        Crc = EXT2Crc16(Crc, GroupBytes, sizeof(GroupBytes));
        Crc = EXT2Crc16(Crc, Descriptor, EXT4_DESCRIPTOR_CHECKSUM_OFFSET);
        if (Volume->DescriptorSize > After) Crc = EXT2Crc16(Crc, Descriptor + After, Volume->DescriptorSize - After);
        return Crc == Stored;
    }
    return TRUE;
}

U32 EXT2InodeSeed(EXT2_VOLUME* Volume, U32 Number, U32 Generation) {
    return EXT2Crc32cWord(EXT2Crc32cWord(Volume->ChecksumSeed, Number), Generation);
}

BOOL EXT2InodeChecksumValid(EXT2_VOLUME* Volume, U32 Number, const U8* Raw) {
    U32 Size = Volume->InodeSize;
    BOOL Zero = TRUE;
    for (U32 I = 0; I < Size && Zero; I++) Zero = Raw[I] == 0;
    if (Zero) return TRUE;  // as e2fsprogs: a never-used slot
    U32 Extra = Size > EXT2_GOOD_OLD_INODE_SIZE ? ReadLE16(Raw + EXT2_GOOD_OLD_INODE_SIZE) : 0;
    BOOL HasHigh = Size > EXT2_GOOD_OLD_INODE_SIZE && EXT2_GOOD_OLD_INODE_SIZE + Extra >= EXT4_INODE_CHECKSUM_HIGH + 2;
    static const U8 ZeroField[2] = {0, 0};
    U32 Crc = EXT2InodeSeed(Volume, Number, ReadLE32(Raw + OFFSET_OF(EXT2_INODE, Generation)));
    Crc = EXT2Crc32c(Crc, Raw, EXT4_INODE_CHECKSUM_LOW);
    Crc = EXT2Crc32c(Crc, ZeroField, 2);
    U32 Position = EXT4_INODE_CHECKSUM_LOW + 2;
    if (HasHigh) {
        Crc = EXT2Crc32c(Crc, Raw + Position, EXT4_INODE_CHECKSUM_HIGH - Position);
        Crc = EXT2Crc32c(Crc, ZeroField, 2);
        Position = EXT4_INODE_CHECKSUM_HIGH + 2;
    }
    Crc = EXT2Crc32c(Crc, Raw + Position, Size - Position);
    U32 Stored = ReadLE16(Raw + EXT4_INODE_CHECKSUM_LOW);
    if (HasHigh) return Crc == (Stored | ((U32)ReadLE16(Raw + EXT4_INODE_CHECKSUM_HIGH) << 16));
    return (Crc & 0xFFFF) == Stored;
}

BOOL EXT2ExtentChecksumValid(EXT2_VOLUME* Volume, const EXT2_INODE* Inode, const U8* Node, U32 Max) {
    U32 Tail = sizeof(EXT4_EXTENT_HEADER) + Max * sizeof(EXT4_EXTENT);
    if (Tail + 4 > Volume->BlockSize) return FALSE;
    return EXT2Crc32c(Inode->ChecksumSeed, Node, Tail) == ReadLE32(Node + Tail);
}

BOOL EXT2DirHasTail(EXT2_VOLUME* Volume, const U8* Block) {
    const U8* Tail = Block + Volume->BlockSize - EXT4_DIR_TAIL_SIZE;
    return ReadLE32(Tail) == 0 && ReadLE16(Tail + 4) == EXT4_DIR_TAIL_SIZE && Tail[6] == 0 &&
           Tail[7] == EXT4_FT_DIR_CSUM;
}

/** Where a hashed-index block keeps its count and limit (root 0x20, node 0x08), or 0 when it is none. */
static U32 EXT2DxCountOffset(EXT2_VOLUME* Volume, const U8* Block) {
    U32 BlockSize = Volume->BlockSize;
    U32 First = ReadLE16(Block + 4);
    if (First == BlockSize && ReadLE16(Block + 6) == 0) return EXT4_DX_NODE_ENTRIES;
    if (First != 12) return 0;
    // The root: "." (12 bytes), ".." covering the rest, then the 8-byte root info.
    if (ReadLE16(Block + 12 + 4) != BlockSize - 12 || Block[12 + 6] != 2) return 0;
    if (ReadLE32(Block + EXT4_DX_ROOT_INFO) != 0 || Block[EXT4_DX_ROOT_INFO + 5] != 8) return 0;
    return EXT4_DX_ROOT_ENTRIES;
}

static BOOL EXT2DxChecksumValid(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, const U8* Block) {
    U32 CountOffset = EXT2DxCountOffset(Volume, Block);
    if (CountOffset == 0) return FALSE;
    U32 Limit = ReadLE16(Block + CountOffset), Count = ReadLE16(Block + CountOffset + 2);
    U32 Tail = CountOffset + Limit * sizeof(EXT4_DX_ENTRY);
    if (Count > Limit || Tail + 8 > Volume->BlockSize) return FALSE;
    static const U8 Zero[4] = {0, 0, 0, 0};
    U32 Crc = EXT2Crc32c(Directory->ChecksumSeed, Block, CountOffset + Count * sizeof(EXT4_DX_ENTRY));
    Crc = EXT2Crc32c(Crc, Block + Tail, 4);  // dt_reserved
    Crc = EXT2Crc32c(Crc, Zero, sizeof(Zero));
    return Crc == ReadLE32(Block + Tail + 4);
}

BOOL EXT2DirBlockChecksumValid(EXT2_VOLUME* Volume, const EXT2_INODE* Directory, const U8* Block) {
    if (EXT2DirHasTail(Volume, Block)) {
        U32 Covered = Volume->BlockSize - EXT4_DIR_TAIL_SIZE;
        return EXT2Crc32c(Directory->ChecksumSeed, Block, Covered) == ReadLE32(Block + Covered + 8);
    }
    return (Directory->Flags & EXT2_INDEX_FL) != 0 && EXT2DxChecksumValid(Volume, Directory, Block);
}

/*
 * EXT2-HTree.c - hashed folders (dir_index): the name hashes and a lookup
 * through the index, so a folder of thousands of names answers in two or
 * three block reads instead of all of them.
 *
 * The index (Documentation/filesystems/ext4/directory.rst with the fact
 * sheet's corrections): block 0 of the folder is the root, "." and ".."
 * entries followed by the root info {reserved 0, hash version, info length
 * 8, indirect levels, flags} at 0x18, then {limit, count} and entries
 * {hash, logical block} from 0x20; interior nodes are blocks holding one
 * empty entry covering the block, then {limit, count} at 0x08. Slot 0's hash
 * is the lowest range (its place holds the limit and count); entries are
 * sorted by hash; a leaf's range runs to the next entry's hash; a next hash
 * with bit 0 set continues a run of equal hashes in the next leaf.
 *
 * Checked before use, as Linux's dx_probe does: the root info (reserved 0,
 * info length 8, flag bit 0 clear, hash version 0-2, at most 1 interior
 * level, or 2 with large_dir), each node's limit exactly what its block holds
 * (minus the checksum tail with metadata_csum), counts within limits and not
 * 0, logical blocks inside the folder, and every block's checksum (through
 * EXT2DirGetBlock). A bad checksum fails the lookup (an I/O error); any
 * other fault makes the index unusable and the folder is searched linearly,
 * as Linux falls back ("dx failed, falling back").
 *
 * The hashes (e2fsprogs lib/ext2fs/dirhash.c, Linux fs/ext4/hash.c): legacy
 * (dx_hack_hash), half_md4 (a cut-down MD4 round over 32 name bytes at a
 * time) and tea (16 rounds of TEA over 16 bytes at a time), each seeded with
 * s_hash_seed (the MD4 constants when it is all zero) and each in a signed
 * and an unsigned variant that differ only for name bytes of 0x80 and more.
 * The superblock's flags say which variant the volume's hashes use (no flag:
 * signed, as on x86). The result has bit 0 clear.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "utils/Endian.h"
#include "utils/String.h"

/************************************************************************/
// The hashes

static const U32 EXT2DefaultSeed[4] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476};

static U32 EXT2Rotate(U32 Value, U32 Shift) { return (Value << Shift) | (Value >> (32 - Shift)); }

/** A name byte as the variant reads it: signed char (sign-extended) or unsigned char. */
static U32 EXT2NameByte(const char* Name, U32 Index, BOOL Unsigned) {
    return Unsigned ? (U32)(U8)Name[Index] : (U32)(I32)(I8)Name[Index];
}

/** dx_hack_hash: the legacy hash. */
static U32 EXT2LegacyHash(const char* Name, U32 Length, BOOL Unsigned) {
    U32 Hash0 = 0x12A3FE2D, Hash1 = 0x37ABE8F9;
    for (U32 I = 0; I < Length; I++) {
        U32 Hash = Hash1 + (Hash0 ^ (EXT2NameByte(Name, I, Unsigned) * 7152373U));
        if (Hash & 0x80000000U) Hash -= 0x7FFFFFFFU;
        Hash1 = Hash0;
        Hash0 = Hash;
    }
    return Hash0 << 1;
}

/**
 * Packs up to Words * 4 name bytes into Words words, big end first, padded
 * with the length repeated in every byte (str2hashbuf).
 */
static void EXT2PackName(const char* Name, U32 Length, U32* Buffer, U32 Words, BOOL Unsigned) {
    U32 Pad = Length | (Length << 8);
    Pad |= Pad << 16;
    U32 Value = Pad;
    U32 Take = MIN(Length, Words * 4);
    U32 Filled = 0;
    for (U32 I = 0; I < Take; I++) {
        Value = EXT2NameByte(Name, I, Unsigned) + (Value << 8);
        if ((I % 4) == 3) {
            Buffer[Filled++] = Value;
            Value = Pad;
        }
    }
    if (Filled < Words) Buffer[Filled++] = Value;
    while (Filled < Words) Buffer[Filled++] = Pad;
}

#define EXT2_MD4_F(X, Y, Z) ((Z) ^ ((X) & ((Y) ^ (Z))))
#define EXT2_MD4_G(X, Y, Z) (((X) & (Y)) + (((X) ^ (Y)) & (Z)))
#define EXT2_MD4_H(X, Y, Z) ((X) ^ (Y) ^ (Z))
#define EXT2_MD4_ROUND2 0x5A827999U
#define EXT2_MD4_ROUND3 0x6ED9EBA1U

/** The half MD4 transform: three rounds of eight steps over 8 words. */
static void EXT2HalfMd4(U32 State[4], const U32 In[8]) {
    static const U8 Order[3][8] = {{0, 1, 2, 3, 4, 5, 6, 7}, {1, 3, 5, 7, 0, 2, 4, 6}, {3, 7, 2, 6, 1, 5, 0, 4}};
    static const U8 Shifts[3][4] = {{3, 7, 11, 19}, {3, 5, 9, 13}, {3, 9, 11, 15}};
    U32 V[4] = {State[0], State[1], State[2], State[3]};  // a, b, c, d
    for (U32 Round = 0; Round < 3; Round++) {
        for (U32 Step = 0; Step < 8; Step++) {
            // Steps rotate the roles: a b c d, d a b c, c d a b, b c d a.
            U32 A = (4 - Step % 4) % 4, B = (A + 1) % 4, C = (A + 2) % 4, D = (A + 3) % 4;
            U32 Mix = Round == 0   ? EXT2_MD4_F(V[B], V[C], V[D])
                      : Round == 1 ? EXT2_MD4_G(V[B], V[C], V[D])
                                   : EXT2_MD4_H(V[B], V[C], V[D]);
            U32 Constant = Round == 0 ? 0 : Round == 1 ? EXT2_MD4_ROUND2 : EXT2_MD4_ROUND3;
            V[A] = EXT2Rotate(V[A] + Mix + In[Order[Round][Step]] + Constant, Shifts[Round][Step % 4]);
        }
    }
    for (U32 I = 0; I < 4; I++) State[I] += V[I];
}

/** Sixteen rounds of TEA over 4 words. */
static void EXT2Tea(U32 State[4], const U32 In[4]) {
    U32 Sum = 0, B0 = State[0], B1 = State[1];
    for (U32 Round = 0; Round < 16; Round++) {
        Sum += 0x9E3779B9U;
        B0 += ((B1 << 4) + In[0]) ^ (B1 + Sum) ^ ((B1 >> 5) + In[1]);
        B1 += ((B0 << 4) + In[2]) ^ (B0 + Sum) ^ ((B0 >> 5) + In[3]);
    }
    State[0] += B0;
    State[1] += B1;
}

VFS_STATUS EXT2DirectoryHash(U32 Version, const U32 Seed[4], const char* Name, U32 Length, U32* Hash, U32* Minor) {
    BOOL Unsigned = Version >= EXT4_DX_HASH_UNSIGNED_DELTA;
    U32 Base = Unsigned ? Version - EXT4_DX_HASH_UNSIGNED_DELTA : Version;
    U32 State[4];
    BOOL Seeded = Seed && (Seed[0] | Seed[1] | Seed[2] | Seed[3]) != 0;
    for (U32 I = 0; I < 4; I++) State[I] = Seeded ? Seed[I] : EXT2DefaultSeed[I];
    U32 In[8];
    *Minor = 0;
    if (Version > EXT4_DX_HASH_TEA + EXT4_DX_HASH_UNSIGNED_DELTA) return VFS_ERROR_INVALID;
    if (Base == EXT4_DX_HASH_LEGACY) {
        *Hash = EXT2LegacyHash(Name, Length, Unsigned);
    } else if (Base == EXT4_DX_HASH_HALF_MD4) {
        for (U32 Done = 0; Done < Length; Done += 32) {
            EXT2PackName(Name + Done, Length - Done, In, 8, Unsigned);
            EXT2HalfMd4(State, In);
        }
        *Hash = State[1];
        *Minor = State[2];
    } else {
        for (U32 Done = 0; Done < Length; Done += 16) {
            EXT2PackName(Name + Done, Length - Done, In, 4, Unsigned);
            EXT2Tea(State, In);
        }
        *Hash = State[0];
        *Minor = State[1];
    }
    *Hash &= ~1U;
    if (*Hash == (0x7FFFFFFFU << 1)) *Hash = (0x7FFFFFFFU - 1) << 1;  // the end-of-folder cookie is reserved
    return VFS_OK;
}

/************************************************************************/
// The index

typedef struct tag_EXT2_DX_FRAME {
    U32 Logical;              // the index block (0: the root)
    U32 At;                   // the entry followed
    U32 Count;
} EXT2_DX_FRAME;

/** Entry Index of the index block in Data whose count/limit is at Base: its hash (0 for slot 0) and block. */
static void EXT2DxEntry(const U8* Data, U32 Base, U32 Index, U32* Hash, U32* Block) {
    const U8* Entry = Data + Base + Index * sizeof(EXT4_DX_ENTRY);
    *Hash = Index == 0 ? 0 : ReadLE32(Entry);
    *Block = ReadLE32(Entry + 4);
}

/** The index block's count and limit, checked against what it must hold; NULL or the problem. */
static LPCSTR EXT2DxCheckCounts(EXT2_VOLUME* Volume, const U8* Data, U32 Base, U32* Count) {
    U32 Limit = ReadLE16(Data + Base);
    *Count = ReadLE16(Data + Base + 2);
    U32 Expected = (Volume->BlockSize - Base) / sizeof(EXT4_DX_ENTRY) - (EXT2MetadataChecksums(Volume) ? 1 : 0);
    if (Limit != Expected) return "bad limit";
    if (*Count == 0 || *Count > Limit) return "bad count";
    return NULL;
}

/** The last entry whose hash is at or below Hash (slot 0 when none). */
static U32 EXT2DxSearch(const U8* Data, U32 Base, U32 Count, U32 Hash) {
    U32 Low = 1, High = Count;  // the answer is Low - 1 once Low == High
    while (Low < High) {
        U32 Middle = Low + (High - Low) / 2, EntryHash, Block;
        EXT2DxEntry(Data, Base, Middle, &EntryHash, &Block);
        if (EntryHash <= Hash) Low = Middle + 1;
        else High = Middle;
    }
    return Low - 1;
}

typedef struct tag_EXT2_DX_WALK {
    EXT2_VOLUME* Volume;
    EXT2_INODE* Directory;
    U32 Blocks;               // the folder's
    U32 Levels;               // interior levels below the root
    U32 Hash;
    EXT2_DX_FRAME Frames[EXT4_HTREE_LEVELS_LARGE];
    LPCSTR Problem;           // why the index is unusable
} EXT2_DX_WALK;

/**
 * Descends from frame Level (its At already chosen) to a leaf, choosing in
 * each lower node the entry for Hash (First: the first entry, for a
 * continuation); returns the leaf's logical block in *Leaf.
 */
static VFS_STATUS EXT2DxDescend(EXT2_DX_WALK* Walk, U32 Level, BOOL First, U32* Leaf) {
    EXT2_VOLUME* Volume = Walk->Volume;
    BLOCK_BUFFER Buffer;
    for (;; Level++) {
        EXT2_DX_FRAME* Frame = &Walk->Frames[Level];
        U32 Base = Level == 0 ? EXT4_DX_ROOT_ENTRIES : EXT4_DX_NODE_ENTRIES;
        VFS_STATUS Status = EXT2DirGetBlock(Volume, Walk->Directory, Frame->Logical, &Buffer);
        if (Status != VFS_OK) return Status;
        U32 Hash, Child;
        EXT2DxEntry(Buffer.Data, Base, Frame->At, &Hash, &Child);
        BlockRelease(&Buffer);
        if (Child == 0 || Child >= Walk->Blocks) {
            Walk->Problem = "entry outside the folder";
            return VFS_OK;
        }
        if (Level == Walk->Levels) {
            *Leaf = Child;
            return VFS_OK;
        }
        EXT2_DX_FRAME* Next = &Walk->Frames[Level + 1];
        Next->Logical = Child;
        Status = EXT2DirGetBlock(Volume, Walk->Directory, Child, &Buffer);
        if (Status != VFS_OK) return Status;
        // An interior node: one empty entry covering the block, then count and limit.
        if (ReadLE32(Buffer.Data) != 0 || ReadLE16(Buffer.Data + 4) != Volume->BlockSize) {
            Walk->Problem = "bad interior node";
        } else {
            Walk->Problem = EXT2DxCheckCounts(Volume, Buffer.Data, EXT4_DX_NODE_ENTRIES, &Next->Count);
        }
        if (Walk->Problem == NULL) {
            Next->At = First ? 0 : EXT2DxSearch(Buffer.Data, EXT4_DX_NODE_ENTRIES, Next->Count, Walk->Hash);
        }
        BlockRelease(&Buffer);
        if (Walk->Problem) return VFS_OK;
    }
}

/** Moves to the next leaf that continues Hash's run; *More FALSE when the run ends. */
static VFS_STATUS EXT2DxNextLeaf(EXT2_DX_WALK* Walk, U32* Leaf, BOOL* More) {
    *More = FALSE;
    I32 Level = (I32)Walk->Levels;
    while (Level >= 0 && Walk->Frames[Level].At + 1 >= Walk->Frames[Level].Count) Level--;
    if (Level < 0) return VFS_OK;
    EXT2_DX_FRAME* Frame = &Walk->Frames[Level];
    Frame->At++;
    BLOCK_BUFFER Buffer;
    VFS_STATUS Status = EXT2DirGetBlock(Walk->Volume, Walk->Directory, Frame->Logical, &Buffer);
    if (Status != VFS_OK) return Status;
    U32 Hash, Child;
    EXT2DxEntry(Buffer.Data, Level == 0 ? EXT4_DX_ROOT_ENTRIES : EXT4_DX_NODE_ENTRIES, Frame->At, &Hash, &Child);
    BlockRelease(&Buffer);
    // Only a collision run (the next range starting at this very hash) continues in the next leaf.
    if ((Hash & ~1U) != Walk->Hash) return VFS_OK;
    Status = EXT2DxDescend(Walk, (U32)Level, TRUE, Leaf);
    *More = Status == VFS_OK && Walk->Problem == NULL;
    return Status;
}

/** Reads the root: its info and counts; chooses the root entry for the hash of Name. */
static VFS_STATUS EXT2DxRoot(EXT2_DX_WALK* Walk, LPCSTR Name, U32 Length) {
    EXT2_VOLUME* Volume = Walk->Volume;
    BLOCK_BUFFER Buffer;
    VFS_STATUS Status = EXT2DirGetBlock(Volume, Walk->Directory, 0, &Buffer);
    if (Status != VFS_OK) return Status;
    const U8* Info = Buffer.Data + EXT4_DX_ROOT_INFO;
    U32 Version = Info[4], Levels = Info[6];
    U32 MaxLevels = EXT2HasIncompat(Volume, EXT2_INCOMPAT_LARGEDIR) ? EXT4_HTREE_LEVELS_LARGE : EXT4_HTREE_LEVELS;
    if (ReadLE16(Buffer.Data + 4) != 12 || ReadLE16(Buffer.Data + 12 + 4) != Volume->BlockSize - 12) {
        Walk->Problem = "no root entries";
    } else if (ReadLE32(Info) != 0 || Info[5] != 8 || (Info[7] & 1) != 0) {
        Walk->Problem = "bad root info";
    } else if (Version > EXT4_DX_HASH_TEA) {
        Walk->Problem = "unknown hash version";
    } else if (Levels >= MaxLevels) {
        Walk->Problem = "too many levels";
    } else {
        Walk->Problem = EXT2DxCheckCounts(Volume, Buffer.Data, EXT4_DX_ROOT_ENTRIES, &Walk->Frames[0].Count);
    }
    if (Walk->Problem == NULL) {
        // The superblock says whether name bytes hash as unsigned (Linux: s_flags, else signed on x86).
        U32 Flags = Volume->Super.Flags;
        if ((Flags & EXT2_FLAGS_UNSIGNED_HASH) && !(Flags & EXT2_FLAGS_SIGNED_HASH)) {
            Version += EXT4_DX_HASH_UNSIGNED_DELTA;
        }
        U32 Minor, Seed[4];
        MemoryCopy(Seed, Volume->Super.HashSeed, sizeof(Seed));
        EXT2DirectoryHash(Version, Seed, Name, Length, &Walk->Hash, &Minor);
        Walk->Levels = Levels;
        Walk->Frames[0].Logical = 0;
        Walk->Frames[0].At = EXT2DxSearch(Buffer.Data, EXT4_DX_ROOT_ENTRIES, Walk->Frames[0].Count, Walk->Hash);
    }
    BlockRelease(&Buffer);
    return VFS_OK;
}

VFS_STATUS EXT2HTreeFind(EXT2_VOLUME* Volume, EXT2_INODE* Directory, LPCSTR Name, U32 Length, EXT2_DIR_SLOT* Slot,
                         BOOL* Unusable) {
    EXT2_DX_WALK Walk;
    MemorySet(&Walk, 0, sizeof(Walk));
    Walk.Volume = Volume;
    Walk.Directory = Directory;
    Walk.Blocks = (U32)(EXT2GetSize(Volume, Directory) >> Volume->BlockShift);
    U32 Leaf = 0;
    BOOL More = TRUE;
    VFS_STATUS Status = EXT2DxRoot(&Walk, Name, Length);
    if (Status == VFS_OK && Walk.Problem == NULL) Status = EXT2DxDescend(&Walk, 0, FALSE, &Leaf);
    // Each leaf at most once: a run of equal hashes cannot be longer than the folder.
    for (U32 Visited = 0; Status == VFS_OK && Walk.Problem == NULL && More; Visited++) {
        if (Visited >= Walk.Blocks) {
            Walk.Problem = "collision run loops";
            break;
        }
        BLOCK_BUFFER Buffer;
        Status = EXT2DirGetBlock(Volume, Directory, Leaf, &Buffer);
        if (Status != VFS_OK) break;
        BOOL Found = EXT2DirSearchBlock(Volume, &Buffer, Name, Length, Slot);
        BlockRelease(&Buffer);
        if (Found) {
            Slot->Logical = Leaf;
            return VFS_OK;
        }
        Status = EXT2DxNextLeaf(&Walk, &Leaf, &More);
    }
    if (Status != VFS_OK) return Status;
    if (Walk.Problem != NULL) {
        *Unusable = TRUE;
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 2, "[EXT2] %s: folder %u: hashed index unusable (%s): searching it linearly",
                         Volume->Disk->Name, Directory->Number, Walk.Problem);
        return VFS_ERROR_NOT_FOUND;
    }
    return VFS_ERROR_NOT_FOUND;
}

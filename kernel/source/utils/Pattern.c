/*
 * Pattern.c - the deterministic disk test pattern (see utils/Pattern.h and
 * documentation/Disk-Commands.md).
 *
 * Each word is computed on its own (random access: word i needs no state
 * from word i - 1), so a fill or check can start anywhere on the disk. Bytes
 * are stored one at a time in little-endian order, which keeps the code free
 * of unaligned accesses (the shell's buffers start at deliberate odd offsets)
 * and of any dependence on the host's byte order.
 */

#include "utils/Pattern.h"

/** The splitmix64 output function (Steele, Lea, Flood 2014; constants from its public definition). */
static U64 PatternMix(U64 Z) {
    Z = (Z ^ (Z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    Z = (Z ^ (Z >> 27)) * 0x94D049BB133111EBULL;
    return Z ^ (Z >> 31);
}

U64 PatternWord(U64 Seed, U64 Index) { return PatternMix(Seed + (Index + 1) * PATTERN_GAMMA); }

U8 PatternByte(U64 Seed, U64 Offset) { return (U8)(PatternWord(Seed, Offset >> 3) >> ((Offset & 7) * 8)); }

static void StoreWord(U8* Destination, U64 Word) {
    for (U32 I = 0; I < 8; I++) Destination[I] = (U8)(Word >> (I * 8));
}

void PatternFill(LPVOID Buffer, SIZE Size, U64 Seed, U64 Offset) {
    U8* Bytes = (U8*)Buffer;
    SIZE Done = 0;
    // Head: up to the next 8-byte boundary of the disk offset.
    while (Done < Size && ((Offset + Done) & 7) != 0) {
        Bytes[Done] = PatternByte(Seed, Offset + Done);
        Done++;
    }
    // The generator state for word i is Seed + (i + 1) * GAMMA: step it by GAMMA per word.
    U64 State = Seed + (((Offset + Done) >> 3) + 1) * PATTERN_GAMMA;
    while (Size - Done >= 8) {
        StoreWord(Bytes + Done, PatternMix(State));
        State += PATTERN_GAMMA;
        Done += 8;
    }
    while (Done < Size) {
        Bytes[Done] = PatternByte(Seed, Offset + Done);
        Done++;
    }
}

SIZE PatternCheck(LPCVOID Buffer, SIZE Size, U64 Seed, U64 Offset, U8* Expected) {
    const U8* Bytes = (const U8*)Buffer;
    SIZE Done = 0;
    U64 Word = 0;
    while (Done < Size) {
        U64 Position = Offset + Done;
        if (Done == 0 || (Position & 7) == 0) Word = PatternWord(Seed, Position >> 3);
        U8 Want = (U8)(Word >> ((Position & 7) * 8));
        if (Bytes[Done] != Want) {
            if (Expected) *Expected = Want;
            return Done;
        }
        Done++;
    }
    return Size;
}

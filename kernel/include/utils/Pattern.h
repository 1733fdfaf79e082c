/*
 * Pattern.h - the deterministic disk test pattern shared with tools/pattern.py.
 *
 * The pattern gives every byte of a disk a value that depends only on a
 * 64-bit seed and the byte's absolute offset from the start of the disk, so
 * data that lands at the wrong LBA, or a buffer shifted by a few bytes, reads
 * back as a mismatch. Definition (documentation/Disk-Commands.md):
 *
 *   word(seed, i) = splitmix64 output number i (from 0) of a generator
 *                   seeded with seed: Mix(seed + (i + 1) * 0x9E3779B97F4A7C15)
 *   Mix(z)        = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
 *                   z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31
 *   byte at offset B = byte (B mod 8) of word(seed, B / 8), little-endian.
 *
 * Pure: no kernel state, built unchanged into host unit tests. Buffers need
 * no alignment; offsets and sizes need not be multiples of 8.
 */

#ifndef UTILS_PATTERN_H_INCLUDED
#define UTILS_PATTERN_H_INCLUDED

#include "Base.h"

#define PATTERN_GAMMA 0x9E3779B97F4A7C15ULL

/** The 8-byte word covering disk bytes [Index * 8, Index * 8 + 8). */
U64 PatternWord(U64 Seed, U64 Index);
/** The pattern byte at absolute disk byte Offset. */
U8 PatternByte(U64 Seed, U64 Offset);
/** Fills Size bytes with the pattern of disk bytes [Offset, Offset + Size). */
void PatternFill(LPVOID Buffer, SIZE Size, U64 Seed, U64 Offset);
/**
 * Compares Size bytes with the pattern of disk bytes [Offset, Offset + Size).
 * Returns the index in Buffer of the first mismatch (and the byte expected
 * there in *Expected, when not NULL), or Size when everything matches.
 */
SIZE PatternCheck(LPCVOID Buffer, SIZE Size, U64 Seed, U64 Offset, U8* Expected);

#endif  // UTILS_PATTERN_H_INCLUDED

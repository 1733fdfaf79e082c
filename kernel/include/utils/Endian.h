/*
 * Endian.h - fixed-order integer fields in byte buffers.
 *
 * On-disk and on-wire structures (partition tables, ACPI tables, multiboot2
 * tags, NVMe identify data and log pages, EXT2/ext4 metadata, jbd2's
 * big-endian journal) are read through these, never by casting a pointer:
 * the buffer may be unaligned and the compiler must not assume otherwise.
 * Pure functions, the same in the kernel and in host tests.
 */

#ifndef UTILS_ENDIAN_H_INCLUDED
#define UTILS_ENDIAN_H_INCLUDED

#include "Base.h"

static inline U16 ReadLE16(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return (U16)(P[0] | (P[1] << 8));
}

static inline U32 ReadLE32(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return (U32)P[0] | ((U32)P[1] << 8) | ((U32)P[2] << 16) | ((U32)P[3] << 24);
}

static inline U64 ReadLE64(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return (U64)ReadLE32(P) | ((U64)ReadLE32(P + 4) << 32);
}

static inline U16 ReadBE16(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return (U16)((P[0] << 8) | P[1]);
}

static inline U32 ReadBE32(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return ((U32)P[0] << 24) | ((U32)P[1] << 16) | ((U32)P[2] << 8) | (U32)P[3];
}

static inline U64 ReadBE64(const void* Pointer) {
    const U8* P = (const U8*)Pointer;
    return ((U64)ReadBE32(P) << 32) | (U64)ReadBE32(P + 4);
}

static inline void WriteLE16(void* Pointer, U16 Value) {
    U8* P = (U8*)Pointer;
    P[0] = (U8)Value;
    P[1] = (U8)(Value >> 8);
}

static inline void WriteLE32(void* Pointer, U32 Value) {
    U8* P = (U8*)Pointer;
    for (U32 I = 0; I < 4; I++) P[I] = (U8)(Value >> (8 * I));
}

static inline void WriteLE64(void* Pointer, U64 Value) {
    WriteLE32(Pointer, (U32)Value);
    WriteLE32((U8*)Pointer + 4, (U32)(Value >> 32));
}

static inline void WriteBE32(void* Pointer, U32 Value) {
    U8* P = (U8*)Pointer;
    for (U32 I = 0; I < 4; I++) P[I] = (U8)(Value >> (24 - 8 * I));
}

#endif  // UTILS_ENDIAN_H_INCLUDED

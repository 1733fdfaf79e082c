/*
 * CRC32C.h - the Castagnoli CRC-32 (iSCSI, SCTP, ext4 and jbd2 metadata).
 *
 * Reflected polynomial 0x82F63B78. Two ways to use it:
 *  - CRC32C(Data, Size): the textbook CRC-32C (initial value and final XOR
 *    0xFFFFFFFF; "123456789" gives 0xE3069283);
 *  - CRC32CUpdate(Crc, Data, Size): the raw register, no inversion at
 *    either end. ext4 and jbd2 store exactly this, chained from a seed:
 *    crc = CRC32CUpdate(CRC32CUpdate(~0U, A), B) (e2fsprogs csum.c; the
 *    stored superblock checksum is the bitwise NOT of the textbook value).
 * Pure: the tables are computed on first use (idempotent, so a race between
 * two first users writes the same values twice), no lock.
 */

#ifndef UTILS_CRC32C_H_INCLUDED
#define UTILS_CRC32C_H_INCLUDED

#include "Base.h"

/** The raw register after feeding Size bytes into Crc (no inversions). */
U32 CRC32CUpdate(U32 Crc, LPCVOID Data, SIZE Size);
/** The textbook CRC-32C of Size bytes. */
U32 CRC32C(LPCVOID Data, SIZE Size);

#endif  // UTILS_CRC32C_H_INCLUDED

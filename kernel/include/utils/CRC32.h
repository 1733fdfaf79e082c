/*
 * CRC32.h - the CRC-32 of IEEE 802.3, zlib and the UEFI GPT headers.
 *
 * Reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF
 * (UEFI spec 2.10, appendix "CRC-32"). Pure: no state, no lock.
 */

#ifndef UTILS_CRC32_H_INCLUDED
#define UTILS_CRC32_H_INCLUDED

#include "Base.h"

/** CRC of Size bytes. */
U32 CRC32(LPCVOID Data, SIZE Size);
/** Continues a CRC: CRC32Update(CRC32(A), B) == CRC32(A followed by B); start from 0. */
U32 CRC32Update(U32 Crc, LPCVOID Data, SIZE Size);

#endif  // UTILS_CRC32_H_INCLUDED

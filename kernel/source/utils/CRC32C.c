/*
 * CRC32C.c - CRC-32C (see CRC32C.h).
 *
 * Slicing by eight: eight 256-entry tables let one step consume eight bytes
 * (table 0 is the classic byte table; table K advances a byte that still has
 * K more bytes to pass through). ext4 checksums every metadata block it
 * reads (4 KiB directory and extent blocks), so the byte-at-a-time loop of
 * CRC32.c would be the slow part of a large directory walk.
 */

#include "utils/CRC32C.h"

#define CRC32C_POLYNOMIAL 0x82F63B78U

static U32 CRC32CTables[8][256];
static BOOL CRC32CReady;

static void CRC32CBuildTables(void) {
    for (U32 Byte = 0; Byte < 256; Byte++) {
        U32 Crc = Byte;
        for (U32 Bit = 0; Bit < 8; Bit++) Crc = (Crc >> 1) ^ (CRC32C_POLYNOMIAL & (0U - (Crc & 1)));
        CRC32CTables[0][Byte] = Crc;
    }
    for (U32 Byte = 0; Byte < 256; Byte++) {
        for (U32 Table = 1; Table < 8; Table++) {
            U32 Previous = CRC32CTables[Table - 1][Byte];
            CRC32CTables[Table][Byte] = (Previous >> 8) ^ CRC32CTables[0][Previous & 0xFF];
        }
    }
    __atomic_store_n(&CRC32CReady, TRUE, __ATOMIC_RELEASE);
}

U32 CRC32CUpdate(U32 Crc, LPCVOID Data, SIZE Size) {
    if (!__atomic_load_n(&CRC32CReady, __ATOMIC_ACQUIRE)) CRC32CBuildTables();
    const U8* Bytes = (const U8*)Data;
    while (Size >= 8) {
        U32 Low = Crc ^ ((U32)Bytes[0] | ((U32)Bytes[1] << 8) | ((U32)Bytes[2] << 16) | ((U32)Bytes[3] << 24));
        U32 High = (U32)Bytes[4] | ((U32)Bytes[5] << 8) | ((U32)Bytes[6] << 16) | ((U32)Bytes[7] << 24);
        Crc = CRC32CTables[7][Low & 0xFF] ^ CRC32CTables[6][(Low >> 8) & 0xFF] ^ CRC32CTables[5][(Low >> 16) & 0xFF] ^
              CRC32CTables[4][Low >> 24] ^ CRC32CTables[3][High & 0xFF] ^ CRC32CTables[2][(High >> 8) & 0xFF] ^
              CRC32CTables[1][(High >> 16) & 0xFF] ^ CRC32CTables[0][High >> 24];
        Bytes += 8;
        Size -= 8;
    }
    while (Size-- > 0) Crc = (Crc >> 8) ^ CRC32CTables[0][(Crc ^ *Bytes++) & 0xFF];
    return Crc;
}

U32 CRC32C(LPCVOID Data, SIZE Size) { return ~CRC32CUpdate(~0U, Data, Size); }

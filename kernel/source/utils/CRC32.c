/*
 * CRC32.c - CRC-32 (see CRC32.h).
 *
 * Four bits at a time from a 16-entry table: small enough to write out,
 * and fast enough for partition headers and entry arrays (a few KiB).
 * Entry N is the CRC register after shifting the nibble N through the
 * reflected polynomial 0xEDB88320 four times.
 */

#include "utils/CRC32.h"

static const U32 CRC32Nibbles[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

U32 CRC32Update(U32 Crc, LPCVOID Data, SIZE Size) {
    const U8* Bytes = (const U8*)Data;
    Crc = ~Crc;
    for (SIZE I = 0; I < Size; I++) {
        Crc ^= Bytes[I];
        Crc = (Crc >> 4) ^ CRC32Nibbles[Crc & 0x0F];
        Crc = (Crc >> 4) ^ CRC32Nibbles[Crc & 0x0F];
    }
    return ~Crc;
}

U32 CRC32(LPCVOID Data, SIZE Size) { return CRC32Update(0, Data, Size); }

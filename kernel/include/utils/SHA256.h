/*
 * SHA256.h - the SHA-256 hash (FIPS 180-4), incremental.
 *
 * Pure code with no kernel state, so the host unit tests build the same
 * file. A context hashes any number of SHA256Update calls of any length;
 * SHA256Final writes the 32-byte digest and leaves the context unusable
 * until SHA256Init is called again.
 */

#ifndef UTILS_SHA256_H_INCLUDED
#define UTILS_SHA256_H_INCLUDED

#include "Base.h"

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE 64
#define SHA256_HEX_LENGTH (SHA256_DIGEST_SIZE * 2)

typedef struct tag_SHA256_CONTEXT {
    U32 State[8];
    U64 TotalBytes;
    U8 Block[SHA256_BLOCK_SIZE];
    U32 BlockUsed;
} SHA256_CONTEXT;

void SHA256Init(SHA256_CONTEXT* Context);
void SHA256Update(SHA256_CONTEXT* Context, LPCVOID Data, SIZE Length);
void SHA256Final(SHA256_CONTEXT* Context, U8 Digest[SHA256_DIGEST_SIZE]);
/** One-shot hash of a buffer. */
void SHA256Buffer(LPCVOID Data, SIZE Length, U8 Digest[SHA256_DIGEST_SIZE]);
/** Writes the digest as 64 lowercase hex digits and a terminating zero (Text holds 65 bytes). */
void SHA256ToHex(const U8 Digest[SHA256_DIGEST_SIZE], LPSTR Text);

#endif  // UTILS_SHA256_H_INCLUDED

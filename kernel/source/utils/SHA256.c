/*
 * SHA256.c - SHA-256 (FIPS 180-4, section 6.2), written from the standard.
 *
 * The message is processed in 64-byte blocks; a partial block waits in the
 * context until more data or SHA256Final, which appends the 0x80 byte, zero
 * padding and the bit length (big-endian), as section 5.1.1 specifies. Words
 * are big-endian on the wire whatever the CPU's order.
 */

#include "utils/SHA256.h"

#include "utils/String.h"

// FIPS 180-4 section 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
static const U32 SHA256RoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline U32 RotateRight(U32 Value, U32 Count) { return (Value >> Count) | (Value << (32 - Count)); }

static void SHA256Transform(SHA256_CONTEXT* Context, const U8* Block) {
    U32 W[64];
    for (U32 I = 0; I < 16; I++) {
        W[I] = ((U32)Block[I * 4] << 24) | ((U32)Block[I * 4 + 1] << 16) | ((U32)Block[I * 4 + 2] << 8) |
               (U32)Block[I * 4 + 3];
    }
    for (U32 I = 16; I < 64; I++) {
        U32 S0 = RotateRight(W[I - 15], 7) ^ RotateRight(W[I - 15], 18) ^ (W[I - 15] >> 3);
        U32 S1 = RotateRight(W[I - 2], 17) ^ RotateRight(W[I - 2], 19) ^ (W[I - 2] >> 10);
        W[I] = W[I - 16] + S0 + W[I - 7] + S1;
    }

    U32 A = Context->State[0], B = Context->State[1], C = Context->State[2], D = Context->State[3];
    U32 E = Context->State[4], F = Context->State[5], G = Context->State[6], H = Context->State[7];
    for (U32 I = 0; I < 64; I++) {
        U32 Sum1 = RotateRight(E, 6) ^ RotateRight(E, 11) ^ RotateRight(E, 25);
        U32 Choose = (E & F) ^ (~E & G);
        U32 T1 = H + Sum1 + Choose + SHA256RoundConstants[I] + W[I];
        U32 Sum0 = RotateRight(A, 2) ^ RotateRight(A, 13) ^ RotateRight(A, 22);
        U32 Majority = (A & B) ^ (A & C) ^ (B & C);
        U32 T2 = Sum0 + Majority;
        H = G;
        G = F;
        F = E;
        E = D + T1;
        D = C;
        C = B;
        B = A;
        A = T1 + T2;
    }
    Context->State[0] += A;
    Context->State[1] += B;
    Context->State[2] += C;
    Context->State[3] += D;
    Context->State[4] += E;
    Context->State[5] += F;
    Context->State[6] += G;
    Context->State[7] += H;
}

void SHA256Init(SHA256_CONTEXT* Context) {
    // FIPS 180-4 section 5.3.3: the initial hash value.
    static const U32 Initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    for (U32 I = 0; I < 8; I++) Context->State[I] = Initial[I];
    Context->TotalBytes = 0;
    Context->BlockUsed = 0;
}

void SHA256Update(SHA256_CONTEXT* Context, LPCVOID Data, SIZE Length) {
    const U8* Bytes = (const U8*)Data;
    Context->TotalBytes += Length;
    if (Context->BlockUsed > 0) {
        SIZE Take = MIN((SIZE)(SHA256_BLOCK_SIZE - Context->BlockUsed), Length);
        MemoryCopy(Context->Block + Context->BlockUsed, Bytes, Take);
        Context->BlockUsed += (U32)Take;
        Bytes += Take;
        Length -= Take;
        if (Context->BlockUsed < SHA256_BLOCK_SIZE) return;
        SHA256Transform(Context, Context->Block);
        Context->BlockUsed = 0;
    }
    while (Length >= SHA256_BLOCK_SIZE) {
        SHA256Transform(Context, Bytes);
        Bytes += SHA256_BLOCK_SIZE;
        Length -= SHA256_BLOCK_SIZE;
    }
    if (Length > 0) {
        MemoryCopy(Context->Block, Bytes, Length);
        Context->BlockUsed = (U32)Length;
    }
}

void SHA256Final(SHA256_CONTEXT* Context, U8 Digest[SHA256_DIGEST_SIZE]) {
    U64 BitLength = Context->TotalBytes * 8;
    U8 Padding[SHA256_BLOCK_SIZE * 2];
    // One 0x80 byte, zeros up to 56 mod 64, then the 64-bit length: 9 to 72 bytes.
    U32 PadLength = (Context->BlockUsed < 56) ? (56 - Context->BlockUsed) : (120 - Context->BlockUsed);
    MemorySet(Padding, 0, sizeof(Padding));
    Padding[0] = 0x80;
    for (U32 I = 0; I < 8; I++) Padding[PadLength + I] = (U8)(BitLength >> (56 - 8 * I));
    U64 SavedTotal = Context->TotalBytes;
    SHA256Update(Context, Padding, PadLength + 8);
    Context->TotalBytes = SavedTotal;
    for (U32 I = 0; I < 8; I++) {
        Digest[I * 4] = (U8)(Context->State[I] >> 24);
        Digest[I * 4 + 1] = (U8)(Context->State[I] >> 16);
        Digest[I * 4 + 2] = (U8)(Context->State[I] >> 8);
        Digest[I * 4 + 3] = (U8)Context->State[I];
    }
}

void SHA256Buffer(LPCVOID Data, SIZE Length, U8 Digest[SHA256_DIGEST_SIZE]) {
    SHA256_CONTEXT Context;
    SHA256Init(&Context);
    SHA256Update(&Context, Data, Length);
    SHA256Final(&Context, Digest);
}

void SHA256ToHex(const U8 Digest[SHA256_DIGEST_SIZE], LPSTR Text) {
    static const char Digits[] = "0123456789abcdef";
    for (U32 I = 0; I < SHA256_DIGEST_SIZE; I++) {
        Text[I * 2] = Digits[Digest[I] >> 4];
        Text[I * 2 + 1] = Digits[Digest[I] & 15];
    }
    Text[SHA256_HEX_LENGTH] = 0;
}

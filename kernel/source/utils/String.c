/*
 * String.c - memory and string helpers (see String.h).
 */

#include "utils/String.h"

void MemorySet(LPVOID Destination, U8 Value, SIZE Size) {
    U8* D = (U8*)Destination;
    while (Size--) *D++ = Value;
}

void MemoryCopy(LPVOID Destination, LPCVOID Source, SIZE Size) {
    U8* D = (U8*)Destination;
    const U8* S = (const U8*)Source;
    if (((UINT)D & 7) == 0 && ((UINT)S & 7) == 0) {
        while (Size >= 8) {
            *(U64*)D = *(const U64*)S;
            D += 8;
            S += 8;
            Size -= 8;
        }
    }
    while (Size--) *D++ = *S++;
}

void MemoryMove(LPVOID Destination, LPCVOID Source, SIZE Size) {
    U8* D = (U8*)Destination;
    const U8* S = (const U8*)Source;
    if (D == S || Size == 0) return;
    if (D < S || D >= S + Size) {
        MemoryCopy(D, S, Size);
        return;
    }
    while (Size--) D[Size] = S[Size];
}

I32 MemoryCompare(LPCVOID First, LPCVOID Second, SIZE Size) {
    const U8* A = (const U8*)First;
    const U8* B = (const U8*)Second;
    for (SIZE I = 0; I < Size; I++) {
        if (A[I] != B[I]) return (I32)A[I] - (I32)B[I];
    }
    return 0;
}

SIZE StringLength(LPCSTR Text) {
    SIZE Length = 0;
    if (Text == NULL) return 0;
    while (Text[Length]) Length++;
    return Length;
}

SIZE StringLengthBounded(LPCSTR Text, SIZE Maximum) {
    SIZE Length = 0;
    if (Text == NULL) return 0;
    while (Length < Maximum && Text[Length]) Length++;
    return Length;
}

I32 StringCompare(LPCSTR First, LPCSTR Second) {
    while (*First && *First == *Second) {
        First++;
        Second++;
    }
    return (I32)(U8)*First - (I32)(U8)*Second;
}

I32 StringCompareBounded(LPCSTR First, LPCSTR Second, SIZE Maximum) {
    for (SIZE I = 0; I < Maximum; I++) {
        if (First[I] != Second[I] || First[I] == 0) return (I32)(U8)First[I] - (I32)(U8)Second[I];
    }
    return 0;
}

I32 StringCompareNoCase(LPCSTR First, LPCSTR Second) {
    while (*First && CharToLower(*First) == CharToLower(*Second)) {
        First++;
        Second++;
    }
    return (I32)(U8)CharToLower(*First) - (I32)(U8)CharToLower(*Second);
}

SIZE StringCopy(LPSTR Destination, LPCSTR Source, SIZE Size) {
    SIZE Length = StringLength(Source);
    if (Size == 0) return Length;
    SIZE Count = Length < Size - 1 ? Length : Size - 1;
    MemoryCopy(Destination, Source, Count);
    Destination[Count] = 0;
    return Length;
}

SIZE StringAppend(LPSTR Destination, LPCSTR Source, SIZE Size) {
    SIZE Used = StringLengthBounded(Destination, Size);
    if (Used == Size) return Size + StringLength(Source);
    return Used + StringCopy(Destination + Used, Source, Size - Used);
}

LPCSTR StringFindChar(LPCSTR Text, char Character) {
    for (; *Text; Text++) {
        if (*Text == Character) return Text;
    }
    return Character == 0 ? Text : NULL;
}

BOOL StringStartsWith(LPCSTR Text, LPCSTR Prefix) {
    while (*Prefix) {
        if (*Text++ != *Prefix++) return FALSE;
    }
    return TRUE;
}

char CharToLower(char C) { return (C >= 'A' && C <= 'Z') ? (char)(C - 'A' + 'a') : C; }
char CharToUpper(char C) { return (C >= 'a' && C <= 'z') ? (char)(C - 'a' + 'A') : C; }
BOOL CharIsDigit(char C) { return C >= '0' && C <= '9'; }
BOOL CharIsSpace(char C) { return C == ' ' || C == '\t' || C == '\n' || C == '\r' || C == '\v' || C == '\f'; }
BOOL CharIsPrintable(char C) { return C >= 0x20 && C < 0x7F; }

static I32 DigitValue(char C) {
    if (C >= '0' && C <= '9') return C - '0';
    if (C >= 'a' && C <= 'z') return C - 'a' + 10;
    if (C >= 'A' && C <= 'Z') return C - 'A' + 10;
    return 99;
}

BOOL StringToU64Base(LPCSTR Text, U32 Base, U64* Value) {
    U64 Result = 0;
    if (Text == NULL || *Text == 0 || Base < 2 || Base > 36) return FALSE;
    for (; *Text; Text++) {
        I32 Digit = DigitValue(*Text);
        if (Digit >= (I32)Base) return FALSE;
        if (Result > (MAX_U64 - (U64)Digit) / Base) return FALSE;
        Result = Result * Base + (U64)Digit;
    }
    *Value = Result;
    return TRUE;
}

BOOL StringToU64(LPCSTR Text, U64* Value, BOOL AllowSuffix) {
    char Digits[32];
    U64 Multiplier = 1;
    U32 Base = 10;
    SIZE Length;

    if (Text == NULL) return FALSE;
    if (Text[0] == '0' && (Text[1] == 'x' || Text[1] == 'X')) {
        Base = 16;
        Text += 2;
    }
    Length = StringLength(Text);
    if (Length == 0 || Length >= sizeof(Digits)) return FALSE;
    StringCopy(Digits, Text, sizeof(Digits));

    if (AllowSuffix && Base == 10) {
        char Last = Digits[Length - 1];
        if (Last == 'k' || Last == 'K') Multiplier = N_1KB;
        else if (Last == 'M' || Last == 'm') Multiplier = N_1MB;
        else if (Last == 'G' || Last == 'g') Multiplier = N_1GB;
        if (Multiplier != 1) Digits[--Length] = 0;
        if (Length == 0) return FALSE;
    }

    U64 Number;
    if (!StringToU64Base(Digits, Base, &Number)) return FALSE;
    if (Number != 0 && Multiplier > MAX_U64 / Number) return FALSE;
    *Value = Number * Multiplier;
    return TRUE;
}

#ifndef CAIRN_HOST_BUILD
// The compiler may emit these itself (struct copies, zero-initialisers).
void* memset(void* Destination, int Value, SIZE Size) {
    MemorySet(Destination, (U8)Value, Size);
    return Destination;
}
void* memcpy(void* Destination, const void* Source, SIZE Size) {
    MemoryCopy(Destination, Source, Size);
    return Destination;
}
void* memmove(void* Destination, const void* Source, SIZE Size) {
    MemoryMove(Destination, Source, Size);
    return Destination;
}
int memcmp(const void* First, const void* Second, SIZE Size) { return MemoryCompare(First, Second, Size); }
#endif

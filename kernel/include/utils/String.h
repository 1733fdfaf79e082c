/*
 * String.h - memory and string helpers for the kernel.
 *
 * Pure functions with no kernel state: built into the kernel and, unchanged,
 * into the host unit tests. The compiler may emit calls to memset, memcpy,
 * memmove and memcmp on its own, so String.c defines those names too (kernel
 * build only).
 */

#ifndef UTILS_STRING_H_INCLUDED
#define UTILS_STRING_H_INCLUDED

#include "Base.h"

void MemorySet(LPVOID Destination, U8 Value, SIZE Size);
void MemoryCopy(LPVOID Destination, LPCVOID Source, SIZE Size);
void MemoryMove(LPVOID Destination, LPCVOID Source, SIZE Size);
I32 MemoryCompare(LPCVOID First, LPCVOID Second, SIZE Size);

SIZE StringLength(LPCSTR Text);
SIZE StringLengthBounded(LPCSTR Text, SIZE Maximum);
I32 StringCompare(LPCSTR First, LPCSTR Second);
I32 StringCompareBounded(LPCSTR First, LPCSTR Second, SIZE Maximum);
I32 StringCompareNoCase(LPCSTR First, LPCSTR Second);
/** Copies at most Size-1 characters and always terminates; returns the length of Source. */
SIZE StringCopy(LPSTR Destination, LPCSTR Source, SIZE Size);
/** Appends within a buffer of Size bytes, always terminated; returns the length it tried to create. */
SIZE StringAppend(LPSTR Destination, LPCSTR Source, SIZE Size);
LPCSTR StringFindChar(LPCSTR Text, char Character);
BOOL StringStartsWith(LPCSTR Text, LPCSTR Prefix);

char CharToLower(char C);
char CharToUpper(char C);
BOOL CharIsDigit(char C);
BOOL CharIsSpace(char C);
BOOL CharIsPrintable(char C);

/**
 * Parses an unsigned number: decimal, or hex with 0x. Optional size suffix
 * (k, M, G: powers of 1024) when AllowSuffix. Returns FALSE on any junk,
 * an empty string or overflow.
 */
BOOL StringToU64(LPCSTR Text, U64* Value, BOOL AllowSuffix);
BOOL StringToU64Base(LPCSTR Text, U32 Base, U64* Value);

#endif  // UTILS_STRING_H_INCLUDED

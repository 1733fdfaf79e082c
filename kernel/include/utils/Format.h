/*
 * Format.h - printf-style formatting into a bounded buffer.
 *
 * Supports %d %i %u %x %X %o %p %s %c %%, the flags '-', '0', '+', ' ',
 * field width and precision (also '*'), and the length modifiers hh, h, l,
 * ll, z. Output is always terminated; the return value is the length the
 * full output would have had (like C99 vsnprintf), so callers can detect
 * truncation.
 */

#ifndef UTILS_FORMAT_H_INCLUDED
#define UTILS_FORMAT_H_INCLUDED

#include "Base.h"

SIZE StringPrintFormatV(LPSTR Buffer, SIZE Size, LPCSTR Format, VA_LIST Arguments);
SIZE StringPrintFormat(LPSTR Buffer, SIZE Size, LPCSTR Format, ...) PRINTF_LIKE(3, 4);

/** Formats a byte count with a binary unit (B, KiB, MiB, GiB, TiB) and one decimal. */
void FormatByteSize(LPSTR Buffer, SIZE Size, U64 Bytes);

#endif  // UTILS_FORMAT_H_INCLUDED

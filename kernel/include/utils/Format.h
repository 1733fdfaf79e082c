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

/*
 * Byte counts for people: the one formatter every command and view uses.
 * Units are powers of 1024 (B KiB MiB GiB TiB PiB EiB) unless the style has
 * FORMAT_SIZE_DECIMAL (powers of 1000: B kB MB GB TB PB EB). The form:
 *   FORMAT_SIZE_TENTHS  one decimal, truncated: "512 B", "1.5 KiB" (mem, cache, views)
 *   FORMAT_SIZE_FIXED2  two decimals, rounded: "1.50 GiB", "64.00 MB" (disk, nvme list)
 *   FORMAT_SIZE_HUMAN   coreutils' human_readable autoscale, rounded: "512 B", "1.0 MB", "105 MiB" (dd)
 *   FORMAT_SIZE_EXACT   the largest unit that divides the count, no decimals: "4 KiB", "512 B";
 *                       with FORMAT_SIZE_COMPACT the unit's letter only, lspci's "4K", "1M", "512"
 */
#define FORMAT_SIZE_TENTHS 0x00
#define FORMAT_SIZE_FIXED2 0x01
#define FORMAT_SIZE_HUMAN 0x02
#define FORMAT_SIZE_EXACT 0x03
#define FORMAT_SIZE_FORM_MASK 0x0F
#define FORMAT_SIZE_DECIMAL 0x10
#define FORMAT_SIZE_COMPACT 0x20
void FormatByteSize(LPSTR Buffer, SIZE Size, U64 Bytes, U32 Style);

#endif  // UTILS_FORMAT_H_INCLUDED

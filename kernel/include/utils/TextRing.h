/*
 * TextRing.h - a ring buffer of text lines (the kernel log's memory).
 *
 * Pure logic over a caller-provided byte array. Whole lines are stored with
 * their terminating zero; when space runs out the oldest lines are dropped.
 * A line longer than the ring is truncated to fit.
 */

#ifndef UTILS_TEXTRING_H_INCLUDED
#define UTILS_TEXTRING_H_INCLUDED

#include "Base.h"

typedef struct tag_TEXT_RING {
    char* Data;
    U32 Size;      // bytes in Data
    U32 Head;      // offset of the oldest line
    U32 Used;      // bytes in use
    U32 Lines;     // lines stored
    U64 Dropped;   // lines dropped to make room
} TEXT_RING;

void TextRingInit(TEXT_RING* Ring, char* Data, U32 Size);
void TextRingAppend(TEXT_RING* Ring, LPCSTR Line);
/** Calls Visitor for each line, oldest first, with a copy no longer than LineBuffer allows. */
void TextRingVisit(const TEXT_RING* Ring, char* LineBuffer, U32 LineBufferSize,
                   void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context);

#endif  // UTILS_TEXTRING_H_INCLUDED

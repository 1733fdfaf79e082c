/*
 * TextRing.h - a ring buffer of text lines (the kernel log's memory).
 *
 * Pure logic over a caller-provided byte array. Whole lines are stored with
 * their terminating zero; when space runs out the oldest lines are dropped.
 * A line longer than the ring is truncated to fit.
 *
 * Lines are numbered in the order they were appended (the first is 0), so a
 * reader can walk the ring a line at a time with a TEXT_RING_CURSOR and let
 * go of the caller's lock between lines: lines dropped meanwhile are simply
 * skipped. The ring itself takes no lock; the caller serialises access.
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
    U64 Dropped;   // lines dropped to make room (also the number of the oldest stored line)
} TEXT_RING;

/** Where a reader is: the number of the next line and its offset (valid while that line is stored). */
typedef struct tag_TEXT_RING_CURSOR {
    U64 Sequence;
    U32 Offset;
    BOOL Started;
} TEXT_RING_CURSOR;

void TextRingInit(TEXT_RING* Ring, char* Data, U32 Size);
void TextRingAppend(TEXT_RING* Ring, LPCSTR Line);
/** Calls Visitor for each line, oldest first, with a copy no longer than LineBuffer allows. */
void TextRingVisit(const TEXT_RING* Ring, char* LineBuffer, U32 LineBufferSize,
                   void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context);

/** Prepares Cursor to read from the oldest line still stored. */
void TextRingCursorInit(TEXT_RING_CURSOR* Cursor);
/**
 * Copies the line at Cursor into LineBuffer (truncated, always terminated)
 * and advances. Returns FALSE when there is no further line. If lines the
 * cursor had not reached were dropped, *Skipped (if not NULL) gets how many.
 */
BOOL TextRingRead(const TEXT_RING* Ring, TEXT_RING_CURSOR* Cursor, char* LineBuffer, U32 LineBufferSize,
                  U64* Skipped);

#endif  // UTILS_TEXTRING_H_INCLUDED

/*
 * TextRing.c - a ring of zero-terminated text lines (see TextRing.h).
 *
 * The bytes of Data form a circle: the oldest line starts at Head and Used
 * bytes follow it, each line ending with its zero. Appending drops whole
 * lines from the head until the new line fits, so the ring always holds
 * complete lines and a reader never sees half of one. Lines never move once
 * written, which is what lets a cursor keep a plain offset.
 */

#include "utils/TextRing.h"

#include "utils/String.h"

void TextRingInit(TEXT_RING* Ring, char* Data, U32 Size) {
    Ring->Data = Data;
    Ring->Size = Data != NULL ? Size : 0;
    Ring->Head = 0;
    Ring->Used = 0;
    Ring->Lines = 0;
    Ring->Dropped = 0;
}

static U32 RingNext(const TEXT_RING* Ring, U32 Offset) { return Offset + 1 == Ring->Size ? 0 : Offset + 1; }

/** Removes the oldest line. */
static void DropOldest(TEXT_RING* Ring) {
    if (Ring->Lines == 0) return;
    U32 Offset = Ring->Head;
    U32 Count = 0;
    // Every stored line ends with a zero inside Used, so this stops within Used bytes.
    while (Count < Ring->Used) {
        char C = Ring->Data[Offset];
        Offset = RingNext(Ring, Offset);
        Count++;
        if (C == 0) break;
    }
    Ring->Head = Offset;
    Ring->Used -= Count;
    Ring->Lines--;
    Ring->Dropped++;
    // Head is not reset when the ring empties: a cursor at the end keeps pointing where the next line goes.
}

void TextRingAppend(TEXT_RING* Ring, LPCSTR Line) {
    if (Ring->Size < 2 || Line == NULL) return;
    U32 Length = (U32)StringLengthBounded(Line, Ring->Size - 1);
    while (Ring->Used + Length + 1 > Ring->Size) DropOldest(Ring);

    U32 Offset = Ring->Head + Ring->Used;
    if (Offset >= Ring->Size) Offset -= Ring->Size;
    for (U32 I = 0; I < Length; I++) {
        Ring->Data[Offset] = Line[I];
        Offset = RingNext(Ring, Offset);
    }
    Ring->Data[Offset] = 0;
    Ring->Used += Length + 1;
    Ring->Lines++;
}

/** Copies the line at Offset into LineBuffer; returns the offset of the next line. */
static U32 CopyLine(const TEXT_RING* Ring, U32 Offset, char* LineBuffer, U32 LineBufferSize) {
    U32 Written = 0;
    for (U32 Count = 0; Count < Ring->Size; Count++) {
        char C = Ring->Data[Offset];
        Offset = RingNext(Ring, Offset);
        if (C == 0) break;
        if (Written + 1 < LineBufferSize) LineBuffer[Written++] = C;
    }
    if (LineBufferSize != 0) LineBuffer[Written] = 0;
    return Offset;
}

void TextRingVisit(const TEXT_RING* Ring, char* LineBuffer, U32 LineBufferSize,
                   void (*Visitor)(LPCSTR Line, LPVOID Context), LPVOID Context) {
    if (LineBuffer == NULL || LineBufferSize == 0 || Visitor == NULL) return;
    U32 Offset = Ring->Head;
    for (U32 Line = 0; Line < Ring->Lines; Line++) {
        Offset = CopyLine(Ring, Offset, LineBuffer, LineBufferSize);
        Visitor(LineBuffer, Context);
    }
}

void TextRingCursorInit(TEXT_RING_CURSOR* Cursor) {
    Cursor->Sequence = 0;
    Cursor->Offset = 0;
    Cursor->Started = FALSE;
}

BOOL TextRingRead(const TEXT_RING* Ring, TEXT_RING_CURSOR* Cursor, char* LineBuffer, U32 LineBufferSize,
                  U64* Skipped) {
    if (Skipped != NULL) *Skipped = 0;
    if (LineBuffer == NULL || LineBufferSize == 0) return FALSE;
    LineBuffer[0] = 0;

    if (!Cursor->Started || Cursor->Sequence < Ring->Dropped) {
        // First read, or the lines the cursor pointed into were dropped: restart at the oldest.
        if (Cursor->Started && Skipped != NULL) *Skipped = Ring->Dropped - Cursor->Sequence;
        Cursor->Sequence = Ring->Dropped;
        Cursor->Offset = Ring->Head;
        Cursor->Started = TRUE;
    }
    if (Cursor->Sequence >= Ring->Dropped + Ring->Lines) return FALSE;

    Cursor->Offset = CopyLine(Ring, Cursor->Offset, LineBuffer, LineBufferSize);
    Cursor->Sequence++;
    return TRUE;
}

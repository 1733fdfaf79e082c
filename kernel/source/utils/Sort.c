/*
 * Sort.c - heap sort of fixed-size records (see Sort.h).
 *
 * The array is first arranged as a max-heap (each record not before its
 * children), then the top is swapped to the end and the heap shrinks.
 */

#include "utils/Sort.h"

#include "utils/String.h"

#define SORT_MAX_RECORD 64

static void SortSwap(U8* A, U8* B, SIZE Size) {
    U8 Keep[SORT_MAX_RECORD];
    MemoryCopy(Keep, A, Size);
    MemoryCopy(A, B, Size);
    MemoryCopy(B, Keep, Size);
}

/** Moves the record at Root down until neither child should follow it. */
static void SortSiftDown(U8* Base, SIZE Root, SIZE Count, SIZE Size, SORT_BEFORE Before) {
    for (SIZE Child; (Child = 2 * Root + 1) < Count; Root = Child) {
        if (Child + 1 < Count && Before(Base + Child * Size, Base + (Child + 1) * Size)) Child++;
        if (!Before(Base + Root * Size, Base + Child * Size)) return;
        SortSwap(Base + Root * Size, Base + Child * Size, Size);
    }
}

void SortRecords(LPVOID Base, SIZE Count, SIZE Size, SORT_BEFORE Before) {
    U8* Records = (U8*)Base;
    if (Count < 2 || Size == 0 || Size > SORT_MAX_RECORD) return;
    for (SIZE Root = Count / 2; Root-- > 0;) SortSiftDown(Records, Root, Count, Size, Before);
    for (SIZE End = Count - 1; End > 0; End--) {
        SortSwap(Records, Records + End * Size, Size);
        SortSiftDown(Records, 0, End, Size, Before);
    }
}

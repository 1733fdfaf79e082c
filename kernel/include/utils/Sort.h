/*
 * Sort.h - an in-place sort of an array of fixed-size records.
 *
 * Heap sort: no recursion, no allocation, O(n log n) whatever order the
 * records come in (a journal or a crafted image chooses that order, so the
 * worst case matters more than the average). Not stable: callers that need
 * an order among equal keys put it in the comparison. Pure, no lock.
 */

#ifndef UTILS_SORT_H_INCLUDED
#define UTILS_SORT_H_INCLUDED

#include "Base.h"

/** TRUE when record A must come before record B. */
typedef BOOL (*SORT_BEFORE)(LPCVOID A, LPCVOID B);

/** Sorts Count records of Size bytes (at most 64) at Base so that no record comes before one it should follow. */
void SortRecords(LPVOID Base, SIZE Count, SIZE Size, SORT_BEFORE Before);

#endif  // UTILS_SORT_H_INCLUDED

/*
 * Test-Heap.c - the heap allocator on a host buffer. The buffer past the
 * heap's end is poisoned for AddressSanitizer until the growth callback
 * "maps" it, so the allocator touching memory it does not own fails the
 * test. Covers alignment, growth, growth failure, coalescing, bad frees,
 * HeapCheck, and a long seeded random run against a shadow model.
 */
// SOURCES: memory/Heap.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include "memory/Heap.h"

#define REGION_SIZE (4 * N_1MB)

static HEAP Heap;
static U8* Region;
static LINEAR Mapped;      // end of what the callback has "mapped"
static U32 GrowCalls;
static U64 GrowBytes;      // total asked for
static BOOL GrowFails;

static BOOL TestGrow(LPVOID Context, LINEAR End, U64 Bytes) {
    assert_ptr_equal(Context, &Heap);
    assert_int_equal(End, Mapped);  // always grows at the end
    assert_true(Bytes > 0 && IS_ALIGNED(Bytes, HEAP_ALIGNMENT));
    assert_true(End + Bytes <= (LINEAR)Region + REGION_SIZE);
    GrowCalls++;
    if (GrowFails) return FALSE;
    ASAN_UNPOISON_MEMORY_REGION((void*)End, Bytes);
    Mapped += Bytes;
    GrowBytes += Bytes;
    return TRUE;
}

static void Setup(U64 LimitBytes) {
    if (Region == NULL) {
        Region = aligned_alloc(4096, REGION_SIZE);
        assert_non_null(Region);
    }
    ASAN_UNPOISON_MEMORY_REGION(Region, REGION_SIZE);
    memset(Region, 0xCC, REGION_SIZE);
    ASAN_POISON_MEMORY_REGION(Region, REGION_SIZE);
    Mapped = (LINEAR)Region;
    GrowCalls = 0;
    GrowBytes = 0;
    GrowFails = FALSE;
    HeapInit(&Heap, (LINEAR)Region, (LINEAR)Region + LimitBytes, TestGrow, &Heap);
}

static int Teardown(void** State) {
    (void)State;
    if (Region) ASAN_UNPOISON_MEMORY_REGION(Region, REGION_SIZE);
    free(Region);
    Region = NULL;
    return 0;
}

static U32 FreeBlockCount(void) {
    U32 Count = 0;
    for (LPVOID* Block = Heap.FreeList; Block; Block = (LPVOID*)Block[HEAP_HEADER_SIZE / sizeof(LPVOID)]) Count++;
    return Count;
}

static void TestAllocFree(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    assert_null(HeapAlloc(&Heap, 0));
    U8* A = HeapAlloc(&Heap, 100);
    assert_non_null(A);
    assert_true((LINEAR)A > (LINEAR)Region && (LINEAR)A < Mapped);
    memset(A, 0x11, 100);
    assert_true(HeapBlockSize(A) >= 100);
    assert_int_equal(Heap.Allocations, 1);
    assert_true(Heap.UsedBytes >= 100 + HEAP_HEADER_SIZE);
    U8* B = HeapAlloc(&Heap, 200);
    assert_non_null(B);
    assert_true(B >= A + 100 || B + 200 <= A);  // no overlap
    assert_true(HeapCheck(&Heap));
    assert_true(HeapFree(&Heap, A));
    assert_true(HeapFree(&Heap, B));
    assert_int_equal(Heap.Allocations, 0);
    assert_int_equal(Heap.UsedBytes, 0);
    assert_true(HeapCheck(&Heap));
    // Everything merged back into one block; the same request gets the same address.
    assert_int_equal(FreeBlockCount(), 1);
    assert_ptr_equal(HeapAlloc(&Heap, 100), A);
    assert_null(HeapAlloc(&Heap, REGION_SIZE));  // bigger than the whole window
}

static void TestAlignment(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    for (SIZE Size = 1; Size <= 300; Size++) {
        U8* P = HeapAlloc(&Heap, Size);
        assert_non_null(P);
        assert_true(IS_ALIGNED((LINEAR)P, HEAP_ALIGNMENT));
        assert_true(HeapBlockSize(P) >= Size);
        memset(P, (int)Size, Size);
        if (Size % 3 == 0) assert_true(HeapFree(&Heap, P));
    }
    assert_true(HeapCheck(&Heap));
}

static void TestGrowth(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    assert_int_equal(GrowCalls, 0);
    LPVOID A = HeapAlloc(&Heap, 10);
    assert_non_null(A);
    assert_int_equal(GrowCalls, 1);
    assert_int_equal(Heap.End, Mapped);
    assert_int_equal(Heap.End - Heap.Start, HEAP_GROW_UNIT);
    // Fits in what is mapped: no growth.
    assert_non_null(HeapAlloc(&Heap, 1000));
    assert_int_equal(GrowCalls, 1);
    // Larger than what is left: grows by whole units, extending the last free block.
    LPVOID Big = HeapAlloc(&Heap, 3 * HEAP_GROW_UNIT);
    assert_non_null(Big);
    assert_int_equal(GrowCalls, 2);
    assert_true(IS_ALIGNED(Heap.End - Heap.Start, HEAP_GROW_UNIT));
    assert_true(Heap.End - Heap.Start <= 4 * HEAP_GROW_UNIT + HEAP_GROW_UNIT);
    memset(Big, 0x5A, 3 * HEAP_GROW_UNIT);  // ASan: all of it was mapped
    assert_true(HeapCheck(&Heap));
}

static void TestGrowthFailure(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    LPVOID A = HeapAlloc(&Heap, 64);
    assert_non_null(A);
    LINEAR End = Heap.End;
    GrowFails = TRUE;
    assert_null(HeapAlloc(&Heap, 2 * HEAP_GROW_UNIT));
    assert_int_equal(Heap.End, End);
    assert_true(HeapCheck(&Heap));
    // Small requests still come from what is mapped.
    assert_non_null(HeapAlloc(&Heap, 64));
    GrowFails = FALSE;
    // Past the limit the callback is not even asked.
    Setup(2 * HEAP_GROW_UNIT);
    assert_null(HeapAlloc(&Heap, 3 * HEAP_GROW_UNIT));
    assert_int_equal(GrowCalls, 0);
    // Up to the limit exactly works.
    assert_non_null(HeapAlloc(&Heap, 2 * HEAP_GROW_UNIT - HEAP_HEADER_SIZE));
    assert_null(HeapAlloc(&Heap, 1));
    // A heap without a callback never grows.
    HeapInit(&Heap, (LINEAR)Region, (LINEAR)Region + REGION_SIZE, NULL, NULL);
    assert_null(HeapAlloc(&Heap, 1));
}

static void TestCoalescing(void** State) {
    (void)State;
    Setup(HEAP_GROW_UNIT);  // one unit: A, B, C and a tail fill it
    U8* A = HeapAlloc(&Heap, 1000);
    U8* B = HeapAlloc(&Heap, 1000);
    U8* C = HeapAlloc(&Heap, 1000);
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(C);
    assert_null(HeapAlloc(&Heap, 2000));  // no room left anywhere
    assert_true(HeapFree(&Heap, B));
    assert_null(HeapAlloc(&Heap, 2000));
    assert_true(HeapFree(&Heap, A));  // A+B merge
    assert_true(HeapCheck(&Heap));
    assert_true(HeapFree(&Heap, C));  // A+B+C+tail merge
    assert_true(HeapCheck(&Heap));
    assert_int_equal(FreeBlockCount(), 1);
    U8* Large = HeapAlloc(&Heap, HEAP_GROW_UNIT - HEAP_HEADER_SIZE);
    assert_ptr_equal(Large, A);
    memset(Large, 0x77, HEAP_GROW_UNIT - HEAP_HEADER_SIZE);
    assert_int_equal(GrowCalls, 1);
}

static void TestBadFree(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    U8* A = HeapAlloc(&Heap, 48);
    U8* B = HeapAlloc(&Heap, 48);
    U8* C = HeapAlloc(&Heap, 48);
    U64 Used = Heap.UsedBytes;
    assert_true(HeapFree(&Heap, B));
    assert_false(HeapFree(&Heap, B));  // double free of a free block
    assert_int_equal(Heap.Errors, 1);
    assert_true(HeapFree(&Heap, A));   // B merges into A: B's header is gone
    assert_false(HeapFree(&Heap, B));  // double free of a merged block
    assert_false(HeapFree(&Heap, A));
    assert_false(HeapFree(&Heap, C + 16));  // inside a block
    assert_false(HeapFree(&Heap, C + 1));   // misaligned
    assert_false(HeapFree(&Heap, Region + REGION_SIZE / 2));  // past the end
    int Local;
    assert_false(HeapFree(&Heap, &Local));  // not the heap at all
    assert_false(HeapFree(&Heap, NULL));
    // A copy of a live header inside another block (user data that looks like one) is refused.
    U8* D = HeapAlloc(&Heap, 256);
    memcpy(D + 64, C - HEAP_HEADER_SIZE, HEAP_HEADER_SIZE);
    assert_false(HeapFree(&Heap, D + 64 + HEAP_HEADER_SIZE));
    assert_int_equal(HeapBlockSize(D + 64 + HEAP_HEADER_SIZE), 0);
    assert_true(HeapFree(&Heap, D));
    assert_int_equal(Heap.Errors, 8);
    assert_int_equal(HeapBlockSize(B), 0);
    assert_int_equal(Heap.UsedBytes, Used - 2 * (Used / 3));
    assert_true(HeapCheck(&Heap));
    assert_true(HeapFree(&Heap, C));
    assert_int_equal(Heap.UsedBytes, 0);
    assert_true(HeapCheck(&Heap));
}

static void TestHeapCheckDetects(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    U8* A = HeapAlloc(&Heap, 64);
    U8* B = HeapAlloc(&Heap, 64);
    assert_non_null(B);
    assert_true(HeapCheck(&Heap));
    // An overrun of A into B's header.
    U8 Saved[HEAP_HEADER_SIZE];
    memcpy(Saved, B - HEAP_HEADER_SIZE, sizeof(Saved));
    memset(A, 0x41, 64 + 8);
    assert_false(HeapCheck(&Heap));
    assert_false(HeapFree(&Heap, B));  // refused, not trusted
    memcpy(B - HEAP_HEADER_SIZE, Saved, sizeof(Saved));
    assert_true(HeapCheck(&Heap));
    // Counters that disagree with the blocks.
    Heap.Allocations++;
    assert_false(HeapCheck(&Heap));
    Heap.Allocations--;
    assert_true(HeapFree(&Heap, B));
    assert_true(HeapCheck(&Heap));
}

#define SLOTS 200

typedef struct {
    U8* Pointer;
    SIZE Size;
    U8 Fill;
} SHADOW;

static U32 Random(U32* Seed) {
    *Seed = *Seed * 1664525U + 1013904223U;
    return *Seed >> 8;
}

static void CheckContents(const SHADOW* Slot) {
    for (SIZE Index = 0; Index < Slot->Size; Index++) {
        if (Slot->Pointer[Index] != (U8)(Slot->Fill + Index)) {
            fail_msg("block %p corrupted at %zu", (void*)Slot->Pointer, (size_t)Index);
        }
    }
}

static void TestRandomAgainstShadow(void** State) {
    (void)State;
    Setup(REGION_SIZE);
    SHADOW Slots[SLOTS];
    memset(Slots, 0, sizeof(Slots));
    U32 Seed = 0xC0FFEE;
    U64 LiveBytes = 0;
    U32 Live = 0, Failures = 0;
    for (U32 Step = 0; Step < 30000; Step++) {
        SHADOW* Slot = &Slots[Random(&Seed) % SLOTS];
        if (Slot->Pointer) {
            CheckContents(Slot);
            assert_true(HeapFree(&Heap, Slot->Pointer));
            LiveBytes -= Slot->Size;
            Live--;
            Slot->Pointer = NULL;
        } else {
            U32 Kind = Random(&Seed) % 16;
            SIZE Size = Kind == 0 ? 4096 + Random(&Seed) % 60000 : 1 + Random(&Seed) % 600;
            Slot->Pointer = HeapAlloc(&Heap, Size);
            if (Slot->Pointer == NULL) {
                Failures++;  // only possible when the window is full
                continue;
            }
            assert_true(IS_ALIGNED((LINEAR)Slot->Pointer, HEAP_ALIGNMENT));
            Slot->Size = Size;
            Slot->Fill = (U8)Random(&Seed);
            for (SIZE Index = 0; Index < Size; Index++) Slot->Pointer[Index] = (U8)(Slot->Fill + Index);
            LiveBytes += Size;
            Live++;
        }
        assert_int_equal(Heap.Allocations, Live);
        assert_true(Heap.UsedBytes >= LiveBytes + (U64)Live * HEAP_HEADER_SIZE);
        if (Step % 500 == 0) assert_true(HeapCheck(&Heap));
    }
    assert_true(Failures < 100);
    for (U32 Index = 0; Index < SLOTS; Index++) {
        if (Slots[Index].Pointer == NULL) continue;
        CheckContents(&Slots[Index]);
        assert_true(HeapFree(&Heap, Slots[Index].Pointer));
    }
    assert_int_equal(Heap.UsedBytes, 0);
    assert_int_equal(Heap.Allocations, 0);
    assert_int_equal(Heap.Errors, 0);
    assert_true(HeapCheck(&Heap));
    // Everything coalesced into one block spanning what was mapped.
    assert_int_equal(FreeBlockCount(), 1);
    assert_ptr_equal(Heap.FreeList, Region);
    assert_int_equal(*(U64*)Region, Heap.End - Heap.Start);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_teardown(TestAllocFree, Teardown),
        cmocka_unit_test_teardown(TestAlignment, Teardown),
        cmocka_unit_test_teardown(TestGrowth, Teardown),
        cmocka_unit_test_teardown(TestGrowthFailure, Teardown),
        cmocka_unit_test_teardown(TestCoalescing, Teardown),
        cmocka_unit_test_teardown(TestBadFree, Teardown),
        cmocka_unit_test_teardown(TestHeapCheckDetects, Teardown),
        cmocka_unit_test_teardown(TestRandomAgainstShadow, Teardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

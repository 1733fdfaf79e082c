/*
 * Test-Frame.c - the physical frame allocator on host memory: release and
 * reserve bookkeeping, refusal of reserved frames, frame 0, aligned runs,
 * the physical limit with memory above 4 GiB, exhaustion and bad frees.
 */
// SOURCES: memory/Frame.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "memory/Frame.h"

#define MB(x) ((U64)(x) * N_1MB)
#define GB(x) ((U64)(x) * N_1GB)

static FRAME_ALLOCATOR Allocator;
static U8* Bitmap;

/** An allocator covering Bytes of physical space, everything reserved. */
static void Setup(U64 Bytes) {
    U64 Frames = Bytes / PAGE_SIZE;
    free(Bitmap);
    Bitmap = malloc(FrameAllocatorBitmapBytes(Frames));
    assert_non_null(Bitmap);
    FrameAllocatorInit(&Allocator, Bitmap, Frames);
}

static int Teardown(void** State) {
    (void)State;
    free(Bitmap);
    Bitmap = NULL;
    return 0;
}

/** Free frames counted from the bitmap, to check the FreeFrames counter against. */
static U64 CountFree(void) {
    U64 Count = 0;
    for (U64 Frame = 0; Frame < Allocator.FrameCount; Frame++) {
        if (!FrameAllocatorIsUsed(&Allocator, Frame * PAGE_SIZE)) Count++;
    }
    return Count;
}

static void TestInit(void** State) {
    (void)State;
    assert_int_equal(FrameAllocatorBitmapBytes(1), 8);
    assert_int_equal(FrameAllocatorBitmapBytes(64), 8);
    assert_int_equal(FrameAllocatorBitmapBytes(65), 16);
    Setup(MB(64));
    assert_int_equal(Allocator.FrameCount, MB(64) / PAGE_SIZE);
    assert_int_equal(Allocator.FreeFrames, 0);
    assert_int_equal(Allocator.UsableFrames, 0);
    assert_int_equal(CountFree(), 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0), 0);
    // Out of range addresses count as used.
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(64)));
}

static void TestReleaseReserveOverlap(void** State) {
    (void)State;
    Setup(MB(64));
    FrameAllocatorReleaseRange(&Allocator, 0, MB(16));
    assert_int_equal(Allocator.FreeFrames, MB(16) / PAGE_SIZE - 1);  // not frame 0
    assert_true(FrameAllocatorIsUsed(&Allocator, 0));
    // Overlapping release counts only the new frames.
    FrameAllocatorReleaseRange(&Allocator, MB(8), MB(16));
    assert_int_equal(Allocator.FreeFrames, MB(24) / PAGE_SIZE - 1);
    assert_int_equal(Allocator.UsableFrames, MB(24) / PAGE_SIZE - 1);
    // Overlapping reserves.
    FrameAllocatorReserveRange(&Allocator, MB(1), MB(1));
    FrameAllocatorReserveRange(&Allocator, MB(1) + MB(1) / 2, MB(1) + MB(1) / 2);
    assert_int_equal(Allocator.FreeFrames, MB(22) / PAGE_SIZE - 1);
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(1)));
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(3) - PAGE_SIZE));
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(3)));
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(1) - PAGE_SIZE));
    // Reserve takes every frame it touches: one byte in the middle of a frame.
    FrameAllocatorReserveRange(&Allocator, MB(4) + 100, 1);
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(4)));
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(4) + PAGE_SIZE));
    // Release takes only whole frames: [32M+1, 32M+3*4K+1) holds two whole frames.
    U64 Before = Allocator.FreeFrames;
    FrameAllocatorReleaseRange(&Allocator, MB(32) + 1, 3 * PAGE_SIZE);
    assert_int_equal(Allocator.FreeFrames, Before + 2);
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(32)));
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(32) + PAGE_SIZE));
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(32) + 2 * PAGE_SIZE));
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(32) + 3 * PAGE_SIZE));
    // Ranges past the bitmap are clipped; huge sizes do not wrap.
    FrameAllocatorReleaseRange(&Allocator, MB(60), MAX_U64);
    FrameAllocatorReserveRange(&Allocator, MB(62), MAX_U64);
    assert_false(FrameAllocatorIsUsed(&Allocator, MB(60)));
    assert_true(FrameAllocatorIsUsed(&Allocator, MB(62)));
    assert_int_equal(Allocator.FreeFrames, CountFree());
}

static void TestReservedRefused(void** State) {
    (void)State;
    Setup(MB(8));
    FrameAllocatorReleaseRange(&Allocator, 0, MB(8));
    // Like the kernel: first MiB, an "image", a "boot information" page.
    FrameAllocatorReserveRange(&Allocator, 0, MB(1));
    FrameAllocatorReserveRange(&Allocator, MB(2), MB(1) + 123);
    FrameAllocatorReserveRange(&Allocator, MB(5) + 0x800, 0x1000);
    U64 Expected = Allocator.FreeFrames;
    assert_int_equal(Expected, (MB(8) - MB(1) - (MB(1) + PAGE_SIZE) - 2 * PAGE_SIZE) / PAGE_SIZE);
    U64 Count = 0;
    for (;;) {
        PHYSICAL Frame = FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0);
        if (Frame == 0) break;
        Count++;
        assert_true(Frame >= MB(1));
        assert_false(Frame >= MB(2) && Frame < MB(3) + PAGE_SIZE);
        assert_false(Frame >= MB(5) && Frame < MB(5) + 2 * PAGE_SIZE);
        assert_true(FrameAllocatorIsUsed(&Allocator, Frame));
    }
    assert_int_equal(Count, Expected);
    assert_int_equal(Allocator.FreeFrames, 0);
}

static void TestFrameZeroNeverReturned(void** State) {
    (void)State;
    Setup(64 * PAGE_SIZE);
    FrameAllocatorReleaseRange(&Allocator, 0, 16 * PAGE_SIZE);
    assert_int_equal(Allocator.FreeFrames, 15);
    for (U32 Index = 0; Index < 15; Index++) {
        PHYSICAL Frame = FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0);
        assert_int_not_equal(Frame, 0);
        assert_true(Frame < 16 * PAGE_SIZE);
    }
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0), 0);
    // Frame 0 cannot be freed into the pool either, nor allocated as part of a run.
    assert_false(FrameAllocatorFree(&Allocator, 0, 1));
    assert_true(FrameAllocatorFree(&Allocator, PAGE_SIZE, 3));
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 4, PAGE_SIZE, 0), 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 3, PAGE_SIZE, 0), PAGE_SIZE);
}

static void TestContiguousAligned(void** State) {
    (void)State;
    Setup(MB(64));
    FrameAllocatorReleaseRange(&Allocator, 0, MB(64));
    // Fragment the space: every 7th frame reserved below 16 MiB.
    for (PHYSICAL Address = 0; Address < MB(16); Address += 7 * PAGE_SIZE) {
        FrameAllocatorReserveRange(&Allocator, Address, PAGE_SIZE);
    }
    for (U64 Alignment = PAGE_SIZE; Alignment <= N_2MB; Alignment <<= 1) {
        for (U64 Count = 1; Count <= 9; Count += 4) {
            U64 FreeBefore = Allocator.FreeFrames;
            PHYSICAL Base = FrameAllocatorAllocate(&Allocator, Count, Alignment, 0);
            assert_int_not_equal(Base, 0);
            assert_true(IS_ALIGNED(Base, Alignment));
            assert_int_equal(Allocator.FreeFrames, FreeBefore - Count);
            for (U64 Index = 0; Index < Count; Index++) {
                assert_true(FrameAllocatorIsUsed(&Allocator, Base + Index * PAGE_SIZE));
                // Never on one of the reserved frames.
                assert_false(Base + Index * PAGE_SIZE < MB(16) && ((Base / PAGE_SIZE + Index) % 7) == 0);
            }
        }
    }
    // A run longer than any gap below 16 MiB comes from above it.
    PHYSICAL Big = FrameAllocatorAllocate(&Allocator, 7, PAGE_SIZE, 0);
    assert_true(Big >= MB(16));
    // Bad alignments are refused.
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, 3 * PAGE_SIZE, 0), 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 0, PAGE_SIZE, 0), 0);
    // A 2 MiB aligned 2 MiB run, freed and allocated again, comes back the same.
    PHYSICAL Run = FrameAllocatorAllocate(&Allocator, 512, N_2MB, 0);
    assert_int_not_equal(Run, 0);
    assert_true(IS_ALIGNED(Run, N_2MB));
    assert_true(FrameAllocatorFree(&Allocator, Run, 512));
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 512, N_2MB, 0), Run);
    assert_int_equal(Allocator.FreeFrames, CountFree());
}

static void TestLimitBelow4GB(void** State) {
    (void)State;
    // RAM as q35 lays it out with 6 GiB: 2 GiB low, the rest from 4 GiB.
    Setup(GB(6));
    FrameAllocatorReleaseRange(&Allocator, MB(1), GB(2) - MB(1));
    FrameAllocatorReleaseRange(&Allocator, GB(4), GB(2));
    assert_int_equal(Allocator.FreeFrames, (GB(4) - MB(1)) / PAGE_SIZE);
    // Exhaust what lies below 4 GiB with 4 MiB runs, checking each.
    U64 Below = 0;
    for (;;) {
        PHYSICAL Run = FrameAllocatorAllocate(&Allocator, 1024, PAGE_SIZE, N_4GB);
        if (Run == 0) break;
        assert_true(Run + MB(4) <= N_4GB);
        Below += 1024;
    }
    for (;;) {
        PHYSICAL Frame = FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, N_4GB);
        if (Frame == 0) break;
        assert_true(Frame < N_4GB);
        Below++;
    }
    assert_int_equal(Below, (GB(2) - MB(1)) / PAGE_SIZE);
    // Memory is left, but only above the limit.
    assert_int_equal(Allocator.FreeFrames, GB(2) / PAGE_SIZE);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 16, N_2MB, N_4GB), 0);
    PHYSICAL High = FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0);
    assert_true(High >= GB(4));
    PHYSICAL HighRun = FrameAllocatorAllocate(&Allocator, 512, N_2MB, 0);
    assert_true(HighRun >= GB(4) && IS_ALIGNED(HighRun, N_2MB));
    // A limit that is not page aligned rounds down: the run must end at or below it.
    assert_true(FrameAllocatorFree(&Allocator, MB(8), 4));
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 4, PAGE_SIZE, MB(8) + 4 * PAGE_SIZE - 1), 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 4, PAGE_SIZE, MB(8) + 4 * PAGE_SIZE), MB(8));
}

static void TestExhaustion(void** State) {
    (void)State;
    Setup(MB(1));
    FrameAllocatorReleaseRange(&Allocator, 0, MB(1));
    U64 Total = Allocator.FreeFrames;
    assert_int_equal(FrameAllocatorAllocate(&Allocator, Total + 1, PAGE_SIZE, 0), 0);
    PHYSICAL All = FrameAllocatorAllocate(&Allocator, Total, PAGE_SIZE, 0);
    assert_int_equal(All, PAGE_SIZE);
    assert_int_equal(Allocator.FreeFrames, 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0), 0);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 2, N_2MB, 0), 0);
    assert_true(FrameAllocatorFree(&Allocator, All + 10 * PAGE_SIZE, 1));
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0), All + 10 * PAGE_SIZE);
    assert_int_equal(FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0), 0);
}

static void TestBadFree(void** State) {
    (void)State;
    Setup(MB(4));
    FrameAllocatorReleaseRange(&Allocator, MB(1), MB(3));
    PHYSICAL A = FrameAllocatorAllocate(&Allocator, 4, PAGE_SIZE, 0);
    PHYSICAL B = FrameAllocatorAllocate(&Allocator, 1, PAGE_SIZE, 0);
    assert_int_not_equal(A, 0);
    assert_int_not_equal(B, 0);
    U64 Free = Allocator.FreeFrames;
    assert_true(FrameAllocatorFree(&Allocator, B, 1));
    assert_false(FrameAllocatorFree(&Allocator, B, 1));  // double free
    assert_int_equal(Allocator.FreeFrames, Free + 1);
    // A run with one frame already free is refused as a whole.
    assert_true(FrameAllocatorFree(&Allocator, A + PAGE_SIZE, 1));
    assert_false(FrameAllocatorFree(&Allocator, A, 4));
    assert_true(FrameAllocatorIsUsed(&Allocator, A));
    assert_true(FrameAllocatorIsUsed(&Allocator, A + 2 * PAGE_SIZE));
    assert_int_equal(Allocator.FreeFrames, Free + 2);
    // Unaligned, out of range, empty.
    assert_false(FrameAllocatorFree(&Allocator, A + 1, 1));
    assert_false(FrameAllocatorFree(&Allocator, MB(4), 1));
    assert_false(FrameAllocatorFree(&Allocator, MB(4) - PAGE_SIZE, 2));
    assert_false(FrameAllocatorFree(&Allocator, A, 0));
    assert_int_equal(Allocator.FreeFrames, Free + 2);
    assert_int_equal(Allocator.FreeFrames, CountFree());
}

static void TestBookkeeping(void** State) {
    (void)State;
    Setup(MB(32));
    FrameAllocatorReleaseRange(&Allocator, MB(1), MB(31));
    FrameAllocatorReserveRange(&Allocator, MB(3), MB(2));
    U64 Initial = Allocator.FreeFrames;
    PHYSICAL Held[64];
    U64 Counts[64];
    U32 Seed = 12345;
    for (U32 Round = 0; Round < 2000; Round++) {
        U32 Slot = Round % 64;
        if (Round >= 64 && Held[Slot] != 0) {
            assert_true(FrameAllocatorFree(&Allocator, Held[Slot], Counts[Slot]));
        }
        Seed = Seed * 1103515245U + 12345U;
        Counts[Slot] = 1 + (Seed >> 16) % 20;
        U64 Alignment = PAGE_SIZE << ((Seed >> 8) % 6);
        Held[Slot] = FrameAllocatorAllocate(&Allocator, Counts[Slot], Alignment, 0);
        assert_int_not_equal(Held[Slot], 0);
        assert_true(IS_ALIGNED(Held[Slot], Alignment));
        assert_false(Held[Slot] < MB(5) && Held[Slot] + Counts[Slot] * PAGE_SIZE > MB(3));
        if (Round % 97 == 0) assert_int_equal(Allocator.FreeFrames, CountFree());
    }
    for (U32 Slot = 0; Slot < 64; Slot++) assert_true(FrameAllocatorFree(&Allocator, Held[Slot], Counts[Slot]));
    assert_int_equal(Allocator.FreeFrames, Initial);
    assert_int_equal(CountFree(), Initial);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_teardown(TestInit, Teardown),
        cmocka_unit_test_teardown(TestReleaseReserveOverlap, Teardown),
        cmocka_unit_test_teardown(TestReservedRefused, Teardown),
        cmocka_unit_test_teardown(TestFrameZeroNeverReturned, Teardown),
        cmocka_unit_test_teardown(TestContiguousAligned, Teardown),
        cmocka_unit_test_teardown(TestLimitBelow4GB, Teardown),
        cmocka_unit_test_teardown(TestExhaustion, Teardown),
        cmocka_unit_test_teardown(TestBadFree, Teardown),
        cmocka_unit_test_teardown(TestBookkeeping, Teardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

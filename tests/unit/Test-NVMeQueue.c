// Test-NVMeQueue.c - the NVMe queue engine's pure parts: the CID free list, ring arithmetic at wrap-around,
// the phase tag, doorbell offsets. A small simulated device drives the rings through several wraps.
// SOURCES: storage/nvme/NVMe-Queue.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "storage/nvme/NVMe-Internal.h"

static void test_cid_allocator_basics(void** State) {
    (void)State;
    U16 Links[4];  // NVMeCidRingSize(3)
    U8 Busy[3];
    NVME_CID_ALLOCATOR A;
    U16 Index = 99;
    NVMeCidInit(&A, Links, Busy, 3);  // a queue of depth 4 has 3 trackers
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 0);
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 1);
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 2);
    assert_false(NVMeCidAllocate(&A, &Index));  // full at depth - 1
    assert_int_equal(A.FreeCount, 0);
    assert_true(NVMeCidIsBusy(&A, 1));
    assert_true(NVMeCidFree(&A, 1));
    assert_false(NVMeCidIsBusy(&A, 1));
    assert_false(NVMeCidFree(&A, 1));   // double free refused
    assert_false(NVMeCidFree(&A, 3));   // out of range refused
    assert_false(NVMeCidIsBusy(&A, 3));
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 1);
    assert_false(NVMeCidAllocate(&A, &Index));
    // The free ring's slots: a power of two at or above the capacity (a step is an AND).
    assert_int_equal(NVMeCidRingSize(1), 1);
    assert_int_equal(NVMeCidRingSize(3), 4);
    assert_int_equal(NVMeCidRingSize(4), 4);
    assert_int_equal(NVMeCidRingSize(1023), 1024);
    assert_int_equal(NVMeCidRingSize(NVME_MAX_QUEUE_DEPTH - 1), NVME_MAX_QUEUE_DEPTH);
}

static void test_cid_fifo_order(void** State) {
    (void)State;
    U16 Links[4];
    U8 Busy[4];
    NVME_CID_ALLOCATOR A;
    U16 Index;
    NVMeCidInit(&A, Links, Busy, 4);
    for (U32 I = 0; I < 4; I++) assert_true(NVMeCidAllocate(&A, &Index));
    // Freed in the order 2, 0, 3: handed out again in that order (longest free first).
    assert_true(NVMeCidFree(&A, 2));
    assert_true(NVMeCidFree(&A, 0));
    assert_true(NVMeCidFree(&A, 3));
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 2);
    assert_true(NVMeCidFree(&A, 2));  // goes behind 0 and 3
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 0);
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 3);
    assert_true(NVMeCidAllocate(&A, &Index));
    assert_int_equal(Index, 2);
    assert_false(NVMeCidAllocate(&A, &Index));
}

static void test_cid_generation(void** State) {
    (void)State;
    assert_int_equal(NVMeCidCompose(5, 0), 0x0005);
    assert_int_equal(NVMeCidCompose(5, 3), 0x3005);
    assert_int_equal(NVMeCidCompose(0xFFF, 0xF), 0xFFFF);
    assert_int_equal(NVMeCidCompose(7, 0x13), 0x3007);  // generation wraps at 16
    assert_int_equal(NVMeCidIndex(0x3005), 5);
    assert_int_equal(NVMeCidIndex(0xFFFF), 0xFFF);
    assert_int_not_equal(NVMeCidCompose(9, 1), NVMeCidCompose(9, 2));  // a stale completion differs
}

static void test_ring_wrap(void** State) {
    (void)State;
    assert_int_equal(NVMeRingNext(0, 4), 1);
    assert_int_equal(NVMeRingNext(3, 4), 0);
    assert_int_equal(NVMeRingNext(1023, 1024), 0);
    assert_int_equal(NVMeRingNext(65534, 65535), 0);
    assert_int_equal(NVMeRingUsed(0, 3, 4), 3);
    assert_int_equal(NVMeRingUsed(2, 1, 4), 3);
    assert_int_equal(NVMeRingUsed(3, 3, 4), 0);
    assert_int_equal(NVMeRingUsed(3, 0, 4), 1);
    // Full at depth - 1 entries, wherever the head is.
    assert_true(NVMeSqIsFull(0, 3, 4));
    assert_true(NVMeSqIsFull(2, 1, 4));
    assert_true(NVMeSqIsFull(1, 0, 4));
    assert_false(NVMeSqIsFull(0, 2, 4));
    assert_false(NVMeSqIsFull(3, 3, 4));
}

static void test_phase_flips_at_wrap(void** State) {
    (void)State;
    U16 Head = 0;
    U8 Phase = 1;
    for (U32 I = 0; I < 3; I++) NVMeCqAdvance(&Head, &Phase, 4);
    assert_int_equal(Head, 3);
    assert_int_equal(Phase, 1);
    NVMeCqAdvance(&Head, &Phase, 4);
    assert_int_equal(Head, 0);
    assert_int_equal(Phase, 0);
    for (U32 I = 0; I < 4; I++) NVMeCqAdvance(&Head, &Phase, 4);
    assert_int_equal(Head, 0);
    assert_int_equal(Phase, 1);
}

static void test_doorbells(void** State) {
    (void)State;
    assert_int_equal(NVMeDoorbellOffset(0, FALSE, 0), 0x1000);
    assert_int_equal(NVMeDoorbellOffset(0, TRUE, 0), 0x1004);
    assert_int_equal(NVMeDoorbellOffset(1, FALSE, 0), 0x1008);
    assert_int_equal(NVMeDoorbellOffset(1, TRUE, 0), 0x100C);
    assert_int_equal(NVMeDoorbellOffset(1, FALSE, 2), 0x1020);  // stride 16 bytes
    assert_int_equal(NVMeDoorbellOffset(1, TRUE, 2), 0x1030);
    assert_int_equal(NVMeDoorbellOffset(64, TRUE, 0), 0x1000 + 129 * 4);
}

/*
 * A simulated queue pair of depth 8: the host takes a CID, writes the SQ tail; the device consumes entries and
 * posts completions (out of order) with the phase tag; the host drains with the phase rule. Over 5000 steps and
 * many wraps: never more than depth - 1 outstanding, no CID in flight twice, every completion matches an
 * in-flight command, the SQ never overflows.
 */
#define DEPTH 8

typedef struct {
    U16 Cid;
    U16 Status;  // bit 0: phase
} SIM_CQE;

static void test_simulated_queue_wraps(void** State) {
    (void)State;
    U16 Links[NVME_MAX_QUEUE_DEPTH];  // at least NVMeCidRingSize(DEPTH - 1)
    U8 Busy[DEPTH - 1];
    U16 Generation[DEPTH - 1] = {0};
    NVME_CID_ALLOCATOR A;
    NVMeCidInit(&A, Links, Busy, DEPTH - 1);
    U16 Sq[DEPTH];
    SIM_CQE Cq[DEPTH];
    memset(Cq, 0, sizeof(Cq));
    U16 SqTail = 0, SqHeadDevice = 0, CqTailDevice = 0, CqHead = 0;
    U8 DevicePhase = 1, HostPhase = 1;
    U16 Pending[DEPTH];  // consumed by the device, not yet completed
    U32 PendingCount = 0, Outstanding = 0, Completed = 0, Wraps = 0;
    U32 Seed = 12345;

    for (U32 Step = 0; Step < 5000; Step++) {
        Seed = Seed * 1103515245 + 12345;
        U32 Action = (Seed >> 16) % 3;
        if (Action == 0) {  // host submits as much as it can
            U16 Index;
            while (NVMeCidAllocate(&A, &Index)) {
                assert_false(NVMeSqIsFull(SqHeadDevice, SqTail, DEPTH));  // trackers keep the SQ from overflowing
                Generation[Index] = (U16)((Generation[Index] + 1) & 0xF);
                Sq[SqTail] = NVMeCidCompose(Index, Generation[Index]);
                SqTail = NVMeRingNext(SqTail, DEPTH);
                Outstanding++;
                assert_true(Outstanding <= DEPTH - 1);
            }
        } else if (Action == 1) {  // device consumes entries and completes some, newest first
            while (SqHeadDevice != SqTail) {
                Pending[PendingCount++] = Sq[SqHeadDevice];
                SqHeadDevice = NVMeRingNext(SqHeadDevice, DEPTH);
            }
            U32 Count = PendingCount ? 1 + (Seed >> 8) % PendingCount : 0;
            for (U32 I = 0; I < Count; I++) {
                U16 Cid = Pending[--PendingCount];
                Cq[CqTailDevice].Cid = Cid;
                Cq[CqTailDevice].Status = DevicePhase;
                CqTailDevice = NVMeRingNext(CqTailDevice, DEPTH);
                if (CqTailDevice == 0) DevicePhase ^= 1;
            }
        } else {  // host drains by phase
            while ((Cq[CqHead].Status & 1) == HostPhase) {
                U16 Cid = Cq[CqHead].Cid;
                U16 Index = NVMeCidIndex(Cid);
                assert_true(NVMeCidIsBusy(&A, Index));
                assert_int_equal(Cid, NVMeCidCompose(Index, Generation[Index]));
                assert_true(NVMeCidFree(&A, Index));
                Outstanding--;
                Completed++;
                U16 Before = CqHead;
                NVMeCqAdvance(&CqHead, &HostPhase, DEPTH);
                if (CqHead < Before) Wraps++;
            }
        }
    }
    assert_true(Completed > 1000);
    assert_true(Wraps > 100);
    assert_int_equal(A.FreeCount + Outstanding, DEPTH - 1);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_cid_allocator_basics), cmocka_unit_test(test_cid_fifo_order),
        cmocka_unit_test(test_cid_generation),       cmocka_unit_test(test_ring_wrap),
        cmocka_unit_test(test_phase_flips_at_wrap),  cmocka_unit_test(test_doorbells),
        cmocka_unit_test(test_simulated_queue_wraps),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

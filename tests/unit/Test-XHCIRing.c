/*
 * Test-XHCIRing.c - drivers/usb/XHCI-Ring.c: producer rings (cycle bit,
 * Link TRB with Toggle Cycle at the wrap, CH copied to the link, the 0.95
 * chain quirk, free space and retiring, a TD handed over whole), the event
 * ring (valid while the cycle matches, CCS flips on wrap, ERDP with EHB)
 * and command completion matching. A small consumer that follows the ring
 * as a controller does (QEMU's xhci_ring_fetch) checks the enqueue side
 * across several laps.
 */
// SOURCES: drivers/usb/XHCI-Ring.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/usb/XHCI-Spec.h"

#define BASE 0x10000ULL

// Platform stubs: the barriers record what a controller could see at that moment.
static XHCI_TRB* WatchedTrb;
static U32 WatchedControls[16];
static U32 WatchedCount;
void PlatformWriteBarrier(void) {
    if (WatchedTrb && WatchedCount < 16) WatchedControls[WatchedCount++] = WatchedTrb->Control;
}
void PlatformReadBarrier(void) {}

static XHCI_TRB Memory[64] __attribute__((aligned(64)));

static XHCI_TRB Normal(U32 Tag) {
    XHCI_TRB Trb = {Tag, 0, 8, (XHCI_TRB_NORMAL << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_IOC};
    return Trb;
}

/** A consumer following the ring like a controller: takes TRBs while the cycle matches, follows links. */
typedef struct {
    U32 Index;
    U32 Cycle;
} CONSUMER;

static U32 Consume(const XHCI_RING* Ring, CONSUMER* Consumer, U32* Tags, U32 Max) {
    U32 Count = 0;
    for (U32 Guard = 0; Guard < 4 * Ring->Count && Count < Max; Guard++) {
        const XHCI_TRB* Trb = &Ring->Trbs[Consumer->Index];
        if ((Trb->Control & XHCI_TRB_CYCLE) != Consumer->Cycle) break;
        if (XHCI_TRB_TYPE(Trb->Control) == XHCI_TRB_LINK) {
            PHYSICAL Target = ((PHYSICAL)Trb->Parameter1 << 32) | Trb->Parameter0;
            assert_int_equal(Target, Ring->Physical);
            if (Trb->Control & XHCI_TRB_TC) Consumer->Cycle ^= 1;
            Consumer->Index = 0;
            continue;
        }
        Tags[Count++] = Trb->Parameter0;
        Consumer->Index++;
    }
    return Count;
}

static void test_init_writes_link(void** State) {
    (void)State;
    XHCI_RING Ring;
    memset(Memory, 0xAB, sizeof(Memory));
    XHCIRingInit(&Ring, Memory, BASE, 8);
    assert_int_equal(Ring.Cycle, 1);
    assert_int_equal(XHCI_TRB_TYPE(Memory[7].Control), XHCI_TRB_LINK);
    assert_true(Memory[7].Control & XHCI_TRB_TC);
    assert_int_equal(Memory[7].Control & XHCI_TRB_CYCLE, 0);  // not the controller's until reached
    assert_int_equal(Memory[7].Parameter0, (U32)BASE);
    assert_int_equal(Memory[0].Control, 0);                    // zeroed: cycle 0 != PCS 1
    assert_int_equal(XHCIRingSpace(&Ring), 6);                 // 7 usable, one kept free
}

static void test_enqueue_sets_cycle_and_wraps_through_link(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 8);
    CONSUMER Consumer = {0, 1};
    U32 Tags[16], Next = 1, Expected = 1;
    // Four laps of the 7 usable TRBs, three at a time, retired as a controller would complete them.
    for (U32 Round = 0; Round < 10; Round++) {
        PHYSICAL Last = 0;
        for (U32 I = 0; I < 3; I++) {
            XHCI_TRB Trb = Normal(Next++);
            U32 Index = Ring.Enqueue;
            Last = XHCIRingEnqueue(&Ring, &Trb);
            assert_int_equal(Last, BASE + Index * XHCI_TRB_SIZE);
        }
        U32 Got = Consume(&Ring, &Consumer, Tags, 16);
        assert_int_equal(Got, 3);
        for (U32 I = 0; I < Got; I++) assert_int_equal(Tags[I], Expected++);
        assert_true(XHCIRingRetire(&Ring, Last));
        assert_int_equal(XHCIRingSpace(&Ring), 6);
    }
    // 30 TRBs on 7 usable slots: four wraps, so PCS flipped four times and is 1 again.
    assert_int_equal(Ring.Cycle, 1);
    assert_int_equal(Ring.Enqueue, 30 % 7);
}

static void test_link_gets_pcs_and_chain(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 4);  // 3 usable
    XHCI_TRB Trb = Normal(1);
    XHCIRingEnqueue(&Ring, &Trb);
    XHCIRingEnqueue(&Ring, &Trb);
    XHCIRingRetire(&Ring, BASE + XHCI_TRB_SIZE);
    Trb.Control |= XHCI_TRB_CH;  // a TD that goes on across the link
    XHCIRingEnqueue(&Ring, &Trb);
    assert_int_equal(Memory[3].Control & XHCI_TRB_CYCLE, 1);   // the link handed over with the old PCS
    assert_true(Memory[3].Control & XHCI_TRB_CH);
    assert_int_equal(Ring.Cycle, 0);
    assert_int_equal(Ring.Enqueue, 0);
    // Second lap: TRBs and the link carry cycle 0; a TD that ends before the link leaves CH off.
    XHCIRingRetire(&Ring, BASE + 2 * XHCI_TRB_SIZE);
    Trb = Normal(2);
    XHCIRingEnqueue(&Ring, &Trb);
    assert_int_equal(Memory[0].Control & XHCI_TRB_CYCLE, 0);
    XHCIRingEnqueue(&Ring, &Trb);
    XHCIRingRetire(&Ring, BASE + XHCI_TRB_SIZE);
    XHCIRingEnqueue(&Ring, &Trb);
    assert_int_equal(Memory[3].Control & XHCI_TRB_CYCLE, 0);
    assert_false(Memory[3].Control & XHCI_TRB_CH);
    assert_int_equal(Ring.Cycle, 1);
}

static void test_chain_links_quirk(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 4);
    Ring.ChainLinks = TRUE;  // xHCI 0.95
    XHCI_TRB Trb = Normal(1);
    for (U32 I = 0; I < 2; I++) XHCIRingEnqueue(&Ring, &Trb);
    XHCIRingRetire(&Ring, BASE);
    XHCIRingEnqueue(&Ring, &Trb);
    assert_true(Memory[3].Control & XHCI_TRB_CH);
}

static void test_full_ring_and_stale_retire(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 8);
    XHCI_TRB Trb = Normal(1);
    for (U32 I = 0; I < 6; I++) assert_int_not_equal(XHCIRingEnqueue(&Ring, &Trb), 0);
    assert_int_equal(XHCIRingSpace(&Ring), 0);
    assert_int_equal(XHCIRingEnqueue(&Ring, &Trb), 0);  // full: refused, nothing overwritten
    assert_false(XHCIRingRetire(&Ring, BASE + 7 * XHCI_TRB_SIZE));  // the link TRB
    assert_false(XHCIRingRetire(&Ring, BASE + 3));                   // not a TRB boundary
    assert_false(XHCIRingRetire(&Ring, BASE - XHCI_TRB_SIZE));      // before the ring
    assert_false(XHCIRingRetire(&Ring, BASE + 6 * XHCI_TRB_SIZE));  // not in flight (the free slot)
    assert_true(XHCIRingRetire(&Ring, BASE + 2 * XHCI_TRB_SIZE));
    assert_int_equal(XHCIRingSpace(&Ring), 3);
    assert_false(XHCIRingRetire(&Ring, BASE + 1 * XHCI_TRB_SIZE));  // already retired: a stale event
    assert_int_equal(XHCIRingIndexOf(&Ring, BASE + 5 * XHCI_TRB_SIZE), 5);
    assert_int_equal(XHCIRingIndexOf(&Ring, BASE + 7 * XHCI_TRB_SIZE), MAX_U32);
}

static void test_dequeue_value_and_drop(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 4);
    XHCI_TRB Trb = Normal(1);
    XHCIRingEnqueue(&Ring, &Trb);
    assert_int_equal(XHCIRingDequeueValue(&Ring), (BASE + XHCI_TRB_SIZE) | 1);
    XHCIRingEnqueue(&Ring, &Trb);
    XHCIRingDropInFlight(&Ring);  // after Stop Endpoint + Set TR Dequeue: nothing in flight
    assert_int_equal(XHCIRingSpace(&Ring), 2);
    XHCIRingEnqueue(&Ring, &Trb);  // wraps: DCS is the new cycle
    assert_int_equal(XHCIRingDequeueValue(&Ring), BASE | 0);
}

static void test_td_is_handed_over_whole(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 8);
    XHCI_TRB Td[3] = {Normal(1), Normal(2), Normal(3)};
    PHYSICAL Addresses[3];
    WatchedTrb = &Memory[0];
    WatchedCount = 0;
    assert_true(XHCIRingEnqueueTd(&Ring, Td, 3, Addresses));
    WatchedTrb = NULL;
    // Every barrier before the last saw the first TRB still not handed over (cycle 0 while PCS is 1).
    assert_true(WatchedCount >= 2);
    for (U32 I = 0; I + 1 < WatchedCount; I++) assert_int_equal(WatchedControls[I] & XHCI_TRB_CYCLE, 0);
    for (U32 I = 0; I < 3; I++) {
        assert_int_equal(Addresses[I], BASE + I * XHCI_TRB_SIZE);
        assert_int_equal(Memory[I].Control & XHCI_TRB_CYCLE, 1);
        assert_int_equal(Memory[I].Parameter0, I + 1);
    }
    XHCI_TRB Big[6] = {Normal(1), Normal(1), Normal(1), Normal(1), Normal(1), Normal(1)};
    assert_false(XHCIRingEnqueueTd(&Ring, Big, 6, Addresses));  // 3 left: refused whole
    assert_int_equal(Ring.Enqueue, 3);
    assert_false(XHCIRingEnqueueTd(&Ring, Big, 0, Addresses));
}

static void test_td_across_the_link(void** State) {
    (void)State;
    XHCI_RING Ring;
    XHCIRingInit(&Ring, Memory, BASE, 4);
    XHCI_TRB One = Normal(9);
    XHCIRingEnqueue(&Ring, &One);
    XHCIRingEnqueue(&Ring, &One);
    XHCIRingRetire(&Ring, BASE + XHCI_TRB_SIZE);
    XHCI_TRB Td[2] = {Normal(1), Normal(2)};
    Td[0].Control |= XHCI_TRB_CH;
    PHYSICAL Addresses[2];
    assert_true(XHCIRingEnqueueTd(&Ring, Td, 2, Addresses));
    assert_int_equal(Addresses[0], BASE + 2 * XHCI_TRB_SIZE);
    assert_int_equal(Addresses[1], BASE);
    CONSUMER Consumer = {2, 1};
    U32 Tags[4];
    assert_int_equal(Consume(&Ring, &Consumer, Tags, 4), 2);
    assert_int_equal(Tags[0], 1);
    assert_int_equal(Tags[1], 2);
    assert_true(Memory[3].Control & XHCI_TRB_CH);  // the chain goes on through the link
}

/************************************************************************/
// Event ring

/** The controller's side: posts an event with its producer cycle, wrapping at the end. */
typedef struct {
    U32 Index;
    U32 Cycle;
} PRODUCER;

static void Post(XHCI_EVENT_RING* Ring, PRODUCER* Producer, U32 Tag) {
    XHCI_TRB* Trb = &Ring->Trbs[Producer->Index];
    Trb->Parameter0 = Tag;
    Trb->Control = (XHCI_TRB_TRANSFER_EVENT << XHCI_TRB_TYPE_SHIFT) | Producer->Cycle;
    if (++Producer->Index == Ring->Count) {
        Producer->Index = 0;
        Producer->Cycle ^= 1;
    }
}

static void test_event_ring_cycle_and_erdp(void** State) {
    (void)State;
    XHCI_EVENT_RING Ring;
    XHCIEventRingInit(&Ring, Memory, BASE, 16);
    PRODUCER Producer = {0, 1};
    XHCI_TRB Event;
    assert_false(XHCIEventRingNext(&Ring, &Event));  // zeroed: nothing valid
    assert_int_equal(XHCIEventRingERDP(&Ring), BASE | XHCI_ERDP_EHB);
    U32 Tag = 0, Seen = 0;
    for (U32 Batch = 0; Batch < 7; Batch++) {  // 7 batches of 5 on 16 entries: two wraps
        for (U32 I = 0; I < 5; I++) Post(&Ring, &Producer, ++Tag);
        while (XHCIEventRingNext(&Ring, &Event)) assert_int_equal(Event.Parameter0, ++Seen);
        assert_int_equal(Seen, Tag);
        assert_int_equal(XHCIEventRingERDP(&Ring), (BASE + Producer.Index * XHCI_TRB_SIZE) | XHCI_ERDP_EHB);
        assert_int_equal(Ring.Cycle, Producer.Cycle);
    }
    assert_int_equal(Ring.Dequeue, 35 % 16);
    // An entry left from the previous lap (old cycle) is not taken.
    assert_false(XHCIEventRingNext(&Ring, &Event));
}

static void test_command_completion_matching(void** State) {
    (void)State;
    XHCI_COMMAND_WAIT Wait = {0};
    XHCI_TRB Event = {(U32)(BASE + 0x20), 0, (XHCI_CC_SUCCESS << 24),
                      (XHCI_TRB_COMMAND_COMPLETION << XHCI_TRB_TYPE_SHIFT) | (5U << 24) | 1};
    assert_false(XHCICommandComplete(&Wait, &Event));  // nothing pending
    Wait.Trb = BASE + 0x30;
    assert_false(XHCICommandComplete(&Wait, &Event));  // another command's completion
    assert_false(Wait.Done);
    XHCI_TRB Transfer = Event;
    Transfer.Control = (XHCI_TRB_TRANSFER_EVENT << XHCI_TRB_TYPE_SHIFT) | 1;
    Transfer.Parameter0 = (U32)(BASE + 0x30);
    assert_false(XHCICommandComplete(&Wait, &Transfer));  // right address, wrong event type
    Event.Parameter0 = (U32)(BASE + 0x30);
    assert_true(XHCICommandComplete(&Wait, &Event));
    assert_true(Wait.Done);
    assert_int_equal(Wait.Trb, 0);
    assert_int_equal(XHCI_TRB_SLOT(Wait.Completion.Control), 5);
    assert_false(XHCICommandComplete(&Wait, &Event));  // the same completion again is stale
}

static void test_completion_names(void** State) {
    (void)State;
    char Buffer[16];
    assert_string_equal(XHCICompletionName(XHCI_CC_STALL, Buffer, sizeof(Buffer)), "stall");
    assert_string_equal(XHCICompletionName(XHCI_CC_SHORT_PACKET, Buffer, sizeof(Buffer)), "short packet");
    assert_string_equal(XHCICompletionName(200, Buffer, sizeof(Buffer)), "code 200");
}

static void test_port_neutral(void** State) {
    (void)State;
    // QEMU's high-speed keyboard after HCRST: CCS, PP, PLS Polling, speed 3, CSC. Neutral drops CSC and PED.
    assert_int_equal(XHCIPortNeutral(0x00020EE1), 0x00000EE1);
    assert_int_equal(XHCIPortNeutral(0x00200E03) & XHCI_PORT_PED, 0);
    assert_int_equal(XHCIPortNeutral(0xFFFFFFFF) & (XHCI_PORT_CHANGES | XHCI_PORT_PED | XHCI_PORT_PR | XHCI_PORT_WPR |
                                                     XHCI_PORT_LWS), 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_init_writes_link),
        cmocka_unit_test(test_enqueue_sets_cycle_and_wraps_through_link),
        cmocka_unit_test(test_link_gets_pcs_and_chain),
        cmocka_unit_test(test_chain_links_quirk),
        cmocka_unit_test(test_full_ring_and_stale_retire),
        cmocka_unit_test(test_dequeue_value_and_drop),
        cmocka_unit_test(test_td_is_handed_over_whole),
        cmocka_unit_test(test_td_across_the_link),
        cmocka_unit_test(test_event_ring_cycle_and_erdp),
        cmocka_unit_test(test_command_completion_matching),
        cmocka_unit_test(test_completion_names),
        cmocka_unit_test(test_port_neutral),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

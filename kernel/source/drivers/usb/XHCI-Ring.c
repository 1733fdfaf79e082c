/*
 * XHCI-Ring.c - producer rings (command and transfer), the event ring, and
 * matching command completions (see XHCI-Spec.h).
 *
 * Layer: drivers/usb, pure apart from the two barriers of the platform
 * layer. The rules (xHCI 4.9.2, 4.9.4; fact sheet 4):
 *  - a producer ring starts zeroed with PCS = 1; a TRB is handed over by
 *    writing its cycle bit = PCS, last, after a write barrier;
 *  - the Link TRB at the end has Toggle Cycle: when the enqueue point
 *    reaches it, it is given the current PCS (and the CH bit of the TRB
 *    before it, so a chained TD may cross), then PCS flips;
 *  - the event ring has no Link TRB: the consumer takes TRBs whose cycle bit
 *    equals CCS (starting at 1), and flips CCS when it wraps; ERDP is then
 *    written with the next TRB's address and EHB (write 1 to clear), or the
 *    controller raises no further interrupt.
 * Invariants: a producer ring keeps one free TRB between enqueue and
 * dequeue, so full and empty differ; indexes never name the Link TRB.
 */

#include "drivers/usb/XHCI-Spec.h"

#include "drivers/Platform.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Producer rings

void XHCIRingInit(XHCI_RING* Ring, XHCI_TRB* Trbs, PHYSICAL Physical, U32 Count) {
    Ring->Trbs = Trbs;
    Ring->Physical = Physical;
    Ring->Count = Count;
    Ring->Enqueue = 0;
    Ring->Dequeue = 0;
    Ring->Cycle = 1;
    Ring->ChainLinks = FALSE;
    MemorySet(Trbs, 0, (SIZE)Count * XHCI_TRB_SIZE);
    XHCI_TRB* Link = &Trbs[Count - 1];
    Link->Parameter0 = (U32)Physical;
    Link->Parameter1 = (U32)(Physical >> 32);
    Link->Status = 0;
    Link->Control = (XHCI_TRB_LINK << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_TC;  // cycle 0: not yet the xHC's
}

/** TRBs between dequeue and enqueue (the controller may own them). */
static U32 InFlight(const XHCI_RING* Ring) {
    U32 Usable = Ring->Count - 1;
    return (Ring->Enqueue + Usable - Ring->Dequeue) % Usable;
}

U32 XHCIRingSpace(const XHCI_RING* Ring) { return Ring->Count - 2 - InFlight(Ring); }

/** Writes one TRB at the enqueue point and moves on; Hold writes it with the wrong cycle (not yet handed over). */
static PHYSICAL WriteTrb(XHCI_RING* Ring, const XHCI_TRB* Trb, BOOL Hold) {
    volatile XHCI_TRB* Slot = &Ring->Trbs[Ring->Enqueue];
    PHYSICAL Physical = Ring->Physical + (PHYSICAL)Ring->Enqueue * XHCI_TRB_SIZE;
    Slot->Parameter0 = Trb->Parameter0;
    Slot->Parameter1 = Trb->Parameter1;
    Slot->Status = Trb->Status;
    PlatformWriteBarrier();
    Slot->Control = (Trb->Control & ~XHCI_TRB_CYCLE) | (Hold ? Ring->Cycle ^ 1 : Ring->Cycle);
    Ring->Enqueue++;
    if (Ring->Enqueue == Ring->Count - 1) {
        volatile XHCI_TRB* Link = &Ring->Trbs[Ring->Count - 1];
        U32 Chain = Ring->ChainLinks ? XHCI_TRB_CH : (Trb->Control & XHCI_TRB_CH);
        U32 Control = (XHCI_TRB_LINK << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_TC | Chain;
        PlatformWriteBarrier();
        Link->Control = Control | Ring->Cycle;
        Ring->Enqueue = 0;
        Ring->Cycle ^= 1;
    }
    return Physical;
}

PHYSICAL XHCIRingEnqueue(XHCI_RING* Ring, const XHCI_TRB* Trb) {
    if (XHCIRingSpace(Ring) == 0) return 0;
    return WriteTrb(Ring, Trb, FALSE);
}

BOOL XHCIRingEnqueueTd(XHCI_RING* Ring, const XHCI_TRB* Trbs, U32 Count, PHYSICAL* Addresses) {
    if (Count == 0 || XHCIRingSpace(Ring) < Count) return FALSE;
    U32 First = Ring->Enqueue;
    U32 FirstCycle = Ring->Cycle;
    for (U32 I = 0; I < Count; I++) Addresses[I] = WriteTrb(Ring, &Trbs[I], I == 0);
    // The whole TD is in memory: hand it over by giving the first TRB its cycle bit (Linux giveback order).
    PlatformWriteBarrier();
    volatile XHCI_TRB* Head = &Ring->Trbs[First];
    Head->Control = (Head->Control & ~XHCI_TRB_CYCLE) | FirstCycle;
    return TRUE;
}

U32 XHCIRingIndexOf(const XHCI_RING* Ring, PHYSICAL Physical) {
    if (Physical < Ring->Physical || (Physical - Ring->Physical) % XHCI_TRB_SIZE != 0) return MAX_U32;
    U64 Index = (Physical - Ring->Physical) / XHCI_TRB_SIZE;
    return Index < Ring->Count - 1 ? (U32)Index : MAX_U32;
}

BOOL XHCIRingRetire(XHCI_RING* Ring, PHYSICAL Physical) {
    U32 Index = XHCIRingIndexOf(Ring, Physical);
    if (Index == MAX_U32) return FALSE;
    U32 Usable = Ring->Count - 1;
    if ((Index + Usable - Ring->Dequeue) % Usable >= InFlight(Ring)) return FALSE;  // not in flight: stale
    Ring->Dequeue = (Index + 1) % Usable;
    return TRUE;
}

U64 XHCIRingDequeueValue(const XHCI_RING* Ring) {
    return (Ring->Physical + (U64)Ring->Enqueue * XHCI_TRB_SIZE) | Ring->Cycle;
}

void XHCIRingDropInFlight(XHCI_RING* Ring) { Ring->Dequeue = Ring->Enqueue; }

/************************************************************************/
// The event ring

void XHCIEventRingInit(XHCI_EVENT_RING* Ring, XHCI_TRB* Trbs, PHYSICAL Physical, U32 Count) {
    Ring->Trbs = Trbs;
    Ring->Physical = Physical;
    Ring->Count = Count;
    Ring->Dequeue = 0;
    Ring->Cycle = 1;
    MemorySet(Trbs, 0, (SIZE)Count * XHCI_TRB_SIZE);
}

BOOL XHCIEventRingNext(XHCI_EVENT_RING* Ring, XHCI_TRB* Event) {
    volatile XHCI_TRB* Trb = &Ring->Trbs[Ring->Dequeue];
    U32 Control = Trb->Control;
    if ((Control & XHCI_TRB_CYCLE) != Ring->Cycle) return FALSE;
    PlatformReadBarrier();  // the cycle bit first, then the rest of the TRB
    Event->Parameter0 = Trb->Parameter0;
    Event->Parameter1 = Trb->Parameter1;
    Event->Status = Trb->Status;
    Event->Control = Control;
    if (++Ring->Dequeue == Ring->Count) {
        Ring->Dequeue = 0;
        Ring->Cycle ^= 1;
    }
    return TRUE;
}

U64 XHCIEventRingERDP(const XHCI_EVENT_RING* Ring) {
    return (Ring->Physical + (U64)Ring->Dequeue * XHCI_TRB_SIZE) | XHCI_ERDP_EHB;
}

/************************************************************************/
// Command completions

BOOL XHCICommandComplete(XHCI_COMMAND_WAIT* Wait, const XHCI_TRB* Event) {
    if (XHCI_TRB_TYPE(Event->Control) != XHCI_TRB_COMMAND_COMPLETION) return FALSE;
    PHYSICAL Command = ((PHYSICAL)Event->Parameter1 << 32) | (Event->Parameter0 & ~0xFU);
    if (Wait->Trb == 0 || Command != Wait->Trb) return FALSE;
    Wait->Completion = *Event;
    Wait->Done = TRUE;
    Wait->Trb = 0;
    return TRUE;
}

LPCSTR XHCICompletionName(U32 Code, LPSTR Buffer, SIZE Size) {
    static const struct {
        U8 Code;
        LPCSTR Name;
    } Names[] = {
        {XHCI_CC_SUCCESS, "success"},
        {XHCI_CC_DATA_BUFFER, "data buffer error"},
        {XHCI_CC_BABBLE, "babble"},
        {XHCI_CC_TRANSACTION, "transaction error"},
        {XHCI_CC_TRB, "TRB error"},
        {XHCI_CC_STALL, "stall"},
        {XHCI_CC_NO_SLOTS, "no slots"},
        {XHCI_CC_SLOT_NOT_ENABLED, "slot not enabled"},
        {XHCI_CC_EP_NOT_ENABLED, "endpoint not enabled"},
        {XHCI_CC_SHORT_PACKET, "short packet"},
        {XHCI_CC_PARAMETER, "parameter error"},
        {XHCI_CC_CONTEXT_STATE, "context state error"},
        {XHCI_CC_EVENT_RING_FULL, "event ring full"},
        {XHCI_CC_COMMAND_RING_STOPPED, "command ring stopped"},
        {XHCI_CC_COMMAND_ABORTED, "command aborted"},
        {XHCI_CC_STOPPED, "stopped"},
    };
    for (U32 I = 0; I < ARRAY_COUNT(Names); I++) {
        if (Names[I].Code == Code) return Names[I].Name;
    }
    StringPrintFormat(Buffer, Size, "code %u", Code);
    return Buffer;
}

/*
 * XHCI-Events.c - the event ring's consumer: dispatch of each event, and
 * the commands whose completions it delivers.
 *
 * Layer: drivers/usb. Runs only on the controller's thread. Events are
 * taken while their cycle bit matches (XHCI-Ring.c), and ERDP is written
 * once per batch with EHB, which re-arms the interrupt (xHCI 4.17.2; QEMU
 * raises no new interrupt while EHB is set). Dispatch:
 *   - Command Completion: matched to the one command in flight by its TRB
 *     address; anything else is stale (counted, logged at debug level);
 *   - Transfer Event: to the endpoint's TD in flight (slot, DCI, TRB
 *     address on that endpoint's ring). A short packet on a Data TRB only
 *     records the length: the Status TRB's event ends the control TD. An
 *     error ends the TD and marks the endpoint for recovery. Asynchronous
 *     TDs (interrupt IN) call their OnDone, which must not wait;
 *   - Port Status Change: the port is marked for XHCI-Port.c;
 *   - Host Controller Event: logged (rate-limited).
 * Commands wait for their completion by processing events themselves, so
 * keys keep arriving while a command or a control transfer runs.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

#define SYNC_WAIT_STEP_MS 10  // interrupt mode: a lost interrupt costs at most this much while waiting

/************************************************************************/
// Waiting

void XHCIWaitForEvents(XHCI_CONTROLLER* C, U32 TimeoutMs) {
    if (TimeoutMs == 0) return;
    PlatformEventWait(C->Wake, TimeoutMs);
}

BOOL XHCIWaitStep(XHCI_CONTROLLER* C, U64 Deadline) {
    U64 Now = XHCINowMs();
    if (Now >= Deadline) return FALSE;
    U32 Step = C->Polling ? XHCI_POLL_STEP_MS : SYNC_WAIT_STEP_MS;
    XHCIWaitForEvents(C, (U32)MIN((U64)Step, Deadline - Now));
    return TRUE;
}

LPCSTR XHCICodeText(U32 Code) {
    static char Unknown[16];  // only for codes outside the table (shared by controller threads: text only)
    return XHCICompletionName(Code, Unknown, sizeof(Unknown));
}

/************************************************************************/
// Dispatch

static void TransferEvent(XHCI_CONTROLLER* C, const XHCI_TRB* Event) {
    U32 Slot = XHCI_TRB_SLOT(Event->Control), Dci = XHCI_TRB_ENDPOINT(Event->Control);
    U32 Code = XHCI_EVENT_CODE(Event->Status), Residual = XHCI_EVENT_RESIDUAL(Event->Status);
    PHYSICAL Pointer = ((PHYSICAL)Event->Parameter1 << 32) | Event->Parameter0;
    USB_DEVICE* Device = (Slot >= 1 && Slot <= C->SlotsEnabled) ? C->Slots[Slot] : NULL;
    XHCI_ENDPOINT* Endpoint = NULL;
    if (Device && Dci == 1) Endpoint = &Device->Control;
    if (Device && Dci > 1 && Dci == Device->Interrupt.Dci) Endpoint = &Device->Interrupt;
    if (Endpoint == NULL || !Endpoint->Busy || !XHCIRingRetire(&Endpoint->Ring, Pointer)) {
        C->StaleEvents++;
        DEBUG("[XHCITransferEvent] %s: stale event for slot %u DCI %u (%s)", C->Name, Slot, Dci, XHCICodeText(Code));
        return;
    }
    if ((Code == XHCI_CC_SUCCESS || Code == XHCI_CC_SHORT_PACKET) && Pointer == Endpoint->DataTrb) {
        Endpoint->Transferred = Endpoint->Length - MIN(Residual, Endpoint->Length);
    }
    BOOL Ok = Code == XHCI_CC_SUCCESS || Code == XHCI_CC_SHORT_PACKET;
    if (Ok && Pointer != Endpoint->LastTrb) return;  // a Data stage's short packet: the Status stage follows
    Endpoint->Busy = FALSE;
    Endpoint->Done = TRUE;
    Endpoint->Code = Ok ? XHCI_CC_SUCCESS : Code;
    if (Ok) {
        Endpoint->Completions++;
    } else {
        Endpoint->Errors++;
        // A stall or transaction error halts the endpoint; a Stopped TD (Stop Endpoint) does not.
        if (Code != XHCI_CC_STOPPED) Endpoint->NeedsRecovery = TRUE;
    }
    if (Endpoint->OnDone) Endpoint->OnDone(Device, Endpoint->Code, Endpoint->Transferred);
}

static void Dispatch(XHCI_CONTROLLER* C, const XHCI_TRB* Event) {
    switch (XHCI_TRB_TYPE(Event->Control)) {
        case XHCI_TRB_COMMAND_COMPLETION:
            if (!XHCICommandComplete(&C->Command, Event)) {
                C->StaleEvents++;
                DEBUG("[XHCIProcessEvents] %s: completion for a command not waited for (%s)", C->Name,
                      XHCICodeText(XHCI_EVENT_CODE(Event->Status)));
            }
            break;
        case XHCI_TRB_TRANSFER_EVENT:
            TransferEvent(C, Event);
            break;
        case XHCI_TRB_PORT_STATUS_CHANGE:
            C->PortEvents++;
            XHCIPortEvent(C, XHCI_EVENT_PORT(Event->Parameter0));
            break;
        case XHCI_TRB_HOST_CONTROLLER:
            LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[XHCIProcessEvents] %s: host controller event: %s",
                             C->Name, XHCICodeText(XHCI_EVENT_CODE(Event->Status)));
            break;
        default:
            DEBUG("[XHCIProcessEvents] %s: event type %u ignored", C->Name, XHCI_TRB_TYPE(Event->Control));
            break;
    }
}

void XHCIProcessEvents(XHCI_CONTROLLER* C) {
    XHCI_TRB Event;
    U32 Count = 0;
    // Bounded: a controller that keeps posting cannot keep the thread here for ever.
    while (Count < XHCI_RING_TRBS && XHCIEventRingNext(&C->EventRing, &Event)) {
        Count++;
        Dispatch(C, &Event);
    }
    U64 Interrupts = C->InterruptCount;
    // ERDP with EHB after a batch, and after any interrupt (EHB is set with it even when no event is left).
    if (Count != 0 || Interrupts != C->InterruptsSeen) {
        U64 Erdp = XHCIEventRingERDP(&C->EventRing);
        XHCIWriteRuntime(C, XHCI_RT_IR(0) + XHCI_IR_ERDP_LOW, (U32)Erdp);
        XHCIWriteRuntime(C, XHCI_RT_IR(0) + XHCI_IR_ERDP_HIGH, (U32)(Erdp >> 32));
        C->InterruptsSeen = Interrupts;
        C->EventCount += Count;
    }
}

/************************************************************************/
// Commands

/**
 * A command that never completed: abort it if the ring runs (CRCR.CA; the pointer bits are ignored while
 * CRR = 1), then, with the ring stopped, start it afresh at its first TRB (CRCR may only be pointed while
 * CRR = 0: writing it to a running ring, or CA to a stopped one, would move the ring; xHCI 4.6.1.2, 5.4.5).
 */
static void AbortCommand(XHCI_CONTROLLER* C) {
    if (XHCIReadOp(C, XHCI_OP_CRCR_LOW) & XHCI_CRCR_CRR) {
        XHCIWriteOp(C, XHCI_OP_CRCR_LOW, XHCI_CRCR_CA);
        XHCIWriteOp(C, XHCI_OP_CRCR_HIGH, 0);
        U64 Deadline = XHCINowMs() + XHCI_ABORT_TIMEOUT_MS;
        while (XHCIReadOp(C, XHCI_OP_CRCR_LOW) & XHCI_CRCR_CRR) {
            XHCIProcessEvents(C);
            if (!XHCIWaitStep(C, Deadline)) {
                C->Dead = TRUE;
                XHCIFail(C, "the command ring did not stop after an abort");
                return;
            }
        }
        XHCIProcessEvents(C);  // the aborted command's completion and Command Ring Stopped
    }
    XHCIRingInit(&C->CommandRing, C->CommandRing.Trbs, C->CommandRing.Physical, C->CommandRing.Count);
    C->CommandRing.ChainLinks = C->Version < 0x0096;
    XHCIWriteOp(C, XHCI_OP_CRCR_LOW, (U32)C->CommandRing.Physical | XHCI_CRCR_RCS);
    XHCIWriteOp(C, XHCI_OP_CRCR_HIGH, (U32)(C->CommandRing.Physical >> 32));
}

KSTATUS XHCICommand(XHCI_CONTROLLER* C, const XHCI_TRB* Trb, XHCI_TRB* Completion) {
    MemorySet(Completion, 0, sizeof(*Completion));
    if (C->Dead || C->Stopping) return KSTATUS_IO_ERROR;
    C->Command.Done = FALSE;
    PHYSICAL At = XHCIRingEnqueue(&C->CommandRing, Trb);
    if (At == 0) return KSTATUS_BUSY;  // cannot happen with one command at a time
    C->Command.Trb = At;
    PlatformWriteBarrier();
    XHCIRingDoorbell(C, 0, 0);
    U64 Deadline = XHCINowMs() + XHCI_COMMAND_TIMEOUT_MS;
    for (;;) {
        XHCIProcessEvents(C);
        if (C->Command.Done) break;
        if (C->Stopping) return KSTATUS_IO_ERROR;  // halted for shutdown: no answer will come
        if (!XHCIWaitStep(C, Deadline)) {
            WARNING("[XHCICommand] %s: command type %u took more than %u ms: aborted", C->Name,
                    XHCI_TRB_TYPE(Trb->Control), XHCI_COMMAND_TIMEOUT_MS);
            C->Command.Trb = 0;  // a late completion is stale from now on
            AbortCommand(C);
            return KSTATUS_TIMEOUT;
        }
    }
    XHCIRingRetire(&C->CommandRing, At);
    *Completion = C->Command.Completion;
    return XHCI_EVENT_CODE(Completion->Status) == XHCI_CC_SUCCESS ? KSTATUS_SUCCESS : KSTATUS_IO_ERROR;
}

KSTATUS XHCISlotCommand(XHCI_CONTROLLER* C, U32 Type, U32 Slot, U32 Dci, PHYSICAL Pointer, XHCI_TRB* Completion) {
    XHCI_TRB Trb;
    Trb.Parameter0 = (U32)Pointer;
    Trb.Parameter1 = (U32)(Pointer >> 32);
    Trb.Status = 0;
    Trb.Control = (Type << XHCI_TRB_TYPE_SHIFT) | (Slot << XHCI_TRB_SLOT_SHIFT) | (Dci << XHCI_TRB_ENDPOINT_SHIFT);
    return XHCICommand(C, &Trb, Completion);
}

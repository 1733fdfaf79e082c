/*
 * XHCI-Transfer.c - transfers on a device's endpoints: control transfers
 * on EP0, the interrupt IN endpoint of a class driver, and recovery when
 * an endpoint halts or a transfer never ends.
 *
 * Layer: drivers/usb, on the controller thread. Each endpoint has one TD in
 * flight at most, on its own one-page transfer ring.
 *
 * A control transfer (xHCI 4.11.2.2, fact sheet 7.8) is a Setup TRB (the 8
 * request bytes as immediate data, TRT = IN/OUT/none), a Data TRB (buffer,
 * DIR, ISP so a short IN reports its length) when wLength is not 0, and a
 * Status TRB (the opposite direction, IOC). The Data TRB is always exactly
 * wLength long: QEMU aborts when a device returns more than the buffer.
 * The TD is handed over whole (XHCIRingEnqueueTd), then EP0's doorbell.
 *
 * Errors: a stall or transaction error halts the endpoint; Reset Endpoint
 * then Set TR Dequeue Pointer (to the enqueue point, skipping the failed
 * TD) make it usable again, and for an interrupt endpoint the device's
 * halt is cleared too (CLEAR_FEATURE(ENDPOINT_HALT); EDK2
 * XhcRecoverHaltedEndpoint). A TD without an answer within 5 s is stopped
 * (Stop Endpoint) and skipped the same way.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

U32* XHCIInputContext(USB_DEVICE* Device, U32 Offset) { return (U32*)((U8*)Device->InputContext.Linear + Offset); }
U8* XHCIInterruptData(USB_DEVICE* Device) { return (U8*)Device->Data.Linear + XHCI_INTERRUPT_BUFFER; }

void XHCIDeviceSlotFields(USB_DEVICE* Device, U8 ContextEntries, XHCI_SLOT_FIELDS* Fields) {
    MemorySet(Fields, 0, sizeof(*Fields));
    Fields->Route = Device->Route;
    Fields->SpeedId = Device->SpeedId;
    Fields->ContextEntries = ContextEntries;
    Fields->RootPort = Device->RootPort;
    Fields->TTSlot = Device->TTSlot;
    Fields->TTPort = Device->TTPort;
}

/************************************************************************/
// Endpoint recovery

/** Skips whatever is left on the ring: the next TD starts at the enqueue point. */
static KSTATUS SetDequeue(USB_DEVICE* Device, XHCI_ENDPOINT* Endpoint) {
    XHCI_TRB Completion;
    XHCIRingDropInFlight(&Endpoint->Ring);
    Endpoint->Busy = FALSE;
    return XHCISlotCommand(Device->Controller, XHCI_TRB_SET_TR_DEQUEUE, Device->Slot, Endpoint->Dci,
                           XHCIRingDequeueValue(&Endpoint->Ring), &Completion);
}

KSTATUS XHCIEndpointRecover(USB_DEVICE* Device, XHCI_ENDPOINT* Endpoint) {
    XHCI_CONTROLLER* C = Device->Controller;
    XHCI_TRB Completion;
    Endpoint->NeedsRecovery = FALSE;
    KSTATUS Status = XHCISlotCommand(C, XHCI_TRB_RESET_ENDPOINT, Device->Slot, Endpoint->Dci, 0, &Completion);
    if (Status == KSTATUS_SUCCESS) Status = SetDequeue(Device, Endpoint);
    if (Status != KSTATUS_SUCCESS) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[XHCIEndpointRecover] %s slot %u DCI %u: not recovered (%s)",
                         C->Name, Device->Slot, Endpoint->Dci, XHCICodeText(XHCI_EVENT_CODE(Completion.Status)));
        return Status;
    }
    if (Endpoint != &Device->Control) {
        USB_SETUP Clear = {USB_RECIPIENT_ENDPOINT, USB_REQUEST_CLEAR_FEATURE, USB_FEATURE_ENDPOINT_HALT,
                           Endpoint->Address, 0};
        USBControlTransfer(Device, &Clear, NULL, NULL);  // the device's side of the halt (a stall here changes nothing)
    }
    return KSTATUS_SUCCESS;
}

/** Waits for the endpoint's TD; one that does not end in time is stopped and skipped. */
static KSTATUS WaitTransfer(USB_DEVICE* Device, XHCI_ENDPOINT* Endpoint, U32 TimeoutMs) {
    XHCI_CONTROLLER* C = Device->Controller;
    U64 Deadline = XHCINowMs() + TimeoutMs;
    for (;;) {
        XHCIProcessEvents(C);
        if (Endpoint->Done) return Endpoint->Code == XHCI_CC_SUCCESS ? KSTATUS_SUCCESS : KSTATUS_IO_ERROR;
        if (C->Dead || C->Stopping) return KSTATUS_IO_ERROR;
        if (!XHCIWaitStep(C, Deadline)) break;
    }
    XHCI_TRB Completion;
    KSTATUS Stopped = XHCISlotCommand(C, XHCI_TRB_STOP_ENDPOINT, Device->Slot, Endpoint->Dci, 0, &Completion);
    XHCIProcessEvents(C);
    if (Endpoint->Done && Endpoint->Code == XHCI_CC_SUCCESS) return KSTATUS_SUCCESS;  // it ended as we stopped it
    // Stopped: skip the TD. Not stoppable (it halted meanwhile: Context State Error): reset it, then skip.
    if (Stopped == KSTATUS_SUCCESS) {
        Endpoint->NeedsRecovery = FALSE;
        SetDequeue(Device, Endpoint);
    } else {
        XHCIEndpointRecover(Device, Endpoint);
    }
    Endpoint->Busy = FALSE;
    Endpoint->Code = XHCI_CC_STOPPED;
    return KSTATUS_TIMEOUT;
}

/************************************************************************/
// Control transfers

KSTATUS USBControlTransfer(USB_DEVICE* Device, const USB_SETUP* Setup, LPVOID Data, U32* Transferred) {
    XHCI_CONTROLLER* C = Device->Controller;
    XHCI_ENDPOINT* Endpoint = &Device->Control;
    U32 Length = Setup->Length;
    BOOL In = (Setup->RequestType & USB_DIR_IN) != 0;
    if (Transferred) *Transferred = 0;
    if (Length > XHCI_CONTROL_BUFFER || (Length != 0 && Data == NULL)) return KSTATUS_BAD_PARAMETER;
    if (C->Dead) return KSTATUS_IO_ERROR;
    if (Endpoint->NeedsRecovery && XHCIEndpointRecover(Device, Endpoint) != KSTATUS_SUCCESS) return KSTATUS_IO_ERROR;
    if (Endpoint->Busy) return KSTATUS_BUSY;

    U8* Buffer = (U8*)Device->Data.Linear;
    if (In) MemorySet(Buffer, 0, Length);
    else if (Length) MemoryCopy(Buffer, Data, Length);

    XHCI_TRB Trbs[3];
    U32 Count = 0;
    U32 Transfer = Length == 0 ? XHCI_TRT_NO_DATA : (In ? XHCI_TRT_IN : XHCI_TRT_OUT);
    Trbs[Count].Parameter0 = (U32)Setup->RequestType | ((U32)Setup->Request << 8) | ((U32)Setup->Value << 16);
    Trbs[Count].Parameter1 = (U32)Setup->Index | ((U32)Setup->Length << 16);
    Trbs[Count].Status = 8;
    Trbs[Count++].Control = (XHCI_TRB_SETUP << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_IDT | (Transfer << XHCI_TRB_TRT_SHIFT);
    if (Length) {
        Trbs[Count].Parameter0 = (U32)Device->Data.Physical;
        Trbs[Count].Parameter1 = (U32)(Device->Data.Physical >> 32);
        Trbs[Count].Status = Length;
        Trbs[Count++].Control = (XHCI_TRB_DATA << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_ISP | (In ? XHCI_TRB_DIR_IN : 0);
    }
    Trbs[Count].Parameter0 = Trbs[Count].Parameter1 = Trbs[Count].Status = 0;
    Trbs[Count++].Control = (XHCI_TRB_STATUS << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_IOC |
                            ((Length == 0 || !In) ? XHCI_TRB_DIR_IN : 0);

    PHYSICAL Addresses[3];
    if (!XHCIRingEnqueueTd(&Endpoint->Ring, Trbs, Count, Addresses)) return KSTATUS_BUSY;
    Endpoint->Busy = TRUE;
    Endpoint->Done = FALSE;
    Endpoint->Length = Length;
    Endpoint->Transferred = Length;
    Endpoint->DataTrb = Length ? Addresses[1] : 0;
    Endpoint->LastTrb = Addresses[Count - 1];
    Endpoint->OnDone = NULL;
    PlatformWriteBarrier();
    XHCIRingDoorbell(C, Device->Slot, 1);

    KSTATUS Status = WaitTransfer(Device, Endpoint, XHCI_CONTROL_TIMEOUT_MS);
    if (Status == KSTATUS_SUCCESS) {
        U32 Got = MIN(Endpoint->Transferred, Length);
        if (In && Got) MemoryCopy(Data, Buffer, Got);
        if (Transferred) *Transferred = Got;
        return KSTATUS_SUCCESS;
    }
    DEBUG("[USBControlTransfer] %s slot %u: request %02x/%02x value %x index %x: %s", C->Name, Device->Slot,
          Setup->RequestType, Setup->Request, Setup->Value, Setup->Index, XHCICodeText(Endpoint->Code));
    // EP0 stalls to refuse a request (a protocol stall): the endpoint is made usable again at once.
    if (Endpoint->NeedsRecovery) XHCIEndpointRecover(Device, Endpoint);
    return Status;
}

/************************************************************************/
// The interrupt IN endpoint

static BOOL AllocateRing(XHCI_ENDPOINT* Endpoint) {
    if (Endpoint->RingMemory.Linear == NULL &&
        PlatformDMAAlloc(XHCI_PAGE, XHCI_PAGE, PLATFORM_DMA_BELOW_4GB, &Endpoint->RingMemory) != KSTATUS_SUCCESS) {
        return FALSE;
    }
    XHCIRingInit(&Endpoint->Ring, (XHCI_TRB*)Endpoint->RingMemory.Linear, Endpoint->RingMemory.Physical,
                 XHCI_RING_TRBS);
    return TRUE;
}

KSTATUS XHCIConfigureInterruptIn(USB_DEVICE* Device, const USB_ENDPOINT_INFO* Info, const USB_HUB_DESCRIPTOR* Hub,
                                 BOOL MultiTT, XHCI_TRANSFER_DONE OnDone) {
    XHCI_CONTROLLER* C = Device->Controller;
    XHCI_ENDPOINT* Endpoint = &Device->Interrupt;
    U32 Dci = XHCIEndpointDci(Info->Address);
    if (Dci < 2 || Dci > XHCI_MAX_DCI || !AllocateRing(Endpoint)) return KSTATUS_NO_MEMORY;
    Endpoint->Ring.ChainLinks = C->Version < 0x0096;
    Endpoint->Dci = (U8)Dci;
    Endpoint->Address = Info->Address;
    Endpoint->MaxPacket = (U16)MIN((U32)(Info->MaxPacket & 0x7FF), 1024U);
    Endpoint->OnDone = OnDone;

    MemorySet(Device->InputContext.Linear, 0, XHCI_PAGE);
    U32* Control = XHCIInputContext(Device, 0);
    Control[1] = 1U | (1U << Dci);  // add the slot and the endpoint (QEMU: A0 set, A1 clear, no drops)
    XHCI_SLOT_FIELDS Slot;
    XHCIDeviceSlotFields(Device, (U8)Dci, &Slot);
    if (Hub != NULL) {
        Slot.Hub = TRUE;
        Slot.PortCount = Hub->PortCount;
        if (Device->Speed == USB_SPEED_HIGH) {
            Slot.MultiTT = MultiTT;
            Slot.TTThinkTime = Hub->ThinkTime;
        }
    }
    XHCIWriteSlotContext(XHCIInputContext(Device, XHCIInputSlotOffset(C->ContextSize)), &Slot);
    U8 Burst = Device->Speed == USB_SPEED_HIGH ? (U8)((Info->MaxPacket >> 11) & 3) : 0;
    XHCI_ENDPOINT_FIELDS Fields = {XHCI_EP_TYPE_INTERRUPT_IN, Endpoint->MaxPacket, Burst,
                                   XHCIInterruptInterval(Device->Speed, Info->Interval),
                                   XHCIRingDequeueValue(&Endpoint->Ring), Endpoint->MaxPacket,
                                   (U16)(Endpoint->MaxPacket * (Burst + 1U))};
    XHCIWriteEndpointContext(XHCIInputContext(Device, XHCIInputEndpointOffset(C->ContextSize, Dci)), &Fields);
    PlatformWriteBarrier();
    XHCI_TRB Completion;
    KSTATUS Status = XHCISlotCommand(C, XHCI_TRB_CONFIGURE_ENDPOINT, Device->Slot, 0, Device->InputContext.Physical,
                                     &Completion);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[XHCIConfigureInterruptIn] %s slot %u: Configure Endpoint failed (%s)", C->Name, Device->Slot,
                XHCICodeText(XHCI_EVENT_CODE(Completion.Status)));
        return Status;
    }
    Endpoint->Configured = TRUE;
    return KSTATUS_SUCCESS;
}

KSTATUS XHCIInterruptQueue(USB_DEVICE* Device) {
    XHCI_ENDPOINT* Endpoint = &Device->Interrupt;
    if (!Endpoint->Configured || Endpoint->NeedsRecovery) return KSTATUS_BUSY;
    if (Endpoint->Busy) return KSTATUS_SUCCESS;
    PHYSICAL Buffer = Device->Data.Physical + XHCI_INTERRUPT_BUFFER;
    XHCI_TRB Trb = {(U32)Buffer, (U32)(Buffer >> 32), Endpoint->MaxPacket,
                    (XHCI_TRB_NORMAL << XHCI_TRB_TYPE_SHIFT) | XHCI_TRB_IOC | XHCI_TRB_ISP};
    PHYSICAL At;
    if (!XHCIRingEnqueueTd(&Endpoint->Ring, &Trb, 1, &At)) return KSTATUS_BUSY;
    Endpoint->Busy = TRUE;
    Endpoint->Done = FALSE;
    Endpoint->Length = Endpoint->MaxPacket;
    Endpoint->Transferred = Endpoint->MaxPacket;
    Endpoint->DataTrb = At;
    Endpoint->LastTrb = At;
    PlatformWriteBarrier();
    XHCIRingDoorbell(Device->Controller, Device->Slot, Endpoint->Dci);
    return KSTATUS_SUCCESS;
}

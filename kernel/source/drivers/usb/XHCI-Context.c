/*
 * XHCI-Context.c - slot and endpoint contexts, port speeds, the Supported
 * Protocol capabilities and interrupt intervals (see XHCI-Spec.h).
 *
 * Layer: drivers/usb, pure. Contexts are written field by field into
 * zeroed memory the caller owns; the caller picks the 32- or 64-byte
 * layout (HCCPARAMS1.CSZ) through the offset helpers in the header.
 *
 * Sources: xHCI 1.2 6.2.2 (slot context), 6.2.3 (endpoint context,
 * 6.2.3.6 interval), 7.2 (Supported Protocol, PSI dwords); the default
 * speed IDs 1-4 when a protocol lists no PSI (QEMU hcd-xhci.c, SeaBIOS
 * speed_from_xhci); the interval rules of Linux xhci_get_endpoint_interval
 * and EDK2 CalculateInterval (fact sheet 7.10).
 */

#include "drivers/usb/XHCI-Spec.h"

#include "utils/String.h"

#define SLOT_CONTEXT_DWORDS 8
#define ENDPOINT_CONTEXT_DWORDS 8
#define CERR_THREE 3
#define XCAP_WALK_LIMIT 256
#define PROTOCOL_SIZE 16

void XHCIWriteSlotContext(U32* Slot, const XHCI_SLOT_FIELDS* F) {
    MemorySet(Slot, 0, SLOT_CONTEXT_DWORDS * sizeof(U32));
    Slot[0] = (F->Route & 0xFFFFF) | ((U32)(F->SpeedId & 0xF) << 20) | ((F->MultiTT ? 1U : 0U) << 25) |
              ((F->Hub ? 1U : 0U) << 26) | ((U32)(F->ContextEntries & 0x1F) << 27);
    Slot[1] = ((U32)F->RootPort << 16) | ((U32)F->PortCount << 24);
    Slot[2] = (U32)F->TTSlot | ((U32)F->TTPort << 8) | ((U32)(F->TTThinkTime & 3) << 16);  // interrupter 0
}

void XHCIWriteEndpointContext(U32* Endpoint, const XHCI_ENDPOINT_FIELDS* F) {
    MemorySet(Endpoint, 0, ENDPOINT_CONTEXT_DWORDS * sizeof(U32));
    Endpoint[0] = (U32)F->Interval << 16;
    Endpoint[1] = (CERR_THREE << 1) | ((U32)(F->Type & 7) << 3) | ((U32)F->MaxBurst << 8) | ((U32)F->MaxPacket << 16);
    Endpoint[2] = (U32)F->Dequeue;
    Endpoint[3] = (U32)(F->Dequeue >> 32);
    Endpoint[4] = (U32)F->AverageTrbLength | ((U32)F->MaxEsitPayload << 16);
}

/************************************************************************/
// Speeds

U8 XHCIDefaultSpeedId(USB_SPEED Speed) {
    switch (Speed) {
        case USB_SPEED_FULL: return 1;
        case USB_SPEED_LOW: return 2;
        case USB_SPEED_HIGH: return 3;
        case USB_SPEED_SUPER: return 4;
        case USB_SPEED_SUPER_PLUS: return 5;
        default: return 0;
    }
}

static USB_SPEED DefaultSpeed(U8 SpeedId) {
    switch (SpeedId) {
        case 1: return USB_SPEED_FULL;
        case 2: return USB_SPEED_LOW;
        case 3: return USB_SPEED_HIGH;
        case 4: return USB_SPEED_SUPER;
        case 5: return USB_SPEED_SUPER_PLUS;
        default: return USB_SPEED_UNKNOWN;
    }
}

/** A PSI dword's bit rate as a USB speed: mantissa 31:16, exponent 5:4 (b/s, kb/s, Mb/s, Gb/s). */
static USB_SPEED PsiSpeed(U32 Psi) {
    U64 Rate = Psi >> 16;
    for (U32 E = (Psi >> 4) & 3; E > 0; E--) Rate *= 1000;
    if (Rate == 0) return USB_SPEED_UNKNOWN;
    if (Rate <= 1500000ULL) return USB_SPEED_LOW;
    if (Rate <= 12000000ULL) return USB_SPEED_FULL;
    if (Rate <= 480000000ULL) return USB_SPEED_HIGH;
    if (Rate <= 5000000000ULL) return USB_SPEED_SUPER;
    return USB_SPEED_SUPER_PLUS;
}

USB_SPEED XHCIProtocolSpeed(const XHCI_PROTOCOL* Protocol, U8 SpeedId) {
    if (Protocol == NULL || Protocol->PsiCount == 0) return DefaultSpeed(SpeedId);
    for (U32 I = 0; I < Protocol->PsiCount; I++) {
        if ((Protocol->Psi[I] & 0xF) == SpeedId) return PsiSpeed(Protocol->Psi[I]);
    }
    return USB_SPEED_UNKNOWN;
}

U8 XHCIProtocolSpeedId(const XHCI_PROTOCOL* Protocol, USB_SPEED Speed) {
    if (Protocol != NULL) {
        for (U32 I = 0; I < Protocol->PsiCount; I++) {
            if (PsiSpeed(Protocol->Psi[I]) == Speed) return (U8)(Protocol->Psi[I] & 0xF);
        }
    }
    return XHCIDefaultSpeedId(Speed);
}

/************************************************************************/
// Extended capabilities

static void ReadProtocol(XHCI_READ32 Read, LPVOID Context, U32 Offset, XHCI_PROTOCOL* Protocol) {
    U32 Dword0 = Read(Context, Offset);
    U32 Dword2 = Read(Context, Offset + 8);
    U32 Dword3 = Read(Context, Offset + 12);
    MemorySet(Protocol, 0, sizeof(*Protocol));
    Protocol->Minor = (U8)(Dword0 >> 16);
    Protocol->Major = (U8)(Dword0 >> 24);
    Protocol->FirstPort = (U8)Dword2;
    Protocol->PortCount = (U8)(Dword2 >> 8);
    Protocol->SlotType = (U8)(Dword3 & 0x1F);
    U32 Psic = Dword2 >> 28;
    Protocol->PsiCount = (U8)MIN(Psic, (U32)XHCI_MAX_PSI);
    for (U32 I = 0; I < Protocol->PsiCount; I++) Protocol->Psi[I] = Read(Context, Offset + PROTOCOL_SIZE + 4 * I);
}

U32 XHCIReadExtendedCapabilities(XHCI_READ32 Read, LPVOID Context, U32 Xecp, U32 Limit, XHCI_PROTOCOL* Protocols,
                                 U32* LegacyOffset) {
    U32 Count = 0;
    *LegacyOffset = 0;
    U32 Offset = Xecp * 4;
    for (U32 Step = 0; Xecp != 0 && Step < XCAP_WALK_LIMIT && Offset + PROTOCOL_SIZE <= Limit; Step++) {
        U32 Header = Read(Context, Offset);
        if (Header == MAX_U32) break;  // the device is gone
        if (XHCI_XCAP_ID(Header) == XHCI_XCAP_LEGACY && *LegacyOffset == 0) *LegacyOffset = Offset;
        if (XHCI_XCAP_ID(Header) == XHCI_XCAP_PROTOCOL && Count < XHCI_MAX_PROTOCOLS) {
            ReadProtocol(Read, Context, Offset, &Protocols[Count]);
            if (Protocols[Count].FirstPort != 0 && Protocols[Count].PortCount != 0) Count++;
        }
        if (XHCI_XCAP_NEXT(Header) == 0) break;
        Offset += XHCI_XCAP_NEXT(Header) * 4;
    }
    return Count;
}

const XHCI_PROTOCOL* XHCIPortProtocol(const XHCI_PROTOCOL* Protocols, U32 Count, U32 Port) {
    for (U32 I = 0; I < Count; I++) {
        U32 First = Protocols[I].FirstPort;
        if (Port >= First && Port < First + Protocols[I].PortCount) return &Protocols[I];
    }
    return NULL;
}

/************************************************************************/
// Intervals

U8 XHCIInterruptInterval(USB_SPEED Speed, U8 BInterval) {
    if (BInterval == 0) BInterval = 1;
    if (Speed >= USB_SPEED_HIGH && BInterval <= 16) return (U8)(BInterval - 1);
    // Milliseconds (full and low speed, or a high-speed device that reports them): 2^n * 125 us <= bInterval ms.
    U32 Microframes = (U32)BInterval * 8;
    U8 Exponent = 0;
    while ((2U << Exponent) <= Microframes) Exponent++;
    return (U8)MIN(MAX(Exponent, (U8)3), (U8)10);
}

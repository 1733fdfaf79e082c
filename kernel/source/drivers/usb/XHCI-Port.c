/*
 * XHCI-Port.c - the root hub: port power, connect and disconnect, port
 * reset and speed detection.
 *
 * Layer: drivers/usb, on the controller thread. PORTSC is never written
 * back as read: writing 1 to PED disables the port and writing 1 to a
 * change bit clears it, so every write starts from XHCIPortNeutral (fact
 * sheet 6; QEMU ignores PED writes, real controllers do not).
 *
 * Ports come in protocols (Supported Protocol capabilities): a USB 2 port
 * needs a reset (PR) after connect, which the controller times, then shows
 * PED, U0, PRC and the speed; a USB 3 port trains its link by itself and
 * shows PED and U0 without one. Devices attached before the controller ran
 * raise no event (QEMU: events only on a 0->1 change while running), so the
 * first look reads every PORTSC instead of waiting for events.
 *
 * Timing (USB 2.0 7.1.7.3 and 7.1.7.5, EDK2): 100 ms debounce after a
 * connect, 10 ms recovery after a reset, 20 ms after powering a port.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/String.h"

static U32 ReadPort(XHCI_CONTROLLER* C, U32 Port) { return XHCIReadOp(C, XHCI_OP_PORTSC(Port)); }
static void WritePort(XHCI_CONTROLLER* C, U32 Port, U32 Value) { XHCIWriteOp(C, XHCI_OP_PORTSC(Port), Value); }

const XHCI_PROTOCOL* XHCIPortProtocolOf(XHCI_CONTROLLER* C, U32 Port) {
    return XHCIPortProtocol(C->Protocols, C->ProtocolCount, Port);
}

LPCSTR XHCIPortLinkName(U32 PortSc) {
    static const char* const Names[16] = {"U0",        "U1",         "U2",   "U3",      "disabled", "rx-detect",
                                          "inactive",  "polling",    "recovery", "hot-reset", "compliance",
                                          "test",      "12",         "13",   "14",      "resume"};
    return Names[(PortSc & XHCI_PORT_PLS_MASK) >> XHCI_PORT_PLS_SHIFT];
}

static BOOL IsUsb3(XHCI_CONTROLLER* C, U32 Port) {
    const XHCI_PROTOCOL* Protocol = XHCIPortProtocolOf(C, Port);
    return Protocol != NULL && Protocol->Major >= 3;
}

/** Acknowledges the change bits set in PortSc (and only those). */
static void ClearChanges(XHCI_CONTROLLER* C, U32 Port, U32 PortSc, U32 Which) {
    U32 Changes = PortSc & XHCI_PORT_CHANGES & Which;
    if (Changes) WritePort(C, Port, XHCIPortNeutral(PortSc) | Changes);
}

void XHCIPortEvent(XHCI_CONTROLLER* C, U32 Port) {
    if (Port == 0 || Port > C->PortCount) return;
    C->PortChanges[Port / 64] |= 1ULL << (Port % 64);
}

/** Resets a port (USB 2) or checks its trained link (USB 3); TRUE when it is enabled with a device. */
static BOOL ResetPort(XHCI_CONTROLLER* C, U32 Port, U32* PortSc) {
    U32 Sc = ReadPort(C, Port);
    BOOL Trained = IsUsb3(C, Port) && (Sc & XHCI_PORT_PED) &&
                   ((Sc & XHCI_PORT_PLS_MASK) >> XHCI_PORT_PLS_SHIFT) == XHCI_PLS_U0;
    if (!Trained) {
        WritePort(C, Port, XHCIPortNeutral(Sc) | XHCI_PORT_PR);
        U64 Deadline = XHCINowMs() + USB_RESET_TIMEOUT_MS;
        for (;;) {
            Sc = ReadPort(C, Port);
            if (Sc == MAX_U32 || !(Sc & XHCI_PORT_CCS)) break;
            if ((Sc & XHCI_PORT_PRC) || (!(Sc & XHCI_PORT_PR) && (Sc & XHCI_PORT_PED))) break;
            if (XHCINowMs() >= Deadline) break;
            PlatformSleepMs(1);
        }
        ClearChanges(C, Port, Sc, XHCI_PORT_PRC | XHCI_PORT_WRC | XHCI_PORT_PEC);
        PlatformSleepMs(USB_RESET_RECOVERY_MS);
        Sc = ReadPort(C, Port);
    }
    *PortSc = Sc;
    return Sc != MAX_U32 && (Sc & XHCI_PORT_CCS) && (Sc & XHCI_PORT_PED);
}

static void Connect(XHCI_CONTROLLER* C, U32 Port) {
    U64 Started = XHCINowMs();
    U32 Sc;
    if (!ResetPort(C, Port, &Sc)) {
        if (Sc != MAX_U32 && (Sc & XHCI_PORT_CCS)) {
            WARNING("[XHCIPortConnect] %s port %u: no enabled link after reset (PORTSC %x, link %s)", C->Name, Port, Sc,
                    XHCIPortLinkName(Sc));
        }
        return;
    }
    U8 SpeedId = (U8)((Sc & XHCI_PORT_SPEED_MASK) >> XHCI_PORT_SPEED_SHIFT);
    USB_LOCATION Where = {(U8)Port, XHCIProtocolSpeed(XHCIPortProtocolOf(C, Port), SpeedId), NULL, 0};
    if (Where.Speed == USB_SPEED_UNKNOWN) {
        WARNING("[XHCIPortConnect] %s port %u: unknown speed ID %u", C->Name, Port, SpeedId);
        return;
    }
    XHCIDeviceEnumerate(C, &Where, Started);
}

/** A root port whose status changed: removal, connection, or both (a quick re-plug). */
static void ServicePort(XHCI_CONTROLLER* C, U32 Port) {
    U32 Sc = ReadPort(C, Port);
    if (Sc == MAX_U32) return;
    ClearChanges(C, Port, Sc, XHCI_PORT_CHANGES);
    if (Sc & XHCI_PORT_OCC) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 3, "[XHCIPortsService] %s port %u: over-current%s", C->Name, Port,
                         (Sc & XHCI_PORT_OCA) ? "" : " (cleared)");
    }
    USB_DEVICE* Device = XHCIDeviceAt(C, NULL, (U8)Port);
    if (Device && (!(Sc & XHCI_PORT_CCS) || !(Sc & XHCI_PORT_PED) || (Sc & XHCI_PORT_CSC))) {
        XHCIDeviceRemove(Device, TRUE);
        Device = NULL;
    }
    if (Device || !(Sc & XHCI_PORT_CCS)) return;
    PlatformSleepMs(USB_DEBOUNCE_MS);
    Sc = ReadPort(C, Port);
    if (Sc != MAX_U32 && (Sc & XHCI_PORT_CCS)) Connect(C, Port);
}

void XHCIPortsService(XHCI_CONTROLLER* C) {
    for (U32 Port = 1; Port <= C->PortCount && !C->Dead; Port++) {
        U64 Bit = 1ULL << (Port % 64);
        if (!(C->PortChanges[Port / 64] & Bit)) continue;
        C->PortChanges[Port / 64] &= ~Bit;
        ServicePort(C, Port);
    }
}

void XHCIPortsStart(XHCI_CONTROLLER* C) {
    MemorySet(C->PortChanges, 0, sizeof(C->PortChanges));
    // Controllers with port power control start with ports off (xHCI 5.4.8): on, then 20 ms.
    if (C->HccParams1 & XHCI_HCC1_PPC) {
        BOOL Powered = FALSE;
        for (U32 Port = 1; Port <= C->PortCount; Port++) {
            U32 Sc = ReadPort(C, Port);
            if (Sc == MAX_U32 || (Sc & XHCI_PORT_PP)) continue;
            WritePort(C, Port, XHCIPortNeutral(Sc) | XHCI_PORT_PP);
            Powered = TRUE;
        }
        if (Powered) PlatformSleepMs(USB_PORT_POWER_MS);
    }
    U64 Connected[(XHCI_MAX_PORTS + 64) / 64] = {0};
    BOOL Any = FALSE;
    for (U32 Port = 1; Port <= C->PortCount; Port++) {
        U32 Sc = ReadPort(C, Port);
        if (Sc == MAX_U32) return;
        ClearChanges(C, Port, Sc, XHCI_PORT_CHANGES);
        if (Sc & XHCI_PORT_CCS) {
            Connected[Port / 64] |= 1ULL << (Port % 64);
            Any = TRUE;
        }
    }
    if (!Any) return;
    PlatformSleepMs(USB_DEBOUNCE_MS);  // one debounce for every port connected at start
    for (U32 Port = 1; Port <= C->PortCount && !C->Dead; Port++) {
        if (!(Connected[Port / 64] & (1ULL << (Port % 64)))) continue;
        U32 Sc = ReadPort(C, Port);
        if (Sc != MAX_U32 && (Sc & XHCI_PORT_CCS)) Connect(C, Port);
        XHCIProcessEvents(C);  // keys of a keyboard found first arrive while the next port is enumerated
    }
}

/*
 * XHCI-Spec.h - what the xHCI specification fixes: register offsets and
 * bits, TRB and context layouts, and the pure functions built on them
 * (rings: XHCI-Ring.c; contexts, speeds, intervals, protocol capabilities:
 * XHCI-Context.c).
 *
 * Layer: drivers/usb, below the driver's state. Nothing here touches the
 * machine except through the pointers it is handed (ring memory, a register
 * reader callback), so the unit tests run it on plain memory.
 *
 * Sources (section numbers of the xHCI 1.2 specification, as cited by
 * EDK2 and Linux; see documentation/USB.md and the fact sheet):
 * capability registers 5.3, operational 5.4, runtime 5.5, doorbells 5.6,
 * extended capabilities 7 (USB Legacy Support 7.1, Supported Protocol 7.2),
 * TRBs 6.4, contexts 6.2, event ring segment table 6.5.
 */

#ifndef DRIVERS_USB_XHCI_SPEC_H_INCLUDED
#define DRIVERS_USB_XHCI_SPEC_H_INCLUDED

#include "Base.h"
#include "drivers/usb/USB-Spec.h"

/************************************************************************/
// Capability registers (BAR0 + 0), 5.3

#define XHCI_CAP_LENGTH_VERSION 0x00  // CAPLENGTH 7:0, HCIVERSION 31:16 (read as one dword)
#define XHCI_CAP_HCSPARAMS1 0x04
#define XHCI_CAP_HCSPARAMS2 0x08
#define XHCI_CAP_HCSPARAMS3 0x0C
#define XHCI_CAP_HCCPARAMS1 0x10
#define XHCI_CAP_DBOFF 0x14
#define XHCI_CAP_RTSOFF 0x18

#define XHCI_HCS1_MAX_SLOTS(v) ((v) & 0xFF)
#define XHCI_HCS1_MAX_INTRS(v) (((v) >> 8) & 0x7FF)
#define XHCI_HCS1_MAX_PORTS(v) (((v) >> 24) & 0xFF)
#define XHCI_HCS2_ERST_MAX(v) (((v) >> 4) & 0xF)
#define XHCI_HCS2_SCRATCHPADS(v) ((((v) >> 21) & 0x1F) << 5 | (((v) >> 27) & 0x1F))
#define XHCI_HCC1_AC64 0x0001
#define XHCI_HCC1_CSZ 0x0004
#define XHCI_HCC1_PPC 0x0008
#define XHCI_HCC1_XECP(v) (((v) >> 16) & 0xFFFF)  // in dwords from BAR0

/************************************************************************/
// Operational registers (BAR0 + CAPLENGTH), 5.4

#define XHCI_OP_USBCMD 0x00
#define XHCI_OP_USBSTS 0x04
#define XHCI_OP_PAGESIZE 0x08
#define XHCI_OP_DNCTRL 0x14
#define XHCI_OP_CRCR_LOW 0x18
#define XHCI_OP_CRCR_HIGH 0x1C
#define XHCI_OP_DCBAAP_LOW 0x30
#define XHCI_OP_DCBAAP_HIGH 0x34
#define XHCI_OP_CONFIG 0x38
#define XHCI_OP_PORTSC(n) (0x400 + 0x10 * ((n) - 1))  // ports are numbered from 1

#define XHCI_CMD_RUN 0x0001
#define XHCI_CMD_HCRST 0x0002
#define XHCI_CMD_INTE 0x0004
#define XHCI_CMD_HSEE 0x0008
#define XHCI_CMD_EWE 0x0400

#define XHCI_STS_HCH 0x0001   // halted
#define XHCI_STS_HSE 0x0004   // host system error (RW1C)
#define XHCI_STS_EINT 0x0008  // event interrupt (RW1C)
#define XHCI_STS_PCD 0x0010   // port change detect (RW1C)
#define XHCI_STS_SRE 0x0400   // save/restore error (RW1C)
#define XHCI_STS_CNR 0x0800   // controller not ready
#define XHCI_STS_HCE 0x1000   // host controller error (fatal)

#define XHCI_CRCR_RCS 0x1
#define XHCI_CRCR_CS 0x2
#define XHCI_CRCR_CA 0x4
#define XHCI_CRCR_CRR 0x8

/************************************************************************/
// PORTSC, 5.4.8: bits by access type (writing a raw read back disables the port)

#define XHCI_PORT_CCS 0x00000001   // current connect status (RO)
#define XHCI_PORT_PED 0x00000002   // port enabled (RW1CS: writing 1 disables)
#define XHCI_PORT_OCA 0x00000008   // over-current active (RO)
#define XHCI_PORT_PR 0x00000010    // port reset (RW1S)
#define XHCI_PORT_PLS_SHIFT 5      // port link state 8:5 (RWS with LWS)
#define XHCI_PORT_PLS_MASK 0x000001E0
#define XHCI_PORT_PP 0x00000200    // port power (RWS)
#define XHCI_PORT_SPEED_SHIFT 10   // port speed 13:10 (RO)
#define XHCI_PORT_SPEED_MASK 0x00003C00
#define XHCI_PORT_PIC_MASK 0x0000C000  // indicator control (RWS)
#define XHCI_PORT_LWS 0x00010000
#define XHCI_PORT_CSC 0x00020000   // connect status change (RW1CS)
#define XHCI_PORT_PEC 0x00040000
#define XHCI_PORT_WRC 0x00080000
#define XHCI_PORT_OCC 0x00100000
#define XHCI_PORT_PRC 0x00200000
#define XHCI_PORT_PLC 0x00400000
#define XHCI_PORT_CEC 0x00800000
#define XHCI_PORT_CHANGES 0x00FE0000
#define XHCI_PORT_WAKE_MASK 0x0E000000  // WCE, WDE, WOE (RWS)
#define XHCI_PORT_DR 0x40000000    // device removable (RO)
#define XHCI_PORT_WPR 0x80000000   // warm port reset (RW1S, USB3)

#define XHCI_PLS_U0 0
#define XHCI_PLS_U3 3
#define XHCI_PLS_DISABLED 4
#define XHCI_PLS_RX_DETECT 5
#define XHCI_PLS_POLLING 7

/**
 * The value to write to change nothing: read-only and RWS bits kept, PED and
 * every RW1C change bit zero (Linux xhci_port_state_to_neutral).
 */
static inline U32 XHCIPortNeutral(U32 PortSc) {
    return PortSc & (XHCI_PORT_CCS | XHCI_PORT_OCA | XHCI_PORT_PLS_MASK | XHCI_PORT_PP | XHCI_PORT_SPEED_MASK |
                     XHCI_PORT_PIC_MASK | XHCI_PORT_WAKE_MASK | XHCI_PORT_DR);
}

/************************************************************************/
// Runtime registers (BAR0 + RTSOFF) and doorbells (BAR0 + DBOFF), 5.5 and 5.6

#define XHCI_RT_IR(i) (0x20 + 0x20 * (i))  // interrupter register set i
#define XHCI_IR_IMAN 0x00
#define XHCI_IR_IMOD 0x04
#define XHCI_IR_ERSTSZ 0x08
#define XHCI_IR_ERSTBA_LOW 0x10
#define XHCI_IR_ERSTBA_HIGH 0x14
#define XHCI_IR_ERDP_LOW 0x18
#define XHCI_IR_ERDP_HIGH 0x1C

#define XHCI_IMAN_IP 0x1  // interrupt pending (RW1C)
#define XHCI_IMAN_IE 0x2
#define XHCI_ERDP_EHB 0x8  // event handler busy (RW1C)
#define XHCI_IMOD_40US 160  // IMODI in 250 ns units (Linux programs 40 us)

#define XHCI_DOORBELL(n) (4 * (n))

/************************************************************************/
// Extended capabilities, 7

#define XHCI_XCAP_ID(v) ((v) & 0xFF)
#define XHCI_XCAP_NEXT(v) (((v) >> 8) & 0xFF)  // in dwords, 0: last
#define XHCI_XCAP_LEGACY 1
#define XHCI_XCAP_PROTOCOL 2

#define XHCI_LEGACY_BIOS_OWNED 0x00010000
#define XHCI_LEGACY_OS_OWNED 0x01000000
#define XHCI_LEGACY_CTLSTS 4                           // USBLEGCTLSTS, after USBLEGSUP
#define XHCI_LEGACY_SMI_KEEP ((0x7U << 1) | (0xFFU << 5) | (0x7U << 17))  // reserved bits kept (Linux)
#define XHCI_LEGACY_SMI_EVENTS (0x7U << 29)            // RW1C event bits

// Intel PCH port routing (PCI configuration space of the xHCI function), fact sheet 10.1
#define XHCI_INTEL_XUSB2PR 0xD0
#define XHCI_INTEL_XUSB2PRM 0xD4
#define XHCI_INTEL_USB3_PSSEN 0xD8
#define XHCI_INTEL_USB3PRM 0xDC

/************************************************************************/
// TRBs, 6.4

typedef struct tag_XHCI_TRB {
    U32 Parameter0;
    U32 Parameter1;
    U32 Status;
    U32 Control;
} XHCI_TRB;

#define XHCI_TRB_SIZE 16
#define XHCI_TRB_CYCLE 0x00000001
#define XHCI_TRB_ENT 0x00000002       // evaluate next TRB (normal) / toggle cycle (link: TC)
#define XHCI_TRB_TC 0x00000002
#define XHCI_TRB_ISP 0x00000004       // interrupt on short packet
#define XHCI_TRB_CH 0x00000010        // chain
#define XHCI_TRB_IOC 0x00000020       // interrupt on completion
#define XHCI_TRB_IDT 0x00000040       // immediate data
#define XHCI_TRB_BSR 0x00000200       // Address Device: block SET_ADDRESS
#define XHCI_TRB_DIR_IN 0x00010000    // Data / Status stage direction
#define XHCI_TRB_TYPE_SHIFT 10
#define XHCI_TRB_TYPE(control) (((control) >> 10) & 0x3F)
#define XHCI_TRB_TRT_SHIFT 16         // Setup: transfer type
#define XHCI_TRT_NO_DATA 0
#define XHCI_TRT_OUT 2
#define XHCI_TRT_IN 3
#define XHCI_TRB_SLOT_SHIFT 24
#define XHCI_TRB_SLOT(control) (((control) >> 24) & 0xFF)
#define XHCI_TRB_ENDPOINT_SHIFT 16
#define XHCI_TRB_ENDPOINT(control) (((control) >> 16) & 0x1F)
#define XHCI_TRB_SLOT_TYPE_SHIFT 16   // Enable Slot

// Event TRB status: completion code 31:24, transfer residual 23:0
#define XHCI_EVENT_CODE(status) (((status) >> 24) & 0xFF)
#define XHCI_EVENT_RESIDUAL(status) ((status) & 0xFFFFFF)
#define XHCI_EVENT_PORT(parameter0) (((parameter0) >> 24) & 0xFF)

// TRB types
#define XHCI_TRB_NORMAL 1
#define XHCI_TRB_SETUP 2
#define XHCI_TRB_DATA 3
#define XHCI_TRB_STATUS 4
#define XHCI_TRB_LINK 6
#define XHCI_TRB_ENABLE_SLOT 9
#define XHCI_TRB_DISABLE_SLOT 10
#define XHCI_TRB_ADDRESS_DEVICE 11
#define XHCI_TRB_CONFIGURE_ENDPOINT 12
#define XHCI_TRB_EVALUATE_CONTEXT 13
#define XHCI_TRB_RESET_ENDPOINT 14
#define XHCI_TRB_STOP_ENDPOINT 15
#define XHCI_TRB_SET_TR_DEQUEUE 16
#define XHCI_TRB_NOOP_COMMAND 23
#define XHCI_TRB_TRANSFER_EVENT 32
#define XHCI_TRB_COMMAND_COMPLETION 33
#define XHCI_TRB_PORT_STATUS_CHANGE 34
#define XHCI_TRB_HOST_CONTROLLER 37

// Completion codes, 6.4.5
#define XHCI_CC_SUCCESS 1
#define XHCI_CC_DATA_BUFFER 2
#define XHCI_CC_BABBLE 3
#define XHCI_CC_TRANSACTION 4
#define XHCI_CC_TRB 5
#define XHCI_CC_STALL 6
#define XHCI_CC_NO_SLOTS 9
#define XHCI_CC_SLOT_NOT_ENABLED 11
#define XHCI_CC_EP_NOT_ENABLED 12
#define XHCI_CC_SHORT_PACKET 13
#define XHCI_CC_PARAMETER 17
#define XHCI_CC_CONTEXT_STATE 19
#define XHCI_CC_EVENT_RING_FULL 21
#define XHCI_CC_COMMAND_RING_STOPPED 24
#define XHCI_CC_COMMAND_ABORTED 25
#define XHCI_CC_STOPPED 26

/** A completion code's name for logs ("stall", "short packet", "code 42"). */
LPCSTR XHCICompletionName(U32 Code, LPSTR Buffer, SIZE Size);

/************************************************************************/
// Rings (XHCI-Ring.c, pure)

/**
 * A producer ring (the command ring, or one endpoint's transfer ring): one
 * segment of Count TRBs whose last is a Link TRB back to the start with
 * Toggle Cycle. Enqueue writes TRBs with the producer cycle state (PCS) and
 * flips the cycle bit of a TRB last, after a write barrier, so the consumer
 * never sees half a TRB. Dequeue follows the events: a TRB is free once an
 * event names it or a TRB after it. Invariant: 0 <= Enqueue < Count - 1.
 */
typedef struct tag_XHCI_RING {
    XHCI_TRB* Trbs;
    PHYSICAL Physical;
    U32 Count;       // including the Link TRB
    U32 Enqueue;     // next TRB to write
    U32 Dequeue;     // oldest TRB the controller may still own
    U32 Cycle;       // producer cycle state (0 or 1)
    BOOL ChainLinks; // xHCI 0.95 parts want CH on every Link TRB (Linux XHCI_LINK_TRB_QUIRK)
} XHCI_RING;

/** Count TRBs of zeroed memory at Trbs / Physical (Count >= 4); writes the Link TRB. */
void XHCIRingInit(XHCI_RING* Ring, XHCI_TRB* Trbs, PHYSICAL Physical, U32 Count);
/** TRBs that can still be enqueued before the ring would overrun its dequeue point. */
U32 XHCIRingSpace(const XHCI_RING* Ring);
/**
 * Writes Trb (its cycle bit replaced by PCS) at the enqueue point and moves
 * on, following the Link TRB (whose CH bit copies Trb's, so a chained TD may
 * cross it). Returns the TRB's physical address, 0 when the ring is full.
 */
PHYSICAL XHCIRingEnqueue(XHCI_RING* Ring, const XHCI_TRB* Trb);
/**
 * Writes a TD (Count TRBs) so that the controller sees all of it or none:
 * the first TRB is written with the wrong cycle bit and given the right one
 * last. Addresses[i] receives each TRB's address. FALSE when it does not fit.
 */
BOOL XHCIRingEnqueueTd(XHCI_RING* Ring, const XHCI_TRB* Trbs, U32 Count, PHYSICAL* Addresses);
/** Index of the TRB at Physical in the ring, or MAX_U32 when it is not one of its TRBs. */
U32 XHCIRingIndexOf(const XHCI_RING* Ring, PHYSICAL Physical);
/** An event named the TRB at Physical: every TRB up to it is the software's again. FALSE if not ours. */
BOOL XHCIRingRetire(XHCI_RING* Ring, PHYSICAL Physical);
/** The enqueue point as Set TR Dequeue Pointer wants it: address | DCS. */
U64 XHCIRingDequeueValue(const XHCI_RING* Ring);
/** Forgets every TRB in flight (after Stop Endpoint + Set TR Dequeue to XHCIRingDequeueValue). */
void XHCIRingDropInFlight(XHCI_RING* Ring);

/**
 * The event ring, consumer side: one segment (no Link TRBs: the controller
 * wraps at the end and flips its cycle). A TRB is valid while its cycle bit
 * equals the consumer cycle state (CCS, starts at 1), which flips on wrap.
 */
typedef struct tag_XHCI_EVENT_RING {
    XHCI_TRB* Trbs;
    PHYSICAL Physical;
    U32 Count;
    U32 Dequeue;
    U32 Cycle;
} XHCI_EVENT_RING;

void XHCIEventRingInit(XHCI_EVENT_RING* Ring, XHCI_TRB* Trbs, PHYSICAL Physical, U32 Count);
/** Copies the next valid event into *Event and moves on; FALSE when none is waiting. */
BOOL XHCIEventRingNext(XHCI_EVENT_RING* Ring, XHCI_TRB* Event);
/** What to write to ERDP after consuming: the next TRB's address with EHB set (to clear it). */
U64 XHCIEventRingERDP(const XHCI_EVENT_RING* Ring);

/** The pending command and whether a Command Completion event is its answer (same TRB address). */
typedef struct tag_XHCI_COMMAND_WAIT {
    PHYSICAL Trb;        // the command's address on the command ring (0: none pending)
    BOOL Done;
    XHCI_TRB Completion;
} XHCI_COMMAND_WAIT;

/** Records Event if it completes the pending command; FALSE for a stale or unknown completion. */
BOOL XHCICommandComplete(XHCI_COMMAND_WAIT* Wait, const XHCI_TRB* Event);

/************************************************************************/
// Contexts, 6.2 (XHCI-Context.c, pure)

#define XHCI_MAX_DCI 31
#define XHCI_EP_TYPE_CONTROL 4
#define XHCI_EP_TYPE_INTERRUPT_OUT 3
#define XHCI_EP_TYPE_INTERRUPT_IN 7
#define XHCI_SLOT_STATE(dw3) (((dw3) >> 27) & 0x1F)
#define XHCI_SLOT_ADDRESS(dw3) ((dw3) & 0xFF)

/** Where things are in an input context (ContextSize 32 or 64, HCCPARAMS1.CSZ). */
static inline U32 XHCIInputSlotOffset(U32 ContextSize) { return ContextSize; }
static inline U32 XHCIInputEndpointOffset(U32 ContextSize, U32 Dci) { return (Dci + 1) * ContextSize; }
static inline U32 XHCIOutputEndpointOffset(U32 ContextSize, U32 Dci) { return Dci * ContextSize; }

/** The device context index of an endpoint address (bit 7 = IN): EP0 is 1, EP n OUT 2n, IN 2n + 1. */
static inline U32 XHCIEndpointDci(U8 EndpointAddress) {
    U32 Number = EndpointAddress & 0x0F;
    return Number == 0 ? 1 : Number * 2 + ((EndpointAddress & 0x80) ? 1 : 0);
}

/** Slot context fields Cairn sets (6.2.2). */
typedef struct tag_XHCI_SLOT_FIELDS {
    U32 Route;          // 20-bit route string
    U8 SpeedId;         // the port speed ID (PORTSC 13:10 values)
    BOOL Hub;
    BOOL MultiTT;
    U8 ContextEntries;  // highest valid DCI
    U8 RootPort;        // 1-based
    U8 PortCount;       // hubs
    U8 TTSlot;          // LS/FS behind a high-speed hub: the hub's slot ...
    U8 TTPort;          // ... and the hub port
    U8 TTThinkTime;     // high-speed hubs: wHubCharacteristics 6:5
} XHCI_SLOT_FIELDS;

void XHCIWriteSlotContext(U32* Slot, const XHCI_SLOT_FIELDS* Fields);

/** Endpoint context fields Cairn sets (6.2.3). */
typedef struct tag_XHCI_ENDPOINT_FIELDS {
    U8 Type;            // XHCI_EP_TYPE_*
    U16 MaxPacket;
    U8 MaxBurst;
    U8 Interval;        // xHCI encoding: period = 2^Interval * 125 us
    U64 Dequeue;        // ring address | DCS
    U16 AverageTrbLength;
    U16 MaxEsitPayload;
} XHCI_ENDPOINT_FIELDS;

void XHCIWriteEndpointContext(U32* Endpoint, const XHCI_ENDPOINT_FIELDS* Fields);

/************************************************************************/
// Speeds and ports (XHCI-Context.c, pure)

/** The speed ID (PSIV) a port or slot context uses for Speed when the protocol defines no PSI table. */
U8 XHCIDefaultSpeedId(USB_SPEED Speed);

#define XHCI_MAX_PSI 16

/** One Supported Protocol capability (7.2): the ports it covers and their speed IDs. */
typedef struct tag_XHCI_PROTOCOL {
    U8 Major, Minor;    // 2.0, 3.0, 3.1 ...
    U8 FirstPort;       // 1-based
    U8 PortCount;
    U8 SlotType;        // for Enable Slot
    U8 PsiCount;
    U32 Psi[XHCI_MAX_PSI];
} XHCI_PROTOCOL;

/** The speed a port speed ID means under Protocol (its PSI table, or the default IDs 1-4). */
USB_SPEED XHCIProtocolSpeed(const XHCI_PROTOCOL* Protocol, U8 SpeedId);
/** The speed ID for Speed under Protocol (for slot contexts of devices behind hubs). */
U8 XHCIProtocolSpeedId(const XHCI_PROTOCOL* Protocol, USB_SPEED Speed);

/** Reads a dword at an offset from BAR0 (the driver passes MMIO, tests an array). */
typedef U32 (*XHCI_READ32)(LPVOID Context, U32 Offset);

#define XHCI_MAX_PROTOCOLS 8

/**
 * Walks the extended capability list from xECP (a dword offset; bounded:
 * at most 256 entries, stops at all ones or an offset beyond Limit). Fills
 * Protocols (up to XHCI_MAX_PROTOCOLS) and *LegacyOffset (0: none); returns
 * the protocol count.
 */
U32 XHCIReadExtendedCapabilities(XHCI_READ32 Read, LPVOID Context, U32 Xecp, U32 Limit, XHCI_PROTOCOL* Protocols,
                                 U32* LegacyOffset);
/** The protocol that covers Port, or NULL. */
const XHCI_PROTOCOL* XHCIPortProtocol(const XHCI_PROTOCOL* Protocols, U32 Count, U32 Port);

/**
 * The xHCI Interval (log2 of the period in 125 us units) for an interrupt
 * endpoint's bInterval: HS/SS: bInterval - 1 (1..16; larger values are
 * taken as milliseconds, as EDK2 does); LS/FS: bInterval is in ms, so
 * floor(log2(bInterval * 8)), clamped to 3..10.
 */
U8 XHCIInterruptInterval(USB_SPEED Speed, U8 BInterval);

#endif  // DRIVERS_USB_XHCI_SPEC_H_INCLUDED

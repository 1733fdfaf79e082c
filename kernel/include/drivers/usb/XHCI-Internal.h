/*
 * XHCI-Internal.h - what the xHCI driver's files share: the controller,
 * device and endpoint structures and the functions each file offers.
 *
 * Files (drivers/usb/, one concern each):
 *   XHCI-Ring.c      pure: producer rings, the event ring, command matching
 *   XHCI-Context.c   pure: slot/endpoint contexts, speeds, protocols, intervals
 *   XHCI-Core.c      PCI binding, firmware hand-off, reset, rings and
 *                    interrupts programmed, the controller thread, restart
 *   XHCI-Events.c    the event loop's dispatch, commands and their waits
 *   XHCI-Port.c      root ports: power, connect/disconnect, reset, speed
 *   XHCI-Device.c    enumeration: slot, address, descriptors, configuration,
 *                    class driver choice, removal
 *   XHCI-Transfer.c  control transfers, interrupt IN transfers, endpoint
 *                    configuration and halt recovery
 *   USB-Hub.c        the hub class driver (ports behind hubs)
 *   USB-HID-Keyboard.c  the boot keyboard class driver
 *   USB-Info.c       snapshots for the shell (`usb`) and the input hook
 *
 * Threading: each controller has one thread ("xhci<N>") that owns all of
 * its state: it processes events, runs commands and control transfers
 * synchronously (processing other events while it waits), enumerates and
 * removes devices, and services keyboards (repeat, LEDs). The interrupt
 * handler only acknowledges and signals Wake. Event callbacks (interrupt
 * transfers completing) never wait: what needs a command or a control
 * transfer is flagged and done by the thread's loop. The device list that
 * the shell reads is changed under Lock; nothing else is shared.
 *
 * Memory: every structure the controller reads is one zeroed 4 KiB page
 * below 4 GiB (PLATFORM_DMA_BELOW_4GB), which meets every alignment and
 * boundary rule of xHCI 6 table 6-1 and the 64-bit DMA bugs of some parts.
 */

#ifndef DRIVERS_USB_XHCI_INTERNAL_H_INCLUDED
#define DRIVERS_USB_XHCI_INTERNAL_H_INCLUDED

#include "Base.h"
#include "drivers/Platform.h"
#include "drivers/usb/USB-Spec.h"
#include "drivers/usb/USB.h"
#include "drivers/usb/XHCI-Spec.h"

#define XHCI_MAX_CONTROLLERS 4
#define XHCI_MAX_SLOTS 32         // slots enabled (CONFIG.MaxSlotsEn), at most what HCSPARAMS1 offers
#define XHCI_MAX_PORTS 64         // root ports driven (xHCI allows 255)
#define XHCI_RING_TRBS 256        // one 4 KiB page per ring
#define XHCI_PAGE 4096
#define XHCI_CONTROL_BUFFER 3072  // control data: the first 3 KiB of a device's data page
#define XHCI_INTERRUPT_BUFFER 3072  // interrupt IN data: the last 1 KiB

// Bounds (sources in documentation/USB.md)
#define XHCI_HANDOFF_TIMEOUT_MS 1000  // BIOS owned -> 0 (Linux quirk_usb_handoff_xhci)
#define XHCI_CNR_TIMEOUT_MS 1000      // controller not ready after hand-off or reset (EDK2: 1 s)
#define XHCI_HALT_TIMEOUT_MS 32       // spec: 16 ms; SeaBIOS waits 32
#define XHCI_RESET_TIMEOUT_MS 1000    // HCRST clears (EDK2 XHC_RESET_TIMEOUT)
#define XHCI_RESET_DELAY_MS 2         // no register access right after HCRST (Intel: 1 ms; EDK2: 2 ms)
#define XHCI_COMMAND_TIMEOUT_MS 5000  // Linux XHCI_CMD_DEFAULT_TIMEOUT
#define XHCI_ABORT_TIMEOUT_MS 5000
#define XHCI_CONTROL_TIMEOUT_MS 5000  // USB 2.0 9.2.6.4: a request completes within 5 s
#define XHCI_POLL_MS 8                // polled mode: the event ring is read this often when idle
#define XHCI_POLL_STEP_MS 1           // polled mode: while a command or transfer is waited for
#define XHCI_IDLE_WAIT_MS 1000        // interrupt mode: the loop also wakes this often (health check)
#define USB_DEBOUNCE_MS 100           // connect debounce (USB 2.0 7.1.7.3, EDK2)
#define USB_RESET_TIMEOUT_MS 500      // port reset complete
#define USB_RESET_RECOVERY_MS 10      // TRSTRCY (USB 2.0 7.1.7.5)
#define USB_SET_ADDRESS_RECOVERY_MS 2 // USB 2.0 9.2.6.3
#define USB_PORT_POWER_MS 20          // root port power-on (xHCI 5.4.9)
#define XHCI_MAX_RESTARTS 3           // re-initialisations after a fatal error

typedef struct tag_XHCI_CONTROLLER XHCI_CONTROLLER;
typedef struct tag_USB_DEVICE USB_DEVICE;
typedef struct tag_XHCI_ENDPOINT XHCI_ENDPOINT;

/** Called from event processing when an asynchronous TD ends (must not wait). */
typedef void (*XHCI_TRANSFER_DONE)(USB_DEVICE* Device, U32 Code, U32 Transferred);

/** One endpoint Cairn drives: at most one TD in flight. */
struct tag_XHCI_ENDPOINT {
    XHCI_RING Ring;
    PLATFORM_DMA RingMemory;
    U8 Dci;
    U8 Address;             // endpoint address (0 for EP0)
    U16 MaxPacket;
    BOOL Configured;
    // The TD in flight
    BOOL Busy;
    PHYSICAL LastTrb;       // the TRB whose event ends the TD
    PHYSICAL DataTrb;       // the TRB that carries the data (its event's residual gives the length)
    U32 Length;             // bytes asked for
    U32 Transferred;        // a short packet event lowers it
    BOOL Done;
    U32 Code;               // completion code of the TD
    XHCI_TRANSFER_DONE OnDone;  // NULL: a synchronous transfer, the caller waits for Done
    BOOL NeedsRecovery;     // halted (stall or error): the thread resets it
    U64 Completions, Errors;
};

typedef enum {
    USB_DRIVER_NONE = 0,
    USB_DRIVER_KEYBOARD = 1,
    USB_DRIVER_HUB = 2,
} USB_DRIVER_KIND;

/** Where a new device sits: the root port, and the hub port it hangs from (if any). */
typedef struct tag_USB_LOCATION {
    U8 RootPort;
    USB_SPEED Speed;
    USB_DEVICE* Parent;     // NULL on a root port
    U8 ParentPort;
} USB_LOCATION;

struct tag_USB_DEVICE {
    XHCI_CONTROLLER* Controller;
    U8 Slot;
    U8 Address;
    USB_SPEED Speed;
    U8 SpeedId;
    U8 RootPort;
    U32 Route;
    U8 Tier;                // hubs above it (0: on a root port)
    USB_DEVICE* Parent;
    U8 ParentPort;
    U8 TTSlot, TTPort;      // the transaction translator of a LS/FS device behind a HS hub
    char Path[24];
    PLATFORM_DMA OutputContext, InputContext, Data;
    XHCI_ENDPOINT Control;
    XHCI_ENDPOINT Interrupt;  // the interrupt IN endpoint of the class driver
    USB_DEVICE_DESCRIPTOR Descriptor;
    U8 Configuration;       // bConfigurationValue set, 0: unconfigured
    U8 InterfaceNumber, InterfaceClass, InterfaceSubClass, InterfaceProtocol;
    USB_DRIVER_KIND Kind;
    LPVOID DriverData;
    U32 EnumerationMs;
    BOOL Listed;            // on the controller's device list
    USB_DEVICE* Next;
};

typedef enum {
    XHCI_STATE_STARTING = 0,
    XHCI_STATE_RUNNING = 1,
    XHCI_STATE_FAILED = 2,
} XHCI_STATE;

struct tag_XHCI_CONTROLLER {
    U32 Index;
    char Name[8];
    PCI_DEVICE* Pci;
    LINEAR Registers;
    U64 RegisterSize;
    U32 Operational, Runtime, Doorbells;  // offsets from BAR0
    U16 Version;
    U32 HcsParams1, HcsParams2, HccParams1;
    U32 MaxSlots, SlotsEnabled, MaxPorts, PortCount;
    U32 ContextSize, PageSize, Scratchpads;
    XHCI_PROTOCOL Protocols[XHCI_MAX_PROTOCOLS];
    U32 ProtocolCount;
    U32 LegacyOffset;
    LPCSTR Handoff;         // what the firmware hand-off found (for `usb`)
    // Controller memory (allocated once, reprogrammed on every start)
    PLATFORM_DMA Dcbaa, ScratchArray, CommandMemory, EventMemory, ErstMemory;
    PLATFORM_DMA* ScratchPages;
    XHCI_RING CommandRing;
    XHCI_EVENT_RING EventRing;
    XHCI_COMMAND_WAIT Command;
    // Devices
    USB_DEVICE* Slots[XHCI_MAX_SLOTS + 1];
    USB_DEVICE* Devices;    // every enumerated device (Lock)
    U64 PortChanges[(XHCI_MAX_PORTS + 64) / 64];  // root ports with a status change event to handle
    // Interrupts and the thread
    PLATFORM_EVENT* Wake;
    PLATFORM_EVENT* Settled;    // manual reset: the first port scan is done (or the controller failed)
    PLATFORM_LOCK* Lock;
    PLATFORM_INTERRUPTS Interrupts;
    BOOL InterruptsActive;
    BOOL Polling;
    char PollReason[48];
    volatile U64 InterruptCount;
    U64 InterruptsSeen;     // InterruptCount when ERDP was last written
    XHCI_STATE State;
    char StateReason[96];
    U32 Restarts;
    BOOL Dead;              // registers read all ones, or HCE/HSE: stop touching it
    volatile BOOL Stopping; // shutdown or reboot: the thread stops, nothing restarts
    U64 EventCount, StaleEvents, PortEvents;
    U64 StartedMs;          // when the thread began (for the settle time)
};

/************************************************************************/
// XHCI-Core.c

U32 XHCIReadOp(XHCI_CONTROLLER* C, U32 Offset);
void XHCIWriteOp(XHCI_CONTROLLER* C, U32 Offset, U32 Value);
U32 XHCIReadRuntime(XHCI_CONTROLLER* C, U32 Offset);
void XHCIWriteRuntime(XHCI_CONTROLLER* C, U32 Offset, U32 Value);
void XHCIRingDoorbell(XHCI_CONTROLLER* C, U32 Slot, U32 Target);
U64 XHCINowMs(void);
/** Marks the controller unusable (one log line); the thread stops driving it. */
void XHCIFail(XHCI_CONTROLLER* C, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
XHCI_CONTROLLER* XHCIGetController(U32 Index);
U32 XHCIGetControllerCount(void);

/************************************************************************/
// XHCI-Events.c

/** Consumes every waiting event, dispatches it, and writes ERDP once. */
void XHCIProcessEvents(XHCI_CONTROLLER* C);
/** Sleeps until an interrupt or TimeoutMs (shorter steps when polling). */
void XHCIWaitForEvents(XHCI_CONTROLLER* C, U32 TimeoutMs);
/** One step of a synchronous wait that ends at Deadline (ms); FALSE when the time is up. */
BOOL XHCIWaitStep(XHCI_CONTROLLER* C, U64 Deadline);
/** Runs one command (Trb's type and fields) to completion; *Completion gets the event. */
KSTATUS XHCICommand(XHCI_CONTROLLER* C, const XHCI_TRB* Trb, XHCI_TRB* Completion);
/** A command for one slot (and endpoint, or 0), with an optional context pointer. */
KSTATUS XHCISlotCommand(XHCI_CONTROLLER* C, U32 Type, U32 Slot, U32 Dci, PHYSICAL Pointer, XHCI_TRB* Completion);
/** The completion code of the last failed command or transfer, for messages. */
LPCSTR XHCICodeText(U32 Code);

/************************************************************************/
// XHCI-Port.c

/** Powers the root ports (PPC parts) and enumerates what is connected. */
void XHCIPortsStart(XHCI_CONTROLLER* C);
/** Handles the root ports whose status change events arrived. */
void XHCIPortsService(XHCI_CONTROLLER* C);
/** Records a Port Status Change Event (from event processing). */
void XHCIPortEvent(XHCI_CONTROLLER* C, U32 Port);
const XHCI_PROTOCOL* XHCIPortProtocolOf(XHCI_CONTROLLER* C, U32 Port);
LPCSTR XHCIPortLinkName(U32 PortSc);

/************************************************************************/
// XHCI-Device.c

/** Enumerates the device at Where; NULL when it failed (logged, slot given back). */
USB_DEVICE* XHCIDeviceEnumerate(XHCI_CONTROLLER* C, const USB_LOCATION* Where, U64 ConnectedMs);
/** Removes a device and everything behind it; Unplugged logs the one unplug line. */
void XHCIDeviceRemove(USB_DEVICE* Device, BOOL Unplugged);
/** The device on a hub port (Parent) or root port (Parent NULL). */
USB_DEVICE* XHCIDeviceAt(XHCI_CONTROLLER* C, USB_DEVICE* Parent, U8 Port);
LPCSTR USBDriverName(USB_DRIVER_KIND Kind);

/************************************************************************/
// XHCI-Transfer.c

/** One control transfer on EP0; Data (Setup->Length bytes) is copied in for OUT, out for IN. */
KSTATUS USBControlTransfer(USB_DEVICE* Device, const USB_SETUP* Setup, LPVOID Data, U32* Transferred);
/** Sets up the interrupt IN endpoint (input context, Configure Endpoint), with hub fields for hubs. */
KSTATUS XHCIConfigureInterruptIn(USB_DEVICE* Device, const USB_ENDPOINT_INFO* Endpoint, const USB_HUB_DESCRIPTOR* Hub,
                                 BOOL MultiTT, XHCI_TRANSFER_DONE OnDone);
/** Queues one Normal TRB (IOC, ISP) for the interrupt endpoint's packet size and rings its doorbell. */
KSTATUS XHCIInterruptQueue(USB_DEVICE* Device);
/** The interrupt endpoint's receive buffer. */
U8* XHCIInterruptData(USB_DEVICE* Device);
/** After a stall or error: Reset Endpoint, Set TR Dequeue, CLEAR_FEATURE(HALT), queue again. */
KSTATUS XHCIEndpointRecover(USB_DEVICE* Device, XHCI_ENDPOINT* Endpoint);
/** Fills the input context's slot from the device (Context Entries given). */
void XHCIDeviceSlotFields(USB_DEVICE* Device, U8 ContextEntries, XHCI_SLOT_FIELDS* Fields);
U32* XHCIInputContext(USB_DEVICE* Device, U32 Offset);

/************************************************************************/
// Class drivers (USB-Hub.c, USB-HID-Keyboard.c)

KSTATUS USBHubStart(USB_DEVICE* Device, const USB_INTERFACE_INFO* Interface);
void USBHubStop(USB_DEVICE* Device);
/** Handles hub ports that changed (the thread's loop). */
void USBHubService(XHCI_CONTROLLER* C);
U32 USBHubPortCount(const USB_DEVICE* Device);

KSTATUS USBKeyboardStart(USB_DEVICE* Device, const USB_INTERFACE_INFO* Interface);
void USBKeyboardStop(USB_DEVICE* Device);
/** Repeat, LEDs, recovery; returns the next time (ms) it wants to run, 0 for none. */
U64 USBKeyboardService(USB_DEVICE* Device, U64 NowMs);
/** Reports and keys seen (for `usb`). */
void USBKeyboardCounts(const USB_DEVICE* Device, U64* Reports, U64* Keys);

#endif  // DRIVERS_USB_XHCI_INTERNAL_H_INCLUDED

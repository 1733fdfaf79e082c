/*
 * PCI.h - the PCI/PCIe core: configuration access, enumeration, BARs,
 * capabilities, MSI/MSI-X and the driver registry.
 *
 * Configuration space is reached through a PCI_SEGMENT, which carries an ops
 * table (ECAM from the ACPI MCFG table, the 0xCF8/0xCFC ports as fallback,
 * and the Intel VMD's CFGBAR window for segments 0x10000 and up), so the
 * same enumerator walks every domain. Enumeration is depth-first from each
 * root bus; bridges are followed through their secondary/subordinate bus
 * numbers and numbered when firmware left them unprogrammed. A segment whose
 * owner asks for it (PCI_SEGMENT_ASSIGN) has every bridge numbered and its
 * windows and BARs assigned from the segment's memory windows
 * (PCI-Resources.c). Every function found becomes a PCI_DEVICE in one global
 * list that drivers and the shell walk.
 *
 * A segment provided by a driver (the VMD) names that driver's message
 * routing (PCI_MESSAGE_ROUTING): the platform layer asks it for the message
 * a function behind it must send, so the function's own driver never knows
 * the segment is special.
 *
 * The enumerator, BAR sizing, capability walks and MSI message composition
 * use nothing but the ops table and an allocation callback, so host unit
 * tests run them against fake configuration spaces.
 */

#ifndef BUS_PCI_H_INCLUDED
#define BUS_PCI_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Configuration space registers (PCI Local Bus 3.0, PCIe Base 6.0 chapter 7)

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_PROG_IF 0x09
#define PCI_SUBCLASS 0x0A
#define PCI_CLASS 0x0B
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2C
#define PCI_SUBSYSTEM_ID 0x2E
#define PCI_CAPABILITIES 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D

#define PCI_ROM_ADDRESS 0x30

// Type 1 (bridge) header
#define PCI_PRIMARY_BUS 0x18
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBORDINATE_BUS 0x1A
#define PCI_IO_BASE 0x1C            // I/O base (byte), I/O limit (byte), secondary status (word)
#define PCI_MEMORY_BASE 0x20        // memory base (word), memory limit (word)
#define PCI_PREFETCH_BASE 0x24      // prefetchable base (word), limit (word)
#define PCI_PREFETCH_BASE_UPPER 0x28
#define PCI_PREFETCH_LIMIT_UPPER 0x2C
#define PCI_IO_BASE_UPPER 0x30      // I/O base upper 16 (word), I/O limit upper 16 (word)
#define PCI_BRIDGE_ROM_ADDRESS 0x38
#define PCI_BRIDGE_CONTROL 0x3E
#define PCI_BRIDGE_CONTROL_BUS_RESET 0x0040

// PCI Express capability (PCIe Base 6.0, 7.5.3)
#define PCI_EXP_FLAGS 0x02
#define PCI_EXP_FLAGS_SLOT 0x0100            // slot implemented (ports)
#define PCI_EXP_DEVICE_STATUS 0x0A
#define PCI_EXP_LINK_STATUS 0x12
#define PCI_EXP_LINK_STATUS_DLLA 0x2000      // data link layer link active
#define PCI_EXP_SLOT_CAPABILITIES 0x14
#define PCI_EXP_SLOT_CAP_POWER_CONTROLLER 0x0002
#define PCI_EXP_SLOT_CAP_HOTPLUG_CAPABLE 0x0040
#define PCI_EXP_SLOT_CONTROL 0x18
#define PCI_EXP_SLOT_CONTROL_POWER_INDICATOR 0x0300
#define PCI_EXP_SLOT_CONTROL_POWER_OFF 0x0400  // power controller control: 1 = off
#define PCI_EXP_SLOT_STATUS 0x1A
#define PCI_EXP_SLOT_STATUS_ATTENTION 0x0001   // attention button pressed
#define PCI_EXP_SLOT_STATUS_PRESENCE_CHANGED 0x0008
#define PCI_EXP_SLOT_STATUS_PRESENT 0x0040
#define PCI_EXP_SLOT_STATUS_LINK_CHANGED 0x0100
#define PCI_EXP_PORT_ENDPOINT 0x0
#define PCI_EXP_PORT_ROOT 0x4
#define PCI_EXP_PORT_UPSTREAM 0x5
#define PCI_EXP_PORT_DOWNSTREAM 0x6
#define PCI_EXP_PORT_RCIEP 0x9

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_BUS_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_COMMAND_DECODE (PCI_COMMAND_IO | PCI_COMMAND_MEMORY)

#define PCI_STATUS_CAPABILITIES 0x0010

#define PCI_HEADER_TYPE_MASK 0x7F
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_NORMAL 0
#define PCI_HEADER_BRIDGE 1
#define PCI_HEADER_CARDBUS 2

#define PCI_CAP_ID_PM 0x01
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_PCIE 0x10
#define PCI_CAP_ID_MSIX 0x11

#define PCI_EXT_CAP_ID_AER 0x0001
#define PCI_AER_UNCORRECTABLE_STATUS 0x04
#define PCI_AER_CORRECTABLE_STATUS 0x10
#define PCI_AER_ROOT_STATUS 0x30
#define PCI_EXT_CAP_ID_DSN 0x0003

#define PCI_CONFIG_SIZE_LEGACY 256
#define PCI_CONFIG_SIZE_EXTENDED 4096

#define PCI_MAX_BUSES 256
#define PCI_MAX_DEVICES 32
#define PCI_MAX_FUNCTIONS 8
#define PCI_BAR_COUNT 6

#define PCI_ANY_ID 0xFFFF
#define PCI_ANY_CLASS 0xFF

/************************************************************************/
// Segments and configuration access

typedef struct tag_PCI_CONFIG_OPS {
    /** Reads a dword at a dword-aligned offset; all ones when nothing answers. */
    U32 (*Read32)(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset);
    void (*Write32)(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value);
} PCI_CONFIG_OPS;

struct tag_PCI_DEVICE;

/** A message a function sends for one of its interrupt vectors, as its segment's owner composed it. */
typedef struct tag_PCI_MESSAGE {
    U64 Address;
    U32 Data;
    U32 OwnerVector;  // the owner's vector that carries it
    U8 CpuVector;     // the CPU vector behind that (display and counts)
} PCI_MESSAGE;

typedef BOOL (*PCI_MESSAGE_HANDLER)(LPVOID Context);

typedef enum {
    PCI_MESSAGES_DIRECT = 0,    // messages reach the CPU as the function writes them (standard MSI/MSI-X)
    PCI_MESSAGES_REMAPPED = 1,  // the owner turns them into its own vectors (Compose/Connect below)
    PCI_MESSAGES_NONE = 2,      // no message reaches the CPU: the driver polls
} PCI_MESSAGE_ROUTE;

/**
 * How the functions of a driver-provided segment signal interrupts (the
 * Intel VMD remaps them through its own MSI-X table). The platform layer
 * calls these from PlatformInterruptSetup/Release; Context is the owner's.
 */
typedef struct tag_PCI_MESSAGE_ROUTING {
    LPCSTR Name;
    /** The route for Device and, when remapped, the most vectors worth programming (*Limit). */
    PCI_MESSAGE_ROUTE (*Route)(LPVOID Context, const struct tag_PCI_DEVICE* Device, U32* Limit);
    /** Chooses an owner vector for message Index of Device and fills what the function must write. */
    BOOL (*Compose)(LPVOID Context, const struct tag_PCI_DEVICE* Device, U32 Index, PCI_MESSAGE* Message);
    /** Gives back an owner vector Compose chose. */
    void (*Release)(LPVOID Context, U32 OwnerVector);
    /** Adds or removes a handler on an owner vector: the owner calls every handler of a vector when it fires. */
    BOOL (*Connect)(LPVOID Context, U32 OwnerVector, PCI_MESSAGE_HANDLER Handler, LPVOID HandlerContext);
    void (*Disconnect)(LPVOID Context, U32 OwnerVector, PCI_MESSAGE_HANDLER Handler, LPVOID HandlerContext);
} PCI_MESSAGE_ROUTING;

// Segment flags
#define PCI_SEGMENT_ASSIGN 0x01   // number every bridge and assign windows and BARs (PCI-Resources.c)
#define PCI_SEGMENT_NO_IO 0x02    // no I/O space is forwarded: I/O BARs stay unassigned, I/O decode off
#define PCI_SEGMENT_NO_INTX 0x04  // legacy interrupts are not forwarded: INTx disabled on every function

#define PCI_SEGMENT_MAX_ROOTS 2
#define PCI_SEGMENT_MAX_WINDOWS 4

/** A root bus of a segment and the bus numbers the bridges below it may take (FirstBus..LastBus). */
typedef struct tag_PCI_ROOT_BUS {
    U8 Bus;
    U8 FirstBus;   // 0: Bus + 1
    U8 LastBus;
} PCI_ROOT_BUS;

/** A memory window the functions of a segment decode (bus address = CPU address). */
typedef struct tag_PCI_WINDOW {
    PHYSICAL Base;
    U64 Size;
    U8 Root;       // index of the root bus it serves
    U64 Used;      // bytes handed out from Base (assignment is a bump allocator)
} PCI_WINDOW;

typedef struct tag_PCI_SEGMENT {
    U32 Segment;            // PCI domain number: ACPI _SEG (16 bits) or 0x10000 and up for driver-provided segments
    U8 StartBus;
    U8 EndBus;
    U16 ConfigSize;         // 256 (port access) or 4096 (ECAM)
    LPCSTR AccessName;      // "ECAM", "ports", "VMD CFGBAR"
    const PCI_CONFIG_OPS* Ops;
    LPVOID Context;
    U32 Flags;              // PCI_SEGMENT_*
    // Root buses (none: StartBus, then any bus that answers) and, with PCI_SEGMENT_ASSIGN, the memory windows.
    U32 RootCount;
    PCI_ROOT_BUS Roots[PCI_SEGMENT_MAX_ROOTS];
    U32 WindowCount;
    PCI_WINDOW Windows[PCI_SEGMENT_MAX_WINDOWS];
    U8 DmaAddressBits;      // DMA address limit of every function here (0: none)
    // The driver that provides the segment, if any.
    struct tag_PCI_DEVICE* OwnerDevice;
    const PCI_MESSAGE_ROUTING* Messages;
    LPVOID MessagesContext;
    U8 ScannedBuses[PCI_MAX_BUSES / 8];  // loop protection during enumeration
    U32 AssignedBridges;    // bridges this kernel had to number
    U32 UnassignedBars;     // memory BARs no window could hold (PCI_SEGMENT_ASSIGN)
    struct tag_PCI_SEGMENT* Next;
} PCI_SEGMENT;

/************************************************************************/
// Devices

typedef enum {
    PCI_BAR_NONE = 0,
    PCI_BAR_IO = 1,
    PCI_BAR_MEMORY32 = 2,
    PCI_BAR_MEMORY64 = 3,
} PCI_BAR_TYPE;

typedef struct tag_PCI_BAR {
    PCI_BAR_TYPE Type;
    BOOL Prefetchable;
    PHYSICAL Base;
    U64 Size;
} PCI_BAR;

struct tag_PCI_DRIVER;

typedef struct tag_PCI_DEVICE {
    PCI_SEGMENT* SegmentInfo;
    U32 Segment;
    U8 Bus, Device, Function;
    U16 VendorId, DeviceId;
    U16 SubsystemVendorId, SubsystemId;
    U8 Class, SubClass, ProgIf, Revision;
    U8 HeaderType;  // without the multi-function bit
    BOOL MultiFunction;
    U8 InterruptLine, InterruptPin;
    PCI_BAR Bars[PCI_BAR_COUNT];
    // Bridges
    U8 SecondaryBus, SubordinateBus;
    BOOL BusNumbersAssigned;  // we numbered it (firmware had not)
    PCI_BAR Windows[2];       // memory and prefetchable windows Cairn assigned (PCI_SEGMENT_ASSIGN)
    // Capabilities found (0 = absent)
    U8 MsiCapability;
    U8 MsixCapability;
    U8 PcieCapability;
    U8 PowerCapability;
    U8 PortType;              // PCIe device/port type (PCI_EXP_PORT_*), 0xFF without a PCIe capability
    BOOL CapabilityListBroken;  // the walk hit a loop or a bad pointer
    BOOL ResourcesMissing;    // PCI_SEGMENT_ASSIGN found no room for one of its BARs: memory decode stays off
    U8 DmaAddressBits;        // the device may only address memory below 2^DmaAddressBits (0: no limit)
    BOOL Removed;             // no longer present: configuration reads answer all ones, writes are dropped
    struct tag_PCI_DEVICE* Parent;  // the bridge above, NULL on a root bus
    // Driver binding
    const struct tag_PCI_DRIVER* Driver;
    LPVOID DriverData;
    struct tag_PCI_DEVICE* Next;
} PCI_DEVICE;

typedef struct tag_PCI_MATCH {
    U16 VendorId;   // PCI_ANY_ID for any
    U16 DeviceId;   // PCI_ANY_ID for any
    U8 Class;       // PCI_ANY_CLASS for any
    U8 SubClass;    // PCI_ANY_CLASS for any
    U8 ProgIf;      // PCI_ANY_CLASS for any
} PCI_MATCH;

typedef struct tag_PCI_DRIVER {
    LPCSTR Name;
    const PCI_MATCH* Matches;
    U32 MatchCount;
    /** Optional: a closer look before attaching; FALSE declines the device. */
    BOOL (*Probe)(PCI_DEVICE* Device);
    /** Takes the device; a failure leaves it unbound. */
    KSTATUS (*Attach)(PCI_DEVICE* Device);
    /** Optional: lets the device go (it was removed or is being reset away); the driver stops touching it. */
    void (*Detach)(PCI_DEVICE* Device);
    /**
     * Optional, a pair: the device is about to lose its state to a reset of its bus (`vmd reset`). ResetPrepare
     * (may sleep) stops every access to it until ResetDone, which is called once its configuration is restored,
     * or with Device->Removed set when it did not come back (Detach follows then).
     */
    void (*ResetPrepare)(PCI_DEVICE* Device);
    void (*ResetDone)(PCI_DEVICE* Device);
    struct tag_PCI_DRIVER* Next;
} PCI_DRIVER;

/************************************************************************/
// Pure functions (host-testable)

typedef PCI_DEVICE* (*PCI_DEVICE_ALLOCATOR)(LPVOID Context);

typedef struct tag_PCI_ENUMERATOR {
    PCI_DEVICE_ALLOCATOR Allocate;  // returns a zeroed PCI_DEVICE or NULL
    LPVOID AllocateContext;
    PCI_DEVICE* First;              // devices found, in discovery order
    PCI_DEVICE* Last;
    U32 Count;
    BOOL SizeBars;                  // size BARs while enumerating
} PCI_ENUMERATOR;

U32 PCIConfigRead32(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset);
U16 PCIConfigRead16(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset);
U8 PCIConfigRead8(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset);
/** Sub-dword writes are read-modify-write of the containing dword. */
void PCIConfigWrite32(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value);
void PCIConfigWrite16(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U16 Value);
void PCIConfigWrite8(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function, U16 Offset, U8 Value);

/**
 * Enumerates every root bus of Segment, appending to Enumerator; with PCI_SEGMENT_ASSIGN every bridge is
 * numbered from its root bus up and the windows and BARs are assigned (PCIAssignResources). Returns the
 * devices added.
 */
U32 PCIEnumerateSegment(PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment);
/** Enumerates Segment afresh (after a reset): what the last enumeration scanned and assigned is forgotten first. */
U32 PCIEnumerateSegmentAgain(PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment);
/**
 * Scans the bus behind Bridge again (a device was hot-added below it), within the bus numbers and windows the
 * bridge already has; appends what it finds. Returns the devices added.
 */
U32 PCIEnumerateBelow(PCI_ENUMERATOR* Enumerator, PCI_DEVICE* Bridge);

/************************************************************************/
// Resource assignment (PCI-Resources.c, pure)

#define PCI_BRIDGE_WINDOW_ALIGN N_1MB  // memory windows have 1 MiB granularity (base/limit bits 31:20)
#define PCI_BAR_MIN_ALIGN N_4KB        // no two functions share a page

/** Closes the I/O, memory and prefetchable windows of a bridge, in an order that never opens one on the way. */
void PCIBridgeCloseWindows(const PCI_SEGMENT* Segment, U8 Bus, U8 Device, U8 Function);
/**
 * Assigns the memory BARs of the functions on the chain First (linked by Next) and the windows of the
 * bridges among them, then enables decoding: memory on every function whose BARs all found room, bus
 * mastering on bridges, I/O never with PCI_SEGMENT_NO_IO, INTx disabled with PCI_SEGMENT_NO_INTX. Functions
 * whose Parent is Parent are placed in Parent's windows (Parent NULL: the segment's windows of their root).
 * Non-prefetchable BARs go below 4 GiB (a bridge's memory window cannot reach higher); 64-bit prefetchable
 * BARs, and 64-bit ones when no window lies below 4 GiB, go through the prefetchable windows. Returns the
 * BARs that found no room.
 */
U32 PCIAssignResources(PCI_SEGMENT* Segment, PCI_DEVICE* First, PCI_DEVICE* Parent);

/** Decodes and sizes the BARs of a device (decoding off while sizing). */
void PCIReadBars(PCI_DEVICE* Device, BOOL Size);

/** Finds a capability; returns its offset or 0. Bounded: a looping list stops. */
U8 PCIFindCapability(const PCI_DEVICE* Device, U8 CapabilityId);
/** Finds a PCIe extended capability (offset >= 0x100) or returns 0. */
U16 PCIFindExtendedCapability(const PCI_DEVICE* Device, U16 CapabilityId);
/** Calls Visitor for each capability (bounded); returns how many were seen. */
U32 PCIWalkCapabilities(const PCI_DEVICE* Device, void (*Visitor)(const PCI_DEVICE*, U8 Id, U8 Offset, LPVOID),
                        LPVOID Context);
U32 PCIWalkExtendedCapabilities(const PCI_DEVICE* Device,
                                void (*Visitor)(const PCI_DEVICE*, U16 Id, U8 Version, U16 Offset, LPVOID),
                                LPVOID Context);

/** FALSE when the capability list loops, points into the header or runs into a dead device. */
BOOL PCICapabilityListValid(const PCI_DEVICE* Device);

BOOL PCIMatchDevice(const PCI_MATCH* Match, const PCI_DEVICE* Device);

/** Command register helpers. */
U16 PCIReadCommand(const PCI_DEVICE* Device);
void PCISetCommandBits(PCI_DEVICE* Device, U16 Set, U16 Clear);
void PCIEnableMemorySpace(PCI_DEVICE* Device);
void PCIEnableBusMaster(PCI_DEVICE* Device);
void PCIDisableIntx(PCI_DEVICE* Device, BOOL Disable);

/** Reads a dword of the device's configuration space. */
U32 PCIDeviceRead32(const PCI_DEVICE* Device, U16 Offset);
U16 PCIDeviceRead16(const PCI_DEVICE* Device, U16 Offset);
U8 PCIDeviceRead8(const PCI_DEVICE* Device, U16 Offset);
void PCIDeviceWrite32(const PCI_DEVICE* Device, U16 Offset, U32 Value);
void PCIDeviceWrite16(const PCI_DEVICE* Device, U16 Offset, U16 Value);
void PCIDeviceWrite8(const PCI_DEVICE* Device, U16 Offset, U8 Value);

/************************************************************************/
// State across a reset (PCI-State.c, pure)

#define PCI_SAVED_MSIX_ENTRIES 64

/** What a function loses in a reset beyond what enumeration assigns again (command, messages, PCIe control). */
typedef struct tag_PCI_SAVED_STATE {
    BOOL Valid;
    U16 Command;
    U16 MsiControl;
    U32 MsiDwords[4];        // address, upper address or data, data or mask ... as the capability lays them out
    U16 MsixControl;
    U32 MsixEntryCount;      // entries saved from the mapped table
    U32 MsixEntries[PCI_SAVED_MSIX_ENTRIES][4];
    U16 DeviceControl, LinkControl, DeviceControl2;
} PCI_SAVED_STATE;

/** Saves Device's state; MsixTable is its mapped MSI-X table (0: entries not saved). */
void PCISaveState(const PCI_DEVICE* Device, LINEAR MsixTable, PCI_SAVED_STATE* State);
/** Writes a saved state back (the BARs must already hold what they held when it was saved). */
void PCIRestoreState(PCI_DEVICE* Device, LINEAR MsixTable, const PCI_SAVED_STATE* State);

/************************************************************************/
// Kernel services

/** Registry (PCI-Registry.c): lists a segment once; adds enumerated devices in lspci order. */
void PCIRegistryAddSegment(PCI_SEGMENT* Segment);
void PCIRegistryAddDevices(PCI_DEVICE* First);
/** Empties every list and returns the devices that were listed (host tests free them). */
PCI_DEVICE* PCIRegistryReset(void);
/**
 * Unlists a device that is gone: it is marked Removed (configuration access answers all ones) and kept in
 * the list of removed devices while a driver still holds it. Call PCIDetachRemoved from a thread afterwards.
 */
void PCIRegistryRemove(PCI_DEVICE* Device);
/** Tells each driver holding a removed device to let it go (Detach); drivers without Detach keep it. */
void PCIDetachRemoved(void);

typedef struct tag_PCI_RESCAN {
    U32 Kept;      // listed before and found again unchanged (their drivers stay)
    U32 Added;     // new functions, listed unbound
    U32 Removed;   // listed functions not found again
} PCI_RESCAN;

/**
 * Reconciles the listed functions of Segment with a fresh enumeration (the chain First): a listed function
 * found again at the same address with the same IDs, class and BARs stays listed (driver and all) and takes
 * the fresh copy's bus numbers, windows and parent; the fresh copy goes to Free. Listed functions not found
 * are removed (PCIRegistryRemove); fresh ones not listed are added unbound.
 */
void PCIRegistryReconcile(PCI_SEGMENT* Segment, PCI_DEVICE* First, void (*Free)(PCI_DEVICE*), PCI_RESCAN* Result);

/** Finds segments (ACPI MCFG, else ports) and enumerates them; PCIBindDrivers() then binds drivers. */
void PCIInit(void);
/** Adds a segment (for example a VMD domain) and enumerates it. */
U32 PCIAddSegment(PCI_SEGMENT* Segment);
/** Kernel: enumerates Segment again and reconciles the list with it (PCIRegistryReconcile); binds nothing. */
void PCIRescanSegment(PCI_SEGMENT* Segment, PCI_RESCAN* Result);
/** Kernel: scans below Bridge again (hot add) and lists what is new, unbound. Returns the functions added. */
U32 PCIRescanBridge(PCI_DEVICE* Bridge);
void PCIRegisterDriver(PCI_DRIVER* Driver);
/** Offers every unbound device to the registered drivers. */
void PCIBindDrivers(void);
PCI_DEVICE* PCIGetFirstDevice(void);
U32 PCIGetDeviceCount(void);
PCI_SEGMENT* PCIGetFirstSegment(void);
PCI_DRIVER* PCIGetFirstDriver(void);
/** Removed devices a driver still holds (linked by Next). */
PCI_DEVICE* PCIGetFirstRemovedDevice(void);
PCI_DEVICE* PCIFindDevice(U32 Segment, U8 Bus, U8 Device, U8 Function);
/** The lowest DMA address limit of any listed device, as an exclusive physical address bound (0: none). */
PHYSICAL PCIGetDMALimit(void);
/** Physical when every listed device can address it, else 0 (logged, rate-limited): what PlatformTranslate gives. */
PHYSICAL PCICheckDMAAddress(PHYSICAL Physical);

/** Names for display (never NULL). */
LPCSTR PCIGetClassName(U8 Class, U8 SubClass, U8 ProgIf);
LPCSTR PCIGetVendorName(U16 VendorId);
LPCSTR PCIGetDeviceName(U16 VendorId, U16 DeviceId);
/** The AER (un)correctable error status bits by name ("RxErr BadTLP"), bitN for reserved ones. */
SIZE PCIAERStatusText(BOOL Correctable, U32 Status, LPSTR Buffer, SIZE Size);

#endif  // BUS_PCI_H_INCLUDED

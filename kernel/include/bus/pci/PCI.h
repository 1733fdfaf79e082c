/*
 * PCI.h - the PCI/PCIe core: configuration access, enumeration, BARs,
 * capabilities, MSI/MSI-X and the driver registry.
 *
 * Configuration space is reached through a PCI_SEGMENT, which carries an ops
 * table (ECAM from the ACPI MCFG table, the 0xCF8/0xCFC ports as fallback,
 * and later the Intel VMD's private window), so the same enumerator walks
 * every domain. Enumeration is depth-first from each root bus; bridges are
 * followed through their secondary/subordinate bus numbers and numbered when
 * firmware left them unprogrammed. Every function found becomes a PCI_DEVICE
 * in one global list that drivers and the shell walk.
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

// Type 1 (bridge) header
#define PCI_PRIMARY_BUS 0x18
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBORDINATE_BUS 0x1A

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_BUS_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400

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

typedef struct tag_PCI_SEGMENT {
    U16 Segment;            // PCI domain number (0x10000+ style numbers are folded to U16 by VMD code)
    U8 StartBus;
    U8 EndBus;
    U16 ConfigSize;         // 256 (port access) or 4096 (ECAM)
    LPCSTR AccessName;      // "ECAM", "ports", ...
    const PCI_CONFIG_OPS* Ops;
    LPVOID Context;
    U8 ScannedBuses[PCI_MAX_BUSES / 8];  // loop protection during enumeration
    U32 AssignedBridges;    // bridges this kernel had to number
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
    U16 Segment;
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
    // Capabilities found (0 = absent)
    U8 MsiCapability;
    U8 MsixCapability;
    U8 PcieCapability;
    U8 PowerCapability;
    BOOL CapabilityListBroken;  // the walk hit a loop or a bad pointer
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

/** Enumerates every root bus range of Segment, appending to Enumerator. Returns the devices added. */
U32 PCIEnumerateSegment(PCI_ENUMERATOR* Enumerator, PCI_SEGMENT* Segment);

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
// Kernel services

/** Registry (PCI-Registry.c): lists a segment once; adds enumerated devices in lspci order. */
void PCIRegistryAddSegment(PCI_SEGMENT* Segment);
void PCIRegistryAddDevices(PCI_DEVICE* First);
/** Empties every list and returns the devices that were listed (host tests free them). */
PCI_DEVICE* PCIRegistryReset(void);

/** Finds segments (ACPI MCFG, else ports), enumerates them and binds drivers. */
void PCIInit(void);
/** Adds a segment (for example a VMD domain) and enumerates it. */
U32 PCIAddSegment(PCI_SEGMENT* Segment);
void PCIRegisterDriver(PCI_DRIVER* Driver);
/** Offers every unbound device to the registered drivers. */
void PCIBindDrivers(void);
PCI_DEVICE* PCIGetFirstDevice(void);
U32 PCIGetDeviceCount(void);
PCI_SEGMENT* PCIGetFirstSegment(void);
PCI_DEVICE* PCIFindDevice(U16 Segment, U8 Bus, U8 Device, U8 Function);

/** Names for display (never NULL). */
LPCSTR PCIGetClassName(U8 Class, U8 SubClass, U8 ProgIf);
LPCSTR PCIGetVendorName(U16 VendorId);
LPCSTR PCIGetDeviceName(U16 VendorId, U16 DeviceId);

#endif  // BUS_PCI_H_INCLUDED

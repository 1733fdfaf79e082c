/*
 * VMD-Internal.h - the VMD driver's own structures, register layout and the
 * pure functions its files share (unit-tested on the host).
 *
 * Register facts (offsets, fields) come from Intel's client VMD register
 * header (IOC_VMD.h, "S6" in documentation/VMD.md) and Linux's vmd.c (S1);
 * the Arrow Lake second-root-bus registers from the unmerged Linux series
 * "PCI: vmd: Add support for second rootbus under VMD" (S10).
 *
 * Locking: ConfigLock serialises every CFGBAR access ("CPU may deadlock if
 * config space is not serialized on some versions of this hardware", S1);
 * VectorLock guards the handler lists of the VMD's vectors (taken by the
 * vector handler in interrupt context); Mutex serialises the slow paths
 * (reset, hot plug, rescans) against each other.
 */

#ifndef BUS_VMD_VMD_INTERNAL_H_INCLUDED
#define BUS_VMD_VMD_INTERNAL_H_INCLUDED

#include "bus/vmd/VMD.h"
#include "drivers/Platform.h"

/************************************************************************/
// The VMD endpoint's configuration registers

#define VMD_REG_VMCAP 0x40
#define VMD_VMCAP_BUS_RESTRICT_CAP 0x1
#define VMD_REG_VMCONFIG 0x44
#define VMD_VMCONFIG_LOCK 0x1
#define VMD_VMCONFIG_MSI_REMAP_DISABLE 0x2
#define VMD_VMCONFIG_RESTRICTION(Vmconfig) (((Vmconfig) >> 8) & 3)
#define VMD_REG_VMASSIGN 0x48
#define VMD_REG_CFGBARSZ 0x4C
#define VMD_REG_MEMBAR1SZ 0x4D
#define VMD_REG_MEMBAR2SZ 0x4E
#define VMD_REG_FN_ASSIGN(N) (0x50 + 4 * (N))
#define VMD_REG_VMLOCK 0x70
#define VMD_VMLOCK_MB2_SHADOW_EN 0x2
#define VMD_REG_BUSRANGE0 0xC8        // Arrow Lake: bits 7:0 start, 15:8 end of root bus 0's numbers
#define VMD_REG_BUSRANGE1 0xCC        // ... of root bus 1 (PCH)
#define VMD_REG_MEMBAR1_OFFSET 0xD0   // where root bus 1's share of MEMBAR1 starts
#define VMD_REG_MEMBAR2_OFFSET 0xD8   // 64-bit: root bus 1's share of MEMBAR2 (after the 0x2000 reservation)

#define VMD_BAR_CFGBAR 0
#define VMD_BAR_MEMBAR1 2
#define VMD_BAR_MEMBAR2 4

#define VMD_CFGBAR_MIN N_1MB                 // one bus; Linux refuses less (-ENOMEM)
#define VMD_CFGBAR_MAX (256 * N_1MB)         // CFGBARSZ 28
#define VMD_MEMBAR2_RESERVED 0x2000          // the VMD's own MSI-X table and PBA
#define VMD_MEMBAR2_SHADOW_SIZE 0x10         // native shadow registers at +0x2000 (28C0)
#define VMD_SHDW_SIGNATURE 0x53484457        // "SHDW" vendor capability (QEMU vfio on pass-through)
#define VMD_CLIENT_ROOT_BUS 224
#define VMD_PCH_ROOT_BUS 225                 // Arrow Lake: root bus 1 is CFGBAR index 1

#define VMD_DMA_ADDRESS_BITS 48              // issue 12: children address memory below 2^48

/************************************************************************/
// Pure: the bus layout and windows (VMD-Layout.c)

typedef struct tag_VMD_LAYOUT {
    U32 Restriction;          // VMCONFIG bits 9:8 (0 when bus restrictions do not apply)
    U8 StartBus;              // bus number of CFGBAR index 0
    U8 EndBus;                // last bus CFGBAR reaches
    U32 BusCount;             // EndBus - StartBus + 1
    U32 RootCount;
    PCI_ROOT_BUS Roots[PCI_SEGMENT_MAX_ROOTS];
    BOOL DualRootFallback;    // restriction 3 without usable BUSRANGE registers: one root bus at 224
} VMD_LAYOUT;

/**
 * The bus layout from VMCAP/VMCONFIG (Linux vmd_get_bus_number_start: 0, 128, 224) and, for restriction 3 on
 * IDs with VMD_FEATURE_PCH_ROOT_BUS, the BUSRANGE0/1 registers (two root buses, 224 and 225). FALSE with Why
 * filled when the combination cannot be driven safely.
 */
BOOL VMDDecodeLayout(U32 Features, U32 Vmcap, U32 Vmconfig, U64 CfgbarSize, U16 BusRange0, U16 BusRange1,
                     VMD_LAYOUT* Layout, LPSTR Why, SIZE WhySize);

/** Where child windows start in MEMBAR2: 0x2000, or 0x2010 after the native shadow registers (S1). */
U64 VMDMembar2ChildOffset(U32 Features);

/**
 * The segment's memory windows: MEMBAR1 whole and MEMBAR2 from ChildOffset; with two root buses each BAR is
 * split at its offset register (root bus 1 from Base + Offset1, and from Base + 0x2000 + Offset2), never
 * overlapping. Returns the window count (at most PCI_SEGMENT_MAX_WINDOWS).
 */
U32 VMDComputeWindows(const VMD_LAYOUT* Layout, PHYSICAL Membar1, U64 Membar1Size, PHYSICAL Membar2,
                      U64 Membar2Size, U64 ChildOffset, U32 Membar1Offset, U64 Membar2Offset, PCI_WINDOW* Windows);

/** The CFGBAR offset of a configuration register: ((Bus - StartBus) << 20 | Dev << 15 | Fn << 12 | Reg). */
BOOL VMDConfigOffset(const VMD_LAYOUT* Layout, U32 Bus, U32 Device, U32 Function, U32 Offset, U64* CfgbarOffset);

/************************************************************************/
// Pure: remapping (VMD-Remap.c)

/** The message a child writes to reach VMD vector Index: address 0xFEE00000 | Index << 12 (bits 19:12), data 0. */
void VMDRemapMessage(U32 Index, U64* Address, U32* Data);
/** The VMD vector a remapped message address selects (bits 19:12). */
U32 VMDRemapIndex(U64 Address);
/** The first vector child messages may use: 1 where vector 0 does not forward them (client parts), else 0. */
U32 VMDFirstChildVector(U32 Features);
/**
 * The VMD vector for a new child message (Linux vmd_next_irq): with one usable vector, that one; children
 * that are not NVMe share the first; NVMe messages go to the least used of the others. Users counts the
 * messages already on each vector (Count entries).
 */
U32 VMDChooseVector(const U32* Users, U32 Count, U32 First, BOOL Nvme);
/** Bypass only where the ID allows it and nothing is translated (Linux: !offsets && CAN_BYPASS). */
BOOL VMDShouldBypass(U32 Features, BOOL Translated, LPCSTR Option);

/************************************************************************/
// The controller

#define VMD_MAX_HANDLERS 16  // handlers on one VMD vector

typedef struct tag_VMD_HANDLER {
    PCI_MESSAGE_HANDLER Handler;
    LPVOID Context;
} VMD_HANDLER;

typedef struct tag_VMD_VECTOR {
    struct tag_VMD_CONTROLLER* Vmd;
    U32 Index;
    U32 Messages;                  // child messages composed onto this vector
    U32 HandlerCount;
    VMD_HANDLER Handlers[VMD_MAX_HANDLERS];
    U64 Fired;
} VMD_VECTOR;

typedef struct tag_VMD_PORT {
    PCI_DEVICE* Port;
    U8 Bus, Device, Function;      // the port's address (the device object changes across a reset)
    U16 AerOffset;                 // AER extended capability (0: none)
    BOOL HotplugCapable;
    BOOL PowerController;
    BOOL Present;
    VMD_PORT_INFO Stats;
} VMD_PORT;

typedef struct tag_VMD_CONTROLLER {
    char Name[8];
    PCI_DEVICE* Device;
    const VMD_PROFILE* Profile;
    VMD_STATE State;
    char StateReason[96];

    // BARs (CPU addresses; on bare metal the domain decodes the same addresses)
    PHYSICAL CfgbarBase, Membar1Base, Membar2Base;
    U64 CfgbarSize, Membar1Size, Membar2Size;
    LINEAR Cfgbar;                 // CFGBAR mapped uncached
    U64 Membar2ChildOffset;

    U32 VmconfigAtAttach;          // restored at shutdown (with remapping on)
    VMD_LAYOUT Layout;
    PCI_SEGMENT Segment;

    PLATFORM_LOCK* ConfigLock;
    PLATFORM_LOCK* VectorLock;
    PLATFORM_MUTEX* Mutex;
    U64 ConfigReads, ConfigWrites;

    // Interrupts
    VMD_INTERRUPT_MODE InterruptMode;
    PLATFORM_INTERRUPTS Interrupts;   // the VMD's own MSI-X
    U32 FirstVector;
    U32 VectorCount;
    VMD_VECTOR Vectors[VMD_MAX_VECTORS];

    // Root ports: hot plug and errors
    U32 PortCount;
    VMD_PORT Ports[VMD_MAX_PORTS];
    BOOL MonitorStarted;
    PLATFORM_EVENT* MonitorEvent;
    U32 Resets;
    U64 HotplugEvents;
} VMD_CONTROLLER;

VMD_CONTROLLER* VMDGetController(U32 Index);
/** Writes VMCONFIG with a read-back (the endpoint's own configuration space, through the host segment). */
void VMDWriteVmconfig(VMD_CONTROLLER* Vmd, U32 Value);

// VMD-Config.c
extern const PCI_CONFIG_OPS VMDConfigOps;
/** Closes every bridge window of the domain (Linux vmd_domain_reset order) and clears the root ports' buses. */
void VMDDomainReset(VMD_CONTROLLER* Vmd);

// VMD-Interrupts.c
extern const PCI_MESSAGE_ROUTING VMDMessageRouting;
/** Sets up the VMD's own MSI-X (or bypass, or polling) before the domain is enumerated. */
void VMDInterruptsInit(VMD_CONTROLLER* Vmd);
/** Shutdown: child remapping back on (MSI_RMP_DIS = 0) and VMCONFIG as firmware left it. */
void VMDInterruptsShutdown(VMD_CONTROLLER* Vmd);

// VMD-Monitor.c
/** Finds the root ports of the domain (after every enumeration). */
void VMDFindPorts(VMD_CONTROLLER* Vmd);
/** Starts the thread that polls slot, link and error status of the root ports. */
void VMDMonitorStart(VMD_CONTROLLER* Vmd);

// VMD-Reset.c
KSTATUS VMDResetDomain(VMD_CONTROLLER* Vmd);

#endif  // BUS_VMD_VMD_INTERNAL_H_INCLUDED

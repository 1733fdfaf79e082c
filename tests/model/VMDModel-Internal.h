/*
 * VMDModel-Internal.h - the VMD model's state, shared by its files:
 *   VMDModel.c           profiles, building the domain, life cycle, hot plug, inspection, rules
 *   VMDModel-Endpoint.c  the VMD endpoint's configuration space (registers, VMDLOCK, BARs, capabilities)
 *   VMDModel-Config.c    CFGBAR: the decoder, posted writes, the concurrency detector, the domain's
 *                        functions (bridges, slots, AER, secondary bus reset, CRS)
 *   VMDModel-Memory.c    HostPlatform's MMIO windows: CFGBAR, MEMBAR1/2 routing, the VMD's MSI-X table
 *   VMDModel-Remap.c     the interrupt engine, the children's DMA and INTx
 *   VMDModel-Check.c     the assertions of the fact sheet's section 6.2 G
 * Locks: Lock guards configuration state (the endpoint, the domain's functions, the posted write) and is
 * taken before an NVMe model's own lock (configuration and MMIO reach the children under it). RemapLock is
 * a leaf: children call the remap engine with their own lock held, so it reads the bridges' and the VMD's
 * command registers with atomic loads and never takes Lock. Functions named *Locked expect Lock held.
 */

#ifndef TESTS_MODEL_VMDMODEL_INTERNAL_H_INCLUDED
#define TESTS_MODEL_VMDMODEL_INTERNAL_H_INCLUDED

#include <pthread.h>

#include "HostPlatform.h"
#include "VMDModel.h"

// The endpoint's registers (Intel's client header, S6; VMLOCK, BUSRANGE, offsets: S1, S10)
#define VM_VMCAP 0x40
#define VM_VMCONFIG 0x44
#define VM_VMCONFIG_LOCK 0x1
#define VM_VMCONFIG_MSI_RMP_DIS 0x2
#define VM_VMASSIGN 0x48
#define VM_CFGBARSZ 0x4C
#define VM_FN_ASSIGN 0x50
#define VM_VMLOCK 0x70
#define VM_VMLOCK_MB2_SHADOW_EN 0x2
#define VM_BUSRANGE0 0xC8
#define VM_BUSRANGE1 0xCC
#define VM_MEMBAR1_OFFSET 0xD0
#define VM_MEMBAR2_OFFSET 0xD8
// MODEL CHOICE: capability layout clear of the VMD registers (0x40-0x7F, 0xC8-0xDF) and the SHDW range
#define VM_CAP_EXPRESS 0x80
#define VM_CAP_MSIX 0xBC
#define VM_CAP_PM 0xE0
#define VM_CAP_SHDW 0xE8
#define VM_MSIX_PBA_OFFSET 0x1000    // MODEL CHOICE: table at MEMBAR2 + 0, PBA at MEMBAR2 + 0x1000 (BIR 4)
#define VM_MEMBAR2_RESERVED 0x2000   // the VMD's own MSI-X table and PBA
#define VM_SHADOW_SIZE 0x10          // native shadow registers at MEMBAR2 + 0x2000 (28C0)

// Domain functions' capability layout
#define VM_FN_EXPRESS 0x40
#define VM_FN_MSI 0x80
#define VM_FN_AER 0x100
#define VM_FN_LTR 0x148
#define VM_FN_L1SS 0x150

// HostPlatform MMIO offsets carry the BAR in bits 63:60.
#define VM_REGION_SHIFT 60
#define VM_REGION_CFGBAR 1ULL
#define VM_REGION_MEMBAR1 2ULL
#define VM_REGION_MEMBAR2 3ULL
#define VM_REGION_OFFSET_MASK ((1ULL << VM_REGION_SHIFT) - 1)

typedef enum {
    VM_ROOT_PORT = 0,
    VM_SWITCH_UP,
    VM_SWITCH_DOWN,
    VM_NVME,
    VM_AHCI,
} VM_KIND;

typedef struct tag_VM_FUNCTION {
    struct tag_VMD_MODEL* Vmd;
    U32 Index;
    VM_KIND Kind;
    I32 Parent;           // the bridge above; -1 on a root bus
    U8 Root;              // root bus index (Parent -1)
    U8 Device, Function;
    I32 Port;             // the configured port it belongs to (-1: the AHCI function)
    BOOL Present;         // endpoints: something is in the slot
    NVME_MODEL* Nvme;     // VM_NVME
    // Its own configuration space (all kinds but VM_NVME, which the NVMe model answers)
    U8 Config[4096];
    U8 Writable[4096];    // bits software may write
    U8 Clear[4096];       // RW1C bits
    BOOL PrimaryFixed;    // root ports: the primary bus number is hard-wired (S11)
    U8 PrimaryValue;
    // Bridges
    BOOL BusReset;        // Bridge Control SBR held: nothing below answers
    U64 CrsUntilNs;       // after the reset: functions below answer CRS until then (platform time)
    BOOL SlotPowered;
    BOOL EjectRequested;  // the attention button was pressed: powering the slot off ejects its device
} VM_FUNCTION;

struct tag_VMD_MODEL {
    pthread_mutex_t Lock;
    pthread_mutex_t RemapLock;
    VMD_MODEL_CONFIG Config;

    // The endpoint
    U8 Space[4096];
    U8 Writable[4096];
    U8* MsixTable;        // VMD_MODEL_MAX_VECTORS entries, 4 KiB aligned
    U8* MsixPba;          // 4 KiB
    PCI_SEGMENT Segment;
    HOST_MMIO_DEVICE* Mmio;

    // The domain
    U32 FunctionCount;
    VM_FUNCTION* Functions[VMD_MODEL_MAX_FUNCTIONS];
    NVME_MODEL_UPSTREAM Upstream;

    // CFGBAR instruments
    BOOL Pending;         // a posted write not completed yet
    U64 PendingOffset;
    U32 PendingValue;
    pthread_t PendingThread;
    I32 InFlight;         // CFGBAR accesses in progress (atomic)

    VMD_MODEL_STATS Stats;
    U32 RuleCounts[VMD_RULE_COUNT];
};

typedef VMD_MODEL VM_MODEL;

// VMDModel.c
void VmViolation(VM_MODEL* Model, VMD_RULE Rule, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
U32 VmGet32(const U8* Space, U16 Offset);
U16 VmGet16(const U8* Space, U16 Offset);
/** Stores Value at Offset with Writable and Clear masks (atomic byte stores: the remap engine reads them). */
void VmPut8(U8* Space, U8* Writable, U8* Clear, U16 Offset, U8 Value, U8 WritableMask, U8 ClearMask);
void VmPut16(U8* Space, U8* Writable, U8* Clear, U16 Offset, U16 Value, U16 WritableMask, U16 ClearMask);
void VmPut32(U8* Space, U8* Writable, U8* Clear, U16 Offset, U32 Value, U32 WritableMask, U32 ClearMask);
/** A software write: writable bits take Value, RW1C bits set in Value clear. */
void VmWrite32(U8* Space, const U8* Writable, const U8* Clear, U16 Offset, U32 Value);

// VMDModel-Endpoint.c
void VmEndpointInit(VM_MODEL* Model);
U32 VmEndpointRead32Locked(VM_MODEL* Model, U16 Offset);
void VmEndpointWrite32Locked(VM_MODEL* Model, U16 Offset, U32 Value);
PHYSICAL VmBarLocked(VM_MODEL* Model, U32 Bar);
U64 VmBarSize(VM_MODEL* Model, U32 Bar);
BOOL VmMemoryEnabled(VM_MODEL* Model);
BOOL VmBusMasterAtomic(VM_MODEL* Model);
U8 VmStartBusLocked(VM_MODEL* Model);
U32 VmBusCountLocked(VM_MODEL* Model);
U32 VmRootCountLocked(VM_MODEL* Model);
/** Where children start in MEMBAR2: 0x2000, or 0x2010 with the native shadow registers. */
U64 VmMembar2ChildOffset(VM_MODEL* Model);
extern const PCI_CONFIG_OPS VmEndpointOps;

// VMDModel-Config.c
/** Builds a bridge's configuration space (root port, switch up- or downstream port) at its defaults. */
void VmBridgeInit(VM_FUNCTION* F, U16 DeviceId, BOOL Hotplug);
void VmAhciInit(VM_FUNCTION* F);
/** The bus a function answers on now, through the bridges as programmed; -1 when nothing routes to it. */
I32 VmFunctionBusLocked(VM_MODEL* Model, const VM_FUNCTION* F);
BOOL VmIsBridge(const VM_FUNCTION* F);
U32 VmFunctionRead32Locked(VM_MODEL* Model, VM_FUNCTION* F, U16 Offset);
U32 VmCfgbarRead(VM_MODEL* Model, U64 Offset);
void VmCfgbarWrite(VM_MODEL* Model, U64 Offset, U32 Value);
/** A posted write still in flight when something else reaches the VMD: a violation, then it lands. */
void VmCompletePendingLocked(VM_MODEL* Model, LPCSTR What);
/** The slot of port function F: presence and link as seen now. */
void VmSlotEventLocked(VM_MODEL* Model, VM_FUNCTION* Port, U16 StatusBits);

// VMDModel-Memory.c
void VmMemoryInit(VM_MODEL* Model);
void VmMemoryRelease(VM_MODEL* Model);
/** A child's memory BAR range (Size 0: none or unassigned); Bar 0..5. */
BOOL VmFunctionBar(VM_MODEL* Model, VM_FUNCTION* F, U32 Bar, PHYSICAL* Base, U64* Size, BOOL* Io);
U16 VmFunctionCommandLocked(VM_MODEL* Model, VM_FUNCTION* F);

// VMDModel-Remap.c
void VmRemapInit(VM_MODEL* Model);
/** Sends what the VMD's MSI-X table lets through (after an unmask or enable); takes RemapLock. */
void VmRemapSync(VM_MODEL* Model);
/** Every bridge above F (and the VMD) has Bus Master Enable; atomic reads only. */
BOOL VmPathMastersAtomic(VM_MODEL* Model, const VM_FUNCTION* F, I32* Blocking);

#endif  // TESTS_MODEL_VMDMODEL_INTERNAL_H_INCLUDED

/*
 * VMDModel.h - a host-side model of an Intel Volume Management Device for
 * the VMD driver's tests: the VMD endpoint, the private PCI domain it owns
 * (root ports, switch ports, NVMe controllers, an AHCI function), CFGBAR
 * configuration access, MEMBAR memory routing, and the MSI-X remapping of
 * the children's messages, after section 6.2 (A-H) of the VMD fact sheet
 * (/work/shared/reference/vmd-facts.md; documentation/VMD.md names the
 * sources S1-S12 it quotes).
 *
 * The endpoint (type 0, RCiEP, class 01h/04h) answers configuration
 * accesses through a one-function PCI_SEGMENT of its own, like the NVMe
 * model; CFGBAR, MEMBAR1 and MEMBAR2 are decoded for HostPlatform's MMIO
 * windows. Behind them sits the domain: the NVMe controllers are ordinary
 * NVMe models plugged in below a port (NVMeModelSetUpstream), so their
 * BAR0, MSI-X table, messages and DMA are reached only through the VMD.
 *
 * What makes it a test instrument (each check reports a rule, VMD_RULE,
 * through HostPlatformReportViolation, so ModelTestEnd fails a test that
 * breaks one it did not expect):
 *  - the CFGBAR decoder returns all ones for a bus no bridge routes, so a
 *    driver that programs bridges with CFGBAR indices instead of real bus
 *    numbers loses everything below them;
 *  - posted writes: a CFGBAR write lands only after the next CFGBAR read
 *    (which still sees the old state), so a driver that omits the read-back
 *    reads stale values (BAR sizing breaks); another thread's access or a
 *    MEMBAR access with a write still in flight is a violation;
 *  - a concurrency detector: two CFGBAR accesses overlapping in time are a
 *    violation (each access yields the CPU in the middle to widen the gap a
 *    missing lock leaves);
 *  - memory routing through the bridges' windows and Memory Space Enable,
 *    and DMA and messages only through bridges with Bus Master Enable;
 *  - the remap engine: index from address bits 19:12, index 0 dropped on
 *    client IDs, beyond the table dropped, VMD MSI-X enable, function mask
 *    and entry masks honoured with pending bits; bypass with MSI_RMP_DIS;
 *  - VMDModelCheck: the assertions of section 6.2 G on the state the driver
 *    left (bus numbers, windows, BARs, I/O, child MSI-X entries).
 *
 * Threading: one mutex guards the model's configuration state; the remap
 * engine has its own leaf lock, because children send messages with their
 * own lock held. The model never calls the driver.
 */

#ifndef TESTS_MODEL_VMDMODEL_H_INCLUDED
#define TESTS_MODEL_VMDMODEL_H_INCLUDED

#include "Base.h"
#include "NVMeModel.h"
#include "bus/pci/PCI.h"

typedef struct tag_VMD_MODEL VMD_MODEL;

#define VMD_MODEL_MAX_FUNCTIONS 16   // functions in the domain
#define VMD_MODEL_MAX_VECTORS 64     // VMD MSI-X entries

/************************************************************************/
// Profiles

typedef enum {
    VMD_MODEL_TIGER_LAKE = 0,  // 8086:9A0B at 00:0e.0, restriction 2 (buses e0-ff), CFGBAR 32 MiB, MEMBAR1 32-bit
                               // 32 MiB, MEMBAR2 1 MiB; CPU port 06.0 [9a09], PCH port 1d.0 [a0b0], AHCI 17.0 (S11)
    VMD_MODEL_METEOR_LAKE,     // 8086:7D0B, MEMBAR1 32-bit 16 MiB, MEMBAR2 16 MiB; port 06.0 [774d] (S11)
    VMD_MODEL_ALDER_LAKE,      // 8086:467F with restriction 1 (buses 80-9f); port 06.0 [464d]
    VMD_MODEL_SERVER_28C0,     // 8086:28C0 at 64:05.5, no restriction (buses 00-1f), MEMBAR1 64-bit above 4 GiB,
                               // native shadow (VMLOCK bit 1), bypass-capable, 64 vectors; ports 00.0-03.0 [347a-d]
    VMD_MODEL_SKYLAKE_201D,    // 8086:201D at 17:05.5, no restriction, 32 vectors; ports 00.0-03.0 [2030-2033]
    VMD_MODEL_ARROW_LAKE,      // 8086:AD0B, restriction 3 with BUSRANGE0 e0-ef and BUSRANGE1 f0-ff: CPU port
                               // e0:06.0, PCH port e1:1c.0 (primary hard-wired 80), split MEMBARs (S10)
    VMD_MODEL_PROFILE_COUNT
} VMD_MODEL_PROFILE;

// Firmware-left states (observed, S3 #2413, S11), any combination.
#define VMD_DIRTY_OVERLAPPING_WINDOWS 0x01  // every root port: the same open memory and prefetchable window
#define VMD_DIRTY_IO_ZERO 0x02              // I/O base/limit 0/0: an open 4 KiB I/O window at 0
#define VMD_DIRTY_DUPLICATE_SECONDARY 0x04  // every root port: secondary = subordinate = start + 1
#define VMD_DIRTY_UNASSIGNED_BARS 0x08      // children's BARs 0, decoding off
#define VMD_DIRTY_ALL 0x0F

typedef enum {
    VMD_MODEL_EMPTY = 0,        // a slot with nothing in it
    VMD_MODEL_NVME = 1,         // an NVMe model (Endpoint)
    VMD_MODEL_SWITCH_NVME = 2,  // a switch (upstream port, one downstream port) with the NVMe model below
} VMD_MODEL_SLOT_CONTENT;

typedef struct tag_VMD_MODEL_PORT {
    U8 Root;            // root bus index (0; 1 for the Arrow Lake PCH root bus)
    U8 Device, Function;
    U16 DeviceId;       // 8086:DeviceId
    BOOL Hotplug;       // slot implemented, hot-plug capable, power controller, attention button
    VMD_MODEL_SLOT_CONTENT Content;
    NVME_MODEL* Endpoint;
} VMD_MODEL_PORT;

typedef struct tag_VMD_MODEL_CONFIG {
    VMD_MODEL_PROFILE Profile;
    U16 DeviceId;
    BOOL Client;               // vector 0 does not forward remapped messages (OFFSET_FIRST_VECTOR)
    BOOL BypassCapable;        // MSI_RMP_DIS takes effect (28C0)
    // Where the endpoint sits in the host and what firmware programmed
    U16 PciSegment;
    U8 Bus, Device, Function;
    PHYSICAL Cfgbar, Membar1, Membar2;
    U8 CfgbarSz, Membar1Sz, Membar2Sz;  // size = 2^n; CfgbarSz < 20 models a broken device (the driver refuses)
    BOOL Membar1Is64;
    U32 Vmcap, Vmconfig;       // Vmconfig bit 0 (lock) as firmware left it
    U32 Vmassign, FnAssign[8];
    U32 Vmlock;                // 28C0: bit 1 MB2_SHADOW_EN
    BOOL Shdw;                 // the "SHDW" vendor capability at 0xE8 (a VMD passed to a guest)
    PHYSICAL ShadowMembar1, ShadowMembar2;  // what the shadow registers say (0: the BARs, bare metal)
    U16 BusRange0, BusRange1;
    U32 Membar1Offset;
    U64 Membar2Offset;
    U32 MsixVectors;
    // The domain
    U32 PortCount;
    VMD_MODEL_PORT Ports[8];
    BOOL Ahci;                 // SATA AHCI 17.0 [a0d3] on root bus 0: BAR5 2 KiB, I/O BARs 0-4, MSI
    U32 Dirty;                 // VMD_DIRTY_*
    // Instruments (on by default)
    BOOL PostedWrites;
    BOOL ConcurrencyDetector;
    U32 CrsMs;                 // after a secondary bus reset, functions below answer CRS this long
} VMD_MODEL_CONFIG;

/** A profile's configuration with no ports filled in but the profile's own (content VMD_MODEL_EMPTY). */
void VMDModelProfileConfig(VMD_MODEL_CONFIG* Config, VMD_MODEL_PROFILE Profile);
LPCSTR VMDModelProfileName(VMD_MODEL_PROFILE Profile);

/** Creates the model; the NVMe models of the ports are plugged in (and belong to the caller still). */
VMD_MODEL* VMDModelCreate(const VMD_MODEL_CONFIG* Config);
/** Unregisters from HostPlatform and frees the model (not the NVMe models). */
void VMDModelDestroy(VMD_MODEL* Model);

/** The endpoint's one-function segment; VMDModelAttachPCI adds it to the host PCI list and returns the VMD. */
PCI_SEGMENT* VMDModelSegment(VMD_MODEL* Model);
PCI_DEVICE* VMDModelAttachPCI(VMD_MODEL* Model);

/************************************************************************/
// Events

/** Hot plug: empties the slot of port Port (presence and link down, status bits set). */
void VMDModelUnplug(VMD_MODEL* Model, U32 Port);
/** Hot plug: puts Endpoint into the empty slot of port Port (presence and link up, status bits set). */
void VMDModelPlug(VMD_MODEL* Model, U32 Port, NVME_MODEL* Endpoint);
/** The slot's attention button (how QEMU's device_del asks for a removal). */
void VMDModelPressAttention(VMD_MODEL* Model, U32 Port);
/** Sets AER (un)correctable status bits on root port Port, as a link error would. */
void VMDModelInjectError(VMD_MODEL* Model, U32 Port, BOOL Correctable, U32 Bits);
/** A platform reset as firmware does at boot and S3: MSI_RMP_DIS back to 0. */
void VMDModelFirmwareReset(VMD_MODEL* Model);

/************************************************************************/
// Rules

typedef enum {
    VMD_RULE_NONE = 0,
    VMD_RULE_CFG_DECODE_DISABLED,     // CFGBAR accessed while the VMD's Memory Space Enable is clear
    VMD_RULE_CFG_UNROUTED_WRITE,      // a CFGBAR write to a bus no bridge routes (it is lost)
    VMD_RULE_CFG_WRITE_NOT_COMPLETED, // another access while a posted CFGBAR write was never read back
    VMD_RULE_CFG_CONCURRENT,          // two CFGBAR accesses at once (no serialisation)
    VMD_RULE_CFG_WIDTH,               // a CFGBAR access that is not an aligned dword
    VMD_RULE_LOCKED_REGISTER,         // a write that tries to change a register VMCONFIG.VMDLOCK locked
    VMD_RULE_MEM_DECODE_DISABLED,     // MEMBAR accessed while the VMD's Memory Space Enable is clear
    VMD_RULE_MEM_UNCLAIMED,           // a MEMBAR access no child claims (master abort: all ones)
    VMD_RULE_MEM_CLAIMED_TWICE,       // two children claim one address (overlapping windows or BARs)
    VMD_RULE_MSIX_REGION,             // a wrong access to the VMD's own MSI-X table or PBA
    VMD_RULE_DMA_BLOCKED,             // child DMA through a bridge (or the VMD) without Bus Master Enable
    VMD_RULE_MSG_BLOCKED,             // a child message through a bridge (or the VMD) without Bus Master Enable
    VMD_RULE_REMAP_ADDRESS,           // a remapped child message outside 0xFEExxxxx
    VMD_RULE_REMAP_DATA,              // a remapped child message with data other than 0
    VMD_RULE_REMAP_INDEX,             // a child message for an index beyond the VMD's MSI-X table
    VMD_RULE_REMAP_VECTOR_ZERO,       // a child message for vector 0 of a client VMD (never forwarded)
    VMD_RULE_REMAP_DISABLED,          // a child message while the VMD's MSI-X is disabled (lost)
    VMD_RULE_INTX,                    // a child asserts INTx (never forwarded; INTx Disable was clear)
    VMD_RULE_COUNT
} VMD_RULE;

LPCSTR VMDModelRuleName(VMD_RULE Rule);
LPCSTR VMDModelRuleDescription(VMD_RULE Rule);
U32 VMDModelCountViolations(VMD_MODEL* Model, VMD_RULE Rule);

/************************************************************************/
// Inspection

typedef struct tag_VMD_MODEL_STATS {
    U64 CfgReads, CfgWrites;
    U64 CfgUnrouted;                   // accesses to a bus or device nothing answers (all ones)
    U64 CfgAmbiguous;                  // accesses two bridges claimed (duplicate secondary numbers)
    U64 CfgCrs;                        // reads answered with Configuration Request Retry Status
    U64 PostedWrites, PostedCompleted; // writes posted, and those a read of the same dword completed at once
    U64 MemReads, MemWrites;
    U64 ChildMessages;                 // messages from the domain
    U64 Bypassed;                      // passed through unchanged (MSI_RMP_DIS)
    U64 Dropped;                       // not delivered (rules above)
    U64 Received[VMD_MODEL_MAX_VECTORS];   // remapped messages per VMD vector
    U64 Delivered[VMD_MODEL_MAX_VECTORS];  // VMD MSI-X messages sent per vector
    U64 MaskedPending;                 // messages held in the PBA by a mask
    U64 IntxAsserted;
    U64 SecondaryResets;
    U64 DmaBlocked;
} VMD_MODEL_STATS;

void VMDModelGetStats(VMD_MODEL* Model, VMD_MODEL_STATS* Stats);
U32 VMDModelReadConfig(VMD_MODEL* Model, U16 Offset);  // the endpoint's own register (no checks)
/** A domain function's configuration dword as it holds it (no routing, no checks); MAX_U32 if none. */
U32 VMDModelPeekFunction(VMD_MODEL* Model, U32 Function, U16 Offset);
U32 VMDModelFunctionCount(VMD_MODEL* Model);
/** The index of port Port's function, or of the endpoint below it (NVMe or switch), for VMDModelPeekFunction. */
U32 VMDModelPortFunction(VMD_MODEL* Model, U32 Port);
U32 VMDModelEndpointFunction(VMD_MODEL* Model, U32 Port);
/** The bus number a function answers on now (through the bridges as programmed), or -1. */
I32 VMDModelFunctionBus(VMD_MODEL* Model, U32 Function);
U8 VMDModelStartBus(VMD_MODEL* Model);

/**
 * Section 6.2 G on the state the driver left: bridges numbered from the start bus and every function
 * reachable; no child BAR in MEMBAR2's first 8 KiB (+0x10 with native shadow registers); every child memory
 * BAR inside an enabled window chain inside a MEMBAR; bridge windows 1 MiB aligned; I/O decoding off, I/O
 * windows closed, I/O BARs unassigned; every enabled child MSI-X entry 0xFEE00000 | v << 12 with data 0 and,
 * on client IDs, v >= 1 (or, in bypass, an ordinary message). Returns the problems found (0: none) and
 * prints each to stderr.
 */
U32 VMDModelCheck(VMD_MODEL* Model);

#endif  // TESTS_MODEL_VMDMODEL_H_INCLUDED

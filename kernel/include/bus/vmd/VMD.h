/*
 * VMD.h - the Intel Volume Management Device (VMD) bridge driver: what the
 * shell, the System Data View and KernelMain see of it.
 *
 * A VMD is a PCIe root-complex integrated endpoint (class 01h/04h) that
 * hides root ports, and the NVMe drives behind them, from the host's
 * configuration space and owns them as a private PCI domain reached only
 * through its BARs. The driver gives that domain to the PCI core as a new
 * segment (0x10000 and up) whose configuration ops go through CFGBAR, lets
 * the generic enumerator number its bridges and assign its BARs, and remaps
 * the children's message interrupts through its own MSI-X table. Everything
 * VMD-specific stays in bus/vmd/; see documentation/VMD.md.
 */

#ifndef BUS_VMD_VMD_H_INCLUDED
#define BUS_VMD_VMD_H_INCLUDED

#include "Base.h"
#include "bus/pci/PCI.h"

#define VMD_MAX_CONTROLLERS 4
#define VMD_MAX_VECTORS 32          // VMD MSI-X vectors used (the table may have more)
#define VMD_MAX_PORTS 16            // root ports watched for hot plug and errors
#define VMD_SEGMENT_BASE 0x10000    // first segment number: clear of every ACPI _SEG (16 bits), as Linux does

// Features of a device ID (Linux's enum vmd_features, bit for bit)
#define VMD_FEATURE_MEMBAR_SHADOW 0x01        // shadow registers at MEMBAR2 + 0x2000 (native)
#define VMD_FEATURE_BUS_RESTRICTIONS 0x02     // VMCAP/VMCONFIG restrict bus numbers (0, 128 or 224)
#define VMD_FEATURE_MEMBAR_SHADOW_VSCAP 0x04  // shadow registers in a vendor capability ("SHDW")
#define VMD_FEATURE_OFFSET_FIRST_VECTOR 0x08  // MSI-X vector 0 does not forward remapped child messages
#define VMD_FEATURE_CAN_BYPASS_MSI_REMAP 0x10 // VMCONFIG.MSI_RMP_DIS lets child messages through unchanged
#define VMD_FEATURE_BIOS_PM_QUIRK 0x20        // firmware leaves ASPM/LTR of the VMD's ports unprogrammed
#define VMD_FEATURE_PCH_ROOT_BUS 0x40         // bus restriction 3 may mean a second (PCH) root bus (Arrow Lake)

typedef struct tag_VMD_PROFILE {
    U16 DeviceId;
    U32 Features;
    LPCSTR Platform;   // as the sources name it
    LPCSTR Source;     // where the ID and its features come from
} VMD_PROFILE;

typedef enum {
    VMD_STATE_REFUSED = 0,   // not driven: StateReason says why
    VMD_STATE_RUNNING = 1,
    VMD_STATE_RESETTING = 2,
} VMD_STATE;

typedef enum {
    VMD_INTERRUPTS_POLLING = 0,  // no VMD vector: children poll
    VMD_INTERRUPTS_REMAPPED = 1, // child messages remapped through the VMD's MSI-X table
    VMD_INTERRUPTS_BYPASS = 2,   // VMCONFIG.MSI_RMP_DIS: child messages go through unchanged
} VMD_INTERRUPT_MODE;

typedef struct tag_VMD_VECTOR_INFO {
    U8 CpuVector;
    U32 Messages;      // child message vectors composed onto it
    U32 Handlers;      // handlers it calls when it fires
    U64 Fired;
} VMD_VECTOR_INFO;

typedef struct tag_VMD_PORT_INFO {
    U8 Bus, Device, Function;
    U16 DeviceId;
    BOOL HotplugCapable;
    BOOL Present;            // presence detect or link active, as last polled
    U32 Children;            // functions listed below it
    U64 HotplugEvents;       // presence and link changes seen
    U64 CorrectableErrors;   // AER correctable status bits seen (or device status CED without AER)
    U64 UncorrectableErrors; // non-fatal and fatal
    U32 LastUncorrectable;   // AER uncorrectable status of the last event
    U32 LastCorrectable;
} VMD_PORT_INFO;

typedef struct tag_VMD_INFO {
    char Name[8];                 // "vmd0"
    VMD_STATE State;
    char StateReason[96];
    U32 PciSegment;               // where the VMD itself is
    U8 PciBus, PciDevice, PciFunction;
    U16 DeviceId;
    const VMD_PROFILE* Profile;
    U32 Segment;                  // the domain it provides (0x10000 and up)
    U32 Restriction;              // VMCONFIG bits 9:8
    U8 StartBus, EndBus;          // the CFGBAR span
    U32 RootCount;
    PCI_ROOT_BUS Roots[PCI_SEGMENT_MAX_ROOTS];
    PHYSICAL CfgbarBase, Membar1Base, Membar2Base;
    U64 CfgbarSize, Membar1Size, Membar2Size;
    U64 Membar2ChildOffset;       // 0x2000, or 0x2010 with native shadow registers
    U32 WindowCount;
    PCI_WINDOW Windows[PCI_SEGMENT_MAX_WINDOWS];
    VMD_INTERRUPT_MODE InterruptMode;
    U32 MsixTableSize;
    U32 FirstVector;              // lowest vector child messages may target (1 on client parts)
    U32 VectorCount;              // VMD vectors set up
    VMD_VECTOR_INFO Vectors[VMD_MAX_VECTORS];
    U32 Children;                 // functions listed in the domain
    U32 PortCount;
    VMD_PORT_INFO Ports[VMD_MAX_PORTS];
    U64 ConfigReads, ConfigWrites;
    U32 Resets;
    U64 HotplugEvents;
} VMD_INFO;

/** Registers of the endpoint and its MSI-X table, as `vmd regs` prints them. */
typedef struct tag_VMD_REGISTERS {
    U32 Vmcap, Vmconfig, Vmassign, Vmlock;
    U8 CfgbarSz, Membar1Sz, Membar2Sz;
    U32 FnAssign[8];
    U16 BusRange0, BusRange1;
    U32 Membar1Offset;
    U64 Membar2Offset;
    U16 Command, Status;
    U32 Bars[6];
    U16 MsixControl;
    U32 MsixEntryCount;           // entries read (at most VMD_MAX_VECTORS)
    U32 MsixEntries[VMD_MAX_VECTORS][4];
    U32 MsixPending;              // PBA bits 31:0
} VMD_REGISTERS;

/** Registers the driver with the PCI core (before PCIInit). */
void VMDRegisterDriver(void);
U32 VMDGetCount(void);
/** A snapshot of VMD Index; FALSE when there is none. */
BOOL VMDGetInfo(U32 Index, VMD_INFO* Info);
KSTATUS VMDReadRegisters(U32 Index, VMD_REGISTERS* Registers);
/** The VMD whose domain holds Device (or that is Device), or -1. */
I32 VMDIndexOfDevice(const PCI_DEVICE* Device);
/**
 * Secondary bus reset of every root port of VMD Index, then the domain is enumerated again: functions found
 * again with the same BARs keep their drivers and get their saved state back, vanished ones are removed, new
 * ones bound. The caller makes sure no file system on a disk behind it is mounted.
 */
KSTATUS VMDReset(U32 Index);

/** Pure (VMD-Profiles.c): the profile of a VMD device ID, or NULL. */
const VMD_PROFILE* VMDFindProfile(U16 VendorId, U16 DeviceId);
const VMD_PROFILE* VMDGetProfile(U32 Index);
U32 VMDGetProfileCount(void);
/** "bus-restrictions offset-first-vector ..." for a feature mask. */
SIZE VMDFeatureText(U32 Features, LPSTR Buffer, SIZE Size);
LPCSTR VMDInterruptModeName(VMD_INTERRUPT_MODE Mode);

#endif  // BUS_VMD_VMD_H_INCLUDED

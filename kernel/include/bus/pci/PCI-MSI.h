/*
 * PCI-MSI.h - MSI and MSI-X for PCI devices.
 *
 * Message composition follows the Intel SDM vol. 3A section 11.11 (address
 * 0xFEE00000 | destination APIC ID << 12, physical destination, fixed
 * delivery, edge triggered; data = vector). MSI is programmed through
 * configuration space; MSI-X through its table, which may live in any BAR
 * (the BIR) at any offset, with the PBA possibly in another BAR. Drivers
 * choose with PCIInterruptSetup(), which tries MSI-X, then MSI, then INTx
 * (the IOAPIC line firmware routed), and reports polling when none works.
 *
 * Table access is through a LINEAR base the caller maps (the kernel maps
 * the BAR uncached; host tests pass a plain buffer), so this file has no
 * hardware access of its own beyond configuration space.
 */

#ifndef BUS_PCI_MSI_H_INCLUDED
#define BUS_PCI_MSI_H_INCLUDED

#include "Base.h"
#include "bus/pci/PCI.h"

// MSI capability (PCI Local Bus 3.0, 6.8.1)
#define PCI_MSI_CONTROL 0x02
#define PCI_MSI_CONTROL_ENABLE 0x0001
#define PCI_MSI_CONTROL_MMC_SHIFT 1       // multiple message capable (log2)
#define PCI_MSI_CONTROL_MME_SHIFT 4       // multiple message enable (log2)
#define PCI_MSI_CONTROL_64BIT 0x0080
#define PCI_MSI_CONTROL_PER_VECTOR_MASK 0x0100

// MSI-X capability (PCI Local Bus 3.0, 6.8.2)
#define PCI_MSIX_CONTROL 0x02
#define PCI_MSIX_CONTROL_TABLE_SIZE 0x07FF
#define PCI_MSIX_CONTROL_FUNCTION_MASK 0x4000
#define PCI_MSIX_CONTROL_ENABLE 0x8000
#define PCI_MSIX_TABLE 0x04
#define PCI_MSIX_PBA 0x08
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_ENTRY_VECTOR_CONTROL 12
#define PCI_MSIX_ENTRY_MASKED 0x1

#define MSI_ADDRESS_BASE 0xFEE00000U

typedef struct tag_PCI_MSI_INFO {
    U8 Capability;
    BOOL Is64Bit;
    BOOL PerVectorMask;
    U32 MaxVectors;   // from Multiple Message Capable
} PCI_MSI_INFO;

typedef struct tag_PCI_MSIX_INFO {
    U8 Capability;
    U32 TableSize;    // entries
    U8 TableBar;      // BIR
    U32 TableOffset;
    U8 PbaBar;
    U32 PbaOffset;
    LINEAR Table;     // mapped table (0 until mapped)
    LINEAR Pba;       // mapped pending bit array (0 until mapped)
} PCI_MSIX_INFO;

typedef enum {
    PCI_INTERRUPT_NONE = 0,  // polling
    PCI_INTERRUPT_INTX = 1,
    PCI_INTERRUPT_MSI = 2,
    PCI_INTERRUPT_MSIX = 3,
} PCI_INTERRUPT_MODE;

/** Composes an MSI message for Vector on the CPU with local APIC ID ApicId. */
void PCIMSIComposeMessage(U32 ApicId, U8 Vector, U64* Address, U32* Data);

BOOL PCIMSIRead(const PCI_DEVICE* Device, PCI_MSI_INFO* Info);
/** Programs and enables MSI with 2^Log2Count consecutive vectors starting at Vector (aligned). */
BOOL PCIMSIEnable(PCI_DEVICE* Device, const PCI_MSI_INFO* Info, U32 ApicId, U8 Vector, U32 Log2Count);
/** Programs and enables MSI with a message composed elsewhere (a segment owner's remapped message). */
BOOL PCIMSIEnableMessage(PCI_DEVICE* Device, const PCI_MSI_INFO* Info, U64 Address, U32 Data, U32 Log2Count);
void PCIMSIDisable(PCI_DEVICE* Device, const PCI_MSI_INFO* Info);

/** Reads the MSI-X capability (does not map anything). FALSE if absent or malformed (BIR 6/7). */
BOOL PCIMSIXRead(const PCI_DEVICE* Device, PCI_MSIX_INFO* Info);
/** Writes entry Index (masked state preserved unless Unmask). Table must be mapped. */
BOOL PCIMSIXSetEntry(PCI_MSIX_INFO* Info, U32 Index, U32 ApicId, U8 Vector, BOOL Unmask);
/** Writes entry Index with a message composed elsewhere (masked while it changes). */
BOOL PCIMSIXSetMessage(PCI_MSIX_INFO* Info, U32 Index, U64 Address, U32 Data, BOOL Unmask);
BOOL PCIMSIXMaskEntry(PCI_MSIX_INFO* Info, U32 Index, BOOL Masked);
BOOL PCIMSIXIsPending(const PCI_MSIX_INFO* Info, U32 Index);
/** Sets MSI-X enable and function mask in the control register. */
void PCIMSIXControl(PCI_DEVICE* Device, const PCI_MSIX_INFO* Info, BOOL Enable, BOOL FunctionMask);

/** Kernel: maps the MSI-X table and PBA from their BARs (uncached). */
BOOL PCIMSIXMap(PCI_DEVICE* Device, PCI_MSIX_INFO* Info);

LPCSTR PCIInterruptModeName(PCI_INTERRUPT_MODE Mode);

#endif  // BUS_PCI_MSI_H_INCLUDED

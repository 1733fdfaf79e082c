/*
 * PCI-MSI.c - MSI and MSI-X programming (see PCI-MSI.h).
 *
 * Order matters for a device in use: an MSI-X entry is masked while its
 * address and data change, and MSI is disabled while its message changes,
 * so the device never sends a half-written message.
 */

#include "bus/pci/PCI-MSI.h"

#include "utils/String.h"

static inline U32 TableRead32(LINEAR Address) { return *(volatile U32*)Address; }
static inline void TableWrite32(LINEAR Address, U32 Value) { *(volatile U32*)Address = Value; }

void PCIMSIComposeMessage(U32 ApicId, U8 Vector, U64* Address, U32* Data) {
    // Physical destination mode, redirection hint off; edge, fixed delivery.
    *Address = MSI_ADDRESS_BASE | ((ApicId & 0xFF) << 12);
    *Data = Vector;
}

BOOL PCIMSIRead(const PCI_DEVICE* Device, PCI_MSI_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    U8 Capability = Device->MsiCapability ? Device->MsiCapability : PCIFindCapability(Device, PCI_CAP_ID_MSI);
    if (Capability == 0) return FALSE;
    U16 Control = PCIDeviceRead16(Device, Capability + PCI_MSI_CONTROL);
    Info->Capability = Capability;
    Info->Is64Bit = (Control & PCI_MSI_CONTROL_64BIT) != 0;
    Info->PerVectorMask = (Control & PCI_MSI_CONTROL_PER_VECTOR_MASK) != 0;
    U32 Log2 = (Control >> PCI_MSI_CONTROL_MMC_SHIFT) & 7;
    Info->MaxVectors = 1U << (Log2 > 5 ? 5 : Log2);
    return TRUE;
}

BOOL PCIMSIEnable(PCI_DEVICE* Device, const PCI_MSI_INFO* Info, U32 ApicId, U8 Vector, U32 Log2Count) {
    U64 Address;
    U32 Data;
    if (Log2Count > 5 || (Vector & ((1U << Log2Count) - 1)) != 0) return FALSE;  // an aligned block of at most 32
    PCIMSIComposeMessage(ApicId, Vector, &Address, &Data);
    return PCIMSIEnableMessage(Device, Info, Address, Data, Log2Count);
}

BOOL PCIMSIEnableMessage(PCI_DEVICE* Device, const PCI_MSI_INFO* Info, U64 Address, U32 Data, U32 Log2Count) {
    if (Info->Capability == 0 || Log2Count > 5 || (1U << Log2Count) > Info->MaxVectors) return FALSE;
    if (!Info->Is64Bit && (Address >> 32) != 0) return FALSE;

    U8 C = Info->Capability;
    U16 Control = PCIDeviceRead16(Device, C + PCI_MSI_CONTROL);
    PCIDeviceWrite16(Device, C + PCI_MSI_CONTROL, (U16)(Control & ~PCI_MSI_CONTROL_ENABLE));

    PCIDeviceWrite32(Device, C + 0x04, (U32)Address);
    if (Info->Is64Bit) {
        PCIDeviceWrite32(Device, C + 0x08, (U32)(Address >> 32));
        PCIDeviceWrite16(Device, C + 0x0C, (U16)Data);
        if (Info->PerVectorMask) PCIDeviceWrite32(Device, C + 0x10, 0);
    } else {
        PCIDeviceWrite16(Device, C + 0x08, (U16)Data);
        if (Info->PerVectorMask) PCIDeviceWrite32(Device, C + 0x0C, 0);
    }

    Control = (U16)((Control & ~(7U << PCI_MSI_CONTROL_MME_SHIFT)) | (Log2Count << PCI_MSI_CONTROL_MME_SHIFT));
    PCIDeviceWrite16(Device, C + PCI_MSI_CONTROL, (U16)(Control | PCI_MSI_CONTROL_ENABLE));
    // MSI replaces INTx: keep the legacy line quiet.
    PCIDisableIntx(Device, TRUE);
    return TRUE;
}

void PCIMSIDisable(PCI_DEVICE* Device, const PCI_MSI_INFO* Info) {
    if (Info->Capability == 0) return;
    U16 Control = PCIDeviceRead16(Device, Info->Capability + PCI_MSI_CONTROL);
    PCIDeviceWrite16(Device, Info->Capability + PCI_MSI_CONTROL, (U16)(Control & ~PCI_MSI_CONTROL_ENABLE));
}

BOOL PCIMSIXRead(const PCI_DEVICE* Device, PCI_MSIX_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    U8 Capability = Device->MsixCapability ? Device->MsixCapability : PCIFindCapability(Device, PCI_CAP_ID_MSIX);
    if (Capability == 0) return FALSE;
    U16 Control = PCIDeviceRead16(Device, Capability + PCI_MSIX_CONTROL);
    U32 Table = PCIDeviceRead32(Device, Capability + PCI_MSIX_TABLE);
    U32 Pba = PCIDeviceRead32(Device, Capability + PCI_MSIX_PBA);
    Info->Capability = Capability;
    Info->TableSize = (Control & PCI_MSIX_CONTROL_TABLE_SIZE) + 1U;
    Info->TableBar = (U8)(Table & 7);
    Info->TableOffset = Table & ~7U;
    Info->PbaBar = (U8)(Pba & 7);
    Info->PbaOffset = Pba & ~7U;
    // BIR 6 and 7 are reserved; a table must lie in a memory BAR.
    if (Info->TableBar >= PCI_BAR_COUNT || Info->PbaBar >= PCI_BAR_COUNT) return FALSE;
    const PCI_BAR* TableBar = &Device->Bars[Info->TableBar];
    if (TableBar->Type != PCI_BAR_MEMORY32 && TableBar->Type != PCI_BAR_MEMORY64) return FALSE;
    if (TableBar->Size != 0 && (U64)Info->TableOffset + (U64)Info->TableSize * PCI_MSIX_ENTRY_SIZE > TableBar->Size) {
        return FALSE;
    }
    return TRUE;
}

BOOL PCIMSIXMaskEntry(PCI_MSIX_INFO* Info, U32 Index, BOOL Masked) {
    if (Info->Table == 0 || Index >= Info->TableSize) return FALSE;
    LINEAR Control = Info->Table + Index * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CONTROL;
    U32 Value = TableRead32(Control);
    Value = Masked ? (Value | PCI_MSIX_ENTRY_MASKED) : (Value & ~PCI_MSIX_ENTRY_MASKED);
    TableWrite32(Control, Value);
    return TRUE;
}

BOOL PCIMSIXSetEntry(PCI_MSIX_INFO* Info, U32 Index, U32 ApicId, U8 Vector, BOOL Unmask) {
    U64 Address;
    U32 Data;
    PCIMSIComposeMessage(ApicId, Vector, &Address, &Data);
    return PCIMSIXSetMessage(Info, Index, Address, Data, Unmask);
}

BOOL PCIMSIXSetMessage(PCI_MSIX_INFO* Info, U32 Index, U64 Address, U32 Data, BOOL Unmask) {
    if (Info->Table == 0 || Index >= Info->TableSize) return FALSE;
    LINEAR Entry = Info->Table + Index * PCI_MSIX_ENTRY_SIZE;
    PCIMSIXMaskEntry(Info, Index, TRUE);
    TableWrite32(Entry + 0, (U32)Address);
    TableWrite32(Entry + 4, (U32)(Address >> 32));
    TableWrite32(Entry + 8, Data);
    if (Unmask) PCIMSIXMaskEntry(Info, Index, FALSE);
    return TRUE;
}

BOOL PCIMSIXIsPending(const PCI_MSIX_INFO* Info, U32 Index) {
    if (Info->Pba == 0 || Index >= Info->TableSize) return FALSE;
    U32 Word = TableRead32(Info->Pba + (Index / 32) * 4);
    return (Word >> (Index % 32)) & 1;
}

void PCIMSIXControl(PCI_DEVICE* Device, const PCI_MSIX_INFO* Info, BOOL Enable, BOOL FunctionMask) {
    if (Info->Capability == 0) return;
    U16 Control = PCIDeviceRead16(Device, Info->Capability + PCI_MSIX_CONTROL);
    Control = (U16)(Control & ~(PCI_MSIX_CONTROL_ENABLE | PCI_MSIX_CONTROL_FUNCTION_MASK));
    if (Enable) Control |= PCI_MSIX_CONTROL_ENABLE;
    if (FunctionMask) Control |= PCI_MSIX_CONTROL_FUNCTION_MASK;
    PCIDeviceWrite16(Device, Info->Capability + PCI_MSIX_CONTROL, Control);
    if (Enable) PCIDisableIntx(Device, TRUE);
}

LPCSTR PCIInterruptModeName(PCI_INTERRUPT_MODE Mode) {
    switch (Mode) {
        case PCI_INTERRUPT_MSIX:
            return "MSI-X";
        case PCI_INTERRUPT_MSI:
            return "MSI";
        case PCI_INTERRUPT_INTX:
            return "INTx";
        default:
            return "polling";
    }
}

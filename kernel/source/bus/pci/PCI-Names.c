/*
 * PCI-Names.c - human names for PCI classes, vendors and a few devices.
 *
 * Class and subclass names are those of the PCI Code and ID Assignment
 * specification as spelled by the pci.ids database (what `lspci` prints),
 * so `pci` output reads like `lspci -nn`. Vendor and device names cover
 * what QEMU emulates and the common NVMe makers; anything else shows as
 * "Vendor" / "Device" with its numeric IDs, as lspci -nn does for unknown IDs.
 */

#include "bus/pci/PCI.h"

#include "utils/Format.h"
#include "utils/String.h"

typedef struct tag_CLASS_NAME {
    U8 Class;
    U8 SubClass;  // 0xFF: the class's generic name
    LPCSTR Name;
} CLASS_NAME;

static const CLASS_NAME ClassNames[] = {
    {0x00, 0x00, "Non-VGA unclassified device"}, {0x00, 0x01, "VGA compatible unclassified device"},
    {0x00, 0xFF, "Unclassified device"},
    {0x01, 0x00, "SCSI storage controller"}, {0x01, 0x01, "IDE interface"}, {0x01, 0x02, "Floppy disk controller"},
    {0x01, 0x03, "IPI bus controller"}, {0x01, 0x04, "RAID bus controller"}, {0x01, 0x05, "ATA controller"},
    {0x01, 0x06, "SATA controller"}, {0x01, 0x07, "Serial Attached SCSI controller"},
    {0x01, 0x08, "Non-Volatile memory controller"}, {0x01, 0xFF, "Mass storage controller"},
    {0x02, 0x00, "Ethernet controller"}, {0x02, 0x01, "Token ring network controller"},
    {0x02, 0x02, "FDDI network controller"}, {0x02, 0x03, "ATM network controller"}, {0x02, 0x04, "ISDN controller"},
    {0x02, 0xFF, "Network controller"},
    {0x03, 0x00, "VGA compatible controller"}, {0x03, 0x01, "XGA compatible controller"},
    {0x03, 0x02, "3D controller"}, {0x03, 0xFF, "Display controller"},
    {0x04, 0x00, "Multimedia video controller"}, {0x04, 0x01, "Multimedia audio controller"},
    {0x04, 0x02, "Computer telephony device"}, {0x04, 0x03, "Audio device"}, {0x04, 0xFF, "Multimedia controller"},
    {0x05, 0x00, "RAM memory"}, {0x05, 0x01, "FLASH memory"}, {0x05, 0xFF, "Memory controller"},
    {0x06, 0x00, "Host bridge"}, {0x06, 0x01, "ISA bridge"}, {0x06, 0x02, "EISA bridge"},
    {0x06, 0x03, "MicroChannel bridge"}, {0x06, 0x04, "PCI bridge"}, {0x06, 0x05, "PCMCIA bridge"},
    {0x06, 0x06, "NuBus bridge"}, {0x06, 0x07, "CardBus bridge"}, {0x06, 0x08, "RACEway bridge"},
    {0x06, 0x09, "Semi-transparent PCI-to-PCI bridge"}, {0x06, 0x0A, "InfiniBand to PCI host bridge"},
    {0x06, 0xFF, "Bridge"},
    {0x07, 0x00, "Serial controller"}, {0x07, 0x01, "Parallel controller"},
    {0x07, 0x02, "Multiport serial controller"}, {0x07, 0x03, "Modem"}, {0x07, 0xFF, "Communication controller"},
    {0x08, 0x00, "PIC"}, {0x08, 0x01, "DMA controller"}, {0x08, 0x02, "Timer"}, {0x08, 0x03, "RTC"},
    {0x08, 0x04, "PCI Hot-plug controller"}, {0x08, 0x05, "SD Host controller"}, {0x08, 0x06, "IOMMU"},
    {0x08, 0xFF, "System peripheral"},
    {0x09, 0x00, "Keyboard controller"}, {0x09, 0x01, "Digitizer Pen"}, {0x09, 0x02, "Mouse controller"},
    {0x09, 0x03, "Scanner controller"}, {0x09, 0x04, "Gameport controller"}, {0x09, 0xFF, "Input device controller"},
    {0x0A, 0xFF, "Docking station"}, {0x0B, 0xFF, "Processor"},
    {0x0C, 0x00, "FireWire (IEEE 1394)"}, {0x0C, 0x01, "ACCESS Bus"}, {0x0C, 0x02, "SSA"},
    {0x0C, 0x03, "USB controller"}, {0x0C, 0x04, "Fibre Channel"}, {0x0C, 0x05, "SMBus"},
    {0x0C, 0x06, "InfiniBand"}, {0x0C, 0x07, "IPMI Interface"}, {0x0C, 0x08, "SERCOS interface"},
    {0x0C, 0x09, "CANBUS"}, {0x0C, 0xFF, "Serial bus controller"},
    {0x0D, 0xFF, "Wireless controller"}, {0x0E, 0xFF, "Intelligent controller"},
    {0x0F, 0xFF, "Satellite communications controller"}, {0x10, 0xFF, "Encryption controller"},
    {0x11, 0xFF, "Signal processing controller"}, {0x12, 0xFF, "Processing accelerators"},
    {0x13, 0xFF, "Non-Essential Instrumentation"}, {0x40, 0xFF, "Coprocessor"}, {0xFF, 0xFF, "Unassigned class"},
};

typedef struct tag_VENDOR_NAME {
    U16 VendorId;
    LPCSTR Name;
} VENDOR_NAME;

static const VENDOR_NAME VendorNames[] = {
    {0x8086, "Intel Corporation"},
    {0x1022, "Advanced Micro Devices, Inc. [AMD]"},
    {0x1002, "Advanced Micro Devices, Inc. [AMD/ATI]"},
    {0x1B36, "Red Hat, Inc."},
    {0x1AF4, "Red Hat, Inc."},
    {0x10DE, "NVIDIA Corporation"},
    {0x144D, "Samsung Electronics Co Ltd"},
    {0x15B7, "Sandisk Corp"},
    {0x1C5C, "SK hynix"},
    {0x1E0F, "KIOXIA Corporation"},
    {0x1987, "Phison Electronics Corporation"},
    {0x126F, "Silicon Motion, Inc."},
    {0x1344, "Micron Technology Inc"},
    {0x2646, "Kingston Technology Company, Inc."},
    {0x1CC1, "ADATA Technology Co., Ltd."},
    {0x1B4B, "Marvell Technology Group Ltd."},
    {0x10EC, "Realtek Semiconductor Co., Ltd."},
    {0x14E4, "Broadcom Inc. and subsidiaries"},
    {0x15AD, "VMware"},
    {0x80EE, "InnoTek Systemberatung GmbH"},
    {0x106B, "Apple Inc."},
    {0x1D97, "Shenzhen Longsys Electronics Co., Ltd."},
    {0x1E4B, "MAXIO Technology (Hangzhou) Ltd."},
};

typedef struct tag_DEVICE_NAME {
    U16 VendorId;
    U16 DeviceId;
    LPCSTR Name;
} DEVICE_NAME;

static const DEVICE_NAME DeviceNames[] = {
    {0x8086, 0x29C0, "82G33/G31/P35/P31 Express DRAM Controller"},
    {0x8086, 0x2918, "82801IB (ICH9) LPC Interface Controller"},
    {0x8086, 0x2922, "82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]"},
    {0x8086, 0x2930, "82801I (ICH9 Family) SMBus Controller"},
    {0x8086, 0x1237, "440FX - 82441FX PMC [Natoma]"},
    {0x8086, 0x7000, "82371SB PIIX3 ISA [Natoma/Triton II]"},
    {0x8086, 0x7010, "82371SB PIIX3 IDE [Natoma/Triton II]"},
    {0x8086, 0x7113, "82371AB/EB/MB PIIX4 ACPI"},
    {0x8086, 0x100E, "82540EM Gigabit Ethernet Controller"},
    {0x8086, 0x10D3, "82574L Gigabit Network Connection"},
    {0x8086, 0x5845, "QEMU NVM Express Controller"},
    {0x8086, 0x201D, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x28C0, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x467F, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x4C3D, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x7D0B, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x9A0B, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0xA77F, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0xAD0B, "Volume Management Device NVMe RAID Controller"},
    {0x8086, 0x2934, "82801I (ICH9 Family) USB UHCI Controller #1"},
    {0x8086, 0x2935, "82801I (ICH9 Family) USB UHCI Controller #2"},
    {0x8086, 0x293A, "82801I (ICH9 Family) USB2 EHCI Controller #1"},
    {0x1B36, 0x0001, "QEMU PCI-PCI bridge"},
    {0x1B36, 0x0005, "QEMU PCI Test Device"},
    {0x1B36, 0x0008, "QEMU PCIe Host bridge"},
    {0x1B36, 0x000B, "QEMU PCIe Expander bridge"},
    {0x1B36, 0x000C, "QEMU PCIe Root port"},
    {0x1B36, 0x000D, "QEMU XHCI Host Controller"},
    {0x1B36, 0x000E, "QEMU PCIe-to-PCI bridge"},
    {0x1B36, 0x0010, "QEMU NVM Express Controller"},
    {0x1AF4, 0x1000, "Virtio network device"},
    {0x1AF4, 0x1001, "Virtio block device"},
    {0x1AF4, 0x1041, "Virtio 1.0 network device"},
    {0x1AF4, 0x1042, "Virtio 1.0 block device"},
};

LPCSTR PCIGetClassName(U8 Class, U8 SubClass, U8 ProgIf) {
    LPCSTR Generic = NULL;
    UNUSED(ProgIf);
    for (U32 I = 0; I < ARRAY_COUNT(ClassNames); I++) {
        if (ClassNames[I].Class != Class) continue;
        if (ClassNames[I].SubClass == SubClass) return ClassNames[I].Name;
        if (ClassNames[I].SubClass == 0xFF) Generic = ClassNames[I].Name;
    }
    // lspci names an unknown subclass (0x80 "other" included) by its class.
    return Generic ? Generic : "Class";
}

LPCSTR PCIGetVendorName(U16 VendorId) {
    for (U32 I = 0; I < ARRAY_COUNT(VendorNames); I++) {
        if (VendorNames[I].VendorId == VendorId) return VendorNames[I].Name;
    }
    return "Vendor";
}

LPCSTR PCIGetDeviceName(U16 VendorId, U16 DeviceId) {
    for (U32 I = 0; I < ARRAY_COUNT(DeviceNames); I++) {
        if (DeviceNames[I].VendorId == VendorId && DeviceNames[I].DeviceId == DeviceId) return DeviceNames[I].Name;
    }
    return "Device";
}

/************************************************************************/
// AER status bits (PCIe Base 6.0, 7.8.4.2 and 7.8.4.5; names as lspci -vv prints them)

static const char* const UncorrectableNames[32] = {
    [4] = "DLP", [5] = "SDES", [12] = "TLP", [13] = "FCP", [14] = "CmpltTO", [15] = "CmpltAbrt",
    [16] = "UnxCmplt", [17] = "RxOF", [18] = "MalfTLP", [19] = "ECRC", [20] = "UnsupReq", [21] = "ACSViol",
    [22] = "UncorrIntErr", [23] = "BlockedTLP", [24] = "AtomicOpBlocked", [25] = "TLPBlockedErr",
    [26] = "PoisonTLPBlocked",
};

static const char* const CorrectableNames[32] = {
    [0] = "RxErr", [6] = "BadTLP", [7] = "BadDLLP", [8] = "Rollover", [12] = "Timeout",
    [13] = "AdvNonFatalErr", [14] = "CorrIntErr", [15] = "HeaderOF",
};

SIZE PCIAERStatusText(BOOL Correctable, U32 Status, LPSTR Buffer, SIZE Size) {
    const char* const* Names = Correctable ? CorrectableNames : UncorrectableNames;
    SIZE Length = 0;
    if (Size == 0) return 0;
    Buffer[0] = 0;
    for (U32 Bit = 0; Bit < 32; Bit++) {
        if (!(Status & (1U << Bit))) continue;
        char Unknown[8];
        LPCSTR Name = Names[Bit];
        if (Name == NULL) {
            StringPrintFormat(Unknown, sizeof(Unknown), "bit%u", Bit);
            Name = Unknown;
        }
        if (Length) StringAppend(Buffer, " ", Size);
        StringAppend(Buffer, Name, Size);
        Length = StringLength(Buffer);
    }
    return Length;
}

/*
 * ShellPCI.c - the `pci` command.
 *
 * `pci` lists every function in the numeric form of `lspci -nn`:
 *   BB:DD.F <class> [CCSS]: <vendor> <device> [VVVV:DDDD] (rev RR)
 * with an SSSS: prefix outside segment 0 (five digits for the domains a VMD
 * provides: 10000:e1:00.0, as Linux names them) and "(rev RR)" only when the
 * revision is not zero, as lspci does. `pci BB:DD.F` (or SSSS:BB:DD.F) and
 * `pci -v` add the BARs with sizes, bridge windows, the capabilities (MSI
 * vectors, MSI-X table size and BIR, PCIe link speed and width), the DMA
 * limit and the bound driver.
 *
 * `drivers` lists each registered PCI driver and the functions it owns,
 * removed ones it still holds included.
 */

#include "shell/ShellCommands.h"
#include "bus/pci/PCI-MSI.h"
#include "bus/pci/PCI.h"
#include "shell/Shell.h"
#include "utils/Format.h"
#include "utils/String.h"

static void PrintSummary(const PCI_DEVICE* D) {
    char Prefix[12] = "";
    char Revision[12] = "";
    if (D->Segment != 0) StringPrintFormat(Prefix, sizeof(Prefix), "%04x:", D->Segment);
    if (D->Revision != 0) StringPrintFormat(Revision, sizeof(Revision), " (rev %02x)", D->Revision);
    LPCSTR Vendor = PCIGetVendorName(D->VendorId);
    LPCSTR Name = PCIGetDeviceName(D->VendorId, D->DeviceId);
    // lspci prints "Device [vvvv:dddd]" alone when the vendor is unknown.
    if (StringCompare(Vendor, "Vendor") == 0 && StringCompare(Name, "Device") == 0) {
        ShellPrint("%s%02x:%02x.%x %s [%02x%02x]: Device [%04x:%04x]%s\n", Prefix, D->Bus, D->Device, D->Function,
                   PCIGetClassName(D->Class, D->SubClass, D->ProgIf), D->Class, D->SubClass, D->VendorId,
                   D->DeviceId, Revision);
        return;
    }
    ShellPrint("%s%02x:%02x.%x %s [%02x%02x]: %s %s [%04x:%04x]%s\n", Prefix, D->Bus, D->Device, D->Function,
               PCIGetClassName(D->Class, D->SubClass, D->ProgIf), D->Class, D->SubClass, Vendor, Name, D->VendorId,
               D->DeviceId, Revision);
}

static LPCSTR LinkSpeedName(U32 Speed) {
    static const char* const Names[] = {"unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"};
    return Speed < ARRAY_COUNT(Names) ? Names[Speed] : "unknown";
}

static LPCSTR PortTypeName(U32 Type) {
    switch (Type) {
        case 0: return "Endpoint";
        case 1: return "Legacy Endpoint";
        case 4: return "Root Port";
        case 5: return "Upstream Port";
        case 6: return "Downstream Port";
        case 7: return "PCI-Express to PCI/PCI-X Bridge";
        case 8: return "PCI/PCI-X to PCI-Express Bridge";
        case 9: return "Root Complex Integrated Endpoint";
        case 10: return "Root Complex Event Collector";
        default: return "Unknown";
    }
}

static void PrintCapability(const PCI_DEVICE* D, U8 Id, U8 Offset, LPVOID Context) {
    UNUSED(Context);
    switch (Id) {
        case PCI_CAP_ID_MSI: {
            PCI_MSI_INFO Msi;
            U16 Control = PCIDeviceRead16(D, Offset + PCI_MSI_CONTROL);
            PCIMSIRead(D, &Msi);
            ShellPrint("\tCapabilities: [%02x] MSI: Enable%c Count=%u/%u Maskable%c 64bit%c\n", Offset,
                       (Control & PCI_MSI_CONTROL_ENABLE) ? '+' : '-', 1U << ((Control >> 4) & 7), Msi.MaxVectors,
                       Msi.PerVectorMask ? '+' : '-', Msi.Is64Bit ? '+' : '-');
            break;
        }
        case PCI_CAP_ID_MSIX: {
            PCI_MSIX_INFO Msix;
            U16 Control = PCIDeviceRead16(D, Offset + PCI_MSIX_CONTROL);
            BOOL Valid = PCIMSIXRead(D, &Msix);
            ShellPrint("\tCapabilities: [%02x] MSI-X: Enable%c Count=%u Masked%c%s\n", Offset,
                       (Control & PCI_MSIX_CONTROL_ENABLE) ? '+' : '-', (Control & PCI_MSIX_CONTROL_TABLE_SIZE) + 1U,
                       (Control & PCI_MSIX_CONTROL_FUNCTION_MASK) ? '+' : '-', Valid ? "" : " (malformed)");
            U32 Table = PCIDeviceRead32(D, Offset + PCI_MSIX_TABLE);
            U32 Pba = PCIDeviceRead32(D, Offset + PCI_MSIX_PBA);
            ShellPrint("\t\tVector table: BAR=%u offset=%08x\n\t\tPBA: BAR=%u offset=%08x\n", Table & 7, Table & ~7U,
                       Pba & 7, Pba & ~7U);
            break;
        }
        case PCI_CAP_ID_PCIE: {
            U16 Capabilities = PCIDeviceRead16(D, Offset + 0x02);
            U32 LinkCapabilities = PCIDeviceRead32(D, Offset + 0x0C);
            U16 LinkStatus = PCIDeviceRead16(D, Offset + 0x12);
            ShellPrint("\tCapabilities: [%02x] Express (v%u) %s\n", Offset, Capabilities & 0xF,
                       PortTypeName((Capabilities >> 4) & 0xF));
            ShellPrint("\t\tLnkCap: Speed %s, Width x%u\n\t\tLnkSta: Speed %s, Width x%u\n",
                       LinkSpeedName(LinkCapabilities & 0xF), (LinkCapabilities >> 4) & 0x3F,
                       LinkSpeedName(LinkStatus & 0xF), (LinkStatus >> 4) & 0x3F);
            break;
        }
        case PCI_CAP_ID_PM:
            ShellPrint("\tCapabilities: [%02x] Power Management version %u\n", Offset,
                       PCIDeviceRead16(D, Offset + 2) & 7);
            break;
        case PCI_CAP_ID_VENDOR:
            ShellPrint("\tCapabilities: [%02x] Vendor Specific Information: Len=%02x\n", Offset,
                       PCIDeviceRead8(D, Offset + 2));
            break;
        default:
            ShellPrint("\tCapabilities: [%02x] ID %02x\n", Offset, Id);
            break;
    }
}

static void PrintExtendedCapability(const PCI_DEVICE* D, U16 Id, U8 Version, U16 Offset, LPVOID Context) {
    UNUSED(D);
    UNUSED(Context);
    ShellPrint("\tCapabilities: [%03x] Extended ID %04x v%u\n", Offset, Id, Version);
}

static void PrintDetails(const PCI_DEVICE* D) {
    PrintSummary(D);
    if (D->SubsystemVendorId != 0 || D->SubsystemId != 0) {
        ShellPrint("\tSubsystem: [%04x:%04x]\n", D->SubsystemVendorId, D->SubsystemId);
    }
    U16 Command = PCIReadCommand(D);
    ShellPrint("\tControl: I/O%c Mem%c BusMaster%c DisINTx%c\n", (Command & PCI_COMMAND_IO) ? '+' : '-',
               (Command & PCI_COMMAND_MEMORY) ? '+' : '-', (Command & PCI_COMMAND_BUS_MASTER) ? '+' : '-',
               (Command & PCI_COMMAND_INTX_DISABLE) ? '+' : '-');
    if (D->InterruptPin >= 1 && D->InterruptPin <= 4) {
        ShellPrint("\tInterrupt: pin %c routed to IRQ %u\n", 'A' + D->InterruptPin - 1, D->InterruptLine);
    }
    if (D->HeaderType == PCI_HEADER_BRIDGE) {
        ShellPrint("\tBus: primary=%02x, secondary=%02x, subordinate=%02x%s\n", D->Bus, D->SecondaryBus,
                   D->SubordinateBus, D->BusNumbersAssigned ? " (numbered by Cairn)" : "");
        for (U32 I = 0; I < 2; I++) {
            const PCI_BAR* W = &D->Windows[I];
            LPCSTR Kind = I ? "Prefetchable memory" : "Memory";
            if (W->Size) ShellPrint("\t%s behind bridge: %08llx-%08llx (assigned by Cairn)\n", Kind, W->Base,
                                    W->Base + W->Size - 1);
        }
    }
    if (D->DmaAddressBits) ShellPrint("\tDMA: addresses below 2^%u\n", D->DmaAddressBits);
    if (D->ResourcesMissing) ShellPrint("\tResources: a BAR found no room in the segment's windows (memory off)\n");
    for (U32 I = 0; I < PCI_BAR_COUNT; I++) {
        const PCI_BAR* Bar = &D->Bars[I];
        char Size[16];
        if (Bar->Type == PCI_BAR_NONE) continue;
        FormatByteSize(Size, sizeof(Size), Bar->Size, FORMAT_SIZE_EXACT | FORMAT_SIZE_COMPACT);
        if (Bar->Type == PCI_BAR_IO) {
            ShellPrint("\tRegion %u: I/O ports at %04llx [size=%s]\n", I, Bar->Base, Size);
        } else {
            ShellPrint("\tRegion %u: Memory at %08llx (%s, %s) [size=%s]\n", I, Bar->Base,
                       Bar->Type == PCI_BAR_MEMORY64 ? "64-bit" : "32-bit",
                       Bar->Prefetchable ? "prefetchable" : "non-prefetchable", Size);
        }
    }
    PCIWalkCapabilities(D, PrintCapability, NULL);
    PCIWalkExtendedCapabilities(D, PrintExtendedCapability, NULL);
    if (D->CapabilityListBroken) ShellPrint("\tCapabilities: list is broken (loop or bad pointer)\n");
    ShellPrint("\tKernel driver in use: %s\n", D->Driver ? D->Driver->Name : "(none)");
}

/** Parses [SSSS:]BB:DD.F (segments of a VMD's domain have five digits). */
static BOOL ParseAddress(LPCSTR Text, U32* Segment, U8* Bus, U8* Device, U8* Function) {
    char Parts[4][12];
    U32 Count = 0, Length = 0;
    for (LPCSTR P = Text;; P++) {
        if (*P == ':' || *P == '.' || *P == 0) {
            if (Count >= 4 || Length == 0) return FALSE;
            Parts[Count][Length] = 0;
            Count++;
            Length = 0;
            if (*P == 0) break;
            continue;
        }
        if (Length >= 11) return FALSE;
        Parts[Count][Length++] = *P;
    }
    if (Count != 3 && Count != 4) return FALSE;
    U32 First = Count - 3;
    U64 Values[4] = {0, 0, 0, 0};
    for (U32 I = 0; I < Count; I++) {
        if (!StringToU64Base(Parts[I], 16, &Values[I])) return FALSE;
    }
    if ((Count == 4 && Values[0] > 0xFFFFFFFFULL) || Values[First] > 0xFF || Values[First + 1] > 0x1F ||
        Values[First + 2] > 7) {
        return FALSE;
    }
    *Segment = Count == 4 ? (U32)Values[0] : 0;
    *Bus = (U8)Values[First];
    *Device = (U8)Values[First + 1];
    *Function = (U8)Values[First + 2];
    return TRUE;
}

static I32 CommandPCI(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount == 1) {
        for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) PrintSummary(D);
        if (PCIGetFirstDevice() == NULL) ShellPrint("No PCI devices found\n");
        return 0;
    }
    if (ArgumentCount == 2 && StringCompare(Arguments[1], "-v") == 0) {
        for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
            PrintDetails(D);
            ShellPrint("\n");
        }
        return 0;
    }
    if (ArgumentCount == 2) {
        U32 Segment;
        U8 Bus, Device, Function;
        if (!ParseAddress(Arguments[1], &Segment, &Bus, &Device, &Function)) {
            ShellError("pci", "bad address '%s' (use BB:DD.F or SSSS:BB:DD.F)", Arguments[1]);
            return -1;
        }
        PCI_DEVICE* D = PCIFindDevice(Segment, Bus, Device, Function);
        if (D == NULL) {
            ShellError("pci", "no device at %s", Arguments[1]);
            return -1;
        }
        PrintDetails(D);
        return 0;
    }
    ShellError("pci", "usage: pci [-v | BB:DD.F]");
    return -1;
}

static const SHELL_COMMAND PCICommand = {"pci", "[-v | [SSSS:]BB:DD.F]", "List PCI functions, or show one in detail",
                                         CommandPCI};

/************************************************************************/
// drivers

static void PrintOwned(const PCI_DEVICE* D, BOOL First, LPCSTR Driver, LPCSTR Note) {
    ShellPrint("%-8s %04x:%02x:%02x.%x [%04x:%04x] %s%s\n", First ? Driver : "", D->Segment, D->Bus, D->Device,
               D->Function, D->VendorId, D->DeviceId, PCIGetClassName(D->Class, D->SubClass, D->ProgIf), Note);
}

static I32 CommandDrivers(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("drivers", "usage: drivers");
        return 1;
    }
    for (const PCI_DRIVER* Driver = PCIGetFirstDriver(); Driver; Driver = Driver->Next) {
        U32 Owned = 0;
        for (const PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
            if (D->Driver == Driver) PrintOwned(D, Owned++ == 0, Driver->Name, "");
        }
        for (const PCI_DEVICE* D = PCIGetFirstRemovedDevice(); D; D = D->Next) {
            if (D->Driver == Driver) PrintOwned(D, Owned++ == 0, Driver->Name, " (removed, still held)");
        }
        if (Owned == 0) ShellPrint("%-8s (no device)\n", Driver->Name);
    }
    U32 Unbound = 0;
    for (const PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) Unbound += D->Driver == NULL;
    ShellPrint("%u function(s) without a driver\n", Unbound);
    return 0;
}

static const SHELL_COMMAND DriversCommand = {"drivers", "", "List the PCI drivers and the functions each owns",
                                             CommandDrivers};

void ShellRegisterPCICommands(void) {
    ShellRegisterCommand(&PCICommand);
    ShellRegisterCommand(&DriversCommand);
}

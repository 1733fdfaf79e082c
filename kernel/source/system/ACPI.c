/*
 * ACPI.c - finds the ACPI tables, keeps what the kernel needs, and drives
 * the fixed-hardware power off and reset registers.
 *
 * Tables are copied into the heap once at boot, after their checksum is
 * checked, so later users never touch firmware memory. Register accesses
 * follow the FADT's Generic Address Structures (I/O or memory space).
 */

#include "system/ACPI.h"

#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "memory/Heap.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "system/Clock.h"
#include "utils/String.h"

#define PM1_SCI_EN 0x0001
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7U << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN 0x2000
#define ACPI_ENABLE_TIMEOUT_MS 3000
#define ACPI_MAX_TABLE_SIZE (4U * 1024 * 1024)

static BOOL Available;
static ACPI_RSDP_INFO Rsdp;
static ACPI_MADT_INFO* Madt;
static ACPI_MCFG_INFO* Mcfg;
static ACPI_FADT_INFO* Fadt;
static BOOL HaveS5;
static U8 S5TypeA, S5TypeB;
static ACPI_TABLE_ENTRY Tables[ACPI_MAX_TABLES];
static U32 TableCount;

BOOL ACPIReadPhysical(PHYSICAL Address, LPVOID Buffer, U32 Size) {
    if (Size == 0) return TRUE;
    if (Address + Size < Address) return FALSE;
    // RAM regions are direct mapped (write-back); use that so we never alias them uncached.
    PHYSICAL Translated;
    LINEAR Direct = (LINEAR)PhysicalToLinear(Address);
    LINEAR DirectLast = (LINEAR)PhysicalToLinear(Address + Size - 1);
    if (PagingTranslate(Direct, &Translated) && Translated == Address && PagingTranslate(DirectLast, &Translated) &&
        Translated == Address + Size - 1) {
        MemoryCopy(Buffer, (LPCVOID)Direct, Size);
        return TRUE;
    }
    LINEAR Mapped = MapIOMemory(Address, Size);
    if (Mapped == 0) return FALSE;
    // Byte copies from a device-style mapping: nothing larger than the table is touched.
    const volatile U8* Source = (const volatile U8*)Mapped;
    U8* Destination = (U8*)Buffer;
    for (U32 I = 0; I < Size; I++) Destination[I] = Source[I];
    UnmapIOMemory(Mapped, Size);
    return TRUE;
}

/** Copies a whole table into the heap after checking its header and checksum. */
static U8* CopyTable(PHYSICAL Address, LPCSTR Signature, U32* LengthOut) {
    ACPI_TABLE_HEADER Header;
    if (Address == 0 || !ACPIReadPhysical(Address, &Header, sizeof(Header))) return NULL;
    if (Signature && MemoryCompare(Header.Signature, Signature, 4) != 0) return NULL;
    if (Header.Length < ACPI_HEADER_SIZE || Header.Length > ACPI_MAX_TABLE_SIZE) return NULL;
    U8* Copy = (U8*)KernelHeapAlloc(Header.Length);
    if (Copy == NULL) return NULL;
    if (!ACPIReadPhysical(Address, Copy, Header.Length) || !ACPIChecksumValid(Copy, Header.Length)) {
        KernelHeapFree(Copy);
        return NULL;
    }
    *LengthOut = Header.Length;
    return Copy;
}

static BOOL ScanForRSDP(PHYSICAL Start, U32 Length) {
    U8 Window[36];
    for (U32 Offset = 0; Offset + 20 <= Length; Offset += 16) {
        if (!ACPIReadPhysical(Start + Offset, Window, 8)) return FALSE;
        if (MemoryCompare(Window, "RSD PTR ", 8) != 0) continue;
        U32 Available36 = Length - Offset >= 36 ? 36 : 20;
        if (!ACPIReadPhysical(Start + Offset, Window, Available36)) return FALSE;
        if (ACPIParseRSDP(Window, Available36, &Rsdp)) return TRUE;
    }
    return FALSE;
}

static BOOL FindRSDP(void) {
    if (KernelBootInfo.HasRSDPv2 && ACPIParseRSDP(KernelBootInfo.RSDPv2, sizeof(KernelBootInfo.RSDPv2), &Rsdp)) {
        return TRUE;
    }
    if (KernelBootInfo.HasRSDPv1 && ACPIParseRSDP(KernelBootInfo.RSDPv1, sizeof(KernelBootInfo.RSDPv1), &Rsdp)) {
        return TRUE;
    }
    if (KernelBootInfo.BootedFromEFI) return FALSE;  // no BIOS areas to search under UEFI
    U16 EbdaSegment = 0;
    if (ACPIReadPhysical(0x40E, &EbdaSegment, sizeof(EbdaSegment)) && EbdaSegment != 0) {
        if (ScanForRSDP((PHYSICAL)EbdaSegment << 4, 1024)) return TRUE;
    }
    return ScanForRSDP(0xE0000, 0x20000);
}

static void LoadTable(const ACPI_TABLE_ENTRY* Entry) {
    U32 Length = 0;
    U8* Copy;
    if (MemoryCompare(Entry->Signature, "APIC", 4) == 0 && Madt == NULL) {
        if ((Copy = CopyTable(Entry->Address, "APIC", &Length)) == NULL) return;
        Madt = (ACPI_MADT_INFO*)KernelHeapAlloc(sizeof(ACPI_MADT_INFO));
        if (Madt && !ACPIParseMADT(Copy, Length, Madt)) {
            WARNING("[ACPIInit] MADT is malformed: using default interrupt controllers");
            KernelHeapFree(Madt);
            Madt = NULL;
        }
        KernelHeapFree(Copy);
    } else if (MemoryCompare(Entry->Signature, "MCFG", 4) == 0 && Mcfg == NULL) {
        if ((Copy = CopyTable(Entry->Address, "MCFG", &Length)) == NULL) return;
        Mcfg = (ACPI_MCFG_INFO*)KernelHeapAlloc(sizeof(ACPI_MCFG_INFO));
        if (Mcfg && !ACPIParseMCFG(Copy, Length, Mcfg)) {
            WARNING("[ACPIInit] MCFG has no usable segment: PCI uses configuration ports");
            KernelHeapFree(Mcfg);
            Mcfg = NULL;
        }
        KernelHeapFree(Copy);
    } else if (MemoryCompare(Entry->Signature, "FACP", 4) == 0 && Fadt == NULL) {
        if ((Copy = CopyTable(Entry->Address, "FACP", &Length)) == NULL) return;
        Fadt = (ACPI_FADT_INFO*)KernelHeapAlloc(sizeof(ACPI_FADT_INFO));
        if (Fadt && !ACPIParseFADT(Copy, Length, Fadt)) {
            WARNING("[ACPIInit] FADT is malformed: power off and reset use fallbacks");
            KernelHeapFree(Fadt);
            Fadt = NULL;
        }
        KernelHeapFree(Copy);
    }
}

static void FindS5(void) {
    U32 Length = 0;
    if (Fadt == NULL || Fadt->Dsdt == 0) return;
    U8* Dsdt = CopyTable(Fadt->Dsdt, "DSDT", &Length);
    if (Dsdt == NULL) {
        WARNING("[ACPIInit] DSDT unreadable or corrupt: no S5 sleep type");
        return;
    }
    HaveS5 = ACPIFindS5(Dsdt, Length, &S5TypeA, &S5TypeB);
    KernelHeapFree(Dsdt);
    if (!HaveS5) WARNING("[ACPIInit] no \\_S5 object in the DSDT");
}

BOOL ACPIInit(void) {
    if (!FindRSDP()) {
        WARNING("[ACPIInit] no ACPI RSDP found: using legacy defaults");
        return FALSE;
    }

    BOOL UseXsdt = Rsdp.Xsdt != 0;
    U32 RootLength = 0;
    U8* Root = CopyTable(UseXsdt ? Rsdp.Xsdt : Rsdp.Rsdt, UseXsdt ? "XSDT" : "RSDT", &RootLength);
    if (Root == NULL && UseXsdt && Rsdp.Rsdt != 0) {
        UseXsdt = FALSE;
        Root = CopyTable(Rsdp.Rsdt, "RSDT", &RootLength);
    }
    if (Root == NULL) {
        WARNING("[ACPIInit] root table (RSDT/XSDT) missing or corrupt: using legacy defaults");
        return FALSE;
    }

    PHYSICAL Addresses[ACPI_MAX_TABLES];
    U32 Count = ACPIParseRootTable(Root, RootLength, UseXsdt, Addresses, ACPI_MAX_TABLES);
    KernelHeapFree(Root);

    for (U32 I = 0; I < Count; I++) {
        ACPI_TABLE_HEADER Header;
        if (!ACPIReadPhysical(Addresses[I], &Header, sizeof(Header))) continue;
        ACPI_TABLE_ENTRY* Entry = &Tables[TableCount++];
        MemoryCopy(Entry->Signature, Header.Signature, 4);
        Entry->Signature[4] = 0;
        Entry->Address = Addresses[I];
        Entry->Length = Header.Length;
        Entry->Revision = Header.Revision;
        Entry->ChecksumValid = FALSE;
        U32 Length = 0;
        U8* Copy = CopyTable(Addresses[I], NULL, &Length);
        if (Copy) {
            Entry->ChecksumValid = TRUE;
            KernelHeapFree(Copy);
        }
        if (!Entry->ChecksumValid) {
            WARNING("[ACPIInit] table %s at %llx is corrupt: ignored", Entry->Signature, Entry->Address);
            continue;
        }
        LoadTable(Entry);
    }
    FindS5();
    Available = TRUE;

    INFO("[ACPIInit] ACPI %s (%s), %u tables; MADT %s (%u CPUs, %u IOAPICs), MCFG %s, FADT %s, S5 %s",
         Rsdp.Revision >= 2 ? "2.0+" : "1.0", Rsdp.OemId, TableCount, Madt ? "yes" : "no",
         Madt ? Madt->LapicCount : 0, Madt ? Madt->IoApicCount : 0, Mcfg ? "yes" : "no", Fadt ? "yes" : "no",
         HaveS5 ? "yes" : "no");
    return TRUE;
}

BOOL ACPIIsAvailable(void) { return Available; }
const ACPI_RSDP_INFO* ACPIGetRSDP(void) { return Available ? &Rsdp : NULL; }
const ACPI_MADT_INFO* ACPIGetMADT(void) { return Madt; }
const ACPI_MCFG_INFO* ACPIGetMCFG(void) { return Mcfg; }
const ACPI_FADT_INFO* ACPIGetFADT(void) { return Fadt; }

U32 ACPIGetTableList(const ACPI_TABLE_ENTRY** List) {
    *List = Tables;
    return TableCount;
}

BOOL ACPIGetS5(U8* SleepTypeA, U8* SleepTypeB) {
    if (!HaveS5) return FALSE;
    *SleepTypeA = S5TypeA;
    *SleepTypeB = S5TypeB;
    return TRUE;
}

/************************************************************************/
// Fixed hardware registers

static U32 ReadRegister(const ACPI_ADDRESS* Register) {
    U32 Width = Register->BitWidth ? Register->BitWidth : 16;
    if (Register->AddressSpace == ACPI_SPACE_IO) {
        U16 Port = (U16)Register->Address;
        if (Width <= 8) return InPortByte(Port);
        if (Width <= 16) return InPortWord(Port);
        return InPortLong(Port);
    }
    if (Register->AddressSpace == ACPI_SPACE_MEMORY) {
        LINEAR Mapped = MapIOMemory(Register->Address, 4);
        if (Mapped == 0) return 0;
        U32 Value = Width <= 8 ? *(volatile U8*)Mapped : (Width <= 16 ? *(volatile U16*)Mapped : *(volatile U32*)Mapped);
        UnmapIOMemory(Mapped, 4);
        return Value;
    }
    return 0;
}

static void WriteRegister(const ACPI_ADDRESS* Register, U32 Value) {
    U32 Width = Register->BitWidth ? Register->BitWidth : 16;
    if (Register->Address == 0) return;
    if (Register->AddressSpace == ACPI_SPACE_IO) {
        U16 Port = (U16)Register->Address;
        if (Width <= 8) OutPortByte(Port, (U8)Value);
        else if (Width <= 16) OutPortWord(Port, (U16)Value);
        else OutPortLong(Port, Value);
    } else if (Register->AddressSpace == ACPI_SPACE_MEMORY) {
        LINEAR Mapped = MapIOMemory(Register->Address, 4);
        if (Mapped == 0) return;
        if (Width <= 8) *(volatile U8*)Mapped = (U8)Value;
        else if (Width <= 16) *(volatile U16*)Mapped = (U16)Value;
        else *(volatile U32*)Mapped = Value;
        UnmapIOMemory(Mapped, 4);
    }
}

/** Switches the chipset from legacy (SMM) to ACPI mode when firmware has not. */
static BOOL EnableACPIMode(void) {
    if (Fadt->HardwareReduced) return TRUE;
    if (ReadRegister(&Fadt->Pm1aControl) & PM1_SCI_EN) return TRUE;
    if (Fadt->SmiCommandPort == 0 || Fadt->AcpiEnableValue == 0) return TRUE;  // always in ACPI mode
    OutPortByte((U16)Fadt->SmiCommandPort, Fadt->AcpiEnableValue);
    U64 Deadline = GetSystemTimeMs() + ACPI_ENABLE_TIMEOUT_MS;
    while (GetSystemTimeMs() < Deadline) {
        if (ReadRegister(&Fadt->Pm1aControl) & PM1_SCI_EN) return TRUE;
        ClockDelayUs(1000);
    }
    return FALSE;
}

BOOL ACPIPowerOff(void) {
    if (Fadt == NULL || !HaveS5 || Fadt->Pm1aControl.Address == 0) return FALSE;
    if (!EnableACPIMode()) WARNING("[ACPIPowerOff] chipset did not enter ACPI mode; trying anyway");

    DisableInterrupts();
    U32 Control = ReadRegister(&Fadt->Pm1aControl) & ~(PM1_SLP_TYP_MASK | PM1_SLP_EN);
    WriteRegister(&Fadt->Pm1aControl, Control | ((U32)S5TypeA << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
    if (Fadt->Pm1bControl.Address != 0) {
        Control = ReadRegister(&Fadt->Pm1bControl) & ~(PM1_SLP_TYP_MASK | PM1_SLP_EN);
        WriteRegister(&Fadt->Pm1bControl, Control | ((U32)S5TypeB << PM1_SLP_TYP_SHIFT) | PM1_SLP_EN);
    }
    ClockDelayUs(500000);
    return FALSE;
}

BOOL ACPIReset(void) {
    if (Fadt == NULL || !Fadt->ResetSupported) return FALSE;
    const ACPI_ADDRESS* Reset = &Fadt->ResetRegister;
    if (Reset->AddressSpace == ACPI_SPACE_IO || Reset->AddressSpace == ACPI_SPACE_MEMORY) {
        ACPI_ADDRESS Byte = *Reset;
        Byte.BitWidth = 8;  // the reset register is one byte wide (ACPI 4.8.3.6)
        WriteRegister(&Byte, Fadt->ResetValue);
    } else if (Reset->AddressSpace == ACPI_SPACE_PCI_CONFIG) {
        // Bus 0; device in bits 32-47, function in 16-31, offset in 0-15 (ACPI 5.2.3.2).
        U32 Device = (U32)(Reset->Address >> 32) & 0x1F;
        U32 Function = (U32)(Reset->Address >> 16) & 0x7;
        U32 Offset = (U32)Reset->Address & 0xFF;
        OutPortLong(0xCF8, 0x80000000U | (Device << 11) | (Function << 8) | (Offset & 0xFC));
        OutPortByte((U16)(0xCFC + (Offset & 3)), Fadt->ResetValue);
    } else {
        return FALSE;
    }
    ClockDelayUs(500000);
    return FALSE;
}

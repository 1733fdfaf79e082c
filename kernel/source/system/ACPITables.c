/*
 * ACPITables.c - ACPI table parsers (see ACPITables.h).
 *
 * Every read goes through the Read* helpers with an explicit offset checked
 * against the length, so the parsers are safe on truncated input. Offsets
 * are the ACPI 6.5 specification's; the FADT fields used are present from
 * revision 1 (32-bit blocks) and the extended (X_) ones are preferred when
 * the table is long enough to hold them and they are non-zero.
 */

#include "system/ACPITables.h"

#include "utils/Endian.h"
#include "utils/String.h"

static U8 Read8(const U8* B, U32 Offset) { return B[Offset]; }

BOOL ACPIChecksumValid(const U8* Bytes, U32 Length) {
    U8 Sum = 0;
    for (U32 I = 0; I < Length; I++) Sum = (U8)(Sum + Bytes[I]);
    return Sum == 0;
}

BOOL ACPIValidateTable(const U8* Bytes, U32 Available, LPCSTR Signature) {
    if (Bytes == NULL || Available < ACPI_HEADER_SIZE) return FALSE;
    if (Signature != NULL && MemoryCompare(Bytes, Signature, 4) != 0) return FALSE;
    U32 Length = ReadLE32(Bytes + 4);
    if (Length < ACPI_HEADER_SIZE || Length > Available) return FALSE;
    return ACPIChecksumValid(Bytes, Length);
}

BOOL ACPIParseRSDP(const U8* Bytes, U32 Length, ACPI_RSDP_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    if (Bytes == NULL || Length < 20) return FALSE;
    if (MemoryCompare(Bytes, "RSD PTR ", 8) != 0) return FALSE;
    if (!ACPIChecksumValid(Bytes, 20)) return FALSE;
    Info->Revision = Read8(Bytes, 15);
    MemoryCopy(Info->OemId, Bytes + 9, 6);
    Info->OemId[6] = 0;
    Info->Rsdt = ReadLE32(Bytes + 16);
    if (Info->Revision >= 2 && Length >= 36) {
        U32 FullLength = ReadLE32(Bytes + 20);
        if (FullLength >= 36 && FullLength <= Length && ACPIChecksumValid(Bytes, FullLength)) {
            Info->Xsdt = ReadLE64(Bytes + 24);
        }
    }
    return Info->Rsdt != 0 || Info->Xsdt != 0;
}

U32 ACPIParseRootTable(const U8* Bytes, U32 Length, BOOL IsXsdt, PHYSICAL* Entries, U32 MaxEntries) {
    if (!ACPIValidateTable(Bytes, Length, IsXsdt ? "XSDT" : "RSDT")) return 0;
    U32 TableLength = ReadLE32(Bytes + 4);
    U32 EntrySize = IsXsdt ? 8 : 4;
    U32 Count = 0;
    for (U32 Offset = ACPI_HEADER_SIZE; Offset + EntrySize <= TableLength && Count < MaxEntries; Offset += EntrySize) {
        PHYSICAL Address = IsXsdt ? ReadLE64(Bytes + Offset) : ReadLE32(Bytes + Offset);
        if (Address != 0) Entries[Count++] = Address;
    }
    return Count;
}

BOOL ACPIParseMADT(const U8* Bytes, U32 Length, ACPI_MADT_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    if (!ACPIValidateTable(Bytes, Length, "APIC")) return FALSE;
    U32 TableLength = ReadLE32(Bytes + 4);
    if (TableLength < 44) return FALSE;
    Info->Revision = Read8(Bytes, 8);
    Info->LocalApicAddress = ReadLE32(Bytes + 36);
    Info->HasLegacyPICs = (ReadLE32(Bytes + 40) & 1) != 0;

    for (U32 Offset = 44; Offset + 2 <= TableLength;) {
        U8 Type = Read8(Bytes, Offset);
        U8 EntryLength = Read8(Bytes, Offset + 1);
        if (EntryLength < 2 || Offset + EntryLength > TableLength) return FALSE;
        const U8* E = Bytes + Offset;
        switch (Type) {
            case 0:  // Processor Local APIC
                if (EntryLength >= 8 && Info->LapicCount < ACPI_MAX_LAPICS) {
                    ACPI_LAPIC_ENTRY* L = &Info->Lapics[Info->LapicCount++];
                    U32 Flags = ReadLE32(E + 4);
                    L->ProcessorUid = Read8(E, 2);
                    L->ApicId = Read8(E, 3);
                    L->Enabled = (Flags & 1) != 0;
                    L->OnlineCapable = (Flags & 2) != 0;
                } else {
                    Info->SkippedEntries++;
                }
                break;
            case 1:  // I/O APIC
                if (EntryLength >= 12 && Info->IoApicCount < ACPI_MAX_IOAPICS) {
                    ACPI_IOAPIC_ENTRY* A = &Info->IoApics[Info->IoApicCount++];
                    A->Id = Read8(E, 2);
                    A->Address = ReadLE32(E + 4);
                    A->GsiBase = ReadLE32(E + 8);
                } else {
                    Info->SkippedEntries++;
                }
                break;
            case 2:  // Interrupt Source Override
                if (EntryLength >= 10 && Info->OverrideCount < ACPI_MAX_OVERRIDES) {
                    ACPI_OVERRIDE_ENTRY* O = &Info->Overrides[Info->OverrideCount++];
                    O->Bus = Read8(E, 2);
                    O->SourceIrq = Read8(E, 3);
                    O->Gsi = ReadLE32(E + 4);
                    O->Flags = ReadLE16(E + 8);
                } else {
                    Info->SkippedEntries++;
                }
                break;
            case 5:  // Local APIC Address Override
                if (EntryLength >= 12) Info->LocalApicAddress = ReadLE64(E + 4);
                break;
            case 9:  // Processor Local x2APIC
                if (EntryLength >= 16 && Info->LapicCount < ACPI_MAX_LAPICS) {
                    ACPI_LAPIC_ENTRY* L = &Info->Lapics[Info->LapicCount++];
                    U32 Flags = ReadLE32(E + 8);
                    L->ApicId = ReadLE32(E + 4);
                    L->ProcessorUid = ReadLE32(E + 12);
                    L->Enabled = (Flags & 1) != 0;
                    L->OnlineCapable = (Flags & 2) != 0;
                } else {
                    Info->SkippedEntries++;
                }
                break;
            default:
                break;
        }
        Offset += EntryLength;
    }
    return TRUE;
}

#define ACPI_MADT_ONLINE_CAPABLE_REVISION 5
#define ACPI_XAPIC_MAX_ID 0xFE  // 0xFF is the xAPIC broadcast ID

static ACPI_PROCESSOR_KIND ClassifyProcessor(const ACPI_MADT_INFO* Info, U32 Index, U32 BootApicId) {
    const ACPI_LAPIC_ENTRY* Entry = &Info->Lapics[Index];
    for (U32 Earlier = 0; Earlier < Index; Earlier++) {
        if (Info->Lapics[Earlier].ApicId == Entry->ApicId) return ACPI_PROCESSOR_DUPLICATE;
    }
    if (Entry->ApicId == BootApicId) return ACPI_PROCESSOR_BOOT;
    if (!Entry->Enabled) {
        BOOL Capable = Entry->OnlineCapable && Info->Revision >= ACPI_MADT_ONLINE_CAPABLE_REVISION;
        return Capable ? ACPI_PROCESSOR_HOTPLUG : ACPI_PROCESSOR_DISABLED;
    }
    if (Entry->ApicId > ACPI_XAPIC_MAX_ID) return ACPI_PROCESSOR_UNREACHABLE;
    return ACPI_PROCESSOR_START;
}

U32 ACPIListProcessors(const ACPI_MADT_INFO* Info, U32 BootApicId, ACPI_PROCESSOR* List, U32 Max) {
    if (Info == NULL || List == NULL) return 0;
    U32 Count = 0;
    for (U32 Index = 0; Index < Info->LapicCount && Index < ACPI_MAX_LAPICS && Count < Max; Index++) {
        List[Count].ApicId = Info->Lapics[Index].ApicId;
        List[Count].ProcessorUid = Info->Lapics[Index].ProcessorUid;
        List[Count].Kind = ClassifyProcessor(Info, Index, BootApicId);
        Count++;
    }
    return Count;
}

LPCSTR ACPIProcessorKindName(ACPI_PROCESSOR_KIND Kind) {
    switch (Kind) {
        case ACPI_PROCESSOR_START: return "start";
        case ACPI_PROCESSOR_BOOT: return "boot";
        case ACPI_PROCESSOR_HOTPLUG: return "hotplug";
        case ACPI_PROCESSOR_DISABLED: return "disabled";
        case ACPI_PROCESSOR_DUPLICATE: return "duplicate";
        case ACPI_PROCESSOR_UNREACHABLE: return "x2apic";
        default: return "?";
    }
}

BOOL ACPIParseMCFG(const U8* Bytes, U32 Length, ACPI_MCFG_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    if (!ACPIValidateTable(Bytes, Length, "MCFG")) return FALSE;
    U32 TableLength = ReadLE32(Bytes + 4);
    for (U32 Offset = 44; Offset + 16 <= TableLength; Offset += 16) {
        if (Info->SegmentCount >= ACPI_MAX_MCFG_SEGMENTS) break;
        ACPI_MCFG_SEGMENT Segment;
        Segment.Base = ReadLE64(Bytes + Offset);
        Segment.Segment = ReadLE16(Bytes + Offset + 8);
        Segment.StartBus = Read8(Bytes, Offset + 10);
        Segment.EndBus = Read8(Bytes, Offset + 11);
        // An entry with no base or an inverted bus range cannot be used.
        if (Segment.Base == 0 || Segment.EndBus < Segment.StartBus) continue;
        Info->Segments[Info->SegmentCount++] = Segment;
    }
    return Info->SegmentCount != 0;
}

static void ReadAddress(const U8* Bytes, U32 Offset, ACPI_ADDRESS* Address) {
    Address->AddressSpace = Read8(Bytes, Offset);
    Address->BitWidth = Read8(Bytes, Offset + 1);
    Address->BitOffset = Read8(Bytes, Offset + 2);
    Address->AccessSize = Read8(Bytes, Offset + 3);
    Address->Address = ReadLE64(Bytes + Offset + 4);
}

static void LegacyBlock(ACPI_ADDRESS* Address, U32 Port, U8 Length) {
    MemorySet(Address, 0, sizeof(*Address));
    if (Port == 0) return;
    Address->AddressSpace = ACPI_SPACE_IO;
    Address->BitWidth = (U8)(Length * 8);
    Address->Address = Port;
}

BOOL ACPIParseFADT(const U8* Bytes, U32 Length, ACPI_FADT_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    if (!ACPIValidateTable(Bytes, Length, "FACP")) return FALSE;
    U32 TableLength = ReadLE32(Bytes + 4);
    if (TableLength < 116) return FALSE;  // ACPI 1.0 FADT is 116 bytes

    Info->Revision = Read8(Bytes, 8);
    Info->Dsdt = ReadLE32(Bytes + 40);
    Info->SciInterrupt = ReadLE16(Bytes + 46);
    Info->SmiCommandPort = ReadLE32(Bytes + 48);
    Info->AcpiEnableValue = Read8(Bytes, 52);
    Info->AcpiDisableValue = Read8(Bytes, 53);
    Info->Pm1EventLength = Read8(Bytes, 88);
    Info->Pm1ControlLength = Read8(Bytes, 89);
    LegacyBlock(&Info->Pm1aEvent, ReadLE32(Bytes + 56), Info->Pm1EventLength);
    LegacyBlock(&Info->Pm1bEvent, ReadLE32(Bytes + 60), Info->Pm1EventLength);
    LegacyBlock(&Info->Pm1aControl, ReadLE32(Bytes + 64), Info->Pm1ControlLength);
    LegacyBlock(&Info->Pm1bControl, ReadLE32(Bytes + 68), Info->Pm1ControlLength);
    Info->BootArchitectureFlags = ReadLE16(Bytes + 109);
    Info->Flags = ReadLE32(Bytes + 112);
    Info->HardwareReduced = (Info->Flags & ACPI_FADT_FLAG_HW_REDUCED) != 0;

    if (TableLength >= 129) {
        ReadAddress(Bytes, 116, &Info->ResetRegister);
        Info->ResetValue = Read8(Bytes, 128);
        Info->ResetSupported = (Info->Flags & ACPI_FADT_FLAG_RESET_REG_SUP) != 0 && Info->ResetRegister.Address != 0;
    }
    if (TableLength >= 148) {
        U64 XDsdt = ReadLE64(Bytes + 140);
        if (XDsdt != 0) Info->Dsdt = XDsdt;
    }
    // Extended PM1 blocks: use them only when they name a real address.
    const U32 ExtendedOffsets[4] = {148, 160, 172, 184};
    ACPI_ADDRESS* Targets[4] = {&Info->Pm1aEvent, &Info->Pm1bEvent, &Info->Pm1aControl, &Info->Pm1bControl};
    for (U32 I = 0; I < 4; I++) {
        if (TableLength < ExtendedOffsets[I] + 12) break;
        ACPI_ADDRESS Extended;
        ReadAddress(Bytes, ExtendedOffsets[I], &Extended);
        if (Extended.Address != 0 &&
            (Extended.AddressSpace == ACPI_SPACE_IO || Extended.AddressSpace == ACPI_SPACE_MEMORY)) {
            *Targets[I] = Extended;
        }
    }
    return TRUE;
}

/* AML integer encodings that appear in the \_S5 package (ACPI 20.2.3). */
static BOOL ReadAmlInteger(const U8* Bytes, U32 Length, U32* Offset, U8* Value) {
    if (*Offset >= Length) return FALSE;
    U8 Op = Bytes[*Offset];
    if (Op == 0x00 || Op == 0x01) {  // ZeroOp, OneOp
        *Value = Op;
        *Offset += 1;
        return TRUE;
    }
    if (Op == 0xFF) {  // OnesOp
        *Value = 0xFF;
        *Offset += 1;
        return TRUE;
    }
    if (Op == 0x0A && *Offset + 1 < Length) {  // BytePrefix
        *Value = Bytes[*Offset + 1];
        *Offset += 2;
        return TRUE;
    }
    if (Op == 0x0B && *Offset + 2 < Length) {  // WordPrefix
        *Value = Bytes[*Offset + 1];
        *Offset += 3;
        return TRUE;
    }
    if (Op == 0x0C && *Offset + 4 < Length) {  // DWordPrefix
        *Value = Bytes[*Offset + 1];
        *Offset += 5;
        return TRUE;
    }
    return FALSE;
}

BOOL ACPIFindS5(const U8* Bytes, U32 Length, U8* SleepTypeA, U8* SleepTypeB) {
    if (Bytes == NULL || Length <= ACPI_HEADER_SIZE + 4) return FALSE;
    for (U32 I = ACPI_HEADER_SIZE; I + 4 < Length; I++) {
        if (MemoryCompare(Bytes + I, "_S5_", 4) != 0) continue;
        // Must be a Name (0x08) of a package: NameOp [\] "_S5_" PackageOp.
        BOOL NamedHere = (I >= 1 && Bytes[I - 1] == 0x08) || (I >= 2 && Bytes[I - 1] == '\\' && Bytes[I - 2] == 0x08);
        if (!NamedHere) continue;
        U32 Offset = I + 4;
        if (Offset >= Length || Bytes[Offset] != 0x12) continue;
        Offset++;
        if (Offset >= Length) return FALSE;
        U32 LengthBytes = (Bytes[Offset] >> 6) & 3;  // PkgLength: extra bytes in bits 7:6
        Offset += 1 + LengthBytes;
        if (Offset >= Length) return FALSE;
        U8 Elements = Bytes[Offset++];
        if (Elements < 1) continue;
        U8 A = 0, B = 0;
        if (!ReadAmlInteger(Bytes, Length, &Offset, &A)) continue;
        if (Elements >= 2 && !ReadAmlInteger(Bytes, Length, &Offset, &B)) B = 0;
        *SleepTypeA = (U8)(A & 7);
        *SleepTypeB = (U8)(B & 7);
        return TRUE;
    }
    return FALSE;
}

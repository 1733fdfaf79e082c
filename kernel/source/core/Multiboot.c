/*
 * Multiboot.c - multiboot2 tag parser (see Multiboot.h).
 *
 * Tag layout (multiboot2 specification, section 3.6): a U32 total size and a
 * reserved U32, then tags {U32 type, U32 size, payload} each 8-byte aligned,
 * ending with a type 0 tag. Nothing is trusted: a tag that runs past the end
 * stops the walk.
 */

#include "core/Multiboot.h"

#include "utils/Endian.h"
#include "utils/String.h"

#define TAG_END 0
#define TAG_COMMAND_LINE 1
#define TAG_BOOT_LOADER_NAME 2
#define TAG_MODULE 3
#define TAG_MEMORY_MAP 6
#define TAG_FRAMEBUFFER 8
#define TAG_EFI32_SYSTEM_TABLE 11
#define TAG_EFI64_SYSTEM_TABLE 12
#define TAG_ACPI_OLD 14
#define TAG_ACPI_NEW 15
#define TAG_EFI_BOOT_SERVICES 18

static void CopyText(LPSTR Destination, SIZE Size, const U8* Source, U32 Length) {
    SIZE Count = 0;
    while (Count < Length && Source[Count] != 0 && Count + 1 < Size) {
        Destination[Count] = (char)Source[Count];
        Count++;
    }
    Destination[Count] = 0;
}

static void ParseMemoryMap(const U8* Tag, U32 Size, MULTIBOOT_INFO* Result) {
    if (Size < 16) return;
    U32 EntrySize = ReadLE32(Tag + 8);
    if (EntrySize < 24) return;
    for (U32 Offset = 16; Offset <= Size && EntrySize <= Size - Offset; Offset += EntrySize) {
        if (Result->RegionCount >= MULTIBOOT_MAX_MEMORY_REGIONS) break;
        MULTIBOOT_REGION* Region = &Result->Regions[Result->RegionCount];
        Region->Base = ReadLE64(Tag + Offset);
        Region->Length = ReadLE64(Tag + Offset + 8);
        Region->Type = ReadLE32(Tag + Offset + 16);
        if (Region->Length == 0 || Region->Base + Region->Length < Region->Base) continue;
        Result->RegionCount++;
    }
}

BOOL MultibootParse(const U8* Info, U32 Length, PHYSICAL InfoPhysical, MULTIBOOT_INFO* Result) {
    MemorySet(Result, 0, sizeof(*Result));
    if (Info == NULL || Length < 16) return FALSE;

    U32 TotalSize = ReadLE32(Info);
    if (TotalSize < 16 || TotalSize > Length) return FALSE;
    Result->InfoPhysical = InfoPhysical;
    Result->InfoSize = TotalSize;

    BOOL SawEnd = FALSE;
    for (U32 Offset = 8; Offset + 8 <= TotalSize;) {
        const U8* Tag = Info + Offset;
        U32 Type = ReadLE32(Tag);
        U32 Size = ReadLE32(Tag + 4);
        if (Size < 8 || Size > TotalSize - Offset) break;
        if (Type == TAG_END) {
            SawEnd = TRUE;
            break;
        }
        switch (Type) {
            case TAG_COMMAND_LINE:
                CopyText(Result->CommandLine, sizeof(Result->CommandLine), Tag + 8, Size - 8);
                break;
            case TAG_BOOT_LOADER_NAME:
                CopyText(Result->BootLoaderName, sizeof(Result->BootLoaderName), Tag + 8, Size - 8);
                break;
            case TAG_MODULE:
                if (Size >= 16 && Result->ModuleCount < MULTIBOOT_MAX_MODULES) {
                    Result->Modules[Result->ModuleCount].Start = ReadLE32(Tag + 8);
                    Result->Modules[Result->ModuleCount].End = ReadLE32(Tag + 12);
                    Result->ModuleCount++;
                }
                break;
            case TAG_MEMORY_MAP:
                ParseMemoryMap(Tag, Size, Result);
                break;
            case TAG_FRAMEBUFFER:
                if (Size >= 31) {
                    Result->HasFramebuffer = TRUE;
                    Result->FramebufferAddress = ReadLE64(Tag + 8);
                    Result->FramebufferPitch = ReadLE32(Tag + 16);
                    Result->FramebufferWidth = ReadLE32(Tag + 20);
                    Result->FramebufferHeight = ReadLE32(Tag + 24);
                    Result->FramebufferBpp = Tag[28];
                    Result->FramebufferType = Tag[29];
                    // The address is 64 bits and may lie above 4 GiB (GOP with resizable BARs).
                    if (Result->FramebufferType == MULTIBOOT_FRAMEBUFFER_RGB && Size >= 38) {
                        Result->FramebufferRedPosition = Tag[32];
                        Result->FramebufferRedSize = Tag[33];
                        Result->FramebufferGreenPosition = Tag[34];
                        Result->FramebufferGreenSize = Tag[35];
                        Result->FramebufferBluePosition = Tag[36];
                        Result->FramebufferBlueSize = Tag[37];
                    }
                }
                break;
            case TAG_EFI32_SYSTEM_TABLE:
                if (Size >= 12) {
                    Result->BootedFromEFI = TRUE;
                    Result->EFISystemTable = ReadLE32(Tag + 8);
                }
                break;
            case TAG_EFI64_SYSTEM_TABLE:
                if (Size >= 16) {
                    Result->BootedFromEFI = TRUE;
                    Result->EFISystemTable = ReadLE64(Tag + 8);
                }
                break;
            case TAG_ACPI_OLD:
                if (Size >= 8 + sizeof(Result->RSDPv1)) {
                    MemoryCopy(Result->RSDPv1, Tag + 8, sizeof(Result->RSDPv1));
                    Result->HasRSDPv1 = TRUE;
                }
                break;
            case TAG_ACPI_NEW:
                if (Size >= 8 + sizeof(Result->RSDPv2)) {
                    MemoryCopy(Result->RSDPv2, Tag + 8, sizeof(Result->RSDPv2));
                    Result->HasRSDPv2 = TRUE;
                }
                break;
            default:
                break;
        }
        Offset += (Size + 7) & ~7U;
    }

    Result->Valid = SawEnd || Result->RegionCount != 0;
    return Result->Valid;
}

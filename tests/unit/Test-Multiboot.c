/*
 * Test-Multiboot.c - core/Multiboot.c fed hand-built multiboot2 tag lists:
 * a complete BIOS-style list, an EFI list with a pixel framebuffer, and
 * damaged lists (sizes past the end, truncated tags, missing end tag, odd
 * memory map entry sizes, over-long strings, too many regions/modules).
 * Every list is built in a heap buffer of exactly its length, so any read
 * past it trips AddressSanitizer.
 */
// SOURCES: core/Multiboot.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/Multiboot.h"

/************************************************************************/
// Building tag lists

typedef struct {
    U8 Bytes[16384];
    U32 Length;
} TAG_LIST;

static void PutU32(U8* P, U32 V) { memcpy(P, &V, 4); }
static void PutU64(U8* P, U64 V) { memcpy(P, &V, 8); }

static void ListBegin(TAG_LIST* List) {
    memset(List, 0, sizeof(*List));
    List->Length = 8;  // total size + reserved, filled by ListEnd
}

/** Appends a tag with Payload (Size = 8 + PayloadLength); returns a pointer to the tag. */
static U8* ListTag(TAG_LIST* List, U32 Type, const void* Payload, U32 PayloadLength) {
    U8* Tag = List->Bytes + List->Length;
    PutU32(Tag, Type);
    PutU32(Tag + 4, 8 + PayloadLength);
    if (PayloadLength) memcpy(Tag + 8, Payload, PayloadLength);
    List->Length += (8 + PayloadLength + 7) & ~7U;
    return Tag;
}

static void ListEnd(TAG_LIST* List, BOOL WithEndTag) {
    if (WithEndTag) ListTag(List, 0, NULL, 0);
    PutU32(List->Bytes, List->Length);
}

/** Parses a copy of the list in a buffer of exactly Length bytes (ASan catches any overread). */
static BOOL ParseExact(const U8* Bytes, U32 Length, MULTIBOOT_INFO* Info) {
    U8* Copy = malloc(Length ? Length : 1);
    memcpy(Copy, Bytes, Length);
    BOOL Result = MultibootParse(Copy, Length, 0x10000, Info);
    free(Copy);
    return Result;
}

static void AddString(TAG_LIST* List, U32 Type, const char* Text) { ListTag(List, Type, Text, (U32)strlen(Text) + 1); }

static void AddMemoryMap(TAG_LIST* List, U32 EntrySize, U32 Count, const U64 (*Entries)[3]) {
    U8 Payload[8 + 64 * 40];
    memset(Payload, 0, sizeof(Payload));
    PutU32(Payload, EntrySize);
    PutU32(Payload + 4, 0);  // entry version
    for (U32 I = 0; I < Count; I++) {
        U8* Entry = Payload + 8 + I * EntrySize;
        PutU64(Entry, Entries[I][0]);
        PutU64(Entry + 8, Entries[I][1]);
        PutU32(Entry + 16, (U32)Entries[I][2]);
    }
    ListTag(List, 6, Payload, 8 + Count * EntrySize);
}

/** A framebuffer tag: the common part (24 bytes of payload), then the six RGB field bytes when Fields is given. */
static void AddFramebufferWith(TAG_LIST* List, U64 Address, U32 Pitch, U32 Width, U32 Height, U8 Bpp, U8 Type,
                               const U8* Fields) {
    U8 Payload[30];
    memset(Payload, 0, sizeof(Payload));
    PutU64(Payload, Address);
    PutU32(Payload + 8, Pitch);
    PutU32(Payload + 12, Width);
    PutU32(Payload + 16, Height);
    Payload[20] = Bpp;
    Payload[21] = Type;
    if (Fields) memcpy(Payload + 24, Fields, 6);
    ListTag(List, 8, Payload, Fields ? 30 : 24);
}

static void AddFramebuffer(TAG_LIST* List, U64 Address, U32 Pitch, U32 Width, U32 Height, U8 Bpp, U8 Type) {
    AddFramebufferWith(List, Address, Pitch, Width, Height, Bpp, Type, NULL);
}

static void AddRgbFramebuffer(TAG_LIST* List, U64 Address, U32 Pitch, U32 Width, U32 Height, U8 Bpp,
                              const U8 Fields[6]) {
    AddFramebufferWith(List, Address, Pitch, Width, Height, Bpp, MULTIBOOT_FRAMEBUFFER_RGB, Fields);
}

static const U64 QemuMap[][3] = {
    {0x0, 0x9FC00, MULTIBOOT_MEMORY_AVAILABLE},
    {0x9FC00, 0x400, MULTIBOOT_MEMORY_RESERVED},
    {0xF0000, 0x10000, MULTIBOOT_MEMORY_RESERVED},
    {0x100000, 0xFEDF000, MULTIBOOT_MEMORY_AVAILABLE},
    {0xFFFC0000, 0x40000, MULTIBOOT_MEMORY_RESERVED},
};

static MULTIBOOT_INFO Info;  // large: keep it off the stack
static TAG_LIST List;

/************************************************************************/
// Good lists

static void TestBiosList(void** State) {
    (void)State;
    U8 Rsdp1[20], Rsdp2[36];
    for (int I = 0; I < 20; I++) Rsdp1[I] = (U8)(0x40 + I);
    for (int I = 0; I < 36; I++) Rsdp2[I] = (U8)(0x80 + I);
    U32 Module[2] = {0x400000, 0x401234};

    ListBegin(&List);
    AddString(&List, 1, "log=debug quiet");
    AddString(&List, 2, "GRUB 2.06");
    AddMemoryMap(&List, 24, 5, QemuMap);
    ListTag(&List, 14, Rsdp1, 20);
    ListTag(&List, 15, Rsdp2, 36);
    ListTag(&List, 3, Module, 8);
    AddFramebuffer(&List, 0xB8000, 160, 80, 25, 16, MULTIBOOT_FRAMEBUFFER_EGA_TEXT);
    ListTag(&List, 99, "unknown", 7);  // unknown tags are skipped
    ListEnd(&List, TRUE);

    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_true(Info.Valid);
    assert_int_equal(Info.InfoPhysical, 0x10000);
    assert_int_equal(Info.InfoSize, List.Length);
    assert_string_equal(Info.CommandLine, "log=debug quiet");
    assert_string_equal(Info.BootLoaderName, "GRUB 2.06");
    assert_int_equal(Info.RegionCount, 5);
    for (U32 I = 0; I < 5; I++) {
        assert_int_equal(Info.Regions[I].Base, QemuMap[I][0]);
        assert_int_equal(Info.Regions[I].Length, QemuMap[I][1]);
        assert_int_equal(Info.Regions[I].Type, QemuMap[I][2]);
    }
    assert_true(Info.HasRSDPv1);
    assert_memory_equal(Info.RSDPv1, Rsdp1, 20);
    assert_true(Info.HasRSDPv2);
    assert_memory_equal(Info.RSDPv2, Rsdp2, 36);
    assert_int_equal(Info.ModuleCount, 1);
    assert_int_equal(Info.Modules[0].Start, 0x400000);
    assert_int_equal(Info.Modules[0].End, 0x401234);
    assert_true(Info.HasFramebuffer);
    assert_int_equal(Info.FramebufferAddress, 0xB8000);
    assert_int_equal(Info.FramebufferPitch, 160);
    assert_int_equal(Info.FramebufferWidth, 80);
    assert_int_equal(Info.FramebufferHeight, 25);
    assert_int_equal(Info.FramebufferBpp, 16);
    assert_int_equal(Info.FramebufferType, MULTIBOOT_FRAMEBUFFER_EGA_TEXT);
    assert_false(Info.BootedFromEFI);
}

static void TestEfiList(void** State) {
    (void)State;
    U64 SystemTable = 0x7F9EE018ULL;
    ListBegin(&List);
    AddMemoryMap(&List, 24, 2, QemuMap);
    ListTag(&List, 12, &SystemTable, 8);
    AddFramebuffer(&List, 0x80000000ULL, 5120, 1280, 800, 32, MULTIBOOT_FRAMEBUFFER_RGB);
    ListEnd(&List, TRUE);

    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_true(Info.BootedFromEFI);
    assert_int_equal(Info.EFISystemTable, SystemTable);
    assert_true(Info.HasFramebuffer);
    assert_int_equal(Info.FramebufferType, MULTIBOOT_FRAMEBUFFER_RGB);
    assert_int_equal(Info.FramebufferWidth, 1280);
    assert_string_equal(Info.CommandLine, "");
    assert_false(Info.HasRSDPv1);

    U32 SystemTable32 = 0x7F000000;
    ListBegin(&List);
    ListTag(&List, 11, &SystemTable32, 4);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_true(Info.BootedFromEFI);
    assert_int_equal(Info.EFISystemTable, 0x7F000000);
    assert_int_equal(Info.RegionCount, 0);
}

static void TestRgbFramebufferFields(void** State) {
    (void)State;
    // OVMF's GOP (BGRX, red at 16) at 1920x1080x32.
    const U8 Bgrx[6] = {16, 8, 8, 8, 0, 8};
    ListBegin(&List);
    AddRgbFramebuffer(&List, 0xC0000000ULL, 7680, 1920, 1080, 32, Bgrx);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.FramebufferPitch, 7680);
    assert_int_equal(Info.FramebufferBpp, 32);
    assert_int_equal(Info.FramebufferRedPosition, 16);
    assert_int_equal(Info.FramebufferRedSize, 8);
    assert_int_equal(Info.FramebufferGreenPosition, 8);
    assert_int_equal(Info.FramebufferBluePosition, 0);
    assert_int_equal(Info.FramebufferBlueSize, 8);

    // GRUB's bochs driver at 800x600x24, RGB order; the framebuffer above 4 GiB (resizable BARs).
    const U8 Rgb[6] = {0, 8, 8, 8, 16, 8};
    ListBegin(&List);
    AddRgbFramebuffer(&List, 0x7000000000ULL, 2400, 800, 600, 24, Rgb);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.FramebufferAddress, 0x7000000000ULL);
    assert_int_equal(Info.FramebufferBpp, 24);
    assert_int_equal(Info.FramebufferRedPosition, 0);
    assert_int_equal(Info.FramebufferBluePosition, 16);

    // A tag cut before its colour fields: the mode is kept, the fields stay 0 (the console refuses them).
    ListBegin(&List);
    AddFramebuffer(&List, 0xC0000000ULL, 5120, 1280, 800, 32, MULTIBOOT_FRAMEBUFFER_RGB);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_true(Info.HasFramebuffer);
    assert_int_equal(Info.FramebufferRedSize, 0);
    assert_int_equal(Info.FramebufferGreenSize, 0);
}

static void TestLargerMapEntries(void** State) {
    (void)State;
    // Entry size may grow in later versions: 32-byte entries carry 8 extra bytes to skip.
    ListBegin(&List);
    AddMemoryMap(&List, 32, 5, QemuMap);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 5);
    assert_int_equal(Info.Regions[3].Base, 0x100000);
    assert_int_equal(Info.Regions[3].Length, 0xFEDF000);
}

static void TestEmptyAndWrappingRegionsSkipped(void** State) {
    (void)State;
    static const U64 Map[][3] = {
        {0x1000, 0, MULTIBOOT_MEMORY_AVAILABLE},                     // empty
        {0xFFFFFFFFFFFFF000ULL, 0x2000, MULTIBOOT_MEMORY_AVAILABLE},  // wraps past 2^64
        {0x100000, 0x100000, MULTIBOOT_MEMORY_AVAILABLE},
    };
    ListBegin(&List);
    AddMemoryMap(&List, 24, 3, Map);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 1);
    assert_int_equal(Info.Regions[0].Base, 0x100000);
}

static void TestLimits(void** State) {
    (void)State;
    // More regions than fit: the first MULTIBOOT_MAX_MEMORY_REGIONS are kept.
    static U64 Many[200][3];
    for (int I = 0; I < 200; I++) {
        Many[I][0] = (U64)I * 0x10000;
        Many[I][1] = 0x8000;
        Many[I][2] = MULTIBOOT_MEMORY_AVAILABLE;
    }
    ListBegin(&List);
    U8 Payload[8 + 200 * 24];
    PutU32(Payload, 24);
    PutU32(Payload + 4, 0);
    for (int I = 0; I < 200; I++) {
        PutU64(Payload + 8 + I * 24, Many[I][0]);
        PutU64(Payload + 16 + I * 24, Many[I][1]);
        PutU32(Payload + 24 + I * 24, (U32)Many[I][2]);
        PutU32(Payload + 28 + I * 24, 0);
    }
    ListTag(&List, 6, Payload, sizeof(Payload));
    for (int I = 0; I < 12; I++) {
        U32 Module[2] = {0x1000000 + I * 0x1000, 0x1000800 + I * 0x1000};
        ListTag(&List, 3, Module, 8);
    }
    char Long[600];
    memset(Long, 'x', sizeof(Long) - 1);
    Long[sizeof(Long) - 1] = 0;
    AddString(&List, 1, Long);
    AddString(&List, 2, Long);
    ListEnd(&List, TRUE);

    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, MULTIBOOT_MAX_MEMORY_REGIONS);
    assert_int_equal(Info.Regions[MULTIBOOT_MAX_MEMORY_REGIONS - 1].Base,
                     (U64)(MULTIBOOT_MAX_MEMORY_REGIONS - 1) * 0x10000);
    assert_int_equal(Info.ModuleCount, MULTIBOOT_MAX_MODULES);
    assert_int_equal(strlen(Info.CommandLine), MULTIBOOT_COMMAND_LINE_SIZE - 1);
    assert_int_equal(strlen(Info.BootLoaderName), sizeof(Info.BootLoaderName) - 1);
}

static void TestUnterminatedString(void** State) {
    (void)State;
    // A command line tag whose text has no zero: copied up to the tag's end, and terminated.
    ListBegin(&List);
    ListTag(&List, 1, "abc", 3);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_string_equal(Info.CommandLine, "abc");
}

/************************************************************************/
// Damaged lists

static void TestTooShortOrNull(void** State) {
    (void)State;
    U8 Small[8] = {8, 0, 0, 0, 0, 0, 0, 0};
    Info.Valid = TRUE;
    assert_false(MultibootParse(NULL, 100, 0, &Info));
    assert_false(Info.Valid);
    assert_false(ParseExact(Small, sizeof(Small), &Info));
    assert_false(ParseExact(Small, 0, &Info));
}

static void TestTotalSizeBeyondBuffer(void** State) {
    (void)State;
    ListBegin(&List);
    AddMemoryMap(&List, 24, 5, QemuMap);
    ListEnd(&List, TRUE);
    // The header claims more than the caller can read: refused outright.
    assert_false(ParseExact(List.Bytes, List.Length - 8, &Info));
    PutU32(List.Bytes, 12);  // total size below the minimum
    assert_false(ParseExact(List.Bytes, List.Length, &Info));
}

static void TestTagRunsPastEnd(void** State) {
    (void)State;
    ListBegin(&List);
    AddString(&List, 1, "console=serial");
    U8* Map = ListTag(&List, 6, "\x18\0\0\0\0\0\0\0", 8);
    ListEnd(&List, TRUE);
    PutU32(Map + 4, 0x10000);  // the memory map tag claims 64 KiB
    assert_false(ParseExact(List.Bytes, List.Length, &Info));  // walk stops, no end tag, no regions
    assert_string_equal(Info.CommandLine, "console=serial");    // what came before is kept
    assert_int_equal(Info.RegionCount, 0);
}

static void TestTagSizeTooSmall(void** State) {
    (void)State;
    ListBegin(&List);
    AddMemoryMap(&List, 24, 5, QemuMap);
    U8* Bad = ListTag(&List, 1, "x", 2);
    ListEnd(&List, TRUE);
    PutU32(Bad + 4, 4);  // smaller than a tag header: would loop or go backwards
    assert_true(ParseExact(List.Bytes, List.Length, &Info));  // regions before it make it usable
    assert_int_equal(Info.RegionCount, 5);
    assert_string_equal(Info.CommandLine, "");
}

static void TestMissingEndTag(void** State) {
    (void)State;
    ListBegin(&List);
    AddString(&List, 1, "a=b");
    ListEnd(&List, FALSE);
    assert_false(ParseExact(List.Bytes, List.Length, &Info));  // no end tag and no memory: invalid

    ListBegin(&List);
    AddMemoryMap(&List, 24, 2, QemuMap);
    ListEnd(&List, FALSE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));  // a memory map is enough to boot
    assert_int_equal(Info.RegionCount, 2);
}

static void TestTruncatedList(void** State) {
    (void)State;
    // Cut a good list at every length: never a read past the buffer, never a crash.
    TAG_LIST Good;
    ListBegin(&Good);
    AddString(&Good, 1, "log=info");
    AddMemoryMap(&Good, 24, 5, QemuMap);
    AddFramebuffer(&Good, 0xB8000, 160, 80, 25, 16, MULTIBOOT_FRAMEBUFFER_EGA_TEXT);
    ListEnd(&Good, TRUE);
    for (U32 Cut = 0; Cut <= Good.Length; Cut++) {
        memcpy(&List, &Good, sizeof(Good));
        PutU32(List.Bytes, Cut);  // a total size that ends inside a tag
        BOOL Result = ParseExact(List.Bytes, Cut, &Info);
        if (Cut == Good.Length) assert_true(Result);
        assert_true(Info.RegionCount <= 5);
    }
}

static void TestBadMapEntrySizes(void** State) {
    (void)State;
    // Entry size smaller than an entry: the map is ignored.
    ListBegin(&List);
    AddMemoryMap(&List, 16, 2, QemuMap);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 0);

    // A map tag too short to hold its own header.
    ListBegin(&List);
    ListTag(&List, 6, "\x18\0\0\0", 4);
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 0);

    // A partial last entry is not read.
    ListBegin(&List);
    U8* Map = List.Bytes + List.Length;
    AddMemoryMap(&List, 24, 2, QemuMap);
    PutU32(Map + 4, 16 + 24 + 12);  // one whole entry and half of the next
    List.Length = (U32)(Map - List.Bytes) + 56;
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 1);
}

static void TestHugeMapEntrySize(void** State) {
    (void)State;
    // An entry size near 2^32: Offset + EntrySize must not wrap around and read past the tag.
    ListBegin(&List);
    U8 Payload[8] = {0};
    PutU32(Payload, 0xFFFFFFF0U);
    ListTag(&List, 6, Payload, 8);  // Size 16, no entries
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_int_equal(Info.RegionCount, 0);
}

static void TestShortTagsIgnored(void** State) {
    (void)State;
    ListBegin(&List);
    ListTag(&List, 8, "\0\x80\x0b\0\0\0\0\0\xa0\0\0\0", 12);  // framebuffer tag cut short
    ListTag(&List, 12, "\x18\0\0\0", 4);                        // EFI64 table without its 8 bytes
    ListTag(&List, 14, "RSD PTR ", 8);                         // RSDP too short
    ListTag(&List, 3, "\0\0\x40\0", 4);                         // module without its end
    ListEnd(&List, TRUE);
    assert_true(ParseExact(List.Bytes, List.Length, &Info));
    assert_false(Info.HasFramebuffer);
    assert_false(Info.BootedFromEFI);
    assert_false(Info.HasRSDPv1);
    assert_int_equal(Info.ModuleCount, 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestBiosList),          cmocka_unit_test(TestEfiList),
        cmocka_unit_test(TestRgbFramebufferFields),
        cmocka_unit_test(TestLargerMapEntries),  cmocka_unit_test(TestEmptyAndWrappingRegionsSkipped),
        cmocka_unit_test(TestLimits),            cmocka_unit_test(TestUnterminatedString),
        cmocka_unit_test(TestTooShortOrNull),    cmocka_unit_test(TestTotalSizeBeyondBuffer),
        cmocka_unit_test(TestTagRunsPastEnd),    cmocka_unit_test(TestTagSizeTooSmall),
        cmocka_unit_test(TestMissingEndTag),     cmocka_unit_test(TestTruncatedList),
        cmocka_unit_test(TestBadMapEntrySizes),  cmocka_unit_test(TestShortTagsIgnored),
        cmocka_unit_test(TestHugeMapEntrySize),  // last: before the fix it aborts under ASan
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

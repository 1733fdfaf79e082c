/*
 * Multiboot.h - what the boot loader told us (multiboot2 information).
 *
 * MultibootParse() reads the tag list once, checking every size against the
 * total, and keeps what the kernel needs: the memory map, the command line,
 * the ACPI RSDP copies, the framebuffer / text mode, whether we came through
 * UEFI, and the modules. The parser is pure (host unit tests feed it bytes).
 */

#ifndef CORE_MULTIBOOT_H_INCLUDED
#define CORE_MULTIBOOT_H_INCLUDED

#include "Base.h"

#define MULTIBOOT2_BOOTLOADER_MAGIC 0x36D76289

#define MULTIBOOT_MEMORY_AVAILABLE 1
#define MULTIBOOT_MEMORY_RESERVED 2
#define MULTIBOOT_MEMORY_ACPI_RECLAIMABLE 3
#define MULTIBOOT_MEMORY_NVS 4
#define MULTIBOOT_MEMORY_BADRAM 5

#define MULTIBOOT_MAX_MEMORY_REGIONS 128
#define MULTIBOOT_MAX_MODULES 8
#define MULTIBOOT_COMMAND_LINE_SIZE 256

#define MULTIBOOT_FRAMEBUFFER_INDEXED 0
#define MULTIBOOT_FRAMEBUFFER_RGB 1
#define MULTIBOOT_FRAMEBUFFER_EGA_TEXT 2

typedef struct tag_MULTIBOOT_REGION {
    PHYSICAL Base;
    U64 Length;
    U32 Type;
} MULTIBOOT_REGION;

typedef struct tag_MULTIBOOT_MODULE {
    PHYSICAL Start;
    PHYSICAL End;
} MULTIBOOT_MODULE;

typedef struct tag_MULTIBOOT_INFO {
    BOOL Valid;
    PHYSICAL InfoPhysical;  // where the information itself lies (to reserve it)
    U32 InfoSize;
    char CommandLine[MULTIBOOT_COMMAND_LINE_SIZE];
    char BootLoaderName[64];
    U32 RegionCount;
    MULTIBOOT_REGION Regions[MULTIBOOT_MAX_MEMORY_REGIONS];
    U32 ModuleCount;
    MULTIBOOT_MODULE Modules[MULTIBOOT_MAX_MODULES];
    BOOL HasFramebuffer;
    PHYSICAL FramebufferAddress;
    U32 FramebufferPitch, FramebufferWidth, FramebufferHeight;
    U8 FramebufferBpp, FramebufferType;
    // RGB type only (multiboot2 3.6.12 color_info): bit position and width of each field.
    U8 FramebufferRedPosition, FramebufferRedSize;
    U8 FramebufferGreenPosition, FramebufferGreenSize;
    U8 FramebufferBluePosition, FramebufferBlueSize;
    BOOL BootedFromEFI;       // EFI system table tag present
    PHYSICAL EFISystemTable;
    BOOL HasRSDPv1, HasRSDPv2;
    U8 RSDPv1[20];            // copies, the originals may be overwritten later
    U8 RSDPv2[36];
} MULTIBOOT_INFO;

/** Parses the information block at Info (Length bytes readable). Returns FALSE if malformed. */
BOOL MultibootParse(const U8* Info, U32 Length, PHYSICAL InfoPhysical, MULTIBOOT_INFO* Result);

/** The kernel's parsed copy, filled by KernelMain. */
extern MULTIBOOT_INFO KernelBootInfo;

#endif  // CORE_MULTIBOOT_H_INCLUDED

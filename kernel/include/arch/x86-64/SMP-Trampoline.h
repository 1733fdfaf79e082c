/*
 * SMP-Trampoline.h - the real-mode page an application processor starts in.
 *
 * Layer: arch (x86-64), for core/SMP.c. SMP-Trampoline.asm holds the code
 * (real mode -> protected mode -> long mode on the kernel's page tables ->
 * the C entry); this header holds what the kernel and the code share: the
 * parameter block at SMP_TRAMPOLINE_PARAMETERS_OFFSET in the page, and the
 * pure rules for choosing the page (SMP-Trampoline.c, host unit tested).
 *
 * Where the page may go (facts sheet Part 2.1; Intel MP spec B.4.2): 4 KiB
 * aligned below 1 MiB (a STARTUP IPI carries only the page number), at or
 * above 64 KiB (firmware and loaders scribble on the lowest memory), inside
 * one usable (type 1) region of the multiboot2 map and in no other region
 * (maps may overlap), below the EBDA and the BIOS's base-memory size on a
 * BIOS machine and below 0xA0000 under UEFI (OVMF's parked-AP loop is in
 * reserved memory, so it is never type 1), and outside the kernel image,
 * the multiboot information and the modules. The highest such page wins,
 * as in Linux. The frame allocator never hands out the first MiB, so the
 * page stays the kernel's.
 */

#ifndef ARCH_X86_64_SMP_TRAMPOLINE_H_INCLUDED
#define ARCH_X86_64_SMP_TRAMPOLINE_H_INCLUDED

#include "Base.h"
#include "core/Multiboot.h"

/** Offset of the parameter block in the trampoline page (PARAMETERS in SMP-Trampoline.asm). */
#define SMP_TRAMPOLINE_PARAMETERS_OFFSET 0xF00
/** The lowest page considered, and the ceilings for BIOS (below the EBDA at most) and UEFI machines. */
#define SMP_TRAMPOLINE_FLOOR 0x10000ULL
#define SMP_TRAMPOLINE_BIOS_CEILING 0x9F000ULL
#define SMP_TRAMPOLINE_UEFI_CEILING 0xA0000ULL

/** Filled by the kernel before each STARTUP IPI; read by the trampoline (offsets fixed, see the .asm). */
typedef struct tag_SMP_TRAMPOLINE_PARAMETERS {
    volatile U32 Alive;  // 0x00: set to 1 by the CPU in real mode, its first sign of life
    U32 Cr3;             // 0x04: the page tables to enable (below 4 GiB: loaded from a 32-bit register)
    U32 Cr4;             // 0x08: PAE and the boot CPU's other bits
    U32 Cr0;             // 0x0C: PG, PE, WP and the boot CPU's other bits
    U32 EferBits;        // 0x10: OR-ed into EFER: LME, and NXE when pages carry NX
    U32 Reserved;        // 0x14
    U64 StackTop;        // 0x18: the C entry's stack
    U64 Entry;           // 0x20: the C entry, void Entry(LPVOID Argument)
    U64 Argument;        // 0x28
} SMP_TRAMPOLINE_PARAMETERS;

STATIC_ASSERT(sizeof(SMP_TRAMPOLINE_PARAMETERS) == 0x30, "the trampoline's parameter block is 48 bytes");
STATIC_ASSERT(SMP_TRAMPOLINE_PARAMETERS_OFFSET + sizeof(SMP_TRAMPOLINE_PARAMETERS) <= PAGE_SIZE,
              "the parameter block fits in the page");

/** A physical range [Start, End) the page must not touch. */
typedef struct tag_SMP_RANGE {
    PHYSICAL Start;
    PHYSICAL End;
} SMP_RANGE;

/**
 * The ceiling for the page from the BIOS data area's words: EBDA segment
 * (0x40E) and base memory in KiB (0x413), each ignored when out of the
 * plausible range (Linux arch/x86/kernel/ebda.c). Under UEFI there is no BDA:
 * the caller uses SMP_TRAMPOLINE_UEFI_CEILING.
 */
PHYSICAL SMPTrampolineBiosCeiling(U16 EbdaSegment, U16 BaseMemoryKiB);

/**
 * The highest page that satisfies the rules above under Ceiling, or 0 when
 * there is none. Regions: the multiboot2 memory map; Excluded: what must stay
 * untouched (kernel image, multiboot information, modules).
 */
PHYSICAL SMPTrampolineChoosePage(const MULTIBOOT_REGION* Regions, U32 RegionCount, const SMP_RANGE* Excluded,
                                 U32 ExcludedCount, PHYSICAL Ceiling);

#endif  // ARCH_X86_64_SMP_TRAMPOLINE_H_INCLUDED

/*
 * Test-SMPTrampoline.c - the application-processor trampoline: the parameter
 * block layout the kernel writes agrees with the offsets SMP-Trampoline.asm
 * reads (the .asm is parsed here, so changing one side alone fails), and the
 * choice of its page below 1 MiB (BIOS data area bounds, usable and
 * reserved regions, exclusions, UEFI maps).
 */
// SOURCES: arch/x86-64/SMP-Trampoline.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86-64/SMP-Trampoline.h"

#define TRAMPOLINE_SOURCE "kernel/source/arch/x86-64/SMP-Trampoline.asm"

/** The value of `%define Name <number>` in the trampoline's source; fails the test if absent. */
static unsigned long AsmDefine(const char* Name) {
    FILE* File = fopen(TRAMPOLINE_SOURCE, "r");
    assert_non_null(File);  // the runner starts tests at the repository root
    char Line[256], Word[64];
    unsigned long Value = 0;
    int Found = 0;
    while (fgets(Line, sizeof(Line), File)) {
        char Number[32];
        if (sscanf(Line, " %%define %63s %31s", Word, Number) == 2 && strcmp(Word, Name) == 0) {
            Value = strtoul(Number, NULL, 0);
            Found++;
        }
    }
    fclose(File);
    if (Found != 1) fail_msg("%s is defined %d times in %s", Name, Found, TRAMPOLINE_SOURCE);
    return Value;
}

static void TestParameterLayoutMatchesAsm(void** State) {
    (void)State;
    assert_int_equal(AsmDefine("PARAMETERS"), SMP_TRAMPOLINE_PARAMETERS_OFFSET);
    assert_int_equal(AsmDefine("PARAMETER_ALIVE"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Alive));
    assert_int_equal(AsmDefine("PARAMETER_CR3"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Cr3));
    assert_int_equal(AsmDefine("PARAMETER_CR4"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Cr4));
    assert_int_equal(AsmDefine("PARAMETER_CR0"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Cr0));
    assert_int_equal(AsmDefine("PARAMETER_EFER"), offsetof(SMP_TRAMPOLINE_PARAMETERS, EferBits));
    assert_int_equal(AsmDefine("PARAMETER_STACK"), offsetof(SMP_TRAMPOLINE_PARAMETERS, StackTop));
    assert_int_equal(AsmDefine("PARAMETER_ENTRY"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Entry));
    assert_int_equal(AsmDefine("PARAMETER_ARGUMENT"), offsetof(SMP_TRAMPOLINE_PARAMETERS, Argument));
    // 64-bit fields are read with 64-bit moves: keep them naturally aligned.
    assert_int_equal(offsetof(SMP_TRAMPOLINE_PARAMETERS, StackTop) % 8, 0);
    assert_int_equal(offsetof(SMP_TRAMPOLINE_PARAMETERS, Entry) % 8, 0);
    assert_int_equal(offsetof(SMP_TRAMPOLINE_PARAMETERS, Argument) % 8, 0);
    // The trampoline's GDT selectors are the ones its far jumps use.
    assert_int_equal(AsmDefine("CODE32_SELECTOR"), 0x08);
    assert_int_equal(AsmDefine("DATA_SELECTOR"), 0x10);
    assert_int_equal(AsmDefine("CODE64_SELECTOR"), 0x18);
}

static void TestBiosCeiling(void** State) {
    (void)State;
    // SeaBIOS: EBDA at 0x9FC00 (segment 0x9FC0), 639 KiB of base memory.
    assert_int_equal(SMPTrampolineBiosCeiling(0x9FC0, 639), 0x9F000);
    // A larger EBDA lowers the ceiling to the page it starts in.
    assert_int_equal(SMPTrampolineBiosCeiling(0x9000, 640), 0x90000);
    assert_int_equal(SMPTrampolineBiosCeiling(0x9C80, 639), 0x9C000);
    // Base memory below the EBDA wins.
    assert_int_equal(SMPTrampolineBiosCeiling(0x9FC0, 600), 0x96000);
    // Implausible words (0, below 128 KiB, above 0x9F000) are ignored: Linux's bounds.
    assert_int_equal(SMPTrampolineBiosCeiling(0, 0), SMP_TRAMPOLINE_BIOS_CEILING);
    assert_int_equal(SMPTrampolineBiosCeiling(0x1000, 64), SMP_TRAMPOLINE_BIOS_CEILING);
    assert_int_equal(SMPTrampolineBiosCeiling(0xF000, 0xFFFF), SMP_TRAMPOLINE_BIOS_CEILING);
}

static MULTIBOOT_REGION Region(PHYSICAL Base, U64 Length, U32 Type) {
    MULTIBOOT_REGION R = {Base, Length, Type};
    return R;
}

static void TestChoosePageSeaBIOS(void** State) {
    (void)State;
    // SeaBIOS under QEMU: low RAM up to the EBDA, then reserved, then RAM from 1 MiB.
    MULTIBOOT_REGION Map[] = {Region(0, 0x9FC00, MULTIBOOT_MEMORY_AVAILABLE),
                              Region(0x9FC00, 0x400, MULTIBOOT_MEMORY_RESERVED),
                              Region(0xF0000, 0x10000, MULTIBOOT_MEMORY_RESERVED),
                              Region(0x100000, 0x1FF00000, MULTIBOOT_MEMORY_AVAILABLE)};
    PHYSICAL Ceiling = SMPTrampolineBiosCeiling(0x9FC0, 639);
    assert_int_equal(SMPTrampolineChoosePage(Map, 4, NULL, 0, Ceiling), 0x9E000);
    // The multiboot information lying there pushes it down, page by page.
    SMP_RANGE Excluded[] = {{0x9D800, 0x9E100}};
    assert_int_equal(SMPTrampolineChoosePage(Map, 4, Excluded, 1, Ceiling), 0x9C000);
    // A ceiling past 1 MiB is refused (a STARTUP IPI reaches only the first MiB).
    assert_int_equal(SMPTrampolineChoosePage(Map, 4, NULL, 0, 0x200000), 0);
}

static void TestChoosePageHolesAndOverlaps(void** State) {
    (void)State;
    // A UEFI-style map: usable below 0x87000, firmware-reserved pages, usable again up to 0xA0000, but with an
    // overlapping reserved entry (maps may overlap: the reserved one wins) and an unaligned usable start.
    MULTIBOOT_REGION Map[] = {Region(0x1000, 0x86000, MULTIBOOT_MEMORY_AVAILABLE),
                              Region(0x87000, 0x1000, MULTIBOOT_MEMORY_RESERVED),
                              Region(0x88000, 0x18000, MULTIBOOT_MEMORY_AVAILABLE),
                              Region(0x9E000, 0x2000, MULTIBOOT_MEMORY_NVS),
                              Region(0x9C000, 0x1000, MULTIBOOT_MEMORY_RESERVED)};
    assert_int_equal(SMPTrampolineChoosePage(Map, 5, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0x9D000);
    SMP_RANGE Excluded[] = {{0x88000, 0x9E000}};
    assert_int_equal(SMPTrampolineChoosePage(Map, 5, Excluded, 1, SMP_TRAMPOLINE_UEFI_CEILING), 0x86000);
    // Only part of a page usable: not that page.
    MULTIBOOT_REGION Partial[] = {Region(0x50800, 0x1000, MULTIBOOT_MEMORY_AVAILABLE)};
    assert_int_equal(SMPTrampolineChoosePage(Partial, 1, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0);
    // Nothing at or above 64 KiB: no page (the lowest memory is left to firmware and loaders).
    MULTIBOOT_REGION Low[] = {Region(0x1000, 0xF000, MULTIBOOT_MEMORY_AVAILABLE)};
    assert_int_equal(SMPTrampolineChoosePage(Low, 1, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0);
    MULTIBOOT_REGION Floor[] = {Region(0x1000, 0x10000, MULTIBOOT_MEMORY_AVAILABLE)};
    assert_int_equal(SMPTrampolineChoosePage(Floor, 1, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0x10000);
    // No usable memory below 1 MiB at all.
    MULTIBOOT_REGION High[] = {Region(0x100000, 0x100000, MULTIBOOT_MEMORY_AVAILABLE)};
    assert_int_equal(SMPTrampolineChoosePage(High, 1, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0);
    assert_int_equal(SMPTrampolineChoosePage(NULL, 0, NULL, 0, SMP_TRAMPOLINE_UEFI_CEILING), 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestParameterLayoutMatchesAsm),
        cmocka_unit_test(TestBiosCeiling),
        cmocka_unit_test(TestChoosePageSeaBIOS),
        cmocka_unit_test(TestChoosePageHolesAndOverlaps),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

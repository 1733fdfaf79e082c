/*
 * GDT.c - the kernel's global descriptor table and task state segment.
 *
 * Long mode ignores segment bases and limits for code and data, so the GDT
 * only has to say "64-bit code" and "data" at the selectors GDT.h names.
 * What matters is the TSS: its interrupt stack table gives the double fault,
 * NMI and machine check gates (see Interrupts.c) known-good stacks, so a
 * kernel stack overflow or an NMI on a broken stack still reaches the dump.
 *
 * Each CPU has its own table and TSS (a TSS descriptor is marked busy by
 * `ltr`, Intel SDM vol. 2 LTR), in static slots in the kernel image (higher
 * half, so they stay mapped across MemoryInit()'s switch of page tables).
 * The boot CPU's IST stacks are static too (GDTInit runs before the heap);
 * the others' come from the heap in GDTPrepareCPU, which the boot CPU runs
 * before starting that CPU, and are never freed. GDTLoadCPU then runs on
 * the CPU itself, with interrupts off.
 */

#include "arch/x86-64/GDT.h"

#include "memory/Heap.h"

/************************************************************************/
// Layout (Intel SDM vol. 3A 3.4.5 segment descriptors, 8.2.3 the 64-bit TSS descriptor,
// 8.7 the 64-bit TSS)

typedef struct tag_TASK_STATE_SEGMENT {
    U32 Reserved0;
    U64 RSP[3];  // stacks for privilege changes (unused until user mode exists)
    U64 Reserved1;
    U64 IST[7];  // IST[0] is IST 1
    U64 Reserved2;
    U16 Reserved3;
    U16 IOMapBase;
} PACKED TASK_STATE_SEGMENT;

STATIC_ASSERT(sizeof(TASK_STATE_SEGMENT) == 104, "the 64-bit TSS is 104 bytes");

typedef struct tag_GDT_POINTER {
    U16 Limit;
    U64 Base;
} PACKED GDT_POINTER;

#define GDT_ENTRY_COUNT 7  // null, 4 segments, the TSS (two entries)

// Access byte 0x9A: present, ring 0, code, readable; flags 0xA: 4 KiB granularity, long mode.
#define GDT_DESCRIPTOR_KERNEL_CODE 0x00AF9A000000FFFFULL
// Access 0x92: present, ring 0, data, writable; flags 0xC: 4 KiB granularity, 32-bit (ignored in long mode).
#define GDT_DESCRIPTOR_KERNEL_DATA 0x00CF92000000FFFFULL
#define GDT_DESCRIPTOR_USER_DATA 0x00CFF2000000FFFFULL  // as kernel data, ring 3
#define GDT_DESCRIPTOR_USER_CODE 0x00AFFA000000FFFFULL  // as kernel code, ring 3
#define GDT_TSS_TYPE_AVAILABLE 0x89ULL                  // present, ring 0, 64-bit TSS (available)

#define GDT_IST_COUNT 3

typedef struct tag_GDT_CPU {
    U64 Table[GDT_ENTRY_COUNT] __attribute__((aligned(16)));
    TASK_STATE_SEGMENT TaskState __attribute__((aligned(16)));
    U8* IstStacks;  // GDT_IST_COUNT stacks of GDT_IST_STACK_SIZE, NULL until prepared
} GDT_CPU;

static GDT_CPU GDTCpus[GDT_MAX_CPUS];
static U8 GDTBootIstStacks[GDT_IST_COUNT * GDT_IST_STACK_SIZE] __attribute__((aligned(16)));

/************************************************************************/

static void GDTSetTaskStateDescriptor(GDT_CPU* Cpu, U32 Index, LINEAR Base, U32 Limit) {
    U64 Low = (Limit & 0xFFFFULL) | ((Base & 0xFFFFFFULL) << 16) | (GDT_TSS_TYPE_AVAILABLE << 40) |
              (((U64)(Limit >> 16) & 0xFULL) << 48) | (((Base >> 24) & 0xFFULL) << 56);
    U64 High = (Base >> 32) & 0xFFFFFFFFULL;
    Cpu->Table[Index] = Low;
    Cpu->Table[Index + 1] = High;
}

BOOL GDTGetIstStack(U32 Cpu, U32 Index, LINEAR* Bottom, LINEAR* Top) {
    if (Cpu >= GDT_MAX_CPUS || Index < 1 || Index > GDT_IST_COUNT || GDTCpus[Cpu].IstStacks == NULL) return FALSE;
    LINEAR Base = (LINEAR)GDTCpus[Cpu].IstStacks + (LINEAR)(Index - 1) * GDT_IST_STACK_SIZE;
    if (Bottom) *Bottom = Base;
    if (Top) *Top = Base + GDT_IST_STACK_SIZE;
    return TRUE;
}

/** Fills CPU Index's table and TSS around its IST stacks. */
static void GDTBuild(U32 Index, U8* IstStacks) {
    GDT_CPU* Cpu = &GDTCpus[Index];
    Cpu->IstStacks = IstStacks;
    Cpu->Table[0] = 0;
    Cpu->Table[GDT_KERNEL_CODE / 8] = GDT_DESCRIPTOR_KERNEL_CODE;
    Cpu->Table[GDT_KERNEL_DATA / 8] = GDT_DESCRIPTOR_KERNEL_DATA;
    Cpu->Table[GDT_USER_DATA / 8] = GDT_DESCRIPTOR_USER_DATA;
    Cpu->Table[GDT_USER_CODE / 8] = GDT_DESCRIPTOR_USER_CODE;

    for (U32 Ist = 1; Ist <= GDT_IST_COUNT; Ist++) {
        LINEAR Top = 0;
        GDTGetIstStack(Index, Ist, NULL, &Top);
        Cpu->TaskState.IST[Ist - 1] = Top;  // 16-byte aligned: the CPU aligns RSP anyway
    }
    // No I/O permission bitmap: an offset at or past the limit means "none".
    Cpu->TaskState.IOMapBase = sizeof(TASK_STATE_SEGMENT);
    GDTSetTaskStateDescriptor(Cpu, GDT_TSS / 8, (LINEAR)&Cpu->TaskState, sizeof(TASK_STATE_SEGMENT) - 1);
}

BOOL GDTPrepareCPU(U32 Cpu) {
    if (Cpu == 0 || Cpu >= GDT_MAX_CPUS) return FALSE;
    if (GDTCpus[Cpu].IstStacks != NULL) return TRUE;  // a retried start keeps its stacks
    U8* Stacks = (U8*)KernelHeapAlloc(GDT_IST_COUNT * GDT_IST_STACK_SIZE);
    if (Stacks == NULL) return FALSE;
    GDTBuild(Cpu, Stacks);
    return TRUE;
}

void GDTInit(void) {
    GDTBuild(0, GDTBootIstStacks);
    GDTLoadCPU(0);
}

void GDTLoadCPU(U32 Index) {
    GDT_CPU* Cpu = &GDTCpus[Index];
    GDT_POINTER Pointer = {sizeof(Cpu->Table) - 1, (U64)(LINEAR)Cpu->Table};
    __asm__ volatile("lgdt %0" : : "m"(Pointer) : "memory");

    // Reload CS with a far return, then the data segments. FS/GS get the null selector; the per-CPU
    // base is written to MSR_GS_BASE after this (a selector load resets the hidden base).
    __asm__ volatile(
        "pushq %[Code]\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "movw %w[Data], %%ax\n\t"
        "movw %%ax, %%ds\n\t"
        "movw %%ax, %%es\n\t"
        "movw %%ax, %%ss\n\t"
        "xorl %%eax, %%eax\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        :
        : [Code] "i"(GDT_KERNEL_CODE), [Data] "r"((U32)GDT_KERNEL_DATA)
        : "rax", "memory");

    __asm__ volatile("ltr %w0" : : "r"((U16)GDT_TSS) : "memory");
}

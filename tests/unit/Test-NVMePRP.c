// Test-NVMePRP.c - the NVMe PRP and SGL builders, the PRP-or-SGL rule and the transfer limits, against fake
// (scrambled) physical pages.
// SOURCES: storage/nvme/NVMe-PRP.c storage/nvme/NVMe-SGL.c storage/nvme/NVMe-IO.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "storage/nvme/NVMe-Internal.h"

#define PAGE 4096U
#define BUFFER_PAGES 1100U
#define POOL_PAGES 3U
#define POOL_PHYSICAL 0x80000000ULL

/** A fake MMU: page i of the buffer lives at Physical[i] (0 = unmapped). */
typedef struct {
    U8* Base;
    U64 Physical[BUFFER_PAGES];
    U32 Calls;
} FAKE_MMU;

static FAKE_MMU Mmu;
static U8* Buffer;
static U64* PoolPages;
static NVME_PRP_POOL Pool;

static PHYSICAL FakeTranslate(LPCVOID Linear, LPVOID Context) {
    FAKE_MMU* M = (FAKE_MMU*)Context;
    M->Calls++;
    SIZE Offset = (SIZE)((const U8*)Linear - M->Base);
    if ((const U8*)Linear < M->Base || Offset / PAGE >= BUFFER_PAGES) return 0;
    U64 Page = M->Physical[Offset / PAGE];
    return Page ? Page + (Offset % PAGE) : 0;
}

/** Contiguous: page i at 0x100000 + i pages. Scrambled: a permutation spread over 4 GiB. */
static void MapPages(BOOL Scrambled) {
    for (U32 I = 0; I < BUFFER_PAGES; I++) {
        U64 Frame = Scrambled ? ((U64)(I * 7919U) % 1000003U) + 0x10000U : 0x100U + I;
        Mmu.Physical[I] = Frame * PAGE;
    }
    Mmu.Calls = 0;
}

static int Setup(void** State) {
    (void)State;
    Buffer = aligned_alloc(PAGE, (SIZE)BUFFER_PAGES * PAGE);
    PoolPages = aligned_alloc(PAGE, (SIZE)POOL_PAGES * PAGE);
    Mmu.Base = Buffer;
    MapPages(TRUE);
    memset(PoolPages, 0xAB, (SIZE)POOL_PAGES * PAGE);
    Pool.Linear = PoolPages;
    Pool.Physical = POOL_PHYSICAL;
    Pool.Pages = POOL_PAGES;
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    free(Buffer);
    free(PoolPages);
    return 0;
}

static KSTATUS Build(U32 Offset, U64 Length, NVME_PRP_RESULT* Result) {
    return NVMePRPBuild(Buffer + Offset, Length, PAGE, FakeTranslate, &Mmu, &Pool, Result);
}

/** Entry Index (0-based, after PRP1) of the list, following chain pointers like a controller would. */
static U64 ListEntry(const NVME_PRP_RESULT* Result, U32 Index) {
    U32 PerPage = PAGE / 8;
    U64 ListPhysical = Result->Prp2;
    for (;;) {
        const U64* List = PoolPages + (ListPhysical - POOL_PHYSICAL) / 8;
        if (Index < PerPage - 1) return List[Index];
        // Slot PerPage-1 is data only when it is the very last entry; the caller knows the count.
        if (Index == PerPage - 1 && Result->DataPages - 1 == (U32)(Index + 1)) return List[Index];
        ListPhysical = List[PerPage - 1];
        Index -= PerPage - 1;
    }
}

static void test_within_one_page(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    assert_int_equal(Build(0, 512, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Prp1, Mmu.Physical[0]);
    assert_int_equal(R.Prp2, 0);
    assert_int_equal(R.DataPages, 1);
    assert_int_equal(R.ListPages, 0);
    assert_int_equal(Build(0, PAGE, &R), KSTATUS_SUCCESS);  // exactly one full page
    assert_int_equal(R.Prp2, 0);
    assert_int_equal(Build(0x200, 0x200, &R), KSTATUS_SUCCESS);  // offset inside the page
    assert_int_equal(R.Prp1, Mmu.Physical[0] + 0x200);
    assert_int_equal(R.Prp2, 0);
    assert_int_equal(Build(PAGE - 4, 4, &R), KSTATUS_SUCCESS);  // the last dword of a page
    assert_int_equal(R.Prp1, Mmu.Physical[0] + PAGE - 4);
    assert_int_equal(R.DataPages, 1);
}

static void test_exactly_two_pages(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    assert_int_equal(Build(0, 2 * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Prp1, Mmu.Physical[0]);
    assert_int_equal(R.Prp2, Mmu.Physical[1]);  // a data pointer, not a list
    assert_int_equal(R.ListPages, 0);
    // Offset PRP1: one page of data spanning two pages; PRP2 is the second page's start.
    assert_int_equal(Build(0x800, PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Prp1, Mmu.Physical[0] + 0x800);
    assert_int_equal(R.Prp2, Mmu.Physical[1]);
    assert_int_equal(R.Prp2 % PAGE, 0);
    assert_int_equal(R.DataPages, 2);
    assert_int_equal(Build(PAGE - 4, 8, &R), KSTATUS_SUCCESS);  // 8 bytes straddling a boundary
    assert_int_equal(R.Prp1, Mmu.Physical[0] + PAGE - 4);
    assert_int_equal(R.Prp2, Mmu.Physical[1]);
}

static void test_one_list_page(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    assert_int_equal(Build(0, 3 * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Prp1, Mmu.Physical[0]);
    assert_int_equal(R.Prp2, POOL_PHYSICAL);
    assert_int_equal(R.ListPages, 1);
    assert_int_equal(PoolPages[0], Mmu.Physical[1]);
    assert_int_equal(PoolPages[1], Mmu.Physical[2]);
    // Offset: 2 pages of data over 3 pages.
    assert_int_equal(Build(12, 2 * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Prp1, Mmu.Physical[0] + 12);
    assert_int_equal(R.DataPages, 3);
    assert_int_equal(PoolPages[0], Mmu.Physical[1]);
    assert_int_equal(PoolPages[1], Mmu.Physical[2]);
    // The fullest single list: 513 pages, 512 entries, the last slot is data (no chain needed).
    assert_int_equal(Build(0, 513ULL * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.ListPages, 1);
    for (U32 I = 0; I < 512; I++) assert_int_equal(PoolPages[I], Mmu.Physical[1 + I]);
}

static void test_chained_lists(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    // 514 pages: 513 entries; the first list page gives its last slot to the chain.
    assert_int_equal(Build(0, 514ULL * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.ListPages, 2);
    for (U32 I = 0; I < 511; I++) assert_int_equal(PoolPages[I], Mmu.Physical[1 + I]);
    assert_int_equal(PoolPages[511], POOL_PHYSICAL + PAGE);
    assert_int_equal(PoolPages[512], Mmu.Physical[512]);
    assert_int_equal(PoolPages[513], Mmu.Physical[513]);
    // 1025 pages with an offset: 1025 entries after PRP1 -> 511 + 511 + 3, two chains.
    assert_int_equal(Build(0x404, 1025ULL * PAGE - 4, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.DataPages, 1026);
    assert_int_equal(R.ListPages, 3);
    assert_int_equal(PoolPages[511], POOL_PHYSICAL + PAGE);
    assert_int_equal(PoolPages[512 + 511], POOL_PHYSICAL + 2 * PAGE);
    for (U32 I = 0; I < R.DataPages - 1; I++) assert_int_equal(ListEntry(&R, I), Mmu.Physical[1 + I]);
    assert_int_equal(PoolPages[1024 + 2], Mmu.Physical[1025]);
}

static void test_pool_too_small(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    NVME_PRP_POOL Small = Pool;
    Small.Pages = 1;
    assert_int_equal(NVMePRPBuild(Buffer, 514ULL * PAGE, PAGE, FakeTranslate, &Mmu, &Small, &R), KSTATUS_NO_MEMORY);
    assert_int_equal(NVMePRPBuild(Buffer, 513ULL * PAGE, PAGE, FakeTranslate, &Mmu, &Small, &R), KSTATUS_SUCCESS);
    assert_int_equal(NVMePRPBuild(Buffer, 3 * PAGE, PAGE, FakeTranslate, &Mmu, NULL, &R), KSTATUS_NO_MEMORY);
    assert_int_equal(NVMePRPBuild(Buffer, 2 * PAGE, PAGE, FakeTranslate, &Mmu, NULL, &R), KSTATUS_SUCCESS);
}

static void test_refuses_bad_input(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    assert_int_equal(Build(2, 512, &R), KSTATUS_BAD_PARAMETER);   // not dword aligned
    assert_int_equal(Build(1, 8192, &R), KSTATUS_BAD_PARAMETER);
    assert_int_equal(Build(0, 0, &R), KSTATUS_BAD_PARAMETER);     // empty
    assert_int_equal(NVMePRPBuild(Buffer, 512, 2048, FakeTranslate, &Mmu, &Pool, &R), KSTATUS_BAD_PARAMETER);
    // An unmapped page anywhere fails the whole transfer.
    U64 Saved = Mmu.Physical[5];
    Mmu.Physical[5] = 0;
    assert_int_equal(Build(0, 8 * PAGE, &R), KSTATUS_BAD_PARAMETER);
    // A later page that comes back unaligned is refused too (only PRP1 may carry an offset).
    Mmu.Physical[5] = Saved + 0x10;
    assert_int_equal(Build(0, 8 * PAGE, &R), KSTATUS_BAD_PARAMETER);
    Mmu.Physical[5] = Saved;
    assert_int_equal(Build(0, 8 * PAGE, &R), KSTATUS_SUCCESS);
}

static void test_every_page_translated(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    MapPages(TRUE);
    assert_int_equal(Build(0x10, 40 * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(Mmu.Calls, 41);  // one translation per page touched, none assumed contiguous
    for (U32 I = 0; I < 40; I++) {
        assert_int_equal(PoolPages[I], Mmu.Physical[1 + I]);
        if (I > 0) assert_int_not_equal(PoolPages[I], Mmu.Physical[1] + (U64)I * PAGE);  // scrambled for real
    }
    MapPages(FALSE);
    assert_int_equal(Build(0x10, 40 * PAGE, &R), KSTATUS_SUCCESS);
    assert_int_equal(PoolPages[39], Mmu.Physical[40]);
    MapPages(TRUE);
}

static void test_offsets_with_each_class(void** State) {
    (void)State;
    NVME_PRP_RESULT R;
    static const U64 Lengths[] = {4, 512, PAGE - 4, PAGE, PAGE + 4, 2 * PAGE, 3 * PAGE, 100 * PAGE, 512 * PAGE};
    for (U32 Offset = 0; Offset < PAGE; Offset += 4 * 97) {
        for (U32 L = 0; L < ARRAY_COUNT(Lengths); L++) {
            U64 Length = Lengths[L];
            U32 Pages = NVMePRPPagesSpanned((LINEAR)(Buffer + Offset), Length, PAGE);
            assert_int_equal(Build(Offset, Length, &R), KSTATUS_SUCCESS);
            assert_int_equal(R.DataPages, Pages);
            assert_int_equal(R.Prp1, Mmu.Physical[0] + Offset);
            if (Pages == 1) assert_int_equal(R.Prp2, 0);
            if (Pages == 2) assert_int_equal(R.Prp2, Mmu.Physical[1]);
            if (Pages > 2) {
                assert_int_equal(R.Prp2, POOL_PHYSICAL);
                for (U32 I = 0; I < Pages - 1; I++) assert_int_equal(ListEntry(&R, I), Mmu.Physical[1 + I]);
            }
        }
    }
}

static void test_limits(void** State) {
    (void)State;
    assert_int_equal(NVMePRPPagesSpanned(0, 4096, PAGE), 1);
    assert_int_equal(NVMePRPPagesSpanned(4, 4096, PAGE), 2);
    assert_int_equal(NVMePRPPagesSpanned(4092, 8, PAGE), 2);
    assert_int_equal(NVMePRPListPagesNeeded(2, PAGE), 0);
    assert_int_equal(NVMePRPListPagesNeeded(3, PAGE), 1);
    assert_int_equal(NVMePRPListPagesNeeded(513, PAGE), 1);
    assert_int_equal(NVMePRPListPagesNeeded(514, PAGE), 2);
    assert_int_equal(NVMePRPListPagesNeeded(1024, PAGE), 2);
    assert_int_equal(NVMePRPListPagesNeeded(1025, PAGE), 3);
    assert_int_equal(NVMePRPMaxTransfer(0, PAGE), PAGE);
    assert_int_equal(NVMePRPMaxTransfer(1, PAGE), 512ULL * PAGE);  // 2 MiB
    assert_int_equal(NVMePRPMaxTransfer(2, PAGE), 1023ULL * PAGE);
    // The guarantee holds at the worst offset, and one page more does not fit one list page.
    NVME_PRP_RESULT R;
    NVME_PRP_POOL One = Pool;
    One.Pages = 1;
    assert_int_equal(NVMePRPBuild(Buffer + PAGE - 4, NVMePRPMaxTransfer(1, PAGE), PAGE, FakeTranslate, &Mmu, &One, &R),
                     KSTATUS_SUCCESS);
    assert_int_equal(NVMePRPBuild(Buffer + 4, NVMePRPMaxTransfer(1, PAGE) + PAGE, PAGE, FakeTranslate, &Mmu, &One, &R),
                     KSTATUS_NO_MEMORY);
}

static void test_mdts_split(void** State) {
    (void)State;
    // QEMU's default MDTS 7 with 4 KiB pages: 512 KiB; mdts=1: 8 KiB; 0: no limit (PRP pool decides).
    assert_int_equal(NVMeMdtsBytes(7, 0), 512 * 1024);
    assert_int_equal(NVMeMdtsBytes(1, 0), 8192);
    assert_int_equal(NVMeMdtsBytes(0, 0), 0);
    assert_int_equal(NVMeMdtsBytes(2, 2), 4 * 16384);
    assert_int_equal(NVMeMdtsBytes(31, 0), 0);  // absurd: ignored
    assert_int_equal(NVMeMaxCommandBytes(0, 1, PAGE), 2 * 1024 * 1024);
    assert_int_equal(NVMeMaxCommandBytes(8192, 1, PAGE), 8192);
    assert_int_equal(NVMeMaxCommandBytes(64ULL << 20, 1, PAGE), 2 * 1024 * 1024);
    assert_int_equal(NVMeMaxBlocksPerCommand(8192, 512), 16);
    assert_int_equal(NVMeMaxBlocksPerCommand(8192, 4096), 2);
    assert_int_equal(NVMeMaxBlocksPerCommand(2ULL << 30, 512), 65536);  // NLB is 16 bits
    assert_int_equal(NVMeMaxBlocksPerCommand(8192, 0), 0);

    // Split a 100-block (512 B) transfer at an odd dword offset the way the I/O layer does with mdts=1:
    // 7 commands (6 x 16 + 4), each PRP-legal and together covering every page in order.
    U32 MaxBlocks = NVMeMaxBlocksPerCommand(NVMeMaxCommandBytes(NVMeMdtsBytes(1, 0), 1, PAGE), 512);
    U32 Commands = 0;
    U8* Start = Buffer + 0x204;
    for (U32 Done = 0; Done < 100; Commands++) {
        U32 Count = MIN(100 - Done, MaxBlocks);
        NVME_PRP_RESULT R;
        U8* Piece = Start + Done * 512;
        assert_int_equal(NVMePRPBuild(Piece, Count * 512, PAGE, FakeTranslate, &Mmu, &Pool, &R), KSTATUS_SUCCESS);
        U32 FirstPage = (U32)((Piece - Buffer) / PAGE);
        assert_int_equal(R.Prp1, Mmu.Physical[FirstPage] + (SIZE)(Piece - Buffer) % PAGE);
        assert_true(Count * 512 <= 8192);
        if (R.DataPages == 2) assert_int_equal(R.Prp2, Mmu.Physical[FirstPage + 1]);
        if (R.DataPages == 3) {
            assert_int_equal(PoolPages[0], Mmu.Physical[FirstPage + 1]);
            assert_int_equal(PoolPages[1], Mmu.Physical[FirstPage + 2]);
        }
        Done += Count;
    }
    assert_int_equal(Commands, 7);
}

/************************************************************************/
// SGL

static NVME_SGL_DESCRIPTOR Descriptor(const U64* Raw) {
    NVME_SGL_DESCRIPTOR D;
    memcpy(&D, Raw, sizeof(D));
    return D;
}

static NVME_SGL_DESCRIPTOR* PoolSlot(U32 Page, U32 Slot) {
    return (NVME_SGL_DESCRIPTOR*)((U8*)PoolPages + (SIZE)Page * PAGE) + Slot;
}

static KSTATUS BuildSgl(U32 Offset, U64 Length, BOOL Dword, NVME_SGL_RESULT* Result) {
    DISK_SEGMENT Segment = {Buffer + Offset, (U32)Length};
    NVME_DATA Data = {&Segment, 1, 0, Length};
    return NVMeSGLBuild(&Data, PAGE, Dword, FakeTranslate, &Mmu, &Pool, Result);
}

/** Physically contiguous: one Data Block descriptor in SGL1, no pool page; an odd address only without SGLS 10b. */
static void test_sgl_one_block(void** State) {
    (void)State;
    MapPages(FALSE);
    NVME_SGL_RESULT R;
    assert_int_equal(BuildSgl(96, 65536, TRUE, &R), KSTATUS_SUCCESS);
    NVME_SGL_DESCRIPTOR D = Descriptor(R.Sgl1);
    assert_int_equal(D.Type, NVME_SGL_DATA_BLOCK << 4);
    assert_int_equal(D.Address, 0x100ULL * PAGE + 96);
    assert_int_equal(D.Length, 65536);
    assert_int_equal(R.Descriptors, 1);
    assert_int_equal(R.SegmentPages, 0);
    assert_int_equal(BuildSgl(98, 512, TRUE, &R), KSTATUS_BAD_PARAMETER);  // SGLS 10b: dword aligned blocks
    assert_int_equal(BuildSgl(98, 512, FALSE, &R), KSTATUS_SUCCESS);
    MapPages(TRUE);
}

/**
 * 600 scattered pages: 600 data blocks over three pool pages of 256 descriptors; pages 0 and 1 chain through
 * their last slot (a Segment descriptor, then a Last Segment one), SGL1 is a Segment descriptor of page 0; the
 * blocks come in buffer order. Two pool pages are too few.
 */
static void test_sgl_chain(void** State) {
    (void)State;
    NVME_SGL_RESULT R;
    memset(PoolPages, 0xAB, (SIZE)POOL_PAGES * PAGE);
    assert_int_equal(BuildSgl(0, 600ULL * PAGE, FALSE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.Descriptors, 600);
    assert_int_equal(R.SegmentPages, 3);
    NVME_SGL_DESCRIPTOR D = Descriptor(R.Sgl1);
    assert_int_equal(D.Type, NVME_SGL_SEGMENT << 4);
    assert_int_equal(D.Address, POOL_PHYSICAL);
    assert_int_equal(D.Length, 256 * 16);
    assert_int_equal(PoolSlot(0, 255)->Type, NVME_SGL_SEGMENT << 4);
    assert_int_equal(PoolSlot(0, 255)->Address, POOL_PHYSICAL + PAGE);
    assert_int_equal(PoolSlot(0, 255)->Length, 256 * 16);
    assert_int_equal(PoolSlot(1, 255)->Type, NVME_SGL_LAST_SEGMENT << 4);
    assert_int_equal(PoolSlot(1, 255)->Address, POOL_PHYSICAL + 2 * PAGE);
    assert_int_equal(PoolSlot(1, 255)->Length, (600 - 2 * 255) * 16);
    for (U32 I = 0; I < 600; I++) {
        U32 Page = I / 255 < 2 ? I / 255 : 2, Slot = I - Page * 255;
        NVME_SGL_DESCRIPTOR* Block = PoolSlot(Page, Slot);
        assert_int_equal(Block->Type, NVME_SGL_DATA_BLOCK << 4);
        assert_int_equal(Block->Address, Mmu.Physical[I]);
        assert_int_equal(Block->Length, PAGE);
    }
    Pool.Pages = 2;
    assert_int_equal(BuildSgl(0, 600ULL * PAGE, FALSE, &R), KSTATUS_NO_MEMORY);
    assert_int_equal(BuildSgl(0, 511ULL * PAGE, FALSE, &R), KSTATUS_SUCCESS);  // 2 * 255 + 1
    assert_int_equal(R.SegmentPages, 2);
    assert_int_equal(PoolSlot(1, 255)->Type, NVME_SGL_DATA_BLOCK << 4);  // the last block in the chain slot
    assert_int_equal(PoolSlot(1, 255)->Address, Mmu.Physical[510]);
    assert_int_equal(PoolSlot(0, 255)->Type, NVME_SGL_LAST_SEGMENT << 4);
    assert_int_equal(PoolSlot(0, 255)->Length, 256 * 16);
    // One pool page (the driver's): 256 blocks behind a Last Segment descriptor in SGL1, 257 too many.
    Pool.Pages = 1;
    assert_int_equal(BuildSgl(0, 256ULL * PAGE, FALSE, &R), KSTATUS_SUCCESS);
    assert_int_equal(R.SegmentPages, 1);
    D = Descriptor(R.Sgl1);
    assert_int_equal(D.Type, NVME_SGL_LAST_SEGMENT << 4);
    assert_int_equal(D.Length, 256 * 16);
    assert_int_equal(PoolSlot(0, 255)->Type, NVME_SGL_DATA_BLOCK << 4);
    assert_int_equal(PoolSlot(0, 255)->Address, Mmu.Physical[255]);
    assert_int_equal(BuildSgl(0, 257ULL * PAGE, FALSE, &R), KSTATUS_NO_MEMORY);
    Pool.Pages = POOL_PAGES;
    assert_int_equal(NVMeSGLCapacity(1, PAGE), 256);
    assert_int_equal(NVMeSGLCapacity(2, PAGE), 511);
}

/** The rule on two cache-like blocks (not meeting on a page boundary) and on single buffers. */
static void test_plan(void** State) {
    (void)State;
    NVME_PLAN_LIMITS Limits = {PAGE, 512, 512 * 1024, 513, 256, NVME_SGL_AUTO, 32 * 1024};  // nvme.sgl_threshold=32k
    DISK_SEGMENT Blocks[2] = {{Buffer + 96, 4096}, {Buffer + 8192 + 96, 4096}};
    NVME_DATA Data = {Blocks, 2, 0, 8192};
    NVME_DATA_PLAN Plan = NVMePlanCommand(&Data, &Limits);
    assert_true(Plan.Sgl);  // needs it: one command
    assert_int_equal(Plan.Bytes, 8192);
    Limits.Mode = NVME_SGL_OFF;
    Plan = NVMePlanCommand(&Data, &Limits);
    assert_false(Plan.Sgl);  // PRPs stop at the joint
    assert_int_equal(Plan.Bytes, 4096);
    Limits.Mode = NVME_SGL_AUTO;
    DISK_SEGMENT One = {Buffer, 4096};
    Data = (NVME_DATA){&One, 1, 0, 4096};
    assert_false(NVMePlanCommand(&Data, &Limits).Sgl);  // below the threshold: PRPs
    One.Length = 32 * 1024;
    Data.Length = One.Length;
    assert_true(NVMePlanCommand(&Data, &Limits).Sgl);  // favours it
    Limits.Threshold = NVME_SGL_THRESHOLD;  // the default, 0: size alone never favours an SGL
    assert_false(NVMePlanCommand(&Data, &Limits).Sgl);
    Data = (NVME_DATA){Blocks, 2, 0, 8192};
    assert_true(NVMePlanCommand(&Data, &Limits).Sgl);  // the layout still needs one
    Data = (NVME_DATA){&One, 1, 0, One.Length};
    Limits.Threshold = 32 * 1024;
    One.Length = 1024 * 1024;
    Data.Length = One.Length;
    Plan = NVMePlanCommand(&Data, &Limits);
    assert_int_equal(Plan.Bytes, 512 * 1024);  // MaxBytes
    Limits.MaxBytes = 4ULL * 1024 * 1024;
    Plan = NVMePlanCommand(&Data, &Limits);
    assert_true(Plan.Sgl);
    assert_int_equal(Plan.Bytes, 256ULL * PAGE);  // 256 descriptors (pieces) at most
    // A joint PRPs cannot take, with a second buffer offset within the command: Offset skips into Blocks[0].
    Data = (NVME_DATA){Blocks, 2, 512, 7680};
    Limits.Mode = NVME_SGL_OFF;
    assert_int_equal(NVMePlanCommand(&Data, &Limits).Bytes, 3584);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_within_one_page),      cmocka_unit_test(test_exactly_two_pages),
        cmocka_unit_test(test_one_list_page),        cmocka_unit_test(test_chained_lists),
        cmocka_unit_test(test_pool_too_small),       cmocka_unit_test(test_refuses_bad_input),
        cmocka_unit_test(test_every_page_translated), cmocka_unit_test(test_offsets_with_each_class),
        cmocka_unit_test(test_limits),               cmocka_unit_test(test_mdts_split),
        cmocka_unit_test(test_sgl_one_block),
        cmocka_unit_test(test_sgl_chain),
        cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests(Tests, Setup, Teardown);
}

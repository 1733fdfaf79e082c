/*
 * Test-EXT2Map.c - where a block-mapped (ext2/ext3 indirect) file's bytes
 * are, as direct reads ask it (VFS_FILE_SYSTEM.MapExtents, EXT2MapExtents
 * over EXT2MapRun), on a fragmented file Cairn itself wrote.
 *
 * The file is written on a 1 KiB-block image interleaved with another file
 * (so its blocks come in short runs), with a hole that leaves whole indirect
 * blocks of the double-indirect tree missing, and a partial last block.
 * debugfs's bmap is the oracle for every logical block. Checked: one run at
 * a time (Max 1) is the longest run the map allows, whole runs and not one
 * block, never crossing the indirect block that holds its pointers and never
 * claiming a block that does not follow; a hole is zeros; the whole file
 * mapped at once matches bmap block for block; the bytes at the mapped
 * sectors of the image are the file's bytes.
 */
// SOURCES: $(EXT2_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "block/DirectRead.h"

#define BLOCK 1024U
#define POINTERS (BLOCK / 4U)
#define DIRECT_SLOTS 12U
#define FIRST_PART 700U    // blocks written before the hole
#define HOLE_END 1500U     // first block after it (blocks 780..1291 have no indirect block at all)
#define LAST_PART 100U     // blocks after the hole
#define TAIL 321U          // bytes in the partial last block
#define TOTAL_BLOCKS (HOLE_END + LAST_PART + 1U)
#define FILE_SIZE ((U64)(HOLE_END + LAST_PART) * BLOCK + TAIL)
#define SEED 41

static char Image[300];
static U32 Map[TOTAL_BLOCKS];  // bmap of every logical block (0: a hole)

/** Writes Count blocks of the pattern at block First of File. */
static void WriteBlocks(VFS_FILE* File, U32 First, U32 Count, U32 TailBytes) {
    static U8 Buffer[128 * BLOCK];
    U64 Offset = (U64)First * BLOCK;
    U32 Length = Count * BLOCK + TailBytes;
    assert_true(Length <= sizeof(Buffer));
    for (U32 I = 0; I < Length; I++) Buffer[I] = TestPattern(Offset + I, SEED);
    U32 Done = 0;
    assert_int_equal(VFSSeek(File, Offset), VFS_OK);
    assert_int_equal(VFSWrite(File, Buffer, Length, &Done), VFS_OK);
    assert_int_equal(Done, Length);
}

/** /frag: FIRST_PART blocks in short runs between /other's, a hole, LAST_PART blocks and a partial one. */
static void BuildFragmentedFile(void) {
    VFS_FILE* Frag;
    VFS_FILE* Other;
    assert_int_equal(VFSOpen("/mnt/map/frag", VFS_OPEN_WRITE | VFS_OPEN_CREATE, &Frag), VFS_OK);
    assert_int_equal(VFSOpen("/mnt/map/other", VFS_OPEN_WRITE | VFS_OPEN_CREATE, &Other), VFS_OK);
    U32 Written = 0, OtherWritten = 0;
    for (U32 Step = 0; Written < FIRST_PART; Step++) {
        U32 Run = 3 + Step % 29;  // runs of 3 to 31 blocks, some across indirect block boundaries
        if (Run > FIRST_PART - Written) Run = FIRST_PART - Written;
        WriteBlocks(Frag, Written, Run, 0);
        Written += Run;
        U32 Gap = 1 + Step % 3;
        WriteBlocks(Other, OtherWritten, Gap, 0);
        OtherWritten += Gap;
    }
    WriteBlocks(Frag, HOLE_END, LAST_PART, TAIL);
    VFSClose(Other);
    VFSClose(Frag);
    assert_int_equal(VFSSyncAll(), VFS_OK);
}

/** Map[] from debugfs bmap, one process for all blocks. */
static void ReadOracle(void) {
    char Commands[300], Output[300];
    snprintf(Commands, sizeof(Commands), "%s/bmap.cmd", TestWork);
    snprintf(Output, sizeof(Output), "%s/bmap.out", TestWork);
    FILE* File = fopen(Commands, "w");
    assert_non_null(File);
    for (U32 I = 0; I < TOTAL_BLOCKS; I++) fprintf(File, "bmap /frag %u\n", I);
    fclose(File);
    TestMust("debugfs -f %s %s > %s 2>/dev/null", Commands, Image, Output);
    File = fopen(Output, "r");
    assert_non_null(File);
    char Line[128];
    U32 Count = 0;
    while (fgets(Line, sizeof(Line), File)) {
        if (strncmp(Line, "debugfs", 7) == 0) continue;
        assert_true(Count < TOTAL_BLOCKS);
        Map[Count++] = (U32)strtoul(Line, NULL, 10);
    }
    fclose(File);
    assert_int_equal(Count, TOTAL_BLOCKS);
}

/** The end (exclusive) of the container holding block Logical's pointer: the direct slots or one indirect block. */
static U32 ContainerEnd(U32 Logical) {
    if (Logical < DIRECT_SLOTS) return DIRECT_SLOTS;
    if (Logical < DIRECT_SLOTS + POINTERS) return DIRECT_SLOTS + POINTERS;
    U32 Into = Logical - DIRECT_SLOTS - POINTERS;
    return DIRECT_SLOTS + POINTERS + (Into / POINTERS + 1) * POINTERS;
}

/** How many blocks from Logical continue it in Map[] (same hole, or the next physical blocks), up to Limit. */
static U32 LongestRun(U32 Logical, U32 Limit) {
    U32 Run = 1;
    while (Logical + Run < Limit) {
        U32 Next = Map[Logical + Run];
        if (Map[Logical] == 0 ? Next != 0 : Next != Map[Logical] + Run) break;
        Run++;
    }
    return Run;
}

static void OpenSource(VFS_FILE** File, DIRECT_SOURCE* Source) {
    U64 Size = 0;
    assert_int_equal(VFSOpen("/mnt/map/frag", VFS_OPEN_READ, File), VFS_OK);
    assert_int_equal(VFSDirectSource(*File, Source, &Size), VFS_OK);
    assert_int_equal(Size, FILE_SIZE);
}

static void TestOneRunAtATime(void** State) {
    (void)State;
    VFS_FILE* File;
    DIRECT_SOURCE Source;
    OpenSource(&File, &Source);
    U32 WholeBlocks = TOTAL_BLOCKS - 1;
    U32 Runs = 0, MultiBlock = 0;
    for (U32 Logical = 0; Logical < WholeBlocks;) {
        DIRECT_EXTENT Extent;
        U32 Count = 0;
        U32 Length = (WholeBlocks - Logical) * BLOCK;
        assert_int_equal(Source.Map(Source.Context, (U64)Logical * BLOCK, Length, &Extent, 1, &Count), KSTATUS_SUCCESS);
        assert_int_equal(Count, 1);
        assert_int_equal(Extent.Bytes % BLOCK, 0);
        U32 Blocks = Extent.Bytes / BLOCK;
        U32 Longest = LongestRun(Logical, WholeBlocks);
        if (Map[Logical] != 0) {
            // Data: exactly the run in this indirect block (the next one is another read, another call).
            U32 InContainer = LongestRun(Logical, MIN(WholeBlocks, ContainerEnd(Logical)));
            assert_int_equal(Extent.Kind, DIRECT_EXTENT_DISK);
            assert_int_equal(Extent.Sector, (U64)Map[Logical] * (BLOCK / 512));
            assert_int_equal(Blocks, InContainer);
        } else {
            // A hole: zeros, at least to the end of its indirect block, never past the hole.
            assert_int_equal(Extent.Kind, DIRECT_EXTENT_ZERO);
            assert_true(Blocks >= LongestRun(Logical, MIN(WholeBlocks, ContainerEnd(Logical))));
            assert_true(Blocks <= Longest);
        }
        if (Blocks > 1) MultiBlock++;
        Runs++;
        Logical += Blocks;
    }
    // The file is fragmented (many runs) and the runs are whole (most cover several blocks).
    assert_true(Runs > 40);
    assert_true(MultiBlock * 10 >= Runs * 9);
    VFSClose(File);
}

static void TestWholeFileMatchesOracleAndBytes(void** State) {
    (void)State;
    VFS_FILE* File;
    DIRECT_SOURCE Source;
    OpenSource(&File, &Source);
    int Descriptor = open(Image, O_RDONLY);
    assert_true(Descriptor >= 0);
    U8 Expected[BLOCK], Got[BLOCK];
    U64 Offset = 0;
    U32 Copied = 0;
    while (Offset < FILE_SIZE) {
        DIRECT_EXTENT Extents[16];
        U32 Count = 0;
        U32 Length = (U32)MIN(FILE_SIZE - Offset, (U64)4 << 20);
        assert_int_equal(Source.Map(Source.Context, Offset, Length, Extents, 16, &Count), KSTATUS_SUCCESS);
        assert_true(Count >= 1 && Count <= 16);
        for (U32 E = 0; E < Count; E++) {
            for (U32 Done = 0; Done < Extents[E].Bytes;) {
                U32 Logical = (U32)(Offset / BLOCK);
                U32 Piece = (U32)MIN((U64)BLOCK, FILE_SIZE - Offset);
                for (U32 I = 0; I < Piece; I++) Expected[I] = Map[Logical] ? TestPattern(Offset + I, SEED) : 0;
                if (Extents[E].Kind == DIRECT_EXTENT_DISK) {
                    U64 Sector = Extents[E].Sector + Done / 512;
                    assert_int_equal(Sector, (U64)Map[Logical] * (BLOCK / 512));
                    assert_int_equal(pread(Descriptor, Got, BLOCK, (off_t)(Sector * 512)), BLOCK);
                } else if (Extents[E].Kind == DIRECT_EXTENT_ZERO) {
                    assert_int_equal(Map[Logical], 0);
                    memset(Got, 0, sizeof(Got));
                } else {
                    // Only the partial last block goes through the cached path.
                    assert_int_equal(Extents[E].Kind, DIRECT_EXTENT_COPY);
                    assert_int_equal(Offset, (U64)(TOTAL_BLOCKS - 1) * BLOCK);
                    assert_int_equal(Source.Copy(Source.Context, Offset, Piece, Got), KSTATUS_SUCCESS);
                    Copied += Piece;
                }
                assert_memory_equal(Got, Expected, Piece);
                Done += Piece;
                Offset += Piece;
            }
        }
    }
    assert_int_equal(Copied, TAIL);
    close(Descriptor);
    VFSClose(File);
}

static int Setup(void** State) {
    TestVfsSetup(State);
    snprintf(Image, sizeof(Image), "%s/map.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 %s 8M", Image, Image);
    return 0;
}

/** Each test mounts the image, builds the file once (the first time) and reads it. */
static TEST_DISK* Disk;

static int PerTest(void** State) {
    TestVfsPerTest(State);
    Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/map", FALSE), VFS_OK);
    if (Map[0] == 0) {
        BuildFragmentedFile();
        ReadOracle();
    }
    return 0;
}

static int AfterTest(void** State) {
    (void)State;
    assert_int_equal(VFSUnmount("/mnt/map"), VFS_OK);
    TestDiskClose(Disk);
    TestAssertUnlocked();
    return 0;
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup_teardown(TestOneRunAtATime, PerTest, AfterTest),
        cmocka_unit_test_setup_teardown(TestWholeFileMatchesOracleAndBytes, PerTest, AfterTest),
    };
    return cmocka_run_group_tests(Tests, Setup, TestVfsTeardown);
}

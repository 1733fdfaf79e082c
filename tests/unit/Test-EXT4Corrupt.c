/*
 * Test-EXT4Corrupt.c - damaged ext4 volumes: each damage fails the object it
 * is in (that file or folder answers VFS_ERROR_IO), never the machine, and
 * the rest of the volume still reads; features Cairn cannot read refuse the
 * mount with one line naming them.
 *
 * Images are made with mke2fs -d (1 KiB blocks, so a sparse file of 400
 * one-block runs needs an extent tree of depth 2), then patched where
 * debugfs says the object lives ("ex" for extent nodes, "imap" for inodes,
 * "blocks" for folder blocks). Without metadata_csum the structural checks
 * are what stops the damage: an extent tree whose index points back at
 * itself (a loop), overlapping extents, an extent past the volume, a root
 * claiming depth 6. With metadata_csum one flipped byte in an extent block,
 * a folder block or an inode fails exactly that object by its checksum; in
 * a group descriptor, that group's inodes; in the superblock, the mount.
 */
// SOURCES: $(EXT2_SOURCES)

#define _GNU_SOURCE  // SEEK_DATA, SEEK_HOLE (EXT2-TestTree.h)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "EXT2-TestTree.h"
#include "fs/ext2/EXT2.h"

#define EXT4_FEATURES                                                                                          \
    "has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file," \
    "dir_nlink,extra_isize"

#define BLOCK 1024

/************************************************************************/
// The image

/**
 * A tree: runs (400 runs of 4 blocks: depth 2), flat (one extent in the inode), ok, dir with five files;
 * Options: more mke2fs options.
 */
static void MakeImageWith(const char* Image, const char* Features, const char* Options) {
    char Source[300];
    snprintf(Source, sizeof(Source), "%s/corrupt-tree", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/dir", Source, Source);
    // TestWriteSparseFile writes 4 KiB at each offset: 8 KiB apart, 400 runs of 4 blocks each.
    U64 Offsets[400];
    for (U32 I = 0; I < 400; I++) Offsets[I] = (U64)I * 8 * BLOCK;
    char Path[400];
    snprintf(Path, sizeof(Path), "%s/runs", Source);
    TestWriteSparseFile(Path, 3200ULL * BLOCK + 17, Offsets, 400, 3);
    snprintf(Path, sizeof(Path), "%s/flat", Source);
    TestWriteHostFile(Path, 200 * BLOCK, 4);
    snprintf(Path, sizeof(Path), "%s/ok", Source);
    TestWriteHostFile(Path, 10000, 5);
    for (U32 I = 0; I < 5; I++) {
        snprintf(Path, sizeof(Path), "%s/dir/file-%u", Source, I);
        TestWriteHostFile(Path, 100 + I, 6 + I);
    }
    TestMust("rm -f %s && mke2fs -q -F -b %u -O none,%s %s -d %s %s 12M", Image, BLOCK, Features, Options, Source,
             Image);
    TestFsckClean(Image);
}

static void MakeImage(const char* Image, const char* Features) { MakeImageWith(Image, Features, ""); }

/** The node below Level of Path's extent tree that debugfs's "ex" lists first (the 8th column). */
static unsigned long NodeBlock(const char* Image, const char* Path, U32 Level) {
    char Output[256];
    assert_int_equal(TestRun(Output, sizeof(Output),
                             "debugfs -R 'ex %s' %s 2>/dev/null | awk '$1 == \"%u/\" { print $8; exit }'", Path, Image,
                             Level),
                     0);
    unsigned long Block = strtoul(Output, NULL, 10);
    assert_true(Block > 0);
    return Block;
}

/** Where Path's inode record starts in the image (debugfs "imap"). */
static U64 InodeOffset(const char* Image, const char* Path) {
    char Output[512];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'imap %s' %s 2>/dev/null", Path, Image), 0);
    char* Block = strstr(Output, "located at block ");
    char* Offset = strstr(Output, "offset ");
    assert_non_null(Block);
    assert_non_null(Offset);
    return strtoull(Block + 17, NULL, 10) * BLOCK + strtoull(Offset + 7, NULL, 0);
}

/** The block group holding Path's inode (debugfs "imap"). */
static U32 GroupOf(const char* Image, const char* Path) {
    char Output[512];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'imap %s' %s 2>/dev/null", Path, Image), 0);
    char* Group = strstr(Output, "block group ");
    assert_non_null(Group);
    return (U32)strtoul(Group + 12, NULL, 10);
}

static void FlipByte(const char* Image, U64 Offset) {
    int Descriptor = open(Image, O_RDWR);
    assert_true(Descriptor >= 0);
    U8 Byte;
    assert_int_equal(pread(Descriptor, &Byte, 1, (off_t)Offset), 1);
    Byte ^= 0x5A;
    assert_int_equal(pwrite(Descriptor, &Byte, 1, (off_t)Offset), 1);
    close(Descriptor);
}

/************************************************************************/
// Checks

static TEST_DISK* MountImage(const char* Image) {
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/bad", FALSE), VFS_OK);
    TestAssertUnlocked();
    return Disk;
}

static void Unmount(TEST_DISK* Disk) {
    assert_int_equal(VFSUnmount("/mnt/bad"), VFS_OK);
    TestDiskClose(Disk);
    TestAssertUnlocked();
}

/** Reads a whole file; the status of the first failing call (VFS_OK if none). */
static VFS_STATUS TryRead(const char* Path) {
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Path, VFS_OPEN_READ, &File);
    if (Status != VFS_OK) return Status;
    static U8 Buffer[65536];
    for (;;) {
        U32 Got;
        Status = VFSRead(File, Buffer, sizeof(Buffer), &Got);
        if (Status != VFS_OK || Got == 0) break;
    }
    VFSClose(File);
    TestAssertUnlocked();
    return Status;
}

/** Lists a folder; the status of the first failing call. */
static VFS_STATUS TryList(const char* Path) {
    VFS_DIRECTORY* Directory;
    VFS_STATUS Status = VFSOpenDirectory(Path, &Directory);
    if (Status != VFS_OK) return Status;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End;
        Status = VFSReadDirectory(Directory, &Entry, &End);
        if (Status != VFS_OK || End) break;
    }
    VFSCloseDirectory(Directory);
    TestAssertUnlocked();
    return Status;
}

/** What every damage must leave alone: the other files and the folder read as they were made. */
static void RestStillReads(BOOL Flat, BOOL Runs, BOOL Folder) {
    U64 Size;
    U8* Data = TestVfsReadAll("/mnt/bad/ok", &Size);
    assert_int_equal(Size, 10000);
    for (U32 I = 0; I < Size; I++) assert_int_equal(Data[I], TestPattern(I, 5));
    free(Data);
    if (Flat) assert_int_equal(TryRead("/mnt/bad/flat"), VFS_OK);
    if (Runs) assert_int_equal(TryRead("/mnt/bad/runs"), VFS_OK);
    if (Folder) {
        assert_int_equal(TryList("/mnt/bad/dir"), VFS_OK);
        assert_int_equal(TryRead("/mnt/bad/dir/file-3"), VFS_OK);
    }
}

/** After a damage: one warning (the first corruption of a volume), naming Expected. */
static void OneWarning(const char* Expected) {
    if (strstr(TestAllWarnings, Expected) == NULL) fprintf(stderr, "warnings:\n%s\n", TestAllWarnings);
    assert_non_null(strstr(TestAllWarnings, Expected));
    assert_int_equal(TestWarnings, 1);
}

/************************************************************************/
// Extent trees

static void TestExtentLoop(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/loop.img", TestWork);
    MakeImage(Image, EXT4_FEATURES);
    // The depth-1 index node's first entry (ei_leaf_lo at 12 + 4) names the node itself.
    unsigned long Index = NodeBlock(Image, "/runs", 0);
    PatchU32(Image, (U64)Index * BLOCK + 16, (U32)Index);
    TEST_DISK* Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/runs"), VFS_ERROR_IO);
    assert_int_equal(TryRead("/mnt/bad/runs"), VFS_ERROR_IO);  // again: the same answer, no state left behind
    OneWarning("inode");
    RestStillReads(TRUE, FALSE, TRUE);
    Unmount(Disk);
}

static void TestExtentsOverlap(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/overlap.img", TestWork);
    MakeImage(Image, EXT4_FEATURES);
    // The first leaf's second extent starts where the first one does.
    unsigned long Leaf = NodeBlock(Image, "/runs", 1);
    U64 Base = (U64)Leaf * BLOCK;
    PatchU32(Image, Base + 24, ReadU32(Image, Base + 12));
    TEST_DISK* Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/runs"), VFS_ERROR_IO);
    OneWarning("overlap");
    RestStillReads(TRUE, FALSE, TRUE);
    Unmount(Disk);
}

static void TestExtentOutOfRange(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/range.img", TestWork);
    MakeImage(Image, EXT4_FEATURES);
    // flat's only extent (in the inode: i_block at 0x28, the extent at +12, ee_start_lo at +8) past the volume.
    U64 Inode = InodeOffset(Image, "/flat");
    PatchU32(Image, Inode + 0x28 + 12 + 8, 0xFFFFFF00U);
    TEST_DISK* Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/flat"), VFS_ERROR_IO);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/bad/flat", &Stat), VFS_OK);  // the inode itself is fine: stat answers
    assert_int_equal(Stat.Size, 200 * BLOCK);
    OneWarning("outside");
    RestStillReads(FALSE, TRUE, TRUE);
    Unmount(Disk);
}

static void TestExtentTooDeep(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/deep.img", TestWork);
    MakeImage(Image, EXT4_FEATURES);
    // The root of flat's tree says depth 6 (eh_depth at i_block + 6): more than 32-bit block numbers need.
    U64 Inode = InodeOffset(Image, "/flat");
    U32 Word = ReadU32(Image, Inode + 0x28 + 4);  // eh_max (low half), eh_depth (high half)
    PatchU32(Image, Inode + 0x28 + 4, (Word & 0xFFFF) | (6U << 16));
    TEST_DISK* Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/flat"), VFS_ERROR_IO);
    OneWarning("extent tree of depth 6, more than 5");
    RestStillReads(FALSE, TRUE, TRUE);
    Unmount(Disk);

    // A root claiming depth 5 over runs' depth-1 index node: each level's depth is checked.
    MakeImage(Image, EXT4_FEATURES);
    Inode = InodeOffset(Image, "/runs");
    Word = ReadU32(Image, Inode + 0x28 + 4);
    PatchU32(Image, Inode + 0x28 + 4, (Word & 0xFFFF) | (5U << 16));
    Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/runs"), VFS_ERROR_IO);
    OneWarning("extent node at depth 1, expected 4");
    RestStillReads(TRUE, FALSE, TRUE);
    Unmount(Disk);
}

/************************************************************************/
// metadata_csum: a bad checksum fails the object it protects

static void ExpectChecksumErrors(U64 Least) {
    EXT2_VOLUME_STATE Volume;
    EXT2GetVolumeState(VFSHostVolume("/mnt/bad"), &Volume);
    assert_true(Volume.Counters.ChecksumErrors >= Least);
}

static void TestBadChecksums(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/csum.img", TestWork);

    // An extent leaf block of runs: one byte of an extent flipped.
    MakeImage(Image, EXT4_FEATURES ",metadata_csum");
    FlipByte(Image, (U64)NodeBlock(Image, "/runs", 1) * BLOCK + 12 + 12 * 3 + 1);
    TEST_DISK* Disk = MountImage(Image);
    assert_int_equal(TryRead("/mnt/bad/runs"), VFS_ERROR_IO);
    ExpectChecksumErrors(1);
    RestStillReads(TRUE, FALSE, TRUE);
    Unmount(Disk);

    // A folder block: one byte of a name flipped. The folder fails; its files' inodes are fine.
    MakeImage(Image, EXT4_FEATURES ",metadata_csum");
    char Output[256];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'blocks /dir' %s 2>/dev/null", Image), 0);
    FlipByte(Image, strtoull(Output, NULL, 10) * BLOCK + 24 + 8 + 2);  // third entry's name
    Disk = MountImage(Image);
    assert_int_equal(TryList("/mnt/bad/dir"), VFS_ERROR_IO);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/bad/dir/file-3", &Stat), VFS_ERROR_IO);
    ExpectChecksumErrors(1);
    RestStillReads(TRUE, TRUE, FALSE);
    assert_int_equal(VFSStat("/mnt/bad/dir", &Stat), VFS_OK);  // the folder's inode is fine
    Unmount(Disk);

    // An inode: its modification time changed behind the checksum. stat and read fail; the folder lists it.
    MakeImage(Image, EXT4_FEATURES ",metadata_csum");
    FlipByte(Image, InodeOffset(Image, "/flat") + 0x10);
    Disk = MountImage(Image);
    assert_int_equal(VFSStat("/mnt/bad/flat", &Stat), VFS_ERROR_IO);
    assert_int_equal(TryRead("/mnt/bad/flat"), VFS_ERROR_IO);
    assert_int_equal(TryList("/mnt/bad"), VFS_OK);
    ExpectChecksumErrors(1);
    RestStillReads(FALSE, TRUE, TRUE);
    Unmount(Disk);
}

static void TestBadSuperblockAndDescriptor(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/csum-groups.img", TestWork);

    // The superblock's own checksum: nothing on the volume can be trusted, the mount is refused.
    MakeImage(Image, EXT4_FEATURES ",metadata_csum");
    FlipByte(Image, 1024 + 0x3FC);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_not_equal(VFSMount(Disk->Disk.Name, "/mnt/bad", FALSE), VFS_OK);
    assert_int_equal(TestWarnings, 1);
    assert_non_null(strstr(TestLastWarning, "checksum"));
    TestAssertUnlocked();
    TestDiskClose(Disk);

    // A group descriptor's checksum (16 inodes a group spread the files over two groups): the inodes of that
    // group fail, the other group's read.
    static const char* Paths[] = {"/dir/file-0", "/dir/file-1", "/dir/file-2", "/dir/file-3", "/dir/file-4",
                                  "/ok",         "/flat",       "/runs"};
    MakeImageWith(Image, EXT4_FEATURES ",metadata_csum", "-N 32");
    U32 Bad = GroupOf(Image, "/runs");
    assert_int_not_equal(Bad, GroupOf(Image, "/dir"));
    FlipByte(Image, 2 * BLOCK + Bad * 64 + 0x1E);  // bg_checksum of 64-byte descriptor Bad (table at block 2)
    Disk = MountImage(Image);
    U32 Failed = 0, Read = 0;
    for (U32 I = 0; I < sizeof(Paths) / sizeof(Paths[0]); I++) {
        char Path[64];
        snprintf(Path, sizeof(Path), "/mnt/bad%s", Paths[I]);
        VFS_STAT Stat;
        BOOL InBad = GroupOf(Image, Paths[I]) == Bad;
        assert_int_equal(VFSStat(Path, &Stat), InBad ? VFS_ERROR_IO : VFS_OK);
        if (InBad) {
            Failed++;
        } else {
            Read++;
            assert_int_equal(TryRead(Path), VFS_OK);
        }
    }
    assert_true(Failed > 0 && Read > 0);
    assert_int_equal(TryList("/mnt/bad/dir"), VFS_OK);
    Unmount(Disk);
}

/************************************************************************/
// Features: refused with one line, or read

static void TestRefusedFeatures(void** State) {
    (void)State;
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/features.img", TestWork);
    static const struct {
        const char* Make;       // mke2fs -O none,EXT4_FEATURES<this>, then the optional debugfs request
        const char* Debugfs;
        const char* Named;      // what the one warning line names, or NULL: mounts (read-only)
    } Cases[] = {
        {",encrypt", NULL, "encrypt (names and contents encrypted, no keys)"},
        {"", "feature +dirdata", "dirdata"},
        {"", "feature +compression", "compression"},
        {",casefold", NULL, NULL},
        {",verity", NULL, NULL},
        {",mmp", NULL, NULL},
    };
    for (U32 I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        TestMust("rm -f %s && mke2fs -q -F -b %u -O none,%s%s %s 8M", Image, BLOCK, EXT4_FEATURES, Cases[I].Make,
                 Image);
        if (Cases[I].Debugfs) TestMust("debugfs -w -R '%s' %s", Cases[I].Debugfs, Image);
        TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
        TestResetLog();
        VFS_STATUS Status = VFSMount(Disk->Disk.Name, "/mnt/feat", FALSE);
        TestAssertUnlocked();
        if (Cases[I].Named) {
            assert_int_equal(Status, VFS_ERROR_NOT_SUPPORTED);
            assert_int_equal(TestWarnings, 1);
            if (strstr(TestLastWarning, Cases[I].Named) == NULL) fprintf(stderr, "warning: %s\n", TestLastWarning);
            assert_non_null(strstr(TestLastWarning, Cases[I].Named));
        } else {
            assert_int_equal(Status, VFS_OK);
            assert_int_equal(TestWarnings, 0);
            VFS_STATFS StatFs;
            VFS_MOUNT_INFO Info;
            assert_int_equal(VFSStatFs("/mnt/feat", &StatFs, &Info), VFS_OK);
            assert_string_equal(Info.Type, "ext4");
            assert_true(StatFs.ReadOnly);
            assert_int_equal(TryList("/mnt/feat/lost+found"), VFS_OK);
            assert_int_equal(VFSUnmount("/mnt/feat"), VFS_OK);
        }
        TestDiskClose(Disk);
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestExtentLoop, TestVfsPerTest),
        cmocka_unit_test_setup(TestExtentsOverlap, TestVfsPerTest),
        cmocka_unit_test_setup(TestExtentOutOfRange, TestVfsPerTest),
        cmocka_unit_test_setup(TestExtentTooDeep, TestVfsPerTest),
        cmocka_unit_test_setup(TestBadChecksums, TestVfsPerTest),
        cmocka_unit_test_setup(TestBadSuperblockAndDescriptor, TestVfsPerTest),
        cmocka_unit_test_setup(TestRefusedFeatures, TestVfsPerTest),
    };
    return cmocka_run_group_tests(Tests, TestVfsSetup, TestVfsTeardown);
}

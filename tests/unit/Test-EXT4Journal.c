/*
 * Test-EXT4Journal.c - volumes whose jbd2 journal needs recovery, mounted
 * read-only with the journal replayed in memory, judged by e2fsprogs: each
 * file must read as `debugfs cat` shows it on a copy that `e2fsck -fy`
 * recovered, and the image must not change by one byte (no write reaches
 * the disk).
 *
 * The journals are written by debugfs's journal commands (jo, jw, jc; the
 * ext4 fact sheet's recipes): checksum v3 with 64-bit tags and a block whose
 * first word is the jbd2 magic (escaped), an uncommitted transaction that
 * must not be replayed, checksum v2 with 32-bit tags and a revoke record,
 * v1 (crc32_be) checksums and no checksums on ext3 volumes of 1 and 2 KiB
 * blocks, and a transaction of real metadata (the blocks debugfs changed to
 * create files and a folder, logged onto the image as it was before): the
 * whole tree must then be what e2fsck recovers. Damage: a commit block with
 * a bad checksum (its transaction is not replayed, one warning), a journal
 * superblock with a bad checksum and an external journal needing recovery
 * (both refused with one line). And the journal left alone: a clean ext3
 * journal mounts writable (e2fsck clean after writes), an empty log with
 * needs_recovery set mounts read-only as it is.
 */
// SOURCES: $(EXT2_SOURCES)

#define _GNU_SOURCE
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
    "dir_nlink,extra_isize,metadata_csum"
#define EXT3_FEATURES "has_journal,ext_attr,resize_inode,dir_index,filetype,sparse_super,large_file"

static char Image[300];

/**
 * Makes Image (-O none,Features, BlockSize) with files f and g of one block
 * of 'A', writes the block-sized pattern files A.bin B.bin C.bin M.bin
 * (M.bin starts with the jbd2 magic) and BB.bin (two blocks of 'B') in the
 * work folder, then runs Script through `debugfs -w -f -` with $F and $G set
 * to f's and g's blocks.
 */
static void MakeJournal(const char* Features, U32 BlockSize, const char* Script) {
    TestWorkDir();
    snprintf(Image, sizeof(Image), "%s/journal.img", TestWork);
    TestMust("cd %s && rm -f journal.img && head -c %u /dev/zero | tr '\\0' A > A.bin && "
             "head -c %u /dev/zero | tr '\\0' B > B.bin && head -c %u /dev/zero | tr '\\0' C > C.bin && "
             "cat B.bin B.bin > BB.bin && (printf '\\300\\073\\071\\230'; head -c %u /dev/zero | tr '\\0' M) > M.bin",
             TestWork, BlockSize, BlockSize, BlockSize, BlockSize - 4);
    TestMust("cd %s && mke2fs -q -F -b %u -O none,%s journal.img 32M && debugfs -w -R 'write A.bin f' journal.img && "
             "debugfs -w -R 'write A.bin g' journal.img",
             TestWork, BlockSize, Features);
    TestMust("cd %s && F=$(debugfs -R 'blocks f' journal.img 2>/dev/null | tr -d ' \\n') && "
             "G=$(debugfs -R 'blocks g' journal.img 2>/dev/null | tr -d ' \\n') && "
             "printf '%s' | sed \"s/\\$F/$F/g; s/\\$G/$G/g\" | debugfs -w -f - journal.img > /dev/null 2>&1",
             TestWork, Script);
    assert_true(TestDebugfsStatField(Image, "/f", "Links: ") == 1);
    char Output[4096];
    TestRun(Output, sizeof(Output), "dumpe2fs -h %s 2>/dev/null | grep 'features:'", Image);
    assert_non_null(strstr(Output, "needs_recovery"));
}

static U8* ReadWholeImage(size_t* Size) { return ReadImage(Image, Size); }

/** The bytes of Path in a copy of the image that `e2fsck -fy` recovered (Linux's own replay). */
static U8* RecoveredByE2fsck(const char* Path, size_t* Size) {
    char Reference[320];
    snprintf(Reference, sizeof(Reference), "%s.ref", Image);
    TestMust("cp %s %s && (e2fsck -fy %s > /dev/null 2>&1; true)", Image, Reference, Reference);
    U8* Data = TestDebugfsCat(Reference, Path, Size);
    unlink(Reference);
    return Data;
}

typedef struct {
    TEST_DISK* Disk;
    U8* Before;               // the image before the mount
    size_t Size;
} MOUNTED;

static void MountReplayed(MOUNTED* Mounted, U32 SectorSize, BOOL ReadOnlyDisk) {
    Mounted->Before = ReadWholeImage(&Mounted->Size);
    Mounted->Disk = TestDiskOpen(Image, SectorSize, DISK_TYPE_RAM);
    if (ReadOnlyDisk) assert_int_equal(DiskSetAccess(&Mounted->Disk->Disk, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    TestResetLog();
    assert_int_equal(VFSMount(Mounted->Disk->Disk.Name, "/mnt/j", FALSE), VFS_OK);
    VFS_STATFS StatFs;
    assert_int_equal(VFSStatFs("/mnt/j", &StatFs, NULL), VFS_OK);
    assert_true(StatFs.ReadOnly);
    assert_string_equal(StatFs.ReadOnlyReason, "journal replayed in memory");
    EXT2_VOLUME_STATE State;
    EXT2GetVolumeState(VFSHostVolume("/mnt/j"), &State);
    assert_true(State.JournalReplayed);
    // Writing is refused, and the disk gets nothing.
    assert_int_equal(TestVfsWriteFile("/mnt/j/new", "x", 1, NULL), VFS_ERROR_READ_ONLY);
}

/** Unmounts; the image must be exactly what it was and the disk must have had no write. */
static void UnmountReplayed(MOUNTED* Mounted) {
    assert_int_equal(VFSUnmount("/mnt/j"), VFS_OK);
    assert_int_equal(Mounted->Disk->Writes, 0);
    TestDiskClose(Mounted->Disk);
    size_t Size;
    U8* After = ReadWholeImage(&Size);
    assert_int_equal(Size, Mounted->Size);
    assert_memory_equal(Mounted->Before, After, Size);
    free(After);
    free(Mounted->Before);
    TestAssertUnlocked();
}

/** A file reads through the VFS as e2fsck's recovery left it, and starts with Expected. */
static void ExpectFile(const char* Path, const char* Expected) {
    char Cairn[300];
    snprintf(Cairn, sizeof(Cairn), "/mnt/j%s", Path);
    U64 Size;
    U8* Data = TestVfsReadAll(Cairn, &Size);
    size_t ReferenceSize;
    U8* Reference = RecoveredByE2fsck(Path, &ReferenceSize);
    assert_int_equal(Size, ReferenceSize);
    assert_memory_equal(Data, Reference, Size);
    assert_memory_equal(Data, Expected, strlen(Expected));
    free(Data);
    free(Reference);
}

static U32 OverlayBlocks(void) {
    EXT2_VOLUME_STATE State;
    EXT2GetVolumeState(VFSHostVolume("/mnt/j"), &State);
    return State.OverlayBlocks;
}

/************************************************************************/
// Replays

static void TestChecksumV3Escape(void** State) {
    (void)State;
    // Transaction 1 logs f as B, 2 logs g as M.bin (escaped), 3 logs f as C but never commits.
    MakeJournal(EXT4_FEATURES, 4096, "jo -c\\njw -b $F B.bin\\njw -b $G M.bin\\njw -b $F -c C.bin\\njc\\n");
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, FALSE);
    assert_int_equal(OverlayBlocks(), 2);
    ExpectFile("/f", "BBBB");
    ExpectFile("/g", "\xC0\x3B\x39\x98MMMM");
    assert_int_equal(TestWarnings, 0);
    UnmountReplayed(&Mounted);
}

static void TestChecksumV2Revoke(void** State) {
    (void)State;
    // One transaction logs f and g as B; the next revokes f: f stays A.
    MakeJournal(EXT4_FEATURES ",^64bit", 4096, "jo -c -v 2\\njw -b $F,$G BB.bin\\njw -r $F\\njc\\n");
    MOUNTED Mounted;
    MountReplayed(&Mounted, 4096, FALSE);
    assert_int_equal(OverlayBlocks(), 1);
    ExpectFile("/f", "AAAA");
    ExpectFile("/g", "BBBB");
    UnmountReplayed(&Mounted);
}

static void TestChecksumV1Ext3(void** State) {
    (void)State;
    // ext3, 1 KiB blocks: `jo -c` gives the v1 (crc32_be) commit checksum; a read-only disk replays the same.
    MakeJournal(EXT3_FEATURES, 1024, "jo -c\\njw -b $F B.bin\\njw -b $G M.bin\\njc\\n");
    char Output[4096];
    TestRun(Output, sizeof(Output), "dumpe2fs -h %s 2>/dev/null | grep 'Journal features'", Image);
    assert_non_null(strstr(Output, "journal_checksum"));
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, TRUE);
    VFS_STATFS StatFs;
    assert_int_equal(VFSStatFs("/mnt/j", &StatFs, NULL), VFS_OK);
    assert_string_equal(StatFs.Type, "ext3");
    ExpectFile("/f", "BBBB");
    ExpectFile("/g", "\xC0\x3B\x39\x98MMMM");
    UnmountReplayed(&Mounted);
}

static void TestNoChecksums(void** State) {
    (void)State;
    MakeJournal(EXT3_FEATURES, 2048, "jo\\njw -b $F,$G BB.bin\\njw -b $G C.bin\\njc\\n");
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, FALSE);
    ExpectFile("/f", "BBBB");
    ExpectFile("/g", "CCCC");
    UnmountReplayed(&Mounted);
}

/**
 * A real transaction: debugfs makes files and a folder on a copy; the blocks
 * that changed are logged onto the original as one committed transaction.
 * After replay the whole tree must be what e2fsck recovers.
 */
static void TestMetadataTransaction(void** State) {
    (void)State;
    TestWorkDir();
    snprintf(Image, sizeof(Image), "%s/journal.img", TestWork);
    TestMust("cd %s && rm -rf meta journal.img && mkdir -p meta/old && echo before > meta/old/kept && "
             "mke2fs -q -F -b 4096 -O none,%s -d meta journal.img 32M && cp journal.img changed.img && "
             "head -c 20000 /dev/urandom > new.bin && echo hello > hello.txt && "
             "debugfs -w -R 'mkdir made' changed.img && debugfs -w -R 'write new.bin made/new.bin' changed.img && "
             "debugfs -w -R 'write hello.txt hello.txt' changed.img && debugfs -w -R 'rm old/kept' changed.img",
             TestWork, EXT4_FEATURES);
    // The changed blocks, in order, into one file; then logged (one transaction, checksum v3).
    TestMust("cd %s && cmp -l journal.img changed.img | awk '{print int(($1 - 1) / 4096)}' | uniq > changed.list && "
             "rm -f changed.blocks && for B in $(cat changed.list); do "
             "dd if=changed.img of=changed.blocks bs=4096 skip=$B count=1 oflag=append conv=notrunc status=none; done && "
             "printf 'jo -c\\njw -b %%s changed.blocks\\njc\\n' $(paste -sd, changed.list) | "
             "debugfs -w -f - journal.img > /dev/null 2>&1",
             TestWork);
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, FALSE);
    assert_true(OverlayBlocks() >= 5);
    // The whole tree as e2fsck recovers it (rdump of the recovered copy; lost+found is skipped by CompareTree).
    TestMust("cd %s && cp journal.img recovered.img && (e2fsck -fy recovered.img > /dev/null 2>&1; true) && "
             "rm -rf dumped && mkdir dumped && debugfs -R 'rdump / dumped' recovered.img > /dev/null 2>&1 && "
             "rm -rf dumped/lost+found",
             TestWork);
    char Dumped[320];
    snprintf(Dumped, sizeof(Dumped), "%s/dumped", TestWork);
    assert_int_equal(CompareTree(Dumped, "/mnt/j", 0), 4);  // made, made/new.bin, hello.txt, old (now empty)
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/j/old/kept", &Stat), VFS_ERROR_NOT_FOUND);
    UnmountReplayed(&Mounted);
}

/************************************************************************/
// Damage

/** The journal block (a volume block) holding log block Index of the image's journal. */
static U64 JournalBlock(U32 Index) {
    char Output[8192];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'bmap <8> %u' %s 2>/dev/null", Index, Image), 0);
    return strtoull(Output, NULL, 10);
}

static void TestCorruptCommit(void** State) {
    (void)State;
    // Log blocks: 1 descriptor, 2 data, 3 commit (tid 1); 4 descriptor, 5 data, 6 commit (tid 2).
    MakeJournal(EXT4_FEATURES, 4096, "jo -c\\njw -b $F B.bin\\njw -b $G C.bin\\njc\\n");
    U64 Commit = JournalBlock(6);
    PatchU32(Image, Commit * 4096 + 0x40, 0x12345678);  // inside the commit block: its checksum no longer holds
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, FALSE);
    // Transaction 1 replayed, 2 not (as e2fsck does: it keeps what precedes the corrupt commit).
    U64 Size;
    U8* Data = TestVfsReadAll("/mnt/j/f", &Size);
    assert_int_equal(Data[0], 'B');
    free(Data);
    Data = TestVfsReadAll("/mnt/j/g", &Size);
    assert_int_equal(Data[0], 'A');
    free(Data);
    assert_int_equal(TestWarnings, 1);
    assert_non_null(strstr(TestLastWarning, "journal transaction 2 is corrupt"));
    UnmountReplayed(&Mounted);
}

static void MountRefused(const char* Reason) {
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/j", FALSE), VFS_ERROR_INVALID);
    assert_int_equal(TestWarnings, 1);
    assert_non_null(strstr(TestLastWarning, Reason));
    assert_int_equal(Disk->Writes, 0);
    TestDiskClose(Disk);
    TestAssertUnlocked();
}

static void TestBadJournalSuperblock(void** State) {
    (void)State;
    MakeJournal(EXT4_FEATURES, 4096, "jo -c\\njw -b $F B.bin\\njc\\n");
    U64 Super = JournalBlock(0);
    PatchU32(Image, Super * 4096 + 0x200, 0xDEADBEEF);  // inside the checksummed 1024 bytes
    MountRefused("superblock checksum is bad");
}

static void TestExternalJournalNeedsRecovery(void** State) {
    (void)State;
    TestWorkDir();
    snprintf(Image, sizeof(Image), "%s/journal.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -b 4096 -O none,%s,^has_journal %s 16M && "
             "debugfs -w -R 'feature has_journal,needs_recovery' %s && debugfs -w -R 'ssv journal_dev 0x9999' %s && "
             "debugfs -w -R 'ssv journal_uuid 11111111-2222-3333-4444-555555555555' %s",
             Image, EXT4_FEATURES, Image, Image, Image, Image);
    MountRefused("external journal");
}

/************************************************************************/
// Journals left alone

static void TestCleanExt3Writable(void** State) {
    (void)State;
    TestWorkDir();
    snprintf(Image, sizeof(Image), "%s/ext3.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -b 1024 -O none,%s -I 256 %s 16M", Image, EXT3_FEATURES, Image);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/j", FALSE), VFS_OK);
    VFS_STATFS StatFs;
    assert_int_equal(VFSStatFs("/mnt/j", &StatFs, NULL), VFS_OK);
    assert_string_equal(StatFs.Type, "ext3");
    assert_false(StatFs.ReadOnly);
    static U8 Data[300000];
    for (U32 I = 0; I < sizeof(Data); I++) Data[I] = TestPattern(I, 3);
    assert_int_equal(TestVfsWriteFile("/mnt/j/written", Data, sizeof(Data), NULL), VFS_OK);
    assert_int_equal(VFSMakeDirectory("/mnt/j/folder"), VFS_OK);
    assert_int_equal(TestVfsWriteFile("/mnt/j/folder/small", "small\n", 6, NULL), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/j"), VFS_OK);
    TestDiskClose(Disk);
    // e2fsck finds the volume clean, the journal untouched and clean; debugfs reads what was written.
    TestFsckClean(Image);
    size_t Size;
    U8* Read = TestDebugfsCat(Image, "/written", &Size);
    assert_int_equal(Size, sizeof(Data));
    assert_memory_equal(Read, Data, Size);
    free(Read);
    char Output[4096];
    TestRun(Output, sizeof(Output), "dumpe2fs -h %s 2>/dev/null | grep -E 'features:|Journal start'", Image);
    assert_null(strstr(Output, "needs_recovery"));
    assert_non_null(strstr(Output, "Journal start:            0"));
    assert_int_equal(TestWarnings, 0);
}

static void TestEmptyLogNeedsRecovery(void** State) {
    (void)State;
    TestWorkDir();
    snprintf(Image, sizeof(Image), "%s/journal.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -b 4096 -O none,%s %s 16M && echo hi > %s/hi && "
             "debugfs -w -R 'write %s/hi hi' %s && debugfs -w -R 'feature needs_recovery' %s",
             Image, EXT4_FEATURES, Image, TestWork, TestWork, Image, Image);
    MOUNTED Mounted;
    MountReplayed(&Mounted, 512, FALSE);
    assert_int_equal(OverlayBlocks(), 0);
    ExpectFile("/hi", "hi\n");
    UnmountReplayed(&Mounted);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestChecksumV3Escape, TestVfsPerTest),
        cmocka_unit_test_setup(TestChecksumV2Revoke, TestVfsPerTest),
        cmocka_unit_test_setup(TestChecksumV1Ext3, TestVfsPerTest),
        cmocka_unit_test_setup(TestNoChecksums, TestVfsPerTest),
        cmocka_unit_test_setup(TestMetadataTransaction, TestVfsPerTest),
        cmocka_unit_test_setup(TestCorruptCommit, TestVfsPerTest),
        cmocka_unit_test_setup(TestBadJournalSuperblock, TestVfsPerTest),
        cmocka_unit_test_setup(TestExternalJournalNeedsRecovery, TestVfsPerTest),
        cmocka_unit_test_setup(TestCleanExt3Writable, TestVfsPerTest),
        cmocka_unit_test_setup(TestEmptyLogNeedsRecovery, TestVfsPerTest),
    };
    return cmocka_run_group_tests(Tests, TestVfsSetup, TestVfsTeardown);
}

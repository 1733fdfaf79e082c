/*
 * Test-EXT2.c - the EXT2 driver and the VFS on the host, reading images that
 * e2fsprogs made, and surviving images that are damaged on purpose.
 *
 * Each configuration builds a tree on the host (files of many sizes up to
 * triple indirect blocks and past 4 GiB, holes, deep folders, fast and slow
 * symbolic links, hard links, a folder of many blocks), turns it into an
 * image with `mke2fs -t ext2 -d`, mounts it through a file-backed DISK and
 * compares every folder listing, type, mode, size, link count, link target
 * and file byte with the host tree. Configurations: 1, 2 and 4 KiB blocks,
 * revisions 0 and 1, 512- and 4096-byte sectors, with the disk's sector
 * cache holding the metadata or (no disk cache) the volume's private one.
 * Then: an indexed folder (e2fsck -D), shared attribute blocks, a read-only
 * disk, features, and corrupt images (each must give errors, one warning,
 * no crash under ASan; a read across a damaged indirect block returns the
 * bytes before it first).
 */
// SOURCES: $(EXT2_SOURCES)

#define _GNU_SOURCE  // SEEK_DATA, SEEK_HOLE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "EXT2-TestTree.h"
#include "block/Cache.h"
#include "fs/ext2/EXT2.h"

#define MIB (1024ULL * 1024ULL)

/************************************************************************/
// The reference tree

/** Builds the tree under Root; Huge adds the sparse file that needs triple indirect blocks. */
static void BuildTree(const char* Root, U32 BlockSize, BOOL Huge) {
    char Path[1024];
    U64 Pointers = BlockSize / 4;
    TestMust("rm -rf %s && mkdir -p %s", Root, Root);
    struct {
        const char* Name;
        U64 Size;
    } Files[] = {
        {"empty", 0},
        {"one", 1},
        {"block", BlockSize},
        {"block-plus-one", BlockSize + 1},
        {"direct-full", 12ULL * BlockSize},
        {"single-start", 13ULL * BlockSize - 100},
        {"double-start", (12 + Pointers + 3) * BlockSize + 77},
        {"few-mib", 3 * MIB + 7},
    };
    for (U32 I = 0; I < sizeof(Files) / sizeof(Files[0]); I++) {
        snprintf(Path, sizeof(Path), "%s/%s", Root, Files[I].Name);
        TestWriteHostFile(Path, Files[I].Size, I + 1);
    }
    U64 Holes[] = {0, 100 * 1024, MIB + 3000};
    snprintf(Path, sizeof(Path), "%s/sparse", Root);
    TestWriteSparseFile(Path, 2 * MIB + 5, Holes, 3, 50);
    if (Huge) {
        // Triple indirect starts at block 12 + P + P^2: 64.3 MiB with 1 KiB blocks, 512 MiB with 2 KiB,
        // 4 GiB with 4 KiB (where it also needs large_file).
        U64 Size = BlockSize == 1024 ? 70 * MIB : BlockSize == 2048 ? 600 * MIB : 5 * 1024 * MIB;
        U64 Offsets[] = {0, Size / 2, Size - 4096};
        snprintf(Path, sizeof(Path), "%s/huge-sparse", Root);
        TestWriteSparseFile(Path, Size, Offsets, 3, 51);
    }
    // Deep folders with a file at the bottom.
    char Deep[512];
    snprintf(Deep, sizeof(Deep), "%s", Root);
    for (U32 Level = 0; Level < 20; Level++) {
        size_t Used = strlen(Deep);
        snprintf(Deep + Used, sizeof(Deep) - Used, "/d%u", Level);
        assert_int_equal(mkdir(Deep, 0755), 0);
    }
    snprintf(Path, sizeof(Path), "%s/bottom.txt", Deep);
    TestWriteHostFile(Path, 333, 60);
    // Symbolic links: fast (target in the inode), slow (target in a block), dangling, absolute, to a folder.
    TestMust("cd %s && ln -s one fast-link"
             " && ln -s d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/bottom.txt slow-link"
             " && ln -s nowhere dangling && ln -s /mnt/elsewhere/file absolute && ln -s d0/d1 folder-link"
             " && ln few-mib hard-link && chmod 0600 one && chmod 0751 d0",
             Root);
    // A folder of many blocks, and long names.
    snprintf(Path, sizeof(Path), "%s/many", Root);
    assert_int_equal(mkdir(Path, 0755), 0);
    for (U32 I = 0; I < 150; I++) {
        snprintf(Path, sizeof(Path), "%s/many/entry-with-a-fairly-long-name-%03u", Root, I);
        TestWriteHostFile(Path, I, 100 + I);
    }
    char Long[256];
    memset(Long, 'n', 255);
    Long[255] = 0;
    snprintf(Path, sizeof(Path), "%s/%s", Root, Long);
    TestWriteHostFile(Path, 10, 99);
}

/************************************************************************/
// Reading the configurations

typedef struct {
    U32 BlockSize;
    U32 SectorSize;
    U32 Revision;
    BOOL Cached;  // the disk has a sector cache (else the volume pins its blocks in a private one)
} READ_CONFIG;

static void ReadConfiguration(const READ_CONFIG* Config) {
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/tree-%u", TestWork, Config->BlockSize);
    snprintf(Image, sizeof(Image), "%s/read-%u-%u-%u.img", TestWork, Config->BlockSize, Config->SectorSize,
             Config->Revision);
    BuildTree(Source, Config->BlockSize, TRUE);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -r %u -d %s %s 24M", Image, Config->BlockSize, Config->Revision,
             Source, Image);
    DiskSetCacheBudget(Config->Cached ? CACHE_DEFAULT_BUDGET : 0);
    TEST_DISK* Disk = TestDiskOpen(Image, Config->SectorSize, DISK_TYPE_RAM);
    DiskSetCacheBudget(CACHE_DEFAULT_BUDGET);
    assert_true((Disk->Disk.Cache != NULL) == Config->Cached);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/read", FALSE), VFS_OK);
    TestAssertUnlocked();

    VFS_STATFS StatFs;
    VFS_MOUNT_INFO Info;
    assert_int_equal(VFSStatFs("/mnt/read", &StatFs, &Info), VFS_OK);
    assert_int_equal(StatFs.BlockSize, Config->BlockSize);
    assert_string_equal(Info.Device, Disk->Disk.Name);
    assert_string_equal(Info.Type, "ext2");
    U32 Checked = CompareTree(Source, "/mnt/read", 0);
    assert_int_equal(Checked, 189);  // every entry BuildTree made

    // Through symbolic links: the slow link reaches the deep file, the folder link lists, ".." after it is physical.
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/read/slow-link", &Stat), VFS_OK);
    assert_int_equal(Stat.Size, 333);
    assert_int_equal(VFSStat("/mnt/read/folder-link/d2/d3", &Stat), VFS_OK);
    assert_true(VFS_IS_DIRECTORY(Stat.Mode));
    char Resolved[VFS_MAX_PATH];
    assert_int_equal(VFSResolvePath("/mnt/read/folder-link/..", TRUE, Resolved, sizeof(Resolved)), VFS_OK);
    assert_string_equal(Resolved, "/mnt/read/d0");
    assert_int_equal(VFSStat("/mnt/read/dangling", &Stat), VFS_ERROR_NOT_FOUND);
    assert_int_equal(VFSLinkStat("/mnt/read/dangling", &Stat), VFS_OK);

    // Nothing above found a problem.
    assert_int_equal(TestWarnings, 0);
    assert_int_equal(VFSUnmount("/mnt/read"), VFS_OK);
    TestAssertUnlocked();
    TestDiskClose(Disk);
    // Reading (with relatime updates) and unmounting leave a clean file system.
    TestFsckClean(Image);
    TestMust("rm -f %s", Image);
}

static void TestRead1K(void** State) {
    (void)State;
    READ_CONFIG Config = {1024, 512, 1, TRUE};
    ReadConfiguration(&Config);
}

static void TestRead1KRevision0Sector4K(void** State) {
    (void)State;
    READ_CONFIG Config = {1024, 4096, 0, FALSE};
    ReadConfiguration(&Config);
}

static void TestRead2KSector4K(void** State) {
    (void)State;
    READ_CONFIG Config = {2048, 4096, 1, TRUE};
    ReadConfiguration(&Config);
}

static void TestRead4K(void** State) {
    (void)State;
    READ_CONFIG Config = {4096, 512, 1, FALSE};
    ReadConfiguration(&Config);
}

static void TestRead4KSector4K(void** State) {
    (void)State;
    READ_CONFIG Config = {4096, 4096, 1, TRUE};
    ReadConfiguration(&Config);
}

/************************************************************************/
// Indexed folders, attribute blocks, read-only disks, features

static void MakeSmallImage(const char* Image, U32 BlockSize, const char* Size) {
    char Source[300];
    snprintf(Source, sizeof(Source), "%s/small", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/sub && echo aaa > %s/a && echo bbb > %s/b && echo ccc > %s/sub/c", Source,
             Source, Source, Source, Source);
    char Path[400];
    snprintf(Path, sizeof(Path), "%s/big", Source);
    TestWriteHostFile(Path, 600 * 1024, 7);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -d %s %s %s", Image, BlockSize, Source, Image, Size);
}

static void TestIndexedFolder(void** State) {
    (void)State;
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/indexed", TestWork);
    snprintf(Image, sizeof(Image), "%s/indexed.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/big", Source, Source);
    for (U32 I = 0; I < 400; I++) {
        char Path[400];
        snprintf(Path, sizeof(Path), "%s/big/file_with_a_longish_name_%u", Source, I);
        TestWriteHostFile(Path, 5, I);
    }
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 -d %s %s 8M && (e2fsck -fyD %s > /dev/null || true)", Image,
             Source, Image, Image);
    assert_true(TestDebugfsStatField(Image, "/big", "Flags: ") & 0x1000);  // EXT2_INDEX_FL

    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/ix", FALSE), VFS_OK);
    U32 Count;
    char** Names = CairnList("/mnt/ix/big", &Count, NULL);
    assert_int_equal(Count, 400);
    FreeList(Names, Count);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/ix/big/file_with_a_longish_name_399", &Stat), VFS_OK);
    assert_int_equal(Stat.Size, 5);
    // Changing the folder drops its index flag; e2fsck accepts the result.
    assert_int_equal(TestVfsWriteFile("/mnt/ix/big/added", "x", 1, NULL), VFS_OK);
    assert_int_equal(VFSUnlink("/mnt/ix/big/file_with_a_longish_name_7"), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/ix"), VFS_OK);
    TestDiskClose(Disk);
    assert_int_equal(TestDebugfsStatField(Image, "/big", "Flags: ") & 0x1000, 0);
    TestFsckClean(Image);
    assert_int_equal(TestWarnings, 0);
    TestAssertUnlocked();
}

static void TestAttributeBlocks(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300], Value[300];
    snprintf(Image, sizeof(Image), "%s/xattr.img", TestWork);
    snprintf(Value, sizeof(Value), "%s/xattr-value", TestWork);
    MakeSmallImage(Image, 1024, "4M");
    TestMust("head -c 300 /dev/zero | tr '\\0' 'v' > %s && debugfs -w -R 'ea_set -f %s /a user.big' %s", Value,
             Value, Image);
    unsigned long long Block = TestDebugfsStatField(Image, "/a", "File ACL: ");
    assert_true(Block > 0);
    // Share the block with /b (refcount 2), as the kernel does for identical attribute sets.
    TestMust("debugfs -w -R 'sif /b file_acl %llu' %s && debugfs -w -R 'sif /b blocks 4' %s", Block, Image, Image);
    int Descriptor = open(Image, O_RDWR);
    U32 Two = 2;
    assert_int_equal(pwrite(Descriptor, &Two, 4, (off_t)(Block * 1024 + 4)), 4);
    close(Descriptor);
    TestFsckClean(Image);

    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/xa", FALSE), VFS_OK);
    VFS_STATFS Before, After;
    assert_int_equal(VFSStatFs("/mnt/xa", &Before, NULL), VFS_OK);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/xa/a", &Stat), VFS_OK);
    assert_int_equal(Stat.Blocks, 4);  // one data block and the attribute block, in 512-byte units
    assert_int_equal(VFSUnlink("/mnt/xa/a"), VFS_OK);
    assert_int_equal(VFSStatFs("/mnt/xa", &After, NULL), VFS_OK);
    assert_int_equal(After.FreeBlocks, Before.FreeBlocks + 1);  // the data block only: /b still uses the attributes
    assert_int_equal(VFSSyncAll(), VFS_OK);
    TestFsckClean(Image);
    assert_int_equal(VFSUnlink("/mnt/xa/b"), VFS_OK);
    assert_int_equal(VFSStatFs("/mnt/xa", &After, NULL), VFS_OK);
    assert_int_equal(After.FreeBlocks, Before.FreeBlocks + 3);  // now the attribute block too
    assert_int_equal(VFSUnmount("/mnt/xa"), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    assert_int_equal(TestWarnings, 0);
}

static void TestReadOnlyDisk(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/readonly.img", TestWork);
    MakeSmallImage(Image, 4096, "4M");
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/ro", FALSE), VFS_OK);
    assert_int_equal(VFSSyncAll(), VFS_OK);
    assert_int_equal(DiskSetAccess(&Disk->Disk, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    size_t SizeBefore, SizeAfter;
    U8* Before = ReadImage(Image, &SizeBefore);
    U64 WritesBefore = Disk->Writes;

    U32 Written = 1;
    assert_int_equal(TestVfsWriteFile("/mnt/ro/new", "data", 4, &Written), VFS_ERROR_READ_ONLY);
    assert_int_equal(TestVfsWriteFile("/mnt/ro/a", "data", 4, &Written), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSMakeDirectory("/mnt/ro/dir"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSUnlink("/mnt/ro/a"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSRemoveDirectory("/mnt/ro/sub"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSRename("/mnt/ro/a", "/mnt/ro/z"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSTruncate("/mnt/ro/big", 10), VFS_ERROR_READ_ONLY);
    U64 Size;
    U8* Data = TestVfsReadAll("/mnt/ro/a", &Size);  // reading works (and updates no access time)
    assert_int_equal(Size, 4);
    assert_memory_equal(Data, "aaa\n", 4);
    free(Data);
    VFS_STATFS StatFs;
    assert_int_equal(VFSStatFs("/mnt/ro", &StatFs, NULL), VFS_OK);
    assert_true(StatFs.ReadOnly);
    assert_int_equal(VFSSyncAll(), VFS_OK);

    assert_int_equal(Disk->Writes, WritesBefore);
    U8* After = ReadImage(Image, &SizeAfter);
    assert_int_equal(SizeBefore, SizeAfter);
    assert_memory_equal(Before, After, SizeBefore);
    free(Before);
    free(After);

    // Writable again: the same volume takes writes.
    assert_int_equal(DiskSetAccess(&Disk->Disk, 0), KSTATUS_SUCCESS);
    assert_int_equal(TestVfsWriteFile("/mnt/ro/new", "data", 4, &Written), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/ro"), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    TestAssertUnlocked();
}

static void TestFeatures(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/features.img", TestWork);

    // An unknown incompatible feature refuses the mount and names it.
    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 96, ReadU32(Image, 1024 + 96) | 0x10000);  // encrypt
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/feat", FALSE), VFS_ERROR_NOT_SUPPORTED);
    assert_non_null(strstr(TestAllWarnings, "encrypt"));
    TestDiskClose(Disk);

    // An unknown read-only-compatible feature mounts read-only, with a warning naming it.
    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 100, ReadU32(Image, 1024 + 100) | 0x40000);
    Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/feat", FALSE), VFS_OK);
    assert_non_null(strstr(TestAllWarnings, "FEATURE_R18"));
    assert_int_equal(TestVfsWriteFile("/mnt/feat/new", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    U64 Size;
    free(TestVfsReadAll("/mnt/feat/big", &Size));
    assert_int_equal(Size, 600 * 1024);
    assert_int_equal(VFSUnmount("/mnt/feat"), VFS_OK);
    TestDiskClose(Disk);

    // A known ext4 feature (huge_file) makes the volume ext4: read, not written, no warning; statfs says why.
    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 100, ReadU32(Image, 1024 + 100) | 0x8);
    Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/feat", FALSE), VFS_OK);
    assert_int_equal(TestWarnings, 0);
    VFS_STATFS StatFs;
    VFS_MOUNT_INFO Info;
    assert_int_equal(VFSStatFs("/mnt/feat", &StatFs, &Info), VFS_OK);
    assert_string_equal(StatFs.Type, "ext4");
    assert_string_equal(Info.Type, "ext4");
    assert_true(StatFs.ReadOnly && Info.ReadOnly);
    assert_string_equal(StatFs.ReadOnlyReason, "ext4 features are read-only");
    assert_int_equal(TestVfsWriteFile("/mnt/feat/new", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    free(TestVfsReadAll("/mnt/feat/big", &Size));
    assert_int_equal(Size, 600 * 1024);
    assert_int_equal(VFSUnmount("/mnt/feat"), VFS_OK);
    TestDiskClose(Disk);
    TestResetLog();
    TestAssertUnlocked();
}

/************************************************************************/
// Corruption

/** The first block number debugfs lists for Path's blocks ("blocks" command). */
static unsigned long FirstBlockOf(const char* Image, const char* Path) {
    char Output[4096];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'blocks %s' %s 2>/dev/null", Path, Image), 0);
    return strtoul(Output, NULL, 10);
}

/** The number after Tag ("(DIND):") in debugfs's stat output of Path. */
static unsigned long StatTag(const char* Image, const char* Path, const char* Tag) {
    char Output[8192];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'stat %s' %s 2>/dev/null", Path, Image), 0);
    char* Found = strstr(Output, Tag);
    assert_non_null(Found);
    return strtoul(Found + strlen(Tag), NULL, 10);
}

static TEST_DISK* MountCorrupt(const char* Image, VFS_STATUS Expected) {
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    TestResetLog();
    VFS_STATUS Status = VFSMount(Disk->Disk.Name, "/mnt/bad", FALSE);
    assert_int_equal(Status, Expected);
    TestAssertUnlocked();
    if (Status != VFS_OK) {
        TestDiskClose(Disk);
        return NULL;
    }
    return Disk;
}

static void UnmountCorrupt(TEST_DISK* Disk) {
    assert_int_equal(VFSUnmount("/mnt/bad"), VFS_OK);
    TestDiskClose(Disk);
    TestAssertUnlocked();
}

static void TestCorruptSuperblocks(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/corrupt-super.img", TestWork);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 56, 0x1234);  // magic
    MountCorrupt(Image, VFS_ERROR_WRONG_TYPE);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 32, 0);  // blocks per group
    MountCorrupt(Image, VFS_ERROR_INVALID);
    assert_int_equal(TestWarnings, 1);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 40, 0);  // inodes per group
    MountCorrupt(Image, VFS_ERROR_INVALID);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 4, 4096 * 4);  // blocks count larger than the disk
    MountCorrupt(Image, VFS_ERROR_INVALID);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 1024 + 24, 7);  // log block size
    MountCorrupt(Image, VFS_ERROR_INVALID);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 2048 + 0, 999999);  // group 0 block bitmap far outside
    MountCorrupt(Image, VFS_ERROR_INVALID);

    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, 2048 + 8, 1);  // group 0 inode table on the superblock
    MountCorrupt(Image, VFS_ERROR_INVALID);
}

static void TestCorruptFolder(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/corrupt-folder.img", TestWork);
    MakeSmallImage(Image, 1024, "4M");
    unsigned long Block = FirstBlockOf(Image, "/sub");
    assert_true(Block > 0);
    // The first entry ("."): record length 0.
    int Descriptor = open(Image, O_RDWR);
    U16 Zero = 0;
    assert_int_equal(pwrite(Descriptor, &Zero, 2, (off_t)(Block * 1024 + 4)), 2);
    close(Descriptor);

    TEST_DISK* Disk = MountCorrupt(Image, VFS_OK);
    VFS_DIRECTORY* Directory;
    assert_int_equal(VFSOpenDirectory("/mnt/bad/sub", &Directory), VFS_OK);
    VFS_DIRECTORY_ENTRY Entry;
    BOOL End;
    assert_int_equal(VFSReadDirectory(Directory, &Entry, &End), VFS_ERROR_IO);
    VFSCloseDirectory(Directory);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/bad/sub/c", &Stat), VFS_ERROR_IO);
    assert_int_equal(TestWarnings, 1);
    assert_non_null(strstr(TestLastWarning, "read-only"));
    // Read-only from now on, and no second warning.
    assert_int_equal(TestVfsWriteFile("/mnt/bad/new", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSRemoveDirectory("/mnt/bad/sub"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSStat("/mnt/bad/sub/c", &Stat), VFS_ERROR_IO);
    assert_int_equal(TestWarnings, 1);
    // The rest of the volume still reads.
    U64 Size;
    free(TestVfsReadAll("/mnt/bad/big", &Size));
    assert_int_equal(Size, 600 * 1024);
    UnmountCorrupt(Disk);
    // The error is recorded in the superblock state for e2fsck (s_state bit 1, the high half of offset 56).
    assert_true((ReadU32(Image, 1024 + 56) >> 16) & 0x2);
}

static void TestCorruptIndirect(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/corrupt-indirect.img", TestWork);

    // An indirect block pointing outside the volume: reads fail, the rest stays readable.
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'sif /big block[IND] 99999999' %s", Image);
    TEST_DISK* Disk = MountCorrupt(Image, VFS_OK);
    VFS_FILE* File;
    U8 Buffer[4096];
    U32 Done;
    assert_int_equal(VFSOpen("/mnt/bad/big", VFS_OPEN_READ, &File), VFS_OK);
    assert_int_equal(VFSRead(File, Buffer, 4096, &Done), VFS_OK);  // direct blocks are fine
    // A read across the damage returns the bytes before it (the 12 direct blocks); the next one, the error.
    static U8 Across[16384];
    assert_int_equal(VFSSeek(File, 0), VFS_OK);
    assert_int_equal(VFSRead(File, Across, sizeof(Across), &Done), VFS_OK);
    assert_int_equal(Done, 12 * 1024);
    for (U32 I = 0; I < Done; I++) assert_int_equal(Across[I], TestPattern(I, 7));
    assert_int_equal(VFSRead(File, Across, sizeof(Across), &Done), VFS_ERROR_IO);
    assert_int_equal(VFSSeek(File, 13 * 1024), VFS_OK);
    assert_int_equal(VFSRead(File, Buffer, 100, &Done), VFS_ERROR_IO);
    VFSClose(File);
    assert_int_equal(VFSUnlink("/mnt/bad/big"), VFS_ERROR_READ_ONLY);
    assert_int_equal(TestWarnings, 1);
    UnmountCorrupt(Disk);

    // The same found while deleting: the unlink fails and the volume turns read-only.
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'sif /big block[IND] 3' %s", Image);  // block 3: a descriptor-area block
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSUnlink("/mnt/bad/big"), VFS_ERROR_IO);
    assert_int_equal(TestVfsWriteFile("/mnt/bad/a", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    assert_int_equal(TestWarnings, 1);
    UnmountCorrupt(Disk);

    // A loop: the double indirect block's first entry points back at itself.
    MakeSmallImage(Image, 1024, "4M");
    unsigned long Double = StatTag(Image, "/big", "(DIND):");
    assert_true(Double > 0);
    PatchU32(Image, Double * 1024, (U32)Double);
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSOpen("/mnt/bad/big", VFS_OPEN_READ, &File), VFS_OK);
    assert_int_equal(VFSSeek(File, (12 + 256) * 1024), VFS_OK);
    assert_int_equal(VFSRead(File, Buffer, 100, &Done), VFS_ERROR_IO);
    VFSClose(File);
    UnmountCorrupt(Disk);
    MakeSmallImage(Image, 1024, "4M");
    PatchU32(Image, Double * 1024, (U32)Double);
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSUnlink("/mnt/bad/big"), VFS_ERROR_IO);  // truncation meets the loop
    assert_int_equal(TestWarnings, 1);
    UnmountCorrupt(Disk);
}

static void TestCorruptInodes(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/corrupt-inode.img", TestWork);

    // An entry naming an inode past the inode count.
    MakeSmallImage(Image, 1024, "4M");
    unsigned long Block = FirstBlockOf(Image, "/sub");
    PatchU32(Image, Block * 1024 + 24, 999999);  // entry 3 ("c") inode
    TEST_DISK* Disk = MountCorrupt(Image, VFS_OK);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/bad/sub/c", &Stat), VFS_ERROR_IO);
    UnmountCorrupt(Disk);

    // A deleted inode still named by a folder.
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'sif /a links_count 0' %s", Image);
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSStat("/mnt/bad/a", &Stat), VFS_ERROR_IO);
    assert_int_equal(VFSUnlink("/mnt/bad/a"), VFS_ERROR_READ_ONLY);  // read-only since the stat found it
    UnmountCorrupt(Disk);

    // A folder whose size is not whole blocks, and one with a hole.
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'sif /sub size 1000' %s", Image);
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSStat("/mnt/bad/sub/c", &Stat), VFS_ERROR_IO);
    UnmountCorrupt(Disk);
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'sif /sub block[0] 0' %s", Image);
    Disk = MountCorrupt(Image, VFS_OK);
    assert_int_equal(VFSStat("/mnt/bad/sub/c", &Stat), VFS_ERROR_IO);
    UnmountCorrupt(Disk);

    // A fast symbolic link claiming a target longer than i_block.
    MakeSmallImage(Image, 1024, "4M");
    TestMust("debugfs -w -R 'symlink /l a' %s && debugfs -w -R 'sif /l size 200' %s", Image, Image);
    Disk = MountCorrupt(Image, VFS_OK);
    char Target[VFS_MAX_PATH];
    assert_int_equal(VFSReadLink("/mnt/bad/l", Target, sizeof(Target)), VFS_ERROR_IO);
    assert_int_equal(VFSStat("/mnt/bad/l", &Stat), VFS_ERROR_IO);
    UnmountCorrupt(Disk);

    // A block bitmap saying metadata is free: the allocator refuses it.
    MakeSmallImage(Image, 1024, "4M");
    U32 Bitmap = ReadU32(Image, 2048);  // group 0 block bitmap
    PatchU32(Image, (U64)Bitmap * 1024, 0);  // blocks 1..32 (superblock, descriptors...) "free"
    Disk = MountCorrupt(Image, VFS_OK);
    // The allocator starts at the group's first block for a new file: it meets the lie at once.
    assert_int_equal(TestVfsWriteFile("/mnt/bad/new", "x", 1, NULL), VFS_ERROR_IO);
    assert_int_equal(TestVfsWriteFile("/mnt/bad/new2", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    assert_int_equal(TestWarnings, 1);
    UnmountCorrupt(Disk);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestRead1K, TestVfsPerTest),
        cmocka_unit_test_setup(TestRead1KRevision0Sector4K, TestVfsPerTest),
        cmocka_unit_test_setup(TestRead2KSector4K, TestVfsPerTest),
        cmocka_unit_test_setup(TestRead4K, TestVfsPerTest),
        cmocka_unit_test_setup(TestRead4KSector4K, TestVfsPerTest),
        cmocka_unit_test_setup(TestIndexedFolder, TestVfsPerTest),
        cmocka_unit_test_setup(TestAttributeBlocks, TestVfsPerTest),
        cmocka_unit_test_setup(TestReadOnlyDisk, TestVfsPerTest),
        cmocka_unit_test_setup(TestFeatures, TestVfsPerTest),
        cmocka_unit_test_setup(TestCorruptSuperblocks, TestVfsPerTest),
        cmocka_unit_test_setup(TestCorruptFolder, TestVfsPerTest),
        cmocka_unit_test_setup(TestCorruptIndirect, TestVfsPerTest),
        cmocka_unit_test_setup(TestCorruptInodes, TestVfsPerTest),
    };
    return cmocka_run_group_tests(Tests, TestVfsSetup, TestVfsTeardown);
}

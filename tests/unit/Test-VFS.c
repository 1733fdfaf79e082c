/*
 * Test-VFS.c - the VFS's own rules, on two small EXT2 images: mount points
 * and the synthetic folders that lead to them, the automatic mount of
 * partitions, absolute and relative paths ('.', '..', repeated and trailing
 * slashes, '..' across a mount root), the current folder, symbolic links
 * (relative, absolute, chains up to the depth limit of 8 and loops), the
 * POSIX error for each refusal, what unmounting refuses while in use, and
 * a mount table with no fixed size (40 mounts at once; there were 16).
 */
// SOURCES: $(EXT2_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"

static char ImageA[300], ImageB[300];
static TEST_DISK *DiskA, *DiskB;

/** Image A: folders, a file, and symbolic links made with debugfs (chains, a loop, relative and absolute). */
static void MakeImages(void) {
    TestWorkDir();
    char Source[300];
    snprintf(Source, sizeof(Source), "%s/vfs-src", TestWork);
    snprintf(ImageA, sizeof(ImageA), "%s/vfs-a.img", TestWork);
    snprintf(ImageB, sizeof(ImageB), "%s/vfs-b.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/dir/sub %s/empty && echo target > %s/file && echo deep > %s/dir/sub/leaf"
             " && cd %s && ln -s file l0 && for i in 1 2 3 4 5 6 7 8 9; do ln -s l$((i-1)) l$i; done"
             " && ln -s loop-b loop-a && ln -s loop-a loop-b && ln -s ../file dir/up && ln -s dir/sub subdir"
             " && ln -s /mnt/b/other absolute && ln -s /mnt/a/dir dir-absolute",
             Source, Source, Source, Source, Source, Source);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 -d %s %s 4M", ImageA, Source, ImageA);
    TestMust("rm -rf %s && mkdir -p %s && echo other > %s/other", Source, Source, Source);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 4096 -d %s %s 4M", ImageB, Source, ImageB);
}

static void ReadText(const char* Path, const char* Expected) {
    U64 Size;
    U8* Data = TestVfsReadAll(Path, &Size);
    assert_int_equal(Size, strlen(Expected));
    assert_memory_equal(Data, Expected, Size);
    free(Data);
}

static void Resolves(const char* Path, BOOL Follow, const char* Expected) {
    char Result[VFS_MAX_PATH];
    VFS_STATUS Status = VFSResolvePath(Path, Follow, Result, sizeof(Result));
    if (Status != VFS_OK) fprintf(stderr, "%s: %s\n", Path, VFSErrorString(Status));
    assert_int_equal(Status, VFS_OK);
    assert_string_equal(Result, Expected);
    TestAssertUnlocked();
}

static void Fails(const char* Path, VFS_STATUS Expected) {
    VFS_STAT Stat;
    assert_int_equal(VFSStat(Path, &Stat), Expected);
    TestAssertUnlocked();
}

static U32 ListCount(const char* Path, const char* Wanted, BOOL* Found) {
    VFS_DIRECTORY* Directory;
    assert_int_equal(VFSOpenDirectory(Path, &Directory), VFS_OK);
    U32 Count = 0;
    *Found = FALSE;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End;
        assert_int_equal(VFSReadDirectory(Directory, &Entry, &End), VFS_OK);
        if (End) break;
        Count++;
        if (strcmp(Entry.Name, Wanted) == 0) *Found = TRUE;
    }
    VFSCloseDirectory(Directory);
    TestAssertUnlocked();
    return Count;
}

static void TestMountsAndSyntheticFolders(void** State) {
    (void)State;
    BOOL Found;
    // Nothing mounted yet: "/" is an empty synthetic folder.
    assert_int_equal(ListCount("/", "mnt", &Found), 2);
    Fails("/mnt", VFS_ERROR_NOT_FOUND);
    assert_int_equal(VFSMount("nodisk", "/mnt/x", FALSE), VFS_ERROR_NO_DEVICE);

    assert_int_equal(VFSMount(DiskA->Disk.Name, "/mnt/a", FALSE), VFS_OK);
    assert_int_equal(VFSMount(DiskA->Disk.Name, "/mnt/again", FALSE), VFS_ERROR_BUSY);  // one mount per disk
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/a", FALSE), VFS_ERROR_BUSY);      // one volume per path
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/a/file", FALSE), VFS_ERROR_NOT_DIRECTORY);
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/a/missing/x", FALSE), VFS_ERROR_NOT_FOUND);
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/b", FALSE), VFS_OK);
    assert_int_equal(VFSGetMountCount(), 2);
    assert_int_equal(ListCount("/", "mnt", &Found), 3);
    assert_true(Found);
    assert_int_equal(ListCount("/mnt", "b", &Found), 4);  // ".", "..", "a", "b"
    assert_true(Found);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt", &Stat), VFS_OK);
    assert_true(VFS_IS_DIRECTORY(Stat.Mode));
    // Nothing can be created in a synthetic folder.
    assert_int_equal(VFSMakeDirectory("/mnt/c"), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSMakeDirectory("/mnt/a"), VFS_ERROR_EXISTS);
    assert_int_equal(VFSRemoveDirectory("/mnt/a"), VFS_ERROR_BUSY);
    assert_int_equal(VFSRemoveDirectory("/mnt"), VFS_ERROR_BUSY);
    assert_int_equal(VFSUnlink("/mnt/zzz"), VFS_ERROR_NOT_FOUND);
    assert_int_equal(TestVfsWriteFile("/mnt/newfile", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    // A volume mounted on a folder of another covers it; the mount point cannot be removed or renamed.
    assert_int_equal(VFSUnmount("/mnt/b"), VFS_OK);
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/a/empty", FALSE), VFS_OK);
    ReadText("/mnt/a/empty/other", "other\n");
    assert_int_equal(VFSRemoveDirectory("/mnt/a/empty"), VFS_ERROR_BUSY);
    assert_int_equal(VFSRename("/mnt/a/empty", "/mnt/a/moved"), VFS_ERROR_BUSY);
    assert_int_equal(VFSUnmount("/mnt/a"), VFS_ERROR_BUSY);  // something is mounted inside
    Resolves("/mnt/a/empty/..", TRUE, "/mnt/a");
    assert_int_equal(VFSUnmount("/mnt/a/empty"), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/a/empty"), VFS_ERROR_INVALID);  // not a mount point any more
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/b", FALSE), VFS_OK);
    assert_int_equal(TestWarnings, 0);
}

static void TestPaths(void** State) {
    (void)State;
    Resolves("/", TRUE, "/");
    Resolves("//mnt///a//dir/", TRUE, "/mnt/a/dir");
    Resolves("/mnt/a/./dir/../dir/sub/.", TRUE, "/mnt/a/dir/sub");
    Resolves("/mnt/a/..", TRUE, "/mnt");      // '..' of a mount root leaves the volume
    Resolves("/mnt/a/../b/other", TRUE, "/mnt/b/other");
    Resolves("/../../mnt", TRUE, "/mnt");      // '..' of the root is the root
    Fails("/mnt/a/file/", VFS_ERROR_NOT_DIRECTORY);
    Fails("/mnt/a/file/x", VFS_ERROR_NOT_DIRECTORY);
    Fails("/mnt/a/file/..", VFS_ERROR_NOT_DIRECTORY);
    Fails("/mnt/a/nothing", VFS_ERROR_NOT_FOUND);
    Fails("", VFS_ERROR_NOT_FOUND);
    char Long[300];
    memcpy(Long, "/mnt/a/", 7);
    memset(Long + 7, 'x', 256);  // one byte over the name limit
    Long[7 + 256] = 0;
    Fails(Long, VFS_ERROR_NAME_TOO_LONG);
    char Huge[VFS_MAX_PATH + 10];
    memset(Huge, 'y', sizeof(Huge) - 1);
    Huge[0] = '/';
    Huge[sizeof(Huge) - 1] = 0;
    Fails(Huge, VFS_ERROR_NAME_TOO_LONG);

    // The current folder: relative paths start there, the prompt shows it in canonical form.
    assert_string_equal(VFSGetCurrentDirectory(), "/");
    assert_int_equal(VFSSetCurrentDirectory("/mnt/a//dir/"), VFS_OK);
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/dir");
    ReadText("sub/leaf", "deep\n");
    ReadText("../file", "target\n");
    ReadText("./sub/../sub/leaf", "deep\n");
    assert_int_equal(VFSSetCurrentDirectory("sub"), VFS_OK);
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/dir/sub");
    assert_int_equal(VFSSetCurrentDirectory("leaf"), VFS_ERROR_NOT_DIRECTORY);
    assert_int_equal(VFSSetCurrentDirectory("nothing"), VFS_ERROR_NOT_FOUND);
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/dir/sub");
    assert_int_equal(VFSSetCurrentDirectory("../../../.."), VFS_OK);
    assert_string_equal(VFSGetCurrentDirectory(), "/");
    assert_int_equal(VFSSetCurrentDirectory("/mnt/a/subdir"), VFS_OK);  // through a link: stored resolved
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/dir/sub");
    assert_int_equal(VFSUnmount("/mnt/a"), VFS_ERROR_BUSY);  // the current folder is inside
    // The current folder cannot be removed; when a folder above it moves, its path follows.
    assert_int_equal(VFSMakeDirectory("/mnt/a/dir/sub/here"), VFS_OK);
    assert_int_equal(VFSSetCurrentDirectory("here"), VFS_OK);
    assert_int_equal(VFSRemoveDirectory("/mnt/a/dir/sub/here"), VFS_ERROR_BUSY);
    assert_int_equal(VFSRename("/mnt/a/dir", "/mnt/a/moved"), VFS_OK);
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/moved/sub/here");
    ReadText("../leaf", "deep\n");
    assert_int_equal(VFSRename("/mnt/a/moved", "/mnt/a/dir"), VFS_OK);
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/a/dir/sub/here");
    assert_int_equal(VFSSetCurrentDirectory(".."), VFS_OK);
    assert_int_equal(VFSRemoveDirectory("here"), VFS_OK);
    assert_int_equal(VFSSetCurrentDirectory("/"), VFS_OK);
    TestAssertUnlocked();
}

static void TestSymbolicLinks(void** State) {
    (void)State;
    ReadText("/mnt/a/l0", "target\n");
    ReadText("/mnt/a/l7", "target\n");             // l7 -> l6 ... -> l0 -> file: eight links, allowed
    Fails("/mnt/a/l8", VFS_ERROR_LOOP);             // nine: too many
    Fails("/mnt/a/loop-a", VFS_ERROR_LOOP);
    VFS_STAT Stat;
    assert_int_equal(VFSLinkStat("/mnt/a/loop-a", &Stat), VFS_OK);  // the link itself is fine
    assert_true(VFS_IS_SYMLINK(Stat.Mode));
    ReadText("/mnt/a/dir/up", "target\n");          // relative to the link's folder
    ReadText("/mnt/a/subdir/leaf", "deep\n");
    Resolves("/mnt/a/subdir/..", TRUE, "/mnt/a/dir");  // '..' after a link is the target's parent
    ReadText("/mnt/a/absolute", "other\n");         // absolute: from Cairn's root, into the other volume
    Resolves("/mnt/a/absolute", TRUE, "/mnt/b/other");
    Resolves("/mnt/a/absolute", FALSE, "/mnt/a/absolute");
    Resolves("/mnt/a/dir-absolute/sub/leaf", TRUE, "/mnt/a/dir/sub/leaf");
    Fails("/mnt/a/l0/", VFS_ERROR_NOT_DIRECTORY);   // a trailing slash follows the link, which is a file
    char Target[VFS_MAX_PATH];
    assert_int_equal(VFSReadLink("/mnt/a/dir/up", Target, sizeof(Target)), VFS_OK);
    assert_string_equal(Target, "../file");
    assert_int_equal(VFSReadLink("/mnt/a/file", Target, sizeof(Target)), VFS_ERROR_INVALID);
    assert_int_equal(VFSReadLink("/mnt/a/dir/up", Target, 4), VFS_ERROR_NAME_TOO_LONG);
    // Removing a link removes the link, not its target.
    assert_int_equal(VFSUnlink("/mnt/a/l0"), VFS_OK);
    Fails("/mnt/a/l1", VFS_ERROR_NOT_FOUND);  // l1 -> l0, now dangling
    ReadText("/mnt/a/file", "target\n");
    TestAssertUnlocked();
}

static void TestRenameAndOpenRules(void** State) {
    (void)State;
    assert_int_equal(VFSRename("/mnt/a/file", "/mnt/b/file"), VFS_ERROR_CROSS_DEVICE);
    assert_int_equal(VFSRename("/mnt/a/file", "/mnt/file"), VFS_ERROR_CROSS_DEVICE);
    assert_int_equal(VFSRename("/mnt/a/file", "/mnt/a/dir/.."), VFS_ERROR_INVALID);
    assert_int_equal(VFSRename("/mnt/a/file", "/mnt/a/file-renamed"), VFS_OK);
    assert_int_equal(VFSRename("/mnt/a/file-renamed", "/mnt/a/file"), VFS_OK);

    VFS_FILE* File;
    assert_int_equal(VFSOpen("/mnt/a/dir", VFS_OPEN_READ, &File), VFS_ERROR_IS_DIRECTORY);
    assert_int_equal(VFSOpen("/mnt/a/nothing", VFS_OPEN_READ, &File), VFS_ERROR_NOT_FOUND);
    assert_int_equal(VFSOpen("/mnt/a/file", VFS_OPEN_WRITE | VFS_OPEN_CREATE | VFS_OPEN_EXCLUSIVE, &File),
                     VFS_ERROR_EXISTS);
    assert_int_equal(VFSOpen("/mnt/a/file", 0, &File), VFS_ERROR_INVALID);
    VFS_DIRECTORY* Directory;
    assert_int_equal(VFSOpenDirectory("/mnt/a/file", &Directory), VFS_ERROR_NOT_DIRECTORY);
    // A read-only handle cannot write; an open file keeps its volume mounted.
    assert_int_equal(VFSOpen("/mnt/b/other", VFS_OPEN_READ, &File), VFS_OK);
    U32 Done;
    assert_int_equal(VFSWrite(File, "x", 1, &Done), VFS_ERROR_BAD_HANDLE);
    assert_int_equal(VFSUnmount("/mnt/b"), VFS_ERROR_BUSY);
    VFSClose(File);
    assert_int_equal(VFSOpenDirectory("/mnt/b", &Directory), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/b"), VFS_ERROR_BUSY);
    VFSCloseDirectory(Directory);
    assert_int_equal(VFSUnmount("/mnt/b"), VFS_OK);
    assert_int_equal(VFSMount(DiskB->Disk.Name, "/mnt/b", TRUE), VFS_OK);  // read-only mount
    assert_int_equal(TestVfsWriteFile("/mnt/b/other", "x", 1, NULL), VFS_ERROR_READ_ONLY);
    assert_int_equal(VFSUnlink("/mnt/b/other"), VFS_ERROR_READ_ONLY);
    ReadText("/mnt/b/other", "other\n");
    assert_int_equal(VFSUnmount("/mnt/b"), VFS_OK);
    assert_int_equal(VFSUnmount("/mnt/a"), VFS_OK);
    TestFsckClean(ImageA);
    TestFsckClean(ImageB);
    TestAssertUnlocked();
}

static void TestAutomaticMount(void** State) {
    (void)State;
    // A partition disk holding EXT2 appears: it is mounted at /mnt/<name> at once; a non-EXT2 one is left alone.
    char Blank[300];
    snprintf(Blank, sizeof(Blank), "%s/blank.img", TestWork);
    TestMust("rm -f %s && truncate -s 1M %s", Blank, Blank);
    TEST_DISK* Partition = TestDiskOpen(ImageA, 512, DISK_TYPE_PARTITION);
    TEST_DISK* Empty = TestDiskOpen(Blank, 512, DISK_TYPE_PARTITION);
    char Path[64];
    snprintf(Path, sizeof(Path), "/mnt/%s/dir/sub/leaf", Partition->Disk.Name);
    ReadText(Path, "deep\n");
    assert_int_equal(VFSGetMountCount(), 1);
    VFS_MOUNT_INFO Info;
    VFS_STATFS StatFs;
    assert_int_equal(VFSGetMountInfo(0, &Info, &StatFs), VFS_OK);
    assert_string_equal(Info.Device, Partition->Disk.Name);
    assert_int_equal(StatFs.BlockSize, 1024);
    assert_true(StatFs.TotalBlocks > 3000 && StatFs.TotalBlocks < 4096);  // the groups' own metadata is left out
    assert_true(StatFs.FreeBlocks <= StatFs.TotalBlocks);
    assert_int_equal(VFSMount(Empty->Disk.Name, "/mnt/blank", FALSE), VFS_ERROR_WRONG_TYPE);
    snprintf(Path, sizeof(Path), "/mnt/%s", Partition->Disk.Name);
    assert_int_equal(VFSUnmount(Path), VFS_OK);
    TestDiskClose(Partition);
    TestDiskClose(Empty);
    assert_int_equal(TestWarnings, 0);
}

static void TestManyMounts(void** State) {
    (void)State;
    // The table once held 16 mounts and the 17th failed with "Device or resource busy": it grows now.
    enum { MOUNTS = 40 };
    TEST_DISK* Disks[MOUNTS];
    U32 Before = VFSGetMountCount();
    for (U32 I = 0; I < MOUNTS; I++) {
        Disks[I] = TestDiskOpen(ImageB, 4096, DISK_TYPE_RAM);
        char Path[64];
        snprintf(Path, sizeof(Path), "/mnt/many%u", I);
        assert_int_equal(VFSMount(Disks[I]->Disk.Name, Path, TRUE), VFS_OK);
    }
    assert_int_equal(VFSGetMountCount(), Before + MOUNTS);
    ReadText("/mnt/many0/other", "other\n");
    ReadText("/mnt/many16/other", "other\n");
    ReadText("/mnt/many39/other", "other\n");
    BOOL Found;
    assert_true(ListCount("/mnt", "many39", &Found) >= MOUNTS + 2);
    assert_true(Found);
    VFS_MOUNT_INFO Info;
    assert_int_equal(VFSGetMountInfo(Before + 16, &Info, NULL), VFS_OK);
    assert_string_equal(Info.Path, "/mnt/many16");
    // Unmounting from the middle keeps the order of the rest.
    assert_int_equal(VFSUnmount("/mnt/many5"), VFS_OK);
    assert_int_equal(VFSGetMountInfo(Before + 5, &Info, NULL), VFS_OK);
    assert_string_equal(Info.Path, "/mnt/many6");
    for (U32 I = 0; I < MOUNTS; I++) {
        char Path[64];
        snprintf(Path, sizeof(Path), "/mnt/many%u", I);
        assert_int_equal(VFSUnmount(Path), I == 5 ? VFS_ERROR_NOT_FOUND : VFS_OK);
        TestDiskClose(Disks[I]);
    }
    assert_int_equal(VFSGetMountCount(), Before);
    assert_int_equal(TestWarnings, 0);
}

static int Setup(void** State) {
    (void)State;
    VFSInit();
    MakeImages();
    DiskA = TestDiskOpen(ImageA, 512, DISK_TYPE_RAM);
    DiskB = TestDiskOpen(ImageB, 4096, DISK_TYPE_RAM);
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    VFSHostReset();
    TestDiskClose(DiskA);
    TestDiskClose(DiskB);
    TestCleanWork();
    return 0;
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestMountsAndSyntheticFolders),
        cmocka_unit_test(TestPaths),
        cmocka_unit_test(TestSymbolicLinks),
        cmocka_unit_test(TestRenameAndOpenRules),
        cmocka_unit_test(TestAutomaticMount),
        cmocka_unit_test(TestManyMounts),
    };
    return cmocka_run_group_tests(Tests, Setup, Teardown);
}

/*
 * EXT2-WriteSuite.h - the EXT2 write tests, shared by Test-EXT2Write.c (disks
 * without a cache) and Test-EXT2Cached.c (the sector cache in front of every
 * disk, with EXT2_TEST_CACHE_BUDGET defined). See Test-EXT2Write.c for what
 * it covers. Included by exactly one test file per binary.
 */

#ifndef EXT2_WRITE_SUITE_H
#define EXT2_WRITE_SUITE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"

#define MIB (1024ULL * 1024ULL)

/************************************************************************/
// The model: what each file should hold

#define MAX_MODEL 16

typedef struct {
    char Path[128];   // inside the volume, from its root
    U8* Data;
    U64 Size;
    U64 Capacity;     // bytes allocated at Data; grows geometrically so piecewise writes stay linear
} MODEL_FILE;

static MODEL_FILE Model[MAX_MODEL];
static U32 ModelCount;
static char Mount[64];

static MODEL_FILE* ModelFind(const char* Path, BOOL Create) {
    for (U32 I = 0; I < ModelCount; I++) {
        if (strcmp(Model[I].Path, Path) == 0) return &Model[I];
    }
    if (!Create) return NULL;
    assert_true(ModelCount < MAX_MODEL);
    MODEL_FILE* File = &Model[ModelCount++];
    memset(File, 0, sizeof(*File));
    snprintf(File->Path, sizeof(File->Path), "%s", Path);
    return File;
}

static void ModelDrop(const char* Path) {
    MODEL_FILE* File = ModelFind(Path, FALSE);
    if (File == NULL) return;
    free(File->Data);
    *File = Model[--ModelCount];
}

static void ModelReset(void) {
    while (ModelCount > 0) ModelDrop(Model[0].Path);
}

/** A rename moves the file itself, or everything below a folder. */
static void ModelRename(const char* From, const char* To) {
    ModelDrop(To);
    size_t Length = strlen(From);
    for (U32 I = 0; I < ModelCount; I++) {
        if (strncmp(Model[I].Path, From, Length) != 0 || (Model[I].Path[Length] != 0 && Model[I].Path[Length] != '/')) {
            continue;
        }
        char Renamed[128];
        snprintf(Renamed, sizeof(Renamed), "%s%s", To, Model[I].Path + Length);
        snprintf(Model[I].Path, sizeof(Model[I].Path), "%s", Renamed);
    }
}

#define MODEL_CAP (16 * MIB)  // bytes of each file the model keeps; sparse giants are checked by size there after

static U64 ModelKept(U64 Size) { return Size < MODEL_CAP ? Size : MODEL_CAP; }

/** Resizes a model file; new bytes are zeros. */
static void ModelResize(MODEL_FILE* File, U64 Size) {
    U64 Old = ModelKept(File->Size), New = ModelKept(Size);
    if (New > File->Capacity || File->Data == NULL) {
        // Doubling, not growing to fit: a file written in small pieces would otherwise copy itself once a piece.
        U64 Capacity = ModelKept(File->Capacity * 2);
        if (Capacity < New) Capacity = New;
        File->Data = realloc(File->Data, Capacity ? Capacity : 1);
        assert_non_null(File->Data);
        File->Capacity = Capacity;
    }
    if (New > Old) memset(File->Data + Old, 0, New - Old);
    File->Size = Size;
}

static void ModelPut(MODEL_FILE* File, U64 Offset, const U8* Data, U64 Length) {
    if (Offset + Length > File->Size) ModelResize(File, Offset + Length);
    if (Offset >= MODEL_CAP) return;
    memcpy(File->Data + Offset, Data, ModelKept(Offset + Length) - Offset);
}

static void Full(char* Buffer, size_t Size, const char* Path) { snprintf(Buffer, Size, "%s%s", Mount, Path); }

/** Writes Length pattern bytes (stream Seed) at Offset of Path, through the VFS and into the model. */
static VFS_STATUS WriteAt(const char* Path, U64 Offset, U64 Length, U32 Seed, U32 Piece, U64* Written) {
    char Name[256];
    Full(Name, sizeof(Name), Path);
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Name, VFS_OPEN_WRITE | VFS_OPEN_CREATE, &File);
    if (Status != VFS_OK) return Status;
    MODEL_FILE* Expected = ModelFind(Path, TRUE);
    U8* Buffer = malloc(Piece);
    U64 Done = 0;
    assert_int_equal(VFSSeek(File, Offset), VFS_OK);
    while (Done < Length && Status == VFS_OK) {
        U32 Take = (U32)(Length - Done < Piece ? Length - Done : Piece);
        for (U32 I = 0; I < Take; I++) Buffer[I] = TestPattern(Offset + Done + I, Seed);
        U32 Got = 0;
        Status = VFSWrite(File, Buffer, Take, &Got);
        if (Got > 0) ModelPut(Expected, Offset + Done, Buffer, Got);
        Done += Got;
        if (Status == VFS_OK) assert_int_equal(Got, Take);
    }
    free(Buffer);
    VFSClose(File);
    TestAssertUnlocked();
    if (Written) *Written = Done;
    return Status;
}

static void Truncate(const char* Path, U64 Size) {
    char Name[256];
    Full(Name, sizeof(Name), Path);
    assert_int_equal(VFSTruncate(Name, Size), VFS_OK);
    ModelResize(ModelFind(Path, TRUE), Size);
}

/** Every model file through the VFS: sizes always, contents of files the model keeps whole. */
static void CheckModelWithVfs(void) {
    for (U32 I = 0; I < ModelCount; I++) {
        char Name[256];
        Full(Name, sizeof(Name), Model[I].Path);
        VFS_STAT Stat;
        assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
        assert_int_equal(Stat.Size, Model[I].Size);
        if (Model[I].Size > MODEL_CAP) continue;
        U64 Size;
        U8* Data = TestVfsReadAll(Name, &Size);
        assert_int_equal(Size, Model[I].Size);
        if (Size > 0) assert_memory_equal(Data, Model[I].Data, Size);
        free(Data);
    }
}

static void CheckModelWithDebugfs(const char* Image) {
    for (U32 I = 0; I < ModelCount; I++) {
        if (Model[I].Size > MODEL_CAP) continue;
        size_t Size;
        U8* Data = TestDebugfsCat(Image, Model[I].Path, &Size);
        if (Size != Model[I].Size) fprintf(stderr, "%s: debugfs sees %zu bytes, expected %llu\n", Model[I].Path, Size,
                                           (unsigned long long)Model[I].Size);
        assert_int_equal(Size, Model[I].Size);
        if (Size > 0) assert_memory_equal(Data, Model[I].Data, Size);
        free(Data);
    }
}

static BOOL DebugfsHas(const char* Image, const char* Path) {
    char Output[4096];
    TestRun(Output, sizeof(Output), "debugfs -R 'stat %s' %s", Path, Image);
    return strstr(Output, "File not found") == NULL;
}

/************************************************************************/
// The sequence

typedef struct {
    U32 BlockSize;
    U32 SectorSize;
    U32 Revision;
} WRITE_CONFIG;

static VFS_STATUS Op(VFS_STATUS (*Function)(LPCSTR), const char* Path) {
    char Name[256];
    Full(Name, sizeof(Name), Path);
    VFS_STATUS Status = Function(Name);
    TestAssertUnlocked();
    return Status;
}

static VFS_STATUS Move(const char* From, const char* To) {
    char A[256], B[256];
    Full(A, sizeof(A), From);
    Full(B, sizeof(B), To);
    VFS_STATUS Status = VFSRename(A, B);
    TestAssertUnlocked();
    if (Status == VFS_OK) ModelRename(From, To);
    return Status;
}

static void WriteSequence(const WRITE_CONFIG* Config) {
    TestWorkDir();
    ModelReset();
    char Source[300], Image[300], Path[400];
    snprintf(Source, sizeof(Source), "%s/wsrc", TestWork);
    snprintf(Image, sizeof(Image), "%s/write-%u-%u-%u.img", TestWork, Config->BlockSize, Config->SectorSize,
             Config->Revision);
    TestMust("rm -rf %s && mkdir -p %s/old/inner %s/keep && echo old > %s/old/inner/f", Source, Source, Source,
             Source);
    snprintf(Path, sizeof(Path), "%s/keep/original", Source);
    TestWriteHostFile(Path, 100000, 3);
    snprintf(Path, sizeof(Path), "%s/doomed", Source);
    TestWriteHostFile(Path, 300000, 4);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -r %u -d %s %s 48M", Image, Config->BlockSize, Config->Revision,
             Source, Image);
    TEST_DISK* Disk = TestDiskOpen(Image, Config->SectorSize, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/w%u", Config->BlockSize);
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    TestAssertUnlocked();
    U64 P = Config->BlockSize / 4;
    U64 Written;

    // Create, append, overwrite inside.
    RTCHostSetTime(1700000100);
    assert_int_equal(WriteAt("/new.txt", 0, 6, 10, 4096, NULL), VFS_OK);
    assert_int_equal(WriteAt("/new.txt", 6, 5000, 11, 999, NULL), VFS_OK);
    assert_int_equal(WriteAt("/new.txt", 100, 3000, 12, 3000, NULL), VFS_OK);
    char Name[256];
    VFS_STAT Stat;
    Full(Name, sizeof(Name), "/new.txt");
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.Size, 5006);
    assert_int_equal(Stat.ModifyTime, 1700000100);
    assert_int_equal(Stat.ChangeTime, 1700000100);
    // Appending through VFS_OPEN_APPEND lands at the end whatever the position.
    VFS_FILE* File;
    assert_int_equal(VFSOpen(Name, VFS_OPEN_WRITE | VFS_OPEN_APPEND, &File), VFS_OK);
    U32 Got;
    assert_int_equal(VFSWrite(File, "tail", 4, &Got), VFS_OK);
    VFSClose(File);
    MODEL_FILE* NewText = ModelFind("/new.txt", FALSE);
    ModelPut(NewText, NewText->Size, (const U8*)"tail", 4);

    // Double indirect (written in odd pieces), then a sparse file out to triple indirect (1 KiB blocks) or far
    // into double indirect, and past 4 GiB where large_file allows it.
    U64 DoubleSize = (12 + P + 2 * P + 17) * Config->BlockSize + 123;
    assert_int_equal(WriteAt("/big.bin", 0, DoubleSize, 20, 7777, NULL), VFS_OK);
    U64 Far = Config->BlockSize == 1024 ? 70 * MIB : (12 + P + P * P / 2) * Config->BlockSize;
    assert_int_equal(WriteAt("/sparse.bin", 5000, 3000, 21, 4096, NULL), VFS_OK);
    assert_int_equal(WriteAt("/sparse.bin", Far, 5000, 22, 4096, NULL), VFS_OK);
    if (Config->Revision == 1) {
        assert_int_equal(WriteAt("/large.bin", 5 * 1024 * MIB + 3, 10, 23, 4096, NULL), VFS_OK);
        Full(Name, sizeof(Name), "/large.bin");
        assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
        assert_int_equal(Stat.Size, 5 * 1024 * MIB + 13);
    } else {
        // Revision 0 has no large_file: 2 GiB is the limit.
        assert_int_equal(WriteAt("/large.bin", 3 * 1024 * MIB, 10, 23, 4096, &Written), VFS_ERROR_FILE_TOO_BIG);
        assert_int_equal(Written, 0);
    }

    // Truncation: shrink into the single indirect range, grow back by writing, shrink a sparse file.
    Truncate("/big.bin", (12 + P / 2) * Config->BlockSize + 100);
    assert_int_equal(WriteAt("/big.bin", (12 + P / 2) * Config->BlockSize + 100, 5000, 24, 5000, NULL), VFS_OK);
    Truncate("/sparse.bin", 7000);
    Truncate("/sparse.bin", 20000);  // grows: the tail reads as zeros
    Truncate("/new.txt", 0);
    assert_int_equal(WriteAt("/new.txt", 0, 10, 25, 10, NULL), VFS_OK);

    // Folders.
    assert_int_equal(Op(VFSMakeDirectory, "/a"), VFS_OK);
    assert_int_equal(Op(VFSMakeDirectory, "/a/sub"), VFS_OK);
    assert_int_equal(Op(VFSMakeDirectory, "/a/sub/deeper"), VFS_OK);
    assert_int_equal(Op(VFSMakeDirectory, "/b"), VFS_OK);
    assert_int_equal(Op(VFSMakeDirectory, "/c"), VFS_OK);
    assert_int_equal(Op(VFSMakeDirectory, "/a"), VFS_ERROR_EXISTS);
    assert_int_equal(Op(VFSMakeDirectory, "/a/."), VFS_ERROR_EXISTS);
    assert_int_equal(Op(VFSMakeDirectory, "/nothere/x"), VFS_ERROR_NOT_FOUND);
    assert_int_equal(Op(VFSMakeDirectory, "/new.txt/x"), VFS_ERROR_NOT_DIRECTORY);
    assert_int_equal(WriteAt("/a/sub/f", 0, 1234, 30, 1234, NULL), VFS_OK);
    Full(Name, sizeof(Name), "/a");
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.Links, 3);

    // Renames.
    assert_int_equal(Move("/a/sub", "/b/sub"), VFS_OK);  // a folder changes parent
    Full(Name, sizeof(Name), "/a");
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.Links, 2);
    Full(Name, sizeof(Name), "/b");
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.Links, 3);
    assert_int_equal(Move("/b", "/b/sub/deeper/inside"), VFS_ERROR_INVALID);
    assert_int_equal(Move("/b/sub", "/b/sub/deeper"), VFS_ERROR_INVALID);  // a folder into itself
    assert_int_equal(Move("/b/sub", "/c"), VFS_OK);                        // replaces an empty folder
    assert_int_equal(Move("/c", "/keep"), VFS_ERROR_NOT_EMPTY);
    assert_int_equal(Move("/new.txt", "/a"), VFS_ERROR_IS_DIRECTORY);
    assert_int_equal(Move("/a", "/new.txt"), VFS_ERROR_NOT_DIRECTORY);
    assert_int_equal(Move("/missing", "/x"), VFS_ERROR_NOT_FOUND);
    assert_int_equal(WriteAt("/x", 0, 3, 31, 3, NULL), VFS_OK);
    assert_int_equal(WriteAt("/y", 0, 4, 32, 4, NULL), VFS_OK);
    assert_int_equal(Move("/x", "/y"), VFS_OK);  // replaces a file
    assert_int_equal(Move("/y", "/z"), VFS_OK);  // same folder, new name
    assert_int_equal(Move("/z", "/z"), VFS_OK);
    assert_int_equal(Move("/keep/original", "/a/moved"), VFS_OK);
    assert_int_equal(Move("/old", "/a/old"), VFS_OK);  // a folder from the image, with a child folder
    Full(Name, sizeof(Name), "/a");
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.Links, 3);

    // Removal.
    assert_int_equal(Op(VFSUnlink, "/doomed"), VFS_OK);
    assert_int_equal(Op(VFSUnlink, "/doomed"), VFS_ERROR_NOT_FOUND);
    assert_int_equal(Op(VFSUnlink, "/a"), VFS_ERROR_IS_DIRECTORY);
    assert_int_equal(Op(VFSRemoveDirectory, "/z"), VFS_ERROR_NOT_DIRECTORY);
    assert_int_equal(Op(VFSRemoveDirectory, "/a"), VFS_ERROR_NOT_EMPTY);
    assert_int_equal(Op(VFSRemoveDirectory, "/a/."), VFS_ERROR_INVALID);
    assert_int_equal(Op(VFSRemoveDirectory, "/a/.."), VFS_ERROR_NOT_EMPTY);
    assert_int_equal(Op(VFSRemoveDirectory, "/keep"), VFS_OK);  // emptied by the move above
    assert_int_equal(Op(VFSRemoveDirectory, "/c/deeper"), VFS_OK);
    ModelDrop("/doomed");

    // A folder of many blocks: 300 names, then every other one removed.
    assert_int_equal(Op(VFSMakeDirectory, "/many"), VFS_OK);
    for (U32 I = 0; I < 300; I++) {
        snprintf(Path, sizeof(Path), "/many/a-rather-long-file-name-number-%04u", I);
        Full(Name, sizeof(Name), Path);
        assert_int_equal(TestVfsWriteFile(Name, Path, (U32)strlen(Path), NULL), VFS_OK);
    }
    for (U32 I = 0; I < 300; I += 2) {
        snprintf(Path, sizeof(Path), "/many/a-rather-long-file-name-number-%04u", I);
        assert_int_equal(Op(VFSUnlink, Path), VFS_OK);
    }

    CheckModelWithVfs();
    assert_int_equal(VFSSyncAll(), VFS_OK);
    TestFsckClean(Image);  // consistent between operations, while mounted
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    CheckModelWithDebugfs(Image);
    assert_false(DebugfsHas(Image, "/doomed"));
    assert_false(DebugfsHas(Image, "/x"));
    assert_false(DebugfsHas(Image, "/keep"));
    assert_true(DebugfsHas(Image, "/c/f"));
    assert_true(DebugfsHas(Image, "/a/old/inner/f"));
    assert_true(DebugfsHas(Image, "/many/a-rather-long-file-name-number-0299"));
    assert_false(DebugfsHas(Image, "/many/a-rather-long-file-name-number-0298"));

    // Mounted again, everything reads back; deleting the big files frees their blocks (checked by e2fsck).
    Disk = TestDiskOpen(Image, Config->SectorSize, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    CheckModelWithVfs();
    assert_int_equal(Op(VFSUnlink, "/big.bin"), VFS_OK);
    assert_int_equal(Op(VFSUnlink, "/sparse.bin"), VFS_OK);
    if (Config->Revision == 1) assert_int_equal(Op(VFSUnlink, "/large.bin"), VFS_OK);
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    assert_int_equal(TestWarnings, 0);
    TestMust("rm -f %s", Image);
    ModelReset();
}

static void TestWrite1K(void** State) {
    (void)State;
    WRITE_CONFIG Config = {1024, 512, 1};
    WriteSequence(&Config);
}

static void TestWrite1KRevision0(void** State) {
    (void)State;
    WRITE_CONFIG Config = {1024, 512, 0};
    WriteSequence(&Config);
}

static void TestWrite2KSector4K(void** State) {
    (void)State;
    WRITE_CONFIG Config = {2048, 4096, 1};
    WriteSequence(&Config);
}

static void TestWrite4K(void** State) {
    (void)State;
    WRITE_CONFIG Config = {4096, 512, 1};
    WriteSequence(&Config);
}

static void TestWrite1KSector4K(void** State) {
    (void)State;
    WRITE_CONFIG Config = {1024, 4096, 1};
    WriteSequence(&Config);
}

/************************************************************************/
// Placement, times, full disks

static void TestFolderSpreadAndTimes(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300], Name[256];
    snprintf(Image, sizeof(Image), "%s/spread.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 -N 2048 %s 32M", Image, Image);  // 4 groups of 512 inodes
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/spread");
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    U32 GroupsSeen = 0;
    for (U32 I = 0; I < 8; I++) {
        snprintf(Name, sizeof(Name), "%s/top%u", Mount, I);
        assert_int_equal(VFSMakeDirectory(Name), VFS_OK);
        VFS_STAT Stat;
        assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
        GroupsSeen |= 1U << ((Stat.Inode - 1) / 512);
        // A file goes into its folder's group.
        snprintf(Name, sizeof(Name), "%s/top%u/file", Mount, I);
        assert_int_equal(TestVfsWriteFile(Name, "abc", 3, NULL), VFS_OK);
        VFS_STAT FileStat;
        assert_int_equal(VFSStat(Name, &FileStat), VFS_OK);
        assert_int_equal((FileStat.Inode - 1) / 512, (Stat.Inode - 1) / 512);
    }
    assert_true(__builtin_popcount(GroupsSeen) >= 3);  // folders spread over the groups (group 0 has fewer free)

    // Times: creation sets all three; a write moves mtime and ctime; a read after a change moves atime.
    RTCHostSetTime(1710000000);
    snprintf(Name, sizeof(Name), "%s/timed", Mount);
    assert_int_equal(TestVfsWriteFile(Name, "t", 1, NULL), VFS_OK);
    VFS_STAT Stat;
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.AccessTime, 1710000000);
    assert_int_equal(Stat.ModifyTime, 1710000000);
    VFS_STAT Parent;
    assert_int_equal(VFSStat(Mount, &Parent), VFS_OK);
    assert_int_equal(Parent.ModifyTime, 1710000000);  // the folder changed too
    RTCHostSetTime(1710000500);
    U64 Size;
    free(TestVfsReadAll(Name, &Size));
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.AccessTime, 1710000500);
    assert_int_equal(Stat.ModifyTime, 1710000000);
    RTCHostSetTime(1710000600);
    free(TestVfsReadAll(Name, &Size));  // atime newer than mtime and less than a day old: unchanged (relatime)
    assert_int_equal(VFSStat(Name, &Stat), VFS_OK);
    assert_int_equal(Stat.AccessTime, 1710000500);
    RTCHostSetTime(1700000000);

    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
}

static void FillDisk(U32 BlockSize, U32 SectorSize) {
    TestWorkDir();
    ModelReset();
    char Image[300], Name[256];
    snprintf(Image, sizeof(Image), "%s/full-%u.img", TestWork, BlockSize);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -N 64 %s %s", Image, BlockSize, Image,
             BlockSize == 1024 ? "2M" : "4M");
    TEST_DISK* Disk = TestDiskOpen(Image, SectorSize, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/full");
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    VFS_STATFS Before, After;
    assert_int_equal(VFSStatFs(Mount, &Before, NULL), VFS_OK);

    // One file until the disk is full: a short write, then ENOSPC.
    U64 Written;
    assert_int_equal(WriteAt("/filler", 0, 64 * MIB, 40, 65536, &Written), VFS_ERROR_NO_SPACE);
    assert_true(Written > 0 && Written < 64 * MIB);
    assert_int_equal(VFSStatFs(Mount, &After, NULL), VFS_OK);
    assert_int_equal(After.FreeBlocks, 0);
    assert_int_equal(After.AvailableBlocks, 0);
    // What still works and what does not on a full disk.
    assert_int_equal(WriteAt("/filler", Written, 1, 40, 1, NULL), VFS_ERROR_NO_SPACE);
    assert_int_equal(Op(VFSMakeDirectory, "/folder"), VFS_ERROR_NO_SPACE);
    Full(Name, sizeof(Name), "/empty");
    assert_int_equal(TestVfsWriteFile(Name, "", 0, NULL), VFS_OK);  // an empty file needs no block
    assert_int_equal(WriteAt("/empty", 0, 1, 41, 1, NULL), VFS_ERROR_NO_SPACE);
    // Names until the root folder's blocks are full: then adding a name needs a block, which fails cleanly.
    VFS_STATUS Status = VFS_OK;
    U32 Created = 0;
    while (Status == VFS_OK && Created < 1000) {
        snprintf(Name, sizeof(Name), "%s/name-long-enough-to-fill-folder-blocks-quickly-%04u", Mount, Created);
        Status = TestVfsWriteFile(Name, "", 0, NULL);
        if (Status == VFS_OK) Created++;
    }
    assert_int_equal(Status, VFS_ERROR_NO_SPACE);  // an inode was free; the folder block was not
    assert_true(Created > 0);
    assert_int_equal(VFSSyncAll(), VFS_OK);
    TestFsckClean(Image);
    CheckModelWithVfs();

    // Deleting gives every block back.
    assert_int_equal(Op(VFSUnlink, "/filler"), VFS_OK);
    for (U32 I = 0; I < Created; I++) {
        snprintf(Name, sizeof(Name), "/name-long-enough-to-fill-folder-blocks-quickly-%04u", I);
        assert_int_equal(Op(VFSUnlink, Name), VFS_OK);
    }
    assert_int_equal(Op(VFSUnlink, "/empty"), VFS_OK);
    ModelReset();
    assert_int_equal(VFSStatFs(Mount, &After, NULL), VFS_OK);
    assert_int_equal(After.FreeBlocks, Before.FreeBlocks);
    assert_int_equal(After.FreeInodes, Before.FreeInodes);

    // Inodes run out too.
    U32 Files = 0;
    Status = VFS_OK;
    while (Status == VFS_OK && Files < 200) {
        snprintf(Name, sizeof(Name), "%s/i%u", Mount, Files);
        Status = TestVfsWriteFile(Name, "", 0, NULL);
        if (Status == VFS_OK) Files++;
    }
    assert_int_equal(Status, VFS_ERROR_NO_SPACE);
    assert_int_equal(Files, Before.FreeInodes);
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    assert_int_equal(TestWarnings, 0);
}

static void TestFull1K(void** State) {
    (void)State;
    FillDisk(1024, 512);
}

static void TestFull4KSector4K(void** State) {
    (void)State;
    FillDisk(4096, 4096);
}


/** One write of 24 MiB on 1 KiB blocks: about a hundred indirect blocks dirty in one operation, so the metadata
 * cache (32 blocks) writes dirty blocks back while evicting them. */
static void TestBigSingleWrite(void** State) {
    (void)State;
    TestWorkDir();
    ModelReset();
    char Image[300];
    snprintf(Image, sizeof(Image), "%s/bigwrite.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 %s 40M", Image, Image);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/bigwrite");
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    assert_int_equal(WriteAt("/one-write", 0, 24 * MIB, 70, 24 * MIB, NULL), VFS_OK);
    assert_int_equal(WriteAt("/one-write", 5 * MIB + 77, 3 * MIB, 71, 3 * MIB, NULL), VFS_OK);
    CheckModelWithVfs();
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    CheckModelWithDebugfs(Image);
    ModelReset();
}

/**
 * Bytes past a file's end may hold old data on disk (a power cut can leave a longer version's block with the
 * shorter size: Test-PowerCut found it); growing the file, by a truncate or by a write past the end, must
 * show zeros there. debugfs shrinks the sizes behind the driver's back, leaving the data in the block.
 */
static void TestGrowOverStaleTail(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300], Tree[300], Path[400];
    snprintf(Image, sizeof(Image), "%s/tail.img", TestWork);
    snprintf(Tree, sizeof(Tree), "%s/tail-tree", TestWork);
    TestMust("rm -rf %s && mkdir -p %s", Tree, Tree);
    LPCSTR Names[] = {"grow", "write-gap", "write-next"};
    for (U32 I = 0; I < 3; I++) {
        snprintf(Path, sizeof(Path), "%s/%s", Tree, Names[I]);
        TestWriteHostFile(Path, 3000, 80 + I);
    }
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 4096 -d %s %s 4M", Image, Tree, Image);
    for (U32 I = 0; I < 3; I++) TestMust("debugfs -w -R 'sif /%s size 100' %s", Names[I], Image);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/tail", FALSE), VFS_OK);
    U8 Data[8000];
    memset(Data, 0x5A, sizeof(Data));
    U32 Done;
    assert_int_equal(VFSTruncate("/mnt/tail/grow", 3000), VFS_OK);
    VFS_FILE* File;
    assert_int_equal(VFSOpen("/mnt/tail/write-gap", VFS_OPEN_WRITE, &File), VFS_OK);
    assert_int_equal(VFSSeek(File, 2000), VFS_OK);
    assert_int_equal(VFSWrite(File, Data, 10, &Done), VFS_OK);
    VFSClose(File);
    assert_int_equal(VFSOpen("/mnt/tail/write-next", VFS_OPEN_WRITE, &File), VFS_OK);
    assert_int_equal(VFSSeek(File, 5000), VFS_OK);
    assert_int_equal(VFSWrite(File, Data, 10, &Done), VFS_OK);
    VFSClose(File);
    U64 Ends[] = {3000, 2010, 5010};
    U64 Written[] = {3000, 2000, 5000};  // where the zeros end (the written bytes follow)
    for (U32 I = 0; I < 3; I++) {
        snprintf(Path, sizeof(Path), "/mnt/tail/%s", Names[I]);
        U64 Size;
        U8* Read = TestVfsReadAll(Path, &Size);
        assert_int_equal(Size, Ends[I]);
        for (U64 B = 0; B < 100; B++) assert_int_equal(Read[B], TestPattern(B, 80 + I));
        for (U64 B = 100; B < Written[I]; B++) {
            if (Read[B] != 0) fail_msg("%s: byte %llu is %#x, not 0", Path, (unsigned long long)B, Read[B]);
        }
        free(Read);
    }
    assert_int_equal(VFSUnmount("/mnt/tail"), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    size_t Size;
    U8* Host = TestDebugfsCat(Image, "/grow", &Size);  // on the disk too, not only through the driver
    assert_int_equal(Size, 3000);
    for (size_t B = 100; B < Size; B++) assert_int_equal(Host[B], 0);
    free(Host);
}

/** Disk errors are not corruption: the call fails with an I/O error, the volume stays writable and consistent. */
static void TestDiskErrors(void** State) {
    (void)State;
    TestWorkDir();
    ModelReset();
    char Image[300], Name[256];
    snprintf(Image, sizeof(Image), "%s/errors.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 4096 %s 16M", Image, Image);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/errors");
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    assert_int_equal(WriteAt("/data", 0, 2 * MIB, 80, 65536, NULL), VFS_OK);
    // Where block 100 of the file is, from debugfs (its last output line); its sectors then fail.
    assert_int_equal(VFSSyncAll(), VFS_OK);
    char Output[256];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'bmap /data 100' %s", Image), 0);
    char* Last = Output + strlen(Output);
    while (Last > Output && (Last[-1] == '\n')) *--Last = 0;
    while (Last > Output && Last[-1] != '\n') Last--;
    unsigned long Block = strtoul(Last, NULL, 10);
    assert_true(Block > 0);
    Disk->FailReads = Disk->FailWrites = TRUE;
    Disk->FailFirst = Block * 8;
    Disk->FailLast = Block * 8 + 7;
    VFS_FILE* File;
    U8 Buffer[8192];
    U32 Done;
    Full(Name, sizeof(Name), "/data");
    assert_int_equal(VFSOpen(Name, VFS_OPEN_READ, &File), VFS_OK);
    assert_int_equal(VFSSeek(File, 99 * 4096), VFS_OK);
    assert_int_equal(VFSRead(File, Buffer, sizeof(Buffer), &Done), VFS_ERROR_IO);
    assert_int_equal(VFSSeek(File, 0), VFS_OK);
    assert_int_equal(VFSRead(File, Buffer, sizeof(Buffer), &Done), VFS_OK);  // elsewhere it reads
    VFSClose(File);
    assert_int_equal(WriteAt("/data", 100 * 4096 + 10, 10, 81, 10, NULL), VFS_ERROR_IO);  // read-modify-write
    Disk->FailReads = Disk->FailWrites = FALSE;
    ModelReset();
    assert_int_equal(WriteAt("/after", 0, 5000, 82, 5000, NULL), VFS_OK);  // still writable
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestFsckClean(Image);
    CheckModelWithDebugfs(Image);
    ModelReset();
}

/** A file reaching 2 GiB on a volume without large_file turns the feature on, as Linux does. */
static void TestLargeFileFeature(void** State) {
    (void)State;
    TestWorkDir();
    ModelReset();
    char Image[300], Output[4096];
    snprintf(Image, sizeof(Image), "%s/nolarge.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 4096 %s 8M && debugfs -w -R 'feature -large_file' %s", Image,
             Image, Image);
    TestRun(Output, sizeof(Output), "dumpe2fs -h %s 2>/dev/null | grep -i features", Image);
    assert_null(strstr(Output, "large_file"));
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    snprintf(Mount, sizeof(Mount), "/mnt/large");
    assert_int_equal(VFSMount(Disk->Disk.Name, Mount, FALSE), VFS_OK);
    assert_int_equal(WriteAt("/small", 0, 100, 60, 100, NULL), VFS_OK);
    assert_int_equal(WriteAt("/big", 3 * 1024 * MIB, 100, 61, 100, NULL), VFS_OK);
    assert_int_equal(VFSUnmount(Mount), VFS_OK);
    TestDiskClose(Disk);
    TestRun(Output, sizeof(Output), "dumpe2fs -h %s 2>/dev/null | grep -i features", Image);
    assert_non_null(strstr(Output, "large_file"));
    assert_int_equal(TestDebugfsStatField(Image, "/big", "Size: "), 3 * 1024 * MIB + 100);
    TestFsckClean(Image);
    ModelReset();
}

static int Setup(void** State) {
    (void)State;
#ifdef EXT2_TEST_CACHE_BUDGET
    DiskSetCacheBudget(EXT2_TEST_CACHE_BUDGET);  // Test-EXT2Cached: every disk gets a small sector cache
#else
    DiskSetCacheBudget(0);  // Test-EXT2Write: no disk cache, so each volume pins in its own private cache
#endif
    VFSInit();
    TestWorkDir();
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    VFSHostReset();
    ModelReset();
    TestCleanWork();
    return 0;
}

static int PerTest(void** State) {
    (void)State;
    VFSHostReset();
    RTCHostSetTime(1700000000);
    TestResetLog();
    return 0;
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestWrite1K, PerTest),
        cmocka_unit_test_setup(TestWrite1KRevision0, PerTest),
        cmocka_unit_test_setup(TestWrite2KSector4K, PerTest),
        cmocka_unit_test_setup(TestWrite4K, PerTest),
        cmocka_unit_test_setup(TestWrite1KSector4K, PerTest),
        cmocka_unit_test_setup(TestFolderSpreadAndTimes, PerTest),
        cmocka_unit_test_setup(TestFull1K, PerTest),
        cmocka_unit_test_setup(TestFull4KSector4K, PerTest),
        cmocka_unit_test_setup(TestLargeFileFeature, PerTest),
        cmocka_unit_test_setup(TestBigSingleWrite, PerTest),
        cmocka_unit_test_setup(TestDiskErrors, PerTest),
        cmocka_unit_test_setup(TestGrowOverStaleTail, PerTest),
    };
    return cmocka_run_group_tests(Tests, Setup, Teardown);
}

#endif  // EXT2_WRITE_SUITE_H

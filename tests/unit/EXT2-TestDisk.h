/*
 * EXT2-TestDisk.h - what the EXT2/VFS host tests share: a DISK whose sectors
 * are a host image file (the host kernel's HostDisk, mapped; 512- or
 * 4096-byte sectors), the host kernel's log and lock checks under the names
 * these tests use, and helpers around e2fsprogs (mke2fs -d to build images,
 * e2fsck -fn to judge them, debugfs to read them independently). Included by
 * exactly one test file per binary.
 *
 * Every public VFS/EXT2 call must return with no mutex held
 * (TestAssertUnlocked). CAIRN_TEST_LOG=debug shows the kernel log.
 */

#ifndef EXT2_TEST_DISK_H
#define EXT2_TEST_DISK_H

// Not every test binary uses every helper.
#pragma GCC diagnostic ignored "-Wunused-function"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "HostDisk.h"
#include "HostKernel.h"
#include "core/Log.h"
#include "core/Sync.h"
#include "block/Cache.h"
#include "block/Disk.h"
#include "fs/VFS.h"
#include "system/RTC.h"
#include "memory/Heap.h"

/************************************************************************/
// The host kernel's log and locks

#define TestWarnings HostLogCountAtLeast(LOG_LEVEL_WARNING)
#define TestLastWarning HostLogLastLine(LOG_LEVEL_WARNING)
#define TestAllWarnings HostLogText(LOG_LEVEL_WARNING)

static void TestResetLog(void) { HostKernelReset(); }

#define TestAssertUnlocked() assert_int_equal(HostMutexDepth(), 0)

/************************************************************************/
// A DISK over a host image file

typedef HOST_DISK TEST_DISK;

static U32 TestDiskSerial;
static U32 TestDiskMaxSegments;  // MaxSegments the next disks report (0: no vectored requests)

/** Registers a DISK over Image (named "tdN") with the given sector size and type. */
static TEST_DISK* TestDiskOpen(const char* Image, U32 SectorSize, U32 Type) {
    char Name[16];
    snprintf(Name, sizeof(Name), "td%u", TestDiskSerial++);
    TEST_DISK* Test = HostDiskOpenFile(Name, Image, SectorSize);
    Test->Type = Type;
    Test->MaxTransfer = 64;
    Test->MaxSegments = TestDiskMaxSegments;
    assert_int_equal(DiskRegister(&Test->Disk), KSTATUS_SUCCESS);
    return Test;
}

/** Unregisters the disk and frees it with its sector cache (DiskUnregister keeps both). */
static void TestDiskClose(TEST_DISK* Test) {
    if (Test == NULL) return;
    CACHE* Cache = Test->Disk.Cache;
    DiskUnregister(&Test->Disk);
    if (Cache != NULL) CacheDestroy(Cache);
    HostDiskDestroy(Test);
}

/************************************************************************/
// Host commands

static char TestWork[256];

static void TestWorkDir(void) {
    if (TestWork[0]) return;
    snprintf(TestWork, sizeof(TestWork), "/tmp/cairn-ext2-XXXXXX");
    assert_non_null(mkdtemp(TestWork));
}

static void TestCleanWork(void) {
    if (!TestWork[0]) return;
    char Command[400];
    snprintf(Command, sizeof(Command), "rm -rf %s", TestWork);
    if (system(Command) != 0) fprintf(stderr, "could not remove %s\n", TestWork);
    TestWork[0] = 0;
}

/** Runs a shell command; returns its exit status, and its output (both streams) in Output when given. */
static int TestRun(char* Output, size_t OutputSize, const char* Format, ...) {
    char Command[2048];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Command, sizeof(Command), Format, Arguments);
    va_end(Arguments);
    char Full[2200];
    snprintf(Full, sizeof(Full), "PATH=$PATH:/usr/sbin:/sbin; ( %s ) 2>&1", Command);
    FILE* Pipe = popen(Full, "r");
    assert_non_null(Pipe);
    size_t Used = 0;
    char Chunk[1024];
    size_t Got;
    while ((Got = fread(Chunk, 1, sizeof(Chunk), Pipe)) > 0) {
        if (Output && Used + 1 < OutputSize) {
            size_t Take = Got < OutputSize - 1 - Used ? Got : OutputSize - 1 - Used;
            memcpy(Output + Used, Chunk, Take);
            Used += Take;
        }
    }
    if (Output) Output[Used] = 0;
    int Status = pclose(Pipe);
    return WIFEXITED(Status) ? WEXITSTATUS(Status) : -1;
}

static void TestMust(const char* Format, ...) {
    char Command[2048];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Command, sizeof(Command), Format, Arguments);
    va_end(Arguments);
    static char Output[16384];
    int Status = TestRun(Output, sizeof(Output), "%s", Command);
    if (Status != 0) fprintf(stderr, "command failed (%d): %s\n%s\n", Status, Command, Output);
    assert_int_equal(Status, 0);
}

/** e2fsck -fn must exit 0 and print nothing but its pass lines and the summary. */
static void TestFsckClean(const char* Image) {
    static char Output[65536];
    int Status = TestRun(Output, sizeof(Output), "e2fsck -fn %s", Image);
    BOOL Clean = Status == 0;
    char* Line = Output;
    while (Clean && Line && *Line) {
        char* Next = strchr(Line, '\n');
        if (Next) *Next = 0;
        BOOL Known = strncmp(Line, "Pass ", 5) == 0 || strncmp(Line, "e2fsck ", 7) == 0 ||
                     strstr(Line, " files (") != NULL || Line[0] == 0;
        if (!Known) Clean = FALSE;
        if (Next) *Next = '\n';
        Line = Next ? Next + 1 : NULL;
    }
    if (!Clean) fprintf(stderr, "e2fsck -fn %s: status %d\n%s\n", Image, Status, Output);
    assert_true(Clean);
}

/** The bytes of a file as debugfs (the host's own reader) sees them; caller frees. */
static U8* TestDebugfsCat(const char* Image, const char* Path, size_t* Size) {
    char Dump[400];
    snprintf(Dump, sizeof(Dump), "%s/debugfs-dump", TestWork);
    unlink(Dump);
    TestMust("debugfs -R 'dump %s %s' %s", Path, Dump, Image);
    FILE* File = fopen(Dump, "rb");
    assert_non_null(File);
    fseek(File, 0, SEEK_END);
    long Length = ftell(File);
    fseek(File, 0, SEEK_SET);
    U8* Data = malloc(Length > 0 ? (size_t)Length : 1);
    assert_non_null(Data);
    assert_int_equal(fread(Data, 1, (size_t)Length, File), (size_t)Length);
    fclose(File);
    *Size = (size_t)Length;
    return Data;
}

/** A number debugfs prints after Key in `stat Path` ("Flags: 0x1000" -> 0x1000). */
static unsigned long long TestDebugfsStatField(const char* Image, const char* Path, const char* Key) {
    static char Output[16384];
    assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -R 'stat %s' %s", Path, Image), 0);
    char* Found = strstr(Output, Key);
    if (Found == NULL) fprintf(stderr, "no %s in:\n%s\n", Key, Output);
    assert_non_null(Found);
    return strtoull(Found + strlen(Key), NULL, 0);
}

/************************************************************************/
// cmocka fixtures for the VFS tests

/** Group setup: the VFS with its drivers, and the work folder. */
static int TestVfsSetup(void** State) {
    (void)State;
    VFSInit();
    TestWorkDir();
    return 0;
}

static int TestVfsTeardown(void** State) {
    (void)State;
    VFSHostReset();
    TestCleanWork();
    return 0;
}

/** Before each test: no mounts (a failed test may have left some behind), an empty log. */
static int TestVfsPerTest(void** State) {
    (void)State;
    VFSHostReset();
    TestResetLog();
    return 0;
}

/************************************************************************/
// Content

/** Deterministic bytes for test files: byte I of stream Seed. */
static U8 TestPattern(U64 Index, U32 Seed) {
    U64 Value = (Index + 1) * 0x9E3779B97F4A7C15ULL ^ ((U64)Seed * 0xC2B2AE3D27D4EB4FULL);
    Value ^= Value >> 29;
    return (U8)(Value ^ (Value >> 17));
}

static void TestWriteHostFile(const char* Path, U64 Size, U32 Seed) {
    FILE* File = fopen(Path, "wb");
    assert_non_null(File);
    U8 Buffer[8192];
    for (U64 Done = 0; Done < Size;) {
        size_t Take = Size - Done < sizeof(Buffer) ? (size_t)(Size - Done) : sizeof(Buffer);
        for (size_t I = 0; I < Take; I++) Buffer[I] = TestPattern(Done + I, Seed);
        assert_int_equal(fwrite(Buffer, 1, Take, File), Take);
        Done += Take;
    }
    fclose(File);
}

/** A sparse file of Size bytes with Seed-pattern data at each of the offsets (4 KiB each). */
static void TestWriteSparseFile(const char* Path, U64 Size, const U64* Offsets, U32 Count, U32 Seed) {
    int Descriptor = open(Path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(Descriptor >= 0);
    assert_int_equal(ftruncate(Descriptor, (off_t)Size), 0);
    for (U32 I = 0; I < Count; I++) {
        U8 Data[4096];
        U64 Length = Offsets[I] + sizeof(Data) <= Size ? sizeof(Data) : Size - Offsets[I];
        for (U64 J = 0; J < Length; J++) Data[J] = TestPattern(Offsets[I] + J, Seed);
        assert_int_equal(pwrite(Descriptor, Data, Length, (off_t)Offsets[I]), (ssize_t)Length);
    }
    close(Descriptor);
}

/** Reads a whole file through the VFS; caller frees. */
static U8* TestVfsReadAll(const char* Path, U64* Size) {
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Path, VFS_OPEN_READ, &File);
    if (Status != VFS_OK) fprintf(stderr, "open %s: %s\n", Path, VFSErrorString(Status));
    assert_int_equal(Status, VFS_OK);
    VFS_STAT Stat;
    assert_int_equal(VFSFileStat(File, &Stat), VFS_OK);
    U8* Data = malloc(Stat.Size + 1);
    assert_non_null(Data);
    U64 Done = 0;
    for (;;) {
        U32 Got;
        U32 Want = (U32)((Stat.Size - Done) > 70000 ? 70000 : (Stat.Size - Done) + 1);
        assert_int_equal(VFSRead(File, Data + Done, Want, &Got), VFS_OK);
        if (Got == 0) break;
        Done += Got;
        assert_true(Done <= Stat.Size);
    }
    VFSClose(File);
    TestAssertUnlocked();
    *Size = Done;
    return Data;
}

/** Writes (creating or replacing) a file through the VFS. */
static VFS_STATUS TestVfsWriteFile(const char* Path, const void* Data, U32 Size, U32* Written) {
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Path, VFS_OPEN_WRITE | VFS_OPEN_CREATE | VFS_OPEN_TRUNCATE, &File);
    if (Status != VFS_OK) return Status;
    U32 Done = 0;
    Status = VFSWrite(File, Data, Size, &Done);
    if (Written) *Written = Done;
    VFSClose(File);
    TestAssertUnlocked();
    return Status;
}

#endif  // EXT2_TEST_DISK_H

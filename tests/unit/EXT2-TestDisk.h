/*
 * EXT2-TestDisk.h - what the EXT2/VFS host tests share: fakes for the kernel
 * services the sources call (log, heap, mutexes), a DISK whose sectors are
 * a host file (512- or 4096-byte sectors), and helpers around e2fsprogs
 * (mke2fs -d to build images, e2fsck -fn to judge them, debugfs to read them
 * independently). Included by exactly one test file per binary.
 *
 * The mutex fakes count how deep the locks are held: every public VFS/EXT2
 * call must return with nothing held (TestAssertUnlocked).
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

#include "core/Log.h"
#include "core/Sync.h"
#include "block/Disk.h"
#include "fs/VFS.h"
#include "system/RTC.h"
#include "memory/Heap.h"

/************************************************************************/
// Kernel fakes

static int TestLockDepth;
static int TestWarnings;
static char TestLastWarning[512];
static char TestAllWarnings[8192];

void MutexInit(MUTEX* Mutex) { memset(Mutex, 0, sizeof(*Mutex)); }
void MutexLock(MUTEX* Mutex) {
    Mutex->Recursion++;
    TestLockDepth++;
}
void MutexUnlock(MUTEX* Mutex) {
    assert_true(Mutex->Recursion > 0);
    Mutex->Recursion--;
    TestLockDepth--;
}

static void TestLogV(LOG_LEVEL Level, const char* Format, va_list Arguments) {
    char Line[512];
    vsnprintf(Line, sizeof(Line), Format, Arguments);
    if (Level >= LOG_LEVEL_WARNING) {
        TestWarnings++;
        snprintf(TestLastWarning, sizeof(TestLastWarning), "%s", Line);
        size_t Used = strlen(TestAllWarnings);
        snprintf(TestAllWarnings + Used, sizeof(TestAllWarnings) - Used, "%s\n", Line);
    }
    if (getenv("EXT2_TEST_VERBOSE")) fprintf(stderr, "[log %d] %s\n", Level, Line);
}

void KernelLog(LOG_LEVEL Level, LPCSTR Format, ...) {
    va_list Arguments;
    va_start(Arguments, Format);
    TestLogV(Level, Format, Arguments);
    va_end(Arguments);
}

BOOL KernelLogLimited(RATE_LIMITER* Limiter, LOG_LEVEL Level, LPCSTR Format, ...) {
    (void)Limiter;
    va_list Arguments;
    va_start(Arguments, Format);
    TestLogV(Level, Format, Arguments);
    va_end(Arguments);
    return TRUE;
}

LPVOID KernelHeapAlloc(SIZE Size) { return malloc(Size ? Size : 1); }
LPVOID KernelHeapAllocZero(SIZE Size) { return calloc(1, Size ? Size : 1); }
void KernelHeapFree(LPVOID Pointer) { free(Pointer); }

// Disk.c names the sector cache; these tests run without one (a weak stand-in, in case Disk.c does not make
// every cache reference weak in host builds).
struct tag_CACHE;
__attribute__((weak)) void CacheDestroy(struct tag_CACHE* Cache) { (void)Cache; }

static void TestResetLog(void) {
    TestWarnings = 0;
    TestLastWarning[0] = 0;
    TestAllWarnings[0] = 0;
}

#define TestAssertUnlocked() assert_int_equal(TestLockDepth, 0)

/************************************************************************/
// A DISK over a host file

typedef struct {
    DISK Disk;
    int Descriptor;
    U32 Type;
    U64 Writes;
    U64 FailFirst, FailEnd;  // requests touching sectors [FailFirst, FailEnd) fail with KSTATUS_IO_ERROR
} TEST_DISK;

static KSTATUS TestDiskCommand(DISK* Disk, U32 Function, LPVOID Parameter) {
    TEST_DISK* Test = (TEST_DISK*)Disk->DriverData;
    switch (Function) {
        case DF_DISK_READ:
        case DF_DISK_WRITE: {
            DISK_IO* Io = (DISK_IO*)Parameter;
            size_t Bytes = (size_t)Io->SectorCount * Disk->SectorSize;
            off_t Offset = (off_t)(Io->Sector * Disk->SectorSize);
            assert_true(Io->Sector + Io->SectorCount <= Disk->SectorCount);  // never outside the disk
            if (Io->Sector < Test->FailEnd && Io->Sector + Io->SectorCount > Test->FailFirst) return KSTATUS_IO_ERROR;
            ssize_t Done = Function == DF_DISK_READ ? pread(Test->Descriptor, Io->Buffer, Bytes, Offset)
                                                    : pwrite(Test->Descriptor, Io->Buffer, Bytes, Offset);
            if (Function == DF_DISK_WRITE) Test->Writes++;
            return Done == (ssize_t)Bytes ? KSTATUS_SUCCESS : KSTATUS_IO_ERROR;
        }
        case DF_DISK_GETINFO: {
            DISK_INFO* Info = (DISK_INFO*)Parameter;
            snprintf(Info->Name, sizeof(Info->Name), "%s", Disk->Name);
            Info->Type = Test->Type;
            Info->SectorSize = Disk->SectorSize ? Disk->SectorSize : 512;
            Info->SectorCount = Disk->SectorCount;
            Info->Access = Disk->Access;
            Info->MaxTransferSectors = 64;
            return KSTATUS_SUCCESS;
        }
        case DF_DISK_FLUSH:
        case DF_DISK_SETACCESS:
            return KSTATUS_SUCCESS;
        default:
            return KSTATUS_NOT_SUPPORTED;
    }
}

static const DISK_DRIVER TestDiskDriver = {"test-file", TestDiskCommand};
static U32 TestDiskSerial;

/** Registers a DISK over Image (named "tdN", returned in Name) with the given sector size. */
static TEST_DISK* TestDiskOpen(const char* Image, U32 SectorSize, U32 Type) {
    TEST_DISK* Test = calloc(1, sizeof(TEST_DISK));
    assert_non_null(Test);
    Test->Descriptor = open(Image, O_RDWR);
    assert_true(Test->Descriptor >= 0);
    struct stat Stat;
    assert_int_equal(fstat(Test->Descriptor, &Stat), 0);
    snprintf(Test->Disk.Name, sizeof(Test->Disk.Name), "td%u", TestDiskSerial++);
    Test->Disk.Driver = &TestDiskDriver;
    Test->Disk.DriverData = Test;
    Test->Disk.SectorSize = SectorSize;
    Test->Disk.SectorCount = (U64)Stat.st_size / SectorSize;
    Test->Type = Type;
    assert_int_equal(DiskRegister(&Test->Disk), KSTATUS_SUCCESS);
    return Test;
}

static void TestDiskClose(TEST_DISK* Test) {
    if (Test == NULL) return;
    DiskUnregister(&Test->Disk);
    close(Test->Descriptor);
    // The DISK stays allocated (Disk.c keeps no pointer after unregistering, but be safe): leak it.
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

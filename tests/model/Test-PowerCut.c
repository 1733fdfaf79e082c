/*
 * Test-PowerCut.c - durability across power loss: the real stack (EXT2 and the VFS, the block cache, the
 * partition and disk layers, the NVMe driver) on the NVMe model with its volatile write cache
 * (NVMeModelWriteCache.h), through seeded workloads cut at seeded random points.
 *
 * The namespace holds an MBR with two EXT2 volumes made by mke2fs (1 KiB blocks, 4 KiB blocks); rounds
 * alternate between them. A round mounts its volume and runs a seeded mix of creates (up to 600 KiB, so
 * indirect and double-indirect blocks), overwrites and appends, truncates, renames (some over an existing
 * file), deletes and syncs (VFSSyncAll), while the model cuts power before a seeded I/O command (keeping
 * a seeded share of the unflushed blocks: none, some, all). The round stops at the cut; the stack lets go
 * of the volume (unmount: nothing reaches the medium any more) and forgets its cached blocks. Then, as
 * after a reboot: the volume's image is saved to a file, `e2fsck -fy` repairs it (exit 4 or more fails),
 * `e2fsck -fn` must then find it clean, the image goes back on the medium, the stack mounts it again and:
 *   - every file as it was when the last sync before the cut returned, and not touched since (written,
 *     truncated, renamed from or to, deleted), reads back byte-exact; every name that sync saw absent and
 *     nothing touched since is still absent;
 *   - every file on the volume reads without an error.
 * What is on the volume then becomes the next round's starting point (synced).
 *
 * It found that growing a file exposed what a power cut left past its end (a longer version's data in the
 * last block, the shorter size on disk): EXT2ZeroBlockTail now zeroes it (EXT2-WriteSuite.h
 * TestGrowOverStaleTail).
 *
 * A second case proves the checker catches lost data: on a drive that ignores Flush
 * (NVMeModelSetFlushIgnored) the same rounds must lose a synced file within 8 cuts.
 *
 * CI runs POWERCUT_CI_CUTS cuts; $CAIRN_POWERCUT_CUTS and $CAIRN_POWERCUT_SEED change the count and the first
 * seed (`make soak-powercut CUTS=N`). The summary line gives the counts.
 */
// SOURCES: $(NVME_DRIVER_SOURCES) $(EXT2_SOURCES) block/Partition.c block/PartitionTables.c utils/CRC32.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "NVMeModelWriteCache.h"
#include "Test-DriverCommon.h"
#include "block/Partition.h"
#include "fs/ext2/EXT2.h"

#define POWERCUT_CI_CUTS 40
#define VOLUME_COUNT 2
#define VOLUME_SECTORS 32768ULL          // 16 MiB each
#define FIRST_VOLUME_SECTOR 2048ULL
#define NAMESPACE_BLOCKS 70000ULL
#define MAX_FILES 160
#define MAX_FILE_BYTES (600 * 1024)
#define VOLUME_BYTES_BUDGET (5 * 1024 * 1024)  // the workload keeps its files under this (a third of the volume)
#define MOUNT_PATH "/mnt/pc"

/************************************************************************/
// Seeded choices

static U64 RandomState;

static U64 Random(void) {
    U64 X = RandomState;
    X ^= X >> 12;
    X ^= X << 25;
    X ^= X >> 27;
    RandomState = X;
    return X * 0x2545F4914F6CDD1DULL;
}

static U32 Below(U32 Limit) { return Limit ? (U32)(Random() % Limit) : 0; }

/************************************************************************/
// What the test knows of each file

typedef struct {
    char Path[80];
    BOOL Exists;
    U8* Data;
    U32 Size;
    BOOL Touched;        // changed since the last sync that returned
    BOOL DurableKnown;   // a sync returned while it was in this table
    BOOL DurableExists;
    U8* DurableData;
    U32 DurableSize;
} FILE_STATE;

typedef struct {
    LPCSTR Name;         // test label
    U32 BlockSize;
    U32 Index;           // partition number - 1
    char Disk[DISK_NAME_LENGTH];
    FILE_STATE Files[MAX_FILES];
    U32 FileCount;
} VOLUME;

typedef struct {
    U32 Cuts, CutsScheduledHit, Rounds;
    U32 Operations, Syncs, SyncsDurable;
    U32 Repaired;                // e2fsck -fy exit 1 or 2
    U32 FilesChecked, AbsentChecked, FilesLost;
    U64 BlocksKept, BlocksLost;
    U64 BytesChecked;
} POWERCUT_TOTALS;

static DRIVER_TEST Driver;
static VOLUME Volumes[VOLUME_COUNT] = {{.Name = "1k", .BlockSize = 1024, .Index = 0},
                                       {.Name = "4k", .BlockSize = 4096, .Index = 1}};
static POWERCUT_TOTALS Totals;
static U32 NameCounter;
static BOOL Quiet;               // the lying-drive case counts losses instead of failing on them

static FILE_STATE* FindFile(VOLUME* Volume, LPCSTR Path) {
    for (U32 I = 0; I < Volume->FileCount; I++) {
        if (strcmp(Volume->Files[I].Path, Path) == 0) return &Volume->Files[I];
    }
    return NULL;
}

static FILE_STATE* AddFile(VOLUME* Volume, LPCSTR Path) {
    FILE_STATE* File = FindFile(Volume, Path);
    if (File) return File;
    assert_true(Volume->FileCount < MAX_FILES);
    File = &Volume->Files[Volume->FileCount++];
    memset(File, 0, sizeof(*File));
    snprintf(File->Path, sizeof(File->Path), "%s", Path);
    return File;
}

static void ForgetFiles(VOLUME* Volume) {
    for (U32 I = 0; I < Volume->FileCount; I++) {
        free(Volume->Files[I].Data);
        free(Volume->Files[I].DurableData);
    }
    Volume->FileCount = 0;
}

static U32 ExistingCount(VOLUME* Volume, U64* Bytes) {
    U32 Count = 0;
    *Bytes = 0;
    for (U32 I = 0; I < Volume->FileCount; I++) {
        if (!Volume->Files[I].Exists) continue;
        Count++;
        *Bytes += Volume->Files[I].Size;
    }
    return Count;
}

static FILE_STATE* PickExisting(VOLUME* Volume) {
    U64 Bytes;
    U32 Count = ExistingCount(Volume, &Bytes);
    if (Count == 0) return NULL;
    U32 Pick = Below(Count);
    for (U32 I = 0; I < Volume->FileCount; I++) {
        if (Volume->Files[I].Exists && Pick-- == 0) return &Volume->Files[I];
    }
    return NULL;
}

static void NewPath(char* Path, SIZE Size) {
    static LPCSTR Folders[] = {"", "/d0", "/d1", "/d2"};
    snprintf(Path, Size, MOUNT_PATH "%s/f%u", Folders[Below(4)], NameCounter++);
}

/** A sync returned before the cut: what the table says now is what the volume must keep. */
static void MarkDurable(VOLUME* Volume) {
    for (U32 I = 0; I < Volume->FileCount; I++) {
        FILE_STATE* File = &Volume->Files[I];
        free(File->DurableData);
        File->DurableData = NULL;
        File->DurableKnown = TRUE;
        File->DurableExists = File->Exists;
        File->DurableSize = File->Size;
        if (File->Exists && File->Size) {
            File->DurableData = malloc(File->Size);
            assert_non_null(File->DurableData);
            memcpy(File->DurableData, File->Data, File->Size);
        }
        File->Touched = FALSE;
    }
}

/************************************************************************/
// The workload's operations (each marks what it touches before it runs: the cut may come in its middle)

static BOOL PoweredOff(void) { return NVMeModelPoweredOff(Driver.Model); }

/** $CAIRN_POWERCUT_TRACE: every operation on stderr (what to read when a round fails). */
static void Trace(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
static void Trace(LPCSTR Format, ...) {
    static int Enabled = -1;
    if (Enabled < 0) Enabled = getenv("CAIRN_POWERCUT_TRACE") != NULL;
    if (!Enabled) return;
    va_list Arguments;
    va_start(Arguments, Format);
    vfprintf(stderr, Format, Arguments);
    va_end(Arguments);
    fprintf(stderr, "%s\n", PoweredOff() ? " (power off)" : "");
}

/** Fails the test on an error the stack returned while the power was on. */
static void Expect(VFS_STATUS Status, LPCSTR What, LPCSTR Path) {
    if (Status == VFS_OK || PoweredOff()) return;
    HostLogDump();
    fail_msg("%s %s: %s (power on)", What, Path, VFSErrorString(Status));
}

/** Writes Length bytes of File's data at Offset through the VFS in seeded pieces. */
static VFS_STATUS WriteRange(FILE_STATE* File, U32 Flags, U32 Offset, U32 Length) {
    VFS_FILE* Handle;
    VFS_STATUS Status = VFSOpen(File->Path, Flags, &Handle);
    if (Status != VFS_OK) return Status;
    Status = VFSSeek(Handle, Offset);
    for (U32 Done = 0; Status == VFS_OK && Done < Length;) {
        U32 Limit = 1 + Below(Below(2) ? 4096 : 70000);  // not inside MIN: it would draw twice
        U32 Piece = MIN(Length - Done, Limit);
        U32 Written = 0;
        Status = VFSWrite(Handle, File->Data + Offset + Done, Piece, &Written);
        if (Status == VFS_OK && Written != Piece) Status = VFS_ERROR_IO;
        Done += Piece;
    }
    VFSClose(Handle);
    return Status;
}

static void FillRandom(U8* Data, U32 Length) {
    U32 Seed = (U32)Random();
    for (U32 I = 0; I < Length; I++) Data[I] = TestPattern(I, Seed);
}

static U32 RandomSize(void) {
    U32 Kind = Below(10);
    if (Kind < 6) return Below(8192);
    if (Kind < 9) return 8192 + Below(64 * 1024);
    return 64 * 1024 + Below(MAX_FILE_BYTES - 64 * 1024);
}

static void OpCreate(VOLUME* Volume) {
    char Path[80];
    NewPath(Path, sizeof(Path));
    FILE_STATE* File = AddFile(Volume, Path);
    File->Touched = TRUE;
    U32 Size = RandomSize();
    free(File->Data);
    File->Data = malloc(MAX(Size, 1));
    assert_non_null(File->Data);
    FillRandom(File->Data, Size);
    File->Exists = TRUE;
    File->Size = Size;
    Expect(WriteRange(File, VFS_OPEN_WRITE | VFS_OPEN_CREATE | VFS_OPEN_TRUNCATE, 0, Size), "create", Path);
    Trace("create %s %u", Path, Size);
}

static void OpOverwrite(VOLUME* Volume) {
    FILE_STATE* File = PickExisting(Volume);
    if (File == NULL) return;
    File->Touched = TRUE;
    U32 Offset = Below(File->Size + 1);
    U32 Length = 1 + Below(32 * 1024);
    if (Offset + Length > MAX_FILE_BYTES) Length = MAX_FILE_BYTES - Offset;
    if (Length == 0) return;
    if (Offset + Length > File->Size) {
        File->Data = realloc(File->Data, Offset + Length);
        assert_non_null(File->Data);
        File->Size = Offset + Length;
    }
    FillRandom(File->Data + Offset, Length);
    Expect(WriteRange(File, VFS_OPEN_WRITE, Offset, Length), "write", File->Path);
    Trace("write %s at %u, %u bytes (size %u)", File->Path, Offset, Length, File->Size);
}

static void OpTruncate(VOLUME* Volume) {
    FILE_STATE* File = PickExisting(Volume);
    if (File == NULL) return;
    File->Touched = TRUE;
    U32 Before = File->Size;
    U32 Grown = File->Size + Below(20000);
    U32 Size = Below(2) ? Below(File->Size + 1) : MIN(Grown, (U32)MAX_FILE_BYTES);
    if (Size > File->Size) {
        File->Data = realloc(File->Data, Size);
        assert_non_null(File->Data);
        memset(File->Data + File->Size, 0, Size - File->Size);  // the new part reads as zeroes
    }
    File->Size = Size;
    Expect(VFSTruncate(File->Path, Size), "truncate", File->Path);
    Trace("truncate %s %u -> %u", File->Path, Before, Size);
}

static void OpRename(VOLUME* Volume) {
    FILE_STATE* From = PickExisting(Volume);
    if (From == NULL) return;
    FILE_STATE* To = NULL;
    if (Below(3) == 0) To = PickExisting(Volume);  // replace an existing file (or itself: a no-op)
    if (To == NULL) {
        char Path[80];
        NewPath(Path, sizeof(Path));
        To = AddFile(Volume, Path);  // Files[] never moves: From stays valid
    }
    From->Touched = To->Touched = TRUE;
    char OldPath[80], NewPathName[80];
    snprintf(OldPath, sizeof(OldPath), "%s", From->Path);
    snprintf(NewPathName, sizeof(NewPathName), "%s", To->Path);
    if (From != To) {
        free(To->Data);
        To->Data = From->Data;
        To->Size = From->Size;
        To->Exists = TRUE;
        From->Data = NULL;
        From->Size = 0;
        From->Exists = FALSE;
    }
    Expect(VFSRename(OldPath, NewPathName), "rename", OldPath);
    Trace("rename %s %s", OldPath, NewPathName);
}

static void OpDelete(VOLUME* Volume) {
    FILE_STATE* File = PickExisting(Volume);
    if (File == NULL) return;
    File->Touched = TRUE;
    File->Exists = FALSE;
    Expect(VFSUnlink(File->Path), "delete", File->Path);
    Trace("delete %s", File->Path);
}

static void OpSync(VOLUME* Volume) {
    Totals.Syncs++;
    VFS_STATUS Status = VFSSyncAll();
    Trace("sync");
    if (PoweredOff()) return;  // the cut came before the sync's flush: nothing is promised
    Expect(Status, "sync", MOUNT_PATH);
    MarkDurable(Volume);
    Totals.SyncsDurable++;
}

static void OpReadBack(VOLUME* Volume) {
    FILE_STATE* File = PickExisting(Volume);
    if (File == NULL) return;
    U64 Size = 0;
    U8* Data = TestVfsReadAll(File->Path, &Size);
    if (!PoweredOff()) {
        assert_int_equal(Size, File->Size);
        assert_memory_equal(Data, File->Data, File->Size);
    }
    free(Data);
}

static void RunOperation(VOLUME* Volume) {
    U64 Bytes;
    U32 Count = ExistingCount(Volume, &Bytes);
    U32 Choice = Below(100);
    Totals.Operations++;
    if (Bytes > VOLUME_BYTES_BUDGET || Count + 4 >= MAX_FILES / 2) Choice = 60;  // room first
    if (Volume->FileCount + 4 >= MAX_FILES) Choice = 95;                        // or a sync, then a reset
    if (Choice < 30) OpCreate(Volume);
    else if (Choice < 48) OpOverwrite(Volume);
    else if (Choice < 53) OpTruncate(Volume);
    else if (Choice < 60) OpRename(Volume);
    else if (Choice < 72) OpDelete(Volume);
    else if (Choice < 95) OpSync(Volume);
    else OpReadBack(Volume);
}

/************************************************************************/
// The volume as the stack sees it after a reboot

static void VolumePath(char* Path, SIZE Size, LPCSTR Name) { snprintf(Path, Size, "%s/%s.img", TestWork, Name); }

static U64 VolumeOffset(const VOLUME* Volume) {
    return (FIRST_VOLUME_SECTOR + Volume->Index * VOLUME_SECTORS) * 512ULL;
}

static void Mount(VOLUME* Volume) {
    VFS_STATUS Status = VFSMount(Volume->Disk, MOUNT_PATH, FALSE);
    if (Status != VFS_OK) HostLogDump();
    assert_int_equal(Status, VFS_OK);
}

static U64 AdoptedInodes[MAX_FILES * 4];
static U32 AdoptedCount;

/** TRUE when another name of the inode was adopted already (then this one goes). */
static BOOL AdoptedBefore(U64 Inode) {
    for (U32 I = 0; I < AdoptedCount; I++) {
        if (AdoptedInodes[I] == Inode) return TRUE;
    }
    assert_true(AdoptedCount < sizeof(AdoptedInodes) / sizeof(AdoptedInodes[0]));
    AdoptedInodes[AdoptedCount++] = Inode;
    return FALSE;
}

/**
 * Reads every file of the volume (each must read without an error) into the table, which starts afresh.
 * A rename cut between its two steps leaves the file under both names (EXT2 has no journal; e2fsck counts
 * the two links): the second name is removed, so the table's files never share an inode.
 */
static void AdoptFolder(VOLUME* Volume, LPCSTR Folder) {
    VFS_DIRECTORY* Directory;
    assert_int_equal(VFSOpenDirectory(Folder, &Directory), VFS_OK);
    char Names[MAX_FILES][VFS_MAX_NAME + 1];
    U32 Count = 0;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End = FALSE;
        assert_int_equal(VFSReadDirectory(Directory, &Entry, &End), VFS_OK);
        if (End) break;
        if (strcmp(Entry.Name, ".") == 0 || strcmp(Entry.Name, "..") == 0) continue;
        assert_true(Count < MAX_FILES);
        snprintf(Names[Count++], sizeof(Names[0]), "%s", Entry.Name);
    }
    VFSCloseDirectory(Directory);
    for (U32 I = 0; I < Count; I++) {
        char Path[VFS_MAX_PATH];
        snprintf(Path, sizeof(Path), "%s/%s", Folder, Names[I]);
        VFS_STAT Stat;
        assert_int_equal(VFSLinkStat(Path, &Stat), VFS_OK);
        if (VFS_IS_DIRECTORY(Stat.Mode)) continue;  // d0..d2 are walked by the caller; lost+found is emptied
        BOOL Keep = strlen(Path) < sizeof(Volume->Files[0].Path) && strstr(Path, "lost+found") == NULL &&
                    VFS_IS_REGULAR(Stat.Mode) && Stat.Size <= MAX_FILE_BYTES && !AdoptedBefore(Stat.Inode);
        U64 Size = 0;
        U8* Data = VFS_IS_REGULAR(Stat.Mode) ? TestVfsReadAll(Path, &Size) : NULL;  // reads, or fails the test
        if (!Keep) {
            free(Data);
            assert_int_equal(VFSUnlink(Path), VFS_OK);  // what e2fsck salvaged, or anything the table cannot hold
            continue;
        }
        FILE_STATE* File = AddFile(Volume, Path);
        File->Exists = TRUE;
        File->Data = Data;
        File->Size = (U32)Size;
    }
}

static void Adopt(VOLUME* Volume) {
    ForgetFiles(Volume);
    AdoptedCount = 0;
    AdoptFolder(Volume, MOUNT_PATH);
    AdoptFolder(Volume, MOUNT_PATH "/d0");
    AdoptFolder(Volume, MOUNT_PATH "/d1");
    AdoptFolder(Volume, MOUNT_PATH "/d2");
    AdoptFolder(Volume, MOUNT_PATH "/lost+found");
    assert_int_equal(VFSSyncAll(), VFS_OK);
    MarkDurable(Volume);
}

static char RepairOutput[65536];  // e2fsck -fy's words on the last cut, shown when a check fails

/** The invariant: what the last sync before the cut saw, untouched since, is there byte for byte. */
static void CheckDurable(VOLUME* Volume, U32 Round) {
    for (U32 I = 0; I < Volume->FileCount; I++) {
        FILE_STATE* File = &Volume->Files[I];
        if (!File->DurableKnown || File->Touched) continue;
        VFS_STAT Stat;
        VFS_STATUS Status = VFSStat(File->Path, &Stat);
        if (!File->DurableExists) {
            Totals.AbsentChecked++;
            if (Status != VFS_ERROR_NOT_FOUND) {
                Totals.FilesLost++;
                if (!Quiet) fail_msg("round %u: %s was deleted and synced but is back", Round, File->Path);
            }
            continue;
        }
        Totals.FilesChecked++;
        BOOL Exact = FALSE;
        char Why[160] = "is missing";
        if (Status == VFS_OK) {
            U64 Size = 0;
            U8* Data = TestVfsReadAll(File->Path, &Size);
            Exact = Size == File->DurableSize &&
                    (Size == 0 || memcmp(Data, File->DurableData, File->DurableSize) == 0);
            U32 First = 0;
            while (First < MIN(Size, (U64)File->DurableSize) && Data[First] == File->DurableData[First]) First++;
            snprintf(Why, sizeof(Why), "differs (%llu bytes, first difference at byte %u, inode %llu)",
                     (unsigned long long)Size, First, (unsigned long long)Stat.Inode);
            free(Data);
        }
        if (!Exact) {
            Totals.FilesLost++;
            if (!Quiet) {
                HostLogDump();
                fprintf(stderr, "e2fsck -fy said:\n%s\n", RepairOutput);
                fail_msg("round %u: %s (%u bytes, synced before the cut) %s after e2fsck", Round, File->Path,
                         File->DurableSize, Why);
            }
        } else {
            Totals.BytesChecked += File->DurableSize;
        }
    }
}

/** e2fsck -fy on the saved image (exit 4 or more: errors left), then -fn must find it clean. */
static void Repair(VOLUME* Volume, U32 Round) {
    char Image[400];
    VolumePath(Image, sizeof(Image), "cut");
    U64 Offset = VolumeOffset(Volume), Length = VOLUME_SECTORS * 512ULL;
    assert_int_equal(NVMeModelSaveImage(Driver.Model, 1, Offset, Length, Image), KSTATUS_SUCCESS);
    char* Output = RepairOutput;
    int Status = TestRun(Output, sizeof(RepairOutput), "e2fsck -fy %s", Image);
    if (Status < 0 || Status >= 4) fail_msg("round %u: e2fsck -fy exit %d:\n%s", Round, Status, Output);
    if (Status != 0) Totals.Repaired++;
    if (getenv("CAIRN_POWERCUT_VERBOSE") && Status != 0) fprintf(stderr, "round %u e2fsck:\n%s\n", Round, Output);
    TestFsckClean(Image);
    assert_int_equal(NVMeModelLoadImage(Driver.Model, 1, Offset, Length, Image), KSTATUS_SUCCESS);
}

/************************************************************************/
// A round

static U64 IoCommands(void) {
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Driver.Model, &Stats);
    return Stats.IoCommands;
}

static void RunRound(VOLUME* Volume, U32 Round, U64 Seed, U64* CommandsPerOperation) {
    RandomState = Seed * 0x9E3779B97F4A7C15ULL + 1;
    Trace("round %u on volume %s", Round, Volume->Name);
    Mount(Volume);
    U32 Operations = 5 + Below(60);
    U64 Window = MAX(2ULL, Operations * *CommandsPerOperation);
    U32 KeepChoices[] = {0, 0, 250, 500, 750, 1000};
    U32 Keep = KeepChoices[Below(6)];
    NVMeModelSchedulePowerCut(Driver.Model, 1 + Random() % Window, Keep, Random());

    U64 Before = IoCommands();
    U32 Done = 0;
    while (Done < Operations && !PoweredOff()) {
        RunOperation(Volume);
        Done++;
    }
    if (PoweredOff()) Totals.CutsScheduledHit++;
    else NVMeModelPowerCut(Driver.Model, Keep, Random());  // the window was too wide: cut at the end
    // A running estimate of I/O commands per operation spreads the next cuts over the whole round.
    if (Done > 0) *CommandsPerOperation = (*CommandsPerOperation + MAX(1ULL, (IoCommands() - Before) / Done)) / 2;
    Totals.Cuts++;
    Trace("round %u: cut after %u operations", Round, Done);

    // The machine is off: the stack lets go (nothing it writes now lands) and forgets what it cached.
    VFSUnmount(MOUNT_PATH);
    DISK* Physical = DiskFind(NVMeGetNamespaceInfo(Driver.Ns)->DiskName);
    DiskInvalidateCache(Physical);
    assert_int_equal(DiskDirtyBlocks(Physical), 0);

    Repair(Volume, Round);
    NVMeModelPowerOn(Driver.Model);
    Mount(Volume);
    CheckDurable(Volume, Round);
    Adopt(Volume);
    assert_int_equal(VFSUnmount(MOUNT_PATH), VFS_OK);
    TestAssertUnlocked();
    Totals.Rounds++;
}

/************************************************************************/
// Set-up: one controller for the process (the driver keeps its controllers)

static void BuildNamespace(DISK_BACKEND* Backend) {
    TestWorkDir();
    char Tree[400], Image[400];
    snprintf(Tree, sizeof(Tree), "%s/tree", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/d0 %s/d1 %s/d2", Tree, Tree, Tree, Tree);
    for (U32 I = 0; I < 4; I++) {
        char Path[500];
        snprintf(Path, sizeof(Path), "%s/d%u/seed%u", Tree, I % 3, I);
        TestWriteHostFile(Path, 3000 + I * 20000, I + 1);
    }
    U8 Mbr[512] = {0};
    for (U32 V = 0; V < VOLUME_COUNT; V++) {
        VolumePath(Image, sizeof(Image), Volumes[V].Name);
        TestMust("rm -f %s && mke2fs -q -F -t ext2 -b %u -d %s %s %lluk", Image, Volumes[V].BlockSize, Tree, Image,
                 VOLUME_SECTORS / 2);
        FILE* File = fopen(Image, "rb");
        assert_non_null(File);
        U8* Data = malloc(VOLUME_SECTORS * 512);
        assert_non_null(Data);
        assert_int_equal(fread(Data, 1, VOLUME_SECTORS * 512, File), VOLUME_SECTORS * 512);
        fclose(File);
        assert_int_equal(DiskBackendWrite(Backend, VolumeOffset(&Volumes[V]), Data, VOLUME_SECTORS * 512),
                         KSTATUS_SUCCESS);
        free(Data);
        U8* Entry = Mbr + 446 + 16 * V;
        Entry[4] = 0x83;
        U32 Start = (U32)(FIRST_VOLUME_SECTOR + V * VOLUME_SECTORS), Count = (U32)VOLUME_SECTORS;
        memcpy(Entry + 8, &Start, 4);
        memcpy(Entry + 12, &Count, 4);
    }
    Mbr[510] = 0x55;
    Mbr[511] = 0xAA;
    assert_int_equal(DiskBackendWrite(Backend, 0, Mbr, sizeof(Mbr)), KSTATUS_SUCCESS);
}

static DISK_BACKEND* Backend;

static void StartStack(U64 Seed) {
    memset(&Totals, 0, sizeof(Totals));
    Backend = DiskBackendCreateMemory(NAMESPACE_BLOCKS * 512);
    assert_non_null(Backend);
    BuildNamespace(Backend);
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Namespaces[0].Blocks = NAMESPACE_BLOCKS;
    Config.Namespaces[0].Backend = Backend;
    RTCHostSetTime(1700000000);
    DiskSetCacheBudget(256 * 1024);  // small: write-backs by eviction in the middle of operations too
    PartitionInit();
    VFSRegisterFileSystem(&EXT2FileSystem);
    DriverStart(&Driver, &Config);
    // The default model advertises VWC (as QEMU does): the driver flushes; now the cache really is volatile.
    NVMeModelEnableWriteCache(Driver.Model, 1024, Seed);
    LPCSTR Name = NVMeGetNamespaceInfo(Driver.Ns)->DiskName;
    for (U32 V = 0; V < VOLUME_COUNT; V++) {
        snprintf(Volumes[V].Disk, sizeof(Volumes[V].Disk), "%.24sp%u", Name, V + 1);
        assert_non_null(DiskFind(Volumes[V].Disk));
        ForgetFiles(&Volumes[V]);
        Mount(&Volumes[V]);
        Adopt(&Volumes[V]);
        assert_int_equal(VFSUnmount(MOUNT_PATH), VFS_OK);
    }
}

static void StopStack(void) {
    NVME_MODEL_WRITE_CACHE_STATS Cache;
    NVMeModelGetWriteCacheStats(Driver.Model, &Cache);
    Totals.BlocksKept = Cache.BlocksKeptAtCut;
    Totals.BlocksLost = Cache.BlocksLostAtCut;
    for (U32 V = 0; V < VOLUME_COUNT; V++) ForgetFiles(&Volumes[V]);
    DriverEnd(&Driver);
    DiskBackendDestroy(Backend);  // the namespace's, not the model's: it outlives the model
    Backend = NULL;
}

static void PrintTotals(LPCSTR Label, U64 FirstSeed) {
    printf("power cuts (%s, seeds %llu..%llu): %u cuts (%u at a seeded command, %u at the end of a round), "
           "%u operations, %u syncs (%u returned before the cut), e2fsck repaired %u volumes; %u synced files "
           "checked byte-exact (%llu bytes), %u synced deletions checked, %u lost; unflushed blocks at the cuts: "
           "%llu kept, %llu lost\n",
           Label, (unsigned long long)FirstSeed, (unsigned long long)(FirstSeed + Totals.Cuts - (Totals.Cuts != 0)),
           Totals.Cuts, Totals.CutsScheduledHit, Totals.Cuts - Totals.CutsScheduledHit, Totals.Operations,
           Totals.Syncs, Totals.SyncsDurable, Totals.Repaired, Totals.FilesChecked - Totals.FilesLost,
           (unsigned long long)Totals.BytesChecked, Totals.AbsentChecked, Totals.FilesLost,
           (unsigned long long)Totals.BlocksKept, (unsigned long long)Totals.BlocksLost);
    fflush(stdout);
}

static U64 EnvNumber(LPCSTR Name, U64 Default) {
    LPCSTR Value = getenv(Name);
    return Value && *Value ? strtoull(Value, NULL, 0) : Default;
}

/************************************************************************/
// Cases

static void test_synced_files_survive_power_cuts(void** State) {
    (void)State;
    U64 Cuts = EnvNumber("CAIRN_POWERCUT_CUTS", POWERCUT_CI_CUTS);
    U64 FirstSeed = EnvNumber("CAIRN_POWERCUT_SEED", 1);
    Quiet = FALSE;
    StartStack(FirstSeed);
    U64 CommandsPerOperation[VOLUME_COUNT] = {8, 8};
    for (U64 Round = 0; Round < Cuts; Round++) {
        U32 V = (U32)(Round % VOLUME_COUNT);
        RunRound(&Volumes[V], (U32)Round, FirstSeed + Round, &CommandsPerOperation[V]);
    }
    StopStack();
    PrintTotals("real stack", FirstSeed);
    assert_int_equal(Totals.FilesLost, 0);
    assert_int_equal(Totals.Cuts, Cuts);
    // The cuts must land inside the workload, not only after it.
    assert_true(Totals.CutsScheduledHit * 2 >= Totals.Cuts);
    assert_true(Totals.FilesChecked > 0);
}

static void test_lying_flush_is_caught(void** State) {
    (void)State;
    Quiet = TRUE;
    StartStack(1000);
    NVMeModelSetFlushIgnored(Driver.Model, TRUE);
    U64 CommandsPerOperation[VOLUME_COUNT] = {8, 8};
    for (U32 Round = 0; Round < 8 && Totals.FilesLost == 0; Round++) {
        RunRound(&Volumes[Round % VOLUME_COUNT], Round, 1000 + Round, &CommandsPerOperation[Round % VOLUME_COUNT]);
    }
    NVMeModelSetFlushIgnored(Driver.Model, FALSE);
    StopStack();
    PrintTotals("a drive that ignores Flush", 1000);
    Quiet = FALSE;
    assert_true(Totals.FilesLost > 0);
}

static int Teardown(void** State) {
    (void)State;
    VFSHostReset();
    return DriverTeardown(State);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_teardown(test_synced_files_survive_power_cuts, Teardown),
        cmocka_unit_test_teardown(test_lying_flush_is_caught, Teardown),
    };
    int Failed = DriverRunTests(Tests, sizeof(Tests) / sizeof(Tests[0]));
    TestCleanWork();
    return Failed;
}

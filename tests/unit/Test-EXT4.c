/*
 * Test-EXT4.c - reading ext4 and ext3 volumes that e2fsprogs made, through
 * the VFS on the host.
 *
 * Each configuration builds a host tree (files at the edges of inline data
 * and extents, sparse files whose many runs need extent trees of depth 1 and
 * 2, a file past 4 GiB, unwritten extents, deep folders, fast, slow and
 * inline links, hard links, names with bytes of 0x80 and more, a folder of
 * hundreds of names), makes an image with `mke2fs -O none,<features> -d`,
 * indexes its folders with `e2fsck -fyD`, mounts it and compares every
 * listing, type, mode, size, link count, link target and byte with the host
 * tree, and every name looked up through the hashed index. Configurations:
 * mke2fs's ext4 (64bit, flex_bg, metadata_csum, huge_file, 4 KiB blocks);
 * 1 KiB blocks with 32-byte descriptors and gdt_csum (crc16), tea hashes, on
 * 4096-byte sectors without a disk cache; 2 KiB blocks with meta_bg in two
 * metagroups, 128-byte descriptors and sparse_super2; inline_data with
 * metadata_csum_seed after a UUID change and unsigned hashes; bigalloc; and
 * ext3 with 128- and 256-byte inodes (written too, e2fsck clean after).
 * Then: the directory hashes against debugfs's dx_hash, a 10 000-entry
 * folder (every name found through the index), times with nanoseconds and
 * epoch bits, huge_file block counts, and large reads in few disk requests.
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
#include "fs/ext2/EXT2.h"

#define EXT4_FEATURES                                                                                          \
    "has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file," \
    "dir_nlink,extra_isize,metadata_csum"
#define EXT3_FEATURES "has_journal,ext_attr,resize_inode,dir_index,filetype,sparse_super,large_file"

/************************************************************************/
// The tree

#define TREE_HUGE 0x1     // a sparse file past 4 GiB
#define TREE_MANY_RUNS 0x2  // a sparse file of 400 runs: an extent tree of depth 2 with 1 KiB blocks
#define TREE_NO_SPARSE 0x4  // no sparse file: mke2fs 1.47.0 -d with inline_data writes a wrong size for one

static void BuildExt4Tree(const char* Root, U32 BlockSize, U32 Flags) {
    char Path[1024];
    TestMust("rm -rf %s && mkdir -p %s/sub/deeper %s/many", Root, Root, Root);
    struct {
        const char* Name;
        U64 Size;
    } Files[] = {
        {"empty", 0},           {"one", 1},        {"inline-59", 59},          {"inline-60", 60},
        {"inline-100", 100},    {"inline-150", 150}, {"block", BlockSize},     {"block-plus-one", BlockSize + 1},
        {"few-mib", 3 * TEST_MIB + 7}, {"sub/deeper/leaf", 333},
    };
    for (U32 I = 0; I < sizeof(Files) / sizeof(Files[0]); I++) {
        snprintf(Path, sizeof(Path), "%s/%s", Root, Files[I].Name);
        TestWriteHostFile(Path, Files[I].Size, I + 1);
    }
    U64 Holes[] = {0, 100 * 1024, TEST_MIB + 3000};
    snprintf(Path, sizeof(Path), "%s/sparse", Root);
    if (!(Flags & TREE_NO_SPARSE)) TestWriteSparseFile(Path, 2 * TEST_MIB + 5, Holes, 3, 50);
    if (Flags & TREE_MANY_RUNS) {
        // 4 KiB of data (what TestWriteSparseFile writes) every 8 blocks: each run its own extent.
        U64 Offsets[400];
        for (U32 I = 0; I < 400; I++) Offsets[I] = (U64)I * 8 * BlockSize;
        snprintf(Path, sizeof(Path), "%s/many-runs", Root);
        TestWriteSparseFile(Path, 3200ULL * BlockSize + 17, Offsets, 400, 52);
    }
    if (Flags & TREE_HUGE) {
        U64 Size = 5ULL * 1024 * TEST_MIB;
        U64 Offsets[] = {0, Size / 2, Size - 4096};
        snprintf(Path, sizeof(Path), "%s/huge-sparse", Root);
        TestWriteSparseFile(Path, Size, Offsets, 3, 51);
    }
    // Names past ASCII (UTF-8), whose hash differs between the signed and unsigned variants.
    TestMust("cd %s && printf 'u' > \"$(printf 'caf\\303\\251')\" && printf 'v' > \"$(printf '\\342\\202\\254uro-sign')\"",
             Root);
    for (U32 I = 0; I < 300; I++) {
        // Every tenth name ends in bytes past ASCII, so the signed and unsigned hashes both get tested.
        snprintf(Path, sizeof(Path), "%s/many/entry-with-a-fairly-long-name-%03u%s", Root, I,
                 I % 10 == 0 ? "-\303\251\342\202\254" : "");
        TestWriteHostFile(Path, I % 97, 100 + I);
    }
    TestMust("cd %s && ln -s one fast-link && ln -s sub/deeper/leaf/../../../sub/deeper/leaf/../leaf/../../deeper/leaf "
             "slow-link && ln -s nowhere dangling && ln few-mib hard-link && chmod 0600 one && chmod 0751 sub",
             Root);
    char Long[256];
    memset(Long, 'n', 255);
    Long[255] = 0;
    snprintf(Path, sizeof(Path), "%s/%s", Root, Long);
    TestWriteHostFile(Path, 10, 99);
}

/************************************************************************/
// Configurations

typedef struct {
    const char* Name;
    U32 BlockSize;
    const char* Features;     // after -O none,
    const char* Options;      // more mke2fs options
    const char* Size;
    U32 SectorSize;
    BOOL Cached;              // the disk has a sector cache
    U32 TreeFlags;
    const char* Before;       // commands on the image before indexing (%s: the image), or NULL
    const char* Kind;         // what statfs must call it
    BOOL Writable;
} EXT4_CONFIG;

static void MakeImage(const EXT4_CONFIG* Config, const char* Source, const char* Image) {
    TestMust("rm -f %s && mke2fs -q -F -b %u -O none,%s %s -d %s %s %s", Image, Config->BlockSize, Config->Features,
             Config->Options, Source, Image, Config->Size);
    if (Config->Before) {
        char Command[1024];
        snprintf(Command, sizeof(Command), Config->Before, Image, Image, Image);
        TestMust("%s", Command);
    }
    // Index every folder (mke2fs -d writes linear ones), then the image must be clean.
    TestRun(NULL, 0, "e2fsck -fyD %s", Image);
    TestFsckClean(Image);
}

/** Looks every name of a folder up through the VFS (the hashed index on indexed folders). */
static void LookupAll(const char* HostFolder, const char* CairnFolder) {
    U32 Count;
    char** Names = HostList(HostFolder, &Count);
    for (U32 I = 0; I < Count; I++) {
        char Path[2048];
        VFS_STAT Stat;
        snprintf(Path, sizeof(Path), "%s/%s", CairnFolder, Names[I]);
        VFS_STATUS Status = VFSLinkStat(Path, &Stat);
        if (Status != VFS_OK) fprintf(stderr, "lookup %s: %s\n", Path, VFSErrorString(Status));
        assert_int_equal(Status, VFS_OK);
    }
    FreeList(Names, Count);
}

static void ReadConfiguration(const EXT4_CONFIG* Config) {
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/tree-%s", TestWork, Config->Name);
    snprintf(Image, sizeof(Image), "%s/%s.img", TestWork, Config->Name);
    BuildExt4Tree(Source, Config->BlockSize, Config->TreeFlags);
    MakeImage(Config, Source, Image);
    if (Config->TreeFlags & TREE_MANY_RUNS) {
        // The tree the many runs need is as deep as claimed: debugfs's first line below the header is "0/ 2".
        char Extents[256];
        TestRun(Extents, sizeof(Extents), "debugfs -R 'ex /many-runs' %s 2>/dev/null | sed -n 2p", Image);
        if (strstr(Extents, " 0/ 2 ") != Extents) fprintf(stderr, "many-runs: %s\n", Extents);
        assert_ptr_equal(strstr(Extents, " 0/ 2 "), Extents);
    }

    DiskSetCacheBudget(Config->Cached ? CACHE_DEFAULT_BUDGET : 0);
    TEST_DISK* Disk = TestDiskOpen(Image, Config->SectorSize, DISK_TYPE_RAM);
    DiskSetCacheBudget(CACHE_DEFAULT_BUDGET);
    TestResetLog();
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/e4", FALSE), VFS_OK);
    TestAssertUnlocked();
    VFS_STATFS StatFs;
    VFS_MOUNT_INFO Info;
    assert_int_equal(VFSStatFs("/mnt/e4", &StatFs, &Info), VFS_OK);
    assert_string_equal(StatFs.Type, Config->Kind);
    assert_string_equal(Info.Type, Config->Kind);
    assert_int_equal(StatFs.BlockSize, Config->BlockSize);
    assert_int_equal(StatFs.ReadOnly, !Config->Writable);
    if (!Config->Writable) assert_string_equal(StatFs.ReadOnlyReason, "ext4 features are read-only");

    CompareTree(Source, "/mnt/e4", 0);
    LookupAll(Source, "/mnt/e4");
    char Many[400];
    snprintf(Many, sizeof(Many), "%s/many", Source);
    LookupAll(Many, "/mnt/e4/many");
    EXT2_VOLUME_STATE State;
    EXT2GetVolumeState(VFSHostVolume("/mnt/e4"), &State);
    assert_true(State.Counters.HashedLookups >= 300);  // the indexed folders answered through their index
    assert_int_equal(State.Counters.IndexFallbacks, 0);
    assert_int_equal(State.Counters.ChecksumErrors, 0);
    assert_int_equal(TestWarnings, 0);
    assert_int_equal(VFSUnmount("/mnt/e4"), VFS_OK);
    TestDiskClose(Disk);
    // Reading never changed the image (read-only: nothing written at all).
    TestFsckClean(Image);
    TestMust("rm -rf %s %s", Image, Source);
}

static const EXT4_CONFIG Configs[] = {
    {"ext4-4k", 4096, EXT4_FEATURES, "", "64M", 512, TRUE, TREE_HUGE, NULL, "ext4", FALSE},
    {"ext4-1k-32bit-gdtcsum", 1024, EXT4_FEATURES ",^64bit,^metadata_csum,uninit_bg", "", "24M", 4096, FALSE,
     TREE_MANY_RUNS, "tune2fs -E hash_alg=tea %s > /dev/null", "ext4", FALSE},
    {"ext4-2k-metabg", 2048, EXT4_FEATURES ",^resize_inode,meta_bg,sparse_super2", "-g 1024 -E desc_size=128,num_backup_sb=1",
     "128M", 512, TRUE, 0, NULL, "ext4", FALSE},
    {"ext4-4k-inline-seed", 4096, EXT4_FEATURES ",inline_data,metadata_csum_seed", "-I 512", "48M", 512, TRUE, TREE_NO_SPARSE,
     "tune2fs -U 1dd136c6-e47a-4833-9bf5-519f8aacabe4 %s > /dev/null && debugfs -w -R 'ssv flags 2' %s",
     "ext4", FALSE},
    {"ext4-1k-bigalloc", 1024, EXT4_FEATURES ",bigalloc", "-C 16384", "64M", 512, TRUE, TREE_MANY_RUNS, NULL, "ext4",
     FALSE},
    {"ext3-128", 4096, EXT3_FEATURES, "-I 128", "32M", 512, TRUE, 0, NULL, "ext3", TRUE},
    {"ext3-256", 1024, EXT3_FEATURES, "-I 256", "32M", 4096, FALSE, 0, NULL, "ext3", TRUE},
};

static void TestReadConfig0(void** State) { (void)State; ReadConfiguration(&Configs[0]); }
static void TestReadConfig1(void** State) { (void)State; ReadConfiguration(&Configs[1]); }
static void TestReadConfig2(void** State) { (void)State; ReadConfiguration(&Configs[2]); }
static void TestReadConfig3(void** State) { (void)State; ReadConfiguration(&Configs[3]); }
static void TestReadConfig4(void** State) { (void)State; ReadConfiguration(&Configs[4]); }
static void TestReadConfig5(void** State) { (void)State; ReadConfiguration(&Configs[5]); }
static void TestReadConfig6(void** State) { (void)State; ReadConfiguration(&Configs[6]); }

/************************************************************************/
// The directory hashes, against debugfs

/** s_hash_seed as the superblock holds it: the UUID's 16 bytes as four little-endian words. */
static void SeedFromUuid(const char* Uuid, U32 Seed[4]) {
    U8 Bytes[16];
    U32 Count = 0;
    for (const char* P = Uuid; *P && Count < 16; P++) {
        if (*P == '-') continue;
        unsigned int Byte;
        assert_int_equal(sscanf(P, "%2x", &Byte), 1);
        Bytes[Count++] = (U8)Byte;
        P++;
    }
    assert_int_equal(Count, 16);
    memcpy(Seed, Bytes, 16);
}

static void TestHashesMatchDebugfs(void** State) {
    (void)State;
    TestWorkDir();
    char Image[300], Script[300];
    snprintf(Image, sizeof(Image), "%s/hash.img", TestWork);
    snprintf(Script, sizeof(Script), "%s/hash.cmd", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext4 %s 8M", Image, Image);
    // debugfs takes the versions by number (0-2 signed, 3-5 unsigned; it reads unknown names as legacy).
    static const char* Algorithms[] = {"0", "1", "2", "3", "4", "5"};
    static const char* Seeds[] = {"66666666-7777-8888-9999-000000000000", "1dd136c6-e47a-4833-9bf5-519f8aacabe4"};
    // Names of every length that matters to the packing (15..17, 31..33 bytes per round), up to 255, some past ASCII.
    char Names[64][256];
    U32 NameCount = 0;
    U32 Lengths[] = {1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 200, 255};
    for (U32 L = 0; L < sizeof(Lengths) / sizeof(Lengths[0]); L++) {
        for (U32 Variant = 0; Variant < 2; Variant++) {
            char* Name = Names[NameCount++];
            for (U32 I = 0; I < Lengths[L]; I++) {
                U32 Value = (I * 31 + L * 7 + Variant * 13) % 62;
                Name[I] = (char)(Value < 26 ? 'a' + Value : Value < 52 ? 'A' + Value - 26 : '0' + Value - 52);
                if (Variant == 1 && I % 3 == 1) Name[I] = (char)(0x80 + (I * 37) % 0x7F);  // bytes of 0x80 and more
            }
            Name[Lengths[L]] = 0;
        }
    }
    static char Output[1 << 16];
    U32 Compared = 0;
    for (U32 A = 0; A < 6; A++) {
        for (U32 S = 0; S < 2; S++) {
            FILE* File = fopen(Script, "w");
            assert_non_null(File);
            for (U32 N = 0; N < NameCount; N++) fprintf(File, "dx_hash -h %s -s %s %s\n", Algorithms[A], Seeds[S], Names[N]);
            fclose(File);
            assert_int_equal(TestRun(Output, sizeof(Output), "debugfs -f %s %s 2>/dev/null", Script, Image), 0);
            U32 Seed[4];
            SeedFromUuid(Seeds[S], Seed);
            char* Line = Output;
            for (U32 N = 0; N < NameCount; N++) {
                char* Found = strstr(Line, " is 0x");
                assert_non_null(Found);
                unsigned int Hash, Minor;
                assert_int_equal(sscanf(Found, " is 0x%x (minor 0x%x)", &Hash, &Minor), 2);
                U32 MyHash, MyMinor;
                assert_int_equal(EXT2DirectoryHash(A, Seed, Names[N], (U32)strlen(Names[N]), &MyHash, &MyMinor), VFS_OK);
                if (MyHash != Hash || MyMinor != Minor) {
                    fprintf(stderr, "%s of a %zu-byte name: %08x/%08x, debugfs %08x/%08x\n", Algorithms[A],
                            strlen(Names[N]), MyHash, MyMinor, Hash, Minor);
                }
                assert_int_equal(MyHash, Hash);
                assert_int_equal(MyMinor, Minor);
                Line = Found + 6;
                Compared++;
            }
        }
    }
    assert_int_equal(Compared, 6 * 2 * NameCount);
    U32 Hash, Minor, Zero[4] = {0, 0, 0, 0};
    assert_int_equal(EXT2DirectoryHash(6, Zero, "x", 1, &Hash, &Minor), VFS_ERROR_INVALID);  // siphash: casefold only
}

/************************************************************************/
// A folder of 10 000 names

static void TestLargeFolder(void** State) {
    (void)State;
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/large", TestWork);
    snprintf(Image, sizeof(Image), "%s/large.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/big && cd %s/big && for I in $(seq 10000); do : > name_of_some_length_$I; done",
             Source, Source, Source);
    TestMust("rm -f %s && mke2fs -q -F -b 4096 -N 12000 -O none,%s -d %s %s 64M && (e2fsck -fyD %s > /dev/null; true)",
             Image, EXT4_FEATURES, Source, Image, Image);
    TestFsckClean(Image);
    assert_true(TestDebugfsStatField(Image, "/big", "Flags: ") & 0x1000);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/large", FALSE), VFS_OK);
    U32 Count;
    char** Names = CairnList("/mnt/large/big", &Count, NULL);
    assert_int_equal(Count, 10000);
    FreeList(Names, Count);
    EXT2_VOLUME_STATE Before, After;
    EXT2GetVolumeState(VFSHostVolume("/mnt/large"), &Before);
    snprintf(Source, sizeof(Source), "%s/large/big", TestWork);
    LookupAll(Source, "/mnt/large/big");
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/large/big/name_of_some_length_10001", &Stat), VFS_ERROR_NOT_FOUND);
    EXT2GetVolumeState(VFSHostVolume("/mnt/large"), &After);
    // Every lookup in the folder through its index (two blocks each), none by reading its hundreds of blocks.
    fprintf(stderr, "10 000-entry folder: %llu lookups through the index, %llu linear (the root's)\n",
            After.Counters.HashedLookups - Before.Counters.HashedLookups,
            After.Counters.LinearLookups - Before.Counters.LinearLookups);
    assert_true(After.Counters.HashedLookups - Before.Counters.HashedLookups >= 10001);
    assert_int_equal(After.Counters.IndexFallbacks, 0);
    assert_int_equal(VFSUnmount("/mnt/large"), VFS_OK);
    TestDiskClose(Disk);
    TestMust("rm -rf %s/large %s", TestWork, Image);
}

/************************************************************************/
// Inode details: times, huge_file block counts, unwritten extents

static void TestInodeDetails(void** State) {
    (void)State;
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/details", TestWork);
    snprintf(Image, sizeof(Image), "%s/details.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s && printf 'timed' > %s/timed && head -c 8192 /dev/urandom > %s/huge", Source, Source,
             Source, Source);
    TestMust("rm -f %s && mke2fs -q -F -b 4096 -O none,%s -d %s %s 16M", Image, EXT4_FEATURES, Source, Image);
    // mtime with epoch bits 01 and 125000000 ns: 2963151104 s (2063-11-24), as debugfs prints it (fact sheet).
    TestMust("debugfs -w -R 'sif /timed mtime 0xb09e1900' %s && debugfs -w -R 'sif /timed mtime_extra 0x1dcd6501' %s",
             Image, Image);
    TestMust("debugfs -w -R 'sif /timed crtime 0x5f000000' %s && debugfs -w -R 'sif /timed crtime_extra 0x8' %s", Image,
             Image);
    // HUGE_FILE_FL: i_blocks counts file-system blocks (2 here), e2fsck accepts it.
    TestMust("debugfs -w -R 'sif /huge flags 0xC0000' %s && debugfs -w -R 'sif /huge blocks 2' %s", Image, Image);
    // An unwritten extent of 10 blocks and a size covering it: reads as zeros.
    TestMust("debugfs -w -R 'write /dev/null prealloc' %s && debugfs -w -R 'fallocate /prealloc 0 9' %s && "
             "debugfs -w -R 'sif /prealloc size 40960' %s",
             Image, Image, Image);
    TestFsckClean(Image);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/d", FALSE), VFS_OK);
    VFS_STAT Stat;
    assert_int_equal(VFSStat("/mnt/d/timed", &Stat), VFS_OK);
    assert_int_equal(Stat.ModifyTime, 2963151104ULL);
    assert_int_equal(Stat.ModifyNanoseconds, 125000000);
    assert_true(Stat.HasBirthTime);
    assert_int_equal(Stat.BirthTime, 0x5F000000ULL);
    assert_int_equal(Stat.BirthNanoseconds, 2);
    assert_int_equal(VFSStat("/mnt/d/huge", &Stat), VFS_OK);
    assert_int_equal(Stat.Blocks, 2 * 8);  // two 4 KiB blocks in 512-byte units
    assert_int_equal(VFSStat("/mnt/d/prealloc", &Stat), VFS_OK);
    assert_int_equal(Stat.Size, 40960);
    U64 Size;
    U8* Data = TestVfsReadAll("/mnt/d/prealloc", &Size);
    assert_int_equal(Size, 40960);
    for (U64 I = 0; I < Size; I++) assert_int_equal(Data[I], 0);
    free(Data);
    assert_int_equal(VFSUnmount("/mnt/d"), VFS_OK);
    TestDiskClose(Disk);
    assert_int_equal(TestWarnings, 0);
}

/************************************************************************/
// Large reads: one disk request per run of the disk's largest transfer

static U32 ReadRequests(const char* Features, const char* Path, U64* Bytes) {
    TestWorkDir();
    char Source[300], Image[300];
    snprintf(Source, sizeof(Source), "%s/big-read", TestWork);
    snprintf(Image, sizeof(Image), "%s/big-read.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s && head -c %llu /dev/urandom > %s/big", Source, Source, 64 * TEST_MIB, Source);
    TestMust("rm -f %s && mke2fs -q -F -b 4096 -O none,%s -d %s %s 96M", Image, Features, Source, Image);
    DiskSetCacheBudget(0);
    TEST_DISK* Disk = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    DiskSetCacheBudget(CACHE_DEFAULT_BUDGET);
    Disk->MaxTransfer = 2048;  // 1 MiB requests at most
    Disk->Disk.MaxTransferSectors = 2048;
    assert_int_equal(VFSMount(Disk->Disk.Name, "/mnt/r", FALSE), VFS_OK);
    VFS_FILE* File;
    assert_int_equal(VFSOpen(Path, VFS_OPEN_READ, &File), VFS_OK);
    static U8 Buffer[4 << 20];
    U32 Before = Disk->Reads;
    *Bytes = 0;
    for (;;) {
        U32 Done;
        assert_int_equal(VFSRead(File, Buffer, sizeof(Buffer), &Done), VFS_OK);
        if (Done == 0) break;
        *Bytes += Done;
    }
    U32 Requests = Disk->Reads - Before;
    VFSClose(File);
    assert_int_equal(VFSUnmount("/mnt/r"), VFS_OK);
    TestDiskClose(Disk);
    TestMust("rm -rf %s %s", Source, Image);
    return Requests;
}

static void TestLargeReadRequests(void** State) {
    (void)State;
    U64 Bytes;
    U32 Extents = ReadRequests(EXT4_FEATURES, "/mnt/r/big", &Bytes);
    assert_int_equal(Bytes, 64 * TEST_MIB);
    // 64 requests of 1 MiB, and a few for the inode and the extent tree.
    fprintf(stderr, "ext4: 64 MiB in %u disk requests\n", Extents);
    assert_true(Extents >= 64 && Extents <= 64 + 8);
    U32 Indirect = ReadRequests("ext_attr,resize_inode,dir_index,filetype,sparse_super,large_file", "/mnt/r/big",
                                &Bytes);
    fprintf(stderr, "ext2: 64 MiB in %u disk requests\n", Indirect);
    assert_int_equal(Bytes, 64 * TEST_MIB);
    assert_true(Indirect >= Extents);  // indirect blocks split the runs
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestReadConfig0, TestVfsPerTest), cmocka_unit_test_setup(TestReadConfig1, TestVfsPerTest),
        cmocka_unit_test_setup(TestReadConfig2, TestVfsPerTest), cmocka_unit_test_setup(TestReadConfig3, TestVfsPerTest),
        cmocka_unit_test_setup(TestReadConfig4, TestVfsPerTest), cmocka_unit_test_setup(TestReadConfig5, TestVfsPerTest),
        cmocka_unit_test_setup(TestReadConfig6, TestVfsPerTest), cmocka_unit_test_setup(TestHashesMatchDebugfs, TestVfsPerTest),
        cmocka_unit_test_setup(TestLargeFolder, TestVfsPerTest),  cmocka_unit_test_setup(TestInodeDetails, TestVfsPerTest),
        cmocka_unit_test_setup(TestLargeReadRequests, TestVfsPerTest),
    };
    return cmocka_run_group_tests(Tests, TestVfsSetup, TestVfsTeardown);
}

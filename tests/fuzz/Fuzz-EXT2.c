/*
 * Fuzz-EXT2.c - libFuzzer target for the EXT2 driver: mount and walk a
 * mutated image, then change it.
 *
 * The input is a raw EXT2, ext3 or ext4 image (the seeds are small mke2fs
 * images; see tools/make-fuzz-corpus.sh and tools/make-ext2-corpus.sh): the
 * ext4 ones reach extent trees, 64-bit descriptors, metadata_csum and
 * gdt_csum checks, inline data, hashed lookups and journal replay into
 * memory (2200 KiB: mke2fs's smallest journal, hence -max_len). Bytes 0 to 1023
 * are the boot block, which EXT2 never reads, so they carry the options:
 * byte 0 bit 0 gives 4096-byte sectors (else 512), bit 1 mounts read-only,
 * bit 2 leaves the disk without a sector cache (the volume then pins its
 * metadata in a private one; without the bit, in the disk's 256 KiB cache,
 * small enough to evict while blocks are pinned).
 *
 * Each input is copied into a memory disk and mounted through the driver's
 * VFS table; every folder is listed (depth and entry count bounded), every
 * name looked up again, every file read (its start and its end), every link
 * read. Then a few writes run: create, write (also far out, to reach the
 * indirect blocks), truncate, mkdir, rename, unlink, rmdir; then unmount.
 * Any fault, sanitizer report, leak, access outside the disk, lock left
 * held or hang (the -timeout) is a crash; errors from the driver are fine.
 */
// SOURCES: $(EXT2_SOURCES)
// FUZZ_FLAGS: -max_len=2359296 -timeout=20 -rss_limit_mb=2048

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "HostDisk.h"
#include "HostKernel.h"
#include "block/Cache.h"
#include "block/Disk.h"
#include "fs/ext2/EXT2.h"

#define CHECK(Condition)                    \
    do {                                    \
        if (!(Condition)) __builtin_trap(); \
    } while (0)

#define FUZZ_MAX_DEPTH 12
#define FUZZ_MAX_ENTRIES 3000
#define FUZZ_READ_BYTES (128 * 1024)

/** The host kernel's log stays quiet: malformed images make the driver warn on every input. */
int LLVMFuzzerInitialize(int* ArgumentCount, char*** Arguments) {
    (void)ArgumentCount;
    (void)Arguments;
    HostLogSetEchoLevel(HOST_LOG_QUIET);
    return 0;
}

typedef struct {
    LPVOID Volume;
    U32 Entries;
    U8* Buffer;
    U64 FirstFile;        // an inode and name for the write phase
    char FirstFileName[VFS_MAX_NAME + 1];
    U64 FirstFileFolder;
} FUZZ_WALK;

static void FuzzReadFile(FUZZ_WALK* Walk, U64 Inode, U64 Size) {
    const VFS_FILE_SYSTEM* Fs = &EXT2FileSystem;
    U32 Done;
    U64 Offset = 0;
    while (Offset < Size && Offset < FUZZ_READ_BYTES) {
        if (Fs->Read(Walk->Volume, Inode, Offset, Walk->Buffer, 65536, &Done) != VFS_OK || Done == 0) break;
        CHECK(Done <= 65536);
        Offset += Done;
    }
    if (Size > 100) Fs->Read(Walk->Volume, Inode, Size - 100, Walk->Buffer, 200, &Done);
    CHECK(HostMutexDepth() == 0);
}

static void FuzzWalk(FUZZ_WALK* Walk, U64 Folder, U32 Depth) {
    const VFS_FILE_SYSTEM* Fs = &EXT2FileSystem;
    U64 Cursor = 0;
    for (;;) {
        if (Walk->Entries++ >= FUZZ_MAX_ENTRIES) return;
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End = FALSE;
        U64 Before = Cursor;
        if (Fs->ReadDirectory(Walk->Volume, Folder, &Cursor, &Entry, &End) != VFS_OK || End) break;
        CHECK(Cursor > Before);  // the cursor always moves on
        CHECK(HostMutexDepth() == 0);
        if (strcmp(Entry.Name, ".") == 0 || strcmp(Entry.Name, "..") == 0) continue;
        U64 Found = 0;
        if (Fs->Lookup(Walk->Volume, Folder, Entry.Name, &Found) != VFS_OK) continue;
        VFS_STAT Stat;
        if (Fs->GetStat(Walk->Volume, Found, &Stat) != VFS_OK) continue;
        if (VFS_IS_REGULAR(Stat.Mode)) {
            if (Walk->FirstFile == 0) {
                Walk->FirstFile = Found;
                Walk->FirstFileFolder = Folder;
                memcpy(Walk->FirstFileName, Entry.Name, sizeof(Entry.Name));
            }
            FuzzReadFile(Walk, Found, Stat.Size);
        } else if (VFS_IS_SYMLINK(Stat.Mode)) {
            char Target[VFS_MAX_PATH];
            if (Fs->ReadLink(Walk->Volume, Found, Target, sizeof(Target)) == VFS_OK) {
                CHECK(strlen(Target) < sizeof(Target));
            }
        } else if (VFS_IS_DIRECTORY(Stat.Mode) && Depth < FUZZ_MAX_DEPTH) {
            FuzzWalk(Walk, Found, Depth + 1);
        }
    }
}

static void FuzzWrites(FUZZ_WALK* Walk, U64 Root) {
    const VFS_FILE_SYSTEM* Fs = &EXT2FileSystem;
    U64 File = 0, Folder = 0;
    U32 Done;
    memset(Walk->Buffer, 0x5A, 8192);
    if (Fs->Create(Walk->Volume, Root, "fuzz-new", VFS_TYPE_REGULAR | 0644, &File) == VFS_OK) {
        Fs->Write(Walk->Volume, File, 0, Walk->Buffer, 5000, &Done);
        Fs->Write(Walk->Volume, File, 300000, Walk->Buffer, 8192, &Done);
        Fs->Truncate(Walk->Volume, File, 100);
    }
    if (Fs->Create(Walk->Volume, Root, "fuzz-folder", VFS_TYPE_DIRECTORY | 0755, &Folder) == VFS_OK) {
        Fs->Rename(Walk->Volume, Root, "fuzz-new", Folder, "moved");
        Fs->Unlink(Walk->Volume, Folder, "moved");
        Fs->RemoveDirectory(Walk->Volume, Root, "fuzz-folder");
    }
    if (Walk->FirstFile != 0) {
        Fs->Write(Walk->Volume, Walk->FirstFile, 4096, Walk->Buffer, 4096, &Done);
        Fs->Rename(Walk->Volume, Walk->FirstFileFolder, Walk->FirstFileName, Root, "renamed-first");
        Fs->Unlink(Walk->Volume, Root, "renamed-first");
    }
    CHECK(HostMutexDepth() == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t* Data, size_t Size) {
    if (Size < 2048) return 0;
    U32 SectorSize = (Data[0] & 1) ? 4096 : 512;
    BOOL ReadOnly = (Data[0] & 2) != 0;
    BOOL Cached = (Data[0] & 4) == 0;
    if (Size / SectorSize == 0) return 0;

    // The memory disk, registered only for its sector cache: the walk goes to the file system's table directly.
    HOST_DISK* Fuzz = HostDiskCreate("fuzz0", SectorSize, Size / SectorSize);
    memcpy(Fuzz->Data, Data, (Size / SectorSize) * SectorSize);
    Fuzz->Disk.TypeID = KOID_DISK;
    Fuzz->Disk.References = 1;
    Fuzz->Disk.SectorSize = SectorSize;
    Fuzz->Disk.SectorCount = Fuzz->Sectors;
    if (Cached) {
        DiskSetCacheBudget(256 * 1024);
        CHECK(DiskRegister(&Fuzz->Disk) == KSTATUS_SUCCESS && Fuzz->Disk.Cache != NULL);
    }

    FUZZ_WALK Walk;
    memset(&Walk, 0, sizeof(Walk));
    U64 Root = 0;
    const VFS_FILE_SYSTEM* Fs = &EXT2FileSystem;
    if (Fs->Probe(&Fuzz->Disk) == VFS_OK && Fs->Mount(&Fuzz->Disk, ReadOnly, &Walk.Volume, &Root) == VFS_OK) {
        CHECK(HostMutexDepth() == 0);
        Walk.Buffer = malloc(65536 + 200);
        VFS_STATFS StatFs;
        if (Fs->StatFs(Walk.Volume, &StatFs) == VFS_OK) CHECK(StatFs.FreeBlocks <= StatFs.TotalBlocks);
        FuzzWalk(&Walk, Root, 0);
        FuzzWrites(&Walk, Root);
        Walk.Entries = 0;
        FuzzWalk(&Walk, Root, 0);
        Fs->Unmount(Walk.Volume);
        free(Walk.Buffer);
    }
    CHECK(HostMutexDepth() == 0);
    if (Cached) {
        DiskUnregister(&Fuzz->Disk);
        CacheDestroy(Fuzz->Disk.Cache);
    }
    HostDiskDestroy(Fuzz);
    return 0;
}

/*
 * EXT2-TestTree.h - what the EXT2/ext4 read tests share: listing a host
 * folder and a mounted one, comparing a host tree with a mounted tree
 * (names, types, modes, sizes, link counts, link targets and every byte,
 * large sparse files by their data regions), and patching image files.
 * Include after EXT2-TestDisk.h.
 */

#ifndef EXT2_TEST_TREE_H
#define EXT2_TEST_TREE_H

#define TEST_MIB (1024ULL * 1024ULL)

static int CompareNames(const void* A, const void* B) { return strcmp(*(char* const*)A, *(char* const*)B); }

/** The names in a host folder (without "." and ".."), sorted; caller frees each and the array. */
static char** HostList(const char* Path, U32* Count) {
    DIR* Directory = opendir(Path);
    assert_non_null(Directory);
    char** Names = NULL;
    U32 Total = 0;
    struct dirent* Entry;
    while ((Entry = readdir(Directory)) != NULL) {
        if (strcmp(Entry->d_name, ".") == 0 || strcmp(Entry->d_name, "..") == 0) continue;
        Names = realloc(Names, (Total + 1) * sizeof(char*));
        Names[Total++] = strdup(Entry->d_name);
    }
    closedir(Directory);
    if (Total > 1) qsort(Names, Total, sizeof(char*), CompareNames);
    *Count = Total;
    return Names;
}

static char** CairnList(const char* Path, U32* Count, BOOL* SawDots) {
    VFS_DIRECTORY* Directory;
    VFS_STATUS Status = VFSOpenDirectory(Path, &Directory);
    if (Status != VFS_OK) fprintf(stderr, "opendir %s: %s\n", Path, VFSErrorString(Status));
    assert_int_equal(Status, VFS_OK);
    char** Names = NULL;
    U32 Total = 0, Dots = 0;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End;
        assert_int_equal(VFSReadDirectory(Directory, &Entry, &End), VFS_OK);
        if (End) break;
        if (strcmp(Entry.Name, ".") == 0 || strcmp(Entry.Name, "..") == 0) {
            Dots++;
            continue;
        }
        Names = realloc(Names, (Total + 1) * sizeof(char*));
        Names[Total++] = strdup(Entry.Name);
    }
    VFSCloseDirectory(Directory);
    TestAssertUnlocked();
    if (Total > 1) qsort(Names, Total, sizeof(char*), CompareNames);
    *Count = Total;
    if (SawDots) *SawDots = Dots == 2;
    return Names;
}

static void FreeList(char** Names, U32 Count) {
    for (U32 I = 0; I < Count; I++) free(Names[I]);
    free(Names);
}

/** Compares a window of a file: host bytes against VFS bytes at Offset. */
static void CompareWindow(int Host, VFS_FILE* File, U64 Offset, U32 Length) {
    static U8 Expected[1 << 20], Actual[1 << 20];
    assert_true(Length <= sizeof(Expected));
    ssize_t Got = pread(Host, Expected, Length, (off_t)Offset);
    assert_true(Got >= 0);
    assert_int_equal(VFSSeek(File, Offset), VFS_OK);
    U32 Done = 0;
    while (Done < (U32)Got) {
        U32 Part;
        assert_int_equal(VFSRead(File, Actual + Done, (U32)Got - Done, &Part), VFS_OK);
        if (Part == 0) break;
        Done += Part;
    }
    assert_int_equal(Done, (U32)Got);
    assert_memory_equal(Expected, Actual, Done);
}

static void CompareFile(const char* HostPath, const char* CairnPath, U64 Size) {
    int Host = open(HostPath, O_RDONLY);
    assert_true(Host >= 0);
    VFS_FILE* File;
    assert_int_equal(VFSOpen(CairnPath, VFS_OPEN_READ, &File), VFS_OK);
    if (Size <= 8 * TEST_MIB) {
        // Whole file, in uneven pieces that start and end inside blocks.
        for (U64 Offset = 0; Offset < Size;) {
            U32 Length = (U32)(Size - Offset < 300007 ? Size - Offset : 300007);
            CompareWindow(Host, File, Offset, Length);
            Offset += Length;
        }
    } else {
        // Big sparse files: every data region the host reports, the start, the end, and holes around them.
        off_t Data = 0;
        U32 Regions = 0;
        while ((Data = lseek(Host, Data, SEEK_DATA)) >= 0 && Regions < 64) {
            off_t Hole = lseek(Host, Data, SEEK_HOLE);
            U64 Start = (U64)Data > 8192 ? (U64)Data - 8192 : 0;
            U64 Length = (U64)(Hole - Data) + 16384;
            if (Length > (1 << 20)) Length = 1 << 20;
            CompareWindow(Host, File, Start, (U32)Length);
            Data = Hole;
            Regions++;
        }
        assert_true(Regions > 0);
        CompareWindow(Host, File, Size - 100000, 100000);
        CompareWindow(Host, File, Size / 3, 65536);
    }
    // Reading at and past the end gives nothing.
    U32 Got = 1;
    U8 Byte;
    assert_int_equal(VFSSeek(File, Size), VFS_OK);
    assert_int_equal(VFSRead(File, &Byte, 1, &Got), VFS_OK);
    assert_int_equal(Got, 0);
    VFSClose(File);
    close(Host);
    TestAssertUnlocked();
}

/** Compares a host tree with a mounted one; returns the number of entries checked. */
static U32 CompareTree(const char* HostPath, const char* CairnPath, U32 Depth) {
    assert_true(Depth < 40);
    U32 HostCount, CairnCount;
    BOOL Dots;
    char** HostNames = HostList(HostPath, &HostCount);
    char** CairnNames = CairnList(CairnPath, &CairnCount, &Dots);
    if (Depth == 0) {
        // lost+found exists only in the image.
        for (U32 I = 0; I < CairnCount; I++) {
            if (strcmp(CairnNames[I], "lost+found") == 0) {
                free(CairnNames[I]);
                memmove(&CairnNames[I], &CairnNames[I + 1], (CairnCount - I - 1) * sizeof(char*));
                CairnCount--;
                break;
            }
        }
    }
    assert_true(Dots);
    assert_int_equal(HostCount, CairnCount);
    U32 Checked = 0, Subfolders = 0;
    for (U32 I = 0; I < HostCount; I++) {
        assert_string_equal(HostNames[I], CairnNames[I]);
        char Host[2048], Cairn[2048];
        snprintf(Host, sizeof(Host), "%s/%s", HostPath, HostNames[I]);
        snprintf(Cairn, sizeof(Cairn), "%s/%s", CairnPath, HostNames[I]);
        struct stat HostStat;
        VFS_STAT Stat;
        assert_int_equal(lstat(Host, &HostStat), 0);
        assert_int_equal(VFSLinkStat(Cairn, &Stat), VFS_OK);
        assert_int_equal(Stat.Mode & VFS_TYPE_MASK, HostStat.st_mode & S_IFMT);
        assert_int_equal(Stat.Mode & 07777, HostStat.st_mode & 07777);
        if (S_ISREG(HostStat.st_mode)) {
            assert_int_equal(Stat.Size, (U64)HostStat.st_size);
            assert_int_equal(Stat.Links, HostStat.st_nlink);
            CompareFile(Host, Cairn, Stat.Size);
        } else if (S_ISLNK(HostStat.st_mode)) {
            char Expected[1024] = {0}, Actual[1024];
            assert_true(readlink(Host, Expected, sizeof(Expected) - 1) > 0);
            assert_int_equal(VFSReadLink(Cairn, Actual, sizeof(Actual)), VFS_OK);
            assert_string_equal(Actual, Expected);
            assert_int_equal(Stat.Size, strlen(Expected));
        } else if (S_ISDIR(HostStat.st_mode)) {
            Subfolders++;
            Checked += CompareTree(Host, Cairn, Depth + 1);
        }
        Checked++;
    }
    // A folder's link count: its entry, its ".", and each child's "..".
    VFS_STAT Self;
    assert_int_equal(VFSStat(CairnPath, &Self), VFS_OK);
    if (Depth > 0) assert_int_equal(Self.Links, 2 + Subfolders);
    FreeList(HostNames, HostCount);
    FreeList(CairnNames, CairnCount);
    TestAssertUnlocked();
    return Checked;
}

static U8* ReadImage(const char* Image, size_t* Size) {
    FILE* File = fopen(Image, "rb");
    assert_non_null(File);
    fseek(File, 0, SEEK_END);
    *Size = (size_t)ftell(File);
    fseek(File, 0, SEEK_SET);
    U8* Data = malloc(*Size);
    assert_int_equal(fread(Data, 1, *Size, File), *Size);
    fclose(File);
    return Data;
}

static void PatchU32(const char* Image, U64 Offset, U32 Value) {
    int Descriptor = open(Image, O_RDWR);
    assert_true(Descriptor >= 0);
    assert_int_equal(pwrite(Descriptor, &Value, 4, (off_t)Offset), 4);
    close(Descriptor);
}

static U32 ReadU32(const char* Image, U64 Offset) {
    int Descriptor = open(Image, O_RDONLY);
    U32 Value = 0;
    assert_int_equal(pread(Descriptor, &Value, 4, (off_t)Offset), 4);
    close(Descriptor);
    return Value;
}

#endif  // EXT2_TEST_TREE_H

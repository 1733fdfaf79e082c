/*
 * Test-ShellFiles.c - the file commands (shell/ShellFiles.c and
 * ShellFilesRaw.c) on the host, run through ShellExecute against an EXT2
 * image and a blank raw disk, with the console captured.
 *
 * Formats are checked against the real tools: sha256sum against the host's
 * sha256sum (of files and of whole disks), dd against GNU dd run with the
 * same operands on a copy (same bytes on the target, same "records in/out"
 * lines, same byte-count line up to the time), and the coreutils shapes of
 * ls -l, stat and df. Errors must name the command, the path and the reason.
 * The `disk` listing (shell/ShellDisk.c) must line up under its header with a
 * GPT "Linux filesystem" partition, whose model is wider than the column was.
 */
// SOURCES: $(EXT2_SOURCES) shell/Shell.c shell/ShellRedirect.c shell/ShellFiles.c shell/ShellFilesRaw.c shell/ShellInput.c utils/LineEditor.c utils/SHA256.c shell/ShellDisk.c block/Partition.c block/PartitionTables.c utils/CRC32.c utils/Pattern.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "EXT2-TestDisk.h"
#include "block/Partition.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"
#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "shell/ShellFiles.h"
#include "system/Clock.h"

/************************************************************************/
// The console captured, a clock that moves, and a fake keyboard

static char Output[262144];
static size_t OutputLength;

static void CaptureWrite(LPCSTR Text, SIZE Length) {
    if (OutputLength + Length >= sizeof(Output)) Length = sizeof(Output) - 1 - OutputLength;
    memcpy(Output + OutputLength, Text, Length);
    OutputLength += Length;
    Output[OutputLength] = 0;
}

static CONSOLE_DEVICE Capture = {.Name = "capture", .Write = CaptureWrite};

KEY InputReadKey(void) { return KEY_ENTER; }

/**
 * The console goes to Output; the kernel log reaches it only for errors (the commands' own output is compared
 * byte for byte; warnings are counted through the host kernel). Each clock read is 1.234567 ms later.
 */
__attribute__((constructor)) static void SetUpHostKernel(void) {
    ConsoleRegister(&Capture);
    LogSetConsoleLevel(LOG_LEVEL_ERROR);
    HostTimeSetStep(1234567);
}

static const char* Run(const char* Format, ...) {
    char Line[512];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Line, sizeof(Line), Format, Arguments);
    va_end(Arguments);
    OutputLength = 0;
    Output[0] = 0;
    ShellExecute(Line);
    TestAssertUnlocked();
    return Output;
}

static char Image[300], RawImage[300], SecondImage[300];
static TEST_DISK *Volume, *Raw, *Second;

static void HostOutput(char* Text, size_t Size, const char* Format, ...) {
    char Command[1024];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Command, sizeof(Command), Format, Arguments);
    va_end(Arguments);
    assert_int_equal(TestRun(Text, Size, "%s", Command), 0);
}

/************************************************************************/

static void TestMountListAndDf(void** State) {
    (void)State;
    char Expected[128];
    snprintf(Expected, sizeof(Expected), "%s on /mnt/t type ext2 (rw)\n%s on /mnt/s type ext2 (rw)\n",
             Volume->Disk.Name, Second->Disk.Name);
    assert_string_equal(Run("mount"), Expected);
    const char* Text = Run("df");
    assert_non_null(strstr(Text, "Filesystem      1K-blocks       Used  Available Use% Mounted on\n"));
    unsigned long long Total, Used, Available;
    char Device[32], Percent[8], Where[64];
    const char* Row = strchr(Text, '\n') + 1;
    assert_int_equal(sscanf(Row, "%31s %llu %llu %llu %7s %63s", Device, &Total, &Used, &Available, Percent, Where), 6);
    assert_string_equal(Device, Volume->Disk.Name);
    assert_string_equal(Where, "/mnt/t");
    VFS_STATFS StatFs;
    assert_int_equal(VFSStatFs("/mnt/t", &StatFs, NULL), VFS_OK);
    assert_int_equal(Total, StatFs.TotalBlocks * 4);
    assert_int_equal(Used, (StatFs.TotalBlocks - StatFs.FreeBlocks) * 4);
    assert_int_equal(Available, StatFs.AvailableBlocks * 4);
    char Rounded[8];
    snprintf(Rounded, sizeof(Rounded), "%llu%%", (Used * 100 + Used + Available - 1) / (Used + Available));
    assert_string_equal(Percent, Rounded);

    assert_string_equal(Run("mount nodisk /mnt/x"), "mount: nodisk: no such disk\n");
    snprintf(Expected, sizeof(Expected), "mount: %s: no EXT2 file system found (wrong fs type or bad superblock)\n",
             Raw->Disk.Name);
    assert_string_equal(Run("mount %s /mnt/raw", Raw->Disk.Name), Expected);
    assert_string_equal(Run("umount /mnt"), "umount: /mnt: not mounted\n");
}

static void TestWriteCatLsStat(void** State) {
    (void)State;
    assert_string_equal(Run("write /mnt/t/hello.txt Hello,   \"big world\""), "");
    assert_string_equal(Run("cat /mnt/t/hello.txt"), "Hello, big world\n");
    assert_string_equal(Run("cat /mnt/t/nofile"), "cat: /mnt/t/nofile: No such file or directory\n");
    assert_string_equal(Run("cat /mnt/t/sub"), "cat: /mnt/t/sub: Is a directory\n");
    assert_string_equal(Run("cat /mnt/t/hello.txt/x"), "cat: /mnt/t/hello.txt/x: Not a directory\n");
    assert_string_equal(Run("write /mnt/t/hello.txt replaced"), "");
    assert_string_equal(Run("cat /mnt/t/hello.txt"), "replaced\n");

    // Plain ls: sorted names, one a line, no dot files; -a shows them.
    assert_string_equal(Run("ls /mnt/t/sub"), "a\nb\nlink\n");
    assert_string_equal(Run("ls -a /mnt/t/sub"), ".\n..\n.hidden\na\nb\nlink\n");
    assert_string_equal(Run("ls /mnt/t/sub/a"), "/mnt/t/sub/a\n");
    assert_string_equal(Run("ls /mnt/t/none"), "ls: /mnt/t/none: No such file or directory\n");
    // Many names created out of order come out in byte order, plain and long.
    assert_string_equal(Run("mkdir /mnt/t/order"), "");
    for (U32 I = 0; I < 200; I++) assert_string_equal(Run("write /mnt/t/order/n%03u x", (I * 37) % 200), "");
    char Sorted[200 * 5 + 1], *End = Sorted;
    for (U32 I = 0; I < 200; I++) End += sprintf(End, "n%03u\n", I);
    assert_string_equal(Run("ls /mnt/t/order"), Sorted);
    const char* Listing = Run("ls -l /mnt/t/order");
    const char* Previous = Listing;
    for (U32 I = 0; I < 200; I++) {
        char Name[8];
        snprintf(Name, sizeof(Name), " n%03u\n", I);
        const char* Found = strstr(Listing, Name);
        assert_non_null(Found);
        assert_true(Found >= Previous);
        Previous = Found;
    }
    // ls -l: mode, links, uid, gid, size, mtime, name, and the link target.
    RTCHostSetTime(1700000000);
    assert_string_equal(Run("write /mnt/t/sub/b 123456789"), "");
    const char* Long = Run("ls -l /mnt/t/sub");
    assert_non_null(strstr(Long, "total "));
    assert_non_null(strstr(Long, "-rw-r--r-- 1 0 0 10 2023-11-14 22:13 b\n"));
    assert_non_null(strstr(Long, "lrwxrwxrwx 1 0 0  1 "));
    assert_non_null(strstr(Long, " link -> a\n"));

    const char* Stat = Run("stat /mnt/t/sub/b");
    char Expected[256];
    assert_non_null(strstr(Stat, "  File: /mnt/t/sub/b\n"
                                 "  Size: 10        \tBlocks: 8          IO Block: 4096   regular file\n"));
    snprintf(Expected, sizeof(Expected), "Device: %s\tInode: ", Volume->Disk.Name);
    assert_non_null(strstr(Stat, Expected));
    assert_non_null(
        strstr(Stat, "Links: 1\nAccess: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)\n"));
    assert_non_null(strstr(Stat, "Modify: 2023-11-14 22:13:20.000000000 +0000\n"));
    // The creation time of a large inode (mke2fs -d made this one), with nanoseconds, as coreutils' stat shows it.
    const char* Birth = strstr(Stat, " Birth: 2");
    assert_non_null(Birth);
    assert_int_equal(strlen(" Birth: 2023-11-14 22:13:20.000000000 +0000\n"), strlen(Birth));
    assert_non_null(strstr(Run("stat /mnt/t/sub/link"), "  File: /mnt/t/sub/link -> a\n"));
    assert_non_null(strstr(Run("stat /mnt/t/sub"), "directory\n"));
    assert_string_equal(Run("stat /mnt/t/zz"), "stat: /mnt/t/zz: No such file or directory\n");
}

static void TestFolders(void** State) {
    (void)State;
    assert_string_equal(Run("pwd"), "/\n");
    assert_string_equal(Run("cd /mnt/t/sub"), "");
    assert_string_equal(Run("pwd"), "/mnt/t/sub\n");
    assert_string_equal(ShellGetCurrentDirectory(), "/mnt/t/sub");  // the prompt shows the VFS current folder
    assert_string_equal(VFSGetCurrentDirectory(), "/mnt/t/sub");
    assert_string_equal(Run("cat a"), "aaa\n");  // relative to the current folder
    assert_string_equal(Run("cd ../nothere"), "cd: ../nothere: No such file or directory\n");
    assert_string_equal(Run("cd a"), "cd: a: Not a directory\n");
    assert_string_equal(Run("mkdir -p x/y/z"), "");
    assert_string_equal(Run("mkdir x"), "mkdir: x: File exists\n");
    assert_string_equal(Run("rmdir x"), "rmdir: x: Directory not empty\n");
    assert_string_equal(Run("rmdir x/y/z x/y x"), "");
    assert_string_equal(Run("rm nothing"), "rm: nothing: No such file or directory\n");
    assert_string_equal(Run("cd"), "");
    assert_string_equal(Run("pwd"), "/\n");
    assert_string_equal(Run("rm /mnt/t/sub"), "rm: /mnt/t/sub: Is a directory\n");
    assert_string_equal(Run("rm -f /mnt/t/missing"), "");
    assert_string_equal(Run("rm /mnt/t/missing"), "rm: /mnt/t/missing: No such file or directory\n");
    assert_string_equal(Run("rmdir /mnt/t/hello.txt"), "rmdir: /mnt/t/hello.txt: Not a directory\n");
}

static void TestCopyMove(void** State) {
    (void)State;
    assert_string_equal(Run("write /mnt/t/src.txt source text"), "");
    assert_string_equal(Run("cp /mnt/t/src.txt /mnt/t/copy.txt"), "");
    assert_string_equal(Run("cat /mnt/t/copy.txt"), "source text\n");
    assert_string_equal(Run("mkdir /mnt/t/into"), "");
    assert_string_equal(Run("cp /mnt/t/src.txt /mnt/t/into"), "");  // into a folder: keeps the name
    assert_string_equal(Run("cat /mnt/t/into/src.txt"), "source text\n");
    assert_string_equal(Run("cp /mnt/t/src.txt /mnt/t/src.txt"),
                        "cp: '/mnt/t/src.txt' and '/mnt/t/src.txt' are the same file\n");
    assert_string_equal(Run("cp /mnt/t/into /mnt/t/x"), "cp: /mnt/t/into: Is a directory\n");
    assert_string_equal(Run("mv /mnt/t/copy.txt /mnt/t/into"), "");
    assert_string_equal(Run("ls /mnt/t/into"), "copy.txt\nsrc.txt\n");
    assert_string_equal(Run("mv /mnt/t/into /mnt/t/into/deeper"), "mv: /mnt/t/into: Invalid argument\n");
    assert_string_equal(Run("mv /mnt/t/into /mnt/t/renamed"), "");
    assert_string_equal(Run("cat /mnt/t/renamed/copy.txt"), "source text\n");
    assert_string_equal(Run("mv /mnt/t/nothing /mnt/t/x"), "mv: /mnt/t/nothing: No such file or directory\n");
    // Across volumes a file is copied and removed; a folder cannot move.
    assert_string_equal(Run("mv /mnt/t/src.txt /mnt/s"), "");
    assert_string_equal(Run("cat /mnt/s/src.txt"), "source text\n");
    assert_string_equal(Run("cat /mnt/t/src.txt"), "cat: /mnt/t/src.txt: No such file or directory\n");
    assert_string_equal(Run("mv /mnt/t/renamed /mnt/s"), "mv: /mnt/t/renamed: Cross-device link\n");
}

static void TestSha256(void** State) {
    (void)State;
    char Host[300], Expected[256], Line[400];
    snprintf(Host, sizeof(Host), "%s/content.bin", TestWork);
    TestWriteHostFile(Host, 200001, 77);
    // Put it on the volume with debugfs, the volume unmounted meanwhile.
    assert_string_equal(Run("umount /mnt/t"), "");
    TestMust("debugfs -w -R 'write %s /content.bin' %s", Host, Image);
    snprintf(Line, sizeof(Line), "mount %s /mnt/t", Volume->Disk.Name);
    assert_string_equal(Run("%s", Line), "");
    HostOutput(Expected, sizeof(Expected), "sha256sum %s | cut -c1-64", Host);
    Expected[64] = 0;
    snprintf(Line, sizeof(Line), "%s  /mnt/t/content.bin\n", Expected);
    assert_string_equal(Run("sha256sum /mnt/t/content.bin"), Line);
    // A raw disk hashes every sector: compare with the image file after a sync.
    assert_string_equal(Run("umount /mnt/t"), "");
    HostOutput(Expected, sizeof(Expected), "sha256sum %s | cut -c1-64", Image);
    Expected[64] = 0;
    snprintf(Line, sizeof(Line), "%s  %s\n", Expected, Volume->Disk.Name);
    assert_string_equal(Run("sha256sum %s", Volume->Disk.Name), Line);
    assert_string_equal(Run("mount %s /mnt/t", Volume->Disk.Name), "");
    assert_string_equal(Run("sha256sum /mnt/t/none"), "sha256sum: /mnt/t/none: No such file or directory\n");
}

/** Runs Cairn's dd and GNU dd with the same operands; the targets and the report lines must agree. */
static void CompareDd(const char* CairnOperands, const char* GnuOperands, const char* Target, const char* HostTarget) {
    static char Gnu[4096];
    const char* Ours = Run("dd %s", CairnOperands);
    char Mine[4096];
    snprintf(Mine, sizeof(Mine), "%s", Ours);
    assert_int_equal(TestRun(Gnu, sizeof(Gnu), "dd %s", GnuOperands), 0);
    // The record lines match exactly; the byte line up to the time.
    char* GnuCopied = strstr(Gnu, " copied, ");
    char* MineCopied = strstr(Mine, " copied, ");
    assert_non_null(GnuCopied);
    assert_non_null(MineCopied);
    GnuCopied[0] = 0;
    MineCopied[0] = 0;
    assert_string_equal(Mine, Gnu);
    assert_non_null(strstr(MineCopied + 1, " s, "));
    assert_non_null(strstr(MineCopied + 1, "B/s\n"));
    // Same bytes on both targets.
    size_t OurSize, TheirSize;
    U8* Ours2;
    if (Target[0] == '/') {
        U64 Size;
        Ours2 = TestVfsReadAll(Target, &Size);
        OurSize = Size;
    } else {
        assert_string_equal(Run("umount /mnt/t"), "");  // Raw image: read the file
        FILE* File = fopen(RawImage, "rb");
        fseek(File, 0, SEEK_END);
        OurSize = (size_t)ftell(File);
        fseek(File, 0, SEEK_SET);
        Ours2 = malloc(OurSize);
        assert_int_equal(fread(Ours2, 1, OurSize, File), OurSize);
        fclose(File);
        assert_string_equal(Run("mount %s /mnt/t", Volume->Disk.Name), "");
    }
    FILE* File = fopen(HostTarget, "rb");
    assert_non_null(File);
    fseek(File, 0, SEEK_END);
    TheirSize = (size_t)ftell(File);
    fseek(File, 0, SEEK_SET);
    U8* Theirs = malloc(TheirSize + 1);
    assert_int_equal(fread(Theirs, 1, TheirSize, File), TheirSize);
    fclose(File);
    assert_int_equal(OurSize, TheirSize);
    assert_memory_equal(Ours2, Theirs, OurSize);
    free(Ours2);
    free(Theirs);
}

// `> PATH` and `>> PATH` on the real VFS and EXT2: data and listings into files, errors at the terminal.
static void TestRedirect(void** State) {
    (void)State;
    char Hash[2][80];
    assert_string_equal(Run("cat /mnt/t/content.bin > /mnt/t/copy.bin"), "");  // 200001 bytes, nothing shown
    snprintf(Hash[0], sizeof(Hash[0]), "%.64s", Run("sha256sum /mnt/t/content.bin"));
    snprintf(Hash[1], sizeof(Hash[1]), "%.64s", Run("sha256sum /mnt/t/copy.bin"));
    assert_string_equal(Hash[0], Hash[1]);
    assert_string_equal(Run("sha256sum /mnt/t/copy.bin > /dev/null"), "");
    assert_string_equal(Run("ls /mnt/t/sub > /mnt/t/list.txt"), "");
    assert_string_equal(Run("ls /mnt/t/sub/a >> /mnt/t/list.txt"), "");
    assert_string_equal(Run("cat /mnt/t/list.txt"), "a\nb\nlink\n/mnt/t/sub/a\n");
    assert_string_equal(Run("ls /mnt/t/sub/b > /mnt/t/list.txt"), "");  // truncated first
    assert_string_equal(Run("cat /mnt/t/list.txt"), "/mnt/t/sub/b\n");
    // The command's error stays at the terminal; the file is made (empty), as a Unix shell does.
    assert_string_equal(Run("cat /mnt/t/nofile > /mnt/t/err.txt"), "cat: /mnt/t/nofile: No such file or directory\n");
    assert_string_equal(Run("cat /mnt/t/err.txt"), "");
    assert_string_equal(Run("ls > /mnt/t/nodir/x"), "ls: cannot write '/mnt/t/nodir/x': No such file or directory\n");
    assert_string_equal(Run("ls /mnt/t > /mnt/t/sub"), "ls: cannot write '/mnt/t/sub': Is a directory\n");
    assert_string_equal(Run("rm /mnt/t/copy.bin"), "");
    assert_string_equal(Run("rm /mnt/t/err.txt"), "");
    assert_string_equal(Run("rm /mnt/t/list.txt"), "");
}

static void TestDd(void** State) {
    (void)State;
    char Source[300], HostRaw[300], HostFile[300], Cairn[512], Gnu[1024];
    snprintf(Source, sizeof(Source), "%s/dd-source.bin", TestWork);
    snprintf(HostRaw, sizeof(HostRaw), "%s/dd-raw-copy.img", TestWork);
    snprintf(HostFile, sizeof(HostFile), "%s/dd-file.bin", TestWork);
    TestWriteHostFile(Source, 100000, 88);
    TestMust("cp %s %s", RawImage, HostRaw);
    assert_string_equal(Run("umount /mnt/t"), "");
    TestMust("debugfs -w -R 'write %s /dd-source.bin' %s", Source, Image);
    assert_string_equal(Run("mount %s /mnt/t", Volume->Disk.Name), "");

    // File to raw disk with a block size that cuts sectors, and a seek: read-modify-write at both ends.
    snprintf(Cairn, sizeof(Cairn), "if=/mnt/t/dd-source.bin of=%s bs=1000 seek=3 count=50", Raw->Disk.Name);
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s bs=1000 seek=3 count=50 conv=notrunc", Source, HostRaw);
    CompareDd(Cairn, Gnu, Raw->Disk.Name, HostRaw);
    // The rest of the file (partial last record), with a k suffix.
    snprintf(Cairn, sizeof(Cairn), "if=/mnt/t/dd-source.bin of=%s bs=1k skip=20 seek=100", Raw->Disk.Name);
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s bs=1k skip=20 seek=100 conv=notrunc", Source, HostRaw);
    CompareDd(Cairn, Gnu, Raw->Disk.Name, HostRaw);
    // Raw disk to a file (truncated at seek, then written), and a file to a file.
    snprintf(Cairn, sizeof(Cairn), "if=%s of=/mnt/t/from-disk.bin bs=4096 skip=1 count=7", Raw->Disk.Name);
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s bs=4096 skip=1 count=7", HostRaw, HostFile);
    CompareDd(Cairn, Gnu, "/mnt/t/from-disk.bin", HostFile);
    snprintf(Cairn, sizeof(Cairn), "if=/mnt/t/dd-source.bin of=/mnt/t/from-disk.bin bs=3333 seek=2 count=4");
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s bs=3333 seek=2 count=4", Source, HostFile);
    CompareDd(Cairn, Gnu, "/mnt/t/from-disk.bin", HostFile);
    snprintf(Cairn, sizeof(Cairn), "if=/mnt/t/dd-source.bin of=/mnt/t/from-disk.bin bs=1M");
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s bs=1M", Source, HostFile);
    CompareDd(Cairn, Gnu, "/mnt/t/from-disk.bin", HostFile);
    snprintf(Cairn, sizeof(Cairn), "if=/mnt/t/dd-source.bin of=/mnt/t/from-disk.bin count=0");
    snprintf(Gnu, sizeof(Gnu), "if=%s of=%s count=0", Source, HostFile);
    CompareDd(Cairn, Gnu, "/mnt/t/from-disk.bin", HostFile);

    // Past the end of a raw disk: a short record, then "No space left on device".
    U64 DiskBytes = Raw->Disk.SectorCount * Raw->Disk.SectorSize;
    const char* Text = Run("dd if=/mnt/t/dd-source.bin of=%s bs=1000 seek=%llu", Raw->Disk.Name,
                           (unsigned long long)(DiskBytes / 1000));
    char Expected[256];
    snprintf(Expected, sizeof(Expected),
             "dd: error writing '%s': No space left on device\n1+0 records in\n0+1 records out\n%llu bytes copied",
             Raw->Disk.Name, (unsigned long long)(DiskBytes % 1000));
    assert_non_null(strstr(Text, Expected));

    // Operand errors.
    assert_string_equal(Run("dd if=a"),
                        "dd: usage: dd if=<file|disk> of=<file|disk> [bs=N] [count=N] [skip=N] [seek=N] "
                        "[inflight=N] [iflag=cached] [oflag=cached]\n");
    assert_string_equal(Run("dd if=a of=b bs=12Q"), "dd: invalid number: '12Q'\n");
    assert_string_equal(Run("dd if=a of=b bogus=1"), "dd: unrecognized operand 'bogus=1'\n");
    assert_string_equal(Run("dd if=/mnt/t/none of=/mnt/t/x"),
                        "dd: failed to open '/mnt/t/none': No such file or directory\n");
    // GNU's summary line shapes.
    Text = Run("dd if=/mnt/t/dd-source.bin of=/mnt/t/one count=1 bs=1");
    assert_non_null(strstr(Text, "1+0 records in\n1+0 records out\n1 byte copied, 0.0012"));
    Text = Run("dd if=/mnt/t/dd-source.bin of=/mnt/t/one count=1 bs=1000");
    assert_non_null(strstr(Text, "1000 bytes (1.0 kB) copied, "));
    Text = Run("dd if=/mnt/t/dd-source.bin of=/mnt/t/one bs=1M");
    assert_non_null(strstr(Text, "0+1 records in\n0+1 records out\n100000 bytes (100 kB, 98 KiB) copied, "));
    // of=/dev/null takes every record and keeps nothing (no file of that name appears).
    Text = Run("dd if=/mnt/t/dd-source.bin of=/dev/null bs=4096");
    assert_non_null(strstr(Text, "24+1 records in\n24+1 records out\n100000 bytes (100 kB, 98 KiB) copied, "));
    VFS_STAT NullStat;
    assert_int_equal(VFSStat("/dev/null", &NullStat), VFS_ERROR_NOT_FOUND);
}

static void TestReadOnlyDisk(void** State) {
    (void)State;
    assert_int_equal(DiskSetAccess(&Volume->Disk, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    assert_string_equal(Run("write /mnt/t/ro.txt x"), "write: /mnt/t/ro.txt: Read-only file system\n");
    assert_string_equal(Run("mkdir /mnt/t/rodir"), "mkdir: /mnt/t/rodir: Read-only file system\n");
    assert_string_equal(Run("rm /mnt/t/hello.txt"), "rm: /mnt/t/hello.txt: Read-only file system\n");
    assert_string_equal(Run("ls /mnt/t > /mnt/t/ro2.txt"), "ls: cannot write '/mnt/t/ro2.txt': Read-only file system\n");
    assert_string_equal(Run("cat /mnt/t/hello.txt"), "replaced\n");
    char Expected[128];
    // mount (and disk, which asks without the statfs) lists the volume read-only while its disk is.
    snprintf(Expected, sizeof(Expected), "%s on /mnt/t type ext2 (ro)\n", Volume->Disk.Name);
    assert_non_null(strstr(Run("mount"), Expected));
    for (U32 I = 0; I < VFSGetMountCount(); I++) {
        VFS_MOUNT_INFO Info;
        assert_int_equal(VFSGetMountInfo(I, &Info, NULL), VFS_OK);
        assert_int_equal(Info.ReadOnly, strcmp(Info.Path, "/mnt/t") == 0);
    }
    snprintf(Expected, sizeof(Expected), "dd: error writing '%s': Read-only file system\n", Volume->Disk.Name);
    assert_non_null(strstr(Run("dd if=/mnt/t/hello.txt of=%s", Volume->Disk.Name), Expected));
    assert_int_equal(DiskSetAccess(&Volume->Disk, 0), KSTATUS_SUCCESS);
    snprintf(Expected, sizeof(Expected), "%s on /mnt/t type ext2 (rw)\n", Volume->Disk.Name);
    assert_non_null(strstr(Run("mount"), Expected));
    assert_string_equal(Run("write /mnt/t/ro.txt x"), "");
}

static void TestCleanAtTheEnd(void** State) {
    (void)State;
    assert_string_equal(Run("umount /mnt/t"), "");
    assert_string_equal(Run("umount /mnt/s"), "");
    TestFsckClean(Image);
    TestFsckClean(SecondImage);
}

/** Where Column (a header word) starts in the header line. */
static size_t HeaderColumn(const char* Header, const char* Column) {
    const char* Found = strstr(Header, Column);
    assert_non_null(Found);
    return (size_t)(Found - Header);
}

static void TestDiskListLinesUp(void** State) {
    (void)State;
    // "Linux filesystem partition" (26 characters) once overflowed the 24-character model column.
    char Gpt[300];
    snprintf(Gpt, sizeof(Gpt), "%s/gpt.img", TestWork);
    TestMust("rm -f %s && truncate -s 8M %s && sgdisk -o -n 1:2048:0 -t 1:8300 %s", Gpt, Gpt, Gpt);
    TEST_DISK* Disk = TestDiskOpen(Gpt, 512, DISK_TYPE_RAM);
    assert_int_equal(PartitionScanDisk(&Disk->Disk), 1);
    char Partition[DISK_NAME_LENGTH + 4];
    snprintf(Partition, sizeof(Partition), "%sp1", Disk->Disk.Name);
    DISK_INFO Info;
    assert_int_equal(DiskGetInfo(DiskFind(Partition), &Info), KSTATUS_SUCCESS);
    assert_string_equal(Info.Model, "Linux filesystem partition");

    char Text[sizeof(Output)];
    snprintf(Text, sizeof(Text), "%s", Run("disk"));
    assert_non_null(strstr(Text, " Linux filesystem partition "));
    char* Header = strtok(Text, "\n");
    assert_non_null(Header);
    size_t Sector = HeaderColumn(Header, "SECTOR "), Access = HeaderColumn(Header, "ACC");
    U32 Rows = 0;
    for (char* Line = strtok(NULL, "\n"); Line; Line = strtok(NULL, "\n")) {
        if (strncmp(Line, "  partition ", 12) == 0) continue;
        // Rows are as long as the header, the sector size ends under "SECTOR", the access mode starts under "ACC".
        BOOL Aligned = strlen(Line) == strlen(Header) && Line[Sector + 5] != ' ' && Line[Sector + 6] == ' ' &&
                       Line[Access - 1] == ' ' && Line[Access] != ' ';
        if (!Aligned) fail_msg("a row does not line up with the header:\n%s\n%s", Header, Line);
        Rows++;
    }
    assert_int_equal(Rows, DiskGetCount());
    TestDiskClose(Disk);
}

static int Setup(void** State) {
    (void)State;
    // debugfs changes the images behind the disks' back between mounts: no disk cache may keep old copies.
    DiskSetCacheBudget(0);
    VFSInit();
    TestWorkDir();
    char Source[300];
    snprintf(Source, sizeof(Source), "%s/shell-src", TestWork);
    snprintf(Image, sizeof(Image), "%s/shell.img", TestWork);
    snprintf(RawImage, sizeof(RawImage), "%s/raw.img", TestWork);
    TestMust("rm -rf %s && mkdir -p %s/sub && echo aaa > %s/sub/a && echo bbb > %s/sub/b && touch %s/sub/.hidden"
             " && ln -s a %s/sub/link && chmod 644 %s/sub/a %s/sub/b",
             Source, Source, Source, Source, Source, Source, Source, Source);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 4096 -d %s %s 8M", Image, Source, Image);
    TestMust("rm -f %s && head -c 1048576 /dev/urandom > %s", RawImage, RawImage);
    snprintf(SecondImage, sizeof(SecondImage), "%s/second.img", TestWork);
    TestMust("rm -f %s && mke2fs -q -F -t ext2 -b 1024 %s 2M", SecondImage, SecondImage);
    Volume = TestDiskOpen(Image, 512, DISK_TYPE_RAM);
    Raw = TestDiskOpen(RawImage, 512, DISK_TYPE_RAM);
    Second = TestDiskOpen(SecondImage, 4096, DISK_TYPE_RAM);
    ShellRegisterFileCommands();
    ShellRegisterDiskCommands();
    char Line[128];
    snprintf(Line, sizeof(Line), "mount %s /mnt/t", Volume->Disk.Name);
    assert_int_equal(ShellExecute(Line), 0);
    snprintf(Line, sizeof(Line), "mount %s /mnt/s", Second->Disk.Name);
    assert_int_equal(ShellExecute(Line), 0);
    return 0;
}

static int Teardown(void** State) {
    (void)State;
    VFSHostReset();
    TestCleanWork();
    return 0;
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestMountListAndDf), cmocka_unit_test(TestWriteCatLsStat), cmocka_unit_test(TestFolders),
        cmocka_unit_test(TestCopyMove),       cmocka_unit_test(TestSha256),         cmocka_unit_test(TestRedirect),
        cmocka_unit_test(TestDd),
        cmocka_unit_test(TestReadOnlyDisk),   cmocka_unit_test(TestDiskListLinesUp), cmocka_unit_test(TestCleanAtTheEnd),
    };
    return cmocka_run_group_tests(Tests, Setup, Teardown);
}

/*
 * ShellFiles.c - the file commands: mount, umount, ls, cd, pwd, cat, stat,
 * df, mkdir, rm, rmdir, mv, cp and write (sha256sum and dd, which also take
 * raw disks, are in ShellFilesRaw.c).
 *
 * Everything goes through the VFS (fs/VFS.h). Output follows the coreutils
 * formats where one exists (ls -l, stat, df), and every error is one line
 * "<command>: <path>: <reason>" with the VFS's strerror-style reason, so
 * scripts and tests can parse both.
 */

#include "shell/ShellFiles.h"

#include "fs/VFS.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "system/RTC.h"
#include "utils/Format.h"
#include "utils/Sort.h"
#include "utils/String.h"

I32 ShellFileError(LPCSTR Command, LPCSTR Path, VFS_STATUS Status) {
    ShellError(Command, "%s: %s", Path, VFSErrorString(Status));
    return -1;
}

/** Text of any length (ShellPrint cuts at its buffer; paths and link targets may be longer). */
static void ShellWriteText(LPCSTR Text) { ShellWrite(Text, StringLength(Text)); }

/** The last name of Path ("a/b/" gives "b"), copied into Name. */
static void ShellBaseName(LPCSTR Path, LPSTR Name, SIZE Size) {
    SIZE End = StringLength(Path);
    while (End > 1 && Path[End - 1] == '/') End--;
    SIZE Start = End;
    while (Start > 0 && Path[Start - 1] != '/') Start--;
    SIZE Length = MIN(End - Start, Size - 1);
    MemoryCopy(Name, Path + Start, Length);
    Name[Length] = 0;
}

static BOOL ShellJoin(LPCSTR Folder, LPCSTR Name, LPSTR Result, SIZE Size) {
    SIZE Length = StringLength(Folder);
    BOOL Slash = Length > 0 && Folder[Length - 1] == '/';
    return StringPrintFormat(Result, Size, "%s%s%s", Folder, Slash ? "" : "/", Name) < Size;
}

/************************************************************************/
// mount, umount, df

static I32 CommandMount(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Options = 0;
    I32 First = 1;
    // mount [-r] [-o ro|rw|discard|nodiscard[,...]] <disk> <path>
    while (First < ArgumentCount && Arguments[First][0] == '-') {
        if (StringCompare(Arguments[First], "-r") == 0) {
            Options |= VFS_MOUNT_READ_ONLY;
            First++;
            continue;
        }
        if (StringCompare(Arguments[First], "-o") == 0 && First + 1 < ArgumentCount) {
            char List[64];
            StringCopy(List, Arguments[First + 1], sizeof(List));
            LPSTR Option = List;
            while (Option && *Option) {
                LPSTR Comma = (LPSTR)StringFindChar(Option, ',');
                if (Comma) *Comma = 0;
                if (StringCompare(Option, "ro") == 0) Options |= VFS_MOUNT_READ_ONLY;
                else if (StringCompare(Option, "rw") == 0) Options &= ~VFS_MOUNT_READ_ONLY;
                else if (StringCompare(Option, "nodiscard") == 0) Options |= VFS_MOUNT_NO_DISCARD;
                else if (StringCompare(Option, "discard") == 0) Options &= ~VFS_MOUNT_NO_DISCARD;
                else {
                    ShellError("mount", "unknown option '%s' (ro, rw, discard, nodiscard)", Option);
                    return -1;
                }
                Option = Comma ? Comma + 1 : NULL;
            }
            First += 2;
            continue;
        }
        ShellError("mount", "usage: mount [-r] [-o ro|rw|discard|nodiscard] <disk> <path>");
        return -1;
    }
    if (ArgumentCount == 1) {
        for (U32 I = 0; I < VFSGetMountCount(); I++) {
            VFS_MOUNT_INFO Info;
            VFS_STATFS StatFs;
            if (VFSGetMountInfo(I, &Info, &StatFs) != VFS_OK) continue;
            // A reason follows "ro" when the volume is read-only although not asked to be (ext4, a replayed journal).
            BOOL Reason = Info.ReadOnly && StatFs.ReadOnlyReason[0] != 0;
            ShellPrint("%s on %s type %s (%s%s%s%s)\n", Info.Device, Info.Path, Info.Type, Info.ReadOnly ? "ro" : "rw",
                       (Info.Options & VFS_MOUNT_NO_DISCARD) ? ",nodiscard" : "", Reason ? ": " : "",
                       Reason ? StatFs.ReadOnlyReason : "");
        }
        return 0;
    }
    if (ArgumentCount - First != 2) {
        ShellError("mount", "usage: mount [-r] [-o ro|rw|discard|nodiscard] <disk> <path>");
        return -1;
    }
    VFS_STATUS Status = VFSMountWithOptions(Arguments[First], Arguments[First + 1], Options);
    if (Status == VFS_ERROR_NO_DEVICE) {
        ShellError("mount", "%s: no such disk", Arguments[First]);
        return -1;
    }
    if (Status == VFS_ERROR_WRONG_TYPE) {
        ShellError("mount", "%s: no EXT2 file system found (wrong fs type or bad superblock)", Arguments[First]);
        return -1;
    }
    if (Status != VFS_OK) return ShellFileError("mount", Arguments[First + 1], Status);
    return 0;
}

static I32 CommandUnmount(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 2) {
        ShellError("umount", "usage: umount <path>");
        return -1;
    }
    VFS_STATUS Status = VFSUnmount(Arguments[1]);
    if (Status == VFS_ERROR_INVALID) {
        ShellError("umount", "%s: not mounted", Arguments[1]);
        return -1;
    }
    if (Status == VFS_ERROR_BUSY) {
        ShellError("umount", "%s: target is busy (open files, a mount inside, or the current folder)", Arguments[1]);
        return -1;
    }
    return Status == VFS_OK ? 0 : ShellFileError("umount", Arguments[1], Status);
}

static I32 CommandDf(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("df", "takes no arguments");
        return -1;
    }
    ShellPrint("%-14s %10s %10s %10s %4s %s\n", "Filesystem", "1K-blocks", "Used", "Available", "Use%", "Mounted on");
    for (U32 I = 0; I < VFSGetMountCount(); I++) {
        VFS_MOUNT_INFO Info;
        VFS_STATFS StatFs;
        VFS_STATUS Status = VFSGetMountInfo(I, &Info, &StatFs);
        if (Status != VFS_OK) {
            ShellFileError("df", Info.Path, Status);
            continue;
        }
        U64 Unit = StatFs.BlockSize / 1024;
        U64 Total = StatFs.TotalBlocks * Unit;
        U64 Used = (StatFs.TotalBlocks - StatFs.FreeBlocks) * Unit;
        U64 Available = StatFs.AvailableBlocks * Unit;
        char Percent[8] = "-";
        // coreutils: used / (used + available), rounded up.
        if (Used + Available > 0) {
            U64 Share = (Used * 100 + Used + Available - 1) / (Used + Available);
            StringPrintFormat(Percent, sizeof(Percent), "%llu%%", Share);
        }
        ShellPrint("%-14s %10llu %10llu %10llu %4s %s\n", Info.Device, Total, Used, Available, Percent, Info.Path);
    }
    return 0;
}

/************************************************************************/
// Names: cd, pwd, mkdir, rm, rmdir, mv

static I32 CommandCd(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount > 2) {
        ShellError("cd", "too many arguments");
        return -1;
    }
    LPCSTR Path = ArgumentCount == 2 ? Arguments[1] : "/";
    VFS_STATUS Status = VFSSetCurrentDirectory(Path);
    return Status == VFS_OK ? 0 : ShellFileError("cd", Path, Status);
}

static I32 CommandPwd(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("pwd", "takes no arguments");
        return -1;
    }
    ShellPrint("%s\n", VFSGetCurrentDirectory());
    return 0;
}

/** mkdir -p: every missing folder along Path, from the top. */
static VFS_STATUS ShellMakeParents(LPCSTR Path) {
    char Partial[VFS_MAX_PATH];
    if (StringCopy(Partial, Path, sizeof(Partial)) >= sizeof(Partial)) return VFS_ERROR_NAME_TOO_LONG;
    for (SIZE I = 1;; I++) {
        if (Partial[I] != '/' && Partial[I] != 0) continue;
        char Saved = Partial[I];
        Partial[I] = 0;
        VFS_STAT Stat;
        VFS_STATUS Status = VFSStat(Partial, &Stat);
        if (Status == VFS_ERROR_NOT_FOUND) Status = VFSMakeDirectory(Partial);
        else if (Status == VFS_OK && !VFS_IS_DIRECTORY(Stat.Mode)) Status = VFS_ERROR_NOT_DIRECTORY;
        Partial[I] = Saved;
        if (Status != VFS_OK) return Status;
        if (Saved == 0) return VFS_OK;
    }
}

static I32 CommandMkdir(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Parents = ArgumentCount > 1 && StringCompare(Arguments[1], "-p") == 0;
    I32 First = Parents ? 2 : 1;
    if (ArgumentCount <= First) {
        ShellError("mkdir", "usage: mkdir [-p] <folder>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = First; I < ArgumentCount; I++) {
        VFS_STATUS Status = Parents ? ShellMakeParents(Arguments[I]) : VFSMakeDirectory(Arguments[I]);
        if (Status != VFS_OK) Result = ShellFileError("mkdir", Arguments[I], Status);
    }
    return Result;
}

static I32 CommandRm(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Force = ArgumentCount > 1 && StringCompare(Arguments[1], "-f") == 0;
    I32 First = Force ? 2 : 1;
    if (ArgumentCount <= First && !Force) {
        ShellError("rm", "usage: rm [-f] <file>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = First; I < ArgumentCount; I++) {
        VFS_STATUS Status = VFSUnlink(Arguments[I]);
        if (Status == VFS_ERROR_NOT_FOUND && Force) continue;
        if (Status != VFS_OK) Result = ShellFileError("rm", Arguments[I], Status);
    }
    return Result;
}

static I32 CommandRmdir(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("rmdir", "usage: rmdir <folder>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = 1; I < ArgumentCount; I++) {
        VFS_STATUS Status = VFSRemoveDirectory(Arguments[I]);
        if (Status != VFS_OK) Result = ShellFileError("rmdir", Arguments[I], Status);
    }
    return Result;
}

/** Where a copy or move of Source to Destination lands: inside Destination when it is a folder. */
static VFS_STATUS ShellTarget(LPCSTR Source, LPCSTR Destination, LPSTR Target, SIZE Size) {
    VFS_STAT Stat;
    if (VFSStat(Destination, &Stat) == VFS_OK && VFS_IS_DIRECTORY(Stat.Mode)) {
        char Name[VFS_MAX_NAME + 1];
        ShellBaseName(Source, Name, sizeof(Name));
        if (!ShellJoin(Destination, Name, Target, Size)) return VFS_ERROR_NAME_TOO_LONG;
        return VFS_OK;
    }
    return StringCopy(Target, Destination, Size) < Size ? VFS_OK : VFS_ERROR_NAME_TOO_LONG;
}

/** Copies a regular file's bytes; on failure reports "<Command>: <path>: <reason>" and returns -1. */
static I32 ShellCopyFile(LPCSTR Command, LPCSTR Source, LPCSTR Target) {
    VFS_STAT From, To;
    VFS_STATUS Status = VFSStat(Source, &From);
    if (Status != VFS_OK) return ShellFileError(Command, Source, Status);
    if (VFS_IS_DIRECTORY(From.Mode)) return ShellFileError(Command, Source, VFS_ERROR_IS_DIRECTORY);
    if (VFSStat(Target, &To) == VFS_OK && To.Inode == From.Inode && StringCompare(To.Device, From.Device) == 0) {
        ShellError(Command, "'%s' and '%s' are the same file", Source, Target);
        return -1;
    }
    SHELL_INPUT Input;
    VFS_FILE* Output = NULL;
    LPCSTR Problem = ShellInputOpen(&Input, Source, FALSE, 0, MAX_U64, SHELL_STREAM_CHUNK, DIRECT_DEFAULT_WINDOW);
    if (Problem) {
        ShellError(Command, "%s: %s", Source, Problem);
        return -1;
    }
    LPCSTR Failed = Target;
    Status = VFSOpen(Target, VFS_OPEN_WRITE | VFS_OPEN_CREATE | VFS_OPEN_TRUNCATE, &Output);
    while (Status == VFS_OK) {
        const U8* Data;
        U32 Got, Put;
        Problem = ShellInputNext(&Input, &Data, &Got);
        if (Problem || Got == 0) break;
        Status = VFSWrite(Output, Data, Got, &Put);
        if (Status == VFS_OK && Put != Got) Status = VFS_ERROR_IO;
    }
    ShellInputClose(&Input);
    VFSClose(Output);
    if (Status != VFS_OK) return ShellFileError(Command, Failed, Status);
    if (Problem) {
        ShellError(Command, "%s: %s", Source, Problem);
        return -1;
    }
    return 0;
}

static I32 CommandMv(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 3) {
        ShellError("mv", "usage: mv <source> <destination>");
        return -1;
    }
    char Target[VFS_MAX_PATH];
    VFS_STATUS Status = ShellTarget(Arguments[1], Arguments[2], Target, sizeof(Target));
    if (Status == VFS_OK) Status = VFSRename(Arguments[1], Target);
    if (Status == VFS_ERROR_CROSS_DEVICE) {
        // Another volume: copy a regular file, then remove the original (what coreutils mv does).
        VFS_STAT Stat;
        if (VFSLinkStat(Arguments[1], &Stat) == VFS_OK && VFS_IS_REGULAR(Stat.Mode)) {
            if (ShellCopyFile("mv", Arguments[1], Target) != 0) return -1;
            Status = VFSUnlink(Arguments[1]);
            return Status == VFS_OK ? 0 : ShellFileError("mv", Arguments[1], Status);
        }
    }
    return Status == VFS_OK ? 0 : ShellFileError("mv", Arguments[1], Status);
}

static I32 CommandCp(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 3) {
        ShellError("cp", "usage: cp <source> <destination>");
        return -1;
    }
    char Target[VFS_MAX_PATH];
    VFS_STATUS Status = ShellTarget(Arguments[1], Arguments[2], Target, sizeof(Target));
    if (Status != VFS_OK) return ShellFileError("cp", Arguments[2], Status);
    return ShellCopyFile("cp", Arguments[1], Target);
}

/************************************************************************/
// Contents: cat, write, sha256sum

static void ShellCatSink(LPVOID Context, const U8* Data, U32 Length) {
    UNUSED(Context);
    ShellWrite((LPCSTR)Data, Length);
}

static I32 CommandCat(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("cat", "usage: cat <file>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = 1; I < ArgumentCount; I++) {
        LPCSTR Problem = ShellInputDrain(Arguments[I], FALSE, ShellCatSink, NULL);
        if (Problem) {
            ShellError("cat", "%s: %s", Arguments[I], Problem);
            Result = -1;
        }
    }
    return Result;
}

static I32 CommandWrite(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("write", "usage: write <path> <text>...");
        return -1;
    }
    // The words after the path, joined by single spaces, and a newline.
    char Text[512];
    SIZE Length = 0;
    for (I32 I = 2; I < ArgumentCount; I++) {
        Length += StringPrintFormat(Text + MIN(Length, sizeof(Text)), sizeof(Text) - MIN(Length, sizeof(Text)), "%s%s",
                                    I > 2 ? " " : "", Arguments[I]);
    }
    if (Length + 1 >= sizeof(Text)) {
        ShellError("write", "text too long");
        return -1;
    }
    Text[Length++] = '\n';
    VFS_FILE* File;
    VFS_STATUS Status = VFSOpen(Arguments[1], VFS_OPEN_WRITE | VFS_OPEN_CREATE | VFS_OPEN_TRUNCATE, &File);
    if (Status != VFS_OK) return ShellFileError("write", Arguments[1], Status);
    U32 Done;
    Status = VFSWrite(File, Text, (U32)Length, &Done);
    VFSClose(File);
    return Status == VFS_OK ? 0 : ShellFileError("write", Arguments[1], Status);
}

/************************************************************************/
// Attributes: ls, stat

static void ShellFormatMode(U32 Mode, LPSTR Text) {
    static const char Types[16] = {'?', 'p', 'c', '?', 'd', '?', 'b', '?', '-', '?', 'l', '?', 's', '?', '?', '?'};
    Text[0] = Types[(Mode >> 12) & 15];
    static const char Letters[] = "rwxrwxrwx";
    for (U32 I = 0; I < 9; I++) Text[1 + I] = (Mode & (0400 >> I)) ? Letters[I] : '-';
    if (Mode & 04000) Text[3] = (Mode & 0100) ? 's' : 'S';
    if (Mode & 02000) Text[6] = (Mode & 0010) ? 's' : 'S';
    if (Mode & 01000) Text[9] = (Mode & 0001) ? 't' : 'T';
    Text[10] = 0;
}

/** A time as `ls -l` shows it (Full FALSE: minutes) or as `stat` does (Full: seconds and Nanoseconds). */
static void ShellFormatTime(U64 Seconds, U32 Nanoseconds, LPSTR Text, SIZE Size, BOOL Full) {
    RTC_DATE Date;
    RTCTimeToDate(Seconds, &Date);
    if (Full) {
        StringPrintFormat(Text, Size, "%04u-%02u-%02u %02u:%02u:%02u.%09u +0000", Date.Year, Date.Month, Date.Day,
                          Date.Hour, Date.Minute, Date.Second, Nanoseconds);
    } else {
        StringPrintFormat(Text, Size, "%04u-%02u-%02u %02u:%02u", Date.Year, Date.Month, Date.Day, Date.Hour,
                          Date.Minute);
    }
}

typedef struct tag_SHELL_LS_ENTRY {
    char Name[VFS_MAX_NAME + 1];
    VFS_STAT Stat;
    BOOL HasStat;
} SHELL_LS_ENTRY;

static void ShellListLine(const SHELL_LS_ENTRY* Entry, LPCSTR Path, const U32* Widths) {
    char Mode[12], Time[24], Target[VFS_MAX_PATH];
    if (!Entry->HasStat) {
        ShellPrint("?????????? %*s %*s %*s %*s %16s %s\n", Widths[0], "?", Widths[1], "?", Widths[2], "?", Widths[3],
                   "?", "?", Entry->Name);
        return;
    }
    ShellFormatMode(Entry->Stat.Mode, Mode);
    ShellFormatTime(Entry->Stat.ModifyTime, 0, Time, sizeof(Time), FALSE);
    ShellPrint("%s %*u %*u %*u %*llu %s %s", Mode, Widths[0], Entry->Stat.Links, Widths[1], Entry->Stat.Uid, Widths[2],
               Entry->Stat.Gid, Widths[3], Entry->Stat.Size, Time, Entry->Name);
    if (VFS_IS_SYMLINK(Entry->Stat.Mode) && VFSReadLink(Path, Target, sizeof(Target)) == VFS_OK) {
        ShellWriteText(" -> ");
        ShellWriteText(Target);
    }
    ShellWriteText("\n");
}

static U32 ShellDigits(U64 Value) {
    U32 Digits = 1;
    while (Value >= 10) {
        Value /= 10;
        Digits++;
    }
    return Digits;
}

/** SortRecords order of two SHELL_LS_ENTRY pointers: byte order of the names (the C locale's). */
static BOOL ShellNameBefore(LPCVOID A, LPCVOID B) {
    return StringCompare((*(const SHELL_LS_ENTRY* const*)A)->Name, (*(const SHELL_LS_ENTRY* const*)B)->Name) < 0;
}

/**
 * Prints entries (sorted by name) of one folder, or one entry alone (Folder NULL). Pointers are sorted, not
 * the entries (a folder of 10 000 names would move megabytes a step), in O(n log n) whatever the folder's
 * order (a hashed folder lists in hash order).
 */
static void ShellListEntries(SHELL_LS_ENTRY* Entries, U32 Count, LPCSTR Folder, BOOL Long) {
    SHELL_LS_ENTRY** Order = (SHELL_LS_ENTRY**)KernelHeapAlloc((SIZE)MAX(Count, 1U) * sizeof(SHELL_LS_ENTRY*));
    if (Order == NULL) {
        ShellFileError("ls", Folder ? Folder : Entries[0].Name, VFS_ERROR_NO_MEMORY);
        return;
    }
    for (U32 I = 0; I < Count; I++) Order[I] = &Entries[I];
    SortRecords(Order, Count, sizeof(Order[0]), ShellNameBefore);
    if (!Long) {
        for (U32 I = 0; I < Count; I++) ShellPrint("%s\n", Order[I]->Name);
        KernelHeapFree(Order);
        return;
    }
    U32 Widths[4] = {1, 1, 1, 1};
    U64 Total = 0;
    for (U32 I = 0; I < Count; I++) {
        if (!Entries[I].HasStat) continue;
        Widths[0] = MAX(Widths[0], ShellDigits(Entries[I].Stat.Links));
        Widths[1] = MAX(Widths[1], ShellDigits(Entries[I].Stat.Uid));
        Widths[2] = MAX(Widths[2], ShellDigits(Entries[I].Stat.Gid));
        Widths[3] = MAX(Widths[3], ShellDigits(Entries[I].Stat.Size));
        Total += Entries[I].Stat.Blocks;
    }
    if (Folder) ShellPrint("total %llu\n", Total / 2);
    for (U32 I = 0; I < Count; I++) {
        char Path[VFS_MAX_PATH];
        if (Folder == NULL) StringCopy(Path, Order[I]->Name, sizeof(Path));
        else ShellJoin(Folder, Order[I]->Name, Path, sizeof(Path));
        ShellListLine(Order[I], Path, Widths);
    }
    KernelHeapFree(Order);
}

static I32 ShellListFolder(LPCSTR Path, BOOL Long, BOOL All) {
    VFS_DIRECTORY* Directory;
    VFS_STATUS Status = VFSOpenDirectory(Path, &Directory);
    if (Status != VFS_OK) return ShellFileError("ls", Path, Status);
    U32 Count = 0, Capacity = 0;
    SHELL_LS_ENTRY* Entries = NULL;
    for (;;) {
        VFS_DIRECTORY_ENTRY Entry;
        BOOL End;
        Status = VFSReadDirectory(Directory, &Entry, &End);
        if (Status != VFS_OK || End) break;
        if (!All && Entry.Name[0] == '.') continue;
        if (Count == Capacity) {
            U32 NewCapacity = Capacity ? Capacity * 2 : 64;
            SHELL_LS_ENTRY* Bigger = (SHELL_LS_ENTRY*)KernelHeapAlloc((SIZE)NewCapacity * sizeof(SHELL_LS_ENTRY));
            if (Bigger == NULL) {
                Status = VFS_ERROR_NO_MEMORY;
                break;
            }
            if (Entries) MemoryCopy(Bigger, Entries, (SIZE)Count * sizeof(SHELL_LS_ENTRY));
            KernelHeapFree(Entries);
            Entries = Bigger;
            Capacity = NewCapacity;
        }
        StringCopy(Entries[Count].Name, Entry.Name, sizeof(Entries[Count].Name));
        Entries[Count].HasStat = FALSE;
        Count++;
    }
    VFSCloseDirectory(Directory);
    if (Status == VFS_OK && Long) {
        for (U32 I = 0; I < Count; I++) {
            char Child[VFS_MAX_PATH];
            Entries[I].HasStat = ShellJoin(Path, Entries[I].Name, Child, sizeof(Child)) &&
                                 VFSLinkStat(Child, &Entries[I].Stat) == VFS_OK;
        }
    }
    ShellListEntries(Entries, Count, Path, Long);
    KernelHeapFree(Entries);
    return Status == VFS_OK ? 0 : ShellFileError("ls", Path, Status);
}

static I32 CommandLs(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Long = FALSE, All = FALSE;
    I32 First = 1;
    for (; First < ArgumentCount && Arguments[First][0] == '-' && Arguments[First][1] != 0; First++) {
        for (LPCSTR Option = Arguments[First] + 1; *Option; Option++) {
            if (*Option == 'l') Long = TRUE;
            else if (*Option == 'a') All = TRUE;
            else {
                ShellError("ls", "unknown option -%c (usage: ls [-la] [path]...)", *Option);
                return -1;
            }
        }
    }
    if (First == ArgumentCount) return ShellListFolder(".", Long, All);
    I32 Result = 0;
    for (I32 I = First; I < ArgumentCount; I++) {
        VFS_STAT Stat;
        // Without -l a link to a folder lists the folder; with -l the link itself is shown.
        VFS_STATUS Status = Long ? VFSLinkStat(Arguments[I], &Stat) : VFSStat(Arguments[I], &Stat);
        if (Status != VFS_OK) {
            Result = ShellFileError("ls", Arguments[I], Status);
            continue;
        }
        if (!VFS_IS_DIRECTORY(Stat.Mode)) {
            SHELL_LS_ENTRY Entry;
            StringCopy(Entry.Name, Arguments[I], sizeof(Entry.Name));
            Entry.Stat = Stat;
            Entry.HasStat = TRUE;
            ShellListEntries(&Entry, 1, NULL, Long);
            continue;
        }
        if (ArgumentCount - First > 1) ShellPrint("%s%s:\n", I > First ? "\n" : "", Arguments[I]);
        if (ShellListFolder(Arguments[I], Long, All) != 0) Result = -1;
    }
    return Result;
}

static LPCSTR ShellTypeName(const VFS_STAT* Stat) {
    switch (Stat->Mode & VFS_TYPE_MASK) {
        case VFS_TYPE_REGULAR: return Stat->Size == 0 ? "regular empty file" : "regular file";
        case VFS_TYPE_DIRECTORY: return "directory";
        case VFS_TYPE_SYMLINK: return "symbolic link";
        case VFS_TYPE_CHARACTER: return "character special file";
        case VFS_TYPE_BLOCK: return "block special file";
        case VFS_TYPE_FIFO: return "fifo";
        case VFS_TYPE_SOCKET: return "socket";
        default: return "weird file";
    }
}

static I32 CommandStat(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("stat", "usage: stat <path>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = 1; I < ArgumentCount; I++) {
        VFS_STAT Stat;
        VFS_STATUS Status = VFSLinkStat(Arguments[I], &Stat);
        if (Status != VFS_OK) {
            Result = ShellFileError("stat", Arguments[I], Status);
            continue;
        }
        char Mode[12], Target[VFS_MAX_PATH], Time[48];
        ShellFormatMode(Stat.Mode, Mode);
        ShellWriteText("  File: ");
        ShellWriteText(Arguments[I]);
        if (VFS_IS_SYMLINK(Stat.Mode) && VFSReadLink(Arguments[I], Target, sizeof(Target)) == VFS_OK) {
            ShellWriteText(" -> ");
            ShellWriteText(Target);
        }
        ShellWriteText("\n");
        ShellPrint("  Size: %-10llu\tBlocks: %-10llu IO Block: %-6u %s\n", Stat.Size, Stat.Blocks, Stat.BlockSize,
                   ShellTypeName(&Stat));
        LPCSTR Device = Stat.Device[0] ? Stat.Device : "-";
        ShellPrint("Device: %s\tInode: %-11llu Links: %u\n", Device, Stat.Inode, Stat.Links);
        ShellPrint("Access: (%04o/%s)  Uid: (%5u/%8s)   Gid: (%5u/%8s)\n", Stat.Mode & 07777, Mode, Stat.Uid,
                   Stat.Uid == 0 ? "root" : "UNKNOWN", Stat.Gid, Stat.Gid == 0 ? "root" : "UNKNOWN");
        ShellFormatTime(Stat.AccessTime, Stat.AccessNanoseconds, Time, sizeof(Time), TRUE);
        ShellPrint("Access: %s\n", Time);
        ShellFormatTime(Stat.ModifyTime, Stat.ModifyNanoseconds, Time, sizeof(Time), TRUE);
        ShellPrint("Modify: %s\n", Time);
        ShellFormatTime(Stat.ChangeTime, Stat.ChangeNanoseconds, Time, sizeof(Time), TRUE);
        ShellPrint("Change: %s\n", Time);
        if (Stat.HasBirthTime) {
            ShellFormatTime(Stat.BirthTime, Stat.BirthNanoseconds, Time, sizeof(Time), TRUE);
            ShellPrint(" Birth: %s\n", Time);
        } else {
            ShellPrint(" Birth: -\n");
        }
    }
    return Result;
}

/************************************************************************/
// Registration (sha256sum and dd live in ShellFilesRaw.c)

static const SHELL_COMMAND ShellFileCommands[] = {
    {"mount", "[-r] [-o ro,rw,discard,nodiscard] [<disk> <path>]", "Mount a disk's EXT2 file system (no arguments: list mounts)",
     CommandMount},
    {"umount", "<path>", "Write a mounted file system back and detach it", CommandUnmount},
    {"df", "", "Space used and available on each mounted file system", CommandDf},
    {"ls", "[-la] [path]...", "List a folder (-l: long format, -a: names starting with a dot)", CommandLs},
    {"cd", "[path]", "Change the current folder (no argument: /)", CommandCd},
    {"pwd", "", "Print the current folder", CommandPwd},
    {"cat", "<file>...", "Print files", CommandCat},
    {"stat", "<path>...", "Show a file's attributes", CommandStat},
    {"mkdir", "[-p] <folder>...", "Create folders (-p: with their parents)", CommandMkdir},
    {"rm", "[-f] <file>...", "Remove files", CommandRm},
    {"rmdir", "<folder>...", "Remove empty folders", CommandRmdir},
    {"mv", "<source> <destination>", "Rename or move a file or folder", CommandMv},
    {"cp", "<source> <destination>", "Copy a file", CommandCp},
    {"write", "<path> <text>...", "Create or replace a file with the text and a newline", CommandWrite},
    {"sha256sum", "<file|disk>...", "SHA-256 of files or of raw disks", ShellCommandSha256},
    {"dd", "if=X of=Y [bs=N] [count=N] [skip=N] [seek=N] [inflight=N] [iflag=cached] [oflag=cached]", "Copy blocks between files and disks",
     ShellCommandDd},
};

void ShellRegisterFileCommands(void) {
    for (U32 I = 0; I < ARRAY_COUNT(ShellFileCommands); I++) ShellRegisterCommand(&ShellFileCommands[I]);
}

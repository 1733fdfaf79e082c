/*
 * ShellFilesRaw.c - the file commands that also take raw disks: sha256sum
 * and dd.
 *
 * An operand without a '/' that names a registered disk (nvme0n1,
 * nvme0n1p1) is that disk, read and written through block/Disk.h at any byte
 * offset (DiskReadBytes/DiskWriteBytes: a range that cuts a sector is read,
 * patched and written back), so dd with any bs, skip or seek changes exactly
 * the bytes it names. Disk errors are named as the file systems name them
 * (VFSDiskStatus). dd's of=/dev/null takes every record and keeps nothing
 * (to time reads alone, as with GNU dd). Anything
 * else is a path for the VFS. Inputs of records of DIRECT_MIN_BYTES or more
 * are read directly (ShellInput.c: block/DirectRead.h, `inflight=N` chunks
 * of bs in flight, default DIRECT_DEFAULT_WINDOW) unless `iflag=cached`
 * asks for the cache; large aligned records to a disk are written directly
 * unless `oflag=cached`. Output follows coreutils: sha256sum prints
 * "<hex>  <name>", dd prints its record counts and the GNU summary line
 * ("N bytes (X MB, Y MiB) copied, T s, R MB/s").
 */

#include "shell/ShellFiles.h"

#include "block/Disk.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/SHA256.h"
#include "utils/String.h"

#define SHELL_DD_MAX_BLOCK (16 * N_1MB)  // largest bs= dd accepts
#define SHELL_DD_NULL "/dev/null"        // the output that keeps nothing

static LPCSTR ShellDiskError(KSTATUS Status, BOOL Write) { return VFSErrorString(VFSDiskStatus(Status, Write)); }

/************************************************************************/
// sha256sum

static void ShellSha256Sink(LPVOID Context, const U8* Data, U32 Length) {
    SHA256Update((SHA256_CONTEXT*)Context, Data, Length);
}

I32 ShellCommandSha256(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("sha256sum", "usage: sha256sum <file|disk>...");
        return -1;
    }
    I32 Result = 0;
    for (I32 I = 1; I < ArgumentCount; I++) {
        SHA256_CONTEXT Context;
        SHA256Init(&Context);
        LPCSTR Problem = ShellInputDrain(Arguments[I], TRUE, ShellSha256Sink, &Context);
        if (Problem) {
            ShellError("sha256sum", "%s: %s", Arguments[I], Problem);
            Result = -1;
            continue;
        }
        U8 Digest[SHA256_DIGEST_SIZE];
        char Hex[SHA256_HEX_LENGTH + 1];
        SHA256Final(&Context, Digest);
        SHA256ToHex(Digest, Hex);
        ShellPrint("%s  %s\n", Hex, Arguments[I]);
    }
    return Result;
}

/************************************************************************/
// dd

typedef struct tag_SHELL_DD_SUFFIX {
    LPCSTR Text;
    U64 Factor;
} SHELL_DD_SUFFIX;

/** A dd number: digits and an optional GNU suffix (K or k = 1024, kB = 1000, M, MB, MiB, G ..., b = 512, w = 2). */
static BOOL ShellDdNumber(LPCSTR Text, U64* Value) {
    static const SHELL_DD_SUFFIX Suffixes[] = {
        {"", 1},           {"c", 1},          {"w", 2},         {"b", 512},         {"k", 1024},
        {"K", 1024},       {"KiB", 1024},     {"kB", 1000},     {"KB", 1000},       {"M", N_1MB},
        {"MiB", N_1MB},    {"MB", 1000000},   {"G", N_1GB},     {"GiB", N_1GB},     {"GB", 1000000000},
        {"T", N_1GB * 1024}, {"TiB", N_1GB * 1024}, {"TB", 1000000000000ULL},
    };
    U64 Number = 0;
    SIZE Index = 0;
    if (!CharIsDigit(Text[0])) return FALSE;
    for (; CharIsDigit(Text[Index]); Index++) {
        U32 Digit = (U32)(Text[Index] - '0');
        if (Number > (MAX_U64 - Digit) / 10) return FALSE;
        Number = Number * 10 + Digit;
    }
    for (U32 I = 0; I < ARRAY_COUNT(Suffixes); I++) {
        if (StringCompare(Text + Index, Suffixes[I].Text) != 0) continue;
        if (Number != 0 && Suffixes[I].Factor > MAX_U64 / Number) return FALSE;
        *Value = Number * Suffixes[I].Factor;
        return TRUE;
    }
    return FALSE;
}

/** Nanoseconds as seconds the way printf's %g shows them (6 significant digits). */
static void ShellDdSeconds(U64 Nanoseconds, LPSTR Text, SIZE Size) {
    if (Nanoseconds == 0) {
        StringCopy(Text, "0", Size);
        return;
    }
    U32 Digits = 0;
    for (U64 Rest = Nanoseconds; Rest > 0; Rest /= 10) Digits++;
    U64 Divisor = 1;
    for (U32 I = 6; I < Digits; I++) Divisor *= 10;
    U64 Mantissa = (Nanoseconds + Divisor / 2) / Divisor;  // at most 6 digits (7 after rounding up)
    if (Mantissa >= 1000000) {
        Mantissa /= 10;
        Divisor *= 10;
        Digits++;
    }
    I32 Exponent = (I32)Digits - 1 - 9;  // of the value in seconds
    if (Exponent < -4) {
        char Mantissa10[8];
        StringPrintFormat(Mantissa10, sizeof(Mantissa10), "%llu", Mantissa);
        SIZE Length = StringLength(Mantissa10);
        while (Length > 1 && Mantissa10[Length - 1] == '0') Mantissa10[--Length] = 0;
        StringPrintFormat(Text, Size, "%c%s%se-%02d", Mantissa10[0], Length > 1 ? "." : "", Mantissa10 + 1, -Exponent);
        return;
    }
    U64 Rounded = Mantissa * Divisor;
    char Fraction[10];
    StringPrintFormat(Fraction, sizeof(Fraction), "%09llu", Rounded % 1000000000ULL);
    SIZE Length = 9;
    while (Length > 0 && Fraction[Length - 1] == '0') Fraction[--Length] = 0;
    StringPrintFormat(Text, Size, "%llu%s%s", Rounded / 1000000000ULL, Length ? "." : "", Fraction);
}

typedef struct tag_SHELL_DD_END {
    LPCSTR Name;
    BOOL Cached;         // iflag=cached / oflag=cached: through the cache, block by block
    SHELL_INPUT Stream;  // input read directly (Streaming), records of bs bytes from its chunks
    BOOL Streaming;
    DISK* Disk;          // a raw disk, or NULL for a file
    BOOL Discard;        // of=/dev/null: records are dropped
    VFS_FILE* File;
    U64 Position;        // bytes, on the disk (files keep their own position)
    U64 DiskBytes;
} SHELL_DD_END;

typedef struct tag_SHELL_DD {
    U64 BlockSize, Count, Skip, Seek, Window;
    BOOL CountGiven, NoTruncate;
    SHELL_DD_END Input, Output;
    U64 FullIn, PartialIn, FullOut, PartialOut, Bytes;
} SHELL_DD;

static I32 ShellDdParse(SHELL_DD* Dd, I32 ArgumentCount, LPSTR* Arguments) {
    Dd->BlockSize = 512;
    Dd->Window = DIRECT_DEFAULT_WINDOW;
    for (I32 I = 1; I < ArgumentCount; I++) {
        LPSTR Argument = Arguments[I];
        LPCSTR Equal = StringFindChar(Argument, '=');
        if (Equal == NULL) {
            ShellError("dd", "unrecognized operand '%s'", Argument);
            return -1;
        }
        SIZE Key = (SIZE)(Equal - Argument);
        LPCSTR Value = Equal + 1;
        U64* Number = NULL;
        if (Key == 2 && StringCompareBounded(Argument, "if", 2) == 0) Dd->Input.Name = Value;
        else if (Key == 2 && StringCompareBounded(Argument, "of", 2) == 0) Dd->Output.Name = Value;
        else if (Key == 2 && StringCompareBounded(Argument, "bs", 2) == 0) Number = &Dd->BlockSize;
        else if (Key == 5 && StringCompareBounded(Argument, "count", 5) == 0) Number = &Dd->Count;
        else if (Key == 4 && StringCompareBounded(Argument, "skip", 4) == 0) Number = &Dd->Skip;
        else if (Key == 4 && StringCompareBounded(Argument, "seek", 4) == 0) Number = &Dd->Seek;
        else if (Key == 8 && StringCompareBounded(Argument, "inflight", 8) == 0) Number = &Dd->Window;
        else if (Key == 5 && StringCompareBounded(Argument, "iflag", 5) == 0 && StringCompare(Value, "cached") == 0) {
            Dd->Input.Cached = TRUE;
        } else if (Key == 5 && StringCompareBounded(Argument, "oflag", 5) == 0 && StringCompare(Value, "cached") == 0) {
            Dd->Output.Cached = TRUE;
        }
        else if (Key == 4 && StringCompareBounded(Argument, "conv", 4) == 0 && StringCompare(Value, "notrunc") == 0) {
            Dd->NoTruncate = TRUE;
        } else {
            ShellError("dd", "unrecognized operand '%s'", Argument);
            return -1;
        }
        if (Number && !ShellDdNumber(Value, Number)) {
            ShellError("dd", "invalid number: '%s'", Value);
            return -1;
        }
        if (Number == &Dd->Count) Dd->CountGiven = TRUE;
    }
    if (Dd->BlockSize == 0 || Dd->BlockSize > SHELL_DD_MAX_BLOCK) {
        ShellError("dd", "invalid number: bs must be 1 to %u bytes", (U32)SHELL_DD_MAX_BLOCK);
        return -1;
    }
    if (Dd->Window == 0 || Dd->Window > DIRECT_MAX_WINDOW) {
        ShellError("dd", "invalid number: inflight must be 1 to %u", (U32)DIRECT_MAX_WINDOW);
        return -1;
    }
    if (Dd->Input.Name == NULL || Dd->Output.Name == NULL) {
        ShellError("dd", "usage: dd if=<file|disk> of=<file|disk> [bs=N] [count=N] [skip=N] [seek=N] "
                         "[inflight=N] [iflag=cached] [oflag=cached]");
        return -1;
    }
    if (Dd->Skip > MAX_U64 / Dd->BlockSize || Dd->Seek > MAX_U64 / Dd->BlockSize) {
        ShellError("dd", "invalid number: offset too large");
        return -1;
    }
    return 0;
}

/**
 * Large records of an input go straight from the disk, Window chunks of bs in flight; when the reader cannot
 * cut chunks of exactly bs (a bs that is no multiple of the disk's sector size), the input stays cached.
 */
static BOOL ShellDdStream(SHELL_DD* Dd, SHELL_DD_END* End, U64 Offset, LPCSTR* Problem) {
    *Problem = NULL;
    if (End->Cached || Dd->BlockSize < DIRECT_MIN_BYTES) return FALSE;
    U64 Length = Dd->CountGiven ? (Dd->Count > MAX_U64 / Dd->BlockSize ? MAX_U64 : Dd->Count * Dd->BlockSize)
                                : MAX_U64;
    *Problem = ShellInputOpen(&End->Stream, End->Name, TRUE, Offset, Length, (U32)Dd->BlockSize, (U32)Dd->Window);
    if (*Problem) return FALSE;
    U32 Chunk = DirectReaderChunkBytes(End->Stream.Reader);
    if (Chunk == Dd->BlockSize || End->Stream.Size - MIN(Offset, End->Stream.Size) <= Chunk) return TRUE;
    ShellInputClose(&End->Stream);
    return FALSE;
}

static I32 ShellDdOpen(SHELL_DD* Dd, SHELL_DD_END* End, BOOL Output) {
    U64 Offset = (Output ? Dd->Seek : Dd->Skip) * Dd->BlockSize;
    if (!Output) {
        LPCSTR Problem;
        End->Streaming = ShellDdStream(Dd, End, Offset, &Problem);
        if (End->Streaming) return 0;
        if (Problem) {
            ShellError("dd", "failed to open '%s': %s", End->Name, Problem);
            return -1;
        }
    }
    if (Output && StringCompare(End->Name, SHELL_DD_NULL) == 0) {
        End->Discard = TRUE;
        return 0;
    }
    End->Disk = ShellOperandDisk(End->Name);
    if (End->Disk != NULL) {
        End->DiskBytes = End->Disk->SectorCount * End->Disk->SectorSize;
        End->Position = Offset;
        return 0;
    }
    U32 Flags = Output ? (VFS_OPEN_WRITE | VFS_OPEN_CREATE) : VFS_OPEN_READ;
    VFS_STATUS Status = VFSOpen(End->Name, Flags, &End->File);
    if (Status == VFS_OK && Output && !Dd->NoTruncate) Status = VFSFileTruncate(End->File, Offset);
    if (Status == VFS_OK) Status = VFSSeek(End->File, Offset);
    if (Status != VFS_OK) {
        ShellError("dd", "failed to open '%s': %s", End->Name, VFSErrorString(Status));
        return -1;
    }
    return 0;
}

static void ShellDdClose(SHELL_DD_END* End) {
    if (End->Streaming) ShellInputClose(&End->Stream);
    if (End->File) VFSClose(End->File);
}

/** One record in: up to Length bytes (fewer at the end of the input), in *Record (Buffer, or a chunk read directly). */
static LPCSTR ShellDdRead(SHELL_DD_END* End, U8* Buffer, U32 Length, const U8** Record, U32* Got) {
    *Got = 0;
    *Record = Buffer;
    if (End->Streaming) return ShellInputNext(&End->Stream, Record, Got);
    if (End->Disk) {
        if (End->Position >= End->DiskBytes) return NULL;
        U32 Take = (U32)MIN((U64)Length, End->DiskBytes - End->Position);
        KSTATUS Status = DiskReadBytes(End->Disk, End->Position, Take, Buffer);
        if (Status != KSTATUS_SUCCESS) return ShellDiskError(Status, FALSE);
        End->Position += Take;
        *Got = Take;
        return NULL;
    }
    while (*Got < Length) {
        U32 Part;
        VFS_STATUS Status = VFSRead(End->File, Buffer + *Got, Length - *Got, &Part);
        if (Status != VFS_OK) return VFSErrorString(Status);
        if (Part == 0) break;
        *Got += Part;
    }
    return NULL;
}

/** One record out; on a short write *Put tells how much went and the reason comes back. */
static LPCSTR ShellDdWrite(SHELL_DD_END* End, const U8* Buffer, U32 Length, U32* Put) {
    *Put = 0;
    if (End->Discard) {
        *Put = Length;
        return NULL;
    }
    if (End->Disk) {
        U32 Take = End->Position >= End->DiskBytes ? 0 : (U32)MIN((U64)Length, End->DiskBytes - End->Position);
        if (Take > 0) {
            U32 SectorSize = End->Disk->SectorSize;
            BOOL Direct = !End->Cached && Take >= DIRECT_MIN_BYTES && End->Position % SectorSize == 0 &&
                          Take % SectorSize == 0;
            // Large aligned records go straight to the disk (DiskSubmit forgets the cached copies they replace).
            KSTATUS Status = Direct ? DiskTransferDirect(End->Disk, DF_DISK_WRITE, End->Position / SectorSize,
                                                         Take / SectorSize, (LPVOID)Buffer)
                                    : DiskWriteBytes(End->Disk, End->Position, Take, Buffer);
            if (Status != KSTATUS_SUCCESS) return ShellDiskError(Status, TRUE);
        }
        End->Position += Take;
        *Put = Take;
        return Take < Length ? VFSErrorString(VFS_ERROR_NO_SPACE) : NULL;
    }
    VFS_STATUS Status = VFSWrite(End->File, Buffer, Length, Put);
    if (Status == VFS_OK && *Put < Length) Status = VFS_ERROR_IO;
    return Status == VFS_OK ? NULL : VFSErrorString(Status);
}

static void ShellDdReport(const SHELL_DD* Dd, U64 Nanoseconds) {
    char Decimal[24], Binary[24], Seconds[32], Rate[24];
    ShellPrint("%llu+%llu records in\n%llu+%llu records out\n", Dd->FullIn, Dd->PartialIn, Dd->FullOut,
               Dd->PartialOut);
    FormatByteSize(Decimal, sizeof(Decimal), Dd->Bytes, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL);
    FormatByteSize(Binary, sizeof(Binary), Dd->Bytes, FORMAT_SIZE_HUMAN);
    ShellDdSeconds(Nanoseconds, Seconds, sizeof(Seconds));
    if (Nanoseconds == 0) Nanoseconds = 1;
    U64 PerSecond = Dd->Bytes < (1ULL << 34) ? Dd->Bytes * 1000000000ULL / Nanoseconds
                                             : Dd->Bytes / MAX(Nanoseconds / 1000000ULL, 1ULL) * 1000ULL;
    FormatByteSize(Rate, sizeof(Rate), PerSecond, FORMAT_SIZE_HUMAN | FORMAT_SIZE_DECIMAL);
    if (Dd->Bytes < 1000) {
        ShellPrint("%llu byte%s copied, %s s, %s/s\n", Dd->Bytes, Dd->Bytes == 1 ? "" : "s", Seconds, Rate);
    } else if (Dd->Bytes < 1024) {
        ShellPrint("%llu bytes (%s) copied, %s s, %s/s\n", Dd->Bytes, Decimal, Seconds, Rate);
    } else {
        ShellPrint("%llu bytes (%s, %s) copied, %s s, %s/s\n", Dd->Bytes, Decimal, Binary, Seconds, Rate);
    }
}

I32 ShellCommandDd(I32 ArgumentCount, LPSTR* Arguments) {
    SHELL_DD Dd;
    MemorySet(&Dd, 0, sizeof(Dd));
    if (ShellDdParse(&Dd, ArgumentCount, Arguments) != 0) return -1;
    U8* Buffer = (U8*)KernelHeapAlloc(Dd.BlockSize);
    if (Buffer == NULL) return ShellFileError("dd", Dd.Input.Name, VFS_ERROR_NO_MEMORY);
    I32 Result = ShellDdOpen(&Dd, &Dd.Input, FALSE);
    if (Result == 0) Result = ShellDdOpen(&Dd, &Dd.Output, TRUE);
    if (Result != 0) {
        ShellDdClose(&Dd.Input);
        ShellDdClose(&Dd.Output);
        KernelHeapFree(Buffer);
        return -1;
    }
    U64 Start = GetSystemTimeNs();
    for (U64 Record = 0; !Dd.CountGiven || Record < Dd.Count; Record++) {
        U32 Got, Put;
        const U8* Data;  // Buffer, or the direct reader's window
        LPCSTR Problem = ShellDdRead(&Dd.Input, Buffer, (U32)Dd.BlockSize, &Data, &Got);
        if (Problem) {
            ShellError("dd", "error reading '%s': %s", Dd.Input.Name, Problem);
            Result = -1;
            break;
        }
        if (Got == 0) break;
        if (Got == Dd.BlockSize) Dd.FullIn++;
        else Dd.PartialIn++;
        Problem = ShellDdWrite(&Dd.Output, Data, Got, &Put);
        if (Put == Dd.BlockSize) Dd.FullOut++;
        else if (Put > 0) Dd.PartialOut++;
        Dd.Bytes += Put;
        if (Problem) {
            ShellError("dd", "error writing '%s': %s", Dd.Output.Name, Problem);
            Result = -1;
            break;
        }
    }
    U64 Elapsed = GetSystemTimeNs() - Start;
    ShellDdClose(&Dd.Input);
    ShellDdClose(&Dd.Output);
    KernelHeapFree(Buffer);
    ShellDdReport(&Dd, Elapsed);
    return Result;
}

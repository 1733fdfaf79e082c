/*
 * ShellInput.c - the sequential input of cat, cp, sha256sum and dd: a raw
 * disk or a file read through block/DirectRead.h (see shell/ShellFiles.h).
 *
 * Large reads go straight from the disk into the reader's chunks, several
 * requests in flight; the pieces a file system must serve itself (inline
 * data, a last partial block) and sectors cut by the range come through the
 * cache. Errors are named as the file systems name them (VFSDiskStatus).
 */

#include "shell/ShellFiles.h"

#include "utils/String.h"

DISK* ShellOperandDisk(LPCSTR Operand) {
    if (StringFindChar(Operand, '/') != NULL) return NULL;
    return DiskFind(Operand);
}

static LPCSTR ShellInputError(KSTATUS Status) { return VFSErrorString(VFSDiskStatus(Status, FALSE)); }

LPCSTR ShellInputOpen(SHELL_INPUT* Input, LPCSTR Operand, BOOL DisksToo, U64 Offset, U64 Length, U32 ChunkBytes,
                      U32 Window) {
    MemorySet(Input, 0, sizeof(*Input));
    DIRECT_SOURCE Source;
    Input->Disk = DisksToo ? ShellOperandDisk(Operand) : NULL;
    if (Input->Disk != NULL) {
        DirectDiskSource(Input->Disk, &Source);
        Input->Size = Input->Disk->SectorCount * Input->Disk->SectorSize;
    } else {
        VFS_STATUS Status = VFSOpen(Operand, VFS_OPEN_READ, &Input->File);
        if (Status == VFS_OK) Status = VFSDirectSource(Input->File, &Source, &Input->Size);
        if (Status != VFS_OK) {
            ShellInputClose(Input);
            return VFSErrorString(Status);
        }
    }
    U64 Start = MIN(Offset, Input->Size);
    Length = MIN(Length, Input->Size - Start);
    KSTATUS Status = DirectReaderOpen(&Source, Start, Length, ChunkBytes, Window, &Input->Reader);
    if (Status != KSTATUS_SUCCESS) {
        ShellInputClose(Input);
        return ShellInputError(Status);
    }
    return NULL;
}

LPCSTR ShellInputNext(SHELL_INPUT* Input, const U8** Data, U32* Length) {
    KSTATUS Status = DirectReaderNext(Input->Reader, Data, Length);
    return Status == KSTATUS_SUCCESS ? NULL : ShellInputError(Status);
}

void ShellInputClose(SHELL_INPUT* Input) {
    DirectReaderClose(Input->Reader);
    if (Input->File) VFSClose(Input->File);
    MemorySet(Input, 0, sizeof(*Input));
}

LPCSTR ShellInputDrain(LPCSTR Operand, BOOL DisksToo, SHELL_INPUT_SINK Sink, LPVOID Context) {
    SHELL_INPUT Input;
    LPCSTR Problem = ShellInputOpen(&Input, Operand, DisksToo, 0, MAX_U64, SHELL_STREAM_CHUNK, DIRECT_DEFAULT_WINDOW);
    while (Problem == NULL) {
        const U8* Data;
        U32 Got;
        Problem = ShellInputNext(&Input, &Data, &Got);
        if (Problem || Got == 0) break;
        Sink(Context, Data, Got);
    }
    ShellInputClose(&Input);
    return Problem;
}

/*
 * DirectRead.c - the read-ahead window of asynchronous direct disk requests
 * (see block/DirectRead.h).
 *
 * Invariants: a chunk is Active from its fill until it is waited for; its
 * Used slots hold requests that were submitted (each waited for exactly once,
 * by ChunkWait or, for a reused slot, by ChunkSlot); chunks are filled in
 * stream order and handed out in the same order (Head is the oldest).
 */

#include "block/DirectRead.h"

#include "memory/Heap.h"
#include "utils/String.h"

typedef struct tag_DIRECT_CHUNK {
    U8* Buffer;
    U64 Offset;        // of the stream
    U32 Length;
    BOOL Active;       // filled and not yet handed out
    KSTATUS Status;    // first error of its fill and requests
    U32 Used;          // request slots in use
    U32 Reuse;         // the slot to wait for and reuse next when all are in use
    DISK_REQUEST Requests[DIRECT_CHUNK_REQUESTS];
} DIRECT_CHUNK;

struct tag_DIRECT_READER {
    DIRECT_SOURCE Source;
    U64 Next;          // stream offset of the next chunk to fill
    U64 End;
    U32 ChunkBytes;
    U32 Window;
    U32 Head;          // the oldest chunk
    BOOL Returned;     // Chunks[Head] was handed out: refill it on the next call
    KSTATUS Failed;    // sticky error
    DIRECT_CHUNK* Chunks;
};

/************************************************************************/
// A raw disk as a source

static KSTATUS DirectDiskMap(LPVOID Context, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max, U32* Count) {
    DISK* Disk = (DISK*)Context;
    U32 SectorSize = Disk->SectorSize;
    U32 Within = (U32)(Offset % SectorSize);
    *Count = 0;
    if (Max == 0 || Length == 0) return KSTATUS_BAD_PARAMETER;
    if (Within != 0 || Length < SectorSize) {
        // A sector cut by the range: through the cache (DiskReadBytes), up to the next sector boundary.
        Extents[0] = (DIRECT_EXTENT){DIRECT_EXTENT_COPY, MIN(SectorSize - Within, Length), 0};
    } else {
        Extents[0] = (DIRECT_EXTENT){DIRECT_EXTENT_DISK, Length - Length % SectorSize, Offset / SectorSize};
    }
    *Count = 1;
    return KSTATUS_SUCCESS;
}

static KSTATUS DirectDiskCopy(LPVOID Context, U64 Offset, U32 Length, U8* Buffer) {
    return DiskReadBytes((DISK*)Context, Offset, Length, Buffer);
}

void DirectDiskSource(DISK* Disk, DIRECT_SOURCE* Source) {
    *Source = (DIRECT_SOURCE){Disk, Disk, DirectDiskMap, DirectDiskCopy};
}

/************************************************************************/
// Chunks

static void ChunkNote(DIRECT_CHUNK* Chunk, KSTATUS Status) {
    if (Status != KSTATUS_SUCCESS && Chunk->Status == KSTATUS_SUCCESS) Chunk->Status = Status;
}

/** A free request slot: a new one, or the oldest in use once waited for. */
static DISK_REQUEST* ChunkSlot(DIRECT_CHUNK* Chunk) {
    if (Chunk->Used < DIRECT_CHUNK_REQUESTS) return &Chunk->Requests[Chunk->Used++];
    DISK_REQUEST* Request = &Chunk->Requests[Chunk->Reuse];
    Chunk->Reuse = (Chunk->Reuse + 1) % DIRECT_CHUNK_REQUESTS;
    ChunkNote(Chunk, DiskWaitRequest(Request));
    return Request;
}

/** Maps and starts reading the chunk at stream offset Offset (up to ChunkBytes, not past End). */
static void ChunkFill(DIRECT_READER* Reader, DIRECT_CHUNK* Chunk, U64 Offset) {
    const DIRECT_SOURCE* Source = &Reader->Source;
    U32 SectorSize = Source->Disk->SectorSize;
    Chunk->Offset = Offset;
    Chunk->Length = (U32)MIN((U64)Reader->ChunkBytes, Reader->End - Offset);
    Chunk->Active = TRUE;
    Chunk->Status = KSTATUS_SUCCESS;
    Chunk->Used = 0;
    Chunk->Reuse = 0;
    DIRECT_EXTENT Extents[DIRECT_MAP_EXTENTS];
    U32 Position = 0;
    while (Position < Chunk->Length && Chunk->Status == KSTATUS_SUCCESS) {
        U32 Count = 0;
        KSTATUS Status = Source->Map(Source->Context, Offset + Position, Chunk->Length - Position, Extents,
                                     DIRECT_MAP_EXTENTS, &Count);
        if (Status == KSTATUS_SUCCESS && Count == 0) Status = KSTATUS_IO_ERROR;  // no progress: never loop
        if (Status != KSTATUS_SUCCESS && Position > 0) {
            // The bytes before a map error are the answer (a short chunk); the next chunk starts here and
            // meets the error itself, so a reader gets the data up to the damage, then the error.
            Chunk->Length = Position;
            break;
        }
        ChunkNote(Chunk, Status);
        for (U32 I = 0; I < Count && Chunk->Status == KSTATUS_SUCCESS && Position < Chunk->Length; I++) {
            U32 Bytes = MIN(Extents[I].Bytes, Chunk->Length - Position);
            U8* Target = Chunk->Buffer + Position;
            if (Bytes == 0) {
                ChunkNote(Chunk, KSTATUS_IO_ERROR);
            } else if (Extents[I].Kind == DIRECT_EXTENT_ZERO) {
                MemorySet(Target, 0, Bytes);
            } else if (Extents[I].Kind == DIRECT_EXTENT_DISK && Bytes % SectorSize == 0) {
                DISK_IO Io = {Extents[I].Sector, Bytes / SectorSize, Target, NULL, 0};
                ChunkNote(Chunk, DiskSubmit(Source->Disk, DF_DISK_READ, &Io, ChunkSlot(Chunk)));
            } else {
                ChunkNote(Chunk, Source->Copy(Source->Context, Offset + Position, Bytes, Target));
            }
            Position += Bytes;
        }
    }
}

/** Waits for every request of the chunk; its status. */
static KSTATUS ChunkWait(DIRECT_CHUNK* Chunk) {
    for (U32 I = 0; I < Chunk->Used; I++) ChunkNote(Chunk, DiskWaitRequest(&Chunk->Requests[I]));
    Chunk->Used = 0;
    Chunk->Active = FALSE;
    return Chunk->Status;
}

/************************************************************************/
// The reader

/** Fills the chunk at Index with the next range, if the stream has one. */
static void ReaderAdvance(DIRECT_READER* Reader, U32 Index) {
    if (Reader->Next >= Reader->End || Reader->Failed != KSTATUS_SUCCESS) return;
    DIRECT_CHUNK* Chunk = &Reader->Chunks[Index];
    ChunkFill(Reader, Chunk, Reader->Next);
    Reader->Next += Chunk->Length;
}

KSTATUS DirectReaderOpen(const DIRECT_SOURCE* Source, U64 Offset, U64 Length, U32 ChunkBytes, U32 Window,
                         DIRECT_READER** Result) {
    *Result = NULL;
    if (Source == NULL || Source->Disk == NULL || Source->Map == NULL || Source->Copy == NULL) {
        return KSTATUS_BAD_PARAMETER;
    }
    U32 SectorSize = Source->Disk->SectorSize;
    if (SectorSize == 0 || Offset + Length < Offset) return KSTATUS_BAD_PARAMETER;
    // A short stream needs no more than its own length (rounded up to a sector) of buffer.
    U64 Rounded = (Length + SectorSize - 1) / SectorSize * SectorSize;
    ChunkBytes = (U32)MAX(MIN((U64)MIN(ChunkBytes, (U32)DIRECT_MAX_CHUNK), Rounded), (U64)SectorSize);
    ChunkBytes -= ChunkBytes % SectorSize;  // whole sectors, so aligned streams stay aligned chunk after chunk
    Window = MAX(MIN(Window, (U32)DIRECT_MAX_WINDOW), 1U);
    // No more chunks than the stream needs.
    U64 Needed = (Length + ChunkBytes - 1) / ChunkBytes;
    Window = (U32)MAX(MIN((U64)Window, Needed), 1ULL);
    DIRECT_READER* Reader = (DIRECT_READER*)KernelHeapAllocZero(sizeof(DIRECT_READER));
    if (Reader == NULL) return KSTATUS_NO_MEMORY;
    Reader->Chunks = (DIRECT_CHUNK*)KernelHeapAllocZero(sizeof(DIRECT_CHUNK) * Window);
    if (Reader->Chunks == NULL) {
        KernelHeapFree(Reader);
        return KSTATUS_NO_MEMORY;
    }
    Reader->Source = *Source;
    Reader->Next = Offset;
    Reader->End = Offset + Length;
    Reader->ChunkBytes = ChunkBytes;
    Reader->Window = Window;
    for (U32 I = 0; I < Window; I++) {
        Reader->Chunks[I].Buffer = (U8*)KernelHeapAlloc(ChunkBytes);
        if (Reader->Chunks[I].Buffer == NULL) {
            DirectReaderClose(Reader);
            return KSTATUS_NO_MEMORY;
        }
    }
    for (U32 I = 0; I < Window; I++) ReaderAdvance(Reader, I);
    *Result = Reader;
    return KSTATUS_SUCCESS;
}

KSTATUS DirectReaderNext(DIRECT_READER* Reader, const U8** Data, U32* Length) {
    *Data = NULL;
    *Length = 0;
    if (Reader == NULL) return KSTATUS_BAD_PARAMETER;
    if (Reader->Failed != KSTATUS_SUCCESS) return Reader->Failed;
    if (Reader->Returned) {
        // The caller is done with the chunk it had: it goes out for the next range and becomes the newest.
        Reader->Returned = FALSE;
        ReaderAdvance(Reader, Reader->Head);
        Reader->Head = (Reader->Head + 1) % Reader->Window;
    }
    DIRECT_CHUNK* Chunk = &Reader->Chunks[Reader->Head];
    if (!Chunk->Active) return KSTATUS_SUCCESS;  // the end
    KSTATUS Status = ChunkWait(Chunk);
    if (Status != KSTATUS_SUCCESS) {
        Reader->Failed = Status;
        return Status;
    }
    *Data = Chunk->Buffer;
    *Length = Chunk->Length;
    Reader->Returned = TRUE;
    return KSTATUS_SUCCESS;
}

U32 DirectReaderChunkBytes(const DIRECT_READER* Reader) { return Reader ? Reader->ChunkBytes : 0; }

void DirectReaderClose(DIRECT_READER* Reader) {
    if (Reader == NULL) return;
    for (U32 I = 0; I < Reader->Window; I++) {
        DIRECT_CHUNK* Chunk = &Reader->Chunks[I];
        if (Chunk->Active) ChunkWait(Chunk);
        if (Chunk->Buffer) KernelHeapFree(Chunk->Buffer);
    }
    KernelHeapFree(Reader->Chunks);
    KernelHeapFree(Reader);
}

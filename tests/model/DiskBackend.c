/*
 * DiskBackend.c - memory and file stores behind device models (see
 * DiskBackend.h).
 *
 * The memory store keeps 64 KiB chunks in a chained hash table keyed by
 * chunk number; a chunk exists only once some byte of it was written with
 * non-zero data, and a discard frees the chunks it covers whole and zeroes
 * the edges. The file store is plain POSIX I/O.
 */

#define _GNU_SOURCE
#include "DiskBackend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SHIFT 16
#define CHUNK_SIZE (1ULL << CHUNK_SHIFT)
#define BUCKET_COUNT 4096

/************************************************************************/
// Memory store

typedef struct tag_CHUNK {
    U64 Index;
    U8* Data;
    struct tag_CHUNK* Next;
} CHUNK;

typedef struct tag_MEMORY_STORE {
    CHUNK* Buckets[BUCKET_COUNT];
    U64 ChunkCount;
} MEMORY_STORE;

static CHUNK** FindChunk(MEMORY_STORE* Store, U64 Index) {
    CHUNK** Link = &Store->Buckets[(Index * 0x9E3779B97F4A7C15ULL) >> 52];
    while (*Link && (*Link)->Index != Index) Link = &(*Link)->Next;
    return Link;
}

static BOOL AllZero(const U8* Data, U64 Length) {
    for (U64 I = 0; I < Length; I++) {
        if (Data[I] != 0) return FALSE;
    }
    return TRUE;
}

static KSTATUS MemoryRead(DISK_BACKEND* Backend, U64 Offset, LPVOID Buffer, U64 Length) {
    MEMORY_STORE* Store = (MEMORY_STORE*)Backend->Private;
    U8* Out = (U8*)Buffer;
    while (Length > 0) {
        U64 InChunk = Offset & (CHUNK_SIZE - 1);
        U64 Piece = MIN(Length, CHUNK_SIZE - InChunk);
        CHUNK* Chunk = *FindChunk(Store, Offset >> CHUNK_SHIFT);
        if (Chunk) memcpy(Out, Chunk->Data + InChunk, Piece);
        else memset(Out, 0, Piece);
        Out += Piece;
        Offset += Piece;
        Length -= Piece;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS MemoryWrite(DISK_BACKEND* Backend, U64 Offset, LPCVOID Buffer, U64 Length) {
    MEMORY_STORE* Store = (MEMORY_STORE*)Backend->Private;
    const U8* In = (const U8*)Buffer;
    while (Length > 0) {
        U64 InChunk = Offset & (CHUNK_SIZE - 1);
        U64 Piece = MIN(Length, CHUNK_SIZE - InChunk);
        CHUNK** Link = FindChunk(Store, Offset >> CHUNK_SHIFT);
        if (*Link == NULL && In != NULL && !AllZero(In, Piece)) {
            CHUNK* Chunk = (CHUNK*)calloc(1, sizeof(CHUNK));
            U8* Data = (U8*)calloc(1, CHUNK_SIZE);
            if (Chunk == NULL || Data == NULL) {
                free(Chunk);
                free(Data);
                return KSTATUS_NO_MEMORY;
            }
            Chunk->Index = Offset >> CHUNK_SHIFT;
            Chunk->Data = Data;
            *Link = Chunk;
            Store->ChunkCount++;
        }
        if (*Link) {
            if (In) memcpy((*Link)->Data + InChunk, In, Piece);
            else memset((*Link)->Data + InChunk, 0, Piece);
        }
        if (In) In += Piece;
        Offset += Piece;
        Length -= Piece;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS MemoryFlush(DISK_BACKEND* Backend) {
    UNUSED(Backend);
    return KSTATUS_SUCCESS;
}

static KSTATUS MemoryDiscard(DISK_BACKEND* Backend, U64 Offset, U64 Length) {
    MEMORY_STORE* Store = (MEMORY_STORE*)Backend->Private;
    while (Length > 0) {
        U64 InChunk = Offset & (CHUNK_SIZE - 1);
        U64 Piece = MIN(Length, CHUNK_SIZE - InChunk);
        CHUNK** Link = FindChunk(Store, Offset >> CHUNK_SHIFT);
        if (*Link) {
            if (Piece == CHUNK_SIZE) {
                CHUNK* Chunk = *Link;
                *Link = Chunk->Next;
                free(Chunk->Data);
                free(Chunk);
                Store->ChunkCount--;
            } else {
                memset((*Link)->Data + InChunk, 0, Piece);
            }
        }
        Offset += Piece;
        Length -= Piece;
    }
    return KSTATUS_SUCCESS;
}

static void MemoryDestroy(DISK_BACKEND* Backend) {
    MEMORY_STORE* Store = (MEMORY_STORE*)Backend->Private;
    for (U32 B = 0; B < BUCKET_COUNT; B++) {
        for (CHUNK* Chunk = Store->Buckets[B]; Chunk;) {
            CHUNK* Next = Chunk->Next;
            free(Chunk->Data);
            free(Chunk);
            Chunk = Next;
        }
    }
    free(Store);
}

static const DISK_BACKEND_OPS MemoryOps = {"memory",    MemoryRead,    MemoryWrite,
                                           MemoryFlush, MemoryDiscard, MemoryDestroy};

/************************************************************************/
// File store

typedef struct tag_FILE_STORE {
    int Descriptor;
} FILE_STORE;

static KSTATUS FileRead(DISK_BACKEND* Backend, U64 Offset, LPVOID Buffer, U64 Length) {
    FILE_STORE* Store = (FILE_STORE*)Backend->Private;
    U8* Out = (U8*)Buffer;
    while (Length > 0) {
        ssize_t Done = pread(Store->Descriptor, Out, Length, (off_t)Offset);
        if (Done < 0 && errno == EINTR) continue;
        if (Done < 0) return KSTATUS_IO_ERROR;
        if (Done == 0) {
            memset(Out, 0, Length);  // past the end of a sparse file
            break;
        }
        Out += Done;
        Offset += (U64)Done;
        Length -= (U64)Done;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS FileWrite(DISK_BACKEND* Backend, U64 Offset, LPCVOID Buffer, U64 Length) {
    FILE_STORE* Store = (FILE_STORE*)Backend->Private;
    const U8* In = (const U8*)Buffer;
    while (Length > 0) {
        ssize_t Done = pwrite(Store->Descriptor, In, Length, (off_t)Offset);
        if (Done < 0 && errno == EINTR) continue;
        if (Done <= 0) return KSTATUS_IO_ERROR;
        In += Done;
        Offset += (U64)Done;
        Length -= (U64)Done;
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS FileFlush(DISK_BACKEND* Backend) {
    FILE_STORE* Store = (FILE_STORE*)Backend->Private;
    return fdatasync(Store->Descriptor) == 0 ? KSTATUS_SUCCESS : KSTATUS_IO_ERROR;
}

static KSTATUS FileDiscard(DISK_BACKEND* Backend, U64 Offset, U64 Length) {
    FILE_STORE* Store = (FILE_STORE*)Backend->Private;
    if (fallocate(Store->Descriptor, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)Offset, (off_t)Length) == 0) {
        return KSTATUS_SUCCESS;
    }
    // No hole punching on this file system: write zeroes instead.
    static const U8 Zeroes[4096];
    while (Length > 0) {
        U64 Piece = MIN(Length, (U64)sizeof(Zeroes));
        KSTATUS Status = FileWrite(Backend, Offset, Zeroes, Piece);
        if (Status != KSTATUS_SUCCESS) return Status;
        Offset += Piece;
        Length -= Piece;
    }
    return KSTATUS_SUCCESS;
}

static void FileDestroy(DISK_BACKEND* Backend) {
    FILE_STORE* Store = (FILE_STORE*)Backend->Private;
    close(Store->Descriptor);
    free(Store);
}

static const DISK_BACKEND_OPS FileOps = {"file", FileRead, FileWrite, FileFlush, FileDiscard, FileDestroy};

/************************************************************************/
// Creation

static DISK_BACKEND* NewBackend(const DISK_BACKEND_OPS* Ops, U64 Size, LPVOID Private) {
    DISK_BACKEND* Backend = (DISK_BACKEND*)calloc(1, sizeof(DISK_BACKEND));
    pthread_mutex_t* Lock = (pthread_mutex_t*)calloc(1, sizeof(pthread_mutex_t));
    if (Backend == NULL || Lock == NULL) {
        free(Backend);
        free(Lock);
        return NULL;
    }
    pthread_mutex_init(Lock, NULL);
    Backend->Ops = Ops;
    Backend->Size = Size;
    Backend->Private = Private;
    Backend->Lock = Lock;
    return Backend;
}

DISK_BACKEND* DiskBackendCreateMemory(U64 Size) {
    MEMORY_STORE* Store = (MEMORY_STORE*)calloc(1, sizeof(MEMORY_STORE));
    if (Store == NULL) return NULL;
    DISK_BACKEND* Backend = NewBackend(&MemoryOps, Size, Store);
    if (Backend == NULL) free(Store);
    return Backend;
}

DISK_BACKEND* DiskBackendCreateFile(LPCSTR Path, U64 Size, BOOL Create) {
    int Descriptor = open(Path, O_RDWR | (Create ? (O_CREAT | O_TRUNC) : 0), 0644);
    if (Descriptor < 0) return NULL;
    struct stat Info;
    BOOL Ok = fstat(Descriptor, &Info) == 0;
    if (Ok && Create) Ok = ftruncate(Descriptor, (off_t)Size) == 0;
    else if (Ok) Ok = (U64)Info.st_size >= Size;
    FILE_STORE* Store = Ok ? (FILE_STORE*)calloc(1, sizeof(FILE_STORE)) : NULL;
    if (Store == NULL) {
        close(Descriptor);
        return NULL;
    }
    Store->Descriptor = Descriptor;
    DISK_BACKEND* Backend = NewBackend(&FileOps, Size, Store);
    if (Backend == NULL) FileDestroy(&(DISK_BACKEND){.Private = Store});
    return Backend;
}

void DiskBackendDestroy(DISK_BACKEND* Backend) {
    if (Backend == NULL) return;
    Backend->Ops->Destroy(Backend);
    pthread_mutex_destroy((pthread_mutex_t*)Backend->Lock);
    free(Backend->Lock);
    free(Backend);
}

/************************************************************************/
// Checked entry points

static void Lock(DISK_BACKEND* Backend) { pthread_mutex_lock((pthread_mutex_t*)Backend->Lock); }
static void Unlock(DISK_BACKEND* Backend) { pthread_mutex_unlock((pthread_mutex_t*)Backend->Lock); }

static BOOL InBounds(const DISK_BACKEND* Backend, U64 Offset, U64 Length) {
    return Offset <= Backend->Size && Length <= Backend->Size - Offset;
}

static BOOL HitsInjectedError(const DISK_BACKEND* Backend, U64 Offset, U64 Length, BOOL Write) {
    if (Backend->FailLength == 0 || !(Write ? Backend->FailWrites : Backend->FailReads)) return FALSE;
    return Offset < Backend->FailOffset + Backend->FailLength && Backend->FailOffset < Offset + Length;
}

KSTATUS DiskBackendRead(DISK_BACKEND* Backend, U64 Offset, LPVOID Buffer, U64 Length) {
    if (!InBounds(Backend, Offset, Length) || (Buffer == NULL && Length != 0)) return KSTATUS_BAD_PARAMETER;
    Lock(Backend);
    KSTATUS Status = KSTATUS_IO_ERROR;
    if (HitsInjectedError(Backend, Offset, Length, FALSE)) {
        Backend->Stats.InjectedErrors++;
    } else {
        Status = Backend->Ops->Read(Backend, Offset, Buffer, Length);
        Backend->Stats.Reads++;
        if (Status == KSTATUS_SUCCESS) Backend->Stats.BytesRead += Length;
    }
    Unlock(Backend);
    return Status;
}

KSTATUS DiskBackendWrite(DISK_BACKEND* Backend, U64 Offset, LPCVOID Buffer, U64 Length) {
    if (!InBounds(Backend, Offset, Length) || (Buffer == NULL && Length != 0)) return KSTATUS_BAD_PARAMETER;
    Lock(Backend);
    KSTATUS Status = KSTATUS_IO_ERROR;
    if (HitsInjectedError(Backend, Offset, Length, TRUE)) {
        Backend->Stats.InjectedErrors++;
    } else {
        Status = Backend->Ops->Write(Backend, Offset, Buffer, Length);
        Backend->Stats.Writes++;
        Backend->Stats.WritesSinceFlush++;
        if (Status == KSTATUS_SUCCESS) Backend->Stats.BytesWritten += Length;
    }
    Unlock(Backend);
    return Status;
}

KSTATUS DiskBackendFlush(DISK_BACKEND* Backend) {
    Lock(Backend);
    KSTATUS Status = Backend->Ops->Flush(Backend);
    Backend->Stats.Flushes++;
    if (Status == KSTATUS_SUCCESS) Backend->Stats.WritesSinceFlush = 0;
    Unlock(Backend);
    return Status;
}

KSTATUS DiskBackendDiscard(DISK_BACKEND* Backend, U64 Offset, U64 Length) {
    if (!InBounds(Backend, Offset, Length)) return KSTATUS_BAD_PARAMETER;
    Lock(Backend);
    KSTATUS Status = Backend->Ops->Discard(Backend, Offset, Length);
    Backend->Stats.Discards++;
    if (Status == KSTATUS_SUCCESS) Backend->Stats.BytesDiscarded += Length;
    Unlock(Backend);
    return Status;
}

KSTATUS DiskBackendWriteZeroes(DISK_BACKEND* Backend, U64 Offset, U64 Length) {
    if (!InBounds(Backend, Offset, Length)) return KSTATUS_BAD_PARAMETER;
    Lock(Backend);
    KSTATUS Status = KSTATUS_IO_ERROR;
    if (HitsInjectedError(Backend, Offset, Length, TRUE)) {
        Backend->Stats.InjectedErrors++;
    } else {
        // Both stores read zeroes after a discard, which is what Write Zeroes promises.
        Status = Backend->Ops->Discard(Backend, Offset, Length);
        Backend->Stats.Writes++;
        Backend->Stats.WritesSinceFlush++;
        if (Status == KSTATUS_SUCCESS) Backend->Stats.BytesWritten += Length;
    }
    Unlock(Backend);
    return Status;
}

void DiskBackendInjectError(DISK_BACKEND* Backend, U64 Offset, U64 Length, BOOL Reads, BOOL Writes) {
    Lock(Backend);
    Backend->FailOffset = Offset;
    Backend->FailLength = Length;
    Backend->FailReads = Reads;
    Backend->FailWrites = Writes;
    Unlock(Backend);
}

void DiskBackendGetStats(DISK_BACKEND* Backend, DISK_BACKEND_STATS* Stats) {
    Lock(Backend);
    *Stats = Backend->Stats;
    Unlock(Backend);
}

U64 DiskBackendResidentBytes(DISK_BACKEND* Backend) {
    if (Backend->Ops != &MemoryOps) return 0;
    Lock(Backend);
    U64 Bytes = ((MEMORY_STORE*)Backend->Private)->ChunkCount * CHUNK_SIZE;
    Unlock(Backend);
    return Bytes;
}

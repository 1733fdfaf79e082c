/*
 * NVMeModel-WriteCache.c - the model's volatile write cache and power cuts (NVMeModelWriteCache.h).
 *
 * The cache is a table of logical blocks (namespace, LBA, data), dense in Entries[] so a seeded choice of a
 * block is one index, with a chained hash from (namespace, LBA) to the entry. Invariants: a block is in the
 * table at most once and holds the newest data written to it; the medium holds every block not in the table
 * as last written through or committed; nothing reaches the medium while PoweredOff. Every Nm* function here
 * expects Model->Lock held; the public functions take it. The hooks are called from NVMeModel-IO.c (reads,
 * writes, Flush, Write Zeroes, Deallocate, the power state before each I/O command), NVMeModel-Registers.c
 * (a completed shutdown), NVMeModel-Admin.c (feature 06h) and NVMeModel.c (destroy).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"
#include "NVMeModelWriteCache.h"

#define BUCKET_COUNT 8192
#define NO_ENTRY 0xFFFFFFFFU

typedef struct tag_NM_CACHE_ENTRY {
    U32 Namespace;   // index in Model->Namespaces
    U32 Next;        // hash chain (NO_ENTRY ends it)
    U64 Lba;
    U8* Data;        // the namespace's BlockSize bytes
} NM_CACHE_ENTRY;

struct tag_NM_WRITE_CACHE {
    U32 Capacity;
    U32 Count;
    NM_CACHE_ENTRY* Entries;
    U32 Buckets[BUCKET_COUNT];
    U64 Random;            // destaging choices
    BOOL PoweredOff;
    BOOL FlushIgnored;     // a lying drive (NVMeModelSetFlushIgnored)
    U64 CutCountdown;      // I/O commands until the scheduled cut (0: none)
    U32 CutKeepPerMille;
    U64 CutSeed;
    NVME_MODEL_WRITE_CACHE_STATS Stats;
};

static U64 NextRandom(U64* State) {
    U64 X = *State ? *State : 0x9E3779B97F4A7C15ULL;
    X ^= X >> 12;
    X ^= X << 25;
    X ^= X >> 27;
    *State = X;
    return X * 0x2545F4914F6CDD1DULL;
}

static U32 BucketOf(U32 Namespace, U64 Lba) {
    return (U32)(((Lba ^ ((U64)Namespace << 56)) * 0x9E3779B97F4A7C15ULL) >> 51) & (BUCKET_COUNT - 1);
}

static U32* FindLink(NM_WRITE_CACHE* Cache, U32 Namespace, U64 Lba) {
    U32* Link = &Cache->Buckets[BucketOf(Namespace, Lba)];
    while (*Link != NO_ENTRY && (Cache->Entries[*Link].Namespace != Namespace || Cache->Entries[*Link].Lba != Lba)) {
        Link = &Cache->Entries[*Link].Next;
    }
    return Link;
}

/** Removes entry Index (its data freed); the last entry moves into its place. */
static void RemoveEntry(NM_WRITE_CACHE* Cache, U32 Index) {
    NM_CACHE_ENTRY* Entry = &Cache->Entries[Index];
    U32* Link = FindLink(Cache, Entry->Namespace, Entry->Lba);
    *Link = Entry->Next;
    free(Entry->Data);
    U32 Last = --Cache->Count;
    if (Index != Last) {
        NM_CACHE_ENTRY* Moved = &Cache->Entries[Last];
        U32* MovedLink = FindLink(Cache, Moved->Namespace, Moved->Lba);
        *MovedLink = Index;
        *Entry = *Moved;
    }
}

static NM_NAMESPACE* EntryNamespace(NM_MODEL* Model, const NM_CACHE_ENTRY* Entry) {
    return &Model->Namespaces[Entry->Namespace];
}

/** Writes entry Index to the medium and removes it. */
static KSTATUS WriteOut(NM_MODEL* Model, U32 Index) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    NM_CACHE_ENTRY* Entry = &Cache->Entries[Index];
    NM_NAMESPACE* Namespace = EntryNamespace(Model, Entry);
    KSTATUS Status = DiskBackendWrite(Namespace->Data, Entry->Lba * Namespace->BlockSize, Entry->Data,
                                      Namespace->BlockSize);
    RemoveEntry(Cache, Index);
    return Status;
}

/** Whether writes to Namespace go to the cache now. */
static BOOL Caching(NM_MODEL* Model, const NM_NAMESPACE* Namespace) {
    return Model->WriteCache != NULL && Namespace->MetadataSize == 0 &&
           (Model->Features[NM_FEATURE_VOLATILE_WRITE_CACHE] & 1) != 0;
}

/************************************************************************/
// Hooks

BOOL NmWriteCacheBeforeIoLocked(NM_MODEL* Model, const NM_SQE* Command, NM_RESULT* Result) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL) return FALSE;
    if (Cache->CutCountdown != 0 && --Cache->CutCountdown == 0) {
        NmWriteCachePowerCutLocked(Model, Cache->CutKeepPerMille, Cache->CutSeed);
    }
    U8 Opcode = NM_SQE_OPCODE(Command);
    if (!Cache->PoweredOff || Opcode == NM_IO_READ) return FALSE;
    // Power is off: the command "completes", but nothing of it reaches the medium.
    Cache->Stats.CommandsIgnored++;
    Result->Status = 0;
    return TRUE;
}

KSTATUS NmWriteCacheWriteLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, const U8* Data, U64 Length,
                                BOOL Fua) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    U64 BlockSize = Namespace->BlockSize;
    if (!Caching(Model, Namespace) || Fua) {
        // Through to the medium; older cached copies of these blocks must not land later over it.
        if (Cache) {
            NmWriteCacheDropLocked(Model, Namespace, Offset, Length);
            Cache->Stats.BlocksWrittenThrough += Length / BlockSize;
        }
        return DiskBackendWrite(Namespace->Data, Offset, Data, Length);
    }
    U32 NamespaceIndex = (U32)(Namespace - Model->Namespaces);
    for (U64 Done = 0; Done < Length; Done += BlockSize) {
        U64 Lba = (Offset + Done) / BlockSize;
        U32* Link = FindLink(Cache, NamespaceIndex, Lba);
        if (*Link == NO_ENTRY) {
            if (Cache->Count == Cache->Capacity) {
                KSTATUS Status = WriteOut(Model, (U32)(NextRandom(&Cache->Random) % Cache->Count));
                Cache->Stats.BlocksDestaged++;
                if (Status != KSTATUS_SUCCESS) return Status;
                Link = FindLink(Cache, NamespaceIndex, Lba);  // the table moved
            }
            U8* Copy = (U8*)malloc(BlockSize);
            if (Copy == NULL) return KSTATUS_NO_MEMORY;
            U32 Index = Cache->Count++;
            Cache->Entries[Index] = (NM_CACHE_ENTRY){NamespaceIndex, NO_ENTRY, Lba, Copy};
            *Link = Index;
        }
        memcpy(Cache->Entries[*Link].Data, Data + Done, BlockSize);
        Cache->Stats.BlocksCached++;
    }
    return KSTATUS_SUCCESS;
}

void NmWriteCacheReadLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, U8* Buffer, U64 Length) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL || Cache->Count == 0) return;
    U32 NamespaceIndex = (U32)(Namespace - Model->Namespaces);
    U64 BlockSize = Namespace->BlockSize;
    for (U64 Done = 0; Done < Length; Done += BlockSize) {
        U32 Index = *FindLink(Cache, NamespaceIndex, (Offset + Done) / BlockSize);
        if (Index != NO_ENTRY) memcpy(Buffer + Done, Cache->Entries[Index].Data, BlockSize);
    }
}

KSTATUS NmWriteCacheCommitLocked(NM_MODEL* Model, U32 Nsid) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL || Cache->PoweredOff) return KSTATUS_SUCCESS;
    KSTATUS Result = KSTATUS_SUCCESS;
    for (U32 Index = 0; Index < Cache->Count;) {
        if (Nsid != 0xFFFFFFFFU && EntryNamespace(Model, &Cache->Entries[Index])->Config.Nsid != Nsid) {
            Index++;
            continue;
        }
        KSTATUS Status = WriteOut(Model, Index);  // the last entry moved to Index: look at it next
        Cache->Stats.BlocksCommitted++;
        if (Status != KSTATUS_SUCCESS && Result == KSTATUS_SUCCESS) Result = Status;
    }
    return Result;
}

KSTATUS NmWriteCacheFlushLocked(NM_MODEL* Model, U32 Nsid) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL || Cache->FlushIgnored) return KSTATUS_SUCCESS;
    return NmWriteCacheCommitLocked(Model, Nsid);
}

void NmWriteCacheFlushedLocked(NM_MODEL* Model) {
    if (Model->WriteCache && (Model->Features[NM_FEATURE_VOLATILE_WRITE_CACHE] & 1)) Model->WriteCache->Stats.Flushes++;
}

void NmWriteCacheDropLocked(NM_MODEL* Model, NM_NAMESPACE* Namespace, U64 Offset, U64 Length) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL || Cache->Count == 0) return;
    U32 NamespaceIndex = (U32)(Namespace - Model->Namespaces);
    U64 First = Offset / Namespace->BlockSize, End = (Offset + Length) / Namespace->BlockSize;
    for (U32 Index = 0; Index < Cache->Count;) {
        NM_CACHE_ENTRY* Entry = &Cache->Entries[Index];
        if (Entry->Namespace == NamespaceIndex && Entry->Lba >= First && Entry->Lba < End) RemoveEntry(Cache, Index);
        else Index++;
    }
}

void NmWriteCachePowerCutLocked(NM_MODEL* Model, U32 KeepPerMille, U64 Seed) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL || Cache->PoweredOff) return;
    U64 Random = Seed;
    while (Cache->Count > 0) {
        // Each block on its own draw: what lands is any subset of the unflushed blocks.
        if (NextRandom(&Random) % 1000 < KeepPerMille) {
            WriteOut(Model, Cache->Count - 1);
            Cache->Stats.BlocksKeptAtCut++;
        } else {
            RemoveEntry(Cache, Cache->Count - 1);
            Cache->Stats.BlocksLostAtCut++;
        }
    }
    Cache->CutCountdown = 0;
    Cache->PoweredOff = TRUE;
    Cache->Stats.PowerCuts++;
}

void NmWriteCacheRelease(NM_MODEL* Model) {
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache == NULL) return;
    for (U32 Index = 0; Index < Cache->Count; Index++) free(Cache->Entries[Index].Data);
    free(Cache->Entries);
    free(Cache);
    Model->WriteCache = NULL;
}

/************************************************************************/
// Public

void NVMeModelEnableWriteCache(NVME_MODEL* Model, U32 CapacityBlocks, U64 Seed) {
    pthread_mutex_lock(&Model->Lock);
    if (Model->WriteCache == NULL) {
        NM_WRITE_CACHE* Cache = (NM_WRITE_CACHE*)calloc(1, sizeof(NM_WRITE_CACHE));
        U32 Capacity = CapacityBlocks ? CapacityBlocks : NVME_MODEL_WRITE_CACHE_DEFAULT_BLOCKS;
        NM_CACHE_ENTRY* Entries = Cache ? (NM_CACHE_ENTRY*)calloc(Capacity, sizeof(NM_CACHE_ENTRY)) : NULL;
        if (Entries == NULL) {
            fprintf(stderr, "NVMe model: no memory for a write cache of %u blocks\n", Capacity);
            abort();
        }
        Cache->Entries = Entries;
        Cache->Capacity = Capacity;
        memset(Cache->Buckets, 0xFF, sizeof(Cache->Buckets));
        Cache->Random = Seed;
        Model->WriteCache = Cache;
    }
    Model->Config.Vwc |= 1;  // Identify reads it per command
    Model->Features[NM_FEATURE_VOLATILE_WRITE_CACHE] = 1;
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelSetFlushIgnored(NVME_MODEL* Model, BOOL Ignored) {
    pthread_mutex_lock(&Model->Lock);
    if (Model->WriteCache) Model->WriteCache->FlushIgnored = Ignored;
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelPowerCut(NVME_MODEL* Model, U32 KeepPerMille, U64 Seed) {
    pthread_mutex_lock(&Model->Lock);
    NmWriteCachePowerCutLocked(Model, KeepPerMille, Seed);
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelSchedulePowerCut(NVME_MODEL* Model, U64 AfterIoCommands, U32 KeepPerMille, U64 Seed) {
    pthread_mutex_lock(&Model->Lock);
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache) {
        Cache->CutCountdown = AfterIoCommands;
        Cache->CutKeepPerMille = KeepPerMille;
        Cache->CutSeed = Seed;
    }
    pthread_mutex_unlock(&Model->Lock);
}

BOOL NVMeModelPoweredOff(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    BOOL Off = Model->WriteCache != NULL && Model->WriteCache->PoweredOff;
    pthread_mutex_unlock(&Model->Lock);
    return Off;
}

void NVMeModelPowerOn(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache) {
        Cache->PoweredOff = FALSE;
        Cache->CutCountdown = 0;
    }
    pthread_mutex_unlock(&Model->Lock);
}

void NVMeModelGetWriteCacheStats(NVME_MODEL* Model, NVME_MODEL_WRITE_CACHE_STATS* Stats) {
    pthread_mutex_lock(&Model->Lock);
    memset(Stats, 0, sizeof(*Stats));
    NM_WRITE_CACHE* Cache = Model->WriteCache;
    if (Cache) {
        *Stats = Cache->Stats;
        Stats->CachedBlocks = Cache->Count;
        Stats->CapacityBlocks = Cache->Capacity;
        Stats->PoweredOff = Cache->PoweredOff;
    }
    pthread_mutex_unlock(&Model->Lock);
}

/** Copies between the medium of namespace Nsid and a file, 1 MiB at a time. */
static KSTATUS CopyImage(NVME_MODEL* Model, U32 Nsid, U64 Offset, U64 Length, LPCSTR Path, BOOL Save) {
    FILE* File = fopen(Path, Save ? "wb" : "rb");
    if (File == NULL) return KSTATUS_NOT_FOUND;
    U64 Piece = 1024 * 1024;
    U8* Buffer = (U8*)malloc(Piece);
    KSTATUS Status = Buffer ? KSTATUS_SUCCESS : KSTATUS_NO_MEMORY;
    pthread_mutex_lock(&Model->Lock);
    NM_NAMESPACE* Namespace = NmFindNamespace(Model, Nsid);
    if (Namespace == NULL) Status = KSTATUS_NOT_FOUND;
    if (Status == KSTATUS_SUCCESS && !Save) NmWriteCacheDropLocked(Model, Namespace, Offset, Length);
    for (U64 Done = 0; Done < Length && Status == KSTATUS_SUCCESS; Done += Piece) {
        U64 Size = MIN(Piece, Length - Done);
        if (Save) {
            Status = DiskBackendRead(Namespace->Data, Offset + Done, Buffer, Size);
            if (Status == KSTATUS_SUCCESS && fwrite(Buffer, 1, Size, File) != Size) Status = KSTATUS_IO_ERROR;
        } else {
            if (fread(Buffer, 1, Size, File) != Size) Status = KSTATUS_IO_ERROR;
            if (Status == KSTATUS_SUCCESS) Status = DiskBackendWrite(Namespace->Data, Offset + Done, Buffer, Size);
        }
    }
    pthread_mutex_unlock(&Model->Lock);
    free(Buffer);
    if (fclose(File) != 0 && Status == KSTATUS_SUCCESS) Status = KSTATUS_IO_ERROR;
    return Status;
}

KSTATUS NVMeModelSaveImage(NVME_MODEL* Model, U32 Nsid, U64 Offset, U64 Length, LPCSTR Path) {
    return CopyImage(Model, Nsid, Offset, Length, Path, TRUE);
}

KSTATUS NVMeModelLoadImage(NVME_MODEL* Model, U32 Nsid, U64 Offset, U64 Length, LPCSTR Path) {
    return CopyImage(Model, Nsid, Offset, Length, Path, FALSE);
}

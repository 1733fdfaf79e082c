/*
 * MemoryBus.c - fake physical memory for device models (see MemoryBus.h).
 *
 * Two hash maps (open addressing, linear probing, backward-shift deletion)
 * hold the page mapping both ways: host page number -> frame number and
 * frame number -> host page number. Frames for translated pages are drawn
 * at random (seeded xorshift) from two wide windows, one under 4 GiB and one
 * above; DMA allocations take a run of frames from a bump pointer in their
 * own windows, with a random gap between allocations so that two of them are
 * never adjacent either.
 */

#include "MemoryBus.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_SHIFT 12
#define FRAME_SIZE MEMORY_BUS_FRAME_SIZE

// Windows (in bytes) where frames are placed. The low ones stay clear of the
// 0xFE000000 MMIO area the device models use for their BARs.
#define TRANSLATE_LOW_START 0x01000000ULL
#define TRANSLATE_LOW_END 0xC0000000ULL
#define TRANSLATE_HIGH_START 0x0000001000000000ULL
#define TRANSLATE_HIGH_END 0x0000100000000000ULL
#define DMA_LOW_START 0xC0000000ULL
#define DMA_LOW_END 0xF0000000ULL
#define DMA_HIGH_START 0x0000000200000000ULL
#define DMA_HIGH_END 0x0000001000000000ULL

typedef struct tag_PAGE_MAP {
    U64* Keys;    // 0 = empty slot
    U64* Values;
    U64 Capacity; // power of two
    U64 Count;
} PAGE_MAP;

typedef struct tag_ALLOCATION {
    LPVOID Linear;
    PHYSICAL Physical;
    U64 Size;
    struct tag_ALLOCATION* Next;
} ALLOCATION;

struct tag_MEMORY_BUS {
    pthread_mutex_t Lock;
    PAGE_MAP LinearToFrame;  // host page number -> frame number
    PAGE_MAP FrameToLinear;  // frame number -> host page number
    U64 Random;
    PHYSICAL NextDmaLow, NextDmaHigh;
    ALLOCATION* Allocations;
    MEMORY_BUS_STATS Stats;
};

/************************************************************************/
// Hash maps

static U64 HashKey(U64 Key) {
    Key ^= Key >> 33;
    Key *= 0xFF51AFD7ED558CCDULL;
    Key ^= Key >> 33;
    return Key;
}

static BOOL MapInit(PAGE_MAP* Map, U64 Capacity) {
    Map->Keys = (U64*)calloc(Capacity, sizeof(U64));
    Map->Values = (U64*)calloc(Capacity, sizeof(U64));
    Map->Capacity = Capacity;
    Map->Count = 0;
    return Map->Keys != NULL && Map->Values != NULL;
}

static void MapRelease(PAGE_MAP* Map) {
    free(Map->Keys);
    free(Map->Values);
    memset(Map, 0, sizeof(*Map));
}

static BOOL MapFind(const PAGE_MAP* Map, U64 Key, U64* Value) {
    U64 Mask = Map->Capacity - 1;
    for (U64 Slot = HashKey(Key) & Mask;; Slot = (Slot + 1) & Mask) {
        if (Map->Keys[Slot] == 0) return FALSE;
        if (Map->Keys[Slot] == Key) {
            if (Value) *Value = Map->Values[Slot];
            return TRUE;
        }
    }
}

static BOOL MapInsert(PAGE_MAP* Map, U64 Key, U64 Value);

static BOOL MapGrow(PAGE_MAP* Map) {
    PAGE_MAP Bigger;
    if (!MapInit(&Bigger, Map->Capacity * 2)) {
        MapRelease(&Bigger);
        return FALSE;
    }
    for (U64 I = 0; I < Map->Capacity; I++) {
        if (Map->Keys[I] != 0) MapInsert(&Bigger, Map->Keys[I], Map->Values[I]);
    }
    MapRelease(Map);
    *Map = Bigger;
    return TRUE;
}

static BOOL MapInsert(PAGE_MAP* Map, U64 Key, U64 Value) {
    if ((Map->Count + 1) * 2 > Map->Capacity && !MapGrow(Map)) return FALSE;
    U64 Mask = Map->Capacity - 1;
    U64 Slot = HashKey(Key) & Mask;
    while (Map->Keys[Slot] != 0 && Map->Keys[Slot] != Key) Slot = (Slot + 1) & Mask;
    if (Map->Keys[Slot] == 0) Map->Count++;
    Map->Keys[Slot] = Key;
    Map->Values[Slot] = Value;
    return TRUE;
}

static void MapRemove(PAGE_MAP* Map, U64 Key) {
    U64 Mask = Map->Capacity - 1;
    U64 Slot = HashKey(Key) & Mask;
    while (Map->Keys[Slot] != Key) {
        if (Map->Keys[Slot] == 0) return;
        Slot = (Slot + 1) & Mask;
    }
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    U64 Hole = Slot;
    for (U64 Next = (Hole + 1) & Mask; Map->Keys[Next] != 0; Next = (Next + 1) & Mask) {
        U64 Home = HashKey(Map->Keys[Next]) & Mask;
        BOOL Movable = (Hole <= Next) ? (Home <= Hole || Home > Next) : (Home <= Hole && Home > Next);
        if (Movable) {
            Map->Keys[Hole] = Map->Keys[Next];
            Map->Values[Hole] = Map->Values[Next];
            Hole = Next;
        }
    }
    Map->Keys[Hole] = 0;
    Map->Values[Hole] = 0;
    Map->Count--;
}

/************************************************************************/
// Frames

static U64 NextRandom(MEMORY_BUS* Bus) {
    // xorshift64*: small, deterministic for a given seed.
    U64 X = Bus->Random;
    X ^= X >> 12;
    X ^= X << 25;
    X ^= X >> 27;
    Bus->Random = X;
    return X * 0x2545F4914F6CDD1DULL;
}

static BOOL FrameFree(MEMORY_BUS* Bus, U64 Frame) { return !MapFind(&Bus->FrameToLinear, Frame, NULL); }

/** A random unused frame for host page Page, never adjacent to the frames of its neighbour pages. */
static U64 PickScatteredFrame(MEMORY_BUS* Bus, U64 Page) {
    U64 Before = 0, After = 0;
    MapFind(&Bus->LinearToFrame, Page - 1, &Before);
    MapFind(&Bus->LinearToFrame, Page + 1, &After);
    for (U32 Try = 0; Try < 1000; Try++) {
        U64 R = NextRandom(Bus);
        U64 Start = (R & 1) ? TRANSLATE_HIGH_START : TRANSLATE_LOW_START;
        U64 End = (R & 1) ? TRANSLATE_HIGH_END : TRANSLATE_LOW_END;
        U64 Frames = (End - Start) >> FRAME_SHIFT;
        U64 Frame = (Start >> FRAME_SHIFT) + (R >> 1) % Frames;
        if (Before != 0 && (Frame == Before + 1 || Frame + 1 == Before)) continue;
        if (After != 0 && (Frame == After + 1 || Frame + 1 == After)) continue;
        if (FrameFree(Bus, Frame)) return Frame;
    }
    return 0;
}

static BOOL MapPageLocked(MEMORY_BUS* Bus, U64 Page, U64 Frame) {
    if (!MapInsert(&Bus->LinearToFrame, Page, Frame)) return FALSE;
    if (!MapInsert(&Bus->FrameToLinear, Frame, Page)) {
        MapRemove(&Bus->LinearToFrame, Page);
        return FALSE;
    }
    return TRUE;
}

static void UnmapPageLocked(MEMORY_BUS* Bus, U64 Page) {
    U64 Frame;
    if (!MapFind(&Bus->LinearToFrame, Page, &Frame)) return;
    MapRemove(&Bus->LinearToFrame, Page);
    MapRemove(&Bus->FrameToLinear, Frame);
}

/************************************************************************/
// Public

MEMORY_BUS* MemoryBusCreate(U64 Seed) {
    MEMORY_BUS* Bus = (MEMORY_BUS*)calloc(1, sizeof(MEMORY_BUS));
    if (Bus == NULL) return NULL;
    if (!MapInit(&Bus->LinearToFrame, 1024) || !MapInit(&Bus->FrameToLinear, 1024)) {
        MapRelease(&Bus->LinearToFrame);
        MapRelease(&Bus->FrameToLinear);
        free(Bus);
        return NULL;
    }
    pthread_mutex_init(&Bus->Lock, NULL);
    Bus->Random = Seed ? Seed : 0x9E3779B97F4A7C15ULL;
    Bus->NextDmaLow = DMA_LOW_START;
    Bus->NextDmaHigh = DMA_HIGH_START;
    return Bus;
}

void MemoryBusDestroy(MEMORY_BUS* Bus) {
    if (Bus == NULL) return;
    for (ALLOCATION* A = Bus->Allocations; A;) {
        ALLOCATION* Next = A->Next;
        free(A->Linear);
        free(A);
        A = Next;
    }
    MapRelease(&Bus->LinearToFrame);
    MapRelease(&Bus->FrameToLinear);
    pthread_mutex_destroy(&Bus->Lock);
    free(Bus);
}

BOOL MemoryBusAllocate(MEMORY_BUS* Bus, U64 Size, U64 Alignment, BOOL Below4GB, LPVOID* Linear, PHYSICAL* Physical) {
    *Linear = NULL;
    *Physical = 0;
    if (Size == 0 || Size > (1ULL << 32) || !IS_POWER_OF_TWO(Alignment)) return FALSE;
    if (Alignment < FRAME_SIZE) Alignment = FRAME_SIZE;
    U64 Bytes = ALIGN_UP(Size, FRAME_SIZE);
    U64 Pages = Bytes >> FRAME_SHIFT;

    LPVOID Host = aligned_alloc(Alignment, ALIGN_UP(Bytes, Alignment));
    ALLOCATION* Record = (ALLOCATION*)calloc(1, sizeof(ALLOCATION));
    if (Host == NULL || Record == NULL) {
        free(Host);
        free(Record);
        return FALSE;
    }
    memset(Host, 0, Bytes);

    pthread_mutex_lock(&Bus->Lock);
    PHYSICAL* Next = Below4GB ? &Bus->NextDmaLow : &Bus->NextDmaHigh;
    PHYSICAL End = Below4GB ? DMA_LOW_END : DMA_HIGH_END;
    PHYSICAL Base = 0;
    for (U32 Try = 0; Try < 64; Try++) {
        // A gap of 1..16 frames so that two allocations never touch.
        PHYSICAL Candidate = ALIGN_UP(*Next + ((1 + NextRandom(Bus) % 16) << FRAME_SHIFT), Alignment);
        if (Candidate + Bytes > End) break;
        BOOL Clear = TRUE;
        for (U64 P = 0; P < Pages && Clear; P++) Clear = FrameFree(Bus, (Candidate >> FRAME_SHIFT) + P);
        *Next = Candidate + Bytes;
        if (Clear) {
            Base = Candidate;
            break;
        }
    }
    BOOL Mapped = Base != 0;
    U64 FirstPage = (U64)(UINT)Host >> FRAME_SHIFT;
    for (U64 P = 0; P < Pages && Mapped; P++) {
        UnmapPageLocked(Bus, FirstPage + P);  // a stale translation of recycled host memory
        if (!MapPageLocked(Bus, FirstPage + P, (Base >> FRAME_SHIFT) + P)) {
            for (U64 Q = 0; Q < P; Q++) UnmapPageLocked(Bus, FirstPage + Q);
            Mapped = FALSE;
        }
    }
    if (Mapped) {
        Record->Linear = Host;
        Record->Physical = Base;
        Record->Size = Bytes;
        Record->Next = Bus->Allocations;
        Bus->Allocations = Record;
        Bus->Stats.Allocations++;
        Bus->Stats.AllocatedBytes += Bytes;
    }
    pthread_mutex_unlock(&Bus->Lock);

    if (!Mapped) {
        free(Host);
        free(Record);
        return FALSE;
    }
    *Linear = Host;
    *Physical = Base;
    return TRUE;
}

BOOL MemoryBusFree(MEMORY_BUS* Bus, LPVOID Linear) {
    if (Linear == NULL) return FALSE;
    pthread_mutex_lock(&Bus->Lock);
    ALLOCATION** Link = &Bus->Allocations;
    while (*Link && (*Link)->Linear != Linear) Link = &(*Link)->Next;
    ALLOCATION* Record = *Link;
    if (Record) {
        *Link = Record->Next;
        U64 FirstPage = (U64)(UINT)Linear >> FRAME_SHIFT;
        for (U64 P = 0; P < Record->Size >> FRAME_SHIFT; P++) UnmapPageLocked(Bus, FirstPage + P);
        Bus->Stats.Allocations--;
        Bus->Stats.AllocatedBytes -= Record->Size;
    }
    pthread_mutex_unlock(&Bus->Lock);
    if (Record == NULL) return FALSE;
    free(Record->Linear);
    free(Record);
    return TRUE;
}

PHYSICAL MemoryBusTranslate(MEMORY_BUS* Bus, LPCVOID Linear) {
    if (Linear == NULL) return 0;
    U64 Address = (U64)(UINT)Linear;
    U64 Page = Address >> FRAME_SHIFT;
    U64 Frame = 0;
    pthread_mutex_lock(&Bus->Lock);
    if (!MapFind(&Bus->LinearToFrame, Page, &Frame)) {
        Frame = PickScatteredFrame(Bus, Page);
        if (Frame != 0 && MapPageLocked(Bus, Page, Frame)) {
            Bus->Stats.TranslatedPages++;
        } else {
            Frame = 0;
        }
    }
    pthread_mutex_unlock(&Bus->Lock);
    if (Frame == 0) return 0;
    return (Frame << FRAME_SHIFT) | (Address & (FRAME_SIZE - 1));
}

PHYSICAL MemoryBusLookup(MEMORY_BUS* Bus, LPCVOID Linear) {
    U64 Address = (U64)(UINT)Linear;
    U64 Frame = 0;
    if (Linear == NULL) return 0;
    pthread_mutex_lock(&Bus->Lock);
    BOOL Found = MapFind(&Bus->LinearToFrame, Address >> FRAME_SHIFT, &Frame);
    pthread_mutex_unlock(&Bus->Lock);
    return Found ? (Frame << FRAME_SHIFT) | (Address & (FRAME_SIZE - 1)) : 0;
}

BOOL MemoryBusMapPage(MEMORY_BUS* Bus, LPVOID LinearPage, PHYSICAL Physical) {
    U64 Page = (U64)(UINT)LinearPage >> FRAME_SHIFT;
    U64 Frame = Physical >> FRAME_SHIFT;
    if (((UINT)LinearPage & (FRAME_SIZE - 1)) != 0 || (Physical & (FRAME_SIZE - 1)) != 0 || Frame == 0) return FALSE;
    pthread_mutex_lock(&Bus->Lock);
    BOOL Ok = !MapFind(&Bus->LinearToFrame, Page, NULL) && FrameFree(Bus, Frame) && MapPageLocked(Bus, Page, Frame);
    if (Ok) Bus->Stats.TranslatedPages++;
    pthread_mutex_unlock(&Bus->Lock);
    return Ok;
}

void MemoryBusForget(MEMORY_BUS* Bus, LPCVOID Linear, U64 Length) {
    if (Linear == NULL || Length == 0) return;
    U64 First = (U64)(UINT)Linear >> FRAME_SHIFT;
    U64 Last = ((U64)(UINT)Linear + Length - 1) >> FRAME_SHIFT;
    pthread_mutex_lock(&Bus->Lock);
    for (U64 Page = First; Page <= Last; Page++) {
        // Pages of a live DMA allocation are not ours to forget.
        BOOL InAllocation = FALSE;
        for (ALLOCATION* A = Bus->Allocations; A && !InAllocation; A = A->Next) {
            U64 Start = (U64)(UINT)A->Linear >> FRAME_SHIFT;
            InAllocation = Page >= Start && Page < Start + (A->Size >> FRAME_SHIFT);
        }
        if (InAllocation || !MapFind(&Bus->LinearToFrame, Page, NULL)) continue;
        UnmapPageLocked(Bus, Page);
        Bus->Stats.TranslatedPages--;
    }
    pthread_mutex_unlock(&Bus->Lock);
}

/** Host address of one physical byte, 0 if its frame is unmapped. Caller holds the lock. */
static U8* HostByteLocked(MEMORY_BUS* Bus, PHYSICAL Physical) {
    U64 Page;
    if (!MapFind(&Bus->FrameToLinear, Physical >> FRAME_SHIFT, &Page)) return NULL;
    return (U8*)(UINT)((Page << FRAME_SHIFT) | (Physical & (FRAME_SIZE - 1)));
}

LPVOID MemoryBusHostPointer(MEMORY_BUS* Bus, PHYSICAL Physical, U64 Length) {
    if (Length == 0 || (Physical & (FRAME_SIZE - 1)) + Length > FRAME_SIZE) return NULL;
    pthread_mutex_lock(&Bus->Lock);
    U8* Host = HostByteLocked(Bus, Physical);
    pthread_mutex_unlock(&Bus->Lock);
    return Host;
}

/** Resolves a physical range into at most MaxChunks host pieces (one per frame). FALSE if unmapped. */
typedef struct tag_CHUNK {
    U8* Host;
    U64 Length;
} CHUNK;

static BOOL Resolve(MEMORY_BUS* Bus, PHYSICAL Physical, U64 Length, CHUNK* Chunks, U32 MaxChunks, U32* Count) {
    *Count = 0;
    if (Physical + Length < Physical) return FALSE;
    while (Length > 0) {
        U64 InFrame = MIN(Length, FRAME_SIZE - (Physical & (FRAME_SIZE - 1)));
        U8* Host = HostByteLocked(Bus, Physical);
        if (Host == NULL || *Count >= MaxChunks) return FALSE;
        Chunks[*Count].Host = Host;
        Chunks[*Count].Length = InFrame;
        (*Count)++;
        Physical += InFrame;
        Length -= InFrame;
    }
    return TRUE;
}

typedef enum { COPY_READ, COPY_WRITE, COPY_ZERO } COPY_KIND;

static BOOL Copy(MEMORY_BUS* Bus, PHYSICAL Physical, U8* Buffer, const U8* Source, U64 Length, COPY_KIND Kind) {
    CHUNK Chunks[64];
    if (Length == 0) return TRUE;
    // Large transfers go in pieces of up to 64 frames; each piece is checked before any byte moves.
    while (Length > 0) {
        U64 Piece = MIN(Length, 63 * FRAME_SIZE);
        U32 Count;
        pthread_mutex_lock(&Bus->Lock);
        BOOL Ok = Resolve(Bus, Physical, Piece, Chunks, 64, &Count);
        if (!Ok) Bus->Stats.Faults++;
        pthread_mutex_unlock(&Bus->Lock);
        if (!Ok) return FALSE;
        for (U32 I = 0; I < Count; I++) {
            if (Kind == COPY_READ) {
                memcpy(Buffer, Chunks[I].Host, Chunks[I].Length);
                Buffer += Chunks[I].Length;
            } else if (Kind == COPY_WRITE) {
                memcpy(Chunks[I].Host, Source, Chunks[I].Length);
                Source += Chunks[I].Length;
            } else {
                memset(Chunks[I].Host, 0, Chunks[I].Length);
            }
        }
        Physical += Piece;
        Length -= Piece;
    }
    return TRUE;
}

BOOL MemoryBusRead(MEMORY_BUS* Bus, PHYSICAL Physical, LPVOID Buffer, U64 Length) {
    BOOL Ok = Copy(Bus, Physical, (U8*)Buffer, NULL, Length, COPY_READ);
    if (Ok) __atomic_add_fetch(&Bus->Stats.DeviceReads, 1, __ATOMIC_RELAXED);
    return Ok;
}

BOOL MemoryBusWrite(MEMORY_BUS* Bus, PHYSICAL Physical, LPCVOID Buffer, U64 Length) {
    BOOL Ok = Copy(Bus, Physical, NULL, (const U8*)Buffer, Length, COPY_WRITE);
    if (Ok) __atomic_add_fetch(&Bus->Stats.DeviceWrites, 1, __ATOMIC_RELAXED);
    return Ok;
}

BOOL MemoryBusZero(MEMORY_BUS* Bus, PHYSICAL Physical, U64 Length) {
    BOOL Ok = Copy(Bus, Physical, NULL, NULL, Length, COPY_ZERO);
    if (Ok) __atomic_add_fetch(&Bus->Stats.DeviceWrites, 1, __ATOMIC_RELAXED);
    return Ok;
}

void MemoryBusGetStats(MEMORY_BUS* Bus, MEMORY_BUS_STATS* Stats) {
    pthread_mutex_lock(&Bus->Lock);
    *Stats = Bus->Stats;
    pthread_mutex_unlock(&Bus->Lock);
}

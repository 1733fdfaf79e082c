/*
 * EXT2-Overlay.c - a replayed journal, kept in memory in front of the disk.
 *
 * Linux recovers a journal by writing each logged block over its home
 * block. Cairn mounts such a volume read-only and never writes it: the
 * replay pass (EXT2-Journal.c) records instead, for each home block, where
 * in the journal its newest committed copy is, and every read of the volume
 * (EXT2-Block.c) asks here first. So files show their last committed state
 * and the disk stays exactly as Linux left it (the ext4 fact sheet derives
 * this from the recovery passes of fs/jbd2/recovery.c).
 *
 * An entry is (home block, journal block as a volume block, escaped).
 * Entries arrive in log order, so a later copy of a block wins; Seal sorts
 * them by home block, keeps the newest of each and makes a restored copy in
 * memory of each escaped block (jbd2 zeroes the first word of a logged block
 * that starts with its magic; the copy puts the magic back). Everything
 * else is read from the journal on demand: a pin of a held metadata block
 * pins the journal block in the block cache (the cache holds the disk's
 * real bytes there, so nobody else sees a changed block); byte reads are
 * patched from the journal through one block of scratch. At most one entry
 * per journal block, so the overlay is never larger than the journal.
 *
 * Locking: built during mount, read-only afterwards; the volume's lock
 * covers the scratch block.
 */

#include "fs/ext2/EXT2-Internal.h"

#include "memory/Heap.h"
#include "utils/Endian.h"
#include "utils/Sort.h"
#include "utils/String.h"

typedef struct tag_EXT2_OVERLAY_ENTRY {
    U64 Block;                // home block on the volume
    U64 Source;               // the journal block holding its newest copy (a volume block)
    U32 Order;                // position in the log: the largest wins
    BOOL Escaped;
    U8* Copy;                 // escaped: the block with its magic restored
} EXT2_OVERLAY_ENTRY;

struct tag_EXT2_OVERLAY {
    U32 Count;
    U32 Capacity;
    EXT2_OVERLAY_ENTRY* Entries;
    U8* Scratch;              // one block
};

EXT2_OVERLAY* EXT2OverlayCreate(EXT2_VOLUME* Volume, U32 Capacity) {
    EXT2_OVERLAY* Overlay = (EXT2_OVERLAY*)KernelHeapAllocZero(sizeof(EXT2_OVERLAY));
    if (Overlay == NULL) return NULL;
    Overlay->Capacity = MAX(Capacity, 1U);
    Overlay->Entries = (EXT2_OVERLAY_ENTRY*)KernelHeapAllocZero((SIZE)Overlay->Capacity * sizeof(EXT2_OVERLAY_ENTRY));
    Overlay->Scratch = (U8*)KernelHeapAlloc(Volume->BlockSize);
    if (Overlay->Entries == NULL || Overlay->Scratch == NULL) {
        EXT2OverlayFree(Overlay);
        return NULL;
    }
    return Overlay;
}

void EXT2OverlayFree(EXT2_OVERLAY* Overlay) {
    if (Overlay == NULL) return;
    for (U32 I = 0; Overlay->Entries && I < Overlay->Count; I++) KernelHeapFree(Overlay->Entries[I].Copy);
    KernelHeapFree(Overlay->Entries);
    KernelHeapFree(Overlay->Scratch);
    KernelHeapFree(Overlay);
}

U32 EXT2OverlayCount(const EXT2_OVERLAY* Overlay) { return Overlay ? Overlay->Count : 0; }

VFS_STATUS EXT2OverlayAdd(EXT2_OVERLAY* Overlay, U64 Block, U64 Source, BOOL Escaped) {
    if (Overlay->Count >= Overlay->Capacity) return VFS_ERROR_NO_MEMORY;
    EXT2_OVERLAY_ENTRY* Entry = &Overlay->Entries[Overlay->Count];
    Entry->Block = Block;
    Entry->Source = Source;
    Entry->Order = Overlay->Count++;
    Entry->Escaped = Escaped;
    Entry->Copy = NULL;
    return VFS_OK;
}

/************************************************************************/
// Sealing: sort by (block, order), keep the newest of each block

static BOOL EXT2EntryBefore(LPCVOID A, LPCVOID B) {
    const EXT2_OVERLAY_ENTRY* X = (const EXT2_OVERLAY_ENTRY*)A;
    const EXT2_OVERLAY_ENTRY* Y = (const EXT2_OVERLAY_ENTRY*)B;
    return X->Block < Y->Block || (X->Block == Y->Block && X->Order < Y->Order);
}

VFS_STATUS EXT2OverlaySeal(EXT2_VOLUME* Volume, EXT2_OVERLAY* Overlay) {
    SortRecords(Overlay->Entries, Overlay->Count, sizeof(EXT2_OVERLAY_ENTRY), EXT2EntryBefore);
    U32 Kept = 0;
    for (U32 I = 0; I < Overlay->Count; I++) {
        if (I + 1 < Overlay->Count && Overlay->Entries[I + 1].Block == Overlay->Entries[I].Block) continue;
        Overlay->Entries[Kept++] = Overlay->Entries[I];
    }
    Overlay->Count = Kept;
    for (U32 I = 0; I < Overlay->Count; I++) {
        EXT2_OVERLAY_ENTRY* Entry = &Overlay->Entries[I];
        if (!Entry->Escaped) continue;
        Entry->Copy = (U8*)KernelHeapAlloc(Volume->BlockSize);
        if (Entry->Copy == NULL) return VFS_ERROR_NO_MEMORY;
        VFS_STATUS Status =
            EXT2ReadDiskBytes(Volume, Entry->Source << Volume->BlockShift, Volume->BlockSize, Entry->Copy);
        if (Status != VFS_OK) return Status;
        WriteBE32(Entry->Copy, JBD2_MAGIC);
    }
    return VFS_OK;
}

/************************************************************************/
// Reads

/** The index of the first entry whose block is Block or more. */
static U32 EXT2OverlayLowerBound(const EXT2_OVERLAY* Overlay, U64 Block) {
    U32 Low = 0, High = Overlay->Count;
    while (Low < High) {
        U32 Middle = Low + (High - Low) / 2;
        if (Overlay->Entries[Middle].Block < Block) Low = Middle + 1;
        else High = Middle;
    }
    return Low;
}

VFS_STATUS EXT2OverlayPatch(EXT2_VOLUME* Volume, U64 Offset, U32 Length, U8* Buffer) {
    EXT2_OVERLAY* Overlay = Volume->Overlay;
    if (Overlay == NULL || Length == 0) return VFS_OK;
    U64 End = Offset + Length;
    U64 Last = (End - 1) >> Volume->BlockShift;
    for (U32 I = EXT2OverlayLowerBound(Overlay, Offset >> Volume->BlockShift);
         I < Overlay->Count && Overlay->Entries[I].Block <= Last; I++) {
        const EXT2_OVERLAY_ENTRY* Entry = &Overlay->Entries[I];
        const U8* Data = Entry->Copy;
        if (Data == NULL) {
            VFS_STATUS Status =
                EXT2ReadDiskBytes(Volume, Entry->Source << Volume->BlockShift, Volume->BlockSize, Overlay->Scratch);
            if (Status != VFS_OK) return Status;
            Data = Overlay->Scratch;
        }
        U64 Start = Entry->Block << Volume->BlockShift;
        U64 From = MAX(Start, Offset), To = MIN(Start + Volume->BlockSize, End);
        MemoryCopy(Buffer + (From - Offset), Data + (From - Start), (SIZE)(To - From));
    }
    return VFS_OK;
}

VFS_STATUS EXT2OverlayPin(EXT2_VOLUME* Volume, U64 Block, BLOCK_BUFFER* Buffer, BOOL* Held) {
    EXT2_OVERLAY* Overlay = Volume->Overlay;
    *Held = FALSE;
    MemorySet(Buffer, 0, sizeof(*Buffer));
    if (Overlay == NULL) return VFS_OK;
    U32 Index = EXT2OverlayLowerBound(Overlay, Block);
    if (Index >= Overlay->Count || Overlay->Entries[Index].Block != Block) return VFS_OK;
    const EXT2_OVERLAY_ENTRY* Entry = &Overlay->Entries[Index];
    *Held = TRUE;
    if (Entry->Copy != NULL) {
        // Memory of the overlay's own: BlockRelease has no cache block to unpin.
        Buffer->Block = Block;
        Buffer->Data = Entry->Copy;
        return VFS_OK;
    }
    KSTATUS Status = BlockGet(&Volume->Blocks, Entry->Source, TRUE, Buffer);
    if (Status != KSTATUS_SUCCESS) return VFSDiskStatus(Status, FALSE);
    Buffer->Block = Block;  // for messages; the pin is the journal block's
    return VFS_OK;
}

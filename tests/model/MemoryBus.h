/*
 * MemoryBus.h - the "physical" memory that device models see in host tests.
 *
 * A test process has no physical addresses, so the bus invents them: every
 * host page a driver hands to a device (through PlatformTranslate or
 * PlatformDMAAlloc) is given a 4 KiB frame at a fake physical address, and
 * the device reaches memory only through these frames (MemoryBusRead,
 * MemoryBusWrite). The memory itself is the host's: no copy is kept, so a
 * device write is immediately visible to the driver and the reverse.
 *
 * Frames are scattered on purpose, from a seeded generator: two consecutive
 * host pages are never physically consecutive unless they belong to one
 * DMA allocation (which is contiguous in both spaces, as PlatformDMAAlloc
 * promises). Half the frames lie above 4 GiB, so 32-bit truncation of an
 * address is caught. A device access to a frame nobody mapped fails, which
 * the device model reports as a DMA error.
 *
 * Thread safety: every function may be called from any thread; the maps are
 * under one mutex, data copies are done outside it.
 */

#ifndef TESTS_MODEL_MEMORYBUS_H_INCLUDED
#define TESTS_MODEL_MEMORYBUS_H_INCLUDED

#include "Base.h"

#define MEMORY_BUS_FRAME_SIZE 4096ULL

typedef struct tag_MEMORY_BUS MEMORY_BUS;

typedef struct tag_MEMORY_BUS_STATS {
    U64 TranslatedPages;   // host pages mapped by translation
    U64 Allocations;       // live DMA allocations
    U64 AllocatedBytes;    // bytes in live DMA allocations
    U64 DeviceReads;       // MemoryBusRead calls that succeeded
    U64 DeviceWrites;      // MemoryBusWrite calls that succeeded
    U64 Faults;            // device accesses that hit an unmapped frame
} MEMORY_BUS_STATS;

MEMORY_BUS* MemoryBusCreate(U64 Seed);
void MemoryBusDestroy(MEMORY_BUS* Bus);

/**
 * A zeroed allocation contiguous in both spaces. Alignment (a power of two,
 * at least 4 KiB) applies to the host and the physical address. Below4GB
 * keeps the whole range under 4 GiB; otherwise it is placed above.
 */
BOOL MemoryBusAllocate(MEMORY_BUS* Bus, U64 Size, U64 Alignment, BOOL Below4GB, LPVOID* Linear, PHYSICAL* Physical);
/** Frees an allocation made by MemoryBusAllocate; FALSE if Linear is not one. */
BOOL MemoryBusFree(MEMORY_BUS* Bus, LPVOID Linear);

/** Physical address of a host byte; its page gets a scattered frame on first use. 0 for NULL. */
PHYSICAL MemoryBusTranslate(MEMORY_BUS* Bus, LPCVOID Linear);
/** Physical address of a host byte if its page is already mapped, else 0 (never maps). */
PHYSICAL MemoryBusLookup(MEMORY_BUS* Bus, LPCVOID Linear);
/** Maps one host page at a chosen frame (tests that need a specific layout). FALSE if either is taken. */
BOOL MemoryBusMapPage(MEMORY_BUS* Bus, LPVOID LinearPage, PHYSICAL Physical);
/** Forgets the translated pages of a host range (a test about to free a buffer). DMA allocations stay. */
void MemoryBusForget(MEMORY_BUS* Bus, LPCVOID Linear, U64 Length);

/** Host pointer for [Physical, Physical + Length) when it lies inside one mapped frame, else NULL. */
LPVOID MemoryBusHostPointer(MEMORY_BUS* Bus, PHYSICAL Physical, U64 Length);
/** Device reads and writes. FALSE, with nothing copied, when any byte of the range is unmapped. */
BOOL MemoryBusRead(MEMORY_BUS* Bus, PHYSICAL Physical, LPVOID Buffer, U64 Length);
BOOL MemoryBusWrite(MEMORY_BUS* Bus, PHYSICAL Physical, LPCVOID Buffer, U64 Length);
/** Writes Length zero bytes (same rules as MemoryBusWrite). */
BOOL MemoryBusZero(MEMORY_BUS* Bus, PHYSICAL Physical, U64 Length);

void MemoryBusGetStats(MEMORY_BUS* Bus, MEMORY_BUS_STATS* Stats);

#endif  // TESTS_MODEL_MEMORYBUS_H_INCLUDED

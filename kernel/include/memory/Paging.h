/*
 * Paging.h - the kernel page tables.
 *
 * One set of page tables for the kernel (PML4 in the direct map), shared by
 * every CPU. Mapping functions allocate intermediate tables from the frame
 * allocator and flush the TLB entries they change, on every CPU when another
 * CPU may have cached them (TLB.h): PagingUnmap, PagingUnmapRange,
 * UnmapIOMemory and a PagingMap over a present entry return only once every
 * CPU has flushed, and must not be called with a spinlock held. New
 * mappings are safe from any context (a spinlock); PagingTranslate takes no
 * lock, so a fault handler may use it.
 */

#ifndef MEMORY_PAGING_H_INCLUDED
#define MEMORY_PAGING_H_INCLUDED

#include "Base.h"

#define PAGE_PRESENT 0x001ULL
#define PAGE_WRITABLE 0x002ULL
#define PAGE_USER 0x004ULL
#define PAGE_WRITE_THROUGH 0x008ULL
#define PAGE_CACHE_DISABLE 0x010ULL
#define PAGE_ACCESSED 0x020ULL
#define PAGE_DIRTY 0x040ULL
#define PAGE_LARGE 0x080ULL
#define PAGE_GLOBAL 0x100ULL
#define PAGE_NO_EXECUTE 0x8000000000000000ULL

/** Maps one 4 KiB page; Flags are PAGE_* bits. Replacing a present entry shoots it down on every CPU. */
BOOL PagingMap(LINEAR Linear, PHYSICAL Physical, U64 Flags);
void PagingUnmap(LINEAR Linear);
/** Unmaps every page touching [Linear, Linear+Size) with one TLB shootdown; absent pages are skipped. */
void PagingUnmapRange(LINEAR Linear, U64 Size);
/**
 * Unmaps a page this CPU mapped moments ago and never handed out (an undo
 * on a failure path): no other CPU has used it, so only this CPU's TLB is
 * flushed, and it may be called with a spinlock held.
 */
void PagingUnmapUnpublished(LINEAR Linear);
/** Translates any mapped kernel address; returns FALSE if not mapped. */
BOOL PagingTranslate(LINEAR Linear, PHYSICAL* Physical);

/** Physical address behind a kernel linear address, or 0 if unmapped. */
PHYSICAL LinearToPhysical(LINEAR Linear);

/**
 * Maps a device region uncached (PCD|PWT, no execute) in the MMIO window and
 * returns the linear address of Physical (which need not be page aligned).
 * Returns 0 on failure. Each call makes a new mapping, even for a region
 * already mapped. Before MemoryInit it returns the boot direct map address
 * (first 4 GiB only), which stays valid, uncached, for good.
 */
LINEAR MapIOMemory(PHYSICAL Physical, U64 Size);
/**
 * Like MapIOMemory, but write-combining through the PAT (for framebuffers:
 * writes are merged into bursts; reads stay slow). Uncached when the CPU
 * has no PAT. Only after MemoryInit; any physical address (above 4 GiB too).
 */
LINEAR MapIOMemoryWriteCombining(PHYSICAL Physical, U64 Size);
/** TRUE when MapIOMemoryWriteCombining really gives write-combining (the PAT is set up). */
BOOL PagingHasWriteCombining(void);
/** Undoes MapIOMemory (same Linear and Size as given and returned); early mappings are kept. */
void UnmapIOMemory(LINEAR Linear, U64 Size);

/************************************************************************/
// Bring-up, for MemoryInit only (in this order).

/** Allocates the kernel PML4 and maps the kernel image with per-section permissions. */
BOOL PagingBuildKernelTables(void);
/** Maps [Physical, Physical+Size) (page aligned) at DIRECT_MAP_BASE + Physical, write back, no execute. */
BOOL PagingMapDirect(PHYSICAL Physical, U64 Size);
/** Enables NX (if the CPU has it) and CR0.WP, then loads the new tables into CR3. */
void PagingActivate(void);
/** TRUE once PagingActivate has run. */
BOOL PagingIsActive(void);
/** Whether leaf entries carry the NX bit (CPUID 0x80000001 EDX bit 20). */
BOOL PagingHasNoExecute(void);

/************************************************************************/
// Application processors (core/SMP.c)

/** The kernel PML4's physical address (below 4 GiB: built on the boot tables). */
PHYSICAL PagingGetKernelRoot(void);
/** The EFER bits a CPU needs before it enables these tables: LME, and NXE when entries carry NX. */
U64 PagingGetEferBits(void);
/** On an application processor already on the kernel tables: the PAT layout, CR0.WP, NX; then a TLB flush. */
void PagingInitCPU(void);

#endif  // MEMORY_PAGING_H_INCLUDED

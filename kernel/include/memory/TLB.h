/*
 * TLB.h - keeping every CPU's TLB in step with the kernel page tables.
 *
 * Layer: memory, under Paging.c. INVLPG and CR3 loads act on the executing
 * CPU only (Intel SDM vol. 3A 4.10.5), so a page-table change another CPU
 * may have cached is published to all online CPUs with an IPI and waited
 * for: TLBShootdown returns once every online CPU has flushed the range.
 *
 * Call it with interrupts enabled and no spinlock held (Paging.c does, after
 * releasing PagingLock): the other CPUs must be free to take the IPI, and
 * one of them may itself be waiting to start a shootdown. The wait for the
 * others is bounded; a CPU that does not answer is reported, not waited for.
 */

#ifndef MEMORY_TLB_H_INCLUDED
#define MEMORY_TLB_H_INCLUDED

#include "Base.h"

/** Above this many pages a CPU reloads CR3 instead (Linux's tlb_single_page_flush_ceiling). */
#define TLB_FULL_FLUSH_PAGES 33

/** Registers the shootdown IPI handler (before the first application processor starts). */
void TLBInit(void);
/** Flushes [Start, Start+Size) on this CPU and on every other online CPU; returns when all did. */
void TLBShootdown(LINEAR Start, U64 Size);
/**
 * The generation of the last published request. A CPU coming online reads
 * it, flushes everything, then stores it as its TLBAcknowledged.
 */
U64 TLBCurrentGeneration(void);
/** Shootdowns started so far (all CPUs), and how many found another CPU to tell. */
void TLBGetCounts(U64* Requests, U64* Broadcasts);

#endif  // MEMORY_TLB_H_INCLUDED

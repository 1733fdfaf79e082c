/*
 * TLB.c - TLB shootdown (see TLB.h).
 *
 * One request at a time: the initiator takes TLBBusy, publishes the range
 * and a new generation number, sends each online CPU but itself an
 * INTERRUPT_VECTOR_TLB_SHOOTDOWN IPI, flushes locally, and spins (with
 * `pause`, bounded) until every target's PER_CPU.TLBAcknowledged has reached
 * that generation. Each target flushes in its interrupt handler and then
 * stores the generation it saw: from then on it holds no stale entry for the
 * range (facts sheet 2.7, after Linux arch/x86/mm/tlb.c and FreeBSD's
 * per-CPU generation counters). A late answer to a request that timed out
 * can therefore never be counted for the next one.
 *
 * While it waits for TLBBusy a CPU keeps interrupts enabled between tries,
 * so it still answers the request in progress. The initiator holds
 * interrupts off from publishing to the last answer, so it cannot be moved
 * to another CPU (whose TLB it would then not have flushed) meanwhile.
 */

#include "memory/TLB.h"

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Log.h"
#include "core/SMP.h"
#include "system/Clock.h"

#define TLB_ANSWER_TIMEOUT_MS 1000

STATIC_ASSERT(SMP_MAX_CPUS <= 64, "a shootdown's targets are a 64-bit mask");

static volatile U32 TLBBusy;
static volatile LINEAR TLBStart;
static volatile U64 TLBPages;       // pages from TLBStart; above TLB_FULL_FLUSH_PAGES: everything
static volatile U64 TLBGeneration;  // of the request published last
static BOOL TLBReady;               // the IPI handler is registered
static U64 TLBRequests;
static U64 TLBBroadcasts;

static void TLBFlushLocal(LINEAR Start, U64 Pages) {
    if (Pages > TLB_FULL_FLUSH_PAGES) {
        WriteCR3(ReadCR3());  // no global pages (CR4.PGE is off): this drops every entry
        return;
    }
    for (U64 Page = 0; Page < Pages; Page++) InvalidatePage(Start + Page * PAGE_SIZE);
}

static BOOL TLBInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    // The initiator published the request before it sent the IPI (the ICR write is an uncached store).
    U64 Generation = __atomic_load_n(&TLBGeneration, __ATOMIC_ACQUIRE);
    TLBFlushLocal(TLBStart, TLBPages);
    PER_CPU* Cpu = GetPerCPU();
    Cpu->ShootdownsServed++;
    __atomic_store_n(&Cpu->TLBAcknowledged, Generation, __ATOMIC_RELEASE);
    return TRUE;
}

void TLBInit(void) {
    if (TLBReady) return;
    if (!DeviceInterruptRegister(INTERRUPT_VECTOR_TLB_SHOOTDOWN, TLBInterrupt, NULL)) {
        ERROR("[TLBInit] cannot register the shootdown handler");
        return;
    }
    InterruptSetVectorName(INTERRUPT_VECTOR_TLB_SHOOTDOWN, "TLB shootdown IPI");
    TLBReady = TRUE;
}

/** Takes the request slot with interrupts off; between tries they are as the caller had them. */
static U64 TLBAcquire(void) {
    for (;;) {
        U64 Flags = SaveAndDisableInterrupts();
        if (__atomic_exchange_n(&TLBBusy, 1, __ATOMIC_ACQUIRE) == 0) return Flags;
        RestoreInterrupts(Flags);
        CPUPause();
    }
}

/** Sends the IPI to every online CPU but Self; returns the set of CPUs it reached (bit per index). */
static U64 TLBSignalOthers(U32 Self) {
    U64 Targets = 0;
    for (U32 Cpu = 0; Cpu < SMPGetCount(); Cpu++) {
        if (Cpu == Self || !SMPIsOnline(Cpu)) continue;
        if (LAPICSendIPI(SMPGetApicId(Cpu), INTERRUPT_VECTOR_TLB_SHOOTDOWN)) {
            Targets |= 1ULL << Cpu;
        } else {
            ERROR("[TLBShootdown] cannot send the IPI to CPU %u", Cpu);
        }
    }
    return Targets;
}

/** The CPUs of Targets that have not acknowledged Generation yet (one that stopped counts as done). */
static U64 TLBLaggards(U64 Targets, U64 Generation) {
    U64 Left = 0;
    for (U32 Cpu = 0; Cpu < SMP_MAX_CPUS; Cpu++) {
        if ((Targets & (1ULL << Cpu)) == 0) continue;
        PER_CPU* Other = SMPGetCPU(Cpu);
        if (Other == NULL || Other->State != CPU_STATE_ONLINE) continue;
        if (__atomic_load_n(&Other->TLBAcknowledged, __ATOMIC_ACQUIRE) < Generation) Left |= 1ULL << Cpu;
    }
    return Left;
}

U64 TLBCurrentGeneration(void) { return __atomic_load_n(&TLBGeneration, __ATOMIC_ACQUIRE); }

void TLBShootdown(LINEAR Start, U64 Size) {
    if (Size == 0) return;
    LINEAR First = ALIGN_DOWN(Start, PAGE_SIZE);
    U64 Pages = (ALIGN_UP(Start + Size, PAGE_SIZE) - First) >> PAGE_SHIFT;
    __atomic_add_fetch(&TLBRequests, 1, __ATOMIC_RELAXED);
    if (!TLBReady || SMPGetOnlineCount() <= 1) {
        TLBFlushLocal(First, Pages);
        return;
    }
    if ((ReadFlags() & CPU_FLAG_IF) == 0) {
        LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 10000, 1,
                         "[TLBShootdown] called with interrupts off (a spinlock held?): other CPUs may not answer");
    }

    U64 Flags = TLBAcquire();
    U32 Self = GetPerCPU()->Index;
    TLBStart = First;
    TLBPages = Pages;
    U64 Generation = TLBGeneration + 1;
    __atomic_store_n(&TLBGeneration, Generation, __ATOMIC_RELEASE);
    // Only the CPUs signalled now are waited for: one that comes online later flushes everything first.
    U64 Targets = TLBSignalOthers(Self);
    if (Targets != 0) __atomic_add_fetch(&TLBBroadcasts, 1, __ATOMIC_RELAXED);
    TLBFlushLocal(First, Pages);

    U64 Deadline = GetSystemTimeNs() + TLB_ANSWER_TIMEOUT_MS * 1000000ULL;
    U64 Laggards;
    while ((Laggards = TLBLaggards(Targets, Generation)) != 0) {
        if (GetSystemTimeNs() > Deadline) {
            ERROR("[TLBShootdown] CPUs %llx did not flush %lx (+%llu pages) within %u ms", Laggards, First, Pages,
                  TLB_ANSWER_TIMEOUT_MS);
            break;
        }
        CPUPause();
    }
    __atomic_store_n(&TLBBusy, 0, __ATOMIC_RELEASE);
    RestoreInterrupts(Flags);
}

void TLBGetCounts(U64* Requests, U64* Broadcasts) {
    if (Requests) *Requests = __atomic_load_n(&TLBRequests, __ATOMIC_RELAXED);
    if (Broadcasts) *Broadcasts = __atomic_load_n(&TLBBroadcasts, __ATOMIC_RELAXED);
}

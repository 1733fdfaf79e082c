/*
 * SMP.c - the CPU table, bringing the application processors up, IPIs to
 * reschedule and to halt (see SMP.h).
 *
 * Bring-up, one CPU at a time (so one trampoline page and one parameter
 * block serve them all):
 *   1. the boot CPU prepares the CPU's GDT/TSS and IST stacks, its idle
 *      thread (whose stack the CPU starts on) and the parameter block;
 *   2. INIT (assert, de-assert), a delay, then STARTUP IPIs until the CPU
 *      says it is alive (at most two: the second one only matters when the
 *      first met a still latched INIT; facts sheet 2.2);
 *   3. bounded waits for "alive" (written in real mode) and "online"
 *      (SMPApplicationEntry is done); a CPU that misses either is logged,
 *      parked with another INIT (so it cannot wake later on the next CPU's
 *      parameters) and skipped.
 * Delays follow Linux smpboot.c: 10 ms after INIT and 200 us after each
 * STARTUP, except on CPUs Linux knows need none (Intel family 6 and later,
 * AMD family 0xF and later: 0 after INIT, 10 us after STARTUP).
 *
 * The trampoline page is identity-mapped in the kernel tables (the CPU
 * enables paging while running there) only while CPUs start, then unmapped
 * with a TLB shootdown. Kernel option `smp=N` caps the CPUs used (smp=1:
 * the boot CPU alone).
 *
 * Halting: SMPHaltOthers sends INTERRUPT_VECTOR_HALT to every other online
 * CPU (a fixed IPI never lands while its target holds a spinlock, since
 * spinlock holders have interrupts off), waits a bounded time, then sends
 * an NMI to the ones that have not stopped (stuck with interrupts off); the
 * NMI path (Exceptions.c) halts when SMPIsHalting().
 */

#include "core/SMP.h"

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/CPU.h"
#include "arch/x86-64/GDT.h"
#include "arch/x86-64/Interrupts.h"
#include "arch/x86-64/SMP-Trampoline.h"
#include "core/CommandLine.h"
#include "core/Kernel.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "core/Thread.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "memory/TLB.h"
#include "system/ACPI.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

// Generous bounds: under TCG on a loaded host a vCPU thread may wait long for a host core, and the TSC
// calibrated there may run fast (a boot measured 186 MHz for a ~1 GHz TSC). Only CPUs the MADT marks
// enabled are waited for, so the bounds cost time only when a present CPU fails.
#define SMP_ALIVE_TIMEOUT_MS 2000   // from the last STARTUP to "alive" (real mode, first instructions)
#define SMP_ENTRY_TIMEOUT_MS 2000   // from "alive" to the C entry claiming its slot
#define SMP_ONLINE_TIMEOUT_MS 10000 // from the claim to "online"
#define SMP_HALT_WAIT_MS 20         // per round of SMPHaltOthers (IPI, then NMI)
#define SMP_NO_CPU MAX_U32

extern const U8 SMPTrampolineStart[];
extern const U8 SMPTrampolineEnd[];
extern U8 KernelImageStartPhysical[];
extern U8 KernelImageEndPhysical[];

static PER_CPU SMPCpus[SMP_MAX_CPUS];
static U32 SMPCount = 1;
static U32 SMPOnline = 1;
static PHYSICAL SMPTrampolinePage;
static U32 SMPHaltInitiator = SMP_NO_CPU;

/************************************************************************/
// The table

U32 SMPGetCount(void) { return __atomic_load_n(&SMPCount, __ATOMIC_ACQUIRE); }
U32 SMPGetOnlineCount(void) { return __atomic_load_n(&SMPOnline, __ATOMIC_ACQUIRE); }
PER_CPU* SMPGetCPU(U32 Index) { return Index < SMPGetCount() ? &SMPCpus[Index] : NULL; }
BOOL SMPIsOnline(U32 Index) {
    return Index < SMPGetCount() && __atomic_load_n(&SMPCpus[Index].State, __ATOMIC_ACQUIRE) == CPU_STATE_ONLINE;
}
U32 SMPGetApicId(U32 Index) { return Index < SMPGetCount() ? SMPCpus[Index].ApicId : MAX_U32; }

U32 SMPCurrentIndexSafe(void) {
    LINEAR Base = (LINEAR)ReadMSR(MSR_GS_BASE);
    LINEAR First = (LINEAR)&SMPCpus[0];
    if (Base < First || Base >= (LINEAR)&SMPCpus[SMP_MAX_CPUS] || (Base - First) % sizeof(PER_CPU) != 0) return 0;
    return (U32)((Base - First) / sizeof(PER_CPU));
}

LPCSTR SMPStateName(CPU_STATE State) {
    switch (State) {
        case CPU_STATE_ABSENT: return "absent";
        case CPU_STATE_OFFLINE: return "offline";
        case CPU_STATE_STARTING:
        case CPU_STATE_ENTERED: return "starting";
        case CPU_STATE_ONLINE: return "online";
        case CPU_STATE_FAILED: return "failed";
        case CPU_STATE_HALTED: return "halted";
        default: return "?";
    }
}

/** Points GS_BASE at Cpu. Any later load of the GS selector would reset the base (Linux load_percpu_segment). */
static void SMPLoadPerCPU(PER_CPU* Cpu) {
    WriteMSR(MSR_GS_BASE, (U64)(UINT)Cpu);
    WriteMSR(MSR_KERNEL_GS_BASE, 0);
}

void SMPInitBootCPU(void) {
    PER_CPU* Cpu = &SMPCpus[0];
    Cpu->Self = Cpu;
    Cpu->Index = 0;
    Cpu->ApicId = LAPICGetId();  // CPUID's initial APIC ID: the local APIC is not mapped yet
    Cpu->State = CPU_STATE_ONLINE;
    SMPLoadPerCPU(Cpu);
}

/************************************************************************/
// IPIs

void SMPSendReschedule(U32 Index) {
    if (!SMPIsOnline(Index) || Index == GetPerCPU()->Index) return;
    LAPICSendIPI(SMPCpus[Index].ApicId, INTERRUPT_VECTOR_RESCHEDULE);
}

static BOOL SMPRescheduleInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    PER_CPU* Cpu = GetPerCPU();
    Cpu->ReschedulesReceived++;
    Cpu->NeedReschedule = TRUE;  // the sender set it too; the dispatcher's exit path switches
    return TRUE;
}

BOOL SMPIsHalting(void) { return __atomic_load_n(&SMPHaltInitiator, __ATOMIC_ACQUIRE) != SMP_NO_CPU; }

NORETURN void SMPHaltThisCPU(void) {
    DisableInterrupts();
    U32 Index = SMPCurrentIndexSafe();
    __atomic_store_n(&SMPCpus[Index].State, CPU_STATE_HALTED, __ATOMIC_RELEASE);
    KernelHalt();
}

static BOOL SMPHaltInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    SMPHaltThisCPU();
}

/** Waits up to SMP_HALT_WAIT_MS for every CPU but Self to leave the online state; TRUE if all did. */
static BOOL SMPWaitOthersStopped(U32 Self) {
    U64 Deadline = GetSystemTimeNs() + SMP_HALT_WAIT_MS * 1000000ULL;
    for (;;) {
        BOOL Running = FALSE;
        for (U32 Index = 0; Index < SMPGetCount(); Index++) Running |= Index != Self && SMPIsOnline(Index);
        if (!Running) return TRUE;
        if (GetSystemTimeNs() > Deadline) return FALSE;
        CPUPause();
    }
}

void SMPHaltOthers(void) {
    U32 Self = SMPCurrentIndexSafe();
    U32 Expected = SMP_NO_CPU;
    if (!__atomic_compare_exchange_n(&SMPHaltInitiator, &Expected, Self, FALSE, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        if (Expected != Self) SMPHaltThisCPU();  // another CPU is stopping everything: this one included
        return;
    }
    if (SMPGetOnlineCount() <= 1) return;
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        if (Index != Self && SMPIsOnline(Index)) LAPICSendIPI(SMPCpus[Index].ApicId, INTERRUPT_VECTOR_HALT);
    }
    if (SMPWaitOthersStopped(Self)) return;
    // Still running: spinning with interrupts off. An NMI gets through (Exceptions.c halts on it).
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        if (Index != Self && SMPIsOnline(Index)) LAPICSendNMI(SMPCpus[Index].ApicId);
    }
    SMPWaitOthersStopped(Self);
}

/************************************************************************/
// Application processor entry (runs on the new CPU)

/** Where the trampoline lands, on the CPU's idle-thread stack, on the kernel tables, interrupts off. */
static NORETURN void SMPApplicationEntry(PER_CPU* Cpu) {
    // Claim the slot before touching anything shared. If the boot CPU gave up on this CPU first, it
    // parks it with INIT; until then this CPU must hold no lock (an INIT would leave it held forever).
    U32 Expected = CPU_STATE_STARTING;
    if (!__atomic_compare_exchange_n(&Cpu->State, &Expected, CPU_STATE_ENTERED, FALSE, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        for (;;) {
            DisableInterrupts();
            Halt();
        }
    }
    GDTLoadCPU(Cpu->Index);  // leaves the trampoline's GDT, which lives in the page about to go away
    InterruptsLoadCPU();
    SMPLoadPerCPU(Cpu);
    PagingInitCPU();
    if (LAPICGetId() != Cpu->ApicId || !LAPICInitCPU()) {
        ERROR("[SMPApplicationEntry] CPU %u: local APIC %u, expected %u: stopping", Cpu->Index, LAPICGetId(),
              Cpu->ApicId);
        __atomic_store_n(&Cpu->State, CPU_STATE_FAILED, __ATOMIC_RELEASE);
        KernelHalt();
    }
    if (!TimerStartCPU()) WARNING("[SMPApplicationEntry] CPU %u: no timer tick: it only runs when woken", Cpu->Index);
    Cpu->OnlineSinceNs = GetSystemTimeNs();

    // Online first, then flush everything: a shootdown published before the flush is covered by it, one
    // published after it finds this CPU online and sends it the IPI (taken once interrupts are on).
    __atomic_store_n(&Cpu->State, CPU_STATE_ONLINE, __ATOMIC_RELEASE);
    __atomic_add_fetch(&SMPOnline, 1, __ATOMIC_ACQ_REL);
    U64 Generation = TLBCurrentGeneration();
    WriteCR3(ReadCR3());
    __atomic_store_n(&Cpu->TLBAcknowledged, Generation, __ATOMIC_RELEASE);
    SchedulerRunCPU();
}

/************************************************************************/
// Bring-up (boot CPU)

/** Linux smp_quirk_init_udelay: CPUs that need no 10 ms after INIT. */
static BOOL SMPModernCPU(void) {
    const CPU_INFO* Info = CPUInfoGet();
    if (StringCompare(Info->Vendor, "GenuineIntel") == 0) return Info->Family >= 6;
    if (StringCompare(Info->Vendor, "AuthenticAMD") == 0) return Info->Family >= 0xF;
    if (StringCompare(Info->Vendor, "HygonGenuine") == 0) return Info->Family >= 0x18;
    return FALSE;
}

/** Waits until (*Value == Wanted) == Equal or TimeoutUs passes; TRUE if it did. */
static BOOL SMPWaitUntil(const volatile U32* Value, U32 Wanted, BOOL Equal, U64 TimeoutUs) {
    U64 Deadline = GetSystemTimeNs() + TimeoutUs * 1000ULL;
    while ((__atomic_load_n(Value, __ATOMIC_ACQUIRE) == Wanted) != Equal) {
        if (GetSystemTimeNs() > Deadline) return FALSE;
        CPUPause();
    }
    return TRUE;
}

static BOOL SMPWaitFor(const volatile U32* Value, U32 Wanted, U64 TimeoutUs) {
    return SMPWaitUntil(Value, Wanted, TRUE, TimeoutUs);
}

static SMP_TRAMPOLINE_PARAMETERS* SMPParameters(void) {
    return (SMP_TRAMPOLINE_PARAMETERS*)((U8*)PhysicalToLinear(SMPTrampolinePage) + SMP_TRAMPOLINE_PARAMETERS_OFFSET);
}

/** Picks, fills and identity-maps the trampoline page; FALSE (logged) when there is none. */
static BOOL SMPPrepareTrampoline(void) {
    U64 CodeBytes = (U64)(SMPTrampolineEnd - SMPTrampolineStart);
    PHYSICAL Root = PagingGetKernelRoot();
    if (CodeBytes > SMP_TRAMPOLINE_PARAMETERS_OFFSET || Root == 0 || Root >= N_4GB) {
        ERROR("[SMPStart] trampoline of %llu bytes or page tables at %llx unusable", CodeBytes, Root);
        return FALSE;
    }
    SMP_RANGE Excluded[2 + MULTIBOOT_MAX_MODULES];
    U32 ExcludedCount = 0;
    Excluded[ExcludedCount++] = (SMP_RANGE){(PHYSICAL)(UINT)KernelImageStartPhysical, (PHYSICAL)(UINT)KernelImageEndPhysical};
    Excluded[ExcludedCount++] = (SMP_RANGE){KernelBootInfo.InfoPhysical, KernelBootInfo.InfoPhysical + KernelBootInfo.InfoSize};
    for (U32 Index = 0; Index < KernelBootInfo.ModuleCount && Index < MULTIBOOT_MAX_MODULES; Index++) {
        Excluded[ExcludedCount++] = (SMP_RANGE){KernelBootInfo.Modules[Index].Start, KernelBootInfo.Modules[Index].End};
    }
    PHYSICAL Ceiling = SMP_TRAMPOLINE_UEFI_CEILING;
    if (!KernelBootInfo.BootedFromEFI) {
        const U8* Bda = (const U8*)PhysicalToLinear(0x400);  // the first MiB is direct mapped
        Ceiling = SMPTrampolineBiosCeiling((U16)(Bda[0x0E] | (Bda[0x0F] << 8)), (U16)(Bda[0x13] | (Bda[0x14] << 8)));
    }
    SMPTrampolinePage = SMPTrampolineChoosePage(KernelBootInfo.Regions, KernelBootInfo.RegionCount, Excluded,
                                                ExcludedCount, Ceiling);
    if (SMPTrampolinePage == 0) {
        ERROR("[SMPStart] no free page below %llx for the real-mode trampoline", Ceiling);
        return FALSE;
    }
    U8* Page = (U8*)PhysicalToLinear(SMPTrampolinePage);
    MemoryCopy(Page, SMPTrampolineStart, CodeBytes);
    SMP_TRAMPOLINE_PARAMETERS* Parameters = SMPParameters();
    MemorySet(Parameters, 0, sizeof(*Parameters));
    Parameters->Cr3 = (U32)Root;
    Parameters->Cr4 = (U32)ReadCR4();
    Parameters->Cr0 = (U32)ReadCR0();
    Parameters->EferBits = (U32)PagingGetEferBits();
    Parameters->Entry = (U64)(UINT)SMPApplicationEntry;
    // Executable (no NX) at its own address: the CPU turns paging on while running in this page.
    if (!PagingMap((LINEAR)SMPTrampolinePage, SMPTrampolinePage, PAGE_PRESENT | PAGE_WRITABLE)) {
        ERROR("[SMPStart] cannot identity-map the trampoline page %llx", SMPTrampolinePage);
        return FALSE;
    }
    return TRUE;
}

/** Starts CPU slot Index; TRUE once it is online. */
static BOOL SMPStartCPU(U32 Index, BOOL Modern) {
    PER_CPU* Cpu = &SMPCpus[Index];
    THREAD* Idle = (GDTPrepareCPU(Index) ? SchedulerCreateIdleThread(Index) : NULL);
    if (Idle == NULL) {
        ERROR("[SMPStart] CPU %u (APIC %u): no memory for its stacks", Index, Cpu->ApicId);
        Cpu->State = CPU_STATE_FAILED;
        return FALSE;
    }
    Cpu->Idle = Idle;
    Cpu->Current = Idle;
    SMP_TRAMPOLINE_PARAMETERS* Parameters = SMPParameters();
    Parameters->Alive = 0;
    Parameters->StackTop = Idle->StackTop;
    Parameters->Argument = (U64)(UINT)Cpu;
    __atomic_store_n(&Cpu->State, CPU_STATE_STARTING, __ATOMIC_RELEASE);
    MemoryBarrier();

    LAPICReadError();
    BOOL Sent = LAPICSendInit(Cpu->ApicId);
    ClockDelayUs(Modern ? 10 : 10000);
    U32 Startups = 0;
    while (Sent && Startups < 2 && !Parameters->Alive) {
        Sent = LAPICSendStartup(Cpu->ApicId, SMPTrampolinePage);
        Startups++;
        SMPWaitFor(&Parameters->Alive, 1, Modern ? 10 : 200);
    }
    U32 Error = LAPICReadError();
    BOOL Alive = Sent && SMPWaitFor(&Parameters->Alive, 1, SMP_ALIVE_TIMEOUT_MS * 1000ULL);
    SMPWaitUntil(&Cpu->State, CPU_STATE_STARTING, FALSE, Alive ? SMP_ENTRY_TIMEOUT_MS * 1000ULL : 0);
    U32 Expected = CPU_STATE_STARTING;
    if (__atomic_compare_exchange_n(&Cpu->State, &Expected, CPU_STATE_FAILED, FALSE, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        // It never reached the kernel, and now never will: its entry sees FAILED and halts. The INIT
        // sends it back to wait-for-SIPI, but is not enough alone: QEMU keeps one pending INIT, so it can
        // merge with the first and the CPU still runs the trampoline late (seen with zero timeouts).
        ERROR("[SMPStart] CPU %u (APIC %u) %s after %u STARTUP IPI(s) (APIC error status %x): skipped", Index,
              Cpu->ApicId, !Sent ? "could not be signalled" : (Alive ? "did not reach the kernel" : "gave no sign of life"),
              Startups, Error);
        LAPICSendInit(Cpu->ApicId);
        Idle->State = THREAD_DEAD;  // listed by `threads` as what it is; its stack stays reserved
        return FALSE;
    }
    // It runs kernel code: an INIT now could leave a lock held, so it is only waited for.
    if (SMPWaitFor(&Cpu->State, CPU_STATE_ONLINE, SMP_ONLINE_TIMEOUT_MS * 1000ULL)) return TRUE;
    ERROR("[SMPStart] CPU %u (APIC %u) entered the kernel but did not come online: left alone", Index, Cpu->ApicId);
    return FALSE;
}

/** Fills the CPU table from the MADT: the CPUs to start first (dense indexes), then the others. */
static U32 SMPBuildTable(U32 Limit) {
    static ACPI_PROCESSOR Processors[ACPI_MAX_LAPICS];
    U32 Count = ACPIListProcessors(ACPIGetMADT(), SMPCpus[0].ApicId, Processors, ACPI_MAX_LAPICS);
    U32 Slots = 1, ToStart = 0;
    for (U32 Pass = 0; Pass < 2; Pass++) {
        for (U32 I = 0; I < Count && Slots < SMP_MAX_CPUS; I++) {
            ACPI_PROCESSOR_KIND Kind = Processors[I].Kind;
            if (Kind == ACPI_PROCESSOR_BOOT) SMPCpus[0].AcpiUid = Processors[I].ProcessorUid;
            if (Kind == ACPI_PROCESSOR_BOOT || Kind == ACPI_PROCESSOR_DUPLICATE) continue;
            BOOL Start = Kind == ACPI_PROCESSOR_START && Slots < Limit;
            if (Start != (Pass == 0)) continue;
            PER_CPU* Cpu = &SMPCpus[Slots];
            Cpu->Self = Cpu;
            Cpu->Index = Slots++;
            Cpu->ApicId = Processors[I].ApicId;
            Cpu->AcpiUid = Processors[I].ProcessorUid;
            Cpu->State = Start ? CPU_STATE_STARTING : CPU_STATE_OFFLINE;
            ToStart += Start;
            if (!Start) {
                INFO("[SMPStart] APIC %u (ACPI UID %u) not started: %s", Cpu->ApicId, Cpu->AcpiUid,
                     Kind == ACPI_PROCESSOR_START ? "over the smp= limit" : ACPIProcessorKindName(Kind));
            }
        }
    }
    __atomic_store_n(&SMPCount, Slots, __ATOMIC_RELEASE);
    return ToStart;
}

void SMPStart(void) {
    U64 Start = GetSystemTimeNs();
    SMPCpus[0].ApicId = LAPICGetId();
    SMPCpus[0].OnlineSinceNs = 0;
    DeviceInterruptRegister(INTERRUPT_VECTOR_RESCHEDULE, SMPRescheduleInterrupt, NULL);
    DeviceInterruptRegister(INTERRUPT_VECTOR_HALT, SMPHaltInterrupt, NULL);
    InterruptSetVectorName(INTERRUPT_VECTOR_RESCHEDULE, "reschedule IPI");
    InterruptSetVectorName(INTERRUPT_VECTOR_HALT, "halt IPI");
    TLBInit();

    U64 Limit = KernelGetOptionNumber("smp", SMP_MAX_CPUS);
    if (Limit == 0 || Limit > SMP_MAX_CPUS) Limit = SMP_MAX_CPUS;
    if (ACPIGetMADT() == NULL || !LAPICIsEnabled()) {
        INFO("[SMPStart] 1 CPU (no MADT or no local APIC: the others cannot be found)");
        return;
    }
    U32 ToStart = SMPBuildTable((U32)Limit);
    if (ToStart != 0 && SMPPrepareTrampoline()) {
        ThreadPinCurrent(0);  // one CPU sends every INIT/STARTUP, from one parameter block
        BOOL Modern = SMPModernCPU();
        U32 Failed = 0;
        for (U32 Index = 1; Index < SMPGetCount(); Index++) {
            if (SMPCpus[Index].State == CPU_STATE_STARTING) Failed += !SMPStartCPU(Index, Modern);
        }
        // A CPU given up on may still be inside the trampoline (its vCPU descheduled): it turns paging on
        // there, so the page then stays identity-mapped (below 1 MiB, never handed out).
        if (Failed == 0) PagingUnmap((LINEAR)SMPTrampolinePage);  // a shootdown: the new CPUs ran there
        ThreadPinCurrent(THREAD_ANY_CPU);
    } else {
        for (U32 Index = 1; Index < SMPGetCount(); Index++) {
            if (SMPCpus[Index].State == CPU_STATE_STARTING) SMPCpus[Index].State = CPU_STATE_FAILED;
        }
    }

    char Ids[4 * SMP_MAX_CPUS + 1];
    Ids[0] = 0;
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        if (!SMPIsOnline(Index)) continue;
        char Id[8];
        StringPrintFormat(Id, sizeof(Id), "%s%u", Ids[0] ? "," : "", SMPCpus[Index].ApicId);
        StringAppend(Ids, Id, sizeof(Ids));
    }
    INFO("[SMPStart] %u of %u CPUs online (APIC IDs %s), trampoline at %llx, %llu ms", SMPGetOnlineCount(),
         ToStart + 1, Ids, SMPTrampolinePage, (GetSystemTimeNs() - Start) / 1000000ULL);
}

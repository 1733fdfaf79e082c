/*
 * Clock.c - the TSC as the kernel's monotonic clock.
 *
 * ClockInit() finds the TSC frequency once, at boot, with interrupts off:
 *   1. CPUID leaf 15h (TSC/crystal ratio and crystal Hz), else leaf 16h
 *      (base MHz), when the CPU reports them; a single PIT run checks the
 *      answer, and a CPUID value more than 2% off the PIT is not trusted;
 *   2. otherwise the PIT: channel 2 counts a 10 ms gate (mode 0, polled on
 *      port 61h bit 5, so no interrupt is involved) while the TSC runs; a
 *      run whose start was not seen at once is dropped (a pause there makes
 *      it short), and the smallest of five runs is kept, since every delay
 *      in noticing the end only makes a run longer;
 *   3. if nothing works, 1 GHz with a warning, so time still moves.
 * Under QEMU TCG the TSC follows the host TSC and the PIT the host clock, so
 * the PIT calibration gives a consistent clock.
 *
 * Conversion: ns = Seconds * 1e9 + ((Remainder * Mult) >> 32) with
 * Seconds = Ticks / Frequency and Remainder < Frequency <= 10 GHz, so the
 * product stays below 1e9 * 2^32 < 2^64: no 128-bit arithmetic, exact to a
 * nanosecond or two, good for about 584 years. GetSystemTimeNs() also never
 * returns less than the largest value it returned before (a lock-free max),
 * which keeps it monotonic even once several CPUs with unsynchronised TSCs
 * call it. It takes no lock and works with interrupts off.
 *
 * The arithmetic is pure and host unit tested (CAIRN_HOST_BUILD builds only
 * that part of this file).
 */

#include "system/Clock.h"

#ifndef CAIRN_HOST_BUILD
#include "arch/x86-64/CPU.h"
#include "core/Kernel.h"
#include "core/Log.h"
#include "system/CPUInfo.h"
#endif

/************************************************************************/
// Pure arithmetic

BOOL ClockConversionInit(CLOCK_CONVERSION* Conversion, U64 Frequency) {
    if (Frequency < CLOCK_MIN_TSC_FREQUENCY || Frequency > CLOCK_MAX_TSC_FREQUENCY) {
        Conversion->Frequency = 0;
        Conversion->Mult = 0;
        return FALSE;
    }
    Conversion->Frequency = Frequency;
    Conversion->Mult = (CLOCK_NS_PER_SECOND << CLOCK_SHIFT) / Frequency;  // 1e9 << 32 < 2^62
    return TRUE;
}

U64 ClockConversionToNs(const CLOCK_CONVERSION* Conversion, U64 Ticks) {
    U64 Frequency = Conversion->Frequency;
    if (Frequency == 0) return 0;
    U64 Seconds = Ticks / Frequency;
    U64 Remainder = Ticks - Seconds * Frequency;
    if (Seconds > MAX_U64 / CLOCK_NS_PER_SECOND - 1) return MAX_U64;  // ~584 years: saturate
    return Seconds * CLOCK_NS_PER_SECOND + ((Remainder * Conversion->Mult) >> CLOCK_SHIFT);
}

U64 ClockConversionFromUs(const CLOCK_CONVERSION* Conversion, U64 Microseconds) {
    U64 Frequency = Conversion->Frequency;
    if (Frequency == 0) return 0;
    U64 Seconds = Microseconds / 1000000;
    U64 RemainderUs = Microseconds % 1000000;
    if (Seconds > (MAX_U64 - Frequency) / Frequency) return MAX_U64;
    // RemainderUs * Frequency < 1e6 * 1e10: fits.
    return Seconds * Frequency + (RemainderUs * Frequency + 999999) / 1000000;
}

U64 ClockFrequencyFromCpuid15(U32 Eax, U32 Ebx, U32 Ecx) {
    if (Eax == 0 || Ebx == 0 || Ecx == 0) return 0;
    U64 Frequency = (U64)Ecx * Ebx / Eax;  // < 2^32 * 2^32 / 1: fits
    if (Frequency < CLOCK_MIN_TSC_FREQUENCY || Frequency > CLOCK_MAX_TSC_FREQUENCY) return 0;
    return Frequency;
}

U64 ClockFrequencyFromPit(U64 TscTicks, U64 PitTicks) {
    if (PitTicks == 0 || TscTicks == 0 || TscTicks > MAX_U64 / CLOCK_PIT_FREQUENCY) return 0;
    U64 Frequency = TscTicks * CLOCK_PIT_FREQUENCY / PitTicks;
    if (Frequency < CLOCK_MIN_TSC_FREQUENCY || Frequency > CLOCK_MAX_TSC_FREQUENCY) return 0;
    return Frequency;
}

U64 ClockBestMeasurement(const U64* Deltas, U32 Count) {
    U64 Best = 0;
    for (U32 Index = 0; Index < Count; Index++) {
        if (Deltas[Index] != 0 && (Best == 0 || Deltas[Index] < Best)) Best = Deltas[Index];
    }
    return Best;
}

#ifndef CAIRN_HOST_BUILD

/************************************************************************/
// Calibration (PIT ports: Intel 8254 datasheet; port 61h bits as on every PC: bit 0 gate of
// channel 2, bit 1 speaker enable, bit 5 OUT2)

#define PIT_CHANNEL2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_CONTROL_PORT 0x61
#define PIT_CONTROL_GATE2 0x01
#define PIT_CONTROL_SPEAKER 0x02
#define PIT_CONTROL_OUT2 0x20
#define PIT_COMMAND_CHANNEL2_MODE0 0xB0  // channel 2, low then high byte, mode 0, binary

#define CLOCK_PIT_GATE_TICKS 11932ULL  // 10 ms at 1.193182 MHz
#define CLOCK_PIT_RUNS 5
#define CLOCK_PIT_START_SLACK 200  // the start must be seen within 0.5% of the gate
// Bounds on one run: port reads (about 1 us each on hardware, less under emulation) and TSC ticks
// (10 ms at the highest frequency we accept, twice over).
#define CLOCK_PIT_POLL_LIMIT 5000000ULL
#define CLOCK_PIT_TSC_LIMIT (2 * CLOCK_MAX_TSC_FREQUENCY / 100)
#define CLOCK_CPUID_TOLERANCE_PERCENT 2
#define CLOCK_DEFAULT_FREQUENCY 1000000000ULL

static CLOCK_CONVERSION ClockConversion;
static U64 ClockBaseTSC;
static U64 ClockLastNs;
static LPCSTR ClockSource = "none";

// One 10 ms PIT gate; returns the TSC ticks it took, 0 if OUT2 never rose within the bounds.
static U64 ClockPitRun(void) {
    U8 Control = InPortByte(PIT_CONTROL_PORT);
    OutPortByte(PIT_CONTROL_PORT, (U8)((Control & ~PIT_CONTROL_SPEAKER) | PIT_CONTROL_GATE2));
    OutPortByte(PIT_COMMAND, PIT_COMMAND_CHANNEL2_MODE0);
    OutPortByte(PIT_CHANNEL2_DATA, (U8)(CLOCK_PIT_GATE_TICKS & 0xFF));
    U64 Before = ReadTSC();
    OutPortByte(PIT_CHANNEL2_DATA, (U8)(CLOCK_PIT_GATE_TICKS >> 8));  // counting starts here
    U64 Start = ReadTSC();
    U64 End = Start;
    BOOL Done = FALSE;
    for (U64 Poll = 0; Poll < CLOCK_PIT_POLL_LIMIT; Poll++) {
        BOOL Ended = (InPortByte(PIT_CONTROL_PORT) & PIT_CONTROL_OUT2) != 0;
        End = ReadTSC();  // after the read that saw the end: a pause in between only makes the run longer
        if (Ended) {
            Done = TRUE;
            break;
        }
        if (End - Start > CLOCK_PIT_TSC_LIMIT) break;
    }
    OutPortByte(PIT_CONTROL_PORT, (U8)(Control & 0x0F & ~PIT_CONTROL_SPEAKER));
    // A pause around the start (a virtual CPU descheduled by a loaded host) lets the gate run before Start is
    // read and makes the run short, which the smallest-run rule would keep: such a run is not used.
    if (Done && (Start - Before) * CLOCK_PIT_START_SLACK > End - Start) Done = FALSE;
    return Done ? End - Start : 0;
}

static U64 ClockMeasureWithPit(U32 Runs) {
    U64 Deltas[CLOCK_PIT_RUNS] = {0};
    if (Runs > CLOCK_PIT_RUNS) Runs = CLOCK_PIT_RUNS;
    for (U32 Index = 0; Index < Runs; Index++) Deltas[Index] = ClockPitRun();
    return ClockFrequencyFromPit(ClockBestMeasurement(Deltas, Runs), CLOCK_PIT_GATE_TICKS);
}

static U64 ClockReadCpuidFrequency(LPCSTR* Source) {
    U32 A, B, C, D;
    CPUID(0, 0, &A, &B, &C, &D);
    U32 MaxLeaf = A;
    if (MaxLeaf >= 0x15) {
        CPUID(0x15, 0, &A, &B, &C, &D);
        U64 Frequency = ClockFrequencyFromCpuid15(A, B, C);
        if (Frequency) {
            *Source = "cpuid-15h";
            return Frequency;
        }
    }
    if (MaxLeaf >= 0x16) {
        CPUID(0x16, 0, &A, &B, &C, &D);
        U64 Frequency = (U64)(A & 0xFFFF) * 1000000;  // base frequency in MHz (SDM vol. 2A CPUID 16h)
        if (Frequency >= CLOCK_MIN_TSC_FREQUENCY && Frequency <= CLOCK_MAX_TSC_FREQUENCY) {
            *Source = "cpuid-16h";
            return Frequency;
        }
    }
    return 0;
}

static BOOL ClockAgrees(U64 First, U64 Second) {
    U64 Difference = First > Second ? First - Second : Second - First;
    return Difference * 100 <= Second * CLOCK_CPUID_TOLERANCE_PERCENT;
}

void ClockInit(void) {
    LPCSTR Source = "none";
    U64 CpuidFrequency = ClockReadCpuidFrequency(&Source);
    U64 PitFrequency = ClockMeasureWithPit(CpuidFrequency ? 1 : CLOCK_PIT_RUNS);
    U64 Frequency;

    if (CpuidFrequency && (PitFrequency == 0 || ClockAgrees(CpuidFrequency, PitFrequency))) {
        Frequency = CpuidFrequency;
    } else if (PitFrequency) {
        if (CpuidFrequency) {
            WARNING("[ClockInit] CPUID says %llu Hz but the PIT measures %llu Hz: using the PIT", CpuidFrequency,
                    PitFrequency);
        }
        Frequency = PitFrequency;
        Source = "pit";
    } else {
        WARNING("[ClockInit] cannot measure the TSC; assuming 1 GHz (times will be wrong)");
        Frequency = CLOCK_DEFAULT_FREQUENCY;
        Source = "default";
    }

    U64 Now = ReadTSC();
    ClockBaseTSC = (KernelEntryTSC != 0 && KernelEntryTSC <= Now) ? KernelEntryTSC : Now;
    ClockSource = Source;
    CLOCK_CONVERSION Conversion;
    ClockConversionInit(&Conversion, Frequency);
    ClockConversion = Conversion;  // published last: GetSystemTimeNs reads 0 until Frequency is set

    INFO("[ClockInit] TSC %llu.%03llu MHz (%s)%s", Frequency / 1000000, (Frequency / 1000) % 1000, Source,
         CPUInfoGet()->InvariantTSC ? ", invariant" : ", not invariant");
}

/************************************************************************/
// Reading the clock

U64 ClockGetTSCFrequency(void) { return ClockConversion.Frequency; }
LPCSTR ClockGetSource(void) { return ClockSource; }
U64 ClockTicksToNs(U64 Ticks) { return ClockConversionToNs(&ClockConversion, Ticks); }

U64 GetSystemTimeNs(void) {
    if (ClockConversion.Frequency == 0) return 0;
    U64 Now = ReadTSC();
    U64 Ns = Now > ClockBaseTSC ? ClockTicksToNs(Now - ClockBaseTSC) : 0;
    U64 Last = __atomic_load_n(&ClockLastNs, __ATOMIC_RELAXED);
    while (Ns > Last) {
        if (__atomic_compare_exchange_n(&ClockLastNs, &Last, Ns, TRUE, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return Ns;
    }
    return Last;
}

U64 GetSystemTimeMs(void) { return GetSystemTimeNs() / 1000000; }

void ClockDelayUs(U64 Microseconds) {
    if (ClockConversion.Frequency == 0) {
        // Before calibration: port 80h writes take about a microsecond each.
        for (U64 Index = 0; Index < Microseconds; Index++) IOWait();
        return;
    }
    U64 Ticks = ClockConversionFromUs(&ClockConversion, Microseconds);
    U64 Start = ReadTSC();
    while (ReadTSC() - Start < Ticks) CPUPause();
}

#endif  // CAIRN_HOST_BUILD

/*
 * Clock.h - the monotonic clock and the periodic tick.
 *
 * Time comes from the TSC, calibrated at boot against the PIT (or read from
 * CPUID leaf 15h/16h when the CPU reports it). GetSystemTimeNs() is
 * monotonic from ClockInit(); it works with interrupts off and before the
 * timer runs, so early code and exception paths can use it. The LAPIC timer
 * gives a periodic tick (TIMER_HZ) for the scheduler and for sleeping.
 *
 * Time zero is the kernel entry (KernelEntryTSC). Before ClockInit() every
 * time reads as 0. The conversion needs no 128-bit arithmetic and stays
 * exact to about a nanosecond for centuries of uptime.
 */

#ifndef SYSTEM_CLOCK_H_INCLUDED
#define SYSTEM_CLOCK_H_INCLUDED

#include "Base.h"

#define TIMER_HZ 100

/** Calibrates the TSC. Call once, early, with interrupts off. */
void ClockInit(void);
U64 GetSystemTimeNs(void);
U64 GetSystemTimeMs(void);
U64 ClockGetTSCFrequency(void);
/** Converts a number of TSC ticks (a difference of two ReadTSC() values) to nanoseconds. */
U64 ClockTicksToNs(U64 Ticks);
/** Busy-waits (bounded by the clock itself); use only before the scheduler exists. */
void ClockDelayUs(U64 Microseconds);
/** How the TSC frequency was found: "cpuid-15h", "cpuid-16h", "pit" or "default". */
LPCSTR ClockGetSource(void);

/** Starts the periodic LAPIC timer on the boot CPU (calibrates it). */
BOOL TimerInit(void);
/** Starts this application processor's timer at the boot CPU's calibrated rate. */
BOOL TimerStartCPU(void);
/** Ticks of the boot CPU's timer (each CPU's own count is in PER_CPU.Ticks). */
U64 TimerGetTicks(void);

struct tag_INTERRUPT_FRAME;
/**
 * Called on every tick from the timer interrupt (interrupts off, before the
 * EOI) with the interrupted frame: the scheduler's hook. One handler; NULL
 * removes it.
 */
typedef void (*TIMER_TICK_HANDLER)(struct tag_INTERRUPT_FRAME* Frame);
void TimerSetTickHandler(TIMER_TICK_HANDLER Handler);

/************************************************************************/
// Pure conversion and calibration arithmetic (host unit tested).

#define CLOCK_PIT_FREQUENCY 1193182ULL
#define CLOCK_MIN_TSC_FREQUENCY 1000000ULL       // 1 MHz
#define CLOCK_MAX_TSC_FREQUENCY 10000000000ULL   // 10 GHz (keeps Remainder * Mult within 64 bits)
#define CLOCK_NS_PER_SECOND 1000000000ULL

/** Ticks -> ns as Seconds * 1e9 + ((Remainder * Mult) >> CLOCK_SHIFT), with Remainder < Frequency. */
typedef struct tag_CLOCK_CONVERSION {
    U64 Frequency;  // ticks per second, 0 while unknown
    U64 Mult;       // floor(1e9 * 2^CLOCK_SHIFT / Frequency)
} CLOCK_CONVERSION;

#define CLOCK_SHIFT 32

/** FALSE (and a zeroed conversion) for a frequency outside CLOCK_MIN/MAX_TSC_FREQUENCY. */
BOOL ClockConversionInit(CLOCK_CONVERSION* Conversion, U64 Frequency);
U64 ClockConversionToNs(const CLOCK_CONVERSION* Conversion, U64 Ticks);
/** Ticks for Microseconds (rounded up), overflow-safe. */
U64 ClockConversionFromUs(const CLOCK_CONVERSION* Conversion, U64 Microseconds);
/** TSC Hz from CPUID leaf 15h (EAX denominator, EBX numerator, ECX crystal Hz); 0 if it gives none. */
U64 ClockFrequencyFromCpuid15(U32 Eax, U32 Ebx, U32 Ecx);
/** TSC Hz from TscTicks counted while the PIT counted PitTicks at 1.193182 MHz; 0 if nonsensical. */
U64 ClockFrequencyFromPit(U64 TscTicks, U64 PitTicks);
/** Chooses among Count measured TSC deltas over the same gate: the smallest nonzero one (least delayed). */
U64 ClockBestMeasurement(const U64* Deltas, U32 Count);

#endif  // SYSTEM_CLOCK_H_INCLUDED

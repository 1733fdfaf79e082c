/*
 * Clock.h - the monotonic clock and the periodic tick.
 *
 * Time comes from the TSC, calibrated at boot against the PIT (or read from
 * CPUID leaf 15h/16h when the CPU reports it). GetSystemTimeNs() is
 * monotonic from ClockInit(); it works with interrupts off and before the
 * timer runs, so early code and exception paths can use it. The LAPIC timer
 * gives a periodic tick (TIMER_HZ) for the scheduler and for sleeping.
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

/** Starts the periodic LAPIC timer. */
BOOL TimerInit(void);
U64 TimerGetTicks(void);

#endif  // SYSTEM_CLOCK_H_INCLUDED

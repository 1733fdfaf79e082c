/*
 * Timer.c - the periodic tick, on every CPU.
 *
 * Each CPU's LAPIC timer runs in periodic mode at TIMER_HZ on
 * INTERRUPT_VECTOR_TIMER: the boot CPU's is calibrated against the TSC clock
 * (LAPICStartTimer, TimerInit), the others reuse that rate (TimerStartCPU).
 * Each interrupt counts one tick for its CPU (PER_CPU.Ticks) and calls the
 * tick handler, if one is set: the scheduler's hook (TimerSetTickHandler).
 * The handler runs in interrupt context, interrupts off, before the
 * dispatcher's EOI.
 *
 * Wall time does not come from here: GetSystemTimeNs() reads the TSC.
 * TimerGetTicks counts the boot CPU's ticks (TIMER_HZ a second, however
 * many CPUs run), for timeouts in ticks and for checking the timer runs.
 */

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Log.h"
#include "core/SMP.h"
#include "system/Clock.h"

static U64 TimerTicks;
static TIMER_TICK_HANDLER TimerTickHandler;

static BOOL TimerInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Context);
    PER_CPU* Cpu = GetPerCPU();
    Cpu->Ticks++;
    if (Cpu->Index == 0) __atomic_add_fetch(&TimerTicks, 1, __ATOMIC_RELAXED);
    TIMER_TICK_HANDLER Handler = __atomic_load_n(&TimerTickHandler, __ATOMIC_ACQUIRE);
    if (Handler) Handler(Frame);
    return TRUE;
}

void TimerSetTickHandler(TIMER_TICK_HANDLER Handler) { __atomic_store_n(&TimerTickHandler, Handler, __ATOMIC_RELEASE); }

U64 TimerGetTicks(void) { return __atomic_load_n(&TimerTicks, __ATOMIC_RELAXED); }

BOOL TimerInit(void) {
    if (!LAPICIsEnabled() || ClockGetTSCFrequency() == 0) {
        WARNING("[TimerInit] needs the local APIC and a calibrated clock");
        return FALSE;
    }
    if (!DeviceInterruptRegister(INTERRUPT_VECTOR_TIMER, TimerInterrupt, NULL)) {
        ERROR("[TimerInit] cannot register the timer handler");
        return FALSE;
    }
    if (!LAPICStartTimer(TIMER_HZ, INTERRUPT_VECTOR_TIMER)) {
        DeviceInterruptUnregister(INTERRUPT_VECTOR_TIMER, TimerInterrupt, NULL);
        return FALSE;
    }
    return TRUE;
}

BOOL TimerStartCPU(void) { return LAPICStartTimerCalibrated(TIMER_HZ, INTERRUPT_VECTOR_TIMER); }

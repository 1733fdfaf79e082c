/*
 * Timer.c - the periodic tick.
 *
 * The LAPIC timer runs in periodic mode at TIMER_HZ on INTERRUPT_VECTOR_TIMER
 * (calibrated against the TSC clock by LAPICStartTimer). Each interrupt
 * counts one tick and calls the tick handler, if one is set: the hook the
 * scheduler will use (TimerSetTickHandler). The handler runs in interrupt
 * context, interrupts off, before the dispatcher's EOI.
 *
 * Wall time does not come from here: GetSystemTimeNs() reads the TSC.
 * The tick count is for timeouts in ticks and for checking the timer runs.
 */

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Log.h"
#include "system/Clock.h"

static U64 TimerTicks;
static TIMER_TICK_HANDLER TimerTickHandler;

static BOOL TimerInterrupt(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Context);
    __atomic_add_fetch(&TimerTicks, 1, __ATOMIC_RELAXED);
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

/*
 * HostPlatform-Internal.h - what the host platform's three files share:
 *   HostPlatform.c            MMIO, memory, locks, threads, work, hooks, options, violations
 *   HostPlatform-Clock.c      the virtual clock, timers, quiescence, waiting, events
 *   HostPlatform-Interrupts.c vectors, set-up, the interrupt-delivery thread
 * Not for tests or models: they use HostPlatform.h.
 */

#ifndef TESTS_MODEL_HOSTPLATFORM_INTERNAL_H_INCLUDED
#define TESTS_MODEL_HOSTPLATFORM_INTERNAL_H_INCLUDED

#include "HostPlatform.h"

// HostPlatform-Clock.c
void HostClockInit(void);
void HostClockReset(void);
/** An internal thread starts or ends running a callback (it then keeps the clock still). */
void HostActivityBegin(void);
void HostActivityEnd(void);
/** Around a blocking call: the thread stops counting as running / busy; returns what to restore. */
U32 HostBlockBegin(void);
void HostBlockEnd(U32 Token);
/** Driver and test threads become known at their first platform call. */
void HostRegisterThread(void);
void HostUnregisterThread(void);
/** A thread PlatformThreadCreate started: already counted by its creator (HostRunningThreadsAdjust). */
void HostAdoptThread(void);
void HostRunningThreadsAdjust(I32 Delta);
void HostPlatformNoteActivity(void);
/** A blocked thread: its deadline (MAX_U64: none) and a look at whether it could run now (Peek may be NULL). */
typedef struct tag_HOST_WAITER {
    U64 Deadline;
    BOOL (*Peek)(LPVOID Context);
    LPVOID Context;
    struct tag_HOST_WAITER* Next;
} HOST_WAITER;
void HostWaiterListAdd(HOST_WAITER* Waiter);
void HostWaiterListRemove(HOST_WAITER* Waiter);
/** The calling thread released its last PLATFORM_LOCK: the time it busy-waited under locks passes for all. */
void HostClockPublishStall(void);

// HostPlatform.c
BOOL HostWorkBusy(void);
/** Reports a blocking call from an interrupt handler or under a PLATFORM_LOCK. */
void HostCheckMayBlock(LPCSTR What);
/** PLATFORM_LOCKs the calling thread holds. */
U32 HostLocksHeld(void);

// HostPlatform-Interrupts.c
void HostInterruptsInit(void);
void HostInterruptsReset(void);
BOOL HostInterruptsBusy(void);

#endif  // TESTS_MODEL_HOSTPLATFORM_INTERNAL_H_INCLUDED

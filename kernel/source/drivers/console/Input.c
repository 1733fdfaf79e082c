/*
 * Input.c - the key ring the shell reads (see Input.h).
 *
 * Producers: the keyboard (IRQ 1 handler or KeyboardPoll) pushes keys; the
 * serial port (its IRQ handler or SerialPoll) pushes bytes, which the
 * KeyDecoder turns into keys. Both run with interrupts disabled and take
 * InputLock, which guards the ring and the decoder.
 *
 * Other sources (INPUT_SOURCE: the USB keyboard, whose controller thread
 * pushes keys) register; the reader calls their Poll, if any, with the
 * PS/2 and serial polls.
 *
 * Consumer: InputReadKey. It polls every device itself on every pass (with
 * interrupts disabled, so a poll and an IRQ handler never read the same
 * UART or 8042 byte twice); that makes input work even when an interrupt
 * was never routed. It halts between passes only when something is sure to
 * wake it: the periodic timer, or every source's interrupt (or thread). The ring is checked
 * with interrupts disabled and the halt is "sti; hlt", which cannot lose a
 * wake-up (sti takes effect after the next instruction).
 *
 * A lone ESC from the terminal is completed by a timeout: when the decoder
 * has waited ESCAPE_TIMEOUT_MS for the rest of a sequence, it is flushed.
 */

#include "drivers/console/Input.h"

#include "arch/x86-64/CPU.h"
#include "core/Spinlock.h"
#include "core/Sync.h"
#include "core/Thread.h"
#include "drivers/console/Keyboard.h"
#include "drivers/console/Serial.h"
#include "system/Clock.h"
#include "utils/KeyDecoder.h"

#define INPUT_RING_SIZE 1024  // a pasted line of shell input fits
#define ESCAPE_TIMEOUT_MS 50
// Without a running clock, passes of the polling loop stand in for time (roughly a microsecond each).
#define SPINS_PER_MS 1000

#define UART_IER 1
#define UART_IER_RECEIVE 0x01

static KEY InputRing[INPUT_RING_SIZE];
static U32 InputHead;
static U32 InputCount;
static U64 InputDropped;
static SPINLOCK InputLock = SPINLOCK_INIT;
static KEY_DECODER SerialDecoder;
static U64 SerialLastByteMs;
static volatile U64 InputSpins;
static EVENT InputAvailable;  // signalled on every push, so the reader can sleep
static INPUT_SOURCE* InputSources;  // registered sources (added under InputLock, never removed)

/************************************************************************/
// Time

static U64 InputClockMs(void) {
    if (ClockGetTSCFrequency() != 0) return GetSystemTimeNs() / 1000000ULL;
    U64 Ticks = TimerGetTicks();
    if (Ticks != 0) return Ticks * 1000ULL / TIMER_HZ;
    return InputSpins / SPINS_PER_MS;
}

/************************************************************************/
// The ring (InputLock held)

static void RingPush(KEY Key) {
    if (Key == KEY_NONE) return;
    if (InputCount == INPUT_RING_SIZE) {
        InputDropped++;  // nobody is reading: drop the newest key
        return;
    }
    InputRing[(InputHead + InputCount) % INPUT_RING_SIZE] = Key;
    InputCount++;
}

static KEY RingPop(void) {
    if (InputCount == 0) return KEY_NONE;
    KEY Key = InputRing[InputHead];
    InputHead = (InputHead + 1) % INPUT_RING_SIZE;
    InputCount--;
    return Key;
}

/************************************************************************/

void InputInit(void) {
    EventInit(&InputAvailable, FALSE, FALSE);
    U64 Flags = SpinlockAcquire(&InputLock);
    InputHead = 0;
    InputCount = 0;
    KeyDecoderInit(&SerialDecoder);
    SpinlockRelease(&InputLock, Flags);
}

void InputRegisterSource(INPUT_SOURCE* Source) {
    U64 Flags = SpinlockAcquire(&InputLock);
    INPUT_SOURCE** Link = &InputSources;
    while (*Link && *Link != Source) Link = &(*Link)->Next;
    if (*Link == NULL) {
        Source->Next = NULL;
        *Link = Source;
    }
    SpinlockRelease(&InputLock, Flags);
}

static void PollSources(void) {
    for (INPUT_SOURCE* Source = InputSources; Source; Source = Source->Next) {
        if (Source->Poll) Source->Poll();
    }
}

void InputPushKey(KEY Key) {
    U64 Flags = SpinlockAcquire(&InputLock);
    RingPush(Key);
    SpinlockRelease(&InputLock, Flags);
    EventSignal(&InputAvailable);
}

void InputPushSerialByte(U8 Byte) {
    U64 Now = InputClockMs();
    U64 Flags = SpinlockAcquire(&InputLock);
    RingPush(KeyDecoderFeed(&SerialDecoder, Byte));
    for (KEY Key = KeyDecoderTake(&SerialDecoder); Key != KEY_NONE; Key = KeyDecoderTake(&SerialDecoder)) {
        RingPush(Key);
    }
    SerialLastByteMs = Now;
    SpinlockRelease(&InputLock, Flags);
    EventSignal(&InputAvailable);
}

KEY InputPeekKey(void) {
    U64 Flags = SpinlockAcquire(&InputLock);
    KEY Key = InputCount != 0 ? InputRing[InputHead] : KEY_NONE;
    SpinlockRelease(&InputLock, Flags);
    return Key;
}

KEY InputTryReadKey(void) {
    U64 Flags = SpinlockAcquire(&InputLock);
    KEY Key = RingPop();
    SpinlockRelease(&InputLock, Flags);
    return Key;
}

/** Completes a lone ESC once the rest of a sequence is overdue; returns TRUE while one is still pending. */
static BOOL CheckEscapeTimeout(U64 NowMs) {
    BOOL Pending;
    U64 Flags = SpinlockAcquire(&InputLock);
    Pending = KeyDecoderPending(&SerialDecoder);
    if (Pending && NowMs - SerialLastByteMs >= ESCAPE_TIMEOUT_MS) {
        RingPush(KeyDecoderFlush(&SerialDecoder));
        Pending = FALSE;
    }
    SpinlockRelease(&InputLock, Flags);
    return Pending;
}

/** TRUE when an interrupt will come soon enough to wake a halted wait. */
static BOOL CanHalt(void) {
    if (TimerGetTicks() != 0) return TRUE;
    BOOL KeyboardWakes = !KeyboardIsPresent() || KeyboardIsInterruptDriven();
    // Serial.c enables the UART receive interrupt only once the IRQ is routed.
    BOOL SerialWakes = !SerialIsPresent() || (InPortByte(SERIAL_COM1 + UART_IER) & UART_IER_RECEIVE) != 0;
    for (INPUT_SOURCE* Source = InputSources; Source; Source = Source->Next) {
        if (Source->WakesReader && !Source->WakesReader()) return FALSE;
    }
    return KeyboardWakes && SerialWakes;
}

static KEY InputWait(BOOL Forever, U32 TimeoutMs) {
    U64 Start = InputClockMs();
    for (;;) {
        U64 Flags = SaveAndDisableInterrupts();
        SerialPoll();
        KeyboardPoll();
        PollSources();
        U64 Now = InputClockMs();
        BOOL EscapePending = CheckEscapeTimeout(Now);
        KEY Key = InputTryReadKey();
        if (Key != KEY_NONE) {
            RestoreInterrupts(Flags);
            return Key;
        }
        if (!Forever && Now - Start >= TimeoutMs) {
            RestoreInterrupts(Flags);
            return KEY_NONE;
        }
        InputSpins++;
        if ((Flags & CPU_FLAG_IF) && SchedulerIsRunning()) {
            // Sleep so other threads (and the idle thread's halt) get the CPU; a push wakes us.
            // Without interrupt-driven input, or with an ESC pending, wake up soon to poll.
            RestoreInterrupts(Flags);
            U32 WaitMs = EscapePending ? 10 : (CanHalt() ? 1000 : 10);
            if (!Forever && TimeoutMs - (Now - Start) < WaitMs) WaitMs = (U32)(TimeoutMs - (Now - Start));
            WaitForEvent(&InputAvailable, WaitMs == 0 ? 1 : WaitMs);
        } else if ((Flags & CPU_FLAG_IF) && !EscapePending && CanHalt()) {
            EnableInterruptsAndHalt();  // returns after the next interrupt, with interrupts on
        } else {
            RestoreInterrupts(Flags);
            CPUPause();
        }
    }
}

KEY InputReadKey(void) { return InputWait(TRUE, 0); }

KEY InputReadKeyTimeout(U32 TimeoutMs) { return InputWait(FALSE, TimeoutMs); }

/*
 * Serial.c - COM1 16550 UART at 115200 8N1.
 *
 * Transmit polls the line status register with a bound, so a missing or
 * stuck UART can never hang the kernel. Receive is interrupt driven
 * (IOAPIC, ISA IRQ 4) and feeds bytes to the input stream, which decodes
 * ANSI escape sequences into keys.
 *
 * Receive may run on two CPUs at once (the IRQ on the boot CPU, the
 * shell's own poll wherever the shell runs): SerialReceiveLock makes one
 * CPU drain the FIFO and push the bytes in order; a CPU that finds it taken
 * leaves the bytes to the one draining (reading them too would reorder
 * keys: "hello" typed, "hlelo" read).
 */

#include "drivers/console/Serial.h"

#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Spinlock.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"

#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCRATCH 7

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

#define SERIAL_IRQ 4
#define SERIAL_TRANSMIT_SPIN_LIMIT 100000

static BOOL SerialPresent;
static SPINLOCK SerialReceiveLock = SPINLOCK_INIT;

static void SerialConsoleWrite(LPCSTR Text, SIZE Length) { SerialWrite(Text, Length); }

static CONSOLE_DEVICE SerialConsole = {"serial", SerialConsoleWrite, NULL, FALSE, 0, 0};

BOOL SerialInit(void) {
    const U16 Base = SERIAL_COM1;

    // A UART keeps what is written to its scratch register; an absent one floats.
    OutPortByte(Base + UART_SCRATCH, 0x5A);
    if (InPortByte(Base + UART_SCRATCH) != 0x5A) return FALSE;

    OutPortByte(Base + UART_IER, 0x00);
    OutPortByte(Base + UART_LCR, 0x80);  // DLAB
    OutPortByte(Base + UART_DATA, 0x01);  // divisor 1: 115200 baud
    OutPortByte(Base + UART_IER, 0x00);
    OutPortByte(Base + UART_LCR, 0x03);  // 8N1
    OutPortByte(Base + UART_FCR, 0xC7);  // FIFO on, cleared, 14-byte threshold
    OutPortByte(Base + UART_MCR, 0x0B);  // DTR, RTS, OUT2 (IRQ line enable)

    SerialPresent = TRUE;
    ConsoleRegister(&SerialConsole);
    return TRUE;
}

BOOL SerialIsPresent(void) { return SerialPresent; }

void SerialWriteChar(char C) {
    if (!SerialPresent) return;
    for (U32 Spin = 0; Spin < SERIAL_TRANSMIT_SPIN_LIMIT; Spin++) {
        if (InPortByte(SERIAL_COM1 + UART_LSR) & LSR_THR_EMPTY) break;
        CPUPause();
    }
    OutPortByte(SERIAL_COM1 + UART_DATA, (U8)C);
}

void SerialWrite(LPCSTR Text, SIZE Length) {
    for (SIZE I = 0; I < Length; I++) {
        if (Text[I] == '\n') SerialWriteChar('\r');
        SerialWriteChar(Text[I]);
    }
}

static BOOL SerialDataReady(void) { return (InPortByte(SERIAL_COM1 + UART_LSR) & LSR_DATA_READY) != 0; }

void SerialPoll(void) {
    U64 Flags;
    if (!SerialPresent) return;
    // A byte that lands just as the other CPU lets go would wait for the next poll: look once more.
    for (U32 Round = 0; Round < 2 && SerialDataReady(); Round++) {
        if (!SpinlockTryAcquire(&SerialReceiveLock, &Flags)) return;
        for (U32 Count = 0; Count < 256 && SerialDataReady(); Count++) {
            InputPushSerialByte(InPortByte(SERIAL_COM1 + UART_DATA));
        }
        SpinlockRelease(&SerialReceiveLock, Flags);
    }
}

static BOOL SerialInterruptHandler(INTERRUPT_FRAME* Frame, LPVOID Context) {
    UNUSED(Frame);
    UNUSED(Context);
    SerialPoll();
    return TRUE;
}

void SerialEnableInterrupts(void) {
    if (!SerialPresent) return;
    if (!InterruptRegisterLegacy(SERIAL_IRQ, SerialInterruptHandler, NULL)) return;
    OutPortByte(SERIAL_COM1 + UART_IER, 0x01);  // received data available
    SerialPoll();
}

/*
 * Exceptions.c - what happens when the CPU raises an exception (vectors 0-31).
 *
 * There is no recovery yet: every exception is a kernel bug or a hardware
 * error. ExceptionHandle() prints, on every console through the emergency
 * path (no lock that may be held), one headline
 *     EXCEPTION: Page fault (#PF) at RIP=ffffffff80101234
 * then the decoded error code (for a page fault the address in CR2 and what
 * the access was), all general registers, the control registers and a short
 * backtrace, and halts the CPU for good (cli; hlt in a loop, no reboot).
 *
 * It runs on the faulting stack, or on an IST stack for #DF, NMI and #MC
 * (GDT.c), with interrupts off. It must not fault itself: the backtrace
 * reads a stack frame only after walking the page tables to check it is
 * mapped, and a fault inside this code anyway (a nested exception) prints
 * one short line and halts instead of recursing.
 *
 * Several CPUs: the faulting CPU first stops the others (SMPHaltOthers), so
 * the dump is the last thing the machine prints and nothing keeps running
 * on a broken kernel. An NMI that SMPHaltOthers sent is a request to stop,
 * not an error: it halts quietly. If two CPUs fault at once, the second is
 * stopped by the first (SMPHaltOthers halts a second caller). The nesting
 * count is per CPU: only a fault on the CPU already dumping is "nested".
 */

#include "arch/x86-64/CPU.h"
#include "arch/x86-64/Interrupts.h"
#include "core/Kernel.h"
#include "core/SMP.h"
#include "drivers/console/Console.h"
#include "memory/Memory.h"
#include "memory/Paging.h"
#include "utils/Format.h"

extern const U8 KernelTextStart[];  // linker.ld
extern const U8 KernelTextEnd[];

#define EXCEPTION_BACKTRACE_FRAMES 16
// A frame below the kernel half is only believed within this distance above the faulting RSP.
#define EXCEPTION_STACK_WINDOW (256 * N_1KB)
#define EXCEPTION_KERNEL_HALF 0xFFFF800000000000ULL
#define EXCEPTION_PAGE_ADDRESS_MASK 0x000FFFFFFFFFF000ULL

/************************************************************************/
// Names (Intel SDM vol. 3A 6.3.1, table "Protected-Mode Exceptions and Interrupts")

typedef struct tag_EXCEPTION_NAME {
    LPCSTR Name;
    LPCSTR Mnemonic;
} EXCEPTION_NAME;

static const EXCEPTION_NAME ExceptionNames[INTERRUPT_EXCEPTION_COUNT] = {
    {"Divide error", "#DE"},
    {"Debug", "#DB"},
    {"Non-maskable interrupt", "NMI"},
    {"Breakpoint", "#BP"},
    {"Overflow", "#OF"},
    {"Bound range exceeded", "#BR"},
    {"Invalid opcode", "#UD"},
    {"Device not available", "#NM"},
    {"Double fault", "#DF"},
    {"Coprocessor segment overrun", "#CSO"},
    {"Invalid TSS", "#TS"},
    {"Segment not present", "#NP"},
    {"Stack-segment fault", "#SS"},
    {"General protection fault", "#GP"},
    {"Page fault", "#PF"},
    {"Reserved exception", "#15"},
    {"x87 floating-point error", "#MF"},
    {"Alignment check", "#AC"},
    {"Machine check", "#MC"},
    {"SIMD floating-point exception", "#XM"},
    {"Virtualization exception", "#VE"},
    {"Control protection exception", "#CP"},
    {"Reserved exception", "#22"},
    {"Reserved exception", "#23"},
    {"Reserved exception", "#24"},
    {"Reserved exception", "#25"},
    {"Reserved exception", "#26"},
    {"Reserved exception", "#27"},
    {"Hypervisor injection exception", "#HV"},
    {"VMM communication exception", "#VC"},
    {"Security exception", "#SX"},
    {"Reserved exception", "#31"},
};

LPCSTR InterruptExceptionName(U8 Vector) {
    return Vector < INTERRUPT_EXCEPTION_COUNT ? ExceptionNames[Vector].Name : "Not an exception";
}

LPCSTR InterruptExceptionMnemonic(U8 Vector) {
    return Vector < INTERRUPT_EXCEPTION_COUNT ? ExceptionNames[Vector].Mnemonic : "??";
}

/************************************************************************/
// Output

static void ExceptionPrint(LPCSTR Format, ...) PRINTF_LIKE(1, 2);

static void ExceptionPrint(LPCSTR Format, ...) {
    char Buffer[160];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    VA_END(Arguments);
    ConsoleWriteEmergency(Buffer);
}

/************************************************************************/
// Address checks for the backtrace

static BOOL ExceptionIsCanonical(LINEAR Address) {
    U64 Upper = (U64)Address >> 47;  // bits 47-63 must all equal bit 47 (4-level paging)
    return Upper == 0 || Upper == 0x1FFFF;
}

/*
 * Walks the live page tables (CR3) through the direct map, read only, to
 * tell whether Address is mapped. The tables themselves are kernel RAM,
 * which the direct map always covers.
 */
static BOOL ExceptionIsMapped(LINEAR Address) {
    if (!ExceptionIsCanonical(Address)) return FALSE;
    PHYSICAL Table = ReadCR3() & EXCEPTION_PAGE_ADDRESS_MASK;
    for (I32 Level = 3; Level >= 0; Level--) {
        U32 Index = (U32)(((U64)Address >> (12 + 9 * Level)) & 0x1FF);
        U64 Entry = ((volatile const U64*)PhysicalToLinear(Table))[Index];
        if ((Entry & PAGE_PRESENT) == 0) return FALSE;
        if (Level == 0) return TRUE;
        if ((Level == 1 || Level == 2) && (Entry & PAGE_LARGE)) return TRUE;  // 2 MiB or 1 GiB page
        Table = Entry & EXCEPTION_PAGE_ADDRESS_MASK;
    }
    return FALSE;
}

/*
 * A frame record is two words at RBP: the caller's RBP and the return
 * address. Believe it only if it is 8-byte aligned, canonical, either in the
 * kernel half or close above the faulting stack pointer, and both words are
 * mapped.
 */
static BOOL ExceptionFrameRecordValid(LINEAR Rbp, LINEAR StackPointer) {
    if (!IS_ALIGNED(Rbp, 8) || !ExceptionIsCanonical(Rbp)) return FALSE;
    BOOL NearStack = Rbp >= StackPointer && Rbp - StackPointer < EXCEPTION_STACK_WINDOW;
    if (!NearStack && Rbp < EXCEPTION_KERNEL_HALF) return FALSE;
    if (Rbp > MAX_U64 - 16) return FALSE;
    return ExceptionIsMapped(Rbp) && ExceptionIsMapped(Rbp + 8);
}

static BOOL ExceptionIsKernelText(U64 Address) {
    return Address >= (U64)(LINEAR)KernelTextStart && Address < (U64)(LINEAR)KernelTextEnd;
}

static void ExceptionBacktrace(const INTERRUPT_FRAME* Frame) {
    ExceptionPrint("Backtrace:\n  #0  %016llx\n", Frame->RIP);
    // A leaf function has no frame record of its own: its caller's return address is then at
    // RSP and the RBP chain skips it. Show it as a hint when it looks like a code address.
    LINEAR StackTop = (LINEAR)Frame->RSP;
    if (IS_ALIGNED(StackTop, 8) && ExceptionIsMapped(StackTop) && ExceptionIsKernelText(*(const U64*)StackTop)) {
        ExceptionPrint("  ?   %016llx (at RSP: the caller if #0 is a leaf function)\n", *(const U64*)StackTop);
    }
    LINEAR Rbp = (LINEAR)Frame->RBP;
    LINEAR Previous = 0;
    for (U32 Depth = 1; Depth < EXCEPTION_BACKTRACE_FRAMES; Depth++) {
        if (Rbp == 0) return;  // the boot code clears RBP: the end of the chain
        if (!ExceptionFrameRecordValid(Rbp, (LINEAR)Frame->RSP) || (Previous != 0 && Rbp <= Previous)) {
            ExceptionPrint("  (frame pointer %016llx is not a valid frame: stop)\n", (U64)Rbp);
            return;
        }
        const U64* Record = (const U64*)Rbp;
        U64 ReturnAddress = Record[1];
        if (ReturnAddress == 0) return;
        ExceptionPrint("  #%-2u %016llx\n", Depth, ReturnAddress);
        if (ReturnAddress < KERNEL_VMA) {
            ExceptionPrint("  (return address outside the kernel image: stop)\n");
            return;
        }
        Previous = Rbp;
        Rbp = (LINEAR)Record[0];
    }
    if (Rbp != 0) ExceptionPrint("  (more frames not shown)\n");
}

/************************************************************************/
// Error code decoding (Intel SDM vol. 3A 6.13 and 4.7)

static void ExceptionDescribeError(const INTERRUPT_FRAME* Frame, U64 Cr2) {
    U8 Vector = (U8)Frame->Vector;
    U64 Code = Frame->ErrorCode;

    if (Vector == 14) {
        ExceptionPrint("Page fault address CR2=%016llx: %s, %s, %s mode, %s%s%s%s%s\n", Cr2,
                       (Code & 0x01) ? "protection violation" : "page not present", (Code & 0x02) ? "write" : "read",
                       (Code & 0x04) ? "user" : "kernel", (Code & 0x10) ? "instruction fetch" : "data access",
                       (Code & 0x08) ? ", reserved bit set" : "", (Code & 0x20) ? ", protection key" : "",
                       (Code & 0x40) ? ", shadow stack" : "", (Code & 0x8000) ? ", SGX" : "");
        if (Cr2 < N_4KB) ExceptionPrint("(an access near address 0: probably a NULL pointer)\n");
        return;
    }

    BOOL SelectorError = Vector == 10 || Vector == 11 || Vector == 12 || Vector == 13;
    if (SelectorError && Code != 0) {
        LPCSTR Table = (Code & 0x02) ? "IDT" : ((Code & 0x04) ? "LDT" : "GDT");
        ExceptionPrint("Error code %04llx: %s entry %llu (selector %04llx)%s\n", Code, Table, (Code >> 3) & 0x1FFF,
                       Code & 0xFFF8, (Code & 0x01) ? ", external event" : "");
    } else if (SelectorError && Vector == 13) {
        ExceptionPrint("Error code 0: no selector involved (e.g. a non-canonical address or a privileged "
                       "instruction)\n");
    } else if (Vector == 8) {
        ExceptionPrint("Double fault: an exception while delivering another (often a kernel stack overflow)\n");
    }
}

static void ExceptionDumpRegisters(const INTERRUPT_FRAME* Frame, U64 Cr2) {
    ExceptionPrint("RAX=%016llx RBX=%016llx RCX=%016llx\n", Frame->RAX, Frame->RBX, Frame->RCX);
    ExceptionPrint("RDX=%016llx RSI=%016llx RDI=%016llx\n", Frame->RDX, Frame->RSI, Frame->RDI);
    ExceptionPrint("RBP=%016llx RSP=%016llx R8 =%016llx\n", Frame->RBP, Frame->RSP, Frame->R8);
    ExceptionPrint("R9 =%016llx R10=%016llx R11=%016llx\n", Frame->R9, Frame->R10, Frame->R11);
    ExceptionPrint("R12=%016llx R13=%016llx R14=%016llx\n", Frame->R12, Frame->R13, Frame->R14);
    ExceptionPrint("R15=%016llx RIP=%016llx RFL=%016llx\n", Frame->R15, Frame->RIP, Frame->RFLAGS);
    ExceptionPrint("CS=%04llx SS=%04llx ERR=%016llx VECTOR=%llu\n", Frame->CS & 0xFFFF, Frame->SS & 0xFFFF,
                   Frame->ErrorCode, Frame->Vector);
    ExceptionPrint("CR0=%016llx CR2=%016llx CR3=%016llx\n", ReadCR0(), Cr2, ReadCR3());
    ExceptionPrint("CR4=%016llx\n", ReadCR4());
}

/************************************************************************/

#define EXCEPTION_VECTOR_NMI 2

NORETURN void ExceptionHandle(INTERRUPT_FRAME* Frame) {
    DisableInterrupts();
    U64 Cr2 = ReadCR2();  // first, before anything else can fault and change it
    U8 Vector = (U8)Frame->Vector;
    if (Vector == EXCEPTION_VECTOR_NMI && SMPIsHalting()) SMPHaltThisCPU();

    // GS may not point at a PER_CPU yet (a fault before SMPInitBootCPU): look the CPU up by GS_BASE.
    U32 Cpu = SMPCurrentIndexSafe();
    PER_CPU* PerCpu = SMPGetCPU(Cpu);
    U32 Depth = PerCpu ? __atomic_add_fetch(&PerCpu->ExceptionDepth, 1, __ATOMIC_SEQ_CST) : 1;
    if (Depth == 2) {
        ExceptionPrint("\nNESTED EXCEPTION: %s (%s) at RIP=%016llx CR2=%016llx while handling an exception; halted.\n",
                       InterruptExceptionName(Vector), InterruptExceptionMnemonic(Vector), Frame->RIP, Cr2);
    }
    if (Depth >= 2) SMPHaltThisCPU();  // a third one (the print above faulted): silence
    SMPHaltOthers();

    ExceptionPrint("\nEXCEPTION: %s (%s) at RIP=%016llx", InterruptExceptionName(Vector),
                   InterruptExceptionMnemonic(Vector), Frame->RIP);
    ExceptionPrint(SMPGetOnlineCount() > 1 || Cpu != 0 ? " on CPU %u\n" : "\n", Cpu);
    ExceptionDescribeError(Frame, Cr2);
    ExceptionDumpRegisters(Frame, Cr2);
    ExceptionBacktrace(Frame);
    ExceptionPrint("System halted.\n");
    SMPHaltThisCPU();
}

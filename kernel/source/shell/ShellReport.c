/*
 * ShellReport.c - `report`: everything a tester sends back from a real
 * machine, in one go (documentation/Bare-Metal.md).
 *
 * Layer: shell. It owns no facts of its own: it runs the commands that
 * show them (pci, nvme list, disk, vmd when this build has it, usb, acpi, log)
 * under a header naming the build, the firmware and the console, with the
 * console captured into one buffer. The whole text then goes to the serial
 * line at once (to be copied from a terminal), and to the screens one page
 * at a time (to be photographed), a key between pages, q to stop paging.
 * Commands are looked up when the report runs, so a command added later
 * (vmd) joins the report by name.
 */

#include "core/Kernel.h"
#include "core/Multiboot.h"
#include "drivers/console/Console.h"
#include "drivers/console/Framebuffer.h"
#include "drivers/console/Input.h"
#include "drivers/console/VGA.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "shell/ShellRedirect.h"
#include "shell/ShellCommands.h"
#include "utils/String.h"

#define REPORT_BUFFER_SIZE (512 * 1024)
#define MORE_PROMPT "-- more: any key for the next page, q to stop --"

typedef struct tag_REPORT_SECTION {
    LPCSTR Title;
    LPCSTR Command;  // run through the shell; skipped when its first word is not a command
} REPORT_SECTION;

static const REPORT_SECTION ReportSections[] = {
    {"pci", "pci"}, {"nvme", "nvme list"}, {"disks", "disk"}, {"vmd", "vmd"}, {"usb", "usb"}, {"acpi", "acpi"},
    {"log", "log"},
};

static BOOL CommandExists(LPCSTR Line) {
    char Name[SHELL_MAX_NAME_LENGTH + 1];
    SIZE Length = 0;
    while (Line[Length] != 0 && Line[Length] != ' ' && Length < SHELL_MAX_NAME_LENGTH) Length++;
    MemoryCopy(Name, Line, Length);
    Name[Length] = 0;
    return ShellFindCommand(Name) != NULL;
}

static void PrintReport(void) {
    char Console[160];
    if (FramebufferIsPresent()) FramebufferDescribe(Console, sizeof(Console));
    else StringCopy(Console, VGAIsPresent() ? "VGA text" : "serial only", sizeof(Console));
    ShellPrint("==== Cairn %s report ====\n", CAIRN_VERSION);
    ShellPrint("firmware: %s, boot loader \"%s\"\n", KernelBootInfo.BootedFromEFI ? "UEFI" : "BIOS",
               KernelBootInfo.BootLoaderName);
    ShellPrint("command line: \"%s\"\n", KernelBootInfo.CommandLine);
    ShellPrint("console: %s\n", Console);
    for (U32 Index = 0; Index < ARRAY_COUNT(ReportSections); Index++) {
        if (!CommandExists(ReportSections[Index].Command)) continue;
        ShellPrint("==== %s ====\n", ReportSections[Index].Title);
        ShellExecute(ReportSections[Index].Command);
    }
    ShellPrint("==== end of report ====\n");
}

/** Where the screen page that starts at Start ends: after Rows - 1 screen lines (long lines wrap). */
static SIZE PageEnd(LPCSTR Text, SIZE Length, SIZE Start, U32 Columns, U32 Rows) {
    U32 Lines = 0, Column = 0;
    SIZE Position = Start;
    while (Position < Length && Lines < Rows - 1) {
        char C = Text[Position++];
        if (C == '\n' || ++Column == Columns) {
            if (C != '\n' && Position < Length && Text[Position] == '\n') Position++;  // exactly full line
            Lines++;
            Column = 0;
        }
    }
    return Position;
}

static void PageOnScreens(LPCSTR Text, SIZE Length) {
    U32 Columns, Rows;
    if (!ConsoleScreenSize(&Columns, &Rows) || Rows < 2) return;
    for (SIZE Start = 0; Start < Length;) {
        SIZE End = PageEnd(Text, Length, Start, Columns, Rows);
        ConsoleWriteTo(CONSOLE_TO_SCREENS, Text + Start, End - Start);
        Start = End;
        if (Start >= Length) break;
        ConsoleWriteTo(CONSOLE_TO_SCREENS, MORE_PROMPT, sizeof(MORE_PROMPT) - 1);
        KEY Key = InputReadKey();
        ConsoleWriteTo(CONSOLE_TO_SCREENS, "\r\x1b[K", 4);
        if (Key == 'q' || Key == 'Q' || Key == KEY_ESCAPE || Key == KEY_CTRL('c')) {
            ConsoleWriteTo(CONSOLE_TO_SCREENS, "(the rest of the report is on the serial line)\n", 48);
            break;
        }
    }
}

static I32 CommandReport(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("report", "takes no arguments");
        return -1;
    }
    if (ShellRedirectActive()) {  // `report > FILE`: all of it into the file, no paging
        PrintReport();
        return 0;
    }
    LPSTR Buffer = KernelHeapAlloc(REPORT_BUFFER_SIZE);
    if (Buffer == NULL || !ConsoleCaptureBegin(Buffer, REPORT_BUFFER_SIZE)) {
        KernelHeapFree(Buffer);
        ShellPrint("report: cannot collect the output (out of memory or a capture runs): printing it as it comes\n");
        PrintReport();
        return 0;
    }
    PrintReport();
    SIZE Produced = ConsoleCaptureEnd();
    SIZE Length = MIN(Produced, (SIZE)REPORT_BUFFER_SIZE);
    ConsoleWriteTo(CONSOLE_TO_LINES, Buffer, Length);
    PageOnScreens(Buffer, Length);
    KernelHeapFree(Buffer);
    if (Produced > Length) {
        ShellPrint("report: %llu bytes past the first %u were cut\n", (U64)(Produced - Length), REPORT_BUFFER_SIZE);
    }
    return 0;
}

static const SHELL_COMMAND ReportCommand = {
    "report", "", "Everything a tester sends back (pci, nvme, disks, vmd, usb, acpi, log); pages on the screen",
    CommandReport};

void ShellRegisterReportCommand(void) { ShellRegisterCommand(&ReportCommand); }

/*
 * Shell.c - the command table, command execution and the read loop (see Shell.h).
 *
 * The table is a fixed array kept sorted by name, so `help` and lookups
 * need no extra work. ShellRun owns the line editor; commands run on the
 * shell's own stack with interrupts enabled. Registration normally happens
 * during boot, before ShellRun; it is not meant to race with a running
 * command.
 */

#include "shell/Shell.h"
#include "shell/ShellRedirect.h"

#include "fs/VFS.h"

#include "core/CommandLine.h"
#include "drivers/console/Console.h"
#include "drivers/console/Input.h"
#include "utils/Format.h"
#include "utils/LineEditor.h"
#include "utils/String.h"

#define SHELL_PRINT_BUFFER 512

static SHELL_COMMAND ShellCommands[SHELL_MAX_COMMANDS];
static U32 ShellCommandTotal;
static LINE_EDITOR ShellEditor;  // 8 KiB of history: too big for the stack

/************************************************************************/
// Output

void ShellWrite(LPCSTR Text, SIZE Length) {
    if (!ShellRedirectWrite(Text, Length)) ConsoleWrite(Text, Length);
}

void ShellPrint(LPCSTR Format, ...) {
    char Buffer[SHELL_PRINT_BUFFER];
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    SIZE Length = StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    VA_END(Arguments);
    ShellWrite(Buffer, MIN(Length, sizeof(Buffer) - 1));
}

void ShellNote(LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    ConsolePrintV(Format, Arguments);
    VA_END(Arguments);
}

void ShellError(LPCSTR Command, LPCSTR Format, ...) {
    char Buffer[SHELL_PRINT_BUFFER];
    VA_LIST Arguments;
    SIZE Length = StringPrintFormat(Buffer, sizeof(Buffer), "%s: ", Command);
    if (Length < sizeof(Buffer)) {
        VA_START(Arguments, Format);
        Length += StringPrintFormatV(Buffer + Length, sizeof(Buffer) - Length, Format, Arguments);
        VA_END(Arguments);
    }
    if (Length > sizeof(Buffer) - 2) Length = sizeof(Buffer) - 2;
    Buffer[Length++] = '\n';
    ConsoleWrite(Buffer, Length);
}

static void ShellEditorOutput(LPCSTR Text, SIZE Length, LPVOID Context) {
    UNUSED(Context);
    ConsoleWrite(Text, Length);
}

/************************************************************************/
// The command table

static BOOL ValidName(LPCSTR Name) {
    SIZE Length = StringLengthBounded(Name, SHELL_MAX_NAME_LENGTH + 1);
    if (Length == 0 || Length > SHELL_MAX_NAME_LENGTH) return FALSE;
    for (SIZE I = 0; I < Length; I++) {
        if (!CharIsPrintable(Name[I]) || Name[I] == ' ' || Name[I] == '"') return FALSE;
    }
    return TRUE;
}

BOOL ShellRegisterCommand(const SHELL_COMMAND* Command) {
    if (Command == NULL || Command->Name == NULL || Command->Function == NULL || !ValidName(Command->Name)) {
        return FALSE;
    }
    if (ShellCommandTotal >= SHELL_MAX_COMMANDS) return FALSE;

    U32 Position = 0;
    while (Position < ShellCommandTotal) {
        I32 Order = StringCompare(ShellCommands[Position].Name, Command->Name);
        if (Order == 0) return FALSE;
        if (Order > 0) break;
        Position++;
    }
    for (U32 Index = ShellCommandTotal; Index > Position; Index--) ShellCommands[Index] = ShellCommands[Index - 1];
    ShellCommands[Position] = *Command;
    if (ShellCommands[Position].Usage == NULL) ShellCommands[Position].Usage = "";
    if (ShellCommands[Position].Description == NULL) ShellCommands[Position].Description = "";
    ShellCommandTotal++;
    return TRUE;
}

U32 ShellCommandCount(void) { return ShellCommandTotal; }

const SHELL_COMMAND* ShellCommandAt(U32 Index) { return Index < ShellCommandTotal ? &ShellCommands[Index] : NULL; }

const SHELL_COMMAND* ShellFindCommand(LPCSTR Name) {
    for (U32 Index = 0; Index < ShellCommandTotal; Index++) {
        if (StringCompare(ShellCommands[Index].Name, Name) == 0) return &ShellCommands[Index];
    }
    return NULL;
}

LPCSTR ShellGetCurrentDirectory(void) { return VFSGetCurrentDirectory(); }

/************************************************************************/
// Running commands

I32 ShellExecute(LPCSTR Line) {
    char Buffer[LINE_EDITOR_MAX_LENGTH];
    LPSTR Arguments[SHELL_MAX_ARGUMENTS];

    if (Line == NULL) return -1;
    if (StringCopy(Buffer, Line, sizeof(Buffer)) >= sizeof(Buffer)) {
        ShellPrint("Command line too long (at most %u characters)\n", (U32)sizeof(Buffer) - 1);
        return -1;
    }
    SHELL_REDIRECT_TARGET Target;
    LPCSTR Problem = ShellRedirectSplit(Buffer, &Target);  // cuts Buffer at the first unquoted '>'
    I32 Count = CommandLineSplit(Buffer, Arguments, SHELL_MAX_ARGUMENTS);
    if (Problem != NULL || (Count == 0 && Target.Path != NULL)) {
        ShellError(Count > 0 ? Arguments[0] : "shell", "%s", Problem ? Problem : "missing command before '>'");
        return -1;
    }
    if (Count == 0) return 0;
    if (Count < 0) {
        // Name the command by the first word as typed (quotes and all) and say what went wrong.
        char Name[SHELL_MAX_NAME_LENGTH + 1];
        U32 Quotes = 0, Length = 0;
        while (*Line == ' ' || *Line == '\t') Line++;
        for (LPCSTR P = Line; *P; P++) Quotes += (*P == '"');
        while (Line[Length] && Line[Length] != ' ' && Line[Length] != '\t' && Length < SHELL_MAX_NAME_LENGTH) Length++;
        MemoryCopy(Name, Line, Length);
        Name[Length] = 0;
        if (Quotes % 2 != 0) ShellError(Name, "unbalanced quote");
        else ShellError(Name, "too many arguments (at most %u words)", (U32)SHELL_MAX_ARGUMENTS);
        return -1;
    }

    const SHELL_COMMAND* Command = ShellFindCommand(Arguments[0]);
    if (Command == NULL) {
        ShellPrint("Unknown command: %s (type help for a list)\n", Arguments[0]);
        return -1;
    }
    if (Target.Path == NULL) return Command->Function(Count, Arguments);
    if (!ShellRedirectBegin(&Target, Arguments[0])) return -1;  // the command does not run
    I32 Result = Command->Function(Count, Arguments);
    if (ShellRedirectEnd(Arguments[0]) != 0) Result = -1;
    return Result;
}

void ShellRunAutorun(LPCSTR List) {
    char Command[LINE_EDITOR_MAX_LENGTH];
    while (List != NULL && *List != 0) {
        SIZE Length = 0;
        while (List[Length] != 0 && List[Length] != SHELL_AUTORUN_SEPARATOR) Length++;
        SIZE Kept = MIN(Length, sizeof(Command) - 1);
        MemoryCopy(Command, List, Kept);
        Command[Kept] = 0;
        List += Length + (List[Length] != 0);
        LPCSTR Start = Command;
        while (*Start == ' ') Start++;
        if (*Start == 0) continue;
        ShellPrint("%s> %s\n", ShellGetCurrentDirectory(), Start);
        ShellExecute(Start);
    }
}

NORETURN void ShellRun(void) {
    LineEditorInit(&ShellEditor, ShellEditorOutput, NULL);
    for (;;) {
        ShellPrint("%s> ", ShellGetCurrentDirectory());
        LineEditorBegin(&ShellEditor);
        LINE_EDITOR_RESULT Result;
        do {
            Result = LineEditorFeed(&ShellEditor, InputReadKey());
        } while (Result == LINE_EDITOR_CONTINUE);
        if (Result != LINE_EDITOR_DONE) continue;

        LineEditorAddHistory(&ShellEditor, ShellEditor.Line);
        ShellExecute(ShellEditor.Line);
    }
}

/*
 * Shell.h - the kernel shell.
 *
 * Reads lines from the input stream with the line editor, splits them into
 * arguments and runs commands from a table. Other modules add their
 * commands with ShellRegisterCommand (help lists them all, sorted). A command
 * returns 0 on success; an error prints one line and the prompt comes back.
 */

#ifndef SHELL_SHELL_H_INCLUDED
#define SHELL_SHELL_H_INCLUDED

#include "Base.h"

#define SHELL_MAX_ARGUMENTS 16

typedef I32 (*SHELL_COMMAND_FUNCTION)(I32 ArgumentCount, LPSTR* Arguments);

typedef struct tag_SHELL_COMMAND {
    LPCSTR Name;
    LPCSTR Usage;        // arguments, e.g. "[pf|gp|ud|de]"
    LPCSTR Description;  // one line
    SHELL_COMMAND_FUNCTION Function;
} SHELL_COMMAND;

BOOL ShellRegisterCommand(const SHELL_COMMAND* Command);
/** Prints "<cmd>: <message>" style errors consistently. */
void ShellError(LPCSTR Command, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
void ShellPrint(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
/** The current directory (shown in the prompt). */
LPCSTR ShellGetCurrentDirectory(void);
/** Runs one command line; returns the command's result (or -1). */
I32 ShellExecute(LPCSTR Line);
/** The shell loop; never returns. */
NORETURN void ShellRun(void);

/** Registers the built-in commands (help, mem, log, uptime, cpu, echo, fault). */
void ShellRegisterBuiltins(void);

#endif  // SHELL_SHELL_H_INCLUDED

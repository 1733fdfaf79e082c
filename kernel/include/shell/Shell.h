/*
 * Shell.h - the kernel shell.
 *
 * Reads lines from the input stream with the line editor, splits them into
 * arguments and runs commands from a table. Other modules add their
 * commands with ShellRegisterCommand (help lists them all, sorted). A command
 * returns 0 on success; an error prints one line and the prompt comes back.
 *
 * Conventions for commands: print through ShellPrint, end every line with
 * '\n' (the prompt must start a line), report a bad argument with exactly
 * one ShellError line ("<cmd>: <reason>") and return non-zero. ShellError
 * lines stay on the terminal when the output goes to a file (`cmd > PATH`).
 */

#ifndef SHELL_SHELL_H_INCLUDED
#define SHELL_SHELL_H_INCLUDED

#include "Base.h"

#define SHELL_MAX_ARGUMENTS 16
#define SHELL_MAX_COMMANDS 64
#define SHELL_MAX_NAME_LENGTH 16

typedef I32 (*SHELL_COMMAND_FUNCTION)(I32 ArgumentCount, LPSTR* Arguments);

typedef struct tag_SHELL_COMMAND {
    LPCSTR Name;
    LPCSTR Usage;        // arguments, e.g. "[pf|gp|ud|de]"
    LPCSTR Description;  // one line
    SHELL_COMMAND_FUNCTION Function;
} SHELL_COMMAND;

/**
 * Adds a command (the table keeps a copy of the structure; the strings must
 * stay valid). FALSE for a duplicate or invalid name, or when the table is full.
 */
BOOL ShellRegisterCommand(const SHELL_COMMAND* Command);
/** Commands in name order: Index from 0 to ShellCommandCount() - 1. */
U32 ShellCommandCount(void);
const SHELL_COMMAND* ShellCommandAt(U32 Index);
const SHELL_COMMAND* ShellFindCommand(LPCSTR Name);
/** Prints "<cmd>: <message>" style errors consistently. */
void ShellError(LPCSTR Command, LPCSTR Format, ...) PRINTF_LIKE(2, 3);
/** A command's output: to the terminal, or to the file of `> PATH` (ShellRedirect.h). */
void ShellPrint(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
void ShellWrite(LPCSTR Text, SIZE Length);
/** A line for the user at the terminal even while the output is redirected (like stderr; `time`'s report). */
void ShellNote(LPCSTR Format, ...) PRINTF_LIKE(1, 2);
/** The current directory (shown in the prompt). */
LPCSTR ShellGetCurrentDirectory(void);
/** Runs one command line; returns the command's result (or -1). */
I32 ShellExecute(LPCSTR Line);
/** Separates the commands of the autorun= kernel option: autorun="nvme list;disk;report". */
#define SHELL_AUTORUN_SEPARATOR ';'
/**
 * Runs each command of List (the autorun= option; NULL or "" runs nothing)
 * in order, each shown after a prompt as if typed, before the shell reads
 * the keyboard. Empty commands are skipped; a failing one does not stop the rest.
 */
void ShellRunAutorun(LPCSTR List);
/** The shell loop; never returns. */
NORETURN void ShellRun(void);

/** Registers the built-in commands (help, mem, log, uptime, cpu, echo, fault, clear). */
void ShellRegisterBuiltins(void);

#endif  // SHELL_SHELL_H_INCLUDED

/*
 * CommandLine.h - the kernel command line from grub.cfg.
 *
 * Options are space separated `name=value` or bare `name` (a flag, value
 * ""). Values may be quoted with double quotes (`name="a b"`; the quotes
 * are removed); a word quoted whole, as GRUB passes an argument holding a
 * space (`"name=a b"`), is split at its first '='. When an option appears twice the last one wins. A token
 * with an empty name (`=x`) is ignored. KernelGetOption returns the value
 * or NULL when the option is absent. The parser (CommandLineParse) is pure;
 * CommandLineSplit, also pure, splits shell command lines into arguments.
 */

#ifndef CORE_COMMANDLINE_H_INCLUDED
#define CORE_COMMANDLINE_H_INCLUDED

#include "Base.h"

#define COMMAND_LINE_MAX_OPTIONS 32
#define COMMAND_LINE_MAX_LENGTH 256

typedef struct tag_COMMAND_LINE {
    char Storage[COMMAND_LINE_MAX_LENGTH];
    U32 Count;
    LPCSTR Names[COMMAND_LINE_MAX_OPTIONS];
    LPCSTR Values[COMMAND_LINE_MAX_OPTIONS];  // "" for a bare flag
} COMMAND_LINE;

/**
 * Parses Text into options; returns FALSE if it was truncated (too long or
 * too many options: the options that fit are kept) or a quote was left open
 * (the rest of the text is the last value).
 */
BOOL CommandLineParse(COMMAND_LINE* Line, LPCSTR Text);
LPCSTR CommandLineGet(const COMMAND_LINE* Line, LPCSTR Name);

/**
 * Splits Text (modified in place) into at most MaxArguments words, honouring
 * double quotes; returns the count, or -1 if there were too many words or a
 * quote was left open.
 */
I32 CommandLineSplit(LPSTR Text, LPSTR* Arguments, U32 MaxArguments);

void KernelCommandLineInit(LPCSTR Text);
LPCSTR KernelGetOption(LPCSTR Name);
/** Numeric option (decimal, 0x hex, k/M/G suffixes) with a default when absent or malformed. */
U64 KernelGetOptionNumber(LPCSTR Name, U64 Default);

#endif  // CORE_COMMANDLINE_H_INCLUDED

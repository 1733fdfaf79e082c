/*
 * ShellRedirect.h - a command's output into a file: `cmd ... > PATH` and
 * `cmd ... >> PATH` (the shell layer, above the VFS).
 *
 * What goes: everything a command prints through ShellPrint (and the file
 * commands' data, ShellWrite), from any thread, while it runs. What stays on
 * the terminal: ShellError lines and ShellNote lines (`time`'s report), as a
 * Unix shell keeps stderr. /dev/null takes everything and keeps nothing.
 *
 * Invariants: one redirection at a time (a command run by a redirected one
 * may not redirect again); the file is opened before the command runs (a
 * file that cannot be opened means the command does not run) and closed
 * after it, its buffered tail written; a write that fails is reported once
 * after the command and what follows is dropped, never half-written
 * silently.
 */

#ifndef SHELL_SHELL_REDIRECT_H_INCLUDED
#define SHELL_SHELL_REDIRECT_H_INCLUDED

#include "Base.h"

typedef struct tag_SHELL_REDIRECT_TARGET {
    LPSTR Path;   // inside the line given to ShellRedirectSplit; NULL: no redirection
    BOOL Append;  // `>>`
} SHELL_REDIRECT_TARGET;

/**
 * Finds the first '>' outside double quotes in Line and cuts the line there; what follows (one word, quotes
 * allowed, after '>' or '>>') becomes Target->Path. NULL when the line is fine (with or without a redirection),
 * else why not ("missing file name after '>'", "one file name after '>'").
 */
LPCSTR ShellRedirectSplit(LPSTR Line, SHELL_REDIRECT_TARGET* Target);

/** Sends output to Target's file from now on; FALSE (one ShellError line naming Command) when it cannot. */
BOOL ShellRedirectBegin(const SHELL_REDIRECT_TARGET* Target, LPCSTR Command);
/** Writes what is buffered, closes the file, output goes back to the terminal; -1 after a failed write. */
I32 ShellRedirectEnd(LPCSTR Command);
/** TRUE while a command's output goes to a file. */
BOOL ShellRedirectActive(void);
/** Takes Text when a redirection runs (TRUE); FALSE: the caller writes it to the terminal. */
BOOL ShellRedirectWrite(LPCSTR Text, SIZE Length);

#endif  // SHELL_SHELL_REDIRECT_H_INCLUDED

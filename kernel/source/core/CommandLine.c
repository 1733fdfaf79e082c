/*
 * CommandLine.c - kernel command line and shell word splitting (see CommandLine.h).
 *
 * Both parsers read words the same way: spaces separate words, double
 * quotes group spaces into a word and are removed. CommandLineParse copies
 * the words into the COMMAND_LINE's own storage (name, zero, value, zero),
 * so the caller's text need not live on; CommandLineSplit works in place.
 *
 * The kernel's parsed line is set once by KernelCommandLineInit, early in
 * KernelMain on one CPU, and is read-only afterwards.
 */

#include "core/CommandLine.h"

#include "utils/String.h"

#ifndef CAIRN_HOST_BUILD
#include "core/Log.h"
#endif

static BOOL IsSeparator(char C) { return C == ' ' || C == '\t' || C == '\n' || C == '\r'; }

/************************************************************************/
// Kernel command line options

typedef struct tag_PARSE_STATE {
    COMMAND_LINE* Line;
    U32 Used;          // bytes of Storage in use
    BOOL Truncated;
} PARSE_STATE;

/** Appends C to Storage; FALSE when full (one byte always stays free for a terminator). */
static BOOL StoreChar(PARSE_STATE* State, char C) {
    if (State->Used + 1 >= COMMAND_LINE_MAX_LENGTH) {
        State->Truncated = TRUE;
        return FALSE;
    }
    State->Line->Storage[State->Used++] = C;
    return TRUE;
}

/**
 * GRUB passes an argument that holds a space as one quoted word
 * ("autorun=nvme list;disk", grub_create_loader_cmdline): a word without an
 * unquoted '=' but with one inside is split at its first '='.
 */
static BOOL SplitQuotedWord(COMMAND_LINE* Line, U32 NameStart, U32* ValueStart) {
    for (U32 Index = NameStart; Line->Storage[Index] != 0; Index++) {
        if (Line->Storage[Index] == '=') {
            Line->Storage[Index] = 0;
            *ValueStart = Index + 1;
            return TRUE;
        }
    }
    return FALSE;
}

BOOL CommandLineParse(COMMAND_LINE* Line, LPCSTR Text) {
    PARSE_STATE State = {Line, 0, FALSE};
    BOOL OpenQuote = FALSE;

    MemorySet(Line, 0, sizeof(*Line));
    if (Text == NULL) return TRUE;

    while (*Text) {
        while (IsSeparator(*Text)) Text++;
        if (*Text == 0) break;

        // One word: the name, then (after the first unquoted '=') the value.
        U32 NameStart = State.Used;
        U32 ValueStart = 0;
        BOOL HasValue = FALSE;
        BOOL Quoted = FALSE;
        BOOL Fits = TRUE;
        for (; *Text && (Quoted || !IsSeparator(*Text)); Text++) {
            char C = *Text;
            if (C == '"') {
                Quoted = !Quoted;
                continue;
            }
            if (!Fits) continue;
            if (C == '=' && !Quoted && !HasValue) {
                HasValue = TRUE;
                Fits = StoreChar(&State, 0);
                ValueStart = State.Used;
                continue;
            }
            Fits = StoreChar(&State, C);
        }
        if (Quoted) OpenQuote = TRUE;
        if (!Fits) {
            // The word did not fit: drop it (a half option would be worse than none).
            State.Used = NameStart;
            break;
        }
        if (!StoreChar(&State, 0)) {
            State.Used = NameStart;
            break;
        }
        if (!HasValue) HasValue = SplitQuotedWord(Line, NameStart, &ValueStart);
        if (Line->Storage[NameStart] == 0) {
            State.Used = NameStart;  // empty word or empty name ("", =x): ignored
            continue;
        }
        if (Line->Count >= COMMAND_LINE_MAX_OPTIONS) {
            State.Truncated = TRUE;
            State.Used = NameStart;
            break;
        }
        Line->Names[Line->Count] = &Line->Storage[NameStart];
        // A bare flag's value is the empty string at the end of its name.
        Line->Values[Line->Count] = HasValue ? &Line->Storage[ValueStart] : &Line->Storage[State.Used - 1];
        Line->Count++;
    }

    Line->Storage[State.Used] = 0;
    return !State.Truncated && !OpenQuote;
}

LPCSTR CommandLineGet(const COMMAND_LINE* Line, LPCSTR Name) {
    if (Line == NULL || Name == NULL) return NULL;
    for (U32 Index = Line->Count; Index > 0; Index--) {
        if (StringCompare(Line->Names[Index - 1], Name) == 0) return Line->Values[Index - 1];
    }
    return NULL;
}

/************************************************************************/
// Shell word splitting

I32 CommandLineSplit(LPSTR Text, LPSTR* Arguments, U32 MaxArguments) {
    U32 Count = 0;
    LPSTR Read = Text;

    if (Text == NULL) return 0;
    for (;;) {
        while (IsSeparator(*Read)) Read++;
        if (*Read == 0) break;
        if (Count >= MaxArguments) return -1;

        // Quotes are removed by copying the word onto itself; Write never passes Read.
        LPSTR Write = Read;
        Arguments[Count++] = Write;
        BOOL Quoted = FALSE;
        for (; *Read && (Quoted || !IsSeparator(*Read)); Read++) {
            if (*Read == '"') {
                Quoted = !Quoted;
                continue;
            }
            *Write++ = *Read;
        }
        if (Quoted) return -1;
        BOOL AtEnd = (*Read == 0);
        *Write = 0;
        if (AtEnd) break;
        Read++;  // past the separator (which Write may have overwritten only if Write == Read)
    }
    return (I32)Count;
}

/************************************************************************/
// The kernel's command line

static COMMAND_LINE KernelCommandLine;

void KernelCommandLineInit(LPCSTR Text) {
    BOOL Complete = CommandLineParse(&KernelCommandLine, Text);
#ifndef CAIRN_HOST_BUILD
    if (!Complete) WARNING("[KernelCommandLineInit] command line truncated or malformed: \"%s\"", Text);
#else
    UNUSED(Complete);
#endif
}

LPCSTR KernelGetOption(LPCSTR Name) { return CommandLineGet(&KernelCommandLine, Name); }

U64 KernelGetOptionNumber(LPCSTR Name, U64 Default) {
    LPCSTR Value = KernelGetOption(Name);
    U64 Number;
    if (Value == NULL || !StringToU64(Value, &Number, TRUE)) return Default;
    return Number;
}

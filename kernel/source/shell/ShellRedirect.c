/*
 * ShellRedirect.c - `> PATH` and `>> PATH` after a shell command (see
 * ShellRedirect.h): the split of the line, and the sink that takes the
 * command's output while it runs.
 *
 * The sink is one static structure under a mutex: output may come from a
 * command's worker threads too, and never from interrupt handlers (ShellPrint
 * is for commands). Small writes gather in a 4 KiB buffer so a listing does
 * not cost a file write a line; large ones (cat of a big file) go straight
 * through. /dev/null is a sink that drops, so `time cat FILE > /dev/null`
 * measures the read path alone.
 */

#include "shell/ShellRedirect.h"

#include "shell/Shell.h"

#include "core/CommandLine.h"
#include "core/Sync.h"
#include "fs/VFS.h"
#include "utils/String.h"

#define REDIRECT_BUFFER_BYTES 4096
#define REDIRECT_DISCARD_PATH "/dev/null"

typedef struct tag_SHELL_REDIRECT {
    MUTEX Lock;
    BOOL Active;           // read without the lock first: the common case is no redirection
    BOOL Discard;          // /dev/null
    VFS_FILE* File;
    VFS_STATUS Failure;    // the first failed write (VFS_OK: none); what follows is dropped
    LPCSTR Path;           // for the error line
    U32 Used;
    U8 Buffer[REDIRECT_BUFFER_BYTES];
} SHELL_REDIRECT;

static SHELL_REDIRECT Redirect;
static BOOL RedirectLockReady;

/************************************************************************/
// The split

LPCSTR ShellRedirectSplit(LPSTR Line, SHELL_REDIRECT_TARGET* Target) {
    Target->Path = NULL;
    Target->Append = FALSE;
    BOOL Quoted = FALSE;
    LPSTR Mark = NULL;
    for (LPSTR P = Line; *P; P++) {
        if (*P == '"') Quoted = !Quoted;
        else if (*P == '>' && !Quoted) {
            Mark = P;
            break;
        }
    }
    if (Mark == NULL) return NULL;
    *Mark = 0;  // the command ends here
    LPSTR Rest = Mark + 1;
    if (*Rest == '>') {
        Target->Append = TRUE;
        Rest++;
    }
    LPSTR Words[2];
    I32 Count = CommandLineSplit(Rest, Words, 2);
    if (Count == 0) return Target->Append ? "missing file name after '>>'" : "missing file name after '>'";
    if (Count < 0 || Count > 1) return "one file name after '>' (quote a name with spaces)";
    for (LPSTR P = Words[0]; *P; P++) {
        if (*P == '>') return "one redirection a command";
    }
    Target->Path = Words[0];
    return NULL;
}

/************************************************************************/
// The sink

BOOL ShellRedirectActive(void) { return __atomic_load_n(&Redirect.Active, __ATOMIC_ACQUIRE); }

/** Writes Length bytes to the file unless a write failed before; the lock is held. */
static void WriteLocked(LPCVOID Data, U32 Length) {
    if (Redirect.Discard || Redirect.Failure != VFS_OK || Length == 0) return;
    U32 Done = 0;
    VFS_STATUS Status = VFSWrite(Redirect.File, Data, Length, &Done);
    if (Status == VFS_OK && Done < Length) Status = VFS_ERROR_NO_SPACE;
    Redirect.Failure = Status;
}

static void FlushLocked(void) {
    WriteLocked(Redirect.Buffer, Redirect.Used);
    Redirect.Used = 0;
}

BOOL ShellRedirectWrite(LPCSTR Text, SIZE Length) {
    if (!ShellRedirectActive()) return FALSE;
    MutexLock(&Redirect.Lock);
    if (!Redirect.Active) {  // ended meanwhile: the terminal takes it
        MutexUnlock(&Redirect.Lock);
        return FALSE;
    }
    if (Redirect.Used + Length > REDIRECT_BUFFER_BYTES) FlushLocked();
    if (Length >= REDIRECT_BUFFER_BYTES) {
        for (SIZE Done = 0; Done < Length;) {  // VFSWrite takes a U32
            U32 Part = (U32)MIN(Length - Done, (SIZE)0x40000000);
            WriteLocked(Text + Done, Part);
            Done += Part;
        }
    } else {
        MemoryCopy(Redirect.Buffer + Redirect.Used, Text, Length);
        Redirect.Used += (U32)Length;
    }
    MutexUnlock(&Redirect.Lock);
    return TRUE;
}

BOOL ShellRedirectBegin(const SHELL_REDIRECT_TARGET* Target, LPCSTR Command) {
    if (!RedirectLockReady) {
        MutexInit(&Redirect.Lock);
        RedirectLockReady = TRUE;
    }
    if (ShellRedirectActive()) {
        ShellError(Command, "output is already redirected");
        return FALSE;
    }
    VFS_FILE* File = NULL;
    BOOL Discard = StringCompare(Target->Path, REDIRECT_DISCARD_PATH) == 0;
    if (!Discard) {
        U32 Flags = VFS_OPEN_WRITE | VFS_OPEN_CREATE | (Target->Append ? VFS_OPEN_APPEND : VFS_OPEN_TRUNCATE);
        VFS_STATUS Status = VFSOpen(Target->Path, Flags, &File);
        if (Status != VFS_OK) {
            ShellError(Command, "cannot write '%s': %s", Target->Path, VFSErrorString(Status));
            return FALSE;
        }
    }
    MutexLock(&Redirect.Lock);
    Redirect.Discard = Discard;
    Redirect.File = File;
    Redirect.Failure = VFS_OK;
    Redirect.Path = Target->Path;
    Redirect.Used = 0;
    __atomic_store_n(&Redirect.Active, TRUE, __ATOMIC_RELEASE);
    MutexUnlock(&Redirect.Lock);
    return TRUE;
}

I32 ShellRedirectEnd(LPCSTR Command) {
    if (!ShellRedirectActive()) return 0;
    MutexLock(&Redirect.Lock);
    FlushLocked();
    __atomic_store_n(&Redirect.Active, FALSE, __ATOMIC_RELEASE);
    VFS_STATUS Failure = Redirect.Failure;
    VFS_FILE* File = Redirect.File;
    Redirect.File = NULL;
    MutexUnlock(&Redirect.Lock);
    if (File != NULL) VFSClose(File);
    if (Failure == VFS_OK) return 0;
    ShellError(Command, "error writing '%s': %s (the output is cut there)", Redirect.Path, VFSErrorString(Failure));
    return -1;
}

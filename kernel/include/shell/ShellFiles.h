/*
 * ShellFiles.h - the file commands (ShellFiles.c, ShellFilesRaw.c): what the
 * two files share, and their registration.
 */

#ifndef SHELL_SHELLFILES_H_INCLUDED
#define SHELL_SHELLFILES_H_INCLUDED

#include "Base.h"
#include "fs/VFS.h"

#define SHELL_FILE_CHUNK (64 * 1024)  // bytes per read or write in cat, cp, sha256sum

#define SHELL_STREAM_CHUNK (1024 * 1024)  // chunk of the direct reads of cat, cp, sha256sum (bs for dd)

/**
 * A sequential input over a raw disk (an operand without '/' naming one) or a file (ShellInput.c): a
 * block/DirectRead.h reader, so large reads go straight from the disk with Window chunks in flight.
 */
typedef struct tag_SHELL_INPUT {
    DIRECT_READER* Reader;
    VFS_FILE* File;
    DISK* Disk;
    U64 Size;             // of the disk or the file, in bytes
} SHELL_INPUT;

/** An operand without a '/' that names a registered disk, or NULL. */
DISK* ShellOperandDisk(LPCSTR Operand);
/**
 * Opens Operand and starts reading Length bytes from Offset (at most what is there) in chunks of ChunkBytes,
 * Window in flight; NULL or the reason it failed. DisksToo FALSE: a disk's name is a path like any other.
 */
LPCSTR ShellInputOpen(SHELL_INPUT* Input, LPCSTR Operand, BOOL DisksToo, U64 Offset, U64 Length, U32 ChunkBytes,
                      U32 Window);
/** The next chunk (*Length 0 at the end); NULL or the reason the read failed. */
LPCSTR ShellInputNext(SHELL_INPUT* Input, const U8** Data, U32* Length);
void ShellInputClose(SHELL_INPUT* Input);
typedef void (*SHELL_INPUT_SINK)(LPVOID Context, const U8* Data, U32 Length);
/** Reads all of Operand (ShellInputOpen's rules) chunk by chunk into Sink; NULL or the reason it failed. */
LPCSTR ShellInputDrain(LPCSTR Operand, BOOL DisksToo, SHELL_INPUT_SINK Sink, LPVOID Context);

/** Registers mount, umount, df, ls, cd, pwd, cat, stat, mkdir, rm, rmdir, mv, cp, write, sha256sum, dd. */
void ShellRegisterFileCommands(void);

/** Prints "<Command>: <Path>: <reason>" and returns -1. */
I32 ShellFileError(LPCSTR Command, LPCSTR Path, VFS_STATUS Status);

I32 ShellCommandSha256(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellCommandDd(I32 ArgumentCount, LPSTR* Arguments);

#endif  // SHELL_SHELLFILES_H_INCLUDED

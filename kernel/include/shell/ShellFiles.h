/*
 * ShellFiles.h - the file commands (ShellFiles.c, ShellFilesRaw.c): what the
 * two files share, and their registration.
 */

#ifndef SHELL_SHELLFILES_H_INCLUDED
#define SHELL_SHELLFILES_H_INCLUDED

#include "Base.h"
#include "fs/VFS.h"

#define SHELL_FILE_CHUNK (64 * 1024)  // bytes per read or write in cat, cp, sha256sum

/** Registers mount, umount, df, ls, cd, pwd, cat, stat, mkdir, rm, rmdir, mv, cp, write, sha256sum, dd. */
void ShellRegisterFileCommands(void);

/** Prints "<Command>: <Path>: <reason>" and returns -1. */
I32 ShellFileError(LPCSTR Command, LPCSTR Path, VFS_STATUS Status);

I32 ShellCommandSha256(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellCommandDd(I32 ArgumentCount, LPSTR* Arguments);

#endif  // SHELL_SHELLFILES_H_INCLUDED

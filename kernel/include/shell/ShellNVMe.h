/*
 * ShellNVMe.h - the pieces of the `nvme` command shared by its files:
 * ShellNVMe.c (dispatch, `nvme list`), ShellNVMe-Manage.c
 * (`nvme info|smart|error-log|regs|features|trim|flush|reset|attach|detach`)
 * and ShellNVMe-Bench.c (`nvme bench`).
 *
 * Every subcommand takes the shell's whole argument vector (Arguments[0] is
 * "nvme", Arguments[1] the subcommand), prints its one error line itself and
 * returns the shell result (0 or 1). Output formats are documented in
 * documentation/Disk-Commands.md and read by tests/integration/test_nvme.py
 * and test_nvme_health.py: change them together.
 */

#ifndef SHELL_SHELLNVME_H_INCLUDED
#define SHELL_SHELLNVME_H_INCLUDED

#include "Base.h"

I32 ShellNVMeInfo(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeSmart(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeErrorLog(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeRegisters(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeFeatures(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeTrim(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeFlush(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeReset(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeAttach(I32 ArgumentCount, LPSTR* Arguments);
I32 ShellNVMeBench(I32 ArgumentCount, LPSTR* Arguments);

/**
 * The controller an argument names ("nvme0" or "0"), or FALSE after
 * printing "nvme: no controller 'X' (have nvme0, nvme1)".
 */
BOOL ShellNVMeParseController(LPCSTR Argument, U32* Index);

#endif  // SHELL_SHELLNVME_H_INCLUDED

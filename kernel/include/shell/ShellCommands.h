/*
 * ShellCommands.h - registration functions of the shell command modules
 * outside the built-ins. KernelMain calls each once the subsystem it
 * shows is up.
 */

#ifndef SHELL_SHELLCOMMANDS_H_INCLUDED
#define SHELL_SHELLCOMMANDS_H_INCLUDED

void ShellRegisterPCICommands(void);
void ShellRegisterVMDCommands(void);
void ShellRegisterSystemCommands(void);
void ShellRegisterThreadCommands(void);
void ShellRegisterSelfTestCommands(void);
void ShellRegisterDiskCommands(void);
void ShellRegisterNVMeCommands(void);
void ShellRegisterCacheCommands(void);
void ShellRegisterFileCommands(void);
void ShellRegisterDataViewCommands(void);
void ShellRegisterUSBCommands(void);
void ShellRegisterReportCommand(void);

/** The table of processors `cpu` prints after the processor's identity (ShellThreads.c). */
void ShellPrintProcessors(void);

#endif  // SHELL_SHELLCOMMANDS_H_INCLUDED

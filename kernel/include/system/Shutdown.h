/*
 * Shutdown.h - orderly power off and reboot.
 *
 * Drivers register hooks (NVMe flushes and shuts its controllers down, the
 * cache writes back dirty blocks). SystemPowerOff/SystemReboot run every
 * hook in reverse order of registration (last registered, first run: a file
 * system registered after its disk is flushed before the disk stops), each
 * with the kind of shutdown, then ask ACPI, then fall back to the legacy
 * mechanisms. They return only if every mechanism failed.
 */

#ifndef SYSTEM_SHUTDOWN_H_INCLUDED
#define SYSTEM_SHUTDOWN_H_INCLUDED

#include "Base.h"

typedef enum {
    SHUTDOWN_POWER_OFF = 0,
    SHUTDOWN_REBOOT = 1,
} SHUTDOWN_KIND;

typedef void (*SHUTDOWN_HOOK)(SHUTDOWN_KIND Kind, LPVOID Context);

#define SHUTDOWN_MAX_HOOKS 32

BOOL ShutdownRegisterHook(LPCSTR Name, SHUTDOWN_HOOK Hook, LPVOID Context);
/** Runs the hooks once (later calls do nothing); exposed for tests and the shell. */
void ShutdownRunHooks(SHUTDOWN_KIND Kind);
void SystemPowerOff(void);
void SystemReboot(void);

#endif  // SYSTEM_SHUTDOWN_H_INCLUDED

/*
 * HostKernel.h - host versions of the few kernel services drivers link
 * besides drivers/Platform.h: the kernel log (core/Log.h) and the PCI core's
 * device list and driver registry (the "Kernel services" part of
 * bus/pci/PCI.h, plus PCIMSIXMap).
 *
 * The log formats with the kernel's own formatter (utils/Format.c), so a
 * driver using a conversion the kernel does not support shows the same
 * output here. Every line is kept in a capture buffer tests can search;
 * lines at or above the echo level also go to stderr (default: WARNING, or
 * the level named by $CAIRN_MODEL_LOG: debug, info, warning, error).
 */

#ifndef TESTS_MODEL_HOSTKERNEL_H_INCLUDED
#define TESTS_MODEL_HOSTKERNEL_H_INCLUDED

#include "Base.h"
#include "core/Log.h"
#include "bus/pci/PCI.h"

/** Forgets the PCI device list (frees the devices PCIAddSegment made), the drivers and the log capture. */
void HostKernelReset(void);

void HostLogSetEchoLevel(LOG_LEVEL Level);
void HostLogClear(void);
/** TRUE if a captured line contains Text. */
BOOL HostLogContains(LPCSTR Text);
/** Captured lines of exactly this level. */
U32 HostLogCount(LOG_LEVEL Level);
/** Prints the captured lines to stderr (a failing test shows what the driver said). */
void HostLogDump(void);

#endif  // TESTS_MODEL_HOSTKERNEL_H_INCLUDED

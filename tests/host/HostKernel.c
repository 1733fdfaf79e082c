/*
 * HostKernel.c - what belongs to the host kernel as a whole (see
 * HostKernel.h): the reset between tests and the failure report.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "HostKernel.h"

#define HOST_RESET_TIME_STEP (3600ULL * 1000000000ULL)

void HostKernelReset(void) {
    HostLogClear();
    HostTimeAdvance(HOST_RESET_TIME_STEP);
}

void HostKernelFail(LPCSTR Format, ...) {
    va_list Arguments;
    va_start(Arguments, Format);
    fprintf(stderr, "host kernel: ");
    vfprintf(stderr, Format, Arguments);
    fprintf(stderr, "\n");
    va_end(Arguments);
    abort();
}

/*
 * ShellSelfTest.h - shared by the `selftest` command's parts (ShellSelfTest.c
 * holds the command and `selftest threads`, ShellSelfTest-SMP.c `selftest
 * smp`): one line per check, "  <what>  ok|FAILED (<detail>)", and a count.
 */

#ifndef SHELL_SHELLSELFTEST_H_INCLUDED
#define SHELL_SHELLSELFTEST_H_INCLUDED

#include "Base.h"

typedef struct tag_SELF_TEST {
    U32 Failures;
    U32 Skipped;
} SELF_TEST;

/** Prints one check's line with a value in ms and counts a failure. */
void SelfTestCheck(SELF_TEST* Test, BOOL Condition, LPCSTR What, U64 ValueMs);
/** Prints one check's line with free text after the verdict. */
void SelfTestReport(SELF_TEST* Test, BOOL Condition, LPCSTR What, LPCSTR Format, ...) PRINTF_LIKE(4, 5);
/** Prints a check that cannot run here (e.g. needs two CPUs) and why. */
void SelfTestSkip(SELF_TEST* Test, LPCSTR What, LPCSTR Why);

/** `selftest smp`: 0 when every check passed. */
I32 SelfTestSMP(void);

#endif  // SHELL_SHELLSELFTEST_H_INCLUDED

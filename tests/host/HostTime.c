/*
 * HostTime.c - GetSystemTimeNs for host tests (see HostKernel.h).
 *
 * The test clock starts at zero and moves only when a test says so (or by
 * a fixed step on every read), so log time stamps and rate limits are the
 * same on every run. A test that has its own clock (the device-model tests'
 * virtual platform clock) installs it as the source.
 */

#include "HostKernel.h"
#include "system/Clock.h"

static U64 TestNowNs;
static U64 TestStepNs;
static U64 (*volatile TestSource)(void);

void HostTimeSet(U64 Nanoseconds) { __atomic_store_n(&TestNowNs, Nanoseconds, __ATOMIC_RELAXED); }

void HostTimeSetStep(U64 Nanoseconds) { __atomic_store_n(&TestStepNs, Nanoseconds, __ATOMIC_RELAXED); }

void HostTimeAdvance(U64 Nanoseconds) { __atomic_add_fetch(&TestNowNs, Nanoseconds, __ATOMIC_RELAXED); }

void HostTimeSetSource(U64 (*Source)(void)) { TestSource = Source; }

U64 GetSystemTimeNs(void) {
    U64 (*Source)(void) = TestSource;
    if (Source) return Source();
    return __atomic_fetch_add(&TestNowNs, __atomic_load_n(&TestStepNs, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

/*
 * ModelTest.h - cmocka glue for tests that run against the device models.
 *
 * Include after cmocka.h. Each test calls ModelTestBegin (resets
 * HostPlatform, the host kernel's log and the PCI lists), creates its model
 * with ModelTestCreate (violations are recorded quietly instead of printed),
 * takes the violations it provokes with EXPECT_VIOLATION, and ends with
 * ModelTestEnd, which fails the test - naming the rule and quoting the
 * message - for every violation nobody expected, from the model or from the
 * platform contract. Violations are never turned into a cmocka failure on
 * the thread that found them: that may be the model thread or the interrupt
 * thread, where cmocka's longjmp would be undefined.
 */

#ifndef TESTS_MODEL_MODELTEST_H_INCLUDED
#define TESTS_MODEL_MODELTEST_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>

#include "HostKernel.h"
#include "HostPCI.h"
#include "HostPlatform.h"
#include "NVMeModel.h"

static void ModelTestQuietHandler(LPVOID Context, NVME_RULE Rule, LPCSTR Name, LPCSTR Message) {
    (void)Context;
    (void)Rule;
    if (getenv("CAIRN_MODEL_VERBOSE")) fprintf(stderr, "  (violation %s: %s)\n", Name, Message);
}

static void ModelTestQuietPlatformHandler(LPVOID Context, LPCSTR Rule, LPCSTR Message) {
    (void)Context;
    if (getenv("CAIRN_MODEL_VERBOSE")) fprintf(stderr, "  (platform violation %s: %s)\n", Rule, Message);
}

static inline void ModelTestBegin(void) {
    HostPlatformInit();
    HostPlatformReset();
    HostKernelReset();
    HostPCIReset();
    HostPlatformSetViolationHandler(ModelTestQuietPlatformHandler, NULL);
}

static inline NVME_MODEL* ModelTestCreate(const NVME_MODEL_CONFIG* Config) {
    NVME_MODEL* Model = NVMeModelCreate(Config);
    assert_non_null(Model);
    NVMeModelSetViolationHandler(Model, ModelTestQuietHandler, NULL);
    return Model;
}

/** Fails the test for any violation left; destroys the model (NULL is fine). */
static inline void ModelTestEnd(NVME_MODEL* Model) {
    char Message[256];
    char Rule[64];
    U32 Left = 0;
    if (Model) {
        NVME_RULE Found;
        for (U32 I = 0; NVMeModelGetViolation(Model, I, &Found, Message, sizeof(Message)); I++) {
            fprintf(stderr, "unexpected NVMe conformance violation %s: %s\n", NVMeModelRuleName(Found), Message);
            Left++;
        }
    }
    for (U32 I = 0; HostPlatformGetViolation(I, Rule, sizeof(Rule), Message, sizeof(Message)); I++) {
        fprintf(stderr, "unexpected platform violation %s: %s\n", Rule, Message);
        Left++;
    }
    HostPlatformWaitIdle(5000);
    if (Model) NVMeModelDestroy(Model);
    if (Left) fail_msg("%u unexpected violation(s), listed above", Left);
}

#define EXPECT_VIOLATION(Model, Rule)                                                                \
    do {                                                                                           \
        if (!NVMeModelTakeViolation((Model), (Rule))) {                                            \
            fail_msg("expected conformance violation %s was not reported", NVMeModelRuleName(Rule)); \
        }                                                                                          \
    } while (0)

#define EXPECT_NO_VIOLATION(Model, Rule)                                                                   \
    do {                                                                                                 \
        if (NVMeModelCountViolations((Model), (Rule)) != 0) {                                            \
            fail_msg("conformance violation %s was reported but should not be", NVMeModelRuleName(Rule)); \
        }                                                                                                \
    } while (0)

#define EXPECT_PLATFORM_VIOLATION(Rule)                                                 \
    do {                                                                              \
        if (!HostPlatformTakeViolation(Rule)) {                                       \
            fail_msg("expected platform violation %s was not reported", (Rule));      \
        }                                                                             \
    } while (0)

#endif  // TESTS_MODEL_MODELTEST_H_INCLUDED

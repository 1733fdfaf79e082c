/*
 * Test-RateLimit.c - utils/RateLimit.c: the burst, the suppression count
 * handed to the next allowed event, refill of one token per
 * IntervalMs/Burst, the full reset after a quiet interval, a clock that
 * stands still or goes backwards, and the degenerate settings.
 */
// SOURCES: utils/RateLimit.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "utils/RateLimit.h"

static void TestBurstThenSuppress(void** State) {
    (void)State;
    RATE_LIMITER Limiter = RATE_LIMITER_INIT(1000, 5);
    U64 Suppressed = 99;
    for (int I = 0; I < 5; I++) {
        assert_true(RateLimiterAllow(&Limiter, 100, &Suppressed));
        assert_int_equal(Suppressed, 0);
    }
    for (int I = 0; I < 7; I++) assert_false(RateLimiterAllow(&Limiter, 100 + I, NULL));
    assert_int_equal(Limiter.Suppressed, 7);
}

static void TestSuppressedCountReportedOnce(void** State) {
    (void)State;
    RATE_LIMITER Limiter;
    RateLimiterInit(&Limiter, 1000, 2);
    U64 Suppressed = 0;
    assert_true(RateLimiterAllow(&Limiter, 0, &Suppressed));
    assert_true(RateLimiterAllow(&Limiter, 0, &Suppressed));
    for (int I = 0; I < 10; I++) assert_false(RateLimiterAllow(&Limiter, 10, &Suppressed));
    // One token comes back after IntervalMs / Burst = 500 ms.
    assert_false(RateLimiterAllow(&Limiter, 499, &Suppressed));
    assert_true(RateLimiterAllow(&Limiter, 500, &Suppressed));
    assert_int_equal(Suppressed, 11);
    assert_false(RateLimiterAllow(&Limiter, 501, &Suppressed));
    assert_true(RateLimiterAllow(&Limiter, 1000, &Suppressed));
    assert_int_equal(Suppressed, 1);  // the count restarted after it was reported
}

static void TestSteadyRate(void** State) {
    (void)State;
    // 10 per second: after the burst, one every 100 ms, however often it is asked.
    RATE_LIMITER Limiter = RATE_LIMITER_INIT(1000, 10);
    U32 Allowed = 0;
    for (U64 Now = 0; Now < 5000; Now++) Allowed += RateLimiterAllow(&Limiter, Now, NULL) ? 1 : 0;
    // 10 at once, then about one per 100 ms for the remaining 4.9 s.
    assert_true(Allowed >= 58 && Allowed <= 60);
}

static void TestWindowReset(void** State) {
    (void)State;
    RATE_LIMITER Limiter = RATE_LIMITER_INIT(200, 3);
    U64 Suppressed = 0;
    for (int I = 0; I < 3; I++) assert_true(RateLimiterAllow(&Limiter, 1000, NULL));
    assert_false(RateLimiterAllow(&Limiter, 1000, NULL));
    // A whole quiet interval later the full burst is back.
    for (int I = 0; I < 3; I++) assert_true(RateLimiterAllow(&Limiter, 1200, &Suppressed));
    assert_false(RateLimiterAllow(&Limiter, 1200, NULL));
}

static void TestFullBucketEarnsNothing(void** State) {
    (void)State;
    // Idle time with a full bucket must not pre-pay the next token.
    RATE_LIMITER Limiter = RATE_LIMITER_INIT(1000, 2);
    assert_true(RateLimiterAllow(&Limiter, 0, NULL));
    assert_true(RateLimiterAllow(&Limiter, 5000, NULL));   // refilled completely
    assert_true(RateLimiterAllow(&Limiter, 5100, NULL));   // burst of 2 from t=5000
    assert_false(RateLimiterAllow(&Limiter, 5450, NULL));  // the first token returns 500 ms after t=5000
    assert_true(RateLimiterAllow(&Limiter, 5500, NULL));
}

static void TestClockStandsStillOrGoesBack(void** State) {
    (void)State;
    RATE_LIMITER Limiter = RATE_LIMITER_INIT(100, 1);
    assert_true(RateLimiterAllow(&Limiter, 5000, NULL));
    assert_false(RateLimiterAllow(&Limiter, 5000, NULL));
    assert_false(RateLimiterAllow(&Limiter, 10, NULL));  // backwards: no refill, no wrap-around
    assert_false(RateLimiterAllow(&Limiter, 5099, NULL));
    assert_true(RateLimiterAllow(&Limiter, 5100, NULL));
}

static void TestDegenerateSettings(void** State) {
    (void)State;
    RATE_LIMITER Unlimited = RATE_LIMITER_INIT(0, 1);
    for (int I = 0; I < 1000; I++) assert_true(RateLimiterAllow(&Unlimited, 0, NULL));

    RATE_LIMITER ZeroBurst = RATE_LIMITER_INIT(100, 0);  // counts as a burst of 1
    assert_true(RateLimiterAllow(&ZeroBurst, 0, NULL));
    assert_false(RateLimiterAllow(&ZeroBurst, 50, NULL));
    assert_true(RateLimiterAllow(&ZeroBurst, 100, NULL));

    RATE_LIMITER Large = RATE_LIMITER_INIT(0xFFFFFFFFU, 0xFFFFFFFFU);  // no overflow in the refill arithmetic
    for (int I = 0; I < 100; I++) assert_true(RateLimiterAllow(&Large, (U64)I * 0x10000000ULL, NULL));
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestBurstThenSuppress),      cmocka_unit_test(TestSuppressedCountReportedOnce),
        cmocka_unit_test(TestSteadyRate),             cmocka_unit_test(TestWindowReset),
        cmocka_unit_test(TestFullBucketEarnsNothing), cmocka_unit_test(TestClockStandsStillOrGoesBack),
        cmocka_unit_test(TestDegenerateSettings),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

/*
 * Test-Clock.c - the TSC conversion and calibration arithmetic of Clock.c.
 */
// SOURCES: system/Clock.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "system/Clock.h"

// Reference: exact ns with 128-bit math (host only), floored.
static U64 ExactNs(U64 Ticks, U64 Frequency) {
    return (U64)(((unsigned __int128)Ticks * CLOCK_NS_PER_SECOND) / Frequency);
}

static void TestConversionInit(void** State) {
    (void)State;
    CLOCK_CONVERSION C;
    assert_false(ClockConversionInit(&C, 0));
    assert_int_equal(C.Frequency, 0);
    assert_false(ClockConversionInit(&C, CLOCK_MIN_TSC_FREQUENCY - 1));
    assert_false(ClockConversionInit(&C, CLOCK_MAX_TSC_FREQUENCY + 1));
    assert_int_equal(ClockConversionToNs(&C, 123456789), 0);  // unknown frequency reads as 0
    assert_true(ClockConversionInit(&C, 1000000000));
    assert_int_equal(C.Frequency, 1000000000);
    assert_int_equal(C.Mult, 1ULL << 32);  // exactly 1 ns per tick
}

static void TestConversionExactValues(void** State) {
    (void)State;
    CLOCK_CONVERSION C;
    assert_true(ClockConversionInit(&C, 1000000000));
    assert_int_equal(ClockConversionToNs(&C, 0), 0);
    assert_int_equal(ClockConversionToNs(&C, 1), 1);
    assert_int_equal(ClockConversionToNs(&C, 1234567890123ULL), 1234567890123ULL);

    assert_true(ClockConversionInit(&C, 2000000000));
    assert_int_equal(ClockConversionToNs(&C, 2000000000), 1000000000);
    assert_int_equal(ClockConversionToNs(&C, 3), 1);  // 1.5 ns floors to 1
    assert_int_equal(ClockConversionToNs(&C, 7000000001ULL), 3500000000ULL);
}

static void TestConversionAccuracy(void** State) {
    (void)State;
    const U64 Frequencies[] = {CLOCK_MIN_TSC_FREQUENCY, 14318180, 1193182 * 2, 999999937, 2599963000ULL,
                               3000000000ULL, 4294967311ULL, CLOCK_MAX_TSC_FREQUENCY};
    for (U32 F = 0; F < sizeof(Frequencies) / sizeof(Frequencies[0]); F++) {
        CLOCK_CONVERSION C;
        assert_true(ClockConversionInit(&C, Frequencies[F]));
        U64 Ticks = 1;
        // From 1 tick to far beyond a year of uptime: within 3 ns of the exact value, never above it.
        for (U32 Step = 0; Step < 200; Step++) {
            U64 Exact = ExactNs(Ticks, Frequencies[F]);
            U64 Got = ClockConversionToNs(&C, Ticks);
            assert_true(Got <= Exact);
            assert_true(Exact - Got <= 3);
            // Stay below the saturation point (~584 years) where the exact value no longer fits in 64 bits.
            if (Ticks > (1ULL << 62) / 3 || Ticks / Frequencies[F] > 18000000000ULL / 3) break;
            Ticks = Ticks * 3 + 7;
        }
    }
}

static void TestConversionYearsAndSaturation(void** State) {
    (void)State;
    CLOCK_CONVERSION C;
    U64 Frequency = 3000000000ULL;
    assert_true(ClockConversionInit(&C, Frequency));
    U64 TenYears = 10ULL * 365 * 24 * 3600;
    // A naive Ticks * 1e9 would have overflowed long before this.
    assert_int_equal(ClockConversionToNs(&C, TenYears * Frequency), TenYears * CLOCK_NS_PER_SECOND);
    // Half a second later: the truncated multiplier may lose a nanosecond, never more than two.
    U64 Half = ClockConversionToNs(&C, TenYears * Frequency + Frequency / 2);
    assert_true(Half <= TenYears * CLOCK_NS_PER_SECOND + CLOCK_NS_PER_SECOND / 2);
    assert_true(Half >= TenYears * CLOCK_NS_PER_SECOND + CLOCK_NS_PER_SECOND / 2 - 2);
    // The TSC itself wrapping around (~195 years at 3 GHz) still gives a sane, non-wrapped value.
    U64 Max = ClockConversionToNs(&C, MAX_U64);
    assert_true(Max > TenYears * CLOCK_NS_PER_SECOND);
    // At 1 MHz, 2^64 ticks is ~584,000 years: saturates instead of wrapping.
    assert_true(ClockConversionInit(&C, CLOCK_MIN_TSC_FREQUENCY));
    assert_int_equal(ClockConversionToNs(&C, MAX_U64), MAX_U64);
}

static void TestConversionMonotonic(void** State) {
    (void)State;
    CLOCK_CONVERSION C;
    assert_true(ClockConversionInit(&C, 2599963123ULL));
    // Around each second boundary and through the sub-second range, never decreasing.
    for (U64 Second = 0; Second < 5; Second++) {
        U64 Base = Second * C.Frequency;
        U64 Start = Base > 5000 ? Base - 5000 : 0;
        U64 Previous = ClockConversionToNs(&C, Start);
        for (U64 Ticks = Start + 1; Ticks < Base + 5000; Ticks++) {
            U64 Now = ClockConversionToNs(&C, Ticks);
            assert_true(Now >= Previous);
            Previous = Now;
        }
    }
    U64 Previous = 0;
    for (U64 Ticks = 0; Ticks < 4 * C.Frequency; Ticks += 9973) {
        U64 Now = ClockConversionToNs(&C, Ticks);
        assert_true(Now >= Previous);
        Previous = Now;
    }
}

static void TestFromMicroseconds(void** State) {
    (void)State;
    CLOCK_CONVERSION C;
    assert_int_equal(ClockConversionFromUs(&(CLOCK_CONVERSION){0, 0}, 10), 0);
    assert_true(ClockConversionInit(&C, 1000000000));
    assert_int_equal(ClockConversionFromUs(&C, 0), 0);
    assert_int_equal(ClockConversionFromUs(&C, 1), 1000);
    assert_int_equal(ClockConversionFromUs(&C, 10000), 10000000);
    assert_int_equal(ClockConversionFromUs(&C, 2500000), 2500000000ULL);
    assert_true(ClockConversionInit(&C, 1193183));
    assert_int_equal(ClockConversionFromUs(&C, 1), 2);  // 1.193183 ticks rounds up: never waits too little
    assert_true(ClockConversionInit(&C, CLOCK_MAX_TSC_FREQUENCY));
    assert_int_equal(ClockConversionFromUs(&C, MAX_U64), MAX_U64);  // saturates
}

static void TestCpuid15(void** State) {
    (void)State;
    // A 24 MHz crystal with a 2/182 ratio... e.g. Ice Lake: EAX=2, EBX=200 (100x), ECX=24 MHz -> 2.4 GHz.
    assert_int_equal(ClockFrequencyFromCpuid15(2, 200, 24000000), 2400000000ULL);
    assert_int_equal(ClockFrequencyFromCpuid15(2, 176, 38400000), 3379200000ULL);
    assert_int_equal(ClockFrequencyFromCpuid15(0, 200, 24000000), 0);   // leaf not enumerated
    assert_int_equal(ClockFrequencyFromCpuid15(2, 0, 24000000), 0);
    assert_int_equal(ClockFrequencyFromCpuid15(2, 200, 0), 0);          // crystal not reported
    assert_int_equal(ClockFrequencyFromCpuid15(1, 0xFFFFFFFF, 0xFFFFFFFF), 0);  // absurd: rejected, no overflow
}

static void TestPitCalibration(void** State) {
    (void)State;
    // 10 ms gate (11932 PIT ticks) at 2.6 GHz: 26,000,000 TSC ticks expected, about.
    U64 Tsc = 26000000ULL * 11932 / 11931;
    U64 F = ClockFrequencyFromPit(Tsc, 11932);
    assert_true(F > 2599000000ULL && F < 2601000000ULL);
    assert_int_equal(ClockFrequencyFromPit(11932, 11932), CLOCK_PIT_FREQUENCY);
    assert_int_equal(ClockFrequencyFromPit(0, 11932), 0);
    assert_int_equal(ClockFrequencyFromPit(1000, 0), 0);
    assert_int_equal(ClockFrequencyFromPit(10, 11932), 0);        // < 1 MHz: nonsense
    assert_int_equal(ClockFrequencyFromPit(MAX_U64, 11932), 0);   // would overflow: rejected
    assert_int_equal(ClockFrequencyFromPit(200000000ULL, 11932), 0);  // 20 GHz: above the limit
}

static void TestBestMeasurement(void** State) {
    (void)State;
    U64 Runs[] = {26000500, 25999900, 26400000};
    assert_int_equal(ClockBestMeasurement(Runs, 3), 25999900);
    U64 WithFailure[] = {0, 26000100, 0};
    assert_int_equal(ClockBestMeasurement(WithFailure, 3), 26000100);
    U64 AllFailed[] = {0, 0};
    assert_int_equal(ClockBestMeasurement(AllFailed, 2), 0);
    assert_int_equal(ClockBestMeasurement(Runs, 0), 0);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestConversionInit),     cmocka_unit_test(TestConversionExactValues),
        cmocka_unit_test(TestConversionAccuracy), cmocka_unit_test(TestConversionYearsAndSaturation),
        cmocka_unit_test(TestConversionMonotonic), cmocka_unit_test(TestFromMicroseconds),
        cmocka_unit_test(TestCpuid15),            cmocka_unit_test(TestPitCalibration),
        cmocka_unit_test(TestBestMeasurement),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

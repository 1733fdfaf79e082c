/*
 * Test-Histogram.c - utils/Histogram.c, the latency histogram of `nvme
 * bench`: bucket boundaries, monotonic mapping, percentiles against exactly
 * sorted samples (within the 1/16 resolution), edge cases.
 */
// SOURCES: utils/Histogram.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>

#include "utils/Histogram.h"

static HISTOGRAM* NewHistogram(void) {
    HISTOGRAM* Histogram = malloc(sizeof(HISTOGRAM));
    assert_non_null(Histogram);
    HistogramInit(Histogram);
    return Histogram;
}

static void TestBuckets(void** State) {
    (void)State;
    for (U64 V = 0; V < 16; V++) assert_int_equal(HistogramBucketOf(V), V);
    assert_int_equal(HistogramBucketOf(16), 16);
    assert_int_equal(HistogramBucketOf(31), 31);
    assert_int_equal(HistogramBucketOf(32), 32);
    assert_int_equal(HistogramBucketOf(33), 32);  // 32..33 share a bucket (width 2)
    assert_int_equal(HistogramBucketOf(34), 33);
    assert_int_equal(HistogramBucketOf(MAX_U64), HISTOGRAM_BUCKETS - 1);
    assert_int_equal(HistogramBucketLow(32), 32);
    assert_int_equal(HistogramBucketHigh(32), 33);
    assert_int_equal(HistogramBucketHigh(HISTOGRAM_BUCKETS - 1), MAX_U64);
    // Every bucket starts right after the previous one ends, and its values map back to it.
    for (U32 B = 1; B < HISTOGRAM_BUCKETS; B++) {
        assert_int_equal(HistogramBucketLow(B), HistogramBucketHigh(B - 1) + 1);
        assert_int_equal(HistogramBucketOf(HistogramBucketLow(B)), B);
        assert_int_equal(HistogramBucketOf(HistogramBucketHigh(B)), B);
    }
}

static void TestEmptyAndSingle(void** State) {
    (void)State;
    HISTOGRAM* H = NewHistogram();
    assert_int_equal(HistogramPercentile(H, 5000), 0);
    assert_int_equal(HistogramMean(H), 0);
    HistogramAdd(H, 123456);
    assert_int_equal(H->Count, 1);
    assert_int_equal(HistogramMean(H), 123456);
    // A single sample: every percentile is that sample (clamped to min/max).
    assert_int_equal(HistogramPercentile(H, 1), 123456);
    assert_int_equal(HistogramPercentile(H, 5000), 123456);
    assert_int_equal(HistogramPercentile(H, 10000), 123456);
    free(H);
}

static void TestPercentilesOfUniformSamples(void** State) {
    (void)State;
    HISTOGRAM* H = NewHistogram();
    // 1000..100999 ns, one each: p50 = 50999 (rank 50000), p99 = 99999 (rank 99000).
    for (U64 V = 1000; V < 101000; V++) HistogramAdd(H, V);
    assert_int_equal(H->Count, 100000);
    assert_int_equal(H->Minimum, 1000);
    assert_int_equal(H->Maximum, 100999);
    assert_int_equal(HistogramMean(H), 50999);
    U64 P50 = HistogramPercentile(H, 5000), P99 = HistogramPercentile(H, 9900);
    assert_true(P50 >= 50999 - 50999 / 16 && P50 <= 50999 + 50999 / 16);
    assert_true(P99 >= 99999 - 99999 / 16 && P99 <= 99999 + 99999 / 16);
    assert_true(P50 < P99);
    assert_int_equal(HistogramPercentile(H, 10000), 100999);
    free(H);
}

static void TestSkewedSamples(void** State) {
    (void)State;
    HISTOGRAM* H = NewHistogram();
    // 98 fast completions and 2 slow ones: p50 is fast, p99 is slow.
    for (U32 I = 0; I < 98; I++) HistogramAdd(H, 20000);
    HistogramAdd(H, 5000000);
    HistogramAdd(H, 5000000);
    U64 P50 = HistogramPercentile(H, 5000), P99 = HistogramPercentile(H, 9900);
    assert_true(P50 >= 20000 - 20000 / 16 && P50 <= 20000 + 20000 / 16);
    assert_true(P99 >= 5000000 - 5000000 / 16 && P99 <= 5000000);
    assert_int_equal(HistogramPercentile(H, 9800), P50);  // rank 98 is still fast
    assert_int_equal(HistogramMean(H), (98ULL * 20000 + 2ULL * 5000000) / 100);
    free(H);
}

static void TestSumSaturates(void** State) {
    (void)State;
    HISTOGRAM* H = NewHistogram();
    HistogramAdd(H, MAX_U64 - 1);
    HistogramAdd(H, 10);
    assert_int_equal(H->Sum, MAX_U64);
    assert_int_equal(H->Maximum, MAX_U64 - 1);
    assert_int_equal(H->Minimum, 10);
    free(H);
}

/** Two halves merged read back like one histogram of every sample. */
static void TestMergeEqualsOne(void** State) {
    (void)State;
    HISTOGRAM *A = NewHistogram(), *B = NewHistogram(), *All = NewHistogram(), *Empty = NewHistogram();
    for (U64 V = 1; V <= 5000; V++) {
        HistogramAdd(V % 3 ? A : B, V * 37);
        HistogramAdd(All, V * 37);
    }
    HistogramMerge(A, B);
    HistogramMerge(A, Empty);  // an empty one changes nothing (its Minimum is MAX_U64)
    assert_int_equal(A->Count, All->Count);
    assert_int_equal(A->Sum, All->Sum);
    assert_int_equal(A->Minimum, 37);
    assert_int_equal(A->Maximum, 5000 * 37);
    for (U32 P = 0; P <= 10000; P += 500) assert_int_equal(HistogramPercentile(A, P), HistogramPercentile(All, P));
    free(A);
    free(B);
    free(All);
    free(Empty);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestBuckets),
        cmocka_unit_test(TestEmptyAndSingle),
        cmocka_unit_test(TestPercentilesOfUniformSamples),
        cmocka_unit_test(TestSkewedSamples),
        cmocka_unit_test(TestSumSaturates),
        cmocka_unit_test(TestMergeEqualsOne),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

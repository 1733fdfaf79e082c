/*
 * Histogram.h - a log-linear histogram of 64-bit values (latencies in ns).
 *
 * Values below 16 have a bucket each; above, every power of two is split
 * into 16 equal buckets, so a percentile read back is within 1/16 (6.25 %)
 * of the true value whatever the range. Count, sum, minimum and maximum are
 * exact. Pure: no locking (the caller serialises) and no allocation, built
 * unchanged into host unit tests. Used by `nvme bench`.
 */

#ifndef UTILS_HISTOGRAM_H_INCLUDED
#define UTILS_HISTOGRAM_H_INCLUDED

#include "Base.h"

#define HISTOGRAM_SUB_BITS 4
#define HISTOGRAM_SUB_BUCKETS (1U << HISTOGRAM_SUB_BITS)
#define HISTOGRAM_BUCKETS ((64 - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB_BUCKETS)

typedef struct tag_HISTOGRAM {
    U64 Counts[HISTOGRAM_BUCKETS];
    U64 Count;
    U64 Sum;        // saturates at MAX_U64
    U64 Minimum;    // MAX_U64 while empty
    U64 Maximum;
} HISTOGRAM;

void HistogramInit(HISTOGRAM* Histogram);
void HistogramAdd(HISTOGRAM* Histogram, U64 Value);
/** Adds every sample of From to Into (per-CPU histograms summed after a run). */
void HistogramMerge(HISTOGRAM* Into, const HISTOGRAM* From);
/** The bucket a value falls in, and the bucket's first and last value. */
U32 HistogramBucketOf(U64 Value);
U64 HistogramBucketLow(U32 Bucket);
U64 HistogramBucketHigh(U32 Bucket);
/**
 * The value below which PerTenThousand / 10000 of the samples lie (5000 is
 * the median, 9900 the 99th percentile): the middle of the bucket holding
 * that rank, clamped to [Minimum, Maximum]; the last rank is Maximum
 * itself. 0 when empty.
 */
U64 HistogramPercentile(const HISTOGRAM* Histogram, U32 PerTenThousand);
/** Sum / Count (0 when empty). */
U64 HistogramMean(const HISTOGRAM* Histogram);

#endif  // UTILS_HISTOGRAM_H_INCLUDED

/*
 * Histogram.c - the log-linear histogram (see utils/Histogram.h).
 *
 * Bucket of V >= 16: with E the index of V's highest set bit, the bucket is
 * (E - 3) * 16 plus the 4 bits below the highest one; buckets 0-15 hold the
 * values 0-15 themselves. The mapping is monotonic, so walking the buckets
 * in order walks the values in order.
 */

#include "utils/Histogram.h"

void HistogramInit(HISTOGRAM* Histogram) {
    for (U32 I = 0; I < HISTOGRAM_BUCKETS; I++) Histogram->Counts[I] = 0;
    Histogram->Count = 0;
    Histogram->Sum = 0;
    Histogram->Minimum = MAX_U64;
    Histogram->Maximum = 0;
}

U32 HistogramBucketOf(U64 Value) {
    if (Value < HISTOGRAM_SUB_BUCKETS) return (U32)Value;
    U32 Exponent = 63 - (U32)__builtin_clzll(Value);
    U32 Sub = (U32)(Value >> (Exponent - HISTOGRAM_SUB_BITS)) & (HISTOGRAM_SUB_BUCKETS - 1);
    return (Exponent - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB_BUCKETS + Sub;
}

U64 HistogramBucketLow(U32 Bucket) {
    if (Bucket < HISTOGRAM_SUB_BUCKETS) return Bucket;
    U32 Exponent = Bucket / HISTOGRAM_SUB_BUCKETS + HISTOGRAM_SUB_BITS - 1;
    U64 Sub = Bucket % HISTOGRAM_SUB_BUCKETS;
    return (HISTOGRAM_SUB_BUCKETS + Sub) << (Exponent - HISTOGRAM_SUB_BITS);
}

U64 HistogramBucketHigh(U32 Bucket) {
    if (Bucket < HISTOGRAM_SUB_BUCKETS) return Bucket;
    U32 Exponent = Bucket / HISTOGRAM_SUB_BUCKETS + HISTOGRAM_SUB_BITS - 1;
    return HistogramBucketLow(Bucket) + ((1ULL << (Exponent - HISTOGRAM_SUB_BITS)) - 1);
}

void HistogramAdd(HISTOGRAM* Histogram, U64 Value) {
    Histogram->Counts[HistogramBucketOf(Value)]++;
    Histogram->Count++;
    Histogram->Sum = (Histogram->Sum > MAX_U64 - Value) ? MAX_U64 : Histogram->Sum + Value;
    if (Value < Histogram->Minimum) Histogram->Minimum = Value;
    if (Value > Histogram->Maximum) Histogram->Maximum = Value;
}

void HistogramMerge(HISTOGRAM* Into, const HISTOGRAM* From) {
    for (U32 I = 0; I < HISTOGRAM_BUCKETS; I++) Into->Counts[I] += From->Counts[I];
    Into->Count += From->Count;
    Into->Sum = (Into->Sum > MAX_U64 - From->Sum) ? MAX_U64 : Into->Sum + From->Sum;
    if (From->Minimum < Into->Minimum) Into->Minimum = From->Minimum;
    if (From->Maximum > Into->Maximum) Into->Maximum = From->Maximum;
}

U64 HistogramPercentile(const HISTOGRAM* Histogram, U32 PerTenThousand) {
    if (Histogram->Count == 0) return 0;
    if (PerTenThousand > 10000) PerTenThousand = 10000;
    // Rank of the sample wanted, from 1: ceil(Count * p), at least 1.
    U64 Rank = (Histogram->Count / 10000) * PerTenThousand +
               ((Histogram->Count % 10000) * PerTenThousand + 9999) / 10000;
    if (Rank == 0) Rank = 1;
    if (Rank >= Histogram->Count) return Histogram->Maximum;  // the largest sample is known exactly
    U64 Seen = 0;
    for (U32 Bucket = 0; Bucket < HISTOGRAM_BUCKETS; Bucket++) {
        Seen += Histogram->Counts[Bucket];
        if (Seen >= Rank) {
            U64 Low = HistogramBucketLow(Bucket), High = HistogramBucketHigh(Bucket);
            U64 Middle = Low + (High - Low) / 2;
            if (Middle < Histogram->Minimum) Middle = Histogram->Minimum;
            if (Middle > Histogram->Maximum) Middle = Histogram->Maximum;
            return Middle;
        }
    }
    return Histogram->Maximum;
}

U64 HistogramMean(const HISTOGRAM* Histogram) {
    return Histogram->Count ? Histogram->Sum / Histogram->Count : 0;
}

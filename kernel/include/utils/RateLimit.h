/*
 * RateLimit.h - a token bucket for log lines and other repeated events.
 *
 * Pure logic: the caller passes the current time, so host tests drive it.
 * A limiter allows Burst events, then one more each IntervalMs/Burst,
 * and counts the events it suppressed. After IntervalMs without events the
 * whole burst is available again.
 *
 * Fields: WindowStartMs is the time up to which tokens have been refilled;
 * CountInWindow is how many of the Burst tokens are spent. Burst 0 counts
 * as 1; IntervalMs 0 means no limit. The limiter takes no lock.
 */

#ifndef UTILS_RATELIMIT_H_INCLUDED
#define UTILS_RATELIMIT_H_INCLUDED

#include "Base.h"

typedef struct tag_RATE_LIMITER {
    U32 IntervalMs;
    U32 Burst;
    U64 WindowStartMs;
    U32 CountInWindow;
    U64 Suppressed;  // dropped since the last allowed event
    BOOL Started;
} RATE_LIMITER;

#define RATE_LIMITER_INIT(IntervalMs, Burst) {(IntervalMs), (Burst), 0, 0, 0, FALSE}

void RateLimiterInit(RATE_LIMITER* Limiter, U32 IntervalMs, U32 Burst);
/**
 * Returns TRUE if an event at NowMs may go through. When it does, *Suppressed
 * (if not NULL) receives how many were dropped since the last one and the
 * count restarts.
 */
BOOL RateLimiterAllow(RATE_LIMITER* Limiter, U64 NowMs, U64* Suppressed);

#endif  // UTILS_RATELIMIT_H_INCLUDED

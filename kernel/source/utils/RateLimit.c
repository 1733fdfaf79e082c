/*
 * RateLimit.c - token bucket rate limiter (see RateLimit.h).
 *
 * Tokens come back one every IntervalMs/Burst; the refill time advances by
 * whole tokens only, so the fraction of a token already earned is kept
 * between calls. A clock that goes backwards (or stands still) refills
 * nothing rather than misbehaving.
 */

#include "utils/RateLimit.h"

void RateLimiterInit(RATE_LIMITER* Limiter, U32 IntervalMs, U32 Burst) {
    Limiter->IntervalMs = IntervalMs;
    Limiter->Burst = Burst;
    Limiter->WindowStartMs = 0;
    Limiter->CountInWindow = 0;
    Limiter->Suppressed = 0;
    Limiter->Started = FALSE;
}

static void Refill(RATE_LIMITER* Limiter, U64 NowMs, U32 Burst) {
    if (Limiter->CountInWindow == 0) {
        // A full bucket earns nothing: refilling starts when a token is spent.
        if (NowMs > Limiter->WindowStartMs) Limiter->WindowStartMs = NowMs;
        return;
    }
    if (NowMs <= Limiter->WindowStartMs) return;
    U64 Elapsed = NowMs - Limiter->WindowStartMs;
    if (Elapsed >= Limiter->IntervalMs) {
        Limiter->CountInWindow = 0;
        Limiter->WindowStartMs = NowMs;
        return;
    }
    // Elapsed < IntervalMs (a U32), so the product fits in 64 bits.
    U64 Tokens = Elapsed * Burst / Limiter->IntervalMs;
    if (Tokens == 0) return;
    if (Tokens >= Limiter->CountInWindow) {
        Limiter->CountInWindow = 0;
        Limiter->WindowStartMs = NowMs;
    } else {
        Limiter->CountInWindow -= (U32)Tokens;
        Limiter->WindowStartMs += Tokens * Limiter->IntervalMs / Burst;
    }
}

BOOL RateLimiterAllow(RATE_LIMITER* Limiter, U64 NowMs, U64* Suppressed) {
    U32 Burst = Limiter->Burst != 0 ? Limiter->Burst : 1;

    if (!Limiter->Started) {
        Limiter->Started = TRUE;
        Limiter->WindowStartMs = NowMs;
        Limiter->CountInWindow = 0;
    }
    if (Limiter->IntervalMs != 0) Refill(Limiter, NowMs, Burst);

    if (Limiter->IntervalMs != 0 && Limiter->CountInWindow >= Burst) {
        Limiter->Suppressed++;
        return FALSE;
    }
    Limiter->CountInWindow++;
    if (Suppressed != NULL) *Suppressed = Limiter->Suppressed;
    Limiter->Suppressed = 0;
    return TRUE;
}

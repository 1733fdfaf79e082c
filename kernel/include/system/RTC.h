/*
 * RTC.h - wall-clock time: the CMOS real-time clock and calendar conversion.
 *
 * Cairn's own clock (system/Clock.h) is monotonic from boot. Wall-clock time
 * (file times, `stat`, `ls -l`) is the RTC read once, on first use, plus the
 * monotonic time since; a fixed epoch plus uptime when the RTC answers
 * nonsense. Calendar conversion is pure and host-tested; host builds return
 * a value the tests set.
 */

#ifndef SYSTEM_RTC_H_INCLUDED
#define SYSTEM_RTC_H_INCLUDED

#include "Base.h"

#define RTC_FALLBACK_EPOCH 1735689600ULL  // 2025-01-01 00:00:00 UTC

typedef struct tag_RTC_DATE {
    U32 Year, Month, Day, Hour, Minute, Second;
} RTC_DATE;

/** Seconds since 1970-01-01 UTC (see above). */
U64 RTCCurrentTime(void);
/** Unix seconds to a calendar date (UTC), and back. */
void RTCTimeToDate(U64 Seconds, RTC_DATE* Date);
U64 RTCDateToTime(const RTC_DATE* Date);

#ifdef CAIRN_HOST_BUILD
/** Host builds: RTCCurrentTime returns this value (tests set it). */
void RTCHostSetTime(U64 Seconds);
#endif

#endif  // SYSTEM_RTC_H_INCLUDED

/*
 * RTC.c - wall-clock time (system/RTC.h): the CMOS real-time clock, read
 * once, advanced by the monotonic clock; and calendar conversion.
 *
 * The only clock Cairn has is monotonic (system/Clock.h, from boot), so the
 * date comes from the CMOS real-time clock, read once: ports 0x70 (register
 * select) and 0x71 (data); registers 0x00 seconds, 0x02 minutes, 0x04 hours,
 * 0x07 day, 0x08 month, 0x09 year, 0x32 century (the MC146818 layout PCs and
 * QEMU keep; QEMU's RTC runs in UTC by default), status A bit 7 "update in
 * progress", status B bit 1 "24-hour" and bit 2 "binary" (else BCD, with the
 * PM flag in bit 7 of the hour in 12-hour mode). File times are that
 * reading plus the monotonic time since; when the RTC answers nonsense they
 * are RTC_FALLBACK_EPOCH plus uptime. Host builds return a settable value.
 *
 * The calendar arithmetic is the proleptic Gregorian day count relative to
 * 1970-01-01, with March-based years so February comes last (as in Howard
 * Hinnant's published "chrono-compatible low-level date algorithms").
 */

#include "system/RTC.h"

#ifndef CAIRN_HOST_BUILD
#include "arch/x86-64/CPU.h"
#include "system/Clock.h"
#include "utils/String.h"
#endif

/** Days since 1970-01-01 of a calendar date. */
static I64 RTCDaysFromCivil(I64 Year, U32 Month, U32 Day) {
    Year -= Month <= 2;
    I64 Era = (Year >= 0 ? Year : Year - 399) / 400;
    I64 YearOfEra = Year - Era * 400;
    I64 DayOfYear = (153 * (Month > 2 ? Month - 3 : Month + 9) + 2) / 5 + Day - 1;
    I64 DayOfEra = YearOfEra * 365 + YearOfEra / 4 - YearOfEra / 100 + DayOfYear;
    return Era * 146097 + DayOfEra - 719468;
}

U64 RTCDateToTime(const RTC_DATE* Date) {
    I64 Days = RTCDaysFromCivil(Date->Year, Date->Month, Date->Day);
    if (Days < 0) return 0;
    return (U64)Days * 86400 + Date->Hour * 3600 + Date->Minute * 60 + Date->Second;
}

void RTCTimeToDate(U64 Seconds, RTC_DATE* Date) {
    U64 Days = Seconds / 86400;
    U64 Rest = Seconds % 86400;
    Date->Hour = (U32)(Rest / 3600);
    Date->Minute = (U32)(Rest / 60 % 60);
    Date->Second = (U32)(Rest % 60);
    U64 Shifted = Days + 719468;
    U64 Era = Shifted / 146097;
    U64 DayOfEra = Shifted - Era * 146097;
    U64 YearOfEra = (DayOfEra - DayOfEra / 1460 + DayOfEra / 36524 - DayOfEra / 146096) / 365;
    U64 DayOfYear = DayOfEra - (365 * YearOfEra + YearOfEra / 4 - YearOfEra / 100);
    U64 MonthIndex = (5 * DayOfYear + 2) / 153;
    Date->Day = (U32)(DayOfYear - (153 * MonthIndex + 2) / 5 + 1);
    Date->Month = (U32)(MonthIndex < 10 ? MonthIndex + 3 : MonthIndex - 9);
    Date->Year = (U32)(YearOfEra + Era * 400 + (Date->Month <= 2));
}

#ifdef CAIRN_HOST_BUILD

static U64 RTCHostTime = 1700000000ULL;  // 2023-11-14

void RTCHostSetTime(U64 Seconds) { RTCHostTime = Seconds; }
U64 RTCCurrentTime(void) { return RTCHostTime; }

#else

#define CMOS_ADDRESS 0x70
#define CMOS_DATA 0x71
#define CMOS_STATUS_A 0x0A
#define CMOS_STATUS_B 0x0B
#define CMOS_UPDATE_IN_PROGRESS 0x80
#define CMOS_BINARY 0x04
#define CMOS_24_HOUR 0x02
#define CMOS_WAIT_LIMIT 20000   // status reads while an update runs (it lasts about 2 ms)

static U64 RTCBootSeconds;
static U64 RTCBootNs;
static BOOL RTCTimeKnown;

static U8 RTCReadCMOS(U8 Register) {
    OutPortByte(CMOS_ADDRESS, Register);
    return InPortByte(CMOS_DATA);
}

static U32 RTCFromBCD(U8 Value) { return (Value & 0x0F) + (Value >> 4) * 10; }

/** One consistent reading of the RTC as Unix seconds; FALSE when it makes no sense. */
static BOOL RTCReadCMOSTime(U64* Seconds) {
    static const U8 Registers[7] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
    U8 Values[7], Previous[7];
    U8 StatusB = 0;
    BOOL Stable = FALSE;
    for (U32 Attempt = 0; Attempt < 6 && !Stable; Attempt++) {
        for (U32 Wait = 0; Wait < CMOS_WAIT_LIMIT && (RTCReadCMOS(CMOS_STATUS_A) & CMOS_UPDATE_IN_PROGRESS); Wait++) {
        }
        U64 Flags = SaveAndDisableInterrupts();
        for (U32 I = 0; I < 7; I++) Values[I] = RTCReadCMOS(Registers[I]);
        StatusB = RTCReadCMOS(CMOS_STATUS_B);
        RestoreInterrupts(Flags);
        // Two equal readings in a row cannot straddle an update.
        Stable = Attempt > 0 && MemoryCompare(Values, Previous, sizeof(Values)) == 0;
        MemoryCopy(Previous, Values, sizeof(Values));
    }
    if (!Stable) return FALSE;

    BOOL PM = (Values[2] & 0x80) != 0;
    Values[2] &= 0x7F;
    U32 Decoded[7];
    for (U32 I = 0; I < 7; I++) Decoded[I] = (StatusB & CMOS_BINARY) ? Values[I] : RTCFromBCD(Values[I]);
    if (!(StatusB & CMOS_24_HOUR)) Decoded[2] = (Decoded[2] % 12) + (PM ? 12 : 0);
    U32 Century = (Decoded[6] >= 19 && Decoded[6] <= 21) ? Decoded[6] : 20;
    RTC_DATE Date = {Century * 100 + Decoded[5], Decoded[4], Decoded[3], Decoded[2], Decoded[1], Decoded[0]};
    if (Date.Second > 59 || Date.Minute > 59 || Date.Hour > 23 || Date.Day < 1 || Date.Day > 31 || Date.Month < 1 ||
        Date.Month > 12 || Date.Year < 2000 || Date.Year > 2099) {
        return FALSE;
    }
    *Seconds = RTCDateToTime(&Date);
    return TRUE;
}

U64 RTCCurrentTime(void) {
    if (!RTCTimeKnown) {
        U64 Seconds;
        U64 Now = GetSystemTimeNs();
        if (!RTCReadCMOSTime(&Seconds)) Seconds = RTC_FALLBACK_EPOCH + Now / 1000000000ULL;
        RTCBootSeconds = Seconds;
        RTCBootNs = Now;
        RTCTimeKnown = TRUE;
    }
    return RTCBootSeconds + (GetSystemTimeNs() - RTCBootNs) / 1000000000ULL;
}

#endif  // CAIRN_HOST_BUILD

/*
 * Format.c - printf-style formatting (see Format.h).
 *
 * One pass over the format string; each conversion renders its digits into a
 * small local buffer, then padding and the digits are emitted through Emit(),
 * which counts every character but stores only what fits.
 */

#include "utils/Format.h"

#include "utils/String.h"

typedef struct tag_FORMAT_OUTPUT {
    LPSTR Buffer;
    SIZE Size;
    SIZE Length;
} FORMAT_OUTPUT;

static void Emit(FORMAT_OUTPUT* Output, char C) {
    if (Output->Size != 0 && Output->Length < Output->Size - 1) Output->Buffer[Output->Length] = C;
    Output->Length++;
}

static void EmitRepeated(FORMAT_OUTPUT* Output, char C, I32 Count) {
    while (Count-- > 0) Emit(Output, C);
}

#define FLAG_LEFT 0x01
#define FLAG_ZERO 0x02
#define FLAG_PLUS 0x04
#define FLAG_SPACE 0x08
#define FLAG_UPPER 0x10
#define FLAG_ALT 0x20

static void EmitNumber(FORMAT_OUTPUT* Output, U64 Value, BOOL Negative, U32 Base, U32 Flags, I32 Width,
                       I32 Precision) {
    char Digits[24];
    I32 Count = 0;
    const char* Alphabet = (Flags & FLAG_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
    char Sign = 0;
    const char* Prefix = "";

    do {
        Digits[Count++] = Alphabet[Value % Base];
        Value /= Base;
    } while (Value != 0);
    if (Precision == 0 && Count == 1 && Digits[0] == '0') Count = 0;

    if (Negative) Sign = '-';
    else if (Flags & FLAG_PLUS) Sign = '+';
    else if (Flags & FLAG_SPACE) Sign = ' ';
    if ((Flags & FLAG_ALT) && Base == 16) Prefix = (Flags & FLAG_UPPER) ? "0X" : "0x";

    I32 ZeroCount = Precision > Count ? Precision - Count : 0;
    I32 Total = Count + ZeroCount + (Sign ? 1 : 0) + (I32)StringLength(Prefix);
    if ((Flags & FLAG_ZERO) && !(Flags & FLAG_LEFT) && Precision < 0 && Width > Total) {
        ZeroCount += Width - Total;
        Total = Width;
    }
    if (!(Flags & FLAG_LEFT)) EmitRepeated(Output, ' ', Width - Total);
    if (Sign) Emit(Output, Sign);
    for (const char* P = Prefix; *P; P++) Emit(Output, *P);
    EmitRepeated(Output, '0', ZeroCount);
    while (Count > 0) Emit(Output, Digits[--Count]);
    if (Flags & FLAG_LEFT) EmitRepeated(Output, ' ', Width - Total);
}

SIZE StringPrintFormatV(LPSTR Buffer, SIZE Size, LPCSTR Format, VA_LIST Arguments) {
    FORMAT_OUTPUT Output = {Buffer, Size, 0};
    VA_LIST Args;
    VA_COPY(Args, Arguments);

    while (*Format) {
        if (*Format != '%') {
            Emit(&Output, *Format++);
            continue;
        }
        Format++;

        U32 Flags = 0;
        for (;; Format++) {
            if (*Format == '-') Flags |= FLAG_LEFT;
            else if (*Format == '0') Flags |= FLAG_ZERO;
            else if (*Format == '+') Flags |= FLAG_PLUS;
            else if (*Format == ' ') Flags |= FLAG_SPACE;
            else if (*Format == '#') Flags |= FLAG_ALT;
            else break;
        }

        I32 Width = 0;
        if (*Format == '*') {
            Width = VA_ARG(Args, int);
            if (Width < 0) {
                Flags |= FLAG_LEFT;
                Width = -Width;
            }
            Format++;
        } else {
            while (CharIsDigit(*Format)) {
                if (Width < 100000) Width = Width * 10 + (*Format - '0');
                Format++;
            }
        }

        I32 Precision = -1;
        if (*Format == '.') {
            Format++;
            Precision = 0;
            if (*Format == '*') {
                Precision = VA_ARG(Args, int);
                Format++;
            } else {
                while (CharIsDigit(*Format)) {
                    if (Precision < 100000) Precision = Precision * 10 + (*Format - '0');
                    Format++;
                }
            }
        }

        I32 LengthBits = 32;
        if (*Format == 'h') {
            Format++;
            LengthBits = 16;
            if (*Format == 'h') {
                Format++;
                LengthBits = 8;
            }
        } else if (*Format == 'l') {
            Format++;
            LengthBits = 64;
            if (*Format == 'l') Format++;
        } else if (*Format == 'z' || *Format == 'j' || *Format == 't') {
            Format++;
            LengthBits = 64;
        }

        char Conversion = *Format;
        if (Conversion == 0) break;
        Format++;

        switch (Conversion) {
            case 'd':
            case 'i': {
                I64 Value = LengthBits == 64 ? VA_ARG(Args, I64) : (I64)VA_ARG(Args, int);
                if (LengthBits == 16) Value = (I16)Value;
                if (LengthBits == 8) Value = (I8)Value;
                BOOL Negative = Value < 0;
                U64 Magnitude = Negative ? (U64)0 - (U64)Value : (U64)Value;
                EmitNumber(&Output, Magnitude, Negative, 10, Flags, Width, Precision);
                break;
            }
            case 'u':
            case 'x':
            case 'X':
            case 'o': {
                U64 Value = LengthBits == 64 ? VA_ARG(Args, U64) : (U64)VA_ARG(Args, unsigned int);
                if (LengthBits == 16) Value = (U16)Value;
                if (LengthBits == 8) Value = (U8)Value;
                if (Conversion == 'X') Flags |= FLAG_UPPER;
                U32 Base = Conversion == 'u' ? 10 : (Conversion == 'o' ? 8 : 16);
                EmitNumber(&Output, Value, FALSE, Base, Flags, Width, Precision);
                break;
            }
            case 'p': {
                U64 Value = (U64)(UINT)VA_ARG(Args, void*);
                EmitNumber(&Output, Value, FALSE, 16, (Flags | FLAG_ALT | FLAG_ZERO) & ~FLAG_LEFT, 18, -1);
                break;
            }
            case 'c': {
                char C = (char)VA_ARG(Args, int);
                if (!(Flags & FLAG_LEFT)) EmitRepeated(&Output, ' ', Width - 1);
                Emit(&Output, C);
                if (Flags & FLAG_LEFT) EmitRepeated(&Output, ' ', Width - 1);
                break;
            }
            case 's': {
                LPCSTR Text = VA_ARG(Args, LPCSTR);
                if (Text == NULL) Text = "(null)";
                I32 Length = (I32)(Precision >= 0 ? StringLengthBounded(Text, (SIZE)Precision) : StringLength(Text));
                if (!(Flags & FLAG_LEFT)) EmitRepeated(&Output, ' ', Width - Length);
                for (I32 I = 0; I < Length; I++) Emit(&Output, Text[I]);
                if (Flags & FLAG_LEFT) EmitRepeated(&Output, ' ', Width - Length);
                break;
            }
            case '%':
                Emit(&Output, '%');
                break;
            default:
                // Unknown conversion: show it as written so the mistake is visible.
                Emit(&Output, '%');
                Emit(&Output, Conversion);
                break;
        }
    }

    if (Size != 0) Buffer[Output.Length < Size ? Output.Length : Size - 1] = 0;
    VA_END(Args);
    return Output.Length;
}

SIZE StringPrintFormat(LPSTR Buffer, SIZE Size, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    SIZE Length = StringPrintFormatV(Buffer, Size, Format, Arguments);
    VA_END(Arguments);
    return Length;
}

/** Bytes / Unit with two rounded decimals; Unit is a power of 1000 or of 1024 (at least 16 when not 1). */
static void FormatFixed2(LPSTR Buffer, SIZE Size, U64 Bytes, U64 Unit, LPCSTR Suffix) {
    U64 Whole = Bytes / Unit, Remainder = Bytes % Unit, Hundredths = 0;
    if (Unit >= 1000 && Unit % 100 == 0) {
        Hundredths = (Remainder + Unit / 200) / (Unit / 100);
    } else if (Unit > 1) {
        // Binary units: drop 4 low bits first so Remainder * 100 cannot overflow (Remainder < 2^60).
        Hundredths = ((Remainder >> 4) * 100 + (Unit >> 5)) / (Unit >> 4);
    }
    if (Hundredths >= 100) {
        Whole++;
        Hundredths -= 100;
    }
    StringPrintFormat(Buffer, Size, "%llu.%02llu %s", Whole, Hundredths, Suffix);
}

/** coreutils' human_readable with autoscale and rounding: one decimal below 10 units, else whole units. */
static void FormatHuman(LPSTR Buffer, SIZE Size, U64 Bytes, U64 Base, const char* const* Names, U32 Count) {
    U64 Unit = 1;
    U32 Index = 0;
    while (Index + 1 < Count && Bytes / Unit >= Base) {
        Unit *= Base;
        Index++;
    }
    if (Index == 0) {
        StringPrintFormat(Buffer, Size, "%llu %s", Bytes, Names[0]);
        return;
    }
    U64 Tenths = Bytes <= MAX_U64 / 10 ? (Bytes * 10 + Unit / 2) / Unit : Bytes / (Unit / 10);
    if (Tenths < 100) {
        StringPrintFormat(Buffer, Size, "%llu.%llu %s", Tenths / 10, Tenths % 10, Names[Index]);
        return;
    }
    U64 Whole = (Tenths + 5) / 10;
    if (Whole >= Base && Index + 1 < Count) {
        StringPrintFormat(Buffer, Size, "1.0 %s", Names[Index + 1]);
        return;
    }
    StringPrintFormat(Buffer, Size, "%llu %s", Whole, Names[Index]);
}

void FormatByteSize(LPSTR Buffer, SIZE Size, U64 Bytes, U32 Style) {
    static const char* const Binary[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    static const char* const Decimal[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    static const char Letters[] = {0, 'K', 'M', 'G', 'T', 'P', 'E'};
    BOOL IsDecimal = (Style & FORMAT_SIZE_DECIMAL) != 0;
    const char* const* Names = IsDecimal ? Decimal : Binary;
    U64 Base = IsDecimal ? 1000 : 1024;
    U32 Count = ARRAY_COUNT(Binary);
    U64 Unit = 1;
    U32 Index = 0;

    switch (Style & FORMAT_SIZE_FORM_MASK) {
        case FORMAT_SIZE_EXACT:
            while (Index + 1 < Count && Bytes != 0 && Bytes % (Unit * Base) == 0) {
                Unit *= Base;
                Index++;
            }
            if (!(Style & FORMAT_SIZE_COMPACT)) StringPrintFormat(Buffer, Size, "%llu %s", Bytes / Unit, Names[Index]);
            else if (Index == 0) StringPrintFormat(Buffer, Size, "%llu", Bytes);
            else StringPrintFormat(Buffer, Size, "%llu%c", Bytes / Unit, Letters[Index]);
            return;
        case FORMAT_SIZE_FIXED2:
            while (Index + 1 < Count && Bytes / Unit >= Base) {
                Unit *= Base;
                Index++;
            }
            FormatFixed2(Buffer, Size, Bytes, Unit, Names[Index]);
            return;
        case FORMAT_SIZE_HUMAN:
            FormatHuman(Buffer, Size, Bytes, Base, Names, Count);
            return;
        default:
            break;
    }

    // FORMAT_SIZE_TENTHS
    if (Bytes < Base) {
        StringPrintFormat(Buffer, Size, "%llu B", Bytes);
        return;
    }
    while (Index + 1 < Count && Bytes / Unit >= Base) {
        Unit *= Base;
        Index++;
    }
    U64 Tenths = Bytes / (Unit / Base) * 10 / Base;  // without overflow for sane sizes
    StringPrintFormat(Buffer, Size, "%llu.%llu %s", Tenths / 10, Tenths % 10, Names[Index]);
}

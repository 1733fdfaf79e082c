/*
 * KeyDecoder.c - ANSI terminal input decoder (see KeyDecoder.h).
 *
 * A small state machine: NORMAL -> ESC -> CSI ("ESC [") or SS3 ("ESC O").
 * CSI sequences are "ESC [ parameters final" with parameters made of digits
 * and ';' and a final byte in 0x40-0x7E (ECMA-48 5.4); only the first
 * parameter matters here (ESC [ 1 ; 5 C, Ctrl-Right, decodes as Right).
 * A pair of different newline bytes (CR LF, LF CR) is one Enter, because
 * terminals send either CR or CR LF for the Enter key.
 */

#include "utils/KeyDecoder.h"

#include "drivers/console/Input.h"

#define STATE_NORMAL 0
#define STATE_ESCAPE 1
#define STATE_CSI 2
#define STATE_SS3 3

#define FLAG_SECOND_PARAMETER 0x01
#define FLAG_MALFORMED 0x02

#define ASCII_ESCAPE 0x1B
#define ASCII_DELETE 0x7F

void KeyDecoderInit(KEY_DECODER* Decoder) {
    Decoder->State = STATE_NORMAL;
    Decoder->Parameter = 0;
    Decoder->LastNewline = 0;
    Decoder->Count = 0;
    Decoder->Flags = 0;
    Decoder->Pending = 0;
}

static void StartSequence(KEY_DECODER* Decoder, U8 State) {
    Decoder->State = State;
    Decoder->Parameter = 0;
    Decoder->Count = 0;
    Decoder->Flags = 0;
}

static U32 FeedNormal(KEY_DECODER* Decoder, U8 Byte) {
    if (Byte == '\r' || Byte == '\n') {
        if (Decoder->LastNewline != 0 && Decoder->LastNewline != Byte) {
            Decoder->LastNewline = 0;  // second half of a CR LF / LF CR pair
            return 0;
        }
        Decoder->LastNewline = Byte;
        return KEY_ENTER;
    }
    Decoder->LastNewline = 0;
    if (Byte == ASCII_ESCAPE) {
        StartSequence(Decoder, STATE_ESCAPE);
        return 0;
    }
    if (Byte == ASCII_DELETE || Byte == 0x08) return KEY_BACKSPACE;
    return Byte;  // 0 (NUL) is swallowed
}

/** The cursor keys' final letter, the same after CSI (ESC [) and SS3 (ESC O); 0 for any other byte. */
static U32 CursorKey(U8 Final) {
    switch (Final) {
        case 'A': return KEY_UP;
        case 'B': return KEY_DOWN;
        case 'C': return KEY_RIGHT;
        case 'D': return KEY_LEFT;
        case 'H': return KEY_HOME;
        case 'F': return KEY_END;
        default: return 0;
    }
}

static U32 CSIFinal(const KEY_DECODER* Decoder, U8 Final) {
    if (CursorKey(Final) != 0) return CursorKey(Final);
    switch (Final) {
        case '~':
            switch (Decoder->Parameter) {
                case 1: case 7: return KEY_HOME;
                case 2: return KEY_INSERT;
                case 3: return KEY_DELETE;
                case 4: case 8: return KEY_END;
                case 5: return KEY_PAGE_UP;
                case 6: return KEY_PAGE_DOWN;
                default: return 0;
            }
        default:
            return 0;
    }
}

static U32 FeedCSI(KEY_DECODER* Decoder, U8 Byte) {
    if (Byte < 0x20 || Byte == ASCII_DELETE || Byte >= 0x80) {
        // Not part of any sequence: abandon the sequence, keep the byte.
        Decoder->State = STATE_NORMAL;
        return FeedNormal(Decoder, Byte);
    }
    if (++Decoder->Count > KEY_DECODER_MAX_SEQUENCE) Decoder->Flags |= FLAG_MALFORMED;

    if (Byte >= '0' && Byte <= '9') {
        if (!(Decoder->Flags & FLAG_SECOND_PARAMETER)) {
            U32 Value = (U32)Decoder->Parameter * 10 + (U32)(Byte - '0');
            Decoder->Parameter = Value > 99 ? 255 : (U8)Value;
        }
        return 0;
    }
    if (Byte == ';') {
        Decoder->Flags |= FLAG_SECOND_PARAMETER;
        return 0;
    }
    if (Byte < 0x40) {
        // Private markers ('?', '<', ...) and intermediates: a sequence we do not know.
        Decoder->Flags |= FLAG_MALFORMED;
        return 0;
    }
    Decoder->State = STATE_NORMAL;
    if (Decoder->Flags & FLAG_MALFORMED) return 0;
    return CSIFinal(Decoder, Byte);
}

static U32 FeedSS3(KEY_DECODER* Decoder, U8 Byte) {
    if (Byte < 0x20 || Byte == ASCII_DELETE || Byte >= 0x80) {
        Decoder->State = STATE_NORMAL;
        return FeedNormal(Decoder, Byte);
    }
    Decoder->State = STATE_NORMAL;
    return CursorKey(Byte);  // 0 for function keys (ESC O P...) and the like
}

U32 KeyDecoderFeed(KEY_DECODER* Decoder, U8 Byte) {
    Decoder->Pending = 0;
    switch (Decoder->State) {
        case STATE_ESCAPE:
            if (Byte == '[') {
                StartSequence(Decoder, STATE_CSI);
                return 0;
            }
            if (Byte == 'O') {
                StartSequence(Decoder, STATE_SS3);
                return 0;
            }
            // ESC then anything else: the Esc key, then that byte on its own (ESC ESC starts anew).
            Decoder->State = STATE_NORMAL;
            Decoder->Pending = FeedNormal(Decoder, Byte);
            return KEY_ESCAPE;
        case STATE_CSI:
            return FeedCSI(Decoder, Byte);
        case STATE_SS3:
            return FeedSS3(Decoder, Byte);
        default:
            return FeedNormal(Decoder, Byte);
    }
}

U32 KeyDecoderTake(KEY_DECODER* Decoder) {
    U32 Key = Decoder->Pending;
    Decoder->Pending = 0;
    return Key;
}

U32 KeyDecoderFlush(KEY_DECODER* Decoder) {
    U8 State = Decoder->State;
    Decoder->State = STATE_NORMAL;
    Decoder->LastNewline = 0;
    return State == STATE_ESCAPE ? KEY_ESCAPE : 0;
}

BOOL KeyDecoderPending(const KEY_DECODER* Decoder) { return Decoder->State != STATE_NORMAL; }

/*
 * KeyDecoder.h - turns a terminal's byte stream into keys.
 *
 * Pure logic. Recognises CSI and SS3 sequences for the arrows, Home, End,
 * Delete, Insert, Page Up/Down (ESC [ A, ESC O H, ESC [ 3 ~, ESC [ 1 ~ ...),
 * maps CR and LF to KEY_ENTER (a CR LF or LF CR pair counts once), DEL (0x7F)
 * and BS to KEY_BACKSPACE. A lone ESC is reported when KeyDecoderFlush() is
 * called after a pause, so the Esc key still works on serial.
 */

#ifndef UTILS_KEYDECODER_H_INCLUDED
#define UTILS_KEYDECODER_H_INCLUDED

#include "Base.h"

typedef struct tag_KEY_DECODER {
    U8 State;
    U8 Parameter;      // numeric parameter of CSI n ~
    U8 LastNewline;    // the previous byte was CR or LF (for pairs)
} KEY_DECODER;

void KeyDecoderInit(KEY_DECODER* Decoder);
/** Feeds one byte; returns a key (KEY_* / character) or 0 when more bytes are needed or the byte is swallowed. */
U32 KeyDecoderFeed(KEY_DECODER* Decoder, U8 Byte);
/** Ends a pending sequence (after a timeout): returns KEY_ESCAPE if only ESC was seen, else 0. */
U32 KeyDecoderFlush(KEY_DECODER* Decoder);
BOOL KeyDecoderPending(const KEY_DECODER* Decoder);

#endif  // UTILS_KEYDECODER_H_INCLUDED

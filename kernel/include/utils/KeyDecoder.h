/*
 * KeyDecoder.h - turns a terminal's byte stream into keys.
 *
 * Pure logic. Recognises CSI and SS3 sequences for the arrows, Home, End,
 * Delete, Insert, Page Up/Down (ESC [ A, ESC O H, ESC [ 3 ~, ESC [ 1 ~ ...),
 * maps CR and LF to KEY_ENTER (a CR LF or LF CR pair counts once), DEL (0x7F)
 * and BS to KEY_BACKSPACE. A lone ESC is reported when KeyDecoderFlush() is
 * called after a pause, so the Esc key still works on serial.
 *
 * One byte can complete two keys (ESC then 'x' gives KEY_ESCAPE and 'x'):
 * after each KeyDecoderFeed, call KeyDecoderTake until it returns 0.
 * Unknown or malformed sequences are swallowed; a control byte in the middle
 * of a sequence ends it and is decoded on its own, so no typed key is lost.
 * Keys are the KEY_* codes of drivers/console/Input.h.
 */

#ifndef UTILS_KEYDECODER_H_INCLUDED
#define UTILS_KEYDECODER_H_INCLUDED

#include "Base.h"

/** Longest sequence body accepted before it is treated as garbage. */
#define KEY_DECODER_MAX_SEQUENCE 16

typedef struct tag_KEY_DECODER {
    U8 State;
    U8 Parameter;      // numeric parameter of CSI n ~ (255 when out of range)
    U8 LastNewline;    // the previous byte was CR or LF (for pairs)
    U8 Count;          // bytes seen in the current sequence
    U8 Flags;          // sequence details (second parameter seen, malformed)
    U32 Pending;       // a second key produced by the last byte
} KEY_DECODER;

void KeyDecoderInit(KEY_DECODER* Decoder);
/** Feeds one byte; returns a key (KEY_* / character) or 0 when more bytes are needed or the byte is swallowed. */
U32 KeyDecoderFeed(KEY_DECODER* Decoder, U8 Byte);
/** Returns the further key the last byte produced, or 0. */
U32 KeyDecoderTake(KEY_DECODER* Decoder);
/** Ends a pending sequence (after a timeout): returns KEY_ESCAPE if only ESC was seen, else 0. */
U32 KeyDecoderFlush(KEY_DECODER* Decoder);
/** TRUE while a sequence is incomplete (the caller should flush it after a pause). */
BOOL KeyDecoderPending(const KEY_DECODER* Decoder);

#endif  // UTILS_KEYDECODER_H_INCLUDED

/*
 * Test-KeyDecoder.c - utils/KeyDecoder.c: every CSI and SS3 sequence the
 * terminals send for the editing keys, sequences split across calls, CR/LF
 * pairs counted once, DEL and BS as Backspace, a lone ESC completed by
 * KeyDecoderFlush, ESC followed by a plain key, and garbage or over-long
 * sequences that must not swallow the keys typed after them.
 */
// SOURCES: utils/KeyDecoder.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/console/Input.h"
#include "utils/KeyDecoder.h"

#define MAX_KEYS 64

typedef struct {
    U32 Keys[MAX_KEYS];
    U32 Count;
} KEYS;

/** Feeds Length bytes and collects every key produced (both Feed's and Take's). */
static void FeedBytes(KEY_DECODER* Decoder, const char* Bytes, size_t Length, KEYS* Out) {
    for (size_t I = 0; I < Length; I++) {
        U32 Key = KeyDecoderFeed(Decoder, (U8)Bytes[I]);
        if (Key != 0) {
            assert_true(Out->Count < MAX_KEYS);
            Out->Keys[Out->Count++] = Key;
        }
        for (Key = KeyDecoderTake(Decoder); Key != 0; Key = KeyDecoderTake(Decoder)) {
            assert_true(Out->Count < MAX_KEYS);
            Out->Keys[Out->Count++] = Key;
        }
    }
}

static KEYS Decode(const char* Bytes) {
    KEY_DECODER Decoder;
    KEYS Out = {{0}, 0};
    KeyDecoderInit(&Decoder);
    FeedBytes(&Decoder, Bytes, strlen(Bytes), &Out);
    return Out;
}

static void ExpectOne(const char* Bytes, U32 Key) {
    KEYS Out = Decode(Bytes);
    assert_int_equal(Out.Count, 1);
    assert_int_equal(Out.Keys[0], Key);
}

static void ExpectKeys(const char* Bytes, const U32* Keys, U32 Count) {
    KEYS Out = Decode(Bytes);
    assert_int_equal(Out.Count, Count);
    for (U32 I = 0; I < Count; I++) assert_int_equal(Out.Keys[I], Keys[I]);
}

static void TestPlainCharacters(void** State) {
    (void)State;
    static const U32 Expected[] = {'a', 'Z', '0', ' ', '~', KEY_TAB, KEY_CTRL('a'), KEY_CTRL('c')};
    ExpectKeys("aZ0 ~\t\x01\x03", Expected, 8);
    ExpectOne("\xE9", 0xE9);  // 8-bit bytes pass through
    KEYS Out = Decode("");
    assert_int_equal(Out.Count, 0);
}

static void TestCsiSequences(void** State) {
    (void)State;
    ExpectOne("\x1B[A", KEY_UP);
    ExpectOne("\x1B[B", KEY_DOWN);
    ExpectOne("\x1B[C", KEY_RIGHT);
    ExpectOne("\x1B[D", KEY_LEFT);
    ExpectOne("\x1B[H", KEY_HOME);
    ExpectOne("\x1B[F", KEY_END);
    ExpectOne("\x1B[1~", KEY_HOME);
    ExpectOne("\x1B[7~", KEY_HOME);
    ExpectOne("\x1B[4~", KEY_END);
    ExpectOne("\x1B[8~", KEY_END);
    ExpectOne("\x1B[2~", KEY_INSERT);
    ExpectOne("\x1B[3~", KEY_DELETE);
    ExpectOne("\x1B[5~", KEY_PAGE_UP);
    ExpectOne("\x1B[6~", KEY_PAGE_DOWN);
    // Modifiers in a second parameter (xterm Ctrl/Shift + key) keep the key.
    ExpectOne("\x1B[1;5C", KEY_RIGHT);
    ExpectOne("\x1B[3;2~", KEY_DELETE);
}

static void TestSs3Sequences(void** State) {
    (void)State;
    ExpectOne("\x1BOA", KEY_UP);
    ExpectOne("\x1BOB", KEY_DOWN);
    ExpectOne("\x1BOC", KEY_RIGHT);
    ExpectOne("\x1BOD", KEY_LEFT);
    ExpectOne("\x1BOH", KEY_HOME);
    ExpectOne("\x1BOF", KEY_END);
    KEYS Out = Decode("\x1BOP");  // F1: recognised as a sequence and ignored
    assert_int_equal(Out.Count, 0);
}

static void TestSequenceThenText(void** State) {
    (void)State;
    static const U32 Expected[] = {'e', 'c', KEY_LEFT, KEY_LEFT, 'x', KEY_END, KEY_ENTER};
    ExpectKeys("ec\x1B[D\x1B[Dx\x1BOF\r", Expected, 7);
}

static void TestSplitAcrossCalls(void** State) {
    (void)State;
    const char* Stream = "a\x1B[3~b\x1BOHc\x1B[1;5Dd\r\n";
    static const U32 Expected[] = {'a', KEY_DELETE, 'b', KEY_HOME, 'c', KEY_LEFT, 'd', KEY_ENTER};
    // Every byte on its own call, and every split point of the stream in two calls.
    for (size_t Split = 0; Split <= strlen(Stream); Split++) {
        KEY_DECODER Decoder;
        KEYS Out = {{0}, 0};
        KeyDecoderInit(&Decoder);
        FeedBytes(&Decoder, Stream, Split, &Out);
        BOOL InsideSequence = Split > 0 && Split < strlen(Stream) && Stream[Split - 1] == '\x1B';
        if (InsideSequence) assert_true(KeyDecoderPending(&Decoder));
        FeedBytes(&Decoder, Stream + Split, strlen(Stream) - Split, &Out);
        assert_int_equal(Out.Count, 8);
        for (U32 I = 0; I < 8; I++) assert_int_equal(Out.Keys[I], Expected[I]);
        assert_false(KeyDecoderPending(&Decoder));
    }
}

static void TestNewlines(void** State) {
    (void)State;
    ExpectOne("\r", KEY_ENTER);
    ExpectOne("\n", KEY_ENTER);
    ExpectOne("\r\n", KEY_ENTER);
    ExpectOne("\n\r", KEY_ENTER);
    static const U32 Two[] = {KEY_ENTER, KEY_ENTER};
    ExpectKeys("\r\r", Two, 2);
    ExpectKeys("\n\n", Two, 2);
    ExpectKeys("\r\n\r\n", Two, 2);
    ExpectKeys("\r\n\n", Two, 2);  // CR LF, then a new LF
    static const U32 Mixed[] = {KEY_ENTER, 'x', KEY_ENTER};
    ExpectKeys("\rx\n", Mixed, 3);  // a byte in between breaks the pair
    // The pair also counts once when split across calls.
    KEY_DECODER Decoder;
    KEYS Out = {{0}, 0};
    KeyDecoderInit(&Decoder);
    FeedBytes(&Decoder, "\r", 1, &Out);
    FeedBytes(&Decoder, "\n", 1, &Out);
    assert_int_equal(Out.Count, 1);
}

static void TestBackspaces(void** State) {
    (void)State;
    ExpectOne("\x7F", KEY_BACKSPACE);
    ExpectOne("\x08", KEY_BACKSPACE);
}

static void TestLoneEscape(void** State) {
    (void)State;
    KEY_DECODER Decoder;
    KEYS Out = {{0}, 0};
    KeyDecoderInit(&Decoder);
    assert_int_equal(KeyDecoderFlush(&Decoder), 0);  // nothing pending
    FeedBytes(&Decoder, "\x1B", 1, &Out);
    assert_int_equal(Out.Count, 0);
    assert_true(KeyDecoderPending(&Decoder));
    assert_int_equal(KeyDecoderFlush(&Decoder), KEY_ESCAPE);
    assert_false(KeyDecoderPending(&Decoder));
    // A half sequence flushed after the pause is dropped, and what follows decodes normally.
    FeedBytes(&Decoder, "\x1B[", 2, &Out);
    assert_int_equal(KeyDecoderFlush(&Decoder), 0);
    FeedBytes(&Decoder, "A", 1, &Out);
    assert_int_equal(Out.Count, 1);
    assert_int_equal(Out.Keys[0], 'A');
}

static void TestEscapeThenKey(void** State) {
    (void)State;
    static const U32 EscX[] = {KEY_ESCAPE, 'x'};
    ExpectKeys("\x1Bx", EscX, 2);
    static const U32 EscEnter[] = {KEY_ESCAPE, KEY_ENTER};
    ExpectKeys("\x1B\r", EscEnter, 2);
    static const U32 EscEsc[] = {KEY_ESCAPE, KEY_UP};
    ExpectKeys("\x1B\x1B[A", EscEsc, 2);  // ESC ESC [ A: one Escape, then Up
    static const U32 EscBackspace[] = {KEY_ESCAPE, KEY_BACKSPACE};
    ExpectKeys("\x1B\x7F", EscBackspace, 2);
}

static void TestGarbageDoesNotEatKeys(void** State) {
    (void)State;
    // Unknown final bytes and parameters: swallowed, the next key survives.
    static const U32 AfterUnknown[] = {'a', 'b', 'c'};
    ExpectKeys("\x1B[Za\x1B[99~b\x1B[?25hc", AfterUnknown, 3);
    // A control byte inside a sequence ends it and is decoded itself.
    static const U32 Interrupted[] = {KEY_ENTER, 'x'};
    ExpectKeys("\x1B[1\rx", Interrupted, 2);
    static const U32 Restarted[] = {KEY_UP};
    ExpectKeys("\x1B[12\x1B[A", Restarted, 1);  // a new ESC abandons the old sequence
    static const U32 Ss3Interrupted[] = {KEY_BACKSPACE, 'q'};
    ExpectKeys("\x1BO\x7Fq", Ss3Interrupted, 2);
    // A huge parameter is not a valid key, and does not overflow.
    static const U32 Huge[] = {'k'};
    ExpectKeys("\x1B[99999999999999999999~k", Huge, 1);
    // An over-long sequence is dropped once it ends; the keys after it decode.
    static const U32 Long[] = {KEY_LEFT, 'z'};
    ExpectKeys("\x1B[1;2;3;4;5;6;7;8;9;10;11;12D\x1B[Dz", Long, 2);
    // NUL bytes are swallowed.
    static const U32 Nul[] = {'n'};
    KEY_DECODER Decoder;
    KEYS Out = {{0}, 0};
    KeyDecoderInit(&Decoder);
    FeedBytes(&Decoder, "\0n", 2, &Out);
    assert_int_equal(Out.Count, 1);
    assert_int_equal(Out.Keys[0], Nul[0]);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestPlainCharacters),  cmocka_unit_test(TestCsiSequences),
        cmocka_unit_test(TestSs3Sequences),     cmocka_unit_test(TestSequenceThenText),
        cmocka_unit_test(TestSplitAcrossCalls), cmocka_unit_test(TestNewlines),
        cmocka_unit_test(TestBackspaces),       cmocka_unit_test(TestLoneEscape),
        cmocka_unit_test(TestEscapeThenKey),    cmocka_unit_test(TestGarbageDoesNotEatKeys),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

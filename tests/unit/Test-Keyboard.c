/*
 * Test-Keyboard.c - the pure scan code translation of
 * drivers/console/Keyboard.c (set 1, US layout): letters and digits,
 * shift and caps lock (which only affects letters), ctrl+letter, the E0
 * keys (arrows, Home/End, Delete, pages, right ctrl), the keypad with and
 * without Num Lock, break codes, typematic repeat of the lock keys, and the
 * Pause (E1) sequence that must not leak keys.
 */
// SOURCES: drivers/console/Keyboard.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/console/Input.h"
#include "drivers/console/Keyboard.h"

#define BREAK(c) ((U8)((c) | 0x80))

static KEYBOARD_STATE State;

static int Setup(void** Unused) {
    (void)Unused;
    KeyboardStateInit(&State);
    return 0;
}

/** Feeds Count bytes and returns the keys produced, in order, in Keys (returns how many). */
static U32 Feed(const U8* Bytes, U32 Count, U32* Keys) {
    U32 Produced = 0;
    for (U32 I = 0; I < Count; I++) {
        U32 Key = KeyboardTranslate(&State, Bytes[I]);
        if (Key != 0) Keys[Produced++] = Key;
    }
    return Produced;
}

/** Make then break of one key. */
static U32 Press(U8 Code) {
    U32 Key = KeyboardTranslate(&State, Code);
    assert_int_equal(KeyboardTranslate(&State, BREAK(Code)), 0);
    return Key;
}

static void TestLettersDigitsPunctuation(void** Unused) {
    (void)Unused;
    assert_int_equal(Press(0x1E), 'a');
    assert_int_equal(Press(0x2C), 'z');
    assert_int_equal(Press(0x10), 'q');
    assert_int_equal(Press(0x02), '1');
    assert_int_equal(Press(0x0B), '0');
    assert_int_equal(Press(0x0C), '-');
    assert_int_equal(Press(0x0D), '=');
    assert_int_equal(Press(0x1A), '[');
    assert_int_equal(Press(0x27), ';');
    assert_int_equal(Press(0x28), '\'');
    assert_int_equal(Press(0x29), '`');
    assert_int_equal(Press(0x2B), '\\');
    assert_int_equal(Press(0x33), ',');
    assert_int_equal(Press(0x35), '/');
    assert_int_equal(Press(0x39), ' ');
    assert_int_equal(Press(0x37), '*');  // keypad *
    assert_int_equal(Press(0x01), KEY_ESCAPE);
    assert_int_equal(Press(0x0E), KEY_BACKSPACE);
    assert_int_equal(Press(0x0F), KEY_TAB);
    assert_int_equal(Press(0x1C), KEY_ENTER);
    assert_int_equal(Press(0x3B), 0);  // F1: no key
    assert_int_equal(Press(0x58), 0);  // F12
    assert_int_equal(Press(0x7F), 0);  // unknown code
}

static void TestShift(void** Unused) {
    (void)Unused;
    assert_int_equal(KeyboardTranslate(&State, 0x2A), 0);  // left shift down
    assert_int_equal(Press(0x1E), 'A');
    assert_int_equal(Press(0x02), '!');
    assert_int_equal(Press(0x03), '@');
    assert_int_equal(Press(0x0D), '+');
    assert_int_equal(Press(0x28), '"');
    assert_int_equal(Press(0x35), '?');
    assert_int_equal(Press(0x2B), '|');
    assert_int_equal(KeyboardTranslate(&State, BREAK(0x2A)), 0);
    assert_int_equal(Press(0x1E), 'a');
    // Right shift, released while the other is still held.
    KeyboardTranslate(&State, 0x36);
    KeyboardTranslate(&State, 0x2A);
    KeyboardTranslate(&State, BREAK(0x36));
    assert_int_equal(Press(0x1F), 'S');
    KeyboardTranslate(&State, BREAK(0x2A));
    assert_int_equal(Press(0x1F), 's');
}

static void TestCapsLock(void** Unused) {
    (void)Unused;
    // Typematic repeat of Caps Lock (make, make, make, break) toggles once.
    U8 Caps[] = {0x3A, 0x3A, 0x3A, BREAK(0x3A)};
    U32 Keys[4];
    assert_int_equal(Feed(Caps, 4, Keys), 0);
    assert_int_equal(Press(0x1E), 'A');
    assert_int_equal(Press(0x02), '1');  // digits are not affected
    KeyboardTranslate(&State, 0x2A);
    assert_int_equal(Press(0x1E), 'a');  // shift inverts caps for letters
    assert_int_equal(Press(0x02), '!');
    KeyboardTranslate(&State, BREAK(0x2A));
    assert_int_equal(Feed(Caps, 4, Keys), 0);
    assert_int_equal(Press(0x1E), 'a');
}

static void TestControl(void** Unused) {
    (void)Unused;
    KeyboardTranslate(&State, 0x1D);  // left ctrl
    assert_int_equal(Press(0x2E), KEY_CTRL('c'));
    assert_int_equal(Press(0x1E), KEY_CTRL('a'));
    assert_int_equal(Press(0x16), KEY_CTRL('u'));
    KeyboardTranslate(&State, 0x2A);  // ctrl+shift+letter is still the control code
    assert_int_equal(Press(0x12), KEY_CTRL('e'));
    KeyboardTranslate(&State, BREAK(0x2A));
    KeyboardTranslate(&State, BREAK(0x1D));
    assert_int_equal(Press(0x2E), 'c');
    // Right ctrl is E0 1D.
    U8 RightCtrl[] = {0xE0, 0x1D, 0x2E, BREAK(0x2E), 0xE0, BREAK(0x1D), 0x2E};
    U32 Keys[8];
    assert_int_equal(Feed(RightCtrl, sizeof(RightCtrl), Keys), 2);
    assert_int_equal(Keys[0], KEY_CTRL('c'));
    assert_int_equal(Keys[1], 'c');
}

static void TestExtendedKeys(void** Unused) {
    (void)Unused;
    static const struct {
        U8 Code;
        U32 Key;
    } Cases[] = {
        {0x48, KEY_UP},       {0x50, KEY_DOWN},     {0x4B, KEY_LEFT},      {0x4D, KEY_RIGHT},
        {0x47, KEY_HOME},     {0x4F, KEY_END},      {0x53, KEY_DELETE},    {0x52, KEY_INSERT},
        {0x49, KEY_PAGE_UP},  {0x51, KEY_PAGE_DOWN}, {0x1C, KEY_ENTER},    {0x35, '/'},
    };
    for (size_t I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) {
        U8 Bytes[] = {0xE0, Cases[I].Code, 0xE0, BREAK(Cases[I].Code)};
        U32 Keys[4];
        assert_int_equal(Feed(Bytes, 4, Keys), 1);
        assert_int_equal(Keys[0], Cases[I].Key);
    }
    // With Num Lock on, the E0 arrows are still arrows (not keypad digits).
    assert_true(State.NumLock);
    // Fake shifts around Print Screen (E0 2A E0 37) change nothing.
    U8 PrintScreen[] = {0xE0, 0x2A, 0xE0, 0x37, 0xE0, BREAK(0x37), 0xE0, BREAK(0x2A), 0x1E};
    U32 Keys[8];
    assert_int_equal(Feed(PrintScreen, sizeof(PrintScreen), Keys), 1);
    assert_int_equal(Keys[0], 'a');
}

static void TestKeypad(void** Unused) {
    (void)Unused;
    assert_int_equal(Press(0x47), '7');  // Num Lock on at start
    assert_int_equal(Press(0x52), '0');
    assert_int_equal(Press(0x53), '.');
    assert_int_equal(Press(0x4A), '-');
    assert_int_equal(Press(0x4E), '+');
    assert_int_equal(Press(0x45), 0);  // Num Lock off
    assert_int_equal(Press(0x47), KEY_HOME);
    assert_int_equal(Press(0x48), KEY_UP);
    assert_int_equal(Press(0x4B), KEY_LEFT);
    assert_int_equal(Press(0x4C), 0);  // keypad 5 without Num Lock
    assert_int_equal(Press(0x51), KEY_PAGE_DOWN);
    assert_int_equal(Press(0x53), KEY_DELETE);
    assert_int_equal(Press(0x4A), '-');
}

static void TestPauseSequence(void** Unused) {
    (void)Unused;
    // Pause: E1 1D 45 E1 9D C5, then a normal key.
    U8 Bytes[] = {0xE1, 0x1D, 0x45, 0xE1, 0x9D, 0xC5, 0x1E};
    U32 Keys[8];
    assert_int_equal(Feed(Bytes, sizeof(Bytes), Keys), 1);
    assert_int_equal(Keys[0], 'a');
    assert_false(State.LeftControl);  // the 1D inside the sequence is not a ctrl press
    assert_true(State.NumLock);       // nor is the 45 a Num Lock press
}

static void TestBreakCodesProduceNothing(void** Unused) {
    (void)Unused;
    for (U32 Code = 0x80; Code < 0xE0; Code++) assert_int_equal(KeyboardTranslate(&State, (U8)Code), 0);
    // Controller answers (ACK FA, resend FE, errors 00/FF) produce no keys.
    U8 Noise[] = {0xFA, 0xFE, 0x00, 0xFF, 0xEE};
    U32 Keys[8];
    assert_int_equal(Feed(Noise, sizeof(Noise), Keys), 0);
    assert_int_equal(Press(0x1E), 'a');
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestLettersDigitsPunctuation, Setup),
        cmocka_unit_test_setup(TestShift, Setup),
        cmocka_unit_test_setup(TestCapsLock, Setup),
        cmocka_unit_test_setup(TestControl, Setup),
        cmocka_unit_test_setup(TestExtendedKeys, Setup),
        cmocka_unit_test_setup(TestKeypad, Setup),
        cmocka_unit_test_setup(TestPauseSequence, Setup),
        cmocka_unit_test_setup(TestBreakCodesProduceNothing, Setup),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

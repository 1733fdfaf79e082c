/*
 * Test-USBKeyboard.c - drivers/usb/USB-KeyboardReport.c over the PS/2
 * translation of drivers/console/Keyboard.c: presses and releases by report
 * difference, modifiers in the same report as the key, Shift, Ctrl, Caps
 * Lock (letters only) with the LED byte, the editing keys, the keypad with
 * and without Num Lock, several keys per report, reordered reports,
 * ErrorRollOver (0x01) reports that must not release or repeat keys, short
 * reports, typematic repeat (delay, period, no burst after a late call,
 * the newest key repeats, Shift taken at each repeat, lock keys do not),
 * release of everything when a keyboard goes, and the usage table.
 */
// SOURCES: drivers/usb/USB-KeyboardReport.c drivers/console/Keyboard.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/usb/USB-Keyboard.h"

#define LSHIFT 0x02
#define LCTRL 0x01
#define RSHIFT 0x20
#define U_A 0x04
#define U_B 0x05
#define U_C 0x06
#define U_X 0x1B
#define U_1 0x1E
#define U_ENTER 0x28
#define U_CAPS 0x39
#define U_F1 0x3A
#define U_NUM 0x53
#define U_KP1 0x59

static USB_KEYBOARD_STATE State;
static KEY Keys[USB_KEYBOARD_MAX_KEYS];

static int Setup(void** Unused) {
    (void)Unused;
    USBKeyboardStateInit(&State);
    return 0;
}

/** Sends a report (modifiers and up to six usages) at time Now; returns the key count, keys in Keys. */
static U32 Report(U64 Now, U8 Modifiers, U8 K0, U8 K1, U8 K2) {
    U8 R[8] = {Modifiers, 0, K0, K1, K2, 0, 0, 0};
    memset(Keys, 0, sizeof(Keys));
    return USBKeyboardReport(&State, R, sizeof(R), Now, Keys, USB_KEYBOARD_MAX_KEYS);
}

/** Presses and releases one key; returns the single key it gave (0 if none). */
static KEY Tap(U8 Modifiers, U8 Usage) {
    U32 Count = Report(0, Modifiers, Usage, 0, 0);
    KEY Key = Count ? Keys[0] : KEY_NONE;
    assert_true(Count <= 1);
    assert_int_equal(Report(0, Modifiers, 0, 0, 0), 0);
    return Key;
}

static void test_letters_digits_and_release(void** Unused) {
    (void)Unused;
    assert_int_equal(Report(0, 0, U_A, 0, 0), 1);
    assert_int_equal(Keys[0], 'a');
    assert_int_equal(Report(0, 0, U_A, 0, 0), 0);  // unchanged (an idle repeat or QEMU's E0 echo): nothing
    assert_int_equal(Report(0, 0, 0, 0, 0), 0);    // a release gives no key
    assert_int_equal(Tap(0, U_1), '1');
    assert_int_equal(Tap(0, 0x27), '0');
    assert_int_equal(Tap(0, 0x2C), ' ');
    assert_int_equal(Tap(0, 0x38), '/');
    assert_int_equal(Tap(0, 0x2D), '-');
    assert_int_equal(Tap(0, 0x34), '\'');
}

static void test_shift_and_ctrl(void** Unused) {
    (void)Unused;
    assert_int_equal(Tap(LSHIFT, U_A), 'A');       // the modifier byte in the same report as the key
    assert_int_equal(Tap(RSHIFT, U_1), '!');
    assert_int_equal(Tap(LSHIFT, 0x2D), '_');
    assert_int_equal(Tap(LSHIFT, 0x33), ':');
    assert_int_equal(Report(0, 0, 0, 0, 0), 0);    // Shift released
    assert_int_equal(Tap(0, U_A), 'a');
    assert_int_equal(Tap(LCTRL, U_C), KEY_CTRL('c'));
    assert_int_equal(Tap(0x10, U_A), KEY_CTRL('a'));  // right Ctrl
    assert_int_equal(Report(0, 0, 0, 0, 0), 0);
    assert_int_equal(Tap(0, U_C), 'c');
}

static void test_caps_lock_and_leds(void** Unused) {
    (void)Unused;
    assert_int_equal(USBKeyboardLeds(&State), USB_KEYBOARD_LED_NUM_LOCK);  // Num Lock on, as PS/2 starts
    assert_int_equal(Tap(0, U_CAPS), KEY_NONE);
    assert_int_equal(USBKeyboardLeds(&State), USB_KEYBOARD_LED_NUM_LOCK | USB_KEYBOARD_LED_CAPS_LOCK);
    assert_int_equal(Tap(0, U_A), 'A');
    assert_int_equal(Tap(0, U_1), '1');           // Caps Lock changes letters only
    assert_int_equal(Tap(LSHIFT, U_A), 'a');      // Shift undoes it
    assert_int_equal(Tap(0, U_CAPS), KEY_NONE);
    assert_int_equal(Tap(0, U_A), 'a');
    assert_int_equal(USBKeyboardLeds(&State), USB_KEYBOARD_LED_NUM_LOCK);
}

static void test_editing_keys(void** Unused) {
    (void)Unused;
    static const struct {
        U8 Usage;
        KEY Key;
    } Cases[] = {
        {U_ENTER, KEY_ENTER}, {0x29, KEY_ESCAPE}, {0x2A, KEY_BACKSPACE}, {0x2B, KEY_TAB},
        {0x49, KEY_INSERT},   {0x4A, KEY_HOME},   {0x4B, KEY_PAGE_UP},   {0x4C, KEY_DELETE},
        {0x4D, KEY_END},      {0x4E, KEY_PAGE_DOWN}, {0x4F, KEY_RIGHT},  {0x50, KEY_LEFT},
        {0x51, KEY_DOWN},     {0x52, KEY_UP},     {0x58, KEY_ENTER},     {0x54, '/'},
        {0x55, '*'},          {0x56, '-'},        {0x57, '+'},
    };
    for (U32 I = 0; I < sizeof(Cases) / sizeof(Cases[0]); I++) assert_int_equal(Tap(0, Cases[I].Usage), Cases[I].Key);
    assert_int_equal(Tap(0, U_F1), KEY_NONE);  // no F-key codes in the input stream (yet)
    assert_int_equal(Tap(0, 0x48), KEY_NONE);  // Pause has no set 1 make code of its own
    assert_int_equal(Tap(0, 0x66), KEY_NONE);  // beyond the table
    assert_int_equal(Tap(0, 0xE5), KEY_NONE);  // a modifier usage in the key bytes is not a key
}

static void test_keypad_and_num_lock(void** Unused) {
    (void)Unused;
    assert_int_equal(Tap(0, U_KP1), '1');
    assert_int_equal(Tap(0, 0x62), '0');
    assert_int_equal(Tap(0, U_NUM), KEY_NONE);
    assert_int_equal(USBKeyboardLeds(&State), 0);
    assert_int_equal(Tap(0, U_KP1), KEY_END);
    assert_int_equal(Tap(0, 0x60), KEY_UP);   // KP8
    assert_int_equal(Tap(0, 0x63), KEY_DELETE);  // KP.
}

static void test_several_keys_and_order(void** Unused) {
    (void)Unused;
    assert_int_equal(Report(0, 0, U_A, U_B, 0), 2);
    assert_int_equal(Keys[0], 'a');
    assert_int_equal(Keys[1], 'b');
    assert_int_equal(Report(0, 0, U_B, U_A, 0), 0);      // the same keys in another order
    assert_int_equal(Report(0, 0, U_B, U_A, U_C), 1);    // one more
    assert_int_equal(Keys[0], 'c');
    assert_int_equal(Report(0, 0, U_C, 0, 0), 0);        // two released
    assert_int_equal(Report(0, 0, U_A, U_C, 0), 1);      // a pressed again
    assert_int_equal(Keys[0], 'a');
    U8 Six[8] = {0, 0, U_A, U_B, U_C, 0x07, 0x08, 0x09};  // a b c d e f
    assert_int_equal(USBKeyboardReport(&State, Six, 8, 0, Keys, USB_KEYBOARD_MAX_KEYS), 4);
    assert_int_equal(Keys[3], 'f');
    U8 None[8] = {0};
    assert_int_equal(USBKeyboardReport(&State, None, 8, 0, Keys, 2), 0);
    assert_int_equal(USBKeyboardReport(&State, Six, 8, 0, Keys, 2), 2);  // at most MaxKeys written
}

static void test_rollover_keeps_state(void** Unused) {
    (void)Unused;
    assert_int_equal(Report(0, 0, U_A, 0, 0), 1);
    U8 Rollover[8] = {LSHIFT, 0, 1, 1, 1, 1, 1, 1};
    assert_int_equal(USBKeyboardReport(&State, Rollover, 8, 10, Keys, USB_KEYBOARD_MAX_KEYS), 0);
    assert_int_equal(State.RolloverReports, 1);
    assert_int_equal(State.RepeatUsage, U_A);  // 'a' is still held and still repeats
    assert_int_equal(Report(20, LSHIFT, U_A, 0, 0), 0);  // still held: not pressed again
    assert_int_equal(Report(30, LSHIFT, U_A, U_B, 0), 1);
    assert_int_equal(Keys[0], 'B');             // Shift from the rollover report's modifier byte held
    U8 Undefined[8] = {0, 0, U_A, 3, 0, 0, 0, 0};  // ErrorUndefined among keys: the same rule
    assert_int_equal(USBKeyboardReport(&State, Undefined, 8, 40, Keys, USB_KEYBOARD_MAX_KEYS), 0);
    assert_int_equal(State.RolloverReports, 2);
}

static void test_short_report_ignored(void** Unused) {
    (void)Unused;
    U8 Short[7] = {0, 0, U_A, 0, 0, 0, 0};
    assert_int_equal(USBKeyboardReport(&State, Short, 7, 0, Keys, USB_KEYBOARD_MAX_KEYS), 0);
    assert_int_equal(State.ShortReports, 1);
    assert_int_equal(State.Reports, 0);
    assert_int_equal(Report(0, 0, U_A, 0, 0), 1);  // nothing was taken from it
}

static void test_typematic_repeat(void** Unused) {
    (void)Unused;
    KEY Key = 0;
    assert_int_equal(Report(1000, 0, U_X, 0, 0), 1);
    assert_int_equal(USBKeyboardNextRepeat(&State), 1000 + USB_KEYBOARD_REPEAT_DELAY_MS);
    assert_int_equal(USBKeyboardRepeat(&State, 1499, &Key), 0);
    assert_int_equal(USBKeyboardRepeat(&State, 1500, &Key), 1);
    assert_int_equal(Key, 'x');
    assert_int_equal(USBKeyboardRepeat(&State, 1500 + USB_KEYBOARD_REPEAT_PERIOD_MS - 1, &Key), 0);
    assert_int_equal(USBKeyboardRepeat(&State, 1500 + USB_KEYBOARD_REPEAT_PERIOD_MS, &Key), 1);
    // Called late (the thread was busy for 2 s): one key, and the next a period later, not a burst.
    assert_int_equal(USBKeyboardRepeat(&State, 4000, &Key), 1);
    assert_int_equal(USBKeyboardRepeat(&State, 4000, &Key), 0);
    assert_int_equal(USBKeyboardNextRepeat(&State), 4000 + USB_KEYBOARD_REPEAT_PERIOD_MS);
    // Shift pressed while x is held: the repeat is shifted (the make code goes through the translation again).
    assert_int_equal(Report(4010, LSHIFT, U_X, 0, 0), 0);
    assert_int_equal(USBKeyboardRepeat(&State, 4040, &Key), 1);
    assert_int_equal(Key, 'X');
    assert_int_equal(Report(4050, 0, 0, 0, 0), 0);
    assert_int_equal(USBKeyboardNextRepeat(&State), 0);
    assert_int_equal(USBKeyboardRepeat(&State, 9000, &Key), 0);
    assert_int_equal(State.Keys, 5);  // the press and four repeats
}

static void test_newest_key_repeats(void** Unused) {
    (void)Unused;
    KEY Key = 0;
    Report(0, 0, U_A, 0, 0);
    Report(100, 0, U_A, U_B, 0);
    assert_int_equal(USBKeyboardRepeat(&State, 600, &Key), 1);
    assert_int_equal(Key, 'b');
    Report(610, 0, U_A, 0, 0);  // b released, a still held: the repeat stops, as on PS/2
    assert_int_equal(USBKeyboardRepeat(&State, 2000, &Key), 0);
    Report(2000, 0, U_A, U_CAPS, 0);  // lock keys do not repeat
    assert_int_equal(USBKeyboardNextRepeat(&State), 0);
    assert_int_equal(Report(2100, 0, 0, 0, 0), 0);
    assert_int_equal(Tap(0, U_A), 'A');  // Caps Lock toggled once
}

static void test_release_all(void** Unused) {
    (void)Unused;
    KEY Key = 0;
    Report(0, LSHIFT, U_A, 0, 0);
    USBKeyboardReleaseAll(&State);  // unplugged with Shift and a held
    assert_int_equal(USBKeyboardRepeat(&State, 10000, &Key), 0);
    assert_int_equal(State.Modifiers, 0);
    assert_int_equal(Tap(0, U_B), 'b');  // Shift is not stuck
}

static void test_usage_table(void** Unused) {
    (void)Unused;
    BOOL Prefixed = TRUE;
    assert_int_equal(USBKeyboardUsageToScanCode(U_A, &Prefixed), 0x1E);
    assert_false(Prefixed);
    assert_int_equal(USBKeyboardUsageToScanCode(0x52, &Prefixed), 0x48);  // Up: E0 48
    assert_true(Prefixed);
    assert_int_equal(USBKeyboardUsageToScanCode(0x58, &Prefixed), 0x1C);  // keypad Enter: E0 1C
    assert_true(Prefixed);
    assert_int_equal(USBKeyboardUsageToScanCode(0x45, &Prefixed), 0x58);  // F12
    assert_int_equal(USBKeyboardUsageToScanCode(0x00, &Prefixed), 0);
    assert_int_equal(USBKeyboardUsageToScanCode(0xFF, &Prefixed), 0);
    // Every key usage has a code but Pause, and no two usages share one except \ and non-US # (one key).
    U16 Seen[256] = {0};
    for (U32 Usage = 0x04; Usage <= 0x65; Usage++) {
        U8 Code = USBKeyboardUsageToScanCode((U8)Usage, &Prefixed);
        if (Usage == 0x48) {
            assert_int_equal(Code, 0);
            continue;
        }
        assert_int_not_equal(Code, 0);
        U32 Index = Code | (Prefixed ? 0x80 : 0);
        if (Seen[Index] != 0) {
            assert_int_equal(Seen[Index], 0x31);
            assert_int_equal(Usage, 0x32);
        }
        Seen[Index] = (U16)Usage;
    }
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(test_letters_digits_and_release, Setup),
        cmocka_unit_test_setup(test_shift_and_ctrl, Setup),
        cmocka_unit_test_setup(test_caps_lock_and_leds, Setup),
        cmocka_unit_test_setup(test_editing_keys, Setup),
        cmocka_unit_test_setup(test_keypad_and_num_lock, Setup),
        cmocka_unit_test_setup(test_several_keys_and_order, Setup),
        cmocka_unit_test_setup(test_rollover_keeps_state, Setup),
        cmocka_unit_test_setup(test_short_report_ignored, Setup),
        cmocka_unit_test_setup(test_typematic_repeat, Setup),
        cmocka_unit_test_setup(test_newest_key_repeats, Setup),
        cmocka_unit_test_setup(test_release_all, Setup),
        cmocka_unit_test_setup(test_usage_table, Setup),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

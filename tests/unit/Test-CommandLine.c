/*
 * Test-CommandLine.c - core/CommandLine.c: kernel options (name=value,
 * flags, quotes, repeats, empty names, too long, too many options, open
 * quotes), the kernel's own line with KernelGetOption/KernelGetOptionNumber,
 * and shell word splitting in place.
 */
// SOURCES: core/CommandLine.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/CommandLine.h"

static COMMAND_LINE Line;

static void TestNamesValuesAndFlags(void** State) {
    (void)State;
    assert_true(CommandLineParse(&Line, "log=info  quiet\tmem=16M root=/dev/x=y"));
    assert_int_equal(Line.Count, 4);
    assert_string_equal(CommandLineGet(&Line, "log"), "info");
    assert_string_equal(CommandLineGet(&Line, "quiet"), "");  // a bare flag
    assert_string_equal(CommandLineGet(&Line, "mem"), "16M");
    assert_string_equal(CommandLineGet(&Line, "root"), "/dev/x=y");  // only the first '=' splits
    assert_null(CommandLineGet(&Line, "lo"));                          // no prefix matches
    assert_null(CommandLineGet(&Line, "Log"));                         // names are case sensitive
    assert_null(CommandLineGet(&Line, NULL));
    assert_null(CommandLineGet(NULL, "log"));
}

static void TestEmptyInputs(void** State) {
    (void)State;
    assert_true(CommandLineParse(&Line, ""));
    assert_int_equal(Line.Count, 0);
    assert_true(CommandLineParse(&Line, "   \t "));
    assert_int_equal(Line.Count, 0);
    assert_true(CommandLineParse(&Line, NULL));
    assert_int_equal(Line.Count, 0);
    assert_null(CommandLineGet(&Line, "anything"));
}

static void TestQuotes(void** State) {
    (void)State;
    assert_true(CommandLineParse(&Line, "title=\"Cairn test boot\" path=\"/a b\"/c \"odd name\"=1 empty=\"\""));
    assert_int_equal(Line.Count, 4);
    assert_string_equal(CommandLineGet(&Line, "title"), "Cairn test boot");
    assert_string_equal(CommandLineGet(&Line, "path"), "/a b/c");
    assert_string_equal(CommandLineGet(&Line, "odd name"), "1");
    assert_string_equal(CommandLineGet(&Line, "empty"), "");
    // A quoted '=' is part of the name, not the separator.
    assert_true(CommandLineParse(&Line, "\"a=b\"=c"));
    assert_string_equal(CommandLineGet(&Line, "a=b"), "c");
    // GRUB quotes a whole argument holding a space: the first '=' inside still splits it.
    assert_true(CommandLineParse(&Line, "log=info \"autorun=nvme list;disk\" \"bare flag\""));
    assert_int_equal(Line.Count, 3);
    assert_string_equal(CommandLineGet(&Line, "autorun"), "nvme list;disk");
    assert_string_equal(CommandLineGet(&Line, "bare flag"), "");
}

static void TestOpenQuote(void** State) {
    (void)State;
    assert_false(CommandLineParse(&Line, "log=debug msg=\"never closed here"));
    assert_int_equal(Line.Count, 2);
    assert_string_equal(CommandLineGet(&Line, "log"), "debug");
    assert_string_equal(CommandLineGet(&Line, "msg"), "never closed here");
}

static void TestRepeatsAndEmptyNames(void** State) {
    (void)State;
    assert_true(CommandLineParse(&Line, "log=info =orphan \"\" log=error"));
    assert_int_equal(Line.Count, 2);  // "=orphan" and "" are ignored
    assert_string_equal(CommandLineGet(&Line, "log"), "error");  // the last one wins
}

static void TestTooManyOptions(void** State) {
    (void)State;
    char Text[512] = "";
    for (int I = 0; I < COMMAND_LINE_MAX_OPTIONS + 5; I++) {
        char Option[16];
        snprintf(Option, sizeof(Option), "o%d ", I);
        strcat(Text, Option);
    }
    assert_true(strlen(Text) < COMMAND_LINE_MAX_LENGTH);  // the storage is not the limit here
    assert_false(CommandLineParse(&Line, Text));
    assert_int_equal(Line.Count, COMMAND_LINE_MAX_OPTIONS);
    assert_non_null(CommandLineGet(&Line, "o0"));
    assert_non_null(CommandLineGet(&Line, "o31"));
    assert_null(CommandLineGet(&Line, "o32"));
}

static void TestTooLong(void** State) {
    (void)State;
    char Text[600];
    memset(Text, 0, sizeof(Text));
    strcpy(Text, "first=1 ");
    memset(Text + 8, 'v', 400);  // one word longer than the whole storage
    strcat(Text, " last=2");
    assert_false(CommandLineParse(&Line, Text));
    assert_int_equal(Line.Count, 1);  // the word that did not fit is dropped whole, parsing stops
    assert_string_equal(CommandLineGet(&Line, "first"), "1");
    assert_null(CommandLineGet(&Line, "last"));

    // Exactly filling the storage: 255 characters of options plus terminators must fit or be refused cleanly.
    char Fill[COMMAND_LINE_MAX_LENGTH + 8];
    memset(Fill, 'a', sizeof(Fill));
    Fill[COMMAND_LINE_MAX_LENGTH - 2] = 0;  // a 254-character flag: 255 bytes with its zero
    assert_true(CommandLineParse(&Line, Fill));
    assert_int_equal(Line.Count, 1);
    assert_int_equal(strlen(Line.Names[0]), COMMAND_LINE_MAX_LENGTH - 2);
    Fill[COMMAND_LINE_MAX_LENGTH - 2] = 'a';
    Fill[COMMAND_LINE_MAX_LENGTH - 1] = 0;  // 255 characters: one too many
    assert_false(CommandLineParse(&Line, Fill));
    assert_int_equal(Line.Count, 0);
}

static void TestKernelOptions(void** State) {
    (void)State;
    KernelCommandLineInit("log=debug timeout=0x20 heap=4M bad=12x flag");
    assert_string_equal(KernelGetOption("log"), "debug");
    assert_null(KernelGetOption("missing"));
    assert_int_equal(KernelGetOptionNumber("timeout", 7), 32);
    assert_int_equal(KernelGetOptionNumber("heap", 7), 4 * 1024 * 1024);
    assert_int_equal(KernelGetOptionNumber("bad", 7), 7);      // malformed: the default
    assert_int_equal(KernelGetOptionNumber("flag", 7), 7);     // a flag has no number
    assert_int_equal(KernelGetOptionNumber("missing", 9), 9);
    KernelCommandLineInit("");
    assert_null(KernelGetOption("log"));
}

static void TestSplitWords(void** State) {
    (void)State;
    char Text[] = "  echo   hello\tworld  ";
    LPSTR Arguments[8];
    assert_int_equal(CommandLineSplit(Text, Arguments, 8), 3);
    assert_string_equal(Arguments[0], "echo");
    assert_string_equal(Arguments[1], "hello");
    assert_string_equal(Arguments[2], "world");
    // In place: the words point into Text.
    assert_true(Arguments[0] >= Text && Arguments[2] < Text + sizeof(Text));

    char Empty[] = "   ";
    assert_int_equal(CommandLineSplit(Empty, Arguments, 8), 0);
    char Nothing[] = "";
    assert_int_equal(CommandLineSplit(Nothing, Arguments, 8), 0);
    assert_int_equal(CommandLineSplit(NULL, Arguments, 8), 0);
}

static void TestSplitQuotes(void** State) {
    (void)State;
    char Text[] = "echo \"a  b\" c\"d e\"f \"\" last";
    LPSTR Arguments[8];
    assert_int_equal(CommandLineSplit(Text, Arguments, 8), 5);
    assert_string_equal(Arguments[0], "echo");
    assert_string_equal(Arguments[1], "a  b");
    assert_string_equal(Arguments[2], "cd ef");  // quotes inside a word join, and are removed
    assert_string_equal(Arguments[3], "");       // an empty quoted word is a word
    assert_string_equal(Arguments[4], "last");

    char Open[] = "echo \"never closed";
    assert_int_equal(CommandLineSplit(Open, Arguments, 8), -1);
}

static void TestSplitTooManyWords(void** State) {
    (void)State;
    char Text[] = "a b c d e";
    LPSTR Arguments[4];
    assert_int_equal(CommandLineSplit(Text, Arguments, 4), -1);
    char Exactly[] = "a b c d ";
    assert_int_equal(CommandLineSplit(Exactly, Arguments, 4), 4);  // trailing space does not count
    assert_string_equal(Arguments[3], "d");
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestNamesValuesAndFlags),  cmocka_unit_test(TestEmptyInputs),
        cmocka_unit_test(TestQuotes),               cmocka_unit_test(TestOpenQuote),
        cmocka_unit_test(TestRepeatsAndEmptyNames), cmocka_unit_test(TestTooManyOptions),
        cmocka_unit_test(TestTooLong),              cmocka_unit_test(TestKernelOptions),
        cmocka_unit_test(TestSplitWords),           cmocka_unit_test(TestSplitQuotes),
        cmocka_unit_test(TestSplitTooManyWords),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}

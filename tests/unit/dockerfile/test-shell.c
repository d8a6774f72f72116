/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-shell.c - the lexer's options and limits, beyond BuildKit's data.
 */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/limits.h"
#include "dockerfile/shell.h"

static struct kiln_shell_env env = KILN_SHELL_ENV_INIT;

static int setup(void **state)
{
    char *entries[] = {"A=a", "SP=x  y", "EMPTY=", "PATH=/usr/bin:/bin", "A=again"};
    kiln_shell_env_add_entries(&env, entries, 5);
    return 0;
}

static int teardown(void **state)
{
    kiln_shell_env_release(&env);
    return 0;
}

static void expect(const struct kiln_shell_options *opt, const char *in, const char *want)
{
    char *got = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_shell_process_word(in, &env, opt, &got, NULL, &e);
    if (r < 0)
        fail_msg("'%s' failed: %s", in, kiln_error_message(e, r));
    if (strcmp(got, want) != 0)
        fail_msg("'%s': expected '%s', got '%s'", in, want, got);
    free(got);
}

static int expect_fail(const char *in, const char *needle)
{
    const struct kiln_shell_options opt = {.escape = '\\'};
    char *got = NULL;
    struct kiln_error *e = NULL;
    int r = kiln_shell_process_word(in, &env, &opt, &got, NULL, &e);
    if (r >= 0)
        fail_msg("'%.40s' gave '%.40s', want an error", in, got);
    if (!strstr(e->message, needle))
        fail_msg("error '%s' lacks '%s'", e->message, needle);
    kiln_error_free(e);
    return r;
}

static void test_shell__later_entry_wins(void **state)
{
    assert_string_equal(kiln_shell_env_get(&env, "A"), "again");
    assert_string_equal(kiln_shell_env_get(&env, "EMPTY"), "");
    assert_null(kiln_shell_env_get(&env, "NOPE"));
}

static void test_shell__backtick_escape(void **state)
{
    const struct kiln_shell_options opt = {.escape = '`'};
    expect(&opt, "c:\\dir `$A", "c:\\dir $A");
    expect(&opt, "\"``\"", "`");
}

static void test_shell__skip_process_quotes(void **state)
{
    const struct kiln_shell_options opt = {.escape = '\\', .skip_process_quotes = true};
    expect(&opt, "'$A' \"${A}\"", "'again' \"again\"");
}

static void test_shell__raw_quotes_and_escapes(void **state)
{
    const struct kiln_shell_options opt = {.escape = '\\', .raw_quotes = true, .raw_escapes = true};
    expect(&opt, "'x y' \\$A", "'x y' \\$A");
}

static void test_shell__skip_unset_env(void **state)
{
    const struct kiln_shell_options opt = {.escape = '\\', .skip_unset_env = true};
    expect(&opt, "$NOPE ${NOPE} ${NOPE:-d} ${NOPE/a/b} $A",
           "$NOPE ${NOPE} ${NOPE:-d} ${NOPE/a/b} again");
}

static void test_shell__words_split_unquoted_expansions(void **state)
{
    const struct kiln_shell_options opt = {.escape = '\\'};
    struct kiln_strv w = KILN_STRV_INIT;
    assert_int_equal(kiln_shell_process_words("a$SP \"$SP\" '' b\\ c", &env, &opt, &w, NULL), 0);
    assert_int_equal(w.n, 4);
    assert_string_equal(w.v[0], "ax");
    assert_string_equal(w.v[1], "y");
    assert_string_equal(w.v[2], "x  y");
    assert_string_equal(w.v[3], "b c");
    kiln_strv_release(&w);
}

static void test_shell__patterns(void **state)
{
    const struct kiln_shell_options opt = {.escape = '\\'};
    expect(&opt, "${PATH#*/}", "usr/bin:/bin");
    expect(&opt, "${PATH##*/}", "bin");
    expect(&opt, "${PATH%:*}", "/usr/bin");
    expect(&opt, "${PATH%%:*}", "/usr/bin");
    expect(&opt, "${PATH/bin/sbin}", "/usr/sbin:/bin");
    expect(&opt, "${PATH//bin/sbin}", "/usr/sbin:/sbin");
    expect(&opt, "${PATH//\\//|}", "|usr|bin:|bin");
    /* An escaped $0 reaches the replacement and means the match, as in Go. */
    expect(&opt, "${A//?/<\\$0>}", "<\\a><\\g><\\a><\\i><\\n>");
    expect(&opt, "${A//*/x}", "x");
}

static void test_shell__errors_name_the_word(void **state)
{
    assert_int_equal(expect_fail("${A", "missing '}'"), KILN_E_INVALID);
    expect_fail("x ${:a}", "failed to process \"x ${:a}\": syntax error: bad substitution");
    expect_fail("${NOPE:?set it with --build-arg}", "NOPE: set it with --build-arg");
    expect_fail("${A:#x}", "unsupported modifier (:#)");
    expect_fail("${A#\\x}", "invalid escape");
    expect_fail("'open", "matching single-quote");
}

static void test_shell__nesting_is_capped(void **state)
{
    struct kiln_buf in = KILN_BUF_INIT(1 << 20);
    for (unsigned i = 0; i < KILN_EXPAND_DEPTH_MAX + 10; i++)
        assert_int_equal(kiln_buf_adds(&in, "${A:-"), 0);
    assert_int_equal(expect_fail(in.buf, "nested more than"), KILN_E_LIMIT);
    kiln_buf_reset(&in);
    for (unsigned i = 0; i < 5000; i++)
        assert_int_equal(kiln_buf_adds(&in, "${X:-"), 0);
    assert_int_equal(expect_fail(in.buf, "nested more than"), KILN_E_LIMIT);
    kiln_buf_release(&in);
}

static void test_shell__result_is_capped(void **state)
{
    struct kiln_shell_env big = KILN_SHELL_ENV_INIT;
    char *value = malloc(KILN_EXPAND_RESULT_MAX / 2 + 1);
    memset(value, 'v', KILN_EXPAND_RESULT_MAX / 2);
    value[KILN_EXPAND_RESULT_MAX / 2] = '\0';
    kiln_shell_env_set(&big, "V", value);
    const struct kiln_shell_options opt = {.escape = '\\'};
    char *got = NULL;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_shell_process_word("$V$V$V", &big, &opt, &got, NULL, &e), KILN_E_LIMIT);
    assert_non_null(strstr(e->message, "longer than"));
    kiln_error_free(e);
    e = NULL;
    /* A replacement over a long value stays within the cap and finishes. */
    value[100000] = '\0';
    kiln_shell_env_set(&big, "V", value);
    assert_int_equal(kiln_shell_process_word("${V//v/ww}", &big, &opt, &got, NULL, &e), 0);
    assert_int_equal(strlen(got), 200000);
    free(got);
    /* Many stars that never match cost tokens x runes, not more. */
    assert_int_equal(kiln_shell_process_word("${V//*********************************x/y}", &big,
                                             &opt, &got, NULL, &e),
                     0);
    assert_int_equal(strlen(got), 100000);
    free(got);
    /* Past the work limit the pattern is refused, not run for minutes. */
    value[100000] = 'v';
    kiln_shell_env_set(&big, "V", value);
    assert_int_equal(kiln_shell_process_word("${V//*********************************x/y}", &big,
                                             &opt, &got, NULL, &e),
                     KILN_E_LIMIT);
    assert_non_null(strstr(e->message, "too costly"));
    kiln_error_free(e);
    free(value);
    kiln_shell_env_release(&big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_shell__later_entry_wins),
            cmocka_unit_test(test_shell__backtick_escape),
            cmocka_unit_test(test_shell__skip_process_quotes),
            cmocka_unit_test(test_shell__raw_quotes_and_escapes),
            cmocka_unit_test(test_shell__skip_unset_env),
            cmocka_unit_test(test_shell__words_split_unquoted_expansions),
            cmocka_unit_test(test_shell__patterns),
            cmocka_unit_test(test_shell__errors_name_the_word),
            cmocka_unit_test(test_shell__nesting_is_capped),
            cmocka_unit_test(test_shell__result_is_capped),
    };
    return cmocka_run_group_tests_name("dockerfile/shell", tests, setup, teardown);
}

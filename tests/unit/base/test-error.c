/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "base/error.h"

static void test_error__set_returns_code_and_message(void **state)
{
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_error_set(&e, KILN_E_INVALID, "bad '%s'", "x"), KILN_E_INVALID);
    assert_int_equal(e->code, KILN_E_INVALID);
    assert_string_equal(e->message, "bad 'x'");
    kiln_error_free(e);
}

static void test_error__wrap_prefixes_context(void **state)
{
    struct kiln_error *e = NULL;
    (void)kiln_error_set(&e, KILN_E_AUTH, "401 unauthorized");
    assert_int_equal(kiln_error_wrap(&e, KILN_E_AUTH, "pull '%s'", "alpine"), KILN_E_AUTH);
    assert_string_equal(e->message, "pull 'alpine': 401 unauthorized");
    kiln_error_free(e);
}

static void test_error__wrap_without_message_sets_it(void **state)
{
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_error_wrap(&e, -ENOENT, "open 'x'"), -ENOENT);
    assert_string_equal(e->message, "open 'x'");
    kiln_error_free(e);
}

static void test_error__errno_appends_strerror(void **state)
{
    struct kiln_error *e = NULL;
    (void)kiln_error_set_errno(&e, -ENOENT, "open '%s'", "f");
    assert_string_equal(e->message, "open 'f': No such file or directory");
    kiln_error_free(e);
}

static void test_error__null_err_means_code_only(void **state)
{
    assert_int_equal(kiln_error_set(NULL, KILN_E_LIMIT, "x"), KILN_E_LIMIT);
    assert_int_equal(kiln_error_wrap(NULL, -EIO, "y"), -EIO);
    assert_int_equal(kiln_error_at_line(NULL, -EIO, 3), -EIO);
}

static void test_error__line_is_recorded(void **state)
{
    struct kiln_error *e = NULL;
    (void)kiln_error_set_line(&e, KILN_E_INVALID, 7, "unknown flag");
    assert_int_equal(e->line, 7);
    (void)kiln_error_at_line(&e, KILN_E_INVALID, 9);
    assert_int_equal(e->line, 9);
    assert_string_equal(kiln_error_message(e, KILN_E_INVALID), "unknown flag");
    assert_string_equal(kiln_error_message(NULL, KILN_E_LIMIT), "limit exceeded");
    kiln_error_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error__set_returns_code_and_message),
            cmocka_unit_test(test_error__wrap_prefixes_context),
            cmocka_unit_test(test_error__wrap_without_message_sets_it),
            cmocka_unit_test(test_error__errno_appends_strerror),
            cmocka_unit_test(test_error__null_err_means_code_only),
            cmocka_unit_test(test_error__line_is_recorded),
    };
    return cmocka_run_group_tests_name("base/error", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/strv.h"

static void test_buf__starts_empty_and_terminated(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(16);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.buf, "");
    kiln_buf_release(&b);
}

static void test_buf__appends_and_detaches(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(64);
    assert_int_equal(kiln_buf_adds(&b, "abc"), 0);
    assert_int_equal(kiln_buf_addch(&b, 'd'), 0);
    assert_int_equal(kiln_buf_addf(&b, "-%d", 42), 0);
    assert_string_equal(b.buf, "abcd-42");
    size_t len;
    char *s = kiln_buf_detach(&b, &len);
    assert_int_equal(len, 7);
    assert_string_equal(s, "abcd-42");
    assert_int_equal(b.len, 0);
    free(s);
}

static void test_buf__cap_refuses_and_keeps_contents(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(4);
    assert_int_equal(kiln_buf_adds(&b, "abcd"), 0);
    assert_int_equal(kiln_buf_addch(&b, 'e'), KILN_E_LIMIT);
    assert_int_equal(kiln_buf_adds(&b, "xy"), KILN_E_LIMIT);
    assert_string_equal(b.buf, "abcd");
    assert_int_equal(b.len, 4);
    kiln_buf_release(&b);
}

static void test_buf__binary_safe(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(16);
    assert_int_equal(kiln_buf_add(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.buf, "a\0b", 4);
    kiln_buf_truncate(&b, 1);
    assert_string_equal(b.buf, "a");
    kiln_buf_release(&b);
}

static void test_buf__detach_of_empty_is_owned(void **state)
{
    struct kiln_buf b = KILN_BUF_INIT(8);
    char *s = kiln_buf_detach(&b, NULL);
    assert_string_equal(s, "");
    free(s);
}

static void test_buf__strv_keeps_order_and_terminator(void **state)
{
    struct kiln_strv v = KILN_STRV_INIT;
    assert_null(v.v[0]);
    kiln_strv_push(&v, "a");
    kiln_strv_pushn(&v, "bcd", 2);
    kiln_strv_take(&v, strdup("c"));
    assert_int_equal(v.n, 3);
    assert_string_equal(v.v[1], "bc");
    assert_null(v.v[3]);
    assert_int_equal(kiln_strv_find(&v, "c"), 2);
    assert_int_equal(kiln_strv_find(&v, "z"), -1);
    kiln_strv_release(&v);
    assert_int_equal(v.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_buf__starts_empty_and_terminated),
            cmocka_unit_test(test_buf__appends_and_detaches),
            cmocka_unit_test(test_buf__cap_refuses_and_keeps_contents),
            cmocka_unit_test(test_buf__binary_safe),
            cmocka_unit_test(test_buf__detach_of_empty_is_owned),
            cmocka_unit_test(test_buf__strv_keeps_order_and_terminator),
    };
    return cmocka_run_group_tests_name("base/buf", tests, NULL, NULL);
}

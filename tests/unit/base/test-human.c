/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/human.h"

static void test_human__duration_as_go_prints_it(void **state)
{
    static const struct {
        int64_t s;
        const char *want;
    } cases[] = {{0, "0s"},         {20, "20s"},      {60, "1m0s"},
                 {5400, "1h30m0s"}, {3661, "1h1m1s"}, {90000, "25h0m0s"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[KILN_HUMAN_DURATION_MAX];
        kiln_human_duration(cases[i].s, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_human__duration_parses_go_and_days(void **state)
{
    static const struct {
        const char *in;
        int64_t want;
    } cases[] = {{"90m", 5400},    {"1h30m", 5400},   {"20s", 20},
                 {"30d", 2592000}, {"1h30m0s", 5400}, {"0s", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = -1;
        assert_int_equal(kiln_parse_duration(cases[i].in, &got), 0);
        assert_int_equal(got, cases[i].want);
    }
    static const char *const bad[] = {"",  "90", "m", "1.5h", "-1h", "1x", "99999999999999999999s",
                                      "h1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = 7;
        assert_int_equal(kiln_parse_duration(bad[i], &got), -1);
        assert_int_equal(got, 7);
    }
}

static void test_human__read_file_appends_and_caps(void **state)
{
    char path[] = "/tmp/kiln-test-human-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    struct kiln_buf b = KILN_BUF_INIT(64);
    kiln_buf_adds(&b, ">");
    assert_int_equal(kiln_buf_read_file(&b, path), 0);
    assert_string_equal(b.buf, ">hello");
    kiln_buf_release(&b);
    struct kiln_buf small = KILN_BUF_INIT(3);
    assert_int_equal(kiln_buf_read_file(&small, path), KILN_E_LIMIT);
    kiln_buf_release(&small);
    assert_int_equal(kiln_buf_read_file(&b, "/nonexistent/kiln"), -ENOENT);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_human__duration_as_go_prints_it),
            cmocka_unit_test(test_human__duration_parses_go_and_days),
            cmocka_unit_test(test_human__read_file_appends_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

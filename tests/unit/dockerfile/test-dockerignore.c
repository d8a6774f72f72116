/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-dockerignore.c - the matcher's errors, limits and hostile patterns.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/limits.h"
#include "dockerfile/dockerignore.h"

static bool excluded(const char *const *pats, size_t n, const char *path)
{
    struct kiln_ignore *m = NULL;
    assert_int_equal(kiln_ignore_new((char *const *)pats, n, &m, NULL), 0);
    bool hit = false;
    assert_int_equal(kiln_ignore_matches(m, path, &hit, NULL), 0);
    kiln_ignore_free(m);
    return hit;
}

static void expect_new_error(const char *pattern, const char *needle)
{
    struct kiln_ignore *m = NULL;
    struct kiln_error *e = NULL;
    char *pats[] = {(char *)pattern};
    assert_int_equal(kiln_ignore_new(pats, 1, &m, &e), KILN_E_INVALID);
    if (!strstr(e->message, needle))
        fail_msg("error '%s' lacks '%s'", e->message, needle);
    kiln_error_free(e);
}

static void test_dockerignore__bad_patterns_are_named(void **state)
{
    expect_new_error("!", "needs a pattern after it");
    expect_new_error("a[", "invalid pattern 'a[': unterminated character class");
    expect_new_error("[]a]", "bad character range");
    expect_new_error("x\\", "ends with an escape");
}

static void test_dockerignore__inverted_range_fails_when_reached(void **state)
{
    char *pats[] = {"[Local-Only]", "other"};
    struct kiln_ignore *m = NULL;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_ignore_new(pats, 2, &m, &e), 0);
    bool hit;
    assert_int_equal(kiln_ignore_matches(m, "x", &hit, &e), KILN_E_INVALID);
    assert_non_null(strstr(e->message, "invalid character class range"));
    kiln_error_free(e);
    kiln_ignore_free(m);
}

static void test_dockerignore__last_match_wins(void **state)
{
    const char *p[] = {"*.md", "!README.md", "docs", "!docs/keep/**"};
    assert_true(excluded(p, 4, "CHANGES.md"));
    assert_false(excluded(p, 4, "README.md"));
    assert_true(excluded(p, 4, "docs/a.txt"));
    assert_false(excluded(p, 4, "docs/keep/x/y"));
}

static void test_dockerignore__read_cleans_and_skips(void **state)
{
    const char *text = "\xEF\xBB\xBF# comment\r\n  /a//b/  \r\n\n!  ./c\n  # not a comment\n";
    struct kiln_strv v = KILN_STRV_INIT;
    assert_int_equal(kiln_dockerignore_read(text, strlen(text), &v, NULL), 0);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.v[0], "a/b");
    assert_string_equal(v.v[1], "!c");
    assert_string_equal(v.v[2], "# not a comment");
    kiln_strv_release(&v);
}

static void test_dockerignore__long_line_is_refused(void **state)
{
    size_t n = 70000;
    char *text = malloc(n);
    memset(text, 'a', n);
    struct kiln_strv v = KILN_STRV_INIT;
    struct kiln_error *e = NULL;
    assert_int_equal(kiln_dockerignore_read(text, n, &v, &e), KILN_E_LIMIT);
    assert_int_equal(e->line, 1);
    kiln_error_free(e);
    free(text);
}

static void test_dockerignore__hostile_patterns_stay_fast(void **state)
{
    struct kiln_buf pat = KILN_BUF_INIT(1 << 16), path = KILN_BUF_INIT(1 << 16);
    for (int i = 0; i < 200; i++)
        assert_int_equal(kiln_buf_adds(&pat, "**/a*"), 0);
    assert_int_equal(kiln_buf_adds(&pat, "b"), 0);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(kiln_buf_adds(&path, "a/"), 0);
    assert_int_equal(kiln_buf_adds(&path, "c"), 0);
    const char *p[] = {pat.buf};
    clock_t t0 = clock();
    assert_false(excluded(p, 1, path.buf));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (secs > 10)
        fail_msg("a 1,000-star pattern took %.1f s", secs);
    kiln_buf_release(&pat);
    kiln_buf_release(&path);
}

static void test_dockerignore__many_patterns(void **state)
{
    enum { N = 20000 };
    char **pats = calloc(N, sizeof(char *));
    for (int i = 0; i < N; i++)
        assert_true(asprintf(&pats[i], "dir%d/**/*.o", i) > 0);
    struct kiln_ignore *m = NULL;
    assert_int_equal(kiln_ignore_new(pats, N, &m, NULL), 0);
    bool hit;
    assert_int_equal(kiln_ignore_matches(m, "dir19999/x/y.o", &hit, NULL), 0);
    assert_true(hit);
    assert_int_equal(kiln_ignore_matches(m, "dir20000/x/y.o", &hit, NULL), 0);
    assert_false(hit);
    kiln_ignore_free(m);
    for (int i = 0; i < N; i++)
        free(pats[i]);
    free(pats);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_dockerignore__bad_patterns_are_named),
            cmocka_unit_test(test_dockerignore__inverted_range_fails_when_reached),
            cmocka_unit_test(test_dockerignore__last_match_wins),
            cmocka_unit_test(test_dockerignore__read_cleans_and_skips),
            cmocka_unit_test(test_dockerignore__long_line_is_refused),
            cmocka_unit_test(test_dockerignore__hostile_patterns_stay_fast),
            cmocka_unit_test(test_dockerignore__many_patterns),
    };
    return cmocka_run_group_tests_name("dockerfile/dockerignore", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/*
 * test-walk.c - the context walk on real directories: symbolic links,
 * pruning, limits, and the choice of ignore file.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "context/ignore-file.h"
#include "context/walk.h"

static char root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/kiln-test-walk-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make(const char *rel, char kind)
{
    char *p = kiln_xasprintf("%s/%s", root, rel);
    if (kind == 'd')
        assert_int_equal(mkdir(p, 0755), 0);
    else
        assert_int_equal(close(open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), 0);
    free(p);
}

static int collect(const char *path, const struct stat *st, void *userdata)
{
    char type = S_ISDIR(st->st_mode) ? 'd' : S_ISLNK(st->st_mode) ? 'l' : 'f';
    kiln_strv_take(userdata, kiln_xasprintf("%c %s", type, path));
    return 0;
}

static struct kiln_ignore *matcher(const char *const *pats, size_t n)
{
    struct kiln_ignore *m = NULL;
    assert_int_equal(kiln_ignore_new((char *const *)pats, n, &m, NULL), 0);
    return m;
}

static void test_walk__symlinks_are_reported_not_followed(void **state)
{
    make("real", 'd');
    make("real/file", 'f');
    char *link = kiln_xasprintf("%s/link", root);
    assert_int_equal(symlink("/etc", link), 0);
    free(link);
    struct kiln_strv got = KILN_STRV_INIT;
    struct kiln_walk_filter f = {NULL, NULL};
    assert_int_equal(kiln_context_walk(root, &f, collect, &got, NULL), 0);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.v[0], "l link");
    assert_string_equal(got.v[1], "d real");
    assert_string_equal(got.v[2], "f real/file");
    kiln_strv_release(&got);
}

static void test_walk__excluded_directory_is_not_entered(void **state)
{
    /* Unreadable (to anyone but root): the walk must not even try to open it. */
    make("secret", 'd');
    make("secret/x", 'f');
    make("keep", 'f');
    char *p = kiln_xasprintf("%s/secret", root);
    assert_int_equal(chmod(p, 0), 0);
    const char *pats[] = {"secret"};
    struct kiln_ignore *m = matcher(pats, 1);
    struct kiln_strv got = KILN_STRV_INIT;
    struct kiln_walk_filter f = {m, NULL};
    int r = kiln_context_walk(root, &f, collect, &got, NULL);
    assert_int_equal(chmod(p, 0755), 0);
    assert_int_equal(r, 0);
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0], "f keep");
    kiln_strv_release(&got);
    kiln_ignore_free(m);
    free(p);
}

static void test_walk__exception_reaches_inside(void **state)
{
    make("out", 'd');
    make("out/a", 'f');
    make("out/b", 'f');
    const char *pats[] = {"out", "!out/b"};
    struct kiln_ignore *m = matcher(pats, 2);
    struct kiln_strv got = KILN_STRV_INIT;
    struct kiln_walk_filter f = {m, NULL};
    assert_int_equal(kiln_context_walk(root, &f, collect, &got, NULL), 0);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.v[0], "d out");
    assert_string_equal(got.v[1], "f out/b");
    kiln_strv_release(&got);
    kiln_ignore_free(m);
}

static void test_walk__depth_is_capped(void **state)
{
    struct kiln_buf rel = KILN_BUF_INIT(1 << 20);
    for (unsigned i = 0; i < KILN_CONTEXT_DEPTH_MAX + 2; i++) {
        assert_int_equal(kiln_buf_adds(&rel, i ? "/d" : "d"), 0);
        make(rel.buf, 'd');
    }
    kiln_buf_release(&rel);
    struct kiln_strv got = KILN_STRV_INIT;
    struct kiln_error *e = NULL;
    struct kiln_walk_filter f = {NULL, NULL};
    assert_int_equal(kiln_context_walk(root, &f, collect, &got, &e), KILN_E_LIMIT);
    assert_non_null(strstr(e->message, "more than 512 deep"));
    kiln_error_free(e);
    kiln_strv_release(&got);
}

static void test_walk__dockerfile_specific_ignore_file_wins(void **state)
{
    char *a = kiln_xasprintf("%s/.dockerignore", root);
    char *b = kiln_xasprintf("%s/Dockerfile2.dockerignore", root);
    char *df = kiln_xasprintf("%s/Dockerfile2", root);
    FILE *f = fopen(a, "we");
    fputs("a\n", f);
    fclose(f);
    struct kiln_strv v = KILN_STRV_INIT;
    char *used = NULL;
    assert_int_equal(kiln_context_read_ignore(root, df, &v, &used, NULL), 0);
    assert_string_equal(used, a);
    assert_string_equal(v.v[0], "a");
    kiln_strv_release(&v);
    free(used);
    f = fopen(b, "we");
    fputs("# only b\n/b/\n", f);
    fclose(f);
    assert_int_equal(kiln_context_read_ignore(root, df, &v, &used, NULL), 0);
    assert_string_equal(used, b);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.v[0], "b");
    kiln_strv_release(&v);
    free(used);
    free(a);
    free(b);
    free(df);
}

static void test_walk__missing_root_is_named(void **state)
{
    struct kiln_error *e = NULL;
    struct kiln_walk_filter f = {NULL, NULL};
    assert_true(kiln_context_walk("/nonexistent/ctx", &f, collect, NULL, &e) < 0);
    assert_string_equal(e->message,
                        "open the context '/nonexistent/ctx': No such file or directory");
    kiln_error_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_walk__symlinks_are_reported_not_followed, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_walk__excluded_directory_is_not_entered, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_walk__exception_reaches_inside, setup, teardown),
            cmocka_unit_test_setup_teardown(test_walk__depth_is_capped, setup, teardown),
            cmocka_unit_test_setup_teardown(test_walk__dockerfile_specific_ignore_file_wins, setup,
                                            teardown),
            cmocka_unit_test(test_walk__missing_root_is_named),
    };
    return cmocka_run_group_tests_name("context/walk", tests, NULL, NULL);
}

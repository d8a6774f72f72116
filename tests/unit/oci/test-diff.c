/* SPDX-License-Identifier: Apache-2.0 */
#include "layer-test.h"

#include "oci/diff.h"

static char *diff_text(const char *lower, const char *upper, bool overlay)
{
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    expect_ok(overlay ? kiln_oci_diff_overlay(lower, upper, &c, &err)
                      : kiln_oci_diff_trees(lower, upper, &c, &err),
              &err);
    char *text = changes_text(&c);
    kiln_oci_changes_release(&c);
    return text;
}

static void expect_diff(const char *lower, const char *upper, bool overlay, const char *want)
{
    char *got = diff_text(lower, upper, overlay);
    if (strcmp(got, want) != 0)
        fail_msg("diff of '%s' against '%s':\n--- got\n%s--- expected\n%s", upper,
                 lower ? lower : "(none)", got, want);
    free(got);
}

/* lower and upper trees with the same base content and the same mtimes. */
static void base_tree(const char *dir)
{
    put_dir(dir, "", 0755);
    put_dir(dir, "etc", 0755);
    put_file(dir, "etc/passwd", "root:x:0:0\n", 0644);
    put_file(dir, "etc/hosts", "127.0.0.1 localhost\n", 0644);
    put_dir(dir, "usr", 0755);
    put_dir(dir, "usr/bin", 0755);
    put_file(dir, "usr/bin/tool", "#!/bin/sh\n", 0755);
    put_dir(dir, "var", 0755);
    put_dir(dir, "var/cache", 0755);
    put_file(dir, "var/cache/a", "a", 0644);
    put_file(dir, "var/cache/b", "b", 0644);
    put_symlink(dir, "bin", "usr/bin");
    const char *all[] = {"etc/passwd",  "etc/hosts", "usr/bin/tool", "var/cache/a",
                         "var/cache/b", "bin",       "etc",          "usr/bin",
                         "usr",         "var/cache", "var"};
    for (size_t i = 0; i < ELEMENTSOF(all); i++)
        set_mtime(dir, all[i], 1700000000, 0);
}

static void test_diff__trees_add_modify_delete(void **state)
{
    struct fx *f = *state;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    base_tree(lower);
    base_tree(upper);
    expect_diff(lower, upper, false, "");
    put_file(upper, "etc/hosts", "10.0.0.1 other\n", 0644); /* content and mtime */
    put_file(upper, "etc/new", "new", 0600);                /* added */
    put_file(upper, "etc/passwd", "root:x:0:0\n", 0600);    /* mode */
    set_mtime(upper, "etc/passwd", 1700000000, 0);
    remove_tree(upper, "var/cache"); /* a deleted dir is one delete */
    set_mtime(upper, "var", 1700000000, 0);
    put_symlink(upper, "bin", "/usr/bin"); /* link target, whole-second mtimes */
    set_mtime(upper, "bin", 1700000000, 0);
    put_file(upper, "etc.d", "x", 0644); /* sorted after etc/ and what it holds */
    /* Directories compare by mode and owner only: etc/ is not reported. */
    expect_diff(lower, upper, false,
                "M bin\n"
                "M etc/hosts\n"
                "A etc/new\n"
                "M etc/passwd\n"
                "A etc.d\n"
                "D var/cache\n");
    free(lower);
    free(upper);
}

/* Same size, same whole-second mtime: the content decides (a tree unpacked from a tar). */
static void test_diff__trees_compare_content_when_mtime_is_whole(void **state)
{
    struct fx *f = *state;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    base_tree(lower);
    base_tree(upper);
    put_file(upper, "var/cache/a", "z", 0644);
    set_mtime(upper, "var/cache/a", 1700000000, 0);
    put_file(upper, "var/cache/b", "b", 0644);
    set_mtime(upper, "var/cache/b", 1700000000, 0); /* rewritten, same content: unchanged */
    expect_diff(lower, upper, false, "M var/cache/a\n");
    /* Sub-second mtimes that agree mean equal without reading; that differ mean changed. */
    set_mtime(lower, "var/cache/a", 1700000000, 5);
    set_mtime(upper, "var/cache/a", 1700000000, 5);
    set_mtime(upper, "var/cache/b", 1700000000, 7);
    expect_diff(lower, upper, false, "M var/cache/b\n");
    free(lower);
    free(upper);
}

static void test_diff__trees_type_changes_and_hardlinks(void **state)
{
    struct fx *f = *state;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    base_tree(lower);
    base_tree(upper);
    /* A directory replaced by a file: its content is not reported. */
    remove_tree(upper, "var/cache");
    put_file(upper, "var/cache", "now a file", 0644);
    set_mtime(upper, "var", 1700000000, 0);
    /* Unchanged files with several links are reported as unmodified. */
    char *a = at(lower, "etc/hosts"), *b = at(lower, "etc/hosts2");
    assert_int_equal(link(a, b), 0);
    char *ua = at(upper, "etc/hosts"), *ub = at(upper, "etc/hosts2");
    assert_int_equal(link(ua, ub), 0);
    set_mtime(lower, "etc", 1700000000, 0);
    set_mtime(upper, "etc", 1700000000, 0);
    expect_diff(lower, upper, false, "U etc/hosts\nU etc/hosts2\nM var/cache\n");
    /* Without a lower everything is added. */
    expect_diff(NULL, upper, false,
                "A bin\nA etc\nA etc/hosts\nA etc/hosts2\nA etc/passwd\nA usr\nA usr/bin\n"
                "A usr/bin/tool\nA var\nA var/cache\n");
    free(a);
    free(b);
    free(ua);
    free(ub);
    free(lower);
    free(upper);
}

static bool overlay_capable(void)
{
    if (geteuid() == 0)
        return true;
    print_message("not root: 0/0 devices and trusted xattrs need root, skipped\n");
    return false;
}

static void whiteout(const char *dir, const char *rel)
{
    char *p = at(dir, rel);
    assert_int_equal(mknod(p, S_IFCHR, makedev(0, 0)), 0);
    free(p);
}

static void test_diff__overlay_upper(void **state)
{
    struct fx *f = *state;
    if (!overlay_capable())
        return;
    char *lower = at(f->root, "lower"), *upper = at(f->root, "upper");
    base_tree(lower);
    put_dir(upper, "", 0755);
    /* Copied-up parents that did not change are skipped; changed files are modifies. */
    put_dir(upper, "etc", 0755);
    set_mtime(upper, "etc", 1700000000, 0);
    put_file(upper, "etc/hosts", "changed\n", 0644);
    whiteout(upper, "etc/passwd");
    whiteout(upper, "etc/never-existed"); /* a whiteout of nothing is dropped */
    put_file(upper, "new", "n", 0644);
    /* An opaque directory: diffed against the lower, its own whiteouts hidden. */
    put_dir(upper, "var", 0755);
    set_mtime(upper, "var", 1700000000, 0);
    put_dir(upper, "var/cache", 0755);
    char *cache = at(upper, "var/cache");
    assert_int_equal(setxattr(cache, "trusted.overlay.opaque", "y", 1, 0), 0);
    put_file(upper, "var/cache/b", "b", 0644);
    set_mtime(upper, "var/cache/b", 1700000000, 0);
    put_file(upper, "var/cache/c", "c", 0644);
    whiteout(upper, "var/cache/a");
    set_mtime(upper, "var/cache", 1700000000, 0);
    expect_diff(lower, upper, true,
                "M etc/hosts\n"
                "D etc/passwd\n"
                "A new\n"
                "D var/cache/a\n"
                "A var/cache/c\n");
    /* The bottom snapshot: no lower, whiteouts dropped. */
    expect_diff(NULL, upper, true,
                "A etc\nA etc/hosts\nA new\nA var\nA var/cache\nA var/cache/b\nA var/cache/c\n");
    /* redirect_dir cannot be diffed. */
    assert_int_equal(setxattr(cache, "trusted.overlay.redirect", "/x", 2, 0), 0);
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    expect_fail(kiln_oci_diff_overlay(lower, upper, &c, &err), &err, KILN_E_INVALID,
                "'var/cache': overlayfs redirect_dir");
    assert_int_equal(c.n, 0);
    free(cache);
    free(lower);
    free(upper);
}

static void test_diff__depth_limit(void **state)
{
    struct fx *f = *state;
    char *upper = at(f->root, "upper");
    put_dir(upper, "", 0755);
    int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (unsigned i = 0; i < KILN_LAYER_DEPTH_MAX + 2; i++) {
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void)close(fd);
        fd = sub;
    }
    (void)close(fd);
    struct kiln_error *err = NULL;
    struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
    expect_fail(kiln_oci_diff_trees(NULL, upper, &c, &err), &err, KILN_E_LIMIT, "nested deeper");
    free(upper);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_diff__trees_add_modify_delete, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_diff__trees_compare_content_when_mtime_is_whole,
                                            fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_diff__trees_type_changes_and_hardlinks, fx_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_diff__overlay_upper, fx_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_diff__depth_limit, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

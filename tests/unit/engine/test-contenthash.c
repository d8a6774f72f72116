/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-contenthash.c - kiln_copy_checksum() and the hash cache on real
 * trees: what changes the digest (paths, bytes, modes, owners of a
 * --from stage, links, --exclude) and what does not (mtimes, inodes: a
 * fresh copy of the tree), and a cache that survives a reload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copy-test.h"
#include "engine/hash-cache.h"

#include "base/banned.h"

/* COPY . /app/ of the context. */
static int hash_setup(void **state)
{
    if (fx_setup(state) < 0)
        return -1;
    struct fx *f = *state;
    kiln_strv_push(&f->op.sources, ".");
    f->op.dest = kiln_xstrdup("/app/");
    return 0;
}

static void tree(const char *dir)
{
    put(dir, "src/main.c", "int main(void) { return 0; }\n", 0644);
    put(dir, "src/util/u.c", "void u(void) {}\n", 0644);
    put(dir, "run.sh", "#!/bin/sh\n", 0755);
    char *link = kiln_xasprintf("%s/latest", dir);
    assert_int_equal(symlink("src/main.c", link), 0);
    free(link);
}

/* The checksum of f->op over root (reset_owner: a context) with cache c (may be NULL). */
static char *sum(struct fx *f, const char *root, bool reset_owner, struct kiln_hash_cache *c)
{
    struct kiln_copy_src src = {.root = root, .reset_owner = reset_owner, .hashes = c};
    char out[KILN_OCI_DIGEST_MAX];
    kiln_error_free(f->err);
    f->err = NULL;
    int r = kiln_copy_checksum(&f->op, &src, f->tmp, out, &f->err);
    if (r < 0)
        fail_msg("checksum failed: %s", kiln_error_message(f->err, r));
    assert_int_equal(strncmp(out, "sha256:", 7), 0);
    assert_int_equal(strlen(out), 71);
    return kiln_xstrdup(out);
}

static void expect_same(char *a, char *b, const char *why)
{
    if (strcmp(a, b) != 0)
        fail_msg("%s: digests differ: %s and %s", why, a, b);
    free(a);
    free(b);
}

static void expect_differ(char *a, char *b, const char *why)
{
    if (strcmp(a, b) == 0)
        fail_msg("%s: the digest did not change (%s)", why, a);
    free(a);
    free(b);
}

static void test_contenthash__fresh_clone_same_digest(void **state)
{
    struct fx *f = *state;
    tree(f->ctx);
    char *clone = kiln_xasprintf("%s/clone", f->root);
    /* a copy without -p: new inodes, new mtimes, as a fresh git clone has */
    run_tool((const char *[]){"cp", "-r", "--no-preserve=all", f->ctx, clone, NULL});
    char *link = kiln_xasprintf("%s/latest", clone);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *sh = kiln_xasprintf("%s/run.sh", clone), *c = kiln_xasprintf("%s/src/main.c", clone);
    assert_int_equal(chmod(sh, 0755), 0); /* git keeps the executable bit */
    struct timespec ts[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    assert_int_equal(utimensat(AT_FDCWD, c, ts, 0), 0);
    expect_same(sum(f, f->ctx, true, NULL), sum(f, clone, true, NULL), "fresh clone");
    free(clone);
    free(link);
    free(sh);
    free(c);
}

static void test_contenthash__what_changes_it(void **state)
{
    struct fx *f = *state;
    tree(f->ctx);
    char *base = sum(f, f->ctx, true, NULL);
    put(f->ctx, "src/main.c", "int main(void) { return 1; }\n", 0644);
    expect_differ(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "changed bytes");
    put(f->ctx, "src/main.c", "int main(void) { return 0; }\n", 0644);
    expect_same(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "restored bytes");
    put(f->ctx, "src/main.c", "int main(void) { return 0; }\n", 0600);
    expect_differ(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "changed mode");
    put(f->ctx, "src/main.c", "int main(void) { return 0; }\n", 0644);
    char *q = kiln_xasprintf("%s/src/util/v.c", f->ctx);
    char *u = kiln_xasprintf("%s/src/util/u.c", f->ctx);
    assert_int_equal(rename(u, q), 0);
    expect_differ(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "renamed file");
    assert_int_equal(rename(q, u), 0);
    char *l = kiln_xasprintf("%s/latest", f->ctx);
    assert_int_equal(unlink(l), 0);
    assert_int_equal(symlink("src/util/u.c", l), 0);
    expect_differ(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "link target");
    assert_int_equal(unlink(l), 0);
    assert_int_equal(symlink("src/main.c", l), 0);
    /* an extended attribute counts; SELinux labels (security.*) do not */
    assert_int_equal(setxattr(u, "user.kiln", "1", 1, 0), 0);
    expect_differ(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "an xattr");
    assert_int_equal(removexattr(u, "user.kiln"), 0);
    expect_same(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "xattr removed");
    /* owners count for a --from stage, never for the context (reset to 0:0) */
    assert_int_equal(lchown(u, 1234, 1234), 0);
    expect_same(kiln_xstrdup(base), sum(f, f->ctx, true, NULL), "context owner");
    char *stage0 = sum(f, f->ctx, false, NULL);
    assert_int_equal(lchown(u, 0, 0), 0);
    expect_differ(stage0, sum(f, f->ctx, false, NULL), "stage owner");
    /* --exclude */
    kiln_strv_push(&f->op.excludes, "src/util");
    char *excl = sum(f, f->ctx, true, NULL);
    put(f->ctx, "src/util/new.c", "new\n", 0644);
    expect_same(excl, sum(f, f->ctx, true, NULL), "a file under an excluded directory");
    /* sources selected differently read differently */
    kiln_strv_release(&f->op.excludes);
    kiln_strv_release(&f->op.sources);
    kiln_strv_push(&f->op.sources, "src/*.c");
    expect_differ(base, sum(f, f->ctx, true, NULL), "another source");
    free(q);
    free(u);
    free(l);
}

static void test_contenthash__refusals(void **state)
{
    struct fx *f = *state;
    tree(f->ctx);
    char *dev = kiln_xasprintf("%s/src/null", f->ctx);
    assert_int_equal(mknod(dev, S_IFCHR | 0666, makedev(1, 3)), 0);
    struct kiln_copy_src src = {.root = f->ctx, .reset_owner = true};
    char out[KILN_OCI_DIGEST_MAX];
    int r = kiln_copy_checksum(&f->op, &src, f->tmp, out, &f->err);
    assert_int_equal(r, KILN_E_INVALID);
    assert_non_null(strstr(f->err->message, "'/src/null' in the build context is a device"));
    kiln_strv_release(&f->op.sources);
    kiln_strv_push(&f->op.sources, "nothere");
    r = kiln_copy_checksum(&f->op, &src, f->tmp, out, &f->err);
    assert_int_equal(r, KILN_E_NOTFOUND);
    assert_non_null(strstr(f->err->message, "\"/nothere\": not found"));
    /* no source at all (heredocs only) reads nothing */
    assert_int_equal(kiln_copy_checksum(&f->op, NULL, f->tmp, out, &f->err), 0);
    assert_string_equal(out, "");
    free(dev);
}

static void test_contenthash__cache(void **state)
{
    struct fx *f = *state;
    tree(f->ctx);
    char *path = kiln_xasprintf("%s/hashes", f->root);
    struct kiln_hash_cache *c = NULL;
    assert_int_equal(kiln_hash_cache_open(path, &c, &f->err), 0);
    char *cold = sum(f, f->ctx, true, c);
    assert_int_equal(kiln_hash_cache_save(c, &f->err), 0);
    kiln_hash_cache_free(c);
    /* reloaded: the entry of src/main.c is there, keyed by its metadata */
    assert_int_equal(kiln_hash_cache_open(path, &c, &f->err), 0);
    char *main_c = kiln_xasprintf("%s/src/main.c", f->ctx);
    struct stat st;
    assert_int_equal(lstat(main_c, &st), 0);
    char got[KILN_OCI_DIGEST_MAX];
    assert_true(kiln_hash_cache_get(c, "src/main.c", &st, got));
    expect_same(kiln_xstrdup(cold), sum(f, f->ctx, true, c), "warm");
    /* a poisoned entry proves the warm path reads the cache, not the file */
    kiln_hash_cache_put(c, "src/main.c", &st,
                        "sha256:0000000000000000000000000000000000000000000000000000000000000000");
    expect_differ(kiln_xstrdup(cold), sum(f, f->ctx, true, c), "poisoned cache");
    /* any change of the file's metadata misses the cache */
    put(f->ctx, "src/main.c", "int main(void) { return 0; }\n", 0644);
    expect_same(kiln_xstrdup(cold), sum(f, f->ctx, true, c), "rewritten file");
    assert_int_equal(kiln_hash_cache_save(c, &f->err), 0);
    kiln_hash_cache_free(c);
    /* a repeated line (the later wins), a corrupt and a torn one are skipped, never an error */
    char first[4096];
    FILE *fp = fopen(path, "re");
    assert_non_null(fp);
    assert_non_null(fgets(first, sizeof(first), fp));
    fclose(fp);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, first, strlen(first)), (ssize_t)strlen(first));
    assert_int_equal(write(fd, "1 2 3 4 5 6 sha256:zz x\n", 24), 24);
    assert_int_equal(write(fd, "1 2 3 garbage", 13), 13);
    close(fd);
    assert_int_equal(kiln_hash_cache_open(path, &c, &f->err), 0);
    expect_same(cold, sum(f, f->ctx, true, c), "after a torn line");
    kiln_hash_cache_free(c);
    free(main_c);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_contenthash__fresh_clone_same_digest, hash_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_contenthash__what_changes_it, hash_setup,
                                            fx_teardown),
            cmocka_unit_test_setup_teardown(test_contenthash__refusals, hash_setup, fx_teardown),
            cmocka_unit_test_setup_teardown(test_contenthash__cache, hash_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

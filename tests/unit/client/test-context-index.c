/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client side of context sync on real trees: the index through
 * .dockerignore, and the upload, read back by GNU tar.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "client/context-index.h"
#include "client/context-upload.h"
#include "expect.h"
#include "oci/digest.h"
#include "oci/whiteout.h"

#include "base/banned.h"

struct fixture {
    char root[64];
    char *ctx; /* root/ctx: the build context */
};

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/kiln-ctxindex-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    f->ctx = kiln_xasprintf("%s/ctx", f->root);
    if (mkdir(f->ctx, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int r = kiln_oci_remove_at(AT_FDCWD, f->root, NULL);
    free(f->ctx);
    free(f);
    return r;
}

/* Runs argv with stdin from `in` (-1: inherited); returns the child's pid. */
static pid_t spawn(const char *const argv[], int in)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (in >= 0 && dup2(in, 0) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void wait_ok(pid_t pid, const char *what)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("'%s' failed with status %d", what, status);
}

static void put(struct fixture *f, const char *path, mode_t perm, const char *data, size_t n)
{
    _cleanup_free_ char *p = kiln_xasprintf("%s/%s", f->ctx, path);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, perm);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, perm), 0);
    close(fd);
}

static void put_str(struct fixture *f, const char *path, const char *text)
{
    put(f, path, 0644, text, strlen(text));
}

static void mk(struct fixture *f, const char *path)
{
    _cleanup_free_ char *p = kiln_xasprintf("%s/%s", f->ctx, path);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void sample_tree(struct fixture *f)
{
    put_str(f, "Dockerfile", "FROM scratch\nCOPY . /\n");
    put_str(f, ".dockerignore", "*.log\nbuild\n!build/keep\n");
    mk(f, "src");
    put_str(f, "src/a.c", "int a;\n");
    put_str(f, "src/b.c", "int a;\n");
    put_str(f, "app.log", "noise\n");
    mk(f, "build");
    put_str(f, "build/x", "ignored\n");
    put_str(f, "build/keep", "kept\n");
    put(f, "run.sh", 0755, "#!/bin/sh\n", 10);
    _cleanup_free_ char *l = kiln_xasprintf("%s/link", f->ctx);
    assert_int_equal(symlink("src/a.c", l), 0);
}

static json_t *index_of(const char *dir, struct kiln_context_index_stats *stats)
{
    struct kiln_error *err = NULL;
    json_t *entries = NULL;
    expect_ok(kiln_context_index_build(dir, &entries, stats, &err), &err);
    return entries;
}

static const char *str(json_t *e, const char *key)
{
    return json_string_value(json_object_get(e, key));
}

static json_int_t num(json_t *e, const char *key)
{
    return json_integer_value(json_object_get(e, key));
}

static void test_context_index__sample_tree(void **state)
{
    struct fixture *f = *state;
    sample_tree(f);
    struct kiln_context_index_stats st;
    json_t *entries = index_of(f->ctx, &st);
    static const char *const want[] = {".dockerignore", "Dockerfile", "build",
                                       "build/keep",    "link",       "run.sh",
                                       "src",           "src/a.c",    "src/b.c"};
    assert_int_equal(json_array_size(entries), ELEMENTSOF(want));
    assert_int_equal(st.entries, ELEMENTSOF(want));
    assert_int_equal(st.files, 6);
    json_t *e;
    size_t i;
    json_array_foreach (entries, i, e) {
        const char *path = str(e, "path");
        if (strcmp(path, want[i]) != 0)
            fail_msg("entry %zu is '%s', expected '%s'", i, path, want[i]);
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", f->ctx, path);
        struct stat s;
        assert_int_equal(lstat(p, &s), 0);
        assert_int_equal(num(e, "mode"), s.st_mode);
        assert_int_equal(num(e, "mtime"),
                         (json_int_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec);
        if (S_ISREG(s.st_mode)) {
            struct kiln_buf b = KILN_BUF_INIT(1 << 20);
            assert_int_equal(kiln_buf_read_file(&b, p), 0);
            char d[KILN_OCI_DIGEST_MAX];
            assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, b.buf, b.len, d, NULL), 0);
            assert_string_equal(str(e, "digest"), d);
            assert_int_equal(num(e, "size"), b.len);
            kiln_buf_release(&b);
        } else {
            assert_null(json_object_get(e, "digest"));
        }
    }
    assert_string_equal(str(json_array_get(entries, 4), "link"), "src/a.c");
    assert_null(json_object_get(json_array_get(entries, 6), "link"));
    assert_string_equal(str(json_array_get(entries, 7), "digest"),
                        str(json_array_get(entries, 8), "digest"));
    json_decref(entries);
}

static void test_context_index__special_files(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    put_str(f, "a", "a");
    _cleanup_free_ char *fifo = kiln_xasprintf("%s/pipe", f->ctx);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    json_t *entries = NULL;
    expect_fail(kiln_context_index_build(f->ctx, &entries, NULL, &err), &err, KILN_E_INVALID,
                "'/pipe' in the build context is a device, fifo or socket");
    put_str(f, ".dockerignore", "pipe\n");
    entries = index_of(f->ctx, NULL);
    assert_int_equal(json_array_size(entries), 2);
    json_decref(entries);
}

/* Every entry of the context dated 2001, so that a copy made now differs in every mtime. */
static void age_tree(struct fixture *f)
{
    const char *const argv[] = {
            "find", f->ctx, "-exec", "touch", "-h", "-d", "2001-02-03 04:05:06.789",
            "{}",   "+",    NULL};
    wait_ok(spawn(argv, -1), "find -exec touch");
}

/* The same entries but for their mtimes, which all differ. */
static void expect_same_content(json_t *a, json_t *b)
{
    assert_int_equal(json_array_size(a), json_array_size(b));
    json_t *x;
    size_t i;
    json_array_foreach (a, i, x) {
        json_t *y = json_array_get(b, i);
        if (num(x, "mtime") == num(y, "mtime"))
            fail_msg("'%s' has the same mtime in the copy", str(x, "path"));
        json_t *xc = json_deep_copy(x), *yc = json_deep_copy(y);
        json_object_del(xc, "mtime");
        json_object_del(yc, "mtime");
        if (!json_equal(xc, yc))
            fail_msg("'%s' differs in the copy", str(x, "path"));
        json_decref(xc);
        json_decref(yc);
    }
}

static char *copy_tree(struct fixture *f, const char *name)
{
    char *copy = kiln_xasprintf("%s/%s", f->root, name);
    const char *const argv[] = {"cp", "-r", "--", f->ctx, copy, NULL};
    wait_ok(spawn(argv, -1), "cp -r");
    return copy;
}

static void test_context_index__fresh_copy_same_digests(void **state)
{
    struct fixture *f = *state;
    sample_tree(f);
    age_tree(f);
    json_t *a = index_of(f->ctx, NULL);
    _cleanup_free_ char *copy = copy_tree(f, "copy");
    json_t *b = index_of(copy, NULL);
    expect_same_content(a, b);
    json_decref(a);
    json_decref(b);
}

/* Every distinct digest of the index, as a builder that has nothing asks for them. */
static json_t *all_digests(json_t *entries)
{
    json_t *m = json_array(), *seen = json_object(), *e;
    size_t i;
    json_array_foreach (entries, i, e) {
        const char *d = str(e, "digest");
        if (d && !json_object_get(seen, d)) {
            json_object_set_new(seen, d, json_true());
            json_array_append_new(m, json_string(d));
        }
    }
    json_decref(seen);
    return m;
}

static int to_fd(void *ud, const void *buf, size_t n, struct kiln_error **err)
{
    int fd = *(int *)ud;
    for (const char *p = buf; n > 0;) {
        ssize_t w = write(fd, p, n);
        if (w < 0)
            return kiln_error_set_errno(err, -errno, "write to the pipe");
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Streams the upload through a pipe into `tar -xz` under root/NAME; the bytes sent. */
static uint64_t upload_to_tar(struct fixture *f, const char *ctx, json_t *entries, json_t *missing,
                              const char *name)
{
    struct kiln_error *err = NULL;
    _cleanup_free_ char *out = kiln_xasprintf("%s/%s", f->root, name);
    assert_int_equal(mkdir(out, 0755), 0);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    const char *const argv[] = {"tar", "--zstd", "-xf", "-", "-C", out, NULL};
    pid_t pid = spawn(argv, p[0]);
    close(p[0]);
    uint64_t bytes = 0;
    expect_ok(kiln_context_upload_write(ctx, entries, missing, to_fd, &p[1], &bytes, &err), &err);
    close(p[1]);
    wait_ok(pid, "tar --zstd -x");
    return bytes;
}

/* What tar extracted: each wanted digest once as sha256/HEX, 0644, holding its content. */
static void expect_members(struct fixture *f, const char *name, json_t *missing)
{
    _cleanup_free_ char *dir = kiln_xasprintf("%s/%s/sha256", f->root, name);
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", dir, de->d_name);
        struct kiln_buf b = KILN_BUF_INIT(64u << 20);
        assert_int_equal(kiln_buf_read_file(&b, p), 0);
        char dg[KILN_OCI_DIGEST_MAX];
        assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, b.buf, b.len, dg, NULL), 0);
        if (strcmp(dg + 7, de->d_name) != 0)
            fail_msg("member '%s' holds %s", de->d_name, dg);
        kiln_buf_release(&b);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        n++;
    }
    closedir(d);
    assert_int_equal(n, json_array_size(missing));
}

static void test_context_index__upload_holds_what_is_missing(void **state)
{
    struct fixture *f = *state;
    sample_tree(f);
    json_t *entries = index_of(f->ctx, NULL);
    json_t *missing = all_digests(entries);
    assert_int_equal(json_array_size(missing), 5); /* a.c and b.c are one */
    upload_to_tar(f, f->ctx, entries, missing, "all");
    expect_members(f, "all", missing);
    json_array_remove(missing, 0);
    json_array_remove(missing, 0);
    upload_to_tar(f, f->ctx, entries, missing, "some");
    expect_members(f, "some", missing);
    json_decref(missing);
    json_decref(entries);
}

static void test_context_index__pull_reads_in_small_pieces(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    json_t *entries = index_of(f->ctx, NULL);
    json_t *missing = all_digests(entries);
    struct kiln_context_upload *u = NULL;
    expect_ok(kiln_context_upload_open(f->ctx, entries, missing, &u, &err), &err);
    _cleanup_free_ char *tgz = kiln_xasprintf("%s/pull.tgz", f->root);
    int fd = open(tgz, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char buf[7];
    ssize_t n;
    uint64_t total = 0;
    while ((n = kiln_context_upload_read(u, buf, sizeof(buf), &err)) > 0) {
        assert_int_equal(write(fd, buf, (size_t)n), n);
        total += (uint64_t)n;
    }
    expect_ok((int)n, &err);
    assert_int_equal(kiln_context_upload_bytes(u), total);
    assert_int_equal(kiln_context_upload_read(u, buf, sizeof(buf), &err), 0);
    kiln_context_upload_close(u);
    close(fd);
    _cleanup_free_ char *out = kiln_xasprintf("%s/pulled", f->root);
    assert_int_equal(mkdir(out, 0755), 0);
    const char *const argv[] = {"tar", "--zstd", "-xf", tgz, "-C", out, NULL};
    wait_ok(spawn(argv, -1), "tar --zstd -xf");
    expect_members(f, "pulled", missing);
    json_decref(missing);
    json_decref(entries);
}

static int discard(void *ud, const void *buf, size_t n, struct kiln_error **err)
{
    return 0;
}

static void test_context_index__changed_file_fails_the_upload(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    json_t *entries = index_of(f->ctx, NULL);
    json_t *missing = all_digests(entries);
    put_str(f, "src/a.c", "int b;\n"); /* same size, other bytes */
    expect_fail(kiln_context_upload_write(f->ctx, entries, missing, discard, NULL, NULL, &err),
                &err, KILN_E_INVALID, "'src/a.c' changed while it was uploaded: run the build");
    put_str(f, "src/a.c", "int a;\nint b;\n"); /* longer */
    expect_fail(kiln_context_upload_write(f->ctx, entries, missing, discard, NULL, NULL, &err),
                &err, KILN_E_INVALID, "'src/a.c' changed while it was uploaded");
    put_str(f, "src/a.c", "int"); /* shorter */
    expect_fail(kiln_context_upload_write(f->ctx, entries, missing, discard, NULL, NULL, &err),
                &err, KILN_E_INVALID, "'src/a.c' changed while it was uploaded");
    /* a directory swapped for a link: never followed */
    _cleanup_free_ char *src = kiln_xasprintf("%s/src", f->ctx);
    _cleanup_free_ char *moved = kiln_xasprintf("%s/elsewhere", f->root);
    assert_int_equal(rename(src, moved), 0);
    assert_int_equal(symlink(moved, src), 0);
    expect_fail(kiln_context_upload_write(f->ctx, entries, missing, discard, NULL, NULL, &err),
                &err, -ELOOP, "'src/a.c'");
    json_t *bogus = json_pack("[s]", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
                                     "0123456789abcdef");
    expect_fail(kiln_context_upload_write(f->ctx, entries, bogus, discard, NULL, NULL, &err), &err,
                KILN_E_UPSTREAM, "not in the build context");
    json_decref(bogus);
    json_decref(missing);
    json_decref(entries);
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* A 20 MiB context, then a fresh copy of it: the copy needs nothing but its index. */
static void test_context_index__fresh_copy_of_20mb_uploads_nothing(void **state)
{
    struct fixture *f = *state;
    mk(f, "data");
    _cleanup_free_ char *block = kiln_xmalloc(256 * 1024);
    srandom(7);
    for (unsigned i = 0; i < 80; i++) {
        for (size_t k = 0; k < 256 * 1024; k++)
            block[k] = (char)(random() & 0xff);
        _cleanup_free_ char *p = kiln_xasprintf("data/blob-%02u.bin", i);
        put(f, p, 0644, block, 256 * 1024);
    }
    age_tree(f);
    struct kiln_context_index_stats st;
    json_t *a = index_of(f->ctx, &st);
    assert_int_equal(st.bytes, 20u << 20);
    _cleanup_free_ char *text = json_dumps(a, JSON_COMPACT);
    json_t *missing = all_digests(a);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t first = upload_to_tar(f, f->ctx, a, missing, "first");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    expect_members(f, "first", missing);
    _cleanup_free_ char *copy = copy_tree(f, "copy");
    struct kiln_context_index_stats st2;
    json_t *b = index_of(copy, &st2);
    expect_same_content(a, b);
    /* the builder stored every digest of the first upload: the copy's are all among them */
    json_t *again = all_digests(b);
    assert_true(json_equal(again, missing));
    print_message(
            "# 20 MiB in %llu files: index %.3f s (%.0f MB/s), %zu bytes of JSON; "
            "first upload %llu bytes in %.3f s; the fresh copy's index %.3f s, "
            "its upload 0 bytes\n",
            (unsigned long long)st.files, secs(st.nsec), (double)st.bytes / 1e6 / secs(st.nsec),
            strlen(text), (unsigned long long)first,
            secs((uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec))),
            secs(st2.nsec));
    assert_true(strlen(text) < 1024 * 1024);
    json_decref(again);
    json_decref(missing);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_context_index__sample_tree, setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_index__special_files, setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_index__fresh_copy_same_digests, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_index__upload_holds_what_is_missing, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_index__pull_reads_in_small_pieces, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_index__changed_file_fails_the_upload,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_index__fresh_copy_of_20mb_uploads_nothing,
                                            setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

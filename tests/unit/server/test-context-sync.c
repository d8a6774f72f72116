/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server side of context sync on a real store in a temp directory:
 * indexes checked, uploads made by GNU tar received, contexts recreated.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "engine/hash-cache.h"
#include "expect.h"
#include "oci/digest.h"
#include "oci/whiteout.h"
#include "server/context-delta.h"
#include "server/context-indexes.h"
#include "server/context-prefetch.h"
#include "server/context-slot.h"
#include "server/context-sync.h"
#include "store/content.h"

#include "base/banned.h"

struct fixture {
    char root[64];
    char *up;  /* root/up/sha256/HEX: the content a client would send */
    char *out; /* root/out: where contexts are recreated */
    struct kiln_store *s;
    json_t *entries;
    int64_t mtime; /* of the next entry */
};

static int setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/kiln-ctxsync-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    f->up = kiln_xasprintf("%s/up", f->root);
    f->out = kiln_xasprintf("%s/out", f->root);
    _cleanup_free_ char *store = kiln_xasprintf("%s/store", f->root);
    _cleanup_free_ char *blobs = kiln_xasprintf("%s/sha256", f->up);
    if (mkdir(f->up, 0755) < 0 || mkdir(blobs, 0755) < 0 || mkdir(f->out, 0755) < 0 ||
        kiln_store_open(store, &f->s, NULL) < 0)
        return -1;
    f->entries = json_array();
    f->mtime = 1700000000123456789LL;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kiln_store_close(f->s);
    json_decref(f->entries);
    int r = kiln_oci_remove_at(AT_FDCWD, f->root, NULL);
    free(f->up);
    free(f->out);
    free(f);
    return r;
}

static void run(const char *const argv[])
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("'%s' failed with status %d", argv[0], status);
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

static json_t *entry(struct fixture *f, const char *path, mode_t mode, size_t size)
{
    json_t *e = json_pack("{s:s, s:I, s:I, s:I}", "path", path, "mode", (json_int_t)mode, "size",
                          (json_int_t)size, "mtime", (json_int_t)f->mtime);
    f->mtime += 1000000007;
    json_array_append_new(f->entries, e);
    return e;
}

static void add_dir(struct fixture *f, const char *path, mode_t perm)
{
    entry(f, path, S_IFDIR | perm, 0);
}

static void add_link(struct fixture *f, const char *path, const char *target)
{
    json_object_set_new(entry(f, path, S_IFLNK | 0777, strlen(target)), "link",
                        json_string(target));
}

/* A regular file: its entry, and its content ready to upload as up/sha256/HEX. */
static void add_file(struct fixture *f, const char *path, mode_t perm, const void *data, size_t n)
{
    char d[KILN_OCI_DIGEST_MAX];
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, data, n, d, NULL), 0);
    json_object_set_new(entry(f, path, S_IFREG | perm, n), "digest", json_string(d));
    _cleanup_free_ char *blob = kiln_xasprintf("%s/sha256/%s", f->up, d + 7);
    write_file(blob, data, n);
}

static char *random_bytes(size_t n, unsigned seed)
{
    char *p = kiln_xmalloc(n);
    srandom(seed);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(random() & 0xff);
    return p;
}

/* The upload as a client makes it: tar (-z: gzip) of up/sha256, into root/NAME. */
static char *make_tar(struct fixture *f, const char *name, bool gzip)
{
    char *tar = kiln_xasprintf("%s/%s", f->root, name);
    const char *argv[] = {"tar", gzip ? "-czf" : "-cf", tar, "-C", f->up, "sha256", NULL};
    run(argv);
    return tar;
}

static int receive_file(struct fixture *f, const char *tar, json_t *wanted, size_t *ret_stored,
                        struct kiln_error **err)
{
    int fd = open(tar, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int r = kilnd_context_receive(f->s, fd, wanted, ret_stored, err);
    close(fd);
    return r;
}

static json_t *missing_of(struct fixture *f)
{
    struct kiln_error *err = NULL;
    json_t *m = NULL;
    expect_ok(kilnd_context_missing(f->s, f->entries, &m, &err), &err);
    return m;
}

/* The tree under f->out against the index: types, permissions, times, contents, targets. */
static void expect_tree(struct fixture *f)
{
    json_t *e;
    size_t i;
    json_array_foreach (f->entries, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", f->out, path);
        struct stat st;
        if (lstat(p, &st) < 0)
            fail_msg("'%s' was not recreated", path);
        mode_t mode = (mode_t)json_integer_value(json_object_get(e, "mode"));
        if (st.st_mode != mode)
            fail_msg("'%s': mode %o, expected %o", path, st.st_mode, mode);
        int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (mt != json_integer_value(json_object_get(e, "mtime")))
            fail_msg("'%s': mtime %lld, expected %lld", path, (long long)mt,
                     (long long)json_integer_value(json_object_get(e, "mtime")));
        if (S_ISLNK(mode)) {
            char t[4096];
            ssize_t n = readlink(p, t, sizeof(t) - 1);
            assert_true(n >= 0);
            t[n] = '\0';
            assert_string_equal(t, json_string_value(json_object_get(e, "link")));
        } else if (S_ISREG(mode)) {
            struct kiln_buf b = KILN_BUF_INIT(64u * 1024 * 1024);
            assert_int_equal(kiln_buf_read_file(&b, p), 0);
            char d[KILN_OCI_DIGEST_MAX];
            assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, b.buf, b.len, d, NULL), 0);
            if (strcmp(d, json_string_value(json_object_get(e, "digest"))) != 0)
                fail_msg("'%s': content %s differs from the index", path, d);
            kiln_buf_release(&b);
        }
    }
}

static void sample_tree(struct fixture *f)
{
    add_dir(f, "src", 0755);
    add_file(f, "src/a.c", 0644, "int a;\n", 7);
    add_file(f, "src/copy-of-a.c", 0600, "int a;\n", 7);
    add_dir(f, "src/empty", 0700);
    add_dir(f, "shared", 02775);
    add_file(f, "shared/run.sh", 04755, "#!/bin/sh\necho hi\n", 18);
    add_file(f, "empty", 0644, "", 0);
    add_link(f, "to-a", "src/a.c");
    add_link(f, "escape", "../../etc/passwd");
    add_link(f, "absolute", "/etc/passwd");
    add_link(f, "src/dangling", "nowhere");
}

static void test_context_sync__round_trip(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    expect_ok(kilnd_context_check(f->entries, &err), &err);
    json_t *missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 3); /* a.c and its copy share one digest */
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    size_t stored = 0;
    expect_ok(receive_file(f, tar, missing, &stored, &err), &err);
    assert_int_equal(stored, 3);
    json_decref(missing);
    missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 0);
    json_decref(missing);
    expect_ok(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err);
    expect_tree(f);
}

/* Stores every file of f's index in the store. */
static void store_all(struct fixture *f)
{
    struct kiln_error *err = NULL;
    json_t *missing = missing_of(f);
    _cleanup_free_ char *tar = make_tar(f, "all.tgz", true);
    expect_ok(receive_file(f, tar, missing, NULL, &err), &err);
    json_decref(missing);
}

static ino_t inode_of(struct fixture *f, const char *path)
{
    _cleanup_free_ char *p = kiln_xasprintf("%s/%s", f->out, path);
    struct stat st;
    return lstat(p, &st) < 0 ? 0 : st.st_ino;
}

static void test_context_sync__over_previous_rewrites_only_changes(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    store_all(f);
    expect_ok(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err);
    json_t *previous = json_deep_copy(f->entries);
    ino_t kept = inode_of(f, "src/a.c");
    /* the next build's index: src/empty becomes a file, shared/ goes, a.c's copy changes */
    json_decref(f->entries);
    f->entries = json_array();
    add_dir(f, "src", 0755);
    add_file(f, "src/a.c", 0644, "int a;\n", 7);
    add_file(f, "src/copy-of-a.c", 0600, "int b;\n", 7);
    add_file(f, "src/empty", 0644, "now a file\n", 11);
    add_file(f, "empty", 0644, "", 0);
    add_link(f, "to-a", "src/copy-of-a.c");
    json_object_set(json_array_get(f->entries, 1), "mtime",
                    json_object_get(json_array_get(previous, 1), "mtime"));
    store_all(f);
    expect_ok(kilnd_context_materialize(f->s, f->entries, previous, f->out, &err), &err);
    expect_tree(f);
    _cleanup_free_ char *gone = kiln_xasprintf("%s/shared", f->out);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(inode_of(f, "src/a.c"), kept); /* unchanged: not written again */
    json_decref(previous);
}

static void test_context_sync__fresh_clone_sets_times_only(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    store_all(f);
    expect_ok(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err);
    json_t *previous = json_deep_copy(f->entries);
    ino_t kept = inode_of(f, "shared/run.sh");
    json_t *e;
    size_t i;
    json_array_foreach (f->entries, i, e) /* a fresh clone: every time new, nothing else */
        json_object_set_new(e, "mtime",
                            json_integer(json_integer_value(json_object_get(e, "mtime")) + 77));
    expect_ok(kilnd_context_materialize(f->s, f->entries, previous, f->out, &err), &err);
    expect_tree(f); /* the new times included */
    assert_int_equal(inode_of(f, "shared/run.sh"), kept);
    json_decref(previous);
}

static void test_context_sync__plain_tar_and_unwanted_members(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    sample_tree(f);
    _cleanup_free_ char *tar = make_tar(f, "up.tar", false);
    json_t *wanted = json_pack(
            "[s]", json_string_value(json_object_get(json_array_get(f->entries, 1), "digest")));
    size_t stored = 0;
    expect_ok(receive_file(f, tar, wanted, &stored, &err), &err);
    assert_int_equal(stored, 1);
    json_t *missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 2); /* the others were skipped */
    json_decref(missing);
    json_decref(wanted);
}

/* A fresh copy of a 20 MB context (new mtimes) sends nothing but its index. */
static void test_context_sync__resync_of_20mb_sends_nothing(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    add_dir(f, "data", 0755);
    for (unsigned i = 0; i < 80; i++) {
        _cleanup_free_ char *p = kiln_xasprintf("data/blob-%02u.bin", i);
        _cleanup_free_ char *d = random_bytes(256 * 1024, i + 1);
        add_file(f, p, 0644, d, 256 * 1024);
    }
    json_t *missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 80);
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    expect_ok(receive_file(f, tar, missing, NULL, &err), &err);
    json_decref(missing);
    /* the copy: every mtime new, every digest the same */
    json_t *e;
    size_t i;
    json_array_foreach (f->entries, i, e)
        json_object_set_new(e, "mtime", json_integer(1800000000000000000LL + (json_int_t)i));
    expect_ok(kilnd_context_check(f->entries, &err), &err);
    missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 0);
    json_decref(missing);
    _cleanup_free_ char *text = json_dumps(f->entries, JSON_COMPACT);
    print_message("# 20 MiB context in 81 entries: index %zu bytes of JSON, upload 0 bytes\n",
                  strlen(text));
    expect_ok(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err);
    expect_tree(f);
}

static void test_context_sync__tampered_member_stores_nothing(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    add_file(f, "good", 0644, "good\n", 5);
    add_file(f, "bad", 0644, "original\n", 9);
    const char *bad = json_string_value(json_object_get(json_array_get(f->entries, 1), "digest"));
    _cleanup_free_ char *blob = kiln_xasprintf("%s/sha256/%s", f->up, bad + 7);
    write_file(blob, "tampered\n", 9); /* same size, other bytes */
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    json_t *missing = missing_of(f);
    expect_fail(receive_file(f, tar, missing, NULL, &err), &err, KILN_E_INVALID, bad);
    json_decref(missing);
    assert_int_equal(kiln_content_exists(f->s, bad, NULL), 0);
    missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 1);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), bad);
    json_decref(missing);
}

static void truncate_copy(const char *from, const char *to, off_t len)
{
    struct kiln_buf b = KILN_BUF_INIT(64u * 1024 * 1024);
    assert_int_equal(kiln_buf_read_file(&b, from), 0);
    assert_true((off_t)b.len > len);
    write_file(to, b.buf, (size_t)len);
    kiln_buf_release(&b);
}

/* A cut upload keeps the members before the cut; a second one sends the rest. */
static void cut_and_resume(struct fixture *f, bool gzip)
{
    struct kiln_error *err = NULL;
    for (unsigned i = 0; i < 4; i++) {
        _cleanup_free_ char *p = kiln_xasprintf("f%u", i);
        _cleanup_free_ char *d = random_bytes(300 * 1024, 100 + i);
        add_file(f, p, 0644, d, 300 * 1024);
    }
    _cleanup_free_ char *tar = make_tar(f, gzip ? "up.tgz" : "up.tar", gzip);
    _cleanup_free_ char *cut = kiln_xasprintf("%s/cut", f->root);
    struct stat st;
    assert_int_equal(stat(tar, &st), 0);
    truncate_copy(tar, cut, st.st_size * 5 / 8); /* in the third member of four */
    json_t *missing = missing_of(f);
    expect_fail(receive_file(f, cut, missing, NULL, &err), &err, KILN_E_INVALID,
                "upload ended early");
    json_decref(missing);
    missing = missing_of(f);
    size_t left = json_array_size(missing);
    if (left < 1 || left > 3)
        fail_msg("after the cut %zu of 4 members are missing, expected 1 to 3", left);
    size_t stored = 0;
    expect_ok(receive_file(f, tar, missing, &stored, &err), &err);
    assert_int_equal(stored, left);
    json_decref(missing);
    missing = missing_of(f);
    assert_int_equal(json_array_size(missing), 0);
    json_decref(missing);
}

static void test_context_sync__cut_gzip_upload_resumes(void **state)
{
    cut_and_resume(*state, true);
}

static void test_context_sync__cut_plain_upload_resumes(void **state)
{
    cut_and_resume(*state, false);
}

static void test_context_sync__foreign_members_are_refused(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    add_file(f, "a", 0644, "a", 1);
    _cleanup_free_ char *other = kiln_xasprintf("%s/sha256/notes.txt", f->up);
    write_file(other, "x", 1);
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    json_t *missing = missing_of(f);
    expect_fail(receive_file(f, tar, missing, NULL, &err), &err, KILN_E_INVALID,
                "'sha256/notes.txt' is not a regular file named sha256/<64 hex>");
    json_decref(missing);
    _cleanup_free_ char *junk = kiln_xasprintf("%s/junk", f->root);
    write_file(junk, "not a tar at all, not even close............", 44);
    expect_fail(receive_file(f, junk, missing, NULL, &err), &err, KILN_E_INVALID, "");
}

static void test_context_sync__link_then_file_through_it_fails(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    _cleanup_free_ char *outside = kiln_xasprintf("%s/outside", f->root);
    assert_int_equal(mkdir(outside, 0755), 0);
    add_link(f, "l", outside);
    add_file(f, "l/evil", 0644, "evil", 4);
    json_t *missing = missing_of(f);
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    expect_ok(receive_file(f, tar, missing, NULL, &err), &err);
    json_decref(missing);
    expect_fail(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err,
                KILN_E_INVALID, "'l/evil'): its parent is not a directory");
    _cleanup_free_ char *evil = kiln_xasprintf("%s/evil", outside);
    assert_int_equal(access(evil, F_OK), -1);
}

static void test_context_sync__materialize_needs_the_content(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    add_file(f, "never-sent", 0644, "x", 1);
    expect_fail(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err,
                KILN_E_NOTFOUND, "'never-sent'");
}

static void test_context_sync__materialize_into_a_planted_link_fails(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    _cleanup_free_ char *outside = kiln_xasprintf("%s/outside", f->root);
    _cleanup_free_ char *planted = kiln_xasprintf("%s/d", f->out);
    assert_int_equal(mkdir(outside, 0755), 0);
    assert_int_equal(symlink(outside, planted), 0);
    add_file(f, "d", 0644, "x", 1);
    json_t *missing = missing_of(f);
    _cleanup_free_ char *tar = make_tar(f, "up.tgz", true);
    expect_ok(receive_file(f, tar, missing, NULL, &err), &err);
    json_decref(missing);
    expect_fail(kilnd_context_materialize(f->s, f->entries, NULL, f->out, &err), &err, -EEXIST,
                "'d'");
    struct stat st;
    assert_int_equal(lstat(planted, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

#define D64  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define F    "\"mode\":33188,\"size\":1,\"mtime\":1,\"digest\":\"sha256:" D64 "\""
#define DIRE "\"mode\":16877,\"size\":0,\"mtime\":1"

static void test_context_sync__hostile_indexes(void **state)
{
    static const struct {
        const char *json;
        int code;
        const char *part;
    } cases[] = {
            {"{}", KILN_E_INVALID, "must be an array"},
            {"[1]", KILN_E_INVALID, "entry 0 is not an object"},
            {"[{\"path\":\"/etc/passwd\"," F "}]", KILN_E_INVALID, "absolute"},
            {"[{\"path\":\"../x\"," F "}]", KILN_E_INVALID, "'.' or '..' component"},
            {"[{\"path\":\"a/../../x\"," F "}]", KILN_E_INVALID, "'.' or '..' component"},
            {"[{\"path\":\"./x\"," F "}]", KILN_E_INVALID, "'.' or '..' component"},
            {"[{\"path\":\"\"," F "}]", KILN_E_INVALID, "the path is empty"},
            {"[{\"path\":\"a//b\"," F "}]", KILN_E_INVALID, "empty component"},
            {"[{\"path\":\"a/\"," DIRE "}]", KILN_E_INVALID, "empty component"},
            {"[{\"path\":\"a\\u0000b\"," F "}]", KILN_E_INVALID, "NUL byte"},
            {"[{\"path\":\"a\"," F "},{\"path\":\"a\"," F "}]", KILN_E_INVALID,
             "entries 0 and 1 have the same path 'a'"},
            {"[{\"path\":\"d/x\"," F "},{\"path\":\"d\"," DIRE "}]", KILN_E_INVALID,
             "comes before its parent"},
            {"[{\"path\":\"d/x\"," F "}]", KILN_E_INVALID, "parent directory is not in the index"},
            {"[{\"path\":\"f\"," F "},{\"path\":\"f/x\"," F "}]", KILN_E_INVALID,
             "parent is not a directory"},
            {"[{\"path\":\"p\",\"mode\":4516,\"size\":0,\"mtime\":1}]", KILN_E_INVALID,
             "not a directory, regular file or symbolic link"},
            {"[{\"path\":\"p\",\"mode\":8630,\"size\":0,\"mtime\":1}]", KILN_E_INVALID,
             "not a directory, regular file or symbolic link"},
            {"[{\"path\":\"p\",\"mode\":2147516868,\"size\":0,\"mtime\":1}]", KILN_E_INVALID,
             "bits beyond"},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":1,\"mtime\":1}]", KILN_E_INVALID,
             "needs a \"digest\""},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":1,\"mtime\":1,\"digest\":\"sha256:"
             "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}]",
             KILN_E_INVALID, "needs a \"digest\""},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":1,\"mtime\":1,\"digest\":\"md5:abc\"}]",
             KILN_E_INVALID, "needs a \"digest\""},
            {"[{\"path\":\"d\"," DIRE ",\"digest\":\"sha256:" D64 "\"}]", KILN_E_INVALID,
             "only regular files carry"},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":-1,\"mtime\":1,\"digest\":\"sha256:" D64
             "\"}]",
             KILN_E_INVALID, "\"size\""},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":68719476737,\"mtime\":1,"
             "\"digest\":\"sha256:" D64 "\"}]",
             KILN_E_INVALID, "\"size\""},
            {"[{\"path\":\"f\",\"mode\":33188,\"size\":1,\"digest\":\"sha256:" D64 "\"}]",
             KILN_E_INVALID, "\"mtime\""},
            {"[{\"path\":\"l\",\"mode\":41471,\"size\":1,\"mtime\":1}]", KILN_E_INVALID,
             "needs a \"link\""},
            {"[{\"path\":\"l\",\"mode\":41471,\"size\":1,\"mtime\":1,\"link\":\"\"}]",
             KILN_E_INVALID, "needs a \"link\""},
            {"[{\"path\":\"l\",\"mode\":41471,\"size\":1,\"mtime\":1,\"link\":\"a\\u0000\"}]",
             KILN_E_INVALID, "needs a \"link\""},
            {"[{\"path\":\"d\"," DIRE ",\"link\":\"x\"}]", KILN_E_INVALID,
             "only symbolic links carry"},
    };
    struct kiln_error *err = NULL;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        json_error_t je;
        json_t *j = json_loads(cases[i].json, JSON_ALLOW_NUL, &je);
        if (!j)
            fail_msg("case %zu does not parse: %s", i, je.text);
        int r = kilnd_context_check(j, &err);
        const char *msg = kiln_error_message(err, r);
        if (r != cases[i].code || !strstr(msg, cases[i].part))
            fail_msg("case %zu (%s): got %d '%s', expected '%s'", i, cases[i].json, r, msg,
                     cases[i].part);
        kiln_error_free(TAKE_PTR(err));
        json_decref(j);
    }
}

static void test_context_sync__hostile_sizes(void **state)
{
    struct kiln_error *err = NULL;
    _cleanup_free_ char *long_path = kiln_xmalloc(KILND_CONTEXT_PATH_MAX + 2);
    for (size_t i = 0; i <= KILND_CONTEXT_PATH_MAX; i++)
        long_path[i] = i % 100 == 99 ? '/' : 'a';
    long_path[KILND_CONTEXT_PATH_MAX + 1] = '\0';
    json_t *j = json_pack("[{s:s, s:i, s:i, s:i}]", "path", long_path, "mode", S_IFDIR | 0755,
                          "size", 0, "mtime", 0);
    expect_fail(kilnd_context_check(j, &err), &err, KILN_E_LIMIT, "longer than 4096 bytes");
    json_decref(j);
    _cleanup_free_ char *long_name = kiln_xmalloc(300);
    memset(long_name, 'n', 299);
    long_name[299] = '\0';
    j = json_pack("[{s:s, s:i, s:i, s:i}]", "path", long_name, "mode", S_IFDIR | 0755, "size", 0,
                  "mtime", 0);
    expect_fail(kilnd_context_check(j, &err), &err, KILN_E_INVALID, "longer than 255 bytes");
    json_decref(j);
    j = json_array();
    json_t *d = json_pack("{s:s, s:i, s:i, s:i}", "path", "d", "mode", S_IFDIR | 0755, "size", 0,
                          "mtime", 0);
    for (size_t i = 0; i <= KILND_CONTEXT_ENTRIES_MAX; i++)
        json_array_append(j, d);
    json_decref(d);
    expect_fail(kilnd_context_check(j, &err), &err, KILN_E_LIMIT, "more than 1000000");
    json_decref(j);
}

/* A slot brought from one kept index to another by what differs, and back. */
static void test_context_sync__slot_moves_by_delta(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    _cleanup_free_ char *store = kiln_xasprintf("%s/store", f->root);
    char first[KILN_OCI_DIGEST_MAX], second[KILN_OCI_DIGEST_MAX];
    sample_tree(f);
    store_all(f);
    expect_ok(kilnd_context_index_save(store, f->entries, first, &err), &err);
    json_t *old = json_deep_copy(f->entries);
    struct kilnd_context_slot *slot = NULL;
    expect_ok(kilnd_context_slot_take(store, "/ci/app", &slot, &err), &err);
    expect_ok(kilnd_context_slot_sync(slot, f->s, store, first, &err), &err);
    kilnd_context_slot_free(slot);
    /* the next index: a file changed, a directory became a file, one went with its directory,
     * a link retargeted, a file only touched, a new directory with a file in it */
    json_decref(f->entries);
    f->entries = json_array();
    add_dir(f, "src", 0755);
    add_file(f, "src/a.c", 0644, "int a;\n", 7);
    add_file(f, "src/copy-of-a.c", 0600, "int b;\n", 7);
    add_file(f, "src/empty", 0644, "now a file\n", 11);
    add_dir(f, "new", 0750);
    add_file(f, "new/file", 0640, "new\n", 4);
    add_file(f, "empty", 0644, "", 0);
    add_link(f, "to-a", "src/copy-of-a.c");
    json_object_set(json_array_get(f->entries, 0), "mtime",
                    json_object_get(json_array_get(old, 0), "mtime"));
    json_object_set(json_array_get(f->entries, 1), "mtime",
                    json_object_get(json_array_get(old, 1), "mtime"));
    store_all(f);
    expect_ok(kilnd_context_index_save(store, f->entries, second, &err), &err);
    /* what differs, by text */
    _cleanup_free_ char *a = json_dumps(old, JSON_COMPACT),
                        *b = json_dumps(f->entries, JSON_COMPACT);
    struct kilnd_context_delta d;
    assert_int_equal(kilnd_context_delta(a, strlen(a), b, strlen(b), &d), 0);
    assert_int_equal(json_array_size(d.added), 6);   /* all but src and src/a.c */
    assert_int_equal(json_array_size(d.removed), 9); /* all but src and src/a.c */
    assert_int_equal(json_array_size(d.dirs), 1);    /* src, whose entries changed */
    kilnd_context_delta_release(&d);
    assert_int_equal(kilnd_context_delta("[{\"x\":1}]", 9, b, strlen(b), &d), -1);
    assert_int_equal(kilnd_context_delta(a, strlen(a) - 1, b, strlen(b), &d), -1);

    expect_ok(kilnd_context_slot_take(store, "/ci/app", &slot, &err), &err);
    _cleanup_free_ char *out = f->out;
    f->out = kiln_xstrdup(slot->tree);
    ino_t kept = inode_of(f, "src/a.c");
    expect_ok(kilnd_context_slot_sync(slot, f->s, store, second, &err), &err);
    kilnd_context_slot_free(slot);
    expect_tree(f);
    _cleanup_free_ char *gone = kiln_xasprintf("%s/shared", f->out);
    assert_int_equal(access(gone, F_OK), -1);
    assert_int_equal(inode_of(f, "src/a.c"), kept);
    /* and back */
    expect_ok(kilnd_context_slot_take(store, "/ci/app", &slot, &err), &err);
    expect_ok(kilnd_context_slot_sync(slot, f->s, store, first, &err), &err);
    kilnd_context_slot_free(slot);
    json_decref(f->entries);
    f->entries = old;
    expect_tree(f);
    _cleanup_free_ char *went = kiln_xasprintf("%s/new", f->out);
    assert_int_equal(access(went, F_OK), -1);
    free(f->out);
    f->out = TAKE_PTR(out);
}

/* Past KILND_CONTEXT_REMEMBER_MIN files written, the engine's hash cache of the slot knows them. */
static void test_context_sync__slot_tells_the_hash_cache(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    _cleanup_free_ char *store = kiln_xasprintf("%s/store", f->root);
    add_dir(f, "d", 0755);
    for (int i = 0; i < KILND_CONTEXT_REMEMBER_MIN; i++) {
        char path[32], data[32];
        snprintf(path, sizeof(path), "d/f%03d", i);
        int n = snprintf(data, sizeof(data), "file %d\n", i);
        add_file(f, path, 0644, data, (size_t)n);
    }
    store_all(f);
    char digest[KILN_OCI_DIGEST_MAX];
    expect_ok(kilnd_context_index_save(store, f->entries, digest, &err), &err);
    struct kilnd_context_slot *slot = NULL;
    expect_ok(kilnd_context_slot_take(store, "/ci/many", &slot, &err), &err);
    expect_ok(kilnd_context_slot_sync(slot, f->s, store, digest, &err), &err);
    _cleanup_free_ char *dir = kiln_xasprintf("%s/contexts", store);
    struct kiln_hash_cache *c = NULL;
    expect_ok(kiln_hash_cache_open_for(dir, slot->tree, &c, &err), &err);
    json_t *e;
    size_t i, known = 0;
    json_array_foreach (f->entries, i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        _cleanup_free_ char *p = kiln_xasprintf("%s/%s", slot->tree, path);
        struct stat st;
        char got[KILN_OCI_DIGEST_MAX];
        if (!json_object_get(e, "digest"))
            continue;
        assert_int_equal(lstat(p, &st), 0);
        assert_true(kiln_hash_cache_get(c, path, &st, got));
        assert_string_equal(got, json_string_value(json_object_get(e, "digest")));
        known++;
    }
    assert_int_equal(known, KILND_CONTEXT_REMEMBER_MIN);
    kiln_hash_cache_free(c);
    kilnd_context_slot_free(slot);
}

/* Indexes are kept by the sha256 of their compact JSON, found again by it, and bounded. */
static void test_context_sync__indexes_kept_by_digest(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *store = kiln_xasprintf("%s/store", f->root);
    json_t *index = json_pack("[{s:s, s:i, s:i, s:I}]", "path", "a", "mode", 040755, "size", 0,
                              "mtime", (json_int_t)1);
    char digest[KILN_OCI_DIGEST_MAX], want[KILN_OCI_DIGEST_MAX];
    _cleanup_free_ char *text = json_dumps(index, JSON_COMPACT);
    assert_int_equal(kiln_oci_digest_bytes(KILN_OCI_SHA256, text, strlen(text), want, NULL), 0);
    assert_false(kilnd_context_index_known(store, want));
    assert_int_equal(kilnd_context_index_save(store, index, digest, NULL), 0);
    assert_string_equal(digest, want);
    assert_true(kilnd_context_index_known(store, digest));
    json_t *back = NULL;
    assert_int_equal(kilnd_context_index_load(store, digest, &back, NULL), 0);
    assert_true(json_equal(back, index));
    json_decref(back);
    /* names that are no sha256 digest never reach the file system */
    assert_false(kilnd_context_index_known(store, "sha256:../../etc/passwd"));
    assert_false(kilnd_context_index_known(store, "md5:00"));
    struct kiln_error *e = NULL;
    assert_int_equal(kilnd_context_index_load(store, "sha256:../x", &back, &e), KILN_E_NOTFOUND);
    kiln_error_free(e);
    /* past the cap, the least recently used go */
    _cleanup_free_ char *dir = kiln_xasprintf("%s/contexts/indexes", store);
    _cleanup_free_ char *file = kiln_xasprintf("%s/%s.json", dir, digest + 7);
    run((const char *const[]){"touch", "-d", "2000-01-01", file, NULL});
    char last[KILN_OCI_DIGEST_MAX] = "";
    for (int i = 0; i < KILND_CONTEXT_INDEXES_MAX + 4; i++) {
        json_t *other = json_pack("[{s:s, s:i, s:i, s:i}]", "path", "a", "mode", 040755, "size", 0,
                                  "mtime", i + 2);
        assert_int_equal(kilnd_context_index_save(store, other, last, NULL), 0);
        json_decref(other);
    }
    assert_false(kilnd_context_index_known(store, digest));
    assert_true(kilnd_context_index_known(store, last));
    run((const char *const[]){"sh", "-c", "test $(ls \"$0\" | wc -l) -le 128", dir, NULL});
    kilnd_context_indexes_prune(store);
    assert_false(kilnd_context_index_known(store, last));
    json_decref(index);
}

/* Pages of `path` in the page cache, after dropping them first when `drop`. */
static size_t resident(const char *path, bool drop)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (drop) {
        assert_int_equal(fdatasync(fd), 0);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    }
    size_t pages = ((size_t)st.st_size + 4095) / 4096, n = 0;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned char *vec = kiln_xcalloc(pages, 1);
    assert_int_equal(mincore(m, (size_t)st.st_size, vec), 0);
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    free(vec);
    munmap(m, (size_t)st.st_size);
    close(fd);
    return n;
}

/* A kept context is read ahead into the page cache; links in it are not followed. */
static void test_context_sync__prefetch_reads_the_kept_context(void **state)
{
    struct fixture *f = *state;
    _cleanup_free_ char *store = kiln_xasprintf("%s/store", f->root);
    _cleanup_free_ char *slot = kiln_xasprintf("%s/contexts/0", store);
    _cleanup_free_ char *deep = kiln_xasprintf("%s/tree/a/b", slot);
    _cleanup_free_ char *file = kiln_xasprintf("%s/big", deep);
    _cleanup_free_ char *outside = kiln_xasprintf("%s/outside", f->root);
    _cleanup_free_ char *link = kiln_xasprintf("%s/tree/link", slot);
    run((const char *const[]){"mkdir", "-p", deep, NULL});
    _cleanup_free_ char *hint = kiln_xasprintf("%s/hint", slot);
    _cleanup_free_ char *index = kiln_xasprintf("%s/index.json", slot);
    write_file(hint, "/ci/checkout", strlen("/ci/checkout"));
    write_file(index, "[]", 2);
    _cleanup_free_ char *of = kiln_xasprintf("of=%s", file);
    _cleanup_free_ char *of2 = kiln_xasprintf("of=%s", outside);
    run((const char *const[]){"dd", "if=/dev/urandom", of, "bs=1M", "count=4", "status=none",
                              NULL});
    run((const char *const[]){"dd", "if=/dev/urandom", of2, "bs=1M", "count=1", "status=none",
                              NULL});
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(resident(file, true), 0);
    assert_int_equal(resident(outside, true), 0);
    kilnd_context_prefetch(store, "/other/checkout"); /* no slot of that context: nothing */
    kilnd_context_prefetch(store, "/ci/checkout");
    size_t got = 0;
    for (int i = 0; i < 200 && got < 1024; i++) {
        usleep(10000);
        got = resident(file, false);
    }
    assert_int_equal(got, 1024);
    assert_int_equal(resident(outside, false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_context_sync__round_trip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__over_previous_rewrites_only_changes,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__fresh_clone_sets_times_only, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__plain_tar_and_unwanted_members,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__resync_of_20mb_sends_nothing, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__tampered_member_stores_nothing,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__cut_gzip_upload_resumes, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__cut_plain_upload_resumes, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__foreign_members_are_refused, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__link_then_file_through_it_fails,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__materialize_needs_the_content, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(
                    test_context_sync__materialize_into_a_planted_link_fails, setup, teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__indexes_kept_by_digest, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__slot_moves_by_delta, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__slot_tells_the_hash_cache, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_context_sync__prefetch_reads_the_kept_context,
                                            setup, teardown),
            cmocka_unit_test(test_context_sync__hostile_indexes),
            cmocka_unit_test(test_context_sync__hostile_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

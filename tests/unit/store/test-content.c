/* SPDX-License-Identifier: Apache-2.0 */
#include "store-test.h"

#include "base/limits.h"

#include "base/banned.h"

/* sha256("hello") */
#define HELLO    "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"
#define ZERO64   "sha256:" ZERO_HEX

static void put_hello(struct kiln_store *s)
{
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.digest = HELLO, .size = 5, .media_type = "text/plain"};
    char got[KILN_OCI_DIGEST_MAX];
    expect_ok(kiln_content_put(s, &e, NULL, "hello", 5, got, &err), &err);
    assert_string_equal(got, HELLO);
}

static int list_blob(const struct kiln_content_info *info, void *userdata)
{
    unsigned *n = userdata;
    assert_string_equal(info->digest, HELLO);
    assert_int_equal(info->size, 5);
    assert_string_equal(info->media_type, "text/plain");
    assert_true(info->created > 0 && info->last_used >= info->created);
    (*n)++;
    return 0;
}

static void test_content__put_read_delete(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    put_hello(f->s);
    assert_int_equal(kiln_content_exists(f->s, HELLO, NULL), 1);
    uint64_t size = 0;
    expect_ok(kiln_content_size(f->s, HELLO, &size, &err), &err);
    assert_int_equal(size, 5);
    int fd = -1;
    expect_ok(kiln_content_open(f->s, HELLO, &fd, &err), &err);
    char buf[16] = {0};
    assert_int_equal(read(fd, buf, sizeof(buf)), 5);
    assert_string_equal(buf, "hello");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    (void)close(fd);
    unsigned n = 0;
    expect_ok(kiln_content_walk(f->s, list_blob, &n, &err), &err);
    assert_int_equal(n, 1);
    expect_ok(kiln_content_delete(f->s, HELLO, &err), &err);
    assert_int_equal(kiln_content_exists(f->s, HELLO, NULL), 0);
    expect_fail(kiln_content_open(f->s, HELLO, &fd, &err), &err, KILN_E_NOTFOUND, "not found");
    expect_fail(kiln_content_delete(f->s, HELLO, &err), &err, KILN_E_NOTFOUND, HELLO);
    assert_int_equal(count_in(f->dir, "content/blobs/sha256"), 0);
}

static void test_content__streaming_names_the_blob(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_writer *w = NULL;
    struct kiln_content_expect e = {.size = -1};
    expect_ok(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err);
    assert_int_equal(count_in(f->dir, "content/ingest"), 1);
    expect_ok(kiln_content_write(w, "hel", 3, &err), &err);
    expect_ok(kiln_content_write(w, "lo", 2, &err), &err);
    char got[KILN_OCI_DIGEST_MAX];
    expect_ok(kiln_content_commit(w, got, &err), &err);
    kiln_content_writer_free(w);
    assert_string_equal(got, HELLO);
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/content/blobs/sha256/%s", f->dir, HELLO + 7);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_content__mismatch_removes_the_temp_file(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.digest = ZERO64, .size = -1};
    expect_fail(kiln_content_put(f->s, &e, NULL, "hello", 5, NULL, &err), &err, KILN_E_INVALID,
                "blob '" ZERO64 "' failed verification: got " HELLO ", expected " ZERO64);
    e = (struct kiln_content_expect){.digest = HELLO, .size = 6};
    expect_fail(kiln_content_put(f->s, &e, NULL, "hello", 5, NULL, &err), &err, KILN_E_INVALID,
                "got 5 bytes, expected 6");
    e.size = 4;
    expect_fail(kiln_content_put(f->s, &e, NULL, "hello", 5, NULL, &err), &err, KILN_E_INVALID,
                "more than the expected 4 bytes");
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
    assert_int_equal(count_in(f->dir, "content/blobs/sha256"), 0);
    assert_int_equal(kiln_content_exists(f->s, HELLO, NULL), 0);
}

static void test_content__failed_writer_stays_failed(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_writer *w = NULL;
    struct kiln_content_expect e = {.size = -1, .max_size = 4};
    expect_ok(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err);
    expect_fail(kiln_content_write(w, "hello", 5, &err), &err, KILN_E_LIMIT,
                "exceeds the limit of 4 bytes");
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
    expect_fail(kiln_content_write(w, "h", 1, &err), &err, KILN_E_LIMIT, "after failure");
    expect_fail(kiln_content_commit(w, NULL, &err), &err, KILN_E_LIMIT, "after failure");
    kiln_content_writer_free(w);
}

static void test_content__limits(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_writer *w = NULL;
    struct kiln_content_expect e = {.digest = HELLO, .size = 5, .max_size = 4};
    expect_fail(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err, KILN_E_LIMIT,
                "of 5 bytes exceeds the limit of 4 bytes");
    e = (struct kiln_content_expect){.size = (int64_t)KILN_BLOB_MAX + 1};
    expect_fail(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err, KILN_E_LIMIT,
                "exceeds the limit");
    char *long_type = kiln_xmalloc(KILN_STORE_NAME_MAX + 2);
    memset(long_type, 'a', KILN_STORE_NAME_MAX + 1);
    long_type[KILN_STORE_NAME_MAX + 1] = '\0';
    e = (struct kiln_content_expect){.size = -1, .media_type = long_type};
    expect_fail(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err, KILN_E_LIMIT,
                "media type is longer than");
    free(long_type);
    e = (struct kiln_content_expect){.size = -2};
    expect_fail(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err, KILN_E_INVALID,
                "negative");
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
}

static void test_content__invalid_digests(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    int fd;
    expect_fail(kiln_content_open(f->s, "sha256:abc", &fd, &err), &err, KILN_E_INVALID,
                "sha256:abc");
    expect_fail(kiln_content_open(f->s, "sha256:../../../etc/passwd", &fd, &err), &err,
                KILN_E_INVALID, "blob digest");
    /* 64 digits: too short for sha512. */
    expect_fail(kiln_content_open(f->s, "sha512:" ZERO_HEX, &fd, &err), &err, KILN_E_INVALID,
                "blob digest");
    expect_fail(kiln_content_exists(f->s, "sha256+b64:abc", &err), &err, KILN_E_INVALID,
                "sha256 only");
}

static void test_content__commit_is_idempotent(void **state)
{
    struct fixture *f = *state;
    put_hello(f->s);
    put_hello(f->s);
    assert_int_equal(count_in(f->dir, "content/blobs/sha256"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM blobs"), 1);
}

static void test_content__abandoned_writer_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_writer *w = NULL;
    struct kiln_content_expect e = {.digest = HELLO, .size = 5};
    expect_ok(kiln_content_writer_open(f->s, &e, NULL, &w, &err), &err);
    expect_ok(kiln_content_write(w, "hel", 3, &err), &err);
    kiln_content_writer_free(w);
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
    assert_int_equal(kiln_content_exists(f->s, HELLO, NULL), 0);
}

static void test_content__pinned_blob_cannot_be_deleted(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    put_hello(f->s);
    expect_ok(kiln_store_pin_blob(f->s, "image", HELLO, &err), &err);
    expect_fail(kiln_content_delete(f->s, HELLO, &err), &err, KILN_E_CONFLICT, "pinned");
    assert_int_equal(kiln_store_unpin(f->s, "image", NULL), 1);
    expect_ok(kiln_content_delete(f->s, HELLO, &err), &err);
}

#define BIG_SIZE (2u * 1024 * 1024)

static char *big_data(void)
{
    char *p = kiln_xmalloc(BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i++)
        p[i] = (char)(i * 31 + i / 4096);
    return p;
}

static int start_fd = -1; /* read end of the pipe that starts the writers together */

static int write_big(const char *dir)
{
    struct kiln_error *err = NULL;
    struct kiln_store *s = NULL;
    struct kiln_content_writer *w = NULL;
    char *data = big_data(), c;
    char want[KILN_OCI_DIGEST_MAX];
    (void)kiln_oci_digest_bytes(KILN_OCI_SHA256, data, BIG_SIZE, want, NULL);
    struct kiln_content_expect e = {.digest = want, .size = BIG_SIZE};
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0 && read(start_fd, &c, 1) != 0)
        r = -EIO;
    if (r >= 0)
        r = kiln_content_writer_open(s, &e, NULL, &w, &err);
    for (size_t off = 0; r >= 0 && off < BIG_SIZE; off += 64 * 1024)
        r = kiln_content_write(w, data + off, 64 * 1024, &err);
    if (r >= 0)
        r = kiln_content_commit(w, NULL, &err);
    kiln_content_writer_free(w);
    kiln_store_close(s);
    free(data);
    return child_check(r, err, "write big blob");
}

static void test_content__concurrent_writers_of_one_digest(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    start_fd = fds[0];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        (void)fflush(NULL);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            (void)close(fds[1]);
            _exit(write_big(f->dir));
        }
    }
    (void)close(fds[0]);
    (void)close(fds[1]); /* both children read EOF now and start writing */
    for (int i = 0; i < 2; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_exited(status, 0);
    }
    assert_int_equal(count_in(f->dir, "content/blobs/sha256"), 1);
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM blobs"), 1);
    assert_int_equal(query_int(f->s, "SELECT size FROM blobs"), BIG_SIZE);
}

static int put_in_child(const char *dir)
{
    struct kiln_error *err = NULL;
    struct kiln_store *s = NULL;
    struct kiln_content_expect e = {.digest = HELLO, .size = 5};
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_content_put(s, &e, NULL, "hello", 5, NULL, &err);
    kiln_store_close(s);
    return child_check(r, err, "put");
}

static void test_content__repair_after_kill(void **state)
{
    static const char *const failpoints[] = {"content-before-sync", "content-after-rename"};
    struct fixture *f = *state;
    kiln_store_close(f->s);
    f->s = NULL;
    for (size_t i = 0; i < ELEMENTSOF(failpoints); i++) {
        assert_killed(run_child(f->dir, failpoints[i], put_in_child));
        check_invariants(f->dir);
        struct kiln_store *s = open_store(f->dir);
        assert_int_equal(kiln_content_exists(s, HELLO, NULL), 0);
        kiln_store_close(s);
    }
    /* Without a failpoint the same child commits the blob. */
    assert_exited(run_child(f->dir, NULL, put_in_child), 0);
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    assert_int_equal(kiln_content_exists(f->s, HELLO, NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_content__put_read_delete, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_content__streaming_names_the_blob, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_content__mismatch_removes_the_temp_file,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_content__failed_writer_stays_failed, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_content__limits, store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_content__invalid_digests, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_content__commit_is_idempotent, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_content__abandoned_writer_leaves_nothing,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_content__pinned_blob_cannot_be_deleted,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_content__concurrent_writers_of_one_digest,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_content__repair_after_kill, store_setup,
                                            store_teardown),
    };
    return cmocka_run_group_tests_name("store/content", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
#include "store-test.h"

#include <time.h>

#include "base/limits.h"
#include "store/cache.h"

#include "base/banned.h"

/* A committed snapshot and a blob, the data of one record, created under `lease`. */
static int make_data(struct kiln_store *s, struct kiln_lease *lease,
                     char snap[KILN_SNAPSHOT_ID_SIZE], char dgst[KILN_OCI_DIGEST_MAX],
                     struct kiln_error **err)
{
    struct kiln_content_expect e = {.size = -1, .media_type = "application/vnd.oci.image.layer"};
    int r = kiln_snapshot_prepare(s, NULL, lease, snap, err);
    if (r >= 0)
        r = kiln_snapshot_commit(s, snap, NULL, err);
    if (r >= 0)
        r = kiln_content_put(s, &e, lease, snap, strlen(snap), dgst, err);
    return r;
}

static int insert(struct kiln_store *s, const char *builder, const char *key, const char *snap,
                  const char *dgst, int64_t *ret_id, struct kiln_error **err)
{
    const char *comp[] = {"gzip"}, *digests[] = {dgst};
    struct kiln_cache_entry e = {.builder = builder,
                                 .key = key,
                                 .snapshot = snap,
                                 .diff_id = "sha256:diff",
                                 .compressions = comp,
                                 .digests = digests,
                                 .n_blobs = dgst ? 1 : 0};
    return kiln_cache_insert(s, &e, ret_id, err);
}

static void test_cache__insert_and_lookup(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char snap[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    expect_ok(make_data(f->s, NULL, snap, dgst, &err), &err);
    int64_t id = 0, again = 0;
    int r = insert(f->s, "acme/app", "sha256:key", snap, dgst, &id, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 1);
    r = insert(f->s, "acme/app", "sha256:key", snap, NULL, &again, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    assert_int_equal(again, id);
    struct kiln_cache_record *rec = NULL;
    r = kiln_cache_lookup(f->s, "acme/app", "sha256:key", &rec, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 1);
    assert_int_equal(rec->id, id);
    assert_string_equal(rec->snapshot, snap);
    assert_string_equal(rec->diff_id, "sha256:diff");
    assert_int_equal(rec->compressions.n, 1);
    assert_string_equal(rec->compressions.v[0], "gzip");
    assert_string_equal(rec->digests.v[0], dgst);
    assert_true(rec->bytes > 0);
    assert_true(rec->last_used > rec->created);
    int64_t first_use = rec->last_used;
    kiln_cache_record_free(rec);
    r = kiln_cache_lookup(f->s, "acme/app", "sha256:key", &rec, &err);
    expect_ok(r, &err);
    assert_true(rec->last_used > first_use);
    kiln_cache_record_free(rec);
}

static void test_cache__builders_never_share(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char snap[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    expect_ok(make_data(f->s, NULL, snap, dgst, &err), &err);
    int64_t id = 0;
    expect_ok(insert(f->s, "acme/app", "k", snap, dgst, &id, &err), &err);
    struct kiln_cache_record *rec = NULL;
    int r = kiln_cache_lookup(f->s, "other/app", "k", &rec, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    /* Another builder's flight on the same key does not wait for acme's. */
    struct kiln_lease *mine = NULL, *theirs = NULL;
    r = kiln_cache_begin(f->s, "other/app", "k2", &rec, &mine, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    r = kiln_cache_begin(f->s, "acme/app", "k2", &rec, &theirs, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    assert_string_not_equal(kiln_lease_name(mine), kiln_lease_name(theirs));
    kiln_lease_free(mine);
    kiln_lease_free(theirs);
}

static void test_cache__insert_needs_its_data(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char active[KILN_SNAPSHOT_ID_SIZE];
    int64_t id = 0;
    expect_ok(kiln_snapshot_prepare(f->s, NULL, NULL, active, &err), &err);
    expect_fail(insert(f->s, "b", "k", active, NULL, &id, &err), &err, KILN_E_CONFLICT,
                "is not committed");
    expect_fail(insert(f->s, "b", "k", "0123456789abcdef0123456789abcdef", NULL, &id, &err), &err,
                KILN_E_NOTFOUND, "snapshot '0123456789abcdef0123456789abcdef' not found");
    const char *missing = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    expect_fail(insert(f->s, "b", "k", NULL, missing, &id, &err), &err, KILN_E_NOTFOUND,
                "insert cache record 'k': blob 'sha256:2cf24dba");
    expect_fail(insert(f->s, "b", "k", NULL, NULL, &id, &err), &err, KILN_E_INVALID,
                "holds neither a snapshot nor blobs");
    char *key = kiln_xmalloc(KILN_STORE_NAME_MAX + 2);
    memset(key, 'k', KILN_STORE_NAME_MAX + 1);
    key[KILN_STORE_NAME_MAX + 1] = '\0';
    struct kiln_cache_record *rec = NULL;
    expect_fail(kiln_cache_lookup(f->s, "b", key, &rec, &err), &err, KILN_E_LIMIT,
                "cache key is longer than 4096 bytes");
    free(key);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 0);
}

static int start_fd = -1;  /* read end of the pipe that starts the children together */
static int signal_fd = -1; /* write end: a child says it holds the flight */

enum { COMPUTED = 10, REUSED = 11 };

static int count_computation(const char *dir)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/../computed", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int r = fd >= 0 && write(fd, "x", 1) == 1 ? 0 : -EIO;
    if (fd >= 0)
        (void)close(fd);
    return r;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    (void)nanosleep(&ts, NULL);
}

/* Computes with the flight held long enough that the other child has to wait for it. */
static int compute(struct kiln_store *s, struct kiln_lease *flight, struct kiln_error **err)
{
    char snap[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    int64_t id;
    int r = count_computation(kiln_store_dir(s));
    sleep_ms(300);
    if (r >= 0)
        r = make_data(s, flight, snap, dgst, err);
    if (r >= 0)
        r = insert(s, "acme/app", "key", snap, dgst, &id, err);
    return r < 0 ? r : 0;
}

static int build_step(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    struct kiln_cache_record *hit = NULL;
    struct kiln_lease *flight = NULL;
    char c;
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0 && read(start_fd, &c, 1) != 0)
        r = -EIO;
    if (r >= 0)
        r = kiln_cache_begin(s, "acme/app", "key", &hit, &flight, &err);
    int kind = r > 0 ? REUSED : COMPUTED;
    if (r == 0)
        r = compute(s, flight, &err);
    if (r > 0 && !hit->snapshot)
        r = -EINVAL;
    kiln_cache_record_free(hit);
    kiln_lease_free(flight);
    kiln_store_close(s);
    return child_check(r, err, "build step") ? 1 : kind;
}

static void test_cache__single_flight_across_processes(void **state)
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
            _exit(build_step(f->dir));
        }
    }
    (void)close(fds[0]);
    (void)close(fds[1]);
    int kinds = 0;
    for (int i = 0; i < 2; i++) {
        int status = 0;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        kinds |= 1 << WEXITSTATUS(status);
    }
    assert_int_equal(kinds, (1 << COMPUTED) | (1 << REUSED));
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/computed", f->root);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM leases"), 0);
    assert_int_equal(count_in(f->dir, "locks"), 0);
}

static int hold_and_die(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    struct kiln_cache_record *hit = NULL;
    struct kiln_lease *flight = NULL;
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_cache_begin(s, "acme/app", "key", &hit, &flight, &err);
    if (r == 0 && write(signal_fd, "x", 1) == 1) {
        sleep_ms(200);
        (void)raise(SIGKILL);
    }
    return child_check(r < 0 ? r : -EINVAL, err, "hold the flight");
}

static void test_cache__dead_holder_releases_the_key(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    signal_fd = fds[1];
    (void)fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(hold_and_die(f->dir));
    (void)close(fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    (void)close(fds[0]);
    /* Blocks until the child is killed, then computes itself. */
    struct kiln_cache_record *hit = NULL;
    struct kiln_lease *flight = NULL;
    int r = kiln_cache_begin(f->s, "acme/app", "key", &hit, &flight, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_killed(status);
    expect_ok(compute(f->s, flight, &err), &err);
    kiln_lease_free(flight);
    r = kiln_cache_begin(f->s, "acme/app", "key", &hit, &flight, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 1);
    kiln_cache_record_free(hit);
}

static int insert_in_child(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    struct kiln_cache_record *hit = NULL;
    struct kiln_lease *flight = NULL;
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_cache_begin(s, "acme/app", "key", &hit, &flight, &err);
    if (r == 0)
        r = compute(s, flight, &err);
    kiln_cache_record_free(hit);
    kiln_lease_free(flight);
    kiln_store_close(s);
    return child_check(r, err, "insert");
}

static void test_cache__repair_after_kill(void **state)
{
    struct fixture *f = *state;
    kiln_store_close(f->s);
    f->s = NULL;
    assert_killed(run_child(f->dir, "cache-before-commit", insert_in_child));
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    struct kiln_error *err = NULL;
    struct kiln_cache_record *rec = NULL;
    int r = kiln_cache_lookup(f->s, "acme/app", "key", &rec, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
    /* The data stayed, but no lease protects it any more: it is collectable. */
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM snapshots WHERE lease IS NULL"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM blobs"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM lease_blobs"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_cache__insert_and_lookup, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_cache__builders_never_share, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_cache__insert_needs_its_data, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_cache__single_flight_across_processes, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_cache__dead_holder_releases_the_key, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_cache__repair_after_kill, store_setup,
                                            store_teardown),
    };
    return cmocka_run_group_tests_name("store/cache", tests, NULL, NULL);
}

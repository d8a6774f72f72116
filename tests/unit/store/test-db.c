/* SPDX-License-Identifier: Apache-2.0 */
#include "store-test.h"

#include "store/cache.h"

#include "base/banned.h"

static void path_in(const struct fixture *f, const char *sub, char ret[512])
{
    (void)snprintf(ret, 512, "%.200s/%.300s", f->dir, sub);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    (void)close(fd);
}

static void test_db__migrates_an_empty_database(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(query_int(f->s, "PRAGMA user_version"), kiln_schema_latest());
    assert_int_equal(query_int(f->s, "PRAGMA foreign_keys"), 1);
    assert_int_equal(query_int(f->s, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                     " AND name IN ('blobs', 'snapshots', 'cache_records',"
                                     " 'record_blobs', 'pins', 'leases', 'lease_blobs')"),
                     7);
    /* Already at the latest version: nothing to do. */
    struct kiln_error *err = NULL;
    int r = kiln_schema_migrate(f->s->db, &err);
    expect_ok(r, &err);
    assert_int_equal(r, 0);
}

static void test_db__migrates_an_empty_file(void **state)
{
    struct fixture *f = *state;
    char path[512];
    kiln_store_close(f->s);
    kiln_tree_remove(AT_FDCWD, f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    path_in(f, "kiln.db", path);
    write_file(path, "");
    f->s = open_store(f->dir);
    assert_int_equal(query_int(f->s, "PRAGMA user_version"), kiln_schema_latest());
}

static void test_db__refuses_a_newer_schema(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    expect_ok(kiln_db_exec(f->s->db, "PRAGMA user_version = 99", &err), &err);
    kiln_store_close(f->s);
    f->s = NULL;
    struct kiln_store *s = NULL;
    expect_fail(kiln_store_open(f->dir, &s, &err), &err, KILN_E_INVALID,
                "database has schema version 99, this kiln knows up to 1; use a newer kiln");
    assert_null(s);
}

static void test_db__refuses_a_file_that_is_not_a_database(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char path[512];
    kiln_store_close(f->s);
    f->s = NULL;
    kiln_tree_remove(AT_FDCWD, f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    path_in(f, "kiln.db", path);
    write_file(path, "this is not an sqlite database, not even a little bit: 0123456789abcdef\n");
    struct kiln_store *s = NULL;
    expect_fail(kiln_store_open(f->dir, &s, &err), &err, KILN_E_INVALID, "not a database");
}

static void test_db__reopen_keeps_data(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = -1};
    char dgst[KILN_OCI_DIGEST_MAX];
    expect_ok(kiln_content_put(f->s, &e, NULL, "data", 4, dgst, &err), &err);
    kiln_store_close(f->s);
    f->s = open_store(f->dir);
    assert_int_equal(kiln_content_exists(f->s, dgst, NULL), 1);
    assert_int_equal(query_int(f->s, "PRAGMA user_version"), kiln_schema_latest());
}

static void test_db__repair_removes_files_without_rows(void **state)
{
    struct fixture *f = *state;
    static const char *const files[] = {
            "content/ingest/0123456789abcdef0123456789abcdef",
            "content/blobs/sha256/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "content/blobs/sha256/not-a-digest",
            "locks/flight-0123",
            "snapshots/garbage",
    };
    static const char *const dirs[] = {
            "trash/0123456789abcdef0123456789abcdef",
            "snapshots/0123456789abcdef0123456789abcdef",
            "snapshots/0123456789abcdef0123456789abcdef/fs",
    };
    char path[512];
    kiln_store_close(f->s);
    for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
        path_in(f, dirs[i], path);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        path_in(f, files[i], path);
        write_file(path, "hello");
    }
    f->s = NULL;
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    const char *const empty[] = {"content/ingest", "content/blobs/sha256", "locks", "trash",
                                 "snapshots"};
    for (size_t i = 0; i < ELEMENTSOF(empty); i++)
        assert_int_equal(count_in(f->dir, empty[i]), 0);
}

/* A snapshot with a child, a blob, records on each, pins on both records and the blob. */
static void populate(struct kiln_store *s, char base[KILN_SNAPSHOT_ID_SIZE],
                     char child[KILN_SNAPSHOT_ID_SIZE], char dgst[KILN_OCI_DIGEST_MAX])
{
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = -1};
    expect_ok(kiln_content_put(s, &e, NULL, "layer", 5, dgst, &err), &err);
    expect_ok(kiln_snapshot_prepare(s, NULL, NULL, base, &err), &err);
    expect_ok(kiln_snapshot_commit(s, base, NULL, &err), &err);
    expect_ok(kiln_snapshot_prepare(s, base, NULL, child, &err), &err);
    expect_ok(kiln_snapshot_commit(s, child, NULL, &err), &err);
    const char *comp[] = {"gzip"}, *digests[] = {dgst};
    struct kiln_cache_entry rec_base = {.builder = "b", .key = "k1", .snapshot = base};
    struct kiln_cache_entry rec_child = {.builder = "b",
                                         .key = "k2",
                                         .snapshot = child,
                                         .compressions = comp,
                                         .digests = digests,
                                         .n_blobs = 1};
    int64_t id1 = 0, id2 = 0;
    expect_ok(kiln_cache_insert(s, &rec_base, &id1, &err), &err);
    expect_ok(kiln_cache_insert(s, &rec_child, &id2, &err), &err);
    expect_ok(kiln_store_pin_record(s, "one", id1, &err), &err);
    expect_ok(kiln_store_pin_record(s, "two", id2, &err), &err);
    expect_ok(kiln_store_pin_blob(s, "two", dgst, &err), &err);
}

static void test_db__repair_drops_rows_whose_blob_is_missing(void **state)
{
    struct fixture *f = *state;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    char path[512], sub[256];
    populate(f->s, base, child, dgst);
    kiln_store_close(f->s);
    f->s = NULL;
    (void)snprintf(sub, sizeof(sub), "content/blobs/sha256/%s", dgst + 7);
    path_in(f, sub, path);
    assert_int_equal(unlink(path), 0);
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    /* The record needing the blob and its pins went; the other record stayed. */
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM blobs"), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records WHERE cache_key = 'k1'"),
                     1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM pins"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM snapshots"), 2);
}

static void test_db__repair_drops_what_is_built_on_a_missing_snapshot(void **state)
{
    struct fixture *f = *state;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    char path[512], sub[256];
    populate(f->s, base, child, dgst);
    kiln_store_close(f->s);
    f->s = NULL;
    (void)snprintf(sub, sizeof(sub), "snapshots/%s", base);
    path_in(f, sub, path);
    assert_int_equal(kiln_tree_remove(AT_FDCWD, path), 0);
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM snapshots"), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM pins WHERE record IS NOT NULL"), 0);
    /* The blob is pinned by itself, so it stays. */
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM blobs"), 1);
}

static void test_db__repair_drops_a_blob_of_the_wrong_size(void **state)
{
    struct fixture *f = *state;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    char path[512], sub[256];
    populate(f->s, base, child, dgst);
    kiln_store_close(f->s);
    f->s = NULL;
    (void)snprintf(sub, sizeof(sub), "content/blobs/sha256/%s", dgst + 7);
    path_in(f, sub, path);
    assert_int_equal(truncate(path, 2), 0);
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    assert_int_equal(kiln_content_exists(f->s, dgst, NULL), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 1);
}

static void test_db__no_repair_while_another_handle_is_open(void **state)
{
    struct fixture *f = *state;
    char path[512];
    path_in(f, "content/ingest/0123456789abcdef0123456789abcdef", path);
    write_file(path, "in flight");
    struct kiln_store *second = open_store(f->dir);
    assert_int_equal(count_in(f->dir, "content/ingest"), 1);
    kiln_store_close(second);
    kiln_store_close(f->s);
    f->s = open_store(f->dir);
    assert_int_equal(count_in(f->dir, "content/ingest"), 0);
}

static int repair_in_child(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    int r = kiln_store_open(dir, &s, &err);
    kiln_store_close(s);
    return child_check(r, err, "open");
}

static void test_db__repair_killed_midway_is_repaired(void **state)
{
    struct fixture *f = *state;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    char path[512], sub[256];
    populate(f->s, base, child, dgst);
    kiln_store_close(f->s);
    f->s = NULL;
    (void)snprintf(sub, sizeof(sub), "snapshots/%s", child);
    path_in(f, sub, path);
    assert_int_equal(kiln_tree_remove(AT_FDCWD, path), 0);
    assert_killed(run_child(f->dir, "repair-before-commit", repair_in_child));
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM snapshots"), 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_db__migrates_an_empty_database, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_db__migrates_an_empty_file, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_db__refuses_a_newer_schema, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_db__refuses_a_file_that_is_not_a_database,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_db__reopen_keeps_data, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_db__repair_removes_files_without_rows, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_db__repair_drops_rows_whose_blob_is_missing,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(
                    test_db__repair_drops_what_is_built_on_a_missing_snapshot, store_setup,
                    store_teardown),
            cmocka_unit_test_setup_teardown(test_db__repair_drops_a_blob_of_the_wrong_size,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_db__no_repair_while_another_handle_is_open,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_db__repair_killed_midway_is_repaired, store_setup,
                                            store_teardown),
    };
    return cmocka_run_group_tests_name("store/db", tests, NULL, NULL);
}

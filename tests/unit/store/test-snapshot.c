/* SPDX-License-Identifier: Apache-2.0 */
#include "store-test.h"

#include "base/limits.h"
#include "store/cache.h"

#include "base/banned.h"

static void write_at(const char *dir, const char *name, size_t size)
{
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char *data = kiln_xcalloc(1, size + 1);
    memset(data, 'x', size);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    free(data);
    (void)close(fd);
}

static void prepare(struct kiln_store *s, const char *parent, char id[KILN_SNAPSHOT_ID_SIZE])
{
    struct kiln_error *err = NULL;
    expect_ok(kiln_snapshot_prepare(s, parent, NULL, id, &err), &err);
}

static void commit(struct kiln_store *s, const char *id)
{
    struct kiln_error *err = NULL;
    expect_ok(kiln_snapshot_commit(s, id, NULL, &err), &err);
}

static char *fs_path(struct kiln_store *s, const char *id)
{
    struct kiln_error *err = NULL;
    char *path = NULL;
    expect_ok(kiln_snapshot_path(s, id, &path, &err), &err);
    return path;
}

static void test_snapshot__prepare_commit_chain(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char base[KILN_SNAPSHOT_ID_SIZE], mid[KILN_SNAPSHOT_ID_SIZE], top[KILN_SNAPSHOT_ID_SIZE];
    prepare(f->s, NULL, base);
    char *path = fs_path(f->s, base);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    write_at(path, "file", 100000);
    free(path);
    uint64_t bytes = 0;
    expect_ok(kiln_snapshot_commit(f->s, base, &bytes, &err), &err);
    assert_true(bytes >= 100000);
    prepare(f->s, base, mid);
    commit(f->s, mid);
    prepare(f->s, mid, top);
    struct kiln_snapshot_info info;
    expect_ok(kiln_snapshot_stat(f->s, top, &info, &err), &err);
    assert_false(info.committed);
    assert_string_equal(info.parent, mid);
    assert_int_equal(info.depth, 2);
    expect_ok(kiln_snapshot_stat(f->s, base, &info, &err), &err);
    assert_true(info.committed);
    assert_string_equal(info.parent, "");
    assert_int_equal(info.disk_bytes, bytes);
    struct kiln_strv chain = KILN_STRV_INIT;
    expect_ok(kiln_snapshot_chain(f->s, top, &chain, &err), &err);
    assert_int_equal(chain.n, 3);
    const char *order[] = {top, mid, base};
    for (size_t i = 0; i < 3; i++) {
        char want[256];
        (void)snprintf(want, sizeof(want), "%s/snapshots/%s/fs", f->dir, order[i]);
        assert_string_equal(chain.v[i], want);
    }
    kiln_strv_release(&chain);
}

static void test_snapshot__refusals(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE], other[KILN_SNAPSHOT_ID_SIZE];
    prepare(f->s, NULL, base);
    expect_fail(kiln_snapshot_prepare(f->s, base, NULL, child, &err), &err, KILN_E_CONFLICT,
                "is active; commit it before building on it");
    commit(f->s, base);
    expect_fail(kiln_snapshot_commit(f->s, base, NULL, &err), &err, KILN_E_CONFLICT,
                "already committed");
    expect_fail(kiln_snapshot_prepare(f->s, "../../../../etc", NULL, other, &err), &err,
                KILN_E_INVALID, "not 32 lower-case hex digits");
    expect_fail(kiln_snapshot_prepare(f->s, "0123456789abcdef0123456789abcdef", NULL, other, &err),
                &err, KILN_E_NOTFOUND, "snapshot '0123456789abcdef0123456789abcdef' not found");
    char *path = NULL;
    expect_fail(kiln_snapshot_path(f->s, "ABCDEF", &path, &err), &err, KILN_E_INVALID, "ABCDEF");
    prepare(f->s, base, child);
    commit(f->s, child);
    expect_fail(kiln_snapshot_remove(f->s, base, &err), &err, KILN_E_CONFLICT,
                "still used by a cache record or a child");
    struct kiln_cache_entry e = {.builder = "b", .key = "k", .snapshot = child};
    int64_t id;
    expect_ok(kiln_cache_insert(f->s, &e, &id, &err), &err);
    expect_fail(kiln_snapshot_remove(f->s, child, &err), &err, KILN_E_CONFLICT, child);
    assert_int_equal(count_in(f->dir, "snapshots"), 2);
}

static void test_snapshot__remove(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE];
    prepare(f->s, NULL, base);
    commit(f->s, base);
    prepare(f->s, base, child);
    char *path = fs_path(f->s, child);
    write_at(path, "f", 10);
    free(path);
    expect_ok(kiln_snapshot_remove(f->s, child, &err), &err);
    expect_ok(kiln_snapshot_remove(f->s, base, &err), &err);
    expect_fail(kiln_snapshot_remove(f->s, base, &err), &err, KILN_E_NOTFOUND, "not found");
    assert_int_equal(count_in(f->dir, "snapshots"), 0);
    assert_int_equal(count_in(f->dir, "trash"), 0);
}

static void test_snapshot__size_counts_hard_links_once(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char one[KILN_SNAPSHOT_ID_SIZE], two[KILN_SNAPSHOT_ID_SIZE];
    uint64_t single = 0, linked = 0;
    prepare(f->s, NULL, one);
    char *path = fs_path(f->s, one);
    write_at(path, "a", 256 * 1024);
    free(path);
    expect_ok(kiln_snapshot_commit(f->s, one, &single, &err), &err);
    prepare(f->s, NULL, two);
    path = fs_path(f->s, two);
    write_at(path, "a", 256 * 1024);
    char a[512], b[512];
    (void)snprintf(a, sizeof(a), "%s/a", path);
    (void)snprintf(b, sizeof(b), "%s/b", path);
    assert_int_equal(link(a, b), 0);
    free(path);
    expect_ok(kiln_snapshot_commit(f->s, two, &linked, &err), &err);
    assert_true(single >= 256 * 1024);
    assert_int_equal(linked, single);
}

/* Makes `depth` nested directories "d/d/d/..." under fd, with a file at the bottom. */
static void nest(int fd, unsigned depth)
{
    int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    for (unsigned i = 0; i < depth; i++) {
        assert_int_equal(mkdirat(cur, "d", 0755), 0);
        int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(next >= 0);
        (void)close(cur);
        cur = next;
    }
    int file = openat(cur, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(file >= 0);
    (void)close(file);
    /* A directory nobody may read, which removal must still get rid of. */
    assert_int_equal(mkdirat(cur, "locked", 0), 0);
    (void)close(cur);
}

static void test_snapshot__deep_trees(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char id[KILN_SNAPSHOT_ID_SIZE];
    prepare(f->s, NULL, id);
    char *path = fs_path(f->s, id);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(path);
    assert_true(fd >= 0);
    nest(fd, KILN_SNAPSHOT_DEPTH_MAX + 10);
    (void)close(fd);
    expect_fail(kiln_snapshot_commit(f->s, id, NULL, &err), &err, KILN_E_LIMIT,
                "nested deeper than 256 directories");
    expect_ok(kiln_snapshot_remove(f->s, id, &err), &err);
    assert_int_equal(count_in(f->dir, "snapshots"), 0);
    assert_int_equal(count_in(f->dir, "trash"), 0);
}

static void test_snapshot__chain_limit(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char ids[2][KILN_SNAPSHOT_ID_SIZE];
    prepare(f->s, NULL, ids[0]);
    commit(f->s, ids[0]);
    /* An overlay stacks at most KILN_SNAPSHOT_CHAIN_MAX lower directories. */
    for (unsigned i = 1; i < KILN_SNAPSHOT_CHAIN_MAX; i++) {
        prepare(f->s, ids[(i - 1) % 2], ids[i % 2]);
        commit(f->s, ids[i % 2]);
    }
    const char *last = ids[(KILN_SNAPSHOT_CHAIN_MAX - 1) % 2];
    struct kiln_strv chain = KILN_STRV_INIT;
    expect_ok(kiln_snapshot_chain(f->s, last, &chain, &err), &err);
    assert_int_equal(chain.n, KILN_SNAPSHOT_CHAIN_MAX);
    kiln_strv_release(&chain);
    char next[KILN_SNAPSHOT_ID_SIZE];
    expect_fail(kiln_snapshot_prepare(f->s, last, NULL, next, &err), &err, KILN_E_LIMIT,
                "has 499 parents, the limit is 499");
}

static int prepare_in_child(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    char base[KILN_SNAPSHOT_ID_SIZE], child[KILN_SNAPSHOT_ID_SIZE];
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_snapshot_prepare(s, NULL, NULL, base, &err);
    if (r >= 0)
        r = kiln_snapshot_commit(s, base, NULL, &err);
    if (r >= 0)
        r = kiln_snapshot_prepare(s, base, NULL, child, &err);
    kiln_store_close(s);
    return child_check(r, err, "prepare");
}

static void test_snapshot__repair_after_kill(void **state)
{
    static const struct {
        const char *failpoint;
        int64_t committed; /* snapshots left after the repair */
    } cases[] = {
            {"snapshot-after-mkdir", 0},
            {"snapshot-before-commit", 0},
            {NULL, 1}, /* runs to the end: the base stays, the active child goes */
    };
    struct fixture *f = *state;
    kiln_store_close(f->s);
    f->s = NULL;
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        int status = run_child(f->dir, cases[i].failpoint, prepare_in_child);
        if (cases[i].failpoint)
            assert_killed(status);
        else
            assert_exited(status, 0);
        check_invariants(f->dir);
        struct kiln_store *s = open_store(f->dir);
        assert_int_equal(query_int(s, "SELECT count(*) FROM snapshots"), cases[i].committed);
        kiln_store_close(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_snapshot__prepare_commit_chain, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__refusals, store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__remove, store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__size_counts_hard_links_once, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__deep_trees, store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__chain_limit, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_snapshot__repair_after_kill, store_setup,
                                            store_teardown),
    };
    return cmocka_run_group_tests_name("store/snapshot", tests, NULL, NULL);
}

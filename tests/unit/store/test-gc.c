/* SPDX-License-Identifier: Apache-2.0 */
#include "store-test.h"

#include <ftw.h>
#include <search.h>

#include "store/cache.h"

#include "base/banned.h"

/* Fills snapshot `id`'s fs/ with a file of `size` bytes (and `links` more links to it). */
static void fill(struct kiln_store *s, const char *id, size_t size, unsigned links)
{
    struct kiln_error *err = NULL;
    char *fs = NULL, path[512], link_path[512];
    expect_ok(kiln_snapshot_path(s, id, &fs, &err), &err);
    (void)snprintf(path, sizeof(path), "%s/data", fs);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char *data = kiln_xcalloc(1, size + 1);
    memset(data, 'd', size);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    free(data);
    (void)close(fd);
    for (unsigned i = 0; i < links; i++) {
        (void)snprintf(link_path, sizeof(link_path), "%s/link%u", fs, i);
        assert_int_equal(link(path, link_path), 0);
    }
    free(fs);
}

static void snapshot(struct kiln_store *s, const char *parent, struct kiln_lease *lease,
                     size_t size, char id[KILN_SNAPSHOT_ID_SIZE])
{
    struct kiln_error *err = NULL;
    expect_ok(kiln_snapshot_prepare(s, parent, lease, id, &err), &err);
    fill(s, id, size, 0);
    expect_ok(kiln_snapshot_commit(s, id, NULL, &err), &err);
}

static void blob(struct kiln_store *s, struct kiln_lease *lease, const char *text,
                 char dgst[KILN_OCI_DIGEST_MAX])
{
    struct kiln_error *err = NULL;
    struct kiln_content_expect e = {.size = -1};
    expect_ok(kiln_content_put(s, &e, lease, text, strlen(text), dgst, &err), &err);
}

/* A record `key` with a snapshot of `size` bytes on top of `parent`, and a blob. */
static int64_t record(struct kiln_store *s, const char *key, const char *parent, size_t size)
{
    struct kiln_error *err = NULL;
    char id[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    snapshot(s, parent, NULL, size, id);
    blob(s, NULL, key, dgst);
    const char *comp[] = {"gzip"}, *digests[] = {dgst};
    struct kiln_cache_entry e = {.builder = "b",
                                 .key = key,
                                 .snapshot = id,
                                 .compressions = comp,
                                 .digests = digests,
                                 .n_blobs = 1};
    int64_t rid = 0;
    expect_ok(kiln_cache_insert(s, &e, &rid, &err), &err);
    return rid;
}

static bool has_record(struct kiln_store *s, const char *key)
{
    struct kiln_error *err = NULL;
    struct kiln_cache_record *rec = NULL;
    int r = kiln_cache_lookup(s, "b", key, &rec, &err);
    expect_ok(r, &err);
    kiln_cache_record_free(rec);
    return r > 0;
}

static struct kiln_store_usage du(struct kiln_store *s)
{
    struct kiln_error *err = NULL;
    struct kiln_store_usage u;
    expect_ok(kiln_store_du(s, &u, &err), &err);
    return u;
}

static struct kiln_prune_report prune(struct kiln_store *s, uint64_t keep, bool all)
{
    struct kiln_error *err = NULL;
    struct kiln_prune_report rep;
    struct kiln_prune_opts opts = {.keep_bytes = keep, .all = all};
    expect_ok(kiln_store_prune(s, &opts, &rep, &err), &err);
    return rep;
}

/* An independent measure: nftw over a directory, st_blocks, hard links once. */
static uint64_t walked;
static void *walked_inodes;

static int cmp_ino(const void *a, const void *b)
{
    const ino_t *x = a, *y = b;
    return *x < *y ? -1 : *x > *y;
}

static int add_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (ftw->level == 0)
        return 0; /* the directory measured, not part of what it holds */
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        ino_t *key = kiln_xmalloc(sizeof(*key));
        *key = st->st_ino;
        if (*(ino_t **)tsearch(key, &walked_inodes, cmp_ino) != key) {
            free(key);
            return 0;
        }
    }
    walked += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t walk(const char *dir, const char *sub)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, sub);
    walked = 0;
    assert_int_equal(nftw(path, add_entry, 16, FTW_PHYS), 0);
    tdestroy(walked_inodes, free);
    walked_inodes = NULL;
    return walked;
}

static void test_gc__du_is_what_is_on_disk(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char base[KILN_SNAPSHOT_ID_SIZE], linked[KILN_SNAPSHOT_ID_SIZE], active[KILN_SNAPSHOT_ID_SIZE];
    char dgst[KILN_OCI_DIGEST_MAX];
    record(f->s, "one", NULL, 300000);
    snapshot(f->s, NULL, NULL, 5000, base);
    expect_ok(kiln_snapshot_prepare(f->s, base, NULL, linked, &err), &err);
    fill(f->s, linked, 200000, 3);
    expect_ok(kiln_snapshot_commit(f->s, linked, NULL, &err), &err);
    expect_ok(kiln_snapshot_prepare(f->s, linked, NULL, active, &err), &err);
    fill(f->s, active, 70000, 1);
    blob(f->s, NULL, "", dgst);
    blob(f->s, NULL, "some text", dgst);
    struct kiln_store_usage u = du(f->s);
    assert_int_equal(u.records, 1);
    assert_int_equal(u.snapshots, 4);
    assert_int_equal(u.blobs, 3);
    assert_int_equal(u.blobs_bytes, walk(f->dir, "content/blobs/sha256"));
    assert_int_equal(u.snapshots_bytes, walk(f->dir, "snapshots"));
    assert_int_equal(u.total_bytes, u.blobs_bytes + u.snapshots_bytes);
    assert_true(u.records_bytes >= 300000 && u.records_bytes < u.total_bytes);
    /* prune --all frees exactly what du called reclaimable. */
    struct kiln_prune_report rep = prune(f->s, 0, true);
    assert_int_equal(rep.freed_bytes, u.reclaimable_bytes);
    struct kiln_store_usage after = du(f->s);
    assert_int_equal(after.total_bytes, u.total_bytes - u.reclaimable_bytes);
    assert_int_equal(after.snapshots_bytes, walk(f->dir, "snapshots"));
    /* The active snapshot and its parents stay. */
    assert_int_equal(after.snapshots, 3);
    assert_int_equal(after.reclaimable_bytes, 0);
}

static void test_gc__prunes_least_recently_used_first(void **state)
{
    struct fixture *f = *state;
    record(f->s, "a", NULL, 100000);
    record(f->s, "b", NULL, 100000);
    record(f->s, "c", NULL, 100000);
    assert_true(has_record(f->s, "a")); /* a is now the most recently used */
    struct kiln_store_usage before = du(f->s);
    struct kiln_prune_report rep = prune(f->s, before.total_bytes - 1, false);
    /* b's record, then its snapshot (useless without it); its blob is loose now. */
    assert_int_equal(rep.records, 1);
    assert_int_equal(rep.snapshots, 1);
    assert_int_equal(rep.blobs, 0);
    assert_false(has_record(f->s, "b"));
    assert_true(has_record(f->s, "c"));
    assert_true(has_record(f->s, "a")); /* looking up uses: a is the most recent again */
    struct kiln_store_usage after = du(f->s);
    assert_int_equal(after.total_bytes, before.total_bytes - rep.freed_bytes);
    assert_int_equal(after.snapshots_bytes, walk(f->dir, "snapshots"));
    assert_int_equal(after.blobs_bytes, walk(f->dir, "content/blobs/sha256"));
    /* Under the limit already: nothing goes. */
    rep = prune(f->s, after.total_bytes, false);
    assert_int_equal(rep.records + rep.snapshots + rep.blobs, 0);
    /* The loose blob was used before the records c and a: it goes first. */
    rep = prune(f->s, after.total_bytes - 1, false);
    assert_int_equal(rep.blobs, 1);
    assert_int_equal(rep.records, 0);
    /* Then c, which was used before a. */
    rep = prune(f->s, du(f->s).total_bytes - 1, false);
    assert_int_equal(rep.records, 1);
    assert_false(has_record(f->s, "c"));
    assert_true(has_record(f->s, "a"));
    check_invariants(f->dir);
}

static void test_gc__prune_all_keeps_pins_and_their_parents(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    char parent[KILN_SNAPSHOT_ID_SIZE], pinned_blob[KILN_OCI_DIGEST_MAX];
    char loose[KILN_OCI_DIGEST_MAX];
    snapshot(f->s, NULL, NULL, 10000, parent);
    int64_t keep = record(f->s, "kept", parent, 10000);
    record(f->s, "dropped", parent, 10000);
    blob(f->s, NULL, "manifest", pinned_blob);
    blob(f->s, NULL, "loose", loose);
    expect_ok(kiln_store_pin_record(f->s, "reg/app:1", keep, &err), &err);
    expect_ok(kiln_store_pin_blob(f->s, "reg/app:1", pinned_blob, &err), &err);
    expect_fail(kiln_store_pin_record(f->s, "x", 999, &err), &err, KILN_E_NOTFOUND,
                "cache record 999 not found");
    struct kiln_prune_report rep = prune(f->s, 0, true);
    assert_int_equal(rep.records, 1);
    assert_int_equal(rep.snapshots, 1);
    assert_int_equal(rep.blobs, 2); /* dropped's blob and the loose one */
    assert_true(has_record(f->s, "kept"));
    assert_false(has_record(f->s, "dropped"));
    assert_int_equal(kiln_content_exists(f->s, pinned_blob, NULL), 1);
    assert_int_equal(kiln_content_exists(f->s, loose, NULL), 0);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM snapshots"), 2);
    /* Unpinned, everything goes. */
    assert_int_equal(kiln_store_unpin(f->s, "reg/app:1", NULL), 2);
    rep = prune(f->s, 0, true);
    assert_int_equal(rep.records, 1);
    assert_int_equal(du(f->s).total_bytes, 0);
    check_invariants(f->dir);
}

static void test_gc__leases_protect_until_freed(void **state)
{
    struct fixture *f = *state;
    struct kiln_error *err = NULL;
    struct kiln_lease *one = NULL, *two = NULL;
    char id[KILN_SNAPSHOT_ID_SIZE], dgst[KILN_OCI_DIGEST_MAX];
    expect_ok(kiln_store_lease_new(f->s, &one, &err), &err);
    expect_ok(kiln_store_lease_new(f->s, &two, &err), &err);
    snapshot(f->s, NULL, one, 1000, id);
    blob(f->s, one, "context file", dgst);
    blob(f->s, two, "context file", dgst); /* a second build uploads the same file */
    struct kiln_prune_report rep = prune(f->s, 0, true);
    assert_int_equal(rep.snapshots + rep.blobs, 0);
    assert_int_equal(du(f->s).reclaimable_bytes, 0);
    kiln_lease_free(one);
    rep = prune(f->s, 0, true);
    assert_int_equal(rep.snapshots, 1);
    assert_int_equal(rep.blobs, 0); /* the second lease still holds it */
    kiln_lease_free(two);
    assert_int_equal(count_in(f->dir, "locks"), 0);
    assert_true(du(f->s).reclaimable_bytes > 0);
    rep = prune(f->s, 0, true);
    assert_int_equal(rep.blobs, 1);
    assert_int_equal(du(f->s).total_bytes, 0);
}

static int lease_and_die(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    struct kiln_lease *lease = NULL;
    struct kiln_content_expect e = {.size = -1};
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_store_lease_new(s, &lease, &err);
    if (r >= 0)
        r = kiln_content_put(s, &e, lease, "orphan", 6, NULL, &err);
    if (r >= 0)
        (void)raise(SIGKILL);
    return child_check(r, err, "lease");
}

static void test_gc__a_dead_holders_lease_expires(void **state)
{
    struct fixture *f = *state;
    /* f->s stays open: no repair happens, the collection alone must notice. */
    assert_killed(run_child(f->dir, NULL, lease_and_die));
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM leases"), 1);
    assert_int_equal(count_in(f->dir, "locks"), 1);
    struct kiln_prune_report rep = prune(f->s, 0, true);
    assert_int_equal(rep.blobs, 1);
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM leases"), 0);
    assert_int_equal(count_in(f->dir, "locks"), 0);
}

static int prune_in_child(const char *dir)
{
    struct kiln_store *s = NULL;
    struct kiln_error *err = NULL;
    struct kiln_prune_opts opts = {.all = true};
    int r = kiln_store_open(dir, &s, &err);
    if (r >= 0)
        r = kiln_store_prune(s, &opts, NULL, &err);
    kiln_store_close(s);
    return child_check(r, err, "prune");
}

static void test_gc__repair_after_kill(void **state)
{
    struct fixture *f = *state;
    record(f->s, "a", NULL, 10000);
    record(f->s, "b", NULL, 10000);
    kiln_store_close(f->s);
    f->s = NULL;
    assert_killed(run_child(f->dir, "gc-before-commit", prune_in_child));
    check_invariants(f->dir);
    f->s = open_store(f->dir);
    /* The step killed before its commit left the record it was dropping in place. */
    assert_int_equal(query_int(f->s, "SELECT count(*) FROM cache_records"), 2);
    assert_exited(run_child(f->dir, NULL, prune_in_child), 0);
    check_invariants(f->dir);
    assert_int_equal(du(f->s).total_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_gc__du_is_what_is_on_disk, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_gc__prunes_least_recently_used_first, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_gc__prune_all_keeps_pins_and_their_parents,
                                            store_setup, store_teardown),
            cmocka_unit_test_setup_teardown(test_gc__leases_protect_until_freed, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_gc__a_dead_holders_lease_expires, store_setup,
                                            store_teardown),
            cmocka_unit_test_setup_teardown(test_gc__repair_after_kill, store_setup,
                                            store_teardown),
    };
    return cmocka_run_group_tests_name("store/gc", tests, NULL, NULL);
}

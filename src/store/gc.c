/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc.c - pins (the pins table), disk usage and garbage collection.
 *
 * What is live: a snapshot is live when a cache record points at it, when it
 * is active or leased, or when a live snapshot is built on it; a blob is live
 * when a record links it, a pin holds it, or a lease protects it. What is
 * kept by prune --all is the same with pinned records only. Both sets are
 * computed by SQLite (a recursive query up the parent links).
 *
 * A dead snapshot is worth nothing (only records find snapshots), so it
 * goes first, deepest first so a parent never goes before its child. Records
 * and loose blobs (uploaded context files, blobs of evicted records) are
 * worth their reuse, so they go least recently used first, one at a time
 * until the store fits.
 */
#include <errno.h>

#include "base/strv.h"
#include "content.h"
#include "internal.h"

#include "base/banned.h"

static const char sql_pin_record[] = "INSERT INTO pins (name, record, created)"
                                     " SELECT ?1, id, ?3 FROM cache_records WHERE id = ?2";
static const char sql_pin_blob[] = "INSERT INTO pins (name, blob, created)"
                                   " SELECT ?1, digest, ?3 FROM blobs WHERE digest = ?2";
static const char sql_unpin[] = "DELETE FROM pins WHERE name = ?1";

/*
 * The snapshots reachable through parent links, tagged by what reaches them:
 * 'record' from any cache record, 'kept' from a pinned record or an active
 * or leased snapshot. Live is either tag; prune --all keeps 'kept'.
 */
#define REACH                                                                               \
    "WITH RECURSIVE reach(id, tag) AS ("                                                    \
    "  SELECT snapshot, 'record' FROM cache_records WHERE snapshot IS NOT NULL"             \
    "  UNION SELECT r.snapshot, 'kept' FROM cache_records r JOIN pins p ON p.record = r.id" \
    "   WHERE r.snapshot IS NOT NULL"                                                       \
    "  UNION SELECT id, 'kept' FROM snapshots WHERE state = 'active' OR lease IS NOT NULL"  \
    "  UNION SELECT s.parent, r.tag FROM snapshots s JOIN reach r ON s.id = r.id"           \
    "   WHERE s.parent IS NOT NULL) "
/* Blobs that pins or leases hold. */
#define BLOBS_HELD                                 \
    "SELECT blob FROM pins WHERE blob IS NOT NULL" \
    " UNION SELECT digest FROM lease_blobs"

static const char sql_dead_snapshots[] =
        REACH "SELECT id, disk_bytes FROM snapshots WHERE id NOT IN (SELECT id FROM reach)"
              " ORDER BY depth DESC";
/* The oldest of the unpinned records (their id) and the loose blobs (their digest). */
static const char sql_oldest[] =
        "SELECT id, 0, last_used FROM cache_records"
        " WHERE id NOT IN (SELECT record FROM pins WHERE record IS NOT NULL)"
        " UNION ALL SELECT digest, disk_bytes, last_used FROM blobs"
        " WHERE digest NOT IN (SELECT digest FROM record_blobs UNION " BLOBS_HELD ")"
        " ORDER BY 3, 1 LIMIT 1";
static const char sql_total[] = "SELECT (SELECT coalesce(sum(disk_bytes), 0) FROM snapshots)"
                                " + (SELECT coalesce(sum(disk_bytes), 0) FROM blobs)";
static const char sql_usage[] =
        REACH "SELECT (SELECT count(*) FROM cache_records),"
              " (SELECT coalesce(sum(disk_bytes), 0) FROM snapshots"
              "   WHERE id IN (SELECT id FROM reach WHERE tag = 'record'))"
              " + (SELECT coalesce(sum(disk_bytes), 0) FROM blobs"
              "   WHERE digest IN (SELECT digest FROM record_blobs)),"
              " (SELECT count(*) FROM snapshots),"
              " (SELECT coalesce(sum(disk_bytes), 0) FROM snapshots),"
              " (SELECT count(*) FROM blobs),"
              " (SELECT coalesce(sum(disk_bytes), 0) FROM blobs),"
              " (SELECT coalesce(sum(disk_bytes), 0) FROM snapshots"
              "   WHERE id NOT IN (SELECT id FROM reach WHERE tag = 'kept'))"
              " + (SELECT coalesce(sum(disk_bytes), 0) FROM blobs WHERE digest NOT IN ("
              "   SELECT rb.digest FROM record_blobs rb JOIN pins p ON p.record = rb.record"
              "   UNION " BLOBS_HELD "))";
static const char sql_active[] = "SELECT id, 0 FROM snapshots WHERE state = 'active'";

static int pin(struct kiln_store *s, const char *sql, const char *name, struct kiln_db_arg target,
               const char *what, struct kiln_error **err)
{
    int r = kiln_store_check_name(name, "pin name", err);
    if (r >= 0)
        r = kiln_db_run(s->db, sql,
                        KILN_DB_ARGS(KILN_DB_TEXT(name), target, KILN_DB_INT(kiln_store_now())),
                        err);
    if (r == 0)
        r = kiln_error_set(err, KILN_E_NOTFOUND, "%s not found", what);
    return r < 0 ? kiln_error_wrap(err, r, "pin '%s'", name) : 0;
}

int kiln_store_pin_record(struct kiln_store *s, const char *name, int64_t record_id,
                          struct kiln_error **err)
{
    char what[64];
    (void)snprintf(what, sizeof(what), "cache record %lld", (long long)record_id);
    return pin(s, sql_pin_record, name, KILN_DB_INT(record_id), what, err);
}

int kiln_store_pin_blob(struct kiln_store *s, const char *name, const char *digest,
                        struct kiln_error **err)
{
    const char *hex;
    char what[KILN_OCI_DIGEST_MAX + 16];
    int r = kiln_content_hex(digest, &hex, err);
    if (r < 0)
        return r;
    (void)snprintf(what, sizeof(what), "blob '%s'", digest);
    return pin(s, sql_pin_blob, name, KILN_DB_TEXT(digest), what, err);
}

int kiln_store_unpin(struct kiln_store *s, const char *name, struct kiln_error **err)
{
    int r = kiln_db_run(s->db, sql_unpin, KILN_DB_ARGS(KILN_DB_TEXT(name)), err);
    return r < 0 ? kiln_error_wrap(err, r, "unpin '%s'", name) : r;
}

struct dead {
    struct kiln_strv names;
    uint64_t bytes;
};

static int collect_dead(sqlite3_stmt *row, void *userdata)
{
    struct dead *d = userdata;
    kiln_strv_push(&d->names, (const char *)sqlite3_column_text(row, 0));
    d->bytes += (uint64_t)sqlite3_column_int64(row, 1);
    return 0;
}

/* In the caller's transaction: drops the snapshots nothing holds, deepest first. */
static int sweep(struct kiln_store *s, struct kiln_prune_report *got, struct kiln_error **err)
{
    struct dead snaps = {.names = KILN_STRV_INIT};
    int r = kiln_db_each(s->db, sql_dead_snapshots, KILN_DB_NO_ARGS, collect_dead, &snaps, err);
    for (size_t i = 0; r >= 0 && i < snaps.names.n; i++)
        r = kiln_snapshot_drop(s, snaps.names.v[i], err);
    if (r >= 0) {
        got->snapshots += snaps.names.n;
        got->freed_bytes += snaps.bytes;
    }
    kiln_strv_release(&snaps.names);
    return r;
}

/* In the caller's transaction: drops the least recently used unpinned record or loose blob. */
static int evict(struct kiln_store *s, struct kiln_prune_report *got, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_db_prepare(s->db, sql_oldest, KILN_DB_NO_ARGS, &st, err);
    if (r >= 0)
        r = kiln_db_step(st, err);
    if (r <= 0)
        return r;
    if (sqlite3_column_type(st, 0) == SQLITE_INTEGER) {
        r = kiln_cache_drop(s, sqlite3_column_int64(st, 0), err);
        got->records += r >= 0;
    } else {
        r = kiln_content_drop(s, (const char *)sqlite3_column_text(st, 0), err);
        got->blobs += r >= 0;
        got->freed_bytes += r >= 0 ? (uint64_t)sqlite3_column_int64(st, 1) : 0;
    }
    return r;
}

/*
 * One step in one transaction: drops the dead snapshots; when there were
 * none, evicts one record or loose blob. Returns 1 when something went, 0
 * when nothing was left to go.
 */
static int step(struct kiln_store *s, struct kiln_prune_report *report, struct kiln_error **err)
{
    struct kiln_prune_report got = {0};
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = sweep(s, &got, err);
    if (r >= 0 && got.snapshots == 0)
        r = evict(s, &got, err);
    kiln_store_failpoint("gc-before-commit");
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    kiln_store_empty_trash(s);
    if (r < 0)
        return r;
    report->records += got.records;
    report->snapshots += got.snapshots;
    report->blobs += got.blobs;
    report->freed_bytes += got.freed_bytes;
    return got.records + got.snapshots + got.blobs > 0;
}

int kiln_store_prune(struct kiln_store *s, const struct kiln_prune_opts *opts,
                     struct kiln_prune_report *ret_report, struct kiln_error **err)
{
    struct kiln_prune_report report = {0};
    int r = kiln_lease_expire_dead(s, err);
    while (r >= 0) {
        int64_t total = 0;
        if (!opts->all && (r = kiln_db_int(s->db, sql_total, KILN_DB_NO_ARGS, &total, err)) < 0)
            break;
        if (!opts->all && (uint64_t)total <= opts->keep_bytes)
            break;
        r = step(s, &report, err);
        if (r == 0)
            break;
    }
    if (r < 0)
        return kiln_error_wrap(err, r, "prune");
    if (ret_report)
        *ret_report = report;
    return 0;
}

/* What the active snapshots take on disk now. */
static int measure_active(struct kiln_store *s, uint64_t *ret_bytes, struct kiln_error **err)
{
    struct dead active = {.names = KILN_STRV_INIT};
    uint64_t total = 0;
    int r = kiln_db_each(s->db, sql_active, KILN_DB_NO_ARGS, collect_dead, &active, err);
    for (size_t i = 0; r >= 0 && i < active.names.n; i++) {
        uint64_t bytes = 0;
        r = kiln_tree_usage(s->snapshots_fd, active.names.v[i], &bytes, NULL);
        if (r == -ENOENT) /* committed or removed meanwhile */
            r = 0;
        if (r < 0)
            r = kiln_error_set_errno(err, r, "measure snapshot '%s'", active.names.v[i]);
        total += bytes;
    }
    kiln_strv_release(&active.names);
    if (r >= 0)
        *ret_bytes = total;
    return r;
}

int kiln_store_du(struct kiln_store *s, struct kiln_store_usage *ret_usage, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    uint64_t active = 0;
    int r = kiln_lease_expire_dead(s, err);
    if (r >= 0)
        r = kiln_db_prepare(s->db, sql_usage, KILN_DB_NO_ARGS, &st, err);
    if (r >= 0)
        r = kiln_db_step(st, err);
    if (r >= 0)
        r = measure_active(s, &active, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "disk usage");
    struct kiln_store_usage u = {
            .records = (uint64_t)sqlite3_column_int64(st, 0),
            .records_bytes = (uint64_t)sqlite3_column_int64(st, 1),
            .snapshots = (uint64_t)sqlite3_column_int64(st, 2),
            .snapshots_bytes = (uint64_t)sqlite3_column_int64(st, 3) + active,
            .blobs = (uint64_t)sqlite3_column_int64(st, 4),
            .blobs_bytes = (uint64_t)sqlite3_column_int64(st, 5),
            .reclaimable_bytes = (uint64_t)sqlite3_column_int64(st, 6),
    };
    u.total_bytes = u.snapshots_bytes + u.blobs_bytes;
    *ret_usage = u;
    return 0;
}

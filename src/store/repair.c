/* SPDX-License-Identifier: Apache-2.0 */
/*
 * repair.c - bringing the store back to its invariants after a crash.
 *
 * Runs at open when no other handle has the directory open, so nothing is
 * in flight: every lease is dead, every temp file and active snapshot is
 * abandoned. The order is rows first (one transaction), files second: a
 * crash during repair leaves files without rows, which the next repair
 * removes. What it restores is docs/internals/store.md's list:
 *
 *   - no temp file in content/ingest, nothing in trash or locks, no lease;
 *   - no active snapshot;
 *   - every blob row has its file, of its size; every committed snapshot row
 *     its fs/ directory; a row whose file is missing goes, and with it the
 *     cache records (and pins) that needed it and the snapshots built on it;
 *   - every file in content/blobs/sha256 and directory in snapshots has a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/strv.h"
#include "content.h"
#include "internal.h"
#include "snapshot.h"

#include "base/banned.h"

static const char sql_blobs[] = "SELECT digest, size FROM blobs";
static const char sql_snapshots[] = "SELECT id, state FROM snapshots";
static const char sql_blob_exists[] = "SELECT count(*) FROM blobs WHERE digest = ?1";
static const char sql_snapshot_exists[] = "SELECT count(*) FROM snapshots WHERE id = ?1";

/* Everything that needs blob ?1: its pins, the records holding it (and their pins), its row. */
static const char *const sql_drop_blob[] = {
        "DELETE FROM pins WHERE blob = ?1"
        " OR record IN (SELECT record FROM record_blobs WHERE digest = ?1)",
        "DELETE FROM cache_records WHERE id IN (SELECT record FROM record_blobs WHERE digest = ?1)",
        "DELETE FROM blobs WHERE digest = ?1",
};

/* Everything that needs snapshot ?1: its descendants, their records and those records' pins. */
#define SUBTREE                            \
    "WITH RECURSIVE sub(id) AS (SELECT ?1" \
    " UNION SELECT s.id FROM snapshots s JOIN sub ON s.parent = sub.id) "
static const char *const sql_drop_snapshot[] = {
        SUBTREE "DELETE FROM pins WHERE record IN"
                " (SELECT id FROM cache_records WHERE snapshot IN sub)",
        SUBTREE "DELETE FROM cache_records WHERE snapshot IN sub",
        SUBTREE "DELETE FROM snapshots WHERE id IN sub",
};

struct doomed {
    struct kiln_store *s;
    struct kiln_strv names;
};

static int check_blob(sqlite3_stmt *row, void *userdata)
{
    struct doomed *d = userdata;
    const char *digest = (const char *)sqlite3_column_text(row, 0);
    struct stat st;
    if (strncmp(digest, "sha256:", 7) != 0 ||
        fstatat(d->s->blobs_fd, digest + 7, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size != sqlite3_column_int64(row, 1))
        kiln_strv_push(&d->names, digest);
    return 0;
}

static int check_snapshot(sqlite3_stmt *row, void *userdata)
{
    struct doomed *d = userdata;
    const char *id = (const char *)sqlite3_column_text(row, 0);
    char fs[64];
    (void)snprintf(fs, sizeof(fs), "%s/fs", id);
    struct stat st;
    if (strcmp((const char *)sqlite3_column_text(row, 1), "active") == 0 ||
        fstatat(d->s->snapshots_fd, fs, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
        kiln_strv_push(&d->names, id);
    return 0;
}

/* Collects with `check` over the rows of `sql`, then runs `drop` for each name collected. */
static int drop_doomed(struct kiln_store *s, const char *sql,
                       int (*check)(sqlite3_stmt *row, void *userdata), const char *const drop[3],
                       struct kiln_error **err)
{
    struct doomed d = {.s = s, .names = KILN_STRV_INIT};
    int r = kiln_db_each(s->db, sql, KILN_DB_NO_ARGS, check, &d, err);
    for (size_t i = 0; r >= 0 && i < d.names.n; i++)
        for (size_t j = 0; r >= 0 && j < 3; j++)
            r = kiln_db_run(s->db, drop[j], KILN_DB_ARGS(KILN_DB_TEXT(d.names.v[i])), err);
    kiln_strv_release(&d.names);
    return r;
}

static int repair_rows(struct kiln_store *s, struct kiln_error **err)
{
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = kiln_db_begin(s->db, &txn, err);
    /* A subtree goes in one statement; its parent links are checked at commit. */
    if (r >= 0)
        r = kiln_db_exec(s->db, "PRAGMA defer_foreign_keys = ON; DELETE FROM leases", err);
    if (r >= 0)
        r = drop_doomed(s, sql_snapshots, check_snapshot, sql_drop_snapshot, err);
    if (r >= 0)
        r = drop_doomed(s, sql_blobs, check_blob, sql_drop_blob, err);
    kiln_store_failpoint("repair-before-commit");
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    return r;
}

struct orphans {
    struct kiln_store *s;
    struct kiln_error **err;
};

/* 1 when `name` in the blobs directory is not the file of a recorded blob. */
static int blob_orphan(const char *name, void *userdata)
{
    struct orphans *o = userdata;
    char digest[KILN_OCI_DIGEST_MAX + 8];
    const char *hex;
    (void)snprintf(digest, sizeof(digest), "sha256:%s", name);
    if (kiln_content_hex(digest, &hex, NULL) < 0)
        return 1;
    int64_t n = 0;
    int r = kiln_db_int(o->s->db, sql_blob_exists, KILN_DB_ARGS(KILN_DB_TEXT(digest)), &n, o->err);
    return r < 0 ? r : n == 0;
}

/* 1 when `name` in the snapshots directory is not the directory of a recorded snapshot. */
static int snapshot_orphan(const char *name, void *userdata)
{
    struct orphans *o = userdata;
    if (kiln_snapshot_check_id(name, NULL) < 0)
        return 1;
    int64_t n = 0;
    int r = kiln_db_int(o->s->db, sql_snapshot_exists, KILN_DB_ARGS(KILN_DB_TEXT(name)), &n,
                        o->err);
    return r < 0 ? r : n == 0;
}

int kiln_store_repair(struct kiln_store *s, struct kiln_error **err)
{
    const struct {
        int fd;
        const char *what;
    } scratch[] = {
            {s->ingest_fd, "content/ingest"},
            {s->trash_fd, "trash"},
            {s->locks_fd, "locks"},
    };
    struct orphans o = {.s = s, .err = err};
    int r = 0;
    for (size_t i = 0; r >= 0 && i < ELEMENTSOF(scratch); i++)
        if ((r = kiln_tree_remove_if(scratch[i].fd, NULL, NULL, err)) < 0)
            r = kiln_error_wrap(err, r, "empty '%s'", scratch[i].what);
    if (r >= 0)
        r = repair_rows(s, err);
    if (r >= 0 && (r = kiln_tree_remove_if(s->blobs_fd, blob_orphan, &o, err)) < 0)
        r = kiln_error_wrap(err, r, "content/blobs/sha256");
    if (r >= 0 && (r = kiln_tree_remove_if(s->snapshots_fd, snapshot_orphan, &o, err)) < 0)
        r = kiln_error_wrap(err, r, "snapshots");
    return r < 0 ? kiln_error_wrap(err, r, "repair") : 0;
}

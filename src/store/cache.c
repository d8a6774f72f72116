/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache.c - cache records (the cache_records and record_blobs tables) and
 * single flight per (builder, cache key).
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "content.h"
#include "internal.h"
#include "oci/digest.h"
#include "snapshot.h"

#include "base/banned.h"

static const char sql_lookup[] =
        "UPDATE cache_records SET last_used = ?3 WHERE builder = ?1 AND cache_key = ?2"
        " RETURNING id, snapshot, diff_id, disk_bytes, created, last_used";
static const char sql_blobs[] = "SELECT compression, digest FROM record_blobs WHERE record = ?1"
                                " ORDER BY compression";
static const char sql_insert[] =
        "INSERT INTO cache_records"
        " (builder, cache_key, snapshot, diff_id, disk_bytes, created, last_used)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
        " ON CONFLICT (builder, cache_key) DO NOTHING RETURNING id";
static const char sql_existing[] =
        "SELECT id FROM cache_records WHERE builder = ?1 AND cache_key = ?2";
static const char sql_insert_blob[] =
        "INSERT INTO record_blobs (record, compression, digest) VALUES (?1, ?2, ?3)";
static const char sql_delete[] = "DELETE FROM cache_records WHERE id = ?1";
static const char sql_add_blob_bytes[] =
        "UPDATE cache_records SET disk_bytes = disk_bytes + (SELECT coalesce(sum(b.disk_bytes), 0)"
        "  FROM record_blobs rb JOIN blobs b ON b.digest = rb.digest WHERE rb.record = ?1)"
        " WHERE id = ?1";

void kiln_cache_record_free(struct kiln_cache_record *r)
{
    if (!r)
        return;
    free(r->snapshot);
    free(r->diff_id);
    kiln_strv_release(&r->compressions);
    kiln_strv_release(&r->digests);
    free(r);
}

static char *column_strdup(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? kiln_xstrdup(s) : NULL;
}

static int add_blob(sqlite3_stmt *row, void *userdata)
{
    struct kiln_cache_record *rec = userdata;
    kiln_strv_push(&rec->compressions, (const char *)sqlite3_column_text(row, 0));
    kiln_strv_push(&rec->digests, (const char *)sqlite3_column_text(row, 1));
    return 0;
}

/* Marks (builder, key) used and reads it: 1 and *ret_record, or 0 when absent. */
static int touch_and_read(struct kiln_store *s, const char *builder, const char *key,
                          struct kiln_cache_record **ret_record, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_db_prepare(
            s->db, sql_lookup,
            KILN_DB_ARGS(KILN_DB_TEXT(builder), KILN_DB_TEXT(key), KILN_DB_INT(kiln_store_now())),
            &st, err);
    if (r >= 0)
        r = kiln_db_step(st, err);
    if (r <= 0)
        return r;
    _cleanup_(kiln_cache_record_freep) struct kiln_cache_record *rec =
            kiln_xcalloc(1, sizeof(*rec));
    *rec = (struct kiln_cache_record){
            .id = sqlite3_column_int64(st, 0),
            .snapshot = column_strdup(st, 1),
            .diff_id = column_strdup(st, 2),
            .compressions = KILN_STRV_INIT,
            .digests = KILN_STRV_INIT,
            .bytes = (uint64_t)sqlite3_column_int64(st, 3),
            .created = sqlite3_column_int64(st, 4),
            .last_used = sqlite3_column_int64(st, 5),
    };
    r = kiln_db_each(s->db, sql_blobs, KILN_DB_ARGS(KILN_DB_INT(rec->id)), add_blob, rec, err);
    if (r < 0)
        return r;
    *ret_record = TAKE_PTR(rec);
    return 1;
}

static int check_names(const char *builder, const char *key, struct kiln_error **err)
{
    int r = kiln_store_check_name(builder, "builder name", err);
    return r < 0 ? r : kiln_store_check_name(key, "cache key", err);
}

int kiln_cache_lookup(struct kiln_store *s, const char *builder, const char *key,
                      struct kiln_cache_record **ret_record, struct kiln_error **err)
{
    struct kiln_cache_record *rec = NULL;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = check_names(builder, key, err);
    if (r >= 0)
        r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = touch_and_read(s, builder, key, &rec, err);
    if (r >= 0) {
        int c = kiln_db_commit(&txn, err);
        if (c < 0) {
            kiln_cache_record_free(rec);
            r = c;
        }
    }
    if (r < 0)
        return kiln_error_wrap(err, r, "look up cache key '%s'", key);
    if (r > 0)
        *ret_record = rec;
    return r;
}

/* "flight-<sha256 of builder NUL key>": the lock file and lease of the key. */
static int flight_name(const char *builder, const char *key, char ret[80], struct kiln_error **err)
{
    struct kiln_oci_digester d;
    char dgst[KILN_OCI_DIGEST_MAX];
    int r = kiln_oci_digester_init(&d, KILN_OCI_SHA256, err);
    if (r >= 0)
        r = kiln_oci_digester_update(&d, builder, strlen(builder) + 1, err);
    if (r >= 0)
        r = kiln_oci_digester_update(&d, key, strlen(key), err);
    if (r >= 0)
        r = kiln_oci_digester_final(&d, dgst, err);
    kiln_oci_digester_release(&d);
    if (r >= 0)
        (void)snprintf(ret, 80, "flight-%.64s", dgst + strlen("sha256:"));
    return r;
}

int kiln_cache_begin(struct kiln_store *s, const char *builder, const char *key,
                     struct kiln_cache_record **ret_hit, struct kiln_lease **ret_flight,
                     struct kiln_error **err)
{
    char name[80];
    int r = kiln_cache_lookup(s, builder, key, ret_hit, err);
    if (r != 0)
        return r;
    r = flight_name(builder, key, name, err);
    _cleanup_(kiln_lease_freep) struct kiln_lease *flight = NULL;
    if (r >= 0)
        r = kiln_lease_acquire(s, name, &flight, err);
    /* Whoever held the lock may have computed the key meanwhile. */
    if (r >= 0)
        r = kiln_cache_lookup(s, builder, key, ret_hit, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "cache key '%s'", key);
    if (r == 0)
        *ret_flight = TAKE_PTR(flight);
    return r;
}

static int check_entry(const struct kiln_cache_entry *e, struct kiln_error **err)
{
    int r = check_names(e->builder, e->key, err);
    if (r >= 0 && e->diff_id)
        r = kiln_store_check_name(e->diff_id, "diff id", err);
    for (size_t i = 0; r >= 0 && i < e->n_blobs; i++)
        r = kiln_store_check_name(e->compressions[i], "compression", err);
    if (r >= 0 && !e->snapshot && e->n_blobs == 0)
        r = kiln_error_set(err, KILN_E_INVALID, "holds neither a snapshot nor blobs");
    return r;
}

/* The record's data is there: a committed snapshot, stored blobs. Returns the snapshot's bytes. */
static int check_data(struct kiln_store *s, const struct kiln_cache_entry *e, uint64_t *ret_bytes,
                      struct kiln_error **err)
{
    struct kiln_snapshot_info info = {0};
    if (e->snapshot) {
        int r = kiln_snapshot_stat(s, e->snapshot, &info, err);
        if (r < 0)
            return r;
        if (!info.committed)
            return kiln_error_set(err, KILN_E_CONFLICT, "snapshot '%s' is not committed",
                                  e->snapshot);
    }
    for (size_t i = 0; i < e->n_blobs; i++) {
        int r = kiln_content_exists(s, e->digests[i], err);
        if (r == 0)
            r = kiln_error_set(err, KILN_E_NOTFOUND, "blob '%s' not found", e->digests[i]);
        if (r < 0)
            return r;
    }
    *ret_bytes = info.disk_bytes;
    return 0;
}

/* Inserts the record and its blobs: 1 and the id, or 0 and the id of the one already there. */
static int insert_rows(struct kiln_store *s, const struct kiln_cache_entry *e, uint64_t bytes,
                       int64_t *ret_id, struct kiln_error **err)
{
    const struct kiln_db_arg key[] = {KILN_DB_TEXT(e->builder), KILN_DB_TEXT(e->key)};
    int r = kiln_db_int(s->db, sql_insert,
                        KILN_DB_ARGS(key[0], key[1], KILN_DB_TEXT(e->snapshot),
                                     KILN_DB_TEXT(e->diff_id), KILN_DB_INT((int64_t)bytes),
                                     KILN_DB_INT(kiln_store_now())),
                        ret_id, err);
    if (r == 0) {
        r = kiln_db_int(s->db, sql_existing, key, ELEMENTSOF(key), ret_id, err);
        return r < 0 ? r : 0;
    }
    for (size_t i = 0; r >= 0 && i < e->n_blobs; i++)
        r = kiln_db_run(s->db, sql_insert_blob,
                        KILN_DB_ARGS(KILN_DB_INT(*ret_id), KILN_DB_TEXT(e->compressions[i]),
                                     KILN_DB_TEXT(e->digests[i])),
                        err);
    if (r >= 0)
        r = kiln_db_run(s->db, sql_add_blob_bytes, KILN_DB_ARGS(KILN_DB_INT(*ret_id)), err);
    return r < 0 ? r : 1;
}

int kiln_cache_insert(struct kiln_store *s, const struct kiln_cache_entry *entry, int64_t *ret_id,
                      struct kiln_error **err)
{
    uint64_t bytes = 0;
    int64_t id = 0;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    int r = check_entry(entry, err);
    if (r >= 0)
        r = kiln_db_begin(s->db, &txn, err);
    if (r >= 0)
        r = check_data(s, entry, &bytes, err);
    int inserted = r >= 0 ? insert_rows(s, entry, bytes, &id, err) : r;
    kiln_store_failpoint("cache-before-commit");
    r = inserted;
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "insert cache record '%s'", entry->key);
    *ret_id = id;
    return inserted;
}

int kiln_cache_drop(struct kiln_store *s, int64_t id, struct kiln_error **err)
{
    int r = kiln_db_run(s->db, sql_delete, KILN_DB_ARGS(KILN_DB_INT(id)), err);
    if (r == 0)
        r = kiln_error_set(err, KILN_E_NOTFOUND, "cache record %lld not found", (long long)id);
    return r < 0 ? kiln_error_wrap(err, r, "delete cache record %lld", (long long)id) : 0;
}

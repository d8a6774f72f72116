/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build-record.c - the builds table (docs/internals/server.md).
 */
#include "build-record.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "db.h"

#include "base/banned.h"

#define COLUMNS                                                                      \
    "id, builder, principal, token_id, state, created_ns, started_ns, finished_ns, " \
    "steps_total, steps_cached, image_digest, error, summary"

void kilnd_build_record_release(struct kilnd_build_record *rec)
{
    free(rec->builder);
    free(rec->principal);
    free(rec->token_id);
    free(rec->state);
    free(rec->image_digest);
    free(rec->error);
    json_decref(rec->summary);
    memset(rec, 0, sizeof(*rec));
}

static int db_error(sqlite3 *h, int rc, const char *what, struct kiln_error **err)
{
    return kiln_error_set(err, rc == SQLITE_BUSY ? KILN_E_CONFLICT : -EIO, "build records: %s: %s",
                          what, sqlite3_errmsg(h));
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

/* Binds every column of rec; a statement that does not use one ignores it. */
static int exec_record(struct kilnd_db *db, const char *sql, const struct kilnd_build_record *rec,
                       struct kiln_error **err)
{
    sqlite3 *h = kilnd_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(h, rc, "prepare", err);
    char *summary = rec->summary ? json_dumps(rec->summary, JSON_COMPACT) : NULL;
    bind_text(st, 1, rec->id);
    bind_text(st, 2, rec->builder);
    bind_text(st, 3, rec->principal);
    bind_text(st, 4, rec->token_id);
    bind_text(st, 5, rec->state);
    sqlite3_bind_int64(st, 6, rec->created_ns);
    sqlite3_bind_int64(st, 7, rec->started_ns);
    sqlite3_bind_int64(st, 8, rec->finished_ns);
    sqlite3_bind_int64(st, 9, rec->steps_total);
    sqlite3_bind_int64(st, 10, rec->steps_cached);
    bind_text(st, 11, rec->image_digest);
    bind_text(st, 12, rec->error);
    bind_text(st, 13, summary ? summary : "{}");
    rc = sqlite3_step(st);
    free(summary);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(h, rc, "write", err);
}

int kilnd_build_record_insert(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err)
{
    return exec_record(db,
                       "INSERT INTO builds (" COLUMNS
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                       rec, err);
}

int kilnd_build_record_update(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err)
{
    return exec_record(db,
                       "UPDATE builds SET state = ?5, started_ns = ?7, finished_ns = ?8, "
                       "steps_total = ?9, steps_cached = ?10, image_digest = ?11, error = ?12 "
                       "WHERE id = ?1",
                       rec, err);
}

static char *column(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return kiln_xstrdup(s ? (const char *)s : "");
}

static void read_row(sqlite3_stmt *st, struct kilnd_build_record *rec)
{
    snprintf(rec->id, sizeof(rec->id), "%s", (const char *)sqlite3_column_text(st, 0));
    rec->builder = column(st, 1);
    rec->principal = column(st, 2);
    rec->token_id = column(st, 3);
    rec->state = column(st, 4);
    rec->created_ns = sqlite3_column_int64(st, 5);
    rec->started_ns = sqlite3_column_int64(st, 6);
    rec->finished_ns = sqlite3_column_int64(st, 7);
    rec->steps_total = sqlite3_column_int64(st, 8);
    rec->steps_cached = sqlite3_column_int64(st, 9);
    rec->image_digest = column(st, 10);
    rec->error = column(st, 11);
    const char *summary = (const char *)sqlite3_column_text(st, 12);
    rec->summary = summary ? json_loads(summary, 0, NULL) : NULL;
}

int kilnd_build_record_get(struct kilnd_db *db, const char *id, struct kilnd_build_record *ret,
                           struct kiln_error **err)
{
    sqlite3 *h = kilnd_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, "SELECT " COLUMNS " FROM builds WHERE id = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(h, rc, "prepare", err);
    bind_text(st, 1, id);
    rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW)
        read_row(st, ret);
    else if (rc == SQLITE_DONE)
        r = kiln_error_set(err, KILN_E_NOTFOUND, "no build '%s'", id);
    else
        r = db_error(h, rc, "read", err);
    sqlite3_finalize(st);
    return r;
}

int kilnd_build_record_list(struct kilnd_db *db, const char *builder, unsigned limit, json_t **ret,
                            struct kiln_error **err)
{
    sqlite3 *h = kilnd_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h,
                                "SELECT " COLUMNS " FROM builds WHERE builder = ?1 "
                                "ORDER BY created_ns DESC LIMIT ?2",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(h, rc, "prepare", err);
    bind_text(st, 1, builder);
    sqlite3_bind_int(st, 2, (int)(limit < KILND_HISTORY_MAX ? limit : KILND_HISTORY_MAX));
    json_t *a = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct kilnd_build_record rec = {0};
        read_row(st, &rec);
        json_array_append_new(a, kilnd_build_record_json(&rec));
        kilnd_build_record_release(&rec);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        return db_error(h, rc, "list", err);
    }
    *ret = a;
    return 0;
}

int kilnd_build_record_fail_unfinished(struct kilnd_db *db, const char *reason,
                                       struct kiln_strv *ret_ids, struct kiln_error **err)
{
    sqlite3 *h = kilnd_db_sqlite(db);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
            h,
            "UPDATE builds SET state = 'failed', error = ?1, finished_ns = ?2 WHERE state IN "
            "('uploading', 'queued', 'running') RETURNING id",
            -1, &st, NULL);
    if (rc != SQLITE_OK)
        return db_error(h, rc, "prepare", err);
    bind_text(st, 1, reason);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    sqlite3_bind_int64(st, 2, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        kiln_strv_push(ret_ids, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(h, rc, "recover", err);
}

json_t *kilnd_build_record_json(const struct kilnd_build_record *rec)
{
    int64_t end = rec->finished_ns ? rec->finished_ns : 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:O?}", "id",
                     rec->id, "builder", rec->builder, "principal", rec->principal, "state",
                     rec->state, "created_ns", (json_int_t)rec->created_ns, "started_ns",
                     (json_int_t)rec->started_ns, "finished_ns", (json_int_t)end, "duration_ms",
                     (json_int_t)(end && rec->started_ns ? (end - rec->started_ns) / 1000000 : 0),
                     "steps_total", (json_int_t)rec->steps_total, "steps_cached",
                     (json_int_t)rec->steps_cached, "image_digest", rec->image_digest, "error",
                     rec->error, "summary", rec->summary);
}

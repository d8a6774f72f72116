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

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int kilnd_build_record_insert(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err)
{
    _cleanup_free_ char *summary = rec->summary ? json_dumps(rec->summary, JSON_COMPACT) : NULL;
    int r = kilnd_db_run(db,
                         "INSERT INTO builds (" COLUMNS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                         "tttttiiiiittt", err, rec->id, or_empty(rec->builder),
                         or_empty(rec->principal), or_empty(rec->token_id), or_empty(rec->state),
                         rec->created_ns, rec->started_ns, rec->finished_ns, rec->steps_total,
                         rec->steps_cached, or_empty(rec->image_digest), or_empty(rec->error),
                         summary ? summary : "{}");
    return r < 0 ? kiln_error_wrap(err, r, "build record %s", rec->id) : 0;
}

int kilnd_build_record_update(struct kilnd_db *db, const struct kilnd_build_record *rec,
                              struct kiln_error **err)
{
    int r = kilnd_db_run(db,
                         "UPDATE builds SET state = ?2, started_ns = ?3, finished_ns = ?4, "
                         "steps_total = ?5, steps_cached = ?6, image_digest = ?7, error = ?8 "
                         "WHERE id = ?1",
                         "ttiiiitt", err, rec->id, or_empty(rec->state), rec->started_ns,
                         rec->finished_ns, rec->steps_total, rec->steps_cached,
                         or_empty(rec->image_digest), or_empty(rec->error));
    return r < 0 ? kiln_error_wrap(err, r, "build record %s", rec->id) : 0;
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
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db, "SELECT " COLUMNS " FROM builds WHERE id = ?1", "t", &st, err, id);
    if (r >= 0)
        r = kilnd_db_step(st, err);
    if (r > 0)
        read_row(st, ret);
    else if (r == 0)
        r = kiln_error_set(err, KILN_E_NOTFOUND, "no build '%s'", id);
    return r < 0 ? r : 0;
}

int kilnd_build_record_list(struct kilnd_db *db, const char *builder, unsigned limit, json_t **ret,
                            struct kiln_error **err)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db,
                             "SELECT " COLUMNS " FROM builds WHERE builder = ?1 "
                             "ORDER BY created_ns DESC LIMIT ?2",
                             "ti", &st, err, builder,
                             (int64_t)(limit < KILND_HISTORY_MAX ? limit : KILND_HISTORY_MAX));
    json_t *a = json_array();
    while (r >= 0 && (r = kilnd_db_step(st, err)) > 0) {
        struct kilnd_build_record rec = {0};
        read_row(st, &rec);
        json_array_append_new(a, kilnd_build_record_json(&rec));
        kilnd_build_record_release(&rec);
    }
    if (r < 0) {
        json_decref(a);
        return r;
    }
    *ret = a;
    return 0;
}

int kilnd_build_record_fail_unfinished(struct kilnd_db *db, const char *reason,
                                       struct kiln_strv *ret_ids, struct kiln_error **err)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kilnd_db_prepare(db,
                             "UPDATE builds SET state = 'failed', error = ?1, finished_ns = ?2 "
                             "WHERE state IN ('uploading', 'queued', 'running') RETURNING id",
                             "ti", &st, err, reason,
                             (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    while (r >= 0 && (r = kilnd_db_step(st, err)) > 0)
        kiln_strv_push(ret_ids, (const char *)sqlite3_column_text(st, 0));
    return r < 0 ? r : 0;
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

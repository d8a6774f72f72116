/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c - the store's SQLite connection: open with its pragmas, typed argument
 * binding, stepping with errors mapped to kiln codes, write transactions.
 */
#include <errno.h>
#include <sqlite3.h>

#include "internal.h"

#include "base/banned.h"

int kiln_db_fail(sqlite3 *db, int rc, struct kiln_error **err)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: code = KILN_E_CONFLICT; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = -EBUSY; break;
    case SQLITE_NOMEM: code = -ENOMEM; break;
    case SQLITE_FULL: code = -ENOSPC; break;
    case SQLITE_READONLY: code = -EROFS; break;
    case SQLITE_PERM: code = -EACCES; break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: code = KILN_E_INVALID; break;
    default: code = -EIO; break;
    }
    return kiln_error_set(err, code, "sqlite: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int kiln_db_open(const char *path, sqlite3 **ret_db, struct kiln_error **err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                                     SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc != SQLITE_OK) {
        int r = kiln_db_fail(db, rc, err);
        sqlite3_close_v2(db);
        return kiln_error_wrap(err, r, "open database '%s'", path);
    }
    sqlite3_busy_timeout(db, KILN_STORE_BUSY_TIMEOUT_MS);
    /* FULL: a committed transaction survives a power cut, so a record never outlives its
     * data's row on the way back (the data is fsynced before the record is written). */
    int r = kiln_db_exec(db,
                         "PRAGMA journal_mode = WAL;"
                         "PRAGMA synchronous = FULL;"
                         "PRAGMA foreign_keys = ON;",
                         err);
    if (r < 0) {
        sqlite3_close_v2(db);
        return kiln_error_wrap(err, r, "open database '%s'", path);
    }
    *ret_db = db;
    return 0;
}

static int bind_args(sqlite3_stmt *st, const struct kiln_db_arg *args, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (args[i].type == 'i')
            rc = sqlite3_bind_int64(st, (int)i + 1, args[i].i);
        else if (args[i].text)
            rc = sqlite3_bind_text(st, (int)i + 1, args[i].text, -1, SQLITE_TRANSIENT);
        else
            rc = sqlite3_bind_null(st, (int)i + 1);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

int kiln_db_prepare(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                    sqlite3_stmt **ret_stmt, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = bind_args(st, args, n);
    if (rc != SQLITE_OK)
        return kiln_db_fail(db, rc, err);
    *ret_stmt = TAKE_PTR(st);
    return 0;
}

int kiln_db_step(sqlite3_stmt *st, struct kiln_error **err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return kiln_db_fail(sqlite3_db_handle(st), rc, err);
}

int kiln_db_run(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_db_prepare(db, sql, args, n, &st, err);
    while (r >= 0 && (r = kiln_db_step(st, err)) > 0)
        ;
    return r < 0 ? r : sqlite3_changes(db);
}

int kiln_db_int(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                int64_t *ret_value, struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_db_prepare(db, sql, args, n, &st, err);
    if (r >= 0)
        r = kiln_db_step(st, err);
    if (r > 0)
        *ret_value = sqlite3_column_int64(st, 0);
    return r;
}

int kiln_db_exec(sqlite3 *db, const char *sql, struct kiln_error **err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : kiln_db_fail(db, rc, err);
}

int kiln_db_each(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                 int (*fn)(sqlite3_stmt *row, void *userdata), void *userdata,
                 struct kiln_error **err)
{
    _cleanup_(kiln_db_finalizep) sqlite3_stmt *st = NULL;
    int r = kiln_db_prepare(db, sql, args, n, &st, err);
    while (r >= 0 && (r = kiln_db_step(st, err)) > 0) {
        r = fn(st, userdata);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return r;
}

int kiln_db_begin(sqlite3 *db, struct kiln_db_txn *ret_txn, struct kiln_error **err)
{
    int r = kiln_db_exec(db, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return kiln_error_wrap(err, r, "begin transaction");
    *ret_txn = (struct kiln_db_txn){.db = db, .open = true};
    return 0;
}

int kiln_db_commit(struct kiln_db_txn *t, struct kiln_error **err)
{
    int r = kiln_db_exec(t->db, "COMMIT", err);
    if (r < 0)
        return kiln_error_wrap(err, r, "commit transaction");
    t->open = false;
    return 0;
}

void kiln_db_txn_end(struct kiln_db_txn *t)
{
    if (t->open)
        (void)sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    t->open = false;
}

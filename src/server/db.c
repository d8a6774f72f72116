/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.c - kilnd.db: opening it (mode 0600, WAL, busy timeout, foreign keys),
 * binding parameters, stepping with SQLite's codes mapped to kiln's.
 */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>

#include "base/alloc.h"

#include "base/banned.h"

struct kilnd_db {
    sqlite3 *h;
};

int kilnd_db_fail(sqlite3 *h, int rc, struct kiln_error **err)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT: code = KILN_E_CONFLICT; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = -EBUSY; break;
    case SQLITE_FULL: code = -ENOSPC; break;
    case SQLITE_READONLY:
    case SQLITE_PERM: code = -EACCES; break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: code = KILN_E_INVALID; break;
    default: code = -EIO; break;
    }
    return kiln_error_set(err, code, "kilnd.db: %s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
}

/* Creates the file 0600 before SQLite does: its -wal and -shm files take the same mode. */
static int create_private(const char *path, struct kiln_error **err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "create '%s'", path);
    close(fd);
    return 0;
}

static int configure(sqlite3 *h, struct kiln_error **err)
{
    sqlite3_busy_timeout(h, KILND_DB_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(h, 1);
    int rc = sqlite3_exec(h,
                          "PRAGMA journal_mode = WAL;"
                          "PRAGMA synchronous = NORMAL;"
                          "PRAGMA foreign_keys = ON;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return kilnd_db_fail(h, rc, err);
    return kilnd_schema_migrate(h, err);
}

int kilnd_db_open(const char *data_dir, struct kilnd_db **ret, struct kiln_error **err)
{
    _cleanup_free_ char *path = kiln_xasprintf("%s/%s", data_dir, KILND_DB_FILE);
    int r = create_private(path, err);
    if (r < 0)
        return r;
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(
            path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
    r = rc == SQLITE_OK ? configure(h, err) : kilnd_db_fail(h, rc, err);
    if (r < 0) {
        sqlite3_close_v2(h);
        return kiln_error_wrap(err, r, "open '%s'", path);
    }
    struct kilnd_db *db = kiln_xcalloc(1, sizeof(*db));
    db->h = h;
    *ret = db;
    return 0;
}

void kilnd_db_close(struct kilnd_db *db)
{
    if (!db)
        return;
    sqlite3_close_v2(db->h);
    free(db);
}

sqlite3 *kilnd_db_sqlite(struct kilnd_db *db)
{
    return db->h;
}

void kilnd_db_lock(struct kilnd_db *db)
{
    sqlite3_mutex_enter(sqlite3_db_mutex(db->h));
}

void kilnd_db_unlock(struct kilnd_db *db)
{
    sqlite3_mutex_leave(sqlite3_db_mutex(db->h));
}

static int bind(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 0; types[i]; i++) {
        int rc;
        if (types[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        }
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int prepare_v(struct kilnd_db *db, const char *sql, const char *types,
                     sqlite3_stmt **ret_stmt, struct kiln_error **err, va_list ap)
{
    sqlite3_stmt *st = NULL;
    kilnd_db_lock(db);
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = bind(st, types, ap);
    int r = rc == SQLITE_OK ? 0 : kilnd_db_fail(db->h, rc, err);
    kilnd_db_unlock(db);
    if (r < 0) {
        sqlite3_finalize(st);
        return r;
    }
    *ret_stmt = st;
    return 0;
}

int kilnd_db_prepare(struct kilnd_db *db, const char *sql, const char *types,
                     sqlite3_stmt **ret_stmt, struct kiln_error **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int r = prepare_v(db, sql, types, ret_stmt, err, ap);
    va_end(ap);
    return r;
}

int kilnd_db_step(sqlite3_stmt *st, struct kiln_error **err)
{
    sqlite3 *h = sqlite3_db_handle(st);
    sqlite3_mutex_enter(sqlite3_db_mutex(h));
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : kilnd_db_fail(h, rc, err);
    sqlite3_mutex_leave(sqlite3_db_mutex(h));
    return r;
}

int kilnd_db_run(struct kilnd_db *db, const char *sql, const char *types, struct kiln_error **err,
                 ...)
{
    _cleanup_(kilnd_db_finalizep) sqlite3_stmt *st = NULL;
    va_list ap;
    va_start(ap, err);
    int r = prepare_v(db, sql, types, &st, err, ap);
    va_end(ap);
    if (r < 0)
        return r;
    kilnd_db_lock(db);
    while ((r = kilnd_db_step(st, err)) > 0)
        ;
    if (r == 0)
        r = sqlite3_changes(db->h);
    kilnd_db_unlock(db);
    return r;
}

int64_t kilnd_db_now(void)
{
    return (int64_t)time(NULL);
}

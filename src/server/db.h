/* SPDX-License-Identifier: Apache-2.0 */
/*
 * db.h - kilnd.db, the service's SQLite database: accounts, members,
 * builders, tokens, public repositories and build records
 * (docs/internals/server-identity.md).
 *
 * One handle serves every thread: the connection is opened with
 * SQLITE_OPEN_FULLMUTEX, so each SQLite call is atomic. A sequence of calls
 * that must not interleave with another thread's (a transaction, or a
 * statement and its sqlite3_errmsg) runs between kilnd_db_lock() and
 * kilnd_db_unlock(), which take the connection's own recursive mutex.
 */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "base/error.h"

struct kilnd_db;

#define KILND_DB_FILE            "kilnd.db"
#define KILND_DB_BUSY_TIMEOUT_MS 10000 /* a writer waits this long for another process */

/*
 * Opens (creating when missing, mode 0600) DATA_DIR/kilnd.db in WAL mode with
 * foreign keys on, and brings its schema up to date. DATA_DIR must exist.
 * The caller closes the handle with kilnd_db_close().
 */
int kilnd_db_open(const char *data_dir, struct kilnd_db **ret, struct kiln_error **err);
void kilnd_db_close(struct kilnd_db *db);
KILN_DEFINE_CLEANUP(struct kilnd_db, kilnd_db_close)

/* The connection, for modules with tables of their own (build records). */
sqlite3 *kilnd_db_sqlite(struct kilnd_db *db);
void kilnd_db_lock(struct kilnd_db *db);
void kilnd_db_unlock(struct kilnd_db *db);

/*
 * Prepares `sql` and binds its parameters from the variadic arguments, one
 * per character of `types`: 't' a const char * (NULL binds NULL), 'i' an
 * int64_t. The caller finalizes the statement (kilnd_db_finalizep).
 */
int kilnd_db_prepare(struct kilnd_db *db, const char *sql, const char *types,
                     sqlite3_stmt **ret_stmt, struct kiln_error **err, ...);
/* Steps st: 1 for a row, 0 when done, negative (with the message) on failure. */
int kilnd_db_step(sqlite3_stmt *st, struct kiln_error **err);
/*
 * Runs a statement that returns no rows, parameters as kilnd_db_prepare().
 * Returns the number of rows it changed. A constraint failure is
 * KILN_E_CONFLICT; the caller says which.
 */
int kilnd_db_run(struct kilnd_db *db, const char *sql, const char *types, struct kiln_error **err,
                 ...);
/* SQLite's result code rc as a kiln code, with SQLite's message in *err. */
int kilnd_db_fail(sqlite3 *h, int rc, struct kiln_error **err);

static inline void kilnd_db_finalizep(sqlite3_stmt **st)
{
    if (*st)
        sqlite3_finalize(*st);
}

/* Seconds since the epoch (the time columns of kilnd.db). */
int64_t kilnd_db_now(void);

/* schema.c: brings the schema of an open connection to the current version. */
int kilnd_schema_migrate(sqlite3 *h, struct kiln_error **err);

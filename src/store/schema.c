/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.c - the store's tables and their forward migrations.
 *
 * The version is SQLite's user_version. migrations[i] takes a database from
 * version i to i + 1; a database is brought up to date in one transaction,
 * so a crash leaves it at the old version or the new one. Steps are only
 * ever appended: a released step never changes.
 *
 * Times are nanoseconds since the epoch; sizes are bytes allocated on disk
 * (disk_bytes) or content bytes (size).
 */
#include <errno.h>

#include "internal.h"

#include "base/banned.h"

static const char *const migrations[] = {
        /* 1: blobs, snapshots, cache records, pins, leases. A snapshot has one lease at
         * most: the one it was prepared under. */
        "CREATE TABLE leases ("
        "  name TEXT PRIMARY KEY,"
        "  created INTEGER NOT NULL"
        ") STRICT;"

        "CREATE TABLE blobs ("
        "  digest TEXT PRIMARY KEY,"
        "  size INTEGER NOT NULL CHECK (size >= 0),"
        "  disk_bytes INTEGER NOT NULL CHECK (disk_bytes >= 0),"
        "  media_type TEXT,"
        "  created INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL"
        ") STRICT;"
        /* Any number of leases may protect one blob (it is shared by content). */
        "CREATE TABLE lease_blobs ("
        "  lease TEXT NOT NULL REFERENCES leases(name) ON DELETE CASCADE,"
        "  digest TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,"
        "  PRIMARY KEY (lease, digest)"
        ") STRICT;"
        "CREATE INDEX lease_blobs_digest ON lease_blobs(digest);"

        "CREATE TABLE snapshots ("
        "  id TEXT PRIMARY KEY,"
        "  parent TEXT REFERENCES snapshots(id),"
        "  depth INTEGER NOT NULL CHECK (depth >= 0),"
        "  state TEXT NOT NULL CHECK (state IN ('active', 'committed')),"
        "  disk_bytes INTEGER NOT NULL DEFAULT 0 CHECK (disk_bytes >= 0),"
        "  created INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL,"
        "  lease TEXT REFERENCES leases(name) ON DELETE SET NULL"
        ") STRICT;"
        "CREATE INDEX snapshots_parent ON snapshots(parent) WHERE parent IS NOT NULL;"
        "CREATE INDEX snapshots_lease ON snapshots(lease) WHERE lease IS NOT NULL;"

        "CREATE TABLE cache_records ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  builder TEXT NOT NULL,"
        "  cache_key TEXT NOT NULL,"
        "  snapshot TEXT REFERENCES snapshots(id),"
        "  diff_id TEXT,"
        "  disk_bytes INTEGER NOT NULL CHECK (disk_bytes >= 0),"
        "  created INTEGER NOT NULL,"
        "  last_used INTEGER NOT NULL,"
        "  UNIQUE (builder, cache_key)"
        ") STRICT;"
        "CREATE INDEX cache_records_snapshot ON cache_records(snapshot) WHERE snapshot IS NOT NULL;"
        "CREATE INDEX cache_records_lru ON cache_records(last_used, id);"

        "CREATE TABLE record_blobs ("
        "  record INTEGER NOT NULL REFERENCES cache_records(id) ON DELETE CASCADE,"
        "  compression TEXT NOT NULL,"
        "  digest TEXT NOT NULL REFERENCES blobs(digest),"
        "  PRIMARY KEY (record, compression)"
        ") STRICT;"
        "CREATE INDEX record_blobs_digest ON record_blobs(digest);"

        "CREATE TABLE pins ("
        "  name TEXT NOT NULL,"
        "  record INTEGER REFERENCES cache_records(id),"
        "  blob TEXT REFERENCES blobs(digest),"
        "  created INTEGER NOT NULL,"
        "  CHECK ((record IS NULL) <> (blob IS NULL))"
        ") STRICT;"
        "CREATE INDEX pins_name ON pins(name);"
        "CREATE INDEX pins_record ON pins(record) WHERE record IS NOT NULL;"
        "CREATE INDEX pins_blob ON pins(blob) WHERE blob IS NOT NULL;",
};

int kiln_schema_latest(void)
{
    return (int)ELEMENTSOF(migrations);
}

static int version(sqlite3 *db, int64_t *ret, struct kiln_error **err)
{
    return kiln_db_int(db, "PRAGMA user_version", KILN_DB_NO_ARGS, ret, err);
}

int kiln_schema_migrate(sqlite3 *db, struct kiln_error **err)
{
    int64_t v = 0;
    int r = version(db, &v, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "read schema version");
    if (v == kiln_schema_latest())
        return 0;
    _cleanup_(kiln_db_txn_end) struct kiln_db_txn txn = {0};
    r = kiln_db_begin(db, &txn, err);
    /* Read again under the write lock: another process may have migrated meanwhile. */
    if (r >= 0)
        r = version(db, &v, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "migrate schema");
    if (v < 0 || v > kiln_schema_latest())
        return kiln_error_set(err, KILN_E_INVALID,
                              "database has schema version %lld, this kiln knows up to %d; "
                              "use a newer kiln",
                              (long long)v, kiln_schema_latest());
    for (int64_t i = v; i < kiln_schema_latest(); i++) {
        r = kiln_db_exec(db, migrations[i], err);
        if (r < 0)
            return kiln_error_wrap(err, r, "migrate schema to version %lld", (long long)i + 1);
    }
    char set[64];
    (void)snprintf(set, sizeof(set), "PRAGMA user_version = %d", kiln_schema_latest());
    r = kiln_db_exec(db, set, err);
    if (r >= 0)
        r = kiln_db_commit(&txn, err);
    return r < 0 ? kiln_error_wrap(err, r, "migrate schema") : 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * schema.c - kilnd.db's tables and their forward migrations.
 *
 * The version is SQLite's user_version: migrations[i] takes a database from
 * version i to i + 1, all pending steps in one transaction, so a crash
 * leaves the old version or the new one. Steps are only ever appended.
 * Times are seconds since the epoch, except the builds table's *_ns.
 */
#include "db.h"

#include "base/banned.h"

static const char *const migrations[] = {
        /* 1: accounts (users and organisations share one namespace), members,
         * builders, tokens, public repositories, build records. */
        "CREATE TABLE accounts ("
        "  name TEXT PRIMARY KEY,"
        "  kind TEXT NOT NULL CHECK (kind IN ('user', 'org')),"
        "  created INTEGER NOT NULL"
        ") STRICT;"

        "CREATE TABLE members ("
        "  org TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
        "  user TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
        "  PRIMARY KEY (org, user)"
        ") STRICT;"
        "CREATE INDEX members_user ON members(user);"

        "CREATE TABLE builders ("
        "  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
        "  name TEXT NOT NULL,"
        "  timeout_s INTEGER NOT NULL DEFAULT 5400 CHECK (timeout_s > 0),"
        "  platforms TEXT NOT NULL DEFAULT 'linux/amd64,linux/arm64',"
        "  concurrency INTEGER NOT NULL DEFAULT 4 CHECK (concurrency > 0),"
        "  cache_max INTEGER NOT NULL DEFAULT 20000000000 CHECK (cache_max > 0),"
        "  created INTEGER NOT NULL,"
        "  PRIMARY KEY (account, name)"
        ") STRICT;"

        "CREATE TABLE tokens ("
        "  id TEXT PRIMARY KEY,"
        "  kind TEXT NOT NULL CHECK (kind IN ('pat', 'oat')),"
        "  owner TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,"
        "  hash TEXT NOT NULL,"
        "  scopes TEXT NOT NULL,"
        "  description TEXT NOT NULL DEFAULT '',"
        "  created INTEGER NOT NULL,"
        "  expires INTEGER NOT NULL DEFAULT 0,"
        "  revoked INTEGER NOT NULL DEFAULT 0,"
        "  last_used INTEGER NOT NULL DEFAULT 0"
        ") STRICT;"
        "CREATE INDEX tokens_owner ON tokens(owner);"

        "CREATE TABLE public_repos ("
        "  name TEXT PRIMARY KEY"
        ") STRICT;"

        "CREATE TABLE builds ("
        "  id TEXT PRIMARY KEY,"
        "  builder TEXT NOT NULL,"
        "  principal TEXT NOT NULL DEFAULT '',"
        "  token_id TEXT NOT NULL DEFAULT '',"
        "  state TEXT NOT NULL CHECK (state IN ('uploading', 'queued', 'running', 'succeeded',"
        "    'failed', 'canceled')),"
        "  created_ns INTEGER NOT NULL DEFAULT 0,"
        "  started_ns INTEGER NOT NULL DEFAULT 0,"
        "  finished_ns INTEGER NOT NULL DEFAULT 0,"
        "  steps_total INTEGER NOT NULL DEFAULT 0,"
        "  steps_cached INTEGER NOT NULL DEFAULT 0,"
        "  image_digest TEXT NOT NULL DEFAULT '',"
        "  error TEXT NOT NULL DEFAULT '',"
        "  summary TEXT NOT NULL DEFAULT '{}'"
        ") STRICT;"
        "CREATE INDEX builds_builder ON builds(builder, created_ns);"
        "CREATE INDEX builds_state ON builds(state);",

        /* 2: a builder's entitlements: network.host is off until an admin grants it. */
        "ALTER TABLE builders ADD COLUMN allow_network_host INTEGER NOT NULL DEFAULT 0"
        "  CHECK (allow_network_host IN (0, 1));",
};

static int version(sqlite3 *h, int *ret, struct kiln_error **err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        *ret = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : kilnd_db_fail(h, rc, err);
}

static int exec(sqlite3 *h, const char *sql, struct kiln_error **err)
{
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : kilnd_db_fail(h, rc, err);
}

static int migrate_locked(sqlite3 *h, struct kiln_error **err)
{
    int have = 0;
    int r = version(h, &have, err);
    if (r < 0)
        return r;
    int want = (int)ELEMENTSOF(migrations);
    if (have > want)
        return kiln_error_set(err, KILN_E_INVALID,
                              "kilnd.db has schema version %d, newer than this kilnd knows (%d): "
                              "run the kilnd that wrote it",
                              have, want);
    for (int v = have; v < want && r >= 0; v++)
        r = exec(h, migrations[v], err);
    if (r >= 0 && have < want) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", want);
        r = exec(h, sql, err);
    }
    return r;
}

int kilnd_schema_migrate(sqlite3 *h, struct kiln_error **err)
{
    /* IMMEDIATE: two processes opening a fresh database do not both migrate it. */
    int r = exec(h, "BEGIN IMMEDIATE", err);
    if (r < 0)
        return kiln_error_wrap(err, r, "migrate kilnd.db");
    r = migrate_locked(h, err);
    if (r >= 0)
        r = exec(h, "COMMIT", err);
    if (r < 0) {
        (void)sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return kiln_error_wrap(err, r, "migrate kilnd.db");
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * identity-fixture.h - a fresh data directory with kilnd.db for the
 * identity unit tests (accounts, tokens, scopes). Include after cmocka.h.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"
#include "expect.h"
#include "server/db.h"

struct fixture {
    char dir[64];
    struct kilnd_db *db;
};

static inline int fixture_setup(void **state)
{
    struct fixture *f = kiln_xcalloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kilnd-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct kiln_error *err = NULL;
    expect_ok(kilnd_db_open(f->dir, &f->db, &err), &err);
    *state = f;
    return 0;
}

static inline int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    kilnd_db_close(f->db);
    static const char *const files[] = {"kilnd.db", "kilnd.db-wal", "kilnd.db-shm"};
    for (size_t i = 0; i < ELEMENTSOF(files); i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs sql on the fixture's database; fails the test on an error. */
static inline void fixture_sql(struct fixture *f, const char *sql)
{
    int rc = sqlite3_exec(kilnd_db_sqlite(f->db), sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(kilnd_db_sqlite(f->db)));
}

static inline int64_t fixture_int(struct fixture *f, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(kilnd_db_sqlite(f->db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

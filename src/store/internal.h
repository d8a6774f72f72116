/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h - what the files of src/store share and nobody else uses.
 */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "store.h"

/* Waits this long for another connection's write lock before failing with -EBUSY. */
#define KILN_STORE_BUSY_TIMEOUT_MS 30000

struct kiln_store {
    char *dir;
    int dir_fd;       /* DIR */
    int blobs_fd;     /* DIR/content/blobs/sha256 */
    int ingest_fd;    /* DIR/content/ingest: blobs being written */
    int snapshots_fd; /* DIR/snapshots */
    int trash_fd;     /* DIR/trash: removed snapshot trees, emptied after the transaction */
    int locks_fd;     /* DIR/locks: lease and single-flight lock files */
    int lock_fd;      /* DIR/lock: shared while open, exclusive while repairing */
    sqlite3 *db;
};

/* store.c */

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
int64_t kiln_store_now(void);
/* 32 random lower-case hex digits into ret (33 bytes). */
int kiln_store_random_hex(char ret[33], struct kiln_error **err);
/*
 * Fault injection for the crash tests: kills the process with SIGKILL when
 * the environment variable KILN_FAILPOINT equals `name`.
 */
void kiln_store_failpoint(const char *name);
/* KILN_E_LIMIT unless strlen(s) <= KILN_STORE_NAME_MAX; `what` names s in the message. */
int kiln_store_check_name(const char *s, const char *what, struct kiln_error **err);

/* db.c: SQLite with typed arguments and scope-bound statements. */

struct kiln_db_arg {
    char type; /* 't' text (NULL binds NULL), 'i' int64 */
    const char *text;
    int64_t i;
};
#define KILN_DB_TEXT(s) ((struct kiln_db_arg){.type = 't', .text = (s)})
#define KILN_DB_INT(v)  ((struct kiln_db_arg){.type = 'i', .i = (v)})
/* An argument list for kiln_db_prepare(): array and count. */
#define KILN_DB_ARGS(...)                      \
    (const struct kiln_db_arg[]){__VA_ARGS__}, \
            ELEMENTSOF(((const struct kiln_db_arg[]){__VA_ARGS__}))
#define KILN_DB_NO_ARGS NULL, 0

/* Opens `path` with WAL, a busy timeout and foreign keys on. */
int kiln_db_open(const char *path, sqlite3 **ret_db, struct kiln_error **err);
/* Maps an SQLite result code to a kiln code and records the connection's message. */
int kiln_db_fail(sqlite3 *db, int rc, struct kiln_error **err);
/* Prepares `sql` and binds `n` arguments; the caller finalizes *ret_stmt. */
int kiln_db_prepare(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                    sqlite3_stmt **ret_stmt, struct kiln_error **err);
/* Steps: 1 for a row, 0 when done, < 0 on failure. */
int kiln_db_step(sqlite3_stmt *st, struct kiln_error **err);
/* Prepares, runs to the end and finalizes; returns the number of rows changed. */
int kiln_db_run(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                struct kiln_error **err);
/* Runs a query of one integer: 1 and *ret_value for a row (NULL reads 0), 0 for none. */
int kiln_db_int(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                int64_t *ret_value, struct kiln_error **err);
/* Runs several statements without arguments (schema, pragmas). */
int kiln_db_exec(sqlite3 *db, const char *sql, struct kiln_error **err);
/* Runs `sql` with arguments, calling fn on each row; fn < 0 stops with that, > 0 stops. */
int kiln_db_each(sqlite3 *db, const char *sql, const struct kiln_db_arg *args, size_t n,
                 int (*fn)(sqlite3_stmt *row, void *userdata), void *userdata,
                 struct kiln_error **err);

static inline void kiln_db_finalizep(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
}

/* A write transaction (BEGIN IMMEDIATE) rolled back when it leaves scope uncommitted. */
struct kiln_db_txn {
    sqlite3 *db;
    bool open;
};
int kiln_db_begin(sqlite3 *db, struct kiln_db_txn *ret_txn, struct kiln_error **err);
int kiln_db_commit(struct kiln_db_txn *t, struct kiln_error **err);
void kiln_db_txn_end(struct kiln_db_txn *t);

/* schema.c */

/* The schema version this kiln writes. */
int kiln_schema_latest(void);
/* Brings the database to the latest schema, all pending steps in one transaction. */
int kiln_schema_migrate(sqlite3 *db, struct kiln_error **err);

/* content.c */

/* KILN_E_INVALID unless `digest` is a valid sha256 digest; sets *ret_hex to its hex part. */
int kiln_content_hex(const char *digest, const char **ret_hex, struct kiln_error **err);
/* Deletes blob `digest`'s row and file; inside the caller's transaction. */
int kiln_content_drop(struct kiln_store *s, const char *digest, struct kiln_error **err);

/* snapshot.c */

/* KILN_E_INVALID unless `id` is 32 lower-case hex digits. */
int kiln_snapshot_check_id(const char *id, struct kiln_error **err);
/* Deletes snapshot `id`'s row and moves its tree to DIR/trash; inside the caller's transaction. */
int kiln_snapshot_drop(struct kiln_store *s, const char *id, struct kiln_error **err);
/*
 * Removes what is in DIR/trash (after the transaction that filled it), best
 * effort: what stays is removed by the next call or the next repair.
 */
void kiln_store_empty_trash(struct kiln_store *s);
/*
 * Removes `name` under dirfd: a file, or a directory tree at any depth (at
 * most two fds open), making unreadable directories readable on the way.
 * A missing name is fine.
 */
int kiln_tree_remove(int dirfd, const char *name);
/* Bytes allocated on disk by `name` under dirfd and everything below it, hard links once. */
int kiln_tree_usage(int dirfd, const char *name, uint64_t *ret_bytes, struct kiln_error **err);
/*
 * Removes the entries of directory fd for which doomed() returns > 0 (all of
 * them when doomed is NULL); doomed() < 0 stops with that error.
 */
int kiln_tree_remove_if(int fd, int (*doomed)(const char *name, void *userdata), void *userdata,
                        struct kiln_error **err);

/* cache.c */

/* Deletes cache record `id` (and its blob links); inside the caller's transaction. */
int kiln_cache_drop(struct kiln_store *s, int64_t id, struct kiln_error **err);

/* lease.c */

/*
 * Takes the lock DIR/locks/<name>, waiting while another holder has it,
 * drops a row left by a dead holder and records the lease.
 */
int kiln_lease_acquire(struct kiln_store *s, const char *name, struct kiln_lease **ret_lease,
                       struct kiln_error **err);
/* Protects blob `digest` with lease l too; inside the caller's transaction. */
int kiln_lease_hold_blob(struct kiln_lease *l, const char *digest, struct kiln_error **err);
/* Drops the leases whose holder is gone: their rows, so what they protected is collectable. */
int kiln_lease_expire_dead(struct kiln_store *s, struct kiln_error **err);

/* repair.c */

/* Restores the invariants after a crash; needs the store to itself (DIR/lock exclusive). */
int kiln_store_repair(struct kiln_store *s, struct kiln_error **err);

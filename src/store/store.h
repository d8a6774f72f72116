/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the storage under the build engine: one data directory holding a
 * content store (content.h), snapshots (snapshot.h), cache records (cache.h)
 * and their metadata in SQLite. docs/internals/store.md has the design.
 *
 *   struct kiln_store *s;
 *   kiln_store_open("/var/lib/kiln", &s, &err);   creates, migrates, repairs
 *   ...
 *   kiln_store_close(s);
 *
 * A handle is used by one thread at a time and never across fork(); several
 * processes (or threads with their own handles) may open one directory.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct kiln_store;
struct kiln_lease;

/*
 * Opens (creating when missing) the data directory `dir`: its parent must
 * exist. Migrates the database to the current schema, and when no other
 * handle has the directory open, repairs what a crash left behind (repair.c).
 * The caller owns *ret_store (kiln_store_close()). Errors: -errno for the
 * file system, KILN_E_INVALID for a database newer than this kiln or not a
 * database, -EIO for other SQLite failures.
 */
int kiln_store_open(const char *dir, struct kiln_store **ret_store, struct kiln_error **err);

/* Closes the handle; every lease taken from it must be freed before. NULL is fine. */
void kiln_store_close(struct kiln_store *s);
KILN_DEFINE_CLEANUP(struct kiln_store, kiln_store_close)

/* The data directory the handle was opened on (owned by the handle). */
const char *kiln_store_dir(const struct kiln_store *s);

/*
 * Leases protect what a running build creates from garbage collection until
 * a cache record (or a pin) references it. A lease is a flock()ed file under
 * DIR/locks plus a row; when its process dies the lock goes with it and the
 * next collection drops the lease. Blobs and snapshots created with a lease
 * carry it (content.h, snapshot.h).
 *
 * kiln_store_lease_new() starts a lease with a fresh name; the caller owns
 * *ret_lease (kiln_lease_free()). Errors: -errno, SQLite failures.
 */
int kiln_store_lease_new(struct kiln_store *s, struct kiln_lease **ret_lease,
                         struct kiln_error **err);

/* The lease's name (owned by the lease). */
const char *kiln_lease_name(const struct kiln_lease *l);

/* Ends the lease: what it protected is collectable again unless referenced. NULL is fine. */
void kiln_lease_free(struct kiln_lease *l);
KILN_DEFINE_CLEANUP(struct kiln_lease, kiln_lease_free)

/*
 * Pins keep things out of reach of garbage collection, even of prune --all:
 * an image result pins its cache record (and so its snapshot chain and
 * blobs) and its manifest and config blobs. Several pins may share a name;
 * kiln_store_unpin() drops them all. Errors: KILN_E_NOTFOUND for a missing
 * record or blob, KILN_E_LIMIT for a name longer than KILN_STORE_NAME_MAX.
 */
int kiln_store_pin_record(struct kiln_store *s, const char *name, int64_t record_id,
                          struct kiln_error **err);
int kiln_store_pin_blob(struct kiln_store *s, const char *name, const char *digest,
                        struct kiln_error **err);
/* Returns the number of pins dropped (0 when none had the name). */
int kiln_store_unpin(struct kiln_store *s, const char *name, struct kiln_error **err);

/* Disk usage by kind, in bytes allocated on disk (st_blocks, hard links once). */
struct kiln_store_usage {
    uint64_t records;       /* cache records */
    uint64_t records_bytes; /* the snapshots (with parents) and blobs they hold, each once */
    uint64_t snapshots;     /* active and committed */
    uint64_t snapshots_bytes;
    uint64_t blobs;
    uint64_t blobs_bytes;
    uint64_t total_bytes;       /* snapshots_bytes + blobs_bytes */
    uint64_t reclaimable_bytes; /* what prune --all would free now */
};

/*
 * Measures the store. Committed snapshots and blobs were measured on disk
 * when they were committed (they never change afterwards); active snapshots
 * are measured now. Errors: -errno, SQLite failures.
 */
int kiln_store_du(struct kiln_store *s, struct kiln_store_usage *ret_usage,
                  struct kiln_error **err);

struct kiln_prune_opts {
    uint64_t keep_bytes; /* prune until total_bytes <= keep_bytes */
    bool all;            /* drop every record that is not pinned, whatever the size */
};

struct kiln_prune_report {
    uint64_t records;
    uint64_t snapshots;
    uint64_t blobs;
    uint64_t freed_bytes;
};

/*
 * Garbage collection. Drops the leases whose process died, then, while the
 * store is above keep_bytes (with `all`: while anything is collectable),
 * deletes the snapshots nothing reaches any more, or else the least recently
 * used of the unpinned cache records and the loose blobs (no record, pin or
 * lease holds them). Never touches pinned records and blobs, active or
 * leased snapshots, or their parents. *ret_report (may be NULL) says what
 * went. Errors: -errno, SQLite failures.
 */
int kiln_store_prune(struct kiln_store *s, const struct kiln_prune_opts *opts,
                     struct kiln_prune_report *ret_report, struct kiln_error **err);

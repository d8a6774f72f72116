/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cache.h - cache records: (builder, cache key) -> snapshot, layer diff id
 * and compressed blobs. Builders never see each other's records.
 *
 *   struct kiln_cache_record *hit;  struct kiln_lease *flight;
 *   r = kiln_cache_begin(s, builder, key, &hit, &flight, &err);
 *   r == 1: use hit                 (computed before, or by whoever we waited for)
 *   r == 0: compute under `flight`, kiln_cache_insert(), kiln_lease_free(flight)
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "store.h"

struct kiln_cache_record {
    int64_t id;
    char *snapshot;                /* NULL when the record holds blobs only */
    char *diff_id;                 /* NULL when unknown */
    struct kiln_strv compressions; /* "gzip", "zstd", ...; parallel to digests */
    struct kiln_strv digests;      /* the compressed blob of each compression */
    uint64_t bytes;                /* on disk when inserted: snapshot + blobs */
    int64_t created;               /* nanoseconds since the epoch */
    int64_t last_used;
};

void kiln_cache_record_free(struct kiln_cache_record *r);
KILN_DEFINE_CLEANUP(struct kiln_cache_record, kiln_cache_record_free)

/*
 * Looks up (builder, key) and marks the record used. Returns 1 and sets
 * *ret_record (caller owns) on a hit, 0 on a miss. Errors: KILN_E_LIMIT for
 * names longer than KILN_STORE_NAME_MAX, SQLite failures.
 */
int kiln_cache_lookup(struct kiln_store *s, const char *builder, const char *key,
                      struct kiln_cache_record **ret_record, struct kiln_error **err);

/*
 * Single flight: returns 1 with *ret_hit on a hit. On a miss, takes the
 * key's lock DIR/locks/flight-<sha256(builder, key)>, waiting while another
 * process or thread holds it; when it had been computing the key meanwhile,
 * returns 1 with its record. Otherwise returns 0 with *ret_flight, a lease
 * held until kiln_lease_free(): create the data under it, insert the record,
 * then free it. A holder that dies releases the lock. The caller owns
 * whichever it gets. Errors: as lookup, -errno.
 */
int kiln_cache_begin(struct kiln_store *s, const char *builder, const char *key,
                     struct kiln_cache_record **ret_hit, struct kiln_lease **ret_flight,
                     struct kiln_error **err);

struct kiln_cache_entry {
    const char *builder;
    const char *key;
    const char *snapshot;            /* committed snapshot id, or NULL */
    const char *diff_id;             /* may be NULL */
    const char *const *compressions; /* n_blobs names, parallel to digests */
    const char *const *digests;      /* blobs already in the content store */
    size_t n_blobs;
};

/*
 * Records a cache entry in one transaction, after its data: the snapshot
 * must be committed and the blobs stored. Returns 1 and the new id, or 0
 * and the id of the record a concurrent builder inserted for the key first
 * (which is kept). Errors: KILN_E_INVALID for an entry with neither snapshot
 * nor blobs, KILN_E_NOTFOUND for missing data, KILN_E_CONFLICT for an active
 * snapshot, KILN_E_LIMIT, SQLite failures.
 */
int kiln_cache_insert(struct kiln_store *s, const struct kiln_cache_entry *entry, int64_t *ret_id,
                      struct kiln_error **err);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.h - filesystem snapshots: DIR/snapshots/<id>/fs, each with a parent
 * chain recorded in the db (the overlayfs lower directories of the next one).
 *
 *   char id[KILN_SNAPSHOT_ID_SIZE];
 *   kiln_snapshot_prepare(s, parent, lease, id, &err);   active, empty fs/
 *   ... mount overlay: upper = fs/, work = work/, lower = chain of parent ...
 *   kiln_snapshot_commit(s, id, &size, &err);           immutable from now on
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "store.h"

/* 32 lower-case hex digits and the NUL. */
#define KILN_SNAPSHOT_ID_SIZE 33

/*
 * Creates an active snapshot on top of committed snapshot `parent` (NULL for
 * a base): its row, and the empty directories fs/ (the overlay upper dir) and
 * work/ (the overlay work dir). `lease` (may be NULL) protects it from
 * collection once committed. Writes the new id to ret_id. Errors:
 * KILN_E_INVALID for a malformed id, KILN_E_NOTFOUND, KILN_E_CONFLICT for an
 * active parent, KILN_E_LIMIT past KILN_SNAPSHOT_CHAIN_MAX parents, -errno.
 */
int kiln_snapshot_prepare(struct kiln_store *s, const char *parent, struct kiln_lease *lease,
                          char ret_id[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err);

/*
 * Commits active snapshot `id`: removes work/, measures fs/ on disk, syncs
 * the file system and marks it committed. ret_bytes (may be NULL) receives
 * the bytes it takes on disk. Errors: KILN_E_NOTFOUND, KILN_E_CONFLICT when
 * already committed, KILN_E_LIMIT for a tree nested deeper than
 * KILN_SNAPSHOT_DEPTH_MAX, -errno.
 */
int kiln_snapshot_commit(struct kiln_store *s, const char *id, uint64_t *ret_bytes,
                         struct kiln_error **err);

/*
 * Removes snapshot `id` (active or committed) and its files. Errors:
 * KILN_E_NOTFOUND, KILN_E_CONFLICT while a cache record or a child snapshot
 * uses it, -errno.
 */
int kiln_snapshot_remove(struct kiln_store *s, const char *id, struct kiln_error **err);

/* The absolute path of snapshot `id`'s fs/ directory; the caller frees it. Errors as stat. */
int kiln_snapshot_path(struct kiln_store *s, const char *id, char **ret_path,
                       struct kiln_error **err);

/*
 * The fs/ paths of `id` and its ancestors, `id` first and the base last:
 * for an overlay on top of `id`, the lowerdir list in order. The caller owns
 * *ret_paths (kiln_strv_release()). Errors as stat.
 */
int kiln_snapshot_chain(struct kiln_store *s, const char *id, struct kiln_strv *ret_paths,
                        struct kiln_error **err);

struct kiln_snapshot_info {
    char id[KILN_SNAPSHOT_ID_SIZE];
    char parent[KILN_SNAPSHOT_ID_SIZE]; /* "" for a base snapshot */
    bool committed;
    unsigned depth;      /* number of ancestors */
    uint64_t disk_bytes; /* 0 while active */
    int64_t created;     /* nanoseconds since the epoch */
    int64_t last_used;
};

/* What the db records about snapshot `id`. Errors: KILN_E_INVALID, KILN_E_NOTFOUND. */
int kiln_snapshot_stat(struct kiln_store *s, const char *id, struct kiln_snapshot_info *ret_info,
                       struct kiln_error **err);

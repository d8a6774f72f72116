/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-slot.h - build contexts kept between builds: each builder has
 * slots STORE/contexts/N, each a context tree and the index it holds. A
 * build takes a free slot (the one its client used last, when free), brings
 * it to its own index by rewriting only what differs, and builds from it;
 * an unchanged context costs no copy, and its files keep their inodes so the
 * engine's hash cache knows them (docs/internals/context-sync.md).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "store/store.h"

#define KILND_CONTEXT_SLOTS_MAX 64 /* concurrent builds of one builder each need one */
#define KILND_CONTEXT_HINT_MAX  4096
/* Files written at once past which their digests go to the engine's hash cache. */
#define KILND_CONTEXT_REMEMBER_MIN 256

struct kilnd_context_slot {
    char *dir;  /* STORE/contexts/N */
    char *tree; /* STORE/contexts/N/tree: the context */
    int lock_fd;
    bool has_previous;        /* the tree holds the index set aside in index.json.prev */
    char previous_digest[72]; /* sha256 of that index's JSON (index.sha256), "" if unknown */
};

/*
 * Takes a free slot of the store at store_dir, preferring one last used with
 * `hint` (the client's name for its context). The slot stays taken until
 * freed (or the process ends). KILN_E_LIMIT when every slot is taken.
 */
int kilnd_context_slot_take(const char *store_dir, const char *hint,
                            struct kilnd_context_slot **ret, struct kiln_error **err);
/*
 * Brings the slot's tree to the index kept as `digest` (context-indexes.h):
 * nothing to do when the slot holds it already, else
 * kilnd_context_materialize over the previous index.
 */
int kilnd_context_slot_sync(struct kilnd_context_slot *slot, struct kiln_store *s,
                            const char *store_dir, const char *digest, struct kiln_error **err);
/*
 * The directory (caller frees) of a slot no build holds that was last used
 * with `hint` and, unless `digest` is NULL, holds the index `digest` (a
 * build of that context then needs no content at all); NULL when none.
 */
char *kilnd_context_slot_find(const char *store_dir, const char *hint, const char *digest);
void kilnd_context_slot_free(struct kilnd_context_slot *slot);
KILN_DEFINE_CLEANUP(struct kilnd_context_slot, kilnd_context_slot_free)

/*
 * Writes len bytes of text to path through a temporary file of its own
 * beside it (concurrent writers never share one), renamed into place: a
 * reader sees the old file or the whole new one. False when it could not.
 */
bool kilnd_context_write_file(const char *path, const char *text, size_t len);

/*
 * Removes every slot no build holds, and the kept indexes (prune --all: no
 * copy of an earlier context stays).
 */
void kilnd_context_slots_prune(const char *store_dir);

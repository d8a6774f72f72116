/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-indexes.h - the context indexes a builder has received, kept by
 * the sha256 of their JSON (STORE/contexts/indexes/HEX.json), so a client
 * whose context is unchanged names its index by digest instead of sending
 * it again (docs/internals/context-sync.md).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"
#include "oci/digest.h"

/* Indexes kept per builder; past it the least recently used go. */
#define KILND_CONTEXT_INDEXES_MAX 128
/* Bytes of one kept index's JSON read back at most. */
#define KILND_CONTEXT_INDEX_FILE_MAX (512u << 20)

/*
 * Keeps the checked index `entries` and returns the digest it is known by:
 * the sha256 of its compact JSON, as kiln writes it.
 */
int kilnd_context_index_save(const char *store_dir, json_t *entries,
                             char ret_digest[KILN_OCI_DIGEST_MAX], struct kiln_error **err);
/* The file of index `digest` (caller frees), or NULL when it is no sha256 digest. */
char *kilnd_context_index_path(const char *store_dir, const char *digest);
/* Whether the index `digest` is kept (and marks it used). */
bool kilnd_context_index_known(const char *store_dir, const char *digest);
/*
 * The kept index `digest` in *ret (caller owns it); KILN_E_NOTFOUND when the
 * builder no longer has it.
 */
int kilnd_context_index_load(const char *store_dir, const char *digest, json_t **ret,
                             struct kiln_error **err);
/* Removes every kept index (prune --all). */
void kilnd_context_indexes_prune(const char *store_dir);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * context-index.h - the index of a build context for a cloud builder: one
 * ENTRY per file after .dockerignore (docs/internals/cloud-api.md), files
 * named by the sha256 of their content, so the builder asks only for the
 * content it lacks, whatever the timestamps (docs/internals/context-sync.md).
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"

/* The API's cap on entries: a larger context is refused before it is hashed. */
#define KILN_CONTEXT_INDEX_ENTRIES_MAX 1000000u
/* Bytes read from a file at a time while hashing or uploading it. */
#define KILN_CONTEXT_INDEX_BLOCK (1024u * 1024)

struct kiln_context_index_stats {
    uint64_t entries; /* every entry: directories, files, links */
    uint64_t files;   /* regular files hashed */
    uint64_t bytes;   /* their bytes */
    uint64_t nsec;    /* wall time of the walk and the hashing */
};

/*
 * Walks `context_dir` through CONTEXT/Dockerfile.dockerignore or else
 * CONTEXT/.dockerignore (as BuildKit picks them for the default Dockerfile)
 * and returns the ENTRY array, parents before children, in *ret_entries
 * (caller owns it): {"path","mode","size","mtime"} and "digest" for regular
 * files (hashed on two threads), "link" for symbolic links. `stats` (may be
 * NULL) is filled on success. Errors: KILN_E_INVALID for a fifo, socket or
 * device that is not excluded, KILN_E_LIMIT past
 * KILN_CONTEXT_INDEX_ENTRIES_MAX entries, -errno (with the path), or the
 * walker's errors.
 */
int kiln_context_index_build(const char *context_dir, json_t **ret_entries,
                             struct kiln_context_index_stats *stats, struct kiln_error **err);

/*
 * Opens regular file `path` (relative) of the context whose directory is
 * open as `ctxfd`, never following a symbolic link on the way
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). Returns the fd, or
 * KILN_E_INVALID when it is no longer a regular file, -errno.
 */
int kiln_context_index_open_file(int ctxfd, const char *path, struct kiln_error **err);

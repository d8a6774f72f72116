/* SPDX-License-Identifier: Apache-2.0 */
/*
 * walk.h - walking a build context through .dockerignore, as BuildKit's
 * context transfer does (tonistiigi/fsutil's filtered walk).
 *
 * Entries come depth first, each directory's entries in byte order of name.
 * An excluded directory is not entered unless a `!` exception could reach
 * inside it; a directory that is excluded itself but holds a re-included
 * entry is reported just before that entry. Symbolic links are reported as
 * links and never followed.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "base/error.h"
#include "dockerfile/dockerignore.h"

struct kiln_walk_filter {
    const struct kiln_ignore *exclude; /* .dockerignore; NULL for none */
    const struct kiln_ignore *include; /* allow-list (COPY sources); NULL for all */
};

/*
 * Called for each entry sent: `path` relative to the root ('/'-separated),
 * its lstat. A negative return stops the walk and is returned.
 */
typedef int (*kiln_walk_fn)(const char *path, const struct stat *st, void *userdata);

/*
 * Walks the directory `root`. Errors: -errno (with the path) when a
 * directory that is not excluded cannot be read, KILN_E_INVALID from a
 * pattern, KILN_E_LIMIT past KILN_CONTEXT_DEPTH_MAX levels, or what fn
 * returned.
 */
int kiln_context_walk(const char *root, const struct kiln_walk_filter *filter, kiln_walk_fn fn,
                      void *userdata, struct kiln_error **err);

/*
 * Whether `path` (relative to the root) passes the filter as a single file
 * opened by name (fsutil's filtered Open: MatchesOrParentMatches).
 */
int kiln_context_path_allowed(const struct kiln_walk_filter *filter, const char *path, bool *ret,
                              struct kiln_error **err);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.h - COPY and ADD on directories, with BuildKit's rules: a directory
 * source copies its contents, wildcards may match nothing, a destination
 * ending in '/' (or an existing directory) receives the sources inside,
 * context files belong to 0:0, --chown names come from the destination's
 * /etc/passwd. Every path is resolved inside its root.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "context/walk.h"
#include "graph.h"
#include "hash-cache.h"
#include "oci/digest.h"

struct kiln_copy_src {
    const char *root;                      /* the build context, or a state's root (COPY --from) */
    const struct kiln_walk_filter *filter; /* .dockerignore of the context; NULL otherwise */
    bool reset_owner;                      /* context: files are copied as 0:0 */
    struct kiln_hash_cache *hashes;        /* file digests of this root; may be NULL */
};

/*
 * Runs COPY/ADD `op` from src (NULL for heredoc files) into dest_root, the
 * writable root of the new state. tmp_dir is the build's scratch space.
 * Errors: KILN_E_NOTFOUND naming a missing source, KILN_E_INVALID for a
 * device node in the context or a bad --chmod, those of --chown lookups,
 * -errno.
 */
int kiln_copy_apply(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                    const char *dest_root, const char *tmp_dir, struct kiln_error **err);

/*
 * The digest of everything op reads from src: the selected paths, types,
 * modes, owners (after reset_owner), sizes, link targets and bytes, never
 * mtimes. "" (empty string) when op reads nothing from a source. Errors as
 * kiln_copy_apply().
 */
int kiln_copy_checksum(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                       const char *tmp_dir, char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

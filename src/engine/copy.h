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

/* Directories nested deeper than this in a source are refused. */
#define KILN_COPY_DEPTH_MAX 512u
/* An ADD URL larger than this is refused (bytes). */
#define KILN_COPY_URL_MAX (8ull * 1024 * 1024 * 1024)
/* An ADD URL transfer taking longer than this fails (seconds). */
#define KILN_COPY_URL_TIMEOUT 3600L

struct kiln_copy_src {
    const char *root;                      /* the build context, or a state's root (COPY --from) */
    const struct kiln_walk_filter *filter; /* .dockerignore of the context; NULL otherwise */
    bool reset_owner;                      /* context: files are copied as 0:0 */
    struct kiln_hash_cache *hashes;        /* file digests of this root; may be NULL */
};

/*
 * Runs COPY/ADD `op` from src (NULL for heredoc files) into dest_root, the
 * writable root of the new state (its parent's content is visible in it).
 * tmp_dir is a private scratch directory (downloads). Errors:
 * KILN_E_NOTFOUND naming a missing source, KILN_E_INVALID for a device node
 * in the context, a bad --chmod or --exclude, a checksum mismatch,
 * KILN_E_UPSTREAM for a failed download, those of kiln_passwd_resolve()
 * for --chown, -errno.
 */
int kiln_copy_apply(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                    const char *dest_root, const char *tmp_dir, struct kiln_error **err);

/*
 * The content digest ("sha256:<hex>") of everything op reads from src (NULL
 * for heredocs), independent of the destination: the selected paths, types,
 * modes, owners (after reset_owner), sizes, link targets and bytes, never
 * mtimes, so a fresh clone of an unchanged repository gives the same
 * digest. URL sources are downloaded into tmp_dir (kept for
 * kiln_copy_apply() of the same op) and their bytes hashed. "" when op reads
 * nothing. Errors as kiln_copy_apply().
 */
int kiln_copy_checksum(const struct kiln_vertex_copy *op, const struct kiln_copy_src *src,
                       const char *tmp_dir, char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

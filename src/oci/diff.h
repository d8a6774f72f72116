/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff.h - what a snapshot changed against its parent, as BuildKit computes
 * it: from an overlayfs upper dir (util/overlay Changes) or by walking two
 * trees side by side (continuity's fs.Changes).
 *
 *   struct kiln_oci_changes c = KILN_OCI_CHANGES_INIT;
 *   kiln_oci_diff_trees(lower, upper, &c, &err);
 *   for (size_t i = 0; i < c.n; i++) ... c.v[i].kind, c.v[i].path ...
 *   kiln_oci_changes_release(&c);
 *
 * Changes come in walk order: names sorted bytewise, a directory before what
 * it holds (continuity's directoryCompare order).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"

enum kiln_oci_change_kind {
    KILN_OCI_CHANGE_ADD = 1,
    KILN_OCI_CHANGE_MODIFY,
    KILN_OCI_CHANGE_DELETE,
    /* An unchanged file with more than one link: the layer writer needs it to link to it. */
    KILN_OCI_CHANGE_UNMODIFIED,
};

/* One change and the upper entry's metadata (lstat), all zero for a delete. */
struct kiln_oci_change {
    enum kiln_oci_change_kind kind;
    char *path; /* relative to the root, no leading or trailing '/': "etc/passwd" */
    uint32_t mode, uid, gid, nlink;
    uint64_t dev, ino, rdev, size;
    int64_t mtime_sec;
    uint32_t mtime_nsec;
};

struct kiln_oci_changes {
    struct kiln_oci_change *v;
    size_t n, alloc;
};

#define KILN_OCI_CHANGES_INIT         \
    {                                 \
        .v = NULL, .n = 0, .alloc = 0 \
    }

void kiln_oci_changes_release(struct kiln_oci_changes *c);
static inline void kiln_oci_changes_releasep(struct kiln_oci_changes *c)
{
    kiln_oci_changes_release(c);
}

/*
 * The changes recorded in overlayfs upper dir `upper` on top of the merged
 * view `lower` of the parent (NULL or "" for a snapshot without parent): a
 * 0/0 character device is a delete (skipped when the lower has no such
 * entry), an entry the lower also has is a modify unless BuildKit's
 * sameDirent finds them equal, an opaque directory is diffed against the
 * lower by a double walk that ignores the upper's whiteouts. Appends to
 * *ret_changes on success (the caller releases it). Errors: -errno,
 * KILN_E_INVALID for a redirect_dir directory, KILN_E_LIMIT for trees nested
 * deeper than KILN_LAYER_DEPTH_MAX.
 */
int kiln_oci_diff_overlay(const char *lower, const char *upper,
                          struct kiln_oci_changes *ret_changes, struct kiln_error **err);

/*
 * The changes that turn tree `lower` (NULL or "": empty) into tree `upper`,
 * by continuity's double walk: an entry is modified when its type, mode,
 * owner, device number, security.capability, size or mtime differ; when
 * both mtimes have no sub-second part (a tree unpacked from a tar) the link
 * target or content decides. A deleted directory is one delete. Unchanged
 * files with several links are reported as unmodified. Errors as
 * kiln_oci_diff_overlay().
 */
int kiln_oci_diff_trees(const char *lower, const char *upper, struct kiln_oci_changes *ret_changes,
                        struct kiln_error **err);

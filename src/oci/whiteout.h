/* SPDX-License-Identifier: Apache-2.0 */
/*
 * whiteout.h - deletions in both of their forms: overlayfs (a 0/0 character
 * device, a directory with the overlay "opaque" xattr) and OCI layers (AUFS
 * names ".wh.<name>" and ".wh..wh..opq"). The diff reads the first form, the
 * layer writer writes the second, and applying a layer turns the second
 * into either a removal or the first.
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "base/error.h"

#define KILN_OCI_WHITEOUT_PREFIX ".wh."
#define KILN_OCI_WHITEOUT_OPAQUE ".wh..wh..opq"

/* How a layer's whiteouts land on disk. */
enum kiln_oci_whiteout_mode {
    KILN_OCI_WHITEOUT_REMOVE,            /* delete what they name: a plain directory */
    KILN_OCI_WHITEOUT_OVERLAY,           /* 0/0 devices and trusted.overlay.opaque: an upper dir */
    KILN_OCI_WHITEOUT_OVERLAY_USERXATTR, /* the same with user.overlay.opaque (userxattr mounts) */
};

/* Is st an overlayfs whiteout: a character device with device number 0/0? */
bool kiln_oci_whiteout_is_overlay(const struct stat *st);

/*
 * Is the directory open as dirfd an overlayfs opaque directory
 * (trusted.overlay.opaque or user.overlay.opaque is "y")? Writes *ret.
 * Errors: -errno from fgetxattr other than "no such attribute".
 */
int kiln_oci_whiteout_is_opaque(int dirfd, bool *ret, struct kiln_error **err);

/*
 * Fails with KILN_E_INVALID when the directory open as dirfd carries an
 * overlayfs redirect (redirect_dir), which a diff of the upper dir cannot
 * follow; `path` names it in the message.
 */
int kiln_oci_whiteout_check_redirect(int dirfd, const char *path, struct kiln_error **err);

enum kiln_oci_whiteout_kind {
    KILN_OCI_WHITEOUT_NONE,
    KILN_OCI_WHITEOUT_FILE,       /* ".wh.<name>": <name> is deleted */
    KILN_OCI_WHITEOUT_OPAQUE_DIR, /* ".wh..wh..opq": the directory's earlier content is hidden */
};

/* What a layer entry's base name says; for a file whiteout *ret_target is the deleted name. */
enum kiln_oci_whiteout_kind kiln_oci_whiteout_parse(const char *base, const char **ret_target);

/*
 * Applies the whiteout of `target` in the directory dirfd: removes it (and
 * its subtree) or, in overlay modes, replaces it by a 0/0 character device
 * owned by uid:gid. Errors: -errno, KILN_E_LIMIT for a subtree deeper than
 * KILN_LAYER_DEPTH_MAX.
 */
int kiln_oci_whiteout_apply(int dirfd, const char *target, enum kiln_oci_whiteout_mode mode,
                            uid_t uid, gid_t gid, struct kiln_error **err);

/* Whether the entry at `path` (relative to the root) came with the layer being applied. */
typedef bool (*kiln_oci_keep_fn)(void *userdata, const char *path);

/*
 * Applies an opaque marker to the directory dirfd found at `path`: in
 * overlay modes sets the opaque xattr; else removes every entry below it
 * that keep() does not claim (looking inside the claimed directories too),
 * as containerd does. Errors as kiln_oci_whiteout_apply().
 */
int kiln_oci_whiteout_apply_opaque(int dirfd, const char *path, enum kiln_oci_whiteout_mode mode,
                                   kiln_oci_keep_fn keep, void *userdata, struct kiln_error **err);

/*
 * Removes `name` in dirfd, a directory with everything below it, never
 * following a symlink. A missing name is not an error. Errors: -errno,
 * KILN_E_LIMIT past KILN_LAYER_DEPTH_MAX levels.
 */
int kiln_oci_remove_at(int dirfd, const char *name, struct kiln_error **err);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.h - a state's filesystem as one directory: an overlayfs mount of its
 * snapshot chain, writable (a new snapshot's fs/ as upper dir) or read-only.
 *
 *   struct kiln_mount m;
 *   kiln_mount_state(store, top, upper_id, &m, &err);  m.path is the root
 *   ...
 *   kiln_mount_release(&m);                            unmounts, removes the mount point
 *
 * Mounts live in the build's private mount namespace (kiln_mount_namespace()),
 * so a build that dies leaves none behind.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "sandbox/userns.h"
#include "store/store.h"

struct kiln_mount {
    char *path;    /* the mounted root; NULL when nothing is mounted */
    char *scratch; /* an empty directory standing for a scratch state */
    char *layers;  /* mapped: where its idmapped layers are mounted (POINT.layers) */
};

#define KILN_MOUNT_INIT                               \
    {                                                 \
        .path = NULL, .scratch = NULL, .layers = NULL \
    }

/*
 * Moves the calling process into a mount namespace of its own (once; later
 * calls do nothing), so that the overlay mounts of builds are private and go
 * away with the process. Must run before any thread starts. Errors: -EPERM
 * with a message saying builds need root.
 */
int kiln_mount_namespace(struct kiln_error **err);

/*
 * Mounts the state whose top snapshot is `top` ("" or NULL: scratch). With
 * `upper` (an active snapshot prepared on `top`) the mount is writable and
 * every change lands in upper's fs/; without, it is read-only. Errors:
 * -errno (naming the mount), KILN_E_LIMIT when the chain is too long for
 * one overlay mount.
 */
int kiln_mount_state(struct kiln_store *s, const char *top, const char *upper,
                     struct kiln_mount *ret, struct kiln_error **err);

/*
 * As kiln_mount_state(), seen through a user namespace mapping (userns.h)
 * when `map` is not NULL: every id N of the state shows as host_id + N,
 * and what the step's root (host_id) writes lands as root's. Each snapshot
 * directory is mounted idmapped, and the overlay over them is mounted by
 * the mapped root; a scratch state is an empty directory owned by host_id.
 */
int kiln_mount_state_mapped(struct kiln_store *s, const char *top, const char *upper,
                            const struct kiln_sandbox_userns *map, struct kiln_mount *ret,
                            struct kiln_error **err);

/* Unmounts and removes the mount point. Safe on a released or zeroed mount. */
void kiln_mount_release(struct kiln_mount *m);

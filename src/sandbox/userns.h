/* SPDX-License-Identifier: Apache-2.0 */
/*
 * userns.h - RUN in a user namespace, where the builder's operator turns it
 * on (KILN_RUN_USERNS=HOSTID[:SIZE]): the step's root is an unprivileged
 * host user, and the files it sees and writes keep their own owners through
 * idmapped mounts (docs/internals/sandbox.md, "User namespace").
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* HOSTID[:SIZE]: the step's ids 0..SIZE-1 are the host's HOSTID..HOSTID+SIZE-1. */
#define KILN_SANDBOX_USERNS_ENV "KILN_RUN_USERNS"
/* SIZE when not given: every 16-bit id, nobody (65534) included. */
#define KILN_SANDBOX_USERNS_SIZE 65536u

struct kiln_sandbox_userns {
    uint32_t host_id; /* the host's id of the step's root (uid and gid alike) */
    uint32_t size;    /* ids mapped */
};

/*
 * The mapping KILN_RUN_USERNS asks for: 1 and *ret; 0 when it is unset,
 * empty or "off" (no user namespace, as BuildKit runs); KILN_E_INVALID
 * naming the variable when it is malformed, HOSTID is 0 (the host's root)
 * or the range passes 2^32 - 1.
 */
int kiln_sandbox_userns_get(struct kiln_sandbox_userns *ret, struct kiln_error **err);

/*
 * KILN_RUN_USERNS checked where it is set (kilnd serve at start): 0 when
 * off; 1 and *ret when its namespace can be made and a directory mounted
 * idmapped through it here (checked, then unmounted); else the error, with
 * what to do.
 */
int kiln_sandbox_userns_check(struct kiln_sandbox_userns *ret, struct kiln_error **err);

/*
 * A user namespace with u's mapping, as an fd (O_CLOEXEC) kept for the
 * process: idmapped mounts take it. -errno on failure.
 */
int kiln_sandbox_userns_fd(const struct kiln_sandbox_userns *u, struct kiln_error **err);

/*
 * Mounts `source` again at `target` (an existing directory or file) with
 * its ids shifted by u: an id N on disk is seen as host_id + N, and a write
 * by host_id + N lands as N.
 */
int kiln_sandbox_idmap_mount(const struct kiln_sandbox_userns *u, const char *source,
                             const char *target, struct kiln_error **err);

/* Where mapped roots are mounted: host_id's group may pass through (0710), no one else. */
#define KILN_SANDBOX_USERNS_MNT_FMT "/run/kiln-userns-%u"

/*
 * A new empty directory under KILN_SANDBOX_USERNS_MNT_FMT (made root:host_id
 * 0710 when missing, refused when it is not a directory of root's) for a
 * mapped root: the runtime reaches a rootfs by its path as the step's root,
 * which kiln's data directory (0700) would stop. The caller frees it.
 */
int kiln_sandbox_userns_mount_point(const struct kiln_sandbox_userns *u, char **ret,
                                    struct kiln_error **err);

/*
 * Runs fn(arg) on a thread whose filesystem ids are u's root (host_id) with
 * every capability kept: how kiln creates files in a rootfs made of
 * idmapped layers (its own root is outside the mapping there, and would get
 * EOVERFLOW), and how the overlay over them is mounted (the overlay acts
 * with its mounter's ids). Returns what fn returned, or -errno when the
 * thread cannot start.
 */
int kiln_sandbox_as_mapped_root(const struct kiln_sandbox_userns *u, int (*fn)(void *arg),
                                void *arg);

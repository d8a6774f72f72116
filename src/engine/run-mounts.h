/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-mounts.h - RUN --mount as sandbox mounts (docs/internals/run-mounts.md):
 * type=cache directories kept per builder across builds
 * (DATA/cache-mounts/<sha256 of builder, id and seed>), type=tmpfs,
 * type=bind of the context, a stage or an image (sources resolved inside
 * their root; writes discarded), type=secret files on a tmpfs (values from
 * the request, never in a key, a layer or a log), type=ssh sockets of the
 * step's own forwarded to the request's agents.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "base/strv.h"
#include "graph.h"
#include "mount.h"
#include "oci/digest.h"
#include "sandbox/sandbox.h"
#include "solver.h"
#include "ssh-forward.h"

/* sharing=private: cache directories one id may have for concurrent users. */
#define KILN_RUN_MOUNTS_PRIVATE_MAX 64u

struct kiln_run_mounts {
    struct kiln_sandbox_mount *v;
    size_t n;
    struct kiln_strv env; /* secrets with env=: "NAME=VALUE", zeroed on release */
    char **owned;         /* sources and targets made here */
    size_t n_owned;
    int *fds; /* the flock()ed cache directories, held until release */
    size_t n_fds;
    char **pinned; /* resolved sources bound at private mount points: unmounted */
    size_t n_pinned;
    const char *tmp_dir;       /* the build's scratch space, for those mount points */
    struct kiln_mount *states; /* from= states mounted for bind mounts */
    size_t n_states;
    char **snapshots; /* scratch snapshots of rw binds of a state: removed */
    size_t n_snapshots;
    char **removes; /* copies of the context made for binds: removed */
    size_t n_removes;
    struct kiln_ssh_forward **forwards; /* ssh agent sockets of the step: stopped */
    size_t n_forwards;
    struct kiln_store *store;
};

/*
 * The sandbox mounts of the RUN `v` (an exec vertex whose inputs are
 * solved). `scratch` is a private directory on a tmpfs where secret files
 * are written. Errors: KILN_E_NOTFOUND for a required secret or ssh agent
 * that the request lacks, or a bind source that does not exist;
 * KILN_E_LIMIT when every private cache directory is busy; -errno.
 */
int kiln_run_mounts_prepare(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                            const char *scratch, struct kiln_run_mounts *ret,
                            struct kiln_error **err);

/* Unmounts, unlocks and removes what prepare made; zeroes secret values. */
void kiln_run_mounts_release(struct kiln_run_mounts *m);

/*
 * What the RUN's mounts read, for its cache key ("" when nothing): the keys
 * of from= states and the content digest of each bind of the context
 * (never a cache mount's content, a secret or a socket).
 */
int kiln_run_mounts_content(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                            char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err);

/*
 * DATA/cache-mounts/<sha256(builder, id, seed)>: the directory of a cache
 * mount; `seed` is "" or the key and source of the from= state it starts
 * from. The name is a digest, so no id can name a path outside. Caller frees.
 */
char *kiln_run_mounts_cache_dir(const char *data_dir, const char *builder, const char *id,
                                const char *seed);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-mounts.h - RUN --mount as sandbox mounts: type=cache directories kept
 * per builder across builds (DATA/cache-mounts/<sha256 of builder and id>),
 * never part of a layer or a cache key; type=tmpfs.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "graph.h"
#include "sandbox/sandbox.h"

struct kiln_run_mounts {
    struct kiln_sandbox_mount *v;
    size_t n;
    char **owned; /* sources and targets made here */
    size_t n_owned;
    int *locks; /* sharing=locked: the flock()ed cache directories, held until release */
    size_t n_locks;
};

/*
 * The sandbox mounts of RUN `x` for the builder's data directory `data_dir`
 * and cache namespace `builder`. Errors: KILN_E_INVALID for a mount kind not
 * supported yet (bind, secret, ssh, a cache mount from another stage, values
 * with variables), -errno.
 */
int kiln_run_mounts_prepare(const char *data_dir, const char *builder,
                            const struct kiln_vertex_exec *x, struct kiln_run_mounts *ret,
                            struct kiln_error **err);

void kiln_run_mounts_release(struct kiln_run_mounts *m);

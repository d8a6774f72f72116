/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outputs.h - a solved build's result to every output of the request:
 * registry push, OCI or docker tar, docker load, filesystem tar or directory,
 * or nothing (cache only). Several platforms make an image index, and
 * filesystem outputs with one directory per platform ("linux_arm64").
 */
#pragma once

#include "build.h"
#include "graph.h"
#include "resolve.h"
#include "store/store.h"

struct kiln_outputs_ctx {
    const struct kiln_build_request *req;
    const struct kiln_build_env *env;
    struct kiln_store *store;
    struct kiln_lease *lease;
    const struct kiln_graph *const *graphs; /* one per platform, in the request's order */
    const char *const *tops;                /* each graph's result top snapshot; "" for scratch */
    size_t n;                               /* platforms; more than one makes an index */
    struct kiln_resolver *resolver;
    const char *tmp_dir; /* the build's scratch space */
};

/*
 * Refuses, before anything is built, outputs the request's platforms cannot
 * have: a docker output of several platforms (KILN_E_INVALID, as BuildKit).
 */
int kiln_outputs_check(const struct kiln_build_request *req, size_t n_platforms,
                       struct kiln_error **err);

/* Runs every output in order; fills *ret from the image outputs. */
int kiln_outputs_run(const struct kiln_outputs_ctx *o, struct kiln_build_result *ret,
                     struct kiln_error **err);

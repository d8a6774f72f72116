/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outputs.h - a solved build's result to every output of the request:
 * registry push, OCI or docker tar, docker load, filesystem tar or directory,
 * or nothing (cache only).
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
    const struct kiln_graph *graph;
    const char *top; /* the result's top snapshot; "" for scratch */
    struct kiln_resolver *resolver;
    const char *tmp_dir; /* the build's scratch space */
};

/* Runs every output in order; fills *ret from the image outputs. */
int kiln_outputs_run(const struct kiln_outputs_ctx *o, struct kiln_build_result *ret,
                     struct kiln_error **err);

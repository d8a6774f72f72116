/* SPDX-License-Identifier: Apache-2.0 */
/*
 * convert.h - Dockerfile to build graph, as BuildKit's dockerfile2llb does:
 * stages and the target, ARG scoping and the predefined platform args, word
 * expansion, the image config and history each instruction writes, ONBUILD
 * triggers, and the progress names of the steps.
 *
 *   struct kiln_convert_opts o = {.target = "", .resolve = fn, ...};
 *   struct kiln_graph *g;
 *   kiln_convert(instructions, &o, &g, &err);
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "dockerfile/instructions.h"
#include "graph.h"
#include "oci/platform.h"

/*
 * Resolves an image reference (as written after expansion, e.g. "alpine" or
 * "127.0.0.1:5000/x/y:1") for `platform`: sets *ret_ref to the fully
 * qualified reference pinned by manifest digest
 * ("docker.io/library/alpine:latest@sha256:...") and *ret_config to its
 * image config JSON (caller owns both). Errors name the image.
 */
typedef int kiln_resolve_image_fn(void *userdata, const char *ref,
                                  const struct kiln_oci_platform *platform, char **ret_ref,
                                  json_t **ret_config, struct kiln_error **err);

struct kiln_convert_opts {
    const char *target;                 /* stage name, or NULL/"" for the last stage */
    const struct kiln_strv *build_args; /* "K=V" (--build-arg; K alone resolved by the caller) */
    const struct kiln_strv *labels;     /* "K=V" (--label): added to the target's config */
    const struct kiln_oci_platform *platform;       /* target platform; NULL: the build platform */
    const struct kiln_oci_platform *build_platform; /* the host's */
    bool multi_platform;                            /* prefix progress names with the platform */
    bool no_cache;                                  /* mark every vertex no_cache */
    kiln_resolve_image_fn *resolve;
    void *resolve_userdata;
};

/*
 * Converts a parsed Dockerfile into the graph that builds `target`: only the
 * stages it needs, each vertex named as BuildKit names it in progress output.
 * Errors (KILN_E_INVALID, with the Dockerfile line set when there is one): an
 * unknown target, a stage used before it is defined, a bad expansion, an
 * ONBUILD trigger that does not parse; and those of resolve().
 */
int kiln_convert(const struct kiln_df_instructions *df, const struct kiln_convert_opts *opts,
                 struct kiln_graph **ret, struct kiln_error **err);

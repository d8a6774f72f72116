/* SPDX-License-Identifier: Apache-2.0 */
/*
 * userns-mounts.h - a step's bind sources seen through its user namespace:
 * each one not mapped yet is mounted idmapped in the state directory, and
 * the step binds that instead (docs/internals/sandbox.md, "User namespace").
 */
#pragma once

#include "sandbox.h"

struct kiln_sandbox_mapped_binds {
    struct kiln_sandbox_mount *v; /* o->mounts with the sources replaced */
    char **points;                /* the idmapped mounts made: unmounted and removed */
    size_t n, n_points;
};

/* Maps o->mounts' sources (o->userns set) into ret; on failure nothing is left mounted. */
int kiln_sandbox_map_binds(const struct kiln_sandbox_opts *o, struct kiln_sandbox_mapped_binds *ret,
                           struct kiln_error **err);

/* Unmounts and removes the points; safe on a zeroed one. */
void kiln_sandbox_mapped_binds_release(struct kiln_sandbox_mapped_binds *b);

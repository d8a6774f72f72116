/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-secrets.h - RUN --mount=type=secret and type=ssh, and what the files
 * of run-mounts share (docs/internals/run-mounts.md).
 */
#pragma once

#include "run-mounts.h"

/* Keeps s until m is released; returns it. */
char *kiln_run_mounts_own(struct kiln_run_mounts *m, char *s);
/* Appends a sandbox mount (its strings must live as long as m). */
void kiln_run_mounts_add(struct kiln_run_mounts *m, const struct kiln_sandbox_mount *sm);

/*
 * A secret of the request: a file (mode, uid, gid of the mount) on the
 * tmpfs `scratch`, bound read-only at the target, and/or NAME=VALUE in the
 * process env (m->env). Missing: an error when required, else nothing.
 * Errors: KILN_E_NOTFOUND naming the id, KILN_E_INVALID for a value with a
 * NUL byte given as env=, -errno.
 */
int kiln_run_secret(struct kiln_op_ctx *ctx, const struct kiln_df_mount *mt, const char *scratch,
                    unsigned index, struct kiln_run_mounts *m, struct kiln_error **err);

/*
 * An ssh agent of the request: a socket of the step's own, `scratch`/ssh-N
 * with the mount's uid, gid and mode (0600), forwarded to the agent until
 * m is released, bound at the target. Missing: an error when required,
 * else nothing. Errors: KILN_E_NOTFOUND naming the id, KILN_E_INVALID,
 * -errno.
 */
int kiln_run_ssh(struct kiln_op_ctx *ctx, const struct kiln_df_mount *mt, const char *scratch,
                 unsigned index, struct kiln_run_mounts *m, struct kiln_error **err);

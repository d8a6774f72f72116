/* SPDX-License-Identifier: Apache-2.0 */
/*
 * op-file.c - COPY, ADD and WORKDIR: a new snapshot on the base state, with
 * the base mounted under it so the copy sees (and follows) what is there
 * (docs/internals/engine.md, "File ops").
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "copy.h"
#include "mkdir.h"
#include "mount.h"
#include "run-mounts.h"
#include "solver.h"

#include "base/banned.h"

static void context_src(const struct kiln_solver *sv, struct kiln_copy_src *ret)
{
    *ret = (struct kiln_copy_src){.root = sv->context_dir,
                                  .filter = sv->context_filter,
                                  .reset_owner = true,
                                  .hashes = sv->hashes};
}

int kiln_op_content(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                    char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    *ret = '\0';
    if (v->kind == KILN_VERTEX_EXEC)
        return kiln_run_mounts_content(ctx, v, ret, err);
    if (v->kind != KILN_VERTEX_COPY)
        return 0;
    if (v->copy.from_kind == KILN_COPY_FROM_STATE)
        return 0; /* the source state's key stands for its content */
    struct kiln_copy_src src;
    context_src(ctx->sv, &src);
    bool inline_only = v->copy.from_kind == KILN_COPY_FROM_INLINE;
    int r = kiln_copy_checksum(&v->copy, inline_only ? NULL : &src, ctx->sv->tmp_dir, ret, err);
    return r < 0 ? kiln_error_wrap(err, r, "%s", v->name) : 0;
}

static int apply(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *root,
                 const char *snap, const char *from, struct kiln_error **err)
{
    (void)snap;
    if (v->kind == KILN_VERTEX_MKDIR)
        return kiln_mkdir_apply(root, v->mkdir.path, v->mkdir.user, err);
    struct kiln_copy_src src;
    if (v->copy.from_kind == KILN_COPY_FROM_INLINE)
        return kiln_copy_apply(&v->copy, NULL, root, ctx->sv->tmp_dir, err);
    if (v->copy.from_kind == KILN_COPY_FROM_CONTEXT) {
        context_src(ctx->sv, &src);
        return kiln_copy_apply(&v->copy, &src, root, ctx->sv->tmp_dir, err);
    }
    struct kiln_mount m = KILN_MOUNT_INIT;
    int r = kiln_mount_state(ctx->store, from, NULL, &m, err);
    if (r < 0)
        return r;
    src = (struct kiln_copy_src){.root = m.path};
    r = kiln_copy_apply(&v->copy, &src, root, ctx->sv->tmp_dir, err);
    kiln_mount_release(&m);
    return r;
}

int kiln_op_on_base(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                    const char *from, kiln_op_apply_fn *fn,
                    char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    int r = kiln_snapshot_prepare(ctx->store, *base ? base : NULL, ctx->lease, ret_snapshot, err);
    if (r < 0)
        return r;
    struct kiln_mount m = KILN_MOUNT_INIT;
    r = kiln_mount_state_mapped(ctx->store, base, ret_snapshot, ctx->userns, &m, err);
    if (r >= 0)
        r = fn(ctx, v, m.path, ret_snapshot, from, err);
    kiln_mount_release(&m);
    if (r >= 0)
        r = kiln_snapshot_commit(ctx->store, ret_snapshot, NULL, err);
    if (r < 0)
        kiln_snapshot_remove(ctx->store, ret_snapshot, NULL);
    return r;
}

int kiln_op_file(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                 const char *from, char ret_snapshot[KILN_SNAPSHOT_ID_SIZE],
                 struct kiln_error **err)
{
    return kiln_op_on_base(ctx, v, base, from, apply, ret_snapshot, err);
}

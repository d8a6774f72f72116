/* SPDX-License-Identifier: Apache-2.0 */
/*
 * op-exec.c - RUN: the command in the sandbox on a writable mount of the base
 * state; what it writes is the new snapshot (docs/internals/engine.md, "Exec").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "mount.h"
#include "oci/whiteout.h"
#include "passwd.h"
#include "run-mounts.h"
#include "sandbox/sandbox.h"
#include "solver.h"

#include "base/banned.h"

/* What BuildKit names a process in errors: its argv joined by spaces. */
#define PROCESS_NAME_MAX 4096u

static void output(void *userdata, int stream, const char *data, size_t len)
{
    struct kiln_op_ctx *ctx = userdata;
    kiln_progress_log(ctx->sv->progress, ctx->progress_id, stream, data, len);
}

static char **nul_terminated(const struct kiln_strv *s)
{
    char **v = kiln_xcalloc(s->n + 1, sizeof(*v));
    memcpy(v, s->v, s->n * sizeof(*v));
    return v;
}

static int run(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *root,
               const char *snap, const char *from, struct kiln_error **err)
{
    (void)from;
    const struct kiln_vertex_exec *x = &v->exec;
    if (x->run && x->run->network == KILN_DF_NETWORK_HOST && !ctx->sv->allow_network_host)
        return kiln_error_set(err, KILN_E_DENIED,
                              "RUN --network=host needs the network.host entitlement: build "
                              "with --allow network.host");
    if (x->run && x->run->security == KILN_DF_SECURITY_INSECURE)
        return kiln_error_set(err, KILN_E_DENIED,
                              "RUN --security=insecure is not supported: every step runs "
                              "sandboxed");
    uint32_t uid = 0, gid = 0;
    _cleanup_free_ uint32_t *groups = NULL;
    size_t n_groups = 0;
    int r = 0;
    if (x->user && *x->user)
        r = kiln_passwd_resolve(root, x->user, false, &uid, &gid, &groups, &n_groups, err);
    if (r < 0)
        return r;
    struct kiln_run_mounts mounts;
    if ((r = kiln_run_mounts_prepare(ctx->sv->data_dir, ctx->sv->builder, x, &mounts, err)) < 0)
        return r;
    _cleanup_free_ char *state = kiln_xasprintf("%s/exec-%s", ctx->sv->tmp_dir, snap);
    if (mkdir(state, 0700) < 0) {
        kiln_run_mounts_release(&mounts);
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", state);
    }
    _cleanup_free_ char **argv = nul_terminated(&x->args);
    _cleanup_free_ char **env = nul_terminated(&x->env);
    bool none = x->run && x->run->network == KILN_DF_NETWORK_NONE;
    struct kiln_sandbox_opts o = {
            .rootfs = root,
            .argv = (const char *const *)argv,
            .env = (const char *const *)env,
            .cwd = x->cwd && *x->cwd ? x->cwd : "/",
            .uid = uid,
            .gid = gid,
            .groups = groups,
            .n_groups = n_groups,
            .mounts = mounts.v,
            .n_mounts = mounts.n,
            .network = none ? KILN_SANDBOX_NET_NONE : KILN_SANDBOX_NET_HOST,
            .state_dir = state,
            .cancel_fd = ctx->sv->cancel_fd > 0 ? ctx->sv->cancel_fd : -1,
            .output = output,
            .output_userdata = ctx,
    };
    int code = 0;
    r = kiln_sandbox_run(&o, &code, err);
    kiln_run_mounts_release(&mounts);
    kiln_oci_remove_at(AT_FDCWD, state, NULL);
    if (r < 0 || code == 0)
        return r;
    struct kiln_buf name = KILN_BUF_INIT(PROCESS_NAME_MAX);
    for (size_t i = 0; i < x->args.n; i++)
        if (kiln_buf_addf(&name, "%s%s", i ? " " : "", x->args.v[i]) < 0)
            break;
    r = kiln_error_set(err, KILN_E_INVALID,
                       "process \"%s\" did not complete successfully: exit code: %d", name.buf,
                       code);
    kiln_buf_release(&name);
    return r;
}

int kiln_op_exec(struct kiln_op_ctx *ctx, const struct kiln_vertex *v, const char *base,
                 char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    return kiln_op_on_base(ctx, v, base, NULL, run, ret_snapshot, err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * op-exec.c - RUN: the command in the sandbox on a writable mount of the base
 * state; what it writes is the new snapshot (docs/internals/engine.md, "Exec").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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

static bool same_name(const char *a, const char *b)
{
    size_t n = strcspn(a, "=");
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

/* The step's env: the vertex's, with the secrets given as env= replacing any of their names. */
static char **process_env(const struct kiln_strv *env, const struct kiln_strv *secrets)
{
    char **v = kiln_xcalloc(env->n + secrets->n + 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < env->n; i++) {
        bool replaced = false;
        for (size_t k = 0; k < secrets->n && !replaced; k++)
            replaced = same_name(secrets->v[k], env->v[i]);
        if (!replaced)
            v[n++] = env->v[i];
    }
    for (size_t k = 0; k < secrets->n; k++)
        v[n++] = secrets->v[k];
    return v;
}

/*
 * The step's private directory (the runtime bundle, secret files) on a
 * tmpfs of its own: what it holds, secret values in the process env
 * included, never reaches the disk.
 */
static int state_dir(struct kiln_op_ctx *ctx, const char *snap, char **ret, struct kiln_error **err)
{
    char *state = kiln_xasprintf("%s/exec-%s", ctx->sv->tmp_dir, snap);
    int r = 0;
    if (mkdir(state, 0700) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot create '%s'", state);
    else if (mount("tmpfs", state, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") < 0)
        r = kiln_error_set_errno(err, -errno, "cannot mount a tmpfs on '%s'", state);
    if (r < 0) {
        rmdir(state);
        free(state);
        return r;
    }
    *ret = state;
    return 0;
}

static void state_dir_remove(const char *state)
{
    umount2(state, MNT_DETACH);
    kiln_oci_remove_at(AT_FDCWD, state, NULL);
}

/* RUN --network: the default is a namespace of its own with outbound network (sandbox/netns.h). */
static const enum kiln_sandbox_network sandbox_network[] = {
        [KILN_DF_NETWORK_DEFAULT] = KILN_SANDBOX_NET_DEFAULT,
        [KILN_DF_NETWORK_NONE] = KILN_SANDBOX_NET_NONE,
        [KILN_DF_NETWORK_HOST] = KILN_SANDBOX_NET_HOST,
};

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
    _cleanup_free_ char *state = NULL;
    if ((r = state_dir(ctx, snap, &state, err)) < 0)
        return r;
    struct kiln_run_mounts mounts;
    if ((r = kiln_run_mounts_prepare(ctx, v, state, &mounts, err)) < 0) {
        state_dir_remove(state);
        return r;
    }
    _cleanup_free_ char **argv = nul_terminated(&x->args);
    _cleanup_free_ char **env = process_env(&x->env, &mounts.env);
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
            .network = !x->run ? KILN_SANDBOX_NET_DEFAULT : sandbox_network[x->run->network],
            .state_dir = state,
            .runtime = ctx->sv->request ? ctx->sv->request->oci_runtime : NULL,
            .cancel_fd = ctx->sv->cancel_fd > 0 ? ctx->sv->cancel_fd : -1,
            .userns = ctx->userns,
            .output = output,
            .output_userdata = ctx,
    };
    int code = 0;
    r = kiln_sandbox_run(&o, &code, err);
    kiln_run_mounts_release(&mounts);
    state_dir_remove(state);
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
    struct kiln_sandbox_userns map;
    int r = kiln_sandbox_userns_get(&map, err); /* the operator's KILN_RUN_USERNS */
    if (r < 0)
        return r;
    ctx->userns = r ? &map : NULL;
    r = kiln_op_on_base(ctx, v, base, NULL, run, ret_snapshot, err);
    ctx->userns = NULL;
    return r;
}

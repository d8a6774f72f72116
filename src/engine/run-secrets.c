/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-secrets.c - RUN --mount=type=secret and type=ssh: values of the
 * request and sockets forwarded to its agents, given to one step only
 * (docs/internals/run-mounts.md).
 */
#include "run-secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"

#include "base/banned.h"

static const struct kiln_build_secret *find_secret(const struct kiln_build_request *req,
                                                   const char *id)
{
    for (size_t i = 0; req && i < req->n_secrets; i++)
        if (strcmp(req->secrets[i].id, id) == 0)
            return &req->secrets[i];
    return NULL;
}

static const struct kiln_build_ssh *find_ssh(const struct kiln_build_request *req, const char *id)
{
    for (size_t i = 0; req && i < req->n_ssh; i++)
        if (strcmp(req->ssh[i].id, id) == 0)
            return &req->ssh[i];
    return NULL;
}

/* scratch/secret-N: the value, owned and moded as the mount says. */
static int write_secret(const char *path, const struct kiln_build_secret *s,
                        const struct kiln_df_mount *mt, struct kiln_error **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "secret '%s': cannot create its file", mt->id);
    int r = 0;
    for (size_t done = 0; r == 0 && done < s->len;) {
        ssize_t n = write(fd, s->data + done, s->len - done);
        if (n < 0 && errno != EINTR)
            r = -errno;
        else if (n > 0)
            done += (size_t)n;
    }
    if (r == 0 && (fchown(fd, mt->uid, mt->gid) < 0 || fchmod(fd, mt->mode & 07777) < 0))
        r = -errno;
    close(fd);
    return r < 0 ? kiln_error_set_errno(err, r, "secret '%s': cannot write its file", mt->id) : 0;
}

static int secret_env(const struct kiln_build_secret *s, const struct kiln_df_mount *mt,
                      struct kiln_run_mounts *m, struct kiln_error **err)
{
    if (memchr(s->data, '\0', s->len))
        return kiln_error_set(err, KILN_E_INVALID,
                              "secret '%s' holds a NUL byte and cannot be the variable '%s'; "
                              "mount it as a file instead",
                              mt->id, mt->env);
    size_t n = strlen(mt->env);
    char *kv = kiln_xmalloc(n + 1 + s->len + 1);
    memcpy(kv, mt->env, n);
    kv[n] = '=';
    memcpy(kv + n + 1, s->data, s->len);
    kv[n + 1 + s->len] = '\0';
    kiln_strv_take(&m->env, kv);
    return 0;
}

int kiln_run_secret(struct kiln_op_ctx *ctx, const struct kiln_df_mount *mt, const char *scratch,
                    unsigned index, struct kiln_run_mounts *m, struct kiln_error **err)
{
    const struct kiln_build_secret *s = find_secret(ctx->sv->request, mt->id);
    if (!s && mt->required)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "secret %s: not found; pass it with --secret id=%s,src=FILE (or "
                              "env=VARIABLE)",
                              mt->id, mt->id);
    if (!s)
        return 0; /* BuildKit skips an optional secret that was not given */
    if (mt->env) {
        int r = secret_env(s, mt, m, err);
        if (r < 0)
            return r;
    }
    if (!mt->target[0])
        return 0;
    char *path = kiln_run_mounts_own(m, kiln_xasprintf("%s/secret-%u", scratch, index));
    int r = write_secret(path, s, mt, err);
    if (r < 0)
        return r;
    struct kiln_sandbox_mount sm = {.source = path, .target = mt->target, .readonly = true};
    kiln_run_mounts_add(m, &sm);
    return 0;
}

int kiln_run_ssh(struct kiln_op_ctx *ctx, const struct kiln_df_mount *mt, const char *scratch,
                 unsigned index, struct kiln_run_mounts *m, struct kiln_error **err)
{
    const struct kiln_build_ssh *a = find_ssh(ctx->sv->request, mt->id);
    if (!a && mt->required)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "no SSH key \"%s\" forwarded from the client; build with --ssh %s "
                              "(the agent of $SSH_AUTH_SOCK) or --ssh %s=SOCKET",
                              mt->id, mt->id, mt->id);
    if (!a)
        return 0;
    if (!a->socket) /* a key file the client did not hand to an agent (ssh-keys.h) */
        return kiln_error_set(err, KILN_E_INVALID,
                              "ssh key '%s': '%s' is held by no agent; this builder takes "
                              "agent sockets only",
                              mt->id, a->key_file);
    struct stat st;
    if (stat(a->socket, &st) < 0 || !S_ISSOCK(st.st_mode))
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "ssh agent '%s': '%s' is not a socket; is the agent running?", mt->id,
                              a->socket);
    _cleanup_close_ int dirfd = open(scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return kiln_error_set_errno(err, -errno, "cannot open '%s'", scratch);
    char name[32];
    snprintf(name, sizeof(name), "ssh-%u", index);
    struct kiln_ssh_forward *f;
    int r = kiln_ssh_forward_start(dirfd, name, a->socket, mt->uid, mt->gid, mt->mode, &f, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "ssh agent '%s'", mt->id);
    m->forwards = kiln_xrealloc(m->forwards, (m->n_forwards + 1) * sizeof(*m->forwards));
    m->forwards[m->n_forwards++] = f;
    char *path = kiln_run_mounts_own(m, kiln_xasprintf("%s/%s", scratch, name));
    struct kiln_sandbox_mount sm = {.source = path, .target = mt->target};
    kiln_run_mounts_add(m, &sm);
    return 0;
}

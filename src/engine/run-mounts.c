/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-mounts.c - RUN --mount: what each type becomes in the sandbox
 * (docs/internals/run-mounts.md). Cache and bind sources are here; secrets
 * and ssh agents in run-secrets.c.
 */
#include "run-mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/path.h"
#include "copy.h"
#include "oci/whiteout.h"
#include "run-secrets.h"
#include "store/snapshot.h"

#include "base/banned.h"

char *kiln_run_mounts_own(struct kiln_run_mounts *m, char *s)
{
    m->owned = kiln_xrealloc(m->owned, (m->n_owned + 1) * sizeof(*m->owned));
    m->owned[m->n_owned++] = s;
    return s;
}

void kiln_run_mounts_add(struct kiln_run_mounts *m, const struct kiln_sandbox_mount *sm)
{
    m->v = kiln_xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    m->v[m->n++] = *sm;
}

static void push_str(char ***v, size_t *n, char *s)
{
    *v = kiln_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = s;
}

/* "sub/dir" of a mount's source= as a path relative to its root: "/" and ".." stay inside. */
static char *relative_source(const char *source)
{
    _cleanup_free_ char *abs = kiln_xasprintf("/%s", source);
    _cleanup_free_ char *clean = kiln_path_clean(abs, strlen(abs));
    return kiln_xstrdup(clean[1] ? clean + 1 : ".");
}

static void keep_fd(struct kiln_run_mounts *m, int fd)
{
    m->fds = kiln_xrealloc(m->fds, (m->n_fds + 1) * sizeof(*m->fds));
    m->fds[m->n_fds++] = fd;
}

/*
 * Binds the opened file `fd` at a new private mount point in the build's
 * scratch space, returned in *ret: the runtime then mounts exactly what was
 * resolved, even if a concurrent step swaps a path component for a link
 * meanwhile (a shared cache, CVE-2024-23651).
 */
static int pin(struct kiln_run_mounts *m, int fd, char **ret, struct kiln_error **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kiln_error_set_errno(err, -errno, "stat a mount source");
    char *point = kiln_xasprintf("%s/src-XXXXXX", m->tmp_dir);
    int r = 0;
    if (S_ISDIR(st.st_mode)) {
        if (!mkdtemp(point))
            r = -errno;
    } else {
        int f = mkostemp(point, O_CLOEXEC);
        if (f < 0)
            r = -errno;
        else
            close(f);
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (r == 0 && mount(proc, point, NULL, MS_BIND, NULL) < 0) {
        r = -errno;
        remove(point);
    }
    if (r < 0) {
        free(point);
        return kiln_error_set_errno(err, r, "cannot pin a mount source in '%s'", m->tmp_dir);
    }
    push_str(&m->pinned, &m->n_pinned, point);
    *ret = kiln_xstrdup(point);
    return 0;
}

/*
 * `source` inside `root`, resolved by the kernel from the root (openat2
 * RESOLVE_IN_ROOT): `..` and symbolic links cannot leave it. With `keep`,
 * pinned (above); without, its real path.
 */
static int resolve_in(const char *root, const char *source, struct kiln_run_mounts *keep,
                      char **ret, struct kiln_error **err)
{
    _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return kiln_error_set_errno(err, -errno, "open '%s'", root);
    _cleanup_free_ char *rel = relative_source(source);
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    long fd;
    do
        fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
    while (fd < 0 && (errno == EAGAIN || errno == EINTR));
    if (fd < 0 && errno == ENOENT)
        return kiln_error_set(err, KILN_E_NOTFOUND, "mount source '%s' does not exist", source);
    if (fd < 0)
        return kiln_error_set_errno(err, -errno, "mount source '%s'", source);
    _cleanup_close_ int f = (int)fd;
    char link[64], real[PATH_MAX], top[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", f);
    ssize_t n = readlink(link, real, sizeof(real) - 1);
    if (n < 0 || !realpath(root, top))
        return kiln_error_set_errno(err, -errno, "mount source '%s': cannot read its path", source);
    real[n] = '\0';
    size_t len = strlen(top);
    if (strncmp(real, top, len) != 0 || (real[len] != '\0' && real[len] != '/'))
        return kiln_error_set(err, KILN_E_DENIED, "mount source '%s' lies outside its root",
                              source);
    if (keep)
        return pin(keep, f, ret, err);
    *ret = kiln_xstrdup(real);
    return 0;
}

/* A COPY of `source` (relative, "." for all) to "/": what a bind or a seed reads. */
static void source_copy_op(const char *source, struct kiln_vertex_copy *ret)
{
    *ret = (struct kiln_vertex_copy){.sources = KILN_STRV_INIT,
                                     .excludes = KILN_STRV_INIT,
                                     .dest = kiln_xstrdup("/"),
                                     .unpack = KILN_DF_FALSE};
    kiln_strv_take(&ret->sources, relative_source(source));
}

static void source_copy_release(struct kiln_vertex_copy *op)
{
    kiln_strv_release(&op->sources);
    kiln_strv_release(&op->excludes);
    free(op->dest);
}

static struct kiln_copy_src context_src(const struct kiln_solver *sv)
{
    return (struct kiln_copy_src){.root = sv->context_dir,
                                  .filter = sv->context_filter,
                                  .reset_owner = true,
                                  .hashes = sv->hashes};
}

static const char *from_snapshot(const struct kiln_op_ctx *ctx, const struct kiln_exec_mount *em)
{
    return em->from ? ctx->sv->results[em->from->index].snapshot : "";
}

/*
 * bind from the context: the source (with .dockerignore applied, owned by
 * 0:0) copied into the build's scratch space, so the step sees what BuildKit
 * would have sent and its writes (rw) go nowhere.
 */
static int context_bind(struct kiln_op_ctx *ctx, const struct kiln_df_mount *mt,
                        struct kiln_run_mounts *m, char **ret, struct kiln_error **err)
{
    _cleanup_free_ char *found = NULL;
    int r = resolve_in(ctx->sv->context_dir, mt->source, NULL, &found, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "the build context");
    struct stat st;
    if (stat(found, &st) < 0)
        return kiln_error_set_errno(err, -errno, "mount source '%s'", mt->source);
    char *dir = kiln_xasprintf("%s/bind-XXXXXX", ctx->sv->tmp_dir);
    if (!mkdtemp(dir)) {
        r = -errno;
        free(dir);
        return kiln_error_set_errno(err, r, "cannot create a directory in '%s'", ctx->sv->tmp_dir);
    }
    push_str(&m->removes, &m->n_removes, dir);
    struct kiln_vertex_copy op;
    source_copy_op(mt->source, &op);
    struct kiln_copy_src src = context_src(ctx->sv);
    r = kiln_copy_apply(&op, &src, dir, ctx->sv->tmp_dir, err);
    if (r >= 0 && !S_ISDIR(st.st_mode)) {
        const char *slash = strrchr(op.sources.v[0], '/');
        r = resolve_in(dir, slash ? slash + 1 : op.sources.v[0], m, ret, err);
    } else if (r >= 0) {
        *ret = kiln_xstrdup(dir);
    }
    source_copy_release(&op);
    return r;
}

/* bind from a stage or image: its state mounted (rw: on a scratch snapshot, removed after). */
static int state_bind(struct kiln_op_ctx *ctx, const struct kiln_exec_mount *em,
                      struct kiln_run_mounts *m, char **ret, struct kiln_error **err)
{
    const char *top = from_snapshot(ctx, em);
    char *upper = NULL;
    int r = 0;
    if (!em->mount->readonly) {
        upper = kiln_xcalloc(1, KILN_SNAPSHOT_ID_SIZE);
        r = kiln_snapshot_prepare(ctx->store, *top ? top : NULL, ctx->lease, upper, err);
        if (r < 0) {
            free(upper);
            return r;
        }
        push_str(&m->snapshots, &m->n_snapshots, upper);
    }
    m->states = kiln_xrealloc(m->states, (m->n_states + 1) * sizeof(*m->states));
    struct kiln_mount *sm = &m->states[m->n_states];
    *sm = (struct kiln_mount)KILN_MOUNT_INIT;
    if ((r = kiln_mount_state_mapped(ctx->store, top, upper, ctx->userns, sm, err)) < 0)
        return r;
    m->n_states++;
    r = resolve_in(sm->path, em->mount->source, m, ret, err);
    return r < 0 ? kiln_error_wrap(err, r, "stage or image '%s'", em->mount->from) : 0;
}

/* Creates a cache directory with the mount's mode and owner: 1 when it made it. */
static int make_cache_dir(const char *dir, const struct kiln_df_mount *mt)
{
    if (mkdir(dir, 0700) < 0)
        return errno == EEXIST ? 0 : -errno;
    if (chown(dir, mt->has_uid ? mt->uid : 0, mt->has_gid ? mt->gid : 0) < 0 ||
        chmod(dir, mt->has_mode ? mt->mode : 0755) < 0)
        return -errno;
    return 1;
}

/* Opens and flock()s `dir`: 0 with *ret_fd, -EWOULDBLOCK when busy (LOCK_NB), -errno. */
static int lock_dir(const char *dir, int op, int *ret_fd)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (flock(fd, op) < 0) {
        if (errno == EINTR)
            continue;
        int r = -errno;
        close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

char *kiln_run_mounts_cache_dir(const char *data_dir, const char *builder, const char *id,
                                const char *seed)
{
    struct kiln_buf key = KILN_BUF_INIT(SIZE_MAX);
    kiln_buf_add(&key, builder, strlen(builder) + 1);
    kiln_buf_add(&key, id, strlen(id) + 1);
    kiln_buf_adds(&key, seed);
    char d[KILN_OCI_DIGEST_MAX];
    kiln_oci_digest_bytes(KILN_OCI_SHA256, key.buf, key.len, d, NULL);
    kiln_buf_release(&key);
    return kiln_xasprintf("%s/cache-mounts/%s", data_dir, d + strlen("sha256:"));
}

/*
 * The directory one user of a cache mount gets, locked as its sharing says:
 * shared takes a shared lock, locked an exclusive one (waiting), private the
 * first of DIR, DIR.1, ... that no one else holds. 1 when it was created.
 */
static int cache_take(const char *base, const struct kiln_df_mount *mt, struct kiln_run_mounts *m,
                      char **ret, struct kiln_error **err)
{
    bool private = mt->sharing == KILN_DF_SHARING_PRIVATE;
    int op = private                                 ? LOCK_EX | LOCK_NB
             : mt->sharing == KILN_DF_SHARING_LOCKED ? LOCK_EX
                                                     : LOCK_SH;
    for (unsigned i = 0; i < (private ? KILN_RUN_MOUNTS_PRIVATE_MAX : 1u); i++) {
        _cleanup_free_ char *dir = i ? kiln_xasprintf("%s.%u", base, i) : kiln_xstrdup(base);
        int made = make_cache_dir(dir, mt), fd = -1;
        int r = made < 0 ? made : lock_dir(dir, op, &fd);
        if (r == -EWOULDBLOCK)
            continue;
        if (r < 0)
            return kiln_error_set_errno(err, r, "cache mount '%s': cannot create or lock it",
                                        mt->id);
        keep_fd(m, fd);
        *ret = TAKE_PTR(dir);
        return made;
    }
    return kiln_error_set(err, KILN_E_LIMIT,
                          "cache mount '%s': all %u private copies are in use; wait for "
                          "other builds or use sharing=shared",
                          mt->id, KILN_RUN_MOUNTS_PRIVATE_MAX);
}

/* A new cache directory seeded with from=STATE's source= contents. */
static int cache_seed(struct kiln_op_ctx *ctx, const struct kiln_exec_mount *em, const char *dir,
                      struct kiln_error **err)
{
    struct kiln_mount sm = KILN_MOUNT_INIT;
    int r = kiln_mount_state(ctx->store, from_snapshot(ctx, em), NULL, &sm, err);
    if (r < 0)
        return r;
    struct kiln_vertex_copy op;
    source_copy_op(em->mount->source, &op);
    struct kiln_copy_src src = {.root = sm.path};
    r = kiln_copy_apply(&op, &src, dir, ctx->sv->tmp_dir, err);
    source_copy_release(&op);
    kiln_mount_release(&sm);
    return r < 0 ? kiln_error_wrap(err, r, "cache mount '%s': seed from '%s'", em->mount->id,
                                   em->mount->from)
                 : 0;
}

static int cache_mount(struct kiln_op_ctx *ctx, const struct kiln_exec_mount *em,
                       struct kiln_run_mounts *m, char **ret, struct kiln_error **err)
{
    const struct kiln_df_mount *mt = em->mount;
    _cleanup_free_ char *parent = kiln_xasprintf("%s/cache-mounts", ctx->sv->data_dir);
    if (mkdir(parent, 0700) < 0 && errno != EEXIST)
        return kiln_error_set_errno(err, -errno, "cannot create '%s'", parent);
    _cleanup_free_ char *seed =
            em->from_state
                    ? kiln_xasprintf("%s\n%s",
                                     em->from ? ctx->sv->results[em->from->index].key : "scratch",
                                     mt->source)
                    : kiln_xstrdup("");
    _cleanup_free_ char *base =
            kiln_run_mounts_cache_dir(ctx->sv->data_dir, ctx->sv->builder, mt->id, seed);
    _cleanup_free_ char *dir = NULL;
    int made = cache_take(base, mt, m, &dir, err);
    if (made < 0)
        return made;
    if (made && em->from_state) {
        int r = cache_seed(ctx, em, dir, err);
        if (r < 0) {
            kiln_oci_remove_at(AT_FDCWD, dir, NULL);
            return r;
        }
    }
    if (!em->from_state && mt->source[0])
        return resolve_in(dir, mt->source, m, ret, err);
    *ret = TAKE_PTR(dir);
    return 0;
}

static int add_mount(struct kiln_op_ctx *ctx, const struct kiln_exec_mount *em, const char *scratch,
                     unsigned index, struct kiln_run_mounts *m, struct kiln_error **err)
{
    const struct kiln_df_mount *mt = em->mount;
    struct kiln_sandbox_mount sm = {
            .target = mt->target, .readonly = mt->readonly, .size = mt->size};
    char *source = NULL;
    int r = 0;
    switch (mt->type) {
    case KILN_DF_MOUNT_SECRET: return kiln_run_secret(ctx, mt, scratch, index, m, err);
    case KILN_DF_MOUNT_SSH: return kiln_run_ssh(ctx, mt, scratch, index, m, err);
    case KILN_DF_MOUNT_TMPFS: break;
    case KILN_DF_MOUNT_CACHE: r = cache_mount(ctx, em, m, &source, err); break;
    case KILN_DF_MOUNT_BIND:
        r = em->from_state ? state_bind(ctx, em, m, &source, err)
                           : context_bind(ctx, mt, m, &source, err);
        sm.mapped = em->from_state && ctx->userns; /* its state was mounted mapped */
        break;
    }
    if (r < 0)
        return kiln_error_wrap(err, r, "RUN --mount=type=%s,target=%s",
                               kiln_df_mount_type_name(mt->type), mt->target);
    sm.source = source ? kiln_run_mounts_own(m, source) : NULL;
    kiln_run_mounts_add(m, &sm);
    return 0;
}

int kiln_run_mounts_prepare(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                            const char *scratch, struct kiln_run_mounts *ret,
                            struct kiln_error **err)
{
    *ret = (struct kiln_run_mounts){
            .env = KILN_STRV_INIT, .store = ctx->store, .tmp_dir = ctx->sv->tmp_dir};
    const struct kiln_vertex_exec *x = &v->exec;
    for (size_t i = 0; i < x->n_mounts; i++) {
        int r = add_mount(ctx, &x->mounts[i], scratch, (unsigned)i, ret, err);
        if (r < 0) {
            kiln_run_mounts_release(ret);
            return r;
        }
    }
    return 0;
}

void kiln_run_mounts_release(struct kiln_run_mounts *m)
{
    for (size_t i = 0; i < m->n_forwards; i++)
        kiln_ssh_forward_stop(m->forwards[i]);
    for (size_t i = 0; i < m->n_pinned; i++) {
        umount2(m->pinned[i], MNT_DETACH);
        remove(m->pinned[i]);
        free(m->pinned[i]);
    }
    for (size_t i = 0; i < m->n_states; i++)
        kiln_mount_release(&m->states[i]);
    for (size_t i = 0; i < m->n_snapshots; i++) {
        kiln_snapshot_remove(m->store, m->snapshots[i], NULL);
        free(m->snapshots[i]);
    }
    for (size_t i = 0; i < m->n_removes; i++) {
        kiln_oci_remove_at(AT_FDCWD, m->removes[i], NULL);
        free(m->removes[i]);
    }
    for (size_t i = 0; i < m->n_fds; i++)
        close(m->fds[i]);
    for (size_t i = 0; i < m->env.n; i++)
        explicit_bzero(m->env.v[i], strlen(m->env.v[i]));
    kiln_strv_release(&m->env);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->states);
    free(m->snapshots);
    free(m->removes);
    free(m->forwards);
    free(m->fds);
    free(m->pinned);
    free(m->owned);
    free(m->v);
    *m = (struct kiln_run_mounts){0};
}

int kiln_run_mounts_content(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                            char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    *ret = '\0';
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    for (size_t i = 0; i < v->exec.n_mounts; i++) {
        const struct kiln_exec_mount *em = &v->exec.mounts[i];
        char d[KILN_OCI_DIGEST_MAX] = "";
        if (em->from_state) {
            kiln_buf_addf(&b, "%zu state %s\n", i,
                          em->from ? ctx->sv->results[em->from->index].key : "scratch");
            continue;
        }
        if (em->mount->type != KILN_DF_MOUNT_BIND)
            continue;
        struct kiln_vertex_copy op;
        source_copy_op(em->mount->source, &op);
        struct kiln_copy_src src = context_src(ctx->sv);
        int r = kiln_copy_checksum(&op, &src, ctx->sv->tmp_dir, d, err);
        source_copy_release(&op);
        if (r < 0) {
            kiln_buf_release(&b);
            return kiln_error_wrap(err, r, "%s: RUN --mount source '%s'", v->name,
                                   em->mount->source);
        }
        kiln_buf_addf(&b, "%zu context %s\n", i, d);
    }
    if (b.len)
        kiln_oci_digest_bytes(KILN_OCI_SHA256, b.buf, b.len, ret, NULL);
    kiln_buf_release(&b);
    return 0;
}

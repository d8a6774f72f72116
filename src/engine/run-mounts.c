/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run-mounts.c - RUN --mount=type=cache and type=tmpfs (docs/internals/engine.md).
 */
#include "run-mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/path.h"
#include "oci/digest.h"

#include "base/banned.h"

static char *own(struct kiln_run_mounts *m, char *s)
{
    m->owned = kiln_xrealloc(m->owned, (m->n_owned + 1) * sizeof(*m->owned));
    m->owned[m->n_owned++] = s;
    return s;
}

/* The target, absolute: a relative one joins the working directory. */
static char *target_of(const struct kiln_vertex_exec *x, const char *t)
{
    _cleanup_free_ char *joined =
            t[0] == '/' ? kiln_xstrdup(t) : kiln_xasprintf("%s/%s", x->cwd ? x->cwd : "/", t);
    return kiln_path_clean(joined, strlen(joined));
}

static int mkdir_in(const char *path, mode_t mode)
{
    return mkdir(path, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/* DATA/cache-mounts/<sha256(builder, id)>, made (with its mode and owner) on first use. */
static int cache_dir(const char *data_dir, const char *builder, const struct kiln_df_mount *mt,
                     const char *target, char **ret, struct kiln_error **err)
{
    const char *id = mt->id && *mt->id ? mt->id : target;
    _cleanup_free_ char *key = kiln_xasprintf("%s%c%s", builder, '\0', id);
    char d[KILN_OCI_DIGEST_MAX];
    kiln_oci_digest_bytes(KILN_OCI_SHA256, key, strlen(builder) + 1 + strlen(id), d, NULL);
    _cleanup_free_ char *base = kiln_xasprintf("%s/cache-mounts", data_dir);
    char *dir = kiln_xasprintf("%s/%s", base, d + strlen("sha256:"));
    int r = mkdir_in(base, 0700);
    if (r == 0 && mkdir(dir, 0755) == 0) {
        if (chmod(dir, mt->has_mode ? mt->mode : 0755) < 0 ||
            chown(dir, mt->has_uid ? mt->uid : 0, mt->has_gid ? mt->gid : 0) < 0)
            r = -errno;
    } else if (r == 0 && errno != EEXIST) {
        r = -errno;
    }
    if (r < 0) {
        free(dir);
        return kiln_error_set_errno(err, r, "cache mount %s: cannot create its directory", id);
    }
    *ret = dir;
    return 0;
}

static int add_mount(const char *data_dir, const char *builder, const struct kiln_vertex_exec *x,
                     const struct kiln_df_run_mount *rm, struct kiln_run_mounts *m,
                     struct kiln_error **err)
{
    if (!rm->mount)
        return kiln_error_set(err, KILN_E_INVALID, "RUN --mount=%s: %s", rm->spec,
                              rm->error ? rm->error
                                        : "values with variables are not supported yet");
    const struct kiln_df_mount *mt = rm->mount;
    if (mt->type != KILN_DF_MOUNT_CACHE && mt->type != KILN_DF_MOUNT_TMPFS)
        return kiln_error_set(err, KILN_E_INVALID,
                              "RUN --mount=type=%s is not supported yet (cache and tmpfs are)",
                              kiln_df_mount_type_name(mt->type));
    if (mt->from && *mt->from)
        return kiln_error_set(
                err, KILN_E_INVALID,
                "RUN --mount=%s: a cache mount from another stage is not supported yet", rm->spec);
    struct kiln_sandbox_mount sm = {
            .target = own(m, target_of(x, mt->target)), .readonly = mt->readonly, .size = mt->size};
    if (mt->type == KILN_DF_MOUNT_CACHE) {
        char *dir = NULL;
        int r = cache_dir(data_dir, builder, mt, sm.target, &dir, err);
        if (r < 0)
            return r;
        sm.source = own(m, dir);
        if (mt->sharing == KILN_DF_SHARING_LOCKED) {
            int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0 || flock(fd, LOCK_EX) < 0) {
                r = -errno;
                if (fd >= 0)
                    close(fd);
                return kiln_error_set_errno(err, r, "cache mount %s: cannot lock it", sm.target);
            }
            m->locks = kiln_xrealloc(m->locks, (m->n_locks + 1) * sizeof(*m->locks));
            m->locks[m->n_locks++] = fd;
        }
    }
    m->v = kiln_xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    m->v[m->n++] = sm;
    return 0;
}

int kiln_run_mounts_prepare(const char *data_dir, const char *builder,
                            const struct kiln_vertex_exec *x, struct kiln_run_mounts *ret,
                            struct kiln_error **err)
{
    *ret = (struct kiln_run_mounts){0};
    for (size_t i = 0; x->run && i < x->run->n_mounts; i++) {
        int r = add_mount(data_dir, builder, x, &x->run->mounts[i], ret, err);
        if (r < 0) {
            kiln_run_mounts_release(ret);
            return r;
        }
    }
    return 0;
}

void kiln_run_mounts_release(struct kiln_run_mounts *m)
{
    for (size_t i = 0; i < m->n_locks; i++)
        close(m->locks[i]);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->locks);
    free(m->owned);
    free(m->v);
    *m = (struct kiln_run_mounts){0};
}

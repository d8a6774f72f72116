/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outputs.c - exporters by output type (docs/internals/engine.md, "Outputs").
 */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "docker-engine.h"
#include "docker-host.h"
#include "export.h"
#include "image-export.h"
#include "mount.h"
#include "oci/layer.h"
#include "push.h"

#include "base/banned.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const struct kiln_strv *names_of(const struct kiln_outputs_ctx *o,
                                        const struct kiln_build_output *out)
{
    return out->names.n ? &out->names : &o->req->tags;
}

/* What an image output made: one image per platform, and their index when several. */
struct exported {
    struct kiln_image *images;
    size_t n;
    struct kiln_image_index index;
};

static void exported_release(struct exported *e)
{
    for (size_t i = 0; i < e->n; i++)
        kiln_image_release(&e->images[i]);
    free(e->images);
    *e = (struct exported){0};
}

/* The single image, or the index, as the tar exporters take it. */
static struct kiln_export_image export_top(const struct exported *e)
{
    if (e->n > 1)
        return (struct kiln_export_image){.digest = e->index.digest,
                                          .media_type = e->index.media_type,
                                          .size = e->index.size};
    return (struct kiln_export_image){.digest = e->images[0].digest,
                                      .media_type = e->images[0].media_type,
                                      .size = e->images[0].size};
}

static int export_one(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                      size_t i, bool docker, const char *pid, struct kiln_image *img,
                      struct kiln_error **err)
{
    struct kiln_image_export_opts eo = {
            .compression = out->compression,
            .level = out->compression_level,
            .force_compression = out->force_compression,
            .docker_media_types = docker,
            .has_epoch = o->req->has_epoch,
            .epoch = o->req->epoch,
            .now_ns = now_ns(),
    };
    return kiln_image_export(o->store, o->lease, o->req->builder ? o->req->builder : "local",
                             o->graphs[i], o->tops[i], &eo, o->env->progress, pid, img, err);
}

static int export_image(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                        bool docker, const char *pid, struct exported *ret, struct kiln_error **err)
{
    *ret = (struct exported){.images = kiln_xcalloc(o->n, sizeof(*ret->images))};
    int r = 0;
    for (; r >= 0 && ret->n < o->n; ret->n++)
        r = export_one(o, out, ret->n, docker, pid, &ret->images[ret->n], err);
    if (r >= 0 && o->n > 1) {
        _cleanup_free_ const struct kiln_oci_platform **pf = kiln_xcalloc(o->n, sizeof(*pf));
        for (size_t i = 0; i < o->n; i++)
            pf[i] = &o->graphs[i]->platform;
        r = kiln_image_index_export(o->store, o->lease, ret->images, pf, o->n, docker,
                                    o->env->progress, pid, &ret->index, err);
    }
    if (r < 0)
        exported_release(ret);
    return r;
}

static int push_all(const struct kiln_outputs_ctx *o, const struct exported *e,
                    const struct kiln_strv *names, const char *pid, struct kiln_error **err)
{
    struct kiln_push_opts po = {
            .insecure = o->env->insecure, .progress = o->env->progress, .progress_id = pid};
    if (o->resolver->n) {
        po.mount_domain = o->resolver->images[0]->domain;
        po.mount_repo = o->resolver->images[0]->path;
    }
    kiln_progress_status(o->env->progress, pid, "pushing layers", 0, 0, false);
    for (size_t i = 0; i < names->n; i++) {
        int r = e->n > 1 ? kiln_index_push(o->store, e->images, e->n, &e->index, names->v[i], &po,
                                           err)
                         : kiln_image_push(o->store, &e->images[0], names->v[i], &po, err);
        if (r < 0)
            return r;
    }
    kiln_progress_status(o->env->progress, pid, "pushing layers", 0, 0, true);
    return 0;
}

struct dest_file {
    int fd;
    char *tmp; /* written here, renamed over the destination when complete */
};

static int dest_open(const char *dest, struct dest_file *f, struct kiln_error **err)
{
    *f = (struct dest_file){.fd = -1};
    if (strcmp(dest, "-") == 0) {
        if (isatty(STDOUT_FILENO))
            return kiln_error_set(err, KILN_E_INVALID,
                                  "refusing to write a tar to the terminal: give dest=FILE "
                                  "or redirect standard output");
        f->fd = STDOUT_FILENO;
        return 0;
    }
    f->tmp = kiln_xasprintf("%s.kiln-tmp-XXXXXX", dest);
    f->fd = mkostemp(f->tmp, O_CLOEXEC);
    if (f->fd < 0) {
        int r = -errno;
        free(f->tmp);
        f->tmp = NULL;
        return kiln_error_set_errno(err, r, "cannot create '%s'", dest);
    }
    fchmod(f->fd, 0644);
    return 0;
}

static int dest_close(struct dest_file *f, const char *dest, int r, struct kiln_error **err)
{
    if (!f->tmp)
        return r;
    if (r >= 0 && fsync(f->fd) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot write '%s'", dest);
    close(f->fd);
    if (r >= 0 && rename(f->tmp, dest) < 0)
        r = kiln_error_set_errno(err, -errno, "cannot rename to '%s'", dest);
    if (r < 0)
        unlink(f->tmp);
    free(f->tmp);
    return r;
}

/*
 * --load: the layers the engine has already stay out of the tar; an engine
 * that refuses such a tar gets the whole image.
 */
static int load(const struct kiln_outputs_ctx *o, struct kiln_export_image *ei,
                struct kiln_error **err)
{
    const char *host = o->env->docker_host ? o->env->docker_host : kiln_docker_host();
    _cleanup_strv_ struct kiln_strv has = KILN_STRV_INIT;
    for (size_t i = 0; ei->engine_has && i < ei->engine_has->n; i++)
        kiln_strv_push(&has, ei->engine_has->v[i]);
    kiln_docker_engine_chains(host, ei->names, &has);
    ei->engine_has = &has;
    int r = kiln_docker_load(host, o->store, ei, o->tmp_dir, err);
    if (r != KILN_E_UPSTREAM || !has.n)
        return r;
    kiln_error_free(err ? *err : NULL);
    if (err)
        *err = NULL;
    ei->engine_has = NULL;
    return kiln_docker_load(host, o->store, ei, o->tmp_dir, err);
}

static int image_tar(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                     const struct exported *e, bool docker, struct kiln_error **err)
{
    struct kiln_export_image ei = export_top(e);
    ei.names = names_of(o, out);
    ei.engine_has = &out->engine_has;
    if (docker && !out->dest)
        return load(o, &ei, err);
    if (!out->dest)
        return kiln_error_set(err, KILN_E_INVALID,
                              "type=oci needs a destination: -o type=oci,dest=FILE");
    struct dest_file f;
    int r = dest_open(out->dest, &f, err);
    if (r < 0)
        return r;
    r = docker ? kiln_export_docker_tar(o->store, &ei, kiln_oci_fd_write, &f.fd, err)
               : kiln_export_oci_tar(o->store, &ei, kiln_oci_fd_write, &f.fd, err);
    return dest_close(&f, out->dest, r, err);
}

/* type=tar or type=local of the tree `root`. */
static int filesystem_at(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                         const char *root, struct kiln_error **err)
{
    struct kiln_export_fs_opts fo = {.has_epoch = o->req->has_epoch, .epoch = o->req->epoch};
    if (out->type == KILN_OUTPUT_LOCAL)
        return kiln_export_local(root, out->dest, &fo, err);
    struct dest_file f;
    int r = dest_open(out->dest, &f, err);
    if (r >= 0)
        r = dest_close(&f, out->dest, kiln_export_tar(root, &fo, kiln_oci_fd_write, &f.fd, err),
                       err);
    return r;
}

/* DIR/<os>_<arch>[_<variant>]: where platform i goes, as BuildKit names it. Caller frees. */
static char *platform_dir(const struct kiln_outputs_ctx *o, const char *dir, size_t i)
{
    _cleanup_free_ char *name = kiln_oci_platform_format_all(&o->graphs[i]->platform);
    for (char *c = name; *c; c++)
        if (*c == '/')
            *c = '_';
    return kiln_xasprintf("%s/%s", dir, name);
}

/* Mounts every platform's result at its platform_dir() in dir. */
static int mount_platforms(const struct kiln_outputs_ctx *o, const char *dir, struct kiln_mount *m,
                           struct kiln_error **err)
{
    for (size_t i = 0; i < o->n; i++) {
        int r = kiln_mount_state(o->store, o->tops[i], NULL, &m[i], err);
        if (r < 0)
            return r;
        _cleanup_free_ char *at = platform_dir(o, dir, i);
        if (mkdir(at, 0755) < 0 && errno != EEXIST)
            return kiln_error_set_errno(err, -errno, "cannot create '%s'", at);
        if (mount(m[i].path, at, NULL, MS_BIND, NULL) < 0)
            return kiln_error_set_errno(err, -errno, "cannot bind '%s' at '%s'", m[i].path, at);
    }
    return 0;
}

static void unmount_platforms(const struct kiln_outputs_ctx *o, const char *dir,
                              struct kiln_mount *m)
{
    for (size_t i = 0; i < o->n; i++) {
        _cleanup_free_ char *at = platform_dir(o, dir, i);
        umount2(at, MNT_DETACH);
        rmdir(at);
        kiln_mount_release(&m[i]);
    }
    rmdir(dir);
}

static int filesystem(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                      struct kiln_error **err)
{
    if (!out->dest)
        return kiln_error_set(err, KILN_E_INVALID, "type=%s needs a destination: dest=%s",
                              out->type == KILN_OUTPUT_TAR ? "tar" : "local",
                              out->type == KILN_OUTPUT_TAR ? "FILE (or - for stdout)" : "DIR");
    if (o->n > 1) {
        _cleanup_free_ char *dir = kiln_xasprintf("%s/platforms-XXXXXX", o->tmp_dir);
        if (!mkdtemp(dir))
            return kiln_error_set_errno(err, -errno, "cannot create a directory in '%s'",
                                        o->tmp_dir);
        _cleanup_free_ struct kiln_mount *m = kiln_xcalloc(o->n, sizeof(*m));
        int r = mount_platforms(o, dir, m, err);
        if (r >= 0)
            r = filesystem_at(o, out, dir, err);
        unmount_platforms(o, dir, m);
        return r;
    }
    struct kiln_mount m = KILN_MOUNT_INIT;
    int r = kiln_mount_state(o->store, o->tops[0], NULL, &m, err);
    if (r >= 0)
        r = filesystem_at(o, out, m.path, err);
    kiln_mount_release(&m);
    return r;
}

static const char *title_of(enum kiln_output_type t)
{
    switch (t) {
    case KILN_OUTPUT_IMAGE: return "exporting to image";
    case KILN_OUTPUT_OCI: return "exporting to oci image format";
    case KILN_OUTPUT_DOCKER: return "exporting to docker image format";
    case KILN_OUTPUT_TAR: return "exporting to client tarball";
    case KILN_OUTPUT_LOCAL: return "exporting to client directory";
    case KILN_OUTPUT_CACHEONLY: break;
    }
    return "exporting cache";
}

static void fill_result(const struct exported *e, const struct kiln_strv *names,
                        struct kiln_build_result *ret)
{
    bool index = e->n > 1;
    snprintf(ret->image_digest, sizeof(ret->image_digest), "%s",
             index ? e->index.digest : e->images[0].digest);
    snprintf(ret->config_digest, sizeof(ret->config_digest), "%s",
             index ? "" : e->images[0].config_digest);
    json_decref(ret->descriptor);
    ret->descriptor =
            index ? kiln_image_index_descriptor(&e->index) : kiln_image_descriptor(&e->images[0]);
    for (size_t i = 0; i < names->n; i++)
        if (kiln_strv_find(&ret->names, names->v[i]) < 0)
            kiln_strv_push(&ret->names, names->v[i]);
}

static int run_one(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                   const char *pid, struct kiln_build_result *ret, struct kiln_error **err)
{
    if (out->type == KILN_OUTPUT_TAR || out->type == KILN_OUTPUT_LOCAL)
        return filesystem(o, out, err);
    bool docker = out->type == KILN_OUTPUT_DOCKER ? out->oci_mediatypes != KILN_DF_TRUE
                                                  : out->oci_mediatypes == KILN_DF_FALSE;
    struct exported e;
    int r = export_image(o, out, docker, pid, &e, err);
    if (r < 0)
        return r;
    const struct kiln_strv *names = names_of(o, out);
    for (size_t i = 0; i < names->n; i++) {
        _cleanup_free_ char *s = kiln_xasprintf("naming to %s", names->v[i]);
        kiln_progress_status(o->env->progress, pid, s, 0, 0, true);
    }
    if (out->type == KILN_OUTPUT_IMAGE && out->push)
        r = push_all(o, &e, names, pid, err);
    else if (out->type != KILN_OUTPUT_IMAGE)
        r = image_tar(o, out, &e, docker, err);
    if (r >= 0)
        fill_result(&e, names, ret);
    exported_release(&e);
    return r;
}

int kiln_outputs_check(const struct kiln_build_request *req, size_t n_platforms,
                       struct kiln_error **err)
{
    for (size_t i = 0; n_platforms > 1 && i < req->n_outputs; i++)
        if (req->outputs[i].type == KILN_OUTPUT_DOCKER)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "docker exporter does not currently support exporting manifest "
                                  "lists: build one --platform for type=docker and --load, or "
                                  "use --push or -o type=oci,dest=FILE");
    return 0;
}

int kiln_outputs_run(const struct kiln_outputs_ctx *o, struct kiln_build_result *ret,
                     struct kiln_error **err)
{
    for (size_t i = 0; i < o->req->n_outputs; i++) {
        const struct kiln_build_output *out = &o->req->outputs[i];
        if (out->type == KILN_OUTPUT_CACHEONLY)
            continue;
        _cleanup_free_ char *pid = kiln_xasprintf("export:%zu", i);
        kiln_progress_start(o->env->progress, pid, title_of(out->type));
        int r = run_one(o, out, pid, ret, err);
        if (r < 0) {
            kiln_progress_error(o->env->progress, pid, kiln_error_message(err ? *err : NULL, r));
            return r;
        }
        kiln_progress_done(o->env->progress, pid);
    }
    return 0;
}

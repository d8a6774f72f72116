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
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
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

static int export_image(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                        bool docker, const char *pid, struct kiln_image *img,
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
                             o->graph, o->top, &eo, o->env->progress, pid, img, err);
}

static int push_all(const struct kiln_outputs_ctx *o, const struct kiln_image *img,
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
        int r = kiln_image_push(o->store, img, names->v[i], &po, err);
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

static int image_tar(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                     const struct kiln_image *img, bool docker, struct kiln_error **err)
{
    struct kiln_export_image ei = {.digest = img->digest,
                                   .media_type = img->media_type,
                                   .size = img->size,
                                   .names = names_of(o, out)};
    if (docker && !out->dest)
        return kiln_docker_load(o->env->docker_socket ? o->env->docker_socket
                                                      : "/var/run/docker.sock",
                                o->store, &ei, o->tmp_dir, err);
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

static int filesystem(const struct kiln_outputs_ctx *o, const struct kiln_build_output *out,
                      struct kiln_error **err)
{
    if (!out->dest)
        return kiln_error_set(err, KILN_E_INVALID, "type=%s needs a destination: dest=%s",
                              out->type == KILN_OUTPUT_TAR ? "tar" : "local",
                              out->type == KILN_OUTPUT_TAR ? "FILE (or - for stdout)" : "DIR");
    struct kiln_mount m = KILN_MOUNT_INIT;
    int r = kiln_mount_state(o->store, o->top, NULL, &m, err);
    if (r < 0)
        return r;
    struct kiln_export_fs_opts fo = {.has_epoch = o->req->has_epoch, .epoch = o->req->epoch};
    if (out->type == KILN_OUTPUT_LOCAL) {
        r = kiln_export_local(m.path, out->dest, &fo, err);
    } else {
        struct dest_file f;
        r = dest_open(out->dest, &f, err);
        if (r >= 0)
            r = dest_close(&f, out->dest,
                           kiln_export_tar(m.path, &fo, kiln_oci_fd_write, &f.fd, err), err);
    }
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

static void fill_result(const struct kiln_image *img, const struct kiln_strv *names,
                        struct kiln_build_result *ret)
{
    snprintf(ret->image_digest, sizeof(ret->image_digest), "%s", img->digest);
    snprintf(ret->config_digest, sizeof(ret->config_digest), "%s", img->config_digest);
    json_decref(ret->descriptor);
    ret->descriptor = kiln_image_descriptor(img);
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
    struct kiln_image img;
    int r = export_image(o, out, docker, pid, &img, err);
    if (r < 0)
        return r;
    const struct kiln_strv *names = names_of(o, out);
    for (size_t i = 0; i < names->n; i++) {
        _cleanup_free_ char *s = kiln_xasprintf("naming to %s", names->v[i]);
        kiln_progress_status(o->env->progress, pid, s, 0, 0, true);
    }
    if (out->type == KILN_OUTPUT_IMAGE && out->push)
        r = push_all(o, &img, names, pid, err);
    else if (out->type != KILN_OUTPUT_IMAGE)
        r = image_tar(o, out, &img, docker, err);
    if (r >= 0)
        fill_result(&img, names, ret);
    kiln_image_release(&img);
    return r;
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

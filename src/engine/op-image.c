/* SPDX-License-Identifier: Apache-2.0 */
/*
 * op-image.c - an image's filesystem: each layer pulled into the content
 * store (digest verified), applied to a snapshot of its own on top of the
 * one below, and remembered by chain id, so a retagged image with the same
 * layers reuses them (docs/internals/engine.md, "Image sources").
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "layers.h"
#include "oci/layer.h"
#include "resolve.h"
#include "solver.h"
#include "store/cache.h"
#include "store/content.h"

#include "base/banned.h"

struct fetch_ctx {
    struct kiln_content_writer *w;
    struct kiln_progress *progress;
    const char *id, *digest;
    uint64_t done, total;
};

static int fetch_write(void *data, const void *buf, size_t len, struct kiln_error **err)
{
    struct fetch_ctx *f = data;
    f->done += len;
    kiln_progress_status(f->progress, f->id, f->digest, f->done, f->total, false);
    return kiln_content_write(f->w, buf, len, err);
}

/* Makes sure the blob of `layer` is in the content store. */
static int fetch_blob(struct kiln_op_ctx *ctx, const struct kiln_resolved_image *im,
                      const struct kiln_oci_descriptor *layer, struct kiln_registry_client **client,
                      struct kiln_error **err)
{
    int r = kiln_content_exists(ctx->store, layer->digest, err);
    if (r != 0)
        return r < 0 ? r : 0;
    if (!*client &&
        (r = kiln_registry_open(im->domain, ctx->sv->resolver->insecure, client, err)) < 0)
        return r;
    struct kiln_content_expect e = {
            .digest = layer->digest, .size = layer->size, .media_type = layer->media_type};
    _cleanup_(kiln_content_writer_freep) struct kiln_content_writer *w = NULL;
    if ((r = kiln_content_writer_open(ctx->store, &e, ctx->lease, &w, err)) < 0)
        return r;
    struct fetch_ctx f = {.w = w,
                          .progress = ctx->sv->progress,
                          .id = ctx->progress_id,
                          .digest = layer->digest,
                          .total = (uint64_t)layer->size};
    r = kiln_registry_blob_get(*client, im->path, layer->digest, layer->size, fetch_write, &f, err);
    if (r >= 0)
        r = kiln_content_commit(w, NULL, err);
    if (r >= 0)
        kiln_progress_status(ctx->sv->progress, ctx->progress_id, layer->digest, f.done, f.total,
                             true);
    return r;
}

/* Applies blob `digest` on `parent` into a new committed snapshot. */
static int unpack(struct kiln_op_ctx *ctx, const char *parent, const char *digest,
                  const char *diff_id, char ret[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    int r = kiln_snapshot_prepare(ctx->store, *parent ? parent : NULL, ctx->lease, ret, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *fs = NULL;
    int fd = -1;
    struct kiln_oci_apply_opts o = {.whiteouts = KILN_OCI_WHITEOUT_OVERLAY, .allow_devices = true};
    struct kiln_oci_apply_stats st;
    _cleanup_free_ char *what = kiln_xasprintf("extracting %s", digest);
    kiln_progress_status(ctx->sv->progress, ctx->progress_id, what, 0, 0, false);
    r = kiln_snapshot_path(ctx->store, ret, &fs, err);
    if (r >= 0)
        r = kiln_content_open(ctx->store, digest, &fd, err);
    if (r >= 0)
        r = kiln_oci_layer_apply(fs, fd, &o, &st, err);
    if (fd >= 0)
        close(fd);
    if (r >= 0 && strcmp(st.diff_id, diff_id) != 0)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "layer %s unpacks to %s, but the image config says %s", digest,
                           st.diff_id, diff_id);
    if (r >= 0)
        r = kiln_snapshot_commit(ctx->store, ret, NULL, err);
    if (r < 0) {
        kiln_snapshot_remove(ctx->store, ret, NULL);
        return kiln_error_wrap(err, r, "unpack layer %s", digest);
    }
    kiln_progress_status(ctx->sv->progress, ctx->progress_id, what, 0, 0, true);
    return 0;
}

static int diff_ids(const struct kiln_resolved_image *im, const char ***ret,
                    struct kiln_error **err)
{
    json_t *ids = json_object_get(json_object_get(im->config, "rootfs"), "diff_ids");
    size_t n = json_array_size(ids);
    if (n != im->manifest->n_layers)
        return kiln_error_set(err, KILN_E_INVALID,
                              "image %s: its config lists %zu layers, its manifest %zu", im->pinned,
                              n, im->manifest->n_layers);
    const char **v = kiln_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(ids, i));
        if (!v[i] || kiln_oci_digest_validate(v[i], NULL) < 0) {
            free(v);
            return kiln_error_set(err, KILN_E_INVALID, "image %s: diff_ids[%zu] is not a digest",
                                  im->pinned, i);
        }
    }
    *ret = v;
    return 0;
}

int kiln_op_image(struct kiln_op_ctx *ctx, const struct kiln_vertex *v,
                  char ret_snapshot[KILN_SNAPSHOT_ID_SIZE], struct kiln_error **err)
{
    const struct kiln_resolved_image *im =
            kiln_resolver_find(ctx->sv->resolver, v->image.ref, &v->image.platform);
    if (!im)
        return kiln_error_set(err, KILN_E_INVALID, "image %s was not resolved", v->image.ref);
    _cleanup_free_ const char **ids = NULL;
    int r = diff_ids(im, &ids, err);
    if (r < 0)
        return r;
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *client = NULL;
    char parent[KILN_SNAPSHOT_ID_SIZE] = "";
    char chain[KILN_OCI_DIGEST_MAX] = "";
    for (size_t i = 0; i < im->manifest->n_layers; i++) {
        const struct kiln_oci_descriptor *layer = &im->manifest->layers[i];
        kiln_layer_chain_id(chain, ids[i], chain);
        _cleanup_free_ char *key = kiln_xasprintf("layer:%s", chain);
        _cleanup_(kiln_cache_record_freep) struct kiln_cache_record *hit = NULL;
        _cleanup_(kiln_lease_freep) struct kiln_lease *flight = NULL;
        r = kiln_cache_begin(ctx->store, ctx->sv->builder, key, &hit, &flight, err);
        if (r < 0)
            return r;
        if (r == 1 && hit->snapshot) {
            snprintf(parent, sizeof(parent), "%s", hit->snapshot);
            continue;
        }
        char snap[KILN_SNAPSHOT_ID_SIZE];
        if ((r = fetch_blob(ctx, im, layer, &client, err)) < 0 ||
            (r = unpack(ctx, parent, layer->digest, ids[i], snap, err)) < 0)
            return r;
        struct kiln_cache_entry e = {
                .builder = ctx->sv->builder, .key = key, .snapshot = snap, .diff_id = ids[i]};
        int64_t id;
        if ((r = kiln_cache_insert(ctx->store, &e, &id, err)) < 0 ||
            (r = kiln_layer_remember(ctx->store, ctx->sv->builder, snap, ids[i], layer, err)) < 0)
            return r;
        memcpy(parent, snap, sizeof(parent));
    }
    memcpy(ret_snapshot, parent, KILN_SNAPSHOT_ID_SIZE);
    return 0;
}

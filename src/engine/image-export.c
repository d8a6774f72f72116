/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image-export.c - layers, config and manifest of a built state
 * (docs/internals/engine.md, "Export").
 */
#include "image-export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "jobs.h"
#include "store/content.h"
#include "store/snapshot.h"

#include "base/banned.h"

#define OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_CONFIG   "application/vnd.docker.container.image.v1+json"
#define OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define DOCKER_LIST     "application/vnd.docker.distribution.manifest.list.v2+json"
/* Threads computing layers at once (the compressor itself uses every core). */
#define LAYER_WORKERS 2u

void kiln_image_release(struct kiln_image *img)
{
    free(img->layers);
    free(img->layer_times);
    *img = (struct kiln_image){0};
}

json_t *kiln_image_descriptor(const struct kiln_image *img)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", img->media_type, "digest", img->digest, "size",
                     (json_int_t)img->size);
}

/* The snapshot ids of top's chain, base first. */
static int chain_ids(struct kiln_store *s, const char *top, char (**ret)[KILN_SNAPSHOT_ID_SIZE],
                     size_t *ret_n, struct kiln_error **err)
{
    char(*ids)[KILN_SNAPSHOT_ID_SIZE] = NULL;
    size_t n = 0, alloc = 0;
    char cur[KILN_SNAPSHOT_ID_SIZE];
    snprintf(cur, sizeof(cur), "%s", top ? top : "");
    while (*cur) {
        struct kiln_snapshot_info info;
        int r = kiln_snapshot_stat(s, cur, &info, err);
        if (r < 0) {
            free(ids);
            return r;
        }
        KILN_GROW(ids, alloc, n + 1);
        memcpy(ids[n++], cur, sizeof(cur));
        memcpy(cur, info.parent, sizeof(cur));
    }
    for (size_t i = 0; i < n / 2; i++) {
        char t[KILN_SNAPSHOT_ID_SIZE];
        memcpy(t, ids[i], sizeof(t));
        memcpy(ids[i], ids[n - 1 - i], sizeof(t));
        memcpy(ids[n - 1 - i], t, sizeof(t));
    }
    *ret = ids;
    *ret_n = n;
    return 0;
}

struct layer_jobs {
    const char *dir, *builder;
    const char (*ids)[KILN_SNAPSHOT_ID_SIZE];
    struct kiln_oci_layer_opts lo;
    struct kiln_layer_blob *out;
};

/* A worker's own store handle and lease. */
struct layer_worker {
    struct kiln_store *s;
    struct kiln_lease *lease;
};

static int layer_init(void *shared, void **ret_local, struct kiln_error **err)
{
    struct layer_jobs *j = shared;
    struct layer_worker *w = kiln_xcalloc(1, sizeof(*w));
    *ret_local = w;
    int r = kiln_store_open(j->dir, &w->s, err);
    return r < 0 ? r : kiln_store_lease_new(w->s, &w->lease, err);
}

static void layer_fini(void *local)
{
    struct layer_worker *w = local;
    kiln_lease_free(w->lease);
    kiln_store_close(w->s);
    free(w);
}

static int layer_job(void *shared, void *local, size_t i, struct kiln_error **err)
{
    struct layer_jobs *j = shared;
    struct layer_worker *w = local;
    return kiln_layer_compute(w->s, w->lease, j->builder, j->ids[i], &j->lo, &j->out[i], err);
}

/* Fills img->layers: remembered blobs, the rest computed on parallel workers. */
static int export_layers(struct kiln_store *s, const char *builder, const char *top,
                         const struct kiln_image_export_opts *o, struct kiln_image *img,
                         struct kiln_error **err)
{
    _cleanup_free_ char(*ids)[KILN_SNAPSHOT_ID_SIZE] = NULL;
    size_t n = 0;
    int r = chain_ids(s, top, &ids, &n, err);
    if (r < 0)
        return r;
    img->layers = kiln_xcalloc(n ? n : 1, sizeof(*img->layers));
    img->layer_times = kiln_xcalloc(n ? n : 1, sizeof(*img->layer_times));
    img->n_layers = n;
    for (size_t i = 0; i < n; i++) {
        struct kiln_snapshot_info info;
        if ((r = kiln_snapshot_stat(s, ids[i], &info, err)) < 0)
            return r;
        img->layer_times[i] = info.created;
    }
    _cleanup_free_ bool *todo = kiln_xcalloc(n ? n : 1, sizeof(*todo));
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        struct kiln_layer_epoch e = {.has_epoch = o->has_epoch, .epoch = o->epoch};
        r = kiln_layer_lookup(s, builder, ids[i], o->compression, o->force_compression, &e,
                              &img->layers[i], err);
        if (r < 0)
            return r;
        todo[i] = r == 0;
        missing += r == 0;
    }
    if (!missing)
        return 0;
    struct layer_jobs j = {
            .dir = kiln_store_dir(s),
            .builder = builder,
            .ids = (const char(*)[KILN_SNAPSHOT_ID_SIZE])ids,
            .lo = {.compression = o->compression,
                   .level = o->level,
                   .has_epoch = o->has_epoch,
                   .epoch = o->epoch,
                   .docker_media_type = o->docker_media_types},
            .out = img->layers,
    };
    bool *done = todo;
    for (size_t i = 0; i < n; i++)
        done[i] = !todo[i];
    return kiln_jobs_run(n, done, LAYER_WORKERS, layer_init, layer_fini, layer_job, &j, err);
}

/* Go's RFC3339Nano of a UTC time. */
static void format_time(int64_t ns, char out[64])
{
    time_t sec = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac) {
        char f[16];
        snprintf(f, sizeof(f), ".%09ld", frac);
        size_t k = strlen(f);
        while (f[k - 1] == '0')
            f[--k] = '\0';
        snprintf(out + n, 64 - n, "%sZ", f);
    } else {
        snprintf(out + n, 64 - n, "Z");
    }
}

/* A new history entry's time, clamped to SOURCE_DATE_EPOCH when there is one. */
static json_t *time_json(int64_t ns, const struct kiln_image_export_opts *o)
{
    if (o->has_epoch && ns > o->epoch * 1000000000)
        ns = o->epoch * 1000000000;
    char t[64];
    format_time(ns, t);
    return json_string(t);
}

/*
 * The history entries this build added get the time their layer was made
 * (the snapshot's creation, so a warm rebuild writes the same config);
 * entries without a layer take the time before them, else the next layer's.
 */
static void fill_history_times(json_t *hist, const struct kiln_image *img,
                               const struct kiln_image_export_opts *o)
{
    int64_t fallback = img->n_layers ? img->layer_times[img->n_layers - 1] : o->now_ns;
    int64_t prev = -1;
    size_t layer = 0, i;
    json_t *h;
    json_array_foreach (hist, i, h) {
        bool empty = json_is_true(json_object_get(h, "empty_layer"));
        int64_t t = !empty && layer < img->n_layers ? img->layer_times[layer] : prev;
        layer += !empty;
        if (json_object_get(h, "created"))
            continue;
        if (t < 0) { /* an empty entry before any new layer: the next layer's time */
            t = fallback;
            size_t l = layer;
            for (size_t k = i + 1; k < json_array_size(hist); k++)
                if (!json_is_true(json_object_get(json_array_get(hist, k), "empty_layer"))) {
                    if (l < img->n_layers)
                        t = img->layer_times[l];
                    break;
                }
        }
        json_object_set_new(h, "created", time_json(t, o));
        prev = t;
    }
}

static json_t *make_config(const struct kiln_graph *g, const struct kiln_image *img,
                           const struct kiln_image_export_opts *o)
{
    json_t *c = g->config ? json_deep_copy(g->config) : json_object();
    json_t *ids = json_array();
    for (size_t i = 0; i < img->n_layers; i++)
        json_array_append_new(ids, json_string(img->layers[i].diff_id));
    json_object_set_new(c, "rootfs", json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));
    json_t *hist = json_object_get(c, "history");
    fill_history_times(hist, img, o);
    json_t *last = json_array_get(hist, json_array_size(hist) - 1);
    json_t *created = last ? json_object_get(last, "created") : NULL;
    json_object_set_new(
            c, "created",
            created ? json_incref(created)
                    : time_json(img->n_layers ? img->layer_times[img->n_layers - 1] : o->now_ns,
                                o));
    return c;
}

static int put_json(struct kiln_store *s, struct kiln_lease *lease, json_t *j, size_t flags,
                    const char *media_type, char digest[KILN_OCI_DIGEST_MAX], uint64_t *size,
                    struct kiln_error **err)
{
    char *text = json_dumps(j, flags);
    if (!text)
        return kiln_error_set(err, -ENOMEM, "cannot encode %s", media_type);
    size_t len = strlen(text);
    struct kiln_content_expect e = {.size = (int64_t)len, .media_type = media_type};
    int r = kiln_content_put(s, &e, lease, text, len, digest, err);
    free(text);
    *size = len;
    return r;
}

static json_t *make_manifest(const struct kiln_image *img, bool docker)
{
    json_t *layers = json_array();
    for (size_t i = 0; i < img->n_layers; i++) {
        const struct kiln_layer_blob *b = &img->layers[i];
        const char *mt = kiln_oci_compression_media_type(b->compression, docker);
        if (!mt) /* zstd has no Docker media type: BuildKit writes the OCI one */
            mt = kiln_oci_compression_media_type(b->compression, false);
        json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest",
                                                b->digest, "size", (json_int_t)b->size));
    }
    return json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                     img->media_type, "config", "mediaType", img->config_media_type, "digest",
                     img->config_digest, "size", (json_int_t)img->config_size, "layers", layers);
}

int kiln_image_export(struct kiln_store *s, struct kiln_lease *lease, const char *builder,
                      const struct kiln_graph *g, const char *top,
                      const struct kiln_image_export_opts *o, struct kiln_progress *p,
                      const char *pid, struct kiln_image *ret, struct kiln_error **err)
{
    *ret = (struct kiln_image){0};
    ret->media_type = o->docker_media_types ? DOCKER_MANIFEST : OCI_MANIFEST;
    ret->config_media_type = o->docker_media_types ? DOCKER_CONFIG : OCI_CONFIG;
    kiln_progress_status(p, pid, "exporting layers", 0, 0, false);
    int r = export_layers(s, builder, top, o, ret, err);
    if (r < 0)
        goto fail;
    kiln_progress_status(p, pid, "exporting layers", 0, 0, true);
    json_t *config = make_config(g, ret, o);
    r = put_json(s, lease, config, JSON_COMPACT | JSON_SORT_KEYS, ret->config_media_type,
                 ret->config_digest, &ret->config_size, err);
    json_decref(config);
    if (r < 0)
        goto fail;
    json_t *manifest = make_manifest(ret, o->docker_media_types);
    r = put_json(s, lease, manifest, JSON_INDENT(2), ret->media_type, ret->digest, &ret->size, err);
    json_decref(manifest);
    if (r < 0)
        goto fail;
    _cleanup_free_ char *m = kiln_xasprintf("exporting manifest %s", ret->digest);
    _cleanup_free_ char *c = kiln_xasprintf("exporting config %s", ret->config_digest);
    kiln_progress_status(p, pid, m, 0, 0, true);
    kiln_progress_status(p, pid, c, 0, 0, true);
    return 0;
fail:
    kiln_image_release(ret);
    return r;
}

json_t *kiln_image_index_descriptor(const struct kiln_image_index *idx)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", idx->media_type, "digest", idx->digest, "size",
                     (json_int_t)idx->size);
}

/* A platform as Go encodes the image-spec's: architecture, os, os.version, os.features, variant. */
static json_t *platform_json(const struct kiln_oci_platform *p)
{
    json_t *j = json_pack("{s:s, s:s}", "architecture", p->architecture ? p->architecture : "",
                          "os", p->os ? p->os : "");
    if (p->os_version && *p->os_version)
        json_object_set_new(j, "os.version", json_string(p->os_version));
    if (p->os_features.n) {
        json_t *f = json_array();
        for (size_t i = 0; i < p->os_features.n; i++)
            json_array_append_new(f, json_string(p->os_features.v[i]));
        json_object_set_new(j, "os.features", f);
    }
    if (p->variant && *p->variant)
        json_object_set_new(j, "variant", json_string(p->variant));
    return j;
}

int kiln_image_index_export(struct kiln_store *s, struct kiln_lease *lease,
                            const struct kiln_image *imgs,
                            const struct kiln_oci_platform *const *platforms, size_t n,
                            bool docker_media_types, struct kiln_progress *p, const char *pid,
                            struct kiln_image_index *ret, struct kiln_error **err)
{
    *ret = (struct kiln_image_index){.media_type = docker_media_types ? DOCKER_LIST : OCI_INDEX};
    json_t *manifests = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *d = kiln_image_descriptor(&imgs[i]);
        json_object_set_new(d, "platform", platform_json(platforms[i]));
        json_array_append_new(manifests, d);
    }
    json_t *index = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", ret->media_type,
                              "manifests", manifests);
    int r = put_json(s, lease, index, JSON_INDENT(2), ret->media_type, ret->digest, &ret->size,
                     err);
    json_decref(index);
    if (r < 0)
        return r;
    _cleanup_free_ char *m = kiln_xasprintf("exporting manifest list %s", ret->digest);
    kiln_progress_status(p, pid, m, 0, 0, true);
    return 0;
}

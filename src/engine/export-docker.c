/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-docker.c - type=docker: the OCI layout plus the manifest.json that
 * `docker load` reads, as containerd's archive exporter writes it for
 * BuildKit's docker exporter (no "repositories" file).
 */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "export.h"
#include "layers.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"

#include "base/banned.h"

/* `"blobs/sha256/<hex>"`, for a digest all_sha256() has seen. */
static int add_blob_path(struct kiln_buf *b, const char *digest)
{
    return kiln_buf_addf(b, "\"blobs/sha256/%s\"", digest + strlen("sha256:"));
}

static bool all_sha256(const struct kiln_oci_manifest *m)
{
    bool ok = m->config.digest && !strncmp(m->config.digest, "sha256:", 7);
    for (size_t i = 0; ok && i < m->n_layers; i++)
        ok = m->layers[i].digest && !strncmp(m->layers[i].digest, "sha256:", 7);
    return ok;
}

static int add_repo_tags(struct kiln_buf *b, const struct kiln_export_image *img,
                         struct kiln_error **err)
{
    size_t n = img->names ? img->names->n : 0;
    if (n == 0)
        return kiln_buf_adds(b, "null");
    int r = kiln_buf_addch(b, '[');
    for (size_t i = 0; r >= 0 && i < n; i++) {
        _cleanup_free_ char *tag = kiln_export_normalize_name(img->names->v[i], true, err);
        if (!tag)
            return KILN_E_INVALID;
        /* The reference grammar allows no character that JSON would escape. */
        r = kiln_buf_addf(b, "%s\"%s\"", i ? "," : "", tag);
    }
    return r < 0 ? r : kiln_buf_addch(b, ']');
}

/* [{"Config":...,"RepoTags":[...],"Layers":[...]}]: json.Marshal of containerd's struct. */
static int manifest_json(struct kiln_store *s, const struct kiln_export_image *img,
                         struct kiln_buf *out, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf json = KILN_BUF_INIT(KILN_MANIFEST_MAX + 1);
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    int r = kiln_export_read_blob(s, img->digest, KILN_MANIFEST_MAX, &json, err);
    if (r >= 0)
        r = kiln_oci_manifest_parse(json.buf, json.len, 0, &m, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "manifest '%s'", img->digest);
    if (!all_sha256(m))
        return kiln_error_set(err, KILN_E_INVALID,
                              "manifest '%s' references a blob that is not sha256", img->digest);
    r = kiln_buf_adds(out, "[{\"Config\":");
    if (r >= 0)
        r = add_blob_path(out, m->config.digest);
    if (r >= 0)
        r = kiln_buf_adds(out, ",\"RepoTags\":");
    if (r >= 0)
        r = add_repo_tags(out, img, err);
    if (r == KILN_E_INVALID)
        return r;
    if (r >= 0)
        r = kiln_buf_adds(out, m->n_layers ? ",\"Layers\":[" : ",\"Layers\":null");
    for (size_t i = 0; r >= 0 && i < m->n_layers; i++) {
        r = i ? kiln_buf_addch(out, ',') : 0;
        if (r >= 0)
            r = add_blob_path(out, m->layers[i].digest);
    }
    if (r >= 0)
        r = kiln_buf_adds(out, m->n_layers ? "]}]" : "}]");
    return r < 0 ? kiln_error_set(err, r, "manifest.json passes %zu bytes", out->max) : 0;
}

/*
 * The layer blobs of img that the engine the tar is for has already (their
 * chain ids in img->engine_has): `docker load` reads a layer only when it
 * lacks its chain, so they are left out of the tar.
 */
static int layers_had(struct kiln_store *s, const struct kiln_export_image *img,
                      struct kiln_strv *skip, struct kiln_error **err)
{
    if (!img->engine_has || !img->engine_has->n)
        return 0;
    _cleanup_buf_ struct kiln_buf json = KILN_BUF_INIT(KILN_MANIFEST_MAX + 1);
    _cleanup_buf_ struct kiln_buf config = KILN_BUF_INIT(KILN_CONFIG_MAX + 1);
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    int r = kiln_export_read_blob(s, img->digest, KILN_MANIFEST_MAX, &json, err);
    if (r >= 0)
        r = kiln_oci_manifest_parse(json.buf, json.len, 0, &m, err);
    if (r >= 0)
        r = kiln_export_read_blob(s, m->config.digest, KILN_CONFIG_MAX, &config, err);
    if (r < 0)
        return r;
    json_t *cfg = json_loadb(config.buf, config.len, 0, NULL);
    json_t *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
    char chain[KILN_OCI_DIGEST_MAX] = "";
    for (size_t i = 0; i < m->n_layers && i < json_array_size(diffs); i++) {
        const char *diff = json_string_value(json_array_get(diffs, i));
        if (!diff || kiln_oci_digest_validate(diff, NULL) < 0)
            break;
        kiln_layer_chain_id(chain, diff, chain);
        for (size_t j = 0; j < img->engine_has->n; j++)
            if (strcmp(img->engine_has->v[j], chain) == 0) {
                kiln_strv_push(skip, m->layers[i].digest);
                break;
            }
    }
    json_decref(cfg);
    return 0;
}

int kiln_export_docker_tar(struct kiln_store *s, const struct kiln_export_image *img,
                           kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    if (!img->media_type || !kiln_oci_mediatype_is_manifest(img->media_type))
        return kiln_error_set(err, KILN_E_INVALID,
                              "type=docker: '%s' is not an image manifest but %s; docker loads "
                              "one platform: build one (--platform) or use -o type=oci,dest=FILE",
                              img->digest ? img->digest : "",
                              img->media_type ? img->media_type : "untyped");
    _cleanup_buf_ struct kiln_buf index = KILN_BUF_INIT(KILN_MANIFEST_MAX);
    _cleanup_buf_ struct kiln_buf manifest = KILN_BUF_INIT(KILN_MANIFEST_MAX);
    _cleanup_strv_ struct kiln_strv skip = KILN_STRV_INIT;
    int r = kiln_export_index_json(s, img, &index, err);
    if (r >= 0)
        r = manifest_json(s, img, &manifest, err);
    if (r >= 0)
        r = layers_had(s, img, &skip, err);
    if (r >= 0)
        r = kiln_export_layout_write(s, img, &index, &manifest, &skip, out, userdata, err);
    return r < 0 ? kiln_error_wrap(err, r, "type=docker") : r;
}

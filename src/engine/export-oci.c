/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-oci.c - type=oci: the image as an OCI layout tar, and the
 * index.json that the oci and docker exporters share.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "export.h"
#include "oci/config.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/reference.h"

#include "base/banned.h"

/*
 * containerd's ociReferenceName: the part after the first ':' of the path
 * (the tag), or the whole name when the path has none or names a digest.
 */
static const char *oci_ref_name(const char *name)
{
    const char *slash = strchr(name, '/');
    const char *sep = slash ? strpbrk(slash, ":@") : NULL;
    return sep && *sep == ':' && sep[1] ? sep + 1 : name;
}

/* reference.TagNameOnly(ParseNormalizedNamed(name)), full or familiar; caller frees. */
char *kiln_export_normalize_name(const char *name, bool familiar, struct kiln_error **err)
{
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    int r = kiln_oci_ref_parse_normalized(name, &ref, err);
    if (r < 0) {
        kiln_error_wrap(err, r, "image name '%s'", name);
        return NULL;
    }
    kiln_oci_ref_tag_name_only(ref);
    return kiln_oci_ref_string(ref, familiar);
}

static void copy_platform(struct kiln_oci_platform **dst, const struct kiln_oci_platform *p)
{
    if (!p)
        return;
    *dst = kiln_xcalloc(1, sizeof(**dst));
    (*dst)->architecture = p->architecture ? kiln_xstrdup(p->architecture) : NULL;
    (*dst)->os = p->os ? kiln_xstrdup(p->os) : NULL;
    (*dst)->os_version = p->os_version ? kiln_xstrdup(p->os_version) : NULL;
    (*dst)->variant = p->variant ? kiln_xstrdup(p->variant) : NULL;
    (*dst)->os_features = (struct kiln_strv)KILN_STRV_INIT;
    for (size_t i = 0; i < p->os_features.n; i++)
        kiln_strv_push(&(*dst)->os_features, p->os_features.v[i]);
}

/* The platform of a manifest's config (BuildKit sets the build platform there). */
static int image_platform(struct kiln_store *s, const char *manifest_digest,
                          struct kiln_oci_platform **ret, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf json = KILN_BUF_INIT(KILN_CONFIG_MAX + 1);
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    _cleanup_(kiln_oci_config_freep) struct kiln_oci_config *c = NULL;
    int r = kiln_export_read_blob(s, manifest_digest, KILN_MANIFEST_MAX, &json, err);
    if (r >= 0)
        r = kiln_oci_manifest_parse(json.buf, json.len, 0, &m, err);
    if (r >= 0 && !kiln_oci_mediatype_is_config(m->config.media_type ? m->config.media_type : ""))
        return 0; /* an artifact: no platform to tell */
    kiln_buf_reset(&json);
    if (r >= 0)
        r = kiln_export_read_blob(s, m->config.digest, KILN_CONFIG_MAX, &json, err);
    if (r >= 0)
        r = kiln_oci_config_parse(json.buf, json.len, 0, &c, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "image '%s'", manifest_digest);
    copy_platform(ret, &c->platform);
    return 0;
}

/* time.RFC3339 in UTC: the epoch when given, else now (as BuildKit's exporter). */
static void created_at(const struct kiln_export_image *img, char out[32])
{
    time_t t = img->has_epoch ? (time_t)img->epoch : time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One index.json entry: the image's descriptor with its name annotations. */
static void fill_entry(struct kiln_oci_descriptor *d, const struct kiln_export_image *img,
                       const char *name, const char *created, const struct kiln_oci_platform *p)
{
    d->media_type = kiln_xstrdup(img->media_type);
    d->digest = kiln_xstrdup(img->digest);
    d->size = (int64_t)img->size;
    d->urls = (struct kiln_strv)KILN_STRV_INIT;
    kiln_oci_map_set(&d->annotations, "org.opencontainers.image.created", created);
    if (name) {
        kiln_oci_map_set(&d->annotations, "io.containerd.image.name", name);
        kiln_oci_map_set(&d->annotations, "org.opencontainers.image.ref.name", oci_ref_name(name));
    }
    copy_platform(&d->platform, p);
}

int kiln_export_index_json(struct kiln_store *s, const struct kiln_export_image *img,
                           struct kiln_buf *out, struct kiln_error **err)
{
    size_t n_names = img->names ? img->names->n : 0;
    if (n_names > KILN_EXPORT_NAMES_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "%zu image names, more than %u", n_names,
                              KILN_EXPORT_NAMES_MAX);
    if (!img->media_type || !img->digest)
        return kiln_error_set(err, KILN_E_INVALID, "the image has no digest or media type");
    struct kiln_oci_platform *platform = NULL;
    int r = 0;
    if (kiln_oci_mediatype_is_manifest(img->media_type))
        r = image_platform(s, img->digest, &platform, err);
    _cleanup_(kiln_oci_index_freep) struct kiln_oci_index *idx = kiln_xcalloc(1, sizeof(*idx));
    idx->schema_version = 2;
    idx->media_type = kiln_xstrdup(KILN_OCI_MT_INDEX);
    idx->manifests = kiln_xcalloc(n_names ? n_names : 1, sizeof(*idx->manifests));
    char created[32];
    created_at(img, created);
    for (size_t i = 0; r >= 0 && i < (n_names ? n_names : 1); i++) {
        _cleanup_free_ char *name =
                n_names ? kiln_export_normalize_name(img->names->v[i], false, err) : NULL;
        if (n_names && !name) {
            r = KILN_E_INVALID;
            break;
        }
        fill_entry(&idx->manifests[i], img, name, created, platform);
        idx->n_manifests++;
    }
    if (platform) {
        kiln_oci_platform_release(platform);
        free(platform);
    }
    if (r >= 0 && kiln_oci_index_to_json(idx, KILN_OCI_JSON_SPEC_ORDER, out) < 0)
        r = kiln_error_set(err, KILN_E_LIMIT, "index.json passes %zu bytes", out->max);
    return r;
}

int kiln_export_oci_tar(struct kiln_store *s, const struct kiln_export_image *img,
                        kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    _cleanup_buf_ struct kiln_buf index = KILN_BUF_INIT(KILN_MANIFEST_MAX);
    int r = kiln_export_index_json(s, img, &index, err);
    if (r >= 0)
        r = kiln_export_layout_write(s, img, &index, NULL, NULL, out, userdata, err);
    return r < 0 ? kiln_error_wrap(err, r, "type=oci") : r;
}

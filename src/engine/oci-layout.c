/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci-layout.c - an image and all it references as an OCI image layout in a
 * tar stream, entry for entry as containerd's archive exporter (which
 * BuildKit's oci and docker exporters call) writes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/cleanup.h"
#include "base/limits.h"
#include "export.h"
#include "oci/digest.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/tar.h"
#include "store/content.h"

#include "base/banned.h"

/* An index inside an index inside ...: deeper than any real image nests. */
#define NESTING_MAX 8u
/* Bytes read from a blob at a time. */
#define COPY_CHUNK (128u * 1024)

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* Copies `size` bytes of fd to out, checking they have `digest`. */
static int copy_verified(int fd, const char *digest, uint64_t size, kiln_oci_write_fn out, void *ud,
                         struct kiln_error **err)
{
    struct kiln_oci_digester d;
    int r = kiln_oci_digester_init(&d, KILN_OCI_SHA256, err);
    _cleanup_free_ char *chunk = kiln_xmalloc(COPY_CHUNK);
    for (uint64_t left = size; r >= 0 && left;) {
        ssize_t n = read(fd, chunk, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? kiln_error_set_errno(err, -errno, "cannot read blob '%s'", digest)
                      : kiln_error_set(err, KILN_E_INVALID,
                                       "blob '%s' is shorter than the store says; the store is "
                                       "damaged",
                                       digest);
            break;
        }
        r = kiln_oci_digester_update(&d, chunk, (size_t)n, err);
        if (r >= 0)
            r = out(ud, chunk, (size_t)n, err);
        left -= (uint64_t)n;
    }
    char got[KILN_OCI_DIGEST_MAX];
    if (r >= 0)
        r = kiln_oci_digester_final(&d, got, err);
    kiln_oci_digester_release(&d);
    if (r >= 0 && strcmp(got, digest))
        r = kiln_error_set(err, KILN_E_INVALID,
                           "blob '%s' in the store has digest %s; the store is damaged: delete "
                           "the blob and build the image again",
                           digest, got);
    return r;
}

static int buf_append(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    struct kiln_buf *b = userdata;
    int r = kiln_buf_add(b, data, len);
    return r < 0 ? kiln_error_set(err, r, "a document passes %zu bytes", b->max) : 0;
}

int kiln_export_read_blob(struct kiln_store *s, const char *digest, size_t max,
                          struct kiln_buf *out, struct kiln_error **err)
{
    uint64_t size;
    int r = kiln_content_size(s, digest, &size, err);
    if (r < 0)
        return r;
    if (size > max)
        return kiln_error_set(err, KILN_E_LIMIT, "blob '%s' has %llu bytes, more than %zu", digest,
                              (unsigned long long)size, max);
    _cleanup_close_ int fd = -1;
    r = kiln_content_open(s, digest, &fd, err);
    return r < 0 ? r : copy_verified(fd, digest, size, buf_append, out, err);
}

static int collect(struct kiln_store *s, const char *digest, const char *media_type, unsigned depth,
                   struct kiln_strv *blobs, struct kiln_error **err);

static int collect_manifest(struct kiln_store *s, const char *json, size_t len,
                            struct kiln_strv *blobs, struct kiln_error **err)
{
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    int r = kiln_oci_manifest_parse(json, len, 0, &m, err);
    if (r >= 0)
        r = collect(s, m->config.digest, m->config.media_type, 0, blobs, err);
    for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
        r = collect(s, m->layers[i].digest, m->layers[i].media_type, 0, blobs, err);
    return r;
}

static int collect_index(struct kiln_store *s, const char *json, size_t len, unsigned depth,
                         struct kiln_strv *blobs, struct kiln_error **err)
{
    _cleanup_(kiln_oci_index_freep) struct kiln_oci_index *idx = NULL;
    int r = kiln_oci_index_parse(json, len, 0, &idx, err);
    for (size_t i = 0; r >= 0 && i < idx->n_manifests; i++)
        r = collect(s, idx->manifests[i].digest, idx->manifests[i].media_type, depth + 1, blobs,
                    err);
    return r;
}

/* Adds digest and, for a manifest or an index, what it references (images.ChildrenHandler). */
static int collect(struct kiln_store *s, const char *digest, const char *media_type, unsigned depth,
                   struct kiln_strv *blobs, struct kiln_error **err)
{
    if (blobs->n >= KILN_EXPORT_BLOBS_MAX || depth > NESTING_MAX)
        return kiln_error_set(err, KILN_E_LIMIT,
                              "the image references more than %u blobs or nests indexes deeper "
                              "than %u",
                              KILN_EXPORT_BLOBS_MAX, NESTING_MAX);
    if (!digest || strncmp(digest, "sha256:", 7) || kiln_oci_digest_validate(digest, NULL) != 0)
        return kiln_error_set(err, KILN_E_INVALID, "'%s' is not a sha256 digest",
                              digest ? digest : "");
    int r = kiln_content_exists(s, digest, err);
    if (r == 0)
        return kiln_error_set(err, KILN_E_NOTFOUND,
                              "blob '%s' (%s) is not in the store; build the image again", digest,
                              media_type ? media_type : "no media type");
    if (r < 0)
        return r;
    kiln_strv_push(blobs, digest);
    bool manifest = media_type && kiln_oci_mediatype_is_manifest(media_type);
    bool index = media_type && kiln_oci_mediatype_is_index(media_type);
    if (!manifest && !index)
        return 0;
    _cleanup_buf_ struct kiln_buf json = KILN_BUF_INIT(KILN_MANIFEST_MAX + 1);
    r = kiln_export_read_blob(s, digest, KILN_MANIFEST_MAX, &json, err);
    if (r >= 0)
        r = manifest ? collect_manifest(s, json.buf, json.len, blobs, err)
                     : collect_index(s, json.buf, json.len, depth, blobs, err);
    return r < 0 ? kiln_error_wrap(err, r, "%s '%s'", manifest ? "manifest" : "index", digest) : r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A tar header as Go writes a bare tar.Header: no owner, mtime 0. */
static int put_header(const char *name, char type, uint32_t mode, uint64_t size,
                      kiln_oci_write_fn out, void *ud, struct kiln_error **err)
{
    struct kiln_oci_tar_header h = {
            .name = (char *)name, .linkname = (char *)"", .type = type, .mode = mode, .size = size};
    _cleanup_buf_ struct kiln_buf b = KILN_BUF_INIT(64 * 1024);
    int r = kiln_oci_tar_header_encode(&h, &b, err);
    return r < 0 ? r : out(ud, b.buf, b.len, err);
}

static int put_padding(uint64_t size, kiln_oci_write_fn out, void *ud, struct kiln_error **err)
{
    static const char zero[KILN_OCI_TAR_BLOCK];
    size_t pad = kiln_oci_tar_padding(size);
    return pad ? out(ud, zero, pad, err) : 0;
}

static int put_file(const char *name, uint32_t mode, const char *data, size_t len,
                    kiln_oci_write_fn out, void *ud, struct kiln_error **err)
{
    int r = put_header(name, KILN_OCI_TAR_REG, mode, len, out, ud, err);
    if (r >= 0)
        r = out(ud, data, len, err);
    return r < 0 ? r : put_padding(len, out, ud, err);
}

static int put_blob(struct kiln_store *s, const char *digest, kiln_oci_write_fn out, void *ud,
                    struct kiln_error **err)
{
    uint64_t size;
    _cleanup_close_ int fd = -1;
    int r = kiln_content_size(s, digest, &size, err);
    if (r >= 0)
        r = kiln_content_open(s, digest, &fd, err);
    _cleanup_free_ char *name = kiln_xasprintf("blobs/sha256/%s", digest + strlen("sha256:"));
    if (r >= 0)
        r = put_header(name, KILN_OCI_TAR_REG, 0444, size, out, ud, err);
    if (r >= 0)
        r = copy_verified(fd, digest, size, out, ud, err);
    return r < 0 ? r : put_padding(size, out, ud, err);
}

static bool skipped(const struct kiln_strv *skip, const char *digest)
{
    for (size_t i = 0; skip && i < skip->n; i++)
        if (strcmp(skip->v[i], digest) == 0)
            return true;
    return false;
}

int kiln_export_layout_write(struct kiln_store *s, const struct kiln_export_image *img,
                             const struct kiln_buf *index_json,
                             const struct kiln_buf *manifest_json, const struct kiln_strv *skip,
                             kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    _cleanup_strv_ struct kiln_strv blobs = KILN_STRV_INIT;
    int r = collect(s, img->digest, img->media_type, 0, &blobs, err);
    if (r < 0)
        return r;
    qsort(blobs.v, blobs.n, sizeof(*blobs.v), cmp_str);
    /* Sorted by name, as writeTar does: "blobs/..." < "index.json" < "manifest.json" <
     * "oci-layout". */
    r = put_header("blobs/", KILN_OCI_TAR_DIR, 0755, 0, out, userdata, err);
    if (r >= 0)
        r = put_header("blobs/sha256/", KILN_OCI_TAR_DIR, 0755, 0, out, userdata, err);
    for (size_t i = 0; r >= 0 && i < blobs.n; i++)
        if ((i == 0 || strcmp(blobs.v[i], blobs.v[i - 1])) && !skipped(skip, blobs.v[i]))
            r = put_blob(s, blobs.v[i], out, userdata, err);
    if (r >= 0)
        r = put_file("index.json", 0644, index_json->buf, index_json->len, out, userdata, err);
    if (r >= 0 && manifest_json)
        r = put_file("manifest.json", 0644, manifest_json->buf, manifest_json->len, out, userdata,
                     err);
    if (r >= 0)
        r = put_file("oci-layout", 0444, oci_layout, strlen(oci_layout), out, userdata, err);
    static const char end[2 * KILN_OCI_TAR_BLOCK];
    return r < 0 ? r : out(userdata, end, sizeof(end), err);
}

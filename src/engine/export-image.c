/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export-image.c - images as OCI layout and docker-load tars
 * (docs/internals/engine.md, "Outputs").
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "export.h"
#include "oci/manifest.h"
#include "oci/reference.h"
#include "oci/tar.h"
#include "store/content.h"

#include "base/banned.h"

struct tar_out {
    kiln_oci_write_fn out;
    void *ud;
};

static int put_header(struct tar_out *t, const char *name, uint64_t size, char type,
                      struct kiln_error **err)
{
    struct kiln_oci_tar_header h = {.name = (char *)name,
                                    .linkname = (char *)"",
                                    .type = type,
                                    .mode = type == KILN_OCI_TAR_DIR ? 0755 : 0644,
                                    .size = size};
    struct kiln_buf b = KILN_BUF_INIT(1u << 20);
    int r = kiln_oci_tar_header_encode(&h, &b, err);
    if (r >= 0)
        r = t->out(t->ud, b.buf, b.len, err);
    kiln_buf_release(&b);
    return r;
}

static int put_padding(struct tar_out *t, uint64_t size, struct kiln_error **err)
{
    static const char zero[KILN_OCI_TAR_BLOCK];
    size_t pad = kiln_oci_tar_padding(size);
    return pad ? t->out(t->ud, zero, pad, err) : 0;
}

static int put_bytes(struct tar_out *t, const char *name, const char *data, size_t len,
                     struct kiln_error **err)
{
    int r = put_header(t, name, len, KILN_OCI_TAR_REG, err);
    if (r >= 0)
        r = t->out(t->ud, data, len, err);
    return r < 0 ? r : put_padding(t, len, err);
}

static int put_blob(struct kiln_store *s, struct tar_out *t, const char *digest,
                    struct kiln_error **err)
{
    uint64_t size;
    int fd = -1;
    int r = kiln_content_size(s, digest, &size, err);
    if (r >= 0)
        r = kiln_content_open(s, digest, &fd, err);
    _cleanup_free_ char *name = kiln_xasprintf("blobs/sha256/%s", digest + strlen("sha256:"));
    if (r >= 0)
        r = put_header(t, name, size, KILN_OCI_TAR_REG, err);
    char buf[1 << 16];
    uint64_t left = size;
    while (r >= 0 && left) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0) {
            r = kiln_error_set(err, -EIO, "blob %s is shorter than its size", digest);
            break;
        }
        r = t->out(t->ud, buf, (size_t)n, err);
        left -= (uint64_t)n;
    }
    if (fd >= 0)
        close(fd);
    return r < 0 ? r : put_padding(t, size, err);
}

static int load_manifest(struct kiln_store *s, const struct kiln_export_image *img,
                         struct kiln_oci_manifest **ret, struct kiln_error **err)
{
    int fd = -1;
    int r = kiln_content_open(s, img->digest, &fd, err);
    if (r < 0)
        return r;
    char *buf = kiln_xmalloc(img->size + 1);
    ssize_t n = read(fd, buf, img->size);
    close(fd);
    if (n != (ssize_t)img->size)
        r = kiln_error_set(err, -EIO, "cannot read manifest %s", img->digest);
    else
        r = kiln_oci_manifest_parse(buf, img->size, 0, ret, err);
    free(buf);
    return r;
}

static json_t *index_json(const struct kiln_export_image *img)
{
    json_t *manifests = json_array();
    size_t n = img->names && img->names->n ? img->names->n : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", img->media_type, "digest",
                              img->digest, "size", (json_int_t)img->size);
        if (img->names && img->names->n) {
            const char *name = img->names->v[i];
            const char *colon = strrchr(name, ':');
            const char *tag = colon && !strchr(colon, '/') ? colon + 1 : "latest";
            json_object_set_new(d, "annotations",
                                json_pack("{s:s, s:s}", "io.containerd.image.name", name,
                                          "org.opencontainers.image.ref.name", tag));
        }
        json_array_append_new(manifests, d);
    }
    return json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
                     "application/vnd.oci.image.index.v1+json", "manifests", manifests);
}

static json_t *docker_manifest(const struct kiln_export_image *img,
                               const struct kiln_oci_manifest *m)
{
    json_t *tags = json_array();
    for (size_t i = 0; img->names && i < img->names->n; i++) {
        struct kiln_oci_ref *ref = NULL;
        if (kiln_oci_ref_parse_normalized(img->names->v[i], &ref, NULL) < 0)
            continue;
        kiln_oci_ref_tag_name_only(ref);
        char *s = kiln_oci_ref_string(ref, true);
        json_array_append_new(tags, json_string(s));
        free(s);
        kiln_oci_ref_free(ref);
    }
    json_t *layers = json_array();
    for (size_t i = 0; i < m->n_layers; i++) {
        char *p = kiln_xasprintf("blobs/sha256/%s", m->layers[i].digest + strlen("sha256:"));
        json_array_append_new(layers, json_string(p));
        free(p);
    }
    char *cfg = kiln_xasprintf("blobs/sha256/%s", m->config.digest + strlen("sha256:"));
    json_t *j = json_pack("[{s:s, s:o, s:o}]", "Config", cfg, "RepoTags", tags, "Layers", layers);
    free(cfg);
    return j;
}

static int put_json(struct tar_out *t, const char *name, json_t *j, struct kiln_error **err)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int r = put_bytes(t, name, text, strlen(text), err);
    free(text);
    return r;
}

static int write_layout(struct kiln_store *s, const struct kiln_export_image *img, bool docker,
                        kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    struct tar_out t = {out, userdata};
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    int r = load_manifest(s, img, &m, err);
    static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (r >= 0)
        r = put_header(&t, "blobs/", 0, KILN_OCI_TAR_DIR, err);
    if (r >= 0)
        r = put_header(&t, "blobs/sha256/", 0, KILN_OCI_TAR_DIR, err);
    for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
        r = put_blob(s, &t, m->layers[i].digest, err);
    if (r >= 0)
        r = put_blob(s, &t, m->config.digest, err);
    if (r >= 0)
        r = put_blob(s, &t, img->digest, err);
    if (r >= 0)
        r = put_json(&t, "index.json", index_json(img), err);
    if (r >= 0 && docker)
        r = put_json(&t, "manifest.json", docker_manifest(img, m), err);
    if (r >= 0)
        r = put_bytes(&t, "oci-layout", layout, strlen(layout), err);
    static const char end[2 * KILN_OCI_TAR_BLOCK];
    if (r >= 0)
        r = out(userdata, end, sizeof(end), err);
    return r;
}

int kiln_export_oci_tar(struct kiln_store *s, const struct kiln_export_image *img,
                        kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    return write_layout(s, img, false, out, userdata, err);
}

int kiln_export_docker_tar(struct kiln_store *s, const struct kiln_export_image *img,
                           kiln_oci_write_fn out, void *userdata, struct kiln_error **err)
{
    return write_layout(s, img, true, out, userdata, err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resolve.c - image metadata for conversion: manifest and config of a
 * reference for a platform, fetched once per build (docs/internals/engine.md).
 */
#include "resolve.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "oci/digest.h"
#include "oci/reference.h"
#include "registry/credentials.h"
#include "store/content.h"

#include "base/banned.h"

void kiln_resolver_init(struct kiln_resolver *r, struct kiln_store *s, const char *const *insecure,
                        struct kiln_progress *progress)
{
    *r = (struct kiln_resolver){.store = s, .insecure = insecure, .progress = progress};
    pthread_mutex_init(&r->lock, NULL);
}

static void image_free(struct kiln_resolved_image *im)
{
    free(im->pinned);
    free(im->domain);
    free(im->path);
    kiln_oci_platform_release(&im->platform);
    kiln_oci_manifest_free(im->manifest);
    json_decref(im->config);
    free(im);
}

void kiln_resolver_release(struct kiln_resolver *r)
{
    for (size_t i = 0; i < r->n; i++)
        image_free(r->images[i]);
    free(r->images);
    pthread_mutex_destroy(&r->lock);
}

int kiln_registry_open(const char *domain, const char *const *insecure,
                       struct kiln_registry_client **ret, struct kiln_error **err)
{
    _cleanup_(kiln_registry_cred_freep) struct kiln_registry_cred *cred = NULL;
    int r = kiln_registry_credentials_lookup(domain, &cred, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "credentials for %s", domain);
    struct kiln_registry_options o = {.cred = cred, .insecure = insecure};
    return kiln_registry_client_new(domain, &o, ret, err);
}

static bool same_platform(const struct kiln_oci_platform *a, const struct kiln_oci_platform *b)
{
    _cleanup_free_ char *x = kiln_oci_platform_format_all(a);
    _cleanup_free_ char *y = kiln_oci_platform_format_all(b);
    return strcmp(x, y) == 0;
}

const struct kiln_resolved_image *kiln_resolver_find(struct kiln_resolver *r, const char *pinned,
                                                     const struct kiln_oci_platform *platform)
{
    const struct kiln_resolved_image *found = NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && !found; i++)
        if (strcmp(r->images[i]->pinned, pinned) == 0 &&
            same_platform(&r->images[i]->platform, platform))
            found = r->images[i];
    pthread_mutex_unlock(&r->lock);
    return found;
}

static int buf_write(void *data, const void *p, size_t len, struct kiln_error **err)
{
    return kiln_buf_add(data, p, len) < 0
                   ? kiln_error_set(err, KILN_E_LIMIT, "image config larger than %u bytes",
                                    KILN_CONFIG_MAX)
                   : 0;
}

/* Blob `digest` from the store into b; false when the store lacks it (or it cannot be read). */
static bool read_stored(struct kiln_store *s, const char *digest, struct kiln_buf *b)
{
    int fd = -1;
    if (kiln_content_open_file(s, digest, &fd, NULL) < 0)
        return false;
    bool ok = kiln_buf_read_fd(b, fd) >= 0;
    close(fd);
    if (!ok)
        kiln_buf_reset(b);
    return ok;
}

/* Fetches manifest and config of `ref` into a new resolved image. */
static int fetch(struct kiln_resolver *r, const struct kiln_oci_ref *ref,
                 const struct kiln_oci_platform *platform, struct kiln_resolved_image **ret,
                 struct kiln_error **err)
{
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *c = NULL;
    int rc = kiln_registry_open(ref->domain, r->insecure, &c, err);
    if (rc < 0)
        return rc;
    _cleanup_(kiln_registry_manifest_freep) struct kiln_registry_manifest *m = NULL;
    if ((rc = kiln_registry_pull_manifest(c, ref, platform, &m, err)) < 0)
        return rc;
    struct kiln_resolved_image *im = kiln_xcalloc(1, sizeof(*im));
    memcpy(im->manifest_digest, m->digest, sizeof(im->manifest_digest));
    struct kiln_content_expect me = {
            .digest = m->digest, .size = (int64_t)m->len, .media_type = m->media_type};
    /* content the store has (an earlier build's base) is neither stored again nor fetched */
    rc = kiln_content_exists(r->store, m->digest, err);
    if (rc == 0)
        rc = kiln_content_put(r->store, &me, NULL, m->data, m->len, NULL, err);
    if (rc >= 0)
        rc = kiln_oci_manifest_parse(m->data, m->len, 0, &im->manifest, err);
    struct kiln_buf cfg = KILN_BUF_INIT(KILN_CONFIG_MAX);
    bool stored = false;
    if (rc >= 0)
        stored = read_stored(r->store, im->manifest->config.digest, &cfg);
    if (rc >= 0 && !stored)
        rc = kiln_registry_blob_get(c, ref->path, im->manifest->config.digest,
                                    im->manifest->config.size, buf_write, &cfg, err);
    if (rc >= 0 && !stored) {
        struct kiln_content_expect ce = {.digest = im->manifest->config.digest,
                                         .size = im->manifest->config.size,
                                         .media_type = im->manifest->config.media_type};
        rc = kiln_content_put(r->store, &ce, NULL, cfg.buf, cfg.len, NULL, err);
    }
    if (rc >= 0) {
        json_error_t je;
        im->config = json_loadb(cfg.buf, cfg.len, 0, &je);
        if (!im->config || !json_is_object(im->config))
            rc = kiln_error_set(err, KILN_E_INVALID, "image config %s is not a JSON object",
                                im->manifest->config.digest);
    }
    kiln_buf_release(&cfg);
    if (rc < 0) {
        image_free(im);
        return rc;
    }
    *ret = im;
    return 0;
}

int kiln_resolver_resolve(void *userdata, const char *text,
                          const struct kiln_oci_platform *platform, char **ret_ref,
                          json_t **ret_config, struct kiln_error **err)
{
    struct kiln_resolver *r = userdata;
    _cleanup_(kiln_oci_ref_freep) struct kiln_oci_ref *ref = NULL;
    int rc = kiln_oci_ref_parse_normalized(text, &ref, err);
    if (rc < 0)
        return rc;
    kiln_oci_ref_tag_name_only(ref);
    _cleanup_free_ char *name = kiln_oci_ref_string(ref, false);
    _cleanup_free_ char *id = kiln_xasprintf("metadata:%s", name);
    _cleanup_free_ char *title = kiln_xasprintf("[internal] load metadata for %s", name);
    kiln_progress_start(r->progress, id, title);
    struct kiln_resolved_image *im = NULL;
    rc = fetch(r, ref, platform, &im, err);
    if (rc < 0) {
        kiln_error_wrap(err, rc, "%s", name);
        kiln_progress_error(r->progress, id, kiln_error_message(err ? *err : NULL, rc));
        return rc;
    }
    kiln_progress_done(r->progress, id);
    im->domain = kiln_xstrdup(ref->domain);
    im->path = kiln_xstrdup(ref->path);
    if (ref->digest)
        im->pinned = kiln_xstrdup(name);
    else
        im->pinned = kiln_xasprintf("%s@%s", name, im->manifest_digest);
    _cleanup_free_ char *pf = kiln_oci_platform_format_all(platform);
    kiln_oci_platform_parse(pf, &im->platform, NULL);
    *ret_ref = kiln_xstrdup(im->pinned);
    *ret_config = json_deep_copy(im->config);
    pthread_mutex_lock(&r->lock);
    KILN_GROW(r->images, r->alloc, r->n + 1);
    r->images[r->n++] = im;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

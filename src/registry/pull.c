/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pull.c - from a reference to the manifest to build on: by digest or tag,
 * and through an index to the entry for a platform, as BuildKit resolves a
 * FROM.
 */
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "internal.h"
#include "oci/index.h"
#include "oci/mediatype.h"

#include "base/banned.h"

/* The entry of the index `m` for `platform`, fetched by digest and checked against its descriptor.
 */
static int descend(struct kiln_registry_client *c, const char *repo,
                   const struct kiln_registry_manifest *m, const struct kiln_oci_platform *platform,
                   struct kiln_registry_manifest **ret, struct kiln_error **err)
{
    _cleanup_(kiln_oci_index_freep) struct kiln_oci_index *idx = NULL;
    _cleanup_(kiln_registry_manifest_freep) struct kiln_registry_manifest *child = NULL;
    int r = kiln_oci_index_parse(m->data, m->len, 0, &idx, err);
    if (r < 0)
        return r;
    long i = kiln_oci_index_select(idx, platform);
    if (i < 0) {
        _cleanup_free_ char *p = kiln_oci_platform_format(platform);
        return kiln_error_set(err, KILN_E_NOTFOUND, "no manifest for platform '%s' in index %s", p,
                              m->digest);
    }
    const struct kiln_oci_descriptor *d = &idx->manifests[i];
    r = kiln_registry_manifest_get(c, repo, d->digest ? d->digest : "", &child, err);
    if (r < 0)
        return r;
    if ((int64_t)child->len != d->size)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "manifest %s has %zu bytes, the index says %" PRId64, d->digest,
                              child->len, d->size);
    if (!kiln_oci_mediatype_is_manifest(child->media_type) ||
        (d->media_type && strcmp(d->media_type, child->media_type) != 0))
        return kiln_error_set(err, KILN_E_UPSTREAM, "manifest %s is a '%s', the index says '%s'",
                              d->digest, child->media_type,
                              d->media_type ? d->media_type : "(none)");
    *ret = TAKE_PTR(child);
    return 0;
}

int kiln_registry_pull_manifest(struct kiln_registry_client *c, const struct kiln_oci_ref *ref,
                                const struct kiln_oci_platform *platform,
                                struct kiln_registry_manifest **ret, struct kiln_error **err)
{
    _cleanup_free_ char *name = kiln_oci_ref_string(ref, true);
    _cleanup_(kiln_registry_manifest_freep) struct kiln_registry_manifest *m = NULL;
    const char *domain = ref->domain ? ref->domain : "docker.io";
    const char *reference = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
    int r = 0;
    if (strcmp(domain, c->domain) != 0)
        r = kiln_error_set(err, KILN_E_INVALID, "the client is for '%s'", c->domain);
    if (r >= 0)
        r = kiln_registry_manifest_get(c, ref->path, reference, &m, err);
    if (r >= 0 && platform && kiln_oci_mediatype_is_index(m->media_type)) {
        struct kiln_registry_manifest *child = NULL;
        r = descend(c, ref->path, m, platform, &child, err);
        if (r >= 0) {
            kiln_registry_manifest_free(m);
            m = child;
        }
    }
    if (r < 0)
        return kiln_error_wrap(err, r, "pull '%s'", name);
    *ret = TAKE_PTR(m);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layers.c - layer blobs of snapshots (docs/internals/engine.md, "Export").
 */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mount.h"
#include "store/cache.h"
#include "store/content.h"
#include "store/snapshot.h"

#include "base/banned.h"

void kiln_layer_chain_id(const char *prev, const char *diff_id, char ret[KILN_OCI_DIGEST_MAX])
{
    if (!*prev) {
        snprintf(ret, KILN_OCI_DIGEST_MAX, "%s", diff_id);
        return;
    }
    _cleanup_free_ char *s = kiln_xasprintf("%s %s", prev, diff_id);
    kiln_oci_digest_bytes(KILN_OCI_SHA256, s, strlen(s), ret, NULL);
}

/*
 * A pulled layer's blob is the image's, whatever the export asks;
 * a built layer's depends on the epoch its times were clamped to.
 */
static char *blob_key(const char *snap, enum kiln_oci_compression c,
                      const struct kiln_layer_epoch *e)
{
    if (!e)
        return kiln_xasprintf("layer-blob:%s:%s", snap, kiln_oci_compression_name(c));
    if (!e->has_epoch)
        return kiln_xasprintf("layer-blob:%s:%s:built", snap, kiln_oci_compression_name(c));
    return kiln_xasprintf("layer-blob:%s:%s:built:%lld", snap, kiln_oci_compression_name(c),
                          (long long)e->epoch);
}

static enum kiln_oci_compression media_compression(const char *mt)
{
    if (!mt)
        return KILN_OCI_COMPRESSION_GZIP;
    if (strstr(mt, "zstd"))
        return KILN_OCI_COMPRESSION_ZSTD;
    if (strstr(mt, "gzip"))
        return KILN_OCI_COMPRESSION_GZIP;
    return KILN_OCI_COMPRESSION_NONE;
}

static int remember(struct kiln_store *s, const char *builder, const char *snap,
                    const struct kiln_layer_blob *b, const struct kiln_layer_epoch *e,
                    struct kiln_error **err)
{
    _cleanup_free_ char *key = blob_key(snap, b->compression, e);
    const char *comp = kiln_oci_compression_name(b->compression);
    const char *dg = b->digest;
    struct kiln_cache_entry ce = {.builder = builder,
                                  .key = key,
                                  .diff_id = b->diff_id,
                                  .compressions = &comp,
                                  .digests = &dg,
                                  .n_blobs = 1};
    int64_t id;
    int r = kiln_cache_insert(s, &ce, &id, err);
    return r < 0 ? r : 0;
}

int kiln_layer_remember(struct kiln_store *s, const char *builder, const char *snap,
                        const char *diff_id, const struct kiln_oci_descriptor *blob,
                        struct kiln_error **err)
{
    struct kiln_layer_blob b = {.size = (uint64_t)blob->size,
                                .compression = media_compression(blob->media_type)};
    snprintf(b.diff_id, sizeof(b.diff_id), "%s", diff_id);
    snprintf(b.digest, sizeof(b.digest), "%s", blob->digest);
    return remember(s, builder, snap, &b, NULL, err);
}

static int lookup_one(struct kiln_store *s, const char *builder, const char *snap,
                      enum kiln_oci_compression c, const struct kiln_layer_epoch *e,
                      struct kiln_layer_blob *ret, struct kiln_error **err)
{
    _cleanup_free_ char *key = blob_key(snap, c, e);
    _cleanup_(kiln_cache_record_freep) struct kiln_cache_record *rec = NULL;
    int r = kiln_cache_lookup(s, builder, key, &rec, err);
    if (r <= 0)
        return r;
    if (!rec->diff_id || rec->digests.n != 1)
        return 0;
    uint64_t size;
    if ((r = kiln_content_size(s, rec->digests.v[0], &size, NULL)) < 0)
        return 0; /* collected meanwhile: compute it again */
    *ret = (struct kiln_layer_blob){.size = size, .compression = c};
    snprintf(ret->diff_id, sizeof(ret->diff_id), "%s", rec->diff_id);
    snprintf(ret->digest, sizeof(ret->digest), "%s", rec->digests.v[0]);
    return 1;
}

int kiln_layer_lookup(struct kiln_store *s, const char *builder, const char *snap,
                      enum kiln_oci_compression want, bool force, const struct kiln_layer_epoch *e,
                      struct kiln_layer_blob *ret, struct kiln_error **err)
{
    int r = lookup_one(s, builder, snap, want, NULL, ret, err);
    if (r == 0)
        r = lookup_one(s, builder, snap, want, e, ret, err);
    static const enum kiln_oci_compression all[] = {
            KILN_OCI_COMPRESSION_GZIP, KILN_OCI_COMPRESSION_ZSTD, KILN_OCI_COMPRESSION_NONE};
    for (size_t i = 0; r == 0 && !force && i < sizeof(all) / sizeof(*all); i++)
        if (all[i] != want) {
            r = lookup_one(s, builder, snap, all[i], NULL, ret, err);
            if (r == 0)
                r = lookup_one(s, builder, snap, all[i], e, ret, err);
        }
    return r;
}

static int content_out(void *userdata, const void *data, size_t len, struct kiln_error **err)
{
    return kiln_content_write(userdata, data, len, err);
}

int kiln_layer_compute(struct kiln_store *s, struct kiln_lease *lease, const char *builder,
                       const char *snap, const struct kiln_oci_layer_opts *o,
                       struct kiln_layer_blob *ret, struct kiln_error **err)
{
    struct kiln_snapshot_info info;
    _cleanup_free_ char *upper = NULL;
    int r = kiln_snapshot_stat(s, snap, &info, err);
    if (r >= 0)
        r = kiln_snapshot_path(s, snap, &upper, err);
    struct kiln_mount lower = KILN_MOUNT_INIT;
    if (r >= 0 && *info.parent)
        r = kiln_mount_state(s, info.parent, NULL, &lower, err);
    _cleanup_(kiln_oci_changes_releasep) struct kiln_oci_changes ch = KILN_OCI_CHANGES_INIT;
    if (r >= 0)
        r = kiln_oci_diff_overlay(lower.path, upper, &ch, err);
    _cleanup_(kiln_content_writer_freep) struct kiln_content_writer *w = NULL;
    struct kiln_content_expect e = {.digest = NULL, .size = -1};
    if (r >= 0)
        r = kiln_content_writer_open(s, &e, lease, &w, err);
    struct kiln_oci_layer l;
    if (r >= 0)
        r = kiln_oci_layer_write(upper, &ch, o, content_out, w, &l, err);
    kiln_mount_release(&lower);
    if (r >= 0)
        r = kiln_content_commit(w, NULL, err);
    if (r < 0)
        return kiln_error_wrap(err, r, "export layer of snapshot %s", snap);
    *ret = (struct kiln_layer_blob){.size = l.size, .compression = o->compression};
    snprintf(ret->diff_id, sizeof(ret->diff_id), "%s", l.diff_id);
    snprintf(ret->digest, sizeof(ret->digest), "%s", l.digest);
    struct kiln_layer_epoch ep = {.has_epoch = o->has_epoch, .epoch = o->epoch};
    return remember(s, builder, snap, ret, &ep, err);
}

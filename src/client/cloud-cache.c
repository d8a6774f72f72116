/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-cache.c - a cloud builder's cache: usage and pruning through kilnd
 * (docs/internals/client-cloud.md).
 */
#include "cloud-cache.h"

#include <jansson.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "cloud-http.h"

#include "base/banned.h"

static uint64_t u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* A call on the builder; takes `body`'s reference. */
static int call(const struct kiln_builder_entry *b, const char *method, const char *what,
                json_t *body, json_t **ret, struct kiln_error **err)
{
    struct kiln_cloud *c = NULL;
    int r = kiln_cloud_open(b->endpoint, &c, err);
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builders/%s/%s", b->builder, what);
    if (r >= 0)
        r = kiln_cloud_json(c, method, path, body, ret, err);
    json_decref(body);
    kiln_cloud_free(c);
    return r;
}

int kiln_cloud_du(const struct kiln_builder_entry *b, struct kiln_store_usage *ret,
                  struct kiln_error **err)
{
    json_t *j = NULL;
    int r = call(b, "GET", "du", NULL, &j, err);
    if (r < 0)
        return r;
    *ret = (struct kiln_store_usage){
            .records = u64(j, "records"),
            .records_bytes = u64(j, "records_bytes"),
            .snapshots = u64(j, "snapshots"),
            .snapshots_bytes = u64(j, "snapshots_bytes"),
            .blobs = u64(j, "blobs"),
            .blobs_bytes = u64(j, "blobs_bytes"),
            .total_bytes = u64(j, "total_bytes"),
            .reclaimable_bytes = u64(j, "reclaimable_bytes"),
    };
    json_decref(j);
    return 0;
}

int kiln_cloud_prune(const struct kiln_builder_entry *b, const struct kiln_prune_opts *o,
                     struct kiln_prune_report *ret, struct kiln_error **err)
{
    json_t *j = NULL;
    int r = call(b, "POST", "prune",
                 json_pack("{s:b, s:I}", "all", o->all, "keep_storage", (json_int_t)o->keep_bytes),
                 &j, err);
    if (r < 0)
        return r;
    *ret = (struct kiln_prune_report){
            .records = u64(j, "records"),
            .snapshots = u64(j, "snapshots"),
            .blobs = u64(j, "blobs"),
            .freed_bytes = u64(j, "freed_bytes"),
    };
    json_decref(j);
    return 0;
}

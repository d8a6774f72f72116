/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api-builders.c - /v1/builders/ACCOUNT/NAME: the builder, its history, its
 * cache's usage and pruning (docs/internals/cloud-api.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "build-record.h"
#include "builders.h"
#include "context-slot.h"
#include "oci/json.h"
#include "server.h"
#include "store/store.h"
#include "tokens.h"

#include "base/banned.h"

static void builder_info(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_principal *p;
    struct kilnd_builder *b;
    if (!kilnd_api_builder(app, rq, rs, &p, &b))
        return;
    _cleanup_free_ char *key = kiln_xasprintf("%s/%s", b->account, b->name);
    struct kilnd_queue_stats st;
    kilnd_queue_stats(((struct kilnd *)app)->queue, key, &st);
    kilnd_http_json(rs, 200,
                    json_pack("{s:s++, s:o, s:I, s:i, s:I, s:i, s:i, s:[s*]}", "name", b->account,
                              "/", b->name, "platforms", kiln_oci_json_strv(&b->platforms),
                              "timeout_s", (json_int_t)b->timeout_s, "concurrency", b->concurrency,
                              "cache_max", (json_int_t)b->cache_max, "running", st.running,
                              "queued", st.queued, "allow",
                              b->allow_network_host ? "network.host" : NULL));
    kilnd_builder_free(b);
    kilnd_principal_free(p);
}

static void history(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_principal *p;
    struct kilnd_builder *b;
    if (!kilnd_api_builder(app, rq, rs, &p, &b))
        return;
    _cleanup_free_ char *key = kiln_xasprintf("%s/%s", b->account, b->name);
    const char *limit = kilnd_http_param(rq, "limit");
    json_t *list = NULL;
    struct kiln_error *e = NULL;
    int r = kilnd_build_record_list(((struct kilnd *)app)->db, key,
                                    limit ? (unsigned)strtoul(limit, NULL, 10) : 50, &list, &e);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    else
        kilnd_http_json(rs, 200, json_pack("{s:o}", "builds", list));
    kiln_error_free(e);
    kilnd_builder_free(b);
    kilnd_principal_free(p);
}

static void du(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_principal *p;
    struct kilnd_builder *b;
    if (!kilnd_api_builder(app, rq, rs, &p, &b))
        return;
    struct kiln_store *s = NULL;
    struct kiln_store_usage u;
    struct kiln_error *e = NULL;
    _cleanup_free_ char *key = kiln_xasprintf("%s/%s", b->account, b->name);
    int r = kilnd_api_builder_store(app, key, &s, &e);
    if (r >= 0)
        r = kiln_store_du(s, &u, &e);
    kiln_store_close(s);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    else
        kilnd_http_json(rs, 200,
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "records",
                                  (json_int_t)u.records, "records_bytes",
                                  (json_int_t)u.records_bytes, "snapshots", (json_int_t)u.snapshots,
                                  "snapshots_bytes", (json_int_t)u.snapshots_bytes, "blobs",
                                  (json_int_t)u.blobs, "blobs_bytes", (json_int_t)u.blobs_bytes,
                                  "total_bytes", (json_int_t)u.total_bytes, "reclaimable_bytes",
                                  (json_int_t)u.reclaimable_bytes, "cache_max",
                                  (json_int_t)b->cache_max));
    kiln_error_free(e);
    kilnd_builder_free(b);
    kilnd_principal_free(p);
}

static void prune(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_principal *p;
    struct kilnd_builder *b;
    if (!kilnd_api_builder(app, rq, rs, &p, &b))
        return;
    json_t *keep = json_object_get(rq->json, "keep_storage");
    struct kiln_prune_opts o = {
            .all = json_is_true(json_object_get(rq->json, "all")),
            .keep_bytes = json_is_integer(keep) && json_integer_value(keep) > 0
                                  ? (uint64_t)json_integer_value(keep)
                                  : 0,
    };
    struct kiln_store *s = NULL;
    struct kiln_prune_report rep = {0};
    struct kiln_error *e = NULL;
    _cleanup_free_ char *key = kiln_xasprintf("%s/%s", b->account, b->name);
    int r = kilnd_api_builder_store(app, key, &s, &e);
    if (r >= 0)
        r = kiln_store_prune(s, &o, &rep, &e);
    if (r >= 0 && o.all) {
        _cleanup_free_ char *dir =
                kiln_xasprintf("%s/builders/%s", ((struct kilnd *)app)->data_dir, key);
        kilnd_context_slots_prune(dir);
    }
    kiln_store_close(s);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    else
        kilnd_http_json(rs, 200,
                        json_pack("{s:I, s:I, s:I, s:I}", "records", (json_int_t)rep.records,
                                  "snapshots", (json_int_t)rep.snapshots, "blobs",
                                  (json_int_t)rep.blobs, "freed_bytes",
                                  (json_int_t)rep.freed_bytes));
    kiln_error_free(e);
    kilnd_builder_free(b);
    kilnd_principal_free(p);
}

const struct kilnd_route kilnd_api_builder_routes[] = {
        {"GET", "/v1/builders/*/*", KILND_BODY_NONE, NULL, builder_info},
        {"GET", "/v1/builders/*/*/builds", KILND_BODY_NONE, NULL, history},
        {"GET", "/v1/builders/*/*/du", KILND_BODY_NONE, NULL, du},
        {"POST", "/v1/builders/*/*/prune", KILND_BODY_JSON, NULL, prune},
};
const size_t kilnd_api_n_builder_routes =
        sizeof(kilnd_api_builder_routes) / sizeof(kilnd_api_builder_routes[0]);

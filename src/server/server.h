/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h - kilnd serving: the state every request handler shares, and
 * the route tables of the API's parts (docs/internals/server.md).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "http.h"
#include "queue.h"

struct kilnd_db;
struct kilnd_ratelimit;
struct kilnd_principal;
struct kilnd_token_service;

struct kiln_store;

/* A builder's store held open by kilnd (kilnd_api_builder_store). */
struct kilnd_anchor {
    char *builder;
    struct kiln_store *store;
};

struct kilnd {
    const char *data_dir;
    struct kilnd_db *db;
    struct kilnd_ratelimit *rl;
    struct kilnd_token_service *ts; /* the registry token service */
    struct kilnd_queue *queue;
    pthread_mutex_t anchors_lock;
    struct kilnd_anchor *anchors;
    size_t n_anchors;
    /* counters for /metrics */
    atomic_uint_fast64_t http_requests, bytes_in, bytes_out, context_bytes;
};

/*
 * The principal of the request's token, or NULL with rs answered: 401 (with
 * a challenge) for a missing or refused token, 429 when the remote is
 * rate-limited. The caller frees the principal.
 */
struct kilnd_principal *kilnd_api_auth(struct kilnd *app, struct kilnd_http_request *rq,
                                       struct kilnd_http_response *rs);
/* Whether p may use the builders of `account`; else rs is answered 403 naming what is missing. */
bool kilnd_api_may_connect(struct kilnd *app, const struct kilnd_principal *p, const char *account,
                           struct kilnd_http_response *rs);

/*
 * For a request on builder ACCOUNT/NAME (rq->seg[0], rq->seg[1]): the
 * principal (authenticated, allowed to connect to ACCOUNT) and the
 * builder; false with rs answered otherwise. The caller frees both.
 */
struct kilnd_builder;
bool kilnd_api_builder(struct kilnd *app, struct kilnd_http_request *rq,
                       struct kilnd_http_response *rs, struct kilnd_principal **ret_principal,
                       struct kilnd_builder **ret_builder);

/* The store of builder "account/name", created on first use. */
int kilnd_api_builder_store(struct kilnd *app, const char *builder, struct kiln_store **ret,
                            struct kiln_error **err);
/* Closes the builders' stores kilnd held open. */
void kilnd_api_anchors_release(struct kilnd *app);

/* The routes of each part, appended to one table by serve.c. */
extern const struct kilnd_route kilnd_api_routes[];
extern const size_t kilnd_api_n_routes;
extern const struct kilnd_route kilnd_api_build_routes[];
extern const size_t kilnd_api_n_build_routes;
extern const struct kilnd_route kilnd_api_builder_routes[];
extern const size_t kilnd_api_n_builder_routes;

/* /metrics: Prometheus text. Caller frees. */
char *kilnd_metrics_text(struct kilnd *app);

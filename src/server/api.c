/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.c - the API's common parts: authentication, /healthz, /metrics,
 * /v1/whoami and the registry token service's /token (docs/internals/cloud-api.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "builders.h"
#include "oci/json.h"
#include "scopes.h"
#include "server.h"
#include "store/store.h"
#include "token-service.h"
#include "tokens.h"

#include "base/banned.h"

struct kilnd_principal *kilnd_api_auth(struct kilnd *app, struct kilnd_http_request *rq,
                                       struct kilnd_http_response *rs)
{
    const char *h = kilnd_http_header(rq, "Authorization");
    if (!h) {
        rs->www_authenticate = "Bearer realm=\"kilnd\"";
        kilnd_http_error(rs, 401,
                         "an access token is required: kiln login SERVER, or send "
                         "Authorization: Bearer TOKEN");
        return NULL;
    }
    struct kilnd_principal *p = NULL;
    struct kiln_error *e = NULL;
    int r = kilnd_auth_header(app->db, app->rl, h, rq->remote_ip, &p, &e);
    if (r < 0) {
        if (r == KILN_E_LIMIT) {
            kilnd_http_error(rs, 429, "%s", kiln_error_message(e, r));
        } else {
            rs->www_authenticate = "Bearer realm=\"kilnd\"";
            kilnd_http_error(rs, 401, "%s", kiln_error_message(e, r));
        }
        kiln_error_free(e);
        return NULL;
    }
    return p;
}

bool kilnd_api_may_connect(struct kilnd *app, const struct kilnd_principal *p, const char *account,
                           struct kilnd_http_response *rs)
{
    struct kiln_error *e = NULL;
    int r = kilnd_principal_can_connect(app->db, p, account, &e);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    kiln_error_free(e);
    return r >= 0;
}

static void healthz(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *a = app;
    if (kilnd_queue_draining(a->queue))
        kilnd_http_text(rs, 503, "text/plain", kiln_xstrdup("draining\n"));
    else
        kilnd_http_text(rs, 200, "text/plain", kiln_xstrdup("ok\n"));
}

static void metrics(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    kilnd_http_text(rs, 200, "text/plain; version=0.0.4", kilnd_metrics_text(app));
}

static void whoami(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_principal *p = kilnd_api_auth(app, rq, rs);
    if (!p)
        return;
    kilnd_http_json(rs, 200,
                    json_pack("{s:s, s:s, s:s, s:o}", "principal", p->name, "kind",
                              p->is_org ? "org" : "user", "token_id", p->token_id, "scopes",
                              kiln_oci_json_strv(&p->scopes)));
    kilnd_principal_free(p);
}

static void token(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *a = app;
    if (!a->ts) {
        kilnd_http_error(rs, 404,
                         "this kilnd is not a registry token service: run kilnd admin "
                         "registry-config first");
        return;
    }
    struct kilnd_kv kv[KILND_HTTP_PARAMS_MAX];
    for (size_t i = 0; i < rq->n_params; i++)
        kv[i] = (struct kilnd_kv){rq->params[i].key, rq->params[i].value};
    int status = 0;
    char *body = NULL;
    struct kiln_error *e = NULL;
    int r = kilnd_token_service_handle(a->ts, a->db, a->rl, rq->method,
                                       kilnd_http_header(rq, "Authorization"), rq->remote_ip, kv,
                                       rq->n_params, &status, &body, &e);
    if (r < 0) {
        kilnd_http_fail(rs, r, e);
        kiln_error_free(e);
        free(body);
        return;
    }
    kilnd_http_text(rs, status, "application/json", body);
}

const struct kilnd_route kilnd_api_routes[] = {
        {"GET", "/healthz", KILND_BODY_NONE, NULL, healthz},
        {"GET", "/metrics", KILND_BODY_NONE, NULL, metrics},
        {"GET", "/v1/whoami", KILND_BODY_NONE, NULL, whoami},
        {"GET", "/token", KILND_BODY_NONE, NULL, token},
        {"POST", "/token", KILND_BODY_FORM, NULL, token},
};
const size_t kilnd_api_n_routes = sizeof(kilnd_api_routes) / sizeof(kilnd_api_routes[0]);

bool kilnd_api_builder(struct kilnd *app, struct kilnd_http_request *rq,
                       struct kilnd_http_response *rs, struct kilnd_principal **ret_principal,
                       struct kilnd_builder **ret_builder)
{
    struct kilnd_principal *p = kilnd_api_auth(app, rq, rs);
    if (!p)
        return false;
    if (!kilnd_api_may_connect(app, p, rq->seg[0], rs)) {
        kilnd_principal_free(p);
        return false;
    }
    struct kilnd_builder *b = NULL;
    struct kiln_error *e = NULL;
    int r = kilnd_builder_get(app->db, rq->seg[0], rq->seg[1], &b, &e);
    if (r < 0) {
        kilnd_http_fail(rs, r, e);
        kiln_error_free(e);
        kilnd_principal_free(p);
        return false;
    }
    *ret_principal = p;
    *ret_builder = b;
    return true;
}

/*
 * Keeps one handle of the builder's store open for kilnd's life: a store
 * repairs itself when it is opened by nobody else, which walks every blob and
 * snapshot (seconds for a large cache); with this handle held, only kilnd's
 * first open of the store after a start repairs it, not every request and
 * build. Called with app->anchors_lock held.
 */
static void anchor(struct kilnd *app, const char *builder, const char *dir)
{
    for (size_t i = 0; i < app->n_anchors; i++)
        if (strcmp(app->anchors[i].builder, builder) == 0)
            return;
    struct kiln_store *s = NULL;
    if (kiln_store_open(dir, &s, NULL) < 0)
        return;
    app->anchors = kiln_xrealloc(app->anchors, (app->n_anchors + 1) * sizeof(*app->anchors));
    app->anchors[app->n_anchors++] = (struct kilnd_anchor){kiln_xstrdup(builder), s};
}

int kilnd_api_builder_store(struct kilnd *app, const char *builder, struct kiln_store **ret,
                            struct kiln_error **err)
{
    _cleanup_free_ char *dir = kiln_xasprintf("%s/builders/%s", app->data_dir, builder);
    _cleanup_free_ char *parent = kiln_xstrdup(dir);
    *strrchr(parent, '/') = '\0';
    if ((mkdir(parent, 0700) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
        return kiln_error_set_errno(err, -errno, "cannot create the builder's store '%s'", dir);
    pthread_mutex_lock(&app->anchors_lock);
    anchor(app, builder, dir);
    pthread_mutex_unlock(&app->anchors_lock);
    return kiln_store_open(dir, ret, err);
}

void kilnd_api_anchors_release(struct kilnd *app)
{
    for (size_t i = 0; i < app->n_anchors; i++) {
        free(app->anchors[i].builder);
        kiln_store_close(app->anchors[i].store);
    }
    free(app->anchors);
    app->anchors = NULL;
    app->n_anchors = 0;
}

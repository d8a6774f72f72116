/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api-builds.c - builds: create, context upload, events, logs, record,
 * output, cancel (docs/internals/cloud-api.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "build-record.h"
#include "builders.h"
#include "context-indexes.h"
#include "context-prefetch.h"
#include "context-slot.h"
#include "context-sync.h"
#include "engine/request-json.h"
#include "oci/reference.h"
#include "scopes.h"
#include "server.h"
#include "store/content.h"
#include "store/store.h"
#include "token-service.h"
#include "tokens.h"

#include "base/banned.h"

#define DOCKERFILE_TEXT_MAX (1u << 20)
#define REGISTRY_AUTHS_MAX  64
#define SECRETS_MAX         64u
#define SECRET_B64_MAX      ((KILN_BUILD_SECRET_MAX + 2) / 3 * 4) /* its base64 */

/* Checks the body's request against the builder; 0 or an error response. */
/* Checks the request (parsed) against the builder; *ret_output: an output streams back. */
static int check_request(const struct kilnd_builder *bl, const struct kiln_build_request *req,
                         bool *ret_output, struct kiln_error **err)
{
    int r = 0;
    if (req->allow_network_host && !bl->allow_network_host)
        r = kiln_error_set(err, KILN_E_DENIED,
                           "builder %s/%s does not grant the network.host entitlement: build "
                           "without --allow network.host, or have its admin grant it (kilnd "
                           "admin builder set %s/%s --allow network.host)",
                           bl->account, bl->name, bl->account, bl->name);
    if (r >= 0 && req->oci_runtime)
        r = kiln_error_set(err, KILN_E_DENIED,
                           "a cloud build cannot choose the OCI runtime: drop --oci-runtime "
                           "(kilnd serve --oci-runtime sets it for every build)");
    for (size_t i = 0; r >= 0 && i < req->platforms.n; i++)
        if (kiln_strv_find(&bl->platforms, req->platforms.v[i]) < 0)
            r = kiln_error_set(err, KILN_E_INVALID,
                               "builder %s/%s does not build %s: ask for one of its platforms, "
                               "or have its admin add it (kilnd admin builder create --platforms)",
                               bl->account, bl->name, req->platforms.v[i]);
    *ret_output = false;
    for (size_t i = 0; r >= 0 && i < req->n_outputs; i++)
        if (req->outputs[i].type != KILN_OUTPUT_IMAGE &&
            req->outputs[i].type != KILN_OUTPUT_CACHEONLY)
            *ret_output = true;
    if (r >= 0 && req->n_outputs > 1 && *ret_output)
        r = kiln_error_set(err, KILN_E_INVALID,
                           "a cloud build streams back one output at most; push the image and "
                           "export one of oci, docker, tar or local");
    return r;
}

static int check_auths(json_t *auths, struct kiln_error **err)
{
    const char *host;
    json_t *a;
    if (!auths || json_is_null(auths))
        return 0;
    if (!json_is_object(auths) || json_object_size(auths) > REGISTRY_AUTHS_MAX)
        return kiln_error_set(err, KILN_E_INVALID,
                              "\"registry_auth\" must be an object of at most %u registries",
                              REGISTRY_AUTHS_MAX);
    json_object_foreach (auths, host, a) {
        if (!json_is_object(a))
            return kiln_error_set(err, KILN_E_INVALID, "\"registry_auth\" of %s must be an object",
                                  host);
    }
    return 0;
}

/* The token the request came with (Bearer, or Basic's password), or NULL. Caller frees. */
static char *request_token(struct kilnd_http_request *rq)
{
    const char *h = kilnd_http_header(rq, "Authorization");
    _cleanup_free_ char *name = NULL;
    char *token = NULL;
    return h && kilnd_auth_split(h, &name, &token) > 0 ? token : NULL;
}

/*
 * Pushes to the registry that trusts this kilnd's token service: each
 * repository must be within the token's push scopes (refused here, before
 * anything is built or uploaded), and the build gets the principal's token
 * for that registry, which it trades at kilnd's /token for a registry token
 * as any client would (no registry password travels from the client).
 */
static int trusted_registry_pushes(struct kilnd *app, struct kilnd_http_request *rq,
                                   const struct kilnd_principal *p,
                                   const struct kiln_build_request *req, json_t *auths,
                                   struct kiln_error **err)
{
    const char *trusted = app->ts ? kilnd_token_service_registry(app->ts) : NULL;
    if (!trusted)
        return 0;
    int r = 0;
    bool pushes = false;
    for (size_t o = 0; r >= 0 && o < req->n_outputs; o++) {
        const struct kiln_build_output *out = &req->outputs[o];
        if (out->type != KILN_OUTPUT_IMAGE || !out->push)
            continue;
        const struct kiln_strv *names = out->names.n ? &out->names : &req->tags;
        for (size_t i = 0; r >= 0 && i < names->n; i++) {
            struct kiln_oci_ref *ref = NULL;
            if (kiln_oci_ref_parse_normalized(names->v[i], &ref, NULL) < 0)
                continue;
            if (strcmp(ref->domain, trusted) == 0) {
                pushes = true;
                if (!(kilnd_principal_repo_actions(app->db, p, ref->path) & KILND_ACTION_PUSH))
                    r = kiln_error_set(err, KILN_E_DENIED,
                                       "token lacks scope 'repo:%s:push' to push %s: create a "
                                       "token with that scope (kilnd admin token create ... "
                                       "--scope repo:%s:push)",
                                       ref->path, names->v[i], ref->path);
            }
            kiln_oci_ref_free(ref);
        }
    }
    if (r >= 0 && pushes) {
        _cleanup_free_ char *token = request_token(rq);
        if (token)
            json_object_set_new(auths, trusted,
                                json_pack("{s:s, s:s}", "username", p->name, "secret", token));
        explicit_bzero(token, token ? strlen(token) : 0);
    }
    return r;
}

/* "secrets": [{"id", "data": base64}], at most as many and as large as `kiln build --secret`
 * takes; they go to the worker's memory only. */
static int check_secrets(json_t *secrets, struct kiln_error **err)
{
    json_t *s;
    size_t i;
    if (!secrets || json_is_null(secrets))
        return 0;
    if (!json_is_array(secrets) || json_array_size(secrets) > SECRETS_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "\"secrets\" must be a list of at most %u",
                              SECRETS_MAX);
    json_array_foreach (secrets, i, s) {
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *data = json_string_value(json_object_get(s, "data"));
        if (!id || !*id || strlen(id) > 255 || !data || strlen(data) > SECRET_B64_MAX)
            return kiln_error_set(err, KILN_E_INVALID,
                                  "secret %zu: needs an \"id\" and base64 \"data\" of at most "
                                  "%u KiB",
                                  i, KILN_BUILD_SECRET_MAX / 1024);
    }
    return 0;
}

static json_t *summary(json_t *request)
{
    json_t *types = json_array(), *o;
    size_t i;
    json_array_foreach (json_object_get(request, "outputs"), i, o)
        json_array_append(types, json_object_get(o, "type"));
    return json_pack("{s:O?, s:O?, s:O?, s:o}", "tags", json_object_get(request, "tags"),
                     "platforms", json_object_get(request, "platforms"), "target",
                     json_object_get(request, "target"), "outputs", types);
}

/*
 * What of b's context the builder's store lacks; queues b when nothing. A
 * slot that holds the context already needs nothing; otherwise the index is
 * read (once) and the store asked.
 */
static int sync_state(struct kilnd *app, struct kilnd_build *b, json_t **ret_missing,
                      struct kiln_error **err)
{
    const char *digest = json_string_value(json_object_get(b->job, "context_digest"));
    const char *hint = json_string_value(json_object_get(b->job, "context_name"));
    int r = 0;
    _cleanup_free_ char *slot = b->context ? NULL : kilnd_context_slot_find(b->store, hint, digest);
    if (slot) {
        *ret_missing = json_array();
    } else {
        _cleanup_(kiln_store_closep) struct kiln_store *s = NULL;
        if (!b->context)
            r = kilnd_context_index_load(b->store, digest, &b->context, err);
        if (r >= 0)
            r = kilnd_api_builder_store(app, b->builder, &s, err);
        if (r >= 0)
            r = kilnd_context_missing(s, b->context, ret_missing, err);
        if (r < 0)
            return r;
    }
    if (json_array_size(*ret_missing) == 0)
        r = kilnd_queue_submit(app->queue, b, err);
    return r;
}

/*
 * The context of a new build: the index sent (checked, then kept by digest)
 * or the digest of an index kept earlier. *ret_known is false when the
 * builder does not have the digest named: the client sends the index then.
 */
static int context_of(json_t *j, const char *store_dir, char digest[KILN_OCI_DIGEST_MAX],
                      bool *ret_known, struct kiln_error **err)
{
    json_t *context = json_object_get(j, "context");
    const char *named = json_string_value(json_object_get(j, "context_digest"));
    *ret_known = true;
    if (context) {
        int r = kilnd_context_check(context, err);
        return r < 0 ? r : kilnd_context_index_save(store_dir, context, digest, err);
    }
    if (!named || kiln_oci_digest_validate(named, NULL) < 0 || strlen(named) >= KILN_OCI_DIGEST_MAX)
        return kiln_error_set(err, KILN_E_INVALID,
                              "a build needs \"context\" (the index of its context) or "
                              "\"context_digest\" (the sha256 of an index sent before)");
    snprintf(digest, KILN_OCI_DIGEST_MAX, "%s", named);
    *ret_known = kilnd_context_index_known(store_dir, digest);
    return 0;
}

static void create(void *app_, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *app = app_;
    struct kilnd_principal *p;
    struct kilnd_builder *bl;
    if (!kilnd_api_builder(app, rq, rs, &p, &bl))
        return;
    json_t *j = rq->json, *request = json_object_get(j, "request");
    const char *dockerfile = json_string_value(json_object_get(j, "dockerfile"));
    struct kiln_error *e = NULL;
    bool output = false, known = true;
    char digest[KILN_OCI_DIGEST_MAX] = "";
    int r = 0;
    if (!dockerfile || strlen(dockerfile) > DOCKERFILE_TEXT_MAX)
        r = kiln_error_set(&e, KILN_E_INVALID,
                           "\"dockerfile\" must hold the Dockerfile's text (at most %u bytes)",
                           DOCKERFILE_TEXT_MAX);
    json_t *name = json_object_get(j, "context_name");
    if (r >= 0 && name && (!json_is_string(name) || json_string_length(name) > 4096))
        r = kiln_error_set(&e, KILN_E_INVALID,
                           "\"context_name\" must be a string of at most 4096 bytes");
    struct kiln_build_request req = {0};
    if (r >= 0)
        r = kiln_build_request_from_json(request, &req, &e);
    if (r >= 0)
        r = check_request(bl, &req, &output, &e);
    _cleanup_free_ char *key = kiln_xasprintf("%s/%s", bl->account, bl->name);
    _cleanup_free_ char *store = kiln_xasprintf("%s/builders/%s", app->data_dir, key);
    if (r >= 0)
        r = context_of(j, store, digest, &known, &e);
    if (r >= 0)
        r = check_auths(json_object_get(j, "registry_auth"), &e);
    if (r >= 0)
        r = check_secrets(json_object_get(j, "secrets"), &e);
    json_t *auths = json_is_object(json_object_get(j, "registry_auth"))
                            ? json_deep_copy(json_object_get(j, "registry_auth"))
                            : json_object();
    if (r >= 0)
        r = trusted_registry_pushes(app, rq, p, &req, auths, &e);
    kiln_build_request_release(&req);
    struct kilnd_build *b = NULL;
    if (r >= 0 && known)
        r = kilnd_queue_create(app->queue, app->data_dir, key, p->name, p->token_id, bl->timeout_s,
                               (unsigned)bl->concurrency, &b, &e);
    json_t *missing = NULL;
    if (b) {
        b->output = output;
        b->rec.summary = summary(request);
        b->context = json_incref(json_object_get(j, "context"));
        b->job = json_pack(
                "{s:s, s:s, s:O, s:s, s:s, s:O, s:I, s:O?, s:O?}", "store", b->store, "builder",
                key, "request", request, "dockerfile", dockerfile, "context_digest", digest,
                "registry_auth", auths, "cache_max", (json_int_t)bl->cache_max, "context_name",
                json_object_get(j, "context_name"), "secrets", json_object_get(j, "secrets"));
        r = kilnd_queue_record(app->queue, b, &e);
        if (r >= 0)
            r = sync_state(app, b, &missing, &e);
        /* new content: a COPY of the context will run and read the kept one; start the disk now
         * (a context whose content the builder has, as a fresh clone's, is a cache hit) */
        if (r >= 0 && json_array_size(missing))
            kilnd_context_prefetch(b->store, json_string_value(json_object_get(j, "context_name")));
    }
    if (r < 0) {
        if (b)
            kilnd_queue_cancel(app->queue, b->id, kiln_error_message(e, r), NULL);
        kilnd_http_fail(rs, r, e);
    } else if (!b) {
        kilnd_http_json(rs, 200, json_pack("{s:b}", "context_needed", 1));
    } else {
        kilnd_http_json(rs, 201, json_pack("{s:s, s:o}", "id", b->id, "missing", missing));
    }
    json_decref(auths);
    kilnd_build_unref(b);
    kiln_error_free(e);
    kilnd_builder_free(bl);
    kilnd_principal_free(p);
}

/*
 * The live build of rq->seg[0] when the token may reach it; NULL with rs
 * answered otherwise. `rec` (may be NULL) gets the record (live or ended).
 */
static bool find_build(struct kilnd *app, struct kilnd_http_request *rq,
                       struct kilnd_http_response *rs, struct kilnd_build_record *rec)
{
    struct kilnd_principal *p = kilnd_api_auth(app, rq, rs);
    if (!p)
        return false;
    struct kilnd_build_record r0 = {0};
    struct kiln_error *e = NULL;
    int r = kilnd_build_record_get(app->db, rq->seg[0], &r0, &e);
    bool ok = r >= 0;
    if (!ok)
        kilnd_http_fail(rs, r, e);
    kiln_error_free(e);
    if (ok) {
        _cleanup_free_ char *account = kiln_xstrdup(r0.builder);
        char *slash = strchr(account, '/');
        if (slash)
            *slash = '\0';
        ok = kilnd_api_may_connect(app, p, account, rs);
    }
    if (ok && rec)
        *rec = r0;
    else
        kilnd_build_record_release(&r0);
    kilnd_principal_free(p);
    return ok;
}

static struct kilnd_build *find_live(struct kilnd *app, struct kilnd_http_request *rq,
                                     struct kilnd_http_response *rs)
{
    if (!find_build(app, rq, rs, NULL))
        return NULL;
    struct kilnd_build *b = kilnd_queue_find(app->queue, rq->seg[0]);
    if (!b)
        kilnd_http_error(rs, 409, "build %s has ended", rq->seg[0]);
    return b;
}

static void context_missing(void *app, struct kilnd_http_request *rq,
                            struct kilnd_http_response *rs)
{
    struct kilnd_build *b = find_live(app, rq, rs);
    if (!b)
        return;
    json_t *missing = NULL;
    struct kiln_error *e = NULL;
    int r = strcmp(b->rec.state, "uploading") != 0 ? (missing = json_array(), 0)
                                                   : sync_state(app, b, &missing, &e);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    else
        kilnd_http_json(rs, 200, json_pack("{s:o}", "missing", missing));
    kiln_error_free(e);
    kilnd_build_unref(b);
}

static void upload_accept(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_build *b = find_live(app, rq, rs);
    if (b && strcmp(b->rec.state, "uploading") != 0)
        kilnd_http_error(rs, 409, "build %s has its context already", b->id);
    kilnd_build_unref(b);
}

/* Of the digests `wanted` (an upload's), those the store still lacks, as a new array in *ret. */
static int still_missing(struct kiln_store *s, json_t *wanted, json_t **ret,
                         struct kiln_error **err)
{
    size_t n = json_array_size(wanted);
    _cleanup_free_ const char **v = kiln_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(wanted, i));
    return kilnd_context_lacking(s, v, n, ret, err);
}

static void upload(void *app_, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *app = app_;
    struct kilnd_build *b = kilnd_queue_find(app->queue, rq->seg[0]);
    if (!b) {
        kilnd_http_error(rs, 409, "build %s has ended", rq->seg[0]);
        return;
    }
    _cleanup_(kiln_store_closep) struct kiln_store *s = NULL;
    json_t *missing = NULL, *still = NULL;
    size_t stored = 0;
    struct kiln_error *e = NULL;
    int r = kilnd_api_builder_store(app, b->builder, &s, &e);
    if (r >= 0)
        r = kilnd_context_missing(s, b->context, &missing, &e);
    if (r >= 0)
        r = kilnd_context_receive(s, rq->spool_fd, missing, &stored, &e);
    atomic_fetch_add(&app->context_bytes, rq->bytes);
    kilnd_events_append_json(
            b->events, json_pack("{s:s, s:I}", "kiln", "context", "bytes", (json_int_t)rq->bytes));
    if (r >= 0)
        r = still_missing(s, missing, &still, &e);
    if (r >= 0 && json_array_size(still) == 0)
        r = kilnd_queue_submit(app->queue, b, &e);
    if (r < 0)
        kilnd_http_fail(rs, r, e);
    else
        kilnd_http_json(rs, 200,
                        json_pack("{s:o, s:I}", "missing", still, "stored", (json_int_t)stored));
    json_decref(missing);
    kiln_error_free(e);
    kilnd_build_unref(b);
}

/* A client reading a build's events; `attached`: the build's own client, whose going away
 * cancels the build (as BuildKit cancels a solve when its session ends). */
struct follower {
    struct kilnd *app;
    struct kilnd_events_reader *rd;
    char id[32];
};

static ssize_t events_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    struct follower *f = ud;
    return kilnd_events_read(f->rd, buf, max);
}

static void events_free(void *ud)
{
    struct follower *f = ud;
    kilnd_events_reader_free(f->rd);
    free(f);
}

static void events_abort(void *ud)
{
    struct follower *f = ud;
    kilnd_queue_cancel(f->app->queue, f->id, "the client went away (Ctrl-C or a lost connection)",
                       NULL);
}

static void stream_events(struct kilnd *app, struct kilnd_http_request *rq,
                          struct kilnd_http_response *rs, bool follow)
{
    if (!find_build(app, rq, rs, NULL))
        return;
    struct kilnd_build *b = follow ? kilnd_queue_find(app->queue, rq->seg[0]) : NULL;
    struct kilnd_events *ev = b ? kilnd_events_ref(b->events) : NULL;
    kilnd_build_unref(b);
    struct kiln_error *e = NULL;
    if (!ev) {
        _cleanup_free_ char *path =
                kiln_xasprintf("%s/builds/%s/events.ndjson", app->data_dir, rq->seg[0]);
        int r = kilnd_events_open(path, true, &ev, &e);
        if (r < 0) {
            kilnd_http_fail(rs, r, e);
            kiln_error_free(e);
            return;
        }
    }
    struct kilnd_events_reader *rd = kilnd_events_follow(ev);
    kilnd_events_unref(ev);
    if (!rd) {
        kilnd_http_error(rs, 500, "cannot read the event log of build %s", rq->seg[0]);
        return;
    }
    struct follower *f = kiln_xcalloc(1, sizeof(*f));
    f->app = app;
    f->rd = rd;
    snprintf(f->id, sizeof(f->id), "%s", rq->seg[0]);
    rs->status = 200;
    rs->content_type = "application/x-ndjson";
    rs->stream = events_read;
    rs->stream_ud = f;
    rs->stream_free = events_free;
    const char *attach = kilnd_http_param(rq, "attach");
    if (follow && attach && strcmp(attach, "1") == 0)
        rs->stream_abort = events_abort;
}

static void events(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    stream_events(app, rq, rs, true);
}

static void logs(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    stream_events(app, rq, rs, false);
}

static void record(void *app, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd_build_record rec;
    if (!find_build(app, rq, rs, &rec))
        return;
    kilnd_http_json(rs, 200, kilnd_build_record_json(&rec));
    kilnd_build_record_release(&rec);
}

static void output(void *app_, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *app = app_;
    if (!find_build(app, rq, rs, NULL))
        return;
    _cleanup_free_ char *path = kiln_xasprintf("%s/builds/%s/output", app->data_dir, rq->seg[0]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        kilnd_http_error(rs, 404, "build %s has no output to download", rq->seg[0]);
        return;
    }
    rs->status = 200;
    rs->content_type = "application/x-tar";
    rs->has_file = true;
    rs->file_fd = fd;
    rs->file_size = (uint64_t)st.st_size;
}

static void cancel(void *app_, struct kilnd_http_request *rq, struct kilnd_http_response *rs)
{
    struct kilnd *app = app_;
    if (!find_build(app, rq, rs, NULL))
        return;
    struct kiln_error *e = NULL;
    const char *why = json_string_value(json_object_get(rq->json, "reason"));
    int r = kilnd_queue_cancel(app->queue, rq->seg[0], why ? why : "cancelled by the client", &e);
    if (r < 0)
        kilnd_http_fail(rs, r == KILN_E_NOTFOUND ? KILN_E_CONFLICT : r, e);
    else
        kilnd_http_json(rs, 202, json_pack("{s:s}", "id", rq->seg[0]));
    kiln_error_free(e);
}

const struct kilnd_route kilnd_api_build_routes[] = {
        {"POST", "/v1/builders/*/*/builds", KILND_BODY_JSON, NULL, create},
        {"GET", "/v1/builds/*", KILND_BODY_NONE, NULL, record},
        {"GET", "/v1/builds/*/context", KILND_BODY_NONE, NULL, context_missing},
        {"PUT", "/v1/builds/*/context", KILND_BODY_SPOOL, upload_accept, upload},
        {"GET", "/v1/builds/*/events", KILND_BODY_NONE, NULL, events},
        {"GET", "/v1/builds/*/logs", KILND_BODY_NONE, NULL, logs},
        {"GET", "/v1/builds/*/output", KILND_BODY_NONE, NULL, output},
        {"POST", "/v1/builds/*/cancel", KILND_BODY_JSON, NULL, cancel},
};
const size_t kilnd_api_n_build_routes =
        sizeof(kilnd_api_build_routes) / sizeof(kilnd_api_build_routes[0]);

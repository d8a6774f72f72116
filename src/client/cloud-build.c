/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-build.c - `kiln build` on a cloud builder (docs/internals/client-cloud.md).
 */
#include "cloud-build.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "build-metadata.h"
#include "commands.h"
#include "context-index.h"
#include "context-upload.h"
#include "context/read-dockerfile.h"
#include "engine/docker-engine.h"
#include "engine/docker-host.h"
#include "engine/request-json.h"
#include "oci/digest.h"
#include "oci/json.h"
#include "oci/reference.h"
#include "registry/credentials.h"

#include "base/banned.h"

#define CONTEXT_VERTEX  "sha256:0000000000000000000000000000000000000000000000000000000000000001"
#define UPLOAD_ATTEMPTS 3

struct run {
    struct kiln_cloud *c;
    struct kiln_progress *p;
    const struct kiln_builder_entry *b;
    char id[32];
    json_t *result; /* the "result" event */
    uint64_t sent;  /* context bytes sent */
};

static int read_dockerfile(struct kiln_build_request *req, struct kiln_error **err)
{
    if (req->dockerfile_text)
        return 0;
    _cleanup_free_ char *path = req->dockerfile ? kiln_xstrdup(req->dockerfile)
                                                : kiln_xasprintf("%s/Dockerfile", req->context_dir);
    struct kiln_buf b = KILN_BUF_INIT(SIZE_MAX);
    int r = kiln_context_read_dockerfile(path, &b, err);
    if (r >= 0)
        req->dockerfile_text = kiln_buf_detach(&b, NULL);
    kiln_buf_release(&b);
    return r;
}

/* Adds the credentials kiln or Docker holds for the registry of `ref` to auths. */
static void add_auth(json_t *auths, const char *ref)
{
    struct kiln_oci_ref *r = NULL;
    if (strchr(ref, '$') || kiln_oci_ref_parse_normalized(ref, &r, NULL) < 0)
        return;
    const char *domain = r->domain;
    if (!json_object_get(auths, domain)) {
        struct kiln_registry_cred *cred = NULL;
        if (kiln_registry_credentials_lookup(domain, &cred, NULL) == 1) {
            json_t *a = json_object();
            if (cred->username)
                json_object_set_new(a, "username", json_string(cred->username));
            if (cred->secret)
                json_object_set_new(a, "secret", json_string(cred->secret));
            if (cred->identity_token)
                json_object_set_new(a, "identitytoken", json_string(cred->identity_token));
            json_object_set_new(auths, domain, a);
        }
        kiln_registry_cred_free(cred);
    }
    kiln_oci_ref_free(r);
}

/*
 * The credentials the builder needs, as BuildKit's session would answer its
 * daemon: for the registries of the tags and output names (push) and of the
 * images the Dockerfile's FROM lines name (pull).
 */
static json_t *registry_auths(const struct kiln_build_request *req)
{
    json_t *auths = json_object();
    for (size_t i = 0; i < req->tags.n; i++)
        add_auth(auths, req->tags.v[i]);
    for (size_t o = 0; o < req->n_outputs; o++)
        for (size_t i = 0; i < req->outputs[o].names.n; i++)
            add_auth(auths, req->outputs[o].names.v[i]);
    _cleanup_free_ char *text = kiln_xstrdup(req->dockerfile_text);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (strncasecmp(line, "FROM", 4) != 0 || !isspace((unsigned char)line[4]))
            continue;
        char *save2 = NULL;
        for (char *w = strtok_r(line + 5, " \t\r", &save2); w; w = strtok_r(NULL, " \t\r", &save2))
            if (strncmp(w, "--", 2) != 0) {
                add_auth(auths, w);
                break;
            }
    }
    return auths;
}

/* --secret values, for the build's memory only (kilnd keeps them in no file, record or log). */
static json_t *secrets_json(const struct kiln_build_request *req)
{
    json_t *a = json_array();
    for (size_t i = 0; i < req->n_secrets; i++) {
        char *data = kiln_oci_base64_encode(req->secrets[i].data, req->secrets[i].len);
        json_array_append_new(a, json_pack("{s:s, s:s}", "id", req->secrets[i].id, "data", data));
        explicit_bzero(data, strlen(data));
        free(data);
    }
    return a;
}

/*
 * POSTs `body` with the index text added as its "context": the index is
 * written once, for its digest and for this request.
 */
static int post_with_index(struct run *run, const char *path, json_t *body, const char *index,
                           json_t **ret, struct kiln_error **err)
{
    _cleanup_free_ char *head = json_dumps(body, JSON_COMPACT);
    size_t n = head ? strlen(head) : 0;
    if (n < 2 || head[n - 1] != '}')
        return kiln_error_set(err, -ENOMEM, "cannot write the build request");
    head[n - 1] = '\0';
    _cleanup_free_ char *text = kiln_xasprintf("%s,\"context\":%s}", head, index);
    return kiln_cloud_json_text(run->c, "POST", path, text, strlen(text), ret, err);
}

/*
 * Creates the build, naming the context's index by digest first (the sha256
 * of its compact JSON, the name the builder keeps it by): a builder that
 * kept it from an earlier build needs nothing more; otherwise the index
 * itself goes in a second request.
 */
static int create(struct run *run, struct kiln_build_request *req, json_t *context,
                  json_t **ret_missing, struct kiln_error **err)
{
    if (req->n_ssh)
        return kiln_error_set(err, KILN_E_INVALID,
                              "--ssh: a cloud builder cannot reach this machine's SSH agent; "
                              "use --secret, or build with the local driver (--builder default)");
    _cleanup_free_ char *index = json_dumps(context, JSON_COMPACT);
    char digest[KILN_OCI_DIGEST_MAX];
    int r = index ? kiln_oci_digest_bytes(KILN_OCI_SHA256, index, strlen(index), digest, err)
                  : kiln_error_set(err, -ENOMEM, "cannot write the context's index");
    if (r < 0)
        return r;
    json_t *request = kiln_build_request_to_json(req);
    json_object_del(request, "context");
    char *where = realpath(req->context_dir, NULL);
    json_t *body = json_pack("{s:o, s:s, s:s, s:o, s:s, s:o}", "request", request, "dockerfile",
                             req->dockerfile_text, "context_digest", digest, "registry_auth",
                             registry_auths(req), "context_name", where ? where : req->context_dir,
                             "secrets", secrets_json(req));
    free(where);
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builders/%s/builds", run->b->builder);
    json_t *answer = NULL;
    r = kiln_cloud_json(run->c, "POST", path, body, &answer, err);
    if (r >= 0 && json_is_true(json_object_get(answer, "context_needed"))) {
        json_decref(answer);
        answer = NULL;
        r = post_with_index(run, path, body, index, &answer, err);
    }
    json_decref(body);
    if (r < 0)
        return r;
    const char *id = json_string_value(json_object_get(answer, "id"));
    json_t *missing = json_object_get(answer, "missing");
    if (!id || strlen(id) >= sizeof(run->id) || !json_is_array(missing)) {
        json_decref(answer);
        return kiln_error_set(err, KILN_E_UPSTREAM, "kilnd answered the build without an id");
    }
    snprintf(run->id, sizeof(run->id), "%s", id);
    *ret_missing = json_incref(missing);
    json_decref(answer);
    return 0;
}

static void show_sent(struct run *run, bool done)
{
    kiln_progress_status(run->p, CONTEXT_VERTEX, "transferring context:", run->sent, 0, done);
}

/* Uploads what the builder lacks until it lacks nothing (an interrupted upload resumes). */
static int upload(struct run *run, const char *context_dir, json_t *entries, json_t *missing,
                  struct kiln_error **err)
{
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builds/%s/context", run->id);
    json_incref(missing);
    int r = 0;
    for (unsigned attempt = 0; json_array_size(missing) && attempt < UPLOAD_ATTEMPTS; attempt++) {
        struct kiln_context_upload *u = NULL;
        json_t *answer = NULL;
        r = kiln_context_upload_open(context_dir, entries, missing, &u, err);
        if (r >= 0) {
            r = kiln_cloud_upload(run->c, path, "zstd", kiln_context_upload_read, u, &answer, err);
            run->sent += kiln_context_upload_bytes(u);
            kiln_context_upload_close(u);
        }
        show_sent(run, false);
        json_decref(missing);
        missing = NULL;
        if (r >= 0)
            missing = json_incref(json_object_get(answer, "missing"));
        else if (r == KILN_E_UPSTREAM) {
            /* cut off: ask what is still missing and send that */
            kiln_error_free(err ? *err : NULL);
            if (err)
                *err = NULL;
            r = kiln_cloud_json(run->c, "GET", path, NULL, &answer, err);
            if (r >= 0)
                missing = json_incref(json_object_get(answer, "missing"));
        }
        json_decref(answer);
        if (r < 0)
            break;
    }
    if (r >= 0 && json_array_size(missing))
        r = kiln_error_set(err, KILN_E_UPSTREAM,
                           "the build context could not be uploaded in %u attempts",
                           UPLOAD_ATTEMPTS);
    json_decref(missing);
    return r;
}

static int send_context(struct run *run, struct kiln_build_request *req, struct kiln_error **err)
{
    kiln_progress_start(run->p, CONTEXT_VERTEX, "[internal] load build context");
    json_t *entries = NULL, *missing = NULL;
    struct kiln_context_index_stats stats = {0};
    int r = kiln_context_index_build(req->context_dir, &entries, &stats, err);
    if (r >= 0)
        r = create(run, req, entries, &missing, err);
    if (r >= 0 && json_array_size(missing))
        r = upload(run, req->context_dir, entries, missing, err);
    json_decref(entries);
    json_decref(missing);
    if (r < 0) {
        kiln_progress_error(run->p, CONTEXT_VERTEX, kiln_error_message(err ? *err : NULL, r));
        return r;
    }
    show_sent(run, true);
    kiln_progress_done(run->p, CONTEXT_VERTEX);
    return 0;
}

static int on_event(void *ud, const char *line, size_t len, struct kiln_error **err)
{
    struct run *run = ud;
    if (len == 0)
        return 0; /* a heartbeat */
    json_t *j = json_loadb(line, len, 0, NULL);
    if (!j)
        return 0;
    const char *kiln = json_string_value(json_object_get(j, "kiln"));
    if (!kiln) {
        kiln_progress_replay(run->p, j);
    } else if (strcmp(kiln, "queued") == 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "waiting for a free slot on %s (position %lld)", run->b->builder,
                 (long long)json_integer_value(json_object_get(j, "position")));
        kiln_progress_warn(run->p, NULL, msg);
    } else if (strcmp(kiln, "result") == 0) {
        json_decref(run->result);
        run->result = json_incref(j);
    }
    json_decref(j);
    return 0;
}

/* Ctrl-C or SIGTERM: ask kilnd to cancel; a second one leaves at once. */
static void *canceller(void *arg)
{
    struct run *run = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    if (sigwait(&set, &sig) != 0)
        return NULL;
    struct kiln_cloud *c = NULL;
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builds/%s/cancel", run->id);
    if (kiln_cloud_open(run->b->endpoint, &c, NULL) >= 0) {
        json_t *answer = NULL, *body = json_pack("{s:s}", "reason", "cancelled by the client");
        kiln_cloud_json(c, "POST", path, body, &answer, NULL);
        json_decref(body);
        json_decref(answer);
        kiln_cloud_free(c);
    }
    if (sigwait(&set, &sig) == 0)
        _exit(130);
    return NULL;
}

static int follow(struct run *run, struct kiln_error **err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    bool started = pthread_create(&t, NULL, canceller, run) == 0;
    if (started)
        pthread_detach(t);
    _cleanup_free_ char *path = kiln_xasprintf("/v1/builds/%s/events?attach=1", run->id);
    int r = kiln_cloud_stream_lines(run->c, path, on_event, run, err);
    if (r >= 0 && !run->result)
        r = kiln_error_set(err, KILN_E_UPSTREAM,
                           "the connection to kilnd ended before the build did: kiln history "
                           "inspect %s shows how it went",
                           run->id);
    return r;
}

/* The layers the engine loaded into has already: the builder leaves them out of the tar. */
static const char *engine_has(struct kiln_build_request *req, const char *host)
{
    for (size_t i = 0; i < req->n_outputs; i++)
        if (req->outputs[i].type == KILN_OUTPUT_DOCKER && !req->outputs[i].dest)
            kiln_docker_engine_chains(host, &req->tags, &req->outputs[i].engine_has);
    return host;
}

/* A tagged build with no output loads into the local Docker engine when one answers. */
static const char *plan_load(struct kiln_build_request *req)
{
    const char *host = kiln_docker_host();
    bool has_load = false;
    for (size_t i = 0; i < req->n_outputs; i++)
        if (req->outputs[i].type == KILN_OUTPUT_DOCKER && !req->outputs[i].dest)
            has_load = true;
    if (has_load)
        return engine_has(req, host);
    if (req->n_outputs || !req->tags.n)
        return NULL;
    if (req->platforms.n > 1 || !kiln_docker_ping(host)) {
        fprintf(stderr, "WARNING: No output specified and no local Docker engine to load into: the "
                        "result stays in the builder's cache only. Use --push to push it to a "
                        "registry, or -o type=oci,dest=FILE to download it\n");
        return NULL;
    }
    req->outputs = kiln_xcalloc(1, sizeof(*req->outputs));
    req->n_outputs = 1;
    req->outputs[0] = (struct kiln_build_output){.type = KILN_OUTPUT_DOCKER,
                                                 .compression = KILN_OCI_COMPRESSION_GZIP,
                                                 .compression_level = KILN_OCI_LEVEL_DEFAULT,
                                                 .oci_mediatypes = KILN_DF_UNSET};
    return engine_has(req, host);
}

static int finish(struct run *run, struct kiln_build_request *req, const struct kiln_build_cli *cli,
                  const char *load, struct kiln_error **err)
{
    const char *status = json_string_value(json_object_get(run->result, "status"));
    if (!status || strcmp(status, "succeeded") != 0) {
        const char *msg = json_string_value(json_object_get(run->result, "error"));
        int r = kiln_error_set(
                err, status && strcmp(status, "canceled") == 0 ? KILN_E_CANCELLED : KILN_E_INVALID,
                "%s", msg ? msg : "the build failed");
        if (err && *err)
            (*err)->line = (unsigned)json_integer_value(json_object_get(run->result, "line"));
        return r;
    }
    int r = 0;
    if (json_is_true(json_object_get(run->result, "output")))
        r = kiln_cloud_output_fetch(run->c, run->id, req, load, err);
    _cleanup_free_ char *ref = kiln_xasprintf("%s/%s/%s", run->b->name, run->b->builder, run->id);
    if (r >= 0)
        r = kiln_cloud_result_report(cli, run->result, ref, err);
    return r;
}

int kiln_cloud_build_run(struct kiln_build_request *req, const struct kiln_build_cli *cli,
                         const struct kiln_builder_entry *b)
{
    struct run run = {.b = b};
    struct kiln_error *e = NULL;
    int r = read_dockerfile(req, &e);
    const char *load = r >= 0 ? plan_load(req) : NULL;
    if (r >= 0)
        r = kiln_cloud_open(b->endpoint, &run.c, &e);
    run.p = kiln_progress_new(cli->progress, stderr);
    if (r >= 0)
        r = send_context(&run, req, &e);
    if (r >= 0)
        r = follow(&run, &e);
    kiln_progress_free(run.p);
    if (r >= 0)
        r = finish(&run, req, cli, load, &e);
    if (r < 0)
        kiln_build_print_failure(req, e, r);
    kiln_error_free(e);
    json_decref(run.result);
    kiln_cloud_free(run.c);
    return r < 0 ? KILN_EXIT_FAILURE : KILN_EXIT_OK;
}

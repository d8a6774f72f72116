/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker.c - `kilnd worker`: one build in a process of its own, started by
 * kilnd's queue (docs/internals/server.md). A process per build gives each
 * build its own mount namespace, lets a cancel or a time limit end it
 * whole, and keeps a crash from taking kilnd down.
 *
 * stdin: the job (JSON, read to its end; it holds the registry credentials,
 * which stay in this process's memory). stdout: the build's progress, one
 * rawjson line per event. BUILD_DIR/result.json: how it ended.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "context-slot.h"
#include "engine/build.h"
#include "engine/request-json.h"
#include "oci/json.h"
#include "registry/credentials.h"
#include "registry/registry.h"
#include "store/store.h"

#include "base/banned.h"

#define JOB_MAX (256u << 20)

static int cancel_pipe[2] = {-1, -1};

static void on_term(int sig)
{
    int saved = errno;
    if (write(cancel_pipe[1], "x", 1) < 0) {
        /* nothing more can be done from a signal handler */
    }
    errno = saved;
}

static int setup_signals(void)
{
    if (pipe2(cancel_pipe, O_CLOEXEC) < 0)
        return -errno;
    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* kilnd going away cancels the build */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    return 0;
}

static void preset_credentials(json_t *auths)
{
    const char *host;
    json_t *a;
    json_object_foreach (auths, host, a) {
        struct kiln_registry_cred c = {
                .username = (char *)json_string_value(json_object_get(a, "username")),
                .secret = (char *)json_string_value(json_object_get(a, "secret")),
                .identity_token = (char *)json_string_value(json_object_get(a, "identitytoken")),
        };
        kiln_registry_credentials_preset(host, &c);
    }
}

/* --secret values from the job, into the request (they live in this process only). */
static int take_secrets(json_t *secrets, struct kiln_build_request *req, struct kiln_error **err)
{
    json_t *s;
    size_t i;
    req->secrets = kiln_xcalloc(json_array_size(secrets) + 1, sizeof(*req->secrets));
    json_array_foreach (secrets, i, s) {
        struct kiln_build_secret *out = &req->secrets[req->n_secrets];
        const char *data = json_string_value(json_object_get(s, "data"));
        if (!data || !kiln_oci_base64_decode(data, &out->data, &out->len))
            return kiln_error_set(err, KILN_E_INVALID, "secret %zu is not base64", i);
        out->id = kiln_xstrdup(json_string_value(json_object_get(s, "id")));
        req->n_secrets++;
    }
    return 0;
}

/* Outputs that stream back are written to BUILD_DIR/output; type=local travels as a tar. */
static void redirect_outputs(struct kiln_build_request *req, const char *build_dir)
{
    for (size_t i = 0; i < req->n_outputs; i++) {
        struct kiln_build_output *o = &req->outputs[i];
        free(o->dest);
        o->dest = NULL;
        if (o->type == KILN_OUTPUT_LOCAL)
            o->type = KILN_OUTPUT_TAR;
        if (o->type == KILN_OUTPUT_OCI || o->type == KILN_OUTPUT_DOCKER ||
            o->type == KILN_OUTPUT_TAR)
            o->dest = kiln_xasprintf("%s/output", build_dir);
    }
}

/*
 * The request as the engine runs it: the context in a slot of the builder
 * (kept from the client's last build, brought up to date), the Dockerfile's
 * text, outputs redirected to the build's directory. *ret_slot stays taken
 * for the build.
 */
static int prepare(json_t *job, const char *build_dir, struct kiln_build_request *req,
                   struct kilnd_context_slot **ret_slot, struct kiln_error **err)
{
    int r = kiln_build_request_from_json(json_object_get(job, "request"), req, err);
    if (r < 0)
        return r;
    free(req->dockerfile);
    req->dockerfile = kiln_xstrdup("-");
    const char *text = json_string_value(json_object_get(job, "dockerfile"));
    req->dockerfile_text = kiln_xstrdup(text ? text : "");
    free(req->builder);
    req->builder = kiln_xstrdup(json_string_value(json_object_get(job, "builder")));
    free(req->oci_runtime); /* kilnd's own choice ($KILN_OCI_RUNTIME), never the client's */
    req->oci_runtime = NULL;
    redirect_outputs(req, build_dir);
    if ((r = take_secrets(json_object_get(job, "secrets"), req, err)) < 0)
        return r;
    _cleanup_(kiln_store_closep) struct kiln_store *s = NULL;
    const char *store = json_string_value(json_object_get(job, "store"));
    if ((r = kiln_store_open(store, &s, err)) < 0 ||
        (r = kilnd_context_slot_take(store, json_string_value(json_object_get(job, "context_name")),
                                     ret_slot, err)) < 0)
        return r;
    free(req->context_dir);
    req->context_dir = kiln_xstrdup((*ret_slot)->tree);
    return kilnd_context_slot_sync(*ret_slot, s, store,
                                   json_string_value(json_object_get(job, "context_digest")), err);
}

static json_t *result_json(int r, const struct kiln_error *e, const struct kiln_build_result *res)
{
    if (r < 0)
        return json_pack("{s:s, s:s, s:i}", "status", r == KILN_E_CANCELLED ? "canceled" : "failed",
                         "error", kiln_error_message(e, r), "line", e ? (int)e->line : 0);
    return json_pack("{s:s, s:s, s:s, s:O?, s:o}", "status", "succeeded", "image_digest",
                     res->image_digest, "config_digest", res->config_digest, "descriptor",
                     res->descriptor, "names", kiln_oci_json_strv(&res->names));
}

static int write_result(const char *build_dir, json_t *result)
{
    _cleanup_free_ char *tmp = kiln_xasprintf("%s/result.json.tmp", build_dir);
    _cleanup_free_ char *path = kiln_xasprintf("%s/result.json", build_dir);
    int r = json_dump_file(result, tmp, JSON_COMPACT);
    if (r == 0 && rename(tmp, path) < 0)
        r = -1;
    return r;
}

int kilnd_worker_main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: kilnd worker BUILD_DIR (started by kilnd serve, job on stdin)\n");
        return 2;
    }
    const char *build_dir = argv[1];
    if (setup_signals() < 0)
        return 1;
    struct kiln_buf in = KILN_BUF_INIT(JOB_MAX);
    int r = kiln_buf_read_fd(&in, STDIN_FILENO);
    json_t *job = r < 0 ? NULL : json_loadb(in.buf, in.len, 0, NULL);
    explicit_bzero(in.buf, in.len);
    kiln_buf_release(&in);
    if (!job) {
        fprintf(stderr, "kilnd worker: cannot read the job from stdin\n");
        return 1;
    }
    preset_credentials(json_object_get(job, "registry_auth"));
    json_object_del(job, "registry_auth");

    setvbuf(stdout, NULL, _IOLBF, 0);
    struct kiln_build_request req = {0};
    struct kiln_build_result res = {0};
    struct kiln_error *e = NULL;
    _cleanup_strv_ struct kiln_strv insecure = KILN_STRV_INIT;
    kiln_registry_insecure_from_env(&insecure); /* kilnd's environment, as kiln build reads it */
    struct kiln_build_env env = {
            .insecure = (const char *const *)insecure.v,
            .data_dir = json_string_value(json_object_get(job, "store")),
            .progress = kiln_progress_new(KILN_PROGRESS_RAWJSON, stdout),
            .cancel_fd = cancel_pipe[0],
            .cache_limit = (uint64_t)json_integer_value(json_object_get(job, "cache_max")),
    };
    _cleanup_(kilnd_context_slot_freep) struct kilnd_context_slot *slot = NULL;
    r = prepare(job, build_dir, &req, &slot, &e);
    if (r >= 0)
        r = kiln_build_run(&req, &env, &res, &e);
    kiln_progress_free(env.progress);
    fflush(stdout);
    json_t *result = result_json(r, e, &res);
    int w = write_result(build_dir, result);
    json_decref(result);
    kiln_error_free(e);
    kiln_build_result_release(&res);
    kiln_build_request_release(&req);
    json_decref(job);
    return w < 0 ? 1 : r < 0 ? 1 : 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * build.h - one build, from request to result: the engine's entry point for
 * both drivers (in-process for `kiln build`, and kilnd).
 *
 *   struct kiln_build_request req = KILN_BUILD_REQUEST_INIT;
 *   req.context_dir = "."; ...
 *   struct kiln_build_result res = {0};
 *   r = kiln_build_run(&req, &env, &res, &err);
 *   kiln_build_result_release(&res);
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/strv.h"
#include "dockerfile/instructions.h"
#include "oci/compress.h"
#include "oci/digest.h"
#include "progress.h"

enum kiln_output_type {
    KILN_OUTPUT_IMAGE,     /* type=image (type=registry is image with push) */
    KILN_OUTPUT_OCI,       /* an OCI image layout tar */
    KILN_OUTPUT_DOCKER,    /* a docker-load tar; without dest: loaded into the local engine */
    KILN_OUTPUT_TAR,       /* the final filesystem as a tar */
    KILN_OUTPUT_LOCAL,     /* the final filesystem copied to a directory */
    KILN_OUTPUT_CACHEONLY, /* nothing: the result stays in the build cache */
};

struct kiln_build_output {
    enum kiln_output_type type;
    char *dest;                            /* a path, "-" for stdout; NULL when not given */
    struct kiln_strv names;                /* name=, split on ','; the tags (-t) when empty */
    bool push;                             /* image: push every name */
    enum kiln_oci_compression compression; /* default gzip */
    int compression_level;                 /* KILN_OCI_LEVEL_DEFAULT */
    bool force_compression;
    enum kiln_df_tristate oci_mediatypes; /* unset: OCI (docker output: Docker's) */
    struct kiln_strv engine_has; /* docker, for a load: chain ids the engine has (left out) */
};

/* A build secret (--secret): its value, read by the client before the build. */
/* BuildKit's cap on one --secret's value (bytes). */
#define KILN_BUILD_SECRET_MAX (500u * 1024u)

struct kiln_build_secret {
    char *id;
    uint8_t *data; /* zeroed on release */
    size_t len;
};

/* An SSH agent forwarded to RUN --mount=type=ssh (--ssh): the client's socket. */
struct kiln_build_ssh {
    char *id;       /* "default" for --ssh default */
    char *socket;   /* absolute path of the agent's socket; for a key file, its own agent's */
    char *key_file; /* --ssh ID=KEYFILE: the key's absolute path (an agent of kiln's holds it) */
};

struct kiln_build_request {
    char *context_dir;
    char *dockerfile;      /* path of the Dockerfile; NULL: CONTEXT/Dockerfile; "-": stdin text */
    char *dockerfile_text; /* when given, the Dockerfile itself (stdin) */
    struct kiln_strv tags; /* -t, as given */
    struct kiln_strv build_args; /* "K=V", values already taken from the environment for K alone */
    struct kiln_strv labels;     /* "K=V" */
    char *target;                /* NULL: the last stage */
    struct kiln_strv platforms;  /* "linux/amd64"; empty: the host's */
    struct kiln_build_output *outputs;
    size_t n_outputs; /* 0: cache only, with a warning when there are tags */
    bool no_cache;
    bool pull;
    bool allow_network_host; /* --allow network.host: RUN --network=host may run */
    bool has_epoch;          /* SOURCE_DATE_EPOCH (build arg or environment) */
    int64_t epoch;
    char *builder;     /* cache namespace: "local" for the local driver */
    char *oci_runtime; /* --oci-runtime NAME|PATH; NULL: the sandbox's choice (runtime-select.h) */
    struct kiln_build_secret *secrets; /* values only here: never in a key, layer or log */
    size_t n_secrets;
    struct kiln_build_ssh *ssh;
    size_t n_ssh;
};

struct kiln_build_env {
    const char *data_dir; /* the store: $KILN_DATA_DIR */
    struct kiln_progress *progress;
    const char *const *insecure; /* registries spoken to over plain HTTP (NULL-terminated) */
    const char *docker_host;     /* for --load (docker-host.h); NULL: kiln_docker_host() */
    int cancel_fd; /* > 0: the build stops (KILN_E_CANCELLED) once it is readable; 0: never */
    uint64_t cache_limit; /* after the build, collect the cache down to this (0: keep all) */
};

struct kiln_build_result {
    char image_digest[KILN_OCI_DIGEST_MAX];  /* the manifest (or index) of the image; "" without */
    char config_digest[KILN_OCI_DIGEST_MAX]; /* single platform: the config */
    json_t *descriptor;                      /* the manifest's descriptor; NULL without */
    struct kiln_strv names;                  /* what was named or pushed */
};

void kiln_build_request_release(struct kiln_build_request *req);
void kiln_build_result_release(struct kiln_build_result *res);

/*
 * Runs a build. Progress goes to env->progress. Errors carry what failed and
 * where (the Dockerfile line when there is one): KILN_E_INVALID for a bad
 * Dockerfile or request, KILN_E_NOTFOUND for a missing context file or image,
 * KILN_E_DENIED for refused registry credentials, KILN_E_TIMEOUT, -errno.
 */
int kiln_build_run(const struct kiln_build_request *req, const struct kiln_build_env *env,
                   struct kiln_build_result *ret, struct kiln_error **err);

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-engine.c - the layers the local Docker engine has (GET /info,
 * GET /images/NAME/json on its unix socket).
 */
#include "docker-engine.h"

#include <curl/curl.h>
#include <jansson.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/cleanup.h"
#include "docker-host.h"
#include "layers.h"
#include "oci/digest.h"

#include "base/banned.h"

/* An answer larger than this is not one we ask for. */
#define ANSWER_MAX (4u << 20)
#define TIMEOUT_S  10L

static size_t answer_cb(char *data, size_t size, size_t n, void *userdata)
{
    struct kiln_buf *b = userdata;
    return kiln_buf_add(b, data, size * n) < 0 ? 0 : size * n;
}

/* GET path on the engine: its JSON answer when it says 200, else NULL. */
static json_t *get(CURL *c, const char *host, const char *path)
{
    _cleanup_buf_ struct kiln_buf answer = KILN_BUF_INIT(ANSWER_MAX);
    _cleanup_free_ char *url = NULL;
    if (kiln_docker_curl_target(c, host, path, &url, NULL) < 0)
        return NULL;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TIMEOUT_S);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK ||
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
        return NULL;
    return json_loadb(answer.buf, answer.len, 0, NULL);
}

/* Whether the engine keeps images in containerd's store (DriverStatus names a snapshotter). */
static bool containerd_store(json_t *info)
{
    json_t *pair;
    size_t i;
    json_array_foreach (json_object_get(info, "DriverStatus"), i, pair) {
        const char *v = json_string_value(json_array_get(pair, 1));
        if (v && strstr(v, "io.containerd.snapshotter"))
            return true;
    }
    return false;
}

static void add_chains(json_t *image, struct kiln_strv *chains)
{
    char chain[KILN_OCI_DIGEST_MAX] = "";
    json_t *layer;
    size_t i;
    json_array_foreach (json_object_get(json_object_get(image, "RootFS"), "Layers"), i, layer) {
        const char *diff = json_string_value(layer);
        if (!diff || kiln_oci_digest_validate(diff, NULL) < 0 ||
            chains->n >= KILN_DOCKER_CHAINS_MAX)
            return;
        kiln_layer_chain_id(chain, diff, chain);
        kiln_strv_push(chains, chain);
    }
}

void kiln_docker_engine_chains(const char *host, const struct kiln_strv *names,
                               struct kiln_strv *chains)
{
    if (!names->n)
        return;
    CURL *c = curl_easy_init();
    if (!c)
        return;
    json_t *info = get(c, host, "/info");
    for (size_t i = 0; info && !containerd_store(info) && i < names->n; i++) {
        /* a tag needs no escaping in the engine's path; anything else is not asked */
        const char *name = names->v[i];
        bool plain = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789._-/:@") == strlen(name);
        _cleanup_free_ char *path = plain ? kiln_xasprintf("/images/%s/json", name) : NULL;
        json_t *image = path ? get(c, host, path) : NULL;
        add_chains(image, chains);
        json_decref(image);
    }
    json_decref(info);
    curl_easy_cleanup(c);
}

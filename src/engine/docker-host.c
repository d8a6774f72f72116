/* SPDX-License-Identifier: Apache-2.0 */
/*
 * docker-host.c - where the Docker engine is, and a curl handle pointed at it.
 */
#include "docker-host.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cleanup.h"

#include "base/banned.h"

#define PING_TIMEOUT_S 5L

const char *kiln_docker_host(void)
{
    const char *v = getenv("DOCKER_HOST");
    return v && *v ? v : KILN_DOCKER_DEFAULT_SOCKET;
}

const char *kiln_docker_host_socket(const char *host)
{
    return strncmp(host, "unix://", 7) == 0 ? host + 7 : *host == '/' ? host : NULL;
}

/* DOCKER_TLS_VERIFY's client certificates for a tcp engine. */
static void tls(CURL *c)
{
    const char *dir = getenv("DOCKER_CERT_PATH"), *home = getenv("HOME");
    _cleanup_free_ char *certs = dir && *dir ? kiln_xstrdup(dir)
                                 : home      ? kiln_xasprintf("%s/.docker", home)
                                             : kiln_xstrdup(".docker");
    _cleanup_free_ char *ca = kiln_xasprintf("%s/ca.pem", certs);
    _cleanup_free_ char *cert = kiln_xasprintf("%s/cert.pem", certs);
    _cleanup_free_ char *key = kiln_xasprintf("%s/key.pem", certs);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
}

int kiln_docker_curl_target(CURL *c, const char *host, const char *path, char **ret_url,
                            struct kiln_error **err)
{
    const char *socket = kiln_docker_host_socket(host);
    if (socket) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
        *ret_url = kiln_xasprintf("http://localhost%s", path);
    } else if (strncmp(host, "tcp://", 6) == 0 && host[6]) {
        const char *v = getenv("DOCKER_TLS_VERIFY");
        bool secure = v && *v && strcmp(v, "0") != 0;
        *ret_url = kiln_xasprintf("%s://%s%s", secure ? "https" : "http", host + 6, path);
        if (secure)
            tls(c);
    } else {
        return kiln_error_set(err, KILN_E_INVALID,
                              "DOCKER_HOST=%s: kiln loads into a Docker engine on a unix socket "
                              "(unix://PATH) or tcp://HOST:PORT; write the image to a file "
                              "instead: -o type=docker,dest=FILE",
                              host);
    }
    curl_easy_setopt(c, CURLOPT_URL, *ret_url);
    return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
    (void)data;
    (void)userdata;
    return size * n;
}

bool kiln_docker_ping(const char *host)
{
    CURL *c = curl_easy_init();
    _cleanup_free_ char *url = NULL;
    long status = 0;
    if (c && kiln_docker_curl_target(c, host, "/_ping", &url, NULL) >= 0) {
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, PING_TIMEOUT_S);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    if (c)
        curl_easy_cleanup(c);
    return status == 200;
}

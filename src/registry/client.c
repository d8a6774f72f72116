/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - a client of one registry: its CURL handle, where it is
 * (https://HOST, or http:// for loopback and configured insecure hosts) and
 * with which credentials.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"

#include "base/banned.h"

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* host[:port], as reference.h's domain grammar allows: letters, digits, '.', '-', ':', [ ]. */
static bool valid_domain(const char *d)
{
    size_t n = strlen(d);
    return n > 0 && n <= 255 &&
           strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

int kiln_registry_client_new(const char *domain, const struct kiln_registry_options *opts,
                             struct kiln_registry_client **ret, struct kiln_error **err)
{
    static const struct kiln_registry_options defaults = {0};
    if (!opts)
        opts = &defaults;
    if (!valid_domain(domain))
        return kiln_error_set(err, KILN_E_INVALID, "invalid registry domain '%.255s'", domain);
    if (opts->chunk_size > KILN_REGISTRY_CHUNK_MAX)
        return kiln_error_set(err, KILN_E_INVALID, "upload chunk size above %u bytes",
                              KILN_REGISTRY_CHUNK_MAX);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return kiln_error_set(err, -ENOMEM, "cannot initialise libcurl");
    _cleanup_(kiln_registry_client_freep) struct kiln_registry_client *c =
            kiln_xcalloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl) {
        curl_global_cleanup();
        return kiln_error_set(err, -ENOMEM, "cannot initialise libcurl");
    }
    c->domain = kiln_xstrdup(domain);
    c->host = kiln_xstrdup(strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain);
    c->plain_http = kiln_oci_ref_plain_http(domain) || in_list(opts->insecure, domain);
    c->base = kiln_xasprintf("%s://%s", c->plain_http ? "http" : "https", c->host);
    c->origin = kiln_registry_url_origin(c->base);
    if (!c->origin)
        return kiln_error_set(err, KILN_E_INVALID, "invalid registry domain '%s'", domain);
    c->cred = kiln_registry_cred_dup(opts->cred);
    c->connect_timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 30;
    c->low_speed_time_s = opts->low_speed_time_s > 0 ? opts->low_speed_time_s : 60;
    c->request_timeout_s = opts->request_timeout_s > 0 ? opts->request_timeout_s : 300;
    c->chunk_size = opts->chunk_size;
    *ret = TAKE_PTR(c);
    return 0;
}

void kiln_registry_client_free(struct kiln_registry_client *c)
{
    if (!c)
        return;
    kiln_registry_tokens_clear(c);
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    kiln_registry_cred_free(c->cred);
    free(c->realm);
    free(c->service);
    free(c->base);
    free(c->origin);
    free(c->host);
    free(c->domain);
    free(c);
}

char *kiln_registry_url(const struct kiln_registry_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *path = kiln_xvasprintf(fmt, ap);
    va_end(ap);
    return kiln_xasprintf("%s%s", c->base, path);
}

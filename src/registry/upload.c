/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upload.c - blob upload sessions of the distribution API: POST opens one
 * (or mounts the blob from another repository), then either one PUT with
 * the whole body, or PATCHes of chunks with Content-Range followed by an
 * empty PUT; every answer's Location is where the next request goes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "internal.h"

#include "base/banned.h"

static const char octet_stream[] = "Content-Type: application/octet-stream";

int kiln_registry_upload_start(struct kiln_registry_client *c, const char *repo, const char *scope,
                               const char *digest, const char *from, char **ret_location,
                               struct kiln_error **err)
{
    _cleanup_free_ char *url = from ? kiln_registry_url(c, "/v2/%s/blobs/uploads/?mount=%s&from=%s",
                                                        repo, digest, from)
                                    : kiln_registry_url(c, "/v2/%s/blobs/uploads/", repo);
    struct kiln_registry_request rq = {
            .method = "POST",
            .url = url,
            .scope = scope,
            .timeout_s = c->request_timeout_s,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    int r = kiln_registry_request(c, &rq, &rs, err);
    if (r < 0)
        return r;
    if (rs.status == 201 && from)
        return 1;
    if (rs.status != 202 || !rs.location)
        return kiln_registry_http_wrap(&rq,
                                       kiln_error_set(err, KILN_E_UPSTREAM,
                                                      "%ld answer without an upload location",
                                                      rs.status),
                                       err);
    *ret_location = TAKE_PTR(rs.location);
    return 0;
}

/* location with "digest=<digest>" added to its query. Caller frees. */
static char *with_digest(const char *location, const char *digest)
{
    return kiln_xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', digest);
}

/* The PUT that commits an upload: the rest of the body (maybe none) and the digest. */
static int put(struct kiln_registry_client *c, const char *location, const char *scope,
               const char *digest, struct kiln_registry_request *body, uint64_t *sent,
               struct kiln_error **err)
{
    _cleanup_free_ char *url = with_digest(location, digest);
    const char *headers[] = {octet_stream, NULL};
    body->method = "PUT";
    body->url = url;
    body->scope = scope;
    body->headers = headers;
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    int r = kiln_registry_request(c, body, &rs, err);
    *sent += rs.sent;
    if (r < 0)
        return r;
    if (rs.digest && strcmp(rs.digest, digest) != 0)
        return kiln_registry_http_wrap(body,
                                       kiln_error_set(err, KILN_E_UPSTREAM,
                                                      "the registry stored %.140s, not %s",
                                                      rs.digest, digest),
                                       err);
    return 0;
}

int kiln_registry_upload_monolithic(struct kiln_registry_client *c, const char *location,
                                    const char *scope, const char *digest, int64_t size,
                                    kiln_registry_read_fn *read, void *data, uint64_t *sent,
                                    struct kiln_error **err)
{
    struct kiln_registry_request rq = {.read = read, .read_data = data, .body_len = (uint64_t)size};
    return put(c, location, scope, digest, &rq, sent, err);
}

/* Fills buf with exactly n bytes from read(), hashing them. */
static int fill(kiln_registry_read_fn *read, void *data, char *buf, size_t n,
                struct kiln_oci_digester *d, struct kiln_error **err)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(data, buf + got, n - got, err);
        if (k < 0)
            return (int)k;
        if (k == 0)
            return kiln_error_set(err, KILN_E_INVALID, "the data ended %zu bytes early", n - got);
        got += (size_t)k;
    }
    return kiln_oci_digester_update(d, buf, n, err);
}

/* One PATCH of n bytes at offset off; moves *location to the answer's. */
static int patch(struct kiln_registry_client *c, char **location, const char *scope,
                 const char *buf, size_t n, int64_t off, uint64_t *sent, struct kiln_error **err)
{
    char range[96];
    snprintf(range, sizeof(range), "Content-Range: %" PRId64 "-%" PRId64, off,
             off + (int64_t)n - 1);
    const char *headers[] = {octet_stream, range, NULL};
    struct kiln_registry_request rq = {
            .method = "PATCH",
            .url = *location,
            .scope = scope,
            .headers = headers,
            .body = buf,
            .body_len = n,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    int r = kiln_registry_request(c, &rq, &rs, err);
    *sent += rs.sent;
    if (r >= 0 && (rs.status != 202 || !rs.location))
        r = kiln_registry_http_wrap(&rq,
                                    kiln_error_set(err, KILN_E_UPSTREAM,
                                                   "%ld answer without an upload location",
                                                   rs.status),
                                    err);
    if (r < 0)
        return r;
    free(*location);
    *location = TAKE_PTR(rs.location);
    return 0;
}

int kiln_registry_upload_chunked(struct kiln_registry_client *c, const char *location,
                                 const char *scope, const char *digest, int64_t size,
                                 kiln_registry_read_fn *read, void *data, uint64_t *sent,
                                 struct kiln_error **err)
{
    _cleanup_free_ char *loc = kiln_xstrdup(location);
    _cleanup_free_ char *buf = kiln_xmalloc(c->chunk_size);
    char got[KILN_OCI_DIGEST_MAX];
    struct kiln_oci_digester d;
    int r = kiln_oci_digester_init(&d, kiln_registry_digest_algo(digest), err);
    for (int64_t off = 0; r >= 0 && off < size;) {
        size_t n = (uint64_t)(size - off) < c->chunk_size ? (size_t)(size - off) : c->chunk_size;
        r = fill(read, data, buf, n, &d, err);
        if (r >= 0)
            r = patch(c, &loc, scope, buf, n, off, sent, err);
        off += (int64_t)n;
    }
    if (r >= 0)
        r = kiln_oci_digester_final(&d, got, err);
    kiln_oci_digester_release(&d);
    if (r >= 0 && strcmp(got, digest) != 0)
        r = kiln_error_set(err, KILN_E_INVALID, "the data's digest is %s, not %s", got, digest);
    if (r < 0)
        return r;
    struct kiln_registry_request rq = {.body_len = 0};
    return put(c, loc, scope, digest, &rq, sent, err);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blob.c - GET and HEAD of blobs. A blob streams to the caller while its
 * digest is computed and its length counted: a body longer than the
 * descriptor says is cut at once, a short one or a wrong digest fails at
 * the end, and the caller discards what it got.
 */
#include <inttypes.h>
#include <string.h>

#include "base/alloc.h"
#include "internal.h"

#include "base/banned.h"

struct verifier {
    struct kiln_oci_digester digester;
    int64_t want;
    int64_t got;
    kiln_registry_write_fn *write;
    void *data;
};

static int verify_sink(void *data, const void *p, size_t n, struct kiln_error **err)
{
    struct verifier *v = data;
    if ((uint64_t)n > (uint64_t)(v->want - v->got))
        return kiln_error_set(err, KILN_E_UPSTREAM, "blob is longer than its %" PRId64 " bytes",
                              v->want);
    v->got += (int64_t)n;
    int r = kiln_oci_digester_update(&v->digester, p, n, err);
    return r < 0 ? r : v->write(v->data, p, n, err);
}

static int finish_verify(struct verifier *v, const char *digest, struct kiln_error **err)
{
    char got[KILN_OCI_DIGEST_MAX];
    if (v->got != v->want)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "blob ended after %" PRId64 " of %" PRId64 " bytes", v->got, v->want);
    int r = kiln_oci_digester_final(&v->digester, got, err);
    if (r >= 0 && strcmp(got, digest) != 0)
        r = kiln_error_set(err, KILN_E_UPSTREAM, "blob digest is %s, expected %s", got, digest);
    return r;
}

int kiln_registry_blob_get(struct kiln_registry_client *c, const char *repo, const char *digest,
                           int64_t size, kiln_registry_write_fn *write, void *data,
                           struct kiln_error **err)
{
    int r = kiln_registry_check_repo(repo, err);
    if (r >= 0)
        r = kiln_registry_check_digest(digest, err);
    if (r >= 0 && size < 0)
        r = kiln_error_set(err, KILN_E_INVALID, "negative blob size %" PRId64, size);
    if (r < 0)
        return r;
    struct verifier v = {.want = size, .write = write, .data = data};
    r = kiln_oci_digester_init(&v.digester, kiln_registry_digest_algo(digest), err);
    if (r < 0)
        return r;
    _cleanup_free_ char *url = kiln_registry_url(c, "/v2/%s/blobs/%s", repo, digest);
    _cleanup_free_ char *scope = kiln_registry_scope(repo, "pull");
    struct kiln_registry_request rq = {
            .method = "GET",
            .url = url,
            .scope = scope,
            .sink = verify_sink,
            .sink_data = &v,
            .follow = true,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    r = kiln_registry_request(c, &rq, &rs, err);
    if (r >= 0) {
        r = finish_verify(&v, digest, err);
        if (r < 0)
            r = kiln_registry_http_wrap(&rq, r, err);
    }
    kiln_oci_digester_release(&v.digester);
    return r;
}

static int fd_write(void *data, const void *p, size_t n, struct kiln_error **err)
{
    int r = kiln_registry_write_all(*(int *)data, p, n);
    return r < 0 ? kiln_error_set_errno(err, r, "write") : 0;
}

int kiln_registry_blob_get_file(struct kiln_registry_client *c, const char *repo,
                                const char *digest, int64_t size, const char *path,
                                struct kiln_error **err)
{
    struct kiln_registry_tmpfile t;
    int r = kiln_registry_tmpfile_open(&t, path, err);
    if (r < 0)
        return r;
    r = kiln_registry_blob_get(c, repo, digest, size, fd_write, &t.fd, err);
    if (r >= 0)
        r = kiln_registry_tmpfile_commit(&t, err);
    kiln_registry_tmpfile_release(&t);
    return r;
}

int kiln_registry_blob_stat(struct kiln_registry_client *c, const char *repo, const char *digest,
                            int64_t *ret_size, struct kiln_error **err)
{
    _cleanup_free_ char *scope = kiln_registry_scope(repo, "pull");
    return kiln_registry_blob_head(c, repo, digest, scope, ret_size, err);
}

int kiln_registry_blob_head(struct kiln_registry_client *c, const char *repo, const char *digest,
                            const char *scope, int64_t *ret_size, struct kiln_error **err)
{
    int r = kiln_registry_check_repo(repo, err);
    if (r >= 0)
        r = kiln_registry_check_digest(digest, err);
    if (r < 0)
        return r;
    _cleanup_free_ char *url = kiln_registry_url(c, "/v2/%s/blobs/%s", repo, digest);
    struct kiln_registry_request rq = {
            .method = "HEAD",
            .url = url,
            .scope = scope,
            .follow = true,
            .accept_404 = true,
            .timeout_s = c->request_timeout_s,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    r = kiln_registry_request(c, &rq, &rs, err);
    if (r < 0 || rs.status == 404)
        return r < 0 ? r : 0;
    if (ret_size)
        *ret_size = rs.content_length;
    return 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * manifest-io.c - GET and PUT of manifests and indexes. What is received is
 * trusted only as far as it is checked: its digest is computed (and must be
 * the one asked for and the one the registry claims), its size capped, and
 * it must parse as the one type its Content-Type names (CVE-2021-41190).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "internal.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"

#include "base/banned.h"

static const char accept_header[] = "Accept: " KILN_OCI_MT_MANIFEST ", " KILN_OCI_MT_INDEX
                                    ", " KILN_DOCKER_MT_MANIFEST ", " KILN_DOCKER_MT_MANIFEST_LIST;

void kiln_registry_manifest_free(struct kiln_registry_manifest *m)
{
    if (!m)
        return;
    free(m->media_type);
    free(m->data);
    free(m);
}

/* "application/x; charset=utf-8" -> "application/x". Caller frees. */
static char *media_type_of(const char *content_type)
{
    size_t n = strcspn(content_type, "; \t");
    return kiln_xstrndup(content_type, n);
}

/* The document parses as `media_type` says, and says no other media type. */
static int check_document(const char *media_type, const char *data, size_t len,
                          struct kiln_error **err)
{
    _cleanup_(kiln_oci_manifest_freep) struct kiln_oci_manifest *m = NULL;
    _cleanup_(kiln_oci_index_freep) struct kiln_oci_index *idx = NULL;
    const char *inner;
    int r;
    if (kiln_oci_mediatype_is_manifest(media_type)) {
        r = kiln_oci_manifest_parse(data, len, 0, &m, err);
        inner = r >= 0 ? m->media_type : NULL;
    } else if (kiln_oci_mediatype_is_index(media_type)) {
        r = kiln_oci_index_parse(data, len, 0, &idx, err);
        inner = r >= 0 ? idx->media_type : NULL;
    } else {
        return kiln_error_set(err, KILN_E_UPSTREAM, "unsupported manifest media type '%.128s'",
                              media_type);
    }
    if (r < 0)
        return kiln_error_wrap(err, KILN_E_UPSTREAM, "invalid document of type '%s'", media_type);
    if (inner && strcmp(inner, media_type) != 0)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "the document's mediaType '%.128s' is not its Content-Type '%s'",
                              inner, media_type);
    return 0;
}

/*
 * The digest of data, with the algorithm of `pinned` when set (and equal to
 * it), and equal to what the registry claims in Docker-Content-Digest.
 */
static int check_digest(const char *pinned, const char *claimed, const char *data, size_t len,
                        char ret[KILN_OCI_DIGEST_MAX], struct kiln_error **err)
{
    char got[KILN_OCI_DIGEST_MAX];
    enum kiln_oci_digest_algo algo = pinned ? kiln_registry_digest_algo(pinned) : KILN_OCI_SHA256;
    int r = kiln_oci_digest_bytes(algo, data, len, got, err);
    if (r < 0)
        return r;
    if (pinned && strcmp(got, pinned) != 0)
        return kiln_error_set(err, KILN_E_UPSTREAM, "manifest digest is %s, expected %s", got,
                              pinned);
    if (claimed && kiln_registry_digest_algo(claimed) == algo && strcmp(claimed, got) != 0)
        return kiln_error_set(err, KILN_E_UPSTREAM,
                              "manifest digest is %s, the registry says %.140s", got, claimed);
    memcpy(ret, got, sizeof(got));
    return 0;
}

static int accept_manifest(const struct kiln_registry_request *rq,
                           const struct kiln_registry_response *rs, const char *pinned,
                           struct kiln_buf *body, struct kiln_registry_manifest **ret,
                           struct kiln_error **err)
{
    _cleanup_(kiln_registry_manifest_freep) struct kiln_registry_manifest *m =
            kiln_xcalloc(1, sizeof(*m));
    m->media_type = media_type_of(rs->content_type ? rs->content_type : "");
    int r = check_digest(pinned, rs->digest, body->buf, body->len, m->digest, err);
    if (r >= 0)
        r = check_document(m->media_type, body->buf, body->len, err);
    if (r < 0)
        return kiln_registry_http_wrap(rq, r, err);
    m->data = kiln_buf_detach(body, &m->len);
    *ret = TAKE_PTR(m);
    return 0;
}

int kiln_registry_manifest_get(struct kiln_registry_client *c, const char *repo,
                               const char *reference, struct kiln_registry_manifest **ret,
                               struct kiln_error **err)
{
    int r = kiln_registry_check_repo(repo, err);
    int is_digest = r < 0 ? r : kiln_registry_check_reference(reference, err);
    if (is_digest < 0)
        return is_digest;
    _cleanup_free_ char *url = kiln_registry_url(c, "/v2/%s/manifests/%s", repo, reference);
    _cleanup_free_ char *scope = kiln_registry_scope(repo, "pull");
    _cleanup_buf_ struct kiln_buf body = KILN_BUF_INIT(KILN_MANIFEST_MAX);
    const char *headers[] = {accept_header, NULL};
    struct kiln_registry_request rq = {
            .method = "GET",
            .url = url,
            .scope = scope,
            .headers = headers,
            .sink = kiln_registry_buf_sink,
            .sink_data = &body,
            .follow = true,
            .timeout_s = c->request_timeout_s,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    r = kiln_registry_request(c, &rq, &rs, err);
    if (r < 0)
        return r;
    return accept_manifest(&rq, &rs, is_digest ? reference : NULL, &body, ret, err);
}

int kiln_registry_manifest_put(struct kiln_registry_client *c, const char *repo,
                               const char *reference, const char *media_type, const void *data,
                               size_t len, char ret_digest[KILN_OCI_DIGEST_MAX],
                               struct kiln_error **err)
{
    char got[KILN_OCI_DIGEST_MAX];
    int r = kiln_registry_check_repo(repo, err);
    int is_digest = r < 0 ? r : kiln_registry_check_reference(reference, err);
    if (is_digest < 0)
        return is_digest;
    if (!kiln_oci_mediatype_valid(media_type))
        return kiln_error_set(err, KILN_E_INVALID, "invalid media type '%.128s'", media_type);
    if (len > KILN_MANIFEST_MAX)
        return kiln_error_set(err, KILN_E_LIMIT, "manifest larger than %u bytes",
                              KILN_MANIFEST_MAX);
    r = kiln_oci_digest_bytes(is_digest ? kiln_registry_digest_algo(reference) : KILN_OCI_SHA256,
                              data, len, got, err);
    if (r < 0)
        return r;
    if (is_digest && strcmp(got, reference) != 0)
        return kiln_error_set(err, KILN_E_INVALID, "manifest digest is %s, not %s", got, reference);
    _cleanup_free_ char *url = kiln_registry_url(c, "/v2/%s/manifests/%s", repo, reference);
    _cleanup_free_ char *scope = kiln_registry_scope(repo, "pull,push");
    _cleanup_free_ char *ct = kiln_xasprintf("Content-Type: %s", media_type);
    const char *headers[] = {ct, NULL};
    struct kiln_registry_request rq = {
            .method = "PUT",
            .url = url,
            .scope = scope,
            .headers = headers,
            .body = data,
            .body_len = len,
            .timeout_s = c->request_timeout_s,
    };
    _cleanup_response_ struct kiln_registry_response rs = KILN_REGISTRY_RESPONSE_INIT;
    r = kiln_registry_request(c, &rq, &rs, err);
    if (r >= 0 && rs.digest && strcmp(rs.digest, got) != 0)
        r = kiln_registry_http_wrap(
                &rq,
                kiln_error_set(err, KILN_E_UPSTREAM,
                               "manifest digest is %s, the registry says %.140s", got, rs.digest),
                err);
    if (r >= 0)
        memcpy(ret_digest, got, sizeof(got));
    return r;
}
